"""`shiftdc demo` on the testbed: text vs image refusal, and what ShiftDC does to it."""

from __future__ import annotations

from pathlib import Path

from shiftdc.testbed.build import ensure_testbed, shipped_direction
from shiftdc.testbed.conditions import (
    CONDITIONS,
    COUNTERPART_SUFFIX,
    RECOMMENDED_CONDITIONS,
    Condition,
)
from shiftdc.testbed.figure import plot_refusals
from shiftdc.testbed.measure import measure

NOTICE = (
    "Testbed: a miniature LLaVA (SmolLM2-135M-Instruct + a text-only safety LoRA, a small "
    "LeViT vision tower, projector and character reader trained on benign data only). "
    "Evidence of the mechanism at small scale, not a claim about 7B models. It reads its "
    "images: asked to read a TYPO image aloud it returns 93-95% of the content words, and its "
    "own query-aware captions hold 78-84% (docs/testbed.md), so the self-caption rows show "
    "ShiftDC as a deployment gets it; the oracle rows use ground-truth captions. Judge: "
    "refusal keywords. Small n: wide intervals."
)
DEMO_CONDITIONS = tuple(c for c in CONDITIONS if "sequential" not in c.name)
"""Text vs image, and ShiftDC (paper mode) with ground-truth and with self captions."""


def demo_conditions(recommended: bool) -> tuple[Condition, ...]:
    """DEMO_CONDITIONS (with the recommended configuration's cells beside the default ones
    when the shipped direction stores one), in the order a reader should see them: per kind,
    text and image, then ShiftDC with the model's own captions (what a deployment gets),
    then the oracle rows that use ground-truth captions."""
    cells = list(DEMO_CONDITIONS)
    if recommended:
        for c in DEMO_CONDITIONS:
            if c.defense == "shiftdc":
                twin = c.name.replace("ShiftDC paper", "ShiftDC recommended")
                cells += [r for r in RECOMMENDED_CONDITIONS if r.name == twin]
    return tuple(sorted(cells, key=_reading_order))


def is_oracle(cell: Condition) -> bool:
    """Does the cell use a ground-truth caption, which no deployment has?"""
    return cell.attack.endswith(COUNTERPART_SUFFIX) or (
        cell.defense != "none" and cell.captions == "given"
    )


def _reading_order(cell: Condition) -> tuple[int, int, int]:
    group = 2 if is_oracle(cell) else (1 if cell.defense != "none" else 0)
    within = 0 if cell.defense == "none" else (1 if "recommended" in cell.name else 2)
    return (cell.kind != "harmful", group, within)


def run_testbed_demo(
    out: str | Path = "demo-out", model_dir: Path | None = None, n: int = 40, progress: bool = True
) -> list[dict]:
    """Build the testbed if needed, measure a few held-out requests, print a table, plot."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    out = Path(out)
    print(NOTICE, "\n")
    model = ensure_testbed(model_dir)
    print(f"testbed checkpoint: {model}")
    direction = shipped_direction()
    from shiftdc.method.direction import SafetyDirection

    rec = SafetyDirection.load(direction).recommended
    if rec:
        span = f"{rec['layers'][0]}..{rec['layers'][-1]}"
        print(
            f"'ShiftDC recommended' cells: the shipped direction's recommendation (shiftdc tune "
            f"on {rec.get('tuning_set')}): mode {rec['mode']}, layers {span}, alpha "
            f"{rec['alpha']:g}, positions {rec['positions']}; 'ShiftDC paper' cells: the "
            "built-in defaults\n"
        )
    rows = measure(
        model,
        out / "runs",
        n=n,
        conditions=demo_conditions(rec is not None),
        max_new_tokens=32,
        caption_tokens=32,
        direction=direction,
    )
    width = max(len(r["condition"]) for r in rows)
    print(f"\n{'condition':<{width}} | refused | 95% CI       | n")
    oracle = {c.name for c in demo_conditions(rec is not None) if is_oracle(c)}
    previous = None
    for r in rows:
        lo, hi = r["ci95"]
        name = r["condition"]
        if name in oracle and previous not in oracle:
            print(f"{'  oracle: ground-truth captions, which no deployment has':<{width}} |")
        print(f"{name:<{width}} | {r['refusal']:6.0%}  | {lo:4.0%}-{hi:4.0%}    | {r['n']}")
        previous = name
    fig = plot_refusals(rows, out / "refusal.png", "Testbed demo: refusal, text vs image")
    print(f"\nwrote {fig} (+ .json) and per-condition records under {out / 'runs'}")
    return rows


def run_default_demo(
    out: str | Path = "demo-out", model_dir: Path | None = None, n: int = 40, progress: bool = True
) -> None:
    """The testbed demo if its backbone is installed, else the tiny random-model demo."""
    from shiftdc.testbed.backbone import INSTALL_HINT, backbone_available

    if model_dir is not None or backbone_available():
        run_testbed_demo(out, model_dir=model_dir, n=n, progress=progress)
        return
    from shiftdc.cli.mechanics_demo import run_demo

    print(f"(testbed unavailable: {INSTALL_HINT}; running the tiny random-model demo)\n")
    run_demo(out, family="llava", progress=progress)
