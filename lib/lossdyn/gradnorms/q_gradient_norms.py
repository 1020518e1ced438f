"""The question page: MSE-on-softmax against cross-entropy gradient norms, exact and measured.

The question (``shared/papers/mse-vs-cross-entropy-gradient-norms.qa.txt``) asks, for a deep ReLU
network with a softmax output, how ‖∇_W L₁‖ (L₁ = ½‖p − y‖²) relates to ‖∇_W L₂‖ (L₂ = −log p_c),
and whether ‖∇_W L₁‖ can stay away from 0 during training. The page answers with Props. 1–4
(:mod:`lossdyn.gradnorms.theory`) and measures each one; the run gives a :class:`Result` with

* (a) random logits (:class:`LogitPart`): the ratio ρ = ‖∂L₁/∂z‖/‖∂L₂/∂z‖, its lower bound
  μ(p) = max(min p, p_c‖p − y‖) and the spectrum checks of J(p) = diag(p) − ppᵀ (Props. 1, 2);
* (b) the saturation path z = z₀ + t·e_wrong (:class:`SaturationPath`), at the logits and through the
  parameters of the question's network (its last layer shifted so that one sample's logits move
  along the path): the Corollary of Prop. 2 and Prop. 3;
* (c–k) full-batch GD of a narrow and a wide net with each loss (several seeds, batched;
  :class:`TrainingRun` per width, :class:`LossSummary` per loss): every step's losses and
  gradient norms, and at checkpoints the tangent kernel's extreme eigenvalues and the
  per-sample bounds (Props. 3, 4; :mod:`lossdyn.gradnorms.training`).

The page shows them as Companion figure 1 in four groups, (a, b), (c), (d–g) and (h–k) (:func:`plot`),
with tables (``*_table``, :class:`lossdyn.pipeline.tables.Table`) and generated sentences
(``*_summary``) quoting the measurements.

The choices the question leaves open (network, data, step size) are in
book/methods.md#q-gradient-norms, what is measured and how in book/methods.md#q-gradient-norms-measures
and the verdicts' thresholds in book/methods.md#q-gradient-norms-verdicts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from lossdyn.gradnorms import relu_mlp
from lossdyn.gradnorms import theory as gn
from lossdyn.gradnorms.training import LOSSES, random_label_data, train
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, generator, resolve_device, resolve_dtype
from lossdyn.pipeline.figures import DTYPE_SLOWDOWN, DTYPE_WIDTH, KERNEL_BYTES, Cost
from lossdyn.pipeline.plotting import PALETTE, Shown, letter_panels, new_figure, style
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import WholeRun

__all__ = [
    "Config",
    "LogitPart",
    "LossSummary",
    "Result",
    "SaturationPath",
    "TrainingRun",
    "answer_summary",
    "claims",
    "compute",
    "estimate",
    "finish",
    "kernel_table",
    "key_numbers",
    "logit_table",
    "pl_table",
    "plan",
    "plot",
    "reading_summary",
    "saturation_summary",
    "saturation_table",
    "training_summary",
    "training_table",
    "widths_table",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``q_gradient_norms`` (see the notebook for their defaults; the choices behind
    them: book/methods.md#q-gradient-norms)."""

    presentation_fields = ()

    k: int  # classes (softmax outputs)
    d: int  # input dimension
    n: int  # training samples (random labels)
    L: int  # hidden ReLU layers
    m_narrow: int  # width of the narrow net
    m_wide: int  # width of the wide net
    n_seeds: int  # initialisations per width (each trained with every loss)
    eta: float  # GD step in units of n/λ_max(K_0): lr = eta·n/λ_max (stable for MSE on logits if < 2)
    steps: int  # GD steps
    n_checkpoints: int  # steps (log-spaced) at which the tangent kernel is formed
    n_logits: int  # random logit vectors for (a)
    logit_scale: float  # largest logit scale for (a); scales are log-uniform on [0.01, logit_scale]
    t_max: float  # end of the saturation path z = t·e_wrong
    n_t: int  # points on the saturation path
    dtype: str  # float64 or float32

    def validate(self) -> None:
        self._require("k", 2 <= self.k <= 100, "2 <= k <= 100")
        self._require("d", 2 <= self.d <= 10_000, "2 <= d <= 10000 (d >= 2: inputs on a sphere)")
        self._require("n", 2 <= self.n <= 2_000, "2 <= n <= 2000")
        self._require("L", 1 <= self.L <= 20, "1 <= L <= 20")
        self._require("m_narrow", 1 <= self.m_narrow <= 100_000, "1 <= m_narrow <= 100000")
        self._require(
            "m_wide", self.m_narrow < self.m_wide <= 100_000, f"m_narrow = {self.m_narrow} < m_wide <= 100000"
        )
        self._require("n_seeds", 1 <= self.n_seeds <= 1_000, "1 <= n_seeds <= 1000")
        self._require("eta", 0.0 < self.eta < 2.0, "0 < eta < 2 (GD on the kernel's top direction diverges at 2)")
        self._require("steps", 10 <= self.steps <= 10_000_000, "10 <= steps <= 1e7")
        self._require("n_checkpoints", 2 <= self.n_checkpoints <= 10_000, "2 <= n_checkpoints <= 10000")
        self._require("n_logits", 100 <= self.n_logits <= 100_000_000, "100 <= n_logits <= 1e8")
        self._require("logit_scale", 0.01 < self.logit_scale <= 1_000.0, "0.01 < logit_scale <= 1000")
        self._require(
            "t_max", 5.0 <= self.t_max <= 30.0, "5 <= t_max <= 30 (beyond 30 the float64 ratio e^-t hits rounding)"
        )
        self._require("n_t", 11 <= self.n_t <= 100_000, "11 <= n_t <= 100000")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))


# -- the result ---------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LogitPart:
    """(a) Random logit vectors z ∈ R^k with random labels c (Props. 1 and 2 at the logits).

    Scalars are extremes over all ``n_logits`` vectors; ρ = ‖∂L₁/∂z‖/‖∂L₂/∂z‖, μ(p) =
    max(min_i p_i, p_c‖p − y‖), and λ₊(J) the smallest eigenvalue of J(p) on 1⊥.

    **Fields:**

    - ``max_logit_ratio``, ``min_logit_ratio``: max and min of ρ (Prop. 2: ρ ≤ ½).
    - ``logit_ratio_minus_bound_min``: min of ρ − μ(p) (Prop. 2: ≥ 0).
    - ``logit_ratio_over_bound_min``: min of ρ/μ(p) (≥ 1).
    - ``J_max_eig``: max of λ_max(J) (Prop. 1: ≤ ½).
    - ``J_null_residual``: max of ‖J·1‖ (Prop. 1: = 0).
    - ``J_min_eig``: min of λ_min(J) (Prop. 1: ≥ 0, PSD).
    - ``J_perp_min_minus_pmin``: min of λ₊(J) − min_i p_i (Prop. 1: ≥ 0).
    - ``J_perp_min_minus_p2``: max of λ₊(J) − (second smallest p_i) (Prop. 1: ≤ 0).
    - ``Jv_c_identity_error``: max of |(Jv)_c + p_c‖v‖²| (Prop. 2: = 0).
    - ``equality_ratio_k2``: ρ at k = 2, p = (½, ½) (Prop. 1: exactly ½).
    - ``sample_ratio``, ``sample_bound``, ``sample_p_c``: ρ, μ(p) and p_c of the first
      min(n_logits, 2500) vectors, float64 tensors of shape ``(n_show,)`` (the scatter plot).
    """

    max_logit_ratio: float
    min_logit_ratio: float
    logit_ratio_minus_bound_min: float
    logit_ratio_over_bound_min: float
    J_max_eig: float
    J_null_residual: float
    J_min_eig: float
    J_perp_min_minus_pmin: float
    J_perp_min_minus_p2: float
    Jv_c_identity_error: float
    equality_ratio_k2: float
    sample_ratio: torch.Tensor
    sample_bound: torch.Tensor
    sample_p_c: torch.Tensor


@dataclasses.dataclass(frozen=True)
class SaturationPath:
    """(b) A confidently wrong sample: z = z₀ + t·e_wrong for t on [0, t_max] (Prop. 2's Corollary).

    At the logits z₀ = 0; through the parameters z₀ = z(x₀) of the wide net at initialisation, its
    last layer shifted so that only the logits of x₀ move (book/methods.md#q-gradient-norms-measures).
    Tensors are float64 of shape ``(n_t,)``, one entry per point t of the path.

    **Fields:**

    - ``t``: the margins t.
    - ``label``, ``wrong``: the label c of x₀ and the class the path saturates (c + 1 mod k).
    - ``logit_grad1``, ``logit_grad2``: ‖∂L₁/∂z‖, ‖∂L₂/∂z‖ at z = t·e_wrong.
    - ``logit_bound``: μ(p) at z = t·e_wrong.
    - ``param_grad1``, ``param_grad2``: ‖∇_W L₁‖, ‖∇_W L₂‖ of x₀ on the shifted net (exact, √(gᵀKg)).
    - ``param_lower1``, ``param_upper1``: Prop. 3's bounds σ₋μ(p)‖v‖ and ½σ₊‖v‖ on ‖∇_W L₁‖.
    - ``logit_shift_error``: max |z(x₀) − z₀ − t·e_wrong| over the path (the shift is exact: ≈ 0).
    - ``ratio``, ``logit_ratio``: ‖∇_W L₁‖/‖∇_W L₂‖ and ‖∂L₁/∂z‖/‖∂L₂/∂z‖ at t = t_max.
    - ``grad2_start``, ``grad2_end``: ‖∇_W L₂‖ at t = 0 and t = t_max; ``grad1_end``: ‖∇_W L₁‖ at t_max.
    - ``slope_param``, ``slope_logit``: least-squares slope of log(ratio) against t on t ≥ t_max/2
      (−1 for the rate e^(−t)), through the parameters and at the logits.
    """

    t: torch.Tensor
    label: int
    wrong: int
    logit_grad1: torch.Tensor
    logit_grad2: torch.Tensor
    logit_bound: torch.Tensor
    param_grad1: torch.Tensor
    param_grad2: torch.Tensor
    param_lower1: torch.Tensor
    param_upper1: torch.Tensor
    logit_shift_error: float
    ratio: float
    logit_ratio: float
    grad2_end: float
    grad2_start: float
    grad1_end: float
    slope_param: float
    slope_logit: float


