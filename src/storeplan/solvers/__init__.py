"""Location solvers: p-median, maximal covering, partial set covering, facility location.

Every solver takes a dense (clients x sites) cost array or a ``scipy.sparse`` CSR
matrix, honours :class:`Constraints`, and returns a :class:`Solution` with a proven
bound and gap. See ``docs/design.md`` for the contract.
"""

from __future__ import annotations

from .constraints import Constraints
from .coverage import coverage, set_cover
from .facility_location import facility_location
from .pmedian import pmedian
from .solution import Solution

__all__ = ["Constraints", "Solution", "coverage", "facility_location", "pmedian", "set_cover"]
