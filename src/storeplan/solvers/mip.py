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

:math:`Y_{\text{side}}` holds must-open / forbidden bounds, group rows, one row
:math:`y_a + y_b \le 1` per conflicting pair and one knapsack row per quota (budget,
store counts or budgets per group). Models are passed to HiGHS as one CSC
matrix; the heuristic solution is passed with ``setSolution`` as the first incumbent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numba import njit

from .constraints import FORBIDDEN, MUST, SideArrays
from .solution import MIP_PROVEN_TOL

__all__ = ["MipResult", "make_highs", "solve_min_mip", "solve_cover_mip"]

INF = highspy.kHighsInf
_VERBOSE = False


@dataclass
class MipResult:
    """Outcome of one HiGHS solve (``y`` is None when no incumbent was found)."""

    status: str
    y: np.ndarray | None
    objective: float
    bound: float
    nodes: int
    last_cost: np.ndarray | None = None
    truncated: np.ndarray | None = None
    n_arcs: int = 0

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def infeasible(self) -> bool:
        return self.status == "infeasible"


def side_rows(
    side: SideArrays, ycol: np.ndarray, kmin: int, kmax: int, m_kept: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray], int]:
    """Rows on the y columns: cardinality, groups, conflicts, knapsacks. ``ycol[j]`` is the
    column of site j or -1 when fixed closed. Returns (rows, cols, vals, lo, hi, n_rows),
    each a list of 1-d arrays (lo/hi one entry per row)."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    r = 0
    kept = np.flatnonzero(ycol >= 0)
    if kmin > 0 or kmax < m_kept:
        rows.append(np.full(kept.size, r))
        cols.append(ycol[kept])
        vals.append(np.ones(kept.size))
        lo.append(np.array([kmin], dtype=np.float64))
        hi.append(np.array([kmax], dtype=np.float64))
        r += 1
    for g in range(side.gmin.shape[0]):
        sites = kept[side.group[kept] == g]
        if side.gmin[g] > 0 or side.gmax[g] < sites.size:
            rows.append(np.full(sites.size, r))
            cols.append(ycol[sites])
            vals.append(np.ones(sites.size))
            lo.append(np.array([side.gmin[g]], dtype=np.float64))
            hi.append(np.array([side.gmax[g]], dtype=np.float64))
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
    if side.has_quotas:
        # knapsack rows (budget, quotas) over the kept sites; fixed-closed sites add 0
        site_of = np.repeat(np.arange(side.status.shape[0], dtype=np.int64), np.diff(side.q_ptr))
        ok = ycol[site_of] >= 0
        rows.append(r + side.q_row[ok])
        cols.append(ycol[site_of[ok]])
        vals.append(side.q_val[ok])
        nq = side.q_lo.shape[0]
        lo.append(np.where(side.q_lo > 0, side.q_lo, -INF))
        hi.append(np.where(np.isfinite(side.q_hi), side.q_hi, INF))
        r += nq
    return rows, cols, vals, lo, hi, r


def make_highs(c, lo_c, hi_c, integer, A, row_lo, row_hi, *, maximise, warm=None, seed=0, threads=1):
    """A ``highspy.Highs`` holding one model (``integer`` marks the integer columns; all
    False for an LP), with storeplan's options set and ``warm`` (a full column vector or
    ``(indices, values)``) passed as the starting solution; not yet run. Callers that
    re-solve with changed bounds (:mod:`.cover_split`) keep the object."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", _VERBOSE)
    h.setOptionValue("mip_rel_gap", MIP_PROVEN_TOL / 10)
    h.setOptionValue("random_seed", int(seed) % (2**31 - 1))
    h.setOptionValue("threads", int(threads))
    if warm is not None:
        # our heuristic already supplies a (usually optimal) incumbent
        h.setOptionValue("mip_heuristic_effort", 0.0)
        for opt in ("rens", "rins", "root_reduced_cost", "feasibility_jump"):
            h.setOptionValue(f"mip_heuristic_run_{opt}", False)
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
    if isinstance(warm, tuple):
        idx, val = warm
        h.setSolution(int(idx.shape[0]), np.asarray(idx, np.int32), np.asarray(val, np.float64))
    elif warm is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(warm, dtype=np.float64))
        h.setSolution(sol)
    return h


