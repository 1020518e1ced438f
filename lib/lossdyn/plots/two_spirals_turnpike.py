"""Paper 1, Figures 2–4: two spirals — data, state trajectories over the layers, final states."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lossdyn.plotting import PALETTE, new_figure

__all__ = ["plot_two_spirals"]

#: trajectories drawn per class in the coordinate and in the z panels (the medians use all samples)
N_TRAJ = 25
N_TRAJ_Z = 80
ROLE_STYLE = {"stage": (PALETTE[2], "with stage cost"), "without": (PALETTE[3], "without stage cost"),
              "paper_lr": (PALETTE[4], "with stage cost, paper lr")}


def _first(res: dict[str, Any], role: str) -> dict[str, Any]:
    return next(r for r in res["networks"] if r["role"] == role)


def _coordinates(ax, rec: dict[str, Any], y: np.ndarray, title: str) -> None:
    states = rec["states"].numpy()  # (N+1, D, 2)
    k = np.arange(states.shape[0])
    for c in (0, 1):
        idx = np.flatnonzero(y == c)[:: max(1, int((y == c).sum()) // N_TRAJ)]
        for j, ls in ((0, "-"), (1, ":")):
            ax.plot(k, states[:, idx, j], color=PALETTE[c], lw=0.6, alpha=0.35, ls=ls)
    ax.plot([], [], color="0.3", ls="-", label=r"$[x_k]_1$")
    ax.plot([], [], color="0.3", ls=":", label=r"$[x_k]_2$")
    ax.set(xlabel="layer $k$", ylabel="state component", title=title, xlim=(0, k[-1]))
    ax.legend(loc="upper left", framealpha=0.85)


def _z_panel(ax, rec: dict[str, Any], y: np.ndarray, z_star: float, title: str) -> None:
    states = rec["states"].numpy()
    z = states[..., 0] - states[..., 1]
    k = np.arange(z.shape[0])
    for c in (0, 1):
        idx = np.flatnonzero(y == c)[:: max(1, int((y == c).sum()) // N_TRAJ_Z)]
        ax.plot(k, z[:, idx], color=PALETTE[c], lw=0.4, alpha=0.2)
        ax.plot(k, np.median(z[:, y == c], axis=1), color=PALETTE[c], lw=2.2, label=f"class {c + 1}, median")
    for level in (z_star, -z_star):
        ax.axhline(level, color="k", ls="--", lw=1)
    ax.text(k[-1], z_star, r" $+\ln 19$", va="bottom", ha="right", fontsize=8)
    ax.text(k[-1], -z_star, r" $-\ln 19$", va="top", ha="right", fontsize=8)
    lim = max(3 * z_star, float(np.nanpercentile(np.abs(z), 99)))
    ax.set(xlabel="layer $k$", ylabel=r"$z_k = [x_k]_1 - [x_k]_2$", title=title, xlim=(0, k[-1]), ylim=(-lim, lim))
    ax.legend(loc="lower left", framealpha=0.85)


def _final_plane(ax, rec: dict[str, Any], y: np.ndarray, z_star: float, title: str) -> None:
    xN = rec["states"][-1].numpy()
    for c in (0, 1):
        ax.scatter(xN[y == c, 0], xN[y == c, 1], s=6, color=PALETTE[c], alpha=0.6, lw=0, label=f"class {c + 1}")
    lo = float(np.nanmin(xN)) - 1.0
    hi = float(np.nanmax(xN)) + 1.0
    t = np.array([lo, hi])
    ax.plot(t, t - z_star, color=PALETTE[0], lw=1.5, ls="--", label=r"$X^\star_1$: $x_2 = x_1 - \ln 19$")
    ax.plot(t, t + z_star, color=PALETTE[1], lw=1.5, ls="--", label=r"$X^\star_2$: $x_2 = x_1 + \ln 19$")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", xlabel=r"$[x_N]_1$", ylabel=r"$[x_N]_2$", title=title)
    ax.legend(loc="upper left", framealpha=0.85, fontsize=7)


def _per_layer(ax, res: dict[str, Any], key: str, ylabel: str, *, log: bool = False, test: bool = True) -> None:
    for rec in res["networks"]:
        color, name = ROLE_STYLE[rec["role"]]
        first = rec["seed_index"] == 0
        if key == "u_norm":
            values = rec["u_norm"].numpy()
            ax.plot(np.arange(len(values)), values, color=color, lw=1.4 if first else 0.8, alpha=1 if first else 0.5,
                    label=name if first else None)
            continue
        values = rec["train"][key].numpy()
        ax.plot(np.arange(len(values)), values, color=color, lw=1.4 if first else 0.8, alpha=1 if first else 0.5,
                label=name if first else None)
        if test:
            values = rec["test"][key].numpy()
            ax.plot(np.arange(len(values)), values, color=color, lw=1.0 if first else 0.6, ls="--",
                    alpha=1 if first else 0.5)
    if log:
        ax.set_yscale("log")
        # the paper-lr curves can be orders of magnitude above; keep the working-lr curves readable
        ours = [r for r in res["networks"] if r["role"] != "paper_lr"]
        top = max(float(np.nanmax((r["u_norm"] if key == "u_norm" else r["train"][key]).numpy())) for r in ours)
        ax.set_ylim(top=top * 4)
    ax.set(xlabel="layer $k$", ylabel=ylabel, xlim=(0, res["config"]["depth"]))


def plot_two_spirals(res: dict[str, Any]) -> Figure:
    """Twelve panels: row 1 — Fig. 2 (data), Fig. 3 (states and z_k against k) and Fig. 4 (final
    states with both minimiser lines) with the stage cost; row 2 — the same without it, and the
    training curves; row 3 — L_k, acc_k, d_k and ‖u_k‖ per layer (train solid, test dashed)."""
    fig, axes = new_figure(4, 3, width=3.9, height=3.4)
    y = res["y_train"].numpy()
    z_star = res["z_star"]
    stage, without = _first(res, "stage"), _first(res, "without")

    # (a) Fig. 2: the data.
    ax = axes[0][0]
    x, xt, yt = res["x_train"].numpy(), res["x_test"].numpy(), res["y_test"].numpy()
    for c in (0, 1):
        ax.scatter(xt[yt == c, 0], xt[yt == c, 1], s=5, facecolors="none", edgecolors=PALETTE[c], lw=0.4, alpha=0.5)
        ax.scatter(x[y == c, 0], x[y == c, 1], s=7, color=PALETTE[c], lw=0, label=f"class {c + 1} (train)")
    ax.scatter([], [], s=7, facecolors="none", edgecolors="0.4", label="test (open)")
    ax.set(aspect="equal", xlabel=r"$x_1$", ylabel=r"$x_2$", title="Fig. 2: two spirals")
    ax.legend(loc="upper right", framealpha=0.85, fontsize=7)

    _coordinates(axes[0][1], stage, y, "Fig. 3: states, with stage cost")
    _z_panel(axes[0][2], stage, y, z_star, r"Fig. 3: $z_k$, with stage cost")
    _final_plane(axes[0][3], stage, y, z_star, r"Fig. 4: $x_N$, with stage cost")

    # (e) training curves
    ax = axes[1][0]
    for rec in res["networks"]:
        color, name = ROLE_STYLE[rec["role"]]
        first = rec["seed_index"] == 0
        h = rec["history_terminal"].numpy()
        ax.plot(np.arange(1, len(h) + 1), h, color=color, lw=0.8 if first else 0.5, alpha=0.9 if first else 0.4,
                label=name if first else None)
    ax.set(xscale="log", yscale="log", xlabel="Adam step", ylabel=r"terminal loss $L_N$ (train)", title="training")
    ax.legend(loc="lower left", framealpha=0.85, fontsize=7)

    _coordinates(axes[1][1], without, y, "states, without stage cost")
    _z_panel(axes[1][2], without, y, z_star, r"$z_k$, without stage cost")
    _final_plane(axes[1][3], without, y, z_star, r"$x_N$, without stage cost")

    _per_layer(axes[2][0], res, "loss", r"stage loss $L_k$", log=True)
    axes[2][0].plot([], [], color="0.4", ls="-", label="train")
    axes[2][0].plot([], [], color="0.4", ls="--", label="test")
    axes[2][0].legend(loc="upper right", framealpha=0.85, fontsize=7)
    _per_layer(axes[2][1], res, "acc", r"accuracy $\mathrm{acc}_k$")
    _per_layer(axes[2][2], res, "dist", r"RMS dist$(x_k, X^\star_y)$ $d_k$", log=True)
    axes[2][2].axhline(res["config"]["eps_turnpike"], color="k", lw=0.8, ls=":", label=r"$\varepsilon$ of $Q_\varepsilon$")
    axes[2][2].legend(loc="upper right", framealpha=0.85, fontsize=7)
    _per_layer(axes[2][3], res, "u_norm", r"$\|u_k\|$", log=True)
    k_star = stage["train_summary"]["k_star"]
    for ax in (axes[2][0], axes[2][1], axes[2][2], axes[2][3], axes[0][2]):
        ax.axvline(k_star, color=PALETTE[2], lw=0.8, ls=":")
    axes[2][1].text(k_star, 0.3, r" $k^\star$ (with stage cost)", color=PALETTE[2], fontsize=8)
    for i, ax in enumerate(a for row in axes for a in row):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({'abcdefghijkl'[i]}) {title}", loc="left")
    return fig
