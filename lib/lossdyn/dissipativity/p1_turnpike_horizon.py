"""Paper 1, Proposition 12 measured: the off-turnpike layer count against the depth N (two spirals).

Prop. 12: with Q_ε = {k ∈ [0, N−1] : dist(x_k, X̄⋆) ≤ ε}, #Q_ε ≥ N − V̂/α(ε), i.e. the number
#Q̄_ε = N − #Q_ε of layers off the turnpike is bounded independently of N. We train the two-spirals
network of Figs. 2–4 with the stage cost at several depths N (the same recipe,
:mod:`lossdyn.dissipativity.spirals`; the same data; the same first blocks at initialisation; all in
one :class:`lossdyn.dissipativity.training.ResNetStack`), and count, for each, the layers whose RMS
distance d_k to the minimiser lines exceeds ε. The paper measures nothing for Prop. 12: the
experiment and its verdict rule are ours (book/methods.md#p1-horizon-choices).
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
    TRAINED_ACC,
    C,
    SpiralsTrainingConfig,
    network_seed,
    spirals_setup,
    train_spirals,
)
from lossdyn.dissipativity.training import NetworkRecord, network_spec
from lossdyn.dissipativity.turnpike import off_turnpike_count
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.plotting import PALETTE, new_figure
from lossdyn.pipeline.units import NetworkPlan

__all__ = [
    "Config",
    "Result",
    "claims",
    "count_table",
    "finish",
    "key_numbers",
    "network_specs",
    "off_turnpike_counts",
    "plan",
    "plot_turnpike_horizon",
    "slope_vs_depth",
]


#: P1-Q7: #Q̄_ε counts as bounded when its least-squares slope against N is at most this ...
SLOPE_BOUNDED = 0.2


#: ... and as growing (not bounded) above this; in between: partial (book/methods.md#p1-horizon-choices).
SLOPE_GROWING = 0.5


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(SpiralsTrainingConfig):
    """Parameters of ``p1_turnpike_horizon`` (see the notebook for their defaults)."""

    depths: tuple[int, ...]  # the depths N to train
    eps_grid: tuple[float, ...]  # further ε values shown

    def validate(self) -> None:
        super().validate()
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
      :func:`network_specs` (role ``"stage_cost"``; per seed, deepest first), without training
      histories or states.
    """

    config: Config
    z_star: float
    networks: list[NetworkRecord]


def network_specs(cfg: Config) -> list[dict[str, Any]]:
    """The stage-cost network at every depth (deepest first) and seed."""
    return [
        network_spec(
            label=f"N = {d}, seed {i}",
            role="stage_cost",
            depth=d,
            stage_cost=True,
            lr=cfg.lr,
            seed=network_seed(cfg, i),
            seed_index=i,
        )
        for i in range(cfg.seeds)
        for d in sorted(cfg.depths, reverse=True)
    ]


