r"""Maximal covering (MCLP) and partial set covering.

A client :math:`i` is covered by site :math:`j` when :math:`c_{ij} \le r` (stored
entries only). Maximal covering:

.. math::

    \max \sum_i w_i z_i \quad\text{s.t.}\quad z_i \le \sum_{j : c_{ij} \le r} y_j,\;\;
    \sum_j y_j = p,\;\; y \in Y_{\text{side}},\;\; y \in \{0,1\}^m,\; 0 \le z \le 1 .

Partial set covering (fewest sites reaching a share :math:`s` of the weight):

.. math::

    \min \sum_j y_j \quad\text{s.t.}\quad \sum_i w_i z_i \ge s \sum_i w_i,\;\;
    z_i \le \sum_{j : c_{ij} \le r} y_j,\;\; y \in Y_{\text{side}} .

The heuristic minimises the uncovered weight with the shared fast-interchange engine
(covered pairs cost 0, an uncovered client costs :math:`w_i`); the Lagrangian bound of
:func:`.bounds.lagrangian_cover` bounds the covered weight from above.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InfeasibleError, InputError, SolverError
from ._minimize import HEURISTIC_SHARE, MIP_AUTO_ARCS, check_method, mip_time
from ._validate import (
    Instance,
    as_sorted_csr,
    build_instance,
    check_n_m,
    check_p,
    check_time_limit,
    check_weights,
)
from .bounds import cover_sites, lagrangian_cover
from .constraints import Constraints, SideArrays, check_sites, prepare
from .cover_split import split_cover, splittable
from .greedy import State
from .mip import solve_cover_mip
from .solution import Solution, make_solution
from .swap import heuristic_search, improve

__all__ = ["coverage", "set_cover"]

VNS_ITERATIONS = 30

#: Share of the time limit the component split (:mod:`.cover_split`) may use before
#: the whole MIP gets the rest.
SPLIT_SHARE = 0.5


def _check_radius(radius) -> float:
    r = float(radius)
    if not np.isfinite(r) or r < 0:
        raise InputError(f"radius must be a finite non-negative number, got {radius!r}")
    return r


#: Bytes of a dense cost matrix read at a time when its entries within the radius are
#: gathered (:func:`_within_radius`).
DENSE_BLOCK_BYTES = 64 * 2**20


def _within_radius(cost, r: float):
    """A dense matrix's entries ``<= r`` as a CSR matrix (explicit zeros kept), read in row
    blocks, after the checks :func:`._validate.as_sorted_csr` makes on a dense matrix; any
    other input is returned unchanged. Coverage only reads the covering entries, so a
    dense 16,000 x 3,500 matrix is never sorted whole (measured: 11.3 s and 2.4 GB peak
    before, on the bundled China matrix at 30 km)."""
    import scipy.sparse as sp

    if sp.issparse(cost):
        return cost
    arr = np.asarray(cost)
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        return cost  # as_sorted_csr names the problem
    n, m = arr.shape
    step = max(1, DENSE_BLOCK_BYTES // (8 * max(m, 1)))
    rows, cols, vals = [], [], []
    for a in range(0, n, step):
        block = arr[a : a + step].astype(np.float64, copy=False)
        if np.any(np.isnan(block)) or np.any(block < 0):
            return cost  # as_sorted_csr raises the error with its message
        i, j = np.nonzero(block <= r)
        rows.append(i + a)
        cols.append(j)
        vals.append(block[i, j])
    data = np.concatenate(vals) if vals else np.zeros(0)
    ij = (np.concatenate(rows), np.concatenate(cols)) if rows else (np.zeros(0, int), np.zeros(0, int))
    return sp.csr_matrix((data, ij), shape=(n, m))


def _cover_instance(cost, radius, weights) -> tuple[Instance, np.ndarray]:
    r = _check_radius(radius)
    n, m, indptr, indices, vals = as_sorted_csr(_within_radius(cost, r))
    check_n_m(n, m)
    w = check_weights(weights, n)
    covered = vals <= r
    rows = np.repeat(np.arange(n), np.diff(indptr))[covered]
    new_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=new_ptr[1:])
    inst = build_instance(n, m, new_ptr, indices[covered], np.zeros(int(covered.sum())), w)
    return inst, w


def _covered_assignment(st: State) -> np.ndarray:
    return st.assignment()


def _is_int(w: np.ndarray) -> bool:
    return bool(np.all(w == np.round(w)))


def _run_heuristic(inst, side, k, seed, deadline, vns, kmax=None):
    return heuristic_search(
        inst,
        side,
        k,
        k if kmax is None else kmax,
        seed=seed,
        deadline=deadline,
        vns_iterations=vns,
    )


def coverage(
    cost,
    p: int | None,
    radius: float,
    *,
    weights=None,
    constraints: Constraints | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "auto",
    capacity=None,
    fill_must_open: bool = False,
    fill_tolerance: float = 0.0,
    demand=None,
) -> Solution:
    """Open ``p`` sites maximising the weight of clients within ``radius``.

    Parameters
    ----------
    cost : ndarray or scipy.sparse CSR, shape (n_clients, n_sites)
        Distance (e.g. km); client ``i`` is covered by site ``j`` when
        ``cost[i, j] <= radius`` (missing CSR entries never cover).
    p : int or None
        Number of sites to open. None: as many as ``constraints.budget`` allows.
    radius : float
        Coverage radius in the units of ``cost``.
    weights : array-like, optional
        Client weights (e.g. population), default 1.
    constraints, time_limit, seed, method
        As in :func:`storeplan.solvers.pmedian`.
    capacity : float or array-like, shape (n_sites,), optional
        Most covered weight one site may serve; each covered client is assigned to one
        covering open site (single source), solved exactly (:mod:`.capacity`).
    fill_must_open : bool
        With ``capacity``: every must-open site is filled to its capacity (spopt's
        ``fulfill_predefined_fac``), up to ``fill_tolerance``.
    fill_tolerance : float
        Share of a must-open site's capacity that may stay unused, in [0, 1).
    demand : array-like, shape (n_clients,), optional
        What a client uses of a site's ``capacity`` (same unit; default ``weights``,
        e.g. yearly spending in currency against a sales capacity).

    Returns
    -------
    Solution
        ``sense == "max"``; ``objective`` is the covered weight, ``bound`` an upper
        bound; ``assignment`` is the nearest covering open site or -1 (uncovered)
        (with ``capacity``: the site serving the client).
    """
    t0 = time.perf_counter()
    method = check_method(method)
    inst, w = _cover_instance(cost, radius, weights)
    if p is None:
        if constraints is None or constraints.budget is None:
            raise InputError("coverage: give p (the number of sites) or constraints.budget")
        kmin, kmax = 0, inst.m
    else:
        p = check_p(p, inst.m)
        kmin, kmax = p, p
    tl = check_time_limit(time_limit)
    deadline = None if tl is None else t0 + tl
    side = prepare(constraints, inst.m, kmin, kmax)
    what = "open" if p is None else str(p)
    total = float(w.sum())
    small = inst.nnz + inst.n <= MIP_AUTO_ARCS
    iterations = 0
    # the first search stops at a share of the time limit, as in the minimisation models,
    # so that the Lagrangian bound that certifies it gets the rest
    search_end = None if tl is None else t0 + HEURISTIC_SHARE * tl
    res = _run_heuristic(inst, side, kmin, seed, search_end, 0, kmax)
    if fill_must_open and capacity is None:
        raise InputError("coverage: fill_must_open needs a capacity (the amount to fill)")
    if capacity is not None:
        from .capacity import solve_capacitated
        from .facility_location import site_array

        n_, m_, indptr, indices, vals = as_sorted_csr(cost)
        return solve_capacitated(
            "coverage",
            indptr,
            indices,
            vals,
            w,
            w if demand is None else np.asarray(demand, dtype=np.float64),
            site_array(capacity, m_, "capacity", allow_inf=True),
            side,
            kmin,
            kmax,
            radius=_check_radius(radius),
            warm_sites=None if res.state is None else res.state.sites,
            time_limit=tl,
            seed=int(seed),
            label="coverage",
            t0=t0,
            fill_must_open=fill_must_open,
            fill_tolerance=fill_tolerance,
        )
    methods = []
    st = res.state
    if st is None and (method == "heuristic" or not small):
        raise InfeasibleError(_infeasible(side, what))
    split = None
    if st is not None and method == "auto" and small and p is not None and splittable(side):
        # exact by independent site components (:mod:`.cover_split`); a share of the
        # time limit, the whole MIP gets the rest when it does not finish
        methods.append(res.method)
        iterations += res.moves

        def polish(sites):
            cand = State(inst, side)
            cand.open_many(sites)
            improve(cand, kmin, kmax, deadline)
            return cand.sites, total - cand.objective()

        split = split_cover(
            inst.cptr,
            inst.crow,
            w,
            side,
            p,
            total - st.objective(),
            deadline=None if tl is None else t0 + SPLIT_SHARE * tl,
            seed=seed,
            integral=_is_int(w),
            polish=polish,
        )
        if split is None:
            methods.pop()
            iterations -= res.moves
    if split is not None:
        assert st is not None
        methods.append("split")
        iterations += split.mip_solves
        cand = State(inst, side)
        cand.open_many(split.sites)
        if cand.objective() < st.objective():
            st = cand
        covered = total - st.objective()
        bound = split.bound
        proven = split.proven or bound <= covered + 1e-9 * max(1.0, covered)
    elif st is not None:
        methods.append(res.method)
        iterations += res.moves
        covered = total - st.objective()
        lr = lagrangian_cover(
            inst.cptr, inst.crow, w, side, kmin, kmax, covered, max_iter=2000, patience=50, deadline=deadline
        )
        iterations += lr.iterations
        methods.append("lagrangian")
        bound = lr.bound
        if _is_int(w):
            bound = np.floor(bound + 1e-6)
        proven = bound <= covered + 1e-9 * max(1.0, covered)
        if not proven:
            # Lagrangian heuristic: local search from the subproblem's sites
            start = cover_sites(inst.cptr, inst.crow, side, kmin, kmax, lr.lam)
            if kmin <= start.size <= kmax and check_sites(side, start) is None:
                cand = State(inst, side)
                cand.open_many(start)
                mv, _ = improve(cand, kmin, kmax, deadline)
                iterations += mv
                if cand.objective() < st.objective() - 1e-9 * max(1.0, covered):
                    st = cand
                    covered = total - st.objective()
                    methods.append("lagrangian-start")
                    proven = bound <= covered + 1e-9 * max(1.0, covered)
        if not proven and (method == "heuristic" or (not small and method == "auto")):
            res2 = _run_heuristic(inst, side, kmin, seed, deadline, VNS_ITERATIONS, kmax)
            if res2.state is not None and res2.state.objective() < st.objective() - 1e-9:
                st = res2.state
                methods.append("vns")
            iterations += res2.moves
            covered = total - st.objective()
            proven = bound <= covered + 1e-9 * max(1.0, covered)
    else:
        covered, bound, proven = -np.inf, np.inf, False
    mip_opt = split is not None and split.proven
    if not proven and method != "heuristic" and (small or method == "mip"):
        mip = solve_cover_mip(
            inst.cptr,
            inst.crow,
            w,
            side,
            p=p,
            target=None,
            kmax=kmax,
            time_limit=mip_time(deadline),
            warm_sites=None if st is None else st.sites,
            seed=seed,
        )
        methods.append("mip")
        iterations += mip.nodes
        if mip.infeasible:
            raise InfeasibleError(_infeasible(side, what) + " (proven by the MIP)")
        if mip.y is not None:
            cand = State(inst, side)
            cand.open_many(mip.y)
            if st is None or cand.objective() < st.objective():
                st = cand
        if st is None:
            raise SolverError("coverage: no feasible solution found within the time limit")
        covered = total - st.objective()
        if mip.optimal:
            mip_opt = True
            bound = min(bound, max(covered, mip.objective))
        elif np.isfinite(mip.bound):
            bound = min(bound, mip.bound)
    viol = check_sites(side, st.sites)
    if viol is not None:  # pragma: no cover
        raise SolverError(f"coverage: internal error, solution violates constraints: {viol}")
    return make_solution(
        st.sites,
        _covered_assignment(st),
        covered,
        bound,
        seconds=time.perf_counter() - t0,
        iterations=iterations,
        method="+".join(methods),
        sense="max",
        mip_optimal=mip_opt,
        integral=_is_int(w),
    )


def _infeasible(side: SideArrays, p) -> str:
    if side.has_conflicts:
        return f"no feasible set of {p} sites satisfies the minimum spacing"
    if side.has_quotas and not side.has_groups:
        return f"no feasible set of {p} sites satisfies the quotas ({', '.join(side.q_names)})"
    return f"no feasible set of {p} sites satisfies the group limits"


def set_cover(
    cost,
    radius: float,
    share: float,
    *,
    weights=None,
    constraints: Constraints | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "auto",
) -> Solution:
    """Fewest sites whose ``radius`` neighbourhoods cover at least ``share`` of the weight.

    Parameters
    ----------
    cost : ndarray or scipy.sparse CSR, shape (n_clients, n_sites)
        Distance; covered when ``cost[i, j] <= radius``.
    radius : float
        Coverage radius in the units of ``cost``.
    share : float
        Required covered share of the total weight, in (0, 1].
    weights, constraints, time_limit, seed, method
        As in :func:`coverage`.

    Returns
    -------
    Solution
        ``objective`` is the number of open sites (``sense == "min"``), ``bound`` a lower
        bound on it. ``info["covered"]`` holds the covered weight.
    """
    t0 = time.perf_counter()
    method = check_method(method)
    s = float(share)
    if not np.isfinite(s) or s <= 0 or s > 1:
        raise InputError(f"share must be in (0, 1], got {share!r}")
    inst, w = _cover_instance(cost, radius, weights)
    tl = check_time_limit(time_limit)
    deadline = None if tl is None else t0 + tl
    m = inst.m
    side = prepare(constraints, m, 0, m)
    total = float(w.sum())
    target = s * total * (1 - 1e-12)
    # weight that any allowed site can cover
    allowed = side.status != 2
    reach = np.zeros(inst.n, dtype=bool)
    for j in np.flatnonzero(allowed):
        reach[inst.crow[inst.cptr[j] : inst.cptr[j + 1]]] = True
    if w[reach].sum() < target:
        raise InfeasibleError(
            f"share {s:g} cannot be reached: only {w[reach].sum() / max(total, 1e-300):.4g} of "
            "the weight lies within radius of an allowed site"
        )
    lo = max(1, int(side.must.size), int(side.gmin.sum()) if side.has_groups else 0)
    cache: dict[int, State | None] = {}
    iterations = 0

    def cov(k: int) -> float:
        nonlocal iterations
        if k not in cache:
            r = _run_heuristic(inst, side, k, seed, deadline, 0)
            cache[k] = r.state
            iterations += r.moves
        st = cache[k]
        return -np.inf if st is None else total - st.objective()

    n_allowed = int(allowed.sum())
    hi = lo
    while cov(hi) < target and hi < n_allowed:
        hi = min(n_allowed, hi * 2)
    if cov(hi) < target:
        raise InfeasibleError(f"share {s:g} cannot be reached under the side constraints")
    a = lo
    while a < hi:  # smallest heuristic k reaching the target (coverage grows with k)
        mid = (a + hi) // 2
        if cov(mid) >= target:
            hi = mid
        else:
            a = mid + 1
    k_best = hi
    st = cache[k_best]
    assert st is not None  # cov(k_best) reached the target, so a state was found
    methods = ["greedy+swap"]
    bound = float(lo)
    monotone = not side.has_conflicts and not side.has_groups and not side.has_quotas
    if monotone and k_best > lo:
        # k* >= k whenever the Lagrangian upper bound of coverage(k - 1) misses the target
        k = k_best - 1
        while k >= lo:
            lr = lagrangian_cover(inst.cptr, inst.crow, w, side, k, k, target, deadline=deadline)
            iterations += lr.iterations
            if lr.bound < target:
                bound = float(k + 1)
                break
            k -= 1
        methods.append("lagrangian")
    mip_opt = False
    small = inst.nnz + inst.n <= MIP_AUTO_ARCS
    if bound < k_best and method != "heuristic" and (small or method == "mip"):
        mip = solve_cover_mip(
            inst.cptr,
            inst.crow,
            w,
            side,
            p=None,
            target=target,
            time_limit=mip_time(deadline),
            warm_sites=st.sites,
            seed=seed,
        )
        methods.append("mip")
        iterations += mip.nodes
        if mip.y is not None and mip.y.size < st.nopen:
            cand = State(inst, side)
            cand.open_many(mip.y)
            if total - cand.objective() >= target:
                st = cand
        if mip.optimal:
            mip_opt = True
            bound = max(bound, np.ceil(mip.objective - 1e-6))
        elif np.isfinite(mip.bound):
            bound = max(bound, np.ceil(mip.bound - 1e-6))
    covered = total - st.objective()
    return make_solution(
        st.sites,
        st.assignment(),
        float(st.nopen),
        bound,
        seconds=time.perf_counter() - t0,
        iterations=iterations,
        method="+".join(methods),
        sense="min",
        mip_optimal=mip_opt,
        integral=True,
        info={"covered": covered, "target": target},
    )
