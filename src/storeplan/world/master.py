r"""The world master problem: which countries to enter when, and how many stores and
how much capital each gets per year, under the global limits.

Countries are coupled only by the global yearly limits (``[rollout]`` stores per year,
fewest stores per year, capital budget) and by the entry rules (``[world]`` most new
countries per year). Two problems share these rows:

**Allocation** (:func:`allocate`). Each country offers its *sequence*
(:class:`~storeplan.world.curves.CountryCurve`): its stores in greedy order with their
marginal values. The sequence is cut into units (the first of ``min_network`` stores,
then ``[world] block``); ``z[c, b, t]`` in {0, 1} says unit ``b`` of country ``c`` is
open by year ``t`` (monotone in ``t``, a prefix in ``b``; fractional, then rounded,
only when HiGHS finds no integer solution in its time limit), ``e[c, t]`` in {0, 1}
says the country is entered by year ``t`` (``z[c, 0, t] = e[c, t]``: a country is entered
with its whole first unit, the minimum network). Per country and year the new stores
are at most ``sum_s (e[c, s] - e[c, s-1]) caps[t - s + 1]`` (caps that ramp with the
years of presence); per year at most ``K_t`` countries are entered; the global rows
bound the stores and the opening costs per year. HiGHS (``scipy.optimize.milp``) solves
it; the store counts are then rounded down to whole stores and topped up in sequence
order where a yearly minimum asks for more (never past a cap or a budget).

**Bound** (:func:`world_bound`). A relaxation of the same limits per country, format
and year, whose variables are store counts and yearly cash: each store earns at most
its solo revenue (ramped), each format at most what all its columns would take, and
our stores' revenue obeys the submodular cuts of :mod:`storeplan.world.curves`. Its
argument is stated in :func:`world_bound`.

**Selection** (:func:`select_plans`). Each country is planned under each allocation
(where they differ); the country plans are exact (their own NPV, openings and
opening costs), and the best combination of one plan (or none) per country that keeps
the global limits is the world plan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import InfeasibleError, SolverError
from ..rollout import RolloutSpec
from ..rollout.cashflow import ramp_factor
from ..rollout.world_spec import WorldSpec
from .curves import CountryCurve, item_values

__all__ = [
    "Allocation",
    "JointSolution",
    "allocate",
    "CountryOption",
    "allocate_joint",
    "best_bound",
    "joint_bound",
    "select_plans",
    "world_bound",
]

log = logging.getLogger("storeplan")


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
        Opening costs of those stores in the country's sequence, planning currency.
    budget : ndarray of float64, shape (n_countries, years)
        The country's capital per year, planning currency: ``capex`` plus its share of
        what the year's budget leaves unspent (by its new stores that year), so that a
        country may open dearer formats than its sequence's where they pay; the
        countries' budgets add up to at most the year's budget (``inf`` without one).
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
    budget: np.ndarray
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
            b2, t2 = np.meshgrid(b, np.arange(T - 1), indexing="ij")
            bb, tt = b2.ravel(), t2.ravel()
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
            b2, t2 = np.meshgrid(np.arange(1, u), np.arange(T), indexing="ij")
            bb, tt = b2.ravel(), t2.ravel()
            k = np.arange(len(bb))
            rows.add_many(
                np.concatenate([k, k]),
                np.concatenate([z(gi, bb, tt), z(gi, bb - 1, tt)]),
                np.concatenate([np.ones(len(k)), -np.ones(len(k))]),
                -np.inf,
                0.0,
            )
        for t in range(T):  # a country is entered with its whole first unit
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
    # whole units and entries (HiGHS keeps its best integer solution at the time limit);
    # if it finds none in time, the LP relaxation (units fractional, rounded by the caller)
    import time

    t0 = time.perf_counter()
    A = rows.matrix(n)
    box = Bounds(np.zeros(n), np.ones(n))
    res = milp(
        cost,
        integrality=np.ones(n),
        bounds=box,
        constraints=A,
        options={"time_limit": float(seconds), "disp": False, "mip_rel_gap": 1e-4},
    )
    if res.x is None:  # no integer point in time (or whole units cannot meet a yearly minimum)
        integrality = np.zeros(n)
        integrality[epos:] = 1
        left = max(float(seconds) - (time.perf_counter() - t0), 5.0)
        res = milp(
            cost,
            integrality=integrality,
            bounds=box,
            constraints=A,
            options={"time_limit": left, "disp": False, "mip_rel_gap": 1e-4},
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
    stores = _repair(stores, curves, world, spec)
    stores = _top_up(stores, curves, world, spec)
    capex = np.zeros((C, T))
    for c, cv in enumerate(curves):
        ccap = np.concatenate([[0.0], np.cumsum(cv.seq_capex)])
        n = np.concatenate([[0], np.cumsum(stores[c])])
        capex[c] = ccap[n[1:]] - ccap[n[:-1]]
    entry = np.array([int(np.flatnonzero(s > 0)[0]) + 1 if (s > 0).any() else 0 for s in stores], np.int64)
    budget = _budgets(stores, capex, spec)
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
        budget=budget,
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


def _budgets(stores: np.ndarray, capex: np.ndarray, spec: RolloutSpec) -> np.ndarray:
    """Each country's capital per year: its sequence's opening costs plus a share of
    the year's unspent budget in proportion to its new stores (per-year budgets; with
    ``carry_over`` the budgets are cumulative and each country keeps its own costs)."""
    limits, cumulative = spec.budget_limits()
    out = capex.copy()
    if cumulative:
        return out
    for t in range(stores.shape[1]):
        n = stores[:, t].sum()
        if not np.isfinite(limits[t]):
            out[:, t] = np.inf
        elif n > 0:
            slack = max(float(limits[t]) - float(capex[:, t].sum()), 0.0)
            out[:, t] += slack * stores[:, t] / n * (1.0 - 1e-9)
    return out


def _repair(stores: np.ndarray, curves, world: WorldSpec, spec: RolloutSpec) -> np.ndarray:
    """Remove stores where rounding to whole stores broke a yearly limit: rounding moves
    a store between years and the sequences mix formats of different costs, so a
    year's opening costs can exceed its budget. Year by year, the store of lowest value
    among the last ones opened that year goes, never breaking a minimum network."""
    T = spec.years
    hi = spec.max_stores()
    limits, cumulative = spec.budget_limits()
    stores = stores.copy()
    vals = [item_values(cv.seq_gain, cv.seq_fixed, cv.seq_capex, spec) for cv in curves]
    for t in range(T):
        while True:
            spent = _spent(stores, curves)
            used = spent[: t + 1].sum() if cumulative else spent[t]
            over_budget = np.isfinite(limits[t]) and used > limits[t] * (1 + 1e-9) + 1e-6
            if not over_budget and stores[:, t].sum() <= hi[t]:
                break
            best, best_v = -1, np.inf
            for c in range(len(curves)):
                if stores[c, t] == 0:
                    continue
                seen = np.flatnonzero(stores[c] > 0)
                entry = bool(seen[0] == t)
                if entry and stores[c, t] - 1 < world.min_network and stores[c, t] > 1:
                    continue  # would break the minimum network (the whole entry may go below)
                pos = int(stores[c, : t + 1].sum()) - 1
                v = float(vals[c][pos, t])
                if entry and stores[c, t] == 1 and stores[c, t + 1 :].sum() > 0:
                    continue
                if v < best_v:
                    best, best_v = c, v
            if best < 0:  # only whole minimum networks left: drop the least valuable entry
                cand = [c for c in range(len(curves)) if stores[c, t] > 0 and stores[c, :t].sum() == 0]
                if not cand:
                    raise InfeasibleError(
                        f"world: rollout year {t + 1}: cannot keep the budget and store limits"
                    )
                worst = min(cand, key=lambda c: float(vals[c][: stores[c].sum(), t].sum()))
                stores[worst, :] = 0
                continue
            stores[best, t] -= 1
    return stores


def _spent(stores: np.ndarray, curves) -> np.ndarray:
    T = stores.shape[1]
    out = np.zeros(T)
    for c, cv in enumerate(curves):
        ccap = np.concatenate([[0.0], np.cumsum(cv.seq_capex)])
        n = np.concatenate([[0], np.cumsum(stores[c])])
        out += ccap[n[1:]] - ccap[n[:-1]]
    return out


def _tangents(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines ``(slope, intercept)`` above the prefix sums ``A(N)`` of ``values`` (sorted
    from the highest, >= 0) for every real ``N`` in [0, len]: at points ``x`` with
    ``A(x) + values[x] (N - x)`` (a supergradient of the concave ``A``)."""
    n = len(values)
    if n == 0:
        return np.zeros(1), np.zeros(1)
    pts = np.unique(np.concatenate([[0, n], 2 ** np.arange(int(np.log2(max(n, 1))) + 1)]).clip(0, n))
    A = np.concatenate([[0.0], np.cumsum(values)])
    slope = np.where(pts < n, values[np.minimum(pts, n - 1)], 0.0)
    return slope, A[pts] - slope * pts


