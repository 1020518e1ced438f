"""Test-suite settings.

* nbval re-executes ``book/generated/*.ipynb`` with the results cache off and progress bars
  silenced: see the plugin ``lossdyn_pytest_env.py`` (loaded for every pytest invocation).
* With ``CI=true`` a missing built book is a failure, not a skip (see ``book_built``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
collect_ignore_glob = ["fixtures/*"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_built(path: Path, what: str) -> None:
    """Skip when ``path`` is missing locally; fail in CI, where the book must have been built."""
    if not path.exists():
        message = f"{what} missing ({path.relative_to(ROOT)}): run `python -m lossdyn build` first"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
