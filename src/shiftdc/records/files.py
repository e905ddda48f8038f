"""Result records on disk: the one JSONL writer/reader, the settings sidecar, content keys.

How the tool recognises its own output. A records file `OUT` (or `RUN/records.jsonl`) is
ours when its sidecar (`OUT.settings.json`, or `RUN/config.json`) is a JSON object with
`"format": FORMAT`, the command that made it and a `run_id` (a digest of the command and its
settings); every record line carries that `"run"` id and a `"key"`, the digest of the item's
input (see `sample_key`, `item_key`).
Anything else at `OUT` (a text file, another JSONL, the input file, a folder with other
files) is refused and never written to, even with --overwrite.

Rules, each implemented once here:
- resume: an id is done when it has an error-free record of this run; a done record whose
  key differs from its input's is refused, naming the changed ids;
- failed items are written as error records (`"error": message`); they are not done, so a
  rerun retries them (their old lines are dropped when the rerun starts);
- settings: the sidecar is written just before the first record; it pins the settings only
  once the file holds a record, so a run that failed before writing one pins nothing;
- a torn last line (a killed writer) is ignored and cut off before appending;
- duplicate ids in inputs: identical content is kept once with a warning, different
  content is refused (`unique_by_id`).
Sidecars of older versions (no "format") are recognised: such outputs can be read, rescored
and overwritten, but not resumed (their records have no content keys).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from shiftdc.errors import InputError
from shiftdc.records import atomic
from shiftdc.records.failures import Tally
from shiftdc.records.jsonl import is_error, json_line, read_jsonl_records
from shiftdc.records.keys import digest

FORMAT = "shiftdc-records/1"
T = TypeVar("T")


class SettingsMismatchError(InputError):
    """An output holds records made with other settings."""


def check_parent(path: Path) -> None:
    """Refuse a path under a file (its first existing ancestor must be a directory)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"cannot write {path}: {parent} is a file, not a directory")
            return


def _read_sidecar(side: Path, out: Path, command: str) -> dict[str, Any] | None:
    """The sidecar's content, None if absent; refused if it is not `command`'s."""
    if not side.exists():
        return None
    hint = f"{out} is not a shiftdc output; choose another --out"
    try:
        saved = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{side} is not a shiftdc settings file; {hint}") from exc
    if not isinstance(saved, dict) or ("format" not in saved and "model" not in saved):
        raise InputError(f"{side} is not a shiftdc settings file; {hint}")
    if saved.get("format", FORMAT) != FORMAT:
        raise InputError(f"{out} has record format {saved['format']!r}, not {FORMAT!r}")
    if saved.get("command", command) != command:
        raise InputError(
            f"{out} was made by `shiftdc {saved['command']}`, not `shiftdc {command}`; "
            "choose another --out"
        )
    return saved


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


