"""The slot engine: any interleaving of requests gives each one its solo answer.

Every request here runs through `SlotEngine` in-process (no HTTP) and is compared with the
same request run alone through `ShiftDC.generate` (float32, CPU, greedy).
"""

from __future__ import annotations

import pytest
import torch

from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.serve.engine import Guard
from shiftdc.serve.prometheus import Metrics
from shiftdc.serve.scheduler import SlotEngine
from shiftdc.serve.slots import slots_supported
from tests.helpers.engine_harness import Spec, cut, run
from tests.helpers.samples import fit_samples, image
from tests.serve.conftest import CAPTION_TOKENS

PROMPTS = ["what is in the image ?", "describe the colors", "list what you see here", "why?"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_engine(tiny_vlm, tiny_direction, tmp_path):
    """make_engine(**kw) -> a started SlotEngine on the tiny LLaVA (closed after the test)."""
    made = []

    def make(max_batch_size: int = 8, **kw) -> SlotEngine:
        vlm = tiny_vlm("llava")
        cap = Captioner(vlm, CAPTION_TOKENS, cache_dir=tmp_path / "engine", progress=False)
        engine = SlotEngine(
            vlm, tiny_direction[0], cap, Metrics(), max_batch_size=max_batch_size, **kw
        )
        engine.start()
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close(60)
        assert not engine._thread.is_alive()


def solo(tiny_vlm, direction, tmp_path, spec: Spec, alpha: float | None = None) -> str:
    """The request alone through the library (its own caption cache: captions made again)."""
    vlm = tiny_vlm("llava")
    cap = Captioner(vlm, CAPTION_TOKENS, cache_dir=tmp_path / "solo", progress=False)
    sdc = ShiftDC(vlm, direction, captioner=cap, alpha=alpha, progress=False)
    return sdc.generate([Sample("x", spec.prompt, spec.image)], spec.max_tokens)[0].response


def guard(engine: SlotEngine, alpha: float | None = None, enabled: bool = True) -> Guard:
    sdc = engine.shiftdc(None, alpha)
    return Guard(enabled, sdc.mode, sdc.alpha)


def test_staggered_mixed_requests_equal_their_solo_answers(
    make_engine, tiny_vlm, tiny_direction, tmp_path
):
    specs = []
    for i in range(32):
        img = None if i % 8 == 3 else image(200 + i)
        specs.append(Spec(f"{PROMPTS[i % 4]} ({i})", img, 2 + i % 7, at=0.015 * i))
    alone = [solo(tiny_vlm, tiny_direction[0], tmp_path, s) for s in specs]
    for i in (1, 6, 11, 20, 27):  # a stop string that occurs inside the answer
        words = alone[i].split()
        if len(words) > 1:
            specs[i].stops = [words[len(words) // 2], "never-occurs"]
    cancelled = {4, 13, 22, 30}
    for i in cancelled:
        specs[i].max_tokens, specs[i].cancel_after = 60, 1

    engine = make_engine(8)
    got = run(engine, specs, guard(engine))

    for i, (spec, out, ref) in enumerate(zip(specs, got, alone, strict=True)):
        if i in cancelled:
            assert out.finish in ("cancelled", "stop", "length"), out
            continue
        assert out.error is None, out.error
        assert out.text == cut(ref, spec.stops), (i, spec)
        assert "".join(out.deltas) == out.text  # the stream carries exactly the answer
        assert out.block["calibrated"] == (spec.image is not None)
    assert len({o.text for o in got}) > 4
    assert sum(got[i].finish == "cancelled" for i in cancelled) >= 2  # really left mid-stream
    assert sum(o.finish == "stop" and bool(s.stops) for o, s in zip(got, specs, strict=True)) >= 3
    steps = list(engine.steps)
    shared = [s for s in steps if s["caption_rows"] and s["answer_rows"]]
    assert shared, "captions and answers never shared a decode step"
    assert max(s["rows"] for s in steps) > 4
    assert not [s for s in steps if s["waiting"] and s["free_slots"]], "a slot idled"
    assert all(s["rows"] <= 8 for s in steps)
    assert not engine.tasks and not len(engine.batch)  # every slot freed


def test_corrections_never_leak_between_rows(make_engine, tiny_vlm, tiny_direction, tmp_path):
    """A huge correction beside none and beside an unguarded row: each row gets its own."""
    engine = make_engine(8, positions=None)
    big = guard(engine, alpha=40.0)
    none = guard(engine, alpha=0.0)
    off = Guard(False, big.mode, big.alpha)
    base = [(f"{PROMPTS[i % 4]} [{i}]", image(300 + i)) for i in range(6)]
    specs = [
        Spec(p, im, 8, at=0.01 * i, guard=(big, none, off)[i % 3]) for i, (p, im) in enumerate(base)
    ]
    engine.min_new_tokens = 6  # full-length answers: more tokens for a leak to show in
    vlm = tiny_vlm("llava")
    vlm.model.generation_config.min_new_tokens = 6
    try:
        got = run(engine, specs, big)
        refs = []
        for i, s in enumerate(specs):
            if i % 3 == 2:
                from shiftdc.models.generation import generate_plain

                refs.append(generate_plain(vlm, [Sample("x", s.prompt, s.image)], 8)[0])
            else:
                refs.append(solo(tiny_vlm, tiny_direction[0], tmp_path, s, (40.0, 0.0)[i % 3]))
    finally:
        vlm.model.generation_config.min_new_tokens = None
    assert [o.text for o in got] == refs
    # the corrections differ greatly, and so do the answers they steer
    assert got[0].block["correction_norm"][0] > 100 * max(got[1].block["correction_norm"][0], 1e-6)
    swapped = solo(tiny_vlm, tiny_direction[0], tmp_path, specs[0], 0.0)
    assert swapped != refs[0]


def test_seeded_sampling_reproduces_under_load(make_engine, tiny_direction):
    engine = make_engine(8)
    g = guard(engine)
    seeded = Spec("describe the colors", image(400), 12, temperature=1.0, seed=1234)
    alone = run(engine, [seeded], g)[0]
    others = [Spec(f"{p} !", image(410 + i), 6 + i, at=0.005 * i) for i, p in enumerate(PROMPTS)]
    loaded = run(engine, [*others, Spec(**{**seeded.__dict__, "at": 0.02})], g)[-1]
    other_seed = run(engine, [Spec(**{**seeded.__dict__, "seed": 99})], g)[0]
    assert loaded.text == alone.text
    assert other_seed.text != alone.text


def test_short_request_finishes_long_before_a_long_one(make_engine):
    engine = make_engine(4)
    engine.min_new_tokens = 10**6  # answers run to their limits
    g = guard(engine)
    long = Spec("describe everything you see in detail", image(500), 200)
    short = Spec("why?", image(501), 3, after=(0, 10))  # arrives while the long one streams
    out_long, out_short = run(engine, [long, short], g)
    assert out_long.finish == "length" and out_short.finish == "length"
    assert out_short.done < out_long.done
    # the short one did not wait for the long one: it took a small part of its time
    assert out_short.done - out_short.submitted < 0.5 * (out_long.done - out_short.submitted)


@pytest.mark.parametrize(
    ("family", "reason"),
    [
        ("llava", None),
        ("idefics3", None),
        ("gemma3", "sliding-window"),
        ("qwen2_vl", "multimodal RoPE"),
        ("paligemma", "no KV reuse"),
        ("mllama", "cross-attention"),
        ("mistral3", None),
        ("llama4", "sliding-window"),  # chunked attention: a window of one chunk
        ("lfm2_vl", "short-convolution"),
    ],
)
def test_families_whose_cache_cannot_take_joining_rows_are_named(tiny_vlm, family, reason):
    why = slots_supported(tiny_vlm(family))
    assert why is None if reason is None else reason in why


@pytest.mark.parametrize("family", ["mistral3"])
def test_other_families_on_the_slot_engine_equal_their_solo_answers(tiny_vlm, family, tmp_path):
    """A family `slots_supported` admits: staggered rows joining the batch get solo answers."""
    vlm = tiny_vlm(family)
    assert slots_supported(vlm) is None
    direction = SafetyDirection.fit(vlm, *fit_samples(), progress=False)
    specs = [
        Spec(f"{PROMPTS[i % 4]} ({i})", None if i == 3 else image(300 + i), 2 + i % 5, at=0.02 * i)
        for i in range(8)
    ]
    alone = []
    for s in specs:
        cap = Captioner(vlm, CAPTION_TOKENS, cache_dir=tmp_path / "solo", progress=False)
        sdc = ShiftDC(vlm, direction, captioner=cap, progress=False)
        alone.append(sdc.generate([Sample("x", s.prompt, s.image)], s.max_tokens)[0].response)
    cap = Captioner(vlm, CAPTION_TOKENS, cache_dir=tmp_path / "engine", progress=False)
    engine = SlotEngine(vlm, direction, cap, Metrics(), max_batch_size=4)
    engine.start()
    try:
        got = run(engine, specs, guard(engine))
    finally:
        engine.close(60)
    for i, (out, ref) in enumerate(zip(got, alone, strict=True)):
        assert out.error is None, out.error
        assert out.text == ref, (i, specs[i])
    assert max(s["rows"] for s in engine.steps) > 1


def test_a_checkpoint_whose_generation_config_shapes_logits_is_micro_batched(tiny_vlm):
    """Slots pick tokens themselves; a repetition penalty `generate` would apply sends the
    model to the batch engine instead of answering differently."""
    vlm = tiny_vlm("llava")
    cfg = vlm.model.generation_config
    assert slots_supported(vlm) is None
    cfg.repetition_penalty = 1.3
    try:
        assert "repetition_penalty" in slots_supported(vlm)
    finally:
        cfg.repetition_penalty = 1.0


def test_step_log_file_holds_every_step_and_closes_with_the_engine(make_engine, tmp_path):
    """--step-log: one JSON line per decode step, the same entries as `engine.steps`."""
    import json

    path = tmp_path / "steps.jsonl"
    engine = make_engine(4, step_log=path)
    specs = [Spec(f"{PROMPTS[i]} ({i})", image(300 + i), 3, at=0.01 * i) for i in range(4)]
    got = run(engine, specs, guard(engine))
    assert all(o.error is None for o in got)
    engine.close(60)
    assert engine._step_log is not None and engine._step_log.closed
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert lines == list(engine.steps) and lines
    assert sum(s["caption_rows"] for s in lines) and sum(s["answer_rows"] for s in lines)
