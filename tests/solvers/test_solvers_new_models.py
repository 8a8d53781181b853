"""p-center, p-dispersion, backup coverage and fill-to-capacity: hand-checked cases,
brute force on random small instances (Hypothesis) and the one-model HiGHS MIPs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from brute import feasible
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from storeplan.errors import InfeasibleError, InputError
from storeplan.solvers import Constraints, Quota, backup_coverage, coverage, pcenter, pdispersion, pmedian

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# clients on a line at 0, 1, 2, 10, 11; sites at 0, 2, 10, 11
X = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
S = np.array([0.0, 2.0, 10.0, 11.0])
D = np.abs(X[:, None] - S[None, :])


def test_pcenter_hand_checked():
    # the left cluster (clients 0, 1, 2) has sites at 0 and 2 only: its worst client is
    # 2 away whichever opens; the right one (10, 11) is served within 1: optimum 2
    sol = pcenter(D, 2)
    assert sol.objective == 2.0 and sol.proven_optimal and sol.bound == 2.0
    # weighted: client 4 (x = 11) weighs 5, so the right site must be at 11 (index 3)
    w = np.array([1, 1, 1, 1, 5.0])
    sol = pcenter(D, 2, weights=w)
    assert sol.objective == 2.0 and sol.sites[-1] == 3 and sol.proven_optimal
    # three sites: the left pair opens one more... still 2 (no site at 1); weight 5 on
    # client 1 makes it 5 unless... it is 1 away from both left sites: 5
    sol = pcenter(D, 3, weights=np.array([1, 5, 1, 1, 1.0]))
    assert sol.objective == 5.0 and sol.proven_optimal
    # forbidding sites 0 and 1 leaves the right cluster: client 0 is 10 away
    sol = pcenter(D, 2, constraints=Constraints(forbidden=[0, 1]))
    assert sol.objective == 10.0 and sol.proven_optimal
    assert pcenter(D, 2, method="mip").objective == 2.0


def test_pcenter_unserved_and_errors():
    r, c = np.nonzero(D <= 2)
    cost = sp.csr_matrix((D[r, c], (r, c)), shape=D.shape)  # explicit zeros are real
    dense = np.where(D <= 2, D, np.inf)
    with pytest.raises(InfeasibleError, match="no stored site"):
        pcenter(dense, 1, constraints=Constraints(forbidden=[2, 3]))
    # unserved clients cost 5 per unit weight: one site leaves one cluster at 5
    sol = pcenter(dense, 1, unserved_cost=5.0)
    assert sol.objective == 5.0 and sol.proven_optimal
    assert pcenter(cost, 2, unserved_cost=5.0).objective == 2.0
    with pytest.raises(InputError, match="give p"):
        pcenter(D, None)


def test_pdispersion_hand_checked():
    pts = np.array([0.0, 1.0, 5.0, 6.0, 20.0])
    d = np.abs(pts[:, None] - pts[None, :])
    sol = pdispersion(d, 3)
    # {0 or 1, 5 or 6, 20}: best spacing 5 (1 -> 6 is 5, 0 -> 5 is 5; 0 -> 6 is 6 but 6 -> 20)
    assert sol.objective == 6.0 and sol.proven_optimal and sol.sites.tolist() == [0, 3, 4]
    # must-open 0 and 1 (1 apart): counted, the spacing is 1; not counted, the third
    # store goes to 20 (19 from site 1)
    must = Constraints(must_open=[0, 1])
    assert pdispersion(d, 3, constraints=must).objective == 1.0
    sol = pdispersion(d, 3, constraints=must, count_must_pairs=False)
    assert sol.objective == 19.0 and sol.proven_optimal and sol.sites.tolist() == [0, 1, 4]
    # site 4 conflicting with 2 and 3: every feasible triple holds a pair 1 apart
    sol = pdispersion(d, 3, constraints=Constraints(conflicts=[[3, 4], [2, 4]]))
    assert sol.objective == 1.0 and sol.proven_optimal
    assert sol.objective == _brute_dispersion(d, 3, conflicts=[(3, 4), (2, 4)])
    with pytest.raises(InputError, match="at least 2"):
        pdispersion(d, 1)
    assert pdispersion(d, 3, method="mip").objective == 6.0


def test_backup_coverage_hand_checked():
    # radius 1: clients 0, 1, 2 are covered by sites 0 (x=0: clients 0, 1) and 1 (x=2:
    # clients 1, 2); clients 3, 4 by sites 2 and 3 (both cover both)
    sol = backup_coverage(D, 2, 1.0)
    # max coverage with 2 sites is 4 (e.g. {0 or 1, 2 or 3}); backup then 0... or
    # {1, 2}: covers 1, 2, 3, 4 = 4, no backup. {2, 3}: covers 2 clients twice but only 2
    assert sol.info["covered"] == 4 and sol.objective == 0
    sol3 = backup_coverage(D, 3, 1.0)
    # 3 sites: {0, 1, x} covers 0, 1, 2 (+1 twice) and one of 3, 4 ... {1, 2, 3}
    # covers 4 clients, with 3 and 4 twice: best single coverage 5 needs {0,1} + one
    assert sol3.info["covered"] == 5 and sol3.objective == 1 and sol3.proven_optimal
    sol4 = backup_coverage(D, 4, 1.0, cover="all")
    assert sol4.objective == 3  # clients 1, 3 and 4
    with pytest.raises(InfeasibleError, match="cannot cover every client"):
        backup_coverage(D, 1, 1.0, cover="all")


def test_fill_must_open_hand_checked():
    # capacity 2 everywhere; site 3 (x=11) must open and be filled: it takes clients
    # 3 and 4; without the fill it would too (nearest), so force a far fill instead
    cap = np.array([3.0, 3.0, 3.0, 3.0])
    must = Constraints(must_open=[0])
    free = pmedian(D, 2, capacity=cap, constraints=must)
    filled = pmedian(D, 2, capacity=cap, constraints=must, fill_must_open=True)
    load = np.bincount(filled.assignment, minlength=4)
    assert load[0] == 3 and filled.objective >= free.objective
    assert filled.objective == _brute_fill(D, np.ones(5), np.ones(5), cap, 2, [0], 0.0)
    with pytest.raises(InputError, match="needs a capacity"):
        pmedian(D, 2, constraints=must, fill_must_open=True)
    with pytest.raises(InputError, match="no capacity to fill"):
        pmedian(D, 2, capacity=np.array([np.inf, 3, 3, 3]), constraints=must, fill_must_open=True)
    with pytest.raises(InfeasibleError, match="need 6 of demand"):
        pmedian(
            D, 2, capacity=np.full(4, 3.0), constraints=Constraints(must_open=[0, 3]), fill_must_open=True
        )
    # coverage: the must-open site is filled with covered clients only
    cov = coverage(D, 2, 2.0, capacity=np.full(4, 2.0), constraints=must, fill_must_open=True)
    assert np.bincount(cov.assignment[cov.assignment >= 0], minlength=4)[0] == 2


# ---------------------------------------------------------------------------- brute force
def _side(draw_must, draw_forb, m):
    return sorted(set(draw_must)), sorted(set(draw_forb) - set(draw_must))


def _brute_pcenter(d, p, w, **side):
    n, m = d.shape
    best = np.inf
    for sites in itertools.combinations(range(m), p):
        if feasible(sites, m, **side):
            best = min(best, float(np.max(w * d[:, list(sites)].min(axis=1))))
    return best


def _brute_dispersion(d, p, must=(), count_must=True, **side):
    m = d.shape[0]
    best = -np.inf
    for sites in itertools.combinations(range(m), p):
        if feasible(sites, m, must=must, **side):
            vals = [
                d[a, b]
                for a, b in itertools.combinations(sites, 2)
                if count_must or not (a in must and b in must)
            ]
            best = max(best, min(vals) if vals else np.inf)
    return best


def _brute_backup(d, p, r, w, **side):
    n, m = d.shape
    best = (-np.inf, -np.inf)
    for sites in itertools.combinations(range(m), p):
        if feasible(sites, m, **side):
            cnt = (d[:, list(sites)] <= r).sum(axis=1)
            best = max(best, (float(w[cnt >= 1].sum()), float(w[cnt >= 2].sum())))
    return best


def _brute_fill(d, w, dem, cap, p, must, tol):
    n, m = d.shape
    best = np.inf
    for sites in itertools.combinations(range(m), p):
        if not set(must) <= set(sites):
            continue
        for a in itertools.product(sites, repeat=n):
            load = np.bincount(a, weights=dem, minlength=m)
            if np.any(load > cap + 1e-9) or np.any(load[list(must)] < (1 - tol) * cap[list(must)] - 1e-9):
                continue
            best = min(best, float(sum(w[i] * d[i, j] for i, j in enumerate(a))))
    return best


@hs.composite
def instances(draw, square=False):
    m = draw(hs.integers(2, 6))
    n = m if square else draw(hs.integers(1, 7))
    seed = draw(hs.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    if square:
        xy = rng.integers(0, 20, size=(m, 2))
        d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    else:
        d = rng.integers(0, 20, size=(n, m)).astype(float)
    p = draw(hs.integers(2 if square else 1, m))
    must = draw(hs.lists(hs.integers(0, m - 1), max_size=2))
    forb = draw(hs.lists(hs.integers(0, m - 1), max_size=2))
    must, forb = _side(must, forb, m)
    conflicts = draw(hs.lists(hs.tuples(hs.integers(0, m - 1), hs.integers(0, m - 1)), max_size=2))
    conflicts = [(a, b) for a, b in conflicts if a != b and not (a in must and b in must)]
    cost = rng.integers(1, 5, size=m).astype(float)
    budget = draw(hs.one_of(hs.none(), hs.floats(2, 20)))
    w = rng.integers(1, 4, size=n).astype(float)
    return d, p, must, forb, conflicts, cost, budget, w


def _constraints(must, forb, conflicts, cost, budget):
    return Constraints(
        must_open=must or None,
        forbidden=forb or None,
        conflicts=np.array(conflicts, dtype=np.int64).reshape(-1, 2) if conflicts else None,
        quotas=(Quota("budget", np.arange(cost.size), cost, 0.0, budget, "currency"),) if budget else (),
    )


def _side_kw(must, forb, conflicts, cost, budget):
    quotas = [(list(range(cost.size)), cost, 0.0, budget)] if budget else []
    return {"must": must, "forbidden": forb, "conflicts": conflicts, "quotas": quotas}


@SETTINGS
@given(instances())
def test_pcenter_matches_brute_force_and_mip(inst):
    d, p, must, forb, conflicts, cost, budget, w = inst
    want = _brute_pcenter(d, p, w, **_side_kw(must, forb, conflicts, cost, budget))
    con = _constraints(must, forb, conflicts, cost, budget)
    if not np.isfinite(want):
        with pytest.raises(InfeasibleError):
            pcenter(d, p, weights=w, constraints=con)
        return
    for method in ("auto", "mip"):
        sol = pcenter(d, p, weights=w, constraints=con, method=method)
        assert sol.objective == pytest.approx(want)
        assert sol.proven_optimal and sol.bound <= sol.objective + 1e-9
        assert feasible(sol.sites.tolist(), d.shape[1], **_side_kw(must, forb, conflicts, cost, budget))


@SETTINGS
@given(instances(square=True), hs.booleans())
def test_pdispersion_matches_brute_force_and_mip(inst, count_must):
    d, p, must, forb, conflicts, cost, budget, _ = inst
    if not count_must and len(must) >= p:
        return
    kw = _side_kw(must, forb, conflicts, cost, budget)
    want = _brute_dispersion(d, p, count_must=count_must, **kw)
    con = _constraints(must, forb, conflicts, cost, budget)
    if not np.isfinite(want) and want < 0:
        with pytest.raises(InfeasibleError):
            pdispersion(d, p, constraints=con, count_must_pairs=count_must)
        return
    sol = pdispersion(d, p, constraints=con, count_must_pairs=count_must)
    if np.isinf(want):  # no countable pair: credited the largest distance
        assert sol.objective == d.max()
        return
    assert sol.objective == pytest.approx(want)
    assert sol.proven_optimal and sol.bound >= sol.objective - 1e-9
    assert feasible(sol.sites.tolist(), d.shape[0], **kw)
    if count_must:
        assert pdispersion(d, p, constraints=con, method="mip").objective == pytest.approx(want)


@SETTINGS
@given(instances(), hs.floats(0, 15))
def test_backup_coverage_matches_brute_force(inst, r):
    d, p, must, forb, conflicts, cost, budget, w = inst
    kw = _side_kw(must, forb, conflicts, cost, budget)
    want = _brute_backup(d, p, r, w, **kw)
    con = _constraints(must, forb, conflicts, cost, budget)
    if not np.isfinite(want[0]):
        with pytest.raises(InfeasibleError):
            backup_coverage(d, p, r, weights=w, constraints=con)
        return
    sol = backup_coverage(d, p, r, weights=w, constraints=con)
    assert (sol.info["covered"], sol.objective) == pytest.approx(want)
    assert sol.proven_optimal
    assert feasible(sol.sites.tolist(), d.shape[1], **kw)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.integers(0, 2**31 - 1), hs.sampled_from([0.0, 0.25]))
def test_fill_must_open_matches_brute_force(seed, tol):
    rng = np.random.default_rng(seed)
    n, m, p = 4, 3, 2
    d = rng.integers(0, 10, size=(n, m)).astype(float)
    dem = rng.integers(1, 3, size=n).astype(float)
    cap = rng.integers(2, 6, size=m).astype(float)
    must = [int(rng.integers(0, m))]
    want = _brute_fill(d, np.ones(n), dem, cap, p, must, tol)
    kw = {"capacity": cap, "demand": dem, "constraints": Constraints(must_open=must), "fill_must_open": True}
    if not np.isfinite(want):
        with pytest.raises(InfeasibleError):
            pmedian(d, p, fill_tolerance=tol, **kw)
        return
    sol = pmedian(d, p, fill_tolerance=tol, **kw)
    assert sol.objective == pytest.approx(want) and sol.proven_optimal
    load = np.bincount(sol.assignment, weights=dem, minlength=m)
    assert load[must[0]] >= (1 - tol) * cap[must[0]] - 1e-9
    assert np.all(load <= cap + 1e-9)


@SETTINGS
@given(instances())
def test_pcenter_budget_never_overspent_and_more_budget_never_worse(inst):
    d, _, _, _, _, cost, _, w = inst
    prev = np.inf
    for budget in sorted((cost.min() + 1, cost.sum() / 2, cost.sum())):
        con = Constraints(site_cost=cost, budget=float(budget))
        sol = pcenter(d, None, weights=w, constraints=con)
        assert cost[sol.sites].sum() <= budget + 1e-9
        assert sol.objective <= prev + 1e-9
        prev = sol.objective
