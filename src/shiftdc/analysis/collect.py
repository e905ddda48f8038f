"""Collect the four last-token activation sets from a VLM (before and after ShiftDC), cached.

This is the one module of `shiftdc.analysis` that runs models; the rest takes arrays.
Row i of a vision-language set and of its text-only twin come from the same request: the
text-only counterpart is "{query} Image Caption: {caption}", with the item's ground-truth
caption when it has one (and captions="auto"), else the model's query-aware self-caption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from shiftdc.errors import InputError
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import text_only_prompts
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.models.generation import batches, text_activations, to_device
from shiftdc.models.hooks import read_last, subtract_last
from shiftdc.models.loading import VLM

from .cache import ActivationCache, after_key, before_key
from .sets import ActivationSets

if TYPE_CHECKING:
    from shiftdc.data.item import EvalItem


CAPTION_MODES: dict[str, str] = {
    "auto": "ground-truth caption where the item has one, else the model's self-caption",
    "self": "the model's query-aware self-caption for every item (what ShiftDC itself uses)",
}
KINDS: tuple[str, ...] = ("safe", "unsafe")


@dataclass
class Collected:
    """Activations [N, L, H] of the four sets, and the calibrated VL sets when asked for."""

    before: ActivationSets
    after: ActivationSets | None
    ids: dict[str, list[str]]  # "safe"/"unsafe" -> item ids, in row order
    captions: dict[str, str]  # item id -> caption used in its text-only counterpart
    caption_source: dict[str, str]  # item id -> "given" or "self"
    cache_hits: dict[str, bool] = field(default_factory=dict)  # "before"/"after" -> hit


def check_caption_mode(captions: str) -> str:
    """Return `captions` if it is a known caption mode, else raise InputError."""
    if captions not in CAPTION_MODES:
        raise InputError(
            f"unknown caption mode {captions!r}; choose one of: {', '.join(CAPTION_MODES)}"
        )
    return captions


def item_caption(item: EvalItem, captions: str) -> str | None:
    """The ground-truth caption used for `item` under `captions`, or None for a self-caption."""
    return item.caption if captions == "auto" else None


def load_sample(item: EvalItem) -> Sample:
    """The item as a Sample with its image loaded; InputError naming the item otherwise."""
    from shiftdc.data import ImageLoadError

    try:
        sample = item.to_sample()
    except ImageLoadError as exc:
        raise InputError(f"item {item.id!r}: {exc}; fix or remove the file") from exc
    if sample.image is None:
        raise InputError(f"item {item.id!r} has no image; only image requests can be analysed")
    return sample


@torch.no_grad()
def vl_activations(
    vlm: VLM, samples: Sequence[Sample], corrections: dict[int, torch.Tensor] | None = None
) -> torch.Tensor:
    """Every decoder layer's last-prompt-token output [B, L, H] for one image+text batch.

    With `corrections` ({layer: [B, H]}), they are subtracted at the last position during
    the pass and the outputs are read on the corrected stream.
    """
    inputs = to_device(
        vlm.adapter.encode_vl([s.prompt for s in samples], [s.image for s in samples]), vlm
    )
    pos = vlm.adapter.position_ids(inputs)
    kw = {} if pos is None else {"position_ids": pos}
    idx = list(range(vlm.num_layers))
    with subtract_last(vlm.layers, corrections or {}), read_last(vlm.layers, idx) as store:
        vlm.model(**inputs, **kw, use_cache=False)
    return torch.stack([store[i] for i in idx], dim=1).cpu()


def _captions(samples: list[Sample], given: list[str | None], captioner: Captioner) -> list[str]:
    """Given captions, with self-captions filled in where none is given."""
    todo = [i for i, g in enumerate(given) if g is None]
    out = list(given)
    if todo:
        for i, c in zip(todo, captioner.caption([samples[i] for i in todo]), strict=True):
            out[i] = c
    return [c or "" for c in out]


def _collect_kind(
    vlm: VLM,
    items: Sequence[EvalItem],
    given: list[str | None],
    captioner: Captioner,
    sdc: ShiftDC | None,
    need_before: bool,
    batch_size: int,
    bar: tqdm,
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """TT/VL activations (before) and calibrated VL (after, with `sdc`) of one kind of items."""
    parts: dict[str, list[torch.Tensor]] = {"tt": [], "vl": [], "after": []}
    used: list[str] = []
    for chunk in batches(list(range(len(items))), batch_size):
        samples = [load_sample(items[i]) for i in chunk]
        caps = _captions(samples, [given[i] for i in chunk], captioner)
        used.extend(caps)
        if need_before:
            prompts = text_only_prompts(samples, caps)
            parts["tt"].append(text_activations(vlm, prompts, batch_size=len(prompts)))
            parts["vl"].append(vl_activations(vlm, samples))
        if sdc is not None:
            cal, _ = sdc.calibrate(samples, caps)
            parts["after"].append(vl_activations(vlm, samples, cal.as_dict()))
        bar.update(len(chunk))
    return {k: torch.cat(v, 0) for k, v in parts.items() if v}, used


def _check_groups(safe: Sequence[EvalItem], unsafe: Sequence[EvalItem]) -> None:
    """Both groups non-empty, ids unique across them."""
    for name, group in (("safe", safe), ("unsafe", unsafe)):
        if not group:
            raise InputError(f"no {name} image items to analyse; the analysis needs both kinds")
    ids = [it.id for it in [*safe, *unsafe]]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"item ids must be unique; repeated: {', '.join(dup[:5])}")


def collect_sets(
    vlm: VLM,
    safe: Sequence[EvalItem],
    unsafe: Sequence[EvalItem],
    *,
    shiftdc: ShiftDC | None = None,
    captions: str = "auto",
    caption_tokens: int = 128,
    captioner: Captioner | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    batch_size: int = 8,
    progress: bool = True,
) -> Collected:
    """Last-token activations of every layer for safe/unsafe items as text-only and image+text.

    `safe` and `unsafe` are EvalItems with images (`.id`, `.prompt`, `.caption`,
    `.to_sample()`). With `shiftdc`, the VL sets are also read on the stream calibrated by
    it ("after"; the text-only sets are unchanged by ShiftDC). Results are cached on disk
    under a key of the model fingerprint, the items, the caption source and (for "after")
    the ShiftDC settings; a later call with the same key loads them and runs no forward.
    """
    check_caption_mode(captions)
    _check_groups(safe, unsafe)
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    groups = {"safe": list(safe), "unsafe": list(unsafe)}
    given = {k: [item_caption(it, captions) for it in g] for k, g in groups.items()}
    captioner = captioner or Captioner(
        vlm, max_new_tokens=caption_tokens, batch_size=batch_size, progress=False
    )
    cache = ActivationCache(cache_dir, enabled=use_cache)
    bkey = before_key(vlm, groups, captions, captioner)
    akey = after_key(bkey, shiftdc) if shiftdc is not None else None
    before, meta = cache.load(bkey)
    after = cache.load(akey)[0] if akey is not None else None
    hits = {"before": before is not None}
    if akey is not None:
        hits["after"] = after is not None
    if before is None or (akey is not None and after is None):
        before, after, meta = _run(
            vlm,
            groups,
            given,
            captioner,
            shiftdc if after is None else None,
            before,
            after,
            batch_size,
            progress,
        )
        if not hits["before"]:
            cache.save(bkey, before, meta)
        if akey is not None and not hits["after"]:
            cache.save(akey, after, meta)
    return _assemble(groups, before, after, meta, given, hits)


def _run(
    vlm: VLM,
    groups: dict[str, list[EvalItem]],
    given: dict[str, list[str | None]],
    captioner: Captioner,
    sdc: ShiftDC | None,
    before: dict[str, torch.Tensor] | None,
    after: dict[str, torch.Tensor] | None,
    batch_size: int,
    progress: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None, dict[str, Any]]:
    """Forward passes for what the cache lacked; returns (before, after, caption meta)."""
    need_before = before is None
    what = " + ".join(([] if not need_before else ["before"]) + ([] if sdc is None else ["after"]))
    total = sum(len(g) for g in groups.values())
    new_before: dict[str, torch.Tensor] = {}
    new_after: dict[str, torch.Tensor] = {}
    used: dict[str, str] = {}
    with tqdm(total=total, desc=f"activations ({what})", unit="item", disable=not progress) as bar:
        for kind, items in groups.items():
            acts, caps = _collect_kind(
                vlm, items, given[kind], captioner, sdc, need_before, batch_size, bar
            )
            used.update({it.id: c for it, c in zip(items, caps, strict=True)})
            if need_before:
                new_before[f"tt_{kind}"], new_before[f"vl_{kind}"] = acts["tt"], acts["vl"]
            if sdc is not None:
                new_after[f"vl_{kind}"] = acts["after"]
    return (
        new_before if need_before else before,
        new_after if sdc is not None else after,
        {"captions": used},
    )


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor as a float32 array."""
    return t.float().numpy()


def _assemble(
    groups: dict[str, list[EvalItem]],
    before: dict[str, torch.Tensor],
    after: dict[str, torch.Tensor] | None,
    meta: dict[str, Any],
    given: dict[str, list[str | None]],
    hits: dict[str, bool],
) -> Collected:
    """Collected from tensors keyed tt_safe, ..., plus after's vl_safe / vl_unsafe."""
    sets = ActivationSets(
        **{k: _numpy(before[k]) for k in ("tt_safe", "tt_unsafe", "vl_safe", "vl_unsafe")}
    )
    after_sets = None
    if after is not None:
        after_sets = ActivationSets(
            tt_safe=sets.tt_safe,
            tt_unsafe=sets.tt_unsafe,
            vl_safe=_numpy(after["vl_safe"]),
            vl_unsafe=_numpy(after["vl_unsafe"]),
        )
    source = {
        it.id: "given" if g is not None else "self"
        for kind, items in groups.items()
        for it, g in zip(items, given[kind], strict=True)
    }
    return Collected(
        before=sets,
        after=after_sets,
        ids={k: [it.id for it in g] for k, g in groups.items()},
        captions=dict(meta.get("captions", {})),
        caption_source=source,
        cache_hits=hits,
    )
