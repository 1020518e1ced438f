"""The book pipeline: validate parameters → papermill → post-process → generated pages → Jupyter Book.

``python -m lossdyn build`` (see :mod:`lossdyn.pipeline.cli`) calls :func:`build`. Before any kernel
starts, every parameter is validated against the notebook's typed config (:func:`plan_jobs`) and each
run is checked (:func:`preflight`): it has at least one unit of work, its device exists here unless
every unit is already cached, its estimated memory (the figure module's ``estimate(cfg)``,
:class:`~lossdyn.pipeline.figures.Cost`) fits in this machine's available memory, and its estimated
time is at most :data:`COST_FACTOR` times its profile's own estimate unless ``--yes``; the results cache
must be writable. A failure there is a :class:`ConfigError` (one line, exit 2).

A notebook is executed into a staging folder (``_build/lossdyn-staging/``), with its figure files
redirected there too (``LOSSDYN_FIGURE_DIR``, read by :func:`lossdyn.pipeline.plotting.save_figure`), over
IPC rather than TCP. Only when the whole notebook ran without an error output and wrote its figure and
sidecar are they moved into ``book/figures/`` and the executed copy into ``book/generated/<name>.ipynb``
(:func:`commit`, with Ctrl-C held back for those few renames), so a failed or interrupted run leaves the
previous page, sidecar, status and claims entries as they were; the failed copy is kept in
``_build/lossdyn-failed/``. Post-processing hides the injected-parameters cell, appends a "Reproduce this
page" section (resolved parameters, commands, downloads, cache key) and makes every path repository-relative
(papermill's metadata, outputs). The claims page and the status page are generated from the figures'
JSON sidecars and the executed notebooks' metadata. Jupyter Book 1.x then renders what papermill wrote
(execution off), with ``--all -W -n --keep-going`` — but not if a page it would publish carries an
error output (:func:`pages_with_errors`). Ctrl-C raises :class:`~lossdyn.pipeline.progress.Interrupted`.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lossdyn.pipeline.archive import renders_here
from lossdyn.pipeline.config import ConfigError, ExperimentConfig
from lossdyn.pipeline.figures import Cost, config_class, figure
from lossdyn.pipeline.measured import record_paper_run
from lossdyn.pipeline.pages import (
    META_KEY,
    toc_generated_pages,
    write_claims_page,
    write_figure_tables,
    write_placeholder,
    write_status_page,
    write_units_table,
    write_verdict_tables,
)
from lossdyn.pipeline.paths import figure_dir, find_root, generated_dir, notebook_dir, params_dir
from lossdyn.pipeline.progress import Interrupted
from lossdyn.pipeline.published import annotate_sidecar, archive_status, page_banner, provenance, quick_dir

__all__ = [
    "BUILD_PROFILES",
    "COST_FACTOR",
    "PROFILES",
    "Job",
    "available_memory",
    "build",
    "commit",
    "notebook_defaults",
    "pages_with_errors",
    "parse_value",
    "plan_book_jobs",
    "plan_jobs",
    "portable",
    "preflight",
]

PROFILES = ("quick", "paper")
#: ``build``'s profiles: ``archive`` (the default) renders each page at the paper profile from the published
#: archive where it holds the page's whole grid, else at the quick profile (:mod:`lossdyn.pipeline.published`).
BUILD_PROFILES = ("archive", *PROFILES)
#: A run whose estimated time exceeds this many times its profile's own estimate needs ``--yes``.
COST_FACTOR = 20.0
_FIGURE_FILES = ("png", "svg", "pdf", "json")


@dataclass
class Job:
    """One notebook to execute: its name, profile, the parameters to inject and the resolved config
    (``base``: the profile's config without ``-p`` overrides, what the time estimate is compared with).

    ``source`` is ``archive`` for a page read from the published archive (``prov``: its units' provenance),
    ``fallback`` why a page of the default build shows the quick profile, ``quick_copy`` whether this run
    is the quick-profile copy for nbval (:func:`lossdyn.pipeline.published.quick_dir`), not the page.
    """

    name: str
    profile: str
    inject: dict[str, Any]
    overrides: dict[str, Any]
    cfg: ExperimentConfig
    base: ExperimentConfig | None = None
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    source: str = "run"
    prov: dict[str, Any] | None = None
    fallback: str | None = None
    quick_copy: bool = False

    def pages(self, root: Path) -> tuple[Path, Path]:
        """(folder of the executed copy, folder of its figure files)."""
        if self.quick_copy:
            return quick_dir(root), quick_dir(root) / "figures"
        return generated_dir(root), figure_dir(root)


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


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's scalars: ``1e-3``, ``.inf``, ``-.inf``,
    ``.nan`` (and plain ``inf``, ``nan``, as papermill's ``-p`` reads them) are floats, ``010`` is ten,
    only ``true``/``false`` are booleans (YAML 1.1 reads ``1e-3`` as a string and ``on`` as true)."""


_Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.?(?:inf|Inf|INF)|\.?(?:nan|NaN|NAN))$",
        list("-+0123456789.iInN"),
    ),
):
    _Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)


