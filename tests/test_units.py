"""Units of work (lossdyn.pipeline.units): the cache grain; growing a grid computes only the new units."""

from __future__ import annotations

import importlib

import pytest

from lossdyn.dynamical.ensemble import Member, TrainSpec, concat_parts, cpu_chunk, train_chunk, train_many
from lossdyn.pipeline import cache
from lossdyn.pipeline.units import EnsemblePlan, NetworkPlan, WholeRun, plan_for, split_members
from same import assert_same
from tiny_grids import TINY, tiny


def _keys(cfg) -> list[str]:
    plan = plan_for(cfg)
    keys = cache.unit_keys(plan, cache.device_type(cfg))
    return [keys[id(u)] for u in plan.units]


def test_every_notebook_has_a_plan_and_the_grids_have_one_unit_per_run():
    kinds = {nb: type(plan_for(tiny(nb))) for nb in TINY}
    assert kinds == {
        "p2_fig5_edge_of_stability": EnsemblePlan,
        "p2_fig4_validation_accuracy": EnsemblePlan,
        "p1_turnpike_horizon": NetworkPlan,
        "p1_fig5_mnist_layer_loss": NetworkPlan,
    }
    c = tiny("p2_fig5_edge_of_stability")
    assert len(plan_for(c).units) == len(c.etas) * len(c.amplitudes) * len(c.periods) * c.n_seeds
    c = tiny("p1_turnpike_horizon")
    assert len(plan_for(c).units) == len(c.depths) * c.seeds


def test_whole_run_plan_for_pages_without_a_grid():
    from lossdyn.dissipativity.p1_fig1_soft_cross_entropy import Config
    from test_config import GOOD

    assert isinstance(plan_for(Config.from_mapping(GOOD)), WholeRun)


@pytest.mark.parametrize(
    ("notebook", "grow"),
    [
        ("p2_fig5_edge_of_stability", {"n_seeds": 3}),
        ("p2_fig5_edge_of_stability", {"etas": [0.5, 1.0, 2.0]}),
        ("p2_fig4_validation_accuracy", {"widths": [5, 10, 20]}),
        ("p1_turnpike_horizon", {"depths": [3, 5, 8]}),
        ("p1_turnpike_horizon", {"seeds": 3}),
        ("p1_fig5_mnist_layer_loss", {"depths_without": [3, 2, 6]}),
    ],
)
def test_growing_a_grid_keeps_the_keys_of_the_old_units(notebook, grow):
    old, new = _keys(tiny(notebook)), _keys(tiny(notebook, **grow))
    assert set(old) < set(new)


@pytest.mark.parametrize(
    ("notebook", "change"),
    [
        ("p2_fig5_edge_of_stability", {"H": 21}),
        ("p2_fig5_edge_of_stability", {"dtype": "float64"}),
        ("p1_turnpike_horizon", {"p_d": 0.9}),
        ("p1_fig5_mnist_layer_loss", {"lr": 0.002}),
    ],
)
def test_changing_a_shared_setting_changes_every_unit(notebook, change):
    assert not set(_keys(tiny(notebook))) & set(_keys(tiny(notebook, **change)))


def test_presentation_and_device_do_not_change_the_units():
    base = _keys(tiny("p2_fig5_edge_of_stability"))
    assert _keys(tiny("p2_fig5_edge_of_stability", workers=2)) == base
    assert _keys(tiny("p2_fig5_edge_of_stability", device="cpu")) == base  # auto is cpu here


def test_split_then_concat_gives_back_the_ensemble_result_bit_for_bit():
    spec = TrainSpec(H=8, steps=300, dtype="float64", onset=True, lambda_steps=(0, 150, 300), loss_bins=20)
    members = [Member(0, 1.0, 30.0, 100), Member(1, 2.0, 10.0, 60), Member(0, 0.5)]
    whole = train_chunk(spec, members)
    parts = split_members(whole, spec)
    assert [p["n_models"] for p in parts] == [1, 1, 1]
    assert parts[0]["onset_t"].shape[1] == 3 and parts[1]["onset_t"].shape[1] == 5  # ⌈steps/T⌉ each
    assert_same(concat_parts(parts), whole)
    for member, part in zip(members, parts):  # a member alone gives its part of the batch
        assert_same(split_members(train_chunk(spec, [member]), spec)[0], part)


def direct(cfg):
    """The figure's result from its ensembles trained whole (no units, no cache)."""
    page = importlib.import_module(type(cfg).__module__)
    return page.finish(cfg, train_many(page.jobs(cfg), device="cpu", workers=1))


def test_serial_cached_run_equals_the_direct_run_and_grows_by_new_units_only(tmp_path, monkeypatch):
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    cfg = tiny("p2_fig5_edge_of_stability", n_seeds=1)
    result, info = cache.cached_run(cfg, root=tmp_path)
    assert_same(result, direct(cfg))
    assert (info.units, info.units_cached, info.hit) == (12, 0, False)

    computed = []
    original = EnsemblePlan.compute

    def counting(self, batch, **kw):
        computed.append(len(batch))
        return original(self, batch, **kw)

    monkeypatch.setattr(EnsemblePlan, "compute", counting)
    bigger = tiny("p2_fig5_edge_of_stability", n_seeds=2)
    result2, info2 = cache.cached_run(bigger, root=tmp_path)
    assert (info2.units, info2.units_cached, computed) == (24, 12, [12])
    assert_same(result2, direct(bigger))
    _, info3 = cache.cached_run(bigger, root=tmp_path)
    assert info3.hit and computed == [12] and info3.key == info2.key != info.key
    assert len(list((tmp_path / "results" / "units").iterdir())) == 24


def test_task_batches_are_ensemble_chunks_on_cpu_and_whole_groups_on_gpu():
    plan = plan_for(tiny("p2_fig5_edge_of_stability", n_seeds=3))
    cpu = plan.task_batches(plan.units, device="cpu")
    per_group = len(plan.units) // 2  # two η
    assert max(map(len, cpu)) == min(cpu_chunk(plan.units[0].obj[0].H), per_group)
    assert sum(map(len, cpu)) == len(plan.units)
    assert all(len({u.group for u in b}) == 1 for b in cpu)
    assert len(plan.task_batches(plan.units, device="cuda")) == 2  # one per η
    net = plan_for(tiny("p1_turnpike_horizon"))
    assert [len(b) for b in net.task_batches(net.units, device="cpu")] == [1, 1, 1, 1]
