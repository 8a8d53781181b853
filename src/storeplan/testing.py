"""Testing helpers: fake plans and :func:`assert_plan_equal` (like ``geopandas.testing``).

:func:`fake_plan` builds a real :class:`storeplan.plan.Plan` from made-up data in
milliseconds, for tests, previews and size benchmarks of the reports. Nothing in it is
real data: the areas are random points in a box over eastern China; the stores sit at
the most populous areas; the market figures are invented but keep the plan's
accounting identities (per-store attributions sum to the totals). The rollout of
:func:`add_rollout` is computed by the real rollout code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from .assumptions import FormatAssumption, PlanAssumptions
from .metrics import CalibrationSummary, PlanMetrics
from .plan import Plan

__all__ = [
    "fake_plan",
    "fake_world_plan",
    "add_rollout",
    "assert_plan_equal",
    "assert_frame_equal",
    "CATEGORIES",
]

#: Product categories of the synthetic revenue columns (``revenue_<category>``).
CATEGORIES = ("phones", "tv_home", "smart_home")

_REGIONS = (
    "Guangdong",
    "Shandong",
    "Henan",
    "Jiangsu",
    "Sichuan",
    "Hebei",
    "Hunan",
    "Zhejiang",
    "Anhui",
    "Hubei",
    "Guangxi",
    "Yunnan",
    "Jiangxi",
    "Liaoning",
    "Fujian",
    "Shaanxi",
    "Guizhou",
    "Shanxi",
    "Chongqing",
    "Heilongjiang",
)


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _dot_km(dot: np.ndarray) -> np.ndarray:
    """Great-circle km from the dot product of two unit vectors."""
    chord = np.sqrt(np.clip(2.0 - 2.0 * dot, 0.0, 4.0))
    return 2 * 6371.0088 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def fake_plan(
    n_areas: int = 400,
    n_stores: int = 25,
    n_rivals: int = 120,
    *,
    seed: int = 0,
    radius_km: float | None = 60.0,
    objective: str = "coverage",
    market: bool = False,
    rollout_years: int = 0,
    calibration: bool = False,
) -> Plan:
    """A :class:`storeplan.plan.Plan` of made-up data (see the module docstring).

    Parameters
    ----------
    n_areas, n_stores, n_rivals : int
        Table sizes.
    seed : int
        Random seed.
    radius_km : float, optional
        Coverage radius: areas farther than this from every store are unserved. ``None``
        serves every area from its nearest store.
    objective : str
        Objective kind recorded in the plan.
    market : bool, default False
        Add made-up market-model outputs (revenue per store, shares, cannibalisation).
    rollout_years : int, default 0
        With ``> 0``, also schedule the stores over this many years and forecast them
        (see :func:`add_rollout`; implies ``market``).
    calibration : bool, default False
        Add a made-up calibration fit report.

    Returns
    -------
    Plan
    """
    rng = np.random.default_rng(seed)
    # Clustered "cities" so the map and the distance histogram look plausible.
    n_centres = max(3, n_areas // 60)
    clon = rng.uniform(103.0, 122.0, n_centres)
    clat = rng.uniform(22.0, 40.0, n_centres)
    which = rng.integers(0, n_centres, n_areas)
    lon = clon[which] + rng.normal(0, 0.6, n_areas)
    lat = clat[which] + rng.normal(0, 0.45, n_areas)
    pop = np.round(rng.lognormal(11.0, 1.0, n_areas))
    region = np.array(_REGIONS)[which % len(_REGIONS)]
    areas = pd.DataFrame(
        {
            "id": [f"A{i:05d}" for i in range(n_areas)],
            "name": [f"Area {i} <{region[i][:3]}>" for i in range(n_areas)],
            "lon": lon,
            "lat": lat,
            "population": pop,
            "region": region,
            "level": "county",
            "population_source": "derived",
        }
    )
    # Stores at the most populous areas (a crude stand-in for a solver).
    site = np.argsort(-pop)[:n_stores]
    # Nearest store by the largest dot product of unit vectors (one matrix product);
    # km only for the pairs needed, so 16,000 x 1,000 takes a fraction of a second.
    dot = _unit(lon, lat) @ _unit(lon[site], lat[site]).T
    j = dot.argmax(axis=1)
    km = _dot_km(dot[np.arange(n_areas), j])
    served = np.ones(n_areas, bool) if radius_km is None else km <= radius_km
    status = np.where(np.arange(n_stores) % 5 == 4, "existing", "new")
    fmt = np.where(np.arange(n_stores) % 3 == 0, "flagship", "standard")
    sid = np.array([f"S{k:04d}" for k in range(n_stores)])
    cov = np.bincount(j[served], weights=pop[served], minlength=n_stores)
    nar = np.bincount(j[served], minlength=n_stores)
    stores = pd.DataFrame(
        {
            "id": sid,
            "lon": lon[site],
            "lat": lat[site],
            "format": fmt,
            "region": region[site],
            "status": status,
            "covered_population": cov,
            "demand_captured": cov * 0.0031,
            "n_areas": nar,
            "revenue": cov * 0.0031 * 5200.0,
        }
    )
    assignment = pd.DataFrame(
        {
            "area_id": areas["id"],
            "store_id": pd.array(np.where(served, sid[j], None), dtype="string"),
            "km": np.where(served, km, np.nan),
        }
    )
    brands = np.array(["Xiaomi", "Huawei", "Apple", "Oppo", "Vivo"])
    rw = rng.integers(0, n_areas, n_rivals)
    rivals = pd.DataFrame(
        {
            "id": [f"R{i:05d}" for i in range(n_rivals)],
            "brand": brands[rng.integers(0, len(brands), n_rivals)],
            "lon": lon[rw] + rng.normal(0, 0.05, n_rivals),
            "lat": lat[rw] + rng.normal(0, 0.05, n_rivals),
        }
    )
    total = float(pop.sum())
    covered = float(pop[served].sum())
    ks = np.unique(np.linspace(1, n_stores, min(n_stores, 25)).astype(int))
    curve_cov, curve_km = [], []
    best_dot, done = np.full(n_areas, -1.0), 0
    for k in ks:  # stores taken in order; one pass over the matrix
        best_dot = np.maximum(best_dot, dot[:, done:k].max(axis=1))
        best = _dot_km(best_dot)
        done = k
        curve_cov.append(float(pop[best <= (radius_km or np.inf)].sum()))
        curve_km.append(float(np.average(best, weights=pop)))
    coverage_curve = pd.DataFrame(
        {
            "n_stores": ks,
            "covered_population": curve_cov,
            "covered_share": np.array(curve_cov) / total,
            "mean_km": curve_km,
        }
    )
    metrics = {
        "objective": covered,
        "bound": covered * 1.004,
        "gap": 0.004,
        "proven_optimal": False,
        "seconds": 12.34,
        "n_stores": n_stores,
        "covered_population": covered,
        "coverage_share": covered / total,
        "mean_km": float(np.average(km[served], weights=pop[served])) if served.any() else None,
        "median_km": float(np.median(km[served])) if served.any() else None,
        "radius_km": radius_km,
        "total_population": total,
        "method": "demo-greedy",
    }
    plan = SimpleNamespace(
        scenario_name="Demo <plan> & test",
        objective=objective,
        stores=stores,
        assignment=assignment,
        areas=areas,
        rivals=rivals,
        metrics=metrics,
        coverage_curve=coverage_curve,
        provenance={
            "seed": seed,
            "scenario_hash": "0123456789abcdef",
            "versions": {"storeplan": "0.1.0", "numpy": np.__version__},
            "created": "2026-01-01T00:00:00+00:00",
        },
        notes=(
            "Places: GeoNames (CC BY 4.0)",
            "Rival stores: synthetic layer (randomly generated, not real locations)",
        ),
        schedule=None,
        forecast=None,
    )
    if market or rollout_years > 0:
        plan = _add_market(plan, seed=seed)
    if calibration:
        plan.metrics["calibration"] = CalibrationSummary(
            n_stores=int((status == "existing").sum()),
            r2=0.87,
            mape=0.123,
            fitted={"decay": 1.74, "outside": 0.21},
            success=True,
        )
    out = _to_plan(plan, n_areas=n_areas, n_rivals=n_rivals)
    if rollout_years > 0:
        out = add_rollout(out, years=rollout_years, seed=seed)
    return out


_NAN = float("nan")


def _to_plan(ns: Any, *, n_areas: int, n_rivals: int) -> Plan:
    m = dict(ns.metrics)
    stores = ns.stores
    new = (stores["status"] == "new").to_numpy()
    base: dict[str, Any] = {
        "objective_unit": "persons",
        "model_objective": m.get("objective", _NAN),
        "sense": "max",
        "iterations": 0,
        "solve_seconds": m.get("seconds", _NAN),
        "n_new_stores": int(new.sum()),
        "n_existing_stores": int((~new).sum()),
        "n_areas": n_areas,
        "n_candidate_sites": n_areas,
        "n_rival_stores": n_rivals,
        "network_pairs": n_areas * len(stores),
        "network_complete": True,
        "max_km": float(np.nanmax(ns.assignment["km"])) if ns.assignment["km"].notna().any() else _NAN,
        "opening_cost": float(stores["opening_cost"].where(new, 0.0).sum())
        if "opening_cost" in stores
        else 0.0,
        "yearly_fixed_cost": float(stores["fixed_cost"].sum()) if "fixed_cost" in stores else 0.0,
    }
    for f in dataclasses.fields(PlanMetrics):
        if f.name not in m and f.name not in base and f.default is dataclasses.MISSING:
            base[f.name] = _NAN
    base.update(m)
    for k in ("mean_km", "median_km", "radius_km"):
        if base.get(k) is None:
            base[k] = _NAN
    return Plan(
        scenario_name=ns.scenario_name,
        objective=ns.objective,
        stores=ns.stores,
        assignment=ns.assignment,
        areas=ns.areas,
        rivals=ns.rivals,
        metrics=PlanMetrics(**base),
        coverage_curve=ns.coverage_curve,
        provenance=ns.provenance,
        notes=ns.notes,
        assumptions=FAKE_ASSUMPTIONS,
    )


#: The made-up plans' assumptions (the formats' costs are those of ``_add_market``).
FAKE_ASSUMPTIONS = PlanAssumptions(
    formats=(
        FormatAssumption("flagship", 8e6, 4e6, attractiveness=4.0, levels=("city",)),
        FormatAssumption("standard", 1.5e6, 0.9e6, capacity=250_000.0),
    ),
    stores=None,
    radius_km=60.0,
    min_spacing_km=2.0,
    decay="power",
    decay_by_level={"city": 2.0, "county": 2.2, "township": 2.5},
    default_decay=2.0,
    min_km=1.0,
    outside=0.05,
    outside_per_100k=3.0,
    transfer_rate=0.15,
    rival_attractiveness=1.0,
    online_order_value=1200.0,
    categories=("phones", "tv_home", "smart_home"),
)


def _add_market(plan: Any, *, seed: int = 0, spend_per_person: float = 2_000.0) -> Any:
    """Add made-up market-model outputs shaped like those of ``storeplan.solve``.

    ``plan`` (a namespace) is changed in place and returned, with the ``stores``
    columns of a solved plan's market outputs, the ``assignment`` columns ``market,
    online_revenue, share_before, share_after`` and the market metrics. The per-store
    attributions sum to the totals, as in a solved plan.
    """
    rng = np.random.default_rng(seed + 101)
    areas, asg, stores = plan.areas, plan.assignment.copy(), plan.stores.copy()
    n = len(areas)
    market = areas["population"].to_numpy(float) * spend_per_person * rng.uniform(0.5, 1.5, n)
    km = pd.to_numeric(asg["km"], errors="coerce").to_numpy(float)
    served = np.isfinite(km)
    # Share falls with distance to our store; existing stores already held part of it.
    after = np.where(served, 0.55 * np.exp(-np.nan_to_num(km, nan=1e9) / 25.0), 0.0)
    after *= rng.uniform(0.6, 1.0, n)
    sid = asg["store_id"].astype(object).to_numpy()
    status = dict(zip(stores["id"], stores["status"], strict=True))
    existing_area = np.array([status.get(s) == "existing" for s in sid])
    before = np.where(existing_area, after * 0.9, after * rng.uniform(0.0, 0.25, n))
    asg["market"] = market
    asg["online_revenue"] = market * 0.02
    asg["share_before"] = before
    asg["share_after"] = after
    # Store revenue = the offline spending its areas give it (+ a little online transfer).
    pos = {s: i for i, s in enumerate(stores["id"])}
    j = np.array([pos.get(s, -1) if s is not None and not pd.isna(s) else -1 for s in sid])
    ok = j >= 0
    offline = np.bincount(j[ok], weights=(market * after)[ok], minlength=len(stores))
    cm = np.bincount(j[ok], weights=market[ok], minlength=len(stores))
    online = offline * rng.uniform(0.002, 0.01, len(stores))
    stores["revenue"] = offline + online
    stores["offline_revenue"] = offline
    stores["online_transfer"] = online
    mix = rng.dirichlet([6.0, 2.5, 1.5], len(stores))
    for k, cat in enumerate(CATEGORIES):
        stores[f"revenue_{cat}"] = offline * mix[:, k]
    new = (stores["status"] == "new").to_numpy()
    has_existing = bool((~new).any())
    share_taken = rng.uniform(0.02, 0.15, len(stores)) if has_existing else np.zeros(len(stores))
    own = np.where(new, stores["revenue"] * share_taken, np.nan)
    onl = np.where(new, online * 0.95, np.nan)
    stores["from_existing_stores"] = own
    stores["from_online"] = onl
    stores["net_gain"] = np.where(new, stores["revenue"] - own - onl, np.nan)
    stores["marginal_net_gain"] = stores["net_gain"] * 1.08
    taken_total = float(np.nansum(own))
    ex_rev = np.where(new, 0.0, stores["revenue"].to_numpy(float))
    ex_w = ex_rev / ex_rev.sum() if ex_rev.sum() > 0 else ex_rev
    stores["taken_by_new_stores"] = np.where(new, np.nan, taken_total * ex_w)
    stores["baseline_revenue"] = np.where(new, np.nan, ex_rev + taken_total * ex_w)
    stores["catchment_share"] = np.clip(
        np.divide(offline, cm, out=np.zeros(len(stores)), where=cm > 0), 0.0, 1.0
    )
    flagship = (stores["format"] == "flagship").to_numpy() if "format" in stores else False
    stores["opening_cost"] = np.where(flagship, 8e6, 1.5e6)
    stores["fixed_cost"] = np.where(flagship, 4e6, 0.9e6)
    total = float(market.sum())
    plan.assignment, plan.stores = asg, stores
    plan.metrics.update(
        {
            "total_market": total,
            "own_revenue": float(stores["revenue"].sum()),
            "own_offline_revenue": float(offline.sum()),
            "online_transfer": float(online.sum()),
            "market_share": float(offline.sum() / total),
            "market_share_before": float(np.dot(market, before) / total),
            "new_store_revenue": float(stores.loc[new, "revenue"].sum()),
            "existing_revenue": float(stores.loc[~new, "revenue"].sum()),
            "existing_revenue_before": float(stores.loc[~new, "baseline_revenue"].sum()),
            "taken_from_existing_stores": float(stores.loc[~new, "taken_by_new_stores"].sum()),
            "taken_from_online": float(np.nansum(onl)),
            "net_gain": float(np.nansum(stores["net_gain"])),
            "rival_revenue": total * 0.4,
        }
    )
    return plan


def add_rollout(
    plan: Plan,
    *,
    years: int = 3,
    seed: int = 0,
    target_factor: tuple[float, ...] = (0.5, 0.8, 1.3),
    ramp_months: float = 12.0,
) -> Plan:
    """Schedule the plan's stores over ``years`` and forecast them (real rollout code).

    Uses :func:`storeplan.rollout.rollout_plan` with the no-market fallback oracle
    (nearest store, population x spend) and :func:`storeplan.rollout.forecast`.

    Parameters
    ----------
    plan : Plan
        From :func:`fake_plan`.
    years : int
        Rollout years; the new stores are spread evenly over them.
    seed : int
        Seed of the schedule's improvement step.
    target_factor : tuple of float
        Sales target of year ``t`` = ``target_factor[t]`` x the sales of the full network
        at full ramp (the last factor repeats); above 1 the target is missed.
    ramp_months : float
        Months to full sales.

    Returns
    -------
    Plan
        A copy of ``plan`` with ``schedule``, ``forecast`` and ``metrics.rollout``.
    """
    from .rollout import RolloutSpec, forecast, oracle_from_plan, rollout_plan, rollout_summary

    n_new = int((plan.stores["status"] == "new").sum())
    per_year = [len(c) for c in np.array_split(np.arange(n_new), years)]
    spend = 1_000.0
    oracle = oracle_from_plan(plan, spend)
    full = float(np.sum(oracle(np.arange(len(plan.stores)))))
    factors = [target_factor[min(t, len(target_factor) - 1)] for t in range(years)]
    spec = RolloutSpec(
        years=years,
        start_year=2027,
        stores_per_year=per_year,
        min_stores_per_year=per_year,
        ramp_months=ramp_months,
        target_revenue=[f * full for f in factors],
        horizon_years=max(years, 6),
        improve_seconds=0.2,
    )
    sched = rollout_plan(plan, spec, oracle=oracle, seed=seed)
    fc = forecast(sched, oracle)
    summary = rollout_summary(years, sched, fc)
    return replace(plan, schedule=sched, forecast=fc, metrics=replace(plan.metrics, rollout=summary))


# ---------------------------------------------------------------------------- assertions
def assert_frame_equal(left: pd.DataFrame, right: pd.DataFrame, name: str = "frame", **kwargs: Any) -> None:
    """``pandas.testing.assert_frame_equal`` with the table's name in the message; dtypes of
    all-missing and string/object columns are not compared (a saved and loaded table may
    store them differently), values are."""
    kwargs.setdefault("check_dtype", False)
    kwargs.setdefault("check_index_type", False)
    try:
        pd.testing.assert_frame_equal(_norm(left), _norm(right), **kwargs)
    except AssertionError as exc:
        raise AssertionError(f"{name} differ: {exc}") from None


def _norm(df: pd.DataFrame) -> pd.DataFrame:
    """Missing values of object / string columns as None (None, NaN and pd.NA alike)."""
    out = df.reset_index(drop=True).copy()
    for c in out.columns:
        if out[c].dtype == object or isinstance(out[c].dtype, pd.StringDtype):
            col = out[c].astype(object)
            out[c] = col.where(col.notna(), None)
    return out


def assert_plan_equal(left: Plan, right: Plan, *, check_provenance: bool = True, rtol: float = 0.0) -> None:
    """Assert that two plans hold the same stores, assignment, metrics, rollout and forecast.

    Parameters
    ----------
    left, right : Plan
    check_provenance : bool
        Also compare provenance (creation time, versions, seed, scenario hash).
    rtol : float
        Relative tolerance of float comparisons (0: exact).

    Raises
    ------
    AssertionError
        Naming the first part that differs.
    """
    exact = rtol == 0.0
    kw: dict[str, Any] = {"check_exact": exact} if exact else {"rtol": rtol}
    assert left.scenario_name == right.scenario_name, "scenario names differ"
    assert left.objective == right.objective, "objectives differ"
    assert_frame_equal(left.stores, right.stores, "stores", **kw)
    assert_frame_equal(left.assignment, right.assignment, "assignments", **kw)
    assert_frame_equal(left.coverage_curve, right.coverage_curve, "coverage curves", **kw)
    a, b = left.metrics.to_dict(), right.metrics.to_dict()
    assert a.keys() == b.keys(), f"metrics differ in keys: {sorted(set(a) ^ set(b))}"
    for k in a:
        _assert_value_equal(a[k], b[k], f"metrics.{k}", rtol)
    assert tuple(left.notes) == tuple(right.notes), "notes differ"
    if check_provenance:
        assert left.provenance == right.provenance, "provenance differs"
    assert (left.schedule is None) == (right.schedule is None), "one plan has a schedule, the other not"
    if left.schedule is not None and right.schedule is not None:
        ls, rs = left.schedule, right.schedule
        np.testing.assert_array_equal(ls.ids, rs.ids, err_msg="schedule ids differ")
        np.testing.assert_array_equal(ls.open_year, rs.open_year, err_msg="opening years differ")
        assert ls.spec == rs.spec, "rollout specs differ"
        _assert_value_equal(ls.npv, rs.npv, "schedule.npv", rtol)
    assert (left.forecast is None) == (right.forecast is None), "one plan has a forecast, the other not"
    if left.forecast is not None and right.forecast is not None:
        assert_frame_equal(left.forecast.per_year, right.forecast.per_year, "forecast per year", **kw)
        assert_frame_equal(
            left.forecast.per_store_year, right.forecast.per_store_year, "forecast per store", **kw
        )
        _assert_value_equal(left.forecast.headline(), right.forecast.headline(), "forecast", rtol)


def _assert_value_equal(a: Any, b: Any, name: str, rtol: float) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{name} differ in keys"
        for k in a:
            _assert_value_equal(a[k], b[k], f"{name}.{k}", rtol)
        return
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{name} differ in length"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_value_equal(x, y, f"{name}[{i}]", rtol)
        return
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        fa, fb = float(a), float(b)
        if np.isnan(fa) and np.isnan(fb):
            return
        ok = fa == fb if rtol == 0.0 else bool(np.isclose(fa, fb, rtol=rtol, atol=0.0))
        assert ok, f"{name} differ: {a!r} != {b!r}"
        return
    assert a == b, f"{name} differ: {a!r} != {b!r}"


# ----------------------------------------------------------------------------- world plans

#: Made-up exchange rates of :func:`fake_world_plan` (units per 1 USD); other currencies
#: fall back to USD.
_FAKE_FX = {"USD": 1.0, "EUR": 0.92, "THB": 35.5, "MYR": 4.6, "VND": 24_500.0, "SGD": 1.34}


def fake_world_plan(
    countries: tuple[str, ...] | list[str] = ("VN", "TH", "MY"),
    years: int = 5,
    seed: int = 0,
    *,
    horizon: int | None = None,
) -> Any:
    """A made-up :class:`storeplan.world.WorldPlan` whose tables add up.

    The stores sit at the most populous places of each country in
    :func:`storeplan.datasets.world` (real coordinates); everything else (entry years,
    stores per year, formats, sales, costs, NPVs, bounds) is invented. The identities
    the world outputs rely on hold exactly: each country's ``stores`` and
    ``stores_year_<t>`` equal the stores table's rows; the year table's ``new_stores``,
    ``capex`` and ``revenue`` are the sums over the stores; the metrics are the sums of
    the country rows. With three or more countries the least attractive third is not
    entered (``entry_year`` 0).

    Parameters
    ----------
    countries : sequence of str
        ISO2 codes of :func:`storeplan.datasets.world`.
    years : int, default 5
        Rollout years (>= 1).
    seed : int, default 0
        Seed of the made-up figures.
    horizon : int, optional
        Years of the year table (default ``years + 2``: the years after the rollout
        open no store but count in the cash flow).

    Returns
    -------
    WorldPlan
        Planning currency USD, ``start_year`` 2027, ``plans`` empty.
    """
    from .datasets import world
    from .world.plan import COUNTRY_COLUMNS, STORE_COLUMNS, YEAR_COLUMNS, WorldMetrics, WorldPlan

    if years < 1:
        raise ValueError(f"years must be >= 1, got {years}")
    horizon = years + 2 if horizon is None else int(horizon)
    if horizon < years:
        raise ValueError(f"horizon must be >= years ({years}), got {horizon}")
    rng = np.random.default_rng(seed)
    data = world(list(countries), seed=seed)
    ctab = data.countries.set_index("country")
    codes = list(ctab.index)
    pop = ctab["population"].to_numpy(float)
    income = ctab["gdp_per_capita_usd"].fillna(5_000.0).to_numpy(float)
    value = pop * income * rng.uniform(0.8, 1.2, len(codes))
    order = [codes[k] for k in np.argsort(-value, kind="stable")]
    n_enter = len(order) if len(order) < 3 else len(order) - len(order) // 3
    entry = {cc: (min(1 + k, years) if k < n_enter else 0) for k, cc in enumerate(order)}
    ramp = 0.6  # share of full-ramp sales in a store's first year
    margin, fixed_share = 0.35, 0.08

    store_rows = []
    for cc in sorted(codes):
        if entry[cc] == 0:
            continue
        cur = str(ctab.at[cc, "currency"]) if str(ctab.at[cc, "currency"]) in _FAKE_FX else "USD"
        areas = data.areas[data.areas["country"] == cc].sort_values("population", ascending=False)
        per_year = {t: int(rng.integers(3, 12)) for t in range(entry[cc], years + 1)}
        need = sum(per_year.values())
        sites = areas.head(need).reset_index(drop=True)
        k = 0
        for t, n in per_year.items():
            for _ in range(min(n, len(sites) - k)):
                a = sites.iloc[k]
                k += 1
                fmt = "flagship" if rng.random() < 0.15 else "showroom"
                own = "own" if fmt == "flagship" or rng.random() < 0.3 else "partner"
                rev = float(rng.uniform(0.4e6, 2.5e6) * (3.0 if fmt == "flagship" else 1.0))
                cost = float(rng.uniform(0.2e6, 0.6e6) * (0.15 if own == "partner" else 1.0))
                years_open = years - t + 1
                cash = rev * (margin - fixed_share) * (years_open - 1 + ramp) - cost
                store_rows.append(
                    {
                        "id": str(a["id"]),
                        "name": str(a["name"]),
                        "country": cc,
                        "lon": float(a["lon"]),
                        "lat": float(a["lat"]),
                        "format": fmt,
                        "ownership": own,
                        "open_year": t,
                        "revenue_full_ramp": rev,
                        "revenue_full_ramp_local": rev * _FAKE_FX[cur],
                        "opening_cost": cost,
                        "npv": cash / 1.08 ** (t - 1),
                    }
                )
    stores = pd.DataFrame(store_rows, columns=list(STORE_COLUMNS))
    stores = stores.sort_values(["country", "open_year"], kind="stable").reset_index(drop=True)
    t_all = np.arange(1, years + 1)

    def sales_in(df: pd.DataFrame, t: int) -> float:
        age = t - df["open_year"].to_numpy(int)
        factor = np.where(age < 0, 0.0, np.where(age == 0, ramp, 1.0))
        return float((df["revenue_full_ramp"].to_numpy(float) * factor).sum())

    crow: list[dict[str, Any]] = []
    for rank, cc in enumerate(order, start=1):
        s = stores[stores["country"] == cc]
        cur = str(ctab.at[cc, "currency"]) if str(ctab.at[cc, "currency"]) in _FAKE_FX else "USD"
        npv = float(s["npv"].sum())
        gap = float(rng.uniform(0.0, 0.03)) if len(s) else 0.0
        bound = npv + gap * abs(npv)
        country_cash = [
            sales_in(s, int(t)) * (margin - fixed_share)
            - float(s.loc[s["open_year"] == t, "opening_cost"].sum())
            for t in t_all
        ]
        cum_c = np.cumsum(country_cash)
        pay = int(t_all[np.argmax(cum_c > 0)]) if len(s) and (cum_c > 0).any() else 0
        pc = float(ctab.at[cc, "population"])
        row = {
            "country": cc,
            "name": str(ctab.at[cc, "name"]),
            "currency": cur,
            "fx_per_planning": _FAKE_FX[cur],
            "rank": rank,
            "entry_year": entry[cc],
            "stores": len(s),
            "stores_own": int((s["ownership"] == "own").sum()),
            "stores_partner": int((s["ownership"] == "partner").sum()),
            "revenue_final_year": sales_in(s, years),
            "revenue_full_ramp": float(s["revenue_full_ramp"].sum()),
            "capex": float(s["opening_cost"].sum()),
            "npv": npv,
            "npv_bound": bound,
            "gap": (bound - npv) / abs(bound) if bound else 0.0,
            "payback_year": pay,
            "population": pc,
            "income_per_person": float(ctab.at[cc, "gdp_per_capita_usd"]),
            "offline_market": pc * float(ctab.at[cc, "gdp_per_capita_usd"]) * 0.01,
            "online_revenue": float(ctab.at[cc, "online_orders"]) * 250.0,
            "online_orders": float(ctab.at[cc, "online_orders"]),
            "rival_outlets_per_100k": float(ctab.at[cc, "rival_outlets"]) / pc * 1e5 if pc else 0.0,
            "candidate_sites": float(ctab.at[cc, "n_places"]),
            "price_level": float(ctab.at[cc, "price_level"]),
            "cost_level": 1.0,
            "attractiveness_value": float(value[codes.index(cc)]) * 1e-6,
        }
        for ty in range(1, years + 1):
            row[f"stores_year_{ty}"] = int((s["open_year"] == ty).sum())
        crow.append(row)
    ctable = pd.DataFrame(crow, columns=[*COUNTRY_COLUMNS, *(f"stores_year_{t}" for t in t_all)])

    budget = (
        1.2 * max(float(stores.groupby("open_year")["opening_cost"].sum().max()), 1.0)
        if len(stores)
        else np.nan
    )
    yrows = []
    cum = 0.0
    for t in range(1, horizon + 1):
        sel = stores["open_year"] == t
        capex = float(stores.loc[sel, "opening_cost"].sum())
        revenue = sales_in(stores, t)
        cash = revenue * (margin - fixed_share) - capex
        cum += cash
        yrows.append(
            {
                "year": int(t),
                "new_stores": int(sel.sum()),
                "open_stores": int((stores["open_year"] <= t).sum()),
                "countries_entered": int(sum(1 for e in entry.values() if e == t)),
                "countries_present": int(sum(1 for e in entry.values() if 0 < e <= t)),
                "capex": capex,
                "budget": budget if t <= years else np.nan,
                "revenue": revenue,
                "cash_flow": cash,
                "cumulative_cash": cum,
                "target_revenue": 0.9 * revenue if t == years else np.nan,
            }
        )
    ytable = pd.DataFrame(yrows, columns=list(YEAR_COLUMNS))
    npv = float(ctable["npv"].sum())
    alloc = float(ctable["npv_bound"].sum())
    bound = alloc * 1.005 if alloc > 0 else alloc
    cum_cash = ytable["cumulative_cash"].to_numpy(float)
    t_hor = ytable["year"].to_numpy(int)
    metrics = WorldMetrics(
        currency="USD",
        fx_date="2026-11-27",
        countries_considered=len(codes),
        countries_entered=int((ctable["entry_year"] > 0).sum()),
        stores=len(stores),
        stores_own=int((stores["ownership"] == "own").sum()),
        stores_partner=int((stores["ownership"] == "partner").sum()),
        target_stores=int(round(len(stores) * 1.1)),
        npv=npv,
        bound=bound,
        gap=(bound - npv) / abs(bound) if bound else 0.0,
        allocation_bound=alloc,
        capex=float(ctable["capex"].sum()),
        revenue_final_year=float(ytable["revenue"].iloc[years - 1]),
        target_revenue_final_year=float(ytable["target_revenue"].iloc[years - 1]),
        payback_year=int(t_hor[np.argmax(cum_cash > 0)]) if (cum_cash > 0).any() else 0,
        seconds=1.5,
        phase_seconds={"inputs": 0.5, "curves": 0.4, "master": 0.1, "countries": 0.4, "tables": 0.1},
        engine="local",
        workers=1,
    )
    curs = sorted({str(c) for c in ctable["currency"]} | {"USD"})
    fx = pd.DataFrame(
        {
            "currency": curs,
            "per_base": [_FAKE_FX[c] for c in curs],
            "base": "USD",
            "date": "2026-11-27",
            "source": "made-up rates (storeplan.testing.fake_world_plan)",
        }
    )
    return WorldPlan(
        name="fake world plan",
        currency="USD",
        years=years,
        start_year=2027,
        countries=ctable,
        stores=stores,
        years_table=ytable,
        metrics=metrics,
        fx=fx,
        plans={},
        notes=(
            *data.notes,
            "SYNTHETIC: this whole plan is made up (storeplan.testing.fake_world_plan) for tests.",
        ),
    )
