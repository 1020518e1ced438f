"""The default build at paper scale (lossdyn.pipeline.published): pages read from the published archive
compute nothing, an incomplete archive gives a quick-profile page with a banner, the sidecars carry the
profile and the units' provenance, and the claims page sets the quick-profile verdict beside the paper's."""

from __future__ import annotations

import io
import json

import nbformat
import pytest
import torch

from conftest import ARCHIVE_NOTEBOOK, ROOT, require_built
from lossdyn.pipeline import archive, cache, runner
from lossdyn.pipeline.archive import read_index
from lossdyn.pipeline.pages import META_KEY, write_claims_page
from lossdyn.pipeline.published import annotate_sidecar, page_banner, provenance, quick_dir
from lossdyn.pipeline.units import plan_for

NOTEBOOK = ARCHIVE_NOTEBOOK


def test_archive_mode_reads_every_unit_from_the_archive_and_computes_nothing(published, dirs, monkeypatch):
    cfg, first, _ = published
    _, archive_dir = dirs
    monkeypatch.setenv("LOSSDYN_CACHE", "archive")
    monkeypatch.setenv("LOSSDYN_CACHE_DIR", str(archive_dir.parent / "empty-cache"))
    monkeypatch.setattr(plan_for(cfg).__class__, "compute", lambda *a, **k: pytest.fail("computed a unit"))
    again, info = cache.cached_run(cfg)
    assert info.hit and info.units == info.units_cached == 4 and info.mode == "archive"
    assert again.networks[0].train.loss.tolist() == first.networks[0].train.loss.tolist()
    index = read_index(archive_dir)
    index[NOTEBOOK]["units"].pop(next(iter(index[NOTEBOOK]["units"])))
    (archive_dir / "index.json").write_text(json.dumps(index))
    with pytest.raises(cache.NotArchived, match=r"^p1_turnpike_horizon: 1 of 4 units are not in the published"):
        cache.cached_run(cfg)


def test_an_archived_view_keeps_only_its_own_elements():
    big = torch.arange(10**6, dtype=torch.float64)
    kept = archive._own_storage({"sample": big[:2500], "list": [big[:10]], "n": 3})
    out = io.BytesIO()
    torch.save(kept, out)
    assert out.tell() < 30_000  # 2,510 float64 values, not the 8 MB buffer
    assert torch.equal(kept["sample"], big[:2500]) and kept["n"] == 3


def test_the_default_build_takes_archived_pages_at_paper_scale_and_the_rest_quick(monkeypatch):
    complete = {"p1_fig1_soft_cross_entropy"}

    def status(cfg, root, profile="paper"):
        if profile == "quick":
            return (1, 2, {})  # the quick grids are not archived: their runs compute
        return (5, 5, {"units": {"a": {}}, "compute_seconds": 2.0}) if cfg.notebook in complete else (3, 7, {})

    monkeypatch.setattr(runner, "archive_status", status)
    jobs = runner.plan_book_jobs(only=["p1_fig1_soft_cross_entropy", "p2_fig5_edge_of_stability"], root=ROOT)
    pages = [(j.name, j.profile, j.source, j.quick_copy) for j in jobs]
    assert pages == [
        ("p1_fig1_soft_cross_entropy", "paper", "archive", False),
        ("p2_fig5_edge_of_stability", "quick", "run", False),
        ("p1_fig1_soft_cross_entropy", "quick", "run", True),
    ]
    assert jobs[0].prov["units"] == 1 and jobs[0].prov["compute_seconds"] == 2.0
    assert jobs[1].fallback == "the published archive holds 3 of the 7 units of its paper-profile grid"
    assert jobs[2].pages(ROOT) == (quick_dir(ROOT), quick_dir(ROOT) / "figures")
    runner.preflight(jobs[:1], memory=1)  # an archived page computes nothing: no cost or memory check


