"""`shiftdc demo`: the whole mechanism end to end on a tiny offline model, in under a minute."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC, ShiftResult
from shiftdc.models import load_vlm
from shiftdc.models.generation import generate_plain
from shiftdc.models.tiny import make_tiny_model

NOTICE = (
    "This demo runs a tiny model with RANDOM weights, built offline. It shows the mechanics "
    "(direction fitting, self-captions, per-input shift measurement, calibrated generation), "
    "not safety: a random model has no safety behaviour to distort or restore."
)


def _short(text: str, width: int = 38) -> str:
    return textwrap.shorten(text.replace("\n", " "), width=width, placeholder="...") or "(empty)"


def run_demo(out: str | Path = "demo-out", family: str = "llava", progress: bool = True) -> dict:
    """Build/load a tiny model, fit a direction, and compare plain vs ShiftDC generation."""
    from transformers.utils import logging as hf_logging

    from shiftdc.data import builtin_items, direction_set

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    out = Path(out)
    print(NOTICE, "\n")
    model_dir = out / f"tiny-{family}"
    if not (model_dir / "config.json").is_file():
        make_tiny_model(family, model_dir)
        print(f"built a tiny random {family} checkpoint -> {model_dir}")
    vlm = load_vlm(model_dir, dtype="float32", device="cpu")
    print(
        f"loaded {vlm.name} ({vlm.family}, {vlm.num_layers} decoder layers, "
        f"hidden size {vlm.hidden_size})"
    )

    safe, unsafe = direction_set(seed=0)
    direction = SafetyDirection.fit(
        vlm, [i.to_sample() for i in safe], [i.to_sample() for i in unsafe], progress=progress
    )
    direction.save(out / "direction")
    print(
        f"safety direction: {len(safe)} safe vs {len(unsafe)} unsafe text-only requests "
        f"(built-in direction set) -> {out / 'direction'}\n"
    )

    items = builtin_items("eval", attacks=("SD_TYPO",), kinds=("harmful", "benign"))
    picked = [i for i in items if i.kind == "harmful"][:4] + [
        i for i in items if i.kind == "benign"
    ][:2]
    samples = [i.to_sample() for i in picked]
    for s in samples:
        s.caption = None  # ShiftDC captions the image itself, as the method prescribes
    captioner = Captioner(vlm, max_new_tokens=24, cache_dir=out / "cache", progress=progress)
    sdc = ShiftDC(vlm, direction, captioner=captioner, progress=progress)
    plain = generate_plain(vlm, samples, max_new_tokens=16)
    calibrated = sdc.generate(samples, max_new_tokens=16)

    print(
        f"ShiftDC ({sdc.mode} mode) on layers {sdc.layers[0]}..{sdc.layers[-1]}, "
        f"alpha {sdc.alpha}; per-layer shift, mean over {len(samples)} image requests:"
    )
    table = _layer_table(calibrated)
    print(f"{'layer':>5} | {'||m||':>8} | {'m along s':>10} | {'||correction||':>14}")
    for row in table:
        print(
            f"{row['layer']:>5} | {row['shift_norm']:8.3f} | {row['shift_along_s']:10.3f} | "
            f"{row['correction_norm']:14.3f}"
        )
    print(f"\n{'id':<24} | {'kind':<7} | {'plain':<38} | ShiftDC")
    for item, p, r in zip(picked, plain, calibrated, strict=True):
        print(f"{item.id[:24]:<24} | {item.kind:<7} | {_short(p):<38} | {_short(r.response)}")

    result = {
        "notice": NOTICE,
        "model": str(model_dir),
        "layers": table,
        "responses": [
            {"id": i.id, "kind": i.kind, "plain": p, "shiftdc": r.response, "caption": r.caption}
            for i, p, r in zip(picked, plain, calibrated, strict=True)
        ],
    }
    (out / "demo.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    _plot(table, out / "shift_by_layer.png")
    print(f"\nwrote {out / 'demo.json'} and {out / 'shift_by_layer.png'}")
    return result


def _layer_table(results: list[ShiftResult]) -> list[dict]:
    layers = results[0].layers
    mean = {
        k: np.mean([getattr(r, k) for r in results], axis=0)
        for k in ("shift_norm", "shift_along_s", "correction_norm")
    }
    return [
        {"layer": layer, **{k: float(v[j]) for k, v in mean.items()}}
        for j, layer in enumerate(layers)
    ]


def _plot(table: list[dict], path: Path) -> None:
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    x = np.arange(len(table))
    ax.bar(x - 0.2, [r["shift_norm"] for r in table], 0.4, label="||m|| (whole shift)")
    ax.bar(x + 0.2, [abs(r["shift_along_s"]) for r in table], 0.4, label="|m along s| (removed)")
    ax.set_xticks(x, [str(r["layer"]) for r in table])
    ax.set_xlabel("decoder layer")
    ax.set_ylabel("norm")
    ax.set_title("Modality shift and its safety component (tiny random model)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    path.with_suffix(".json").write_text(json.dumps(table, indent=2), encoding="utf-8")