def _yaml12_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    sign, digits = (-1 if text[0] == "-" else 1), text.lstrip("+-")
    base = 8 if digits.startswith("0o") else 16 if digits.startswith("0x") else 10
    return sign * int(digits[2:] if base != 10 else digits, base)


def _yaml12_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = loader.construct_scalar(node)
    return float(text.replace(".", "", 1) if text.lower().lstrip("+-").lstrip(".") in ("inf", "nan") else text)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _yaml12_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _yaml12_float)


def parse_value(text: str) -> Any:
    """A ``-p KEY VALUE`` value as YAML 1.2 (``1.5``, ``1e-3``, ``nan``, ``.inf`` → float, ``true`` → bool,
    ``[1, 2]`` → list, ``cuda`` → str); text that is not YAML stays text."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
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
        base = cls.from_mapping({**defaults, **prof}) if mine else cfg
        jobs.append(Job(name, profile, inject, mine, cfg, base))
    unused = sorted(set(overrides) - used)
    if unused:
        allowed = sorted({k for j in jobs for k in j.cfg.to_dict()})
        raise ConfigError(f"{unused[0]}: unknown parameter for {', '.join(names)}; allowed: {', '.join(allowed)}")
    return jobs


def plan_book_jobs(*, only: Sequence[str] = (), root: Path | None = None) -> list[Job]:
    """The default build's jobs: each selected notebook at the paper profile, read from the published
    archive, where the archive holds every unit of its paper-profile grid, else at the quick profile
    (``fallback`` says how much of it the archive holds); then a quick-profile copy of each notebook
    for nbval and the quick verdicts (``quick_copy``)."""
    root = root or find_root()
    paper = plan_jobs(profile="paper", only=only, root=root)
    quick = plan_jobs(profile="quick", only=only, root=root)
    pages, copies = [], []
    for p, q in zip(paper, quick):
        have, n, entry = archive_status(p.cfg, root)
        q_have, q_n, q_entry = archive_status(q.cfg, root, "quick")
        if q_have == q_n and renders_here(q_entry):  # archived on this platform: render it, computing nothing
            q.source, q.prov = "archive", provenance(q_entry)
        if have == n:
            p.source, p.prov = "archive", provenance(entry)
            pages.append(p)
            copies.append(dataclasses.replace(q, quick_copy=True))
        else:
            q.fallback = f"the published archive holds {have} of the {n} units of its paper-profile grid"
            pages.append(q)
    return pages + copies


# -- checks before any kernel -------------------------------------------------------------------
def available_memory() -> int:
    """Bytes of memory available to a new process now (``MemAvailable`` of ``/proc/meminfo``)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 1.5 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _missing_units(cfg: ExperimentConfig) -> tuple[int, int]:
    """(units of ``cfg``, units not in the results cache); every unit counts as missing unless the cache is on."""
    from lossdyn.pipeline.cache import cache_mode, cache_root, device_type, distinct_units, is_stored, unit_keys
    from lossdyn.pipeline.units import plan_for

    plan = plan_for(cfg)
    keys = unit_keys(plan, device_type(cfg))
    units = distinct_units(plan, keys)
    if cache_mode() != "on":
        return len(units), len(units)
    root_dir = cache_root()
    return len(units), sum(not is_stored(keys[id(u)], root_dir) for u in units)


