r"""The world master problem: which countries to enter when, and how many stores and
how much capital each gets per year, under the global limits.

Countries are coupled only by the global yearly limits (``[rollout]`` stores per year,
fewest stores per year, capital budget) and by the entry rules (``[world]`` most new
countries per year). One model, built by :func:`_model` for two uses:

**Allocation** (:func:`allocate`). Each country offers its *sequence*
(:class:`~storeplan.world.curves.CountryCurve`): its stores in greedy order with their
marginal values. The sequence is cut into units (the first of ``min_network`` stores,
then ``[world] block``); ``z[c, b, t]`` in [0, 1] is the share of unit ``b`` of country
``c`` open by year ``t`` (monotone in ``t``, a prefix in ``b``), ``e[c, t]`` in {0, 1}
says the country is entered by year ``t`` (``z[c, 0, t] = e[c, t]``: a country is entered
with its whole first unit, the minimum network). Per country and year the new stores
are at most ``sum_s (e[c, s] - e[c, s-1]) caps[t - s + 1]`` (caps that ramp with the
years of presence); per year at most ``K_t`` countries are entered; the global rows
bound the stores and the opening costs per year. HiGHS (``scipy.optimize.milp``) solves
it; the store counts are then rounded down to whole stores and topped up in sequence
order where a yearly minimum asks for more (never past a cap or a budget).

**Bound** (:func:`world_bound`). The same rows over *upper items*: per country and
format, the columns' solo values (a store never earns more than when it is our only new
store, see :mod:`storeplan.world.curves`) sorted from the highest. Any schedule of the
true problem maps to a feasible point of this relaxation of no smaller value:

* replace each store by the best unused column of its format in its country and give
  the earliest opening years to the best columns: its cash only grows (its solo value is
  at least its true revenue in every year, and by the rearrangement inequality, since
  ``R[t]`` falls with ``t``, :func:`~storeplan.world.curves.year_weights`); costs, store
  counts and capital per year are unchanged;
* value each unit of ``u`` stores at ``u`` times its first (best) column's value: at
  least the sum over any of its columns (a fraction of a unit: at least that fraction
  of its best columns);
* the relaxation drops the minimum spacing and lets one site count once per format.

So the master's optimum, and HiGHS's dual bound when its time limit stops it, bound
the NPV of every plan that keeps the scenario's limits. The bound's units are coarser
than the allocation's (at most :data:`BOUND_UNITS` per country and format), which keeps
the relaxation small on the whole world at a small cost in tightness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import InfeasibleError, SolverError
from ..rollout import RolloutSpec
from ..rollout.world_spec import WorldSpec
from .curves import CountryCurve, item_values

__all__ = ["Allocation", "allocate", "world_bound", "BOUND_UNITS"]

#: Most units per (country, format) in the bound's relaxation.
BOUND_UNITS = 40


@dataclass(frozen=True)
class Allocation:
    """What the master gives each country.

    Attributes
    ----------
    countries : tuple of str
        ISO2 codes, in the order of the arrays' rows.
    stores : ndarray of int64, shape (n_countries, years)
        New stores per country and year.
    capex : ndarray of float64, shape (n_countries, years)
        Opening costs of those stores in the country's sequence, planning currency: the
        country's capital per year.
    entry_year : ndarray of int64
        Rollout year of each country's first stores (0: not entered).
    value : float
        The master's value of the allocation (sequence values), planning currency.
    status : str
        HiGHS's status message.
    seconds : float
    """

    countries: tuple[str, ...]
    stores: np.ndarray
    capex: np.ndarray
    entry_year: np.ndarray
    value: float
    status: str
    seconds: float


@dataclass(frozen=True)
class _Group:
    country: int  # row of the country
    sizes: np.ndarray  # stores per unit
    values: np.ndarray  # (units, years): value of the whole unit opened in year t
    capex: np.ndarray  # opening cost of the whole unit


class _Rows:
    """Sparse rows ``lo <= A x <= hi``, built row by row."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, cols, vals, lo: float, hi: float) -> None:
        cols = np.asarray(cols, np.int64)
        self.r.append(np.full(len(cols), len(self.lo), np.int64))
        self.c.append(cols)
        self.v.append(np.broadcast_to(np.asarray(vals, np.float64), cols.shape).astype(np.float64))
        self.lo.append(lo)
        self.hi.append(hi)

    def add_many(self, rows, cols, vals, lo, hi) -> None:
        """Rows given as pair lists: ``rows`` are local row numbers 0..k-1."""
        rows = np.asarray(rows, np.int64)
        k = int(rows.max()) + 1 if len(rows) else 0
        base = len(self.lo)
        self.r.append(rows + base)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.asarray(vals, np.float64))
        self.lo.extend(np.broadcast_to(np.asarray(lo, np.float64), (k,)).tolist())
        self.hi.extend(np.broadcast_to(np.asarray(hi, np.float64), (k,)).tolist())

    def matrix(self, n: int):
        if not self.lo:
            return None
        A = sparse.csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(len(self.lo), n),
        )
        return LinearConstraint(A, np.asarray(self.lo), np.asarray(self.hi))


