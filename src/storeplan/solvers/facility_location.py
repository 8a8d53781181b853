r"""Facility location: uncapacitated (UFL) and capacitated (CFL).

Uncapacitated, with :math:`c_{ij}` the cost of serving *all* of client :math:`i` from
site :math:`j` and :math:`f_j` the opening cost:

.. math::

    \min \sum_j f_j y_j + \sum_{i,j} c_{ij} x_{ij} + \sum_i U_i u_i
    \quad\text{s.t.}\quad \sum_j x_{ij} + u_i = 1,\;\; x_{ij} \le y_j,\;\;
    [\textstyle\sum_j y_j = p],\;\; y \in Y_{\text{side}},\; y \in \{0,1\}^m .

Capacitated adds :math:`\sum_i d_i x_{ij} \le Q_j y_j` and, with ``single_source``,
:math:`x_{ij} \in \{0, 1\}`; it is solved with the HiGHS MIP directly.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, InputError, NegativeValueError, SolverError
from ._minimize import MIP_DEFAULT_SECONDS, check_method, solve_min
from ._validate import (
    as_sorted_csr,
    build_instance,
    check_n_m,
    check_p,
    check_time_limit,
    check_unserved,
    check_weights,
)
from .constraints import FORBIDDEN, MUST, Constraints, SideArrays, prepare
from .mip import INF, run_highs, side_rows
from .pmedian import check_reachable
from .solution import Solution, make_solution

__all__ = ["facility_location"]


def site_array(value, m: int, name: str, *, allow_inf: bool = False) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(m, float(a))
    a = a.reshape(-1)
    if a.shape[0] != m:
        raise InputError(f"{name} must be a scalar or have one entry per site ({m})")
    if np.any(np.isnan(a)) or (not allow_inf and not np.all(np.isfinite(a))):
        raise NegativeValueError(f"{name} must be finite")
    if np.any(a < 0):
        raise NegativeValueError(f"{name} must be non-negative")
    return a


def facility_location(
    cost,
    opening_cost,
    *,
    capacity=None,
    demand=None,
    p: int | None = None,
    constraints: Constraints | None = None,
    unserved_cost=None,
    single_source: bool = True,
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "auto",
) -> Solution:
    """Choose sites minimising opening plus service cost.

    Parameters
    ----------
    cost : ndarray or scipy.sparse CSR, shape (n_clients, n_sites)
        Cost of serving ALL of client ``i``'s demand from site ``j`` (currency). Missing
        CSR entries (or ``inf``) are not allowed pairs.
    opening_cost : float or array-like, shape (n_sites,)
        Fixed cost of opening each site (currency).
    capacity : float or array-like, shape (n_sites,), optional
        Capacity per site in demand units; None: uncapacitated (UFL).
    demand : array-like, shape (n_clients,), optional
        Demand per client (default 1); used only with ``capacity``.
    p : int, optional
        Exact number of sites to open; None: free.
    constraints : Constraints, optional
    unserved_cost : float or array-like, optional
        Cost of leaving client ``i`` unserved (currency, the whole client). None: all
        clients must be served.
    single_source : bool
        Capacitated only: each client is served by exactly one site.
    time_limit, seed, method
        As in :func:`storeplan.solvers.pmedian`.

    Returns
    -------
    Solution
        ``objective`` = opening + service (+ unserved) cost; ``bound`` a lower bound.
    """
    t0 = time.perf_counter()
    method = check_method(method)
    n, m, indptr, indices, vals = as_sorted_csr(cost)
    check_n_m(n, m)
    f = site_array(opening_cost, m, "opening_cost")
    u = check_unserved(unserved_cost, n)
    tl = check_time_limit(time_limit)
    if p is not None:
        p = check_p(p, m)
        kmin, kmax = p, p
    else:
        kmin, kmax = 0, m
    side = prepare(constraints, m, kmin, kmax)
    if u is None:
        check_reachable(indptr, indices, side.status, n)
    if capacity is None:
        inst = build_instance(n, m, indptr, indices, vals, u, f)
        if kmin == 0 and inst.must_serve:
            kmin = 1
        return solve_min(
            inst,
            side,
            kmin,
            kmax,
            ufl=p is None,
            time_limit=tl,
            seed=int(seed),
            method=method,
            label="facility_location",
            t0=t0,
        )
    cap = site_array(capacity, m, "capacity", allow_inf=True)
    d = check_weights(demand, n, "demand")
    return _capacitated(
        n,
        m,
        indptr,
        indices,
        vals,
        f,
        cap,
        d,
        u,
        side,
        kmin,
        kmax,
        single_source,
        tl,
        int(seed),
        t0,
    )


def _warm_start(n, m, indptr, indices, vals, f, capv, d, u, side, kmin, kmax, seed, ncol):
    """Column values of a feasible start: the uncapacitated heuristic's sites, then the
    nearest-feasible single-source assignment (None when it leaves a client out)."""
    from .capacity import nearest_feasible
    from .constraints import check_sites
    from .swap import heuristic_search

    inst = build_instance(n, m, indptr, indices, vals, u, f)
    st = heuristic_search(inst, side, max(kmin, 1), kmax, stop_when_no_gain=kmin < kmax, seed=seed).state
    if st is None or check_sites(side, st.sites) is not None:
        return None
    assign, _ = nearest_feasible(indptr, indices, d, capv, st.sites)
    if u is None and np.any(assign < 0):
        return None
    x = np.zeros(ncol)
    x[st.sites] = 1.0
    rows_of = np.repeat(np.arange(n), np.diff(indptr))
    hit = np.flatnonzero(assign[rows_of] == indices)
    x[m + hit] = 1.0
    if u is not None:
        x[m + indices.shape[0] + np.flatnonzero(assign < 0)] = 1.0
    return x


def _capacitated(
    n,
    m,
    indptr,
    indices,
    vals,
    f,
    cap,
    d,
    u,
    side: SideArrays,
    kmin,
    kmax,
    single_source,
    tl,
    seed,
    t0,
) -> Solution:
    """Capacitated facility location as one HiGHS MIP (strong formulation)."""
    allowed = side.status != FORBIDDEN
    cap_allowed = np.where(np.isfinite(cap), cap, d.sum())[allowed].sum()
    if u is None and cap_allowed < d.sum() * (1 - 1e-12):
        raise InfeasibleError(
            f"capacity: total capacity of allowed sites {cap_allowed:g} is below total demand {d.sum():g}"
        )
    rows_of = np.repeat(np.arange(n), np.diff(indptr))
    nnz = indices.shape[0]
    nu = 0 if u is None else n
    ncol = m + nnz + nu
    c = np.concatenate([f, vals, u if u is not None else np.zeros(0)])
    lo_c = np.zeros(ncol)
    hi_c = np.ones(ncol)
    lo_c[:m][side.status == MUST] = 1
    hi_c[:m][side.status == FORBIDDEN] = 0
    integer = np.zeros(ncol, dtype=bool)
    integer[:m] = True
    if single_source:
        integer[m : m + nnz] = True
        integer[m + nnz :] = True
    xcol = m + np.arange(nnz)
    capv = np.where(np.isfinite(cap), cap, d.sum())
    r_rows = [
        rows_of,
        n + np.arange(nnz),
        n + np.arange(nnz),
        n + nnz + indices.astype(np.int64),
        n + nnz + np.arange(m),
    ]
    r_cols = [xcol, xcol, indices.astype(np.int64), xcol, np.arange(m)]
    r_vals = [np.ones(nnz), np.ones(nnz), -np.ones(nnz), d[rows_of], -capv]
    row_lo = [np.ones(n), np.full(nnz, -INF), np.full(m, -INF)]
    row_hi = [np.ones(n), np.zeros(nnz), np.zeros(m)]
    if nu:
        r_rows.append(np.arange(n))
        r_cols.append(m + nnz + np.arange(n))
        r_vals.append(np.ones(n))
    base = n + nnz + m
    srows, scols, svals, slo, shi, nside = side_rows(side, np.arange(m), kmin, kmax, m)
    r_rows += [base + r for r in srows]
    r_cols += scols
    r_vals += svals
    row_lo += [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in slo]
    row_hi += [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in shi]
    A = sp.coo_matrix(
        (np.concatenate(r_vals), (np.concatenate(r_rows), np.concatenate(r_cols))),
        shape=(base + nside, ncol),
    )
    warm = _warm_start(n, m, indptr, indices, vals, f, capv, d, u, side, kmin, kmax, seed, ncol)
    status, x, obj, bound, nodes = run_highs(
        c,
        lo_c,
        hi_c,
        integer,
        A,
        np.concatenate(row_lo),
        np.concatenate(row_hi),
        maximise=False,
        time_limit=MIP_DEFAULT_SECONDS if tl is None else tl,
        warm=warm,
        seed=seed,
        started=None if tl is None else t0,
    )
    if status == "infeasible":
        raise InfeasibleError(
            "capacity: no assignment of clients to open sites fits the capacities under the side constraints"
        )
    if x is None:
        raise SolverError("facility_location: no feasible capacitated solution found within the time limit")
    sites = np.flatnonzero(x[:m] > 0.5)
    xv = x[m : m + nnz]
    assignment = np.full(n, -1, dtype=np.int64)
    # the largest share of each client (the only one when single-source)
    best = np.full(n, 0.5 if single_source else 1e-9)
    for k in np.flatnonzero(xv > 1e-9):
        i = rows_of[k]
        if xv[k] > best[i]:
            best[i] = xv[k]
            assignment[i] = indices[k]
    return make_solution(
        sites,
        assignment,
        obj,
        bound,
        seconds=time.perf_counter() - t0,
        iterations=nodes,
        method="mip",
        sense="min",
        mip_optimal=status == "optimal",
        integral=False,
    )
