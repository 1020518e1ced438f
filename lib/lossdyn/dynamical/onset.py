"""Instability onset in a gradient-descent trajectory, and λ_max there (Paper 2, Figs. 2(d) and 5).

The paper's exact rule was not reachable; the companion's rule (book/methods.md#p2-onset) uses
the *same-landscape* loss change

    ΔF_t = F(θ_{t+1}, t) − F(θ_t, t),

which removes the explicit drift dΓ/dt (stable GD has ΔF_t < 0), with the tolerance
tol_t = rtol·|F(θ_t, t)| (:func:`default_rtol`); a step's sign is +1 (ΔF > tol), −1 (ΔF < −tol) or 0.

* An **unbroken alternation** is a maximal run of steps whose signs flip from each step to the next
  (+ − + − …); it starts at its first positive step. A zero or two equal signs in a row end it.
* An **instability** is dated by its **jump** t_jump: the first step that raises the loss by at least
  ``min_jump``·|F| (default 10⁻³) *and* begins ``flips`` consecutive sign flips (the period-2
  cascade; :func:`alternation_starts`). Its **onset** t* is the start of the unbroken alternation
  that contains the jump: the first step of the 2-cycle the jump belongs to.
* Kink-level positives are never chained: the isolated positives of stable descent (ReLU activation
  flips that raise F by ~10⁻⁶–10⁻⁴·|F|) are followed by ΔF < 0 twice in a row and end their run, so they
  neither start an instability nor pull its date back. Small alternations that never reach the
  jump size are not instabilities.
* One instability per **episode** of loss jumps: steps that raise the loss by ``min_jump``·|F| or more
  and lie fewer than ``quiet`` steps apart (default 50) form one episode, whose first qualifying jump
  is its instability. So the bouncing of one cascade, which goes on with loss jumps of 1–30 % per step
  and can outlast a period boundary, is not counted again, while kink-sized increases, far below
  ``min_jump``·|F|, never join or start an episode.
* Every period (one class up per period) gets its first instability, attributed to the period in
  which its onset t* lies.

:class:`OnsetStream` does this on a stream of ΔF blocks (the trainer's bookkeeping);
:func:`first_onset_per_period` on a whole recorded sequence. :class:`OnsetCurvature` follows a
stream in the ensemble trainer and measures λ_max at the **valley floor** of each new onset and of its
jump: the mean over the two phases j = 0, 1 of λ_max(½(θ_{t+j} + θ_{t+j+1}), Γ(t + j)), the Hessian at
the midpoint of consecutive iterates, which sit on opposite walls of the valley once the 2-cycle runs;
the single-iterate values λ_max(θ_{t+j}, Γ(t + j)) are kept as a variant, and the loss's own curvature
along the step (:func:`secant_curvature`), which sees the ReLU kinks the autodiff Hessian misses
(book/methods.md#p2-onset).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = [
    "OnsetCurvature",
    "OnsetStream",
    "alternation_starts",
    "default_rtol",
    "first_onset_per_period",
    "secant_curvature",
    "step_signs",
]

_NONE = -(2**40)


def default_rtol(dtype: torch.dtype) -> float:
    """Relative tolerance on ΔF: 1e-12 in float64, 1e-6 in float32 (F is rounded at ~1e-7); book/methods.md#p2-onset."""
    return 1e-12 if dtype == torch.float64 else 1e-6


def step_signs(dF: torch.Tensor, F: torch.Tensor, rtol: float) -> torch.Tensor:
    """Sign of each step (S, L) int64: +1 where ΔF_t > rtol·|F_t|, −1 where ΔF_t < −rtol·|F_t|, else 0 (NaN: 0)."""
    tol = rtol * F.abs()
    return (dF > tol).to(torch.int64) - (dF < -tol).to(torch.int64)


def alternation_starts(dF: torch.Tensor, F: torch.Tensor, *, flips: int = 4, rtol: float = 1e-12) -> torch.Tensor:
    """Boolean (S, L − flips): True at t where ΔF_t > tol begins ``flips`` consecutive sign flips.

    ``dF`` and ``F`` are (S, L) with ΔF_t and F(θ_t, t) at the same t; NaN never matches.
    """
    sgn = step_signs(dF, F, rtol)
    n = dF.shape[-1] - flips
    if n <= 0:
        return torch.zeros(dF.shape[0], 0, dtype=torch.bool, device=dF.device)
    ok = sgn[:, :n] == 1
    for j in range(1, flips + 1):
        ok &= sgn[:, j : j + n] == (-1 if j % 2 else 1)
    return ok


