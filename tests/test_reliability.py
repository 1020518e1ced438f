"""Issue 14 (reliability), in process: every fault injected, then the state after it checked.

Faults of the results cache (a damaged entry, a cache that cannot be written, a unit that cannot be
stored), of the input (YAML 1.2 numbers, infinities, empty grids, devices that are not there, runs too
big for the machine or far beyond their profile, papermill-injected names, scheduler addresses,
``--timeout``), and of the published pages (error outputs, machine paths). The faults that need a kernel
(a failed or interrupted notebook, Ctrl-C, plain papermill) are in ``test_runner_faults.py``.
"""

from __future__ import annotations

import errno
import json
import math
import time
from pathlib import Path

import nbformat
import pytest
import torch

from lossdyn.dissipativity.p1_fig1_soft_cross_entropy import Config
from lossdyn.pipeline import cache, runner
from lossdyn.pipeline.cli import main
from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.figures import Cost, figures
from lossdyn.pipeline.runner import COST_FACTOR, parse_value, plan_jobs, preflight
from lossdyn.pipeline.sweep import check_scheduler, damaged_units, repair, run_task, sweep_tasks
from test_config import GOOD

FIG1 = "p1_fig1_soft_cross_entropy"
FIG4 = "p2_fig4_validation_accuracy"
FIG5 = "p2_fig5_edge_of_stability"
SMALL = {"grid": 21, "n_cut": 21, "n_bound_samples": 200}


@pytest.fixture
def cfg():
    return Config.from_mapping({**GOOD, **SMALL})


@pytest.fixture
def cache_on(tmp_path, monkeypatch):
    """The results cache on, in ``tmp_path/cache``, with its fallback in ``tmp_path/fallback``."""
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LOSSDYN_FALLBACK_DIR", str(tmp_path / "fallback"))
    monkeypatch.delenv("LOSSDYN_NOTICES", raising=False)
    return tmp_path / "cache"


def _entry(root: Path) -> Path:
    (entry,) = (root / "units").iterdir()
    return entry


# -- 3. a damaged cache entry is reported, set aside and computed again ------------------------------
DAMAGE = {
    "truncated result.pt": lambda e: (e / "result.pt").write_bytes((e / "result.pt").read_bytes()[:100]),
    "empty result.pt": lambda e: (e / "result.pt").write_bytes(b""),
    "garbage meta.json": lambda e: (e / "meta.json").write_text("{not json"),
    "missing meta.json": lambda e: (e / "meta.json").unlink(),
    "missing result.pt": lambda e: (e / "result.pt").unlink(),
    "garbage unit.json": lambda e: (e / "unit.json").write_text("[]"),
}


@pytest.mark.parametrize("fault", DAMAGE)
def test_a_damaged_entry_is_set_aside_and_recomputed(fault, cfg, cache_on, capfd):
    first, _ = cache.cached_run(cfg)
    entry = _entry(cache_on)
    assert len(json.loads((entry / "unit.json").read_text())["sha256"]) == 64  # units carry a checksum
    DAMAGE[fault](entry)
    assert not cache.is_stored(entry.name, cache_on) and cache.damage(entry.name, cache_on)
    n, cached, payloads = sweep_tasks(cfg, cache_on)  # what sweep --dry-run counts
    assert (n, cached, len(payloads)) == (1, 0, 1) and damaged_units(cfg, cache_on)

    again, info = cache.cached_run(cfg)
    assert not info.hit and info.units_cached == 0  # recomputed, not crashed
    assert cache.is_stored(entry.name, cache_on)
    (aside,) = (cache_on / "damaged").iterdir()  # set aside, not deleted
    assert aside.name.startswith(entry.name)
    assert "damaged" in capfd.readouterr().err  # reported
    assert torch.equal(first.grid_loss, again.grid_loss)
    _, info = cache.cached_run(cfg)
    assert info.hit


def test_a_sweep_repairs_a_damaged_entry(cfg, cache_on):
    cache.cached_run(cfg)
    entry = _entry(cache_on)
    (entry / "result.pt").write_bytes(b"")
    lines = repair([entry.name], cache_on)
    assert len(lines) == 1 and "damaged" in lines[0] and not entry.exists()
    assert len(list((cache_on / "damaged").iterdir())) == 1
    _, _, payloads = sweep_tasks(cfg, cache_on)
    assert run_task(payloads[0])["computed"] == 1 and cache.is_stored(entry.name, cache_on)


