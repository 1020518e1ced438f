"""Paper 2, Figure 5: λ_max at the onset of the instabilities against η, with the 2/η line.

For every condition (A, T) and learning rate η, ``n_seeds`` networks (H = 100) are trained with
the dynamical cross-entropy for T_total = ``time_budget``/η steps (Fig. 5 caption). Where the
number comes from:

1. the trainer (:func:`lossdyn.dynamical.ensemble.train_chunk`, one ensemble per η, :func:`jobs`)
   finds in every period the first instability, dated at the start t* of its unbroken 2-cycle by the
   companion's onset rule, and evaluates λ_max at the cycle's valley floor by Lanczos
   (:class:`lossdyn.dynamical.onset.OnsetCurvature`; book/methods.md#p2-onset): its result key
   ``lambda_onset`` (networks × periods);
2. :func:`summarise` averages each network's ``lambda_onset`` over its periods with an onset, then
   takes mean ± SEM over the condition's networks: :attr:`Condition.lambda_onset`, and
   :attr:`Condition.ratio_to_two_over_eta` = λ_onset·η/2;
3. :func:`key_numbers` writes both, under the same names, into the figure's sidecar.

λ_onset is measured at the valley floor of the 2-cycle (the Hessian at the midpoint of consecutive
iterates, averaged over both phases); variants: the first instability of each run only, λ_max at the
single iterate θ_{t*}, at the jump t_jump, and the loss's own (secant) curvature along the step, which sees
the ReLU kinks (book/methods.md#p2-fig5-choices). Edge-of-stability minimisation predicts
λ_onset = 2/η, i.e. λ_onset·η/2 = 1 (the dashed line of Fig. 5).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from lossdyn.dynamical.ensemble import Member, TrainSpec, cpu_chunk
from lossdyn.dynamical.outcome import outcome
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES
from lossdyn.pipeline.figures import Cost, ensemble_cost
from lossdyn.pipeline.plotting import PALETTE, Shown, edge_of_stability, letter_panels, new_figure, style
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import EnsemblePlan

__all__ = [
    "Condition",
    "Config",
    "Networks",
    "Result",
    "claims",
    "condition_table",
    "estimate",
    "failed",
    "finish",
    "jobs",
    "key_numbers",
    "plan",
    "plot_edge_of_stability",
    "summarise",
    "summary_line",
    "variants_table",
]


#: "λ_onset·η/2 sits at 1" means within 10 % (declared before running; book/methods.md#p2-fig5-choices).
AT_ONE = 0.10

#: What the paper states for Fig. 5 (its caption): the conditions, the run length η·T_total, the width, the
#: networks per condition, and the edge-of-stability prediction λ_onset·η/2 = 1 (the dashed line).
PAPER = {
    "amplitudes": [25.0, 50.0, 75.0],
    "periods": [5000, 10000],
    "eta_times_total_time": 100000.0,
    "H": 100,
    "networks_per_condition": 30,
    "predicted_ratio": 1.0,
}


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

    Each network's value is the mean over its periods with an instability; then mean ± SEM (std/√n)
    over the condition's networks. Ratios are ·η/2 (1 = the edge of stability 2/η).

    * ``eta``, ``A``, ``T``: the condition;
    * ``n_networks``: networks trained; ``n_with_onset``: networks with at least one instability;
      ``n_onsets``: instabilities over the networks that did not diverge; ``n_diverged``: networks whose loss
      became NaN/inf, left out of every statistic; ``n_loss_rose``: networks whose loss stayed finite but
      ended above its start (counted, kept; :func:`failed`);
    * ``lambda_onset``, ``lambda_onset_sem``: λ_max at the valley floor of the onset t* (NaN if no network
      had an instability; SEM NaN below 2 networks);
    * ``ratio_to_two_over_eta`` (+ ``_sem``): λ_onset·η/2; ``ratio_network_min``/``_max``: its range over networks;
    * ``ratio_first_onset_only``: the same ratio from each network's first instability only;
    * ``ratio_single_iterate``: λ_max at the single iterate θ_{t*} instead of the floor;
      ``iterate_swing``: mean |λ(θ_{t*+1}) − λ(θ_{t*})| / λ_onset, the parity swing between the two iterates;
    * ``ratio_at_jump`` (+ ``_sem``): λ_max at the valley floor of the jump t_jump;
    * ``secant_ratio_onset``, ``secant_ratio_jump``: the loss's own curvature along the step
      (:func:`lossdyn.dynamical.onset.secant_curvature`)·η/2 at t* and at t_jump;
    * ``lambda_onset_per_network``: each network's mean λ_onset (networks with an instability, in replica order).
    """

    eta: float
    A: float
    T: int
    n_networks: int
    n_with_onset: int
    n_onsets: int
    n_diverged: int
    n_loss_rose: int
    lambda_onset: float
    lambda_onset_sem: float
    ratio_to_two_over_eta: float
    ratio_to_two_over_eta_sem: float
    ratio_network_min: float
    ratio_network_max: float
    ratio_first_onset_only: float
    ratio_single_iterate: float
    iterate_swing: float
    ratio_at_jump: float
    ratio_at_jump_sem: float
    secant_ratio_onset: float
    secant_ratio_jump: float
    lambda_onset_per_network: tuple[float, ...]


