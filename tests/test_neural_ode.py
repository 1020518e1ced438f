"""Paper 1, Section 5: the fixed-step schemes against exp(tA), equilibria kept, Euler with Δt = 1 equal to the
ResNet stack bit for bit, the Riemann-sum objective, the page's config errors and a tiny plan/finish run."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from lossdyn.dissipativity import data as datasets
from lossdyn.dissipativity import p1_neural_ode_turnpike as page
from lossdyn.dissipativity.neural_ode import (
    ORDER,
    SCHEMES,
    ODERecord,
    ODEStack,
    integrate,
    step,
    steps_per_unit,
    train_and_measure_ode,
    zero_control_residual,
)
from lossdyn.dissipativity.training import (
    ResNetStack,
    network_spec,
    stack_losses,
    train_and_measure,
    train_stack,
)
from lossdyn.pipeline.claims import VERDICTS
from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.figures import Cost
from lossdyn.pipeline.paths import notebook_dir
from lossdyn.pipeline.plotting import MIN_TEXT_PX, text_px
from lossdyn.pipeline.runner import notebook_defaults
from lossdyn.pipeline.units import plan_for

DT = torch.float64


def gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def linear_problem(seed: int = 0, n: int = 3, D: int = 5):
    A = torch.randn(n, n, generator=gen(seed), dtype=DT) / math.sqrt(n)
    x0 = torch.randn(D, n, generator=gen(seed + 1), dtype=DT)
    return A, x0


# -- the schemes against a closed-form linear ODE -----------------------------------------------
@pytest.mark.parametrize(("scheme", "dt"), [("euler", 0.01), ("midpoint", 0.05), ("rk4", 0.1)])
def test_order_of_convergence_on_a_linear_ode(scheme, dt):
    """ẋ = Ax, x(T) = x0·exp(TA)ᵀ: halving Δt divides the error at T = 1 by 2^order."""
    A, x0 = linear_problem()
    exact = x0 @ torch.linalg.matrix_exp(A).T
    errors = []
    for h in (dt, dt / 2):
        N = round(1.0 / h)
        states = integrate(scheme, [lambda x: x @ A.T] * N, x0, h)
        assert states.shape == (N + 1, *x0.shape)
        errors.append(float((states[-1] - exact).abs().max()))
    assert math.log2(errors[0] / errors[1]) == pytest.approx(ORDER[scheme], abs=0.1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_piecewise_constant_controls_converge_to_the_product_of_exponentials(scheme):
    """One matrix A_j per unit of time: the exact flow over [0, 2] is exp(A_1)·exp(A_0); refining the grid
    (each A_j held for 1/Δt steps) converges with the scheme's order."""
    A0, x0 = linear_problem(0)
    A1, _ = linear_problem(5)
    exact = x0 @ torch.linalg.matrix_exp(A0).T @ torch.linalg.matrix_exp(A1).T
    errors = []
    for h in (0.1, 0.05):
        r = steps_per_unit(h)
        fields = [lambda x: x @ A0.T] * r + [lambda x: x @ A1.T] * r
        errors.append(float((integrate(scheme, fields, x0, h)[-1] - exact).abs().max()))
    assert math.log2(errors[0] / errors[1]) == pytest.approx(ORDER[scheme], abs=0.15)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_equilibrium_stays_put(scheme):
    """F(x⋆) = 0 ⇒ Φ(x⋆) = x⋆ for every Δt, exactly (Def. 17); a point off the equilibrium moves."""
    A, x0 = linear_problem(2)
    x_star = x0[:1]
    F = lambda x: (x - x_star) @ A.T  # noqa: E731
    for dt in (1.0, 0.5, 0.1):
        assert torch.equal(integrate(scheme, [F] * 5, x_star, dt)[-1], x_star)
    assert not torch.equal(step(scheme, F, x0[1:2], 0.5), x0[1:2])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_block_26_at_a_steady_state_pair_keeps_the_state(scheme):
    """b_2 = −A_2 σ1(A_1 x⋆ + b_1) makes (x⋆, u) a steady-state pair of F of block (26): every scheme keeps x⋆."""
    stack = ODEStack([3], [7], scheme=scheme, dt=0.5, n=3, width=4, activation="tanh", dtype=DT)
    x_star = torch.randn(1, 3, generator=gen(3), dtype=DT)
    with torch.no_grad():
        for A1t, b1, A2t, b2 in stack.blocks:
            b2.copy_(-(torch.tanh(x_star @ A1t[0] + b1[0]) @ A2t[0]))
    torch.testing.assert_close(stack.forward(x_star)[:, 0], x_star.expand(4, 1, 3), rtol=0, atol=1e-14)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_zero_control_makes_every_state_a_fixed_point(scheme, dt):
    """u = 0 (σ1(0) = 0): F ≡ 0, so every state is a fixed point of every scheme (Prop. 18's proof), exactly."""
    x = torch.randn(20, 4, generator=gen(4), dtype=DT) * 5
    assert zero_control_residual(scheme, dt, x, width=3, activation="tanh") == 0.0
    stack = ODEStack([6, 2], [0, 1], scheme=scheme, dt=dt, n=4, width=3, activation="relu", dtype=DT)
    stack.theta.detach().zero_()
    assert torch.equal(stack.forward(x), x.expand(7, 2, 20, 4))


