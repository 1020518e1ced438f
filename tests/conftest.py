"""Test-suite settings.

* nbval re-executes the quick-profile copies ``_build/quick/*.ipynb`` with the results cache off and progress bars
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


#: The notebook whose tiny grid the archive fixtures publish (4 units, seconds).
ARCHIVE_NOTEBOOK = "p1_turnpike_horizon"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """(results cache, archive) folders of a test's own, the cache on."""
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LOSSDYN_ARCHIVE_DIR", str(tmp_path / "archive"))
    return tmp_path / "cache", tmp_path / "archive"


@pytest.fixture
def published(dirs):
    """The tiny grid of :data:`ARCHIVE_NOTEBOOK` computed and published: (config, result, index entry)."""
    from lossdyn.pipeline import archive, cache
    from tiny_grids import tiny

    cache_dir, archive_dir = dirs
    cfg = tiny(ARCHIVE_NOTEBOOK)
    first, _ = cache.cached_run(cfg)
    entry = archive.publish(cfg, cache_dir, archive_dir)
    return cfg, first, entry
