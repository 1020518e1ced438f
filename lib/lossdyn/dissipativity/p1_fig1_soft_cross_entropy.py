"""Paper 1, Figure 1: the geometry of the soft cross-entropy (eq. 13, Lemmas 3–8).

No training: everything is evaluated in closed form or by sampling. The run returns

* the constants δ, H(q̃), ε, x̃⋆_y (corrected and as printed) and checks on them;
* the loss on a contour grid in the plane (x_y, x_c) with x_c shared by every c ≠ y
  (for C = 2 that is the (x₁, x₂) plane of the paper's Fig. 1; for any C the minimiser
  line X⋆_y lies in it);
* a 1-D cut x̃⋆_y + s·d along d ∝ e_y − 1/C (s > 0: over-confident, s < 0: towards the
  other classes) with the quadratic core, the linear tails and Lemma 8's bound α(s);
* a sample of points with their distance to X⋆_y and loss, to test Lemma 8.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from lossdyn.dissipativity import soft_ce
from lossdyn.pipeline.claims import Claim, format_rows, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, generator, resolve_device, resolve_dtype
from lossdyn.pipeline.plotting import PALETTE, new_figure
from lossdyn.pipeline.units import WholeRun

__all__ = [
    "Config",
    "claims",
    "constants_table",
    "key_numbers",
    "plot_soft_ce_geometry",
    "compute",
    "plan",
    "finish",
    "typo_table",
]


#: For C > 2, λ_Ω,min and m are sampled minima (upper estimates); Lemma 8 is checked with
#: both shrunk by this factor (spec §1.7, test 7). For C = 2 they are exact and it is 1.
SAFETY_FACTOR_SAMPLED = 0.9


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``p1_fig1_soft_cross_entropy`` (see the notebook for their defaults)."""

    presentation_fields = ()

    C: int  # number of classes
    p_d: float  # target probability of the true class, eq. (12); needs 1/C < p_d < 1
    label: int  # class y whose loss is drawn (0-based; the paper's y = 1 is label 0)
    extent: float  # contour window is [-extent, extent]^2
    grid: int  # contour points per axis
    s_max: float  # the 1-D cut runs over s in [-s_max, s_max]
    n_cut: int  # points on the 1-D cut
    n_bound_samples: int  # random points for λ_Ω,min, m and the check of Lemma 8
    dtype: str  # float64 or float32

    def validate(self) -> None:
        self._require("C", 2 <= self.C <= 1000, "an integer 2 <= C <= 1000")
        self._require("p_d", 1.0 / self.C < self.p_d < 1.0, f"1/C < p_d < 1, i.e. {1.0 / self.C:.6g} < p_d < 1")
        self._require("label", 0 <= self.label < self.C, f"0 <= label < C = {self.C}")
        self._require("extent", 0.0 < self.extent <= 1e3, "0 < extent <= 1000")
        self._require("grid", 11 <= self.grid <= 2001, "11 <= grid <= 2001")
        self._require("s_max", 1.0 < self.s_max <= 1e3, "1 < s_max <= 1000")
        self._require("n_cut", 11 <= self.n_cut <= 100_001, "11 <= n_cut <= 100001")
        self._require("n_bound_samples", 100 <= self.n_bound_samples <= 10_000_000, "100 <= n_bound_samples <= 1e7")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))


def _plane_states(a: torch.Tensor, b: torch.Tensor, C: int, label: int) -> torch.Tensor:
    """States with [x]_label = a and [x]_c = b for every c ≠ label; shape a.shape + (C,)."""
    x = b.unsqueeze(-1).expand(*b.shape, C).clone()
    x[..., label] = a
    return x


def asymptote_intercept(x0: torch.Tensor, d: torch.Tensor, y: torch.Tensor, *, p_d: float) -> torch.Tensor:
    """b in ℓ̃_f(x0 + s·d, y) = slope·s + b + o(1) as s → ∞ (slope = ``soft_ce.asymptotic_slope``).

    From log-sum-exp → max: b = Σ q̃ log q̃ − q̃ᵀx0 + log Σ_{j ∈ argmax d} exp([x0]_j).
    """
    C = x0.shape[-1]
    q = soft_ce.smoothed_target(y, C, p_d, dtype=x0.dtype)
    top = d >= d.max(dim=-1, keepdim=True).values - 1e-12
    lse_top = torch.logsumexp(torch.where(top, x0, torch.full_like(x0, -math.inf)), dim=-1)
    return (q * torch.log(q)).sum(-1) - (q * x0).sum(-1) + lse_top


