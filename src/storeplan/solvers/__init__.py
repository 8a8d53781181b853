"""Location solvers: p-median, maximal covering, partial set covering, facility location,
p-center, p-dispersion and backup coverage.

Every solver takes a dense (clients x sites) cost array or a ``scipy.sparse`` CSR
matrix, honours :class:`Constraints` (must-open, forbidden, group limits, minimum
spacing) and returns a :class:`Solution` with a proven bound and gap. See
``docs/design.md`` for the contract.

Pipeline (one engine for every objective, see :mod:`._kernels`):

1. validation and one sorted CSR / CSC structure (int32 indices, float64 costs);
2. lazy greedy construction (randomized greedy when spacing constraints block it);
3. fast-interchange add / drop / swap local search in Numba (Whitaker 1983,
   Resende & Werneck 2007), O(nnz) per improving move;
4. Lagrangian relaxation by subgradient optimisation: lower bound for p-median / UFL,
   upper bound for maximal covering, plus local search from the Lagrangian sites;
5. variable neighbourhood search when a gap remains and the MIP will not run;
6. reduced-cost fixing, then a HiGHS MIP on the radius (level) formulation of what
   is left, warm-started from the heuristic; when the reduced model is large, a
   truncated radius model expanded per client (García, Labbé & Marín 2011).

``proven_optimal`` is True when the bound meets the objective within a relative
``1e-9`` (integer data: after rounding the bound up), or when HiGHS proved optimality
with ``mip_rel_gap = 1e-7`` (so the gap is below ``1e-6``). Results are deterministic
for a ``seed`` unless ``time_limit`` cuts a phase short.
"""

from __future__ import annotations

from .backup import backup_coverage
from .constraints import Constraints, Quota
from .coverage import coverage, set_cover
from .dispersion import pdispersion
from .facility_location import facility_location
from .pcenter import pcenter
from .pmedian import pmedian
from .solution import Solution

__all__ = [
    "Constraints",
    "Quota",
    "Solution",
    "backup_coverage",
    "coverage",
    "facility_location",
    "pcenter",
    "pdispersion",
    "pmedian",
    "set_cover",
]
