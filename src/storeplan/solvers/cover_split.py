r"""Maximal covering solved exactly by splitting the sites into independent components.

Two allowed sites interact only when they cover a common client or conflict (minimum
spacing). Without side rows that couple distant sites (groups, quotas, a budget), the
sites fall apart into connected components :math:`c` that meet only in the cardinality
row, so

.. math::

    \mathrm{OPT} = \max \Big\{ \sum_c f_c(k_c) : \sum_c k_c = p \Big\},

where :math:`f_c(k)` is the most weight component :math:`c` covers with :math:`k` of its
sites. Each component is solved alone (its LP relaxation when that is integral, a HiGHS
MIP when not) and the components are combined by a dynamic programme over :math:`k`.
On the bundled China places (16,322 clients x 3,500 sites at 30 km) there are 512
components, the largest with 554 sites, and at p = 200 one of them has a fractional LP.

**Which k can matter.** Let :math:`U` be the value of the LP relaxation of the whole,
:math:`\mu` the dual of its cardinality row and :math:`k^*_c`, :math:`V^*_c` the
component's share of the LP's open sites and covered weight. The LP optimum decomposes
into the components' Lagrangian subproblems at :math:`\mu`, so
:math:`\mathrm{LP}_c(k) - \mu k \le V^*_c - \mu k^*_c` for every :math:`k`, and any
solution with allocation :math:`(k_c)`, :math:`\sum_c k_c = p`, covers at most
:math:`U - \sum_c \ell_c(k_c)` with the loss
:math:`\ell_c(k) = V^*_c + \mu (k - k^*_c) - \mathrm{LP}_c(k) \ge 0`. A :math:`k` with
:math:`\ell_c(k) > U - LB` (:math:`LB` the incumbent) is in no better solution. The
loss is convex in :math:`k` (:math:`\mathrm{LP}_c` is concave), so each component's
window of :math:`k` is an interval grown from :math:`k^*_c` until the loss exceeds
:math:`U - LB`. The inequality is checked at every :math:`k` solved; where HiGHS's duals
break it beyond round-off the split gives up (returns None) and the caller solves the
whole model.

**Lazy combination.** The DP runs on upper bounds (the component LP, or a MIP's dual
bound) and only the components whose chosen :math:`k` is not yet exact are solved as
MIPs, until the DP's best allocation is exact throughout; that allocation is then
optimal (within HiGHS's MIP tolerance). Stopped at its deadline, the split returns the
best exact allocation and the DP over the upper bounds as the bound (valid: windows
only leave out allocations worse than the incumbent). Sites that form a component
alone (they cover clients no other allowed site covers) are one aggregated component
whose :math:`f(t)` is the sum of the :math:`t` largest weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .builder import MipBuilder
from .constraints import FORBIDDEN, MUST, Constraints, SideArrays, prepare

__all__ = ["SplitResult", "splittable", "split_cover"]

#: The split is skipped when one component holds more than this share of the allowed
#: sites (nothing to gain over solving the whole model).
MAX_SHARE = 0.9

#: Components with at most this many sites are solved by enumerating their site sets.
ENUMERATE_SITES = 10

#: A component LP's site value counts as integral within this distance of 0 or 1.
INTEGRAL_TOL = 1e-6


@dataclass(frozen=True)
class SplitResult:
    """Outcome of :func:`split_cover`: the open ``sites`` (indices into the instance),
    their covered weight ``objective``, an upper ``bound``, ``proven`` (the DP's best
    allocation was exact), and counts: ``components`` (with two sites or more),
    ``largest`` (sites in the largest), ``lp_solves`` and ``mip_solves``."""

    sites: np.ndarray
    objective: float
    bound: float
    proven: bool
    components: int
    largest: int
    lp_solves: int
    mip_solves: int


def splittable(side: SideArrays) -> bool:
    """True when no side row couples distant sites (groups, quotas, budget); must-open,
    forbidden and minimum spacing are kept inside the components."""
    return not (side.has_groups or side.has_quotas or side.has_budget)


class _InconsistentError(Exception):
    """The LP duals do not certify a window (internal)."""


@dataclass
class _Entry:
    """What is known of ``f_c(k)``: an upper bound, a lower bound with its sites, and
    whether the two agree (``exact``)."""

    ub: float
    lb: float = -np.inf
    sites: np.ndarray | None = None
    exact: bool = False


@dataclass
class _Component:
    sites: np.ndarray  # indices into the instance
    clients: np.ndarray
    cptr: np.ndarray  # the component's own CSC (site -> local client)
    crow: np.ndarray
    side: SideArrays
    k_lo: int
    k_hi: int
    entries: dict[int, _Entry] = field(default_factory=dict)
    lp: object = None
    card_row: int = -1

    def covered(self, w: np.ndarray, local_sites: np.ndarray) -> float:
        hit = np.zeros(self.clients.size, dtype=bool)
        for j in local_sites:
            hit[self.crow[self.cptr[j] : self.cptr[j + 1]]] = True
        return float(w[self.clients[hit]].sum())


def _cover_builder(cptr, crow, w, side: SideArrays, k: int, integer: bool) -> tuple[MipBuilder, int]:
    """Maximal covering with exactly ``k`` sites as a :class:`MipBuilder`; returns it and
    the index of its cardinality row (always present, so its bounds can be changed)."""
    m = cptr.shape[0] - 1
    n = w.shape[0]
    b = MipBuilder()
    ycol = b.add_sites(side, 0.0, integer=integer)
    zcol = b.add_columns(w, 0.0, 1.0, integer=False)
    site_of = np.repeat(np.arange(m, dtype=np.int64), np.diff(cptr))
    b.add_rows(
        np.concatenate([np.arange(n), crow]),
        np.concatenate([zcol, ycol[site_of]]),
        np.concatenate([np.ones(n), -np.ones(crow.shape[0])]),
        -np.inf,
        0.0,
        n,
    )
    b.add_side(side, ycol, 0, m)  # conflicts only (no cardinality row at 0..m)
    row = int(b.add_rows(np.zeros(m), ycol, np.ones(m), float(k), float(k), 1)[0])
    return b, row


def _lp_at(comp: _Component, w: np.ndarray, k: int):
    """The component's LP relaxation with ``k`` sites: ``(value, y)`` or None when
    infeasible (the HiGHS object is kept and re-solved from its last basis)."""
    import highspy

    if comp.lp is None:
        b, comp.card_row = _cover_builder(comp.cptr, comp.crow, w[comp.clients], comp.side, k, False)
        comp.lp = b.highs(maximise=True, relax=True)
    h = comp.lp
    h.changeRowBounds(comp.card_row, float(k), float(k))  # type: ignore[attr-defined]
    h.run()  # type: ignore[attr-defined]
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:  # type: ignore[attr-defined]
        return None
    x = np.asarray(h.getSolution().col_value)  # type: ignore[attr-defined]
    return float(h.getInfo().objective_function_value), x[: comp.sites.size]  # type: ignore[attr-defined]


def _entry_from_lp(comp: _Component, w, value: float, y: np.ndarray, integral_w: bool) -> _Entry:
    if np.all(np.minimum(y, 1.0 - y) <= INTEGRAL_TOL):
        local = np.flatnonzero(y > 0.5)
        v = comp.covered(w, local)
        return _Entry(ub=v, lb=v, sites=local, exact=True)
    e = _Entry(ub=float(np.floor(value + 1e-6)) if integral_w else value)
    if not comp.side.has_conflicts:
        # a feasible lower bound: the k largest LP values (must-open sites sit at 1)
        key = y + 2.0 * (comp.side.status == MUST)
        local = np.sort(np.argsort(-key, kind="stable")[: int(round(y.sum()))])
        e.lb, e.sites = comp.covered(w, local), local
    return e


def _enumerate(comp: _Component, w: np.ndarray) -> dict[int, _Entry]:
    """Exact ``f_c(k)`` for every ``k`` of a component with at most
    :data:`ENUMERATE_SITES` sites, by enumerating its site sets (bit masks)."""
    s = comp.sites.size
    masks = np.arange(1 << s, dtype=np.int64)
    cm = np.zeros(comp.clients.size, dtype=np.int64)
    for j in range(s):
        cm[comp.crow[comp.cptr[j] : comp.cptr[j + 1]]] |= 1 << j
    value = ((masks[:, None] & cm[None, :]) != 0) @ w[comp.clients]
    size = np.zeros(masks.size, dtype=np.int64)
    for j in range(s):
        size += (masks >> j) & 1
    must = int(sum(1 << int(j) for j in np.flatnonzero(comp.side.status == MUST)))
    ok = (masks & must) == must
    for a, b in comp.side.conflicts:
        ok &= ((masks >> int(a)) & (masks >> int(b)) & 1) == 0
    out = {}
    for k in range(comp.k_lo, comp.k_hi + 1):
        cand = np.flatnonzero(ok & (size == k))
        if cand.size:
            best = int(cand[np.argmax(value[cand])])
            local = np.flatnonzero((best >> np.arange(s)) & 1)
            v = float(value[best])
            out[k] = _Entry(ub=v, lb=v, sites=local, exact=True)
    return out


def _dp(choices: list[tuple[np.ndarray, np.ndarray]], p: int):
    """Max of ``sum_c vals_c[i_c]`` with ``sum_c ks_c[i_c] == p`` (one ``i_c`` per
    component); returns ``(value, picks)`` or None when no allocation is finite."""
    best = np.full(p + 1, -np.inf)
    best[0] = 0.0
    args = []
    for ks, vals in choices:
        new = np.full(p + 1, -np.inf)
        arg = np.full(p + 1, -1, dtype=np.int64)
        for i in range(ks.shape[0]):
            k, v = int(ks[i]), float(vals[i])
            if k > p or not np.isfinite(v):
                continue
            cand = best[: p + 1 - k] + v
            better = cand > new[k:]
            new[k:][better] = cand[better]
            arg[k:][better] = i
        best = new
        args.append(arg)
    if not np.isfinite(best[p]):
        return None
    picks = [0] * len(choices)
    t = p
    for c in range(len(choices) - 1, -1, -1):
        i = int(args[c][t])
        picks[c] = i
        t -= int(choices[c][0][i])
    return float(best[p]), picks


def _components(cptr, crow, side: SideArrays, n: int):
    """Connected components of the allowed sites (a shared client or a conflict joins
    two sites): ``(allowed site indices, label of each)``."""
    m = cptr.shape[0] - 1
    allowed = np.flatnonzero(side.status != FORBIDDEN)
    B = sp.csc_matrix((np.ones(crow.shape[0], dtype=np.int8), crow, cptr), shape=(n, m))[:, allowed]
    G = (B.T @ B).tocsr()
    if side.has_conflicts:
        pos = np.full(m, -1, dtype=np.int64)
        pos[allowed] = np.arange(allowed.size)
        pr = pos[side.conflicts]
        pr = pr[(pr >= 0).all(axis=1)]
        G = G + sp.csr_matrix((np.ones(pr.shape[0]), (pr[:, 0], pr[:, 1])), shape=G.shape)
    _, lab = connected_components(G, directed=False)
    return allowed, lab


def _sub_component(cptr, crow, side: SideArrays, sites: np.ndarray, k_max: int) -> _Component:
    """The component's own instance: its sites, the clients they cover, a local CSC and
    the must-open / spacing rows restricted to it."""
    parts = [crow[cptr[j] : cptr[j + 1]] for j in sites]
    clients = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    local = np.searchsorted(clients, np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    sub_ptr = np.zeros(sites.size + 1, dtype=np.int64)
    np.cumsum([q.size for q in parts], out=sub_ptr[1:])
    must = np.flatnonzero(side.status[sites] == MUST)
    pairs = None
    if side.has_conflicts:
        pos = np.full(side.status.shape[0], -1, dtype=np.int64)
        pos[sites] = np.arange(sites.size)
        pr = pos[side.conflicts]
        pairs = pr[(pr >= 0).all(axis=1)]
    sub_side = prepare(Constraints(must_open=must, conflicts=pairs), sites.size, 0, sites.size)
    return _Component(
        sites=sites,
        clients=clients,
        cptr=sub_ptr,
        crow=local.astype(np.int64),
        side=sub_side,
        k_lo=int(must.size),
        k_hi=int(min(sites.size, k_max)),
    )


def split_cover(
    cptr: np.ndarray,
    crow: np.ndarray,
    w: np.ndarray,
    side: SideArrays,
    p: int,
    incumbent: float,
    *,
    deadline: float | None,
    seed: int = 0,
    integral: bool = False,
    polish=None,
) -> SplitResult | None:
    """Solve maximal covering with exactly ``p`` sites by components (module docstring).

    Parameters
    ----------
    cptr, crow : ndarray
        The clients each site covers (CSC: site ``j`` covers ``crow[cptr[j]:cptr[j+1]]``).
    w : ndarray, shape (n_clients,)
        Client weights (e.g. people).
    side : SideArrays
        Must-open, forbidden and spacing constraints (:func:`splittable` must hold).
    p : int
        Number of sites to open.
    incumbent : float
        Covered weight of the best solution known (same unit as ``w``); it sets the
        windows of ``k``.
    deadline : float or None
        ``time.perf_counter()`` value at which to stop with the best allocation so far.
    integral : bool
        Every weight is an integer (bounds are rounded down).
    polish : callable, optional
        ``polish(sites) -> (sites, covered weight)``: a local search run once on the
        first combined solution, before the windows are grown (a better incumbent
        narrows them).

    Returns
    -------
    SplitResult or None
        None when the sites do not split (one component holds more than
        :data:`MAX_SHARE` of them), the LP relaxation is not solved to optimality, its
        duals are inconsistent, or the deadline passes before every window is known;
        the caller then solves the whole model.
    """
    n = w.shape[0]
    allowed, lab = _components(cptr, crow, side, n)
    if allowed.size == 0:
        return None
    sizes = np.bincount(lab)
    if sizes.max() > MAX_SHARE * allowed.size:
        return None
    # the LP relaxation of the whole
    b, row = _cover_builder(cptr, crow, w, side, p, False)
    h = b.highs(maximise=True, relax=True)
    h.run()
    import highspy

    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    U = float(h.getInfo().objective_function_value)
    mu = float(np.asarray(sol.row_dual)[row])
    m = cptr.shape[0] - 1
    y = np.asarray(sol.col_value)[:m]
    z = np.asarray(sol.col_value)[m : m + n]
    tol = 1e-6 * max(1.0, abs(U))
    lp_solves, mip_solves = 1, 0

    order = np.argsort(lab, kind="stable")
    bounds_ = np.concatenate([[0], np.cumsum(sizes)])
    single_sites, single_w, single_must = [], [], []
    comps: list[_Component] = []
    stars: list[tuple[float, float] | None] = []

    def lp_entry(comp: _Component, k: int, v_star: float, k_star: float) -> float | None:
        """Solve the component LP at ``k``, store its entry, return its loss (None:
        infeasible); raises _InconsistentError when the duals do not certify the windows."""
        nonlocal lp_solves
        got = _lp_at(comp, w, k)
        lp_solves += 1
        if got is None:
            return None
        value, yk = got
        ell = v_star + mu * (k - k_star) - value
        if ell < -tol:
            raise _InconsistentError
        comp.entries[k] = _entry_from_lp(comp, w, value, yk, integral)
        return ell

    try:
        for c in range(sizes.size):
            sites = allowed[order[bounds_[c] : bounds_[c + 1]]]
            if sites.size == 1:
                j = sites[0]
                single_sites.append(j)
                single_w.append(float(w[crow[cptr[j] : cptr[j + 1]]].sum()))
                single_must.append(side.status[j] == MUST)
                continue
            comp = _sub_component(cptr, crow, side, sites, p)
            if sites.size <= ENUMERATE_SITES:
                comp.entries = _enumerate(comp, w)
                comps.append(comp)
                stars.append(None)
                continue
            k_star = float(y[sites].sum())
            v_star = float(w[comp.clients] @ z[comp.clients]) if comp.clients.size else 0.0
            if abs(k_star - round(k_star)) <= INTEGRAL_TOL:
                comp.entries[int(round(k_star))] = _entry_from_lp(comp, w, v_star, y[sites], integral)
            else:  # the two integers around the LP's share
                for k in (int(np.floor(k_star)), int(np.ceil(k_star))):
                    lp_entry(comp, k, v_star, k_star)
            comps.append(comp)
            stars.append((v_star, k_star))
    except _InconsistentError:
        return None

    # the aggregated single sites: must-open first, then the largest weights
    sw = np.asarray(single_w)
    smust = np.asarray(single_must, dtype=bool)
    s_order = np.concatenate(
        [np.flatnonzero(smust), np.flatnonzero(~smust)[np.argsort(-sw[~smust], kind="stable")]]
    )
    s_sites = np.asarray(single_sites, dtype=np.int64)[s_order] if sw.size else np.zeros(0, np.int64)
    s_cum = np.concatenate([[0.0], np.cumsum(sw[s_order])]) if sw.size else np.zeros(1)
    s_ks = np.arange(int(smust.sum()), min(sw.size, p) + 1)
    single_choice = (s_ks, s_cum[s_ks])

    def table(which: str):
        out = [single_choice]
        for comp in comps:
            ks = np.array(sorted(comp.entries), dtype=np.int64)
            out.append((ks, np.array([getattr(comp.entries[int(k)], which) for k in ks])))
        return out

    def assemble(picks) -> np.ndarray:
        chosen = [s_sites[: int(s_ks[picks[0]])]]
        for comp, i in zip(comps, picks[1:], strict=True):
            e = comp.entries[int(sorted(comp.entries)[i])]
            assert e.sites is not None
            chosen.append(comp.sites[e.sites])
        return np.sort(np.concatenate(chosen)).astype(np.int64)

    # a better incumbent before the windows are grown: the best allocation of the
    # entries known so far, polished by the caller's local search
    best_sites, best_value = None, -np.inf
    low = _dp(table("lb"), p)
    if low is not None:
        best_sites, best_value = assemble(low[1]), low[0]
        if polish is not None:
            ps, pv = polish(best_sites)
            if pv > best_value:
                best_sites, best_value = np.sort(np.asarray(ps, dtype=np.int64)), float(pv)
    gap = max(U - max(float(incumbent), best_value), 0.0) + tol
    try:
        for comp, star in zip(comps, stars, strict=True):
            if star is None:  # enumerated: every k is known exactly
                continue
            v_star, k_star = star
            for direction in (-1, 1):
                k = (min(comp.entries) if direction < 0 else max(comp.entries)) + direction
                while comp.k_lo <= k <= comp.k_hi:
                    if deadline is not None and time.perf_counter() >= deadline:
                        return None  # incomplete windows would not certify a bound
                    ell = lp_entry(comp, k, v_star, k_star)
                    if ell is None or ell > gap:
                        comp.entries.pop(k, None)
                        break
                    k += direction
    except _InconsistentError:
        return None

    if best_sites is not None:
        # the incumbent's part in each component is a feasible lower bound (and a MIP start)
        for comp in comps:
            local = np.flatnonzero(np.isin(comp.sites, best_sites))
            e = comp.entries.get(int(local.size))
            if e is not None and not e.exact:
                v = comp.covered(w, local)
                if v > e.lb:
                    e.lb, e.sites = v, local
    proven = False
    while True:
        up = _dp(table("ub"), p)
        if up is None:
            return None
        bound, picks = up
        todo = []
        for comp, i in zip(comps, picks[1:], strict=True):
            k = int(sorted(comp.entries)[i])
            if not comp.entries[k].exact:
                todo.append((comp, k))
        if not todo:
            proven = True
            break
        if deadline is not None and time.perf_counter() >= deadline:
            break
        stopped = False
        for comp, k in todo:
            left = None if deadline is None else deadline - time.perf_counter()
            if left is not None and left <= 0:
                stopped = True
                break
            e = comp.entries[k]
            warm = None
            if e.sites is not None:
                hit = np.zeros(comp.clients.size)
                for j in e.sites:
                    hit[comp.crow[comp.cptr[j] : comp.cptr[j + 1]]] = 1.0
                yw = np.zeros(comp.sites.size)
                yw[e.sites] = 1.0
                warm = np.concatenate([yw, hit])
            bm, _ = _cover_builder(comp.cptr, comp.crow, w[comp.clients], comp.side, k, True)
            status, x, obj, dual, _ = bm.solve(
                maximise=True, time_limit=left if left is not None else 300.0, warm=warm, seed=seed
            )
            mip_solves += 1
            if status == "infeasible":
                e.ub, e.exact = -np.inf, True
                continue
            if x is not None:
                local = np.flatnonzero(x[: comp.sites.size] > 0.5)
                v = comp.covered(w, local)
                if v > e.lb:
                    e.lb, e.sites = v, local
            if np.isfinite(dual):
                e.ub = min(e.ub, float(np.floor(dual + 1e-6)) if integral else dual)
            if status == "optimal" and e.sites is not None:
                e.exact = True
            elif status != "optimal":
                stopped = True
                break
        if stopped:
            bound = _dp(table("ub"), p)[0]
            break
    low = _dp(table("lb"), p)
    if low is not None and low[0] >= best_value:
        best_sites, best_value = assemble(low[1]), low[0]
    if best_sites is None:
        return None
    return SplitResult(
        sites=best_sites,
        objective=best_value,
        bound=max(bound, best_value),
        proven=proven,
        components=len(comps),
        largest=int(sizes.max()),
        lp_solves=lp_solves,
        mip_solves=mip_solves,
    )
