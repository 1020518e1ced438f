"""Paper 2, Figures 2–3: one DCE run, its instabilities, and the landscape during a period-doubling cascade.

Fig. 2 (its caption is missing in the available source; the panels are reconstructed,
book/methods.md#p2-fig2-3-choices): Γ_i(t), the loss F_DCE, the same-landscape change
ΔF_t = F(θ_{t+1}, t) − F(θ_t, t) and λ_max(t) for one network (H = 100, η = 1, A = 70, T = 5000,
float64), with the instability onsets (:mod:`lossdyn.dynamical.onset`, book/methods.md#p2-onset).

Fig. 3: the loss F(θ_t + a v₁ + b v₂, t) on the plane of the top-2 Hessian eigenvectors at five
times through the cascade, with the next 20 iterates projected on it (Fig. 3 caption). The paper's
times {8000, 9285, 9450, 9560, 9600} belong to the authors' realisation; the last four are shifted
by (t* − 9285), t* our own onset in the same period (book/methods.md#p2-fig2-3-choices). The trajectory is
replayed (same code, same bits) up to those times to take the snapshots.

:func:`compute` runs these steps: :func:`_first_run` (the tracked run), :func:`_panel_times`
(alignment), :func:`_replay` (snapshots and top-2 eigenpairs), :func:`_panels` (Fig. 3) and
:func:`_regime_scan`; :func:`finish` turns its dict into the typed :class:`Result`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogLocator, NullFormatter, NullLocator

from lossdyn.dynamical import losses as dl
from lossdyn.dynamical.batched_mlp import BatchedMLP
from lossdyn.dynamical.ensemble import Member, TrainSpec, train_chunk
from lossdyn.dynamical.onset import LAMBDA_KEYS, default_rtol
from lossdyn.dynamical.outcome import outcome
from lossdyn.dynamical.spiral3 import spiral3
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, resolve_device, resolve_dtype
from lossdyn.pipeline.figures import DTYPE_WIDTH, KERNEL_BYTES, Cost
from lossdyn.pipeline.plotting import PALETTE, Shown, edge_of_stability, letter_panels, new_figure, style
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import WholeRun

__all__ = [
    "Config",
    "Panel",
    "Result",
    "claims",
    "estimate",
    "classify_dynamics",
    "compute",
    "finish",
    "key_numbers",
    "onset_table",
    "panel_table",
    "plan",
    "plot_period_doubling",
    "regime_prose",
    "regime_summary",
    "run_summary",
]


#: Relative tolerance for "λ_max ≈ 2/η" (declared before looking at the data: 10 %; book/methods.md#p2-fig2-3-choices).
EOS_TOLERANCE = 0.10

#: What the paper states for Figs. 2–3 (Fig. 3 caption): the network and loss, the window of a and b, the
#: iterates drawn, and the end of the second period (t = 10000) towards which the instabilities emerge.
PAPER = {
    "H": 100,
    "A": 70.0,
    "T": 5000,
    "panel_times": [8000, 9285, 9450, 9560, 9600],
    "ab_window": [-1.0, 1.0],
    "iterates_after_each_time": 20,
    "end_of_second_period": 10000,
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``p2_fig2_3_period_doubling`` (see the notebook for their defaults)."""

    H: int  # hidden width
    eta: float  # learning rate
    A: float  # amplitude of the class weights, A >= 1
    T: int  # period of the class weights in steps
    steps: int  # GD steps
    replica: int  # which initialisation (0, 1, ...)
    lambda_every: int  # lambda_max every this many steps
    dense_every: int  # ... and every this many steps in the 64-step blocks after a positive loss change
    lanczos_m: int  # Lanczos order for tracking (warm start)
    paper_times: tuple[int, ...]  # the times of the paper's Fig. 3 panels
    paper_onset: int  # the paper's onset the later panel times refer to
    align_period: int  # which period's onset of our run the paper's onset is mapped to (0-based)
    n_follow: int  # iterates drawn after each panel time
    grid: int  # landscape points per axis
    extent: float  # landscape window is [-extent, extent]^2 in (a, b)
    dtype: str  # float64 or float32

    def validate(self) -> None:
        self._require("H", 1 <= self.H <= 2000, "1 <= H <= 2000")
        self._require("eta", 0.0 < self.eta <= 100.0, "0 < eta <= 100")
        self._require("A", 1.0 <= self.A <= 1e6, "A >= 1 (A = 1 is the static loss)")
        self._require("T", 2 <= self.T <= 10_000_000, "2 <= T")
        self._require("steps", 100 <= self.steps <= 10_000_000, "100 <= steps <= 1e7")
        self._require("replica", self.replica >= 0, "an integer >= 0")
        self._require("lambda_every", 1 <= self.lambda_every <= self.steps, "1 <= lambda_every <= steps")
        self._require("dense_every", 0 <= self.dense_every <= self.lambda_every, "0 <= dense_every <= lambda_every")
        self._require("lanczos_m", 3 <= self.lanczos_m <= 200, "3 <= lanczos_m <= 200")
        self._require(
            "paper_times",
            len(self.paper_times) >= 1
            and list(self.paper_times) == sorted(self.paper_times)
            and self.paper_times[0] >= 0,
            "a sorted, non-empty list of steps",
        )
        self._require("paper_onset", self.paper_onset >= 0, "a step >= 0")
        self._require("align_period", self.align_period >= 0, "a period index >= 0")
        self._require("n_follow", 1 <= self.n_follow <= 1000, "1 <= n_follow <= 1000")
        self._require("grid", 5 <= self.grid <= 401, "5 <= grid <= 401")
        self._require("extent", 0.0 < self.extent <= 100.0, "0 < extent <= 100")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))