def compute(cfg: Config) -> dict[str, Any]:
    """Compute everything the page shows; returns CPU tensors and floats (cacheable)."""
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype)
    gen = generator(cfg.seed, device)
    C, p_d = cfg.C, cfg.p_d
    y1 = torch.tensor([cfg.label], device=device)
    ell = lambda x: soft_ce.soft_cross_entropy(x, y1.expand(x.shape[:-1]), p_d=p_d)  # noqa: E731

    # Constants and the minimiser point (Lemma 3, after Lemma 5).
    x_star = soft_ce.minimiser_point(y1, C, p_d, dtype=dtype)[0]
    x_printed = soft_ce.minimiser_point_as_printed(y1, C, p_d, dtype=dtype)[0]
    ones = torch.ones(C, dtype=dtype, device=device)
    t = torch.linspace(-5.0, 5.0, 11, dtype=dtype, device=device)
    on_line = ell(x_star + t[:, None] * ones)
    grad_on_line = soft_ce.soft_ce_gradient(x_star + t[:, None] * ones, y1.expand(11), p_d=p_d)

    # Lemma 7: autograd Hessian against diag(p) − ppᵀ at random points.
    xs = 3.0 * torch.randn(8, C, generator=gen, dtype=dtype, device=device)
    hess_auto = torch.stack([torch.func.hessian(lambda v: ell(v[None])[0])(v) for v in xs])
    hess_formula = soft_ce.hessian(xs)
    hess_eigs = torch.linalg.eigvalsh(hess_formula)

    # Lemma 8: constants, then ℓ̃_f against α(dist) on random points.
    lam, m = soft_ce.huber_bound_constants(C, p_d, n_samples=cfg.n_bound_samples, generator=gen, dtype=dtype)
    factor = 1.0 if C == 2 else SAFETY_FACTOR_SAMPLED
    g = torch.randn(cfg.n_bound_samples, C, generator=gen, dtype=dtype, device=device)
    s_rand = cfg.s_max * torch.rand(cfg.n_bound_samples, 1, generator=gen, dtype=dtype, device=device) ** 2
    x_rand = x_star + s_rand * soft_ce.project(g) / torch.linalg.vector_norm(soft_ce.project(g), dim=-1, keepdim=True)
    x_rand = x_rand + torch.randn(cfg.n_bound_samples, 1, generator=gen, dtype=dtype, device=device) * ones
    y_rand = y1.expand(cfg.n_bound_samples)
    dist = soft_ce.distance_to_minimiser_set(x_rand, y_rand, p_d=p_d)
    loss_rand = soft_ce.soft_cross_entropy(x_rand, y_rand, p_d=p_d)
    alpha = soft_ce.huber_lower_bound(dist, factor * lam, factor * m)
    alpha_printed = soft_ce.huber_lower_bound(dist, factor * lam, factor * m, as_printed=True)
    tol = 1e-12 if dtype == torch.float64 else 1e-6

    # The 1-D cut along d ∝ e_y − 1/C through x̃⋆_y.
    d = soft_ce.project(torch.nn.functional.one_hot(y1, C).to(dtype))[0]
    d = d / torch.linalg.vector_norm(d)
    s = torch.linspace(-cfg.s_max, cfg.s_max, cfg.n_cut, dtype=dtype, device=device)
    loss_cut = ell(x_star + s[:, None] * d)
    curvature = float(d @ soft_ce.hessian(x_star) @ d)
    slope_over = float(soft_ce.asymptotic_slope(d[None], y1, p_d=p_d)[0])
    slope_wrong = float(soft_ce.asymptotic_slope(-d[None], y1, p_d=p_d)[0])
    icpt_over = float(asymptote_intercept(x_star[None], d[None], y1, p_d=p_d)[0])
    icpt_wrong = float(asymptote_intercept(x_star[None], -d[None], y1, p_d=p_d)[0])
    # Quadratic core: the relative error of ½κs² is O(|s|) (Taylor), measured at |s| = 0.01 and 0.001.
    quad_rel_err = {}
    for r in (0.01, 0.001):
        s_r = torch.tensor([-r, r], dtype=dtype, device=device)
        err = (ell(x_star + s_r[:, None] * d) - 0.5 * curvature * s_r**2).abs() / (0.5 * curvature * s_r**2)
        quad_rel_err[r] = float(err.max())
    tail_gap_over = float(ell(x_star + cfg.s_max * d[None])[0]) - (slope_over * cfg.s_max + icpt_over)
    tail_gap_wrong = float(ell(x_star - cfg.s_max * d[None])[0]) - (slope_wrong * cfg.s_max + icpt_wrong)

    # The contour plane (x_y, x_other).
    axis = torch.linspace(-cfg.extent, cfg.extent, cfg.grid, dtype=dtype, device=device)
    A, B = torch.meshgrid(axis, axis, indexing="xy")
    loss_grid = ell(_plane_states(A, B, C, cfg.label))

    n_show = min(cfg.n_bound_samples, 3000)
    cpu = lambda v: v.detach().to("cpu", torch.float64)  # noqa: E731
    return {
        "C": C,
        "p_d": p_d,
        "label": cfg.label,
        "delta": soft_ce.delta(C, p_d),
        "entropy_target": soft_ce.target_entropy(C, p_d),
        "label_smoothing_epsilon": soft_ce.label_smoothing_epsilon(C, p_d),
        "loss_uniform": math.log(C) - soft_ce.target_entropy(C, p_d),
        "x_star": cpu(x_star),
        "x_star_printed": cpu(x_printed),
        "x_star_sum": float(x_star.sum()),
        "x_star_printed_sum": float(x_printed.sum()),
        "x_star_loss": float(ell(x_star[None])[0]),
        "x_star_printed_loss": float(ell(x_printed[None])[0]),
        "min_loss_on_line": float(on_line.abs().max()),
        "max_grad_on_line": float(torch.linalg.vector_norm(grad_on_line, dim=-1).max()),
        "hessian_max_abs_error": float((hess_auto - hess_formula).abs().max()),
        "hessian_min_eig": float(hess_eigs.min()),
        "hessian_null_residual": float(torch.linalg.vector_norm(hess_formula @ ones, dim=-1).max()),
        "lambda_omega_min": lam,
        "m": m,
        "bound_factor": factor,
        "lemma8_violations": int((loss_rand < alpha - tol).sum()),
        "lemma8_violations_printed": int((loss_rand < alpha_printed - tol).sum()),
        "n_bound_samples": cfg.n_bound_samples,
        "curvature": curvature,
        "slope_overconfident": slope_over,
        "slope_wrong": slope_wrong,
        "intercept_overconfident": icpt_over,
        "intercept_wrong": icpt_wrong,
        "quadratic_rel_error_1e-2": quad_rel_err[0.01],
        "quadratic_rel_error_1e-3": quad_rel_err[0.001],
        "tail_gap_overconfident": tail_gap_over,
        "tail_gap_wrong": tail_gap_wrong,
        "cut_s": cpu(s),
        "cut_loss": cpu(loss_cut),
        "grid_axis": cpu(axis),
        "grid_loss": cpu(loss_grid),
        "sample_dist": cpu(dist[:n_show]),
        "sample_loss": cpu(loss_rand[:n_show]),
    }


