"""Paper 1, Figures 2–4: the two-spirals ResNet with and without the soft-CE stage cost (Section 6).

One run trains, together (one :class:`lossdyn.dissipativity.training.ResNetStack`), for each of
``seeds`` initialisations: the depth-N network of block (26) on the OCP (5) with the stage cost
(17), the same network without the stage cost (γ·terminal loss + r only), and, when
``lr_paper`` > 0, the stage-cost network at the paper's learning rate (the recipe:
:mod:`lossdyn.dissipativity.spirals`, book/methods.md#p1-training). Every network is then measured
layer by layer on the training and the held-out test set (book/methods.md#p1-measures): L_k,
acc_k, d_k, ‖u_k‖, k⋆ and #Q̄_ε, and cropped after its k⋆ without retraining.

Every network is counted as trained, not trained or diverged
(:func:`lossdyn.dissipativity.spirals.network_status`); the tables, the sidecar's numbers, the claims
and the figure count every seed, give k⋆ and the test accuracy as median (min–max) over the trained
seeds, and the trajectory panels show the representative seed of a declared rule
(:func:`lossdyn.dissipativity.spirals.representative_index`). The verdicts use all seeds; their
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
    CHANCE_MARGIN,
    STATE_DIM_RANGE,
    TRAINED_ACC,
    C,
    SpiralsTrainingConfig,
    network_seed,
    network_status,
    representative_index,
    seeds_verdict,
    spirals_data,
    spirals_setup,
    spread,
    status_counts,
    train_spirals,
)
from lossdyn.dissipativity.training import NetworkRecord, network_spec
from lossdyn.pipeline.claims import Claim, format_rows, verdict
from lossdyn.pipeline.figures import Cost
from lossdyn.pipeline.plotting import PALETTE, letter_panels, new_figure
from lossdyn.pipeline.units import NetworkPlan

__all__ = [
    "Config",
    "Result",
    "claims",
    "cropping_table",
    "estimate",
    "finish",
    "key_numbers",
    "layer_table",
    "median_z_N",
    "network_specs",
    "network_table",
    "plan",
    "plot_two_spirals",
    "seeds_table",
    "setup_table",
]


#: P1-Q1: "separated in the first ten layers" — we accept k⋆_acc ≤ 10 + 5 (book/methods.md#p1-fig2-4-choices).
Q1_MAX_LAYERS = 15

#: P1-Q2: a class median of z_N counts as "close to" its minimiser line within this (book/methods.md#p1-fig2-4-choices).
Q2_MAX_DEVIATION = 0.5

#: P1-Q4s: "needs its full depth" means k⋆ ≥ this fraction of N.
Q4_FULL_DEPTH = 0.8

#: P1-Q6s: cropping after k⋆ may cost at most this much test accuracy.
Q6_MAX_DROP = 0.01

#: The three objectives of the page, in table order, with the names the tables and claims use.
ROLES = {"stage_cost": "with stage cost", "without": "without stage cost", "lr_paper": "stage cost, paper lr"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(SpiralsTrainingConfig):
    """Parameters of ``p1_fig2_4_two_spirals`` (see the notebook for their defaults)."""

    augment_dim: int  # state dimension n >= 2; n > 2 zero-pads the input (Remark 4)
    depth: int  # N, number of residual blocks
    lr_paper: float  # the paper's learning rate (peak of the same schedule), trained beside (0 skips it)

    def validate(self) -> None:
        super().validate()
        lo, hi = STATE_DIM_RANGE
        self._require(
            "augment_dim", lo <= self.augment_dim <= hi, f"{lo} <= augment_dim <= {hi} (the state holds the 2 features)"
        )
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
      and ``"without"``; then, when ``lr_paper`` > 0, role ``"lr_paper"`` per seed. The
      ``stage_cost`` and ``without`` networks keep their ``states`` (Figs. 2–4);
    * ``status`` — :func:`~lossdyn.dissipativity.spirals.network_status` of each network, in the
      same order: ``"trained"``, ``"not trained"`` or ``"diverged"``;
    * ``representative`` — the seed index whose networks the trajectory panels and the layer table
      show: :func:`~lossdyn.dissipativity.spirals.representative_index` of the stage-cost networks.
    """

    config: Config
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    z_star: float
    loss_uniform: float
    networks: list[NetworkRecord]
    status: list[str]
    representative: int


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
    data = spirals_data(cfg, cfg.augment_dim)
    nets = [NetworkRecord.from_unit(r) for r in records]
    status = [network_status(r) for r in nets]
    stage = [(r.train_summary.k_star, s) for r, s in zip(nets, status) if r.role == "stage_cost"]
    return Result(
        config=cfg,
        x_train=data["x_train"][:, :C].double(),
        y_train=data["y_train"],
        x_test=data["x_test"][:, :C].double(),
        y_test=data["y_test"],
        z_star=-delta(C, cfg.p_d),
        loss_uniform=math.log(C) - target_entropy(C, cfg.p_d),
        networks=nets,
        status=status,
        representative=representative_index([k for k, _ in stage], [s for _, s in stage]),
    )


