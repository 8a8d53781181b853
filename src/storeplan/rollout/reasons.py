"""Why a planned store is not opened by the rollout: one reason per site, computed once.

A site the plan chose (``status == "new"``) can stay unopened (opening year
:data:`~storeplan.rollout.spec.NEVER`) for a few reasons, all read from the schedule's
public output only (which sites open in which year, their opening costs) and its spec
(yearly caps and budgets), so the reasons hold for any scheduling method:

- ``forbidden``: the scenario forbids the site;
- ``yearly_cap``: in every rollout year the cap on new stores (``stores_per_year``) is
  already reached;
- ``budget``: in every rollout year the site's opening cost exceeds the budget left
  (``budget_per_year`` minus that year's opening costs);
- ``cap_and_budget``: every year is closed to it, some by the cap and the others by the
  budget;
- ``negative_npv``: some year had room (cap and budget) for it, but opening it there
  lowers the NPV: its margin does not cover its opening and fixed costs within the
  horizon. With the site's revenue given (``revenue``: currency per year at full ramp,
  best the brand's marginal gain from the site, cannibalisation included), the NPV of
  opening it in each year with room is estimated with the spec's margin, ramp-up and
  discounting (:attr:`UnopenedStore.npv_if_opened`), and a site whose estimate is
  positive gets
- ``not_selected``: room and a positive NPV estimate, yet the schedule (a heuristic,
  measuring cannibalisation exactly) did not open it.

``unopened(schedule, revenue)`` returns one :class:`UnopenedStore` per unopened site;
``reason_columns(schedule, revenue)`` the ``reason, reason_detail, npv_if_opened``
columns written to ``rollout.csv`` (next to its ``status``) and shown in
``report.html``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .cashflow import ramp_factor
from .spec import NEVER, RolloutSpec

if TYPE_CHECKING:
    from .schedule import Schedule

__all__ = [
    "UnopenedReason",
    "UnopenedStore",
    "unopened",
    "npv_if_opened",
    "reason_columns",
    "site_revenue",
    "REASON_TEXT",
]

#: Relative tolerance on budgets (spend equal to the budget fits).
_RTOL = 1e-9


class UnopenedReason(StrEnum):
    """Why a planned store is not opened within the rollout years."""

    FORBIDDEN = "forbidden"
    YEARLY_CAP = "yearly_cap"
    BUDGET = "budget"
    CAP_AND_BUDGET = "cap_and_budget"
    NEGATIVE_NPV = "negative_npv"
    NOT_SELECTED = "not_selected"


#: One line per reason, for tables and the report.
REASON_TEXT: dict[UnopenedReason, str] = {
    UnopenedReason.FORBIDDEN: "forbidden by the scenario",
    UnopenedReason.YEARLY_CAP: "yearly cap on new stores reached in every year",
    UnopenedReason.BUDGET: "opening cost exceeds the budget left in every year",
    UnopenedReason.CAP_AND_BUDGET: "every year full: cap reached or budget left too small",
    UnopenedReason.NEGATIVE_NPV: "room in a year, but opening it lowers the NPV",
    UnopenedReason.NOT_SELECTED: "room in a year and a positive NPV estimate, not chosen by the schedule",
}


@dataclass(frozen=True)
class UnopenedStore:
    """A planned store the rollout does not open, and why.

    Attributes
    ----------
    id : str
    reason : UnopenedReason
    opening_cost : float
        Its opening cost, currency.
    capped_years : tuple of int
        Rollout years (1-based) whose cap on new stores was reached.
    budget_years : tuple of int
        Rollout years whose budget left (currency) was below its opening cost.
    room_years : tuple of int
        Rollout years with room for it (cap and budget): left out there on value.
    npv_if_opened : float
        Estimated NPV added by opening it in the best year with room, currency (NaN
        without a revenue or without room); see the module docstring.
    best_year : int or None
        That year.
    """

    id: str
    reason: UnopenedReason
    opening_cost: float
    capped_years: tuple[int, ...]
    budget_years: tuple[int, ...]
    room_years: tuple[int, ...]
    npv_if_opened: float = float("nan")
    best_year: int | None = None

    @property
    def text(self) -> str:
        """The reason in words (the years it applies to named)."""
        base = REASON_TEXT[self.reason]
        if self.reason is UnopenedReason.NEGATIVE_NPV and self.room_years:
            return f"room in year {_years(self.room_years)}, but opening it lowers the NPV"
        if self.reason is UnopenedReason.NOT_SELECTED:
            return (
                f"room in year {_years(self.room_years)} and a positive NPV estimate; "
                "not chosen by the schedule (cannibalisation measured exactly)"
            )
        return base


def site_revenue(stores: pd.DataFrame) -> dict[str, float]:
    """Site id -> the revenue used for the NPV estimate, from a plan's stores table:
    ``marginal_net_gain`` (the brand's offline capture lost if the store alone closed,
    cannibalisation included) when present, else ``revenue``; empty without either."""
    col = next((c for c in ("marginal_net_gain", "revenue") if c in stores.columns), None)
    if col is None:
        return {}
    vals = pd.to_numeric(stores[col], errors="coerce").to_numpy(np.float64)
    return {str(i): float(v) for i, v in zip(stores["id"], vals, strict=True) if math.isfinite(v)}


def _years(ys: tuple[int, ...]) -> str:
    return ", ".join(str(y) for y in ys)


def npv_if_opened(
    spec: RolloutSpec,
    year: int,
    revenue: float,
    fixed_cost: float,
    opening_cost: float,
    margin: float | None = None,
) -> float:
    """NPV (currency) of one store opened at the start of rollout year ``year`` and kept
    to the horizon: ``m R sum_t d_t rho(t) - F sum_t d_t - C d_year`` over ``t = year..H``
    (``d_t`` the discount factor, 1 for ``objective = "net_revenue"``; ``rho`` the ramp-up;
    ``m`` the store's cash margin, share of sales: ``margin``, or ``spec.gross_margin``
    when None; conventions of :mod:`storeplan.rollout`)."""
    h = int(spec.horizon)
    t = np.arange(year, h + 1)
    d = np.ones(len(t)) if spec.objective == "net_revenue" else spec.discount(h)[t - 1]
    rho = ramp_factor(12.0 * (t - year), spec.ramp_months, spec.ramp_shape)
    return float(
        (spec.gross_margin if margin is None else float(margin)) * revenue * float((d * rho).sum())
        - fixed_cost * float(d.sum())
        - opening_cost * d[0]
    )


def unopened(schedule: Schedule, revenue: Mapping[str, float] | None = None) -> tuple[UnopenedStore, ...]:
    """The planned (new) stores that ``schedule`` leaves unopened, each with its reason.

    Parameters
    ----------
    schedule : Schedule
        Reads ``ids``, ``open_year``, ``opening_cost``, ``fixed_cost``, ``margins()``, ``forbidden`` and
        the spec's ``max_stores()`` / ``budgets()`` (per rollout year).
    revenue : mapping of str to float, optional
        Site id -> yearly revenue at full ramp (currency per year) for the NPV estimate;
        best the brand's marginal gain from the site (``plan.stores.marginal_net_gain``).

    Returns
    -------
    tuple of UnopenedStore
        In schedule order.
    """
    years = int(schedule.spec.years)
    oy = np.asarray(schedule.open_year, np.int64)
    cost = np.asarray(schedule.opening_cost, np.float64)
    sel = oy >= 1
    opened = np.bincount(oy[sel], minlength=years + 1)[1 : years + 1]
    spent = np.bincount(oy[sel], weights=cost[sel], minlength=years + 1)[1 : years + 1]
    cap = np.asarray(schedule.spec.max_stores(), np.int64)
    budget = np.asarray(schedule.spec.budgets(), np.float64)
    left = budget - spent
    cap_full = opened >= cap
    forbidden = (
        np.zeros(len(oy), bool) if schedule.forbidden is None else np.asarray(schedule.forbidden, bool)
    )
    fixed = np.asarray(schedule.fixed_cost, np.float64)
    margin = schedule.margins()
    out = []
    for j in np.flatnonzero(oy == NEVER):
        c = float(cost[j])
        sid = str(schedule.ids[j])
        over = c > left * (1 + _RTOL) + 1e-6
        capped = tuple(int(t) + 1 for t in np.flatnonzero(cap_full))
        short = tuple(int(t) + 1 for t in np.flatnonzero(over & ~cap_full))
        room = tuple(int(t) + 1 for t in np.flatnonzero(~cap_full & ~over))
        est, best = float("nan"), None
        r = None if revenue is None else revenue.get(sid)
        if room and r is not None and math.isfinite(float(r)):
            vals = [
                npv_if_opened(schedule.spec, y, float(r), float(fixed[j]), c, float(margin[j])) for y in room
            ]
            k = int(np.argmax(vals))
            est, best = vals[k], room[k]
        if forbidden[j]:
            reason = UnopenedReason.FORBIDDEN
        elif room and est > 0:
            reason = UnopenedReason.NOT_SELECTED
        elif room:
            reason = UnopenedReason.NEGATIVE_NPV
        elif not short:
            reason = UnopenedReason.YEARLY_CAP
        elif not capped:
            reason = UnopenedReason.BUDGET
        else:
            reason = UnopenedReason.CAP_AND_BUDGET
        out.append(
            UnopenedStore(
                id=sid,
                reason=reason,
                opening_cost=c,
                capped_years=capped,
                budget_years=short,
                room_years=room,
                npv_if_opened=est,
                best_year=best,
            )
        )
    return tuple(out)


def reason_columns(schedule: Schedule, revenue: Mapping[str, float] | None = None) -> pd.DataFrame:
    """``id, reason, reason_detail, npv_if_opened`` for every site of the schedule.

    ``reason`` is the :class:`UnopenedReason` value for unopened sites and empty for the
    others; ``reason_detail`` the reason in words; ``npv_if_opened`` the estimate
    (currency; NaN where none).
    """
    ids = pd.Series(np.asarray(schedule.ids, dtype=object)).astype(str)
    reason = pd.Series([""] * len(ids), dtype=object)
    detail = pd.Series([""] * len(ids), dtype=object)
    est = np.full(len(ids), np.nan)
    pos = {k: i for i, k in enumerate(ids)}
    for u in unopened(schedule, revenue):
        i = pos[u.id]
        reason.iat[i] = u.reason.value
        detail.iat[i] = u.text
        est[i] = u.npv_if_opened
    return pd.DataFrame({"id": ids, "reason": reason, "reason_detail": detail, "npv_if_opened": est})
