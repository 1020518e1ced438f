"""Paper 2, Figure 5: λ_max at instability onset against η, with the 2/η line."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lossdyn.plotting import PALETTE, new_figure

__all__ = ["plot_edge_of_stability"]

_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_edge_of_stability(res: dict[str, Any]) -> Figure:
    """(a) λ_onset (mean ± SEM over seeds) against η per (A, T), 2/η dashed; (b) λ_onset·η/2 with the
    ±10 % band; (c) the two variants: first onset of each run only, and the start of the 2-cycle."""
    fig, axes = new_figure(3, 1, width=4.3, height=3.7)
    ax_a, ax_b, ax_c = axes[0]
    etas = np.array(res["etas"], dtype=float)
    grid = np.geomspace(etas.min() / 1.4, etas.max() * 1.4, 100)
    ax_a.plot(grid, 2.0 / grid, "--", color="0.2", lw=1.2, label=r"$2/\eta$ (edge of stability)")
    conds = [(A, T) for A in res["amplitudes"] for T in res["periods"]]
    n = len(conds)
    for j, (A, T) in enumerate(conds):
        cs = [c for c in res["conditions"] if c["A"] == A and c["T"] == T]
        x = np.array([c["eta"] for c in cs]) * (1.0 + 0.03 * (j - (n - 1) / 2))  # small dodge
        color = PALETTE[res["amplitudes"].index(A) % len(PALETTE)]
        marker = _MARKERS[res["periods"].index(T) % len(_MARKERS)]
        y = np.array([c["lambda_onset_mean"] for c in cs])
        e = np.nan_to_num(np.array([c["lambda_onset_sem"] for c in cs]))
        label = f"A = {A:g}, T = {T}"
        ax_a.errorbar(x, y, yerr=e, fmt=marker, color=color, ms=5, capsize=2, lw=1, label=label)
        r = np.array([c["ratio"] for c in cs])
        re = np.nan_to_num(np.array([c["ratio_sem"] for c in cs]))
        ax_b.errorbar(x, r, yerr=re, fmt=marker, color=color, ms=5, capsize=2, lw=1, label=label)
        ax_c.plot(x, [c["ratio_first_onset"] for c in cs], marker, color=color, ms=5, mfc="none")
        ax_c.plot(x, [c["ratio_alternation"] for c in cs], marker, color=color, ms=4, alpha=0.6)
    ax_a.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$", ylabel=r"$\lambda_{\max}$ at onset")
    ax_a.legend(loc="upper right", fontsize=7, framealpha=0.85)
    for ax in (ax_b, ax_c):
        ax.axhline(1.0, color="0.2", ls="--", lw=1.2)
        ax.axhspan(0.9, 1.1, color="0.5", alpha=0.15, lw=0, label="±10 %")
        ax.set(xscale="log", xlabel=r"learning rate $\eta$", ylabel=r"$\lambda_{\max}\,\eta/2$")
    ax_b.set_title("(b) onset = first $\\Delta F>0$ of the episode", loc="left")
    ax_c.set_title("(c) variants", loc="left")
    ax_c.plot([], [], "o", color="0.3", mfc="none", label="first onset of each run only")
    ax_c.plot([], [], "o", color="0.3", alpha=0.6, label="start of the 2-cycle")
    ax_c.legend(loc="lower right", fontsize=7, framealpha=0.85)
    ax_a.set_title(f"(a) H = {res['H']}, {res['n_seeds']} seeds per condition", loc="left")
    lo = min(0.5, *(c["ratio"] - 0.1 for c in res["conditions"] if np.isfinite(c["ratio"])))
    hi = max(1.5, *(c["ratio_alternation"] + 0.1 for c in res["conditions"] if np.isfinite(c["ratio_alternation"])))
    for ax in (ax_b, ax_c):
        ax.set_ylim(lo, hi)
        ax.set_xticks(etas, [f"{e:g}" for e in etas])
        ax.minorticks_off()
    ax_a.set_xticks(etas, [f"{e:g}" for e in etas])
    ax_a.set_yticks(2.0 / etas, [f"{2.0 / e:g}" for e in etas])
    ax_a.minorticks_off()
    return fig