def _keep_states(nets: list[dict[str, Any]]) -> list[bool]:
    """Figs. 2–4 may draw any seed's networks with and without the stage cost (the representative is
    chosen after training), so those keep their states; the paper-lr networks do not."""
    return [n["role"] in ("stage_cost", "without") for n in nets]


def plan(cfg: Config) -> NetworkPlan:
    """Units: one ResNet each (objective, lr, seed); the stage-cost and baseline ones keep their states."""
    nets = network_specs(cfg)
    return NetworkPlan(
        spirals_setup(cfg, ("seeds", "lr_paper", "lr", "depth")),
        nets,
        _keep_states(nets),
        lambda n, k, dev: train_spirals(cfg, n, k, dev, n=cfg.augment_dim, desc="two spirals"),
    )


#: Wall time per block and Adam step of a stack (training and measuring included), measured on the project's
#: 2-core CPU with one thread, the other core busy: the recipe search of book/methods.md#p1-training ran 60
#: networks × 30 blocks (n = 2, width 8, 480 points) for 1,200 to 6,000 steps in 94 to 481 s, 44–46 µs each;
#: plus a fixed part (data, cropping, the records).
SECONDS_PER_BLOCK_STEP = 4.6e-5
SECONDS_FIXED = 3.0
#: Peak resident memory of a run (``resource.getrusage``, 20 steps): 297 MB for 3 networks × 30 blocks,
#: 335 MB for 18, 467 MB for 60, i.e. about 0.1 MB per block-network (the kept states and the autograd
#: graph) on top of the process with torch; plus the training histories, 24 bytes per network and step.
MEMORY_FIXED = 300 * 2**20
MEMORY_PER_BLOCK = 0.1 * 2**20
MEMORY_PER_NETWORK_STEP = 24


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run of ``cfg`` on the project's 2-core CPU (constants above)."""
    nets = network_specs(cfg)
    blocks = sum(n["depth"] for n in nets)
    size = cfg.width / 8 * cfg.n_per_class / 240  # 1 at the measured sizes
    seconds = SECONDS_FIXED + SECONDS_PER_BLOCK_STEP * size * blocks * cfg.steps
    memory = MEMORY_FIXED + MEMORY_PER_BLOCK * size * blocks + MEMORY_PER_NETWORK_STEP * len(nets) * cfg.steps
    return Cost(seconds=seconds, memory_bytes=int(memory))


# -- numbers ----------------------------------------------------------------------------------
def _role(res: Result, role: str) -> list[tuple[NetworkRecord, str]]:
    """The networks of one role (``"stage_cost"``, ``"without"``, ``"lr_paper"``) with their status, seed by seed."""
    return [(r, s) for r, s in zip(res.networks, res.status) if r.role == role]


def _trained(res: Result, role: str) -> list[NetworkRecord]:
    """The trained networks of one role, seed by seed."""
    return [r for r, s in _role(res, role) if s == "trained"]


def _shown(res: Result, role: str) -> NetworkRecord:
    """The representative seed's network of ``role`` (the trajectory panels and the layer table)."""
    return next(r for r, _ in _role(res, role) if r.seed_index == res.representative)


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


