"""The world planner (issue 14): currencies, the master's allocation and bound, the
decomposition by country, engines.

The brute-force tests build tiny two- and three-country worlds from frames (a few
towns per country, one or two formats, two or three years) and enumerate every
(site, format, year) schedule of every country that keeps every limit, valued exactly
as the rollout values a schedule (:func:`storeplan.rollout.cashflow.evaluate` on the
country's Huff market).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from storeplan.errors import UnknownOptionError, UnsupportedConstraintError
from storeplan.market.oracles import HuffOracle
from storeplan.pipeline import build_market, build_problem
from storeplan.rollout import RolloutSpec
from storeplan.rollout.cashflow import evaluate
from storeplan.rollout.world_spec import WorldSpec
from storeplan.scenario import Scenario
from storeplan.world import ATTRACTIVENESS, country_inputs, planning_rates
from storeplan.world.curves import CurveTask, country_curve, item_values, year_weights
from storeplan.world.master import (
    CountryOption,
    allocate,
    allocate_joint,
    best_bound,
    joint_bound,
    select_plans,
    world_bound,
)
from storeplan.world.run import plan_world


def _world(
    seed: int,
    countries=("AA", "BB"),
    towns: int = 4,
    *,
    years: int = 2,
    world: dict | None = None,
    rollout: dict | None = None,
    formats=None,
) -> Scenario:
    rng = np.random.default_rng(seed)
    rows = []
    for k, cc in enumerate(countries):
        lon0 = 10.0 * k
        for i in range(towns):
            rows.append(
                {
                    "id": f"{cc}{i}",
                    "lon": lon0 + rng.uniform(0, 0.3),
                    "lat": rng.uniform(0, 0.3),
                    "population": float(rng.integers(20_000, 200_000)),
                    "income": float(rng.uniform(5_000, 30_000)),
                    "country": cc,
                    "level": "city",
                }
            )
    areas = pd.DataFrame(rows)
    rivals = pd.DataFrame(
        {
            "id": [f"r{cc}" for cc in countries],
            "brand": "rival",
            "lon": [10.0 * k + 0.15 for k in range(len(countries))],
            "lat": [0.15] * len(countries),
            "country": list(countries),
        }
    )
    fmts = formats or [{"name": "store", "opening_cost": 100_000, "fixed_cost": 60_000}]
    ro = {"years": years, "ramp_months": 12, "discount_rate": 0.1, "gross_margin": 0.25, "horizon_years": 4}
    ro.update(rollout or {})
    wo = {"min_network": 1, "country_caps": [2, 3], "new_countries_per_year": 1, "master_seconds": 20}
    wo.update(world or {})
    return Scenario.from_frames(
        areas,
        rivals=rivals,
        formats=fmts,
        objective={"kind": "revenue", "choose_format": len(fmts) > 1},
        options={"seed": 0, "time_limit": 5},
        demand={"income_thresholds": (8_000, 20_000)},
        market={"outside_per_100k": 3.0},
        calibration={"enabled": False},
        rollout=ro,
        world=wo,
        name=f"tiny-{seed}",
    )


def _country_schedules(inp, spec: RolloutSpec):
    """Every (open year per column) of one country, with its NPV, stores per year and
    capex per year (planning currency); one format per site."""
    scn = inp.scenario
    problem = build_problem(scn)
    market, _ = build_market(scn, problem)
    k, n = problem.n_sites, problem.n_columns
    oracle = HuffOracle(market, np.arange(n, dtype=np.int64))
    margins = scn.format_margins(spec)
    m = np.array([margins[str(f)] for f in problem.col_format])
    site = np.asarray(problem.col_site)[:k]
    T = spec.years
    out = []
    for years in itertools.product(range(T + 1), repeat=k):
        o = np.array(years, np.int64) - 1  # -1: never
        opened = o >= 0
        if len(np.unique(site[opened])) < opened.sum():
            continue  # two formats at one site
        o_all = np.concatenate([np.where(o >= 0, o + 1, -1), np.zeros(n - k, np.int64)])
        ev = evaluate(oracle, o_all, spec, problem.opening_cost, problem.fixed_cost, margin=m)
        per_year = np.bincount(o[opened], minlength=T)[:T]
        capex = np.bincount(o[opened], weights=problem.opening_cost[:k][opened], minlength=T)[:T]
        out.append((inp.to_planning(float(ev["value"])), per_year, inp.to_planning(capex)))
    return out


def _feasible(per_year: np.ndarray, world: WorldSpec, T: int) -> tuple[bool, int]:
    """Whether a country's openings keep its caps and minimum network; its entry year."""
    if per_year.sum() == 0:
        return True, 0
    entry = int(np.flatnonzero(per_year > 0)[0])
    if per_year[entry] < world.min_network:
        return False, entry + 1
    caps = world.caps(T)
    for t in range(entry, T):
        if per_year[t] > caps[t - entry]:
            return False, entry + 1
    return True, entry + 1


