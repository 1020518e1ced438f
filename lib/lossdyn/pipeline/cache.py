"""Results cache: one entry per unit of work (:mod:`lossdyn.pipeline.units`), keyed by the unit and the lib's source.

A notebook's run step asks :func:`cached_run` for its result; the config's :class:`~lossdyn.pipeline.units.Plan`
lists its units (one network of an ensemble, one ResNet, or the whole run), the cached ones are
read, the missing ones computed (together, as one batch per group) and stored, and the result is
assembled from the units. Adding seeds or η values therefore computes only the new units, and
``python -m lossdyn sweep`` fills the same entries from many machines.

An entry is ``<cache root>/units/<key>/`` holding ``result.pt`` (the unit's result: a dict of
tensors, numbers, strings and lists), ``unit.json`` (kind, label, fields) and ``meta.json``
(versions, device, wall time, host, git commit). The key is ``sha256(canonical JSON of the unit's
kind and fields + device type + sha256 of every lib source file)``, so a change to a parameter or
to any lib code gives a new key; nothing is invalidated by hand.

Entries are written into a temporary folder on the same filesystem and renamed into place, so a
killed run or worker leaves no half entry (at most a ``.tmp-*`` folder, never read).

The cache root is ``results/`` in the repository, or ``LOSSDYN_CACHE_DIR`` (a shared filesystem
path for several machines; ``--cache-dir`` of the CLI sets it). ``LOSSDYN_CACHE`` selects the mode:
``on`` (default: read and write), ``refresh`` (recompute and overwrite) or ``off`` (recompute,
neither read nor write; the test suite sets it so nbval's re-execution computes every number
from the code).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import resolve_device
from lossdyn.pipeline.paths import find_root, results_dir
from lossdyn.pipeline.units import Plan, Unit, canonical, plan_for

__all__ = [
    "CacheInfo",
    "cache_key",
    "cache_mode",
    "cache_root",
    "cached_run",
    "compute_units",
    "device_type",
    "distinct_units",
    "is_stored",
    "lib_source_hash",
    "load_unit",
    "run_key",
    "store_unit",
    "unit_entry",
    "unit_key",
    "unit_keys",
    "unit_meta",
]

_MODES = ("on", "refresh", "off")


def cache_mode() -> str:
    mode = os.environ.get("LOSSDYN_CACHE", "on")
    if mode not in _MODES:
        raise ValueError(f"LOSSDYN_CACHE={mode!r}; allowed: {', '.join(_MODES)}")
    return mode


def lib_source_hash() -> str:
    """sha256 over the path and bytes of every ``.py`` file of the ``lossdyn`` package."""
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(pkg.rglob("*.py")):
        h.update(path.relative_to(pkg).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def device_type(cfg: ExperimentConfig) -> str:
    """``cpu`` or ``cuda``: ``auto`` resolved on this machine, an explicit device taken as asked
    (so a CPU-only machine can render from results computed on GPUs)."""
    return resolve_device("auto").type if cfg.device == "auto" else cfg.device.split(":")[0]


def cache_root(root: Path | None = None) -> Path:
    """``LOSSDYN_CACHE_DIR`` if set (a shared filesystem path), else ``results/`` in the repository."""
    env = os.environ.get("LOSSDYN_CACHE_DIR", "")
    return Path(env).expanduser().resolve() if env else results_dir(root)


def unit_key(unit: Unit, device: str, lib: str | None = None) -> str:
    """16 hex digits identifying (unit kind and fields, device type, lib source)."""
    payload = {"kind": unit.kind, "fields": unit.fields, "device": device, "lib": lib or lib_source_hash()}
    return hashlib.sha256(canonical(payload).encode()).hexdigest()[:16]


def unit_keys(plan: Plan, device: str, lib: str | None = None) -> dict[int, str]:
    """The key of every unit of ``plan``, by ``id(unit)``, for a device type and this lib."""
    lib = lib or lib_source_hash()
    return {id(u): unit_key(u, device, lib) for u in plan.units}


def distinct_units(plan: Plan, keys: dict[int, str]) -> list[Unit]:
    """One unit per key, in plan order (a grid may name the same run twice)."""
    first: dict[str, Unit] = {}
    for u in plan.units:
        first.setdefault(keys[id(u)], u)
    return list(first.values())


def unit_entry(key: str, root_dir: Path) -> Path:
    return root_dir / "units" / key


def is_stored(key: str, root_dir: Path) -> bool:
    return (unit_entry(key, root_dir) / "result.pt").is_file()


def load_unit(key: str, root_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result, meta) of a stored unit."""
    entry = unit_entry(key, root_dir)
    return torch.load(entry / "result.pt", weights_only=True), json.loads((entry / "meta.json").read_text())


def run_key(cfg: ExperimentConfig, keys: list[str]) -> str:
    """16 hex digits identifying a notebook's result: its result fields and its units' keys."""
    payload = {"notebook": cfg.notebook, "config": cfg.result_fields(), "units": keys}
    return hashlib.sha256(canonical(payload).encode()).hexdigest()[:16]