def _z_deviation(res: Result, rec: NetworkRecord) -> float:
    """P1-Q2's quantity: the larger distance of the two class medians of z_N from their levels ±z⋆."""
    z0, z1 = median_z_N(rec, res.y_train)
    return max(abs(z0 - res.z_star), abs(z1 + res.z_star))


def _fmt_spread(values: list[float], fmt: str = ".3f") -> str:
    """ "median m (min–max a–b)" or "none" (the pages' spread over the trained seeds)."""
    if not values:
        return "none"
    m, lo, hi = spread(values)
    return f"median {m:{fmt}} (min–max {lo:{fmt}}–{hi:{fmt}})"


def _count_text(res: Result, role: str) -> str:
    """ "t of n seeds trained (u not trained, d diverged)" for one role."""
    statuses = [s for _, s in _role(res, role)]
    c = status_counts(statuses)
    return (
        f"{c['trained']} of {len(statuses)} seeds trained (train acc_N >= {TRAINED_ACC:g}; "
        f"{c['not trained']} not trained, {c['diverged']} diverged)"
    )


def _role_numbers(res: Result, role: str) -> dict[str, Any]:
    """The sidecar's numbers of one role: counts, medians and ranges over its trained seeds, per-seed lists."""
    nets = _role(res, role)
    trained = [r for r, s in nets if s == "trained"]
    out: dict[str, Any] = {f"{k.replace(' ', '_')}": v for k, v in status_counts([s for _, s in nets]).items()}
    out["seeds"] = len(nets)
    for key, get in (
        ("k_star", lambda r: r.train_summary.k_star),
        ("k_star_acc", lambda r: r.train_summary.k_star_acc),
        ("test_k_star", lambda r: r.test_summary.k_star),
        ("test_acc_at_N", _final_test_acc),
        ("test_acc_at_k_star", lambda r: r.crop.test_acc),
    ):
        m, lo, hi = spread([get(r) for r in trained])
        out[f"{key}_trained_median"], out[f"{key}_trained_min"], out[f"{key}_trained_max"] = m, lo, hi
    out["status_per_seed"] = [s for _, s in nets]
    out["k_star_per_seed"] = [r.train_summary.k_star for r, _ in nets]
    out["k_star_acc_per_seed"] = [r.train_summary.k_star_acc for r, _ in nets]
    out["train_acc_at_N_per_seed"] = [_final_train_acc(r) for r, _ in nets]
    out["test_acc_at_N_per_seed"] = [_final_test_acc(r) for r, _ in nets]
    out["max_u_norm_per_seed"] = [float(r.u_norm.max()) for r, _ in nets]
    return out


def key_numbers(res: Result) -> dict[str, Any]:
    """The numbers the page quotes: per role, the seed counts by status and the medians (min–max) over the
    trained seeds (``<role>``: a dict), and the representative seed's curves and final medians of z_N."""
    out: dict[str, Any] = {role: _role_numbers(res, role) for role in ROLES if _role(res, role)}
    s, w = _shown(res, "stage_cost"), _shown(res, "without")
    out.update(
        {
            "trained_acc_threshold": TRAINED_ACC,
            "representative_seed": res.representative,
            "representative_status": res.status[res.networks.index(s)],
            "median_z_N_per_class_representative": list(median_z_N(s, res.y_train)),
            "z_star": res.z_star,
            "layer_loss_train_stage_cost_representative": s.train.loss,
            "layer_loss_train_without_representative": w.train.loss,
        }
    )
    return out


def _threshold_claim(res: Result, role: str, values: list[float], ok, text: str) -> tuple[str, str]:
    """(measured text, verdict) of a claim whose quantity ``values`` (one per trained seed of ``role``)
    must meet ``ok``: :func:`~lossdyn.dissipativity.spirals.seeds_verdict` with the median over them."""
    n_seeds = len(_role(res, role))
    median_ok = bool(values) and ok(spread(values)[0])
    v = seeds_verdict(n_seeds, len(values), median_ok=median_ok, any_ok=any(ok(x) for x in values))
    return f"{ROLES[role]}: {_count_text(res, role)}; over the trained: {text}", v


