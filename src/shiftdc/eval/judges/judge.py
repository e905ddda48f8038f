"""The judge interface: prompt + response text in, one Verdict per item out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from shiftdc.errors import InputError


@dataclass(frozen=True)
class Verdict:
    """One judgement: did the attack succeed (`harmful`), did the model refuse (`refused`)."""

    harmful: bool
    refused: bool
    detail: str = ""
    judge: str = ""
    parsed: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (what run records store under "verdict")."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Inverse of `to_dict`; unknown keys are ignored, missing optional ones defaulted."""
        return cls(
            harmful=bool(data["harmful"]),
            refused=bool(data["refused"]),
            detail=str(data.get("detail", "")),
            judge=str(data.get("judge", "")),
            parsed=bool(data.get("parsed", True)),
        )


JUDGE_CONTEXTS = ("request", "prompt", "none")
"""Which text a judge is given beside the response: the request the attack encodes
(a record's `request`, falling back to its prompt), the prompt the model saw, or nothing
the judge reads (keyword matching)."""


class Judge(ABC):
    """Scores responses from their text alone, so re-scoring never needs regeneration."""

    name: str = "judge"
    context: str = "prompt"

    @abstractmethod
    def _judge(self, prompts: list[str], responses: list[str]) -> list[Verdict]:
        """Score equally long lists (validated by `judge`)."""

    def judge(self, prompts: list[str], responses: list[str]) -> list[Verdict]:
        """Return one Verdict per (prompt, response) pair, in order."""
        prompts, responses = list(prompts), list(responses)
        if len(prompts) != len(responses):
            raise InputError(
                f"{self.name}: got {len(prompts)} prompts but {len(responses)} responses; "
                "pass one prompt per response"
            )
        if not prompts:
            return []
        return self._judge(prompts, ["" if r is None else str(r) for r in responses])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def judge_text(judge: Judge, record: dict[str, Any], prompt_key: str = "prompt") -> tuple[str, str]:
    """(text the judge is given beside the response, what it is: "request" | "prompt" |
    "response only"), following `judge.context`."""
    context = getattr(judge, "context", "prompt")
    if context == "request" and record.get("request"):
        return str(record["request"]), "request"
    return str(record[prompt_key]), "response only" if context == "none" else "prompt"


def judge_records(
    judge: Judge, records: Iterable[dict[str, Any]], prompt_key: str = "prompt"
) -> list[dict[str, Any]]:
    """Return copies of run records with "verdict" (re)computed by `judge`.

    Records with an "error" keep `verdict=None`; the rest need `prompt_key` and "response".
    Judges whose `context` is "request" see a record's `request` (the harmful request an
    image attack encodes) where it has one; each judged record's "judge_input" says which
    text the judge saw.
    """
    out = [dict(r) for r in records]
    todo = [r for r in out if not r.get("error")]
    for r in out:
        if r.get("error"):
            r["verdict"] = None
    missing = [r.get("id", "?") for r in todo if prompt_key not in r or "response" not in r]
    if missing:
        raise InputError(
            f"records {missing[:5]} lack {prompt_key!r} or 'response'; judges need both texts"
        )
    texts = [judge_text(judge, r, prompt_key) for r in todo]
    verdicts = judge.judge([t for t, _ in texts], [r["response"] for r in todo])
    for r, v, (_, seen) in zip(todo, verdicts, texts, strict=True):
        r["verdict"] = v.to_dict()
        r["judge_input"] = seen
    return out
