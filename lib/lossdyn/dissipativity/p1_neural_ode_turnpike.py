"""Paper 1, Section 5 measured: the turnpike of the neural ODE (eq. 20–21; Cor. 14, Prop. 16, Prop. 18), two spirals.

The two-spirals network of Figs. 2–4 is trained as a discretised neural ODE x_{k+1} = Φ(x_k; u_k, Δt) with the
right-hand side F of block (26), stage cost Δt·Σ_k ℓ (the left Riemann sum of ∫ℓ dt, eq. 20a) and terminal
cost γ·ℓ_f, at horizons T with N = T/Δt steps (:mod:`lossdyn.dissipativity.neural_ode`):

* explicit Euler on the grid T ∈ ``horizons`` × Δt ∈ ``dts``: the loss L(t) and the distance d(t) to the
  minimiser set at the fixed ``horizon`` for every Δt (the curves of a neural ODE should coincide in t), the
  turnpike time t⋆ = Δt·k⋆, and μ(Θ_ε,T) ≈ Δt·#{k < N : d_k > ε} against T (Prop. 16: bounded in T);
* the same training with the other equilibrium-preserving schemes (``schemes``: explicit midpoint, RK4) at
  Δt = ``scheme_dt`` for every T (Prop. 18: they inherit the dissipativity, hence the turnpike).

Every network is counted as trained, not trained or diverged
(:func:`lossdyn.dissipativity.spirals.network_status`); the numbers and verdicts use the trained ones, and the
curve panels show the representative seed of a declared rule with the others faint. The paper shows no
experiment for Section 5: the experiment and its verdict rules are ours (book/methods.md#p1-neural-ode-choices).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from matplotlib.figure import Figure

from lossdyn.dissipativity.neural_ode import SCHEMES, STAGES, ODERecord, steps_per_unit, train_and_measure_ode
from lossdyn.dissipativity.soft_ce import delta
from lossdyn.dissipativity.spirals import (
    STATE_DIM_RANGE,
    TRAINED_ACC,
    C,
    SpiralsTrainingConfig,
    archived_record,
    network_seed,
    network_status,
    representative_index,
    spirals_data,
    spirals_setup,
    spread,
    status_counts,
)
from lossdyn.dissipativity.training import network_spec
from lossdyn.dissipativity.turnpike import off_turnpike_count
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.device import intra_op_threads, resolve_device, resolve_dtype
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
    "curve_gap",
    "estimate",
    "finish",
    "key_numbers",
    "measure_of_off_turnpike_set",
    "mu_by_horizon",
    "network_specs",
    "plan",
    "plot_neural_ode_turnpike",
    "prop16_verdict",
    "series",
    "slope_vs_horizon",
    "time_table",
    "turnpike_time",
]

#: Prop. 16: μ(Θ_ε,T) counts as bounded when its least-squares slope against T is at most this ...
SLOPE_BOUNDED = 0.2
#: ... and as growing above this; in between: partial (book/methods.md#p1-neural-ode-choices).
SLOPE_GROWING = 0.5
#: "Bounded independently of T" needs a grid: at least this many horizons with a trained network.
MIN_HORIZONS = 3
#: The curves L(t) of two step sizes coincide when their largest gap on the common grid t = 0, 1, …, T is at
#: most this fraction of the drop L(0) − L(T) of the finest step ... (book/methods.md#p1-neural-ode-choices)
GAP_COINCIDE = 0.1
#: ... and partly coincide up to this fraction.
GAP_PARTIAL = 0.25
#: Largest number of steps N = T/Δt of one network.
MAX_STEPS = 4000


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(SpiralsTrainingConfig):
    """Parameters of ``p1_neural_ode_turnpike`` (see the notebook for their defaults)."""

    state_dim: int  # the state dimension n (2: the Figs. 2–4 state; > 2 zero-pads it)
    horizons: tuple[int, ...]  # the horizons T (every scheme, every step size of its series)
    dts: tuple[float, ...]  # the Euler step sizes Δt (1/Δt a whole number)
    horizon: int  # the fixed T of the refinement panels (one of horizons)
    schemes: tuple[str, ...]  # the further schemes trained at scheme_dt (midpoint, rk4)
    scheme_dt: float  # the step size of the further schemes (one of dts)

    def validate(self) -> None:
        super().validate()
        lo, hi = STATE_DIM_RANGE
        self._require("state_dim", lo <= self.state_dim <= hi, f"{lo} <= state_dim <= {hi}")
        self._require(
            "horizons",
            len(self.horizons) >= 2 and all(1 <= T <= 1000 for T in self.horizons) and _distinct(self.horizons),
            "at least two distinct horizons in 1..1000",
        )
        self._require(
            "dts",
            all(_whole_steps(dt) for dt in self.dts) and _distinct(self.dts),
            "distinct step sizes with 1/dt a whole number (1, 0.5, 0.25, ...)",
        )
        self._require(
            "dts",
            max(self.horizons) * steps_per_unit(min(self.dts)) <= MAX_STEPS,
            f"at most {MAX_STEPS} steps T/dt per network",
        )
        self._require("horizon", self.horizon in self.horizons, "one of horizons")
        others = tuple(s for s in SCHEMES if s != "euler")
        self._require(
            "schemes",
            all(s in others for s in self.schemes) and _distinct(self.schemes),
            "distinct values among " + ", ".join(others),
        )
        self._require("scheme_dt", self.scheme_dt in self.dts, "one of dts")


def _distinct(values: tuple) -> bool:
    return len(set(values)) == len(values)


def _whole_steps(dt: float) -> bool:
    try:
        steps_per_unit(dt)
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Result:
    """What the page shows (``finish`` makes it from the networks' unit results).

    * ``config`` — the run's :class:`Config`;
    * ``z_star`` — −δ = ln 19 for p_d = 0.95, the turnpike level of z = x_1 − x_2 (Lemma 3);
    * ``networks`` — one :class:`~lossdyn.dissipativity.neural_ode.ODERecord` per network of
      :func:`network_specs`, in that order;
    * ``status`` — :func:`~lossdyn.dissipativity.spirals.network_status` of each network, same order;
    * ``representative`` — the seed index the curve panels draw bold: the representative of the Euler
      networks at the finest Δt and T = ``horizon``
      (:func:`~lossdyn.dissipativity.spirals.representative_index`: the trained one with the median k⋆).
    """

    config: Config
    z_star: float
    networks: list[ODERecord]
    status: list[str]
    representative: int


def series(cfg: Config) -> list[tuple[str, float]]:
    """The (scheme, Δt) series of the run: Euler at every Δt of ``dts``, then each further scheme at ``scheme_dt``."""
    return [("euler", dt) for dt in cfg.dts] + [(s, cfg.scheme_dt) for s in cfg.schemes]


def network_specs(cfg: Config) -> list[dict[str, Any]]:
    """Every network: per series, per seed, per horizon (longest first); each spec carries ``scheme``, ``dt``
    and ``horizon``, its depth is N = T/Δt."""
    return [
        dict(
            network_spec(
                label=f"{scheme}, dt = {dt:g}, T = {T}, seed {i}",
                role=scheme,
                depth=T * steps_per_unit(dt),
                stage_cost=True,
                lr=cfg.lr,
                seed=network_seed(cfg, i),
                seed_index=i,
            ),
            scheme=scheme,
            dt=dt,
            horizon=T,
        )
        for scheme, dt in series(cfg)
        for i in range(cfg.seeds)
        for T in sorted(cfg.horizons, reverse=True)
    ]


def _train(cfg: Config, nets: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """Train ``nets`` as one :class:`~lossdyn.dissipativity.neural_ode.ODEStack` per (scheme, Δt); the records
    come back in the order of ``nets``."""
    out: list[dict[str, Any] | None] = [None] * len(nets)
    data = spirals_data(cfg, cfg.state_dim)
    for scheme, dt in dict.fromkeys((net["scheme"], net["dt"]) for net in nets):
        idx = [i for i, net in enumerate(nets) if (net["scheme"], net["dt"]) == (scheme, dt)]
        with intra_op_threads(cfg.threads):
            records = train_and_measure_ode(
                [nets[i] for i in idx],
                data,
                scheme=scheme,
                dt=dt,
                n=cfg.state_dim,
                width=cfg.width,
                activation=cfg.activation,
                C=C,
                p_d=cfg.p_d,
                gamma=cfg.gamma,
                weight_decay=cfg.weight_decay,
                eps_required=cfg.eps_required,
                eps_turnpike=cfg.eps_turnpike,
                steps=cfg.steps,
                schedule=cfg.lr_schedule,
                device=resolve_device(device),
                dtype=resolve_dtype(cfg.dtype),
                desc=f"neural ODE, {scheme}, dt = {dt:g}",
            )
        for i, r in zip(idx, records):
            out[i] = r
    return out


def plan(cfg: Config) -> NetworkPlan:
    """Units: one network (scheme, Δt, T, seed) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    nets = network_specs(cfg)
    grid = ("seeds", "horizons", "dts", "horizon", "schemes", "scheme_dt", "lr")
    return NetworkPlan(spirals_setup(cfg, grid), nets, [False] * len(nets), lambda n, k, dev: _train(cfg, n, dev))


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """One unit as the published archive keeps it (:func:`~lossdyn.dissipativity.spirals.archived_record`):
    the objective's history at its first and last step, no terminal-loss history (no panel plots it)."""
    return archived_record(record, terminal=False)


def finish(cfg: Config, records: list[dict[str, Any]]) -> Result:
    """The page's result from the records of :func:`network_specs` (in that order)."""
    nets = [ODERecord.from_unit(r) for r in records]
    status = [network_status(r) for r in nets]
    finest = min(cfg.dts)
    ref = [(r, s) for r, s in zip(nets, status) if _in(r, "euler", finest, cfg.horizon)]
    chosen = representative_index([r.train_summary.k_star for r, _ in ref], [s for _, s in ref])
    return Result(
        config=cfg,
        z_star=-delta(C, cfg.p_d),
        networks=nets,
        status=status,
        representative=ref[chosen][0].seed_index,
    )


def _in(r: ODERecord, scheme: str, dt: float, T: int | None = None) -> bool:
    return r.scheme == scheme and r.dt == dt and (T is None or r.horizon == T)


#: Wall time per Adam step (training and measuring included) on the project's 2-core CPU with one thread: a part
#: per F-evaluation of one network's step, and a part per F-evaluation of a stack's longest network (the per-layer
#: overhead of the batched operations, shared by the networks of a stack). Fitted to two runs measured while other
#: jobs shared the machine: the quick profile (2 seeds, 910 evaluations, 260 per longest networks, 600 steps: 62 s
#: of compute) and the paper profile with 1 seed (910 and 520, 6,000 steps: 828 s).
SECONDS_PER_EVAL_STEP = 7.2e-5
SECONDS_PER_LAYER_STEP = 1.45e-4
SECONDS_FIXED = 3.0
#: Peak resident memory: as the horizon page's stacks (0.075 MB per block-network), per F-evaluation of a step;
#: the quick profile peaked at 326 MB, the paper profile with 1 seed at 331 MB.
MEMORY_FIXED = 300 * 2**20
MEMORY_PER_EVAL = 0.075 * 2**20
MEMORY_PER_NETWORK_STEP = 16


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run of ``cfg`` on the project's 2-core CPU (constants above)."""
    evals = cfg.seeds * sum(STAGES[s] * T * steps_per_unit(dt) for s, dt in series(cfg) for T in cfg.horizons)
    layers = sum(STAGES[s] * max(cfg.horizons) * steps_per_unit(dt) for s, dt in series(cfg))
    networks = cfg.seeds * len(cfg.horizons) * len(series(cfg))
    size = cfg.width / 8 * cfg.n_per_class / 240  # 1 at the measured sizes
    per_step = SECONDS_PER_EVAL_STEP * size * evals + SECONDS_PER_LAYER_STEP * layers
    seconds = SECONDS_FIXED + per_step * cfg.steps
    memory = MEMORY_FIXED + MEMORY_PER_EVAL * size * evals + MEMORY_PER_NETWORK_STEP * networks * cfg.steps
    return Cost(seconds=seconds, memory_bytes=int(memory))


# -- numbers ----------------------------------------------------------------------------------
def measure_of_off_turnpike_set(r: ODERecord, eps: float, split: str = "train") -> float:
    """μ(Θ_ε,T) ≈ Δt·#{k < N : d_k > ε}, the left Riemann sum of the indicator of Θ_ε,T (Prop. 16)."""
    return r.dt * off_turnpike_count(getattr(r, split).dist, eps)


def turnpike_time(r: ODERecord) -> float:
    """t⋆ = Δt·k⋆: the time from which L(t) stays within ``eps_required`` of its drop (k⋆ of the training loss)."""
    return r.dt * r.train_summary.k_star


def _nets(res: Result, scheme: str, dt: float, *, trained_only: bool = False) -> list[tuple[ODERecord, str]]:
    """The networks of one series with their status (only the trained ones if ``trained_only``)."""
    return [
        (r, s) for r, s in zip(res.networks, res.status) if _in(r, scheme, dt) and (s == "trained" or not trained_only)
    ]


def mu_by_horizon(res: Result, scheme: str, dt: float, *, trained_only: bool = True) -> dict[int, list[float]]:
    """μ(Θ_ε,T) per horizon T of one series, one entry per seed (trained networks by default; horizons without
    one are left out), ε = ``eps_turnpike``."""
    out: dict[int, list[float]] = {}
    for r, _ in _nets(res, scheme, dt, trained_only=trained_only):
        out.setdefault(r.horizon, []).append(measure_of_off_turnpike_set(r, res.config.eps_turnpike))
    return dict(sorted(out.items()))


def slope_vs_horizon(values: dict[int, list[float]]) -> float:
    """Least-squares slope of the seed median against T (NaN with fewer than two horizons)."""
    if len(values) < 2:
        return float("nan")
    T = torch.tensor(list(values), dtype=torch.float64)
    v = torch.tensor([spread(x)[0] for x in values.values()], dtype=torch.float64)
    T0 = T - T.mean()
    return float((T0 * (v - v.mean())).sum() / (T0**2).sum())


def prop16_verdict(slope: float, horizons_trained: int, most_trained: bool) -> str:
    """The verdict on "μ(Θ_ε,T) is bounded independently of T" for one series (book/methods.md#p1-neural-ode-choices).

    ``not measured`` with fewer than :data:`MIN_HORIZONS` horizons that have a trained network; reproduced when
    the slope of the trained networks' median μ against T is at most :data:`SLOPE_BOUNDED` and more than half
    of the seeds trained at every T (``most_trained``); partial when the slope is at most :data:`SLOPE_GROWING`.
    """
    return verdict(
        slope <= SLOPE_BOUNDED and most_trained,
        partly=slope <= SLOPE_GROWING,
        measurable=horizons_trained >= MIN_HORIZONS,
    )


def curve_gap(r: ODERecord, ref: ODERecord, key: str = "loss") -> float:
    """max over t = 0, 1, …, T of |c_r(t) − c_ref(t)| / (L_ref(0) − L_ref(T)) for the curve ``key`` (``loss`` or
    ``dist``) of the training set; both networks have the same T, and t = 0, 1, … lies on every grid."""
    a = getattr(r.train, key)[:: steps_per_unit(r.dt)]
    b = getattr(ref.train, key)[:: steps_per_unit(ref.dt)]
    drop = float(ref.train.loss[0] - ref.train.loss[-1])
    return float((a - b).abs().max()) / drop if drop > 0 else float("nan")


def _refinement_gaps(res: Result) -> dict[str, dict[str, list[float | None]]]:
    """Per Euler Δt (but the finest): the gaps of L(t) and d(t) to the finest Δt at T = ``horizon``, per seed
    (None where either network did not train)."""
    cfg = res.config
    finest = min(cfg.dts)
    at = {(r.dt, r.seed_index): (r, s) for r, s in zip(res.networks, res.status) if _in(r, "euler", r.dt, cfg.horizon)}
    out: dict[str, dict[str, list[float | None]]] = {}
    for dt in sorted(set(cfg.dts) - {finest}, reverse=True):
        gaps: dict[str, list[float | None]] = {"loss": [], "dist": []}
        for i in range(cfg.seeds):
            (r, s), (ref, s_ref) = at[(dt, i)], at[(finest, i)]
            ok = s == s_ref == "trained"
            for key in gaps:
                gaps[key].append(curve_gap(r, ref, key) if ok else None)
        out[f"{dt:g}"] = gaps
    return out


def _series_numbers(res: Result, scheme: str, dt: float) -> dict[str, Any]:
    """The sidecar's numbers of one series, per horizon (seed order)."""
    eps = res.config.eps_turnpike
    nets = _nets(res, scheme, dt)
    by_T = {T: [(r, s) for r, s in nets if r.horizon == T] for T in sorted(res.config.horizons)}
    mu = mu_by_horizon(res, scheme, dt)
    return {
        "status": {str(T): [s for _, s in v] for T, v in by_T.items()},
        "mu_trained": {str(T): v for T, v in mu.items()},
        "mu_all": {str(T): [measure_of_off_turnpike_set(r, eps) for r, _ in v] for T, v in by_T.items()},
        "mu_test_all": {str(T): [measure_of_off_turnpike_set(r, eps, "test") for r, _ in v] for T, v in by_T.items()},
        "slope_mu_vs_T_trained": slope_vs_horizon(mu),
        "turnpike_time": {str(T): [turnpike_time(r) for r, _ in v] for T, v in by_T.items()},
        "train_acc_at_T": {str(T): [float(r.train.acc[-1]) for r, _ in v] for T, v in by_T.items()},
        "zero_control_residual": max(r.zero_control_residual for r, _ in nets),
    }


def key_numbers(res: Result) -> dict[str, Any]:
    """Per series (``"euler, dt=0.5"``, …): status, μ(Θ_ε,T) (trained, all, test), its slope against T, t⋆ and
    acc_T per horizon; the refinement gaps at T = ``horizon``; ε, the trained threshold and the representative."""
    return {
        "eps_turnpike": res.config.eps_turnpike,
        "trained_acc_threshold": TRAINED_ACC,
        "verdict_rule": {
            "slope_bounded": SLOPE_BOUNDED,
            "slope_growing": SLOPE_GROWING,
            "min_horizons": MIN_HORIZONS,
            "gap_coincide": GAP_COINCIDE,
            "gap_partial": GAP_PARTIAL,
        },
        "representative_seed": res.representative,
        "refinement_gaps": _refinement_gaps(res),
        **{f"{s}, dt={dt:g}": _series_numbers(res, s, dt) for s, dt in series(res.config)},
    }


# -- claims -----------------------------------------------------------------------------------
def _claim_bounded(res: Result, scheme: str, dt: float) -> Claim:
    """Prop. 16 (Euler) or Prop. 18 (the other schemes) for one series: μ(Θ_ε,T) bounded in T (rule above)."""
    mu = mu_by_horizon(res, scheme, dt)
    s = slope_vs_horizon(mu)
    most, parts = True, []
    for T in sorted(res.config.horizons):
        c = status_counts([st for r, st in _nets(res, scheme, dt) if r.horizon == T])
        most = most and c["trained"] > sum(c.values()) / 2
        values = "/".join(f"{v:g}" for v in mu.get(T, [])) or "-"
        parts.append(
            f"T = {T}: {c['trained']} of {sum(c.values())} trained ({c['not trained']} not trained, "
            f"{c['diverged']} diverged), mu of the trained {values}"
        )
    text = (
        f"{scheme}, dt = {dt:g}, eps = {res.config.eps_turnpike:g}: "
        + "; ".join(parts)
        + f"; slope of the trained seeds' median mu against T: {s:.3f} (bounded if <= {SLOPE_BOUNDED}, needs >= "
        + f"{MIN_HORIZONS} horizons with a trained network and most seeds trained at each)"
    )
    if scheme == "euler":
        cid, claim = f"P1-P16 (euler, dt = {dt:g})", "Prop. 16: the measure of the off-turnpike time set"
        claim += f" Θ_ε,T is bounded independently of the horizon T (explicit Euler, Δt = {dt:g})."
    else:
        cid, claim = f"P1-P18 ({scheme}, dt = {dt:g})", f"Prop. 18: the {scheme} scheme preserves equilibria, so"
        claim += f" its training is strictly dissipative and μ(Θ_ε,T) stays bounded in T (Δt = {dt:g})."
    return Claim(cid, claim, text, prop16_verdict(s, len(mu), most))


def _claim_equilibria(res: Result) -> Claim:
    """Def. 17 / Prop. 18's premise: with u = 0 every state is a fixed point of every scheme, exactly."""
    per = {
        f"{s}, dt = {dt:g}": max(r.zero_control_residual for r, _ in _nets(res, s, dt)) for s, dt in series(res.config)
    }
    text = "max |Phi(x; u = 0) - x| over the training data: " + ", ".join(f"{k}: {v:.1e}" for k, v in per.items())
    return Claim(
        "P1-D17",
        "Prop. 18's premise: the schemes preserve equilibria; with u = 0 (σ1(0) = 0) the whole state space "
        "is a set of fixed points of each discretisation.",
        text,
        verdict(all(v == 0.0 for v in per.values())),
    )


def _claim_refinement(res: Result) -> Claim:
    """Ours (the ODE limit): the Euler curves L(t) at T = ``horizon`` coincide in t as Δt shrinks (rule above)."""
    gaps = _refinement_gaps(res)
    finest = min(res.config.dts)
    pairs = [max(g) for g in zip(*(v["loss"] for v in gaps.values())) if all(x is not None for x in g)]
    med = spread(pairs)[0]
    per_dt = "; ".join(
        f"dt = {dt} vs {finest:g}: " + "/".join("-" if g is None else f"{g:.3f}" for g in v["loss"])
        for dt, v in gaps.items()
    )
    t_star = {
        dt: [turnpike_time(r) for r, _ in _nets(res, "euler", dt, trained_only=True) if r.horizon == res.config.horizon]
        for dt in res.config.dts
    }
    text = (
        f"T = {res.config.horizon}, max_t |L_dt(t) - L_{finest:g}(t)| / (L(0) - L(T)) per seed (- where one did not "
        f"train): {per_dt}; median over seeds with all trained of the largest gap: {med:.3f} ({len(pairs)} of "
        f"{res.config.seeds} seeds; coincide if <= {GAP_COINCIDE}, partly if <= {GAP_PARTIAL}); turnpike time t* "
        + ", ".join(f"dt = {dt:g}: " + "/".join(f"{t:g}" for t in v) for dt, v in t_star.items())
    )
    return Claim(
        "P1-S5-dt",
        "Ours (the neural ODE limit of eq. 20–21): trained with the Riemann-sum stage cost, the Euler networks "
        "of one horizon T give curves L(t) that coincide in t as Δt is refined.",
        text,
        verdict(
            len(pairs) > res.config.seeds / 2 and med <= GAP_COINCIDE,
            partly=bool(pairs) and (med <= GAP_PARTIAL or min(pairs) <= GAP_COINCIDE),
            measurable=bool(pairs) and len(res.config.dts) >= 2,
        ),
    )


def claims(res: Result) -> list[Claim]:
    """P1-P16 per Euler Δt, P1-P18 per further scheme, P1-D17 (equilibria) and P1-S5-dt (the refinement)."""
    out = [_claim_bounded(res, s, dt) for s, dt in series(res.config)]
    return out + [_claim_equilibria(res), _claim_refinement(res)]


# -- tables -----------------------------------------------------------------------------------
def _spread_text(values: list[float], fmt: str = "g") -> str:
    """ "median (min–max)" of ``values`` ("–" when empty; the median alone when all are equal)."""
    if not values:
        return "–"
    med, lo, hi = spread(values)
    return format(med, fmt) if lo == hi else f"{med:{fmt}} ({lo:{fmt}}–{hi:{fmt}})"


def _series_name(scheme: str, dt: float) -> str:
    return f"{scheme}, Δt = {dt:g}"


def count_table(res: Result) -> Table:
    """One row per series (scheme, Δt): how many networks trained, did not train or diverged (all horizons),
    μ(Θ_ε,T) of the trained ones per T as median (min–max) over the seeds (with the count of trained seeds
    where not all trained), and the slope of the median against T."""
    horizons = sorted(res.config.horizons)
    rows = []
    for scheme, dt in series(res.config):
        nets = _nets(res, scheme, dt)
        c = status_counts([s for _, s in nets])
        mu = mu_by_horizon(res, scheme, dt)
        cells = []
        for T in horizons:
            total = sum(r.horizon == T for r, _ in nets)
            text = _spread_text(mu.get(T, []))
            cells.append(text if len(mu.get(T, [])) == total else f"{text}, {len(mu.get(T, []))} of {total} trained")
        slope = slope_vs_horizon(mu)
        status = f"{c['trained']}/{c['not trained']}/{c['diverged']}"
        rows.append([_series_name(scheme, dt), status, *cells, slope])
    eps = res.config.eps_turnpike
    return Table(
        ["series", "trained / not / diverged", *(f"μ at T = {T}" for T in horizons), "slope against T"],
        rows,
        caption=f"μ(Θ_ε,T), ε = {eps:g}, of the trained networks: median (min–max) over the seeds",
    )


def time_table(res: Result) -> Table:
    """One row per series: the turnpike time t⋆ of the trained networks per T (median (min–max) over the seeds)
    and the lowest final training accuracy of all its networks."""
    horizons = sorted(res.config.horizons)
    rows = []
    for scheme, dt in series(res.config):
        trained = _nets(res, scheme, dt, trained_only=True)
        cells = [_spread_text([turnpike_time(r) for r, _ in trained if r.horizon == T]) for T in horizons]
        lowest = min(float(r.train.acc[-1]) for r, _ in _nets(res, scheme, dt))
        rows.append([_series_name(scheme, dt), *cells, lowest])
    return Table(
        ["series", *(f"t⋆ at T = {T}" for T in horizons), "lowest train acc_T"],
        rows,
        caption="Turnpike time t⋆ = Δt·k⋆ of the trained networks: median (min–max) over the seeds",
    )


# -- the figure --------------------------------------------------------------------------------
#: Line style of a network's curves by its status.
STATUS_STYLE = {"trained": "-", "not trained": "-.", "diverged": ":"}


def _colour(res: Result, scheme: str, dt: float) -> str:
    """One colour per series (scheme, Δt) on every panel."""
    return PALETTE[series(res.config).index((scheme, dt)) % 7]


def _curves_panel(ax, res: Result, pairs: list[tuple[str, float]], key: str) -> None:
    """L(t) (``key = "loss"``) or d(t) (``"dist"``) at T = ``horizon`` for each (scheme, Δt) of ``pairs``: the
    representative seed bold, the other seeds faint (line style: status)."""
    for scheme, dt in pairs:
        col = _colour(res, scheme, dt)
        for r, s in _nets(res, scheme, dt):
            if r.horizon != res.config.horizon:
                continue
            bold = r.seed_index == res.representative
            label = f"{scheme}, $\\Delta t = {dt:g}$" if bold else None
            ax.plot(
                r.times.numpy(),
                getattr(r.train, key).numpy(),
                color=col,
                ls=STATUS_STYLE[s],
                lw=1.8 if bold else 0.9,
                alpha=1.0 if bold else 0.5,
                label=label,
            )
    if key == "dist":
        ax.axhline(res.config.eps_turnpike, color="k", lw=1.0, ls="--", label=r"$\varepsilon$")
    ylabel = r"stage loss $L(t)$ (train)" if key == "loss" else r"RMS dist$(x(t), X^\star_y)$"
    ax.set(xlabel="time $t$", ylabel=ylabel, yscale="log")
    log_ticks(ax)


def _mu_panel(ax, res: Result, pairs: list[tuple[str, float]]) -> None:
    """μ(Θ_ε,T) against T for each series: dots the trained seeds, line their median, crosses the others."""
    horizons = sorted(res.config.horizons)
    ax.plot(horizons, horizons, color="0.3", ls=":", lw=1.2, zorder=4, label=r"$\mu = T$ (no turnpike)")
    eps = res.config.eps_turnpike
    for scheme, dt in pairs:
        col = _colour(res, scheme, dt)
        mu = mu_by_horizon(res, scheme, dt)
        ax.plot(
            list(mu),
            [spread(v)[0] for v in mu.values()],
            "-",
            color=col,
            lw=1.8,
            label=f"{scheme}, $\\Delta t = {dt:g}$",
        )
        for T, v in mu.items():
            ax.plot([T] * len(v), v, "o", color=col, ms=4, alpha=0.7)
        failed = [(r.horizon, measure_of_off_turnpike_set(r, eps)) for r, s in _nets(res, scheme, dt) if s != "trained"]
        if failed:
            ax.plot(*zip(*failed), "x", color=col, ms=6)
    ax.plot([], [], "x", color="0.3", label="not trained / diverged")
    ax.set(xlabel="horizon $T$", ylabel=rf"$\mu(\Theta_{{\varepsilon,T}})$, $\varepsilon = {eps:g}$", ylim=(0, None))
    ax.set_xticks(horizons)


def _time_panel(ax, res: Result) -> None:
    """The seed median of the turnpike time t⋆ of the trained networks against T, for every series."""
    for scheme, dt in series(res.config):
        vals = {
            T: [turnpike_time(r) for r, _ in _nets(res, scheme, dt, trained_only=True) if r.horizon == T]
            for T in sorted(res.config.horizons)
        }
        shown = [T for T, v in vals.items() if v]
        style = dict(marker="o", ls="-") if scheme == "euler" else dict(marker="s", ls="--")
        ax.plot(
            shown,
            [spread(vals[T])[0] for T in shown],
            color=_colour(res, scheme, dt),
            label=f"{scheme}, $\\Delta t = {dt:g}$",
            **style,
        )
    horizons = sorted(res.config.horizons)
    ax.plot(horizons, horizons, color="0.5", ls=":", lw=1, label="$= T$")
    ax.set(xlabel="horizon $T$", ylabel=r"turnpike time $t^\star = \Delta t\,k^\star$", ylim=(0, None))
    ax.set_xticks(horizons)


def _legend_below(fig: Figure, axes, *, statuses: bool = False, ncol: int = 3) -> None:
    """One legend under the figure: the labelled artists of ``axes`` (each label once), then the status styles."""
    from matplotlib.lines import Line2D

    handles: dict[str, Any] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if statuses:
        for s, ls in STATUS_STYLE.items():
            handles.setdefault(s, Line2D([], [], color="0.4", ls=ls, lw=1.2))
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=ncol)


