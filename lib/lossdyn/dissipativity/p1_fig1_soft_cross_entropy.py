"""Paper 1, Figure 1: the geometry of the soft cross-entropy (eq. 13, Lemmas 3–8).

No training: everything is evaluated in closed form or by sampling. The run returns

* the constants δ, H(q̃), ε, x̃⋆_y (corrected and as printed) and checks on them;
* the loss on a contour grid in the plane (x_y, x_c) with x_c shared by every c ≠ y
  (for C = 2 that is the (x₁, x₂) plane of the paper's Fig. 1; for any C the minimiser
  line X⋆_y lies in it);
* a 1-D cut x̃⋆_y + s·d along d ∝ e_y − 1/C (s > 0: over-confident, s < 0: towards the
  other classes) with the quadratic core, the linear tails and Lemma 8's bound α(s);
* a sample of points with their distance to X⋆_y and loss, to test Lemma 8.

It exposes two typos of the printed paper (book/methods.md#p1-soft-ce); the choices the paper
leaves open for Fig. 1 and the verdicts' thresholds are in book/methods.md#p1-fig1-choices.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from lossdyn.dissipativity import soft_ce
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, generator, resolve_device, resolve_dtype
from lossdyn.pipeline.figures import KERNEL_BYTES, Cost
from lossdyn.pipeline.plotting import PALETTE, Shown, letter_panels, new_figure
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import WholeRun

__all__ = [
    "Config",
    "Result",
    "asymptote_intercept",
    "claims",
    "compute",
    "constants_table",
    "estimate",
    "finish",
    "key_numbers",
    "plan",
    "plot_soft_ce_geometry",
    "shape_summary",
    "typo_table",
]


#: For C > 2, λ_Ω,min and m are sampled minima (upper estimates); Lemma 8 is checked with
#: both shrunk by this factor (book/methods.md#p1-fig1-choices). For C = 2 they are exact and it is 1.
SAFETY_FACTOR_SAMPLED = 0.9


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``p1_fig1_soft_cross_entropy`` (see the notebook for their defaults)."""

    presentation_fields = ()

    C: int  # number of classes
    p_d: float  # target probability of the true class, eq. (12); needs 1/C < p_d < 1
    label: int  # class y whose loss is drawn (0-based; the paper's y = 1 is label 0)
    extent: float  # contour window is [-extent, extent]^2
    grid: int  # contour points per axis
    s_max: float  # the 1-D cut runs over s in [-s_max, s_max]
    n_cut: int  # points on the 1-D cut
    n_bound_samples: int  # random points for λ_Ω,min, m and the check of Lemma 8
    dtype: str  # float64 or float32

    def validate(self) -> None:
        self._require("C", 2 <= self.C <= 1000, "an integer 2 <= C <= 1000")
        self._require("p_d", 1.0 / self.C < self.p_d < 1.0, f"1/C < p_d < 1, i.e. {1.0 / self.C:.6g} < p_d < 1")
        self._require("label", 0 <= self.label < self.C, f"0 <= label < C = {self.C}")
        self._require("extent", 0.0 < self.extent <= 1e3, "0 < extent <= 1000")
        self._require("grid", 11 <= self.grid <= 2001, "11 <= grid <= 2001")
        self._require("s_max", 1.0 < self.s_max <= 1e3, "1 < s_max <= 1000")
        self._require("n_cut", 11 <= self.n_cut <= 100_001, "11 <= n_cut <= 100001")
        self._require("n_bound_samples", 100 <= self.n_bound_samples <= 10_000_000, "100 <= n_bound_samples <= 1e7")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))


