"""``solve(scenario) -> Plan``: the one front door from a scenario to a plan.

Phases (each logged, each reported to an optional ``progress`` callback):

1. ``market``: the Huff market (:mod:`storeplan.market`): offline spending per area,
   every candidate, our existing stores and the rivals; calibrated to the existing
   stores' ``annual_sales`` when they carry it;
2. ``network``: sparse great-circle km from areas to candidate sites + existing stores
   (radius- and k-limited, :class:`storeplan.geo.Network`; the market's own network for
   ``revenue``);
3. ``solve``: the location model; for ``revenue`` the competitive site selection;
4. ``evaluate``: exact metrics: every area's nearest open store by KD-tree (so a
   radius-limited model never misreports a distance), objective, bound and gap, and
   the market outputs of the chosen network (revenue per store and category,
   cannibalisation of our stores and of our web shop, share per area before/after);
5. ``curve``: coverage and mean distance as stores are added in greedy order;
6. ``rollout`` (when the scenario has one): opening year per store and the forecast.

For ``pmedian`` and ``fixed_cost`` on a radius-limited network, an area whose stored
sites are all closed is charged its largest stored distance, a lower bound on its real
distance. The model is then a relaxation of the full problem, so the solver's lower
bound is valid for the full problem, while the objective reported in the plan is the
exact one of the chosen stores. The gap is certified either way.
"""

from __future__ import annotations

import contextlib
import logging
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .geo import Network, haversine_km, nearest, pairs_within
from .plan import Plan
from .scenario import Scenario

__all__ = ["solve", "PHASES"]

log = logging.getLogger(__name__)

#: Phase names reported to ``progress(phase, fraction)``.
PHASES = ("market", "network", "solve", "evaluate", "curve", "rollout")

ProgressFn = Callable[[str, float], None]


