"""Claims a page checks: what the paper says, what we measured, and the verdict."""

from __future__ import annotations

import dataclasses

__all__ = ["Claim", "ClaimTable", "VERDICTS", "badge", "claim_table", "format_claims", "format_rows", "verdict"]

#: ``not measured``: the run cannot decide the claim (a grid claim without the grid, runs that did not train
#: into the claim's regime, diverged runs only); it is never a pass.
VERDICTS = ("reproduced", "partial", "not reproduced", "not measured")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checked statement; ``verdict`` is one of :data:`VERDICTS`."""

    id: str
    claim: str
    measured: str
    verdict: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} not in {VERDICTS}")

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def verdict(holds: bool, *, partly: bool = False, measurable: bool = True) -> str:
    """``not measured`` unless ``measurable``; else ``reproduced`` if ``holds``, ``partial`` if only ``partly``,
    else ``not reproduced``."""
    if not measurable:
        return "not measured"
    return "reproduced" if holds else ("partial" if partly else "not reproduced")


def format_claims(claims: list[Claim]) -> str:
    """A plain-text table of claims for a notebook's printed output."""
    import textwrap

    lines = []
    for c in claims:
        lines += textwrap.wrap(f"[{c.verdict}] {c.id}: {c.claim}", width=96, subsequent_indent="    ")
        lines += textwrap.wrap(f"measured: {c.measured}", width=96, initial_indent="    ", subsequent_indent="      ")
    return "\n".join(lines)


def format_rows(rows: list[tuple[str, str]]) -> str:
    """``(label, value)`` rows as aligned plain text (the notebooks' fixed-precision tables)."""
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def badge(verdict_text: str) -> str:
    """The verdict as an HTML badge (``<span class="verdict verdict-partial">partial</span>``; styled by
    ``book/_static/lossdyn.css``)."""
    if verdict_text not in VERDICTS:
        raise ValueError(f"verdict {verdict_text!r} not in {VERDICTS}")
    return f'<span class="verdict verdict-{verdict_text.replace(" ", "-")}">{verdict_text}</span>'


def _html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


class ClaimTable:
    """A page's claims as a table: HTML with verdict badges in the rendered book (``_repr_html_``), the
    fixed-width text of :func:`format_claims` everywhere else (``__repr__``; what nbval compares)."""

    def __init__(self, claims: list[Claim]):
        self.claims = list(claims)

    def __repr__(self) -> str:
        return format_claims(self.claims)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{_html_escape(c.id)}</td><td>{_html_escape(c.claim)}</td>"
            f"<td>{_html_escape(c.measured)}</td><td>{badge(c.verdict)}</td></tr>"
            for c in self.claims
        )
        head = "<tr><th>claim</th><th>the paper says</th><th>we measure</th><th>verdict</th></tr>"
        return f'<table class="claims-table"><thead>{head}</thead><tbody>{rows}</tbody></table>'


def claim_table(claims: list[Claim]) -> ClaimTable:
    """:class:`ClaimTable` of ``claims`` (a notebook's last expression: a table in the book, text in nbval)."""
    return ClaimTable(claims)
