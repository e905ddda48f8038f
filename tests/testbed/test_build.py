"""A built testbed is reused only when it was built from the committed weights (no backbone)."""

import json
import shutil

from shiftdc.testbed.assemble import PROJECTOR_FILE, WEIGHTS_DIR
from shiftdc.testbed.build import MARKER, TESTBED_VERSION, is_built, weights_fingerprint


def _marker(folder, **info):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps(info))


def test_fingerprint_follows_the_weight_bytes(tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, weights)
    before = weights_fingerprint(weights)
    assert before == weights_fingerprint(WEIGHTS_DIR)
    data = bytearray((weights / PROJECTOR_FILE).read_bytes())
    data[-1] ^= 1
    (weights / PROJECTOR_FILE).write_bytes(bytes(data))
    assert weights_fingerprint(weights) != before


def test_a_build_from_other_weights_is_stale(tmp_path):
    fresh, stale, old = tmp_path / "fresh", tmp_path / "stale", tmp_path / "old"
    _marker(fresh, version=TESTBED_VERSION, weights=weights_fingerprint())
    _marker(stale, version=TESTBED_VERSION, weights="0" * 16)
    _marker(old, version=TESTBED_VERSION)  # written before builds recorded their weights
    assert is_built(fresh)
    assert not is_built(stale) and not is_built(old)
    assert not is_built(tmp_path / "missing")
