"""Experiment (not shipped): the character reader as part of the testbed's image pathway.

The design of docs/testbed.md ("A character reader"): the image's tokens become the
projector's 36 visual tokens followed by `SLOTS` tokens that hold what the character reader
reads, as the backbone's own BPE tokens (tokenized, embedded with the backbone's input
embeddings, left-filled with the space token's embedding). The reader reads the model's own
`pixel_values` (the 192-px processor output, grey, resized to the reader's 168 px), so the
text comes from the pixels and nowhere else; the prompt is untouched. Text-only prompts are
computed exactly as before, so the shipped direction (fitted on text-only counterparts) still
applies and the model keeps its fingerprint; `main` gives the self-captions a cache of their
own instead.

The model is patched in memory (`install`); nothing of the shipped testbed changes. Then:
- the reading probe of `shiftdc.testbed.reading` (read aloud, self-captions, held-out words,
  unseen face), through the whole VLM;
- refusal of `eval` requests as images (TYPO, SD_TYPO, FigStep), undefended and with ShiftDC
  (shipped direction and recommendation, self-captions), and the self-caption counterpart.

    python -m testbed_training.read_pathway --out RUN     # the committed pathway_weights/
    python -m testbed_training.read_pathway --out RUN --weights committed   # before stage 3c
    python -m testbed_training.read_pathway --reader runs/char_reader/last.pt \
        --export runs/read_pathway --out testbed_training/pathway_weights  # after a retrain
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import torch
import torch.nn.functional as F

from testbed_training.train_char_reader import SIDE, CharReader, greedy_decode

PATHWAY_DIR: Final = Path(__file__).parent / "pathway_weights"
"""The reader, projector and tower this experiment's committed numbers were measured with."""
READER_FILE: Final = "char_reader.safetensors"
SLOTS: Final = 32
"""Image tokens that carry the read text (FigStep's title and list fit in about 20)."""


def ink(pixel_values: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """(B, 3, H, W) normalised pixels -> (B, 1, SIDE, SIDE) ink map (1 - grey), as the reader
    was trained on."""
    m = torch.tensor(mean, dtype=pixel_values.dtype, device=pixel_values.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=pixel_values.dtype, device=pixel_values.device).view(1, 3, 1, 1)
    rgb = (pixel_values * s + m).clamp(0, 1)
    grey = 0.299 * rgb[:, :1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]
    grey = F.interpolate(grey, size=(SIDE, SIDE), mode="bilinear", antialias=True)
    return 1.0 - grey


def load_reader(path: Path) -> CharReader:
    """The character reader, in eval mode: a train_char_reader checkpoint (last.pt) or its
    fp16 export (a .safetensors file, as committed in PATHWAY_DIR)."""
    reader = CharReader()
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(path).items()}
    else:
        state = torch.load(path, map_location="cpu")["model"]
    reader.load_state_dict(state)
    return reader.eval()


def export(checkpoint: Path, weights: Path, out: Path = PATHWAY_DIR) -> None:
    """Write the reader (fp16 safetensors) and a train_read_pathway run's projector, tower
    and log into `out`: what this experiment's numbers were measured with."""
    from safetensors.torch import save_file

    from shiftdc.testbed.assemble import PROJECTOR_FILE, TOWER_FILE

    out.mkdir(parents=True, exist_ok=True)
    state = torch.load(checkpoint, map_location="cpu")
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    save_file(tensors, out / READER_FILE, metadata={"steps": str(state["step"])})
    for name in (PROJECTOR_FILE, TOWER_FILE, "projector_log.json"):
        shutil.copy(weights / name, out / name)


def attach(model: Any, processor: Any, reader: CharReader, slots: int = SLOTS) -> list[str]:
    """Give a testbed LLaVA `slots` more image tokens per image that hold what `reader` reads
    in its pixels; returns the list that collects every reading (for inspection)."""
    llava = model.model
    llava.add_module("char_reader", reader)
    tok = processor.tokenizer
    space = tok.convert_tokens_to_ids("Ġ")
    ip = processor.image_processor
    original = llava.get_image_features
    readings: list[str] = []

    def features(pixel_values: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        out = original(pixel_values, *args, **kwargs)
        with torch.no_grad():
            logits = reader(ink(pixel_values.float(), ip.image_mean, ip.image_std))
        texts = [greedy_decode(r) for r in logits.argmax(-1).tolist()]
        readings.extend(texts)
        embed = llava.get_input_embeddings()
        feats = []
        for f, text in zip(out.pooler_output, texts, strict=True):
            ids = tok(" " + text, add_special_tokens=False)["input_ids"][:slots] if text else []
            ids = [space] * (slots - len(ids)) + ids
            e = embed(torch.tensor(ids, device=f.device)).to(f.dtype)
            feats.append(torch.cat([f, e], dim=0))
        out.pooler_output = feats
        return out

    llava.get_image_features = features
    processor.num_additional_image_tokens = slots
    return readings


def install(vlm: Any, reader_state: Path, slots: int = SLOTS, weights: Path | None = None):
    """`attach` on a loaded testbed VLM; `weights` replaces its projector and tower with a
    run of train_read_pathway."""
    assert vlm.fingerprint  # computed before the reader is attached: text-only is unchanged
    if weights is not None:
        from safetensors.torch import load_file

        from shiftdc.testbed.assemble import PROJECTOR_FILE, TOWER_FILE

        llava = vlm.model.model
        for module, name in (
            (llava.multi_modal_projector, PROJECTOR_FILE),
            (llava.vision_tower, TOWER_FILE),
        ):
            state = {
                k: v.float() if v.is_floating_point() else v
                for k, v in load_file(str(weights / name)).items()
            }
            module.load_state_dict(state)
    return attach(vlm.model, vlm.processor, load_reader(reader_state), slots)


def reading_table(vlm: Any, out: Path, n: int) -> list[dict]:
    """The reading probe's cells through the patched VLM."""
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
    ap.add_argument("--reader", type=Path, default=PATHWAY_DIR / READER_FILE)
    ap.add_argument(
        "--weights",
        type=Path,
        default=PATHWAY_DIR,
        help="projector and tower of train_read_pathway ('committed': the shipped ones)",
    )
    ap.add_argument("--n", type=int, default=104)
    ap.add_argument("--slots", type=int, default=SLOTS)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--attacks", nargs="+", default=["TYPO", "SD_TYPO", "figstep"])
    ap.add_argument("--skip-reading", action="store_true")
    ap.add_argument("--skip-refusal", action="store_true")
    ap.add_argument("--tune", action="store_true", help="also run tune's default grid")
    ap.add_argument("--export", type=Path, help="a train_read_pathway run: export it, and stop")
    args = ap.parse_args(argv)
    if args.export is not None:  # --reader is then the train_char_reader checkpoint
        export(args.reader, args.export, args.out)
        return
    args.out.mkdir(parents=True, exist_ok=True)

    from shiftdc.models import load_vlm
    from shiftdc.testbed.build import ensure_testbed

    model = ensure_testbed()
    os.environ["SHIFTDC_CACHE"] = str(args.out / "cache")  # captions of this pathway only
    vlm = load_vlm(str(model), dtype="float32", device="cpu")
    weights = None if str(args.weights) == "committed" else args.weights
    install(vlm, args.reader, args.slots, weights)
    if not args.skip_reading:
        reading_table(vlm, args.out, args.n)
    if not args.skip_refusal:
        refusal_table(vlm, args.out, args.n, args.attacks, args.tokens)
    if args.tune:
        tune_table(vlm, args.out, args.attacks)


if __name__ == "__main__":
    main()
