"""ShiftDC: calibrate the modality-induced activation shift per input, then generate.

Per batch of image+text requests: caption each image (query-aware, cached), run the
text-only counterparts once, run the vision+text prompt once into a KV cache while
measuring (paper mode) or calibrating on the fly (sequential mode) at its last token,
crop that token from the cache, then `generate` from the same cache with the per-sample
corrections subtracted at the last prompt token and every generated token.
Where the template puts the image first, a request's caption and answer also share the
image prefix's KV cache (`share_prefix`, see `shiftdc.fastpath`): the image is encoded once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from shiftdc.captions import Captioner
from shiftdc.core import MODES, correction, paper_corrections, scalar_projection
from shiftdc.direction import SafetyDirection, default_layers, text_only_prompts, validate_layers
from shiftdc.errors import InputError
from shiftdc.fastpath import SharedPrefix, continue_kwargs, prefix_sharing_ok
from shiftdc.generation import (
    batches,
    cache_kwarg,
    decode_new,
    generation_kwargs,
    no_logits_kwargs,
    output_cache,
    text_activations,
    to_device,
)
from shiftdc.models.hooks import calibrate_on_the_fly, read_last, subtract_last
from shiftdc.models.loading import VLM
from shiftdc.sample import Sample


@dataclass
class Calibration:
    """What ShiftDC measured and decided for a batch (tensors on CPU, float32)."""

    layers: list[int]  # calibrated layers
    x_vl: torch.Tensor  # [B, L, H] vision+text last-token activations (see mode docs)
    x_tt: torch.Tensor  # [B, L, H] text-only counterparts
    corrections: torch.Tensor  # [B, len(layers), H], subtracted at those layers

    def as_dict(self, row: int | None = None) -> dict[int, torch.Tensor]:
        """{layer: [B, H]} corrections (or [1, H] for one row), as the hooks take them."""
        sel = slice(None) if row is None else slice(row, row + 1)
        return {layer: self.corrections[sel, j] for j, layer in enumerate(self.layers)}


@dataclass
class ShiftResult:
    """One generated response and what ShiftDC did for it."""

    id: str
    response: str
    caption: str | None
    calibrated: bool
    mode: str | None = None
    layers: list[int] = field(default_factory=list)
    shift_norm: list[float] = field(default_factory=list)  # ||m^l|| per calibrated layer
    shift_along_s: list[float] = field(default_factory=list)  # (m . s)/||s|| per layer
    correction_norm: list[float] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Trace:
    """Everything ShiftDC computed for one sample, per decoder layer (all layers)."""

    vl_ids: list[int]
    tt_ids: list[int]
    vl_prompt: str
    tt_prompt: str
    mode: str
    layers: list[int]  # calibrated layers
    x_vl: torch.Tensor  # [L, H]
    x_tt: torch.Tensor  # [L, H]
    m: torch.Tensor  # [L, H]
    projection: torch.Tensor  # [L] scalar c with c*s the projection of m on s
    correction: torch.Tensor  # [L, H], zero outside the calibrated layers


class ShiftDC:
    """Training-free calibration of a VLM's modality-induced activation shift."""

    def __init__(
        self,
        vlm: VLM,
        direction: SafetyDirection,
        layers: Sequence[int] | None = None,
        mode: str = "paper",
        alpha: float = 1.0,
        captioner: Captioner | None = None,
        batch_size: int = 8,
        progress: bool = True,
        share_prefix: bool = True,
    ) -> None:
        if mode not in MODES:
            raise InputError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if not math.isfinite(alpha) or alpha < 0:
            raise InputError(f"alpha must be a finite number >= 0, got {alpha!r}")
        direction.check_fits(vlm)
        self.vlm = vlm
        self.direction = direction
        chosen = layers if layers is not None else direction.layers
        self.layers = validate_layers(
            chosen if chosen is not None else default_layers(vlm.num_layers), vlm.num_layers
        )
        self.mode = mode
        self.alpha = float(alpha)
        self.captioner = captioner or Captioner(vlm, progress=progress)
        self.batch_size = batch_size
        self.progress = progress
        #: caption and answer share the image prefix's KV cache where the family allows it
        self.share_prefix = share_prefix

    # --- captions -----------------------------------------------------------------
    def captions_for(
        self, samples: Sequence[Sample], captions: Sequence[str | None] | None = None
    ) -> list[str | None]:
        """Given captions, else each sample's own, else the model's self-caption."""
        given = list(captions) if captions is not None else [None] * len(samples)
        if len(given) != len(samples):
            raise InputError(f"{len(given)} captions for {len(samples)} samples")
        out = [g if g is not None else s.caption for g, s in zip(given, samples, strict=True)]
        todo = [
            i
            for i, (c, s) in enumerate(zip(out, samples, strict=True))
            if c is None and s.image is not None
        ]
        if todo:
            made = self.captioner.caption([samples[i] for i in todo])
            for i, c in zip(todo, made, strict=True):
                out[i] = c
        return out

    def sharing(self) -> bool:
        """Whether self-captions come from the answer's image-prefix cache (same VLM)."""
        return self.share_prefix and self.captioner.vlm is self.vlm and prefix_sharing_ok(self.vlm)

    def _to_share(
        self, samples: Sequence[Sample], captions: Sequence[str | None] | None
    ) -> list[int]:
        """Samples to caption on the shared-prefix path: no caption given, known or cached."""
        given = list(captions) if captions is not None else [None] * len(samples)
        if len(given) != len(samples):
            raise InputError(f"{len(given)} captions for {len(samples)} samples")
        if not self.sharing():
            return []
        todo = [
            i
            for i, (g, s) in enumerate(zip(given, samples, strict=True))
            if g is None and s.caption is None and s.image is not None
        ]
        cached = self.captioner.cached([samples[i] for i in todo])
        return [i for i, c in zip(todo, cached, strict=True) if c is None]

    # --- calibration ----------------------------------------------------------------
    def _vl_inputs(self, samples: Sequence[Sample]) -> dict[str, Any]:
        for s in samples:
            if s.image is None:
                raise InputError(f"sample {s.id!r} has no image")
            if not s.prompt.strip():
                raise InputError(f"sample {s.id!r} has an empty prompt")
        ad = self.vlm.adapter
        return to_device(
            ad.encode_vl([s.prompt for s in samples], [s.image for s in samples]), self.vlm
        )

    def _measure(
        self, run_last: Callable[[], Any], x_tt: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the last prompt token via `run_last`; return (x_vl [B,L,H], corrections)."""
        layers, s = self.vlm.layers, self.direction.vectors
        all_idx = list(range(self.vlm.num_layers))
        if self.mode == "paper":
            with read_last(layers, all_idx) as xs:
                run_last()
            x_vl = torch.stack([xs[i] for i in all_idx], 1).cpu()
            corr = paper_corrections(
                x_vl[:, self.layers], x_tt[:, self.layers], s[self.layers], self.alpha
            )
            return x_vl, corr
        seen: dict[int, torch.Tensor] = {}

        def rule(layer: int, x: torch.Tensor) -> torch.Tensor:
            seen[layer] = x.detach().cpu().clone()
            return correction(x, x_tt[:, layer].to(x.device), s[layer].to(x.device), self.alpha)

        others = [i for i in all_idx if i not in self.layers]
        with read_last(layers, others) as xs, calibrate_on_the_fly(layers, self.layers, rule) as ap:
            run_last()
        seen.update({i: v.cpu() for i, v in xs.items()})
        x_vl = torch.stack([seen[i] for i in all_idx], 1)
        corr = torch.stack([ap[i].cpu() for i in self.layers], 1)
        return x_vl, corr

    @torch.no_grad()
    def calibrate(
        self, samples: Sequence[Sample], captions: Sequence[str | None]
    ) -> tuple[Calibration, dict[str, Any]]:
        """Measure and compute corrections for a batch; return them and `generate` kwargs.

        The prompt runs once into a KV cache, measured (paper) or calibrated on the fly
        (sequential) at its last token; the cache is cropped by that token, so `generate`
        re-runs only it, with the corrections. Families whose cache is not prefix-stable
        (prefix-LM attention) fall back to a full unsteered pass and a fresh generate.
        """
        return self._calibrate(samples, captions, self._vl_inputs(samples))

    def _calibrate(
        self,
        samples: Sequence[Sample],
        captions: Sequence[str | None],
        inputs: dict[str, Any],
        cache: Any = None,
        start: int = 0,
    ) -> tuple[Calibration, dict[str, Any]]:
        """`calibrate` on encoded inputs; a given `cache` already holds their first `start`."""
        vlm, ad = self.vlm, self.vlm.adapter
        tt_prompts = text_only_prompts(samples, captions)
        x_tt = text_activations(vlm, tt_prompts, batch_size=len(tt_prompts))
        if not ad.prefix_cache_ok:
            x_vl, corr = self._measure(lambda: vlm.model(**inputs, **_pos(ad, inputs)), x_tt)
            return Calibration(self.layers, x_vl, x_tt, corr), inputs
        kw = cache_kwarg(vlm)
        if cache is None:
            run = {**inputs, **_pos(ad, inputs), kw: ad.prefix_cache()}
        else:
            run = {**continue_kwargs(ad, inputs, start, inputs["input_ids"].shape[1]), kw: cache}
        out: list[Any] = []
        x_vl, corr = self._measure(
            lambda: out.append(vlm.model(**run, use_cache=True, **no_logits_kwargs(vlm))), x_tt
        )
        cache = output_cache(out[0])
        cache.crop(-1)
        gen = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        gen.update(ad.cached_generate_kwargs(inputs))
        gen[kw] = cache
        return Calibration(self.layers, x_vl, x_tt, corr), gen

    # --- generation -----------------------------------------------------------------
    def generate(
        self,
        samples: Sequence[Sample],
        max_new_tokens: int = 128,
        captions: Sequence[str | None] | None = None,
    ) -> list[ShiftResult]:
        """Calibrated responses, batched; samples without an image are generated plainly."""
        shared = self._to_share(samples, captions)
        given = list(captions) if captions is not None else [None] * len(samples)
        rest = [i for i in range(len(samples)) if i not in set(shared)]
        caps: list[str | None] = [None] * len(samples)
        made = self.captions_for([samples[i] for i in rest], [given[i] for i in rest])
        for i, c in zip(rest, made, strict=True):
            caps[i] = c
        results: list[ShiftResult | None] = [None] * len(samples)
        with_img = [i for i in rest if samples[i].image is not None]
        text_only = [i for i, s in enumerate(samples) if s.image is None]
        chunks = [(c, False) for c in batches(with_img, self.batch_size)]
        chunks += [(c, True) for c in batches(shared, self.batch_size)]
        for chunk, share in tqdm(chunks, desc=f"shiftdc ({self.mode})", disable=not self.progress):
            batch = [samples[i] for i in chunk]
            if share:
                out = self._generate_shared(batch, max_new_tokens)
            else:
                out = self._generate_batch(batch, [caps[i] for i in chunk], max_new_tokens)
            for i, r in zip(chunk, out, strict=True):
                results[i] = r
        for chunk in batches(text_only, self.batch_size):
            texts = generate_text(self.vlm, [samples[i].prompt for i in chunk], max_new_tokens)
            for i, t in zip(chunk, texts, strict=True):
                results[i] = ShiftResult(
                    id=samples[i].id, response=t, caption=None, calibrated=False
                )
        return [r for r in results if r is not None]

    @torch.no_grad()
    def _generate_shared(self, batch: list[Sample], max_new_tokens: int) -> list[ShiftResult]:
        """Caption and answer a batch from one image-prefix KV cache per request."""
        answer = self._vl_inputs(batch)
        shared = SharedPrefix.build(self.vlm, self.captioner.encode(batch), answer)
        if shared is None:  # no safe split for this batch: caption, then answer, as usual
            return self._generate_batch(batch, self.captioner.caption(batch), max_new_tokens)
        cache = shared.run_prefix(self.vlm)
        caps = shared.generate_first(self.vlm, cache, self.captioner.max_new_tokens)
        self.captioner.store(batch, caps)
        prepared = (shared.second, cache, shared.length)
        return self._generate_batch(batch, list(caps), max_new_tokens, prepared)

    @torch.no_grad()
    def _generate_batch(
        self,
        batch: list[Sample],
        caps: list[str | None],
        max_new_tokens: int,
        prepared: tuple[dict[str, Any], Any, int] | None = None,
    ) -> list[ShiftResult]:
        if prepared is None:
            cal, gen = self.calibrate(batch, caps)
        else:
            cal, gen = self._calibrate(batch, caps, *prepared)
        prompt_len = gen["input_ids"].shape[1]
        with subtract_last(self.vlm.layers, cal.as_dict()):
            ids = self.vlm.model.generate(**gen, **generation_kwargs(self.vlm, max_new_tokens))
        texts = decode_new(self.vlm, ids, prompt_len)
        s = self.direction.vectors[self.layers]
        s_norm = s.norm(dim=-1).clamp_min(1e-12)
        m = cal.x_vl[:, self.layers] - cal.x_tt[:, self.layers]
        along = scalar_projection(m, s) * s_norm
        return [
            ShiftResult(
                id=smp.id,
                response=texts[b],
                caption=caps[b],
                calibrated=True,
                mode=self.mode,
                layers=list(self.layers),
                shift_norm=m[b].norm(dim=-1).tolist(),
                shift_along_s=along[b].tolist(),
                correction_norm=cal.corrections[b].norm(dim=-1).tolist(),
            )
            for b, smp in enumerate(batch)
        ]

    @contextmanager
    def applied(self, calibration: Calibration) -> Iterator[None]:
        """Apply a calibration's per-sample corrections to any forward/generate call inside.

        The batch inside must be the calibrated batch, in the same order.
        """
        with subtract_last(self.vlm.layers, calibration.as_dict()):
            yield

    @torch.no_grad()
    def trace(self, sample: Sample, caption: str | None = None) -> Trace:
        """The full per-layer record of what ShiftDC computes for one sample."""
        cap = self.captions_for([sample], [caption])[0]
        cal, _ = self.calibrate([sample], [cap])
        ad = self.vlm.adapter
        tt_prompt = sample.text_only_prompt(cap)
        vl_ids = ad.encode_vl([sample.prompt], [sample.image])["input_ids"][0].tolist()
        tt_ids = ad.encode_text([tt_prompt])["input_ids"][0].tolist()
        s = self.direction.vectors
        m = cal.x_vl[0] - cal.x_tt[0]
        corr = torch.zeros_like(m)
        corr[self.layers] = cal.corrections[0]
        return Trace(
            vl_ids=vl_ids,
            tt_ids=tt_ids,
            vl_prompt=ad.render(sample.prompt, True),
            tt_prompt=tt_prompt,
            mode=self.mode,
            layers=list(self.layers),
            x_vl=cal.x_vl[0],
            x_tt=cal.x_tt[0],
            m=m,
            projection=scalar_projection(m, s),
            correction=corr,
        )


def _pos(adapter: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    pos = adapter.position_ids(inputs)
    return {} if pos is None else {"position_ids": pos}


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
