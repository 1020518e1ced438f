"""The question page: MSE-on-softmax against cross-entropy gradient norms, exact and measured.

The run returns

* (a) random logits: the ratio ρ = ‖∂L₁/∂z‖/‖∂L₂/∂z‖, its lower bound μ(p) = max(min p, p_c‖p − y‖)
  and the spectrum checks of J(p) = diag(p) − ppᵀ;
* (b) the saturation path z = t·e_wrong, at the logits and through the parameters of the
  question's network (its last layer shifted so that one sample's logits move along the path);
* (c, d) full-batch GD of a narrow and a wide net with each loss (several seeds, batched):
  every step's losses and gradient norms, and at checkpoints the tangent kernel's smallest
  eigenvalue and the per-sample bounds (:mod:`lossdyn.gradnorms.training`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from lossdyn.gradnorms import relu_mlp
from lossdyn.gradnorms import theory as gn
from lossdyn.gradnorms.training import LOSSES, random_label_data, train
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, generator, resolve_device, resolve_dtype
from lossdyn.pipeline.plotting import PALETTE, new_figure, style
from lossdyn.pipeline.units import WholeRun

__all__ = [
    "Config",
    "claims",
    "key_numbers",
    "logit_table",
    "pl_table",
    "plot_gradient_norms",
    "plot_logit_answer",
    "plot_training_norms",
    "plot_wide_regime",
    "compute",
    "plan",
    "finish",
    "saturation_table",
    "training_table",
]


LOSS_LABELS = {
    "mse_softmax": "L1 = MSE on softmax",
    "cross_entropy": "L2 = cross-entropy",
    "mse_logits": "MSE on logits",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``q_gradient_norms`` (see the notebook for their defaults)."""

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


# -- (a) random logits -------------------------------------------------------------------------
def _logit_part(cfg: Config, gen: torch.Generator, dtype, device) -> dict[str, Any]:
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
    cpu = lambda v: v.detach().to("cpu", torch.float64)  # noqa: E731
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
        "logit_sample_ratio": cpu(ratio[:n_show]),
        "logit_sample_bound": cpu(mu[:n_show]),
        "logit_sample_p_c": cpu(p_c[:n_show]),
    }


# -- (b) the saturation path ---------------------------------------------------------------------
def _saturation_part(cfg, X, y, gen: torch.Generator, dtype, device) -> dict[str, Any]:
    t = torch.linspace(0.0, cfg.t_max, cfg.n_t, dtype=dtype, device=device)
    c = int(y[0])
    wrong = (c + 1) % cfg.k
    # Logit level: z = t·e_wrong, label c.
    zt = gn.wrong_class_logits(t, cfg.k, wrong)
    yt = torch.full((cfg.n_t,), c, device=device)
    g1, g2 = gn.logit_gradients(zt, yt)
    # Parameter level: the wide net at initialisation, sample x_0; shift the last layer so that
    # z(x_0) = z_0 + t·e_wrong and every other layer is untouched.
    weights = relu_mlp.init_weights(1, cfg.d, cfg.m_wide, cfg.L, cfg.k, generator=gen, dtype=dtype)
    x0 = X[:1]
    z0, hs = relu_mlp.forward(weights, x0)
    h = hs[-1][0, 0]
    s_out = relu_mlp.layer_scales(cfg.d, cfg.m_wide, cfg.L)[-1]
    direction = torch.zeros(cfg.k, dtype=dtype, device=device)
    direction[wrong] = 1.0
    shift = direction[:, None] * h[None, :] / (s_out * h.square().sum())  # (k, m): Δz = e_wrong per unit t
    path = [w.expand(cfg.n_t, *w.shape[1:]) for w in weights[:-1]] + [weights[-1] + t[:, None, None] * shift]
    zp, hp = relu_mlp.forward(path, x0)
    Kp = relu_mlp.tangent_kernel(path, hp)[:, 0, :, 0, :]  # (n_t, k, k)
    per = gn.parameter_gradient_bounds(Kp, zp[:, 0], yt)
    ratio_param = per["grad1"] / per["grad2"]
    ratio_logit = torch.linalg.vector_norm(g1, dim=-1) / torch.linalg.vector_norm(g2, dim=-1)
    tail = t >= cfg.t_max / 2
    slope = lambda r: float(
        torch.linalg.lstsq(  # noqa: E731
            torch.stack([t[tail], torch.ones_like(t[tail])], -1), torch.log(r[tail])[:, None]
        ).solution[0, 0]
    )
    cpu = lambda v: v.detach().to("cpu", torch.float64)  # noqa: E731
    return {
        "sat_t": cpu(t),
        "sat_label": c,
        "sat_wrong": wrong,
        "sat_logit_grad1": cpu(torch.linalg.vector_norm(g1, dim=-1)),
        "sat_logit_grad2": cpu(torch.linalg.vector_norm(g2, dim=-1)),
        "sat_logit_bound": cpu(gn.logit_ratio_lower_bound(zt, yt)),
        "sat_param_grad1": cpu(per["grad1"]),
        "sat_param_grad2": cpu(per["grad2"]),
        "sat_param_lower1": cpu(per["lower1"]),
        "sat_param_upper1": cpu(per["upper1"]),
        "sat_logit_shift_error": float((zp[:, 0] - z0[0, 0] - t[:, None] * direction).abs().max()),
        "saturation_ratio": float(ratio_param[-1]),
        "saturation_logit_ratio": float(ratio_logit[-1]),
        "saturation_grad2_end": float(per["grad2"][-1]),
        "saturation_grad2_start": float(per["grad2"][0]),
        "saturation_grad1_end": float(per["grad1"][-1]),
        "saturation_slope_param": slope(ratio_param),
        "saturation_slope_logit": slope(ratio_logit),
    }


