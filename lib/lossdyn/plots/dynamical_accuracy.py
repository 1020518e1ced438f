"""Paper 2, Figure 4: validation accuracy against width for static and dynamical losses."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lossdyn.plotting import PALETTE, new_figure

__all__ = ["plot_dynamical_accuracy"]

_STYLE = {"CE": (PALETTE[0], "o"), "DCE": (PALETTE[1], "s"), "MSE": (PALETTE[0], "o"), "DMSE1": (PALETTE[2], "^"),
          "DMSE2": (PALETTE[1], "s")}


def plot_dynamical_accuracy(res: dict[str, Any]) -> Figure:
    """(a) CE vs DCE, (b) MSE vs DMSE1 vs DMSE2: validation accuracy (mean ± SEM) against hidden width;
    the number of diverged runs is given in the legend and marked with × at the width where it happened."""
    fig, axes = new_figure(2, 1, width=4.8, height=3.8)
    panels = ((axes[0, 0], ("CE", "DCE"), res["eta_ce"], res["n_seeds_ce"], res["n_periods"]),
              (axes[0, 1], ("MSE", "DMSE1", "DMSE2"), res["eta_mse"], res["n_seeds_mse"], res["n_periods_mse"]))
    widths = np.array(res["widths"], dtype=float)
    for k, (ax, losses, eta, n_seeds, n_periods) in enumerate(panels):
        for j, name in enumerate(losses):
            rows = [r for r in res["table"] if r["loss"] == name]
            if not rows:
                continue
            color, marker = _STYLE[name]
            x = np.array([r["H"] for r in rows], dtype=float) * (1 + 0.025 * (j - (len(losses) - 1) / 2))
            y = 100 * np.array([r["val_acc_mean"] for r in rows])
            e = 100 * np.nan_to_num(np.array([r["val_acc_sem"] for r in rows]))
            n_div = sum(r["n_diverged"] for r in rows)
            weighting = f" [{res['weightings'][name]}]" if name in res["weightings"] else ""
            ax.errorbar(x, y, yerr=e, fmt=marker + "-", color=color, ms=5, capsize=3, lw=1.2,
                        label=f"{name}{weighting}" + (f" — {n_div} diverged" if n_div else ""))
            for xi, r in zip(x, rows):
                if r["n_diverged"]:
                    ax.plot([xi], [35], "x", color=color, ms=7)
        ax.axhline(100 / 3, color="0.5", ls=":", lw=1, label="chance (1/3)")
        ax.set(xscale="log", xlabel="hidden width $H$", ylabel="validation accuracy (%)")
        ax.set_xticks(widths, [f"{int(w)}" for w in widths])
        ax.minorticks_off()
        ax.set_title(f"({'ab'[k]}) η = {eta:g}, {n_seeds} seeds, {n_periods} periods of T = {res['T']}", loc="left")
        ax.legend(loc="upper left", framealpha=0.85)
    return fig
