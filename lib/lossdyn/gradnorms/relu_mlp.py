"""The question's network, batched: B independent deep ReLU MLPs with hand-written backprop.

F(W, x) = logits of a fully connected net with L hidden ReLU layers of width m (softmax is
applied by the loss). NTK parameterisation (Jacot et al. 2018): weights W_l ~ N(0, 1) and
pre-activations a_l = s_l·W_l h_{l−1} with s_l = √(2/fan_in) for hidden layers (He scaling)
and s_{L+1} = √(1/m) for the output layer; no biases (as in Du et al. 2019). At t = 0 this is
the same function as He initialisation; the scale factors make the tangent kernel O(1) in m
(why this parameterisation: book/methods.md#q-gradient-norms).

Weights are a list of L + 1 tensors of shape ``(B, fan_out, fan_in)``; inputs ``X`` ``(n, d)``
are shared by the B nets. Besides the forward pass the module gives

* :func:`vjp`: Gᵀg for R logit cotangents at once (``(B, R, n, k)`` → per-layer ``(B, R, out, in)``),
  and :func:`grad_norms`: ‖Gᵀg‖ for all R from the backpropagated errors, by Gram matrices;
* :func:`tangent_kernel`: K = G Gᵀ of shape ``(B, n, k, n, k)`` with G = ∂z/∂W, from
  K = Σ_l s_l²·(B_lᵢᵀ B_lⱼ)·⟨h_{l−1,i}, h_{l−1,j}⟩ where B_lᵢ = ∂z_i/∂a_l (backprop matrices).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "backprop",
    "forward",
    "grad_norms",
    "init_weights",
    "layer_scales",
    "n_params",
    "tangent_kernel",
    "vjp",
    "weight_grads",
]


def layer_scales(d: int, m: int, L: int) -> list[float]:
    """[s_1, …, s_{L+1}]: √(2/d), √(2/m) (L − 1 times), √(1/m)."""
    return [math.sqrt(2.0 / d)] + [math.sqrt(2.0 / m)] * (L - 1) + [math.sqrt(1.0 / m)]


def n_params(d: int, m: int, L: int, k: int) -> int:
    """Number of weights P = d·m + (L − 1)·m² + m·k."""
    return d * m + (L - 1) * m * m + m * k


def init_weights(
    B: int, d: int, m: int, L: int, k: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> list[torch.Tensor]:
    """B independent standard-normal initialisations (NTK parameterisation), on the generator's device."""
    shapes = [(m, d)] + [(m, m)] * (L - 1) + [(k, m)]
    return [torch.randn(B, *s, generator=generator, dtype=dtype, device=generator.device) for s in shapes]


