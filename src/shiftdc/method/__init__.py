"""ShiftDC itself: the safety direction, the calibrated pipeline and what configures it.

Modules:
  sample.py           Sample: one image + text request (id, prompt, image, caption)
  layers.py           the one rule for decoder-layer indices: resolve_layers
  direction.py        SafetyDirection: fit, save, load, check against a model
  captions.py         query-aware self-captions (Captioner), cached on disk
  caption_routing.py  where each request's caption comes from, and so its path
  modes.py            MODES: how a pass turns into corrections (paper, sequential)
  positions.py        POSITIONS: where corrections apply (last, all)
  settings.py         the configuration a call uses: explicit, else recommended, else defaults
  results.py          what ShiftDC returns: Calibration, ShiftResult, Trace
  pipeline.py         ShiftDC: calibrate, apply, generate, trace
  check.py            `shiftdc check`: the fast path against a naive whole-pass reference
"""
