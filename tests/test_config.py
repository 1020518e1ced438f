"""Typed configs: every bad parameter gives one line naming the key, before any compute."""

from __future__ import annotations

import dataclasses

import pytest

from lossdyn.dissipativity.p1_fig1_soft_cross_entropy import Config
from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.figures import config_class, figures

GOOD = dict(
    C=2,
    p_d=0.95,
    label=0,
    extent=10.0,
    grid=51,
    s_max=15.0,
    n_cut=101,
    n_bound_samples=1000,
    dtype="float64",
    device="cpu",
    seed=0,
)


def test_valid_config_is_frozen_and_complete():
    cfg = Config.from_mapping(GOOD)
    assert cfg.to_dict() == GOOD
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.p_d = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        ({"p_d": 1.5}, "p_d", "1/C < p_d < 1"),
        ({"p_d": 0.5}, "p_d", "0.5 < p_d < 1"),
        ({"C": 10, "p_d": 0.05}, "p_d", "0.1 < p_d < 1"),
        ({"C": 1}, "C", "2 <= C"),
        ({"label": 2}, "label", "label < C"),
        ({"dtype": "float16"}, "dtype", "float32 or float64"),
        ({"device": "tpu"}, "device", "auto, cpu, cuda"),
        ({"seed": -1}, "seed", ">= 0"),
        ({"grid": 3}, "grid", "11 <= grid"),
    ],
)
def test_out_of_range_names_the_key(change, key, fragment):
    with pytest.raises(ConfigError) as err:
        Config.from_mapping({**GOOD, **change})
    message = str(err.value)
    assert message.startswith(f"{key} = ")
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"C": 2.5}, "C"),
        ({"C": True}, "C"),
        ({"p_d": "high"}, "p_d"),
        ({"seed": 1.0}, "seed"),
        ({"dtype": 64}, "dtype"),
    ],
)
def test_wrong_type_names_the_key(change, key):
    with pytest.raises(ConfigError, match=rf"^{key}: expected "):
        Config.from_mapping({**GOOD, **change})


def test_int_is_accepted_for_float():
    cfg = Config.from_mapping({**GOOD, "extent": 5})
    assert isinstance(cfg.extent, float) and cfg.extent == 5.0


def test_unknown_and_missing_keys():
    with pytest.raises(ConfigError, match=r"^pd: unknown parameter .* allowed: .*p_d"):
        Config.from_mapping({**GOOD, "pd": 0.9})
    partial = dict(GOOD)
    del partial["s_max"]
    with pytest.raises(ConfigError, match=r"^s_max: missing"):
        Config.from_mapping(partial)


def test_from_namespace_picks_only_fields():
    namespace = {**GOOD, "In": [], "np": object(), "_": None}
    assert Config.from_namespace(namespace).to_dict() == GOOD


def test_registry():
    assert config_class("p1_fig1_soft_cross_entropy") is Config
    assert figures()["p1_fig1_soft_cross_entropy"].module.Config is Config
    with pytest.raises(ConfigError, match="unknown notebook"):
        config_class("p9_nothing")