def forward(weights: list[torch.Tensor], X: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits ``(B, n, k)`` and the layer inputs [h_0 = X, h_1, …, h_L] (each ``(B, n, ·)``)."""
    B = weights[0].shape[0]
    d, m, L = X.shape[-1], weights[0].shape[1], len(weights) - 1
    h = X.expand(B, *X.shape)
    hs = [h]
    for s, W in zip(layer_scales(d, m, L)[:-1], weights[:-1]):
        h = torch.relu(s * h @ W.transpose(-1, -2))
        hs.append(h)
    z = layer_scales(d, m, L)[-1] * h @ weights[-1].transpose(-1, -2)
    return z, hs


def backprop(weights: list[torch.Tensor], hs: list[torch.Tensor], g: torch.Tensor) -> list[torch.Tensor]:
    """δ_l = ∂⟨g, z⟩/∂a_l for R logit cotangents ``g`` ``(B, R, n, k)``: list of L + 1 tensors
    ``(B, R, n, fan_out_l)``; entry l pairs with the layer input ``hs[l]`` (δ_{L+1} = g)."""
    d, m, L = hs[0].shape[-1], weights[0].shape[1], len(weights) - 1
    scales = layer_scales(d, m, L)
    B, R, n, _ = g.shape
    deltas = [g]
    for l in range(L, 0, -1):  # weights[l] maps h_l to a_{l+1}; R folds into plain batched matmuls
        back = (deltas[0].reshape(B, R * n, -1) @ weights[l]).reshape(B, R, n, -1)
        deltas.insert(0, scales[l] * back * (hs[l] > 0).unsqueeze(1))
    return deltas


def weight_grads(hs: list[torch.Tensor], deltas: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-layer weight gradients s_l·Σ_i δ_{l,i} h_{l−1,i}ᵀ, each ``(B, R, fan_out, fan_in)``."""
    d, m, L = hs[0].shape[-1], deltas[0].shape[-1], len(deltas) - 1
    out = []
    for s, h, delta in zip(layer_scales(d, m, L), hs, deltas):
        B, R, n, o = delta.shape
        out.append(s * (delta.transpose(-1, -2).reshape(B, R * o, n) @ h).reshape(B, R, o, -1))
    return out


def vjp(weights: list[torch.Tensor], hs: list[torch.Tensor], g: torch.Tensor) -> list[torch.Tensor]:
    """Gᵀg: the weight gradients for logit cotangents ``g`` of shape ``(B, R, n, k)``.

    Equals ``torch.autograd.grad(z, weights, g[:, r])`` for each r (tested). Returns per layer
    ``(B, R, fan_out, fan_in)``.
    """
    return weight_grads(hs, backprop(weights, hs, g))


def grad_norms(hs: list[torch.Tensor], deltas: list[torch.Tensor]) -> torch.Tensor:
    """‖Gᵀg‖ over all layers from :func:`backprop`'s deltas without forming the gradients: shape ``(B, R)``.

    ‖s·Σ_i δ_i h_iᵀ‖_F² = s²·Σ_{ij} (δ_i·δ_j)(h_i·h_j) (Gram matrices are n × n, not fan_out × fan_in).
    """
    d, m, L = hs[0].shape[-1], deltas[0].shape[-1], len(deltas) - 1
    total = 0.0
    for s, h, delta in zip(layer_scales(d, m, L), hs, deltas):
        gram_h = (h @ h.transpose(-1, -2)).unsqueeze(1)  # (B, 1, n, n)
        gram_d = delta @ delta.transpose(-1, -2)  # (B, R, n, n)
        total = total + s**2 * (gram_h * gram_d).sum((-1, -2))
    return total.clamp_min(0.0).sqrt()


def tangent_kernel(weights: list[torch.Tensor], hs: list[torch.Tensor]) -> torch.Tensor:
    """K[b, i, a, j, c] = ⟨∂z_{ia}/∂W, ∂z_{jc}/∂W⟩ for net b: shape ``(B, n, k, n, k)``.

    Uses the layer-wise product form (no Jacobian is materialised): for each layer,
    s_l²·(B_lᵢᵀ B_lⱼ)_{ac}·⟨h_{l−1,i}, h_{l−1,j}⟩, with B_{L+1} = I_k and
    B_l = diag(1[a_l > 0])·s_{l+1}W_{l+1}ᵀ B_{l+1}.
    """
    d, m, L = hs[0].shape[-1], weights[0].shape[1], len(weights) - 1
    scales = layer_scales(d, m, L)
    B, n = hs[-1].shape[:2]
    k = weights[-1].shape[1]
    eye = torch.eye(k, dtype=hs[-1].dtype, device=hs[-1].device)
    Bl = eye.expand(B, n, k, k).permute(0, 2, 1, 3)  # ∂z_i/∂a_{L+1} stored as (B, out_l, n, k)
    K = torch.zeros(B, n, k, n, k, dtype=hs[-1].dtype, device=hs[-1].device)
    for l in range(L, -1, -1):
        gram = hs[l] @ hs[l].transpose(-1, -2)  # (B, n, n)
        flat = Bl.reshape(B, Bl.shape[1], n * k)
        back = (flat.transpose(-1, -2) @ flat).reshape(B, n, k, n, k)
        K += scales[l] ** 2 * back * gram[:, :, None, :, None]
        if l > 0:
            Bl = (weights[l].transpose(-1, -2) @ flat).reshape(B, -1, n, k)
            Bl = scales[l] * Bl * (hs[l] > 0).transpose(-1, -2).unsqueeze(-1)
    return K
