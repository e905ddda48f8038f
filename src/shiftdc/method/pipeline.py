"""ShiftDC: calibrate the modality-induced activation shift per input, then generate.

Per batch of image+text requests: caption each image (query-aware, cached), run the
text-only counterparts once, run the vision+text prompt once into a KV cache while the
calibration mode (`shiftdc.method.modes`) measures or calibrates at its last token, crop that
token from the cache, then `generate` from the same cache with the per-sample corrections
subtracted at the last prompt token and every generated token.
Which caption each request gets, and whether its caption and answer share the image
prefix's KV cache, is decided in `shiftdc.method.caption_routing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from shiftdc.core import scalar_projection
from shiftdc.errors import InputError
from shiftdc.method.caption_routing import caption_on_prefix, captions_for, route, shares_prefix
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection, text_only_prompts
from shiftdc.method.modes import Measured, Step, get_mode
from shiftdc.method.positions import get_positions
from shiftdc.method.results import Calibration, ShiftResult, Trace, calibrated_results
from shiftdc.method.settings import resolve_settings
from shiftdc.models.generation import (
    batches,
    decode_new,
    generate_plain,
    generate_text,
    generation_kwargs,
    no_logits_kwargs,
    text_activations,
    to_device,
)

if TYPE_CHECKING:
    from shiftdc.method.sample import Sample
    from shiftdc.models.adapter import Inputs
    from shiftdc.models.fastpath import Prefilled
    from shiftdc.models.loading import VLM

__all__ = [
    "Calibration",
    "ShiftDC",
    "ShiftResult",
    "Trace",
    "generate_plain",  # re-exported from shiftdc.models.generation
    "generate_text",
]


class ShiftDC:
    """Training-free calibration of a VLM's modality-induced activation shift."""

    def __init__(
        self,
        vlm: VLM,
        direction: SafetyDirection,
        layers: Sequence[int] | None = None,
        mode: str | None = None,
        alpha: float | None = None,
        captioner: Captioner | None = None,
        batch_size: int = 8,
        progress: bool = True,
        share_prefix: bool = True,
        positions: str | None = None,
    ) -> None:
        """Unset `layers`/`mode`/`alpha`/`positions` come from the direction's recommendation
        (`shiftdc tune`), else the defaults (`shiftdc.method.settings`); `settings` says which."""
        direction.check_fits(vlm)
        self.vlm = vlm
        self.direction = direction
        self.settings = resolve_settings(direction, vlm.num_layers, mode, layers, alpha, positions)
        self.layers = self.settings.layers
        self.mode = self.settings.mode
        self.alpha = self.settings.alpha
        self.positions = self.settings.positions
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
        return captions_for(self.captioner, samples, captions)

    def sharing(self) -> bool:
        """Whether self-captions come from the answer's image-prefix cache (same VLM; not
        where the corrections reach the image and prompt tokens)."""
        reuse = get_positions(self.positions).reuses_prompt_cache
        return reuse and shares_prefix(self.vlm, self.captioner, self.share_prefix)

    # --- calibration ----------------------------------------------------------------
    def _vl_inputs(self, samples: Sequence[Sample]) -> Inputs:
        for s in samples:
            if s.image is None:
                raise InputError(f"sample {s.id!r} has no image")
            if not s.prompt.strip():
                raise InputError(f"sample {s.id!r} has an empty prompt")
        ad = self.vlm.adapter
        return to_device(
            ad.encode_vl([s.prompt for s in samples], [s.image for s in samples]), self.vlm
        )

    def _measure(self, run: Callable[[], object], x_tt: torch.Tensor) -> Measured:
        """Run the last prompt token via `run`; return (x_vl [B,L,H], corrections)."""
        step = Step(run, self.vlm.layers, self.layers, x_tt, self.direction.vectors, self.alpha)
        return get_mode(self.mode).measure(step)

    @torch.no_grad()
    def calibrate(
        self, samples: Sequence[Sample], captions: Sequence[str | None]
    ) -> tuple[Calibration, dict[str, Any]]:
        """Measure and compute corrections for a batch; return them and `generate` kwargs.

        The prompt runs once into a KV cache, measured (paper) or calibrated on the fly
        (sequential) at its last token; the cache is cropped by that token, so `generate`
        re-runs only it, with the corrections. Families whose cache is not prefix-stable
        (prefix-LM attention) fall back to a full unsteered pass and a fresh generate, and so
        do positions that steer the whole prompt (`all`): its kwargs start a fresh pass.
        """
        return self._calibrate(samples, captions)

    def _calibrate(
        self,
        samples: Sequence[Sample],
        captions: Sequence[str | None],
        prefilled: Prefilled | None = None,
    ) -> tuple[Calibration, dict[str, Any]]:
        """`calibrate`, continuing on the `prefilled` inputs' cache where given."""
        vlm, ad = self.vlm, self.vlm.adapter
        inputs, cache, start = prefilled or (self._vl_inputs(samples), None, 0)
        tt_prompts = text_only_prompts(samples, captions)
        x_tt = text_activations(vlm, tt_prompts, batch_size=len(tt_prompts))
        if not ad.prefix_cache_ok:
            x_vl, corr = self._measure(lambda: vlm.model(**ad.forward_kwargs(inputs)), x_tt)
            return Calibration(self.layers, x_vl, x_tt, corr), ad.generate_kwargs(inputs)
        cache = ad.prefix_cache() if cache is None else cache
        run = ad.forward_kwargs(inputs, start, None, cache)
        x_vl, corr = self._measure(lambda: vlm.model(**run, **no_logits_kwargs(vlm)), x_tt)
        cache.crop(-1)
        if not get_positions(self.positions).reuses_prompt_cache:  # a fresh pass, all steered
            return Calibration(self.layers, x_vl, x_tt, corr), ad.generate_kwargs(inputs)
        return Calibration(self.layers, x_vl, x_tt, corr), ad.generate_kwargs(inputs, cache)

    @contextmanager
    def applied(self, calibration: Calibration) -> Iterator[None]:
        """Apply a calibration's per-sample corrections to any forward/generate call inside.

        The batch inside must be the calibrated batch, in the same order. Where the corrections
        are applied follows `positions` (`shiftdc.method.positions`).
        """
        with get_positions(self.positions).apply(self.vlm.layers, calibration.as_dict()):
            yield

    # --- generation -----------------------------------------------------------------
    def generate(
        self,
        samples: Sequence[Sample],
        max_new_tokens: int = 128,
        captions: Sequence[str | None] | None = None,
    ) -> list[ShiftResult]:
        """Calibrated responses, batched; samples without an image are generated plainly."""
        routes = route(samples, captions, self.captioner, self.sharing())
        results: dict[int, ShiftResult] = {}
        chunks = routes.image_chunks(self.batch_size)
        for chunk, shared in tqdm(chunks, desc=f"shiftdc ({self.mode})", disable=not self.progress):
            batch = [samples[i] for i in chunk]
            caps: Sequence[str | None] = [routes.captions[i] for i in chunk]
            prefilled = None
            if shared:
                answer = self._vl_inputs(batch)
                caps, prefilled = caption_on_prefix(self.vlm, self.captioner, batch, answer)
            out = self._generate_batch(batch, caps, max_new_tokens, prefilled)
            results.update(zip(chunk, out, strict=True))
        for chunk in batches(routes.text_only, self.batch_size):
            texts = generate_text(self.vlm, [samples[i].prompt for i in chunk], max_new_tokens)
            for i, t in zip(chunk, texts, strict=True):
                results[i] = ShiftResult(samples[i].id, t, caption=None, calibrated=False)
        return [results[i] for i in sorted(results)]

    @torch.no_grad()
    def _generate_batch(
        self,
        batch: list[Sample],
        caps: Sequence[str | None],
        max_new_tokens: int,
        prefilled: Prefilled | None = None,
    ) -> list[ShiftResult]:
        cal, gen = self._calibrate(batch, caps, prefilled)
        return self._generate_with(batch, caps, cal, gen, max_new_tokens)

    @torch.no_grad()
    def generate_calibrated(
        self,
        batch: list[Sample],
        caps: Sequence[str | None],
        cal: Calibration,
        max_new_tokens: int = 128,
    ) -> list[ShiftResult]:
        """Responses to `batch` under a calibration computed elsewhere (e.g. derived from a
        shared measurement by `shiftdc tune`): one fresh pass over the whole prompt."""
        gen = self.vlm.adapter.generate_kwargs(self._vl_inputs(batch))
        return self._generate_with(batch, caps, cal, gen, max_new_tokens)

    def _generate_with(
        self,
        batch: list[Sample],
        caps: Sequence[str | None],
        cal: Calibration,
        gen: dict[str, Any],
        max_new_tokens: int,
    ) -> list[ShiftResult]:
        prompt_len = gen["input_ids"].shape[1]
        with self.applied(cal):
            ids = self.vlm.model.generate(**gen, **generation_kwargs(self.vlm, max_new_tokens))
        texts = decode_new(self.vlm, ids, prompt_len)
        return calibrated_results(batch, texts, caps, cal, self.direction.vectors, self.mode)

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
