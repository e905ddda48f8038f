"""User-facing error types: each message says what was wrong and what to do."""


class ShiftDCError(Exception):
    """Base class for errors caused by user input; the CLI prints them without a traceback."""


class InputError(ShiftDCError, ValueError):
    """A malformed input file, record, image or argument."""


class DirectionMismatchError(ShiftDCError, ValueError):
    """A saved safety direction does not fit the model it is applied to."""


class FailedItemsError(ShiftDCError):
    """More items failed than --max-failed allows; the CLI exits with status 3."""

    exit_status = 3
