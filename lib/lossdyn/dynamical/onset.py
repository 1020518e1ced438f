"""Instability onset in a gradient-descent trajectory (Paper 2, spec §5; the rule is the companion's [INF]).

The paper's exact rule was not reachable. The companion uses the *same-landscape* loss change

    ΔF_t = F(θ_{t+1}, t) − F(θ_t, t),

which removes the explicit drift dΓ/dt (stable GD has ΔF_t < 0), with the tolerance
tol_t = rtol·|F(θ_t, t)| (spec: rtol = 1e-12 in float64).

* An **episode** is a run of steps with ΔF > tol in which consecutive positive steps are fewer
  than ``quiet`` steps apart (so the bouncing that goes on across a period boundary stays one
  episode, and a long stretch of stable descent separates two episodes).
* An episode is an **instability** if it contains a period-2 alternation: ΔF_t > tol,
  ΔF_{t+1} < −tol, ΔF_{t+2} > tol, … with ``flips`` consecutive sign flips, and a real loss spike:
  some step of the episode raises the loss by at least ``min_jump``·|F| (default 0.1 %). The
  period-doubling cascades raise it by 1–30 % per step; late in training, once the loss is small,
  ReLU networks also show short alternations whose increases are ~1e-5·|F| and decay, at λ_max far
  below 2/η — those are not counted (the companion's choice; spec §5 does not have this clause).
* Its **onset** t* is the episode's first step with ΔF > tol ("first step with ΔF > 0 followed by
  period-2 alternation", spec §5); t_alt is the first step of the alternation.
* Every period (one class up per period) gets the onset of its first instability; an instability
  belongs to the period in which its episode started.

:class:`OnsetStream` does this on a stream of ΔF blocks (the trainer's bookkeeping);
:func:`first_onset_per_period` on a whole recorded sequence.
"""

from __future__ import annotations

import torch

__all__ = ["OnsetStream", "alternation_starts", "default_rtol", "first_onset_per_period"]

_NONE = -(2**40)


def default_rtol(dtype: torch.dtype) -> float:
    """Relative tolerance on ΔF: 1e-12 in float64 (spec §5); 1e-6 in float32 (F is rounded at ~1e-7)."""
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
    ``(model, period, t_onset, t_alternation)`` tuples; ``onset_t``/``alt_t`` hold all of them.
    After a push, ``episode`` and ``episode_alt`` hold each model's current episode start and the
    first alternation start in it (−2⁴⁰ / −1 if none), so a caller can keep θ at those steps.
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
        self.alt_t = torch.full((S, n_periods), -1, dtype=torch.int64)
        self.last_pos = torch.full((S,), _NONE, dtype=torch.int64)
        self.episode = torch.full((S,), _NONE, dtype=torch.int64)
        self.episode_alt = torch.full((S,), -1, dtype=torch.int64)
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
            ep_cur, ep_alt = int(self.episode[s]), int(self.episode_alt[s])
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
                        self.alt_t[s, k] = ep_alt
                        new.append((s, k, e, ep_alt))
            self.episode_alt[s] = ep_alt
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
    """``(onset_t, alt_t)``, each (S, n_periods) int64 (−1: none), for a whole recorded ΔF sequence."""
    S = dF.shape[0]
    stream = OnsetStream(
        torch.as_tensor(T).expand(S), n_periods, flips=flips, rtol=rtol, quiet=quiet, min_jump=min_jump
    )
    stream.push(dF, F, t0)
    return stream.onset_t, stream.alt_t
