"""The testbed's training, direction and evaluation data are disjoint (no backbone needed)."""

import json
import random
from importlib import resources

import pytest

from shiftdc.data import builtin_requests, direction_set
from shiftdc.data.render import figstep_text
from shiftdc.method.direction import data_fingerprint
from shiftdc.testbed.items import pick
from shiftdc.testbed.vocab import (
    EXTRA_BENIGN,
    all_words,
    harmful_phrases,
    heldout_words,
    random_mix,
    trained_phrases,
)

WEIGHTS = resources.files("shiftdc.testbed") / "weights"


def _phrases(split: str, kind: str | None = None) -> set[str]:
    return {r.key_phrase.lower() for r in builtin_requests(split, kind)}


def test_training_data_holds_no_direction_or_eval_request():
    taught = {k.lower() for k in json.loads((WEIGHTS / "teacher_answers.json").read_text())}
    held_out = _phrases("eval") | _phrases("direction")
    assert taught and taught <= trained_phrases()
    assert not trained_phrases() & held_out
    assert not {a.lower() for a in EXTRA_BENIGN} & held_out


def test_measured_requests_were_never_trained_on():
    for kind in ("harmful", "benign"):
        picked = {str(i.meta["key_phrase"]).lower() for i in pick(kind, "TYPO", 40, seed=0)}
        assert len(picked) == 40 and not picked & trained_phrases()
        assert not picked & (_phrases("train") | _phrases("direction"))


def test_vision_training_phrases_never_hold_a_harmful_request():
    harmful = harmful_phrases()
    assert not any(h in a for a in trained_phrases() for h in harmful)
    rng = random.Random(0)
    assert not any(h in random_mix(rng).lower() for _ in range(300) for h in harmful)


def test_heldout_reading_words_are_never_shown_in_vision_training():
    held = heldout_words()
    assert len(held) >= 300 and len(set(held)) == len(held)
    assert all(w.isalpha() and w.islower() for w in held)
    shown = {w.lower() for w in all_words()}
    shown |= {w.lower() for p in trained_phrases() for w in p.split()}
    shown |= {w.lower().strip(".:") for w in figstep_text("x").split()}
    assert not shown & set(held)
    rng = random.Random(1)
    mixes = {w.lower() for _ in range(2000) for w in random_mix(rng).split()}
    assert not mixes & set(held)


def test_shipped_direction_was_fitted_on_the_direction_split():
    meta = json.loads((WEIGHTS / "direction" / "direction.json").read_text())
    safe, unsafe = direction_set(seed=0)
    prompts = [[i.to_sample().text_only_prompt() for i in items] for items in (safe, unsafe)]
    assert meta["data_fingerprint"] == data_fingerprint(*prompts)


def test_committed_teacher_answers_come_from_the_committed_lora():
    from pathlib import Path

    from testbed_training.train_projector import TEACHER_META, lora_sha256

    meta = json.loads((WEIGHTS / TEACHER_META).read_text())
    assert meta["lora_sha256"] == lora_sha256(Path(str(WEIGHTS)))


def test_tune_split_is_held_out_from_all_training_and_direction_data():
    tune = _phrases("tune")
    taught = {k.lower() for k in json.loads((WEIGHTS / "teacher_answers.json").read_text())}
    assert len(tune) == 104
    assert not tune & (trained_phrases() | taught | _phrases("direction") | _phrases("eval"))
    vision = trained_phrases() | {a.lower() for a in EXTRA_BENIGN}
    assert not [(t, v) for t in tune for v in vision if t in v or v in t]
    assert _phrases("tune", "harmful") <= harmful_phrases()  # so vision mixes avoid them too


@pytest.mark.parametrize("benign_k", [None, 6])
def test_alignment_examples_hold_no_held_out_request(monkeypatch, benign_k):
    """The alignment builder, run without a model, draws only on training requests, and
    phrases each benign request `benign_k` times (default: as often as harmful ones)."""
    import testbed_training.train_align as align

    def answers(model, tok, prompts, max_new, batch):
        return ["Sure."] * len(prompts)

    monkeypatch.setattr(align, "greedy_answers", answers)
    examples = align.build_examples(None, None, random.Random(0), 24, 2, benign_k=benign_k)
    kb = 2 if benign_k is None else benign_k
    benign = [p for p, a in examples if a == "Sure."]
    n_train = len(builtin_requests("train", "benign"))
    assert len(benign) == n_train * (1 + kb + 4) + len(EXTRA_BENIGN) * (kb + 4)
    prompts = [p.lower() for p, _ in examples]
    text = "\n".join(prompts)
    for split in ("eval", "direction", "tune"):
        for r in builtin_requests(split):
            assert r.request.lower() not in text, (split, r.request)
            assert r.key_phrase.lower() not in text, (split, r.key_phrase)
    assert all(r.request.lower() in prompts for r in builtin_requests("train"))


def test_reading_pathway_examples_show_no_harmful_request_or_held_out_word(monkeypatch):
    """The pathway stage (train_read_pathway) draws from stage 3's benign sources only."""
    import json

    from shiftdc.testbed.assemble import WEIGHTS_DIR
    from testbed_training import train_read_pathway as stage

    monkeypatch.setattr(stage, "render_typo", lambda p: p)  # the text, not the picture
    monkeypatch.setattr(stage, "render_sd_typo", lambda scene, p: p)
    monkeypatch.setattr(stage, "render_figstep", lambda p: p)
    monkeypatch.setattr(stage, "render_varied", lambda p, rng: p)
    monkeypatch.setattr(stage, "render_scene", lambda scene: "")
    teach = json.loads((WEIGHTS_DIR / "teacher_answers.json").read_text())
    harmful, held = harmful_phrases(), set(heldout_words())
    rng = random.Random(0)
    shown = [stage.sample(rng, teach) for _ in range(1500)]
    queries = {q for _, q, _ in shown}
    assert len(queries) >= 8  # follow (3 attack queries), read, describe, caption prompts
    for image_text, _, target in shown:
        assert not any(h in text for text in (image_text.lower(), target.lower()) for h in harmful)
        assert not {w.strip('".,').lower() for w in image_text.split()} & held  # images only
