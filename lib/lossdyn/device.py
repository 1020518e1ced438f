"""Device and randomness: chosen at run time, explicit generators, never ``.cuda()``."""

from __future__ import annotations

import torch

__all__ = ["DTYPES", "generator", "resolve_device", "resolve_dtype"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return device


def resolve_dtype(name: str) -> torch.dtype:
    return DTYPES[name]


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``seed`` (one per role)."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g