def classify_dynamics(F: torch.Tensor, dF: torch.Tensor, rtol: float, tol: float = 0.15) -> str:
    """Name the dynamics of the iterates t … t + n from their losses F(θ_t, t) (n + 1 values) and ΔF.

    ``descent`` if every ΔF < 0; otherwise, after removing the linear drift of F, ``period-p`` for
    the smallest p ∈ {2, 4, 8} with max |F̃_{k+p} − F̃_k| ≤ ``tol``·(max F̃ − min F̃); else ``irregular``.
    """
    if bool((dF < -rtol * F[: len(dF)].abs()).all()):
        return "descent"
    k = torch.arange(len(F), dtype=torch.float64)
    Fd = F.to(torch.float64)
    slope = ((k - k.mean()) * (Fd - Fd.mean())).sum() / ((k - k.mean()) ** 2).sum()
    Ft = Fd - slope * k
    spread = float(Ft.max() - Ft.min())
    for p in (2, 4, 8):
        if len(Ft) > 2 * p and float((Ft[p:] - Ft[:-p]).abs().max()) <= tol * spread:
            return f"period-{p}"
    return "irregular"


def _landscape(
    model: BatchedMLP, theta: torch.Tensor, v: torch.Tensor, G: torch.Tensor, axis: torch.Tensor, batch: int = 512
) -> torch.Tensor:
    """F(θ + a v₁ + b v₂, Γ) on the grid axis × axis (rows: b, columns: a)."""
    bb, aa = torch.meshgrid(axis, axis, indexing="ij")
    pts = theta[None] + aa.reshape(-1, 1) * v[0][None] + bb.reshape(-1, 1) * v[1][None]
    out = []
    for i in range(0, pts.shape[0], batch):
        chunk = pts[i : i + batch]
        out.append(model.loss(chunk, G.expand(chunk.shape[0], -1)))
    return torch.cat(out).reshape(len(axis), len(axis))


def _first_run(cfg: Config, member: Member, device: torch.device) -> tuple[TrainSpec, dict[str, Any]]:
    """The tracked run: F, ΔF every step, λ_max every ``lambda_every`` steps (denser after ΔF > 0), onsets."""
    spec = TrainSpec(
        H=cfg.H,
        steps=cfg.steps,
        dtype=cfg.dtype,
        seed=cfg.seed,
        lambda_steps=tuple(range(0, cfg.steps + 1, cfg.lambda_every)),
        lambda_m=cfg.lanczos_m,
        lambda_m_cold=2 * cfg.lanczos_m,
        dense_every=cfg.dense_every,
        onset=True,
        record_full=True,
        loss_bins=50,
    )
    return spec, train_chunk(spec, [member], device)


def _panel_times(cfg: Config, onsets: torch.Tensor) -> tuple[int, int, list[int]]:
    """``(t_star, shift, times)``: our onset in period ``align_period`` (−1: none), the shift of the
    paper's later panel times onto it, and the panel times (book/methods.md#p2-fig2-3-choices)."""
    k = cfg.align_period
    t_star = int(onsets[k]) if k < len(onsets) and onsets[k] >= 0 else -1
    shift = t_star - cfg.paper_onset if t_star >= 0 else 0
    times = [cfg.paper_times[0]] + [t + shift for t in cfg.paper_times[1:]]
    times = [min(max(t, 0), cfg.steps - cfg.n_follow) for t in times]
    return t_star, shift, sorted(set(times))


def _replay(cfg: Config, member: Member, times: list[int], device: torch.device) -> tuple[dict[str, Any], list[int]]:
    """The same trajectory again up to the last panel: θ_t at every panel time and the ``n_follow``
    steps after it, and the top-2 Hessian eigenpairs at the panel times. Returns (result, snapshot steps)."""
    snap_steps = tuple(sorted({t + j for t in times for j in range(cfg.n_follow + 1)}))
    replay = TrainSpec(
        H=cfg.H,
        steps=max(snap_steps) + 1,
        dtype=cfg.dtype,
        seed=cfg.seed,
        record_full=True,
        snapshot_steps=snap_steps,
        top2_steps=tuple(times),
        top2_m=min(120, 6 * cfg.H + 3),
        loss_bins=10,
    )
    return train_chunk(replay, [member], device), list(snap_steps)


