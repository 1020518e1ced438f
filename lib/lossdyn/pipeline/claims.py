"""Claims a page checks: what the paper says, what we measured, and the verdict."""

from __future__ import annotations

import dataclasses

__all__ = ["Claim", "VERDICTS", "format_claims", "format_rows", "verdict"]

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
