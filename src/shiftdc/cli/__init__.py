"""The command line: `shiftdc <command>` (also `python -m shiftdc`).

Modules:
  args.py            argument types, shared flag groups and help texts
  parser.py          the parser: one subparser per command, bound to its `cmd_<name>`
  commands.py        one `cmd_<name>` per command: reads its flags, calls the library, prints
  entry.py           main: parse, run one command, one-line errors and exit statuses
  check.py           the `check` command: its flags, report and exit status
  jobs.py            file-level jobs behind the commands (fit, caption, generate), resumable
  mechanics_demo.py  `shiftdc demo` on a tiny random model
"""

from shiftdc.cli.entry import main

__all__ = ["main"]
