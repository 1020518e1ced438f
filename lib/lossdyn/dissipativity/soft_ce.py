"""Soft (label-smoothed) cross-entropy and its geometry — Paper 1, Section 3.2.

Paper 1: Püttschneider & Faulwasser, "On Dissipativity of Cross-Entropy Loss in
Training ResNets", arXiv:2405.19013. Equations (12)–(13), Lemmas 3–8.

Symbols follow the paper: ``C`` classes, smoothing target ``p_d``, minimiser
offset ``delta`` (δ), projection ``T`` onto X_T = {x : 1ᵀx = 0}.
States may be longer than C (Remark 4): every function that takes a state uses
its first C components as logits.

Two corrections to the printed paper (book/methods.md#p1-soft-ce; checked by the tests):

* the point x̃⋆_y = X⋆_y ∩ X_T has y-component −((C−1)/C)·δ, not −(C/(C−1))·δ;
* the s > 1 branch of Lemma 8's bound is λ/2 + m(s − 1), not m·s + λ/2.

The printed variants are kept (``minimiser_point_as_printed`` and
``huber_lower_bound(..., as_printed=True)``) only so the book can show the
check that exposes them.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "asymptotic_slope",
    "delta",
    "distance_to_minimiser_set",
    "hard_cross_entropy",
    "hessian",
    "huber_bound_constants",
    "huber_lower_bound",
    "label_smoothing_epsilon",
    "minimiser_point",
    "minimiser_point_as_printed",
    "projection_matrix",
    "project",
    "smoothed_target",
    "soft_ce_gradient",
    "soft_cross_entropy",
    "target_entropy",
]


def _check_p_d(C: int, p_d: float) -> None:
    if C < 2:
        raise ValueError(f"C must be >= 2, got {C}")
    if not (1.0 / C < p_d < 1.0):
        raise ValueError(f"p_d must satisfy 1/C < p_d < 1 (1/C = {1.0 / C:g}), got {p_d}")


def smoothed_target(y: torch.Tensor, C: int, p_d: float, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Smoothed target distribution q̃(·|y) of eq. (12).

    **Arguments:** ``y`` integer labels of any shape; ``C`` classes; ``p_d`` the
    probability of the true class.

    **Returns:** tensor of shape ``y.shape + (C,)``: ``p_d`` at the label and
    ``(1 − p_d)/(C − 1)`` elsewhere.
    """
    _check_p_d(C, p_d)
    dtype = dtype or torch.get_default_dtype()
    off = (1.0 - p_d) / (C - 1)
    q = torch.full((*y.shape, C), off, dtype=dtype, device=y.device)
    return q.scatter(-1, y.unsqueeze(-1), p_d)


def target_entropy(C: int, p_d: float) -> float:
    """Shannon entropy H(q̃) in nats: the offset ℓ̃⋆ of eq. (13) that makes min ℓ̃_f = 0."""
    _check_p_d(C, p_d)
    off = (1.0 - p_d) / (C - 1)
    return -p_d * math.log(p_d) - (C - 1) * off * math.log(off)


def delta(C: int, p_d: float) -> float:
    """δ = −log((C−1)·p_d/(1−p_d)) of Lemma 3: the gap [x]_c − [x]_y on the minimiser line."""
    _check_p_d(C, p_d)
    return -math.log((C - 1) * p_d / (1.0 - p_d))


def label_smoothing_epsilon(C: int, p_d: float) -> float:
    """ε with ``F.cross_entropy(label_smoothing=ε)`` ≡ eq. (12): ε = C(1 − p_d)/(C − 1).

    PyTorch's smoothed target is (1 − ε)·onehot + ε/C; matching its off-class value ε/C to
    (1 − p_d)/(C − 1) gives ε (0.1 for both experiments of Section 6, book/methods.md#p1-soft-ce).
    """
    _check_p_d(C, p_d)
    return C * (1.0 - p_d) / (C - 1)


