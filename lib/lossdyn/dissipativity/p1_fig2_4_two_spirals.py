"""Paper 1, Figures 2–4: the two-spirals ResNet with and without the soft-CE stage cost (Section 6).

One run trains, together (one :class:`lossdyn.dissipativity.training.ResNetStack`), for each of
``seeds`` initialisations: the depth-N network of block (26) on the OCP (5) with the stage cost
(17), the same network without the stage cost (γ·terminal loss + r only), and, when
``lr_paper`` > 0, the stage-cost network at the paper's learning rate (the recipe:
:mod:`lossdyn.dissipativity.spirals`, book/methods.md#p1-training). Every network is then measured
layer by layer on the training and the held-out test set (book/methods.md#p1-measures): L_k,
acc_k, d_k, ‖u_k‖, k⋆ and #Q̄_ε, and cropped after its k⋆ without retraining. The verdicts'
thresholds are in book/methods.md#p1-fig2-4-choices.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from lossdyn.dissipativity.soft_ce import delta, target_entropy
from lossdyn.dissipativity.spirals import (
    TRAINED_ACC,
    C,
    SpiralsTrainingConfig,
    network_seed,
    spirals_data,
    spirals_setup,
    train_spirals,
)
from lossdyn.dissipativity.training import NetworkRecord, network_spec
from lossdyn.pipeline.claims import Claim, format_rows, verdict
from lossdyn.pipeline.plotting import PALETTE, new_figure
from lossdyn.pipeline.units import NetworkPlan

__all__ = [
    "Config",
    "Result",
    "claims",
    "cropping_table",
    "finish",
    "key_numbers",
    "layer_table",
    "median_z_N",
    "network_specs",
    "network_table",
    "plan",
    "plot_two_spirals",
    "setup_table",
]


#: P1-Q1: "separated in the first ten layers" — we accept k⋆_acc ≤ 10 + 5 (book/methods.md#p1-fig2-4-choices).
Q1_MAX_LAYERS = 15


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(SpiralsTrainingConfig):
    """Parameters of ``p1_fig2_4_two_spirals`` (see the notebook for their defaults)."""

    depth: int  # N, number of residual blocks
    lr_paper: float  # the paper's learning rate, trained beside (0 skips it)

    def validate(self) -> None:
        super().validate()
        self._require("depth", 1 <= self.depth <= 1000, "1 <= depth <= 1000")
        self._require("lr_paper", 0.0 <= self.lr_paper <= 10.0, "0 <= lr_paper <= 10 (0 skips it)")


@dataclasses.dataclass(frozen=True)
class Result:
    """What the page shows (``finish`` makes it from the networks' unit results).

    * ``config`` — the run's :class:`Config`;
    * ``x_train``, ``x_test`` — the two spirals' training and test points (their first C = 2
      components), shape ``(2·n_per_class, 2)``, float64, class 0 first;
    * ``y_train``, ``y_test`` — their labels, shape ``(2·n_per_class,)``, int64;
    * ``z_star`` — −δ = ln 19 for p_d = 0.95: the turnpike level ±z⋆ of z = x_1 − x_2 (Lemma 3);
    * ``loss_uniform`` — log 2 − H(q̃), the loss at a uniform softmax (eq. 13);
    * ``networks`` — one :class:`~lossdyn.dissipativity.training.NetworkRecord` per network of
      :func:`network_specs`, in that order: per seed, role ``"stage_cost"`` (with the stage cost)
      and ``"without"``; then, when ``lr_paper`` > 0, role ``"lr_paper"`` per seed. Seed 0's
      ``stage_cost`` and ``without`` networks keep their ``states`` (Figs. 2–3).
    """

    config: Config
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    z_star: float
    loss_uniform: float
    networks: list[NetworkRecord]


def network_specs(cfg: Config) -> list[dict[str, Any]]:
    """The networks of one run: per seed, with and without the stage cost, then at the paper's lr."""
    nets = []
    for i in range(cfg.seeds):
        same = dict(depth=cfg.depth, lr=cfg.lr, seed=network_seed(cfg, i), seed_index=i)
        nets.append(network_spec(label=f"stage cost, seed {i}", role="stage_cost", stage_cost=True, **same))
        nets.append(network_spec(label=f"without stage cost, seed {i}", role="without", stage_cost=False, **same))
    if cfg.lr_paper > 0:
        for i in range(cfg.seeds):
            label = f"stage cost, lr {cfg.lr_paper:g}, seed {i}"
            same = dict(depth=cfg.depth, lr=cfg.lr_paper, seed=network_seed(cfg, i), seed_index=i)
            nets.append(network_spec(label=label, role="lr_paper", stage_cost=True, **same))
    return nets


