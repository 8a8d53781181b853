"""Capacities (single-source) in p-median and coverage: hand-checked and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from storeplan.errors import InfeasibleError, UnsupportedConstraintError
from storeplan.solvers import Constraints, coverage, pmedian
from storeplan.solvers.capacity import CAPACITY_MAX_ARCS, nearest_feasible


def brute_cap(d, w, cap, p, kind, radius=None, budget=None, cost=None):
    n, m = d.shape
    best = np.inf if kind == "pmedian" else -np.inf
    for sites in itertools.combinations(range(m), p):
        if budget is not None and cost[list(sites)].sum() > budget:
            continue
        opts = [list(sites) + ([-1] if kind == "coverage" else []) for _ in range(n)]
        for a in itertools.product(*opts):
            load = np.zeros(m)
            ok = True
            for i, j in enumerate(a):
                if j < 0:
                    continue
                if kind == "coverage" and d[i, j] > radius:
                    ok = False
                    break
                load[j] += w[i]
            if not ok or np.any(load > cap + 1e-9):
                continue
            if kind == "pmedian":
                best = min(best, sum(w[i] * d[i, j] for i, j in enumerate(a)))
            else:
                best = max(best, sum(w[i] for i, j in enumerate(a) if j >= 0))
    return best


# Clients at 0, 1, 2 (weight 1 each) and 10 (weight 1); sites at 0 and 10, capacity 2:
# uncapacitated everyone near 0 goes to site 0 (cost 0 + 1 + 2 + 0 = 3); with capacity 2
# client 2 (farthest from 0 among the three) must go to site 10: 0 + 1 + 8 + 0 = 9.
X = np.array([0.0, 1.0, 2.0, 10.0])
D = np.abs(X[:, None] - np.array([0.0, 10.0])[None, :])


def test_capacitated_pmedian_hand_checked():
    free = pmedian(D, 2)
    assert free.objective == 3.0
    sol = pmedian(D, 2, capacity=2.0)
    assert sol.objective == 9.0 and sol.proven_optimal
    assert sol.assignment.tolist() == [0, 0, 1, 1]
    load = np.bincount(sol.assignment, minlength=2)
    assert load.max() <= 2


def test_capacitated_coverage_hand_checked():
    # radius 2: site 0 covers clients 0, 1, 2 but may serve only 2 of them
    sol = coverage(D, 1, 2.0, capacity=2.0)
    assert sol.objective == 2.0 and sol.proven_optimal
    assert (sol.assignment >= 0).sum() == 2


def test_capacity_infeasible_and_too_large_are_named():
    with pytest.raises(InfeasibleError, match="capacity: the 2 largest-capacity sites"):
        pmedian(D, 2, capacity=1.0)
    rng = np.random.default_rng(0)
    big = rng.random((600, 500))
    assert big.size > CAPACITY_MAX_ARCS
    with pytest.raises(
        UnsupportedConstraintError, match="pmedian: capacity needs the exact single-source model"
    ):
        pmedian(big, 3, capacity=1000.0)


def test_nearest_feasible_rule():
    indptr = np.array([0, 2, 4, 6])
    indices = np.array([0, 1, 0, 1, 0, 1])
    # heavier clients first: client 2 (demand 3) takes site 0, client 0 then client 1
    a, load = nearest_feasible(indptr, indices, np.array([1.0, 2.0, 3.0]), np.array([4.0, 4.0]), [0, 1])
    assert a.tolist() == [0, 1, 0] and load.tolist() == [4.0, 2.0]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=hs.integers(0, 10_000))
def test_capacitated_vs_brute(seed):
    rng = np.random.default_rng(seed)
    n, m = 6, 4
    d = np.round(rng.random((n, m)) * 20)
    w = rng.integers(1, 4, n).astype(float)
    cap = rng.integers(3, 9, m).astype(float)
    cost = rng.integers(1, 5, m).astype(float)
    exact = brute_cap(d, w, cap, 2, "pmedian", budget=6.0, cost=cost)
    c = Constraints(site_cost=cost, budget=6.0)
    if not np.isfinite(exact):
        with pytest.raises(InfeasibleError):
            pmedian(d, 2, weights=w, capacity=cap, constraints=c)
    else:
        sol = pmedian(d, 2, weights=w, capacity=cap, constraints=c)
        assert sol.objective == pytest.approx(exact)
        load = np.bincount(sol.assignment, weights=w, minlength=m)
        assert np.all(load <= cap + 1e-9) and cost[sol.sites].sum() <= 6.0
    exact = brute_cap(d, w, cap, 2, "coverage", radius=10.0)
    sol = coverage(d, 2, 10.0, weights=w, capacity=cap)
    assert sol.objective == pytest.approx(exact)
    served = sol.assignment >= 0
    assert np.all(np.bincount(sol.assignment[served], weights=w[served], minlength=m) <= cap + 1e-9)
