"""λ_max by batched Lanczos (Paper 2, Figs. 1, 2(d), 5; book/methods.md#p2-curvature) against exact
eigen-decompositions; the 2/η stability edge."""

from __future__ import annotations

import pytest
import torch

from lossdyn.dynamical import losses as dl
from lossdyn.dynamical.batched_mlp import BatchedMLP, glorot_init
from lossdyn.dynamical.curvature import hessian_eigh, lambda_max, lanczos
from lossdyn.dynamical.ensemble import Member, TrainSpec, train_chunk
from lossdyn.dynamical.spiral3 import spiral3

DT = torch.float64


def spd_with_spectrum(eigs: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=DT))
    return Q @ torch.diag(eigs) @ Q.T


def test_lanczos_on_quadratics_with_known_spectra():
    P = 40
    spectra = [
        torch.linspace(-1.0, 5.0, P, dtype=DT),
        torch.cat([torch.tensor([9.0, 8.5]), torch.rand(P - 2, dtype=DT, generator=torch.Generator().manual_seed(1))]),
        torch.cat([torch.tensor([3.0, 3.0]), torch.zeros(P - 2, dtype=DT)]),
    ]  # degenerate top, low rank
    Hs = torch.stack([spd_with_spectrum(e, i) for i, e in enumerate(spectra)])
    v0 = torch.randn(3, P, generator=torch.Generator().manual_seed(2), dtype=DT)
    hvp = lambda V: torch.bmm(Hs, V.unsqueeze(-1)).squeeze(-1)  # noqa: E731
    res = lanczos(hvp, v0, 30, k=2)  # m < P: the extreme Ritz values converge first
    full = lanczos(hvp, v0, P, k=2)  # m = P: exact
    for s, e in enumerate(spectra):
        top = e.sort(descending=True).values[:2]
        torch.testing.assert_close(res.values[s, 0], top[0], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(full.values[s], top, rtol=1e-12, atol=1e-12)
        v = full.vectors[s, 0]
        torch.testing.assert_close(Hs[s] @ v, top[0] * v, rtol=0, atol=1e-10)
        assert float(res.residuals[s, 0]) == pytest.approx(
            float((Hs[s] @ res.vectors[s, 0] - res.values[s, 0] * res.vectors[s, 0]).norm()), abs=1e-10
        )
    torch.testing.assert_close(res.values[0, 1], spectra[0].sort(descending=True).values[1], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(("family", "weighting"), [("ce", "sample_class"), ("mse", "output_component")])
def test_lanczos_matches_eigh_of_the_full_hessian_on_a_small_mlp(family, weighting):
    X, y = spiral3(0, 20)
    m = BatchedMLP(X, y, 10, family, weighting)
    th = torch.stack([glorot_init(10, torch.Generator().manual_seed(i)) for i in range(3)])
    G = dl.gamma(torch.tensor([5, 130, 400]), torch.tensor([70.0, 25.0, 1.0]), 200)
    v0 = torch.randn(3, m.P, generator=torch.Generator().manual_seed(0), dtype=DT)
    res = lambda_max(m, th, G, v0, 40, k=2)
    for s in range(3):
        evals, evecs = hessian_eigh(m, th[s], G[s])
        torch.testing.assert_close(res.values[s], evals[-2:].flip(0), rtol=1e-9, atol=1e-12)
        assert abs(float(res.vectors[s, 0] @ evecs[:, -1])) == pytest.approx(1.0, abs=1e-8)


def test_hvp_equals_the_autograd_hessian():
    X, y = spiral3(0, 15)
    m = BatchedMLP(X, y, 7, "ce")
    th = glorot_init(7, torch.Generator().manual_seed(3))[None]
    G = dl.gamma(torch.tensor([77]), 70.0, 100)
    evals, evecs = hessian_eigh(m, th[0], G[0])
    Hfull = evecs @ torch.diag(evals) @ evecs.T
    V = torch.randn(4, m.P, generator=torch.Generator().manual_seed(4), dtype=DT)
    hv = m.hvp_fn(th.expand(4, -1).contiguous(), G.expand(4, -1))(V)
    torch.testing.assert_close(hv, V @ Hfull, rtol=0, atol=1e-12)


def test_lanczos_tracking_in_the_trainer_matches_eigh():
    spec = TrainSpec(
        H=8,
        steps=200,
        dtype="float64",
        n_per_class=20,
        lambda_steps=(0, 50, 100, 200),
        lambda_m=12,
        lambda_m_cold=20,
        snapshot_steps=(0, 50, 100, 200),
    )
    member = Member(0, 1.0, 70.0, 120)
    res = train_chunk(spec, [member], "cpu")
    X, y = spiral3(0, 20)
    m = BatchedMLP(X, y, 8, "ce")
    for i, t in enumerate(spec.lambda_steps):
        G = dl.gamma(torch.tensor(t), member.A, member.T)
        evals, _ = hessian_eigh(m, res["snap_theta"][0, i], G)
        assert float(res["lambda_max"][0, i]) == pytest.approx(float(evals[-1]), rel=1e-6)


@pytest.mark.parametrize("factor", [0.9, 0.99, 1.01, 1.1])
def test_gd_on_a_quadratic_is_stable_iff_eta_below_two_over_lambda_max(factor):
    eigs = torch.tensor([4.0, 2.5, 1.0, 0.3, 0.01], dtype=DT)
    H = spd_with_spectrum(eigs, 7)
    lam = lanczos(lambda V: V @ H, torch.ones(1, 5, dtype=DT), 5).values[0, 0]
    torch.testing.assert_close(lam, eigs[0], rtol=1e-12, atol=1e-12)
    eta = factor * 2.0 / float(lam)
    x = torch.ones(5, dtype=DT)
    for _ in range(3000):
        x = x - eta * (H @ x)
    norm = float(x.norm())
    if factor < 1:
        assert norm < 1e-3
    else:
        assert norm > 1e3


def test_residual_stop_is_per_model_and_bounds_the_eigenvalue_error():
    """With ``tol`` each model stops at its own step (a model alone gives the same bits as in the batch); the
    stopped Ritz value is within residual²/gap of λ_1 (and the residual is below tol·λ)."""
    P = 60
    spectra = [
        torch.cat([torch.tensor([10.0]), torch.linspace(0.0, 5.0, P - 1, dtype=DT)]),  # wide gap: stops early
        torch.cat([torch.tensor([10.0, 9.9]), torch.linspace(0.0, 5.0, P - 2, dtype=DT)]),  # narrow gap: later
    ]
    Hs = torch.stack([spd_with_spectrum(e, 10 + i) for i, e in enumerate(spectra)])
    v0 = torch.randn(2, P, generator=torch.Generator().manual_seed(4), dtype=DT)

    def hvp_of(H):  # elementwise products and sums: the same bits for a model in any batch (unlike bmm)
        return lambda V: (H * V.unsqueeze(1)).sum(-1)

    both = lanczos(hvp_of(Hs), v0, 40, tol=1e-4)
    for s, e in enumerate(spectra):
        alone = lanczos(hvp_of(Hs[s : s + 1]), v0[s : s + 1], 40, tol=1e-4)
        assert torch.equal(alone.values[0], both.values[s]) and torch.equal(alone.vectors[0], both.vectors[s])
        top = e.sort(descending=True).values
        assert float(both.residuals[s, 0]) <= 1e-4 * float(both.values[s, 0])
        bound = float(both.residuals[s, 0]) ** 2 / float(top[0] - top[1])
        assert abs(float(both.values[s, 0] - top[0])) <= bound + 1e-12
    assert lanczos(hvp_of(Hs[:1]), v0[:1], 40, tol=1e-4).n_hvp < lanczos(hvp_of(Hs[1:]), v0[1:], 40, tol=1e-4).n_hvp