def finish(cfg: Config, records: list[dict[str, Any]]) -> Result:
    """The page's result from the records of :func:`network_specs` (in that order)."""
    data = spirals_data(cfg)
    return Result(
        config=cfg,
        x_train=data["x_train"][:, :C].double(),
        y_train=data["y_train"],
        x_test=data["x_test"][:, :C].double(),
        y_test=data["y_test"],
        z_star=-delta(C, cfg.p_d),
        loss_uniform=math.log(C) - target_entropy(C, cfg.p_d),
        networks=[NetworkRecord.from_unit(r) for r in records],
    )


def _keep_states(nets: list[dict[str, Any]]) -> list[bool]:
    """Figs. 2–3 draw the trajectories of seed 0's networks with and without the stage cost."""
    return [i < 2 for i in range(len(nets))]


def plan(cfg: Config) -> NetworkPlan:
    """Units: one ResNet each (objective, lr, seed); the first two keep their states for Figs. 2–3."""
    nets = network_specs(cfg)
    return NetworkPlan(
        spirals_setup(cfg, ("seeds", "lr_paper", "lr", "depth")),
        nets,
        _keep_states(nets),
        lambda n, k, dev: train_spirals(cfg, n, k, dev, desc="two spirals"),
    )


# -- numbers ----------------------------------------------------------------------------------
def _role(res: Result, role: str) -> list[NetworkRecord]:
    """The networks of one role (``"stage_cost"``, ``"without"``, ``"lr_paper"``), seed by seed."""
    return [r for r in res.networks if r.role == role]


def _tail_max(values: torch.Tensor, k: int) -> float:
    """max of ``values[k:]`` (0 when empty)."""
    tail = values[k:]
    return float(tail.max()) if tail.numel() else 0.0


def _final_train_acc(rec: NetworkRecord) -> float:
    """acc_N on the training set."""
    return float(rec.train.acc[-1])


def _final_test_acc(rec: NetworkRecord) -> float:
    """acc_N on the test set."""
    return float(rec.test.acc[-1])


def median_z_N(rec: NetworkRecord, y: torch.Tensor) -> tuple[float, float]:
    """Median z_N = x_N,1 − x_N,2 of each class on the training set (needs ``states``)."""
    z = rec.states[-1, :, 0] - rec.states[-1, :, 1]
    return float(z[y == 0].median()), float(z[y == 1].median())


