"""Paper 1 training and turnpike measurements: the stacked ResNets against the plain one, Adam against
torch.optim.Adam, the objective, cropping, k⋆ and #Q̄_ε on hand-made curves, bit-identical seeded runs.

The zero block being the identity and the objective on a 3-layer toy are in test_soft_ce.py.
"""

from __future__ import annotations

import math

import pytest
import torch

from lossdyn.dissipativity import data as datasets
from lossdyn.dissipativity.resnet_oc import ocp_objective
from lossdyn.dissipativity.soft_ce import soft_cross_entropy
from lossdyn.dissipativity.training import (
    FlatAdam,
    NetworkRecord,
    ResNetStack,
    network_spec,
    objective_weights,
    stack_losses,
    stage_losses_fast,
    train_and_measure,
    train_stack,
)
from lossdyn.dissipativity.turnpike import (
    CurveSummary,
    curve_summary,
    off_turnpike_count,
    on_turnpike_count,
    required_depth,
    required_depth_abs,
    required_depth_acc,
    stays_from,
)
from lossdyn.pipeline.device import intra_op_threads

DT = torch.float64


def gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def tiny_stack(depths=(4, 4, 2), n=3, width=5, activation="tanh") -> ResNetStack:
    return ResNetStack(list(depths), list(range(len(depths))), n=n, width=width, activation=activation, dtype=DT)


# -- the stacked networks ---------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_stack_equals_plain_resnet_per_network(activation):
    stack = tiny_stack((5, 3, 3, 1), activation=activation)
    x = torch.randn(7, 3, generator=gen(1), dtype=DT)
    states = stack.forward(x)  # (N+1, M, D, n)
    assert states.shape == (6, 4, 7, 3)
    for m, depth in enumerate(stack.depths):
        plain = stack.to_resnet_oc(m)(x)
        torch.testing.assert_close(states[: depth + 1, m], plain, rtol=0, atol=1e-13)
        # after its last block a network carries its state unchanged (identity blocks)
        for k in range(depth + 1, stack.N + 1):
            assert torch.equal(states[k, m], states[depth, m])


def test_cropping_after_k_blocks_returns_exactly_x_k():
    stack = tiny_stack((6, 4))
    x = torch.randn(5, 3, generator=gen(2), dtype=DT)
    full = stack.forward(x)
    for k in range(stack.N + 1):
        assert torch.equal(stack.forward(x, upto=k)[-1], full[k])
    net = stack.to_resnet_oc(0)
    states = net(x)
    for k in range(net.depth + 1):
        assert torch.equal(net(x, upto=k)[-1], states[k])


def test_logits_path_equals_states_path():
    stack = tiny_stack((5, 3, 1))
    x = torch.randn(6, 3, generator=gen(3), dtype=DT)
    assert torch.equal(stack.logits(x, 2), stack.forward(x)[..., :2])


def test_initialisation_is_per_network_and_like_nn_linear():
    """A network's blocks depend only on its seed, not on the rest of the stack; U(±1/√fan_in)."""
    alone = ResNetStack([3], [7], n=3, width=5, activation="tanh", dtype=DT)
    inside = ResNetStack([6, 3, 2], [1, 7, 7], n=3, width=5, activation="tanh", dtype=DT)
    for k in range(3):
        for a, b in zip(alone.blocks[k], inside.blocks[k]):
            assert torch.equal(a[0], b[1])
    for k in range(2):  # same seed, different depth: the same first blocks
        for b in inside.blocks[k]:
            assert torch.equal(b[1], b[2])
    big = ResNetStack([2], [0], n=50, width=40, activation="tanh", dtype=DT)
    A1t, b1, A2t, b2 = big.blocks[0]
    assert A1t.abs().max() <= 1 / math.sqrt(50) and A2t.abs().max() <= 1 / math.sqrt(40)
    assert b1.abs().max() <= 1 / math.sqrt(50) and b2.abs().max() <= 1 / math.sqrt(40)
    assert A1t.abs().max() > 0.9 / math.sqrt(50)  # uses the whole range


