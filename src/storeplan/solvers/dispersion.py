r"""The p-dispersion problem: open ``p`` sites as far apart as possible.

.. math::

    \max \; D \quad\text{s.t.}\quad D \le d_{ab} + M (2 - y_a - y_b)
    \;\; \forall a < b,\;\; \sum_j y_j = p,\;\; y \in Y_{\text{side}},\;\; y \in \{0,1\}^m

(Kuby 1987; spopt's ``PDispersion``, :math:`M = \max d`). The optimum is one of the
pair distances, and "is there a feasible set of ``p`` sites no two of which are closer
than :math:`r`?" is monotone in :math:`r`: a maximum-independent-set question on the
graph of pairs closer than :math:`r` (Erkut 1990). The solver starts from the
farthest-point greedy (a 2-approximation without side constraints, Ravi, Rosenkrantz &
Tayi 1994), then bisects on the sorted distances; each step tries a minimum-degree
greedy independent set and, when the step's graph has at most 200,000 edges, answers
exactly with a HiGHS MIP (``y_a + y_b <= 1`` per close pair plus every side row) built
with :class:`.builder.MipBuilder`. ``bound`` is the smallest distance not proven
infeasible. ``method="mip"`` solves the formulation above in one model (a cross-check).

Pairs of two must-open sites (e.g. existing stores) are fixed by the input: with
``count_must_pairs=False`` they do not count in the minimum.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, InputError, NegativeValueError, SolverError
from ._bisect import LevelCheck, bisect_levels
from ._minimize import MIP_AUTO_ARCS, check_method
from ._validate import check_p, check_time_limit
from .builder import INF, MipBuilder
from .constraints import FORBIDDEN, MUST, Constraints, SideArrays, check_sites, prepare, quota_tol
from .solution import Solution, make_solution

__all__ = ["pdispersion", "dispersion_value"]


def _pairs(dist) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, float]:
    """``(m, a, b, d, far)`` with ``a < b`` for every stored pair."""
    if sp.issparse(dist):
        if dist.shape[0] != dist.shape[1]:
            raise InputError(f"dist must be square (sites x sites), got shape {dist.shape}")
        c = sp.coo_matrix(dist)
        a, b, d = c.row.astype(np.int64), c.col.astype(np.int64), c.data.astype(np.float64)
        m = int(dist.shape[0])
    else:
        arr = np.asarray(dist, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise InputError(f"dist must be a square (sites x sites) array, got shape {arr.shape}")
        m = int(arr.shape[0])
        a, b = np.triu_indices(m, 1)
        d = arr[a, b]
        if not np.allclose(arr, arr.T, equal_nan=True):
            raise InputError("dist must be symmetric")
    if np.any(np.isnan(d)) or np.any(d < 0):
        raise NegativeValueError("dist holds NaN or negative distances")
    keep = (a != b) & np.isfinite(d)
    a, b, d = a[keep], b[keep], d[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    if lo.size:
        key = lo * m + hi
        order = np.argsort(key, kind="stable")
        key, lo, hi, d = key[order], lo[order], hi[order], d[order]
        first = np.r_[True, key[1:] != key[:-1]]
        # a pair stored twice (both triangles) keeps its smaller distance
        dmin = np.minimum.reduceat(d, np.flatnonzero(first))
        lo, hi, d = lo[first], hi[first], dmin
    far = float(d.max(initial=0.0))
    return m, lo, hi, d, far


def dispersion_value(a, b, d, far: float, sites, counted=None) -> float:
    """Smallest distance between two open ``sites`` over the stored pairs (``far`` when
    no stored pair has both ends open); ``counted`` masks the pairs that count."""
    m = int(max(np.max(a, initial=-1), np.max(b, initial=-1), np.max(sites, initial=-1))) + 1
    is_open = np.zeros(m, dtype=bool)
    is_open[np.asarray(sites, dtype=np.int64)] = True
    both = is_open[a] & is_open[b]
    if counted is not None:
        both &= counted
    return float(min(far, float(d[both].min(initial=np.inf))))


def pdispersion(
    dist,
    p: int,
    *,
    constraints: Constraints | None = None,
    far: float | None = None,
    count_must_pairs: bool = True,
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "auto",
) -> Solution:
    """Open exactly ``p`` sites maximising the smallest distance between two of them.

    Parameters
    ----------
    dist : ndarray, shape (m, m), or scipy.sparse matrix
        Site-to-site distances (e.g. km), symmetric. A sparse matrix stores only the
        close pairs; a missing pair is at least ``far`` apart.
    p : int
        Number of sites to open, ``2 <= p <= m``.
    constraints : Constraints, optional
        Must-open, forbidden, groups, minimum spacing, budget and quotas.
    far : float, optional
        Distance credited to a pair that is not stored (default: the largest stored
        distance); the objective never exceeds it.
    count_must_pairs : bool
        Whether a pair of two must-open sites counts in the minimum (spopt: yes).
    time_limit, seed, method
        As in :func:`storeplan.solvers.pcenter` (``auto``: MIP steps up to 200,000
        close pairs; ``heuristic``; ``mip``: one model).

    Returns
    -------
    Solution
        ``sense == "max"``; ``objective`` is the smallest counted distance between open
        sites, ``bound`` a proven upper bound; ``assignment`` is empty.
    """
    t0 = time.perf_counter()
    method = check_method(method)
    m, a, b, d, far_default = _pairs(dist)
    if m == 0:
        raise InputError("dist has no sites")
    p = check_p(p, m)
    if p < 2:
        raise InputError("pdispersion: p must be at least 2 (the spacing of one site is undefined)")
    far_v = far_default if far is None else float(far)
    if not np.isfinite(far_v) or far_v < 0:
        raise InputError(f"far must be a finite non-negative distance, got {far!r}")
    tl = check_time_limit(time_limit)
    deadline = None if tl is None else t0 + tl
    side = prepare(constraints, m, p, p)
    must = side.status == MUST
    if not count_must_pairs and int(must.sum()) >= p:
        raise InputError(
            "pdispersion: every open site is must-open, so no pair counts; lower the must-open sites"
        )
    allowed = side.status != FORBIDDEN
    counted = allowed[a] & allowed[b]
    if not count_must_pairs:
        counted &= ~(must[a] & must[b])
    ca, cb, cd = a[counted], b[counted], np.minimum(d[counted], far_v)
    if method == "mip":
        return _one_mip(m, ca, cb, cd, far_v, side, p, tl, seed, t0)
    # levels in descending distance: a larger index is easier
    levels = np.unique(np.r_[cd, far_v])[::-1].copy()

    start_sites = _farthest_point(m, ca, cb, cd, far_v, side, p)
    if start_sites is None:
        chk = _check(
            m, ca, cb, cd, side, p, float(levels[-1]) if levels.size else 0.0, seed, deadline, "auto"
        )
        if chk.status != "yes" or chk.sites is None:
            raise InfeasibleError(
                f"pdispersion: no set of {p} sites satisfies the constraints"
                + (" (proven)" if chk.status == "no" else "")
            )
        start_sites = chk.sites

    def index_of(v: float) -> int:
        # levels are descending: first index whose level is <= v
        return int(np.searchsorted(-levels, -v * (1 + 1e-12), side="left"))

    start = min(index_of(dispersion_value(ca, cb, cd, far_v, start_sites)), levels.size - 1)

    def check(k: int) -> LevelCheck:
        out = _check(m, ca, cb, cd, side, p, float(levels[k]), seed, deadline, method)
        if out.status == "yes" and out.sites is not None:
            out.achieved = index_of(dispersion_value(ca, cb, cd, far_v, out.sites))
        return out

    bis = bisect_levels(
        levels.size,
        start,
        start_sites,
        0,
        check,
        out_of_time=lambda: deadline is not None and time.perf_counter() >= deadline,
    )
    sites = bis.sites
    viol = check_sites(side, sites)
    if viol is not None:  # pragma: no cover - every step honours the constraints
        raise SolverError(f"pdispersion: internal error, solution violates constraints: {viol}")
    objective = dispersion_value(ca, cb, cd, far_v, sites)
    bound = float(levels[bis.proven])
    return make_solution(
        sites,
        np.empty(0, dtype=np.int64),
        objective,
        max(bound, objective),
        seconds=time.perf_counter() - t0,
        iterations=bis.checks,
        method="+".join(["farthest-point", "bisection", *bis.methods]),
        sense="max",
        info={"levels": int(levels.size), "checks": bis.checks, "far": far_v},
    )


def _adjacency(m: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src = np.r_[a, b]
    dst = np.r_[b, a]
    order = np.argsort(src, kind="stable")
    ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=m), out=ptr[1:])
    return ptr, dst[order]


class _Greedy:
    """Incremental feasibility of adding sites under the side rows' upper limits."""

    def __init__(self, side: SideArrays, m: int):
        self.side = side
        self.is_open = np.zeros(m, dtype=bool)
        self.blocked = side.status == FORBIDDEN
        self.gcount = np.zeros(side.gmin.shape[0], dtype=np.int64)
        self.quse = np.zeros(side.q_lo.shape[0])
        self.sptr, self.sadj = side.conf_ptr, side.conf_adj

    def can(self, j: int) -> bool:
        s = self.side
        if self.is_open[j] or self.blocked[j]:
            return False
        g = int(s.group[j])
        if g >= 0 and g < self.gcount.shape[0] and self.gcount[g] >= s.gmax[g]:
            return False
        q0, q1 = s.q_ptr[j], s.q_ptr[j + 1]
        for t in range(q0, q1):
            r = s.q_row[t]
            if self.quse[r] + s.q_val[t] > s.q_hi[r] + quota_tol(s.q_hi[r]):
                return False
        return True

    def add(self, j: int) -> None:
        s = self.side
        self.is_open[j] = True
        g = int(s.group[j])
        if g >= 0 and g < self.gcount.shape[0]:
            self.gcount[g] += 1
        q0, q1 = s.q_ptr[j], s.q_ptr[j + 1]
        np.add.at(self.quse, s.q_row[q0:q1], s.q_val[q0:q1])
        self.blocked[self.sadj[self.sptr[j] : self.sptr[j + 1]]] = True

    @property
    def sites(self) -> np.ndarray:
        return np.flatnonzero(self.is_open)