def _check_cost(job: Job, missing: int, units: int, *, yes: bool, memory: int) -> None:
    """Refuse a CPU run estimated above ``memory`` bytes, or far beyond its profile's time without ``yes``."""
    estimate = getattr(figure(job.name), "estimate", None)
    if estimate is None or not missing or job.cfg.device.startswith("cuda"):
        return
    from lossdyn.pipeline.device import resolve_device

    if job.cfg.device == "auto" and resolve_device("auto").type == "cuda":
        return  # the estimates are for this project's CPU
    cost: Cost = estimate(job.cfg)
    if cost.memory_bytes > memory:
        raise ConfigError(
            f"{job.name}: these parameters need about {_size(cost.memory_bytes)} of memory, more than the "
            f"{_size(memory)} available on this machine; choose smaller sizes"
        )
    seconds = cost.seconds * missing / units
    base: Cost = estimate(job.base or job.cfg)
    if seconds > COST_FACTOR * base.seconds and not yes:
        raise ConfigError(
            f"{job.name}: estimated {_duration(seconds)} on this machine's CPU, more than {COST_FACTOR:g}× the "
            f"{job.profile} profile's {_duration(base.seconds)}; pass --yes to run it anyway"
        )


def preflight(jobs: Sequence[Job], *, yes: bool = False, memory: int | None = None) -> None:
    """Check every job before any kernel starts; raises :class:`ConfigError` (one line).

    A run must have at least one unit of work; a CUDA device that is not there is an error unless every
    unit is already cached (a CPU machine can render GPU results); then the cost (:func:`_check_cost`,
    skipped when nothing is to be computed).
    """
    from lossdyn.pipeline.device import device_problem

    memory = available_memory() if memory is None else memory
    for job in jobs:
        if job.source == "archive":  # read from the published archive: nothing to compute, any device
            continue
        units, missing = _missing_units(job.cfg)
        if units == 0:
            raise ConfigError(f"{job.name}: these parameters give nothing to run (0 units of work)")
        problem = device_problem(job.cfg.device)
        if problem and missing:
            raise ConfigError(
                f"device = {job.cfg.device!r} is not allowed here: {problem} "
                f"({missing} of {units} units of {job.name} are not in the results cache)"
            )
        _check_cost(job, missing, units, yes=yes, memory=memory)


# -- execution --------------------------------------------------------------------------------
def _kernel_manager(log: Path, sockets: Path) -> type:
    """nbclient's ``AsyncKernelManager`` with the kernel on IPC sockets in the folder ``sockets`` (local files,
    not unencrypted TCP; a short path, as socket paths are limited to about 100 bytes) and its own
    stdout/stderr (kernel log lines, its worker processes) in ``log`` instead of the terminal."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class RunnerKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return str(sockets / "kernel")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            with open(log, "ab") as out:  # Popen duplicates the descriptor
                kw["stdout"] = kw["stderr"] = out
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return RunnerKernelManager


def staging_dir(root: Path, name: str) -> Path:
    """A fresh ``_build/lossdyn-staging/<name>-<pid>/`` with a ``figures/`` folder (stale ones of dead runs removed)."""
    base = root / "_build" / "lossdyn-staging"
    for old in base.glob(f"{name}-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    stage = base / f"{name}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "figures").mkdir(parents=True)
    return stage


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _kernel_env(stage: Path, job: Job) -> Iterator[None]:
    """Environment the kernel inherits: figures into the stage, notices into a file, "run by the runner";
    a page read from the published archive runs with the results cache in mode ``archive`` (no compute)."""
    values = {
        "LOSSDYN_FIGURE_DIR": str(stage / "figures"),
        "LOSSDYN_NOTICES": str(stage / "notices.txt"),
        "LOSSDYN_RUNNER": "1",
    }
    if job.source == "archive":
        values["LOSSDYN_CACHE"] = "archive"
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _one_line(exc: BaseException) -> str:
    """An execution failure in one line: the kernel's ``ename: evalue`` where papermill gives it."""
    if getattr(exc, "ename", None):
        text = f"{exc.ename}: {exc.evalue}"
    else:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return re.sub(r"\x1b\[[0-9;]*m", "", text).strip()


