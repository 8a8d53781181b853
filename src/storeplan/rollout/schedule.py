"""Rollout schedule: which site opens in which year (greedy by marginal NPV + interchange, LP bound)."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InfeasibleError, InputError
from ..solvers.constraints import FORBIDDEN, MUST, Constraints, prepare
from .cashflow import evaluate, oracle_revenue, ramp_matrix, site_margins
from .spec import NEVER, RolloutSpec

#: A set of sites: a bool mask over the sites, site indices, or site ids.
Sites = np.ndarray | Sequence[str] | Sequence[int]

__all__ = ["Schedule", "Sites", "schedule", "single_store_values"]


@dataclass(frozen=True)
class Schedule:
    """A rollout schedule and its value.

    Attributes
    ----------
    ids : ndarray of object, shape (n_sites,)
    open_year : ndarray of int64, shape (n_sites,)
        0 existing, ``1..years`` opening year, :data:`NEVER` (-1) not opened.
    opening_cost : ndarray of float64
        Currency, once (existing stores: ignored).
    fixed_cost : ndarray of float64
        Currency per year while open.
    spec : RolloutSpec
    npv : float
        NPV of all store cash flows over the horizon (existing stores included), currency.
    npv_new : float
        ``npv`` minus the NPV of the existing stores alone: the value the rollout adds.
    bound : float
        Upper bound on ``npv`` (valid when the oracle's revenue is submodular, see
        :func:`schedule`; with a Huff oracle the new stores' ramp-up is priced); NaN when
        not computed.
    gap : float
        ``(bound - npv) / |npv|`` (NaN without a bound).
    method : str
    seconds : float
    evaluations : int
        Oracle calls (``gains`` calls count once).
    extra : dict
        Region per site and other labels (``region`` when known; ``reason``, aligned
        with ``ids``: why a site is not opened, "" for opened ones; ``seed_reason``: id
        -> reason for the ``seed_sites`` the schedule left unopened).
    oracle : callable
        The value oracle the schedule was made with (used by
        :func:`storeplan.forecast.forecast` when none is given).
    must_year, forbidden : ndarray, optional
        Year each must-open site had to open in (0: none) and the forbidden mask, kept to
        re-run the schedule (:func:`storeplan.forecast.stores_to_meet_target`).
    bound_method : str
        How ``bound`` was obtained (the LP over (site, year) gains, or the largest
        single-store gains).
    margin : ndarray of float64, shape (n_sites,), optional
        Share (0..1] of each site's sales that is cash to the brand (its format's
        margin); None: ``spec.gross_margin`` for every site (:meth:`margins`).
    """

    ids: np.ndarray
    open_year: np.ndarray
    opening_cost: np.ndarray
    fixed_cost: np.ndarray
    spec: RolloutSpec
    npv: float
    npv_new: float
    bound: float
    gap: float
    method: str
    seconds: float
    evaluations: int
    extra: dict = field(default_factory=dict)
    oracle: Any = field(default=None, repr=False, compare=False)
    must_year: np.ndarray | None = field(default=None, repr=False, compare=False)
    forbidden: np.ndarray | None = field(default=None, repr=False, compare=False)
    bound_method: str = ""
    margin: np.ndarray | None = None

    @property
    def years(self) -> int:
        return self.spec.years

    def margins(self) -> np.ndarray:
        """Cash margin of every site (share of sales, float64, shape ``(n_sites,)``):
        ``margin``, or ``spec.gross_margin`` everywhere when it is None."""
        return site_margins(self.margin, len(self.ids), self.spec)

    def opened_per_year(self) -> np.ndarray:
        """New stores opened in each rollout year (int64, length ``years``)."""
        o = self.open_year
        return np.bincount(o[o >= 1], minlength=self.years + 1)[1:].astype(np.int64)

    def capex_per_year(self) -> np.ndarray:
        """Opening costs spent in each rollout year, currency (length ``years``)."""
        o = self.open_year
        sel = o >= 1
        return np.bincount(o[sel], weights=self.opening_cost[sel], minlength=self.years + 1)[1:]

    def to_frame(self) -> pd.DataFrame:
        """``id, open_year, status (existing/new/not opened), opening_cost, fixed_cost``
        (+ ``margin``, share of sales, when the schedule carries one; + ``region`` when
        known, + ``reason`` a site is not opened when recorded), sorted by opening year."""
        status = np.where(self.open_year == 0, "existing", np.where(self.open_year > 0, "new", "not opened"))
        df = pd.DataFrame(
            {
                "id": self.ids,
                "open_year": self.open_year,
                "status": status,
                "opening_cost": self.opening_cost,
                "fixed_cost": self.fixed_cost,
            }
        )
        if self.margin is not None:
            df["margin"] = self.margins()
        if "region" in self.extra:
            df["region"] = self.extra["region"]
        if "reason" in self.extra:
            df["reason"] = self.extra["reason"]
        key = np.where(self.open_year < 0, 10**6, self.open_year)
        return df.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def _gains(oracle, open_idx, weight, cand, counter, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    counter[0] += 1
    if scale != 1.0:  # only for oracles with scales_attractiveness (see _bound)
        own, delta = oracle.gains(open_idx, weight, cand, scale=scale)
        return np.asarray(own, np.float64), np.asarray(delta, np.float64)
    if hasattr(oracle, "gains"):
        own, delta = oracle.gains(open_idx, weight, cand)
        return np.asarray(own, np.float64), np.asarray(delta, np.float64)
    base = oracle_revenue(oracle, open_idx)
    own = np.empty(len(cand))
    delta = np.empty(len(cand))
    for k, c in enumerate(cand):
        idx = np.sort(np.append(open_idx, c))
        rev = oracle_revenue(oracle, idx)
        counter[0] += 1
        at = int(np.searchsorted(idx, c))
        own[k] = rev[at]
        delta[k] = float(np.dot(weight, np.delete(rev, at) - base))
    return own, delta


def _as_mask(x: Sites | None, n: int, ids: np.ndarray, name: str) -> np.ndarray:
    if x is None:
        return np.zeros(n, bool)
    arr = np.asarray(x)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InputError(f"{name} must have {n} entries, got {arr.shape}")
        return arr.copy()
    out = np.zeros(n, bool)
    if arr.size:
        if arr.dtype.kind in "iu":
            if arr.min() < 0 or arr.max() >= n:
                raise InputError(f"{name}: site index outside 0..{n - 1}")
            out[arr] = True
        else:
            pos = {s: k for k, s in enumerate(ids)}
            bad = [s for s in arr if s not in pos]
            if bad:
                raise InputError(f"{name}: unknown site id(s) {', '.join(map(str, bad[:5]))}")
            out[[pos[s] for s in arr]] = True
    return out


def schedule(
    oracle: Callable[[np.ndarray], np.ndarray],
    opening_cost: np.ndarray,
    fixed_cost: np.ndarray,
    spec: RolloutSpec,
    *,
    ids: Sequence[str] | None = None,
    existing: Sites | None = None,
    must_open: Sites | None = None,
    must_open_year: Mapping[str, int] | Mapping[int, int] | None = None,
    forbidden: Sites | None = None,
    constraints: Constraints | None = None,
    max_new: int | None = None,
    seed_sites: Sites | None = None,
    lazy: bool = True,
    improve: bool = True,
    seed: int = 0,
    extra: dict | None = None,
    start: Mapping[str, int] | None = None,
    bound: float | None = None,
    margin: np.ndarray | float | None = None,
) -> Schedule:
    """Choose the opening year of every site to maximise NPV under the per-year limits.

    Parameters
    ----------
    oracle : callable
        ``oracle(open_idx) -> revenue per open site`` (currency per year, full ramp), see
        :class:`RevenueOracle`.
    opening_cost : array of float, shape (n_sites,)
        Currency, once, paid in the opening year (not for existing stores).
    fixed_cost : array of float, shape (n_sites,)
        Currency per year while open.
    spec : RolloutSpec
    ids : sequence of str, optional
        Site ids (default ``"0".."n-1"``).
    existing : bool mask, indices or ids, optional
        Our existing stores: open from year 0, never closed, no opening cost.
    must_open : bool mask, indices or ids, optional
        Sites that must open: in year 1 unless ``must_open_year`` (or
        ``spec.must_open_year``, by id) gives a later year. They count against the year's
        store and budget limits.
    forbidden : bool mask, indices or ids, optional
        Sites never opened.
    constraints : storeplan.solvers.Constraints, optional
        Side constraints on the set of sites open at the end of the rollout (site
        indices of the universe): minimum-spacing / one-format-per-site ``conflicts``, an
        overall opening ``budget`` (with ``site_cost``) and ``quotas`` (store counts or
        budgets per group, minimums and maximums), plus ``must_open`` / ``forbidden``.
        Stores never close, so a maximum or a conflict holds in every year once it holds
        at the end; minimums are met by the last year.
    max_new : int, optional
        Most new stores over all years (e.g. the plan's ``objective.stores``).
    seed_sites : bool mask, indices or ids, optional
        A preferred subset (the single-year plan's sites): the greedy also runs on this
        subset alone and the better schedule is kept, so a joint rollout over every
        candidate is never worse than sequencing the single-year plan.
    lazy : bool
        Lazy (CELF) re-evaluation in the greedy.
    improve : bool
        Run the interchange improvement (``spec.improve_evaluations`` evaluations at most,
        and ``spec.improve_seconds``).
    seed : int
        Order of the moves tried by the improvement.
    start : mapping of str to int, optional
        Warm start: a previous schedule's opening years by site id (years ``1..years``;
        other ids and years are ignored), e.g. the schedule of the plan being re-planned
        after a pin or a ban. The greedy then runs on the start's sites and the must-open
        ones only (which repairs the start: forbidden sites out, must-open sites in, every
        limit kept), the interchange looks at every candidate, and the result does not
        depend on the time limit unless it binds.
    bound : float, optional
        An upper bound on the NPV known to hold for this schedule's limits, currency
        (e.g. the bound of a previous schedule with fewer constraints: pins and bans only
        shrink the feasible schedules); its LP is then not solved.
    margin : array of float, shape (n_sites,), or float, optional
        Share (0..1] of each site's sales that is cash to the brand (``m_j`` below: its
        format's margin, e.g. a partner store's revenue share); None:
        ``spec.gross_margin`` for every site. With (site, format) columns of different
        ownership the schedule so chooses site, format and ownership by NPV.

    Returns
    -------
    Schedule

    Raises
    ------
    InfeasibleError
        Must-open sites exceed a year's store or budget limit, or a year's minimum or a
        quota minimum cannot be met (too few sites, or the budget).

    Notes
    -----
    Method:

    1. *Greedy by marginal NPV, year by year.* For year ``y = 1..years``, with ``S`` the
       stores open so far, a candidate ``c`` is valued as if opened in ``y`` and ``S + c``
       kept to the horizon: ``g_c = m_c W_y R_c(S+c) + sum_{k in S} m_k W_k (R_k(S+c) -
       R_k(S)) - sum_{t>=y} w_t F_c - d_y C_c`` with ``W_k = sum_{t>=y} w_t rho_k(t)``,
       ``m_k`` the site's cash margin (``margin``) (``d_t`` the
       discount factor, ``w_t`` the same with the terminal value folded into the last
       year, see :meth:`RolloutSpec.value_weights`; 1 for ``objective =
       "net_revenue"``). The best candidate that fits the year's remaining store count and
       capital budget (with ``carry_over``: the budgets so far less the spend so far),
       the spacing and the quota maximums is opened while ``g_c > 0`` or the year's
       minimum is not met; the market state is updated after each opening, so a store
       opened in year 1 changes the value of its neighbours in year 2. When the store
       slots left are needed for unmet quota minimums, only candidates that count
       towards them are taken (in the last year even at a loss). Lazy evaluation
       (CELF): stale gains are kept in a heap and only the top one (the top 16 with a
       vectorised ``gains`` oracle) is re-evaluated; this returns exactly the plain
       greedy's choice when gains only fall as stores are added (an additive oracle, or
       a submodular one such as Huff/nearest capture with ``ramp_months = 0``); with
       ramp-up weights it is an accelerated heuristic (``lazy=False`` gives the plain
       greedy). Under capital budgets the construction runs twice, ranking by marginal
       value and by marginal value per unit of opening cost (the CELF rule of Leskovec et
       al., 2007), and with ``seed_sites`` once more on that subset each; the best
       schedule is kept.
    2. *Interchange* on the exact multi-year NPV (:func:`evaluate`), first improvement,
       until no move improves, ``spec.improve_evaluations`` schedules have been
       evaluated or ``spec.improve_seconds`` pass: move a store to an earlier year with
       room, exchange the years of two stores (12 sampled partners per store), replace
       an opened store by one of the 20 most promising unopened sites in the same year,
       open one of those sites in any year with room, drop a store. Every move keeps
       every limit above.

    Bound: with a submodular revenue oracle, the NPV added by any feasible schedule is
    at most ``sum_c g_c(y_c)`` with ``g_c(y)`` the single-store gain of opening ``c`` in
    year ``y`` next to the existing stores alone (their lost revenue included): every
    year's total revenue at full ramp is submodular in the open set, and a ramping store
    earns at most its full-ramp revenue. With a Huff oracle
    (``scales_attractiveness``) the ramp-up is priced: in year ``t`` a store at ramp
    factor ``rho <= 1`` earns ``rho R_j = sum_i w_i rho u_ij / D_i``, at most what it
    would earn as a store of utility ``rho u_ij`` (the denominators only shrink), and
    each year's total of those is a concave function of a sum of non-negative
    (site, year) terms, so submodular over the (site, year) pairs; ``g_c(y)`` then sums
    the single-store gains at the ramp factors of each year. The best such sum over
    (site, year) assignments that keep the yearly store counts and budgets, the total
    count, the spacing conflicts and the quota maximums is an integer programme; HiGHS's
    dual bound on it (after at most :data:`BOUND_MIP_SECONDS`, or its LP relaxation's
    optimum when smaller) plus ``NPV(existing)`` is ``bound`` (the simpler "``K`` largest
    gains" bound when neither is solved). With a non-submodular oracle (the channel model's
    halo) it is an estimate.

    With per-site margins the margin-weighted revenue ``sum_j m_j R_j(S)`` is no longer
    submodular (a low-margin store next to a high-margin one can raise a third store's
    marginal value), so the bound splits it with ``m_lo``, the lowest margin of any store
    that may be open: ``sum_j m_j R_j(S) = m_lo T(S) + sum_j (m_j - m_lo) R_j(S)``, with
    ``T`` the (submodular) total revenue and each ``R_j(S) <= R_j(existing + j)`` (a store
    only loses sales as others open). The single-store gain becomes ``m_c own_c + m_lo
    delta_c`` (``own_c`` the store's revenue next to the existing stores, ``delta_c <= 0``
    their change), still an upper bound, and equal to the one-margin gain when every
    margin is the same.
    """
    t0 = time.perf_counter()
    opening_cost = np.asarray(opening_cost, np.float64)
    fixed_cost = np.asarray(fixed_cost, np.float64)
    n = len(opening_cost)
    if fixed_cost.shape != (n,):
        raise InputError(f"fixed_cost must have {n} entries, got {fixed_cost.shape}")
    if not (np.isfinite(opening_cost).all() and np.isfinite(fixed_cost).all()) or (
        (opening_cost < 0).any() or (fixed_cost < 0).any()
    ):
        raise InputError("opening_cost and fixed_cost must be finite and >= 0")
    margin = site_margins(margin, n, spec)
    ids_arr = np.asarray([str(i) for i in range(n)] if ids is None else [str(s) for s in ids], dtype=object)
    if len(ids_arr) != n:
        raise InputError(f"ids must have {n} entries, got {len(ids_arr)}")
    side = prepare(constraints, n, 0, n)
    is_exist = _as_mask(existing, n, ids_arr, "existing")
    is_must = (_as_mask(must_open, n, ids_arr, "must_open") | (side.status == MUST)) & ~is_exist
    is_forb = (_as_mask(forbidden, n, ids_arr, "forbidden") | (side.status == FORBIDDEN)) & ~is_exist
    if (is_must & is_forb).any():
        bad = ids_arr[is_must & is_forb][:5]
        raise InfeasibleError(f"rollout: site(s) {', '.join(bad)} are both must-open and forbidden")
    Y = spec.years
    must_year = np.where(is_must, 1, 0).astype(np.int64)
    pos = {s: k for k, s in enumerate(ids_arr)}
    years_of: dict[str | int, int] = {}  # the spec's, then the argument's (by id or index)
    years_of.update(spec.must_open_year.items())
    years_of.update((must_open_year or {}).items())
    for key, yr in years_of.items():
        j = int(key) if isinstance(key, int | np.integer) else pos.get(str(key))
        if j is None or not 0 <= j < n:
            raise InputError(f"rollout.must_open_year: unknown site {key!r}")
        if not 1 <= int(yr) <= Y:
            raise InputError(f"rollout.must_open_year: year {yr} of site {key!r} is outside 1..{Y}")
        if is_exist[j]:
            continue
        is_must[j] = True
        must_year[j] = int(yr)
    limits = _Limits(side, spec, opening_cost, max_new, ids_arr)
    limits.check_musts(is_exist, is_must)
    counter = [0]
    budgeted = (np.isfinite(spec.budgets()).any() or side.has_budget) and (opening_cost > 0).any()
    rules = ["gain", "ratio"] if budgeted else ["gain"]
    subsets: list[tuple[str, np.ndarray]] = [("all", is_forb)]
    warm = None
    if start is not None:
        warm = np.array([int(start.get(str(i), NEVER)) for i in ids_arr], np.int64)
        warm = np.where((warm >= 1) & (warm <= Y), warm, NEVER)
        subsets = [("start", is_forb | ~((warm >= 1) | is_must | is_exist))]
        rules = rules[:1]  # the start already fits the budgets: its repair ranks by gain
    elif seed_sites is not None:
        keep = _as_mask(seed_sites, n, ids_arr, "seed_sites") | is_must | is_exist
        if (~keep & ~is_forb).any():
            subsets.append(("seed", is_forb | ~keep))
    candidates = []
    failure: InfeasibleError | None = None
    for label, forb in subsets:
        for rule in rules:
            try:
                oy, lg = _construct(
                    oracle,
                    spec,
                    opening_cost,
                    fixed_cost,
                    counter,
                    is_exist,
                    is_must,
                    forb,
                    must_year,
                    limits,
                    lazy,
                    rule,
                    margin=margin,
                )
            except InfeasibleError as err:  # e.g. a quota minimum the subset cannot meet
                failure = failure or err
                continue
            ev = evaluate(
                oracle, oy, spec, opening_cost, fixed_cost, discount=spec.objective == "npv", margin=margin
            )
            counter[0] += int(ev["calls"])
            what = {"all": rule, "seed": f"{rule} on the seed sites", "start": f"{rule} on the warm start"}
            candidates.append((float(ev["value"]), what[label], oy, lg))
    if not candidates:
        assert failure is not None
        raise failure
    best, rule, open_year, last_gain = max(candidates, key=lambda c: c[0])
    if warm is not None:
        # fill what the repaired start leaves: the greedy over every candidate, the
        # start's kept stores opened in their years first (its gains next to them rank
        # the interchange's most promising unopened sites)
        kept = open_year >= 1
        filled: tuple[np.ndarray, np.ndarray] | None
        try:
            filled = _construct(
                oracle,
                spec,
                opening_cost,
                fixed_cost,
                counter,
                is_exist,
                is_must | kept,
                is_forb,
                np.where(kept, open_year, must_year),
                limits,
                lazy,
                rule.split(" ")[0],
                margin=margin,
            )
        except InfeasibleError:  # pragma: no cover - the kept stores are a feasible start
            filled = None
        if filled is not None:
            oy, lg = filled
            ev = evaluate(
                oracle, oy, spec, opening_cost, fixed_cost, discount=spec.objective == "npv", margin=margin
            )
            counter[0] += int(ev["calls"])
            last_gain = np.maximum(last_gain, lg)
            if float(ev["value"]) >= best:
                open_year, best = oy, float(ev["value"])
    n_tried = len(rules) * len(subsets)
    method = (
        ("warm+" if warm is not None else "")
        + "greedy-marginal-npv"
        + ("-lazy" if lazy else "")
        + (f"(best of {n_tried}: {rule})" if n_tried > 1 else "")
    )
    n_evals = spec.improve_evaluations
    if n_evals is None:
        n_open = int(np.count_nonzero(open_year >= 0))
        n_evals = int(np.clip(2_000_000 // max(1, n_open * spec.years), 50, 2000))
    if improve and spec.improve_seconds > 0 and n_evals > 0:
        open_year, best = _improve(
            oracle,
            open_year,
            best,
            spec,
            opening_cost,
            fixed_cost,
            is_must | is_exist,
            is_forb,
            last_gain,
            limits,
            seed,
            counter,
            time.perf_counter() + spec.improve_seconds,
            n_evals,
            margin=margin,
        )
        method += "+swap"
    # report the true NPV (discounted) and the existing-only baseline
    ev = evaluate(oracle, open_year, spec, opening_cost, fixed_cost, margin=margin)
    base_year = np.where(is_exist, 0, NEVER)
    ev0 = evaluate(oracle, base_year, spec, opening_cost, fixed_cost, margin=margin)
    counter[0] += int(ev["calls"]) + int(ev0["calls"])
    npv, npv0 = float(ev["value"]), float(ev0["value"])
    if bound is not None and spec.objective == "npv":
        # a bound given for fewer constraints; never below a feasible value
        bound, how = max(float(bound), npv), "given (a schedule's bound with fewer constraints)"
    else:
        bound, how = _bound(
            oracle,
            spec,
            opening_cost,
            fixed_cost,
            is_exist,
            is_forb,
            is_must,
            must_year,
            limits,
            npv0,
            counter,
            margin=margin,
        )
    gap = (bound - npv) / max(abs(npv), 1e-12) if np.isfinite(bound) else float("nan")
    out_extra = dict(extra or {})
    if seed_sites is not None:
        seeded = _as_mask(seed_sites, n, ids_arr, "seed_sites") & (open_year == NEVER)
        out_extra["seed_reason"] = _unopened_reasons(
            oracle, spec, opening_cost, fixed_cost, open_year, np.flatnonzero(seeded), limits, counter, margin
        )
    return Schedule(
        ids=ids_arr,
        open_year=open_year,
        opening_cost=opening_cost,
        fixed_cost=fixed_cost,
        spec=spec,
        npv=npv,
        npv_new=npv - npv0,
        bound=bound,
        gap=float(max(gap, 0.0)) if np.isfinite(gap) else gap,
        method=method,
        seconds=time.perf_counter() - t0,
        evaluations=int(counter[0]),
        extra=out_extra,
        oracle=oracle,
        must_year=np.where(is_must, must_year, 0),
        forbidden=is_forb,
        bound_method=how,
        margin=margin,
    )


class _Limits:
    """Every limit a schedule keeps, and the open-set state the greedy updates.

    Yearly limits: ``stores_per_year`` / ``min_stores_per_year``, ``budget_per_year``
    (cumulative with ``carry_over``). Limits on the final open set (so on every year's,
    as stores never close): ``max_new``, spacing conflicts, the quota rows' maximums;
    the quota minimums are met by the last year.
    """

    def __init__(self, side, spec: RolloutSpec, opening_cost: np.ndarray, max_new: int | None, ids) -> None:
        self.side, self.spec, self.cost, self.ids = side, spec, opening_cost, ids
        self.Y = spec.years
        self.hi, self.lo = spec.max_stores(), spec.min_stores()
        self.blim, self.cumulative = spec.budget_limits()
        self.max_new = int(max_new) if max_new is not None else 2**62
        self.q_lo, self.q_hi = side.q_lo, side.q_hi
        self.q_tol = 1e-9 * np.maximum(1.0, np.where(np.isfinite(self.q_hi), np.abs(self.q_hi), 1.0))
        units = np.array(side.q_units, dtype=object) if side.q_units else np.zeros(0, dtype=object)
        self.count_row = units == "stores"

    # -- whole-schedule checks (the interchange)
    def spend(self, o: np.ndarray) -> np.ndarray:
        sel = o >= 1
        return np.bincount(o[sel], weights=self.cost[sel], minlength=self.Y + 1)[1:]

    def budget_ok(self, spend: np.ndarray) -> bool:
        used = np.cumsum(spend) if self.cumulative else spend
        return bool(
            (
                used <= self.blim + 1e-9 * np.maximum(1.0, np.where(np.isfinite(self.blim), self.blim, 1.0))
            ).all()
        )

    def yearly_ok(self, o: np.ndarray) -> bool:
        sel = o >= 1
        cnt = np.bincount(o[sel], minlength=self.Y + 1)[1:]
        return bool(
            (cnt <= self.hi).all() and (cnt >= self.lo).all() and cnt.sum() <= self.max_new
        ) and self.budget_ok(self.spend(o))

    def rows(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.side.q_ptr[j], self.side.q_ptr[j + 1]
        return self.side.q_row[a:b], self.side.q_val[a:b]

    def neighbours(self, j: int) -> np.ndarray:
        return self.side.conf_adj[self.side.conf_ptr[j] : self.side.conf_ptr[j + 1]]

    def usage(self, o: np.ndarray) -> np.ndarray:
        return self.side.quota_usage(np.flatnonzero(o >= 0))

    def swap_ok(self, o: np.ndarray, use: np.ndarray, added: int, removed: int) -> bool:
        """Final-set limits after opening ``added`` and closing ``removed`` (-1: none)."""
        if added >= 0:
            nb = self.neighbours(added)
            if len(nb) and np.any((o[nb] >= 0) & (nb != removed)):
                return False
        if not len(use):
            return True
        new = use.copy()
        if added >= 0:
            r, v = self.rows(added)
            np.add.at(new, r, v)
        if removed >= 0:
            r, v = self.rows(removed)
            np.add.at(new, r, -v)
        if np.any(new > self.q_hi + self.q_tol):
            return False
        lower = new < self.q_lo - self.q_tol
        return not np.any(lower & (new < use - self.q_tol))  # never further below a minimum

    def check_musts(self, is_exist: np.ndarray, is_must: np.ndarray) -> None:
        fixed = np.flatnonzero(is_exist | is_must)
        o = np.where(is_exist | is_must, 1, NEVER)
        for j in fixed.tolist():
            nb = self.neighbours(j)
            clash = nb[(o[nb] >= 0) & (nb > j)]
            if len(clash):
                raise InfeasibleError(
                    f"rollout: sites {self.ids[j]} and {self.ids[int(clash[0])]} must both be open "
                    "but conflict (minimum spacing / one format per site)"
                )
        if int(is_must.sum()) > self.max_new:
            raise InfeasibleError(
                f"rollout: {int(is_must.sum())} sites must open but at most {self.max_new} new stores may"
            )
        use = self.usage(o)
        over = np.flatnonzero(use > self.q_hi + self.q_tol)
        if len(over):
            k = int(over[0])
            raise InfeasibleError(
                f"rollout: the must-open sites need {use[k]:,.6g} of {self.side.q_names[k]} but at most "
                f"{self.q_hi[k]:,.6g} is allowed"
            )

    # -- greedy state
    def start(self, open_year: np.ndarray) -> None:
        o = open_year
        self.use = self.usage(o)
        blocked = np.zeros(len(o), np.int64)
        for j in np.flatnonzero(o >= 0).tolist():
            blocked[self.neighbours(j)] += 1
        self.blocked = blocked
        self.n_new = int(np.count_nonzero(o >= 1))

    def open(self, j: int) -> None:
        r, v = self.rows(j)
        np.add.at(self.use, r, v)
        self.blocked[self.neighbours(j)] += 1
        self.n_new += 1

    def final_ok(self, j: int) -> bool:
        """May ``j`` open on top of the current open set (spacing, quota maximums, total)?"""
        if self.blocked[j] or self.n_new >= self.max_new:
            return False
        r, v = self.rows(j)
        return not len(r) or bool(np.all(self.use[r] + v <= self.q_hi[r] + self.q_tol[r]))

    def deficit(self) -> np.ndarray:
        return np.maximum(self.q_lo - self.use, 0.0) * (self.q_lo > self.q_tol)

    def helps(self, j: int, deficit: np.ndarray) -> bool:
        r, _ = self.rows(j)
        return bool(len(r)) and bool(np.any(deficit[r] > self.q_tol[r]))

    def stores_needed(self, deficit: np.ndarray) -> int:
        """Stores the unmet count minimums still need (summed over rows: a safe reserve)."""
        if not len(deficit):
            return 0
        return int(np.ceil(deficit[self.count_row].sum() - 1e-9))


def _construct(
    oracle,
    spec,
    opening_cost,
    fixed_cost,
    counter,
    is_exist,
    is_must,
    is_forb,
    must_year,
    limits: _Limits,
    lazy,
    rule,
    *,
    margin: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Year-by-year greedy (see :func:`schedule`); ``rule`` ``"gain"`` ranks candidates by
    marginal value, ``"ratio"`` by marginal value per unit of opening cost."""
    n, Y = len(opening_cost), spec.years
    hi, lo = limits.hi, limits.lo
    blim, cumulative = limits.blim, limits.cumulative
    cost_key = np.maximum(opening_cost, 1e-9 * max(1.0, float(opening_cost.max(initial=0.0))))

    def key(g: np.ndarray, j: np.ndarray) -> np.ndarray:
        return g / cost_key[j] if rule == "ratio" else g

    ctx = _GreedyContext(oracle, spec, opening_cost, fixed_cost, counter=counter, margin=margin)
    batch = 16 if hasattr(oracle, "gains") else 1
    open_year = np.full(n, NEVER, np.int64)
    open_year[is_exist] = 0
    last_gain = np.full(n, -np.inf)
    spent_before = 0.0
    for y in range(1, Y + 1):
        musts = np.flatnonzero(is_must & (must_year == y))
        if len(musts) > hi[y - 1]:
            raise InfeasibleError(
                f"rollout.stores_per_year: year {y} allows {hi[y - 1]} new stores but {len(musts)} "
                "sites must open that year"
            )
        spent = float(opening_cost[musts].sum())
        avail = float(blim[y - 1]) - (spent_before if cumulative else 0.0)
        tol = 1e-9 * max(1.0, avail if np.isfinite(avail) else 1.0)
        if spent > avail + tol:
            raise InfeasibleError(
                f"rollout.budget_per_year: year {y} budget {avail:,.0f}"
                f"{' (carry-over included)' if cumulative else ''} is below the "
                f"{spent:,.0f} opening cost of its must-open sites"
            )
        open_year[musts] = y
        count = len(musts)
        limits.start(open_year)
        free = np.flatnonzero((open_year == NEVER) & ~is_forb & ~is_must)
        free = free[limits.blocked[free] == 0]
        ctx.start(y, open_year)
        if count >= hi[y - 1] or limits.n_new >= limits.max_new:
            free = free[:0]
        gains = ctx.gain(free) if len(free) else np.zeros(0)
        if y == 1:
            last_gain[free] = gains
        heap = [(-float(kv), int(j)) for kv, j in zip(key(gains, free), free, strict=True)]
        heapq.heapify(heap)
        fresh = {int(j) for j in free}  # evaluated on the current state
        # the cheapest site left: a store that leaves too little budget for the year's
        # remaining minimum at this price would make the minimum unreachable
        cheapest = float(opening_cost[free].min()) if len(free) else 0.0
        # slots left for the quota minimums: this year's and the later years'
        later = int(np.minimum(hi[y:], 2**40).sum())
        deficit = limits.deficit()
        need = limits.stores_needed(deficit)
        while heap and count < hi[y - 1] and limits.n_new < limits.max_new:
            neg, j = heap[0]
            if not limits.final_ok(j):
                heapq.heappop(heap)  # spacing or a quota maximum: never again
                continue
            if opening_cost[j] > avail - spent + tol:
                heapq.heappop(heap)  # does not fit this year's remaining budget
                continue
            short = int(lo[y - 1]) - count - 1
            if short > 0 and opening_cost[j] + short * cheapest > avail - spent + tol:
                heapq.heappop(heap)  # leaves too little budget for the year's minimum
                continue
            slots = min(hi[y - 1] - count + later, limits.max_new - limits.n_new)
            forced = deficit.any() and (need >= slots or (y == Y and -neg <= 0))
            if forced and not limits.helps(j, deficit):
                heapq.heappop(heap)  # the slots left are needed for a quota minimum
                continue
            if j not in fresh:
                if lazy:
                    # re-evaluate the stale top (a batch of the best stale entries when the
                    # oracle is vectorised: exact values, so CELF's choice is unchanged)
                    top = [heapq.heappop(heap) for _ in range(min(batch, len(heap)))]
                    stale = np.array([k for _, k in top if k not in fresh], np.int64)
                    g = key(ctx.gain(stale), stale)
                    for kv, k in zip(g, stale, strict=True):
                        heapq.heappush(heap, (-float(kv), int(k)))
                    stale_set = set(stale.tolist())
                    fresh.update(stale_set)
                    for item in top:
                        if item[1] not in stale_set:
                            heapq.heappush(heap, item)
                else:
                    rest = np.array([k for _, k in heap], np.int64)
                    g = key(ctx.gain(rest), rest)
                    heap = [(-float(kv), int(k)) for kv, k in zip(g, rest, strict=True)]
                    heapq.heapify(heap)
                    fresh = {int(k) for k in rest}
                continue
            if -neg <= 0 and count >= lo[y - 1] and not forced:
                break
            heapq.heappop(heap)
            open_year[j] = y
            spent += float(opening_cost[j])
            count += 1
            last_gain[j] = max(last_gain[j], -neg * (cost_key[j] if rule == "ratio" else 1.0))
            limits.open(j)
            deficit = limits.deficit()
            need = limits.stores_needed(deficit)
            ctx.start(y, open_year)
            fresh = set()
        if count < lo[y - 1]:
            raise InfeasibleError(
                f"rollout.min_stores_per_year: year {y} needs {lo[y - 1]} new stores but only {count} "
                f"fit the remaining sites, the limits and the budget {avail:,.0f}"
            )
        spent_before += spent
    deficit = limits.deficit()
    if deficit.any():
        k = int(np.argmax(deficit > 0))
        raise InfeasibleError(
            f"rollout: {limits.side.q_names[k]} needs at least {limits.q_lo[k]:,.6g} but the yearly "
            f"limits let the schedule reach only {limits.use[k]:,.6g}"
        )
    return open_year, last_gain