#: The trainer's per-network records kept in :class:`Networks` (see :func:`lossdyn.dynamical.ensemble.train_chunk`).
NETWORK_KEYS = (
    "eta",
    "A",
    "T",
    "replica",
    "onset_t",
    "jump_t",
    "lambda_onset",
    "lambda_onset_iterates",
    "lambda_jump",
    "secant_onset",
    "secant_jump",
    "diverged",
    "train_acc",
)


@dataclasses.dataclass(frozen=True)
class Networks:
    """The networks of one η (S of them, in :func:`jobs` order), as the trainer returned them.

    ``eta``, ``A`` (S,) float64; ``T``, ``replica`` (S,) int64; ``onset_t``, ``jump_t`` (S, n_periods) int64
    (−1: no instability in that period); ``lambda_onset``, ``lambda_jump`` (S, n_periods) float64 λ_max at the
    valley floor of t* and of t_jump, ``lambda_onset_iterates`` (S, n_periods, 2) at θ_{t*} and θ_{t*+1},
    ``secant_onset``, ``secant_jump`` (S, n_periods) the secant curvature (NaN: none); ``diverged`` (S,) bool;
    ``train_acc`` (S,) float64 at the end.
    """

    eta: torch.Tensor
    A: torch.Tensor
    T: torch.Tensor
    replica: torch.Tensor
    onset_t: torch.Tensor
    jump_t: torch.Tensor
    lambda_onset: torch.Tensor
    lambda_onset_iterates: torch.Tensor
    lambda_jump: torch.Tensor
    secant_onset: torch.Tensor
    secant_jump: torch.Tensor
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


def _per_network(r: dict[str, Any], sel: torch.Tensor) -> dict[str, list[float]]:
    """Each network's values (mean over its periods with an instability), networks without one left out."""
    on_t = r["onset_t"][sel]
    it = r["lambda_onset_iterates"][sel]
    swing = (it[..., 1] - it[..., 0]).abs() / r["lambda_onset"][sel]
    series = {
        "floor": r["lambda_onset"][sel],
        "iterate": it[..., 0],
        "swing": swing,
        "jump": r["lambda_jump"][sel],
        "secant_onset": r["secant_onset"][sel],
        "secant_jump": r["secant_jump"][sel],
    }
    out: dict[str, list[float]] = {name: [] for name in (*series, "first")}
    for i in range(on_t.shape[0]):
        ok = on_t[i] >= 0
        if bool(ok.any()):
            for name, x in series.items():
                out[name].append(float(x[i][ok].mean()))
            out["first"].append(float(series["floor"][i][ok][0]))
    return out


