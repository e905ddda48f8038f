"""Re-judging a finished evaluation run without regenerating its responses (`shiftdc rescore`).

The rescore is a run of its own, `RUN/rescore-<judge>/`, with records, config.json and a
report like `evaluate`'s; it resumes like one and runs data-parallel under torchrun.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shiftdc.eval.judges import get_judge, judge_records
from shiftdc.eval.runs import CONFIG, SUMMARY_ONLY, finish, read_records, saved_config
from shiftdc.parallel import distributed
from shiftdc.parallel.evaluation import evaluate_parallel, run_files
from shiftdc.records.files import check_run_dir

RESCORE_PINS = ("judge", "judge_options", "rescored_from")
"""A rescore's settings that decide its verdicts: a rerun with others starts over."""


@dataclass(frozen=True)
class _Source:
    """One record of the run being rescored, under its id (an item of the rescore)."""

    id: str
    record: dict[str, Any]


def _same_source(rec: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> bool:
    """Whether a rescored record still belongs to the run's record of its id."""
    src = by_id.get(str(rec["id"]))
    fields = ("key", "run", "response", "error")
    return src is not None and all(rec.get(f) == src.get(f) for f in fields)


def rescore(
    run_dir: str | Path,
    judge: str,
    judge_options: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    counting: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Re-judge a run's responses (no regeneration) into `run_dir/rescore-<judge>/`.

    The judge is given the same text as in `evaluate` (its `context`: a record's request or
    prompt). `counting` overrides SUMMARY_ONLY settings (e.g. unparsed_verdicts).
    Records are appended as they are judged, so the same command resumes a killed rescore
    (records whose source record changed are judged again; other judge settings start
    over). Under torchrun each rank judges a share with its own judge (see parallel/evaluation.py).
    """
    src = Path(run_dir)
    recs = read_records(src)
    dest = Path(out_dir) if out_dir else src / f"rescore-{judge}"
    saved = check_run_dir(dest, "rescore")
    j = get_judge(judge, **(judge_options or {}))
    if hasattr(j, "progress"):
        j.progress = False  # the job's bar counts the records instead
    cfg = saved_config(src)
    cfg.update(
        judge=judge, judge_options=judge_options or {}, rescored_from=str(src), command="rescore"
    )
    cfg.update({k: v for k, v in (counting or {}).items() if k in SUMMARY_ONLY and v})
    cfg = json.loads(json.dumps(cfg, default=str))
    files = run_files(dest)
    by_id = {str(r["id"]): r for r in recs}
    distributed.barrier()  # every rank has read the destination before rank 0 prunes it
    if distributed.is_main():
        if saved is not None and all(saved.get(k) == cfg.get(k) for k in RESCORE_PINS):
            files.keep(lambda r: _same_source(r, by_id) and not r.get("error"))
        else:
            files.merged.unlink(missing_ok=True)
            files.remove()
        dest.mkdir(parents=True, exist_ok=True)
        (dest / CONFIG).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    distributed.barrier()

    def run_batch(chunk: list[_Source]) -> list[dict[str, Any]]:
        rescored = judge_records(j, [s.record for s in chunk])
        for r in rescored:
            if r.get("verdict") is not None:
                r["judge"] = j.name
        return rescored

    defense = cfg.get("defense") or (recs[0].get("defense") if recs else "unknown")
    notes = [f"Re-scored from {src} with the {j.name} judge; responses were not regenerated."]
    return evaluate_parallel(
        [_Source(str(r["id"]), r) for r in recs],
        dest,
        run_batch,
        j,
        int(getattr(j, "batch_size", 64)),
        f"rescore {j.name}",
        progress,
        lambda rescored: finish(dest, judge, defense, notes, judge_name=j.name, records=rescored),
    )
