r"""Backup coverage: cover clients twice where it can be done.

With :math:`a_{ij} = 1` when :math:`c_{ij} \le r`, :math:`z_i` (covered once) and
:math:`u_i` (covered a second time):

.. math::

    \max \sum_i w_i u_i \quad\text{s.t.}\quad z_i + u_i \le \sum_j a_{ij} y_j,\;\;
    u_i \le z_i,\;\; \sum_j y_j = p,\;\; y \in Y_{\text{side}},\;\; 0 \le z, u \le 1,

plus the first-coverage requirement, one of

* ``cover="all"``: :math:`z_i = 1` for every client an allowed site covers (the
  backup coverage problem BACOP1 of Hogan & ReVelle 1986; spopt's ``LSCPB`` with
  ``p`` = the set-cover optimum);
* ``cover="max"``: :math:`\sum_i w_i z_i \ge C^*` with :math:`C^*` the maximal-covering
  optimum for ``p`` sites (:func:`.coverage`): the lexicographic model that keeps the
  best single coverage and then covers as much demand twice as it can.

For integer ``y`` the optimal ``z, u`` are integral, so only ``y`` is integer. The
model is built with :class:`.builder.MipBuilder` and solved by HiGHS, warm-started from
the maximal-covering sites; its dual bound is the reported bound (with ``cover="max"``
and an unproven :math:`C^*` the requirement is the covered weight found, and the
bound holds for plans that cover at least that much once).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InfeasibleError, InputError, SolverError
from ._minimize import check_method
from ._validate import as_sorted_csr, check_n_m, check_p, check_time_limit, check_weights
from .builder import INF, MipBuilder
from .constraints import FORBIDDEN, Constraints, check_sites, prepare
from .coverage import coverage
from .solution import Solution, make_solution

__all__ = ["backup_coverage", "cover_counts"]


def cover_counts(indptr, indices, vals, radius: float, sites) -> np.ndarray:
    """Number of open ``sites`` within ``radius`` of every client (stored pairs)."""
    n = indptr.shape[0] - 1
    m = int(max(np.max(indices, initial=-1), np.max(sites, initial=-1))) + 1
    is_open = np.zeros(m, dtype=bool)
    is_open[np.asarray(sites, dtype=np.int64)] = True
    hit = is_open[indices] & (vals <= radius)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    return np.bincount(rows[hit], minlength=n)


def backup_coverage(
    cost,
    p: int | None,
    radius: float,
    *,
    weights=None,
    constraints: Constraints | None = None,
    cover: str = "max",
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "auto",
) -> Solution:
    """Open ``p`` sites maximising the weight of clients covered at least twice.

    Parameters
    ----------
    cost : ndarray or scipy.sparse CSR, shape (n_clients, n_sites)
        Distance; client ``i`` is covered by site ``j`` when ``cost[i, j] <= radius``.
    p : int or None
        Number of sites. None: as many as ``constraints.budget`` allows.
    radius : float
        Coverage radius in the units of ``cost``.
    weights : array-like, optional
        Client weights (e.g. population), default 1.
    constraints : Constraints, optional
        Must-open, forbidden, groups, spacing, budget and quotas.
    cover : {"max", "all"}
        First coverage kept: the maximal-covering optimum (``"max"``) or every client
        that can be covered (``"all"``, raising :class:`InfeasibleError` when ``p``
        sites cannot).
    time_limit, seed, method
        As in :func:`storeplan.solvers.coverage` (``method="heuristic"`` is refused:
        the model is solved by the MIP).

    Returns
    -------
    Solution
        ``sense == "max"``; ``objective`` the weight covered at least twice, ``bound``
        an upper bound. ``info["covered"]`` is the weight covered at least once,
        ``info["required"]`` the first coverage the model had to keep.
    """
    t0 = time.perf_counter()
    method = check_method(method)
    if cover not in ("max", "all"):
        raise InputError(f"cover must be 'max' or 'all', got {cover!r}")
    n, m, indptr, indices, vals = as_sorted_csr(cost)
    check_n_m(n, m)
    r = float(radius)
    if not np.isfinite(r) or r < 0:
        raise InputError(f"radius must be a finite non-negative number, got {radius!r}")
    w = check_weights(weights, n)
    if p is None:
        if constraints is None or constraints.budget is None:
            raise InputError("backup_coverage: give p (the number of sites) or constraints.budget")
        kmin, kmax = 0, m
    else:
        p = check_p(p, m)
        kmin, kmax = p, p
    tl = check_time_limit(time_limit)
    side = prepare(constraints, m, kmin, kmax)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    arc = np.flatnonzero((vals <= r) & (side.status[indices] != FORBIDDEN))
    ai, aj = rows[arc], indices[arc].astype(np.int64)
    n_cover = np.bincount(ai, minlength=n)
    coverable = n_cover > 0
    # no plan covers twice a client with fewer than two allowed covering sites
    trivial = float(w[n_cover >= 2].sum())
    first = coverage(cost, p, r, weights=w, constraints=constraints, time_limit=tl, seed=seed, method=method)
    required = float(first.objective)
    if cover == "all":
        need = float(w[coverable].sum())
        if first.bound < need * (1 - 1e-12) - 1e-9:
            raise InfeasibleError(
                f"backup_coverage: {p if p is not None else 'the'} sites cannot cover every client "
                f"once (at most {first.bound:,.6g} of {need:,.6g} can be covered)"
            )
    b = MipBuilder()
    ycol = b.add_sites(side, 0.0)
    zcol = b.add_columns(np.zeros(n), 0.0, 1.0)
    ucol = b.add_columns(w, 0.0, 1.0)
    cl = np.arange(n)
    # z_i + u_i - sum_j a_ij y_j <= 0
    b.add_rows(
        np.r_[cl, cl, ai],
        np.r_[zcol, ucol, ycol[aj]],
        np.r_[np.ones(2 * n), -np.ones(ai.size)],
        -INF,
        0.0,
        n,
    )
    b.add_rows(np.r_[cl, cl], np.r_[ucol, zcol], np.r_[np.ones(n), -np.ones(n)], -INF, 0.0, n)
    if cover == "all":
        b.add_rows(cl, zcol, np.ones(n), np.where(coverable, 1.0, -INF), INF, n)
    else:
        tol = 1e-9 * max(1.0, required)
        b.add_rows(np.zeros(n, dtype=np.int64), zcol, w, required - tol, INF, 1)
    b.add_side(side, ycol, kmin, kmax)
    warm = None
    if cover == "max" or first.objective >= float(w[coverable].sum()) * (1 - 1e-12):
        cnt = cover_counts(indptr, indices, vals, r, first.sites)
        warm = np.zeros(b.n_col)
        warm[ycol[first.sites]] = 1.0
        warm[zcol] = np.minimum(cnt, 1)
        warm[ucol] = np.clip(cnt - 1, 0, 1)
    left = None if tl is None else max(tl - (time.perf_counter() - t0), 0.05)
    status, x, _, bound, nodes = b.solve(
        maximise=True, time_limit=300.0 if left is None else left, warm=warm, seed=int(seed)
    )
    if status == "infeasible":
        raise InfeasibleError(
            "backup_coverage: no set of sites satisfies the constraints (proven by the MIP)"
        )
    if x is None:
        raise SolverError("backup_coverage: no feasible solution found within the time limit")
    sites = np.flatnonzero(x[ycol] > 0.5)
    viol = check_sites(side, sites)
    if viol is not None:  # pragma: no cover - guarded by the MIP
        raise SolverError(f"backup_coverage: internal error, solution violates constraints: {viol}")
    cnt = cover_counts(indptr, indices, vals, r, sites)
    objective = float(w[cnt >= 2].sum())
    covered = float(w[cnt >= 1].sum())
    is_int = bool(np.all(w == np.round(w)))
    assignment = _nearest_covering(indptr, indices, vals, r, sites)
    return make_solution(
        sites,
        assignment,
        objective,
        max(min(float(bound), trivial), objective),
        seconds=time.perf_counter() - t0,
        iterations=int(first.iterations) + nodes,
        method=f"{first.method}+backup-mip",
        sense="max",
        mip_optimal=status == "optimal",
        integral=is_int,
        info={"covered": covered, "required": required, "cover": cover, "first_bound": float(first.bound)},
    )


def _nearest_covering(indptr, indices, vals, r, sites) -> np.ndarray:
    n = indptr.shape[0] - 1
    m = int(max(np.max(indices, initial=-1), np.max(sites, initial=-1))) + 1
    is_open = np.zeros(m, dtype=bool)
    is_open[np.asarray(sites, dtype=np.int64)] = True
    hit = np.flatnonzero(is_open[indices] & (vals <= r))
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    out = np.full(n, -1, dtype=np.int64)
    rr, pos = np.unique(rows[hit], return_index=True)
    out[rr] = indices[hit[pos]]
    return out