def _panels(
    cfg: Config, spec: TrainSpec, res: dict[str, Any], rep: dict[str, Any], times: list[int], snap_steps, device
):
    """Fig. 3's panels (dicts with the fields of :class:`Panel`) and the grid axis (float64, CPU)."""
    dtype = resolve_dtype(cfg.dtype)
    X, y = spiral3(spec.train_seed, spec.n_per_class, dtype=dtype)
    model = BatchedMLP(X.to(device), y.to(device), cfg.H, "ce")
    axis = torch.linspace(-cfg.extent, cfg.extent, cfg.grid, dtype=dtype, device=device)
    snap_index = {t: i for i, t in enumerate(snap_steps)}
    rtol = default_rtol(dtype)
    panels = []
    for i, t in enumerate(times):
        theta = rep["snap_theta"][0, snap_index[t]].to(device, dtype)
        v = rep["top2_vectors"][0, i].to(device, dtype)
        G = dl.gamma(torch.tensor([t]), cfg.A, cfg.T).to(device, dtype)
        surf = _landscape(model, theta, v, G, axis)
        path = (
            torch.stack([rep["snap_theta"][0, snap_index[t + j]] for j in range(cfg.n_follow + 1)])
            - rep["snap_theta"][0, snap_index[t]]
        )
        ab = path @ rep["top2_vectors"][0, i].T  # (n_follow + 1, 2)
        seq = slice(t, t + cfg.n_follow)
        panels.append(
            {
                "t": t,
                "landscape": surf.to("cpu", torch.float64),
                "path_ab": ab,
                "lambda_top2": rep["top2_values"][0, i],
                "dynamics": classify_dynamics(res["F"][0, t : t + cfg.n_follow + 1], res["dF"][0, seq], rtol),
                "F_t": float(res["F"][0, t]),
            }
        )
    return panels, axis.to("cpu", torch.float64)


def _regime_scan(cfg: Config, res: dict[str, Any], t_star: int) -> list[tuple[int, str]]:
    """(t, regime) of ``n_follow``-step windows every 25 steps around the aligned period's onset."""
    if t_star < 0:
        return []
    rtol = default_rtol(resolve_dtype(cfg.dtype))
    lo = max(0, t_star - 100)
    hi = min(cfg.steps - cfg.n_follow - 1, (cfg.align_period + 1) * cfg.T + 300)
    F, dF = res["F"][0], res["dF"][0]
    return [
        (t, classify_dynamics(F[t : t + cfg.n_follow + 1], dF[t : t + cfg.n_follow], rtol)) for t in range(lo, hi, 25)
    ]


#: The trainer's per-period onset entries kept in the result (see :func:`lossdyn.dynamical.ensemble.train_chunk`).
ONSET_KEYS = ("onset_t", "jump_t", *LAMBDA_KEYS)


def _failed(res: dict[str, Any]) -> bool:
    """The run's loss became NaN/inf (:mod:`lossdyn.dynamical.outcome`). Neither accuracy nor the end loss is a
    criterion here: the run ends in the middle of a period, where one class carries almost all of the loss's
    weight, so both are taken on another landscape than the start (book/methods.md#p2-fig2-3-choices)."""
    return bool(outcome(res).non_finite[0])


def compute(cfg: Config) -> dict[str, Any]:
    """The whole run (the one unit of :func:`plan`): a dict with the fields of :class:`Result`."""
    device = resolve_device(cfg.device)
    member = Member(cfg.replica, cfg.eta, cfg.A, cfg.T)
    spec, res = _first_run(cfg, member, device)
    t_star, shift, times = _panel_times(cfg, res["onset_t"][0])
    rep, snap_steps = _replay(cfg, member, times, device)
    panels, axis = _panels(cfg, spec, res, rep, times, snap_steps, device)
    scan = _regime_scan(cfg, res, t_star)
    return {
        "H": cfg.H,
        "eta": cfg.eta,
        "A": cfg.A,
        "T": cfg.T,
        "steps": cfg.steps,
        "dtype": cfg.dtype,
        "gamma": dl.gamma(torch.arange(cfg.steps), cfg.A, cfg.T).to(torch.float32),
        "F": res["F"][0],
        "dF": res["dF"][0],
        "lambda_t": res["lambda_t"],
        "lambda_max": res["lambda_max"][0],
        "lambda_residual": res["lambda_residual"][0],
        **{key: res[key][0] for key in ONSET_KEYS},
        "align_period": cfg.align_period,
        "t_star": t_star,
        "shift": shift,
        "panel_times": times,
        "panels": panels,
        "regime_scan_t": [t for t, _ in scan],
        "regime_scan": [r for _, r in scan],
        "replay_identical": bool(torch.equal(rep["F"][0], res["F"][0, : len(rep["F"][0])])),
        "diverged": bool(_failed(res)),
        "train_acc": float(res["train_acc"][0]),
        "val_acc": float(res["val_acc"][0]),
        "grid_axis": axis,
    }


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run (the figure contract's optional ``estimate``): the tracked run of
    ``steps`` steps and the second run up to the last panel time cost per step 1.64e-4 s + 1.14e-6 s × H; each
    panel's landscape 1.7e-5 s × grid² × H / 5; memory grows with H (the runs' snapshots and eigenvectors).

    Fitted on the project's 2-core CPU (float64, compute alone): the quick profile 8.5 s, +365 MB; 21 000
    steps 11.8 s; grid 121 30.5 s; H = 300 18.8 s, +872 MB; λ every 25 steps instead of 50 changed nothing.
    """
    steps = cfg.steps + max(cfg.paper_times) + cfg.n_follow
    panels = len(cfg.paper_times) / 5
    seconds = 6.0 + steps * (1.64e-4 + 1.14e-6 * cfg.H) + 1.7e-5 * cfg.grid**2 * cfg.H * panels
    memory = KERNEL_BYTES + DTYPE_WIDTH[cfg.dtype] / 2 * 3.6 * 2**20 * cfg.H
    return Cost(seconds=seconds, memory_bytes=int(memory))


def plan(cfg: Config) -> WholeRun:
    """One unit: the whole run (:func:`compute`)."""
    return WholeRun(cfg, compute)


@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel of Fig. 3 at step ``t``: ``landscape`` (grid, grid) float64 F(θ_t + a v₁ + b v₂, t)
    (rows b, columns a on ``Result.grid_axis``); ``path_ab`` (n_follow + 1, 2) float64 the next
    iterates' coordinates (a_k, b_k) = v₁,₂·(θ_{t+k} − θ_t); ``lambda_top2`` (2,) float64 the top-2
    Hessian eigenvalues; ``dynamics`` (:func:`classify_dynamics` of those iterates); ``F_t`` F(θ_t, t)."""

    t: int
    landscape: torch.Tensor
    path_ab: torch.Tensor
    lambda_top2: torch.Tensor
    dynamics: str
    F_t: float


