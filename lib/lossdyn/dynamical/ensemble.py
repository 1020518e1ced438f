"""Ensemble trainer: many 2 → H → 3 ReLU MLPs trained together by full-batch gradient descent
(Paper 2: "full batch gradient descent", Fig. 3 caption; book/methods.md#p2-trainer).

One ensemble is a :class:`TrainSpec` (width, loss family and weighting, number of steps, dtype,
what to record) and a list of :class:`Member` (init replica, η, A, T, start of the static last
period). All members advance together as one batched tensor program with hand-written
forward/backward (:meth:`lossdyn.dynamical.batched_mlp.BatchedMLP.gd_step_fn`):

    θ_{t+1} = θ_t − η ∇_θ F(θ_t, t),   F(θ, t) = Σ_c Γ_c(t) K_c(θ) + R(θ)   (:mod:`lossdyn.dynamical.losses`).

:func:`train_chunk` runs these named steps:

1. per step: λ_max, snapshots and top-2 eigenpairs where asked (:class:`_Measurements`), θ_t into
   the ring buffer (:class:`ParameterRing`), one fused GD step that also stores K(θ_t);
2. per block of ``block`` steps (:class:`_LossBook`): the losses F(θ_t, t), the divergence check
   and freeze, the same-landscape changes ΔF_t = F(θ_{t+1}, t) − F(θ_t, t), the loss-increase count;
3. per block, with ``onset``: the onset rule and λ_max at the valley floor of each onset and jump
   (:class:`lossdyn.dynamical.onset.OnsetCurvature`, θ_{t*}, θ_{t*+1}, θ_{t*+2} read from the ring);
4. at the end: the last ΔF, the accuracies and the result dict (:func:`_collect`).

* λ_max(θ_t, Γ(t)) by warm-started batched Lanczos (:mod:`lossdyn.dynamical.curvature`) at
  ``lambda_steps``, and every ``dense_every`` steps in the block after any ΔF > 0 (denser near
  instabilities); top-2 eigenpairs at ``top2_steps`` (landscape slices).
* A member whose loss becomes NaN/inf is frozen (η → 0, θ restored to its last finite-loss
  value) and flagged; the others go on. Its later records are NaN.
* Every member draws its init and its Lanczos start vector from its own generator, seeded by
  (spec seed, replica, width), so members with the same replica share the initial weights (paired
  comparisons across losses and η) and the result of a member does not depend on which other
  members share its batch. :func:`train` splits an ensemble into chunks on worker processes with
  one thread each on CPU (:func:`cpu_chunk` members per process by default; results are bit-identical
  to one unchunked batch) and runs it as one batch on CUDA (book/methods.md#p2-trainer).
"""

from __future__ import annotations

import dataclasses
import io
import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import torch

from lossdyn.dynamical import losses as dl
from lossdyn.dynamical.batched_mlp import BatchedMLP, glorot_init
from lossdyn.dynamical.curvature import lambda_max
from lossdyn.dynamical.onset import LAMBDA_KEYS, OnsetCurvature, OnsetStream, default_rtol
from lossdyn.dynamical.spiral3 import spiral3
from lossdyn.pipeline.device import intra_op_threads, resolve_device, resolve_dtype
from lossdyn.pipeline.progress import progress

__all__ = [
    "CPU_CHUNK",
    "PERIOD_KEYS",
    "SHARED_KEYS",
    "Member",
    "ParameterRing",
    "TrainSpec",
    "concat_parts",
    "cpu_chunk",
    "member_seeds",
    "train",
    "train_chunk",
    "train_many",
]

#: A fixed number of members per process on CPU (the chunk before :func:`cpu_chunk`, which sets it by width).
CPU_CHUNK = 4
#: :func:`cpu_chunk`: S·H up to this many hidden units per process, at most ``CPU_CHUNK_MAX`` members.
CPU_CHUNK_UNITS = 2000
CPU_CHUNK_MAX = 64


