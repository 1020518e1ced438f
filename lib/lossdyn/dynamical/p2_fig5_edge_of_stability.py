"""Paper 2, Figure 5: λ_max at the onset of the instabilities against η, with the 2/η line.

For every condition (A, T) and learning rate η, ``n_seeds`` networks (H = 100) are trained with
the dynamical cross-entropy for T_total = ``time_budget``/η steps. In every period the first
instability onset t* is found by the same-landscape rule of :mod:`lossdyn.dynamical.onset`, and λ_max is
computed exactly at θ_{t*} by Lanczos. Per network the onsets are averaged over its periods
(spec §5), then mean ± SEM over networks. Two variants are reported as well: the first onset of
each run only, and λ_max where the period-2 alternation starts.

Edge-of-stability minimisation predicts λ_onset = 2/η, i.e. the ratio λ_onset·η/2 = 1.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from lossdyn.dynamical.ensemble import Member, TrainSpec
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES
from lossdyn.pipeline.plotting import PALETTE, new_figure
from lossdyn.pipeline.units import EnsemblePlan

__all__ = [
    "Config",
    "claims",
    "condition_table",
    "finish",
    "jobs",
    "key_numbers",
    "plan",
    "plot_edge_of_stability",
    "summarise",
    "summary_line",
]


#: "λ_onset·η/2 sits at 1" means within 10 % (declared before running).
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


def _mean_sem(values: list[float]) -> tuple[float, float, int]:
    v = torch.tensor(values, dtype=torch.float64)
    v = v[torch.isfinite(v)]
    n = int(v.numel())
    if n == 0:
        return math.nan, math.nan, 0
    sem = float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else math.nan
    return float(v.mean()), sem, n


def summarise(r: dict[str, Any], eta: float, A: float, T: int) -> dict[str, Any]:
    """Per-condition statistics from one η-group's ensemble result."""
    sel = (r["A"] == A) & (r["T"] == T)
    on_t, on_l, alt_l = r["onset_t"][sel], r["onset_lambda"][sel], r["alt_lambda"][sel]
    per_sim, first, alt = [], [], []
    for i in range(on_t.shape[0]):
        ok = on_t[i] >= 0
        if bool(ok.any()):
            per_sim.append(float(on_l[i][ok].mean()))
            first.append(float(on_l[i][ok][0]))
            alt.append(float(alt_l[i][ok].mean()))
    two = 2.0 / eta
    m, sem, n = _mean_sem(per_sim)
    f_m, f_sem, _ = _mean_sem(first)
    a_m, a_sem, _ = _mean_sem(alt)
    return {
        "eta": eta,
        "A": A,
        "T": T,
        "n_sims": int(sel.sum()),
        "n_with_onset": n,
        "n_onsets": int((on_t >= 0).sum()),
        "n_diverged": int(r["diverged"][sel].sum()),
        "lambda_onset_mean": m,
        "lambda_onset_sem": sem,
        "ratio": m / two,
        "ratio_sem": sem / two,
        "ratio_first_onset": f_m / two,
        "ratio_first_onset_sem": f_sem / two,
        "ratio_alternation": a_m / two,
        "ratio_alternation_sem": a_sem / two,
        "per_sim_lambda": per_sim,
    }


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