def _brute_force(scn: Scenario) -> float:
    """The best world NPV over every feasible combination of country schedules."""
    spec, world = scn.rollout, scn.world
    T = spec.years
    per_country = []
    for inp in country_inputs(scn):
        keep = []
        for value, per_year, capex in _country_schedules(inp, spec):
            ok, entry = _feasible(per_year, world, T)
            if ok:
                keep.append((value, per_year, capex, entry))
        per_country.append(keep)
    best = -np.inf
    hi, lo, budget = spec.max_stores(), spec.min_stores(), spec.budgets()
    entries = world.entries(T)
    for combo in itertools.product(*per_country):
        stores = sum(c[1] for c in combo)
        capex = sum(c[2] for c in combo)
        if (stores > hi).any() or (stores < lo).any() or (capex > budget + 1e-6).any():
            continue
        ent = np.bincount([c[3] for c in combo if c[3] > 0], minlength=T + 1)[1:]
        if (ent > entries).any():
            continue
        best = max(best, sum(c[0] for c in combo))
    return best


def _curves(scn: Scenario):
    spec, world = scn.rollout, scn.world
    total = int(world.caps(spec.years).sum())
    return [country_curve(CurveTask(c, world, spec, total)) for c in country_inputs(scn)]


# ---------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("seed", range(6))
def test_bound_is_never_below_the_brute_force_optimum_and_the_plan_never_above(seed):
    scn = _world(seed, towns=3, rollout={"stores_per_year": [2, 3], "budget_per_year": 250_000})
    best = _brute_force(scn)
    curves = _curves(scn)
    bound, _ = best_bound(curves, scn.world, scn.rollout)
    assert bound >= best - 1e-6 * max(1.0, abs(best))
    # each of the two bounds is valid on its own
    assert world_bound(curves, scn.world, scn.rollout)[0] >= best - 1e-6 * max(1.0, abs(best))
    assert joint_bound(curves, scn.world, scn.rollout).bound >= best - 1e-6 * max(1.0, abs(best))
    plan = plan_world(scn, workers=1)
    assert plan.metrics.npv <= best + 1e-6 * max(1.0, abs(best))
    assert plan.metrics.bound == pytest.approx(bound)
    # the plan keeps every limit
    yt = plan.years_table
    assert (yt["new_stores"].to_numpy()[:2] <= [2, 3]).all()
    assert (yt["capex"].to_numpy()[:2] <= 250_000 + 1e-6).all()


@pytest.mark.parametrize("seed", range(4))
def test_bound_with_two_formats_and_partner_margin(seed):
    formats = [
        {"name": "store", "opening_cost": 120_000, "fixed_cost": 70_000},
        {
            "name": "partner",
            "ownership": "partner",
            "margin": 0.08,
            "opening_cost": 10_000,
            "fixed_cost": 0,
            "attractiveness": 0.6,
        },
    ]
    scn = _world(seed, towns=3, formats=formats, rollout={"stores_per_year": [2, 2]})
    best = _brute_force(scn)
    bound, _ = world_bound(_curves(scn), scn.world, scn.rollout)
    assert bound >= best - 1e-6 * max(1.0, abs(best))


