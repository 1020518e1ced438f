"""Instability onset in a gradient-descent trajectory, and λ_max there (Paper 2, Figs. 2(d) and 5).

The paper's exact rule was not reachable; the companion's rule (book/methods.md#p2-onset) uses
the *same-landscape* loss change

    ΔF_t = F(θ_{t+1}, t) − F(θ_t, t),

which removes the explicit drift dΓ/dt (stable GD has ΔF_t < 0), with the tolerance
tol_t = rtol·|F(θ_t, t)| (:func:`default_rtol`).

* An **episode** is a run of steps with ΔF > tol in which consecutive positive steps are fewer
  than ``quiet`` steps apart (so the bouncing that goes on across a period boundary stays one
  episode, and a long stretch of stable descent separates two episodes).
* An episode is an **instability** if it contains a period-2 alternation: ΔF_t > tol,
  ΔF_{t+1} < −tol, ΔF_{t+2} > tol, … with ``flips`` consecutive sign flips, and a real loss spike:
  some step of the episode raises the loss by at least ``min_jump``·|F| (default 0.1 %). The
  period-doubling cascades raise it by 1–30 % per step; late in training, once the loss is small,
  ReLU networks also show short alternations whose increases are ~1e-5·|F| and decay, at λ_max far
  below 2/η — those are not counted (the min-jump clause, book/methods.md#p2-onset).
* Its **onset** t* is the episode's first step with ΔF > tol (the first ΔF > 0 followed by a
  period-2 alternation); t_alt is the first step of the alternation.
* Every period (one class up per period) gets the onset of its first instability; an instability
  belongs to the period in which its episode started.

:class:`OnsetStream` does this on a stream of ΔF blocks (the trainer's bookkeeping);
:func:`first_onset_per_period` on a whole recorded sequence. :class:`OnsetCurvature` follows a
stream in the ensemble trainer and evaluates λ_max exactly at θ_{t*} and θ_{t_alt} of every new
onset (the ``lambda_onset`` and ``lambda_alternation`` of :func:`lossdyn.dynamical.ensemble.train_chunk`,
averaged per condition in Fig. 5).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["OnsetCurvature", "OnsetStream", "alternation_starts", "default_rtol", "first_onset_per_period"]

_NONE = -(2**40)


def default_rtol(dtype: torch.dtype) -> float:
    """Relative tolerance on ΔF: 1e-12 in float64, 1e-6 in float32 (F is rounded at ~1e-7); book/methods.md#p2-onset."""
    return 1e-12 if dtype == torch.float64 else 1e-6


def alternation_starts(dF: torch.Tensor, F: torch.Tensor, *, flips: int = 4, rtol: float = 1e-12) -> torch.Tensor:
    """Boolean (S, L − flips): True at t where ΔF_t > tol begins ``flips`` consecutive sign flips.

    ``dF`` and ``F`` are (S, L) with ΔF_t and F(θ_t, t) at the same t; NaN never matches.
    """
    tol = rtol * F.abs()
    pos = dF > tol
    neg = dF < -tol
    n = dF.shape[-1] - flips
    if n <= 0:
        return torch.zeros(dF.shape[0], 0, dtype=torch.bool, device=dF.device)
    ok = pos[:, :n].clone()
    for j in range(1, flips + 1):
        ok &= (neg if j % 2 else pos)[:, j : j + n]
    return ok


class OnsetStream:
    """Streaming onset detector for S trajectories with periods ``T`` (S,).

    :meth:`push` takes consecutive ΔF/F columns; it evaluates every column that has ``flips``
    columns of look-ahead and keeps the rest for the next call. It returns the new onsets as
    ``(model, period, t_onset, t_alternation)`` tuples; ``onset_t``/``alternation_t`` (S, n_periods)
    hold all of them (−1: none). After a push, ``episode`` and ``episode_alternation`` hold each
    model's current episode start and the first alternation start in it (−2⁴⁰ / −1 if none), so a
    caller can keep θ at those steps.
    """

    def __init__(
        self,
        T: torch.Tensor,
        n_periods: int,
        *,
        flips: int = 4,
        rtol: float = 1e-12,
        quiet: int = 50,
        min_jump: float = 1e-3,
    ):
        self.T = torch.as_tensor(T, dtype=torch.int64)
        S = self.T.shape[0]
        self.flips, self.rtol, self.quiet, self.min_jump = flips, rtol, quiet, min_jump
        self.onset_t = torch.full((S, n_periods), -1, dtype=torch.int64)
        self.alternation_t = torch.full((S, n_periods), -1, dtype=torch.int64)
        self.last_pos = torch.full((S,), _NONE, dtype=torch.int64)
        self.episode = torch.full((S,), _NONE, dtype=torch.int64)
        self.episode_alternation = torch.full((S,), -1, dtype=torch.int64)
        self._big = [False] * S  # the current episode has had a loss increase >= min_jump·|F|
        self._done = [False] * S  # the current episode has been counted
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
        pos = self.dF[:, :n] > self.rtol * self.F[:, :n].abs()
        t = torch.arange(self.t0, self.t0 + n)
        # last positive strictly before t, and the start of the episode containing t
        pos_t = torch.where(pos, t, torch.full_like(t, _NONE))
        upto = torch.cummax(torch.cat([self.last_pos[:, None], pos_t], 1), 1).values
        before = upto[:, :-1]
        starts = pos & (t[None] - before >= self.quiet)
        start_t = torch.where(starts, t, torch.full_like(t, _NONE))
        episode = torch.cummax(torch.cat([self.episode[:, None], start_t], 1), 1).values[:, 1:]
        big = self.dF[:, :n] >= self.min_jump * self.F[:, :n].abs()
        new = []
        for s in torch.nonzero((alt | big | starts).any(1)).flatten().tolist():
            Ts = int(self.T[s])
            ep_cur, ep_alt = int(self.episode[s]), int(self.episode_alternation[s])
            alt_s, big_s, ep_s = alt[s].tolist(), big[s].tolist(), episode[s].tolist()
            for i in torch.nonzero(alt[s] | big[s] | starts[s]).flatten().tolist():
                e = ep_s[i]
                if e != ep_cur:  # a new episode: reset its state
                    ep_cur, ep_alt, self._big[s], self._done[s] = e, -1, False, False
                if e == _NONE:
                    continue
                if alt_s[i] and ep_alt < 0:
                    ep_alt = self.t0 + i
                self._big[s] = self._big[s] or big_s[i]
                if ep_alt >= 0 and self._big[s] and not self._done[s]:
                    self._done[s] = True
                    k = e // Ts
                    if k < self.onset_t.shape[1] and self.onset_t[s, k] < 0:
                        self.onset_t[s, k] = e
                        self.alternation_t[s, k] = ep_alt
                        new.append((s, k, e, ep_alt))
            self.episode_alternation[s] = ep_alt
        self.last_pos = upto[:, -1]
        self.episode = episode[:, -1]
        self.dF, self.F = self.dF[:, n:], self.F[:, n:]
        self.t0 += n
        return new


