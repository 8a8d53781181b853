"""Clique rows of the spacing conflicts (``solvers.constraints.conflict_cliques``):
every reported clique is a clique of the conflict graph, so its row ``sum y <= 1`` is
valid; with them the LP of the single-store-gain programme is never below the integer
optimum (brute force) and never above the pair-row LP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from storeplan.solvers.constraints import Constraints, conflict_cliques, prepare


def _side(m, pairs):
    return prepare(Constraints(conflicts=np.asarray(pairs, dtype=np.int64).reshape(-1, 2)), m, 0, m)


def _spacing_pairs(rng, m, radius):
    xy = rng.uniform(0, 10, size=(m, 2))
    return [(a, b) for a, b in itertools.combinations(range(m), 2) if np.hypot(*(xy[a] - xy[b])) < radius]


@settings(max_examples=150, deadline=None)
@given(st.integers(3, 40), st.floats(0.5, 4.0), st.integers(0, 10_000))
def test_every_clique_is_a_clique(m, radius, seed):
    rng = np.random.default_rng(seed)
    pairs = _spacing_pairs(rng, m, radius)
    side = _side(m, pairs)
    order = rng.permutation(m)
    ptr, sites = conflict_cliques(side, order)
    edges = {frozenset(p) for p in pairs}
    seen = set()
    for c in range(ptr.size - 1):
        members = sites[ptr[c] : ptr[c + 1]]
        assert members.size >= 3 and len(set(members.tolist())) == members.size
        for a, b in itertools.combinations(members.tolist(), 2):
            assert frozenset((a, b)) in edges
        key = frozenset(members.tolist())
        assert key not in seen  # no row twice
        seen.add(key)


def _lp(m, v, k, pairs, cliques):
    rows = [np.bincount(list(p), minlength=m) for p in pairs] + [np.bincount(c, minlength=m) for c in cliques]
    a_ub = np.array(rows, dtype=float) if rows else None
    b_ub = np.ones(len(rows)) if rows else None
    res = linprog(
        -v, A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, m)), b_eq=[k], bounds=[(0, 1)] * m, method="highs"
    )
    return -res.fun if res.status == 0 else None


@settings(max_examples=120, deadline=None)
@given(st.integers(4, 11), st.floats(1.0, 5.0), st.integers(1, 4), st.integers(0, 10_000))
def test_clique_rows_tighten_the_lp_and_keep_the_optimum(m, radius, k, seed):
    rng = np.random.default_rng(seed)
    pairs = _spacing_pairs(rng, m, radius)
    v = rng.uniform(0, 10, size=m)
    ptr, sites = conflict_cliques(_side(m, pairs), np.argsort(-v))
    cliques = [sites[ptr[c] : ptr[c + 1]] for c in range(ptr.size - 1)]
    edges = {frozenset(p) for p in pairs}
    feasible = [
        s
        for s in itertools.combinations(range(m), k)
        if not any(frozenset(q) in edges for q in itertools.combinations(s, 2))
    ]
    pair_lp = _lp(m, v, k, pairs, [])
    clique_lp = _lp(m, v, k, pairs, cliques)
    if not feasible:
        return  # the LP may still be feasible (fractional); nothing to compare with
    best = max(float(v[list(s)].sum()) for s in feasible)
    assert clique_lp is not None and pair_lp is not None
    assert best <= clique_lp + 1e-7 <= pair_lp + 2e-7


def test_a_dense_cluster_is_one_row():
    # five sites all within the spacing of each other: at most one can open, but the
    # pair rows let the LP open two (0.4 on each site); the clique row refuses it
    pairs = list(itertools.combinations(range(5), 2))
    ptr, sites = conflict_cliques(_side(5, pairs))
    assert ptr.tolist() == [0, 5] and sorted(sites.tolist()) == [0, 1, 2, 3, 4]
    v = np.ones(5)
    assert _lp(5, v, 1, pairs, []) == pytest.approx(1.0)
    assert _lp(5, v, 2, pairs, []) == pytest.approx(2.0)  # pair rows: 0.4 on each site
    assert _lp(5, v, 2, pairs, [sites]) is None  # with the clique row: at most one opens


def test_no_conflicts_no_cliques():
    ptr, sites = conflict_cliques(_side(4, []))
    assert ptr.tolist() == [0] and sites.size == 0
