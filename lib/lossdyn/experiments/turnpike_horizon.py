"""Paper 1, Proposition 12 measured: the off-turnpike layer count against the depth N (two spirals).

Prop. 12: with Q_ε = {k ∈ [0, N−1] : dist(x_k, X̄⋆) ≤ ε}, #Q_ε ≥ N − V̂/α(ε), i.e. the number
#Q̄_ε = N − #Q_ε of layers off the turnpike is bounded independently of N. We train the two-spirals
network of Figs. 2–4 with the stage cost at several depths N (same recipe, same data, the same
first blocks at initialisation, all in one :class:`lossdyn.turnpike_training.ResNetStack`), and
count, for each, the layers whose RMS distance d_k to the minimiser lines exceeds ε.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from lossdyn.claims import Claim, verdict
from lossdyn.config import register
from lossdyn.experiments.two_spirals_turnpike import SpiralsTrainingConfig, spirals_setup, train_spirals
from lossdyn.soft_ce import delta
from lossdyn.turnpike import off_turnpike_count
from lossdyn.units import NetworkPlan

__all__ = ["TurnpikeHorizonConfig", "claims", "count_table", "key_numbers", "finish", "network_specs", "off_counts", "plan", "run", "slope"]

C = 2
NET_SEED_OFFSET = 100
TRAINED_ACC = 0.9
#: Q7: #Q̄_ε counts as bounded when its least-squares slope against N is at most this ...
SLOPE_BOUNDED = 0.2
#: ... and as growing (not bounded) above this; in between: partial.
SLOPE_GROWING = 0.5


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class TurnpikeHorizonConfig(SpiralsTrainingConfig):
    """Parameters of ``p1_turnpike_horizon`` (see the notebook for their defaults)."""

    notebook = "p1_turnpike_horizon"

    depths: tuple[int, ...]  # the depths N to train
    eps_grid: tuple[float, ...]  # further ε values shown

    def validate(self) -> None:
        super().validate()
        self._require("depths", len(self.depths) >= 2 and all(1 <= d <= 1000 for d in self.depths)
                      and len(set(self.depths)) == len(self.depths), "at least two distinct depths in 1..1000")
        self._require("eps_grid", all(e > 0 for e in self.eps_grid), "positive values")


def network_specs(cfg: TurnpikeHorizonConfig) -> list[dict[str, Any]]:
    """The stage-cost network at every depth (deepest first) and seed."""
    return [
        {"label": f"N = {d}, seed {i}", "depth": d, "seed_index": i, "stage_cost": True, "lr": cfg.lr,
         "seed": cfg.seed + NET_SEED_OFFSET + i}
        for i in range(cfg.seeds) for d in sorted(cfg.depths, reverse=True)
    ]


def _train(cfg: TurnpikeHorizonConfig, nets: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    records = train_spirals(cfg, nets, [False] * len(nets), device, desc="horizon")
    for r in records:  # keep the result small: no training histories
        r.pop("history_objective")
        r.pop("history_terminal")
    return records


def finish(cfg: TurnpikeHorizonConfig, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"config": cfg.to_dict(), "z_star": -delta(C, cfg.p_d), "networks": records}


def plan(cfg: TurnpikeHorizonConfig) -> NetworkPlan:
    """Units: one network (depth, seed) each (cache and sweep grain, :mod:`lossdyn.units`)."""
    nets = network_specs(cfg)
    return NetworkPlan(spirals_setup(cfg, ("seeds", "depths", "eps_grid", "lr")), nets, [False] * len(nets),
                       lambda n, k, dev: _train(cfg, n, dev), lambda records: finish(cfg, records))


def run(cfg: TurnpikeHorizonConfig) -> dict[str, Any]:
    """Train the stage-cost network at every depth and seed as one stack; measure every layer."""
    return finish(cfg, _train(cfg, network_specs(cfg), cfg.device))


def _eps_values(res: dict[str, Any]) -> list[float]:
    cfg = res["config"]
    return sorted({float(cfg["eps_turnpike"]), *map(float, cfg["eps_grid"])})


def off_counts(res: dict[str, Any], eps: float, split: str = "train", *, trained_only: bool = False) -> dict[int, list[int]]:
    """#Q̄_ε per depth, one entry per seed (``trained_only``: only networks with train acc_N ≥ 0.9)."""
    out: dict[int, list[int]] = {}
    for r in res["networks"]:
        if trained_only and float(r["train"]["acc"][-1]) < TRAINED_ACC:
            continue
        out.setdefault(r["depth"], []).append(off_turnpike_count(r[split]["dist"], eps))
    return dict(sorted(out.items()))