def _model(
    groups: Sequence[_Group],
    n_countries: int,
    world: WorldSpec,
    spec: RolloutSpec,
    max_stores: np.ndarray,
    seconds: float,
    *,
    first_unit_is_entry: bool,
):
    """Solve the master over ``groups``; returns ``(res, zpos, epos)`` where ``zpos[g]``
    is the first variable of group ``g`` (units x years, row-major) and ``epos`` the
    first entry variable (countries x years)."""
    T = spec.years
    zpos = []
    n = 0
    for g in groups:
        zpos.append(n)
        n += len(g.sizes) * T
    epos = n
    n += n_countries * T
    cost = np.zeros(n)
    rows = _Rows()
    caps = world.caps(T)
    entries = world.entries(T)

    def z(gi: int, b, t):
        return zpos[gi] + np.asarray(b) * T + np.asarray(t)

    def e(c: int, t):
        return epos + c * T + np.asarray(t)

    # per-country opened-stores and capex expressions: lists of (cols, vals) per year
    opened: dict[tuple[int, int], tuple[list, list]] = {}
    capex_t: dict[int, tuple[list, list]] = {t: ([], []) for t in range(T)}
    for gi, g in enumerate(groups):
        u = len(g.sizes)
        if u == 0:
            continue
        b = np.arange(u)
        # objective: sum_t z[b, t] (V[b, t] - V[b, t+1])
        V = g.values
        dv = V - np.concatenate([V[:, 1:], np.zeros((u, 1))], axis=1)
        for t in range(T):
            cost[z(gi, b, t)] = -dv[:, t]
        # monotone in t: z[b, t] - z[b, t+1] <= 0
        if T > 1:
            bb, tt = np.meshgrid(b, np.arange(T - 1), indexing="ij")
            bb, tt = bb.ravel(), tt.ravel()
            k = np.arange(len(bb))
            rows.add_many(
                np.concatenate([k, k]),
                np.concatenate([z(gi, bb, tt), z(gi, bb, tt + 1)]),
                np.concatenate([np.ones(len(k)), -np.ones(len(k))]),
                -np.inf,
                0.0,
            )
        # prefix: z[b, t] - z[b-1, t] <= 0
        if u > 1:
            bb, tt = np.meshgrid(np.arange(1, u), np.arange(T), indexing="ij")
            bb, tt = bb.ravel(), tt.ravel()
            k = np.arange(len(bb))
            rows.add_many(
                np.concatenate([k, k]),
                np.concatenate([z(gi, bb, tt), z(gi, bb - 1, tt)]),
                np.concatenate([np.ones(len(k)), -np.ones(len(k))]),
                -np.inf,
                0.0,
            )
        if first_unit_is_entry:
            for t in range(T):
                rows.add([z(gi, 0, t), e(g.country, t)], [1.0, -1.0], 0.0, 0.0)
        # opened in year t: sum_b s_b (z[b, t] - z[b, t-1])
        for t in range(T):
            cols, vals = opened.setdefault((g.country, t), ([], []))
            cols.append(z(gi, b, t))
            vals.append(g.sizes.astype(np.float64))
            capex_t[t][0].append(z(gi, b, t))
            capex_t[t][1].append(g.capex)
            if t > 0:
                cols.append(z(gi, b, t - 1))
                vals.append(-g.sizes.astype(np.float64))
                capex_t[t][0].append(z(gi, b, t - 1))
                capex_t[t][1].append(-g.capex)
    for c in range(n_countries):
        for t in range(T - 1):
            rows.add([e(c, t), e(c, t + 1)], [1.0, -1.0], -np.inf, 0.0)
        for t in range(T):
            cols, vals = opened.get((c, t), ([], []))
            if not cols:
                continue
            oc, ov = np.concatenate(cols), np.concatenate(vals)
            # caps ramp with presence: opened_t <= sum_{s<=t} caps[t-s] (e_s - e_{s-1})
            ec = [e(c, s) for s in range(t + 1)]
            ev = [-(float(caps[t - s]) - (float(caps[t - s - 1]) if s < t else 0.0)) for s in range(t + 1)]
            rows.add(np.concatenate([oc, ec]), np.concatenate([ov, ev]), -np.inf, 0.0)
            # minimum network in the entry year: opened_t >= min_network (e_t - e_{t-1})
            mc = [e(c, t)] + ([e(c, t - 1)] if t > 0 else [])
            mv = [-float(world.min_network)] + ([float(world.min_network)] if t > 0 else [])
            rows.add(np.concatenate([oc, mc]), np.concatenate([ov, mv]), 0.0, np.inf)
        if np.isfinite(max_stores[c]):
            cols, vals = [], []
            for gi, g in enumerate(groups):
                if g.country == c and len(g.sizes):
                    cols.append(z(gi, np.arange(len(g.sizes)), T - 1))
                    vals.append(g.sizes.astype(np.float64))
            if cols:
                rows.add(np.concatenate(cols), np.concatenate(vals), -np.inf, float(max_stores[c]))
    for t in range(T):
        # countries entered per year
        cc = np.arange(n_countries)
        cols = [e(int(c), t) for c in cc] + ([e(int(c), t - 1) for c in cc] if t > 0 else [])
        vals = [1.0] * n_countries + ([-1.0] * n_countries if t > 0 else [])
        rows.add(cols, vals, -np.inf, float(entries[t]))
    hi, lo = spec.max_stores(), spec.min_stores()
    limits, cumulative = spec.budget_limits()
    for t in range(T):
        cols, vals = [], []
        for c in range(n_countries):
            got = opened.get((c, t))
            if got and got[0]:
                cols.extend(got[0])
                vals.extend(got[1])
        if cols:
            oc, ov = np.concatenate(cols), np.concatenate(vals)
            rows.add(oc, ov, float(lo[t]), float(min(hi[t], 2**50)))
        elif lo[t] > 0:
            raise InfeasibleError(
                f"rollout year {t + 1}: min_stores_per_year {lo[t]} but no country has stores"
            )
        if np.isfinite(limits[t]):
            if cumulative:  # spend to year t <= budgets to year t: sum_b C_b z[b, t]
                cc2 = [
                    zpos[gi] + np.arange(len(g.sizes)) * T + t for gi, g in enumerate(groups) if len(g.sizes)
                ]
                cv2 = [g.capex for g in groups if len(g.sizes)]
                if cc2:
                    rows.add(np.concatenate(cc2), np.concatenate(cv2), -np.inf, float(limits[t]))
            elif capex_t[t][0]:
                rows.add(
                    np.concatenate(capex_t[t][0]),
                    np.concatenate(capex_t[t][1]),
                    -np.inf,
                    float(limits[t]),
                )
    integrality = np.zeros(n)
    integrality[epos:] = 1
    res = milp(
        cost,
        integrality=integrality,
        bounds=Bounds(np.zeros(n), np.ones(n)),
        constraints=rows.matrix(n),
        options={"time_limit": float(seconds), "disp": False, "mip_rel_gap": 1e-6},
    )
    return res, zpos, epos


