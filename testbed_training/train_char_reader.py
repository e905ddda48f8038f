"""Experiment (not shipped): a CTC character reader over the testbed's whole images.

The shipped tower classifies whole words of a closed 1,256-word vocabulary, so it cannot read
a word it was never taught (docs/testbed.md, "Reading"). This script asks whether a small
reader that emits *characters* does, on one CPU thread in 40 minutes:

- model: a CNN over the whole (grey, half-size) image -> a 2-D grid of features (14 rows x
  42 columns) with 2-D position embeddings -> a small transformer along each row -> CTC
  over characters, the grid read row by row. No cropping: the network sees the full picture
  (scene and text) and has to learn where the text is and to emit each line once.
- data: random mixes of 1-5 words from the backbone tokenizer's whole-word pieces plus the
  testbed's own vocabulary, typed the way the testbed types (TYPO, SD_TYPO, FigStep's title
  and empty list, the varied training style), a quarter sheared and scaled a little, some
  lightly blurred. A mix holding a built-in key phrase is redrawn; the held-out reading
  words (and their simple inflections) are never typed; the unseen face is never used.
- evaluation: the cells of `shiftdc.testbed.reading`, scored with its `coverage`.

    python -m testbed_training.train_char_reader train --out runs/char_reader
    python -m testbed_training.train_char_reader eval --out runs/char_reader
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Final

import torch
from PIL import Image
from torch import nn

from shiftdc.testbed.char_reader import (
    CharReader,
    encode,
    to_tensor,
)

INFLECTIONS: Final = ("", "s", "es", "ed", "d", "ing", "er", "ers", "ly")
STOP: Final = ("a", "an", "the", "to", "of", "for", "in", "on", "my", "your", "with", "and")


# ----------------------------------------------------------------------------- pure helpers
def banned_forms(heldout: Iterable[str]) -> frozenset[str]:
    """Held-out words and their simple inflections (lower case): never typed in training."""
    return frozenset(h.lower() + s for h in heldout for s in INFLECTIONS)


def training_words(candidates: Iterable[str], heldout: Iterable[str]) -> list[str]:
    """Sorted unique candidates (lower-case letters, 2-14 long) that no held-out word bans."""
    banned = banned_forms(heldout)
    ok = {w for w in candidates if re.fullmatch(r"[a-z]{2,14}", w) and w not in banned}
    return sorted(ok)


def holds_phrase(text: str, phrases: Iterable[str]) -> bool:
    """Does `text` contain any of `phrases` as whole words (case-insensitive)?"""
    low = f" {' '.join(text.lower().split())} "
    return any(f" {p} " in low for p in phrases)


def random_phrase(
    rng: random.Random,
    words: Sequence[str],
    testbed_words: Sequence[str],
    forbidden: Iterable[str],
    banned: frozenset[str],
) -> str:
    """1-5 words: mostly the big vocabulary, some testbed words and stopwords; redrawn while
    it holds a forbidden phrase or a banned (held-out) word."""
    forbidden = tuple(forbidden)
    while True:
        out = []
        for _ in range(rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))):
            r = rng.random()
            w = rng.choice(words if r < 0.6 else testbed_words if r < 0.85 else STOP)
            if rng.random() < 0.08:
                w = w.capitalize()
            out.append(w)
        phrase = " ".join(out)
        if any(w.lower() in banned for w in out) or holds_phrase(phrase, forbidden):
            continue
        return phrase


# ----------------------------------------------------------------------------- data
@cache
def vocabularies() -> tuple[list[str], list[str], tuple[str, ...], frozenset[str]]:
    """(big vocabulary, testbed words, forbidden key phrases, banned held-out forms)."""
    from shiftdc.data.builtin_requests import builtin_requests
    from shiftdc.testbed.backbone import load_backbone_tokenizer
    from shiftdc.testbed.vocab import all_words, heldout_words

    tok = load_backbone_tokenizer()
    pieces = [t[1:] for t in tok.get_vocab() if t.startswith("Ġ")]
    words = training_words(pieces, heldout_words())
    banned = banned_forms(heldout_words())
    testbed = sorted(w for w in all_words() if w.lower() not in banned)
    forbidden = tuple(
        sorted({" ".join(r.key_phrase.lower().split()) for r in builtin_requests()}, key=len)
    )
    return words, testbed, forbidden, banned


def render(phrase: str, rng: random.Random) -> tuple[Image.Image, str]:
    """(image, its text): the phrase typed the way the testbed types it (TYPO, SD_TYPO,
    FigStep or the varied training style), a quarter of them sheared or blurred."""
    from shiftdc.data.render import (
        figstep_text,
        random_scene,
        render_figstep,
        render_sd_typo,
        render_typo,
    )
    from shiftdc.testbed.reader import render_varied

    r = rng.random()
    if r < 0.35:
        img, text = render_typo(phrase), phrase
    elif r < 0.65:
        img, text = render_sd_typo(random_scene(rng), phrase), phrase
    elif r < 0.75:
        img, text = render_figstep(phrase), " ".join(figstep_text(phrase).split())
    else:
        img, text = render_varied(phrase, rng), phrase
    return augment(img, rng), text


def augment(img: Image.Image, rng: random.Random) -> Image.Image:
    """Sometimes a small shear and scale (italic-like slant) and sometimes a light blur."""
    from PIL import ImageFilter

    if rng.random() < 0.25:
        shear, scale = rng.uniform(-0.3, 0.3), rng.uniform(0.9, 1.1)
        w, h = img.size
        m = (1 / scale, shear / scale, -shear * h / 2 / scale, 0, 1 / scale, 0)
        img = img.transform((w, h), Image.AFFINE, m, Image.BILINEAR, fillcolor=(255, 255, 255))
    if rng.random() < 0.15:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    return img


def batch(rng: random.Random, size: int) -> tuple[torch.Tensor, list[str]]:
    """A training batch of images and the texts they show."""
    words, testbed, forbidden, banned = vocabularies()
    phrases = [random_phrase(rng, words, testbed, forbidden, banned) for _ in range(size)]
    pairs = [render(p, rng) for p in phrases]
    return torch.stack([to_tensor(im) for im, _ in pairs]), [t for _, t in pairs]


def ctc_loss(logits: torch.Tensor, phrases: Sequence[str]) -> torch.Tensor:
    """Mean CTC loss of (B, T, C) logits against the phrases' characters."""
    targets = [torch.tensor(encode(p)) for p in phrases]
    logp = logits.log_softmax(-1).transpose(0, 1)  # T, B, C
    return nn.functional.ctc_loss(
        logp,
        torch.cat(targets),
        torch.full((len(phrases),), logits.shape[1], dtype=torch.long),
        torch.tensor([len(t) for t in targets]),
        blank=0,
        zero_infinity=True,
    )


