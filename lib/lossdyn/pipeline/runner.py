"""The book pipeline: validate parameters → papermill → post-process → generated pages → Jupyter Book.

``python -m lossdyn build`` (see :mod:`lossdyn.pipeline.cli`) calls :func:`build`. Every parameter is
validated against the notebook's typed config before any kernel starts. Executed notebooks go
to ``book/generated/<name>.ipynb``; the injected-parameters cell is hidden and a "Reproduce
this page" section (resolved parameters, commands, downloads, cache key) is appended. The
claims page and the status page are generated from the figures' JSON sidecars and the
executed notebooks' metadata. Jupyter Book 1.x then renders what papermill wrote
(execution off), with ``--all -W -n --keep-going``.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lossdyn.pipeline.cache import device_type
from lossdyn.pipeline.claims import VERDICTS
from lossdyn.pipeline.config import ConfigError, ExperimentConfig
from lossdyn.pipeline.device import cpu_model
from lossdyn.pipeline.figures import config_class
from lossdyn.pipeline.paths import figure_dir, find_root, generated_dir, notebook_dir, params_dir

__all__ = ["PROFILES", "Job", "build", "notebook_defaults", "plan_jobs"]

PROFILES = ("quick", "paper")
_META_KEY = "lossdyn"


@dataclass
class Job:
    """One notebook to execute: its name, profile, the parameters to inject and the resolved config."""

    name: str
    profile: str
    inject: dict[str, Any]
    overrides: dict[str, Any]
    cfg: ExperimentConfig
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


# -- parameters -------------------------------------------------------------------------------
def notebook_defaults(path: Path) -> dict[str, Any]:
    """The ``parameters`` cell of a notebook as ``{name: value}`` (papermill's inspector + literal_eval)."""
    import papermill

    found = papermill.inspect_notebook(str(path))
    values = {}
    for name, spec in found.items():
        try:
            values[name] = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError) as exc:
            raise ConfigError(f"{name}: default {spec['default']!r} in {path.name} is not a literal") from exc
    return values


