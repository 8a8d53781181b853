"""Budgets and quotas (knapsack rows) in p-median, coverage and facility location.

Hand-checked small cases, then heuristic / MIP / bound against brute force on random
instances, then Hypothesis properties (never over budget or quota; more budget never
worse)."""

from __future__ import annotations

import numpy as np
import pytest
from brute import brute_coverage, brute_pmedian, brute_ufl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from storeplan.errors import InfeasibleError, InputError
from storeplan.solvers import Constraints, Quota, coverage, facility_location, pmedian


def plane(n, m, seed):
    rng = np.random.default_rng(seed)
    a = rng.random((n, 2)) * 100
    s = rng.random((m, 2)) * 100
    return np.round(np.linalg.norm(a[:, None] - s[None], axis=2)), rng


def spent(sol, cost):
    return float(np.asarray(cost)[sol.sites].sum())


# ---------------------------------------------------------------- hand-checked
# A line of 4 clients at x = 0, 1, 10, 11 and 3 sites: A at 0.5 (cost 5), B at 10.5
# (cost 5), C at 5.5 (cost 2). Distances |x - s|.
X = np.array([0.0, 1.0, 10.0, 11.0])
S = np.array([0.5, 10.5, 5.5])
D = np.abs(X[:, None] - S[None, :])
COST = np.array([5.0, 5.0, 2.0])


def test_pmedian_budget_hand_checked():
    # budget 10: A + B (sum of km 4 x 0.5 = 2); budget 7: one of A/B with C
    # (A + C: 0.5 + 0.5 + 4.5 + 5.5 = 11); budget 4: only C (5.5 + 4.5 + 4.5 + 5.5 = 20)
    for budget, want, sites in ((10, 2.0, [0, 1]), (7, 11.0, None), (4, 20.0, [2])):
        sol = pmedian(D, None, constraints=Constraints(site_cost=COST, budget=budget))
        assert sol.objective == pytest.approx(want)
        assert spent(sol, COST) <= budget
        assert sol.proven_optimal
        if sites is not None:
            assert sol.sites.tolist() == sites


def test_pmedian_budget_with_p():
    # exactly 2 sites and at most 7: A+C or B+C (11), never A+B (cost 10)
    sol = pmedian(D, 2, constraints=Constraints(site_cost=COST, budget=7))
    assert sol.objective == pytest.approx(11.0)
    assert 2 in sol.sites.tolist()


def test_coverage_budget_hand_checked():
    # radius 1: A covers clients 0,1; B covers 2,3; C none. Budget 7 -> 2 clients.
    sol = coverage(D, None, 1.0, constraints=Constraints(site_cost=COST, budget=7))
    assert sol.objective == 2.0 and spent(sol, COST) <= 7 and sol.proven_optimal
    sol = coverage(D, None, 1.0, constraints=Constraints(site_cost=COST, budget=10))
    assert sol.objective == 4.0


def test_ufl_budget_hand_checked():
    # opening costs 1 each, budget on COST: with budget 7 A+B is out
    f = np.ones(3)
    sol = facility_location(D, f, constraints=Constraints(site_cost=COST, budget=7))
    assert spent(sol, COST) <= 7
    assert sol.objective == pytest.approx(brute_ufl(D, f, quotas=[(range(3), COST, 0, 7)]))


def test_quota_min_and_max_hand_checked():
    # at least one store in {C}, at most one in {A, B}, p = 2: C + A or C + B = 11
    q = (Quota("region west", np.array([2]), lo=1), Quota("region east", np.array([0, 1]), hi=1))
    sol = pmedian(D, 2, constraints=Constraints(quotas=q))
    assert sol.objective == pytest.approx(11.0) and 2 in sol.sites.tolist()
    # a budget quota on {A, B}: at most 5 of opening cost there
    q2 = (Quota("east budget", np.array([0, 1]), weight=COST[:2], hi=5, unit="CNY"),)
    sol = coverage(D, 2, 1.0, constraints=Constraints(quotas=q2))
    assert sol.objective == 2.0 and len(set(sol.sites.tolist()) & {0, 1}) == 1


def test_budget_min_quota():
    # a minimum budget in {A, B} of 10 forces both
    q = (Quota("east minimum spend", np.array([0, 1]), weight=COST[:2], lo=10, unit="CNY"),)
    sol = pmedian(D, None, constraints=Constraints(site_cost=COST, budget=11, quotas=q))
    assert sorted(sol.sites.tolist()) == [0, 1]


