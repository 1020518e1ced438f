"""Instability-onset rule (Paper 2, book/methods.md#p2-onset) on synthetic ΔF sequences with known answers."""

from __future__ import annotations

import torch

from lossdyn.dynamical.onset import (
    OnsetCurvature,
    OnsetStream,
    alternation_starts,
    first_onset_per_period,
    step_signs,
)


def sequence(pattern: str, base: float = 1e-3) -> torch.Tensor:
    """'-' stable step, '+' positive, 'a' starts a growing period-2 alternation (×1.1 per step) for its run."""
    out = []
    amp = base
    for ch in pattern:
        if ch == "-":
            out.append(-base)
        elif ch == "+":
            out.append(base)
        elif ch == "a":
            out.append(amp if len(out) % 2 == 0 else -amp)
            amp *= 1.1
    return torch.tensor(out, dtype=torch.float64)


def cascade(n_before: int, n: int, *, blip: float = 0.0, start: float = 1e-6, growth: float = 1.3) -> list[float]:
    """Stable descent (ΔF = −2e-6) for ``n_before`` steps, then an alternation + − + − … growing ×growth per step."""
    return [-2e-6] * n_before + [(1.0 if k % 2 == 0 else -1.0) * start * growth**k for k in range(n)]


def test_signs_and_alternation_need_four_flips_starting_positive():
    dF = torch.tensor([[-1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1, -1, 1.0]])
    F = torch.ones_like(dF)
    assert step_signs(torch.tensor([[1e-13, -1.0, 0.5, float("nan")]]), torch.ones(1, 4), 1e-12).tolist() == [
        [0, -1, 1, 0]
    ]
    ok = alternation_starts(dF, F, flips=4)
    assert torch.nonzero(ok[0]).flatten().tolist() == [1, 8]  # 3 is followed by only 3 flips
    assert torch.nonzero(alternation_starts(dF, F, flips=3)[0]).flatten().tolist() == [1, 3, 8]


def test_tolerance_ignores_rounding_sized_changes():
    dF = torch.tensor([[1e-13, -1e-13, 1e-13, -1e-13, 1e-13, -1e-13]])
    F = torch.ones_like(dF)
    assert not alternation_starts(dF, F, flips=4, rtol=1e-12).any()
    assert alternation_starts(dF, F, flips=4, rtol=1e-14).any()


def test_kink_blips_before_the_cascade_do_not_date_the_onset():
    """Kink-level positives (isolated, and short + − + fragments) during descent, then a growing 2-cycle at t = 300.

    ΔF = 1e-6·1.3^k·(±1) from t = 300 on; with F = 0.01 the first jump ≥ 1e-3·F = 1e-5 is the first even k
    (a positive step) with 1.3^k ≥ 10: k = 10 (1.3^9 = 10.6 is a negative step): t_jump = 310; the onset is
    the cycle's start, 300.
    """
    dF = cascade(300, 40)
    for t in (40, 41, 42, 120, 200, 230, 231, 232, 233):  # blips: + at 40, fragment + − + at 230–232 …
        dF[t] = 3e-6 if t % 2 == 0 else -2e-6
    dF[297] = 4e-6  # a blip two steps before the cycle (− after it, then − at 299: the run breaks)
    F = torch.full((1, len(dF)), 0.01, dtype=torch.float64)
    onset, jump = first_onset_per_period(torch.tensor([dF], dtype=torch.float64), F, 1000, 1)
    assert onset.tolist() == [[300]] and jump.tolist() == [[310]]


def test_a_blip_that_flips_into_the_cycle_belongs_to_it():
    """A positive one step before the cycle's first negative continues the unbroken alternation: it is its start."""
    dF = cascade(300, 40)
    dF[299] = 5e-7  # − at 298, + at 299, then the cycle starts with + at 300: two + in a row, the run restarts at 300
    dF[298] = 5e-7  # + at 298, − would be needed at 299 for the run to reach back: it does not
    F = torch.full((1, len(dF)), 0.01, dtype=torch.float64)
    assert first_onset_per_period(torch.tensor([dF]), F, 1000, 1)[0].tolist() == [[300]]
    dF2 = cascade(300, 40)
    dF2[299] = -5e-7  # − at 299 continues nothing new; + at 298 then − at 299 then + at 300: the run starts at 298
    dF2[298] = 5e-7
    assert first_onset_per_period(torch.tensor([dF2]), F, 1000, 1)[0].tolist() == [[298]]


