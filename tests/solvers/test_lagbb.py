"""Lagrangian branch and bound on the sites (solvers/lagbb.py): brute-force cross-checks
on small random instances (p-median and UFL, integer and real costs, unserved options,
missing pairs, must-open and forbidden sites), searches stopped by a node limit or a
deadline, and the pipeline hook in _minimize (forced on small instances by lowering
MIP_AUTO_ARCS)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from brute import brute_pmedian, brute_ufl

from storeplan import solvers
from storeplan.solvers import _minimize, facility_location, lagbb, pmedian
from storeplan.solvers._minimize import improvement_threshold
from storeplan.solvers.bounds import lagrangian_min
from storeplan.solvers.constraints import prepare


def _instance(D: np.ndarray, w: np.ndarray, u: np.ndarray | None, f: np.ndarray | None = None):
    from storeplan.solvers._validate import as_sorted_csr, build_instance

    n, m, indptr, indices, vals = as_sorted_csr(D)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    return build_instance(n, m, indptr, indices, vals * w[rows], None if u is None else u * w, f)


def _random_case(rng: np.random.Generator, ufl: bool):
    n = int(rng.integers(1, 12))
    m = int(rng.integers(2, 8))
    integer = bool(rng.random() < 0.5)
    with_unserved = bool(rng.random() < 0.4)
    xy = rng.random((n + m, 2)) * 10
    D = np.sqrt(((xy[:n, None] - xy[None, n:]) ** 2).sum(-1))
    D = np.round(D) if integer else D
    if with_unserved:
        D[rng.random((n, m)) < 0.3] = np.inf
    w = rng.integers(0, 4, n).astype(float) if integer else rng.random(n) * 3
    u = (np.round(rng.random(n) * 8) if integer else rng.random(n) * 8) if with_unserved else None
    f = None
    if ufl:
        f = np.round(rng.random(m) * 12) if integer else rng.random(m) * 12
        kmin, kmax = (0 if with_unserved else 1), m
    else:
        kmin = kmax = int(rng.integers(1, m + 1))
    must: list[int] = []
    forb: list[int] = []
    if rng.random() < 0.4 and m >= 3:
        must = [int(rng.integers(m))]
        forb = [j for j in range(m) if j not in must and rng.random() < 0.3][: max(m - kmax, 0)]
    return D, w, u, f, kmin, kmax, must, forb


def _weighted(D: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``w_i * D_ij`` with missing pairs (inf) kept missing when ``w_i = 0``."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(D), D * w[:, None], np.inf)


def _brute(D, w, u, f, kmin, kmax, must, forb) -> float:
    if f is None:
        return brute_pmedian(D, kmin, w, u, must=must, forbidden=forb)
    Dw = _weighted(D, w)
    opt = brute_ufl(Dw, f, None if u is None else u * w, must=must, forbidden=forb)
    if kmin == 0 and not must:
        # the empty set (every client unserved) is allowed when unserved costs exist
        opt = min(opt, float(np.sum(u * w)))
    return opt


@pytest.mark.parametrize("ufl", [False, True])
def test_lagbb_matches_brute_force(ufl):
    rng = np.random.default_rng(12 + ufl)
    checked = proven = stopped = 0
    for _ in range(300):
        D, w, u, f, kmin, kmax, must, forb = _random_case(rng, ufl)
        opt = _brute(D, w, u, f, kmin, kmax, must, forb)
        if not np.isfinite(opt):
            continue
        inst = _instance(D, w, u, f)
        cons = solvers.Constraints(must_open=must, forbidden=forb) if must else None
        side = prepare(cons, inst.m, kmin, kmax)
        tol = 1e-7 * max(1.0, abs(opt))
        # an incumbent worse than the optimum (or a bare upper bound with no sites) and
        # weak multipliers, so that the search has to branch and to find better sets
        ub = opt * float(rng.choice([1.0, 1.3, 3.0])) + float(rng.choice([0.0, 1.0, 5.0]))
        lam = rng.random(inst.n) * float(rng.choice([0.0, 1.0, 10.0]))
        lr = lagrangian_min(inst, side, kmin, kmax, ub, lam, max_iter=int(rng.choice([1, 5, 50])))
        max_nodes = None if rng.random() < 0.7 else int(rng.integers(0, 4))
        bb = lagbb.lagrangian_bb(
            inst,
            side,
            kmin,
            kmax,
            ub,
            lr.lam,
            lambda v, inst=inst: improvement_threshold(inst, v),
            deadline=None,
            root_bound=lr.bound,
            max_nodes=max_nodes,
        )
        checked += 1
        best = min(ub, bb.objective)
        # the bound is valid whether or not the search finished
        assert bb.bound <= opt + tol
        assert bb.bound <= best + tol
        assert best >= opt - tol
        if bb.sites is not None:
            # a reported incumbent is feasible and evaluated exactly
            assert kmin <= len(bb.sites) <= kmax
            assert set(must) <= set(bb.sites.tolist())
            assert not set(forb) & set(bb.sites.tolist())
            if f is None:
                val = brute_pmedian(D[:, bb.sites], len(bb.sites), w, u)
            else:
                Dw = _weighted(D[:, bb.sites], w)
                d1 = Dw.min(axis=1) if len(bb.sites) else np.full(inst.n, np.inf)
                if u is not None:
                    d1 = np.minimum(d1, u * w)
                val = float(d1.sum() + f[bb.sites].sum())
            assert bb.objective == pytest.approx(val, rel=1e-9, abs=1e-9)
        if bb.proven:
            proven += 1
            assert best == pytest.approx(opt, rel=1e-9, abs=1e-9)
            assert bb.bound >= improvement_threshold(inst, best) - tol
        elif max_nodes is None:
            pytest.fail("a search without a deadline or a node limit must finish")
        else:
            stopped += 1
    assert checked > 150 and proven > 100 and stopped > 10


def _grid(g: int) -> np.ndarray:
    """Manhattan distances between the points of a g x g lattice (clients = sites):
    symmetric, with a duality gap, so that a search runs for a while."""
    xy = np.array([(i, j) for i in range(g) for j in range(g)], dtype=float)
    return np.abs(xy[:, None] - xy[None]).sum(-1)


def test_lagbb_deadline_returns_in_time_with_a_valid_bound():
    D = _grid(20)
    n = m = D.shape[0]
    inst = _instance(D, np.ones(n), None)
    p = 7
    side = prepare(None, m, p, p)
    rng = np.random.default_rng(3)
    sites = rng.choice(m, p, replace=False)
    ub = float(D[:, sites].min(axis=1).sum())  # a poor incumbent: the search runs long
    lam = D[:, sites].min(axis=1) * 0.5
    lr = lagrangian_min(inst, side, p, p, ub, lam, max_iter=5)
    limit = 1.0
    t0 = time.perf_counter()
    bb = lagbb.lagrangian_bb(
        inst,
        side,
        p,
        p,
        ub,
        lr.lam,
        lambda v: improvement_threshold(inst, v),
        deadline=t0 + limit,
        root_bound=lr.bound,
    )
    took = time.perf_counter() - t0
    assert took <= limit + 0.5
    assert not bb.proven
    best = min(ub, bb.objective)
    assert lr.bound - 1e-9 <= bb.bound <= best
    # the bound never exceeds a strong solution's value
    strong = pmedian(D, p, method="heuristic", seed=0)
    assert bb.bound <= strong.objective + 1e-9


@pytest.fixture
def force_bb(monkeypatch):
    """Every reduced model counts as too large for the full MIP: the pipeline runs the
    branch and bound instead of the truncated radius MIP."""
    monkeypatch.setattr(_minimize, "MIP_AUTO_ARCS", 0)


def test_pipeline_runs_the_bb_and_proves_small_instances(force_bb):
    # weighted 4 x 4 and 5 x 5 lattices: a few keep a duality gap after the Lagrangian
    # and the Lagrangian start, so the pipeline branches; p-median against the brute
    # force, UFL against the full HiGHS MIP (method="mip" never takes the branch and bound)
    rng = np.random.default_rng(1)
    seen_bb = 0
    for _ in range(40):
        D = _grid(int(rng.integers(4, 6)))
        w = rng.integers(1, 4, D.shape[0]).astype(float)
        p = int(rng.integers(2, 5))
        sol = pmedian(D, p, weights=w, time_limit=20)
        assert sol.proven_optimal
        if "lagrangian-bb" in sol.method:
            seen_bb += 1
            assert sol.objective == pytest.approx(brute_pmedian(D, p, w), abs=1e-9)
        f = rng.integers(2, 8, D.shape[0]).astype(float)
        sol = facility_location(D * w[:, None], f, time_limit=20)
        assert sol.proven_optimal
        if "lagrangian-bb" in sol.method:
            seen_bb += 1
            ref = facility_location(D * w[:, None], f, method="mip", time_limit=60)
            assert ref.proven_optimal
            assert sol.objective == pytest.approx(ref.objective, abs=1e-9)
    assert seen_bb >= 3


def test_pipeline_with_the_bb_keeps_its_time_limit(force_bb):
    D = _grid(22)
    limit = 3.0
    t0 = time.perf_counter()
    sol = pmedian(D, 9, time_limit=limit)
    took = time.perf_counter() - t0
    assert took <= limit + 1.5
    assert sol.bound <= sol.objective + 1e-9


def test_applicable_only_without_other_side_constraints():
    m = 6
    assert lagbb.applicable(prepare(None, m, 2, 2))
    assert lagbb.applicable(prepare(solvers.Constraints(must_open=[1], forbidden=[2]), m, 2, 2))
    spaced = solvers.Constraints(conflicts=np.array([[0, 1]]))
    assert not lagbb.applicable(prepare(spaced, m, 2, 2))
    grouped = solvers.Constraints(group=np.array([0, 0, 0, 1, 1, 1]), group_max=np.array([1, 1]))
    assert not lagbb.applicable(prepare(grouped, m, 2, 2))
