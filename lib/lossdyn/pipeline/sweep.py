"""Sweeps: a notebook's missing units computed as tasks on Dask distributed (``python -m lossdyn sweep``).

The notebook's resolved config (defaults ← profile ← ``-p``, validated before anything starts)
is expanded into its units (:mod:`lossdyn.pipeline.units`); units already in the cache are skipped; the
rest become tasks (a few units each: one ensemble chunk, one ResNet) on

* a ``LocalCluster`` sized to this machine (one single-threaded worker process per core,
  embedded: nothing to start), or
* an existing cluster, given by its scheduler address (``--scheduler tcp://host:8786``); its
  workers need this lib installed (the same source: each task checks the hash of its compute closure) and the
  cache root mounted at the same path.

Each task runs lib code only (:func:`run_task`, never a notebook): it rebuilds the config,
computes its units with one torch thread (unless the config sets ``threads``) and writes each
unit atomically (:func:`lossdyn.pipeline.cache.store_unit`), so a task that fails or whose worker dies
leaves nothing half written. Failed tasks — an exception, or a worker that died under it
(``KilledWorker``) — are resubmitted up to ``retries`` times and reported. Afterwards
``python -m lossdyn build --only NOTEBOOK --profile paper`` (same cache root) assembles the
figure from the cache without computing.

Before any worker starts, the sweep checks that the cache root can be written
(:func:`lossdyn.pipeline.cache.check_writable`) and, for ``--scheduler``, that the address has the form
``tcp://HOST:PORT`` and answers within a few seconds (:func:`check_scheduler`); damaged cache entries
are set aside and computed again, units kept in the fallback cache are moved into the cache
(:func:`lossdyn.pipeline.cache.repair`). A unit a worker cannot store is kept in that worker's fallback
cache and reported. Ctrl-C cancels the tasks not yet finished, closes the cluster and raises
:class:`~lossdyn.pipeline.progress.Interrupted`; the workers of the embedded ``LocalCluster`` ignore
the terminal's SIGINT, so they are closed, not killed, and every unit finished so far stays in the cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lossdyn.pipeline.archive import archive_root, indexed_units, neutral_key
from lossdyn.pipeline.cache import (
    cache_root,
    check_writable,
    code_hash,
    compute_units,
    damage,
    device_type,
    distinct_units,
    is_stored,
    repair,
    unit_entry,
    unit_keys,
)
from lossdyn.pipeline.config import ConfigError, ExperimentConfig
from lossdyn.pipeline.device import intra_op_threads
from lossdyn.pipeline.figures import config_class
from lossdyn.pipeline.progress import Interrupted, quiet, silenced, thread_lock_only
from lossdyn.pipeline.units import plan_for

__all__ = ["SweepReport", "check_scheduler", "damaged_units", "local_cluster", "run_task", "sweep", "sweep_tasks"]

#: Seconds the scheduler has to accept a connection before a sweep gives up (:func:`check_scheduler`).
CONNECT_SECONDS = 3.0
_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


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
    repaired: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)
    workers: int = 0
    scheduler: str = ""
    wall_seconds: float = 0.0
    compute_seconds: float = 0.0
    cpu_seconds: float = 0.0
    model_steps: int | None = None
    grid_seconds: float = 0.0  # compute time of every unit of the grid, as recorded when each was computed
    grid_complete: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [
            f"{self.notebook}: {self.units} units, {self.cached} already cached or archived, "
            f"{self.computed} computed in {self.tasks} tasks on {self.workers} workers "
            f"({self.scheduler or 'nothing to compute'})",
            f"wall {self.wall_seconds:.1f} s, compute {self.compute_seconds:.1f} s (CPU {self.cpu_seconds:.1f} s) "
            "summed over tasks; "
            f"cache: {self.cache_dir}",
        ]
        lines += [f"repaired: {m}" for m in self.repaired]
        lines += [f"kept outside the cache: {m}" for m in self.kept]
        lines += [f"retried: {m}" for m in self.retried]
        lines += [f"FAILED: {m}" for m in self.failed]
        return "\n".join(lines)


# -- on a worker ----------------------------------------------------------------------------------
def run_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Compute the units ``payload["keys"]`` of a notebook's config and store them; runs on a worker.

    Units already stored (a retried task whose first try got that far, or a concurrent sweep) are
    not computed again; a unit the cache cannot take is kept in the worker's fallback cache (reported in
    ``kept``), one that nothing could store fails the task. **Returns:** ``{"keys", "computed", "seconds",
    "host", "pid", "kept"}``.
    """
    thread_lock_only()  # no semaphore of tqdm's to leak if this worker is closed mid-task
    cfg = config_class(payload["notebook"]).from_mapping(payload["params"])
    plan = plan_for(cfg)
    code = code_hash(plan)
    if code != payload["code"]:
        raise RuntimeError(
            f"this worker's lossdyn code for {cfg.notebook} ({code[:12]}) differs from the client's "
            f"({payload['code'][:12]}): install the same version on every worker"
        )
    root_dir = Path(payload["cache_dir"])
    wanted = set(payload["keys"])
    keys = unit_keys(plan, payload["device"])
    batch = [u for u in distinct_units(plan, keys) if keys[id(u)] in wanted and not is_stored(keys[id(u)], root_dir)]
    seconds, kept, cpu0 = 0.0, [], time.process_time()
    if batch:
        with silenced(), intra_op_threads(1):
            _, seconds = compute_units(
                plan, [batch], keys, device=payload["device"], workers=1, root_dir=root_dir, kept=kept
            )
    lost = [m for m in kept if m.startswith("not stored:")]
    if lost:
        raise RuntimeError(f"on {os.uname().nodename}: {lost[0]}")
    return {
        "keys": payload["keys"],
        "computed": len(batch),
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu0,
        "host": os.uname().nodename,
        "pid": os.getpid(),
        "kept": [f"on {os.uname().nodename}: {m}" for m in kept],
    }