def test_step_sizes_and_schemes_are_checked():
    assert [steps_per_unit(h) for h in (1.0, 0.5, 0.25, 0.2)] == [1, 2, 4, 5]
    for bad in (0.3, 2.0, 0.0, -0.5):
        with pytest.raises(ValueError, match="1/dt to be a whole number"):
            steps_per_unit(bad)
    with pytest.raises(ValueError, match="unknown scheme 'heun'"):
        step("heun", lambda x: x, torch.zeros(1), 0.1)
    with pytest.raises(ValueError, match="unknown scheme"):
        ODEStack([1], [0], scheme="heun", dt=1.0, n=2, width=2, activation="tanh")


# -- Euler with Δt = 1 is the ResNet ------------------------------------------------------------
def _pair(depths=(5, 3, 3), n=3, width=4, dtype=torch.float32):
    seeds = list(range(10, 10 + len(depths)))
    kw = dict(n=n, width=width, activation="tanh", dtype=dtype)
    return ResNetStack(list(depths), seeds, **kw), ODEStack(list(depths), seeds, scheme="euler", dt=1.0, **kw)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_euler_with_unit_step_is_the_resnet_stack_bit_for_bit(dtype):
    resnet, ode = _pair(dtype=dtype)
    x = torch.randn(9, 3, generator=gen(5), dtype=dtype)
    assert torch.equal(ode.theta, resnet.theta)
    assert torch.equal(ode.forward(x), resnet.forward(x))
    assert torch.equal(ode.logits(x, 2), resnet.logits(x, 2))
    for m, depth in enumerate(resnet.depths):  # and the plain nn.Linear ResNet, to rounding
        torch.testing.assert_close(ode.forward(x)[: depth + 1, m], resnet.to_resnet_oc(m)(x), rtol=0, atol=1e-5)


def test_euler_with_unit_step_trains_as_the_resnet_stack_bit_for_bit():
    resnet, ode = _pair()
    x = torch.randn(24, 3, generator=gen(6))
    y = (x[:, 0] > 0).long()
    kw = dict(stage_cost=[True] * 3, lr=[0.01, 0.02, 0.01], gamma=3.0, weight_decay=0.005, C=2, p_d=0.95, steps=12)
    h_resnet, h_ode = train_stack(resnet, x, y, **kw), train_stack(ode, x, y, **kw)
    assert torch.equal(ode.theta, resnet.theta)
    assert torch.equal(h_ode["objective"], h_resnet["objective"])


def _spirals(n=4):
    return datasets.two_spirals_split(12, seed=0, kind="random", noise=0.5, n=n)


MEASURE = dict(n=4, width=4, activation="tanh", C=2, p_d=0.95, gamma=3.0, weight_decay=0.005)
MEASURE.update(eps_required=0.05, eps_turnpike=1.0, steps=10, schedule="cosine")