def _claim_separated(res: Result) -> Claim:
    """P1-Q1: separated within about ten layers (k⋆_acc ≤ 15 over the trained seeds), then the turnpike."""
    trained = _trained(res, "stage_cost")
    k_acc = [float(r.train_summary.k_star_acc) for r in trained]
    u_tail = [_tail_max(r.u_norm, r.train_summary.k_star + 1) for r in trained]
    text = (
        f"k*_acc {_fmt_spread(k_acc, 'g')} (bound <= {Q1_MAX_LAYERS}); k*(loss, 5%) "
        f"{_fmt_spread([float(r.train_summary.k_star) for r in trained], 'g')}; max ||u_k|| after k* "
        f"{_fmt_spread(u_tail, '.2f')}"
    )
    measured, v = _threshold_claim(res, "stage_cost", k_acc, lambda k: k <= Q1_MAX_LAYERS, text)
    return Claim(
        "P1-Q1",
        "Two spirals: the classes are separated in the first ten layers, after which the optimal "
        "steady state is reached (turnpike) (Fig. 3).",
        measured,
        v,
    )


def _claim_final_states(res: Result) -> Claim:
    """P1-Q2: the final states close to both minimiser lines (class medians of z_N within 0.5 of ±ln 19)."""
    trained = _trained(res, "stage_cost")
    dev = [_z_deviation(res, r) for r in trained]
    z0, z1 = median_z_N(_shown(res, "stage_cost"), res.y_train)
    text = (
        f"larger deviation of the two class medians of z_N from ±{res.z_star:.3f}: {_fmt_spread(dev)} "
        f"(bound <= {Q2_MAX_DEVIATION:g}); RMS distance d_N "
        f"{_fmt_spread([float(r.train.dist[-1]) for r in trained])}; representative seed {res.representative}: "
        f"median z_N = {z0:+.3f} (class 1), {z1:+.3f} (class 2)"
    )
    measured, v = _threshold_claim(res, "stage_cost", dev, lambda d: d <= Q2_MAX_DEVIATION, text)
    return Claim(
        "P1-Q2",
        "Two spirals: the final layer's states lie closely scattered around the minimiser sets of "
        "both classes (Fig. 4).",
        measured,
        v,
    )


def _claim_full_depth(res: Result) -> Claim:
    """P1-Q4s (spirals analogue of Q4): without the stage cost the trained networks need their full depth."""
    N = res.config.depth
    trained = _trained(res, "without")
    kw = [float(r.train_summary.k_star) for r in trained]
    text = (
        f"k*(loss, 5%) {_fmt_spread(kw, 'g')} of N = {N} (bound >= {Q4_FULL_DEPTH:g} N); k*_acc "
        f"{_fmt_spread([float(r.train_summary.k_star_acc) for r in trained], 'g')}"
    )
    measured, v = _threshold_claim(res, "without", kw, lambda k: k >= Q4_FULL_DEPTH * N, text)
    return Claim(
        "P1-Q4s",
        "Without the stage cost the network needs its full depth (two-spirals analogue of Q4, stated for MNIST).",
        measured,
        v,
    )


def _claim_test_turnpike(res: Result) -> Claim:
    """P1-Q5s: the turnpike also on the test data (test k⋆ ≤ N/2 over the trained seeds)."""
    N = res.config.depth
    trained = _trained(res, "stage_cost")
    kt = [float(r.test_summary.k_star) for r in trained]
    text = (
        f"test k* {_fmt_spread(kt, 'g')} (bound <= N/2 = {N / 2:g}); test acc_N "
        f"{_fmt_spread([_final_test_acc(r) for r in trained])}"
    )
    measured, v = _threshold_claim(res, "stage_cost", kt, lambda k: k <= N / 2, text)
    return Claim("P1-Q5s", "The turnpike also shows on test data (two spirals).", measured, v)


