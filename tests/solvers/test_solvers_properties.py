"""Hypothesis property tests: feasibility, valid bounds, monotone coverage."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeplan.solvers import Constraints, coverage, facility_location, pmedian

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw):
    n = draw(st.integers(2, 25))
    m = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    a = rng.random((n, 2)) * 50
    s = rng.random((m, 2)) * 50
    d = np.linalg.norm(a[:, None] - s[None], axis=2)
    if draw(st.booleans()):
        d = np.round(d)
    w = rng.integers(0, 6, n).astype(float)
    p = draw(st.integers(1, m))
    # random but satisfiable side constraints: conflicts only among non-must sites
    order = rng.permutation(m)
    must = order[: draw(st.integers(0, min(p, 2)))]
    forbidden = order[m - draw(st.integers(0, max(0, min(2, m - p)))) :] if m > p else []
    conflicts = []
    if draw(st.booleans()) and m - len(forbidden) > p + 1:
        free = [j for j in order[len(must) :] if j not in set(forbidden)]
        a_, b_ = free[0], free[1]
        conflicts = [[min(a_, b_), max(a_, b_)]]
    c = Constraints(
        must_open=must,
        forbidden=np.asarray(forbidden, dtype=int),
        conflicts=np.array(conflicts, dtype=int).reshape(-1, 2),
    )
    return d, w, p, c


def assert_feasible(sol, d, p, c):
    n, m = d.shape
    if p is not None:
        assert sol.sites.size == p
    assert len(set(sol.sites.tolist())) == sol.sites.size
    assert set(np.asarray(c.must_open).tolist()) <= set(sol.sites.tolist())
    assert not set(np.asarray(c.forbidden).tolist()) & set(sol.sites.tolist())
    for a, b in np.asarray(c.conflicts).reshape(-1, 2):
        assert not (a in sol.sites and b in sol.sites)
    served = sol.assignment >= 0
    assert np.all(np.isin(sol.assignment[served], sol.sites))


@SETTINGS
@given(instances(), st.sampled_from(["heuristic", "auto"]))
def test_pmedian_feasible_and_bound(inst, method):
    d, w, p, c = inst
    sol = pmedian(d, p, weights=w, constraints=c, method=method)
    assert_feasible(sol, d, p, c)
    assert np.all(sol.assignment >= 0)
    # objective = weighted cost of the assignment; the assignment is to the nearest open site
    cost = d[np.arange(d.shape[0]), sol.assignment]
    assert np.dot(w, cost) == np.float64(sol.objective) or abs(np.dot(w, cost) - sol.objective) <= 1e-9 * max(
        1, sol.objective
    )
    assert np.allclose(cost, d[:, sol.sites].min(axis=1))
    assert sol.bound <= sol.objective + 1e-9 * max(1.0, sol.objective)
    assert sol.gap >= 0


@SETTINGS
@given(instances())
def test_coverage_monotone_in_p(inst):
    d, w, _, _ = inst
    m = d.shape[1]
    r = float(np.median(d))
    prev = -1.0
    for p in range(1, min(m, 5) + 1):
        sol = coverage(d, p, r, weights=w)
        assert sol.sites.size == p
        assert sol.objective >= prev - 1e-9
        assert sol.bound >= sol.objective - 1e-9
        covered = (d[:, sol.sites] <= r).any(axis=1)
        assert np.dot(w, covered) == sol.objective or abs(np.dot(w, covered) - sol.objective) < 1e-9
        prev = sol.objective


@SETTINGS
@given(instances())
def test_ufl_feasible_and_bound(inst):
    d, w, _, c = inst
    f = np.full(d.shape[1], 20.0)
    sol = facility_location(d, f, constraints=c)
    assert_feasible(sol, d, None, c)
    total = f[sol.sites].sum() + d[np.arange(d.shape[0]), sol.assignment].sum()
    assert abs(total - sol.objective) <= 1e-9 * max(1, total)
    assert sol.bound <= sol.objective + 1e-9 * max(1.0, sol.objective)