def test_decomposed_plan_equals_the_joint_optimum_on_a_tiny_world():
    # one town per country and room for every store: the optimum opens each profitable
    # town as early as the entry limit allows; the decomposition finds exactly that
    scn = _world(3, towns=2, rollout={"stores_per_year": [4, 4]}, world={"new_countries_per_year": 2})
    best = _brute_force(scn)
    plan = plan_world(scn, workers=1)
    assert plan.metrics.npv == pytest.approx(best, rel=1e-6)


def test_year_weights_match_the_cash_flow_evaluation():
    spec = RolloutSpec(years=3, ramp_months=18, discount_rate=0.09, horizon_years=6, terminal_value=True)
    R, F, D = year_weights(spec)
    # one store with constant full-ramp revenue 1 opened in year t, margin 1, fixed 0.3, capex 2
    for t in (1, 2, 3):
        ev = evaluate(
            lambda idx: np.ones(len(idx)),
            np.array([t]),
            spec.model_copy(update={"gross_margin": 1.0}),
            np.array([2.0]),
            np.array([0.3]),
        )
        assert float(ev["value"]) == pytest.approx(R[t - 1] - 0.3 * F[t - 1] - 2.0 * D[t - 1])
        assert item_values([1.0], [0.3], [2.0], spec)[0, t - 1] == pytest.approx(float(ev["value"]))
    assert (np.diff(R) <= 0).all() and (np.diff(F) <= 0).all()


def test_entry_order_caps_and_minimum_network_on_three_countries():
    scn = _world(
        1,
        countries=("AA", "BB", "CC"),
        towns=8,
        years=3,
        rollout={"stores_per_year": [3, 5, 8], "min_stores_per_year": [3, 5, 8]},
        world={"min_network": 3, "country_caps": [3, 4, 6], "new_countries_per_year": 1},
    )
    plan = plan_world(scn, workers=1)
    c = plan.countries.set_index("country")
    entered = c[c["entry_year"] > 0].sort_values("entry_year")
    # at most one country a year, each with its minimum network in its entry year
    assert entered["entry_year"].is_unique
    for _cc, row in entered.iterrows():
        e = int(row["entry_year"])
        assert row[f"stores_year_{e}"] >= 3
        for t in range(e, 4):
            assert row[f"stores_year_{t}"] <= [3, 4, 6][t - e]
        for t in range(1, e):
            assert row[f"stores_year_{t}"] == 0
    # the yearly minimums are met exactly (min = max)
    assert plan.years_table["new_stores"].tolist()[:3] == [3, 5, 8]
    # the first country entered is the most attractive one that the allocation values most
    first = entered.index[0]
    assert (
        c.loc[first, "rank"] == c["rank"].min()
        or c.loc[first, "attractiveness_value"] >= c["attractiveness_value"].median()
    )
    # totals add up: countries' stores = the stores table = the year table
    assert int(c["stores"].sum()) == len(plan.stores) == int(plan.years_table["new_stores"].sum())
    for cc, grp in plan.stores.groupby("country"):
        assert len(grp) == c.loc[cc, "stores"]
        counts = grp["open_year"].value_counts()
        for t in range(1, 4):
            assert counts.get(t, 0) == c.loc[cc, f"stores_year_{t}"]
    assert plan.metrics.npv == pytest.approx(float(c["npv"].sum()))
    assert plan.metrics.capex == pytest.approx(float(plan.years_table["capex"].sum()))
    assert plan.metrics.bound >= plan.metrics.npv
    # one definition of a store's sales: the stores' full-ramp sales add up to their
    # country's, and a country's final-year sales (ramping stores below full) never exceed it
    full = plan.stores.groupby("country")["revenue_full_ramp"].sum()
    for cc in entered.index:
        assert full[cc] == pytest.approx(c.loc[cc, "revenue_full_ramp"], rel=1e-12)
        assert c.loc[cc, "revenue_final_year"] <= c.loc[cc, "revenue_full_ramp"] * (1 + 1e-12)
        ramped = plan.stores[(plan.stores["country"] == cc) & (plan.stores["open_year"] < 3)]
        if len(ramped) == c.loc[cc, "stores"]:  # every store at full ramp by the final year (12 months)
            assert c.loc[cc, "revenue_final_year"] == pytest.approx(c.loc[cc, "revenue_full_ramp"], rel=1e-9)


