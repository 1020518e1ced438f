"""Ensemble trainer: many 2 → H → 3 ReLU MLPs trained together by full-batch GD (Paper 2, spec §4).

One ensemble is a :class:`TrainSpec` (width, loss family and weighting, number of steps, dtype,
what to record) and a list of :class:`Member` (init replica, η, A, T, start of the static last
period). All members advance together as one batched tensor program with hand-written
forward/backward (:class:`~lossdyn.dynamical.batched_mlp.BatchedMLP`; performance notes §3.1):

    θ_{t+1} = θ_t − η ∇_θ F(θ_t, t),   F(θ, t) = Σ_c Γ_c(t) K_c(θ) + R(θ)   (dynamical_loss).

Bookkeeping runs in blocks of ``block`` steps: per step only K(θ_t) is stored; at the end of a
block the losses F(θ_t, t), the same-landscape changes ΔF_t = F(θ_{t+1}, t) − F(θ_t, t), the
divergence check and the onset detection (:mod:`lossdyn.dynamical.onset`) are done for the whole block at
once. A ring buffer holds the last ``block + 16`` parameter vectors so λ_max can be computed
exactly at an onset step after it has been detected, and a diverged member can be frozen at its
last finite-loss parameters.

* λ_max(θ_t, Γ(t)) by warm-started batched Lanczos (:mod:`lossdyn.dynamical.curvature`) at
  ``lambda_steps``, and every ``dense_every`` steps in the block after any ΔF > 0 (denser near
  instabilities); top-2 eigenpairs at ``top2_steps`` (landscape slices).
* A member whose loss becomes NaN/inf is frozen (η → 0, θ restored to its last finite-loss
  value) and flagged; the others go on. Its later records are NaN.
* Every member draws its init and its Lanczos start vector from its own generator, seeded by
  (spec seed, replica, width), so members with the same replica share the initial weights (paired
  comparisons across losses and η) and the result of a member does not depend on which other
  members share its batch. :func:`train` splits an ensemble into chunks on worker processes with
  one thread each on CPU (results are bit-identical to one unchunked batch) and runs it as one
  batch on CUDA.
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
from lossdyn.dynamical.curvature import lanczos
from lossdyn.dynamical.onset import OnsetStream, default_rtol
from lossdyn.dynamical.spiral3 import spiral3
from lossdyn.pipeline.device import intra_op_threads, resolve_device, resolve_dtype
from lossdyn.pipeline.progress import progress

__all__ = [
    "CPU_CHUNK",
    "PERIOD_KEYS",
    "SHARED_KEYS",
    "Member",
    "TrainSpec",
    "concat_parts",
    "member_seeds",
    "train",
    "train_chunk",
    "train_many",
]

#: Members per process on CPU: small batches keep the activations in L2 (performance notes §2).
CPU_CHUNK = 4
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
    lambda_m_cold: int = 20  # Lanczos order from the fixed random start (first estimate, onsets)
    dense_every: int = 0  # > 0: λ every this many steps in the block after a block with ΔF > 0 (one chunk only)
    onset: bool = False  # detect instability onsets and compute λ_max there
    onset_flips: int = 4
    onset_quiet: int = 50  # positive-ΔF steps closer than this belong to one episode (lossdyn.dynamical.onset)
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


def _gamma_block(t0: int, t1: int, A, T, static_from, dtype, device) -> torch.Tensor:
    t = torch.arange(t0, t1)[:, None]
    return dl.gamma(t, A[None], T[None], 3, static_from=static_from[None]).to(device=device, dtype=dtype)


def train_chunk(spec: TrainSpec, members: Sequence[Member], device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train ``members`` as one batch on ``device`` (one thread on CPU); see the module docstring."""
    device = resolve_device(str(device)) if not isinstance(device, torch.device) else device
    with intra_op_threads(1 if device.type == "cpu" else 0), torch.no_grad():
        return _train(spec, list(members), device)


