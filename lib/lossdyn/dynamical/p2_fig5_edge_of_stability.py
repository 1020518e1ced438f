"""Paper 2, Figure 5: λ_max at the onset of the instabilities against η, with the 2/η line.

For every condition (A, T) and learning rate η, ``n_seeds`` networks (H = 100) are trained with
the dynamical cross-entropy for T_total = ``time_budget``/η steps (Fig. 5 caption). Where the
number comes from:

1. the trainer (:func:`lossdyn.dynamical.ensemble.train_chunk`, one ensemble per η, :func:`jobs`)
   finds in every period the first instability onset t* by the companion's onset rule and
   evaluates λ_max exactly at θ_{t*} by Lanczos (:class:`lossdyn.dynamical.onset.OnsetCurvature`;
   book/methods.md#p2-onset): its result key ``lambda_onset`` (networks × periods);
2. :func:`summarise` averages each network's ``lambda_onset`` over its periods with an onset, then
   takes mean ± SEM over the condition's networks: :attr:`Condition.lambda_onset`, and
   :attr:`Condition.ratio_to_two_over_eta` = λ_onset·η/2;
3. :func:`key_numbers` writes both, under the same names, into the figure's sidecar.

Two variants are reported as well: the first onset of each run only, and λ_max where the period-2
alternation starts (book/methods.md#p2-fig5-choices). Edge-of-stability minimisation predicts
λ_onset = 2/η, i.e. λ_onset·η/2 = 1 (the dashed line of Fig. 5).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from lossdyn.dynamical.ensemble import CPU_CHUNK, Member, TrainSpec
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES
from lossdyn.pipeline.figures import Cost, ensemble_cost
from lossdyn.pipeline.plotting import PALETTE, edge_of_stability, new_figure
from lossdyn.pipeline.units import EnsemblePlan

__all__ = [
    "Condition",
    "Config",
    "Networks",
    "Result",
    "claims",
    "condition_table",
    "estimate",
    "finish",
    "jobs",
    "key_numbers",
    "plan",
    "plot_edge_of_stability",
    "summarise",
    "summary_line",
]


#: "λ_onset·η/2 sits at 1" means within 10 % (declared before running; book/methods.md#p2-fig5-choices).
AT_ONE = 0.10


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``p2_fig5_edge_of_stability`` (see the notebook for their defaults)."""

    presentation_fields = ("workers",)

    H: int  # hidden width
    etas: tuple[float, ...]  # learning rates (x axis)
    amplitudes: tuple[float, ...]  # A values
    periods: tuple[int, ...]  # T values (steps)
    time_budget: float  # every run has time_budget / eta steps
    n_seeds: int  # networks per condition
    lanczos_m: int  # Lanczos order for λ_max at an onset (cold start)
    dtype: str  # float32 or float64
    workers: int  # CPU worker processes (results do not depend on it)

    def validate(self) -> None:
        self._require("H", 1 <= self.H <= 2000, "1 <= H <= 2000")
        self._require(
            "etas", len(self.etas) >= 1 and all(0 < e <= 100 for e in self.etas), "learning rates in (0, 100]"
        )
        self._require(
            "amplitudes",
            len(self.amplitudes) >= 1 and all(a > 1 for a in self.amplitudes),
            "amplitudes A > 1 (A = 1 is static: no onsets to time)",
        )
        self._require("periods", len(self.periods) >= 1 and all(t >= 10 for t in self.periods), "periods T >= 10")
        ok = self.time_budget / max(self.etas) >= min(self.periods) and self.time_budget / min(self.etas) <= 1e8
        self._require(
            "time_budget", ok, "time_budget/eta >= min(periods) for the largest eta and <= 1e8 for the smallest"
        )
        self._require("n_seeds", 1 <= self.n_seeds <= 10_000, "1 <= n_seeds <= 10000")
        self._require("lanczos_m", 5 <= self.lanczos_m <= 200, "5 <= lanczos_m <= 200")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))
        self._require("workers", 1 <= self.workers <= 64, "1 <= workers <= 64")


