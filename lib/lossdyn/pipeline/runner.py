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
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lossdyn.pipeline.config import ConfigError, ExperimentConfig
from lossdyn.pipeline.figures import config_class
from lossdyn.pipeline.measured import record_paper_run
from lossdyn.pipeline.pages import (
    META_KEY,
    toc_generated_pages,
    write_claims_page,
    write_figure_tables,
    write_placeholder,
    write_status_page,
)
from lossdyn.pipeline.paths import figure_dir, find_root, generated_dir, notebook_dir, params_dir

__all__ = ["PROFILES", "Job", "build", "notebook_defaults", "plan_jobs"]

PROFILES = ("quick", "paper")


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

Results cache key `{run.get("key", "n/a")}` (device `{run.get("device", "n/a")}`); see the
{{doc}}`status page <status>`.
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
    nb.metadata[META_KEY] = {
        "profile": job.profile,
        "overrides": job.inject,
        "parameters": job.cfg.to_dict(),
        "seconds": round(job.seconds, 2),
    }
    nbformat.write(nb, path)


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
            record_paper_run(job.name, job.seconds, job.inject, root)
        log(f"done in {job.seconds:.1f} s")
    out_dir = generated_dir(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in toc_generated_pages(root):
        if name not in ("claims", "status") and not (out_dir / f"{name}.ipynb").is_file():
            write_placeholder(name, root)
    write_claims_page(root)
    write_status_page(root)
    write_figure_tables(root)
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