@dataclasses.dataclass(frozen=True)
class Result:
    """Figs. 2–3's result (one network; book/methods.md#p2-fig2-3-choices).

    * ``H``, ``eta``, ``A``, ``T``, ``steps``, ``dtype``: from the config;
    * ``gamma`` (steps, 3) float32: Γ_i(t); ``F``, ``dF`` (steps,) float64: F(θ_t, t) and ΔF_t;
    * ``lambda_t`` (L,) int64, ``lambda_max`` (L,) float64 λ_max(θ_t, Γ(t)), ``lambda_residual`` (L,)
      the Lanczos residual ‖Hv − λv‖;
    * ``onset_t``, ``jump_t`` (n_periods,) int64 (−1: none): each period's onset t* (the start of the
      unbroken 2-cycle) and its jump t_jump; ``lambda_onset``, ``lambda_jump`` (n_periods,) float64 λ_max at
      their valley floor, ``lambda_onset_iterates`` (n_periods, 2) at θ_{t*} and θ_{t*+1}, ``secant_onset``,
      ``secant_jump`` (n_periods,) the loss's own curvature along the step (book/methods.md#p2-onset);
    * ``align_period``, ``t_star`` (its onset, −1: none), ``shift`` (t* − ``paper_onset``, 0 if none),
      ``panel_times``: the Fig. 3 times after the shift; ``panels``: one :class:`Panel` each;
    * ``regime_scan_t``, ``regime_scan``: the dynamics of the 20-step windows every 25 steps
      through the cascade; ``replay_identical``: the replay reproduced F bit for bit;
    * ``diverged`` (the loss became NaN/inf), ``train_acc``, ``val_acc``: at the
      end; ``grid_axis`` (grid,) float64: a and b of the panels.
    """

    H: int
    eta: float
    A: float
    T: int
    steps: int
    dtype: str
    gamma: torch.Tensor
    F: torch.Tensor
    dF: torch.Tensor
    lambda_t: torch.Tensor
    lambda_max: torch.Tensor
    lambda_residual: torch.Tensor
    onset_t: torch.Tensor
    lambda_onset: torch.Tensor
    jump_t: torch.Tensor
    lambda_jump: torch.Tensor
    lambda_onset_iterates: torch.Tensor
    lambda_jump_iterates: torch.Tensor
    secant_onset: torch.Tensor
    secant_jump: torch.Tensor
    align_period: int
    t_star: int
    shift: int
    panel_times: tuple[int, ...]
    panels: tuple[Panel, ...]
    regime_scan_t: tuple[int, ...]
    regime_scan: tuple[str, ...]
    replay_identical: bool
    diverged: bool
    train_acc: float
    val_acc: float
    grid_axis: torch.Tensor


def finish(cfg: Config, parts: dict[str, Any]) -> Result:
    """The page's result from the one unit's result (:func:`compute`)."""
    fields = {**parts, "panels": tuple(Panel(**p) for p in parts["panels"])}
    for name in ("panel_times", "regime_scan_t", "regime_scan"):
        fields[name] = tuple(parts[name])
    return Result(**fields)


