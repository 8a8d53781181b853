"""solve(scenario) on hand-checked tiny instances, one per objective and constraint.

The towns a..e lie on the equator 1 degree apart: d = 6371.0088 * pi / 180 = 111.195 km
between neighbours, populations 10, 20, 30, 40, 50 (see conftest.line_areas).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from storeplan import Plan, Scenario, solve
from storeplan.errors import InfeasibleError
from storeplan.geo import EARTH_RADIUS_KM

D = EARTH_RADIUS_KM * math.pi / 180.0  # km between neighbouring towns


def _solve(areas, **kw):
    kw.setdefault("options", {"time_limit": 10})
    return solve(Scenario.from_frames(areas, **kw))


def test_pmedian_one_store(line_areas):
    # cost of one store at a..e: 400d, 270d, 180d, 150d, 200d -> d is optimal
    plan = _solve(line_areas, objective={"kind": "pmedian", "stores": 1})
    assert plan.stores["id"].tolist() == ["d"]
    assert plan.metrics["objective"] == pytest.approx(150 * D, rel=1e-6)
    assert plan.metrics["proven_optimal"]
    assert plan.metrics["gap"] == 0.0


def test_pmedian_two_stores(line_areas):
    # {b,e} and {c,e} both cost 80d; every other pair costs more (e.g. {b,d} = 90d)
    plan = _solve(line_areas, objective={"kind": "pmedian", "stores": 2})
    assert set(plan.stores["id"]) in ({"b", "e"}, {"c", "e"})
    assert plan.metrics["objective"] == pytest.approx(80 * D, rel=1e-6)
    assert plan.metrics["bound"] <= plan.metrics["objective"] + 1e-6


def test_coverage(line_areas):
    # radius 120 km covers a town and its neighbours: d covers c+d+e = 120 of 150
    plan = _solve(line_areas, objective={"kind": "coverage", "stores": 1, "radius_km": 120})
    assert plan.stores["id"].tolist() == ["d"]
    assert plan.metrics["covered_population"] == pytest.approx(120)
    assert plan.metrics["coverage_share"] == pytest.approx(0.8)
    # two stores (b and d or e) cover everyone
    plan2 = _solve(line_areas, objective={"kind": "coverage", "stores": 2, "radius_km": 120})
    assert plan2.metrics["covered_population"] == pytest.approx(150)
    assert plan2.metrics["proven_optimal"]


def test_fixed_cost_chooses_the_number_of_stores(line_areas):
    # yearly cost F = 2000 per store, 1 currency per person-km:
    # k=1: 2000+150d, k=2: 4000+80d, k=3: 6000+40d, k=4: 8000+10d = 9111.95, k=5: 10000
    formats = [{"name": "std", "opening_cost": 0.0, "fixed_cost": 2000.0}]
    plan = _solve(line_areas, formats=formats, objective={"kind": "fixed_cost", "cost_per_km": 1.0})
    assert len(plan.stores) == 4
    assert "a" not in set(plan.stores["id"])
    assert plan.metrics["objective"] == pytest.approx(8000 + 10 * D, rel=1e-6)


def test_existing_store_is_kept_and_counted(line_areas):
    existing = pd.DataFrame({"id": ["own1"], "lon": [4.0], "lat": [0.0]})
    # with a store at e, adding b or c costs 80d, adding d costs 100d
    plan = _solve(line_areas, existing=existing, objective={"kind": "pmedian", "stores": 1})
    assert set(plan.stores["status"]) == {"new", "existing"}
    assert "own1" in set(plan.stores["id"])
    assert plan.metrics["objective"] == pytest.approx(80 * D, rel=1e-6)
    assert plan.metrics["n_new_stores"] == 1 and plan.metrics["n_existing_stores"] == 1


def test_region_minimum(line_areas):
    # one store that must be in the west (a or b): b costs 270d, a costs 400d
    plan = _solve(
        line_areas, objective={"kind": "pmedian", "stores": 1}, constraints={"region_min": {"west": 1}}
    )
    assert plan.stores["id"].tolist() == ["b"]
    assert plan.metrics["objective"] == pytest.approx(270 * D, rel=1e-6)


def test_min_spacing(line_areas):
    # 350 km spacing leaves only {a, e} (444.8 km apart) among pairs: 20d + 60d + 40d = 120d
    plan = _solve(line_areas, objective={"kind": "pmedian", "stores": 2}, constraints={"min_spacing_km": 350})
    assert set(plan.stores["id"]) == {"a", "e"}
    assert plan.metrics["objective"] == pytest.approx(120 * D, rel=1e-6)


def test_min_spacing_infeasible(line_areas):
    with pytest.raises(InfeasibleError, match="spacing"):
        _solve(line_areas, objective={"kind": "pmedian", "stores": 2}, constraints={"min_spacing_km": 500})


def test_must_open(line_areas):
    plan = _solve(line_areas, objective={"kind": "pmedian", "stores": 2}, constraints={"must_open": ["a"]})
    # with a open, the best second store is d: b 20d + c 30d + e 50d = 100d (e: 20+60+40=120d)
    assert set(plan.stores["id"]) == {"a", "d"}
    assert plan.metrics["objective"] == pytest.approx(100 * D, rel=1e-6)


def test_assignment_is_nearest_store_and_distances_exact(line_areas):
    plan = _solve(line_areas, objective={"kind": "pmedian", "stores": 2})
    a = plan.assignment.set_index("area_id")
    assert len(a) == 5
    assert a.loc["e", "km"] == pytest.approx(0.0, abs=1e-9)
    assert (a["km"] >= 0).all()
    assert plan.stores["demand_captured"].sum() == pytest.approx(150)


def test_same_inputs_same_plan(line_areas):
    p1 = _solve(line_areas, objective={"kind": "pmedian", "stores": 2})
    p2 = _solve(line_areas, objective={"kind": "pmedian", "stores": 2})
    assert p1.stores["id"].tolist() == p2.stores["id"].tolist()
    assert p1.provenance["scenario_hash"] == p2.provenance["scenario_hash"]


def test_radius_limited_network_reports_exact_distances():
    # 400 random towns; a tiny neighbour list forces the sparse path, the plan's km stay exact
    rng = np.random.default_rng(7)
    areas = pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(400)],
            "lon": rng.uniform(110, 114, 400),
            "lat": rng.uniform(28, 31, 400),
            "population": rng.integers(100, 10_000, 400).astype(float),
        }
    )
    scn = Scenario.from_frames(
        areas,
        objective={"kind": "pmedian", "stores": 5},
        options={"neighbours": 8, "max_km": 20, "time_limit": 10, "dense_pairs": 0},
    )
    import warnings

    import storeplan.geo as geo
    from storeplan.errors import GapWarning

    with pytest.warns(GapWarning, match="certified gap .* radius-limited network"):
        plan = solve(scn)
    assert not plan.metrics.proven_optimal and plan.metrics.gap > 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", GapWarning)
        solve(scn, gap_warning=1.0)  # above the threshold: no warning
    assert not plan.metrics["network_complete"]
    km = plan.assignment["km"].to_numpy()
    stores = plan.stores
    full = geo.haversine_km(
        areas["lon"].to_numpy()[:, None],
        areas["lat"].to_numpy()[:, None],
        stores["lon"].to_numpy()[None, :],
        stores["lat"].to_numpy()[None, :],
    )
    np.testing.assert_allclose(km, full.min(axis=1), rtol=1e-9, atol=1e-6)
    assert plan.metrics["bound"] <= plan.metrics["objective"] * (1 + 1e-9)
    assert 0.0 <= plan.metrics["gap"] < 1.0


def test_save_and_load_round_trip(tmp_path, line_areas):
    plan = _solve(line_areas, objective={"kind": "pmedian", "stores": 2})
    written = plan.save(tmp_path)
    from storeplan.plan import PLAN_FILES

    assert set(written) == set(PLAN_FILES)
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in ("objective", "bound", "gap", "n_stores", "coverage_share", "seconds"):
        assert key in summary
    assert summary["provenance"]["seed"] == 0 and len(summary["provenance"]["scenario_hash"]) == 16
    gj = json.loads((tmp_path / "plan.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 2
    loaded = Plan.load(tmp_path)
    assert loaded.stores["id"].tolist() == plan.stores["id"].tolist()
    assert loaded.metrics["objective"] == pytest.approx(plan.metrics["objective"])
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left
    from storeplan.testing import assert_plan_equal

    assert_plan_equal(loaded, plan)