def test_depths_must_be_non_increasing():
    with pytest.raises(ValueError, match="non-increasing"):
        ResNetStack([2, 3], [0, 1], n=2, width=3, activation="tanh")


def test_control_norms_and_parameter_count():
    stack = tiny_stack((3, 2))
    u = stack.control_norms()
    assert u.shape == (2, 3) and math.isnan(float(u[1, 2]))
    net = stack.to_resnet_oc(1)
    for k, block in enumerate(net.blocks):
        expected = math.sqrt(sum(float((p.detach() ** 2).sum()) for p in block.parameters()))
        assert float(u[1, k]) == pytest.approx(expected, rel=1e-12)
    assert stack.num_parameters(0) == sum(p.numel() for p in stack.to_resnet_oc(0).parameters())


# -- objective and Adam -----------------------------------------------------------------------
@pytest.mark.parametrize(("C", "p_d"), [(2, 0.95), (10, 0.91), (3, 0.7)])
def test_fast_stage_loss_equals_kl_form(C, p_d):
    x = 3 * torch.randn(4, 2, 9, C, generator=gen(4), dtype=DT)
    y = torch.randint(0, C, (9,), generator=gen(5))
    ref = soft_cross_entropy(x, y.expand(4, 2, 9), p_d=p_d, C=C).mean(-1)
    torch.testing.assert_close(stage_losses_fast(x, y, C=C, p_d=p_d), ref, rtol=0, atol=1e-12)


def test_objective_weights():
    w = objective_weights([3, 2, 2], [True, False, True], 5.0, dtype=DT)
    expected = torch.tensor([[1, 0, 1], [1, 0, 1], [1, 5, 5], [5, 0, 0]], dtype=DT)
    assert torch.equal(w, expected)


def test_stack_objective_equals_ocp_objective():
    stack = tiny_stack((4, 4, 2))
    x = torch.randn(8, 3, generator=gen(6), dtype=DT)
    y = torch.randint(0, 2, (8,), generator=gen(7))
    L = stack_losses(stack, x, y, C=2, p_d=0.95)
    per_net = (objective_weights(stack.depths, [True, False, True], 3.0, dtype=DT) * L).sum(0)
    for m, stage in enumerate([True, False, True]):
        net = stack.to_resnet_oc(m)
        ref = ocp_objective(net(x), y, p_d=0.95, C=2, gamma=3.0, stage_cost=stage)
        assert float(per_net[m].detach()) == pytest.approx(float(ref.detach()), abs=1e-12)


