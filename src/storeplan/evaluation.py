"""Exact evaluation of a chosen store network (the ``evaluate`` and ``curve`` phases).

Every area is served by its nearest open store, found by KD-tree over all open stores
(so a radius-limited model never misreports a distance), unless the objective's adapter
says otherwise (capacities). The market outputs (revenue per store and category,
cannibalisation, shares) come from the Huff model of :mod:`storeplan.market`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .geo import Network, haversine_km, nearest, row_positions
from .market import Market, cannibalisation, capture
from .objectives import Objective, Problem
from .solvers import Solution

__all__ = ["Evaluation", "evaluate", "exact_objective", "coverage_curve", "weighted_median"]


@dataclass(frozen=True)
class Evaluation:
    """Exact outputs of a chosen network.

    Attributes
    ----------
    open_cols : ndarray of int64
        Open columns (candidate sites, then existing stores).
    stores : DataFrame
        One row per open store.
    assignment : DataFrame
        One row per area: its store, km, covered flag, market and shares.
    objective, bound, gap : float
        Exact objective of the chosen stores, the solver's bound (clipped to the exact
        objective), and the relative gap.
    proven_optimal : bool
    metrics : dict
        The scalar figures (see :class:`storeplan.plan.Plan`).
    """

    open_cols: np.ndarray
    stores: pd.DataFrame
    assignment: pd.DataFrame
    objective: float
    bound: float
    gap: float
    proven_optimal: bool
    km: np.ndarray
    covered: np.ndarray
    metrics: dict[str, Any]


def _exact(problem: Problem, objective: Objective, solution: Solution) -> tuple[Any, ...]:
    """Open columns, km, nearest/forced store and coverage of every area, exact objective."""
    open_cols = objective.open_columns(problem, solution)
    km, nearest_idx = nearest(
        problem.area_lon, problem.area_lat, problem.col_lon[open_cols], problem.col_lat[open_cols]
    )
    assigned = open_cols[np.asarray(nearest_idx, dtype=np.int64)]
    forced = objective.assignment(problem, solution)
    if forced is not None:
        has = forced >= 0
        assigned = np.where(has, forced, assigned)
        km = haversine_km(
            problem.area_lon, problem.area_lat, problem.col_lon[assigned], problem.col_lat[assigned]
        )
    covered = km <= problem.radius_km + 1e-9
    if forced is not None and objective.captures_covered_only:
        covered &= forced >= 0  # a store at capacity covers no more areas
    exact = objective.exact(problem, km, covered, open_cols, solution)
    return open_cols, km, assigned, covered, exact


def exact_objective(problem: Problem, objective: Objective, solution: Solution) -> float:
    """The exact objective of ``solution`` alone (what :func:`evaluate` reports as
    ``objective``, without the tables and the market outputs), in the objective's unit."""
    return float(_exact(problem, objective, solution)[-1])


def evaluate(
    problem: Problem, objective: Objective, market: Market, net: Network, solution: Solution
) -> Evaluation:
    """Evaluate ``solution`` exactly (see the module docstring)."""
    weights = problem.weights
    open_cols, km, assigned, covered, exact = _exact(problem, objective, solution)
    bound = float(solution.bound)
    bound = max(bound, exact) if objective.sense == "max" else min(bound, exact)
    gap = abs(exact - bound) / max(abs(exact), 1e-12)
    if gap < 1e-9:
        gap = 0.0
    proven = bool(solution.proven_optimal) and (
        objective.proof_on_partial_network or net.is_complete or gap == 0.0
    )
    stores = _stores_table(problem, objective, open_cols, assigned, covered)
    assignment = pd.DataFrame(
        {
            "area_id": problem.area_ids,
            "store_id": problem.col_ids[assigned],
            "km": km.astype(np.float64),
            "covered": covered,
        }
    )
    stores, assignment, market_metrics = _market_outputs(
        problem, market, open_cols, stores, assignment, assigned
    )
    total_pop = float(weights.sum())
    metrics: dict[str, Any] = {
        "total_population": total_pop,
        "radius_km": float(problem.radius_km),
        "covered_population": float(weights[covered].sum()),
        "coverage_share": float(weights[covered].sum() / total_pop) if total_pop > 0 else 0.0,
        "mean_km": float(np.average(km, weights=weights)) if total_pop > 0 else float(km.mean()),
        "median_km": weighted_median(km, weights),
        "max_km": float(km.max()) if len(km) else 0.0,
        "opening_cost": float(stores.loc[stores["status"] == "new", "opening_cost"].sum()),
        "yearly_fixed_cost": float(stores["fixed_cost"].sum()),
    }
    metrics.update(market_metrics)
    return Evaluation(
        open_cols=open_cols,
        stores=stores,
        assignment=assignment,
        objective=float(exact),
        bound=bound,
        gap=float(gap),
        proven_optimal=proven,
        km=km,
        covered=covered,
        metrics=metrics,
    )


