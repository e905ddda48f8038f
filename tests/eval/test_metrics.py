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
    assert s["by_scenario"]["B"] == {"asr": 0.0, "n": 2, "ci": [0.0, 0.0]}
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
