"""Results as a table, JSON, a PNG chart, and the README's latest-results block."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

#: (key in results, label, target as (op, value) or None)
ROWS: list[tuple[str, str, tuple[str, float] | None]] = [
    ("cached", "1. ShiftDC / plain, 1 request, cached caption (time)", ("<=", 1.05)),
    ("captioned", "2. (ShiftDC - caption alone) / plain, caption generated", ("<=", 1.10)),
    ("naive", "3. naive four-pass (batch 1) / ours (batch 8), speed-up", (">=", 3.0)),
    ("throughput", "4. items/s at batch 8 / batch 1", None),
    ("fit", "5. direction fitting / plain forward (speed)", (">=", 0.8)),
    ("memory", "6. ShiftDC / plain peak memory (caption generated)", ("<=", 1.10)),
    ("batch8_cached", "7. ShiftDC / plain at batch 8, cached captions (time)", None),
    ("batch8_captioned", "8. ShiftDC / plain at batch 8, captions generated (time)", None),
]
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def verdict(value: float, target: tuple[str, float] | None) -> str:
    """'yes' / 'no' against the target ('-' when there is none)."""
    if target is None:
        return "-"
    op, bound = target
    ok = value <= bound if op == "<=" else value >= bound
    return "yes" if ok else "no"


def rows(results: dict[str, Any]) -> list[tuple[str, float, str, str]]:
    """(label, ratio, target, met) for each measurement present."""
    out = []
    for key, label, target in ROWS:
        if key in results:
            value = float(results[key]["ratio"])
            tgt = f"{target[0]} {target[1]:g}" if target else "-"
            out.append((label, value, tgt, verdict(value, target)))
    return out


def _measured(meta: dict[str, Any]) -> str:
    m = meta.get("measured")
    if not m:
        return ""
    return f" Code measured: commit {m['commit']}, transformers {m['transformers']}."


def markdown(results: dict[str, Any]) -> str:
    """The results table with the machine and settings it was taken on."""
    meta = results["meta"]
    lines = [
        f"Measured {meta['date']} on **{meta['machine']}** ({meta['device_note']}), "
        f"`{meta['command']}`; model: {meta['model']}; {meta['tokens']} caption tokens, "
        f"{meta['tokens']} answer tokens, median of {meta['repeats']} interleaved repeats."
        + _measured(meta),
        "",
        "| measurement | ratio | target | met |",
        "|---|---:|---:|:---:|",
    ]
    lines += [f"| {label} | {v:.3f} | {tgt} | {ok} |" for label, v, tgt, ok in rows(results)]
    extra = results.get("captioned", {})
    if extra:
        lines += [
            "",
            f"Detail: ShiftDC / (plain + caption alone) = "
            f"{extra['shiftdc_over_plain_plus_caption']:.3f}; without the shared image prefix "
            f"measurement 2 is {extra['unshared_ratio']:.3f}. Throughput: "
            f"{results['throughput']['items_per_s']['batch8']:.3f} items/s at batch 8, "
            f"{results['throughput']['items_per_s']['batch1']:.3f} at batch 1. Naive and "
            f"batched responses identical: {results['naive']['identical_responses']}. "
            f"Memory: {results['memory']['method']}.",
        ]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    """Horizontal bars of the ratios, each with its target marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows(results)
    targets = {label: target for _, label, target in ROWS}
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(data) + 1.4))
    for i, (label, value, _, ok) in enumerate(data):
        color = {"yes": "tab:green", "no": "tab:red"}.get(ok, "tab:gray")
        ax.barh(i, value, color=color)
        ax.text(value, i, f" {value:.2f}", va="center")
        if targets[label] is not None:
            bound = targets[label][1]
            ax.plot([bound, bound], [i - 0.4, i + 0.4], color="black", lw=2)
    ax.set_yticks(range(len(data)), [d[0] for d in data])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15 * max([v for _, v, _, _ in data] + [3.0]))
    ax.set_xlabel("ratio; black tick: target; green: met, red: missed, grey: no target")
    ax.set_title(f"shiftdc bench: {results['meta']['machine']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def slug(text: str) -> str:
    """A file-name-safe version of a machine name."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:80]


def write(results: dict[str, Any], out_dir: Path, readme: Path | None) -> Path:
    """Write <machine>.json/.png/.md under out_dir; refresh the README block if asked."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / slug(results["meta"]["machine"])
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    table = markdown(results)
    stem.with_suffix(".md").write_text(table, encoding="utf-8")
    chart(results, stem.with_suffix(".png"))
    if readme is not None and readme.is_file():
        text = readme.read_text(encoding="utf-8")
        if README_START in text and README_END in text:
            head, rest = text.split(README_START, 1)
            _, tail = rest.split(README_END, 1)
            readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}", encoding="utf-8")
    return stem
