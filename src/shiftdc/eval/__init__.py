"""Evaluation: judges, metrics, reports and defense prompt texts."""

from shiftdc.eval.compare import compare_table, defense_label
from shiftdc.eval.judges import JUDGES, Judge, Verdict, get_judge, judge_records
from shiftdc.eval.metrics import summarize
from shiftdc.eval.report import write_report

__all__ = [
    "JUDGES",
    "Judge",
    "Verdict",
    "compare_table",
    "defense_label",
    "get_judge",
    "judge_records",
    "summarize",
    "write_report",
]
