"""Dynamical loss functions (Paper 2, Lavin Pallero & Ruiz-Garcia, arXiv:2410.10690).

The class weights Γ_i(t) of amplitude A and period T (the paper's TL;DR and abstract; the exact
wave is the authors' earlier code, book/methods.md#p2-losses): in period k = ⌊t/T⌋ class
c_k = k mod C is "up"; its raw weight is a triangle wave w(τ), τ = t − kT, rising linearly from
1 at τ = 0 to A at τ = T/2 and back to 1 at τ = T; the other classes have raw weight 1. The
weights are normalised so that Σ_i Γ_i = C:

    Γ_up = C·w/(w + C − 1),   Γ_other = C/(w + C − 1).

A = 1 gives Γ ≡ 1, i.e. the static loss. The losses (the paper's F_CE, F_DCE, F_MSE,
F_DMSE1, F_DMSE2; the formulas and what is not verified against the paper body:
book/methods.md#p2-losses):

* CE   F = −(1/N) Σ_μ log p_{y_μ}(x_μ)
* DCE  F = −(1/N) Σ_μ Γ_{y_μ}(t) log p_{y_μ}(x_μ)
* MSE  F = (1/N) Σ_μ Σ_i (f_i(x_μ) − δ_{i,y_μ})²   (no ½; raw outputs, no softmax)
* DMSE with a ``weighting`` switch (the paper's DMSE1/DMSE2 formulas were not reachable):
  ``sample_class`` (DMSE1)  F = (1/N) Σ_μ Γ_{y_μ} Σ_i (f_i − δ_{i,y_μ})²;
  ``output_component`` (DMSE2)  F = (1/N) Σ_μ Σ_i Γ_i (f_i − δ_{i,y_μ})²;
  ``correct_output_only``  F = (1/N) Σ_μ [Γ_{y_μ}(f_{y_μ} − 1)² + Σ_{i≠y_μ} f_i²].

Every loss is linear in Γ: F(θ, t) = Σ_c Γ_c(t) K_c(θ) + R(θ). :func:`components` returns
(K, R), which lets the trainer evaluate the *same-landscape* change
ΔF_t = F(θ_{t+1}, t) − F(θ_t, t) without a second forward pass (book/methods.md#p2-onset).

Two layouts: the reference functions take logits ``(N, C)`` and labels ``(N,)`` (tests, plots);
the batched ones used by the ensemble trainer take feature-major logits ``O`` of shape
``(S, C, N)`` (S models, samples last), a one-hot ``Y`` ``(C, N)`` and per-model weights
``G = Γ(t)`` of shape ``(S, C)``.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "FAMILIES",
    "LOSSES",
    "WEIGHTINGS",
    "components",
    "cross_entropy",
    "dlogits",
    "dynamical_cross_entropy",
    "dlogit_weights",
    "dynamical_mse",
    "fused_parts_",
    "gamma",
    "weights",
    "loss_family",
    "mse",
    "raw_weight",
    "rop_dlogits",
]

FAMILIES = ("ce", "mse")
WEIGHTINGS = ("sample_class", "output_component", "correct_output_only")
#: The paper's loss names → (family, weighting, dynamical?). CE/MSE are A = 1 of DCE/DMSE.
LOSSES = {
    "CE": ("ce", "sample_class", False),
    "DCE": ("ce", "sample_class", True),
    "MSE": ("mse", "sample_class", False),
    "DMSE1": ("mse", "sample_class", True),
    "DMSE2": ("mse", "output_component", True),
}


def loss_family(name: str) -> tuple[str, str, bool]:
    """``(family, weighting, dynamical)`` of a loss name in :data:`LOSSES`."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")
    return LOSSES[name]


# -- Γ_i(t) -----------------------------------------------------------------------------------
def raw_weight(tau: torch.Tensor, A: torch.Tensor | float, T: torch.Tensor | float) -> torch.Tensor:
    """Triangle wave w(τ) (book/methods.md#p2-losses): 1 + 2(A−1)τ/T for τ < T/2, else 2A − 1 − 2(A−1)τ/T."""
    tau = torch.as_tensor(tau, dtype=torch.float64)
    A = torch.as_tensor(A, dtype=torch.float64)
    T = torch.as_tensor(T, dtype=torch.float64)
    rising = 1.0 + 2.0 * (A - 1.0) * tau / T
    falling = 2.0 * A - 1.0 - 2.0 * (A - 1.0) * tau / T
    return torch.where(tau < T / 2.0, rising, falling)