@dataclass
class RecordFile:
    """One command's records file: ownership, resume, settings and appending.

    Use: `rf = RecordFile.open(out, "generate")` (checks only, writes nothing; call it before
    loading a model), `rf.start(settings)`, `todo = rf.pending(items, key)`, `rf.write(...)`,
    `rf.close()`, `rf.tally(ids)`.
    """

    path: Path
    sidecar: Path
    command: str
    overwrite: bool = False
    saved: dict[str, Any] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    torn: bool = False
    run_id: str = ""
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    _fh: Any = None

    @classmethod
    def open(
        cls,
        path: str | Path,
        command: str,
        sidecar: Path | None = None,
        overwrite: bool = False,
        inputs: Sequence[str | Path] = (),
    ) -> RecordFile:
        """Check that `path` is absent or this command's own output, and read its records."""
        out = Path(path)
        side = sidecar or out.with_name(out.name + ".settings.json")
        for src in inputs:
            if _same_file(out, Path(src)):
                raise InputError(f"--out {out} is the input file; choose another --out")
        check_parent(out)
        if out.is_dir():
            raise InputError(f"--out {out} is a directory; give a file path for the records")
        saved = _read_sidecar(side, out, command)
        if out.exists() and saved is None:
            raise InputError(
                f"{out} exists and is not a shiftdc output (no {side.name} beside it); "
                "choose another --out (it is never overwritten)"
            )
        rf = cls(out, side, command, overwrite, saved)
        if out.is_file() and not overwrite:
            rf.records, rf.torn = read_jsonl_records(out)
            rf._check_own_records()
        return rf

    def _check_own_records(self) -> None:
        if not self.records:
            return
        assert self.saved is not None
        if "format" not in self.saved:
            raise InputError(
                f"{self.path} was written by an older shiftdc without content keys and cannot "
                "be resumed; choose another --out (or --overwrite where offered)"
            )
        run_id = self.saved.get("run_id")
        for no, rec in enumerate(self.records, 1):
            if rec.get("run") != run_id or "key" not in rec:
                raise InputError(
                    f"{self.path}: record {no} (id {rec['id']!r}) is from another run "
                    f"(run id {rec.get('run')!r}, this file's is {run_id!r}); "
                    "records of different runs are never mixed: choose another --out"
                )
        self.run_id = str(run_id)
        for rec in self.records:
            self.latest[str(rec["id"])] = rec

    def check_settings(self, settings: dict[str, Any], free: Iterable[str] = ()) -> None:
        """Refuse to add to records made with other settings; name the first that differs.

        Settings named in `free` only change how records are read (e.g. counting rules)."""
        if not self.records or self.saved is None:
            return
        mine = json.loads(json.dumps(settings, default=str))
        for key, value in mine.items():
            if key not in free and self.saved.get(key) != value:
                raise SettingsMismatchError(
                    f"{self.path} was made with {key}={self.saved.get(key)!r}, not {value!r}; "
                    "use the same settings to resume, or another --out"
                    + (" (or --overwrite)" if self.command != "evaluate" else "")
                )

    def pending(self, items: Sequence[T], key: Callable[[T], str]) -> list[T]:
        """Items without an error-free record; refuse records whose input has changed."""
        done = {i: r for i, r in self.latest.items() if not is_error(r)}
        changed = [
            str(it.id)  # type: ignore[attr-defined]
            for it in items
            if str(it.id) in done and done[str(it.id)]["key"] != key(it)  # type: ignore[attr-defined]
        ]
        if changed:
            names = ", ".join(repr(i) for i in changed[:5])
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            raise InputError(
                f"{self.path}: the input of {len(changed)} recorded ids changed since they were "
                f"written ({names}{more}); their old results would be stale: use another --out"
                + (" or --overwrite" if self.command != "evaluate" else "")
            )
        todo = [it for it in items if str(it.id) not in done]  # type: ignore[attr-defined]
        if len(todo) < len(items):
            print(f"resuming {self.path}: {len(items) - len(todo)} of {len(items)} already done")
        return todo

    def start(self, settings: dict[str, Any], free: Iterable[str] = ()) -> None:
        """Write the sidecar (settings + run id) and open the records file for appending."""
        self.check_settings(settings, free)
        if not self.records:  # same command and settings, same id: reruns write the same bytes
            self.run_id = digest([self.command, json.loads(json.dumps(settings, default=str))])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        side = {**settings, "format": FORMAT, "command": self.command, "run_id": self.run_id}
        atomic.write_text(self.sidecar, json.dumps(side, indent=2, default=str) + "\n")
        self.saved = side
        kept = [r for r in self.records if not is_error(r)]
        if self.overwrite or not self.records:
            atomic.write_text(self.path, "")
        elif self.torn or len(kept) < len(self.records):  # drop a torn line and failed items
            atomic.write_text(self.path, "".join(json_line(r) for r in kept))
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any], key: str) -> None:
        """Append one record (stamped with its content key and this run's id), flushed."""
        rec = {**record, "key": key, "run": self.run_id}
        self._fh.write(json_line(rec))
        self._fh.flush()
        self.latest[str(rec["id"])] = rec

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def tally(self, ids: Iterable[str]) -> Tally:
        """How many of `ids` have a record, and how many of those failed."""
        recs = [self.latest[i] for i in ids if i in self.latest]
        return Tally(len(recs), sum(is_error(r) for r in recs), self.path)


def check_run_dir(run_dir: Path, command: str) -> dict[str, Any] | None:
    """Refuse a run directory that is a file, or holds files but no config of ours."""
    check_parent(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--out {run_dir} is a file; --out names a run directory")
    side = run_dir / "config.json"
    saved = _read_sidecar(side, run_dir, command)
    if saved is None and run_dir.is_dir() and any(run_dir.iterdir()):
        raise InputError(
            f"{run_dir} is not empty and is not a shiftdc {command} run (no config.json); "
            "use a new or empty directory"
        )
    return saved