def test_allocation_keeps_budget_caps_and_entries():
    scn = _world(
        2,
        countries=("AA", "BB", "CC"),
        towns=6,
        years=3,
        rollout={"stores_per_year": [3, 4, 5], "budget_per_year": [250_000, 350_000, 450_000]},
        world={"min_network": 2, "country_caps": [2, 3, 4], "new_countries_per_year": [1, 1, 1]},
    )
    curves = _curves(scn)
    joint = joint_bound(curves, scn.world, scn.rollout)
    for alloc in (
        allocate(curves, scn.world, scn.rollout),
        allocate_joint(curves, scn.world, scn.rollout, joint),
    ):
        assert alloc is not None
        assert (alloc.stores.sum(axis=0) <= [3, 4, 5]).all()
        assert (alloc.capex.sum(axis=0) <= np.array([250_000, 350_000, 450_000]) + 1e-6).all()
        assert (alloc.budget.sum(axis=0) <= np.array([250_000, 350_000, 450_000]) + 1e-6).all()
        ent = np.bincount(alloc.entry_year[alloc.entry_year > 0], minlength=4)[1:]
        assert (ent <= 1).all()
        for c, e in enumerate(alloc.entry_year):
            if e:
                assert alloc.stores[c, e - 1] >= 2
                assert (alloc.stores[c, : e - 1] == 0).all()
                for t in range(e - 1, 3):
                    assert alloc.stores[c, t] <= [2, 3, 4][t - e + 1]
            else:
                assert (alloc.stores[c] == 0).all()


def _random_world(seed: int) -> Scenario:
    """A random tiny world: one or two formats (a partner format with its own margin),
    two or three countries, with or without a budget, a yearly minimum, a minimum
    network of one or two stores and one or two entries a year."""
    rng = np.random.default_rng(1000 + seed)
    fm = [
        {
            "name": "store",
            "opening_cost": float(rng.integers(60, 200)) * 1e3,
            "fixed_cost": float(rng.integers(30, 100)) * 1e3,
        }
    ]
    if rng.random() < 0.7:
        fm.append(
            {
                "name": "partner",
                "ownership": "partner",
                "margin": float(rng.uniform(0.05, 0.15)),
                "opening_cost": float(rng.integers(5, 40)) * 1e3,
                "fixed_cost": 0,
                "attractiveness": float(rng.uniform(0.4, 1.0)),
            }
        )
    ro: dict = {"stores_per_year": [int(rng.integers(1, 4)), int(rng.integers(1, 4))]}
    if rng.random() < 0.5:
        ro["budget_per_year"] = float(rng.integers(100, 400)) * 1e3
    if rng.random() < 0.3:
        ro["min_stores_per_year"] = [1, 1]
    wo = {
        "min_network": int(rng.integers(1, 3)),
        "country_caps": [2, 3],
        "new_countries_per_year": int(rng.integers(1, 3)),
    }
    three = rng.random() >= 0.7
    return _world(
        seed,
        countries=("AA", "BB", "CC") if three else ("AA", "BB"),
        towns=2 if three else 3,
        formats=fm,
        rollout=ro,
        world=wo,
    )


@pytest.mark.parametrize("seed", range(24))
def test_both_world_bounds_are_valid_on_random_tiny_worlds(seed):
    # (run offline on 300 such worlds: none below the brute force, see benchmarks/RESULTS_world.md)
    scn = _random_world(seed)
    best = _brute_force(scn)
    if not np.isfinite(best):
        return  # no plan keeps this world's limits
    curves = _curves(scn)
    tol = 1e-6 * max(1.0, abs(best))
    joint = joint_bound(curves, scn.world, scn.rollout)
    assert joint.bound >= best - tol
    assert world_bound(curves, scn.world, scn.rollout)[0] >= best - tol
    # the joint solution is a plan of the relaxation: its value is at most the bound
    assert joint.value <= joint.bound + tol


def test_country_scenarios_ask_for_the_most_stores_the_country_can_get():
    scn = _world(0, towns=3, world={"countries_max_stores": {"BB": 2}}, rollout={"stores_per_year": [2, 3]})
    got = {c.country: c.scenario.objective.stores for c in country_inputs(scn)}
    # AA: its caps over the two years (2 + 3) and its three sites; BB: its maximum
    assert got == {"AA": 3, "BB": 2}


