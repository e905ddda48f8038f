"""Playground servers on the tiny random LLaVA (built once per session)."""

from __future__ import annotations

import pytest

from tests.serve.conftest import CAPTION_TOKENS
from tests.serve.server_proc import KEY, Server

MAX_IMAGE_BYTES = 150_000  # small, so a browser upload can exceed it


def _server(tiny_dir, tiny_direction, tmp, *extra: str) -> Server:
    return Server(
        [
            "--model",
            str(tiny_dir("llava")),
            "--direction",
            str(tiny_direction[1]),
            "--caption-tokens",
            str(CAPTION_TOKENS),
            "--max-image-bytes",
            str(MAX_IMAGE_BYTES),
            "--max-tokens",
            "32",
            "--dtype",
            "float32",
            "--device",
            "cpu",
            "--playground",
            *extra,
        ],
        tmp,
    )


@pytest.fixture(scope="session")
def playground_server(tiny_dir, tiny_direction, tmp_path_factory):
    """--playground --playground-compare with an API key."""
    tmp = tmp_path_factory.mktemp("playground")
    server = _server(tiny_dir, tiny_direction, tmp, "--playground-compare", "--api-key", KEY)
    try:
        server.wait_ready()
        yield server
    finally:
        assert server.stop() == 0, server.log.read_text()


@pytest.fixture(scope="session")
def playground_server_no_compare(tiny_dir, tiny_direction, tmp_path_factory):
    """--playground alone: no key, no unguarded comparison."""
    tmp = tmp_path_factory.mktemp("playground-plain")
    server = _server(tiny_dir, tiny_direction, tmp)
    try:
        server.wait_ready()
        yield server
    finally:
        assert server.stop() == 0, server.log.read_text()
