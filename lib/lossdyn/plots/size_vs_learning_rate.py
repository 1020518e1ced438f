"""Paper 2, Figure 1: mean CE loss and mean λ_max over time for 3 widths × 2 learning rates."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lossdyn.plotting import PALETTE, new_figure

__all__ = ["plot_size_vs_learning_rate"]

_LINES = ("-", "--", ":", "-.")


def plot_size_vs_learning_rate(res: dict[str, Any]) -> Figure:
    """(a) mean loss against t (inset: the training set); (b) mean λ_max against t with 2/η;
    (c) λ_max·η/2 over the second half of training against width."""
    fig, axes = new_figure(3, 1, width=4.4, height=3.8)
    ax_l, ax_k, ax_r = axes[0]
    etas = sorted(res["etas"])
    for r in res["runs"]:
        color = PALETTE[res["widths"].index(r["H"]) % len(PALETTE)]
        ls = _LINES[etas.index(r["eta"]) % len(_LINES)]
        t = 0.5 * (r["loss_bin_start"].numpy() + r["loss_bin_end"].numpy() - 1) + 1
        ax_l.plot(t, r["loss_mean"].numpy(), ls, color=color, lw=1.3, label=f"H = {r['H']}, η = {r['eta']:g}")
        lt = r["lambda_t"].numpy() + 1
        ax_k.plot(lt, r["lambda_mean"].numpy(), ls, color=color, lw=1.3, marker=".", ms=3)
    for eta, ls in zip(etas, _LINES):
        ax_k.axhline(2 / eta, color="0.25", ls=ls, lw=0.9)
        ax_k.text(0.99, 2 / eta * 0.93, rf"$2/\eta$ = {2 / eta:g}", fontsize=7, color="0.25", ha="right", va="top",
                  transform=ax_k.get_yaxis_transform())
    ax_l.set(xscale="log", yscale="log", xlabel="GD step $t$ + 1", ylabel=r"mean $\mathcal{F}_{\mathrm{CE}}$")
    handles, labels = ax_l.get_legend_handles_labels()
    ax_k.legend(handles, labels, loc="upper left", fontsize=7, framealpha=0.85)
    ax_k.set(xscale="log", yscale="log", xlabel="GD step $t$ + 1", ylabel=r"mean $\lambda_{\max}$")
    ax_l.set_title(f"(a) mean of {res['n_seeds']} runs", loc="left")
    ax_k.set_title("(b)", loc="left")
    inset = ax_l.inset_axes([0.03, 0.03, 0.34, 0.38])
    X, y = res["X"].numpy(), res["y"].numpy()
    for c in range(3):
        inset.scatter(X[y == c, 0], X[y == c, 1], s=2, color=PALETTE[c])
    inset.set(xticks=[], yticks=[], aspect="equal")
    inset.grid(False)
    widths = np.array(res["widths"], dtype=float)
    for eta, ls in zip(etas, _LINES):
        rs = [next(r for r in res["runs"] if r["H"] == H and r["eta"] == eta) for H in res["widths"]]
        ax_r.errorbar(widths, [r["lambda_late"] * eta / 2 for r in rs],
                      yerr=np.nan_to_num([r["lambda_late_sem"] * eta / 2 for r in rs]), fmt="o" + ls, color="0.2",
                      mfc=PALETTE[etas.index(eta)], capsize=3, label=f"η = {eta:g}")
    ax_r.axhline(1.0, color="0.3", ls="--", lw=1)
    ax_r.set(xscale="log", xlabel="hidden width $H$", ylabel=r"$\lambda_{\max}\,\eta/2$ (2nd half of training)")
    ax_r.set_xticks(widths, [f"{int(w)}" for w in widths])
    ax_r.minorticks_off()
    ax_r.set_title("(c) 1 = edge of stability", loc="left")
    ax_r.legend(loc="lower right", framealpha=0.85)
    return fig
