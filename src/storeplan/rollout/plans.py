"""Rollout of a :class:`storeplan.plan.Plan`: its market, its fallback oracle, its schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import StoreplanError
from ..market import Market, MarketParams, build_market
from ..market.oracles import AdditiveOracle, NearestOracle, RevenueOracle, oracle_from_market
from .schedule import Schedule, Sites, schedule
from .spec import RolloutSpec

if TYPE_CHECKING:  # annotations only: the plan and the scenario sit above the rollout
    from ..plan import Plan
    from ..scenario import Scenario

__all__ = ["oracle_from_plan", "market_for_plan", "rollout_plan"]


def oracle_from_plan(
    plan: Plan, spend_per_person: float = 1_000.0, *, radius_km: float | None = None, k: int | None = None
) -> RevenueOracle:
    """Fallback oracle for any :class:`storeplan.plan.Plan` (no market model needed).

    With the plan's areas (``lon, lat, population``) available: a :class:`NearestOracle`
    where every area's ``population x spend_per_person`` (currency per year) goes to its
    nearest open store within ``radius_km`` (default: the plan's ``metrics['radius_km']``,
    else 15 km): a catchment model, so a new store adds the people it brings within
    reach and takes from its neighbours those now nearer to it. With every store open
    each store sells its ``covered_population x spend_per_person``. ``k`` also keeps
    each area's ``k`` nearest stores (a store sells to its nearest-store areas however
    far; with all open that is ``demand_captured x spend_per_person`` of a p-median
    plan). Otherwise (a loaded plan): an :class:`AdditiveOracle` with
    ``stores.demand_captured x spend_per_person``, no cannibalisation.
    Site ``j`` is row ``j`` of ``plan.stores``.
    """
    stores = plan.stores
    areas = getattr(plan, "areas", None)
    if areas is not None and len(areas) and {"lon", "lat", "population"} <= set(areas.columns):
        if radius_km is None:
            radius_km = float(plan.metrics.get("radius_km") or 15.0)
        spend = areas["population"].to_numpy(np.float64) * spend_per_person
        return NearestOracle.build(
            areas["lon"], areas["lat"], spend, stores["lon"], stores["lat"], max(radius_km, 1e-6), k=k
        )
    demand = (
        stores["demand_captured"].to_numpy(np.float64)
        if "demand_captured" in stores
        else np.zeros(len(stores))
    )
    return AdditiveOracle(demand * spend_per_person)


def market_for_plan(plan: Plan, scenario: Scenario, params: MarketParams | None = None) -> Market:
    """A :class:`storeplan.market.Market` whose candidates are the plan's new stores.

    Our existing stores (``scenario.existing``) and the rivals (``scenario.rivals``) are
    always open. Format attractiveness comes from the scenario's formats (``params``, a
    :class:`storeplan.market.MarketParams`, overrides it); existing stores whose format is
    unknown get the default format.
    """
    stores = plan.stores
    new = stores[stores["status"].astype(str) == "new"] if "status" in stores else stores
    if params is None:
        params = scenario.market_params()
    fa = params.format_attractiveness
    fmt = None
    if "format" in new:
        fmt = new["format"].astype(object).to_numpy().copy()
        fmt[~np.isin(fmt, list(fa))] = params.default_format
    existing = scenario.existing.copy()
    if len(existing):
        col = existing["format"] if "format" in existing else pd.Series(pd.NA, index=existing.index)
        known = col.astype(object).isin(list(fa))
        existing["format"] = col.astype(object).where(known, params.default_format)
    return build_market(
        scenario.areas,
        new[["id", "lon", "lat"]].reset_index(drop=True),
        existing=existing,
        rivals=scenario.rivals,
        demand=scenario.demand,
        params=params,
        candidate_format=fmt,
    )


def rollout_plan(
    plan: Plan,
    spec: RolloutSpec,
    *,
    scenario: Scenario | None = None,
    oracle: RevenueOracle | None = None,
    market: Market | None = None,
    must_open: Sites | None = None,
    **kwargs: Any,
) -> Schedule:
    """Schedule the stores of a :class:`storeplan.plan.Plan` over the rollout years.

    The universe is ``plan.stores`` (new and existing rows); existing stores are open
    from year 0. Costs come from the ``opening_cost`` / ``fixed_cost`` columns (0 when
    absent), each store's cash margin from the ``margin`` column (share of sales; when
    absent or missing: ``spec.gross_margin``). The oracle is, in order: ``oracle`` if
    given; a :class:`HuffOracle` on
    ``market``, or on :func:`market_for_plan` when ``scenario`` is given (falling back
    when the market cannot be built); else :func:`oracle_from_plan` with
    ``spec.spend_per_person``. With ``scenario``, its ``constraints.must_open`` sites open
    in year 1 (or ``spec.must_open_year``). ``kwargs`` go to :func:`schedule`.
    """
    stores = plan.stores
    n = len(stores)
    ids = stores["id"].astype(str).to_numpy(dtype=object)
    exist = np.zeros(n, bool)
    if "status" in stores:
        exist = (stores["status"].astype(str) == "existing").to_numpy()
    oc = stores["opening_cost"].to_numpy(np.float64) if "opening_cost" in stores else np.zeros(n)
    fc = stores["fixed_cost"].to_numpy(np.float64) if "fixed_cost" in stores else np.zeros(n)
    if "margin" in stores and "margin" not in kwargs:
        m = pd.to_numeric(stores["margin"], errors="coerce").to_numpy(np.float64)
        kwargs["margin"] = np.where(np.isfinite(m), m, spec.gross_margin)
    if oracle is None and market is None and scenario is not None:
        try:
            market = market_for_plan(plan, scenario)
        except (StoreplanError, ImportError):
            market = None
    if oracle is None:
        oracle = (
            oracle_from_market(market, ids)
            if market is not None
            else oracle_from_plan(plan, spec.spend_per_person)
        )
    if must_open is None and scenario is not None and scenario.constraints.must_open:
        must_open = np.isin(ids, [str(s) for s in scenario.constraints.must_open]) & ~exist
    if "seed" not in kwargs and scenario is not None:
        kwargs["seed"] = scenario.options.seed
    extra = {}
    if "region" in stores:
        extra["region"] = stores["region"].astype(object).to_numpy()
    return schedule(
        oracle,
        np.where(exist, 0.0, oc),
        fc,
        spec,
        ids=ids,
        existing=exist,
        must_open=must_open,
        extra=extra,
        **kwargs,
    )
