"""The playground in headless Chromium against a live `shiftdc serve --playground` (tiny
random LLaVA): what the page shows equals what the API answers for the same request."""

from __future__ import annotations

import base64
import math

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.serve.playground.browser import (
    ask,
    by_id,
    connect,
    done,
    make_driver,
    missing,
    state,
    wait,
)
from tests.serve.server_proc import KEY

pytestmark = pytest.mark.skipif(missing() is not None, reason=str(missing()))


@pytest.fixture(scope="module")
def driver():
    d = make_driver(1280, 800)
    try:
        yield d
    finally:
        d.quit()


def _api(server, image_url: str, prompt: str, tokens: int, shiftdc: dict, key=KEY) -> dict:
    body = {
        "model": "llava",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "image_url", "image_url": {"url": image_url}},
                ],
            }
        ],
        "max_tokens": tokens,
        "temperature": 0,
        "shiftdc": shiftdc,
    }
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(f"{server.api}/chat/completions", json=body, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_builtin_image_streams_both_answers_caption_and_chart(driver, playground_server):
    d, server = driver, playground_server
    d.get(f"{server.url}/")
    # the key is required: the page says so instead of hanging
    wait(d, lambda: by_id(d, "connect-error").is_displayed())
    assert "HTTP 401" in by_id(d, "connect-error").text
    connect(d, server, KEY)
    example = d.execute_script(
        "return [...document.querySelectorAll('#examples button')]"
        ".find(b => b.dataset.example.endsWith('-typo') && b.classList.contains('harmful'))"
        ".dataset.example"
    )
    by_id(d, "examples").find_element("css selector", f'[data-example="{example}"]').click()
    wait(d, lambda: by_id(d, "prompt").get_attribute("value"))
    listing = httpx.get(f"{server.url}/playground/examples").json()["examples"]
    ex = next(e for e in listing if e["id"] == example)
    assert by_id(d, "prompt").get_attribute("value") == ex["query"]  # the attack's query
    ask(d, 8)
    done(d, "guarded", "unguarded")
    assert state(d, "guarded") == "done" and state(d, "unguarded") == "done"

    png = httpx.get(f"{server.url}{ex['image']}").content
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    guarded = _api(server, url, ex["query"], 8, {"return_caption": True, "return_layers": True})
    unguarded = _api(server, url, ex["query"], 8, {"enabled": False})
    text = d.execute_script("return document.querySelector('#guarded .text').textContent")
    assert text == guarded["choices"][0]["message"]["content"]
    text = d.execute_script("return document.querySelector('#unguarded .text').textContent")
    assert text == unguarded["choices"][0]["message"]["content"]
    block = guarded["shiftdc"]
    assert by_id(d, "caption").get_attribute("textContent") == block["caption"] and block["caption"]

    per = block["per_layer"]
    n = per["num_layers"]
    chart = by_id(d, "chart")
    assert chart.get_attribute("data-layers") == str(n)
    bars = d.execute_script(
        "return [...document.querySelectorAll('#chart g.layer')]"
        ".map(g => [g.dataset.layer, g.dataset.shift, g.dataset.correction].map(Number))"
    )
    assert [b[0] for b in bars] == list(range(n))
    assert all(math.isfinite(b[1]) and math.isfinite(b[2]) for b in bars)
    # float32 passes: the page's request and this one may be scheduled beside other rows
    assert [b[1] for b in bars] == pytest.approx(per["shift_along_s"], rel=1e-5, abs=1e-7)
    assert [b[2] for b in bars] == pytest.approx(per["correction_along_s"], rel=1e-5, abs=1e-7)
    bands = d.execute_script("return document.querySelectorAll('#chart .cal-band').length")
    assert bands == len(per["calibrated"]) == len(block["layers"]) > 0
    rows = d.execute_script(
        "return [...document.querySelectorAll('#layer-table tbody tr')]"
        ".map(r => [r.dataset.layer, r.classList.contains('cal')])"
    )
    assert rows == [[str(i), i in per["calibrated"]] for i in range(n)]
    settings = d.execute_script(
        "return [...document.querySelectorAll('#settings li')].map(li => li.dataset.setting)"
    )
    assert settings == ["mode", "layers", "alpha", "positions"]
    assert "built-in default" in by_id(d, "settings").text
    assert by_id(d, "submit").is_enabled()


def test_too_large_image_shows_the_servers_error(driver, playground_server, tmp_path):
    d, server = driver, playground_server
    connect(d, server, KEY)
    rng = np.random.default_rng(0)
    big = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8)).save(big)
    assert big.stat().st_size > 150_000  # the fixture's --max-image-bytes
    by_id(d, "file").send_keys(str(big))
    wait(d, lambda: "noise.png" in by_id(d, "image-note").text)
    by_id(d, "prompt").send_keys("what is this?")
    ask(d, 4)
    done(d, "guarded", "unguarded")
    for pane in ("guarded", "unguarded"):
        assert state(d, pane) == "error"
        shown = d.execute_script(f"return document.querySelector('#{pane} .error').textContent")
        assert shown.startswith("HTTP 413: ") and "150000" in shown, shown
    assert by_id(d, "submit").is_enabled() and not by_id(d, "stop").is_enabled()
    # a missing image is refused on the page, before any request
    d.get(f"{server.url}/")
    connect(d, server, KEY)
    by_id(d, "submit").click()
    wait(d, lambda: by_id(d, "form-error").is_displayed())
    assert "choose or drop an image" in by_id(d, "form-error").text


def test_api_key_travels_only_in_a_header(driver, playground_server):
    d, server = driver, playground_server
    connect(d, server, "not-the-key", expect_ok=False)
    wait(d, lambda: "wrong API key" in by_id(d, "connect-error").text)
    assert by_id(d, "connect-error").text.startswith("HTTP 401: ")
    box = by_id(d, "api-key")
    box.clear()
    box.send_keys(KEY)
    by_id(d, "connect").click()
    wait(d, lambda: "decoder layers" in by_id(d, "server-line").text)
    assert not by_id(d, "connect-error").is_displayed()
    key_in = d.execute_script(
        "const k = arguments[0];"
        "const res = performance.getEntriesByType('resource').map(e => e.name);"
        "const urls = [location.href, ...res];"
        "return {urls: urls.filter(u => u.includes(k)), local: localStorage.length,"
        " session: sessionStorage.length, cookie: document.cookie}",
        KEY,
    )
    assert key_in == {"urls": [], "local": 0, "session": 0, "cookie": ""}
    assert by_id(d, "api-key").get_attribute("type") == "password"


def test_phone_width_without_comparison_or_key(playground_server_no_compare):
    d = make_driver(390, 844)
    try:
        server = playground_server_no_compare
        connect(d, server, None)
        assert not by_id(d, "compare").is_enabled()
        d.find_element("css selector", "#examples button.benign").click()
        wait(d, lambda: by_id(d, "prompt").get_attribute("value"))
        ask(d, 4)
        done(d, "guarded", "unguarded")
        assert state(d, "guarded") == "done" and state(d, "unguarded") == "off"
        assert "--playground-compare" in by_id(d, "unguarded").text
        assert d.execute_script("return document.querySelectorAll('#chart g.layer').length") > 0
        # nothing wider than the phone, and every control has a label
        assert d.execute_script("return document.documentElement.scrollWidth") <= 390
        unlabelled = d.execute_script(
            "return [...document.querySelectorAll('input, textarea, select, button')]"
            ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
            " && !e.textContent.trim()).map(e => e.id || e.outerHTML)"
        )
        assert unlabelled == []
    finally:
        d.quit()