@dataclasses.dataclass(frozen=True)
class LossSummary:
    """The nets of one width trained with one loss ("own" loss L, its gradient ‖∇L‖), S seeds.

    "Mean" is over seeds, "min"/"max" over seeds and steps; PL ratio = ‖∇L‖²/L, Łojasiewicz
    ratio = ‖∇L‖/L; c₋, c₊ are Prop. 4's constants at the checkpoints.

    **Fields:**

    - ``loss_start``, ``loss_end``: mean L at step 0 and at the last step.
    - ``pl_start``, ``pl_end``: mean PL ratio at step 0 and at the last step; ``pl_min``: its min.
    - ``loj_min``: min Łojasiewicz ratio; ``loj_end``: its mean at the last step.
    - ``accuracy_end``: mean training accuracy at the last step.
    - ``up_fraction``: fraction of (seed, step) pairs on which L increased.
    - ``p_c_min_end``: smallest label probability p_c over seeds and samples at the last step.
    - ``cert_min``: min of c₋; ``cert_upper_max``: max of c₊.
    - ``pl_vs_loss_slope``: least-squares slope of log PL ratio against log L over the second half
      of training, mean over the seeds whose gradient and loss stay positive there (NaN if none).
    - ``ratio12_start``, ``ratio12_end``: mean full-batch ‖∇L₁‖/‖∇L₂‖ at step 0 and the last step
      (nets with ‖∇L₂‖ = 0, i.e. dead nets, left out).
    - ``certificate_lower``, ``certificate_upper``: c₋ and c₊, float64 tensors ``(S, C)`` (C checkpoints);
      for ``mse_logits`` they bound ‖∇L‖²/L, for the softmax losses ‖∇L‖/L.
    """

    loss_start: float
    loss_end: float
    pl_start: float
    pl_end: float
    pl_min: float
    loj_min: float
    loj_end: float
    accuracy_end: float
    up_fraction: float
    p_c_min_end: float
    cert_min: float
    cert_upper_max: float
    pl_vs_loss_slope: float
    ratio12_start: float
    ratio12_end: float
    certificate_lower: torch.Tensor
    certificate_upper: torch.Tensor


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """(c–k) Full-batch GD of S seeds × J = 3 losses of one width m (:func:`lossdyn.gradnorms.training.train`).

    Axes: S seeds, J losses trained with (order of ``LOSSES``), T + 1 steps (0 … ``steps``),
    C checkpoints, n samples, and a last axis of 3 for the three losses *measured* (same order).
    Tensors are float64 on CPU. λ₋, λ₊ are the extreme eigenvalues of the n·k × n·k tangent kernel
    K_t on (1⊥)ⁿ, λ_min, λ_max on R^{nk} (Prop. 4).

    **Fields:**

    - ``m``: the width; ``n_params``: number of weights P; ``n_perp``: n(k − 1), the dimension the softmax sees.
    - ``checkpoints``: the C steps at which K_t is formed (list of int).
    - ``lr_min``, ``lr_max``: extreme step sizes eta·n/λ_max(K_0) over the nets.
    - ``loss``, ``grad_norm``: every net's three losses and their full-batch ‖∇_W L‖, ``(S, J, T + 1, 3)``.
    - ``p_c_min``: smallest label probability over the samples, ``(S, J, T + 1)``; ``accuracy`` likewise.
    - ``ckpt_lambda_perp_min``, ``ckpt_lambda_perp_max``, ``ckpt_lambda_full_min``,
      ``ckpt_lambda_full_max``: λ₋, λ₊, λ_min, λ_max of K_t, ``(S, J, C)``.
    - ``ckpt_sample_grad1``, ``ckpt_sample_grad2``, ``ckpt_sample_p_c``: per-sample ‖∇_W L₁(x_i)‖,
      ‖∇_W L₂(x_i)‖ and p_c at the checkpoints, ``(S, J, C, n)``.
    - ``bound_violations`` of Prop. 3's per-sample bounds in ``bound_checked`` checks (every net,
      checkpoint and sample); ``max_param_ratio``: the largest per-sample ‖∇_W L₁‖/‖∇_W L₂‖.
    - ``cert_violations`` of Prop. 4 in ``cert_checked`` checks (every net and checkpoint).
    - ``lambda_perp_min_init``: min over nets of λ₋(K_0); ``lambda_perp_rel_min``,
      ``lambda_perp_rel_max``: extremes of λ₋(K_t)/λ₋(K_0) (0 when some λ₋(K_0) ≤ 0).
    - ``lambda_perp_over_max_max``: max of λ₋/λ₊ over the nets alive (0 for a singular kernel).
    - ``dead_nets``: nets whose kernel is 0 at the last step (every ReLU of a layer off).
    - ``kernel_growth_max``: max of λ_max(K_t)/λ_max(K_0).
    - ``per_loss``: a :class:`LossSummary` per loss trained with, keyed by the names of ``LOSSES``.
    """

    m: int
    n_params: int
    n_perp: int
    checkpoints: list[int]
    lr_min: float
    lr_max: float
    loss: torch.Tensor
    grad_norm: torch.Tensor
    p_c_min: torch.Tensor
    accuracy: torch.Tensor
    ckpt_lambda_perp_min: torch.Tensor
    ckpt_lambda_perp_max: torch.Tensor
    ckpt_lambda_full_min: torch.Tensor
    ckpt_lambda_full_max: torch.Tensor
    ckpt_sample_grad1: torch.Tensor
    ckpt_sample_grad2: torch.Tensor
    ckpt_sample_p_c: torch.Tensor
    bound_violations: int
    bound_checked: int
    max_param_ratio: float
    cert_violations: int
    cert_checked: int
    lambda_perp_min_init: float
    lambda_perp_rel_min: float
    lambda_perp_rel_max: float
    lambda_perp_over_max_max: float
    dead_nets: int
    kernel_growth_max: float
    per_loss: dict[str, LossSummary]


@dataclasses.dataclass(frozen=True)
class Result:
    """What ``q_gradient_norms`` shows: the sizes of the run and its four parts.

    **Fields:**

    - ``k``, ``n``, ``d``, ``L``, ``eta``, ``steps``, ``n_seeds``, ``n_logits``: as in :class:`Config`.
    - ``losses``: the names of the losses, in the order of every loss axis (``LOSSES``).
    - ``logits``: (a), :class:`LogitPart`.
    - ``saturation``: (b), :class:`SaturationPath`.
    - ``narrow``, ``wide``: (c–k), a :class:`TrainingRun` of width ``m_narrow`` and ``m_wide``.
    """

    k: int
    n: int
    d: int
    L: int
    eta: float
    steps: int
    n_seeds: int
    n_logits: int
    losses: tuple[str, ...]
    logits: LogitPart
    saturation: SaturationPath
    narrow: TrainingRun
    wide: TrainingRun

    @property
    def runs(self) -> dict[str, TrainingRun]:
        """The two training runs by width tag, narrow first: ``{"narrow": …, "wide": …}``."""
        return {"narrow": self.narrow, "wide": self.wide}


def _cpu(v: torch.Tensor) -> torch.Tensor:
    """A float64 CPU copy (what the cached unit result holds)."""
    return v.detach().to("cpu", torch.float64)


# -- (a) random logits -------------------------------------------------------------------------
def _logit_part(cfg: Config, gen: torch.Generator, dtype, device) -> dict[str, Any]:
    """The fields of :class:`LogitPart`: Props. 1 and 2 on ``n_logits`` random logit vectors
    (scales log-uniform on [0.01, logit_scale], Gaussian directions, uniform labels)."""
    N, k = cfg.n_logits, cfg.k
    scale = torch.exp(
        torch.empty(N, 1, dtype=dtype, device=device).uniform_(math.log(0.01), math.log(cfg.logit_scale), generator=gen)
    )
    z = scale * torch.randn(N, k, generator=gen, dtype=dtype, device=device)
    y = torch.randint(0, k, (N,), generator=gen, device=device)
    g1, g2 = gn.logit_gradients(z, y)
    n1, n2 = torch.linalg.vector_norm(g1, dim=-1), torch.linalg.vector_norm(g2, dim=-1)
    ratio = n1 / n2
    mu = gn.logit_ratio_lower_bound(z, y)
    p = torch.softmax(z, -1)
    J = gn.softmax_jacobian(z)
    eig = torch.linalg.eigvalsh(J)
    eig_perp = gn.restricted_eigvalsh(J)
    p_sorted = p.sort(-1).values
    p_c = p.gather(-1, y[:, None])[:, 0]
    # The equality case: k = 2, p = (½, ½).
    z2 = torch.zeros(1, 2, dtype=dtype, device=device)
    y2 = torch.zeros(1, dtype=torch.long, device=device)
    e1, e2 = gn.logit_gradients(z2, y2)
    n_show = min(N, 2500)
    return {
        "max_logit_ratio": float(ratio.max()),
        "min_logit_ratio": float(ratio.min()),
        "logit_ratio_minus_bound_min": float((ratio - mu).min()),
        "logit_ratio_over_bound_min": float((ratio / mu).min()),
        "J_max_eig": float(eig[:, -1].max()),
        "J_null_residual": float(torch.linalg.vector_norm(J.sum(-1), dim=-1).max()),
        "J_min_eig": float(eig[:, 0].min()),
        "J_perp_min_minus_pmin": float((eig_perp[:, 0] - p_sorted[:, 0]).min()),
        "J_perp_min_minus_p2": float((eig_perp[:, 0] - p_sorted[:, 1]).max()),
        "Jv_c_identity_error": float((g1.gather(-1, y[:, None])[:, 0] + p_c * n2**2).abs().max()),
        "equality_ratio_k2": float(torch.linalg.vector_norm(e1) / torch.linalg.vector_norm(e2)),
        "sample_ratio": _cpu(ratio[:n_show]),
        "sample_bound": _cpu(mu[:n_show]),
        "sample_p_c": _cpu(p_c[:n_show]),
    }


