"""The three-arm spiral of Paper 2 (the authors' generator, 'Swiss roll' in the Fig. 4 caption;
book/methods.md#p2-data-init).

For class j ∈ {0, 1, 2} and n points per class: r = linspace(0, 1, n) (deterministic),
θ = linspace(2πj/3, 2πj/3 + 4π, n) + σ·ε with ε ~ N(0, 1) (noise on the angle only, σ = 0.2),
x = (r cos θ, r sin θ). The training set uses seed 0 and the validation set seed 1 (the caption says
only "a different seed"; book/methods.md#p2-data-init).

The angular noise is drawn with NumPy's ``RandomState(seed).randn(n)`` once per class in turn,
which is bit-identical to the authors' ``np.random.seed(0)`` followed by three ``randn(100)``
calls. This is an explicit, local generator (no global state is touched).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["spiral3", "one_hot_feature_major"]


def spiral3(
    seed: int,
    n_per_class: int = 100,
    *,
    n_classes: int = 3,
    revolutions: float = 4.0,
    noise: float = 0.2,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)``: X of shape (n_classes·n, 2) in ``dtype``, y of shape (n_classes·n,) int64 (class-major order).

    ``revolutions`` is the authors' parameter: θ spans ``revolutions·π`` radians (4 → two full turns).
    """
    rng = np.random.RandomState(seed)
    xs, ys = [], []
    for j in range(n_classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        start = 2.0 * math.pi * j / n_classes
        theta = np.linspace(start, start + revolutions * math.pi, n_per_class) + noise * rng.randn(n_per_class)
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        ys.append(np.full(n_per_class, j, dtype=np.int64))
    X = torch.from_numpy(np.concatenate(xs)).to(dtype)
    y = torch.from_numpy(np.concatenate(ys))
    return X, y


def one_hot_feature_major(y: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot labels of shape (C, N) (samples last, the ensemble trainer's layout)."""
    return torch.nn.functional.one_hot(y, n_classes).to(dtype).T.contiguous()
