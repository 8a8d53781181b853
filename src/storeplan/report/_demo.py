"""A synthetic, plan-shaped object for previews, tests and size benchmarks of the reports.

Nothing here is real data: the areas are random points in a box over eastern China.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["demo_plan", "add_market", "add_rollout", "CATEGORIES"]

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


def demo_plan(
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
) -> Any:
    """Return a synthetic object with the attributes of :class:`storeplan.plan.Plan`.

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
        Add the market-model outputs (see :func:`add_market`).
    rollout_years : int, default 0
        With ``> 0``, also schedule the stores over this many years and forecast them
        (see :func:`add_rollout`; implies ``market``).
    calibration : bool, default False
        Add a ``metrics["calibration"]`` fit report (made up).

    Returns
    -------
    types.SimpleNamespace
        With ``scenario_name, objective, stores, assignment, areas, rivals, metrics,
        coverage_curve, provenance, notes, schedule, forecast``.
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
        plan = add_market(plan, seed=seed)
    if calibration:
        plan.metrics["calibration"] = {
            "n_stores": int((status == "existing").sum()),
            "r2": 0.87,
            "mape": 0.123,
            "fitted": {"decay": 1.74, "outside": 0.21},
            "success": True,
        }
    if rollout_years > 0:
        plan = add_rollout(plan, years=rollout_years, seed=seed)
    return plan


def add_market(plan: Any, *, seed: int = 0, spend_per_person: float = 2_000.0) -> Any:
    """Add made-up market-model outputs shaped like those of ``storeplan.solve``.

    Parameters
    ----------
    plan : SimpleNamespace
        From :func:`demo_plan`; changed in place (and returned).
    seed : int
        Random seed.
    spend_per_person : float
        Offline spending per person per year in the served areas, currency.

    Returns
    -------
    types.SimpleNamespace
        ``plan`` with ``stores`` columns ``revenue, offline_revenue, online_transfer,
        revenue_<category>, from_own_stores, from_online, net_gain, catchment_share``,
        ``assignment`` columns ``market, online_revenue, share_before, share_after`` and
        the market metrics (``own_revenue, market_share, net_gain, ...``).
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
    own = np.where(new, stores["revenue"] * rng.uniform(0.02, 0.15, len(stores)), np.nan)
    onl = np.where(new, online * 0.95, np.nan)
    stores["from_own_stores"] = own
    stores["from_online"] = onl
    stores["net_gain"] = np.where(new, stores["revenue"] - own - onl, np.nan)
    stores["catchment_share"] = np.divide(offline, cm, out=np.zeros(len(stores)), where=cm > 0)
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
            "net_gain": float(np.nansum(stores["net_gain"])),
            "cannibalised_from_own_stores": float(np.nansum(own)),
            "cannibalised_from_online": float(np.nansum(onl)),
            "rival_revenue": total * 0.4,
        }
    )
    return plan


def add_rollout(
    plan: Any,
    *,
    years: int = 3,
    seed: int = 0,
    target_factor: tuple[float, ...] = (0.5, 0.8, 1.3),
    ramp_months: float = 12.0,
) -> Any:
    """Schedule the plan's stores over ``years`` and forecast them (real rollout code).

    Uses :func:`storeplan.rollout.rollout_plan` with the no-market fallback oracle
    (nearest store, population x spend) and :func:`storeplan.forecast.forecast`, so
    ``plan.schedule`` and ``plan.forecast`` are the real types.

    Parameters
    ----------
    plan : SimpleNamespace
        From :func:`demo_plan`; changed in place (and returned).
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
    types.SimpleNamespace
        ``plan`` with ``schedule``, ``forecast`` and ``metrics["rollout"]``.
    """
    from ..forecast import forecast
    from ..rollout import RolloutSpec, oracle_from_plan, rollout_plan

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
    plan.schedule, plan.forecast = sched, fc
    plan.metrics["rollout"] = {
        **fc.headline(),
        "years": years,
        "opened_per_year": [int(x) for x in sched.opened_per_year()],
        "capex_per_year": [float(x) for x in sched.capex_per_year()],
        "method": sched.method,
        "npv_bound": sched.bound,
        "npv_gap": sched.gap,
    }
    return plan
