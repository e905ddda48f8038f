"""Small formatting helpers shared by reports and comparison tables."""

from __future__ import annotations

import html
from collections.abc import Sequence

MISSING = "–"


def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal ("43.6"); "–" when missing."""
    return MISSING if value is None else f"{100 * value:.1f}"


def pct_ci(ci: Sequence[float] | None) -> str:
    """A CI as "[40.1, 47.0]" in percent; "–" when missing."""
    return MISSING if ci is None else f"[{pct(ci[0])}, {pct(ci[1])}]"


def num(value: float | None, digits: int = 1) -> str:
    """A plain number with fixed decimals; "–" when missing."""
    return MISSING if value is None else f"{value:.{digits}f}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table (first column left-, the rest right-aligned)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    align = [":---"] + ["---:"] * (len(headers) - 1)
    return "\n".join([line(headers), line(align), *(line(r) for r in rows)])


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table with escaped cells."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
