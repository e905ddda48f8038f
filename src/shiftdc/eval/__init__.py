"""Evaluation: judges, metrics, reports and defense prompt texts.

Modules:
  _format.py   small formatting helpers of reports and comparison tables
  charts.py    bar charts of grouped ASR with CI error bars (PNG + JSON)
  compare.py   side-by-side comparison of runs, in the paper's defense order
  defenses.py  DEFENSES: each turns a batch of samples into responses
  judges/      JUDGES: keyword and LLM judges behind one interface
  metrics.py   metrics over run records: ASR, over-refusal, yes/no utility, MME score
  parsing.py   text normalisation and parsing of short yes/no and safe/unsafe answers
  prompts.py   defense prompt texts that need no model
  report.py    run reports: report.md and a self-contained report.html
  rescore.py   `shiftdc rescore`: re-judge a run's responses into a run of its own
  runs.py      resumable evaluation runs: evaluate, records, summary and report
"""

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
