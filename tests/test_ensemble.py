"""Ensemble trainer (Paper 2, book/methods.md#p2-trainer): autograd agreement, divergence handling, chunk
independence."""

from __future__ import annotations

import math

import pytest
import torch

from lossdyn.dynamical import losses as dl
from lossdyn.dynamical.batched_mlp import TRUNC_STD, BatchedMLP, glorot_init
from lossdyn.dynamical.ensemble import Member, TrainSpec, member_seeds, train, train_chunk
from lossdyn.dynamical.spiral3 import spiral3


def autograd_reference(spec: TrainSpec, member: Member, steps: int):
    """A plain nn.Module + autograd + manual GD loop for one member (the oracle)."""
    X, y = spiral3(spec.train_seed, spec.n_per_class)
    m = BatchedMLP(X, y, spec.H, spec.family, spec.weighting)
    net = m.module(glorot_init(spec.H, torch.Generator().manual_seed(member_seeds(spec, member)[0])))
    losses = []
    for t in range(steps):
        G = dl.gamma(t, member.A, member.T, static_from=member.static_from)
        loss = m.reference_loss(net(X), G)
        losses.append(float(loss.detach()))
        grads = torch.autograd.grad(loss, list(net.parameters()))
        with torch.no_grad():
            for p, g in zip(net.parameters(), grads):
                p -= member.eta * g
    return torch.nn.utils.parameters_to_vector(net.parameters()).detach(), torch.tensor(losses, dtype=torch.float64)


@pytest.mark.parametrize(
    ("family", "weighting"),
    [("ce", "sample_class"), ("mse", "sample_class"), ("mse", "output_component"), ("mse", "correct_output_only")],
)
def test_trajectory_matches_autograd_after_100_steps(family, weighting):
    steps = 100
    spec = TrainSpec(
        H=12,
        steps=steps,
        family=family,
        weighting=weighting,
        dtype="float64",
        n_per_class=20,
        record_full=True,
        snapshot_steps=(steps,),
    )
    eta = 1.0 if family == "ce" else 0.1
    members = [Member(0, eta, 70.0, 30), Member(1, eta / 2, 1.0, 30), Member(2, eta, 25.0, 40, static_from=60)]
    res = train_chunk(spec, members, "cpu")
    for s, member in enumerate(members):
        theta, losses = autograd_reference(spec, member, steps)
        torch.testing.assert_close(res["snap_theta"][s, 0], theta, rtol=0, atol=1e-6)
        torch.testing.assert_close(res["F"][s], losses, rtol=0, atol=1e-6)
        assert float((res["snap_theta"][s, 0] - theta).abs().max()) < 1e-12  # in fact to rounding


def test_init_is_truncated_glorot_normal_with_small_biases():
    H = 4000
    th = glorot_init(H, torch.Generator().manual_seed(0))
    W1, b1 = th[: 2 * H], th[2 * H : 3 * H]
    s = math.sqrt(2 / (2 + H))
    assert float(W1.std()) == pytest.approx(s, rel=0.03)
    assert float(W1.abs().max()) <= 2 * s / TRUNC_STD
    assert float(b1.std()) == pytest.approx(0.01, rel=0.05)


def test_same_replica_same_init_across_losses_and_learning_rates():
    a = member_seeds(TrainSpec(H=10, steps=1), Member(3, 1.0, 70.0, 5))
    b = member_seeds(TrainSpec(H=10, steps=1, family="mse"), Member(3, 0.1, 1.0, 9))
    c = member_seeds(TrainSpec(H=11, steps=1), Member(3, 1.0, 70.0, 5))
    assert a == b and a != c