@dataclasses.dataclass(frozen=True)
class Result:
    """What the page shows; every tensor float64 on the CPU (``finish`` makes it from :func:`compute`).

    The setting and constants (eq. 12–13, Lemma 3):

    * ``C``, ``p_d``, ``label`` — as in the config; y = ``label``;
    * ``delta`` — δ = −log((C−1)·p_d/(1−p_d)) (Lemma 3);
    * ``target_entropy`` — H(q̃) = ℓ̃⋆ in nats (eq. 13);
    * ``label_smoothing_epsilon`` — ε = C(1−p_d)/(C−1) of ``F.cross_entropy(label_smoothing=ε)``;
    * ``loss_uniform`` — log C − H(q̃), the loss at a uniform softmax.

    The minimiser point x̃⋆_y = X⋆_y ∩ X_T, corrected and as printed (book/methods.md#p1-soft-ce):

    * ``x_star``, ``x_star_printed`` — the two points, shape ``(C,)``;
    * ``x_star_sum``, ``x_star_printed_sum`` — their component sums (0 on X_T);
    * ``x_star_loss``, ``x_star_printed_loss`` — their losses (0 on X⋆_y);
    * ``max_abs_loss_on_line``, ``max_grad_on_line`` — max |ℓ̃_f| and max ‖∇ℓ̃_f‖ on 11 points
      x̃⋆_y + t·1, t ∈ [−5, 5], of the line X⋆_y.

    Lemma 7 at 8 random points: ``hessian_max_abs_error`` (autograd against diag(p) − ppᵀ),
    ``hessian_min_eig``, ``hessian_null_residual`` (max ‖H·1‖).

    Lemma 8 (book/methods.md#p1-fig1-choices):

    * ``lambda_omega_min``, ``m`` — its constants λ_Ω,min and m (exact for C = 2, sampled minima otherwise);
    * ``bound_factor`` — the factor both are shrunk by in the check (1 for C = 2, else 0.9);
    * ``lemma8_violations``, ``lemma8_violations_printed`` — how many of the ``n_bound_samples``
      random points violate ℓ̃_f ≥ α(dist) with the corrected and with the printed α;
    * ``sample_dist``, ``sample_loss`` — dist(x, X⋆_y) and ℓ̃_f of the first min(n_bound_samples, 3000)
      of them, shape ``(n_show,)``.

    The 1-D cut x̃⋆_y + s·d, d ∝ e_y − 1/C, ‖d‖ = 1 (Fig. 1's Huber-like shape):

    * ``cut_s``, ``cut_loss`` — s on [−s_max, s_max] and ℓ̃_f along the cut, shape ``(n_cut,)``;
    * ``curvature`` — κ = dᵀ∇²ℓ̃_f(x̃⋆_y)d;
    * ``slope_overconfident``, ``slope_wrong`` — the asymptotic slopes max_j d_j − q̃ᵀd for s → +∞
      and s → −∞; ``intercept_overconfident``, ``intercept_wrong`` — their asymptotes' intercepts;
    * ``quadratic_rel_error_1e_2``, ``quadratic_rel_error_1e_3`` — max relative error of ½κs² at
      |s| = 0.01 and 0.001;
    * ``tail_gap_overconfident``, ``tail_gap_wrong`` — ℓ̃_f minus its asymptote at s = ±s_max.

    The contour plane (x_y, x_c), x_c shared by every c ≠ y: ``grid_axis``, shape ``(grid,)``, and
    ``grid_loss``, shape ``(grid, grid)`` (rows: x_c, columns: x_y).
    """

    C: int
    p_d: float
    label: int
    delta: float
    target_entropy: float
    label_smoothing_epsilon: float
    loss_uniform: float
    x_star: torch.Tensor
    x_star_printed: torch.Tensor
    x_star_sum: float
    x_star_printed_sum: float
    x_star_loss: float
    x_star_printed_loss: float
    max_abs_loss_on_line: float
    max_grad_on_line: float
    hessian_max_abs_error: float
    hessian_min_eig: float
    hessian_null_residual: float
    lambda_omega_min: float
    m: float
    bound_factor: float
    lemma8_violations: int
    lemma8_violations_printed: int
    n_bound_samples: int
    sample_dist: torch.Tensor
    sample_loss: torch.Tensor
    cut_s: torch.Tensor
    cut_loss: torch.Tensor
    curvature: float
    slope_overconfident: float
    slope_wrong: float
    intercept_overconfident: float
    intercept_wrong: float
    quadratic_rel_error_1e_2: float
    quadratic_rel_error_1e_3: float
    tail_gap_overconfident: float
    tail_gap_wrong: float
    grid_axis: torch.Tensor
    grid_loss: torch.Tensor


def _plane_states(a: torch.Tensor, b: torch.Tensor, C: int, label: int) -> torch.Tensor:
    """States with [x]_label = a and [x]_c = b for every c ≠ label; shape a.shape + (C,)."""
    x = b.unsqueeze(-1).expand(*b.shape, C).clone()
    x[..., label] = a
    return x


def asymptote_intercept(x0: torch.Tensor, d: torch.Tensor, y: torch.Tensor, *, p_d: float) -> torch.Tensor:
    """b in ℓ̃_f(x0 + s·d, y) = slope·s + b + o(1) as s → ∞ (slope = ``soft_ce.asymptotic_slope``).

    From log-sum-exp → max: b = Σ q̃ log q̃ − q̃ᵀx0 + log Σ_{j ∈ argmax d} exp([x0]_j).
    """
    C = x0.shape[-1]
    q = soft_ce.smoothed_target(y, C, p_d, dtype=x0.dtype)
    top = d >= d.max(dim=-1, keepdim=True).values - 1e-12
    lse_top = torch.logsumexp(torch.where(top, x0, torch.full_like(x0, -math.inf)), dim=-1)
    return (q * torch.log(q)).sum(-1) - (q * x0).sum(-1) + lse_top


