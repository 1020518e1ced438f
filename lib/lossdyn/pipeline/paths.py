"""Repository paths, resolved from the repository root (the folder holding ``_config.yml``).

Papermill runs a kernel in the caller's folder, nbval and Jupyter Book in the notebook's
own folder; resolving from the root makes every tool write to the same place.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["find_root", "figure_dir", "generated_dir", "notebook_dir", "params_dir", "results_dir"]

_MARKER = "_config.yml"


def find_root(start: Path | None = None) -> Path:
    """The repository root: walk up from ``start`` (default: cwd), else from this package."""
    for base in (Path.cwd() if start is None else Path(start), Path(__file__)):
        for folder in (base.resolve(), *base.resolve().parents):
            if (folder / _MARKER).is_file() and (folder / "lib" / "lossdyn").is_dir():
                return folder
    raise FileNotFoundError(f"no repository root ({_MARKER} next to lib/lossdyn) above {Path.cwd()}")


def figure_dir(root: Path | None = None) -> Path:
    return (root or find_root()) / "book" / "figures"


def generated_dir(root: Path | None = None) -> Path:
    return (root or find_root()) / "book" / "generated"


def notebook_dir(root: Path | None = None) -> Path:
    return (root or find_root()) / "notebooks"


def params_dir(root: Path | None = None) -> Path:
    return (root or find_root()) / "params"


def results_dir(root: Path | None = None) -> Path:
    return (root or find_root()) / "results"
