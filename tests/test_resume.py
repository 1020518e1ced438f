"""A paper-profile grid computed in pieces, on several machines: ``publish --partial`` archives what a
stopped sweep finished, the next sweep (on a fresh cache) computes only the rest, the grid is then
published whole without touching the units already archived, and book/measured/sweeps.json adds the
pieces' times up."""

from __future__ import annotations

import shutil

import pytest

from conftest import ARCHIVE_NOTEBOOK
from lossdyn.pipeline import archive, cache
from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.measured import read_measured, record_sweep
from lossdyn.pipeline.sweep import SweepReport, run_task, sweep_tasks
from lossdyn.pipeline.units import plan_for
from tiny_grids import tiny


def _grid(cfg):
    plan = plan_for(cfg)
    keys = cache.unit_keys(plan, "cpu")
    return keys, cache.distinct_units(plan, keys)


def test_a_stopped_grid_is_published_in_part_and_resumed_elsewhere_from_the_archive(dirs):
    cache_dir, archive_dir = dirs
    cfg = tiny(ARCHIVE_NOTEBOOK)
    keys, units = _grid(cfg)
    cache.cached_run(cfg)
    for u in units[2:]:  # a sweep stopped after two of its four units
        shutil.rmtree(cache.unit_entry(keys[id(u)], cache_dir))
    with pytest.raises(ConfigError, match=r"^publish p1_turnpike_horizon: 2 of 4 units .* with --partial$"):
        archive.publish(cfg, cache_dir, archive_dir)
    part = archive.publish(cfg, cache_dir, archive_dir, partial=True)
    assert (len(part["units"]), part["grid_units"], part["complete"]) == (2, 4, False)
    assert archive.archived_counts(cfg, archive_dir) == (2, 4)
    kept = {n: (archive_dir / "units" / e["key"] / "meta.json").read_text() for n, e in part["units"].items()}

    elsewhere = cache_dir.parent / "elsewhere"  # another machine: a cache of its own, the same archive
    n, done, payloads = sweep_tasks(cfg, elsewhere, archive_dir)
    assert (n, done) == (4, 2)
    assert sorted(k for p in payloads for k in p["keys"]) == sorted(keys[id(u)] for u in units[2:])
    assert sum(run_task(p)["computed"] for p in payloads) == 2
    assert sweep_tasks(cfg, elsewhere, archive_dir)[1:] == (4, [])

    whole = archive.publish(cfg, elsewhere, archive_dir)
    assert (len(whole["units"]), whole["complete"]) == (4, True)
    assert {n: (archive_dir / "units" / whole["units"][n]["key"] / "meta.json").read_text() for n in kept} == kept
    assert whole["compute_seconds"] == pytest.approx(sum(u["wall_seconds"] for u in whole["units"].values()))


def test_publish_of_a_grid_with_no_unit_anywhere_is_refused_even_in_part(dirs):
    cache_dir, archive_dir = dirs
    with pytest.raises(ConfigError, match=r"4 of 4 units are in neither the cache .*--profile \.\.\.\)$"):
        archive.publish(tiny(ARCHIVE_NOTEBOOK), cache_dir, archive_dir, partial=True)


def _report(cfg, *, cached: int, computed: int, wall: float, complete: bool) -> SweepReport:
    report = SweepReport(cfg.notebook, "cache", units=4, cached=cached, computed=computed, tasks=computed)
    report.scheduler, report.workers = "LocalCluster tcp://127.0.0.1:1", 2
    report.wall_seconds, report.compute_seconds, report.cpu_seconds = wall, 2 * wall, 1.5 * wall
    report.grid_seconds, report.grid_complete = 4 * wall, complete
    return report


def test_a_resumed_sweep_adds_its_times_to_the_record_of_the_grid_it_completes(tmp_path):
    cfg = tiny(ARCHIVE_NOTEBOOK)
    record_sweep(_report(cfg, cached=0, computed=2, wall=10.0, complete=False), cfg, {}, tmp_path, interrupted=True)
    record_sweep(_report(cfg, cached=2, computed=2, wall=12.0, complete=True), cfg, {}, tmp_path)
    r = read_measured(tmp_path, "sweeps")[cfg.notebook]
    assert (r["wall_seconds"], r["cpu_seconds"], r["computed"], r["cached_before"]) == (22.0, 33.0, 4, 0)
    assert [(p["wall_seconds"], p["interrupted"]) for p in r["pieces"]] == [(10.0, True), (12.0, False)]
    assert r["grid_complete"] and r["tasks"] == 4
    record_sweep(_report(cfg, cached=0, computed=4, wall=7.0, complete=True), cfg, {}, tmp_path)  # a new grid
    r = read_measured(tmp_path, "sweeps")[cfg.notebook]
    assert (r["wall_seconds"], len(r["pieces"]), r["computed"]) == (7.0, 1, 4)
    record_sweep(_report(cfg, cached=0, computed=1, wall=3.0, complete=False), cfg, {}, tmp_path)
    record_sweep(_report(cfg, cached=1, computed=3, wall=5.0, complete=True), cfg, {"seeds": 9}, tmp_path)
    r = read_measured(tmp_path, "sweeps")[cfg.notebook]  # other parameters: not the same grid
    assert (r["wall_seconds"], len(r["pieces"])) == (5.0, 1)