def _train(cfg: Config, nets: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """Train ``nets`` as one stack (:func:`~lossdyn.dissipativity.spirals.train_spirals`), without their histories."""
    records = train_spirals(cfg, nets, [False] * len(nets), device, desc="horizon")
    for r in records:  # keep the result small: no training histories
        r.pop("history_objective")
        r.pop("history_terminal")
    return records


def finish(cfg: Config, records: list[dict[str, Any]]) -> Result:
    """The page's result from the records of :func:`network_specs` (in that order)."""
    return Result(config=cfg, z_star=-delta(C, cfg.p_d), networks=[NetworkRecord.from_unit(r) for r in records])


def plan(cfg: Config) -> NetworkPlan:
    """Units: one network (depth, seed) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    nets = network_specs(cfg)
    return NetworkPlan(
        spirals_setup(cfg, ("seeds", "depths", "eps_grid", "lr")),
        nets,
        [False] * len(nets),
        lambda n, k, dev: _train(cfg, n, dev),
    )


def _eps_values(res: Result) -> list[float]:
    """ε of the claim and the further ε values, sorted."""
    return sorted({float(res.config.eps_turnpike), *map(float, res.config.eps_grid)})


def _final_train_acc(rec: NetworkRecord) -> float:
    """acc_N on the training set."""
    return float(rec.train.acc[-1])


def off_turnpike_counts(
    res: Result, eps: float, split: str = "train", *, trained_only: bool = False
) -> dict[int, list[int]]:
    """#Q̄_ε per depth, one entry per seed (``trained_only``: only networks with train acc_N ≥ 0.9)."""
    out: dict[int, list[int]] = {}
    for r in res.networks:
        if trained_only and _final_train_acc(r) < TRAINED_ACC:
            continue
        out.setdefault(r.depth, []).append(off_turnpike_count(getattr(r, split).dist, eps))
    return dict(sorted(out.items()))


def slope_vs_depth(counts: dict[int, list[int]]) -> float:
    """Least-squares slope of the seed-median of #Q̄_ε against N (the median shrugs off one failed run)."""
    n = torch.tensor(list(counts), dtype=torch.float64)
    c = torch.tensor(
        [float(torch.tensor(v, dtype=torch.float64).median()) for v in counts.values()], dtype=torch.float64
    )
    n0 = n - n.mean()
    return float((n0 * (c - c.mean())).sum() / (n0**2).sum())


def key_numbers(res: Result) -> dict[str, Any]:
    """#Q̄_ε per depth and seed (train, test, every ε), its slope against N, k⋆ and acc_N per depth."""
    eps = res.config.eps_turnpike
    counts = off_turnpike_counts(res, eps)
    return {
        "eps_turnpike": eps,
        "off_turnpike_count": {str(N): v for N, v in counts.items()},
        "off_turnpike_count_test": {str(N): v for N, v in off_turnpike_counts(res, eps, "test").items()},
        "off_turnpike_count_by_eps": {
            f"{e:g}": {str(N): v for N, v in off_turnpike_counts(res, e).items()} for e in _eps_values(res)
        },
        "slope_off_turnpike_count_vs_N": slope_vs_depth(counts),
        "k_star": {str(N): [r.train_summary.k_star for r in res.networks if r.depth == N] for N in counts},
        "train_acc_at_N": {str(N): [_final_train_acc(r) for r in res.networks if r.depth == N] for N in counts},
    }


def claims(res: Result) -> list[Claim]:
    """P1-Q7: bounded if the slope at the quoted ε is small; partial if it is moderate or small at another ε."""
    eps = res.config.eps_turnpike
    counts = off_turnpike_counts(res, eps)
    s = slope_vs_depth(counts)
    others = {e: slope_vs_depth(off_turnpike_counts(res, e)) for e in _eps_values(res) if e != eps}
    failed = [r.label for r in res.networks if _final_train_acc(r) < TRAINED_ACC]
    trained = off_turnpike_counts(res, eps, trained_only=True)
    s_trained = slope_vs_depth(trained) if len(trained) >= 2 else float("nan")
    text = (
        f"eps = {eps:g}: #off per N (one value per seed) "
        + "; ".join(f"N = {N}: {v}" for N, v in counts.items())
        + f"; slope of the seed median against N: {s:.3f} per layer (bounded if <= {SLOPE_BOUNDED}); other eps: "
        + ", ".join(f"{e:g}: {v:.3f}" for e, v in others.items())
        + f"; networks below {TRAINED_ACC:.0%} training accuracy: {', '.join(failed) if failed else 'none'}"
        + (f" (slope without them: {s_trained:.3f})" if failed else "")
    )
    partly = s <= SLOPE_GROWING or any(v <= SLOPE_BOUNDED for v in others.values())
    return [
        Claim(
            "P1-Q7",
            "Prop. 12: the number of layers off the turnpike, #Q̄_ε, is bounded independently of the depth N.",
            text,
            verdict(s <= SLOPE_BOUNDED, partly=partly),
        )
    ]


def count_table(res: Result) -> str:
    """#Q̄_ε (train; seeds separated by /) for every ε and N, then k⋆ and the final accuracy."""
    eps_values = _eps_values(res)
    depths = sorted({r.depth for r in res.networks})
    rows: list[tuple[str, list[str]]] = []
    for e in eps_values:
        c = off_turnpike_counts(res, e)
        rows.append((f"#off, eps = {e:g}", ["/".join(map(str, c[N])) for N in depths]))
    e = res.config.eps_turnpike
    c = off_turnpike_counts(res, e, "test")
    rows.append((f"#off test, eps = {e:g}", ["/".join(map(str, c[N])) for N in depths]))
    for name, get in (
        ("k* (train loss, 5%)", lambda r: str(r.train_summary.k_star)),
        ("k*_acc", lambda r: str(r.train_summary.k_star_acc)),
        ("train acc at N", lambda r: f"{float(r.train.acc[-1]):.3f}"),
        ("test acc at N", lambda r: f"{float(r.test.acc[-1]):.3f}"),
        ("RMS dist d_N", lambda r: f"{float(r.train.dist[-1]):.3f}"),
    ):
        rows.append((name, ["/".join(get(r) for r in res.networks if r.depth == N) for N in depths]))
    w = max(10, *(len(cell) for _, cells in rows for cell in cells)) + 2
    head = f"{'':<24}" + "".join(f"{'N = ' + str(N):>{w}}" for N in depths)
    lines = [head, "-" * len(head)]
    lines += [f"{name:<24}" + "".join(f"{cell:>{w}}" for cell in cells) for name, cells in rows]
    s = slope_vs_depth(off_turnpike_counts(res, e))
    lines.append(f"{'slope of #off vs N':<24}{s:>{w}.3f}  (eps = {e:g}, seed median)")
    return "\n".join(lines)


# -- the figure --------------------------------------------------------------------------------
def plot_turnpike_horizon(res: Result) -> Figure:
    """(a) #Q̄_ε against N for each ε (dots: seeds, line: median) with #Q̄ = N for reference;
    (b) k⋆ against N; (c) the RMS distance d_k against k for every N; (d) the stage loss L_k."""
    fig, axes = new_figure(4, 1, width=3.9, height=3.4)
    ax_q, ax_k, ax_d, ax_l = axes[0]
    depths = sorted({r.depth for r in res.networks})
    eps_main = res.config.eps_turnpike
    n_arr = np.array(depths)
    ax_q.plot(n_arr, n_arr, color="0.5", ls=":", lw=1, label=r"$\#\bar Q_\varepsilon = N$ (no turnpike)")
    for i, e in enumerate(_eps_values(res)):
        counts = off_turnpike_counts(res, e)
        col = PALETTE[i % 7]
        med = [float(np.median(counts[N])) for N in depths]
        ax_q.plot(n_arr, med, "-", color=col, lw=2.2 if e == eps_main else 1.2, label=rf"$\varepsilon = {e:g}$")
        for N in depths:
            ax_q.plot([N] * len(counts[N]), counts[N], "o", color=col, ms=4, alpha=0.7)
    ax_q.set(
        xlabel="depth $N$",
        ylabel=r"$\#\bar Q_\varepsilon$ = layers $k<N$ with $d_k > \varepsilon$",
        title=r"Prop. 12: off-turnpike layers",
        ylim=(0, None),
    )
    ax_q.legend(loc="upper left", framealpha=0.85, fontsize=7)

    for key, style, name in (
        ("k_star", dict(marker="o", ms=8, ls="-", lw=2), r"$k^\star$ (loss, 5 %)"),
        ("k_star_acc", dict(marker="s", ms=4, ls="--", lw=1), r"$k^\star_\mathrm{acc}$"),
    ):
        vals = {N: [getattr(r.train_summary, key) for r in res.networks if r.depth == N] for N in depths}
        ax_k.plot(n_arr, [float(np.median(vals[N])) for N in depths], label=name + " (seed median)", **style)
    ax_k.plot(n_arr, n_arr, color="0.5", ls=":", lw=1, label=r"$= N$")
    ax_k.set(xlabel="depth $N$", ylabel="required depth", title=r"required depth $k^\star$ against $N$", ylim=(0, None))
    ax_k.legend(loc="upper left", framealpha=0.85, fontsize=7)

    for i, N in enumerate(depths):
        col = PALETTE[i % 7]
        for r in res.networks:
            if r.depth != N:
                continue
            first = r.seed_index == 0
            ax_d.plot(
                np.arange(N + 1),
                r.train.dist.numpy(),
                color=col,
                lw=1.4 if first else 0.7,
                alpha=1 if first else 0.5,
                label=f"N = {N}" if first else None,
            )
            ax_l.plot(
                np.arange(N + 1),
                r.train.loss.numpy(),
                color=col,
                lw=1.4 if first else 0.7,
                alpha=1 if first else 0.5,
                label=f"N = {N}" if first else None,
            )
    for e in _eps_values(res):
        ax_d.axhline(e, color="k", lw=1.2 if e == eps_main else 0.6, ls="--")
    ax_d.set(
        xlabel="layer $k$",
        ylabel=r"RMS dist$(x_k, X^\star_y)$ $d_k$",
        yscale="log",
        title=r"distance to the turnpike (dashed: $\varepsilon$)",
    )
    ax_d.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_d.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax_d.legend(loc="upper right", framealpha=0.85, fontsize=7)
    ax_l.set(xlabel="layer $k$", ylabel=r"stage loss $L_k$ (train)", yscale="log", title="stage loss")
    ax_l.legend(loc="upper right", framealpha=0.85, fontsize=7)
    for ax, tag in zip((ax_q, ax_k, ax_d, ax_l), "abcd"):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({tag}) {title}", loc="left")
    return fig


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Prop. 12: the off-turnpike layer count against the depth N"
PAPER_FIGURE = ""
plot = plot_turnpike_horizon
