"""Paper 2, Figure 4: validation accuracy against network width, static against dynamical losses.

(a) CE against DCE at η = 1; (b) MSE against DMSE1 and DMSE2 at η = 0.075. Every network trains
for ``n_periods``·T steps of full-batch GD; with ``static_last_period`` the last period uses A = 1
(the static loss), "where we measure the accuracy" (Fig. 4 caption). Validation accuracy is
 the spiral drawn with seed 1 at the final step. The static baselines are the same
networks (same initial weights: members with the same replica share their init) trained with A = 1.
Every network is counted as trained, not trained or diverged (loss NaN/inf, a final loss above the
starting one, or training accuracy at chance: :mod:`lossdyn.dynamical.outcome`, book/methods.md#p2-outcome);
the diverged ones are left out of the means and no claim rests on them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from lossdyn.dynamical import losses as dl
from lossdyn.dynamical.ensemble import NEVER, Member, TrainSpec, cpu_chunk
from lossdyn.dynamical.outcome import describe, outcome, total
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES
from lossdyn.pipeline.figures import Cost, ensemble_cost
from lossdyn.pipeline.plotting import PALETTE, Shown, letter_panels, new_figure
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import EnsemblePlan

__all__ = [
    "Config",
    "Result",
    "Row",
    "accuracy_table",
    "claims",
    "estimate",
    "finish",
    "gap_summary",
    "jobs",
    "key_numbers",
    "plan",
    "plot_dynamical_accuracy",
]


#: The losses of panel (a) and panel (b) (Fig. 4 caption).
PANEL_A = ("CE", "DCE")
PANEL_B = ("MSE", "DMSE1", "DMSE2")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``p2_fig4_validation_accuracy`` (see the notebook for their defaults)."""

    presentation_fields = ("workers",)

    widths: tuple[int, ...]  # hidden widths H (x axis)
    n_seeds_ce: int  # networks per width for CE and DCE
    n_seeds_mse: int  # networks per width for MSE, DMSE1, DMSE2
    eta_ce: float  # learning rate of panel (a)
    eta_mse: float  # learning rate of panel (b)
    A: float  # amplitude of the class weights
    T: int  # period in steps
    n_periods: int  # training length in periods (steps = n_periods * T) for panel (a)
    n_periods_mse: int  # the same for panel (b)
    static_last_period: bool  # A = 1 in the last period
    dmse1_weighting: str  # where Γ enters DMSE1
    dmse2_weighting: str  # where Γ enters DMSE2
    dtype: str  # float32 or float64
    workers: int  # CPU worker processes (results do not depend on it)

    def validate(self) -> None:
        self._require(
            "widths",
            len(self.widths) >= 1
            and all(1 <= h <= 5000 for h in self.widths)
            and len(set(self.widths)) == len(self.widths),
            "distinct widths in 1..5000",
        )
        self._require("n_seeds_ce", 0 <= self.n_seeds_ce <= 10_000, "0 <= n_seeds_ce <= 10000")
        self._require("n_seeds_mse", 0 <= self.n_seeds_mse <= 10_000, "0 <= n_seeds_mse <= 10000")
        self._require(
            "n_seeds_ce",
            self.n_seeds_ce + self.n_seeds_mse >= 1,
            "n_seeds_ce + n_seeds_mse >= 1 (both 0 trains nothing: an empty page)",
        )
        self._require("eta_ce", 0 < self.eta_ce <= 100, "0 < eta_ce <= 100")
        self._require("eta_mse", 0 < self.eta_mse <= 100, "0 < eta_mse <= 100")
        self._require("A", self.A >= 1, "A >= 1")
        self._require("T", 2 <= self.T <= 10_000_000, "2 <= T")
        self._require("n_periods", 1 <= self.n_periods <= 10_000, "1 <= n_periods <= 10000")
        self._require("n_periods_mse", 1 <= self.n_periods_mse <= 10_000, "1 <= n_periods_mse <= 10000")
        self._require("dmse1_weighting", self.dmse1_weighting in dl.WEIGHTINGS, " or ".join(dl.WEIGHTINGS))
        self._require("dmse2_weighting", self.dmse2_weighting in dl.WEIGHTINGS, " or ".join(dl.WEIGHTINGS))
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))
        self._require("workers", 1 <= self.workers <= 64, "1 <= workers <= 64")