def test_run_task_sets_a_damaged_entry_aside_before_storing(cfg, cache_on):
    cache.cached_run(cfg)
    entry = _entry(cache_on)
    (entry / "meta.json").write_text("garbage")
    _, _, payloads = sweep_tasks(cfg, cache_on)
    assert run_task(payloads[0])["computed"] == 1
    assert cache.is_stored(entry.name, cache_on) and len(list((cache_on / "damaged").iterdir())) == 1


# -- 2. the cache is checked writable first; a unit that cannot be stored is kept in the fallback -----
def test_an_unwritable_cache_is_one_line_before_any_compute(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "f"
    blocker.touch()
    with pytest.raises(ConfigError, match=r"^--cache-dir: cannot write the results cache"):
        cache.check_writable(blocker)
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", "")  # restored afterwards: --cache-dir sets it for the process
    started = []
    monkeypatch.setattr(runner, "_run_all", lambda *a, **k: started.append(1) or [])
    for command in (["build", "--only", FIG1, "--no-book"], ["sweep", FIG1]):
        assert main([*command, "--cache-dir", str(blocker)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --cache-dir: cannot write") and "Traceback" not in err[0]
    assert started == []


def _failing_primary(monkeypatch, primary: Path) -> None:
    real = cache.store_unit

    def store(key, root_dir, *args, **kwargs):
        if Path(root_dir) == primary:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(key, root_dir, *args, **kwargs)

    monkeypatch.setattr(cache, "store_unit", store)


def test_a_unit_that_cannot_be_stored_is_kept_in_the_fallback_and_moved_back(cfg, cache_on, tmp_path, monkeypatch):
    _failing_primary(monkeypatch, cache_on)
    notices = tmp_path / "notices.txt"
    monkeypatch.setenv("LOSSDYN_NOTICES", str(notices))
    first, info = cache.cached_run(cfg)
    assert not info.hit
    (kept,) = (tmp_path / "fallback" / "units").iterdir()
    assert cache.is_stored(kept.name, tmp_path / "fallback")
    assert "No space left on device" in notices.read_text() and "kept in" in notices.read_text()
    monkeypatch.undo()  # the cache works again
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(cache_on))
    monkeypatch.setenv("LOSSDYN_FALLBACK_DIR", str(tmp_path / "fallback"))
    again, info = cache.cached_run(cfg)
    assert info.hit  # read from the fallback, not computed again ...
    assert cache.is_stored(kept.name, cache_on) and not kept.exists()  # ... and moved into the cache
    assert torch.equal(first.grid_loss, again.grid_loss)


def test_a_sweep_worker_reports_a_unit_kept_in_the_fallback(cfg, cache_on, tmp_path, monkeypatch):
    _failing_primary(monkeypatch, cache_on)
    _, _, payloads = sweep_tasks(cfg, cache_on)
    out = run_task(payloads[0])
    assert out["computed"] == 1 and len(out["kept"]) == 1 and "kept in" in out["kept"][0]
    assert cache.is_stored(payloads[0]["keys"][0], tmp_path / "fallback")
    monkeypatch.undo()
    monkeypatch.setenv("LOSSDYN_FALLBACK_DIR", str(tmp_path / "fallback"))
    assert any("moved from the fallback" in line for line in repair(payloads[0]["keys"], cache_on))
    assert cache.is_stored(payloads[0]["keys"][0], cache_on)


# -- 4, 5, 7, 11: input that used to reach a kernel ----------------------------------------------------
def test_yaml_1_2_numbers():
    assert parse_value("1e-3") == 0.001 and parse_value("-1e5") == -100000.0 and parse_value(".5") == 0.5
    for text in ("inf", ".inf", "+.inf"):
        assert parse_value(text) == math.inf
    assert parse_value("-.inf") == -math.inf
    assert math.isnan(parse_value("nan")) and math.isnan(parse_value(".nan"))
    assert parse_value("010") == 10 and parse_value("0x1f") == 31 and parse_value("3") == 3
    assert parse_value("[1e-3, 2]") == [0.001, 2] and parse_value("on") == "on" and parse_value("true") is True
    assert parse_value("cuda:1") == "cuda:1"


@pytest.mark.parametrize(
    ("notebook", "key", "value", "message"),
    [
        (FIG1, "p_d", "nan", "p_d = nan is not allowed: need a finite number"),
        (FIG1, "extent", ".inf", "extent = inf is not allowed: need a finite number"),
        (FIG1, "p_d", "1e-3", "p_d = 0.001 is not allowed: need 1/C < p_d < 1, i.e. 0.5 < p_d < 1"),
        (FIG5, "amplitudes", "[.inf]", "amplitudes = inf is not allowed: need a finite number"),
        (FIG4, "A", ".inf", "A = inf is not allowed: need a finite number"),
        (FIG5, "etas", "[]", "etas = [] is not allowed: need at least one value"),
        ("p1_fig5_mnist_layer_loss", "depths_without", "[]", "depths_without = [] is not allowed"),
        (FIG1, "device", "cudaXYZ", "device = 'cudaXYZ' is not allowed: need one of auto, cpu, cuda, cuda:N"),
        (FIG1, "device", "cuda:-1", "device = 'cuda:-1' is not allowed"),
    ],
)
def test_bad_values_are_one_line_before_any_kernel(notebook, key, value, message, capsys, monkeypatch):
    monkeypatch.setattr(runner, "_run_all", lambda *a, **k: pytest.fail("a kernel was started"))
    assert main(["build", "--only", notebook, "--no-book", "-p", key, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {message}"), err


def test_zero_size_grid_of_fig4_is_refused():
    with pytest.raises(ConfigError, match=r"^n_seeds_ce = 0 is not allowed: need n_seeds_ce \+ n_seeds_mse >= 1"):
        plan_jobs(only=[FIG4], overrides={"n_seeds_ce": 0, "n_seeds_mse": 0})
    plan_jobs(only=[FIG4], overrides={"n_seeds_ce": 0})  # one panel alone is a run


def test_eps_grid_empty_is_refused_by_the_shared_list_rule():
    with pytest.raises(ConfigError, match=r"^eps_grid = \[\] is not allowed: need at least one value"):
        figures()["p1_turnpike_horizon"].module.Config.from_mapping(
            {**plan_jobs(only=["p1_turnpike_horizon"])[0].cfg.to_dict(), "eps_grid": []}
        )


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_timeout_must_be_positive(timeout, capsys):
    assert main(["build", "--only", FIG1, "--no-book", "--timeout", timeout]) == 2
    assert (
        capsys.readouterr().err.strip() == f"error: --timeout = {timeout} is not allowed: need a number of seconds > 0"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:7"])
def test_a_cuda_device_that_is_not_there_is_one_line_unless_every_unit_is_cached(device, cfg, cache_on, capsys):
    (job,) = plan_jobs(only=[FIG1], overrides={**SMALL, "device": device})
    with pytest.raises(ConfigError, match=rf"^device = '{device}' is not allowed here: CUDA is not available"):
        preflight([job])
    assert main(["build", "--only", FIG1, "--no-book", "-p", "device", device]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    # Units computed on a GPU elsewhere can be rendered here: put them in the cache under the CUDA key.
    plan = figures()[FIG1].module.plan(job.cfg)
    keys = cache.unit_keys(plan, "cuda")
    result = figures()[FIG1].module.compute(Config.from_mapping({**job.cfg.to_dict(), "device": "cpu"}))
    for u in plan.units:
        cache.store_unit(keys[id(u)], cache_on, u, result, cache.unit_meta("cpu", 1.0, 1))
    preflight([job])  # nothing to compute: no device needed


def test_a_cuda_index_beyond_the_machines_devices_is_named(monkeypatch):
    from lossdyn.pipeline import device

    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device.torch.cuda, "device_count", lambda: 1)
    assert device.device_problem("cuda:7") == "this machine has 1 CUDA device(s), cuda:0 to cuda:0"
    assert device.device_problem("cuda") is None and device.device_problem("cuda:0") is None
    assert device.device_problem("cpu") is None and device.device_problem("auto") is None
    with pytest.raises(RuntimeError, match="'cuda:7' requested but this machine has 1 CUDA device"):
        device.resolve_device("cuda:7")


def test_every_figure_module_of_this_issue_estimates_its_cost():
    mine = [FIG1, "p1_fig5_mnist_layer_loss", "p2_fig1_size_vs_learning_rate", "p2_fig2_3_period_doubling", FIG4]
    for name in [*mine, FIG5, "q_gradient_norms"]:
        for profile in ("quick", "paper"):
            (job,) = plan_jobs(only=[name], profile=profile)
            cost = figures()[name].module.estimate(job.cfg)
            assert isinstance(cost, Cost) and 1 < cost.seconds < 86400 and 2**28 < cost.memory_bytes < 2**34, name


def test_a_run_above_the_machines_memory_is_refused_with_one_line():
    (job,) = plan_jobs(only=[FIG1], overrides={"C": 1000, "grid": 2001, "p_d": 0.5})
    with pytest.raises(ConfigError, match=r"^p1_fig1_soft_cross_entropy: these parameters need about .* GiB of memory"):
        preflight([job], yes=True)
    (small,) = plan_jobs(only=[FIG1], overrides=SMALL)
    with pytest.raises(ConfigError, match="more than the 1 MiB available"):
        preflight([small], memory=2**20)
    preflight([small])


def test_a_run_far_beyond_its_profile_needs_yes(capsys, monkeypatch):
    (job,) = plan_jobs(only=[FIG5], overrides={"n_seeds": 400})
    with pytest.raises(ConfigError, match=rf"more than {COST_FACTOR:g}× the quick profile's .*; pass --yes"):
        preflight([job])
    preflight([job], yes=True)
    monkeypatch.setattr(runner, "_run_all", lambda *a, **k: [])
    assert main(["build", "--only", FIG5, "--no-book", "-p", "n_seeds", "400"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and FIG5 in err[0] and "--yes" in err[0]
    (paper,) = plan_jobs(only=[FIG5], profile="paper")
    preflight([paper])  # a profile is never far beyond itself


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("notaurl", "is not a Dask scheduler address like tcp://HOST:8786"),
        ("ucx://host:8786", "is not a Dask scheduler address"),
        ("tcp://127.0.0.1:99999", "is not a Dask scheduler address"),
        ("tcp://127.0.0.1:1", "cannot reach tcp://127.0.0.1:1 within 3 s"),
    ],
)
def test_scheduler_address_is_checked_in_a_few_seconds(address, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", "")
    start = time.monotonic()
    with pytest.raises(ConfigError, match=fragment):
        check_scheduler(address)
    assert main(["sweep", FIG1, "--scheduler", address, "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --scheduler") and time.monotonic() - start < 15


def test_p2_fig5_without_a_finite_ratio_plots_and_says_so():
    """Failure 4: no run has an onset (η = 100, T = 10), so no condition has a finite ratio."""
    fig5 = figures()[FIG5].module
    (job,) = plan_jobs(
        only=[FIG5],
        overrides=dict(etas=[100], amplitudes=[25.0], periods=[10], time_budget=10000, n_seeds=2, H=10, workers=1),
    )
    res, _ = cache.cached_run(job.cfg)
    assert all(not math.isfinite(c.ratio_to_two_over_eta) for c in res.conditions)
    assert fig5.plot(res) is not None
    assert fig5.summary_line(res) == "No instability was found in any condition: nothing to compare with 2/eta."
    assert [c.verdict for c in fig5.claims(res)] == ["not measured", "not measured"]


# -- 8. names papermill injected ------------------------------------------------------------------------
def test_from_namespace_rejects_a_name_papermill_injected_but_the_config_lacks():
    history = ["", "# Parameters: the defaults ...\nC: int = 2\n", "# Parameters\npd = 0.9\nseed = 1\n"]
    with pytest.raises(ConfigError, match=r"^pd: unknown parameter for p1_fig1_soft_cross_entropy; allowed: .*p_d"):
        Config.from_namespace({**GOOD, "In": history})
    assert Config.from_namespace({**GOOD, "In": history[:2] + ["# Parameters\nseed = 1\n"]}).to_dict() == GOOD


# -- 1, 10: what the book publishes ----------------------------------------------------------------------
def _page(path: Path, *cells) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nbformat.write(nb, path)


def _fake_root(root: Path) -> Path:
    (root / "book" / "generated").mkdir(parents=True)
    (root / "_toc.yml").write_text("- file: book/generated/p1_fig1_soft_cross_entropy\n- file: book/generated/q_x\n")
    return root / "book" / "generated"


def test_pages_with_an_error_output_or_an_unfinished_cell_are_found(tmp_path):
    out = _fake_root(tmp_path)
    ok = nbformat.v4.new_code_cell("1", execution_count=1)
    error = nbformat.v4.new_code_cell("1/0", execution_count=2)
    error.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero")]
    _page(out / "p1_fig1_soft_cross_entropy.ipynb", ok, error)
    _page(out / "q_x.ipynb", ok, nbformat.v4.new_code_cell("print(2)"))  # never executed: an interrupted run
    found = runner.pages_with_errors(tmp_path)
    assert found == [
        "book/generated/p1_fig1_soft_cross_entropy.ipynb: ZeroDivisionError: division by zero",
        "book/generated/q_x.ipynb: cell 1 was never executed (the run stopped before it)",
    ]
    _page(out / "q_x.ipynb", ok, nbformat.v4.new_markdown_cell("# placeholder"))
    assert len(runner.pages_with_errors(tmp_path)) == 1


def test_the_book_is_not_built_while_a_page_carries_an_error(monkeypatch, capsys):
    built = []
    monkeypatch.setattr(runner, "_run_all", lambda *a, **k: [])
    monkeypatch.setattr(runner, "_write_pages", lambda root: None)
    monkeypatch.setattr(runner, "_make_portable", lambda root: None)
    monkeypatch.setattr(runner, "pages_with_errors", lambda root: ["book/generated/x.ipynb: RuntimeError: boom"])
    monkeypatch.setattr(runner, "build_book", lambda root: built.append(root) or 0)
    assert runner.build(only=[FIG1], overrides=SMALL) == 1
    assert built == [] and "not building the book" in capsys.readouterr().out


def test_machine_paths_become_repository_relative(tmp_path):
    text = f"{tmp_path}/lib/lossdyn/x.py:3: UserWarning\n{Path.home()}/.pyenv/lib/y.py\n{tmp_path}"
    assert runner.portable(text, tmp_path) == "lib/lossdyn/x.py:3: UserWarning\n~/.pyenv/lib/y.py\n."
    out = _fake_root(tmp_path)
    cell = nbformat.v4.new_code_cell("warn()", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=f"{tmp_path}/lib/a.py:1: Warning\n")]
    _page(out / "p1_fig1_soft_cross_entropy.ipynb", cell)
    nb = nbformat.read(out / "p1_fig1_soft_cross_entropy.ipynb", as_version=4)
    nb.metadata["papermill"] = {"input_path": f"{tmp_path}/notebooks/p1.ipynb", "output_path": f"{tmp_path}/o.ipynb"}
    nbformat.write(nb, out / "p1_fig1_soft_cross_entropy.ipynb")
    runner._make_portable(tmp_path)
    text = (out / "p1_fig1_soft_cross_entropy.ipynb").read_text()
    assert str(tmp_path) not in text and "notebooks/p1.ipynb" in text and "lib/a.py:1: Warning" in text


def test_the_sidecar_names_the_cache_relative_to_the_repository(cfg, tmp_path, root):
    from lossdyn.pipeline.plotting import save_figure

    fig1 = figures()[FIG1].module
    res, info = cache.cached_run(cfg)
    for path, shown in (
        (root / "results" / "units", "results/units"),
        (tmp_path / "units", "$LOSSDYN_CACHE_DIR/units"),
    ):
        info = cache.CacheInfo(info.key, info.hit, info.mode, str(path), 0.1, "cpu")
        save_figure(fig1.plot(res), cfg, numbers={}, claims=[], info=info, out_dir=tmp_path)
        assert json.loads((tmp_path / f"{FIG1}.json").read_text())["run"]["path"] == shown


def test_the_ensemble_estimate_trains_chunks_of_the_measured_size():
    """ensemble_cost splits each ensemble into chunks of ``chunk(H)`` networks, each costing
    steps·(per-chunk + k·(per-network + per-unit·H)) seconds, and runs them on min(workers, 2) processes."""
    import types

    from lossdyn.dynamical.ensemble import cpu_chunk
    from lossdyn.pipeline import figures as fig

    spec = types.SimpleNamespace(H=100, steps=1000, dtype="float32")
    cost = fig.ensemble_cost([(spec, list(range(40)))], chunk=cpu_chunk, workers=2, per_chunk_step=1e-5, overhead=0)
    per = [
        1000 * (1e-5 + k * (fig.ENSEMBLE_SECONDS_PER_STEP_NET + fig.ENSEMBLE_SECONDS_PER_STEP_H * 100))
        for k in (16, 16, 8)
    ]
    assert cpu_chunk(100) == 16
    assert cost.seconds == pytest.approx(max(sum(per) / 2, max(per)), rel=1e-12)
