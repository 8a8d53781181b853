r"""Multi-year rollout: which stores open in which year.

A rollout assigns every site of a *universe* (the stores of a plan, or any candidate
list) an opening year ``1..years`` or "not opened" (``-1``); our existing stores are
open from year ``0``. The value of a schedule is the net present value of the store
cash flows

.. math::

    \mathrm{NPV} = \sum_{t=1}^{H} \frac{1}{(1+r)^t} \sum_{j \in S_t}
        \bigl( m\,\rho_j(t)\,R_j(S_t) - F_j - C_j [o_j = t] \bigr)

with :math:`S_t` the stores open in year :math:`t` (the set of year ``years`` for later
years up to the horizon :math:`H`), :math:`R_j(S)` the full-ramp revenue of store
:math:`j` when the stores :math:`S` are open (currency per year, from a *value oracle*
that accounts for cannibalisation), :math:`\rho_j(t)` the ramp-up factor of year
:math:`t`, :math:`m` the gross margin, :math:`F_j` the fixed cost (currency per year) and
:math:`C_j` the opening cost (currency, once).

Conventions (also used by :mod:`storeplan.forecast`):

- a store opening "in year ``o``" opens on the first day of that year;
- every cash flow of year ``t`` (revenue, fixed cost, opening cost) is counted at the
  **end** of year ``t`` and discounted by :math:`(1+r)^{-t}` (end-of-year convention);
- ramp-up: a new store's sales reach the full rate over ``ramp_months``; ``linear``
  :math:`f(a) = \min(a/N, 1)`, ``s_curve`` the smoothstep :math:`f(a) = 3x^2 - 2x^3`,
  :math:`x = \min(a/N, 1)` (slow start, fast middle, slow finish), with :math:`a` the age
  in months; :math:`\rho_j(t)` is the average of :math:`f` over the 12 months of year
  ``t`` (exact integral). Existing stores are mature (:math:`\rho = 1`);
- cannibalisation is the oracle's: a ramping store takes revenue from its neighbours at
  full strength from its first day (conservative for the neighbours);
- by default no terminal value after the horizon and no carry-over of unused capital
  budget (``terminal_value`` / ``carry_over`` in :class:`RolloutSpec` turn them on).

The *universe* of a schedule is any list of sites: the stores of a plan (the rollout
sequences them) or every candidate of a scenario (the *joint* rollout of
:func:`storeplan.solve` with ``universe = "candidates"``: sites and years chosen together,
under the side constraints of the plan's problem, see :func:`schedule`).

The oracle keeps the schedule independent of the market model: any callable
``oracle(open_idx) -> revenue`` (one value per open site, currency per year at full
ramp) works. :class:`HuffOracle` (:mod:`storeplan.market.oracles`), :class:`NearestOracle`
(each area's spending goes to its nearest open store within a radius) and
:class:`AdditiveOracle` (fixed revenue per store, no cannibalisation) also provide a
vectorised ``gains`` method used by :func:`schedule` to evaluate every candidate at once.

Modules: :mod:`.spec` (the ``[rollout]`` section), :mod:`.cashflow` (ramp-up, cash flow,
NPV of a schedule), :mod:`.schedule` (the optimiser), :mod:`.plans` (rollout of a plan),
:mod:`.forecast` (yearly forecast, payback, target).
"""

from __future__ import annotations

from ..market.oracles import AdditiveOracle, HuffOracle, NearestOracle, RevenueOracle, oracle_from_market
from .cashflow import evaluate, ramp_factor, ramp_matrix
from .forecast import (
    Forecast,
    extra_stores_needed,
    forecast,
    forecast_plan,
    rollout_summary,
    stores_to_meet_target,
)
from .plans import market_for_plan, oracle_from_plan, rollout_plan
from .schedule import Schedule, schedule
from .spec import NEVER, RolloutSpec

__all__ = [
    "RolloutSpec",
    "RevenueOracle",
    "AdditiveOracle",
    "NearestOracle",
    "HuffOracle",
    "Schedule",
    "schedule",
    "ramp_factor",
    "ramp_matrix",
    "evaluate",
    "oracle_from_plan",
    "oracle_from_market",
    "rollout_plan",
    "market_for_plan",
    "NEVER",
    "Forecast",
    "forecast",
    "forecast_plan",
    "rollout_summary",
    "extra_stores_needed",
    "stores_to_meet_target",
]
