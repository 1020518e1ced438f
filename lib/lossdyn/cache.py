"""Results cache: one entry per resolved config, keyed by the config and the lib's source.

An entry is ``results/<notebook>/<key>/`` holding ``result.pt`` (the run's result: a dict of
tensors, numbers, strings and lists), ``config.json`` and ``meta.json`` (versions, device,
wall time, git commit). The key is ``sha256(canonical JSON of the result-determining
config fields + resolved device + sha256 of every lib source file)``, so a change to a
parameter or to any lib code gives a new key; nothing is invalidated by hand.

Entries are written into a temporary folder and renamed into place, so a killed run
leaves no half entry.

``LOSSDYN_CACHE`` selects the mode: ``on`` (default: read and write), ``refresh``
(recompute and overwrite) or ``off`` (recompute, neither read nor write; the test suite
sets it so nbval's re-execution computes every number from the code).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lossdyn.config import ExperimentConfig
from lossdyn.device import resolve_device
from lossdyn.paths import find_root, results_dir

__all__ = ["CacheInfo", "cache_key", "cache_mode", "cached_run", "lib_source_hash"]

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


def cache_key(cfg: ExperimentConfig) -> str:
    """16 hex digits identifying (config, resolved device, lib source)."""
    payload = {
        "notebook": cfg.notebook,
        "config": cfg.result_fields(),
        "device": resolve_device(cfg.device).type,
        "lib": lib_source_hash(),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    """Where a result came from: its key, whether it was read from the cache, and timings."""

    key: str
    hit: bool
    mode: str
    path: str
    compute_seconds: float
    device: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _meta(cfg: ExperimentConfig, seconds: float) -> dict[str, Any]:
    device = resolve_device(cfg.device)
    import numpy

    return {
        "notebook": cfg.notebook,
        "wall_seconds": round(seconds, 3),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "git_commit": _git_commit(find_root()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _write_entry(final: Path, result: dict[str, Any], cfg: ExperimentConfig, meta: dict[str, Any]) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir()
    try:
        torch.save(result, tmp / "result.pt")
        (tmp / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if final.exists():  # refresh: replace the old entry
            shutil.rmtree(final)
        os.rename(tmp, final)  # atomic on one filesystem
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def cached_run(
    cfg: ExperimentConfig,
    run: Callable[[ExperimentConfig], dict[str, Any]],
    *,
    root: Path | None = None,
) -> tuple[dict[str, Any], CacheInfo]:
    """Return ``run(cfg)``, from the cache when an entry for this config and lib exists.

    **Returns:** ``(result, info)``; ``result`` is what ``run`` returned (tensors on CPU).
    """
    mode = cache_mode()
    key = cache_key(cfg)
    entry = results_dir(root) / cfg.notebook / key
    device = str(resolve_device(cfg.device))
    if mode == "on" and (entry / "result.pt").is_file():
        result = torch.load(entry / "result.pt", weights_only=True)
        meta = json.loads((entry / "meta.json").read_text())
        return result, CacheInfo(key, True, mode, str(entry), float(meta["wall_seconds"]), device)
    start = time.perf_counter()
    result = run(cfg)
    seconds = time.perf_counter() - start
    if mode != "off":
        _write_entry(entry, result, cfg, _meta(cfg, seconds))
    return result, CacheInfo(key, False, mode, str(entry), round(seconds, 3), device)