def execute(job: Job, root: Path, *, timeout: int, stage: Path) -> Path:
    """Run one notebook with papermill into ``stage`` (kernel cwd ``book/generated``); returns the executed copy.

    Sets ``job.error`` (one line) if papermill raised, a cell has an error output, or the figure files are missing.
    """
    import papermill

    out_dir = job.pages(root)[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    staged = stage / f"{job.name}.ipynb"
    sockets = Path(tempfile.mkdtemp(prefix="lossdyn-ipc-"))
    start = time.perf_counter()
    for logger in ("asyncio", "papermill", "traitlets"):  # the runner reports failures itself, in one line
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    try:
        with _kernel_env(stage, job):
            papermill.execute_notebook(
                str(notebook_dir(root) / f"{job.name}.ipynb"),
                str(staged),
                parameters=job.inject,
                cwd=str(out_dir),
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout,
                kernel_manager_class=_kernel_manager(stage / "kernel.log", sockets),
                shutdown_kernel="immediate",  # no graceful wait for a kernel that Ctrl-C left busy
            )
    except Exception as exc:  # papermill wrote the failing notebook into the stage; report and go on
        job.error = _one_line(exc)
    finally:
        job.seconds = time.perf_counter() - start
        shutil.rmtree(sockets, ignore_errors=True)
    if job.error is None:
        job.error = _check_executed(job.name, staged, stage / "figures")
    return staged


def _check_executed(name: str, staged: Path, figures: Path) -> str | None:
    """Why an executed copy must not be published (an error output, no figure files); ``None`` if it may."""
    import nbformat

    if not staged.is_file():
        return "papermill wrote no executed notebook"
    errors = _error_outputs(nbformat.read(staged, as_version=4))
    if errors:
        return errors[0]
    absent = [f"{name}.{fmt}" for fmt in _FIGURE_FILES if not (figures / f"{name}.{fmt}").is_file()]
    return f"the notebook did not save {', '.join(absent)}" if absent else None


def _error_outputs(nb: Any) -> list[str]:
    """``ename: evalue`` of every error output of a notebook, and a line for every code cell papermill marked as
    failed or never ran (a run that timed out, was interrupted or whose kernel died)."""
    found = []
    for i, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        found += [f"{o.get('ename', 'Error')}: {o.get('evalue', '')}" for o in errors]
        if errors or cell.get("cell_type") != "code" or not cell.get("source", "").strip():
            continue
        if cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            found.append(f"cell {i} did not finish (papermill marked it as failed)")
        elif cell.get("execution_count") is None:
            found.append(f"cell {i} was never executed (the run stopped before it)")
    return found


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


def _source_words(job: Job) -> str:
    if job.source == "archive" and job.fallback:
        return f" ({job.fallback}; its quick-profile units read from the published archive)"
    if job.source == "archive":
        return ", every unit read from the published archive `results/paper/` (nothing computed)"
    return f" ({job.fallback})" if job.fallback else ""


def _reproduce_markdown(job: Job, sidecar: Path) -> str:
    data = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    run = data.get("run", {})
    rows = "\n".join(
        f"| `{k}` | `{v!r}` | {'**changed**' if k in job.inject else 'default'} |" for k, v in job.cfg.to_dict().items()
    )
    stems = [Path(f["files"]["png"]).stem for f in data.get("figures", [])] or [job.name]
    downloads = " · ".join(
        f"{{download}}`{fmt.upper()}{'' if len(stems) == 1 else ' ' + str(i + 1)} <../figures/{stem}.{fmt}>`"
        for i, stem in enumerate(stems)
        for fmt in ("png", "svg", "pdf")
    )
    downloads += f" · {{download}}`JSON <../figures/{job.name}.json>`"
    return f"""## Reproduce this page

This page was executed with the **{job.profile}** profile{_source_words(job)}. Figure files: {downloads}

:::{{dropdown}} Parameters and commands to rerun it
Parameters used (the notebook's `parameters` cell holds the quick defaults; "changed" marks values
injected by the profile or `-p`):

| parameter | value | source |
|---|---|---|
{rows}

Rerun it with the companion's runner, or with plain papermill from the repository root:

```sh
{_cli_command(job)}
{_papermill_command(job)}
```

Results cache key `{run.get("key", "n/a")}` (device `{run.get("device", "n/a")}`); see the
{{doc}}`status page <status>`.
:::
"""


def portable(text: str, root: Path) -> str:
    """``text`` with machine paths made relative: the repository root (→ relative), the home folder (→ ``~``)."""
    for prefix, short in ((str(root), "."), (str(Path.home()), "~")):
        if len(prefix) > 1:
            text = text.replace(prefix + os.sep, "" if short == "." else short + os.sep).replace(prefix, short)
    return text


def _portable_outputs(nb: Any, root: Path) -> None:
    """Machine paths in every output (streams, text, tracebacks) made relative (:func:`portable`)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = portable(out["text"], root)
            for mime in ("text/plain", "text/html", "text/markdown"):
                if isinstance(out.get("data", {}).get(mime), str):
                    out["data"][mime] = portable(out["data"][mime], root)
            if "traceback" in out:
                out["traceback"] = [portable(line, root) for line in out["traceback"]]
            if "evalue" in out:
                out["evalue"] = portable(out["evalue"], root)


def postprocess(job: Job, root: Path, path: Path, sidecar: Path) -> None:
    """Hide the injected-parameters cell, append "Reproduce this page", record the job in metadata, and make
    papermill's paths and the outputs repository-relative (nothing published holds a machine path)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    if sidecar.is_file():
        annotate_sidecar(sidecar, profile=job.profile, source=job.source, prov=job.prov)
    _insert_banner(nb, page_banner(job.source, job.prov, job.fallback))
    nb.cells.append(nbformat.v4.new_markdown_cell(_reproduce_markdown(job, sidecar)))
    nb.metadata[META_KEY] = {
        "profile": job.profile,
        "source": job.source,
        "fallback": job.fallback,
        "overrides": job.inject,
        "parameters": job.cfg.to_dict(),
        "seconds": round(job.seconds, 2),
    }
    papermill = nb.metadata.get("papermill", {})
    papermill.update(input_path=f"notebooks/{job.name}.ipynb", output_path=f"book/generated/{job.name}.ipynb")
    _portable_outputs(nb, root)
    nbformat.write(nb, path)


def _insert_banner(nb: Any, text: str) -> None:
    """``text`` as a Markdown cell right under the page's title (the first cell's ``# `` line)."""
    import nbformat

    if not text:
        return
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and first.source.startswith("# "):
        title, _, rest = first.source.partition("\n")
        first.source = title
        nb.cells[1:1] = [nbformat.v4.new_markdown_cell(text), nbformat.v4.new_markdown_cell(rest.lstrip("\n"))]
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))


