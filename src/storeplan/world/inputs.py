"""One scenario per country, in the country's own currency.

:func:`country_inputs` splits a world scenario (a :class:`~storeplan.scenario.Scenario`
with a ``[world]`` section) into one :class:`CountryInput` per country: its areas,
candidate sites and rivals, its currency and exchange rate, its prices (the scenario's
prices at a price level of 1, times the country's ``price_level``), its format costs
(times the country's cost level) and what makes it attractive (market size, income,
our online base, rival density). Every amount of a country scenario is in the
country's currency; :attr:`CountryInput.rate` converts back to the planning currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..data.fx import ExchangeRates, exchange_rates
from ..demand import DemandParams, offline_spending, online_revenue
from ..errors import InputError, MissingColumnError, UnknownOptionError, UnsupportedConstraintError
from ..rollout.world_spec import WorldSpec
from ..scenario import Scenario, StoreFormat

__all__ = ["CountryInput", "check_world_scenario", "country_inputs", "planning_rates"]


@dataclass(frozen=True, eq=False)
class CountryInput:
    """One country of a world scenario, ready to plan on its own.

    Attributes
    ----------
    country : str
        ISO 3166-1 alpha-2 code.
    name : str
        Country name.
    currency : str
        ISO 4217 code of the amounts of :attr:`scenario` (the planning currency when
        the country's own currency has no rate and ``fx_fallback = "planning"``).
    own_currency : str
        The country's currency (``countries.json``).
    rate : float
        Units of :attr:`currency` per one unit of the planning currency.
    scenario : Scenario
        The country's scenario (areas, sites, rivals, formats with local costs, demand
        with local prices), without a rollout: the world planner adds the country's
        yearly limits.
    attractiveness : Mapping of str to float
        The :data:`storeplan.world.plan.ATTRACTIVENESS` figures (planning currency).
    """

    country: str
    name: str
    currency: str
    own_currency: str
    rate: float
    scenario: Scenario
    attractiveness: Mapping[str, float]

    def to_planning(self, amount):
        """``amount`` (country currency) in the planning currency."""
        if np.ndim(amount) == 0:
            return float(amount) / self.rate
        return np.asarray(amount, dtype=np.float64) / self.rate

    def to_local(self, amount):
        """``amount`` (planning currency) in the country's currency."""
        if np.ndim(amount) == 0:
            return float(amount) * self.rate
        return np.asarray(amount, dtype=np.float64) * self.rate


def planning_rates(spec: WorldSpec) -> ExchangeRates:
    """The exchange-rate table of a world scenario: the bundled ECB fixing of
    ``spec.fx_date`` in the planning currency, completed or overridden by ``spec.fx``."""
    table = exchange_rates(spec.fx_date, base=spec.planning_currency)
    if not spec.fx:
        return table
    merged = dict(table.per_base)
    merged.update(spec.fx)
    merged[spec.planning_currency] = 1.0
    return ExchangeRates(
        date=table.date,
        base=table.base,
        per_base=merged,
        source=f"{table.source}; scenario rates for {', '.join(sorted(spec.fx))}",
    )


def _local_demand(demand: DemandParams, factor: float, rate: float, cars: bool) -> DemandParams:
    """Demand parameters with prices times ``factor`` (price level x rate) and income
    thresholds and order values in the country's currency; no car spending unless
    ``cars``."""
    cats = []
    for c in demand.categories:
        upd: dict = {"price": {t: p * factor for t, p in c.price.items()}}
        if c.name == "cars" and not cars:
            upd["penetration"] = 0.0
        cats.append(c.model_copy(update=upd))
    lo, hi = demand.income_thresholds
    return demand.model_copy(
        update={
            "categories": tuple(cats),
            "income_thresholds": (lo * rate, hi * rate),
            "online_order_value": demand.online_order_value * factor,
        }
    )


def _local_format(f: StoreFormat, cost: float, rate: float) -> StoreFormat:
    return f.model_copy(
        update={
            "opening_cost": f.opening_cost * cost * rate,
            "fixed_cost": f.fixed_cost * cost * rate,
            "sales_capacity": f.sales_capacity * rate,
            "min_income": f.min_income * rate,
        }
    )