def _pair(titles: tuple[str, str]):
    """A figure of two panels side by side, legible at the column width, with their titles."""
    fig, axes = new_figure(2, 1, width=4.2, height=3.3)
    for ax, title in zip(axes[0], titles):
        ax.set_title(title)
    return fig, list(axes[0])


def _seeds_text(res: Result) -> str:
    """How the curve panels show the seeds, for this run's number of seeds."""
    if res.config.seeds == 1:
        return "one seed"
    return (
        f"bold: the representative of the {res.config.seeds} seeds (the trained one with the median k⋆ at the "
        "finest Δt), faint: the others"
    )


def _dots_text(res: Result) -> str:
    """What the dots and the line of the μ panels are, for this run's number of seeds."""
    if res.config.seeds == 1:
        return "dots: the one network per horizon when it trained, joined by a line"
    return f"dots: the trained networks of the {res.config.seeds} seeds, line: their median"


def plot_neural_ode_turnpike(res: Result) -> list[Shown]:
    """Companion figure 1 (a, b): explicit Euler at T = ``horizon``, L(t) and d(t) for every Δt; Companion figure 2
    (c, d): μ(Θ_ε,T) against T, Euler for every Δt and the schemes at ``scheme_dt``; Companion figure 3 (e, f):
    L(t) per scheme and the turnpike time t⋆ against T of every series."""
    cfg = res.config
    euler = [("euler", dt) for dt in cfg.dts]
    schemes = [("euler", cfg.scheme_dt)] + [(s, cfg.scheme_dt) for s in cfg.schemes]
    T = cfg.horizon
    fig1, ax1 = _pair((rf"Euler, $T = {T}$: $L(t)$", rf"Euler, $T = {T}$: distance to $X^\star_y$"))
    _curves_panel(ax1[0], res, euler, "loss")
    _curves_panel(ax1[1], res, euler, "dist")
    letter_panels(ax1)
    _legend_below(fig1, ax1, statuses=True)
    fig2, ax2 = _pair(("Prop. 16: Euler", rf"Prop. 18: schemes, $\Delta t = {cfg.scheme_dt:g}$"))
    _mu_panel(ax2[0], res, euler)
    _mu_panel(ax2[1], res, schemes)
    letter_panels(ax2, start=2)
    _legend_below(fig2, ax2)
    fig3, ax3 = _pair((rf"Prop. 18, $T = {T}$: $L(t)$ per scheme", "turnpike time against the horizon"))
    _curves_panel(ax3[0], res, schemes, "loss")
    _time_panel(ax3[1], res)
    letter_panels(ax3, start=4)
    _legend_below(fig3, ax3, statuses=True)
    eps = cfg.eps_turnpike
    return [
        Shown(
            fig1,
            f"Companion figure 1 (a, b). Explicit Euler at the horizon T = {T}: the stage loss L(t) and the RMS "
            f"distance d(t) to the minimiser lines for each Δt ({_seeds_text(res)}; dash-dotted: not trained, "
            f"dotted: diverged; dashed in (b): ε = {eps:g}).",
            "Two line plots against the time t on log scales, one curve per Euler step size: the stage loss and "
            "the distance to the turnpike. Curves that coincide in t mean the discretisations agree.",
        ),
        Shown(
            fig2,
            f"Companion figure 2 (c, d). The measure μ(Θ_ε,T) of the off-turnpike time against the horizon T, "
            f"ε = {eps:g}: (c) explicit Euler for each Δt, (d) Euler, midpoint and RK4 at Δt = {cfg.scheme_dt:g} "
            f"({_dots_text(res)}; crosses: networks that did not train or diverged; dotted: μ = T, no turnpike).",
            "Two line plots of the off-turnpike time against the horizon, one line per step size or scheme, with "
            "the diagonal of no turnpike for reference. A bounded measure is a flat line well below the diagonal.",
            "measure",
        ),
        Shown(
            fig3,
            f"Companion figure 3 (e, f). (e) The stage loss L(t) of Euler, midpoint and RK4 at Δt = "
            f"{cfg.scheme_dt:g} and T = {T} ({_seeds_text(res)}); (f) the turnpike time t⋆ against T for every "
            "scheme and step size (median of the trained networks; dotted: = T).",
            "Left, line plots of the stage loss against the time for the three schemes; right, the turnpike time "
            "against the horizon for every series, with the diagonal for reference.",
            "schemes",
        ),
    ]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Section 5: the turnpike of the neural ODE and of its discretisations"
PAPER_FIGURE = ""
plot = plot_neural_ode_turnpike