@dataclasses.dataclass(frozen=True)
class _Setting:
    """What the steps of :func:`compute` share: C, p_d, the label y (a 1-element tensor), dtype, device."""

    C: int
    p_d: float
    y: torch.Tensor
    dtype: torch.dtype
    device: torch.device

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """ℓ̃_f(x, y) of eq. (13) for states x of shape ``(..., C)``."""
        return soft_ce.soft_cross_entropy(x, self.y.expand(x.shape[:-1]), p_d=self.p_d)

    def ones(self) -> torch.Tensor:
        """1_C, the direction of the minimiser line X⋆_y (Lemma 3)."""
        return torch.ones(self.C, dtype=self.dtype, device=self.device)


def _cpu(v: torch.Tensor) -> torch.Tensor:
    """A result tensor as stored: detached, float64, on the CPU."""
    return v.detach().to("cpu", torch.float64)


def _constants(C: int, p_d: float) -> dict[str, float]:
    """δ (Lemma 3), H(q̃) (eq. 13), the label-smoothing ε and the loss at a uniform softmax."""
    return {
        "delta": soft_ce.delta(C, p_d),
        "target_entropy": soft_ce.target_entropy(C, p_d),
        "label_smoothing_epsilon": soft_ce.label_smoothing_epsilon(C, p_d),
        "loss_uniform": math.log(C) - soft_ce.target_entropy(C, p_d),
    }


def _minimiser_checks(s: _Setting, x_star: torch.Tensor) -> dict[str, Any]:
    """x̃⋆_y corrected and as printed (sum, loss), and loss and gradient on 11 points of X⋆_y (Lemma 3)."""
    x_printed = soft_ce.minimiser_point_as_printed(s.y, s.C, s.p_d, dtype=s.dtype)[0]
    t = torch.linspace(-5.0, 5.0, 11, dtype=s.dtype, device=s.device)
    on_line = s.loss(x_star + t[:, None] * s.ones())
    grad_on_line = soft_ce.soft_ce_gradient(x_star + t[:, None] * s.ones(), s.y.expand(11), p_d=s.p_d)
    return {
        "x_star": _cpu(x_star),
        "x_star_printed": _cpu(x_printed),
        "x_star_sum": float(x_star.sum()),
        "x_star_printed_sum": float(x_printed.sum()),
        "x_star_loss": float(s.loss(x_star[None])[0]),
        "x_star_printed_loss": float(s.loss(x_printed[None])[0]),
        "max_abs_loss_on_line": float(on_line.abs().max()),
        "max_grad_on_line": float(torch.linalg.vector_norm(grad_on_line, dim=-1).max()),
    }


def _hessian_check(s: _Setting, gen: torch.Generator) -> dict[str, float]:
    """Lemma 7: the autograd Hessian against diag(p) − ppᵀ at 8 random points (first draws of ``gen``)."""
    xs = 3.0 * torch.randn(8, s.C, generator=gen, dtype=s.dtype, device=s.device)
    hess_auto = torch.stack([torch.func.hessian(lambda v: s.loss(v[None])[0])(v) for v in xs])
    hess_formula = soft_ce.hessian(xs)
    hess_eigs = torch.linalg.eigvalsh(hess_formula)
    return {
        "hessian_max_abs_error": float((hess_auto - hess_formula).abs().max()),
        "hessian_min_eig": float(hess_eigs.min()),
        "hessian_null_residual": float(torch.linalg.vector_norm(hess_formula @ s.ones(), dim=-1).max()),
    }


def _lemma8_check(cfg: Config, s: _Setting, gen: torch.Generator, x_star: torch.Tensor) -> dict[str, Any]:
    """Lemma 8: its constants (sampled), then ℓ̃_f against α(dist) on random points, corrected and as
    printed (the next draws of ``gen``; book/methods.md#p1-fig1-choices)."""
    n = cfg.n_bound_samples
    lam, m = soft_ce.huber_bound_constants(s.C, s.p_d, n_samples=n, generator=gen, dtype=s.dtype)
    factor = 1.0 if s.C == 2 else SAFETY_FACTOR_SAMPLED
    g = torch.randn(n, s.C, generator=gen, dtype=s.dtype, device=s.device)
    s_rand = cfg.s_max * torch.rand(n, 1, generator=gen, dtype=s.dtype, device=s.device) ** 2
    x_rand = x_star + s_rand * soft_ce.project(g) / torch.linalg.vector_norm(soft_ce.project(g), dim=-1, keepdim=True)
    x_rand = x_rand + torch.randn(n, 1, generator=gen, dtype=s.dtype, device=s.device) * s.ones()
    y_rand = s.y.expand(n)
    dist = soft_ce.distance_to_minimiser_set(x_rand, y_rand, p_d=s.p_d)
    loss_rand = soft_ce.soft_cross_entropy(x_rand, y_rand, p_d=s.p_d)
    alpha = soft_ce.huber_lower_bound(dist, factor * lam, factor * m)
    alpha_printed = soft_ce.huber_lower_bound(dist, factor * lam, factor * m, as_printed=True)
    tol = 1e-12 if s.dtype == torch.float64 else 1e-6
    n_show = min(n, 3000)
    return {
        "lambda_omega_min": lam,
        "m": m,
        "bound_factor": factor,
        "lemma8_violations": int((loss_rand < alpha - tol).sum()),
        "lemma8_violations_printed": int((loss_rand < alpha_printed - tol).sum()),
        "n_bound_samples": n,
        "sample_dist": _cpu(dist[:n_show]),
        "sample_loss": _cpu(loss_rand[:n_show]),
    }