class _GreedyContext:
    """State of the year-by-year greedy: open stores and their weights seen from year ``y``."""

    def __init__(self, oracle, spec, opening_cost, fixed_cost, counter, margin: np.ndarray) -> None:
        self.oracle, self.spec, self.counter = oracle, spec, counter
        self.H = spec.horizon
        self.disc = spec.discount(self.H) if spec.objective == "npv" else np.ones(self.H)
        self.vw = spec.value_weights(self.H)
        self.opening_cost, self.fixed_cost = opening_cost, fixed_cost
        self.margin = margin
        # with one margin everywhere the weights are computed as before (same rounding)
        self.uniform = bool(np.all(margin == spec.gross_margin))

    def weights(self, y: int, o: np.ndarray) -> np.ndarray:
        """``sum_{t>=y} w_t rho(t)`` for stores opened in years ``o`` (the margin not applied)."""
        o = np.asarray(o, np.int64)
        years, inv = np.unique(o, return_inverse=True)  # the weight depends on the year only
        rho = ramp_matrix(years, self.spec, self.H)
        return (rho[:, y - 1 :] @ self.vw[y - 1 :])[inv.reshape(-1)]

    def start(self, y: int, open_year: np.ndarray) -> None:
        self.y = y
        self.open = np.flatnonzero(open_year >= 0)
        w = self.weights(y, open_year[self.open])
        w_new = float(self.weights(y, np.array([y]))[0])
        if self.uniform:
            m = self.spec.gross_margin
            self.w = m * w
            self.w_new = m * w_new
        else:
            self.w = self.margin[self.open] * w  # m_k sum_{t>=y} w_t rho_k(t)
            self.w_new = w_new

    def gain(self, cand: np.ndarray) -> np.ndarray:
        """Marginal value of opening each of ``cand`` in year ``y`` (currency)."""
        own, delta = _gains(self.oracle, self.open, self.w, cand, self.counter)
        y = self.y
        cost = self.fixed_cost[cand] * self.vw[y - 1 :].sum() + self.opening_cost[cand] * self.disc[y - 1]
        w_new = self.w_new if self.uniform else self.margin[cand] * self.w_new
        return w_new * own + delta - cost