def _sequence_groups(curves: Sequence[CountryCurve], world: WorldSpec, spec: RolloutSpec) -> list[_Group]:
    out = []
    for ci, cv in enumerate(curves):
        n = len(cv.seq_gain)
        first = min(world.min_network, n)
        if first < world.min_network:  # too few sites for a minimum network
            out.append(_Group(ci, np.zeros(0, np.int64), np.zeros((0, spec.years)), np.zeros(0)))
            continue
        cuts = [0, first, *range(first + world.unit, n, world.unit), n]
        cuts = sorted(set(cuts))
        v = item_values(cv.seq_gain, cv.seq_fixed, cv.seq_capex, spec)
        csum = np.concatenate([np.zeros((1, spec.years)), np.cumsum(v, axis=0)])
        ccap = np.concatenate([[0.0], np.cumsum(cv.seq_capex)])
        a, b = np.asarray(cuts[:-1]), np.asarray(cuts[1:])
        out.append(_Group(ci, (b - a).astype(np.int64), csum[b] - csum[a], ccap[b] - ccap[a]))
    return out


def _max_stores(curves: Sequence[CountryCurve], world: WorldSpec, spec: RolloutSpec) -> np.ndarray:
    total = float(world.caps(spec.years).sum())
    return np.array(
        [float(min(world.countries_max_stores.get(cv.country, total), total)) for cv in curves], np.float64
    )


