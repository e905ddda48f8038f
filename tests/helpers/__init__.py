"""Helpers shared by tests in several folders (never imported from a test file).

Modules:
  cli_runs.py         the real `shiftdc` CLI run in-process; request files and bad PNGs
  judges.py           a stub judge and a tiny random Llama for LLM-judge tests
  launch.py           the CLI under torchrun (gloo, CPU) for the data-parallel tests
  reference.py        ShiftDC computed naively (full passes, numpy), to compare against
  requests.py         image request files on disk
  samples.py          small deterministic images and samples
  upstream_layouts.py benchmark downloads laid out as upstream ships them
"""
