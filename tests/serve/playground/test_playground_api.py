"""The playground's server side: its routes, the per-layer block, the comparison opt-in."""

from __future__ import annotations

import io
import math
import re

import httpx
import numpy as np
import pytest
from PIL import Image

from shiftdc.cli import main
from shiftdc.method.captions import Captioner
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.method.settings import resolve_settings
from shiftdc.models.generation import generate_plain
from tests.helpers.samples import image
from tests.serve.conftest import CAPTION_TOKENS
from tests.serve.server_proc import KEY, image_message

AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "llava"


def _chat(server, body: dict, key: str | None = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.api}/chat/completions", json=body, headers=headers, timeout=120)


def test_page_and_its_files_reach_only_the_own_origin(playground_server):
    page = httpx.get(f"{playground_server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(r.startswith("/") or r.startswith("#") or r == "data:," for r in refs)
    texts = [page.text]
    for ref in [r for r in refs if r.startswith("/playground/static/")]:
        r = httpx.get(f"{playground_server.url}{ref}")
        assert r.status_code == 200, ref
        texts.append(r.text)
    js = httpx.get(f"{playground_server.url}/playground/static/playground.js").text
    for module in re.findall(r'from "\./([\w.]+)"', js):
        r = httpx.get(f"{playground_server.url}/playground/static/{module}")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], module
        texts.append(r.text)
    # no address of another origin anywhere (the SVG namespace is a name, never fetched)
    for text in texts:
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "localStorage" not in js and "cookie" not in js
    missing = httpx.get(f"{playground_server.url}/playground/static/secret.txt")
    assert missing.status_code == 404 and "error" in missing.json()


def test_config_needs_the_key_and_states_the_configuration(
    playground_server, tiny_vlm, tiny_direction
):
    url = f"{playground_server.url}/playground/config"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    cfg = httpx.get(url, headers=AUTH).json()
    vlm = tiny_vlm("llava")
    ref = resolve_settings(tiny_direction[0], vlm.num_layers)
    assert cfg["model"] == MODEL and cfg["num_layers"] == vlm.num_layers
    assert cfg["guard"] is True and cfg["compare"] is True
    s = cfg["settings"]
    assert (s["mode"], s["layers"], s["alpha"], s["positions"]) == (
        ref.mode,
        ref.layers,
        ref.alpha,
        ref.positions,
    )
    assert s["sources"] == ref.sources and s["summary"] == ref.describe()
    assert cfg["limits"]["max_image_bytes"] == 150_000 and cfg["limits"]["max_tokens"] == 32


def test_examples_are_the_builtin_suites_images(playground_server):
    from shiftdc.data import builtin_items

    listing = httpx.get(f"{playground_server.url}/playground/examples").json()["examples"]
    assert {e["kind"] for e in listing} == {"harmful", "benign"}
    assert {e["attack"] for e in listing} == {"TYPO", "SD_TYPO", "figstep"}
    items = {it.id: it for it in builtin_items("eval", attacks=("TYPO", "SD_TYPO", "figstep"))}
    for ex in listing:
        request_id = ex["id"].rsplit("-", 2 if ex["attack"] == "SD_TYPO" else 1)[0]
        item = items[f"builtin/{request_id}/{ex['attack']}"]
        assert ex["query"] == item.prompt and ex["request"] == item.request
        png = httpx.get(f"{playground_server.url}{ex['image']}")
        assert png.headers["content-type"] == "image/png"
        served = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB"))
        assert np.array_equal(served, np.asarray(item.image().convert("RGB"))), ex["id"]
    assert httpx.get(f"{playground_server.url}/playground/examples/nope.png").status_code == 404


