"""Revenue and cash-flow forecast of a rollout, against the sales target.

:func:`forecast` turns a :class:`storeplan.rollout.Schedule` and its value oracle into
per-store and per-year tables: sales (with ramp-up and cannibalisation), opening costs,
fixed costs, cash flow, cumulative cash flow, payback year and NPV.

Conventions (the same as :mod:`storeplan.rollout`): stores open on the first day of their
opening year; every cash flow of year ``t`` is counted at the end of year ``t`` and
discounted by ``(1 + r) ** -t`` (end-of-year convention); cash flow = ``gross_margin x
sales - fixed cost - opening cost``; no terminal value after the horizon unless
``terminal_value`` (then NPV includes it, see :meth:`RolloutSpec.terminal_factor`). Sales targets
count the sales of all our stores (existing and new), currency per year.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..metrics import RolloutSummary
from .cashflow import evaluate, ramp_factor
from .plans import rollout_plan
from .schedule import Schedule
from .schedule import schedule as run_schedule
from .spec import RolloutSpec

if TYPE_CHECKING:  # annotations only: the plan and the scenario sit above the rollout
    from ..plan import Plan
    from ..scenario import Scenario

__all__ = ["Forecast", "forecast", "forecast_plan", "extra_stores_needed", "stores_to_meet_target"]


@dataclass(frozen=True)
class Forecast:
    """A rollout forecast.

    Attributes
    ----------
    per_store_year : DataFrame
        One row per open store and year ``1..horizon``: ``id, year, label, status
        (existing/new), open_year, age_years, ramp, full_revenue, revenue, opening_cost,
        fixed_cost, cash_flow, cumulative_cash_flow, discounted_cash_flow`` (+ ``region``);
        currency (per year where it is a flow).
    per_year : DataFrame
        One row per year ``1..horizon``: ``year, label, in_rollout, stores_open,
        stores_opened, revenue, revenue_new, revenue_existing, target, target_met,
        shortfall, extra_stores, capex, budget, fixed_cost, cash_flow, cumulative_cash_flow,
        cash_flow_new, cumulative_cash_flow_new, discount_factor, discounted_cash_flow``.
    npv : float
        NPV of all store cash flows over the horizon, currency.
    npv_new : float
        NPV added by the rollout (``npv`` minus the existing stores alone), currency.
    payback_year : int or None
        First year from which the cumulative cash flow of the new stores (undiscounted)
        stays >= 0; None if not within the horizon (or no new store).
    total_revenue : float
        Sales over the rollout years, currency.
    final_revenue : float
        Sales in the last rollout year, currency per year.
    target_met : bool or None
        Every year with a target met; None without targets.
    shortfall : float
        Largest yearly shortfall against the target, currency per year (0 when met).
    extra_stores : int
        Most extra stores any year needs to close its shortfall (0 when met), opened at
        the start of that year (of the last rollout year for later years); see
        :func:`extra_stores_needed`.
    discount_rate : float
    horizon : int
        Years.
    notes : tuple of str
    schedule : Schedule or None
        The schedule forecast.
    """

    per_store_year: pd.DataFrame
    per_year: pd.DataFrame
    npv: float
    npv_new: float
    payback_year: int | None
    total_revenue: float
    final_revenue: float
    target_met: bool | None
    shortfall: float
    extra_stores: int
    discount_rate: float
    horizon: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    schedule: Schedule | None = field(default=None, repr=False, compare=False)

    def headline(self) -> dict[str, Any]:
        """Headline numbers as a plain dict (JSON-friendly)."""
        return {
            "npv": self.npv,
            "npv_new": self.npv_new,
            "payback_year": self.payback_year,
            "total_revenue": self.total_revenue,
            "final_revenue": self.final_revenue,
            "target_met": self.target_met,
            "shortfall": self.shortfall,
            "extra_stores": self.extra_stores,
            "discount_rate": self.discount_rate,
            "horizon": self.horizon,
        }

    def rollout_years(self) -> pd.DataFrame:
        """``per_year`` restricted to the rollout years."""
        return self.per_year[self.per_year["in_rollout"]].reset_index(drop=True)


def extra_stores_needed(
    shortfall: float,
    marginal_revenue: float,
    ramp_months: float,
    ramp_shape: str = "linear",
    age_years: int = 0,
) -> int:
    """Extra stores to close a sales shortfall in a year.

    The extra stores open ``age_years`` before the start of that year (0: at its start).
    ``ceil(shortfall / (marginal_revenue x ramp factor of that year))``, with
    ``marginal_revenue`` the average full-ramp sales of the marginal stores (currency per
    year). It ignores the cannibalisation the extra stores would cause among themselves, so
    it is a lower estimate; re-run :func:`storeplan.rollout.schedule` with higher limits
    for an exact answer. Returns 0 when ``shortfall <= 0`` and -1 when no store earns
    anything in its first year.
    """
    if shortfall <= 0:
        return 0
    first = float(ramp_factor(12.0 * age_years, ramp_months, ramp_shape))
    per_store = marginal_revenue * first
    if not per_store > 0:
        return -1
    return int(math.ceil(shortfall / per_store - 1e-9))


def forecast(
    schedule: Schedule,
    oracle: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    marginal_share: float = 0.25,
) -> Forecast:
    """Forecast sales, costs and cash flow of a rollout schedule.

    Parameters
    ----------
    schedule : Schedule
        From :func:`storeplan.rollout.schedule` (carries the spec and the costs).
    oracle : callable, optional
        The value oracle (``oracle(open_idx) -> revenue``, currency per year at full
        ramp); default: the one the schedule was made with.
    marginal_share : float
        Share (0..1] of a year's new stores, the lowest-selling ones, whose average
        full-ramp sales values an extra store (for ``extra_stores``).

    Returns
    -------
    Forecast

    Notes
    -----
    Uses ``horizon`` oracle calls at most (years after the rollout reuse the last set).
    """
    spec = schedule.spec
    H, Y = spec.horizon, spec.years
    oracle = schedule.oracle if oracle is None else oracle
    if oracle is None:
        raise InputError("forecast: the schedule carries no oracle; pass one")
    o = schedule.open_year
    ev = evaluate(oracle, o, spec, schedule.opening_cost, schedule.fixed_cost, margin=schedule.margin)
    disc = ev["discount"]
    labels = spec.year_labels(H)
    years = np.arange(1, H + 1)
    is_open = (o[:, None] >= 0) & (o[:, None] <= years[None, :])
    j_idx, t_idx = np.nonzero(is_open)
    new = o >= 1
    cash = ev["cash"]
    cum_store = np.cumsum(cash, axis=1)
    psy = pd.DataFrame(
        {
            "id": schedule.ids[j_idx],
            "year": years[t_idx],
            "label": labels[t_idx],
            "status": np.where(new[j_idx], "new", "existing"),
            "open_year": o[j_idx],
            "age_years": years[t_idx] - o[j_idx],
            "ramp": ev["ramp"][j_idx, t_idx],
            "full_revenue": ev["full_revenue"][j_idx, t_idx],
            "revenue": ev["revenue"][j_idx, t_idx],
            "opening_cost": ev["opening"][j_idx, t_idx],
            "fixed_cost": ev["fixed"][j_idx, t_idx],
            "cash_flow": cash[j_idx, t_idx],
            "cumulative_cash_flow": cum_store[j_idx, t_idx],
            "discounted_cash_flow": cash[j_idx, t_idx] * disc[t_idx],
        }
    )
    if "region" in schedule.extra:
        psy["region"] = np.asarray(schedule.extra["region"], dtype=object)[j_idx]
    psy = psy.sort_values(["year", "open_year", "id"], kind="stable").reset_index(drop=True)

    revenue = ev["revenue"].sum(axis=0)
    revenue_new = ev["revenue"][new].sum(axis=0)
    cash_year = cash.sum(axis=0)
    cash_new = cash[new].sum(axis=0)
    cum_new = np.cumsum(cash_new)
    targets = spec.targets(H)
    has_target = ~np.isnan(targets)
    shortfall = np.where(has_target, np.maximum(targets - revenue, 0.0), np.nan)
    budgets = np.full(H, np.nan)
    budgets[:Y] = spec.budgets()
    opened = np.bincount(o[new], minlength=H + 1)[1 : H + 1]
    extra = np.zeros(H, np.int64)
    for t in np.flatnonzero(has_target & (shortfall > 0)).tolist():
        # extra stores open at the start of year t, or of the last rollout year for later years
        age = (t + 1) - min(t + 1, Y)
        extra[t] = extra_stores_needed(
            float(shortfall[t]),
            _marginal_revenue(ev, o, t + 1, marginal_share),
            spec.ramp_months,
            spec.ramp_shape,
            age_years=age,
        )
    per_year = pd.DataFrame(
        {
            "year": years,
            "label": labels,
            "in_rollout": years <= Y,
            "stores_open": is_open.sum(axis=0),
            "stores_opened": opened,
            "revenue": revenue,
            "revenue_new": revenue_new,
            "revenue_existing": revenue - revenue_new,
            "target": targets,
            "target_met": pd.array(
                [
                    bool(r >= tg - 1e-6 * max(1.0, tg)) if h else pd.NA
                    for r, tg, h in zip(revenue, targets, has_target, strict=True)
                ],
                dtype="boolean",
            ),
            "shortfall": shortfall,
            "extra_stores": extra,
            "capex": ev["opening"].sum(axis=0),
            "budget": budgets,
            "fixed_cost": ev["fixed"].sum(axis=0),
            "cash_flow": cash_year,
            "cumulative_cash_flow": np.cumsum(cash_year),
            "cash_flow_new": cash_new,
            "cumulative_cash_flow_new": cum_new,
            "discount_factor": disc,
            "discounted_cash_flow": cash_year * disc,
        }
    )
    npv = float(cash_year @ disc) + float(ev["terminal"])
    base = np.where(o == 0, 0, -1)
    ev0 = evaluate(oracle, base, spec, schedule.opening_cost, schedule.fixed_cost, margin=schedule.margin)
    npv0 = float(ev0["value"])
    payback = None
    if new.any():
        # payback: first year from which the cumulative cash of the new stores stays >= 0
        neg = np.flatnonzero(cum_new < -1e-9)
        first = int(neg[-1]) + 1 if len(neg) else 0
        payback = int(years[first]) if first < H else None
    tmet = None
    if has_target.any():
        tmet = bool(
            np.all(revenue[has_target] >= targets[has_target] - 1e-6 * np.maximum(1.0, targets[has_target]))
        )
    short = float(np.nanmax(shortfall)) if has_target.any() else 0.0
    terminal = (
        f"a terminal value of {float(ev['terminal']):,.0f} (present value: year-{H} cash flow before "
        f"opening costs as a perpetuity growing {spec.terminal_growth:.1%} per year) is included"
        if spec.terminal_factor() > 0
        else f"no terminal value after year {H}"
    )
    notes: tuple[str, ...] = (
        "Stores open on the first day of their opening year; cash flows are discounted at the "
        f"end of each year at {spec.discount_rate:.1%} per year; {terminal}.",
        _cash_note(spec, schedule.margins()[o >= 0]),
        f"Ramp-up: {spec.ramp_shape.replace('_', '-')} over {spec.ramp_months:g} months.",
        "Extra stores to meet a missed target: shortfall / (average sales of the lowest-selling "
        f"{marginal_share:.0%} of new stores x first-year ramp); a lower estimate "
        "(storeplan.forecast.stores_to_meet_target re-runs the schedule instead).",
    )
    left = int(np.sum(o == -1))
    if extra.max(initial=0) > left:
        notes += (
            f"The extra stores needed ({int(extra.max()):,}) exceed the {left:,} sites not opened: "
            "the target needs more candidate sites (a larger plan) or stronger stores.",
        )
    return Forecast(
        per_store_year=psy,
        per_year=per_year,
        npv=npv,
        npv_new=npv - npv0,
        payback_year=payback,
        total_revenue=float(revenue[:Y].sum()),
        final_revenue=float(revenue[Y - 1]),
        target_met=tmet,
        shortfall=max(short, 0.0),
        extra_stores=int(extra.max()) if H else 0,
        discount_rate=spec.discount_rate,
        horizon=H,
        notes=notes,
        schedule=schedule,
    )


def forecast_plan(
    plan: Plan, spec: RolloutSpec, *, scenario: Scenario | None = None, **kwargs: Any
) -> Forecast:
    """Schedule a plan's stores (:func:`storeplan.rollout.rollout_plan`) and forecast them.

    With ``scenario`` the Huff market model values the stores (cannibalisation, rivals);
    without, the plan's captured demand x ``spec.spend_per_person``. ``kwargs`` go to
    :func:`storeplan.rollout.rollout_plan`. The schedule is ``result.schedule``.
    """
    return forecast(rollout_plan(plan, spec, scenario=scenario, **kwargs))


def _marginal_revenue(ev: dict, o: np.ndarray, year: int, share: float) -> float:
    """Average full-ramp sales (currency per year) of the lowest-selling ``share`` of the
    new stores open in ``year`` (those opened that year, else all new stores open)."""
    full = ev["full_revenue"][:, year - 1]
    pick = np.flatnonzero(o == year)
    if len(pick) == 0:
        pick = np.flatnonzero((o >= 1) & (o <= year))
    if len(pick) == 0:
        pick = np.flatnonzero((o >= 0) & (o <= year))
    if len(pick) == 0:
        return 0.0
    vals = np.sort(full[pick])
    k = max(1, int(math.ceil(share * len(vals))))
    return float(vals[:k].mean())


def stores_to_meet_target(
    schedule: Schedule,
    year: int | None = None,
    *,
    oracle: Callable[[np.ndarray], np.ndarray] | None = None,
    max_extra: int | None = None,
) -> int | None:
    """Extra stores to open in a rollout year for its sales target, by re-running the schedule.

    The schedule is re-run (same sites, costs and limits) with the year's store limit and
    minimum raised to ``opened + e`` and its capital budget lifted, and the smallest ``e``
    whose sales reach the target is found by bisection (sales grow with ``e`` for a
    monotone oracle), each run without the swap improvement. Earlier years stay as the
    greedy chose them (it is deterministic); the extra stores are the best remaining
    sites given the market state, so their cannibalisation is counted, unlike
    :func:`extra_stores_needed`.

    Parameters
    ----------
    schedule : Schedule
    year : int, optional
        Rollout year ``1..years``; default the first rollout year whose target is missed.
    oracle : callable, optional
        Default: the schedule's.
    max_extra : int, optional
        Most extra stores to try (default: every site not yet opened).

    Returns
    -------
    int or None
        0 when the target is already met (or there is none), ``None`` when even
        ``max_extra`` extra stores fall short.
    """
    spec = schedule.spec
    oracle = schedule.oracle if oracle is None else oracle
    targets = spec.targets(spec.horizon)

    def sales(s: Schedule, t: int) -> float:
        ev = evaluate(oracle, s.open_year, spec, s.opening_cost, s.fixed_cost, margin=s.margin)
        return float(ev["revenue"][:, t - 1].sum())

    if year is None:
        missed = [
            t
            for t in range(1, spec.years + 1)
            if np.isfinite(targets[t - 1]) and sales(schedule, t) < targets[t - 1]
        ]
        if not missed:
            return 0
        year = missed[0]
    if not 1 <= year <= spec.years:
        raise InputError(f"year {year} is outside the rollout years 1..{spec.years}")
    goal = targets[year - 1]
    if not np.isfinite(goal) or sales(schedule, year) >= goal:
        return 0
    opened = schedule.opened_per_year()
    free = int(
        np.sum(schedule.open_year == -1)
        - (0 if schedule.forbidden is None else np.sum(schedule.forbidden & (schedule.open_year == -1)))
    )
    hi_extra = free if max_extra is None else min(free, max_extra)
    if hi_extra <= 0:
        return None
    base = spec.model_dump()

    def run(e: int) -> float:
        hi = spec.max_stores().copy()
        lo = spec.min_stores().copy()
        bud = spec.budgets().copy()
        hi[year - 1] = opened[year - 1] + e
        lo[year - 1] = opened[year - 1] + e
        bud[year - 1] = 1e300
        lo = np.minimum(lo, hi)
        s2 = RolloutSpec(
            **{
                **base,
                "stores_per_year": [int(min(v, 2**53)) for v in hi],
                "min_stores_per_year": [int(v) for v in lo],
                "budget_per_year": [float(min(v, 1e300)) for v in bud],
                "improve_evaluations": 0,
            }
        )
        must = schedule.must_year if schedule.must_year is not None else np.zeros(len(schedule.ids), np.int64)
        try:
            new = run_schedule(
                oracle,
                schedule.opening_cost,
                schedule.fixed_cost,
                s2,
                ids=[str(s) for s in schedule.ids],
                existing=schedule.open_year == 0,
                must_open=must > 0,
                must_open_year={int(j): int(must[j]) for j in np.flatnonzero(must > 0)},
                forbidden=schedule.forbidden,
                improve=False,
                margin=schedule.margin,
            )
        except Exception:  # noqa: BLE001 - a later year's minimum may become infeasible
            return -np.inf
        return sales(new, year)

    if run(hi_extra) < goal:
        return None
    lo_e, hi_e = 0, hi_extra  # sales(lo_e) < goal <= sales(hi_e)
    while hi_e - lo_e > 1:
        mid = (lo_e + hi_e) // 2
        if run(mid) >= goal:
            hi_e = mid
        else:
            lo_e = mid
    return hi_e


def _cash_note(spec: RolloutSpec, margins: np.ndarray) -> str:
    """The forecast's note on the cash flow (one margin, or the range of the stores')."""
    if len(margins) == 0 or np.all(margins == spec.gross_margin):
        return f"Cash flow = {spec.gross_margin:.0%} gross margin x sales - fixed costs - opening costs."
    return (
        f"Cash flow = margin x sales - fixed costs - opening costs, the margin by store format "
        f"({float(margins.min()):.0%} to {float(margins.max()):.0%} of sales: own stores keep the gross "
        "margin, partner stores the brand's share)."
    )


def rollout_summary(
    years: int, sched: Schedule, fc: Forecast, *, chose_sites: bool = False
) -> RolloutSummary:
    """The plan's headline of a rollout: ``sched`` and its forecast ``fc`` over ``years``
    (currency and NPV figures as :class:`~storeplan.metrics.RolloutSummary` defines them);
    ``chose_sites``: the schedule chose the plan's stores (the joint rollout)."""
    return RolloutSummary(
        years=years,
        horizon=fc.horizon,
        discount_rate=fc.discount_rate,
        opened_per_year=tuple(int(x) for x in sched.opened_per_year()),
        capex_per_year=tuple(float(x) for x in sched.capex_per_year()),
        npv=fc.npv,
        npv_new=fc.npv_new,
        npv_bound=float(sched.bound),
        npv_gap=float(sched.gap),
        payback_year=fc.payback_year,
        total_revenue=fc.total_revenue,
        final_revenue=fc.final_revenue,
        target_met=fc.target_met,
        shortfall=fc.shortfall,
        extra_stores=fc.extra_stores,
        method=sched.method,
        chose_sites=chose_sites,
    )
