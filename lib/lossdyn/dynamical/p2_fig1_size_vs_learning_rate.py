"""Paper 2, Figure 1: how network size and learning rate set the loss level and the curvature (CE only).

For every width H and learning rate η, ``n_seeds`` networks are trained with the static
cross-entropy by full-batch GD for ``time_budget``/η steps (the same "gradient-flow time" for
every η; the paper's widths, rates and durations are not stated: book/methods.md#p2-fig1-choices). The
trainer (:func:`lossdyn.dynamical.ensemble.train_chunk`) returns per network the loss on
log-spaced time bins, λ_max(t) on a log-spaced grid (warm-started Lanczos), the loss-increase
steps (ΔF > 0 on the fixed landscape) and the first instability of each run
(:mod:`lossdyn.dynamical.onset`, one "period" = the whole run); :func:`finish` counts the networks of each
(H, η) by status (trained, not trained, diverged: :mod:`lossdyn.dynamical.outcome`,
book/methods.md#p2-outcome) and averages the networks that did not diverge into a :class:`Run`; no claim
rests on a diverged network, and a claim whose grid or runs are missing is ``not measured``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from lossdyn.dynamical.ensemble import Member, TrainSpec, cpu_chunk
from lossdyn.dynamical.outcome import describe, outcome, total
from lossdyn.dynamical.spiral3 import spiral3
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES
from lossdyn.pipeline.figures import Cost, ensemble_cost
from lossdyn.pipeline.plotting import PALETTE, Shown, edge_of_stability, letter_panels, new_figure
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import EnsemblePlan

__all__ = [
    "Config",
    "Result",
    "Run",
    "claims",
    "estimate",
    "finish",
    "jobs",
    "key_numbers",
    "lambda_table",
    "plan",
    "plot_size_vs_learning_rate",
    "runs_table",
    "summary",
]


#: λ_max "at 2/η" means within 15 %; "below 2/η" means under 90 % of it (declared before running;
#: book/methods.md#p2-fig1-choices).
PLATEAU_TOLERANCE = 0.15
BELOW = 0.90


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``p2_fig1_size_vs_learning_rate`` (see the notebook for their defaults)."""

    presentation_fields = ("workers",)

    widths: tuple[int, ...]  # hidden widths
    etas: tuple[float, ...]  # learning rates
    n_seeds: int  # networks per (width, eta)
    time_budget: float  # each run has time_budget / eta steps
    n_lambda: int  # log-spaced lambda_max evaluations per run
    lanczos_m: int  # Lanczos order (warm start)
    dtype: str  # float32 or float64
    workers: int  # CPU worker processes (results do not depend on it)

    def validate(self) -> None:
        self._require(
            "widths",
            len(self.widths) >= 1
            and all(1 <= h <= 5000 for h in self.widths)
            and list(self.widths) == sorted(set(self.widths)),
            "increasing widths in 1..5000",
        )
        self._require(
            "etas",
            len(self.etas) >= 1 and all(0 < e <= 100 for e in self.etas) and len(set(self.etas)) == len(self.etas),
            "distinct learning rates in (0, 100]",
        )
        self._require("n_seeds", 1 <= self.n_seeds <= 10_000, "1 <= n_seeds <= 10000")
        ok = self.time_budget / max(self.etas) >= 100 and self.time_budget / min(self.etas) <= 1e8
        self._require("time_budget", ok, "time_budget/eta between 100 and 1e8 steps for every eta")
        self._require("n_lambda", 5 <= self.n_lambda <= 10_000, "5 <= n_lambda <= 10000")
        self._require("lanczos_m", 3 <= self.lanczos_m <= 200, "3 <= lanczos_m <= 200")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))
        self._require("workers", 1 <= self.workers <= 64, "1 <= workers <= 64")


def _lambda_grid(steps: int, n: int) -> tuple[int, ...]:
    return tuple(int(t) for t in np.unique(np.concatenate([[0], np.round(np.geomspace(1, steps, n)).astype(np.int64)])))