def _claim_cropping(res: Result) -> Claim:
    """P1-Q6s: cropping after the turnpike keeps the test accuracy (within 1 pp, over the trained seeds)."""
    trained = _trained(res, "stage_cost")
    drops = [_final_test_acc(r) - r.crop.test_acc for r in trained]
    without = {r.seed_index: r for r, _ in _role(res, "without")}
    base = [_final_test_acc(without[r.seed_index]) - float(without[r.seed_index].test.acc[r.crop.k]) for r in trained]
    text = (
        f"test accuracy lost by cropping after k*: {_fmt_spread(drops)} (bound <= {Q6_MAX_DROP:g}); "
        f"the same seeds without the stage cost, cropped at the same k*, lose {_fmt_spread(base)}"
    )
    measured, v = _threshold_claim(res, "stage_cost", drops, lambda d: d <= Q6_MAX_DROP, text)
    claim = "The layers after the turnpike can be cropped without changing the performance (two spirals)."
    return Claim("P1-Q6s", claim, measured, v)


def _claim_lr_paper(res: Result) -> Claim:
    """P1-lr: the paper's learning rate trains the stage-cost network (trained, k⋆ ≤ N/2), counted over all seeds."""
    N = res.config.depth
    nets = _role(res, "lr_paper")
    ok = [s == "trained" and r.train_summary.k_star <= N / 2 for r, s in nets]
    text = (
        f"{ROLES['lr_paper']}: {_count_text(res, 'lr_paper')}; trained with k* <= N/2: {sum(ok)} of {len(nets)}; "
        f"train acc_N {_fmt_spread([_final_train_acc(r) for r, _ in nets])} over all seeds; max ||u_k|| "
        f"{_fmt_spread([float(r.u_norm.max()) for r, _ in nets], '.2f')} (working lr: "
        f"{_fmt_spread([float(r.u_norm.max()) for r, _ in _role(res, 'stage_cost')], '.2f')})"
    )
    return Claim(
        "P1-lr",
        f"Adam with learning rate {res.config.lr_paper:g} (the paper's) trains the two-spirals "
        "network with the stage cost.",
        text,
        verdict(sum(ok) > len(ok) / 2, partly=any(ok)),
    )


def claims(res: Result) -> list[Claim]:
    """P1-Q1, Q2, Q4s (spirals analogue of Q4), Q5s, Q6s and, when trained, P1-lr, each over all seeds
    (thresholds and the rule: book/methods.md#p1-fig2-4-choices)."""
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
    """Data, network, objective and training of the run, how seeds are counted, and the constants z⋆ and L_0."""
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
            f"full batch, Adam, {cfg.steps} steps, lr {cfg.lr:g}, schedule {cfg.lr_schedule}"
            + (f" (and the paper's {cfg.lr_paper:g} beside, same schedule)" if cfg.lr_paper > 0 else ""),
        ),
        ("seeds", f"{cfg.seeds} initialisations of each network"),
        (
            "counted as",
            f"trained: train acc_N >= {TRAINED_ACC:g}; diverged: objective rose, NaN/inf, or train acc_N <= "
            f"{1 / C + CHANCE_MARGIN:g} (chance {1 / C:g})",
        ),
        ("z⋆ = ln 19 (turnpike level of z = x1 − x2)", f"±{res.z_star:.6f}"),
        ("L_0 if softmax were uniform", f"{res.loss_uniform:.6f}"),
    ]
    return format_rows(rows)


def seeds_table(res: Result) -> str:
    """Per objective: seeds trained / not trained / diverged, and k⋆, k⋆_acc and the test accuracy as
    median (min–max) over the trained seeds; then the representative seed and why."""
    head = f"{'objective':<22} {'seeds':>5} {'trained':>7} {'not tr.':>7} {'diverged':>8}   over the trained seeds"
    lines = [head, "-" * 110]
    for role, name in ROLES.items():
        nets = _role(res, role)
        if not nets:
            continue
        c = status_counts([s for _, s in nets])
        trained = [r for r, s in nets if s == "trained"]
        k = _fmt_spread([float(r.train_summary.k_star) for r in trained], "g")
        ka = _fmt_spread([float(r.train_summary.k_star_acc) for r in trained], "g")
        acc = _fmt_spread([_final_test_acc(r) for r in trained])
        lines.append(f"{name:<22} {len(nets):>5} {c['trained']:>7} {c['not trained']:>7} {c['diverged']:>8}   k* {k}")
        lines.append(f"{'':<56}k*_acc {ka}")
        lines.append(f"{'':<56}test acc_N {acc}")
    s = _shown(res, "stage_cost")
    lines.append(
        f"representative seed {res.representative} ({res.status[res.networks.index(s)]}, k* = "
        f"{s.train_summary.k_star}): the trained stage-cost seed with the median k* (lower median, ties to the "
        "lowest seed)"
    )
    return "\n".join(lines)


