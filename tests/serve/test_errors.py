"""Bad requests: each gets its status and OpenAI's error JSON; the server stays healthy.

Also: a full queue answers 429, and SIGTERM lets an in-flight stream finish (drain).
"""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from tests.helpers.samples import image
from tests.serve.server_proc import KEY, Server, data_url

MAX_BODY = 300_000
MAX_IMAGE = 100_000


@pytest.fixture(scope="module")
def server(tiny_dir, tiny_direction, tmp_path_factory):
    s = Server(
        [
            "--model",
            str(tiny_dir("llava")),
            "--direction",
            str(tiny_direction[1]),
            "--api-key",
            KEY,
            "--caption-tokens",
            "4",
            "--max-batch-size",
            "1",
            "--batch-wait-ms",
            "0",
            "--max-queue",
            "2",
            "--max-body-bytes",
            str(MAX_BODY),
            "--max-image-bytes",
            str(MAX_IMAGE),
            "--max-pixels",
            "1000000",
            "--max-tokens",
            "64",
            "--dtype",
            "float32",
            "--device",
            "cpu",
        ],
        tmp_path_factory.mktemp("serve-errors"),
    )
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


def _post(server, body, key: str | None = KEY, raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(
        f"{server.api}/chat/completions", content=content, headers=headers, timeout=120
    )


def _chat(url: str | None = None, text: str = "what is this ?", **extra) -> dict:
    content: list[dict] = [{"type": "text", "text": text}]
    if url is not None:
        content.append({"type": "image_url", "image_url": {"url": url}})
    body = {"model": "llava", "messages": [{"role": "user", "content": content}], "max_tokens": 2}
    body.update(extra)
    return body


def _bomb() -> str:
    """A small PNG declaring 10000 x 10000 pixels (1-bit, compresses to a few KB)."""
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, "PNG")
    assert len(buf.getvalue()) < MAX_IMAGE
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _noise(size: int) -> str:
    rng = __import__("numpy").random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype="uint8"))
    return data_url(im)


CASES = [
    # (name, body | raw bytes, key, status, code or None)
    ("malformed JSON", b'{"model": "llava", "messages": [', KEY, 400, None),
    ("missing key", _chat(), None, 401, "invalid_api_key"),
    ("wrong key", _chat(), "nope", 401, "invalid_api_key"),
    ("remote URL", _chat("https://example.com/cat.png"), KEY, 400, "unsupported_image_url"),
    ("file URL", _chat("file:///etc/passwd"), KEY, 400, "unsupported_image_url"),
    (
        "corrupt image",
        _chat("data:image/png;base64," + base64.b64encode(b"\x89PNG junk").decode()),
        KEY,
        400,
        "invalid_image",
    ),
    ("oversized image", _chat(_noise(200)), KEY, 413, "too_large"),
    ("oversized body", _chat(text="x" * (MAX_BODY + 10)), KEY, 413, "too_large"),
    ("pixel bomb", _chat(_bomb()), KEY, 413, "too_large"),
    ("too many prompt tokens", _chat(text="word " * 1200), KEY, 400, "context_length_exceeded"),
    ("too many output tokens", _chat(max_tokens=65), KEY, 400, "too_many_tokens"),
    ("unknown model", {**_chat(), "model": "gpt-4o"}, KEY, 404, "model_not_found"),
    ("n > 1", _chat(n=2), KEY, 400, None),
    ("override refused", _chat(shiftdc={"enabled": False}), KEY, 400, "overrides_not_allowed"),
    ("wrong field type", _chat(temperature="hot"), KEY, 422, "invalid_value"),
    (
        "two images",
        {
            "model": "llava",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a"},
                        {"type": "image_url", "image_url": {"url": data_url(image(1))}},
                        {"type": "image_url", "image_url": {"url": data_url(image(2))}},
                    ],
                }
            ],
        },
        KEY,
        400,
        None,
    ),
]


@pytest.mark.parametrize("name,body,key,status,code", CASES, ids=[c[0] for c in CASES])
def test_bad_request(server, name, body, key, status, code):
    raw = body if isinstance(body, bytes) else None
    r = _post(server, None if raw else body, key, raw)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if code is not None:
        assert err["code"] == code
    assert server.healthy()


def test_good_request_after_bad_ones(server):
    r = _post(server, _chat(data_url(image(7)), temperature=0))
    assert r.status_code == 200, r.text
    assert r.json()["shiftdc"]["calibrated"] is True


def test_queue_full_answers_429(server):
    """Queue of 2, batches of 1: a burst of 12 long requests overflows it."""
    body = _chat(data_url(image(9)), max_tokens=48, temperature=0)
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda _: _post(server, body).status_code, range(12)))
    assert 429 in codes and 200 in codes and set(codes) <= {200, 429}
    assert server.healthy()


def test_sigterm_drains_in_flight_stream(server):
    """SIGTERM while a stream runs: the stream completes with [DONE], exit status 0."""
    body = _chat(data_url(image(11)), max_tokens=24, temperature=0, stream=True)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream(
        "POST", f"{server.api}/chat/completions", json=body, headers=headers, timeout=120
    ) as r:
        lines = r.iter_lines()
        first = next(ln for ln in lines if ln.startswith("data:"))
        assert "chat.completion.chunk" in first
        code_box = []
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(server.stop)
            rest = [ln for ln in lines if ln.startswith("data:")]
            code_box.append(fut.result())
    assert rest[-1] == "data: [DONE]"
    assert any('"finish_reason"' in ln and '"length"' in ln for ln in rest), rest[-3:]
    assert code_box == [0]
