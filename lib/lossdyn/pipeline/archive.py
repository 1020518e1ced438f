"""The published results archive: the paper-profile units the book renders, tracked in ``results/paper/``.

The local results cache (:mod:`lossdyn.pipeline.cache`) lives on one machine; the archive is the part of
the results the project publishes with its code. ``python -m lossdyn publish NOTEBOOK ...`` copies every
unit of a notebook's paper-profile grid from the cache into the archive (all of them or none: a grid
with a missing unit is refused, naming how many are missing), compacted by the figure module's
optional ``compact(result)`` (only what ``finish`` and the figure need), each with the provenance its
``meta.json`` recorded when it was computed (commit, torch and Python versions, device, machine, wall
time). ``python -m lossdyn verify`` recomputes a sample of archived units chosen from the commit hash
(within a time budget; ``--all``: every unit) and compares them with the archive.

Layout: ``results/paper/units/<key>/`` in the cache's entry format (read with the cache's checks) and
``results/paper/index.json``: per notebook and profile (``<notebook>`` for the paper profile,
``<notebook>:quick`` for the quick one, from which the default build renders the test suite's copies),
the config, its units' device-free keys → entry keys, and when and where they were computed. A unit's
cache key includes the device type it was computed on; the index maps the device-free key (kind,
fields, compute closure) to the entry, so a machine with another device renders from the archive too,
and ``verify`` compares across devices within a stated tolerance (bit for bit where torch version and
device type match the provenance).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from lossdyn.pipeline.cache import (
    code_hash,
    device_type,
    distinct_units,
    find_unit,
    load_unit,
    store_unit,
    unit_key,
    unit_keys,
)
from lossdyn.pipeline.config import ConfigError, ExperimentConfig
from lossdyn.pipeline.device import intra_op_threads
from lossdyn.pipeline.paths import results_dir
from lossdyn.pipeline.units import Plan, Unit, plan_for

__all__ = [
    "MAX_BYTES",
    "RTOL",
    "VerifyReport",
    "archive_bytes",
    "archive_root",
    "archived_counts",
    "compare_results",
    "entry_name",
    "find_archived",
    "indexed_units",
    "neutral_key",
    "publish",
    "read_index",
    "renders_here",
    "same_platform",
    "verify",
]

#: The archive's size limit (the whole of results/paper/; a test enforces it).
MAX_BYTES = 50 * 2**20
#: ``verify``'s tolerance where torch version or device type differ from a unit's provenance.
RTOL, ATOL = 1e-4, 1e-7


def archive_root(root: Path | None = None) -> Path:
    """``LOSSDYN_ARCHIVE_DIR`` if set (tests), else ``results/paper/`` in the repository."""
    env = os.environ.get("LOSSDYN_ARCHIVE_DIR", "")
    return Path(env).expanduser().resolve() if env else results_dir(root) / "paper"


def entry_name(notebook: str, profile: str = "paper") -> str:
    """The index's name of a notebook's grid: ``<notebook>`` (paper profile) or ``<notebook>:<profile>``."""
    return notebook if profile == "paper" else f"{notebook}:{profile}"


def neutral_key(unit: Unit, code: str) -> str:
    """The device-free key of a unit: its kind, fields and compute closure (the index's key)."""
    return unit_key(unit, "any", code)


def read_index(archive_dir: Path) -> dict[str, Any]:
    path = archive_dir / "index.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_index(archive_dir: Path, index: dict[str, Any]) -> None:
    path = archive_dir / "index.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(dict(sorted(index.items())), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _own_storage(value: Any) -> Any:
    """``value`` with every tensor copied into storage of its own size: ``torch.save`` writes a view's whole
    storage (a 2,500-sample slice of a 10⁶-logit buffer would be archived as 8 MB)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _own_storage(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_own_storage(v) for v in value)
    return value


def _compact(cfg: ExperimentConfig, result: dict[str, Any]) -> dict[str, Any]:
    """What the archive keeps of a unit's result: the figure module's ``compact(result)`` if it has one
    (only what ``finish`` and the figure need), every tensor in storage of its own size."""
    from lossdyn.pipeline.figures import figure_of

    compact = getattr(figure_of(cfg), "compact", None)
    return _own_storage(compact(result) if compact is not None else result)


def publish(
    cfg: ExperimentConfig, cache_dir: Path, archive_dir: Path, *, profile: str = "paper", partial: bool = False
) -> dict[str, Any]:
    """Copy every unit of ``cfg``'s grid from the cache into the archive (compacted) and index them, as the
    grid of ``profile`` (:func:`entry_name`). A unit the archive already holds for this grid (same compute
    closure) is kept as it is, so that a grid computed by several sweeps, on several machines, is published
    piece by piece; ``partial`` publishes what is there when units are still missing (the entry says
    ``complete: false`` and the default build keeps that page at the quick profile).

    Raises :class:`~lossdyn.pipeline.config.ConfigError` (one line) if a unit is in neither the cache nor
    the archive (and ``partial`` is not set), or if no unit is.
    **Returns:** the notebook's index entry.
    """
    plan = plan_for(cfg)
    dev, code = device_type(cfg), code_hash(plan)
    keys = unit_keys(plan, dev, code)
    units = distinct_units(plan, keys)
    index = read_index(archive_dir)
    before = index.get(entry_name(cfg.notebook, profile), {}).get("units", {})
    entries, metas, missing = {}, [], 0
    for u in units:
        neutral = neutral_key(u, code)
        kept = before.get(neutral)
        if kept is not None and (archive_dir / "units" / kept["key"] / "meta.json").is_file():
            entries[neutral] = kept
            metas.append(json.loads((archive_dir / "units" / kept["key"] / "meta.json").read_text()))
            continue
        found = find_unit(keys[id(u)], cache_dir)
        if found is None:
            missing += 1
            continue
        result, meta = found
        store_unit(keys[id(u)], archive_dir, u, _compact(cfg, result), {**meta, "archived": _now()}, small=True)
        entries[neutral] = {"key": keys[id(u)], "label": u.label, "wall_seconds": meta["wall_seconds"]}
        metas.append(meta)
    _check_publishable(cfg, len(units), missing, partial, cache_dir)
    index[entry_name(cfg.notebook, profile)] = _entry(cfg, profile, code, entries, metas, len(units))
    _write_index(archive_dir, index)
    _drop_unindexed(archive_dir, index)
    return index[entry_name(cfg.notebook, profile)]


def _check_publishable(cfg: ExperimentConfig, n: int, missing: int, partial: bool, cache_dir: Path) -> None:
    if missing == n or (missing and not partial):
        raise ConfigError(
            f"publish {cfg.notebook}: {missing} of {n} units are in neither the cache {cache_dir} nor the archive; "
            f"compute them first (python -m lossdyn sweep {cfg.notebook} --profile ...)"
            + ("" if missing == n else ", or publish what is there with --partial")
        )


def _entry(
    cfg: ExperimentConfig, profile: str, code: str, units: dict[str, Any], metas: list[dict[str, Any]], n: int
) -> dict[str, Any]:
    """A notebook's index entry: its config, compute closure, units and their provenance."""
    return {
        "notebook": cfg.notebook,
        "profile": profile,
        "config": cfg.to_dict(),
        "code": code,
        "units": units,
        "grid_units": n,
        "complete": len(units) == n,
        "compute_seconds": round(sum(float(u["wall_seconds"]) for u in units.values()), 3),
        "devices": sorted({m.get("device", "?") for m in metas}),
        "machines": sorted({_machine(m) for m in metas}),
        "cpus": sorted({str(m.get("cpu")) for m in metas}),
        "commits": sorted({str(m.get("git_commit")) for m in metas}),
        "torch": sorted({m.get("torch", "?") for m in metas}),
        "computed": [min(m.get("created", "") for m in metas), max(m.get("created", "") for m in metas)],
        "published": _now(),
    }


def indexed_units(archive_dir: Path) -> dict[str, dict[str, Any]]:
    """Every archived unit by its device-free key (:func:`neutral_key`): ``{"key", "label", "wall_seconds"}``."""
    return {n: e for entry in read_index(archive_dir).values() for n, e in entry["units"].items()}


def _drop_unindexed(archive_dir: Path, index: dict[str, Any]) -> None:
    """Remove the unit folders no notebook's entry names any more (a grid published again, smaller)."""
    import shutil

    kept = {u["key"] for entry in index.values() for u in entry["units"].values()}
    for path in (archive_dir / "units").iterdir():
        if path.is_dir() and path.name not in kept:
            shutil.rmtree(path)


def _machine(meta: dict[str, Any]) -> str:
    """The machine a unit was computed on: the GPU's name, else the CPU model (units computed before the cache
    recorded it give the architecture only)."""
    if str(meta.get("device", "")).startswith("cuda"):
        return str(meta.get("device_name", "?"))
    return str(meta.get("cpu") or meta.get("device_name") or "?")


def same_platform(meta: dict[str, Any], device: str) -> bool:
    """Whether a unit computed as ``meta`` records would come out bit for bit the same here on ``device``:
    the same torch version and device type, and on a CPU the same CPU model (vectorised kernels differ
    between CPU families; a unit that did not record its CPU is compared within tolerance)."""
    from lossdyn.pipeline.device import cpu_model

    dev = device.split(":")[0]
    if meta.get("torch") != torch.__version__ or str(meta.get("device", "")).split(":")[0] != dev:
        return False
    return dev != "cpu" or meta.get("cpu") == cpu_model()


def renders_here(entry: dict[str, Any]) -> bool:
    """Whether an index entry's units were all computed on this machine's platform (torch version, CPU
    model, on a CPU): the default build renders the quick-profile copies from the archive only then, so
    that nbval's recomputation here can match them bit for bit; elsewhere it computes them."""
    from lossdyn.pipeline.device import cpu_model

    return (
        entry.get("torch") == [torch.__version__]
        and entry.get("devices") == ["cpu"]
        and entry.get("cpus") == [cpu_model()]
        and not torch.cuda.is_available()
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def find_archived(
    unit: Unit, code: str, archive_dir: Path, *, index: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(result, meta) of ``unit`` from the archive, whatever device computed it; ``None`` if not archived.
    ``index``: the archive's index, read once by a caller that looks up many units."""
    neutral = neutral_key(unit, code)
    for entry in (read_index(archive_dir) if index is None else index).values():
        hit = entry["units"].get(neutral)
        if hit is not None:
            return load_unit(hit["key"], archive_dir)
    return None


def archived_counts(cfg: ExperimentConfig, archive_dir: Path) -> tuple[int, int]:
    """(units of ``cfg``'s grid in the archive, units in the grid) for the current code."""
    plan = plan_for(cfg)
    code = code_hash(plan)
    units = distinct_units(plan, unit_keys(plan, device_type(cfg), code))
    indexed = indexed_units(archive_dir)
    return sum(neutral_key(u, code) in indexed for u in units), len(units)


def archive_bytes(archive_dir: Path) -> int:
    """Bytes of every file under the archive."""
    return sum(p.stat().st_size for p in archive_dir.rglob("*") if p.is_file()) if archive_dir.is_dir() else 0


# -- verify -----------------------------------------------------------------------------------------
@dataclasses.dataclass
class VerifyReport:
    """What ``verify`` checked: the units recomputed, how (bit for bit or within tolerance), mismatches."""

    checked: list[str] = dataclasses.field(default_factory=list)
    exact: int = 0
    mismatches: list[str] = dataclasses.field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        lines = [
            f"verify: {len(self.checked)} archived units recomputed in {self.seconds:.1f} s ({self.exact} compared "
            f"bit for bit, {len(self.checked) - self.exact} within rtol {RTOL:g}); {self.skipped} left for --all"
        ]
        lines += [f"MISMATCH {m}" for m in self.mismatches]
        return "\n".join(lines)


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k in sorted(value, key=str) for leaf in _leaves(value[k], f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, value)]


def _identical(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Equal element for element, a NaN matching a NaN (``torch.equal`` alone calls NaN ≠ NaN)."""
    if not (x.is_floating_point() or x.is_complex()):
        return torch.equal(x, y)
    nan = torch.isnan(x)
    return torch.equal(nan, torch.isnan(y)) and torch.equal(x[~nan], y[~nan])


def compare_results(a: dict[str, Any], b: dict[str, Any], *, exact: bool) -> list[str]:
    """Where two unit results differ: bit for bit if ``exact``, else beyond ``RTOL``/``ATOL`` (one line each,
    naming the entry and the numbers)."""
    la, lb = dict(_leaves(a)), dict(_leaves(b))
    if la.keys() != lb.keys():
        return [f"entries differ: {sorted(set(la) ^ set(lb))[:5]}"]
    out = []
    for name, x in la.items():
        y = lb[name]
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            same = x.shape == y.shape and x.dtype == y.dtype
            if same and exact:
                same = _identical(x, y)
            elif same and (x.is_floating_point() or x.is_complex()):
                same = torch.allclose(x.double(), y.double(), rtol=RTOL, atol=ATOL, equal_nan=True)
            elif same:
                same = torch.equal(x, y)
            if not same:
                diff = (
                    (x.double() - y.double()).abs().nan_to_num(nan=float("inf")).max().item()
                    if x.shape == y.shape
                    else float("nan")
                )
                out.append(f"{name}: max |archived − recomputed| = {diff:.3e} (shape {tuple(x.shape)})")
        elif isinstance(x, float) and isinstance(y, float) and not exact:
            if not (math.isclose(x, y, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(x) and math.isnan(y))):
                out.append(f"{name}: archived {x!r}, recomputed {y!r}")
        elif x != y and not (isinstance(x, float) and math.isnan(x) and isinstance(y, float) and math.isnan(y)):
            out.append(f"{name}: archived {x!r}, recomputed {y!r}")
    return out


def _sample(index: dict[str, Any], commit: str, budget_s: float | None) -> tuple[list[tuple[str, str]], int]:
    """(notebook, device-free key) pairs in the order of sha256(commit + key), within ``budget_s`` of recorded
    compute time (``None``: all); the number left out."""
    pairs = [(nb, n, e["wall_seconds"]) for nb, entry in index.items() for n, e in entry["units"].items()]
    pairs.sort(key=lambda p: hashlib.sha256(f"{commit}:{p[1]}".encode()).hexdigest())
    chosen, spent = [], 0.0
    for nb, n, seconds in pairs:
        if budget_s is None or spent + seconds <= budget_s:
            chosen.append((nb, n))
            spent += seconds
    return chosen, len(pairs) - len(chosen)


def verify(archive_dir: Path, *, commit: str, budget_s: float | None = 600.0, device: str = "cpu") -> VerifyReport:
    """Recompute a deterministic sample of archived units (see :func:`_sample`) on ``device`` and compare
    each with its archived result (compacted the same way): bit for bit where its provenance has this
    torch version and device type, else within ``RTOL``."""
    from lossdyn.pipeline.figures import config_class

    report, start = VerifyReport(), time.perf_counter()
    index = read_index(archive_dir)
    chosen, report.skipped = _sample(index, commit, budget_s)
    by_notebook: dict[str, list[str]] = {}
    for nb, n in chosen:
        by_notebook.setdefault(nb, []).append(n)
    for nb, wanted in by_notebook.items():
        cfg = config_class(index[nb].get("notebook", nb)).from_mapping(index[nb]["config"])
        plan = plan_for(cfg)
        code = code_hash(plan)
        units = {neutral_key(u, code): u for u in plan.units}
        batches: dict[str, Any] = {"grid": list(units.values())}  # distinct units, in the plan's order
        for n in wanted:
            _verify_unit(report, cfg, plan, units.get(n), index[nb]["units"][n], archive_dir, device, batches)
    report.seconds = time.perf_counter() - start
    return report


def _recompute(plan: Plan, unit: Unit, meta: dict[str, Any], device: str, batches: dict) -> dict[str, Any]:
    """``unit`` computed again in a batch like the one that computed it: alone where its provenance says it
    was computed alone (a sweep's task), else with every unit of its grid (a serial run's one batch; a
    Paper 1 stack's rounding depends on the stack, book/methods.md#pipeline-archive), that batch computed
    once per grid (``batches``)."""
    distinct = batches["grid"]
    whole = int(meta.get("batch_units") or 1) > 1 and int(meta["batch_units"]) == len(distinct)
    with intra_op_threads(1):  # as a sweep's worker computes (a config's own ``threads`` still applies)
        if not whole:
            return plan.compute([unit], device=device, workers=1)[0]
        if "whole" not in batches:
            batches["whole"] = dict(zip(map(id, distinct), plan.compute(distinct, device=device, workers=1)))
    return batches["whole"][id(unit)]


def _verify_unit(
    report: VerifyReport,
    cfg: ExperimentConfig,
    plan: Plan,
    unit: Unit | None,
    entry: dict,
    archive_dir: Path,
    device: str,
    batches: dict,
) -> None:
    label = f"{cfg.notebook} {entry['label']} (units/{entry['key']})"
    report.checked.append(label)
    if unit is None:
        report.mismatches.append(f"{label}: the current code no longer has this unit (its compute closure changed)")
        return
    archived, meta = load_unit(entry["key"], archive_dir)
    fresh = _recompute(plan, unit, meta, device, batches)
    exact = same_platform(meta, device)
    report.exact += exact
    report.mismatches += [f"{label}: {line}" for line in compare_results(archived, _compact(cfg, fresh), exact=exact)]
