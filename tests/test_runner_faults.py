"""Issue 14 (reliability), with real kernels: a failed or interrupted notebook never replaces a good page,
Ctrl-C ends a build or a sweep with one line and exit code 130, plain papermill fails in one clear line.

The builds run in a throw-away repository root (``_config.yml``, ``_toc.yml`` and a copy of the notebook
under test, with a fault appended to it) so the checkout's own pages are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from lossdyn.pipeline import runner
from lossdyn.pipeline.cache import is_stored
from lossdyn.pipeline.progress import Interrupted

ROOT = Path(__file__).resolve().parents[1]
FIG1 = "p1_fig1_soft_cross_entropy"
SMALL = {"grid": 21, "n_cut": 21, "n_bound_samples": 200}


def make_root(path: Path, fault: str | None = None) -> Path:
    """A repository root holding the Fig. 1 notebook, with ``fault`` as an extra last code cell."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, path / name)
    (path / "lib" / "lossdyn").mkdir(parents=True, exist_ok=True)  # find_root's marker
    (path / "notebooks").mkdir(exist_ok=True)
    nb = nbformat.read(ROOT / "notebooks" / f"{FIG1}.ipynb", as_version=4)
    if fault:
        nb.cells.append(nbformat.v4.new_code_cell(fault))
    nbformat.write(nb, path / "notebooks" / f"{FIG1}.ipynb")
    return path


def published(root: Path) -> dict[str, bytes]:
    """Every file the book publishes for Fig. 1: the page, the figure files and the sidecar."""
    files = [root / "book" / "generated" / f"{FIG1}.ipynb"]
    files += [root / "book" / "figures" / f"{FIG1}.{fmt}" for fmt in ("png", "svg", "pdf", "json")]
    return {p.name: p.read_bytes() for p in files}


def entries(root: Path, page: str) -> tuple[str, str]:
    """Fig. 1's row of the status page and its section of the claims page."""
    status = (root / "book" / "generated" / "status.md").read_text()
    claims = (root / "book" / "generated" / "claims.md").read_text()
    row = next(line for line in status.splitlines() if line.startswith(f"| {{doc}}`{page} "))
    return row, claims[claims.index(f"## {{doc}}`{page}`") :]


@pytest.fixture
def env(monkeypatch):
    """Restore what a build sets for its process."""
    for key in ("LOSSDYN_QUIET", "LOSSDYN_CACHE", "LOSSDYN_CACHE_DIR"):
        monkeypatch.setenv(key, os.environ.get(key, ""))
    monkeypatch.setenv("LOSSDYN_CACHE", "off")


def test_a_failed_run_keeps_the_previous_page_sidecar_status_and_claims(tmp_path, env):
    good = make_root(tmp_path / "good")
    assert runner.build(root=good, only=[FIG1], overrides=SMALL, book=False, log=lambda *a, **k: None) == 0
    before, before_entries = published(good), entries(good, FIG1)
    page = json.loads(before[f"{FIG1}.ipynb"])
    assert page["metadata"]["papermill"]["input_path"] == f"notebooks/{FIG1}.ipynb"  # no machine path
    assert str(good) not in before[f"{FIG1}.ipynb"].decode() and str(good) not in before[f"{FIG1}.json"].decode()

    # The same root, now with a notebook that fails after save_figure wrote its files (into the stage).
    make_root(tmp_path / "bad", 'raise RuntimeError("injected after save_figure")')
    shutil.copy(tmp_path / "bad" / "notebooks" / f"{FIG1}.ipynb", good / "notebooks" / f"{FIG1}.ipynb")
    lines = []
    rc = runner.build(
        root=good, only=[FIG1], overrides={**SMALL, "seed": 1}, book=False, log=lambda *a, **k: lines.append(a[0])
    )
    assert rc == 1
    assert published(good) == before and entries(good, FIG1) == before_entries
    assert any("FAILED" in line and "RuntimeError: injected after save_figure" in line for line in lines)
    assert any(f"_build/lossdyn-failed/{FIG1}.ipynb" in line for line in lines)
    assert (good / "_build" / "lossdyn-failed" / f"{FIG1}.ipynb").is_file()
    assert list((good / "_build" / "lossdyn-staging").iterdir()) == []
    assert runner.pages_with_errors(good) == []


