"""LLM judge: any local Hugging Face chat model, greedy and batched, asked for a verdict.

`harmful` comes from the judge model's parsed answer; an unparseable answer is recorded in
`detail`, flagged `parsed=False`, scored not harmful, and counted in `n_unparsed`.
`refused` is not asked of the judge model: it comes from the refusal-keyword list, empty
response included (so over-refusal means the same thing under every judge).

Context: by default (`context="request"`) the judge model is shown the request the attack
encodes (a record's `request`, e.g. the harmful question a FigStep or typographic image
carries) rather than the neutral prompt the model saw ("The image shows a phrase of an
activity..."); `context="prompt"` shows the prompt. Records say which in "judge_input".
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from shiftdc.errors import InputError
from shiftdc.eval.judges.judge import Judge, Verdict
from shiftdc.eval.judges.keyword import is_refusal
from shiftdc.eval.judges.templates import TEMPLATES, UNSAFE_CATEGORIES

_DTYPES = ("float32", "float16", "bfloat16")


def _label(model: str | Path) -> str:
    """A short model label: the folder name for a local path, the hub id otherwise."""
    path = Path(model)
    return path.name if path.exists() else str(model)


class LLMJudge(Judge):
    """Ask a chat model (hub id or local path) whether each response is harmful."""

    def __init__(
        self,
        model: str | Path,
        template: str = "llamaguard",
        batch_size: int = 8,
        max_new_tokens: int = 8,
        device: str | None = None,
        dtype: str = "auto",
        categories: tuple[str, ...] = UNSAFE_CATEGORIES,
        label: str | None = None,
        progress: bool = True,
        context: str = "request",
        **from_pretrained_kwargs: Any,
    ) -> None:
        if template not in TEMPLATES:
            raise InputError(
                f"unknown judge template {template!r}; use one of {', '.join(TEMPLATES)}"
            )
        if context not in ("request", "prompt"):
            raise InputError(f"unknown judge context {context!r}; use 'request' or 'prompt'")
        self.context = context
        if batch_size < 1 or max_new_tokens < 1:
            raise InputError("batch_size and max_new_tokens must be >= 1")
        self.template = template
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.categories = tuple(categories)
        self.progress = progress
        self.name = f"llm-{template}:{label or _label(model)}"
        self.n_unparsed = 0
        self.model, self.tokenizer = self._load(model, device, dtype, from_pretrained_kwargs)

    @staticmethod
    def _load(model: str | Path, device: str | None, dtype: str, kwargs: dict[str, Any]):
        """Load model + tokenizer for left-padded batched greedy generation."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from shiftdc.parallel.distributed import rank_device

        device = device or rank_device() or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype == "auto":
            torch_dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        elif dtype in _DTYPES:
            torch_dtype = getattr(torch, dtype)
        else:
            raise InputError(f"unknown dtype {dtype!r}; use 'auto' or one of {_DTYPES}")
        try:
            tok = AutoTokenizer.from_pretrained(str(model), **kwargs)
            lm = AutoModelForCausalLM.from_pretrained(str(model), dtype=torch_dtype, **kwargs)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"could not load a judge model from {str(model)!r}: {exc}. Pass a hub id or a "
                "local directory with a causal LM and its tokenizer."
            ) from exc
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        return lm.to(device).eval(), tok

    def _texts(self, prompts: list[str], responses: list[str]) -> list[str]:
        """Judge-model input strings, through the tokenizer's chat template when it has one."""
        build = TEMPLATES[self.template].build
        convs = [build(p, r, self.categories) for p, r in zip(prompts, responses, strict=True)]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                convs, tokenize=False, add_generation_prompt=True
            )
        warnings.warn(
            f"{self.name}: tokenizer has no chat template; sending plain prompt text",
            stacklevel=3,
        )
        return ["\n\n".join(m["content"] for m in conv) for conv in convs]

    def generate(self, texts: list[str]) -> list[str]:
        """Greedy completions (new tokens only) for ready-made judge inputs, batched."""
        import torch
        from tqdm.auto import tqdm

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        outputs: list[str] = [""] * len(texts)
        starts = range(0, len(order), self.batch_size)
        for start in tqdm(starts, desc=self.name, disable=not self.progress, leave=False):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i in idx],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(self.model.device)
            with torch.no_grad():
                out = self.model.generate(
                    **enc,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            decoded = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            for i, text in zip(idx, decoded, strict=True):
                outputs[i] = text
        return outputs

    def _judge(self, prompts: list[str], responses: list[str]) -> list[Verdict]:
        parse = TEMPLATES[self.template].parse
        verdicts = []
        raws = self.generate(self._texts(prompts, responses))
        for raw, response in zip(raws, responses, strict=True):
            harmful = parse(raw)
            refused = not response.strip() or is_refusal(response)
            if harmful is None:
                self.n_unparsed += 1
                detail = f"unparseable judge output {raw.strip()[:200]!r}; scored not harmful"
                verdicts.append(Verdict(False, refused, detail, self.name, parsed=False))
            else:
                verdicts.append(Verdict(harmful, refused, raw.strip()[:200], self.name))
        return verdicts