# -- (c, d) training ---------------------------------------------------------------------------------
def _bound_checks(tr: dict[str, Any], tol: float) -> dict[str, Any]:
    """Violations of the per-sample bounds over every net, checkpoint and sample."""
    g1, g2 = tr["ckpt_sample_grad1"], tr["ckpt_sample_grad2"]
    slack = lambda a, b: a <= b * (1 + tol)  # noqa: E731  (a ≤ b up to relative rounding)
    ok = (
        slack(tr["ckpt_sample_lower1"], g1)
        & slack(g1, tr["ckpt_sample_upper1"])
        & slack(tr["ckpt_sample_lower2"], g2)
        & slack(g2, tr["ckpt_sample_upper2"])
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


def _training_numbers(tr: dict[str, Any], n: int, k: int, tol: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    b = _bound_checks(tr, tol)
    cert = _certificates(tr, n, tol)
    out["bound_violations"], out["bound_checked"], out["max_param_ratio"] = (
        b["violations"],
        b["checked"],
        b["max_param_ratio"],
    )
    out["cert_violations"], out["cert_checked"] = cert["violations"], cert["checked"]
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
    S = tr["loss"].shape[2] - 1
    half = torch.arange(S // 2, S + 1)
    for j, loss in enumerate(LOSSES):
        L_own = tr["loss"][:, j, :, j]
        g_own = tr["grad_norm"][:, j, :, j]
        pl = g_own.square() / L_own
        out[f"{loss}_loss_start"] = float(L_own[:, 0].mean())
        out[f"{loss}_loss_end"] = float(L_own[:, -1].mean())
        out[f"{loss}_pl_start"] = float(pl[:, 0].mean())
        out[f"{loss}_pl_end"] = float(pl[:, -1].mean())
        out[f"{loss}_pl_min"] = float(pl.min())
        out[f"{loss}_loj_min"] = float((g_own / L_own).min())
        out[f"{loss}_loj_end"] = float((g_own[:, -1] / L_own[:, -1]).mean())
        out[f"{loss}_accuracy_end"] = float(tr["accuracy"][:, j, -1].mean())
        out[f"{loss}_up_fraction"] = float((L_own.diff(dim=-1) > 0).to(L_own.dtype).mean())
        out[f"{loss}_p_c_min_end"] = float(tr["p_c_min"][:, j, -1].min())
        out[f"{loss}_cert_min"] = float(cert[f"lower_{loss}"].min())
        out[f"{loss}_cert_upper_max"] = float(cert[f"upper_{loss}"].max())
        live = (g_own[:, half] > 0).all(-1) & (L_own[:, half] > 0).all(-1)
        slopes = [_slope_loglog(L_own[s, half], pl[s, half]) for s in range(L_own.shape[0]) if bool(live[s])]
        out[f"{loss}_pl_vs_loss_slope"] = sum(slopes) / len(slopes) if slopes else float("nan")
        # Ratio ‖∇L₁‖/‖∇L₂‖ of the full-batch gradients, for the net trained with this loss.
        # (a net whose ReLUs all died has both gradients exactly 0: left out of these means)
        g = tr["grad_norm"][:, j]
        r12 = torch.where(g[..., 1] > 0, g[..., 0] / g[..., 1].clamp_min(1e-300), torch.full_like(g[..., 0], math.nan))
        mean = lambda t: float(t[t.isfinite()].mean()) if bool(t.isfinite().any()) else math.nan  # noqa: E731
        out[f"{loss}_ratio12_start"] = mean(r12[:, 0])
        out[f"{loss}_ratio12_end"] = mean(r12[:, -1])
    out["certificate_curves"] = {
        f"{side}_{loss}": cert[f"{side}_{loss}"] for loss in LOSSES for side in ("lower", "upper")
    }
    out["n_params"] = tr["n_params"]
    out["n_perp"] = n * (k - 1)
    return out


def compute(cfg: Config) -> dict[str, Any]:
    """Compute everything the page shows; returns CPU tensors and numbers (cacheable)."""
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    res: dict[str, Any] = {
        "k": cfg.k,
        "n": cfg.n,
        "d": cfg.d,
        "L": cfg.L,
        "eta": cfg.eta,
        "steps": cfg.steps,
        "m_narrow": cfg.m_narrow,
        "m_wide": cfg.m_wide,
        "n_seeds": cfg.n_seeds,
        "losses": list(LOSSES),
        "n_logits": cfg.n_logits,
    }
    res.update(_logit_part(cfg, generator(cfg.seed, device), dtype, device))
    X, y = random_label_data(cfg.n, cfg.d, cfg.k, generator=generator(cfg.seed + 1, device), dtype=dtype)
    res.update(_saturation_part(cfg, X, y, generator(cfg.seed + 2, device), dtype, device))
    for tag, m in (("narrow", cfg.m_narrow), ("wide", cfg.m_wide)):
        tr = train(
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
        nums = _training_numbers(tr, cfg.n, cfg.k, tol)
        curves = nums.pop("certificate_curves")
        res.update({f"{tag}_{key}": val for key, val in nums.items()})
        res[f"{tag}_checkpoints"] = tr["checkpoints"]
        res[f"{tag}_lr_min"], res[f"{tag}_lr_max"] = float(tr["lr"].min()), float(tr["lr"].max())
        for key in (
            "loss",
            "grad_norm",
            "p_c_min",
            "accuracy",
            "ckpt_lambda_perp_min",
            "ckpt_lambda_perp_max",
            "ckpt_lambda_full_min",
            "ckpt_lambda_full_max",
            "ckpt_sample_grad1",
            "ckpt_sample_grad2",
            "ckpt_sample_p_c",
        ):
            res[f"{tag}_{key}"] = tr[key]
        for key, c in curves.items():
            res[f"{tag}_certificate_{key}"] = c
    return res


def plan(cfg: Config) -> WholeRun:
    """One unit: the whole run (:func:`compute`)."""
    return WholeRun(cfg, compute)


def finish(cfg: Config, parts: dict[str, Any]) -> dict[str, Any]:
    """The page's result from the one unit's result."""
    return parts


# -- what the page quotes ------------------------------------------------------------------------
_KEY_NUMBERS = (
    "max_logit_ratio",
    "min_logit_ratio",
    "equality_ratio_k2",
    "logit_ratio_minus_bound_min",
    "J_max_eig",
    "J_perp_min_minus_pmin",
    "Jv_c_identity_error",
    "saturation_ratio",
    "saturation_logit_ratio",
    "saturation_grad2_start",
    "saturation_grad2_end",
    "saturation_grad1_end",
    "saturation_slope_param",
    "saturation_slope_logit",
)


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


def key_numbers(res: dict[str, Any]) -> dict[str, Any]:
    out = {key: res[key] for key in _KEY_NUMBERS}
    out.update({f"wide_{loss}_pl_vs_loss_slope": res[f"wide_{loss}_pl_vs_loss_slope"] for loss in LOSSES[:2]})
    for tag in ("narrow", "wide"):
        out[f"{tag}_m"] = res[f"m_{tag}"]
        out.update({f"{tag}_{key}": res[f"{tag}_{key}"] for key in _TRAIN_KEYS})
        out.update({f"{tag}_{loss}_{key}": res[f"{tag}_{loss}_{key}"] for loss in LOSSES for key in _TRAIN_LOSS_KEYS})
    return out


def claims(res: dict[str, Any]) -> list[Claim]:
    """The page's answer, checked against the measurements (verdicts computed, never typed)."""
    w, nn = "wide", "narrow"
    softmax = ("mse_softmax", "cross_entropy")
    pl_drop = [res[f"{w}_{loss}_pl_end"] / res[f"{w}_{loss}_pl_start"] for loss in softmax]
    loss_drop = [res[f"{w}_{loss}_loss_end"] / res[f"{w}_{loss}_loss_start"] for loss in softmax]
    loj_gap = [
        res[f"{w}_{loss}_loj_min"] / res[f"{nn}_{loss}_loj_min"] if res[f"{nn}_{loss}_loj_min"] > 0 else math.inf
        for loss in LOSSES
    ]
    return [
        Claim(
            "Q1-upper",
            "At the logits ‖∂L1/∂z‖ ≤ ½‖∂L2/∂z‖ for every z and label (‖J(p)‖ ≤ ½), with equality "
            "for k = 2 at p = (½, ½).",
            f"max ratio over {res['n_logits']} random logits (k = {res['k']}) {res['max_logit_ratio']:.6f}; "
            f"max eigenvalue of J {res['J_max_eig']:.6f}; k = 2, p = (½, ½): ratio {res['equality_ratio_k2']:.6f}",
            verdict(
                res["max_logit_ratio"] <= 0.5 + 1e-12
                and res["J_max_eig"] <= 0.5 + 1e-12
                and abs(res["equality_ratio_k2"] - 0.5) < 1e-12
            ),
        ),
        Claim(
            "Q1-none",
            "‖∇_W L2‖ > r implies no lower bound on ‖∇_W L1‖: on the question's network, a confidently "
            "wrong sample has ‖∇_W L1‖/‖∇_W L2‖ → 0 at rate e^(−t) while ‖∇_W L2‖ stays away from 0.",
            f"at margin t = {float(res['sat_t'][-1]):.1f}: parameter ratio {res['saturation_ratio']:.3e} "
            f"(logits {res['saturation_logit_ratio']:.3e}); slope of log ratio vs t "
            f"{res['saturation_slope_param']:.3f} (logits {res['saturation_slope_logit']:.3f}); ‖∇_W L2‖ "
            f"{res['saturation_grad2_start']:.4f} at t = 0 and {res['saturation_grad2_end']:.4f} at the end",
            verdict(
                res["saturation_ratio"] < 1e-3
                and abs(res["saturation_slope_param"] + 1) < 0.1
                and res["saturation_grad2_end"] >= 0.5 * res["saturation_grad2_start"]
            ),
        ),
        Claim(
            "Q1-lower",
            "Lower bound away from saturation: σ₋·max(min p, p_c‖p − y‖)·‖p − y‖ ≤ ‖∇_W L1‖ ≤ ½σ₊‖p − y‖ "
            "and σ₋‖p − y‖ ≤ ‖∇_W L2‖ ≤ σ₊‖p − y‖, per sample (σ± on 1⊥).",
            f"random logits: min(ρ − μ) = {res['logit_ratio_minus_bound_min']:.2e}; trained nets: "
            f"{res[f'{nn}_bound_violations'] + res[f'{w}_bound_violations']} violations in "
            f"{res[f'{nn}_bound_checked'] + res[f'{w}_bound_checked']} per-sample checks; largest per-sample "
            f"‖∇_W L1‖/‖∇_W L2‖ {res[f'{w}_max_param_ratio']:.3f} (m = {res['m_wide']}), "
            f"{res[f'{nn}_max_param_ratio']:.3f} (m = {res['m_narrow']})",
            verdict(
                res["logit_ratio_minus_bound_min"] >= -1e-12
                and res[f"{nn}_bound_violations"] + res[f"{w}_bound_violations"] == 0
            ),
        ),
        Claim(
            "Q2-ntk",
            "Wide nets at random initialisation (Du et al. 2019; Allen-Zhu et al. 2019; Liu et al. 2022): "
            "the tangent kernel's smallest eigenvalue stays ≥ half its initial value during training.",
            f"m = {res['m_wide']}: λ₋(K_t)/λ₋(K_0) in [{res[f'{w}_lambda_perp_rel_min']:.3f}, "
            f"{res[f'{w}_lambda_perp_rel_max']:.3f}], λ₋(K_0) ≥ {res[f'{w}_lambda_perp_min_init']:.4f}",
            verdict(res[f"{w}_lambda_perp_min_init"] > 0 and res[f"{w}_lambda_perp_rel_min"] >= 0.5),
        ),
        Claim(
            "Q2-grad",
            "Hence the gradient vanishes with the loss, never before it: c₋L ≤ ‖∇L‖ ≤ c₊L for L1 and L2 "
            "(c₋ = 2 or 1 × p_c,min√(λ₋/n)), and (2λ_min/n)L ≤ ‖∇L‖² ≤ (2λ_max/n)L for MSE on logits.",
            f"m = {res['m_wide']}: {res[f'{w}_cert_violations']} violations in {res[f'{w}_cert_checked']} checks; "
            f"smallest c₋ {res[f'{w}_mse_softmax_cert_min']:.3e} (L1), {res[f'{w}_cross_entropy_cert_min']:.3e} (L2), "
            f"{res[f'{w}_mse_logits_cert_min']:.3e} (MSE on logits); measured min ‖∇L‖/L "
            f"{res[f'{w}_mse_softmax_loj_min']:.3f} (L1), {res[f'{w}_cross_entropy_loj_min']:.3f} (L2), "
            f"min ‖∇L‖²/L {res[f'{w}_mse_logits_pl_min']:.3e} (MSE on logits)",
            verdict(res[f"{w}_cert_violations"] == 0 and min(res[f"{w}_{loss}_cert_min"] for loss in LOSSES) > 0),
        ),
        Claim(
            "Q2-PL",
            "For L1 and L2 the Polyak–Łojasiewicz ratio ‖∇L‖²/L is not bounded away from 0 even for wide "
            "nets (it is ≤ c₊²·L), unlike MSE on logits; the one-hot targets sit at infinite logits.",
            f"m = {res['m_wide']}, start → end of training: ‖∇L‖²/L × {pl_drop[0]:.3f} (L1), × {pl_drop[1]:.3f} (L2) "
            f"while L × {loss_drop[0]:.3f}, × {loss_drop[1]:.3f}; MSE on logits: ‖∇L‖²/L ≥ "
            f"{res[f'{w}_mse_logits_pl_min']:.3e} throughout; upper bounds violated "
            f"{res[f'{w}_cert_violations'] + res[f'{nn}_cert_violations']} times",
            verdict(res[f"{w}_cert_violations"] + res[f"{nn}_cert_violations"] == 0 and all(d < 1 for d in pl_drop)),
        ),
        Claim(
            "Q2-narrow",
            "A narrow net with P < n(k − 1) weights has a singular kernel (λ₋ = 0), so no lower bound "
            "holds, and training reaches points where the gradient is far smaller than the loss.",
            f"m = {res['m_narrow']}, P = {res[f'{nn}_n_params']} < n(k−1) = {res[f'{nn}_n_perp']}: "
            f"max λ₋/λ₊ {res[f'{nn}_lambda_perp_over_max_max']:.1e}; min over training of ‖∇L‖/L "
            + ", ".join(f"{res[f'{nn}_{loss}_loj_min']:.2e}" for loss in LOSSES)
            + " (L1, L2, MSE on logits) against "
            + ", ".join(f"{res[f'{w}_{loss}_loj_min']:.3f}" for loss in LOSSES)
            + f" for m = {res['m_wide']}; nets whose ReLUs all died (gradient exactly 0): {res[f'{nn}_dead_nets']}",
            verdict(
                res[f"{nn}_lambda_perp_over_max_max"] < 1e-10 and all(g >= 10 for g in loj_gap),
                partly=res[f"{nn}_lambda_perp_over_max_max"] < 1e-10,
            ),
        ),
    ]


# -- fixed-precision tables (printed by the notebook, compared by nbval) -------------------------------
def _rows(rows: list[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key:<{width}}  {val}" for key, val in rows)


def logit_table(res: dict[str, Any]) -> str:
    """(a): J's spectrum and the logit-level ratio against its bounds."""
    return _rows(
        [
            ("random logit vectors (k, count)", f"{res['k']}, {res['n_logits']}"),
            ("max λ_max(J)          (≤ 1/2, Prop. 1)", f"{res['J_max_eig']:.6f}"),
            ("min λ_min(J)          (≥ 0)", f"{res['J_min_eig']:+.2e}"),
            ("max ‖J·1‖             (= 0)", f"{res['J_null_residual']:.2e}"),
            ("min λ₊(J) − min p     (≥ 0 on 1⊥)", f"{res['J_perp_min_minus_pmin']:+.2e}"),
            ("max λ₊(J) − 2nd min p (≤ 0 on 1⊥)", f"{res['J_perp_min_minus_p2']:+.2e}"),
            ("max |(Jv)_c + p_c‖v‖²| (= 0, Prop. 2)", f"{res['Jv_c_identity_error']:.2e}"),
            ("max ρ = ‖∂L1/∂z‖/‖∂L2/∂z‖", f"{res['max_logit_ratio']:.6f}"),
            ("min ρ", f"{res['min_logit_ratio']:.3e}"),
            ("min ρ − μ(p)          (≥ 0, Prop. 2)", f"{res['logit_ratio_minus_bound_min']:+.2e}"),
            ("min ρ / μ(p)          (≥ 1)", f"{res['logit_ratio_over_bound_min']:.6f}"),
            ("ρ at k = 2, p = (1/2, 1/2)", f"{res['equality_ratio_k2']:.6f}"),
        ]
    )


def saturation_table(res: dict[str, Any]) -> str:
    """(b): the confidently wrong sample, at t = 0 and t = t_max."""
    t = res["sat_t"]
    rows = [
        ("label c, wrong class", f"{res['sat_label']}, {res['sat_wrong']}"),
        ("max |z(x0) − z0 − t·e_wrong| (last-layer shift)", f"{res['sat_logit_shift_error']:.2e}"),
    ]
    for i, name in ((0, "t = 0"), (-1, f"t = {float(t[-1]):.1f}")):
        rows += [
            (
                f"{name}: ‖∂L2/∂z‖, ‖∂L1/∂z‖",
                f"{float(res['sat_logit_grad2'][i]):.4e}, {float(res['sat_logit_grad1'][i]):.4e}",
            ),
            (
                f"{name}: ‖∇_W L2‖, ‖∇_W L1‖",
                f"{float(res['sat_param_grad2'][i]):.4e}, {float(res['sat_param_grad1'][i]):.4e}",
            ),
        ]
    rows += [
        ("ratio ‖∇_W L1‖/‖∇_W L2‖ at the end", f"{res['saturation_ratio']:.4e}"),
        ("ratio at the logits at the end", f"{res['saturation_logit_ratio']:.4e}"),
        ("d log(ratio)/dt, parameters (tail)", f"{res['saturation_slope_param']:.4f}"),
        ("d log(ratio)/dt, logits (tail)", f"{res['saturation_slope_logit']:.4f}"),
    ]
    return _rows(rows)


def training_table(res: dict[str, Any]) -> str:
    """(c): sizes, step sizes, per-sample bound checks and the gradient ratio at the end."""
    lines = [
        f"n = {res['n']} samples, d = {res['d']}, k = {res['k']}, L = {res['L']} hidden layers, "
        f"{res['n_seeds']} seeds, {res['steps']} GD steps, eta = {res['eta']}"
    ]
    for tag in ("narrow", "wide"):
        lines.append(
            f"m = {res[f'm_{tag}']:>5}: P = {res[f'{tag}_n_params']} weights (n(k−1) = {res[f'{tag}_n_perp']}), "
            f"lr in [{res[f'{tag}_lr_min']:.3f}, {res[f'{tag}_lr_max']:.3f}], dead nets {res[f'{tag}_dead_nets']}, "
            f"max λ_max(K_t)/λ_max(K_0) {res[f'{tag}_kernel_growth_max']:.2f}"
        )
        lines.append(
            f"{'':>10}Prop. 3 violations {res[f'{tag}_bound_violations']}/{res[f'{tag}_bound_checked']}, "
            f"max per-sample ‖∇L1‖/‖∇L2‖ {res[f'{tag}_max_param_ratio']:.3f}"
        )
    lines.append(
        f"{'':>10}{'trained with':<22}{'loss start':>11}{'loss end':>11}{'accuracy':>10}"
        f"{'min p_c end':>13}{'‖∇L1‖/‖∇L2‖ end':>18}{'steps up':>10}"
    )
    for tag in ("narrow", "wide"):
        for loss in LOSSES:
            lines.append(
                f"m = {res[f'm_{tag}']:<5} {loss:<22}{res[f'{tag}_{loss}_loss_start']:>11.4f}{res[f'{tag}_{loss}_loss_end']:>11.4g}"
                f"{res[f'{tag}_{loss}_accuracy_end']:>10.3f}{res[f'{tag}_{loss}_p_c_min_end']:>13.3e}"
                f"{res[f'{tag}_{loss}_ratio12_end']:>18.4f}{res[f'{tag}_{loss}_up_fraction']:>10.3f}"
            )
    lines.append("steps up: fraction of GD steps on which the trained loss increased (seed mean)")
    return "\n".join(lines)


def pl_table(res: dict[str, Any]) -> str:
    """(d): tangent kernel, Prop. 4's constants and the measured ratios (seed means unless 'min'/'max')."""
    lines = []
    for tag in ("narrow", "wide"):
        head = f"m = {res[f'm_{tag}']}: "
        if res[f"{tag}_lambda_perp_min_init"] > 0:
            head += (
                f"λ₋(K_0) ≥ {res[f'{tag}_lambda_perp_min_init']:.4g}, λ₋(K_t)/λ₋(K_0) in "
                f"[{res[f'{tag}_lambda_perp_rel_min']:.3f}, {res[f'{tag}_lambda_perp_rel_max']:.3f}]"
            )
        else:
            head += f"λ₋(K_t) = 0 up to rounding (max λ₋/λ₊ {res[f'{tag}_lambda_perp_over_max_max']:.1e})"
        lines.append(head + f", Prop. 4 violations {res[f'{tag}_cert_violations']}/{res[f'{tag}_cert_checked']}")
    lines.append(
        f"{'':>10}{'trained with':<16}{'‖∇L‖²/L start':>14}{'end':>11}{'min':>11}"
        f"{'‖∇L‖/L min':>12}{'end':>10}{'c₋ min':>11}{'c₊ max':>10}"
    )
    for tag in ("narrow", "wide"):
        for loss in LOSSES:
            g = lambda key: res[f"{tag}_{loss}_{key}"]  # noqa: E731
            lines.append(
                f"m = {res[f'm_{tag}']:<5} {loss:<16}{g('pl_start'):>14.4g}{g('pl_end'):>11.4g}{g('pl_min'):>11.3g}"
                f"{g('loj_min'):>12.4g}{g('loj_end'):>10.4g}{g('cert_min'):>11.3g}{g('cert_upper_max'):>10.3g}"
            )
    lines.append("c₋, c₊: Prop. 4 (for mse_logits they bound ‖∇L‖²/L, for the softmax losses ‖∇L‖/L)")
    lines.append(
        f"m = {res['m_wide']}, second half of training: d log(‖∇L‖²/L) / d log L = "
        f"{res['wide_mse_softmax_pl_vs_loss_slope']:.2f} (mse_softmax), "
        f"{res['wide_cross_entropy_pl_vs_loss_slope']:.2f} (cross_entropy); 1 in the limit L → 0"
    )
    return "\n".join(lines)


# -- the figure --------------------------------------------------------------------------------
COLORS = {"mse_softmax": PALETTE[0], "cross_entropy": PALETTE[1], "mse_logits": PALETTE[2]}


NAMES = {
    "mse_softmax": r"$L_1$ (MSE on softmax)",
    "cross_entropy": r"$L_2$ (cross-entropy)",
    "mse_logits": "MSE on logits",
}


WIDTH_STYLE = {"narrow": "--", "wide": "-"}


def _steps(res: dict[str, Any]) -> np.ndarray:
    return np.arange(res["steps"] + 1) + 1.0  # step + 1, for log axes


def _band(ax, x, values: np.ndarray, color: str, ls: str = "-", label: str | None = None, lw: float = 1.6) -> None:
    """Median over seeds (axis 0) as a line, min–max as a light band."""
    ax.plot(x, np.median(values, 0), color=color, ls=ls, lw=lw, label=label)
    if values.shape[0] > 1:
        ax.fill_between(x, values.min(0), values.max(0), color=color, alpha=0.15, lw=0, rasterized=True)


# -- Q1 panels -----------------------------------------------------------------------------------
def _draw_logit_ratio(ax, res: dict[str, Any]) -> None:
    mu, rho, pc = (res[key].numpy() for key in ("logit_sample_bound", "logit_sample_ratio", "logit_sample_p_c"))
    keep = mu > 1e-12
    sc = ax.scatter(
        mu[keep], rho[keep], c=pc[keep], s=3, lw=0, cmap="viridis", norm=LogNorm(1e-4, 1), alpha=0.6, rasterized=True
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
    )
    ax.legend(loc="upper left", framealpha=0.9)
    ax.set_title(f"(a) random logits, k = {res['k']}", loc="left")


def _draw_saturation(ax, res: dict[str, Any]) -> None:
    t = res["sat_t"].numpy()
    c1, c2 = COLORS["mse_softmax"], COLORS["cross_entropy"]
    ax.plot(t, res["sat_param_grad2"].numpy(), color=c2, lw=2, label=r"$\|\nabla_W L_2\|$")
    ax.plot(t, res["sat_param_grad1"].numpy(), color=c1, lw=2, label=r"$\|\nabla_W L_1\|$")
    ax.fill_between(
        t,
        res["sat_param_lower1"].numpy(),
        res["sat_param_upper1"].numpy(),
        color=c1,
        alpha=0.15,
        lw=0,
        label=r"Prop. 3 bounds on $\|\nabla_W L_1\|$",
    )
    ax.plot(t, res["sat_logit_grad2"].numpy(), color=c2, lw=1.2, ls=":", label=r"$\|\partial L_2/\partial z\|$")
    ax.plot(t, res["sat_logit_grad1"].numpy(), color=c1, lw=1.2, ls=":", label=r"$\|\partial L_1/\partial z\|$")
    ax.set(
        yscale="log",
        xlim=(t[0], t[-1]),
        ylim=(max(float(res["sat_param_lower1"].min()), 1e-12), None),
        xlabel=r"margin $t$ of the wrong class: $z = z_0 + t\,e_{\mathrm{wrong}}$",
        ylabel="gradient norm",
    )
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title(f"(b) a confidently wrong sample (m = {res['m_wide']})", loc="left")


def _draw_sample_scatter(ax, res: dict[str, Any]) -> None:
    sc = None
    for tag, marker in (("wide", "o"), ("narrow", "^")):
        g1, g2, pc = (res[f"{tag}_ckpt_sample_{key}"].numpy().ravel() for key in ("grad1", "grad2", "p_c"))
        keep = (g1 > 0) & (g2 > 0)
        edge = {"edgecolors": "0.2", "linewidths": 0.3} if tag == "narrow" else {"linewidths": 0}
        sc = ax.scatter(
            g2[keep],
            g1[keep],
            c=np.clip(pc[keep], 1e-4, 1),
            s=5 if tag == "wide" else 12,
            marker=marker,
            cmap="viridis",
            norm=LogNorm(1e-4, 1),
            alpha=0.7,
            label=f"m = {res[f'm_{tag}']}",
            rasterized=True,
            **edge,
        )
    ax.figure.colorbar(sc, ax=ax, shrink=0.85, label=r"$p_c$")
    lo, hi = 1e-6, 20
    grid = np.geomspace(lo, hi, 20)
    ax.plot(grid, 0.5 * grid, color="0.3", ls="--", lw=1, label=r"$\|\nabla L_1\| = \frac{1}{2}\|\nabla L_2\|$")
    ax.set(
        xscale="log",
        yscale="log",
        xlim=(1e-3, hi),
        ylim=(1e-12, hi),
        xlabel=r"per-sample $\|\nabla_W L_2(x_i)\|$",
        ylabel=r"per-sample $\|\nabla_W L_1(x_i)\|$",
    )
    ax.legend(loc="lower right", framealpha=0.9, markerscale=2)
    ax.set_title("(c) every sample, every checkpoint", loc="left")


# -- training panels --------------------------------------------------------------------------------
def _draw_norms(ax, res: dict[str, Any], tag: str) -> None:
    x = _steps(res)
    g = res[f"{tag}_grad_norm"].numpy()  # (S, J, T, 3)
    losses = res["losses"]
    for j_trained, ls in ((0, "-"), (1, "--")):
        for r, loss in enumerate(losses[:2]):
            label = rf"$\|\nabla {('L_1', 'L_2')[r]}\|$, trained with {('$L_1$', '$L_2$')[j_trained]}"
            _band(ax, x, g[:, j_trained, :, r], COLORS[loss], ls, label)
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel="full-batch gradient norm")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title(f"({'a' if tag == 'narrow' else 'c'}) m = {res[f'm_{tag}']}: gradient norms", loc="left")


def _draw_ratio(ax, res: dict[str, Any], tag: str) -> None:
    x = _steps(res)
    g = res[f"{tag}_grad_norm"].numpy()
    for j, loss in enumerate(res["losses"]):
        _band(ax, x, g[:, j, :, 0] / g[:, j, :, 1], COLORS[loss], "-", f"trained with {NAMES[loss]}")
    ax.axhline(0.5, color="0.3", ls="--", lw=1, label=r"$\frac{1}{2}$ (logit-level bound)")
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel=r"$\|\nabla L_1\| \,/\, \|\nabla L_2\|$")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title(f"({'b' if tag == 'narrow' else 'd'}) m = {res[f'm_{tag}']}: ratio", loc="left")


# -- Q2 panels ----------------------------------------------------------------------------------------
def _own(res: dict[str, Any], tag: str, key: str, j: int) -> np.ndarray:
    return res[f"{tag}_{key}"].numpy()[:, j, :, j]


def _draw_loss(ax, res: dict[str, Any]) -> None:
    x = _steps(res)
    for tag in ("wide", "narrow"):
        for j, loss in enumerate(res["losses"]):
            _band(
                ax,
                x,
                _own(res, tag, "loss", j),
                COLORS[loss],
                WIDTH_STYLE[tag],
                f"{NAMES[loss]}, m = {res[f'm_{tag}']}",
            )
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel="training loss $L$")
    ax.legend(loc="lower left", framealpha=0.9, fontsize=7)
    ax.set_title("(a) loss", loc="left")


def _draw_pl(ax, res: dict[str, Any]) -> None:
    x = _steps(res)
    for tag in ("wide", "narrow"):
        for j, loss in enumerate(res["losses"]):
            _band(
                ax, x, _own(res, tag, "grad_norm", j) ** 2 / _own(res, tag, "loss", j), COLORS[loss], WIDTH_STYLE[tag]
            )
    ck = np.asarray(res["wide_checkpoints"]) + 1.0
    lo = res["wide_certificate_lower_mse_logits"].numpy()
    ax.plot(
        ck,
        lo.min(0),
        "v",
        color=COLORS["mse_logits"],
        ms=5,
        label=r"$2\lambda_{\min}(K_t)/n$, m = " + str(res["m_wide"]),
    )
    ax.set(
        xscale="log",
        yscale="log",
        ylim=(1e-7, None),
        xlabel="GD step + 1",
        ylabel=r"$\|\nabla L\|^2 / L$  (PL ratio; clipped at $10^{-7}$)",
    )
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title("(b) Polyak–Łojasiewicz ratio", loc="left")


def _draw_lojasiewicz(ax, res: dict[str, Any]) -> None:
    x = _steps(res)
    ck = np.asarray(res["wide_checkpoints"]) + 1.0
    for j, loss in enumerate(res["losses"][:2]):
        for tag in ("wide", "narrow"):
            _band(ax, x, _own(res, tag, "grad_norm", j) / _own(res, tag, "loss", j), COLORS[loss], WIDTH_STYLE[tag])
        lo = res[f"wide_certificate_lower_{loss}"].numpy().min(0)
        hi = res[f"wide_certificate_upper_{loss}"].numpy().max(0)
        ax.plot(ck, lo, "^", color=COLORS[loss], ms=4, label=rf"$c_-$, $c_+$ for {NAMES[loss]}, m = {res['m_wide']}")
        ax.plot(ck, hi, "v", color=COLORS[loss], ms=4)
    ax.set(xscale="log", yscale="log", xlabel="GD step + 1", ylabel=r"$\|\nabla L\| / L$")
    ax.legend(loc="lower left", framealpha=0.9)
    ax.set_title("(c) gradient over loss (Prop. 4)", loc="left")


def _draw_kernel(ax, res: dict[str, Any]) -> None:
    ck = np.asarray(res["wide_checkpoints"]) + 1.0
    lam = res["wide_ckpt_lambda_perp_min"].numpy()  # (S, J, C)
    for j, loss in enumerate(res["losses"]):
        rel = lam[:, j] / lam[:, j, :1]
        ax.plot(ck, np.median(rel, 0), "o-", color=COLORS[loss], ms=3, lw=1.2, label=f"trained with {NAMES[loss]}")
        ax.fill_between(ck, rel.min(0), rel.max(0), color=COLORS[loss], alpha=0.15, lw=0)
    ax.axhline(0.5, color="0.3", ls="--", lw=1, label=r"$\frac{1}{2}$ (what the theorems need)")
    narrow = res["narrow_lambda_perp_over_max_max"]
    ax.text(
        0.02,
        0.04,
        f"m = {res['m_narrow']}: λ₋ = 0 (largest λ₋/λ₊ {narrow:.0e}),\n"
        f"P = {res['narrow_n_params']} < n(k−1) = {res['narrow_n_perp']}",
        transform=ax.transAxes,
        fontsize=8,
    )
    ax.set(xscale="log", ylim=(0, None), xlabel="GD step + 1", ylabel=r"$\lambda_-(K_t)\,/\,\lambda_-(K_0)$")
    ax.legend(loc="upper left", framealpha=0.9)
    ax.set_title(f"(d) tangent kernel on $(1^\\perp)^n$, m = {res['m_wide']}", loc="left")


# -- figures --------------------------------------------------------------------------------------------
def plot_logit_answer(res: dict[str, Any]) -> Figure:
    """Q1: (a) ratio against its bounds on random logits, (b) the saturation counterexample, (c) trained nets."""
    fig, axes = new_figure(3, 1, width=4.3, height=3.8)
    with style():
        _draw_logit_ratio(axes[0, 0], res)
        _draw_saturation(axes[0, 1], res)
        _draw_sample_scatter(axes[0, 2], res)
    return fig


def plot_training_norms(res: dict[str, Any]) -> Figure:
    """Both gradient norms and their ratio along training, narrow (top) and wide (bottom)."""
    fig, axes = new_figure(2, 2, width=5.0, height=3.6)
    with style():
        for row, tag in enumerate(("narrow", "wide")):
            _draw_norms(axes[row, 0], res, tag)
            _draw_ratio(axes[row, 1], res, tag)
    return fig


def plot_wide_regime(res: dict[str, Any]) -> Figure:
    """Q2: loss, PL ratio, ‖∇L‖/L with Prop. 4's constants, and the tangent kernel's smallest eigenvalue."""
    fig, axes = new_figure(2, 2, width=5.0, height=3.6)
    with style():
        _draw_loss(axes[0, 0], res)
        _draw_pl(axes[0, 1], res)
        _draw_lojasiewicz(axes[1, 0], res)
        _draw_kernel(axes[1, 1], res)
    return fig


def plot_gradient_norms(res: dict[str, Any]) -> Figure:
    """Every panel of the page in one figure (the saved one): Q1 row, training row, Q2 row."""
    with style():
        fig = Figure(figsize=(20.0, 11.4), layout="constrained")
        top, middle, bottom = fig.subfigures(3, 1)
        a = top.subplots(1, 3)
        b = middle.subplots(1, 4)
        c = bottom.subplots(1, 4)
        _draw_logit_ratio(a[0], res)
        _draw_saturation(a[1], res)
        _draw_sample_scatter(a[2], res)
        _draw_norms(b[0], res, "narrow")
        _draw_ratio(b[1], res, "narrow")
        _draw_norms(b[2], res, "wide")
        _draw_ratio(b[3], res, "wide")
        _draw_loss(c[0], res)
        _draw_pl(c[1], res)
        _draw_lojasiewicz(c[2], res)
        _draw_kernel(c[3], res)
    top.suptitle("Question 1: what ‖∇L2‖ says about ‖∇L1‖", x=0.01, ha="left")
    middle.suptitle("Both gradient norms along full-batch GD (medians over seeds, bands min–max)", x=0.01, ha="left")
    bottom.suptitle(
        "Question 2: does the gradient stay away from zero? (solid: wide, dashed: narrow)", x=0.01, ha="left"
    )
    return fig


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "Gradient norms of MSE on the softmax and of cross-entropy, exactly and measured"
PAPER_FIGURE = ""
Result = dict  # TODO(issue 10): a typed result
plot = plot_gradient_norms