def test_infeasible_quotas_are_named():
    with pytest.raises(InfeasibleError, match="region Henan: at least 3 stores needed but only 2"):
        pmedian(D, 3, constraints=Constraints(quotas=(Quota("region Henan", np.array([0, 1]), lo=3),)))
    with pytest.raises(InfeasibleError, match="budget: the cheapest 2 stores"):
        pmedian(D, 2, constraints=Constraints(site_cost=COST, budget=6))
    with pytest.raises(InfeasibleError, match="minimum 3 is above its maximum 2"):
        pmedian(D, 2, constraints=Constraints(quotas=(Quota("tier 1", np.array([0, 1]), lo=3, hi=2),)))
    with pytest.raises(InfeasibleError, match="must open"):
        pmedian(
            D, 2, constraints=Constraints(must_open=[0, 1], quotas=(Quota("east", np.array([0, 1]), hi=1),))
        )
    with pytest.raises(InputError, match="budget given without site_cost"):
        pmedian(D, None, constraints=Constraints(budget=3))
    with pytest.raises(InputError, match="give p"):
        pmedian(D, None)


# ---------------------------------------------------------------- random vs brute force
@pytest.mark.parametrize("seed", range(8))
def test_pmedian_budget_quota_vs_brute(seed):
    d, rng = plane(12, 9, 300 + seed)
    w = rng.integers(1, 5, 12).astype(float)
    cost = rng.integers(1, 6, 9).astype(float)
    budget = float(rng.integers(6, 14))
    region = rng.integers(0, 3, 9)
    quotas = [Quota(f"region {g}", np.flatnonzero(region == g), hi=2) for g in range(3)]
    quotas.append(Quota("region 0 min", np.flatnonzero(region == 0), lo=min(1, int((region == 0).sum()))))
    rows = [(q.sites.tolist(), None, q.lo, q.hi) for q in quotas] + [(list(range(9)), cost, 0, budget)]
    exact = brute_pmedian(d, None, w, quotas=rows)
    c = Constraints(site_cost=cost, budget=budget, quotas=tuple(quotas))
    if not np.isfinite(exact):
        with pytest.raises(InfeasibleError):
            pmedian(d, None, weights=w, constraints=c)
        return
    for method in ("heuristic", "auto", "mip"):
        sol = pmedian(d, None, weights=w, constraints=c, method=method)
        assert spent(sol, cost) <= budget + 1e-9
        for q in quotas:
            k = np.isin(sol.sites, q.sites).sum()
            assert q.lo <= k <= q.hi
        assert sol.objective >= exact - 1e-9
        assert sol.bound <= exact + 1e-9
        if method != "heuristic":
            assert sol.objective == pytest.approx(exact) and sol.proven_optimal


@pytest.mark.parametrize("seed", range(6))
def test_coverage_budget_vs_brute(seed):
    d, rng = plane(15, 9, 400 + seed)
    w = rng.integers(1, 5, 15).astype(float)
    cost = rng.integers(1, 6, 9).astype(float)
    budget = float(rng.integers(5, 12))
    exact = brute_coverage(d, None, 30.0, w, quotas=[(list(range(9)), cost, 0, budget)])
    c = Constraints(site_cost=cost, budget=budget)
    for method in ("heuristic", "auto"):
        sol = coverage(d, None, 30.0, weights=w, constraints=c, method=method)
        assert spent(sol, cost) <= budget + 1e-9
        assert sol.objective <= exact + 1e-9
        assert sol.bound >= exact - 1e-9
        if method == "auto":
            assert sol.objective == pytest.approx(exact) and sol.proven_optimal


# ---------------------------------------------------------------- properties
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=hs.integers(0, 10_000), budget=hs.floats(3, 25), extra=hs.floats(0, 10))
def test_budget_never_overspent_and_more_budget_never_worse(seed, budget, extra):
    d, rng = plane(10, 8, seed)
    cost = rng.integers(1, 8, 8).astype(float)
    if cost.min() > budget:
        return
    a = pmedian(d, None, constraints=Constraints(site_cost=cost, budget=budget), method="mip")
    b = pmedian(d, None, constraints=Constraints(site_cost=cost, budget=budget + extra), method="mip")
    assert spent(a, cost) <= budget * (1 + 1e-12)
    assert spent(b, cost) <= (budget + extra) * (1 + 1e-12)
    assert b.objective <= a.objective + 1e-9
    h = pmedian(d, None, constraints=Constraints(site_cost=cost, budget=budget), method="heuristic")
    assert spent(h, cost) <= budget * (1 + 1e-12)
    assert h.bound <= a.objective + 1e-9
