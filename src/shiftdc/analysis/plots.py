"""Figures (matplotlib, no pyplot state): each saved as PNG beside a JSON of its numbers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .maps import Map2D
from .probes import SETTINGS, ProbeResult
from .sets import SET_LABELS, SET_NAMES
from .shift import ShiftStats

SETTING_COLORS = {
    "text->text": "tab:blue",
    "vision->vision": "tab:green",
    "text->vision": "tab:red",
}
SET_STYLE = {
    "tt_safe": ("tab:blue", "o"),
    "tt_unsafe": ("tab:red", "o"),
    "vl_safe": ("tab:cyan", "^"),
    "vl_unsafe": ("tab:orange", "^"),
}
GROUP_COLORS = {
    "unsafe": "tab:red",
    "unsafe succeeded": "tab:purple",
    "unsafe failed": "tab:olive",
    "safe": "tab:blue",
}


def to_jsonable(value: object) -> object:
    """Convert numpy values (and nested containers of them) to plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def write_json(path: Path, data: object) -> Path:
    """Write `data` as indented JSON (numpy values converted)."""
    path.write_text(json.dumps(to_jsonable(data), indent=2) + "\n")
    return path


def _subplots(nrows: int, ncols: int, **kw: object) -> tuple[Figure, object]:
    """A figure (Agg canvas, outside pyplot, so no global backend change) and its axes."""
    fig = Figure(figsize=kw.pop("figsize", None), layout=kw.pop("layout", "constrained"))
    return fig, fig.subplots(nrows, ncols, **kw)