def _stores_table(
    problem: Problem, objective: Objective, open_cols: np.ndarray, assigned: np.ndarray, covered: np.ndarray
) -> pd.DataFrame:
    n_sites = problem.n_sites
    new = open_cols < n_sites
    stores = pd.DataFrame(
        {
            "id": [str(x) for x in problem.col_ids[open_cols]],
            "name": problem.col_name[open_cols],
            "lon": problem.col_lon[open_cols].astype(float),
            "lat": problem.col_lat[open_cols].astype(float),
            "format": problem.col_format[open_cols],
            "region": problem.col_region[open_cols],
            "status": np.where(new, "new", "existing"),
            "opening_cost": np.where(new, problem.opening_cost[open_cols], 0.0),
            "fixed_cost": problem.fixed_cost[open_cols].astype(float),
        }
    )
    if problem.col_ownership is not None:
        stores.insert(5, "ownership", problem.col_ownership[open_cols])
    if problem.col_margin is not None:
        stores.insert(6, "margin", problem.col_margin[open_cols].astype(float))
    weights = problem.weights
    idx = {int(j): k for k, j in enumerate(open_cols)}
    pos = np.array([idx[int(a)] for a in assigned], dtype=np.int64) if len(assigned) else np.empty(0, int)
    k = len(open_cols)
    stores["covered_population"] = np.bincount(pos[covered], weights=weights[covered], minlength=k)
    stores["demand_captured"] = np.bincount(pos, weights=weights, minlength=k)
    stores["n_areas"] = np.bincount(pos, minlength=k).astype(np.int64)
    if objective.captures_covered_only:
        stores["demand_captured"] = stores["covered_population"]
    return stores.sort_values(
        ["status", "demand_captured"], ascending=[False, False], kind="stable"
    ).reset_index(drop=True)