# -- (b) the saturation path ---------------------------------------------------------------------
def _shifted_last_layer(cfg: Config, X, t, wrong: int, gen: torch.Generator, dtype, device):
    """The wide net at initialisation with its last layer shifted along the path.

    Sample x₀ = ``X[0]``; the output weights get t·e_wrong·h_L(x₀)ᵀ/(s_{L+1}‖h_L(x₀)‖²), so that
    z(x₀) = z₀ + t·e_wrong and every other layer is untouched. **Returns:** the path's weights
    (one net per t, as for :func:`lossdyn.gradnorms.relu_mlp.forward`), x₀, z₀ ``(1, 1, k)`` and e_wrong.
    """
    weights = relu_mlp.init_weights(1, cfg.d, cfg.m_wide, cfg.L, cfg.k, generator=gen, dtype=dtype)
    x0 = X[:1]
    z0, hs = relu_mlp.forward(weights, x0)
    h = hs[-1][0, 0]
    s_out = relu_mlp.layer_scales(cfg.d, cfg.m_wide, cfg.L)[-1]
    direction = torch.zeros(cfg.k, dtype=dtype, device=device)
    direction[wrong] = 1.0
    shift = direction[:, None] * h[None, :] / (s_out * h.square().sum())  # (k, m): Δz = e_wrong per unit t
    path = [w.expand(cfg.n_t, *w.shape[1:]) for w in weights[:-1]] + [weights[-1] + t[:, None, None] * shift]
    return path, x0, z0, direction


def _tail_slope(t: torch.Tensor, r: torch.Tensor, tail: torch.Tensor) -> float:
    """Least-squares slope of log r against t on the points ``tail``."""
    A = torch.stack([t[tail], torch.ones_like(t[tail])], -1)
    return float(torch.linalg.lstsq(A, torch.log(r[tail])[:, None]).solution[0, 0])


def _saturation_part(cfg: Config, X, y, gen: torch.Generator, dtype, device) -> dict[str, Any]:
    """The fields of :class:`SaturationPath`: the Corollary of Prop. 2 at the logits and Prop. 3
    through the parameters (exact per-sample norms from the tangent kernel)."""
    t = torch.linspace(0.0, cfg.t_max, cfg.n_t, dtype=dtype, device=device)
    c = int(y[0])
    wrong = (c + 1) % cfg.k
    # Logit level: z = t·e_wrong, label c.
    zt = gn.wrong_class_logits(t, cfg.k, wrong)
    yt = torch.full((cfg.n_t,), c, device=device)
    g1, g2 = gn.logit_gradients(zt, yt)
    # Parameter level: z(x_0) = z_0 + t·e_wrong on the wide net.
    path, x0, z0, direction = _shifted_last_layer(cfg, X, t, wrong, gen, dtype, device)
    zp, hp = relu_mlp.forward(path, x0)
    Kp = relu_mlp.tangent_kernel(path, hp)[:, 0, :, 0, :]  # (n_t, k, k)
    per = gn.parameter_gradient_bounds(Kp, zp[:, 0], yt)
    ratio_param = per["grad1"] / per["grad2"]
    ratio_logit = torch.linalg.vector_norm(g1, dim=-1) / torch.linalg.vector_norm(g2, dim=-1)
    tail = t >= cfg.t_max / 2
    return {
        "t": _cpu(t),
        "label": c,
        "wrong": wrong,
        "logit_grad1": _cpu(torch.linalg.vector_norm(g1, dim=-1)),
        "logit_grad2": _cpu(torch.linalg.vector_norm(g2, dim=-1)),
        "logit_bound": _cpu(gn.logit_ratio_lower_bound(zt, yt)),
        "param_grad1": _cpu(per["grad1"]),
        "param_grad2": _cpu(per["grad2"]),
        "param_lower1": _cpu(per["lower1"]),
        "param_upper1": _cpu(per["upper1"]),
        "logit_shift_error": float((zp[:, 0] - z0[0, 0] - t[:, None] * direction).abs().max()),
        "ratio": float(ratio_param[-1]),
        "logit_ratio": float(ratio_logit[-1]),
        "grad2_end": float(per["grad2"][-1]),
        "grad2_start": float(per["grad2"][0]),
        "grad1_end": float(per["grad1"][-1]),
        "slope_param": _tail_slope(t, ratio_param, tail),
        "slope_logit": _tail_slope(t, ratio_logit, tail),
    }


# -- (c–k) training ----------------------------------------------------------------------------------
def _at_most(a: torch.Tensor, b: torch.Tensor, tol: float) -> torch.Tensor:
    """a ≤ b up to relative rounding ``tol`` (the checks' tolerance, book/methods.md#q-gradient-norms-measures)."""
    return a <= b * (1 + tol)


def _bound_checks(tr: dict[str, Any], tol: float) -> dict[str, Any]:
    """Violations of Prop. 3's per-sample bounds over every net, checkpoint and sample."""
    g1, g2 = tr["ckpt_sample_grad1"], tr["ckpt_sample_grad2"]
    ok = (
        _at_most(tr["ckpt_sample_lower1"], g1, tol)
        & _at_most(g1, tr["ckpt_sample_upper1"], tol)
        & _at_most(tr["ckpt_sample_lower2"], g2, tol)
        & _at_most(g2, tr["ckpt_sample_upper2"], tol)
    )
    live = g2 > 1e-12
    ratio = torch.where(live, g1 / g2.clamp_min(1e-300), torch.zeros_like(g1))
    return {"violations": int((~ok).sum()), "checked": int(ok.numel()), "max_param_ratio": float(ratio.max())}


def _certificates(tr: dict[str, Any], n: int, tol: float) -> dict[str, Any]:
    """Prop. 4 at every checkpoint: c₋·L ≤ ‖∇L‖ ≤ c₊·L (softmax losses), c₋·L ≤ ‖∇L‖² ≤ c₊·L (MSE on logits)."""
    idx = torch.tensor(tr["checkpoints"])
    out = {"violations": 0, "checked": 0}
    for j, loss in enumerate(LOSSES):
        space = "full" if loss == "mse_logits" else "perp"
        lo, hi = gn.lojasiewicz_bounds(
            loss,
            tr[f"ckpt_lambda_{space}_min"][:, j],
            tr[f"ckpt_lambda_{space}_max"][:, j],
            tr["p_c_min"][:, j, idx],
            n,
        )
        value = tr["loss"][:, j, idx, j]
        grad = tr["grad_norm"][:, j, idx, j]
        lhs = grad.square() if loss == "mse_logits" else grad
        bad = (lhs < lo * value * (1 - tol)) | (lhs > hi * value * (1 + tol))
        out["violations"] += int(bad.sum())
        out["checked"] += int(bad.numel())
        out[f"lower_{loss}"], out[f"upper_{loss}"] = lo, hi
    return out


def _slope_loglog(x: torch.Tensor, y: torch.Tensor) -> float:
    """Least-squares slope of log y against log x."""
    A = torch.stack([x.log(), torch.ones_like(x)], -1)
    return float(torch.linalg.lstsq(A, y.log()[:, None]).solution[0, 0])


def _finite_mean(t: torch.Tensor) -> float:
    """Mean of the finite entries of ``t`` (NaN if there are none)."""
    return float(t[t.isfinite()].mean()) if bool(t.isfinite().any()) else math.nan


def _kernel_numbers(tr: dict[str, Any]) -> dict[str, Any]:
    """The kernel fields of :class:`TrainingRun`: λ₋(K_t) against λ₋(K_0) and λ₊(K_t), dead nets and
    the growth of λ_max(K_t) (the kernel of Prop. 4)."""
    out: dict[str, Any] = {}
    lam0 = tr["ckpt_lambda_perp_min"][:, :, :1]
    out["lambda_perp_min_init"] = float(lam0.min())
    rel = tr["ckpt_lambda_perp_min"] / lam0.clamp_min(1e-300)
    out["lambda_perp_rel_min"] = float(rel.min()) if float(lam0.min()) > 0 else 0.0
    out["lambda_perp_rel_max"] = float(rel.max()) if float(lam0.min()) > 0 else 0.0
    lam_max = tr["ckpt_lambda_perp_max"]
    alive = lam_max > 0  # a net whose ReLUs all died has K = 0
    out["lambda_perp_over_max_max"] = float(
        (tr["ckpt_lambda_perp_min"].clamp_min(0.0) / lam_max.clamp_min(1e-300))[alive].max()
    )
    out["dead_nets"] = int((~alive[:, :, -1]).sum())
    full_max = tr["ckpt_lambda_full_max"]
    out["kernel_growth_max"] = float((full_max / full_max[:, :, :1].clamp_min(1e-300)).max())
    return out


