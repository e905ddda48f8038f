"""Bar chart of refusal rates with 95% bootstrap intervals, saved next to its numbers."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure


def plot_refusals(rows: list[dict], path: Path, title: str) -> Path:
    """One bar per condition (harmful red, benign blue); PNG plus a JSON of the rows."""
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.4))
    ax = fig.subplots()
    names = [r["condition"] for r in rows][::-1]
    vals = [100 * r["refusal"] for r in rows][::-1]
    err = [
        [100 * (r["refusal"] - r["ci95"][0]) for r in rows][::-1],
        [100 * (r["ci95"][1] - r["refusal"]) for r in rows][::-1],
    ]
    colours = ["#c0392b" if r["kind"] == "harmful" else "#2e86c1" for r in rows][::-1]
    ax.barh(names, vals, xerr=err, color=colours, capsize=3)
    for y, v in enumerate(vals):
        ax.text(min(v + 2, 92), y, f"{v:.0f}%", va="center", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("refused (%), keyword judge, 95% bootstrap CI")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    path.with_suffix(".json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path