def _country_table(scenario: Scenario) -> pd.DataFrame:
    areas = scenario.areas
    if "country" not in areas.columns:
        raise MissingColumnError(
            "areas: a [world] scenario needs a 'country' column (ISO2 code per area), or "
            '[areas] dataset = "world"'
        )
    codes = sorted(areas["country"].astype(str).unique())
    table = scenario.countries
    if len(table) and "country" in table.columns:
        table = table.set_index("country")
    else:
        table = pd.DataFrame(index=pd.Index([], name="country"))
    rows = []
    for cc in codes:
        row = table.loc[cc] if cc in table.index else pd.Series(dtype=object)
        rows.append(
            {
                "country": cc,
                "name": str(row.get("name", cc)),
                "currency": str(row.get("currency", "") or ""),
                "price_level": float(row.get("price_level", 1.0) or 1.0),
            }
        )
    return pd.DataFrame(rows)


def check_world_scenario(scenario: Scenario) -> None:
    """Refuse, by name, what the world planner does not model (``validate`` and
    ``run`` both call it, through :func:`country_inputs`).

    Raises
    ------
    InputError
        No ``[rollout]`` section.
    UnsupportedConstraintError
        Quotas or region limits, an objective other than revenue, ``[objective] budget``,
        ``[market.channel]``, ``[rollout] must_open_year``.
    """
    if scenario.rollout is None:
        raise InputError(f"{scenario.name}: a world plan needs [world] and [rollout] sections")
    con = scenario.constraints
    if con.quotas or con.region_min or con.region_max:
        raise UnsupportedConstraintError(
            "[constraints] quotas / region_min / region_max are not modelled by the world planner "
            "(countries are planned one by one); use [world] countries_max_stores"
        )
    if scenario.objective.kind != "revenue":
        raise UnsupportedConstraintError(
            f"[world] plans the revenue objective (NPV of the stores' sales), not {scenario.objective.kind!r}"
        )
    if scenario.objective.budget is not None:
        raise UnsupportedConstraintError(
            "[objective] budget is not used by the world planner: give [rollout] budget_per_year"
        )
    if scenario.market.channel is not None:
        raise UnsupportedConstraintError(
            "[market.channel] is not modelled by the world planner: its bound needs each store's revenue "
            "to fall as other stores open (the plain Huff model with a fixed online transfer)"
        )
    if scenario.rollout.must_open_year:
        raise UnsupportedConstraintError("[rollout] must_open_year is not modelled by the world planner")