def _loss_summary(tr: dict[str, Any], j: int, lower: torch.Tensor, upper: torch.Tensor) -> LossSummary:
    """:class:`LossSummary` of the nets trained with ``LOSSES[j]`` (Prop. 4's c₋, c₊ given)."""
    L_own = tr["loss"][:, j, :, j]
    g_own = tr["grad_norm"][:, j, :, j]
    pl = g_own.square() / L_own
    S = tr["loss"].shape[2] - 1
    half = torch.arange(S // 2, S + 1)
    live = (g_own[:, half] > 0).all(-1) & (L_own[:, half] > 0).all(-1)
    slopes = [_slope_loglog(L_own[s, half], pl[s, half]) for s in range(L_own.shape[0]) if bool(live[s])]
    # Ratio ‖∇L₁‖/‖∇L₂‖ of the full-batch gradients, for the net trained with this loss.
    # (a net whose ReLUs all died has both gradients exactly 0: left out of these means)
    g = tr["grad_norm"][:, j]
    r12 = torch.where(g[..., 1] > 0, g[..., 0] / g[..., 1].clamp_min(1e-300), torch.full_like(g[..., 0], math.nan))
    return LossSummary(
        loss_start=float(L_own[:, 0].mean()),
        loss_end=float(L_own[:, -1].mean()),
        pl_start=float(pl[:, 0].mean()),
        pl_end=float(pl[:, -1].mean()),
        pl_min=float(pl.min()),
        loj_min=float((g_own / L_own).min()),
        loj_end=float((g_own[:, -1] / L_own[:, -1]).mean()),
        accuracy_end=float(tr["accuracy"][:, j, -1].mean()),
        up_fraction=float((L_own.diff(dim=-1) > 0).to(L_own.dtype).mean()),
        p_c_min_end=float(tr["p_c_min"][:, j, -1].min()),
        cert_min=float(lower.min()),
        cert_upper_max=float(upper.max()),
        pl_vs_loss_slope=sum(slopes) / len(slopes) if slopes else float("nan"),
        ratio12_start=_finite_mean(r12[:, 0]),
        ratio12_end=_finite_mean(r12[:, -1]),
        certificate_lower=lower,
        certificate_upper=upper,
    )


def _training_run(tr: dict[str, Any], m: int, n: int, k: int, tol: float) -> TrainingRun:
    """:class:`TrainingRun` from the record of :func:`lossdyn.gradnorms.training.train`."""
    bounds = _bound_checks(tr, tol)
    cert = _certificates(tr, n, tol)
    return TrainingRun(
        m=m,
        n_params=tr["n_params"],
        n_perp=n * (k - 1),
        checkpoints=tr["checkpoints"],
        lr_min=float(tr["lr"].min()),
        lr_max=float(tr["lr"].max()),
        loss=tr["loss"],
        grad_norm=tr["grad_norm"],
        p_c_min=tr["p_c_min"],
        accuracy=tr["accuracy"],
        ckpt_lambda_perp_min=tr["ckpt_lambda_perp_min"],
        ckpt_lambda_perp_max=tr["ckpt_lambda_perp_max"],
        ckpt_lambda_full_min=tr["ckpt_lambda_full_min"],
        ckpt_lambda_full_max=tr["ckpt_lambda_full_max"],
        ckpt_sample_grad1=tr["ckpt_sample_grad1"],
        ckpt_sample_grad2=tr["ckpt_sample_grad2"],
        ckpt_sample_p_c=tr["ckpt_sample_p_c"],
        bound_violations=bounds["violations"],
        bound_checked=bounds["checked"],
        max_param_ratio=bounds["max_param_ratio"],
        cert_violations=cert["violations"],
        cert_checked=cert["checked"],
        **_kernel_numbers(tr),
        per_loss={
            loss: _loss_summary(tr, j, cert[f"lower_{loss}"], cert[f"upper_{loss}"]) for j, loss in enumerate(LOSSES)
        },
    )


# -- the run -------------------------------------------------------------------------------------
def compute(cfg: Config) -> dict[str, Any]:
    """The one unit of the page: ``{"logits", "saturation", "narrow", "wide"}``, plain dicts of
    CPU tensors and numbers (cacheable); the training runs are the records of :func:`train`."""
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype)
    out: dict[str, Any] = {"logits": _logit_part(cfg, generator(cfg.seed, device), dtype, device)}
    X, y = random_label_data(cfg.n, cfg.d, cfg.k, generator=generator(cfg.seed + 1, device), dtype=dtype)
    out["saturation"] = _saturation_part(cfg, X, y, generator(cfg.seed + 2, device), dtype, device)
    for tag, m in (("narrow", cfg.m_narrow), ("wide", cfg.m_wide)):
        out[tag] = train(
            X,
            y,
            m=m,
            L=cfg.L,
            k=cfg.k,
            n_seeds=cfg.n_seeds,
            eta=cfg.eta,
            steps=cfg.steps,
            n_checkpoints=cfg.n_checkpoints,
            generator=generator(cfg.seed + 3, device),
            desc=f"GD, m = {m}",
        )
    return out


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run (the figure contract's optional ``estimate``): B = n_seeds × 3 nets
    per width trained for ``steps`` steps (time ∝ B·n·P), the tangent kernel (n k × n k per net, its eigenvalues)
    at each checkpoint, the random logits of part (a).

    Fitted on the project's 2-core CPU (float64, compute alone): the quick profile 5.95 s, +66 MB; n = 128:
    26.3 s, +1.13 GB; m_wide = 1024: 94.8 s, +2.32 GB; 10⁶ logits: 7.4 s, +391 MB. The rest of the
    notebook (kernel, five panels) took 15 s.
    """
    B = cfg.n_seeds * len(LOSSES)
    P = [relu_mlp.n_params(cfg.d, m, cfg.L, cfg.k) for m in (cfg.m_narrow, cfg.m_wide)]
    nk = cfg.n * cfg.k
    slow, size = DTYPE_SLOWDOWN[cfg.dtype] / 2, DTYPE_WIDTH[cfg.dtype] / 2
    train = 6e-10 * cfg.steps * B * cfg.n * sum(P) + 2.8e-10 * cfg.n_checkpoints * B * nk**3
    seconds = 15.5 + slow * (train + 1.6e-6 * cfg.n_logits * cfg.k / 3)
    memory = KERNEL_BYTES + size * (248 * B * max(P) + 848 * B * nk**2 + 145 * cfg.n_logits * cfg.k)
    return Cost(seconds=seconds, memory_bytes=int(memory))


def plan(cfg: Config) -> WholeRun:
    """One unit: the whole run (:func:`compute`)."""
    return WholeRun(cfg, compute)


def finish(cfg: Config, parts: dict[str, Any]) -> Result:
    """The :class:`Result` from the one unit's result: (a) and (b) as computed, the training runs
    summarised (Props. 3 and 4 checked with relative tolerance 1e-9 in float64, 1e-4 in float32)."""
    tol = 1e-9 if resolve_dtype(cfg.dtype) == torch.float64 else 1e-4
    return Result(
        k=cfg.k,
        n=cfg.n,
        d=cfg.d,
        L=cfg.L,
        eta=cfg.eta,
        steps=cfg.steps,
        n_seeds=cfg.n_seeds,
        n_logits=cfg.n_logits,
        losses=LOSSES,
        logits=LogitPart(**parts["logits"]),
        saturation=SaturationPath(**parts["saturation"]),
        narrow=_training_run(parts["narrow"], cfg.m_narrow, cfg.n, cfg.k, tol),
        wide=_training_run(parts["wide"], cfg.m_wide, cfg.n, cfg.k, tol),
    )


# -- what the page quotes ------------------------------------------------------------------------
#: Sidecar numbers of (a), named like the fields of :class:`LogitPart`.
_LOGIT_KEYS = (
    "max_logit_ratio",
    "min_logit_ratio",
    "equality_ratio_k2",
    "logit_ratio_minus_bound_min",
    "J_max_eig",
    "J_perp_min_minus_pmin",
    "Jv_c_identity_error",
)

#: Sidecar numbers of (b): ``saturation_<field>`` for these fields of :class:`SaturationPath`.
_SATURATION_KEYS = ("ratio", "logit_ratio", "grad2_start", "grad2_end", "grad1_end", "slope_param", "slope_logit")

#: Sidecar numbers of (c–k): ``<tag>_<field>`` for these fields of :class:`TrainingRun` ...
_TRAIN_KEYS = (
    "lr_min",
    "lr_max",
    "n_params",
    "n_perp",
    "bound_violations",
    "bound_checked",
    "max_param_ratio",
    "cert_violations",
    "cert_checked",
    "lambda_perp_min_init",
    "lambda_perp_rel_min",
    "lambda_perp_rel_max",
    "lambda_perp_over_max_max",
    "dead_nets",
    "kernel_growth_max",
)

#: ... and ``<tag>_<loss>_<field>`` for these fields of its :class:`LossSummary` of each loss.
_TRAIN_LOSS_KEYS = (
    "loss_start",
    "loss_end",
    "pl_start",
    "pl_end",
    "pl_min",
    "loj_min",
    "loj_end",
    "cert_min",
    "cert_upper_max",
    "accuracy_end",
    "p_c_min_end",
    "ratio12_end",
    "up_fraction",
)


def key_numbers(res: Result) -> dict[str, Any]:
    """The sidecar's numbers: flat keys made of the :class:`Result` path (``wide_mse_softmax_loss_end``
    is ``res.wide.per_loss["mse_softmax"].loss_end``; ``<tag>_m`` is the width)."""
    out: dict[str, Any] = {key: getattr(res.logits, key) for key in _LOGIT_KEYS}
    out.update({f"saturation_{key}": getattr(res.saturation, key) for key in _SATURATION_KEYS})
    out.update({f"wide_{loss}_pl_vs_loss_slope": res.wide.per_loss[loss].pl_vs_loss_slope for loss in LOSSES[:2]})
    for tag, run in res.runs.items():
        out[f"{tag}_m"] = run.m
        out.update({f"{tag}_{key}": getattr(run, key) for key in _TRAIN_KEYS})
        for loss in LOSSES:
            out.update({f"{tag}_{loss}_{key}": getattr(run.per_loss[loss], key) for key in _TRAIN_LOSS_KEYS})
    return out


# -- the claims (thresholds: book/methods.md#q-gradient-norms-verdicts) ----------------------------------
def _claim_logit_upper(res: Result) -> Claim:
    """Q1-upper: Props. 1 and 2, ρ ≤ ½ with equality at k = 2, p = (½, ½)."""
    lg = res.logits
    return Claim(
        "Q1-upper",
        "At the logits ‖∂L1/∂z‖ ≤ ½‖∂L2/∂z‖ for every z and label (‖J(p)‖ ≤ ½), with equality for k = 2 at p = (½, ½).",
        f"max ratio over {res.n_logits} random logits (k = {res.k}) {lg.max_logit_ratio:.6f}; "
        f"max eigenvalue of J {lg.J_max_eig:.6f}; k = 2, p = (½, ½): ratio {lg.equality_ratio_k2:.6f}",
        verdict(
            lg.max_logit_ratio <= 0.5 + 1e-12
            and lg.J_max_eig <= 0.5 + 1e-12
            and abs(lg.equality_ratio_k2 - 0.5) < 1e-12
        ),
    )


def _claim_no_lower_bound(res: Result) -> Claim:
    """Q1-none: the Corollary of Prop. 2 through the parameters (the saturation path)."""
    sat = res.saturation
    return Claim(
        "Q1-none",
        "‖∇_W L2‖ > r implies no lower bound on ‖∇_W L1‖: on the question's network, a confidently "
        "wrong sample has ‖∇_W L1‖/‖∇_W L2‖ → 0 at rate e^(−t) while ‖∇_W L2‖ stays away from 0.",
        f"at margin t = {float(sat.t[-1]):.1f}: parameter ratio {sat.ratio:.3e} "
        f"(logits {sat.logit_ratio:.3e}); slope of log ratio vs t "
        f"{sat.slope_param:.3f} (logits {sat.slope_logit:.3f}); ‖∇_W L2‖ "
        f"{sat.grad2_start:.4f} at t = 0 and {sat.grad2_end:.4f} at the end",
        verdict(sat.ratio < 1e-3 and abs(sat.slope_param + 1) < 0.1 and sat.grad2_end >= 0.5 * sat.grad2_start),
    )


def _claim_lower_bound(res: Result) -> Claim:
    """Q1-lower: Prop. 2 on random logits and Prop. 3 per sample on the trained nets."""
    nn, w = res.narrow, res.wide
    return Claim(
        "Q1-lower",
        "Lower bound away from saturation: σ₋·max(min p, p_c‖p − y‖)·‖p − y‖ ≤ ‖∇_W L1‖ ≤ ½σ₊‖p − y‖ "
        "and σ₋‖p − y‖ ≤ ‖∇_W L2‖ ≤ σ₊‖p − y‖, per sample (σ± on 1⊥).",
        f"random logits: min(ρ − μ) = {res.logits.logit_ratio_minus_bound_min:.2e}; trained nets: "
        f"{nn.bound_violations + w.bound_violations} violations in "
        f"{nn.bound_checked + w.bound_checked} per-sample checks; largest per-sample "
        f"‖∇_W L1‖/‖∇_W L2‖ {w.max_param_ratio:.3f} (m = {w.m}), "
        f"{nn.max_param_ratio:.3f} (m = {nn.m})",
        verdict(res.logits.logit_ratio_minus_bound_min >= -1e-12 and nn.bound_violations + w.bound_violations == 0),
    )


def _claim_kernel(res: Result) -> Claim:
    """Q2-ntk: the wide net's λ₋(K_t) stays ≥ ½λ₋(K_0) (the kernel condition of the cited theorems)."""
    w = res.wide
    return Claim(
        "Q2-ntk",
        "Wide nets at random initialisation (Du et al. 2019; Allen-Zhu et al. 2019; Zou et al. 2020; "
        "Liu et al. 2022): "
        "the tangent kernel's smallest eigenvalue stays ≥ half its initial value during training.",
        f"m = {w.m}: λ₋(K_t)/λ₋(K_0) in [{w.lambda_perp_rel_min:.3f}, "
        f"{w.lambda_perp_rel_max:.3f}], λ₋(K_0) ≥ {w.lambda_perp_min_init:.4f}",
        verdict(w.lambda_perp_min_init > 0 and w.lambda_perp_rel_min >= 0.5),
    )