class OnsetStream:
    """Streaming onset detector for S trajectories with periods ``T`` (S,).

    :meth:`push` takes consecutive ΔF/F columns; it evaluates every column that has ``flips``
    columns of look-ahead and keeps the rest for the next call. It returns the new instabilities as
    ``(model, period, t_onset, t_jump)`` tuples; ``onset_t``/``jump_t`` (S, n_periods) hold all of
    them (−1: none). After a push, ``run_start`` (S,) holds the start of the unbroken alternation
    that contains each model's last evaluated column (where its onset would be dated), so a caller
    can keep θ there.
    """

    def __init__(
        self,
        T: torch.Tensor,
        n_periods: int,
        *,
        flips: int = 4,
        rtol: float = 1e-12,
        min_jump: float = 1e-3,
        quiet: int = 50,
    ):
        self.T = torch.as_tensor(T, dtype=torch.int64)
        S = self.T.shape[0]
        self.flips, self.rtol, self.min_jump, self.quiet = flips, rtol, min_jump, quiet
        self.last_big = torch.full((S,), _NONE, dtype=torch.int64)  # the last step with ΔF >= min_jump·|F|
        self.episode = torch.full((S,), _NONE, dtype=torch.int64)  # start of the current episode of jumps
        self.counted = torch.full((S,), _NONE, dtype=torch.int64)  # the last episode that had its instability
        self.onset_t = torch.full((S, n_periods), -1, dtype=torch.int64)
        self.jump_t = torch.full((S, n_periods), -1, dtype=torch.int64)
        self.last_sign = torch.zeros(S, dtype=torch.int64)  # sign of the last evaluated column
        self.run_code = torch.full((S,), _NONE, dtype=torch.int64)  # 2·r + [sign_r > 0] of the current run start r
        self.run_start = torch.full((S,), _NONE, dtype=torch.int64)
        self.dF = torch.empty(S, 0, dtype=torch.float64)
        self.F = torch.empty(S, 0, dtype=torch.float64)
        self.t0 = 0

    def push(self, dF: torch.Tensor, F: torch.Tensor, t0: int) -> list[tuple[int, int, int, int]]:
        """Append ΔF_t, F_t for t = t0, t0 + 1, … (must continue the previous push)."""
        if self.dF.shape[1] == 0:
            self.t0 = t0
        elif t0 != self.t0 + self.dF.shape[1]:
            raise ValueError(f"push at t0 = {t0}, expected {self.t0 + self.dF.shape[1]}")
        self.dF = torch.cat([self.dF, dF.to(torch.float64)], 1)
        self.F = torch.cat([self.F, F.to(torch.float64)], 1)
        alt = alternation_starts(self.dF, self.F, flips=self.flips, rtol=self.rtol)
        n = alt.shape[1]
        if n == 0:
            return []
        start = self._run_starts(step_signs(self.dF[:, :n], self.F[:, :n], self.rtol))
        big = self.dF[:, :n] >= self.min_jump * self.F[:, :n].abs()
        episode = self._episodes(big)
        new = []
        for s, i in torch.nonzero(alt & big).tolist():
            if int(episode[s, i]) == int(self.counted[s]):
                continue  # this episode already had its instability
            self.counted[s] = episode[s, i]
            onset, t = int(start[s, i]), self.t0 + i
            k = onset // int(self.T[s])
            if k < self.onset_t.shape[1] and self.onset_t[s, k] < 0:
                self.onset_t[s, k], self.jump_t[s, k] = onset, t
                new.append((s, k, onset, t))
        self.run_start = start[:, -1]
        self.dF, self.F = self.dF[:, n:], self.F[:, n:]
        self.t0 += n
        return new

    def _episodes(self, big: torch.Tensor) -> torch.Tensor:
        """(S, n) the start of the episode of loss jumps each column belongs to (carried across pushes)."""
        t = torch.arange(self.t0, self.t0 + big.shape[1])
        none = torch.full_like(t, _NONE)
        upto = torch.cummax(torch.cat([self.last_big[:, None], torch.where(big, t, none)], 1), 1).values
        starts = big & (t - upto[:, :-1] >= self.quiet)
        episode = torch.cummax(torch.cat([self.episode[:, None], torch.where(starts, t, none)], 1), 1).values[:, 1:]
        self.last_big, self.episode = upto[:, -1], episode[:, -1]
        return episode

    def _run_starts(self, sgn: torch.Tensor) -> torch.Tensor:
        """(S, n) the first positive step of the unbroken alternation containing each column (carried across pushes)."""
        t = torch.arange(self.t0, self.t0 + sgn.shape[1])
        prev = torch.cat([self.last_sign[:, None], sgn[:, :-1]], 1)
        breaks = prev * sgn != -1  # no flip from the previous step: a new run starts here
        code = torch.where(breaks, 2 * t + (sgn > 0).to(torch.int64), torch.full_like(t, _NONE))
        code = torch.cummax(torch.cat([self.run_code[:, None], code], 1), 1).values[:, 1:]
        self.last_sign, self.run_code = sgn[:, -1], code[:, -1]
        r = torch.div(code, 2, rounding_mode="floor")
        return torch.where(code == _NONE, code, r + 1 - code % 2)  # a run that starts negative starts at r + 1


