"""The two-spirals training recipe of Paper 1, Section 6, shared by Figs. 2–4 and the horizon page.

Section 6 trains a ResNet of block (26) (width 8, σ1 = tanh, σ2 = identity) on 480 two-spirals
samples with p_d = 0.95, γ = 3 and weight decay r = 0.005; what the paper leaves open (data
generator, state dimension, learning rate, steps, seeds) is chosen in book/methods.md#p1-training.
Both pages that train on the spirals use this module, so they train the same way:

* :class:`SpiralsTrainingConfig` — the config fields both pages share (each page's ``Config``
  subclasses it and adds its grid: the depth and the paper's learning rate, or the depths);
* :func:`network_seed` — the initialisation seed of a page's i-th network initialisation;
* :func:`spirals_data` — the run's training and test set (:func:`lossdyn.dissipativity.data.two_spirals_split`);
* :func:`spirals_setup` — what every unit of a run shares (:class:`lossdyn.pipeline.units.NetworkPlan`);
* :func:`train_spirals` — train a list of networks as one stack and measure them
  (:func:`lossdyn.dissipativity.training.train_and_measure`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from lossdyn.dissipativity import data as datasets
from lossdyn.dissipativity.training import train_and_measure
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, intra_op_threads, resolve_device, resolve_dtype

__all__ = [
    "C",
    "NET_SEED_OFFSET",
    "TRAINED_ACC",
    "SpiralsTrainingConfig",
    "network_seed",
    "spirals_data",
    "spirals_setup",
    "train_spirals",
]

#: Two classes.
C = 2

#: Seed offsets: training data = seed, test data = seed + 1, initialisation i = seed + NET_SEED_OFFSET + i.
NET_SEED_OFFSET = 100

#: A network counts as trained when its final training accuracy is at least this (book/methods.md#p1-fig2-4-choices).
TRAINED_ACC = 0.9


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpiralsTrainingConfig(ExperimentConfig):
    """Fields shared by every two-spirals training page (data, block (26), objective, Adam, measures).

    Not a page's config itself: ``p1_fig2_4_two_spirals.Config`` and ``p1_turnpike_horizon.Config``
    subclass it (book/methods.md#p1-training).
    """

    n_per_class: int  # points per class (the paper: 480 samples in all)
    spiral: str  # random (2.17 turns, default) or cmu (the classic 3-turn benchmark)
    noise: float  # width of the centred uniform noise, in the generator's units
    augment_dim: int  # state dimension n >= 2; n > 2 zero-pads the input (Remark 4)
    width: int  # hidden width of block (26)
    activation: str  # σ1: tanh (paper) or relu
    p_d: float  # smoothed target probability of the true class, eq. (12)
    gamma: float  # terminal weight γ
    weight_decay: float  # r, applied as Adam's weight decay
    lr: float  # working Adam learning rate
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
        self._require(
            "augment_dim", 2 <= self.augment_dim <= 1024, "2 <= augment_dim <= 1024 (the state holds the 2 features)"
        )
        self._require("width", 1 <= self.width <= 4096, "1 <= width <= 4096")
        self._require("activation", self.activation in ("tanh", "relu"), "tanh or relu (σ1(0) = 0)")
        self._require("p_d", 0.5 < self.p_d < 1.0, "1/C < p_d < 1, i.e. 0.5 < p_d < 1")
        self._require("gamma", 0.0 < self.gamma <= 1e6, "0 < gamma <= 1e6")
        self._require("weight_decay", 0.0 <= self.weight_decay <= 10.0, "0 <= weight_decay <= 10")
        self._require("lr", 0.0 < self.lr <= 10.0, "0 < lr <= 10")
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


def spirals_data(cfg: SpiralsTrainingConfig) -> dict[str, torch.Tensor]:
    """The run's training set (``seed``) and test set (``seed + 1``), zero-padded to ``augment_dim``."""
    return datasets.two_spirals_split(
        cfg.n_per_class,
        seed=cfg.seed,
        kind=cfg.spiral,
        noise=cfg.noise,
        n=cfg.augment_dim,
        dtype=resolve_dtype(cfg.dtype),
    )


def train_spirals(
    cfg: SpiralsTrainingConfig, nets: list[dict[str, Any]], keep_states: list[bool], device: str, *, desc: str
) -> list[dict[str, Any]]:
    """Train ``nets`` as one stack on the run's two spirals and measure each (one unit dict per net).

    Full batch, ``cfg.steps`` Adam steps; the first C = 2 state components of the networks flagged
    in ``keep_states`` are kept for the trajectory panels.
    """
    with intra_op_threads(cfg.threads):
        return train_and_measure(
            nets,
            spirals_data(cfg),
            n=cfg.augment_dim,
            width=cfg.width,
            activation=cfg.activation,
            C=C,
            p_d=cfg.p_d,
            gamma=cfg.gamma,
            weight_decay=cfg.weight_decay,
            eps_required=cfg.eps_required,
            eps_turnpike=cfg.eps_turnpike,
            steps=cfg.steps,
            keep=C,
            keep_nets=[i for i, k in enumerate(keep_states) if k],
            device=resolve_device(device),
            dtype=resolve_dtype(cfg.dtype),
            desc=desc,
        )