def _claim_gradient_with_loss(res: Result) -> Claim:
    """Q2-grad: Prop. 4 at every checkpoint of the wide net, with c₋ > 0."""
    w = res.wide
    s = w.per_loss
    return Claim(
        "Q2-grad",
        "Hence the gradient vanishes with the loss, never before it: c₋L ≤ ‖∇L‖ ≤ c₊L for L1 and L2 "
        "(c₋ = 2 or 1 × p_c,min√(λ₋/n)), and (2λ_min/n)L ≤ ‖∇L‖² ≤ (2λ_max/n)L for MSE on logits.",
        f"m = {w.m}: {w.cert_violations} violations in {w.cert_checked} checks; "
        f"smallest c₋ {s['mse_softmax'].cert_min:.3e} (L1), {s['cross_entropy'].cert_min:.3e} (L2), "
        f"{s['mse_logits'].cert_min:.3e} (MSE on logits); measured min ‖∇L‖/L "
        f"{s['mse_softmax'].loj_min:.3f} (L1), {s['cross_entropy'].loj_min:.3f} (L2), "
        f"min ‖∇L‖²/L {s['mse_logits'].pl_min:.3e} (MSE on logits)",
        verdict(w.cert_violations == 0 and min(s[loss].cert_min for loss in LOSSES) > 0),
    )


def _claim_no_pl(res: Result) -> Claim:
    """Q2-PL: Prop. 4's upper bounds hold and the softmax losses' PL ratio falls during training."""
    nn, w = res.narrow, res.wide
    softmax = [w.per_loss[loss] for loss in ("mse_softmax", "cross_entropy")]
    pl_drop = [s.pl_end / s.pl_start for s in softmax]
    loss_drop = [s.loss_end / s.loss_start for s in softmax]
    return Claim(
        "Q2-PL",
        "For L1 and L2 the Polyak–Łojasiewicz ratio ‖∇L‖²/L is not bounded away from 0 even for wide "
        "nets (it is ≤ c₊²·L), unlike MSE on logits; the one-hot targets sit at infinite logits.",
        f"m = {w.m}, start → end of training: ‖∇L‖²/L × {pl_drop[0]:.3f} (L1), × {pl_drop[1]:.3f} (L2) "
        f"while L × {loss_drop[0]:.3f}, × {loss_drop[1]:.3f}; MSE on logits: ‖∇L‖²/L ≥ "
        f"{w.per_loss['mse_logits'].pl_min:.3e} throughout; upper bounds violated "
        f"{w.cert_violations + nn.cert_violations} times",
        verdict(w.cert_violations + nn.cert_violations == 0 and all(d < 1 for d in pl_drop)),
    )


def _claim_narrow(res: Result) -> Claim:
    """Q2-narrow: a singular kernel, and min ‖∇L‖/L at least 10 times below the wide net's."""
    nn, w = res.narrow, res.wide
    loj_gap = [
        w.per_loss[loss].loj_min / nn.per_loss[loss].loj_min if nn.per_loss[loss].loj_min > 0 else math.inf
        for loss in LOSSES
    ]
    return Claim(
        "Q2-narrow",
        "A narrow net with P < n(k − 1) weights has a singular kernel (λ₋ = 0), so no lower bound "
        "holds, and training reaches points where the gradient is far smaller than the loss.",
        f"m = {nn.m}, P = {nn.n_params} < n(k−1) = {nn.n_perp}: "
        f"max λ₋/λ₊ {nn.lambda_perp_over_max_max:.1e}; min over training of ‖∇L‖/L "
        + ", ".join(f"{nn.per_loss[loss].loj_min:.2e}" for loss in LOSSES)
        + " (L1, L2, MSE on logits) against "
        + ", ".join(f"{w.per_loss[loss].loj_min:.3f}" for loss in LOSSES)
        + f" for m = {w.m}; nets whose ReLUs all died (gradient exactly 0): {nn.dead_nets}",
        verdict(
            nn.lambda_perp_over_max_max < 1e-10 and all(g >= 10 for g in loj_gap),
            partly=nn.lambda_perp_over_max_max < 1e-10,
        ),
    )


def claims(res: Result) -> list[Claim]:
    """The page's answer, checked against the measurements (verdicts computed, never typed;
    thresholds: book/methods.md#q-gradient-norms-verdicts)."""
    return [
        _claim_logit_upper(res),
        _claim_no_lower_bound(res),
        _claim_lower_bound(res),
        _claim_kernel(res),
        _claim_gradient_with_loss(res),
        _claim_no_pl(res),
        _claim_narrow(res),
    ]


# -- tables and generated prose (Table / Prose in the book, fixed-precision text in nbval) ----------------
#: Checks whose exact value is 0 show as "|x| < 1e-14" below this: at float64 roundoff the last digits
#: depend on how the batched LAPACK and reduction kernels meet the data's memory alignment, which varies
#: from run to run, and a page must show the same numbers on every run.
ROUNDOFF = 1e-14

#: Short names of the losses for tables and prose (plain text).
SHORT = {"mse_softmax": "L1", "cross_entropy": "L2", "mse_logits": "MSE on logits"}


def _zero_check(value: float) -> float | str:
    """``value``, or the text "|x| < 1e-14" when it is 0 up to float64 roundoff (:data:`ROUNDOFF`)."""
    return f"|x| < {ROUNDOFF:.0e}" if abs(value) < ROUNDOFF else value


def logit_table(res: Result) -> Table:
    """(a): J's spectrum and the logit-level ratio ρ against its bounds (Props. 1 and 2), extremes over
    every random logit vector."""
    lg = res.logits
    rows = [
        ("largest eigenvalue of J(p)", "Prop. 1", "≤ 1/2", lg.J_max_eig),
        ("smallest eigenvalue of J(p)", "Prop. 1", "≥ 0", _zero_check(lg.J_min_eig)),
        ("largest ‖J(p)·1‖", "Prop. 1", "= 0", _zero_check(lg.J_null_residual)),
        ("smallest λ₊(J) − min p", "Prop. 1", "≥ 0", _zero_check(lg.J_perp_min_minus_pmin)),
        ("largest λ₊(J) − second smallest p", "Prop. 1", "≤ 0", lg.J_perp_min_minus_p2),
        ("ρ at k = 2, p = (1/2, 1/2)", "Prop. 1", "= 1/2", lg.equality_ratio_k2),
        ("largest |(Jv)_c + p_c‖v‖²|", "Prop. 2", "= 0", _zero_check(lg.Jv_c_identity_error)),
        ("largest ρ", "Prop. 2", "≤ 1/2", lg.max_logit_ratio),
        ("smallest ρ", "", "> 0", lg.min_logit_ratio),
        ("smallest ρ − μ(p)", "Prop. 2", "≥ 0", lg.logit_ratio_minus_bound_min),
        ("smallest ρ / μ(p)", "Prop. 2", "≥ 1", lg.logit_ratio_over_bound_min),
    ]
    return Table(
        ["quantity", "from", "exact", "measured"],
        rows,
        caption=f"(a) {res.n_logits} random logit vectors, k = {res.k}: ρ = ‖∂L1/∂z‖ / ‖∂L2/∂z‖, "
        "μ(p) = max(min p, p_c‖p − y‖), λ₊(J) the smallest eigenvalue of J on 1⊥.",
        formats={"measured": ".7g"},
    )


def saturation_table(res: Result) -> Table:
    """(b): the confidently wrong sample, both gradient norms at t = 0 and t = t_max (Prop. 2's Corollary)."""
    sat = res.saturation
    pairs = [
        ("‖∂L2/∂z‖ (logits)", sat.logit_grad2, None),
        ("‖∂L1/∂z‖ (logits)", sat.logit_grad1, None),
        ("‖∇_W L2‖ (weights)", sat.param_grad2, None),
        ("‖∇_W L1‖ (weights)", sat.param_grad1, None),
        ("ratio at the logits", sat.logit_grad1, sat.logit_grad2),
        ("ratio through the weights", sat.param_grad1, sat.param_grad2),
    ]
    end = f"t = {float(sat.t[-1]):.1f}"
    rows = [(name, *(float(a[i] / b[i] if b is not None else a[i]) for i in (0, -1))) for name, a, b in pairs]
    return Table(
        ["gradient norm", "t = 0", end],
        rows,
        caption=f"(b) One sample of the wide net (label {sat.label}) pushed along z = z₀ + t·e_wrong "
        f"(wrong class {sat.wrong}); ratio = the L1 gradient norm over the L2 one.",
        formats={"t = 0": ".4e", end: ".4e"},
    )


def saturation_summary(res: Result) -> str:
    """(b) in words: the exactness of the last-layer shift and the fitted rate of the ratio."""
    sat = res.saturation
    return (
        f"The last-layer shift moves the logits of the sample exactly along the path (largest residual "
        f"{sat.logit_shift_error:.1e}). On the second half of the path, $\\log$(ratio) falls with slope "
        f"{sat.slope_param:.4f} per unit of $t$ through the weights and {sat.slope_logit:.4f} at the logits "
        f"(the rate $e^{{-t}}$ has slope $-1$), while $\\|\\nabla_W L_2\\|$ goes from {sat.grad2_start:.4f} "
        f"to {sat.grad2_end:.4f}."
    )