def slope(counts: dict[int, list[int]]) -> float:
    """Least-squares slope of the seed-median of #Q̄_ε against N (the median shrugs off one failed run)."""
    n = torch.tensor(list(counts), dtype=torch.float64)
    c = torch.tensor([float(torch.tensor(v, dtype=torch.float64).median()) for v in counts.values()],
                     dtype=torch.float64)
    n0 = n - n.mean()
    return float((n0 * (c - c.mean())).sum() / (n0**2).sum())


def key_numbers(res: dict[str, Any]) -> dict[str, Any]:
    eps = res["config"]["eps_turnpike"]
    counts = off_counts(res, eps)
    return {
        "eps_turnpike": eps,
        "off_turnpike_count": {str(N): v for N, v in counts.items()},
        "off_turnpike_count_test": {str(N): v for N, v in off_counts(res, eps, "test").items()},
        "off_turnpike_count_by_eps": {f"{e:g}": {str(N): v for N, v in off_counts(res, e).items()}
                                      for e in _eps_values(res)},
        "slope_off_count_vs_N": slope(counts),
        "k_star": {str(N): [r["train_summary"]["k_star"] for r in res["networks"] if r["depth"] == N] for N in counts},
        "train_acc_at_N": {str(N): [float(r["train"]["acc"][-1]) for r in res["networks"] if r["depth"] == N]
                           for N in counts},
    }


def claims(res: dict[str, Any]) -> list[Claim]:
    """Q7: bounded if the slope at the quoted ε is small; partial if it is moderate or small at another ε."""
    eps = res["config"]["eps_turnpike"]
    counts = off_counts(res, eps)
    s = slope(counts)
    others = {e: slope(off_counts(res, e)) for e in _eps_values(res) if e != eps}
    failed = [r["label"] for r in res["networks"] if float(r["train"]["acc"][-1]) < TRAINED_ACC]
    trained = off_counts(res, eps, trained_only=True)
    s_trained = slope(trained) if len(trained) >= 2 else float("nan")
    text = (f"eps = {eps:g}: #off per N (one value per seed) " + "; ".join(f"N = {N}: {v}" for N, v in counts.items())
            + f"; slope of the seed median against N: {s:.3f} per layer (bounded if <= {SLOPE_BOUNDED}); other eps: "
            + ", ".join(f"{e:g}: {v:.3f}" for e, v in others.items())
            + f"; networks below {TRAINED_ACC:.0%} training accuracy: {', '.join(failed) if failed else 'none'}"
            + (f" (slope without them: {s_trained:.3f})" if failed else ""))
    partly = s <= SLOPE_GROWING or any(v <= SLOPE_BOUNDED for v in others.values())
    return [Claim(
        "P1-Q7", "Prop. 12: the number of layers off the turnpike, #Q̄_ε, is bounded independently of the depth N.",
        text, verdict(s <= SLOPE_BOUNDED, partly=partly),
    )]


def count_table(res: dict[str, Any]) -> str:
    """#Q̄_ε (train; seeds separated by /) for every ε and N, then k⋆ and the final accuracy."""
    eps_values = _eps_values(res)
    depths = sorted({r["depth"] for r in res["networks"]})
    rows: list[tuple[str, list[str]]] = []
    for e in eps_values:
        c = off_counts(res, e)
        rows.append((f"#off, eps = {e:g}", ["/".join(map(str, c[N])) for N in depths]))
    e = res["config"]["eps_turnpike"]
    c = off_counts(res, e, "test")
    rows.append((f"#off test, eps = {e:g}", ["/".join(map(str, c[N])) for N in depths]))
    for name, get in (
        ("k* (train loss, 5%)", lambda r: str(r["train_summary"]["k_star"])),
        ("k*_acc", lambda r: str(r["train_summary"]["k_star_acc"])),
        ("train acc at N", lambda r: f"{float(r['train']['acc'][-1]):.3f}"),
        ("test acc at N", lambda r: f"{float(r['test']['acc'][-1]):.3f}"),
        ("RMS dist d_N", lambda r: f"{float(r['train']['dist'][-1]):.3f}"),
    ):
        rows.append((name, ["/".join(get(r) for r in res["networks"] if r["depth"] == N) for N in depths]))
    w = max(10, *(len(cell) for _, cells in rows for cell in cells)) + 2
    head = f"{'':<24}" + "".join(f"{'N = ' + str(N):>{w}}" for N in depths)
    lines = [head, "-" * len(head)]
    lines += [f"{name:<24}" + "".join(f"{cell:>{w}}" for cell in cells) for name, cells in rows]
    lines.append(f"{'slope of #off vs N':<24}{slope(off_counts(res, e)):>{w}.3f}  (eps = {e:g}, seed median)")
    return "\n".join(lines)
