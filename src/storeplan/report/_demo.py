"""A synthetic, plan-shaped object for previews, tests and size benchmarks of the reports.

Nothing here is real data: the areas are random points in a box over eastern China.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["demo_plan"]

_REGIONS = (
    "Guangdong", "Shandong", "Henan", "Jiangsu", "Sichuan", "Hebei", "Hunan", "Zhejiang",
    "Anhui", "Hubei", "Guangxi", "Yunnan", "Jiangxi", "Liaoning", "Fujian", "Shaanxi",
    "Guizhou", "Shanxi", "Chongqing", "Heilongjiang",
)


def _km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def demo_plan(
    n_areas: int = 400,
    n_stores: int = 25,
    n_rivals: int = 120,
    *,
    seed: int = 0,
    radius_km: float | None = 60.0,
    objective: str = "coverage",
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

    Returns
    -------
    types.SimpleNamespace
        With ``scenario_name, objective, stores, assignment, areas, rivals, metrics,
        coverage_curve, provenance, notes``.
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
    areas = pd.DataFrame({
        "id": [f"A{i:05d}" for i in range(n_areas)],
        "name": [f"Area {i} <{region[i][:3]}>" for i in range(n_areas)],
        "lon": lon, "lat": lat, "population": pop, "region": region,
        "level": "county", "population_source": "derived",
    })
    # Stores at the most populous areas (a crude stand-in for a solver).
    site = np.argsort(-pop)[:n_stores]
    d = _km(lon[:, None], lat[:, None], lon[site][None, :], lat[site][None, :])
    j = d.argmin(axis=1)
    km = d[np.arange(n_areas), j]
    served = np.ones(n_areas, bool) if radius_km is None else km <= radius_km
    status = np.where(np.arange(n_stores) % 5 == 4, "existing", "new")
    fmt = np.where(np.arange(n_stores) % 3 == 0, "flagship", "standard")
    sid = np.array([f"S{k:04d}" for k in range(n_stores)])
    cov = np.bincount(j[served], weights=pop[served], minlength=n_stores)
    nar = np.bincount(j[served], minlength=n_stores)
    stores = pd.DataFrame({
        "id": sid, "lon": lon[site], "lat": lat[site], "format": fmt,
        "region": region[site], "status": status, "covered_population": cov,
        "demand_captured": cov * 0.0031, "n_areas": nar,
        "revenue": cov * 0.0031 * 5200.0,
    })
    assignment = pd.DataFrame({
        "area_id": areas["id"],
        "store_id": pd.array(np.where(served, sid[j], None), dtype="string"),
        "km": np.where(served, km, np.nan),
    })
    brands = np.array(["Xiaomi", "Huawei", "Apple", "Oppo", "Vivo"])
    rw = rng.integers(0, n_areas, n_rivals)
    rivals = pd.DataFrame({
        "id": [f"R{i:05d}" for i in range(n_rivals)],
        "brand": brands[rng.integers(0, len(brands), n_rivals)],
        "lon": lon[rw] + rng.normal(0, 0.05, n_rivals),
        "lat": lat[rw] + rng.normal(0, 0.05, n_rivals),
    })
    total = float(pop.sum())
    covered = float(pop[served].sum())
    ks = np.unique(np.linspace(1, n_stores, min(n_stores, 25)).astype(int))
    curve_cov, curve_km = [], []
    best, done = np.full(n_areas, np.inf), 0
    for k in ks:  # stores taken in order; one pass over the distance matrix
        best = np.minimum(best, d[:, done:k].min(axis=1))
        done = k
        curve_cov.append(float(pop[best <= (radius_km or np.inf)].sum()))
        curve_km.append(float(np.average(best, weights=pop)))
    coverage_curve = pd.DataFrame({
        "n_stores": ks, "covered_population": curve_cov,
        "covered_share": np.array(curve_cov) / total, "mean_km": curve_km,
    })
    metrics = {
        "objective": covered, "bound": covered * 1.004, "gap": 0.004,
        "proven_optimal": False, "seconds": 12.34, "n_stores": n_stores,
        "covered_population": covered, "coverage_share": covered / total,
        "mean_km": float(np.average(km[served], weights=pop[served])) if served.any() else None,
        "median_km": float(np.median(km[served])) if served.any() else None,
        "radius_km": radius_km, "total_population": total, "method": "demo-greedy",
    }
    return SimpleNamespace(
        scenario_name="Demo <plan> & test",
        objective=objective,
        stores=stores,
        assignment=assignment,
        areas=areas,
        rivals=rivals,
        metrics=metrics,
        coverage_curve=coverage_curve,
        provenance={
            "seed": seed, "scenario_hash": "0123456789abcdef",
            "versions": {"storeplan": "0.1.0", "numpy": np.__version__},
            "created": "2026-01-01T00:00:00+00:00",
        },
        notes=(
            "Places: GeoNames (CC BY 4.0)",
            "Rival stores: synthetic layer (randomly generated, not real locations)",
        ),
    )
