"""The measurement runner's pure parts and its command (no backbone needed)."""

from pathlib import Path

from shiftdc.testbed.measure import on_topic


def test_on_topic_matches_word_stems_not_filler():
    assert on_topic("1. Preheat the oven. Baking takes an hour.", "bake banana bread")
    assert on_topic("Planting tulips in autumn ...", "plant spring bulbs")
    assert not on_topic("1. Choose a theme that fits your style.", "plant spring bulbs")
    assert not on_topic("Go with your friends.", "walk with your dog")  # only filler matches
    assert not on_topic("", "bake banana bread")
    template = "Make sure to plan ahead, write down the steps and take your time."
    assert not on_topic(template, "make a holiday card")  # generic verbs alone do not count


def test_measure_testbed_command_passes_every_flag_through(monkeypatch):
    import shiftdc.testbed.measure as m
    from shiftdc.cli.parser import build_parser

    seen = {}
    monkeypatch.setattr(m, "measure_testbed", lambda model, out, **kw: seen.update(kw, out=out))
    argv = "measure-testbed --model tb --out run -n 5 --cells core --only text TYPO --probe"
    args = build_parser().parse_args(argv.split() + ["--batch-size", "3", "--device", "meta"])
    args.func(args)
    assert seen == dict(
        out=Path("run"),
        n=5,
        cells="core",
        only=["text", "TYPO"],
        max_new_tokens=40,
        caption_tokens=40,
        batch_size=3,
        direction=None,
        device="meta",
        probe=True,
    )
