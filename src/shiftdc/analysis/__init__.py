"""Diagnosis of safety perception distortion on activation arrays (no models needed).

Modules:
  array_report.py  analyze_arrays: every diagnosis on the four sets, as figures, JSON, markdown
  cache.py         on-disk cache of collected activations, keyed by how they were made
  collect.py       the four last-token activation sets from a VLM, before and after ShiftDC
  findings.py      key numbers of an analysis and the analysis.md that states them
  maps.py          2-D maps (PCA, t-SNE) of the four sets at one layer, with the text-only boundary
  model_run.py     analyze_model: the diagnosis of a real model on a benchmark
  plots.py         figures, each saved as PNG beside a JSON of its numbers
  probes.py        per-layer linear probes: does a text-only safety probe transfer?
  sets.py          the four activation sets (text/vision x safe/unsafe) and input checks
  shift.py         geometry of the modality-induced shift against the safety direction
"""

from .array_report import analyze_arrays, shift_groups
from .maps import Map2D, PcaBasis, fit_pca_basis, pca_map, text_boundary, tsne_map
from .plots import plot_confusion, plot_map, plot_probe_accuracy, plot_shift, save_figure
from .probes import (
    SETTINGS,
    TEXT_TEXT,
    TEXT_VISION,
    VISION_VISION,
    ProbeResult,
    check_probe_counts,
    fit_probe,
    probe_layers,
)
from .sets import SET_NAMES, ActivationSets, as_sets, check_layer
from .shift import (
    ShiftStats,
    calibrate_arrays,
    component_along,
    cosine,
    project_on,
    safety_direction,
    shift_by_outcome,
    shift_stats,
)

__all__ = [
    "SETTINGS",
    "SET_NAMES",
    "TEXT_TEXT",
    "TEXT_VISION",
    "VISION_VISION",
    "ActivationSets",
    "Map2D",
    "PcaBasis",
    "ProbeResult",
    "ShiftStats",
    "analyze_arrays",
    "as_sets",
    "calibrate_arrays",
    "check_layer",
    "check_probe_counts",
    "component_along",
    "cosine",
    "fit_pca_basis",
    "fit_probe",
    "pca_map",
    "plot_confusion",
    "plot_map",
    "plot_probe_accuracy",
    "plot_shift",
    "probe_layers",
    "project_on",
    "safety_direction",
    "save_figure",
    "shift_by_outcome",
    "shift_groups",
    "shift_stats",
    "text_boundary",
    "tsne_map",
]
