"""p-center, p-dispersion, backup coverage and fill-to-capacity end to end on Hainan.

Every plan's objective is recomputed here from the output tables (exact great-circle
km), and every constraint of the common model is checked on the plan or refused with
a named error.
"""

from __future__ import annotations

import numpy as np
import pytest

from storeplan import objectives
from storeplan.errors import UnsupportedConstraintError
from storeplan.geo import haversine_km
from storeplan.pipeline import solve
from storeplan.scenario import OBJECTIVES, Scenario
from test_constraints_pipeline import CAPACITY, HAINAN

NEW = ("pcenter", "pdispersion", "backup_coverage")
QUICK = {"time_limit": 10}


@pytest.fixture(scope="module")
def hainan(tmp_path_factory):
    path = tmp_path_factory.mktemp("hainan_new") / "hainan.toml"
    path.write_text(HAINAN, encoding="utf-8")
    return lambda **over: Scenario.from_toml(path, **over)


def _new(plan):
    return plan.stores[plan.stores["status"] == "new"]


def test_registered_and_accepted_by_the_scenario():
    for kind in NEW:
        assert kind in OBJECTIVES and objectives.get(kind).name == kind


def test_pcenter_plan(hainan):
    plan = solve(hainan(objective={"kind": "pcenter", "stores": 5}, options=QUICK))
    a = plan.assignment.merge(plan.areas[["id", "population"]], left_on="area_id", right_on="id")
    worst = a.loc[a["population"] > 0, "km"].max()
    assert plan.metrics["objective"] == pytest.approx(worst)
    assert plan.metrics["bound"] <= plan.metrics["objective"] + 1e-6
    assert len(_new(plan)) == 5
    assert plan.metrics["objective_unit"] == "km"


def test_pdispersion_plan(hainan):
    plan = solve(hainan(objective={"kind": "pdispersion", "stores": 12}, options=QUICK))
    s = plan.stores
    lon, lat = s["lon"].to_numpy(), s["lat"].to_numpy()
    i, j = np.triu_indices(len(s), 1)
    spacing = haversine_km(lon[i], lat[i], lon[j], lat[j]).min()
    assert plan.metrics["objective"] == pytest.approx(spacing, rel=1e-6)
    assert plan.metrics["bound"] >= plan.metrics["objective"] * (1 - 1e-6)
    assert plan.metrics["sense"] == "max"


def test_backup_coverage_plan(hainan):
    plan = solve(hainan(objective={"kind": "backup_coverage", "stores": 12}, options=QUICK))
    areas, s = plan.areas, plan.stores
    d = haversine_km(
        areas["lon"].to_numpy()[:, None],
        areas["lat"].to_numpy()[:, None],
        s["lon"].to_numpy()[None],
        s["lat"].to_numpy()[None],
    )
    r = hainan().objective.radius_km
    twice = float(areas["population"].to_numpy()[(d <= r + 1e-9).sum(axis=1) >= 2].sum())
    assert plan.metrics["objective"] == pytest.approx(twice)
    # the single coverage kept is the maximal-covering optimum for 12 stores
    cov = solve(hainan(objective={"kind": "coverage", "stores": 12}, options=QUICK))
    assert plan.metrics["covered_population"] == pytest.approx(cov.metrics["objective"])


@pytest.mark.parametrize("kind", ("pcenter", "backup_coverage"))
def test_budget_and_quota_hold(hainan, kind):
    scn = hainan()
    region = str(scn.sites["region"].dropna().iloc[0])
    quotas = [{"column": "level", "max": {"township": 2}}]
    plan = solve(
        hainan(objective={"kind": kind, "budget": 6_000_000}, constraints={"quotas": quotas}, options=QUICK)
    )
    new = _new(plan).merge(scn.sites[["id", "level"]], on="id")
    assert new["opening_cost"].sum() <= 6_000_000
    assert (new["level"] == "township").sum() <= 2
    del region


def test_pdispersion_with_stores_and_budget(hainan):
    plan = solve(hainan(objective={"kind": "pdispersion", "stores": 10, "budget": 6_000_000}, options=QUICK))
    new = _new(plan)
    assert len(new) == 10 and new["opening_cost"].sum() <= 6_000_000
    # refused when the scenario is read (so `storeplan validate` says so), before any solve
    with pytest.raises(UnsupportedConstraintError, match="pdispersion' needs objective.stores"):
        hainan(objective={"kind": "pdispersion", "budget": 3_000_000}, options=QUICK)


@pytest.mark.parametrize("kind", NEW)
def test_capacity_refused_named(hainan, kind):
    with pytest.raises(UnsupportedConstraintError, match=f"cannot be modelled by the {kind} objective"):
        solve(hainan(objective={"kind": kind, "stores": 4}, formats=CAPACITY, options=QUICK))


def test_fill_must_open(hainan):
    scn = hainan()
    big = scn.areas.sort_values("population").iloc[-1]
    site = str(scn.sites.loc[scn.sites["id"] == big["id"], "id"].iloc[0])
    caps = [{**CAPACITY[0], "capacity": 3_500_000}]  # Haikou alone holds 2.87 M people
    over = {"formats": caps, "options": {"neighbours": 8, "time_limit": 10}}
    plan = solve(
        hainan(
            objective={
                "kind": "pmedian",
                "stores": 4,
                "fill_must_open": True,
                "fill_tolerance": 0.05,
                "budget": 20_000_000,
            },
            constraints={"must_open": [site]},
            **over,
        )
    )
    served = plan.assignment.merge(plan.areas[["id", "population"]], left_on="area_id", right_on="id")
    load = served.groupby("store_id")["population"].sum()
    assert load[site] >= 0.9 * 3_500_000 - 1e-6
    assert load.max() <= 3_500_000 + 1e-6
    with pytest.raises(UnsupportedConstraintError, match="fill_must_open"):
        solve(
            hainan(
                objective={"kind": "fixed_cost", "stores": 5, "fill_must_open": True, "budget": 20_000_000},
                constraints={"must_open": [site]},
                **over,
            )
        )
