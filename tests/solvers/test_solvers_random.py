"""Heuristic vs MIP vs brute force on random small instances."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from brute import brute_coverage, brute_pmedian, brute_ufl

from storeplan.solvers import Constraints, coverage, facility_location, pmedian


def plane(n, m, seed):
    rng = np.random.default_rng(seed)
    a = rng.random((n, 2)) * 100
    s = rng.random((m, 2)) * 100
    return np.round(np.linalg.norm(a[:, None] - s[None], axis=2)), rng


@pytest.mark.parametrize("seed", range(6))
def test_pmedian_heuristic_vs_mip_vs_brute(seed):
    d, rng = plane(14, 9, seed)
    w = rng.integers(1, 5, 14).astype(float)
    p = 1 + seed % 4
    exact = brute_pmedian(d, p, w)
    heur = pmedian(d, p, weights=w, method="heuristic")
    mip = pmedian(d, p, weights=w, method="mip")
    auto = pmedian(d, p, weights=w)
    assert mip.objective == pytest.approx(exact)
    assert auto.objective == pytest.approx(exact) and auto.proven_optimal
    assert heur.objective >= mip.objective - 1e-9
    assert heur.bound <= exact + 1e-9
    assert mip.proven_optimal


@pytest.mark.parametrize("seed", range(4))
def test_pmedian_constraints_vs_brute(seed):
    d, rng = plane(12, 10, 100 + seed)
    p = 3
    group = np.array([0, 0, 0, 1, 1, 1, -1, -1, 2, 2])
    side = {
        "must": [int(rng.integers(10))],
        "forbidden": [int(j) for j in rng.choice(10, 2, replace=False)],
        "group": group,
        "gmin": [1, 0, 0],
        "gmax": [3, 1, 1],
        "conflicts": [tuple(sorted(rng.choice(10, 2, replace=False).tolist())) for _ in range(3)],
    }
    side["forbidden"] = [j for j in side["forbidden"] if j not in side["must"]]
    c = Constraints(
        must_open=side["must"],
        forbidden=side["forbidden"],
        group=group,
        group_min=np.array(side["gmin"]),
        group_max=np.array(side["gmax"]),
        conflicts=np.array(side["conflicts"]),
    )
    exact = brute_pmedian(d, p, **side)
    if not np.isfinite(exact):
        pytest.skip("random constraints infeasible")
    for method in ("heuristic", "mip", "auto"):
        sol = pmedian(d, p, constraints=c, method=method)
        assert sol.objective >= exact - 1e-9
        if method != "heuristic":
            assert sol.objective == pytest.approx(exact)


@pytest.mark.parametrize("seed", range(4))
def test_sparse_unserved_vs_brute(seed):
    d, rng = plane(15, 8, 200 + seed)
    mask = d <= 45
    S = sp.csr_matrix((d[mask], np.nonzero(mask)), shape=d.shape)
    u = 60.0
    exact = brute_pmedian(S, 2, unserved=np.full(15, u))
    for method in ("heuristic", "mip", "auto"):
        sol = pmedian(S, 2, unserved_cost=u, method=method)
        assert sol.objective >= exact - 1e-9
        assert sol.bound <= exact + 1e-9
        if method != "heuristic":
            assert sol.objective == pytest.approx(exact)


@pytest.mark.parametrize("seed", range(4))
def test_coverage_vs_brute(seed):
    d, rng = plane(20, 9, 300 + seed)
    w = rng.integers(1, 10, 20).astype(float)
    exact = brute_coverage(d, 3, 30.0, w)
    for method in ("heuristic", "mip", "auto"):
        sol = coverage(d, 3, 30.0, weights=w, method=method)
        assert sol.objective <= exact + 1e-9
        assert sol.bound >= exact - 1e-9
        if method != "heuristic":
            assert sol.objective == pytest.approx(exact)
            assert sol.proven_optimal


@pytest.mark.parametrize("seed", range(4))
def test_ufl_vs_brute(seed):
    d, rng = plane(12, 7, 400 + seed)
    f = rng.integers(20, 120, 7).astype(float)
    exact = brute_ufl(d, f)
    for method in ("heuristic", "mip", "auto"):
        sol = facility_location(d, f, method=method)
        assert sol.objective >= exact - 1e-9
        assert sol.bound <= exact + 1e-9
        if method != "heuristic":
            assert sol.objective == pytest.approx(exact)
            assert sol.proven_optimal


def test_trivial_instances_equal():
    # p = m: every site opens; heuristic and MIP agree exactly
    d, _ = plane(10, 5, 7)
    assert pmedian(d, 5, method="heuristic").objective == pmedian(d, 5, method="mip").objective
    assert pmedian(d, 5).proven_optimal


def test_deterministic_for_seed():
    d, _ = plane(60, 40, 11)
    a = pmedian(d, 6, seed=3, method="heuristic")
    b = pmedian(d, 6, seed=3, method="heuristic")
    assert a.sites.tolist() == b.sites.tolist() and a.objective == b.objective
