"""Bar charts of grouped ASR with CI error bars, saved as PNG next to a JSON of their numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def chart_data(groups: dict[str, dict[str, Any]], title: str, **context: Any) -> dict[str, Any]:
    """The numbers a grouped-ASR chart shows (percent), as a JSON-ready dict."""
    bars = []
    for label, g in groups.items():
        asr, ci = g.get("asr"), g.get("ci")
        bars.append(
            {
                "label": label,
                "asr_pct": None if asr is None else 100 * asr,
                "ci_low_pct": None if ci is None else 100 * ci[0],
                "ci_high_pct": None if ci is None else 100 * ci[1],
                "n": g.get("n", 0),
                "small_n": bool(g.get("small_n", False)),
            }
        )
    return {"title": title, "unit": "ASR (%)", **context, "bars": bars}


def _whiskers(bar: dict[str, Any]) -> tuple[float, float]:
    """Distances from the bar's value to its CI ends (0 when there is no CI)."""
    v, lo, hi = bar["asr_pct"], bar["ci_low_pct"], bar["ci_high_pct"]
    return (0.0, 0.0) if lo is None or hi is None else (max(0.0, v - lo), max(0.0, hi - v))


def plot_grouped_asr(
    groups: dict[str, dict[str, Any]],
    png_path: str | Path,
    title: str,
    level: float = 0.95,
    **context: Any,
) -> Path:
    """Draw horizontal ASR bars with CI whiskers; write PNG and a same-stem JSON; return PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    data = chart_data(groups, title, ci_level=level, **context)
    bars = [b for b in data["bars"] if b["asr_pct"] is not None]
    labels = [f"{b['label']} (n={b['n']}{', small n' if b['small_n'] else ''})" for b in bars]
    values = [b["asr_pct"] for b in bars]
    low, high = zip(*(_whiskers(b) for b in bars), strict=True) if bars else ((), ())

    fig = Figure(figsize=(7.5, 1.2 + 0.38 * max(1, len(bars))), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ypos = list(range(len(bars)))
    ax.barh(
        ypos, values, xerr=[list(low), list(high)], color="#4c72b0", ecolor="#222222", capsize=3
    )
    for y, v, up in zip(ypos, values, high, strict=True):
        ax.text(min(v + up + 1.5, 93), y, f"{v:.1f}", va="center", fontsize=8)
    ax.set_yticks(ypos, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"ASR (%), whiskers: {100 * level:g}% bootstrap CI")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    png_path.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    return png_path
