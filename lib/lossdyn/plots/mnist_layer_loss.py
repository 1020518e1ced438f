"""Paper 1, Figure 5: the MNIST loss over the layers, linear and log scale, train solid, test dashed."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from lossdyn.plotting import PALETTE, new_figure

__all__ = ["plot_mnist_layer_loss"]


def _colours(nets: list[dict[str, Any]]) -> list[str]:
    """The stage-cost network in black; the others through the palette."""
    others = iter(c for c in PALETTE if c != "#000000")
    return ["#000000" if r["stage_cost"] else next(others) for r in nets]


def plot_mnist_layer_loss(res: dict[str, Any]) -> Figure:
    """Four panels: (a) L_k linear, (b) L_k log (Fig. 5), (c) accuracy per layer, (d) how far the
    logits move per layer, RMS ‖x_{k+1}[:10] − x_k[:10]‖; k⋆ of each network is marked (a, c)."""
    nets = res["networks"]
    colours = _colours(nets)
    fig, axes = new_figure(4, 1, width=3.9, height=3.5)
    ax_lin, ax_log, ax_acc, ax_move = axes[0]
    N = max(r["depth"] for r in nets)
    for r, col in zip(nets, colours):
        k = np.arange(r["depth"] + 1)
        lw = 2.0 if r["stage_cost"] else 1.3
        for ax in (ax_lin, ax_log):
            ax.plot(k, r["train"]["loss"].numpy(), color=col, lw=lw, label=r["label"])
            ax.plot(k, r["test"]["loss"].numpy(), color=col, lw=lw * 0.8, ls="--")
        ax_acc.plot(k, r["test"]["acc"].numpy(), color=col, lw=lw, ls="--", label=r["label"])
        ax_acc.plot(k, r["train"]["acc"].numpy(), color=col, lw=lw * 0.6, alpha=0.6)
        ax_move.plot(np.arange(1, r["depth"] + 1), r["train"]["move"].numpy(), color=col, lw=lw, label=r["label"])
        ks = r["train_summary"]["k_star"]
        ax_lin.plot([ks], [float(r["train"]["loss"][ks])], "o", color=col, ms=6, mfc="white", mew=1.6)
        ax_acc.plot([ks], [float(r["test"]["acc"][ks])], "o", color=col, ms=6, mfc="white", mew=1.6)
    ax_lin.plot([], [], color="0.4", ls="-", label="train")
    ax_lin.plot([], [], color="0.4", ls="--", label="test")
    ax_lin.plot([], [], "o", color="0.4", mfc="white", label=r"$k^\star$ (train loss)")
    ax_lin.axhline(res["L0_exact"], color="0.5", lw=0.8, ls=":")
    ax_lin.text(0.02 * N, res["L0_exact"] * 1.01, r"$L_0 = \log 10 - H(\tilde q)$", ha="left", va="bottom",
                fontsize=8, color="0.3")
    ax_lin.set(xlabel="layer $k$", ylabel=r"stage loss $L_k$", xlim=(0, N), ylim=(0, 1.12 * res["L0_exact"]),
               title="Fig. 5, linear scale")
    ax_lin.legend(loc="center right", framealpha=0.9, fontsize=7)
    ax_log.set(xlabel="layer $k$", ylabel=r"stage loss $L_k$", yscale="log", xlim=(0, N), title="Fig. 5, log scale")
    ax_acc.set(xlabel="layer $k$", ylabel=r"accuracy $\mathrm{acc}_k$ (test dashed, train thin)", xlim=(0, N),
               ylim=(0, 1.02), title="accuracy when cropped after $k$ blocks")
    ax_move.set(xlabel="layer $k$", ylabel=r"RMS $\|x_{k}[{:}10] - x_{k-1}[{:}10]\|$", yscale="log", xlim=(0, N),
                title="how far block $k$ moves the logits")
    ax_move.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_move.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    for ax, tag in zip((ax_lin, ax_log, ax_acc, ax_move), "abcd"):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({tag}) {title}", loc="left")
    return fig
