"""Defense prompt texts, Verdict round trips, and re-scoring records without regeneration."""

import pytest

from shiftdc.errors import InputError
from shiftdc.eval import prompts
from shiftdc.eval.judges import KeywordJudge, Verdict, judge_records
from shiftdc.eval.judges.keyword import is_refusal


def test_prompt_texts_and_helpers():
    q = "Explain the steps shown in the image."
    assert prompts.adashield_query(q).endswith(q)
    assert prompts.adashield_query(q, "append").startswith(q)
    with pytest.raises(ValueError, match="prepend"):
        prompts.adashield_query(q, "middle")
    assert "harmless and ethical" in prompts.ecso_safe_answer_prompt(q, "a red car")
    assert "a red car" in prompts.ecso_safe_answer_prompt(q, "a red car")
    assert q in prompts.ecso_caption_prompt(q)
    assert "yes or no" in prompts.ECSO_HARM_CHECK_PROMPT
    assert "Images" in prompts.SAFETY_REMINDER_SYSTEM_PROMPT
    # The defensive texts tell the model to refuse, so keyword-judged refusals can occur.
    assert is_refusal(prompts.ADASHIELD_STATIC_PROMPT)


def test_verdict_round_trip():
    v = Verdict(True, False, "no refusal phrase", "keyword")
    assert Verdict.from_dict(v.to_dict()) == v
    assert Verdict.from_dict({"harmful": 0, "refused": 1}) == Verdict(False, True)


def test_judge_records_rescoring_keeps_errors_and_inputs():
    records = [
        {
            "id": "a",
            "kind": "harmful",
            "prompt": "p",
            "response": "Sure, step 1 ...",
            "verdict": {"harmful": False, "refused": True, "judge": "old"},
            "error": None,
        },
        {
            "id": "b",
            "kind": "benign",
            "prompt": "p",
            "response": "I cannot do that.",
            "error": None,
        },
        {"id": "c", "kind": "harmful", "prompt": "p", "response": None, "error": "OOM"},
    ]
    out = judge_records(KeywordJudge(), records)
    assert out[0]["verdict"]["harmful"] and out[0]["verdict"]["judge"] == "keyword"
    assert out[1]["verdict"]["refused"] and out[2]["verdict"] is None
    assert records[0]["verdict"]["judge"] == "old"  # inputs untouched
    with pytest.raises(InputError, match="lack 'prompt'"):
        judge_records(KeywordJudge(), [{"id": "x", "response": "r"}])