class _Vars:
    def __init__(self) -> None:
        self.n = 0
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []

    def new(self, shape, lo=0.0, hi=np.inf, integer=False) -> np.ndarray:
        size = int(np.prod(shape))
        idx = np.arange(self.n, self.n + size).reshape(shape)
        self.n += size
        self.lo.append(np.broadcast_to(np.asarray(lo, np.float64), shape).ravel().copy())
        self.hi.append(np.broadcast_to(np.asarray(hi, np.float64), shape).ravel().copy())
        self.integer.append(np.full(size, 1.0 if integer else 0.0))
        return idx


def world_bound(
    curves: Sequence[CountryCurve],
    world: WorldSpec,
    spec: RolloutSpec,
    *,
    seconds: float | None = None,
    integer: bool = True,
) -> tuple[float, str]:
    r"""An upper bound on the world NPV of any plan that keeps the limits, planning
    currency, and HiGHS's status.

    Per country ``c``, format ``f`` and year: ``N[f, t]`` (stores of ``f`` open by year
    ``t``, continuous), ``y[f, tau]`` (the ``f`` stores' yearly cash in horizon year
    ``tau``), ``e[t]`` (entered by ``t``, binary). For every plan, with ``S_tau`` its open
    set and ``rho`` the ramp factors:

    * ``y[f, tau] <= sum_t coef[tau, t] A_f(N[f, t])``: each store earns at most its solo
      cash times its ramp factor; with ``A_f`` the prefix sums of the format's solo cash
      sorted from the highest, the best columns opened first maximise it (rearrangement;
      by Abel summation the coefficients are differences of ramp factors, >= 0, and
      ``A_f`` is concave, so tangent lines bound it);
    * ``y[f, tau] <= margin_f x all_open_f`` (more stores of a format only add to its
      stores' total capture), and ``y[f, tau] / margin_f <= f(G_f) + Top_{f,G_f}(N[f,
      tau])`` for reference sets ``G_f`` of the format's columns only (the format's
      stores earn at most what they would alone, ``f(S_f)``, which is submodular);
    * ``sum_f y[f, tau] / margin_f <= f(S_tau) <= f(G) + sum_f Top_{f,G}(N[f, tau])`` for
      every reference set ``G`` of the country (submodularity; ``Top`` the sum of the
      largest gains of the format's columns, concave in ``N``, tangent lines again);
    * store counts, caps that ramp with presence, the minimum network, the entry limits,
      the global stores and capital per year as in the allocation (exact);
    * the existing stores earn at most their cash with no new store.

    The objective is the NPV of these cash flows minus fixed and opening costs, discounted
    as :func:`storeplan.rollout.cashflow.evaluate` does. The relaxation drops the minimum
    spacing; its optimum (or HiGHS's dual bound at the time limit) bounds the NPV.

    Raises
    ------
    InfeasibleError
        The relaxation is infeasible: no plan keeps the limits.
    SolverError
        HiGHS returned no bound.
    """
    from .curves import year_weights

    T, H = spec.years, spec.horizon
    vw = spec.value_weights(H)
    _, F_w, D = year_weights(spec)
    ages = np.arange(H)
    rho = ramp_factor(ages * 12.0, spec.ramp_months, spec.ramp_shape)
    caps = world.caps(T)
    entries = world.entries(T)
    cap_total = _max_stores(curves, world, spec)
    V = _Vars()
    rows = _Rows()
    cost_terms: list[tuple[np.ndarray, np.ndarray]] = []
    const = 0.0
    opened_cols: list[list[np.ndarray]] = [[] for _ in range(T)]
    opened_vals: list[list[np.ndarray]] = [[] for _ in range(T)]
    capex_cols: list[list[np.ndarray]] = [[] for _ in range(T)]
    capex_vals: list[list[np.ndarray]] = [[] for _ in range(T)]
    e_all = []
    for ci, cv in enumerate(curves):
        const += cv.base_cash * F_w[0]
        fmts = [fi for fi in range(len(cv.formats)) if len(cv.group_solo[fi])]
        e = V.new((T,), 0.0, 1.0, integer=True)
        e_all.append(e)
        for t in range(T - 1):
            rows.add([e[t], e[t + 1]], [1.0, -1.0], -np.inf, 0.0)
        if not fmts:
            rows.add(e, np.ones(T), 0.0, 0.0)
            continue
        nf = len(fmts)
        N = V.new(
            (nf, T), 0.0, np.array([len(cv.group_solo[fi]) for fi in fmts], np.float64)[:, None] * np.ones(T)
        )
        w = V.new((nf, T))
        y = V.new(
            (nf, H), 0.0, np.array([cv.margins[fi] * cv.all_open[fi] for fi in fmts])[:, None] * np.ones(H)
        )
        K = len(cv.ref_value)
        q = V.new((nf, K, T))
        qf = V.new((nf, K, T))
        limit = float(min(cv.sites, cap_total[ci]))
        for t in range(T):
            rows.add(N[:, t], np.ones(nf), -np.inf, limit)
            if t + 1 < T:
                for a in range(nf):
                    rows.add([N[a, t], N[a, t + 1]], [1.0, -1.0], -np.inf, 0.0)
        for a, fi in enumerate(fmts):
            slope, icpt = _tangents(cv.group_solo[fi])
            for t in range(T):
                for sl, ic in zip(slope, icpt, strict=True):
                    rows.add([w[a, t], N[a, t]], [1.0, -sl], -np.inf, ic)
            for k in range(K):
                slope, icpt = _tangents(cv.ref_gain[fi][k])
                for t in range(T):
                    for sl, ic in zip(slope, icpt, strict=True):
                        rows.add([q[a, k, t], N[a, t]], [1.0, -sl], -np.inf, ic)
                # the format's own cut: y[f, tau] / m_f <= f(G_f) + Top_{f, G_f}(N[f, tau])
                slope, icpt = _tangents(cv.fmt_ref_gain[fi][k])
                for t in range(T):
                    for sl, ic in zip(slope, icpt, strict=True):
                        rows.add([qf[a, k, t], N[a, t]], [1.0, -sl], -np.inf, ic)
                for tau in range(H):
                    tt = min(tau, T - 1)
                    rows.add(
                        [y[a, tau], qf[a, k, tt]],
                        [1.0 / cv.margins[fi], -1.0],
                        -np.inf,
                        float(cv.fmt_ref_value[fi, k]),
                    )
            for tau in range(H):
                last = min(tau + 1, T)
                coef = [
                    (rho[tau - t] - rho[tau - t - 1]) if t < last - 1 else rho[tau - t] for t in range(last)
                ]
                rows.add(
                    np.concatenate([[y[a, tau]], w[a, :last]]),
                    np.concatenate([[1.0], -np.asarray(coef)]),
                    -np.inf,
                    0.0,
                )
            # objective: cash minus fixed and opening costs
            fixed, capex = cv.group_fixed[fi], cv.group_capex[fi]
            cost_terms.append((y[a], vw.copy()))
            fix_w = np.zeros(T)
            for tau in range(H):
                fix_w[min(tau, T - 1)] += vw[tau]
            # fixed cost of the stores open in year tau: N[f, min(tau, T)]
            cost_terms.append((N[a], -fixed * fix_w))
            # opening cost in year t: capex (N[t] - N[t-1]) D[t]
            dd = D.copy()
            dd[:-1] -= D[1:]
            cost_terms.append((N[a], -capex * dd))
        for k in range(K):
            for tau in range(H):
                tt = min(tau, T - 1)
                cols = np.concatenate([y[:, tau], q[:, k, tt]])
                vals = np.concatenate([1.0 / np.array([cv.margins[fi] for fi in fmts]), -np.ones(nf)])
                rows.add(cols, vals, -np.inf, float(cv.ref_value[k]))
        # openings per year and the limits of the country
        for t in range(T):
            oc = N[:, t] if t == 0 else np.concatenate([N[:, t], N[:, t - 1]])
            ov = np.ones(nf) if t == 0 else np.concatenate([np.ones(nf), -np.ones(nf)])
            cx = np.array([cv.group_capex[fi] for fi in fmts])
            cvv = cx if t == 0 else np.concatenate([cx, -cx])
            opened_cols[t].append(oc)
            opened_vals[t].append(ov)
            capex_cols[t].append(oc)
            capex_vals[t].append(cvv)
            ec = [e[s] for s in range(t + 1)]
            ev = [-(float(caps[t - s]) - (float(caps[t - s - 1]) if s < t else 0.0)) for s in range(t + 1)]
            rows.add(np.concatenate([oc, ec]), np.concatenate([ov, ev]), -np.inf, 0.0)
            mc = [e[t]] + ([e[t - 1]] if t > 0 else [])
            mv = [-float(world.min_network)] + ([float(world.min_network)] if t > 0 else [])
            rows.add(np.concatenate([oc, mc]), np.concatenate([ov, mv]), 0.0, np.inf)
    C = len(curves)
    for t in range(T):
        ecols = [e_all[c][t] for c in range(C)] + ([e_all[c][t - 1] for c in range(C)] if t > 0 else [])
        evals = [1.0] * C + ([-1.0] * C if t > 0 else [])
        rows.add(ecols, evals, -np.inf, float(entries[t]))
    hi, lo = spec.max_stores(), spec.min_stores()
    limits, cumulative = spec.budget_limits()
    for t in range(T):
        if opened_cols[t]:
            rows.add(
                np.concatenate(opened_cols[t]),
                np.concatenate(opened_vals[t]),
                float(lo[t]),
                float(min(hi[t], 2**50)),
            )
        elif lo[t] > 0:
            raise InfeasibleError(
                f"rollout year {t + 1}: min_stores_per_year {lo[t]} but no country has stores"
            )
        if np.isfinite(limits[t]):
            if cumulative:
                cols = np.concatenate([np.concatenate(capex_cols[s]) for s in range(t + 1) if capex_cols[s]])
                vals = np.concatenate([np.concatenate(capex_vals[s]) for s in range(t + 1) if capex_vals[s]])
            else:
                cols = np.concatenate(capex_cols[t]) if capex_cols[t] else np.zeros(0, np.int64)
                vals = np.concatenate(capex_vals[t]) if capex_vals[t] else np.zeros(0)
            if len(cols):
                rows.add(cols, vals, -np.inf, float(limits[t]))
    c = np.zeros(V.n)
    for cols, vals in cost_terms:
        np.add.at(c, np.asarray(cols).ravel(), -np.asarray(vals, np.float64).ravel())
    log.info("world bound: %d variables, %d rows", V.n, len(rows.lo))
    import time

    t0 = time.perf_counter()
    limit = float(world.master_seconds if seconds is None else seconds)
    A = rows.matrix(V.n)
    box = Bounds(np.concatenate(V.lo), np.concatenate(V.hi))
    best, status = np.inf, ""
    # the LP relaxation first (about a second on 30 countries), then the entry binaries
    # with the time left; the smaller valid value is the bound
    for integral in (False, True) if integer else (False,):
        left = limit - (time.perf_counter() - t0)
        if integral and left < 1.0:
            break
        res = milp(
            c,
            integrality=np.concatenate(V.integer) if integral else None,
            bounds=box,
            constraints=A,
            options={"time_limit": max(left, 1.0), "disp": False, "mip_rel_gap": 1e-6},
        )
        if res.status == 2:
            raise InfeasibleError(f"world: the yearly limits cannot all be kept ({res.message})")
        dual = getattr(res, "mip_dual_bound", None) if integral else None
        if dual is not None and np.isfinite(dual):
            value = -float(dual)
        elif res.status == 0 and res.fun is not None:
            value = -float(res.fun)
        else:
            continue
        if value < best:
            best, status = value, f"{'MIP' if integral else 'LP'}: {res.message}"
    if not np.isfinite(best):
        raise SolverError("world bound: HiGHS returned no bound")
    value = best
    return const + value + 1e-9 * max(1.0, abs(value)), status


