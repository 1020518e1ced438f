"""The layout holds: one figure module per notebook, the figure contract, short functions, followable references."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import types
from pathlib import Path

import pytest

import lossdyn
from lossdyn.pipeline.figures import ContractError, check_figure_module, figures, papers
from lossdyn.pipeline.pages import README_BEGIN, README_END, readme_figure_table, toc_generated_pages

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib" / "lossdyn"
MAX_LINES = 80


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1, node.lineno


def test_no_function_in_the_lib_is_longer_than_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{line} {name} ({n} lines)"
        for path in sorted(LIB.rglob("*.py"))
        for name, n, line in _functions(path)
        if n > MAX_LINES
    ]
    assert long == []


def test_every_notebook_has_a_figure_module_profile_and_toc_entry_and_nothing_else():
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    profiles = {p.stem for p in (ROOT / "params" / "paper").glob("*.yml")}
    toc = set(toc_generated_pages(ROOT)) - {"claims", "status"}
    assert set(figures()) == notebooks == profiles == toc


def test_figure_modules_sit_in_their_paper_package_and_meet_the_contract():
    for name, entry in figures().items():
        module = entry.module
        assert module.__name__.rsplit(".", 1)[-1] == name == module.Config.notebook
        check_figure_module(module)
        assert importlib.import_module(module.__name__.rsplit(".", 1)[0]).PAPER == entry.paper


def test_a_module_missing_part_of_the_contract_is_named_with_what_is_missing():
    fake = types.ModuleType("lossdyn.dynamical.p2_fig9_nothing")
    fake.plan = fake.finish = lambda *a: None
    fake.TITLE = "a title"
    with pytest.raises(ContractError) as err:
        check_figure_module(fake)
    message = str(err.value)
    assert "p2_fig9_nothing" in message
    for missing in ("key_numbers", "claims", "plot", "PAPER_FIGURE", "Config", "Result"):
        assert missing in message
    assert "plan (a function)" not in message and "TITLE" not in message


def test_no_figure_module_imports_another_figure_module():
    names = set(figures())
    for name, entry in figures().items():
        tree = ast.parse(Path(entry.module.__file__).read_text())
        imported = {
            part
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in ([getattr(node, "module", None) or ""] + [a.name for a in node.names])
            for part in alias.split(".")
        }
        assert imported & (names - {name}) == set(), name


def test_the_package_docstring_maps_every_module():
    doc = lossdyn.__doc__
    for info in pkgutil.walk_packages(lossdyn.__path__, "lossdyn."):
        if info.name.rsplit(".", 1)[-1] in figures():
            continue  # figures are listed by their paper packages
        assert info.name in doc, info.name
    for paper in papers():
        assert paper.short in doc


def test_readme_figure_table_is_generated_from_the_registry():
    text = (ROOT / "README.md").read_text()
    current = text[text.index(README_BEGIN) + len(README_BEGIN) : text.index(README_END)].strip()
    assert current == readme_figure_table(), "run: python -m lossdyn readme"


def test_no_reference_to_documents_outside_the_repository():
    """Docstrings and pages cite the papers or the book's Methods and choices page, never the private specs."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    needles = ("spec " + "§", "performance " + "notes §", "spec, " + "performance")
    hits = []
    for rel in files:
        path = ROOT / rel
        if path.suffix not in {".py", ".md", ".ipynb", ".yml", ".toml", ".txt", ".cfg"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        hits += [f"{rel}: {n}" for n in needles if n in text]
    assert hits == []


def test_methods_page_has_every_label_the_code_cites():
    """Every ``book/methods.md#label`` cited in the lib, the notebooks or the profiles exists on the page."""
    import re

    page = (ROOT / "book" / "methods.md").read_text()
    labels = set(re.findall(r"^\(([a-z0-9-]+)\)=$", page, flags=re.M))
    cited = set()
    for path in [*LIB.rglob("*.py"), *(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "params").rglob("*.yml")]:
        text = path.read_text()
        cited |= set(re.findall(r"book/methods\.md#((?:p\d|q|pipeline)-[a-z0-9-]+)", text))
        cited |= set(re.findall(r"\{ref\}`[^`<]*<((?:p\d|q|pipeline)-[a-z0-9-]+)>`", text))
    assert cited, "the code cites the Methods and choices page"
    assert cited - labels == set()