def network_table(res: Result) -> str:
    """One line per network: its status, final accuracy and loss, k⋆, #Q̄_ε."""
    head = (
        f"{'network':<34} {'status':<11} {'train acc':>9} {'test acc':>8} {'train L_N':>9} {'k*':>3} "
        f"{'k*_acc':>6} {'k*_abs':>6} {'#off':>4} {'max|u|':>7}"
    )
    lines = [head, "-" * len(head)]
    for r, status in zip(res.networks, res.status):
        s = r.train_summary
        lines.append(
            f"{r.label:<34} {status:<11} {_final_train_acc(r):>9.4f} {_final_test_acc(r):>8.4f} "
            f"{float(r.train.loss[-1]):>9.4f} {s.k_star:>3d} {s.k_star_acc:>6d} {s.k_star_abs:>6d} "
            f"{s.off_turnpike_count:>4d} {float(r.u_norm.max()):>7.2f}"
        )
    return "\n".join(lines)


def layer_table(res: Result, every: int = 3) -> str:
    """L_k, acc_k and ‖u_k‖ per layer for the representative seed, with and without the stage cost (training set)."""
    s, w = _shown(res, "stage_cost"), _shown(res, "without")
    N = res.config.depth
    head = (
        f"{'k':>3}  {'L_k stage':>9} {'acc_k':>6} {'|u_k|':>6} {'d_k':>6}   "
        f"{'L_k without':>11} {'acc_k':>6} {'|u_k|':>6} {'d_k':>6}"
    )
    lines = [f"representative seed {res.representative}", head, "-" * len(head)]
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
    for (s, st), (w, _) in zip(stage, without):
        k = s.crop.k
        lines.append(
            f"  seed {s.seed_index} ({st} with stage cost): k = {k}: test acc {float(w.test.acc[k]):.4f}, "
            f"test L {float(w.test.loss[k]):.4f} (full depth N = {N}: {_final_test_acc(w):.4f})"
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

#: Line style of a network's training curve by its status (test curves, dashed, only for trained networks).
STATUS_STYLE = {"trained": "-", "not trained": "-.", "diverged": ":"}


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


def _curve(ax, res: Result, rec: NetworkRecord, status: str, values: np.ndarray, x: np.ndarray, **kw) -> None:
    """One network's curve: the role's colour, the status's line style, the representative seed bold."""
    color, name = ROLE_STYLE[rec.role]
    shown = rec.seed_index == res.representative
    legend = kw.pop("legend", True)
    ax.plot(
        x,
        values,
        color=color,
        ls=kw.pop("ls", STATUS_STYLE[status]),
        lw=kw.pop("lw", 1.4 if shown else 0.7),
        alpha=1 if shown else 0.5,
        label=name if shown and legend else None,
        **kw,
    )


def _per_layer(ax, res: Result, key: str, ylabel: str, *, log: bool = False, test: bool = True) -> None:
    """One curve per network of ``key`` (a field of :class:`LayerCurves`, train in its status's style and
    test dashed for the trained networks, or ``"u_norm"``) against the layer."""
    for rec, status in zip(res.networks, res.status):
        if key == "u_norm":
            values = rec.u_norm.numpy()
            _curve(ax, res, rec, status, values, np.arange(len(values)))
            continue
        values = getattr(rec.train, key).numpy()
        _curve(ax, res, rec, status, values, np.arange(len(values)))
        if test and status == "trained":
            values = getattr(rec.test, key).numpy()
            _curve(ax, res, rec, status, values, np.arange(len(values)), ls="--", lw=0.6, legend=False)
    if log:
        ax.set_yscale("log")
        # the paper-lr curves can be orders of magnitude above; keep the working-lr curves readable
        ours = [r for r in res.networks if r.role != "lr_paper"]
        top = max(float(np.nanmax((r.u_norm if key == "u_norm" else getattr(r.train, key)).numpy())) for r in ours)
        ax.set_ylim(top=top * 4)
    ax.set(xlabel="layer $k$", ylabel=ylabel, xlim=(0, res.config.depth))


def _training_panel(ax, res: Result) -> None:
    """(e): every network's terminal loss during training, and the seed counts per objective."""
    for rec, status in zip(res.networks, res.status):
        h = rec.history_terminal.numpy()
        lw = 0.8 if rec.seed_index == res.representative else 0.5
        _curve(ax, res, rec, status, h, np.arange(1, len(h) + 1), lw=lw)
    for status, ls in STATUS_STYLE.items():
        ax.plot([], [], color="0.4", ls=ls, lw=0.8, label=status)
    counts = []
    for role, name in ROLES.items():
        c = status_counts([s for _, s in _role(res, role)])
        if sum(c.values()):
            counts.append(f"{name}: {c['trained']} trained, {c['not trained']} not, {c['diverged']} diverged")
    ax.text(0.98, 0.98, "\n".join(counts), transform=ax.transAxes, ha="right", va="top", fontsize=6.5)
    ax.set(xscale="log", yscale="log", xlabel="Adam step", ylabel=r"terminal loss $L_N$ (train)", title="training")
    ax.legend(loc="lower left", framealpha=0.85, fontsize=6.5)


def _data_panel(ax, res: Result) -> None:
    """(a) Fig. 2: the training points (filled) and the test points (open)."""
    x, y, xt, yt = res.x_train.numpy(), res.y_train.numpy(), res.x_test.numpy(), res.y_test.numpy()
    for c in (0, 1):
        ax.scatter(xt[yt == c, 0], xt[yt == c, 1], s=5, facecolors="none", edgecolors=PALETTE[c], lw=0.4, alpha=0.5)
        ax.scatter(x[y == c, 0], x[y == c, 1], s=7, color=PALETTE[c], lw=0, label=f"class {c + 1} (train)")
    ax.scatter([], [], s=7, facecolors="none", edgecolors="0.4", label="test (open)")
    ax.set(aspect="equal", xlabel=r"$x_1$", ylabel=r"$x_2$", title="Fig. 2: two spirals")
    ax.legend(loc="upper right", framealpha=0.85, fontsize=7)


def plot_two_spirals(res: Result) -> Figure:
    """Twelve panels: row 1 — Fig. 2 (data), Fig. 3 (states and z_k against k) and Fig. 4 (final
    states with both minimiser lines) with the stage cost, for the representative seed; row 2 — the
    training curves of every network with the seed counts, and the same seed without the stage cost;
    row 3 — L_k, acc_k, d_k and ‖u_k‖ per layer for every network (train in the style of its status,
    test dashed for the trained ones; the representative seed bold)."""
    fig, axes = new_figure(4, 3, width=3.9, height=3.4)
    y = res.y_train.numpy()
    z_star = res.z_star
    stage, without = _shown(res, "stage_cost"), _shown(res, "without")
    i = res.representative
    _data_panel(axes[0][0], res)
    _coordinates(axes[0][1], stage, y, f"Fig. 3: states, with stage cost (seed {i})")
    _z_panel(axes[0][2], stage, y, z_star, rf"Fig. 3: $z_k$, with stage cost (seed {i})")
    _final_plane(axes[0][3], stage, y, z_star, rf"Fig. 4: $x_N$, with stage cost (seed {i})")
    _training_panel(axes[1][0], res)
    _coordinates(axes[1][1], without, y, f"states, without stage cost (seed {i})")
    _z_panel(axes[1][2], without, y, z_star, rf"$z_k$, without stage cost (seed {i})")
    _final_plane(axes[1][3], without, y, z_star, rf"$x_N$, without stage cost (seed {i})")

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
    axes[2][1].text(k_star, 0.3, rf" $k^\star$ (seed {i}, with stage cost)", color=PALETTE[2], fontsize=8)
    letter_panels(a for row in axes for a in row)
    return fig


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Two spirals with and without the stage cost: turnpike, k⋆ and cropping"
PAPER_FIGURE = "Figs. 2–4"
plot = plot_two_spirals
