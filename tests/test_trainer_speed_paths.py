"""The three forms of the trainer's step (book/methods.md#p2-trainer): the compiled fused CPU kernel, the eager
tensor program and, on CUDA, the eager program in a CUDA graph, all doing the same gradient descent."""

from __future__ import annotations

import pytest
import torch

from lossdyn.dynamical import batched_mlp as bm
from lossdyn.dynamical.ensemble import Member, TrainSpec, cpu_chunk, train_chunk
from lossdyn.dynamical.spiral3 import spiral3

LOSSES = [("ce", "sample_class"), ("mse", "sample_class"), ("mse", "output_component"), ("mse", "correct_output_only")]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _spec(family="ce", weighting="sample_class", dtype="float64", steps=100, **kw) -> TrainSpec:
    return TrainSpec(
        H=12,
        steps=steps,
        family=family,
        weighting=weighting,
        dtype=dtype,
        n_per_class=100,
        record_full=True,
        snapshot_steps=(steps,),
        **kw,
    )


def _members(family: str) -> list[Member]:
    eta = 1.0 if family == "ce" else 0.1
    return [Member(0, eta, 70.0, 30), Member(1, eta / 2, 1.0, 30), Member(2, eta, 25.0, 40, static_from=60)]


def _train(monkeypatch, compiled: bool, spec: TrainSpec, members, device="cpu"):
    monkeypatch.setenv("LOSSDYN_COMPILE", "1" if compiled else "0")
    return train_chunk(spec, members, device)


def test_the_fused_kernel_is_the_cpu_path_and_lossdyn_compile_0_switches_it_off(monkeypatch):
    X, y = spiral3(0, 10)
    model = bm.BatchedMLP(X, y, 8, "ce")
    theta = torch.zeros(3, model.P, dtype=torch.float64)
    assert bm.step_path(model, theta) == "fused"
    assert bm.step_path(model, theta.float()) == "eager"  # data and parameters in different dtypes
    assert bm.step_path(bm.BatchedMLP(X.float(), y, 8, "ce"), theta.float()) == "fused"
    monkeypatch.setenv("LOSSDYN_COMPILE", "0")
    assert bm.step_path(model, theta) == "eager"


@pytest.mark.parametrize(("family", "weighting"), LOSSES)
def test_fused_and_eager_steps_agree_to_rounding_in_float64(monkeypatch, family, weighting):
    spec = _spec(family, weighting)
    fused = _train(monkeypatch, True, spec, _members(family))
    eager = _train(monkeypatch, False, spec, _members(family))
    torch.testing.assert_close(fused["snap_theta"], eager["snap_theta"], rtol=0, atol=1e-12)
    torch.testing.assert_close(fused["F"], eager["F"], rtol=0, atol=1e-12)


