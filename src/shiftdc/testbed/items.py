"""Which held-out requests a measurement cell asks, and in which form.

Every form of one kind gets the same requests ('eval' split), so cells compare like with like.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from shiftdc.data import builtin_items
from shiftdc.testbed.conditions import image_attack
from shiftdc.testbed.vocab import trained_phrases


def pick(kind: str, attack: str, n: int, seed: int) -> list[Any]:
    """n 'eval'-split requests of one kind in one form; the same requests for every form.

    A guard: requests whose key phrase the vision stages were trained on are left out (the
    splits are disjoint, so none is; tests/testbed/test_splits.py checks both).
    """
    trained = trained_phrases()
    attack = image_attack(attack)
    items = [
        it
        for it in builtin_items("eval", attacks=(attack,), seed=seed, kinds=(kind,))
        if str(it.meta.get("key_phrase", "")).lower() not in trained
    ]
    rng = random.Random(f"testbed-measure:{seed}:{kind}")
    order = list(range(len(items)))
    rng.shuffle(order)
    return [items[i] for i in sorted(order[:n])]


def as_counterpart(sample: Any) -> Any:
    """The sample as its text-only counterpart: caption folded into the prompt, no image."""
    if sample.image is None or sample.caption is None:
        raise ValueError(f"{sample.id}: a text-only counterpart needs an image and its caption")
    return replace(sample, prompt=sample.text_only_prompt(), image=None)
