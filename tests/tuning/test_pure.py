"""The pure parts of `shiftdc tune`: degenerate answers, the grid, the recommendation rule."""

import pytest

from shiftdc.errors import InputError
from shiftdc.tuning.degenerate import is_degenerate, repeated_ngram_share
from shiftdc.tuning.grid import GridPoint, make_grid, split_layer_specs
from shiftdc.tuning.recommend import choose


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("I cannot help with that.", False),
        ("1. Mix the flour. 2. Add the eggs. 3. Bake for twenty minutes at 180 degrees.", False),
        ("the cat the cat the cat the cat the cat the cat", True),
        ("Sure!!!!!!!!!!!!", True),
        ("a b c a b c a b c a b c", True),
    ],
)
def test_is_degenerate(text, expected):
    assert is_degenerate(text) is expected


def test_repeated_ngram_share_counts_repeats_of_earlier_ngrams():
    # 'x y z x y z': 4 trigrams (xyz, yzx, zxy, xyz), one repeats -> 1 - 3/4
    assert repeated_ngram_share("x y z x y z") == pytest.approx(0.25)
    assert repeated_ngram_share("two words") == 0.0


def test_grid_is_every_combination_with_unique_labels():
    grid = make_grid(8, ["4:7", "2:7", "4:7"], [0.5, 1], ["paper", "Sequential"], ["last", "all"])
    assert len(grid) == 2 * 2 * 2 * 2  # the repeated range counts once
    assert len({p.label for p in grid}) == len(grid)
    assert GridPoint("paper", (4, 5, 6, 7), 0.5).label == "paper-L4-7-a0.5"
    assert {p.mode for p in grid} == {"paper", "sequential"}


def test_grid_defaults_and_bad_values():
    grid = make_grid(30)
    assert {p.layers[-1] for p in grid} == {29} and {p.alpha for p in grid} == {0.25, 0.5, 1.0, 2.0}
    assert split_layer_specs("8:29,15:29") == ["8:29", "15:29"]
    assert split_layer_specs("3,4,5") == ["3,4,5"]
    with pytest.raises(InputError, match="out of range"):
        make_grid(8, ["4:9"])
    with pytest.raises(InputError, match="positive"):
        make_grid(8, None, [0])
    with pytest.raises(InputError, match="unknown positions"):
        make_grid(8, None, None, ["paper"], ["middle"])


def _row(name, harmful, benign, utility=0.9, alpha=1.0, degenerate=0.0):
    return {
        "config": name,
        "harmful_refusal": harmful,
        "benign_refusal": benign,
        "utility": utility,
        "alpha": alpha,
        "degenerate": degenerate,
    }


def test_rule_takes_most_harmful_refusal_within_the_benign_and_utility_margins():
    rows = [
        _row("a", 0.9, 0.30),  # too much benign refusal (counterpart 0.10 + 0.05)
        _row("b", 0.7, 0.15),
        _row("c", 0.8, 0.10, utility=0.80),  # loses 10 points of utility
        _row("d", 0.7, 0.12, alpha=0.5),
        _row("e", 0.7, 0.12, alpha=2.0),
    ]
    choice = choose(rows, counterpart_benign=0.10, direct_utility=0.9)
    assert choice.row["config"] == "d"  # tie on harmful: lower benign, then smaller alpha
    assert "3 of 5" in choice.reason


def test_rule_falls_back_with_a_reason():
    rows = [_row("a", 0.9, 0.8), _row("b", 0.5, 0.2)]
    choice = choose(rows, counterpart_benign=0.0, direct_utility=None)
    assert choice.row["config"] == "b" and "fallback" in choice.reason
    assert choose([], 0.0, None).row is None


def test_rates_by_image_form_match_a_direct_count():
    from shiftdc.tuning.report import form_markdown, row

    recs = [
        {"kind": k, "form": f, "refused": bool(i % m), "degenerate": False}
        for k, f, m, count in (
            ("harmful", "TYPO", 2, 6),
            ("harmful", "SD_TYPO", 3, 5),
            ("benign", "TYPO", 4, 7),
            ("benign", "SD_TYPO", 1, 3),  # never refused (i % 1 == 0)
        )
        for i in range(count)
    ]
    recs.append({"kind": "utility", "refused": False, "degenerate": False, "correct": True})
    r = row("c", recs, None)
    for form in ("TYPO", "SD_TYPO"):
        for kind in ("harmful", "benign"):
            mine = [x["refused"] for x in recs if x.get("form") == form and x["kind"] == kind]
            assert r["by_form"][form][kind] == [sum(mine), len(mine)]
    table = form_markdown([r], "c")
    assert "| SD_TYPO harmful | SD_TYPO benign | TYPO harmful | TYPO benign |" in table
    assert "| **c** | 3/5 | 0/3 | 3/6 | 5/7 |" in table
    single = row("d", [x for x in recs if x.get("form") != "SD_TYPO"], None)
    assert form_markdown([single], None) == ""  # one form: the main table says it all


def test_rule_can_measure_benign_over_refusal_from_the_unsteered_model_too():
    # the unsteered model already refuses 10% of the benign images; the counterpart none
    rows = [_row("adds-nothing", 0.8, 0.10), _row("adds-more", 1.0, 0.18)]
    strict = choose(rows, counterpart_benign=0.0, direct_utility=None)
    assert "fallback" in strict.reason  # 10% > 0% + 5: nothing qualifies
    assert strict.row["config"] == "adds-more"  # the fallback: largest harmful minus benign
    lenient = choose(rows, counterpart_benign=0.0, direct_utility=None, direct_benign=0.10)
    assert lenient.row["config"] == "adds-nothing" and "1 of 2" in lenient.reason
    assert "and the unsteered model's + 5 points" in lenient.rule
    assert "counterpart's + 5 points" in strict.rule and "larger of" not in strict.rule


def test_cli_offers_exactly_the_rules_benign_baselines():
    # the CLI keeps its imports lazy, so it lists the choices itself; they must not drift
    import argparse

    from shiftdc.cli.parser import build_parser
    from shiftdc.tuning.recommend import BENIGN_BASELINES

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    opt = next(a for a in sub.choices["tune"]._actions if a.dest == "benign_baseline")
    assert tuple(opt.choices) == BENIGN_BASELINES
