"""One plotting style and one saver for every figure of the book.

:func:`save_figure` writes ``book/figures/<notebook>.{png,svg,pdf}``, byte-stable across
runs (no dates, fixed SVG hash salt), and the JSON sidecar ``<notebook>.json`` with the
resolved parameters, the numbers the page quotes, the claims with verdicts and where the
result came from (cache key, device, compute time). The runner points ``LOSSDYN_FIGURE_DIR`` at its
staging folder, so a notebook run that fails later publishes no figure (:mod:`lossdyn.pipeline.runner`);
the sidecar names the cache folder relative to the repository, never by its machine path.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from lossdyn.pipeline.cache import CacheInfo
from lossdyn.pipeline.claims import Claim
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.paths import figure_dir, find_root

__all__ = ["PALETTE", "edge_of_stability", "letter_panels", "new_figure", "save_figure", "show_figure", "style"]

#: Colour-blind-safe palette (Okabe–Ito), class 0 first.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

_RC = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "image.cmap": "viridis",
}

_FORMATS = ("png", "svg", "pdf")
_NO_DATES = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The book's matplotlib style, as a context (no global state is changed)."""
    with matplotlib.rc_context(_RC):
        yield


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.0, height: float = 3.4, **kw: Any):
    """A ``Figure`` (not registered with pyplot) and its axes, in the book's style."""
    with style():
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def edge_of_stability(ax, eta, *, color: str = "0.2", ls: str = "--", lw: float = 1.0, label: str | None = None):
    """Draw the edge of stability λ = 2/η of gradient descent (Paper 2, Figs. 1, 2 and 5).

    A scalar ``eta`` draws the horizontal line λ = 2/η; an array of learning rates draws the curve
    2/η against η (Fig. 5's axes). Returns the matplotlib artist.
    """
    import numpy as np

    if np.ndim(eta) == 0:
        return ax.axhline(2.0 / eta, color=color, ls=ls, lw=lw, label=label)
    eta = np.asarray(eta, dtype=float)
    return ax.plot(eta, 2.0 / eta, ls, color=color, lw=lw, label=label)[0]


def letter_panels(axes) -> None:
    """Prefix every axis title with its panel letter, "(a) ", "(b) ", … in the order given, left-aligned."""
    import string

    for letter, ax in zip(string.ascii_lowercase, axes):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({letter}) {title}", loc="left")


def show_figure(fig: Figure, *, dpi: int = 110):
    """The figure as an inline PNG for a notebook (``IPython.display.Image``); no pyplot state involved."""
    import io

    from IPython.display import Image

    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=dpi, metadata=_NO_DATES["png"])
    return Image(data=buf.getvalue(), format="png")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # tensors and numpy arrays
        return _jsonable(value.tolist())
    return value


def _portable_run(info: CacheInfo) -> dict[str, Any]:
    """The sidecar's ``run``: the cache folder relative to the repository (``$LOSSDYN_CACHE_DIR/…`` outside it)."""
    run = info.to_dict()
    path = Path(run.get("path") or "-")
    if path.is_absolute():
        try:
            run["path"] = path.relative_to(find_root()).as_posix()
        except (ValueError, FileNotFoundError):
            run["path"] = f"$LOSSDYN_CACHE_DIR/{path.name}"
    return run


def save_figure(
    fig: Figure,
    cfg: ExperimentConfig,
    *,
    numbers: Mapping[str, Any],
    claims: Sequence[Claim],
    info: CacheInfo,
    out_dir: Path | None = None,
) -> dict[str, str]:
    """Write the figure in PNG/SVG/PDF and its JSON sidecar; returns ``{format: path}``.

    ``out_dir`` defaults to ``LOSSDYN_FIGURE_DIR`` if set (the runner's staging folder), else
    ``book/figures`` (both created). Raises ``FileNotFoundError`` if ``out_dir`` is given and does not exist.
    """
    if out_dir is None:
        env = os.environ.get("LOSSDYN_FIGURE_DIR", "")
        out_dir = Path(env) if env else figure_dir()
        out_dir.mkdir(parents=True, exist_ok=True)
    elif not out_dir.is_dir():
        raise FileNotFoundError(f"figure folder {out_dir} does not exist")
    name = cfg.notebook
    paths = {fmt: out_dir / f"{name}.{fmt}" for fmt in _FORMATS}
    with style(), matplotlib.rc_context({"svg.hashsalt": name}):
        for fmt, path in paths.items():
            fig.savefig(path, format=fmt, metadata=_NO_DATES[fmt])
    sidecar = {
        "notebook": name,
        "parameters": cfg.to_dict(),
        "numbers": _jsonable(dict(numbers)),
        "claims": [c.to_dict() for c in claims],
        "run": _portable_run(info),
        "files": {fmt: p.name for fmt, p in paths.items()},
    }
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(sidecar, indent=2, sort_keys=False) + "\n")
    return {**{fmt: str(p) for fmt, p in paths.items()}, "json": str(json_path)}