def allocate(
    curves: Sequence[CountryCurve], world: WorldSpec, spec: RolloutSpec, *, seconds: float | None = None
) -> Allocation:
    """Allocate entry years, stores and capital to countries (see the module docstring).

    Raises
    ------
    InfeasibleError
        No allocation keeps the limits (e.g. a yearly minimum of stores that the
        countries' caps, the entry limits or the budget cannot reach).
    """
    import time

    t0 = time.perf_counter()
    T = spec.years
    groups = _sequence_groups(curves, world, spec)
    cap_total = _max_stores(curves, world, spec)
    res, zpos, _ = _model(
        groups,
        len(curves),
        world,
        spec,
        cap_total,
        world.master_seconds if seconds is None else seconds,
        first_unit_is_entry=True,
    )
    if res.x is None:
        raise InfeasibleError(
            f"world: no allocation keeps the yearly limits ({res.message}); check min_stores_per_year "
            "against the countries' caps (country_caps, new_countries_per_year) and the budget"
        )
    x = np.asarray(res.x)
    C = len(curves)
    cum = np.zeros((C, T))
    for gi, g in enumerate(groups):
        if len(g.sizes):
            zz = x[zpos[gi] : zpos[gi] + len(g.sizes) * T].reshape(len(g.sizes), T)
            cum[g.country] += (np.clip(zz, 0, 1) * g.sizes[:, None]).sum(axis=0)
    whole = np.floor(cum + 1e-6).astype(np.int64)
    whole = np.maximum.accumulate(whole, axis=1)
    stores = np.diff(np.concatenate([np.zeros((C, 1), np.int64), whole], axis=1), axis=1)
    stores = _top_up(stores, curves, world, spec)
    capex = np.zeros((C, T))
    for c, cv in enumerate(curves):
        ccap = np.concatenate([[0.0], np.cumsum(cv.seq_capex)])
        n = np.concatenate([[0], np.cumsum(stores[c])])
        capex[c] = ccap[n[1:]] - ccap[n[:-1]]
    entry = np.array([int(np.flatnonzero(s > 0)[0]) + 1 if (s > 0).any() else 0 for s in stores], np.int64)
    values = 0.0
    for c, cv in enumerate(curves):
        v = item_values(cv.seq_gain, cv.seq_fixed, cv.seq_capex, spec)
        n = np.concatenate([[0], np.cumsum(stores[c])])
        for t in range(T):
            values += float(v[n[t] : n[t + 1], t].sum())
    return Allocation(
        countries=tuple(cv.country for cv in curves),
        stores=stores,
        capex=capex,
        entry_year=entry,
        value=values,
        status=str(res.message),
        seconds=time.perf_counter() - t0,
    )