def cache_key(cfg: ExperimentConfig) -> str:
    """The run key of ``cfg`` on this machine's device type with this lib (see :func:`run_key`)."""
    plan = plan_for(cfg)
    keys = unit_keys(plan, device_type(cfg))
    return run_key(cfg, [keys[id(u)] for u in plan.units])


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    """Where a result came from: its run key, whether every unit was read from the cache, timings.

    ``compute_seconds`` is the compute time of all units (as recorded when each was computed);
    ``units``/``units_cached``: how many units the result has and how many were read.
    """

    key: str
    hit: bool
    mode: str
    path: str
    compute_seconds: float
    device: str
    units: int = 1
    units_cached: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def unit_meta(device: str, seconds: float, batch: int) -> dict[str, Any]:
    """Provenance of a computed unit: ``wall_seconds`` is its share of its batch's wall time."""
    import numpy

    dev = torch.device(device)
    try:
        commit = _git_commit(find_root())
    except FileNotFoundError:  # a worker outside a checkout
        commit = None
    return {
        "wall_seconds": round(seconds / max(batch, 1), 3),
        "batch_wall_seconds": round(seconds, 3),
        "batch_units": batch,
        "device": device,
        "device_name": torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else platform.processor() or platform.machine(),
        "host": platform.node(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "git_commit": commit,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def store_unit(key: str, root_dir: Path, unit: Unit, result: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write one unit atomically: a temporary folder beside the entry, renamed into place."""
    final = unit_entry(key, root_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{key}-{platform.node()}-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir()
    try:
        torch.save(result, tmp / "result.pt")
        info = {"key": key, "kind": unit.kind, "label": unit.label, "fields": unit.fields}
        (tmp / "unit.json").write_text(canonical(info) + "\n")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if final.exists():  # refresh, or another worker finished the same unit first
            shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)  # atomic on one filesystem
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and is_stored(key, root_dir):
            return  # lost a race with another writer of the same unit: keep the stored one
        raise


def compute_units(
    plan: Plan, batches: list[list[Unit]], keys: dict[int, str], *, device: str, workers: int, root_dir: Path | None
) -> tuple[dict[str, dict[str, Any]], float]:
    """Compute ``batches`` of units; store each unit under ``root_dir`` unless it is None.

    **Returns:** ``({key: result}, total seconds)``.
    """
    out, total = {}, 0.0
    for batch in batches:
        start = time.perf_counter()
        results = plan.compute(batch, device=device, workers=workers)
        seconds = time.perf_counter() - start
        total += seconds
        meta = unit_meta(device, seconds, len(batch))
        for unit, result in zip(batch, results):
            key = keys[id(unit)]
            if root_dir is not None:
                store_unit(key, root_dir, unit, result, meta)
            out[key] = result
    return out, total


def cached_run(cfg: ExperimentConfig, *, root: Path | None = None) -> tuple[dict[str, Any], CacheInfo]:
    """The result of ``cfg``: its units from the cache where stored, the others computed and stored.

    Missing units of one group are computed as one batch (``workers`` processes where the config
    has them); a unit's result does not depend on its batch, so this equals a sweep bit for bit
    on CPU.

    **Returns:** ``(result, info)``; ``result`` is the figure's typed ``Result``, made by its
    ``finish(cfg, parts)`` from the assembled units (tensors on CPU).
    """
    from lossdyn.pipeline.figures import figure_of

    mode = cache_mode()
    fig = figure_of(cfg)
    plan = fig.plan(cfg)
    dev = device_type(cfg)
    keys = unit_keys(plan, dev)
    units = distinct_units(plan, keys)
    root_dir = cache_root(root)
    results: dict[str, dict[str, Any]] = {}
    seconds = 0.0
    if mode == "on":
        for u in units:
            if is_stored(keys[id(u)], root_dir):
                results[keys[id(u)]], meta = load_unit(keys[id(u)], root_dir)
                seconds += float(meta["wall_seconds"])
    cached = len(results)
    missing = [u for u in units if keys[id(u)] not in results]
    device = dev
    if missing:
        device = str(resolve_device(cfg.device))  # raises here if CUDA was asked for and is absent
        workers = int(getattr(cfg, "workers", 1))
        new, spent = compute_units(
            plan, [missing], keys, device=device, workers=workers, root_dir=None if mode == "off" else root_dir
        )
        results.update(new)
        seconds += spent
    result = fig.finish(cfg, plan.assemble([results[keys[id(u)]] for u in plan.units]))
    info = CacheInfo(
        run_key(cfg, [keys[id(u)] for u in plan.units]),
        not missing,
        mode,
        str(root_dir / "units"),
        round(seconds, 3),
        device,
        len(units),
        cached,
    )
    return result, info
