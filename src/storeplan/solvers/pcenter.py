r"""The p-center problem: minimise the largest (weighted) client-to-site cost.

.. math::

    \min \; z \quad\text{s.t.}\quad \sum_{j \in N(i)} x_{ij} = 1,\;\; x_{ij} \le y_j,\;\;
    \sum_{j \in N(i)} w_i c_{ij} x_{ij} \le z \;\forall i,\;\;
    \sum_j y_j = p,\;\; y \in Y_{\text{side}},\;\; y \in \{0,1\}^m

(Hakimi 1965; spopt's ``PCenter``; the unweighted model has :math:`w_i = 1`). The
optimum is one of the values :math:`w_i c_{ij}`, and "can ``p`` sites serve every
client within :math:`r`?" is monotone in :math:`r`, so the solver bisects on the sorted
values (Minieka 1970; Daskin 2000): each step is a set-covering feasibility problem
answered, in order, by the shared greedy + fast-interchange covering heuristic (a
cover found: feasible), the Lagrangian covering bound (it proves that no ``p`` sites
cover everyone: infeasible) and, when small enough, an exact HiGHS feasibility MIP
built with :class:`.builder.MipBuilder`. Every constraint of :class:`Constraints`
(must-open, forbidden, spacing, groups, budget and quota knapsack rows) holds in each
step. ``bound`` is the smallest level not proven infeasible, so the gap is certified
even when a time limit stops the search. ``method="mip"`` solves the formulation above
in one HiGHS model instead (a cross-check).

With ``unserved_cost`` (per unit weight: the largest stored cost of a client on a
radius-limited network, as in :func:`.pmedian`) a client none of whose stored sites is
open costs :math:`w_i U_i`; with :math:`U_i` at most the true cost of every site not
stored, the model is a relaxation and its bound stays valid for the full problem.
Clients of weight 0 are ignored.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InfeasibleError, InputError, SolverError
from ._bisect import LevelCheck, bisect_levels
from ._minimize import MIP_AUTO_ARCS, check_method
from ._validate import (
    as_sorted_csr,
    build_instance,
    check_n_m,
    check_p,
    check_time_limit,
    check_unserved,
    check_weights,
)
from .bounds import lagrangian_cover
from .builder import INF, MipBuilder
from .constraints import FORBIDDEN, Constraints, SideArrays, check_sites, prepare
from .solution import Solution, make_solution
from .swap import heuristic_search

__all__ = ["pcenter", "bottleneck_value"]


def bottleneck_value(
    indptr: np.ndarray, indices: np.ndarray, wcost: np.ndarray, unserved: np.ndarray, sites: np.ndarray
) -> tuple[float, np.ndarray]:
    """Largest over clients of the cost to the nearest open stored site (or the
    client's ``unserved`` cost, ``inf`` when it may not stay unserved), with the
    assignment (-1: unserved). Rows must be sorted by cost. Clients whose ``unserved``
    is NaN are ignored (weight 0)."""
    n = indptr.shape[0] - 1
    size = max(int(indices.max(initial=-1)), int(np.max(sites, initial=-1))) + 1
    m_open = np.zeros(size, dtype=bool)
    m_open[np.asarray(sites, dtype=np.int64)] = True
    hit = m_open[indices]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    first = np.full(n, -1, dtype=np.int64)
    k = np.flatnonzero(hit)
    # rows are sorted ascending: the first open entry of a row is its nearest open site
    r, pos = np.unique(rows[k], return_index=True)
    first[r] = k[pos]
    value = np.where(first >= 0, wcost[np.maximum(first, 0)], np.inf)
    value = np.minimum(value, unserved)
    assignment = np.where(
        (first >= 0) & (wcost[np.maximum(first, 0)] <= unserved), indices[np.maximum(first, 0)], -1
    )
    ignore = np.isnan(unserved)
    value[ignore] = 0.0
    return (float(value.max(initial=0.0)), assignment.astype(np.int64))


def pcenter(
    cost,
    p: int | None,
    *,
    weights=None,
    constraints: Constraints | None = None,
    unserved_cost=None,
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "auto",
) -> Solution:
    """Open ``p`` sites minimising the largest weighted client-to-site cost.

    Parameters
    ----------
    cost : ndarray or scipy.sparse CSR, shape (n_clients, n_sites)
        Cost (e.g. km); a missing CSR entry (or ``inf``) means the client cannot use
        the site.
    p : int or None
        Number of sites to open. None: as many as ``constraints.budget`` allows.
    weights : array-like, shape (n_clients,), optional
        Client weights :math:`w_i` (default 1: the classical unweighted p-center);
        clients of weight 0 are ignored.
    constraints : Constraints, optional
        Must-open, forbidden, groups, spacing, budget and quotas.
    unserved_cost : float or array-like, optional
        Cost per unit weight of a client none of whose stored sites is open. None:
        every client (of positive weight) must be served by a stored site.
    time_limit : float, optional
        Wall-clock limit, seconds (the bound stays valid when it stops the search).
    seed : int
        Seed of the randomised heuristic phases.
    method : {"auto", "heuristic", "mip"}
        ``auto``: bisection with heuristic / Lagrangian / exact MIP feasibility steps
        (the MIP when a step has at most 200,000 pairs); ``heuristic``: no MIP;
        ``mip``: the one-model formulation of the module docstring.

    Returns
    -------
    Solution
        ``objective`` is :math:`\\max_i w_i c_{i,a(i)}` (cost units times weight
        units), ``bound`` a proven lower bound, ``assignment`` the nearest open site
        (-1: unserved).
    """
    t0 = time.perf_counter()
    method = check_method(method)
    n, m, indptr, indices, vals = as_sorted_csr(cost)
    check_n_m(n, m)
    if p is None:
        if constraints is None or constraints.budget is None:
            raise InputError("pcenter: give p (the number of sites) or constraints.budget")
        kmin, kmax = 1, m
    else:
        p = check_p(p, m)
        kmin, kmax = p, p
    w = check_weights(weights, n)
    u = check_unserved(unserved_cost, n)
    tl = check_time_limit(time_limit)
    deadline = None if tl is None else t0 + tl
    side = prepare(constraints, m, kmin, kmax)
    active = w > 0
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    wc = vals * w[rows]
    # weighted unserved cost; NaN marks an ignored client (weight 0)
    uw = np.full(n, np.inf) if u is None else u * w
    uw = np.where(active, uw, np.nan)
    if u is None:
        _check_active(indptr, indices, side.status, active)
    allowed_arc = (side.status[indices] != FORBIDDEN) & active[rows]
    levels = np.unique(np.concatenate([wc[allowed_arc], uw[np.isfinite(uw)]]))
    if levels.size == 0:
        levels = np.zeros(1)
    # every client needs at least its cheapest allowed option
    cheapest = np.full(n, np.inf)
    np.minimum.at(cheapest, rows[allowed_arc], wc[allowed_arc])
    cheapest = np.minimum(cheapest, np.where(active, uw, 0.0))
    cheapest[~active] = 0.0
    first = int(np.searchsorted(levels, float(cheapest.max(initial=0.0)) * (1 - 1e-12), side="left"))
    if method == "mip":
        return _one_mip(indptr, indices, wc, uw, side, kmin, kmax, tl, seed, t0)

    # incumbent: the p-median heuristic's sites (every constraint holds)
    base = build_instance(
        n, m, indptr, indices, wc, np.where(np.isfinite(uw), uw, 0.0) if u is not None else None
    )
    res = heuristic_search(base, side, kmin, kmax, seed=int(seed), deadline=deadline)
    if res.state is None:
        cov = _cover_check(
            indptr, indices, wc, uw, side, kmin, kmax, float(levels[-1]), seed, deadline, method
        )
        if cov.status == "no":
            raise InfeasibleError(
                f"pcenter: no set of {p if p else 'open'} sites satisfies the constraints (proven)"
            )
        if cov.sites is None:
            raise InfeasibleError(
                f"pcenter: no feasible set of {p if p else 'open'} sites found under the constraints"
            )
        start_sites = cov.sites
    else:
        start_sites = res.state.sites
    val, _ = bottleneck_value(indptr, indices, wc, uw, start_sites)
    start = int(np.searchsorted(levels, val * (1 - 1e-12) - 1e-300, side="left"))
    start = min(start, levels.size - 1)

    def check(k: int) -> LevelCheck:
        out = _cover_check(
            indptr, indices, wc, uw, side, kmin, kmax, float(levels[k]), seed, deadline, method
        )
        if out.status == "yes" and out.sites is not None:
            v, _ = bottleneck_value(indptr, indices, wc, uw, out.sites)
            out.achieved = int(np.searchsorted(levels, v * (1 - 1e-12), side="left"))
        return out

    bis = bisect_levels(
        levels.size,
        start,
        start_sites,
        first,
        check,
        out_of_time=lambda: deadline is not None and time.perf_counter() >= deadline,
    )
    objective, assignment = bottleneck_value(indptr, indices, wc, uw, bis.sites)
    viol = check_sites(side, bis.sites)
    if viol is not None:  # pragma: no cover - every step honours the constraints
        raise SolverError(f"pcenter: internal error, solution violates constraints: {viol}")
    bound = float(levels[bis.proven]) if bis.proven < levels.size else objective
    return make_solution(
        bis.sites,
        assignment,
        objective,
        min(bound, objective),
        seconds=time.perf_counter() - t0,
        iterations=bis.checks,
        method="+".join([res.method, "bisection", *bis.methods]),
        sense="min",
        info={"levels": int(levels.size), "checks": bis.checks},
    )


def _check_active(indptr, indices, status, active) -> None:
    allowed = (status != FORBIDDEN)[indices]
    n = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    has = np.bincount(rows[allowed], minlength=n) > 0
    bad = np.flatnonzero(active & ~has)
    if bad.size:
        raise InfeasibleError(
            f"{bad.size} client(s) (e.g. client {int(bad[0])}) have no stored site that may "
            "open, and unserved_cost is None (every client must be served)"
        )


def _cover_check(
    indptr, indices, wc, uw, side: SideArrays, kmin, kmax, r, seed, deadline, method
) -> LevelCheck:
    """Can the sites serve every active client within ``r``? (heuristic, bound, MIP)."""
    n = indptr.shape[0] - 1
    m = side.status.shape[0]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    tol = 1e-12 * max(1.0, abs(r))
    need = ~(np.isnan(uw) | (uw <= r + tol))  # clients that must have an open site within r
    arc = (wc <= r + tol) & need[rows]
    if np.any(need & (np.bincount(rows[arc & (side.status[indices] != FORBIDDEN)], minlength=n) == 0)):
        return LevelCheck("no", method="reach")
    if not need.any():
        res = heuristic_search(
            build_instance(n, m, indptr, indices, np.zeros(indices.shape[0]), np.zeros(n)),
            side,
            kmin,
            kmax,
            seed=int(seed),
            deadline=deadline,
        )
        return (
            LevelCheck("yes", res.state.sites, method="greedy")
            if res.state is not None
            else LevelCheck("unknown")
        )
    cw = need.astype(np.float64)
    sub = np.flatnonzero(arc)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[sub], minlength=n), out=ptr[1:])
    inst = build_instance(n, m, ptr, indices[sub], np.zeros(sub.size), cw)
    res = heuristic_search(inst, side, kmin, kmax, seed=int(seed), deadline=deadline)
    total = float(cw.sum())
    covered = -1.0
    if res.state is not None:
        covered = total - res.state.objective()
        if covered >= total - 0.5:
            return LevelCheck("yes", res.state.sites, method="cover-heuristic")
        lr = lagrangian_cover(
            inst.cptr, inst.crow, cw, side, kmin, kmax, covered, max_iter=300, patience=20, deadline=deadline
        )
        if np.floor(lr.bound + 1e-6) < total - 0.5:
            return LevelCheck("no", method="lagrangian")
    if method == "heuristic" or (method == "auto" and sub.size > MIP_AUTO_ARCS):
        return LevelCheck("unknown")
    # exact feasibility: every needy client has an open site within r
    b = MipBuilder()
    ycol = b.add_sites(side, 0.0)
    cl = rows[sub]
    b.add_rows(cl, ycol[indices[sub]], np.ones(sub.size), np.where(need, 1.0, -INF), INF, n)
    b.add_side(side, ycol, kmin, kmax)
    left = None if deadline is None else max(deadline - time.perf_counter(), 0.05)
    warm = None
    if res.state is not None:
        warm = np.zeros(b.n_col)
        warm[ycol[res.state.sites]] = 1.0
    status, x, _, _, _ = b.solve(
        maximise=False, time_limit=300.0 if left is None else left, warm=warm, seed=int(seed)
    )
    if status == "infeasible":
        return LevelCheck("no", method="mip")
    if x is not None:
        return LevelCheck("yes", np.flatnonzero(x[ycol] > 0.5), method="mip")
    return LevelCheck("unknown", method="mip")


def _one_mip(indptr, indices, wc, uw, side: SideArrays, kmin, kmax, tl, seed, t0) -> Solution:
    """The textbook p-center MIP (module docstring) in one HiGHS model."""
    n = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    active = ~np.isnan(uw)
    arc = np.flatnonzero((side.status[indices] != FORBIDDEN) & active[rows])
    ai, aj = rows[arc], indices[arc].astype(np.int64)
    b = MipBuilder()
    ycol = b.add_sites(side, 0.0)
    xcol = b.add_columns(np.zeros(arc.size), 0.0, 1.0, integer=False)
    una = np.flatnonzero(active & np.isfinite(uw))
    ucol = b.add_columns(np.zeros(una.size), 0.0, 1.0, integer=False)
    zcol = b.add_columns(np.ones(1), 0.0, INF, integer=False)
    # sum_j x_ij (+ u_i) = 1 for active clients
    lo = np.where(active, 1.0, -INF)
    hi = np.where(active, 1.0, INF)
    b.add_rows(np.r_[ai, una], np.r_[xcol, ucol], np.ones(arc.size + una.size), lo, hi, n)
    r = np.arange(arc.size)
    b.add_rows(
        np.r_[r, r], np.r_[xcol, ycol[aj]], np.r_[np.ones(arc.size), -np.ones(arc.size)], -INF, 0.0, arc.size
    )
    # sum_j wc_ij x_ij + uw_i u_i - z <= 0
    b.add_rows(
        np.r_[ai, una, np.arange(n)],
        np.r_[xcol, ucol, np.full(n, zcol[0])],
        np.r_[wc[arc], uw[una], -np.ones(n)],
        -INF,
        0.0,
        n,
    )
    b.add_side(side, ycol, kmin, kmax)
    status, x, _, bound, nodes = b.solve(
        maximise=False,
        time_limit=300.0 if tl is None else tl,
        seed=int(seed),
        started=None if tl is None else t0,
    )
    if status == "infeasible":
        raise InfeasibleError("pcenter: no set of sites satisfies the constraints (proven by the MIP)")
    if x is None:
        raise SolverError("pcenter: no feasible solution found within the time limit")
    sites = np.flatnonzero(x[ycol] > 0.5)
    objective, assignment = bottleneck_value(indptr, indices, wc, uw, sites)
    return make_solution(
        sites,
        assignment,
        objective,
        min(float(bound), objective),
        seconds=time.perf_counter() - t0,
        iterations=nodes,
        method="mip",
        sense="min",
        mip_optimal=status == "optimal",
    )
