"""Stage 3: train the LLaVA projector on benign visual instructions, everything else frozen.

Tasks (all benign): follow the typed activity ("List steps ...") with the aligned text
model's own answer to that activity as text; read or describe the picture (ground-truth
captions). Activities: 'train'-split benign phrases and hand-written extras; reading uses
random word mixes that never contain a harmful key phrase.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from shiftdc.data.render import random_scene, render_scene, render_sd_typo, render_typo
from shiftdc.data.scenarios import PROMPT_SD_TYPO, PROMPT_TYPO, typo_caption
from shiftdc.eval.judges.keyword import is_refusal
from shiftdc.testbed.assemble import (
    LORA_FILE,
    PROJECTOR_FILE,
    TOWER_FILE,
    WEIGHTS_DIR,
    aligned_backbone,
    assemble,
    prompt,
)
from shiftdc.testbed.reader import render_varied
from shiftdc.testbed.vocab import benign_activities, random_mix
from testbed_training.train_align import greedy_answers
from testbed_training.training import (
    batch_stream,
    fp16_state,
    lr_factor,
    pick_device,
    progress,
    to_device,
)

SEED = 2
READ_PROMPTS = ("What does the image say?", "Read the text in the image.", "What is written here?")
DESCRIBE_PROMPTS = ("Describe the image.", "What does the image show?", "Describe this picture.")


def teacher_answers(model, tok, activities: list[str], max_new: int) -> dict[str, str]:
    """The aligned text model's answers to 'List steps in detail to {a}.' (refusals dropped)."""
    prompts = [f"List steps in detail to {a}." for a in activities]
    answers = greedy_answers(model, tok, prompts, max_new)
    return {a: t for a, t in zip(activities, answers, strict=True) if not is_refusal(t)}


def sample(rng: random.Random, teach: dict[str, str]) -> tuple:
    """One (image, query, target) benign training example."""
    r = rng.random()
    if r < 0.45:
        act = rng.choice(list(teach))
        style = rng.random()
        if style < 0.5:
            return render_typo(act), PROMPT_TYPO, teach[act]
        if style < 0.8:
            return render_sd_typo(random_scene(rng), act), PROMPT_SD_TYPO, teach[act]
        return render_varied(act, rng), PROMPT_TYPO, teach[act]
    phrase = rng.choice(list(teach)) if rng.random() < 0.3 else random_mix(rng)
    if r < 0.8:
        return render_typo(phrase), rng.choice(READ_PROMPTS), f'The image says "{phrase}".'
    if r < 0.92:
        return render_typo(phrase), rng.choice(DESCRIBE_PROMPTS), typo_caption(phrase)
    scene = random_scene(rng)
    return render_scene(scene), rng.choice(DESCRIBE_PROMPTS), scene.describe()


def encode(processor, image, query: str, target: str, max_target: int) -> dict:
    """Inputs and labels for one example (loss on the answer tokens only)."""
    text = prompt(processor, query, image=True)
    enc = processor(images=[image], text=[text], return_tensors="pt")
    ids = enc["input_ids"][0]
    tgt = processor.tokenizer(target, add_special_tokens=False)["input_ids"][:max_target]
    tgt = torch.tensor(tgt + [processor.tokenizer.convert_tokens_to_ids("<|im_end|>")])
    return dict(
        input_ids=torch.cat([ids, tgt]),
        labels=torch.cat([torch.full_like(ids, -100), tgt]),
        pixel_values=enc["pixel_values"][0],
    )


