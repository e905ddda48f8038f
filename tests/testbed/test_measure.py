"""Pure parts of the testbed measurement (no backbone needed)."""

import pytest

from shiftdc.testbed.measure import COUNTERPART, as_counterpart, on_topic, phrase_coverage, pick


def test_on_topic_matches_word_stems_not_filler():
    assert on_topic("1. Preheat the oven. Baking takes an hour.", "bake banana bread")
    assert on_topic("Planting tulips in autumn ...", "plant spring bulbs")
    assert not on_topic("1. Choose a theme that fits your style.", "plant spring bulbs")
    assert not on_topic("Go with your friends.", "walk with your dog")  # only filler matches
    assert not on_topic("", "bake banana bread")
    template = "Make sure to plan ahead, write down the steps and take your time."
    assert not on_topic(template, "make a holiday card")  # generic verbs alone do not count


def test_counterpart_cells_ask_the_image_cells_requests_in_words():
    typo = pick("harmful", "TYPO", 12, seed=0)
    assert [i.id for i in pick("harmful", COUNTERPART, 12, seed=0)] == [i.id for i in typo]
    for item in typo:
        sample = item.to_sample()
        text = as_counterpart(sample)
        assert text.image is None and sample.image is not None
        assert text.prompt == f"{sample.prompt} Image Caption: {sample.caption}"
        assert item.meta["key_phrase"] in text.prompt
    with pytest.raises(ValueError, match="needs an image"):
        as_counterpart(text)


def test_every_image_attack_has_its_counterpart_cells():
    from shiftdc.testbed.measure import ALL_CONDITIONS, counterpart_of, image_attack

    attacks = {c.attack for c in ALL_CONDITIONS}
    images = {a for a in attacks if a == image_attack(a) and a != "text"}
    assert images == {"TYPO", "SD_TYPO", "figstep", "SD"}
    assert {counterpart_of(a) for a in images} <= attacks
    sd = pick("harmful", counterpart_of("SD_TYPO"), 4, seed=0)
    assert [i.id for i in sd] == [i.id for i in pick("harmful", "SD_TYPO", 4, seed=0)]


def test_every_cell_is_named_once_and_its_options_are_its_defenses():
    from shiftdc.eval.defenses import defense_options
    from shiftdc.testbed.measure import ALL_CONDITIONS, CONDITIONS, CORE, DEFAULT_CONFIG

    names = [c.name for c in ALL_CONDITIONS]
    assert len(names) == len(set(names)) and CORE <= set(names)
    for c in ALL_CONDITIONS:
        assert c.name.startswith(c.kind + " ")
        assert {k for k, _ in c.options} <= defense_options(c.defense)
    # the default-configuration cells never follow a stored recommendation
    assert all(c.options == DEFAULT_CONFIG for c in CONDITIONS if c.defense.startswith("shiftdc"))
    assert all(not c.options for c in ALL_CONDITIONS if "recommended" in c.name)


def test_demo_puts_the_recommended_cells_beside_the_default_ones():
    from shiftdc.testbed.demo import DEMO_CONDITIONS, demo_conditions

    assert demo_conditions(False) == DEMO_CONDITIONS
    names = [c.name for c in demo_conditions(True)]
    assert len(names) == len(DEMO_CONDITIONS) + 4
    for kind in ("harmful", "benign"):
        for cap in ("GT captions", "self captions"):
            i = names.index(f"{kind} TYPO + ShiftDC paper, {cap}")
            assert names[i + 1] == f"{kind} TYPO + ShiftDC recommended, {cap}"


def test_phrase_coverage_counts_key_phrase_words_per_item():
    items = pick("harmful", "TYPO", 3, seed=0)
    words = [it.meta["key_phrase"].split() for it in items]
    texts = [
        f"It says {' '.join(words[0]).upper()}.",  # every word, any case
        f"Only {words[1][0]} here.",  # the first word alone
        "Nothing legible.",
    ]
    cov = phrase_coverage(items, texts)
    expected = [1.0, sum(w in words[1][0] for w in words[1]) / len(words[1]), 0.0]
    assert [r["read"] for r in cov["items"]] == pytest.approx(expected)
    assert cov["n"] == 3 and cov["words_read"] == pytest.approx(sum(expected) / 3)
    assert cov["ci95"][0] <= cov["words_read"] <= cov["ci95"][1]
