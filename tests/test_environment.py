"""environment.yml stays in sync with pyproject.toml (the single list of dependencies)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def load():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return env, project


def test_environment_installs_the_project_through_pip():
    env, _ = load()
    pip_sections = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [{"pip": ["-e .[dev]"]}]
    assert "pip" in env["dependencies"]


def test_python_pin_fits_requires_python():
    env, project = load()
    (python,) = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    major, minor = map(int, re.match(r"python=(\d+)\.(\d+)", python).groups())
    low = tuple(map(int, re.match(r">=(\d+)\.(\d+)", project["requires-python"]).groups()))
    assert (major, minor) >= low


def test_pyproject_pins_torch_and_lists_the_design_card():
    _, project = load()
    deps = project["dependencies"]
    assert "torch==2.13.0" in deps
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in deps}
    extras = project["optional-dependencies"]
    book = {re.split(r"[<>=\[ ]", d)[0].lower() for d in extras["book"]}
    test = {re.split(r"[<>=\[ ]", d)[0].lower() for d in extras["test"]}
    assert {"torch", "matplotlib", "seaborn"} <= names
    assert {"jupyter-book", "papermill"} <= book
    assert {"pytest", "nbval"} <= test
    assert extras["dev"] == ["lossdyn[book,test]"]


def test_build_outputs_are_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    for path in ("_build/", "book/generated/", "book/figures/", "results/*", ".venv/"):
        assert path in ignored
    assert "!results/paper/" in ignored  # the published archive is the one tracked results folder
