"""The result object every solver returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Solution", "PROVEN_TOL", "MIP_PROVEN_TOL", "relative_gap"]

#: A bound within this relative distance of the objective proves optimality.
PROVEN_TOL = 1e-9
#: Largest relative gap reported as proven when HiGHS (run with ``mip_rel_gap`` one tenth
#: of this) proved optimality.
MIP_PROVEN_TOL = 1e-6


def relative_gap(objective: float, bound: float) -> float:
    r"""Relative optimality gap :math:`|z - b| / \max(|z|, 10^{-12})`."""
    if not np.isfinite(bound):
        return float("inf")
    return float(abs(objective - bound) / max(abs(objective), 1e-12))


@dataclass(frozen=True)
class Solution:
    """A solved location problem.

    Attributes
    ----------
    sites : ndarray of int64
        Open sites (column indices of the cost matrix), sorted ascending.
    assignment : ndarray of int64, shape (n_clients,)
        Site serving each client, or -1 when the client is unserved (p-median / UFL
        with ``unserved_cost``) or uncovered (coverage models).
    objective : float
        Objective value in the units of the cost matrix (weighted cost) or of the
        weights (covered weight for coverage, number of sites for set cover).
    bound : float
        Proven bound on the optimum: a lower bound for ``sense == "min"``, an upper
        bound for ``sense == "max"``.
    gap : float
        ``|objective - bound| / max(|objective|, 1e-12)``; 0.0 when proven optimal.
    proven_optimal : bool
        True when the gap is at most :data:`PROVEN_TOL` (after rounding the bound up
        when every objective value is an integer), or when the gap is at most
        :data:`MIP_PROVEN_TOL` and HiGHS proved optimality (``mip_rel_gap`` =
        ``MIP_PROVEN_TOL / 10``) or reduced-cost fixing left no better solution.
    seconds : float
        Wall-clock time, seconds.
    iterations : int
        Local-search moves plus subgradient iterations plus branch-and-bound nodes.
    method : str
        Which methods produced the result, e.g. ``"greedy+swap+lagrangian+mip"``.
    sense : str
        ``"min"`` or ``"max"``.
    """

    sites: np.ndarray
    assignment: np.ndarray
    objective: float
    bound: float
    gap: float
    proven_optimal: bool
    seconds: float
    iterations: int
    method: str
    sense: str = "min"
    info: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_sites(self) -> int:
        """Number of open sites."""
        return int(self.sites.shape[0])


def make_solution(
    sites,
    assignment,
    objective: float,
    bound: float,
    *,
    seconds: float,
    iterations: int,
    method: str,
    sense: str,
    mip_optimal: bool = False,
    integral: bool = False,
    info: dict | None = None,
) -> Solution:
    """Build a :class:`Solution`, computing the gap and the proven flag consistently.

    ``integral`` means every feasible objective value is an integer, so a bound can be
    rounded towards the objective (up for min, down for max) before comparing.
    """
    objective = float(objective)
    bound = float(bound)
    if integral and np.isfinite(bound):
        bound = float(np.ceil(bound - 1e-6)) if sense == "min" else float(np.floor(bound + 1e-6))
    # a bound can never be better than a feasible objective: absorb round-off only
    tol = 1e-7 * max(abs(objective), 1.0)
    over_min = sense == "min" and objective < bound <= objective + tol
    over_max = sense == "max" and objective - tol <= bound < objective
    if over_min or over_max:
        bound = objective
    gap = relative_gap(objective, bound)
    proven = gap <= PROVEN_TOL or (mip_optimal and gap <= MIP_PROVEN_TOL)
    if objective == 0.0 and bound == 0.0:
        proven, gap = True, 0.0
    return Solution(
        sites=np.sort(np.asarray(sites, dtype=np.int64)),
        assignment=np.asarray(assignment, dtype=np.int64),
        objective=objective,
        bound=bound,
        gap=0.0 if proven else gap,
        proven_optimal=bool(proven),
        seconds=float(seconds),
        iterations=int(iterations),
        method=method,
        sense=sense,
        info=dict(info or {}),
    )
