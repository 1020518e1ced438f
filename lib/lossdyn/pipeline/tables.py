"""Result tables and generated prose for the pages: formatted in the book, plain fixed-precision
text everywhere else.

A notebook's table is a :class:`Table` (the last expression of a cell): the rendered book shows an
HTML table (numbers right-aligned at fixed precision, a caption, scrolling sideways inside the
column when wide; styled by ``book/_static/lossdyn.css``), while ``repr`` gives the same cells as
fixed-width text, which is what nbval compares when it re-executes a notebook. :class:`Prose` is a
sentence generated from a result (Markdown in the book, the same text in nbval): the way a page
quotes a measured number without typing it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Prose", "Table", "cell_text"]


def cell_text(value: Any, fmt: str = ".3f") -> str:
    """One cell: strings as they are, ``None`` as "–", booleans as yes/no, integers in full, other
    numbers with ``fmt`` (non-finite as "nan"/"inf")."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    return format(value, fmt) if math.isfinite(value) else str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Table:
    """A formatted table: ``columns`` (headers), ``rows`` (cells: numbers, strings, ``None``),
    ``formats`` (column → format spec for its numbers, default ``.3f``), an optional ``caption``."""

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        caption: str = "",
        formats: Mapping[str, str] | None = None,
    ):
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        bad = [i for i, r in enumerate(self.rows) if len(r) != len(self.columns)]
        if bad:
            raise ValueError(f"rows {bad} do not have {len(self.columns)} cells")
        self.caption = caption
        self.formats = dict(formats or {})

    def text_rows(self) -> list[list[str]]:
        """The cells as the text both renderings show."""
        fmts = [self.formats.get(c, ".3f") for c in self.columns]
        return [[cell_text(v, f) for v, f in zip(row, fmts)] for row in self.rows]

    def __repr__(self) -> str:
        cells = [self.columns, *self.text_rows()]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = [self.caption] if self.caption else []
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for row, text in zip(self.rows, self.text_rows()):
            tds = "".join(
                f'<td class="num">{html.escape(t)}</td>' if _numeric(v) else f"<td>{html.escape(t)}</td>"
                for v, t in zip(row, text)
            )
            body.append(f"<tr>{tds}</tr>")
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (
            f'<div class="lossdyn-table-wrap"><table class="lossdyn-table">{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )


class Prose:
    """Generated Markdown (sentences quoting measured numbers, math in ``$…$``): rendered as Markdown
    in the book (myst-nb reads ``text/markdown`` outputs), the same text in ``repr``."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text