def test_large_isolated_jumps_and_decaying_wiggles_are_not_instabilities():
    F = torch.full((1, 400), 0.01, dtype=torch.float64)
    dF = torch.full((1, 400), -2e-6, dtype=torch.float64)
    dF[0, 50] = 1e-3  # a big jump with no alternation after it
    dF[0, 100:107] = torch.tensor([1e-7, -2e-6, 8e-8, -2e-6, 5e-8, -2e-6, 3e-8])  # a small decaying 2-cycle
    onset, jump = first_onset_per_period(dF, F, 1000, 1)
    assert onset.tolist() == [[-1]] and jump.tolist() == [[-1]]
    onset0, _ = first_onset_per_period(dF, F, 1000, 1, min_jump=0.0)
    assert onset0.tolist() == [[100]]  # without the jump clause the wiggle would count


def test_one_instability_per_period_attributed_to_its_onset():
    T = 200
    # an unbroken cycle from 150 to 260 (period 0; it crosses into period 1), stable to 350, a new one at 350
    pattern = "-" * 150 + "a" * 110 + "-" * 90 + "a" * 30 + "-" * 20
    dF = sequence(pattern)[None]
    onset, jump = first_onset_per_period(dF, torch.full_like(dF, 0.1), T, 2)
    assert onset.tolist() == [[150, 350]]
    assert jump.tolist() == [[150, 350]]  # 1e-3·0.1 = 1e-4 < 1e-3: the first step is already a jump


def test_streaming_in_blocks_equals_one_pass():
    g = torch.Generator().manual_seed(0)
    S, L = 3, 2000
    pattern = ("-" * 170 + "a" * 30) * 10
    dF = torch.stack([sequence(pattern), -sequence(pattern).abs(), sequence("-" * 1000 + "+-" * 500)])
    dF = dF + 1e-9 * torch.randn(S, L, generator=g, dtype=torch.float64)
    F = torch.ones_like(dF)
    whole = OnsetStream(torch.tensor([200, 200, 300]), 10)
    whole.push(dF, F, 0)
    blocks = OnsetStream(torch.tensor([200, 200, 300]), 10)
    t = 0
    for size in [1, 7, 64, 64, 3, 500, 1361]:
        blocks.push(dF[:, t : t + size], F[:, t : t + size], t)
        t += size
    assert torch.equal(whole.onset_t, blocks.onset_t) and torch.equal(whole.jump_t, blocks.jump_t)
    assert whole.onset_t[0].tolist() == [170 + 200 * k for k in range(10)]
    assert whole.jump_t[0].tolist() == [170 + 200 * k for k in range(10)]  # 1e-3 ≥ 1e-3·|F|
    assert (whole.onset_t[1] < 0).all()
    assert whole.onset_t[2].tolist()[:3] == [-1, -1, -1] and whole.onset_t[2, 3] == 1000


class _Ring:
    """A stand-in for the trainer's ParameterRing: θ_t = t (one parameter), the last ``size`` steps held."""

    def __init__(self, size: int):
        self.size, self.end = size, 0

    def holds(self, t: int) -> bool:
        return t >= self.end - self.size

    def holds_each(self, t: torch.Tensor) -> torch.Tensor:
        return t >= self.end - self.size

    def theta(self, t: int, s: int) -> torch.Tensor:
        assert self.holds(t) and t < self.end, t
        return torch.tensor([float(t)], dtype=torch.float64)


