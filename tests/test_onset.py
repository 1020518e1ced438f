"""Instability-onset rule (Paper 2, book/methods.md#p2-onset) on synthetic ΔF sequences with known answers."""

from __future__ import annotations

import torch

from lossdyn.dynamical.onset import OnsetStream, alternation_starts, first_onset_per_period


def sequence(pattern: str, base: float = 1e-3) -> torch.Tensor:
    """'-' stable step, '+' positive, 'a' starts a growing period-2 alternation for the rest of the string."""
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


def test_alternation_needs_four_flips_starting_positive():
    dF = torch.tensor([[-1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1, -1, 1.0]])
    F = torch.ones_like(dF)
    ok = alternation_starts(dF, F, flips=4)
    assert torch.nonzero(ok[0]).flatten().tolist() == [1, 8]  # 3 is followed by only 3 flips
    assert torch.nonzero(alternation_starts(dF, F, flips=3)[0]).flatten().tolist() == [1, 3, 8]


def test_tolerance_ignores_rounding_sized_changes():
    dF = torch.tensor([[1e-13, -1e-13, 1e-13, -1e-13, 1e-13, -1e-13]])
    F = torch.ones_like(dF)
    assert not alternation_starts(dF, F, flips=4, rtol=1e-12).any()
    assert alternation_starts(dF, F, flips=4, rtol=1e-14).any()


def test_onset_is_the_first_positive_of_the_episode_that_alternates():
    # stable, an isolated positive blip (no alternation), stable, then scattered positives leading into
    # a period-2 cascade at t = 330; the episode's first positive is t = 300
    pattern = "-" * 100 + "+" + "-" * 120 + "-" * 79 + "+--+---+-+--" + "-" * 18 + "a" * 60
    dF = sequence(pattern)[None]
    F = torch.ones_like(dF)
    onset, alt = first_onset_per_period(dF, F, 1000, 1, quiet=50)
    assert onset.tolist() == [[300]]
    assert alt.tolist() == [[330]]


def test_small_decaying_alternations_are_not_instabilities():
    """Late in training ReLU nets show brief +-+-+ wiggles ~1e-5·F that decay: not a loss spike, not counted."""
    F = torch.full((1, 400), 0.01, dtype=torch.float64)
    wiggle = [-2e-6] * 100 + [1e-7, -2e-6, 8e-8, -2e-6, 5e-8, -2e-6, 3e-8] + [-2e-6] * 143
    spike = [(1.0 if k % 2 == 0 else -1.0) * 1e-6 * 1.3**k for k in range(40)] + [-2e-6] * 110
    dF = torch.tensor([wiggle + spike], dtype=torch.float64)
    onset, alt = first_onset_per_period(dF, F, 1000, 1, quiet=50, min_jump=1e-3)
    assert onset.tolist() == [[250]] and alt.tolist() == [[250]]  # the growing cascade, confirmed once it spikes
    onset0, _ = first_onset_per_period(dF, F, 1000, 1, quiet=50, min_jump=0.0)
    assert onset0.tolist() == [[100]]  # without the spike clause the wiggle would have counted


def test_bouncing_across_a_period_boundary_is_not_a_new_onset():
    T = 200
    # instability starts at 150 in period 0 and keeps bouncing to t = 260; stable until 350; new onset at 350
    pattern = "-" * 150 + "a" * 110 + "-" * 90 + "a" * 30 + "-" * 20
    dF = sequence(pattern)[None]
    onset, alt = first_onset_per_period(dF, torch.ones_like(dF), T, 2, quiet=50)
    assert onset.tolist() == [[150, 350]]
    # with no quiet gap rule the continuation at 200 would have been period 1's onset
    onset0, _ = first_onset_per_period(dF, torch.ones_like(dF), T, 2, quiet=1)
    assert onset0[0, 1] == 200


def test_streaming_in_blocks_equals_one_pass():
    g = torch.Generator().manual_seed(0)
    S, L = 3, 2000
    pattern = ("-" * 170 + "a" * 30) * 10
    dF = torch.stack([sequence(pattern), -sequence(pattern).abs(), sequence("-" * 1000 + "+-" * 500)])
    dF = dF + 1e-9 * torch.randn(S, L, generator=g, dtype=torch.float64)
    F = torch.ones_like(dF)
    whole = OnsetStream(torch.tensor([200, 200, 300]), 10, quiet=50)
    whole.push(dF, F, 0)
    blocks = OnsetStream(torch.tensor([200, 200, 300]), 10, quiet=50)
    t = 0
    for size in [1, 7, 64, 64, 3, 500, 1361]:
        blocks.push(dF[:, t : t + size], F[:, t : t + size], t)
        t += size
    assert torch.equal(whole.onset_t, blocks.onset_t) and torch.equal(whole.alternation_t, blocks.alternation_t)
    assert whole.onset_t[0].tolist() == [170 + 200 * k for k in range(10)]
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
        assert self.holds(t), t
        return torch.tensor([float(t)], dtype=torch.float64)


def test_onset_curvature_measures_at_the_onset_step_even_when_it_left_the_ring():
    """λ is evaluated at θ_{t*} and θ_{t_alt}; an onset confirmed long after t* uses the copy kept at t*."""
    from lossdyn.dynamical.onset import OnsetCurvature

    # the episode starts at 300 with scattered positives; the alternation starts at 330 and spikes much later
    pattern = "-" * 300 + "+--+---+-+--" + "-" * 18 + "a" * 120
    dF = sequence(pattern)[None]
    F = torch.full_like(dF, 10.0)  # a jump of 1e-3·|F| = 0.01 is reached only after ~24 alternation steps
    ring = _Ring(size=8)
    calls = []

    def lambda_at(thetas, times, members):
        calls.append((thetas[:, 0].tolist(), times, members))
        return thetas[:, 0] * 0.5

    tracker = OnsetCurvature(OnsetStream(torch.tensor([1000]), 1, quiet=50), 1, torch.float64, torch.device("cpu"))
    for t0 in range(0, dF.shape[1], 4):
        ring.end = t0 + 4
        tracker.push(dF[:, t0 : t0 + 4], F[:, t0 : t0 + 4], t0, ring, lambda_at)
    assert tracker.stream.onset_t.tolist() == [[300]] and tracker.stream.alternation_t.tolist() == [[330]]
    assert calls == [([300.0, 330.0], [300, 330], [0, 0])]
    assert tracker.lambda_onset.tolist() == [[150.0]] and tracker.lambda_alternation.tolist() == [[165.0]]