def country_inputs(scenario: Scenario, *, rates: ExchangeRates | None = None) -> list[CountryInput]:
    """Split a world scenario into one :class:`CountryInput` per country (sorted by code).

    Parameters
    ----------
    scenario : Scenario
        A scenario with a ``[world]`` section. Its areas carry ``country`` (ISO2) and, in
        the ``world`` dataset, ``income`` in USD per person per year; its money settings
        (format costs, prices, budgets) are in ``world.planning_currency``.
    rates : ExchangeRates, optional
        Default :func:`planning_rates`.

    Returns
    -------
    list of CountryInput
        Countries with at least one candidate site.

    Raises
    ------
    InputError
        No ``[world]`` section; existing stores without a ``country`` column.
    MissingColumnError
        Areas without a ``country`` column.
    UnknownOptionError
        A currency without a rate under ``fx_fallback = "error"`` (the message names the
        countries and currencies), or a ``cars`` country that is not in the areas.
    UnsupportedConstraintError
        What the world planner does not model (:func:`check_world_scenario`).
    """
    spec = scenario.world
    if spec is None:
        raise InputError(f"{scenario.name}: not a world scenario (no [world] section)")
    check_world_scenario(scenario)
    rates = planning_rates(spec) if rates is None else rates
    table = _country_table(scenario)
    usd = rates.per_base.get("USD")
    if usd is None:
        raise UnknownOptionError(f"no USD rate to convert the world dataset's incomes into {rates.base}")
    missing = [
        f"{r.country} ({r.currency or 'no currency'})"
        for r in table.itertuples()
        if not r.currency or r.currency not in rates.per_base
    ]
    if missing and spec.fx_fallback == "error":
        raise UnknownOptionError(
            f"[world]: no exchange rate for {', '.join(missing[:8])}"
            f"{' and more' if len(missing) > 8 else ''} on {rates.date}; give them in [world] fx "
            "(units per 1 " + spec.planning_currency + ') or set fx_fallback = "planning"'
        )
    unknown_cars = sorted(set(spec.cars) - set(table["country"]))
    if unknown_cars:
        raise UnknownOptionError(f"[world] cars: {', '.join(unknown_cars)} not among the areas' countries")
    ex = scenario.existing
    if len(ex) and "country" not in ex.columns:
        raise InputError("existing stores: a [world] scenario needs a 'country' column (ISO2) for them")
    areas, sites, rivals = scenario.areas, scenario.sites, scenario.rivals
    a_idx = areas.groupby(areas["country"].astype(str), sort=True).indices
    s_idx = (
        sites.groupby(sites["country"].astype(str), sort=True).indices if "country" in sites.columns else {}
    )
    r_idx = (
        rivals.groupby(rivals["country"].astype(str), sort=True).indices
        if "country" in rivals.columns and len(rivals)
        else {}
    )
    e_idx = ex.groupby(ex["country"].astype(str), sort=True).indices if len(ex) else {}
    must = set(scenario.constraints.must_open)
    banned = set(scenario.constraints.forbidden)
    ro = scenario.rollout
    years = ro.years if ro is not None else len(spec.country_caps)
    most_any = int(spec.caps(years).sum())
    if ro is not None:
        most_any = int(min(most_any, ro.max_stores().sum()))
    out: list[CountryInput] = []
    for row in table.itertuples():
        cc = row.country
        if cc not in s_idx:
            continue
        own_cur = row.currency or spec.planning_currency
        local = own_cur if own_cur in rates.per_base else spec.planning_currency
        rate = float(rates.per_base[local])
        a = areas.iloc[a_idx[cc]].reset_index(drop=True)
        if "income" in a.columns:  # world dataset: USD per person per year
            a = a.assign(income=a["income"].to_numpy(np.float64) / float(usd) * rate)
        mean_income = (
            float(np.average(a["income"], weights=a["population"])) / rate if "income" in a else np.nan
        )
        cost = spec.cost_level(mean_income)
        s = (
            sites.iloc[s_idx[cc]]
            .drop(columns=["must_open", "forbidden"], errors="ignore")
            .reset_index(drop=True)
        )
        r = rivals.iloc[r_idx[cc]].reset_index(drop=True) if cc in r_idx else None
        e = ex.iloc[e_idx[cc]].reset_index(drop=True) if cc in e_idx else None
        price = float(row.price_level)
        demand = _local_demand(scenario.demand, price * rate, rate, cc in spec.cars)
        formats = tuple(_local_format(f, cost, rate) for f in scenario.formats)
        ids = set(s["id"].astype(str))
        cons = scenario.constraints.model_copy(
            update={
                "must_open": tuple(i for i in scenario.constraints.must_open if i in ids),
                "forbidden": tuple(i for i in scenario.constraints.forbidden if i in ids),
                "region_min": {},
                "region_max": {},
            }
        )
        must -= ids
        banned -= ids
        scn = Scenario.from_frames(
            a,
            sites=s,
            existing=e,
            rivals=r,
            formats=formats,
            objective=scenario.objective.model_copy(
                update={"stores": max(len(cons.must_open), 1), "budget": None}
            ),
            constraints=cons,
            options=scenario.options,
            name=f"{scenario.name} / {cc}",
            description=f"{row.name}: amounts in {local}",
            notes=scenario.notes,
            source=scenario.source,
            demand=demand,
            market=scenario.market,
            calibration=scenario.calibration,
        )
        # the most new stores the country can get in the world plan: its caps over the
        # rollout, the rollout's total, its countries_max_stores, and what its sites hold
        # with the spacing (the world planner sets each country's count from its
        # allocation; the scenario is built with the fewest it must open first)
        most = min(most_any, spec.countries_max_stores.get(cc, most_any), scn.spaced_stores())
        stores = max(most, len(cons.must_open), 1)
        scn = replace(scn, objective=scn.objective.model_copy(update={"stores": int(stores)}))
        off = offline_spending(scn.areas, demand)["total"].to_numpy(np.float64)
        online = np.asarray(online_revenue(scn.areas, demand), dtype=np.float64)
        pop = float(a["population"].sum())
        outlets = 0.0 if r is None else float(r["outlets"].sum()) if "outlets" in r.columns else float(len(r))
        orders = float(a["online_orders"].sum()) if "online_orders" in a.columns else 0.0
        attract = {
            "population": pop,
            "income_per_person": mean_income,
            "offline_market": float(off.sum()) / rate,
            "online_revenue": float(online.sum()) / rate,
            "online_orders": orders,
            "rival_outlets_per_100k": outlets / pop * 1e5 if pop > 0 else 0.0,
            "candidate_sites": float(len(s)),
            "price_level": price,
            "cost_level": cost,
        }
        out.append(CountryInput(cc, row.name, local, own_cur, rate, scn, attract))
    left = sorted(must | banned)
    if left:
        raise InputError(
            f"constraints: site id(s) {', '.join(left[:5])} are not candidate sites of any country"
        )
    return out