def soft_cross_entropy(x: torch.Tensor, y: torch.Tensor, *, p_d: float, C: int | None = None) -> torch.Tensor:
    """Soft cross-entropy ℓ̃_f(x, y) of eq. (13) with the entropy offset, i.e. KL(q̃(y) ‖ softmax(x[:C])).

    **Arguments:** ``x`` states of shape ``(..., n)`` with n ≥ C; ``y`` labels of
    shape ``(...)``; ``p_d`` smoothing target; ``C`` number of classes (default n).

    **Returns:** per-sample loss of shape ``(...)``; it is ≥ 0 with minimum 0 on X⋆_y.
    """
    C = x.shape[-1] if C is None else C
    q = smoothed_target(y, C, p_d, dtype=x.dtype)
    log_p = torch.log_softmax(x[..., :C], dim=-1)
    # Σ q (log q − log p): exact zero at p = q, no cancellation against a separate constant.
    return (q * (torch.log(q) - log_p)).sum(-1)


def hard_cross_entropy(x: torch.Tensor, y: torch.Tensor, *, C: int | None = None) -> torch.Tensor:
    """Hard cross-entropy −log p(y|x) of eq. (7), per sample (Lemma 2: no minimiser)."""
    C = x.shape[-1] if C is None else C
    return -torch.log_softmax(x[..., :C], dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)


def soft_ce_gradient(x: torch.Tensor, y: torch.Tensor, *, p_d: float) -> torch.Tensor:
    """∇_x ℓ̃_f = softmax(x) − q̃(y) (used in the proof of Prop. 12); ‖·‖₂ ≤ √2."""
    C = x.shape[-1]
    return torch.softmax(x, dim=-1) - smoothed_target(y, C, p_d, dtype=x.dtype)


