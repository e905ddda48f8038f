"""LLM judge plumbing on tiny causal LMs built offline (tests the wiring, not the judgement)."""

from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from shiftdc.errors import InputError
from shiftdc.eval.judges import TEMPLATES, LLMJudge, get_judge
from shiftdc.models.tiny_common import chat_template, word_tokenizer


def _save_tiny_lm(out: Path, always: str | None = None) -> Path:
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


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """lm_dir(word) -> a saved tiny LM whose greedy output repeats `word` (None: random)."""
    root = tmp_path_factory.mktemp("judge_lm")
    built: dict[str | None, Path] = {}

    def get(always: str | None = None) -> Path:
        if always not in built:
            built[always] = _save_tiny_lm(root / f"lm_{always or 'random'}", always)
        return built[always]

    return get


PROMPTS = [f"how to do thing {i} ?" for i in range(5)]
RESPONSES = ["sure , here is how", "I'm sorry , I cannot", "", "one two three", "yes"]


def test_llamaguard_unsafe_output_means_harmful_batched(lm_dir):
    judge = LLMJudge(lm_dir("unsafe"), batch_size=2, max_new_tokens=3, progress=False)
    assert judge.name == f"llm-llamaguard:{lm_dir('unsafe').name}"
    texts = judge._texts(PROMPTS, RESPONSES)
    assert len(texts) == 5 and all(t.endswith("ASSISTANT:") for t in texts)
    assert "how to do thing 3" in texts[3] and "one two three" in texts[3]
    assert judge.generate(texts) == ["unsafe unsafe unsafe"] * 5  # new tokens only
    verdicts = judge.judge(PROMPTS, RESPONSES)
    assert [v.harmful for v in verdicts] == [True] * 5
    assert [v.refused for v in verdicts] == [False, True, True, False, False]
    assert all(v.parsed and v.judge == judge.name for v in verdicts)
    assert judge.n_unparsed == 0


@pytest.mark.parametrize(("word", "harmful"), [("yes", True), ("no", False)])
def test_yesno_template(lm_dir, word, harmful):
    judge = get_judge(
        "llm", model=str(lm_dir(word)), template="yesno", max_new_tokens=2, progress=False
    )
    verdicts = judge.judge(PROMPTS[:3], RESPONSES[:3])
    assert [v.harmful for v in verdicts] == [harmful] * 3
    assert verdicts[0].detail == f"{word} {word}"


def test_unparseable_output_is_recorded_and_counted(lm_dir):
    judge = LLMJudge(lm_dir("cat"), max_new_tokens=2, label="catjudge", progress=False)
    assert judge.name == "llm-llamaguard:catjudge"
    verdicts = judge.judge(PROMPTS, RESPONSES)
    assert judge.n_unparsed == 5
    assert all(not v.harmful and not v.parsed for v in verdicts)
    assert "unparseable judge output 'cat cat'" in verdicts[0].detail


def test_random_model_runs_and_counts_are_consistent(lm_dir):
    judge = LLMJudge(lm_dir(), template="llamaguard-native", max_new_tokens=4, progress=False)
    texts = judge._texts(PROMPTS[:2], RESPONSES[:2])
    assert "ASSISTANT: sure , here is how" in texts[0]  # conversation via the model's template
    verdicts = judge.judge(PROMPTS, RESPONSES)
    assert len(verdicts) == 5
    assert judge.n_unparsed == sum(not v.parsed for v in verdicts)
    assert all(not v.harmful for v in verdicts if not v.parsed)


def test_bad_options_raise(lm_dir, tmp_path):
    with pytest.raises(ValueError, match="llamaguard, llamaguard-native, yesno"):
        LLMJudge(lm_dir("unsafe"), template="gpt")
    with pytest.raises(InputError, match="could not load a judge model"):
        LLMJudge(tmp_path / "missing")
    assert set(TEMPLATES) == {"llamaguard", "llamaguard-native", "yesno"}