def _train(spec: TrainSpec, members: list[Member], device: torch.device) -> dict[str, Any]:
    dtype = resolve_dtype(spec.dtype)
    S, H, steps, B = len(members), spec.H, spec.steps, spec.block
    X, y = spiral3(spec.train_seed, spec.n_per_class, dtype=dtype)
    Xv, yv = spiral3(spec.val_seed, spec.n_per_class, dtype=dtype)
    model = BatchedMLP(X.to(device), y.to(device), H, spec.family, spec.weighting)
    Xv, yv = Xv.to(device), yv.to(device)
    N, P, Y = model.N, model.P, model.Y
    ce = spec.family == "ce"

    seeds = [member_seeds(spec, m) for m in members]
    theta = torch.stack([glorot_init(H, torch.Generator().manual_seed(a)) for a, _ in seeds]).to(device, dtype)
    v_start = torch.stack(
        [torch.randn(P, generator=torch.Generator().manual_seed(b), dtype=torch.float64) for _, b in seeds]
    ).to(device, dtype)
    v_track, tracked = v_start.clone(), False
    W1, b1, W2, b2 = model.views(theta)
    neta = torch.tensor([-m.eta for m in members], dtype=dtype, device=device).view(S, 1, 1)
    A = torch.tensor([m.A for m in members], dtype=torch.float64)
    T = torch.tensor([m.T for m in members], dtype=torch.int64)
    static_from = torch.tensor([min(m.static_from, NEVER) for m in members], dtype=torch.float64)
    rtol = spec.onset_rtol or default_rtol(dtype)

    # records
    edges = _log_bins(steps, spec.loss_bins)
    bin_of = torch.bucketize(torch.arange(steps), edges, right=True) - 1
    loss_sum = torch.zeros(len(edges) - 1, S, dtype=torch.float64)
    loss_cnt = torch.bincount(bin_of, minlength=len(edges) - 1).to(torch.float64)
    lam_steps = set(spec.lambda_steps)
    lam_t, lam_v, lam_r = [], [], []
    n_periods = max(1, math.ceil(steps / int(T.min())))
    stream = OnsetStream(
        T, n_periods, flips=spec.onset_flips, rtol=rtol, quiet=spec.onset_quiet, min_jump=spec.onset_min_jump
    )
    onset_lam = torch.full((S, n_periods), math.nan, dtype=torch.float64)
    alt_lam = torch.full((S, n_periods), math.nan, dtype=torch.float64)
    ep_theta = torch.zeros(S, P, dtype=dtype, device=device)  # θ at the start of each model's current episode
    alt_theta = torch.zeros(S, P, dtype=dtype, device=device)  # θ at the episode's first period-2 alternation
    ep_known, alt_known = stream.episode.clone(), stream.episode_alt.clone()
    F_all = torch.full((steps, S), math.nan, dtype=torch.float64) if spec.record_full else None
    dF_all = torch.full((steps, S), math.nan, dtype=torch.float64) if spec.record_full else None
    snaps, snap_set = [], set(spec.snapshot_steps)
    top2_val, top2_vec, top2_set = [], [], set(spec.top2_steps)
    alive = torch.ones(S, dtype=torch.bool)
    n_unstable = torch.zeros(S, dtype=torch.int64)  # steps with ΔF > tol (loss went up on a fixed landscape)
    div_step = torch.full((S,), -1, dtype=torch.int64)
    frozen_theta = None  # (S, P) values to restore for frozen members

    R = B + 16
    ring = torch.empty(R, S, P, dtype=dtype, device=device)
    K_blk = torch.empty(B, S, 3, dtype=dtype, device=device)
    R_blk = torch.zeros(B, S, dtype=dtype, device=device)
    prev = None  # (t, K, R, G, F) of the last step of the previous block (float64, CPU)
    dense = False
    Xs = model.Xf.expand(S, *model.Xf.shape)

    def eval_lambda(th, G, v0, m, k=1):
        return lanczos(model.hvp_fn(th, G), v0, m, k=k)

    def measure(t, th, G, want_lambda):
        """Record at step t: λmax (warm-started Lanczos) if asked, a snapshot, the top-2 pair."""
        nonlocal v_track, tracked
        if want_lambda:
            res = eval_lambda(th, G, v_track, spec.lambda_m if tracked else spec.lambda_m_cold)
            v_track, tracked = res.vectors[:, 0], True
            lam_t.append(t)
            lam_v.append(res.values[:, 0].to("cpu", torch.float64))
            lam_r.append(res.residuals[:, 0].to("cpu", torch.float64))
        if t in snap_set:
            snaps.append(th.to("cpu", torch.float64).clone())
        if t in top2_set:
            res = eval_lambda(th, G, v_track, spec.top2_m, k=2)
            top2_val.append(res.values.to("cpu", torch.float64))
            top2_vec.append(res.vectors.to("cpu", torch.float64))

    for t_lo in progress(range(0, steps, B), desc=f"H={H}", total=math.ceil(steps / B)):
        t_hi = min(t_lo + B, steps)
        nb = t_hi - t_lo
        G_blk64 = _gamma_block(t_lo, t_hi, A, T, static_from, torch.float64, "cpu")  # (nb, S, 3)
        G_blk = G_blk64.to(device=device, dtype=dtype)
        W_blk = dl.weights(Y, G_blk, spec.weighting)
        if not ce:
            W_blk = 2.0 * W_blk  # ∂/∂O of W ⊙ (O − Y)²
        for i in range(nb):
            t = t_lo + i
            measure(t, theta, G_blk[i], t in lam_steps or (dense and t % spec.dense_every == 0))
            ring[t % R].copy_(theta)
            # forward
            Z = torch.baddbmm(b1, W1, Xs)
            Act = torch.relu(Z)
            O = torch.baddbmm(b2, W2, Act)
            if ce:
                logp = torch.log_softmax(O, 1)
                torch.sum(logp * Y, -1, out=K_blk[i])
                dO = logp.exp_().sub_(Y).mul_(W_blk[i])
            else:
                D = O.sub_(Y)
                E = D * D
                if spec.weighting == "sample_class":
                    K_blk[i] = (E.sum(1, keepdim=True) * Y).sum(-1)
                elif spec.weighting == "output_component":
                    K_blk[i] = E.sum(-1)
                else:
                    K_blk[i] = (E * Y).sum(-1)
                    R_blk[i] = (E * (1 - Y)).sum((1, 2))
                dO = D.mul_(W_blk[i])
            # backward (BatchedMLP.backward, inlined) and the update
            gW2 = torch.bmm(dO, Act.transpose(1, 2))
            gb2 = dO.sum(-1, keepdim=True)
            dZ = torch.ops.aten.threshold_backward(torch.bmm(W2.transpose(1, 2), dO), Z, 0.0)
            gW1T = torch.bmm(Xs, dZ.transpose(1, 2))  # (S, d, H): the wide output is MKL's fast path
            gb1 = dZ.sum(-1, keepdim=True)
            W1.addcmul_(gW1T.transpose(1, 2), neta)
            b1.addcmul_(gb1, neta)
            W2.addcmul_(gW2, neta)
            b2.addcmul_(gb2, neta)

        # --- block bookkeeping (float64, CPU) ---
        sign = -1.0 if ce else 1.0
        K64 = K_blk[:nb].to("cpu", torch.float64) * (sign / N)
        R64 = R_blk[:nb].to("cpu", torch.float64) / N
        F_blk = (G_blk64 * K64).sum(-1) + R64  # (nb, S): F(θ_t, t)
        bad = ~torch.isfinite(F_blk) & alive[None]
        if bool(bad.any()):
            for s in torch.nonzero(bad.any(0)).flatten().tolist():
                td = t_lo + int(torch.nonzero(bad[:, s])[0])
                div_step[s] = td
                alive[s] = False
                neta[s] = 0.0
                if frozen_theta is None:
                    frozen_theta = torch.zeros(S, P, dtype=dtype, device=device)
                frozen_theta[s] = ring[max(td - 1, 0) % R][s]
        dead = ~alive
        if bool(dead.any()):
            theta[dead.to(device)] = frozen_theta[dead.to(device)]
            tt = torch.arange(t_lo, t_hi)[:, None]
            F_blk = torch.where((tt >= div_step[None]) & dead[None], math.nan, F_blk)
        loss_sum.index_add_(0, bin_of[t_lo:t_hi], F_blk)
        # ΔF_t = Γ(t)·K(θ_{t+1}) + R(θ_{t+1}) − F(θ_t, t) for t = t_lo − 1 … t_hi − 2
        dF_new = (G_blk64[:-1] * K64[1:]).sum(-1) + R64[1:] - F_blk[:-1]
        F_new = F_blk[:-1]
        t_first = t_lo
        if prev is not None:
            _, K_p, R_p, G_p, F_p = prev
            dF0 = (G_p * K64[0]).sum(-1) + R64[0] - F_p
            dF_new = torch.cat([dF0[None], dF_new])
            F_new = torch.cat([F_p[None], F_new])
            t_first = t_lo - 1
        prev = (t_hi - 1, K64[-1], R64[-1], G_blk64[-1], F_blk[-1])
        if dead.any():
            tt = torch.arange(t_first, t_first + dF_new.shape[0])[:, None]
            dF_new = torch.where((tt >= div_step[None] - 1) & dead[None], math.nan, dF_new)
        if spec.record_full:
            F_all[t_lo:t_hi] = F_blk
            dF_all[t_first : t_first + dF_new.shape[0]] = dF_new
        positive = dF_new > rtol * F_new.abs()
        n_unstable += positive.sum(0)
        dense = spec.dense_every > 0 and bool(positive.any())

        if spec.onset:
            new = stream.push(dF_new.T, F_new.T, t_first)
            if new:
                _onset_lambdas(
                    new,
                    ring,
                    R,
                    t_hi,
                    ep_theta,
                    alt_theta,
                    A,
                    T,
                    static_from,
                    v_track,
                    dtype,
                    device,
                    spec,
                    eval_lambda,
                    onset_lam,
                    alt_lam,
                )
            # keep θ at the current episode's start and first alternation (confirmed later, maybe out of the ring)
            for known, now, saved in ((ep_known, stream.episode, ep_theta), (alt_known, stream.episode_alt, alt_theta)):
                fresh = (now != known) & (now >= t_hi - R)
                for s in torch.nonzero(fresh).flatten().tolist():
                    saved[s] = ring[int(now[s]) % R][s]
            ep_known, alt_known = stream.episode.clone(), stream.episode_alt.clone()

    # final state: ΔF of the last step, accuracies
    G_last = _gamma_block(steps, steps + 1, A, T, static_from, dtype, device)[0]
    K, Rr = dl.components(model.logits(theta), Y, spec.family, spec.weighting)
    F_next = (prev[3] * K.to("cpu", torch.float64)).sum(-1) + Rr.to("cpu", torch.float64)
    if spec.record_full:
        dF_all[steps - 1] = torch.where(alive, F_next - prev[4], math.nan)
    measure(steps, theta, G_last, steps in lam_steps)
    lam = torch.stack(lam_v, 1) if lam_v else torch.zeros(S, 0, dtype=torch.float64)
    lam_res = torch.stack(lam_r, 1) if lam_r else torch.zeros(S, 0, dtype=torch.float64)
    if lam.shape[1]:
        lam_t_ = torch.tensor(lam_t, dtype=torch.int64)
        late = lam_t_[None] >= div_step[:, None]
        lam = torch.where(late & ~alive[:, None], math.nan, lam)
    out = {
        "n_models": S,
        "P": P,
        "dtype": spec.dtype,
        "eta": torch.tensor([m.eta for m in members], dtype=torch.float64),
        "A": A,
        "T": T,
        "replica": torch.tensor([m.replica for m in members], dtype=torch.int64),
        "diverged": ~alive,
        "diverged_step": div_step,
        "final_loss": torch.where(alive, prev[4], math.nan),
        "n_unstable": n_unstable,
        "train_acc": model.accuracy(theta).to("cpu", torch.float64),
        "val_acc": model.accuracy(theta, Xv, yv).to("cpu", torch.float64),
        "loss_bin_start": edges[:-1].clone(),
        "loss_bin_end": edges[1:].clone(),
        "loss_bin_mean": (loss_sum / loss_cnt[:, None]).T.contiguous(),
        "lambda_t": torch.tensor(lam_t, dtype=torch.int64),
        "lambda": lam,
        "lambda_residual": lam_res,
        "onset_t": stream.onset_t,
        "onset_lambda": onset_lam,
        "alt_t": stream.alt_t,
        "alt_lambda": alt_lam,
    }
    if spec.record_full:
        out["F"] = F_all.T.contiguous()
        out["dF"] = dF_all.T.contiguous()
    if spec.snapshot_steps:
        out["snap_t"] = torch.tensor(spec.snapshot_steps, dtype=torch.int64)
        out["snap_theta"] = torch.stack(snaps, 1)
    if spec.top2_steps:
        out["top2_t"] = torch.tensor(spec.top2_steps, dtype=torch.int64)
        out["top2_values"] = torch.stack(top2_val, 1)
        out["top2_vectors"] = torch.stack(top2_vec, 1)
    return out


