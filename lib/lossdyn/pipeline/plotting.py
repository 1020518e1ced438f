"""One plotting style, one way to show and one saver for every figure of the book.

A figure module's ``plot(res)`` returns the page's figures as a list of :class:`Shown` (a figure, its
caption, its alt text, a file name), each sized to be legible at the book's content width
(:data:`CONTENT_WIDTH_PX`; text at least :data:`MIN_TEXT_PX` px on screen: checked in the browser
test from the image's natural and displayed size and the smallest font it uses). :func:`show_figure`
puts them into the page (HTML: a click opens the image at full resolution); :func:`save_figure`
writes ``book/figures/<notebook>.{png,svg,pdf}`` for the first and ``<notebook>-<name>.{…}`` for
the others, byte-stable across runs (no dates, fixed SVG hash salt), and the JSON sidecar
``<notebook>.json`` with the resolved parameters, the numbers the page quotes, the claims with
verdicts, the figures (caption, alt text, files, smallest font) and where the result came from
(cache key, device, compute time). The runner points ``LOSSDYN_FIGURE_DIR`` at its
staging folder, so a notebook run that fails later publishes no figure (:mod:`lossdyn.pipeline.runner`);
the sidecar names the cache folder relative to the repository, never by its machine path.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import io
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

__all__ = [
    "CONTENT_WIDTH_PX",
    "MIN_TEXT_PX",
    "PALETTE",
    "Shown",
    "edge_of_stability",
    "letter_panels",
    "log_ticks",
    "min_font_pt",
    "new_figure",
    "save_figure",
    "show_figure",
    "shown_list",
    "style",
    "text_px",
]

#: The width of the book's text column at a 1400 px window (the theme's content width), and the
#: smallest on-screen text size a figure may have there.
CONTENT_WIDTH_PX = 780
MIN_TEXT_PX = 9.0
#: Resolution of the images in the page and in the files (the page shows them scaled to the column;
#: a click opens them at this full resolution).
DPI = 200

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


def log_ticks(ax) -> None:
    """Readable labels on a log y axis: plain numbers on the major ticks (at 1, 2 and 5 per decade when the
    axis spans less than two decades, so it keeps a few), none on the minor ticks."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.autoscale_view()
    lo, hi = ax.get_ylim()
    short = hi / lo < 100.0
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if short else (1.0,)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def letter_panels(axes, start: int = 0) -> None:
    """Prefix every axis title with its panel letter, "(a) ", "(b) ", … in the order given, left-aligned;
    ``start`` skips letters (a page's second figure group goes on where the first stopped, so the
    letters of a page stay unique)."""
    import string

    for letter, ax in zip(string.ascii_lowercase[start:], axes):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({letter}) {title}", loc="left")


@dataclasses.dataclass
class Shown:
    """One figure of a page: a panel or a group of panels legible at the content width.

    ``caption`` names it as the paper does ("Paper 2, Figure 5 (a)") or as the companion's own
    ("Companion figure"), then says what it shows; ``alt`` describes the image for a reader who
    cannot see it; ``name`` is the file-name suffix ("" for the page's first figure)."""

    fig: Figure
    caption: str
    alt: str
    name: str = ""


def shown_list(plotted: Figure | Sequence[Shown]) -> list[Shown]:
    """A figure module's ``plot`` output as a list of :class:`Shown` (a bare ``Figure`` becomes one
    without caption or alt text, which the page checks refuse)."""
    if isinstance(plotted, Figure):
        return [Shown(plotted, "", "")]
    shown = list(plotted)
    names = [s.name for s in shown]
    if not shown or len(set(names)) != len(names):
        raise ValueError(f"figures need distinct names: {names}")
    return shown