def gamma(
    t: torch.Tensor | int,
    A: torch.Tensor | float,
    T: torch.Tensor | int,
    C: int = 3,
    *,
    static_from: torch.Tensor | int | float = math.inf,
) -> torch.Tensor:
    """Γ(t) of shape ``broadcast(t, A, T).shape + (C,)`` in float64.

    Exactly T steps per period, class 0 up first, phase τ = 0 at t = 0 (book/methods.md#p2-losses).
    From step ``static_from`` on (the "A = 1 for the last oscillation" of the Fig. 4 caption) Γ ≡ 1.
    """
    t = torch.as_tensor(t, dtype=torch.int64)
    T_i = torch.as_tensor(T, dtype=torch.int64)
    A = torch.as_tensor(A, dtype=torch.float64)
    k = torch.div(t, T_i, rounding_mode="floor")
    tau = (t - k * T_i).to(torch.float64)
    up = torch.remainder(k, C)
    w = raw_weight(tau, A, T_i.to(torch.float64))
    static = t.to(torch.float64) >= torch.as_tensor(static_from, dtype=torch.float64)
    w = torch.where(static, torch.ones_like(w), w)
    other = C / (w + C - 1.0)
    shape = torch.broadcast_shapes(t.shape, A.shape, T_i.shape)
    cls = torch.arange(C)
    is_up = cls == up.expand(shape).unsqueeze(-1)
    return torch.where(is_up, (w * other).expand(shape).unsqueeze(-1), other.expand(shape).unsqueeze(-1))