def plan(cfg: Config) -> WholeRun:
    """One unit: the whole run (:func:`compute`)."""
    return WholeRun(cfg, compute)


def finish(cfg: Config, parts: dict[str, Any]) -> dict[str, Any]:
    """The page's result from the one unit's result."""
    return parts


#: The numbers the page quotes and the JSON sidecar stores.
_KEY_NUMBERS = (
    "delta",
    "entropy_target",
    "min_loss_on_line",
    "label_smoothing_epsilon",
    "loss_uniform",
    "x_star",
    "x_star_printed",
    "x_star_printed_sum",
    "x_star_printed_loss",
    "lambda_omega_min",
    "m",
    "bound_factor",
    "lemma8_violations",
    "lemma8_violations_printed",
    "n_bound_samples",
    "curvature",
    "slope_overconfident",
    "slope_wrong",
    "hessian_max_abs_error",
    "quadratic_rel_error_1e-2",
    "quadratic_rel_error_1e-3",
    "tail_gap_overconfident",
    "tail_gap_wrong",
)


def key_numbers(res: dict[str, Any]) -> dict[str, Any]:
    return {k: res[k] for k in _KEY_NUMBERS}


def claims(res: dict[str, Any]) -> list[Claim]:
    """The page's claims, each with the measured numbers and a verdict computed from them."""
    # Huber-like: the relative error of ½κs² falls to 0 with |s| (about 10× from |s| = 0.01 to 0.001),
    # and the loss meets its linear asymptotes (closed form) at |s| = s_max.
    e2, e3 = res["quadratic_rel_error_1e-2"], res["quadratic_rel_error_1e-3"]
    tail_over, tail_wrong = res["tail_gap_overconfident"], res["tail_gap_wrong"]
    huber = e3 < 1e-2 and 5.0 < e2 / e3 < 20.0 and abs(tail_over) < 1e-2 and abs(tail_wrong) < 1e-2
    return [
        Claim(
            "P1-L3",
            "Lemma 3: the minimisers of the soft cross-entropy form the line X*_y = {x : x_c = x_y + δ} "
            "with δ = −log((C−1)p_d/(1−p_d)), and the minimum value is 0.",
            f"δ = {res['delta']:.6f}; max |loss| on 11 points of the line = {res['min_loss_on_line']:.1e}, "
            f"max ‖∇loss‖ there = {res['max_grad_on_line']:.1e}",
            verdict(res["min_loss_on_line"] < 1e-9 and res["max_grad_on_line"] < 1e-9),
        ),
        Claim(
            "P1-X*",
            "The point x̃*_y = X*_y ∩ X_T has y-component −(C/(C−1))·δ and the others δ/C (as printed).",
            f"printed point: component sum {res['x_star_printed_sum']:.6f} (should be 0), "
            f"loss {res['x_star_printed_loss']:.6f} (should be 0); corrected −((C−1)/C)·δ gives sum "
            f"{res['x_star_sum']:.1e} and loss {res['x_star_loss']:.1e}",
            verdict(abs(res["x_star_printed_sum"]) < 1e-9 and res["x_star_printed_loss"] < 1e-9),
        ),
        Claim(
            "P1-L7",
            "Lemma 7: the Hessian is diag(p) − ppᵀ, positive semidefinite with null vector 1.",
            f"max |autograd − formula| = {res['hessian_max_abs_error']:.1e}; min eigenvalue "
            f"{res['hessian_min_eig']:.1e}; ‖H·1‖ ≤ {res['hessian_null_residual']:.1e}",
            verdict(
                res["hessian_max_abs_error"] < 1e-9
                and res["hessian_min_eig"] > -1e-12
                and res["hessian_null_residual"] < 1e-12
            ),
        ),
        Claim(
            "P1-F1",
            "Fig. 1: the loss is quadratic near the minimiser set and linear far from it (Huber-like).",
            f"quadratic core: relative error of ½κs² (κ = {res['curvature']:.6f}) is {e2:.2e} at |s| = 0.01 and "
            f"{e3:.2e} at |s| = 0.001; "
            f"linear tails: slopes {res['slope_overconfident']:.4f} (over-confident) and {res['slope_wrong']:.4f} "
            f"(wrong class), gap to the asymptote at |s| = s_max: {tail_over:.1e} and {tail_wrong:.1e}",
            verdict(huber),
        ),
        Claim(
            "P1-L8",
            "Lemma 8: ℓ̃_f ≥ α(dist(x, X*_y)) with α(s) = (λ/2)s² for s ≤ 1 and m·s + λ/2 for s > 1 (as printed).",
            f"λ_Ω,min = {res['lambda_omega_min']:.6f}, m = {res['m']:.6f} (×{res['bound_factor']:.1f}); printed α is "
            f"violated at {res['lemma8_violations_printed']} of {res['n_bound_samples']} random points; the corrected "
            f"branch λ/2 + m(s−1) at {res['lemma8_violations']}",
            verdict(res["lemma8_violations_printed"] == 0, partly=res["lemma8_violations"] == 0),
        ),
    ]


