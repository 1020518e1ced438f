"""CI re-derives a sample of the published archive: ``python -m lossdyn verify`` recomputes archived units,
chosen from the commit hash within a budget of their recorded compute time, and compares them with the
archive (bit for bit where torch version and device type match their provenance)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT
from lossdyn.pipeline.archive import archive_root, read_index

#: Seconds of recorded compute that CI recomputes (about four minutes here, one torch thread).
BUDGET_S = 240


def test_verify_recomputes_a_sample_of_the_published_archive():
    index = read_index(archive_root(ROOT))
    assert index, "results/paper/index.json is missing: the published archive is part of the repository"
    env = {k: v for k, v in os.environ.items() if k not in ("LOSSDYN_ARCHIVE_DIR", "LOSSDYN_CACHE")}
    out = subprocess.run(
        [sys.executable, "-m", "lossdyn", "verify", "--budget", str(BUDGET_S)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "MISMATCH" not in out.stdout and "archived units recomputed" in out.stdout, out.stdout
    checked = int(out.stdout.split("verify: ")[1].split()[0])
    assert checked >= 1, out.stdout
