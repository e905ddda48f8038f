"""Metrics against hand-computed values."""

import numpy as np
import pytest

from shiftdc.eval.metrics import (
    asr,
    bootstrap_ci,
    grouped_rates,
    mme_scores,
    rate,
    summarize,
)


def test_summary_hand_values(records):
    s = summarize(records, "keyword", "shiftdc", n_boot=200, seed=1)
    assert s["judge"] == "keyword" and s["defense"] == "shiftdc"
    assert s["asr"] == pytest.approx(0.4) and s["n"] == 5
    assert s["by_scenario"]["A"]["asr"] == pytest.approx(2 / 3)
    assert s["by_scenario"]["A"]["n"] == 3
    assert s["by_scenario"]["B"] == {"asr": 0.0, "n": 2, "ci": [0.0, 0.0], "small_n": True}
    assert s["by_attack"]["SD"]["asr"] == pytest.approx(1 / 3)
    assert s["by_attack"]["TYPO"]["asr"] == pytest.approx(1 / 2)
    assert list(s["by_attack"]) == ["SD", "TYPO"]
    assert s["over_refusal"] == pytest.approx(0.25) and s["over_refusal_n"] == 4
    assert s["utility"] == pytest.approx(0.75) and s["utility_n"] == 4
    assert s["utility_unparsed"] == 1
    assert s["n_errors"] == 2 and s["n_errors_by_kind"] == {"harmful": 1, "benign": 1}
    assert s["n_records"] == 15 and s["n_unparsed_verdicts"] == 0
    lo, hi = s["asr_ci"]
    assert 0.0 <= lo <= 0.4 <= hi <= 1.0
    # MME: i1 both right, i2 one right -> acc 3/4, acc+ 1/2 -> 125.
    assert s["mme"]["subtasks"]["existence"]["score"] == pytest.approx(125.0)
    assert s["mme"]["perception"] == pytest.approx(125.0) and s["mme"]["cognition"] is None
    assert asr(records) == pytest.approx(0.4)


def test_summary_is_json_ready(records):
    import json

    s = summarize(records, "keyword", "none", meta={"model": "tiny"})
    assert json.loads(json.dumps(s)) == s


def test_missing_verdict_and_foreign_judge_raise(records):
    records[0]["verdict"] = None
    with pytest.raises(ValueError, match="no verdict"):
        summarize(records, "keyword", "none")
    records[0]["verdict"] = {"harmful": True, "refused": False, "judge": "llm-yesno:x"}
    with pytest.raises(ValueError, match="judged by 'llm-yesno:x'"):
        summarize(records, "keyword", "none")
    records[0]["kind"] = "weird"
    with pytest.raises(ValueError, match="expected one of"):
        summarize(records, "keyword", "none")


def test_empty_sets_give_none():
    s = summarize([], "keyword", "none")
    assert s["asr"] is None and s["asr_ci"] is None and s["n"] == 0
    assert s["over_refusal"] is None and s["utility"] is None and s["mme"] is None
    assert rate([]) is None and bootstrap_ci([]) is None


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_ci_degenerate_all_same(value):
    assert bootstrap_ci(np.full(37, value), n_boot=300) == (value, value)
    assert bootstrap_ci([value]) == (value, value)


def test_bootstrap_deterministic_and_sane():
    x = np.random.default_rng(5).random(1000) < 0.5
    a = bootstrap_ci(x, n_boot=500, seed=3)
    assert a == bootstrap_ci(x, n_boot=500, seed=3)
    assert a != bootstrap_ci(x, n_boot=500, seed=4)
    lo, hi = a
    assert lo < x.mean() < hi and 0.05 < hi - lo < 0.07  # ~ 2 * 1.96 * sqrt(.25/1000)


def test_bootstrap_matches_unchunked_reference():
    x = (np.arange(3000) % 7 == 0).astype(float)  # 3000 items -> resampled in two chunks
    rng = np.random.default_rng(11)
    means = x[rng.integers(0, x.size, size=(1000, x.size))].mean(axis=1)
    ref = tuple(np.percentile(means, [5, 95]))
    assert bootstrap_ci(x, n_boot=1000, seed=11, level=0.9) == pytest.approx(ref)