@pytest.mark.parametrize("lrs", [[0.01, 0.01], [0.01, 0.1]])
def test_training_equals_torch_adam_on_each_network(lrs):
    """One learning rate and per-network learning rates against torch.optim.Adam(weight_decay=r)."""
    x, y = datasets.two_spirals(20, seed=0, dtype=DT)
    stack = ResNetStack([3, 3], [0, 1], n=2, width=4, activation="tanh", dtype=DT)
    nets = [stack.to_resnet_oc(m) for m in range(2)]
    train_stack(stack, x, y, stage_cost=[True, False], lr=lrs, gamma=3.0, weight_decay=0.005, C=2, p_d=0.95, steps=25)
    for m, (net, lr) in enumerate(zip(nets, lrs)):
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=0.005)
        for _ in range(25):
            loss = ocp_objective(net(x), y, p_d=0.95, C=2, gamma=3.0, stage_cost=m == 0)
            opt.zero_grad()
            loss.backward()
            opt.step()
        trained = stack.to_resnet_oc(m)
        for a, b in zip(net.parameters(), trained.parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_network_trains_to_the_same_bits_alone_and_in_a_mixed_lr_stack(dtype):
    """The cache's unit is one network: its numbers must not depend on the other networks' learning rates
    (a sweep trains one lr per task, a serial run the whole stack)."""
    x, y = datasets.two_spirals(20, seed=0, dtype=dtype)
    kw = dict(gamma=3.0, weight_decay=0.005, C=2, p_d=0.95, steps=30, schedule="cosine")
    mixed = ResNetStack([5, 3, 3], [0, 1, 2], n=2, width=4, activation="tanh", dtype=dtype)
    h_mixed = train_stack(mixed, x, y, stage_cost=[True, True, False], lr=[0.01, 0.1, 0.01], **kw)
    for m, (depth, stage, lr) in enumerate([(5, True, 0.01), (3, True, 0.1), (3, False, 0.01)]):
        alone = ResNetStack([depth], [m], n=2, width=4, activation="tanh", dtype=dtype)
        h = train_stack(alone, x, y, stage_cost=[stage], lr=[lr], **kw)
        assert torch.equal(h["objective"][:, 0], h_mixed["objective"][:, m])
        for a, b in zip(alone.to_resnet_oc(0).parameters(), mixed.to_resnet_oc(m).parameters()):
            assert torch.equal(a, b)


def test_flat_adam_first_step_is_lr_times_sign():
    theta = torch.zeros(4, dtype=DT)
    grad = torch.tensor([1.0, -2.0, 0.5, -0.1], dtype=DT)
    FlatAdam(theta, grad, lr=0.1, weight_decay=0.0).step()
    torch.testing.assert_close(theta, -0.1 * grad.sign(), rtol=0, atol=1e-7)


def test_minibatch_training_uses_every_sample_once_per_epoch():
    x, y = datasets.two_spirals(10, seed=0, dtype=DT)
    stack = ResNetStack([2], [0], n=2, width=3, activation="relu", dtype=DT)
    h = train_stack(
        stack,
        x,
        y,
        stage_cost=[True],
        lr=[0.01],
        gamma=1.0,
        weight_decay=0.0,
        C=2,
        p_d=0.95,
        epochs=3,
        batch_size=8,
        data_seed=1,
    )
    assert h["objective"].shape == (3 * 3, 1)  # ceil(20 / 8) = 3 batches per epoch


# -- measurements -----------------------------------------------------------------------------
def test_required_depth_on_hand_made_curves():
    L = [2.0, 1.0, 0.5, 0.12, 0.09, 0.1, 0.1]  # threshold 0.1 + 0.05·1.9 = 0.195
    assert required_depth(L, 0.05) == 3
    assert required_depth([2.0, 0.1, 0.3, 0.1], 0.05) == 3  # leaves the band at k = 2: enter and stay
    assert required_depth([1.0, 1.0, 1.0], 0.05) == 2  # no drop: the full depth
    assert required_depth([0.5, 0.7], 0.05) == 1  # rising curve: the full depth
    assert required_depth([float("nan")] * 4) == 3
    assert required_depth_abs([2.0, 0.5, 0.015, 0.011, 0.0109, 0.005], tol=0.01) == 2
    assert required_depth_acc([0.1, 0.9, 0.99, 0.98, 0.996, 1.0]) == 4
    assert stays_from([True, False, True, True]) == 2 and stays_from([True] * 3) == 0 and stays_from([False]) == 1


def test_turnpike_counts_on_hand_made_curves():
    d = [3.0, 2.0, 0.4, 0.6, 0.3, 0.2, 5.0]  # N = 6; the last state is not counted
    assert on_turnpike_count(d, 0.5) == 3
    assert off_turnpike_count(d, 0.5) == 3
    assert off_turnpike_count(d, 10.0) == 0
    assert off_turnpike_count([1.0, float("nan"), 0.1], 0.5) == 2
    s = curve_summary(
        torch.tensor([2.0, 0.1, 0.1]),
        torch.tensor([0.1, 1.0, 1.0]),
        torch.tensor([3.0, 0.1, 0.1]),
        eps_required=0.05,
        eps_turnpike=0.5,
    )
    assert s == CurveSummary(k_star=1, k_star_abs=1, k_star_acc=1, off_turnpike_count=1)


def tiny_run():
    data = datasets.two_spirals_split(12, seed=0, kind="random", noise=0.5, n=3)
    nets = [
        network_spec(label="a", role="stage_cost", depth=4, stage_cost=True, lr=0.01, seed=1, seed_index=0),
        network_spec(label="b", role="without", depth=2, stage_cost=False, lr=0.05, seed=2, seed_index=1),
        network_spec(label="c", role="without", depth=4, stage_cost=False, lr=0.01, seed=1, seed_index=0),
    ]
    return train_and_measure(
        nets,
        data,
        n=3,
        width=4,
        activation="tanh",
        C=2,
        p_d=0.95,
        gamma=3.0,
        weight_decay=0.005,
        eps_required=0.05,
        eps_turnpike=1.0,
        steps=15,
        keep=2,
        keep_nets=(0,),
    )


def _assert_identical(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b) or (a.isnan() == b.isnan()).all() and torch.equal(a.nan_to_num(), b.nan_to_num())
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_identical(a[k], b[k])
    else:
        assert a == b


def test_seeded_training_run_is_bit_identical_on_cpu():
    with intra_op_threads(1):
        first, second = tiny_run(), tiny_run()
    assert [r["label"] for r in first] == ["a", "b", "c"]
    for a, b in zip(first, second):
        _assert_identical(a, b)
    rec, other = NetworkRecord.from_unit(first[0]), NetworkRecord.from_unit(first[1])
    assert rec.train.loss.shape == (5,) and rec.train.move.shape == (4,) and rec.u_norm.shape == (4,)
    assert rec.states.shape == (5, 24, 2) and "states" not in first[1] and other.states is None
    assert other.train.loss.shape == (3,)
    assert rec.history_objective.shape == rec.history_terminal.shape == (15,)
    # the crop after k* reproduces x_k* (and hence acc_k*) of the full pass
    c = rec.crop
    assert c.k == rec.train_summary.k_star and rec.crop_abs.k == rec.train_summary.k_star_abs
    assert c.max_state_diff < 1e-5
    assert c.test_acc == pytest.approx(float(rec.test.acc[c.k]), abs=1e-12)
    # layer 0 is the data: every network has the same L_0
    assert float(rec.train.loss[0]) == float(other.train.loss[0])


def test_intra_op_threads_restores():
    before = torch.get_num_threads()
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with intra_op_threads(0):
        assert torch.get_num_threads() == before


# -- the MNIST page (Fig. 5) on a tiny run ------------------------------------------------------
def test_mnist_page_tables_prose_and_legible_figures_on_a_tiny_run():
    from lossdyn.dissipativity import p1_fig5_mnist_layer_loss as page
    from lossdyn.dissipativity.soft_ce import target_entropy
    from lossdyn.pipeline.plotting import MIN_TEXT_PX, text_px
    from lossdyn.pipeline.units import plan_for
    from tiny_grids import tiny

    cfg = tiny("p1_fig5_mnist_layer_loss")
    plan = plan_for(cfg)
    with intra_op_threads(1):
        res = page.finish(cfg, plan.assemble(plan.compute(plan.units, device="cpu")))
    figs = page.plot(res)
    assert [s.name for s in figs] == ["", "layers"]
    assert figs[0].caption.startswith("Paper 1, Figure 5 (a, b).") and figs[1].caption.startswith("Companion figure 1")
    assert sum(len(s.fig.axes) for s in figs) == 4
    for s in figs:
        assert s.alt and text_px(s.fig) >= MIN_TEXT_PX, (s.name, text_px(s.fig))
    # L_0 = log 10 - H(q~) is quoted at 6 decimals in the setup table and in the generated sentence
    L0 = f"{math.log(10) - target_entropy(10, cfg.p_d):.6f}"
    setup = dict(page.setup_table(res).rows)
    assert setup["L_0 = log 10 − H(q̃)"] == f"train {L0}, test {L0}, exact {L0}"
    assert f"L₀ = log 10 − H(q̃) = {L0} for every network" in page.l0_summary(res)
    # one row per network; the layer table reads the stage-cost network at a few layers, k* and N among them
    assert [row[0] for row in page.network_table(res).rows] == [r.label for r in res.networks]
    layers = page.layer_rows(res)
    stage = res.networks[0]
    assert {0, stage.train_summary.k_star, stage.depth} <= set(layers) and len(layers) <= 12
    assert len(page.layer_table(res).rows) == len(layers)
    assert len(page.cropping_table(res).rows) == 2 * len(res.networks)
    assert all(r.label in page.controls_summary(res) for r in res.networks)
    assert page.key_numbers(res)["paper"]["depth_stage"] == 60
