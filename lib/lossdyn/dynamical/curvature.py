"""λ_max of the loss Hessian by batched Lanczos on Hessian-vector products (Paper 2: "largest eigenvalue of
the Hessian", Fig. 1 caption; compared with 2/η in Fig. 5; book/methods.md#p2-curvature).

:func:`lanczos` runs m steps of the Lanczos recurrence with full reorthogonalisation for S
independent symmetric operators at once (one per ensemble member): vectors are (S, P), every
reduction is per model, so the answer for a model does not depend on which other models share
the batch. The Ritz values of the m×m tridiagonal matrix approximate the extreme eigenvalues;
the top one (algebraically largest, which is what edge-of-stability compares with 2/η) converges
first. Warm-starting from the previous Ritz vector (book/methods.md#p2-curvature) makes m = 5–10
enough while tracking λ_max along a trajectory. The residual ‖Hv − λv‖ = |β_m s_m| of each Ritz
pair is returned as the convergence check.

:func:`lambda_max` wraps it for a :class:`~lossdyn.dynamical.batched_mlp.BatchedMLP` at Γ(t) (the Hessian of
the loss being minimised, Γ frozen at t); :func:`hessian_eigh` is the exact oracle for tests.
"""

from __future__ import annotations

import dataclasses

import torch

__all__ = ["LanczosResult", "hessian_eigh", "lambda_max", "lanczos"]


@dataclasses.dataclass
class LanczosResult:
    """Top-k Ritz pairs per model: values (S, k) descending, vectors (S, k, P), residuals (S, k)."""

    values: torch.Tensor
    vectors: torch.Tensor
    residuals: torch.Tensor
    n_hvp: int


