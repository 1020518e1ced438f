"""ResNet training as optimal control — Paper 1, Sections 2 and 4.

The network is the discrete-time system of eq. (1)/(26): x_{k+1} = x_k + A_{k,2} σ1(A_{k,1} x_k +
b_{k,1}) + b_{k,2} with σ2 = identity, N distinct blocks, no output layer and no normalisation.
The loss acts on the first C state components (Remark 4). Training minimises the OCP (5) with
the stage cost (17): Σ_{k=0}^{N−1} mean_i ℓ̃_f(x_k^i) + γ·mean_i ℓ̃_f(x_N^i) (+ r‖u‖², which the
experiments apply as Adam weight decay; book/methods.md#p1-objective).
"""

from __future__ import annotations

import torch
from torch import nn

from lossdyn.dissipativity.soft_ce import soft_cross_entropy

__all__ = ["ACTIVATIONS", "ResidualBlock", "ResNetOC", "control_penalty", "ocp_objective", "stage_losses"]

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class ResidualBlock(nn.Module):
    """Block (26): x ↦ x + A2·σ1(A1·x + b1) + b2 (σ2 = identity). All-zero parameters give the identity."""

    def __init__(self, n: int, width: int, activation: str = "tanh") -> None:
        super().__init__()
        self.inner = nn.Linear(n, width)  # A_{k,1}, b_{k,1}
        self.outer = nn.Linear(width, n)  # A_{k,2}, b_{k,2}
        self.sigma1 = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.outer(self.sigma1(self.inner(x)))


class ResNetOC(nn.Module):
    """A depth-N ResNet of blocks (26) that returns every layer's state.

    **Arguments:** ``n`` state dimension (≥ C; Remark 4), ``width`` hidden width of a block,
    ``depth`` N, ``activation`` σ1 (``"tanh"`` or ``"relu"``).
    """

    def __init__(self, n: int, width: int, depth: int, activation: str = "tanh") -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResidualBlock(n, width, activation) for _ in range(depth))

    @property
    def depth(self) -> int:
        return len(self.blocks)

    def forward(self, x0: torch.Tensor, *, upto: int | None = None) -> torch.Tensor:
        """States x_0, …, x_k for k = ``upto`` (default N): shape ``(k + 1, *x0.shape)``.

        ``upto = k`` is cropping: the network's first k blocks, whose output x_k is read as logits.
        """
        states = [x0]
        for block in self.blocks[: self.depth if upto is None else upto]:
            states.append(block(states[-1]))
        return torch.stack(states)


def stage_losses(states: torch.Tensor, y: torch.Tensor, *, p_d: float, C: int) -> torch.Tensor:
    """L_k = mean_i ℓ̃_f(x_k^i[:C], y^i) for every layer k; shape ``(N + 1,)``."""
    return soft_cross_entropy(states, y.expand(states.shape[:-1]), p_d=p_d, C=C).mean(dim=-1)


def control_penalty(model: ResNetOC) -> torch.Tensor:
    """Σ_k ‖u_k‖² over all block parameters (the r‖u‖² term of the stage cost (17), without r)."""
    return sum((p**2).sum() for p in model.parameters())


def ocp_objective(
    states: torch.Tensor,
    y: torch.Tensor,
    *,
    p_d: float,
    C: int,
    gamma: float,
    stage_cost: bool = True,
    penalty: torch.Tensor | float = 0.0,
    r: float = 0.0,
) -> torch.Tensor:
    """The OCP objective (5) with stage cost (17), sample means per layer (book/methods.md#p1-objective).

    With ``stage_cost`` it is Σ_{k=0}^{N−1} L_k + γ·L_N, else γ·L_N only (the baseline
    "without stage cost"); ``r·penalty`` is added (r = 0 when r is applied as weight decay).
    """
    L = stage_losses(states, y, p_d=p_d, C=C)
    total = gamma * L[-1]
    if stage_cost:
        total = total + L[:-1].sum()
    return total + r * penalty
