"""Sweeps: a notebook's missing units computed as tasks on Dask distributed (``python -m lossdyn sweep``).

The notebook's resolved config (defaults ← profile ← ``-p``, validated before anything starts)
is expanded into its units (:mod:`lossdyn.pipeline.units`); units already in the cache are skipped; the
rest become tasks (a few units each: one ensemble chunk, one ResNet) on

* a ``LocalCluster`` sized to this machine (one single-threaded worker process per core,
  embedded: nothing to start), or
* an existing cluster, given by its scheduler address (``--scheduler tcp://host:8786``); its
  workers need this lib installed (the same source: each task checks the lib hash) and the
  cache root mounted at the same path.

Each task runs lib code only (:func:`run_task`, never a notebook): it rebuilds the config,
computes its units with one torch thread (unless the config sets ``threads``) and writes each
unit atomically (:func:`lossdyn.pipeline.cache.store_unit`), so a task that fails or whose worker dies
leaves nothing half written. Failed tasks — an exception, or a worker that died under it
(``KilledWorker``) — are resubmitted up to ``retries`` times and reported. Afterwards
``python -m lossdyn build --only NOTEBOOK --profile paper`` (same cache root) assembles the
figure from the cache without computing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lossdyn.pipeline.cache import (
    cache_root,
    compute_units,
    device_type,
    distinct_units,
    is_stored,
    lib_source_hash,
    unit_keys,
)
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import intra_op_threads
from lossdyn.pipeline.figures import config_class
from lossdyn.pipeline.progress import quiet, silenced
from lossdyn.pipeline.units import plan_for

__all__ = ["SweepReport", "local_cluster", "run_task", "sweep", "sweep_tasks"]


@dataclasses.dataclass
class SweepReport:
    """What a sweep did: units in the grid, already cached, computed now; tasks, retries, failures."""

    notebook: str
    cache_dir: str
    units: int
    cached: int
    computed: int = 0
    tasks: int = 0
    retried: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    workers: int = 0
    scheduler: str = ""
    wall_seconds: float = 0.0
    compute_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [
            f"{self.notebook}: {self.units} units, {self.cached} already cached, {self.computed} computed in "
            f"{self.tasks} tasks on {self.workers} workers ({self.scheduler or 'nothing to compute'})",
            f"wall {self.wall_seconds:.1f} s, compute {self.compute_seconds:.1f} s summed over tasks; "
            f"cache: {self.cache_dir}",
        ]
        lines += [f"retried: {m}" for m in self.retried]
        lines += [f"FAILED: {m}" for m in self.failed]
        return "\n".join(lines)


# -- on a worker ----------------------------------------------------------------------------------
def run_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Compute the units ``payload["keys"]`` of a notebook's config and store them; runs on a worker.

    Units already stored (a retried task whose first try got that far, or a concurrent sweep) are
    not computed again. **Returns:** ``{"keys", "computed", "seconds", "host", "pid"}``.
    """
    lib = lib_source_hash()
    if lib != payload["lib"]:
        raise RuntimeError(
            f"this worker's lossdyn source ({lib[:12]}) differs from the client's "
            f"({payload['lib'][:12]}): install the same version on every worker"
        )
    cfg = config_class(payload["notebook"]).from_mapping(payload["params"])
    plan = plan_for(cfg)
    root_dir = Path(payload["cache_dir"])
    wanted = set(payload["keys"])
    keys = unit_keys(plan, payload["device"], lib)
    batch = [u for u in distinct_units(plan, keys) if keys[id(u)] in wanted and not is_stored(keys[id(u)], root_dir)]
    seconds = 0.0
    if batch:
        with silenced(), intra_op_threads(1):
            _, seconds = compute_units(plan, [batch], keys, device=payload["device"], workers=1, root_dir=root_dir)
    return {
        "keys": payload["keys"],
        "computed": len(batch),
        "seconds": seconds,
        "host": os.uname().nodename,
        "pid": os.getpid(),
    }


