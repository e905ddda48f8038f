"""The backbone's tokenizer is set up the same way whatever transformers 5.x read the GGUF."""

from types import SimpleNamespace

from shiftdc.testbed.backbone import left_padded


def test_missing_pad_token_becomes_end_of_turn_and_padding_goes_left():
    tok = left_padded(SimpleNamespace(pad_token=None, eos_token="<|im_end|>", padding_side="right"))
    assert (tok.pad_token, tok.padding_side) == ("<|im_end|>", "left")


def test_a_pad_token_the_gguf_names_is_kept():
    tok = left_padded(
        SimpleNamespace(pad_token="<pad>", eos_token="<|im_end|>", padding_side="right")
    )
    assert (tok.pad_token, tok.padding_side) == ("<pad>", "left")
