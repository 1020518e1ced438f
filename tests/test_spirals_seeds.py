"""How the two-spirals pages count seeds: the status of a run, the representative seed, the verdicts over
all seeds, the learning-rate schedules, and both pages end to end on tiny configs (book/methods.md#p1-training).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from lossdyn.dissipativity import data as datasets
from lossdyn.dissipativity import p1_fig2_4_two_spirals as spirals_page
from lossdyn.dissipativity import p1_turnpike_horizon as horizon_page
from lossdyn.dissipativity.resnet_oc import ocp_objective
from lossdyn.dissipativity.spirals import (
    CHANCE_MARGIN,
    TRAINED_ACC,
    network_status,
    representative_index,
    seeds_verdict,
    spread,
    status_counts,
)
from lossdyn.dissipativity.training import (
    LR_SCHEDULES,
    Crop,
    LayerCurves,
    NetworkRecord,
    ResNetStack,
    lr_factor,
    train_stack,
)
from lossdyn.dissipativity.turnpike import CurveSummary
from lossdyn.pipeline.claims import VERDICTS
from lossdyn.pipeline.figures import Cost
from lossdyn.pipeline.paths import notebook_dir
from lossdyn.pipeline.plotting import MIN_TEXT_PX, text_px
from lossdyn.pipeline.runner import notebook_defaults
from lossdyn.pipeline.units import plan_for

DT = torch.float64


# -- the status of one run ----------------------------------------------------------------------
def record(acc: float, *, loss: float = 0.05, history: list[float] | None = (2.0, 1.0)) -> NetworkRecord:
    """A hand-made record of depth 2 whose final training accuracy, loss and objective history are given."""
    curve = LayerCurves(
        loss=torch.tensor([0.5, 0.2, loss], dtype=DT),
        acc=torch.tensor([0.5, 0.8, acc], dtype=DT),
        dist=torch.tensor([2.0, 1.0, 0.5], dtype=DT),
        move=torch.tensor([0.1, 0.1], dtype=DT),
    )
    summary = CurveSummary(k_star=1, k_star_abs=1, k_star_acc=1, off_turnpike_count=1)
    crop = Crop(k=1, test_acc=acc, test_loss=loss, max_state_diff=0.0)
    return NetworkRecord(
        label="hand-made",
        role="stage_cost",
        depth=2,
        stage_cost=True,
        lr=0.01,
        seed=0,
        seed_index=0,
        n_parameters=1,
        train=curve,
        test=curve,
        train_summary=summary,
        test_summary=summary,
        u_norm=torch.tensor([1.0, 1.0], dtype=DT),
        crop=crop,
        crop_abs=crop,
        history_objective=None if history is None else torch.tensor(history, dtype=DT),
    )


def test_status_of_hand_made_runs():
    assert (TRAINED_ACC, CHANCE_MARGIN) == (0.97, 0.1)  # the declared thresholds (book/methods.md#p1-training)
    assert network_status(record(0.99)) == "trained"
    assert network_status(record(0.97)) == "trained"
    assert network_status(record(0.9699)) == "not trained"
    assert network_status(record(0.61)) == "not trained"
    assert network_status(record(0.6)) == "diverged"  # at chance: 1/C + 0.1
    assert network_status(record(0.333)) == "diverged"
    assert network_status(record(0.99, history=[1.0, 1.5])) == "diverged"  # the objective rose
    assert network_status(record(0.99, history=[1.0, float("nan")])) == "diverged"
    assert network_status(record(0.99, history=[1.0, float("inf")])) == "diverged"
    assert network_status(record(0.99, loss=float("nan"))) == "diverged"
    assert network_status(record(0.99, history=None)) == "trained"  # no history: the other rules only
    assert status_counts(["trained", "diverged", "trained"]) == {"trained": 2, "not trained": 0, "diverged": 1}


# -- the representative seed --------------------------------------------------------------------
def test_representative_is_the_trained_seed_with_the_median_k_star_ties_to_the_lowest_seed():
    T, U, D = "trained", "not trained", "diverged"
    # trained (k*, seed): (12, 0), (5, 1), (9, 2), (9, 5): the lower median is (9, 2)
    assert representative_index([12, 5, 9, 30, 7, 9], [T, T, T, D, U, T]) == 2
    # odd count: the middle one; the untrained seed 1 with the smallest k* is not eligible
    assert representative_index([10, 3, 6, 8], [T, U, T, T]) == 3
    assert representative_index([7, 7, 7], [T, T, T]) == 1  # all tied: the middle of seeds 0, 1, 2
    assert representative_index([7, 7], [T, T]) == 0  # the lower median of two ties goes to the lower seed
    assert representative_index([4, 9, 2], [D, U, U]) == 2  # none trained: among those that did not diverge
    assert representative_index([4, 9], [D, D]) == 0  # every one diverged: the first
    with pytest.raises(ValueError):
        representative_index([1, 2], [T])


def test_spread_is_median_min_max():
    assert spread([3, 1, 2]) == (2.0, 1.0, 3.0)
    assert spread([1, 2, 3, 10]) == (2.5, 1.0, 10.0)
    assert all(math.isnan(v) for v in spread([]))


# -- verdicts over all seeds --------------------------------------------------------------------
def test_seeds_verdict_counts_every_seed():
    assert seeds_verdict(6, 0, median_ok=False, any_ok=False) == "not measured"
    assert seeds_verdict(6, 4, median_ok=True, any_ok=True) == "reproduced"
    assert seeds_verdict(6, 3, median_ok=True, any_ok=True) == "partial"  # half trained is not most
    assert seeds_verdict(6, 6, median_ok=False, any_ok=True) == "partial"
    assert seeds_verdict(6, 6, median_ok=False, any_ok=False) == "not reproduced"
    assert seeds_verdict(1, 1, median_ok=True, any_ok=True) == "reproduced"


def test_slope_uses_the_ordinary_median():
    # medians 4, 6, 7.5 (the middle two of 7, 7, 8, 10) at N = 8, 16, 24: slope 3.5 / 16
    counts = {8: [4, 4, 4], 16: [6, 6, 6, 7], 24: [7, 10, 7, 8]}
    assert horizon_page.slope_vs_depth(counts) == pytest.approx(3.5 / 16, abs=1e-15)
    assert math.isnan(horizon_page.slope_vs_depth({8: [4]}))


def test_q7_needs_three_depths_and_most_seeds_trained():
    v = horizon_page.q7_verdict
    assert v(0.05, [0.1], 2, True) == "not measured"
    assert v(0.05, [0.1], 3, True) == "reproduced"
    assert v(0.05, [0.1], 3, False) == "partial"  # bounded, but too many seeds failed somewhere
    assert v(0.4, [0.9], 4, True) == "partial"
    assert v(0.7, [0.15], 4, True) == "partial"
    assert v(0.7, [0.6], 4, True) == "not reproduced"
    assert v(float("nan"), [], 1, False) == "not measured"


# -- learning-rate schedules ----------------------------------------------------------------------
def test_lr_factor():
    assert LR_SCHEDULES == ("constant", "cosine", "warmup_cosine")
    assert [lr_factor("constant", t, 10) for t in (0, 9)] == [1.0, 1.0]
    assert lr_factor("cosine", 0, 10) == 1.0
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5, abs=1e-15)
    assert lr_factor("cosine", 9, 10) == pytest.approx(0.5 * (1 + math.cos(0.9 * math.pi)))
    # warm-up over ceil(0.05 · 100) = 5 steps, then the cosine over the other 95
    assert [lr_factor("warmup_cosine", t, 100) for t in range(5)] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert lr_factor("warmup_cosine", 5, 100) == 1.0
    assert lr_factor("warmup_cosine", 5 + 95 // 2, 100) == pytest.approx(0.5 * (1 + math.cos(math.pi * 47 / 95)))
    with pytest.raises(ValueError, match="schedule"):
        lr_factor("step", 0, 10)


@pytest.mark.parametrize("lrs", [[0.01, 0.01], [0.01, 0.1]])
@pytest.mark.parametrize("schedule", ["cosine", "warmup_cosine"])
def test_scheduled_training_equals_torch_adam_with_the_same_lr_per_step(lrs, schedule):
    """Fused (equal lr) and elementwise (per-network lr) paths against torch.optim.Adam with lr set each step."""
    steps = 20
    x, y = datasets.two_spirals(20, seed=0, dtype=DT)
    stack = ResNetStack([3, 3], [0, 1], n=2, width=4, activation="tanh", dtype=DT)
    nets = [stack.to_resnet_oc(m) for m in range(2)]
    kw = dict(gamma=3.0, weight_decay=0.005, C=2, p_d=0.95)
    train_stack(stack, x, y, stage_cost=[True, False], lr=lrs, steps=steps, schedule=schedule, **kw)
    for m, (net, lr) in enumerate(zip(nets, lrs)):
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=0.005)
        for t in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr * lr_factor(schedule, t, steps)
            loss = ocp_objective(net(x), y, p_d=0.95, C=2, gamma=3.0, stage_cost=m == 0)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for a, b in zip(net.parameters(), stack.to_resnet_oc(m).parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_an_unknown_schedule_fails_before_training():
    x, y = datasets.two_spirals(5, seed=0, dtype=DT)
    stack = ResNetStack([2], [0], n=2, width=3, activation="tanh", dtype=DT)
    before = stack.theta.clone()
    with pytest.raises(ValueError, match="schedule"):
        train_stack(stack, x, y, stage_cost=[True], lr=[0.01], gamma=1.0, weight_decay=0.0, C=2, p_d=0.95, steps=3,
                    schedule="linear")  # fmt: skip
    assert torch.equal(stack.theta, before)


# -- both pages on tiny configs -----------------------------------------------------------------
def _config(page, **changes):
    values = notebook_defaults(notebook_dir() / f"{page.Config.notebook}.ipynb")
    values.update(n_per_class=20, width=4, steps=30, **changes)
    return page.Config.from_mapping(values)


def _run(page, cfg):
    plan = plan_for(cfg)
    return page.finish(cfg, plan.assemble(plan.compute(plan.units, device="cpu")))


def test_two_spirals_page_counts_every_seed_and_shows_the_representative():
    cfg = _config(spirals_page, seeds=3, depth=4, lr_schedule="cosine")
    res = _run(spirals_page, cfg)
    assert len(res.status) == len(res.networks) == 3 * cfg.seeds
    assert res.status == [network_status(r) for r in res.networks]
    stage = [r for r in res.networks if r.role == "stage_cost"]
    expected = representative_index(
        [r.train_summary.k_star for r in stage], [s for r, s in zip(res.networks, res.status) if r.role == "stage_cost"]
    )
    assert res.representative == stage[expected].seed_index
    # every stage-cost and baseline network keeps its states (the representative is chosen after training)
    assert all((r.states is not None) == (r.role != "lr_paper") for r in res.networks)
    numbers = spirals_page.key_numbers(res)
    for role in ("stage_cost", "without", "lr_paper"):
        n = numbers[role]
        assert n["trained"] + n["not_trained"] + n["diverged"] == n["seeds"] == cfg.seeds
        assert len(n["status_per_seed"]) == cfg.seeds
    assert numbers["representative_seed"] == res.representative
    claims = spirals_page.claims(res)
    assert [c.id for c in claims] == ["P1-Q1", "P1-Q2", "P1-Q4s", "P1-Q5s", "P1-Q6s", "P1-lr"]
    assert all(c.verdict in VERDICTS for c in claims)
    table = spirals_page.seeds_table(res)
    assert table.columns[2:5] == ["trained", "not trained", "diverged"]
    assert [row[1] for row in table.rows] == [cfg.seeds] * 3
    assert f"**seed {res.representative}**" in spirals_page.representative_text(res)
    assert len(spirals_page.network_table(res).rows) == len(res.networks)
    assert [row[0] for row in spirals_page.layer_table(res).rows] == [0, 1, 2, 3, 4]  # depth 4: every layer
    assert isinstance(spirals_page.estimate(cfg), Cost)
    assert numbers["paper"]["training_samples"] == 480 and numbers["paper"]["depth_N"] == 30
    # the figure draws every status (tiny runs do not train: draw them once more as if they had)
    for shown in (res, dataclasses.replace(res, status=["trained", "not trained", "diverged"] * cfg.seeds)):
        figures = spirals_page.plot(shown)
        assert sum(len(s.fig.axes) for s in figures) == 12
        titles = [ax.get_title(loc="left")[:3] for s in figures for ax in s.fig.axes]
        assert titles == [f"({c})" for c in "abcdefghijkl"]  # panel letters unique on the page, in order
        for s in figures:
            assert s.caption.strip() and s.alt.strip()
            assert text_px(s.fig) >= MIN_TEXT_PX
        # cropping: two rows per objective with a trained network, and the baseline at the stage-cost k⋆
        trained = {r.role for r, st in zip(shown.networks, shown.status) if st == "trained"}
        rows = spirals_page.cropping_table(shown).rows
        expected = ["k⋆", "k⋆_abs"] * len(trained) + ["k⋆ of the stage-cost seed"] * ("stage_cost" in trained)
        assert [r[1] for r in rows] == expected
    assert len(trained) == 3  # the second pass has a trained network of every objective


def test_horizon_page_trains_each_state_dimension_and_a_unit_alone_gives_the_same_bits():
    cfg = _config(horizon_page, seeds=2, depths=[2, 3, 5], state_dims=[4, 2])
    plan = plan_for(cfg)
    assert len(plan.units) == 2 * 2 * 3
    records = plan.compute(plan.units, device="cpu")
    res = horizon_page.finish(cfg, plan.assemble(records))
    assert res.state_dim == [4] * 6 + [2] * 6
    assert [(r.depth, r.seed_index) for r in res.networks[:6]] == [(5, 0), (3, 0), (2, 0), (5, 1), (3, 1), (2, 1)]
    assert all(r.history_objective is not None and r.history_terminal is None for r in res.networks)
    # one n = 2 network computed alone is the same bits as inside the mixed batch (the results cache relies on it)
    alone = plan.compute([plan.units[7]], device="cpu")[0]
    for key in ("train", "test"):
        for curve in ("loss", "acc", "dist"):
            assert torch.equal(alone[key][curve], records[7][key][curve])
    assert torch.equal(alone["history_objective"], records[7]["history_objective"])
    numbers = horizon_page.key_numbers(res)
    assert set(numbers) >= {"n=4", "n=2"}
    claims = horizon_page.claims(res)
    assert [c.id for c in claims] == ["P1-Q7 (n = 4)", "P1-Q7 (n = 2)"]
    assert all(c.verdict in VERDICTS for c in claims)
    assert [row[0] for row in horizon_page.depth_table(res).rows] == [4] * 3 + [2] * 3  # k*, d_N, acc_N
    assert [row[0] for row in horizon_page.count_table(res).rows] == [4] * 6 + [2] * 6  # status, 3 eps, test, slope
    for shown in (res, dataclasses.replace(res, status=["trained", "not trained", "diverged"] * 4)):
        figs = horizon_page.plot(shown)
        assert [s.name for s in figs] == ["", "layers", "required-depth"]
        assert sum(len(s.fig.axes) for s in figs) == 8
        for s in figs:
            assert s.caption.startswith("Companion figure") and s.alt
            assert text_px(s.fig) >= MIN_TEXT_PX, (s.name, text_px(s.fig))
    assert "2 seeds per depth" in horizon_page.plot(res)[0].caption
    one_seed = dataclasses.replace(res, config=dataclasses.replace(cfg, seeds=1))
    assert "one network per depth" in horizon_page.plot(one_seed)[0].caption
    two = horizon_page.estimate(cfg)
    one = horizon_page.estimate(_config(horizon_page, seeds=2, depths=[2, 3, 5], state_dims=[4]))
    assert two.seconds > one.seconds and two.memory_bytes > one.memory_bytes
