"""Full-batch gradient descent of the question's network with each loss, recording both gradients.

One call trains a batch of nets of one width: every seed's initialisation is trained once with
each loss of :data:`LOSSES` (paired: the same initial weights for every loss), all as one
batched computation (:mod:`lossdyn.gradnorms.relu_mlp`). At every step it records, for every net, the
three losses and the full-batch gradient norms ‖∇_W L‖ of *all three* losses (three logit
cotangents through one hand-written backward pass), whichever loss the net is trained with.
At ``n_checkpoints`` log-spaced steps it also forms the n·k × n·k tangent kernel and records
its smallest eigenvalue (on (1⊥)ⁿ and on R^{nk}), the per-sample parameter-gradient norms and
the page's per-sample bounds (:func:`lossdyn.gradnorms.theory.parameter_gradient_bounds`).

Losses are means over the n samples (the question's sums times 1/n: only the step size changes);
this and the other choices the question leaves open (data, step size, widths) are explained in
book/methods.md#q-gradient-norms.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lossdyn.gradnorms import relu_mlp
from lossdyn.gradnorms import theory as gn
from lossdyn.pipeline.device import intra_op_threads
from lossdyn.pipeline.progress import progress

__all__ = ["LOSSES", "checkpoint_steps", "random_label_data", "train"]

#: The losses, in the order of every loss axis: L₁ (question), L₂ (question), Paper 2's MSE.
LOSSES = ("mse_softmax", "cross_entropy", "mse_logits")
_LOSS_FNS = (gn.mse_softmax, gn.cross_entropy, gn.mse_logits)


def random_label_data(
    n: int, d: int, k: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """n inputs uniform on the sphere of radius √d in R^d and labels uniform in {0, …, k − 1}.

    Random labels make this pure memorisation, the setting of the over-parameterised
    convergence theorems (they need only that no two inputs are parallel; book/methods.md#q-gradient-norms).
    """
    x = torch.randn(n, d, generator=generator, dtype=dtype, device=generator.device)
    x = math.sqrt(d) * x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    y = torch.randint(0, k, (n,), generator=generator, device=generator.device)
    return x, y


def checkpoint_steps(steps: int, n_checkpoints: int) -> list[int]:
    """Distinct steps in [0, steps], roughly log-spaced, always including 0 and ``steps``."""
    raw = torch.logspace(0, math.log10(steps + 1), n_checkpoints, dtype=torch.float64) - 1
    return sorted({0, steps, *(int(round(float(s))) for s in raw)})


def _logit_cotangents(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂L/∂z for the three mean losses: ``(B, 3, n, k)`` in the order of :data:`LOSSES`."""
    n = z.shape[-2]
    g1, g2 = gn.logit_gradients(z, y.expand(z.shape[:-1]))
    g3 = z - gn.one_hot(y, z.shape[-1], dtype=z.dtype)
    return torch.stack([g1, g2, g3], dim=1) / n


def _checkpoint(weights, hs, z, y, G) -> dict[str, torch.Tensor]:
    """Tangent-kernel quantities at one step; every entry has leading dim B."""
    B, n, k = z.shape
    K = relu_mlp.tangent_kernel(weights, hs)  # (B, n, k, n, k)
    Kflat = K.reshape(B, n * k, n * k)
    Q = gn.ones_complement_basis(k, dtype=z.dtype, device=z.device)
    Qn = torch.block_diag(*([Q] * n))  # (n k, n (k − 1)): orthonormal basis of (1⊥)ⁿ
    lam_perp = torch.linalg.eigvalsh(Qn.T @ Kflat @ Qn)
    lam_full = torch.linalg.eigvalsh(Kflat)
    diag = torch.diagonal(K, dim1=1, dim2=3).permute(0, 3, 1, 2)  # (B, n, k, k): per-sample blocks
    per = gn.parameter_gradient_bounds(diag, z, y.expand(B, n))
    # Full-batch gradient norms from the kernel (a check of the backward pass): √(gᵀKg).
    Gflat = G.reshape(B, len(LOSSES), n * k)
    quad = torch.einsum("bri,bij,brj->br", Gflat, Kflat, Gflat).clamp_min(0.0).sqrt()
    return {
        "lambda_perp_min": lam_perp[:, 0],
        "lambda_perp_max": lam_perp[:, -1],
        "lambda_full_min": lam_full[:, 0],
        "lambda_full_max": lam_full[:, -1],
        "grad_norm_from_kernel": quad,
        **{f"sample_{key}": val for key, val in per.items()},
    }


def train(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    m: int,
    L: int,
    k: int,
    n_seeds: int,
    eta: float,
    steps: int,
    n_checkpoints: int,
    generator: torch.Generator,
    desc: str = "",
) -> dict[str, Any]:
    """Train n_seeds × len(LOSSES) nets of width m by full-batch GD for ``steps`` steps.

    Net b = s·len(LOSSES) + j is seed s trained with loss ``LOSSES[j]``. The step size is
    ``eta`` in units of the initial curvature: lr_b = eta·n/λ_max(K_0) with K_0 the n·k × n·k
    tangent kernel at initialisation (for MSE on logits the Hessian is ≈ K/n, so GD is stable
    for eta < 2; the softmax losses are flatter, ‖J‖ ≤ ½). The same for every loss of a seed.

    **Returns:** CPU tensors (float64): ``loss`` ``(S, J, steps + 1, 3)`` (all three losses of every
    net at every step; S seeds, J trained-with losses), ``grad_norm`` ``(S, J, steps + 1, 3)``
    (‖∇_W‖ of all three losses), ``p_c_min`` ``(S, J, steps + 1)``, ``accuracy`` ``(S, J, steps + 1)``,
    ``checkpoints`` (list of steps) and per checkpoint the tangent-kernel quantities of
    :func:`_checkpoint` stacked to ``(S, J, n_checkpoints, …)``, plus ``n_params`` and ``lr`` ``(S, J)``.
    """
    with intra_op_threads(1 if X.device.type == "cpu" else 0):
        return _train(
            X,
            y,
            m=m,
            L=L,
            k=k,
            n_seeds=n_seeds,
            eta=eta,
            steps=steps,
            n_checkpoints=n_checkpoints,
            generator=generator,
            desc=desc,
        )


def _train(X, y, *, m, L, k, n_seeds, eta, steps, n_checkpoints, generator, desc) -> dict[str, Any]:
    """The loop of :func:`train`: forward, the three cotangents, one backward pass, the records, a GD step."""
    n, d = X.shape
    J = len(LOSSES)
    init = relu_mlp.init_weights(n_seeds, d, m, L, k, generator=generator, dtype=X.dtype)
    weights = [w.repeat_interleave(J, dim=0) for w in init]  # paired: one init per seed, every loss
    B = n_seeds * J
    trained = torch.arange(J, device=X.device).repeat(n_seeds)  # loss index of each net
    pick = torch.nn.functional.one_hot(trained, J).to(X.dtype)[:, :, None, None]  # (B, J, 1, 1)
    ckpts = checkpoint_steps(steps, n_checkpoints)
    losses, norms, pcmin, acc, records = [], [], [], [], []
    for step in progress(range(steps + 1), desc=desc, total=steps + 1):
        z, hs = relu_mlp.forward(weights, X)
        G = _logit_cotangents(z, y)
        deltas = relu_mlp.backprop(weights, hs, G)
        losses.append(torch.stack([f(z, y.expand(B, n)).mean(-1) for f in _LOSS_FNS], -1))
        norms.append(relu_mlp.grad_norms(hs, deltas))
        pcmin.append(torch.softmax(z, -1).gather(-1, y.expand(B, n).unsqueeze(-1)).squeeze(-1).min(-1).values)
        acc.append((z.argmax(-1) == y).to(X.dtype).mean(-1))
        if step in ckpts:
            records.append(_checkpoint(weights, hs, z, y, G))
        if step == 0:
            lam0 = records[0]["lambda_full_max"]
            lr = torch.where(lam0 > 0, eta * n / lam0.clamp_min(1e-300), torch.zeros_like(lam0))[:, None, None]
        if step < steps:
            own = [(pick * delta).sum(1, keepdim=True) for delta in deltas]  # δ of each net's own loss
            for W, gr in zip(weights, relu_mlp.weight_grads(hs, own)):
                W -= lr * gr[:, 0]
    out = {
        "loss": _per_seed(torch.stack(losses, 1), n_seeds),
        "grad_norm": _per_seed(torch.stack(norms, 1), n_seeds),
        "p_c_min": _per_seed(torch.stack(pcmin, 1), n_seeds),
        "accuracy": _per_seed(torch.stack(acc, 1), n_seeds),
        "checkpoints": ckpts,
        "n_params": relu_mlp.n_params(d, m, L, k),
        "lr": _per_seed(lr[:, 0, 0], n_seeds),
    }
    for key in records[0]:
        out[f"ckpt_{key}"] = _per_seed(torch.stack([r[key] for r in records], 1), n_seeds)
    return out


def _per_seed(t: torch.Tensor, n_seeds: int) -> torch.Tensor:
    """A float64 CPU copy of a per-net record ``(B, …)``, B = n_seeds·len(LOSSES), as ``(S, J, …)``."""
    return t.detach().to("cpu", torch.float64).reshape(n_seeds, len(LOSSES), *t.shape[1:])
