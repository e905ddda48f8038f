"""Data-parallel evaluation and rescoring: every rank does a deterministic share.

The sharding, per-rank files, markers, progress bar and resume rule are those of
`shiftdc.parallel.rank_files` (`records.rank<k>-of-<W>.jsonl` beside the run's `records.jsonl`).
When every rank is done, rank 0 merges every records file into `records.jsonl` in the
seeded item order (one record per id), judges records without a verdict, writes
summary.json and the reports, and removes the rank files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shiftdc.parallel import distributed
from shiftdc.parallel.rank_files import RankFiles, run_shards
from shiftdc.records import atomic

MERGED = "records.jsonl"


def run_files(out: Path) -> RankFiles:
    """The records files of a run directory (merged and per rank)."""
    return RankFiles(Path(out) / MERGED)


def has_rank_files(out: str | Path) -> bool:
    """Whether a run directory holds unmerged per-rank records."""
    return run_files(Path(out)).exist()


def evaluate_parallel(
    items: list[Any],
    out: Path,
    run_batch: Any,
    judge: Any,
    batch_size: int,
    desc: str,
    progress: bool,
    finish: Any,
) -> dict[str, Any]:
    """Make this rank's share, then (rank 0) merge, judge and summarise; all return it.

    `run_batch(chunk) -> records` makes one batch's records; `finish(records)` writes the
    summary and reports from the merged records and returns the summary.
    """
    files = run_files(out)
    run_shards(items, files, run_batch, batch_size, desc, progress)
    summary = None
    if distributed.is_main():
        summary = merge(files, items, judge, finish)
    distributed.barrier()
    return distributed.broadcast_object(summary)


def merge(files: RankFiles, items: Iterable[Any], judge: Any, finish: Any) -> dict:
    """One record per item id into records.jsonl (item order), judge the unjudged, report."""
    from shiftdc.eval.judges import judge_records

    found = files.read()
    ordered = [found[str(it.id)] for it in items if str(it.id) in found]
    missing = [r for r in ordered if r.get("verdict") is None and not r.get("error")]
    if missing:
        scored = {r["id"]: {**r, "judge": judge.name} for r in judge_records(judge, missing)}
        ordered = [scored.get(r["id"], r) for r in ordered]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered)
    atomic.write_text(files.merged, text)
    files.remove()
    return finish(ordered)
