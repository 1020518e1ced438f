"""Results cache: one entry per unit of work (:mod:`lossdyn.pipeline.units`), keyed by the unit and the lib's source.

A notebook's run step asks :func:`cached_run` for its result; the config's :class:`~lossdyn.pipeline.units.Plan`
lists its units (one network of an ensemble, one ResNet, or the whole run), the cached ones are
read, the missing ones computed (together, as one batch per group) and stored, and the result is
assembled from the units. Adding seeds or η values therefore computes only the new units, and
``python -m lossdyn sweep`` fills the same entries from many machines.

An entry is ``<cache root>/units/<key>/`` holding ``result.pt`` (the unit's result: a dict of
tensors, numbers, strings and lists), ``unit.json`` (kind, label, fields) and ``meta.json``
(versions, device, wall time, host, git commit). The key is ``sha256(canonical JSON of the unit's
kind and fields + device type + hash of its compute closure)``: the closure
(:mod:`lossdyn.pipeline.closure`) is exactly the lib source the unit's computation reaches through
the import graph, so a change to a parameter or to the code that computes a unit gives a new key,
while an edit to a plot, a page, the runner or the CLI keeps every key; nothing is invalidated by hand.

Entries are written into a temporary folder on the same filesystem and renamed into place, so a
killed run or worker leaves no half entry (at most a ``.tmp-*`` folder, never read). ``unit.json``
holds the sha256 of ``result.pt``; an entry is used only if its three files read, its checksum matches
and its result loads. A damaged entry (truncated or emptied ``result.pt``, garbage or missing JSON) is
reported (:func:`lossdyn.pipeline.progress.notice`), **set aside** into ``<cache root>/damaged/`` (never
deleted) and computed again, by a notebook's run and by a sweep alike; ``sweep --dry-run`` counts it as
missing.

Before anything is computed, the runner and the sweep check that the cache root can be written
(:func:`check_writable`). A unit that still cannot be stored (the disk filled up, the share went away) is
kept in the **fallback cache** (``LOSSDYN_FALLBACK_DIR``, default ``~/.cache/lossdyn/fallback``, else the
temporary folder) and reported; the next run that needs it reads it from there and moves it into the
cache (:func:`find_unit`).

The cache root is ``results/`` in the repository, or ``LOSSDYN_CACHE_DIR`` (a shared filesystem
path for several machines; ``--cache-dir`` of the CLI sets it). ``LOSSDYN_CACHE`` selects the mode:
``on`` (default: read and write), ``refresh`` (recompute and overwrite), ``off`` (recompute,
neither read nor write; the test suite sets it so nbval's re-execution computes every number
from the code) or ``archive`` (read every unit from the published archive, compute nothing: a unit
that is not archived is an error; the runner's paper-scale build sets it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from lossdyn.pipeline.closure import closure_hash
from lossdyn.pipeline.config import ConfigError, ExperimentConfig
from lossdyn.pipeline.device import cpu_model, resolve_device
from lossdyn.pipeline.paths import find_root, results_dir
from lossdyn.pipeline.progress import notice
from lossdyn.pipeline.units import Plan, Unit, canonical, plan_for

__all__ = [
    "CacheInfo",
    "DamagedEntry",
    "cache_key",
    "cache_mode",
    "cache_root",
    "cached_run",
    "check_writable",
    "code_hash",
    "compute_units",
    "damage",
    "device_type",
    "distinct_units",
    "fallback_root",
    "find_unit",
    "is_stored",
    "keep_unit",
    "lib_source_hash",
    "load_unit",
    "repair",
    "run_key",
    "set_aside",
    "store_unit",
    "unit_entry",
    "unit_key",
    "unit_keys",
    "unit_meta",
]

_MODES = ("on", "refresh", "off", "archive")


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


def code_hash(plan: Plan) -> str:
    """The hash of the compute closure of ``plan``'s units (:func:`lossdyn.pipeline.closure.closure_hash`);
    a plan without closure roots falls back to the whole lib (:func:`lib_source_hash`)."""
    roots = getattr(plan, "closure_roots", None)
    return closure_hash(roots()) if roots is not None else lib_source_hash()


def device_type(cfg: ExperimentConfig) -> str:
    """``cpu`` or ``cuda``: ``auto`` resolved on this machine, an explicit device taken as asked
    (so a CPU-only machine can render from results computed on GPUs)."""
    return resolve_device("auto").type if cfg.device == "auto" else cfg.device.split(":")[0]


def cache_root(root: Path | None = None) -> Path:
    """``LOSSDYN_CACHE_DIR`` if set (a shared filesystem path), else ``results/`` in the repository."""
    env = os.environ.get("LOSSDYN_CACHE_DIR", "")
    return Path(env).expanduser().resolve() if env else results_dir(root)


def unit_key(unit: Unit, device: str, code: str) -> str:
    """16 hex digits identifying (unit kind and fields, device type, the hash of its compute closure)."""
    payload = {"kind": unit.kind, "fields": unit.fields, "device": device, "code": code}
    return hashlib.sha256(canonical(payload).encode()).hexdigest()[:16]


def unit_keys(plan: Plan, device: str, code: str | None = None) -> dict[int, str]:
    """The key of every unit of ``plan``, by ``id(unit)``, for a device type and this lib
    (``code``: the plan's :func:`code_hash`, computed when not given)."""
    code = code or code_hash(plan)
    return {id(u): unit_key(u, device, code) for u in plan.units}


def distinct_units(plan: Plan, keys: dict[int, str]) -> list[Unit]:
    """One unit per key, in plan order (a grid may name the same run twice)."""
    first: dict[str, Unit] = {}
    for u in plan.units:
        first.setdefault(keys[id(u)], u)
    return list(first.values())


def unit_entry(key: str, root_dir: Path) -> Path:
    return root_dir / "units" / key


class DamagedEntry(Exception):
    """A cache entry that exists but cannot be used; the message says what is wrong with it."""


def _read(entry: Path, name: str) -> bytes:
    try:
        return (entry / name).read_bytes()
    except FileNotFoundError:
        raise DamagedEntry(f"{name} is missing") from None
    except OSError as exc:
        raise DamagedEntry(f"{name} cannot be read ({type(exc).__name__})") from None


def _json(entry: Path, name: str) -> dict[str, Any]:
    try:
        value = json.loads(_read(entry, name))
    except ValueError:
        raise DamagedEntry(f"{name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise DamagedEntry(f"{name} is not a JSON object")
    return value


def _verified(entry: Path) -> tuple[bytes, dict[str, Any]]:
    """(bytes of ``result.pt``, meta) of an entry whose files read and whose checksum matches."""
    info, meta, data = _json(entry, "unit.json"), _json(entry, "meta.json"), _read(entry, "result.pt")
    if not isinstance(meta.get("wall_seconds"), (int, float)):
        raise DamagedEntry("meta.json has no wall_seconds")
    if info.get("sha256") != hashlib.sha256(data).hexdigest():
        raise DamagedEntry(f"result.pt ({len(data)} bytes) does not match the sha256 in unit.json")
    return data, meta


def damage(key: str, root_dir: Path) -> str | None:
    """What is wrong with the stored entry of ``key`` (files, checksum); ``None`` if it is sound or absent."""
    entry = unit_entry(key, root_dir)
    if not entry.exists():
        return None
    try:
        _verified(entry)
    except DamagedEntry as exc:
        return str(exc)
    return None


def is_stored(key: str, root_dir: Path) -> bool:
    """Whether ``key`` has a sound entry under ``root_dir`` (its files read and its checksum matches)."""
    return unit_entry(key, root_dir).is_dir() and damage(key, root_dir) is None


def load_unit(key: str, root_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result, meta) of a stored unit; ``FileNotFoundError`` if absent, :class:`DamagedEntry` if damaged."""
    entry = unit_entry(key, root_dir)
    if not entry.is_dir():
        raise FileNotFoundError(f"no cache entry {entry}")
    data, meta = _verified(entry)
    try:
        return torch.load(io.BytesIO(data), weights_only=True), meta
    except Exception as exc:  # a checksum that matches bytes torch cannot read (e.g. another torch)
        raise DamagedEntry(f"result.pt does not load ({type(exc).__name__})") from None


def set_aside(key: str, root_dir: Path, reason: str, *, announce: bool = True) -> Path:
    """Move a damaged entry to ``<root>/damaged/<key>-<UTC time>-<pid>`` (never deleted); report it
    (:func:`~lossdyn.pipeline.progress.notice`) if ``announce``."""
    aside = root_dir / "damaged" / f"{key}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}"
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.rename(unit_entry(key, root_dir), aside)
    if announce:
        notice(f"cache entry units/{key} is damaged ({reason}): set aside as {aside}; it is computed again")
    return aside


def fallback_root() -> Path:
    """Where units that cannot be stored in the cache are kept: ``LOSSDYN_FALLBACK_DIR``, else
    ``$XDG_CACHE_HOME/lossdyn/fallback`` (default ``~/.cache/lossdyn/fallback``)."""
    env = os.environ.get("LOSSDYN_FALLBACK_DIR", "")
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME", "") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "lossdyn" / "fallback"


def _fallbacks(root_dir: Path) -> list[Path]:
    alt = [fallback_root(), Path(tempfile.gettempdir()) / f"lossdyn-fallback-{os.getuid()}"]
    return [a for a in alt if a != root_dir]


def check_writable(root_dir: Path) -> None:
    """Raise :class:`ConfigError` (one line) unless ``<root_dir>/units`` can be created and written."""
    try:
        folder = root_dir / "units"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-check-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--cache-dir: cannot write the results cache at {root_dir} ({type(exc).__name__}: "
            f"{exc.strerror or exc}); give a writable folder with --cache-dir or LOSSDYN_CACHE_DIR"
        ) from None


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
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "git_commit": commit,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def store_unit(
    key: str, root_dir: Path, unit: Unit, result: dict[str, Any], meta: dict[str, Any], *, small: bool = False
) -> None:
    """Write one unit atomically: a temporary folder beside the entry, renamed into place.

    ``unit.json`` records the sha256 of ``result.pt``. A damaged entry in the way is set aside first.
    ``small``: torch's non-zip format (the published archive's), about half the bytes for a unit of many
    small tensors; ``torch.load`` reads both.
    """
    final = unit_entry(key, root_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{key}-{platform.node()}-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir()
    try:
        buffer = io.BytesIO()
        torch.save(result, buffer, _use_new_zipfile_serialization=not small)
        data = buffer.getvalue()
        (tmp / "result.pt").write_bytes(data)
        info = {"key": key, "kind": unit.kind, "label": unit.label, "fields": unit.fields}
        info["sha256"] = hashlib.sha256(data).hexdigest()
        (tmp / "unit.json").write_text(canonical(info) + "\n")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if final.exists():  # refresh, another worker finished the same unit first, or a damaged entry
            problem = damage(key, root_dir)
            if problem:
                set_aside(key, root_dir, problem)
            else:
                shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)  # atomic on one filesystem
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and is_stored(key, root_dir):
            return  # lost a race with another writer of the same unit: keep the stored one
        raise


def keep_unit(key: str, root_dir: Path, unit: Unit, result: dict[str, Any], meta: dict[str, Any]) -> str | None:
    """Store a computed unit in the cache, else in the fallback cache; never lose it silently.

    **Returns:** ``None`` when it is in the cache, else the line that reports where it was kept, or that
    nowhere could be written (it starts ``not stored:``); the line also goes to
    :func:`~lossdyn.pipeline.progress.notice`. Never raises ``OSError``.
    """
    try:
        store_unit(key, root_dir, unit, result, meta)
        return None
    except OSError as exc:
        why = f"{type(exc).__name__}: {exc.strerror or exc}"
    for alt in _fallbacks(root_dir):
        try:
            store_unit(key, alt, unit, result, meta)
        except OSError:
            continue
        message = f"unit {key} ({unit.label}) could not be stored in the cache {root_dir} ({why}); kept in {alt}"
        notice(message)
        return message
    message = (
        f"not stored: unit {key} ({unit.label}) could not be stored in the cache {root_dir} ({why}) nor in a fallback"
    )
    notice(message)
    return message


def find_unit(key: str, root_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(result, meta) of ``key`` from the cache, else from the fallback cache (then moved into the cache);
    ``None`` if neither has it. A damaged entry is set aside (:func:`set_aside`) and counts as absent."""
    for where in [root_dir, *_fallbacks(root_dir)]:
        try:
            found = load_unit(key, where)
        except FileNotFoundError:
            continue
        except DamagedEntry as exc:
            with contextlib.suppress(FileNotFoundError):  # another process set it aside first
                set_aside(key, where, str(exc))
            continue
        if where != root_dir:
            _promote(key, where, root_dir)
        return found
    return None


def repair(keys: list[str], root_dir: Path) -> list[str]:
    """Before a sweep: set aside the damaged entries of ``keys``, move sound ones kept in a fallback cache
    into the cache. **Returns:** one line per entry changed, for the caller to report."""
    lines = []
    for key in keys:
        problem = damage(key, root_dir)
        if problem:
            aside = set_aside(key, root_dir, problem, announce=False)
            lines.append(f"units/{key} was damaged ({problem}): set aside as {aside}, computed again")
        elif not unit_entry(key, root_dir).exists():
            for alt in _fallbacks(root_dir):
                if is_stored(key, alt) and _promote(key, alt, root_dir, announce=False):
                    lines.append(f"units/{key} moved from the fallback cache {alt} into the cache")
                    break
    return lines


def _promote(key: str, alt: Path, root_dir: Path, *, announce: bool = True) -> bool:
    """Move a unit kept in a fallback cache into the cache (copy, atomic rename, then remove the copy)."""
    tmp = root_dir / "units" / f".tmp-{key}-{platform.node()}-{os.getpid()}-{time.monotonic_ns()}"
    try:
        shutil.copytree(unit_entry(key, alt), tmp)
        os.rename(tmp, unit_entry(key, root_dir))
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    shutil.rmtree(unit_entry(key, alt), ignore_errors=True)
    if announce:
        notice(f"unit {key} read from the fallback cache {alt} and moved into the cache {root_dir}")
    return True


def compute_units(
    plan: Plan,
    batches: list[list[Unit]],
    keys: dict[int, str],
    *,
    device: str,
    workers: int,
    root_dir: Path | None,
    kept: list[str] | None = None,
) -> tuple[dict[str, dict[str, Any]], float]:
    """Compute ``batches`` of units; keep each unit under ``root_dir`` unless it is None (:func:`keep_unit`:
    the fallback cache if the cache cannot take it; each report line is appended to ``kept``).

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
                message = keep_unit(key, root_dir, unit, result, meta)
                if message and kept is not None:
                    kept.append(message)
            out[key] = result
    return out, total


def _archived(unit: Unit, plan: Plan, root: Path | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The unit from the published archive (:mod:`lossdyn.pipeline.archive`), computed on any device."""
    from lossdyn.pipeline.archive import archive_root, find_archived

    archive = archive_root(root)
    return find_archived(unit, code_hash(plan), archive) if (archive / "index.json").is_file() else None


class NotArchived(RuntimeError):
    """``LOSSDYN_CACHE=archive`` and a unit of the run is not in the published archive."""


def _all_archived(
    cfg: ExperimentConfig, plan: Plan, units: list[Unit], keys: dict[int, str], root: Path | None
) -> tuple[dict[str, dict[str, Any]], float]:
    """Every unit of the run from the archive (``LOSSDYN_CACHE=archive``); raises :class:`NotArchived`."""
    from lossdyn.pipeline.archive import archive_root, find_archived, read_index

    archive = archive_root(root)
    index, code = read_index(archive), code_hash(plan)
    results, seconds, missing = {}, 0.0, 0
    for u in units:
        found = find_archived(u, code, archive, index=index)
        if found is None:
            missing += 1
            continue
        results[keys[id(u)]] = found[0]
        seconds += float(found[1]["wall_seconds"])
    if missing:
        raise NotArchived(
            f"{cfg.notebook}: {missing} of {len(units)} units are not in the published archive {archive} "
            "(LOSSDYN_CACHE=archive computes nothing)"
        )
    return results, seconds


def cached_run(cfg: ExperimentConfig, *, root: Path | None = None) -> tuple[dict[str, Any], CacheInfo]:
    """The result of ``cfg``: its units from the cache where stored, the others computed and stored.

    Missing units of one group are computed as one batch (``workers`` processes where the config
    has them); a unit's result does not depend on its batch, so this equals a sweep bit for bit
    on CPU.

    **Returns:** ``(result, info)``; ``result`` is the figure's typed ``Result``, made by its
    ``finish(cfg, parts)`` from the assembled units (tensors on CPU). A unit not in the cache is read
    from the published archive (``results/paper/``) when it is there, whatever device computed it.
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
    if mode == "archive":
        results, seconds = _all_archived(cfg, plan, units, keys, root)
    if mode == "on":
        for u in units:
            found = find_unit(keys[id(u)], root_dir) or _archived(u, plan, root)
            if found is not None:
                results[keys[id(u)]] = found[0]
                seconds += float(found[1]["wall_seconds"])
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
