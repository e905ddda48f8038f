"""Pure parts of the testbed measurement (no backbone needed)."""

from shiftdc.testbed.measure import COUNTERPART, on_topic, pick


def test_on_topic_matches_word_stems_not_filler():
    assert on_topic("1. Preheat the oven. Baking takes an hour.", "bake banana bread")
    assert on_topic("Planting tulips in autumn ...", "plant spring bulbs")
    assert not on_topic("1. Choose a theme that fits your style.", "plant spring bulbs")
    assert not on_topic("Go with your friends.", "walk with your dog")  # only filler matches
    assert not on_topic("", "bake banana bread")


def test_counterpart_cells_use_the_same_items_as_the_image_cells():
    typo = pick("harmful", "TYPO", 12, seed=0)
    counterpart = pick("harmful", COUNTERPART, 12, seed=0)
    assert [i.id for i in typo] == [i.id for i in counterpart]
    assert all(i.caption and i.meta["key_phrase"] in i.caption for i in typo)
