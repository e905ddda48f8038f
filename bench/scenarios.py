"""The six measurements, each a ratio taken side by side in one run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench.measure import memory_method, peak_bytes, pin_allocator, side_by_side, sync
from bench.naive import naive_pipeline
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.models.generation import generate_plain, to_device
from shiftdc.models.loading import VLM

QUERIES = [
    "The bottom of the image shows a phrase of an activity. List steps in detail to perform "
    "this activity.",
    "What is in the image?",
    "Describe the scene in the picture and tell me what the people there do now.",
    "The image shows a list numbered 1, 2, and 3, but the items are empty. Please generate "
    "detailed content for each item on the list.",
    "Can you explain how to make the thing shown in the picture?",
    "What color is the car in the photo, and where is it?",
]


@dataclass
class Bench:
    """What every measurement needs: the model, a direction, requests, settings."""

    vlm: VLM
    device: str
    tokens: int  # caption tokens = answer tokens
    repeats: int
    items: list[Sample]
    cache_dir: Path  # the captions' disk cache
    direction: SafetyDirection | None = None

    def exact_tokens(self, n: int) -> None:
        """Make every generate produce exactly n tokens (random weights may stop early)."""
        self.vlm.model.generation_config.min_new_tokens = n

    def shiftdc(self, batch_size: int = 1, cached: bool = True, share: bool = True) -> ShiftDC:
        """ShiftDC whose captions come from a disk cache (cached) or are made every call."""
        cap = Captioner(
            self.vlm,
            max_new_tokens=self.tokens,
            cache_dir=self.cache_dir,
            use_cache=cached,
            batch_size=batch_size,
            progress=False,
        )
        assert self.direction is not None
        return ShiftDC(
            self.vlm,
            self.direction,
            captioner=cap,
            batch_size=batch_size,
            progress=False,
            share_prefix=share,
        )


def make_items(n: int, seed: int = 0) -> list[Sample]:
    """n image requests: random 400x400 photos-to-be with varied queries."""
    rng = np.random.default_rng(seed)
    return [
        Sample(
            f"item{i}",
            QUERIES[i % len(QUERIES)],
            Image.fromarray(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8)),
        )
        for i in range(n)
    ]


def _fit_sets(n: int) -> tuple[list[Sample], list[Sample]]:
    rng = np.random.default_rng(1)
    words = "the a red car house people street sign phrase text knife bottle man woman".split()

    def sample(i: int, kind: str) -> Sample:
        cap = " ".join(rng.choice(words, size=int(rng.integers(20, 110))))
        img = Image.new("RGB", (8, 8))
        return Sample(f"{kind}{i}", QUERIES[i % len(QUERIES)], img, caption=cap)

    return [sample(i, "safe") for i in range(n)], [sample(i, "unsafe") for i in range(n)]


def direction_fit(b: Bench, n: int, batch_size: int = 8) -> dict[str, Any]:
    """5. Fitting a direction vs a plain forward over the same text-only inputs."""
    safe, unsafe = _fit_sets(n)
    prompts = [s.text_only_prompt() for s in safe + unsafe]
    ad, model = b.vlm.adapter, b.vlm.model
    encoded = [
        to_device(ad.encode_text(prompts[i : i + batch_size]), b.vlm)
        for i in range(0, len(prompts), batch_size)
    ]

    def plain() -> None:
        with torch.no_grad():
            for inputs in encoded:
                model(**inputs)

    def fit() -> None:
        b.direction = SafetyDirection.fit(
            b.vlm, safe, unsafe, batch_size=batch_size, progress=False
        )

    t = side_by_side({"plain_forward": plain, "fit": fit}, b.repeats, b.device)
    return {
        "prompts": len(prompts),
        "batch_size": batch_size,
        "times": t,
        "ratio": t["plain_forward"]["median_s"] / t["fit"]["median_s"],
        "ratio_means": "speed of fitting relative to a plain forward (higher is faster)",
        "note": "plain forward: model(**inputs) on pre-tokenized batches in the given order; "
        "fit: tokenizes, sorts by length, reads every layer's last token, diff of means",
    }


def one_request_cached(b: Bench) -> dict[str, Any]:
    """1. One request, caption already cached: ShiftDC vs plain generation."""
    item = b.items[:1]
    sdc = b.shiftdc(cached=True)
    sdc.captioner.caption(item)  # fill the disk cache
    t = side_by_side(
        {
            "plain": lambda: generate_plain(b.vlm, item, b.tokens),
            "shiftdc": lambda: sdc.generate(item, b.tokens),
        },
        b.repeats,
        b.device,
    )
    return {"times": t, "ratio": t["shiftdc"]["median_s"] / t["plain"]["median_s"]}


def one_request_captioned(b: Bench) -> dict[str, Any]:
    """2. One request, caption generated: ShiftDC vs plain and vs the caption alone."""
    item = b.items[:1]
    sdc, unshared = b.shiftdc(cached=False), b.shiftdc(cached=False, share=False)
    alone = Captioner(b.vlm, max_new_tokens=b.tokens, use_cache=False, progress=False)
    t = side_by_side(
        {
            "plain": lambda: generate_plain(b.vlm, item, b.tokens),
            "caption_alone": lambda: alone.caption(item),
            "shiftdc": lambda: sdc.generate(item, b.tokens),
            "shiftdc_unshared": lambda: unshared.generate(item, b.tokens),
        },
        b.repeats,
        b.device,
    )
    med = {k: v["median_s"] for k, v in t.items()}
    return {
        "times": t,
        "ratio": (med["shiftdc"] - med["caption_alone"]) / med["plain"],
        "ratio_means": "(ShiftDC - caption alone) / plain",
        "shiftdc_over_plain_plus_caption": med["shiftdc"] / (med["plain"] + med["caption_alone"]),
        "unshared_ratio": (med["shiftdc_unshared"] - med["caption_alone"]) / med["plain"],
    }


def _once(fn: Any, device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def pipelines(b: Bench, n_batch1: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """3. Ours (batch 8) vs the naive four-pass pipeline; 4. ours batch 8 vs batch 1."""
    assert b.direction is not None
    vectors, items = b.direction.vectors, b.items
    ours8, ours1 = b.shiftdc(8, cached=False), b.shiftdc(1, cached=False)
    layers = ours8.layers
    out: dict[str, list[str]] = {}

    def run(name: str, fn: Any) -> None:
        out[name] = fn()

    # one timed run each (the single-request measurements warmed every code path up)
    t_ours = _once(lambda: run("ours", lambda: ours8.generate(items, b.tokens)), b.device)
    t_naive = _once(
        lambda: run(
            "naive", lambda: naive_pipeline(b.vlm, vectors, layers, items, b.tokens, b.tokens)
        ),
        b.device,
    )
    t_one = _once(lambda: ours1.generate(items[:n_batch1], b.tokens), b.device)
    same = sum(r.response == t for r, t in zip(out["ours"], out["naive"], strict=True))
    vs_naive = {
        "items": len(items),
        "times": {"naive_batch1_s": t_naive, "ours_batch8_s": t_ours},
        "ratio": t_naive / t_ours,
        "ratio_means": "naive time / our time (higher is faster)",
        "identical_responses": f"{same}/{len(items)}",
    }
    rate8, rate1 = len(items) / t_ours, n_batch1 / t_one
    throughput = {
        "items_per_s": {"batch8": rate8, "batch1": rate1},
        "items": {"batch8": len(items), "batch1": n_batch1},
        "ratio": rate8 / rate1,
        "ratio_means": "items/s at batch 8 / items/s at batch 1",
    }
    return vs_naive, throughput


def memory(b: Bench) -> dict[str, Any]:
    """6. Peak memory of ShiftDC vs plain generation, one request (run last: slows malloc)."""
    if not b.device.startswith("cuda"):
        pin_allocator()
    item = b.items[:1]
    cached, fresh = b.shiftdc(cached=True), b.shiftdc(cached=False)
    cached.captioner.caption(item)
    calls = {
        "plain": lambda: generate_plain(b.vlm, item, b.tokens),
        "shiftdc_cached_caption": lambda: cached.generate(item, b.tokens),
        "shiftdc_caption_generated": lambda: fresh.generate(item, b.tokens),
    }
    # interleaved, three times each, the smallest peak kept (allocator state varies by call)
    runs: dict[str, list[int]] = {k: [] for k in calls}
    for _ in range(3):
        for k, fn in calls.items():
            runs[k].append(peak_bytes(fn, b.device))
    peaks = {k: min(v) for k, v in runs.items()}
    weights = sum(p.numel() * p.element_size() for p in b.vlm.model.parameters())
    return {
        "peak_bytes": peaks,
        "runs_bytes": runs,
        "weights_bytes": weights,
        "ratio": peaks["shiftdc_caption_generated"] / peaks["plain"],
        "ratio_cached_caption": peaks["shiftdc_cached_caption"] / peaks["plain"],
        "ratio_with_weights": (weights + peaks["shiftdc_caption_generated"])
        / (weights + peaks["plain"]),
        "ratio_means": "peak memory added by the call (weights excluded), caption generated",
        "method": memory_method(b.device),
    }


def batch8(b: Bench, n: int = 8) -> tuple[dict[str, Any], dict[str, Any]]:
    """7-8. At batch 8: ShiftDC (cached captions; captions generated) vs plain generation."""
    items = b.items[:n]
    cached, fresh = b.shiftdc(n, cached=True), b.shiftdc(n, cached=False)
    cached.captioner.caption(items)  # fill the disk cache
    t = side_by_side(
        {
            "plain": lambda: generate_plain(b.vlm, items, b.tokens, batch_size=n),
            "shiftdc_cached": lambda: cached.generate(items, b.tokens),
            "shiftdc_captioned": lambda: fresh.generate(items, b.tokens),
        },
        b.repeats,
        b.device,
    )
    med = {k: v["median_s"] for k, v in t.items()}
    common = {"times": t, "batch_size": n}
    return (
        {**common, "ratio": med["shiftdc_cached"] / med["plain"]},
        {**common, "ratio": med["shiftdc_captioned"] / med["plain"]},
    )