def cpu_chunk(H: int) -> int:
    """Members per process on CPU for width H: the largest power of two S with S·H <= 2000, at most 64, at least 1.

    A rule from measurement (``benchmarks/bench_p2_ensemble.py``, ``bench_chunks``; one thread, the fused step of
    :meth:`lossdyn.dynamical.batched_mlp.BatchedMLP.gd_step_fn`; book/methods.md#p2-trainer). The fused step keeps
    no H × N activations, so a larger batch costs no cache misses and only spreads the fixed per-step cost (the loss
    parts in torch, the ring buffer, the bookkeeping: tens of µs) over more models. Model-steps per CPU-s
    (float32/float64, 2026-12-02, a loaded machine): H = 10 grew 5.3×/4.0× from S = 1 to 16 and by 1.40×/1.0× more
    to S = 64; H = 100 grew 3.0×/2.1× from S = 1 to 16; H = 1000 was best at S = 2 (+10 % over S = 1, +13 %/+4 %
    over S = 4) and lost at S = 16, where the eager λ_max and accuracy passes, which do hold S × H × N arrays, and
    the set-up weigh in.
    """
    S = 1
    while 2 * S * H <= CPU_CHUNK_UNITS and 2 * S <= CPU_CHUNK_MAX:
        S *= 2
    return S


NEVER = 2**62


@dataclasses.dataclass(frozen=True)
class Member:
    """One network of an ensemble: init replica, learning rate and Γ(t) parameters."""

    replica: int
    eta: float
    A: float = 1.0  # amplitude; 1 = static loss
    T: int = 1  # period in steps
    static_from: int = NEVER  # Γ ≡ 1 from this step on (the static last period)


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """Everything an ensemble shares: data, width, loss, length, dtype, what to record."""

    H: int
    steps: int
    family: str = "ce"
    weighting: str = "sample_class"
    dtype: str = "float64"
    seed: int = 0
    n_per_class: int = 100
    train_seed: int = 0
    val_seed: int = 1
    lambda_steps: tuple[int, ...] = ()  # steps t at which λ_max(θ_t, Γ(t)) is computed
    lambda_m: int = 10  # Lanczos order when warm-started
    lambda_m_cold: int = 20  # most Lanczos steps from the fixed random start (first estimate, onsets)
    lambda_tol: float = 1e-3  # a cold start stops once its residual is <= this times λ (book/methods.md#p2-curvature)
    dense_every: int = 0  # > 0: λ every this many steps in the block after a block with ΔF > 0 (one chunk only)
    onset: bool = False  # detect instability onsets and compute λ_max there
    onset_flips: int = 4
    onset_quiet: int = 50  # calm steps needed before a new instability (book/methods.md#p2-onset)
    onset_min_jump: float = 1e-3  # an instability must raise the loss by this fraction of F in some step
    onset_rtol: float = 0.0  # 0: lossdyn.dynamical.onset.default_rtol(dtype)
    record_full: bool = False  # keep F(θ_t, t) and ΔF_t for every step
    loss_bins: int = 200  # log-spaced time bins for the mean loss
    snapshot_steps: tuple[int, ...] = ()  # keep θ_t at these steps
    top2_steps: tuple[int, ...] = ()  # top-2 Hessian eigenpairs at these steps
    top2_m: int = 60
    block: int = 64

    def __post_init__(self) -> None:
        if self.family not in dl.FAMILIES or self.weighting not in dl.WEIGHTINGS:
            raise ValueError(f"unknown loss {self.family}/{self.weighting}")
        if not 1 <= self.onset_flips <= 14 or self.onset_quiet < 0:
            raise ValueError("onset_flips must be in 1..14 and onset_quiet >= 0")
        for name in ("lambda_steps", "snapshot_steps", "top2_steps"):
            steps = getattr(self, name)
            if any(not 0 <= t <= self.steps for t in steps) or list(steps) != sorted(set(steps)):
                raise ValueError(f"{name} must be sorted, distinct and within 0..steps")


def member_seeds(spec: TrainSpec, member: Member) -> tuple[int, int]:
    """(init seed, Lanczos start seed) of a member, from (spec seed, replica, width) only."""
    state = np.random.SeedSequence([spec.seed, member.replica, spec.H]).generate_state(2, dtype=np.uint64)
    return int(state[0] >> np.uint64(1)), int(state[1] >> np.uint64(1))


def _log_bins(steps: int, n_bins: int) -> torch.Tensor:
    """Bin edges on a log grid: single steps at first, then geometric; ends with ``steps``."""
    edges = np.unique(np.concatenate([[0], np.round(np.geomspace(1, steps, max(n_bins, 2))).astype(np.int64)]))
    return torch.from_numpy(edges)