@dataclass(frozen=True)
class JointSolution:
    """The world programme over (column, year) single-store values
    (:func:`joint_bound`): its bound and its best integer-entry solution.

    Attributes
    ----------
    bound : float
        Upper bound on the world NPV of every plan that keeps the limits, planning
        currency (inf when not solved).
    status : str
        HiGHS's status messages.
    stores : ndarray of float64, shape (n_countries, years) or None
        New stores per country and year of the solution (fractional), None without one.
    capex : ndarray of float64, shape (n_countries, years) or None
        Their opening costs, planning currency.
    entry_year : ndarray of int64 or None
        Rollout year each country is entered in the solution (0: not entered).
    value : float
        The solution's value (single-store values plus the existing stores' NPV), planning
        currency; -inf without one.
    seconds : float
    """

    bound: float
    status: str
    stores: np.ndarray | None
    capex: np.ndarray | None
    entry_year: np.ndarray | None
    value: float
    seconds: float


#: Least time the joint programme's LP gets, seconds (:func:`joint_bound`).
_LP_SECONDS = 600.0


def joint_bound(
    curves: Sequence[CountryCurve],
    world: WorldSpec,
    spec: RolloutSpec,
    *,
    seconds: float | None = None,
) -> JointSolution:
    r"""The world programme over every country's (column, year) single-store values.

    ``x[j, t]`` (column ``j`` of a country opened in year ``t``, in [0, 1]) and
    ``e[c, t]`` (country ``c`` entered by year ``t``, binary). For every plan, the NPV
    of country ``c``'s schedule is at most its existing stores' NPV plus the sum of its
    openings' single-store values ``g[j, t]``
    (:func:`storeplan.rollout.schedule.single_store_values`: under a Huff market a
    store's sales only fall as others open; the ramp-up priced by scaled
    attractiveness). So the world NPV is at most ``sum_c npv0_c + max sum g x`` over:

    * one store per site over formats and years, and only once the country is entered
      (``sum_{j at s, tau <= t} x[j, tau] <= e_t``); the ``must_open`` columns open;
    * per country and year, the openings ``<= sum_s caps[t - s] (e_s - e_{s-1})`` (caps
      that ramp with presence) and ``>= min_network (e_t - e_{t-1})``; at most
      ``countries_max_stores``;
    * at most ``new_countries_per_year`` entries per year; the global stores (fewest and
      most) and capital per year.

    Pairs of sites closer than the minimum spacing hold one store between them
    (``sum_{j at a or b, t} x[j, t] <= e_T``), and the columns kept by
    :func:`~storeplan.world.curves.country_curve` suffice (see
    :class:`~storeplan.world.curves.CountryCurve`). The LP relaxation is solved first
    (its optimum is a bound; it gets at least ``_LP_SECONDS`` whatever ``seconds``).
    Its entries are then rounded (a country enters in the first year its LP entry
    reaches one half, the most valuable countries first within the yearly entry
    limits) and fixed, and the LP solved again (warm start, again at least
    ``_LP_SECONDS``) with no country above the stores its greedy sequence spaced
    apart: the solution. When that solution is more than 0.5 %
    below the bound and time is left, the binary entries are solved too (HiGHS's dual
    bound, or the optimum, is a bound as well; the smaller one is returned; its
    incumbent is the solution only when there is no other).

    Parameters
    ----------
    curves : sequence of CountryCurve
    world : WorldSpec
    spec : RolloutSpec
    seconds : float, optional
        Time limit, seconds (default ``world.master_seconds``).

    Returns
    -------
    JointSolution

    Raises
    ------
    InfeasibleError
        The programme is infeasible: no plan keeps the limits.
    """
    import time

    t0 = time.perf_counter()
    T = spec.years
    C = len(curves)
    caps = world.caps(T)
    entries = world.entries(T)
    cap_total = _max_stores(curves, world, spec)
    hi, lo = spec.max_stores(), spec.min_stores()
    limits, cumulative = spec.budget_limits()
    # variables: per country its x block (m_c x T, row-major), then e (C x T)
    sizes = [len(cv.col_value) for cv in curves]
    xpos = np.concatenate([[0], np.cumsum(np.asarray(sizes, np.int64) * T)]).astype(np.int64)
    epos = int(xpos[-1])
    n = epos + C * T
    cost = np.zeros(n)
    const = 0.0
    rows = _Rows()
    total_row = np.full(C, -1, np.int64)
    for c, cv in enumerate(curves):
        const += float(cv.npv0) if np.isfinite(cv.npv0) else 0.0
        m = sizes[c]
        ec = epos + c * T + np.arange(T)
        if T > 1:
            k = np.arange(T - 1)
            rows.add_many(
                np.concatenate([k, k]),
                np.concatenate([ec[:-1], ec[1:]]),
                np.r_[np.ones(T - 1), -np.ones(T - 1)],
                -np.inf,
                0.0,
            )
        if m == 0:
            rows.add(ec, np.ones(T), 0.0, 0.0)
            continue
        x = xpos[c] + np.arange(m * T).reshape(m, T)
        cost[x.ravel()] = -np.asarray(cv.col_value, np.float64).ravel()
        # one store per site, open by year t only if the country is entered by then:
        # sum_{j at the site, tau <= t} x[j, tau] <= e_t (the site row at t = T, and far
        # tighter than the caps alone where e is fractional)
        _, site_row = np.unique(cv.col_site, return_inverse=True)
        site_row = site_row.ravel()
        n_site = int(site_row.max()) + 1
        tau, tt = np.nonzero(np.tri(T, dtype=bool).T)  # tau <= t
        r = (site_row[:, None] * T + tt[None, :]).ravel()
        xc = x[:, tau].ravel()
        ur = np.arange(n_site * T)
        rows.add_many(
            np.concatenate([r, ur]),
            np.concatenate([xc, ec[ur % T]]),
            np.concatenate([np.ones(len(xc)), -np.ones(len(ur))]),
            -np.inf,
            0.0,
        )
        # the minimum spacing: two sites that conflict hold one store between them
        sp = np.asarray(cv.site_pairs, np.int64).reshape(-1, 2)
        if len(sp):
            sites_u, site_row = np.unique(cv.col_site, return_inverse=True)
            ra, rb = np.searchsorted(sites_u, sp[:, 0]), np.searchsorted(sites_u, sp[:, 1])
            order = np.argsort(site_row, kind="stable")
            start = np.concatenate([[0], np.cumsum(np.bincount(site_row, minlength=n_site))])
            rr, cc = [], []
            for side in (ra, rb):
                cnt = start[side + 1] - start[side]
                pr = np.repeat(np.arange(len(sp)), cnt)
                off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                cols = order[np.repeat(start[side], cnt) + off]
                rr.append(np.repeat(pr, T))
                cc.append(x[cols].ravel())
            rr.append(np.arange(len(sp)))
            cc.append(np.full(len(sp), ec[T - 1]))
            vv = np.concatenate([np.ones(sum(len(a) for a in rr[:-1])), -np.ones(len(sp))])
            rows.add_many(np.concatenate(rr), np.concatenate(cc), vv, -np.inf, 0.0)
        mi = np.flatnonzero(cv.col_must)
        if len(mi):
            rows.add_many(np.repeat(np.arange(len(mi)), T), x[mi].ravel(), np.ones(len(mi) * T), 1.0, np.inf)
        for t in range(T):
            # caps ramp with presence: opened_t <= sum_{s<=t} caps[t-s] (e_s - e_{s-1})
            es = [ec[s] for s in range(t + 1)]
            ev = [-(float(caps[t - s]) - (float(caps[t - s - 1]) if s < t else 0.0)) for s in range(t + 1)]
            rows.add(np.concatenate([x[:, t], es]), np.concatenate([np.ones(m), ev]), -np.inf, 0.0)
            # minimum network in the entry year
            mc = [ec[t]] + ([ec[t - 1]] if t > 0 else [])
            mv = [-float(world.min_network)] + ([float(world.min_network)] if t > 0 else [])
            rows.add(np.concatenate([x[:, t], mc]), np.concatenate([np.ones(m), mv]), 0.0, np.inf)
        total_row[c] = len(rows.lo)  # stores over the years
        rows.add(x.ravel(), np.ones(m * T), -np.inf, float(min(cap_total[c], m)))
    for t in range(T):
        cols = [epos + c * T + t for c in range(C)]
        cols += [epos + c * T + t - 1 for c in range(C)] if t > 0 else []
        vals = [1.0] * C + ([-1.0] * C if t > 0 else [])
        rows.add(cols, vals, -np.inf, float(entries[t]))
    for t in range(T):
        ycols = [xpos[c] + np.arange(sizes[c]) * T + t for c in range(C) if sizes[c]]
        if ycols:
            rows.add(np.concatenate(ycols), 1.0, float(lo[t]), float(min(hi[t], 2**50)))
        elif lo[t] > 0:
            raise InfeasibleError(
                f"rollout year {t + 1}: min_stores_per_year {lo[t]} but no country has stores"
            )
        if np.isfinite(limits[t]) and ycols:
            upto = range(t + 1) if cumulative else (t,)
            bc = [xpos[c] + np.arange(sizes[c]) * T + s for s in upto for c in range(C) if sizes[c]]
            bv = [curves[c].col_capex for s in upto for c in range(C) if sizes[c]]
            rows.add(np.concatenate(bc), np.concatenate(bv), -np.inf, float(limits[t]))
    log.info("world joint bound: %d variables, %d rows", n, len(rows.lo))
    A = sparse.csc_matrix(rows.matrix(n).A)
    limit = float(world.master_seconds if seconds is None else seconds)
    h = _highs(cost, A, np.asarray(rows.lo), np.asarray(rows.hi))
    status: list[str] = []

    def run(left: float) -> tuple[str, np.ndarray | None, float, float]:
        import highspy

        # HiGHS's time limit counts its run time over all runs of the model
        h.setOptionValue("time_limit", float(h.getRunTime()) + max(left, 1.0))
        h.run()
        st = h.getModelStatus()
        info = h.getInfo()
        status.append(h.modelStatusToString(st))
        log.info("world joint programme: %s after %.1f s", status[-1], time.perf_counter() - t0)
        has = info.primal_solution_status == 2
        x = np.asarray(h.getSolution().col_value) if has else None
        obj = float(info.objective_function_value) if has else np.inf
        ok = st == highspy.HighsModelStatus.kOptimal
        infeasible = st == highspy.HighsModelStatus.kInfeasible
        return (
            ("optimal" if ok else "infeasible" if infeasible else "stopped"),
            x,
            obj,
            float(info.mip_dual_bound),
        )

    import highspy

    # the LP runs to its optimum (its value is the bound; a stopped simplex proves
    # nothing): at least _LP_SECONDS whatever the master's time limit
    st, x_lp, obj, _ = run(max(limit, _LP_SECONDS))
    if st == "infeasible":
        raise InfeasibleError(
            "world: the yearly limits cannot all be kept (the joint programme is infeasible)"
        )
    best = -obj if st == "optimal" else np.inf
    sol, sol_val = None, -np.inf
    if x_lp is not None and st == "optimal":
        # the LP's entries rounded and fixed (warm start): a first solution
        e_fix = _round_entries(x_lp[epos:].reshape(C, T), -x_lp[:epos] * cost[:epos], xpos, T, entries)
        idx = np.arange(epos, n, dtype=np.int32)
        h.changeColsBounds(len(idx), idx, e_fix.ravel(), e_fix.ravel())
        # and no country above the stores its greedy sequence spaced apart (the
        # programme's spacing rows hold fractions; a solution must not ask for more
        # stores than fit)
        trows = total_row[total_row >= 0].astype(np.int32)
        fit = np.array([min(cap_total[c], sizes[c], len(curves[c].seq_gain)) for c in range(C)])
        h.changeRowsBounds(len(trows), trows, np.full(len(trows), -highspy.kHighsInf), fit[total_row >= 0])
        st2, x2, obj2, _ = run(max(limit - (time.perf_counter() - t0), _LP_SECONDS))
        if st2 == "optimal" and x2 is not None:
            sol, sol_val = x2, const - obj2
        h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), np.ones(len(idx)))
        free = np.array([min(cap_total[c], sizes[c]) for c in range(C)], np.float64)
        h.changeRowsBounds(len(trows), trows, np.full(len(trows), -highspy.kHighsInf), free[total_row >= 0])
    left = limit - (time.perf_counter() - t0)
    # the binary entries only when the rounded solution leaves more than 0.5 % to gain
    close = sol is not None and (const + best) - sol_val <= 5e-3 * max(1.0, abs(const + best))
    if not close and (left >= 2.0 or sol is None):
        idx = np.arange(epos, n, dtype=np.int32)
        h.changeColsIntegrality(len(idx), idx, np.full(len(idx), highspy.HighsVarType.kInteger))
        st3, x3, obj3, dual = run(left)
        if np.isfinite(dual):
            best = min(best, -dual)
        if x3 is not None and sol is None:  # (its stores may not fit the spacing: capped later)
            sol, sol_val = x3, const - obj3
    stores = capex = entry = None
    if sol is not None:
        stores = np.zeros((C, T))
        capex = np.zeros((C, T))
        for c, cv in enumerate(curves):
            if sizes[c]:
                xx = np.clip(sol[xpos[c] : xpos[c + 1]].reshape(sizes[c], T), 0.0, 1.0)
                stores[c] = xx.sum(axis=0)
                capex[c] = cv.col_capex @ xx
        e = np.round(sol[epos:].reshape(C, T)).astype(np.int64)
        entry = np.where(e.any(axis=1), T - e.sum(axis=1) + 1, 0).astype(np.int64)
    value = const + best
    return JointSolution(
        bound=float(value + 1e-9 * max(1.0, abs(value))) if np.isfinite(best) else float("inf"),
        status="; ".join(status),
        stores=stores,
        capex=capex,
        entry_year=entry,
        value=float(sol_val),
        seconds=time.perf_counter() - t0,
    )