@dataclasses.dataclass(frozen=True)
class Row:
    """One loss at one width: its networks' accuracies at the final step.

    * ``loss`` (CE, DCE, MSE, DMSE1, DMSE2), ``H``;
    * ``val_acc_mean``, ``val_acc_sem``, ``train_acc_mean``, ``train_acc_sem``: mean and SEM over the
      networks that did not diverge (NaN if none; SEM NaN below 2; book/methods.md#p2-outcome); ``n_finite``
      of them (trained or not trained), ``n_diverged`` not; ``n_trained``, ``n_not_trained``: the first split
      by status; ``counts``: every status and reason (:meth:`lossdyn.dynamical.outcome.Outcome.counts`);
    * ``val_acc``, ``final_loss`` (n_seeds,) float64: per network (NaN loss if its loss overflowed);
      ``status`` (n_seeds,) int64: index in :data:`lossdyn.dynamical.outcome.STATUSES`;
    * ``loss_bin_start``, ``loss_bin_end`` (bins,) int64 and ``loss_curve_mean`` (bins,) float64: the
      loss on log-spaced bins of steps, mean over the networks that did not diverge (NaN if none).
    """

    loss: str
    H: int
    val_acc_mean: float
    val_acc_sem: float
    n_finite: int
    n_diverged: int
    n_trained: int
    n_not_trained: int
    counts: dict[str, int]
    status: torch.Tensor
    train_acc_mean: float
    train_acc_sem: float
    val_acc: torch.Tensor
    final_loss: torch.Tensor
    loss_bin_start: torch.Tensor
    loss_bin_end: torch.Tensor
    loss_curve_mean: torch.Tensor


@dataclasses.dataclass(frozen=True)
class Result:
    """Fig. 4's result.

    * ``widths``, ``eta_ce``, ``eta_mse``, ``A``, ``T``, ``n_periods``, ``n_periods_mse``,
      ``static_last_period``, ``n_seeds_ce``, ``n_seeds_mse``, ``dtype``: from the config;
    * ``weightings``: ``{"DMSE1": …, "DMSE2": …}``, where Γ enters each dynamical MSE
      (:data:`lossdyn.dynamical.losses.WEIGHTINGS`);
    * ``rows``: one :class:`Row` per (loss, width), widths outermost (losses without networks are absent).
    """

    widths: tuple[int, ...]
    eta_ce: float
    eta_mse: float
    A: float
    T: int
    n_periods: int
    n_periods_mse: int
    static_last_period: bool
    n_seeds_ce: int
    n_seeds_mse: int
    dtype: str
    weightings: dict[str, str]
    rows: tuple[Row, ...]


def _stats(acc: torch.Tensor, diverged: torch.Tensor) -> tuple[float, float, int]:
    """Mean, SEM (NaN below 2) and number of the accuracies of the networks that did not diverge."""
    ok = acc[~diverged]
    n = int(ok.numel())
    mean = float(ok.mean()) if n else math.nan
    sem = float(ok.std(unbiased=True) / math.sqrt(n)) if n > 1 else math.nan
    return mean, sem, n


