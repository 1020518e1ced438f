"""pytest plugin (loaded by ``-p lossdyn_pytest_env`` in pyproject, so for every invocation, also
``pytest _build/quick/<nb>.ipynb`` alone): before any nbval kernel starts, set

* ``LOSSDYN_CACHE=off`` — every number nbval compares is recomputed by the code, not read from
  the results cache;
* ``LOSSDYN_QUIET=1`` — no progress bars, so re-executed output is identical;
* ``LOSSDYN_FIGURE_DIR`` — a temporary folder: a re-executed notebook saves its figure files and
  sidecar there, never over the built book's ``book/figures/`` (whose pages may be paper-scale).
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config):
    os.environ["LOSSDYN_CACHE"] = "off"
    os.environ["LOSSDYN_QUIET"] = "1"
    os.environ["LOSSDYN_FIGURE_DIR"] = tempfile.mkdtemp(prefix="lossdyn-nbval-figures-")