# -- on the client ---------------------------------------------------------------------------------
def local_cluster(n_workers: int | None = None):
    """A ``LocalCluster`` of single-threaded worker processes (default: one per core); its HTTP server on a free
    port (the default 8787 may be held by another sweep on this machine).

    ``allowed-failures`` is 0, so a task whose worker dies comes back at once as ``KilledWorker``
    and :func:`sweep` resubmits and reports it (instead of silent rescheduling by the scheduler).
    """
    import dask
    from distributed import LocalCluster

    n = n_workers or os.cpu_count() or 1
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), _workers_ignore_sigint():
        return LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL
        )


@contextlib.contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """SIGINT ignored while worker processes start (they inherit it), restored after: Ctrl-C reaches the
    client only, which then closes the workers instead of the terminal killing them mid-write."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def check_scheduler(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Raise :class:`ConfigError` (one line) unless ``address`` reads ``[tcp://]HOST:PORT`` and a connection
    to it opens within ``timeout`` seconds."""
    m = _ADDRESS.match(address)
    if not m or m["scheme"] not in (None, "tcp", "tls") or not 0 < int(m["port"]) < 65536:
        raise ConfigError(f"--scheduler: {address!r} is not a Dask scheduler address like tcp://HOST:8786")
    host = m["host"].strip("[]")
    try:
        socket.create_connection((host, int(m["port"])), timeout=timeout).close()
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise ConfigError(
            f"--scheduler: cannot reach {address} within {timeout:g} s ({why}); is `dask scheduler` running there?"
        ) from None


def sweep_tasks(
    cfg: ExperimentConfig, cache_dir: Path, archive_dir: Path | None = None
) -> tuple[int, int, list[dict[str, Any]]]:
    """(units in the grid, units already cached or archived, one payload per task for the missing ones).

    A unit the published archive holds (``archive_dir``, default ``results/paper/``; same fields and
    compute closure, whatever device computed it) is not computed again: a sweep stopped on one machine
    and published with ``publish --partial`` resumes on another. A damaged entry
    (:func:`lossdyn.pipeline.cache.damage`) counts as missing."""
    plan = plan_for(cfg)
    dev, code = device_type(cfg), code_hash(plan)
    keys = unit_keys(plan, dev, code)
    unique = distinct_units(plan, keys)
    archived = indexed_units(archive_root() if archive_dir is None else archive_dir)
    missing = [u for u in unique if neutral_key(u, code) not in archived and not is_stored(keys[id(u)], cache_dir)]
    payloads = [
        {
            "notebook": cfg.notebook,
            "params": cfg.to_dict(),
            "keys": [keys[id(u)] for u in batch],
            "labels": [u.label for u in batch],
            "cache_dir": str(cache_dir),
            "code": code,
            "device": dev,
        }
        for batch in plan.task_batches(missing, device=dev)
    ]
    return len(unique), len(unique) - len(missing), payloads


def grid_model_steps(cfg: ExperimentConfig) -> int | None:
    """Optimizer steps summed over the distinct networks of ``cfg``'s grid (``None`` if its units are not
    networks): the sweep's measure of work, recorded beside its times."""
    plan = plan_for(cfg)
    steps = [plan.model_steps(u) for u in distinct_units(plan, unit_keys(plan, device_type(cfg)))]
    return None if any(s is None for s in steps) else sum(steps)


def damaged_units(cfg: ExperimentConfig, cache_dir: Path) -> list[str]:
    """``<key> (<label>): <what is wrong>`` for each unit of ``cfg`` whose cache entry is damaged."""
    plan = plan_for(cfg)
    keys = unit_keys(plan, device_type(cfg))
    found = []
    for u in distinct_units(plan, keys):
        problem = damage(keys[id(u)], cache_dir)
        if problem:
            found.append(f"{keys[id(u)]} ({u.label}): {problem}")
    return found