def profile_parameters(name: str, profile: str, root: Path) -> dict[str, Any]:
    """Parameters of a profile: ``{}`` for quick (the notebook's defaults), the YAML for paper."""
    if profile not in PROFILES:
        raise ConfigError(f"profile: {profile!r} is not allowed; choose one of {', '.join(PROFILES)}")
    if profile == "quick":
        return {}
    path = params_dir(root) / profile / f"{name}.yml"
    if not path.is_file():
        raise ConfigError(f"profile: no {path.relative_to(root)} for notebook {name}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"profile: {path.relative_to(root)} must be a flat mapping of parameters")
    return values


def parse_value(text: str) -> Any:
    """A ``-p KEY VALUE`` value as YAML (``1.5`` → float, ``true`` → bool, ``cuda`` → str)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def list_notebooks(root: Path) -> list[str]:
    return sorted(p.stem for p in notebook_dir(root).glob("*.ipynb"))


def plan_jobs(
    *,
    profile: str = "quick",
    only: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    root: Path | None = None,
) -> list[Job]:
    """Resolve and validate every selected notebook's parameters; raises :class:`ConfigError`.

    ``overrides`` apply to each selected notebook that has the key; a key that no selected
    notebook has is an error.
    """
    root = root or find_root()
    overrides = dict(overrides or {})
    known = list_notebooks(root)
    for name in only:
        if name not in known:
            raise ConfigError(f"--only: unknown notebook {name!r}; known: {', '.join(known)}")
    names = list(only) or known
    jobs, used = [], set()
    for name in names:
        cls = config_class(name)
        defaults = notebook_defaults(notebook_dir(root) / f"{name}.ipynb")
        prof = profile_parameters(name, profile, root)
        mine = {k: v for k, v in overrides.items() if k in defaults}
        used |= set(mine)
        inject = {**prof, **mine}
        cfg = cls.from_mapping({**defaults, **inject})
        jobs.append(Job(name, profile, inject, mine, cfg))
    unused = sorted(set(overrides) - used)
    if unused:
        allowed = sorted({k for j in jobs for k in j.cfg.to_dict()})
        raise ConfigError(f"{unused[0]}: unknown parameter for {', '.join(names)}; allowed: {', '.join(allowed)}")
    return jobs


# -- execution --------------------------------------------------------------------------------
def execute(job: Job, root: Path, *, timeout: int) -> None:
    """Run one notebook with papermill into ``book/generated`` (kernel cwd = that folder)."""
    import papermill

    out_dir = generated_dir(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook_dir(root) / f"{job.name}.ipynb"),
            str(out_dir / f"{job.name}.ipynb"),
            parameters=job.inject,
            cwd=str(out_dir),
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
        )
    except Exception as exc:  # papermill writes the failing notebook; report and go on
        job.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    job.seconds = time.perf_counter() - start


def _command(job: Job, head: str, profile_flag: str) -> str:
    """A shell command that re-creates ``job``: ``head``, the profile flag, then ``-p`` overrides."""
    parts = [head]
    if job.profile != "quick":
        parts.append(profile_flag)
    parts += [f"-p {k} {v if isinstance(v, str) else json.dumps(v)}" for k, v in job.overrides.items()]
    return " ".join(parts)


def _papermill_command(job: Job) -> str:
    head = f"papermill notebooks/{job.name}.ipynb book/generated/{job.name}.ipynb"
    return _command(job, head, f"-f params/{job.profile}/{job.name}.yml")


def _cli_command(job: Job) -> str:
    return _command(job, f"python -m lossdyn build --only {job.name}", f"--profile {job.profile}")


def _reproduce_markdown(job: Job, root: Path) -> str:
    sidecar = figure_dir(root) / f"{job.name}.json"
    run = json.loads(sidecar.read_text()).get("run", {}) if sidecar.is_file() else {}
    rows = "\n".join(
        f"| `{k}` | `{v!r}` | {'**changed**' if k in job.inject else 'default'} |" for k, v in job.cfg.to_dict().items()
    )
    downloads = " · ".join(
        f"{{download}}`{fmt.upper()} <../figures/{job.name}.{fmt}>`" for fmt in ("png", "svg", "pdf", "json")
    )
    return f"""## Reproduce this page

This page was executed with the **{job.profile}** profile. Parameters used (the notebook's
`parameters` cell holds the quick defaults; "changed" marks values injected by the profile or `-p`):

| parameter | value | source |
|---|---|---|
{rows}

Rerun it with the companion's runner, or with plain papermill from the repository root:

```sh
{_cli_command(job)}
{_papermill_command(job)}
```

Figure files: {downloads}

Results cache key `{run.get("key", "n/a")}` (device `{run.get("device", "n/a")}`); see the {{doc}}`status page <status>`.
"""


def postprocess(job: Job, root: Path) -> None:
    """Hide the injected-parameters cell, append "Reproduce this page", record the job in metadata."""
    import nbformat

    path = generated_dir(root) / f"{job.name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nb.cells.append(nbformat.v4.new_markdown_cell(_reproduce_markdown(job, root)))
    nb.metadata[_META_KEY] = {
        "profile": job.profile,
        "overrides": job.inject,
        "parameters": job.cfg.to_dict(),
        "seconds": round(job.seconds, 2),
    }
    nbformat.write(nb, path)


# -- generated pages --------------------------------------------------------------------------
def toc_generated_pages(root: Path) -> list[str]:
    """Names of the ``book/generated/*`` entries of ``_toc.yml``."""
    text = (root / "_toc.yml").read_text()
    return re.findall(r"book/generated/([A-Za-z0-9_]+)", text)


def write_placeholder(name: str, root: Path) -> None:
    """A page for a notebook that has not been executed yet, so the book still builds under -W."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            f"# {name}\n\nThis notebook has not been executed in this build. Run\n\n"
            f"```sh\npython -m lossdyn build --only {name}\n```\n"
        )
    )
    nb.metadata[_META_KEY] = {"placeholder": True}
    nbformat.write(nb, generated_dir(root) / f"{name}.ipynb")


def _md(text: str) -> str:
    """Escape text for a Markdown table cell."""
    return re.sub(r"([|*`$<>\\])", r"\\\1", str(text)).replace("\n", " ")


def _execution_meta(name: str, root: Path) -> dict[str, Any]:
    """The runner's record in an executed notebook's metadata ({} if absent)."""
    import nbformat

    path = generated_dir(root) / f"{name}.ipynb"
    if not path.is_file():
        return {}
    return nbformat.read(path, as_version=4).metadata.get(_META_KEY, {})


def _changes(meta: Mapping[str, Any]) -> str:
    changed = ", ".join(f"{k}={v}" for k, v in meta.get("overrides", {}).items())
    return f"{meta.get('profile', '?')} profile" + (f"; {changed}" if changed else "")


def write_claims_page(root: Path) -> Path:
    """``book/generated/claims.md``: every figure's claims with measured numbers and verdicts."""
    pages = set(toc_generated_pages(root))  # stale or unlisted notebooks are not linked
    sidecars = sorted(p for p in figure_dir(root).glob("*.json") if p.stem in pages)
    totals: dict[str, int] = {}
    summary_rows, sections = [], []
    for path in sidecars:
        data = json.loads(path.read_text())
        name = data["notebook"]
        counts = {v: 0 for v in VERDICTS}
        rows = []
        for c in data.get("claims", []):
            counts[c["verdict"]] += 1
            totals[c["verdict"]] = totals.get(c["verdict"], 0) + 1
            rows.append(f"| {_md(c['id'])} | {_md(c['claim'])} | {_md(c['measured'])} | **{c['verdict']}** |")
        summary_rows.append(f"| {{doc}}`{name} <{name}>` | " + " | ".join(str(counts[v]) for v in VERDICTS) + " |")
        sections.append(
            f"## {{doc}}`{name}`\n\nMeasured with the {_md(_changes(_execution_meta(name, root)))}.\n\n"
            "| id | claim (paper) | measured | verdict |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
        )
    overall = ", ".join(f"{totals[v]} {v}" for v in VERDICTS if v in totals) or "no claims yet"
    table = (
        "| page | " + " | ".join(VERDICTS) + " |\n|---|" + "---|" * len(VERDICTS) + "\n" + "\n".join(summary_rows)
        if summary_rows
        else ""
    )
    body = "\n".join(sections) or "No notebook has been executed yet.\n"
    text = f"""# Claims and verdicts

Every statement of the papers that a page checks, with the number we measured and a verdict
(`reproduced`, `partial`, `not reproduced`). Generated from the JSON sidecars in `book/figures/`
at build time; a verdict is computed by the lib from the measurement, never typed in.

**Summary:** {overall}.

{table}

{body}"""
    out = generated_dir(root) / "claims.md"
    out.write_text(text)
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "numpy", "matplotlib", "seaborn", "papermill", "jupyter-book", "nbval", "lossdyn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def machine_summary() -> dict[str, Any]:
    """What machine this is: platform, CPU, cores, torch threads, CUDA device."""
    import torch

    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)",
    }


def record_paper_run(job: Job, root: Path) -> None:
    """Update ``book/measured/paper_profile_runs.json`` (committed) with this paper-profile run."""
    path = root / "book" / "measured" / "paper_profile_runs.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(path.read_text()) if path.is_file() else {}
    sidecar = figure_dir(root) / f"{job.name}.json"
    run = json.loads(sidecar.read_text()).get("run", {}) if sidecar.is_file() else {}
    if run.get("hit"):  # rendered from the cache (e.g. after a sweep): nothing was timed
        return
    machine = machine_summary()
    runs[job.name] = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seconds": round(job.seconds, 1),
        "compute_seconds": run.get("compute_seconds"),
        "from_cache": run.get("hit"),
        "units": run.get("units"),
        "units_cached": run.get("units_cached"),
        "device": run.get("device"),
        "machine": f"{machine['cpu']}, {machine['cores']} cores"
        + ("" if machine["cuda"].startswith("none") else f", {machine['cuda']}"),
        "overrides": job.inject,
    }
    path.write_text(json.dumps(dict(sorted(runs.items())), indent=2) + "\n")


def record_sweep(report: Any, cfg: ExperimentConfig, overrides: Mapping[str, Any], root: Path) -> None:
    """Update ``book/measured/sweeps.json`` (committed) with a paper-profile sweep that computed units."""
    path = root / "book" / "measured" / "sweeps.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(path.read_text()) if path.is_file() else {}
    machine = machine_summary()
    runs[cfg.notebook] = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "wall_seconds": round(report.wall_seconds, 1),
        "compute_seconds": round(report.compute_seconds, 1),
        "units": report.units,
        "cached_before": report.cached,
        "computed": report.computed,
        "tasks": report.tasks,
        "workers": report.workers,
        "cluster": "LocalCluster, 1 thread each" if report.scheduler.startswith("LocalCluster") else "external cluster",
        "retried": len(report.retried),
        "device": device_type(cfg),
        "machine": f"{machine['cpu']}, {machine['cores']} cores"
        + ("" if machine["cuda"].startswith("none") else f", {machine['cuda']}"),
        "overrides": dict(overrides),
    }
    path.write_text(json.dumps(dict(sorted(runs.items())), indent=2) + "\n")


def _unit_summary(run: Mapping[str, Any]) -> str:
    """ "from cache (n units)" or "computed k of n units in s" from a sidecar's run info."""
    if "hit" not in run:
        return "n/a"
    n, cached = run.get("units", 1), run.get("units_cached", 0)
    if run["hit"]:
        return f"from cache ({n} units)"
    return f"computed {n - cached} of {n} units ({run.get('compute_seconds', 0):.1f} s of compute in all)"


def write_status_page(root: Path) -> Path:
    """``book/generated/status.md``: per-notebook run time and cache key, paper-profile runs, machine, versions."""
    import nbformat

    pages = set(toc_generated_pages(root))
    rows = []
    for path in sorted(p for p in generated_dir(root).glob("*.ipynb") if p.stem in pages):
        meta = nbformat.read(path, as_version=4).metadata
        mine = meta.get(_META_KEY, {})
        link = f"{{doc}}`{path.stem} <{path.stem}>`"
        if mine.get("placeholder") or "papermill" not in meta:
            rows.append(f"| {link} | not executed | | | |")
            continue
        sidecar = figure_dir(root) / f"{path.stem}.json"
        run = json.loads(sidecar.read_text()).get("run", {}) if sidecar.is_file() else {}
        duration = meta["papermill"].get("duration") or 0.0
        result = _unit_summary(run)
        rows.append(
            f"| {link} | {_md(_changes(mine))} | {duration:.1f} s | {result} on {run.get('device', '?')} | `{run.get('key', 'n/a')}` |"
        )
    paper_path = root / "book" / "measured" / "paper_profile_runs.json"
    paper = json.loads(paper_path.read_text()) if paper_path.is_file() else {}
    paper_rows = (
        "\n".join(
            f"| {{doc}}`{name} <{name}>` | {r['seconds']:.0f} s | {_md(r['machine'])} | {r['device']} | {r['date']} |"
            for name, r in paper.items()
            if (generated_dir(root) / f"{name}.ipynb").is_file()
        )
        or "| (none recorded yet) | | | | |"
    )
    sweeps_path = root / "book" / "measured" / "sweeps.json"
    sweeps = json.loads(sweeps_path.read_text()) if sweeps_path.is_file() else {}
    sweep_rows = (
        "\n".join(
            f"| {{doc}}`{name} <{name}>` | {r['wall_seconds']:.0f} s | {r['compute_seconds']:.0f} s | {r['computed']} of {r['units']} "
            f"in {r['tasks']} tasks | {r['workers']} × {_md(r['cluster'])} | {_md(r['machine'])} | {r['date']} |"
            for name, r in sweeps.items()
            if (generated_dir(root) / f"{name}.ipynb").is_file()
        )
        or "| (none recorded yet) | | | | | | |"
    )
    machine = machine_summary()
    machine_rows = "\n".join(f"| {k.replace('_', ' ')} | {_md(v)} |" for k, v in machine.items())
    versions = "\n".join(f"| {k} | {v} |" for k, v in _versions().items())
    text = f"""# Build status

What machine built this book, with which versions, and how long each notebook took.
Generated by `python -m lossdyn build` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

## Notebooks in this build

Run time is papermill's wall time for the whole notebook (kernel start included). *Result*
says how many of the notebook's units of work (one network of an ensemble, one ResNet, or the
whole run) were computed in that run and how many were read from the results cache
(`results/units/<key>/`, each key hashing the unit's parameters, the device type and the
library's source); the *run key* hashes the parameters and the units' keys.

| notebook | profile and changed parameters | run time | result | run key |
|---|---|---|---|---|
{chr(10).join(rows)}

## Paper profile: measured runs

Wall times of the last `python -m lossdyn build --profile paper` run of each notebook, as recorded
in `book/measured/paper_profile_runs.json` (committed with the code that produced them).

| notebook | wall time | machine | device | date |
|---|---|---|---|---|
{paper_rows}

## Paper profile: measured sweeps

Wall times of the last `python -m lossdyn sweep NOTEBOOK --profile paper` that computed units, as
recorded in `book/measured/sweeps.json`; *compute* is the tasks' time summed over workers.

| notebook | wall time | compute | units computed | workers | machine | date |
|---|---|---|---|---|---|---|
{sweep_rows}

## Machine

| | |
|---|---|
{machine_rows}

| package | version |
|---|---|
{versions}
"""
    out = generated_dir(root) / "status.md"
    out.write_text(text)
    return out


def build_book(root: Path) -> int:
    """Jupyter Book 1.x over the repository root; returns its exit code."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), "--all", "-W", "-n", "--keep-going", "-q"]
    return subprocess.run(cmd, cwd=root).returncode


def build(
    *,
    profile: str = "quick",
    only: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    book: bool = True,
    refresh: bool = False,
    timeout: int = 1800,
    root: Path | None = None,
    log=print,
) -> int:
    """The whole pipeline; returns a process exit code (0 ok, 1 a notebook or the book failed).

    Raises :class:`ConfigError` (before any kernel starts) on a bad parameter.
    """
    root = root or find_root()
    jobs = plan_jobs(profile=profile, only=only, overrides=overrides, root=root)
    os.environ["LOSSDYN_QUIET"] = "1"  # kernels inherit it: no progress bars in executed copies
    if refresh:
        os.environ["LOSSDYN_CACHE"] = "refresh"
    failed = []
    for i, job in enumerate(jobs, 1):
        log(f"[{i}/{len(jobs)}] {job.name} ({job.profile}) ...", end=" ", flush=True)
        execute(job, root, timeout=timeout)
        if job.error:
            failed.append(job)
            log(f"FAILED after {job.seconds:.1f} s: {job.error}")
            continue
        postprocess(job, root)
        if job.profile == "paper":
            record_paper_run(job, root)
        log(f"done in {job.seconds:.1f} s")
    out_dir = generated_dir(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in toc_generated_pages(root):
        if name not in ("claims", "status") and not (out_dir / f"{name}.ipynb").is_file():
            write_placeholder(name, root)
    write_claims_page(root)
    write_status_page(root)
    if failed:
        log(
            f"{len(failed)} notebook(s) failed: {', '.join(j.name for j in failed)} "
            f"(the executed copy with the error is in book/generated/)"
        )
        return 1
    if not book:
        return 0
    log("building the book ...", flush=True)
    rc = build_book(root)
    log("book: _build/html/index.html" if rc == 0 else f"jupyter-book failed with exit code {rc}")
    return rc