def _round_entries(e_lp: np.ndarray, x_value: np.ndarray, xpos: np.ndarray, T: int, entries) -> np.ndarray:
    """Entry binaries ``e[c, t]`` from the LP's: a country enters in the first year its
    LP entry reaches one half, the countries of highest LP value first while the year
    has entries left (later years otherwise)."""
    C = e_lp.shape[0]
    worth = np.array([float(x_value[xpos[c] : xpos[c + 1]].sum()) for c in range(C)])
    left = np.asarray(entries, np.float64).copy()
    out = np.zeros((C, T))
    for c in np.argsort(-worth, kind="stable"):
        reach = np.flatnonzero(e_lp[c] >= 0.5 - 1e-9)
        if len(reach) == 0:
            continue
        for t in range(int(reach[0]), T):
            if left[t] >= 1:
                left[t] -= 1
                out[c, t:] = 1.0
                break
    return out


def _highs(cost: np.ndarray, A, row_lo: np.ndarray, row_hi: np.ndarray):
    """A HiGHS model ``min cost x``, ``row_lo <= A x <= row_hi``, ``0 <= x <= 1`` (one
    thread, quiet)."""
    import highspy

    inf = highspy.kHighsInf
    n, m = A.shape[1], A.shape[0]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.asarray(cost, np.float64)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf)
    A = sparse.csc_matrix(A)
    A.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.passModel(lp)
    return h


