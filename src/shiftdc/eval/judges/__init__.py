"""Judges behind one interface, and the registry that names them.

Add a judge: write a `Judge` subclass (set `name`, implement `_judge`) and add one line to
`JUDGES`. Every judge sees only prompt and response text, so records re-score offline.

Modules:
  judge.py      the judge interface: prompt + response in, one Verdict out
  keyword.py    the refusal-keyword judge the paper reports its ASRs with
  llm.py        the LLM judge: a local Hugging Face chat model asked for a verdict
  templates.py  the LLM judge's prompt templates and their answer parsers
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shiftdc.eval.judges.judge import Judge, Verdict, judge_records
from shiftdc.eval.judges.keyword import REFUSAL_PHRASES, KeywordJudge, find_refusal_phrases
from shiftdc.eval.judges.llm import LLMJudge
from shiftdc.eval.judges.templates import TEMPLATES
from shiftdc.registry import lookup

JUDGES: dict[str, Callable[..., Judge]] = {
    "keyword": KeywordJudge,
    "llm": LLMJudge,
}


def get_judge(name: str, **options: Any) -> Judge:
    """Build the judge registered as `name` with its options (e.g. model=..., template=...)."""
    return lookup(JUDGES, name, "judge")(**options)


__all__ = [
    "JUDGES",
    "REFUSAL_PHRASES",
    "TEMPLATES",
    "Judge",
    "KeywordJudge",
    "LLMJudge",
    "Verdict",
    "find_refusal_phrases",
    "get_judge",
    "judge_records",
]