def test_currency_conversion_round_trips_and_prices_follow_the_price_level():
    rates = planning_rates(WorldSpec(planning_currency="USD", fx_date="2025-12-31"))
    eur = rates.rate("EUR")
    assert rates.convert(rates.convert(123.0, "USD", "EUR"), "EUR", "USD") == pytest.approx(123.0)
    scn = _world(0)
    scn = replace(
        scn,
        countries=pd.DataFrame(
            {
                "country": ["AA", "BB"],
                "name": ["A", "B"],
                "currency": ["EUR", "USD"],
                "price_level": [1.1, 0.9],
            }
        ),
        world=WorldSpec(min_network=1, country_caps=[2, 3], fx_date="2025-12-31"),
    )
    inputs = {c.country: c for c in country_inputs(scn)}
    a = inputs["AA"]
    assert list(a.attractiveness) == list(ATTRACTIVENESS)  # the figures countries.csv documents
    assert a.currency == "EUR" and a.rate == pytest.approx(eur)
    assert a.to_planning(a.to_local(1234.5)) == pytest.approx(1234.5)
    base = scn.demand.categories[0].price["mid"]
    assert a.scenario.demand.categories[0].price["mid"] == pytest.approx(base * 1.1 * eur)
    b = inputs["BB"]
    assert b.scenario.demand.categories[0].price["mid"] == pytest.approx(base * 0.9)
    # format costs scale with the cost level and the rate
    level = scn.world.cost_level(a.attractiveness["income_per_person"])
    assert a.scenario.formats[0].opening_cost == pytest.approx(100_000 * level * eur)
    # incomes: USD in the frames, local in the country scenario
    assert a.scenario.areas["income"].sum() == pytest.approx(
        scn.areas.loc[scn.areas["country"] == "AA", "income"].sum() / rates.rate("USD") * eur
    )


def test_cars_are_sold_only_in_the_scenarios_car_countries():
    # a cars category (the bundled scenario's figures) and cars = ["AA"]: AA's spending
    # includes cars, BB's does not; every other category is the same either way
    from storeplan.demand import CategoryParams

    base = _world(0, towns=3)
    price = {"budget": 22e3, "mid": 30e3, "high": 42e3}
    cars = CategoryParams(name="cars", penetration=0.3, purchases_per_year=0.002, price=price)
    demand = base.demand.model_copy(update={"categories": (*base.demand.categories, cars)})

    def spending(car_countries):
        scn = replace(base, demand=demand, world=base.world.model_copy(update={"cars": car_countries}))
        got = {}
        for c in country_inputs(scn):
            cats = {k.name: k for k in c.scenario.demand.categories}
            got[c.country] = (cats["cars"].penetration, c.attractiveness["offline_market"])
        return got

    none, aa = spending(()), spending(("AA",))
    assert aa["AA"][0] == 0.3 and aa["BB"][0] == 0.0 and none["AA"][0] == 0.0
    assert aa["AA"][1] > none["AA"][1]  # AA's offline market gains its car spending
    assert aa["BB"][1] == pytest.approx(none["BB"][1], rel=1e-12)
    with pytest.raises(UnknownOptionError, match="ZZ"):
        country_inputs(replace(base, demand=demand, world=base.world.model_copy(update={"cars": ("ZZ",)})))


def test_a_currency_without_rate_is_refused_by_name_under_fx_fallback_error():
    scn = _world(0)
    scn = replace(
        scn,
        countries=pd.DataFrame({"country": ["AA", "BB"], "name": ["A", "B"], "currency": ["XXX", "USD"]}),
        world=WorldSpec(min_network=1, country_caps=[2, 3], fx_fallback="error"),
    )
    with pytest.raises(UnknownOptionError, match="AA"):
        country_inputs(scn)
    ok = replace(scn, world=WorldSpec(min_network=1, country_caps=[2, 3]))
    got = {c.country: c.currency for c in country_inputs(ok)}
    assert got == {"AA": "USD", "BB": "USD"}


