"""The volume algorithm for the p-median Lagrangian (solvers/bounds.py,
``lagrangian_min(..., volume=True)``): brute-force cross-checks of its bound on small
random instances, with and without unserved costs, must-open and forbidden sites, and
with a deliberately bad incumbent (the step target)."""

from __future__ import annotations

import numpy as np
import pytest
from brute import brute_pmedian
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from storeplan import solvers
from storeplan.solvers.bounds import lagrangian_min
from storeplan.solvers.constraints import prepare


def _instance(D: np.ndarray, w: np.ndarray, u: np.ndarray | None):
    """Engine instance of the finite entries of ``D`` (rows sorted by cost), as the
    solvers build it (``as_sorted_csr`` then ``build_instance``)."""
    from storeplan.solvers._validate import as_sorted_csr, build_instance

    n, m, indptr, indices, vals = as_sorted_csr(D)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    return build_instance(n, m, indptr, indices, vals * w[rows], None if u is None else u * w)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=hs.integers(1, 10),
    m=hs.integers(2, 7),
    data=hs.data(),
    seed=hs.integers(0, 2**16),
    integer=hs.booleans(),
    with_unserved=hs.booleans(),
    with_side=hs.booleans(),
    ub_factor=hs.sampled_from([1.0, 1.5, 10.0]),
    its=hs.sampled_from([1, 7, 200]),
)
def test_volume_bound_never_above_brute_force(
    n, m, data, seed, integer, with_unserved, with_side, ub_factor, its
):
    rng = np.random.default_rng(seed)
    p = data.draw(hs.integers(1, m), label="p")
    xy = rng.random((n + m, 2)) * 10
    D = np.sqrt(((xy[:n, None] - xy[None, n:]) ** 2).sum(-1))
    D = np.round(D) if integer else D
    if with_unserved:
        D[rng.random((n, m)) < 0.3] = np.inf  # missing pairs
    w = rng.integers(0, 4, n).astype(float) if integer else rng.random(n) * 3
    u = (np.round(rng.random(n) * 8) if integer else rng.random(n) * 8) if with_unserved else None
    must, forb = [], []
    if with_side and m >= 3:
        must = [int(rng.integers(m))]
        forb = [j for j in range(m) if j not in must and rng.random() < 0.3][: m - p]
    cons = solvers.Constraints(must_open=must, forbidden=forb) if must else None
    opt = brute_pmedian(D, p, w, u, must=must, forbidden=forb)
    if not np.isfinite(opt):
        return
    inst = _instance(D, w, u)
    side = prepare(cons, m, p, p)
    lam0 = rng.random(n) * 10 * np.maximum(w, 0.1)
    lr = lagrangian_min(inst, side, p, p, ub_factor * opt + 1.0, lam0, max_iter=its, volume=True)
    tol = 1e-7 * max(1.0, abs(opt))
    assert lr.bound <= opt + tol
    assert np.all(lr.lam >= 0.0)
    # the bound is L at the multipliers returned: one plain step from them evaluates it
    again = lagrangian_min(inst, side, p, p, ub_factor * opt + 1.0, lr.lam, max_iter=1)
    assert again.bound == pytest.approx(lr.bound, rel=1e-9, abs=1e-9)


def test_volume_closes_the_gap_on_a_hand_checked_instance():
    # four clients on a line at 0, 1, 10, 11, sites at the clients, p = 2: the optimum
    # opens one site in each pair (cost 1 + 1 = 2) and its LP relaxation is integral
    x = np.array([0.0, 1.0, 10.0, 11.0])
    D = np.abs(x[:, None] - x[None, :])
    inst = _instance(D, np.ones(4), None)
    side = prepare(None, 4, 2, 2)
    lr = lagrangian_min(inst, side, 2, 2, 2.0, np.zeros(4), max_iter=2000, volume=True)
    assert lr.bound <= 2.0 + 1e-9
    assert lr.bound >= 2.0 - 1e-3
