"""`shiftdc tune`: choose ShiftDC's mode, layers, alpha and positions for a model."""

from shiftdc.tuning.run import TuneConfig, tune

__all__ = ["TuneConfig", "tune"]
