"""Which folders count as the testbed whose shipped direction applies (no backbone needed)."""

import json

from shiftdc.testbed.build import (
    MARKER,
    TESTBED_VERSION,
    shipped_direction,
    shipped_direction_for,
    weights_fingerprint,
)


def _marker(folder, weights: str) -> None:
    folder.mkdir()
    (folder / MARKER).write_text(json.dumps({"version": TESTBED_VERSION, "weights": weights}))


def test_only_a_build_of_the_committed_weights_gets_the_shipped_direction(tmp_path):
    assert shipped_direction_for(tmp_path) is None  # any other model folder
    assert shipped_direction_for("org/some-hub-id") is None
    _marker(tmp_path / "old", "0" * 16)  # a testbed built from other weights
    assert shipped_direction_for(tmp_path / "old") is None
    _marker(tmp_path / "current", weights_fingerprint())
    assert shipped_direction_for(tmp_path / "current") == shipped_direction()
    assert shipped_direction() is not None