# ----------------------------------------------------------------------------- train / eval
def train(out: Path, minutes: float, batch_size: int, lr: float, seed: int) -> None:
    """Train for a wall-clock budget; checkpoint and log to `out` (resumes from out/last.pt)."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    model = CharReader()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    step, spent = 0, 0.0
    ckpt = out / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, spent = state["step"], state["seconds"]
    rng = random.Random(f"char-reader:{seed}:{step}")
    log = (out / "log.txt").open("a")
    budget = minutes * 60
    params = sum(p.numel() for p in model.parameters())
    print(f"params {params} resume step {step} spent {spent:.0f}s", file=log, flush=True)
    last_save, ema = time.time(), None
    vocabularies()  # load the tokenizer before timing starts
    start = time.time() - spent
    while (elapsed := time.time() - start) < budget:
        warm = min(1.0, (step + 1) / 200)
        tail = min(1.0, (budget - elapsed) / (0.25 * budget))  # linear decay, last quarter
        for g in opt.param_groups:
            g["lr"] = lr * warm * max(0.05, tail)
        model.train()
        x, phrases = batch(rng, batch_size)
        loss = ctc_loss(model(x), phrases)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 25 == 0:
            print(f"step {step} t {elapsed:.0f}s loss {ema:.4f}", file=log, flush=True)
        if step % 200 == 0:
            model.eval()
            with torch.no_grad():
                txt = model.read([render(p, rng)[0] for p in phrases[:3]])
            print(f"  sample {list(zip(phrases[:3], txt, strict=True))}", file=log, flush=True)
        if time.time() - last_save > 180:
            _save(ckpt, model, opt, step, time.time() - start)
            last_save = time.time()
    _save(ckpt, model, opt, step, time.time() - start)
    print(f"done step {step} t {time.time() - start:.0f}s", file=log, flush=True)


def _save(path: Path, model: nn.Module, opt, step: int, seconds: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        dict(model=model.state_dict(), opt=opt.state_dict(), step=step, seconds=seconds), tmp
    )
    tmp.replace(path)


def evaluate(out: Path, n: int = 104, seed: int = 0) -> dict:
    """Every reading cell (as in shiftdc.testbed.reading), scored with its `coverage`."""
    from shiftdc.testbed.items import pick
    from shiftdc.testbed.reading import TARGETS, coverage, heldout_phrases, typed

    torch.set_num_threads(1)
    state = torch.load(out / "last.pt")
    model = CharReader()
    model.load_state_dict(state["model"])
    cells = []

    def add(kind: str, what: str, phrases: list[str], images: list[Image.Image]) -> None:
        texts = model.read(images)
        cov = coverage(phrases, texts, seed)
        exact = sum(
            " ".join(p.lower().split()) == t.lower() for p, t in zip(phrases, texts, strict=True)
        )
        cell = dict(kind=kind, cell=what, target=TARGETS[kind], exact=exact / len(phrases), **cov)
        cells.append(cell)
        lo, hi = cov["ci95"]
        print(
            f"{kind:<16} {what:<26} {cov['words_read']:.3f} [{lo:.3f}, {hi:.3f}] "
            f"n={cov['n']} exact={cell['exact']:.2f}",
            flush=True,
        )

    phrases_of: dict[str, list[str]] = {}
    for attack in ("TYPO", "SD_TYPO", "figstep"):
        for kind in ("harmful", "benign"):
            items = pick(kind, attack, n, seed)
            phrases = [it.meta["key_phrase"] for it in items]
            phrases_of.setdefault(kind, phrases)
            add("read aloud", f"{kind} {attack}", phrases, [it.to_sample().image for it in items])
    held = heldout_phrases()
    for attack in ("TYPO", "SD_TYPO"):
        add("open vocabulary", f"held-out words {attack}", held, typed(attack, held, seed))
    for kind in ("harmful", "benign"):
        add(
            "unseen style",
            f"{kind} serif italic",
            phrases_of[kind],
            typed("unseen", phrases_of[kind]),
        )
    params = sum(p.numel() for p in model.parameters())
    info = dict(
        model="CharReader (CNN -> 14x42 grid read row by row -> 2-layer row transformer -> CTC)",
        params=params,
        steps=state["step"],
        train_seconds=round(state["seconds"]),
        threads=1,
        n=n,
        seed=seed,
        cells=cells,
    )
    (out / "char_reader_eval.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("train", "eval"))
    p.add_argument("--out", type=Path, default=Path("runs/char_reader"))
    p.add_argument("--minutes", type=float, default=40.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.what == "train":
        train(a.out, a.minutes, a.batch, a.lr, a.seed)
    else:
        evaluate(a.out, seed=a.seed)


if __name__ == "__main__":
    main()