# -- on the client ---------------------------------------------------------------------------------
def local_cluster(n_workers: int | None = None):
    """A ``LocalCluster`` of single-threaded worker processes (default: one per core), no dashboard.

    ``allowed-failures`` is 0, so a task whose worker dies comes back at once as ``KilledWorker``
    and :func:`sweep` resubmits and reports it (instead of silent rescheduling by the scheduler).
    """
    import dask
    from distributed import LocalCluster

    n = n_workers or os.cpu_count() or 1
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        return LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
        )


def sweep_tasks(cfg: ExperimentConfig, cache_dir: Path) -> tuple[int, int, list[dict[str, Any]]]:
    """(units in the grid, units already cached, one payload per task for the missing ones)."""
    plan = plan_for(cfg)
    dev, lib = device_type(cfg), lib_source_hash()
    keys = unit_keys(plan, dev, lib)
    unique = distinct_units(plan, keys)
    missing = [u for u in unique if not is_stored(keys[id(u)], cache_dir)]
    payloads = [
        {
            "notebook": cfg.notebook,
            "params": cfg.to_dict(),
            "keys": [keys[id(u)] for u in batch],
            "labels": [u.label for u in batch],
            "cache_dir": str(cache_dir),
            "lib": lib,
            "device": dev,
        }
        for batch in plan.task_batches(missing, device=dev)
    ]
    return len(unique), len(unique) - len(missing), payloads


@contextlib.contextmanager
def _client(scheduler: str | None, n_workers: int | None) -> Iterator[Any]:
    from distributed import Client

    if scheduler:
        with Client(scheduler) as client:
            yield client
    else:
        with local_cluster(n_workers) as cluster, Client(cluster) as client:
            yield client


def sweep(
    cfg: ExperimentConfig,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    cache_dir: str | Path | None = None,
    retries: int = 2,
    log: Callable[[str], None] = print,
) -> SweepReport:
    """Compute every unit of ``cfg`` that is not in the cache, as Dask tasks; see the module docstring."""
    from distributed import as_completed
    from tqdm import tqdm

    start = time.perf_counter()
    root_dir = Path(cache_dir).expanduser().resolve() if cache_dir else cache_root()
    n_units, n_cached, payloads = sweep_tasks(cfg, root_dir)
    report = SweepReport(cfg.notebook, str(root_dir), n_units, n_cached, tasks=len(payloads))
    if not payloads:
        report.wall_seconds = time.perf_counter() - start
        return report
    root_dir.mkdir(parents=True, exist_ok=True)
    with _client(scheduler, n_workers) as client:
        report.workers = len(client.scheduler_info()["workers"])
        report.scheduler = scheduler or f"LocalCluster {client.scheduler.address}"

        def submit(i: int, attempt: int):
            return client.submit(run_task, payloads[i], key=f"lossdyn-{cfg.notebook}-{i}-try{attempt}", pure=False)

        pending = {}
        for i in range(len(payloads)):
            pending[submit(i, 0)] = (i, 0)
        bar = tqdm(total=n_units - n_cached, desc=f"sweep {cfg.notebook}", unit="unit", disable=quiet())
        done = as_completed(list(pending))
        for fut in done:
            i, attempt = pending.pop(fut)
            what = f"task {i} ({', '.join(payloads[i]['labels'])})"
            if fut.status == "finished":
                out = fut.result()
                report.computed += out["computed"]
                report.compute_seconds += out["seconds"]
                bar.update(len(payloads[i]["keys"]))
                continue
            try:
                exc = fut.exception()
            except BaseException as err:  # cancelled: the scheduler lost it
                exc = err
            message = f"{what}, try {attempt + 1}: {type(exc).__name__}: {exc}"
            if attempt < retries:
                report.retried.append(message)
                log(f"retrying {message}")
                new = submit(i, attempt + 1)
                pending[new] = (i, attempt + 1)
                done.add(new)
            else:
                report.failed.append(message)
                log(f"giving up on {message}")
        bar.close()
    report.wall_seconds = time.perf_counter() - start
    return report