def test_onset_curvature_at_the_valley_floor_even_when_the_onset_left_the_ring():
    """λ at the midpoints ½(θ_t + θ_{t+1}), ½(θ_{t+1} + θ_{t+2}) (mean) and at θ_t, θ_{t+1}, for t* and t_jump.

    The cycle starts at 300 (F = 10, ΔF grows ×1.1 from 1e-3: the jump ≥ 0.01 comes at k = 25, t = 325,
    confirmed 4 steps later, when a ring of 8 steps no longer holds θ_300: the copy kept at the start is used.
    """
    dF = sequence("-" * 300 + "a" * 120)[None]
    F = torch.full_like(dF, 10.0)
    ring = _Ring(size=8)
    calls = []

    def lambda_at(thetas, times, members):
        calls.append((thetas[:, 0].tolist(), times, members))
        return thetas[:, 0] * 0.5

    tracker = OnsetCurvature(OnsetStream(torch.tensor([1000]), 1), 1, torch.float64, torch.device("cpu"))
    for t0 in range(0, dF.shape[1], 4):
        ring.end = t0 + 4 + 1  # θ_t for t ≤ t0 + 4 once ΔF up to t0 + 3 is known
        tracker.push(dF[:, t0 : t0 + 4], F[:, t0 : t0 + 4], t0, ring, lambda_at)
    assert tracker.stream.onset_t.tolist() == [[300]] and tracker.stream.jump_t.tolist() == [[326]]
    assert calls == [
        (
            [300.5, 301.5, 300.0, 301.0, 326.5, 327.5, 326.0, 327.0],
            [300, 301, 300, 301, 326, 327, 326, 327],
            [0] * 8,
        )
    ]
    assert tracker.lambda_onset.tolist() == [[0.5 * 301.0]] and tracker.lambda_jump.tolist() == [[0.5 * 327.0]]
    assert tracker.lambda_onset_iterates.tolist() == [[[150.0, 150.5]]]
    assert tracker.lambda_jump_iterates.tolist() == [[[163.0, 163.5]]]


def test_secant_curvature_is_exact_on_a_quadratic():
    """F(θ) = ½θᵀAθ: 4[F(a) + F(b) − 2F(½(a + b))]/‖b − a‖² = vᵀAv with v = (b − a)/‖b − a‖."""
    from lossdyn.dynamical.onset import secant_curvature

    g = torch.Generator().manual_seed(3)
    M = torch.randn(5, 5, generator=g, dtype=torch.float64)
    A = M @ M.T
    a, b = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)

    def F(x):
        return 0.5 * x @ A @ x

    v = (b - a) / torch.linalg.vector_norm(b - a)
    got = secant_curvature(F(a), F(b), F(0.5 * (a + b)), (b - a).pow(2).sum())
    assert torch.allclose(got, v @ A @ v, rtol=1e-12)


def test_onset_curvature_secant_of_a_quadratic_loss_along_the_cycle():
    """With F(θ) = ½·c·θ² the secant curvature along any step is c, at t* and at t_jump."""
    dF = sequence("-" * 30 + "a" * 40)[None]
    F = torch.full_like(dF, 0.1)
    ring = _Ring(size=64)

    def loss_at(thetas, times, members):
        return 0.5 * 7.0 * thetas[:, 0] ** 2

    tracker = OnsetCurvature(OnsetStream(torch.tensor([1000]), 1), 1, torch.float64, torch.device("cpu"))
    ring.end = dF.shape[1] + 1
    tracker.push(dF, F, 0, ring, lambda t, *_: t[:, 0], loss_at)
    assert tracker.stream.onset_t.tolist() == [[30]]
    assert torch.allclose(tracker.secant_onset, torch.tensor([[7.0]], dtype=torch.float64), rtol=1e-12)
    assert torch.allclose(tracker.secant_jump, torch.tensor([[7.0]], dtype=torch.float64), rtol=1e-12)


def test_bouncing_that_outlasts_a_period_boundary_is_not_a_new_instability():
    """A cascade from t = 150 keeps bouncing (jumps ≥ 1e-3·|F|) past the boundary at 200; its alternation
    breaks at 210 and restarts: with the calm rule (``quiet`` = 50) period 1 has no instability of its own
    until the new cascade at 350; without it the restart would count (209, 210, 211 are all negative now:
    the new run's first positive is 212)."""
    T = 200
    dF = sequence("-" * 150 + "a" * 110 + "-" * 90 + "a" * 30 + "-" * 20)
    dF[210] = -dF[210]  # two equal signs in a row: the unbroken alternation ends at 209 and restarts
    F = torch.full((1, len(dF)), 0.1, dtype=torch.float64)
    onset, jump = first_onset_per_period(dF[None], F, T, 2)
    assert onset.tolist() == [[150, 350]] and jump.tolist() == [[150, 350]]
    onset0, _ = first_onset_per_period(dF[None], F, T, 2, quiet=0)
    assert onset0[0, 1] == 212