def test_quotas_are_refused_by_the_world_planner():
    scn = _world(0)
    scn = replace(scn, constraints=scn.constraints.model_copy(update={"region_max": {"x": 1}}))
    with pytest.raises(UnsupportedConstraintError, match="region_max"):
        plan_world(scn)


def test_local_processes_and_dask_give_identical_plans():
    pytest.importorskip("dask.distributed")
    scn = _world(4, countries=("AA", "BB", "CC"), towns=5, rollout={"stores_per_year": [3, 4]})
    one = plan_world(scn, workers=1)
    two = plan_world(scn, engine="local", workers=2)
    dsk = plan_world(scn, engine="dask", workers=2)
    for other in (two, dsk):
        pd.testing.assert_frame_equal(one.stores, other.stores)
        pd.testing.assert_frame_equal(one.countries, other.countries)
        assert other.metrics.npv == one.metrics.npv
        assert other.metrics.bound == one.metrics.bound
    assert (one.metrics.workers, two.metrics.workers, dsk.metrics.workers) == (1, 2, 2)


def test_select_plans_keeps_the_budget_and_beats_the_incumbent():
    # two countries, two plans each, one year with a budget of 100: the best NPV pair
    # (15 + 12) spends 120; the best pair within the budget is 10 + 12 (spend 90)
    spec = RolloutSpec(years=1, stores_per_year=[3], budget_per_year=[100.0])
    world = WorldSpec(min_network=1, country_caps=[2], new_countries_per_year=2)
    options = [
        CountryOption(0, 10.0, np.array([1]), np.array([60.0])),
        CountryOption(0, 15.0, np.array([1]), np.array([90.0])),
        CountryOption(1, 10.0, np.array([1]), np.array([40.0])),
        CountryOption(1, 12.0, np.array([2]), np.array([30.0])),
    ]
    assert select_plans(options, world, spec, incumbent=[0, 2]).tolist() == [0, 3]
    # one entry a year: a single country; the incumbent breaks the entry limit
    one = world.model_copy(update={"new_countries_per_year": 1})
    assert select_plans(options, one, spec, incumbent=[0, 2]).tolist() == [1]
    # a yearly minimum nothing reaches: no combination
    assert (
        select_plans(options, world, spec.model_copy(update={"min_stores_per_year": [9]}), incumbent=[0, 2])
        is None
    )
    # the incumbent is kept on ties
    assert select_plans(options[:1], world, spec, incumbent=[0]).tolist() == [0]


def test_a_country_opens_its_minimum_network_within_its_capital():
    # one store format (221k) and a cheap partner format (40k), a budget of 230k and a
    # minimum network of two: the network is two partner stores (the greedy order would
    # open the dear store first and leave no budget for the second store)
    scn = _random_world(20)
    plan = plan_world(scn, workers=1)
    c = plan.countries.set_index("country")
    for cc, row in c[c["entry_year"] > 0].iterrows():
        assert row[f"stores_year_{int(row['entry_year'])}"] >= scn.world.min_network, cc
    assert (plan.years_table["capex"].to_numpy()[:2] <= 230_000 + 1e-6).all()
    assert plan.metrics.npv <= _brute_force(scn) * (1 + 1e-9)
    assert set(c.index[c["entry_year"] > 0]) == {"AA", "BB"}


@pytest.mark.parametrize("seed", [0, 2, 34])
def test_comparing_allocations_reaches_the_optimum_under_a_budget(seed):
    # the joint programme's allocation alone: 0.92, 0.85 and 0.86 of the brute force on
    # these worlds (its single-store values miss how a country's stores share sales)
    scn = _world(seed, towns=3, rollout={"stores_per_year": [2, 3], "budget_per_year": 150_000})
    best = _brute_force(scn)
    plan = plan_world(scn, workers=1)
    alone = plan_world(
        replace(scn, world=scn.world.model_copy(update={"compare_allocations": False})), workers=1
    )
    assert plan.metrics.npv >= alone.metrics.npv
    assert plan.metrics.npv == pytest.approx(best, rel=1e-6)
    assert (plan.years_table["capex"].to_numpy()[:2] <= 150_000 + 1e-6).all()