def _market_outputs(
    problem: Problem,
    market: Market,
    open_cols: np.ndarray,
    stores: pd.DataFrame,
    assignment: pd.DataFrame,
    assigned: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Revenue per store (by category), cannibalisation, catchment share, share per area.

    Store columns (currency per year unless noted): ``revenue`` (gross: offline capture +
    online transfer), ``offline_revenue``, ``online_transfer``, ``revenue_<category>``
    (offline capture per category); new stores: ``from_existing_stores``,
    ``from_online``, ``net_gain`` (their shares of the plan totals, summing exactly to
    them and to ``revenue``) and ``marginal_net_gain`` (leave-one-out); existing stores:
    ``baseline_revenue`` (without the new stores) and ``taken_by_new_stores``;
    ``catchment_share`` (share in [0, 1]): the store's offline capture in the areas it
    serves (nearest store) over their offline spending.
    """
    n_sites = problem.n_sites
    new_idx = np.sort(open_cols[open_cols < n_sites])
    cap = capture(market, new_idx)
    can = cannibalisation(market, new_idx)
    shares = market.shares(new_idx)
    by_id = cap.stores.set_index("id")
    ids = stores["id"].astype(str)
    out = stores.copy()
    out["revenue"] = ids.map(by_id["revenue"]).fillna(0.0).to_numpy()
    out["offline_revenue"] = ids.map(by_id["offline_revenue"]).fillna(0.0).to_numpy()
    out["online_transfer"] = ids.map(by_id["online_transfer"]).fillna(0.0).to_numpy()
    pos = {str(s): k for k, s in enumerate(market.store_ids)}
    store_pos = np.array([pos[s] for s in ids], dtype=np.int64)
    for cat, spend in market.category_markets(problem.category_spending).items():
        out[f"revenue_{cat}"] = shares.store_sum(spend)[store_pos]
    cb = can.stores.set_index("id")
    channel = market.params.channel is not None
    new_cols = ("from_existing_stores", "from_online", "net_gain", "marginal_net_gain")
    for col in (*new_cols, "adds_online") if channel else new_cols:
        out[col] = ids.map(cb[col]).to_numpy(dtype=np.float64)  # NaN for existing stores
    ce = can.existing.set_index("id")
    for col in ("baseline_revenue", "taken_by_new_stores"):
        out[col] = ids.map(ce[col]).to_numpy(dtype=np.float64)  # NaN for new stores
    # catchment share: offline capture from the areas the store serves / their spending
    row_area = market.row_area  # demand rows (areas, or (category, area) pairs) -> area
    market_pos = np.array([pos[str(s)] for s in problem.col_ids[assigned]], dtype=np.int64)[row_area]
    p_served = np.asarray(shares.to_csr()[np.arange(market.n_areas), market_pos]).ravel()
    served_ids = problem.col_ids[assigned].astype(str)[row_area]
    catchment_market = pd.Series(market.market, index=served_ids).groupby(level=0).sum()
    catchment_capture = pd.Series(market.market * p_served, index=served_ids).groupby(level=0).sum()
    cm = ids.map(catchment_market).fillna(0.0).to_numpy()
    cc = ids.map(catchment_capture).fillna(0.0).to_numpy()
    out["catchment_share"] = np.clip(np.divide(cc, cm, out=np.zeros(len(out)), where=cm > 0), 0.0, 1.0)
    areas_out = assignment.copy()
    areas_out["market"] = market.per_area(market.market)
    areas_out["online_revenue"] = market.per_area(market.online)
    areas_out["share_before"] = can.areas["share_before"].to_numpy()
    areas_out["share_after"] = can.areas["share_after"].to_numpy()
    if channel:  # the channel model's per-area split (storeplan.market.channel)
        areas_out["online_revenue"] = can.areas["online_after"].to_numpy()
        for col in can.areas.columns:
            if col.endswith(("_share_before", "_share_after")) or col.startswith(
                ("online_before", "offline_rate", "awareness")
            ):
                areas_out[col] = can.areas[col].to_numpy()
    total_market = float(market.market.sum())
    before = float(np.dot(areas_out["market"], areas_out["share_before"]))
    is_new = (out["status"] == "new").to_numpy()
    metrics = {
        "total_market": total_market,
        "own_revenue": cap.own_revenue,
        "own_offline_revenue": cap.own_offline,
        "online_transfer": cap.online_transfer,
        "market_share": cap.own_offline / total_market if total_market > 0 else 0.0,
        "market_share_before": before / total_market if total_market > 0 else 0.0,
        "new_store_revenue": float(out.loc[is_new, "revenue"].sum()),
        "existing_revenue": float(out.loc[~is_new, "revenue"].sum()),
        "existing_revenue_before": float(out.loc[~is_new, "baseline_revenue"].sum()),
        "taken_from_existing_stores": float(out.loc[~is_new, "taken_by_new_stores"].sum()),
        "taken_from_online": float(out.loc[is_new, "from_online"].sum()),
        "net_gain": float(out.loc[is_new, "net_gain"].sum()),
        "rival_revenue": float(cap.stores.loc[cap.stores["kind"] == "rival", "revenue"].sum()),
    }
    # our web shop's revenue with the existing network and with the plan (currency/year)
    if channel:
        ca = can.areas
        web_before = ca["online_before"] * (1.0 - ca["offline_rate_before"] * ca["share_before"])
        web_after = can.areas["online_after"].sum() - cap.online_transfer
        metrics["added_online"] = float(out.loc[is_new, "adds_online"].sum())
    else:
        # exact per area also when segmented: a row's online revenue is its area's split
        # in proportion to the rows' offline spending, the weights of the folded share
        web_before = areas_out["online_revenue"] * (
            1.0 - market.params.transfer_rate * can.areas["share_before"]
        )
        web_after = float(market.online.sum()) - cap.online_transfer
        metrics["added_online"] = 0.0
    metrics["web_revenue_before"] = float(np.sum(web_before))
    metrics["web_revenue"] = float(web_after)
    return out, areas_out, metrics


def coverage_curve(
    area_lon: np.ndarray,
    area_lat: np.ndarray,
    weights: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    radius_km: float,
    points: int = 25,
) -> pd.DataFrame:
    """Coverage within ``radius_km`` and mean km as the plan's stores are added greedily.

    Returns ``n_stores, covered_population (persons), covered_share ([0, 1]),
    mean_km (km)``, at most ``points`` rows.
    """
    k = len(lon)
    cols = ["n_stores", "covered_population", "covered_share", "mean_km"]
    if k == 0:
        return pd.DataFrame(columns=cols)
    sub = Network.build(area_lon, area_lat, lon, lat, radius_km=radius_km, dense_pair_limit=0)
    order_arr = _greedy_cover_order(sub, np.asarray(weights, np.float64))
    checkpoints = np.unique(np.linspace(1, k, min(points, k)).round().astype(int))
    total = float(weights.sum()) or 1.0
    out = []
    for n in checkpoints:
        sel = order_arr[:n]
        km, _ = nearest(area_lon, area_lat, lon[sel], lat[sel])
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


def _greedy_cover_order(sub: Network, weights: np.ndarray) -> np.ndarray:
    """Greedy order of the stores (columns of ``sub``): repeatedly the store covering the
    most not-yet-covered weight (lowest index on ties). Gains are kept per store and
    recomputed only for the stores sharing an area with the one just added, so the whole
    order costs O(pairs x stores per area) instead of O(stores x pairs)."""
    k = sub.n_sites
    rows = np.repeat(np.arange(sub.n_areas), np.diff(sub.indptr))
    by_store = np.argsort(sub.indices, kind="stable")  # pairs grouped by store
    s_ptr = np.zeros(k + 1, np.int64)
    np.cumsum(np.bincount(sub.indices, minlength=k), out=s_ptr[1:])
    s_area = rows[by_store]
    uncovered = np.ones(sub.n_areas, dtype=bool)
    gain = np.bincount(sub.indices, weights=weights[rows], minlength=k).astype(np.float64)
    chosen = np.zeros(k, dtype=bool)
    order = np.empty(k, np.int64)
    for step in range(k):
        j = int(np.argmax(gain))
        order[step] = j
        chosen[j] = True
        gain[j] = -1.0
        areas = s_area[s_ptr[j] : s_ptr[j + 1]]
        newly = areas[uncovered[areas]]
        if not len(newly):
            continue
        uncovered[newly] = False
        # the stores that shared a newly covered area lose its weight
        pos, area_of = row_positions(sub.indptr, newly)
        hit = sub.indices[pos]
        np.subtract.at(gain, hit, weights[newly][area_of])
        gain[chosen] = -1.0
        touched = np.unique(hit[~chosen[hit]])
        # refresh the touched stores exactly (no drift from the subtractions)
        t_pos, owner = row_positions(s_ptr, touched)
        a = s_area[t_pos]
        gain[touched] = np.bincount(
            owner, weights=np.where(uncovered[a], weights[a], 0.0), minlength=len(touched)
        )
    return order


def weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted median of ``x`` (lower median)."""
    if len(x) == 0:
        return 0.0
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    if cw[-1] <= 0:
        return float(np.median(x))
    return float(x[order][np.searchsorted(cw, cw[-1] / 2.0)])
