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

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shiftdc.errors import FailedItemsError, InputError, ShiftDCError
from shiftdc.records import atomic

if TYPE_CHECKING:
    from PIL import Image

    from shiftdc.data.item import EvalItem
    from shiftdc.method.sample import Sample

FORMAT = "shiftdc-records/1"
T = TypeVar("T")
ITEM_FAILURES = (ShiftDCError, ValueError)
"""Exceptions that fail one item (bad image, rejected input), recorded as error records."""


class SettingsMismatchError(InputError):
    """An output holds records made with other settings."""


class DuplicateIdWarning(UserWarning):
    """An input repeats an id with identical content; the repeat is dropped."""


# -- content keys ------------------------------------------------------------------------


def digest(value: Any) -> str:
    """Short stable digest of a JSON-able value."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pixels_digest(image: Image.Image | None) -> str | None:
    """Digest of the picture the model gets (mode, size, pixel bytes)."""
    if image is None:
        return None
    h = hashlib.sha256(f"{image.mode}:{image.size}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    """Digest of a file's bytes ('missing' or 'unreadable' when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()[:16]
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"


def sample_key(sample: Sample) -> str:
    """Content key of a JSONL request: prompt, caption and the image's pixels."""
    return digest([sample.prompt, sample.caption, pixels_digest(sample.image)])


def item_key(item: EvalItem) -> str:
    """Content key of a benchmark item: request/attack fields and its image file's bytes."""
    image = item.image
    if image is None:
        picture = None
    elif isinstance(image, Path):
        picture = file_digest(image)
    else:
        picture = "<generated>"  # rendered from the fields below
    return digest(
        [
            item.prompt,
            item.request,
            item.attack,
            item.scenario,
            item.kind,
            item.answer,
            item.caption,
            picture,
            dict(item.meta),
        ]
    )


def unique_by_id(items: Iterable[T], key: Callable[[T], str], where: str) -> list[T]:
    """Items with repeated ids dropped (warning naming them) if identical, else refused."""
    first: dict[str, T] = {}
    out, repeated = [], []
    for item in items:
        iid = str(item.id)  # type: ignore[attr-defined]
        if iid not in first:
            first[iid] = item
            out.append(item)
        elif key(item) == key(first[iid]):
            repeated.append(iid)
        else:
            raise InputError(
                f"{where}: id {iid!r} appears twice with different content; "
                "give each request its own id"
            )
    if repeated:
        names = ", ".join(repr(i) for i in sorted(set(repeated))[:5])
        more = f" and {len(set(repeated)) - 5} more" if len(set(repeated)) > 5 else ""
        warnings.warn(
            f"{where}: {len(repeated)} repeated ids with identical content kept once: "
            f"{names}{more}",
            DuplicateIdWarning,
            stacklevel=2,
        )
    return out


# -- reading -----------------------------------------------------------------------------


def read_jsonl_records(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """(records, torn) of a JSONL records file; a torn last line is ignored, others refused."""
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise InputError(f"{path} is a directory, not a records file") from exc
    lines = data.split(b"\n")
    torn = bool(lines[-1])  # no newline after the last line: a killed writer
    records: list[dict[str, Any]] = []
    for no, raw in enumerate(lines[:-1], 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"{path}:{no}: not a shiftdc record ({exc.__class__.__name__}); "
                "the file was changed by something else"
            ) from exc
        if not isinstance(rec, dict) or "id" not in rec:
            raise InputError(f"{path}:{no}: not a shiftdc record (no 'id')")
        records.append(rec)
    return records, torn


def is_error(record: dict[str, Any]) -> bool:
    """Whether a record stands for a failed item (retried on the next run)."""
    return bool(record.get("error"))


# -- output paths ------------------------------------------------------------------------


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
        _atomic_write(self.sidecar, json.dumps(side, indent=2, default=str) + "\n")
        self.saved = side
        kept = [r for r in self.records if not is_error(r)]
        if self.overwrite or not self.records:
            _atomic_write(self.path, "")
        elif self.torn or len(kept) < len(self.records):  # drop a torn line and failed items
            _atomic_write(self.path, "".join(_line(r) for r in kept))
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any], key: str) -> None:
        """Append one record (stamped with its content key and this run's id), flushed."""
        rec = {**record, "key": key, "run": self.run_id}
        self._fh.write(_line(rec))
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


@dataclass(frozen=True)
class Tally:
    """Items recorded and items failed in one output."""

    recorded: int
    failed: int
    where: Path

    def check(self, max_failed: float) -> None:
        """Raise FailedItemsError (exit 3) when more than `max_failed` of the items failed."""
        check_failed(self.failed, self.recorded, max_failed, self.where)


def check_failed(failed: int, total: int, max_failed: float, where: Path) -> None:
    """Raise FailedItemsError when failed/total exceeds the `max_failed` fraction."""
    if failed and failed > max_failed * total:
        raise FailedItemsError(
            f"{failed} of {total} items failed (more than --max-failed {max_failed:g}); "
            f"their errors are in {where}; fix them and rerun the same command to retry them"
        )


def valid_fraction(value: float, flag: str = "--max-failed") -> float:
    """A fraction in [0, 1], or InputError naming the flag."""
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise InputError(f"{flag} must be a fraction between 0 and 1, got {value}")
    return value


def outcomes(fn: Callable[[list[T]], list[dict[str, Any]]], chunk: list[T]) -> list[dict[str, Any]]:
    """fn(chunk); if an item fails, rerun one by one and give failed items {"error": msg}."""
    try:
        return fn(chunk)
    except ITEM_FAILURES as exc:
        if len(chunk) == 1:
            return [{"error": f"{exc.__class__.__name__}: {exc}"}]
    out = []
    for item in chunk:
        out.extend(outcomes(fn, [item]))
    return out


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


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    atomic.write_text(path, text)


def write_records(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace `path` with these records, atomically (for derived files such as rescores)."""
    _atomic_write(path, "".join(_line(r) for r in records))