def jobs(cfg: Config) -> list[tuple[TrainSpec, list[Member]]]:
    """One ensemble per (H, η): ``n_seeds`` replicas with the static cross-entropy."""
    out = []
    for H in cfg.widths:
        for eta in cfg.etas:
            steps = int(round(cfg.time_budget / eta))
            spec = TrainSpec(
                H=H,
                steps=steps,
                dtype=cfg.dtype,
                seed=cfg.seed,
                lambda_steps=_lambda_grid(steps, cfg.n_lambda),
                lambda_m=cfg.lanczos_m,
                lambda_m_cold=2 * cfg.lanczos_m,
                onset=True,
                loss_bins=150,
            )
            out.append((spec, [Member(r, eta, 1.0, steps) for r in range(cfg.n_seeds)]))
    return out


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run (the figure contract's optional ``estimate``): the ensembles of
    :func:`jobs` trained as a serial run trains them (:func:`lossdyn.pipeline.figures.ensemble_cost`), chunks of
    :func:`~lossdyn.dynamical.ensemble.cpu_chunk` networks, with no per-chunk term: the paper-profile sweep
    (book/measured/sweeps.json, 2-core Intel Xeon) spent 5.5e-6, 2.2e-5 and 1.03e-4 s per network and step at
    H = 10, 100, 1000 (λ_max tracking included), 2,950 s in all, where the networks' terms alone give 3,200 s.
    """
    return ensemble_cost(jobs(cfg), chunk=cpu_chunk, workers=cfg.workers, per_chunk_step=0.0, overhead=6.0)


def plan(cfg: Config) -> EnsemblePlan:
    """Units: one network (H, η, replica) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    return EnsemblePlan(jobs(cfg))


@dataclasses.dataclass(frozen=True)
class Run:
    """One (H, η): means over its networks that did not diverge (NaN if all did; book/methods.md#p2-outcome).

    * ``H``, ``eta``, ``steps``: width, learning rate, GD steps (``time_budget``/η);
    * ``loss_bin_start``, ``loss_bin_end`` (bins,) int64: log-spaced bins of steps [start, end);
      ``loss_mean`` (bins,) float64: the mean loss F_CE(θ_t) over each bin and the networks;
    * ``lambda_t`` (L,) int64: the steps of the λ_max grid; ``lambda_max_mean``, ``lambda_max_sem``
      (L,) float64: λ_max mean and SEM over the networks (SEM NaN below 2 networks);
    * ``lambda_max_final`` (+ ``_sem``): λ_max at the last step; ``lambda_max_late`` (+ ``_sem``): each
      network's mean λ_max over the second half of training, then mean (SEM) over networks;
      ``lambda_max_peak``: each network's largest λ_max, averaged;
    * ``loss_late``: each network's mean binned loss over the second half, averaged; ``final_loss``:
      F at the last step; ``train_acc``: training accuracy at the end;
    * ``fraction_with_instability``: fraction of the networks that did not diverge with an instability onset
      (book/methods.md#p2-onset; NaN if all diverged); ``n_unstable_steps``: their mean number of steps with
      ΔF_t > tol; ``lambda_onset``: mean over those with an onset of λ_max at it (NaN if none);
    * ``n_trained``, ``n_not_trained``, ``n_diverged``: networks per status; ``counts``: the same with the
      reasons for diverging (:meth:`lossdyn.dynamical.outcome.Outcome.counts`).
    """

    H: int
    eta: float
    steps: int
    loss_bin_start: torch.Tensor
    loss_bin_end: torch.Tensor
    loss_mean: torch.Tensor
    lambda_t: torch.Tensor
    lambda_max_mean: torch.Tensor
    lambda_max_sem: torch.Tensor
    lambda_max_final: float
    lambda_max_final_sem: float
    lambda_max_late: float
    lambda_max_late_sem: float
    lambda_max_peak: float
    loss_late: float
    final_loss: float
    train_acc: float
    fraction_with_instability: float
    n_unstable_steps: float
    lambda_onset: float
    n_trained: int
    n_not_trained: int
    n_diverged: int
    counts: dict[str, int]

    @property
    def n_ok(self) -> int:
        """Networks that did not diverge (those the means are over)."""
        return self.n_trained + self.n_not_trained


@dataclasses.dataclass(frozen=True)
class Result:
    """Fig. 1's result: ``widths``, ``etas``, ``n_seeds``, ``time_budget``, ``dtype`` (from the config);
    ``runs``: one :class:`Run` per (H, η), H outermost; ``X`` (300, 2) float64 and ``y`` (300,) int64:
    the training set (the inset of panel (a))."""

    widths: tuple[int, ...]
    etas: tuple[float, ...]
    n_seeds: int
    time_budget: float
    dtype: str
    runs: tuple[Run, ...]
    X: torch.Tensor
    y: torch.Tensor


def _sem(v: torch.Tensor, ok: torch.Tensor, n: int) -> float:
    """SEM over the networks ``ok`` of the per-network values ``v`` (NaN below 2 networks)."""
    return float(v[ok].std(unbiased=True) / math.sqrt(n)) if n > 1 else math.nan


def summarise(H: int, eta: float, steps: int, r: dict[str, Any]) -> Run:
    """The :class:`Run` of one (H, η) from its ensemble result ``r``: means over the networks that did not
    diverge (book/methods.md#p2-outcome)."""
    lam, lt = r["lambda_max"], r["lambda_t"]
    late = lt >= steps // 2
    lam_late = torch.nanmean(lam[:, late], 1)
    status = outcome(r)
    counts = status.counts()
    ok = ~status.diverged
    n = int(ok.sum())
    half = r["loss_bin_start"] >= steps // 2
    loss_late = torch.nanmean(r["loss_bin_mean"][:, half], 1)
    first = (r["onset_t"][:, 0] >= 0) & ok
    return Run(
        H=H,
        eta=eta,
        steps=steps,
        loss_bin_start=r["loss_bin_start"],
        loss_bin_end=r["loss_bin_end"],
        loss_mean=torch.nanmean(r["loss_bin_mean"][ok], 0) if n else r["loss_bin_mean"][0] * math.nan,
        lambda_t=lt,
        lambda_max_mean=torch.nanmean(lam[ok], 0) if n else lam[0] * math.nan,
        lambda_max_sem=lam[ok].std(0, unbiased=True) / math.sqrt(n) if n > 1 else lam[0] * math.nan,
        lambda_max_final=float(lam[ok, -1].mean()) if n else math.nan,
        lambda_max_final_sem=_sem(lam[:, -1], ok, n),
        lambda_max_late=float(lam_late[ok].mean()) if n else math.nan,
        lambda_max_late_sem=_sem(lam_late, ok, n),
        lambda_max_peak=float(lam[ok].max(1).values.mean()) if n else math.nan,
        loss_late=float(loss_late[ok].mean()) if n else math.nan,
        final_loss=float(r["final_loss"][ok].mean()) if n else math.nan,
        train_acc=float(r["train_acc"][ok].mean()) if n else math.nan,
        fraction_with_instability=float(first.to(torch.float64).sum() / n) if n else math.nan,
        n_unstable_steps=float(r["n_unstable"][ok].to(torch.float64).mean()) if n else math.nan,
        lambda_onset=float(torch.nanmean(r["lambda_onset"][first, 0])) if bool(first.any()) else math.nan,
        n_trained=counts["trained"],
        n_not_trained=counts["not trained"],
        n_diverged=counts["diverged"],
        counts=counts,
    )


def finish(cfg: Config, results: list[dict[str, Any]]) -> Result:
    """The page's result from one ensemble result per (H, η), in :func:`jobs` order."""
    keys = [(H, eta, int(round(cfg.time_budget / eta))) for H in cfg.widths for eta in cfg.etas]
    X, y = spiral3(0)
    return Result(
        widths=tuple(cfg.widths),
        etas=tuple(cfg.etas),
        n_seeds=cfg.n_seeds,
        time_budget=cfg.time_budget,
        dtype=cfg.dtype,
        runs=tuple(summarise(H, eta, steps, r) for (H, eta, steps), r in zip(keys, results)),
        X=X,
        y=y,
    )


def _run(res: Result, H: int, eta: float) -> Run:
    return next(r for r in res.runs if r.H == H and r.eta == eta)


def _key(r: Run) -> str:
    return f"H={r.H},eta={r.eta:g}"


def key_numbers(res: Result) -> dict[str, Any]:
    """The sidecar's numbers, per run ``H=…,eta=…``, named like the :class:`Run` fields; ``n_train_points``, the
    size of the training set; ``paper``: what Fig. 1's caption states."""
    return {
        "lambda_max_final": {_key(r): r.lambda_max_final for r in res.runs},
        "lambda_max_final_sem": {_key(r): r.lambda_max_final_sem for r in res.runs},
        "lambda_max_late": {_key(r): r.lambda_max_late for r in res.runs},
        "loss_late": {_key(r): r.loss_late for r in res.runs},
        "final_loss": {_key(r): r.final_loss for r in res.runs},
        "train_acc": {_key(r): r.train_acc for r in res.runs},
        "fraction_with_instability": {_key(r): r.fraction_with_instability for r in res.runs},
        "n_trained": {_key(r): r.n_trained for r in res.runs},
        "n_not_trained": {_key(r): r.n_not_trained for r in res.runs},
        "n_diverged": {_key(r): r.n_diverged for r in res.runs},
        "dtype": res.dtype,
        "n_train_points": int(res.y.numel()),
        # Fig. 1's caption (arXiv:2410.10690): three network sizes, two learning rates, 20 simulations averaged;
        # the sizes, rates and run lengths are not stated.
        "paper": {"n_sizes": 3, "n_learning_rates": 2, "n_simulations": 20},
    }


def lambda_table(res: Result) -> Table:
    """Loss and λ_max per (H, η): means over the networks that did not diverge (book/methods.md#p2-outcome);
    "2nd half" = each network's mean over steps ≥ steps/2, then the mean over networks."""
    rows = [
        [
            r.H,
            r.eta,
            r.steps,
            r.loss_late,
            r.final_loss,
            r.lambda_max_final,
            r.lambda_max_final_sem,
            r.lambda_max_late,
            r.lambda_max_peak,
        ]
        for r in res.runs
    ]
    columns = ["H", "η", "steps", "loss, 2nd half", "final loss", "final λmax", "± SEM", "λmax, 2nd half", "peak λmax"]
    return Table(
        columns,
        rows,
        caption=f"Loss and λmax per width H and learning rate η (mean of the networks that did not diverge, "
        f"of {res.n_seeds} per setting).",
        formats={"η": "g", "loss, 2nd half": ".4f", "final loss": ".4f", "± SEM": ".3f"},
    )


def runs_table(res: Result) -> Table:
    """The edge-of-stability ratio λ_max·η/2 (2nd half and final), the fraction of runs with an instability,
    the training accuracy and the networks per status (trained / not trained / diverged) per (H, η)."""
    rows = [
        [
            r.H,
            r.eta,
            r.lambda_max_late * r.eta / 2,
            r.lambda_max_final * r.eta / 2,
            r.fraction_with_instability,
            r.train_acc,
            r.n_trained,
            r.n_not_trained,
            r.n_diverged,
        ]
        for r in res.runs
    ]
    columns = [
        "H",
        "η",
        "λmax·η/2, 2nd half",
        "final λmax·η/2",
        "runs with an instability",
        "train acc.",
        "trained",
        "not trained",
        "diverged",
    ]
    return Table(
        columns,
        rows,
        caption="λmax·η/2 (1 = edge of stability), instabilities, training accuracy and status of the networks; "
        "all runs: " + describe(total([r.counts for r in res.runs])) + ".",
        formats={"η": "g", "runs with an instability": ".2f", "train acc.": ".3f"},
    )


def _ordered_text(values: list[float]) -> str:
    """How a sequence over increasing widths runs: "decreasing", "increasing" or "not monotone in H"."""
    pairs = list(zip(values, values[1:]))
    if pairs and all(a > b for a, b in pairs):
        return "decreasing with H"
    if pairs and all(a < b for a, b in pairs):
        return "increasing with H"
    return "not monotone in H" if pairs else "one width only"


def summary(res: Result) -> str:
    """Generated prose, plain text (the book renders a Markdown output without math): per η, the loss over the
    second half and λ_max·η/2 per width (fixed precision), and whether each runs monotonically with H; only
    networks that did not diverge (book/methods.md#p2-outcome)."""
    parts = []
    for eta in sorted(res.etas):
        rs = [r for r in (_run(res, H, eta) for H in res.widths) if r.n_ok]
        if not rs:
            parts.append(f"* η = {eta:g}: every network diverged.")
            continue
        where = "H = " + ", ".join(str(r.H) for r in rs)
        losses = [r.loss_late for r in rs]
        ratios = [r.lambda_max_late * eta / 2 for r in rs]
        parts.append(
            f"* η = {eta:g} ({where}): loss over the second half "
            + ", ".join(f"{v:.4f}" for v in losses)
            + f" ({_ordered_text(losses)}); λmax·η/2 over the second half "
            + ", ".join(f"{v:.2f}" for v in ratios)
            + f" ({_ordered_text(ratios)}); largest distance from the edge of stability "
            + f"{max(abs(v - 1) for v in ratios):.2f}."
        )
    head = (
        f"Measured in this build (means of the networks that did not diverge, of {res.n_seeds} per setting; "
        "1 is the edge of stability λmax = 2/η):"
    )
    return head + "\n\n" + "\n".join(parts)


def _late_ratio(res: Result, H: int, eta: float) -> str:
    r = _run(res, H, eta)
    return f"{r.lambda_max_late * eta / 2:.2f}" if r.n_ok else "— (all diverged)"


def _runs_text(res: Result, cells: list[tuple[int, float]]) -> str:
    """The status counts over ``cells`` and the cells with diverged networks, for a claim's ``measured``."""
    runs = [_run(res, H, eta) for H, eta in cells]
    bad = [f"H = {r.H}, η = {r.eta:g}: {r.n_diverged} of {r.n_ok + r.n_diverged}" for r in runs if r.n_diverged]
    return "; runs: " + describe(total([r.counts for r in runs])) + (f" [diverged: {', '.join(bad)}]" if bad else "")


def _claim_loss_order(res: Result) -> Claim:
    """P2-F1a: the loss over the second half strictly decreasing with H at every η; needs ≥ 2 widths."""
    W, E = res.widths, sorted(res.etas)
    kept = {eta: [H for H in W if _run(res, H, eta).n_ok] for eta in E}
    ordered = {
        eta: all(_run(res, a, eta).loss_late > _run(res, b, eta).loss_late for a, b in zip(ws, ws[1:]))
        for eta, ws in kept.items()
        if len(ws) >= 2
    }
    complete = all(len(ws) == len(W) for ws in kept.values())
    text = "; ".join(
        f"η = {eta:g}: "
        + " > ".join(f"{_run(res, H, eta).loss_late:.4f}" if H in kept[eta] else "— (all diverged)" for H in W)
        + f" (H = {', '.join(map(str, W))})"
        for eta in E
    )
    if len(W) < 2:
        text += "; needs at least 2 widths"
    return Claim(
        "P2-F1a",
        "Fig. 1(a): the loss level during training is set by the network size (larger → lower).",
        text + _runs_text(res, [(H, eta) for H in W for eta in E]),
        verdict(
            complete and all(ordered.values()),
            partly=any(ordered.values()),
            measurable=len(W) >= 2 and bool(ordered),
        ),
    )


def _claim_spikes(res: Result) -> Claim:
    """P2-F1b: an instability in at least half of the runs that did not diverge, for at least one (H, η)."""
    frac = {(r.H, r.eta): r.fraction_with_instability for r in res.runs if r.n_ok}
    text = "fraction of the runs that did not diverge with an instability (ΔF > 0 opening a 2-cycle): " + ", ".join(
        f"H = {H}, η = {eta:g}: {f:.2f}" for (H, eta), f in frac.items()
    )
    return Claim(
        "P2-F1b",
        "Fig. 1(a): loss spikes appear during training (edge-of-stability minimisation).",
        text + _runs_text(res, [(r.H, r.eta) for r in res.runs]),
        verdict(
            any(f >= 0.5 for f in frac.values()),
            partly=any(f > 0 for f in frac.values()),
            measurable=bool(frac),
        ),
    )


def _claim_narrower(res: Result) -> Claim:
    """P2-F1c: larger λ_max at the smallest η than at the largest for every width, and λ_max at 2/η
    (:data:`PLATEAU_TOLERANCE`) for every width but the largest; needs ≥ 2 learning rates."""
    W, E = res.widths, sorted(res.etas)
    eta_lo, eta_hi = E[0], E[-1]
    both = [H for H in W if _run(res, H, eta_lo).n_ok and _run(res, H, eta_hi).n_ok]
    larger = [H for H in both if _run(res, H, eta_lo).lambda_max_late > _run(res, H, eta_hi).lambda_max_late]
    small_medium = W[:-1] if len(W) > 1 else W
    plateau = {
        (H, eta): _run(res, H, eta).n_ok > 0
        and abs(_run(res, H, eta).lambda_max_late * eta / 2 - 1) <= PLATEAU_TOLERANCE
        for H in small_medium
        for eta in E
    }
    text = (
        "λ_max·η/2 over the second half of training: "
        + ", ".join(f"H = {H}, η = {eta:g}: {_late_ratio(res, H, eta)}" for H in W for eta in E)
        + f"; larger λ_max at η = {eta_lo:g} than at η = {eta_hi:g} at {len(larger)} of {len(both)} widths"
        + (" (needs at least 2 learning rates)" if len(E) < 2 else "")
    )
    all_larger = len(larger) == len(both) == len(W)
    return Claim(
        "P2-F1c",
        "Fig. 1(b): smaller learning rates explore narrower regions (larger λ_max), with λ_max "
        "plateauing near 2/η for small and medium networks.",
        text + _runs_text(res, [(H, eta) for H in W for eta in E]),
        verdict(
            all_larger and all(plateau.values()),
            partly=all_larger or sum(plateau.values()) >= len(plateau) / 2,
            measurable=len(E) >= 2 and bool(both),
        ),
    )


def _claim_wide_valleys(res: Result) -> Claim:
    """P2-F1d: the largest width ends with λ_max·η/2 < :data:`BELOW` at every η; needs ≥ 2 widths and ≥ 2 η."""
    W, E = res.widths, sorted(res.etas)
    big = W[-1]
    kept = [eta for eta in E if _run(res, big, eta).n_ok]
    below = {eta: _run(res, big, eta).lambda_max_final * eta / 2 < BELOW for eta in kept}
    text = f"H = {big}: final λ_max·η/2 = " + ", ".join(
        f"{_run(res, big, eta).lambda_max_final * eta / 2:.3f} (η = {eta:g})" if eta in kept else f"— (η = {eta:g})"
        for eta in E
    )
    if len(W) < 2 or len(E) < 2:
        text += "; needs at least 2 widths and 2 learning rates"
    return Claim(
        "P2-F1d",
        "Fig. 1(b): large networks reach wide valleys for both learning rates (λ_max < 2/η at the end).",
        text + _runs_text(res, [(big, eta) for eta in E]),
        verdict(
            len(kept) == len(E) and all(below.values()),
            partly=any(below.values()),
            measurable=len(W) >= 2 and len(E) >= 2 and bool(kept),
        ),
    )


def claims(res: Result) -> list[Claim]:
    """P2-F1a–d (Fig. 1's caption); thresholds :data:`PLATEAU_TOLERANCE` and :data:`BELOW`. Means are over the
    networks that did not diverge; a claim without its grid, or whose runs all diverged, is ``not measured``
    (book/methods.md#p2-outcome)."""
    return [_claim_loss_order(res), _claim_spikes(res), _claim_narrower(res), _claim_wide_valleys(res)]


# -- the figure --------------------------------------------------------------------------------
_LINES = ("-", "--", ":", "-.")


def _plain_log_ticks(axis) -> None:
    """Label a log axis at 1, 2 and 5 times the powers of ten in plain numbers, minor ticks unlabelled (a
    loss that spans less than a decade would otherwise get a crowded label at every minor tick)."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _plot_curves(res: Result) -> Shown:
    """Paper 2, Fig. 1 (a, b): mean loss and mean λ_max against t for every (H, η), with 2/η in (b); a
    (H, η) with diverged networks says how many in its legend entry (book/methods.md#p2-outcome)."""
    fig, axes = new_figure(2, 1, width=4.2, height=3.5)
    ax_l, ax_k = axes[0]
    etas = sorted(res.etas)
    for r in res.runs:
        color = PALETTE[res.widths.index(r.H) % len(PALETTE)]
        ls = _LINES[etas.index(r.eta) % len(_LINES)]
        t = 0.5 * (r.loss_bin_start.numpy() + r.loss_bin_end.numpy() - 1) + 1
        div = f" ({r.n_diverged} of {r.n_ok + r.n_diverged} diverged)" if r.n_diverged else ""
        ax_l.plot(t, r.loss_mean.numpy(), ls, color=color, lw=1.4, label=f"H = {r.H}, η = {r.eta:g}{div}")
        ax_k.plot(r.lambda_t.numpy() + 1, r.lambda_max_mean.numpy(), ls, color=color, lw=1.4, marker=".", ms=3)
    for eta, ls in zip(etas, _LINES):
        edge_of_stability(ax_k, eta, color="0.25", ls=ls, lw=0.9)
        ax_k.text(  # at the left, where λ_max is still far below every edge of stability
            0.02,
            2 / eta * 1.06,
            rf"$2/\eta$ = {2 / eta:g}",
            fontsize=9,
            color="0.25",
            ha="left",
            va="bottom",
            transform=ax_k.get_yaxis_transform(),
        )
    ax_l.set(xscale="log", yscale="log", xlabel="GD step $t$ + 1", ylabel=r"mean $\mathcal{F}_{\mathrm{CE}}$")
    ax_k.set(xscale="log", yscale="log", xlabel="GD step $t$ + 1", ylabel=r"mean $\lambda_{\max}$")
    _plain_log_ticks(ax_l.yaxis)
    _plain_log_ticks(ax_k.yaxis)
    ax_l.set_title("loss")
    ax_k.set_title(r"$\lambda_{\max}$ and $2/\eta$")
    letter_panels([ax_l, ax_k])
    fig.legend(*ax_l.get_legend_handles_labels(), loc="outside lower center", ncol=min(3, len(res.runs)))
    return Shown(
        fig,
        f"Paper 2, Figure 1 (a, b). Mean cross-entropy (a) and mean λmax (b) against the GD step, one line per width "
        f"H (colour) and learning rate η (line style), each the mean of the networks that did not diverge out of "
        f"{res.n_seeds}; the grey lines in (b) are the edges of stability 2/η.",
        "Two log-log panels against the gradient-descent step. Left: the mean training loss for each width and "
        "learning rate. Right: the mean top Hessian eigenvalue for the same runs, with a horizontal grey line at "
        "2/η for each learning rate, drawn in that learning rate's line style.",
    )


def _plot_ratio(ax, res: Result) -> None:
    """λ_max·η/2 over the second half of training against H, one series per η (SEM bars); × at the foot for a
    width with diverged networks (book/methods.md#p2-outcome)."""
    etas = sorted(res.etas)
    widths = np.array(res.widths, dtype=float)
    for eta, ls in zip(etas, _LINES):
        rs = [_run(res, H, eta) for H in res.widths]
        ax.errorbar(
            widths,
            [r.lambda_max_late * eta / 2 for r in rs],
            yerr=np.nan_to_num([r.lambda_max_late_sem * eta / 2 for r in rs]),
            fmt="o" + ls,
            color="0.2",
            mfc=PALETTE[etas.index(eta)],
            ms=6,
            capsize=3,
            label=f"η = {eta:g}",
        )
        bad = [r.H for r in rs if r.n_diverged]
        if bad:
            ax.plot(
                bad,
                [0.04] * len(bad),
                "x",
                color=PALETTE[etas.index(eta)],
                ms=7,
                mew=1.5,
                transform=ax.get_xaxis_transform(),
                label=f"η = {eta:g}: runs diverged",
            )
    ax.axhline(1.0, color="0.3", ls="--", lw=1, label="edge of stability")
    ax.set(xscale="log", xlabel="hidden width $H$", ylabel=r"$\lambda_{\max}\,\eta/2$, 2nd half of training")
    ax.set_xticks(widths, [f"{int(w)}" for w in widths])
    ax.minorticks_off()
    ax.set_title(r"$\lambda_{\max}\eta/2$ against width")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] == "edge of stability")  # the series first
    ax.legend(
        [handles[i] for i in order], [labels[i] for i in order], loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2
    )