def _cut(cfg: Config, s: _Setting, x_star: torch.Tensor) -> dict[str, Any]:
    """The 1-D cut x̃⋆_y + s·d along d ∝ e_y − 1/C: quadratic core and linear tails (Fig. 1)."""
    d = soft_ce.project(torch.nn.functional.one_hot(s.y, s.C).to(s.dtype))[0]
    d = d / torch.linalg.vector_norm(d)
    cut_s = torch.linspace(-cfg.s_max, cfg.s_max, cfg.n_cut, dtype=s.dtype, device=s.device)
    loss_cut = s.loss(x_star + cut_s[:, None] * d)
    curvature = float(d @ soft_ce.hessian(x_star) @ d)
    slope_over = float(soft_ce.asymptotic_slope(d[None], s.y, p_d=s.p_d)[0])
    slope_wrong = float(soft_ce.asymptotic_slope(-d[None], s.y, p_d=s.p_d)[0])
    icpt_over = float(asymptote_intercept(x_star[None], d[None], s.y, p_d=s.p_d)[0])
    icpt_wrong = float(asymptote_intercept(x_star[None], -d[None], s.y, p_d=s.p_d)[0])
    # Quadratic core: the relative error of ½κs² is O(|s|) (Taylor), measured at |s| = 0.01 and 0.001.
    quad_rel_err = {}
    for r in (0.01, 0.001):
        s_r = torch.tensor([-r, r], dtype=s.dtype, device=s.device)
        err = (s.loss(x_star + s_r[:, None] * d) - 0.5 * curvature * s_r**2).abs() / (0.5 * curvature * s_r**2)
        quad_rel_err[r] = float(err.max())
    tail_gap_over = float(s.loss(x_star + cfg.s_max * d[None])[0]) - (slope_over * cfg.s_max + icpt_over)
    tail_gap_wrong = float(s.loss(x_star - cfg.s_max * d[None])[0]) - (slope_wrong * cfg.s_max + icpt_wrong)
    return {
        "cut_s": _cpu(cut_s),
        "cut_loss": _cpu(loss_cut),
        "curvature": curvature,
        "slope_overconfident": slope_over,
        "slope_wrong": slope_wrong,
        "intercept_overconfident": icpt_over,
        "intercept_wrong": icpt_wrong,
        "quadratic_rel_error_1e_2": quad_rel_err[0.01],
        "quadratic_rel_error_1e_3": quad_rel_err[0.001],
        "tail_gap_overconfident": tail_gap_over,
        "tail_gap_wrong": tail_gap_wrong,
    }


def _contour(cfg: Config, s: _Setting) -> dict[str, torch.Tensor]:
    """ℓ̃_f on the grid of the plane (x_y, x_c) over [−extent, extent]²."""
    axis = torch.linspace(-cfg.extent, cfg.extent, cfg.grid, dtype=s.dtype, device=s.device)
    A, B = torch.meshgrid(axis, axis, indexing="xy")
    return {"grid_axis": _cpu(axis), "grid_loss": _cpu(s.loss(_plane_states(A, B, s.C, cfg.label)))}


