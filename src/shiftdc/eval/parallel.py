"""Data-parallel evaluation: every rank generates a deterministic share into its own file.

Under `torchrun`/`accelerate launch` each of W ranks takes the items at positions
k, k+W, k+2W, ... of the seeded item order (every rank computes that order itself, so no
rank needs to ask another), skips those already recorded in any records file of the run
directory, and appends its records to `records.rank<k>-of-<W>.jsonl`, flushed per
record. When a rank's share is done it leaves a `.rank<k>-of-<W>.done` marker; rank 0
shows one progress bar over all files, waits for every marker and a barrier, then merges
every records file into `records.jsonl` in the seeded item order (one record per id),
judges records without a verdict, writes summary.json and the reports, and removes the
rank files.

Resume rule: an item is done when any records file of the run (the merged one or a rank
file of any width) holds a complete record of its id; the rest is split over the current
width. So a killed rank or job resumes with the same command, at any number of processes
(one included), and nothing is generated twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shiftdc import atomic, distributed
from shiftdc.generation import batches

MERGED = "records.jsonl"
POLL_S = 1.0


def rank_file(out: Path, index: int, count: int) -> Path:
    """Records file of rank `index` in a job of `count` ranks."""
    return out / f"records.rank{index}-of-{count}.jsonl"


def _marker(out: Path, index: int, count: int) -> Path:
    return out / f".rank{index}-of-{count}.done"


def rank_files(out: Path) -> list[Path]:
    """Every per-rank records file in a run directory, of any width."""
    return sorted(out.glob("records.rank*-of-*.jsonl"))


def has_rank_files(out: str | Path) -> bool:
    """Whether a run directory holds unmerged per-rank records."""
    return bool(rank_files(Path(out)))


def _complete(line: str) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return None
    return rec if isinstance(rec, dict) and "id" in rec else None


def read_all(out: Path) -> dict[str, dict[str, Any]]:
    """id -> record over the merged file then every rank file (torn lines ignored)."""
    found: dict[str, dict[str, Any]] = {}
    for path in [out / MERGED, *rank_files(out)]:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = _complete(line)
            if rec is not None and (
                str(rec["id"]) not in found or found[str(rec["id"])].get("error")
            ):
                found[str(rec["id"])] = rec  # an error record gives way to a later success
    return found


class _Tally:
    """Ids recorded so far across the run's files, read incrementally (rank 0's bar)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.offsets: dict[Path, int] = {}
        self.ids: set[str] = set()

    def update(self) -> int:
        for path in [self.out / MERGED, *rank_files(self.out)]:
            if not path.is_file():
                continue
            with path.open("rb") as fh:
                fh.seek(self.offsets.get(path, 0))
                data = fh.read()
            end = data.rfind(b"\n") + 1  # a line still being written waits for the next look
            self.offsets[path] = self.offsets.get(path, 0) + end
            for line in data[:end].decode("utf-8").splitlines():
                rec = _complete(line)
                if rec is not None:
                    self.ids.add(str(rec["id"]))
        return len(self.ids)


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
    """Generate this rank's share, then (rank 0) merge, judge and summarise; all return it.

    `run_batch(chunk) -> records` makes one batch's records; `finish(records)` writes the
    summary and reports from the merged records and returns the summary.
    """
    k, w = distributed.rank(), distributed.world_size()
    done = {i for i, rec in read_all(out).items() if not rec.get("error")}  # failed: retried
    mine = [it for it in distributed.shard(items, k, w) if it.id not in done]
    _marker(out, k, w).unlink(missing_ok=True)
    distributed.log(f"{len(mine)} items to generate ({len(done)} of {len(items)} already recorded)")
    tally = _Tally(out) if distributed.is_main() else None
    bar = tqdm(
        total=len(items),
        initial=tally.update() if tally else 0,
        desc=f"{desc} x{w}",
        unit="item",
        disable=not (progress and tally),
    )

    def refresh() -> None:
        if tally is not None:
            bar.update(tally.update() - bar.n)

    with rank_file(out, k, w).open("a", encoding="utf-8") as fh:
        for chunk in batches(mine, batch_size):
            for rec in run_batch(chunk):
                fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n")
                fh.flush()
            refresh()
    atomic.write_text(_marker(out, k, w), "done\n")
    if distributed.is_main():
        while not all(_marker(out, i, w).is_file() for i in range(w)):
            refresh()
            time.sleep(POLL_S)
        refresh()
    bar.close()
    distributed.barrier()
    summary = None
    if distributed.is_main():
        summary = merge(out, items, judge, finish, w)
    distributed.barrier()
    return distributed.broadcast_object(summary)


def merge(out: Path, items: Iterable[Any], judge: Any, finish: Any, width: int) -> dict:
    """One record per item id into records.jsonl (seeded order), judge the unjudged, report."""
    from shiftdc.eval.judges import judge_records

    found = read_all(out)
    ordered = [found[it.id] for it in items if it.id in found]
    missing = [r for r in ordered if r.get("verdict") is None and not r.get("error")]
    if missing:
        scored = {r["id"]: {**r, "judge": judge.name} for r in judge_records(judge, missing)}
        ordered = [scored.get(r["id"], r) for r in ordered]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered)
    atomic.write_text(out / MERGED, text)
    for path in rank_files(out):
        path.unlink()
    for i in range(width):
        _marker(out, i, width).unlink(missing_ok=True)
    return finish(ordered)
