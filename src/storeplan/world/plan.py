"""The typed result of a world plan: every figure of ``countries.csv``, the world report
and the world map is a column of one of these tables, computed once in
:func:`storeplan.world.plan_world`.

Money is in the planning currency (:attr:`WorldPlan.currency`) unless a column name ends
in ``_local`` (the country's currency, :attr:`countries` column ``currency``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["WorldPlan", "WorldMetrics", "ATTRACTIVENESS", "COUNTRY_COLUMNS", "STORE_COLUMNS", "YEAR_COLUMNS"]

#: Country attractiveness columns (name -> unit), computed once by
#: :func:`storeplan.world.country_inputs`.
ATTRACTIVENESS: dict[str, str] = {
    "population": "persons",
    "income_per_person": "planning currency per person per year",
    "offline_market": "planning currency per year",
    "online_revenue": "planning currency per year",
    "online_orders": "orders per year",
    "rival_outlets_per_100k": "outlets per 100,000 persons",
    "candidate_sites": "sites",
    "price_level": "index (1 = planning-currency list price)",
    "cost_level": "multiplier of the formats' costs",
}

#: ``countries.csv``: one row per country considered (name -> unit).
COUNTRY_COLUMNS: dict[str, str] = {
    "country": "ISO 3166-1 alpha-2",
    "name": "text",
    "currency": "ISO 4217 code of the country's amounts",
    "fx_per_planning": "units of the country's currency per 1 planning currency",
    "rank": "order of attractiveness (1 = most attractive)",
    "entry_year": "rollout year of the first stores (0: not entered)",
    "stores": "new stores opened over the rollout",
    "stores_own": "new own stores",
    "stores_partner": "new partner stores",
    "revenue_final_year": "planning currency per year (store sales in the last rollout year)",
    "revenue_full_ramp": "planning currency per year (sales of the plan's stores at full ramp)",
    "capex": "planning currency (opening costs over the rollout)",
    "npv": "planning currency",
    "npv_bound": "planning currency (upper bound on this country's NPV under its allocation)",
    "gap": "share (npv_bound - npv) / |npv|",
    "payback_year": "rollout year the cumulative cash turns positive (0: not in the horizon)",
    **ATTRACTIVENESS,
    "attractiveness_value": "planning currency (NPV upper bound of entering in year 1 alone)",
}
# plus one column ``stores_year_<t>`` per rollout year (new stores opened in year t)

#: ``plan.csv`` of a world plan: one row per new store.
STORE_COLUMNS: dict[str, str] = {
    "id": "site id",
    "name": "text",
    "country": "ISO2",
    "lon": "degrees",
    "lat": "degrees",
    "format": "format name",
    "ownership": "own | partner",
    "open_year": "rollout year",
    "revenue_full_ramp": "planning currency per year",
    "revenue_full_ramp_local": "country currency per year",
    "opening_cost": "planning currency",
    "npv": "planning currency (the store's discounted cash flow)",
}

#: ``world_years.csv``: one row per year of the horizon.
YEAR_COLUMNS: dict[str, str] = {
    "year": "rollout year",
    "new_stores": "stores",
    "open_stores": "stores (at the end of the year)",
    "countries_entered": "countries entered this year",
    "countries_present": "countries with stores",
    "capex": "planning currency",
    "budget": "planning currency (NaN: no limit)",
    "revenue": "planning currency per year (store sales with ramp-up)",
    "cash_flow": "planning currency",
    "cumulative_cash": "planning currency",
    "target_revenue": "planning currency per year (NaN: none)",
}


@dataclass(frozen=True)
class WorldMetrics:
    """Headline figures of a world plan (planning currency unless said).

    Attributes
    ----------
    currency : str
        Planning currency (ISO 4217).
    fx_date : str
        Date of the exchange-rate table.
    countries_considered, countries_entered : int
    stores : int
        New stores over the rollout.
    stores_own, stores_partner : int
    target_stores : int or None
    npv : float
        Sum of the countries' NPVs (exact forecasts), planning currency.
    bound : float
        Upper bound on the NPV of any plan that keeps every constraint (the world
        master's relaxation), planning currency.
    gap : float
        ``(bound - npv) / |npv|``, share (:func:`storeplan.solvers.solution.relative_gap`).
    allocation_bound : float
        Sum of the countries' own NPV bounds under their allocations (certifies each
        country's plan given its caps and budgets), planning currency.
    capex : float
        Opening costs over the rollout, planning currency.
    revenue_final_year : float
        Store sales in the last rollout year, planning currency per year.
    target_revenue_final_year : float
        NaN when the scenario has none.
    payback_year : int
        0: not within the horizon.
    seconds : float
        Wall time of the whole plan, seconds.
    phase_seconds : Mapping of str to float
        Wall time per phase (``inputs``, ``curves``, ``master``, ``countries``,
        ``tables``), seconds.
    engine : str
        ``local``, ``dask`` or ``ray``.
    workers : int
        Processes the countries ran on (1: in this process).
    """

    currency: str
    fx_date: str
    countries_considered: int
    countries_entered: int
    stores: int
    stores_own: int
    stores_partner: int
    target_stores: int | None
    npv: float
    bound: float
    gap: float
    allocation_bound: float
    capex: float
    revenue_final_year: float
    target_revenue_final_year: float
    payback_year: int
    seconds: float
    phase_seconds: Mapping[str, float] = field(default_factory=dict)
    engine: str = "local"
    workers: int = 1

    #: unit of each field (for ``summary.json`` and the report)
    UNITS = {
        "currency": "ISO 4217",
        "fx_date": "date",
        "countries_considered": "countries",
        "countries_entered": "countries",
        "stores": "stores",
        "stores_own": "stores",
        "stores_partner": "stores",
        "target_stores": "stores",
        "npv": "planning currency",
        "bound": "planning currency",
        "gap": "share",
        "allocation_bound": "planning currency",
        "capex": "planning currency",
        "revenue_final_year": "planning currency per year",
        "target_revenue_final_year": "planning currency per year",
        "payback_year": "rollout year",
        "seconds": "s",
        "phase_seconds": "s",
        "engine": "text",
        "workers": "processes",
    }

    def to_dict(self) -> dict[str, Any]:
        """``{field: {"value": v, "unit": u}}`` for ``summary.json``; money units name the
        planning currency, as the data files' do: ``planning currency (USD)``."""
        cur = f"planning currency ({self.currency})"
        return {
            k: {"value": getattr(self, k), "unit": u.replace("planning currency", cur)}
            for k, u in self.UNITS.items()
        }


@dataclass(frozen=True, eq=False)
class WorldPlan:
    """A plan over many countries and years.

    Attributes
    ----------
    name : str
        Scenario name.
    currency : str
        Planning currency.
    years : int
        Rollout years.
    start_year : int or None
        Calendar year of rollout year 1 (labels).
    countries : DataFrame
        :data:`COUNTRY_COLUMNS` plus ``stores_year_<t>``, sorted by ``rank``.
    stores : DataFrame
        :data:`STORE_COLUMNS`, one row per new store, sorted by country then open year.
    years_table : DataFrame
        :data:`YEAR_COLUMNS`, one row per horizon year.
    metrics : WorldMetrics
    fx : DataFrame
        The exchange-rate table used (``currency``, ``per_base``, ``base``, ``date``,
        ``source``).
    plans : Mapping of str to Any
        Each entered country's :class:`storeplan.plan.Plan` (country currency).
    notes : tuple of str
        Data attribution and which layers are synthetic.
    """

    name: str
    currency: str
    years: int
    start_year: int | None
    countries: pd.DataFrame
    stores: pd.DataFrame
    years_table: pd.DataFrame
    metrics: WorldMetrics
    fx: pd.DataFrame
    plans: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def entered(self) -> pd.DataFrame:
        """The countries with stores, by entry year then rank."""
        c = self.countries
        return c[c["entry_year"] > 0].sort_values(["entry_year", "rank"]).reset_index(drop=True)
