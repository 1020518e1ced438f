"""MSE-on-softmax against cross-entropy: their gradients, exactly (the question page).

Logits z ∈ R^k, p = softmax(z), label c with one-hot target y = e_c, residual v = p − y.

* L₁ = ½‖p − y‖² (the question's "quadratic loss" on the softmax output), L₂ = −log p_c.
* ∂L₂/∂z = v and ∂L₁/∂z = J(p)·v with J(p) = ∂p/∂z = diag(p) − ppᵀ. J is exactly the Hessian
  of the (soft) cross-entropy, :func:`lossdyn.dissipativity.soft_ce.hessian` (Paper 1, Lemma 7), reused here.
* Spectrum of J (the page's Prop. 1): symmetric PSD, J·1 = 0, ‖J‖₂ ≤ ½ (equality for k = 2 at
  p = (½, ½)), and on 1⊥ its smallest eigenvalue is ≥ min_i p_i (equality when the two smallest
  p_i are equal).
* Along the gradient (Prop. 2): (J v)_c = −p_c‖v‖² exactly, so ‖J v‖ ≥ p_c‖v‖².
* Hence the logit ratio ρ = ‖∂L₁/∂z‖ / ‖∂L₂/∂z‖ lies in [max(min_i p_i, p_c‖v‖), ½], and
  ‖J v‖ ≤ tr J·‖v‖ ≤ 2‖v‖² = 4L₁: the L₁ gradient is pinned between 2p_c·L₁ and 4·L₁.

Through the parameters, ∇_W L = Gᵀ·(∂L/∂z) with G = ∂z/∂W; with σ₋, σ₊ the smallest and largest
singular values of Gᵀ on 1⊥ (square roots of the extreme eigenvalues of the per-sample neural
tangent kernel K = G Gᵀ restricted to 1⊥), Prop. 3:

    σ₋‖v‖ ≤ ‖∇L₂‖ ≤ σ₊‖v‖,        σ₋·max(min p, p_c‖v‖)·‖v‖ ≤ ‖∇L₁‖ ≤ ½σ₊‖v‖.

and over a full batch, Prop. 4 (:func:`lojasiewicz_bounds`). The page
(``notebooks/q_gradient_norms.ipynb``) proves each line; ``tests/test_gradient_norms.py`` checks
each one against autograd and eigvalsh.
"""

from __future__ import annotations

import torch

from lossdyn.dissipativity import soft_ce

__all__ = [
    "cross_entropy",
    "logit_gradients",
    "logit_ratio_lower_bound",
    "lojasiewicz_bounds",
    "mse_logits",
    "mse_softmax",
    "one_hot",
    "ones_complement_basis",
    "parameter_gradient_bounds",
    "residual",
    "restricted_eigvalsh",
    "softmax_jacobian",
    "wrong_class_logits",
]


def one_hot(y: torch.Tensor, k: int, *, dtype: torch.dtype) -> torch.Tensor:
    """The one-hot target e_y, shape ``y.shape + (k,)``."""
    return torch.nn.functional.one_hot(y, k).to(dtype)


def softmax_jacobian(z: torch.Tensor) -> torch.Tensor:
    """J(p) = ∂softmax(z)/∂z = diag(p) − ppᵀ, shape ``z.shape + (k,)``.

    It is the same matrix as the soft cross-entropy Hessian (Paper 1, Lemma 7), so this is
    :func:`lossdyn.dissipativity.soft_ce.hessian` under the name this page uses.
    """
    return soft_ce.hessian(z)


