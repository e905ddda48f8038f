"""32 concurrent different greedy requests: each equals its solo answer and ShiftDC.generate."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from shiftdc.method.captions import Captioner
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from tests.helpers.samples import image
from tests.serve.conftest import CAPTION_TOKENS
from tests.serve.server_proc import KEY, image_message

N = 32
PROMPTS = ["what is in the image ?", "describe the colors", "list what you see here", "why?"]


def _requests() -> list[tuple[str, object, int]]:
    """Different prompts, images and output lengths (rows of one batch end at different steps)."""
    return [(f"{PROMPTS[i % 4]} ({i})", image(100 + i), 2 + i % 4) for i in range(N)]


def _batch_sizes(url: str) -> float:
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    line = next(ln for ln in text.splitlines() if ln.startswith("shiftdc_batch_size_sum"))
    count = next(ln for ln in text.splitlines() if ln.startswith("shiftdc_batch_size_count"))
    return float(line.split()[-1]), float(count.split()[-1])


def test_concurrent_equals_solo_equals_library(tiny_server, tiny_vlm, tiny_direction, tmp_path):
    reqs = _requests()

    async def concurrent():
        async with openai.AsyncOpenAI(base_url=tiny_server.api, api_key=KEY, max_retries=0) as c:
            return await asyncio.gather(
                *(
                    c.chat.completions.create(
                        model="llava", messages=image_message(p, im), max_tokens=n, temperature=0
                    )
                    for p, im, n in reqs
                )
            )

    rows_before, batches_before = _batch_sizes(tiny_server.url)
    together = asyncio.run(concurrent())
    rows_after, batches_after = _batch_sizes(tiny_server.url)
    # they really ran batched: more than one row per batch (micro-batching) or per decode
    # step (the slot engine) on average
    assert rows_after - rows_before > batches_after - batches_before > 0

    client = openai.OpenAI(base_url=tiny_server.api, api_key=KEY, max_retries=0)
    alone = [
        client.chat.completions.create(
            model="llava", messages=image_message(p, im), max_tokens=n, temperature=0
        )
        for p, im, n in reqs
    ]
    vlm = tiny_vlm("llava")
    cap = Captioner(vlm, CAPTION_TOKENS, cache_dir=tmp_path, progress=False)
    sdc = ShiftDC(vlm, tiny_direction[0], captioner=cap, progress=False)
    lib: list = [None] * N
    for n in sorted({n for _, _, n in reqs}):  # the library's own batches, one per length
        idx = [i for i, r in enumerate(reqs) if r[2] == n]
        out = sdc.generate([Sample(f"r{i}", reqs[i][0], reqs[i][1]) for i in idx], n)
        for i, r in zip(idx, out, strict=True):
            lib[i] = r

    got = [r.choices[0].message.content for r in together]
    assert got == [r.choices[0].message.content for r in alone]
    assert got == [r.response for r in lib]
    assert len(set(got)) > 1  # different requests, different answers
    for r, ref in zip(together, lib, strict=True):
        block = r.model_extra["shiftdc"]
        assert block["correction_norm"] == pytest.approx(ref.correction_norm, rel=1e-4, abs=1e-6)
