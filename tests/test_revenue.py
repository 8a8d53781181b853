"""Competitive site selection (storeplan.solvers.revenue)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from storeplan.errors import InfeasibleError, InputError
from storeplan.market import build_market, capture, select_sites
from storeplan.solvers.constraints import Constraints, Quota
from storeplan.solvers.revenue import (
    GREEDY_FACTOR,
    RevenueProblem,
    marginal_gains,
    objective_value,
    revenue,
)


def _instance(seed: int, n: int = 60, m: int = 12, density: float = 0.3):
    rng = np.random.default_rng(seed)
    U = sp.random(
        n, m, density=density, random_state=rng, format="csr", data_rvs=lambda k: rng.uniform(0.05, 2.0, k)
    )
    W = rng.uniform(10.0, 100.0, n)
    base_own = np.where(rng.random(n) < 0.3, rng.uniform(0, 0.5, n), 0.0)
    base_total = base_own + rng.uniform(0.1, 1.5, n)
    return U, W, base_own, base_total


def _brute_force(prob: RevenueProblem, p: int, conflicts=None, must=(), forbidden=()):
    best = -np.inf
    conf = {tuple(c) for c in (conflicts if conflicts is not None else [])}
    for combo in itertools.combinations(range(prob.n_sites), p):
        s = set(combo)
        if not set(must) <= s or s & set(forbidden):
            continue
        if any((a in s and b in s) for a, b in conf):
            continue
        best = max(best, objective_value(prob, combo))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "kw",
    [
        {"p": 4},
        {"p": 3, "fixed_cost": 5.0},
        {"budget": 3.0, "opening_cost": "random"},
        {"fixed_cost": 40.0},
        {"p": 4, "conflicts": np.array([[0, 1], [2, 3], [1, 5]])},
    ],
    ids=["p", "p+fixed", "budget", "free", "conflicts"],
)
def test_lazy_greedy_equals_plain_greedy(seed, kw):
    U, W, b, B = _instance(seed)
    kw = dict(kw)
    if kw.get("opening_cost") == "random":
        kw["opening_cost"] = np.random.default_rng(seed).uniform(0.5, 1.5, U.shape[1])
    lazy = revenue(U, W, base_own=b, base_total=B, swap=False, lazy=True, **kw)
    plain = revenue(U, W, base_own=b, base_total=B, swap=False, lazy=False, **kw)
    np.testing.assert_array_equal(lazy.sites, plain.sites)
    np.testing.assert_array_equal(lazy.info["greedy_order"], plain.info["greedy_order"])
    assert lazy.objective == pytest.approx(plain.objective, rel=1e-12)
    assert lazy.iterations <= plain.iterations


@pytest.mark.parametrize("seed", range(8))
def test_bound_brackets_brute_force_optimum(seed):
    U, W, b, B = _instance(seed, n=40, m=10)
    prob = RevenueProblem.build(U, W, base_own=b, base_total=B)
    sol = revenue(U, W, 3, base_own=b, base_total=B)
    opt = _brute_force(prob, 3)
    tol = 1e-9 * opt
    assert sol.objective <= opt + tol
    assert sol.bound >= opt - tol
    # greedy guarantee on the gain over the existing network
    base = sol.info["base"]
    assert sol.info["greedy_objective"] - base >= GREEDY_FACTOR * (opt - base) - tol
    assert sol.objective >= sol.info["greedy_objective"] - tol  # swaps never hurt
    assert sol.objective == pytest.approx(objective_value(prob, sol.sites), rel=1e-12)
    assert sol.sense == "max" and sol.sites.dtype == np.int64
    assert np.all(np.diff(sol.sites) > 0)


def test_bound_valid_with_conflicts_fixed_costs_and_must_open():
    for seed in range(5):
        U, W, b, B = _instance(seed, n=40, m=10)
        fixed = np.random.default_rng(seed).uniform(0, 20, 10)
        conflicts = np.array([[0, 1], [1, 2], [3, 7]])
        prob = RevenueProblem.build(U, W, base_own=b, base_total=B, fixed_cost=fixed)
        sol = revenue(
            U,
            W,
            4,
            base_own=b,
            base_total=B,
            fixed_cost=fixed,
            conflicts=conflicts,
            must_open=[5],
            forbidden=[9],
        )
        opt = _brute_force(prob, 4, conflicts=conflicts, must=[5], forbidden=[9])
        assert sol.objective <= opt + 1e-9 * abs(opt)
        assert sol.bound >= opt - 1e-9 * abs(opt)
        s = set(sol.sites.tolist())
        assert 5 in s and 9 not in s and len(s) == 4
        assert not any(a in s and c in s for a, c in conflicts)


def test_beats_random_plans_of_the_same_size():
    U, W, b, B = _instance(42, n=400, m=60, density=0.08)
    prob = RevenueProblem.build(U, W, base_own=b, base_total=B)
    sol = revenue(U, W, 8, base_own=b, base_total=B)
    rng = np.random.default_rng(0)
    rand = [objective_value(prob, rng.choice(60, 8, replace=False)) for _ in range(300)]
    assert sol.objective > max(rand)


def test_market_solution_beats_random_plans():
    rng = np.random.default_rng(3)
    n, m = 500, 60
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n)],
            "lon": 113 + rng.random(n),
            "lat": 23 + rng.random(n),
            "population": rng.lognormal(9, 1, n),
        }
    )
    sites = pd.DataFrame(
        {"id": [f"s{j}" for j in range(m)], "lon": 113 + rng.random(m), "lat": 23 + rng.random(m)}
    )
    rivals = pd.DataFrame(
        {
            "id": [f"r{j}" for j in range(30)],
            "brand": "X",
            "lon": 113 + rng.random(30),
            "lat": 23 + rng.random(30),
        }
    )
    mk = build_market(areas, sites, rivals=rivals)
    sol = select_sites(mk, 6, seed=1)
    rand = [capture(mk, rng.choice(m, 6, replace=False)).own_offline for _ in range(200)]
    assert sol.objective > max(rand)
    cap = capture(mk, sol.sites)
    assert sol.objective == pytest.approx(cap.own_offline, rel=1e-9)
    new = cap.stores[cap.stores["kind"] == "new"].sort_values("index")
    np.testing.assert_allclose(sol.info["store_revenue"], new["offline_revenue"], rtol=1e-9)


def test_deterministic_for_a_seed():
    U, W, b, B = _instance(9, n=300, m=40, density=0.1)
    a = revenue(U, W, 6, base_own=b, base_total=B, seed=5)
    c = revenue(U, W, 6, base_own=b, base_total=B, seed=5)
    np.testing.assert_array_equal(a.sites, c.sites)
    assert a.objective == c.objective and a.bound == c.bound


def test_budget_respected_and_single_best_item_considered():
    # one huge area served only by an expensive site; many small areas by cheap ones
    n = 30
    rows, cols, vals = [0], [0], [5.0]
    for i in range(1, n):
        rows.append(i)
        cols.append(1 + (i % 5))
        vals.append(1.0)
    U = sp.csr_matrix((vals, (rows, cols)), shape=(n, 6))
    W = np.r_[1000.0, np.full(n - 1, 1.0)]
    cost = np.r_[10.0, np.full(5, 1.0)]
    sol = revenue(U, W, budget=10.0, opening_cost=cost, base_total=np.ones(n))
    assert sol.info["budget_used"] <= 10.0
    assert sol.sites.tolist() == [0]
    assert sol.bound >= sol.objective


def test_free_mode_opens_only_profitable_sites():
    U, W, b, B = _instance(4, n=80, m=15)
    prob = RevenueProblem.build(U, W, base_own=b, base_total=B, fixed_cost=30.0)
    sol = revenue(U, W, base_own=b, base_total=B, fixed_cost=30.0)
    g = marginal_gains(prob, sol.sites)
    closed = np.setdiff1d(np.arange(15), sol.sites)
    assert np.all(g[closed] <= 30.0 + 1e-9)
    assert sol.objective >= objective_value(prob, [])


def test_must_open_everything_is_proven():
    U, W, b, B = _instance(1)
    sol = revenue(U, W, 3, base_own=b, base_total=B, must_open=[1, 2, 3])
    assert sol.sites.tolist() == [1, 2, 3]
    assert sol.proven_optimal and sol.gap == 0.0


def test_infeasible_and_bad_input():
    U, W, b, B = _instance(2)
    with pytest.raises(InfeasibleError):
        revenue(U, W, 13, base_own=b, base_total=B)
    with pytest.raises(InfeasibleError):
        revenue(U, W, 2, must_open=[0, 1], conflicts=np.array([[0, 1]]))
    with pytest.raises(InfeasibleError):
        # a clique of conflicts allows only one open site
        pairs = np.array(list(itertools.combinations(range(12), 2)))
        revenue(U, W, 2, conflicts=pairs)
    with pytest.raises(InputError):
        revenue(U, W[:-1], 2)
    with pytest.raises(InputError):
        revenue(U, W, 2, base_own=B + 1.0, base_total=B)
    with pytest.raises(InputError):
        revenue(U, W, 2, budget=5.0)


@pytest.mark.parametrize("seed", range(4))
def test_bound_valid_in_budget_and_free_modes(seed):
    U, W, b, B = _instance(seed, n=40, m=10)
    rng = np.random.default_rng(seed)
    fixed = rng.uniform(0, 15, 10)
    cost = rng.uniform(0.5, 2.0, 10)
    prob = RevenueProblem.build(U, W, base_own=b, base_total=B, fixed_cost=fixed)
    subsets = [s for k in range(11) for s in itertools.combinations(range(10), k)]
    value = {s: objective_value(prob, s) for s in subsets}
    opt_budget = max(v for s, v in value.items() if cost[list(s)].sum() <= 4.0)
    opt_free = max(value.values())
    sol = revenue(U, W, base_own=b, base_total=B, fixed_cost=fixed, opening_cost=cost, budget=4.0)
    assert cost[sol.sites].sum() <= 4.0
    assert sol.objective <= opt_budget + 1e-9 * abs(opt_budget) <= sol.bound + 1e-9 * abs(opt_budget)
    sol = revenue(U, W, base_own=b, base_total=B, fixed_cost=fixed)
    assert sol.objective <= opt_free + 1e-9 * abs(opt_free) <= sol.bound + 1e-9 * abs(opt_free)


def test_bound_valid_when_the_heuristic_is_not_optimal():
    # instances where greedy (no swaps) misses the optimum: every bound must still hold
    missed = computed = 0
    for seed in range(12):
        U, W, b, B = _instance(seed, n=200, m=16, density=0.25)
        prob = RevenueProblem.build(U, W, base_own=b, base_total=B)
        sol = revenue(U, W, 4, base_own=b, base_total=B, swap=False, lagrangian=True)
        opt = _brute_force(prob, 4)
        missed += sol.objective < opt * (1 - 1e-9)
        computed += np.isfinite(sol.info["lagrangian_bound"])
        for name in ("cut_bound", "online_bound", "greedy_bound", "lagrangian_bound", "modular_bound"):
            assert sol.info[name] >= opt * (1 - 1e-9), name
        assert sol.bound >= opt * (1 - 1e-9)
        assert not sol.proven_optimal or sol.objective >= opt * (1 - 1e-9)
    assert missed >= 1 and computed >= 1  # the checks above are not vacuous


def test_time_limit_keeps_a_valid_bound():
    U, W, b, B = _instance(0, n=200, m=16, density=0.25)
    prob = RevenueProblem.build(U, W, base_own=b, base_total=B)
    opt = _brute_force(prob, 4)
    quick = revenue(U, W, 4, base_own=b, base_total=B, time_limit=0.0, bound_iters=400)
    full = revenue(U, W, 4, base_own=b, base_total=B, bound_iters=400)
    assert quick.info["sweeps"] == 0 and full.info["sweeps"] >= 1
    assert quick.iterations < full.iterations
    assert quick.objective <= opt * (1 + 1e-12)
    assert quick.bound >= opt * (1 - 1e-9)
    assert full.bound <= quick.bound + 1e-9 * opt


# ------------------------------------------- the single-store-gain bound (0-1 programme)


@pytest.mark.parametrize("seed", range(10))
def test_modular_bound_holds_with_conflicts_quotas_and_budget(seed):
    rng = np.random.default_rng(300 + seed)
    U, W, b, B = _instance(seed, n=80, m=10, density=0.35)
    fixed = rng.uniform(0.0, 40.0, 10)
    cost = rng.integers(1, 5, 10).astype(float)
    conflicts = np.array([[0, 1], [2, 3], [4, 7], [5, 6]])
    group = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    prob = RevenueProblem.build(U, W, base_own=b, base_total=B, fixed_cost=fixed, opening_cost=cost)
    conf = {tuple(c) for c in conflicts.tolist()}

    def ok(combo, p=None):
        s = set(combo)
        return (
            (p is None or len(s) == p)
            and not any((a in s and c in s) for a, c in conf)
            and sum(1 for j in s if group[j] == 1) <= 2
        )

    quota = Constraints(quotas=(Quota("east", np.flatnonzero(group == 1), hi=2),))
    for kw, accept in (
        ({"p": 3}, lambda c: ok(c, 3)),
        ({"p": None, "opening_cost": cost, "budget": 7.0}, lambda c: ok(c) and cost[list(c)].sum() <= 7.0),
    ):
        opt = -np.inf
        for r in range(11):
            for combo in itertools.combinations(range(10), r):
                if accept(combo):
                    opt = max(opt, objective_value(prob, np.array(combo, dtype=np.int64)))
        p = kw.pop("p")
        sol = revenue(
            U, W, p, base_own=b, base_total=B, fixed_cost=fixed, conflicts=conflicts, constraints=quota, **kw
        )
        assert np.isfinite(sol.info["modular_bound"])
        assert sol.info["modular_bound"] >= opt * (1 - 1e-9) - 1e-9
        assert sol.bound >= opt * (1 - 1e-9) - 1e-9
        assert sol.objective <= opt * (1 + 1e-9) + 1e-9


def test_modular_bound_proves_plans_whose_catchments_do_not_overlap():
    # four towns far apart, each reached by its own two candidates (which conflict):
    # single-store gains add up exactly, so the bound equals the optimum
    rows, cols, vals = [], [], []
    for t in range(4):
        for i in range(5):
            for j in (2 * t, 2 * t + 1):
                rows.append(5 * t + i)
                cols.append(j)
                vals.append(1.0 + 0.1 * j + 0.05 * i)
    U = sp.csr_matrix((vals, (rows, cols)), shape=(20, 8))
    W = np.linspace(10.0, 30.0, 20)
    conflicts = np.array([[2 * t, 2 * t + 1] for t in range(4)])
    sol = revenue(U, W, 3, base_total=np.ones(20), conflicts=conflicts)
    assert sol.proven_optimal and "modular-ip" in sol.method
    assert sol.bound == pytest.approx(sol.objective, rel=1e-9)