def jobs(cfg: Config) -> tuple[list[tuple[TrainSpec, list[Member]]], list[tuple[str, int, int, int, int]]]:
    """The ensembles (one per width × loss family × weighting) and an index of the table's rows:
    (loss name, width, job number, first member, end member)."""
    out, index = [], []

    def add(H, family, weighting, eta, n_periods, losses, n_seeds):
        if n_seeds == 0:
            return
        steps = n_periods * cfg.T
        static_from = steps - cfg.T if cfg.static_last_period else NEVER
        spec = TrainSpec(
            H=H, steps=steps, family=family, weighting=weighting, dtype=cfg.dtype, seed=cfg.seed, loss_bins=40
        )
        members = []
        for name in losses:
            start = len(members)
            dynamical = dl.loss_family(name)[2]
            members += [Member(r, eta, cfg.A if dynamical else 1.0, cfg.T, static_from) for r in range(n_seeds)]
            index.append((name, H, len(out), start, len(members)))
        out.append((spec, members))

    for H in cfg.widths:
        add(H, "ce", "sample_class", cfg.eta_ce, cfg.n_periods, PANEL_A, cfg.n_seeds_ce)
        if cfg.dmse1_weighting == "sample_class":
            add(H, "mse", "sample_class", cfg.eta_mse, cfg.n_periods_mse, ("MSE", "DMSE1"), cfg.n_seeds_mse)
        else:
            add(H, "mse", "sample_class", cfg.eta_mse, cfg.n_periods_mse, ("MSE",), cfg.n_seeds_mse)
            add(H, "mse", cfg.dmse1_weighting, cfg.eta_mse, cfg.n_periods_mse, ("DMSE1",), cfg.n_seeds_mse)
        add(H, "mse", cfg.dmse2_weighting, cfg.eta_mse, cfg.n_periods_mse, ("DMSE2",), cfg.n_seeds_mse)
    return out, index


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run (the figure contract's optional ``estimate``): the ensembles of
    :func:`jobs` trained as a serial run trains them (:func:`lossdyn.pipeline.figures.ensemble_cost`); a chunk
    costs nothing per step besides its networks (the least-squares fit of this figure's own paper-profile
    sweep gives −1.3e-5 s, zero within its error; :data:`~lossdyn.pipeline.figures.ENSEMBLE_SECONDS_PER_STEP_H`);
    chunks of :func:`~lossdyn.dynamical.ensemble.cpu_chunk` networks.
    """
    return ensemble_cost(jobs(cfg)[0], chunk=cpu_chunk, workers=cfg.workers, per_chunk_step=0.0, overhead=6.0)


def plan(cfg: Config) -> EnsemblePlan:
    """Units: one network (width, loss, replica) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    return EnsemblePlan(jobs(cfg)[0])


def _row(name: str, H: int, r: dict[str, Any], a: int, b: int) -> Row:
    """The :class:`Row` of members ``a`` … ``b − 1`` of the ensemble result ``r``; means over the networks
    that did not diverge (book/methods.md#p2-outcome)."""
    status = outcome(r, a, b)
    counts = status.counts()
    div = status.diverged
    val_mean, val_sem, n = _stats(r["val_acc"][a:b], div)
    train_mean, train_sem, _ = _stats(r["train_acc"][a:b], div)
    return Row(
        loss=name,
        H=H,
        val_acc_mean=val_mean,
        val_acc_sem=val_sem,
        n_finite=n,
        n_diverged=counts["diverged"],
        n_trained=counts["trained"],
        n_not_trained=counts["not trained"],
        counts=counts,
        status=status.status,
        train_acc_mean=train_mean,
        train_acc_sem=train_sem,
        val_acc=r["val_acc"][a:b],
        final_loss=r["final_loss"][a:b],
        loss_bin_start=r["loss_bin_start"],
        loss_bin_end=r["loss_bin_end"],
        loss_curve_mean=torch.nanmean(r["loss_bin_mean"][a:b][~div], 0) if n else r["loss_bin_mean"][a] * math.nan,
    )


def finish(cfg: Config, results: list[dict[str, Any]]) -> Result:
    """The page's result from one ensemble result per job of :func:`jobs`."""
    return Result(
        widths=tuple(cfg.widths),
        eta_ce=cfg.eta_ce,
        eta_mse=cfg.eta_mse,
        A=cfg.A,
        T=cfg.T,
        n_periods=cfg.n_periods,
        n_periods_mse=cfg.n_periods_mse,
        static_last_period=cfg.static_last_period,
        n_seeds_ce=cfg.n_seeds_ce,
        n_seeds_mse=cfg.n_seeds_mse,
        dtype=cfg.dtype,
        weightings={"DMSE1": cfg.dmse1_weighting, "DMSE2": cfg.dmse2_weighting},
        rows=tuple(_row(name, H, results[j], a, b) for name, H, j, a, b in jobs(cfg)[1]),
    )


def _find(res: Result, loss: str, H: int) -> Row | None:
    for row in res.rows:
        if row.loss == loss and row.H == H:
            return row
    return None


def key_numbers(res: Result) -> dict[str, Any]:
    """The sidecar's numbers, per ``loss,H=…``, named like the :class:`Row` fields; ``paper``: what Fig. 4's
    caption states."""
    names = ("val_acc_mean", "val_acc_sem", "train_acc_mean", "n_trained", "n_not_trained", "n_diverged")
    out: dict[str, Any] = {name: {} for name in names}
    for row in res.rows:
        key = f"{row.loss},H={row.H}"
        for name in names:
            out[name][key] = getattr(row, name)
    out["dtype"] = res.dtype
    # Fig. 4's caption (arXiv:2410.10690): the learning rates and the simulations averaged per width in panels
    # (a) and (b), and A = 1 (the static loss) in the last oscillation, where the accuracy is measured.
    out["paper"] = {
        "eta_ce": 1.0,
        "eta_mse": 0.075,
        "n_simulations_ce": 50,
        "n_simulations_mse": 10,
        "A_last_oscillation": 1.0,
    }
    return out


def _panel(res: Result, panel: str) -> tuple[tuple[str, ...], float]:
    """The losses and the learning rate of panel ``"a"`` or ``"b"``."""
    if panel not in ("a", "b"):
        raise ValueError(f"panel is 'a' or 'b', not {panel!r}")
    return (PANEL_A, res.eta_ce) if panel == "a" else (PANEL_B, res.eta_mse)


def accuracy_table(res: Result, panel: str) -> Table:
    """Panel ``panel``'s accuracies in %, one row per (width, loss): validation mean ± SEM and training mean
    over the networks that did not diverge, and the networks per status (book/methods.md#p2-outcome)."""
    losses, eta = _panel(res, panel)
    rows = []
    for H in res.widths:
        for name in losses:
            r = _find(res, name, H)
            if r is not None:
                rows.append(
                    [
                        H,
                        name,
                        100 * r.val_acc_mean,
                        100 * r.val_acc_sem,
                        100 * r.train_acc_mean,
                        r.n_trained,
                        r.n_not_trained,
                        r.n_diverged,
                    ]
                )
    present = [r for r in res.rows if r.loss in losses]
    runs = "runs: " + describe(total([r.counts for r in present])) if present else "not run (no networks)"
    return Table(
        ["H", "loss", "validation %", "± SEM", "training %", "trained", "not trained", "diverged"],
        rows,
        caption=f"({panel}) η = {eta:g}, accuracy at the final step (mean of the networks that did not diverge); "
        f"{runs}.",
        formats={"validation %": ".1f", "± SEM": ".1f", "training %": ".1f"},
    )


def _gap_line(res: Result, dyn: str, static: str, eta: float) -> str:
    """One bullet of :func:`gap_summary`: the gap per width and whether the SEM bars overlap there (no bar: a
    loss with a single network that did not diverge at that width)."""
    cells = []
    for H in res.widths:
        d, s = _find(res, dyn, H), _find(res, static, H)
        if d is None or s is None or not (math.isfinite(d.val_acc_mean) and math.isfinite(s.val_acc_mean)):
            continue
        if math.isfinite(d.val_acc_sem) and math.isfinite(s.val_acc_sem):
            apart = abs(d.val_acc_mean - s.val_acc_mean) > d.val_acc_sem + s.val_acc_sem
            bars = "bars apart" if apart else "bars overlap"
        else:
            bars = "one network of one loss: no bar"
        cells.append(f"{100 * (d.val_acc_mean - s.val_acc_mean):+.1f} at H = {H} ({bars})")
    what = ", ".join(cells) if cells else "no width with networks of both that did not diverge"
    return f"* {dyn} − {static} (η = {eta:g}): {what}."


def gap_summary(res: Result) -> str:
    """Generated prose, plain text (the book renders a Markdown output without math): each dynamical loss minus
    its static one, validation accuracy in points of %, per width, with whether the SEM bars of the two overlap
    (means over the networks that did not diverge)."""
    pairs = (("DCE", "CE", res.eta_ce), ("DMSE1", "MSE", res.eta_mse), ("DMSE2", "MSE", res.eta_mse))
    lines = [
        _gap_line(res, dyn, static, eta)
        for dyn, static, eta in pairs
        if any(r.loss == dyn for r in res.rows) and any(r.loss == static for r in res.rows)
    ]
    head = (
        "Measured in this build: validation accuracy of the dynamical loss minus that of its static version, in "
        "points of %, at each width; *bars apart* means the two SEM bars do not overlap."
    )
    return head + "\n\n" + ("\n".join(lines) if lines else "* No pair of losses was run.")


def _compare(res: Result, dyn: str, static: str) -> tuple[int, int, int, int, list[str]]:
    """(widths where ``dyn`` is higher with non-overlapping SEM bars, widths where its mean is higher,
    widths where it is lower with non-overlapping bars, widths compared, the gaps as text)."""
    better_sep = better = worse_sep = n = 0
    gaps = []
    for H in res.widths:
        d, s = _find(res, dyn, H), _find(res, static, H)
        if d is None or s is None or not (math.isfinite(d.val_acc_mean) and math.isfinite(s.val_acc_mean)):
            continue
        n += 1
        ds, ss = (
            (d.val_acc_sem if math.isfinite(d.val_acc_sem) else 0.0),
            (s.val_acc_sem if math.isfinite(s.val_acc_sem) else 0.0),
        )
        gap = d.val_acc_mean - s.val_acc_mean
        gaps.append(f"H = {H}: {100 * gap:+.1f}")
        better += gap > 0
        better_sep += d.val_acc_mean - ds > s.val_acc_mean + ss
        worse_sep += d.val_acc_mean + ds < s.val_acc_mean - ss
    return better_sep, better, worse_sep, n, gaps


def claims(res: Result) -> list[Claim]:
    """P2-F4a/b1/b2: each dynamical loss against its static one (thresholds: book/methods.md#p2-fig4-choices).
    Means are over the networks that did not diverge; a comparison needs both losses at one width at least
    with networks that did not diverge, else it is ``not measured`` (book/methods.md#p2-outcome)."""
    out = []
    for cid, dyn, static in (("P2-F4a", "DCE", "CE"), ("P2-F4b1", "DMSE1", "MSE"), ("P2-F4b2", "DMSE2", "MSE")):
        sep, better, worse, n, gaps = _compare(res, dyn, static)
        runs = {name: total([r.counts for r in res.rows if r.loss == name]) for name in (dyn, static)}
        present = all(sum(c[k] for k in ("trained", "not trained", "diverged")) for c in runs.values())
        text = (
            f"{dyn} − {static} validation accuracy (points of %): "
            + (", ".join(gaps) if gaps else "no width with both")
            + f"; higher with non-overlapping SEM bars at {sep} of {n} widths, lower with non-overlapping bars at "
            f"{worse}; runs: " + "; ".join(f"{name} {describe(c)}" for name, c in runs.items())
        )
        if not present:
            text += f" (needs both {dyn} and {static})"
        out.append(
            Claim(
                cid,
                f"Fig. 4: {dyn} reaches a higher validation accuracy than {static}, especially for small networks "
                "(error bars: SEM).",
                text,
                verdict(
                    sep >= max(1, n / 2) and worse == 0,
                    partly=better > n / 2 and worse == 0,
                    measurable=present and n > 0,
                ),
            )
        )
    return out


# -- the figure --------------------------------------------------------------------------------
_STYLE = {
    "CE": (PALETTE[0], "o"),
    "DCE": (PALETTE[1], "s"),
    "MSE": (PALETTE[0], "o"),
    "DMSE1": (PALETTE[2], "^"),
    "DMSE2": (PALETTE[1], "s"),
}


def _plot_panel(ax, res: Result, losses: tuple[str, ...], title: str) -> None:
    """Validation accuracy (mean ± SEM over the networks that did not diverge) against H for ``losses``; the
    diverged runs (book/methods.md#p2-outcome) are counted in the legend and marked × at the foot."""
    for j, name in enumerate(losses):
        rows = [r for r in res.rows if r.loss == name]
        if not rows:
            continue
        color, marker = _STYLE[name]
        x = np.array([r.H for r in rows], dtype=float) * (1 + 0.025 * (j - (len(losses) - 1) / 2))
        n_div = sum(r.n_diverged for r in rows)
        ax.errorbar(
            x,
            100 * np.array([r.val_acc_mean for r in rows]),
            yerr=100 * np.nan_to_num(np.array([r.val_acc_sem for r in rows])),
            fmt=marker + "-",
            color=color,
            ms=6,
            capsize=3,
            lw=1.3,
            label=name + (f" ({n_div} diverged)" if n_div else ""),
        )
        bad = [xi for xi, r in zip(x, rows) if r.n_diverged]
        if bad:
            ax.plot(bad, [0.04] * len(bad), "x", color=color, ms=7, mew=1.5, transform=ax.get_xaxis_transform())
    ax.axhline(100 / 3, color="0.5", ls=":", lw=1, label="chance")
    widths = np.array(sorted(res.widths), dtype=float)
    ax.set(xscale="log", xlabel="hidden width $H$")
    ax.set_xticks(widths, [f"{int(w)}" for w in widths])
    ax.minorticks_off()
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] == "chance")  # the losses first, chance last
    ax.legend(
        [handles[i] for i in order], [labels[i] for i in order], loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2
    )


