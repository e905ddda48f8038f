"""`shiftdc serve` follows the direction's recommendation (`shiftdc tune`) by default, logs
what it uses, and explicit settings win: the same answers as the flags spelled out."""

from __future__ import annotations

import logging
import shutil
import time

import pytest
from starlette.testclient import TestClient

from shiftdc.method.direction import SafetyDirection
from shiftdc.serve.app import create_app
from shiftdc.serve.config import ServeConfig
from tests.helpers.samples import image
from tests.serve.server_proc import image_message

REC = {"mode": "sequential", "layers": [2, 3], "alpha": 2.0, "positions": "last", "rule": "r"}


@pytest.fixture(scope="module")
def recommended_dir(tiny_direction, tmp_path_factory):
    d = tmp_path_factory.mktemp("recommended") / "d"
    shutil.copytree(tiny_direction[1], d)
    SafetyDirection.load(d).recommend(dict(REC), d)
    return d


def _answer(config: ServeConfig) -> dict:
    """The shiftdc block and text of one greedy image request to a server of `config`."""
    with TestClient(create_app(config)) as client:
        deadline = time.monotonic() + 120
        while client.get("/health").json()["status"] == "loading":
            assert time.monotonic() < deadline, "the server did not load"
            time.sleep(0.05)
        assert client.get("/health").json()["status"] == "ready"
        body = {
            "model": "llava",
            "messages": image_message("what is in the image ?", image(7)),
            "max_tokens": 4,
            "temperature": 0,
        }
        r = client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        return {**out["shiftdc"], "text": out["choices"][0]["message"]["content"]}


def test_serve_defaults_to_the_recommendation_and_explicit_flags_win(
    tiny_dir, recommended_dir, tmp_path, caplog
):
    base = dict(
        model=str(tiny_dir("llava")),
        direction=recommended_dir,
        served_model_name="llava",
        cache_dir=tmp_path / "captions",
        caption_tokens=4,
        dtype="float32",
        device="cpu",
    )
    with caplog.at_level(logging.INFO, logger="shiftdc.serve"):
        rec = _answer(ServeConfig(**base))
    used = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ShiftDC:")]
    assert used == [
        "ShiftDC: mode sequential, layers 2..3, alpha 2, positions last "
        "(recommended: mode, layers, alpha, positions)"
    ]
    assert (rec["mode"], rec["alpha"], rec["layers"]) == ("sequential", 2.0, [2, 3])

    spelled = _answer(ServeConfig(**base, mode="sequential", alpha=2.0, layers="2:3"))
    assert spelled == rec  # the recommendation is exactly the flags it stands for

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="shiftdc.serve"):
        paper = _answer(ServeConfig(**base, mode="paper", alpha=0.5))
    assert (paper["mode"], paper["alpha"], paper["layers"]) == ("paper", 0.5, [2, 3])
    assert any("explicit: mode, alpha" in r.getMessage() for r in caplog.records)