def key_numbers(res: Result) -> dict[str, Any]:
    """The sidecar's numbers: the aligned period's onset (named like the :class:`Result` fields),
    every period's onsets (``…_all_periods``), the panels and the accuracies."""
    k, found = res.align_period, res.t_star >= 0
    return {
        "eta": res.eta,
        "t_star": res.t_star,
        "lambda_onset": float(res.lambda_onset[k]) if found else math.nan,
        "jump_t": int(res.jump_t[k]) if found else -1,
        "lambda_jump": float(res.lambda_jump[k]) if found else math.nan,
        "lambda_single_iterate": float(res.lambda_onset_iterates[k, 0]) if found else math.nan,
        "secant_jump": float(res.secant_jump[k]) if found else math.nan,
        "onset_t_all_periods": res.onset_t.tolist(),
        "lambda_onset_all_periods": [round(float(x), 6) for x in res.lambda_onset.tolist()],
        "panel_times": list(res.panel_times),
        "panel_dynamics": [p.dynamics for p in res.panels],
        "regimes": regime_summary(res),
        "panel_lambda_top2": [[round(float(x), 6) for x in p.lambda_top2.tolist()] for p in res.panels],
        "shift": res.shift,
        "replay_identical": res.replay_identical,
        "train_acc": res.train_acc,
        "val_acc": res.val_acc,
        "dtype": res.dtype,
        "eos_tolerance": EOS_TOLERANCE,
        "paper": PAPER,
    }


def run_summary(res: Result) -> str:
    """The page's generated sentence on the run: its onset in the aligned period, the shift of the paper's
    panel times, the replay check, and the accuracies at the last step. Markdown without math: the book
    renders a notebook's Markdown output as CommonMark."""
    onset = (
        f"Our onset in period {res.align_period + 1} is t* = {res.t_star}, so the paper's four later panel "
        f"times are shifted by {res.shift:+d} steps. "
        if res.t_star >= 0
        else f"The run has no onset in period {res.align_period + 1}; the paper's panel times are used as they are. "
    )
    replay = "identical to" if res.replay_identical else "**not** identical to"
    return (
        onset + f"The replayed trajectory is {replay} the first run, bit for bit. At the last step the training "
        f"accuracy is {res.train_acc:.4f} and the validation accuracy {res.val_acc:.4f} "
        f"({'the loss became NaN/inf' if res.diverged else 'the loss stayed finite'})."
    )


def onset_table(res: Result) -> Table:
    """Instabilities per period (shown by the notebook): the onset t*, λ_max at its valley floor, and as ·η/2 the
    floor, the single iterate θ_{t*}, the jump's valley floor and the secant curvature along the jump's step."""
    two = 2.0 / res.eta
    rows = []
    for k, t in enumerate(res.onset_t.tolist()):
        if t < 0:
            rows.append([k + 1, "none", None, None, None, None, None, None])
            continue
        lam = float(res.lambda_onset[k])
        rows.append(
            [
                k + 1,
                t,
                lam,
                lam / two,
                float(res.lambda_onset_iterates[k, 0]) / two,
                int(res.jump_t[k]),
                float(res.lambda_jump[k]) / two,
                float(res.secant_jump[k]) / two,
            ]
        )
    return Table(
        ["period", "onset t*", "λ_max floor", "floor·η/2", "iterate·η/2", "jump t", "jump floor·η/2", "secant·η/2"],
        rows,
        caption=f"The first instability of each period; 2/η = {two:g}, a ratio ·η/2 of 1 is the edge of stability.",
        formats={"λ_max floor": ".4f"},
    )


def regime_summary(res: Result) -> str:
    """Runs of equal regimes in the scan, e.g. 'descent 9016–9091, irregular 9116–9141, …'."""
    runs = []
    for t, r in zip(res.regime_scan_t, res.regime_scan):
        if runs and runs[-1][0] == r:
            runs[-1][2] = t
        else:
            runs.append([r, t, t])
    return ", ".join(f"{r} {a}–{b}" if a != b else f"{r} {a}" for r, a, b in runs) or "no onset found"


def panel_table(res: Result) -> Table:
    """The Fig. 3 panels (shown by the notebook): time, loss, top-2 Hessian eigenvalues, dynamics of the next
    iterates, and how far those iterates move in the (a, b) plane."""
    rows = []
    for tag, p in zip(_PANEL_LETTERS, res.panels):
        l1, l2 = p.lambda_top2.tolist()
        reach = float(p.path_ab.abs().max())
        rows.append([f"({tag})", p.t, p.F_t, l1, l2, reach, p.dynamics])
    return Table(
        ["panel", "t", "F(θ_t, t)", "λ_1", "λ_2", "max |a|, |b|", "next iterates"],
        rows,
        caption=f"The Fig. 3 panels: the next {len(res.panels[0].path_ab) - 1 if res.panels else 0} iterates "
        "projected on the plane of the top-2 Hessian eigenvectors.",
        formats={"F(θ_t, t)": ".6f", "λ_1": ".4f", "λ_2": ".4f", "max |a|, |b|": ".3g"},
    )


