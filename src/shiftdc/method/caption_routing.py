"""Where each request's caption comes from, and so which path it takes through ShiftDC.

A caption is the one given, else the sample's own, else a query-aware self-caption: from
the captioner's cache, or made by the model. Where the caption and answer prompts can
share the image prefix's KV cache (`shiftdc.models.fastpath`), the self-captions still to be made
are made on that cache, batch by batch, just before the answers; all others up front.
Requests without an image have no caption and are answered plainly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from shiftdc.method.sample import captions_per_sample
from shiftdc.models.fastpath import Prefilled, SharedPrefix, prefix_sharing_ok
from shiftdc.models.generation import batches

if TYPE_CHECKING:
    from shiftdc.method.captions import Captioner
    from shiftdc.method.sample import Sample
    from shiftdc.models.adapter import Inputs
    from shiftdc.models.loading import VLM


def captions_for(
    captioner: Captioner, samples: Sequence[Sample], captions: Sequence[str | None] | None = None
) -> list[str | None]:
    """Given captions, else each sample's own, else the captioner's (image samples only)."""
    given = captions_per_sample(samples, captions)
    out = [g if g is not None else s.caption for g, s in zip(given, samples, strict=True)]
    todo = [
        i
        for i, (c, s) in enumerate(zip(out, samples, strict=True))
        if c is None and s.image is not None
    ]
    if todo:
        made = captioner.caption([samples[i] for i in todo])
        for i, c in zip(todo, made, strict=True):
            out[i] = c
    return out


def shares_prefix(vlm: VLM, captioner: Captioner, share_prefix: bool) -> bool:
    """Whether self-captions can come from the answer's image-prefix cache (same VLM)."""
    return share_prefix and captioner.vlm is vlm and prefix_sharing_ok(vlm)


@dataclass
class Routes:
    """The requests of one `generate` call, by path (indices into its samples)."""

    captions: list[str | None]  # known up front (None on the shared and text-only paths)
    upfront: list[int]  # image requests whose caption is known before answering
    shared: list[int]  # image requests captioned on their answer's shared image prefix
    text_only: list[int]  # requests without an image: answered plainly

    def image_chunks(self, batch_size: int) -> list[tuple[list[int], bool]]:
        """Batches of image requests, each with whether it is captioned on the shared path."""
        chunks = [(c, False) for c in batches(self.upfront, batch_size)]
        return chunks + [(c, True) for c in batches(self.shared, batch_size)]


def route(
    samples: Sequence[Sample],
    captions: Sequence[str | None] | None,
    captioner: Captioner,
    sharing: bool,
) -> Routes:
    """Sort requests by path and make the captions needed up front."""
    given = captions_per_sample(samples, captions)
    shared = _to_share(samples, given, captioner) if sharing else []
    rest = [i for i in range(len(samples)) if i not in set(shared)]
    caps: list[str | None] = [None] * len(samples)
    made = captions_for(captioner, [samples[i] for i in rest], [given[i] for i in rest])
    for i, c in zip(rest, made, strict=True):
        caps[i] = c
    upfront = [i for i in rest if samples[i].image is not None]
    text_only = [i for i, s in enumerate(samples) if s.image is None]
    return Routes(caps, upfront, shared, text_only)


def _to_share(
    samples: Sequence[Sample], given: list[str | None], captioner: Captioner
) -> list[int]:
    """Image requests with no caption given, known or cached."""
    todo = [
        i
        for i, (g, s) in enumerate(zip(given, samples, strict=True))
        if g is None and s.caption is None and s.image is not None
    ]
    cached = captioner.cached([samples[i] for i in todo])
    return [i for i, c in zip(todo, cached, strict=True) if c is None]


@torch.no_grad()
def caption_on_prefix(
    vlm: VLM, captioner: Captioner, batch: list[Sample], answer: Inputs
) -> tuple[list[str], Prefilled | None]:
    """Self-captions made on the image prefix the answer prompts share, and that prefix.

    Where no safe split exists for this batch, the captioner captions it as usual (None).
    """
    shared = SharedPrefix.build(vlm, captioner.encode(batch), answer)
    if shared is None:
        return captioner.caption(batch), None
    cache = shared.run_prefix(vlm)
    caps = shared.generate_first(vlm, cache, captioner.max_new_tokens)
    captioner.store(batch, caps)
    return list(caps), Prefilled(shared.second, cache, shared.length)