def _onset_lambdas(
    new,
    ring,
    R,
    t_hi,
    ep_theta,
    alt_theta,
    A,
    T,
    static_from,
    v_track,
    dtype,
    device,
    spec,
    eval_lambda,
    onset_lam,
    alt_lam,
) -> None:
    """λ_max at the onset t* and at the alternation start (θ from the ring, or the copies saved there)."""
    thetas, times, idx = [], [], []
    for s, _, e, ta in new:
        thetas += [
            ring[e % R][s] if e >= t_hi - R else ep_theta[s],
            ring[ta % R][s] if ta >= t_hi - R else alt_theta[s],
        ]
        times += [e, ta]
        idx += [s, s]
    idx_t = torch.tensor(idx)
    G = dl.gamma(torch.tensor(times), A[idx_t], T[idx_t], 3, static_from=static_from[idx_t]).to(
        device=device, dtype=dtype
    )
    res = eval_lambda(torch.stack(thetas), G, v_track[idx_t.to(device)], spec.lambda_m_cold)
    for j, (s, k, _, _) in enumerate(new):
        onset_lam[s, k] = float(res.values[2 * j, 0])
        alt_lam[s, k] = float(res.values[2 * j + 1, 0])


# -- chunking over processes -------------------------------------------------------------------
def _worker_init() -> None:
    torch.set_num_threads(1)