def allocate_joint(
    curves: Sequence[CountryCurve], world: WorldSpec, spec: RolloutSpec, joint: JointSolution
) -> Allocation | None:
    """The allocation of :func:`joint_bound`'s solution: its entry years, its store counts
    per country and year rounded down to whole stores (each year on its own, so no
    year exceeds its maximum; the minimum network kept in its entry year) and topped up where a yearly minimum
    asks for more (the largest fractions first, within the caps and the budget), its
    opening costs as the countries' capital. None without a solution or when the
    rounding cannot keep the limits.
    """
    if joint.stores is None or joint.capex is None or joint.entry_year is None:
        return None
    T = spec.years
    C = len(curves)
    caps = world.caps(T)
    lo, hi = spec.min_stores(), spec.max_stores()
    limits, cumulative = spec.budget_limits()
    total_cap = _max_stores(curves, world, spec)
    # each year rounded down on its own: no year above the LP's count (the yearly maximum)
    stores = np.floor(np.maximum(joint.stores, 0.0) + 1e-6).astype(np.int64)
    capex = np.maximum(joint.capex, 0.0).copy()
    entry = np.zeros(C, np.int64)
    cheapest = np.array([float(cv.col_capex.min()) if len(cv.col_capex) else np.inf for cv in curves])
    room_sites = np.array([len(np.unique(cv.col_site)) for cv in curves], np.float64)
    fits = np.array([len(cv.seq_gain) for cv in curves], np.float64)
    for c in range(C):
        e = int(joint.entry_year[c])
        if e == 0 or stores[c].sum() == 0:
            stores[c] = 0
            capex[c] = 0.0
            continue
        stores[c, : e - 1] = 0
        if stores[c, e - 1] < world.min_network:
            add = world.min_network - stores[c, e - 1]
            stores[c, e - 1] += add
            capex[c, e - 1] += add * cheapest[c]
        entry[c] = e
    for c, cv in enumerate(curves):  # no more than the country's sites hold spaced apart
        fit = len(cv.seq_gain)
        while stores[c].sum() > fit:
            t = int(np.flatnonzero(stores[c] > 0)[-1])
            cut = min(int(stores[c].sum()) - fit, int(stores[c, t]))
            capex[c, t] *= (stores[c, t] - cut) / stores[c, t]
            stores[c, t] -= cut
        if stores[c].sum() and stores[c, entry[c] - 1] < world.min_network:
            stores[c] = 0
            entry[c] = 0
    capex[stores == 0] = 0.0
    frac = joint.stores - stores
    for t in range(T):
        while stores[:, t].sum() < min(lo[t], hi[t]):
            spent = capex.sum(axis=0)
            used = spent[: t + 1].sum() if cumulative else spent[t]
            room = limits[t] - used if np.isfinite(limits[t]) else np.inf
            best, best_f = -1, -np.inf
            for c in range(C):
                e = int(entry[c])
                if e == 0 or e - 1 > t:
                    continue
                if stores[c, t] >= caps[t - e + 1] or stores[c].sum() >= min(
                    total_cap[c], room_sites[c], fits[c]
                ):
                    continue
                if cheapest[c] > room + 1e-6:
                    continue
                if frac[c, t] > best_f:
                    best, best_f = c, float(frac[c, t])
            if best < 0:
                return None
            stores[best, t] += 1
            capex[best, t] += cheapest[best]
            frac[best, t] -= 1.0
    spent = capex.sum(axis=0)
    for t in range(T):
        used = spent[: t + 1].sum() if cumulative else spent[t]
        if np.isfinite(limits[t]) and used > limits[t] * (1 + 1e-9) + 1e-6:
            return None
        if stores[:, t].sum() > hi[t]:
            return None
    return Allocation(
        countries=tuple(cv.country for cv in curves),
        stores=stores,
        capex=capex,
        budget=_budgets(stores, capex, spec),
        entry_year=entry,
        value=float(joint.value),
        status=joint.status,
        seconds=float(joint.seconds),
    )


