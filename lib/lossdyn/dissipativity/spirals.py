"""The two-spirals training recipe of Paper 1, Section 6, shared by Figs. 2–4 and the horizon page.

Section 6 trains a ResNet of block (26) (width 8, σ1 = tanh, σ2 = identity) on 480 two-spirals
samples with p_d = 0.95, γ = 3 and weight decay r = 0.005; what the paper leaves open (data
generator, state dimension, learning rate, steps, seeds) is chosen in book/methods.md#p1-training.
Both pages that train on the spirals use this module, so they train the same way:

* :class:`SpiralsTrainingConfig` — the config fields both pages share (each page's ``Config``
  subclasses it and adds its grid: the state dimension, the depth and the paper's learning rate; or
  the state dimensions and the depths);
* :func:`network_seed` — the initialisation seed of a page's i-th network initialisation;
* :func:`spirals_data` — the run's training and test set zero-padded to a state dimension n
  (:func:`lossdyn.dissipativity.data.two_spirals_split`);
* :func:`spirals_setup` — what every unit of a run shares (:class:`lossdyn.pipeline.units.NetworkPlan`);
* :func:`train_spirals` — train a list of networks as one stack and measure them
  (:func:`lossdyn.dissipativity.training.train_and_measure`);
* how the pages count seeds (book/methods.md#p1-training): :func:`network_status` (trained, not
  trained or diverged), :func:`representative_index` (the seed the trajectory panels show),
  :func:`spread` (median and min–max over the trained seeds) and :func:`seeds_verdict` (a claim's
  verdict over all seeds).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch

from lossdyn.dissipativity import data as datasets
from lossdyn.dissipativity.training import LR_SCHEDULES, NetworkRecord, train_and_measure
from lossdyn.pipeline.claims import verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, intra_op_threads, resolve_device, resolve_dtype

__all__ = [
    "C",
    "CHANCE_MARGIN",
    "NET_SEED_OFFSET",
    "STATE_DIM_RANGE",
    "STATUSES",
    "TRAINED_ACC",
    "SpiralsTrainingConfig",
    "network_seed",
    "network_status",
    "representative_index",
    "seeds_verdict",
    "spirals_data",
    "spirals_setup",
    "spread",
    "status_counts",
    "train_spirals",
]

#: Two classes.
C = 2

#: Seed offsets: training data = seed, test data = seed + 1, initialisation i = seed + NET_SEED_OFFSET + i.
NET_SEED_OFFSET = 100

#: A network counts as trained when it did not diverge and its final training accuracy is at least this
#: (book/methods.md#p1-training).
TRAINED_ACC = 0.97

#: ... and as diverged when its final training accuracy is at most chance (1/C) plus this, when its training
#: objective ends above its value at the first step, or when that objective or its final loss is NaN or inf.
CHANCE_MARGIN = 0.1

#: What a network's run counts as, for every table, number and verdict of both pages (:func:`network_status`).
STATUSES = ("trained", "not trained", "diverged")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpiralsTrainingConfig(ExperimentConfig):
    """Fields shared by every two-spirals training page (data, block (26), objective, Adam, measures);
    the state dimension n is each page's own field (one value, or several on the horizon page).

    Not a page's config itself: ``p1_fig2_4_two_spirals.Config`` and ``p1_turnpike_horizon.Config``
    subclass it (book/methods.md#p1-training).
    """

    n_per_class: int  # points per class (the paper: 480 samples in all)
    spiral: str  # random (2.17 turns, default) or cmu (the classic 3-turn benchmark)
    noise: float  # width of the centred uniform noise, in the generator's units
    width: int  # hidden width of block (26)
    activation: str  # σ1: tanh (paper) or relu
    p_d: float  # smoothed target probability of the true class, eq. (12)
    gamma: float  # terminal weight γ
    weight_decay: float  # r, applied as Adam's weight decay
    lr: float  # working Adam learning rate (the schedule's peak)
    lr_schedule: str  # constant, cosine (to 0) or warmup_cosine (lossdyn.dissipativity.training.lr_factor)
    steps: int  # full-batch Adam iterations
    seeds: int  # number of initialisations of each network
    eps_required: float  # ε of k⋆ (relative to the drop L_0 − L_N)
    eps_turnpike: float  # ε of Q_ε (RMS distance to X⋆_y)
    threads: int  # torch intra-op threads during the run (0 leaves the setting alone)
    dtype: str  # float32 or float64

    def validate(self) -> None:
        self._require("n_per_class", 2 <= self.n_per_class <= 100_000, "2 <= n_per_class <= 100000")
        self._require("spiral", self.spiral in ("random", "cmu"), "random or cmu")
        self._require("noise", 0.0 <= self.noise <= 10.0, "0 <= noise <= 10")
        self._require("width", 1 <= self.width <= 4096, "1 <= width <= 4096")
        self._require("activation", self.activation in ("tanh", "relu"), "tanh or relu (σ1(0) = 0)")
        self._require("p_d", 0.5 < self.p_d < 1.0, "1/C < p_d < 1, i.e. 0.5 < p_d < 1")
        self._require("gamma", 0.0 < self.gamma <= 1e6, "0 < gamma <= 1e6")
        self._require("weight_decay", 0.0 <= self.weight_decay <= 10.0, "0 <= weight_decay <= 10")
        self._require("lr", 0.0 < self.lr <= 10.0, "0 < lr <= 10")
        self._require("lr_schedule", self.lr_schedule in LR_SCHEDULES, " or ".join(LR_SCHEDULES))
        self._require("steps", 1 <= self.steps <= 10_000_000, "1 <= steps <= 1e7")
        self._require("seeds", 1 <= self.seeds <= 100, "1 <= seeds <= 100")
        self._require("eps_required", 0.0 < self.eps_required < 1.0, "0 < eps_required < 1")
        self._require("eps_turnpike", self.eps_turnpike > 0.0, "eps_turnpike > 0")
        self._require("threads", 0 <= self.threads <= 1024, "0 <= threads (0 leaves torch's setting)")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))


def network_seed(cfg: SpiralsTrainingConfig, i: int) -> int:
    """The initialisation seed of the i-th initialisation (every network of seed index i starts alike)."""
    return cfg.seed + NET_SEED_OFFSET + i


def spirals_setup(cfg: SpiralsTrainingConfig, grid: tuple[str, ...]) -> dict[str, Any]:
    """What every network of a run shares (a unit's ``setup``): the result fields but the device and
    the ``grid`` fields that only say which networks exist (their values are in each net's spec)."""
    return {k: v for k, v in cfg.result_fields().items() if k not in ("device", *grid)}


#: The state dimension n of a page: at least the C = 2 features (n > 2 zero-pads them, Remark 4).
STATE_DIM_RANGE = (C, 1024)


def spirals_data(cfg: SpiralsTrainingConfig, n: int) -> dict[str, torch.Tensor]:
    """The run's training set (``seed``) and test set (``seed + 1``), zero-padded to the state dimension ``n``."""
    return datasets.two_spirals_split(
        cfg.n_per_class,
        seed=cfg.seed,
        kind=cfg.spiral,
        noise=cfg.noise,
        n=n,
        dtype=resolve_dtype(cfg.dtype),
    )


def train_spirals(
    cfg: SpiralsTrainingConfig, nets: list[dict[str, Any]], keep_states: list[bool], device: str, *, n: int, desc: str
) -> list[dict[str, Any]]:
    """Train ``nets`` as one stack on the run's two spirals with state dimension ``n`` and measure each
    (one unit dict per net).

    Full batch, ``cfg.steps`` Adam steps with the schedule ``cfg.lr_schedule`` (each network's lr is its
    peak); the first C = 2 state components of the networks flagged
    in ``keep_states`` are kept for the trajectory panels.
    """
    with intra_op_threads(cfg.threads):
        return train_and_measure(
            nets,
            spirals_data(cfg, n),
            n=n,
            width=cfg.width,
            activation=cfg.activation,
            C=C,
            p_d=cfg.p_d,
            gamma=cfg.gamma,
            weight_decay=cfg.weight_decay,
            eps_required=cfg.eps_required,
            eps_turnpike=cfg.eps_turnpike,
            steps=cfg.steps,
            schedule=cfg.lr_schedule,
            keep=C,
            keep_nets=[i for i, k in enumerate(keep_states) if k],
            device=resolve_device(device),
            dtype=resolve_dtype(cfg.dtype),
            desc=desc,
        )


# -- counting seeds (book/methods.md#p1-training) ---------------------------------------------------
def network_status(rec: NetworkRecord) -> str:
    """``"diverged"``, ``"trained"`` or ``"not trained"`` (one of :data:`STATUSES`).

    Diverged: the training objective at the last step is NaN/inf or above its value at the first step
    (when the record keeps ``history_objective``), the final training loss L_N is NaN/inf, or the final
    training accuracy is at most 1/C + :data:`CHANCE_MARGIN` (at chance). Trained: not diverged and final
    training accuracy at least :data:`TRAINED_ACC`. Not trained: neither.
    """
    acc = float(rec.train.acc[-1])
    loss = float(rec.train.loss[-1])
    rose = False
    if rec.history_objective is not None and rec.history_objective.numel():
        first, last = float(rec.history_objective[0]), float(rec.history_objective[-1])
        rose = not math.isfinite(last) or last > first
    if rose or not math.isfinite(loss) or not math.isfinite(acc) or acc <= 1.0 / C + CHANCE_MARGIN:
        return "diverged"
    return "trained" if acc >= TRAINED_ACC else "not trained"


def archived_record(rec: dict[str, Any], *, terminal: bool) -> dict[str, Any]:
    """What the published archive keeps of one network's unit (book/methods.md#p1-archive): the objective's
    history only at its first and last step (all :func:`network_status` reads), the terminal loss's
    history in float32 where a figure plots it (``terminal``), else not at all; everything else as is."""
    out = dict(rec)
    h = rec.get("history_objective")
    if h is not None and h.numel():
        out["history_objective"] = h[[0, -1]].clone()
    if rec.get("history_terminal") is not None:
        if terminal:
            out["history_terminal"] = rec["history_terminal"].to(torch.float32)
        else:
            out.pop("history_terminal")
    return out


def status_counts(statuses: Sequence[str]) -> dict[str, int]:
    """How many of each of :data:`STATUSES` (all three keys, zeros included)."""
    return {s: sum(1 for x in statuses if x == s) for s in STATUSES}


def representative_index(k_star: Sequence[int], statuses: Sequence[str]) -> int:
    """The position of the representative network among one role's networks (one per seed, in seed order).

    The declared rule (book/methods.md#p1-fig2-4-choices): among the trained networks, the one with the
    median k⋆ — sorted by (k⋆, position), the lower median, so ties go to the lowest seed; if none
    trained, the same among those that did not diverge; if every one diverged, the first.
    """
    if len(k_star) != len(statuses) or not statuses:
        raise ValueError("need one status per k* and at least one network")
    for allowed in (("trained",), ("trained", "not trained")):
        pool = sorted((k, i) for i, (k, s) in enumerate(zip(k_star, statuses)) if s in allowed)
        if pool:
            return pool[(len(pool) - 1) // 2][1]
    return 0


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max) of ``values`` (NaNs when empty): the pages' "median (min–max)" over trained seeds."""
    if not values:
        return (math.nan, math.nan, math.nan)
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    return (float(t.quantile(0.5)), float(t.min()), float(t.max()))


def seeds_verdict(n_seeds: int, n_trained: int, *, median_ok: bool, any_ok: bool) -> str:
    """The verdict of a claim about trained networks over all seeds (book/methods.md#p1-fig2-4-choices).

    ``not measured`` if no network trained; ``reproduced`` if more than half of all ``n_seeds`` trained
    and the median over the trained ones meets the claim's bound (``median_ok``); ``partial`` if some
    trained one meets it (``any_ok``); else ``not reproduced``. Diverged and untrained seeds count in
    ``n_seeds``, so they can never make a claim reproduced.
    """
    return verdict(
        n_trained > n_seeds / 2 and median_ok,
        partly=any_ok,
        measurable=n_trained > 0,
    )
