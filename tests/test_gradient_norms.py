"""MSE-on-softmax vs cross-entropy gradients (the question page): every inequality against exact answers.

float64 throughout; J(p) = diag(p) − ppᵀ checked with eigvalsh, gradients and Jacobians with autograd.
"""

from __future__ import annotations

import math

import pytest
import torch

from lossdyn.dissipativity import soft_ce
from lossdyn.gradnorms import q_gradient_norms as page
from lossdyn.gradnorms import relu_mlp
from lossdyn.gradnorms import theory as gn
from lossdyn.gradnorms import training as gnt
from lossdyn.pipeline.cache import cached_run
from lossdyn.pipeline.plotting import MIN_TEXT_PX, text_px
from lossdyn.pipeline.tables import Table

DT = torch.float64
KS = (2, 3, 5, 10)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_logits(N: int, k: int, seed: int = 0):
    """Logits at scales from 0.01 to 30 (near-uniform to saturated) and random labels."""
    g = gen(seed)
    scale = torch.exp(torch.empty(N, 1, dtype=DT).uniform_(math.log(0.01), math.log(30.0), generator=g))
    return scale * torch.randn(N, k, generator=g, dtype=DT), torch.randint(0, k, (N,), generator=g)


def norm(v: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(v, dim=-1)


# -- J(p): spectrum -------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_J_is_the_soft_ce_hessian_symmetric_psd_with_null_vector_one(k):
    z, _ = random_logits(2000, k)
    J = gn.softmax_jacobian(z)
    torch.testing.assert_close(J, soft_ce.hessian(z), rtol=0, atol=0)
    torch.testing.assert_close(J, J.transpose(-1, -2), rtol=0, atol=0)
    assert norm(J @ torch.ones(k, dtype=DT)).max() < 1e-15
    assert torch.linalg.eigvalsh(J)[:, 0].min() > -1e-15


@pytest.mark.parametrize("k", KS)
def test_J_norm_at_most_one_half(k):
    z, _ = random_logits(20000, k, seed=1)
    assert torch.linalg.eigvalsh(gn.softmax_jacobian(z))[:, -1].max() <= 0.5 + 1e-15


def test_J_norm_equals_one_half_for_two_classes_at_uniform():
    J = gn.softmax_jacobian(torch.zeros(2, dtype=DT))
    torch.testing.assert_close(torch.linalg.eigvalsh(J), torch.tensor([0.0, 0.5], dtype=DT), rtol=0, atol=1e-16)


@pytest.mark.parametrize("k", (3, 5))
def test_J_norm_approaches_one_half_when_p_splits_evenly_over_two_classes(k):
    gaps = []
    for t in (5.0, 10.0, 20.0, 30.0):
        z = torch.zeros(k, dtype=DT)
        z[:2] = t
        gaps.append(0.5 - float(torch.linalg.eigvalsh(gn.softmax_jacobian(z))[-1]))
    assert all(0 < g for g in gaps) and gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-12


@pytest.mark.parametrize("k", KS)
def test_J_on_ones_complement_at_least_min_p_and_at_most_second_smallest(k):
    z, _ = random_logits(20000, k, seed=2)
    p = torch.softmax(z, -1).sort(-1).values
    lam = gn.restricted_eigvalsh(gn.softmax_jacobian(z))[:, 0]
    assert (lam - p[:, 0]).min() >= -1e-15
    assert (lam - p[:, 1]).max() <= 1e-15


@pytest.mark.parametrize("z", [[0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [-3.0, 1.0, -3.0, 0.5, 2.0]])
def test_J_lower_bound_is_attained_when_the_two_smallest_p_are_equal(z):
    z = torch.tensor(z, dtype=DT)
    lam = gn.restricted_eigvalsh(gn.softmax_jacobian(z))[0]
    assert float(lam) == pytest.approx(float(torch.softmax(z, -1).min()), abs=1e-15)


# -- logit gradients --------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_logit_gradients_match_autograd(k):
    z, y = random_logits(300, k, seed=3)
    z.requires_grad_(True)
    (a1,) = torch.autograd.grad(gn.mse_softmax(z, y).sum(), z)
    (a2,) = torch.autograd.grad(gn.cross_entropy(z, y).sum(), z)
    (a3,) = torch.autograd.grad(gn.mse_logits(z, y).sum(), z)
    g1, g2 = gn.logit_gradients(z.detach(), y)
    torch.testing.assert_close(g1, a1, rtol=0, atol=1e-15)
    torch.testing.assert_close(g2, a2, rtol=0, atol=1e-15)
    torch.testing.assert_close(z.detach() - gn.one_hot(y, k, dtype=DT), a3, rtol=0, atol=0)
    # J(p)·(p − y) with J = soft_ce.hessian, as a plain matrix product
    torch.testing.assert_close(g1, (soft_ce.hessian(z.detach()) @ g2[..., None])[..., 0], rtol=0, atol=1e-15)


@pytest.mark.parametrize("k", KS)
def test_label_component_of_the_L1_gradient_is_minus_p_c_times_squared_residual(k):
    z, y = random_logits(5000, k, seed=4)
    g1, v = gn.logit_gradients(z, y)
    p_c = torch.softmax(z, -1).gather(-1, y[:, None])[:, 0]
    torch.testing.assert_close(g1.gather(-1, y[:, None])[:, 0], -p_c * norm(v) ** 2, rtol=0, atol=1e-15)
    assert (norm(g1) - p_c * norm(v) ** 2).min() >= -1e-15


@pytest.mark.parametrize("k", (2, 3, 10, 100))
def test_label_component_bound_is_sharp_when_the_wrong_mass_is_spread_evenly(k):
    """p = (a, (1−a)/(k−1), …): ‖J v‖ = p_c‖v‖²·√(k/(k−1)) exactly, → p_c‖v‖² as k → ∞."""
    for a in (0.1, 0.5, 0.9):
        z = torch.zeros(k, dtype=DT)
        z[0] = math.log(a * (k - 1) / (1 - a))
        y = torch.tensor(0)
        g1, v = gn.logit_gradients(z, y)
        assert float(norm(g1) / (a * norm(v) ** 2)) == pytest.approx(math.sqrt(k / (k - 1)), rel=1e-12)


@pytest.mark.parametrize("k", KS)
def test_logit_ratio_between_mu_and_one_half_and_L1_gradient_at_most_four_L1(k):
    z, y = random_logits(20000, k, seed=5)
    g1, g2 = gn.logit_gradients(z, y)
    rho = norm(g1) / norm(g2)
    assert rho.max() <= 0.5 + 1e-15
    assert (rho - gn.logit_ratio_lower_bound(z, y)).min() >= -1e-15
    assert (norm(g1) - 4 * gn.mse_softmax(z, y)).max() <= 1e-15
    # cross-entropy: 1 − p_c ≤ ‖p − y‖ ≤ √2·L2 and ‖p − y‖ ≥ p_c·L2
    L2 = gn.cross_entropy(z, y)
    p_c = torch.softmax(z, -1).gather(-1, y[:, None])[:, 0]
    assert (norm(g2) - math.sqrt(2) * L2).max() <= 1e-15
    assert (p_c * L2 - norm(g2)).max() <= 1e-15


def test_two_class_ratio_is_exactly_2_p1_p2():
    z, y = random_logits(1000, 2, seed=6)
    g1, g2 = gn.logit_gradients(z, y)
    p = torch.softmax(z, -1)
    torch.testing.assert_close(norm(g1) / norm(g2), 2 * p[:, 0] * p[:, 1], rtol=1e-12, atol=1e-300)


# -- the saturation counterexample ------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_confidently_wrong_ratio_goes_to_zero_while_ce_gradient_goes_to_sqrt2(k):
    t = torch.linspace(0.0, 30.0, 61, dtype=DT)
    z = gn.wrong_class_logits(t, k, wrong=1)
    y = torch.zeros(61, dtype=torch.long)
    g1, g2 = gn.logit_gradients(z, y)
    rho = norm(g1) / norm(g2)
    assert (rho[t >= math.log(k) + 1].diff() < 0).all()  # decreasing once the wrong class clearly leads
    assert float(rho[-1]) < 1e-12
    assert float(norm(g2)[-1]) == pytest.approx(math.sqrt(2), abs=1e-12)
    # the rate is e^(−t): rho·e^t tends to a constant (2 for k = 2)
    tail = rho[-10:] * torch.exp(t[-10:])
    assert float(tail.max() / tail.min()) < 1 + 1e-9
    if k == 2:
        assert float(tail[-1]) == pytest.approx(2.0, rel=1e-9)


# -- through the parameters ---------------------------------------------------------------------------------
def tiny_net(seed: int = 0, B: int = 2, n: int = 5, d: int = 4, m: int = 6, L: int = 3, k: int = 3):
    g = gen(seed)
    X, y = gnt.random_label_data(n, d, k, generator=g)
    return X, y, relu_mlp.init_weights(B, d, m, L, k, generator=g)


def jacobian(weights, X, b: int) -> torch.Tensor:
    """G = ∂z/∂W of net b by autograd: shape (n·k, P)."""

    def f(*ws):
        return relu_mlp.forward([w[None] for w in ws], X)[0][0]

    jac = torch.autograd.functional.jacobian(f, tuple(w[b] for w in weights))
    n, k = X.shape[0], weights[-1].shape[1]
    return torch.cat([j.reshape(n * k, -1) for j in jac], 1)


def test_vjp_and_gram_norms_match_autograd():
    X, y, W = tiny_net()
    W = [w.requires_grad_(True) for w in W]
    z, hs = relu_mlp.forward(W, X)
    cot = torch.randn(2, 3, *z.shape[1:], generator=gen(1), dtype=DT)
    Wd, hd = [w.detach() for w in W], [h.detach() for h in hs]
    ours = relu_mlp.vjp(Wd, hd, cot)
    for r in range(3):
        auto = torch.autograd.grad(z, W, cot[:, r], retain_graph=True)
        for a, o in zip(auto, ours):
            torch.testing.assert_close(o[:, r], a, rtol=0, atol=1e-13)
    direct = torch.sqrt(sum(o.square().sum((-1, -2)) for o in ours))
    torch.testing.assert_close(relu_mlp.grad_norms(hd, relu_mlp.backprop(Wd, hd, cot)), direct, rtol=1e-12, atol=1e-14)


def test_tangent_kernel_is_G_G_transpose():
    X, y, W = tiny_net(seed=2)
    _, hs = relu_mlp.forward(W, X)
    K = relu_mlp.tangent_kernel(W, hs)
    n, k = X.shape[0], W[-1].shape[1]
    for b in range(2):
        G = jacobian(W, X, b)
        torch.testing.assert_close(K[b].reshape(n * k, n * k), G @ G.T, rtol=0, atol=1e-12)


def test_parameter_gradients_are_G_transpose_times_logit_gradients():
    """∇_W L1 = Gᵀ J(p)(p − y) and ∇_W L2 = Gᵀ(p − y), summed over samples, against autograd."""
    X, y, W = tiny_net(seed=3)
    n, k = X.shape[0], W[-1].shape[1]
    for b in range(2):
        Wb = [w[b : b + 1].clone().requires_grad_(True) for w in W]
        z = relu_mlp.forward(Wb, X)[0][0]
        auto1 = torch.cat(
            [g.reshape(-1) for g in torch.autograd.grad(gn.mse_softmax(z, y).sum(), Wb, retain_graph=True)]
        )
        auto2 = torch.cat([g.reshape(-1) for g in torch.autograd.grad(gn.cross_entropy(z, y).sum(), Wb)])
        G = jacobian(W, X, b)
        g1, g2 = gn.logit_gradients(z.detach(), y)
        torch.testing.assert_close(G.T @ g1.reshape(n * k), auto1, rtol=0, atol=1e-13)
        torch.testing.assert_close(G.T @ g2.reshape(n * k), auto2, rtol=0, atol=1e-13)


def test_per_sample_bounds_on_the_network_and_last_layer_floor():
    """Prop. 3 per sample (exact norms from the kernel) and σ₋² ≥ ‖h_L‖²/m (the last layer's share)."""
    X, y, W = tiny_net(seed=4, B=4, n=12, m=8, L=2)
    z, hs = relu_mlp.forward(W, X)
    K = relu_mlp.tangent_kernel(W, hs)
    blocks = torch.diagonal(K, dim1=1, dim2=3).permute(0, 3, 1, 2)
    out = gn.parameter_gradient_bounds(blocks, z, y.expand(4, -1))
    for b in range(2):
        G = jacobian(W, X, b).reshape(12, 3, -1)
        g1, g2 = gn.logit_gradients(z[b], y)
        torch.testing.assert_close(out["grad1"][b], norm(torch.einsum("iap,ia->ip", G, g1)), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(out["grad2"][b], norm(torch.einsum("iap,ia->ip", G, g2)), rtol=1e-12, atol=1e-14)
    tol = 1e-12
    assert (out["lower1"] <= out["grad1"] + tol).all() and (out["grad1"] <= out["upper1"] + tol).all()
    assert (out["lower2"] <= out["grad2"] + tol).all() and (out["grad2"] <= out["upper2"] + tol).all()
    floor = hs[-1].square().sum(-1) / W[0].shape[1]  # s_{L+1}² ‖h_L‖² with s_{L+1}² = 1/m
    assert (out["sigma_min"] ** 2 - floor).min() >= -1e-12


@pytest.mark.parametrize("k", (2, 3, 6))
def test_bounds_through_random_jacobians(k):
    """σ₋μ(p)‖v‖ ≤ ‖GᵀJv‖ ≤ ½σ₊‖v‖ and σ₋‖v‖ ≤ ‖Gᵀv‖ ≤ σ₊‖v‖ for random G of full rank on 1⊥."""
    N, P = 3000, 7
    z, y = random_logits(N, k, seed=7)
    g = gen(8)
    G = torch.randn(N, k, P, generator=g, dtype=DT) * torch.exp(torch.randn(N, k, 1, generator=g, dtype=DT))
    out = gn.parameter_gradient_bounds(G @ G.transpose(-1, -2), z, y)
    g1, g2 = gn.logit_gradients(z, y)
    torch.testing.assert_close(
        out["grad1"], norm((G.transpose(-1, -2) @ g1[..., None])[..., 0]), rtol=1e-10, atol=1e-300
    )
    rel = 1e-10
    assert (out["lower1"] <= out["grad1"] * (1 + rel)).all() and (out["grad1"] <= out["upper1"] * (1 + rel)).all()
    assert (out["lower2"] <= out["grad2"] * (1 + rel)).all() and (out["grad2"] <= out["upper2"] * (1 + rel)).all()
    # and the resulting ratio bounds (σ₋/σ₊)μ ≤ ‖∇L1‖/‖∇L2‖ ≤ σ₊/(2σ₋)
    ratio = out["grad1"] / out["grad2"]
    kappa = out["sigma_max"] / out["sigma_min"]
    assert (gn.logit_ratio_lower_bound(z, y) / kappa <= ratio * (1 + rel)).all()
    assert (ratio <= kappa / 2 * (1 + rel)).all()


def test_parameter_ratio_can_exceed_one_half_when_G_is_anisotropic():
    """The ½ is a logit-level fact: with G = u uᵀ, u ⊥ v, ∇L2 = 0 while ∇L1 ≠ 0."""
    z, y = torch.tensor([0.3, -1.0, 2.0], dtype=DT), torch.tensor(0)
    g1, v = gn.logit_gradients(z, y)
    u = g1 - (g1 @ v) / (v @ v) * v  # component of J v orthogonal to v (still ⊥ 1)
    u = u / norm(u)
    G = torch.outer(u, u)
    assert float(norm(G.T @ v)) < 1e-14
    assert float(norm(G.T @ g1)) > 0.01


@pytest.mark.parametrize("k", (2, 3, 5))
def test_full_batch_lojasiewicz_bounds_on_random_kernels(k):
    """Prop. 4 with a random PSD kernel K (n·k × n·k): c₋L ≤ ‖∇L‖ ≤ c₊L, and both PL sides for MSE on logits."""
    n, trials = 6, 300
    g = gen(9)
    for trial in range(trials):
        A = torch.randn(n * k, n * k + 3, generator=g, dtype=DT)
        K = A @ A.T
        scale = 10 ** (4 * torch.rand(1, generator=g, dtype=DT) - 2)
        z = scale * torch.randn(n, k, generator=g, dtype=DT)
        y = torch.randint(0, k, (n,), generator=g)
        Q = torch.block_diag(*([gn.ones_complement_basis(k, dtype=DT)] * n))
        ev_perp = torch.linalg.eigvalsh(Q.T @ K @ Q)
        ev_full = torch.linalg.eigvalsh(K)
        p_c_min = torch.softmax(z, -1).gather(-1, y[:, None]).min()
        g1, g2 = gn.logit_gradients(z, y)
        g3 = z - gn.one_hot(y, k, dtype=DT)
        for loss, gz, value, ev in (
            ("mse_softmax", g1, gn.mse_softmax(z, y).mean(), ev_perp),
            ("cross_entropy", g2, gn.cross_entropy(z, y).mean(), ev_perp),
            ("mse_logits", g3, gn.mse_logits(z, y).mean(), ev_full),
        ):
            c = gz.reshape(-1) / n
            grad = torch.sqrt(c @ K @ c)
            lo, hi = gn.lojasiewicz_bounds(loss, ev[0], ev[-1], p_c_min, n)
            lhs = grad**2 if loss == "mse_logits" else grad
            assert lo * value <= lhs * (1 + 1e-10), (loss, trial)
            assert lhs <= hi * value * (1 + 1e-10), (loss, trial)


# -- training ---------------------------------------------------------------------------------------------------
def test_training_records_exact_gradient_norms_and_decreases_the_loss():
    X, y = gnt.random_label_data(8, 4, 3, generator=gen(10))
    out = gnt.train(X, y, m=16, L=2, k=3, n_seeds=2, eta=0.5, steps=20, n_checkpoints=4, generator=gen(11))
    assert out["loss"].shape == (2, 3, 21, 3) and out["grad_norm"].shape == (2, 3, 21, 3)
    assert out["checkpoints"][0] == 0 and out["checkpoints"][-1] == 20
    idx = torch.tensor(out["checkpoints"])
    torch.testing.assert_close(out["ckpt_grad_norm_from_kernel"], out["grad_norm"][:, :, idx], rtol=1e-10, atol=1e-14)
    own = torch.stack([out["loss"][:, j, :, j] for j in range(3)], 1)
    assert (own[..., -1] < own[..., 0]).all()
    # step-0 gradient norms against autograd on the same initialisation
    W0 = relu_mlp.init_weights(2, 4, 16, 2, 3, generator=gen(11))
    Wr = [w.clone().requires_grad_(True) for w in W0]
    z = relu_mlp.forward(Wr, X)[0]
    for r, f in enumerate((gn.mse_softmax, gn.cross_entropy, gn.mse_logits)):
        grads = torch.autograd.grad(f(z, y.expand(2, -1)).mean(-1).sum(), Wr, retain_graph=True)
        auto = torch.sqrt(sum(gr.square().sum((-1, -2)) for gr in grads))
        torch.testing.assert_close(out["grad_norm"][:, 0, 0, r], auto, rtol=1e-12, atol=0)


def test_checkpoint_steps():
    assert gnt.checkpoint_steps(10, 2) == [0, 10]
    steps = gnt.checkpoint_steps(1000, 12)
    assert steps[0] == 0 and steps[-1] == 1000 and steps == sorted(set(steps))


# -- the page's run, the path its notebook takes ---------------------------------------------------------------
TINY = {
    **{"k": 3, "d": 4, "n": 6, "L": 2, "m_narrow": 3, "m_wide": 16, "n_seeds": 2, "eta": 1.0, "steps": 20},
    **{"n_checkpoints": 4, "n_logits": 200, "logit_scale": 30.0, "t_max": 10.0, "n_t": 21},
    **{"dtype": "float64", "device": "cpu", "seed": 0},
}


@pytest.fixture(scope="module")
def page_result():
    cfg = page.Config.from_mapping(TINY)
    return cfg, cached_run(cfg)[0]  # the test suite runs with the results cache off


def test_page_result_is_typed_with_the_documented_shapes(page_result):
    cfg, res = page_result
    assert isinstance(res, page.Result) and isinstance(res.logits, page.LogitPart)
    assert isinstance(res.saturation, page.SaturationPath)
    assert (res.narrow.m, res.wide.m) == (cfg.m_narrow, cfg.m_wide) and list(res.runs) == ["narrow", "wide"]
    assert res.saturation.t.shape == (cfg.n_t,) and res.logits.sample_ratio.shape == (cfg.n_logits,)
    for run in res.runs.values():
        assert isinstance(run, page.TrainingRun) and set(run.per_loss) == set(gnt.LOSSES)
        C = len(run.checkpoints)
        assert run.loss.shape == run.grad_norm.shape == (cfg.n_seeds, 3, cfg.steps + 1, 3)
        assert run.p_c_min.shape == run.accuracy.shape == (cfg.n_seeds, 3, cfg.steps + 1)
        assert run.ckpt_lambda_perp_min.shape == (cfg.n_seeds, 3, C)
        assert run.ckpt_sample_grad1.shape == (cfg.n_seeds, 3, C, cfg.n)
        for j, loss in enumerate(gnt.LOSSES):
            s = run.per_loss[loss]
            assert isinstance(s, page.LossSummary) and s.certificate_lower.shape == (cfg.n_seeds, C)
            assert s.loss_end == float(run.loss[:, j, -1, j].mean())  # the net's own loss, trained with it


def test_page_bounds_hold_and_the_sidecar_reads_the_result(page_result):
    cfg, res = page_result
    assert res.logits.max_logit_ratio <= 0.5 + 1e-12 and res.logits.logit_ratio_minus_bound_min >= -1e-12
    assert res.saturation.logit_shift_error < 1e-12
    for run in res.runs.values():
        assert run.bound_violations == 0 and run.cert_violations == 0 and run.bound_checked > 0
    numbers = page.key_numbers(res)
    assert all(isinstance(v, (int, float)) for v in numbers.values())
    assert numbers["wide_mse_softmax_loss_end"] == res.wide.per_loss["mse_softmax"].loss_end
    assert numbers["saturation_slope_param"] == res.saturation.slope_param and numbers["narrow_m"] == cfg.m_narrow
    ids = [c.id for c in page.claims(res)]
    assert ids == ["Q1-upper", "Q1-none", "Q1-lower", "Q2-ntk", "Q2-grad", "Q2-PL", "Q2-narrow"]
    for table in (
        page.logit_table,
        page.saturation_table,
        page.widths_table,
        page.training_table,
        page.kernel_table,
        page.pl_table,
    ):
        t = table(res)
        assert isinstance(t, Table) and t.rows and t.caption and repr(t)
    for summary in (page.answer_summary, page.saturation_summary, page.training_summary, page.reading_summary):
        assert summary(res).strip()


def test_page_tables_quote_the_result(page_result):
    _, res = page_result
    sat = page.saturation_table(res)
    assert sat.rows[2][1:] == [float(res.saturation.param_grad2[0]), float(res.saturation.param_grad2[-1])]
    widths = page.widths_table(res)
    assert widths.columns == ["", f"m = {res.narrow.m}", f"m = {res.wide.m}"]
    assert widths.rows[0][1:] == [res.narrow.n_params, res.wide.n_params]
    assert len(page.training_table(res).rows) == len(page.pl_table(res).rows) == 2 * len(gnt.LOSSES)
    kernel = page.kernel_table(res)
    assert kernel.rows[1][1] is None  # the narrow kernel is singular: no ratio to λ₋(K_0)
    assert kernel.rows[1][2] == res.wide.lambda_perp_rel_min


def test_page_figures_are_legible_captioned_and_lettered_once(page_result):
    """Every figure group: text ≥ 9 px at the column width, a caption and an alt text, distinct names,
    and panel letters (a), (b), … unique on the page."""
    _, res = page_result
    shown = page.plot(res)
    assert [s.name for s in shown] == ["", "samples", "training", "question2"]
    letters = []
    for s in shown:
        assert text_px(s.fig) >= MIN_TEXT_PX, (s.name, text_px(s.fig))
        assert s.caption.startswith("Companion figure 1 (") and s.alt.strip()
        assert "$" not in s.caption and "\\" not in s.caption  # captions are plain text
        titles = [ax.get_title(loc="left") for ax in s.fig.axes if ax.get_title(loc="left")]
        letters += [t[: t.index(")") + 1] for t in titles]
    assert letters == [f"({c})" for c in "abcdefghijk"]