def test_diverging_member_is_flagged_frozen_and_the_others_keep_training():
    spec = TrainSpec(
        H=8,
        steps=240,
        family="mse",
        dtype="float64",
        n_per_class=100,
        record_full=True,
        lambda_steps=(0, 120, 240),
        onset=True,
    )
    good = [Member(0, 0.05, 70.0, 100), Member(2, 0.05, 1.0, 100)]
    bad = Member(1, 50.0, 1.0, 100)  # far beyond 2/λ_max: the loss overflows to inf/NaN
    res = train_chunk(spec, [good[0], bad, good[1]], "cpu")
    ref = train_chunk(spec, good, "cpu")
    assert res["diverged"].tolist() == [False, True, False]
    td = int(res["diverged_step"][1])
    assert 0 < td < 240
    assert torch.isnan(res["F"][1, td:]).all() and torch.isfinite(res["F"][1, :td]).all()
    assert math.isnan(float(res["final_loss"][1]))
    for key in ("F", "dF", "lambda_max", "val_acc", "train_acc", "final_loss", "loss_bin_mean"):
        assert torch.equal(res[key][[0, 2]], ref[key]), key  # bit-identical: the others never noticed


def test_chunked_multiprocess_and_unchunked_runs_are_bit_identical():
    # N = 300 (the paper's data size): at other N, MKL's batched GEMM can pick batch-size-dependent
    # kernels for the 3×H·H×N product (seen at N = 90), which would break bit-identity
    spec = TrainSpec(
        H=16,
        steps=300,
        dtype="float32",
        n_per_class=100,
        lambda_steps=(0, 100, 300),
        onset=True,
        record_full=True,
        snapshot_steps=(150,),
        top2_steps=(300,),
    )
    members = [Member(r % 3, (0.5, 1.0, 2.0)[r % 3], (1.0, 70.0, 25.0)[r % 3], (100, 80, 60)[r % 3]) for r in range(7)]
    one = train(spec, members, device="cpu", workers=1, chunk=len(members))
    many = train(spec, members, device="cpu", workers=2, chunk=3)
    single = train(spec, members, device="cpu", workers=1, chunk=1)
    assert one.keys() == many.keys() == single.keys()
    for key, value in one.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value.nan_to_num(-7.0), many[key].nan_to_num(-7.0)), key
            assert torch.equal(value.nan_to_num(-7.0), single[key].nan_to_num(-7.0)), key
        else:
            assert value == many[key] == single[key], key


def test_loss_bins_average_the_per_step_losses():
    spec = TrainSpec(H=6, steps=500, dtype="float64", n_per_class=10, record_full=True, loss_bins=30)
    res = train_chunk(spec, [Member(0, 1.0, 70.0, 50)], "cpu")
    F = res["F"][0]
    for a, b, mean in zip(
        res["loss_bin_start"].tolist(), res["loss_bin_end"].tolist(), res["loss_bin_mean"][0].tolist()
    ):
        assert mean == pytest.approx(float(F[a:b].mean()), rel=1e-12)
    assert res["loss_bin_start"][0] == 0 and res["loss_bin_end"][-1] == 500


def test_same_landscape_loss_change_is_computed_without_gamma_drift():
    spec = TrainSpec(H=6, steps=50, dtype="float64", n_per_class=10, record_full=True, snapshot_steps=tuple(range(51)))
    member = Member(0, 1.0, 70.0, 20)
    res = train_chunk(spec, [member], "cpu")
    X, y = spiral3(0, 10)
    m = BatchedMLP(X, y, 6, "ce")
    th = res["snap_theta"][0]
    for t in (0, 9, 10, 33, 49):
        G = dl.gamma(torch.tensor([t]), member.A, member.T)
        expected = m.loss(th[t + 1 : t + 2], G) - m.loss(th[t : t + 1], G)
        assert float(res["dF"][0, t]) == pytest.approx(float(expected), abs=1e-14)


def test_dense_lambda_tracking_refuses_to_be_chunked():
    from lossdyn.dynamical.ensemble import train_many

    spec = TrainSpec(H=4, steps=10, n_per_class=10, lambda_steps=(0,), dense_every=2)
    with pytest.raises(ValueError, match="chunk"):
        train_many([(spec, [Member(r, 1.0) for r in range(5)])], device="cpu", chunk=4)