def regime_prose(res: Result) -> str:
    """The regimes met by 20-step windows every 25 steps through the cascade (generated Markdown)."""
    t = res.regime_scan_t
    every = f" every {t[1] - t[0]} steps" if len(t) > 1 else ""
    n = len(res.panels[0].path_ab) - 1 if res.panels else 0
    return f"Regimes of {n}-step windows{every} through the cascade: {regime_summary(res)}."


def claims(res: Result) -> list[Claim]:
    """P2-F2 (λ_max ≈ 2/η at the onset, :data:`EOS_TOLERANCE`) and P2-F3 (the cascade's regimes)."""
    two = 2.0 / res.eta
    k = res.align_period
    found = res.t_star >= 0
    lam = float(res.lambda_onset[k]) if found else math.nan
    lam_jump = float(res.lambda_jump[k]) if found else math.nan
    secant = float(res.secant_jump[k]) if found else math.nan
    in_period = found and k * res.T <= res.t_star < (k + 1) * res.T
    near = found and abs(lam / two - 1.0) <= EOS_TOLERANCE
    near_jump = found and (abs(lam_jump / two - 1.0) <= EOS_TOLERANCE or abs(secant / two - 1.0) <= EOS_TOLERANCE)
    dyn = [p.dynamics for p in res.panels]
    seen = set(res.regime_scan) | set(dyn)
    cascade = {"descent", "period-2", "period-4", "irregular"} <= seen
    partial_cascade = {"descent", "period-2"} <= seen and ("irregular" in seen or "period-4" in seen)
    return [
        Claim(
            "P2-F2",
            f"Fig. 2: near the end of period {k + 1} λ_max rises to ≈ 2/η, and then a period-doubling cascade "
            "starts (ΔF alternates in sign with growing amplitude).",
            (
                f"onset t* = {res.t_star} (start of the unbroken 2-cycle), "
                f"λ_max at its valley floor = {lam:.4f} = {lam / two:.3f}·(2/η); "
                f"jump at t = {int(res.jump_t[k])}: valley floor {lam_jump / two:.3f}·(2/η), "
                f"the loss's own curvature along the step {secant / two:.3f}·(2/η)"
            )
            if found
            else f"no instability onset in period {k + 1}",
            verdict(
                in_period and near,
                partly=in_period and (near_jump or abs(lam / two - 1) <= 2 * EOS_TOLERANCE),
                measurable=not res.diverged,
            ),
        ),
        Claim(
            "P2-F3",
            "Fig. 3: the landscape on the top-2 Hessian directions shows smooth descent first, then 2-cycle, "
            "4-cycle and chaotic bouncing across the narrowing valley.",
            "next-20-iterate dynamics at the panels t = "
            + ", ".join(f"{p.t}: {d}" for p, d in zip(res.panels, dyn))
            + "; regimes met every 25 steps through the cascade: "
            + regime_summary(res)
            + f"; a 4-cycle {'was' if 'period-4' in seen else 'was not'} met",
            verdict(cascade, partly=partial_cascade, measurable=not res.diverged),
        ),
    ]


# -- the figure --------------------------------------------------------------------------------
#: Page-wide panel letters: Fig. 2 (a–d), its zoom (e–h), Fig. 3 (i–m).
_PANEL_LETTERS = "ijklmnop"
#: Colour of the iterates in Fig. 3 (green, as the paper's caption) and of the panel times in the zoom.
ITERATE_GREEN = "#00B050"


#: Line styles of the class weights Γ_0, Γ_1, Γ_2 (two of them coincide in every period).
_CLASS_LINES = ("-", "--", ":")


def _loss_scale(ax, F: np.ndarray) -> None:
    """A log axis with labelled 1-2-5 ticks where F spans more than a factor 3, else a linear one (a zoom)."""
    finite = F[np.isfinite(F) & (F > 0)]
    if finite.size and finite.max() / finite.min() > 3.0:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _symlog_ticks(dF: np.ndarray, linthresh: float) -> list[float]:
    """0 and ±10^k every second decade from ``linthresh`` up to the largest |ΔF| (uncrowded symlog labels)."""
    finite = np.abs(dF[np.isfinite(dF)])
    top = float(finite.max()) if finite.size else linthresh  # a diverged run's NaN/inf left out
    k0 = int(round(math.log10(linthresh)))
    k1 = max(k0, int(math.ceil(math.log10(max(top, linthresh)))))
    decades = [10.0**k for k in range(k1, k0, -2)]  # ±linthresh itself left out: it would touch the 0 label
    return sorted([-d for d in decades] + [0.0] + decades)