@dataclasses.dataclass(frozen=True)
class Condition:
    """Statistics of one condition (η, A, T) over its networks (book/methods.md#p2-fig5-choices).

    * ``eta``, ``A``, ``T``: the condition;
    * ``n_networks``: networks trained; ``n_with_onset``: networks with at least one onset;
      ``n_onsets``: onsets over all networks and periods; ``n_diverged``: networks whose loss overflowed;
    * ``lambda_onset``, ``lambda_onset_sem``: mean ± SEM over networks of each network's λ_max at the
      onset, averaged over its periods (NaN if no network had an onset; SEM NaN below 2 networks);
    * ``ratio_to_two_over_eta``, ``ratio_to_two_over_eta_sem``: λ_onset·η/2 and its SEM (1 = edge of stability);
    * ``ratio_first_onset_only`` (+ ``_sem``): the same ratio from each network's first onset only;
    * ``ratio_at_alternation_start`` (+ ``_sem``): the ratio of λ_max at the alternation start t_alt;
    * ``lambda_onset_per_network``: each network's mean λ_onset (networks with an onset, in replica order).
    """

    eta: float
    A: float
    T: int
    n_networks: int
    n_with_onset: int
    n_onsets: int
    n_diverged: int
    lambda_onset: float
    lambda_onset_sem: float
    ratio_to_two_over_eta: float
    ratio_to_two_over_eta_sem: float
    ratio_first_onset_only: float
    ratio_first_onset_only_sem: float
    ratio_at_alternation_start: float
    ratio_at_alternation_start_sem: float
    lambda_onset_per_network: tuple[float, ...]


#: The trainer's per-network records kept in :class:`Networks` (see :func:`lossdyn.dynamical.ensemble.train_chunk`).
NETWORK_KEYS = (
    "eta",
    "A",
    "T",
    "replica",
    "onset_t",
    "lambda_onset",
    "alternation_t",
    "lambda_alternation",
    "diverged",
    "train_acc",
)


@dataclasses.dataclass(frozen=True)
class Networks:
    """The networks of one η (S of them, in :func:`jobs` order), as the trainer returned them.

    ``eta``, ``A`` (S,) float64; ``T``, ``replica`` (S,) int64; ``onset_t``, ``alternation_t``
    (S, n_periods) int64 (−1: no onset in that period); ``lambda_onset``, ``lambda_alternation``
    (S, n_periods) float64 λ_max at t* and at t_alt (NaN: none); ``diverged`` (S,) bool;
    ``train_acc`` (S,) float64 at the end.
    """

    eta: torch.Tensor
    A: torch.Tensor
    T: torch.Tensor
    replica: torch.Tensor
    onset_t: torch.Tensor
    lambda_onset: torch.Tensor
    alternation_t: torch.Tensor
    lambda_alternation: torch.Tensor
    diverged: torch.Tensor
    train_acc: torch.Tensor


@dataclasses.dataclass(frozen=True)
class Result:
    """Fig. 5's result.

    * ``H``, ``etas``, ``amplitudes``, ``periods``, ``time_budget``, ``n_seeds``, ``dtype``: from the config;
    * ``conditions``: one :class:`Condition` per (η, A, T), η outermost, then A, then T;
    * ``networks``: one :class:`Networks` per η (in ``etas`` order).
    """

    H: int
    etas: tuple[float, ...]
    amplitudes: tuple[float, ...]
    periods: tuple[int, ...]
    time_budget: float
    n_seeds: int
    dtype: str
    conditions: tuple[Condition, ...]
    networks: tuple[Networks, ...]


def _mean_sem(values: list[float]) -> tuple[float, float, int]:
    """Mean, SEM (std/√n, NaN for n < 2) and n of the finite values."""
    v = torch.tensor(values, dtype=torch.float64)
    v = v[torch.isfinite(v)]
    n = int(v.numel())
    if n == 0:
        return math.nan, math.nan, 0
    sem = float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else math.nan
    return float(v.mean()), sem, n