@contextlib.contextmanager
def _holding_sigint() -> Iterator[None]:
    """Ctrl-C held back inside the block (re-raised right after it), so a commit is never half done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if caught:
        raise KeyboardInterrupt


def commit(name: str, root: Path, stage: Path, dest: tuple[Path, Path] | None = None) -> None:
    """Publish a staged run: its figure files into ``book/figures/`` (removing the page's files that the run
    no longer wrote), then the page into ``book/generated/`` (renames on one filesystem; Ctrl-C waits until
    both are done). ``dest``: other (pages, figures) folders, e.g. the quick-profile copies'."""
    pages, figures = dest or (generated_dir(root), figure_dir(root))
    figures.mkdir(parents=True, exist_ok=True)
    staged = sorted((stage / "figures").iterdir())
    names = {p.name for p in staged}
    with _holding_sigint():
        for old in [*figures.glob(f"{name}.*"), *figures.glob(f"{name}-*.*")]:
            if old.name not in names:  # a figure the page no longer has (renamed or merged)
                old.unlink()
        for path in staged:
            os.replace(path, figures / path.name)
        os.replace(stage / f"{name}.ipynb", pages / f"{name}.ipynb")


def _keep_failed(name: str, root: Path, stage: Path) -> Path | None:
    """Move a failed run's executed copy to ``_build/lossdyn-failed/<name>.ipynb`` and its kernel's own
    output to ``<name>.log`` beside it, if any (for reading, never published)."""
    staged, log = stage / f"{name}.ipynb", stage / "kernel.log"
    if not staged.is_file():
        return None
    failed = root / "_build" / "lossdyn-failed" / f"{name}.ipynb"
    failed.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, failed)
    if log.is_file() and log.stat().st_size:
        os.replace(log, failed.with_suffix(".log"))
    return failed


def _notices(stage: Path) -> list[str]:
    path = stage / "notices.txt"
    return path.read_text().splitlines() if path.is_file() else []


def run_job(job: Job, root: Path, *, timeout: int) -> None:
    """Execute one job in its stage and publish it only if it succeeded; ``job.error``/``job.notes`` say what happened.

    The stage is removed afterwards whatever happened (Ctrl-C included); a failed copy is kept aside.
    """
    stage = staging_dir(root, job.name)
    try:
        staged = execute(job, root, timeout=timeout, stage=stage)
        job.notes += _notices(stage)
        if job.error is None:
            postprocess(job, root, staged, stage / "figures" / f"{job.name}.json")
            commit(job.name, root, stage, job.pages(root))
            if job.fallback is not None:  # the page is the quick run: it is also nbval's copy
                _copy_quick(job.name, root)
    finally:
        if job.error is not None or (stage / f"{job.name}.ipynb").is_file():
            failed = _keep_failed(job.name, root, stage)
            if failed is not None:
                job.notes.append(f"the failed run is in {failed.relative_to(root)}")
        shutil.rmtree(stage, ignore_errors=True)