def _nets(depths, dt=1.0):
    nets = []
    for i, N in enumerate(depths):
        spec = network_spec(label=f"N{N}", role="euler", depth=N, stage_cost=True, lr=0.01, seed=100 + i, seed_index=i)
        nets.append(dict(spec, horizon=round(N * dt)))
    return nets


def test_euler_page_records_at_unit_step_equal_the_resnet_records():
    nets = _nets([4, 2])
    ode = train_and_measure_ode(nets, _spirals(), scheme="euler", dt=1.0, **MEASURE)
    plain = train_and_measure(nets, _spirals(), **MEASURE)
    for a, b in zip(ode, plain):
        for split in ("train", "test"):
            for key in ("loss", "acc", "dist", "move"):
                assert torch.equal(a[split][key], b[split][key])
        assert a["train_summary"] == b["train_summary"]
        assert torch.equal(a["u_norm"], b["u_norm"])
        assert torch.equal(a["history_objective"], b["history_objective"])
    rec = ODERecord.from_unit(ode[0])
    assert rec.train.loss.shape == (5,) and torch.equal(rec.times, torch.arange(5, dtype=DT))


# -- finer steps: the initial control and the Riemann sum ------------------------------------------
def test_every_step_size_starts_from_the_same_piecewise_constant_control():
    coarse = ODEStack([3], [4], scheme="euler", dt=1.0, n=3, width=2, activation="tanh")
    fine = ODEStack([12], [4], scheme="rk4", dt=0.25, n=3, width=2, activation="tanh")
    for k in range(12):
        for p_fine, p_coarse in zip(fine.blocks[k], coarse.blocks[k // 4]):
            assert torch.equal(p_fine, p_coarse)
    assert torch.equal(fine.times(0), torch.arange(13, dtype=DT) / 4)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_history_is_the_riemann_sum_objective(scheme):
    """history_objective[0] = Δt·Σ_{k<N} L_k + γ·L_N at the initial controls (eq. 20a, left Riemann sum)."""
    dt, nets, data = 0.5, _nets([6, 4], dt=0.5), _spirals()
    init = ODEStack([6, 4], [100, 101], scheme=scheme, dt=dt, n=4, width=4, activation="tanh")
    L = stack_losses(init, data["x_train"], data["y_train"], C=2, p_d=0.95).detach().double()
    expected = [dt * float(L[:N, m].sum()) + 3.0 * float(L[N, m]) for m, N in enumerate((6, 4))]
    records = train_and_measure_ode(nets, data, scheme=scheme, dt=dt, **MEASURE)
    got = [float(r["history_objective"][0]) for r in records]
    assert got == pytest.approx(expected, rel=1e-5)


# -- the page ---------------------------------------------------------------------------------------
TINY = dict(n_per_class=20, width=4, steps=30, seeds=2, horizons=[2, 3, 4], dts=[1.0, 0.5], horizon=3, scheme_dt=1.0)


def _config(**changes):
    values = notebook_defaults(notebook_dir() / "p1_neural_ode_turnpike.ipynb")
    values.update(TINY)
    values.update(changes)
    return page.Config.from_mapping(values)


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        ({"horizon": 7}, "horizon", "one of horizons"),
        ({"horizons": [5]}, "horizons", "at least two distinct horizons"),
        ({"horizons": [5, 5, 6]}, "horizons", "distinct"),
        ({"dts": [1.0, 0.3]}, "dts", "1/dt a whole number"),
        ({"dts": [0.0005], "scheme_dt": 0.0005}, "dts", "at most 4000 steps"),
        ({"schemes": ["euler"]}, "schemes", "midpoint, rk4"),
        ({"schemes": ["rk4", "rk4"]}, "schemes", "distinct"),
        ({"scheme_dt": 0.25}, "scheme_dt", "one of dts"),
        ({"state_dim": 1}, "state_dim", "2 <= state_dim"),
        ({"steps": 0}, "steps", "1 <= steps"),
    ],
)
def test_config_errors_name_the_key(change, key, fragment):
    with pytest.raises(ConfigError) as err:
        _config(**change)
    message = str(err.value)
    assert message.startswith(f"{key} = ") and fragment in message and "\n" not in message