def _curves(axes, res: Result, lo: int, hi: int, zoom: bool) -> None:
    """Γ_i(t), F, ΔF and λ_max against t on ``axes`` (four, top to bottom) for steps lo … hi − 1."""
    t = np.arange(res.steps)
    sl = slice(lo, hi)
    ax_g, ax_f, ax_d, ax_l = axes
    for c in range(3):
        ax_g.plot(
            t[sl],
            res.gamma[sl, c].numpy(),
            _CLASS_LINES[c],
            color=PALETTE[c],
            lw=1.4,
            label=rf"$\Gamma_{c}$ (class {c})",
        )
    ax_g.set(ylabel=r"$\Gamma_i(t)$", title="class weights")
    F = res.F.numpy()[sl]
    ax_f.plot(t[sl], F, color="0.15", lw=0.8)
    ax_f.set(
        yscale="log", ylabel=r"$\mathcal{F}_{\mathrm{DCE}}$", title=r"loss $\mathcal{F}_{\mathrm{DCE}}(\theta_t, t)$"
    )
    _loss_scale(ax_f, F)
    ax_d.plot(t[sl], res.dF.numpy()[sl], color=PALETTE[1], lw=0.6)
    ax_d.axhline(0.0, color="0.3", lw=0.6)
    ax_d.set_yscale("symlog", linthresh=1e-6)
    ax_d.yaxis.set_major_locator(FixedLocator(_symlog_ticks(res.dF.numpy()[sl], 1e-6)))
    ax_d.yaxis.set_minor_locator(NullLocator())
    ax_d.set(ylabel=r"$\Delta F_t$", title=r"same-landscape change $\Delta F_t$ (symmetric log)")
    lt, lam = res.lambda_t.numpy(), res.lambda_max.numpy()
    keep = (lt >= lo) & (lt < hi)
    ax_l.plot(lt[keep], lam[keep], ".-", color=PALETTE[0], lw=0.8, ms=2 if zoom else 1.5, label=r"$\lambda_{\max}$")
    edge_of_stability(ax_l, res.eta, label=r"$2/\eta$")
    ax_l.set(ylabel=r"$\lambda_{\max}$", xlabel="GD step $t$", title="top Hessian eigenvalue")
    _onsets(axes, res, lo, hi)
    for ax in axes:
        ax.set_xlim(lo, hi)
    if zoom:
        for p in res.panels:
            if lo <= p.t < hi:
                ax_l.axvline(p.t, color=ITERATE_GREEN, lw=0.9, alpha=0.8, label="Fig. 3 times")


def _onsets(axes, res: Result, lo: int, hi: int) -> None:
    """Each period's onset t* (dotted lines, triangle at λ_max of its valley floor) and jump (circle)."""
    ax_l = axes[-1]
    for k, (ts, ta) in enumerate(zip(res.onset_t.tolist(), res.jump_t.tolist())):
        if ts < 0 or not lo <= ts < hi:
            continue
        for ax in axes:
            ax.axvline(ts, color=PALETTE[3], lw=0.9, ls=":")
        ax_l.plot([ts], [float(res.lambda_onset[k])], "v", color=PALETTE[3], ms=6, label="onset $t^*$")
        ax_l.plot(
            [ta], [float(res.lambda_jump[k])], "o", mfc="none", color=PALETTE[4], ms=6, label="jump (valley floor)"
        )


def _fig2_group(res: Result, lo: int, hi: int, zoom: bool, start: int) -> Figure:
    """Four stacked panels sharing the step axis, their legend above them (outside the data)."""
    fig, grid = new_figure(1, 4, width=8.5, height=1.9, sharex=True)
    axes = list(grid[:, 0])
    _curves(axes, res, lo, hi, zoom)
    letter_panels(axes, start=start)
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside upper center", ncols=4)
    return fig


#: A panel whose iterates stay within this fraction of the window also shows them magnified in an inset.
INSET_BELOW = 0.1


def _iterates(ax, ab: np.ndarray, ms: float) -> None:
    """The iterates (a_k, b_k): green dots with dark edges joined by semi-transparent green arrows (Fig. 3)."""
    ax.quiver(
        ab[:-1, 0],
        ab[:-1, 1],
        np.diff(ab[:, 0]),
        np.diff(ab[:, 1]),
        angles="xy",
        scale_units="xy",
        scale=1,
        color=ITERATE_GREEN,
        alpha=0.7,
        width=0.012,
        zorder=3,
    )
    ax.plot(ab[:, 0], ab[:, 1], "o", color=ITERATE_GREEN, mec="black", mew=0.6, ms=ms, zorder=4, label="next iterates")


def _inset(ax, ab: np.ndarray, extent: float) -> None:
    """The iterates at their own scale in the lower right corner, with the magnification written in it."""
    reach = float(np.abs(ab).max())
    if not 0.0 < reach < INSET_BELOW * extent:
        return
    half = 1.15 * reach
    ins = ax.inset_axes((0.56, 0.04, 0.4, 0.4))
    ins.set(xlim=(-half, half), ylim=(-half, half), aspect="equal", xticks=[], yticks=[], facecolor="white")
    ins.plot([0], [0], "x", color="red", ms=6, mew=1.5)
    _iterates(ins, ab, ms=3.5)
    ins.text(0.04, 0.96, f"×{extent / half:.0f}", transform=ins.transAxes, va="top", fontsize=8)


