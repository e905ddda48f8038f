"""`shiftdc tune`: choose ShiftDC's mode, layers, alpha and positions for a model.

Modules:
  degenerate.py  degenerate answers: text that repeats itself
  grid.py        the configurations compared: modes x layer ranges x alphas x positions
  pareto.py      the Pareto plot: benign over-refusal vs harmful refusal
  recommend.py   the rule that picks one configuration from a tuning table
  report.py      the tuning table, the Pareto plot and the recommendation
  run.py         tune: evaluate a grid of configurations on a tuning set, recommend one
  shared.py      one measurement per request, shared by every configuration of the grid
  tuning_set.py  the requests measured: harmful and benign image requests, yes/no questions
"""

from shiftdc.tuning.run import TuneConfig, tune

__all__ = ["TuneConfig", "tune"]
