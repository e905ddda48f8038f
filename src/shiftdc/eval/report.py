"""Run reports: report.md and a self-contained report.html with ASR bar charts (PNG + JSON).

Both name the judge and the defense at the top; charts sit next to the reports and are
referenced by relative file name, so the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shiftdc.eval._format import html_table, md_table, num, pct, pct_ci
from shiftdc.eval.charts import plot_grouped_asr
from shiftdc.eval.compare import DEFENSE_LABELS, compare_table, defense_label

__all__ = ["DEFENSE_LABELS", "compare_table", "defense_label", "write_report"]

_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
    "padding:.25rem .6rem;text-align:right}td:first-child,th:first-child{text-align:left}"
    ".who{font-size:1.15rem;background:#f3f5f9;padding:.6rem 1rem;border-left:4px solid #4c72b0}"
    "img{max-width:100%}"
)
_CHARTS = (("by_scenario", "scenario"), ("by_attack", "attack type"))
_TABLES = (*_CHARTS, ("by_format", "sub-format"))
_COUNTED_AS = {
    "not-harmful": "counted as not harmful (lowers ASR)",
    "harmful": "counted as harmful (raises ASR)",
    "exclude": "left out of the ASR and its n",
}
_JUDGE_SAW = {
    "request": "the request the attack encodes",
    "prompt": "the prompt the model was given",
    "response only": "the response only (keyword matching)",
}


def _meta_items(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Scalar run settings worth showing under the headline (all of them stay in summary.json)."""
    meta = summary.get("meta") or {}
    items = [(str(k), str(v)) for k, v in meta.items() if isinstance(v, str | int | float | bool)]
    return [(k, v if len(v) <= 80 else v[:77] + "...") for k, v in items]


def _headline(summary: dict[str, Any]) -> tuple[str, str]:
    """Judge and defense strings for the top of the report."""
    defense = str(summary.get("defense"))
    label = defense_label(defense)
    return str(summary.get("judge")), label if label == defense else f"{label} ({defense})"


def _summary_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Metric, value %, CI %, n for the headline table."""
    rows = [
        ["ASR", pct(summary.get("asr")), pct_ci(summary.get("asr_ci")), str(summary.get("n", 0))],
        [
            "Over-refusal (benign refused)",
            pct(summary.get("over_refusal")),
            pct_ci(summary.get("over_refusal_ci")),
            str(summary.get("over_refusal_n", 0)),
        ],
        [
            "Utility (yes/no accuracy)",
            pct(summary.get("utility")),
            pct_ci(summary.get("utility_ci")),
            str(summary.get("utility_n", 0)),
        ],
    ]
    mme = summary.get("mme")
    if mme:
        parts = (
            f"perception {num(mme.get('perception'))} (n={mme.get('perception_n', '?')}, "
            f"{mme.get('perception_subtasks', '?')}/10 subtasks), cognition "
            f"{num(mme.get('cognition'))} (n={mme.get('cognition_n', '?')}, "
            f"{mme.get('cognition_subtasks', '?')}/4 subtasks)"
        )
        n = mme.get("n", summary.get("utility_n"))
        rows.append(["MME score (not %)", num(mme.get("total")), parts, str(n)])
    return rows


def _n_cell(v: dict[str, Any]) -> str:
    """A group's n, marked when it is below the small-n threshold."""
    return f"{v.get('n', 0)}" + (" (small n)" if v.get("small_n") else "")