def best_bound(
    curves: Sequence[CountryCurve], world: WorldSpec, spec: RolloutSpec, joint: JointSolution | None = None
) -> tuple[float, str]:
    """The smaller of two valid bounds on the world NPV, planning currency, and how it
    was obtained: :func:`joint_bound` (``joint``, computed when not given) and the
    aggregate relaxation :func:`world_bound` (its submodular cuts are the tighter where
    a country's stores take much from each other; its LP first, its binary entries only
    when that LP is within 10 % of the joint bound)."""
    joint = joint_bound(curves, world, spec) if joint is None else joint
    agg, how = world_bound(curves, world, spec, integer=False)
    if agg - joint.bound < 0.1 * abs(joint.bound):  # close enough for its entries to help
        agg, how = world_bound(curves, world, spec, integer=True)
    if agg < joint.bound:
        return agg, f"aggregate relaxation ({how})"
    return joint.bound, f"joint programme over (site, format, year) ({joint.status})"


@dataclass(frozen=True)
class CountryOption:
    """One finished country plan, as the global limits see it (:func:`select_plans`).

    Attributes
    ----------
    country : int
        Row of the country (its index in the curves).
    npv : float
        The plan's exact NPV, planning currency.
    stores : ndarray of int64, shape (years,)
        New stores per rollout year.
    capex : ndarray of float64, shape (years,)
        Opening costs per rollout year, planning currency.
    """

    country: int
    npv: float
    stores: np.ndarray
    capex: np.ndarray

    @property
    def entry_year(self) -> int:
        """Rollout year of the first openings (0: none)."""
        opened = np.flatnonzero(np.asarray(self.stores) > 0)
        return int(opened[0]) + 1 if len(opened) else 0

    def keeps_network(self, world: WorldSpec) -> bool:
        """Whether the entry year opens at least ``world.min_network`` stores and no
        year of presence more than its cap (True without openings)."""
        e = self.entry_year
        if e == 0:
            return True
        s = np.asarray(self.stores, np.int64)
        caps = world.caps(len(s))
        return bool(s[e - 1] >= world.min_network and (s[e - 1 :] <= caps[: len(s) - e + 1]).all())


