"""Side constraints on the set of open sites and their validation.

Every solver accepts a :class:`Constraints`; :func:`prepare` checks it against the
instance and turns it into flat arrays the Numba kernels read (:class:`SideArrays`).

With :math:`y_j \\in \\{0, 1\\}` the open/closed decision of site :math:`j`:

.. math::

    y_j = 1 \\; (j \\in \\text{must\\_open}), \\qquad
    y_j = 0 \\; (j \\in \\text{forbidden}),

    \\text{group\\_min}_g \\le \\sum_{j : \\text{group}_j = g} y_j \\le \\text{group\\_max}_g,
    \\qquad
    y_a + y_b \\le 1 \\; ((a, b) \\in \\text{conflicts}).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import InfeasibleError, InputError

__all__ = ["Constraints", "Quota", "SideArrays", "conflict_cliques", "prepare"]

FREE, MUST, FORBIDDEN = 0, 1, 2


@dataclass(frozen=True)
class Quota:
    """One knapsack row over a set of sites: ``lo <= sum_j weight_j y_j <= hi``.

    Parameters
    ----------
    name : str
        What the row is, used in every error message (e.g. ``"region Henan"``,
        ``"budget"``, ``"format flagship"``).
    sites : array-like of int
        Member sites (column indices).
    weight : array-like of float, optional
        Coefficient of every member (e.g. its opening cost, currency); None: 1 (a store
        count).
    lo, hi : float
        Bounds of the row (``hi = inf``: no upper limit).
    unit : str
        Unit of the row's value for messages: ``"stores"`` (count) or a currency.
    """

    name: str
    sites: np.ndarray
    weight: np.ndarray | None = None
    lo: float = 0.0
    hi: float = float("inf")
    unit: str = "stores"


@dataclass(frozen=True)
class Constraints:
    """Side constraints on which sites may or must be open.

    Parameters
    ----------
    must_open : array-like of int, optional
        Sites that must be open (e.g. existing stores).
    forbidden : array-like of int, optional
        Sites that may not be open.
    group : array-like of int, shape (n_sites,), optional
        Group id of every site (e.g. region), -1 for no group.
    group_min, group_max : array-like of int, optional
        Minimum / maximum number of open sites per group id (indexed by group id).
    conflicts : array-like of int, shape (k, 2), optional
        Site pairs that may not both be open (minimum spacing; see
        :func:`storeplan.geo.pairs_within`).
    site_cost : array-like of float, shape (n_sites,), optional
        Opening cost of every site (currency), the weights of ``budget``.
    budget : float, optional
        Most total ``site_cost`` of the open sites (a knapsack row, never a count).
    quotas : sequence of Quota
        Further knapsack rows (store counts or budgets per region, tier, format...).
    """

    must_open: np.ndarray | None = None
    forbidden: np.ndarray | None = None
    group: np.ndarray | None = None
    group_min: np.ndarray | None = None
    group_max: np.ndarray | None = None
    conflicts: np.ndarray | None = None
    site_cost: np.ndarray | None = None
    budget: float | None = None
    quotas: tuple = ()


@dataclass(frozen=True)
class SideArrays:
    """Flat arrays of validated constraints (internal).

    ``status`` is 0 free / 1 must-open / 2 forbidden per site; ``group`` is int32 with
    -1 for none; ``gmin``/``gmax`` int64 per group (gmax = n_sites when unbounded);
    ``conf_ptr``/``conf_adj`` a symmetric CSR adjacency of conflicting sites;
    ``q_ptr``/``q_row``/``q_val`` the quota rows of every site (site-major CSR) with
    bounds ``q_lo``/``q_hi`` and names ``q_names``; ``bcost``/``bcap`` the weights and
    capacity of the overall budget row (``bcap = inf`` without one), used by the bounds.
    """

    status: np.ndarray
    group: np.ndarray
    gmin: np.ndarray
    gmax: np.ndarray
    conf_ptr: np.ndarray
    conf_adj: np.ndarray
    conflicts: np.ndarray
    q_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    q_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    q_val: np.ndarray = field(default_factory=lambda: np.zeros(0))
    q_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))
    q_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    q_names: tuple = ()
    q_units: tuple = ()
    bcost: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bcap: float = float("inf")

    @property
    def has_quotas(self) -> bool:
        return bool(self.q_lo.shape[0] > 0)

    @property
    def has_budget(self) -> bool:
        return bool(np.isfinite(self.bcap))

    def quota_usage(self, sites) -> np.ndarray:
        """Value of every quota row for the open ``sites``."""
        use = np.zeros(self.q_lo.shape[0])
        for j in np.asarray(sites, dtype=np.int64):
            a, b = self.q_ptr[j], self.q_ptr[j + 1]
            np.add.at(use, self.q_row[a:b], self.q_val[a:b])
        return use

    def quota_matrix(self):
        """Quota rows as a ``scipy.sparse`` CSR matrix (rows x sites)."""
        import scipy.sparse as sp

        m = self.status.shape[0]
        cols = np.repeat(np.arange(m, dtype=np.int64), np.diff(self.q_ptr))
        return sp.csr_matrix((self.q_val, (self.q_row, cols)), shape=(self.q_lo.shape[0], m))

    @property
    def must(self) -> np.ndarray:
        return np.flatnonzero(self.status == MUST)

    @property
    def forbidden(self) -> np.ndarray:
        return np.flatnonzero(self.status == FORBIDDEN)

    @property
    def has_groups(self) -> bool:
        return bool(self.gmin.shape[0] > 0)

    @property
    def has_conflicts(self) -> bool:
        return bool(self.conflicts.shape[0] > 0)

    @property
    def trivial(self) -> bool:
        return not (self.has_groups or self.has_conflicts or self.has_quotas or np.any(self.status != FREE))


def _index_array(value, m: int, name: str) -> np.ndarray:
    if value is None:
        return np.empty(0, dtype=np.int64)
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise InputError(f"{name} as a boolean mask must have length {m}, got {arr.shape}")
        return np.flatnonzero(arr).astype(np.int64)
    arr = arr.reshape(-1)
    if (
        arr.size
        and not np.issubdtype(arr.dtype, np.integer)
        and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)))
    ):
        raise InputError(f"{name} must hold integer site indices")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= m):
        raise InputError(f"{name} holds site indices outside 0..{m - 1}")
    return np.unique(arr)


def prepare(
    constraints: Constraints | None,
    m: int,
    p_min: int,
    p_max: int,
) -> SideArrays:
    """Validate ``constraints`` for ``m`` sites and between ``p_min`` and ``p_max`` open
    sites; raise :class:`InfeasibleError` naming the violated constraint."""
    c = constraints if constraints is not None else Constraints()
    if not isinstance(c, Constraints):
        raise InputError(f"constraints must be a storeplan.solvers.Constraints, got {type(c)!r}")
    status = np.zeros(m, dtype=np.int8)
    must = _index_array(c.must_open, m, "must_open")
    forb = _index_array(c.forbidden, m, "forbidden")
    both = np.intersect1d(must, forb)
    if both.size:
        raise InfeasibleError(f"must_open and forbidden share {both.size} site(s), e.g. site {int(both[0])}")
    status[must] = MUST
    status[forb] = FORBIDDEN
    if must.size > p_max:
        raise InfeasibleError(f"must_open has {must.size} sites but p = {p_max}")
    if m - forb.size < p_min:
        raise InfeasibleError(f"forbidden leaves {m - forb.size} allowed sites but p = {p_min}")

    # groups
    if c.group is None:
        if c.group_min is not None or c.group_max is not None:
            raise InputError("group_min / group_max given without group")
        group = np.full(m, -1, dtype=np.int32)
        gmin = np.zeros(0, dtype=np.int64)
        gmax = np.zeros(0, dtype=np.int64)
    else:
        g = np.asarray(c.group).reshape(-1)
        if g.shape[0] != m:
            raise InputError(f"group must have one entry per site ({m}), got {g.shape[0]}")
        if g.size and not np.issubdtype(g.dtype, np.integer):
            raise InputError("group must hold integer group ids")
        if g.size and g.min() < -1:
            raise InputError("group ids must be >= 0 (or -1 for no group)")
        group = g.astype(np.int32)
        n_groups = int(group.max()) + 1 if group.size else 0
        for name, arr in (("group_min", c.group_min), ("group_max", c.group_max)):
            if arr is not None:
                a = np.asarray(arr).reshape(-1)
                n_groups = max(n_groups, a.shape[0])
                if a.size and (not np.all(np.isfinite(a.astype(np.float64))) or np.any(a < 0)):
                    raise InputError(f"{name} must hold non-negative integers")
        gmin = np.zeros(n_groups, dtype=np.int64)
        gmax = np.full(n_groups, m, dtype=np.int64)
        if c.group_min is not None:
            a = np.asarray(c.group_min).reshape(-1).astype(np.int64)
            gmin[: a.shape[0]] = a
        if c.group_max is not None:
            a = np.asarray(c.group_max).reshape(-1).astype(np.int64)
            gmax[: a.shape[0]] = a
        for k in range(n_groups):
            in_g = group == k
            allowed = int(np.count_nonzero(in_g & (status != FORBIDDEN)))
            n_must = int(np.count_nonzero(in_g & (status == MUST)))
            if gmin[k] > gmax[k]:
                raise InfeasibleError(f"group {k} has group_min {gmin[k]} > group_max {gmax[k]}")
            if gmin[k] > allowed:
                raise InfeasibleError(
                    f"group {k} needs at least {gmin[k]} sites but only {allowed} are allowed"
                )
            if n_must > gmax[k]:
                raise InfeasibleError(f"group {k} allows at most {gmax[k]} sites but {n_must} are must_open")
        if gmin.sum() > p_max:
            raise InfeasibleError(f"group minimums need {int(gmin.sum())} sites in total but p = {p_max}")
        # most sites the groups allow (ungrouped sites are unbounded)
        cap = int(np.count_nonzero((group == -1) & (status != FORBIDDEN)))
        for k in range(n_groups):
            allowed = int(np.count_nonzero((group == k) & (status != FORBIDDEN)))
            cap += min(allowed, int(gmax[k]))
        if cap < p_min:
            raise InfeasibleError(f"group maximums allow at most {cap} open sites but p = {p_min}")

    # conflicts (minimum spacing)
    if c.conflicts is None:
        pairs = np.empty((0, 2), dtype=np.int64)
    else:
        pairs = np.asarray(c.conflicts)
        if pairs.size == 0:
            pairs = np.empty((0, 2), dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise InputError(f"conflicts must have shape (k, 2), got {pairs.shape}")
        if pairs.size and not np.issubdtype(pairs.dtype, np.integer):
            raise InputError("conflicts must hold integer site indices")
        pairs = pairs.astype(np.int64)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= m):
            raise InputError(f"conflicts hold site indices outside 0..{m - 1}")
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        pairs = np.unique(np.sort(pairs, axis=1), axis=0) if pairs.size else pairs
        bad = (status[pairs[:, 0]] == MUST) & (status[pairs[:, 1]] == MUST)
        if np.any(bad):
            a, b = pairs[np.flatnonzero(bad)[0]]
            raise InfeasibleError(f"minimum spacing: must-open sites {a} and {b} conflict")
    sym = np.concatenate([pairs, pairs[:, ::-1]]) if pairs.size else pairs
    conf_ptr = np.zeros(m + 1, dtype=np.int64)
    if sym.size:
        order = np.lexsort((sym[:, 1], sym[:, 0]))
        sym = sym[order]
        np.cumsum(np.bincount(sym[:, 0], minlength=m), out=conf_ptr[1:])
        conf_adj = sym[:, 1].astype(np.int32)
    else:
        conf_adj = np.empty(0, dtype=np.int32)
    quotas = _prepare_quotas(c, m, status, p_min)
    return SideArrays(status, group, gmin, gmax, conf_ptr, conf_adj, pairs, **quotas)


def _fmt(v: float, unit: str) -> str:
    return f"{v:,.0f}" if unit == "stores" or float(v).is_integer() else f"{v:,.6g}"


def _prepare_quotas(c: Constraints, m: int, status: np.ndarray, p_min: int) -> dict:
    """Validate the budget and the quotas; return the SideArrays quota fields."""
    rows: list[tuple[str, np.ndarray, np.ndarray, float, float, str]] = []
    bcost = np.zeros(0)
    bcap = float("inf")
    if c.budget is not None or c.site_cost is not None:
        if c.site_cost is None:
            raise InputError("budget given without site_cost (the opening cost of every site)")
        cost = np.asarray(c.site_cost, dtype=np.float64).reshape(-1)
        if cost.shape[0] != m:
            raise InputError(f"site_cost must have one entry per site ({m}), got {cost.shape[0]}")
        if not np.all(np.isfinite(cost)) or np.any(cost < 0):
            raise InputError("site_cost must be finite and non-negative")
        if c.budget is not None:
            b = float(c.budget)
            if not np.isfinite(b) or b < 0:
                raise InputError(f"budget must be a finite non-negative number, got {c.budget!r}")
            bcost, bcap = cost, b
            rows.append(("budget", np.arange(m, dtype=np.int64), cost, 0.0, b, "currency"))
    for q in c.quotas:
        if not isinstance(q, Quota):
            raise InputError(f"quotas must hold storeplan.solvers.Quota, got {type(q)!r}")
        sites = np.asarray(q.sites).reshape(-1)
        if sites.size and not np.issubdtype(sites.dtype, np.integer):
            raise InputError(f"quota {q.name}: sites must be integer site indices")
        sites = sites.astype(np.int64)
        if sites.size and (sites.min() < 0 or sites.max() >= m):
            raise InputError(f"quota {q.name}: site indices outside 0..{m - 1}")
        if np.unique(sites).size != sites.size:
            raise InputError(f"quota {q.name}: a site is listed twice")
        w = np.ones(sites.size) if q.weight is None else np.asarray(q.weight, dtype=np.float64).reshape(-1)
        if w.shape[0] != sites.size:
            raise InputError(f"quota {q.name}: weight must have one entry per member site")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError(f"quota {q.name}: weights must be finite and non-negative")
        lo, hi = float(q.lo), float(q.hi)
        if np.isnan(lo) or np.isnan(hi) or lo < 0 or lo == np.inf:
            raise InputError(f"quota {q.name}: lo must be finite and >= 0, hi >= 0")
        rows.append((q.name, sites, w, lo, hi, q.unit))
    k = len(rows)
    if k == 0:
        return {"q_ptr": np.zeros(m + 1, dtype=np.int64)}
    if np.isfinite(bcap) and p_min > 0:
        must = status == MUST
        free = np.sort(bcost[status == FREE])
        need = p_min - int(must.sum())
        cheapest = float(bcost[must].sum()) + (float(free[:need].sum()) if need > 0 else 0.0)
        if cheapest > bcap + 1e-9 * max(1.0, bcap):
            raise InfeasibleError(
                f"budget: the cheapest {p_min} stores that may open cost {cheapest:,.6g} "
                f"but the budget is {bcap:,.6g}"
            )
    for name, sites, w, lo, hi, unit in rows:
        tol = 1e-9 * max(1.0, abs(hi) if np.isfinite(hi) else 1.0)
        if lo > hi + tol:
            raise InfeasibleError(f"{name}: minimum {_fmt(lo, unit)} is above its maximum {_fmt(hi, unit)}")
        allowed = status[sites] != FORBIDDEN
        most = float(w[allowed].sum())
        if lo > most + 1e-9 * max(1.0, lo):
            if unit == "stores":
                raise InfeasibleError(
                    f"{name}: at least {_fmt(lo, unit)} stores needed but only {int(allowed.sum())} "
                    "candidate sites may open"
                )
            raise InfeasibleError(
                f"{name}: at least {_fmt(lo, unit)} needed but all {int(allowed.sum())} candidate sites "
                f"that may open give only {_fmt(most, unit)}"
            )
        forced = float(w[status[sites] == MUST].sum())
        if forced > hi + tol:
            if unit == "stores":
                n_must = int(np.count_nonzero(status[sites] == MUST))
                raise InfeasibleError(
                    f"{name}: at most {_fmt(hi, unit)} stores allowed but {n_must} sites must open"
                )
            raise InfeasibleError(
                f"{name}: the must-open sites need {_fmt(forced, unit)} "
                f"but at most {_fmt(hi, unit)} is allowed"
            )
    site = np.concatenate([r[1] for r in rows])
    row = np.concatenate([np.full(r[1].size, t, dtype=np.int64) for t, r in enumerate(rows)])
    val = np.concatenate([r[2] for r in rows])
    order = np.lexsort((row, site))
    site, row, val = site[order], row[order], val[order]
    q_ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(site, minlength=m), out=q_ptr[1:])
    return {
        "q_ptr": q_ptr,
        "q_row": row,
        "q_val": val.astype(np.float64),
        "q_lo": np.array([r[3] for r in rows], dtype=np.float64),
        "q_hi": np.array([r[4] for r in rows], dtype=np.float64),
        "q_names": tuple(r[0] for r in rows),
        "q_units": tuple(r[5] for r in rows),
        "bcost": bcost,
        "bcap": bcap,
    }


def quota_tol(hi: float) -> float:
    """Absolute tolerance of a quota bound (round-off of sums of costs)."""
    return 1e-9 * max(1.0, abs(hi)) if np.isfinite(hi) else 0.0


def check_sites(side: SideArrays, sites: np.ndarray) -> str | None:
    """Return a description of the first violated constraint for ``sites``, or None."""
    sites = np.asarray(sites, dtype=np.int64)
    is_open = np.zeros(side.status.shape[0], dtype=bool)
    is_open[sites] = True
    if np.any(side.status[sites] == FORBIDDEN):
        return "forbidden site open"
    if np.any(~is_open[side.status == MUST]):
        return "must_open site closed"
    for k in range(side.gmin.shape[0]):
        cnt = int(np.count_nonzero(is_open & (side.group == k)))
        if cnt < side.gmin[k] or cnt > side.gmax[k]:
            return f"group {k} has {cnt} open sites"
    if side.has_conflicts:
        both = is_open[side.conflicts[:, 0]] & is_open[side.conflicts[:, 1]]
        if np.any(both):
            return "minimum spacing violated"
    if side.has_quotas:
        use = side.quota_usage(sites)
        for t in range(use.shape[0]):
            lo, hi = side.q_lo[t], side.q_hi[t]
            if use[t] < lo - quota_tol(lo) or use[t] > hi + quota_tol(hi):
                return f"{side.q_names[t]} is {use[t]:.6g}, outside [{lo:.6g}, {hi:.6g}]"
    return None


@njit(cache=True)
def _greedy_cliques(ptr, adj, order, mark):  # pragma: no cover - numba
    n = ptr.shape[0] - 1
    out_ptr = [0]
    out = []
    members = np.empty(n, dtype=np.int64)
    for v in order:
        if ptr[v + 1] - ptr[v] < 2 or mark[v] != 0:
            continue
        members[0] = v
        size = 1
        # candidates: v's neighbours; keep u when it conflicts with every member so far
        for q in range(ptr[v], ptr[v + 1]):
            u = adj[q]
            ok = True
            for t in range(1, size):
                w = members[t]
                # is (u, w) a conflict? adjacency rows are sorted
                lo = ptr[u]
                hi = ptr[u + 1]
                while lo < hi:
                    mid = (lo + hi) // 2
                    if adj[mid] < w:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo == ptr[u + 1] or adj[lo] != w:
                    ok = False
                    break
            if ok:
                members[size] = u
                size += 1
        if size >= 3:
            for t in range(size):
                out.append(members[t])
                mark[members[t]] = 1
            out_ptr.append(len(out))
    return np.array(out_ptr, dtype=np.int64), np.array(out, dtype=np.int64)


def conflict_cliques(side: SideArrays, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Cliques of the conflict (minimum-spacing) graph, as CSR ``(ptr, sites)``.

    Every clique :math:`C` gives the valid row :math:`\sum_{j \in C} y_j \le 1` (any two
    of its sites conflict, so at most one opens). Added beside the pair rows
    :math:`y_a + y_b \le 1` it leaves the integer solutions unchanged and tightens the LP
    relaxation, whose pair rows allow :math:`1/2` on every site of a dense cluster (a
    city's candidates within the spacing of each other). Greedy: from each site in
    ``order`` (default: by index) not yet in a clique, grow a maximal clique over its
    neighbours; cliques of fewer than three sites are left to the pair rows.
    """
    m = side.status.shape[0]
    if not side.has_conflicts:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ptr = np.asarray(side.conf_ptr, dtype=np.int64)
    adj = np.asarray(side.conf_adj, dtype=np.int64)
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(ptr))
    adj = adj[np.lexsort((adj, rows))]  # each row sorted, for the binary search
    order = np.arange(m, dtype=np.int64) if order is None else np.asarray(order, dtype=np.int64)
    return _greedy_cliques(ptr, adj, order, np.zeros(m, dtype=np.int8))
