"""save_figure: byte-stable PNG/SVG/PDF and a JSON sidecar with parameters, numbers and claims."""

from __future__ import annotations

import hashlib
import json

import pytest

from lossdyn.dissipativity import p1_fig1_soft_cross_entropy as exp
from lossdyn.pipeline.cache import CacheInfo, cached_run
from lossdyn.pipeline.claims import Claim, format_claims
from lossdyn.pipeline.plotting import save_figure
from test_config import GOOD

INFO = CacheInfo(key="0123456789abcdef", hit=False, mode="off", path="-", compute_seconds=0.1, device="cpu")


@pytest.fixture(scope="module")
def cfg_res():
    cfg = exp.Config.from_mapping({**GOOD, "grid": 31, "n_cut": 61, "n_bound_samples": 500})
    return cfg, cached_run(cfg)[0]  # the test suite runs with the results cache off


def digests(folder, name):
    return {fmt: hashlib.sha256((folder / f"{name}.{fmt}").read_bytes()).hexdigest() for fmt in ("png", "svg", "pdf")}


def test_files_are_byte_stable(cfg_res, tmp_path):
    cfg, res = cfg_res
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for folder in (a, b):  # a fresh figure each time, as a re-executed notebook makes
        save_figure(exp.plot(res), cfg, numbers=exp.key_numbers(res), claims=exp.claims(res), info=INFO, out_dir=folder)
    assert digests(a, cfg.notebook) == digests(b, cfg.notebook)


def test_sidecar_holds_parameters_numbers_and_claims(cfg_res, tmp_path):
    cfg, res = cfg_res
    save_figure(exp.plot(res), cfg, numbers=exp.key_numbers(res), claims=exp.claims(res), info=INFO, out_dir=tmp_path)
    data = json.loads((tmp_path / f"{cfg.notebook}.json").read_text())
    assert data["parameters"] == cfg.to_dict()
    assert data["numbers"]["delta"] == pytest.approx(-2.944439, abs=1e-6)
    assert data["numbers"]["target_entropy"] == pytest.approx(0.198515, abs=1e-6)
    assert data["numbers"]["max_abs_loss_on_line"] < 1e-12
    assert data["run"]["key"] == INFO.key
    ids = [c["id"] for c in data["claims"]]
    assert ids == ["P1-L3", "P1-X*", "P1-L7", "P1-F1", "P1-L8"]
    assert all(set(c) == {"id", "claim", "measured", "verdict"} for c in data["claims"])
    verdicts = {c["id"]: c["verdict"] for c in data["claims"]}
    assert verdicts["P1-X*"] == "not reproduced"  # the printed minimiser point is a typo
    assert verdicts["P1-L8"] == "partial"  # printed bound fails, corrected bound holds


def test_missing_out_dir_raises(cfg_res, tmp_path):
    cfg, res = cfg_res
    with pytest.raises(FileNotFoundError):
        save_figure(exp.plot(res), cfg, numbers={}, claims=[], info=INFO, out_dir=tmp_path / "nope")


def test_claim_verdicts_are_checked():
    with pytest.raises(ValueError, match="verdict"):
        Claim("x", "c", "m", "probably")
    text = format_claims([Claim("A", "a claim", "1.0", "reproduced")])
    assert text.splitlines()[0] == "[reproduced] A: a claim"