# -- the pieces of one ensemble run --------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Schedule:
    """Each member's Γ(t) parameters: A (S,) float64, T (S,) int64, static_from (S,) float64."""

    A: torch.Tensor
    T: torch.Tensor
    static_from: torch.Tensor

    @classmethod
    def of(cls, members: Sequence[Member]) -> _Schedule:
        return cls(
            torch.tensor([m.A for m in members], dtype=torch.float64),
            torch.tensor([m.T for m in members], dtype=torch.int64),
            torch.tensor([min(m.static_from, NEVER) for m in members], dtype=torch.float64),
        )

    def block(self, t0: int, t1: int) -> torch.Tensor:
        """Γ(t) of every member for t = t0 … t1 − 1: (t1 − t0, S, 3) float64 on the CPU."""
        t = torch.arange(t0, t1)[:, None]
        return dl.gamma(t, self.A[None], self.T[None], 3, static_from=self.static_from[None])

    def at(self, times: list[int], members: torch.Tensor) -> torch.Tensor:
        """Γ(t_j) of member ``members[j]`` for each j: (n, 3) float64."""
        A, T, static_from = self.A[members], self.T[members], self.static_from[members]
        return dl.gamma(torch.tensor(times), A, T, 3, static_from=static_from)


class ParameterRing:
    """The last ``size`` parameter vectors θ_t (S, P): λ_max at an onset confirmed later, and the
    last finite-loss θ of a diverged member, are read from it."""

    def __init__(self, size: int, S: int, P: int, dtype: torch.dtype, device: torch.device):
        self.size, self.end = size, 0  # holds θ_t for end − size <= t < end
        self.buf = torch.empty(size, S, P, dtype=dtype, device=device)

    def write(self, t: int, theta: torch.Tensor) -> None:
        self.buf[t % self.size].copy_(theta)
        self.end = t + 1

    def holds(self, t: int) -> bool:
        return t >= self.end - self.size

    def holds_each(self, t: torch.Tensor) -> torch.Tensor:
        return t >= self.end - self.size

    def theta(self, t: int, s: int) -> torch.Tensor:
        """θ_t of member ``s`` (a view: copy it before the slot is overwritten)."""
        return self.buf[t % self.size][s]


