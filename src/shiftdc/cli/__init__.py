"""The command line: `shiftdc <command>` (also `python -m shiftdc`).

Modules:
  commands.py        the parser and one `cmd_<name>` per command, calling the library
  jobs.py            file-level jobs behind the commands (fit, caption, generate), resumable
  mechanics_demo.py  `shiftdc demo` on a tiny random model
"""

from shiftdc.cli.commands import main

__all__ = ["main"]
