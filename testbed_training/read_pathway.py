"""Measure the reading testbed, or export a retrained reading pathway into the package.

The testbed's image tokens carry what its character reader reads in the model's own pixels
(`shiftdc.testbed.modeling`). This script measures, through the whole VLM:
- the reading probe of `shiftdc.testbed.reading` (read aloud, self-captions, held-out words,
  unseen face);
- refusal of `eval` requests as images (TYPO, SD_TYPO, FigStep): undefended, ShiftDC (the
  shipped direction and its recommendation, self-captions), and the text-only counterpart
  built from those self-captions;
- with `--tune`, `shiftdc tune`'s default grid (self-captions, `tune` split, 24 + 24).

    python -m testbed_training.read_pathway --out RUN [--model DIR] [--tune]
    python -m testbed_training.read_pathway --export runs/read_pathway \\
        --reader runs/char_reader/last.pt --out src/shiftdc/testbed/weights   # after a retrain
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from shiftdc.testbed.assemble import PROJECTOR_FILE, READER_FILE, TOWER_FILE, WEIGHTS_DIR


def export(checkpoint: Path, weights: Path, out: Path = WEIGHTS_DIR) -> None:
    """Write a train_char_reader checkpoint (fp16 safetensors) and a train_read_pathway run's
    projector, tower and log into `out` (by default the package's weights)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = torch.load(checkpoint, map_location="cpu")
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    save_file(tensors, out / READER_FILE, metadata={"steps": str(state["step"])})
    for name in (PROJECTOR_FILE, TOWER_FILE, "projector_log.json"):
        shutil.copy(weights / name, out / name)


def reading_table(vlm: Any, out: Path, n: int) -> list[dict]:
    """The reading probe's cells through the whole VLM."""
    from shiftdc.testbed.reading import reading_cells

    cells = reading_cells(vlm, n=n)
    (out / "reading.json").write_text(json.dumps(dict(n=n, cells=cells), indent=1), "utf-8")
    return cells


class _SelfCaptioned:
    """An eval item whose caption is the model's own (for the self-caption counterpart)."""

    def __init__(self, item: Any, caption: str) -> None:
        self.item, self.caption, self.id = item, caption, item.id

    def labels(self) -> dict:
        return self.item.labels()

    def to_sample(self) -> Any:
        return replace(self.item.to_sample(), caption=self.caption)


def refusal_table(vlm: Any, out: Path, n: int, attacks: list[str], tokens: int) -> list[dict]:
    """Per attack and kind: the undefended image, ShiftDC (shipped direction and
    recommendation, self-captions), and the text-only counterpart built from those captions."""
    from shiftdc.testbed.build import shipped_direction
    from shiftdc.testbed.conditions import Condition, counterpart_of, plain, shiftdc_recommended
    from shiftdc.testbed.items import pick
    from shiftdc.testbed.measure import run_condition

    opts = dict(
        max_new_tokens=tokens,
        caption_tokens=40,
        batch_size=8,
        seed=0,
        direction=shipped_direction(),
    )
    rows = []

    def run(cond: Condition, items: list[Any]) -> dict:
        t0 = time.time()
        row = run_condition(vlm, cond, items, out, dict(opts))
        rows.append(row)
        ci = row["ci95"]
        print(
            f"{row['condition']:<56} refusal {row['refusal']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] "
            f"on topic {row['on_topic']:.2f} n={row['n']} ({time.time() - t0:.0f} s)",
            flush=True,
        )
        (out / "table.json").write_text(json.dumps(rows, indent=1), "utf-8")
        return row

    for attack in attacks:
        for kind in ("harmful", "benign"):
            items = pick(kind, attack, n, 0)
            run(plain(kind, attack), items)
            guarded = shiftdc_recommended(kind, attack, "self")
            run(guarded, items)
            folder = guarded.name.replace(" ", "_").replace(",", "").replace("+", "with")
            lines = (out / folder / "records.jsonl").read_text("utf-8").splitlines()
            captions = {r["id"]: r["caption"] for r in map(json.loads, lines)}
            name = f"{kind} {attack} as text-only counterpart, self caption"
            cond = Condition(name=name, kind=kind, attack=counterpart_of(attack))
            run(cond, [_SelfCaptioned(it, captions[it.id]) for it in items])
    return rows


def tune_table(vlm: Any, out: Path, attacks: list[str]) -> dict:
    """`shiftdc tune`'s default grid on the reading model: self-captions, the `tune` split,
    24 + 24 requests of the given forms, the shipped direction (its recommendation is kept)."""
    from shiftdc.testbed.build import shipped_direction
    from shiftdc.tuning.run import TuneConfig, tune

    config = TuneConfig(attacks=attacks, captions="self", limit=24, store=False)
    return tune(vlm, out / "tune", config, direction=shipped_direction())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", type=Path, help="a built testbed (default: build the package's)")
    ap.add_argument("--n", type=int, default=104)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--attacks", nargs="+", default=["TYPO", "SD_TYPO", "figstep"])
    ap.add_argument("--skip-reading", action="store_true")
    ap.add_argument("--skip-refusal", action="store_true")
    ap.add_argument("--tune", action="store_true", help="also run tune's default grid")
    ap.add_argument("--export", type=Path, help="a train_read_pathway run: export it, and stop")
    ap.add_argument("--reader", type=Path, help="with --export: train_char_reader's last.pt")
    args = ap.parse_args(argv)
    if args.export is not None:
        if args.reader is None:
            ap.error("--export needs --reader (the train_char_reader checkpoint)")
        export(args.reader, args.export, args.out)
        return
    args.out.mkdir(parents=True, exist_ok=True)

    from shiftdc.models import load_vlm
    from shiftdc.testbed.build import ensure_testbed

    vlm = load_vlm(str(ensure_testbed(args.model)), dtype="float32", device="cpu")
    if not args.skip_reading:
        reading_table(vlm, args.out, args.n)
    if not args.skip_refusal:
        refusal_table(vlm, args.out, args.n, args.attacks, args.tokens)
    if args.tune:
        tune_table(vlm, args.out, args.attacks)


if __name__ == "__main__":
    main()
