"""The figures, tables and generated prose of the Paper 2 Fig. 1 and Fig. 4 pages, on tiny results (seconds)."""

from __future__ import annotations

import math
import re

import pytest

from lossdyn.dynamical import p2_fig1_size_vs_learning_rate as fig1
from lossdyn.dynamical import p2_fig4_validation_accuracy as fig4
from lossdyn.pipeline.cache import cached_run
from lossdyn.pipeline.plotting import MIN_TEXT_PX, text_px
from tiny_grids import tiny

FIG1_TINY = {
    "widths": [5, 10],
    "etas": [0.5, 1.0],
    "n_seeds": 2,
    "time_budget": 100.0,
    "n_lambda": 5,
    "lanczos_m": 5,
    "dtype": "float32",
    "workers": 1,
    "device": "cpu",
    "seed": 0,
}


@pytest.fixture(scope="module")
def res1():
    return cached_run(fig1.Config.from_mapping(FIG1_TINY))[0]  # the test suite runs with the results cache off


@pytest.fixture(scope="module")
def res4():
    return cached_run(tiny("p2_fig4_validation_accuracy", device="cpu"))[0]


def _check_shown(shown, paper_caption: str) -> None:
    """Legible at the column, captioned, described, distinct names (first ""), panel letters unique on the page."""
    assert shown and shown[0].name == "" and len({s.name for s in shown}) == len(shown)
    assert shown[0].caption.startswith(paper_caption)
    letters = []
    for s in shown:
        assert text_px(s.fig) >= MIN_TEXT_PX, (s.name, text_px(s.fig))
        assert s.caption.strip() and s.alt.strip()
        letters += [m.group(1) for ax in s.fig.axes if (m := re.match(r"\(([a-z])\) ", ax.get_title(loc="left")))]
    assert letters == sorted(letters) and len(set(letters)) == len(letters) > 0


def test_fig1_figures_are_legible_groups(res1):
    shown = fig1.plot(res1)
    _check_shown(shown, "Paper 2, Figure 1 (a, b).")
    assert sum(len(s.fig.axes) for s in shown) == 4  # (a, b) the paper's panels, (c, d) the companion ones


def test_fig1_tables_hold_the_run_fields(res1):
    loss = fig1.lambda_table(res1)
    runs = fig1.runs_table(res1)
    assert len(loss.rows) == len(runs.rows) == len(res1.runs) == 4
    for r, a, b in zip(res1.runs, loss.rows, runs.rows):
        assert a[:3] == [r.H, r.eta, r.steps] and a[3] == r.loss_late and a[5] == r.lambda_max_final
        assert b[2] == pytest.approx(r.lambda_max_late * r.eta / 2) and b[-3:] == [
            r.n_trained,
            r.n_not_trained,
            r.n_diverged,
        ]
    assert "all runs: " in runs.caption


def test_fig1_summary_quotes_the_measured_values(res1):
    text = fig1.summary(res1)
    for r in res1.runs:
        if r.n_ok:
            assert f"{r.loss_late:.4f}" in text and f"{r.lambda_max_late * r.eta / 2:.2f}" in text
    assert fig1._ordered_text([3.0, 2.0, 1.0]) == "decreasing with H"
    assert fig1._ordered_text([1.0, 2.0]) == "increasing with H"
    assert fig1._ordered_text([1.0, 3.0, 2.0]) == "not monotone in H"


def test_fig1_sidecar_numbers_name_the_paper_values(res1):
    numbers = fig1.key_numbers(res1)
    assert numbers["paper"]["n_simulations"] == 20 and numbers["n_train_points"] == res1.y.numel()


def test_fig4_figure_is_legible(res4):
    shown = fig4.plot(res4)
    _check_shown(shown, "Paper 2, Figure 4 (a, b).")
    assert len(shown) == 1 and len(shown[0].fig.axes) == 2


def test_fig4_tables_have_a_row_per_width_and_loss(res4):
    a, b = fig4.accuracy_table(res4, "a"), fig4.accuracy_table(res4, "b")
    assert [(row[0], row[1]) for row in a.rows] == [(H, name) for H in res4.widths for name in fig4.PANEL_A]
    assert len(b.rows) == len(res4.widths) * len(fig4.PANEL_B)
    row = fig4._find(res4, "DCE", res4.widths[0])
    assert a.rows[1][2] == pytest.approx(100 * row.val_acc_mean, nan_ok=True)
    with pytest.raises(ValueError, match="panel"):
        fig4.accuracy_table(res4, "c")


def test_fig4_gap_summary_gives_each_gap(res4):
    text = fig4.gap_summary(res4)
    for H in res4.widths:
        d, s = fig4._find(res4, "DCE", H), fig4._find(res4, "CE", H)
        if math.isfinite(d.val_acc_mean) and math.isfinite(s.val_acc_mean):
            assert f"{100 * (d.val_acc_mean - s.val_acc_mean):+.1f} at H = {H}" in text
    assert fig4.key_numbers(res4)["paper"]["n_simulations_ce"] == 50