def _width_columns(res: Result) -> list[str]:
    """The column names "m = <narrow>", "m = <wide>" of the per-width tables."""
    return [f"m = {run.m}" for run in res.runs.values()]


def widths_table(res: Result) -> Table:
    """(c)–(g): sizes, step sizes, dead nets, the kernel's growth and Prop. 3's per-sample checks, per width."""
    runs = list(res.runs.values())
    fields = [
        ("weights P", "n_params"),
        ("n(k − 1), the dimension the softmax sees", "n_perp"),
        ("smallest step size lr", "lr_min"),
        ("largest step size lr", "lr_max"),
        ("dead nets at the end", "dead_nets"),
        ("largest λ_max(K_t) / λ_max(K_0)", "kernel_growth_max"),
        ("Prop. 3 violations", "bound_violations"),
        ("Prop. 3 per-sample checks", "bound_checked"),
        ("largest per-sample ‖∇_W L1‖ / ‖∇_W L2‖", "max_param_ratio"),
    ]
    columns = _width_columns(res)
    return Table(
        ["", *columns],
        [(name, *(getattr(run, field) for run in runs)) for name, field in fields],
        caption=f"(c)–(g) n = {res.n} samples, d = {res.d}, k = {res.k}, L = {res.L} hidden layers, "
        f"{res.n_seeds} seeds, {res.steps} GD steps, eta = {res.eta}.",
        formats={c: ".4g" for c in columns},
    )


def training_table(res: Result) -> Table:
    """(d)–(g): where training ends for each width and loss (seed means; min p_c over seeds and samples)."""
    rows = [
        (
            run.m,
            SHORT[loss],
            s.loss_start,
            s.loss_end,
            s.accuracy_end,
            s.p_c_min_end,
            s.ratio12_end,
            s.up_fraction,
        )
        for run in res.runs.values()
        for loss, s in run.per_loss.items()
    ]
    return Table(
        ["m", "trained with", "loss start", "loss end", "accuracy", "min p_c end", "‖∇L1‖/‖∇L2‖ end", "steps up"],
        rows,
        caption="(d)–(g) Seed means at the last step; steps up: the fraction of GD steps on which the "
        "trained loss increased.",
        formats={
            "loss start": ".4f",
            "loss end": ".4g",
            "min p_c end": ".3e",
            "‖∇L1‖/‖∇L2‖ end": ".4f",
        },
    )


def training_summary(res: Result) -> str:
    """(d)–(g) in words: the wide net's ratio against ½, the narrow nets' kernel growth, steps up, the
    smallest p_c and the per-sample factor ½ (each sentence from the measurements, never typed)."""
    nn, w = res.narrow, res.wide
    wide_ratio = [w.per_loss[loss].ratio12_end for loss in LOSSES]
    below = "below" if max(wide_ratio) < 0.5 else "not below"
    up = max(nn.per_loss[loss].up_fraction for loss in LOSSES)
    p_c = nn.per_loss["mse_softmax"].p_c_min_end
    factor = "does not hold" if nn.max_param_ratio > 0.5 else "holds"
    return (
        f"For the wide net (m = {w.m}) the full-batch ratio $\\|\\nabla L_1\\|/\\|\\nabla L_2\\|$ ends at "
        + ", ".join(f"{r:.4f}" for r in wide_ratio)
        + f" (trained with $L_1$, $L_2$, MSE on logits), {below} $\\frac12$. The narrow nets (m = {nn.m}) "
        f"behave differently: their tangent kernel's largest eigenvalue grows by up to "
        f"{nn.kernel_growth_max:.1f} times its start (the wide net's by {w.kernel_growth_max:.2f}), and GD "
        f"raises the trained loss on up to {up:.1%} of the steps. Trained with $L_1$, a narrow net ends "
        f"with a smallest label probability $p_c$ of {p_c:.2e}. Per sample, the narrow nets' largest "
        f"$\\|\\nabla_W L_1\\|/\\|\\nabla_W L_2\\|$ is {nn.max_param_ratio:.3f}: through the weights the "
        f"logit-level factor $\\frac12$ {factor} (Prop. 3 allows it to fail when $\\sigma_+ \\ne \\sigma_-$); "
        f"the wide net's is {w.max_param_ratio:.3f}."
    )


def _relative(run: TrainingRun, value: float) -> float | None:
    """A ratio to λ₋(K_0), or ``None`` (shown "–") when some λ₋(K_0) is not positive (a singular kernel)."""
    return value if run.lambda_perp_min_init > 0 else None


def kernel_table(res: Result) -> Table:
    """(h)–(k): the tangent kernel's smallest eigenvalue on (1⊥)ⁿ and Prop. 4's checks, per width."""
    runs = list(res.runs.values())
    rows = [
        ("smallest λ₋(K_0)", *(_zero_check(run.lambda_perp_min_init) for run in runs)),
        ("smallest λ₋(K_t) / λ₋(K_0)", *(_relative(run, run.lambda_perp_rel_min) for run in runs)),
        ("largest λ₋(K_t) / λ₋(K_0)", *(_relative(run, run.lambda_perp_rel_max) for run in runs)),
        ("largest λ₋ / λ₊", *(_zero_check(run.lambda_perp_over_max_max) for run in runs)),
        ("Prop. 4 violations", *(run.cert_violations for run in runs)),
        ("Prop. 4 checks", *(run.cert_checked for run in runs)),
    ]
    columns = _width_columns(res)
    return Table(
        ["", *columns],
        rows,
        caption="(h)–(k) The tangent kernel K_t on (1⊥)ⁿ at the checkpoints (λ₋, λ₊ its extreme "
        "eigenvalues; – where λ₋(K_0) = 0) and the checks of Prop. 4.",
        formats={c: ".4g" for c in columns},
    )


def pl_table(res: Result) -> Table:
    """(h)–(k): the PL ratio, ‖∇L‖/L and Prop. 4's constants for each width and loss."""
    rows = [
        (run.m, SHORT[loss], s.pl_start, s.pl_end, s.pl_min, s.loj_min, s.loj_end, s.cert_min, s.cert_upper_max)
        for run in res.runs.values()
        for loss, s in run.per_loss.items()
    ]
    columns = ["m", "trained with", "PL start", "PL end", "PL min", "‖∇L‖/L min", "‖∇L‖/L end", "c₋ min", "c₊ max"]
    return Table(
        columns,
        rows,
        caption="(h)–(k) PL = ‖∇L‖²/L, seed means at the start and the end, min and max over seeds and "
        "steps; c₋, c₊ are Prop. 4's constants (bounds on ‖∇L‖²/L for MSE on logits, on ‖∇L‖/L for L1 and L2).",
        formats={c: ".3g" for c in columns[2:]},
    )


def answer_summary(res: Result) -> str:
    """The measured numbers behind the two answers (Markdown, right under the verdicts)."""
    lg, sat, nn, w = res.logits, res.saturation, res.narrow, res.wide
    s = w.per_loss
    q1 = (
        f"**Question 1, measured.** Over {res.n_logits} random logit vectors (k = {res.k}) the ratio "
        f"$\\rho = \\|\\partial L_1/\\partial z\\|/\\|\\partial L_2/\\partial z\\|$ is at most "
        f"{lg.max_logit_ratio:.6f} and never below its lower bound $\\mu(p)$ (smallest $\\rho - \\mu(p)$: "
        f"{lg.logit_ratio_minus_bound_min:.2e}). One sample of the wide net pushed to a wrong class with "
        f"margin $t = {float(sat.t[-1]):.1f}$ has $\\|\\nabla_W L_2\\| = {sat.grad2_end:.4f}$ but "
        f"$\\|\\nabla_W L_1\\| = {sat.grad1_end:.2e}$. Prop. 3's per-sample bounds were violated "
        f"{nn.bound_violations + w.bound_violations} times in {nn.bound_checked + w.bound_checked} checks "
        f"on the trained nets."
    )
    q2 = (
        f"**Question 2, measured.** On the wide net (m = {w.m}) the tangent kernel's smallest eigenvalue on "
        f"$(\\mathbf 1^\\perp)^n$ stays between {w.lambda_perp_rel_min:.3f} and {w.lambda_perp_rel_max:.3f} "
        f"times its start, and $\\|\\nabla L\\|/L$ never falls below {s['mse_softmax'].loj_min:.3f} ($L_1$) "
        f"or {s['cross_entropy'].loj_min:.3f} ($L_2$), while the loss falls from "
        f"{s['mse_softmax'].loss_start:.4f} to {s['mse_softmax'].loss_end:.4f} ($L_1$) and from "
        f"{s['cross_entropy'].loss_start:.4f} to {s['cross_entropy'].loss_end:.4f} ($L_2$). The narrow net "
        f"(m = {nn.m}, {nn.n_params} weights, fewer than $n(k-1) = {nn.n_perp}$) reaches $\\|\\nabla L\\|/L$ as "
        f"low as {nn.per_loss['mse_softmax'].loj_min:.2e} ($L_1$) and {nn.per_loss['cross_entropy'].loj_min:.2e} "
        f"($L_2$)."
    )
    return q1 + "\n\n" + q2


def _times(a: float, b: float) -> str:
    """a/b as a whole number of times ("∞" when b = 0)."""
    return f"{a / b:.0f}" if b > 0 else "∞"


