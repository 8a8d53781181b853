r"""Capacitated p-median and maximal covering: single-source assignment, exact MIP.

With :math:`d_i` the demand of client :math:`i` (same unit as the capacities: people
per year by default) and :math:`Q_j` the capacity of site :math:`j`:

.. math::

    \sum_i d_i x_{ij} \le Q_j y_j, \qquad x_{ij} \in \{0, 1\}, \qquad x_{ij} \le y_j,

with :math:`\sum_j x_{ij} = 1` (p-median: every client served, cost
:math:`\sum w_i c_{ij} x_{ij}` minimised) or :math:`\sum_{j : c_{ij} \le r} x_{ij} \le 1`
(covering: covered weight :math:`\sum w_i x_{ij}` maximised). Both are solved exactly by
HiGHS through the shared :class:`.builder.MipBuilder`, warm-started by the
*nearest-feasible* rule on the uncapacitated heuristic's sites (clients by decreasing
demand take their nearest open site that still has room). Models above
:data:`CAPACITY_MAX_ARCS` client-site pairs are refused with a named error rather than
solved with the capacity silently dropped.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InfeasibleError, InputError, SolverError, UnsupportedConstraintError
from .builder import INF, MipBuilder
from .constraints import FORBIDDEN, MUST, SideArrays, check_sites
from .solution import Solution, make_solution

__all__ = ["nearest_feasible", "solve_capacitated", "CAPACITY_MAX_ARCS"]

#: Largest number of client-site pairs of an exact capacitated model.
CAPACITY_MAX_ARCS = 250_000


def nearest_feasible(indptr, indices, demand, capacity, sites, *, allowed=None):
    """Single-source nearest-feasible assignment to the open ``sites``.

    Clients are taken by decreasing demand; each goes to its nearest (first in its
    sorted row) open site with room left, or stays unassigned (-1). ``allowed`` masks
    the stored pairs that may serve (e.g. within the coverage radius).
    Returns ``(assignment, load)``.
    """
    n = indptr.shape[0] - 1
    m = capacity.shape[0]
    is_open = np.zeros(m, dtype=bool)
    is_open[np.asarray(sites, dtype=np.int64)] = True
    left = np.where(is_open, capacity, 0.0).astype(np.float64)
    out = np.full(n, -1, dtype=np.int64)
    for i in np.argsort(-np.asarray(demand), kind="stable"):
        for k in range(indptr[i], indptr[i + 1]):
            if allowed is not None and not allowed[k]:
                continue
            j = indices[k]
            if is_open[j] and left[j] >= demand[i] - 1e-9 * max(1.0, demand[i]):
                out[i] = j
                left[j] -= demand[i]
                break
    load = np.bincount(out[out >= 0], weights=np.asarray(demand)[out >= 0], minlength=m)
    return out, load


def check_capacity_size(indptr, indices, side: SideArrays, label: str, allowed=None) -> None:
    """Refuse (named) a capacitated model too large for the exact MIP."""
    arc = side.status[indices] != FORBIDDEN
    if allowed is not None:
        arc &= allowed
    k = int(np.count_nonzero(arc))
    if k > CAPACITY_MAX_ARCS:
        raise UnsupportedConstraintError(
            f"{label}: capacity needs the exact single-source model, but it has {k:,} "
            f"client-site pairs (limit {CAPACITY_MAX_ARCS:,}); use fewer neighbours / a smaller "
            "max_km, or drop the capacity"
        )


def _check_capacity(kind, demand, capacity, side: SideArrays, kmax: int, label: str) -> None:
    if kind != "pmedian":
        return
    allowed = capacity[side.status != FORBIDDEN]
    top = np.sort(allowed)[::-1][:kmax].sum()
    total = float(np.sum(demand))
    if top < total * (1 - 1e-12):
        raise InfeasibleError(
            f"{label}: capacity: the {min(kmax, allowed.size)} largest-capacity sites that may open "
            f"serve at most {top:,.6g} but the demand is {total:,.6g}"
        )


def _fill_rows(capacity, demand, side: SideArrays, tolerance: float, label: str) -> np.ndarray:
    """Lower bounds of the load rows ``sum_i d_i x_ij - Q_j y_j``: ``-tolerance Q_j`` at
    must-open sites (filled to capacity), ``-inf`` elsewhere; refuses (named) what
    cannot be filled."""
    tol = float(tolerance)
    if not np.isfinite(tol) or tol < 0 or tol >= 1:
        raise InputError(f"{label}: fill_tolerance must be in [0, 1), got {tolerance!r}")
    must = np.flatnonzero(side.status == MUST)
    if must.size == 0:
        raise InputError(f"{label}: fill_must_open needs must-open sites (none given)")
    unlimited = must[~np.isfinite(capacity[must])]
    if unlimited.size:
        raise InputError(
            f"{label}: fill_must_open: must-open site {int(unlimited[0])} has no capacity to fill "
            "(unlimited); give it a capacity or drop fill_must_open"
        )
    need = float(np.sum((1 - tol) * capacity[must]))
    total = float(np.sum(demand))
    if need > total * (1 + 1e-12) + 1e-9:
        raise InfeasibleError(
            f"{label}: fill_must_open: the {must.size} must-open sites need {need:,.6g} of demand "
            f"to be filled but the total demand is {total:,.6g}"
        )
    lo = np.full(capacity.shape[0], -INF)
    lo[must] = -tol * capacity[must]
    return lo


def _fill_first(indptr, indices, raw, demand, capv, sites, allowed, side: SideArrays, tolerance: float):
    """A warm start for ``fill_must_open``: each must-open site first takes its nearest
    clients (by its own distance) until it is filled, the rest go nearest-feasible.
    Returns the assignment, or None when the rule fails to fill a site."""
    n = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    out = np.full(n, -1, dtype=np.int64)
    left = capv.astype(np.float64).copy()
    is_open = np.zeros(capv.shape[0], dtype=bool)
    is_open[np.asarray(sites, dtype=np.int64)] = True
    left[~is_open] = 0.0
    for j in np.flatnonzero((side.status == MUST) & is_open):
        want = (1 - tolerance) * capv[j]
        k = np.flatnonzero((indices == j) & allowed)
        for kk in k[np.argsort(raw[k], kind="stable")]:
            i = rows[kk]
            if capv[j] - left[j] >= want:
                break
            if out[i] < 0 and demand[i] <= left[j] + 1e-9:
                out[i] = j
                left[j] -= demand[i]
        if capv[j] - left[j] < want - 1e-9 * max(1.0, want):
            return None
    for i in np.argsort(-np.asarray(demand), kind="stable"):
        if out[i] >= 0:
            continue
        for kk in range(indptr[i], indptr[i + 1]):
            j = indices[kk]
            if allowed[kk] and is_open[j] and left[j] >= demand[i] - 1e-9 * max(1.0, demand[i]):
                out[i] = j
                left[j] -= demand[i]
                break
    return out


def solve_capacitated(
    kind: str,
    indptr,
    indices,
    raw,
    w,
    demand,
    capacity,
    side: SideArrays,
    kmin: int,
    kmax: int,
    *,
    radius: float | None,
    warm_sites,
    time_limit: float | None,
    seed: int,
    label: str,
    t0: float,
    fill_must_open: bool = False,
    fill_tolerance: float = 0.0,
) -> Solution:
    """Exact single-source capacitated ``kind`` ("pmedian" or "coverage") model.

    With ``fill_must_open`` every must-open site serves at least ``(1 - fill_tolerance)``
    of its capacity (spopt's ``fulfill_predefined_fac`` with ``fill_tolerance = 0``:
    filled exactly to capacity).
    """
    n = indptr.shape[0] - 1
    m = capacity.shape[0]
    rows_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    arc = side.status[indices] != FORBIDDEN
    if kind == "coverage":
        arc &= raw <= radius
    check_capacity_size(indptr, indices, side, label, arc)
    arc = np.flatnonzero(arc)
    _check_capacity(kind, demand, capacity, side, kmax, label)
    ai, aj = rows_of[arc], indices[arc].astype(np.int64)
    b = MipBuilder()
    ycol = b.add_sites(side, 0.0)
    obj = w[ai] * raw[arc] if kind == "pmedian" else w[ai]
    xcol = b.add_columns(obj, 0.0, 1.0, integer=True)
    na = arc.size
    if kind == "pmedian":
        b.add_rows(ai, xcol, np.ones(na), 1.0, 1.0, n)
    else:
        b.add_rows(ai, xcol, np.ones(na), -INF, 1.0, n)
    # x_ij <= y_j
    r = np.arange(na)
    b.add_rows(
        np.concatenate([r, r]),
        np.concatenate([xcol, ycol[aj]]),
        np.r_[np.ones(na), -np.ones(na)],
        -INF,
        0.0,
        na,
    )
    # sum_i d_i x_ij <= Q_j y_j
    capv = np.where(np.isfinite(capacity), capacity, float(np.sum(demand)) + 1.0)
    load_lo = np.full(m, -INF)
    if fill_must_open:
        load_lo = _fill_rows(capacity, demand, side, fill_tolerance, label)
    b.add_rows(
        np.concatenate([aj, np.arange(m)]),
        np.concatenate([xcol, ycol]),
        np.concatenate([demand[ai], -capv]),
        load_lo,
        0.0,
        m,
    )
    b.add_side(side, ycol, kmin, kmax)
    warm = None
    warm_assign = None
    if warm_sites is not None and len(warm_sites) and check_sites(side, warm_sites) is None:
        allowed = np.zeros(indices.shape[0], dtype=bool)
        allowed[arc] = True
        if fill_must_open:
            warm_assign = _fill_first(
                indptr, indices, raw, demand, capv, warm_sites, allowed, side, fill_tolerance
            )
        else:
            warm_assign, _ = nearest_feasible(indptr, indices, demand, capv, warm_sites, allowed=allowed)
        if warm_assign is not None and (kind == "coverage" or np.all(warm_assign >= 0)):
            x = np.zeros(b.n_col)
            x[ycol[np.asarray(warm_sites, dtype=np.int64)]] = 1.0
            pos = {(int(i), int(j)): t for t, (i, j) in enumerate(zip(ai, aj, strict=True))}
            for i in np.flatnonzero(warm_assign >= 0):
                x[xcol[pos[(int(i), int(warm_assign[i]))]]] = 1.0
            warm = x
        else:
            warm_assign = None
    status, x, value, bound, nodes = b.solve(
        maximise=kind == "coverage",
        time_limit=300.0 if time_limit is None else time_limit,
        warm=warm,
        seed=seed,
        started=None if time_limit is None else t0,
    )
    if status == "infeasible":
        raise InfeasibleError(
            f"{label}: capacity: no single-source assignment of the clients fits the capacities "
            + ("with the must-open sites filled " if fill_must_open else "")
            + "under the side constraints (proven by the MIP)"
        )
    if x is None:
        raise SolverError(f"{label}: no feasible capacitated solution found within the time limit")
    sites = np.flatnonzero(x[ycol] > 0.5)
    assignment = np.full(n, -1, dtype=np.int64)
    chosen = x[xcol] > 0.5
    assignment[ai[chosen]] = aj[chosen]
    load = np.bincount(aj[chosen], weights=demand[ai[chosen]], minlength=m)
    if np.any(load > capv * (1 + 1e-9) + 1e-9):  # pragma: no cover - guarded by the MIP
        raise SolverError(f"{label}: internal error, a capacity is exceeded")
    if kind == "pmedian":
        objective = float(np.sum(w[ai[chosen]] * raw[arc][chosen]))
    else:
        objective = float(np.sum(w[ai[chosen]]))
    return make_solution(
        sites,
        assignment,
        objective,
        bound,
        seconds=time.perf_counter() - t0,
        iterations=nodes,
        method="capacitated-mip" + ("(fill-must-open)" if fill_must_open else ""),
        sense="max" if kind == "coverage" else "min",
        mip_optimal=status == "optimal",
        info={"load": load[sites], "capacity": capv[sites]},
    )
