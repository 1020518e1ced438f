"""The status rule of a trained network (lossdyn.dynamical.outcome) on hand-made tensors."""

from __future__ import annotations

import math

import pytest
import torch

from lossdyn.dynamical import outcome as oc


def _t(*v):
    return torch.tensor(v, dtype=torch.float64)


def test_each_reason_and_status_on_hand_made_networks():
    # 0: trained; 1: not trained (left chance, fits < 2/3); 2: NaN loss; 3: loss rose (fits well otherwise);
    # 4: at chance exactly 1/3; 5: just above the chance margin; 6: the η = 100 case: loss 34, accuracy 1/3
    final = _t(0.05, 0.9, math.nan, 1.2, 1.05, 1.0, 34.0)
    first = _t(1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1)
    acc = _t(0.99, 0.5, 0.9, 0.8, 1 / 3, 1 / 3 + 0.06, 1 / 3)
    o = oc.classify(final, first, acc)
    assert o.non_finite.tolist() == [False, False, True, False, False, False, False]
    assert o.loss_rose.tolist() == [False, False, False, True, False, False, True]
    assert o.at_chance.tolist() == [False, False, False, False, True, False, True]
    assert o.names() == ["trained", "not trained", "diverged", "diverged", "diverged", "not trained", "diverged"]
    assert o.status.tolist() == [0, 1, 2, 2, 2, 1, 2]
    assert o.counts() == {
        "trained": 1,
        "not trained": 2,
        "diverged": 4,
        "non-finite": 1,
        "loss rose": 2,
        "at chance": 2,
    }


def test_thresholds_are_inclusive_as_declared():
    edge = oc.CHANCE + oc.CHANCE_MARGIN
    o = oc.classify(_t(0.5, 0.5, 0.5, 0.5), _t(1.0, 1.0, 1.0, 1.0), _t(edge, edge + 1e-9, 2 / 3, 2 / 3 - 1e-9))
    assert o.names() == ["diverged", "not trained", "trained", "not trained"]
    # a loss equal to the starting loss has not risen
    assert oc.classify(_t(1.0), _t(1.0), _t(0.9)).names() == ["trained"]


def test_trainer_flag_and_infinite_losses_count_as_non_finite():
    o = oc.classify(_t(0.1, math.inf, 0.1), _t(1.0, 1.0, math.nan), _t(0.9, 0.9, 0.9), flagged=torch.tensor([1, 0, 0]))
    assert o.non_finite.tolist() == [True, True, True]
    assert o.loss_rose.tolist() == [False, False, False]
    assert o.names() == ["diverged"] * 3


def test_outcome_reads_a_trainer_result_dict_and_slices_members():
    r = {
        "final_loss": _t(0.2, 2.0, math.nan, 0.7),
        "loss_bin_start": torch.tensor([0, 1, 2]),
        "loss_bin_end": torch.tensor([1, 2, 10]),
        "loss_bin_mean": _t(1.1, 1.0, 0.5, 1.1, 1.5, 2.0, 1.1, 1.0, 0.9, 1.1, 1.0, 0.8).reshape(4, 3),
        "train_acc": _t(0.95, 0.6, 0.4, 0.36),
        "diverged": torch.tensor([False, False, True, False]),
    }
    assert oc.start_loss(r).tolist() == [1.1, 1.1, 1.1, 1.1]
    assert oc.outcome(r).names() == ["trained", "diverged", "diverged", "diverged"]
    assert oc.outcome(r, 1, 3).counts()["loss rose"] == 1
    assert oc.outcome(r, 3).counts()["at chance"] == 1


def test_a_first_bin_longer_than_one_step_is_refused():
    r = {"loss_bin_start": torch.tensor([0, 5]), "loss_bin_end": torch.tensor([5, 9]), "loss_bin_mean": _t(1, 1)[None]}
    with pytest.raises(ValueError, match=r"single step \[0, 1\)"):
        oc.start_loss(r)


def test_describe_and_total():
    a = oc.classify(_t(0.1, 34.0), _t(1.1, 1.1), _t(0.9, 1 / 3)).counts()
    b = oc.classify(_t(0.8), _t(1.1), _t(0.5)).counts()
    assert oc.describe(a) == "1 trained, 0 not trained, 1 diverged (1 loss rose, 1 at chance)"
    assert oc.describe(b) == "0 trained, 1 not trained, 0 diverged"
    assert oc.total([a, b]) == {
        "trained": 1,
        "not trained": 1,
        "diverged": 1,
        "non-finite": 0,
        "loss rose": 1,
        "at chance": 1,
    }


def test_the_trainer_first_bin_is_the_starting_loss():
    from lossdyn.dynamical.ensemble import Member, TrainSpec, train_chunk

    r = train_chunk(TrainSpec(H=4, steps=130, dtype="float64", loss_bins=20, record_full=True), [Member(0, 0.5)])
    assert r["loss_bin_start"][0] == 0 and r["loss_bin_end"][0] == 1
    assert oc.start_loss(r)[0] == r["F"][0, 0]