def _copy_quick(name: str, root: Path) -> None:
    """A quick-profile page of the default build, copied as its quick-profile copy (:func:`quick_dir`)."""
    out = quick_dir(root)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for old in [*(out / "figures").glob(f"{name}.*"), *(out / "figures").glob(f"{name}-*.*")]:
        old.unlink()
    shutil.copy2(generated_dir(root) / f"{name}.ipynb", out / f"{name}.ipynb")
    for path in [*figure_dir(root).glob(f"{name}.*"), *figure_dir(root).glob(f"{name}-*.*")]:
        shutil.copy2(path, out / "figures" / path.name)


def pages_with_errors(root: Path) -> list[str]:
    """``book/generated/<page>.ipynb: ename: evalue`` for every page of the table of contents with an error output."""
    import nbformat

    found = []
    for name in toc_generated_pages(root):
        path = generated_dir(root) / f"{name}.ipynb"
        if path.is_file():
            errors = _error_outputs(nbformat.read(path, as_version=4))
            found += [f"book/generated/{name}.ipynb: {errors[0]}"] if errors else []
    return found


def _make_portable(root: Path) -> None:
    """Machine paths out of every page about to be published, whoever executed it (plain papermill too)."""
    import nbformat

    for name in toc_generated_pages(root):
        path = generated_dir(root) / f"{name}.ipynb"
        if not path.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        meta = nb.metadata.get("papermill", {})
        for key in ("input_path", "output_path"):
            if isinstance(meta.get(key), str):
                meta[key] = portable(meta[key], root)
        _portable_outputs(nb, root)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)


