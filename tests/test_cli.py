"""The runner's parameter handling: validated before any kernel starts, exit code 2, one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.runner import parse_value, plan_jobs

FIG1 = "p1_fig1_soft_cross_entropy"


def cli(*args: str):
    return subprocess.run(
        [sys.executable, "-m", "lossdyn", "build", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["--only", FIG1, "-p", "p_d", "1.5"], "p_d"),
        (["--only", FIG1, "-p", "C", "two"], "C"),
        (["--only", FIG1, "-p", "pd", "0.9"], "pd"),
        (["--only", "p9_nothing"], "--only"),
    ],
)
def test_bad_parameter_exits_2_with_one_line(args, key, tmp_path):
    out = cli(*args, "--no-book")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"error: {key}")
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_parse_value():
    assert parse_value("1.5") == 1.5 and parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("cuda") == "cuda" and parse_value("[1, 2]") == [1, 2]


def test_plan_quick_and_paper_profiles():
    (quick,) = plan_jobs(only=[FIG1])
    assert quick.inject == {} and quick.cfg.p_d == 0.95
    (paper,) = plan_jobs(only=[FIG1], profile="paper")
    assert paper.inject["n_bound_samples"] == paper.cfg.n_bound_samples
    (changed,) = plan_jobs(only=[FIG1], overrides={"p_d": 0.9, "C": 3})
    assert changed.inject == {"p_d": 0.9, "C": 3} and changed.cfg.C == 3


def test_plan_rejects_unknown_profile():
    with pytest.raises(ConfigError, match="^profile"):
        plan_jobs(only=[FIG1], profile="huge")