def _farthest_point(m, a, b, d, far, side: SideArrays, p) -> np.ndarray | None:
    """Farthest-point greedy from the must-open sites (or the farthest pair)."""
    ptr, adj = _adjacency(m, a, b)
    dd = np.r_[d, d][np.argsort(np.r_[a, b], kind="stable")]
    g = _Greedy(side, m)
    mind = np.full(m, np.inf)

    def take(j: int) -> None:
        g.add(j)
        nb = adj[ptr[j] : ptr[j + 1]]
        np.minimum.at(mind, nb, dd[ptr[j] : ptr[j + 1]])
        mind[j] = -np.inf

    for j in np.flatnonzero(side.status == MUST):
        take(int(j))
    if not g.is_open.any():
        ok = [k for k in np.argsort(-d, kind="stable") if g.can(int(a[k])) and g.can(int(b[k]))]
        if ok:
            take(int(a[ok[0]]))
    while g.is_open.sum() < p:
        cand = np.flatnonzero(~g.is_open & ~g.blocked)
        cand = cand[[g.can(int(j)) for j in cand]] if cand.size else cand
        if cand.size == 0:
            return None
        score = np.minimum(mind[cand], far)
        take(int(cand[np.argmax(score)]))
    sites = g.sites
    return sites if check_sites(side, sites) is None else None