def min_font_pt(fig: Figure) -> float:
    """The smallest font size (pt) of any visible, non-empty text of ``fig`` (tick labels, legends,
    titles, annotations; the figure must have been drawn, e.g. saved, so its ticks exist)."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return float(min(sizes)) if sizes else float("inf")


def text_px(fig: Figure, column_px: float = CONTENT_WIDTH_PX) -> float:
    """The on-screen size (px) of the smallest text of ``fig`` when the page shows it in a column
    ``column_px`` wide: min font (pt) · DPI/72 · min(1, column / natural width of the PNG). A figure
    is legible when this is at least :data:`MIN_TEXT_PX` (what the browser test measures)."""
    png = _png(fig)
    natural = int.from_bytes(png[16:20], "big")  # the IHDR width of the PNG
    return min_font_pt(fig) * DPI / 72.0 * min(1.0, column_px / natural)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=DPI, metadata=_NO_DATES["png"])
    return buf.getvalue()


class ShownFigures:
    """A page's figures in a notebook: ``<figure>`` elements in the book (``_repr_html_``: the PNG,
    its alt text, the smallest font and the resolution as data attributes for the legibility check,
    a click to enlarge), the captions as text everywhere else (``__repr__``; what nbval compares)."""

    def __init__(self, shown: Sequence[Shown]):
        self.shown = list(shown)
        self._html = [self._figure(s) for s in self.shown]

    @staticmethod
    def _figure(s: Shown) -> str:
        data = base64.b64encode(_png(s.fig)).decode()
        pt = min_font_pt(s.fig)
        return (
            f'<figure class="lossdyn-figure"><img class="lossdyn-zoom" src="data:image/png;base64,{data}" '
            f'alt="{html.escape(s.alt)}" data-min-font-pt="{pt:g}" data-dpi="{DPI}" '
            f'title="click to enlarge"><figcaption>{html.escape(s.caption)}</figcaption></figure>'
        )

    def __repr__(self) -> str:
        return "\n".join(f"[figure] {s.caption}" for s in self.shown)

    def _repr_html_(self) -> str:
        return "".join(self._html)


def show_figure(plotted: Figure | Sequence[Shown]) -> ShownFigures:
    """The page's figures for a notebook (:class:`ShownFigures`); no pyplot state involved."""
    return ShownFigures(shown_list(plotted))


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
    plotted: Figure | Sequence[Shown],
    cfg: ExperimentConfig,
    *,
    numbers: Mapping[str, Any],
    claims: Sequence[Claim],
    info: CacheInfo,
    out_dir: Path | None = None,
) -> dict[str, str]:
    """Write the figures in PNG/SVG/PDF and the JSON sidecar; returns ``{format: path}`` of the first
    figure and ``json``.

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
    shown = shown_list(plotted)
    if shown[0].name:
        raise ValueError(
            f"the first figure of a page is saved as {name}.png: its name must be empty, not {shown[0].name!r}"
        )
    written = []
    for s_ in shown:
        stem = name if not s_.name else f"{name}-{s_.name}"
        paths = {fmt: out_dir / f"{stem}.{fmt}" for fmt in _FORMATS}
        with style(), matplotlib.rc_context({"svg.hashsalt": stem}):
            for fmt, path in paths.items():
                s_.fig.savefig(path, format=fmt, metadata=_NO_DATES[fmt])
        written.append({"paths": paths, "shown": s_})
    sidecar = {
        "notebook": name,
        "parameters": cfg.to_dict(),
        "numbers": _jsonable(dict(numbers)),
        "claims": [c.to_dict() for c in claims],
        "run": _portable_run(info),
        "files": {fmt: p.name for fmt, p in written[0]["paths"].items()},
        "figures": [_figure_record(w["shown"], w["paths"]) for w in written],
    }
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(sidecar, indent=2, sort_keys=False) + "\n")
    return {**{fmt: str(p) for fmt, p in written[0]["paths"].items()}, "json": str(json_path)}


def _figure_record(s: Shown, paths: Mapping[str, Path]) -> dict[str, Any]:
    width, height = s.fig.get_size_inches()
    return {
        "name": s.name,
        "caption": s.caption,
        "alt": s.alt,
        "files": {fmt: p.name for fmt, p in paths.items()},
        "min_font_pt": min_font_pt(s.fig),
        "size_in": [round(float(width), 3), round(float(height), 3)],
    }
