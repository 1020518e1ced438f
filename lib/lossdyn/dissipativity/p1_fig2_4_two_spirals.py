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
from matplotlib.lines import Line2D

from lossdyn.dissipativity.soft_ce import delta, target_entropy
from lossdyn.dissipativity.spirals import (
    CHANCE_MARGIN,
    STATE_DIM_RANGE,
    TRAINED_ACC,
    C,
    SpiralsTrainingConfig,
    archived_record,
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
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.figures import Cost
from lossdyn.pipeline.plotting import PALETTE, Shown, letter_panels, new_figure
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import NetworkPlan

__all__ = [
    "Config",
    "Result",
    "claims",
    "compact",
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
    "representative_text",
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


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """One unit as the published archive keeps it (:func:`~lossdyn.dissipativity.spirals.archived_record`):
    the objective's history at its first and last step, the terminal loss's history in float32 (panel (b) plots it)."""
    return archived_record(record, terminal=True)


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


#: What the paper states for the two-spirals experiment (Section 6 and Figs. 2–4): the data size, the network,
#: the objective and the optimiser; and that the classes separate "in the first ten layers" (Fig. 3's text).
PAPER = {
    "training_samples": 480,
    "depth_N": 30,
    "width_h": 8,
    "p_d": 0.95,
    "adam_lr": 0.1,
    "weight_decay_r": 0.005,
    "gamma": 3,
    "separated_within_layers": 10,
}


def key_numbers(res: Result) -> dict[str, Any]:
    """The numbers the page quotes: per role, the seed counts by status and the medians (min–max) over the
    trained seeds (``<role>``: a dict), and the representative seed's curves and final medians of z_N."""
    out: dict[str, Any] = {role: _role_numbers(res, role) for role in ROLES if _role(res, role)}
    s, w = _shown(res, "stage_cost"), _shown(res, "without")
    out.update(
        {
            "paper": dict(PAPER),
            "trajectories_per_class": N_TRAJ,
            "z_trajectories_per_class": N_TRAJ_Z,
            "trained_acc_threshold": TRAINED_ACC,
            "representative_seed": res.representative,
            "representative_status": res.status[res.networks.index(s)],
            "median_z_N_per_class_representative": list(median_z_N(s, res.y_train)),
            "z_star": res.z_star,
            "target_odds_ratio": round(math.exp(res.z_star), 9),  # (C−1)p_d/(1−p_d): z⋆ = ln of it (ln 19)
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


# -- tables and prose ---------------------------------------------------------------------------
#: Short names of the objectives for the per-network table.
ROLE_SHORT = {"stage_cost": "stage cost", "without": "without", "lr_paper": "paper lr"}


def setup_table(res: Result) -> Table:
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
            f"trained: train acc_N ≥ {TRAINED_ACC:g}; diverged: objective rose, NaN/inf, or train acc_N ≤ "
            f"{1 / C + CHANCE_MARGIN:g} (chance {1 / C:g})",
        ),
        ("z⋆ = −δ = ln 19 (turnpike level of z = x1 − x2)", f"±{res.z_star:.6f}"),
        ("L_0 if the softmax were uniform", f"{res.loss_uniform:.6f}"),
    ]
    return Table(["setting", "value"], rows, caption="The run.")


def _spread_cell(values: list[float], fmt: str) -> str:
    """ "m (a–b)": median (min–max) over the trained seeds, "–" when none trained."""
    if not values:
        return "–"
    m, lo, hi = spread(values)
    return f"{m:{fmt}} ({lo:{fmt}}–{hi:{fmt}})"


def seeds_table(res: Result) -> Table:
    """Per objective: seeds trained / not trained / diverged, and k⋆, k⋆_acc and the test accuracy as
    median (min–max) over the trained seeds."""
    rows = []
    for role, name in ROLES.items():
        nets = _role(res, role)
        if not nets:
            continue
        c = status_counts([s for _, s in nets])
        trained = [r for r, s in nets if s == "trained"]
        rows.append(
            (
                name,
                len(nets),
                c["trained"],
                c["not trained"],
                c["diverged"],
                _spread_cell([float(r.train_summary.k_star) for r in trained], "g"),
                _spread_cell([float(r.train_summary.k_star_acc) for r in trained], "g"),
                _spread_cell([_final_test_acc(r) for r in trained], ".3f"),
            )
        )
    columns = ["objective", "seeds", "trained", "not trained", "diverged", "k⋆", "k⋆_acc", "test acc_N"]
    caption = "Seeds per objective; k⋆, k⋆_acc and the test accuracy as median (min–max) over the trained seeds."
    return Table(columns, rows, caption=caption)


def representative_text(res: Result) -> str:
    """Which seed the trajectory panels and the layer table show, and by which case of the rule."""
    stage = _role(res, "stage_cost")
    statuses = [s for _, s in stage]
    s = _shown(res, "stage_cost")
    if "trained" in statuses:
        why = "the trained stage-cost seed with the median k⋆ (the lower median; ties go to the lowest seed)"
    elif "not trained" in statuses:
        why = "no stage-cost seed trained, so the one with the median k⋆ among those that did not diverge"
    else:
        why = "every stage-cost seed diverged, so the first one"
    status = res.status[res.networks.index(s)]
    return (
        f"The trajectory panels and the layer table show **seed {res.representative}** ({status}, "
        f"k⋆ = {s.train_summary.k_star}): {why}."
    )


def network_table(res: Result) -> Table:
    """One row per network: its status, final accuracies, k⋆, k⋆_acc, k⋆_abs, #Q̄_ε, max ‖u_k‖ and the
    test accuracy cropped after k⋆."""
    rows = []
    for r, status in zip(res.networks, res.status):
        s = r.train_summary
        rows.append(
            (
                ROLE_SHORT[r.role],
                r.seed_index,
                status,
                _final_train_acc(r),
                _final_test_acc(r),
                s.k_star,
                s.k_star_acc,
                s.k_star_abs,
                s.off_turnpike_count,
                float(r.u_norm.max()),
                r.crop.test_acc,
            )
        )
    columns = ["objective", "seed", "status", "train acc", "test acc", "k⋆", "k⋆_acc", "k⋆_abs", "#Q̄ε", "max‖u‖"]
    return Table(
        [*columns, "test acc @k⋆"],
        rows,
        caption="Every network: accuracies at the full depth N, k⋆ (training loss), #Q̄ε = layers k < N with d_k > ε.",
        formats={"train acc": ".4f", "test acc": ".4f", "max‖u‖": ".2f", "test acc @k⋆": ".4f"},
    )


def _layers_shown(N: int) -> list[int]:
    """About seven layers from 0 to N, evenly spaced, N included."""
    every = max(1, math.ceil(N / 6))
    return sorted(set(range(0, N + 1, every)) | {N})


def layer_table(res: Result) -> Table:
    """L_k, acc_k, d_k and ‖u_k‖ at about seven layers for the representative seed, with and without the
    stage cost (training set; every layer is in panels (i)–(l))."""
    s, w = _shown(res, "stage_cost"), _shown(res, "without")
    N = res.config.depth
    rows = []
    for k in _layers_shown(N):
        u_s = float(s.u_norm[k]) if k < N else None
        u_w = float(w.u_norm[k]) if k < N else None
        rows.append(
            (
                k,
                float(s.train.loss[k]),
                float(w.train.loss[k]),
                float(s.train.acc[k]),
                float(w.train.acc[k]),
                float(s.train.dist[k]),
                float(w.train.dist[k]),
                u_s,
                u_w,
            )
        )
    columns = ["k", "L_k with", "L_k w/o", "acc_k with", "acc_k w/o", "d_k with", "d_k w/o", "‖u_k‖ with", "‖u_k‖ w/o"]
    caption = (
        f"Seed {res.representative}, training set, with (with) and without (w/o) the stage cost; "
        "‖u_k‖ of block k (none after the last layer)."
    )
    return Table(columns, rows, caption=caption, formats={"L_k with": ".4f", "L_k w/o": ".4f"})


def _crop_row(name: str, rule: str, ks: list[float], cropped: list[float], full: list[float], diff: str) -> tuple:
    """One row of :func:`cropping_table`: medians (min–max) over the trained seeds."""
    return (name, rule, _spread_cell(ks, "g"), _spread_cell(cropped, ".3f"), _spread_cell(full, ".3f"), diff)


def cropping_table(res: Result) -> Table:
    """Test accuracy of the trained networks cropped after k⋆ (5 % rule) and after k⋆_abs (0.01 nats), against
    the full depth, as median (min–max) over the trained seeds; then the baseline cropped where the stage-cost
    network of the same seed may be cropped (per network: :func:`network_table`)."""
    rows = []
    for role, name in ROLES.items():
        trained = _trained(res, role)
        if not trained:
            continue
        full = [_final_test_acc(r) for r in trained]
        for rule, get in (("k⋆", lambda r: r.crop), ("k⋆_abs", lambda r: r.crop_abs)):
            crops = [get(r) for r in trained]
            diff = f"{max(c.max_state_diff for c in crops):.1e}"
            rows.append(_crop_row(name, rule, [c.k for c in crops], [c.test_acc for c in crops], full, diff))
    without = {r.seed_index: r for r, _ in _role(res, "without")}
    pairs = [(s, without[s.seed_index]) for s in _trained(res, "stage_cost")]
    if pairs:
        ks = [s.crop.k for s, _ in pairs]
        at_k = [float(w.test.acc[s.crop.k]) for s, w in pairs]
        full = [_final_test_acc(w) for _, w in pairs]
        rows.append(_crop_row(ROLES["without"], "k⋆ of the stage-cost seed", ks, at_k, full, "–"))
    columns = ["network", "cropped after", "k", "test acc cropped", "test acc at N", "max |Δx|"]
    caption = (
        "Cropping without retraining: median (min–max) over the trained seeds of each objective; the last row crops "
        "the network without the stage cost of each seed whose stage-cost network trained, after that one's k⋆."
    )
    return Table(columns, rows, caption=caption)


# -- the figures -------------------------------------------------------------------------------
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

#: Width of one panel and of a one-panel figure (inches): two panels stay legible at the book's column.
PANEL_WIDTH = 4.1
PANEL_HEIGHT = 3.4


def _proxy(**kw) -> Line2D:
    """A legend entry without data."""
    return Line2D([], [], **kw)


def _class_handles(*, lines: bool = True) -> list[Line2D]:
    """Legend entries for the two class colours (lines for trajectories, dots for point clouds)."""
    kw = {"lw": 2} if lines else {"ls": "", "marker": "o", "ms": 5}
    return [_proxy(color=PALETTE[c], label=f"class {c + 1}", **kw) for c in (0, 1)]


def _coordinates(ax, rec: NetworkRecord, y: np.ndarray, title: str) -> None:
    """Fig. 3: both state components against the layer, for some samples of each class."""
    states = rec.states.numpy()  # (N+1, D, 2)
    k = np.arange(states.shape[0])
    for c in (0, 1):
        idx = np.flatnonzero(y == c)[:: max(1, int((y == c).sum()) // N_TRAJ)]
        for j, ls in ((0, "-"), (1, ":")):
            ax.plot(k, states[:, idx, j], color=PALETTE[c], lw=0.8, alpha=0.5, ls=ls)
    ax.set(xlabel="layer $k$", ylabel="state component", title=title, xlim=(0, k[-1]))


def _z_panel(ax, rec: NetworkRecord, y: np.ndarray, z_star: float, title: str) -> None:
    """z_k = [x_k]_1 − [x_k]_2 against the layer, with the class medians and the levels ±z⋆."""
    states = rec.states.numpy()
    z = states[..., 0] - states[..., 1]
    k = np.arange(z.shape[0])
    for c in (0, 1):
        idx = np.flatnonzero(y == c)[:: max(1, int((y == c).sum()) // N_TRAJ_Z)]
        ax.plot(k, z[:, idx], color=PALETTE[c], lw=0.6, alpha=0.3)
    for c in (0, 1):
        ax.plot(k, np.median(z[:, y == c], axis=1), color="white", lw=4)
        ax.plot(k, np.median(z[:, y == c], axis=1), color=PALETTE[c], lw=2.2)
    for level in (z_star, -z_star):
        ax.axhline(level, color="k", ls="--", lw=1)
    lim = max(3 * z_star, float(np.nanpercentile(np.abs(z), 99)))
    ax.set(xlabel="layer $k$", ylabel=r"$z_k = [x_k]_1 - [x_k]_2$", title=title, xlim=(0, k[-1]), ylim=(-lim, lim))


def _trajectory_handles(res: Result, letters: str, k_star: bool) -> list[Line2D]:
    """The shared legend of a trajectory pair (panel ``letters``): classes, components, medians, ±ln 19, k⋆."""
    left, right = letters
    handles = [
        *_class_handles(),
        _proxy(color="0.3", ls="-", lw=1, label=rf"$[x_k]_1$ ({left})"),
        _proxy(color="0.3", ls=":", lw=1.2, label=rf"$[x_k]_2$ ({left})"),
        _proxy(color="0.3", lw=2.2, label=f"class median ({right})"),
        _proxy(color="k", ls="--", lw=1, label=rf"$z = \pm\ln 19$ ({right})"),
    ]
    if k_star:
        handles.append(_proxy(color=PALETTE[2], ls=":", lw=1.2, label=rf"$k^\star$ (seed {res.representative})"))
    return handles


def _trajectory_figure(res: Result, role: str, start: int) -> Shown:
    """Fig. 3 for the representative seed of ``role``: both state components and z_k against the layer."""
    rec = _shown(res, role)
    with_cost = role == "stage_cost"
    fig, axes = new_figure(2, 1, width=PANEL_WIDTH, height=PANEL_HEIGHT)
    ax_x, ax_z = axes[0]
    which = "with" if with_cost else "without"
    _coordinates(ax_x, rec, res.y_train.numpy(), f"states, {which} stage cost")
    _z_panel(ax_z, rec, res.y_train.numpy(), res.z_star, rf"$z_k$, {which} stage cost")
    if with_cost:
        ax_z.axvline(rec.train_summary.k_star, color=PALETTE[2], lw=1.2, ls=":")
    letter_panels([ax_x, ax_z], start=start)
    first, second = "abcdefghijkl"[start : start + 2]
    handles = _trajectory_handles(res, first + second, with_cost)
    fig.legend(handles=handles, loc="outside lower center", ncol=4, facecolor="0.92")
    i = res.representative
    if with_cost:
        caption = (
            f"Paper 1, Figure 3 ({first}, {second}). The states of the two-spirals ResNet trained with the stage "
            f"cost (seed {i}), layer by layer: ({first}) both components of {N_TRAJ} training samples per class, "
            f"({second}) z_k = [x_k]₁ − [x_k]₂ of {N_TRAJ_Z} per class with the class medians of all samples and "
            "the turnpike levels ±ln 19; the dotted line is k⋆."
        )
    else:
        caption = (
            f"Companion figure ({first}, {second}). The same as Figure 3 for the network trained from the same "
            f"initialisation (seed {i}) without the stage cost."
        )
    alt = (
        "Left: state components of sample trajectories against the layer, coloured by class. Right: z_k against "
        "the layer with thin sample trajectories, two bold class medians and dashed horizontal lines at ±ln 19"
        + ("; the medians settle on the lines after a few layers." if with_cost else ".")
    )
    return Shown(fig, caption, alt, "fig3" if with_cost else "without-states")


def _final_plane(ax, rec: NetworkRecord, y: np.ndarray, z_star: float, title: str) -> None:
    """Fig. 4: the final states x_N with both minimiser lines."""
    xN = rec.states[-1].numpy()
    for c in (0, 1):
        ax.scatter(xN[y == c, 0], xN[y == c, 1], s=7, color=PALETTE[c], alpha=0.6, lw=0)
    lo = float(np.nanmin(xN)) - 1.0
    hi = float(np.nanmax(xN)) + 1.0
    t = np.array([lo, hi])
    ax.plot(t, t - z_star, color=PALETTE[0], lw=1.5, ls="--")
    ax.plot(t, t + z_star, color=PALETTE[1], lw=1.5, ls="--")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", xlabel=r"$[x_N]_1$", ylabel=r"$[x_N]_2$", title=title)


def _final_states_figure(res: Result) -> Shown:
    """Fig. 4 with and without the stage cost, side by side (representative seed)."""
    fig, axes = new_figure(2, 1, width=PANEL_WIDTH, height=PANEL_HEIGHT + 0.3)
    y = res.y_train.numpy()
    _final_plane(axes[0][0], _shown(res, "stage_cost"), y, res.z_star, r"$x_N$, with stage cost")
    _final_plane(axes[0][1], _shown(res, "without"), y, res.z_star, r"$x_N$, without stage cost")
    letter_panels(axes[0], start=4)
    handles = [
        *_class_handles(lines=False),
        _proxy(color=PALETTE[0], lw=1.5, ls="--", label=r"$X^\star_1$: $x_2 = x_1 - \ln 19$"),
        _proxy(color=PALETTE[1], lw=1.5, ls="--", label=r"$X^\star_2$: $x_2 = x_1 + \ln 19$"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, facecolor="0.92")
    caption = (
        f"Paper 1, Figure 4 (e), and (f) for comparison. The final states x_N of the training samples (seed "
        f"{res.representative}) with both minimiser lines, (e) with and (f) without the stage cost."
    )
    alt = (
        "Two scatter plots of the final states coloured by class, each with two dashed parallel diagonal lines, "
        "the minimiser lines of the two classes; left with, right without the stage cost."
    )
    return Shown(fig, caption, alt, "fig4")


def _curve(ax, res: Result, rec: NetworkRecord, status: str, values: np.ndarray, x: np.ndarray, **kw) -> None:
    """One network's curve: the role's colour, the status's line style, the representative seed bold."""
    color, _ = ROLE_STYLE[rec.role]
    shown = rec.seed_index == res.representative
    ax.plot(
        x,
        values,
        color=color,
        ls=kw.pop("ls", STATUS_STYLE[status]),
        lw=kw.pop("lw", 1.6 if shown else 0.8),
        alpha=1 if shown else 0.6,
        **kw,
    )


def _per_layer(ax, res: Result, key: str, ylabel: str, *, log: bool = False) -> None:
    """One curve per network of ``key`` (a field of :class:`LayerCurves`, train in its status's style and
    test dashed for the trained networks, or ``"u_norm"``) against the layer, and k⋆ dotted."""
    for rec, status in zip(res.networks, res.status):
        if key == "u_norm":
            values = rec.u_norm.numpy()
            _curve(ax, res, rec, status, values, np.arange(len(values)))
            continue
        values = getattr(rec.train, key).numpy()
        _curve(ax, res, rec, status, values, np.arange(len(values)))
        if status == "trained":
            values = getattr(rec.test, key).numpy()
            _curve(ax, res, rec, status, values, np.arange(len(values)), ls="--", lw=0.7)
    if log:
        ax.set_yscale("log")
        # the paper-lr curves can be orders of magnitude above; keep the working-lr curves readable
        ours = [r for r in res.networks if r.role != "lr_paper"]
        top = max(float(np.nanmax((r.u_norm if key == "u_norm" else getattr(r.train, key)).numpy())) for r in ours)
        ax.set_ylim(top=top * 4)
    ax.axvline(_shown(res, "stage_cost").train_summary.k_star, color=PALETTE[2], lw=1.2, ls=":")
    ax.set(xlabel="layer $k$", ylabel=ylabel, xlim=(0, res.config.depth))


def _network_handles(res: Result, *, test: bool = True, k_star: bool = True) -> list[Line2D]:
    """Legend entries of the every-network panels: objectives (colours), status (line styles), test, k⋆."""
    handles = [_proxy(color=ROLE_STYLE[r][0], lw=1.6, label=ROLE_STYLE[r][1]) for r in ROLES if _role(res, r)]
    handles += [_proxy(color="0.4", ls=ls, lw=1, label=f"{status} (train)") for status, ls in STATUS_STYLE.items()]
    if test:
        handles.append(_proxy(color="0.4", ls="--", lw=0.7, label="test, trained ones"))
    if k_star:
        handles.append(_proxy(color=PALETTE[2], ls=":", lw=1.2, label=rf"$k^\star$ (seed {res.representative})"))
    return handles


def _counts_text(res: Result) -> str:
    """ "with stage cost: t trained, u not trained, d diverged; …" for the captions."""
    parts = []
    for role, name in ROLES.items():
        c = status_counts([s for _, s in _role(res, role)])
        if sum(c.values()):
            parts.append(f"{name}: {c['trained']} trained, {c['not trained']} not trained, {c['diverged']} diverged")
    return "; ".join(parts)


def _data_panel(ax, res: Result) -> None:
    """(a) Fig. 2: the training points (filled) and the test points (open), legend below the panel."""
    x, y, xt, yt = res.x_train.numpy(), res.y_train.numpy(), res.x_test.numpy(), res.y_test.numpy()
    for c in (0, 1):
        ax.scatter(xt[yt == c, 0], xt[yt == c, 1], s=6, facecolors="none", edgecolors=PALETTE[c], lw=0.5, alpha=0.6)
        ax.scatter(x[y == c, 0], x[y == c, 1], s=8, color=PALETTE[c], lw=0)
    handles = [
        *[_proxy(color=PALETTE[c], ls="", marker="o", ms=5, label=f"class {c + 1}, train") for c in (0, 1)],
        _proxy(color="0.4", ls="", marker="o", mfc="none", ms=5, label="test (open)"),
    ]
    ax.set(aspect="equal", xlabel=r"$x_1$", ylabel=r"$x_2$", title="two spirals")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, facecolor="0.92")


def _training_panel(ax, res: Result) -> None:
    """(b): every network's terminal loss during training, legend below the panel."""
    for rec, status in zip(res.networks, res.status):
        h = rec.history_terminal.numpy()
        _curve(
            ax, res, rec, status, h, np.arange(1, len(h) + 1), lw=1.0 if rec.seed_index == res.representative else 0.6
        )
    ax.set(xscale="log", yscale="log", xlabel="Adam step", ylabel=r"terminal loss $L_N$ (train)", title="training")
    handles = _network_handles(res, test=False, k_star=False)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, facecolor="0.92")


def _data_training_figure(res: Result) -> Shown:
    """(a) Fig. 2, the data, and (b) the training curves of every network."""
    fig, axes = new_figure(2, 1, width=PANEL_WIDTH, height=PANEL_HEIGHT + 1.2)
    _data_panel(axes[0][0], res)
    _training_panel(axes[0][1], res)
    letter_panels(axes[0])
    cfg = res.config
    caption = (
        f"Paper 1, Figure 2 (a), and companion panel (b). (a) The two-spirals data: {2 * cfg.n_per_class} training "
        f"points (filled) and as many test points (open), {cfg.n_per_class} per class ({cfg.spiral} spirals, noise "
        f"{cfg.noise:g}). (b) The terminal loss of every network during training ({cfg.seeds} seeds per objective; "
        f"seed {res.representative} bold). {_counts_text(res)}."
    )
    alt = (
        "Left: scatter plot of two interleaved spiral arms, one per class colour, open circles for the test points. "
        "Right: log-log curves of the terminal training loss against the Adam step, one per network, coloured by "
        "objective."
    )
    return Shown(fig, caption, alt)


def _layer_figure(res: Result, panels: tuple[tuple[str, str, str, bool], ...], start: int, name: str) -> Shown:
    """Two per-layer panels of every network (``(key, title, ylabel, log)`` each), one legend below both."""
    fig, axes = new_figure(2, 1, width=PANEL_WIDTH, height=PANEL_HEIGHT)
    for ax, (key, title, ylabel, log) in zip(axes[0], panels):
        _per_layer(ax, res, key, ylabel, log=log)
        ax.set_title(title)
        if key == "dist":
            ax.axhline(res.config.eps_turnpike, color="k", lw=1, ls=(0, (1, 3)))
    letter_panels(axes[0], start=start)
    handles = _network_handles(res)
    if any(p[0] == "dist" for p in panels):
        handles.append(_proxy(color="k", lw=1, ls=(0, (1, 3)), label=r"$\varepsilon$ of $Q_\varepsilon$"))
    fig.legend(handles=handles, loc="outside lower center", ncol=4, facecolor="0.92")
    return Shown(fig, "", "", name)


def _per_layer_figures(res: Result) -> list[Shown]:
    """(i, j) the stage loss and accuracy, (k, l) the distance to the minimiser lines and ‖u_k‖, per layer."""
    loss = ("loss", "stage loss", r"$L_k$", True)
    acc = ("acc", "accuracy", r"$\mathrm{acc}_k$", False)
    dist = ("dist", "distance to the minimiser lines", r"RMS dist$(x_k, X^\star_y)$ $d_k$", True)
    u_norm = ("u_norm", "control size", r"$\|u_k\|$", True)
    first = _layer_figure(res, (loss, acc), 8, "layers-loss")
    second = _layer_figure(res, (dist, u_norm), 10, "layers-dist")
    every = (
        f"of every network of every seed (seed {res.representative} bold): the training curve solid when it trained, "
        "dash-dotted when it did not, dotted when it diverged; the test curve dashed for the trained ones."
    )
    first.caption = f"Companion figure (i, j). Per layer k, the stage loss L_k and the accuracy acc_k {every}"
    first.alt = "Per-layer curves of the loss (log scale) and the accuracy, one per network, coloured by objective."
    second.caption = (
        f"Companion figure (k, l). Per layer k, the RMS distance d_k to the minimiser lines (with ε of Q_ε) and the "
        f"control size ‖u_k‖ {every}"
    )
    second.alt = "Per-layer curves of the distance to the minimiser lines and of the control size, both on log scales."
    return [first, second]


def plot_two_spirals(res: Result) -> list[Shown]:
    """The page's figures: (a) Fig. 2 (data) and (b) the training curves of every network; (c, d) Fig. 3
    (states and z_k) and (e) Fig. 4 (final states) with the stage cost, (f) the final states and (g, h) the
    states without it, for the representative seed; (i)–(l) L_k, acc_k, d_k and ‖u_k‖ per layer for every
    network (train in the style of its status, test dashed for the trained ones; the representative seed bold)."""
    return [
        _data_training_figure(res),
        _trajectory_figure(res, "stage_cost", 2),
        _final_states_figure(res),
        _trajectory_figure(res, "without", 6),
        *_per_layer_figures(res),
    ]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Two spirals with and without the stage cost: turnpike, k⋆ and cropping"
PAPER_FIGURE = "Figs. 2–4"
plot = plot_two_spirals
