"""Paper 2 Figs. 2–3 page: its figures, tables and generated prose on a small hand-made result."""

from __future__ import annotations

import dataclasses
import math

import torch

from lossdyn.dynamical import losses as dl
from lossdyn.dynamical import p2_fig2_3_period_doubling as page
from lossdyn.pipeline.plotting import MIN_TEXT_PX, text_px

F64 = torch.float64


def _panel(t: int, reach: float, dynamics: str) -> page.Panel:
    """A bowl F = 1 + a² + b² on a 5 × 5 grid and a 2-cycle of iterates between (0, 0) and (−reach, 0)."""
    axis = torch.linspace(-1.0, 1.0, 5, dtype=F64)
    bb, aa = torch.meshgrid(axis, axis, indexing="ij")
    path = torch.zeros(5, 2, dtype=F64)
    path[1::2, 0] = -reach
    return page.Panel(t, 1.0 + aa**2 + bb**2, path, torch.tensor([2.0, 1.0], dtype=F64), dynamics, 0.5)


def _result() -> page.Result:
    """400 steps, T = 100: onsets in periods 1 and 2 (t* = 60 and 170), none in periods 3 and 4."""
    steps, k = 400, torch.arange(400)
    F = (1.0 + 0.5 * torch.sin(k / 30.0)).to(F64)
    dF = torch.where(k % 2 == 0, -1e-4, 1e-3).to(F64)
    lam_t = torch.arange(0, steps, 10)
    nan = math.nan
    return page.Result(
        H=10, eta=1.0, A=10.0, T=100, steps=steps, dtype="float64",
        gamma=dl.gamma(k, 10.0, 100).to(torch.float32), F=F, dF=dF,
        lambda_t=lam_t, lambda_max=(1.0 + lam_t / steps).to(F64), lambda_residual=torch.zeros(len(lam_t), dtype=F64),
        onset_t=torch.tensor([60, 170, -1, -1]), lambda_onset=torch.tensor([1.8, 1.9, nan, nan], dtype=F64),
        jump_t=torch.tensor([64, 175, -1, -1]), lambda_jump=torch.tensor([1.9, 2.0, nan, nan], dtype=F64),
        lambda_onset_iterates=torch.tensor([[1.7, 1.9], [2.0, 1.8], [nan, nan], [nan, nan]], dtype=F64),
        lambda_jump_iterates=torch.full((4, 2), nan, dtype=F64),
        secant_onset=torch.full((4,), 2.0, dtype=F64), secant_jump=torch.tensor([2.1, 2.2, nan, nan], dtype=F64),
        align_period=1, t_star=170, shift=-30, panel_times=(150, 170, 180, 190),
        panels=(_panel(150, 1e-3, "descent"), _panel(170, 0.3, "period-2"), _panel(180, 0.4, "period-4"),
                _panel(190, 0.5, "irregular")),
        regime_scan_t=(150, 175, 200), regime_scan=("descent", "period-2", "period-2"),
        replay_identical=True, diverged=False, train_acc=0.5, val_acc=0.4,
        grid_axis=torch.linspace(-1.0, 1.0, 5, dtype=F64),
    )  # fmt: skip


def test_figures_are_legible_at_the_column_width_and_described():
    shown = page.plot(_result())
    assert [s.name for s in shown] == ["", "zoom", "landscape"]
    for s in shown:
        assert text_px(s.fig) >= MIN_TEXT_PX, s.name
        assert s.caption.startswith("Paper 2, Figure") and s.alt
    fig3 = shown[2].fig
    titles = [ax.get_title(loc="left") for ax in fig3.axes]
    assert [t[:3] for t in titles if t] == ["(i)", "(j)", "(k)", "(l)"]  # letters go on after Fig. 2's (a)–(h)
    assert sum(len(ax.child_axes) for ax in fig3.axes) == 1  # only the descent panel's iterates need an inset


def test_tables_and_prose_come_from_the_result():
    res = _result()
    onsets = page.onset_table(res)
    assert [r[0] for r in onsets.rows] == [1, 2, 3, 4] and onsets.rows[2][1] == "none"
    assert onsets.rows[1][1:4] == [170, 1.9, 0.95]  # λ floor 1.9, ·η/2 with η = 1
    panels = page.panel_table(res)
    assert [r[0] for r in panels.rows] == ["(i)", "(j)", "(k)", "(l)"] and panels.rows[0][5] == 1e-3
    assert "t* = 170" in page.run_summary(res) and "shifted by -30 steps" in page.run_summary(res)
    assert page.regime_prose(res).endswith("descent 150, period-2 175–200.")
    numbers = page.key_numbers(res)
    assert numbers["paper"]["end_of_second_period"] == 10000 and numbers["shift"] == -30


def test_a_diverged_run_without_an_onset_still_plots():
    res = dataclasses.replace(
        _result(),
        dF=torch.full((400,), math.nan, dtype=F64),
        onset_t=torch.full((4,), -1),
        t_star=-1,
        panels=(),
        diverged=True,
    )
    assert [s.name for s in page.plot(res)] == ["", "zoom", "landscape"]
    assert "no onset in period 2" in page.run_summary(res)
    assert [c.verdict for c in page.claims(res)] == ["not measured", "not measured"]
