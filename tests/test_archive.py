"""The published results archive (lossdyn.pipeline.archive): publish all of a grid or nothing, render
from it on any device without computing, verify a deterministic sample bit for bit, stay small."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from conftest import ARCHIVE_NOTEBOOK, ROOT
from lossdyn.pipeline import archive, cache
from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.units import plan_for
from tiny_grids import tiny

NOTEBOOK = ARCHIVE_NOTEBOOK  # the tiny grid of the fixtures `dirs` and `published` (conftest)


def test_publish_refuses_a_grid_with_missing_units(dirs):
    cache_dir, archive_dir = dirs
    with pytest.raises(ConfigError, match=r"^publish p1_turnpike_horizon: 4 of 4 units are in neither the cache"):
        archive.publish(tiny(NOTEBOOK), cache_dir, archive_dir)
    assert not archive_dir.exists()


def test_a_published_grid_renders_from_the_archive_without_computing(published, dirs, monkeypatch):
    cfg, first, entry = published
    cache_dir, archive_dir = dirs
    assert len(entry["units"]) == 4 and entry["devices"] == ["cpu"] and entry["compute_seconds"] > 0
    assert archive.archived_counts(cfg, archive_dir) == (4, 4)
    for path in (cache_dir / "units").iterdir():  # the local cache is gone
        for f in path.iterdir():
            f.unlink()
        path.rmdir()
    monkeypatch.setattr(plan_for(cfg).__class__, "compute", lambda *a, **k: pytest.fail("computed a unit"))
    again, info = cache.cached_run(cfg)
    assert info.hit and info.units_cached == 4
    assert again.networks[0].train.loss.tolist() == first.networks[0].train.loss.tolist()
    # A machine that asks for another device finds the same units: the index is device-free.
    cuda_cfg = dataclasses.replace(cfg, device="cuda")
    on_gpu, info = cache.cached_run(cuda_cfg)
    assert info.hit and on_gpu.networks[-1].test.acc.tolist() == first.networks[-1].test.acc.tolist()


def test_verify_recomputes_a_sample_bit_for_bit_and_names_a_tampered_unit(published, dirs):
    cfg, _, entry = published
    _, archive_dir = dirs
    report = archive.verify(archive_dir, commit="abc", budget_s=None)
    assert report.ok and len(report.checked) == 4 and report.exact == 4, report.summary()
    one = archive.verify(archive_dir, commit="abc", budget_s=min(e["wall_seconds"] for e in entry["units"].values()))
    assert len(one.checked) == 1 and one.skipped == 3
    again = archive.verify(archive_dir, commit="abc", budget_s=min(e["wall_seconds"] for e in entry["units"].values()))
    assert again.checked == one.checked  # the sample is a function of the commit
    key = next(iter(entry["units"].values()))["key"]
    result, meta = cache.load_unit(key, archive_dir)
    result["train"]["loss"] = result["train"]["loss"] + 1e-3
    unit = next(u for u in plan_for(cfg).units if u.label == next(iter(entry["units"].values()))["label"])
    cache.store_unit(key, archive_dir, unit, result, meta)
    bad = archive.verify(archive_dir, commit="abc", budget_s=None)
    assert not bad.ok and len(bad.mismatches) == 1
    assert "train.loss: max |archived − recomputed| = 1.000e-03" in bad.mismatches[0]


def test_compare_results_within_tolerance_across_devices():
    a = {"x": torch.tensor([1.0, 2.0], dtype=torch.float64), "n": 3, "f": 0.5}
    close = {"x": torch.tensor([1.0 + 1e-6, 2.0], dtype=torch.float64), "n": 3, "f": 0.5 + 1e-8}
    assert archive.compare_results(a, close, exact=False) == []
    assert len(archive.compare_results(a, close, exact=True)) == 2
    far = {"x": torch.tensor([1.1, 2.0], dtype=torch.float64), "n": 4, "f": 0.5}
    assert len(archive.compare_results(a, far, exact=False)) == 2
    undefined = {"x": torch.tensor([float("nan"), 2.0], dtype=torch.float64)}  # e.g. λ at a jump that never came
    assert archive.compare_results(undefined, {"x": undefined["x"].clone()}, exact=True) == []
    assert archive.compare_results(undefined, {"x": torch.tensor([1.0, 2.0], dtype=torch.float64)}, exact=True)


def test_the_published_archive_stays_small():
    size = archive.archive_bytes(ROOT / "results" / "paper")
    assert size <= archive.MAX_BYTES, f"results/paper is {size / 2**20:.1f} MiB, over {archive.MAX_BYTES / 2**20:.0f}"


def test_the_cli_publishes_and_verifies(dirs, capsys):
    from lossdyn.pipeline.cli import main

    args = [
        f"-p {k} {list(v) if isinstance(v, tuple) else v}".split(" ", 2) for k, v in tiny(NOTEBOOK).to_dict().items()
    ]
    params = [x for _, k, v in args for x in ("-p", k, v)]
    assert main(["publish", NOTEBOOK, "--profile", "quick", *params]) == 2  # nothing computed yet: one line
    assert "4 of 4 units are in neither the cache" in capsys.readouterr().err
    cache.cached_run(tiny(NOTEBOOK))
    assert main(["publish", NOTEBOOK, "--profile", "quick", *params]) == 0
    assert "4 units archived" in capsys.readouterr().out
    assert main(["verify", "--all"]) == 0
    assert "4 archived units recomputed" in capsys.readouterr().out


def test_publishing_a_smaller_grid_again_drops_the_units_it_no_longer_has(published, dirs):
    cfg, _, entry = published
    cache_dir, archive_dir = dirs
    smaller = dataclasses.replace(cfg, seeds=1)
    cache.cached_run(smaller)
    again = archive.publish(smaller, cache_dir, archive_dir)
    kept = {u["key"] for u in again["units"].values()}
    assert len(kept) < len(entry["units"])
    assert {p.name for p in (archive_dir / "units").iterdir()} == kept