def _plot_data_and_ratio(res: Result) -> Shown:
    """Companion panels: (c) the training set (the inset of the paper's panel (a)), (d) :func:`_plot_ratio`."""
    fig, axes = new_figure(2, 1, width=4.0, height=3.8, gridspec_kw={"width_ratios": [1.0, 1.3]})
    ax_d, ax_r = axes[0]
    X, y = res.X.numpy(), res.y.numpy()
    for c in range(int(y.max()) + 1):
        ax_d.scatter(X[y == c, 0], X[y == c, 1], s=6, color=PALETTE[c], label=f"class {c}")
    ax_d.set(aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    ax_d.set_title("training set")
    ax_d.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, handletextpad=0.2, columnspacing=0.8)
    _plot_ratio(ax_r, res)
    letter_panels([ax_d, ax_r], start=2)
    return Shown(
        fig,
        "Companion figure to Paper 2, Figure 1 (c, d). (c) The training set, drawn as the inset of the paper's panel "
        "(a). (d) λmax·η/2 over the second half of training against the width, one series per learning rate "
        "(mean of the networks that did not diverge, error bars SEM); 1 is the edge of stability, and × at the foot "
        "marks a width where networks diverged. The paper's own panel (c) is a cartoon and is not redrawn.",
        f"Left: a scatter plot of the {len(y)} training points, three spiral arms coloured by class. Right: the "
        "ratio of the top Hessian eigenvalue to the edge of stability 2/η against the hidden width on a log axis, "
        "one marker series per learning rate, with a dashed line at 1.",
        "ratio",
    )


def plot_size_vs_learning_rate(res: Result) -> list[Shown]:
    """The page's figures: Paper 2 Fig. 1 (a, b) (:func:`_plot_curves`) and the companion panels (c, d)
    (:func:`_plot_data_and_ratio`). Means are over the networks that did not diverge (book/methods.md#p2-outcome)."""
    return [_plot_curves(res), _plot_data_and_ratio(res)]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Loss and λmax against time for three widths and two learning rates"
PAPER_FIGURE = "Fig. 1"
plot = plot_size_vs_learning_rate
