"""The tuning table (rates with bootstrap CIs), the Pareto plot and the recommendation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shiftdc.eval.metrics import bootstrap_ci, rate
from shiftdc.records import atomic
from shiftdc.records.jsonl import is_error, read_jsonl_records

if TYPE_CHECKING:
    from shiftdc.tuning.grid import GridPoint
    from shiftdc.tuning.recommend import Choice


def _read(path: Path) -> list[dict[str, Any]]:
    """The answered records of one records file (a torn last line and failed items skipped)."""
    if not path.is_file():
        return []
    return [r for r in read_jsonl_records(path)[0] if not is_error(r)]


def _measure(flags: list[bool]) -> tuple[float | None, list[float] | None, int]:
    ci = bootstrap_ci(flags)
    return rate(flags), (list(ci) if ci else None), len(flags)


def row(name: str, records: Sequence[dict[str, Any]], point: GridPoint | None) -> dict[str, Any]:
    """One table row: harmful refusal, benign over-refusal, utility, degenerate; n and CIs."""
    by_kind: dict[str, list[dict[str, Any]]] = {"harmful": [], "benign": [], "utility": []}
    for r in records:
        by_kind[r["kind"]].append(r)
    out: dict[str, Any] = {"config": name}
    out.update(point.settings() if point else {"mode": None, "layers": None, "alpha": 0.0})
    for key, kind, flag in (
        ("harmful_refusal", "harmful", "refused"),
        ("benign_refusal", "benign", "refused"),
        ("utility", "utility", "correct"),
    ):
        value, ci, n = _measure([bool(r[flag]) for r in by_kind[kind]])
        out.update({key: value, f"{key}_ci": ci, f"n_{kind}": n})
    value, ci, n = _measure([bool(r["degenerate"]) for r in records])
    out.update(degenerate=value, degenerate_ci=ci, n=n)
    out["by_form"] = by_form(records)
    return out


def by_form(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, list[int]]]:
    """{form: {kind: [refused, n]}} of harmful and benign records that name their image form
    (`form`); {} where none does."""
    out: dict[str, dict[str, list[int]]] = {}
    for r in records:
        if r.get("form") is None or r["kind"] not in ("harmful", "benign"):
            continue
        cell = out.setdefault(r["form"], {}).setdefault(r["kind"], [0, 0])
        cell[0] += bool(r["refused"])
        cell[1] += 1
    return out


def form_markdown(rows: Sequence[dict[str, Any]], chosen: str | None) -> str:
    """Refused / n per image form and kind, one row per configuration; "" unless the tuning
    set mixes two or more forms (then a rule met on the mix can hide a form it fails)."""
    forms = sorted({f for r in rows for f in r.get("by_form") or {}})
    if len(forms) < 2:
        return ""
    cols = [(f, k) for f in forms for k in ("harmful", "benign")]
    head = "| configuration | " + " | ".join(f"{f} {k}" for f, k in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        name = f"**{r['config']}**" if r["config"] == chosen else r["config"]
        cells = []
        for f, k in cols:
            got, n = (r.get("by_form") or {}).get(f, {}).get(k, [0, 0])
            cells.append(f"{got}/{n}" if n else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "Refused / n by image form:\n\n" + "\n".join(lines) + "\n"


def rows_from_records(
    rec_dir: Path, grid: Sequence[GridPoint], baselines: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows of the baselines, then of every grid point, from records/<name>.jsonl."""
    named: list[tuple[str, GridPoint | None]] = [(b, None) for b in baselines]
    named += [(p.label, p) for p in grid]
    return [row(n, _read(rec_dir / f"{n}.jsonl"), p) for n, p in named]


def _pct(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "n/a"
    tail = f" [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]" if ci else ""
    return f"{100 * value:.1f}%{tail}"


def markdown(rows: Sequence[dict[str, Any]], chosen: str | None) -> str:
    """The table: one row per configuration, rates with 95% bootstrap CIs and n."""
    head = (
        "| configuration | harmful refused | benign over-refused | yes/no utility | "
        "degenerate | n (harmful/benign/yes-no) |\n|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        name = f"**{r['config']}** (recommended)" if r["config"] == chosen else r["config"]
        lines.append(
            f"| {name} | {_pct(r['harmful_refusal'], r['harmful_refusal_ci'])} | "
            f"{_pct(r['benign_refusal'], r['benign_refusal_ci'])} | "
            f"{_pct(r['utility'], r['utility_ci'])} | "
            f"{_pct(r['degenerate'], r['degenerate_ci'])} | "
            f"{r['n_harmful']}/{r['n_benign']}/{r['n_utility']} |"
        )
    return "\n".join(lines)


def write_outputs(
    out: Path,
    rows: list[dict[str, Any]],
    grid: Sequence[GridPoint],
    choice: Choice,
    rec: dict[str, Any] | None,
    note: str,
    config: dict[str, Any],
) -> dict[str, Any]:
    """table.json, table.md, pareto.png and recommendation.json in `out`."""
    from shiftdc.tuning.pareto import pareto_plot

    chosen = choice.row["config"] if choice.row else None
    table = {
        "rows": rows,
        "recommended": chosen,
        "rule": choice.rule,
        "reason": choice.reason,
        "recommendation": rec,
        "direction": note,
        "config": config,
        "ci": "95% percentile bootstrap (1000 resamples, seed 0)",
    }
    atomic.write_text(out / "table.json", json.dumps(table, indent=2))
    pareto_plot(rows, chosen, out / "pareto.png", config.get("benign_margin", 0.05))
    utility_note = (
        "" if any(r["n_utility"] for r in rows) else "\nYes/no utility was skipped (--utility 0)."
    )
    text = (
        "# ShiftDC tuning\n\n"
        f"{note}. Refusal by the keyword judge; 'degenerate' = repetitive answers "
        "(`shiftdc.tuning.degenerate`). `direct`: no calibration; `counterpart`: the text-only "
        'request "{query} Image Caption: {caption}" (ShiftDC\'s target).\n\n'
        f"{markdown(rows, chosen)}\n{utility_note}\n\n"
        f"{form_markdown(rows, chosen)}\n"
        f"**Rule:** {choice.rule}.\n\n**Recommended:** {chosen or 'none'} ({choice.reason}).\n\n"
        "![Pareto plot](pareto.png)\n"
    )
    atomic.write_text(out / "table.md", text)
    atomic.write_text(out / "recommendation.json", json.dumps(rec, indent=2))
    return table