def key_numbers(res: Result) -> dict[str, Any]:
    """The numbers the page quotes (first seed first; lists over seeds; suffixes name the role)."""
    stage, without, paper = _role(res, "stage_cost"), _role(res, "without"), _role(res, "lr_paper")
    s0, w0 = stage[0], without[0]
    out = {
        "k_star_stage_cost": s0.train_summary.k_star,
        "k_star_without": w0.train_summary.k_star,
        "test_acc_at_k_star_stage_cost": s0.crop.test_acc,
        "test_acc_at_N_stage_cost": _final_test_acc(s0),
        "k_star_stage_cost_per_seed": [r.train_summary.k_star for r in stage],
        "k_star_without_per_seed": [r.train_summary.k_star for r in without],
        "k_star_acc_stage_cost_per_seed": [r.train_summary.k_star_acc for r in stage],
        "k_star_acc_without_per_seed": [r.train_summary.k_star_acc for r in without],
        "train_acc_at_N_stage_cost_per_seed": [_final_train_acc(r) for r in stage],
        "train_acc_at_N_without_per_seed": [_final_train_acc(r) for r in without],
        "test_acc_at_N_stage_cost_per_seed": [_final_test_acc(r) for r in stage],
        "test_acc_at_N_without_per_seed": [_final_test_acc(r) for r in without],
        "off_turnpike_count_stage_cost_per_seed": [r.train_summary.off_turnpike_count for r in stage],
        "median_z_N_per_class": list(median_z_N(s0, res.y_train)),
        "z_star": res.z_star,
        "layer_loss_train_stage_cost": s0.train.loss,
        "layer_loss_train_without": w0.train.loss,
    }
    if paper:
        out["train_acc_at_N_lr_paper_per_seed"] = [_final_train_acc(r) for r in paper]
        out["max_u_norm_lr_paper_per_seed"] = [float(r.u_norm.max()) for r in paper]
    return out


def _claim_separated(res: Result) -> Claim:
    """P1-Q1: separated within about ten layers, then the turnpike (loss flat, controls small)."""
    stage = _role(res, "stage_cost")
    trained = [_final_train_acc(r) >= TRAINED_ACC for r in stage]
    k_acc = [r.train_summary.k_star_acc for r in stage]
    k_loss = [r.train_summary.k_star for r in stage]
    u_tail = [_tail_max(r.u_norm, r.train_summary.k_star + 1) for r in stage]
    u_head = [float(r.u_norm[: max(r.train_summary.k_star, 1)].max()) for r in stage]
    q1 = [ka <= Q1_MAX_LAYERS and ok for ka, ok in zip(k_acc, trained)]
    q1_text = "; ".join(
        f"seed {i}: acc_N {_final_train_acc(r):.3f}, k*_acc {ka}, k*(loss, 5%) {kl}, "
        f"max ||u_k|| before k* {uh:.2f}, after k* {ut:.2f}"
        for i, (r, ka, kl, uh, ut) in enumerate(zip(stage, k_acc, k_loss, u_head, u_tail))
    )
    return Claim(
        "P1-Q1",
        "Two spirals: the classes are separated in the first ten layers, after which the optimal "
        "steady state is reached (turnpike) (Fig. 3).",
        q1_text,
        verdict(all(q1), partly=any(q1)),
    )


def _claim_final_states(res: Result) -> Claim:
    """P1-Q2: seed 0's final states close to both minimiser lines z = ±ln 19."""
    s0 = _role(res, "stage_cost")[0]
    trained = _final_train_acc(s0) >= TRAINED_ACC
    z_star = res.z_star
    z0, z1 = median_z_N(s0, res.y_train)
    d_N = float(s0.train.dist[-1])
    q2 = abs(z0 - z_star) <= 0.5 and abs(z1 + z_star) <= 0.5
    q2_text = (
        f"seed 0: median z_N = {z0:+.3f} (class 1) and {z1:+.3f} (class 2) against ±{z_star:.3f}; "
        f"RMS distance d_N = {d_N:.3f}; train acc_N {_final_train_acc(s0):.3f}"
    )
    return Claim(
        "P1-Q2",
        "Two spirals: the final layer's states lie closely scattered around the minimiser sets of "
        "both classes (Fig. 4).",
        q2_text,
        verdict(q2 and trained, partly=trained),
    )