def repository_url(root: Path) -> str | None:
    """The web address of the repository for the book's header: ``LOSSDYN_REPOSITORY_URL``, else the
    GitHub Actions repository (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``), else the ``origin`` remote
    (an ``git@host:owner/name`` address made ``https://host/owner/name``); ``None`` when there is none."""
    env = os.environ
    if env.get("LOSSDYN_REPOSITORY_URL"):
        return env["LOSSDYN_REPOSITORY_URL"].rstrip("/")
    if env.get("GITHUB_REPOSITORY"):
        return f"{env.get('GITHUB_SERVER_URL', 'https://github.com').rstrip('/')}/{env['GITHUB_REPOSITORY']}"
    try:
        out = subprocess.run(
            ["git", "remote", "get-url", "origin"], cwd=root, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return None
    if out.startswith("git@") and ":" in out:
        host, path = out[4:].split(":", 1)
        out = f"https://{host}/{path}"
    return out.removesuffix(".git") if out.startswith("https://") else None


_PROVIDERS = ("github.com", "gitlab.com", "bitbucket.org")


def book_config(root: Path) -> Path:
    """``_config.yml``, with the repository link in the header when :func:`repository_url` finds one on
    GitHub, GitLab or Bitbucket (written to ``_build/lossdyn-config.yml``)."""
    import yaml

    url = repository_url(root)
    if url is None or not any(host in url for host in _PROVIDERS):
        return root / "_config.yml"  # the theme names only these hosts' buttons
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["repository"] = {"url": url, "branch": "main"}
    config.setdefault("html", {})["use_repository_button"] = True
    out = root / "_build" / "lossdyn-config.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return out


def build_book(root: Path) -> int:
    """Jupyter Book 1.x over the repository root; returns its exit code."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), "--all", "-W", "-n", "--keep-going", "-q", "--config", str(book_config(root))]
    return subprocess.run(cmd, cwd=root).returncode


def _write_pages(root: Path) -> None:
    """Placeholders for pages not executed yet, the claims, status and chapter figure pages."""
    out_dir = generated_dir(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in toc_generated_pages(root):
        if name not in ("claims", "status") and not (out_dir / f"{name}.ipynb").is_file():
            write_placeholder(name, root)
    write_claims_page(root)
    write_status_page(root)
    write_figure_tables(root)
    write_verdict_tables(root)
    write_units_table(root, _profile_configs(root))


def _profile_configs(root: Path) -> dict[str, tuple[ExperimentConfig, ExperimentConfig]]:
    """name → (quick config, paper config) of every notebook whose two profiles resolve (for the units table)."""
    out = {}
    for name in list_notebooks(root):
        try:
            (quick,), (paper,) = plan_jobs(only=[name], root=root), plan_jobs(profile="paper", only=[name], root=root)
        except ConfigError:
            continue
        out[name] = (quick.cfg, paper.cfg)
    return out


def _run_all(jobs: Sequence[Job], root: Path, *, timeout: int, log) -> list[Job]:
    """Run every job (:func:`run_job`); returns the failed ones. Ctrl-C: :class:`Interrupted` naming the notebook."""
    failed: list[Job] = []
    for i, job in enumerate(jobs, 1):
        what = "quick-profile copy for nbval" if job.quick_copy else job.profile
        what += ", from the published archive" if job.source == "archive" else ""
        log(f"[{i}/{len(jobs)}] {job.name} ({what}) ...", end=" ", flush=True)
        try:
            run_job(job, root, timeout=timeout)
        except KeyboardInterrupt:
            _write_pages(root)
            raise Interrupted(
                f"build stopped during {job.name}: its previous page is kept; {i - 1 - len(failed)} notebook(s) "
                "finished before it, and every unit stored in the results cache stays there"
            ) from None
        if job.error:
            failed.append(job)
            log(f"FAILED after {job.seconds:.1f} s: {job.error}; its previous page is kept")
        else:
            if job.profile == "paper" and job.source != "archive":
                record_paper_run(job.name, job.seconds, job.inject, root)
            log(f"done in {job.seconds:.1f} s")
        for note in job.notes:
            log(f"    {note}")
    return failed


def build(
    *,
    profile: str | None = None,
    only: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    book: bool = True,
    refresh: bool = False,
    timeout: int = 1800,
    yes: bool = False,
    root: Path | None = None,
    log=print,
) -> int:
    """The whole pipeline; returns a process exit code (0 ok, 1 a notebook or the book failed).

    ``profile="archive"`` (the default, unless ``overrides`` or ``refresh`` make it ``quick``): every page at
    the paper profile from the published archive where it holds the page's whole grid, else at the quick
    profile with a banner, and the quick-profile copies for nbval (:func:`plan_book_jobs`);
    ``quick``/``paper``: every selected page at that profile, computing what is neither in the results
    cache nor in the archive.

    Raises :class:`ConfigError` (before any kernel starts) on a bad parameter, an impossible or too costly
    run (:func:`preflight`) or a results cache that cannot be written; :class:`Interrupted` on Ctrl-C.
    """
    from lossdyn.pipeline.cache import cache_mode, cache_root, check_writable

    root = root or find_root()
    if timeout <= 0:
        raise ConfigError(f"--timeout = {timeout} is not allowed: need a number of seconds > 0")
    if profile is None:  # the default: the published archive, unless parameters or a refresh ask for a run
        profile = "quick" if overrides or refresh else "archive"
    if profile == "archive" and (overrides or refresh):
        flag = "-p" if overrides else "--refresh"
        raise ConfigError(f"{flag}: the default build renders the published archive; give --profile quick or paper")
    if profile == "archive":
        jobs = plan_book_jobs(only=only, root=root)
    else:
        jobs = plan_jobs(profile=profile, only=only, overrides=overrides, root=root)
    os.environ["LOSSDYN_QUIET"] = "1"  # kernels inherit it: no progress bars in executed copies
    if refresh:
        os.environ["LOSSDYN_CACHE"] = "refresh"
    preflight(jobs, yes=yes)
    if cache_mode() != "off":
        check_writable(cache_root(root))
    failed = _run_all(jobs, root, timeout=timeout, log=log)
    _write_pages(root)
    if failed:
        log(f"{len(failed)} notebook(s) failed: {', '.join(j.name for j in failed)} (their previous pages are kept)")
        return 1
    if not book:
        return 0
    _make_portable(root)
    broken = pages_with_errors(root)
    if broken:
        log(f"not building the book: {len(broken)} page(s) carry an error output, e.g. {broken[0]}")
        return 1
    log("building the book ...", flush=True)
    rc = build_book(root)
    log("book: _build/html/index.html" if rc == 0 else f"jupyter-book failed with exit code {rc}")
    return rc