def failed(r: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(diverged, loss_rose)`` (S,) bool (:mod:`lossdyn.dynamical.outcome`): the loss became NaN/inf, or it
    stayed finite but ended above its start.

    Diverged networks are left out of every statistic. Networks whose loss rose are counted but kept: their
    loss rises *because of* the cascades this page dates (an instability is measured where it emerges,
    before the loss goes up). Accuracy is not a criterion on this page: with a large amplitude A one class
    carries almost all of the loss's weight in the middle of a period (book/methods.md#p2-fig5-choices).
    """
    o = outcome(r)
    return o.non_finite, o.loss_rose


def summarise(r: dict[str, Any], eta: float, A: float, T: int) -> Condition:
    """Statistics of the condition (η, A, T) from the ensemble result ``r`` of its η; diverged networks
    (:func:`failed`) are counted in ``n_diverged`` and left out of every mean."""
    cond = (r["A"] == A) & (r["T"] == T)
    bad, rose = failed(r)
    sel = cond & ~bad
    v = _per_network(r, sel)
    two = 2.0 / eta
    m, sem, n = _mean_sem(v["floor"])
    j_m, j_sem, _ = _mean_sem(v["jump"])
    ratios = [x / two for x in v["floor"]]
    return Condition(
        eta=eta,
        A=A,
        T=T,
        n_networks=int(cond.sum()),
        n_with_onset=n,
        n_onsets=int((r["onset_t"][sel] >= 0).sum()),
        n_diverged=int((cond & bad).sum()),
        n_loss_rose=int((cond & rose).sum()),
        lambda_onset=m,
        lambda_onset_sem=sem,
        ratio_to_two_over_eta=m / two,
        ratio_to_two_over_eta_sem=sem / two,
        ratio_network_min=min(ratios, default=math.nan),
        ratio_network_max=max(ratios, default=math.nan),
        ratio_first_onset_only=_mean_sem(v["first"])[0] / two,
        ratio_single_iterate=_mean_sem(v["iterate"])[0] / two,
        iterate_swing=_mean_sem(v["swing"])[0],
        ratio_at_jump=j_m / two,
        ratio_at_jump_sem=j_sem / two,
        secant_ratio_onset=_mean_sem(v["secant_onset"])[0] / two,
        secant_ratio_jump=_mean_sem(v["secant_jump"])[0] / two,
        lambda_onset_per_network=tuple(v["floor"]),
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
    :func:`jobs` trained as a serial run trains them (:func:`lossdyn.pipeline.figures.ensemble_cost`), chunks of
    :func:`~lossdyn.dynamical.ensemble.cpu_chunk` networks, with no per-chunk term (onset detection is folded
    into the fused step): 2,890 s for the paper profile, whose sweep took 2,787 s of wall and 5,558 s of compute
    on the project's 2-core CPU (book/measured/sweeps.json).
    """
    return ensemble_cost(jobs(cfg), chunk=cpu_chunk, workers=cfg.workers, per_chunk_step=0.0, overhead=6.0)


def plan(cfg: Config) -> EnsemblePlan:
    """Units: one network (η, A, T, replica) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    return EnsemblePlan(jobs(cfg))


def _key(c: Condition) -> str:
    return f"A={c.A:g},T={c.T},eta={c.eta:g}"


#: The :class:`Condition` fields written per condition into the sidecar, under the same names.
CONDITION_KEYS = (
    "lambda_onset",
    "lambda_onset_sem",
    "ratio_to_two_over_eta",
    "ratio_to_two_over_eta_sem",
    "ratio_network_min",
    "ratio_network_max",
    "ratio_first_onset_only",
    "ratio_single_iterate",
    "iterate_swing",
    "ratio_at_jump",
    "secant_ratio_onset",
    "secant_ratio_jump",
    "n_with_onset",
    "n_onsets",
    "n_diverged",
    "n_loss_rose",
)


def _range(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"mean": math.nan, "min": math.nan, "max": math.nan}
    return {"mean": sum(finite) / len(finite), "min": min(finite), "max": max(finite)}


def key_numbers(res: Result) -> dict[str, Any]:
    """The sidecar's numbers, per condition ``A=…,T=…,eta=…``, named like the :class:`Condition` fields,
    and ``over_conditions``: mean, min and max over the conditions with an instability of each ratio."""
    cs = res.conditions
    with_onset = _with_onset(res)
    over = {
        name: _range([getattr(c, name) for c in with_onset])
        for name in (
            "ratio_to_two_over_eta",
            "ratio_single_iterate",
            "ratio_at_jump",
            "secant_ratio_jump",
            "iterate_swing",
        )
    }
    return {
        **{name: {_key(c): getattr(c, name) for c in cs} for name in CONDITION_KEYS},
        "over_conditions": over,
        "n_conditions": len(cs),
        "n_conditions_with_onset": len(with_onset),
        "n_seeds": res.n_seeds,
        "dtype": res.dtype,
        "at_one_tolerance": AT_ONE,
        "paper": PAPER,
    }


def _pm(mean: float, sem: float) -> str:
    """``mean ± SEM`` at 3 decimals (``nan`` where not finite; SEM left out below 2 networks)."""
    if not math.isfinite(mean):
        return "nan"
    return f"{mean:.3f} ± {sem:.3f}" if math.isfinite(sem) else f"{mean:.3f}"


def condition_table(res: Result) -> Table:
    """One row per (η, A, T): networks with an instability, λ_onset at the valley floor and its ratio
    λ_onset·η/2 (mean ± SEM over networks), the ratio's range over networks (shown by the notebook)."""
    rows = [
        [
            c.eta,
            c.A,
            c.T,
            f"{c.n_with_onset}/{c.n_networks}",
            c.n_onsets,
            _pm(c.lambda_onset, c.lambda_onset_sem),
            _pm(c.ratio_to_two_over_eta, c.ratio_to_two_over_eta_sem),
            f"{c.ratio_network_min:.3f}–{c.ratio_network_max:.3f}" if c.n_with_onset else "nan",
        ]
        for c in res.conditions
    ]
    return Table(
        ["η", "A", "T", "networks", "instabilities", "λ_onset", "λ_onset·η/2", "range over networks"],
        rows,
        caption="λ_max at the valley floor of the onset t*, mean ± SEM over the networks with an instability "
        "(networks: with one / in the condition); 1 = the edge of stability 2/η.",
        formats={"η": "g", "A": "g"},
    )


def variants_table(res: Result) -> Table:
    """One row per (η, A, T): the curvature variants as ratios ·η/2 (means over networks; shown by the notebook):
    λ_max at the single iterate θ_{t*}, the parity swing, λ_max at the jump's valley floor, the secant curvature
    along the step at t* and at the jump."""
    rows = [
        [
            c.eta,
            c.A,
            c.T,
            c.ratio_first_onset_only,
            c.ratio_single_iterate,
            c.iterate_swing,
            c.ratio_at_jump,
            c.secant_ratio_onset,
            c.secant_ratio_jump,
        ]
        for c in res.conditions
    ]
    return Table(
        ["η", "A", "T", "first only", "iterate θ_t*", "swing", "floor at jump", "secant t*", "secant jump"],
        rows,
        caption="The variants, each ·η/2 except the swing (a relative change), means over the networks.",
        formats={"η": "g", "A": "g"},
    )


def _with_onset(res: Result) -> list[Condition]:
    return [c for c in res.conditions if c.n_with_onset > 0]


def _span(cs: list[Condition], name: str) -> str:
    r = _range([getattr(c, name) for c in cs])
    return f"mean {r['mean']:.3f}, range {r['min']:.3f} to {r['max']:.3f}"


def summary_line(res: Result) -> str:
    """The page's generated paragraph: where λ_onset·η/2 sits, its variants, and the networks' outcomes
    (diverged ones left out, those whose loss rose kept). Markdown without math: the book renders a
    notebook's Markdown output as CommonMark."""
    cs = _with_onset(res)
    if not cs:
        return "No instability was found in any condition: nothing to compare with 2/eta."
    r = torch.tensor([c.ratio_to_two_over_eta for c in cs], dtype=torch.float64)
    near = int(((r - 1).abs() <= AT_ONE).sum())
    below = int((r < 1).sum())
    nets = sum(c.n_networks for c in res.conditions)
    return (
        f"At the valley floor of the onset, λ_onset·η/2 is within {AT_ONE * 100:g} % of 1 "
        f"in {near} of {len(cs)} conditions ({_span(cs, 'ratio_to_two_over_eta')}; below 1 in {below}, "
        f"at or above 1 in {len(cs) - below}). "
        f"At the single iterate θ_t* the ratio has {_span(cs, 'ratio_single_iterate')}; "
        f"at the valley floor of the jump {_span(cs, 'ratio_at_jump')}; the loss's own curvature along the "
        f"step at the jump, secant·η/2, has {_span(cs, 'secant_ratio_jump')}. "
        f"Of the {nets} networks, {sum(c.n_diverged for c in res.conditions)} diverged (left out) and "
        f"{sum(c.n_loss_rose for c in res.conditions)} ended with a loss above their start (kept); "
        f"{len(res.conditions) - len(cs)} of the {len(res.conditions)} conditions had no instability."
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
    """P2-F5a (λ_onset·η/2 = 1) and P2-F5b (no dependence on A, T); thresholds: :data:`AT_ONE`.

    ``not measured`` where no condition had an instability (P2-F5a) or no η has two conditions with one (P2-F5b).
    """
    cs = _with_onset(res)
    missing = len(res.conditions) - len(cs)
    near = [abs(c.ratio_to_two_over_eta - 1) <= AT_ONE for c in cs]
    spread = _spread_per_eta(res, cs)
    max_spread = max((s for _, s in spread), default=math.nan)
    measured_a = (
        f"λ_onset·η/2 at the valley floor over {len(cs)} conditions (mean over seeds): "
        f"{_span(cs, 'ratio_to_two_over_eta')}; within 10 % of 1 in {sum(near)} of {len(cs)}"
        + (f"; {missing} conditions had no instability" if missing else "")
        + f"; the loss's own curvature along the step at the jump: {_span(cs, 'secant_ratio_jump')}"
        if cs
        else f"no instability in any of the {len(res.conditions)} conditions"
    )
    return [
        Claim(
            "P2-F5a",
            "Fig. 5: instabilities emerge when λ_max reaches the edge-of-stability value 2/η (λ_onset·η/2 = 1).",
            measured_a,
            verdict(all(near) and missing == 0, partly=sum(near) >= 0.5 * len(cs), measurable=bool(cs)),
        ),
        Claim(
            "P2-F5b",
            "Fig. 5: the onset curvature does not depend on the amplitude A or the period T "
            "(the six conditions collapse).",
            "largest spread of λ_onset·η/2 between (A, T) conditions at one η: "
            + (", ".join(f"η = {e:g}: {s:.3f}" for e, s in spread) or "no η with two conditions with an instability"),
            verdict(max_spread <= AT_ONE, partly=max_spread <= 2 * AT_ONE, measurable=bool(spread)),
        ),
    ]


# -- the figure --------------------------------------------------------------------------------
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _conditions(res: Result):
    """Per (A, T): the conditions over η, the dodged η positions, the colour (by A) and the marker (by T)."""
    conds = [(A, T) for A in res.amplitudes for T in res.periods]
    n = len(conds)
    for j, (A, T) in enumerate(conds):
        cs = [c for c in res.conditions if c.A == A and c.T == T]
        x = np.array([c.eta for c in cs]) * (1.0 + 0.03 * (j - (n - 1) / 2))  # small dodge
        color = PALETTE[res.amplitudes.index(A) % len(PALETTE)]
        yield cs, x, color, _MARKERS[res.periods.index(T) % len(_MARKERS)], f"A = {A:g}, T = {T}"


def _ratio_limits(res: Result) -> tuple[float, float]:
    """The y range of the ratio panels: every ratio and variant in view, 0.5–1.5 at least."""
    ratios = [c.ratio_to_two_over_eta for c in res.conditions]
    variants = [
        getattr(c, k) for c in res.conditions for k in ("ratio_single_iterate", "ratio_at_jump", "secant_ratio_jump")
    ]
    lo = min([0.5, *(r - 0.1 for r in ratios if np.isfinite(r))])  # a list: no finite ratio leaves 0.5
    hi = max([1.5, *(a + 0.1 for a in variants if np.isfinite(a))])
    return lo, hi


def _ratio_axis(ax, etas: np.ndarray, limits: tuple[float, float]) -> None:
    ax.axhline(1.0, color="0.2", ls="--", lw=1.2)
    ax.axhspan(1 - AT_ONE, 1 + AT_ONE, color="0.5", alpha=0.15, lw=0, label=f"±{AT_ONE * 100:g} %")
    ax.set(xscale="log", xlabel=r"learning rate $\eta$", ylabel=r"$\lambda\,\eta/2$", ylim=limits)
    ax.set_xticks(etas, [f"{e:g}" for e in etas])
    ax.minorticks_off()


def _onset_group(res: Result) -> Figure:
    """(a) λ_onset against η with 2/η; (b) λ_onset·η/2 with the ±10 % band; the conditions' legend on top."""
    fig, axes = new_figure(2, 1, width=3.75, height=3.4)
    ax_a, ax_b = axes[0]
    etas = np.array(res.etas, dtype=float)
    grid = np.geomspace(etas.min() / 1.4, etas.max() * 1.4, 100)
    edge_of_stability(ax_a, grid, lw=1.2, label=r"$2/\eta$ (edge of stability)")
    for cs, x, color, marker, label in _conditions(res):
        y = np.array([c.lambda_onset for c in cs])
        e = np.nan_to_num(np.array([c.lambda_onset_sem for c in cs]))
        ax_a.errorbar(x, y, yerr=e, fmt=marker, color=color, ms=5, capsize=2, lw=1, label=label)
        r = np.array([c.ratio_to_two_over_eta for c in cs])
        re = np.nan_to_num(np.array([c.ratio_to_two_over_eta_sem for c in cs]))
        ax_b.errorbar(x, r, yerr=re, fmt=marker, color=color, ms=5, capsize=2, lw=1)
    ax_a.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$", ylabel=r"$\lambda_{\max}$ at the onset")
    ax_a.set_xticks(etas, [f"{e:g}" for e in etas])
    ax_a.set_yticks(2.0 / etas, [f"{2.0 / e:g}" for e in etas])
    ax_a.minorticks_off()
    ax_a.set_title(f"H = {res.H}, {res.n_seeds} seeds per condition")
    _ratio_axis(ax_b, etas, _ratio_limits(res))
    ax_b.set_title("valley floor at the onset $t^*$")
    letter_panels([ax_a, ax_b])
    handles, labels = ax_a.get_legend_handles_labels()
    band = ax_b.get_legend_handles_labels()
    fig.legend(handles + band[0], labels + band[1], loc="outside upper center", ncols=4)
    return fig


def _variants_group(res: Result) -> Figure:
    """(c) the variants: λ_max at θ_{t*} (open), at the jump's valley floor (filled), the secant curvature (×)."""
    fig, axes = new_figure(1, 1, width=6.6, height=3.6)
    ax_c = axes[0, 0]
    etas = np.array(res.etas, dtype=float)
    for cs, x, color, marker, label in _conditions(res):
        ax_c.plot(x, [c.ratio_single_iterate for c in cs], marker, color=color, ms=5, mfc="none")
        ax_c.plot(x, [c.ratio_at_jump for c in cs], marker, color=color, ms=5, alpha=0.6)
        ax_c.plot(x, [c.secant_ratio_jump for c in cs], "x", color=color, ms=6, mew=1.5)
        ax_c.plot([], [], marker, color=color, ms=5, label=label)
    _ratio_axis(ax_c, etas, _ratio_limits(res))
    ax_c.set_title("variants of the onset curvature")
    letter_panels([ax_c], start=2)
    kinds = [
        ax_c.plot([], [], "o", color="0.3", mfc="none", label=r"single iterate $\theta_{t^*}$")[0],
        ax_c.plot([], [], "o", color="0.3", alpha=0.6, label="valley floor at the jump")[0],
        ax_c.plot([], [], "x", color="0.3", ms=6, mew=1.5, label="secant curvature at the jump")[0],
    ]
    handles, labels = ax_c.get_legend_handles_labels()
    conds = [(h, lab) for h, lab in zip(handles, labels) if h not in kinds]
    fig.legend(kinds, [k.get_label() for k in kinds], loc="outside right upper", title="variant")
    fig.legend([h for h, _ in conds], [lab for _, lab in conds], loc="outside right lower", title="condition")
    return fig


def plot_edge_of_stability(res: Result) -> list[Shown]:
    """The page's figures: (a, b) λ_onset (valley floor, mean ± SEM over seeds) against η per (A, T) with
    2/η dashed, and as the ratio λ_onset·η/2 with the ±10 % band; (c) the variants: λ_max at the single
    iterate θ_{t*}, at the jump's valley floor, and the loss's own (secant) curvature along the step at the jump."""
    n = len(res.amplitudes) * len(res.periods)
    band = f"±{AT_ONE * 100:g} % band"
    with style():  # the book's fonts for every artist
        return [
            Shown(
                _onset_group(res),
                "Paper 2, Figure 5 (a, b). λmax at the onset of the instabilities against the learning rate η for "
                "each amplitude A and period T, mean ± SEM over networks: (a) as the paper draws it, with the edge of "
                "stability 2/η dashed; (b) the same as the ratio λmax·η/2, which edge-of-stability minimisation "
                f"predicts to be 1 (dashed), with the {band}.",
                f"Two log-x panels. Left: λmax at the onset against η for {n} conditions (colour by amplitude, marker "
                "by period) next to the falling 2/η line. Right: the ratio λmax·η/2 of the same points against η, "
                f"with a dashed line at 1 and a grey {band}.",
            ),
            Shown(
                _variants_group(res),
                "Paper 2, Figure 5, companion panel (c). Other measures of the onset curvature, as ratios ·η/2 per "
                "condition: λmax at the single iterate θ_t* (open markers), λmax at the valley floor of the jump "
                "(filled), and the loss's own curvature along the step at the jump (×).",
                f"One log-x panel of ratios against η: for each of the {n} conditions three markers per learning "
                "rate (open: single iterate, filled: valley floor at the jump, cross: secant curvature), with a "
                f"dashed line at 1 and the grey {band}.",
                "variants",
            ),
        ]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "λmax at the onset of instabilities against η, and the 2/η line"
PAPER_FIGURE = "Fig. 5"
plot = plot_edge_of_stability
