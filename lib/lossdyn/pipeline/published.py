"""The default build: every page at the paper profile, read from the published archive, computing nothing.

``python -m lossdyn build`` (profile ``archive``, the default without ``-p``) renders a notebook at the
paper profile when the archive (:mod:`lossdyn.pipeline.archive`) holds every unit of its paper-profile
grid, with the results cache in mode ``archive`` (units come from the archive only; nothing is
computed). A notebook whose archive is incomplete is rendered at the quick profile, and its page opens
with a banner saying so and how many units the archive holds. A paper-scale page opens with where and
when its units were computed and their compute time, and its sidecar records ``profile``, ``source``
and the units' ``provenance``.

Beside the book, every notebook is also executed at the quick profile into a folder of its own,
:func:`quick_dir` (``_build/quick/``): these are the copies that nbval re-executes (results cache off)
and compares, and their sidecars give the claims page the quick-profile verdicts. The archive holds the
quick-profile grids too: on a machine of the platform they were computed on (torch version, CPU model;
:func:`lossdyn.pipeline.archive.renders_here`) these copies are rendered from it as well and the build
computes no unit at all, and nbval's re-execution recomputes them from the code, bit for bit; on any
other machine they are computed, so that nbval compares numbers computed on one platform.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "annotate_sidecar",
    "archive_status",
    "page_banner",
    "provenance",
    "quick_dir",
    "quick_sidecar",
]


def quick_dir(root: Path) -> Path:
    """``_build/quick/``: the quick-profile executed copies (nbval's) and their figures and sidecars."""
    return root / "_build" / "quick"


def quick_sidecar(name: str, root: Path) -> dict[str, Any]:
    """The quick-profile sidecar of notebook ``name`` from :func:`quick_dir` ({} if there is none)."""
    path = quick_dir(root) / "figures" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def archive_status(cfg: Any, root: Path, profile: str = "paper") -> tuple[int, int, dict[str, Any]]:
    """(units of ``cfg``'s grid in the archive, units in its grid, the index entry of its ``profile`` or {})."""
    from lossdyn.pipeline.archive import archive_root, archived_counts, entry_name, read_index

    archive = archive_root(root)
    have, n = archived_counts(cfg, archive)
    return have, n, read_index(archive).get(entry_name(cfg.notebook, profile), {})


def provenance(entry: dict[str, Any]) -> dict[str, Any]:
    """Where, when and on what the archived units of a notebook were computed (from its index entry)."""
    keys = ("compute_seconds", "devices", "machines", "commits", "torch", "computed", "published")
    return {"units": len(entry.get("units", {})), **{k: entry.get(k) for k in keys}}


def _dates(computed: list[str] | None) -> str:
    """ "2026-12-02", "2026-12-02 to 2026-12-03" or "an unrecorded date" from ISO timestamps."""
    days = sorted({c[:10] for c in computed or [] if c})
    if not days:
        return "an unrecorded date"
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def page_banner(source: str, prov: dict[str, Any] | None = None, fallback: str | None = None) -> str:
    """The Markdown a page opens with (under its title): where its numbers come from."""
    from lossdyn.pipeline.pages import _hours  # the status and scale pages' durations

    if fallback is not None:
        return (
            ":::{admonition} Quick profile, not the paper's scale\n:class: warning\n"
            f"This page shows the **quick profile**: {fallback}. Its figures and verdicts are those of a small "
            "run; `python -m lossdyn sweep` computes the paper profile, `python -m lossdyn publish` archives it.\n:::\n"
        )
    if source != "archive" or not prov:
        return ""
    devices = ", ".join(prov.get("devices") or ["?"])
    machines = ", ".join(prov.get("machines") or ["?"])
    commits = ", ".join(c[:7] for c in prov.get("commits") or [])
    return (
        ":::{admonition} Paper scale\n:class: note\n"
        f"Every number and figure on this page is computed at the paper's scale: {prov['units']} units, "
        f"{_hours(float(prov.get('compute_seconds') or 0))} of compute on {devices} ({machines}), "
        f"{_dates(prov.get('computed'))}, at commit {commits or 'unrecorded'} with torch "
        f"{', '.join(prov.get('torch') or ['?'])}; read from the published archive `results/paper/`, "
        "computing nothing. The parameters cell below shows the quick defaults; the paper profile's values are "
        "listed under *Reproduce this page*.\n:::\n"
    )


def annotate_sidecar(path: Path, *, profile: str, source: str, prov: dict[str, Any] | None) -> None:
    """Record in a staged sidecar its ``profile``, its ``source`` (``archive``: read from the published
    archive; ``cache``: every unit from the local cache; ``computed``: some computed by this run) and,
    for an archived page, the units' ``provenance``."""
    data = json.loads(path.read_text())
    data["profile"] = profile
    data["source"] = source if source == "archive" else ("cache" if data.get("run", {}).get("hit") else "computed")
    if prov:
        data["provenance"] = prov
    path.write_text(json.dumps(data, indent=2) + "\n")
