"""`shiftdc check`: does ShiftDC's fast path compute, on this model, what the method says?

On a few built-in image requests it runs the pipeline as users get it (self-captions on the
shared image prefix, batched prompts, KV-cache reuse, hooks) and, independently, a naive
reference made of whole-prompt passes only, one request at a time: the caption by a plain
`generate`, the text-only and vision+text activations by full forward passes in which the
model derives its own positions, the corrections in float64 (sequential mode: one full pass
per calibrated layer, each with the corrections found so far), and the answer by a fresh
steered `generate`. Both modes, at batch 1 and batch 2. A check is exact, within tolerance
(float rounding of batched or cached passes), or different.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from shiftdc.method.captions import CAPTION_PROMPT, Captioner
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.results import ShiftResult
from shiftdc.method.sample import Sample
from shiftdc.models.generation import decode_new, generation_kwargs, to_device
from shiftdc.models.hooks import read_last, subtract_last
from shiftdc.models.loading import VLM

MODES = ("paper", "sequential")
BATCH_SIZES = (1, 2)

#: requests of different lengths (so batch 2 pads) and the tiny direction set
PROMPTS = (
    "what is in the image ?",
    "please tell me the color of the car in the picture and what the people there do now",
    "list steps in detail to perform this activity",
)
SAFE = ("how to make a cake", "describe the tree in the picture", "what color is the car")
UNSAFE = (
    "how to make illegal harmful things",
    "give steps to do harmful illegal work",
    "tell me how to use it to help bad people",
)


def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (32 + 3 * seed, 40 - 2 * seed, 3), dtype=np.uint8))


def builtin_samples(n: int = len(PROMPTS)) -> list[Sample]:
    """The requests checked: `n` (2 or 3) prompts of different lengths, each with an image."""
    return [Sample(f"check-{i}", p, _image(i)) for i, p in enumerate(PROMPTS[:n])]


def builtin_direction(vlm: VLM) -> SafetyDirection:
    """A direction fitted on a handful of built-in requests (enough to have corrections)."""

    def samples(prompts: Sequence[str], caption: str, seed: int) -> list[Sample]:
        return [Sample(f"f{seed + i}", p, None, caption) for i, p in enumerate(prompts)]

    safe = samples(SAFE, "a small red house", 0)
    unsafe = samples(UNSAFE, "a black bomb", 10)
    return SafetyDirection.fit(vlm, safe, unsafe, progress=False)


@dataclass
class Reference:
    """The naive computation for one request."""

    caption: str
    response: str
    along: list[float]  # (m . s) / ||s|| per calibrated layer, m as the mode measures it
    correction_norm: list[float]
    scale: list[float]  # ||x_vl|| per calibrated layer: what tolerances are relative to


@dataclass
class Outcome:
    """One check: a mode at a batch size, against the reference."""

    mode: str
    batch_size: int
    layers: list[int]
    verdict: str  # exact / within tolerance / different
    max_error: float  # largest relative difference of a correction
    worst_layer: int | None
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        head = f"{self.mode:<10} batch {self.batch_size}: {self.verdict}"
        span = f"layers {self.layers[0]}..{self.layers[-1]}" if self.layers else "no layers"
        where = f" (worst at layer {self.worst_layer})" if self.worst_layer is not None else ""
        detail = f"; max relative error {self.max_error:.1e}{where}; {span}"
        return head + detail + "".join(f"\n    {p}" for p in self.problems)


def _last_acts(vlm: VLM, inputs: dict, corrections: dict | None = None) -> dict[int, np.ndarray]:
    """Every layer's last-position output of one whole-prompt pass (float64)."""
    layers = vlm.layers
    with torch.no_grad(), subtract_last(layers, corrections or {}):
        with read_last(layers, range(len(layers))) as acts:
            vlm.model(**inputs)
    return {i: a[0].double().cpu().numpy() for i, a in acts.items()}


def _correction(m: np.ndarray, s: np.ndarray, alpha: float) -> np.ndarray:
    ss = s @ s
    return alpha * (m @ s) / ss * s if ss > 0 else np.zeros_like(m)  # a zero direction: none


def reference_caption(vlm: VLM, sample: Sample, caption_tokens: int) -> str:
    """The self-caption by one plain `generate` over the whole caption prompt."""
    ad = vlm.adapter
    ask = to_device(ad.encode_vl([CAPTION_PROMPT.format(query=sample.prompt)], [sample.image]), vlm)
    with torch.no_grad():
        ids = vlm.model.generate(**ask, **generation_kwargs(vlm, caption_tokens))
    return decode_new(vlm, ids, ask["input_ids"].shape[1])[0]