def run_highs(
    c, lo_c, hi_c, integer, A, row_lo, row_hi, *, maximise, time_limit, warm, seed, threads=1, started=None
):
    """Solve one MIP with HiGHS; returns ``(status, x, objective, bound, nodes)``.

    ``time_limit`` (seconds) counts from ``started`` (a ``time.perf_counter()`` value,
    default: this call), so the time the caller spent building the model and the time
    spent passing it to HiGHS come off the limit HiGHS gets.
    """
    started = time.perf_counter() if started is None else started
    h = make_highs(
        c, lo_c, hi_c, integer, A, row_lo, row_hi, maximise=maximise, warm=warm, seed=seed, threads=threads
    )
    if time_limit is not None:
        # HiGHS checks its clock coarsely (root LP, presolve): keep a tenth in reserve
        left = float(time_limit) - (time.perf_counter() - started)
        h.setOptionValue("time_limit", max(0.9 * left, 0.01))
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
    indptr,
    indices,
    cost,
    unserved,
    fcost,
    side: SideArrays,
    kmin: int,
    kmax: int,
    keep_arc: np.ndarray,
    keep_u: np.ndarray,
    site_state: np.ndarray,
    *,
    time_limit: float | None,
    warm_sites: np.ndarray | None,
    seed: int = 0,
) -> MipResult:
    """Solve the (reduced) minimisation MIP. ``site_state``: 0 free, 1 fixed open,
    2 fixed closed. Returns the open sites found (``y``) and HiGHS's dual bound."""
    started = time.perf_counter()
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
    srows, scols, svals, slo, shi, nside = side_rows(side, ycol, kmin, kmax, ny)
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
    status, x, obj, bound, nodes = run_highs(
        c,
        lo_c,
        hi_c,
        integer,
        A,
        np.concatenate(row_lo),
        np.concatenate(row_hi),
        maximise=False,
        time_limit=time_limit,
        warm=warm,
        seed=seed,
        started=started,
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


@njit(cache=True)
def _radius_rows(indptr, indices, cost, unserved, keep, keep_u, ycol, nyc, lim_cost, extra):
    """COO triplets of the (possibly truncated) radius formulation.

    Client ``i`` keeps every level of cost ``<= lim_cost[i]`` plus ``extra`` more; when
    levels remain beyond that, the model is truncated: the last ``z`` costs the step to
    the next level and no row forces service (a relaxation, García et al. 2011).
    Returns (rows, cols, vals, row_hi, z_cost, const, last_cost, truncated, ok), where
    ``last_cost[i]`` is the largest cost level kept for client ``i``.
    """
    n = indptr.shape[0] - 1
    cap = 0
    for k in range(keep.shape[0]):
        if keep[k]:
            cap += 1
    cap = 3 * cap + 4 * n + 8
    rr = np.empty(cap, dtype=np.int64)
    cc = np.empty(cap, dtype=np.int64)
    vv = np.empty(cap)
    rhi = np.empty(cap)
    zc = np.empty(cap)
    last_cost = np.full(n, np.inf)
    trunc = np.zeros(n, dtype=np.uint8)
    nz = 0
    nrow = 0
    zn = 0
    const = 0.0
    for i in range(n):
        u = unserved[i] if keep_u[i] else np.inf
        prev = -1.0
        have = False
        z_prev = -1  # column of z^{k-1} (-1: the constant 1)
        n_extra = 0
        truncated = False
        for k in range(indptr[i], indptr[i + 1]):
            if not keep[k] or ycol[indices[k]] < 0:
                continue
            c = cost[k]
            if c >= u:
                break
            if not have or c != prev:
                if have:
                    # a new level: close the row of the previous one with z^{prev}
                    z = nyc + zn
                    zc[zn] = c - prev
                    zn += 1
                    rr[nz] = nrow
                    cc[nz] = z
                    vv[nz] = -1.0
                    nz += 1
                    if z_prev >= 0:
                        rr[nz] = nrow
                        cc[nz] = z_prev
                        vv[nz] = 1.0
                        nz += 1
                        rhi[nrow] = 0.0
                    else:
                        rhi[nrow] = -1.0
                    nrow += 1
                    z_prev = z
                    if prev > lim_cost[i]:
                        n_extra += 1
                    if n_extra > extra:
                        truncated = True
                        break
                else:
                    const += c
                have = True
                prev = c
            rr[nz] = nrow
            cc[nz] = ycol[indices[k]]
            vv[nz] = -1.0
            nz += 1
        if not have:
            if keep_u[i]:
                const += unserved[i]
                last_cost[i] = unserved[i]
                continue
            return (rr[:0], cc[:0], vv[:0], rhi[:0], zc[:0], 0.0, last_cost, trunc, False)
        last_cost[i] = prev
        if truncated:
            trunc[i] = 1
            continue
        if keep_u[i]:
            z = nyc + zn
            zc[zn] = u - prev
            zn += 1
            rr[nz] = nrow
            cc[nz] = z
            vv[nz] = -1.0
            nz += 1
            last_cost[i] = u
        if z_prev >= 0:
            rr[nz] = nrow
            cc[nz] = z_prev
            vv[nz] = 1.0
            nz += 1
            rhi[nrow] = 0.0
        else:
            rhi[nrow] = -1.0
        nrow += 1
    return rr[:nz], cc[:nz], vv[:nz], rhi[:nrow], zc[:zn], const, last_cost, trunc, True


def solve_min_radius_mip(
    indptr,
    indices,
    cost,
    unserved,
    fcost,
    side: SideArrays,
    kmin: int,
    kmax: int,
    keep_arc: np.ndarray,
    keep_u: np.ndarray,
    site_state: np.ndarray,
    *,
    time_limit: float | None,
    warm_sites: np.ndarray | None,
    seed: int = 0,
    lim_cost: np.ndarray | None = None,
    extra: int = 1 << 30,
    max_arcs: int | None = None,
) -> MipResult:
    r"""Radius (level) formulation of the reduced minimisation MIP.

    For client :math:`i` let :math:`D_i^1 < \dots < D_i^{K_i}` be the distinct costs of
    its kept arcs (plus :math:`U_i` when it may stay unserved) and :math:`S_i^k` the sum
    of :math:`y_j` over sites at level :math:`k`:

    .. math::

        \min \sum_j f_j y_j + \sum_i \Bigl(D_i^1 + \sum_{k < K_i}
            (D_i^{k+1} - D_i^k) z_i^k\Bigr)
        \quad\text{s.t.}\quad z_i^{k-1} - z_i^k - S_i^k \le 0 \;(z_i^0 = 1),\;
        z_i^{K_i - 1} - S_i^{K_i} \le 0,\; z \ge 0 .

    Telescoping gives :math:`z_i^k \ge 1 - \sum_{l \le k} S_i^l`, so the LP bound equals
    that of the classical formulation (Elloumi 2010; García, Labbé & Marín 2011) with
    one nonzero per arc and no :math:`x_{ij} \le y_j` rows.

    With ``lim_cost`` / ``extra`` each client keeps its levels up to ``lim_cost[i]``
    plus ``extra`` more; the service row of a truncated client is dropped and its last
    ``z`` costs the step to the next level, a relaxation whose optimum is a valid lower
    bound (García, Labbé & Marín 2011; see :func:`._minimize.solve_min`).
    """
    started = time.perf_counter()
    m = fcost.shape[0]
    site_state = site_state.copy()
    site_state[side.status == FORBIDDEN] = 2
    site_state[side.status == MUST] = 1
    ycol = np.full(m, -1, dtype=np.int64)
    kept_sites = np.flatnonzero(site_state != 2)
    ny = kept_sites.size
    ycol[kept_sites] = np.arange(ny)
    n = indptr.shape[0] - 1
    lim = np.full(n, np.inf) if lim_cost is None else np.asarray(lim_cost, dtype=np.float64)
    rr, cc, vv, rhi, zc, const, last_cost, trunc, ok = _radius_rows(
        indptr,
        indices,
        cost,
        unserved,
        keep_arc.astype(np.uint8),
        keep_u.astype(np.uint8),
        ycol,
        ny,
        lim,
        int(extra),
    )
    if not ok:
        return MipResult("infeasible", None, INF, INF, 0)
    if max_arcs is not None and rr.shape[0] > max_arcs + zc.shape[0] * 2:
        return MipResult("too_large", None, INF, -INF, 0)
    nz_ = zc.shape[0]
    ncol = ny + nz_
    c = np.concatenate([fcost[kept_sites], zc])
    lo_c = np.zeros(ncol)
    hi_c = np.concatenate([np.ones(ny), np.full(nz_, INF)])
    lo_c[:ny][site_state[kept_sites] == 1] = 1.0
    integer = np.zeros(ncol, dtype=bool)
    integer[:ny] = True
    nrow0 = rhi.shape[0]
    srows, scols, svals, slo, shi, nside = side_rows(side, ycol, kmin, kmax, ny)
    r_rows = [rr] + [nrow0 + r for r in srows]
    r_cols = [cc] + scols
    r_vals = [vv] + svals
    row_lo = [np.full(nrow0, -INF)] + [np.atleast_1d(np.asarray(v, float)) for v in slo]
    row_hi = [rhi] + [np.atleast_1d(np.asarray(v, float)) for v in shi]
    A = sp.coo_matrix(
        (np.concatenate(r_vals), (np.concatenate(r_rows), np.concatenate(r_cols))),
        shape=(nrow0 + nside, ncol),
    )
    warm = None
    if warm_sites is not None and np.all(ycol[warm_sites] >= 0):
        # partial solution (integer columns only); HiGHS completes the z by an LP
        yv = np.zeros(ny)
        yv[ycol[warm_sites]] = 1.0
        warm = (np.arange(ny, dtype=np.int32), yv)
    status, x, obj, bound, nodes = run_highs(
        c,
        lo_c,
        hi_c,
        integer,
        A,
        np.concatenate(row_lo),
        np.concatenate(row_hi),
        maximise=False,
        time_limit=time_limit,
        warm=warm,
        seed=seed,
        started=started,
    )
    y = None
    if x is not None:
        y = kept_sites[x[:ny] > 0.5]
    res = MipResult(status, y, obj + const, bound + const, nodes)
    res.last_cost = last_cost
    res.truncated = trunc.astype(bool)
    res.n_arcs = int(np.count_nonzero(vv == -1.0)) - nz_
    return res


def solve_cover_mip(
    cptr,
    crow,
    w,
    side: SideArrays,
    *,
    p: int | None,
    target: float | None,
    time_limit: float | None,
    warm_sites: np.ndarray | None,
    seed: int = 0,
    kmax: int | None = None,
) -> MipResult:
    """Maximal covering (``p`` given: maximise covered weight with p sites) or partial
    set covering (``target`` given: fewest sites covering at least ``target`` weight).
    ``cptr, crow`` list the clients covered by each site (CSC)."""
    started = time.perf_counter()
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
    if p is not None or target is None:
        # maximal covering: exactly p sites, or (p None) as many as the quotas allow
        c = np.concatenate([np.zeros(m), w])
        kmin, kmax = (p, p) if p is not None else (0, m if kmax is None else kmax)
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
    srows, scols, svals, slo, shi, nside = side_rows(side, ycol, kmin, kmax, m)
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
            covered[crow[cptr[j] : cptr[j + 1]]] = 1.0
        warm = np.concatenate([y, covered])
    status, x, obj, bound, nodes = run_highs(
        c,
        lo_c,
        hi_c,
        integer,
        A,
        np.concatenate(row_lo),
        np.concatenate(row_hi),
        maximise=maximise,
        time_limit=time_limit,
        warm=warm,
        seed=seed,
        started=started,
    )
    opened = None if x is None else np.flatnonzero(x[:m] > 0.5)
    return MipResult(status, opened, obj, bound, nodes)