def _landscape_panel(ax, p: Panel, axis: np.ndarray, letter: str):
    """F on the (a, b) plane (log colours) with the next iterates; θ_t a red cross; returns the contour set."""
    surf = p.landscape.numpy()
    levels = np.geomspace(max(surf.min(), 1e-6), surf.max(), 30)
    cs = ax.contourf(axis, axis, surf, levels=levels, norm="log", cmap="cividis")
    ab = p.path_ab.numpy()
    ax.plot([0], [0], "x", color="white", ms=9, mew=3.5, zorder=2)
    ax.plot([0], [0], "x", color="red", ms=8, mew=1.8, zorder=2, label=r"$\theta_t$")
    _iterates(ax, ab, ms=4.5)
    ax.set(aspect="equal", xlim=(axis[0], axis[-1]), ylim=(axis[0], axis[-1]))
    ticks = [axis[0], 0.0, axis[-1]]
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.set_yticks(ticks, [f"{v:g}" for v in ticks])
    ax.set_title(f"({letter}) t = {p.t}\n{p.dynamics}, " + rf"$\lambda_1$ = {float(p.lambda_top2[0]):.2f}", loc="left")
    ax.grid(False)
    _inset(ax, ab, float(axis[-1]))
    return cs


def _fig3_group(res: Result) -> Figure:
    """Fig. 3's panels, three per row, each with its colour bar; a spare slot holds the legend."""
    n = len(res.panels)
    rows = max(1, math.ceil(n / 3))
    fig, axes = new_figure(3, rows, width=2.85, height=2.9)
    axis = res.grid_axis.numpy()
    flat = list(axes.ravel())
    for i, (ax, p) in enumerate(zip(flat, res.panels)):
        cs = _landscape_panel(ax, p, axis, _PANEL_LETTERS[i])
        fig.colorbar(cs, ax=ax, shrink=0.8, ticks=LogLocator(subs=(1.0, 2.0, 5.0)), format="%.2g")
        if i % 3 == 0:
            ax.set_ylabel(r"$b$ (along $v_2$)")
        if i >= n - 3:
            ax.set_xlabel(r"$a$ (along $v_1$)")
    for ax in flat[n:]:
        ax.axis("off")
    if res.panels:
        handles, labels = flat[0].get_legend_handles_labels()
        title = r"$\mathcal{F}(\theta_t + a v_1 + b v_2,\, t)$"
        if n < len(flat):
            flat[n].legend(handles, labels, loc="center", title=title)
        else:
            fig.legend(handles, labels, loc="outside lower center", ncols=2, title=title)
    return fig


def plot_period_doubling(res: Result) -> list[Shown]:
    """The page's figures: Fig. 2 (a–d) Γ_i(t), F, ΔF and λ_max over the whole run; (e–h) the same zoomed on
    the aligned onset; Fig. 3 (i–…) F on the (v₁, v₂) plane at the panel times with the next iterates."""
    t_star = res.t_star if res.t_star >= 0 else res.steps // 2
    lo, hi = max(0, t_star - 1000), min(res.steps, t_star + 500)
    n = len(res.panels)
    last = _PANEL_LETTERS[n - 1] if n else _PANEL_LETTERS[0]
    follow = len(res.panels[0].path_ab) - 1 if res.panels else 0
    with style():  # the book's fonts for every artist
        return [
            Shown(
                _fig2_group(res, 0, res.steps, False, 0),
                "Paper 2, Figure 2 (a–d), reconstructed (its caption is missing). One network trained with the "
                f"dynamical cross-entropy (H = {res.H}, η = {res.eta:g}, A = {res.A:g}, T = {res.T}): the class "
                "weights, the loss, its same-landscape change and λmax with the edge of stability 2/η; dotted lines "
                "mark each period's instability onset t*.",
                "Four stacked panels against the GD step: three class weights rising and falling one after the "
                "other; the loss on a log axis; the loss change on a symmetric-log axis, which turns to alternating "
                "signs at each onset; and λmax climbing to the dashed 2/η line, with triangles at the onsets and "
                "circles at the jumps.",
            ),
            Shown(
                _fig2_group(res, lo, hi, True, 4),
                f"Paper 2, Figure 2 (e–h), zoom on the onset of period {res.align_period + 1}, steps {lo} to {hi}: "
                "the same four quantities; green lines mark the times of the Figure 3 panels.",
                "The same four stacked panels over a window around the onset: λmax reaches the 2/η line where the "
                "loss change starts to alternate in sign; vertical green lines at the Figure 3 times.",
                "zoom",
            ),
            Shown(
                _fig3_group(res),
                f"Paper 2, Figure 3 (a–e), here panels (i–{last}). The loss F(θt + a v1 + b v2, t) on the plane "
                "of the top-2 Hessian eigenvectors at the panel times (log colour scale, θt the red cross), with the "
                f"next {follow} iterates projected on the plane (green dots and arrows); each title names their "
                "dynamics and the top eigenvalue λ1.",
                f"{n} square colour maps of the loss over a and b, each with the green path of the next iterates "
                "starting at the red cross in the centre; where the path is too short to see, an inset in the lower "
                "right corner shows it magnified (the factor is written in the inset).",
                "landscape",
            ),
        ]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Period doubling in one DCE run and slices of the landscape"
PAPER_FIGURE = "Figs. 2–3"
plot = plot_period_doubling