def residual(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """v = softmax(z) − e_y, with v_y = −Σ_{i≠y} p_i instead of p_y − 1.

    Same value, but exact to relative rounding when p_y → 1 (where p_y − 1 cancels); the page's
    saturation regimes need that.
    """
    p = torch.softmax(z, -1)
    others = p.scatter(-1, y.unsqueeze(-1), 0.0).sum(-1, keepdim=True)
    return p.scatter(-1, y.unsqueeze(-1), -others)


def mse_softmax(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L₁ = ½‖softmax(z) − e_y‖² per sample (the question's quadratic loss)."""
    return 0.5 * residual(z, y).square().sum(-1)


def cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L₂ = −log softmax(z)_y per sample (:func:`lossdyn.dissipativity.soft_ce.hard_cross_entropy`)."""
    return soft_ce.hard_cross_entropy(z, y)


def mse_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """½‖z − e_y‖² per sample: the square loss on the raw outputs (Paper 2's MSE, up to the ½)."""
    return 0.5 * (z - one_hot(y, z.shape[-1], dtype=z.dtype)).square().sum(-1)


def logit_gradients(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂L₁/∂z, ∂L₂/∂z) = (J(p)·v, v) with v = p − e_y, each of shape ``z.shape``.

    J(p)·v is evaluated as p_i·Σ_j p_j (v_i − v_j), which is J(p)·v (Σ_j p_j = 1) but avoids the
    cancellation of p_i(1 − p_i) when a probability nears 1; the tests check it against
    ``soft_ce.hessian(z) @ v`` and autograd.
    """
    p = torch.softmax(z, -1)
    v = residual(z, y)
    Jv = p * ((v.unsqueeze(-1) - v.unsqueeze(-2)) * p.unsqueeze(-2)).sum(-1)
    return Jv, v


def logit_ratio_lower_bound(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """μ(p) = max(min_i p_i, p_c‖p − y‖): ‖∂L₁/∂z‖ ≥ μ(p)·‖∂L₂/∂z‖ (the page's Prop. 2)."""
    p = torch.softmax(z, -1)
    v_norm = torch.linalg.vector_norm(residual(z, y), dim=-1)
    p_c = p.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return torch.maximum(p.min(-1).values, p_c * v_norm)


def ones_complement_basis(k: int, *, dtype: torch.dtype, device=None) -> torch.Tensor:
    """Columns: an orthonormal basis of 1⊥ ⊂ R^k, shape ``(k, k − 1)`` (the softmax ignores 1)."""
    return soft_ce._orthonormal_basis_of_ones_complement(k, dtype=dtype, device=device)


def restricted_eigvalsh(K: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (ascending) of a symmetric ``(..., k, k)`` matrix restricted to 1⊥ ⊂ R^k.

    For the per-sample tangent kernel K = G Gᵀ these are σ², the squared singular values of Gᵀ
    on 1⊥ (the directions the softmax sees). Returns shape ``(..., k − 1)``.
    """
    k = K.shape[-1]
    Q = ones_complement_basis(k, dtype=K.dtype, device=K.device)
    return torch.linalg.eigvalsh(Q.T @ K @ Q)


def _quadratic_form(K: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """gᵀKg for a batch: ``K`` ``(..., k, k)``, ``g`` ``(..., k)`` → ``(...)`` (= ‖Gᵀg‖² when K = G Gᵀ)."""
    return (g.unsqueeze(-2) @ K @ g.unsqueeze(-1)).squeeze(-1).squeeze(-1)


def parameter_gradient_bounds(K: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample parameter-gradient norms and the page's bounds, from the tangent kernel blocks.

    **Arguments:** ``K`` per-sample kernels G_i G_iᵀ of shape ``(..., k, k)``; ``z`` logits
    ``(..., k)``; ``y`` labels ``(...)``.

    **Returns:** dict of tensors of shape ``(...)``: ``grad1``, ``grad2`` (= ‖∇_W L₁‖, ‖∇_W L₂‖,
    exact, as √(gᵀKg)), ``lower1`` = σ₋μ(p)‖v‖, ``upper1`` = ½σ₊‖v‖, ``lower2`` = σ₋‖v‖,
    ``upper2`` = σ₊‖v‖, ``sigma_min``, ``sigma_max`` (on 1⊥) and ``p_c``.
    """
    g1, g2 = logit_gradients(z, y)
    ev = restricted_eigvalsh(K).clamp_min(0.0)
    s_min, s_max = ev[..., 0].sqrt(), ev[..., -1].sqrt()
    v_norm = torch.linalg.vector_norm(g2, dim=-1)
    p_c = torch.softmax(z, -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return {
        "grad1": _quadratic_form(K, g1).clamp_min(0.0).sqrt(),
        "grad2": _quadratic_form(K, g2).clamp_min(0.0).sqrt(),
        "lower1": s_min * logit_ratio_lower_bound(z, y) * v_norm,
        "upper1": 0.5 * s_max * v_norm,
        "lower2": s_min * v_norm,
        "upper2": s_max * v_norm,
        "sigma_min": s_min,
        "sigma_max": s_max,
        "p_c": p_c,
    }


def lojasiewicz_bounds(
    loss: str, lam_min: torch.Tensor, lam_max: torch.Tensor, p_c_min: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(c₋, c₊) of the page's Prop. 4 for the full-batch mean loss L over n samples.

    ``lam_min``, ``lam_max``: extreme eigenvalues of the n·k × n·k tangent kernel K = G Gᵀ,
    restricted to (1⊥)ⁿ for the softmax losses and on all of R^{nk} for ``mse_logits``;
    ``p_c_min`` = min_i p_{c,i} (unused for ``mse_logits``).

    * ``mse_softmax``:   2·p_c,min·√(λ₋/n)·L₁ ≤ ‖∇L₁‖ ≤ 4·√λ₊·L₁;
    * ``cross_entropy``: p_c,min·√(λ₋/n)·L₂ ≤ ‖∇L₂‖ ≤ √(2λ₊)·L₂;
    * ``mse_logits``:    (2λ_min/n)·L ≤ ‖∇L‖² ≤ (2λ_max/n)·L  (Polyak–Łojasiewicz, both sides).

    So for the softmax losses ‖∇L‖/L is pinned in [c₋, c₊] (the gradient vanishes with the
    loss, never before it while c₋ > 0) and ‖∇L‖²/L ≤ c₊²·L → 0; for MSE on logits ‖∇L‖²/L stays
    ≥ 2λ_min/n.
    """
    lo, hi = lam_min.clamp_min(0.0), lam_max.clamp_min(0.0)
    if loss == "mse_softmax":
        return 2.0 * p_c_min * (lo / n).sqrt(), 4.0 * hi.sqrt()
    if loss == "cross_entropy":
        return p_c_min * (lo / n).sqrt(), (2.0 * hi).sqrt()
    if loss == "mse_logits":
        return 2.0 * lo / n, 2.0 * hi / n
    raise ValueError(f"unknown loss {loss!r}")


def wrong_class_logits(t: torch.Tensor, k: int, wrong: int) -> torch.Tensor:
    """The saturation path z(t) = t·e_wrong, shape ``t.shape + (k,)``.

    With any label c ≠ ``wrong``: p → e_wrong as t → ∞, ‖∂L₂/∂z‖ → √2, while every entry of
    J(p) is O(e^{−t}), so ‖∂L₁/∂z‖/‖∂L₂/∂z‖ = O(e^{−t}) (exactly 2e^t/(1 + e^t)² for k = 2).
    """
    z = torch.zeros(*t.shape, k, dtype=t.dtype, device=t.device)
    z[..., wrong] = t
    return z