def plot_dynamical_accuracy(res: Result) -> list[Shown]:
    """Paper 2, Fig. 4: (a) CE vs DCE, (b) MSE vs DMSE1 vs DMSE2, validation accuracy against hidden width
    (:func:`_plot_panel`); one figure, the two panels side by side."""
    fig, axes = new_figure(2, 1, width=4.2, height=3.9, sharey=True)
    ax_a, ax_b = axes[0]
    _plot_panel(ax_a, res, PANEL_A, f"CE and DCE, η = {res.eta_ce:g}")
    _plot_panel(ax_b, res, PANEL_B, f"MSE family, η = {res.eta_mse:g}")
    ax_a.set_ylabel("validation accuracy (%)")
    ax_b.tick_params(labelleft=True)
    letter_panels([ax_a, ax_b])
    last = "the last period static (A = 1), " if res.static_last_period else ""
    where = f"DMSE1 weighted by {res.weightings['DMSE1']}, DMSE2 by {res.weightings['DMSE2']}"
    return [
        Shown(
            fig,
            f"Paper 2, Figure 4 (a, b). Validation accuracy at the final step against the hidden width H: (a) CE and "
            f"DCE at η = {res.eta_ce:g} ({res.n_seeds_ce} networks per width), (b) MSE, DMSE1 and DMSE2 at "
            f"η = {res.eta_mse:g} ({res.n_seeds_mse} per width; {where}); A = {res.A:g}, T = {res.T}, {last}mean "
            "of the networks that did not diverge, error bars SEM; × at the foot marks a width where networks "
            "diverged.",
            "Two panels of validation accuracy in percent against the hidden width on a log axis, with a dotted "
            "line at chance. Left: the static and the dynamical cross-entropy. Right: the static mean squared error "
            "and its two dynamical versions. Each series has error bars of one standard error of the mean.",
        )
    ]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Validation accuracy against width: CE/DCE and MSE/DMSE1/DMSE2"
PAPER_FIGURE = "Fig. 4"
plot = plot_dynamical_accuracy
