"""Pure tensor math of ShiftDC: directions, projections, corrections. Imports only torch.

Modules:
  calibration.py      corrections that remove the safety-relevant part of the shift
  mean_difference.py  the safety direction as a difference of class means
  projection.py       projection of a shift onto a safety direction
"""

from shiftdc.core.calibration import correction, paper_corrections
from shiftdc.core.mean_difference import diff_of_means
from shiftdc.core.projection import project, scalar_projection

__all__ = [
    "correction",
    "diff_of_means",
    "paper_corrections",
    "project",
    "scalar_projection",
]