def _run_chunk_bytes(spec: TrainSpec, members: list[Member], device: str) -> bytes:
    buf = io.BytesIO()
    torch.save(train_chunk(spec, members, device), buf)
    return buf.getvalue()


#: Result entries indexed by period (padded with -1/NaN to the batch's largest number of periods).
PERIOD_KEYS = ("onset_t", "onset_lambda", "alt_t", "alt_lambda")
#: Result entries that are the same for every member (time axes), not stacked along members.
SHARED_KEYS = ("loss_bin_start", "loss_bin_end", "lambda_t", "snap_t", "top2_t")
_PAD = {"onset_t": -1, "alt_t": -1, "onset_lambda": math.nan, "alt_lambda": math.nan}


def concat_parts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result from the results of consecutive chunks (members stacked on dim 0); inputs unchanged."""
    width = max(p["onset_t"].shape[1] for p in parts)  # periods: set by the shortest T of a chunk
    parts = [
        {**p, **{k: torch.nn.functional.pad(p[k], (0, width - p[k].shape[1]), value=_PAD[k]) for k in PERIOD_KEYS}}
        for p in parts
    ]
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
    chunk: int = CPU_CHUNK,
) -> list[dict[str, Any]]:
    """Train several ensembles; returns one result dict per job (members in the given order).

    On CPU each ensemble is split into chunks of ``chunk`` members run on ``workers`` processes
    (spawned, one thread each; ``workers = 1`` runs them in this process). On CUDA every ensemble
    runs as one batch. λ tracking uses a shared time grid; members with different ``lambda_steps``
    need different jobs.
    """
    dev = resolve_device(device)
    if dev.type != "cpu":
        return [train_chunk(spec, members, dev) for spec, members in jobs]
    tasks = []
    for j, (spec, members) in enumerate(jobs):
        members = list(members)
        if spec.dense_every > 0 and len(members) > chunk:
            raise ValueError(
                "dense λ tracking follows the instabilities of the whole batch, so it would depend on "
                "the chunking: train such an ensemble as one chunk (chunk >= number of members)"
            )
        for c0 in range(0, len(members), chunk):
            tasks.append((j, spec, members[c0 : c0 + chunk]))
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
    spec: TrainSpec, members: Sequence[Member], *, device: str = "auto", workers: int = 1, chunk: int = CPU_CHUNK
) -> dict[str, Any]:
    """Train one ensemble (see :func:`train_many`)."""
    return train_many([(spec, members)], device=device, workers=workers, chunk=chunk)[0]