def _unopened_reasons(
    oracle, spec, opening_cost, fixed_cost, open_year, sites, limits, counter, margin: np.ndarray
) -> dict:
    """Why each of ``sites`` (unopened) is not in the schedule, by id: a spacing or
    one-format conflict with an opened store, a quota at its maximum, the total store
    limit, or its marginal NPV if it were added in the last year (one ``gains`` call)."""
    out: dict[str, str] = {}
    if not len(sites):
        return out
    Y = spec.years
    limits.start(open_year)
    ctx = _GreedyContext(oracle, spec, opening_cost, fixed_cost, counter=counter, margin=margin)
    ctx.start(Y, open_year)
    gain = ctx.gain(np.asarray(sites, np.int64))
    ids = limits.ids
    for j, g in zip(np.asarray(sites).tolist(), gain.tolist(), strict=True):
        nb = limits.neighbours(j)
        nb = nb[open_year[nb] >= 0]
        r, v = limits.rows(j)
        full = r[limits.use[r] + v > limits.q_hi[r] + limits.q_tol[r]] if len(r) else r
        if len(nb):
            out[str(ids[j])] = (
                f"conflicts with store {ids[int(nb[0])]} opened in year {int(open_year[nb[0]])} "
                "(minimum spacing / one format per site)"
            )
        elif len(full):
            out[str(ids[j])] = f"{limits.side.q_names[int(full[0])]} is at its maximum"
        elif limits.n_new >= limits.max_new:
            out[str(ids[j])] = (
                f"the {limits.max_new:,} new stores allowed in total went to sites with a higher NPV "
                f"(marginal NPV {g:,.0f} if added in year {Y})"
            )
        elif g <= 0:
            out[str(ids[j])] = f"opening it would lower the NPV (marginal NPV {g:,.0f} if added in year {Y})"
        else:
            out[str(ids[j])] = (
                "the yearly store caps and budgets are used by sites with a higher NPV "
                f"(marginal NPV {g:,.0f} if added in year {Y})"
            )
    return out


