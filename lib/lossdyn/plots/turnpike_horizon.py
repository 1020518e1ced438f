"""Paper 1, Prop. 12 measured: off-turnpike layers against the depth N (two spirals)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from lossdyn.experiments.turnpike_horizon import _eps_values, off_counts
from lossdyn.plotting import PALETTE, new_figure

__all__ = ["plot_turnpike_horizon"]


def plot_turnpike_horizon(res: dict[str, Any]) -> Figure:
    """(a) #Q̄_ε against N for each ε (dots: seeds, line: median) with #Q̄ = N for reference;
    (b) k⋆ against N; (c) the RMS distance d_k against k for every N; (d) the stage loss L_k."""
    fig, axes = new_figure(4, 1, width=3.9, height=3.4)
    ax_q, ax_k, ax_d, ax_l = axes[0]
    depths = sorted({r["depth"] for r in res["networks"]})
    eps_main = res["config"]["eps_turnpike"]
    n_arr = np.array(depths)
    ax_q.plot(n_arr, n_arr, color="0.5", ls=":", lw=1, label=r"$\#\bar Q_\varepsilon = N$ (no turnpike)")
    for i, e in enumerate(_eps_values(res)):
        counts = off_counts(res, e)
        col = PALETTE[i % 7]
        med = [float(np.median(counts[N])) for N in depths]
        ax_q.plot(n_arr, med, "-", color=col, lw=2.2 if e == eps_main else 1.2, label=rf"$\varepsilon = {e:g}$")
        for N in depths:
            ax_q.plot([N] * len(counts[N]), counts[N], "o", color=col, ms=4, alpha=0.7)
    ax_q.set(xlabel="depth $N$", ylabel=r"$\#\bar Q_\varepsilon$ = layers $k<N$ with $d_k > \varepsilon$",
             title=r"Prop. 12: off-turnpike layers", ylim=(0, None))
    ax_q.legend(loc="upper left", framealpha=0.85, fontsize=7)

    for key, style, name in (("k_star", dict(marker="o", ms=8, ls="-", lw=2), r"$k^\star$ (loss, 5 %)"),
                             ("k_star_acc", dict(marker="s", ms=4, ls="--", lw=1), r"$k^\star_\mathrm{acc}$")):
        vals = {N: [r["train_summary"][key] for r in res["networks"] if r["depth"] == N] for N in depths}
        ax_k.plot(n_arr, [float(np.median(vals[N])) for N in depths], label=name + " (seed median)", **style)
    ax_k.plot(n_arr, n_arr, color="0.5", ls=":", lw=1, label=r"$= N$")
    ax_k.set(xlabel="depth $N$", ylabel="required depth", title=r"required depth $k^\star$ against $N$", ylim=(0, None))
    ax_k.legend(loc="upper left", framealpha=0.85, fontsize=7)

    for i, N in enumerate(depths):
        col = PALETTE[i % 7]
        for r in res["networks"]:
            if r["depth"] != N:
                continue
            first = r["seed_index"] == 0
            ax_d.plot(np.arange(N + 1), r["train"]["dist"].numpy(), color=col, lw=1.4 if first else 0.7,
                      alpha=1 if first else 0.5, label=f"N = {N}" if first else None)
            ax_l.plot(np.arange(N + 1), r["train"]["loss"].numpy(), color=col, lw=1.4 if first else 0.7,
                      alpha=1 if first else 0.5, label=f"N = {N}" if first else None)
    for e in _eps_values(res):
        ax_d.axhline(e, color="k", lw=1.2 if e == eps_main else 0.6, ls="--")
    ax_d.set(xlabel="layer $k$", ylabel=r"RMS dist$(x_k, X^\star_y)$ $d_k$", yscale="log",
             title=r"distance to the turnpike (dashed: $\varepsilon$)")
    ax_d.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_d.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax_d.legend(loc="upper right", framealpha=0.85, fontsize=7)
    ax_l.set(xlabel="layer $k$", ylabel=r"stage loss $L_k$ (train)", yscale="log", title="stage loss")
    ax_l.legend(loc="upper right", framealpha=0.85, fontsize=7)
    for ax, tag in zip((ax_q, ax_k, ax_d, ax_l), "abcd"):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({tag}) {title}", loc="left")
    return fig
