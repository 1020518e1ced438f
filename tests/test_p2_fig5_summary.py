"""Paper 2 Fig. 5 statistics (book/methods.md#p2-fig5-choices) on a hand-made trainer result with known answers."""

from __future__ import annotations

import math

import torch

from lossdyn.dynamical import p2_fig5_edge_of_stability as page
from lossdyn.pipeline.plotting import MIN_TEXT_PX, text_px

NAN = math.nan


def _result() -> dict:
    """Four networks of one condition (η = 1, A = 25, T = 1000), two periods each:

    0: instabilities in both periods, floors 1.8 and 2.2 (mean 2.0), iterates (1.6, 2.0), (2.0, 2.4);
    1: one instability, floor 1.9, and its loss ended above its start (kept, counted);
    2: no instability; 3: loss became NaN (left out, counted)."""
    f64 = torch.float64
    return {
        "A": torch.full((4,), 25.0, dtype=f64),
        "T": torch.full((4,), 1000, dtype=torch.int64),
        "onset_t": torch.tensor([[900, 1950], [980, -1], [-1, -1], [950, -1]]),
        "lambda_onset": torch.tensor([[1.8, 2.2], [1.9, NAN], [NAN, NAN], [5.0, NAN]], dtype=f64),
        "lambda_onset_iterates": torch.tensor(
            [[[1.6, 2.0], [2.0, 2.4]], [[1.9, 1.9], [NAN, NAN]], [[NAN, NAN]] * 2, [[5.0, 5.0], [NAN, NAN]]],
            dtype=f64,
        ),
        "lambda_jump": torch.tensor([[2.0, 2.0], [2.1, NAN], [NAN, NAN], [5.0, NAN]], dtype=f64),
        "secant_onset": torch.full((4, 2), 2.0, dtype=f64),
        "secant_jump": torch.tensor([[2.1, 1.9], [2.2, NAN], [NAN, NAN], [9.0, NAN]], dtype=f64),
        "diverged": torch.tensor([False, False, False, True]),
        "final_loss": torch.tensor([0.5, 1.5, 0.4, NAN], dtype=f64),
        "train_acc": torch.tensor([0.9, 0.4, 0.9, 0.3], dtype=f64),
        "loss_bin_start": torch.tensor([0, 1]),
        "loss_bin_end": torch.tensor([1, 2]),
        "loss_bin_mean": torch.full((4, 2), 1.1, dtype=f64),
    }


def test_condition_statistics_leave_out_diverged_and_count_every_network():
    c = page.summarise(_result(), 1.0, 25.0, 1000)
    assert (c.n_networks, c.n_with_onset, c.n_onsets, c.n_diverged, c.n_loss_rose) == (4, 2, 3, 1, 1)
    # networks 0 and 1: per-network means 2.0 and 1.9 → mean 1.95, SEM = std/√2 = 0.0707…/√2 = 0.05
    assert math.isclose(c.lambda_onset, 1.95, rel_tol=1e-12)
    assert math.isclose(c.lambda_onset_sem, 0.05, rel_tol=1e-9)
    assert math.isclose(c.ratio_to_two_over_eta, 0.975, rel_tol=1e-12)  # 2/η = 2
    assert (c.ratio_network_min, c.ratio_network_max) == (0.95, 1.0)
    assert math.isclose(c.ratio_first_onset_only, (1.8 + 1.9) / 2 / 2, rel_tol=1e-12)
    assert math.isclose(c.ratio_single_iterate, (1.8 + 1.9) / 2 / 2, rel_tol=1e-12)  # θ_{t*}: (1.6+2.0)/2, 1.9
    # swing |λ(θ_{t*+1}) − λ(θ_{t*})|/floor: network 0 (0.4/1.8 + 0.4/2.2)/2, network 1: 0
    assert math.isclose(c.iterate_swing, ((0.4 / 1.8 + 0.4 / 2.2) / 2 + 0.0) / 2, rel_tol=1e-12)
    assert math.isclose(c.ratio_at_jump, (2.0 + 2.1) / 2 / 2, rel_tol=1e-12)
    assert math.isclose(c.secant_ratio_jump, (2.0 + 2.2) / 2 / 2, rel_tol=1e-12)
    assert c.lambda_onset_per_network == (2.0, 1.9)


def test_no_instability_anywhere_is_not_measured():
    r = _result()
    r["onset_t"] = torch.full_like(r["onset_t"], -1)
    cfg_like = page.Result(
        H=100,
        etas=(1.0,),
        amplitudes=(25.0,),
        periods=(1000,),
        time_budget=1000.0,
        n_seeds=4,
        dtype="float64",
        conditions=(page.summarise(r, 1.0, 25.0, 1000),),
        networks=(),
    )
    verdicts = [c.verdict for c in page.claims(cfg_like)]
    assert verdicts == ["not measured", "not measured"]
    assert page.summary_line(cfg_like).startswith("No instability")


def _two_eta_result() -> page.Result:
    """The hand-made condition at two learning rates (its ratios differ by the factor 2 in 2/η)."""
    r = _result()
    return page.Result(
        H=100,
        etas=(1.0, 2.0),
        amplitudes=(25.0,),
        periods=(1000,),
        time_budget=1000.0,
        n_seeds=4,
        dtype="float64",
        conditions=tuple(page.summarise(r, eta, 25.0, 1000) for eta in (1.0, 2.0)),
        networks=(),
    )


def test_figures_are_legible_at_the_column_width_and_described():
    shown = page.plot(_two_eta_result())
    assert [s.name for s in shown] == ["", "variants"]
    for s in shown:
        assert text_px(s.fig) >= MIN_TEXT_PX, s.name
        assert s.caption.startswith("Paper 2, Figure 5") and s.alt
    assert sum(len(s.fig.axes) for s in shown) == 3


def test_tables_and_prose_quote_the_conditions():
    res = _two_eta_result()
    table = page.condition_table(res)
    assert len(table.rows) == 2 and len(table.columns) <= 8
    # network means 2.0 and 1.9: λ_onset 1.95 ± 0.05, ratio ·η/2 0.975 at η = 1 and 1.95 at η = 2
    assert table.rows[0][5] == "1.950 ± 0.050" and table.rows[0][6] == "0.975 ± 0.025"
    assert table.rows[1][6] == "1.950 ± 0.050" and table.rows[0][7] == "0.950–1.000"
    variants = page.variants_table(res)
    assert variants.rows[0][3] == (1.8 + 1.9) / 2 / 2  # first instability only
    text = page.summary_line(res)
    assert "within 10 % of 1 in 1 of 2 conditions" in text
    assert "Of the 8 networks, 2 diverged (left out) and 2 ended with a loss above their start" in text