def first_onset_per_period(
    dF: torch.Tensor,
    F: torch.Tensor,
    T: torch.Tensor | int,
    n_periods: int,
    *,
    flips: int = 4,
    rtol: float = 1e-12,
    min_jump: float = 1e-3,
    quiet: int = 50,
    t0: int = 0,
):
    """``(onset_t, jump_t)``, each (S, n_periods) int64 (−1: none), for a whole recorded ΔF sequence."""
    S = dF.shape[0]
    T = torch.as_tensor(T).expand(S)
    stream = OnsetStream(T, n_periods, flips=flips, rtol=rtol, min_jump=min_jump, quiet=quiet)
    stream.push(dF, F, t0)
    return stream.onset_t, stream.jump_t


#: The curvature entries of :class:`OnsetCurvature` and the trainer's result, (S, n_periods[, 2]) float64.
LAMBDA_KEYS = (
    "lambda_onset",
    "lambda_onset_iterates",
    "lambda_jump",
    "lambda_jump_iterates",
    "secant_onset",
    "secant_jump",
)


def secant_curvature(F_a: torch.Tensor, F_b: torch.Tensor, F_mid: torch.Tensor, step_sq: torch.Tensor) -> torch.Tensor:
    """The loss's own curvature along a step θ_a → θ_b: 4·[F(θ_a) + F(θ_b) − 2F(½(θ_a + θ_b))] / ‖θ_b − θ_a‖².

    Exact (= vᵀ∇²F v, v the unit step) for a quadratic F; for a ReLU network it also sees the kinks the step
    crosses, which the autodiff Hessian at a point does not (book/methods.md#p2-onset).
    """
    return 4.0 * (F_a + F_b - 2.0 * F_mid) / step_sq