def _top_up(stores: np.ndarray, curves, world: WorldSpec, spec: RolloutSpec) -> np.ndarray:
    """Add stores where rounding down left a year below its minimum: to entered
    countries, next in their sequences, best value first, within caps and budget."""
    T = spec.years
    lo, hi = spec.min_stores(), spec.max_stores()
    limits, cumulative = spec.budget_limits()
    caps = world.caps(T)
    stores = stores.copy()
    total_cap = _max_stores(curves, world, spec)
    vals = [item_values(cv.seq_gain, cv.seq_fixed, cv.seq_capex, spec) for cv in curves]
    for t in range(T):
        while stores[:, t].sum() < lo[t] and stores[:, t].sum() < hi[t]:
            spent = _spent(stores, curves)
            best, best_v = -1, -np.inf
            for c, cv in enumerate(curves):
                seen = np.flatnonzero(stores[c] > 0)
                if len(seen) == 0 or seen[0] > t:
                    continue
                age = t - int(seen[0])
                n_done = int(stores[c].sum())
                if stores[c, t] >= caps[age] or n_done >= min(len(cv.seq_gain), total_cap[c]):
                    continue
                pos = int(stores[c, : t + 1].sum() + stores[c, t + 1 :].sum())
                cost = float(cv.seq_capex[pos])
                room = (
                    (limits[t] - (spent[: t + 1].sum() if cumulative else spent[t]))
                    if np.isfinite(limits[t])
                    else np.inf
                )
                if cost > room + 1e-6:
                    continue
                v = float(vals[c][pos, t])
                if v > best_v:
                    best, best_v = c, v
            if best < 0:
                raise InfeasibleError(
                    f"world: rollout year {t + 1} needs {lo[t]} new stores but the entered countries' caps "
                    f"and the budget allow {int(stores[:, t].sum())}"
                )
            stores[best, t] += 1
    return stores


def _spent(stores: np.ndarray, curves) -> np.ndarray:
    T = stores.shape[1]
    out = np.zeros(T)
    for c, cv in enumerate(curves):
        ccap = np.concatenate([[0.0], np.cumsum(cv.seq_capex)])
        n = np.concatenate([[0], np.cumsum(stores[c])])
        out += ccap[n[1:]] - ccap[n[:-1]]
    return out


def world_bound(
    curves: Sequence[CountryCurve], world: WorldSpec, spec: RolloutSpec, *, seconds: float | None = None
) -> tuple[float, str]:
    """An upper bound on the world NPV of any plan that keeps the limits (planning
    currency; see the module docstring), and HiGHS's status.

    Raises
    ------
    SolverError
        HiGHS returned no bound.
    """
    T = spec.years
    groups: list[_Group] = []
    cap_total = _max_stores(curves, world, spec)
    const = 0.0
    _, F, _ = _weights(spec)
    for ci, cv in enumerate(curves):
        const += cv.base_cash * F[0]
        need = int(cap_total[ci])
        for fi, _f in enumerate(cv.formats):
            solo = cv.group_solo[fi][:need]
            n = len(solo)
            if n == 0:
                continue
            u = max(world.unit, int(np.ceil(n / BOUND_UNITS)))
            starts = np.arange(0, n, u)
            sizes = np.diff(np.concatenate([starts, [n]])).astype(np.int64)
            best = item_values(
                solo[starts],
                np.full(len(starts), cv.group_fixed[fi]),
                np.full(len(starts), cv.group_capex[fi]),
                spec,
            )
            groups.append(
                _Group(ci, sizes, best * sizes[:, None], sizes.astype(np.float64) * cv.group_capex[fi])
            )
    res, _, _ = _model(
        groups,
        len(curves),
        world,
        spec,
        cap_total,
        world.master_seconds if seconds is None else seconds,
        first_unit_is_entry=False,
    )
    dual = getattr(res, "mip_dual_bound", None)
    if res.status == 0 and res.fun is not None:
        value = -float(res.fun) if dual is None or not np.isfinite(dual) else -float(dual)
    elif dual is not None and np.isfinite(dual):
        value = -float(dual)
    elif res.status == 2:  # infeasible relaxation: no plan keeps the limits
        raise InfeasibleError(f"world: the yearly limits cannot all be kept ({res.message})")
    else:
        raise SolverError(f"world bound: HiGHS returned no bound ({res.message})")
    value = max(value, -float(res.fun)) if res.fun is not None else value
    return const + value + 1e-9 * max(1.0, abs(value)), str(res.message)


def _weights(spec: RolloutSpec):
    from .curves import year_weights

    return year_weights(spec)
