"""Per-rank record files in one process: names, reading across widths, resume, pruning."""

import json
from types import SimpleNamespace

from shiftdc.parallel.rank_files import RankFiles, _SeenIds, run_shards


def _write(path, records, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")


def test_rank_files_are_named_beside_the_merged_file(tmp_path):
    files = RankFiles(tmp_path / "records.jsonl")
    assert files.file(1, 2) == tmp_path / "records.rank1-of-2.jsonl"
    assert files.marker(1, 2) == tmp_path / ".records.rank1-of-2.jsonl.done"
    assert not files.exist()
    _write(files.file(1, 2), [])
    _write(files.file(0, 3), [])
    (tmp_path / "other.rank0-of-2.jsonl").write_text("")
    assert files.files() == [files.file(0, 3), files.file(1, 2)]
    files.marker(1, 2).write_text("done\n")
    files.remove()
    assert not files.exist() and not files.marker(1, 2).exists()
    assert (tmp_path / "other.rank0-of-2.jsonl").exists()


def test_read_merges_widths_skips_torn_lines_and_lets_a_success_replace_an_error(tmp_path):
    files = RankFiles(tmp_path / "out.jsonl")
    _write(files.merged, [{"id": "a", "v": 1}, {"id": "b", "error": "boom"}])
    _write(files.file(0, 2), [{"id": "b", "v": 2}, {"id": "c", "v": 3}], tail='{"id": "d", "v')
    _write(files.file(1, 3), [{"id": "a", "v": 9}, {"no_id": 1}])
    assert files.read() == {
        "a": {"id": "a", "v": 1},
        "b": {"id": "b", "v": 2},
        "c": {"id": "c", "v": 3},
    }
    assert set(files.read(merged=False)) == {"a", "b", "c"}
    files.keep(lambda r: r["id"] != "a")
    assert files.read() == {"b": {"id": "b", "v": 2}, "c": {"id": "c", "v": 3}}
    assert files.merged.read_text() == json.dumps({"id": "b", "error": "boom"}) + "\n"


def test_seen_ids_counts_a_line_only_once_it_is_complete(tmp_path):
    files = RankFiles(tmp_path / "out.jsonl")
    seen = _SeenIds(files)
    _write(files.file(0, 2), [{"id": "a"}], tail='{"id": "b"')
    assert seen.update() == 1
    with files.file(0, 2).open("a") as fh:
        fh.write('}\n{"id": "a"}\n')
    _write(files.merged, [{"id": "c"}])
    assert seen.update() == 3 and seen.ids == {"a", "b", "c"}


def test_run_shards_alone_makes_only_what_no_file_holds_without_error(tmp_path):
    files = RankFiles(tmp_path / "out.jsonl")
    items = [SimpleNamespace(id=f"i{n}") for n in range(7)]
    # a killed 2-rank run left i1 done, i3 failed and a torn line
    _write(files.file(1, 2), [{"id": "i1", "v": "old"}, {"id": "i3", "error": "x"}], tail='{"id"')
    made = []

    def run_batch(chunk):
        made.append([it.id for it in chunk])
        return [{"id": it.id, "v": "new"} for it in chunk]

    run_shards(items, files, run_batch, batch_size=3, desc="test", progress=False)
    assert made == [["i0", "i2", "i3"], ["i4", "i5", "i6"]]
    assert files.marker(0, 1).is_file()
    got = files.read(merged=False)
    assert set(got) == {f"i{n}" for n in range(7)}
    assert got["i1"]["v"] == "old" and got["i3"] == {"id": "i3", "v": "new"}
