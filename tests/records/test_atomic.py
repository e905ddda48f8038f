"""Atomic writes: a reader sees the old content or the whole new one, never a temporary file."""

import pytest

from shiftdc.records import atomic


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_text_creates_folders_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a" / "b" / "entry.json"
    atomic.write_text(target, "old ✓")
    atomic.write_text(target, "new ✓")
    assert target.read_bytes() == "new ✓".encode()
    assert _leftovers(target.parent) == []


def test_a_failed_block_keeps_the_old_content_and_removes_its_temporary(tmp_path):
    target = tmp_path / "entry.bin"
    atomic.write_bytes(target, b"old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        assert target.read_bytes() == b"old"  # nothing visible until the block succeeds
        raise RuntimeError("writer died")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_two_writers_of_one_entry_never_share_a_temporary(tmp_path):
    target = tmp_path / "entry"
    with atomic.atomic_path(target) as first, atomic.atomic_path(target) as second:
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("one")
        second.write_text("two")
    assert target.read_text() == "one"  # the outer block finishes last, so its rename wins
    assert _leftovers(tmp_path) == []
