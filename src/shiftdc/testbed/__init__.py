"""The testbed: a miniature, safety-aligned LLaVA built from SmolLM2-135M and small weights.

`build_testbed(out)` (CLI: `shiftdc make-testbed`) assembles the checkpoint; `measure`
holds the text-vs-image measurement; `train` retrains the committed weights. See
docs/testbed.md and DATA_CARD.md. Importing this package loads no model.
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
