r"""HiGHS mixed-integer models (exact solves of small or reduced instances).

**Minimisation** (p-median / UFL with optional unserved clients), over the arcs
:math:`A` left after reduced-cost fixing:

.. math::

    \min \sum_j f_j y_j + \sum_{(i,j) \in A} c_{ij} x_{ij} + \sum_i U_i u_i
    \quad\text{s.t.}\quad \sum_{j} x_{ij} + u_i = 1, \;\; x_{ij} \le y_j, \;\;
    k_{\min} \le \sum_j y_j \le k_{\max}, \;\; y \in Y_{\text{side}}, \; y \in \{0,1\},
    \; x, u \ge 0 .

**Maximal covering**:

.. math::

    \max \sum_i w_i z_i \quad\text{s.t.}\quad z_i \le \sum_{j \in N(i)} y_j, \;\;
    \sum_j y_j = p, \;\; y \in Y_{\text{side}}, \; 0 \le z_i \le 1 .

**Partial set covering**: :math:`\min \sum_j y_j` s.t. :math:`\sum_i w_i z_i \ge s W`,
the same linking rows.

:math:`Y_{\text{side}}` holds must-open / forbidden bounds, group rows and one row
:math:`y_a + y_b \le 1` per conflicting pair. Models are passed to HiGHS as one CSC
matrix; the heuristic solution is passed with ``setSolution`` as the first incumbent.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from .constraints import FORBIDDEN, MUST, SideArrays
from .solution import MIP_PROVEN_TOL

__all__ = ["MipResult", "solve_min_mip", "solve_cover_mip"]

INF = highspy.kHighsInf


@dataclass
class MipResult:
    """Outcome of one HiGHS solve (``y`` is None when no incumbent was found)."""

    status: str
    y: np.ndarray | None
    objective: float
    bound: float
    nodes: int

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def infeasible(self) -> bool:
        return self.status == "infeasible"


def _side_rows(side: SideArrays, ycol: np.ndarray, kmin: int, kmax: int, m_kept: int):
    """Rows on the y columns: cardinality, groups, conflicts. ``ycol[j]`` is the column
    of site j or -1 when fixed closed. Returns (rows, cols, vals, lo, hi)."""
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0
    kept = np.flatnonzero(ycol >= 0)
    if kmin > 0 or kmax < m_kept:
        rows.append(np.full(kept.size, r))
        cols.append(ycol[kept])
        vals.append(np.ones(kept.size))
        lo.append(kmin)
        hi.append(kmax)
        r += 1
    for g in range(side.gmin.shape[0]):
        sites = kept[side.group[kept] == g]
        if side.gmin[g] > 0 or side.gmax[g] < sites.size:
            rows.append(np.full(sites.size, r))
            cols.append(ycol[sites])
            vals.append(np.ones(sites.size))
            lo.append(float(side.gmin[g]))
            hi.append(float(side.gmax[g]))
            r += 1
    if side.has_conflicts:
        pr = side.conflicts
        ok = (ycol[pr[:, 0]] >= 0) & (ycol[pr[:, 1]] >= 0)
        pr = pr[ok]
        k = pr.shape[0]
        if k:
            rid = r + np.arange(k)
            rows += [rid, rid]
            cols += [ycol[pr[:, 0]], ycol[pr[:, 1]]]
            vals += [np.ones(k), np.ones(k)]
            lo.append(np.full(k, -INF))
            hi.append(np.ones(k))
            r += k
    return rows, cols, vals, lo, hi, r


def _run(
    c, lo_c, hi_c, integer, A, row_lo, row_hi, *, maximise, time_limit, warm, seed, threads=1
):
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", MIP_PROVEN_TOL / 10)
    h.setOptionValue("random_seed", int(seed) % (2**31 - 1))
    h.setOptionValue("threads", int(threads))
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    lp = highspy.HighsLp()
    ncol = c.shape[0]
    A = sp.csc_matrix(A)
    A.sort_indices()
    lp.num_col_ = ncol
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.asarray(lo_c, dtype=np.float64)
    lp.col_upper_ = np.asarray(hi_c, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = A.shape[0]
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in integer
    ]
    if maximise:
        lp.sense_ = highspy.ObjSense.kMaximize
    h.passModel(lp)
    if warm is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(warm, dtype=np.float64))
        h.setSolution(sol)
    h.run()
    st = h.getModelStatus()
    info = h.getInfo()
    S = highspy.HighsModelStatus
    status = {
        S.kOptimal: "optimal",
        S.kInfeasible: "infeasible",
        S.kTimeLimit: "time_limit",
        S.kUnboundedOrInfeasible: "infeasible",
    }.get(st, str(st))
    has_sol = info.primal_solution_status == 2 and status != "infeasible"
    x = np.asarray(h.getSolution().col_value) if has_sol else None
    obj = float(info.objective_function_value) if has_sol else (-INF if maximise else INF)
    bound = float(info.mip_dual_bound)
    if status == "infeasible":
        bound = -INF if maximise else INF
    return status, x, obj, bound, int(info.mip_node_count)


def solve_min_mip(
    indptr, indices, cost, unserved, fcost, side: SideArrays, kmin: int, kmax: int,
    keep_arc: np.ndarray, keep_u: np.ndarray, site_state: np.ndarray,
    *, time_limit: float | None, warm_sites: np.ndarray | None, seed: int = 0,
) -> MipResult:
    """Solve the (reduced) minimisation MIP. ``site_state``: 0 free, 1 fixed open,
    2 fixed closed. Returns the open sites found (``y``) and HiGHS's dual bound."""
    n = indptr.shape[0] - 1
    m = fcost.shape[0]
    site_state = site_state.copy()
    site_state[side.status == FORBIDDEN] = 2
    site_state[side.status == MUST] = 1
    ycol = np.full(m, -1, dtype=np.int64)
    kept_sites = np.flatnonzero(site_state != 2)
    ny = kept_sites.size
    ycol[kept_sites] = np.arange(ny)
    rows_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    arc = np.flatnonzero(keep_arc & (ycol[indices] >= 0))
    na = arc.size
    ucl = np.flatnonzero(keep_u)
    nu = ucl.size
    ncol = ny + na + nu
    # a client without any column cannot be served within the threshold
    has = np.zeros(n, dtype=bool)
    has[rows_of[arc]] = True
    has[ucl] = True
    if not has.all():
        return MipResult("infeasible", None, INF, INF, 0)
    c = np.concatenate([fcost[kept_sites], cost[arc], unserved[ucl]])
    lo_c = np.zeros(ncol)
    hi_c = np.ones(ncol)
    lo_c[:ny][site_state[kept_sites] == 1] = 1.0
    integer = np.zeros(ncol, dtype=bool)
    integer[:ny] = True
    # rows 0..n-1: assignment; n..n+na-1: x <= y
    acol = ny + np.arange(na)
    ucol = ny + na + np.arange(nu)
    r_rows = [rows_of[arc], ucl, n + np.arange(na), n + np.arange(na)]
    r_cols = [acol, ucol, acol, ycol[indices[arc]]]
    r_vals = [np.ones(na), np.ones(nu), np.ones(na), -np.ones(na)]
    row_lo = [np.ones(n), np.full(na, -INF)]
    row_hi = [np.ones(n), np.zeros(na)]
    srows, scols, svals, slo, shi, nside = _side_rows(side, ycol, kmin, kmax, ny)
    base = n + na
    r_rows += [base + r for r in srows]
    r_cols += scols
    r_vals += svals
    row_lo += [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in slo]
    row_hi += [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in shi]
    nrow = base + nside
    A = sp.coo_matrix(
        (np.concatenate(r_vals), (np.concatenate(r_rows), np.concatenate(r_cols))),
        shape=(nrow, ncol),
    )
    warm = None
    if warm_sites is not None and np.all(ycol[warm_sites] >= 0):
        warm = _warm_min(indptr, indices, cost, unserved, ycol, warm_sites, arc, ucl, ny, n)
    status, x, obj, bound, nodes = _run(
        c, lo_c, hi_c, integer, A, np.concatenate(row_lo), np.concatenate(row_hi),
        maximise=False, time_limit=time_limit, warm=warm, seed=seed,
    )
    y = None
    if x is not None:
        y = kept_sites[x[:ny] > 0.5]
    return MipResult(status, y, obj, bound, nodes)


