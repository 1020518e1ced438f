"""Sweeps on Dask distributed: same units as a serial run, survives a killed worker, idempotent.

Each cluster is a real 2-worker ``LocalCluster`` (worker processes on loopback), the one
``python -m lossdyn sweep`` starts by default.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from lossdyn.pipeline import cache
from lossdyn.pipeline.cli import main
from lossdyn.pipeline.sweep import local_cluster, run_task, sweep, sweep_tasks
from same import assert_same
from tiny_grids import tiny

GRIDS = ["p2_fig5_edge_of_stability", "p1_turnpike_horizon"]


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(2) as c:
        yield c


def _stored(root: Path) -> dict[str, Path]:
    return {p.name: p for p in (root / "units").iterdir() if not p.name.startswith(".tmp-")}


def _assert_complete_entries(root: Path) -> None:
    for entry in _stored(root).values():
        assert {p.name for p in entry.iterdir()} == {"result.pt", "unit.json", "meta.json"}, entry


def _serial(cfg, root: Path, monkeypatch) -> dict:
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(root))
    result, info = cache.cached_run(cfg)
    assert info.units_cached == 0
    return result


@pytest.mark.parametrize("notebook", GRIDS)
def test_sweep_gives_exactly_the_units_of_a_serial_run_and_a_second_sweep_computes_nothing(
    notebook, cluster, tmp_path, monkeypatch
):
    cfg = tiny(notebook)
    report = sweep(cfg, scheduler=cluster.scheduler_address, cache_dir=tmp_path / "swept", log=lambda m: None)
    assert report.ok and report.cached == 0 and report.computed == report.units == len(_stored(tmp_path / "swept"))
    assert report.workers == 2 and report.tasks >= 2
    serial = _serial(cfg, tmp_path / "serial", monkeypatch)
    swept, serial_units = _stored(tmp_path / "swept"), _stored(tmp_path / "serial")
    assert swept.keys() == serial_units.keys()
    for key in swept:  # bit-identical units, whichever worker and batch computed them
        assert_same(
            torch.load(swept[key] / "result.pt", weights_only=True),
            torch.load(serial_units[key] / "result.pt", weights_only=True),
            key,
        )
    _assert_complete_entries(tmp_path / "swept")

    again = sweep(cfg, scheduler=cluster.scheduler_address, cache_dir=tmp_path / "swept")
    assert (again.cached, again.computed, again.tasks) == (report.units, 0, 0)
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(tmp_path / "swept"))  # the notebook's run step renders from it
    rendered, info = cache.cached_run(cfg)
    assert info.hit and info.units_cached == report.units
    assert_same(rendered, serial)


def test_killing_a_worker_mid_sweep_still_completes(tmp_path, monkeypatch):
    cfg = tiny("p2_fig5_edge_of_stability", H=40, time_budget=4000.0, n_seeds=2)
    killed = []
    with local_cluster(2) as cl:
        from distributed import Client

        def kill_one_busy_worker():
            with Client(cl.scheduler_address, set_as_default=False) as client:
                pids = client.run(os.getpid)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    busy = [w for w, tasks in client.processing().items() if tasks]
                    if busy:
                        time.sleep(0.5)  # well inside a task of a few seconds
                        os.kill(pids[busy[0]], signal.SIGKILL)
                        killed.append(busy[0])
                        return
                    time.sleep(0.05)

        killer = threading.Thread(target=kill_one_busy_worker)
        killer.start()
        messages = []
        report = sweep(cfg, scheduler=cl.scheduler_address, cache_dir=tmp_path / "swept", log=messages.append)
        killer.join()
    assert killed, "no worker was busy to be killed"
    assert report.ok and report.computed + report.cached == report.units
    assert report.retried and "KilledWorker" in report.retried[0] and messages
    _assert_complete_entries(tmp_path / "swept")
    n, cached, todo = sweep_tasks(cfg, tmp_path / "swept")
    assert (cached, todo) == (n, [])
    serial = _serial(cfg, tmp_path / "serial", monkeypatch)
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(tmp_path / "swept"))
    rendered, info = cache.cached_run(cfg)
    assert info.hit
    assert_same(rendered, serial)


def test_a_worker_with_other_lib_source_refuses_the_task(tmp_path):
    cfg = tiny("p1_turnpike_horizon")
    _, _, payloads = sweep_tasks(cfg, tmp_path)
    with pytest.raises(RuntimeError, match="same version on every worker"):
        run_task({**payloads[0], "code": "0" * 64})
    assert not (tmp_path / "units").exists()


def test_run_task_skips_units_already_stored(tmp_path):
    cfg = tiny("p1_turnpike_horizon")
    _, _, payloads = sweep_tasks(cfg, tmp_path)
    assert run_task(payloads[0])["computed"] == 1
    assert run_task(payloads[0])["computed"] == 0  # a retried task whose first try got that far


def test_cli_sweep_rejects_bad_parameters_before_starting_workers(capsys):
    assert main(["sweep", "p2_fig5_edge_of_stability", "-p", "n_seeds", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: n_seeds = 0 is not allowed: need 1 <= n_seeds <= 10000"
    assert main(["sweep", "no_such_notebook"]) == 2
    assert "NOTEBOOK: unknown notebook 'no_such_notebook'" in capsys.readouterr().err
    assert main(["sweep", "p2_fig5_edge_of_stability", "--workers", "0"]) == 2


def test_cli_dry_run_lists_the_tasks(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", "")  # restored afterwards: --cache-dir sets it for the process
    args = ["sweep", "p1_turnpike_horizon", "--dry-run", "--cache-dir", str(tmp_path)]
    for key, value in tiny("p1_turnpike_horizon").to_dict().items():
        args += ["-p", key, str(list(value) if isinstance(value, tuple) else value)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 units, 0 cached or archived, 4 to compute in 4 tasks" in out and "N = 5, seed 1" in out


def test_a_sweep_counts_the_network_steps_of_its_grid():
    from lossdyn.pipeline.sweep import grid_model_steps
    from lossdyn.pipeline.units import plan_for

    cfg = tiny("p2_fig5_edge_of_stability")
    plan = plan_for(cfg)
    assert grid_model_steps(cfg) == sum(u.obj[0].steps for u in plan.units) > 0
    spirals = tiny("p1_turnpike_horizon")
    assert grid_model_steps(spirals) == len(plan_for(spirals).units) * spirals.steps
    from lossdyn.pipeline.runner import plan_jobs

    (fig1,) = plan_jobs(only=["p1_fig1_soft_cross_entropy"])
    assert grid_model_steps(fig1.cfg) is None  # a whole run, not networks


def test_cli_sweeps_every_notebook_when_none_is_named(tmp_path, capsys, monkeypatch):
    from lossdyn.pipeline.runner import find_root, list_notebooks

    monkeypatch.setenv("LOSSDYN_CACHE_DIR", "")
    assert main(["sweep", "--dry-run", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    names = list_notebooks(find_root())
    assert [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")] == names
    assert main(["sweep", "p1_turnpike_horizon", "nope", "--dry-run", "--cache-dir", str(tmp_path)]) == 2