def select_plans(
    options: Sequence[CountryOption],
    world: WorldSpec,
    spec: RolloutSpec,
    *,
    incumbent: Sequence[int],
    seconds: float = 30.0,
) -> np.ndarray | None:
    r"""The best combination of at most one plan per country under the global limits.

    ``y[k]`` in {0, 1} picks option ``k``; at most one per country; maximise
    ``sum_k npv_k y_k`` subject to, per rollout year ``t``, the fewest and most new
    stores ``lo_t <= sum_k stores[k, t] y_k <= hi_t``, the capital budget
    ``sum_k capex[k, t] y_k <= B_t`` (cumulative with ``carry_over``) and at most
    ``new_countries_per_year`` options whose entry year is ``t``. The caps and minimum
    network of a country are its options' own (each was planned under an allocation
    that keeps them).

    Parameters
    ----------
    options : sequence of CountryOption
    world : WorldSpec
    spec : RolloutSpec
    incumbent : sequence of int
        Indices into ``options`` of a preferred combination (e.g. every country's plan
        under one allocation): returned when it keeps the limits and no combination
        that keeps them has a larger NPV.
    seconds : float, default 30
        HiGHS time limit, seconds.

    Returns
    -------
    ndarray of int64 or None
        Indices into ``options`` of the chosen plans, in increasing order; None when
        neither HiGHS's combination nor the incumbent keeps the limits.

    Notes
    -----
    A budget row holds with the tolerance the allocation's rounding uses
    (``B_t (1 + 1e-9) + 1e-6``), so an incumbent whose plans kept budgets that add up
    to at most ``B_t`` keeps it. The chosen combination is checked again exactly
    after HiGHS. One binary per option: the countries' plans
    under two allocations make a programme of a few hundred binaries at most.
    """
    inc = np.asarray(sorted(int(k) for k in incumbent), np.int64)
    K = len(options)
    T = spec.years
    npv = np.array([float(o.npv) for o in options])
    st = np.array([np.asarray(o.stores, np.float64)[:T] for o in options]).reshape(K, T)
    cx = np.array([np.asarray(o.capex, np.float64)[:T] for o in options]).reshape(K, T)
    ent = np.array([o.entry_year for o in options], np.int64)
    country = np.array([o.country for o in options], np.int64)
    hi, lo = spec.max_stores(), spec.min_stores()
    limits, cumulative = spec.budget_limits()
    entries = world.entries(T)

    def keeps(pick: np.ndarray) -> bool:
        stores_t, capex_t = st[pick].sum(axis=0), cx[pick].sum(axis=0)
        spend_t = np.cumsum(capex_t) if cumulative else capex_t
        return bool(
            len(np.unique(country[pick])) == len(pick)
            and ((stores_t >= lo) & (stores_t <= hi)).all()
            and (~np.isfinite(limits) | (spend_t <= limits * (1 + 1e-9) + 1e-6)).all()
            and (np.bincount(ent[pick], minlength=T + 1)[1 : T + 1] <= entries).all()
        )

    inc_ok = keeps(inc)
    if K == 0:
        return inc if inc_ok else None
    rows = _Rows()
    _, crow = np.unique(country, return_inverse=True)
    rows.add_many(crow.ravel(), np.arange(K), np.ones(K), -np.inf, 1.0)
    for t in range(T):
        rows.add(np.arange(K), st[:, t], float(lo[t]), float(min(hi[t], 2**50)))
        if np.isfinite(limits[t]):
            spend = cx[:, : t + 1].sum(axis=1) if cumulative else cx[:, t]
            rows.add(np.arange(K), spend, -np.inf, float(limits[t]) * (1 + 1e-9) + 1e-6)
        new = np.flatnonzero(ent == t + 1)
        if len(new):
            rows.add(new, np.ones(len(new)), -np.inf, float(entries[t]))
    res = milp(
        -npv,
        integrality=np.ones(K),
        bounds=Bounds(np.zeros(K), np.ones(K)),
        constraints=rows.matrix(K),
        options={"time_limit": float(seconds), "disp": False, "mip_rel_gap": 1e-9},
    )
    pick = None if res.x is None else np.flatnonzero(np.asarray(res.x) > 0.5).astype(np.int64)
    if pick is None or not keeps(pick):  # (checked exactly: HiGHS keeps rows to its tolerances)
        return inc if inc_ok else None
    # a better combination only: ties and HiGHS's tolerances keep the incumbent
    base = float(npv[inc].sum())
    if inc_ok and float(npv[pick].sum()) - base <= 1e-9 * max(1.0, abs(base)):
        return inc
    return pick
