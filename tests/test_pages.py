"""Generated tables: the chapter pages' figure tables come from the registry and the sidecars."""

from __future__ import annotations

import json

import nbformat

from lossdyn.pipeline.figures import figures
from lossdyn.pipeline.pages import (
    META_KEY,
    readme_figure_table,
    write_claims_page,
    write_figure_tables,
    write_verdict_tables,
)


def _fake_build(root, name, verdicts):
    (root / "book" / "generated").mkdir(parents=True)
    (root / "book" / "figures").mkdir(parents=True)
    claims = [{"id": f"X-{i}", "claim": "c", "measured": "m", "verdict": v} for i, v in enumerate(verdicts)]
    (root / "book" / "figures" / f"{name}.json").write_text(json.dumps({"notebook": name, "claims": claims}))
    nb = nbformat.v4.new_notebook()
    nb.metadata[META_KEY] = {"profile": "quick", "overrides": {}}
    nbformat.write(nb, root / "book" / "generated" / f"{name}.ipynb")
    (root / "_toc.yml").write_text(f"- file: book/generated/{name}\n")


def test_chapter_tables_list_every_figure_with_the_verdicts_of_this_build(tmp_path):
    _fake_build(tmp_path, "p2_fig5_edge_of_stability", ["reproduced", "partial", "partial"])
    paths = {p.name: p.read_text() for p in write_figure_tables(tmp_path)}
    assert set(paths) == {"paper1_figures.md", "paper2_figures.md"}
    p2 = paths["paper2_figures.md"].splitlines()
    names = [n for n, e in figures().items() if e.paper.short == "Paper 2"]
    assert len(p2) == 2 + len(names)
    for name, line in zip(names, p2[2:]):
        assert f"{{doc}}`generated/{name}`" in line and figures()[name].module.TITLE in line
    (fig5,) = [line for line in p2 if "p2_fig5_edge_of_stability" in line]
    assert "1 reproduced, 2 partial (quick profile)" in fig5
    assert all("not built in this build" in line for line in paths["paper1_figures.md"].splitlines()[2:])


def test_claims_page_counts_every_verdict(tmp_path):
    _fake_build(tmp_path, "p2_fig5_edge_of_stability", ["reproduced", "partial", "partial"])
    text = write_claims_page(tmp_path).read_text()
    assert "**Summary:** 1 reproduced, 2 partial." in text
    assert "| {doc}`p2_fig5_edge_of_stability <p2_fig5_edge_of_stability>` | quick | 1 | 2 | 0 | 0 |" in text


def test_readme_table_has_one_row_per_figure_in_book_order():
    rows = readme_figure_table().splitlines()[2:]
    assert [r.split("`notebooks/")[1].split(".ipynb")[0] for r in rows] == list(figures())


def test_verdict_tables_open_the_landing_and_chapter_pages_with_badges(tmp_path):
    _fake_build(tmp_path, "p2_fig5_edge_of_stability", ["reproduced", "partial", "not measured"])
    paths = {p.name: p.read_text() for p in write_verdict_tables(tmp_path)}
    assert set(paths) == {"verdicts.md", "paper1_verdicts.md", "paper2_verdicts.md"}
    p2 = paths["paper2_verdicts.md"]
    assert p2.startswith("**1 reproduced, 1 partial, 1 not measured.**")
    assert '<span class="verdict verdict-not-measured">not measured</span>' in p2
    title = figures()["p2_fig5_edge_of_stability"].module.TITLE
    assert f"{{doc}}`{title} <generated/p2_fig5_edge_of_stability>` (quick profile)" in p2
    assert "No page of this part was executed" in paths["paper1_verdicts.md"]
    assert "### Paper 2:" in paths["verdicts.md"] and p2 in paths["verdicts.md"]


def test_claim_table_is_text_for_nbval_and_html_with_badges_for_the_book():
    from lossdyn.pipeline.claims import Claim, claim_table, format_claims

    claims = [Claim("P-1", "λ < 2/η", "0.957 <b>", "partial")]
    table = claim_table(claims)
    assert repr(table) == format_claims(claims)
    html = table._repr_html_()
    assert '<span class="verdict verdict-partial">partial</span>' in html and "0.957 &lt;b&gt;" in html