def test_the_banner_goes_under_the_title_and_says_where_the_units_come_from():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n\n## What the paper shows\n\nText")])
    prov = provenance(
        {
            "units": {"a": {}, "b": {}},
            "compute_seconds": 7200.0,
            "devices": ["cpu"],
            "machines": ["Intel Xeon"],
            "commits": ["0123456789abcdef"],
            "torch": ["2.13.0+cpu"],
            "computed": ["2026-12-02T01:00:00Z", "2026-12-03T01:00:00Z"],
        }
    )
    runner._insert_banner(nb, page_banner("archive", prov))
    assert [c.source.splitlines()[0] for c in nb.cells] == [
        "# Title",
        ":::{admonition} Paper scale",
        "## What the paper shows",
    ]
    text = nb.cells[1].source
    assert "2 units, 2.0 h of compute on cpu (Intel Xeon), 2026-12-02 to 2026-12-03, at commit 0123456" in text
    quick = page_banner("run", None, "the published archive holds 3 of the 7 units of its paper-profile grid")
    assert quick.startswith(":::{admonition} Quick profile, not the paper's scale\n:class: warning")
    assert "holds 3 of the 7 units" in quick and page_banner("run", None) == ""


def test_the_sidecar_records_profile_source_and_provenance(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"notebook": "x", "run": {"hit": True}}))
    annotate_sidecar(path, profile="paper", source="archive", prov={"units": 3})
    data = json.loads(path.read_text())
    assert (data["profile"], data["source"], data["provenance"]) == ("paper", "archive", {"units": 3})
    path.write_text(json.dumps({"notebook": "x", "run": {"hit": False}}))
    annotate_sidecar(path, profile="quick", source="run", prov=None)
    assert json.loads(path.read_text())["source"] == "computed"


def _sidecar(folder, name, verdicts, profile):
    folder.mkdir(parents=True, exist_ok=True)
    claims = [{"id": f"X-{i}", "claim": "c", "measured": f"m{i}", "verdict": v} for i, v in enumerate(verdicts)]
    (folder / f"{name}.json").write_text(json.dumps({"notebook": name, "claims": claims, "profile": profile}))


def test_the_claims_page_gives_each_verdicts_profile_and_the_quick_verdict_where_it_differs(tmp_path):
    name = "p2_fig5_edge_of_stability"
    _sidecar(tmp_path / "book" / "figures", name, ["reproduced", "partial"], "paper")
    _sidecar(quick_dir(tmp_path) / "figures", name, ["reproduced", "not reproduced"], "quick")
    (tmp_path / "book" / "generated").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata[META_KEY] = {"profile": "paper", "overrides": {}}
    nbformat.write(nb, tmp_path / "book" / "generated" / f"{name}.ipynb")
    (tmp_path / "_toc.yml").write_text(f"- file: book/generated/{name}\n")
    text = write_claims_page(tmp_path).read_text()
    assert "| X-0 | c | m0 | **reproduced** | paper | same |" in text
    assert "| X-1 | c | m1 | **partial** | paper | **not reproduced**: m1 |" in text


class _Planned(Exception):
    """Raised by a stand-in preflight: the build's jobs are planned, nothing runs."""


def test_parameters_without_a_profile_build_the_quick_profile(monkeypatch):
    from lossdyn.pipeline import cli

    seen = {}
    monkeypatch.setattr(cli, "build", lambda **kw: seen.update(kw) or 0)
    assert cli.main(["build", "--only", "p1_fig1_soft_cross_entropy", "-p", "p_d", "0.9"]) == 0
    assert seen["profile"] is None and seen["overrides"] == {"p_d": 0.9}  # build() resolves the default
    monkeypatch.setattr(runner, "archive_status", lambda cfg, root, profile="paper": (0, 1, {}))
    for overrides, expected in (({"p_d": 0.9}, [("quick", None)]), ({}, [("quick", "0 of the 1 units")])):
        jobs = []

        def planned(js, _jobs=jobs, **kw):
            _jobs.extend(js)
            raise _Planned

        monkeypatch.setattr(runner, "preflight", planned)
        with pytest.raises(_Planned):
            runner.build(only=["p1_fig1_soft_cross_entropy"], overrides=overrides, book=False)
        got = [(j.profile, j.fallback and j.fallback.split("holds ")[1][:16]) for j in jobs]
        assert got == expected, overrides