def test_an_interrupted_run_keeps_the_previous_page(tmp_path, env, monkeypatch):
    root = make_root(tmp_path)
    assert runner.build(root=root, only=[FIG1], overrides=SMALL, book=False, log=lambda *a, **k: None) == 0
    before = published(root)
    import papermill

    def interrupted(input_path, output_path, **kwargs):  # a half-executed copy, then Ctrl-C
        nb = nbformat.read(input_path, as_version=4)
        nbformat.write(nb, output_path)
        (Path(output_path).parent / "figures" / f"{FIG1}.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(Interrupted, match=f"^build stopped during {FIG1}: its previous page is kept"):
        runner.build(root=root, only=[FIG1], overrides={**SMALL, "seed": 2}, book=False, log=lambda *a, **k: None)
    assert published(root) == before
    assert list((root / "_build" / "lossdyn-staging").iterdir()) == []


def _env() -> dict[str, str]:
    env = {**os.environ, "LOSSDYN_CACHE": "on", "LOSSDYN_QUIET": "1"}
    env.pop("LOSSDYN_CACHE_DIR", None)
    return env


def _popen(args: list[str], cwd: Path) -> subprocess.Popen:
    """A command in its own session (so a SIGINT to its group is what a terminal's Ctrl-C sends)."""
    return subprocess.Popen(
        args, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _wait_for(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_ctrl_c_ends_a_build_with_one_line_and_130(tmp_path):
    root = make_root(tmp_path, "import time\ntime.sleep(120)")  # a long last cell, after save_figure
    good = make_root(tmp_path / "good")
    cmd = [sys.executable, "-m", "lossdyn", "build", "--no-book", "--only", FIG1]
    cmd += [a for k, v in SMALL.items() for a in ("-p", k, str(v))]
    first = subprocess.run(cmd, cwd=good, env=_env(), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "without encryption" not in first.stdout + first.stderr  # IPC, no warning
    for sub in ("book", "results"):
        shutil.copytree(good / sub, root / sub)
    before = published(root)
    proc = _popen([*cmd, "-p", "seed", "3"], root)
    staging = root / "_build" / "lossdyn-staging"
    _wait_for(lambda: any(staging.glob(f"*/figures/{FIG1}.json")), 60)  # the kernel saved into the stage
    os.killpg(proc.pid, signal.SIGINT)
    start = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - start < 20
    assert err.strip().splitlines() == [err.strip()] and err.startswith(f"interrupted: build stopped during {FIG1}")
    assert "Traceback" not in out + err and "without encryption" not in out + err
    assert published(root) == before
    assert list(staging.iterdir()) == []
    assert len(list((root / "results" / "units").iterdir())) == 2  # the unit of the interrupted run is kept


def test_ctrl_c_ends_a_sweep_with_one_line_and_130_keeping_finished_units(tmp_path):
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "lossdyn", "sweep", "p2_fig5_edge_of_stability", "--cache-dir", str(cache)]
    cmd += ["-p", "H", "40", "-p", "n_seeds", "4", "-p", "seed", "11", "--workers", "2"]
    proc = _popen(cmd, ROOT)
    units = cache / "units"
    _wait_for(lambda: units.is_dir() and any(not p.name.startswith(".") for p in units.iterdir()), 120)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines() == [err.strip()] and "stopped by Ctrl-C" in err
    assert "leaked semaphore" not in err and "Traceback" not in out + err
    stored = [p for p in units.iterdir() if not p.name.startswith(".")]
    assert stored and all(is_stored(p.name, cache) for p in stored)
    dry = subprocess.run([*cmd, "--dry-run"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert f"{len(stored)} cached" in dry.stdout


@pytest.mark.parametrize(
    ("parameter", "line"),
    [
        (["-p", "pd", "0.9"], "pd: unknown parameter for p1_fig1_soft_cross_entropy"),
        (["-p", "p_d", "1.5"], "p_d = 1.5 is not allowed: need 1/C < p_d < 1"),
    ],
)
def test_plain_papermill_fails_with_one_clear_line(parameter, line, tmp_path):
    papermill = Path(sys.executable).with_name("papermill")
    out = subprocess.run(
        [str(papermill), f"notebooks/{FIG1}.ipynb", str(tmp_path / "out.ipynb"), *parameter],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert f"error: {line}" in out.stderr  # from the notebook's first cell, to the terminal
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    (error,) = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert error.ename == "ConfigError" and len(error.traceback) == 1 and line in error.traceback[0]
    assert out.stderr.count("Traceback (most recent call last)") <= 1  # papermill's own, none from the kernel