def save_figure(fig: Figure, stem: Path, data: Mapping[str, object]) -> dict[str, str]:
    """Save `fig` as stem.png and `data` as stem.json; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, js = stem.with_suffix(".png"), stem.with_suffix(".json")
    fig.savefig(png, dpi=120, bbox_inches="tight")
    write_json(js, data)
    return {"png": str(png), "json": str(js)}


def _phases(before: object, after: object | None) -> list[tuple[str, object]]:
    """[("before", before)] plus ("after", after) when given."""
    return [("before", before)] + ([("after", after)] if after is not None else [])


def plot_probe_accuracy(
    before: ProbeResult, stem: Path, *, after: ProbeResult | None = None, layer: int | None = None
) -> dict[str, str]:
    """Probe accuracy per layer (one line per setting) and unsafe-VL-called-safe per layer."""
    fig, (ax_acc, ax_miss) = _subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    data: dict[str, object] = {"layer": layer}
    for phase, res in _phases(before, after):
        style = "-" if phase == "before" else "--"
        for setting in SETTINGS:
            ax_acc.plot(
                res.layers,
                res.accuracy[setting],
                style,
                marker=".",
                color=SETTING_COLORS[setting],
                label=f"{setting} ({phase})",
            )
        miss = res.unsafe_vl_classified_safe
        ax_miss.plot(res.layers, miss, style, marker=".", color="tab:red", label=phase)
        data[phase] = {
            "layers": res.layers,
            "accuracy": {s: res.accuracy[s] for s in SETTINGS},
            "unsafe_vl_classified_safe": miss,
        }
    ax_acc.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax_acc.set(
        xlabel="layer",
        ylabel="probe accuracy",
        ylim=(0, 1.05),
        title="Linear safety probes per layer",
    )
    ax_miss.set(
        xlabel="layer",
        ylabel="fraction",
        ylim=(0, 1.05),
        title="Unsafe VL inputs the text-only probe calls safe",
    )
    for ax in (ax_acc, ax_miss):
        if layer is not None:
            ax.axvline(layer, color="grey", lw=0.8, ls="--")
        ax.legend(fontsize=7)
    return save_figure(fig, stem, data)


def plot_confusion(
    before: ProbeResult, layer: int, stem: Path, *, after: ProbeResult | None = None
) -> dict[str, str]:
    """Confusion matrices of the three probe settings at `layer` (a row per before/after)."""
    rows = _phases(before, after)
    fig, axes = _subplots(
        len(rows), 3, figsize=(12, 3.8 * len(rows)), squeeze=False, layout="constrained"
    )
    data: dict[str, object] = {
        "layer": layer,
        "axes": "rows true, columns predicted; (safe, unsafe)",
    }
    for r, (phase, res) in enumerate(rows):
        i = res.index(layer)
        data[phase] = {s: res.confusion[s][i] for s in SETTINGS}
        for c, setting in enumerate(SETTINGS):
            cm = res.confusion[setting][i]
            frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
            ax = axes[r, c]
            ax.imshow(frac, vmin=0, vmax=1, cmap="Blues")
            for (t, p), count in np.ndenumerate(cm):
                ax.text(
                    p,
                    t,
                    f"{count}\n{frac[t, p]:.2f}",
                    ha="center",
                    va="center",
                    color="white" if frac[t, p] > 0.5 else "black",
                )
            ax.set_xticks([0, 1], ["safe", "unsafe"])
            ax.set_yticks([0, 1], ["safe", "unsafe"])
            ax.set(xlabel="predicted", ylabel="true", title=f"{setting}, layer {layer} ({phase})")
    return save_figure(fig, stem, data)


def _draw_map(ax: Axes, m: Map2D, title: str) -> None:
    """Scatter the four sets and draw the text-only boundary line."""
    for name in SET_NAMES:
        color, marker = SET_STYLE[name]
        p = m.points[name]
        ax.scatter(
            p[:, 0], p[:, 1], s=14, c=color, marker=marker, alpha=0.75, label=SET_LABELS[name]
        )
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, b = m.w, m.b
    if abs(w[1]) > abs(w[0]) * 1e-9:
        xs = np.array([x0, x1])
        ax.plot(xs, -(w[0] * xs + b) / w[1], "k--", lw=1, label="text-only boundary")
    elif abs(w[0]) > 0:
        ax.axvline(-b / w[0], color="k", ls="--", lw=1, label="text-only boundary")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    frac = m.fraction_safe_side()["vl_unsafe"]
    ax.set_title(f"{title}\nunsafe VL on text-safe side: {frac:.2f}", fontsize=9)
    ax.legend(fontsize=7, loc="best")


def plot_map(before: Map2D, stem: Path, *, after: Map2D | None = None) -> dict[str, str]:
    """2-D map of the four sets with the text-only boundary (before, and after if given)."""
    panels = _phases(before, after)
    fig, axes = _subplots(
        1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False, layout="constrained"
    )
    data: dict[str, object] = {}
    for ax, (phase, m) in zip(axes[0], panels, strict=True):
        _draw_map(ax, m, f"{m.method.upper()} at layer {m.layer} ({phase})")
        data[phase] = m.to_dict()
    return save_figure(fig, stem, data)


def plot_shift(
    before: Mapping[str, ShiftStats | None],
    stem: Path,
    *,
    after: Mapping[str, ShiftStats | None] | None = None,
) -> dict[str, str]:
    """Per layer: cos(s, m), ||m|| and ||proj_s m|| for each group of inputs."""
    fig, axes = _subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    panels = (("cos", "cos(s, m)"), ("norm", "||m||"), ("safety_norm", "||proj_s m||"))
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    data: dict[str, object] = {}
    for phase, groups in _phases(before, after):
        style = "-" if phase == "before" else "--"
        data[phase] = {}
        for k, (group, stats) in enumerate(groups.items()):
            if stats is None:
                continue
            layers = np.arange(len(stats.cos))
            data[phase][group] = {"n": stats.n, **{key: getattr(stats, key) for key, _ in panels}}
            for ax, (key, _) in zip(axes, panels, strict=True):
                ax.plot(
                    layers,
                    getattr(stats, key),
                    style,
                    marker=".",
                    color=GROUP_COLORS.get(group, cycle[k % len(cycle)]),
                    label=f"{group} n={stats.n} ({phase})",
                )
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set(xlabel="layer", ylabel=label, title=f"{label} per layer")
    axes[0].axhline(0, color="grey", lw=0.8, ls=":")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8)
    return save_figure(fig, stem, data)
