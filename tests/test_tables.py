"""Result tables and generated prose of the pages (lossdyn.pipeline.tables), and the page figures'
HTML (lossdyn.pipeline.plotting.show_figure)."""

from __future__ import annotations

import pytest

from lossdyn.pipeline.plotting import Shown, min_font_pt, new_figure, show_figure, shown_list
from lossdyn.pipeline.tables import Prose, Table, cell_text


def test_cells_are_formatted_at_fixed_precision():
    assert [cell_text(v) for v in (1.23456, 7, None, "x", True, float("nan"))] == [
        "1.235",
        "7",
        "–",
        "x",
        "yes",
        "nan",
    ]
    assert cell_text(0.5, ".1%") == "50.0%"


def test_table_text_and_html_show_the_same_cells():
    t = Table(["η", "ratio"], [[0.5, 1.00449], [1.0, None]], caption="ratios", formats={"η": ".1f"})
    assert repr(t).splitlines() == ["ratios", "  η  ratio", "0.5  1.004", "1.0      –"]
    page = t._repr_html_()
    assert '<td class="num">1.004</td>' in page and "<td>–</td>" in page and "<caption>ratios</caption>" in page
    with pytest.raises(ValueError, match="rows \\[0\\]"):
        Table(["a", "b"], [[1]])


def test_prose_is_markdown_in_the_book_and_text_in_nbval():
    p = Prose("mean $\\lambda\\eta/2$ = 0.957")
    assert repr(p) == p._repr_markdown_() == "mean $\\lambda\\eta/2$ = 0.957"


def test_shown_figures_carry_alt_text_the_smallest_font_and_a_caption():
    fig, axes = new_figure(2, width=3.0)
    axes[0][0].plot([0, 1], [0, 1], label="line")
    axes[0][0].legend(fontsize=7)
    axes[0][1].set_title("right", fontsize=11)
    shown = show_figure([Shown(fig, "Paper 9, Figure 1 (a, b). Two lines.", "Two panels with a line.")])
    page = shown._repr_html_()
    assert 'alt="Two panels with a line."' in page and 'data-min-font-pt="7"' in page and 'data-dpi="200"' in page
    assert "<figcaption>Paper 9, Figure 1 (a, b). Two lines.</figcaption>" in page
    assert repr(shown) == "[figure] Paper 9, Figure 1 (a, b). Two lines."
    assert min_font_pt(fig) == 7.0
    with pytest.raises(ValueError, match="distinct names"):
        shown_list([Shown(fig, "a", "a", "x"), Shown(fig, "b", "b", "x")])


def test_text_px_follows_the_font_and_the_figure_width():
    from lossdyn.pipeline.plotting import CONTENT_WIDTH_PX, DPI, text_px

    small, ax = new_figure(1, width=3.0)
    ax[0][0].tick_params(labelsize=8)
    assert text_px(small) == 8 * DPI / 72  # 3 in at 200 dpi is narrower than the column: shown at full size
    narrow, ax = new_figure(1, width=6.0)
    ax[0][0].tick_params(labelsize=8)
    assert abs(text_px(narrow) - 8 * DPI / 72 * CONTENT_WIDTH_PX / (6.0 * DPI)) < 0.5  # bbox-tight width ≈ 6 in
    wide, ax = new_figure(4, width=4.0)
    for a in ax[0]:
        a.tick_params(labelsize=8)
    assert text_px(wide) < 9 <= text_px(narrow)
