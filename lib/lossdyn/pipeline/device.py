"""Device and randomness: chosen at run time, explicit generators, never ``.cuda()``."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from pathlib import Path

import torch

__all__ = [
    "DTYPES",
    "cpu_model",
    "device_problem",
    "generator",
    "intra_op_threads",
    "resolve_device",
    "resolve_dtype",
]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def device_problem(name: str) -> str | None:
    """Why the device ``name`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) cannot run here; ``None`` if it can.

    The runner and ``sweep`` call it before any kernel or worker starts, so a CUDA device that is not
    there is a one-line error rather than a traceback in the kernel.
    """
    if not name.startswith("cuda"):
        return None
    if not torch.cuda.is_available():
        return "CUDA is not available on this machine"
    index = int(name.split(":", 1)[1]) if ":" in name else 0
    count = torch.cuda.device_count()
    if index >= count:
        return f"this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}"
    return None


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; anything else is passed to ``torch.device``
    (a CUDA device that is not there raises, naming why: :func:`device_problem`)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    problem = device_problem(name) if device.type == "cuda" else None
    if problem:
        raise RuntimeError(f"device {name!r} requested but {problem}")
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
