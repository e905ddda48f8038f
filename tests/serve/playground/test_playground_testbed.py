"""The playground on the testbed (a real aligned miniature LLaVA) in headless Chromium.

Cost: about 3 minutes on 2 shared CPU cores (measured: testbed build 82 s, server start
27 s, a 32-token caption and two 24-token answers 82 s), so it runs only when asked:
SHIFTDC_BROWSER_TESTBED=1. Skipped without the backbone or the browser.
"""

from __future__ import annotations

import base64
import os
import time

import httpx
import pytest

from shiftdc.testbed.backbone import backbone_available
from tests.serve.playground.browser import (
    ask,
    by_id,
    connect,
    done,
    make_driver,
    missing,
    pick_example,
    state,
)
from tests.serve.server_proc import KEY, Server

pytestmark = [
    pytest.mark.skipif(missing() is not None, reason=str(missing())),
    pytest.mark.skipif(not backbone_available(), reason="testbed backbone not installed"),
    pytest.mark.skipif(
        os.environ.get("SHIFTDC_BROWSER_TESTBED") != "1",
        reason="about 3 min on 2 cores (builds the testbed); set SHIFTDC_BROWSER_TESTBED=1",
    ),
]
TOKENS = 24


def test_testbed_harmful_typo_request_in_the_browser(tmp_path_factory):
    from shiftdc.testbed.build import build_testbed

    tmp = tmp_path_factory.mktemp("playground-testbed")
    t0 = time.monotonic()
    testbed = build_testbed(tmp / "tb")
    print(f"testbed built in {time.monotonic() - t0:.0f} s")
    server = Server(
        ["--caption-tokens", "32", "--dtype", "float32", "--device", "cpu", "--api-key", KEY]
        + ["--playground", "--playground-compare"],
        tmp / "serve",
        {"SHIFTDC_TESTBED": str(testbed)},
    )
    d = make_driver(1280, 800)
    try:
        server.wait_ready()
        print(f"server ready at {time.monotonic() - t0:.0f} s")
        connect(d, server, KEY)
        cfg = httpx.get(
            f"{server.url}/playground/config", headers={"Authorization": f"Bearer {KEY}"}
        ).json()
        assert cfg["model"] == "shiftdc-testbed"
        if "recommended" in cfg["settings"]["sources"].values():
            assert "the direction's tuned recommendation" in by_id(d, "settings").text
        example = "harm-01-00-typo"
        pick_example(d, example)
        ask(d, TOKENS)
        done(d, "guarded", "unguarded")
        print(f"answers done at {time.monotonic() - t0:.0f} s")
        assert state(d, "guarded") == "done" and state(d, "unguarded") == "done"
        png = httpx.get(f"{server.url}/playground/examples/{example}.png").content
        body = {
            "model": "shiftdc-testbed",
            "max_tokens": TOKENS,
            "temperature": 0,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": by_id(d, "prompt").get_attribute("value")},
                        {
                            "type": "image_url",
                            "image_url": {
                                "url": "data:image/png;base64," + base64.b64encode(png).decode()
                            },
                        },
                    ],
                }
            ],
        }
        api = httpx.post(
            f"{server.api}/chat/completions",
            json={**body, "shiftdc": {"return_caption": True, "return_layers": True}},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=300,
        ).json()
        shown = d.execute_script("return document.querySelector('#guarded .text').textContent")
        assert shown == api["choices"][0]["message"]["content"]
        assert by_id(d, "caption").get_attribute("textContent") == api["shiftdc"]["caption"]
        layers = api["shiftdc"]["per_layer"]["num_layers"]
        assert layers == cfg["num_layers"] > 4
        assert (
            d.execute_script("return document.querySelectorAll('#chart g.layer').length") == layers
        )
        rows = d.execute_script("return document.querySelectorAll('#layer-table tbody tr').length")
        assert rows == layers
    finally:
        d.quit()
        assert server.stop() == 0, server.log.read_text()