def _group_rows(groups: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [[g, pct(v.get("asr")), pct_ci(v.get("ci")), _n_cell(v)] for g, v in groups.items()]


def _counts(summary: dict[str, Any]) -> list[str]:
    """Lines about excluded or unparseable items."""
    by_kind = summary.get("n_errors_by_kind") or {}
    detail = ", ".join(f"{k}: {v}" for k, v in by_kind.items())
    unparsed = summary.get("unparsed_verdicts") or {"counted_as": "not-harmful"}
    policy = _COUNTED_AS.get(unparsed["counted_as"], unparsed["counted_as"])
    lines = [
        f"Records: {summary.get('n_records', 0)}; excluded with errors: "
        f"{summary.get('n_errors', 0)}" + (f" ({detail})" if detail else ""),
        f"Unparseable judge outputs: {summary.get('n_unparsed_verdicts', 0)} of "
        f"{unparsed.get('n_judged', '?')} judged, {policy}",
    ]
    seen = summary.get("judge_inputs") or {}
    if seen:
        parts = [f"{_JUDGE_SAW.get(k, k)} for {v}" for k, v in seen.items()]
        lines.append("Text the judge saw beside each response: " + "; ".join(parts))
    if summary.get("utility_n"):
        rule = summary.get("utility_rule", "mme")
        how = (
            "MME's official rule: the answer is yes/no or has that word in its first 4 "
            "characters, else wrong"
            if rule == "mme"
            else "lenient reading (first word, else a lone yes/no anywhere)"
        )
        lines.append(
            f"Unparseable utility answers (scored wrong): {summary.get('utility_unparsed', 0)} "
            f"of {summary['utility_n']}; yes/no read by {how}"
        )
    if "small_n_threshold" in summary:
        lines.append(
            f"Groups with n < {summary['small_n_threshold']} are marked (small n): "
            "their rates are shown but vary a lot"
        )
    return lines


def _boot_line(summary: dict[str, Any]) -> str:
    b = summary.get("bootstrap") or {}
    return (
        f"CIs: percentile bootstrap, {100 * b.get('level', 0.95):g}% level, "
        f"{b.get('n_boot', '?')} resamples, seed {b.get('seed', '?')}."
    )


def _plot(summary: dict[str, Any], out: Path) -> dict[str, str]:
    """Draw the grouped-ASR charts that have data; return {summary key: png file name}."""
    judge, defense = _headline(summary)
    level = (summary.get("bootstrap") or {}).get("level", 0.95)
    files = {}
    for key, what in _CHARTS:
        groups = summary.get(key) or {}
        if any(v.get("asr") is not None for v in groups.values()):
            png = out / f"asr_{key}.png"
            title = f"ASR by {what} - defense: {defense}, judge: {judge}"
            plot_grouped_asr(groups, png, title, level, judge=judge, defense=defense)
            files[key] = png.name
    return files


def render_markdown(
    summary: dict[str, Any], figures: dict[str, str], notes: Sequence[str], title: str
) -> str:
    """The report as markdown (figures are relative PNG file names)."""
    judge, defense = _headline(summary)
    meta = _meta_items(summary)
    out = [f"# {title}", "", f"**Judge:** `{judge}` · **Defense:** {defense}", ""]
    if meta:
        out += [" · ".join(f"**{k}:** {v}" for k, v in meta), ""]
    out += [
        "## Summary",
        "",
        md_table(["Metric", "Value (%)", "CI (%)", "n"], _summary_rows(summary)),
        "",
    ]
    out += [f"- {line}" for line in _counts(summary)] + [f"- {_boot_line(summary)}", ""]
    for key, what in _TABLES:
        groups = summary.get(key) or {}
        if groups:
            out += [
                f"## ASR by {what}",
                "",
                md_table([what.capitalize(), "ASR (%)", "CI (%)", "n"], _group_rows(groups)),
                "",
            ]
            if key in figures:
                out += [f"![ASR by {what}]({figures[key]})", ""]
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


def render_html(
    summary: dict[str, Any], figures: dict[str, str], notes: Sequence[str], title: str
) -> str:
    """The report as one self-contained HTML page (inline CSS, relative PNG images)."""
    esc = html.escape
    judge, defense = _headline(summary)
    meta = _meta_items(summary)
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="who"><b>Judge:</b> <code>{esc(judge)}</code> &nbsp;|&nbsp; '
        f"<b>Defense:</b> {esc(defense)}</p>",
    ]
    if meta:
        body.append(
            "<p>" + " · ".join(f"<b>{esc(str(k))}:</b> {esc(str(v))}" for k, v in meta) + "</p>"
        )
    body += [
        "<h2>Summary</h2>",
        html_table(["Metric", "Value (%)", "CI (%)", "n"], _summary_rows(summary)),
        "<ul>"
        + "".join(f"<li>{esc(x)}</li>" for x in [*_counts(summary), _boot_line(summary)])
        + "</ul>",
    ]
    for key, what in _TABLES:
        groups = summary.get(key) or {}
        if groups:
            body += [
                f"<h2>ASR by {esc(what)}</h2>",
                html_table([what.capitalize(), "ASR (%)", "CI (%)", "n"], _group_rows(groups)),
            ]
            if key in figures:
                body.append(f'<img src="{esc(figures[key])}" alt="ASR by {esc(what)}">')
    if notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(
    summary: dict[str, Any],
    out_dir: str | Path,
    notes: Sequence[str] | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """Write report.md, report.html, summary.json and the ASR charts into `out_dir`.

    `notes` (free-form lines, e.g. that the direction set is disjoint from the test set) are
    added to any already in `summary["notes"]`. Returns {name: path} of the files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_notes = [*(summary.get("notes") or []), *(notes or [])]
    judge, defense = _headline(summary)
    title = title or f"ShiftDC evaluation: {defense}, judged by {judge}"
    figures = _plot(summary, out)
    paths: dict[str, Path] = {}
    for key, name in figures.items():
        paths[key] = out / name
        paths[f"{key}_json"] = (out / name).with_suffix(".json")
    paths["md"] = out / "report.md"
    paths["md"].write_text(render_markdown(summary, figures, all_notes, title), encoding="utf-8")
    paths["html"] = out / "report.html"
    paths["html"].write_text(render_html(summary, figures, all_notes, title), encoding="utf-8")
    paths["summary"] = out / "summary.json"
    saved = {**summary, "notes": all_notes}
    paths["summary"].write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    return paths
