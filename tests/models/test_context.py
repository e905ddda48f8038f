"""Prompts against the model's context: measured as the model reads them, refused or cut."""

import pytest

from shiftdc.errors import InputError
from shiftdc.method.captions import CAPTION_PROMPT
from shiftdc.method.sample import Sample
from shiftdc.models.context import (
    TRUNCATED,
    context_length,
    limit_requests,
    limit_to_context,
    prompt_tokens,
    truncation_field,
)
from tests.helpers.samples import image


@pytest.fixture(scope="module")
def vlm(tiny_vlm):
    return tiny_vlm("llava")


def test_context_length_is_the_text_models_positions(vlm):
    assert context_length(vlm) == vlm.adapter.text_config().max_position_embeddings


def test_prompt_tokens_counts_what_the_model_reads(vlm):
    text = Sample("t", "what is in the picture")
    ids = vlm.adapter.encode_text([text.prompt])["input_ids"]
    assert prompt_tokens(vlm, text) == ids.shape[-1]
    framed = prompt_tokens(vlm, text, "Describe it. {query}")
    assert framed > prompt_tokens(vlm, text)
    with_image = Sample("i", text.prompt, image(1))
    assert prompt_tokens(vlm, with_image) > prompt_tokens(vlm, text)  # the image's tokens count


def test_refuse_names_the_record_and_truncate_cuts_it_to_fit(vlm):
    limit = context_length(vlm)
    short, long = Sample("ok", "a short question"), Sample("big", "word " * (limit + 50))
    assert limit_to_context(vlm, [short], "refuse", new_tokens=8) == [short]
    with pytest.raises(InputError, match="record 'big'.*--long-prompt truncate"):
        limit_to_context(vlm, [short, long], "refuse", new_tokens=8)
    kept, cut = limit_to_context(vlm, [short, long], "truncate", new_tokens=8)
    assert kept is short
    length = prompt_tokens(vlm, cut)
    assert length + 8 <= limit and long.prompt.startswith(cut.prompt)
    assert cut.meta[TRUNCATED] == {"from_tokens": prompt_tokens(vlm, long), "to_tokens": length}
    assert TRUNCATED not in long.meta  # the request itself is left as it was
    assert truncation_field(cut) == {TRUNCATED: cut.meta[TRUNCATED]}
    assert truncation_field(short) == {}


def test_an_unknown_policy_is_one_clear_error(vlm):
    with pytest.raises(InputError, match="long-prompt policy 'cut'"):
        limit_to_context(vlm, [Sample("a", "x")], "cut")


def test_limit_requests_checks_the_caption_prompt_only_where_a_caption_is_to_be_made(vlm):
    limit = context_length(vlm)
    words = "word " * (limit - prompt_tokens(vlm, Sample("x", "", image(2))) - 4)
    to_caption = Sample("c", words, image(2))
    captioned = Sample("g", words, image(2), caption="a given caption")
    # fits as an answer prompt with 0 new tokens, but not inside the caption prompt
    assert prompt_tokens(vlm, to_caption) <= limit
    assert prompt_tokens(vlm, to_caption, CAPTION_PROMPT) + 16 > limit
    with pytest.raises(InputError, match="record 'c'"):
        limit_requests(vlm, [captioned, to_caption], "refuse", 0, caption_tokens=16)
    assert limit_requests(vlm, [captioned], "refuse", 0, caption_tokens=16) == [captioned]
    out = limit_requests(vlm, [captioned, to_caption], "truncate", 0, caption_tokens=16)
    assert out[0] is captioned and TRUNCATED in out[1].meta
    assert limit_requests(vlm, [to_caption], "refuse", 0) == [to_caption]  # no captioning
