"""Batched activation reading and plain (uncalibrated) generation on a VLM."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from tqdm.auto import tqdm

from shiftdc.models.hooks import read_last

if TYPE_CHECKING:
    from shiftdc.method.sample import Sample
    from shiftdc.models.loading import VLM

T = TypeVar("T")
FLUSH_BYTES = 256 * 2**20
"""Activations `text_activations` keeps on the model's device before copying them out."""


def batches(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive chunks of at most `size` items."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def to_device(inputs: dict[str, Any], vlm: VLM) -> dict[str, Any]:
    """Move tensors to the model's device; floating tensors to its dtype."""
    out = {}
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor):
            v = v.to(vlm.device)
            if v.is_floating_point():
                v = v.to(vlm.dtype)
        out[k] = v
    return out


@torch.no_grad()
def text_activations(
    vlm: VLM,
    prompts: Sequence[str],
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    system: str | None = None,
    progress: bool = False,
    desc: str = "text-only pass",
) -> torch.Tensor:
    """Raw decoder-layer outputs at the last prompt token of text-only prompts: [N, L', H]."""
    idx = list(range(vlm.num_layers)) if layers is None else list(layers)
    if not prompts:
        return torch.empty(0, len(idx), vlm.hidden_size)
    encoded = vlm.adapter.encode_text(list(prompts), system)  # tokenized once, for all batches
    order = _by_length(encoded) if len(prompts) > batch_size else range(len(prompts))
    side = getattr(vlm.adapter.tokenizer, "padding_side", "left")
    rows: list[torch.Tensor] = [torch.empty(0)] * len(prompts)
    held: list[tuple[list[int], torch.Tensor]] = []  # batches still on the model's device

    def to_host() -> None:  # one wait for the device per FLUSH_BYTES, not one per batch
        for chunk, acts in held:
            for j, row in zip(chunk, acts.cpu(), strict=True):
                rows[j] = row
        held.clear()

    chunks = list(batches(list(order), batch_size))
    for chunk in tqdm(chunks, desc=desc, disable=not progress):
        inputs = to_device(take_rows(encoded, chunk, side), vlm)
        with read_last(vlm.layers, idx) as store:
            vlm.model(
                **vlm.adapter.forward_kwargs(inputs), use_cache=False, **no_logits_kwargs(vlm)
            )
        first = store[idx[0]].device  # layers split over devices: gather on the first's
        held.append((chunk, torch.stack([store[i].to(first) for i in idx], dim=1)))
        if sum(a.nbytes for _, a in held) >= FLUSH_BYTES:
            to_host()
    to_host()
    return torch.stack(rows, 0)


def _by_length(encoded: dict[str, Any]) -> list[int]:
    """Row indices of a padded encoding sorted by token count (batches with little padding)."""
    lengths = encoded["attention_mask"].sum(-1).tolist()
    return sorted(range(len(lengths)), key=lambda i: lengths[i])


def take_rows(encoded: dict[str, Any], rows: Sequence[int], side: str = "left") -> dict[str, Any]:
    """The batch of `rows` of a padded text encoding, padded only to its own longest row:
    the same tensors as encoding those prompts alone (padding on `side`)."""
    mask = encoded["attention_mask"]
    index = torch.as_tensor(list(rows), dtype=torch.long)
    width = int(mask[index].sum(-1).max())
    total = mask.shape[-1]
    cols = slice(total - width, total) if side == "left" else slice(0, width)
    out: dict[str, Any] = {}
    for key, value in encoded.items():
        if isinstance(value, torch.Tensor) and value.ndim >= 2 and value.shape[0] == len(mask):
            value = value[index]
            if value.shape[-1] == total:
                value = value[..., cols]
        out[key] = value
    return out


def no_logits_kwargs(vlm: VLM) -> dict[str, Any]:
    """Forward kwargs that skip the vocabulary projection of all but the last position."""
    params = inspect.signature(vlm.model.forward).parameters
    return {"logits_to_keep": 1} if "logits_to_keep" in params else {}


def decode_new(vlm: VLM, output_ids: torch.Tensor, prompt_len: int) -> list[str]:
    """Decode the tokens generated after a prompt of length `prompt_len`."""
    tok = vlm.adapter.tokenizer
    return [
        t.strip() for t in tok.batch_decode(output_ids[:, prompt_len:], skip_special_tokens=True)
    ]


def generation_kwargs(vlm: VLM, max_new_tokens: int) -> dict[str, Any]:
    """Greedy decoding settings used everywhere (deterministic, comparable)."""
    tok = vlm.adapter.tokenizer
    return dict(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=tok.pad_token_id,
    )


@torch.no_grad()
def generate_plain(
    vlm: VLM,
    samples: Sequence[Sample],
    max_new_tokens: int = 128,
    system: str | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> list[str]:
    """Plain (uncalibrated) responses; samples without an image get a text-only prompt."""
    out: list[str | None] = [None] * len(samples)
    with_img = [i for i, s in enumerate(samples) if s.image is not None]
    text_only = [i for i, s in enumerate(samples) if s.image is None]
    chunks = list(batches(with_img, batch_size))
    for chunk in tqdm(chunks, desc="generate", disable=not progress):
        inputs = to_device(
            vlm.adapter.encode_vl(
                [samples[i].prompt for i in chunk], [samples[i].image for i in chunk], system
            ),
            vlm,
        )
        ids = vlm.model.generate(**inputs, **generation_kwargs(vlm, max_new_tokens))
        for i, t in zip(chunk, decode_new(vlm, ids, inputs["input_ids"].shape[1]), strict=True):
            out[i] = t
    for chunk in batches(text_only, batch_size):
        for i, t in zip(
            chunk,
            generate_text(vlm, [samples[i].prompt for i in chunk], max_new_tokens, system),
            strict=True,
        ):
            out[i] = t
    return [t or "" for t in out]


@torch.no_grad()
def generate_text(
    vlm: VLM, prompts: Sequence[str], max_new_tokens: int = 128, system: str | None = None
) -> list[str]:
    """Plain responses to text-only prompts (one batch)."""
    inputs = to_device(vlm.adapter.encode_text(list(prompts), system), vlm)
    ids = vlm.model.generate(**inputs, **generation_kwargs(vlm, max_new_tokens))
    return decode_new(vlm, ids, inputs["input_ids"].shape[1])