def _fallback(P: int, j: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A fixed pseudo-random vector (the same for every model) used after a Lanczos breakdown."""
    g = torch.Generator().manual_seed(1_000_003 + j)
    return torch.randn(P, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def _project(w: torch.Tensor, Qj: torch.Tensor) -> torch.Tensor:
    """Q_jᵀ(Q_j w) per model, by elementwise products and sums: unlike ``bmm``, whose CPU kernel
    choice depends on the batch size, this gives each model bit-identical results in any batch."""
    coef = (Qj * w.unsqueeze(1)).sum(-1, keepdim=True)  # (S, j, 1)
    return (coef * Qj).sum(1)


def _tridiagonal(alpha: torch.Tensor, beta: torch.Tensor, j: int) -> torch.Tensor:
    """T_j (S, j, j) from the first j Lanczos coefficients."""
    a, b = alpha[:, :j], beta[:, : j - 1]
    return torch.diag_embed(a) + torch.diag_embed(b, 1) + torch.diag_embed(b, -1)


def _ritz(alpha, beta, Q, j: int, k: int) -> LanczosResult:
    """The top-k Ritz pairs of the first j Lanczos steps (``Q`` (S, ≥j, P)); residual |β_j s_j| per pair."""
    evals, evecs = torch.linalg.eigh(_tridiagonal(alpha, beta, j))  # ascending
    top = evecs[:, :, -k:].flip(-1)  # (S, j, k)
    values = evals[:, -k:].flip(-1)
    vectors = (top.unsqueeze(-1) * Q[:, :j].unsqueeze(2)).sum(1)  # (S, k, P)
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)
    residuals = (beta[:, j - 1 : j] * top[:, -1, :]).abs()
    return LanczosResult(values, vectors, residuals, j)


def _converged(alpha, beta, j: int, tol: float) -> torch.Tensor:
    """(S,) bool: the top Ritz pair of the first j steps has residual ≤ tol·|λ| (the eigenvalue error is then
    at most about (tol·λ)²/gap)."""
    evals, evecs = torch.linalg.eigh(_tridiagonal(alpha, beta, j))
    return (beta[:, j - 1] * evecs[:, -1, -1]).abs() <= tol * evals[:, -1].abs()


def lanczos(hvp, v0: torch.Tensor, m: int, *, k: int = 1, tol: float = 0.0) -> LanczosResult:
    """m-step Lanczos with full reorthogonalisation for a batch of operators.

    ``hvp`` maps (S, P) → (S, P); ``v0`` (S, P) are the start vectors (any scale, non-zero).
    Returns the top ``k`` Ritz pairs. m is capped at P (then the result is exact). With ``tol`` > 0
    each model stops at the first step j ≥ 3 whose top residual is ≤ ``tol``·|λ| (its result is that of
    its own j steps: the same bits in any batch); the batch runs until every model has stopped or m
    steps. ``n_hvp`` is then the mean number of steps per model.
    """
    S, P = v0.shape
    m = min(m, P)
    k = min(k, m)
    dtype, device = v0.dtype, v0.device
    Q = torch.zeros(S, m, P, dtype=dtype, device=device)
    alpha = torch.zeros(S, m, dtype=dtype, device=device)
    beta = torch.zeros(S, m, dtype=dtype, device=device)
    stop = torch.full((S,), m, dtype=torch.int64)  # each model's number of steps
    q = v0 / torch.linalg.vector_norm(v0, dim=-1, keepdim=True)
    tiny = torch.finfo(dtype).eps
    for j in range(m):
        Q[:, j] = q
        w = hvp(q)
        a = (w * q).sum(-1)
        alpha[:, j] = a
        Qj = Q[:, : j + 1]
        for _ in range(2):  # full reorthogonalisation, twice ("twice is enough")
            w = w - _project(w, Qj)
        b = torch.linalg.vector_norm(w, dim=-1)
        beta[:, j] = b
        if tol > 0 and j + 1 >= max(3, k + 1) and j + 1 < m:
            open_ = stop == m
            stop[open_ & _converged(alpha, beta, j + 1, tol).cpu()] = j + 1
            if bool((stop < m).all()):
                break
        if j + 1 < m:
            scale = alpha[:, : j + 1].abs().amax(-1).clamp_min(tiny)
            broke = b <= 1e3 * tiny * scale  # invariant subspace found: restart with a fresh direction
            if bool(broke.any()):
                f = _fallback(P, j, dtype, device).expand(S, P)
                for _ in range(2):
                    f = f - _project(f, Qj)
                w = torch.where(broke[:, None], f, w)
                beta[:, j] = torch.where(broke, torch.zeros_like(b), b)
                b = torch.linalg.vector_norm(w, dim=-1)
            q = w / b[:, None]
    return _per_model_ritz(alpha, beta, Q, stop, k)


def _per_model_ritz(alpha, beta, Q, stop: torch.Tensor, k: int) -> LanczosResult:
    """Each model's top-k Ritz pairs from its own number of steps ``stop`` (S,), grouped by that number."""
    S, P = Q.shape[0], Q.shape[2]
    values = torch.empty(S, k, dtype=Q.dtype, device=Q.device)
    vectors = torch.empty(S, k, P, dtype=Q.dtype, device=Q.device)
    residuals = torch.empty(S, k, dtype=Q.dtype, device=Q.device)
    for j in sorted(set(stop.tolist())):
        sel = (stop == j).to(Q.device)
        r = _ritz(alpha[sel], beta[sel], Q[sel], j, min(k, j))
        values[sel], vectors[sel], residuals[sel] = r.values, r.vectors, r.residuals
    return LanczosResult(values, vectors, residuals, int(round(float(stop.double().mean()))))


def lambda_max(
    model, theta: torch.Tensor, G: torch.Tensor, v0: torch.Tensor, m: int, *, k: int = 1, tol: float = 0.0
) -> LanczosResult:
    """Top-k Hessian eigenpairs of F(·, Γ = ``G``) at ``θ`` (S, P) for a :class:`BatchedMLP` ``model``
    (``tol``: :func:`lanczos`'s per-model residual stop)."""
    return lanczos(model.hvp_fn(theta, G), v0, m, k=k, tol=tol)


def hessian_eigh(model, theta_one: torch.Tensor, G_one: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact eigen-decomposition of one model's Hessian (``torch.func.hessian`` + ``eigh``); the test oracle."""
    H, d, C = model.H, model.d, model.C
    net = model.module(theta_one)
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]

    def f(v: torch.Tensor) -> torch.Tensor:
        parts, i = [], 0
        for s in shapes:
            n = s.numel()
            parts.append(v[i : i + n].view(s))
            i += n
        out = torch.func.functional_call(net, dict(zip(names, parts)), (model.X,))
        return model.reference_loss(out, G_one)

    hess = torch.func.hessian(f)(theta_one.detach())
    assert hess.shape[0] == d * H + H + C * H + C
    return torch.linalg.eigh(hess)