def reading_summary(res: Result) -> str:
    """(h)–(k) in words: Prop. 4's checks, the PL slope, how far the measured ‖∇L‖/L sits above Prop. 4's
    c₋, and the narrow net's smallest ‖∇L‖/L and dead nets."""
    nn, w = res.narrow, res.wide
    soft = ("mse_softmax", "cross_entropy")
    slope = [w.per_loss[loss].pl_vs_loss_slope for loss in soft]
    falls = "falls" if min(slope) > 0 else "does not fall"
    slack = [_times(w.per_loss[loss].loj_min, w.per_loss[loss].cert_min) for loss in soft]
    gap = [_times(w.per_loss[loss].loj_min, nn.per_loss[loss].loj_min) for loss in soft]
    return (
        f"On the wide net Prop. 4 was violated {w.cert_violations} times in {w.cert_checked} checks "
        f"(the narrow net: {nn.cert_violations} in {nn.cert_checked}). Over the second half of training the "
        f"PL ratio of the wide net {falls} with the loss: $d\\log(\\|\\nabla L\\|^2/L)/d\\log L$ = "
        f"{slope[0]:.2f} ($L_1$) and {slope[1]:.2f} ($L_2$), where the limit $L \\to 0$ has slope $1$. For MSE "
        f"on logits it stays at or above {w.per_loss['mse_logits'].pl_min:.3g}, and that loss ends at "
        f"{w.per_loss['mse_logits'].loss_end:.2e}. The wide net's smallest $\\|\\nabla L\\|/L$ is "
        f"{slack[0]} ($L_1$) and {slack[1]} ($L_2$) times Prop. 4's smallest $c_-$: the constant is a worst "
        f"case (the worst sample's $p_c$, the worst kernel direction), not a prediction. On the narrow net "
        f"$\\|\\nabla L\\|/L$ gets {gap[0]} ($L_1$) and {gap[1]} ($L_2$) times smaller than anywhere on the "
        f"wide net's path, and {nn.dead_nets} of its {res.n_seeds * len(LOSSES)} nets ended dead (every ReLU "
        f"of a layer off for every input, so the gradient is exactly 0 at a positive loss)."
    )


# -- the figures -----------------------------------------------------------------------------------
COLORS = {"mse_softmax": PALETTE[0], "cross_entropy": PALETTE[1], "mse_logits": PALETTE[2]}


NAMES = {
    "mse_softmax": r"$L_1$ (MSE on softmax)",
    "cross_entropy": r"$L_2$ (cross-entropy)",
    "mse_logits": "MSE on logits",
}


WIDTH_STYLE = {"narrow": "--", "wide": "-"}


def _steps(res: Result) -> np.ndarray:
    return np.arange(res.steps + 1) + 1.0  # step + 1, for log axes


def _band(ax, x, values: np.ndarray, color: str, ls: str = "-", label: str | None = None, lw: float = 1.6) -> None:
    """Median over seeds (axis 0) as a line, min–max as a light band."""
    ax.plot(x, np.median(values, 0), color=color, ls=ls, lw=lw, label=label)
    if values.shape[0] > 1:
        ax.fill_between(x, values.min(0), values.max(0), color=color, alpha=0.15, lw=0, rasterized=True)


def _plain(value: float, _pos: int) -> str:
    """A tick label as a plain number (0.1, 0.2, 0.5)."""
    return f"{value:g}"


def _tidy_log(ax) -> None:
    """Tick labels of log axes: powers of ten only (no minor labels) when an axis spans at least a
    decade and a half; on a shorter axis, plain numbers at 1, 2 and 5 times the powers of ten."""
    for axis, scale, lim in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()), (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
        if scale != "log":
            continue
        axis.set_minor_formatter(NullFormatter())
        if math.log10(max(lim) / min(lim)) < 1.5:
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(_plain))


def _below(ax, ncols: int = 2) -> None:
    """The axis' legend under it, outside the data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=ncols, frameon=False)


# -- question 1: (a) random logits, (b) the saturation path, (c) every sample ---------------------------
def _draw_logit_ratio(ax, res: Result) -> None:
    """ρ against μ(p) on random logits (Prop. 2), coloured by p_c."""
    lg = res.logits
    mu, rho, pc = lg.sample_bound.numpy(), lg.sample_ratio.numpy(), lg.sample_p_c.numpy()
    keep = mu > 1e-12
    sc = ax.scatter(
        mu[keep], rho[keep], c=pc[keep], s=4, lw=0, cmap="viridis", norm=LogNorm(1e-4, 1), alpha=0.7, rasterized=True
    )
    ax.figure.colorbar(sc, ax=ax, shrink=0.85, label=r"$p_c$ (probability of the label)")
    grid = np.geomspace(1e-8, 0.5, 50)
    ax.plot(grid, grid, color="0.3", ls="--", lw=1, label=r"$\rho = \mu(p)$ (lower bound)")
    ax.axhline(0.5, color=PALETTE[1], lw=1.5, label=r"$\rho = \frac{1}{2}$ (upper bound)")
    ax.set(
        xscale="log",
        yscale="log",
        xlim=(1e-8, 0.8),
        ylim=(1e-8, 0.8),
        xlabel=r"$\mu(p) = \max(\min_i p_i,\ p_c\|p-y\|)$",
        ylabel=r"$\rho = \|\partial L_1/\partial z\| \,/\, \|\partial L_2/\partial z\|$",
        title=f"random logits, k = {res.k}",
    )
    ax.xaxis.set_major_locator(LogLocator(numticks=5))  # every other decade: the labels do not touch
    ax.legend(loc="lower right", framealpha=0.9)  # below the diagonal is empty: ρ ≥ μ(p) (Prop. 2)


def _draw_saturation(ax, res: Result) -> None:
    """Both gradient norms along the saturation path, with Prop. 3's bounds."""
    sat = res.saturation
    t = sat.t.numpy()
    c1, c2 = COLORS["mse_softmax"], COLORS["cross_entropy"]
    ax.plot(t, sat.param_grad2.numpy(), color=c2, lw=2, label=r"$\|\nabla_W L_2\|$")
    ax.plot(t, sat.param_grad1.numpy(), color=c1, lw=2, label=r"$\|\nabla_W L_1\|$")
    ax.fill_between(
        t,
        sat.param_lower1.numpy(),
        sat.param_upper1.numpy(),
        color=c1,
        alpha=0.15,
        lw=0,
        label=r"Prop. 3 bounds on $\|\nabla_W L_1\|$",
    )
    ax.plot(t, sat.logit_grad2.numpy(), color=c2, lw=1.4, ls=":", label=r"$\|\partial L_2/\partial z\|$")
    ax.plot(t, sat.logit_grad1.numpy(), color=c1, lw=1.4, ls=":", label=r"$\|\partial L_1/\partial z\|$")
    ax.set(
        yscale="log",
        xlim=(t[0], t[-1]),
        ylim=(max(float(sat.param_lower1.min()), 1e-12), None),
        xlabel=r"margin $t$ of the wrong class: $z = z_0 + t\,e_{\mathrm{wrong}}$",
        ylabel="gradient norm",
        title=f"a confidently wrong sample (m = {res.wide.m})",
    )
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    _below(ax)


def _draw_sample_scatter(ax, res: Result) -> None:
    """Per-sample ‖∇_W L₁‖ against ‖∇_W L₂‖ at every checkpoint of both widths (Prop. 3)."""
    sc = None
    for tag, marker in (("wide", "o"), ("narrow", "^")):
        run = res.runs[tag]
        g1, g2, pc = (v.numpy().ravel() for v in (run.ckpt_sample_grad1, run.ckpt_sample_grad2, run.ckpt_sample_p_c))
        keep = (g1 > 0) & (g2 > 0)
        edge = {"edgecolors": "0.2", "linewidths": 0.3} if tag == "narrow" else {"linewidths": 0}
        sc = ax.scatter(
            g2[keep],
            g1[keep],
            c=np.clip(pc[keep], 1e-4, 1),
            s=6 if tag == "wide" else 14,
            marker=marker,
            cmap="viridis",
            norm=LogNorm(1e-4, 1),
            alpha=0.7,
            label=f"m = {run.m}",
            rasterized=True,
            **edge,
        )
    ax.figure.colorbar(sc, ax=ax, shrink=0.85, label=r"$p_c$ (probability of the label)")
    hi = 20
    grid = np.geomspace(1e-6, hi, 20)
    ax.plot(grid, 0.5 * grid, color="0.3", ls="--", lw=1, label=r"$\|\nabla L_1\| = \frac{1}{2}\|\nabla L_2\|$")
    ax.set(
        xscale="log",
        yscale="log",
        xlim=(1e-3, hi),
        ylim=(1e-12, hi),
        xlabel=r"per-sample $\|\nabla_W L_2(x_i)\|$",
        ylabel=r"per-sample $\|\nabla_W L_1(x_i)\|$",
        title="every sample, every checkpoint",
    )
    legend = ax.legend(loc="lower right", framealpha=0.9, markerscale=1.5)
    for handle in legend.legend_handles[:2]:
        handle.set_array(None)  # the markers stand for the widths; colour is p_c (the colour bar)
        handle.set_facecolor("0.6")


# -- training: (d)–(g) both gradient norms and their ratio -------------------------------------------
def _draw_norms(ax, res: Result, tag: str) -> None:
    """Full-batch ‖∇L₁‖ and ‖∇L₂‖ of the nets trained with L₁ and with L₂, width ``tag``."""
    run = res.runs[tag]
    x = _steps(res)
    g = run.grad_norm.numpy()  # (S, J, T, 3)
    for j_trained, ls in ((0, "-"), (1, "--")):
        for r, loss in enumerate(res.losses[:2]):
            label = rf"$\|\nabla {('L_1', 'L_2')[r]}\|$, trained with {('$L_1$', '$L_2$')[j_trained]}"
            _band(ax, x, g[:, j_trained, :, r], COLORS[loss], ls, label)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="GD step + 1",
        ylabel="full-batch gradient norm",
        title=f"m = {run.m}: gradient norms",
    )


def _draw_ratio(ax, res: Result, tag: str) -> None:
    """Full-batch ‖∇L₁‖/‖∇L₂‖ of the nets trained with each loss, width ``tag``."""
    run = res.runs[tag]
    x = _steps(res)
    g = run.grad_norm.numpy()
    for j, loss in enumerate(res.losses):
        _band(ax, x, g[:, j, :, 0] / g[:, j, :, 1], COLORS[loss], "-", f"trained with {NAMES[loss]}")
    ax.axhline(0.5, color="0.3", ls="--", lw=1, label=r"$\frac{1}{2}$ (the bound at the logits)")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="GD step + 1",
        ylabel=r"$\|\nabla L_1\| \,/\, \|\nabla L_2\|$",
        title=f"m = {run.m}: ratio",
    )


# -- question 2: (h)–(k) loss, PL ratio, ‖∇L‖/L, the tangent kernel ------------------------------------
def _own(values: torch.Tensor, j: int) -> np.ndarray:
    """The nets trained with loss j, measured on loss j: ``(S, T + 1)`` of a ``(S, J, T + 1, 3)`` record."""
    return values.numpy()[:, j, :, j]


def _draw_loss(ax, res: Result) -> None:
    """The training loss of every width and loss."""
    x = _steps(res)
    for tag in ("wide", "narrow"):
        run = res.runs[tag]
        for j, loss in enumerate(res.losses):
            _band(ax, x, _own(run.loss, j), COLORS[loss], WIDTH_STYLE[tag])
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel="training loss $L$", title="loss")


