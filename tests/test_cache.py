"""Results cache: one entry per unit, keyed by the unit and the lib source, atomic, bypassable."""

from __future__ import annotations

import pytest
import torch

from lossdyn.dissipativity.p1_fig1_soft_cross_entropy import Config, Result, compute
from lossdyn.pipeline import cache
from same import assert_same
from test_config import GOOD


@pytest.fixture
def cfg():
    return Config.from_mapping({**GOOD, "grid": 21, "n_cut": 21, "n_bound_samples": 200})


@pytest.fixture
def calls(monkeypatch):
    """Counts calls of the soft-CE computation (the page's only unit)."""
    import lossdyn.dissipativity.p1_fig1_soft_cross_entropy as exp

    seen = []

    def counting(c):
        seen.append(c)
        return compute(c)

    monkeypatch.setattr(exp, "compute", counting)
    return seen


def test_key_depends_on_every_result_field_and_the_lib(cfg, monkeypatch):
    base = cache.cache_key(cfg)
    assert cache.cache_key(Config.from_mapping(cfg.to_dict())) == base
    for key, value in [("p_d", 0.9), ("seed", 1), ("grid", 23), ("dtype", "float32")]:
        assert cache.cache_key(Config.from_mapping({**cfg.to_dict(), key: value})) != base
    monkeypatch.setattr(cache, "closure_hash", lambda roots: "a different library")
    assert cache.cache_key(cfg) != base


def test_lib_source_hash_is_stable():
    assert cache.lib_source_hash() == cache.lib_source_hash()
    assert len(cache.lib_source_hash()) == 64


def test_second_run_is_a_hit_with_identical_result(cfg, tmp_path, monkeypatch, calls):
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    first, info1 = cache.cached_run(cfg, root=tmp_path)
    second, info2 = cache.cached_run(cfg, root=tmp_path)
    assert (info1.hit, info2.hit) == (False, True) and len(calls) == 1
    assert info1.key == info2.key
    assert (info1.units, info1.units_cached, info2.units_cached) == (1, 0, 1)
    (entry,) = (tmp_path / "results" / "units").iterdir()
    assert {p.name for p in entry.iterdir()} == {"result.pt", "unit.json", "meta.json"}
    assert isinstance(first, Result) and isinstance(second, Result)
    assert_same(first, second)


def test_off_and_refresh_modes(cfg, tmp_path, monkeypatch, calls):
    monkeypatch.setenv("LOSSDYN_CACHE", "off")
    _, info = cache.cached_run(cfg, root=tmp_path)
    assert not info.hit and not (tmp_path / "results").exists()
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    cache.cached_run(cfg, root=tmp_path)
    monkeypatch.setenv("LOSSDYN_CACHE", "refresh")
    _, info = cache.cached_run(cfg, root=tmp_path)
    assert not info.hit and len(calls) == 3
    monkeypatch.setenv("LOSSDYN_CACHE", "sometimes")
    with pytest.raises(ValueError, match="LOSSDYN_CACHE"):
        cache.cached_run(cfg, root=tmp_path)


def test_failed_write_leaves_no_entry(cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("LOSSDYN_CACHE", "on")

    def broken_save(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(cache.torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        cache.cached_run(cfg, root=tmp_path)
    folder = tmp_path / "results" / "units"
    assert list(folder.iterdir()) == []  # neither a final entry nor a temporary folder


def test_cache_root_is_a_parameter(cfg, tmp_path, monkeypatch, calls):
    """LOSSDYN_CACHE_DIR (set by --cache-dir) moves the cache, e.g. to a shared filesystem."""
    monkeypatch.setenv("LOSSDYN_CACHE", "on")
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(tmp_path / "shared"))
    _, info = cache.cached_run(cfg, root=tmp_path)
    assert info.path == str(tmp_path / "shared" / "units") and len(list((tmp_path / "shared" / "units").iterdir())) == 1
    assert not (tmp_path / "results").exists()


def test_run_is_deterministic(cfg):
    a, b = compute(cfg), compute(cfg)
    for k, v in a.items():
        assert torch.equal(v, b[k]) if isinstance(v, torch.Tensor) else v == b[k], k


def test_suite_bypasses_the_results_cache():
    """Set by the lossdyn_pytest_env plugin for every pytest run, so nbval kernels recompute."""
    import os

    assert os.environ["LOSSDYN_CACHE"] == "off" and cache.cache_mode() == "off"
    assert os.environ["LOSSDYN_QUIET"] == "1"
