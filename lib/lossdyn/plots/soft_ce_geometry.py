"""Paper 1, Figure 1: soft cross-entropy geometry (contour, 1-D cut, Lemma 8 check)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lossdyn import soft_ce
from lossdyn.plotting import PALETTE, new_figure

__all__ = ["plot_soft_ce_geometry"]


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
    ax_c.set(xlim=(-ext, ext), ylim=(-ext, ext), aspect="equal",
             xlabel=rf"$x_{{y}}$ (label $y$ = {label + 1})", ylabel=r"$x_c$" + (r" ($c \neq y$, all equal)" if C > 2 else ""))
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
    tail = np.where(s > 0, res["slope_overconfident"] * s + res["intercept_overconfident"],
                    res["slope_wrong"] * -s + res["intercept_wrong"])
    top = 1.6 * float(cut[-1])  # the slow (over-confident) tail sets the scale; the steep side is clipped
    ax_cut.plot(s, cut, color=PALETTE[0], lw=2.2, label=r"$\tilde\ell_f(\tilde x^\star_y + s d)$")
    ax_cut.plot(s, quad, color=PALETTE[2], ls=":", lw=1.5, label=r"quadratic core $\frac{\kappa}{2}s^2$")
    ax_cut.plot(s, tail, color="0.35", ls="--", lw=1, label="linear asymptotes")
    ax_cut.fill_between(s, 0, alpha, color=PALETTE[4], alpha=0.35, lw=0, label=r"$\alpha(|s|)$, corrected")
    ax_cut.plot(s, alpha_printed, color=PALETTE[1], ls="-.", lw=1.2, label=r"$\alpha$ as printed ($m s + \lambda/2$)")
    ax_cut.set(ylim=(0, top), xlim=(s[0], s[-1]), xlabel=r"$s$ (towards other classes $\leftarrow$ | $\rightarrow$ over-confident)",
               ylabel="loss")
    ax_cut.legend(loc="upper right", framealpha=0.9)

    # (c) Lemma 8 on random points.
    dist, loss_r = res["sample_dist"].numpy(), res["sample_loss"].numpy()
    grid = np.geomspace(1e-3, float(dist.max()), 400)
    g = torch.as_tensor(grid)
    ax_b.scatter(dist, loss_r, s=3, color=PALETTE[0], alpha=0.35, lw=0, label="random points")
    ax_b.plot(grid, soft_ce.huber_lower_bound(g, f * lam, f * m).numpy(), color=PALETTE[4], lw=2, label=r"$\alpha$ corrected")
    ax_b.plot(grid, soft_ce.huber_lower_bound(g, f * lam, f * m, as_printed=True).numpy(), color=PALETTE[1], ls="-.", lw=1.5,
              label=r"$\alpha$ as printed")
    ax_b.set(xscale="log", yscale="log", xlabel=r"dist$(x, X^\star_y)$", ylabel=r"$\tilde\ell_f(x, y)$",
             xlim=(max(float(dist.min()), 1e-2), float(dist.max()) * 1.1), ylim=(max(float(loss_r.min()), 1e-6), None))
    ax_b.legend(loc="upper left", framealpha=0.85)
    for ax, tag in zip((ax_c, ax_cut, ax_b), "abc"):
        ax.set_title(f"({tag})", loc="left")
    return fig
