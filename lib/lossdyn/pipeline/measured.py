"""Measurements about the runs themselves, committed under ``book/measured/``: machine, versions, wall times.

``paper_profile_runs.json`` records the last ``python -m lossdyn build --profile paper`` run of each
notebook that computed something, ``sweeps.json`` the last paper-profile sweep that computed units (a
grid computed by several resumed sweeps, on one machine or several, adds their times up); the status
page (:mod:`lossdyn.pipeline.pages`) shows both.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lossdyn.pipeline.cache import code_hash, device_type
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import cpu_model
from lossdyn.pipeline.paths import figure_dir
from lossdyn.pipeline.units import plan_for

__all__ = [
    "machine_line",
    "machine_summary",
    "measured_dir",
    "read_measured",
    "record_paper_run",
    "record_sweep",
    "versions",
]


def versions() -> dict[str, str]:
    """Python and the versions of the packages that make the book."""
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


def machine_line() -> str:
    """ "<CPU>, <n> cores" (and the GPU where there is one), for the measured records."""
    machine = machine_summary()
    gpu = "" if machine["cuda"].startswith("none") else f", {machine['cuda']}"
    return f"{machine['cpu']}, {machine['cores']} cores{gpu}"


def measured_dir(root: Path) -> Path:
    return root / "book" / "measured"


def read_measured(root: Path, name: str) -> dict[str, Any]:
    """The records of ``book/measured/<name>.json`` ({} if there are none yet)."""
    path = measured_dir(root) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _update(root: Path, name: str, key: str, record: dict[str, Any]) -> None:
    runs = read_measured(root, name)
    runs[key] = record
    path = measured_dir(root) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(runs.items())), indent=2) + "\n")


def record_paper_run(name: str, seconds: float, overrides: Mapping[str, Any], root: Path) -> None:
    """Record a paper-profile build of notebook ``name`` that computed something (wall time ``seconds``)."""
    sidecar = figure_dir(root) / f"{name}.json"
    run = json.loads(sidecar.read_text()).get("run", {}) if sidecar.is_file() else {}
    if run.get("hit"):  # rendered from the cache (e.g. after a sweep): nothing was timed
        return
    record = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seconds": round(seconds, 1),
        "compute_seconds": run.get("compute_seconds"),
        "from_cache": run.get("hit"),
        "units": run.get("units"),
        "units_cached": run.get("units_cached"),
        "device": run.get("device"),
        "machine": machine_line(),
        "overrides": dict(overrides),
    }
    _update(root, "paper_profile_runs", name, record)


def record_sweep(
    report: Any, cfg: ExperimentConfig, overrides: Mapping[str, Any], root: Path, *, interrupted: bool = False
) -> None:
    """Record a paper-profile sweep (:class:`lossdyn.pipeline.sweep.SweepReport`) that computed units, also
    one stopped by Ctrl-C (``interrupted``). A sweep that resumes a grid the last recorded sweep left
    incomplete (same overrides and compute closure, on this machine or another) adds to that record: wall,
    compute and CPU times and units computed are summed over the sweeps, each listed in ``pieces``."""
    code = code_hash(plan_for(cfg))
    piece = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "wall_seconds": round(report.wall_seconds, 1),
        "compute_seconds": round(report.compute_seconds, 1),
        "cpu_seconds": round(report.cpu_seconds, 1),
        "computed": report.computed,
        "machine": machine_line(),
        "interrupted": interrupted,
    }
    prev = read_measured(root, "sweeps").get(cfg.notebook, {})
    resumes = prev and not prev.get("grid_complete") and prev.get("code") == code
    resumes = resumes and prev.get("overrides") == dict(overrides)
    pieces = [*prev.get("pieces", []), piece] if resumes else [piece]
    record = {
        "date": piece["date"],
        **{k: round(sum(p[k] for p in pieces), 1) for k in ("wall_seconds", "compute_seconds", "cpu_seconds")},
        "model_steps": report.model_steps,
        "grid_compute_seconds": round(report.grid_seconds, 1),
        "grid_complete": report.grid_complete,
        "units": report.units,
        "cached_before": prev["cached_before"] if resumes else report.cached,
        "computed": sum(p["computed"] for p in pieces),
        "tasks": report.tasks + (prev["tasks"] if resumes else 0),
        "workers": report.workers,
        "cluster": "LocalCluster, 1 thread each" if report.scheduler.startswith("LocalCluster") else "external cluster",
        "retried": len(report.retried) + (prev["retried"] if resumes else 0),
        "device": device_type(cfg),
        "machine": machine_line(),
        "overrides": dict(overrides),
        "code": code,
        "pieces": pieces,
    }
    _update(root, "sweeps", cfg.notebook, record)