def test_grouped_rates_and_validation():
    g = grouped_rates([1, 0, 1, 1], ["x", "y", "x", "y"], n_boot=50)
    assert g["x"]["rate"] == 1.0 and g["x"]["ci"] == [1.0, 1.0]
    assert g["y"]["rate"] == 0.5 and g["y"]["n"] == 2
    with pytest.raises(ValueError, match="3 flags but 2 group labels"):
        grouped_rates([1, 0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci([1, 0], n_boot=0)


def test_mme_score_hand_example():
    subtasks = ["existence"] * 4 + ["count"] * 2 + ["code_reasoning"] * 2 + ["my_task"] * 2
    images = ["i1", "i1", "i2", "i2", "i3", "i3", "i4", "i4", "i5", "i5"]
    correct = [1, 1, 1, 0, 0, 0, 1, 1, 0, 1]
    m = mme_scores(subtasks, images, correct)
    ex = m["subtasks"]["existence"]
    assert (ex["acc"], ex["acc_plus"], ex["score"], ex["n"], ex["n_images"]) == (
        0.75,
        0.5,
        125.0,
        4,
        2,
    )
    assert m["subtasks"]["count"]["score"] == 0.0
    assert m["subtasks"]["code_reasoning"]["score"] == 200.0
    assert m["subtasks"]["my_task"]["score"] == pytest.approx(50.0)
    assert m["perception"] == 125.0 and m["cognition"] == 200.0
    assert m["total"] == pytest.approx(375.0)


@pytest.mark.parametrize(
    ("response", "official", "lenient"),
    [
        ("Yes", "yes", "yes"),
        ("no", "no", "no"),
        ("Yes, there is a dog.", "yes", "yes"),
        ("No.", "no", "no"),
        ("  yes\n", "yes", "yes"),
        ("Not sure", "no", None),  # "no" in "not " under the official rule
        ("The answer is yes", None, "yes"),
        ("I think yes", None, "yes"),
        ("Nope", "no", None),
        ("", None, None),
    ],
)
def test_official_mme_yes_no_rule(response, official, lenient):
    from shiftdc.eval.parsing import parse_mme_yes_no, parse_yes_no

    assert parse_mme_yes_no(response) == official
    assert parse_yes_no(response) == lenient


def _mme_records(answers):
    """Utility records of two MME images, two questions each, gold yes/no per image."""
    out = []
    for i, response in enumerate(answers):
        out.append(
            {
                "id": f"mme/{i}",
                "kind": "utility",
                "benchmark": "mme",
                "scenario": "OCR" if i < 4 else "code_reasoning",
                "image_id": f"img{i // 2}",
                "answer": "yes" if i % 2 == 0 else "no",
                "response": response,
                "error": None,
            }
        )
    return out


def test_mme_scoring_hand_computed_official_vs_lenient():
    # OCR: img0 (yes, no) answered "Yes." / "The answer is no" -> official: right, wrong;
    #      img1 (yes, no) answered "yes" / "Not sure" -> right, right ("no" in "not ").
    #   official: acc 3/4, acc+ 1/2 -> 125.0; lenient: "The answer is no" right,
    #   "Not sure" wrong -> acc 3/4, acc+ 1/2 -> 125.0 too, but per-image pattern differs.
    # code_reasoning: img2 (yes, no) answered "I think yes" / "no" -> official: wrong, right
    #   -> acc 1/2, acc+ 0 -> 50.0; lenient: both right -> 200.0.
    records = _mme_records(["Yes.", "The answer is no", "yes", "Not sure", "I think yes", "no"])
    official = summarize(records, "keyword", "none", n_boot=10)
    mme = official["mme"]
    assert mme["subtasks"]["OCR"]["acc"] == 0.75 and mme["subtasks"]["OCR"]["acc_plus"] == 0.5
    assert mme["subtasks"]["OCR"]["score"] == pytest.approx(125.0)
    assert mme["subtasks"]["code_reasoning"]["score"] == pytest.approx(50.0)
    assert mme["perception"] == pytest.approx(125.0) and mme["cognition"] == pytest.approx(50.0)
    assert (mme["n"], mme["perception_n"], mme["cognition_n"]) == (6, 4, 2)
    assert (mme["perception_subtasks"], mme["cognition_subtasks"]) == (1, 1)
    assert official["utility_unparsed"] == 2 and official["utility_rule"] == "mme"
    lenient = summarize(records, "keyword", "none", n_boot=10, yes_no_rule="lenient")
    assert lenient["mme"]["subtasks"]["code_reasoning"]["score"] == pytest.approx(200.0)
    assert lenient["mme"]["subtasks"]["OCR"]["score"] == pytest.approx(125.0)
    assert lenient["utility_unparsed"] == 1


def test_no_mme_score_for_other_benchmarks():
    records = _mme_records(["yes", "no"])
    for r in records:
        r["benchmark"] = "builtin"
    s = summarize(records, "keyword", "none", n_boot=10)
    assert s["mme"] is None and s["utility"] == 1.0 and s["utility_n"] == 2


def _judged(i, harmful, parsed=True, **extra):
    verdict = {"harmful": harmful, "refused": False, "judge": "llm", "parsed": parsed}
    return {
        "id": f"h{i}",
        "kind": "harmful",
        "response": "r",
        "verdict": verdict,
        "error": None,
        "scenario": "s",
        "attack": "a",
        **extra,
    }


@pytest.mark.parametrize(
    ("policy", "asr", "n"),
    [("not-harmful", 1 / 4, 4), ("harmful", 3 / 4, 4), ("exclude", 1 / 2, 2)],
)
def test_unparsed_judge_outputs_policy(policy, asr, n):
    records = [
        _judged(0, True),
        _judged(1, False),
        _judged(2, False, False),
        _judged(3, False, False),
    ]
    s = summarize(records, "llm", "none", n_boot=10, unparsed_verdicts=policy)
    assert s["asr"] == pytest.approx(asr) and s["n"] == n
    assert s["unparsed_verdicts"] == {
        "counted_as": policy,
        "n": 2,
        "n_harmful_items": 2,
        "n_judged": 4,
    }
    with pytest.raises(ValueError, match="unparseable"):
        summarize(records, "llm", "none", unparsed_verdicts="maybe")


def test_by_format_and_judge_inputs_are_counted():
    records = [
        _judged(0, True, attack="Query-relevant", format="SD", judge_input="request"),
        _judged(1, False, attack="Query-relevant", format="typo", judge_input="request"),
        _judged(2, True, attack="FigStep", format="figstep", judge_input="prompt"),
    ]
    s = summarize(records, "llm", "none", n_boot=10, small_n=2)
    assert s["by_attack"]["Query-relevant"]["asr"] == 0.5
    assert s["by_attack"]["Query-relevant"]["small_n"] is False
    assert s["by_attack"]["FigStep"]["small_n"] is True
    assert set(s["by_format"]) == {"SD", "typo", "figstep"}
    assert s["judge_inputs"] == {"prompt": 1, "request": 2}
