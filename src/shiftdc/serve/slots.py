"""The KV cache of the rows that decode together, one row per request, rows joining and leaving.

Each request fills its own batch-1 cache (its prefill), then joins the running batch: its
keys and values are left-padded to the batch's width (or the batch is left-padded to its
width) and stacked on. The attention mask hides the padding and each row passes its own
position ids, so a row computes what it would alone. A finished row is dropped at once and
columns that are padding in every remaining row are trimmed.

This needs a cache made only of plain `DynamicLayer`s (no sliding window, which counts
slots rather than positions) and positions that follow the text layout
(`Adapter.position_ids`' default); `slots_supported` says whether a model qualifies.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from shiftdc.models.adapter import Adapter
from shiftdc.models.fastpath import rewindable
from shiftdc.models.generation import no_logits_kwargs
from shiftdc.models.hooks import subtract_last

if TYPE_CHECKING:
    from transformers import Cache

    from shiftdc.models.adapter import Inputs
    from shiftdc.models.loading import VLM


#: generation-config fields that shape every step's logits, greedy decoding included, and
#: their neutral values; the slot engine picks tokens itself and applies none of them
LOGIT_SHAPING = {
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "sequence_bias": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "exponential_decay_length_penalty": None,
}


def slots_supported(vlm: VLM) -> str | None:
    """None when rows of this model can join a running batch; else the reason they cannot."""
    ad = vlm.adapter
    if not ad.prefix_cache_ok:
        return f"{vlm.family}: its prompt cache cannot be continued row by row (no KV reuse)"
    if type(ad).position_ids is not Adapter.position_ids:
        return f"{vlm.family}: its position ids are not the text layout (multimodal RoPE)"
    if type(ad).generate_kwargs is not Adapter.generate_kwargs:
        return f"{vlm.family}: its decode steps need inputs beyond the cache (cross-attention)"
    gen_cfg = vlm.model.generation_config
    for name, neutral in LOGIT_SHAPING.items():
        if getattr(gen_cfg, name, neutral) not in (neutral, None):
            return f"{vlm.family}: its generation config sets {name}, which slots do not apply"
    if not rewindable(ad.prefix_cache()):
        return f"{vlm.family}: its cache has sliding-window (or short-convolution) layers"
    return None


def _kv(cache: Cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    """Pad dim -2 (the sequence of a [B, H, T, D] tensor) on the left with zeros to `width`."""
    extra = width - t.shape[-2]
    if extra <= 0:
        return t
    pad = t.new_zeros((*t.shape[:-2], extra, t.shape[-1]))
    return torch.cat([pad, t], dim=-2)


def _pad_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    """Pad a [B, T] mask on the left with zeros to `width`."""
    extra = width - mask.shape[1]
    return torch.cat([mask.new_zeros((mask.shape[0], extra)), mask], 1) if extra > 0 else mask


def prefill(
    vlm: VLM,
    inputs: Inputs,
    cache: Cache,
    start: int,
    stop: int,
    chunk: int,
    last: Callable[[Callable[[], object]], Any] | None = None,
) -> Generator[int, None, Any]:
    """Run prompt columns [start, stop) into `cache`, `chunk` tokens per pass (a pass from
    column 0 takes every image token); yields the tokens each pass ran.

    `last`, if given, runs the final pass (it gets the pass as a callable: a mode's measure
    hooks) and its result is returned."""
    ad = vlm.adapter
    first = start
    if start == 0:
        ids = inputs["input_ids"][0]
        image = _last_image_column(vlm, ids)
        first = min(stop, max(chunk, image + 1))
    bounds = [start, first] if first > start else [start]
    while bounds[-1] < stop:
        bounds.append(min(stop, bounds[-1] + chunk))
    result = None
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):

        def run(a: int = a, b: int = b) -> object:
            return vlm.model(**ad.forward_kwargs(inputs, a, b, cache), **no_logits_kwargs(vlm))

        if last is not None and i == len(bounds) - 2:
            result = last(run)
        else:
            run()
        yield b - a
    return result


def _last_image_column(vlm: VLM, ids: torch.Tensor) -> int:
    from shiftdc.models.fastpath import image_token_id

    tid = image_token_id(vlm)
    hits = (ids == tid).nonzero() if tid is not None else ids.new_zeros((0, 1))
    return int(hits[-1]) if len(hits) else -1


class SlotBatch:
    """Rows decoding together: a left-padded KV cache, its mask, one correction per row."""

    def __init__(self, vlm: VLM) -> None:
        self.vlm = vlm
        self.keys: list[Any] = []  # the row keys, in batch order
        self.cache: Cache | None = None
        self.mask: torch.Tensor | None = None  # [B, W] 1 = a real cached token
        self.corrections: list[dict[int, torch.Tensor]] = []  # per row: layer -> [H]
        self._stacked: dict[int, torch.Tensor] | None = None  # corrections as [B, H] per layer

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def width(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    def add(self, key: Any, cache: Cache, corrections: dict[int, torch.Tensor] | None) -> None:
        """Join a row whose prompt (all but its pending token) sits in a batch-1 `cache`."""
        own = _kv(cache)
        n = own[0][0].shape[-2]
        dev = own[0][0].device
        row_mask = torch.ones((1, n), dtype=torch.long, device=dev)
        if self.cache is None:
            self.cache = self.vlm.adapter.prefix_cache()
            merged = own
            self.mask = row_mask
        else:
            assert self.mask is not None
            width = max(self.width, n)
            merged = [
                (
                    torch.cat([_pad_left(k, width), _pad_left(k1, width)], 0),
                    torch.cat([_pad_left(v, width), _pad_left(v1, width)], 0),
                )
                for (k, v), (k1, v1) in zip(_kv(self.cache), own, strict=True)
            ]
            self.mask = torch.cat([_pad_mask(self.mask, width), _pad_mask(row_mask, width)])
        self._set(merged)
        self._stacked = None
        self.keys.append(key)
        self.corrections.append(dict(corrections or {}))

    def remove(self, gone: Sequence[Any]) -> None:
        """Drop rows at once; trim columns that no remaining row uses."""
        out = {id(g) for g in gone}
        keep = [i for i, k in enumerate(self.keys) if id(k) not in out]
        if len(keep) == len(self.keys):
            return
        self._stacked = None
        self.keys = [self.keys[i] for i in keep]
        self.corrections = [self.corrections[i] for i in keep]
        if not keep:
            self.cache, self.mask = None, None
            return
        assert self.cache is not None and self.mask is not None
        index = torch.tensor(keep, device=self.mask.device)
        mask = self.mask[index]
        used = mask.any(0).nonzero()
        first = int(used[0]) if len(used) else mask.shape[1]
        self.mask = mask[:, first:]
        self._set(
            [(k[index][..., first:, :], v[index][..., first:, :]) for k, v in _kv(self.cache)]
        )

    def _set(self, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        assert self.cache is not None
        for layer, (k, v) in zip(self.cache.layers, kv, strict=True):
            if not layer.is_initialized:
                layer.lazy_initialization(k, v)
            layer.keys, layer.values = k, v

    def _correction_tensors(self) -> dict[int, torch.Tensor]:
        if self._stacked is None:
            self._stacked = self._stack()
        return self._stacked

    def _stack(self) -> dict[int, torch.Tensor]:
        layers = sorted({layer for c in self.corrections for layer in c})
        out = {}
        for layer in layers:
            ref = next(c[layer] for c in self.corrections if layer in c)
            out[layer] = torch.stack(
                [c.get(layer, torch.zeros_like(ref)) for c in self.corrections]
            )
        return out

    @torch.no_grad()
    def step(self, tokens: Sequence[int], positions: Sequence[int]) -> torch.Tensor:
        """One decode step of every row: each row's pending token in, next-token logits
        [B, V] (float32) out; each row's own correction is subtracted at its token."""
        assert self.cache is not None and self.mask is not None
        dev = self.mask.device
        ids = torch.tensor(list(tokens), dtype=torch.long, device=dev)[:, None]
        pos = torch.tensor(list(positions), dtype=torch.long, device=dev)[:, None]
        mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        kw = {self.vlm.adapter.cache_arg: self.cache}
        with subtract_last(self.vlm.layers, self._correction_tensors()):
            out = self.vlm.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                use_cache=True,
                **kw,
                **no_logits_kwargs(self.vlm),
            )
        self.mask = mask
        return out.logits[:, -1].float()