@contextlib.contextmanager
def _client(scheduler: str | None, n_workers: int | None) -> Iterator[Any]:
    from distributed import Client

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{10 * CONNECT_SECONDS:g}s")
        except Exception as exc:  # refused, timed out, or something that is not a Dask scheduler answered
            why = str(exc).splitlines()[0][:120] if str(exc) else ""
            raise ConfigError(
                f"--scheduler: {scheduler} answers but a Dask client could not connect ({type(exc).__name__}: {why})"
            ) from None
        with client:
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
    """Compute every unit of ``cfg`` that is not in the cache, as Dask tasks; see the module docstring.

    Raises :class:`ConfigError` before any worker starts if the cache cannot be written or the scheduler
    cannot be reached, and :class:`~lossdyn.pipeline.progress.Interrupted` on Ctrl-C (finished units stay).
    """
    start = time.perf_counter()
    root_dir = Path(cache_dir).expanduser().resolve() if cache_dir else cache_root()
    check_writable(root_dir)
    if scheduler:
        check_scheduler(scheduler)
    plan = plan_for(cfg)
    keys = unit_keys(plan, device_type(cfg))
    repaired = repair([keys[id(u)] for u in distinct_units(plan, keys)], root_dir)
    n_units, n_cached, payloads = sweep_tasks(cfg, root_dir)
    report = SweepReport(cfg.notebook, str(root_dir), n_units, n_cached, tasks=len(payloads), repaired=repaired)
    report.model_steps = grid_model_steps(cfg)
    try:
        if payloads:
            with _client(scheduler, n_workers) as client:
                report.workers = len(client.scheduler_info()["workers"])
                report.scheduler = scheduler or f"LocalCluster {client.scheduler.address}"
                _run_tasks(client, cfg, payloads, report, retries=retries, log=log)
    except KeyboardInterrupt:  # the cluster is closed by now: count what its workers stored
        n, cached, _ = sweep_tasks(cfg, root_dir)
        stopped = Interrupted(
            f"sweep {cfg.notebook} stopped by Ctrl-C: {cached - n_cached} units computed and stored by this sweep, "
            f"{n - cached} still to compute; the same command computes only those"
        )
        report.wall_seconds = time.perf_counter() - start
        report.computed = cached - n_cached
        report.grid_seconds, report.grid_complete = grid_seconds(plan, keys, root_dir)
        stopped.report = report  # what this piece of the grid cost, for book/measured/sweeps.json
        raise stopped from None
    report.wall_seconds = time.perf_counter() - start
    report.grid_seconds, report.grid_complete = grid_seconds(plan, keys, root_dir)
    return report


def grid_seconds(plan: Any, keys: dict[int, str], root_dir: Path) -> tuple[float, bool]:
    """(compute seconds summed over the grid's stored units, as their ``meta.json`` recorded them, in the
    cache or in the archive; whether every unit is stored): a grid's cost even when several resumed sweeps
    computed it."""
    total, complete = 0.0, True
    code = code_hash(plan)
    archived = indexed_units(archive_root())
    for u in distinct_units(plan, keys):
        if neutral_key(u, code) in archived and not is_stored(keys[id(u)], root_dir):
            total += float(archived[neutral_key(u, code)]["wall_seconds"])
            continue
        meta = unit_entry(keys[id(u)], root_dir) / "meta.json"
        if not meta.is_file():
            complete = False
            continue
        try:
            total += float(json.loads(meta.read_text()).get("wall_seconds", 0.0))
        except (OSError, ValueError):
            complete = False
    return total, complete


def _run_tasks(
    client: Any, cfg: ExperimentConfig, payloads: list[dict[str, Any]], report: SweepReport, *, retries, log
):
    """Submit one task per payload, resubmit failed ones up to ``retries`` times, fill ``report``.

    On Ctrl-C: cancel what is not finished, then let the ``KeyboardInterrupt`` close the cluster."""
    from distributed import as_completed
    from tqdm import tqdm

    def submit(i: int, attempt: int):
        return client.submit(run_task, payloads[i], key=f"lossdyn-{cfg.notebook}-{i}-try{attempt}", pure=False)

    pending = {submit(i, 0): (i, 0) for i in range(len(payloads))}
    bar = tqdm(total=report.units - report.cached, desc=f"sweep {cfg.notebook}", unit="unit", disable=quiet())
    done = as_completed(list(pending))
    try:
        for fut in done:
            i, attempt = pending.pop(fut)
            if fut.status == "finished":
                out = fut.result()
                report.computed += out["computed"]
                report.compute_seconds += out["seconds"]
                report.cpu_seconds += out.get("cpu_seconds", 0.0)
                report.kept += out.get("kept", [])
                bar.update(len(payloads[i]["keys"]))
                continue
            try:
                exc = fut.exception()
            except BaseException as err:  # cancelled: the scheduler lost it
                exc = err
            message = f"task {i} ({', '.join(payloads[i]['labels'])}), try {attempt + 1}: {type(exc).__name__}: {exc}"
            if attempt < retries:
                report.retried.append(message)
                log(f"retrying {message}")
                new = submit(i, attempt + 1)
                pending[new] = (i, attempt + 1)
                done.add(new)
            else:
                report.failed.append(message)
                log(f"giving up on {message}")
    except KeyboardInterrupt:
        client.cancel(list(pending))
        raise
    finally:
        bar.close()
