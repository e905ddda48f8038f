"""Refusal rates with 95% bootstrap intervals, harmful and benign side by side per condition."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure

KIND_COLOURS = {"harmful": "#c0392b", "benign": "#2e86c1"}
LABEL_GAP = 1.5
"""Points (percent) between the upper end of an interval and its label."""


def condition_of(row: dict) -> str:
    """The condition's name without its leading kind ("harmful TYPO" -> "TYPO")."""
    name = str(row["condition"])
    kind = str(row["kind"])
    return name[len(kind) + 1 :] if name.startswith(kind + " ") else name


def refusal_figure(rows: list[dict], title: str) -> Figure:
    """One group per condition, a harmful and a benign bar in it.

    Each percentage sits just past the upper end of its bar's interval, so no label
    overlaps an error bar; the x axis leaves room for labels of intervals reaching 100%.
    """
    groups: list[str] = []
    for r in rows:
        if condition_of(r) not in groups:
            groups.append(condition_of(r))
    kinds = [k for k in KIND_COLOURS if any(r["kind"] == k for r in rows)]
    height = 0.8 / max(len(kinds), 1)
    fig = Figure(figsize=(8.5, 0.42 * len(groups) * max(len(kinds), 1) + 1.6))
    ax = fig.subplots()
    for k, kind in enumerate(kinds):
        for r in (r for r in rows if r["kind"] == kind):
            g = len(groups) - 1 - groups.index(condition_of(r))
            y = g + (len(kinds) - 1 - 2 * k) * height / 2
            v = 100 * r["refusal"]
            lo, hi = (100 * x for x in (r.get("ci95") or (r["refusal"], r["refusal"])))
            ax.barh(
                y,
                v,
                height=height * 0.9,
                xerr=[[v - lo], [hi - v]],
                color=KIND_COLOURS.get(kind, "grey"),
                capsize=3,
                label=kind if r is next(x for x in rows if x["kind"] == kind) else None,
            )
            ax.text(hi + LABEL_GAP, y, f"{v:.0f}%", va="center", fontsize=8)
    ax.set_yticks(range(len(groups)), groups[::-1], fontsize=8)
    ax.set_xlim(0, 100 + 6 * LABEL_GAP + 6)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("refused (%), keyword judge, 95% bootstrap CI")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_refusals(rows: list[dict], path: Path, title: str) -> Path:
    """`refusal_figure` saved as PNG at `path`, plus a JSON of the rows beside it."""
    fig = refusal_figure(rows, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    path.with_suffix(".json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path
