"""Progress bars for long loops: shown where a person watches, silent in CI and re-execution.

Silent when ``CI`` is set (CI machines) or ``LOSSDYN_QUIET`` is set (the runner sets it
for papermill, the test suite for nbval), so re-executed notebooks print identical output.

:func:`notice` reports what a person must know but a page must not show (a damaged cache entry set
aside, a unit kept in the fallback cache): appended to the file ``LOSSDYN_NOTICES`` where the runner
set it (it prints them after the notebook), else written to the process's own stderr — never into a
notebook's outputs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm  # plain text bars: tqdm.auto needs ipywidgets and warns without it

__all__ = ["Interrupted", "notice", "progress", "quiet", "silenced", "thread_lock_only"]

T = TypeVar("T")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, caught and cleaned up after: the message is the one line the CLI prints (exit code 130)."""


def quiet() -> bool:
    return bool(os.environ.get("LOSSDYN_QUIET")) or os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """No progress bars inside the block (e.g. in a Dask worker's log); the old setting after."""
    old = os.environ.get("LOSSDYN_QUIET")
    os.environ["LOSSDYN_QUIET"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LOSSDYN_QUIET", None)
        else:
            os.environ["LOSSDYN_QUIET"] = old


def thread_lock_only() -> None:
    """Give tqdm a thread lock in this process (unless it has one): its default lock includes a
    multiprocessing RLock, a named semaphore that a worker process killed mid-task (a sweep's Dask worker
    closed by Ctrl-C) leaves behind, and Python then warns about a leaked semaphore at exit."""
    import threading

    if "_lock" not in vars(tqdm):
        tqdm.set_lock(threading.RLock())


def progress(iterable: Iterable[T], *, desc: str = "", total: int | None = None) -> Iterable[T]:
    """``tqdm(iterable)`` unless :func:`quiet`."""
    return tqdm(iterable, desc=desc, total=total, disable=quiet(), leave=False)


def notice(message: str) -> None:
    """Report one line to the person running this (see the module docstring); never raises."""
    target = os.environ.get("LOSSDYN_NOTICES", "")
    try:
        if target:
            with open(target, "a", encoding="utf-8") as f:
                f.write(message.replace("\n", " ") + "\n")
            return
        if sys.__stderr__ is not None:
            print(f"lossdyn: {message}", file=sys.__stderr__, flush=True)
    except OSError:
        pass
