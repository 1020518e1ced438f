"""Notebook hygiene: the rules hold for every notebook, and the checker catches each fixture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lossdyn.pipeline.figures import config_class
from lossdyn.pipeline.pages import toc_generated_pages
from lossdyn.pipeline.runner import notebook_defaults, profile_parameters
from notebook_rules import check_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean(path):
    assert check_notebook(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_matches_the_config(path):
    """papermill sees every parameter, the names are the config's fields, and the defaults validate."""
    cls = config_class(path.stem)
    defaults = notebook_defaults(path)
    assert set(defaults) == set(cls.field_types())
    cls.from_mapping(defaults)  # the quick profile is valid


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paper_profile_exists_and_validates(path):
    cls = config_class(path.stem)
    paper = profile_parameters(path.stem, "paper", ROOT)
    cls.from_mapping({**notebook_defaults(path), **paper})


def test_no_stray_profiles():
    names = {p.stem for p in NOTEBOOKS}
    for yml in (ROOT / "params").rglob("*.yml"):
        assert yml.stem in names, f"{yml} belongs to no notebook"
        assert isinstance(yaml.safe_load(yml.read_text()), dict)


def test_toc_lists_every_notebook_and_nothing_else():
    pages = set(toc_generated_pages(ROOT)) - {"claims", "status"}
    assert pages == {p.stem for p in NOTEBOOKS}


def test_readme_figure_table_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert re.search(rf"\|\s*`?notebooks/{path.name}`?", readme) or f"notebooks/{path.name}" in readme, path.name


EXPECTED = {
    "p1_fig9_clean": None,
    "p1_fig9_defines_function": "defines a function",
    "p1_fig9_defines_class": "defines a class",
    "p1_fig9_training_loop": "for loop",
    "p1_fig9_has_outputs": "committed outputs",
    "p1_fig9_two_parameter_cells": "2 cells tagged 'parameters'",
    "p1_fig9_no_parameters": "0 cells tagged 'parameters'",
    "p1_fig9_untyped_parameter": "is not 'name: type = value",
    "p1_fig9_equals_in_help": "no '=' in the help",
    "P1-Fig9-BadName": "does not follow",
    "p1_fig9_no_title": "markdown title",
}


def test_every_fixture_is_listed():
    assert {p.stem for p in FIXTURES.glob("*.ipynb")} == set(EXPECTED)


@pytest.mark.parametrize(("name", "problem"), EXPECTED.items())
def test_checker_catches_fixture(name, problem):
    problems = check_notebook(FIXTURES / f"{name}.ipynb")
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_training_loop_fixture_reports_backward_and_step():
    problems = check_notebook(FIXTURES / "p1_fig9_training_loop.ipynb")
    assert any(".backward()" in p for p in problems) and any(".step()" in p for p in problems)