def _claim_full_depth(res: Result) -> Claim:
    """P1-Q4s (spirals analogue of Q4): without the stage cost the network needs its full depth."""
    N = res.config.depth
    without = _role(res, "without")
    kw = [r.train_summary.k_star for r in without]
    full = [k >= 0.8 * N for k in kw]
    q4_text = "; ".join(
        f"seed {i}: k*(loss, 5%) {k} of N = {N}, k*_acc {r.train_summary.k_star_acc}, acc_N {_final_train_acc(r):.3f}"
        for i, (r, k) in enumerate(zip(without, kw))
    )
    return Claim(
        "P1-Q4s",
        "Without the stage cost the network needs its full depth (two-spirals analogue of Q4, stated for MNIST).",
        q4_text,
        verdict(all(full), partly=any(full)),
    )


def _claim_test_turnpike(res: Result) -> Claim:
    """P1-Q5s: the turnpike also on the test data (test k⋆ ≤ N/2)."""
    N = res.config.depth
    stage = _role(res, "stage_cost")
    kt = [r.test_summary.k_star for r in stage]
    q5 = [k <= N / 2 for k in kt]
    q5_text = "; ".join(
        f"seed {i}: test k* {k} (train {r.train_summary.k_star}), test L_N {float(r.test.loss[-1]):.4f}, "
        f"test acc_N {_final_test_acc(r):.3f}"
        for i, (r, k) in enumerate(zip(stage, kt))
    )
    return Claim(
        "P1-Q5s", "The turnpike also shows on test data (two spirals).", q5_text, verdict(all(q5), partly=any(q5))
    )


def _claim_cropping(res: Result) -> Claim:
    """P1-Q6s: cropping after the turnpike keeps the test accuracy (within 1 pp)."""
    N = res.config.depth
    stage, without = _role(res, "stage_cost"), _role(res, "without")
    drops = [_final_test_acc(r) - r.crop.test_acc for r in stage]
    q6 = [d <= 0.01 for d in drops]
    q6_text = (
        "; ".join(
            f"seed {i}: test acc cropped at k* = {r.crop.k}: {r.crop.test_acc:.3f}, full N = {N}: "
            f"{_final_test_acc(r):.3f}"
            for i, r in enumerate(stage)
        )
        + "; without the stage cost, cropped at the same k*: "
        + ", ".join(f"{float(w.test.acc[r.crop.k]):.3f}" for r, w in zip(stage, without))
    )
    return Claim(
        "P1-Q6s",
        "The layers after the turnpike can be cropped without changing the performance (two spirals).",
        q6_text,
        verdict(all(q6), partly=any(q6)),
    )


def _claim_lr_paper(res: Result) -> Claim:
    """P1-lr: the paper's learning rate trains the stage-cost network (trained, k⋆ ≤ N/2)."""
    N = res.config.depth
    stage, paper = _role(res, "stage_cost"), _role(res, "lr_paper")
    acc = [_final_train_acc(r) for r in paper]
    kp = [r.train_summary.k_star for r in paper]
    ok = [a >= TRAINED_ACC and k <= N / 2 for a, k in zip(acc, kp)]
    text = "; ".join(
        f"seed {i}: train acc_N {a:.3f}, L_N {float(r.train.loss[-1]):.4f}, max ||u_k|| "
        f"{float(r.u_norm.max()):.2f} (working lr: {float(s.u_norm.max()):.2f})"
        for i, (r, a, s) in enumerate(zip(paper, acc, stage))
    )
    return Claim(
        "P1-lr",
        f"Adam with learning rate {res.config.lr_paper:g} (the paper's) trains the two-spirals "
        "network with the stage cost.",
        text,
        verdict(all(ok), partly=any(ok)),
    )


def claims(res: Result) -> list[Claim]:
    """P1-Q1, Q2, Q4s (spirals analogue of Q4), Q5s, Q6s and, when trained, P1-lr
    (thresholds: book/methods.md#p1-fig2-4-choices)."""
    out = [
        _claim_separated(res),
        _claim_final_states(res),
        _claim_full_depth(res),
        _claim_test_turnpike(res),
        _claim_cropping(res),
    ]
    if _role(res, "lr_paper"):
        out.append(_claim_lr_paper(res))
    return out


