"""`caption` and `generate` under torchrun: each rank writes a share, rank 0 merges into OUT.

Each rank appends its records to `<OUT stem>.rank<k>-of-<W><OUT suffix>` beside OUT (see
`shiftdc.parallel.rank_files`: the split, resume and progress rules). Rank 0 then rewrites OUT as
a single process would have left it: the records it already held, then the new ones in
input order; and removes the rank files. Records carry the same content keys and run id,
so resume (in one process or several) follows `shiftdc.records.files` as before, and records of
rank files are checked like those of OUT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shiftdc.errors import InputError
from shiftdc.method.sample import Sample
from shiftdc.parallel import distributed
from shiftdc.parallel.rank_files import RankFiles, run_shards
from shiftdc.records.failures import Tally, run_isolating_failures
from shiftdc.records.files import RecordFile
from shiftdc.records.jsonl import is_error, read_jsonl_records, write_records
from shiftdc.records.keys import sample_key


def run_sharded(
    rf: RecordFile,
    samples: list[Sample],
    settings: dict[str, Any],
    respond: Callable[[list[Sample]], list[dict[str, Any]]],
    desc: str,
    batch_size: int,
    progress: bool,
) -> Tally:
    """`jobs._run` across ranks (or finishing a run that left rank files); every rank
    returns the tally of the merged OUT."""
    files = RankFiles(rf.path)
    distributed.barrier()  # every rank has read OUT before rank 0 rewrites it
    if distributed.is_main():
        if rf.overwrite:
            files.remove()
        rf.start(settings)
        rf.close()
    distributed.barrier()
    run_id = str((RecordFile.open(rf.path, rf.command).saved or {})["run_id"])
    for rid, rec in files.read(merged=False).items():
        if rec.get("run") != run_id or "key" not in rec:
            raise InputError(
                f"{files.file(0, 1).parent}: a rank file holds id {rid!r} from another run "
                f"(run id {rec.get('run')!r}, not {run_id!r}); choose another --out"
            )
        if rid not in rf.latest or is_error(rf.latest[rid]):
            rf.latest[rid] = rec
    rf.pending(samples, sample_key)  # refuses records whose input changed

    def run_batch(chunk: list[Sample]) -> list[dict[str, Any]]:
        return [
            {"id": s.id, **rec, "key": sample_key(s), "run": run_id}
            for s, rec in zip(chunk, run_isolating_failures(respond, chunk), strict=True)
        ]

    run_shards(samples, files, run_batch, batch_size, desc, progress)
    if distributed.is_main():
        kept = read_jsonl_records(rf.path)[0] if rf.path.is_file() else []
        held = {str(r["id"]) for r in kept}
        new = files.read(merged=False)
        order = [str(s.id) for s in samples]
        write_records(rf.path, [*kept, *(new[i] for i in order if i in new and i not in held)])
        files.remove()
    distributed.barrier()
    return RecordFile.open(rf.path, rf.command).tally([str(s.id) for s in samples])