def test_tiny_plan_and_finish_count_every_network_and_a_unit_alone_gives_the_same_bits():
    cfg = _config()
    plan = plan_for(cfg)
    assert len(plan.units) == 2 * 3 * (2 + 2)  # seeds × horizons × (Euler step sizes + further schemes)
    records = plan.compute(plan.units, device="cpu")
    res = page.finish(cfg, plan.assemble(records))
    assert [(r.scheme, r.dt) for r in res.networks[::6]] == page.series(cfg)
    assert [(r.horizon, r.depth) for r in res.networks[6:9]] == [(4, 8), (3, 6), (2, 4)]
    assert len(res.status) == len(res.networks) and set(res.status) <= {"trained", "not trained", "diverged"}
    assert res.representative in range(cfg.seeds)
    # one RK4 network computed alone is the same bits as inside its stack (the results cache relies on it)
    i = next(j for j, u in enumerate(plan.units) if u.obj["scheme"] == "rk4")
    alone = plan.compute([plan.units[i]], device="cpu")[0]
    for split in ("train", "test"):
        for key in ("loss", "acc", "dist"):
            assert torch.equal(alone[split][key], records[i][split][key])
    assert torch.equal(alone["history_objective"], records[i]["history_objective"])
    numbers = page.key_numbers(res)
    assert set(numbers["refinement_gaps"]) == {"1"}
    series_numbers = numbers["euler, dt=0.5"]
    assert set(series_numbers["status"]) == {"2", "3", "4"} and series_numbers["zero_control_residual"] == 0.0
    r = res.networks[0]
    assert page.measure_of_off_turnpike_set(r, 1.0) == r.dt * int((r.train.dist[:-1] > 1.0).sum())
    claims = page.claims(res)
    ids = ["P1-P16 (euler, dt = 1)", "P1-P16 (euler, dt = 0.5)", "P1-P18 (midpoint, dt = 1)"]
    assert [c.id for c in claims] == [*ids, "P1-P18 (rk4, dt = 1)", "P1-D17", "P1-S5-dt"]
    assert all(c.verdict in VERDICTS for c in claims) and claims[4].verdict == "reproduced"
    table, times = page.count_table(res), page.time_table(res)
    assert (
        [row[0] for row in table.rows]
        == [row[0] for row in times.rows]
        == [f"{s}, Δt = {dt:g}" for s, dt in page.series(cfg)]
    )
    assert len(table.columns) == len(times.columns) + 1 == 3 + len(cfg.horizons)
    for shown in (res, dataclasses.replace(res, status=["trained", "not trained", "diverged"] * 8)):
        figs = page.plot(shown)
        assert [s.name for s in figs] == ["", "measure", "schemes"]
        assert sum(len(s.fig.axes) for s in figs) == 6
        for s in figs:
            assert s.caption.startswith("Companion figure") and s.alt
            assert text_px(s.fig) >= MIN_TEXT_PX, (s.name, text_px(s.fig))
    assert isinstance(page.estimate(cfg), Cost)
    assert page.estimate(_config(seeds=4)).seconds > page.estimate(cfg).seconds


def test_verdict_rules():
    assert page.prop16_verdict(0.1, 3, True) == "reproduced"
    assert page.prop16_verdict(0.1, 3, False) == "partial"
    assert page.prop16_verdict(0.4, 3, True) == "partial"
    assert page.prop16_verdict(0.9, 3, True) == "not reproduced"
    assert page.prop16_verdict(0.0, 2, True) == "not measured"
    assert page.slope_vs_horizon({10: [1.0, 3.0], 20: [2.0], 40: [2.0]}) == pytest.approx(0.0, abs=0.02)
    assert page.slope_vs_horizon({10: [5.0], 20: [15.0]}) == pytest.approx(1.0)
    assert math.isnan(page.slope_vs_horizon({10: [1.0]}))
