"""Stage 1: a safety LoRA on SmolLM2-135M-Instruct, trained on text only (the 'train' split).

Harmful requests (several phrasings) -> varied refusals; benign requests -> the base model's
own greedy answers, dropping any the keyword judge marks as refusals.
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
from shiftdc.eval.judges.keyword import is_refusal
from shiftdc.testbed.backbone import load_backbone
from shiftdc.testbed.lora import attach_lora, lora_state
from shiftdc.testbed.phrasing import phrasings, refusal

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
    model, tok, rng: random.Random, max_new: int, k: int, described: int = 1
) -> list[tuple[str, str]]:
    """(prompt, target) pairs from the train split only (each request in 1 + k + d forms)."""
    harmful = builtin_requests("train", "harmful")
    benign = builtin_requests("train", "benign")

    def forms(r) -> list[str]:
        return phrasings(r.request, r.key_phrase, k, rng, described)

    pairs = [(p, refusal(rng)) for r in harmful for p in forms(r)]
    b_prompts = [p for r in benign for p in forms(r)]
    answers = greedy_answers(model, tok, b_prompts, max_new)
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


def train_round(model, tok, enc, rng, epochs, lr, batch, params) -> list[float]:
    """One round: shuffle, then `epochs` passes with a one-cycle learning rate."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    steps = epochs * ((len(enc) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    model.train()
    log: list[float] = []
    for epoch in range(epochs):
        rng.shuffle(enc)
        for i in range(0, len(enc), batch):
            loss = answer_loss(model, collate(enc[i : i + batch], tok.pad_token_id))
            loss.backward()
            opt.step(), sched.step(), opt.zero_grad()
            log.append(round(loss.item(), 4))
            if len(log) % 10 == 0:
                print(f"epoch {epoch} step {len(log)}/{steps} loss {sum(log[-10:]) / 10:.3f}")
    return log


def main(
    out: Path,
    epochs: int,
    lr: float,
    batch: int,
    max_new: int,
    k: int,
    rounds: int,
    start_round: int = 0,
    described: int = 1,
) -> None:
    """Train the LoRA in rounds (fresh phrasings each round, seed SEED + round) and save it.

    Benign targets always come from the base model (before any LoRA). `start_round` > 0
    resumes from the LoRA already in `out`.
    """
    torch.manual_seed(SEED)
    model, tok = load_backbone()
    t0 = time.time()
    per_round = []
    for r in range(start_round, rounds):
        rng = random.Random(SEED + r)
        examples = build_examples(model, tok, rng, max_new, k, described)
        per_round.append((rng, [encode(tok, p, t) for p, t in examples]))
    wraps = attach_lora(model, RANK, ALPHA)
    lora_file = out / "align_lora.safetensors"
    if start_round > 0:
        state = load_file(str(lora_file))
        for name, w in wraps.items():
            w.lora_a.data.copy_(state[f"{name}.lora_a"].float())
            w.lora_b.data.copy_(state[f"{name}.lora_b"].float())
    params = [p for w in wraps.values() for p in (w.lora_a, w.lora_b)]
    log_file = out / "align_log.json"
    info = json.loads(log_file.read_text()) if start_round > 0 and log_file.exists() else {}
    info.setdefault("rounds", [])
    for r, (rng, enc) in zip(range(start_round, rounds), per_round, strict=True):
        losses = train_round(model, tok, enc, rng, epochs, lr if r == 0 else lr / 2, batch, params)
        info["rounds"].append(dict(round=r, examples=len(enc), epochs=epochs, losses=losses))
        out.mkdir(parents=True, exist_ok=True)
        meta = {"rank": str(RANK), "alpha": str(ALPHA), "seed": str(SEED), "rounds": str(r + 1)}
        save_file(lora_state(wraps), lora_file, metadata=meta)
    info.update(
        phrasings=k,
        described=described,
        max_new=max_new,
        lr=lr,
        batch=batch,
        seconds=round(time.time() - t0),
    )
    log_file.write_text(json.dumps(info))
    print("done", info["seconds"], "s", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "weights")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--phrasings", type=int, default=2)
    ap.add_argument("--described", type=int, default=1, help="described-image forms per request")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--start-round", type=int, default=0, help="resume: LoRA in --out")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=24)
    a = ap.parse_args()
    main(
        a.out,
        a.epochs,
        a.lr,
        a.batch,
        a.max_new,
        a.phrasings,
        a.rounds,
        a.start_round,
        a.described,
    )
