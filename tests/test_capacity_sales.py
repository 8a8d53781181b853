"""Capacities in currency per year (issue 10, item 1): ``[[formats]] sales_capacity``.

A store of a format with ``sales_capacity`` serves at most that much yearly offline
spending (currency per year); the single-source models honour it (cross-checked by brute
force over site pairs and assignments) and the revenue objective refuses it by name.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from storeplan.errors import UnsupportedConstraintError
from storeplan.geo import haversine_km
from storeplan.pipeline import build_problem, solve
from storeplan.scenario import Scenario


def _line(**over) -> Scenario:
    areas = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "lon": [0.0, 0.2, 0.4, 0.6, 0.8],
            "lat": [0.0] * 5,
            "population": [10_000.0, 20_000.0, 30_000.0, 40_000.0, 50_000.0],
        }
    )
    kw = {
        "formats": [{"name": "standard", "opening_cost": 1e5, "fixed_cost": 2e4}],
        "objective": {"kind": "pmedian", "stores": 2, "radius_km": 30.0},
        "options": {"time_limit": 20.0},
    }
    return Scenario.from_frames(areas, **{**kw, **over})


def _brute_pmedian(scn: Scenario, cap: float) -> float:
    """Least person-km over every pair of sites and every single-source assignment."""
    pr = build_problem(scn)
    spend = pr.capacity_demand()
    best = np.inf
    for pair in itertools.combinations(range(pr.n_sites), 2):
        km = np.stack(
            [haversine_km(pr.area_lon, pr.area_lat, pr.col_lon[j], pr.col_lat[j]) for j in pair], axis=1
        )
        for assign in itertools.product((0, 1), repeat=len(spend)):
            a = np.array(assign)
            load = np.bincount(a, weights=spend, minlength=2)
            if (load <= cap * (1 + 1e-9)).all():
                best = min(best, float(np.dot(pr.weights, km[np.arange(len(a)), a])))
    return best


def test_sales_capacity_is_honoured_and_matches_brute_force():
    free = _line()
    probe = [{"name": "standard", "opening_cost": 1e5, "fixed_cost": 2e4, "sales_capacity": 1.0}]
    spend = build_problem(_line(formats=probe)).capacity_demand()  # offline spending, currency/yr
    assert spend.sum() > 0 and not np.allclose(spend, build_problem(free).weights)
    cap = 0.6 * float(spend.sum())  # no store may serve most of the spending
    fmt = [{"name": "standard", "opening_cost": 1e5, "fixed_cost": 2e4, "sales_capacity": cap}]
    scn = _line(formats=fmt)
    plan = solve(scn)
    asg = plan.assignment
    by_area = pd.Series(spend, index=build_problem(scn).area_ids)
    load = asg.assign(spend=asg["area_id"].map(by_area)).groupby("store_id")["spend"].sum()
    assert (load <= cap * (1 + 1e-9)).all()
    assert plan.metrics["objective"] == pytest.approx(_brute_pmedian(scn, cap), rel=1e-6)
    # the uncapacitated plan is better (or equal): the capacity binds
    assert solve(free).metrics["objective"] <= plan.metrics["objective"] + 1e-6


def test_revenue_refuses_sales_capacity_by_name():
    fmt = [{"name": "standard", "opening_cost": 1e5, "fixed_cost": 2e4, "sales_capacity": 1e6}]
    scn = _line(formats=fmt, objective={"kind": "revenue", "stores": 2, "radius_km": 30.0})
    with pytest.raises(UnsupportedConstraintError, match="sales_capacity .*revenue objective"):
        solve(scn)


def test_people_and_sales_capacities_together_are_refused():
    fmt = [
        {"name": "standard", "opening_cost": 1e5, "fixed_cost": 2e4, "sales_capacity": 1e6},
        {"name": "small", "opening_cost": 1e5, "fixed_cost": 2e4, "capacity": 1e4},
    ]
    with pytest.raises(UnsupportedConstraintError, match="both people"):
        build_problem(_line(formats=fmt))