def compute(cfg: Config) -> dict[str, Any]:
    """Everything the page shows, as the fields of :class:`Result` (CPU tensors and numbers: cacheable).

    The steps draw from one generator in a fixed order: the Hessian check, then Lemma 8's constants
    and random points.
    """
    device = resolve_device(cfg.device)
    s = _Setting(cfg.C, cfg.p_d, torch.tensor([cfg.label], device=device), resolve_dtype(cfg.dtype), device)
    gen = generator(cfg.seed, device)
    x_star = soft_ce.minimiser_point(s.y, s.C, s.p_d, dtype=s.dtype)[0]
    return {
        "C": cfg.C,
        "p_d": cfg.p_d,
        "label": cfg.label,
        **_constants(cfg.C, cfg.p_d),
        **_minimiser_checks(s, x_star),
        **_hessian_check(s, gen),
        **_lemma8_check(cfg, s, gen, x_star),
        **_cut(cfg, s, x_star),
        **_contour(cfg, s),
    }


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run (the figure contract's optional ``estimate``) from its sizes:
    the contour plane (grid² × C values), Lemma 8's samples (n × C, and n Hessians of C × C with their
    eigenvalues, n × C² memory and about n × C⁴ time on this CPU).

    Fitted on the project's 2-core CPU, compute alone, peak RSS over a process that imports what a kernel does:
    C = 2, grid 201, n = 2·10⁴: 1.4 s, +89 MB; grid 801: 1.6 s, +146 MB; n = 2·10⁶: 3.0 s, +480 MB;
    C = 50, grid 401: 9.2 s, +1.28 GB; C = 200, n = 5000: 489 s, +4.7 GB. The rest of the notebook
    (kernel, figure) took 5.5 s.
    """
    plane, n, C = cfg.grid**2 * cfg.C, cfg.n_bound_samples, cfg.C
    seconds = 6.7 + 1.3e-7 * plane + 3.9e-7 * n * C + 5.4e-11 * n * C**4
    return Cost(seconds=seconds, memory_bytes=int(KERNEL_BYTES + 47 * plane + 99 * n * C + 21 * n * C**2))


def plan(cfg: Config) -> WholeRun:
    """One unit: the whole run (:func:`compute`)."""
    return WholeRun(cfg, compute)


def finish(cfg: Config, parts: dict[str, Any]) -> Result:
    """The page's result from the one unit's result (:func:`compute`)."""
    return Result(**parts)


#: The numbers the page quotes and the JSON sidecar stores (fields of :class:`Result`).
_KEY_NUMBERS = (
    "delta",
    "target_entropy",
    "max_abs_loss_on_line",
    "label_smoothing_epsilon",
    "loss_uniform",
    "x_star",
    "x_star_printed",
    "x_star_printed_sum",
    "x_star_printed_loss",
    "lambda_omega_min",
    "m",
    "bound_factor",
    "lemma8_violations",
    "lemma8_violations_printed",
    "n_bound_samples",
    "curvature",
    "slope_overconfident",
    "slope_wrong",
    "hessian_max_abs_error",
    "quadratic_rel_error_1e_2",
    "quadratic_rel_error_1e_3",
    "tail_gap_overconfident",
    "tail_gap_wrong",
)


#: What the paper states for Fig. 1 (its caption, Section 3.2): two classes, target class y = 1 (1-based).
#: It states no p_d for Fig. 1 (book/methods.md#p1-fig1-choices).
PAPER = {"C": 2, "target_class_y": 1}


def key_numbers(res: Result) -> dict[str, Any]:
    """The fields of :data:`_KEY_NUMBERS`, under their own names, and the paper's values (``"paper"``)."""
    return {
        **{k: getattr(res, k) for k in _KEY_NUMBERS},
        "bound_factor_sampled": SAFETY_FACTOR_SAMPLED,
        "paper": dict(PAPER),
    }


def claims(res: Result) -> list[Claim]:
    """The page's claims, each with the measured numbers and a verdict computed from them
    (thresholds: book/methods.md#p1-fig1-choices)."""
    # Huber-like: the relative error of ½κs² falls to 0 with |s| (about 10× from |s| = 0.01 to 0.001),
    # and the loss meets its linear asymptotes (closed form) at |s| = s_max.
    e2, e3 = res.quadratic_rel_error_1e_2, res.quadratic_rel_error_1e_3
    tail_over, tail_wrong = res.tail_gap_overconfident, res.tail_gap_wrong
    huber = e3 < 1e-2 and 5.0 < e2 / e3 < 20.0 and abs(tail_over) < 1e-2 and abs(tail_wrong) < 1e-2
    return [
        Claim(
            "P1-L3",
            "Lemma 3: the minimisers of the soft cross-entropy form the line X*_y = {x : x_c = x_y + δ} "
            "with δ = −log((C−1)p_d/(1−p_d)), and the minimum value is 0.",
            f"δ = {res.delta:.6f}; max |loss| on 11 points of the line = {res.max_abs_loss_on_line:.1e}, "
            f"max ‖∇loss‖ there = {res.max_grad_on_line:.1e}",
            verdict(res.max_abs_loss_on_line < 1e-9 and res.max_grad_on_line < 1e-9),
        ),
        Claim(
            "P1-X*",
            "The point x̃*_y = X*_y ∩ X_T has y-component −(C/(C−1))·δ and the others δ/C (as printed).",
            f"printed point: component sum {res.x_star_printed_sum:.6f} (should be 0), "
            f"loss {res.x_star_printed_loss:.6f} (should be 0); corrected −((C−1)/C)·δ gives sum "
            f"{res.x_star_sum:.1e} and loss {res.x_star_loss:.1e}",
            verdict(abs(res.x_star_printed_sum) < 1e-9 and res.x_star_printed_loss < 1e-9),
        ),
        Claim(
            "P1-L7",
            "Lemma 7: the Hessian is diag(p) − ppᵀ, positive semidefinite with null vector 1.",
            f"max |autograd − formula| = {res.hessian_max_abs_error:.1e}; min eigenvalue "
            f"{res.hessian_min_eig:.1e}; ‖H·1‖ ≤ {res.hessian_null_residual:.1e}",
            verdict(
                res.hessian_max_abs_error < 1e-9 and res.hessian_min_eig > -1e-12 and res.hessian_null_residual < 1e-12
            ),
        ),
        Claim(
            "P1-F1",
            "Fig. 1: the loss is quadratic near the minimiser set and linear far from it (Huber-like).",
            f"quadratic core: relative error of ½κs² (κ = {res.curvature:.6f}) is {e2:.2e} at |s| = 0.01 and "
            f"{e3:.2e} at |s| = 0.001; "
            f"linear tails: slopes {res.slope_overconfident:.4f} (over-confident) and {res.slope_wrong:.4f} "
            f"(wrong class), gap to the asymptote at |s| = s_max: {tail_over:.1e} and {tail_wrong:.1e}",
            verdict(huber),
        ),
        Claim(
            "P1-L8",
            "Lemma 8: ℓ̃_f ≥ α(dist(x, X*_y)) with α(s) = (λ/2)s² for s ≤ 1 and m·s + λ/2 for s > 1 (as printed).",
            f"λ_Ω,min = {res.lambda_omega_min:.6f}, m = {res.m:.6f} (×{res.bound_factor:.1f}); printed α is "
            f"violated at {res.lemma8_violations_printed} of {res.n_bound_samples} random points; the corrected "
            f"branch λ/2 + m(s−1) at {res.lemma8_violations}",
            verdict(res.lemma8_violations_printed == 0, partly=res.lemma8_violations == 0),
        ),
    ]


