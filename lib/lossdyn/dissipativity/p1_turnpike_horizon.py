"""Paper 1, Proposition 12 measured: the off-turnpike layer count against the depth N (two spirals).

Prop. 12: with Q_ε = {k ∈ [0, N−1] : dist(x_k, X̄⋆) ≤ ε}, #Q_ε ≥ N − V̂/α(ε), i.e. the number
#Q̄_ε = N − #Q_ε of layers off the turnpike is bounded independently of N. We train the two-spirals
network of Figs. 2–4 with the stage cost at several depths N (the same recipe,
:mod:`lossdyn.dissipativity.spirals`; the same data; the same first blocks at initialisation; one
:class:`lossdyn.dissipativity.training.ResNetStack` per state dimension), for each state dimension n
of ``state_dims`` (n = 2 is the Figs. 2–4 page's state, n = 4 zero-pads it), and count, for each
network, the layers whose RMS distance d_k to the minimiser lines exceeds ε. Every network is counted
as trained, not trained or diverged (:func:`lossdyn.dissipativity.spirals.network_status`); the count
against N uses the trained ones. The paper measures nothing for Prop. 12: the experiment and its
verdict rule are ours (book/methods.md#p1-horizon-choices).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lossdyn.dissipativity.soft_ce import delta
from lossdyn.dissipativity.spirals import (
    STATE_DIM_RANGE,
    TRAINED_ACC,
    C,
    SpiralsTrainingConfig,
    archived_record,
    network_seed,
    network_status,
    spirals_setup,
    spread,
    status_counts,
    train_spirals,
)
from lossdyn.dissipativity.training import NetworkRecord, network_spec
from lossdyn.dissipativity.turnpike import off_turnpike_count
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.figures import Cost
from lossdyn.pipeline.plotting import PALETTE, Shown, letter_panels, log_ticks, new_figure
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import NetworkPlan

__all__ = [
    "Config",
    "Result",
    "claims",
    "compact",
    "count_table",
    "depth_table",
    "estimate",
    "finish",
    "key_numbers",
    "misclassified_summary",
    "network_specs",
    "off_turnpike_counts",
    "plan",
    "plot_turnpike_horizon",
    "q7_verdict",
    "slope_vs_depth",
]


#: P1-Q7: #Q̄_ε counts as bounded when its least-squares slope against N is at most this ...
SLOPE_BOUNDED = 0.2


#: ... and as growing (not bounded) above this; in between: partial (book/methods.md#p1-horizon-choices).
SLOPE_GROWING = 0.5

#: "Bounded independently of N" needs a grid: at least this many depths with a trained network.
MIN_DEPTHS = 3


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(SpiralsTrainingConfig):
    """Parameters of ``p1_turnpike_horizon`` (see the notebook for their defaults)."""

    state_dims: tuple[int, ...]  # the state dimensions n (2: the Figs. 2–4 state; > 2 zero-pads it)
    depths: tuple[int, ...]  # the depths N to train
    eps_grid: tuple[float, ...]  # further ε values shown

    def validate(self) -> None:
        super().validate()
        lo, hi = STATE_DIM_RANGE
        self._require(
            "state_dims",
            len(self.state_dims) >= 1
            and all(lo <= n <= hi for n in self.state_dims)
            and len(set(self.state_dims)) == len(self.state_dims),
            f"one or more distinct values in {lo}..{hi}",
        )
        self._require(
            "depths",
            len(self.depths) >= 2
            and all(1 <= d <= 1000 for d in self.depths)
            and len(set(self.depths)) == len(self.depths),
            "at least two distinct depths in 1..1000",
        )
        self._require("eps_grid", all(e > 0 for e in self.eps_grid), "positive values")


@dataclasses.dataclass(frozen=True)
class Result:
    """What the page shows (``finish`` makes it from the networks' unit results).

    * ``config`` — the run's :class:`Config`;
    * ``z_star`` — −δ = ln 19 for p_d = 0.95, the turnpike level of z = x_1 − x_2 (Lemma 3);
    * ``networks`` — one :class:`~lossdyn.dissipativity.training.NetworkRecord` per network of
      :func:`network_specs` (role ``"stage_cost"``; per state dimension, then per seed, deepest
      first), with the objective's training history but not the terminal loss's, and no states;
    * ``state_dim`` — the state dimension n of each network, in the same order;
    * ``status`` — :func:`~lossdyn.dissipativity.spirals.network_status` of each network, in the same
      order: ``"trained"``, ``"not trained"`` or ``"diverged"``.
    """

    config: Config
    z_star: float
    networks: list[NetworkRecord]
    state_dim: list[int]
    status: list[str]


def network_specs(cfg: Config) -> list[dict[str, Any]]:
    """The stage-cost network at every state dimension, seed and depth (deepest first); each spec
    carries its ``state_dim``."""
    return [
        dict(
            network_spec(
                label=f"n = {n}, N = {d}, seed {i}",
                role="stage_cost",
                depth=d,
                stage_cost=True,
                lr=cfg.lr,
                seed=network_seed(cfg, i),
                seed_index=i,
            ),
            state_dim=n,
        )
        for n in cfg.state_dims
        for i in range(cfg.seeds)
        for d in sorted(cfg.depths, reverse=True)
    ]


def _train(cfg: Config, nets: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """Train ``nets`` as one stack per state dimension (:func:`~lossdyn.dissipativity.spirals.train_spirals`),
    keeping the objective's history (for :func:`~lossdyn.dissipativity.spirals.network_status`) but not the
    terminal loss's; the records come back in the order of ``nets``."""
    out: list[dict[str, Any] | None] = [None] * len(nets)
    for n in sorted({net["state_dim"] for net in nets}):
        idx = [i for i, net in enumerate(nets) if net["state_dim"] == n]
        group = [nets[i] for i in idx]
        for i, r in zip(idx, train_spirals(cfg, group, [False] * len(group), device, n=n, desc=f"horizon, n = {n}")):
            r.pop("history_terminal")
            out[i] = r
    return out


def finish(cfg: Config, records: list[dict[str, Any]]) -> Result:
    """The page's result from the records of :func:`network_specs` (in that order)."""
    nets = [NetworkRecord.from_unit(r) for r in records]
    return Result(
        config=cfg,
        z_star=-delta(C, cfg.p_d),
        networks=nets,
        state_dim=[int(r["state_dim"]) for r in records],
        status=[network_status(r) for r in nets],
    )


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """One unit as the published archive keeps it (:func:`~lossdyn.dissipativity.spirals.archived_record`):
    the objective's history at its first and last step, no terminal-loss history (no panel plots it)."""
    return archived_record(record, terminal=False)


def plan(cfg: Config) -> NetworkPlan:
    """Units: one network (state dimension, depth, seed) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    nets = network_specs(cfg)
    return NetworkPlan(
        spirals_setup(cfg, ("seeds", "depths", "eps_grid", "lr", "state_dims")),
        nets,
        [False] * len(nets),
        lambda n, k, dev: _train(cfg, n, dev),
    )


#: Wall time per block and Adam step (training and measuring included) on the project's 2-core CPU with one
#: thread: this page's quick profile (2 state dimensions × 4 seeds × depths 8, 16, 24 = 384 block-networks,
#: 2,400 steps) computed in 59 s, 64 µs each; its stacks mix depths and n = 4, so they cost more per block than
#: the 44–46 µs of the 30-block stacks of Figs. 2–4 (book/methods.md#p1-training). Plus a fixed part.
SECONDS_PER_BLOCK_STEP = 6.5e-5
SECONDS_FIXED = 3.0
#: Peak resident memory (``resource.getrusage``, 20 steps): 296 MB for 1 seed × 2 state dimensions × 48
#: blocks, 322 MB for 6 seeds, 823 MB for 20 seeds × 2 × 180 blocks: about 0.075 MB per block-network on
#: top of the process with torch; plus the objective's history, 16 bytes per network and step.
MEMORY_FIXED = 300 * 2**20
MEMORY_PER_BLOCK = 0.075 * 2**20
MEMORY_PER_NETWORK_STEP = 16


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run of ``cfg`` on the project's 2-core CPU (constants above)."""
    networks = len(cfg.state_dims) * cfg.seeds * len(cfg.depths)
    blocks = len(cfg.state_dims) * cfg.seeds * sum(cfg.depths)
    size = cfg.width / 8 * cfg.n_per_class / 240  # 1 at the measured sizes
    seconds = SECONDS_FIXED + SECONDS_PER_BLOCK_STEP * size * blocks * cfg.steps
    memory = MEMORY_FIXED + MEMORY_PER_BLOCK * size * blocks + MEMORY_PER_NETWORK_STEP * networks * cfg.steps
    return Cost(seconds=seconds, memory_bytes=int(memory))


# -- numbers ----------------------------------------------------------------------------------
def _eps_values(res: Result) -> list[float]:
    """ε of the claim and the further ε values, sorted."""
    return sorted({float(res.config.eps_turnpike), *map(float, res.config.eps_grid)})


def _nets(res: Result, n: int, *, trained_only: bool = False) -> list[tuple[NetworkRecord, str]]:
    """The networks of state dimension ``n`` with their status (only the trained ones if ``trained_only``)."""
    return [
        (r, s)
        for r, s, d in zip(res.networks, res.status, res.state_dim)
        if d == n and (s == "trained" or not trained_only)
    ]


def off_turnpike_counts(
    res: Result, eps: float, n: int, split: str = "train", *, trained_only: bool = True
) -> dict[int, list[int]]:
    """#Q̄_ε per depth for state dimension ``n``, one entry per seed: of the trained networks (default),
    or of every network (``trained_only=False``). Depths without a trained network are left out."""
    out: dict[int, list[int]] = {}
    for r, _ in _nets(res, n, trained_only=trained_only):
        out.setdefault(r.depth, []).append(off_turnpike_count(getattr(r, split).dist, eps))
    return dict(sorted(out.items()))


def slope_vs_depth(counts: dict[int, list[int]]) -> float:
    """Least-squares slope of the seed median of #Q̄_ε against N (NaN with fewer than two depths).

    The median is the ordinary one (the mean of the middle two of an even count), as everywhere on the page.
    """
    if len(counts) < 2:
        return float("nan")
    n = torch.tensor(list(counts), dtype=torch.float64)
    c = torch.tensor([spread(v)[0] for v in counts.values()], dtype=torch.float64)
    n0 = n - n.mean()
    return float((n0 * (c - c.mean())).sum() / (n0**2).sum())


def _by_depth(res: Result, n: int, get) -> dict[str, list[Any]]:
    """``get(record)`` of every network of state dimension ``n``, per depth (seed order)."""
    depths = sorted(res.config.depths)
    return {str(N): [get(r) for r, _ in _nets(res, n) if r.depth == N] for N in depths}


def _numbers_of_dim(res: Result, n: int) -> dict[str, Any]:
    """The sidecar's numbers of one state dimension."""
    eps = res.config.eps_turnpike
    counts = off_turnpike_counts(res, eps, n)
    status = _by_depth(res, n, lambda r: res.status[res.networks.index(r)])
    return {
        "status": status,
        "trained_per_depth": {N: sum(s == "trained" for s in v) for N, v in status.items()},
        "diverged_per_depth": {N: sum(s == "diverged" for s in v) for N, v in status.items()},
        "off_turnpike_count_trained": {str(N): v for N, v in counts.items()},
        "off_turnpike_count_all": _by_depth(res, n, lambda r: off_turnpike_count(r.train.dist, eps)),
        "off_turnpike_count_test_trained": {str(N): v for N, v in off_turnpike_counts(res, eps, n, "test").items()},
        "off_turnpike_count_by_eps_trained": {
            f"{e:g}": {str(N): v for N, v in off_turnpike_counts(res, e, n).items()} for e in _eps_values(res)
        },
        "slope_off_turnpike_count_vs_N_trained": slope_vs_depth(counts),
        "k_star": _by_depth(res, n, lambda r: r.train_summary.k_star),
        "train_acc_at_N": _by_depth(res, n, lambda r: float(r.train.acc[-1])),
    }


def key_numbers(res: Result) -> dict[str, Any]:
    """Per state dimension (``"n=4"``, ``"n=2"``): the status of every network per depth, #Q̄_ε of the
    trained networks per depth (train, test, every ε) and of all, its slope against N, k⋆ and acc_N."""
    return {
        "eps_turnpike": res.config.eps_turnpike,
        "trained_acc_threshold": TRAINED_ACC,
        "verdict_rule": {"slope_bounded": SLOPE_BOUNDED, "slope_growing": SLOPE_GROWING, "min_depths": MIN_DEPTHS},
        **{f"n={n}": _numbers_of_dim(res, n) for n in res.config.state_dims},
    }


def q7_verdict(slope: float, other_slopes: list[float], depths_trained: int, most_trained: bool) -> str:
    """P1-Q7's verdict for one state dimension (book/methods.md#p1-horizon-choices).

    ``not measured`` with fewer than :data:`MIN_DEPTHS` depths that have a trained network; reproduced
    when the slope of the trained networks' median #Q̄_ε against N is at most :data:`SLOPE_BOUNDED` and
    more than half of the seeds trained at every depth (``most_trained``); partial when the slope is at
    most :data:`SLOPE_GROWING` or another ε's slope (``other_slopes``) is at most :data:`SLOPE_BOUNDED`.
    """
    partly = slope <= SLOPE_GROWING or any(v <= SLOPE_BOUNDED for v in other_slopes)
    return verdict(slope <= SLOPE_BOUNDED and most_trained, partly=partly, measurable=depths_trained >= MIN_DEPTHS)


def _claim_bounded(res: Result, n: int) -> Claim:
    """P1-Q7 at state dimension ``n``: bounded if the slope over the trained networks is small (rule above)."""
    eps = res.config.eps_turnpike
    counts = off_turnpike_counts(res, eps, n)
    s = slope_vs_depth(counts)
    others = {e: slope_vs_depth(off_turnpike_counts(res, e, n)) for e in _eps_values(res) if e != eps}
    per_depth = []
    most = True
    for N in sorted(res.config.depths):
        c = status_counts([st for r, st in _nets(res, n) if r.depth == N])
        total = sum(c.values())
        most = most and c["trained"] > total / 2
        per_depth.append(
            f"N = {N}: {c['trained']} of {total} trained ({c['not trained']} not trained, {c['diverged']} "
            f"diverged), #off of the trained {counts.get(N, [])}"
        )
    text = (
        f"n = {n}, eps = {eps:g}: "
        + "; ".join(per_depth)
        + f"; slope of the trained seeds' median against N: {s:.3f} per layer (bounded if <= {SLOPE_BOUNDED}, "
        + f"needs >= {MIN_DEPTHS} depths with a trained network and most seeds trained at each); other eps: "
        + ", ".join(f"{e:g}: {v:.3f}" for e, v in others.items())
    )
    return Claim(
        f"P1-Q7 (n = {n})",
        "Prop. 12: the number of layers off the turnpike, #Q̄_ε, is bounded independently of the depth N"
        + (f" (state zero-padded to n = {n})." if n > C else " (the 2-D state of Figs. 2–4)."),
        text,
        q7_verdict(s, list(others.values()), len(counts), most),
    )


def claims(res: Result) -> list[Claim]:
    """P1-Q7 for each state dimension (the rule: :func:`q7_verdict`)."""
    return [_claim_bounded(res, n) for n in res.config.state_dims]


# -- tables -----------------------------------------------------------------------------------
def _spread_text(values: list[float], fmt: str = "g") -> str:
    """ "median (min–max)" of ``values`` ("–" when empty; the median alone when all are equal)."""
    if not values:
        return "–"
    med, lo, hi = spread(values)
    return format(med, fmt) if lo == hi else f"{med:{fmt}} ({lo:{fmt}}–{hi:{fmt}})"


def _at_depth(res: Result, n: int, N: int, get, *, trained_only: bool = True) -> list[float]:
    """``get(record)`` of the networks of state dimension ``n`` and depth ``N`` (the trained ones by default)."""
    return [get(r) for r, _ in _nets(res, n, trained_only=trained_only) if r.depth == N]


def count_table(res: Result) -> Table:
    """Per state dimension and depth: how many networks trained, did not train or diverged, #Q̄_ε of the
    trained ones for every ε (train; test at the ε of the claim) as median (min–max) over the seeds, and
    the slope of the median against N at the ε of the claim."""
    depths = sorted(res.config.depths)
    eps = res.config.eps_turnpike
    rows = []
    for n in res.config.state_dims:
        c = {N: status_counts([s for r, s in _nets(res, n) if r.depth == N]) for N in depths}
        rows.append(
            [n, "trained / not / diverged"] + [f"{v['trained']}/{v['not trained']}/{v['diverged']}" for v in c.values()]
        )
        for e in _eps_values(res):
            counts = off_turnpike_counts(res, e, n)
            rows.append([n, f"#Q̄_ε, ε = {e:g}"] + [_spread_text(counts.get(N, [])) for N in depths])
        test = off_turnpike_counts(res, eps, n, "test")
        rows.append([n, f"#Q̄_ε test, ε = {eps:g}"] + [_spread_text(test.get(N, [])) for N in depths])
        slope = slope_vs_depth(off_turnpike_counts(res, eps, n))
        rows.append([n, f"slope against N, ε = {eps:g}", f"{slope:.3f}"] + [""] * (len(depths) - 1))
    return Table(
        ["n", ""] + [f"N = {N}" for N in depths],
        rows,
        caption="Off-turnpike layers #Q̄_ε of the trained networks: median (min–max) over the seeds",
    )


def depth_table(res: Result) -> Table:
    """Per state dimension and depth: k⋆ and d_N of the trained networks and acc_N of every network, as
    median (min–max) over the seeds."""
    depths = sorted(res.config.depths)
    rows = []
    for n in res.config.state_dims:
        rows.append([n, "k⋆ (train loss), trained"] + [_spread_text(_at_depth(res, n, N, _k_star)) for N in depths])
        rows.append([n, "RMS d_N, trained"] + [_spread_text(_at_depth(res, n, N, _d_last), ".2f") for N in depths])
        acc = [_spread_text(_at_depth(res, n, N, _acc_last, trained_only=False), ".3f") for N in depths]
        rows.append([n, "train acc_N, all"] + acc)
    return Table(["n", ""] + [f"N = {N}" for N in depths], rows, caption="Required depth, last distance and accuracy")


def _k_star(r: NetworkRecord) -> float:
    return r.train_summary.k_star


def _d_last(r: NetworkRecord) -> float:
    return float(r.train.dist[-1])


def _acc_last(r: NetworkRecord) -> float:
    return float(r.train.acc[-1])


def misclassified_summary(res: Result) -> str:
    """Why a 2-D state that does not fit every point keeps d_k high: a point on the other class's minimiser
    line (z = x_1 − x_2 = ∓z⋆ instead of ±z⋆) lies 2z⋆/√2 from its own, so a fraction f of such points alone
    gives the RMS distance √f · 2z⋆/√2; it equals ε at f = (ε√2 / 2z⋆)²."""
    eps = res.config.eps_turnpike
    far = 2 * res.z_star / math.sqrt(2)
    return (
        f"With p_d = {res.config.p_d:g} the minimiser lines are x₁ − x₂ = ±z⋆ with z⋆ = {res.z_star:.4f} "
        f"(Lemma 3), so a point on the other class's line is 2z⋆/√2 = {far:.2f} away from its own, and a "
        f"fraction of {(eps / far) ** 2:.1%} of such points alone gives d_k = ε = {eps:g} at every layer, "
        "whatever N."
    )


# -- the figure --------------------------------------------------------------------------------
#: Line style of a network's curves by its status.
STATUS_STYLE = {"trained": "-", "not trained": "-.", "diverged": ":"}


def _count_panel(ax, res: Result, n: int) -> None:
    """#Q̄_ε against N for each ε: dots the trained networks, line the median of the trained ones; crosses
    the networks that did not train or diverged (at the ε of the claim); #Q̄ = N for reference."""
    depths = sorted(res.config.depths)
    eps_main = res.config.eps_turnpike
    n_arr = np.array(depths)
    ax.plot(n_arr, n_arr, color="0.3", ls=":", lw=1.2, zorder=4, label=r"$\#\bar Q_\varepsilon = N$ (no turnpike)")
    for i, e in enumerate(_eps_values(res)):
        counts = off_turnpike_counts(res, e, n)
        col = PALETTE[i % 7]
        shown = [N for N in depths if N in counts]
        med = [float(np.median(counts[N])) for N in shown]
        ax.plot(shown, med, "-", color=col, lw=2.2 if e == eps_main else 1.2, label=rf"$\varepsilon = {e:g}$")
        for N in shown:
            ax.plot([N] * len(counts[N]), counts[N], "o", color=col, ms=4, alpha=0.7)
    failed = [(r.depth, off_turnpike_count(r.train.dist, eps_main)) for r, s in _nets(res, n) if s != "trained"]
    if failed:
        ax.plot(*zip(*failed), "x", color="k", ms=6, label=rf"not trained / diverged ($\varepsilon = {eps_main:g}$)")
    ax.set(xlabel="depth $N$", ylabel=r"$\#\bar Q_\varepsilon$ (layers $k<N$ with $d_k > \varepsilon$)", ylim=(0, None))
    ax.set_xticks(depths)
    ax.set_title(rf"$n = {n}$")


def _k_star_panel(ax, res: Result, n: int) -> None:
    """The medians of k⋆ and k⋆_acc over the trained networks against N."""
    depths = sorted(res.config.depths)
    for key, style, name in (
        ("k_star", dict(marker="o", ms=8, ls="-", lw=2, color=PALETTE[0]), r"$k^\star$ (loss)"),
        ("k_star_acc", dict(marker="s", ms=4, ls="--", lw=1, color=PALETTE[1]), r"$k^\star_\mathrm{acc}$"),
    ):
        vals = {N: _at_depth(res, n, N, lambda r, k=key: getattr(r.train_summary, k)) for N in depths}
        shown = [N for N in depths if vals[N]]
        ax.plot(shown, [spread(vals[N])[0] for N in shown], label=name + ", median of the trained", **style)
    ax.plot(depths, depths, color="0.5", ls=":", lw=1, label=r"$= N$")
    ax.set(xlabel="depth $N$", ylabel="required depth", ylim=(0, None))
    ax.set_xticks(depths)
    ax.set_title(rf"$n = {n}$")


def _layer_panel(ax, res: Result, n: int, key: str) -> None:
    """d_k (``key = "dist"``, with the ε levels) or L_k (``"loss"``) against k for every network of state
    dimension ``n`` (colour: N; line style: status)."""
    for i, N in enumerate(sorted(res.config.depths)):
        col = PALETTE[i % 7]
        for j, (r, s) in enumerate((r, s) for r, s in _nets(res, n) if r.depth == N):
            kw = dict(color=col, ls=STATUS_STYLE[s], lw=1.2 if s == "trained" else 0.9, alpha=0.8)
            ax.plot(np.arange(N + 1), getattr(r.train, key).numpy(), label=f"N = {N}" if j == 0 else None, **kw)
    if key == "dist":
        for e in _eps_values(res):
            ax.axhline(e, color="k", lw=1.2 if e == res.config.eps_turnpike else 0.6, ls="--")
        ax.set(ylabel=r"RMS dist$(x_k, X^\star_y)$ $d_k$")
        ax.set_title(rf"$n = {n}$: distance to the turnpike")
    else:
        ax.set(ylabel=r"stage loss $L_k$ (train)")
        ax.set_title(rf"$n = {n}$: stage loss")
    ax.set(xlabel="layer $k$", yscale="log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    log_ticks(ax)


def _legend_below(fig: Figure, axes, extra: list | None = None, ncol: int = 3) -> None:
    """One legend under the whole figure: the labelled artists of ``axes`` (each label once), then ``extra``."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    for h in extra or []:
        handles.setdefault(h.get_label(), h)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=ncol)


def _status_handles() -> list:
    """Legend entries for the line styles of the three statuses."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color="0.4", ls=ls, lw=1.2, label=s) for s, ls in STATUS_STYLE.items()]


def _dots_text(res: Result) -> str:
    """What the dots and the line of the count panels are, for this run's number of seeds."""
    if res.config.seeds == 1:
        return "dots: the one network per depth when it trained, joined by a line"
    return f"dots: the trained networks of the {res.config.seeds} seeds per depth, line: their median"


def _figure_row(res: Result, panel, nrows: int = 1, height: float = 3.3):
    """A figure with one column per state dimension (``nrows`` rows), ``panel(ax, n, row)`` drawing each."""
    dims = res.config.state_dims
    fig, axes = new_figure(len(dims), nrows, width=min(4.2, 8.4 / len(dims)), height=height)
    for row in range(nrows):
        for ax, n in zip(axes[row], dims):
            panel(ax, n, row)
    return fig, [a for row in axes for a in row]


def plot_turnpike_horizon(res: Result) -> list[Shown]:
    """Companion figure 1: #Q̄_ε against N per state dimension; Companion figure 2: d_k and L_k against k for
    every network; Companion figure 3: k⋆ against N (panel letters continue over the page)."""
    dims = res.config.state_dims
    m = len(dims)
    fig1, ax1 = _figure_row(res, lambda ax, n, row: _count_panel(ax, res, n))
    letter_panels(ax1)
    _legend_below(fig1, ax1)
    fig2, ax2 = _figure_row(res, lambda ax, n, row: _layer_panel(ax, res, n, ("dist", "loss")[row]), 2)
    letter_panels(ax2, start=m)
    _legend_below(fig2, ax2, _status_handles(), ncol=max(3, len(res.config.depths)))
    fig3, ax3 = _figure_row(res, lambda ax, n, row: _k_star_panel(ax, res, n))
    letter_panels(ax3, start=3 * m)
    _legend_below(fig3, ax3)
    eps = res.config.eps_turnpike
    letters = "abcdefghijklmnopqrstuvwxyz"
    dims_text = " and ".join(f"n = {n}" for n in dims)
    return [
        Shown(
            fig1,
            f"Companion figure 1 ({', '.join(letters[:m])}). The off-turnpike count #Q̄_ε against the depth N, "
            f"for {dims_text}, at ε = " + ", ".join(f"{e:g}" for e in _eps_values(res)) + f" ({_dots_text(res)}; "
            f"crosses: networks that did not train or diverged, at ε = {eps:g}; dotted: #Q̄_ε = N, no turnpike).",
            "Line plots of the number of layers off the turnpike against the depth, one panel per state "
            "dimension, one line per epsilon, with the diagonal of no turnpike for reference. A bounded count "
            "is a flat line well below the diagonal.",
        ),
        Shown(
            fig2,
            f"Companion figure 2 ({letters[m]}–{letters[3 * m - 1]}). Top: the RMS distance d_k to the "
            "minimiser lines against the layer k (dashed: the ε levels); bottom: the stage loss L_k; every "
            "network, colour by depth N, line style by status (log scales).",
            "Line plots against the layer, one column per state dimension: the distance to the turnpike on top "
            "and the stage loss below, one curve per network coloured by its depth. Curves of every depth that "
            "drop below the epsilon lines after the same few layers mean a bounded off-turnpike count.",
            "layers",
        ),
        Shown(
            fig3,
            f"Companion figure 3 ({', '.join(letters[3 * m : 4 * m])}). The loss-based required depth k⋆ and "
            "the accuracy-based k⋆_acc against N (median of the trained networks; dotted: = N).",
            "Line plots of the required depth against the network depth, one panel per state dimension, with "
            "the diagonal for reference; a flat line means the extra depth is spent on the turnpike.",
            "required-depth",
        ),
    ]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Prop. 12: the off-turnpike layer count against the depth N"
PAPER_FIGURE = ""
plot = plot_turnpike_horizon