@pytest.mark.parametrize(("family", "weighting"), LOSSES)
def test_fused_and_eager_steps_agree_in_float32_over_ten_steps(monkeypatch, family, weighting):
    # different summation orders, so rounding differs: 3.0e-7 at most over the four losses (measured), of
    # the order of N·eps32·|θ| per step (300 · 6e-8 · 0.5 ≈ 1e-5 as a bound, 10 steps)
    spec = _spec(family, weighting, dtype="float32", steps=10)
    fused = _train(monkeypatch, True, spec, _members(family))
    eager = _train(monkeypatch, False, spec, _members(family))
    torch.testing.assert_close(fused["snap_theta"], eager["snap_theta"], rtol=0, atol=2e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_member_trains_to_the_same_bits_alone_or_in_any_batch(monkeypatch, dtype):
    spec = _spec("mse", "correct_output_only", dtype=dtype, steps=150, lambda_steps=(0, 150), onset=True)
    members = [Member(r % 3, (0.05, 0.1, 0.2)[r % 3], (1.0, 70.0, 25.0)[r % 3], (100, 80, 60)[r % 3]) for r in range(5)]
    batch = _train(monkeypatch, True, spec, members)
    for s in (0, 3, 4):
        alone = train_chunk(spec, [members[s]], "cpu")
        for key in ("snap_theta", "F", "dF", "lambda_max", "train_acc", "val_acc"):
            assert torch.equal(batch[key][s : s + 1].nan_to_num(-7.0), alone[key].nan_to_num(-7.0)), key


def test_without_a_compiler_the_trainer_warns_once_and_runs_eager(monkeypatch, tmp_path):
    monkeypatch.setattr(bm, "_FUSED_LIBRARY", {})
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("LOSSDYN_KERNEL_DIR", str(tmp_path))
    spec = _spec(steps=20)
    with pytest.warns(RuntimeWarning, match="fused CPU step could not be built"):
        res = train_chunk(spec, _members("ce"), "cpu")
    X, y = spiral3(0, 10)
    assert bm.step_path(bm.BatchedMLP(X, y, 8, "ce"), torch.zeros(1, 51, dtype=torch.float64)) == "eager"
    monkeypatch.setenv("LOSSDYN_COMPILE", "0")
    eager = train_chunk(spec, _members("ce"), "cpu")
    assert torch.equal(res["snap_theta"], eager["snap_theta"])


def test_the_kernel_is_built_once_per_machine_into_the_kernel_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(bm, "_FUSED_LIBRARY", {})
    monkeypatch.setenv("LOSSDYN_KERNEL_DIR", str(tmp_path))
    assert bm._fused_library() is not None
    built = list(tmp_path.glob("fused_step_*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(bm, "_FUSED_LIBRARY", {})
    assert bm._fused_library() is not None
    assert list(tmp_path.glob("*")) == built and built[0].stat().st_mtime_ns == stamp


def test_chunk_rule_keeps_at_most_2000_hidden_units_per_process():
    assert [cpu_chunk(H) for H in (10, 100, 1000)] == [64, 16, 2]
    for H in (1, 7, 50, 333, 2000, 5000):
        S = cpu_chunk(H)
        assert S >= 1 and S & (S - 1) == 0 and S <= 64
        assert S * H <= 2000 or S == 1
        assert 2 * S * H > 2000 or S == 64


# -- CUDA (skipped without a device) ----------------------------------------------------------------------
@pytest.mark.gpu
@cuda
def test_cuda_graph_path_is_taken_on_cuda():
    X, y = spiral3(0, 10)
    model = bm.BatchedMLP(X.cuda(), y.cuda(), 8, "ce")
    assert bm.step_path(model, torch.zeros(2, model.P, device="cuda")) == "cuda_graph"


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize(("family", "weighting"), LOSSES)
def test_cuda_and_cpu_agree_within_float32_rounding(monkeypatch, family, weighting):
    spec = _spec(family, weighting, dtype="float32", steps=10)
    cpu = _train(monkeypatch, True, spec, _members(family))
    gpu = _train(monkeypatch, True, spec, _members(family), device="cuda")
    eager = _train(monkeypatch, False, spec, _members(family), device="cuda")
    torch.testing.assert_close(gpu["snap_theta"], cpu["snap_theta"], rtol=0, atol=1e-5)
    torch.testing.assert_close(gpu["snap_theta"], eager["snap_theta"], rtol=0, atol=1e-6)


@pytest.mark.gpu
@cuda
def test_cuda_and_cpu_agree_in_float64_and_freezing_works_in_the_graph(monkeypatch):
    spec = _spec("mse", "sample_class", dtype="float64", steps=240)
    members = [Member(0, 0.05, 70.0, 100), Member(1, 50.0, 1.0, 100), Member(2, 0.05, 1.0, 100)]
    cpu = _train(monkeypatch, True, spec, members)
    gpu = _train(monkeypatch, True, spec, members, device="cuda")
    assert gpu["diverged"].tolist() == cpu["diverged"].tolist() == [False, True, False]
    torch.testing.assert_close(gpu["snap_theta"][[0, 2]], cpu["snap_theta"][[0, 2]], rtol=0, atol=1e-10)
