"""Records across ranks: each rank appends its share to a file of its own, rank 0 merges.

Under `torchrun`/`accelerate launch` each of W ranks takes the items at positions
k, k+W, k+2W, ... of the command's item order (every rank computes that order itself, so
no rank needs to ask another), skips those already recorded, and appends its records to
`<stem>.rank<k>-of-<W><suffix>` beside the merged file (`records.rank0-of-2.jsonl` beside
`records.jsonl`), flushed per record. When its share is done a rank leaves a
`.<rank file name>.done` marker; rank 0 shows one progress bar over all files, waits
for every marker, and after a barrier the caller's rank 0 merges. The same code runs with
one process (W=1), which is how a run left with rank files is finished without a launcher.

Resume rule: an item is done when the merged file or any rank file (of any width) holds an
error-free record of its id; the rest is split over the current width. So a killed rank or
job resumes with the same command, at any number of processes, and nothing is made twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shiftdc.models.generation import batches
from shiftdc.parallel import distributed
from shiftdc.records import atomic
from shiftdc.records.jsonl import json_line

POLL_S = 1.0


def _complete(line: str) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return None
    return rec if isinstance(rec, dict) and "id" in rec else None


class RankFiles:
    """The merged records file `merged` and the per-rank files beside it."""

    def __init__(self, merged: Path) -> None:
        self.merged = Path(merged)
        stem, suffix = self.merged.stem, self.merged.suffix
        self._pattern = f"{stem}.rank*-of-*{suffix}"
        self._name = f"{stem}.rank{{k}}-of-{{w}}{suffix}"

    def file(self, index: int, count: int) -> Path:
        """Records file of rank `index` in a job of `count` ranks."""
        return self.merged.with_name(self._name.format(k=index, w=count))

    def marker(self, index: int, count: int) -> Path:
        return self.merged.with_name(f".{self.file(index, count).name}.done")

    def files(self) -> list[Path]:
        """Every per-rank file, of any width."""
        return sorted(self.merged.parent.glob(self._pattern))

    def exist(self) -> bool:
        """Whether unmerged per-rank records are present."""
        return bool(self.files())

    def read(self, merged: bool = True) -> dict[str, dict[str, Any]]:
        """id -> record over the merged file (unless `merged` is False) then every rank file;
        torn lines are ignored and an error record gives way to a later one."""
        found: dict[str, dict[str, Any]] = {}
        for path in [self.merged] * merged + self.files():
            if not path.is_file():
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = _complete(line)
                if rec is not None and (
                    str(rec["id"]) not in found or found[str(rec["id"])].get("error")
                ):
                    found[str(rec["id"])] = rec
        return found

    def keep(self, wanted: Callable[[dict[str, Any]], bool]) -> None:
        """Rewrite the merged and rank files keeping only records `wanted` (rank 0, alone)."""
        for path in [self.merged, *self.files()]:
            if path.is_file():
                lines = path.read_text(encoding="utf-8").splitlines()
                recs = [r for r in map(_complete, lines) if r is not None]
                atomic.write_text(path, "".join(json_line(r) for r in recs if wanted(r)))

    def remove(self) -> None:
        """Delete every rank file and marker (after a merge, or to start over)."""
        for path in self.files():
            path.unlink()
        for path in self.merged.parent.glob(f".{self._pattern}.done"):
            path.unlink()


class _SeenIds:
    """Ids recorded so far across the files, read incrementally (rank 0's bar)."""

    def __init__(self, files: RankFiles) -> None:
        self.files = files
        self.offsets: dict[Path, int] = {}
        self.ids: set[str] = set()

    def update(self) -> int:
        for path in [self.files.merged, *self.files.files()]:
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


def run_shards(
    items: list[Any],
    files: RankFiles,
    run_batch: Callable[[list[Any]], Iterable[dict[str, Any]]],
    batch_size: int,
    desc: str,
    progress: bool,
) -> None:
    """Make this rank's share of the items not yet done, then wait for every rank.

    `items` have an `id`; `run_batch(chunk) -> records` makes one batch's records (each
    with its "id"). Returns once every rank has finished (after a barrier); the caller's
    rank 0 then merges.
    """
    k, w = distributed.rank(), distributed.world_size()
    done = {i for i, rec in files.read().items() if not rec.get("error")}  # failed: retried
    mine = [it for it in distributed.shard(items, k, w) if str(it.id) not in done]
    files.marker(k, w).unlink(missing_ok=True)
    if distributed.active():
        distributed.log(f"{len(mine)} items to do ({len(done)} of {len(items)} already recorded)")
    tally = _SeenIds(files) if distributed.is_main() else None
    bar = tqdm(
        total=len(items),
        initial=tally.update() if tally else 0,
        desc=f"{desc} x{w}" if w > 1 else desc,
        unit="item",
        disable=not (progress and tally),
    )

    def refresh() -> None:
        if tally is not None:
            bar.update(tally.update() - bar.n)

    files.merged.parent.mkdir(parents=True, exist_ok=True)
    with files.file(k, w).open("a", encoding="utf-8") as fh:
        for chunk in batches(mine, batch_size):
            for rec in run_batch(chunk):
                fh.write(json_line(rec))
                fh.flush()
            refresh()
    atomic.write_text(files.marker(k, w), "done\n")
    if distributed.is_main():
        while not all(files.marker(i, w).is_file() for i in range(w)):
            refresh()
            time.sleep(POLL_S)
        refresh()
    bar.close()
    distributed.barrier()
