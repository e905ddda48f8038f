"""Shared image prefix: a request's caption and answer prompts continue one KV cache.

Where a family's template puts the image first, the caption prompt and the answer prompt
of a request agree on a token prefix (chat header + image tokens) before they diverge.
That prefix runs once, with the pixel values, so the image is encoded once per request;
the caption is generated from its cache, the cache is rolled back to the prefix (or was
forked first, where sliding-window layers cannot roll back), and the answer prompt
continues from it (`Adapter.forward_kwargs` builds each of these passes).

In a batch each row's prefix is left-padded to the longest prefix and each row's suffix
to the longest suffix, so padding may sit between the two. The attention mask hides it
and positions count only real tokens, so every row computes what it would unpadded.
Sliding-window layers count cache slots, not positions, so there such a batch is not
split (a batch whose suffixes need no padding, such as a single request, still is).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch

from shiftdc.models.generation import decode_new, generation_kwargs, no_logits_kwargs

if TYPE_CHECKING:
    from transformers import Cache

    from shiftdc.models.adapter import Adapter, Inputs
    from shiftdc.models.loading import VLM


def image_token_id(vlm: VLM) -> int | None:
    """The id of the image placeholder token the processor expands (None if unknown)."""
    cfg = vlm.model.config
    tid = getattr(cfg, "image_token_id", None)
    return int(tid) if tid is not None else getattr(cfg, "image_token_index", None)


def prefix_sharing_ok(vlm: VLM) -> bool:
    """Whether the family allows a shared image prefix (image first, prefix-stable cache)."""
    ad = vlm.adapter
    return bool(ad.image_first and ad.prefix_cache_ok and image_token_id(vlm) is not None)


def common_prefix(a: torch.Tensor, b: torch.Tensor) -> int:
    """Length of the longest common prefix of two 1-D id tensors."""
    n = min(len(a), len(b))
    diff = (a[:n] != b[:n]).nonzero()
    return int(diff[0]) if len(diff) else n


def _rows(inputs: Inputs, key: str) -> list[torch.Tensor]:
    """Each row of a [B, T] input without its padding."""
    masks = inputs["attention_mask"].bool()
    return [row[m] for row, m in zip(inputs[key], masks, strict=True)]


def _left_pad(rows: list[torch.Tensor], width: int, value: int) -> torch.Tensor:
    out = rows[0].new_full((len(rows), width), value)
    for i, r in enumerate(rows):
        if len(r):
            out[i, width - len(r) :] = r
    return out


def _seq_keys(adapter: Adapter, inputs: Inputs) -> list[str]:
    return [k for k in adapter.SEQUENCE_KEYS if k in inputs]


def _same_images(first: Inputs, second: Inputs, seq: list[str]) -> bool:
    """Whether both batches carry the very same non-sequence (image) inputs."""
    other = sorted(k for k in first if k not in seq)
    if other != sorted(k for k in second if k not in seq):
        return False
    for k in other:
        a, b = first[k], second[k]
        if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
            if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
                return False
            if a.shape != b.shape or not torch.equal(a, b):
                return False
    return True


def _cuts(first: Inputs, second: Inputs, image_id: int) -> list[int] | None:
    """Per row, the shared prefix length (all image tokens inside, one token left over)."""
    cuts = []
    for a, b in zip(_rows(first, "input_ids"), _rows(second, "input_ids"), strict=True):
        n = min(common_prefix(a, b), len(a) - 1, len(b) - 1)
        if n < 1 or (a[n:] == image_id).any() or (b[n:] == image_id).any():
            return None
        cuts.append(n)
    return cuts


def _splice(batch: Inputs, seq: list[str], cuts: list[int], width: int, pad_id: int) -> Inputs:
    """The batch laid out as [prefix left-padded to `width` | suffix left-padded]."""
    ids = _rows(batch, "input_ids")
    suffix = max(len(r) - c for r, c in zip(ids, cuts, strict=True))
    out = {k: v for k, v in batch.items() if k not in seq}
    for k in seq:
        rows = [torch.ones_like(r) for r in ids] if k == "attention_mask" else _rows(batch, k)
        value = pad_id if k == "input_ids" else 0
        head = _left_pad([r[:c] for r, c in zip(rows, cuts, strict=True)], width, value)
        tail = _left_pad([r[c:] for r, c in zip(rows, cuts, strict=True)], suffix, value)
        out[k] = torch.cat([head, tail], dim=-1)
    return out


def _suffixes_even(batch: Inputs, cuts: list[int]) -> bool:
    return len({len(r) - c for r, c in zip(_rows(batch, "input_ids"), cuts, strict=True)}) == 1


class Prefilled(NamedTuple):
    """Prompt inputs whose first `start` columns already sit in `cache`."""

    inputs: Inputs
    cache: Cache
    start: int


@dataclass
class SharedPrefix:
    """Two prompt batches laid out as [padded shared prefix | padded own suffix]."""

    length: int  # columns of the shared (padded) prefix
    first: Inputs  # full inputs of the first batch (captions), spliced
    second: Inputs  # full inputs of the second batch (answers), spliced

    @classmethod
    def build(cls, vlm: VLM, first: Inputs, second: Inputs) -> SharedPrefix | None:
        """Split two encoded batches of the same images at their shared prefix; None if unsafe."""
        ad, image_id = vlm.adapter, image_token_id(vlm)
        seq = _seq_keys(ad, first)
        if image_id is None or seq != _seq_keys(ad, second) or "input_ids" not in seq:
            return None
        if not _same_images(first, second, seq):
            return None
        cuts = _cuts(first, second, image_id)
        if cuts is None:
            return None  # image tokens past the split: nothing to share safely
        if _sliding(vlm) and not (_suffixes_even(first, cuts) and _suffixes_even(second, cuts)):
            return None  # a window or conv counts slots: padding between the parts would shift it
        width = max(cuts)
        a, b = (_splice(x, seq, cuts, width, _pad_id(vlm)) for x in (first, second))
        pos_a, pos_b = ad.position_ids(a), ad.position_ids(b)
        if (pos_a is None) != (pos_b is None):
            return None
        if pos_a is not None and not torch.equal(pos_a[..., :width], pos_b[..., :width]):
            return None  # the family's positions depend on what follows the prefix
        return cls(width, a, b)

    def run_prefix(self, vlm: VLM) -> Cache:
        """Run the shared prefix (image encoded here, once) and return its KV cache."""
        cache = vlm.adapter.prefix_cache()
        vlm.model(
            **vlm.adapter.forward_kwargs(self.second, 0, self.length, cache),
            **no_logits_kwargs(vlm),
        )
        return cache

    def generate_first(self, vlm: VLM, cache: Cache, max_new_tokens: int) -> list[str]:
        """Greedy continuations of the first batch from the prefix cache (left as it was)."""
        fork = not rewindable(cache)
        run = copy.deepcopy(cache) if fork else cache
        batch = self.first
        ids = vlm.model.generate(
            **vlm.adapter.generate_kwargs(batch, run), **generation_kwargs(vlm, max_new_tokens)
        )
        if not fork:
            rewind(cache, self.length)
        return decode_new(vlm, ids, batch["input_ids"].shape[1])


def rewindable(cache: Cache) -> bool:
    """Whether `crop` can take every layer of the cache back to an earlier length."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def rewind(cache: Cache, length: int) -> None:
    """Drop every cached position from `length` on."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


def _sliding(vlm: VLM) -> bool:
    """Whether any decoder layer looks back over a fixed number of cache slots: a sliding
    window (or Llama 4's chunks), or a short convolution (LFM2's conv layers, whose cache
    keeps `conv_states`), so padding between prefix and suffix would change what it sees."""
    layers = getattr(vlm.adapter.prefix_cache(), "layers", None) or []
    return any(
        getattr(layer, "is_sliding", False) or hasattr(layer, "conv_states") for layer in layers
    )


def _pad_id(vlm: VLM) -> int:
    tok = vlm.adapter.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    return int(pad or 0)
