"""A stub judge and a tiny random Llama for LLM-judge tests."""

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from shiftdc.eval.judges import Judge, Verdict
from shiftdc.models.tiny_common import chat_template, word_tokenizer


def save_tiny_lm(out: Path, always: str | None = None) -> Path:
    """Save a tiny random Llama + WordLevel tokenizer; `always` makes greedy emit that word."""
    tok = word_tokenizer()
    tok.chat_template = chat_template("<image>")
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    if always is not None:
        # Residual stream = embedding with a constant positive feature 0; only `always` reads it.
        with torch.no_grad():
            model.model.embed_tokens.weight[:, 0] = 1.0
            for layer in model.model.layers:
                layer.self_attn.o_proj.weight.zero_()
                layer.mlp.down_proj.weight.zero_()
            model.lm_head.weight.zero_()
            model.lm_head.weight[tok.convert_tokens_to_ids(always), 0] = 10.0
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


class StubJudge(Judge):
    """Records the (text, response) pairs it is given; harmful iff the text says 'bomb'."""

    name = "stub"

    def __init__(self, context: str = "request") -> None:
        self.context = context
        self.seen: list[tuple[str, str]] = []

    def _judge(self, prompts: list[str], responses: list[str]) -> list[Verdict]:
        self.seen += list(zip(prompts, responses, strict=True))
        return [Verdict("bomb" in p, False, judge=self.name) for p in prompts]
