"""Paper 2, Figures 2–3: time series of one DCE run and landscape slices through the cascade."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lossdyn.plotting import PALETTE, new_figure, style

__all__ = ["plot_period_doubling"]


def _series(axes, res: dict[str, Any], lo: int, hi: int, zoom: bool) -> None:
    t = np.arange(res["steps"])
    sl = slice(lo, hi)
    ax_g, ax_f, ax_d, ax_l = axes
    for c in range(3):
        ax_g.plot(t[sl], res["gamma"][sl, c].numpy(), color=PALETTE[c], lw=1.2, label=rf"$\Gamma_{c}$")
    ax_g.set_ylabel(r"$\Gamma_i(t)$")
    F = res["F"].numpy()
    ax_f.plot(t[sl], F[sl], color="0.15", lw=0.8)
    ax_f.set(yscale="log", ylabel=r"$\mathcal{F}_{\mathrm{DCE}}(\theta_t, t)$")
    dF = res["dF"].numpy()
    ax_d.plot(t[sl], dF[sl], color=PALETTE[1], lw=0.6)
    ax_d.axhline(0.0, color="0.3", lw=0.6)
    ax_d.set(yscale="symlog", ylabel=r"$\Delta F_t$")
    ax_d.set_yscale("symlog", linthresh=1e-6)
    lt, lam = res["lambda_t"].numpy(), res["lambda"].numpy()
    keep = (lt >= lo) & (lt < hi)
    ax_l.plot(lt[keep], lam[keep], ".-", color=PALETTE[0], lw=0.8, ms=2 if zoom else 1.5, label=r"$\lambda_{\max}$")
    ax_l.axhline(2.0 / res["eta"], color="0.2", ls="--", lw=1.0, label=r"$2/\eta$")
    for k, (ts, ta) in enumerate(zip(res["onset_t"].tolist(), res["alt_t"].tolist())):
        if ts < 0 or not lo <= ts < hi:
            continue
        for ax in axes:
            ax.axvline(ts, color=PALETTE[3], lw=0.9, ls=":")
        lam_on = float(res["onset_lambda"][k])
        ax_l.plot([ts], [lam_on], "v", color=PALETTE[3], ms=6, label="onset $t^*$" if k == res["align_period"] or zoom else None)
        ax_l.plot([ta], [float(res["alt_lambda"][k])], "o", mfc="none", color=PALETTE[4], ms=6,
                  label="period-2 start" if k == res["align_period"] or zoom else None)
    ax_l.set(ylabel=r"$\lambda_{\max}$", xlabel="GD step $t$")
    for ax in axes:
        ax.set_xlim(lo, hi)
    if zoom:
        for p in res["panels"]:
            if lo <= p["t"] < hi:
                ax_l.axvline(p["t"], color=PALETTE[2], lw=0.6, alpha=0.6)
    handles, labels = ax_l.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax_l.legend(uniq.values(), uniq.keys(), loc="upper left", framealpha=0.85)
    if not zoom:
        ax_g.legend(loc="upper right", ncols=3, framealpha=0.85)


def plot_period_doubling(res: dict[str, Any]) -> Figure:
    """Top (Fig. 2): Γ_i(t), F, ΔF and λ_max against t, full run and a zoom on the aligned onset.
    Bottom (Fig. 3): F on the (v₁, v₂) plane at the panel times with the next iterates."""
    n = len(res["panels"])
    fig, axes = new_figure(1, 1, width=12.5, height=11.5)
    axes[0, 0].remove()
    with style():
        top, bottom = fig.subfigures(2, 1, height_ratios=[2.35, 1.0])
        left = top.subplots(4, 2, sharex="col")
        t_star = res["t_star"] if res["t_star"] >= 0 else res["steps"] // 2
        _series(left[:, 0], res, 0, res["steps"], zoom=False)
        _series(left[:, 1], res, max(0, t_star - 1000), min(res["steps"], t_star + 500), zoom=True)
        left[0, 0].set_title("Fig. 2 — whole run", loc="left")
        left[0, 1].set_title(f"zoom on the onset of period {res['align_period'] + 1}", loc="left")
        for tag, ax in zip("abcd", left[:, 0]):
            ax.text(-0.12, 1.0, f"({tag})", transform=ax.transAxes, fontsize=10, va="top")

        pax = bottom.subplots(1, n, squeeze=False)[0]
        axis = res["grid_axis"].numpy()
        for i, (ax, p) in enumerate(zip(pax, res["panels"])):
            surf = p["landscape"].numpy()
            levels = np.geomspace(max(surf.min(), 1e-6), surf.max(), 30)
            cs = ax.contourf(axis, axis, surf, levels=levels, norm="log", cmap="viridis")
            ab = p["path_ab"].numpy()
            ax.quiver(ab[:-1, 0], ab[:-1, 1], np.diff(ab[:, 0]), np.diff(ab[:, 1]), angles="xy", scale_units="xy",
                      scale=1, color="#2ca02c", alpha=0.45, width=0.012)
            ax.plot(ab[:, 0], ab[:, 1], "o", color="#2ca02c", ms=3)
            ax.plot([0], [0], "x", color="red", ms=8, mew=2)
            ax.set(aspect="equal", xlim=(axis[0], axis[-1]), ylim=(axis[0], axis[-1]), xlabel=r"$a$ (along $v_1$)")
            if i == 0:
                ax.set_ylabel(r"$b$ (along $v_2$)")
            ax.set_title(f"({'abcdefgh'[i]}) t = {p['t']}\n{p['dynamics']}, " + rf"$\lambda_1$ = {float(p['lambda_top2'][0]):.2f}",
                         fontsize=9)
            ax.grid(False)
            bottom.colorbar(cs, ax=ax, shrink=0.7, format="%.2g")
        bottom.suptitle(r"Fig. 3 — $\mathcal{F}(\theta_t + a v_1 + b v_2,\, t)$ with the next iterates (green)", x=0.02,
                        ha="left", fontsize=10)
    return fig