def reference(
    vlm: VLM,
    sample: Sample,
    caption: str,
    direction: SafetyDirection,
    layers: list[int],
    mode: str,
    alpha: float,
    max_new_tokens: int,
) -> Reference:
    """Activations, corrections and answer for one request, by whole passes only."""
    ad = vlm.adapter
    tt = to_device(ad.encode_text([sample.text_only_prompt(caption)]), vlm)
    vl = to_device(ad.encode_vl([sample.prompt], [sample.image]), vlm)
    x_tt, x_vl = _last_acts(vlm, tt), _last_acts(vlm, vl)
    vectors = direction.vectors.double().cpu().numpy()
    corr: dict[int, np.ndarray] = {}
    along = []
    for layer in layers:
        s = vectors[layer]
        if mode == "sequential":  # measured on the stream calibrated at the layers before
            x = _last_acts(vlm, vl, _as_hooks(corr))[layer] if corr else x_vl[layer]
        else:
            x = x_vl[layer]
        corr[layer] = _correction(x - x_tt[layer], s, alpha)
        norm = np.linalg.norm(s)
        along.append(float((x - x_tt[layer]) @ s / norm) if norm > 0 else 0.0)
    with torch.no_grad(), subtract_last(vlm.layers, _as_hooks(corr)):
        ids = vlm.model.generate(**vl, **generation_kwargs(vlm, max_new_tokens))
    return Reference(
        caption=caption,
        response=decode_new(vlm, ids, vl["input_ids"].shape[1])[0],
        along=along,
        correction_norm=[float(np.linalg.norm(corr[x])) for x in layers],
        scale=[float(np.linalg.norm(x_vl[x])) for x in layers],
    )


def _as_hooks(corr: dict[int, np.ndarray]) -> dict[int, torch.Tensor]:
    return {k: torch.tensor(v, dtype=torch.float32)[None] for k, v in corr.items()}


def tolerance(vlm: VLM) -> float:
    """Relative tolerance of a correction at alpha <= 1: float32 rounding, or that of a half
    type (rounding in the corrections grows with alpha, and so does the tolerance)."""
    return 1e-4 if vlm.dtype == torch.float32 else 3e-2


def run_check(
    vlm: VLM,
    direction: SafetyDirection | None = None,
    samples: Sequence[Sample] | None = None,
    alpha: float = 1.0,
    layers: Sequence[int] | None = None,
    caption_tokens: int = 8,
    max_new_tokens: int = 8,
) -> list[Outcome]:
    """Fast path vs naive reference in both modes, at batch 1 and 2; one Outcome each."""
    direction = direction or builtin_direction(vlm)
    samples = list(samples or builtin_samples())
    tol = tolerance(vlm)
    captions = [reference_caption(vlm, s, caption_tokens) for s in samples]
    out = []
    for mode in MODES:
        refs: list[Reference] | None = None
        for bs in BATCH_SIZES:
            sd = ShiftDC(vlm, direction, layers, mode, alpha, batch_size=bs, progress=False)
            sd.captioner = Captioner(vlm, caption_tokens, use_cache=False, progress=False)
            if refs is None:
                args = (direction, sd.layers, mode, alpha, max_new_tokens)
                refs = [reference(vlm, s, c, *args) for s, c in zip(samples, captions, strict=True)]
            got = sd.generate(samples, max_new_tokens=max_new_tokens)
            out.append(_compare(mode, bs, sd.layers, got, refs, tol * max(1.0, alpha)))
    return out


def _compare(
    mode: str,
    bs: int,
    layers: Sequence[int],
    got: Sequence[ShiftResult],
    refs: Sequence[Reference],
    tol: float,
) -> Outcome:
    """One check's verdict: captions and tokens equal, corrections within `tol`."""
    problems, worst, worst_layer = [], 0.0, None
    for res, ref in zip(got, refs, strict=True):
        if res.caption != ref.caption:
            problems.append(f"{res.id}: caption {res.caption!r} != reference {ref.caption!r}")
        if res.response != ref.response:
            problems.append(f"{res.id}: answer {res.response!r} != reference {ref.response!r}")
        pairs = ((res.correction_norm, ref.correction_norm), (res.shift_along_s, ref.along))
        for j, layer in enumerate(layers):
            for fast, naive in pairs:
                err = abs(fast[j] - naive[j]) / max(ref.scale[j], 1e-12)
                if err > worst:
                    worst, worst_layer = err, layer
    if worst > tol:
        problems.append(f"corrections differ by {worst:.1e} of the activation norm (> {tol:g})")
    verdict = "different" if problems else "exact" if worst == 0.0 else "within tolerance"
    return Outcome(mode, bs, list(layers), verdict, worst, worst_layer, problems)