# -- reference losses, logits (N, C) ----------------------------------------------------------
def dynamical_cross_entropy(logits: torch.Tensor, y: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """F_DCE = −(1/N) Σ_μ Γ_{y_μ} log softmax(f(x_μ))_{y_μ}; ``G`` is Γ of shape (C,)."""
    logp = torch.log_softmax(logits, dim=-1).gather(-1, y[:, None])[:, 0]
    return -(G[y] * logp).mean()


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """F_CE = −(1/N) Σ_μ log p_{y_μ} (the paper's cross-entropy, book/methods.md#p2-losses)."""
    return dynamical_cross_entropy(logits, y, torch.ones(logits.shape[-1], dtype=logits.dtype, device=logits.device))


def dynamical_mse(out: torch.Tensor, y: torch.Tensor, G: torch.Tensor, weighting: str = "sample_class") -> torch.Tensor:
    """F_DMSE (book/methods.md#p2-losses) on raw outputs ``(N, C)``; ``weighting`` as in :data:`WEIGHTINGS`."""
    onehot = torch.nn.functional.one_hot(y, out.shape[-1]).to(out.dtype)
    err2 = (out - onehot) ** 2
    if weighting == "sample_class":
        W = G[y][:, None].expand_as(err2)
    elif weighting == "output_component":
        W = G[None, :].expand_as(err2)
    elif weighting == "correct_output_only":
        W = onehot * G[y][:, None] + (1 - onehot)
    else:
        raise ValueError(f"unknown weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")
    return (W * err2).sum(-1).mean()


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """F_MSE = (1/N) Σ_μ Σ_i (f_i − δ_{i,y_μ})² (no ½, book/methods.md#p2-losses)."""
    return dynamical_mse(out, y, torch.ones(out.shape[-1], dtype=out.dtype, device=out.device))


# -- batched, feature-major: O (S, C, N), Y (C, N), G (S, C) ----------------------------------
def weights(Y: torch.Tensor, G: torch.Tensor, weighting: str) -> torch.Tensor:
    """W_{s,i,μ}/N with F = Σ W ⊙ loss-entries; shape broadcastable to (S, C, N)."""
    N = Y.shape[-1]
    if weighting == "sample_class":
        return torch.matmul(G.unsqueeze(-2), Y) / N  # (S, 1, N): Γ_{y_μ}
    if weighting == "output_component":
        return G.unsqueeze(-1) / N  # (S, C, 1): Γ_i
    if weighting == "correct_output_only":
        return (Y * torch.matmul(G.unsqueeze(-2), Y) + (1 - Y)) / N
    raise ValueError(f"unknown weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")


def components(O: torch.Tensor, Y: torch.Tensor, family: str, weighting: str = "sample_class"):
    """(K, R) with F(θ, t) = Σ_c Γ_c(t) K_c + R for every model: K (S, C), R (S,)."""
    N = Y.shape[-1]
    if family == "ce":
        if weighting != "sample_class":
            raise ValueError("the dynamical cross-entropy weights per sample class only")
        K = -(torch.log_softmax(O, dim=1) * Y).sum(-1) / N
        return K, torch.zeros(O.shape[0], dtype=O.dtype, device=O.device)
    if family != "mse":
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    E = (O - Y) ** 2
    zero = torch.zeros(O.shape[0], dtype=O.dtype, device=O.device)
    if weighting == "sample_class":
        return (E.sum(1, keepdim=True) * Y).sum(-1) / N, zero
    if weighting == "output_component":
        return E.sum(-1) / N, zero
    if weighting == "correct_output_only":
        return (E * Y).sum(-1) / N, (E * (1 - Y)).sum((1, 2)) / N
    raise ValueError(f"unknown weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")


def dlogits(
    O: torch.Tensor,
    Y: torch.Tensor,
    G: torch.Tensor,
    family: str,
    weighting: str = "sample_class",
    P: torch.Tensor | None = None,
) -> torch.Tensor:
    """∂F/∂O, shape (S, C, N). CE: w ⊙ (softmax(O) − Y) with w_μ = Γ_{y_μ}/N; MSE: 2W ⊙ (O − Y)."""
    W = weights(Y, G, weighting)
    if family == "ce":
        if P is None:
            P = torch.softmax(O, dim=1)
        return (P - Y) * W
    return 2.0 * W * (O - Y)


def rop_dlogits(
    O: torch.Tensor,
    Y: torch.Tensor,
    G: torch.Tensor,
    RO: torch.Tensor,
    family: str,
    weighting: str = "sample_class",
    P: torch.Tensor | None = None,
) -> torch.Tensor:
    """R{∂F/∂O} = (∂²F/∂O²)·RO: CE w ⊙ P ⊙ (RO − Σ_c P⊙RO); MSE 2W ⊙ RO."""
    W = weights(Y, G, weighting)
    if family == "ce":
        if P is None:
            P = torch.softmax(O, dim=1)
        return W * P * (RO - (P * RO).sum(1, keepdim=True))
    return 2.0 * W * RO


# -- the trainer's fused form: one forward pass gives K(θ_t) and ∂F/∂O ---------------------------
def dlogit_weights(Y: torch.Tensor, G: torch.Tensor, family: str, weighting: str = "sample_class") -> torch.Tensor:
    """The factor of ∂F/∂O for a block of Γ's ``G`` (..., S, C): CE W (∂F/∂O = W ⊙ (softmax(O) − Y)),
    MSE 2W (∂F/∂O = 2W ⊙ (O − Y)), with W = :func:`weights`."""
    W = weights(Y, G, weighting)
    if family != "ce":
        W = 2.0 * W  # ∂/∂O of W ⊙ (O − Y)²
    return W


def fused_parts_(
    O: torch.Tensor,
    Y: torch.Tensor,
    W: torch.Tensor,
    family: str,
    weighting: str,
    K_out: torch.Tensor,
    R_out: torch.Tensor,
) -> torch.Tensor:
    """∂F/∂O (S, C, N) and, written into ``K_out`` (S, C) / ``R_out`` (S,), the loss parts *unscaled*.

    ``W`` is :func:`dlogit_weights` at Γ(t). The parts are K_c = Σ_μ Y_cμ log p_cμ (CE; the trainer
    multiplies by −1/N in float64) or the sums of squared errors of :func:`components` (MSE; times
    1/N later); ``R_out`` is written only for ``correct_output_only``. ``O`` is overwritten (the
    trainer's one temporary per step).
    """
    if family == "ce":
        logp = torch.log_softmax(O, 1)
        torch.sum(logp * Y, -1, out=K_out)
        return logp.exp_().sub_(Y).mul_(W)
    D = O.sub_(Y)
    E = D * D
    if weighting == "sample_class":
        K_out[...] = (E.sum(1, keepdim=True) * Y).sum(-1)
    elif weighting == "output_component":
        K_out[...] = E.sum(-1)
    else:
        K_out[...] = (E * Y).sum(-1)
        R_out[...] = (E * (1 - Y)).sum((1, 2))
    return D.mul_(W)
