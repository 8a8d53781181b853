"""Binary search over the sorted objective levels of a bottleneck model (internal).

p-center and p-dispersion have an optimum equal to one of finitely many *levels* (a
client-site or site-site distance). Their feasibility is monotone in the level: with
levels ordered so that a larger index is easier (p-center: ascending radius,
p-dispersion: descending spacing), feasible at ``k`` implies feasible at ``k + 1``. The
search keeps an incumbent index (feasible) and a proven index (every level below it is
proven infeasible); an oracle that can neither find a solution nor prove infeasibility
(time limit, model too large for the MIP) leaves the proof where it was, so the bound
stays valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LevelCheck", "BisectResult", "bisect_levels"]


@dataclass
class LevelCheck:
    """Answer of a feasibility oracle at one level.

    ``status``: ``"yes"`` (``sites`` reach level ``achieved`` <= the level asked),
    ``"no"`` (proven infeasible) or ``"unknown"``.
    """

    status: str
    sites: np.ndarray | None = None
    achieved: int = -1
    method: str = ""


@dataclass
class BisectResult:
    incumbent: int
    sites: np.ndarray
    proven: int
    checks: int
    methods: list[str] = field(default_factory=list)


def bisect_levels(
    n_levels: int,
    start: int,
    sites: np.ndarray,
    first: int,
    check: Callable[[int], LevelCheck],
    *,
    out_of_time: Callable[[], bool] = lambda: False,
) -> BisectResult:
    """Smallest feasible level index, from an incumbent at ``start`` (with ``sites``)
    and every index below ``first`` known infeasible."""
    inc, best = int(start), np.asarray(sites, dtype=np.int64)
    proven = min(int(first), inc)
    lo = proven
    checks = 0
    methods: list[str] = []
    while lo < inc and not out_of_time():
        mid = (lo + inc) // 2
        res = check(mid)
        checks += 1
        if res.method and res.method not in methods:
            methods.append(res.method)
        if res.status == "yes" and res.sites is not None:
            inc = min(mid, int(res.achieved)) if res.achieved >= 0 else mid
            best = np.asarray(res.sites, dtype=np.int64)
        elif res.status == "no":
            lo = mid + 1
            proven = max(proven, lo)
        else:
            lo = mid + 1  # search on above; the proof stays where it is
    del n_levels
    return BisectResult(inc, best, min(proven, inc), checks, methods)