def _bound(
    oracle,
    spec,
    opening_cost,
    fixed_cost,
    is_exist,
    is_forb,
    is_must,
    must_year,
    limits: _Limits,
    npv0,
    counter,
    *,
    margin: np.ndarray,
) -> tuple[float, str]:
    """Upper bound on the NPV (see :func:`schedule`) and how it was obtained; NaN unless
    the objective is the NPV."""
    if spec.objective != "npv":
        return float("nan"), ""
    base = np.flatnonzero(is_exist)
    blocked = np.zeros(len(opening_cost), bool)
    for j in base.tolist():
        blocked[limits.neighbours(j)] = True
    cand = np.flatnonzero(~is_exist & ~is_forb & (~blocked | is_must))
    if len(cand) == 0:
        return npv0, "no candidates"
    g, ramped = single_store_values(
        oracle, spec, opening_cost, fixed_cost, base, cand, margin=margin, counter=counter
    )
    best = g.max(axis=1)
    pos = np.sort(best[best > 0])[::-1]
    k = int(min(np.minimum(limits.hi, len(cand)).sum(), len(pos), limits.max_new))
    budgets = spec.budgets()
    if np.isfinite(budgets).all():
        cheap = np.sort(opening_cost[cand])
        fit = int(np.searchsorted(np.cumsum(cheap), budgets.sum() * (1 + 1e-12), side="right"))
        k = min(k, fit)
    simple = float(npv0 + pos[:k].sum())
    try:
        lp = _lp_bound(g, cand, opening_cost, is_must, must_year, limits)
        # the same programme in integers: the LP gains by splitting stores over years
        # when the yearly budgets bind; HiGHS's dual bound is valid when it stops early
        ip = _lp_bound(g, cand, opening_cost, is_must, must_year, limits, integer_seconds=BOUND_MIP_SECONDS)
        solved = [v for v in (lp, ip) if v is not None]
        lp = min(solved) if solved else None
    except Exception:  # noqa: BLE001 - the simple bound stays valid
        lp = None
    how = " (ramp-up priced)" if ramped else ""
    if lp is None or not npv0 + lp < simple:
        return simple, "largest single-store gains" + how
    return float(npv0 + lp), "integer programme over (site, year) single-store gains" + how


