"""What the server loads at start: model, safety direction, captioner (library pieces only)."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

from shiftdc.method.captions import Captioner, default_cache_dir
from shiftdc.method.direction import SafetyDirection
from shiftdc.models import load_vlm
from shiftdc.models.adapter import Adapter
from shiftdc.models.loading import VLM
from shiftdc.serve.config import ServeConfig

log = logging.getLogger("shiftdc.serve")
TESTBED_NAME = "shiftdc-testbed"


@dataclass
class Components:
    vlm: VLM
    direction: SafetyDirection
    captioner: Captioner
    name: str  # the model id clients send
    counter: Adapter  # the same adapter over a private processor copy, for token counts
    context: int  # the model's context length in tokens


def _model_path(config: ServeConfig) -> tuple[str, str]:
    if config.model is not None:
        return config.model, config.served_model_name or Path(config.model).name or config.model
    from shiftdc.testbed.build import ensure_testbed

    path = ensure_testbed()  # built on first use, as `shiftdc demo` does
    log.info("serving the testbed (miniature aligned LLaVA) from %s", path)
    return str(path), config.served_model_name or TESTBED_NAME


def _direction(config: ServeConfig, vlm: VLM) -> SafetyDirection:
    if config.direction is not None:
        log.info("safety direction loaded from %s", config.direction)
        return SafetyDirection.load(config.direction, vlm)
    from shiftdc.method.direction import fit_builtin_direction, shipped_direction_of

    shipped = shipped_direction_of(vlm)  # the testbed, by default or by path
    if shipped is not None:
        log.info(
            "safety direction: the testbed's shipped one, fitted on the built-in "
            "direction set (%s)",
            shipped,
        )
        return SafetyDirection.load(shipped, vlm)

    out = default_cache_dir().parent / "serve-directions" / vlm.fingerprint
    if (out / "direction").is_dir():
        direction = SafetyDirection.load(out / "direction", vlm)
        log.info(
            "no --direction given: using the one fitted earlier on the built-in "
            "direction set for this model (%s)",
            out / "direction",
        )
        return direction
    direction, _ = fit_builtin_direction(vlm, [], out, seed=0, batch_size=8)
    log.info(
        "no --direction given: fitted one on the built-in direction set (%s safe + %s unsafe "
        "text-only requests), saved to %s",
        direction.meta.get("n_safe"),
        direction.meta.get("n_unsafe"),
        out / "direction",
    )
    return direction


def load_components(config: ServeConfig) -> Components:
    """Load everything once; raises the library's own errors for bad settings."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path, name = _model_path(config)
    vlm = load_vlm(path, dtype=config.dtype, device=config.device)
    direction = _direction(config, vlm)
    cap_vlm = vlm
    if config.captioner is not None:
        cap_vlm = load_vlm(config.captioner, dtype=config.dtype, device=config.device)
    captioner = Captioner(
        cap_vlm,
        max_new_tokens=config.caption_tokens,
        cache_dir=config.cache_dir,
        batch_size=config.max_batch_size,
        progress=False,
    )
    counter = type(vlm.adapter)(vlm.model, copy.deepcopy(vlm.processor))
    text_cfg = vlm.adapter.text_config()
    context = int(getattr(text_cfg, "max_position_embeddings", 0) or 1 << 30)
    return Components(vlm, direction, captioner, name, counter, context)
