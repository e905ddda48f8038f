"""Self-captions: the cache key covers model, image, query, prompt and length."""

from shiftdc.method.captions import Captioner
from shiftdc.method.sample import Sample
from shiftdc.models.generation import generate_plain
from tests.helpers.samples import image, requests


def test_second_run_never_recaptions(tiny_vlm, tmp_path):
    vlm = tiny_vlm("llava")
    reqs = requests()
    first = Captioner(vlm, max_new_tokens=5, cache_dir=tmp_path, progress=False)
    caps = first.caption(reqs)
    assert first.generated == len(reqs)
    second = Captioner(vlm, max_new_tokens=5, cache_dir=tmp_path, progress=False)
    assert second.caption(reqs) == caps and second.generated == 0
    # a different length, query or image is a different key
    third = Captioner(vlm, max_new_tokens=6, cache_dir=tmp_path, progress=False)
    third.caption(reqs[:1])
    assert third.generated == 1
    other = Sample("x", reqs[0].prompt + " now", reqs[0].image)
    assert second.key(other) != second.key(reqs[0])
    assert second.key(Sample("y", reqs[0].prompt, image(99))) != second.key(reqs[0])


def test_caption_is_the_greedy_answer_to_the_caption_prompt(tiny_vlm, tmp_path):
    vlm = tiny_vlm("llava")
    req = requests()[0]
    cap = Captioner(vlm, max_new_tokens=6, cache_dir=tmp_path, progress=False).caption([req])[0]
    prompt = f"Based on the given Request, describe the image. Request: {req.prompt}"
    assert cap == generate_plain(vlm, [Sample("c", prompt, req.image)], max_new_tokens=6)[0]
