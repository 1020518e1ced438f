"""Paper 2 losses and data (book/methods.md#p2-losses, #p2-data-init): Γ(t), A = 1 ⇒ static, shared
minimisers, the spiral."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lossdyn.dynamical import losses as dl
from lossdyn.dynamical.batched_mlp import BatchedMLP, glorot_init
from lossdyn.dynamical.spiral3 import spiral3

DT = torch.float64


def logits(n=60, C=3, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, C, generator=g, dtype=DT), torch.randint(0, C, (n,), generator=g)


# -- Γ(t) ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("A", [1.0, 2.5, 25.0, 70.0])
@pytest.mark.parametrize("T", [4, 10, 5000])
def test_gamma_sums_to_C_and_is_positive(A, T):
    G = dl.gamma(torch.arange(0, 7 * T + 3), A, T)
    torch.testing.assert_close(G.sum(-1), torch.full((G.shape[0],), 3.0, dtype=DT), rtol=0, atol=1e-13)
    assert G.min() > 0


@pytest.mark.parametrize("A", [25.0, 50.0, 70.0, 75.0])
def test_gamma_peaks_at_mid_period_with_the_tabulated_values(A):
    T = 5000
    t = torch.arange(0, 3 * T)
    G = dl.gamma(t, A, T)
    for k in range(3):  # class k is up in period k, and peaks at τ = T/2
        up = G[k * T : (k + 1) * T, k]
        assert int(up.argmax()) == T // 2
        assert float(up.max()) == pytest.approx(3 * A / (A + 2), abs=1e-12)
        others = [c for c in range(3) if c != k]
        assert float(G[k * T + T // 2, others].max()) == pytest.approx(3 / (A + 2), abs=1e-12)
    table = {25.0: (2.778, 0.111), 50.0: (2.885, 0.0577), 70.0: (2.917, 0.0417), 75.0: (2.922, 0.0390)}
    up, other = table[A]
    assert float(G[T // 2, 0]) == pytest.approx(up, abs=1e-3)
    assert float(G[T // 2, 1]) == pytest.approx(other, rel=2e-3)


def test_gamma_triangle_wave_and_period_bookkeeping():
    T, A = 10, 11.0
    w = dl.raw_weight(torch.arange(T), A, T)
    torch.testing.assert_close(w, torch.tensor([1, 3, 5, 7, 9, 11, 9, 7, 5, 3], dtype=DT))
    G = dl.gamma(torch.arange(4 * T), A, T)
    assert [int(G[k * T + 5].argmax()) for k in range(4)] == [0, 1, 2, 0]  # exactly T steps per period
    torch.testing.assert_close(G[::T], torch.ones(4, 3, dtype=DT))  # τ = 0: all classes at 1


def test_a_equal_one_and_the_static_switch_give_ones():
    t = torch.arange(0, 300)
    torch.testing.assert_close(dl.gamma(t, 1.0, 40), torch.ones(300, 3, dtype=DT))
    G = dl.gamma(t, 70.0, 40, static_from=200)
    torch.testing.assert_close(G[200:], torch.ones(100, 3, dtype=DT))
    assert G[:200].max() > 2.5


# -- losses -------------------------------------------------------------------------------------
def test_dce_at_a_one_is_ce_and_matches_torch():
    x, y = logits()
    ones = torch.ones(3, dtype=DT)
    torch.testing.assert_close(dl.dynamical_cross_entropy(x, y, ones), dl.cross_entropy(x, y), rtol=0, atol=0)
    torch.testing.assert_close(dl.cross_entropy(x, y), torch.nn.functional.cross_entropy(x, y), rtol=0, atol=1e-14)
    G = dl.gamma(torch.tensor(123), 1.0, 400)
    torch.testing.assert_close(dl.dynamical_cross_entropy(x, y, G), dl.cross_entropy(x, y), rtol=0, atol=0)


@pytest.mark.parametrize("weighting", dl.WEIGHTINGS)
def test_dmse_at_a_one_is_mse(weighting):
    x, y = logits(seed=1, scale=0.7)
    G = dl.gamma(torch.tensor(77), 1.0, 300)
    mse = ((x - torch.nn.functional.one_hot(y, 3).to(DT)) ** 2).sum(-1).mean()
    torch.testing.assert_close(dl.mse(x, y), mse, rtol=0, atol=1e-15)
    torch.testing.assert_close(dl.dynamical_mse(x, y, G, weighting), mse, rtol=0, atol=1e-15)


def test_dmse_weightings_are_the_stated_formulas():
    x, y = logits(n=7, seed=2, scale=0.5)
    G = torch.tensor([2.5, 0.2, 0.3], dtype=DT)
    Y = torch.nn.functional.one_hot(y, 3).to(DT)
    e2 = (x - Y) ** 2
    torch.testing.assert_close(dl.dynamical_mse(x, y, G, "sample_class"), (G[y] * e2.sum(-1)).mean())
    torch.testing.assert_close(dl.dynamical_mse(x, y, G, "output_component"), (e2 * G).sum(-1).mean())
    corr = G[y] * (x.gather(1, y[:, None])[:, 0] - 1) ** 2 + (e2 * (1 - Y)).sum(-1)
    torch.testing.assert_close(dl.dynamical_mse(x, y, G, "correct_output_only"), corr.mean())


@pytest.mark.parametrize("name", list(dl.LOSSES))
def test_dynamical_and_static_losses_share_their_minimisers(name):
    """Perfect outputs minimise every loss at every Γ(t): value and gradient vanish (CE: in the limit)."""
    family, weighting, _ = dl.loss_family(name)
    _, y = logits(n=30, seed=3)
    Y = torch.nn.functional.one_hot(y, 3).to(DT)
    for t in (0, 1250, 2500, 6000, 11000):
        G = dl.gamma(torch.tensor(t), 70.0, 5000)
        out = (60.0 * Y if family == "ce" else Y.clone()).requires_grad_(True)
        loss = dl.dynamical_cross_entropy(out, y, G) if family == "ce" else dl.dynamical_mse(out, y, G, weighting)
        (g,) = torch.autograd.grad(loss, out)
        assert float(loss.detach()) < 1e-20 and float(g.abs().max()) < 1e-20
        # and away from it every loss is strictly positive (Γ > 0)
        x, _ = logits(n=30, seed=4)
        other = dl.dynamical_cross_entropy(x, y, G) if family == "ce" else dl.dynamical_mse(x, y, G, weighting)
        assert float(other) > 1e-3


@pytest.mark.parametrize(("family", "weighting"), [("ce", "sample_class")] + [("mse", w) for w in dl.WEIGHTINGS])
def test_batched_components_are_linear_in_gamma_and_match_the_reference(family, weighting):
    X, y = spiral3(0, 10)
    m = BatchedMLP(X, y, 6, family, weighting)
    th = torch.stack([glorot_init(6, torch.Generator().manual_seed(i)) for i in range(3)])
    G = dl.gamma(torch.tensor([10, 260, 700]), torch.tensor([70.0, 25.0, 3.0]), 400)
    K, R = dl.components(m.logits(th), m.Y, family, weighting)
    for s in range(3):
        ref = m.reference_loss(m.module(th[s])(X), G[s])
        assert float((G[s] * K[s]).sum() + R[s]) == pytest.approx(float(ref.detach()), abs=1e-14)


# -- data ---------------------------------------------------------------------------------------
def test_spiral_is_the_authors_generator_bit_for_bit():
    X, y = spiral3(0)
    np.random.seed(0)  # the authors' recipe (book/methods.md#p2-data-init), on NumPy's global state, only here
    pts = []
    for j in range(3):
        r = np.linspace(0, 1, 100)
        t = np.linspace(2 * np.pi * j / 3, 2 * np.pi * j / 3 + 4 * np.pi, 100) + 0.2 * np.random.randn(100)
        pts.append(np.c_[r * np.cos(t), r * np.sin(t)])
    assert np.array_equal(np.concatenate(pts), X.numpy())
    assert X.shape == (300, 2) and y.tolist() == [0] * 100 + [1] * 100 + [2] * 100


def test_validation_set_differs_only_in_the_angular_jitter():
    X0, _ = spiral3(0)
    X1, _ = spiral3(1)
    assert not torch.equal(X0, X1)
    torch.testing.assert_close(X0.norm(dim=1), X1.norm(dim=1), rtol=0, atol=1e-14)  # same radii
    assert float(X0.norm(dim=1).max()) == pytest.approx(1.0) and math.isclose(float(X0.norm(dim=1).min()), 0.0)
