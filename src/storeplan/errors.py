"""The storeplan exception hierarchy and warning categories.

Every error a user can cause derives from :class:`StoreplanError`, so callers (and
the CLI) can catch one class and show one readable line. Every warning storeplan
issues derives from :class:`StoreplanWarning` (filter them with
``warnings.simplefilter("ignore", StoreplanWarning)``, or one category at a time).
"""

from __future__ import annotations

__all__ = [
    "StoreplanError",
    "InputError",
    "MissingColumnError",
    "InvalidCoordinateError",
    "DuplicateIdError",
    "NegativeValueError",
    "EmptyInputError",
    "UnreadableFileError",
    "UnknownOptionError",
    "CRSError",
    "OutputFolderError",
    "InfeasibleError",
    "SolverError",
    "UnsupportedConstraintError",
    "StoreplanWarning",
    "GapWarning",
    "CalibrationWarning",
    "InputWarning",
]


class StoreplanError(Exception):
    """Base class of every error storeplan raises on purpose."""


class InputError(StoreplanError, ValueError):
    """The input data or scenario is invalid."""


class MissingColumnError(InputError):
    """A required column is missing from a table."""


class InvalidCoordinateError(InputError):
    """A longitude/latitude is NaN or outside [-180, 180] x [-90, 90]."""


class DuplicateIdError(InputError):
    """Two rows of one table share an id."""


class NegativeValueError(InputError):
    """A quantity that must be non-negative (population, demand, cost) is negative or NaN."""


class EmptyInputError(InputError):
    """A table or file has no rows."""


class UnreadableFileError(InputError):
    """A file does not exist, cannot be read, or has an unsupported format."""


class UnknownOptionError(InputError):
    """An option has a value outside its allowed set (e.g. an unknown objective)."""


class CRSError(InputError):
    """A coordinate reference system is unknown or cannot be converted to WGS84."""


class OutputFolderError(InputError):
    """The output folder cannot be used: a file is in the way, no permission, or it holds
    files that are not a storeplan output set."""


class InfeasibleError(StoreplanError):
    """The constraints cannot all be met; the message names the constraint."""


class SolverError(StoreplanError):
    """A solver failed for a reason other than infeasibility."""


class UnsupportedConstraintError(InputError):
    """A constraint the chosen objective cannot model (named, never silently ignored)."""


# ---------------------------------------------------------------------------- warnings
class StoreplanWarning(UserWarning):
    """Base class of every warning storeplan issues."""


class GapWarning(StoreplanWarning):
    """A plan is not proven optimal and its certified gap is above the threshold
    (a time limit stopped the solver first); the plan is feasible, the gap is an
    upper bound on how far from optimal it can be."""


class CalibrationWarning(StoreplanWarning):
    """Calibration of the market model was asked for but could not run (no
    ``annual_sales`` column, too few stores with sales) or fits the observed sales badly."""


class InputWarning(StoreplanWarning):
    """The input is accepted but probably not what was meant (the message says why)."""
