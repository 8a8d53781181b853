"""Format choice: (site, format) pairs with one format per site, in every objective."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from storeplan.solvers import Constraints, Quota, coverage, pmedian
from storeplan.solvers.formats import FormatOptions
from storeplan.solvers.revenue import RevenueProblem, objective_value, revenue


def test_expansion_helpers():
    allowed = np.array([[True, True, False], [False, True, True], [True, False, False]])
    fo = FormatOptions.from_mask(allowed)
    assert fo.site.tolist() == [0, 0, 1, 1, 2] and fo.format.tolist() == [0, 1, 1, 2, 0]
    assert fo.one_per_site().tolist() == [[0, 1], [2, 3]]
    assert sorted(map(tuple, fo.expand_pairs([[0, 2]]).tolist())) == [(0, 4), (1, 4)]
    m = sp.csr_matrix(np.array([[1.0, 2.0, 3.0]]))
    assert fo.expand_columns(m).toarray().tolist() == [[1.0, 1.0, 2.0, 2.0, 3.0]]
    assert fo.expand_columns(np.array([[0.0, 2.0, 3.0]])).tolist() == [[0.0, 0.0, 2.0, 2.0, 3.0]]


def _brute_formats(d, fo, cost, budget, w):
    best = np.inf
    for k in range(1, fo.n_options + 1):
        for combo in itertools.combinations(range(fo.n_options), k):
            if len(set(fo.site[list(combo)])) < k or cost[list(combo)].sum() > budget:
                continue
            best = min(best, float(np.dot(w, d[:, fo.site[list(combo)]].min(axis=1))))
    return best


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=hs.integers(0, 10_000))
def test_pmedian_chooses_site_and_format_under_a_budget(seed):
    rng = np.random.default_rng(seed)
    n, m = 10, 5
    d = np.round(rng.random((n, m)) * 50)
    w = rng.integers(1, 5, n).astype(float)
    allowed = rng.random((m, 3)) < 0.7
    allowed[:, 0] |= ~allowed.any(axis=1)
    fo = FormatOptions.from_mask(allowed)
    fcost = np.array([1.0, 3.0, 6.0])[fo.format]
    budget = 7.0
    exact = _brute_formats(d, fo, fcost, budget, w)
    c = Constraints(site_cost=fcost, budget=budget, conflicts=fo.one_per_site())
    sol = pmedian(fo.expand_columns(d), None, weights=w, constraints=c)
    assert sol.objective == pytest.approx(exact)
    sites, formats = fo.chosen(sol.sites)
    assert np.all(allowed[sites, formats])  # never a format its site forbids
    assert fcost[sol.sites].sum() <= budget


def test_format_count_limit():
    # two sites, format 1 ("flagship") covers more but at most one flagship
    allowed = np.ones((3, 2), dtype=bool)
    fo = FormatOptions.from_mask(allowed)
    d = np.array([[0.0, 5.0, 5.0], [5.0, 0.0, 5.0], [5.0, 5.0, 0.0]])
    flag = Quota("format flagship", np.flatnonzero(fo.format == 1), hi=1)
    c = Constraints(conflicts=fo.one_per_site(), quotas=(flag,))
    sol = coverage(fo.expand_columns(d), 3, 1.0, constraints=c)
    assert sol.objective == 3.0
    assert (fo.format[sol.sites] == 1).sum() <= 1


def test_revenue_format_choice_vs_brute():
    rng = np.random.default_rng(4)
    n, m = 40, 6
    U = sp.random(
        n, m, density=0.4, random_state=rng, format="csr", data_rvs=lambda k: rng.uniform(0.1, 1, k)
    )
    W = rng.uniform(10, 100, n)
    B = rng.uniform(0.2, 1.0, n)
    attract = np.array([0.5, 1.0, 3.0])
    fixed_f = np.array([1.0, 3.0, 12.0])
    fo = FormatOptions.from_mask(np.ones((m, 3), dtype=bool))
    Ux = fo.expand_columns(U) @ sp.diags(attract[fo.format])
    fixed = fixed_f[fo.format]
    prob = RevenueProblem.build(Ux, W, base_total=B, fixed_cost=fixed)
    best = -np.inf
    for combo in itertools.combinations(range(fo.n_options), 3):
        if len(set(fo.site[list(combo)])) == 3:
            best = max(best, objective_value(prob, combo))
    sol = revenue(
        Ux, W, 3, base_total=B, fixed_cost=fixed, constraints=Constraints(conflicts=fo.one_per_site())
    )
    assert len(set(fo.site[sol.sites])) == 3
    assert sol.objective <= best * (1 + 1e-12)
    assert sol.bound >= best * (1 - 1e-9)  # the certified bound covers the format choice
    assert sol.objective >= 0.97 * best
