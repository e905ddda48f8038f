"""Reports on disk and the side-by-side comparison table."""

import json

import pytest

from shiftdc.eval.metrics import summarize
from shiftdc.eval.report import compare_table, defense_label, write_report


def test_write_report_files_and_content(records, tmp_path):
    summary = summarize(records, "keyword", "shiftdc", n_boot=100, meta={"model": "tiny-llava"})
    notes = ["Direction set (LLaVA-Instruct + MM-SafetyBench train split) is disjoint from test."]
    paths = write_report(summary, tmp_path / "run", notes=notes)
    out = tmp_path / "run"
    for name in [
        "report.md",
        "report.html",
        "summary.json",
        "asr_by_scenario.png",
        "asr_by_scenario.json",
        "asr_by_attack.png",
        "asr_by_attack.json",
    ]:
        assert (out / name).is_file(), name
    assert paths["md"] == out / "report.md"
    assert (out / "asr_by_attack.png").read_bytes()[:4] == b"\x89PNG"

    md = (out / "report.md").read_text()
    assert "**Judge:** `keyword`" in md and "**Defense:** ShiftDC (shiftdc)" in md
    assert md.index("Judge") < md.index("## Summary")
    assert "| ASR | 40.0 |" in md and "![ASR by scenario](asr_by_scenario.png)" in md
    assert notes[0] in md and "tiny-llava" in md and "excluded with errors: 2" in md

    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert '<img src="asr_by_attack.png"' in page and str(tmp_path) not in page
    assert "<code>keyword</code>" in page and "disjoint from test" in page

    bars = json.loads((out / "asr_by_scenario.json").read_text())
    assert bars["judge"] == "keyword" and bars["defense"] == "ShiftDC (shiftdc)"
    assert [(b["label"], b["asr_pct"], b["n"]) for b in bars["bars"]] == [
        ("A", pytest.approx(200 / 3), 3),
        ("B", 0.0, 2),
    ]
    assert json.loads((out / "summary.json").read_text())["notes"] == notes


def test_report_without_harmful_items_skips_charts(tmp_path):
    paths = write_report(summarize([], "keyword", "none"), tmp_path)
    assert set(paths) == {"md", "html", "summary"}
    assert "Defense:** Direct (none)" in paths["md"].read_text()


def _summary(defense, asr, judge="keyword", **extra):
    return {
        "judge": judge,
        "defense": defense,
        "asr": asr,
        "n": 100,
        "by_attack": {"SD_TYPO": {"asr": asr, "n": 50}, "FigStep": {"asr": asr / 2, "n": 50}},
        "over_refusal": 0.1,
        "utility": None,
        **extra,
    }


def test_compare_table_paper_order_and_values():
    runs = [
        _summary("shiftdc", 0.436),
        _summary("custom", 0.5),
        _summary("none", 0.705),
        _summary("adashield", 0.458),
        _summary("ecso", 0.488),
    ]
    table = compare_table(runs)
    header = table.splitlines()[0]
    assert header == "| Attack / metric | Direct | ECSO | AdaShield-S | ShiftDC | custom |"
    assert "| ASR: SD_TYPO (n=50) | 70.5 | 48.8 | 45.8 | 43.6 | 50.0 |" in table
    assert "| ASR: FigStep (n=50) | 35.2 | 24.4 | 22.9 | 21.8 | 25.0 |" in table
    assert "| Over-refusal | 10.0 |" in table and "| Utility (yes/no acc.) | – |" in table
    assert "Judge: keyword." in table
    assert defense_label("shiftdc-sequential") == "ShiftDC (seq.)"


def test_compare_table_duplicate_defenses_and_mme():
    runs = [
        _summary("none", 0.7, meta={"model": "a"}, mme={"total": 1863.14}),
        _summary("none", 0.6, meta={"model": "b"}),
    ]
    table = compare_table(runs)
    assert "Direct [a] | Direct [b]" in table and "| MME score | 1863.1 | – |" in table


def test_compare_table_refuses_mixed_judges_unless_allowed():
    runs = [_summary("none", 0.7), _summary("shiftdc", 0.4, judge="llm-yesno:guard")]
    with pytest.raises(ValueError, match="Direct: keyword; ShiftDC: llm-yesno:guard"):
        compare_table(runs)
    with pytest.warns(UserWarning, match="different judges"):
        table = compare_table(runs, allow_mixed_judges=True)
    assert table.startswith("**Warning:**") and "Judge: keyword, llm-yesno:guard." in table


def test_compare_table_names_each_n_and_marks_small_groups():
    small = _summary("shiftdc", 0.4, small_n_threshold=30)
    small["by_attack"] = {"SD_TYPO": {"asr": 0.5, "n": 12, "small_n": True}}
    table = compare_table([_summary("none", 0.7), small])
    assert "| ASR: SD_TYPO | 70.0 (n=50) | 50.0† (n=12) |" in table
    assert "† marks groups with n < 30." in table and "| n (benign) |" in table


def test_report_states_counting_rules_and_marks_small_n(records, tmp_path):
    for r in records[:5]:
        r["judge_input"] = "request"
    s = summarize(records, "keyword", "none", n_boot=20, unparsed_verdicts="exclude")
    md = write_report(s, tmp_path)["md"].read_text()
    assert "Unparseable judge outputs: 0 of 9 judged, left out of the ASR and its n" in md
    assert "the request the attack encodes for 5" in md
    assert "| A | 66.7 | " in md and "3 (small n) |" in md
    assert "MME's official rule" in md and "MME score (not %)" in md
    assert "perception 125.0 (n=4, 1/10 subtasks)" in md
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["small_n_threshold"] == 30 and saved["by_scenario"]["A"]["small_n"] is True


def test_no_mme_row_for_a_non_mme_run(records, tmp_path):
    for r in records:
        if r["kind"] == "utility":
            r["benchmark"] = "builtin"
    md = write_report(summarize(records, "keyword", "none", n_boot=20), tmp_path)["md"]
    text = md.read_text()
    assert "MME" not in text.replace("MME's official rule", "")