def finish(cfg: Config, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's result from one ensemble result per η (in ``cfg.etas`` order)."""
    conditions = []
    for eta, r in zip(cfg.etas, results):
        for A in cfg.amplitudes:
            for T in cfg.periods:
                conditions.append(summarise(r, eta, A, T))
    return {
        "H": cfg.H,
        "etas": list(cfg.etas),
        "amplitudes": list(cfg.amplitudes),
        "periods": list(cfg.periods),
        "time_budget": cfg.time_budget,
        "n_seeds": cfg.n_seeds,
        "dtype": cfg.dtype,
        "conditions": conditions,
        "raw": [
            {
                k: r[k]
                for k in (
                    "eta",
                    "A",
                    "T",
                    "replica",
                    "onset_t",
                    "onset_lambda",
                    "alt_t",
                    "alt_lambda",
                    "diverged",
                    "train_acc",
                )
            }
            for r in results
        ],
    }


def plan(cfg: Config) -> EnsemblePlan:
    """Units: one network (η, A, T, replica) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    return EnsemblePlan(jobs(cfg))


def _key(c: dict[str, Any]) -> str:
    return f"A={c['A']:g},T={c['T']},eta={c['eta']:g}"


def key_numbers(res: dict[str, Any]) -> dict[str, Any]:
    cs = res["conditions"]
    return {
        "lambda_onset_mean": {_key(c): c["lambda_onset_mean"] for c in cs},
        "lambda_onset_sem": {_key(c): c["lambda_onset_sem"] for c in cs},
        "ratio_to_two_over_eta": {_key(c): c["ratio"] for c in cs},
        "ratio_to_two_over_eta_sem": {_key(c): c["ratio_sem"] for c in cs},
        "ratio_first_onset_only": {_key(c): c["ratio_first_onset"] for c in cs},
        "ratio_at_alternation_start": {_key(c): c["ratio_alternation"] for c in cs},
        "n_with_onset": {_key(c): c["n_with_onset"] for c in cs},
        "n_sims": res["n_seeds"],
        "dtype": res["dtype"],
    }


def _fmt(x: float, spec: str) -> str:
    return format(x, spec) if math.isfinite(x) else "nan".rjust(len(format(1.0, spec)))


def condition_table(res: dict[str, Any]) -> str:
    """One row per (η, A, T) at fixed precision (printed by the notebook)."""
    lines = [
        "   eta      A      T  sims w/ onset  onsets  lambda_onset (mean ± SEM)   ratio lambda*eta/2    first-only  "
        "alternation  diverged"
    ]
    for c in res["conditions"]:
        lines.append(
            f"{c['eta']:>6.3f} {c['A']:>6.1f} {c['T']:>6d}  {c['n_with_onset']:>4d}/{c['n_sims']:<4d}  {c['n_onsets']:>6d}  "
            f"{_fmt(c['lambda_onset_mean'], '9.4f')} ± {_fmt(c['lambda_onset_sem'], '7.4f')}     "
            f"{_fmt(c['ratio'], '6.3f')} ± {_fmt(c['ratio_sem'], '5.3f')}      {_fmt(c['ratio_first_onset'], '6.3f')}       "
            f"{_fmt(c['ratio_alternation'], '6.3f')}  {c['n_diverged']:>8d}"
        )
    return "\n".join(lines)


def summary_line(res: dict[str, Any]) -> str:
    """One plain sentence: does λ_onset·η/2 sit at 1?"""
    cs = [c for c in res["conditions"] if c["n_with_onset"] > 0]
    if not cs:
        return "No instability onset was found in any condition."
    r = torch.tensor([c["ratio"] for c in cs], dtype=torch.float64)
    a = torch.tensor([c["ratio_alternation"] for c in cs], dtype=torch.float64)
    near = int(((r - 1).abs() <= AT_ONE).sum())
    where = "below 1" if float(r.max()) < 1 else ("above 1" if float(r.min()) > 1 else "on both sides of 1")
    return (
        f"lambda_onset*eta/2 is within 10 % of 1 in {near} of {len(cs)} conditions (mean {float(r.mean()):.3f}, "
        f"range {float(r.min()):.3f} to {float(r.max()):.3f}, all {where}); measured at the start of the "
        f"2-cycle instead: mean {float(a.mean()):.3f}, range {float(a.min()):.3f} to {float(a.max()):.3f}."
    )


def claims(res: dict[str, Any]) -> list[Claim]:
    cs = [c for c in res["conditions"] if c["n_with_onset"] > 0]
    missing = len(res["conditions"]) - len(cs)
    ratios = [c["ratio"] for c in cs]
    near = [abs(r - 1) <= AT_ONE for r in ratios]
    lo, hi = (min(ratios), max(ratios)) if ratios else (math.nan, math.nan)
    spread = []
    for eta in res["etas"]:
        rr = [c["ratio"] for c in cs if c["eta"] == eta]
        if len(rr) > 1:
            spread.append((eta, max(rr) - min(rr)))
    max_spread = max((s for _, s in spread), default=math.nan)
    alt = [c["ratio_alternation"] for c in cs]
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
            "Fig. 5: the onset curvature does not depend on the amplitude A or the period T (the six conditions collapse).",
            "largest spread of λ_onset·η/2 between (A, T) conditions at one η: "
            + ", ".join(f"η = {e:g}: {s:.3f}" for e, s in spread),
            verdict(bool(spread) and max_spread <= AT_ONE, partly=bool(spread) and max_spread <= 2 * AT_ONE),
        ),
    ]


# -- the figure --------------------------------------------------------------------------------
_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_edge_of_stability(res: dict[str, Any]) -> Figure:
    """(a) λ_onset (mean ± SEM over seeds) against η per (A, T), 2/η dashed; (b) λ_onset·η/2 with the
    ±10 % band; (c) the two variants: first onset of each run only, and the start of the 2-cycle."""
    fig, axes = new_figure(3, 1, width=4.3, height=3.7)
    ax_a, ax_b, ax_c = axes[0]
    etas = np.array(res["etas"], dtype=float)
    grid = np.geomspace(etas.min() / 1.4, etas.max() * 1.4, 100)
    ax_a.plot(grid, 2.0 / grid, "--", color="0.2", lw=1.2, label=r"$2/\eta$ (edge of stability)")
    conds = [(A, T) for A in res["amplitudes"] for T in res["periods"]]
    n = len(conds)
    for j, (A, T) in enumerate(conds):
        cs = [c for c in res["conditions"] if c["A"] == A and c["T"] == T]
        x = np.array([c["eta"] for c in cs]) * (1.0 + 0.03 * (j - (n - 1) / 2))  # small dodge
        color = PALETTE[res["amplitudes"].index(A) % len(PALETTE)]
        marker = _MARKERS[res["periods"].index(T) % len(_MARKERS)]
        y = np.array([c["lambda_onset_mean"] for c in cs])
        e = np.nan_to_num(np.array([c["lambda_onset_sem"] for c in cs]))
        label = f"A = {A:g}, T = {T}"
        ax_a.errorbar(x, y, yerr=e, fmt=marker, color=color, ms=5, capsize=2, lw=1, label=label)
        r = np.array([c["ratio"] for c in cs])
        re = np.nan_to_num(np.array([c["ratio_sem"] for c in cs]))
        ax_b.errorbar(x, r, yerr=re, fmt=marker, color=color, ms=5, capsize=2, lw=1, label=label)
        ax_c.plot(x, [c["ratio_first_onset"] for c in cs], marker, color=color, ms=5, mfc="none")
        ax_c.plot(x, [c["ratio_alternation"] for c in cs], marker, color=color, ms=4, alpha=0.6)
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
    ax_a.set_title(f"(a) H = {res['H']}, {res['n_seeds']} seeds per condition", loc="left")
    lo = min(0.5, *(c["ratio"] - 0.1 for c in res["conditions"] if np.isfinite(c["ratio"])))
    hi = max(1.5, *(c["ratio_alternation"] + 0.1 for c in res["conditions"] if np.isfinite(c["ratio_alternation"])))
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
Result = dict  # TODO(issue 10): a typed result
plot = plot_edge_of_stability
