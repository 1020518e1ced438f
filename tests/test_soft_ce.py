"""Soft cross-entropy (Paper 1, eq. 12–13, Lemmas 2–8, the ResNet (26) and the OCP (5)): 13 checks, in float64.

Checks 4 and 7 guard the two corrections of the printed paper (book/methods.md#p1-soft-ce).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lossdyn.dissipativity import soft_ce
from lossdyn.dissipativity.resnet_oc import ResidualBlock, ResNetOC, control_penalty, ocp_objective

DT = torch.float64
CASES = [(2, 0.95), (10, 0.91), (3, 0.7), (5, 0.5)]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_states(n: int, C: int, seed: int = 0, scale: float = 4.0):
    g = gen(seed)
    x = scale * torch.randn(n, C, generator=g, dtype=DT)
    y = torch.randint(0, C, (n,), generator=g)
    return x, y


# 1. ℓ̃ ≥ 0; zero (with zero gradient) on the whole minimiser line.
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_nonnegative_and_zero_on_minimiser_line(C, p_d):
    x, y = random_states(5000, C)
    assert soft_ce.soft_cross_entropy(x, y, p_d=p_d).min() >= 0.0
    for label in range(C):
        yl = torch.tensor([label])
        star = soft_ce.minimiser_point(yl, C, p_d, dtype=DT)
        for t in (-7.0, -1.0, 0.0, 0.5, 12.0):
            xt = (star + t).requires_grad_(True)
            loss = soft_ce.soft_cross_entropy(xt, yl, p_d=p_d)
            (grad,) = torch.autograd.grad(loss.sum(), xt)
            assert abs(loss.item()) < 1e-12
            assert grad.abs().max() < 1e-12


# 2. ℓ̃ = KL(q̃ ‖ softmax x) = F.cross_entropy(label_smoothing=ε) − H(q̃).
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_equals_kl_and_label_smoothed_cross_entropy(C, p_d):
    x, y = random_states(200, C, seed=1)
    q = soft_ce.smoothed_target(y, C, p_d, dtype=DT)
    kl = F.kl_div(torch.log_softmax(x, -1), q, reduction="none").sum(-1)
    eps = soft_ce.label_smoothing_epsilon(C, p_d)
    ls = F.cross_entropy(x, y, label_smoothing=eps, reduction="none") - soft_ce.target_entropy(C, p_d)
    ours = soft_ce.soft_cross_entropy(x, y, p_d=p_d)
    torch.testing.assert_close(ours, kl, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours, ls, rtol=0, atol=1e-12)


def test_label_smoothing_is_exactly_one_tenth_for_both_experiments():
    assert soft_ce.label_smoothing_epsilon(2, 0.95) == pytest.approx(0.1, abs=1e-15)
    assert soft_ce.label_smoothing_epsilon(10, 0.91) == pytest.approx(0.1, abs=1e-15)


# 3. Invariance along 1 and under T; T idempotent, symmetric, T1 = 0.
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_invariance_and_projection(C, p_d):
    x, y = random_states(300, C, seed=2)
    base = soft_ce.soft_cross_entropy(x, y, p_d=p_d)
    for t in (-3.0, 0.25, 40.0):
        torch.testing.assert_close(soft_ce.soft_cross_entropy(x + t, y, p_d=p_d), base, rtol=0, atol=1e-12)
    T = soft_ce.projection_matrix(C, dtype=DT)
    torch.testing.assert_close(soft_ce.soft_cross_entropy(x @ T.T, y, p_d=p_d), base, rtol=0, atol=1e-12)
    torch.testing.assert_close(soft_ce.project(x), x @ T.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(T @ T, T, rtol=0, atol=1e-15)
    torch.testing.assert_close(T, T.T, rtol=0, atol=0)
    assert (T @ torch.ones(C, dtype=DT)).abs().max() < 1e-15


# 4. x̃⋆_y closed form: sum 0 and loss 0; the paper's printed variant fails this.
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_minimiser_point_corrected_and_printed(C, p_d):
    y = torch.arange(C)
    star = soft_ce.minimiser_point(y, C, p_d, dtype=DT)
    assert star.sum(-1).abs().max() < 1e-12
    assert soft_ce.soft_cross_entropy(star, y, p_d=p_d).abs().max() < 1e-12
    d = soft_ce.delta(C, p_d)
    assert star[0, 0].item() == pytest.approx(-(C - 1) / C * d, abs=1e-14)
    printed = soft_ce.minimiser_point_as_printed(y, C, p_d, dtype=DT)
    assert printed.sum(-1).abs().min() > 1e-3
    assert soft_ce.soft_cross_entropy(printed, y, p_d=p_d).min() > 1e-3


def test_minimiser_point_known_values():
    y = torch.tensor([0])
    mnist = soft_ce.minimiser_point(y, 10, 0.91, dtype=DT)[0]
    assert mnist[0].item() == pytest.approx(4.059774, abs=1e-6)
    assert mnist[1].item() == pytest.approx(-0.451086, abs=1e-6)
    spirals = soft_ce.minimiser_point(y, 2, 0.95, dtype=DT)[0]
    torch.testing.assert_close(spirals, torch.tensor([1.472219, -1.472219], dtype=DT), rtol=0, atol=1e-6)
    # Printed variant's loss: 0.170 (C = 2) and 0.029 (C = 10) (book/methods.md#p1-soft-ce).
    assert soft_ce.soft_cross_entropy(
        soft_ce.minimiser_point_as_printed(y, 2, 0.95, dtype=DT), y, p_d=0.95
    ).item() == pytest.approx(0.170, abs=5e-4)
    assert soft_ce.soft_cross_entropy(
        soft_ce.minimiser_point_as_printed(y, 10, 0.91, dtype=DT), y, p_d=0.91
    ).item() == pytest.approx(0.029, abs=5e-4)


# 5. Hessian: autograd = diag(p) − ppᵀ; H1 = 0; rank C − 1; PSD.
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_hessian_matches_autograd(C, p_d):
    x, y = random_states(6, C, seed=3, scale=2.0)
    H = soft_ce.hessian(x)
    for i in range(len(x)):
        Hi = torch.func.hessian(lambda v, yi=y[i : i + 1]: soft_ce.soft_cross_entropy(v[None], yi, p_d=p_d)[0])(x[i])
        torch.testing.assert_close(Hi, H[i], rtol=0, atol=1e-12)
    assert (H @ torch.ones(C, dtype=DT)).abs().max() < 1e-14
    eig = torch.linalg.eigvalsh(H)  # ascending
    assert eig.min() >= -1e-12
    assert eig[:, 0].abs().max() < 1e-12  # one zero eigenvalue (eigenvector 1) ...
    assert eig[:, 1:].min() > 1e-6  # ... and C − 1 positive ones: rank C − 1
    # Independent of q̃: the same for every p_d and label.
    torch.testing.assert_close(soft_ce.hessian(x), H)


# 6. Distance closed form vs brute force over the line; dist(x) = dist(Tx); states longer than C.
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_distance_matches_brute_force(C, p_d):
    x, y = random_states(50, C, seed=4)
    closed = soft_ce.distance_to_minimiser_set(x, y, p_d=p_d)
    star = soft_ce.minimiser_point(y, C, p_d, dtype=DT)
    t = torch.linspace(-30, 30, 600_001, dtype=DT)
    for i in range(len(x)):
        brute = torch.linalg.vector_norm(x[i] - (star[i] + t[:, None]), dim=-1).min()
        assert closed[i].item() == pytest.approx(brute.item(), abs=1e-6)
    torch.testing.assert_close(soft_ce.distance_to_minimiser_set(soft_ce.project(x), y, p_d=p_d), closed)
    padded = torch.cat([x, torch.randn(len(x), 3, generator=gen(9), dtype=DT)], -1)  # Remark 4
    torch.testing.assert_close(soft_ce.distance_to_minimiser_set(padded, y, p_d=p_d, C=C), closed)


# 7. Lemma 8 with the corrected α on ≥ 10⁴ random points; the printed α fails.
def test_huber_constants_exact_for_two_classes():
    lam, m = soft_ce.huber_bound_constants(2, 0.95, n_samples=2000, generator=gen(0))
    z = math.log(19) + math.sqrt(2)
    p1 = 1 / (1 + math.exp(-z))
    assert lam == pytest.approx(2 * p1 * (1 - p1), rel=1e-9)
    assert m == pytest.approx(math.sqrt(2) * (p1 - 0.95), rel=1e-9)
    assert lam == pytest.approx(0.0250, abs=1e-4) and m == pytest.approx(0.0528, abs=1e-4)


@pytest.mark.parametrize(("C", "p_d", "factor"), [(2, 0.95, 1.0), (10, 0.91, 0.9), (3, 0.7, 0.9)])
def test_lemma8_corrected_bound_holds_printed_fails(C, p_d, factor):
    lam, m = soft_ce.huber_bound_constants(C, p_d, n_samples=20000, generator=gen(1))
    lam, m = factor * lam, factor * m
    n = 20000
    g = gen(2)
    y = torch.randint(0, C, (n,), generator=g)
    d = soft_ce.project(torch.randn(n, C, generator=g, dtype=DT))
    d = d / torch.linalg.vector_norm(d, dim=-1, keepdim=True)
    s = 8.0 * torch.rand(n, 1, generator=g, dtype=DT) ** 2
    x = soft_ce.minimiser_point(y, C, p_d, dtype=DT) + s * d + torch.randn(n, 1, generator=g, dtype=DT)
    dist = soft_ce.distance_to_minimiser_set(x, y, p_d=p_d)
    loss = soft_ce.soft_cross_entropy(x, y, p_d=p_d)
    assert (loss >= soft_ce.huber_lower_bound(dist, lam, m) - 1e-12).all()
    assert (loss < soft_ce.huber_lower_bound(dist, lam, m, as_printed=True) - 1e-12).sum() > 0


def test_huber_bound_is_continuous_at_one():
    s = torch.tensor([1.0 - 1e-12, 1.0, 1.0 + 1e-12], dtype=DT)
    a = soft_ce.huber_lower_bound(s, 0.3, 0.2)
    assert (a - 0.15).abs().max() < 1e-11


# 8. Asymptotic slope along d: max(d) − q̃ᵀd.
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_asymptotic_slope(C, p_d):
    g = gen(5)
    x0, y = random_states(20, C, seed=6, scale=1.0)
    d = torch.randn(20, C, generator=g, dtype=DT)
    slope = soft_ce.asymptotic_slope(d, y, p_d=p_d)
    s1, s2 = 1e4, 2e4
    fd = (soft_ce.soft_cross_entropy(x0 + s2 * d, y, p_d=p_d) - soft_ce.soft_cross_entropy(x0 + s1 * d, y, p_d=p_d)) / (
        s2 - s1
    )
    torch.testing.assert_close(fd, slope, rtol=0, atol=1e-9)


def test_two_class_slopes_are_asymmetric():
    d = torch.tensor([[1.0, -1.0]], dtype=DT) / math.sqrt(2)
    y = torch.tensor([0])
    assert soft_ce.asymptotic_slope(d, y, p_d=0.95).item() == pytest.approx(0.0707, abs=1e-4)
    assert soft_ce.asymptotic_slope(-d, y, p_d=0.95).item() == pytest.approx(1.3435, abs=1e-4)


# 9. Lemma 2: hard CE > 0 for every finite s along e_y − 1/C and strictly decreasing to 0.
@pytest.mark.parametrize("C", [2, 3, 10])
def test_hard_cross_entropy_has_no_minimiser(C):
    y = torch.tensor([0])
    direction = soft_ce.project(F.one_hot(y, C).to(DT))
    s = torch.linspace(0, 30, 301, dtype=DT)[:, None]
    loss = soft_ce.hard_cross_entropy(s * direction, y.expand(301))
    assert (loss > 0).all()
    assert (loss[1:] < loss[:-1]).all()
    assert loss[-1] < 1e-10


# 10. ‖∇ℓ̃‖ ≤ √2 (the paper's proof uses 2C).
@pytest.mark.parametrize(("C", "p_d"), CASES)
def test_gradient_norm_bound(C, p_d):
    x, y = random_states(20000, C, seed=7, scale=10.0)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(soft_ce.soft_cross_entropy(xg, y, p_d=p_d).sum(), xg)
    torch.testing.assert_close(grad, soft_ce.soft_ce_gradient(x, y, p_d=p_d), rtol=0, atol=1e-12)
    assert torch.linalg.vector_norm(grad, dim=-1).max() <= math.sqrt(2)


# 11. Block (26) with zero parameters is the identity; cropping after k blocks returns x_k.
def test_zero_block_is_identity_and_cropping_returns_x_k():
    torch.manual_seed(0)
    block = ResidualBlock(4, 8, "relu").double()
    for p in block.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(7, 4, generator=gen(8), dtype=DT)
    assert torch.equal(block(x), x)
    net = ResNetOC(4, 8, 6, "tanh").double()
    states = net(x)
    assert states.shape == (7, 7, 4)
    assert torch.equal(states[0], x)
    for k in range(7):
        assert torch.equal(net(x, upto=k)[-1], states[k])


# 12. The objective matches a hand computation on a 3-layer toy.
def test_objective_matches_hand_computation():
    torch.manual_seed(1)
    C, p_d, gamma, r = 2, 0.95, 3.0, 0.005
    net = ResNetOC(3, 4, 3, "tanh").double()
    x0 = torch.randn(5, 3, generator=gen(9), dtype=DT)
    y = torch.tensor([0, 1, 1, 0, 1])
    states = net(x0)
    with torch.no_grad():
        x1 = net.blocks[0](x0)
        x2 = net.blocks[1](x1)
        x3 = net.blocks[2](x2)

    def mean_loss(x):
        total = 0.0
        for i in range(len(x)):
            logits = x[i, :C]
            p = torch.softmax(logits, 0)
            q = torch.full((C,), (1 - p_d) / (C - 1), dtype=DT)
            q[y[i]] = p_d
            total += float((q * (q.log() - p.log())).sum())
        return total / len(x)

    penalty = sum(float((p.detach() ** 2).sum()) for p in net.parameters())
    hand = mean_loss(x0) + mean_loss(x1) + mean_loss(x2) + gamma * mean_loss(x3) + r * penalty
    ours = ocp_objective(states, y, p_d=p_d, C=C, gamma=gamma, penalty=control_penalty(net), r=r)
    assert ours.item() == pytest.approx(hand, abs=1e-12)
    baseline = ocp_objective(states, y, p_d=p_d, C=C, gamma=gamma, stage_cost=False)
    assert baseline.item() == pytest.approx(gamma * mean_loss(x3), abs=1e-12)


# 13. Constants.
def test_constants():
    assert soft_ce.delta(2, 0.95) == pytest.approx(-2.944439, abs=1e-6)
    assert soft_ce.delta(10, 0.91) == pytest.approx(-4.510860, abs=1e-6)
    assert soft_ce.target_entropy(2, 0.95) == pytest.approx(0.198515, abs=1e-6)
    assert soft_ce.target_entropy(10, 0.91) == pytest.approx(0.500288, abs=1e-6)
    # MNIST layer 0: the first 10 pixels are 0, so softmax is uniform: log 10 − H(q̃).
    x0 = torch.zeros(3, 784, dtype=DT)
    L0 = soft_ce.soft_cross_entropy(x0, torch.tensor([0, 4, 9]), p_d=0.91, C=10)
    torch.testing.assert_close(L0, torch.full((3,), math.log(10) - soft_ce.target_entropy(10, 0.91), dtype=DT))
    assert L0[0].item() == pytest.approx(1.802297, abs=1e-6)


def test_bad_p_d_is_rejected():
    with pytest.raises(ValueError, match="1/C < p_d < 1"):
        soft_ce.delta(2, 0.5)
    with pytest.raises(ValueError, match="1/C < p_d < 1"):
        soft_ce.smoothed_target(torch.tensor([0]), 3, 1.0)


# 14. The Fig. 1 page: figures legible at the book's column, tables and prose from the result.
def test_fig1_page_figures_tables_and_prose():
    from lossdyn.dissipativity import p1_fig1_soft_cross_entropy as page
    from lossdyn.pipeline.plotting import MIN_TEXT_PX, Shown, text_px
    from lossdyn.pipeline.tables import Table

    for C in (2, 3):
        cfg = page.Config.from_mapping(
            dict(C=C, p_d=0.95, label=0, extent=10.0, grid=31, s_max=15.0, n_cut=61, n_bound_samples=500,
                 dtype="float64", device="cpu", seed=0)
        )  # fmt: skip
        res = page.finish(cfg, page.compute(cfg))
        shown = page.plot(res)
        assert [s.name for s in shown] == ["", "cut-bound"]
        assert sum(len(s.fig.axes) for s in shown) == 4  # (a) with its colour bar, (b), (c)
        for s in shown:
            assert isinstance(s, Shown) and s.caption.strip() and s.alt.strip()
            assert text_px(s.fig) >= MIN_TEXT_PX
        titles = [ax.get_title(loc="left") for s in shown for ax in s.fig.axes if ax.get_title(loc="left")]
        assert [t[:3] for t in titles] == ["(a)", "(b)", "(c)"]
        constants = page.constants_table(res)
        assert isinstance(constants, Table)
        # the README quotes this row: δ at fixed precision
        assert ["δ = −log((C−1)p_d/(1−p_d))  (Lemma 3)", f"{res.delta:+.6f}"] in constants.text_rows()
        typos = page.typo_table(res).text_rows()
        assert typos[-1][1:] == [str(res.lemma8_violations_printed), str(res.lemma8_violations)]
        text = page.shape_summary(res)
        assert f"{res.curvature:.6f}" in text and f"{res.n_bound_samples} random points" in text
        numbers = page.key_numbers(res)
        assert numbers["paper"] == {"C": 2, "target_class_y": 1}
        assert numbers["bound_factor_sampled"] == page.SAFETY_FACTOR_SAMPLED
