"""One tiny-LLaVA server for the serve tests that need no real refusals (built once)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("openai")

from shiftdc.method.direction import SafetyDirection
from tests.helpers.samples import fit_samples
from tests.serve.server_proc import KEY, Server

CAPTION_TOKENS = 6


@pytest.fixture(scope="session")
def tiny_direction(tiny_vlm, tmp_path_factory):
    """A direction fitted on the tiny LLaVA and saved (the server loads it from disk)."""
    safe, unsafe = fit_samples()
    direction = SafetyDirection.fit(tiny_vlm("llava"), safe, unsafe, progress=False)
    path = tmp_path_factory.mktemp("direction") / "d"
    direction.save(path)
    return direction, path


@pytest.fixture(scope="session")
def tiny_server(tiny_dir, tiny_direction, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    server = Server(
        [
            "--model",
            str(tiny_dir("llava")),
            "--direction",
            str(tiny_direction[1]),
            "--api-key",
            KEY,
            "--caption-tokens",
            str(CAPTION_TOKENS),
            "--batch-wait-ms",
            "50",
            "--max-batch-size",
            "8",
            "--max-queue",
            "64",
            "--dtype",
            "float32",
            "--device",
            "cpu",
        ],
        tmp,
    )
    try:
        server.wait_ready()
        yield server
    finally:
        code = server.stop()
        assert code == 0, server.log.read_text()