def constants_table(res: dict[str, Any]) -> str:
    """The constants of the page at fixed precision (printed by the notebook, compared by nbval)."""
    fmt = lambda v: "[" + ", ".join(f"{x:+.6f}" for x in v.tolist()) + "]"  # noqa: E731
    rows = [
        ("C, p_d", f"{res['C']}, {res['p_d']:.6f}"),
        ("δ = −log((C−1)p_d/(1−p_d))  (Lemma 3)", f"{res['delta']:+.6f}"),
        ("H(q̃) = ℓ̃⋆  [nats]  (eq. 13)", f"{res['entropy_target']:.6f}"),
        ("label_smoothing ε = C(1−p_d)/(C−1)", f"{res['label_smoothing_epsilon']:.6f}"),
        ("loss at uniform softmax = log C − H(q̃)", f"{res['loss_uniform']:.6f}"),
        ("x̃⋆_y (corrected)", fmt(res["x_star"])),
        ("max |loss| on the line X⋆_y", f"{res['min_loss_on_line']:.6f}"),
        ("curvature κ = dᵀ∇²ℓ̃ d at x̃⋆_y", f"{res['curvature']:.6f}"),
        ("tail slope, over-confident side", f"{res['slope_overconfident']:.6f}"),
        ("tail slope, wrong-class side", f"{res['slope_wrong']:.6f}"),
        ("λ_Ω,min  (Lemma 8)", f"{res['lambda_omega_min']:.6f}"),
        ("m  (Lemma 8)", f"{res['m']:.6f}"),
    ]
    return format_rows(rows)


