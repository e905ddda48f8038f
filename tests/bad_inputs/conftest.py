"""Fixtures of the bad-input tests; their helpers are in tests/helpers/cli_runs.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder with a few small valid request images."""
    d = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (12, 10 + i, 3), dtype=np.uint8)).save(
            d / f"ok{i}.png"
        )
    return d
