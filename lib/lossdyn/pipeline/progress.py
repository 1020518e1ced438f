"""Progress bars for long loops: shown where a person watches, silent in CI and re-execution.

Silent when ``CI`` is set (CI machines) or ``LOSSDYN_QUIET`` is set (the runner sets it
for papermill, the test suite for nbval), so re-executed notebooks print identical output.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm  # plain text bars: tqdm.auto needs ipywidgets and warns without it

__all__ = ["progress", "quiet", "silenced"]

T = TypeVar("T")


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


def progress(iterable: Iterable[T], *, desc: str = "", total: int | None = None) -> Iterable[T]:
    """``tqdm(iterable)`` unless :func:`quiet`."""
    return tqdm(iterable, desc=desc, total=total, disable=quiet(), leave=False)
