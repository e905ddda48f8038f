"""`caption`/`generate`'s sharded path in one process: the same OUT as the plain path, and a
killed data-parallel run finished without redoing its rank files' records."""

import pytest

from shiftdc.cli.jobs import _run
from shiftdc.errors import InputError
from shiftdc.method.sample import Sample
from shiftdc.parallel.rank_files import RankFiles
from shiftdc.parallel.sharded_jobs import run_sharded
from shiftdc.records.files import RecordFile
from shiftdc.records.jsonl import json_line

SETTINGS = {"model": "m", "max_new_tokens": 4}


def _samples():
    return [Sample(f"s{i}", f"prompt {i}" + (" fail" if i == 3 else "")) for i in range(6)]


def _respond(calls):
    def respond(chunk):
        calls.extend(s.id for s in chunk)
        if any("fail" in s.prompt for s in chunk):
            raise ValueError("cannot answer")
        return [{"response": s.prompt.upper()} for s in chunk]

    return respond


def _sharded(out, calls):
    rf = RecordFile.open(out, "generate")
    return run_sharded(rf, _samples(), SETTINGS, _respond(calls), "t", 4, False)


def test_sharded_path_writes_what_the_plain_path_writes(tmp_path):
    plain = _run(
        RecordFile.open(tmp_path / "plain.jsonl", "generate"),
        _samples(),
        SETTINGS,
        _respond([]),
        "t",
        4,
        False,
    )
    sharded = _sharded(tmp_path / "sharded.jsonl", [])
    assert (plain.recorded, plain.failed) == (sharded.recorded, sharded.failed) == (6, 1)
    assert (tmp_path / "sharded.jsonl").read_text() == (tmp_path / "plain.jsonl").read_text()
    assert not RankFiles(tmp_path / "sharded.jsonl").exist()


def test_a_killed_run_is_finished_without_redoing_its_rank_files(tmp_path):
    whole = tmp_path / "whole.jsonl"
    _sharded(whole, [])
    expected = {r["id"]: r for r in RecordFile.open(whole, "generate").records}
    out = tmp_path / "out.jsonl"
    part = RankFiles(out).file(1, 2)
    part.write_text(json_line(expected["s1"]) + json_line(expected["s5"]) + '{"id": "s')
    calls = []
    _sharded(out, calls)
    assert "s1" not in calls and "s5" not in calls
    assert out.read_text() == whole.read_text() and not part.exists()


def test_a_rank_file_of_another_run_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    stray = {"id": "s0", "response": "x", "key": "k", "run": "another"}
    RankFiles(out).file(0, 2).write_text(json_line(stray))
    with pytest.raises(InputError, match="from another run"):
        _sharded(out, [])