def solve(scenario: Scenario, *, progress: ProgressFn | None = None) -> Plan:
    """Plan the store network a scenario describes.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (``Scenario.from_toml`` / ``Scenario.from_frames``).
    progress : callable, optional
        Called as ``progress(phase, fraction_done)`` at the start and end of each phase.

    Returns
    -------
    Plan
        The chosen stores, the area assignment, exact metrics (objective, bound, gap,
        seconds) and provenance (seed, scenario hash, versions).

    Raises
    ------
    InfeasibleError
        The constraints cannot all be met (the message names the constraint).
    """
    from . import solvers

    t_start = time.perf_counter()
    report = progress or (lambda phase, frac: None)
    obj = scenario.objective
    opt = scenario.options
    sites, existing, areas = scenario.sites, scenario.existing, scenario.areas
    n_sites, n_exist = len(sites), len(existing)

    # Columns = candidate sites, then existing stores (always open).
    col_lon = np.concatenate([sites["lon"].to_numpy(float), existing["lon"].to_numpy(float)])
    col_lat = np.concatenate([sites["lat"].to_numpy(float), existing["lat"].to_numpy(float)])
    weights = areas["population"].to_numpy(np.float64)

    # ---------------------------------------------------------------- market
    report("market", 0.0)
    t0 = time.perf_counter()
    market, calibration = _build_market(scenario)
    log.info(
        "market: %d stores (%d rivals), offline spending %.4g per year in %.2f s",
        market.n_stores,
        len(scenario.rivals),
        float(market.market.sum()),
        time.perf_counter() - t0,
    )
    report("market", 1.0)

    # ---------------------------------------------------------------- network
    report("network", 0.0)
    t0 = time.perf_counter()
    if obj.kind == "revenue":
        net = market.net  # the Huff model's own areas x stores network
    elif obj.kind == "coverage":
        net = Network.build(
            areas["lon"], areas["lat"], col_lon, col_lat, radius_km=obj.radius_km, dense_pair_limit=0
        )
    else:
        net = Network.build(
            areas["lon"],
            areas["lat"],
            col_lon,
            col_lat,
            radius_km=opt.max_km,
            k=opt.neighbours,
            dense_pair_limit=opt.dense_pairs,
        )
    log.info(
        "network: %d areas x %d sites, %d pairs (%.1f MB) in %.2f s",
        net.n_areas,
        net.n_sites,
        net.nnz,
        net.nbytes / 1e6,
        time.perf_counter() - t0,
    )
    report("network", 1.0)

    # ---------------------------------------------------------------- constraints
    constraints = _constraints(scenario, col_lon, col_lat)
    p_new = scenario.n_new_stores()
    fmt_names = np.concatenate([scenario.site_formats(), _existing_formats(existing, scenario.format().name)])
    fmt_by_name = {f.name: f for f in scenario.formats}

    # ---------------------------------------------------------------- solve
    report("solve", 0.0)
    t0 = time.perf_counter()
    csr = None if obj.kind == "revenue" else net.to_csr(np.float64)
    if obj.kind == "pmedian":
        sol = solvers.pmedian(
            csr,
            p_new + n_exist,
            weights=weights,
            constraints=constraints,
            unserved_cost=None if net.is_complete else net.row_max_km(),
            time_limit=opt.time_limit,
            seed=opt.seed,
        )
    elif obj.kind == "coverage":
        sol = solvers.coverage(
            csr,
            p_new + n_exist,
            obj.radius_km,
            weights=weights,
            constraints=constraints,
            time_limit=opt.time_limit,
            seed=opt.seed,
        )
    elif obj.kind == "revenue":
        sol = _solve_revenue(scenario, market, constraints, fmt_names[:n_sites], fmt_by_name)
    else:  # fixed_cost
        yearly = np.array([_yearly_cost(fmt_by_name[f], obj.amortisation_years) for f in fmt_names])
        yearly[n_sites:] = 0.0  # existing stores are sunk: kept open at no decision cost
        service = csr.multiply(weights[:, None] * obj.cost_per_km).tocsr()
        service.sort_indices()
        caps = np.array([fmt_by_name[f].capacity for f in fmt_names], dtype=np.float64)
        capacity = caps if (caps > 0).any() else None
        if capacity is not None:
            capacity = np.where(caps > 0, caps, weights.sum() + 1.0)
        sol = solvers.facility_location(
            service,
            yearly,
            capacity=capacity,
            demand=weights if capacity is not None else None,
            p=None if p_new < 0 else p_new + n_exist,
            constraints=constraints,
            unserved_cost=None if net.is_complete else net.row_max_km() * weights * obj.cost_per_km,
            time_limit=opt.time_limit,
            seed=opt.seed,
        )
    solve_seconds = time.perf_counter() - t0
    log.info(
        "solve: %s, objective %.6g, bound %.6g, gap %.3g%% in %.2f s",
        sol.method,
        sol.objective,
        sol.bound,
        100 * sol.gap,
        solve_seconds,
    )
    report("solve", 1.0)

    # ---------------------------------------------------------------- evaluate
    report("evaluate", 0.0)
    open_cols = np.asarray(sol.sites, dtype=np.int64)
    if obj.kind == "revenue":  # the revenue solver returns candidate indices only
        open_cols = np.concatenate([open_cols, n_sites + np.arange(n_exist)])
    km, nearest_idx = nearest(areas["lon"], areas["lat"], col_lon[open_cols], col_lat[open_cols])
    assigned = open_cols[np.asarray(nearest_idx, dtype=np.int64)]
    if obj.kind == "fixed_cost" and capacity is not None:
        # capacities may send an area to another store than its nearest
        sol_assign = np.asarray(sol.assignment, dtype=np.int64)
        has = sol_assign >= 0
        assigned = np.where(has, sol_assign, assigned)
        km = haversine_km(areas["lon"], areas["lat"], col_lon[assigned], col_lat[assigned])
    radius = obj.radius_km
    covered = km <= radius + 1e-9
    exact = _exact_objective(obj.kind, weights, km, covered, open_cols, scenario, fmt_names, n_sites)
    bound = float(sol.bound)
    if obj.kind == "revenue":
        exact = float(sol.objective)  # the Huff model is evaluated exactly on its network
    if obj.kind in ("coverage", "revenue"):
        sense = "max"
        bound = max(bound, exact)
    else:
        sense = "min"
        bound = min(bound, exact)
    gap = abs(exact - bound) / max(abs(exact), 1e-12)
    if gap < 1e-9:
        gap = 0.0
    proven = bool(sol.proven_optimal) and (
        obj.kind in ("coverage", "revenue") or net.is_complete or gap == 0.0
    )

    stores = _stores_table(scenario, open_cols, n_sites, fmt_names, assigned, weights, covered)
    assignment = pd.DataFrame(
        {
            "area_id": areas["id"].to_numpy(),
            "store_id": _col_ids(scenario)[assigned],
            "km": km.astype(np.float64),
            "covered": covered,
        }
    )
    stores, assignment, market_metrics = _market_outputs(
        scenario, market, open_cols, n_sites, stores, assignment, assigned
    )
    report("evaluate", 1.0)

    # ---------------------------------------------------------------- curve
    report("curve", 0.0)
    curve = _coverage_curve(areas, weights, col_lon[open_cols], col_lat[open_cols], radius)
    report("curve", 1.0)

    total_pop = float(weights.sum())
    metrics: dict[str, Any] = {
        "objective": exact,
        "model_objective": float(sol.objective),
        "bound": bound,
        "gap": gap,
        "proven_optimal": proven,
        "sense": sense,
        "method": sol.method,
        "iterations": int(getattr(sol, "iterations", 0)),
        "solve_seconds": solve_seconds,
        "seconds": time.perf_counter() - t_start,
        "n_stores": int(len(open_cols)),
        "n_new_stores": int((open_cols < n_sites).sum()),
        "n_existing_stores": int(n_exist),
        "n_areas": int(len(areas)),
        "n_candidate_sites": int(n_sites),
        "n_rival_stores": int(len(scenario.rivals)),
        "network_pairs": int(net.nnz),
        "network_complete": bool(net.is_complete),
        "total_population": total_pop,
        "radius_km": float(radius),
        "covered_population": float(weights[covered].sum()),
        "coverage_share": float(weights[covered].sum() / total_pop) if total_pop > 0 else 0.0,
        "mean_km": float(np.average(km, weights=weights)) if total_pop > 0 else float(km.mean()),
        "median_km": _weighted_median(km, weights),
        "max_km": float(km.max()) if len(km) else 0.0,
        "opening_cost": float(stores.loc[stores["status"] == "new", "opening_cost"].sum()),
        "yearly_fixed_cost": float(stores["fixed_cost"].sum()),
    }
    metrics.update(market_metrics)
    if calibration is not None:
        metrics["calibration"] = calibration
    if obj.budget is not None:
        metrics["budget"] = float(obj.budget)
    provenance = {
        "seed": opt.seed,
        "time_limit": opt.time_limit,
        "scenario_hash": scenario.content_hash(),
        "source": scenario.source,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    plan = Plan(
        scenario_name=scenario.name,
        objective=obj.kind,
        stores=stores,
        assignment=assignment,
        areas=areas,
        rivals=scenario.rivals,
        solution=sol,
        metrics=metrics,
        coverage_curve=curve,
        provenance=provenance,
        notes=scenario.notes,
    )
    if scenario.rollout is not None:
        plan = _rollout(plan, scenario, market, report)
    return plan


# ---------------------------------------------------------------------------- market
def _build_market(scenario: Scenario):
    """The Huff market of a scenario (candidates = sites), calibrated when possible.

    Returns ``(market, calibration)`` where ``calibration`` is ``None`` or a dict with the
    fit report (R^2, MAPE, fitted values).
    """
    from .market import build_market, calibrate

    existing = scenario.existing
    if len(existing):
        existing = existing.copy()
        names = set(scenario.format_names)
        fmt = existing["format"].astype(object) if "format" in existing.columns else None
        default = scenario.format().name
        existing["format"] = (
            default if fmt is None else fmt.where(fmt.isin(list(names)), default).fillna(default)
        )
    market = build_market(
        scenario.areas,
        scenario.sites[["id", "lon", "lat"]],
        existing=existing,
        rivals=scenario.rivals,
        demand=scenario.demand,
        params=scenario.market_params(),
        candidate_format=scenario.site_formats(),
    )
    cal = scenario.calibration
    if not cal.enabled or "annual_sales" not in existing.columns:
        return market, None
    observed = existing[["id", "annual_sales"]].dropna()
    observed = observed[observed["annual_sales"] > 0]
    if len(observed) < cal.min_stores:
        log.info("calibration skipped: %d existing stores with sales (< %d)", len(observed), cal.min_stores)
        return market, None
    params, rep = calibrate(
        market, observed, fit_decay=cal.fit_decay, fit_formats=cal.fit_formats, fit_outside=cal.fit_outside
    )
    log.info("calibration: %d stores, R^2 %.3f, MAPE %.1f%%", rep.n_stores, rep.r2, 100 * rep.mape)
    info = {
        "n_stores": rep.n_stores,
        "r2": rep.r2,
        "mape": rep.mape,
        "fitted": dict(rep.fitted),
        "success": bool(rep.success),
    }
    return market.with_params(params), info


def _solve_revenue(scenario: Scenario, market, constraints, site_formats, fmt_by_name):
    """Competitive site selection: maximise our offline capture minus yearly fixed costs."""
    from .market import select_sites

    n_sites = len(scenario.sites)
    obj, opt = scenario.objective, scenario.options
    fixed = np.array([fmt_by_name[f].fixed_cost for f in site_formats], dtype=np.float64)
    opening = np.array([fmt_by_name[f].opening_cost for f in site_formats], dtype=np.float64)
    must = constraints.must_open
    must = None if must is None else must[must < n_sites]
    forbidden = constraints.forbidden
    conflicts = constraints.conflicts
    if conflicts is not None and len(conflicts):
        # a candidate too close to an existing store may not open at all
        near_existing = np.concatenate(
            [conflicts[conflicts[:, 1] >= n_sites, 0], conflicts[conflicts[:, 0] >= n_sites, 1]]
        )
        near_existing = near_existing[near_existing < n_sites]
        if len(near_existing):
            forbidden = np.unique(
                np.concatenate([forbidden if forbidden is not None else [], near_existing]).astype(np.int64)
            )
        conflicts = conflicts[(conflicts[:, 0] < n_sites) & (conflicts[:, 1] < n_sites)]
    p = int(obj.stores) if obj.stores is not None else None
    return select_sites(
        market,
        p=p,
        fixed_cost=fixed,
        opening_cost=opening,
        budget=obj.budget if p is None else None,
        must_open=must if must is not None and len(must) else None,
        forbidden=forbidden if forbidden is not None and len(forbidden) else None,
        conflicts=conflicts if conflicts is not None and len(conflicts) else None,
        time_limit=opt.time_limit,
        seed=opt.seed,
    )


def _market_outputs(scenario, market, open_cols, n_sites, stores, assignment, assigned):
    """Revenue per store (by category), cannibalisation, catchment share, share per area."""
    from .demand import offline_spending
    from .market import cannibalisation, capture

    new_idx = np.sort(open_cols[open_cols < n_sites])
    cap = capture(market, new_idx)
    can = cannibalisation(market, new_idx)
    shares = market.shares(new_idx)
    off = offline_spending(scenario.areas, scenario.demand)
    by_id = cap.stores.set_index("id")
    ids = stores["id"].astype(str)
    out = stores.copy()
    out["revenue"] = ids.map(by_id["revenue"]).fillna(0.0).to_numpy()
    out["offline_revenue"] = ids.map(by_id["offline_revenue"]).fillna(0.0).to_numpy()
    out["online_transfer"] = ids.map(by_id["online_transfer"]).fillna(0.0).to_numpy()
    pos = {str(s): k for k, s in enumerate(market.store_ids)}
    store_pos = np.array([pos[s] for s in ids], dtype=np.int64)
    for cat in scenario.demand.category_names:
        rev = shares.store_sum(off[cat].to_numpy(np.float64))
        out[f"revenue_{cat}"] = rev[store_pos]
    cb = can.stores.set_index("id")
    for col in ("from_own_stores", "from_online", "net_gain"):
        out[col] = ids.map(cb[col]).to_numpy(dtype=np.float64)  # NaN for existing stores
    # market share in the catchment: the store's offline revenue over the offline spending
    # of the areas it serves (nearest-store catchment)
    catchment_market = pd.Series(market.market, index=_col_ids(scenario)[assigned]).groupby(level=0).sum()
    cm = ids.map(catchment_market).fillna(0.0).to_numpy()
    out["catchment_share"] = np.divide(
        out["offline_revenue"].to_numpy(), cm, out=np.zeros(len(out)), where=cm > 0
    )
    areas_out = assignment.copy()
    areas_out["market"] = market.market
    areas_out["online_revenue"] = market.online
    areas_out["share_before"] = can.areas["share_before"].to_numpy()
    areas_out["share_after"] = can.areas["share_after"].to_numpy()
    total_market = float(market.market.sum())
    before = float(np.dot(market.market, areas_out["share_before"]))
    metrics = {
        "total_market": total_market,
        "own_revenue": cap.own_revenue,
        "own_offline_revenue": cap.own_offline,
        "online_transfer": cap.online_transfer,
        "market_share": cap.own_offline / total_market if total_market > 0 else 0.0,
        "market_share_before": before / total_market if total_market > 0 else 0.0,
        "net_gain": can.total_net_gain,
        "cannibalised_from_own_stores": float(np.nansum(out["from_own_stores"])),
        "cannibalised_from_online": float(np.nansum(out["from_online"])),
        "rival_revenue": float(cap.stores.loc[cap.stores["kind"] == "rival", "revenue"].sum()),
    }
    return out, areas_out, metrics


def _rollout(plan: Plan, scenario: Scenario, market, report) -> Plan:
    """Schedule the plan's stores over the rollout years and forecast them."""
    from dataclasses import replace

    from .forecast import forecast
    from .rollout import oracle_from_market, rollout_plan

    report("rollout", 0.0)
    t0 = time.perf_counter()
    spec = scenario.rollout
    oracle = oracle_from_market(market, plan.stores["id"].astype(str).tolist())
    sched = rollout_plan(plan, spec, scenario=scenario, oracle=oracle, seed=scenario.options.seed)
    fc = forecast(sched, oracle)
    metrics = dict(plan.metrics)
    metrics["rollout"] = {
        **fc.headline(),
        "years": spec.years,
        "opened_per_year": [int(x) for x in sched.opened_per_year()],
        "capex_per_year": [float(x) for x in sched.capex_per_year()],
        "method": sched.method,
        "npv_bound": sched.bound,
        "npv_gap": sched.gap,
    }
    metrics["seconds"] = plan.metrics["seconds"] + (time.perf_counter() - t0)
    log.info(
        "rollout: %d years, NPV %.4g, payback year %s, target met %s in %.2f s",
        spec.years,
        fc.npv,
        fc.payback_year,
        fc.target_met,
        time.perf_counter() - t0,
    )
    report("rollout", 1.0)
    return replace(plan, metrics=metrics, schedule=sched, forecast=fc)


# ---------------------------------------------------------------------------- helpers
def _yearly_cost(fmt, amortisation_years: float) -> float:
    """Yearly cost of a store: fixed cost + opening cost spread straight-line, currency/year."""
    return float(fmt.fixed_cost + fmt.opening_cost / max(amortisation_years, 1e-9))


def _existing_formats(existing: pd.DataFrame, default: str) -> np.ndarray:
    if "format" in existing.columns:
        return existing["format"].fillna(default).astype(object).to_numpy()
    return np.full(len(existing), default, dtype=object)


def _col_ids(scenario: Scenario) -> np.ndarray:
    return np.concatenate(
        [scenario.sites["id"].astype(object).to_numpy(), scenario.existing["id"].astype(object).to_numpy()]
    )


def _constraints(scenario: Scenario, col_lon: np.ndarray, col_lat: np.ndarray):
    from .solvers import Constraints

    sites, con = scenario.sites, scenario.constraints
    n_sites, n_exist = len(sites), len(scenario.existing)
    must = np.concatenate(
        [np.flatnonzero(sites["must_open"].to_numpy()), n_sites + np.arange(n_exist)]
    ).astype(np.int64)
    forbidden = np.flatnonzero(sites["forbidden"].to_numpy()).astype(np.int64)
    group = group_min = group_max = None
    if con.region_min or con.region_max:
        regions = sites["region"].astype(object).to_numpy()
        names = sorted(set(con.region_min) | set(con.region_max))
        code = {r: g for g, r in enumerate(names)}
        group = np.full(n_sites + n_exist, -1, dtype=np.int64)
        group[:n_sites] = [code.get(r, -1) for r in regions]
        group_min = np.array([con.region_min.get(r, 0) for r in names], dtype=np.int64)
        big = n_sites + n_exist
        group_max = np.array([con.region_max.get(r, big) for r in names], dtype=np.int64)
    conflicts = None
    if con.min_spacing_km > 0:
        pairs = pairs_within(col_lon, col_lat, con.min_spacing_km)
        # two existing stores may be close together: they are facts, not choices
        both_existing = (pairs[:, 0] >= n_sites) & (pairs[:, 1] >= n_sites)
        conflicts = pairs[~both_existing]
    return Constraints(
        must_open=must if len(must) else None,
        forbidden=forbidden if len(forbidden) else None,
        group=group,
        group_min=group_min,
        group_max=group_max,
        conflicts=conflicts,
    )


def _exact_objective(kind, weights, km, covered, open_cols, scenario, fmt_names, n_sites) -> float:
    obj = scenario.objective
    if kind == "pmedian":
        return float(np.dot(weights, km))
    if kind == "coverage":
        return float(weights[covered].sum())
    fmt_by_name = {f.name: f for f in scenario.formats}
    new = open_cols[open_cols < n_sites]
    yearly = sum(_yearly_cost(fmt_by_name[fmt_names[j]], obj.amortisation_years) for j in new)
    return float(yearly + obj.cost_per_km * np.dot(weights, km))


def _stores_table(scenario, open_cols, n_sites, fmt_names, assigned, weights, covered) -> pd.DataFrame:
    sites, existing = scenario.sites, scenario.existing
    fmt_by_name = {f.name: f for f in scenario.formats}
    rows = []
    for j in open_cols:
        if j < n_sites:
            src, status = sites.iloc[j], "new"
        else:
            src, status = existing.iloc[j - n_sites], "existing"
        fmt = fmt_by_name.get(str(fmt_names[j]), scenario.format())
        rows.append(
            {
                "id": str(src["id"]),
                "name": src.get("name", pd.NA) if hasattr(src, "get") else pd.NA,
                "lon": float(src["lon"]),
                "lat": float(src["lat"]),
                "format": fmt.name,
                "region": src.get("region", pd.NA),
                "status": status,
                "opening_cost": fmt.opening_cost if status == "new" else 0.0,
                "fixed_cost": fmt.fixed_cost,
            }
        )
    stores = pd.DataFrame(rows)
    idx = {int(j): k for k, j in enumerate(open_cols)}
    pos = np.array([idx[int(a)] for a in assigned], dtype=np.int64) if len(assigned) else np.empty(0, int)
    k = len(open_cols)
    stores["covered_population"] = np.bincount(pos[covered], weights=weights[covered], minlength=k)
    stores["demand_captured"] = np.bincount(pos, weights=weights, minlength=k)
    stores["n_areas"] = np.bincount(pos, minlength=k).astype(np.int64)
    if scenario.objective.kind == "coverage":
        stores["demand_captured"] = stores["covered_population"]
    return stores.sort_values(
        ["status", "demand_captured"], ascending=[False, False], kind="stable"
    ).reset_index(drop=True)


def _coverage_curve(areas, weights, lon, lat, radius_km, points: int = 25) -> pd.DataFrame:
    """Coverage within ``radius_km`` and mean km as the plan's stores are added greedily."""
    k = len(lon)
    cols = ["n_stores", "covered_population", "covered_share", "mean_km"]
    if k == 0:
        return pd.DataFrame(columns=cols)
    sub = Network.build(areas["lon"], areas["lat"], lon, lat, radius_km=radius_km, dense_pair_limit=0)
    rows = np.repeat(np.arange(sub.n_areas), np.diff(sub.indptr))
    # greedy order: repeatedly add the store covering the most not-yet-covered weight
    uncovered = np.ones(sub.n_areas, dtype=bool)
    chosen = np.zeros(k, dtype=bool)
    order = []
    for _ in range(k):
        live = uncovered[rows]
        gain = np.bincount(sub.indices[live], weights=weights[rows[live]], minlength=k)
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        order.append(j)
        chosen[j] = True
        uncovered[rows[sub.indices == j]] = False
    order = np.asarray(order)
    checkpoints = np.unique(np.linspace(1, k, min(points, k)).round().astype(int))
    total = float(weights.sum()) or 1.0
    out = []
    for n in checkpoints:
        sel = order[:n]
        km, _ = nearest(areas["lon"], areas["lat"], lon[sel], lat[sel])
        cov = float(weights[km <= radius_km + 1e-9].sum())
        out.append(
            (
                int(n),
                cov,
                cov / total,
                float(np.average(km, weights=weights)) if weights.sum() > 0 else float(km.mean()),
            )
        )
    return pd.DataFrame(out, columns=cols)


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    if len(x) == 0:
        return 0.0
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    if cw[-1] <= 0:
        return float(np.median(x))
    return float(x[order][np.searchsorted(cw, cw[-1] / 2.0)])


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"storeplan": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "highspy", "numba", "scikit-learn"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out