def summarise(r: dict[str, Any], eta: float, A: float, T: int) -> Condition:
    """Statistics of the condition (η, A, T) from the ensemble result ``r`` of its η."""
    sel = (r["A"] == A) & (r["T"] == T)
    on_t, on_l, alt_l = r["onset_t"][sel], r["lambda_onset"][sel], r["lambda_alternation"][sel]
    per_network, first, alt = [], [], []
    for i in range(on_t.shape[0]):
        ok = on_t[i] >= 0
        if bool(ok.any()):
            per_network.append(float(on_l[i][ok].mean()))
            first.append(float(on_l[i][ok][0]))
            alt.append(float(alt_l[i][ok].mean()))
    two = 2.0 / eta
    m, sem, n = _mean_sem(per_network)
    f_m, f_sem, _ = _mean_sem(first)
    a_m, a_sem, _ = _mean_sem(alt)
    return Condition(
        eta=eta,
        A=A,
        T=T,
        n_networks=int(sel.sum()),
        n_with_onset=n,
        n_onsets=int((on_t >= 0).sum()),
        n_diverged=int(r["diverged"][sel].sum()),
        lambda_onset=m,
        lambda_onset_sem=sem,
        ratio_to_two_over_eta=m / two,
        ratio_to_two_over_eta_sem=sem / two,
        ratio_first_onset_only=f_m / two,
        ratio_first_onset_only_sem=f_sem / two,
        ratio_at_alternation_start=a_m / two,
        ratio_at_alternation_start_sem=a_sem / two,
        lambda_onset_per_network=tuple(per_network),
    )


def jobs(cfg: Config) -> list[tuple[TrainSpec, list[Member]]]:
    """One ensemble per η (its own number of steps): every (A, T) condition × ``n_seeds`` replicas."""
    out = []
    for eta in cfg.etas:
        steps = int(round(cfg.time_budget / eta))
        spec = TrainSpec(
            H=cfg.H, steps=steps, dtype=cfg.dtype, seed=cfg.seed, onset=True, lambda_m_cold=cfg.lanczos_m, loss_bins=60
        )
        out.append(
            (spec, [Member(r, eta, A, T) for A in cfg.amplitudes for T in cfg.periods for r in range(cfg.n_seeds)])
        )
    return out