# -- tables -----------------------------------------------------------------------------------
def setup_table(res: Result) -> str:
    """Data, network, objective and training of the run, and the constants z⋆ and L_0 (uniform softmax)."""
    cfg = res.config
    nets = res.networks
    rows = [
        (
            "data",
            f"{cfg.spiral} spirals, {2 * cfg.n_per_class} training + {2 * cfg.n_per_class} test points, "
            f"noise {cfg.noise:g}",
        ),
        ("state dimension n", f"{cfg.augment_dim} (loss on the first C = 2 components)"),
        (
            "network",
            f"N = {cfg.depth} blocks (26), width {cfg.width}, σ1 = {cfg.activation}, {nets[0].n_parameters} parameters",
        ),
        ("objective", f"p_d = {cfg.p_d:g}, γ = {cfg.gamma:g}, r = {cfg.weight_decay:g} as Adam weight decay"),
        (
            "training",
            f"full batch, Adam, {cfg.steps} steps, lr {cfg.lr:g}"
            + (f" (and the paper's {cfg.lr_paper:g} beside)" if cfg.lr_paper > 0 else ""),
        ),
        ("z⋆ = ln 19 (turnpike level of z = x1 − x2)", f"±{res.z_star:.6f}"),
        ("L_0 if softmax were uniform", f"{res.loss_uniform:.6f}"),
    ]
    return format_rows(rows)


