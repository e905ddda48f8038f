"""shiftdc: training-free safety calibration of vision-language models (ShiftDC)."""

__version__ = "0.1.0"
