"""The exceptions aiop raises. Each message is one line and names the file or input at fault,
as the command line's ``error:`` line does."""

from __future__ import annotations

__all__ = ["AiopError", "BadInputError", "MissingFileError", "UnknownTaskError"]


class AiopError(Exception):
    """Base class of aiop's exceptions."""


class BadInputError(AiopError, ValueError):
    """A model, CG file, predictor, label file or network spec that cannot be read or is not
    what it claims to be (where the command line exits with status 2)."""


class MissingFileError(BadInputError, FileNotFoundError):
    """An input file that does not exist."""


class UnknownTaskError(AiopError, ValueError):
    """A task the predictor has no output for; the message lists the tasks it has."""