def network_table(res: Result) -> str:
    """One line per network: final accuracy and loss, k⋆, #Q̄_ε."""
    head = (
        f"{'network':<34} {'train acc':>9} {'test acc':>8} {'train L_N':>9} {'k*':>3} {'k*_acc':>6} "
        f"{'k*_abs':>6} {'#off':>4} {'max|u|':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in res.networks:
        s = r.train_summary
        lines.append(
            f"{r.label:<34} {_final_train_acc(r):>9.4f} {_final_test_acc(r):>8.4f} "
            f"{float(r.train.loss[-1]):>9.4f} {s.k_star:>3d} {s.k_star_acc:>6d} {s.k_star_abs:>6d} "
            f"{s.off_turnpike_count:>4d} {float(r.u_norm.max()):>7.2f}"
        )
    return "\n".join(lines)


def layer_table(res: Result, every: int = 3) -> str:
    """L_k, acc_k and ‖u_k‖ per layer for the first seed, with and without the stage cost (training set)."""
    s, w = _role(res, "stage_cost")[0], _role(res, "without")[0]
    N = res.config.depth
    head = (
        f"{'k':>3}  {'L_k stage':>9} {'acc_k':>6} {'|u_k|':>6} {'d_k':>6}   "
        f"{'L_k without':>11} {'acc_k':>6} {'|u_k|':>6} {'d_k':>6}"
    )
    lines = [head, "-" * len(head)]
    ks = sorted(set(range(0, N + 1, every)) | {N})
    for k in ks:
        us = f"{float(s.u_norm[k]):>6.3f}" if k < N else f"{'':>6}"
        uw = f"{float(w.u_norm[k]):>6.3f}" if k < N else f"{'':>6}"
        lines.append(
            f"{k:>3}  {float(s.train.loss[k]):>9.4f} {float(s.train.acc[k]):>6.3f} {us} "
            f"{float(s.train.dist[k]):>6.3f}   {float(w.train.loss[k]):>11.4f} "
            f"{float(w.train.acc[k]):>6.3f} {uw} {float(w.train.dist[k]):>6.3f}"
        )
    return "\n".join(lines)


def cropping_table(res: Result) -> str:
    """Test accuracy and loss of each network cropped after k⋆ (5 % rule) and after k⋆_abs (0.01 nats),
    against the full depth; then the baseline cropped where the stage-cost network may be cropped."""
    N = res.config.depth
    head = f"{'network':<34} {'crop':>6} {'k':>3} {'test acc @k':>11} {'@N':>6} {'test L @k':>9} {'@N':>7} {'|Δx|':>8}"
    lines = [head, "-" * len(head)]
    for r in res.networks:
        for name, c in (("k*", r.crop), ("k*_abs", r.crop_abs)):
            lines.append(
                f"{r.label:<34} {name:>6} {c.k:>3d} {c.test_acc:>11.4f} {_final_test_acc(r):>6.4f} "
                f"{c.test_loss:>9.4f} {float(r.test.loss[-1]):>7.4f} {c.max_state_diff:>8.1e}"
            )
    stage, without = _role(res, "stage_cost"), _role(res, "without")
    lines.append("")
    lines.append("without the stage cost, cropped where the stage-cost network may be cropped (k* of the same seed):")
    for i, (s, w) in enumerate(zip(stage, without)):
        k = s.crop.k
        lines.append(
            f"  seed {i}: k = {k}: test acc {float(w.test.acc[k]):.4f}, test L {float(w.test.loss[k]):.4f}"
            f" (full depth N = {N}: {_final_test_acc(w):.4f})"
        )
    return "\n".join(lines)


# -- the figure --------------------------------------------------------------------------------
#: trajectories drawn per class in the coordinate and in the z panels (the medians use all samples)
N_TRAJ = 25


N_TRAJ_Z = 80


ROLE_STYLE = {
    "stage_cost": (PALETTE[2], "with stage cost"),
    "without": (PALETTE[3], "without stage cost"),
    "lr_paper": (PALETTE[4], "with stage cost, paper lr"),
}


def _coordinates(ax, rec: NetworkRecord, y: np.ndarray, title: str) -> None:
    """Fig. 3: both state components against the layer, for some samples of each class."""
    states = rec.states.numpy()  # (N+1, D, 2)
    k = np.arange(states.shape[0])
    for c in (0, 1):
        idx = np.flatnonzero(y == c)[:: max(1, int((y == c).sum()) // N_TRAJ)]
        for j, ls in ((0, "-"), (1, ":")):
            ax.plot(k, states[:, idx, j], color=PALETTE[c], lw=0.6, alpha=0.35, ls=ls)
    ax.plot([], [], color="0.3", ls="-", label=r"$[x_k]_1$")
    ax.plot([], [], color="0.3", ls=":", label=r"$[x_k]_2$")
    ax.set(xlabel="layer $k$", ylabel="state component", title=title, xlim=(0, k[-1]))
    ax.legend(loc="upper left", framealpha=0.85)


def _z_panel(ax, rec: NetworkRecord, y: np.ndarray, z_star: float, title: str) -> None:
    """z_k = [x_k]_1 − [x_k]_2 against the layer, with the class medians and the levels ±z⋆."""
    states = rec.states.numpy()
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


def _final_plane(ax, rec: NetworkRecord, y: np.ndarray, z_star: float, title: str) -> None:
    """Fig. 4: the final states x_N with both minimiser lines."""
    xN = rec.states[-1].numpy()
    for c in (0, 1):
        ax.scatter(xN[y == c, 0], xN[y == c, 1], s=6, color=PALETTE[c], alpha=0.6, lw=0, label=f"class {c + 1}")
    lo = float(np.nanmin(xN)) - 1.0
    hi = float(np.nanmax(xN)) + 1.0
    t = np.array([lo, hi])
    ax.plot(t, t - z_star, color=PALETTE[0], lw=1.5, ls="--", label=r"$X^\star_1$: $x_2 = x_1 - \ln 19$")
    ax.plot(t, t + z_star, color=PALETTE[1], lw=1.5, ls="--", label=r"$X^\star_2$: $x_2 = x_1 + \ln 19$")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", xlabel=r"$[x_N]_1$", ylabel=r"$[x_N]_2$", title=title)
    ax.legend(loc="upper left", framealpha=0.85, fontsize=7)


def _per_layer(ax, res: Result, key: str, ylabel: str, *, log: bool = False, test: bool = True) -> None:
    """One curve per network of ``key`` (a field of :class:`LayerCurves`, train solid and test
    dashed, or ``"u_norm"``) against the layer."""
    for rec in res.networks:
        color, name = ROLE_STYLE[rec.role]
        first = rec.seed_index == 0
        if key == "u_norm":
            values = rec.u_norm.numpy()
            ax.plot(
                np.arange(len(values)),
                values,
                color=color,
                lw=1.4 if first else 0.8,
                alpha=1 if first else 0.5,
                label=name if first else None,
            )
            continue
        values = getattr(rec.train, key).numpy()
        ax.plot(
            np.arange(len(values)),
            values,
            color=color,
            lw=1.4 if first else 0.8,
            alpha=1 if first else 0.5,
            label=name if first else None,
        )
        if test:
            values = getattr(rec.test, key).numpy()
            ax.plot(
                np.arange(len(values)),
                values,
                color=color,
                lw=1.0 if first else 0.6,
                ls="--",
                alpha=1 if first else 0.5,
            )
    if log:
        ax.set_yscale("log")
        # the paper-lr curves can be orders of magnitude above; keep the working-lr curves readable
        ours = [r for r in res.networks if r.role != "lr_paper"]
        top = max(float(np.nanmax((r.u_norm if key == "u_norm" else getattr(r.train, key)).numpy())) for r in ours)
        ax.set_ylim(top=top * 4)
    ax.set(xlabel="layer $k$", ylabel=ylabel, xlim=(0, res.config.depth))


def plot_two_spirals(res: Result) -> Figure:
    """Twelve panels: row 1 — Fig. 2 (data), Fig. 3 (states and z_k against k) and Fig. 4 (final
    states with both minimiser lines) with the stage cost; row 2 — the same without it, and the
    training curves; row 3 — L_k, acc_k, d_k and ‖u_k‖ per layer (train solid, test dashed)."""
    fig, axes = new_figure(4, 3, width=3.9, height=3.4)
    y = res.y_train.numpy()
    z_star = res.z_star
    stage, without = _role(res, "stage_cost")[0], _role(res, "without")[0]

    # (a) Fig. 2: the data.
    ax = axes[0][0]
    x, xt, yt = res.x_train.numpy(), res.x_test.numpy(), res.y_test.numpy()
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
    for rec in res.networks:
        color, name = ROLE_STYLE[rec.role]
        first = rec.seed_index == 0
        h = rec.history_terminal.numpy()
        ax.plot(
            np.arange(1, len(h) + 1),
            h,
            color=color,
            lw=0.8 if first else 0.5,
            alpha=0.9 if first else 0.4,
            label=name if first else None,
        )
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
    axes[2][2].axhline(res.config.eps_turnpike, color="k", lw=0.8, ls=":", label=r"$\varepsilon$ of $Q_\varepsilon$")
    axes[2][2].legend(loc="upper right", framealpha=0.85, fontsize=7)
    _per_layer(axes[2][3], res, "u_norm", r"$\|u_k\|$", log=True)
    k_star = stage.train_summary.k_star
    for ax in (axes[2][0], axes[2][1], axes[2][2], axes[2][3], axes[0][2]):
        ax.axvline(k_star, color=PALETTE[2], lw=0.8, ls=":")
    axes[2][1].text(k_star, 0.3, r" $k^\star$ (with stage cost)", color=PALETTE[2], fontsize=8)
    for i, ax in enumerate(a for row in axes for a in row):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({'abcdefghijkl'[i]}) {title}", loc="left")
    return fig


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Two spirals with and without the stage cost: turnpike, k⋆ and cropping"
PAPER_FIGURE = "Figs. 2–4"
plot = plot_two_spirals
