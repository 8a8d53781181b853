"""The nearest-k relaxation of dense p-median (solvers/nearest.py): the structure it
keeps, brute-force cross-checks of its bound and objective, and the time limit."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from brute import brute_pmedian, pmedian_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from storeplan import solvers
from storeplan.errors import InputError
from storeplan.solvers import nearest as nr


def _rows_sorted(D: np.ndarray, i: int, forbidden=()) -> np.ndarray:
    row = D[i].astype(float).copy()
    row[list(forbidden)] = np.inf
    return np.sort(row[np.isfinite(row)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=hs.integers(1, 12),
    m=hs.integers(1, 9),
    k=hs.integers(1, 10),
    grow=hs.lists(hs.integers(0, 11), max_size=6),
    seed=hs.integers(0, 2**16),
)
def test_nearest_structure_matches_sorted_rows(n, m, k, grow, seed):
    rng = np.random.default_rng(seed)
    D = rng.integers(0, 5, (n, m)).astype(float)  # many ties
    D[rng.random((n, m)) < 0.2] = np.inf
    forb = np.zeros(m, dtype=bool)
    forb[rng.random(m) < 0.2] = True
    s = nr.nearest(D, k, forb)
    rows = np.unique([g for g in grow if g < n]).astype(np.int64)
    s = nr.enlarge(D, s, rows, forb)
    for i in range(n):
        kk = min(m, 2 * k) if i in rows else k
        kk = min(kk, m)
        full = _rows_sorted(D, i, np.flatnonzero(forb))
        got = s.vals[s.indptr[i] : s.indptr[i + 1]]
        idx = s.indices[s.indptr[i] : s.indptr[i + 1]]
        np.testing.assert_array_equal(got, full[:kk])
        np.testing.assert_array_equal(D[i, idx], got)
        assert not forb[idx].any()
        assert len(set(idx.tolist())) == idx.size
        assert s.tail[i] == (full[kk] if full.size > kk else np.inf)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=hs.integers(1, 12),
    m=hs.integers(1, 9),
    k=hs.integers(1, 10),
    cut=hs.lists(hs.integers(0, 10), min_size=12, max_size=12),
    seed=hs.integers(0, 2**16),
)
def test_trim_keeps_a_sorted_prefix_and_its_tail(n, m, k, cut, seed):
    rng = np.random.default_rng(seed)
    D = rng.integers(0, 5, (n, m)).astype(float)
    D[rng.random((n, m)) < 0.2] = np.inf
    s = nr.trim(nr.nearest(D, k), np.array(cut[:n]))
    for i in range(n):
        kk = min(m, k, cut[i])
        full = _rows_sorted(D, i)
        got = s.vals[s.indptr[i] : s.indptr[i + 1]]
        np.testing.assert_array_equal(got, full[:kk])
        np.testing.assert_array_equal(D[i, s.indices[s.indptr[i] : s.indptr[i + 1]]], got)
        assert s.tail[i] == (full[kk] if full.size > kk else np.inf)
        assert s.k[i] == min(k, cut[i])


def test_serve_is_the_row_minimum_over_the_sites():
    D = np.array([[3.0, 1.0, 2.0], [np.inf, 5.0, 4.0], [np.inf, np.inf, 7.0]])
    cost, site = nr.serve(D, np.array([0, 1]))
    np.testing.assert_array_equal(cost, [1.0, 5.0, np.inf])
    np.testing.assert_array_equal(site, [1, 1, -1])


def test_hand_checked_tail_bound():
    # two clients, three sites, p = 1, each client keeps its nearest site only (k = 1).
    # Truncated model: client 0 pays min(1 (site 0), tail 4); client 1 min(1 (site 2),
    # tail 2). Opening site 1 (cost 4 + 2 = 6) is optimal in the dense problem;
    # the truncated relaxation values it at 4 + 2 = 6 too, sites 0 / 2 at 1 + 2 = 3 and
    # 4 + 1 = 5 (dense: 1 + 9 = 10 and 9 + 1 = 10).
    D = np.array([[1.0, 4.0, 9.0], [9.0, 2.0, 1.0]])
    s = solvers.pmedian(D, 1, nearest=1)
    assert s.objective == 6.0
    assert s.sites.tolist() == [1]
    assert s.proven_optimal
    assert s.info["k_initial"] == 1
    assert s.info["k_max"] >= 2  # the tails bound, so both clients were enlarged


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=hs.integers(2, 9),
    m=hs.integers(2, 7),
    data=hs.data(),
    seed=hs.integers(0, 2**16),
    integer=hs.booleans(),
    with_unserved=hs.booleans(),
    with_side=hs.booleans(),
)
def test_nearest_bound_never_above_brute_force(n, m, data, seed, integer, with_unserved, with_side):
    rng = np.random.default_rng(seed)
    p = data.draw(hs.integers(1, m), label="p")
    k = data.draw(hs.integers(1, m - 1), label="k")
    xy = rng.random((n + m, 2)) * 10
    D = np.sqrt(((xy[:n, None] - xy[None, n:]) ** 2).sum(-1))
    D = np.round(D) if integer else D
    w = rng.integers(0, 4, n).astype(float) if integer else rng.random(n) * 3
    u = None
    if with_unserved:
        u = np.round(rng.random(n) * 8) if integer else rng.random(n) * 8
    side = {}
    cons = None
    if with_side and m >= 3:
        must = [int(rng.integers(m))]
        forb = [j for j in range(m) if j not in must and rng.random() < 0.3][: m - p]
        if len(must) <= p:
            side = {"must": must, "forbidden": forb}
            cons = solvers.Constraints(must_open=must, forbidden=forb)
    opt = brute_pmedian(D, p, w, u, **side)
    s = solvers.pmedian(D, p, weights=w, unserved_cost=u, constraints=cons, nearest=k)
    tol = 1e-7 * max(1.0, abs(opt))
    assert s.bound <= opt + tol
    assert s.objective >= opt - tol
    assert s.objective == pytest.approx(pmedian_value(D, s.sites, w, u), rel=1e-9, abs=1e-9)
    assert s.sites.size == p
    if s.proven_optimal:
        assert s.objective == pytest.approx(opt, rel=1e-6, abs=1e-9)
    assert s.gap >= 0.0
    # same answer quality as the whole-matrix path on these tiny instances
    full = solvers.pmedian(D, p, weights=w, unserved_cost=u, constraints=cons)
    assert full.bound <= opt + tol
    if full.proven_optimal and s.proven_optimal:
        assert s.objective == pytest.approx(full.objective, rel=1e-6, abs=1e-9)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=hs.integers(3, 24),
    m=hs.integers(3, 9),
    data=hs.data(),
    seed=hs.integers(0, 2**16),
    integer=hs.booleans(),
)
def test_nearest_lagrangian_alone_never_above_brute_force(n, m, data, seed, integer):
    # method="heuristic": no MIP, so the bound is the Lagrangian's on the truncated
    # model alone, through the final repeats, the cold restarts of a stalled search and
    # the enlarging of clients whose multiplier is near its tail (nearest.NEAR_TAIL)
    rng = np.random.default_rng(seed)
    p = data.draw(hs.integers(1, m - 1), label="p")
    k = data.draw(hs.integers(1, m - 1), label="k")
    xy = rng.random((n + m, 2)) * 10
    D = np.sqrt(((xy[:n, None] - xy[None, n:]) ** 2).sum(-1))
    D = np.round(D) if integer else D
    w = rng.integers(0, 4, n).astype(float) if integer else rng.random(n) * 3
    opt = brute_pmedian(D, p, w, None)
    s = solvers.pmedian(D, p, weights=w, nearest=k, method="heuristic")
    tol = 1e-7 * max(1.0, abs(opt))
    assert s.bound <= opt + tol
    assert s.objective >= opt - tol
    assert s.objective == pytest.approx(pmedian_value(D, s.sites, w, None), rel=1e-9, abs=1e-9)
    assert s.sites.size == p


def test_nearest_matches_the_whole_matrix_path():
    rng = np.random.default_rng(3)
    xy = rng.random((400, 2))
    D = np.sqrt(((xy[:, None] - xy[None, :150]) ** 2).sum(-1))
    w = rng.integers(1, 20, 400).astype(float)
    a = solvers.pmedian(D, 12, weights=w, nearest=150)  # k = m: the whole-matrix path
    b = solvers.pmedian(D, 12, weights=w, nearest=5)
    assert a.proven_optimal and b.proven_optimal
    assert b.objective == pytest.approx(a.objective, rel=1e-6)
    assert b.method.startswith("nearest-k")
    assert b.info["pairs"] < D.size


def test_nearest_rejects_bad_values():
    D = np.ones((3, 4))
    with pytest.raises(InputError, match="nearest"):
        solvers.pmedian(D, 2, nearest=0)
    with pytest.raises(InputError, match="target_gap"):
        solvers.pmedian(D, 2, target_gap=1.5)
    with pytest.raises(InputError, match="NaN"):
        solvers.pmedian(np.array([[1.0, np.nan], [1.0, 2.0]]), 1, nearest=1)


def test_target_gap_stops_at_the_certified_gap():
    rng = np.random.default_rng(5)
    xy = rng.random((1500, 2))
    D = np.sqrt(((xy[:, None] - xy[None, :600]) ** 2).sum(-1))
    s = solvers.pmedian(D, 40, target_gap=0.01)
    assert s.gap <= 0.01
    assert s.bound <= s.objective


# ------------------------------------------------------------------ time limits


def _within(D: np.ndarray, r: float) -> sp.csr_matrix:
    """CSR of the pairs closer than ``r`` (explicit zeros kept)."""
    rows, cols = np.nonzero(r > D)
    return sp.csr_matrix((D[rows, cols], (rows, cols)), shape=D.shape)


def _mid_instance(n=4000, m=1200, seed=11):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 1000
    sxy = xy[rng.choice(n, m, replace=False)]
    D = np.sqrt(((xy[:, None] - sxy[None]) ** 2).sum(-1))
    return D, rng.integers(1, 100, n).astype(float)


@pytest.fixture(scope="module")
def warm_kernels():
    """Compile the Numba kernels first: compilation is not part of the time limit test."""
    D, w = _mid_instance(300, 80, 1)
    solvers.pmedian(D, 5, weights=w, nearest=10, time_limit=5)
    solvers.pmedian(sp.csr_matrix(D), 5, weights=w, time_limit=5)
    solvers.coverage(_within(D, 60.0), 5, 60.0, weights=w, time_limit=5)


LIMIT = 2.0
#: Generous margin: a correctness test of the deadline checks, not a performance test.
MARGIN = 4.0


@pytest.mark.parametrize("kind", ["dense", "sparse"], ids=["dense-nearest-k", "sparse-csr"])
def test_time_limited_call_returns_in_time_with_its_true_gap(warm_kernels, kind):
    D, w = _mid_instance()
    cost = D if kind == "dense" else _within(D, 150.0)
    unserved = None if kind == "dense" else 150.0
    t = time.perf_counter()
    s = solvers.pmedian(cost, 80, weights=w, unserved_cost=unserved, time_limit=LIMIT)
    wall = time.perf_counter() - t
    assert wall <= LIMIT + MARGIN
    assert s.seconds <= LIMIT + MARGIN
    assert s.sites.size == 80
    dd = D if kind == "dense" else np.where(D < 150, D, np.inf)
    true = pmedian_value(dd, s.sites, w, None if unserved is None else np.full(D.shape[0], unserved))
    assert s.objective == pytest.approx(true, rel=1e-9)
    assert s.bound <= s.objective
    assert s.gap == pytest.approx(0.0 if s.proven_optimal else (s.objective - s.bound) / s.objective)


def _elapsed(wall0: float, cpu0: float) -> float:
    """Seconds since (``wall0``, ``cpu0``): the smaller of the wall-clock time and this
    process's CPU time. On a machine shared with other jobs the wall clock also counts
    the time the process waited for a core; a solver that ignored its deadline would
    still spend its full CPU time, so the check keeps its meaning under load."""
    return min(time.perf_counter() - wall0, time.process_time() - cpu0)


def test_time_limited_coverage_returns_in_time(warm_kernels):
    D, w = _mid_instance()
    cost = _within(D, 60.0)
    t, c = time.perf_counter(), time.process_time()
    s = solvers.coverage(cost, 40, 60.0, weights=w, time_limit=LIMIT)
    assert _elapsed(t, c) <= LIMIT + MARGIN
    assert s.seconds <= time.perf_counter() - t
    assert s.bound >= s.objective
