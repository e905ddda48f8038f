"""Side-by-side markdown comparison of runs, columns in the paper's defense order."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from shiftdc.errors import InputError
from shiftdc.eval._format import md_table, num, pct

# Defense name -> column label, in the order the paper's tables use.
DEFENSE_LABELS: dict[str, str] = {
    "none": "Direct",
    "ecso": "ECSO",
    "adashield": "AdaShield-S",
    "reminder": "Reminder",
    "shiftdc": "ShiftDC",
    "shiftdc-sequential": "ShiftDC (seq.)",
}


def defense_label(defense: str) -> str:
    """Paper-style column label for a defense name (unknown names pass through)."""
    return DEFENSE_LABELS.get(defense, defense)


def _order(summaries: Sequence[dict[str, Any]]) -> list[int]:
    """Indices sorted by paper defense order; unknown defenses after, in their given order."""
    rank = {d: i for i, d in enumerate(DEFENSE_LABELS)}
    return sorted(
        range(len(summaries)),
        key=lambda i: (rank.get(summaries[i].get("defense"), len(rank)), i),
    )


def _labels(summaries: Sequence[dict[str, Any]]) -> list[str]:
    """Column labels; repeated defenses are told apart by meta["model"] or a run number."""
    base = [defense_label(str(s.get("defense"))) for s in summaries]
    out = []
    for i, (label, s) in enumerate(zip(base, summaries, strict=True)):
        if base.count(label) > 1:
            model = (s.get("meta") or {}).get("model")
            label = f"{label} [{model}]" if model else f"{label} #{base[: i + 1].count(label)}"
        out.append(label)
    return out


def _check_judges(labels: list[str], summaries: Sequence[dict[str, Any]], allow: bool) -> str:
    """Return a warning line when runs used different judges (raise unless allowed)."""
    judges = [str(s.get("judge")) for s in summaries]
    if len(set(judges)) <= 1:
        return ""
    which = "; ".join(f"{lab}: {j}" for lab, j in zip(labels, judges, strict=True))
    message = f"runs used different judges ({which}); their ASRs are not comparable"
    if not allow:
        raise InputError(
            f"{message}. Re-score the records with one judge, or pass allow_mixed_judges=True."
        )
    warnings.warn(message, stacklevel=3)
    return f"**Warning:** {message}."


SMALL_MARK = "†"


def _group_row(group: str, cells: Sequence[dict[str, Any]]) -> list[str]:
    """One group's ASR row: n in the label when all runs agree, else in each cell;
    small-n groups marked."""
    ns = {c.get("n") for c in cells if c}
    shared = len(ns) == 1
    out = [f"ASR: {group}" + (f" (n={next(iter(ns))})" if shared else "")]
    for c in cells:
        value = pct(c.get("asr")) + (SMALL_MARK if c.get("small_n") else "")
        out.append(value if shared or not c else f"{value} (n={c.get('n')})")
    return out


def compare_table(
    summaries: Sequence[dict[str, Any]],
    *,
    by: Literal["attack", "scenario"] = "attack",
    labels: Sequence[str] | None = None,
    allow_mixed_judges: bool = False,
) -> str:
    """Markdown table, runs as columns in paper order, values in % with one decimal.

    Rows: ASR per attack type (or scenario), overall ASR, over-refusal, utility, MME, n.
    Runs judged by different judges raise unless `allow_mixed_judges` (then a warning line).
    """
    if not summaries:
        raise InputError("compare_table needs at least one summary")
    if labels is not None and len(labels) != len(summaries):
        raise InputError(f"got {len(labels)} labels for {len(summaries)} summaries")
    order = _order(summaries)
    runs = [summaries[i] for i in order]
    cols = [labels[i] for i in order] if labels is not None else _labels(runs)
    warning = _check_judges(cols, runs, allow_mixed_judges)

    key = f"by_{by}"
    groups: list[str] = []
    for s in runs:
        groups += [g for g in s.get(key) or {} if g not in groups]
    rows = [_group_row(g, [(s.get(key) or {}).get(g) or {} for s in runs]) for g in groups]
    rows.append(["ASR: overall"] + [pct(s.get("asr")) for s in runs])
    rows.append(["Over-refusal"] + [pct(s.get("over_refusal")) for s in runs])
    rows.append(["Utility (yes/no acc.)"] + [pct(s.get("utility")) for s in runs])
    if any(s.get("mme") for s in runs):
        rows.append(["MME score"] + [num((s.get("mme") or {}).get("total")) for s in runs])
    rows.append(["n (harmful)"] + [str(s.get("n", 0)) for s in runs])
    rows.append(["n (benign)"] + [str(s.get("over_refusal_n", 0)) for s in runs])
    rows.append(["n (utility)"] + [str(s.get("utility_n", 0)) for s in runs])

    judges = sorted({str(s.get("judge")) for s in runs})
    threshold = next((s["small_n_threshold"] for s in runs if "small_n_threshold" in s), None)
    caption = (
        f"Judge: {', '.join(judges)}. Values in % (one decimal) except MME score and n; "
        "ASR = attack success rate on harmful items, lower is safer."
        + (f" {SMALL_MARK} marks groups with n < {threshold}." if threshold else "")
    )
    table = md_table([by.capitalize() + " / metric", *cols], rows)
    return "\n\n".join(p for p in (warning, table, caption) if p) + "\n"


def compare_runs(run_dirs: list[Path], out: Path | None = None, by: str = "attack") -> str:
    """Side-by-side markdown table of runs' summaries; written to `out` when given."""
    summaries = []
    for d in run_dirs:
        path = Path(d) / "summary.json"
        if not path.is_file():
            raise InputError(f"{d} has no summary.json; is it a finished `shiftdc evaluate` run?")
        summaries.append(json.loads(path.read_text(encoding="utf-8")))
    table = compare_table(summaries, by=by)  # type: ignore[arg-type]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table, encoding="utf-8")
    return table