def typo_table(res: dict[str, Any]) -> str:
    """The two checks that expose the paper's typos, at fixed precision."""
    fmt = lambda v: "[" + ", ".join(f"{x:+.6f}" for x in v.tolist()) + "]"  # noqa: E731
    return "\n".join(
        [
            "x̃⋆_y = X⋆_y ∩ X_T must have component sum 0 and loss 0:",
            f"  as printed  −C/(C−1)·δ   {fmt(res['x_star_printed'])}  sum {res['x_star_printed_sum']:+.6f}  loss {res['x_star_printed_loss']:.6f}",
            f"  corrected −(C−1)/C·δ     {fmt(res['x_star'])}  sum {abs(res['x_star_sum']):.6f}  loss {abs(res['x_star_loss']):.6f}",
            f"Lemma 8, ℓ̃_f ≥ α(dist) on {res['n_bound_samples']} random points (λ, m × {res['bound_factor']:.1f}):",
            f"  as printed  α(s) = m·s + λ/2 for s > 1        violated at {res['lemma8_violations_printed']} points",
            f"  corrected   α(s) = λ/2 + m·(s − 1) for s > 1  violated at {res['lemma8_violations']} points",
        ]
    )


# -- the figure --------------------------------------------------------------------------------
def plot_soft_ce_geometry(res: dict[str, Any]) -> Figure:
    """Three panels: (a) ℓ̃_f over the plane (x_y, x_c) with the minimiser line(s);
    (b) the 1-D cut with quadratic core, linear tails and Lemma 8's α beneath;
    (c) ℓ̃_f against dist(x, X⋆_y) for random points with α corrected and as printed."""
    C, delta, label = res["C"], res["delta"], res["label"]
    fig, axes = new_figure(3, 1, width=3.9, height=3.5)
    ax_c, ax_cut, ax_b = axes[0]

    # (a) contour in the plane x_c = shared value for every c ≠ y.
    axis = res["grid_axis"].numpy()
    loss = res["grid_loss"].numpy()
    levels = np.geomspace(1e-3, max(float(loss.max()), 1e-2), 14)
    cs = ax_c.contourf(axis, axis, np.clip(loss, levels[0], None), levels=levels, norm="log", cmap="viridis")
    cbar = fig.colorbar(cs, ax=ax_c, shrink=0.85)
    cbar.set_ticks([t for t in 10.0 ** np.arange(-3, 4) if levels[0] <= t <= levels[-1]])
    cbar.set_label("loss")
    line = axis + delta  # X*_y: x_c = x_y + δ
    ax_c.plot(axis, line, color="white", lw=2, label=r"$X^\star_y$: $x_c = x_y + \delta$")
    if C == 2:
        ax_c.plot(axis, axis - delta, color="white", lw=1.5, ls="--", label=r"$X^\star_{c}$ (other class)")
    xs, xp = res["x_star"].numpy(), res["x_star_printed"].numpy()
    other = 1 if label == 0 else 0
    ax_c.plot(xs[label], xs[other], "o", color=PALETTE[4], ms=6, label=r"$\tilde x^\star_y$ (corrected)")
    ax_c.plot(xp[label], xp[other], "X", color=PALETTE[1], ms=7, label=r"$\tilde x^\star_y$ as printed")
    ext = float(axis[-1])
    ax_c.set(
        xlim=(-ext, ext),
        ylim=(-ext, ext),
        aspect="equal",
        xlabel=rf"$x_{{y}}$ (label $y$ = {label + 1})",
        ylabel=r"$x_c$" + (r" ($c \neq y$, all equal)" if C > 2 else ""),
    )
    ax_c.legend(loc="lower right", framealpha=0.85)
    ax_c.grid(False)

    # (b) 1-D cut x̃*_y + s·d.
    s = res["cut_s"].numpy()
    cut = res["cut_loss"].numpy()
    lam, m, f = res["lambda_omega_min"], res["m"], res["bound_factor"]
    import torch

    abs_s = torch.as_tensor(np.abs(s))
    alpha = soft_ce.huber_lower_bound(abs_s, f * lam, f * m).numpy()
    alpha_printed = soft_ce.huber_lower_bound(abs_s, f * lam, f * m, as_printed=True).numpy()
    quad = 0.5 * res["curvature"] * s**2
    tail = np.where(
        s > 0,
        res["slope_overconfident"] * s + res["intercept_overconfident"],
        res["slope_wrong"] * -s + res["intercept_wrong"],
    )
    top = 1.6 * float(cut[-1])  # the slow (over-confident) tail sets the scale; the steep side is clipped
    ax_cut.plot(s, cut, color=PALETTE[0], lw=2.2, label=r"$\tilde\ell_f(\tilde x^\star_y + s d)$")
    ax_cut.plot(s, quad, color=PALETTE[2], ls=":", lw=1.5, label=r"quadratic core $\frac{\kappa}{2}s^2$")
    ax_cut.plot(s, tail, color="0.35", ls="--", lw=1, label="linear asymptotes")
    ax_cut.fill_between(s, 0, alpha, color=PALETTE[4], alpha=0.35, lw=0, label=r"$\alpha(|s|)$, corrected")
    ax_cut.plot(s, alpha_printed, color=PALETTE[1], ls="-.", lw=1.2, label=r"$\alpha$ as printed ($m s + \lambda/2$)")
    ax_cut.set(
        ylim=(0, top),
        xlim=(s[0], s[-1]),
        xlabel=r"$s$ (towards other classes $\leftarrow$ | $\rightarrow$ over-confident)",
        ylabel="loss",
    )
    ax_cut.legend(loc="upper right", framealpha=0.9)

    # (c) Lemma 8 on random points.
    dist, loss_r = res["sample_dist"].numpy(), res["sample_loss"].numpy()
    grid = np.geomspace(1e-3, float(dist.max()), 400)
    g = torch.as_tensor(grid)
    ax_b.scatter(dist, loss_r, s=3, color=PALETTE[0], alpha=0.35, lw=0, label="random points")
    ax_b.plot(
        grid, soft_ce.huber_lower_bound(g, f * lam, f * m).numpy(), color=PALETTE[4], lw=2, label=r"$\alpha$ corrected"
    )
    ax_b.plot(
        grid,
        soft_ce.huber_lower_bound(g, f * lam, f * m, as_printed=True).numpy(),
        color=PALETTE[1],
        ls="-.",
        lw=1.5,
        label=r"$\alpha$ as printed",
    )
    ax_b.set(
        xscale="log",
        yscale="log",
        xlabel=r"dist$(x, X^\star_y)$",
        ylabel=r"$\tilde\ell_f(x, y)$",
        xlim=(max(float(dist.min()), 1e-2), float(dist.max()) * 1.1),
        ylim=(max(float(loss_r.min()), 1e-6), None),
    )
    ax_b.legend(loc="upper left", framealpha=0.85)
    for ax, tag in zip((ax_c, ax_cut, ax_b), "abc"):
        ax.set_title(f"({tag})", loc="left")
    return fig


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Soft cross-entropy geometry: minimiser lines and the Lemma 8 bound"
PAPER_FIGURE = "Fig. 1"
Result = dict  # TODO(issue 10): a typed result
plot = plot_soft_ce_geometry