def finish(cfg: Config, results: list[dict[str, Any]]) -> Result:
    """The page's result from one ensemble result per η (in ``cfg.etas`` order)."""
    conditions = [
        summarise(r, eta, A, T) for eta, r in zip(cfg.etas, results) for A in cfg.amplitudes for T in cfg.periods
    ]
    return Result(
        H=cfg.H,
        etas=tuple(cfg.etas),
        amplitudes=tuple(cfg.amplitudes),
        periods=tuple(cfg.periods),
        time_budget=cfg.time_budget,
        n_seeds=cfg.n_seeds,
        dtype=cfg.dtype,
        conditions=tuple(conditions),
        networks=tuple(Networks(**{k: r[k] for k in NETWORK_KEYS}) for r in results),
    )


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run (the figure contract's optional ``estimate``): the ensembles of
    :func:`jobs` trained as a serial run trains them (:func:`lossdyn.pipeline.figures.ensemble_cost`); a chunk
    costs 7.0e-5 s per step besides its networks (onset detection), fitted from H = 10 and H = 300 runs
    (three η, 2 networks each, 21 000 steps in all: 1.7 s and 8.6 s on the project's 2-core CPU).
    """
    return ensemble_cost(jobs(cfg), chunk=CPU_CHUNK, workers=cfg.workers, per_chunk_step=7.0e-5, overhead=6.0)


def plan(cfg: Config) -> EnsemblePlan:
    """Units: one network (η, A, T, replica) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    return EnsemblePlan(jobs(cfg))


def _key(c: Condition) -> str:
    return f"A={c.A:g},T={c.T},eta={c.eta:g}"


def key_numbers(res: Result) -> dict[str, Any]:
    """The sidecar's numbers, per condition ``A=…,T=…,eta=…``, named like the :class:`Condition` fields."""
    cs = res.conditions
    return {
        "lambda_onset": {_key(c): c.lambda_onset for c in cs},
        "lambda_onset_sem": {_key(c): c.lambda_onset_sem for c in cs},
        "ratio_to_two_over_eta": {_key(c): c.ratio_to_two_over_eta for c in cs},
        "ratio_to_two_over_eta_sem": {_key(c): c.ratio_to_two_over_eta_sem for c in cs},
        "ratio_first_onset_only": {_key(c): c.ratio_first_onset_only for c in cs},
        "ratio_at_alternation_start": {_key(c): c.ratio_at_alternation_start for c in cs},
        "n_with_onset": {_key(c): c.n_with_onset for c in cs},
        "n_seeds": res.n_seeds,
        "dtype": res.dtype,
    }


def _fmt(x: float, spec: str) -> str:
    return format(x, spec) if math.isfinite(x) else "nan".rjust(len(format(1.0, spec)))


def condition_table(res: Result) -> str:
    """One row per (η, A, T) at fixed precision (printed by the notebook)."""
    lines = [
        "   eta      A      T  sims w/ onset  onsets  lambda_onset (mean ± SEM)   ratio lambda*eta/2    first-only  "
        "alternation  diverged"
    ]
    for c in res.conditions:
        lines.append(
            f"{c.eta:>6.3f} {c.A:>6.1f} {c.T:>6d}  {c.n_with_onset:>4d}/{c.n_networks:<4d}  {c.n_onsets:>6d}  "
            f"{_fmt(c.lambda_onset, '9.4f')} ± {_fmt(c.lambda_onset_sem, '7.4f')}     "
            f"{_fmt(c.ratio_to_two_over_eta, '6.3f')} ± {_fmt(c.ratio_to_two_over_eta_sem, '5.3f')}      "
            f"{_fmt(c.ratio_first_onset_only, '6.3f')}       "
            f"{_fmt(c.ratio_at_alternation_start, '6.3f')}  {c.n_diverged:>8d}"
        )
    return "\n".join(lines)


def _with_onset(res: Result) -> list[Condition]:
    return [c for c in res.conditions if c.n_with_onset > 0]


def summary_line(res: Result) -> str:
    """One plain sentence: does λ_onset·η/2 sit at 1?"""
    cs = _with_onset(res)
    if not cs:
        return "No instability onset was found in any condition."
    r = torch.tensor([c.ratio_to_two_over_eta for c in cs], dtype=torch.float64)
    a = torch.tensor([c.ratio_at_alternation_start for c in cs], dtype=torch.float64)
    near = int(((r - 1).abs() <= AT_ONE).sum())
    where = "below 1" if float(r.max()) < 1 else ("above 1" if float(r.min()) > 1 else "on both sides of 1")
    return (
        f"lambda_onset*eta/2 is within 10 % of 1 in {near} of {len(cs)} conditions (mean {float(r.mean()):.3f}, "
        f"range {float(r.min()):.3f} to {float(r.max()):.3f}, all {where}); measured at the start of the "
        f"2-cycle instead: mean {float(a.mean()):.3f}, range {float(a.min()):.3f} to {float(a.max()):.3f}."
    )


def _spread_per_eta(res: Result, cs: list[Condition]) -> list[tuple[float, float]]:
    """(η, max − min of λ_onset·η/2 over the (A, T) conditions at η) where η has two or more conditions."""
    spread = []
    for eta in res.etas:
        rr = [c.ratio_to_two_over_eta for c in cs if c.eta == eta]
        if len(rr) > 1:
            spread.append((eta, max(rr) - min(rr)))
    return spread


def claims(res: Result) -> list[Claim]:
    """P2-F5a (λ_onset·η/2 = 1) and P2-F5b (no dependence on A, T); thresholds: :data:`AT_ONE`."""
    cs = _with_onset(res)
    missing = len(res.conditions) - len(cs)
    ratios = [c.ratio_to_two_over_eta for c in cs]
    near = [abs(r - 1) <= AT_ONE for r in ratios]
    lo, hi = (min(ratios), max(ratios)) if ratios else (math.nan, math.nan)
    spread = _spread_per_eta(res, cs)
    max_spread = max((s for _, s in spread), default=math.nan)
    alt = [c.ratio_at_alternation_start for c in cs]
    return [
        Claim(
            "P2-F5a",
            "Fig. 5: instabilities emerge when λ_max reaches the edge-of-stability value 2/η (λ_onset·η/2 = 1).",
            f"λ_onset·η/2 over {len(cs)} conditions (mean over seeds): {lo:.3f} to {hi:.3f}; within 10 % of 1 in "
            f"{sum(near)} of {len(cs)}"
            + (f"; {missing} conditions had no onset" if missing else "")
            + f"; at the start of the 2-cycle instead: {min(alt):.3f} to {max(alt):.3f}"
            if cs
            else "no onsets found",
            verdict(bool(cs) and all(near) and missing == 0, partly=bool(cs) and sum(near) >= 0.5 * len(cs)),
        ),
        Claim(
            "P2-F5b",
            "Fig. 5: the onset curvature does not depend on the amplitude A or the period T "
            "(the six conditions collapse).",
            "largest spread of λ_onset·η/2 between (A, T) conditions at one η: "
            + ", ".join(f"η = {e:g}: {s:.3f}" for e, s in spread),
            verdict(bool(spread) and max_spread <= AT_ONE, partly=bool(spread) and max_spread <= 2 * AT_ONE),
        ),
    ]


# -- the figure --------------------------------------------------------------------------------
_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_edge_of_stability(res: Result) -> Figure:
    """(a) λ_onset (mean ± SEM over seeds) against η per (A, T), 2/η dashed; (b) λ_onset·η/2 with the
    ±10 % band; (c) the two variants: first onset of each run only, and the start of the 2-cycle."""
    fig, axes = new_figure(3, 1, width=4.3, height=3.7)
    ax_a, ax_b, ax_c = axes[0]
    etas = np.array(res.etas, dtype=float)
    grid = np.geomspace(etas.min() / 1.4, etas.max() * 1.4, 100)
    edge_of_stability(ax_a, grid, lw=1.2, label=r"$2/\eta$ (edge of stability)")
    conds = [(A, T) for A in res.amplitudes for T in res.periods]
    n = len(conds)
    for j, (A, T) in enumerate(conds):
        cs = [c for c in res.conditions if c.A == A and c.T == T]
        x = np.array([c.eta for c in cs]) * (1.0 + 0.03 * (j - (n - 1) / 2))  # small dodge
        color = PALETTE[res.amplitudes.index(A) % len(PALETTE)]
        marker = _MARKERS[res.periods.index(T) % len(_MARKERS)]
        y = np.array([c.lambda_onset for c in cs])
        e = np.nan_to_num(np.array([c.lambda_onset_sem for c in cs]))
        label = f"A = {A:g}, T = {T}"
        ax_a.errorbar(x, y, yerr=e, fmt=marker, color=color, ms=5, capsize=2, lw=1, label=label)
        r = np.array([c.ratio_to_two_over_eta for c in cs])
        re = np.nan_to_num(np.array([c.ratio_to_two_over_eta_sem for c in cs]))
        ax_b.errorbar(x, r, yerr=re, fmt=marker, color=color, ms=5, capsize=2, lw=1, label=label)
        ax_c.plot(x, [c.ratio_first_onset_only for c in cs], marker, color=color, ms=5, mfc="none")
        ax_c.plot(x, [c.ratio_at_alternation_start for c in cs], marker, color=color, ms=4, alpha=0.6)
    ax_a.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$", ylabel=r"$\lambda_{\max}$ at onset")
    ax_a.legend(loc="upper right", fontsize=7, framealpha=0.85)
    for ax in (ax_b, ax_c):
        ax.axhline(1.0, color="0.2", ls="--", lw=1.2)
        ax.axhspan(0.9, 1.1, color="0.5", alpha=0.15, lw=0, label="±10 %")
        ax.set(xscale="log", xlabel=r"learning rate $\eta$", ylabel=r"$\lambda_{\max}\,\eta/2$")
    ax_b.set_title("(b) onset = first $\\Delta F>0$ of the episode", loc="left")
    ax_c.set_title("(c) variants", loc="left")
    ax_c.plot([], [], "o", color="0.3", mfc="none", label="first onset of each run only")
    ax_c.plot([], [], "o", color="0.3", alpha=0.6, label="start of the 2-cycle")
    ax_c.legend(loc="lower right", fontsize=7, framealpha=0.85)
    ax_a.set_title(f"(a) H = {res.H}, {res.n_seeds} seeds per condition", loc="left")
    ratios = [c.ratio_to_two_over_eta for c in res.conditions]
    alternation = [c.ratio_at_alternation_start for c in res.conditions]
    lo = min([0.5, *(r - 0.1 for r in ratios if np.isfinite(r))])  # a list: no finite ratio leaves 0.5
    hi = max([1.5, *(a + 0.1 for a in alternation if np.isfinite(a))])
    for ax in (ax_b, ax_c):
        ax.set_ylim(lo, hi)
        ax.set_xticks(etas, [f"{e:g}" for e in etas])
        ax.minorticks_off()
    ax_a.set_xticks(etas, [f"{e:g}" for e in etas])
    ax_a.set_yticks(2.0 / etas, [f"{2.0 / e:g}" for e in etas])
    ax_a.minorticks_off()
    return fig


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "λmax at the onset of instabilities against η, and the 2/η line"
PAPER_FIGURE = "Fig. 5"
plot = plot_edge_of_stability
