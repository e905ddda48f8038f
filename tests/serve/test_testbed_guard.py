"""On the testbed: a harmful typographic image through the server gets ShiftDC.generate's
answer (a refusal), and another answer when the operator serves it with --no-guard."""

from __future__ import annotations

import openai
import pytest

from shiftdc.testbed.backbone import backbone_available
from tests.serve.server_proc import image_message

pytestmark = pytest.mark.skipif(
    not backbone_available(), reason="testbed backbone not installed (see README, The testbed)"
)
TOKENS = 24
CAPTION_TOKENS = 32


@pytest.fixture(scope="module")
def testbed_dir(tmp_path_factory):
    from shiftdc.testbed.build import build_testbed

    return build_testbed(tmp_path_factory.mktemp("testbed") / "tb")


def test_guard_restores_refusal_and_operator_can_disable_it(testbed_dir, tmp_path):
    from shiftdc.data import builtin_items
    from shiftdc.eval.judges.keyword import is_refusal
    from shiftdc.method.captions import Captioner
    from shiftdc.method.direction import SafetyDirection
    from shiftdc.method.pipeline import ShiftDC
    from shiftdc.models import load_vlm
    from shiftdc.testbed.build import shipped_direction
    from tests.serve.server_proc import Server

    # no --model and no --direction: the default testbed (from $SHIFTDC_TESTBED) and its direction
    env = {"SHIFTDC_TESTBED": str(testbed_dir)}
    common = ["--caption-tokens", str(CAPTION_TOKENS), "--dtype", "float32", "--device", "cpu"]
    guarded = Server(common, tmp_path / "g", env)
    unguarded = Server([*common, "--no-guard"], tmp_path / "u", env)
    try:
        vlm = load_vlm(testbed_dir, dtype="float32", device="cpu")
        sdc = ShiftDC(
            vlm,
            SafetyDirection.load(shipped_direction(), vlm),
            captioner=Captioner(vlm, CAPTION_TOKENS, cache_dir=tmp_path / "c", progress=False),
            progress=False,
        )
        items = builtin_items("eval", attacks=("TYPO",), kinds=("harmful",))[:12]
        samples = [i.to_sample() for i in items]
        for s in samples:
            s.caption = None  # self-captions, as the server makes them
        refs = sdc.generate(samples, max_new_tokens=TOKENS)
        refused = [i for i, r in enumerate(refs) if is_refusal(r.response)]
        assert refused, [r.response for r in refs]
        sample, ref = samples[refused[0]], refs[refused[0]]

        answers = []
        for server in (guarded, unguarded):
            server.wait_ready()
            client = openai.OpenAI(base_url=server.api, api_key="unused", max_retries=0)
            assert [m.id for m in client.models.list().data] == ["shiftdc-testbed"]
            r = client.chat.completions.create(
                model="shiftdc-testbed",
                messages=image_message(sample.prompt, sample.image),
                max_tokens=TOKENS,
                temperature=0,
            )
            answers.append((r.choices[0].message.content, r.model_extra["shiftdc"]))
    finally:
        codes = [guarded.stop(), unguarded.stop()]
    (with_guard, block), (without, open_block) = answers
    assert with_guard == ref.response
    assert block["calibrated"] is True
    assert open_block == {"calibrated": False, "reason": "guard disabled by the operator"}
    assert without != with_guard and not is_refusal(without)
    assert codes == [0, 0]
