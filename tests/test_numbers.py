"""No hand-typed results: every number a reader meets in the hand-written prose (the landing and
chapter pages, the glossary, the README, the notebooks' Markdown) is held by a figure's sidecar.

A sidecar (book/figures/<notebook>.json) holds the resolved parameters, the key numbers (with the
values the paper states, under ``numbers["paper"]``), the claims' texts and the figures' captions;
the paper profiles (params/paper/*.yml) hold the paper's parameter values. Results in prose are
generated (``lossdyn.pipeline.tables.Prose``, the generated verdict and figure tables), so they do
not appear in the Markdown this test reads.

Declared exceptions, not counted as numbers: references ("Fig. 5", "eq. (12)", "Lemma 8",
"Section 5", "Table 1", "Paper 2", arXiv identifiers, years), code (fenced and inline), links'
addresses, and integers up to :data:`SMALL` (counts and indices the prose spells out: "two
seeds", "the 3 classes", "layer 10").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from conftest import ROOT, require_built

SMALL = 12
PAGES = ["book/intro.md", "book/paper1.md", "book/paper2.md", "book/glossary.md", "book/reproduce.md", "README.md"]
REFERENCE = re.compile(
    r"\b(?:Figs?\.|Figures?|eqs?\.|Eqs?\.|equations?|Lemmas?|Props?\.|Propositions?|Sections?|Sec\.|Theorems?|"
    r"Tables?|Remarks?|Corollar(?:y|ies)|Assumptions?|Definitions?|Steps?|Chapters?|Paper|Papers|Appendix|Algorithm)"
    r"\s*\(?\d+(?:\.\d+)*(?:\s*(?:[–,-]|and|&)\s*\d+(?:\.\d+)*)*\)?",
)
ARXIV = re.compile(r"arXiv[:\s]*\d{4}\.\d{4,5}(?:v\d+)?", re.I)
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
LINK = re.compile(r"\]\([^)]*\)|https?://\S+|<[^>]+>")
GROUPED = re.compile(r"\d{1,3}(?:[ \u2009\u202f,]\d{3})+(?!\d)")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]*\d)(?!\.\d)")


def prose_numbers(text: str) -> Iterator[str]:
    """The numbers of a Markdown text a reader would read as values (see the module docstring)."""
    for pattern in (CODE, LINK, ARXIV, REFERENCE, YEAR):
        text = pattern.sub(" ", text)
    text = GROUPED.sub(lambda m: re.sub(r"[ \u2009\u202f,]", "", m.group()), text)
    for match in NUMBER.finditer(text):
        token = match.group()
        if "." in token or "e" in token.lower() or int(token) > SMALL:
            yield token


def _values(obj: Any) -> Iterator[float]:
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        if math.isfinite(obj):
            yield float(obj)
    elif isinstance(obj, str):
        for token in re.findall(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", obj.replace("\u2009", "").replace(" 000", "000")):
            yield float(token)
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _values(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _values(value)


def held(token: str, values: set[float]) -> bool:
    """Whether a sidecar value shows as ``token`` at its precision (also as a percentage)."""
    x = float(token)
    digits = len(token.split(".")[1]) if "." in token and "e" not in token.lower() else 0
    tol = 0.5 * 10**-digits + 1e-12
    return any(abs(v - x) <= tol or abs(100 * v - x) <= tol for v in values)


@pytest.fixture(scope="module")
def sidecar_values() -> set[float]:
    figures = ROOT / "book" / "figures"
    require_built(figures, "the figures")
    values: set[float] = set()
    for path in sorted(figures.glob("*.json")):
        data = json.loads(path.read_text())
        for part in ("parameters", "numbers", "claims", "figures"):
            values.update(_values(data.get(part)))
    for path in sorted((ROOT / "params" / "paper").glob("*.yml")):
        values.update(_values(yaml.safe_load(path.read_text())))
    return values


def _markdown_sources() -> list[tuple[str, str]]:
    out = [(page, (ROOT / page).read_text()) for page in PAGES]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        out.append((path.relative_to(ROOT).as_posix(), text))
    return out


def test_the_extractor_skips_references_code_years_and_small_counts():
    text = (
        "Fig. 5 and eq. (12), Lemmas 7–8, arXiv:2405.19013 (2024), `lr 0.05`, two seeds, 3 classes, "
        "[link](https://x.org/1.5) but 0.957 and 91.4 % and 9285 and 100 000 steps"
    )
    assert list(prose_numbers(text)) == ["0.957", "91.4", "9285", "100000"]


def test_held_reads_precision_and_percentages():
    assert held("0.957", {0.95712}) and held("91.4", {0.9142}) and held("9285", {9285.0})
    assert not held("0.957", {0.9585}) and not held("12.5", {13.0})


SOURCES = _markdown_sources()


@pytest.mark.parametrize("where", [w for w, _ in SOURCES])
def test_prose_quotes_only_numbers_a_sidecar_holds(where, sidecar_values):
    text = dict(SOURCES)[where]
    typed = sorted({t for t in prose_numbers(text) if not held(t, sidecar_values)}, key=float)
    assert not typed, f"{where} quotes numbers no sidecar holds (generate them or cite the paper's): {typed}"


def test_page_list_exists():
    for page in PAGES:
        assert Path(ROOT / page).is_file(), page
