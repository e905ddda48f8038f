"""The requests `shiftdc tune` measures: harmful and benign image requests, yes/no questions."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from shiftdc.errors import InputError
from shiftdc.method.sample import Sample
from shiftdc.records.requests import read_samples

KINDS = ("harmful", "benign")
DEFAULT_SPLIT = "tune"
UTILITY_SEED = 1000  # other pictures than the evaluation's yes/no set (seed 0)


def builtin_tuning_items(split: str, attacks: Sequence[str], seed: int) -> list:
    """EvalItems of a built-in split (harmful and benign) in the given image attacks."""
    from shiftdc.data import builtin_items
    from shiftdc.data.builtin import BUILTIN_ATTACKS
    from shiftdc.data.builtin_requests import SPLITS
    from shiftdc.registry import canonical

    if split not in SPLITS:
        raise InputError(
            f"built-in split {split!r} is not available in this version (splits: "
            f"{', '.join(SPLITS)}); pass --split with one of them or your own --input tune.jsonl"
        )
    images = {a: a for a in BUILTIN_ATTACKS if a != "text"}
    names = [canonical(images, a, "image attack") for a in attacks]
    return builtin_items(split, names, seed, ("harmful", "benign"))  # type: ignore[arg-type]


def from_items(items: Sequence) -> list[Sample]:
    """Samples (kind and image form in meta) of image EvalItems."""
    out = []
    for it in items:
        s = it.to_sample()
        s.meta.update(kind=it.kind, form=it.attack)
        out.append(s)
    return out


def read_tuning_jsonl(path: Path) -> list[Sample]:
    """Records {id, image, prompt, kind: harmful|benign, caption?, form?}; every one needs an
    image. `form` (e.g. the attack that made the image) splits the table's rates by form."""
    samples = read_samples(path, require_image=True)
    for s in samples:
        if s.meta.get("kind") not in KINDS:
            raise InputError(
                f"{path}: record {s.id!r} has kind {s.meta.get('kind')!r}; use harmful or benign"
            )
    return samples


def limited(samples: Sequence[Sample], limit: int | None, seed: int) -> list[Sample]:
    """At most `limit` of each kind, a seeded choice, in input order; both kinds required."""
    out: list[Sample] = []
    for kind in KINDS:
        group = [s for s in samples if s.meta.get("kind") == kind]
        if not group:
            raise InputError(f"the tuning set has no {kind} requests; it needs both kinds")
        if limit is not None and limit < len(group):
            keep = set(random.Random(f"tune:{seed}:{kind}").sample(range(len(group)), limit))
            group = [s for i, s in enumerate(group) if i in keep]
        out.extend(group)
    return out


def utility_samples(n: int, seed: int) -> list[Sample]:
    """The first `n` built-in yes/no questions (balanced yes/no), kind 'utility'."""
    from shiftdc.data.utility import utility_items

    if n <= 0:
        return []
    out = []
    for it in utility_items(n_images=(n + 1) // 2, seed=UTILITY_SEED + seed)[:n]:
        s = it.to_sample()
        s.meta.update(kind="utility", answer=it.answer)
        out.append(s)
    return out


def without_captions(samples: Sequence[Sample]) -> list[Sample]:
    """Copies with known captions dropped, so the model captions them itself (the method)."""
    return [replace(s, caption=None, meta=dict(s.meta)) for s in samples]