def constants_table(res: Result) -> Table:
    """The constants of the page at fixed precision (eq. 12–13, Lemmas 3, 7 and 8)."""
    rows = [
        ("C, p_d", f"{res.C}, {res.p_d:.6f}"),
        ("δ = −log((C−1)p_d/(1−p_d))  (Lemma 3)", f"{res.delta:+.6f}"),
        ("H(q̃) = ℓ̃⋆  [nats]  (eq. 13)", f"{res.target_entropy:.6f}"),
        ("label_smoothing ε = C(1−p_d)/(C−1)", f"{res.label_smoothing_epsilon:.6f}"),
        ("loss at uniform softmax = log C − H(q̃)", f"{res.loss_uniform:.6f}"),
        ("[x̃⋆_y]_y = −(C−1)/C·δ (corrected)", f"{float(res.x_star[res.label]):+.6f}"),
        ("[x̃⋆_y]_c = δ/C, c ≠ y", f"{res.delta / res.C:+.6f}"),
        ("max |loss| on the line X⋆_y", f"{res.max_abs_loss_on_line:.6f}"),
        ("curvature κ = dᵀ∇²ℓ̃ d at x̃⋆_y", f"{res.curvature:.6f}"),
        ("tail slope, over-confident side", f"{res.slope_overconfident:.6f}"),
        ("tail slope, wrong-class side", f"{res.slope_wrong:.6f}"),
        ("λ_Ω,min  (Lemma 8)", f"{res.lambda_omega_min:.6f}"),
        ("m  (Lemma 8)", f"{res.m:.6f}"),
    ]
    return Table(["quantity", "value"], rows, caption="Constants of the soft cross-entropy for this run.")


def typo_table(res: Result) -> Table:
    """The two checks that expose the paper's typos, at fixed precision (book/methods.md#p1-soft-ce)."""
    n = res.n_bound_samples
    rows = [
        ("[x̃⋆_y]_y, formula", "−C/(C−1)·δ", "−(C−1)/C·δ"),
        ("[x̃⋆_y]_y, value", float(res.x_star_printed[res.label]), float(res.x_star[res.label])),
        ("component sum (0 on X_T)", res.x_star_printed_sum, abs(res.x_star_sum)),
        ("loss at x̃⋆_y (0 on X⋆_y)", res.x_star_printed_loss, abs(res.x_star_loss)),
        ("Lemma 8: α(s) for s > 1", "m·s + λ/2", "λ/2 + m·(s − 1)"),
        (f"points with ℓ̃_f < α(dist), of {n}", res.lemma8_violations_printed, res.lemma8_violations),
    ]
    caption = (
        "The two typos: the point x̃⋆_y = X⋆_y ∩ X_T and Lemma 8's bound for s > 1, as printed and corrected "
        f"(λ and m × {res.bound_factor:.1f})."
    )
    return Table(
        ["check", "as printed", "corrected"], rows, caption=caption, formats={"as printed": ".6f", "corrected": ".6f"}
    )


def _cut_text(res: Result) -> str:
    """One paragraph on the 1-D cut of panel (b), its numbers from ``res`` at fixed precision (plain Unicode:
    the book renders generated Markdown without its math extension)."""
    return (
        f"On this run the cut has curvature κ = {res.curvature:.6f} at x̃⋆_y; the relative error of ½κs² is "
        f"{res.quadratic_rel_error_1e_2:.2e} at |s| = 0.01 and {res.quadratic_rel_error_1e_3:.2e} at |s| = 0.001: "
        f"it shrinks in proportion to |s|. The tails have slopes {res.slope_overconfident:.4f} (over-confident "
        f"side) and {res.slope_wrong:.4f} (towards the other classes), and at |s| = s_max the loss is "
        f"{res.tail_gap_overconfident:.1e} and {res.tail_gap_wrong:.1e} away from its asymptotes."
    )


