"""Progress bars for long loops: shown where a person watches, silent in CI and re-execution.

Silent when ``CI`` is set (CI machines) or ``LOSSDYN_QUIET`` is set (the runner sets it
for papermill, the test suite for nbval), so re-executed notebooks print identical output.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm  # plain text bars: tqdm.auto needs ipywidgets and warns without it

__all__ = ["progress", "quiet"]

T = TypeVar("T")


def quiet() -> bool:
    return bool(os.environ.get("LOSSDYN_QUIET")) or os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def progress(iterable: Iterable[T], *, desc: str = "", total: int | None = None) -> Iterable[T]:
    """``tqdm(iterable)`` unless :func:`quiet`."""
    return tqdm(iterable, desc=desc, total=total, disable=quiet(), leave=False)
