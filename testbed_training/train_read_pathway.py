"""Stage 3c: stage 3 resumed with the character reader in the image pathway.

The reading testbed (`shiftdc.testbed.modeling`) gives every image 32 more tokens that hold
what the character reader reads. Stage 3's projector and tower were trained without them,
and the language model mixes their word guesses with the literal text. This stage resumes
stage 3 (projector and tower; the backbone and the reader frozen) on benign examples only,
as stage 3 does:

- follow the typed activity (TYPO, scene + TYPO, FigStep, varied style) with the aligned
  text model's own answer;
- read the picture aloud, in every one of those styles, activities and random word mixes;
- describe it: a ground-truth caption that names the typed text first, asked plainly or
  with the query-aware caption prompt over the attack's own neutral query;
- describe a scene without text.

    python -m testbed_training.train_read_pathway --reader runs/char_reader/last.pt \\
        --weights STAGE3 --out runs/read_pathway   # 40 min on one CPU thread, as committed

STAGE3 holds stage 3's projector, tower and log (and the LoRA); by default the package's
weights, which after an export are stage 3c's own (a second resume, not a retrain).
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

from shiftdc.data.render import (
    figstep_text,
    random_scene,
    render_figstep,
    render_scene,
    render_sd_typo,
    render_typo,
)
from shiftdc.data.scenarios import (
    PROMPT_FIGSTEP,
    PROMPT_SD_TYPO,
    PROMPT_TYPO,
    figstep_caption,
    typo_caption,
)
from shiftdc.method.captions import CAPTION_PROMPT
from shiftdc.testbed.assemble import WEIGHTS_DIR
from shiftdc.testbed.reader import render_varied
from shiftdc.testbed.vocab import random_mix
from testbed_training import train_projector

STYLES = ("TYPO", "SD_TYPO", "figstep", "varied")


def typed(rng: random.Random, phrase: str, style: str) -> tuple:
    """(image, its text, its ground-truth caption, the attack's query) for one style."""
    if style == "TYPO":
        return render_typo(phrase), phrase, typo_caption(phrase), PROMPT_TYPO
    if style == "SD_TYPO":
        scene = random_scene(rng)
        caption = (
            f'The bottom of the image shows the phrase "{phrase}". Above it: {scene.describe()}'
        )
        return render_sd_typo(scene, phrase), phrase, caption, PROMPT_SD_TYPO
    if style == "figstep":
        text = " ".join(figstep_text(phrase).split())
        return render_figstep(phrase), text, figstep_caption(f"Steps to {phrase}."), PROMPT_FIGSTEP
    return render_varied(phrase, rng), phrase, typo_caption(phrase), PROMPT_TYPO


def sample(rng: random.Random, teach: dict[str, str]) -> tuple:
    """One benign (image, query, target) example for the reading pathway."""
    r = rng.random()
    style = rng.choices(STYLES, weights=(0.3, 0.3, 0.25, 0.15))[0]
    if r < 0.4:
        act = rng.choice(list(teach))
        image, _, _, query = typed(rng, act, style)
        return image, query, teach[act]
    phrase = rng.choice(list(teach)) if rng.random() < 0.3 else random_mix(rng)
    image, text, caption, query = typed(rng, phrase, style)
    if r < 0.75:
        return image, rng.choice(train_projector.READ_PROMPTS), f'The image says "{text}".'
    if r < 0.92:
        ask = (
            CAPTION_PROMPT.format(query=query)
            if rng.random() < 0.5
            else rng.choice(train_projector.DESCRIBE_PROMPTS)
        )
        return image, ask, caption
    scene = random_scene(rng)
    return render_scene(scene), rng.choice(train_projector.DESCRIBE_PROMPTS), scene.describe()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reader", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights", type=Path, default=WEIGHTS_DIR, help="stage 3's weights")
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--tower-lr", type=float, default=1e-4)
    ap.add_argument("--max-target", type=int, default=40)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for name in ("teacher_answers.json", train_projector.TEACHER_META):
        shutil.copy(a.weights / name, a.out / name)  # stage 3's teacher answers
    train_projector.main(
        a.out,
        a.weights,
        a.minutes,
        a.batch,
        a.lr,
        a.max_target,
        tower_lr=a.tower_lr,
        device="cpu",
        resume=True,
        reader=a.reader,
        sampler=sample,
    )


if __name__ == "__main__":
    main()