def _bound_text(res: Result) -> str:
    """One paragraph on Lemma 8's check of panel (c), its numbers from ``res``."""
    kind = "exact for C = 2" if res.C == 2 else f"sampled minima, shrunk by the factor {res.bound_factor:.1f}"
    return (
        f"Lemma 8's constants on this run: λ_Ω,min = {res.lambda_omega_min:.6f} and m = {res.m:.6f} ({kind}). "
        f"Of the {res.n_bound_samples} random points, {res.lemma8_violations_printed} lie below the printed bound "
        f"and {res.lemma8_violations} below the corrected one."
    )


def shape_summary(res: Result) -> str:
    """The page's generated prose (Markdown): the Huber-like shape along the cut, then Lemma 8's check."""
    return _cut_text(res) + "\n\n" + _bound_text(res)


# -- the figures -------------------------------------------------------------------------------
def _contour_panel(fig: Figure, ax, res: Result) -> None:
    """(a) ℓ̃_f over the plane (x_y, x_c), x_c shared by every c ≠ y, with the minimiser line(s) and
    x̃⋆_y corrected and as printed; the legend goes below the figure."""
    C, delta, label = res.C, res.delta, res.label
    axis = res.grid_axis.numpy()
    loss = res.grid_loss.numpy()
    levels = np.geomspace(1e-3, max(float(loss.max()), 1e-2), 14)
    cs = ax.contourf(axis, axis, np.clip(loss, levels[0], None), levels=levels, norm="log", cmap="viridis")
    cbar = fig.colorbar(cs, ax=ax, shrink=0.9)
    cbar.set_ticks([t for t in 10.0 ** np.arange(-3, 4) if levels[0] <= t <= levels[-1]])
    cbar.set_label(r"loss $\tilde\ell_f(x, y)$")
    line = axis + delta  # X*_y: x_c = x_y + δ
    ax.plot(axis, line, color="white", lw=2, label=r"$X^\star_y$: $x_c = x_y + \delta$")
    if C == 2:
        ax.plot(axis, axis - delta, color="white", lw=1.5, ls="--", label=r"$X^\star_{c}$ (the other class)")
    xs, xp = res.x_star.numpy(), res.x_star_printed.numpy()
    other = 1 if label == 0 else 0
    ax.plot(xs[label], xs[other], "o", color=PALETTE[4], mec="k", ms=7, label=r"$\tilde x^\star_y$ (corrected)")
    ax.plot(xp[label], xp[other], "X", color=PALETTE[1], mec="k", ms=8, label=r"$\tilde x^\star_y$ as printed")
    ext = float(axis[-1])
    ax.set(
        xlim=(-ext, ext),
        ylim=(-ext, ext),
        aspect="equal",
        xlabel=rf"$x_{{y}}$ (label $y$ = {label + 1})",
        ylabel=r"$x_c$" + (r" ($c \neq y$, all equal)" if C > 2 else ""),
        title="loss over the plane",
    )
    ax.grid(False)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, facecolor="0.92")


def _cut_panel(ax, res: Result) -> None:
    """(b) The 1-D cut x̃⋆_y + s·d with quadratic core, linear asymptotes and Lemma 8's α beneath."""
    s = res.cut_s.numpy()
    cut = res.cut_loss.numpy()
    lam, m, f = res.lambda_omega_min, res.m, res.bound_factor
    abs_s = torch.as_tensor(np.abs(s))
    alpha = soft_ce.huber_lower_bound(abs_s, f * lam, f * m).numpy()
    alpha_printed = soft_ce.huber_lower_bound(abs_s, f * lam, f * m, as_printed=True).numpy()
    quad = 0.5 * res.curvature * s**2
    tail = np.where(
        s > 0,
        res.slope_overconfident * s + res.intercept_overconfident,
        res.slope_wrong * -s + res.intercept_wrong,
    )
    top = 1.6 * float(cut[-1])  # the slow (over-confident) tail sets the scale; the steep side is clipped
    ax.plot(s, cut, color=PALETTE[0], lw=2.2, label=r"$\tilde\ell_f(\tilde x^\star_y + s d)$ on the cut")
    ax.plot(s, quad, color=PALETTE[2], ls=":", lw=1.8, label=r"quadratic core $\frac{\kappa}{2}s^2$")
    ax.plot(s, tail, color="0.35", ls="--", lw=1, label="linear asymptotes")
    ax.fill_between(s, 0, alpha, color=PALETTE[4], alpha=0.35, lw=0, label=r"$\alpha$ corrected (shaded in b)")
    ax.plot(s, alpha_printed, color=PALETTE[1], ls="-.", lw=1.4, label=r"$\alpha$ as printed ($m s + \lambda/2$)")
    ax.set(
        ylim=(0, top),
        xlim=(s[0], s[-1]),
        xlabel=r"$s$   ($\leftarrow$ other classes | over-confident $\rightarrow$)",
        ylabel="loss",
        title="cut through the minimiser",
    )


