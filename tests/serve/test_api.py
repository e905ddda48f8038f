"""The OpenAI client against a live tiny-LLaVA server: chat, streaming, usage, shiftdc block."""

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

MODEL = "llava"  # the served name: the model folder's name


@pytest.fixture(scope="module")
def client(tiny_server):
    return openai.OpenAI(base_url=tiny_server.api, api_key=KEY, max_retries=0)


def test_models_health_and_auth(tiny_server, client):
    assert [m.id for m in client.models.list().data] == [MODEL]
    assert tiny_server.healthy()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = httpx.get(f"{tiny_server.api}/models", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication_error"


def test_chat_matches_shiftdc_generate(tiny_server, client, tiny_vlm, tiny_direction, tmp_path):
    """Response and shiftdc block equal what the library computes for the same request."""
    prompt, img = "what is in the image ?", image(3)
    r = client.chat.completions.create(
        model=MODEL,
        messages=image_message(prompt, img),
        max_tokens=7,
        temperature=0,
        extra_body={"shiftdc": {"return_caption": True}},
    )
    block = r.model_extra["shiftdc"]
    sdc = ShiftDC(
        tiny_vlm("llava"),
        tiny_direction[0],
        captioner=Captioner(tiny_vlm("llava"), CAPTION_TOKENS, cache_dir=tmp_path, progress=False),
        progress=False,
    )
    ref = sdc.generate([Sample("x", prompt, img)], max_new_tokens=7)[0]
    assert r.choices[0].message.content == ref.response
    assert block["calibrated"] is True and block["mode"] == "paper" and block["alpha"] == 1.0
    assert block["layers"] == ref.layers
    assert block["caption"] == ref.caption
    for key in ("shift_norm", "shift_along_s", "correction_norm"):
        assert block[key] == pytest.approx(getattr(ref, key), rel=1e-4, abs=1e-6), key
    assert r.usage.completion_tokens <= 7 and r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_stream_equals_plain_response(client):
    msgs = image_message("describe the picture", image(5))
    full = client.chat.completions.create(model=MODEL, messages=msgs, max_tokens=8, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=msgs,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].model_extra["shiftdc"]["calibrated"] is True
    assert chunks[-1].choices == [] and chunks[-1].usage == full.usage


def test_raw_stream_ends_with_done(tiny_server):
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 3,
        "temperature": 0,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(f"{tiny_server.api}/chat/completions", json=body, headers=headers, timeout=60)
    events = [ln for ln in r.text.split("\n\n") if ln.strip()]
    assert events[-1] == "data: [DONE]"
    assert r.headers["content-type"].startswith("text/event-stream")


def test_text_only_is_answered_uncalibrated(client):
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        max_tokens=4,
        temperature=0,
    )
    assert r.model_extra["shiftdc"]["calibrated"] is False


def test_async_client_and_metrics(tiny_server):
    async def go():
        msgs = [image_message(f"what color is item {i}", image(40 + i)) for i in range(3)]
        async with openai.AsyncOpenAI(base_url=tiny_server.api, api_key=KEY, max_retries=0) as c:
            return await asyncio.gather(
                *(
                    c.chat.completions.create(model=MODEL, messages=m, max_tokens=4, temperature=0)
                    for m in msgs
                )
            )

    out = asyncio.run(go())
    assert all(r.model_extra["shiftdc"]["calibrated"] for r in out)
    text = httpx.get(f"{tiny_server.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    for name in (
        'shiftdc_requests_total{status="200"}',
        "shiftdc_queue_depth",
        "shiftdc_batch_size_bucket",
        "shiftdc_time_to_first_token_seconds_bucket",
        "shiftdc_request_latency_seconds_bucket",
        "shiftdc_generated_tokens_total",
        "shiftdc_caption_cache_hits_total",
    ):
        assert name in text, name