class OnsetCurvature:
    """λ_max and the secant curvature at the onsets and jumps an :class:`OnsetStream` finds.

    For a step t (the onset t* or the jump t_jump) and the phases j = 0, 1 it evaluates
    λ_max(½(θ_{t+j} + θ_{t+j+1}), Γ(t+j)), the valley floor (their mean: ``lambda_onset`` /
    ``lambda_jump``), λ_max(θ_{t+j}, Γ(t+j)) at the iterates (``lambda_onset_iterates`` /
    ``lambda_jump_iterates``, (S, n_periods, 2)) and, where ``loss_at`` is given, the mean over j of the
    :func:`secant_curvature` of F(·, Γ(t+j)) along the step θ_{t+j} → θ_{t+j+1} (``secant_onset`` /
    ``secant_jump``). NaN where a period has no instability.

    An instability is confirmed at its jump, possibly long after t*: θ_{t*}, θ_{t*+1}, θ_{t*+2} are
    read from the trainer's ring buffer of recent parameters (``ring.holds(t)``, ``ring.theta(t, s)``)
    or, if t* left the ring's window, from the copy this object kept when the alternation began.
    ``lambda_at(thetas (n, P), times, members) -> (n,)`` evaluates λ_max(θ, Γ(t)) of each member (the
    trainer's cold-start Lanczos, book/methods.md#p2-curvature); ``loss_at`` (same signature) F(θ, Γ(t))
    in float64.
    """

    def __init__(self, stream: OnsetStream, P: int, dtype: torch.dtype, device: torch.device):
        self.stream = stream
        S, n_periods = stream.onset_t.shape
        for key in LAMBDA_KEYS:
            shape = (S, n_periods, 2) if key.endswith("_iterates") else (S, n_periods)
            setattr(self, key, torch.full(shape, math.nan, dtype=torch.float64))
        self._run_theta = torch.zeros(S, 3, P, dtype=dtype, device=device)  # θ_r, θ_{r+1}, θ_{r+2} at the run start r
        self._run_known = stream.run_start.clone()

    def push(self, dF: torch.Tensor, F: torch.Tensor, t0: int, ring, lambda_at: Callable, loss_at=None) -> None:
        """Push ΔF_t, F(θ_t, t) (S, L) from step ``t0`` on; measure the curvatures at the new instabilities."""
        new = self.stream.push(dF, F, t0)
        if new:
            self._measure(new, ring, lambda_at, loss_at)
        self._keep_run_thetas(ring)

    def _three(self, ring, t: int, s: int) -> list[torch.Tensor]:
        """θ_t, θ_{t+1}, θ_{t+2} of member s: from the ring, else from the copy kept at the run start."""
        if ring.holds(t):
            return [ring.theta(t + j, s) for j in range(3)]
        if int(self._run_known[s]) != t:
            raise RuntimeError(f"θ at the onset t = {t} of member {s} was not kept")
        return list(self._run_theta[s])

    def _measure(self, new: list[tuple[int, int, int, int]], ring, lambda_at, loss_at) -> None:
        """λ_max at the floor and the iterates (and the secant curvature) of t* and t_jump, in one batch each."""
        triples = [self._three(ring, t, s) for s, _, onset, jump in new for t in (onset, jump)]
        times = [t for _, _, onset, jump in new for t in (onset, jump)]
        members = [s for s, *_ in new for _ in range(2)]
        thetas = [x for th in triples for x in (0.5 * (th[0] + th[1]), 0.5 * (th[1] + th[2]), th[0], th[1])]
        lam = lambda_at(
            torch.stack(thetas), [t + j for t in times for j in (0, 1, 0, 1)], [s for s in members for _ in range(4)]
        )
        lam = lam.to("cpu", torch.float64).view(len(new), 2, 4)
        sec = self._secants(triples, times, members, loss_at).view(len(new), 2)
        for (s, k, _, _), v, c in zip(new, lam, sec):
            self.lambda_onset[s, k], self.lambda_jump[s, k] = v[0, :2].mean(), v[1, :2].mean()
            self.lambda_onset_iterates[s, k], self.lambda_jump_iterates[s, k] = v[0, 2:], v[1, 2:]
            self.secant_onset[s, k], self.secant_jump[s, k] = c[0], c[1]

    @staticmethod
    def _secants(triples, times, members, loss_at) -> torch.Tensor:
        """Mean over the phases j = 0, 1 of the secant curvature along θ_{t+j} → θ_{t+j+1} (NaN without ``loss_at``)."""
        if loss_at is None:
            return torch.full((len(triples),), math.nan, dtype=torch.float64)
        pts, tt, mm = [], [], []
        for th, t, s in zip(triples, times, members):
            th = [x.to(torch.float64) for x in th]
            for j in (0, 1):
                pts += [th[j], th[j + 1], 0.5 * (th[j] + th[j + 1])]
                tt += [t + j] * 3
                mm += [s] * 3
        F = loss_at(torch.stack(pts), tt, mm).to("cpu", torch.float64).view(len(triples), 2, 3)
        steps = torch.stack([torch.stack(th).to(torch.float64) for th in triples])  # (n, 3, P)
        step_sq = (steps[:, 1:] - steps[:, :-1]).pow(2).sum(-1).cpu()  # (n, 2)
        return secant_curvature(F[..., 0], F[..., 1], F[..., 2], step_sq).mean(-1)

    def _keep_run_thetas(self, ring) -> None:
        """Copy θ at a new alternation start (and the two steps after it) while the ring still holds them."""
        now = self.stream.run_start
        for s in torch.nonzero((now != self._run_known) & ring.holds_each(now)).flatten().tolist():
            self._run_theta[s] = torch.stack([ring.theta(int(now[s]) + j, s) for j in range(3)])
        self._run_known = torch.where(ring.holds_each(now), now, self._run_known)

    def records(self) -> dict[str, torch.Tensor]:
        """``onset_t``, ``jump_t`` and the entries of :data:`LAMBDA_KEYS` (see the class docstring)."""
        out = {"onset_t": self.stream.onset_t, "jump_t": self.stream.jump_t}
        return out | {key: getattr(self, key) for key in LAMBDA_KEYS}
