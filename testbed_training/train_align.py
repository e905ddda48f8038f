"""Stage 1: a safety LoRA on SmolLM2-135M-Instruct, trained on text only (the 'train' split).

Harmful requests (several phrasings) -> varied refusals; benign requests -> the base model's
own greedy answers, dropping any the keyword judge marks as refusals.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from shiftdc.data.builtin_requests import builtin_requests
from shiftdc.eval.judges.keyword import is_refusal
from shiftdc.testbed.assemble import WEIGHTS_DIR
from shiftdc.testbed.backbone import load_backbone
from shiftdc.testbed.lora import attach_lora, lora_state
from shiftdc.testbed.vocab import EXTRA_BENIGN
from testbed_training.phrasing import DESCRIBED, PHRASINGS, phrasings, refusal
from testbed_training.training import pick_device, to_device

SEED = 0
RANK, ALPHA = 8, 16.0


def chat_ids(tok, prompt: str) -> list[int]:
    """Token ids of the backbone's chat prompt for one user turn, ready for the answer."""
    msgs = [{"role": "user", "content": prompt}]
    return tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)["input_ids"]


@torch.no_grad()
def greedy_answers(model, tok, prompts: list[str], max_new: int, batch: int = 16) -> list[str]:
    """Greedy answers of `model` to each prompt, in batches (left padding)."""
    out: list[str] = []
    for i in range(0, len(prompts), batch):
        chunk = [
            tok.apply_chat_template(
                [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
            )
            for p in prompts[i : i + batch]
        ]
        enc = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(model.device)
        gen = model.generate(
            **enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id
        )
        out += tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        print(f"  answers {len(out)}/{len(prompts)}", flush=True)
    return [o.strip() for o in out]


def build_examples(
    model,
    tok,
    rng: random.Random,
    max_new: int,
    k: int,
    described: int = 1,
    benign_described: int = 4,
    extras: bool = True,
    stride: int = 1,
    benign_k: int | None = None,
    answer_batch: int = 16,
) -> list[tuple[str, str]]:
    """(prompt, target) pairs from training data only: the train split and, if `extras`, the
    hand-written everyday activities of vision training (benign; no held-out request).

    Harmful: own wording + k templated + `described` described-image forms -> refusals.
    Benign: own wording + `benign_k` (default k) templated + `benign_described`
    described-image forms -> the base model's own greedy answers, teacher refusals dropped.
    The described-image form is ShiftDC's text-only counterpart; teaching it benign as often
    as harmful or more keeps the form itself from becoming a refusal cue. `stride` > 1 keeps
    every stride-th request of each source (quick checks); `answer_batch` prompts are
    answered at a time.
    """
    cut = slice(None, None, stride)
    harmful = builtin_requests("train", "harmful")[cut]
    benign = [(r.request, r.key_phrase) for r in builtin_requests("train", "benign")[cut]]
    if extras:
        benign += [(None, a) for a in EXTRA_BENIGN[cut]]
    pairs = [
        (p, refusal(rng))
        for r in harmful
        for p in phrasings(r.request, r.key_phrase, k, rng, described)
    ]
    kb = k if benign_k is None else benign_k
    b_prompts = [p for q, a in benign for p in phrasings(q, a, kb, rng, benign_described)]
    answers = greedy_answers(model, tok, b_prompts, max_new, answer_batch)
    kept = [(p, a) for p, a in zip(b_prompts, answers, strict=True) if not is_refusal(a)]
    print(f"harmful {len(pairs)}, benign {len(kept)} kept of {len(b_prompts)}", flush=True)
    return pairs + kept


def encode(tok, prompt: str, target: str) -> tuple[list[int], list[int]]:
    """Input ids and labels (-100 on the prompt) for one example."""
    p = chat_ids(tok, prompt)
    t = tok(target + "<|im_end|>", add_special_tokens=False)["input_ids"]
    return p + t, [-100] * len(p) + t


def collate(batch: list[tuple[list[int], list[int]]], pad: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch for training."""
    n = max(len(x) for x, _ in batch)
    ids = torch.full((len(batch), n), pad)
    labels = torch.full((len(batch), n), -100)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, (x, y) in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Next-token loss on answer tokens, running the LM head only where labels are set."""
    labels = batch.pop("labels")
    hidden = model.model(**batch).last_hidden_state[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    logits = model.lm_head(hidden[keep])
    return torch.nn.functional.cross_entropy(logits, target[keep])


def train_round(model, tok, enc, rng, epochs, lr, batch, params, device) -> list[float]:
    """One round: shuffle, then `epochs` passes with a one-cycle learning rate."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    steps = epochs * ((len(enc) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    model.train()
    log: list[float] = []
    for epoch in range(epochs):
        rng.shuffle(enc)
        for i in range(0, len(enc), batch):
            rows = collate(enc[i : i + batch], tok.pad_token_id)
            loss = answer_loss(model, to_device(rows, device))
            loss.backward()
            opt.step(), sched.step(), opt.zero_grad()
            log.append(round(loss.item(), 4))
            if len(log) % 10 == 0:
                print(f"epoch {epoch} step {len(log)}/{steps} loss {sum(log[-10:]) / 10:.3f}")
    return log


@dataclass(frozen=True)
class AlignConfig:
    """Settings of one alignment run (the CLI's flags)."""

    out: Path = WEIGHTS_DIR
    epochs: int = 1
    lr: float = 1e-3
    batch: int = 8
    max_new: int = 24
    answer_batch: int = 16
    phrasings: int = 2
    benign_phrasings: int | None = None
    rounds: int = 2
    start_round: int = 0
    described: int = 2
    benign_described: int = 4
    extras: bool = True
    stride: int = 1
    device: str = "cpu"


def main(cfg: AlignConfig) -> None:
    """Train the LoRA in rounds (fresh phrasings each round, seed SEED + round) and save it.

    Benign targets always come from the base model (before any LoRA). `start_round` > 0
    resumes from the LoRA already in `out`.
    """
    torch.manual_seed(SEED)
    dev = pick_device(cfg.device)
    model, tok = load_backbone()
    model.to(dev)
    t0 = time.time()
    per_round = []
    for r in range(cfg.start_round, cfg.rounds):
        rng = random.Random(SEED + r)
        examples = build_examples(
            model,
            tok,
            rng,
            cfg.max_new,
            cfg.phrasings,
            cfg.described,
            cfg.benign_described,
            cfg.extras,
            cfg.stride,
            cfg.benign_phrasings,
            cfg.answer_batch,
        )
        per_round.append((rng, [encode(tok, p, t) for p, t in examples]))
    wraps = attach_lora(model, RANK, ALPHA)
    lora_file = cfg.out / "align_lora.safetensors"
    if cfg.start_round > 0:
        state = load_file(str(lora_file))
        for name, w in wraps.items():
            w.lora_a.data.copy_(state[f"{name}.lora_a"].float())
            w.lora_b.data.copy_(state[f"{name}.lora_b"].float())
    model.to(dev)
    params = [p for w in wraps.values() for p in (w.lora_a, w.lora_b)]
    log_file = cfg.out / "align_log.json"
    resumed = cfg.start_round > 0 and log_file.exists()
    info = json.loads(log_file.read_text()) if resumed else {}
    info.setdefault("rounds", [])
    for r, (rng, enc) in zip(range(cfg.start_round, cfg.rounds), per_round, strict=True):
        lr = cfg.lr if r == 0 else cfg.lr / 2
        losses = train_round(model, tok, enc, rng, cfg.epochs, lr, cfg.batch, params, dev)
        info["rounds"].append(dict(round=r, examples=len(enc), epochs=cfg.epochs, losses=losses))
        cfg.out.mkdir(parents=True, exist_ok=True)
        meta = {"rank": str(RANK), "alpha": str(ALPHA), "seed": str(SEED), "rounds": str(r + 1)}
        save_file({k: v.cpu() for k, v in lora_state(wraps).items()}, lora_file, metadata=meta)
    info.update(
        phrasings=cfg.phrasings,
        benign_phrasings=cfg.benign_phrasings,
        described=cfg.described,
        benign_described=cfg.benign_described,
        extras=cfg.extras,
        stride=cfg.stride,
        max_new=cfg.max_new,
        answer_batch=cfg.answer_batch,
        lr=cfg.lr,
        batch=cfg.batch,
        device=str(dev),
        seconds=round(time.time() - t0),
    )
    log_file.write_text(json.dumps(info))
    print("done", info["seconds"], "s", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--phrasings", type=int, default=2)
    ap.add_argument(
        "--benign-phrasings", type=int, help="templated phrasings (benign; default --phrasings)"
    )
    ap.add_argument("--described", type=int, default=2, help="described-image forms (harmful)")
    ap.add_argument(
        "--benign-described", type=int, default=4, help="described-image forms (benign)"
    )
    ap.add_argument("--no-extras", action="store_true", help="train-split requests only")
    ap.add_argument("--stride", type=int, default=1, help="every Nth request (quick checks)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--start-round", type=int, default=0, help="resume: LoRA in --out")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=24)
    ap.add_argument("--answer-batch", type=int, default=16, help="base-model answers at a time")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, auto (GPU if present)")
    a = ap.parse_args()
    for flag, value, most in (
        ("--phrasings", a.phrasings, len(PHRASINGS)),
        ("--benign-phrasings", a.benign_phrasings, len(PHRASINGS)),
        ("--described", a.described, len(DESCRIBED)),
        ("--benign-described", a.benign_described, len(DESCRIBED)),
    ):
        if value is not None and not 0 <= value <= most:
            ap.error(f"{flag} {value}: there are {most} forms; give 0..{most}")
    main(
        AlignConfig(
            out=a.out,
            epochs=a.epochs,
            lr=a.lr,
            batch=a.batch,
            max_new=a.max_new,
            answer_batch=a.answer_batch,
            phrasings=a.phrasings,
            benign_phrasings=a.benign_phrasings,
            rounds=a.rounds,
            start_round=a.start_round,
            described=a.described,
            benign_described=a.benign_described,
            extras=not a.no_extras,
            stride=a.stride,
            device=a.device,
        )
    )
