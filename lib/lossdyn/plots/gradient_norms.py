"""The question page's figures: logit-level answer (Q1), gradient norms in training, the wide-net regime (Q2).

Each panel is drawn by a ``_draw_*(ax, res, ...)`` function; :func:`plot_logit_answer`,
:func:`plot_training_norms` and :func:`plot_wide_regime` are the three figures the page shows,
and :func:`plot_gradient_norms` puts all their panels in the one figure that is saved.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from lossdyn.plotting import PALETTE, new_figure, style

__all__ = ["plot_gradient_norms", "plot_logit_answer", "plot_training_norms", "plot_wide_regime"]

COLORS = {"mse_softmax": PALETTE[0], "cross_entropy": PALETTE[1], "mse_logits": PALETTE[2]}
NAMES = {"mse_softmax": r"$L_1$ (MSE on softmax)", "cross_entropy": r"$L_2$ (cross-entropy)", "mse_logits": "MSE on logits"}
WIDTH_STYLE = {"narrow": "--", "wide": "-"}


def _steps(res: dict[str, Any]) -> np.ndarray:
    return np.arange(res["steps"] + 1) + 1.0  # step + 1, for log axes


def _band(ax, x, values: np.ndarray, color: str, ls: str = "-", label: str | None = None, lw: float = 1.6) -> None:
    """Median over seeds (axis 0) as a line, min–max as a light band."""
    ax.plot(x, np.median(values, 0), color=color, ls=ls, lw=lw, label=label)
    if values.shape[0] > 1:
        ax.fill_between(x, values.min(0), values.max(0), color=color, alpha=0.15, lw=0, rasterized=True)


# -- Q1 panels -----------------------------------------------------------------------------------
def _draw_logit_ratio(ax, res: dict[str, Any]) -> None:
    mu, rho, pc = (res[key].numpy() for key in ("logit_sample_bound", "logit_sample_ratio", "logit_sample_p_c"))
    keep = mu > 1e-12
    sc = ax.scatter(mu[keep], rho[keep], c=pc[keep], s=3, lw=0, cmap="viridis", norm=LogNorm(1e-4, 1), alpha=0.6,
                    rasterized=True)
    ax.figure.colorbar(sc, ax=ax, shrink=0.85, label=r"$p_c$ (probability of the label)")
    grid = np.geomspace(1e-8, 0.5, 50)
    ax.plot(grid, grid, color="0.3", ls="--", lw=1, label=r"$\rho = \mu(p)$ (lower bound)")
    ax.axhline(0.5, color=PALETTE[1], lw=1.5, label=r"$\rho = \frac{1}{2}$ (upper bound)")
    ax.set(xscale="log", yscale="log", xlim=(1e-8, 0.8), ylim=(1e-8, 0.8),
           xlabel=r"$\mu(p) = \max(\min_i p_i,\ p_c\|p-y\|)$",
           ylabel=r"$\rho = \|\partial L_1/\partial z\| \,/\, \|\partial L_2/\partial z\|$")
    ax.legend(loc="upper left", framealpha=0.9)
    ax.set_title(f"(a) random logits, k = {res['k']}", loc="left")


def _draw_saturation(ax, res: dict[str, Any]) -> None:
    t = res["sat_t"].numpy()
    c1, c2 = COLORS["mse_softmax"], COLORS["cross_entropy"]
    ax.plot(t, res["sat_param_grad2"].numpy(), color=c2, lw=2, label=r"$\|\nabla_W L_2\|$")
    ax.plot(t, res["sat_param_grad1"].numpy(), color=c1, lw=2, label=r"$\|\nabla_W L_1\|$")
    ax.fill_between(t, res["sat_param_lower1"].numpy(), res["sat_param_upper1"].numpy(), color=c1, alpha=0.15, lw=0,
                    label=r"Prop. 3 bounds on $\|\nabla_W L_1\|$")
    ax.plot(t, res["sat_logit_grad2"].numpy(), color=c2, lw=1.2, ls=":", label=r"$\|\partial L_2/\partial z\|$")
    ax.plot(t, res["sat_logit_grad1"].numpy(), color=c1, lw=1.2, ls=":", label=r"$\|\partial L_1/\partial z\|$")
    ax.set(yscale="log", xlim=(t[0], t[-1]), ylim=(max(float(res["sat_param_lower1"].min()), 1e-12), None),
           xlabel=r"margin $t$ of the wrong class: $z = z_0 + t\,e_{\mathrm{wrong}}$", ylabel="gradient norm")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title(f"(b) a confidently wrong sample (m = {res['m_wide']})", loc="left")


def _draw_sample_scatter(ax, res: dict[str, Any]) -> None:
    sc = None
    for tag, marker in (("wide", "o"), ("narrow", "^")):
        g1, g2, pc = (res[f"{tag}_ckpt_sample_{key}"].numpy().ravel() for key in ("grad1", "grad2", "p_c"))
        keep = (g1 > 0) & (g2 > 0)
        edge = {"edgecolors": "0.2", "linewidths": 0.3} if tag == "narrow" else {"linewidths": 0}
        sc = ax.scatter(g2[keep], g1[keep], c=np.clip(pc[keep], 1e-4, 1), s=5 if tag == "wide" else 12, marker=marker,
                        cmap="viridis", norm=LogNorm(1e-4, 1), alpha=0.7, label=f"m = {res[f'm_{tag}']}",
                        rasterized=True, **edge)
    ax.figure.colorbar(sc, ax=ax, shrink=0.85, label=r"$p_c$")
    lo, hi = 1e-6, 20
    grid = np.geomspace(lo, hi, 20)
    ax.plot(grid, 0.5 * grid, color="0.3", ls="--", lw=1, label=r"$\|\nabla L_1\| = \frac{1}{2}\|\nabla L_2\|$")
    ax.set(xscale="log", yscale="log", xlim=(1e-3, hi), ylim=(1e-12, hi),
           xlabel=r"per-sample $\|\nabla_W L_2(x_i)\|$", ylabel=r"per-sample $\|\nabla_W L_1(x_i)\|$")
    ax.legend(loc="lower right", framealpha=0.9, markerscale=2)
    ax.set_title("(c) every sample, every checkpoint", loc="left")


# -- training panels --------------------------------------------------------------------------------
def _draw_norms(ax, res: dict[str, Any], tag: str) -> None:
    x = _steps(res)
    g = res[f"{tag}_grad_norm"].numpy()  # (S, J, T, 3)
    losses = res["losses"]
    for j_trained, ls in ((0, "-"), (1, "--")):
        for r, loss in enumerate(losses[:2]):
            label = rf"$\|\nabla {('L_1', 'L_2')[r]}\|$, trained with {('$L_1$', '$L_2$')[j_trained]}"
            _band(ax, x, g[:, j_trained, :, r], COLORS[loss], ls, label)
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel="full-batch gradient norm")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title(f"({'a' if tag == 'narrow' else 'c'}) m = {res[f'm_{tag}']}: gradient norms", loc="left")


def _draw_ratio(ax, res: dict[str, Any], tag: str) -> None:
    x = _steps(res)
    g = res[f"{tag}_grad_norm"].numpy()
    for j, loss in enumerate(res["losses"]):
        _band(ax, x, g[:, j, :, 0] / g[:, j, :, 1], COLORS[loss], "-", f"trained with {NAMES[loss]}")
    ax.axhline(0.5, color="0.3", ls="--", lw=1, label=r"$\frac{1}{2}$ (logit-level bound)")
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel=r"$\|\nabla L_1\| \,/\, \|\nabla L_2\|$")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title(f"({'b' if tag == 'narrow' else 'd'}) m = {res[f'm_{tag}']}: ratio", loc="left")


# -- Q2 panels ----------------------------------------------------------------------------------------
def _own(res: dict[str, Any], tag: str, key: str, j: int) -> np.ndarray:
    return res[f"{tag}_{key}"].numpy()[:, j, :, j]


def _draw_loss(ax, res: dict[str, Any]) -> None:
    x = _steps(res)
    for tag in ("wide", "narrow"):
        for j, loss in enumerate(res["losses"]):
            _band(ax, x, _own(res, tag, "loss", j), COLORS[loss], WIDTH_STYLE[tag],
                  f"{NAMES[loss]}, m = {res[f'm_{tag}']}")
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel="training loss $L$")
    ax.legend(loc="lower left", framealpha=0.9, fontsize=7)
    ax.set_title("(a) loss", loc="left")


def _draw_pl(ax, res: dict[str, Any]) -> None:
    x = _steps(res)
    for tag in ("wide", "narrow"):
        for j, loss in enumerate(res["losses"]):
            _band(ax, x, _own(res, tag, "grad_norm", j) ** 2 / _own(res, tag, "loss", j), COLORS[loss], WIDTH_STYLE[tag])
    ck = np.asarray(res["wide_checkpoints"]) + 1.0
    lo = res["wide_certificate_lower_mse_logits"].numpy()
    ax.plot(ck, lo.min(0), "v", color=COLORS["mse_logits"], ms=5, label=r"$2\lambda_{\min}(K_t)/n$, m = " + str(res["m_wide"]))
    ax.set(xscale="log", yscale="log", ylim=(1e-7, None), xlabel="GD step + 1",
           ylabel=r"$\|\nabla L\|^2 / L$  (PL ratio; clipped at $10^{-7}$)")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title("(b) Polyak–Łojasiewicz ratio", loc="left")


def _draw_lojasiewicz(ax, res: dict[str, Any]) -> None:
    x = _steps(res)
    ck = np.asarray(res["wide_checkpoints"]) + 1.0
    for j, loss in enumerate(res["losses"][:2]):
        for tag in ("wide", "narrow"):
            _band(ax, x, _own(res, tag, "grad_norm", j) / _own(res, tag, "loss", j), COLORS[loss], WIDTH_STYLE[tag])
        lo = res[f"wide_certificate_lower_{loss}"].numpy().min(0)
        hi = res[f"wide_certificate_upper_{loss}"].numpy().max(0)
        ax.plot(ck, lo, "^", color=COLORS[loss], ms=4, label=rf"$c_-$, $c_+$ for {NAMES[loss]}, m = {res['m_wide']}")
        ax.plot(ck, hi, "v", color=COLORS[loss], ms=4)
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel=r"$\|\nabla L\| / L$")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title("(c) gradient over loss (Prop. 4)", loc="left")


def _draw_kernel(ax, res: dict[str, Any]) -> None:
    ck = np.asarray(res["wide_checkpoints"]) + 1.0
    lam = res["wide_ckpt_lambda_perp_min"].numpy()  # (S, J, C)
    for j, loss in enumerate(res["losses"]):
        rel = lam[:, j] / lam[:, j, :1]
        ax.plot(ck, np.median(rel, 0), "o-", color=COLORS[loss], ms=3, lw=1.2, label=f"trained with {NAMES[loss]}")
        ax.fill_between(ck, rel.min(0), rel.max(0), color=COLORS[loss], alpha=0.15, lw=0)
    ax.axhline(0.5, color="0.3", ls="--", lw=1, label=r"$\frac{1}{2}$ (what the theorems need)")
    narrow = res["narrow_lambda_perp_over_max_max"]
    ax.text(0.02, 0.04, f"m = {res['m_narrow']}: λ₋ = 0 (largest λ₋/λ₊ {narrow:.0e}),\n"
            f"P = {res['narrow_n_params']} < n(k−1) = {res['narrow_n_perp']}", transform=ax.transAxes, fontsize=8)
    ax.set(xscale="log", ylim=(0, None), xlabel="GD step + 1", ylabel=r"$\lambda_-(K_t)\,/\,\lambda_-(K_0)$")
    ax.legend(loc="upper left", framealpha=0.9)
    ax.set_title(f"(d) tangent kernel on $(1^\\perp)^n$, m = {res['m_wide']}", loc="left")


# -- figures --------------------------------------------------------------------------------------------
def plot_logit_answer(res: dict[str, Any]) -> Figure:
    """Q1: (a) ratio against its bounds on random logits, (b) the saturation counterexample, (c) trained nets."""
    fig, axes = new_figure(3, 1, width=4.3, height=3.8)
    with style():
        _draw_logit_ratio(axes[0, 0], res)
        _draw_saturation(axes[0, 1], res)
        _draw_sample_scatter(axes[0, 2], res)
    return fig


def plot_training_norms(res: dict[str, Any]) -> Figure:
    """Both gradient norms and their ratio along training, narrow (top) and wide (bottom)."""
    fig, axes = new_figure(2, 2, width=5.0, height=3.6)
    with style():
        for row, tag in enumerate(("narrow", "wide")):
            _draw_norms(axes[row, 0], res, tag)
            _draw_ratio(axes[row, 1], res, tag)
    return fig


def plot_wide_regime(res: dict[str, Any]) -> Figure:
    """Q2: loss, PL ratio, ‖∇L‖/L with Prop. 4's constants, and the tangent kernel's smallest eigenvalue."""
    fig, axes = new_figure(2, 2, width=5.0, height=3.6)
    with style():
        _draw_loss(axes[0, 0], res)
        _draw_pl(axes[0, 1], res)
        _draw_lojasiewicz(axes[1, 0], res)
        _draw_kernel(axes[1, 1], res)
    return fig


def plot_gradient_norms(res: dict[str, Any]) -> Figure:
    """Every panel of the page in one figure (the saved one): Q1 row, training row, Q2 row."""
    with style():
        fig = Figure(figsize=(20.0, 11.4), layout="constrained")
        top, middle, bottom = fig.subfigures(3, 1)
        a = top.subplots(1, 3)
        b = middle.subplots(1, 4)
        c = bottom.subplots(1, 4)
        _draw_logit_ratio(a[0], res)
        _draw_saturation(a[1], res)
        _draw_sample_scatter(a[2], res)
        _draw_norms(b[0], res, "narrow")
        _draw_ratio(b[1], res, "narrow")
        _draw_norms(b[2], res, "wide")
        _draw_ratio(b[3], res, "wide")
        _draw_loss(c[0], res)
        _draw_pl(c[1], res)
        _draw_lojasiewicz(c[2], res)
        _draw_kernel(c[3], res)
    top.suptitle("Question 1: what ‖∇L2‖ says about ‖∇L1‖", x=0.01, ha="left")
    middle.suptitle("Both gradient norms along full-batch GD (medians over seeds, bands min–max)", x=0.01, ha="left")
    bottom.suptitle("Question 2: does the gradient stay away from zero? (solid: wide, dashed: narrow)", x=0.01, ha="left")
    return fig