def first_onset_per_period(
    dF: torch.Tensor,
    F: torch.Tensor,
    T: torch.Tensor | int,
    n_periods: int,
    *,
    flips: int = 4,
    rtol: float = 1e-12,
    quiet: int = 50,
    min_jump: float = 1e-3,
    t0: int = 0,
):
    """``(onset_t, alternation_t)``, each (S, n_periods) int64 (−1: none), for a whole recorded ΔF sequence."""
    S = dF.shape[0]
    stream = OnsetStream(
        torch.as_tensor(T).expand(S), n_periods, flips=flips, rtol=rtol, quiet=quiet, min_jump=min_jump
    )
    stream.push(dF, F, t0)
    return stream.onset_t, stream.alternation_t


class OnsetCurvature:
    """λ_max at the onsets an :class:`OnsetStream` finds, at the exact parameters θ_{t*} and θ_{t_alt}.

    An onset is confirmed some steps after t* (once the alternation and the loss spike are seen),
    so θ_{t*} is read from the trainer's ring buffer of recent parameters (``ring.holds(t)``,
    ``ring.theta(t, s)``) or, if the episode started before the ring's window, from the copy this
    object kept when the episode (or its first alternation) began. ``lambda_at(thetas (n, P),
    times, members) -> (n,)`` evaluates λ_max(θ, Γ(t)) of each member (the trainer's cold-start
    Lanczos, book/methods.md#p2-curvature).

    ``lambda_onset`` and ``lambda_alternation`` (S, n_periods) float64 hold λ_max at each period's
    onset t* and at its alternation start t_alt (NaN where the period has no onset).
    """

    def __init__(self, stream: OnsetStream, P: int, dtype: torch.dtype, device: torch.device):
        self.stream = stream
        S, n_periods = stream.onset_t.shape
        self.lambda_onset = torch.full((S, n_periods), math.nan, dtype=torch.float64)
        self.lambda_alternation = torch.full((S, n_periods), math.nan, dtype=torch.float64)
        self._episode_theta = torch.zeros(S, P, dtype=dtype, device=device)  # θ at the current episode's start
        self._alternation_theta = torch.zeros(S, P, dtype=dtype, device=device)  # θ at its first alternation
        self._episode_known = stream.episode.clone()
        self._alternation_known = stream.episode_alternation.clone()

    def push(
        self,
        dF: torch.Tensor,
        F: torch.Tensor,
        t0: int,
        ring,
        lambda_at: Callable[[torch.Tensor, list[int], list[int]], torch.Tensor],
    ) -> None:
        """Push ΔF_t, F(θ_t, t) (S, L) from step ``t0`` on; measure λ_max at the new onsets."""
        new = self.stream.push(dF, F, t0)
        if new:
            self._measure(new, ring, lambda_at)
        self._keep_episode_thetas(ring)

    def _measure(self, new: list[tuple[int, int, int, int]], ring, lambda_at) -> None:
        """λ_max at t* and at t_alt of each new onset, in one batched evaluation."""
        thetas, times, idx = [], [], []
        for s, _, e, ta in new:
            thetas += [
                ring.theta(e, s) if ring.holds(e) else self._episode_theta[s],
                ring.theta(ta, s) if ring.holds(ta) else self._alternation_theta[s],
            ]
            times += [e, ta]
            idx += [s, s]
        values = lambda_at(torch.stack(thetas), times, idx)
        for j, (s, k, _, _) in enumerate(new):
            self.lambda_onset[s, k] = float(values[2 * j])
            self.lambda_alternation[s, k] = float(values[2 * j + 1])

    def _keep_episode_thetas(self, ring) -> None:
        """Copy θ at a new episode start or first alternation while the ring still holds it (confirmed later)."""
        stream = self.stream
        for known, now, saved in (
            (self._episode_known, stream.episode, self._episode_theta),
            (self._alternation_known, stream.episode_alternation, self._alternation_theta),
        ):
            for s in torch.nonzero((now != known) & ring.holds_each(now)).flatten().tolist():
                saved[s] = ring.theta(int(now[s]), s)
        self._episode_known = stream.episode.clone()
        self._alternation_known = stream.episode_alternation.clone()