def _draw_pl(ax, res: Result) -> None:
    """The PL ratio ‖∇L‖²/L, with the wide net's 2λ_min(K_t)/n for MSE on logits (Prop. 4)."""
    x = _steps(res)
    for tag in ("wide", "narrow"):
        run = res.runs[tag]
        for j, loss in enumerate(res.losses):
            _band(ax, x, _own(run.grad_norm, j) ** 2 / _own(run.loss, j), COLORS[loss], WIDTH_STYLE[tag])
    ck = np.asarray(res.wide.checkpoints) + 1.0
    lo = res.wide.per_loss["mse_logits"].certificate_lower.numpy()
    ax.plot(ck, lo.min(0), "v", color=COLORS["mse_logits"], ms=5)
    ax.set(
        xscale="log",
        yscale="log",
        ylim=(1e-7, None),
        xlabel="GD step + 1",
        ylabel=r"$\|\nabla L\|^2 / L$ (clipped at $10^{-7}$)",
        title="Polyak–Łojasiewicz ratio",
    )


def _draw_lojasiewicz(ax, res: Result) -> None:
    """‖∇L‖/L of the softmax losses between Prop. 4's c₋ and c₊ (wide net)."""
    x = _steps(res)
    ck = np.asarray(res.wide.checkpoints) + 1.0
    for j, loss in enumerate(res.losses[:2]):
        for tag in ("wide", "narrow"):
            run = res.runs[tag]
            _band(ax, x, _own(run.grad_norm, j) / _own(run.loss, j), COLORS[loss], WIDTH_STYLE[tag])
        lo = res.wide.per_loss[loss].certificate_lower.numpy().min(0)
        hi = res.wide.per_loss[loss].certificate_upper.numpy().max(0)
        ax.plot(ck, lo, "^", color=COLORS[loss], ms=4)
        ax.plot(ck, hi, "v", color=COLORS[loss], ms=4)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="GD step + 1",
        ylabel=r"$\|\nabla L\| / L$",
        title=r"gradient over loss, $L_1$ and $L_2$",
    )


def _draw_kernel(ax, res: Result) -> None:
    """λ₋(K_t)/λ₋(K_0) of the wide net; the narrow net's singular kernel in words."""
    ck = np.asarray(res.wide.checkpoints) + 1.0
    lam = res.wide.ckpt_lambda_perp_min.numpy()  # (S, J, C)
    for j, loss in enumerate(res.losses):
        rel = lam[:, j] / lam[:, j, :1]
        ax.plot(ck, np.median(rel, 0), "o-", color=COLORS[loss], ms=3, lw=1.2)
        ax.fill_between(ck, rel.min(0), rel.max(0), color=COLORS[loss], alpha=0.15, lw=0)
    ax.axhline(0.5, color="0.3", ls="--", lw=1, label=r"$\frac{1}{2}$ (what the theorems need)")
    nn = res.narrow
    largest = f"{nn.lambda_perp_over_max_max:.0e}" if nn.lambda_perp_over_max_max > 0 else "0"
    ax.text(
        0.03,
        0.05,
        f"m = {nn.m}: λ₋ = 0 (largest λ₋/λ₊ {largest}),\nP = {nn.n_params} < n(k−1) = {nn.n_perp}",
        transform=ax.transAxes,
        fontsize=8,
    )
    ax.set(
        xscale="log",
        ylim=(0, None),
        xlabel="GD step + 1",
        ylabel=r"$\lambda_-(K_t)\,/\,\lambda_-(K_0)$",
        title=f"tangent kernel on $(1^\\perp)^n$, m = {res.wide.m}",
    )
    ax.legend(loc="upper left", framealpha=0.9)


def _legend_losses_widths(fig: Figure, res: Result, losses: tuple[str, ...]) -> None:
    """One legend for a figure: colour = loss trained with, line style = width, and the markers of
    Prop. 4's constants (coloured by loss in (j))."""
    handles = [Line2D([], [], color=COLORS[loss], lw=1.6, label=f"trained with {NAMES[loss]}") for loss in losses]
    handles += [
        Line2D([], [], color="0.2", ls=WIDTH_STYLE[tag], lw=1.6, label=f"{tag} net, m = {run.m}")
        for tag, run in (("wide", res.wide), ("narrow", res.narrow))
    ]
    handles.append(Patch(color="0.2", alpha=0.15, label="min–max over seeds"))
    handles += [
        Line2D(
            [], [], marker="v", ls="", ms=5, color=COLORS["mse_logits"], label=r"(i) $2\lambda_{\min}(K_t)/n$, wide net"
        ),
        Line2D([], [], marker="^", ls="", ms=4, color="0.3", label=r"(j) $c_-$ of Prop. 4, wide net"),
        Line2D([], [], marker="v", ls="", ms=4, color="0.3", label=r"(j) $c_+$ of Prop. 4, wide net"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)


# -- the page's figures (Shown groups legible at the 780 px column) -------------------------------------
def _question1(res: Result) -> list[Shown]:
    """Companion figure 1 (a, b) and (c): question 1 at the logits, on one sample, on every sample."""
    fig, axes = new_figure(2, 1, width=4.25, height=4.1)
    with style():
        _draw_logit_ratio(axes[0, 0], res)
        _draw_saturation(axes[0, 1], res)
        letter_panels(axes[0])
        fig_c, axes_c = new_figure(1, 1, width=5.6, height=4.0)
        _draw_sample_scatter(axes_c[0, 0], res)
        letter_panels(axes_c[0], start=2)
    for ax in (*axes[0], axes_c[0, 0]):
        _tidy_log(ax)
    ab = Shown(
        fig,
        f"Companion figure 1 (a, b). Question 1. (a) On {res.n_logits} random logit vectors (the first "
        f"{len(res.logits.sample_ratio)} shown), the ratio ρ of the L1 and L2 gradients at the logits lies "
        "between its lower bound μ(p) (dashed) and 1/2; colour: the label's probability p_c. (b) One sample of "
        f"the wide net (m = {res.wide.m}) pushed to a confidently wrong prediction with margin t: ‖∇_W L2‖ stays "
        "large while ‖∇_W L1‖ falls like e^(−t), inside the bounds of Prop. 3 (band); dotted: the same at the logits.",
        "Left: a log-log scatter of the gradient ratio against its lower bound, every point between the dashed "
        "diagonal and the horizontal line at one half. Right: on a log scale against the margin t, the "
        "cross-entropy gradient stays flat while the MSE gradient falls on a straight line.",
    )
    c = Shown(
        fig_c,
        "Companion figure 1 (c). Per-sample ‖∇_W L1‖ against ‖∇_W L2‖ of the trained nets, every sample at every "
        f"checkpoint (circles: wide net, m = {res.wide.m}; triangles: narrow net, m = {res.narrow.m}; colour: the "
        "label's probability p_c). Points above the dashed line exceed the logit-level factor 1/2, which Prop. 3 "
        "allows through the weights when σ₊ ≠ σ₋.",
        "A log-log scatter of the two per-sample gradient norms with a dashed line at half the cross-entropy "
        "gradient; samples with a small label probability sit far below it, with a large cross-entropy and a tiny "
        "MSE gradient.",
        "samples",
    )
    return [ab, c]


def _training(res: Result) -> Shown:
    """Companion figure 1 (d)–(g): both gradient norms and their ratio along GD, narrow and wide."""
    fig, axes = new_figure(2, 2, width=4.25, height=3.2)
    with style():
        for row, tag in enumerate(("narrow", "wide")):
            _draw_norms(axes[row, 0], res, tag)
            _draw_ratio(axes[row, 1], res, tag)
        letter_panels(axes.ravel(), start=3)
        _below(axes[1, 0], ncols=1)
        _below(axes[1, 1], ncols=1)
    for ax in axes.ravel():
        _tidy_log(ax)
    return Shown(
        fig,
        f"Companion figure 1 (d–g). Full-batch gradient norms along gradient descent, the narrow net "
        f"(m = {res.narrow.m}) on top and the wide net (m = {res.wide.m}) below. (d, f) ‖∇L1‖ and ‖∇L2‖ of the nets "
        "trained with L1 (solid) and with L2 (dashed); (e, g) the ratio ‖∇L1‖/‖∇L2‖ of the nets trained with each "
        "loss, and 1/2, its bound at the logits. Lines: medians over seeds; bands: min–max.",
        "Four log-log panels against the GD step: on the left both gradient norms, on the right their ratio with "
        "a dashed line at one half; the narrow net's curves oscillate, the wide net's are smooth.",
        "training",
    )


def _question2(res: Result) -> Shown:
    """Companion figure 1 (h)–(k): question 2, loss, PL ratio, ‖∇L‖/L and the tangent kernel."""
    fig, axes = new_figure(2, 2, width=4.25, height=3.2)
    with style():
        _draw_loss(axes[0, 0], res)
        _draw_pl(axes[0, 1], res)
        _draw_lojasiewicz(axes[1, 0], res)
        _draw_kernel(axes[1, 1], res)
        letter_panels(axes.ravel(), start=7)
        _legend_losses_widths(fig, res, res.losses)
    for ax in axes.ravel():
        _tidy_log(ax)
    return Shown(
        fig,
        "Companion figure 1 (h–k). Question 2: does the gradient stay away from zero? Solid: wide net, dashed: "
        "narrow net; medians over seeds, bands min–max. (h) The training loss. (i) The Polyak–Łojasiewicz ratio "
        "‖∇L‖²/L, with the wide net's lower bound 2λ_min(K_t)/n for MSE on logits (triangles). (j) ‖∇L‖/L of L1 "
        "and L2 with Prop. 4's constants c₋ and c₊ of the wide net at the checkpoints. (k) The smallest eigenvalue "
        "of the wide net's tangent kernel on the directions the softmax sees, relative to its start.",
        "Four panels against the GD step on log axes: the losses, the PL ratio, the gradient-to-loss ratio between "
        "two rows of triangle markers, and the wide net's relative smallest kernel eigenvalue staying above a "
        "dashed line at one half.",
        "question2",
    )


def plot(res: Result) -> list[Shown]:
    """The page's figures: Companion figure 1 (a, b), (c), (d–g) and (h–k), with unique panel letters."""
    return [*_question1(res), _training(res), _question2(res)]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Gradient norms of MSE on the softmax and of cross-entropy, exactly and measured"
PAPER_FIGURE = ""