def test_the_default_build_refuses_parameters_in_one_line(capsys):
    from lossdyn.pipeline.cli import main

    assert main(["build", "--profile", "archive", "-p", "p_d", "0.9", "--no-book"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: -p: the default build renders the published archive; give --profile quick or paper"
    )


def test_the_built_pages_say_which_profile_they_show():
    """Every page of the built book: at the paper profile from the archive where the archive holds its whole
    grid (sidecar with provenance, a "Paper scale" note), else quick with the banner saying so."""
    require_built(ROOT / "book" / "figures", "the built book")
    index = read_index(archive.archive_root(ROOT))
    for path in sorted((ROOT / "book" / "generated").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        mine = nb.metadata.get(META_KEY, {})
        if mine.get("placeholder") or "papermill" not in nb.metadata:
            continue
        data = json.loads((ROOT / "book" / "figures" / f"{path.stem}.json").read_text())
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        if mine.get("fallback"):
            assert data["profile"] == "quick" and "Quick profile, not the paper's scale" in text, path.stem
        elif mine.get("source") == "archive":
            assert data["profile"] == "paper" and data["source"] == "archive", path.stem
            assert data["provenance"]["units"] == len(index[path.stem]["units"]), path.stem
            assert ":::{admonition} Paper scale" in text, path.stem


def test_every_notebook_has_its_quick_profile_copy_for_nbval():
    """nbval re-executes ``_build/quick/`` (pyproject's testpaths): the build leaves a quick-profile copy of
    every notebook there, whichever profile its page shows."""
    require_built(quick_dir(ROOT), "the quick-profile copies")
    for name in runner.list_notebooks(ROOT):
        path = quick_dir(ROOT) / f"{name}.ipynb"
        assert path.is_file(), f"{name}: no quick-profile copy in _build/quick/"
        assert nbformat.read(path, as_version=4).metadata[META_KEY]["profile"] == "quick", name
        sidecar = json.loads((quick_dir(ROOT) / "figures" / f"{name}.json").read_text())
        entry = read_index(archive.archive_root(ROOT)).get(f"{name}:quick", {})
        if archive.renders_here(entry):  # archived on this platform: read, not computed
            assert sidecar["run"]["mode"] == "archive", f"{name}: its quick-profile units were computed, not read"


def test_bit_for_bit_needs_the_same_torch_device_type_and_cpu_model():
    from lossdyn.pipeline.device import cpu_model

    here = {"torch": torch.__version__, "device": "cpu", "cpu": cpu_model()}
    assert archive.same_platform(here, "cpu") and not archive.same_platform({**here, "cpu": None}, "cpu")
    assert not archive.same_platform({**here, "cpu": "Another CPU"}, "cpu")
    assert not archive.same_platform({**here, "torch": "0.0"}, "cpu")
    assert not archive.same_platform(here, "cuda")
    entry = {"torch": [torch.__version__], "devices": ["cpu"], "cpus": [cpu_model()]}
    assert archive.renders_here(entry) is (not torch.cuda.is_available())
    assert not archive.renders_here({**entry, "cpus": [cpu_model(), "None"]})


def test_the_archive_holds_every_quick_grid_of_the_current_code():
    """So a fresh clone's build computes no unit: after a change to the code that computes a page, run its
    quick profile and ``python -m lossdyn publish NOTEBOOK --profile quick``."""
    for (job,) in (runner.plan_jobs(only=[name], root=ROOT) for name in runner.list_notebooks(ROOT)):
        have, n = archive.archived_counts(job.cfg, archive.archive_root(ROOT))
        assert have == n, f"{job.name}: the archive holds {have} of the {n} units of its quick profile"


def test_the_archive_keeps_what_the_two_spirals_pages_read(published, dirs, monkeypatch):
    """The horizon page's units lose the objective's history between its first and last step and the
    terminal loss's history; every status and layer curve the page reads is unchanged."""
    from lossdyn.dissipativity.spirals import network_status

    cfg, first, entry = published
    _, archive_dir = dirs
    unit, _ = cache.load_unit(next(iter(entry["units"].values()))["key"], archive_dir)
    assert unit["history_objective"].shape == (2,) and "history_terminal" not in unit
    monkeypatch.setenv("LOSSDYN_CACHE", "archive")
    again, _ = cache.cached_run(cfg)
    assert [network_status(r) for r in again.networks] == [network_status(r) for r in first.networks]
    assert all(torch.equal(a.train.loss, b.train.loss) for a, b in zip(again.networks, first.networks))