def _check(m, a, b, d, side: SideArrays, p, r, seed, deadline, method) -> LevelCheck:
    """Is there a feasible set of ``p`` sites with no counted pair closer than ``r``?"""
    close = d < r * (1 - 1e-12)
    ca, cb = a[close], b[close]
    core = _core(m, ca, cb, side, p)
    if core is None:
        return LevelCheck("no", method="core")
    ptr, adj = _adjacency(m, ca, cb)
    # minimum-degree greedy independent set, must-open sites first
    for attempt in range(3):
        g = _Greedy(side, m)
        ok = True
        for j in np.flatnonzero(side.status == MUST):
            if g.blocked[j]:
                ok = False
                break
            g.add(int(j))
            g.blocked[adj[ptr[j] : ptr[j + 1]]] = True
        if not ok:
            return LevelCheck("no", method="must-open")
        deg = np.diff(ptr).astype(np.float64)
        if attempt:
            deg += np.random.default_rng(int(seed) * 7 + attempt).random(m)
        for j in np.argsort(deg, kind="stable"):
            if g.is_open.sum() >= p:
                break
            if g.can(int(j)):
                g.add(int(j))
                g.blocked[adj[ptr[j] : ptr[j + 1]]] = True
        sites = g.sites
        if sites.size == p and check_sites(side, sites) is None:
            return LevelCheck("yes", sites, method="greedy-mis")
    if method == "heuristic" or (method == "auto" and ca.size > MIP_AUTO_ARCS):
        return LevelCheck("unknown")
    bld = MipBuilder()
    ycol = bld.add_sites(side, 0.0)
    bld.hi[0][~core] = 0.0  # outside the (p - 1)-core no site can be part of a solution
    keep = core[ca] & core[cb]
    cliques = edge_clique_cover(m, ca[keep], cb[keep])
    if cliques:
        rid = np.concatenate([np.full(len(c), t, dtype=np.int64) for t, c in enumerate(cliques)])
        members = np.concatenate([np.asarray(c, dtype=np.int64) for c in cliques])
        bld.add_rows(rid, ycol[members], np.ones(members.size), -INF, 1.0, len(cliques))
    bld.add_side(side, ycol, p, p)
    left = None if deadline is None else max(deadline - time.perf_counter(), 0.05)
    status, x, _, _, _ = bld.solve(maximise=False, time_limit=300.0 if left is None else left, seed=int(seed))
    if status == "infeasible":
        return LevelCheck("no", method="mip")
    if x is not None:
        return LevelCheck("yes", np.flatnonzero(x[ycol] > 0.5), method="mip")
    return LevelCheck("unknown", method="mip")


