"""The revenue solver's certified bounds against brute force (storeplan.solvers.revenue).

Hundreds of small random Huff instances, each solved exactly by enumeration: the
reported bound and every bound in ``info`` must never fall below the optimum, with the
cut bound's network pruned hard (``prune``) so that the dropped-gain correction is
exercised, and with cutting-plane rounds, fixed costs, must-open sites, a budget and
the free mode.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from storeplan.solvers.revenue import RevenueProblem, objective_value, revenue

BOUNDS = ("cut_bound", "online_bound", "greedy_bound", "modular_bound")


def _instance(rng: np.random.Generator, n: int, m: int):
    density = rng.uniform(0.15, 0.6)
    U = sp.random(
        n, m, density=density, random_state=rng, format="csr", data_rvs=lambda k: rng.lognormal(-1.0, 1.2, k)
    )
    W = rng.lognormal(3.0, 1.0, n)
    base_own = np.where(rng.random(n) < 0.3, rng.uniform(0.0, 0.5, n), 0.0)
    base_total = base_own + rng.uniform(0.05, 2.0, n)
    return U, W, base_own, base_total


def _optimum(prob: RevenueProblem, sizes, ok=lambda s: True) -> float:
    best = -np.inf
    for k in sizes:
        for combo in itertools.combinations(range(prob.n_sites), k):
            if ok(combo):
                best = max(best, objective_value(prob, combo))
    return best


def _check(sol, opt: float) -> None:
    tol = 1e-9 * max(1.0, abs(opt))
    assert sol.objective <= opt + tol
    for name in BOUNDS:
        assert sol.info[name] >= opt - tol, name
    assert sol.bound >= opt - tol


@pytest.mark.parametrize("batch", range(6))
def test_cut_bound_never_below_the_optimum_cardinality(batch):
    rng = np.random.default_rng(1000 + batch)
    dropped = 0
    for _ in range(40):
        n, m = int(rng.integers(5, 40)), int(rng.integers(4, 10))
        p = int(rng.integers(1, m))
        U, W, b, B = _instance(rng, n, m)
        fixed = rng.uniform(0.0, 2.0, m) if rng.random() < 0.5 else None
        prob = RevenueProblem.build(U, W, base_own=b, base_total=B, fixed_cost=fixed)
        # greedy only, so the bound is checked at plans that are not always optimal
        sol = revenue(
            U,
            W,
            p,
            base_own=b,
            base_total=B,
            fixed_cost=fixed,
            swap=bool(rng.random() < 0.5),
            prune=float(rng.choice([0.0, 0.05, 0.5, 5.0])),
            cut_rounds=int(rng.integers(1, 12)),
            bound_iters=int(rng.choice([10, 60])),
            modular_bound=False,
        )
        dropped += sol.info["cut_pairs_dropped"] > 0
        _check(sol, _optimum(prob, [p]))
    assert dropped >= 5  # the pruned network's correction is exercised


@pytest.mark.parametrize("batch", range(3))
def test_cut_bound_never_below_the_optimum_with_must_open(batch):
    rng = np.random.default_rng(2000 + batch)
    for _ in range(30):
        n, m = int(rng.integers(5, 30)), int(rng.integers(5, 10))
        p = int(rng.integers(2, m))
        U, W, b, B = _instance(rng, n, m)
        must = [int(rng.integers(m))]
        prob = RevenueProblem.build(U, W, base_own=b, base_total=B)
        sol = revenue(U, W, p, base_own=b, base_total=B, must_open=must, prune=0.5, modular_bound=False)
        assert must[0] in sol.sites.tolist()
        _check(sol, _optimum(prob, [p], lambda s, j=must[0]: j in s))


@pytest.mark.parametrize("batch", range(3))
def test_cut_bound_never_below_the_optimum_budget_and_free(batch):
    rng = np.random.default_rng(3000 + batch)
    for _ in range(20):
        n, m = int(rng.integers(5, 30)), int(rng.integers(4, 9))
        U, W, b, B = _instance(rng, n, m)
        fixed = rng.uniform(0.0, 0.5, m) * float(np.median(W))
        cost = rng.uniform(0.5, 1.5, m)
        budget = float(rng.uniform(1.0, 3.0))
        prob = RevenueProblem.build(U, W, base_own=b, base_total=B, fixed_cost=fixed, opening_cost=cost)
        sol = revenue(
            U, W, base_own=b, base_total=B, fixed_cost=fixed, opening_cost=cost, budget=budget, prune=0.5
        )
        _check(
            sol, _optimum(prob, range(m + 1), lambda s, c=cost, cap=budget: float(c[list(s)].sum()) <= cap)
        )
        sol = revenue(U, W, base_own=b, base_total=B, fixed_cost=fixed, prune=0.5)
        _check(sol, _optimum(prob, range(m + 1)))


def test_pruning_keeps_the_bound_close():
    # the correction for the dropped pairs costs the bound little on a larger instance
    rng = np.random.default_rng(7)
    U, W, b, B = _instance(rng, 3000, 200)
    full = revenue(U, W, 20, base_own=b, base_total=B, prune=0.0, modular_bound=False)
    pruned = revenue(U, W, 20, base_own=b, base_total=B, prune=0.01, modular_bound=False)
    assert pruned.info["cut_pairs_dropped"] > 0 and full.info["cut_pairs_dropped"] == 0
    np.testing.assert_array_equal(full.sites, pruned.sites)
    assert pruned.info["cut_bound"] <= full.info["cut_bound"] + 0.01 * full.objective
    # each round logs the dropped gains its last maximiser brought into the bound: none
    # without pruning, and at most the pruning's share of the capture with it
    assert full.info["cut_rounds"] and all(r[3] == 0.0 for r in full.info["cut_rounds"])
    assert any(r[3] > 0.0 for r in pruned.info["cut_rounds"])
    assert all(0.0 <= r[3] <= 0.01 * pruned.info["capture"] * (1 + 1e-12) for r in pruned.info["cut_rounds"])


def test_bound_share_one_leaves_the_search_no_time():
    rng = np.random.default_rng(8)
    U, W, b, B = _instance(rng, 200, 16)
    sol = revenue(U, W, 4, base_own=b, base_total=B, time_limit=1e6, bound_share=1.0)
    assert sol.info["sweeps"] == 0
    sol = revenue(U, W, 4, base_own=b, base_total=B, time_limit=1e6, bound_share=0.5)
    assert sol.info["sweeps"] >= 1


def test_tangent_cuts_bound_every_share():
    # each area's tangent at a reference set is above its share at every site set
    # (the share is concave in the area's utility), and exact at the reference set
    from storeplan.solvers.revenue import _tangent_setup

    rng = np.random.default_rng(9)
    for _ in range(20):
        n, m = int(rng.integers(3, 30)), int(rng.integers(2, 9))
        U, W, b, B = _instance(rng, n, m)
        if rng.random() < 0.3:
            b = B.copy()  # every area's share already 1
        prob = RevenueProblem.build(U, W, base_own=b, base_total=B)
        rows = np.repeat(np.arange(n), np.diff(prob.rptr))
        ref = rng.random(m) < 0.5
        z_ref = np.bincount(rows, weights=np.where(ref[prob.rcol], prob.rval, 0.0), minlength=n)
        ta, tg = np.empty(n), np.empty(n)
        _tangent_setup(prob.rptr, prob.rval, prob.base_own, prob.base_total, z_ref, 3, ta, tg)
        share = (prob.base_own + z_ref) / (prob.base_total + z_ref)
        np.testing.assert_allclose(ta + tg * z_ref, share, rtol=1e-12, atol=1e-12)
        for k in range(m + 1):
            for combo in itertools.combinations(range(m), k):
                x = np.zeros(m, dtype=bool)
                x[list(combo)] = True
                z = np.bincount(rows, weights=np.where(x[prob.rcol], prob.rval, 0.0), minlength=n)
                s = (prob.base_own + z) / (prob.base_total + z)
                assert np.all(ta + tg * z >= s - 1e-12)


@pytest.mark.parametrize("batch", range(2))
def test_cut_bound_with_many_tangent_rounds_never_below_the_optimum(batch):
    # larger instances with many rounds, so that later rounds' tangents carry weight
    rng = np.random.default_rng(4000 + batch)
    rounds_run = 0
    for _ in range(8):
        n, m = int(rng.integers(40, 100)), int(rng.integers(8, 11))
        p = int(rng.integers(2, 5))
        U, W, b, B = _instance(rng, n, m)
        prob = RevenueProblem.build(U, W, base_own=b, base_total=B)
        sol = revenue(
            U, W, p, base_own=b, base_total=B, swap=False, cut_rounds=12, bound_iters=20, modular_bound=False
        )
        rounds_run = max(rounds_run, len(sol.info["cut_rounds"]))
        _check(sol, _optimum(prob, [p]))
    assert rounds_run >= 3
