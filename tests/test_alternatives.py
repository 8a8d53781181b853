"""Alternative plans (storeplan.alternatives): checked against full enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from storeplan import Scenario, solve
from storeplan.alternatives import AlternativesSpec, difference
from storeplan.geo import haversine_km
from storeplan.report import write as report_write


def _areas(seed: int, n: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n)],
            "lon": 110 + rng.uniform(0, 0.5, n),
            "lat": 30 + rng.uniform(0, 0.5, n),
            "population": rng.integers(1_000, 50_000, n).astype(float),
        }
    )


def _all_values(areas: pd.DataFrame, p: int, kind: str, radius: float = 12.0) -> dict[tuple, float]:
    lon, lat = areas["lon"].to_numpy(), areas["lat"].to_numpy()
    km = haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    w = areas["population"].to_numpy()
    out = {}
    for combo in itertools.combinations(range(len(areas)), p):
        d = km[:, list(combo)].min(axis=1)
        out[combo] = float(w @ d) if kind == "pmedian" else float(w[d <= radius + 1e-9].sum())
    return out


@pytest.mark.parametrize("kind", ["pmedian", "coverage"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alternatives_within_tolerance_and_pairwise_distinct(kind, seed):
    areas = _areas(seed)
    p, tol, share = 3, 0.05, 0.3
    scn = Scenario.from_frames(
        areas,
        objective={"kind": kind, "stores": p, "radius_km": 12.0},
        alternatives={"k": 4, "tolerance": tol, "min_difference": share},
    )
    plan = solve(scn)
    alts = plan.alternatives
    values = _all_values(areas, p, kind)
    best = min(values.values()) if kind == "pmedian" else max(values.values())
    ids = areas["id"].to_numpy()
    plain = sorted(int(np.flatnonzero(ids == i)[0]) for i in plan.stores["id"])
    assert alts.plans[0].sites.tolist() == plain  # plan 1 is the plain plan
    for n, a in enumerate(alts.plans):
        v = values[tuple(a.sites.tolist())]
        assert v == pytest.approx(float(a.evaluation.objective), rel=1e-9)
        if kind == "pmedian":
            assert v <= (1 + tol) * float(alts.plans[0].evaluation.objective) + 1e-6
            assert v >= best - 1e-6 and alts.bound <= best + 1e-6  # the bound is a valid lower bound
        else:
            assert v >= (1 - tol) * float(alts.plans[0].evaluation.objective) - 1e-6
            assert alts.bound >= best - 1e-6
        # the certified gap really bounds the distance from the enumerated optimum
        row = alts.table.iloc[n]
        assert abs(v - best) / v <= row["gap"] + 1e-9
    for a, b in itertools.combinations(alts.plans, 2):
        assert difference(a.sites, b.sites) >= share - 1e-9
    # the robust core is exactly the intersection
    inter = set.intersection(*(set(a.sites.tolist()) for a in alts.plans))
    assert set(alts.core) == {str(ids[j]) for j in inter}
    if len(alts.plans) < 4:
        assert alts.stopped  # fewer plans than asked: the reason is reported


def test_alternatives_find_what_enumeration_says_exists():
    """Where enumeration shows k diverse plans well inside the tolerance, k are found."""
    areas = _areas(5)
    scn = Scenario.from_frames(
        areas,
        objective={"kind": "pmedian", "stores": 3},
        alternatives={"k": 3, "tolerance": 0.25, "min_difference": 0.34},
    )
    alts = solve(scn).alternatives
    assert len(alts.plans) == 3 and alts.stopped == ""


def test_k_one_is_the_plain_plan_and_files(tmp_path):
    areas = _areas(3)
    base = Scenario.from_frames(areas, objective={"kind": "pmedian", "stores": 3})
    plain = solve(base)
    one = solve(base, alternatives=1)
    assert one.stores["id"].tolist() == plain.stores["id"].tolist()
    assert one.metrics["objective"] == plain.metrics["objective"]
    assert len(one.alternatives.plans) == 1 and one.alternatives.table["vs_best"].iloc[0] == 0.0
    two = solve(base, alternatives=2)
    assert two.stores["id"].tolist() == plain.stores["id"].tolist()
    out = tmp_path / "o"
    two.save(out)
    report_write(two, out)
    table = pd.read_csv(out / "alternatives.csv")
    sites = pd.read_csv(out / "alternative_sites.csv")
    assert len(table) == two.metrics["alternatives"]["k_found"]
    assert table["core_sites"].iloc[0] == int(sites["core"].sum())
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Alternative plans" in html and 'href="alternatives.html"' in html
    # the map of where the plans differ: every core site once as core, every other site
    # once in each plan's layer that holds it, and the comparison table beside it
    page = (out / "alternatives.html").read_text(encoding="utf-8")
    assert page.count("in every plan (robust core)") == int(sites["core"].sum())
    for _, r in sites.loc[~sites["core"]].iterrows():
        holders = ", ".join(str(p) for p in range(1, len(table) + 1) if r[f"in_plan_{p}"])
        assert page.count(f"{r['id']}: in plans {holders}") == int(r["n_plans"])
    assert 'id="alternatives-panel"' in page and page.count('<td><span class="sw"') == len(table)


def test_revenue_alternatives_and_spec_validation():
    areas = _areas(4, n=10)
    rivals = pd.DataFrame({"id": ["r"], "brand": ["X"], "lon": [110.25], "lat": [30.25]})
    scn = Scenario.from_frames(areas, rivals=rivals, objective={"kind": "revenue", "stores": 2})
    plan = solve(scn, alternatives=3)
    alts = plan.alternatives
    first = float(alts.plans[0].evaluation.objective)
    for a in alts.plans:
        assert float(a.evaluation.objective) >= (1 - alts.spec.tolerance) * first - 1e-6
    for a, b in itertools.combinations(alts.plans, 2):
        assert difference(a.sites, b.sites) >= alts.spec.min_difference - 1e-9
    with pytest.raises(ValueError):
        AlternativesSpec(k=0)
    from storeplan.errors import InputError

    with pytest.raises(InputError, match="min_difference"):
        Scenario.from_frames(areas, objective={"stores": 2}, alternatives={"min_difference": 0})