def _core(m: int, a: np.ndarray, b: np.ndarray, side: SideArrays, p: int) -> np.ndarray | None:
    """Sites that can belong to ``p`` pairwise compatible sites, or None (proof that none
    exist): in a solution every site is compatible (no close pair) with the other
    ``p - 1``, so sites compatible with fewer of the remaining ones are removed until
    none is (the ``(p - 1)``-core of the compatibility graph)."""
    alive = side.status != FORBIDDEN
    while True:
        n_alive = int(alive.sum())
        if n_alive < p:
            return None
        both = alive[a] & alive[b]
        close_deg = np.bincount(a[both], minlength=m) + np.bincount(b[both], minlength=m)
        drop = alive & (n_alive - 1 - close_deg < p - 1)
        if not drop.any():
            break
        if np.any(drop & (side.status == MUST)):
            return None
        alive &= ~drop
    return alive


def edge_clique_cover(m: int, a: np.ndarray, b: np.ndarray) -> list[list[int]]:
    r"""Cliques covering every edge ``(a, b)``, greedily grown from high-degree vertices.

    A clique row :math:`\sum_{j \in C} y_j \le 1` replaces the edge rows it covers and
    is much tighter in the LP relaxation (geometric conflict graphs have large cliques).
    """
    ptr, adj = _adjacency(m, a, b)
    nbrs = [set(adj[ptr[j] : ptr[j + 1]].tolist()) for j in range(m)]
    left = [set(x) for x in nbrs]  # edges not yet covered
    deg = np.diff(ptr).tolist()
    out: list[list[int]] = []
    # one greedy maximal clique from every vertex (through common neighbours of highest
    # degree), then the edges no clique covers as pairs
    for v in np.argsort(-np.diff(ptr), kind="stable"):
        v = int(v)
        if not left[v]:
            continue
        u0 = max(left[v], key=deg.__getitem__)
        clique = [v, u0]
        common = nbrs[v] & nbrs[u0]
        while common:
            w = max(common, key=deg.__getitem__)
            clique.append(w)
            common &= nbrs[w]
        for x in clique:
            left[x].difference_update(clique)
        out.append(clique)
    out.extend([v, u] for v in range(m) for u in left[v] if v < u)
    return out


def _one_mip(m, a, b, d, far, side: SideArrays, p, tl, seed, t0) -> Solution:
    """Kuby's formulation (module docstring) in one HiGHS model."""
    big = float(far)
    bld = MipBuilder()
    ycol = bld.add_sites(side, 0.0)
    dcol = bld.add_columns(np.ones(1), 0.0, big, integer=False)
    k = a.size
    if k:
        rid = np.arange(k)
        # D + M y_a + M y_b <= d_ab + 2M
        bld.add_rows(
            np.r_[rid, rid, rid],
            np.r_[np.full(k, dcol[0]), ycol[a], ycol[b]],
            np.r_[np.ones(k), np.full(2 * k, big)],
            -INF,
            d + 2 * big,
            k,
        )
    bld.add_side(side, ycol, p, p)
    status, x, _, bound, nodes = bld.solve(
        maximise=True,
        time_limit=300.0 if tl is None else tl,
        seed=int(seed),
        started=None if tl is None else t0,
    )
    if status == "infeasible":
        raise InfeasibleError(
            f"pdispersion: no set of {p} sites satisfies the constraints (proven by the MIP)"
        )
    if x is None:
        raise SolverError("pdispersion: no feasible solution found within the time limit")
    sites = np.flatnonzero(x[ycol] > 0.5)
    objective = dispersion_value(a, b, d, far, sites)
    return make_solution(
        sites,
        np.empty(0, dtype=np.int64),
        objective,
        max(float(bound), objective),
        seconds=time.perf_counter() - t0,
        iterations=nodes,
        method="mip",
        sense="max",
        mip_optimal=status == "optimal",
    )