class _Measurements:
    """λ_max along the trajectory (warm-started Lanczos), snapshots of θ_t and top-2 eigenpairs
    (book/methods.md#p2-curvature)."""

    def __init__(self, spec: TrainSpec, model: BatchedMLP, v_start: torch.Tensor):
        self.spec, self.model = spec, model
        self.v_track, self.tracked = v_start.clone(), False  # the last Ritz vector: the next start
        self.lambda_steps, self.snap_steps, self.top2_steps = (
            set(spec.lambda_steps),
            set(spec.snapshot_steps),
            set(spec.top2_steps),
        )
        self.lambda_t: list[int] = []
        self.values: list[torch.Tensor] = []
        self.residuals: list[torch.Tensor] = []
        self.snaps: list[torch.Tensor] = []
        self.top2_values: list[torch.Tensor] = []
        self.top2_vectors: list[torch.Tensor] = []

    def wants_lambda(self, t: int, dense: bool) -> bool:
        return t in self.lambda_steps or (dense and t % self.spec.dense_every == 0)

    def measure(self, t: int, theta: torch.Tensor, G: torch.Tensor, want_lambda: bool) -> None:
        """Record at step t: λ_max (warm-started Lanczos) if asked, a snapshot, the top-2 pair."""
        spec = self.spec
        if want_lambda:
            m, tol = (spec.lambda_m, 0.0) if self.tracked else (spec.lambda_m_cold, spec.lambda_tol)
            res = lambda_max(self.model, theta, G, self.v_track, m, tol=tol)
            self.v_track, self.tracked = res.vectors[:, 0], True
            self.lambda_t.append(t)
            self.values.append(res.values[:, 0].to("cpu", torch.float64))
            self.residuals.append(res.residuals[:, 0].to("cpu", torch.float64))
        if t in self.snap_steps:
            self.snaps.append(theta.to("cpu", torch.float64).clone())
        if t in self.top2_steps:
            res = lambda_max(self.model, theta, G, self.v_track, spec.top2_m, k=2)
            self.top2_values.append(res.values.to("cpu", torch.float64))
            self.top2_vectors.append(res.vectors.to("cpu", torch.float64))

    def cold_lambda(self, thetas: torch.Tensor, G: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        """λ_max (n,) at ``thetas`` (n, P) with Γ ``G`` (n, 3), Lanczos of at most ``lambda_m_cold`` steps with the
        residual stop ``lambda_tol``, from each member's current tracking vector (the onsets)."""
        start = self.v_track[members.to(thetas.device)]
        return lambda_max(self.model, thetas, G, start, self.spec.lambda_m_cold, tol=self.spec.lambda_tol).values[:, 0]

    def records(self, alive: torch.Tensor, diverged_step: torch.Tensor) -> dict[str, torch.Tensor]:
        """``lambda_t``, ``lambda_max`` (NaN after a member's divergence), ``lambda_residual``,
        ``snap_t``/``snap_theta`` and ``top2_t``/``top2_values``/``top2_vectors`` where asked."""
        S, spec = alive.shape[0], self.spec
        lam = torch.stack(self.values, 1) if self.values else torch.zeros(S, 0, dtype=torch.float64)
        lam_res = torch.stack(self.residuals, 1) if self.residuals else torch.zeros(S, 0, dtype=torch.float64)
        if lam.shape[1]:
            late = torch.tensor(self.lambda_t, dtype=torch.int64)[None] >= diverged_step[:, None]
            lam = torch.where(late & ~alive[:, None], math.nan, lam)
        out = {
            "lambda_t": torch.tensor(self.lambda_t, dtype=torch.int64),
            "lambda_max": lam,
            "lambda_residual": lam_res,
        }
        if spec.snapshot_steps:
            out["snap_t"] = torch.tensor(spec.snapshot_steps, dtype=torch.int64)
            out["snap_theta"] = torch.stack(self.snaps, 1)
        if spec.top2_steps:
            out["top2_t"] = torch.tensor(spec.top2_steps, dtype=torch.int64)
            out["top2_values"] = torch.stack(self.top2_values, 1)
            out["top2_vectors"] = torch.stack(self.top2_vectors, 1)
        return out


@dataclasses.dataclass(frozen=True)
class _LastStep:
    """K(θ_t), R(θ_t), Γ(t) and F(θ_t, t) (float64, CPU) of the last step of the previous block."""

    K: torch.Tensor
    R: torch.Tensor
    G: torch.Tensor
    F: torch.Tensor


@dataclasses.dataclass(frozen=True)
class _BlockChanges:
    """ΔF_t and F(θ_t, t), (L, S) float64, for t = ``t_first`` …; ``any_positive``: some ΔF_t > tol."""

    dF: torch.Tensor
    F: torch.Tensor
    t_first: int
    any_positive: bool


class _LossBook:
    """The block bookkeeper: F(θ_t, t) from the stored K(θ_t), the divergence freeze, the
    same-landscape ΔF_t, the mean loss on log-spaced bins and the count of steps with ΔF_t > tol
    (all in float64 on the CPU; book/methods.md#p2-trainer)."""

    def __init__(self, spec: TrainSpec, S: int, N: int, P: int, dtype: torch.dtype, device: torch.device):
        self.spec, self.N, self.P, self.dtype, self.device = spec, N, P, dtype, device
        self.sign = -1.0 if spec.family == "ce" else 1.0  # K of the fused step is Σ Y log p for CE
        self.rtol = spec.onset_rtol or default_rtol(dtype)
        self.edges = _log_bins(spec.steps, spec.loss_bins)
        self.bin_of = torch.bucketize(torch.arange(spec.steps), self.edges, right=True) - 1
        self.loss_sum = torch.zeros(len(self.edges) - 1, S, dtype=torch.float64)
        self.loss_cnt = torch.bincount(self.bin_of, minlength=len(self.edges) - 1).to(torch.float64)
        full = spec.record_full
        self.F_all = torch.full((spec.steps, S), math.nan, dtype=torch.float64) if full else None
        self.dF_all = torch.full((spec.steps, S), math.nan, dtype=torch.float64) if full else None
        self.alive = torch.ones(S, dtype=torch.bool)
        self.n_unstable = torch.zeros(S, dtype=torch.int64)  # steps with ΔF > tol (loss went up on a fixed landscape)
        self.diverged_step = torch.full((S,), -1, dtype=torch.int64)
        self.frozen_theta: torch.Tensor | None = None  # (S, P) values to restore for frozen members
        self.last: _LastStep | None = None

    def close_block(self, t_lo, t_hi, K_blk, R_blk, G64, ring, theta, neta) -> _BlockChanges:
        """Book the block t_lo … t_hi − 1 whose K(θ_t) the fused steps stored in ``K_blk``/``R_blk``."""
        nb = t_hi - t_lo
        K64 = K_blk[:nb].to("cpu", torch.float64) * (self.sign / self.N)
        R64 = R_blk[:nb].to("cpu", torch.float64) / self.N
        F_blk = (G64 * K64).sum(-1) + R64  # (nb, S): F(θ_t, t)
        self._freeze_diverged(F_blk, t_lo, ring, neta)
        dead = ~self.alive
        if bool(dead.any()):
            theta[dead.to(self.device)] = self.frozen_theta[dead.to(self.device)]
            tt = torch.arange(t_lo, t_hi)[:, None]
            F_blk = torch.where((tt >= self.diverged_step[None]) & dead[None], math.nan, F_blk)
        self.loss_sum.index_add_(0, self.bin_of[t_lo:t_hi], F_blk)
        dF_new, F_new, t_first = self._loss_changes(K64, R64, G64, F_blk, t_lo, dead)
        if self.spec.record_full:
            self.F_all[t_lo:t_hi] = F_blk
            self.dF_all[t_first : t_first + dF_new.shape[0]] = dF_new
        positive = dF_new > self.rtol * F_new.abs()
        self.n_unstable += positive.sum(0)
        return _BlockChanges(dF_new, F_new, t_first, bool(positive.any()))

    def _freeze_diverged(self, F_blk, t_lo, ring, neta) -> None:
        """Flag members whose loss is no longer finite: η → 0, θ to restore = the last finite-loss θ."""
        bad = ~torch.isfinite(F_blk) & self.alive[None]
        if not bool(bad.any()):
            return
        for s in torch.nonzero(bad.any(0)).flatten().tolist():
            td = t_lo + int(torch.nonzero(bad[:, s])[0])
            self.diverged_step[s] = td
            self.alive[s] = False
            neta[s] = 0.0
            if self.frozen_theta is None:
                self.frozen_theta = torch.zeros(len(self.alive), self.P, dtype=self.dtype, device=self.device)
            self.frozen_theta[s] = ring.theta(max(td - 1, 0), s)

    def _loss_changes(self, K64, R64, G64, F_blk, t_lo, dead) -> tuple[torch.Tensor, torch.Tensor, int]:
        """ΔF_t = Γ(t)·K(θ_{t+1}) + R(θ_{t+1}) − F(θ_t, t) for t = t_lo − 1 … t_hi − 2, and F(θ_t, t)."""
        dF_new = (G64[:-1] * K64[1:]).sum(-1) + R64[1:] - F_blk[:-1]
        F_new = F_blk[:-1]
        t_first = t_lo
        if self.last is not None:
            last = self.last
            dF0 = (last.G * K64[0]).sum(-1) + R64[0] - last.F
            dF_new = torch.cat([dF0[None], dF_new])
            F_new = torch.cat([last.F[None], F_new])
            t_first = t_lo - 1
        self.last = _LastStep(K64[-1], R64[-1], G64[-1], F_blk[-1])
        if dead.any():
            tt = torch.arange(t_first, t_first + dF_new.shape[0])[:, None]
            dF_new = torch.where((tt >= self.diverged_step[None] - 1) & dead[None], math.nan, dF_new)
        return dF_new, F_new, t_first

    def close_run(self, model: BatchedMLP, theta: torch.Tensor) -> None:
        """ΔF of the last step, F(θ_steps, steps − 1) − F(θ_{steps−1}, steps − 1), from θ after the run."""
        K, R = dl.components(model.logits(theta), model.Y, self.spec.family, self.spec.weighting)
        F_next = (self.last.G * K.to("cpu", torch.float64)).sum(-1) + R.to("cpu", torch.float64)
        if self.spec.record_full:
            self.dF_all[self.spec.steps - 1] = torch.where(self.alive, F_next - self.last.F, math.nan)

    def records(self) -> dict[str, Any]:
        """The loss records of the result (see :func:`train_chunk`)."""
        out = {
            "diverged": ~self.alive,
            "diverged_step": self.diverged_step,
            "final_loss": torch.where(self.alive, self.last.F, math.nan),
            "n_unstable": self.n_unstable,
            "loss_bin_start": self.edges[:-1].clone(),
            "loss_bin_end": self.edges[1:].clone(),
            "loss_bin_mean": (self.loss_sum / self.loss_cnt[:, None]).T.contiguous(),
        }
        if self.spec.record_full:
            out["F"] = self.F_all.T.contiguous()
            out["dF"] = self.dF_all.T.contiguous()
        return out


# -- one batch --------------------------------------------------------------------------------------
def train_chunk(spec: TrainSpec, members: Sequence[Member], device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train ``members`` as one batch on ``device`` (one thread on CPU); see the module docstring.

    Returns a dict (members stacked on dim 0, S = len(members); float64 on the CPU unless said):

    * ``n_models`` S, ``P`` parameters per model, ``dtype``; ``eta``, ``A``, ``T``, ``replica`` (S,);
    * ``diverged`` (S,) bool, ``diverged_step`` (S,) int64 (−1: never), ``final_loss`` (S,) F(θ_{steps−1}),
      ``n_unstable`` (S,) steps with ΔF_t > tol, ``train_acc``/``val_acc`` (S,) at the end;
    * ``loss_bin_start``/``loss_bin_end`` (bins,) int64 and ``loss_bin_mean`` (S, bins): the mean of
      F(θ_t, t) over log-spaced bins of steps;
    * ``lambda_t`` (L,) int64, ``lambda_max`` (S, L) λ_max(θ_t, Γ(t)), ``lambda_residual`` (S, L);
    * ``onset_t``, ``jump_t`` (S, n_periods) int64 (−1: none): each period's onset t* and jump t_jump;
      ``lambda_onset``, ``lambda_jump`` (S, n_periods) λ_max at their valley floor and
      ``lambda_onset_iterates``, ``lambda_jump_iterates`` (S, n_periods, 2) at the two iterates
      (:class:`lossdyn.dynamical.onset.OnsetCurvature`; with ``spec.onset``), n_periods = ⌈steps/min T⌉;
    * with ``record_full``: ``F``, ``dF`` (S, steps) F(θ_t, t) and ΔF_t; with ``snapshot_steps``:
      ``snap_t``, ``snap_theta`` (S, n, P); with ``top2_steps``: ``top2_t``, ``top2_values`` (S, n, 2),
      ``top2_vectors`` (S, n, 2, P).
    """
    device = resolve_device(str(device)) if not isinstance(device, torch.device) else device
    with intra_op_threads(1 if device.type == "cpu" else 0), torch.no_grad():
        return _train(spec, list(members), device)


def _init_members(spec: TrainSpec, members: list[Member], P: int, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """θ_0 (S, P) and the Lanczos start vectors (S, P), each member from its own generators."""
    seeds = [member_seeds(spec, m) for m in members]
    theta = torch.stack([glorot_init(spec.H, torch.Generator().manual_seed(a)) for a, _ in seeds]).to(device, dtype)
    v_start = torch.stack(
        [torch.randn(P, generator=torch.Generator().manual_seed(b), dtype=torch.float64) for _, b in seeds]
    ).to(device, dtype)
    return theta, v_start


def _train(spec: TrainSpec, members: list[Member], device: torch.device) -> dict[str, Any]:
    """The steps 1–4 of the module docstring for one batch (book/methods.md#p2-trainer)."""
    dtype = resolve_dtype(spec.dtype)
    S, steps, B = len(members), spec.steps, spec.block
    X, y = spiral3(spec.train_seed, spec.n_per_class, dtype=dtype)
    model = BatchedMLP(X.to(device), y.to(device), spec.H, spec.family, spec.weighting)
    theta, v_start = _init_members(spec, members, model.P, dtype, device)
    neta = torch.tensor([-m.eta for m in members], dtype=dtype, device=device).view(S, 1, 1)
    schedule = _Schedule.of(members)
    book = _LossBook(spec, S, model.N, model.P, dtype, device)
    measurements = _Measurements(spec, model, v_start)
    n_periods = max(1, math.ceil(steps / int(schedule.T.min())))
    stream = OnsetStream(
        schedule.T,
        n_periods,
        flips=spec.onset_flips,
        rtol=book.rtol,
        min_jump=spec.onset_min_jump,
        quiet=spec.onset_quiet,
    )
    onsets = OnsetCurvature(stream, model.P, dtype, device)
    lambda_at, loss_at = _onset_probes(model, schedule, measurements)
    ring = ParameterRing(B + 16, S, model.P, dtype, device)
    K_blk = torch.empty(B, S, 3, dtype=dtype, device=device)
    R_blk = torch.zeros(B, S, dtype=dtype, device=device)
    step = model.gd_step_fn(theta, neta)
    dense = False
    for t_lo in progress(range(0, steps, B), desc=f"H={spec.H}", total=math.ceil(steps / B)):
        t_hi = min(t_lo + B, steps)
        G64 = schedule.block(t_lo, t_hi)  # (nb, S, 3)
        G_blk = G64.to(device=device, dtype=dtype)
        W_blk = dl.dlogit_weights(model.Y, G_blk, spec.family, spec.weighting)
        for i in range(t_hi - t_lo):
            t = t_lo + i
            measurements.measure(t, theta, G_blk[i], measurements.wants_lambda(t, dense))
            ring.write(t, theta)
            step(W_blk[i], K_blk[i], R_blk[i])
        changes = book.close_block(t_lo, t_hi, K_blk, R_blk, G64, ring, theta, neta)
        dense = spec.dense_every > 0 and changes.any_positive
        if spec.onset:
            onsets.push(changes.dF.T, changes.F.T, changes.t_first, ring, lambda_at, loss_at)

    book.close_run(model, theta)
    G_last = schedule.block(steps, steps + 1).to(device=device, dtype=dtype)[0]
    measurements.measure(steps, theta, G_last, steps in measurements.lambda_steps)
    Xv, yv = spiral3(spec.val_seed, spec.n_per_class, dtype=dtype)
    return _collect(members, model, theta, (Xv.to(device), yv.to(device)), schedule, book, measurements, onsets)


def _onset_probes(model: BatchedMLP, schedule: _Schedule, measurements: _Measurements):
    """``lambda_at`` and ``loss_at`` for :class:`lossdyn.dynamical.onset.OnsetCurvature`: λ_max(θ, Γ(t)) by the
    cold-start Lanczos in the training dtype, and F(θ, Γ(t)) in float64 (the secant curvature subtracts
    nearly equal losses) on the same data."""
    dtype, device = model.X.dtype, model.X.device
    model64 = (
        model
        if dtype == torch.float64
        else BatchedMLP(model.X.double(), model.y, model.H, model.family, model.weighting)
    )

    def lambda_at(thetas: torch.Tensor, times: list[int], idx: list[int]) -> torch.Tensor:
        members_idx = torch.tensor(idx)
        G = schedule.at(times, members_idx).to(device=device, dtype=dtype)
        return measurements.cold_lambda(thetas, G, members_idx)

    def loss_at(thetas: torch.Tensor, times: list[int], idx: list[int]) -> torch.Tensor:
        G = schedule.at(times, torch.tensor(idx)).to(device=device)
        return model64.loss(thetas.to(device=device, dtype=torch.float64), G)

    return lambda_at, loss_at


def _collect(members, model, theta, validation, schedule, book, measurements, onsets) -> dict[str, Any]:
    """The result dict of :func:`train_chunk` from the run's pieces."""
    return {
        "n_models": len(members),
        "P": model.P,
        "dtype": book.spec.dtype,
        "eta": torch.tensor([m.eta for m in members], dtype=torch.float64),
        "A": schedule.A,
        "T": schedule.T,
        "replica": torch.tensor([m.replica for m in members], dtype=torch.int64),
        **book.records(),
        "train_acc": model.accuracy(theta).to("cpu", torch.float64),
        "val_acc": model.accuracy(theta, *validation).to("cpu", torch.float64),
        **measurements.records(book.alive, book.diverged_step),
        **onsets.records(),
    }


# -- chunking over processes -------------------------------------------------------------------
def _worker_init() -> None:
    torch.set_num_threads(1)


def _run_chunk_bytes(spec: TrainSpec, members: list[Member], device: str) -> bytes:
    buf = io.BytesIO()
    torch.save(train_chunk(spec, members, device), buf)
    return buf.getvalue()


#: Result entries indexed by period (padded with -1/NaN to the batch's largest number of periods).
PERIOD_KEYS = ("onset_t", "jump_t", *LAMBDA_KEYS)
#: Result entries that are the same for every member (time axes), not stacked along members.
SHARED_KEYS = ("loss_bin_start", "loss_bin_end", "lambda_t", "snap_t", "top2_t")
_PAD = {"onset_t": -1, "jump_t": -1} | {key: math.nan for key in LAMBDA_KEYS}


def _pad_periods(x: torch.Tensor, width: int, value: float) -> torch.Tensor:
    """Pad dim 1 (periods) of an (S, n_periods[, 2]) entry to ``width``."""
    pad = [0, 0] * (x.dim() - 2) + [0, width - x.shape[1]]
    return torch.nn.functional.pad(x, pad, value=value)


def concat_parts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result from the results of consecutive chunks (members stacked on dim 0); inputs unchanged."""
    width = max(p["onset_t"].shape[1] for p in parts)  # periods: set by the shortest T of a chunk
    parts = [{**p, **{k: _pad_periods(p[k], width, _PAD[k]) for k in PERIOD_KEYS}} for p in parts]
    out = {}
    for key, first in parts[0].items():
        if isinstance(first, torch.Tensor) and first.dim() >= 1 and key not in SHARED_KEYS:
            out[key] = torch.cat([p[key] for p in parts], 0)
        elif key == "n_models":
            out[key] = sum(p[key] for p in parts)
        else:
            out[key] = first
    return out


def train_many(
    jobs: Sequence[tuple[TrainSpec, Sequence[Member]]],
    *,
    device: str = "auto",
    workers: int = 1,
    chunk: int | None = None,
) -> list[dict[str, Any]]:
    """Train several ensembles; returns one result dict per job (members in the given order).

    On CPU each ensemble is split into chunks of ``chunk`` members (``None``: :func:`cpu_chunk` of its
    width) run on ``workers`` processes (spawned, one thread each; ``workers = 1`` runs them in this
    process); the results do not depend on the chunking, bit for bit. On CUDA every ensemble
    runs as one batch. λ tracking uses a shared time grid; members with different ``lambda_steps``
    need different jobs.
    """
    dev = resolve_device(device)
    if dev.type != "cpu":
        return [train_chunk(spec, members, dev) for spec, members in jobs]
    tasks = []
    for j, (spec, members) in enumerate(jobs):
        members = list(members)
        size = cpu_chunk(spec.H) if chunk is None else chunk
        if spec.dense_every > 0 and len(members) > size:
            raise ValueError(
                "dense λ tracking follows the instabilities of the whole batch, so it would depend on "
                "the chunking: train such an ensemble as one chunk (chunk >= number of members)"
            )
        for c0 in range(0, len(members), size):
            tasks.append((j, spec, members[c0 : c0 + size]))
    parts: list[list[dict[str, Any]]] = [[] for _ in jobs]
    if workers <= 1 or len(tasks) == 1:
        for j, spec, members in progress(tasks, desc="ensembles"):
            parts[j].append(train_chunk(spec, members, dev))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)), mp_context=ctx, initializer=_worker_init
        ) as pool:
            futures = [pool.submit(_run_chunk_bytes, spec, members, "cpu") for _, spec, members in tasks]
            for (j, _, _), fut in zip(tasks, progress(futures, desc="ensembles")):
                parts[j].append(torch.load(io.BytesIO(fut.result()), weights_only=True))
    return [concat_parts(p) for p in parts]


def train(
    spec: TrainSpec, members: Sequence[Member], *, device: str = "auto", workers: int = 1, chunk: int | None = None
) -> dict[str, Any]:
    """Train one ensemble (see :func:`train_many`)."""
    return train_many([(spec, members)], device=device, workers=workers, chunk=chunk)[0]
