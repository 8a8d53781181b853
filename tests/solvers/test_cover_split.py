"""Maximal covering by independent site components (solvers/cover_split.py) against
brute force: the split is exact, its bound never below the optimum, a stopped split
still returns a feasible solution and a valid bound, and ``coverage`` uses it only when
no side row couples the components."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from brute import brute_coverage, feasible

from storeplan import solvers
from storeplan.solvers import cover_split
from storeplan.solvers.constraints import Constraints, prepare
from storeplan.solvers.cover_split import split_cover

RADIUS = 2.0


def clustered(seed: int, n_clusters: int | None = None):
    """Points in far-apart clusters (so the sites split into components), integer weights;
    returns (distance matrix clients x sites, weights)."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5)) if n_clusters is None else n_clusters
    centres = np.stack([np.arange(k) * 100.0, np.zeros(k)], axis=1)
    n = int(rng.integers(12, 30))
    m = int(rng.integers(4, 12))
    pts = centres[rng.integers(0, k, n)] + rng.uniform(-3, 3, (n, 2))
    sites = centres[rng.integers(0, k, m)] + rng.uniform(-3, 3, (m, 2))
    d = np.sqrt(((pts[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
    w = rng.integers(1, 50, n).astype(float)
    return d, w


def covering_csc(d: np.ndarray):
    B = sp.csc_matrix(d <= RADIUS)
    B.sort_indices()
    return B.indptr.astype(np.int64), B.indices.astype(np.int64)


def covered(d, w, sites) -> float:
    return float(w[(d[:, list(sites)] <= RADIUS).any(axis=1)].sum())


def side_draw(rng, m: int, p: int):
    must = (
        rng.choice(m, size=int(rng.integers(0, min(p, 2) + 1)), replace=False) if rng.random() < 0.3 else []
    )
    rest = np.setdiff1d(np.arange(m), must)
    forbidden = rng.choice(rest, size=int(rng.integers(0, 3)), replace=False) if rng.random() < 0.3 else []
    forbidden = [int(j) for j in forbidden if m - 1 - len(forbidden) >= p]
    conflicts = []
    if rng.random() < 0.3:
        a, b = rng.choice(m, size=2, replace=False)
        if not (a in must and b in must):
            conflicts = [(int(a), int(b))]
    return [int(j) for j in must], forbidden, conflicts


@pytest.mark.parametrize("seed", range(150))
def test_split_is_exact_against_brute_force(seed):
    rng = np.random.default_rng(1000 + seed)
    d, w = clustered(seed)
    m = d.shape[1]
    p = int(rng.integers(1, m + 1))
    must, forbidden, conflicts = side_draw(rng, m, p)
    best = brute_coverage(d, p, RADIUS, w, must=must, forbidden=forbidden, conflicts=conflicts)
    if not np.isfinite(best):
        return  # no feasible site set (spacing with too many sites)
    cptr, crow = covering_csc(d)
    side = prepare(Constraints(must_open=must, forbidden=forbidden, conflicts=conflicts or None), m, p, p)
    incumbent = [0.0, best][seed % 2]  # a weak and a tight incumbent
    res = split_cover(cptr, crow, w, side, p, incumbent, deadline=None, integral=True)
    if res is None:
        return  # one component holds nearly every site: the whole model is solved instead
    assert res.proven
    assert res.objective == pytest.approx(best)
    assert res.bound >= best - 1e-9
    assert res.sites.size == p
    assert feasible(res.sites, m, must=must, forbidden=forbidden, conflicts=conflicts)
    assert covered(d, w, res.sites) == pytest.approx(res.objective)


@pytest.mark.parametrize("seed", range(40))
def test_split_stopped_at_its_deadline_keeps_a_valid_bound(seed):
    d, w = clustered(seed, n_clusters=3)
    m = d.shape[1]
    p = max(1, m // 2)
    best = brute_coverage(d, p, RADIUS, w)
    cptr, crow = covering_csc(d)
    side = prepare(None, m, p, p)
    res = split_cover(cptr, crow, w, side, p, 0.0, deadline=0.0, integral=True)  # already past
    if res is None:
        return
    assert res.bound >= best - 1e-9
    assert res.objective <= best + 1e-9
    assert covered(d, w, res.sites) == pytest.approx(res.objective)
    assert res.sites.size == p


def test_coverage_uses_the_split_and_agrees_with_the_whole_mip():
    found = 0
    for seed in range(30):
        d, w = clustered(seed, n_clusters=4)
        m = d.shape[1]
        p = max(1, m // 3)
        auto = solvers.coverage(d, p, RADIUS, weights=w, method="auto")
        whole = solvers.coverage(d, p, RADIUS, weights=w, method="mip")
        assert "split" not in whole.method
        assert auto.objective == pytest.approx(whole.objective)
        assert auto.objective == pytest.approx(brute_coverage(d, p, RADIUS, w))
        assert auto.proven_optimal
        found += "split" in auto.method
    assert found >= 10  # most of these instances split


def test_groups_couple_the_components_so_the_split_is_not_used():
    d, w = clustered(3, n_clusters=3)
    m = d.shape[1]
    p = 2
    group = np.zeros(m, dtype=int)
    cons = solvers.Constraints(group=group, group_max=[1]) if m >= 2 else None
    if cons is None:
        pytest.skip("needs two sites")
    group[m // 2 :] = 1
    cons = solvers.Constraints(group=group, group_max=[1, 1])
    sol = solvers.coverage(d, p, RADIUS, weights=w, constraints=cons)
    assert "split" not in sol.method
    gmin, gmax = [0, 0], [1, 1]
    assert sol.objective == pytest.approx(brute_coverage(d, p, RADIUS, w, group=group, gmin=gmin, gmax=gmax))


def block_set_system(seed: int):
    """Three random set systems side by side (0/1 cover matrices, density 0.45): their
    LP relaxations are often fractional, so the split needs component MIPs."""
    rng = np.random.default_rng(seed)
    blocks = [rng.random((int(rng.integers(5, 8)), int(rng.integers(4, 7)))) < 0.45 for _ in range(3)]
    A = sp.block_diag([sp.csc_matrix(b) for b in blocks]).tocsc().astype(bool)
    A.sort_indices()
    w = rng.integers(1, 20, A.shape[0]).astype(float)
    return A, w, int(rng.integers(2, 6))


def test_split_with_fractional_components_matches_brute_force_and_the_whole_mip(monkeypatch):
    # components this small are normally enumerated; solve them by LP / MIP here
    monkeypatch.setattr(cover_split, "ENUMERATE_SITES", 0)
    with_mip = 0
    for seed in range(300):
        A, w, p = block_set_system(seed)
        n, m = A.shape
        side = prepare(None, m, p, p)
        res = split_cover(
            A.indptr.astype(np.int64),
            A.indices.astype(np.int64),
            w,
            side,
            p,
            0.0,
            deadline=None,
            integral=True,
        )
        if res is None:
            continue
        d = np.where(A.toarray(), 0.0, 10.0)
        whole = solvers.coverage(d, p, 1.0, weights=w, method="mip")
        assert res.proven
        assert res.objective == pytest.approx(whole.objective)
        assert res.bound >= whole.objective - 1e-9
        assert float(w[A[:, res.sites].toarray().any(axis=1)].sum()) == pytest.approx(res.objective)
        if res.mip_solves:
            with_mip += 1
            assert res.objective == pytest.approx(brute_coverage(d, p, 1.0, w))
    assert with_mip >= 5  # the component MIPs were exercised