def _warm_min(indptr, indices, cost, unserved, ycol, sites, arc, ucl, ny, n):
    """Column values of the heuristic solution when it lies inside the reduced model."""
    is_open = np.zeros(ycol.shape[0], dtype=bool)
    is_open[sites] = True
    x = np.zeros(ny + arc.size + ucl.size)
    x[ycol[sites]] = 1.0
    pos = {int(k): t for t, k in enumerate(arc)}
    upos = {int(i): t for t, i in enumerate(ucl)}
    for i in range(n):
        best_k, best_c = -1, unserved[i]
        for k in range(indptr[i], indptr[i + 1]):
            if is_open[indices[k]]:
                if cost[k] < best_c:
                    best_k, best_c = k, cost[k]
                break
        if best_k >= 0 and best_k in pos:
            x[ny + pos[best_k]] = 1.0
        elif best_k < 0 and i in upos:
            x[ny + arc.size + upos[i]] = 1.0
        else:
            return None
    return x


def solve_cover_mip(
    cptr, crow, w, side: SideArrays, *, p: int | None, target: float | None,
    time_limit: float | None, warm_sites: np.ndarray | None, seed: int = 0,
) -> MipResult:
    """Maximal covering (``p`` given: maximise covered weight with p sites) or partial
    set covering (``target`` given: fewest sites covering at least ``target`` weight).
    ``cptr, crow`` list the clients covered by each site (CSC)."""
    m = cptr.shape[0] - 1
    n = w.shape[0]
    ycol = np.arange(m, dtype=np.int64)
    ncol = m + n
    lo_c = np.zeros(ncol)
    hi_c = np.ones(ncol)
    lo_c[:m][side.status == MUST] = 1.0
    hi_c[:m][side.status == FORBIDDEN] = 0.0
    integer = np.zeros(ncol, dtype=bool)
    integer[:m] = True
    site_of = np.repeat(np.arange(m, dtype=np.int64), np.diff(cptr))
    nnz = crow.shape[0]
    # z_i - sum_{j covers i} y_j <= 0
    r_rows = [np.arange(n), crow.astype(np.int64)]
    r_cols = [m + np.arange(n), site_of]
    r_vals = [np.ones(n), -np.ones(nnz)]
    row_lo = [np.full(n, -INF)]
    row_hi = [np.zeros(n)]
    nrow = n
    if p is not None:
        c = np.concatenate([np.zeros(m), w])
        kmin = kmax = p
        maximise = True
    else:
        c = np.concatenate([np.ones(m), np.zeros(n)])
        kmin, kmax = 0, m
        maximise = False
        r_rows.append(np.full(n, nrow))
        r_cols.append(m + np.arange(n))
        r_vals.append(w.astype(np.float64))
        row_lo.append(np.array([target]))
        row_hi.append(np.array([INF]))
        nrow += 1
    srows, scols, svals, slo, shi, nside = _side_rows(side, ycol, kmin, kmax, m)
    r_rows += [nrow + r for r in srows]
    r_cols += scols
    r_vals += svals
    row_lo += [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in slo]
    row_hi += [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in shi]
    nrow += nside
    A = sp.coo_matrix(
        (np.concatenate(r_vals), (np.concatenate(r_rows), np.concatenate(r_cols))),
        shape=(nrow, ncol),
    )
    warm = None
    if warm_sites is not None:
        y = np.zeros(m)
        y[warm_sites] = 1.0
        covered = np.zeros(n)
        for j in warm_sites:
            covered[crow[cptr[j]: cptr[j + 1]]] = 1.0
        warm = np.concatenate([y, covered])
    status, x, obj, bound, nodes = _run(
        c, lo_c, hi_c, integer, A, np.concatenate(row_lo), np.concatenate(row_hi),
        maximise=maximise, time_limit=time_limit, warm=warm, seed=seed,
    )
    y = None if x is None else np.flatnonzero(x[:m] > 0.5)
    return MipResult(status, y, obj, bound, nodes)
