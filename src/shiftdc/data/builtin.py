"""The built-in offline suite: bundled requests rendered locally into each attack type."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from PIL import Image

from shiftdc.data.builtin_requests import BuiltinRequest, Split, builtin_requests, check_split
from shiftdc.data.item import EvalItem
from shiftdc.data.render import (
    DEFAULT_SIZE,
    Size,
    random_scene,
    render_figstep,
    render_scene,
    render_sd_typo,
    render_typo,
)
from shiftdc.data.scenarios import (
    ATTACK_PROMPTS,
    FIGSTEP,
    SD,
    SD_TYPO,
    TEXT,
    TYPO,
    figstep_caption,
    typo_caption,
)
from shiftdc.data.utility import utility_items

BENCHMARK: Final = "builtin"
BUILTIN_ATTACKS: Final[tuple[str, ...]] = (TEXT, TYPO, SD, SD_TYPO, FIGSTEP)
DIRECTION_ATTACKS: Final[tuple[str, ...]] = (TYPO, SD_TYPO)
"""Default image variants for the direction set. SD is left out because the built-in
scene holds nothing of the request, so its text-only version carries no safety signal."""


def _scene_rng(seed: int, request_id: str) -> random.Random:
    """Per-request RNG, so SD and SD_TYPO of one request share a scene."""
    return random.Random(f"shiftdc-scene:{seed}:{request_id}")


def render_attack_image(
    attack: str, phrase: str, request_id: str, seed: int, size: Size = DEFAULT_SIZE
) -> Image.Image:
    """Render the image of one attack type for one request (deterministic in the seed)."""
    if attack == TYPO:
        return render_typo(phrase, size)
    if attack == FIGSTEP:
        return render_figstep(phrase, size)
    scene = random_scene(_scene_rng(seed, request_id))
    if attack == SD:
        return render_scene(scene, size)
    if attack == SD_TYPO:
        return render_sd_typo(scene, phrase, size)
    image_attacks = ", ".join(BUILTIN_ATTACKS[1:])
    raise ValueError(f"no image for attack {attack!r}; image attacks: {image_attacks}")


@dataclass(frozen=True)
class AttackImage:
    """Lazy renderer of one attack image; compares by value, pickles, renders on call."""

    attack: str
    phrase: str
    request_id: str
    seed: int
    size: Size = DEFAULT_SIZE

    def __call__(self) -> Image.Image:
        """Render the image now."""
        return render_attack_image(self.attack, self.phrase, self.request_id, self.seed, self.size)


def _caption(attack: str, req: BuiltinRequest, seed: int) -> str | None:
    """Ground-truth caption of the rendered image (None for text-only)."""
    if attack == TYPO:
        return typo_caption(req.key_phrase)
    if attack == FIGSTEP:
        return figstep_caption(f"Steps to {req.key_phrase}.")
    if attack in (SD, SD_TYPO):
        scene_text = random_scene(_scene_rng(seed, req.id)).describe()
        if attack == SD:
            return scene_text
        return f'{scene_text} Below it, the phrase "{req.key_phrase}" is typed in black on white.'
    return None


def request_item(req: BuiltinRequest, attack: str, seed: int, size: Size) -> EvalItem:
    """One EvalItem for a bundled request in the given attack form."""
    if attack not in BUILTIN_ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; expected one of {BUILTIN_ATTACKS}")
    text_only = attack == TEXT
    image = None
    if not text_only:
        image = AttackImage(attack, req.key_phrase, req.id, seed, size)
    meta: dict[str, Any] = {"key_phrase": req.key_phrase, "split": req.split, "seed": seed}
    return EvalItem(
        id=f"{BENCHMARK}/{req.id}/{attack}",
        prompt=req.request if text_only else ATTACK_PROMPTS[attack],
        image=image,
        scenario=req.scenario,
        attack=attack,
        kind=req.kind,
        benchmark=BENCHMARK,
        caption=_caption(attack, req, seed),
        request=req.request,
        meta=meta,
    )


def builtin_items(
    split: Split = "eval",
    attacks: Sequence[str] = BUILTIN_ATTACKS,
    seed: int = 0,
    kinds: Sequence[str] | None = None,
    image_size: Size = DEFAULT_SIZE,
) -> list[EvalItem]:
    """Items of one split in each requested attack form; utility questions only in 'eval'."""
    check_split(split)
    image_size = (int(image_size[0]), int(image_size[1]))
    if kinds is None:
        kinds = ("harmful", "benign", "utility") if split == "eval" else ("harmful", "benign")
    unknown = set(kinds) - {"harmful", "benign", "utility"}
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; expected harmful, benign, utility")
    if "utility" in kinds and split != "eval":
        raise ValueError("utility questions belong to the 'eval' split only")
    items = [
        request_item(req, attack, seed, image_size)
        for req in builtin_requests(split)
        if req.kind in kinds
        for attack in attacks
    ]
    if "utility" in kinds:
        items.extend(utility_items(seed=seed, image_size=image_size))
    return items


def direction_set(
    seed: int = 0, attacks: Sequence[str] = DIRECTION_ATTACKS, image_size: Size = DEFAULT_SIZE
) -> tuple[list[EvalItem], list[EvalItem]]:
    """(safe, unsafe) items of the direction split, with images and ground-truth captions."""
    items = builtin_items("direction", attacks, seed, ("harmful", "benign"), image_size)
    safe = [it for it in items if it.kind == "benign"]
    unsafe = [it for it in items if it.kind == "harmful"]
    return safe, unsafe


def load_builtin(data_dir: Path | None = None, seed: int = 0, **options: Any) -> list[EvalItem]:
    """Registry loader: the built-in suite (no data directory needed; `data_dir` is ignored)."""
    return builtin_items(seed=seed, **options)
