"""Diagnosis of safety perception distortion on activation arrays (no models needed)."""

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
