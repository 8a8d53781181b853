"""Quotas and budgets in the competitive (Huff) revenue model, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from storeplan.errors import InfeasibleError
from storeplan.solvers import Constraints, Quota
from storeplan.solvers.revenue import RevenueProblem, objective_value, revenue


def _instance(seed: int, n: int = 50, m: int = 10):
    rng = np.random.default_rng(seed)
    U = sp.random(
        n, m, density=0.35, random_state=rng, format="csr", data_rvs=lambda k: rng.uniform(0.05, 2, k)
    )
    W = rng.uniform(10.0, 100.0, n)
    base_total = rng.uniform(0.1, 1.5, n)
    return U, W, base_total, rng


def _ok(sites, quotas):
    s = set(sites)
    for q in quotas:
        w = np.ones(len(q.sites)) if q.weight is None else np.asarray(q.weight)
        v = sum(float(w[k]) for k, j in enumerate(q.sites) if j in s)
        if v < q.lo - 1e-9 or v > q.hi + 1e-9:
            return False
    return True


def _best(prob, quotas, sizes):
    best = -np.inf
    for k in sizes:
        for combo in itertools.combinations(range(prob.n_sites), k):
            if _ok(combo, quotas):
                best = max(best, objective_value(prob, combo))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_region_quotas_with_p_vs_brute(seed):
    U, W, B, rng = _instance(seed)
    region = rng.integers(0, 3, 10)
    quotas = (
        Quota("region 0", np.flatnonzero(region == 0), lo=min(2, int((region == 0).sum()))),
        Quota("region 1", np.flatnonzero(region == 1), hi=1),
    )
    prob = RevenueProblem.build(U, W, base_total=B)
    opt = _best(prob, quotas, [4])
    sol = revenue(U, W, 4, base_total=B, constraints=Constraints(quotas=quotas))
    assert _ok(sol.sites.tolist(), quotas) and sol.n_sites == 4
    assert sol.objective <= opt * (1 + 1e-12)
    assert sol.bound >= opt * (1 - 1e-9)
    assert sol.objective >= 0.97 * opt


@pytest.mark.parametrize("seed", range(6))
def test_budget_and_group_budget_vs_brute(seed):
    U, W, B, rng = _instance(100 + seed)
    cost = rng.uniform(0.5, 2.0, 10)
    fixed = rng.uniform(0, 5, 10)
    tier = rng.integers(0, 2, 10)
    members = np.flatnonzero(tier == 0)
    quotas = (Quota("tier 1 budget", members, weight=cost[members], hi=1.5, unit="CNY"),)
    prob = RevenueProblem.build(U, W, base_total=B, fixed_cost=fixed)
    allq = quotas + (Quota("budget", np.arange(10), weight=cost, hi=4.0, unit="CNY"),)
    opt = _best(prob, allq, range(0, 11))
    c = Constraints(site_cost=cost, budget=4.0, quotas=quotas)
    sol = revenue(U, W, base_total=B, fixed_cost=fixed, constraints=c)
    assert cost[sol.sites].sum() <= 4.0 + 1e-12
    assert cost[np.intersect1d(sol.sites, members)].sum() <= 1.5 + 1e-12
    assert sol.objective <= opt + 1e-9 * abs(opt) <= sol.bound + 1e-9 * abs(opt)
    # p and a budget together: exactly 3 sites costing at most 4
    opt3 = _best(prob, allq, [3])
    if np.isfinite(opt3):
        sol3 = revenue(U, W, 3, base_total=B, fixed_cost=fixed, constraints=c)
        assert sol3.n_sites == 3 and cost[sol3.sites].sum() <= 4.0 + 1e-12
        assert sol3.objective <= opt3 + 1e-9 * abs(opt3) <= sol3.bound + 1e-9 * abs(opt3)


def test_group_limits_are_quotas():
    U, W, B, rng = _instance(7)
    group = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, -1])
    c = Constraints(group=group, group_min=np.array([3, 0]), group_max=np.array([4, 1]))
    sol = revenue(U, W, 5, base_total=B, constraints=c)
    assert np.isin(sol.sites, [0, 1, 2, 3]).sum() >= 3 and np.isin(sol.sites, [4, 5, 6, 7]).sum() <= 1


def test_infeasible_quota_named():
    U, W, B, _ = _instance(3)
    q = (Quota("region_min for Henan", np.array([0, 1]), lo=3),)
    with pytest.raises(InfeasibleError, match="region_min for Henan: at least 3 stores needed but only 2"):
        revenue(U, W, 4, base_total=B, constraints=Constraints(quotas=q))
