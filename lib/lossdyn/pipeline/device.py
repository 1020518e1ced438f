"""Device and randomness: chosen at run time, explicit generators, never ``.cuda()``."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from pathlib import Path

import torch

__all__ = ["DTYPES", "cpu_model", "generator", "intra_op_threads", "resolve_device", "resolve_dtype"]

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


@contextlib.contextmanager
def intra_op_threads(threads: int) -> Iterator[None]:
    """Run with ``torch.set_num_threads(threads)`` (0: leave as is), restoring the old value after.

    On this project's 2-core CPUs the small matmuls of the experiments run faster with one
    intra-op thread than with two, and one single-threaded worker per core beats one worker with two
    threads (book/methods.md#pipeline-threads).
    """
    old = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for status pages and benchmark tables."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