def test_per_layer_block_matches_a_trace_and_costs_nothing_unasked(
    playground_server, tiny_vlm, tiny_direction, tmp_path
):
    prompt, img = "what is in the image ?", image(4)
    body = {"model": MODEL, "messages": image_message(prompt, img), "max_tokens": 4}
    plain = _chat(playground_server, {**body, "temperature": 0}).json()["shiftdc"]
    assert "per_layer" not in plain and "caption" not in plain
    asked = {**body, "temperature": 0, "shiftdc": {"return_layers": True}}
    block = _chat(playground_server, asked).json()["shiftdc"]
    per = block["per_layer"]

    vlm = tiny_vlm("llava")
    captioner = Captioner(vlm, CAPTION_TOKENS, cache_dir=tmp_path, progress=False)
    sdc = ShiftDC(vlm, tiny_direction[0], captioner=captioner, progress=False)
    trace = sdc.trace(Sample("x", prompt, img))
    vectors = tiny_direction[0].vectors.double().numpy()
    m = (trace.x_vl - trace.x_tt).double().numpy()
    corr = trace.correction.double().numpy()
    n = vlm.num_layers
    assert per["num_layers"] == n and per["calibrated"] == trace.layers == block["layers"]
    for key in ("shift_norm", "shift_along_s", "correction_norm", "correction_along_s"):
        assert len(per[key]) == n and all(math.isfinite(v) for v in per[key]), key
    for layer in range(n):  # naive per-layer reference, one dot product at a time
        unit = vectors[layer] / np.linalg.norm(vectors[layer])
        assert per["shift_along_s"][layer] == pytest.approx(m[layer] @ unit, rel=1e-4, abs=1e-6)
        assert per["shift_norm"][layer] == pytest.approx(np.linalg.norm(m[layer]), rel=1e-4)
        expect = corr[layer] @ unit
        assert per["correction_along_s"][layer] == pytest.approx(expect, rel=1e-4, abs=1e-6)
        assert per["correction_norm"][layer] == pytest.approx(
            np.linalg.norm(corr[layer]), rel=1e-4, abs=1e-6
        )
        if layer not in trace.layers:
            assert per["correction_norm"][layer] == 0.0
    # the calibrated layers agree with the block's own (independently computed) numbers
    for j, layer in enumerate(block["layers"]):
        assert per["shift_along_s"][layer] == pytest.approx(block["shift_along_s"][j], rel=1e-4)
        assert per["correction_norm"][layer] == pytest.approx(block["correction_norm"][j], rel=1e-4)


def test_compare_allows_only_switching_the_guard_off(playground_server, tiny_vlm):
    prompt, img = "describe the picture", image(6)
    body = {"model": MODEL, "messages": image_message(prompt, img), "max_tokens": 6}
    r = _chat(playground_server, {**body, "temperature": 0, "shiftdc": {"enabled": False}})
    assert r.status_code == 200, r.text
    block = r.json()["shiftdc"]
    assert block == {"calibrated": False, "reason": "guard disabled by the client"}
    ref = generate_plain(tiny_vlm("llava"), [Sample("x", prompt, img)], max_new_tokens=6)[0]
    assert r.json()["choices"][0]["message"]["content"] == ref
    for opts in (
        {"enabled": True},
        {"mode": "sequential"},
        {"alpha": 0.0},
        {"enabled": False, "alpha": 2.0},
    ):
        r = _chat(playground_server, {**body, "shiftdc": opts})
        assert r.status_code == 400 and r.json()["error"]["code"] == "overrides_not_allowed", opts
    # the key still guards it
    r = _chat(playground_server, {**body, "shiftdc": {"enabled": False}}, key=None)
    assert r.status_code == 401
    log = playground_server.log.read_text()
    warning = [line for line in log.splitlines() if "WARNING --playground-compare" in line]
    assert len(warning) == 1 and "any caller holding the API key" in warning[0], log
    assert "playground page at http://127.0.0.1:" in log


def test_without_the_flags_nothing_changes(tiny_server, playground_server_no_compare):
    for path in ("/", "/playground/config", "/playground/examples"):
        assert httpx.get(f"{tiny_server.url}{path}").status_code == 404, path
    body = {"model": MODEL, "messages": image_message("hi", image(1)), "max_tokens": 2}
    r = _chat(playground_server_no_compare, {**body, "shiftdc": {"enabled": False}}, key=None)
    assert r.status_code == 400 and r.json()["error"]["code"] == "overrides_not_allowed"
    cfg = httpx.get(f"{playground_server_no_compare.url}/playground/config").json()
    assert cfg["compare"] is False
    assert "WARNING" not in playground_server_no_compare.log.read_text()


def test_compare_without_the_page_is_refused_in_one_line(capsys):
    code = main(["serve", "--playground-compare", "--model", "unused"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--playground-compare needs --playground" in err
