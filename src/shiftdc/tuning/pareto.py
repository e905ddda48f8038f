"""The Pareto plot: benign over-refusal vs harmful refusal, one point per configuration."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: label offsets (points) tried in order until a label overlaps nothing already drawn
_OFFSETS = [
    (dx * r, dy * r)
    for r in (6, 14, 24, 36, 50, 66, 84, 105)
    for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
]


def pareto_plot(
    rows: Sequence[dict[str, Any]], chosen: str | None, path: Path, benign_margin: float = 0.05
) -> tuple[list, Any]:
    """Write the plot; points at the same place share one label; labels avoid each other and
    the markers and stay inside the axes. The counterpart's rates are drawn as dashed lines,
    the benign limit of the rule shaded. Returns the label boxes and the axes' box (display
    pixels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    at: dict[tuple[float, float], list[str]] = defaultdict(list)
    for r in rows:
        if r["benign_refusal"] is None or r["harmful_refusal"] is None:
            continue
        xy = (100 * r["benign_refusal"], 100 * r["harmful_refusal"])
        at[xy].append(r["config"])
        style = {"counterpart": ("*", "tab:green", 14), "direct": ("s", "tab:gray", 8)}
        marker, colour, size = style.get(r["config"], ("o", "tab:blue", 7))
        top = r["config"] == chosen  # drawn over the points that share its place
        if top:
            marker, colour, size = "D", "tab:red", 9
        z = 3 if top else 2
        ax.plot(*xy, marker=marker, color=colour, markersize=size, linestyle="none", zorder=z)
    cp = next((r for r in rows if r["config"] == "counterpart"), None)
    if cp and cp["benign_refusal"] is not None and cp["harmful_refusal"] is not None:
        kw = {"color": "tab:green", "linestyle": "--", "linewidth": 0.8}
        ax.axvline(100 * cp["benign_refusal"], **kw, label="text-only counterpart")
        ax.axhline(100 * cp["harmful_refusal"], **kw)
        limit = 100 * (cp["benign_refusal"] + benign_margin)
        ax.axvspan(-5, limit, color="tab:green", alpha=0.07, label="benign limit of the rule")
        ax.legend(loc="lower right", fontsize=7)
    ax.set_xlim(-5, 105)
    ax.set_ylim(-5, 105)
    ax.set_xlabel("benign over-refusal (%)")
    ax.set_ylabel("harmful refusal (%)")
    ax.set_title("ShiftDC configurations (star: text-only counterpart; red: recommended)")
    ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.09, right=0.76, bottom=0.1, top=0.93)  # before placing labels
    boxes = place_labels(fig, ax, at)
    frame = ax.get_window_extent()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return boxes, frame


def place_labels(fig: Any, ax: Any, at: dict[tuple[float, float], list[str]]) -> list:
    """Annotate each point with its names at the first offset inside the axes that overlaps
    no earlier label and no marker; where none is free, a short number instead, named in a
    key beside the axes. Returns the label boxes in display pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    taken = [ax.transData.transform(xy) for xy in at]  # marker centres, in pixels
    frame = ax.get_window_extent()
    boxes: list = []
    key: list[str] = []

    def try_place(label: str, xy: tuple[float, float]) -> bool:
        for dx, dy in _OFFSETS:
            t = ax.annotate(
                label,
                xy,
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=6,
                ha="left" if dx >= 0 else "right",
                va="bottom" if dy >= 0 else "top",
                arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.4"} if abs(dx) > 6 else None,
            )
            box = t.get_window_extent(renderer).expanded(1.05, 1.1)
            hits_marker = any(box.contains(px, py) for px, py in taken)
            inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
            if inside and not hits_marker and not any(box.overlaps(b) for b in boxes):
                boxes.append(box)
                return True
            t.remove()
        return False

    for xy, names in sorted(at.items()):
        if not try_place("\n".join(names), xy):
            number = f"#{len(key) + 1}"
            key.append(f"{number}: {', '.join(names)}")
            if not try_place(number, xy):
                raise RuntimeError(f"no free place for label {number}")  # not seen in practice
    if key:
        fig.text(0.78, 0.95, "\n".join(key), fontsize=6, va="top", ha="left")
    return boxes
