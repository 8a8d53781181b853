"""Rollout schedule: limits, must-open/existing, NPV by hand, oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeplan.errors import InfeasibleError, InputError
from storeplan.rollout import (
    NEVER,
    AdditiveOracle,
    NearestOracle,
    RolloutSpec,
    evaluate,
    oracle_from_market,
    ramp_factor,
    schedule,
)


class PairOracle:
    """Two stores: A sells 1000 alone, B 800 alone; together A 900, B 700 (currency/year)."""

    def __call__(self, idx):
        idx = list(np.asarray(idx))
        if idx == [0]:
            return np.array([1000.0])
        if idx == [1]:
            return np.array([800.0])
        if idx == [0, 1]:
            return np.array([900.0, 700.0])
        return np.zeros(len(idx))


PAIR_COSTS = {"opening_cost": np.array([300.0, 200.0]), "fixed_cost": np.array([100.0, 100.0])}


def pair_spec(**kw) -> RolloutSpec:
    base = {
        "years": 2,
        "horizon_years": 2,
        "stores_per_year": 1,
        "ramp_months": 0,
        "discount_rate": 0.10,
        "gross_margin": 1.0,
        "improve_seconds": 1.0,
    }
    return RolloutSpec(**{**base, **kw})


def test_npv_by_hand_two_stores_two_years():
    # A in year 1, B in year 2 (instant ramp, margin 1, r = 10 %, end-of-year discounting):
    #   year 1: A alone  1000 - 100 (fixed) - 300 (opening)                 =  600
    #   year 2: A 900 - 100 = 800; B 700 - 100 - 200 (opening) = 400       = 1200
    #   NPV = 600 / 1.1 + 1200 / 1.1**2 = 545.4545 + 991.7355              = 1537.190
    # B first, then A: 500 / 1.1 + (500 + 600) / 1.21 = 1363.636; A only: 600/1.1 + 900/1.21 = 1289.256
    s = schedule(PairOracle(), **PAIR_COSTS, spec=pair_spec(), ids=["A", "B"])
    assert s.open_year.tolist() == [1, 2]
    assert s.npv == pytest.approx(600 / 1.1 + 1200 / 1.21, rel=1e-12)
    assert s.npv == pytest.approx(1537.190082644628, rel=1e-12)
    assert s.npv_new == pytest.approx(s.npv)  # no existing stores
    assert s.opened_per_year().tolist() == [1, 1]
    assert s.capex_per_year().tolist() == [300.0, 200.0]


def test_npv_by_hand_with_linear_ramp():
    # 12-month linear ramp: a store sells on average half its full rate in its first year.
    #   year 1: 0.5 * 1000 - 100 - 300 = 100
    #   year 2: A 900 - 100 = 800; B 0.5 * 700 - 100 - 200 = 50             = 850
    #   NPV = 100 / 1.1 + 850 / 1.21 = 90.909 + 702.479 = 793.388
    spec = pair_spec(ramp_months=12)
    ev = evaluate(PairOracle(), np.array([1, 2]), spec, **PAIR_COSTS)
    assert ev["cash"].sum(axis=0).tolist() == pytest.approx([100.0, 850.0])
    assert float(ev["value"]) == pytest.approx(100 / 1.1 + 850 / 1.21, rel=1e-12)
    forced = schedule(
        PairOracle(), **PAIR_COSTS, spec=spec, ids=["A", "B"], must_open_year={"A": 1, "B": 2}, improve=False
    )
    assert forced.open_year.tolist() == [1, 2]
    assert forced.npv == pytest.approx(793.3884297520661)


def test_ramp_factors():
    assert float(ramp_factor(0, 12)) == pytest.approx(0.5)
    assert float(ramp_factor(12, 12)) == 1.0
    assert float(ramp_factor(0, 24)) == pytest.approx(0.25)  # integral of a/24 over 0..12 / 12
    assert float(ramp_factor(12, 24)) == pytest.approx(0.75)
    assert float(ramp_factor(0, 12, "s_curve")) == pytest.approx(0.5)  # smoothstep is symmetric
    assert float(ramp_factor(0, 24, "s_curve")) < float(ramp_factor(0, 24))  # slower start
    assert float(ramp_factor(-12, 12)) == 0.0
    assert float(ramp_factor(0, 0)) == 1.0


def test_spec_validation():
    with pytest.raises(ValueError, match="3 years"):
        RolloutSpec(years=3, stores_per_year=[1, 2])
    with pytest.raises(ValueError, match="min_stores_per_year"):
        RolloutSpec(years=2, stores_per_year=2, min_stores_per_year=3)
    with pytest.raises(ValueError, match="horizon_years"):
        RolloutSpec(years=5, horizon_years=3)
    with pytest.raises(ValueError):
        RolloutSpec(years=2, unknown=1)
    s = RolloutSpec(years=3, stores_per_year=[1, 2, 3], budget_per_year=10.0)
    assert s.max_stores().tolist() == [1, 2, 3]
    assert s.budgets().tolist() == [10.0] * 3
    assert s.horizon == 10


def test_existing_and_must_open_respected():
    rev = np.array([10.0, 500.0, 400.0, 300.0, 1.0, 900.0])
    spec = RolloutSpec(years=3, stores_per_year=1, ramp_months=0, gross_margin=1.0, improve_seconds=1.0)
    s = schedule(
        AdditiveOracle(rev),
        np.full(6, 50.0),
        np.full(6, 20.0),
        spec,
        ids=list("abcdef"),
        existing=["a"],
        must_open=["e"],
        must_open_year={"b": 3},
        forbidden=["f"],
    )
    oy = dict(zip(s.ids, s.open_year, strict=True))
    assert oy["a"] == 0  # existing: open from year 0
    assert oy["e"] == 1  # must-open, year 1 by default (even at a loss)
    assert oy["b"] == 3  # must-open in the year given
    assert oy["f"] == NEVER  # forbidden
    assert oy["c"] == 2  # the best free site takes the only free slot
    assert s.opened_per_year().tolist() == [1, 1, 1]
    assert s.opening_cost[0] == 50.0 and s.capex_per_year().tolist() == [50.0, 50.0, 50.0]


def test_infeasible_must_open_and_minimum():
    spec = RolloutSpec(years=2, stores_per_year=1, ramp_months=0)
    with pytest.raises(InfeasibleError, match="stores_per_year"):
        schedule(AdditiveOracle(np.ones(3)), np.ones(3), np.ones(3), spec, must_open=[0, 1])
    spec = RolloutSpec(years=2, budget_per_year=5.0, ramp_months=0)
    with pytest.raises(InfeasibleError, match="budget_per_year"):
        schedule(AdditiveOracle(np.ones(3)), np.full(3, 10.0), np.ones(3), spec, must_open=[0])
    spec = RolloutSpec(years=2, min_stores_per_year=2, ramp_months=0)
    with pytest.raises(InfeasibleError, match="min_stores_per_year"):
        schedule(AdditiveOracle(np.ones(3)), np.ones(3), np.ones(3), spec)
    with pytest.raises(InputError, match="unknown site"):
        schedule(AdditiveOracle(np.ones(3)), np.ones(3), np.ones(3), spec, must_open=["zz"])


def test_minimum_opens_loss_making_stores():
    spec = RolloutSpec(years=2, min_stores_per_year=1, stores_per_year=3, ramp_months=0, gross_margin=1.0)
    s = schedule(AdditiveOracle(np.array([1.0, 2.0, 3.0])), np.full(3, 100.0), np.full(3, 10.0), spec)
    assert s.opened_per_year().tolist() == [1, 1]
    assert s.npv < 0


def _instance(seed: int, n_sites: int = 40, n_areas: int = 400):
    rng = np.random.default_rng(seed)
    alon, alat = rng.uniform(0, 2, n_areas), rng.uniform(0, 2, n_areas)
    spend = rng.uniform(1e5, 5e6, n_areas)
    slon, slat = rng.uniform(0, 2, n_sites), rng.uniform(0, 2, n_sites)
    oracle = NearestOracle.build(alon, alat, spend, slon, slat, 40.0)
    return oracle, rng.uniform(1e6, 3e6, n_sites), rng.uniform(2e5, 8e5, n_sites)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    years=st.integers(1, 3),
    n=st.integers(3, 14),
    cap=st.lists(st.integers(0, 4), min_size=3, max_size=3),
    lo=st.lists(st.integers(0, 1), min_size=3, max_size=3),
    budget=st.lists(st.one_of(st.none(), st.floats(0, 8e6)), min_size=3, max_size=3),
    n_exist=st.integers(0, 2),
    n_must=st.integers(0, 2),
    ramp=st.sampled_from([0.0, 12.0, 30.0]),
    additive=st.booleans(),
)
def test_limits_never_exceeded(seed, years, n, cap, lo, budget, n_exist, n_must, ramp, additive):
    oracle, oc, fc = _instance(seed, n_sites=n, n_areas=60)
    if additive:
        oracle = AdditiveOracle(np.random.default_rng(seed).uniform(0, 3e6, n))
    cap, lo = cap[:years], [min(a, b) for a, b in zip(lo[:years], cap[:years], strict=True)]
    bud = [np.inf if b is None else b for b in budget[:years]]
    spec = RolloutSpec(
        years=years,
        stores_per_year=cap,
        min_stores_per_year=lo,
        budget_per_year=[float(b) if np.isfinite(b) else 1e300 for b in bud],
        ramp_months=ramp,
        horizon_years=years + 2,
        improve_seconds=0.2,
    )
    rng = np.random.default_rng(seed + 1)
    perm = rng.permutation(n)
    exist, must = perm[:n_exist], perm[n_exist : n_exist + n_must]
    try:
        s = schedule(oracle, oc, fc, spec, existing=exist, must_open=must, seed=seed)
    except InfeasibleError:
        # only a must-open set or a yearly minimum can make it infeasible
        assert n_must > 0 or sum(lo) > 0
        return
    opened = s.opened_per_year()
    assert (opened <= np.asarray(cap)).all()
    assert (opened >= np.asarray(lo)).all()
    assert (s.capex_per_year() <= np.asarray(bud) * (1 + 1e-9) + 1e-6).all()
    assert (s.open_year[exist] == 0).all()
    assert (s.open_year[must] == 1).all()
    assert ((s.open_year >= -1) & (s.open_year <= years)).all()
    assert ((s.open_year == 0) == np.isin(np.arange(n), exist)).all()
    assert np.isfinite(s.npv)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lazy_equals_plain_greedy_when_submodular(seed):
    # instant ramp-up: equal weights, nearest-store capture is submodular -> CELF is exact
    oracle, oc, fc = _instance(seed)
    spec = RolloutSpec(years=3, stores_per_year=[4, 4, 4], ramp_months=0, improve_seconds=0)
    lazy = schedule(oracle, oc, fc, spec, existing=[0], improve=False)
    plain = schedule(oracle, oc, fc, spec, existing=[0], improve=False, lazy=False)
    assert (lazy.open_year == plain.open_year).all()
    generic_lazy = schedule(lambda i: oracle(i), oc, fc, spec, existing=[0], improve=False)
    generic_plain = schedule(lambda i: oracle(i), oc, fc, spec, existing=[0], improve=False, lazy=False)
    assert (generic_lazy.open_year == lazy.open_year).all()
    assert (generic_plain.open_year == lazy.open_year).all()
    assert generic_lazy.evaluations < generic_plain.evaluations
    # the submodular bound holds
    assert lazy.bound >= lazy.npv - 1e-6 * abs(lazy.npv)


def test_generic_callable_matches_gains_oracle():
    oracle, oc, fc = _instance(5, n_sites=15, n_areas=200)
    spec = RolloutSpec(years=2, stores_per_year=3, improve_seconds=0)
    a = schedule(oracle, oc, fc, spec, improve=False)
    b = schedule(lambda idx: oracle(idx), oc, fc, spec, improve=False)
    assert (a.open_year == b.open_year).all()
    assert a.npv == pytest.approx(b.npv)


def test_state_updates_between_years():
    # site 1 sits on top of site 0: once 0 opens in year 1, 1 loses its value and site 2 wins
    oracle = NearestOracle.build(
        [0.0, 0.0, 1.0], [0.0, 0.001, 0.0], [5e6, 5e6, 3e6], [0.0, 0.0, 1.0], [0.0, 0.0005, 0.0], 20.0
    )
    spec = RolloutSpec(years=2, stores_per_year=1, ramp_months=0, gross_margin=1.0, improve_seconds=0)
    s = schedule(oracle, np.full(3, 1e5), np.full(3, 1e5), spec, improve=False)
    assert s.open_year[0] == 1 or s.open_year[1] == 1
    assert s.open_year[2] == 2


def test_swap_improvement_never_worse():
    oracle, oc, fc = _instance(7)
    spec = RolloutSpec(years=3, stores_per_year=[5, 3, 2], ramp_months=18, improve_seconds=1.0)
    g = schedule(oracle, oc, fc, spec, improve=False)
    s = schedule(oracle, oc, fc, spec)
    assert s.npv >= g.npv - 1e-6 * abs(g.npv)
    assert "swap" in s.method


def test_huff_oracle_gains_match_brute_force():
    from storeplan.market import build_market, predicted_sales

    rng = np.random.default_rng(1)
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(40)],
            "lon": rng.uniform(0, 1, 40),
            "lat": rng.uniform(0, 1, 40),
            "population": rng.uniform(1e3, 1e4, 40),
        }
    )
    sites = pd.DataFrame(
        {"id": [f"s{i}" for i in range(8)], "lon": rng.uniform(0, 1, 8), "lat": rng.uniform(0, 1, 8)}
    )
    ex = pd.DataFrame({"id": ["e0"], "lon": [0.5], "lat": [0.5]})
    riv = pd.DataFrame({"id": ["r0"], "brand": ["x"], "lon": [0.2], "lat": [0.3]})
    mk = build_market(areas, sites, existing=ex, rivals=riv)
    orc = oracle_from_market(mk, [*sites["id"], "e0"])
    open_idx, w = np.array([1, 4, 8]), np.array([1.0, 2.0, 0.5])
    cand = np.array([0, 2, 7])
    own, delta = orc.gains(open_idx, w, cand)
    base = orc(open_idx)
    for k, c in enumerate(cand):
        idx = np.sort(np.append(open_idx, c))
        rev = orc(idx)
        at = int(np.searchsorted(idx, c))
        assert own[k] == pytest.approx(rev[at], rel=1e-9)
        assert delta[k] == pytest.approx(float(np.dot(w, np.delete(rev, at) - base)), rel=1e-9, abs=1e-6)
    with pytest.raises(InputError):
        oracle_from_market(mk, ["nope"])
    # same revenue as the market model itself; candidates outside the universe stay closed
    sub = oracle_from_market(mk, ["s1", "s5", "e0", "s6"])
    rev = sub(np.array([0, 2, 3]))
    full = predicted_sales(mk, np.array([1, 6]))
    np.testing.assert_allclose(rev, full[[1, 8, 6]], rtol=1e-12)


def test_budget_uses_the_better_of_gain_and_ratio_greedy():
    # budget 10: A alone (gain 100 - 10 = 90) loses to B + C (2 x (60 - 5) = 110);
    # the gain greedy takes A first, the cost-benefit (ratio) greedy takes B and C.
    spec = RolloutSpec(
        years=1,
        horizon_years=1,
        budget_per_year=10.0,
        ramp_months=0,
        gross_margin=1.0,
        discount_rate=0.0,
        improve_seconds=0,
    )
    s = schedule(
        AdditiveOracle(np.array([100.0, 60.0, 60.0])),
        np.array([10.0, 5.0, 5.0]),
        np.zeros(3),
        spec,
        improve=False,
    )
    assert s.open_year.tolist() == [-1, 1, 1]
    assert s.npv == pytest.approx(110.0)
    assert "ratio" in s.method


def test_rollout_of_any_plan_with_the_fallback_oracles(scenario_dir, tmp_path):
    from storeplan import Plan, Scenario, solve
    from storeplan.rollout import oracle_from_plan, rollout_plan

    plan = solve(Scenario.from_toml(scenario_dir(objective='kind = "pmedian"\nstores = 3')))
    spec = RolloutSpec(years=2, stores_per_year=[1, 2], spend_per_person=1e6, improve_seconds=1.0)
    oracle = oracle_from_plan(plan, spec.spend_per_person)
    assert isinstance(oracle, NearestOracle)  # the plan's areas: nearest open store takes the spend
    every = np.arange(len(plan.stores))
    # with every store open, each store sells its covered population (radius) x spend per person
    np.testing.assert_allclose(oracle(every), plan.stores["covered_population"].to_numpy() * 1e6, rtol=1e-9)
    # with the k nearest stores kept, it sells its p-median catchment (demand captured)
    reach = oracle_from_plan(plan, 1e6, k=3)
    np.testing.assert_allclose(reach(every), plan.stores["demand_captured"].to_numpy() * 1e6, rtol=1e-9)
    s = rollout_plan(plan, spec)
    # year 1 opens the best store; later stores only open where they add net value
    assert s.opened_per_year()[0] == 1 and (s.opened_per_year() <= [1, 2]).all()
    assert set(s.ids) == set(plan.stores["id"])
    plan.save(tmp_path / "saved")
    loaded = Plan.load(tmp_path / "saved")
    # a loaded plan keeps its areas: the same catchment oracle, the same schedule
    np.testing.assert_array_equal(oracle_from_plan(loaded, 1e6)(every), oracle(every))
    assert rollout_plan(loaded, spec).open_year.tolist() == s.open_year.tolist()
    import dataclasses

    no_areas = dataclasses.replace(loaded, areas=loaded.areas.iloc[:0][["id"]])
    assert isinstance(oracle_from_plan(no_areas), AdditiveOracle)  # no areas: captured demand, additive
    s2 = rollout_plan(no_areas, spec)
    assert s2.opened_per_year().tolist() == [1, 2]  # additive: every store adds its own sales


def test_unlimited_store_counts_do_not_overflow_the_bound():
    spec = RolloutSpec(years=3, ramp_months=0, improve_seconds=0)
    s = schedule(AdditiveOracle(np.array([5.0, 4.0, 3.0])), np.ones(3), np.zeros(3), spec)
    assert (s.open_year == 1).all()
    assert s.bound >= s.npv - 1e-9 and np.isfinite(s.gap)


def test_huff_incremental_state_matches_a_fresh_oracle():
    from storeplan.market import build_market

    rng = np.random.default_rng(4)
    n_a, n_s = 300, 40
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n_a)],
            "lon": rng.uniform(0, 2, n_a),
            "lat": rng.uniform(0, 2, n_a),
            "population": rng.uniform(1e3, 1e4, n_a),
        }
    )
    sites = pd.DataFrame(
        {"id": [f"s{i}" for i in range(n_s)], "lon": rng.uniform(0, 2, n_s), "lat": rng.uniform(0, 2, n_s)}
    )
    ex = pd.DataFrame({"id": ["e0"], "lon": [1.0], "lat": [1.0]})
    mk = build_market(areas, sites, existing=ex)
    ids = [*sites["id"], "e0"]
    warm = oracle_from_market(mk, ids)
    cand = np.arange(n_s)
    open_idx = np.array([n_s])  # the existing store
    w = np.array([2.0])
    for step in range(12):  # grow the open set one site at a time, like the greedy
        own, delta = warm.gains(open_idx, w, cand)
        cold = oracle_from_market(mk, ids).gains(open_idx, w, cand)
        np.testing.assert_allclose(own, cold[0], rtol=1e-12)
        np.testing.assert_allclose(delta, cold[1], rtol=1e-9, atol=1e-6)
        j = int(rng.choice(np.setdiff1d(cand, open_idx)))
        open_idx = np.sort(np.append(open_idx, j))
        w = np.where(open_idx == n_s, 2.0, 1.0 + (step % 3 == 2))  # weights change every 3rd step


def test_nearest_oracle_matches_brute_force_while_growing():
    rng = np.random.default_rng(8)
    n_a, n_s = 150, 25
    alon, alat = rng.uniform(0, 1, n_a), rng.uniform(0, 1, n_a)
    slon, slat = rng.uniform(0, 1, n_s), rng.uniform(0, 1, n_s)
    spend = rng.uniform(1, 10, n_a)
    warm = NearestOracle.build(alon, alat, spend, slon, slat, 30.0)
    km = warm.km.toarray()
    km[km == 0] = np.inf  # not stored: out of reach
    open_idx = np.array([3])
    for _ in range(10):
        d = km[:, open_idx]
        near = np.argmin(d, axis=1)
        reach = np.isfinite(d.min(axis=1))
        expect = np.bincount(near[reach], weights=spend[reach], minlength=len(open_idx))
        np.testing.assert_allclose(warm(open_idx), expect, rtol=1e-12)
        cand = np.setdiff1d(np.arange(n_s), open_idx)
        w = np.linspace(1.0, 2.0, len(open_idx))
        own, delta = warm.gains(open_idx, w, cand)
        cold = NearestOracle(warm.km, spend).gains(open_idx, w, cand)
        np.testing.assert_allclose(own, cold[0])
        np.testing.assert_allclose(delta, cold[1])
        open_idx = np.sort(np.append(open_idx, rng.choice(cand)))


def test_bad_oracle_output_is_reported():
    spec = RolloutSpec(years=1, ramp_months=0, improve_seconds=0)
    with pytest.raises(InputError, match="values for"):
        schedule(lambda idx: np.ones(len(idx) + 1), np.ones(3), np.zeros(3), spec)
    with pytest.raises(InputError, match="negative"):
        schedule(lambda idx: -np.ones(len(idx)), np.ones(3), np.zeros(3), spec)
