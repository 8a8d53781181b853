"""Why is a store where it is: its marginal value and the best alternative site nearby.

For each *new* store ``j`` of a plan with open set ``S``:

- **value**: what the plan's objective loses if ``j`` alone closed, ``F(S) - F(S - j)``
  for a maximised objective (``F(S - j) - F(S)`` for a minimised one), so a positive
  value always means the store earns its place;
- **best alternative nearby**: among the candidate sites within ``radius_km`` of ``j``
  that are not open, not forbidden and not closer than the minimum spacing to another
  open store, the site ``k`` whose swap ``S - j + k`` is best, and its value, computed the
  same way (``F(S - j + k) - F(S - j)``, sign as above). A value below the store's own
  means the model's choice beats every nearby site; equal or above would mean the local
  search missed a swap (it should not happen for a plan the solver finished).

Exact for every objective: ``revenue`` with the Huff model of the plan (the solver's
own evaluation, :func:`storeplan.solvers.revenue.marginal_gains`); ``pmedian``,
``coverage`` and ``fixed_cost`` by re-assigning every area to its nearest open store
(capacities are not re-checked: with capacitated formats the alternatives are left out).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..geo import haversine_km

__all__ = ["why_here", "WHY_COLUMNS"]

log = logging.getLogger(__name__)

WHY_COLUMNS = (
    "id",
    "value",
    "value_label",
    "unit",
    "alternative_id",
    "alternative_name",
    "alternative_km",
    "alternative_value",
    "alternative_lon",
    "alternative_lat",
    "candidates_compared",
)

_EARTH_KM = 6371.0088


def _xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _chord(km: float) -> float:
    return 2.0 * np.sin(min(km, np.pi * _EARTH_KM) / (2.0 * _EARTH_KM))


def why_here(
    plan: Any, scenario: Any, *, market: Any = None, radius_km: float = 30.0, max_candidates: int = 25
) -> pd.DataFrame:
    """One row per new store (:data:`WHY_COLUMNS`); currency per year for ``revenue`` and
    ``fixed_cost``, person-km for ``pmedian``, persons for ``coverage``.

    ``market``: the plan's Huff market (needed for ``revenue``).
    """
    t0 = time.perf_counter()
    sites = scenario.sites
    site_pos = pd.Series(np.arange(len(sites)), index=pd.Index(sites["id"].astype(str)))
    stores = plan.stores
    new = stores[stores["status"].astype(str) == "new"]
    new_idx = site_pos.reindex(new["id"].astype(str)).to_numpy()
    if np.isnan(new_idx.astype(float)).any():
        return pd.DataFrame(columns=list(WHY_COLUMNS))
    new_idx = new_idx.astype(np.int64)
    s_lon, s_lat = sites["lon"].to_numpy(float), sites["lat"].to_numpy(float)
    allowed = ~sites["forbidden"].to_numpy(bool)
    allowed[new_idx] = False
    # spacing: a candidate closer than min_spacing to an open store (other than j) cannot swap in
    spacing = float(scenario.constraints.min_spacing_km)
    open_lon = stores["lon"].to_numpy(float)
    open_lat = stores["lat"].to_numpy(float)
    open_tree = cKDTree(_xyz(open_lon, open_lat))
    site_tree = cKDTree(_xyz(s_lon, s_lat))
    kind = plan.objective
    if kind == "revenue":
        if market is None:
            raise ValueError("why_here needs the plan's market for the revenue objective")
        value_fn = _revenue_values(scenario, market, new_idx)
        unit, label = "currency/year", "revenue net of fixed cost lost if this store alone closed"
    else:
        value_fn = _distance_values(plan, scenario, new_idx)
        unit, label = {
            "pmedian": ("person-km", "extra person-km travelled if this store alone closed"),
            "coverage": ("persons", "population no longer covered if this store alone closed"),
            "fixed_cost": ("currency/year", "extra yearly cost if this store alone closed"),
        }.get(kind, ("", "objective lost if this store alone closed"))
    rows = []
    names = sites["name"].astype(object).to_numpy() if "name" in sites.columns else np.full(len(sites), None)
    for k, j in enumerate(new_idx):
        near = site_tree.query_ball_point(_xyz(s_lon[j : j + 1], s_lat[j : j + 1])[0], _chord(radius_km))
        cand = np.array([c for c in near if allowed[c]], dtype=np.int64)
        if spacing > 0 and len(cand):
            # the closest open store other than j must stay at least `spacing` away
            d, idx = open_tree.query(_xyz(s_lon[cand], s_lat[cand]), k=min(2, len(open_lon)))
            d = np.atleast_2d(d.T).T if d.ndim == 1 else d
            idx = np.atleast_2d(idx.T).T if idx.ndim == 1 else idx
            own = np.flatnonzero(stores["id"].astype(str).to_numpy() == str(sites["id"].iloc[j]))
            other = np.where(idx[:, 0] == (own[0] if len(own) else -1), d[:, -1], d[:, 0])
            cand = cand[other >= _chord(spacing)]
        if len(cand) > max_candidates:
            dist = haversine_km(s_lon[j], s_lat[j], s_lon[cand], s_lat[cand])
            cand = cand[np.argsort(dist, kind="stable")[:max_candidates]]
        value, alt_values = value_fn(k, j, cand)
        row = dict.fromkeys(WHY_COLUMNS)
        row.update(id=str(sites["id"].iloc[j]), value=value, value_label=label, unit=unit)
        row["candidates_compared"] = len(cand)
        if len(cand):
            b = int(np.argmax(alt_values))
            c = int(cand[b])
            row.update(
                alternative_id=str(sites["id"].iloc[c]),
                alternative_name=None if names[c] is None or pd.isna(names[c]) else str(names[c]),
                alternative_km=float(haversine_km(s_lon[j], s_lat[j], s_lon[c], s_lat[c])),
                alternative_value=float(alt_values[b]),
                alternative_lon=float(s_lon[c]),
                alternative_lat=float(s_lat[c]),
            )
        rows.append(row)
    log.info("why here: %d stores in %.2f s", len(rows), time.perf_counter() - t0)
    return pd.DataFrame(rows, columns=list(WHY_COLUMNS))


def _revenue_values(scenario: Any, market: Any, new_idx: np.ndarray):
    from ..market import revenue_inputs
    from ..solvers.revenue import RevenueProblem, marginal_gains

    fmt_by_name = {f.name: f for f in scenario.formats}
    fixed = np.array([fmt_by_name[f].fixed_cost for f in scenario.site_formats()], dtype=np.float64)
    prob = RevenueProblem.build(**revenue_inputs(market), fixed_cost=fixed)

    def values(k: int, j: int, cand: np.ndarray) -> tuple[float, np.ndarray]:
        rest = np.delete(new_idx, k)
        gains = marginal_gains(prob, rest)  # f(x | S - j) for every candidate x
        return float(gains[j] - fixed[j]), gains[cand] - fixed[cand]

    return values


def _distance_values(plan: Any, scenario: Any, new_idx: np.ndarray):
    """Exact objective changes for pmedian / coverage / fixed_cost by nearest open store."""
    areas = scenario.areas
    a_lon, a_lat = areas["lon"].to_numpy(float), areas["lat"].to_numpy(float)
    w = areas["population"].to_numpy(np.float64)
    kind = plan.objective
    obj = scenario.objective
    radius = float(obj.radius_km)
    sites = scenario.sites
    s_lon, s_lat = sites["lon"].to_numpy(float), sites["lat"].to_numpy(float)
    stores = plan.stores
    o_lon, o_lat = stores["lon"].to_numpy(float), stores["lat"].to_numpy(float)
    n_open = len(stores)
    tree = cKDTree(_xyz(o_lon, o_lat))
    kq = min(2, n_open)
    _, idx = tree.query(_xyz(a_lon, a_lat), k=kq)
    idx = idx.reshape(len(a_lon), kq)
    d1 = haversine_km(a_lon, a_lat, o_lon[idx[:, 0]], o_lat[idx[:, 0]])
    d2 = (
        haversine_km(a_lon, a_lat, o_lon[idx[:, -1]], o_lat[idx[:, -1]])
        if kq > 1
        else np.full_like(d1, np.inf)
    )
    store_ids = stores["id"].astype(str).to_numpy()
    pos_of = {s: p for p, s in enumerate(store_ids)}
    fmt_by_name = {f.name: f for f in scenario.formats}
    site_fmt = scenario.site_formats()
    amort = float(obj.amortisation_years)

    def yearly(j: int) -> float:
        f = fmt_by_name[site_fmt[j]]
        return float(f.fixed_cost + f.opening_cost / max(amort, 1e-9))

    def cost(dist: np.ndarray) -> float:
        if kind == "coverage":
            return -float(w[dist <= radius + 1e-9].sum())  # minimised: minus the covered population
        if kind == "fixed_cost":
            return float(obj.cost_per_km * np.dot(w, np.where(np.isfinite(dist), dist, 0.0)))
        return float(np.dot(w, np.where(np.isfinite(dist), dist, 0.0)))

    capacitated = any(f.capacity > 0 for f in scenario.formats) and kind == "fixed_cost"

    def values(k: int, j: int, cand: np.ndarray) -> tuple[float, np.ndarray]:
        p = pos_of[str(sites["id"].iloc[j])]
        without = np.where(idx[:, 0] == p, d2, d1)
        fixed_j = yearly(j) if kind == "fixed_cost" else 0.0
        base = cost(without)
        value = base - (cost(d1) + 0.0) - fixed_j  # cost(S - j) - cost(S), S's fixed part included
        if capacitated or not len(cand):
            return float(value), np.full(len(cand), -np.inf)
        alt = np.empty(len(cand))
        for q, c in enumerate(cand):
            dk = haversine_km(a_lon, a_lat, s_lon[c], s_lat[c])
            fixed_c = yearly(int(c)) if kind == "fixed_cost" else 0.0
            alt[q] = base - cost(np.minimum(without, dk)) - fixed_c
        return float(value), alt

    return values
