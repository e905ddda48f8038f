"""Stage 2: pre-train the vision tower to read: per-cell word-token labels on a 6x6 grid.

Images show benign key phrases of the 'train' split, everyday activities, and random mixes
of request words; a mix that contains a harmful key phrase is redrawn, so no harmful request
is ever shown. Each of LLaVA's 36 image tokens learns the backbone tokens of the word it
covers (or 'none'), a dense signal that teaches reading in minutes on a CPU.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from shiftdc.data.builtin_requests import builtin_requests
from shiftdc.data.render import render_typo
from shiftdc.testbed.assemble import WEIGHTS_DIR
from shiftdc.testbed.reader import TOKENS_SIDE, CTCHead, image_processor, patch_states, vision_tower
from shiftdc.testbed.vocab import all_words, benign_activities, random_mix, words_of
from testbed_training.layout import cell_words, render_with_boxes
from testbed_training.training import batch_stream, fp16_state, lr_factor, pick_device, progress

SEED = 1


def word_tokens(tok) -> dict[str, list[int]]:
    """Backbone token ids of ' word' for every vocabulary word."""
    return {w: tok(" " + w, add_special_tokens=False)["input_ids"] for w in all_words()}


def cell_targets(cells: list[str | None], wt: dict, cls: dict[int, int]) -> torch.Tensor:
    """(cells, classes) soft targets: a word's tokens share the mass; class 0 = no word."""
    out = torch.zeros(len(cells), len(cls) + 1)
    for i, w in enumerate(cells):
        if w is None:
            out[i, 0] = 1.0
        else:
            ids = [cls[t] for t in wt[w]]
            out[i, ids] = 1.0 / len(ids)
    return out


def sample_phrase(rng: random.Random, benign: list[str]) -> str:
    """A benign activity phrase or a random word mix."""
    return rng.choice(benign) if rng.random() < 0.3 else random_mix(rng)


def read_cells(logits: torch.Tensor, inv: dict[int, int], tok) -> list[list[str]]:
    """Per image: the words read cell by cell (argmax, repeats and 'none' dropped)."""
    out = []
    for row in logits.argmax(-1).tolist():
        seq, prev = [], 0
        for c in row:
            if c != prev and c != 0:
                seq.append(tok.decode([inv[c]]).strip())
            prev = c
        out.append(seq)
    return out


@torch.no_grad()
def read_accuracy(tower, head, proc, phrases, inv, tok, device=None) -> float:
    """Fraction of words of `phrases` (typed in the evaluation's TYPO style) read somewhere."""
    px = proc(images=[render_typo(p) for p in phrases], return_tensors="pt")["pixel_values"]
    got = read_cells(head(patch_states(tower, px.to(device))).cpu(), inv, tok)
    hits = total = 0
    for seq, p in zip(got, phrases, strict=True):
        text = "".join(seq).lower()
        for w in words_of(p):
            total += 1
            hits += w.lower()[:4] in text
    return hits / max(total, 1)


class _MakeBatch:
    """Renders one batch of (pixels, per-cell targets); picklable for loader workers."""

    def __init__(self, batch: int, wt: dict, cls: dict[int, int]) -> None:
        self.batch, self.wt, self.cls = batch, wt, cls
        self.benign, self.proc = benign_activities(), image_processor()

    def __call__(self, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
        phrases = [sample_phrase(rng, self.benign) for _ in range(self.batch)]
        drawn = [render_with_boxes(p, rng) for p in phrases]
        px = self.proc(images=[d[0] for d in drawn], return_tensors="pt")["pixel_values"]
        cells = [cell_targets(cell_words(b, TOKENS_SIDE), self.wt, self.cls) for _, b in drawn]
        return px, torch.stack(cells)


def main(
    out: Path,
    minutes: float,
    batch: int,
    lr: float,
    resume: bool = False,
    device: str = "auto",
    workers: int = 0,
    max_steps: int = 0,
) -> None:
    """Train until the time budget (or `max_steps`) is spent; write the tower and a log.

    `resume` continues from the tower in `out` (the reading head starts afresh) and appends
    to its log. `device` 'auto' takes a GPU when there is one; `workers` render in parallel.
    """
    from shiftdc.testbed.backbone import load_backbone_tokenizer

    dev = pick_device(device)
    torch.manual_seed(SEED)
    tok = load_backbone_tokenizer()
    wt = word_tokens(tok)
    cls = {t: i + 1 for i, t in enumerate(sorted({t for ids in wt.values() for t in ids}))}
    inv = {i: t for t, i in cls.items()}
    tower, head, proc = vision_tower(), CTCHead(192, len(cls) + 1), image_processor()
    prior: dict = {}
    if resume:
        state = load_file(str(out / "vision_tower.safetensors"))
        tower.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        )
        prior = json.loads((out / "reader_log.json").read_text())
    seed = f"reader:{SEED}:{len(prior.get('runs', []))}"
    tower.to(dev).train()
    head.to(dev)
    params = list(tower.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    probe = [r.key_phrase for r in builtin_requests("eval", "harmful")][:40]
    out.mkdir(parents=True, exist_ok=True)
    stream = batch_stream(_MakeBatch(batch, wt, cls), seed, workers)
    t0, step, log, reads = time.time(), 0, [], []
    while time.time() - t0 < minutes * 60 and (max_steps <= 0 or step < max_steps):
        px, target = next(stream)
        logits = head(patch_states(tower, px.to(dev)))
        loss = -(target.to(dev) * logits.log_softmax(-1)).sum(-1).mean()
        for g in opt.param_groups:
            g["lr"] = lr * lr_factor(
                step, 50, progress(time.time() - t0, minutes * 60, step, max_steps)
            )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step(), opt.zero_grad()
        step += 1
        log.append(round(loss.item(), 4))
        if step % 50 == 0:
            msg = f"step {step} {time.time() - t0:.0f}s loss {sum(log[-50:]) / 50:.4f}"
            if step % 200 == 0:
                tower.eval()
                acc = read_accuracy(tower, head, proc, probe, inv, tok, dev)
                reads.append((step, acc))
                msg += f" words read (40 held-out harmful phrases) {acc:.2f}"
                tower.train()
                save_file(fp16_state(tower), out / "vision_tower.safetensors")
            print(msg, flush=True)
    tower.eval()
    acc = read_accuracy(tower, head, proc, probe, inv, tok, dev)
    save_file(fp16_state(tower), out / "vision_tower.safetensors")
    run = dict(
        seed=seed,
        device=str(dev),
        steps=step,
        batch=batch,
        lr=lr,
        seconds=round(time.time() - t0),
        words_read_40_harmful_eval_phrases=acc,
        reads=reads,
        losses=log[::10],
    )
    info = {"runs": [*prior.get("runs", [prior] if prior else []), run]}
    (out / "reader_log.json").write_text(json.dumps(info))
    print("done", run["seconds"], "s, words read", acc, flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--resume", action="store_true", help="continue from the tower in --out")
    ap.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda, ...")
    ap.add_argument("--workers", type=int, default=0, help="processes rendering batches")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many (0: no cap)")
    a = ap.parse_args()
    main(a.out, a.minutes, a.batch, a.lr, a.resume, a.device, a.workers, a.max_steps)