def _bound_panel(ax, res: Result) -> None:
    """(c) Lemma 8 on random points: ℓ̃_f against dist(x, X⋆_y), with α corrected and as printed."""
    lam, m, f = res.lambda_omega_min, res.m, res.bound_factor
    dist, loss_r = res.sample_dist.numpy(), res.sample_loss.numpy()
    grid = np.geomspace(1e-3, float(dist.max()), 400)
    g = torch.as_tensor(grid)
    ax.scatter(dist, loss_r, s=4, color=PALETTE[0], alpha=0.4, lw=0, label="random points", rasterized=True)
    ax.plot(
        grid, soft_ce.huber_lower_bound(g, f * lam, f * m).numpy(), color=PALETTE[4], lw=2, label=r"$\alpha$ corrected"
    )
    ax.plot(
        grid,
        soft_ce.huber_lower_bound(g, f * lam, f * m, as_printed=True).numpy(),
        color=PALETTE[1],
        ls="-.",
        lw=1.5,
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=r"dist$(x, X^\star_y)$",
        ylabel=r"$\tilde\ell_f(x, y)$",
        xlim=(max(float(dist.min()), 1e-2), float(dist.max()) * 1.1),
        ylim=(max(float(loss_r.min()), 1e-6), None),
        title="Lemma 8 on random points",
    )


def _plane_figure(res: Result) -> Shown:
    """Paper 1, Fig. 1 itself: panel (a), the loss over the plane."""
    fig, axes = new_figure(1, 1, width=5.6, height=5.0)
    _contour_panel(fig, axes[0][0], res)
    letter_panels([axes[0][0]])
    plane = "the plane (x₁, x₂)" if res.C == 2 else "the plane (x_y, x_c) with every x_c, c ≠ y, equal"
    caption = (
        f"Paper 1, Figure 1 (a). The soft cross-entropy over {plane} for C = {res.C}, p_d = {res.p_d:g} and "
        f"label y = {res.label + 1}, on a log colour scale: it is zero on the minimiser line X⋆_y (solid white)"
        + (" and that of the other class (dashed)" if res.C == 2 else "")
        + "; the dot is x̃⋆_y = X⋆_y ∩ X_T, the cross the point as printed in the paper."
    )
    alt = (
        "Filled contour plot of the loss over a square window, low (dark) along a straight diagonal line and rising "
        "away from it; the corrected minimiser point lies on the line, the printed point off it."
    )
    return Shown(fig, caption, alt)


def _cut_bound_figure(res: Result) -> Shown:
    """Panels (b) and (c): the 1-D cut and Lemma 8 on random points, one legend below both."""
    fig, axes = new_figure(2, 1, width=4.15, height=3.6)
    ax_cut, ax_bound = axes[0]
    _cut_panel(ax_cut, res)
    _bound_panel(ax_bound, res)
    letter_panels([ax_cut, ax_bound], start=1)
    handles, labels = ax_cut.get_legend_handles_labels()
    dots, dot_labels = ax_bound.get_legend_handles_labels()
    fig.legend(handles + dots[:1], labels + dot_labels[:1], loc="outside lower center", ncol=3, facecolor="0.92")
    caption = (
        "Paper 1, Figure 1 (b, c), our panels for the text around it. (b) The loss along a line through "
        "x̃⋆_y, across X⋆_y: quadratic near the minimiser, linear far from it (Huber-like), with Lemma 8's bound "
        "beneath it, corrected (shaded) and as printed. (c) The loss of random points against their distance to "
        "X⋆_y, with both bounds."
    )
    alt = (
        "Left: a convex, Huber-like curve of the loss against s with a dotted parabola matching it near zero, "
        "dashed straight asymptotes, the shaded corrected bound below it and the printed bound crossing above "
        "the curve at large s. Right: a log-log cloud of random points lying above the corrected bound, with "
        "the printed bound passing through the cloud."
    )
    return Shown(fig, caption, alt, "cut-bound")


def plot_soft_ce_geometry(res: Result) -> list[Shown]:
    """The page's figures: (a) ℓ̃_f over the plane (x_y, x_c) with the minimiser line(s) (Fig. 1);
    (b) the 1-D cut with quadratic core, linear tails and Lemma 8's α beneath, and (c) ℓ̃_f against
    dist(x, X⋆_y) for random points with α corrected and as printed."""
    return [_plane_figure(res), _cut_bound_figure(res)]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Soft cross-entropy geometry: minimiser lines and the Lemma 8 bound"
PAPER_FIGURE = "Fig. 1"
plot = plot_soft_ce_geometry