def single_store_values(
    oracle: Callable[[np.ndarray], np.ndarray],
    spec: RolloutSpec,
    opening_cost: np.ndarray,
    fixed_cost: np.ndarray,
    existing: np.ndarray,
    candidates: np.ndarray,
    *,
    margin: np.ndarray,
    counter: list[int] | None = None,
) -> tuple[np.ndarray, bool]:
    """Each candidate's NPV if it were our only new store, per opening year: an upper
    bound on what it adds to *any* schedule opened in that year.

    ``g[c, y]`` is the discounted cash (margin on its own sales plus the margin-priced
    change of the existing stores' sales, ramp-weighted) minus its fixed and opening
    costs, of candidate ``c`` opened in year ``y + 1`` next to the existing stores only.
    Under a Huff market a store's sales only fall as other stores open, so the NPV of a
    schedule is at most the existing stores' NPV plus the sum of ``g`` over its
    (site, year) openings (the bound of :func:`schedule`). A store at ramp factor
    ``rho`` is valued as a store of ``rho`` times its attractiveness when the oracle
    :attr:`~storeplan.market.oracles.HuffOracle.scales_attractiveness` (few ramp
    levels), else at full ramp times ``rho``'s upper bound 1. The cannibalised revenue is
    priced at the lowest margin of any store that may be open.

    Parameters
    ----------
    oracle : callable
        The schedule's revenue oracle (with ``gains``).
    spec : RolloutSpec
        With ``objective = "npv"``.
    opening_cost, fixed_cost : ndarray of float64, shape (n_sites,)
        Currency once, currency per year.
    existing : ndarray of int64
        Indices of the existing stores.
    candidates : ndarray of int64
        Indices of the candidates to value.
    margin : ndarray of float64, shape (n_sites,)
        Share of each site's sales that is cash to the brand.
    counter : list of int, optional
        ``counter[0]`` counts the oracle calls.

    Returns
    -------
    g : ndarray of float64, shape (len(candidates), years)
        Currency (of the oracle and costs).
    ramped : bool
        Whether the ramp-up was priced by scaled attractiveness.
    """
    counter = [0] if counter is None else counter
    H, Y = spec.horizon, spec.years
    disc = spec.discount(H)
    vw = spec.value_weights(H)
    base = np.asarray(existing, np.int64)
    cand = np.asarray(candidates, np.int64)
    is_exist = np.zeros(len(margin), bool)
    is_exist[base] = True
    # per-site margins: the cannibalised revenue is priced at the lowest margin of any
    # store that may be open (see schedule's notes); one margin: exactly as before
    m_c = margin[cand]
    m_lo = float(margin[is_exist | np.isin(np.arange(len(margin)), cand)].min())
    uniform = bool(np.all(margin == spec.gross_margin))

    def cash(own: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Margin on the sales a single store adds (its own, the existing stores' change)."""
        if uniform:
            return np.maximum(own + delta, 0.0)
        return m_lo * np.maximum(own + delta, 0.0) + (m_c - m_lo) * own

    # single-store gain next to the existing stores, their lost revenue included
    tail = np.array([vw[y - 1 :].sum() for y in range(1, Y + 1)])
    rho = ramp_matrix(np.arange(1, Y + 1), spec, H)  # (opening year, year): ramp factor
    levels = np.unique(rho[(rho > 0) & (rho < 1)])
    ramped = bool(getattr(oracle, "scales_attractiveness", False)) and 0 < len(levels) <= 24
    if ramped:
        # a store at ramp factor rho earns at most what it would as a store of rho times
        # its attractiveness (see schedule's notes): one gains call per ramp level
        value = {1.0: _gains(oracle, base, np.ones(len(base)), cand, counter)}
        for lv in levels.tolist():
            value[lv] = _gains(oracle, base, np.ones(len(base)), cand, counter, scale=lv)
        total_at = {lv: cash(o, d) for lv, (o, d) in value.items()}
        rev = np.zeros((len(cand), Y))  # discounted revenue of opening c in year y
        for y in range(Y):
            for t in range(H):
                r = float(rho[y, t])
                if r > 0:
                    rev[:, y] += vw[t] * total_at[r if r < 1 else 1.0]
    else:
        own, delta = _gains(oracle, base, np.ones(len(base)), cand, counter)
        total = cash(own, delta)  # own revenue + the change of the existing stores' revenue
        rev = total[:, None] * tail[None, :]
    g = (
        (spec.gross_margin * rev if uniform else rev)
        - fixed_cost[cand][:, None] * tail[None, :]
        - opening_cost[cand][:, None] * disc[:Y][None, :]
    )
    return g, ramped


#: Seconds HiGHS may spend on the integer programme of the bound (:func:`_bound`); its
#: dual bound after that time is used when below the LP's (both are valid). HiGHS stops
#: at the optimum, so the limit costs time only where it binds. It is wall-clock time:
#: the demo's programme is solved in about 6 s on an idle machine but took over 20 s
#: on a loaded one, where the dual bound at 20 s was still the LP's (gap 3.23 % instead
#: of 1.04 %); 60 s leaves room for that.
BOUND_MIP_SECONDS = 60.0


def _lp_bound(
    g, cand, opening_cost, is_must, must_year, limits: _Limits, integer_seconds: float = 0.0
) -> float | None:
    """LP relaxation over ``x[c, y]`` (see :func:`schedule`); None when not solved. With
    ``integer_seconds > 0`` the ``x`` are binary and HiGHS's dual bound after at most that
    many seconds is returned (at most the LP's, still an upper bound)."""
    from ..solvers.builder import MipBuilder

    Y = g.shape[1]
    must = is_must[cand]
    keep = must | (g.max(axis=1) > 0)
    cand, g, must = cand[keep], g[keep], must[keep]
    m = len(cand)
    if m == 0:
        return 0.0
    b = MipBuilder()
    lo = np.zeros((m, Y))
    hi = np.ones((m, Y))
    mi = np.flatnonzero(must)
    hi[mi, :] = 0.0
    hi[mi, must_year[cand[mi]] - 1] = 1.0
    lo[mi, must_year[cand[mi]] - 1] = 1.0
    hi[~must] = np.where(g[~must] > 0, 1.0, 0.0)
    integer = integer_seconds > 0
    col = b.add_columns(
        g.reshape(-1), lo.reshape(-1), hi.reshape(-1), integer=integer
    )  # x[c, y] at c * Y + y
    cy = col.reshape(m, Y)
    rows_c = np.repeat(np.arange(m), Y)
    b.add_rows(rows_c, cy.reshape(-1), np.ones(m * Y), -np.inf, 1.0, m)  # one year per site
    yr = np.tile(np.arange(Y), m)
    cap = np.where(limits.hi >= 2**40, np.inf, limits.hi).astype(np.float64)
    b.add_rows(yr, cy.reshape(-1), np.ones(m * Y), -np.inf, cap, Y)
    cost = np.repeat(opening_cost[cand], Y)
    if np.isfinite(limits.blim).any():
        if limits.cumulative:  # spend to year t <= budgets to year t
            r = np.concatenate([np.full(m * (t + 1), t) for t in range(Y)])
            cc = np.concatenate([cy[:, : t + 1].reshape(-1) for t in range(Y)])
            vv = np.concatenate([np.repeat(opening_cost[cand], t + 1) for t in range(Y)])
            b.add_rows(r, cc, vv, -np.inf, limits.blim, Y)
        else:
            b.add_rows(yr, cy.reshape(-1), cost, -np.inf, limits.blim, Y)
    if limits.max_new < 2**40:
        b.add_rows(
            np.zeros(m * Y, np.int64), cy.reshape(-1), np.ones(m * Y), -np.inf, float(limits.max_new), 1
        )
    side = limits.side
    pos = np.full(len(is_must), -1, np.int64)
    pos[cand] = np.arange(m)
    if side.has_quotas:
        qm = side.quota_matrix().tocsc()[:, cand].tocoo()
        fin = np.isfinite(side.q_hi)
        sel = fin[qm.row]
        if sel.any():
            rr, cc, vv = qm.row[sel], qm.col[sel], qm.data[sel]
            ren = np.full(len(fin), -1, np.int64)
            ren[np.flatnonzero(fin)] = np.arange(int(fin.sum()))
            b.add_rows(
                np.repeat(ren[rr], Y),
                cy[cc].reshape(-1),
                np.repeat(vv, Y),
                -np.inf,
                side.q_hi[fin],
                int(fin.sum()),
            )
    if side.has_conflicts:
        pr = side.conflicts
        pa, pb = pos[pr[:, 0]], pos[pr[:, 1]]
        both = (pa >= 0) & (pb >= 0)
        pa, pb = pa[both], pb[both]
        k = len(pa)
        if k:
            rr = np.repeat(np.arange(k), 2 * Y)
            cc = np.concatenate([cy[pa], cy[pb]], axis=1).reshape(-1)
            b.add_rows(rr, cc, np.ones(2 * Y * k), -np.inf, 1.0, k)
    if integer:
        status, x, obj, dual, _ = b.solve(maximise=True, time_limit=integer_seconds)
        if status == "infeasible" or not np.isfinite(dual):
            return None
        return float(dual) + 1e-7 * max(1.0, abs(float(dual)))
    status, x, obj, _, _ = b.solve(maximise=True, time_limit=30.0)
    if status != "optimal" or x is None:
        return None
    return float(obj) + 1e-7 * max(1.0, abs(float(obj)))


def _improve(
    oracle,
    open_year,
    best,
    spec,
    opening_cost,
    fixed_cost,
    fixed_mask,
    is_forb,
    last_gain,
    limits: _Limits,
    seed,
    counter,
    deadline,
    n_evals,
    *,
    margin: np.ndarray,
) -> tuple[np.ndarray, float]:
    """First-improvement interchange on the exact schedule value (see :func:`schedule`)."""
    budget_left = [n_evals]
    rng = np.random.default_rng(seed)
    Y = spec.years
    o = open_year.copy()
    use = limits.usage(o)
    discount = spec.objective == "npv"

    def value(x: np.ndarray) -> float:
        ev = evaluate(oracle, x, spec, opening_cost, fixed_cost, discount=discount, margin=margin)
        counter[0] += int(ev["calls"])
        budget_left[0] -= 1
        return float(ev["value"])

    movable = ~fixed_mask & ~is_forb
    improved = True
    while improved and time.perf_counter() < deadline and budget_left[0] > 0:
        improved = False
        opened = np.flatnonzero(movable & (o >= 1))
        closed = np.flatnonzero(movable & (o == NEVER))
        closed = closed[np.argsort(-last_gain[closed], kind="stable")][:20]  # most promising
        moves: list[tuple[int, int, int, int]] = []  # (site, new year, other site, its new year)
        for j in opened.tolist():
            oj = int(o[j])
            for y in range(1, oj):
                moves.append((j, y, -1, 0))
            later = opened[o[opened] > oj]
            if len(later) > 12:  # a sample of partners keeps a pass O(n)
                later = rng.choice(later, 12, replace=False)
            for k in later.tolist():
                moves.append((j, int(o[k]), k, oj))
            for c in closed.tolist():
                moves.append((j, NEVER, c, oj))
            moves.append((j, NEVER, -1, 0))
        for c in closed.tolist():
            for y in range(1, Y + 1):
                moves.append((c, y, -1, 0))
        rng.shuffle(moves)
        for j, yj, k, yk in moves:
            if time.perf_counter() >= deadline or budget_left[0] <= 0:
                break
            x = o.copy()
            x[j] = yj
            if k >= 0:
                x[k] = yk
            if not limits.yearly_ok(x):
                continue
            # the open set changes when a closed site opens or an open one closes
            added = j if o[j] == NEVER and yj != NEVER else (k if k >= 0 and o[k] == NEVER else -1)
            removed = j if yj == NEVER and o[j] != NEVER else -1
            if (added >= 0 or removed >= 0) and not limits.swap_ok(o, use, added, removed):
                continue
            v = value(x)
            if v > best + 1e-9 * max(1.0, abs(best)):
                o, best, improved = x, v, True
                use = limits.usage(o)
                break
    return o, best
