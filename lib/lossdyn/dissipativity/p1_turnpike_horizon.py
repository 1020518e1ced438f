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
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from lossdyn.dissipativity.soft_ce import delta
from lossdyn.dissipativity.spirals import (
    STATE_DIM_RANGE,
    TRAINED_ACC,
    C,
    SpiralsTrainingConfig,
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
from lossdyn.pipeline.plotting import PALETTE, letter_panels, new_figure
from lossdyn.pipeline.units import NetworkPlan

__all__ = [
    "Config",
    "Result",
    "claims",
    "count_table",
    "estimate",
    "finish",
    "key_numbers",
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
def _count_rows(res: Result, n: int) -> list[tuple[str, list[str]]]:
    """The rows of :func:`count_table` for state dimension ``n`` (cells: one value per seed, joined by /)."""
    depths = sorted(res.config.depths)
    nets = _nets(res, n)
    short = {"trained": "T", "not trained": "u", "diverged": "D"}
    rows: list[tuple[str, list[str]]] = [
        ("status (T/u/D)", ["".join(short[s] for r, s in nets if r.depth == N) for N in depths])
    ]
    for e in _eps_values(res):
        c = off_turnpike_counts(res, e, n)
        rows.append((f"#off trained, eps = {e:g}", ["/".join(map(str, c.get(N, []))) or "-" for N in depths]))
    e = res.config.eps_turnpike
    c = off_turnpike_counts(res, e, n, "test")
    rows.append((f"#off test, eps = {e:g}", ["/".join(map(str, c.get(N, []))) or "-" for N in depths]))
    for name, get in (
        ("k* (train loss, 5%)", lambda r: str(r.train_summary.k_star)),
        ("train acc at N", lambda r: f"{float(r.train.acc[-1]):.3f}"),
        ("RMS dist d_N", lambda r: f"{float(r.train.dist[-1]):.3f}"),
    ):
        rows.append((f"{name}, all", ["/".join(get(r) for r, _ in nets if r.depth == N) for N in depths]))
    return rows


def count_table(res: Result) -> str:
    """Per state dimension: each network's status (T trained, u not trained, D diverged; seeds in order),
    #Q̄_ε of the trained networks for every ε and N, then k⋆, acc_N and d_N of every network, and the slope."""
    depths = sorted(res.config.depths)
    lines = []
    for n in res.config.state_dims:
        rows = _count_rows(res, n)
        w = max(10, *(len(cell) for _, cells in rows for cell in cells)) + 2
        head = f"{'n = ' + str(n):<28}" + "".join(f"{'N = ' + str(N):>{w}}" for N in depths)
        lines += [head, "-" * len(head)]
        lines += [f"{name:<28}" + "".join(f"{cell:>{w}}" for cell in cells) for name, cells in rows]
        e = res.config.eps_turnpike
        s = slope_vs_depth(off_turnpike_counts(res, e, n))
        lines += [f"{'slope of #off vs N':<28}{s:>{w}.3f}  (eps = {e:g}, median of the trained seeds)", ""]
    return "\n".join(lines).rstrip()


# -- the figure --------------------------------------------------------------------------------
#: Line style of a network's curves by its status.
STATUS_STYLE = {"trained": "-", "not trained": "-.", "diverged": ":"}


def _count_panel(ax, res: Result, n: int) -> None:
    """#Q̄_ε against N for each ε: dots the trained seeds, line their median; crosses the networks that did
    not train or diverged (at the ε of the claim); #Q̄ = N for reference."""
    depths = sorted(res.config.depths)
    eps_main = res.config.eps_turnpike
    n_arr = np.array(depths)
    ax.plot(n_arr, n_arr, color="0.5", ls=":", lw=1, label=r"$\#\bar Q_\varepsilon = N$ (no turnpike)")
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
    ax.set(
        xlabel="depth $N$",
        ylabel=r"$\#\bar Q_\varepsilon$ = layers $k<N$ with $d_k > \varepsilon$",
        title=rf"Prop. 12, $n = {n}$: off-turnpike layers",
        ylim=(0, None),
    )
    ax.legend(loc="upper left", framealpha=0.85, fontsize=6.5)


def _k_star_panel(ax, res: Result, n: int) -> None:
    """The seed medians of k⋆ and k⋆_acc of the trained networks against N."""
    depths = sorted(res.config.depths)
    for key, style, name in (
        ("k_star", dict(marker="o", ms=8, ls="-", lw=2), r"$k^\star$ (loss, 5 %)"),
        ("k_star_acc", dict(marker="s", ms=4, ls="--", lw=1), r"$k^\star_\mathrm{acc}$"),
    ):
        vals = {
            N: [getattr(r.train_summary, key) for r, _ in _nets(res, n, trained_only=True) if r.depth == N]
            for N in depths
        }
        shown = [N for N in depths if vals[N]]
        ax.plot(shown, [spread(vals[N])[0] for N in shown], label=name + " (median, trained)", **style)
    ax.plot(depths, depths, color="0.5", ls=":", lw=1, label=r"$= N$")
    ax.set(xlabel="depth $N$", ylabel="required depth", title=rf"$n = {n}$: required depth $k^\star$", ylim=(0, None))
    ax.legend(loc="upper left", framealpha=0.85, fontsize=7)


def _layer_panels(ax_d, ax_l, res: Result, n: int) -> None:
    """d_k and L_k against k for every network of state dimension ``n`` (colour: N; line style: status)."""
    depths = sorted(res.config.depths)
    for i, N in enumerate(depths):
        col = PALETTE[i % 7]
        first = True
        for r, s in _nets(res, n):
            if r.depth != N:
                continue
            kw = dict(color=col, ls=STATUS_STYLE[s], lw=1.0 if s == "trained" else 0.7, alpha=0.7)
            ax_d.plot(np.arange(N + 1), r.train.dist.numpy(), label=f"N = {N}" if first else None, **kw)
            ax_l.plot(np.arange(N + 1), r.train.loss.numpy(), label=f"N = {N}" if first else None, **kw)
            first = False
    for s, ls in STATUS_STYLE.items():
        ax_l.plot([], [], color="0.4", ls=ls, lw=0.8, label=s)
    for e in _eps_values(res):
        ax_d.axhline(e, color="k", lw=1.2 if e == res.config.eps_turnpike else 0.6, ls="--")
    ax_d.set(
        xlabel="layer $k$",
        ylabel=r"RMS dist$(x_k, X^\star_y)$ $d_k$",
        yscale="log",
        title=rf"$n = {n}$: distance to the turnpike (dashed: $\varepsilon$)",
    )
    ax_d.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_d.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax_d.legend(loc="upper right", framealpha=0.85, fontsize=7)
    ax_l.set(xlabel="layer $k$", ylabel=r"stage loss $L_k$ (train)", yscale="log", title=rf"$n = {n}$: stage loss")
    ax_l.legend(loc="upper right", framealpha=0.85, fontsize=7)


def plot_turnpike_horizon(res: Result) -> Figure:
    """One row per state dimension n: (a) #Q̄_ε against N for each ε (dots: trained seeds, line: their
    median, crosses: networks that did not train or diverged) with #Q̄ = N for reference; (b) k⋆ against N;
    (c) the RMS distance d_k against k for every network; (d) the stage loss L_k (line style: status)."""
    dims = res.config.state_dims
    fig, axes = new_figure(4, len(dims), width=3.9, height=3.4)
    for row, n in zip(axes, dims):
        _count_panel(row[0], res, n)
        _k_star_panel(row[1], res, n)
        _layer_panels(row[2], row[3], res, n)
    letter_panels(a for row in axes for a in row)
    return fig


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Prop. 12: the off-turnpike layer count against the depth N"
PAPER_FIGURE = ""
plot = plot_turnpike_horizon