def hessian(x: torch.Tensor) -> torch.Tensor:
    """∇²ℓ̃_f = diag(p) − p pᵀ with p = softmax(x) (Lemma 7); independent of q̃.

    **Returns:** shape ``x.shape + (C,)``; PSD, rank C − 1, null vector 1_C.
    """
    p = torch.softmax(x, dim=-1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def projection_matrix(C: int, *, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """T = I_C − (1/C)·1 1ᵀ of Lemma 5: orthogonal projection onto X_T = {x : 1ᵀx = 0}."""
    dtype = dtype or torch.get_default_dtype()
    return torch.eye(C, dtype=dtype, device=device) - torch.full((C, C), 1.0 / C, dtype=dtype, device=device)


def project(x: torch.Tensor) -> torch.Tensor:
    """T·x: subtract the mean component (Lemma 5). ℓ̃_f(Tx) = ℓ̃_f(x)."""
    return x - x.mean(dim=-1, keepdim=True)


def minimiser_point(y: torch.Tensor, C: int, p_d: float, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """x̃⋆_y = X⋆_y ∩ X_T (after Lemma 5), **corrected** formula.

    [x̃⋆_y]_y = −((C−1)/C)·δ and [x̃⋆_y]_c = δ/C for c ≠ y: component sum 0, loss 0.
    """
    d = delta(C, p_d)
    dtype = dtype or torch.get_default_dtype()
    x = torch.full((*y.shape, C), d / C, dtype=dtype, device=y.device)
    return x.scatter(-1, y.unsqueeze(-1), -(C - 1) / C * d)


def _printed_y_component(C: int, p_d: float) -> float:
    """The y-component −(C/(C−1))·δ as printed in the paper (a typo; see module docstring)."""
    return -C / (C - 1) * delta(C, p_d)


def minimiser_point_as_printed(
    y: torch.Tensor, C: int, p_d: float, *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """x̃⋆_y exactly as printed in the paper: y-component −(C/(C−1))·δ, others δ/C.

    Kept only to show that it is wrong: its components do not sum to 0 and its loss is not 0.
    """
    x = minimiser_point(y, C, p_d, dtype=dtype)
    return x.scatter(-1, y.unsqueeze(-1), _printed_y_component(C, p_d))


def distance_to_minimiser_set(x: torch.Tensor, y: torch.Tensor, *, p_d: float, C: int | None = None) -> torch.Tensor:
    """dist(x[:C], X⋆_y) = ‖T·x[:C] − x̃⋆_y‖₂ (Lemma 6 with the corrected x̃⋆_y, book/methods.md#p1-soft-ce).

    **Returns:** per-sample distance of shape ``x.shape[:-1]``.
    """
    C = x.shape[-1] if C is None else C
    return torch.linalg.vector_norm(project(x[..., :C]) - minimiser_point(y, C, p_d, dtype=x.dtype), dim=-1)


def asymptotic_slope(d: torch.Tensor, y: torch.Tensor, *, p_d: float) -> torch.Tensor:
    """lim_{s→∞} d/ds ℓ̃_f(x + s·d, y) = max_j d_j − q̃(y)ᵀd (the linear tail of the Huber-like shape)."""
    C = d.shape[-1]
    q = smoothed_target(y, C, p_d, dtype=d.dtype)
    return d.max(dim=-1).values - (q * d).sum(-1)


def _orthonormal_basis_of_ones_complement(C: int, *, dtype, device) -> torch.Tensor:
    """Columns: an orthonormal basis of 1⊥ ⊂ R^C, shape (C, C−1)."""
    Q, _ = torch.linalg.qr(projection_matrix(C, dtype=dtype, device=device))
    return Q[:, : C - 1]


def huber_bound_constants(
    C: int,
    p_d: float,
    *,
    n_samples: int = 20000,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[float, float]:
    """Constants (λ_Ω,min, m) of Lemma 8, by sampling (label y = 0; the loss is symmetric in labels).

    λ_Ω,min = min over Ω = {x̃ ∈ X_T : ‖x̃ − x̃⋆‖ ≤ 1} of the smallest eigenvalue of the
    Hessian restricted to 1⊥; m = min over unit d ⊥ 1 of the slope (p(x̃⋆ + d) − q̃)ᵀd at s = 1.
    Directions are drawn uniformly on the unit sphere of 1⊥ and radii on [0, 1] (half the
    points on the sphere itself, where the minima sit). For C = 2 the sphere is {±d} and the
    values are exact; for C > 2 they are sampled minima, i.e. upper estimates.

    **Returns:** ``(lambda_min, m)`` as floats.
    """
    device = generator.device if generator is not None else None
    B = _orthonormal_basis_of_ones_complement(C, dtype=dtype, device=device)
    g = torch.randn(n_samples, C - 1, generator=generator, dtype=dtype, device=device)
    d = g / torch.linalg.vector_norm(g, dim=-1, keepdim=True) @ B.T  # unit, ⊥ 1
    y = torch.zeros(n_samples, dtype=torch.long, device=device)
    x_star = minimiser_point(y, C, p_d, dtype=dtype)
    r = torch.rand(n_samples, 1, generator=generator, dtype=dtype, device=device) ** (1.0 / (C - 1))
    r[: n_samples // 2] = 1.0
    H = B.T @ hessian(x_star + r * d) @ B  # Hessian on 1⊥, shape (n, C−1, C−1)
    lam = torch.linalg.eigvalsh(H)[:, 0].min()
    slope = ((torch.softmax(x_star + d, -1) - smoothed_target(y, C, p_d, dtype=dtype)) * d).sum(-1)
    return float(lam), float(slope.min())


def huber_lower_bound(s: torch.Tensor, lambda_min: float, m: float, *, as_printed: bool = False) -> torch.Tensor:
    """The class-K lower bound α(s) of Lemma 8: ℓ̃_f(x, y) ≥ α(dist(x, X⋆_y)).

    α(s) = (λ/2)·s² for s ≤ 1 and, **corrected**, λ/2 + m·(s − 1) for s > 1 (the tangent
    at s = 1 plus convexity). ``as_printed=True`` gives the paper's m·s + λ/2, which is not
    a lower bound (it lies m above the corrected one).
    """
    s = s.abs()
    tail = m * s + lambda_min / 2 if as_printed else lambda_min / 2 + m * (s - 1)
    return torch.where(s <= 1, 0.5 * lambda_min * s**2, tail)