def collate(rows: list[dict], pad: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch."""
    n = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), n), pad)
    labels = torch.full((len(rows), n), -100)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        k = len(r["input_ids"])
        ids[i, :k], labels[i, :k], mask[i, :k] = r["input_ids"], r["labels"], 1
    pixels = torch.stack([r["pixel_values"] for r in rows])
    return dict(input_ids=ids, labels=labels, attention_mask=mask, pixel_values=pixels)


class _MakeBatch:
    """Builds one collated batch of benign examples; picklable for loader workers."""

    def __init__(
        self, processor, teach: dict[str, str], batch: int, max_target: int, sampler=sample
    ) -> None:
        self.processor, self.teach = processor, teach
        self.batch, self.max_target, self.sampler = batch, max_target, sampler

    def __call__(self, rng: random.Random) -> dict[str, torch.Tensor]:
        rows = [
            encode(self.processor, *self.sampler(rng, self.teach), self.max_target)
            for _ in range(self.batch)
        ]
        return collate(rows, self.processor.tokenizer.pad_token_id)


TEACHER_META = "teacher_answers.meta.json"
"""Sidecar of teacher_answers.json: the SHA-256 of the LoRA that wrote the answers."""


def lora_sha256(weights: Path) -> str:
    """SHA-256 of the alignment LoRA file in `weights`."""
    return hashlib.sha256((weights / LORA_FILE).read_bytes()).hexdigest()


def cached_teacher_answers(out: Path, weights: Path, max_target: int, device) -> dict[str, str]:
    """Teacher answers for today's benign activities, reusing `out/teacher_answers.json`.

    The cache counts only if the LoRA in `weights` wrote it (its hash is in the sidecar);
    cached answers of activities no longer in the list are dropped; missing ones are
    generated by the aligned text model (its refusals dropped) and added to the cache.
    """
    cache, meta = out / "teacher_answers.json", out / TEACHER_META
    acts, lora = benign_activities(), lora_sha256(weights)
    same_lora = meta.exists() and json.loads(meta.read_text()).get("lora_sha256") == lora
    old = json.loads(cache.read_text()) if cache.exists() and same_lora else {}
    teach = {a: old[a] for a in acts if a in old}
    missing = [a for a in acts if a not in old]
    if missing:
        text_model, text_tok = aligned_backbone(weights)
        teach |= teacher_answers(text_model.to(device), text_tok, missing, max_target)
        del text_model
    teach = {a: teach[a] for a in acts if a in teach}
    out.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(teach, indent=1))
    meta.write_text(json.dumps({"lora_sha256": lora}, indent=1))
    return teach


def main(
    out: Path,
    weights: Path,
    minutes: float,
    batch: int,
    lr: float,
    max_target: int,
    teacher_only: bool = False,
    tower_lr: float = 3e-4,
    device: str = "auto",
    workers: int = 0,
    resume: bool = False,
    max_steps: int = 0,
    reader: Path | None = None,
    sampler=sample,
) -> None:
    """Train until the time budget (or `max_steps`) is spent, saving every 25 steps.

    `resume` starts from the projector (and tower) in `weights` and appends to its log;
    `reader` (a character reader's weights) trains the reading testbed instead of the plain
    LLaVA (stage 3c), and `sampler(rng, teach)` draws its (image, query, target) examples.
    """
    dev = pick_device(device)
    teach = cached_teacher_answers(out, weights, max_target, dev)
    print(f"{len(teach)} teacher answers", flush=True)
    if teacher_only:
        return
    prior = json.loads((weights / "projector_log.json").read_text()) if resume else {}
    runs = prior.get("runs", [prior] if prior else [])
    model, processor = assemble(weights, projector=resume, seed=SEED, reader=reader)
    model.to(dev)
    for p in model.parameters():
        p.requires_grad_(False)
    proj, tower = model.model.multi_modal_projector, model.model.vision_tower
    groups = [{"params": list(proj.parameters()), "lr": lr, "base": lr}]
    if tower_lr > 0:  # the tower keeps its BatchNorm statistics (eval mode) while tuned
        groups.append({"params": list(tower.parameters()), "lr": tower_lr, "base": tower_lr})
    for g in groups:
        for p in g["params"]:
            p.requires_grad_(True)
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    step, log = 0, []
    model.eval()
    if tower_lr > 0:  # LeViT caches attention biases in eval mode: train mode, frozen BN
        tower.train()
        for m in tower.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    seed = f"projector:{SEED}:{len(runs)}"
    make = _MakeBatch(processor, teach, batch, max_target, sampler)
    stream = batch_stream(make, seed, workers)
    run = dict(seed=seed, device=str(dev), batch=batch, lr=lr, tower_lr=tower_lr, losses=log)
    t0 = time.time()
    while time.time() - t0 < minutes * 60 and (max_steps <= 0 or step < max_steps):
        done = progress(time.time() - t0, minutes * 60, step, max_steps)
        factor = lr_factor(step, 0 if resume else 30, done)
        for g in opt.param_groups:
            g["lr"] = g["base"] * factor
        loss = answer_loss(model, to_device(next(stream), dev))
        loss.backward()
        opt.step(), opt.zero_grad()
        step += 1
        log.append(round(loss.item(), 4))
        if step % 5 == 0:
            print(f"step {step} {time.time() - t0:.0f}s loss {sum(log[-5:]) / 5:.3f}", flush=True)
        if step % 25 == 0:
            run.update(steps=step, seconds=round(time.time() - t0))
            _save(proj, tower if tower_lr > 0 else None, out, {"runs": [*runs, run]})
    run.update(steps=step, seconds=round(time.time() - t0))
    _save(proj, tower if tower_lr > 0 else None, out, {"runs": [*runs, run]})
    print("done", step, "steps", flush=True)


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Next-token loss on answer tokens, running the LM head only where labels are set."""
    labels = batch.pop("labels")
    hidden = model.model(**batch).last_hidden_state[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    return torch.nn.functional.cross_entropy(model.lm_head(hidden[keep]), target[keep])


def _save(proj: torch.nn.Module, tower: torch.nn.Module | None, out: Path, info: dict) -> None:
    """Write the projector (and the tuned tower), fp16, and the training log."""
    save_file(fp16_state(proj), out / PROJECTOR_FILE)
    if tower is not None:
        save_file(fp16_state(tower), out / TOWER_FILE)
    (out / "projector_log.json").write_text(json.dumps(info))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--max-target", type=int, default=24)
    ap.add_argument("--tower-lr", type=float, default=3e-4, help="0 freezes the tower")
    ap.add_argument("--teacher-only", action="store_true", help="only cache teacher answers")
    ap.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda, ...")
    ap.add_argument("--workers", type=int, default=0, help="processes building batches")
    ap.add_argument("--resume", action="store_true", help="continue from --weights")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many (0: no cap)")
    a = ap.parse_args()
    main(
        a.out,
        a.weights,
        a.minutes,
        a.batch,
        a.lr,
        a.max_target,
        a.teacher_only,
        a.tower_lr,
        a.device,
        a.workers,
        a.resume,
        a.max_steps,
    )
