"""Hand-checked tiny instances for every objective (optimum worked out in comments)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from storeplan.solvers import (
    Constraints,
    Solution,
    coverage,
    facility_location,
    pmedian,
    set_cover,
)

# Clients and sites at the same four points on a line: 0, 1, 10, 11.
POS = np.array([0.0, 1.0, 10.0, 11.0])
D = np.abs(POS[:, None] - POS[None, :])
W = np.array([1.0, 2.0, 1.0, 3.0])


def check_solution(sol: Solution, n: int) -> None:
    assert sol.sites.dtype == np.int64
    assert np.all(np.diff(sol.sites) > 0)
    assert sol.assignment.shape == (n,)
    assigned = sol.assignment[sol.assignment >= 0]
    assert np.all(np.isin(assigned, sol.sites))
    assert sol.gap >= 0.0
    assert sol.sense in ("min", "max")


@pytest.mark.parametrize("method", ["auto", "heuristic", "mip"])
def test_pmedian_two_clusters(method):
    # p = 2: one site per cluster. Left: site 1 costs w0*1 = 1 (site 0 costs w1*1 = 2);
    # right: site 3 (pos 11) costs w2*1 = 1 (site 2 costs w3*1 = 3). Optimum 2, {1, 3}.
    sol = pmedian(D, 2, weights=W, method=method)
    check_solution(sol, 4)
    assert sol.objective == pytest.approx(2.0)
    assert sol.sites.tolist() == [1, 3]
    assert sol.assignment.tolist() == [1, 1, 3, 3]
    if method != "heuristic":
        assert sol.proven_optimal and sol.gap == 0.0


def test_pmedian_weighted_median():
    # p = 1: weighted median. Cumulative weights 1, 3, 4, 7 pass 3.5 at position 10:
    # cost 1*10 + 2*9 + 1*0 + 3*1 = 31 (position 11 costs 32, position 1 costs 49).
    sol = pmedian(D, 1, weights=W)
    assert sol.objective == pytest.approx(31.0)
    assert sol.sites.tolist() == [2]
    assert sol.proven_optimal
    assert sol.bound == pytest.approx(31.0)


def test_pmedian_constraints_tiny():
    # forbid site 1 and must-open site 2: left cluster must use site 0 (cost w1*1 = 2),
    # right uses site 2 (cost w3*1 = 3): optimum 5.
    c = Constraints(must_open=[2], forbidden=[1])
    sol = pmedian(D, 2, weights=W, constraints=c)
    assert sol.objective == pytest.approx(5.0)
    assert sol.sites.tolist() == [0, 2]
    # spacing: sites 1 and 3 conflict -> best is {1, 2} (1 + 3 = 4) or {0, 3} (2 + 1 = 3)
    sol = pmedian(D, 2, weights=W, constraints=Constraints(conflicts=np.array([[1, 3]])))
    assert sol.objective == pytest.approx(3.0)
    assert sol.sites.tolist() == [0, 3]
    # groups: sites 0, 1 in group 0 and 2, 3 in group 1; group 0 needs 2 sites, p = 2:
    # {0, 1} serves the right cluster from 1: 1*9 + 3*10 = 39.
    g = Constraints(group=np.array([0, 0, 1, 1]), group_min=np.array([2, 0]))
    sol = pmedian(D, 2, weights=W, constraints=g)
    assert sol.objective == pytest.approx(39.0)
    assert sol.sites.tolist() == [0, 1]


def test_pmedian_sparse_and_unserved():
    # Only pairs within 2 are stored. p = 1, unserved costs 5 per unit weight:
    # site 3 (pos 11) serves clients 2, 3 at w2*1 = 1, clients 0, 1 unserved: 5*(1+2) = 15,
    # total 16; site 1 serves 0, 1 at 1, unserved 5*(1+3) = 20 -> 21. Optimum 16, site 3.
    S = sp.csr_matrix(np.where(D <= 2, D, 0.0))
    S = sp.csr_matrix((D[D <= 2], np.nonzero(D <= 2)), shape=D.shape)  # keeps explicit 0s
    assert S.nnz == 8
    sol = pmedian(S, 1, weights=W, unserved_cost=5.0)
    assert sol.objective == pytest.approx(16.0)
    assert sol.sites.tolist() == [3]
    assert sol.assignment.tolist() == [-1, -1, 3, 3]
    assert sol.proven_optimal


def test_explicit_zero_is_a_real_cost():
    # Client 0 stores site 0 at an explicit 0.0 and site 1 at 5. Client 1 stores only
    # site 1 at 1. p = 1 with unserved cost 100: site 1 costs 5 + 1 = 6, site 0 costs
    # 0 + 100 = 100. With p = 2 both clients are served at 0 + 1 = 1.
    S = sp.csr_matrix((np.array([0.0, 5.0, 1.0]), (np.array([0, 0, 1]), np.array([0, 1, 1]))), shape=(2, 2))
    assert S.nnz == 3
    assert pmedian(S, 1, unserved_cost=100.0).objective == pytest.approx(6.0)
    sol = pmedian(S, 2)
    assert sol.objective == pytest.approx(1.0)
    assert sol.assignment.tolist() == [0, 1]


def test_dense_inf_means_not_allowed():
    c = np.array([[1.0, np.inf], [np.inf, 2.0]])
    sol = pmedian(c, 2)
    assert sol.objective == pytest.approx(3.0)


def test_coverage_tiny():
    # radius 1.5: sites 0 and 1 cover clients {0, 1} (weight 3), sites 2 and 3 cover
    # {2, 3} (weight 4). p = 1 -> 4 (site 2, the lowest index of the best); p = 2 -> 7.
    s1 = coverage(D, 1, 1.5, weights=W)
    assert s1.sense == "max"
    assert s1.objective == pytest.approx(4.0)
    assert s1.sites[0] in (2, 3)
    assert s1.proven_optimal
    assert s1.assignment[0] == -1 and s1.assignment[1] == -1
    s2 = coverage(D, 2, 1.5, weights=W)
    assert s2.objective == pytest.approx(7.0)
    assert s2.bound == pytest.approx(7.0)
    assert np.all(s2.assignment >= 0)


def test_set_cover_tiny():
    # share 0.5 of 7 = 3.5: one site on the right covers 4 -> 1 site.
    # share 1.0 -> 2 sites (one per cluster). Radius 0 -> every client needs its own site.
    s = set_cover(D, 1.5, 0.5, weights=W)
    assert s.objective == 1 and s.proven_optimal
    assert s.info["covered"] >= 3.5
    s = set_cover(D, 1.5, 1.0, weights=W)
    assert s.objective == 2 and s.proven_optimal
    s = set_cover(D, 0.0, 1.0)
    assert s.objective == 4 and s.sites.tolist() == [0, 1, 2, 3]


def test_ufl_tiny():
    # opening 5 per site, service = weighted distance. One site at 10: 5 + 31 = 36;
    # two sites {1, 3}: 10 + 2 = 12; three: 15 + 1 = 16; four: 20. Optimum 12.
    sol = facility_location(D * W[:, None], 5.0)
    assert sol.objective == pytest.approx(12.0)
    assert sol.sites.tolist() == [1, 3]
    assert sol.proven_optimal
    # with p = 1 the best single site is 10: 36
    assert facility_location(D * W[:, None], 5.0, p=1).objective == pytest.approx(36.0)
    # very cheap sites: open all four (cost 4 * 0.1 = 0.4)
    assert facility_location(D, 0.1).objective == pytest.approx(0.4)


def test_ufl_unserved():
    # opening 50: serving everything from one site costs at least 50 + 20 = 70 (site 1:
    # 1 + 0 + 9 + 10); leaving all four unserved at 10 each costs 40. Optimum 40.
    sol = facility_location(D, 50.0, unserved_cost=10.0)
    assert sol.objective == pytest.approx(40.0)
    assert sol.sites.size == 0
    assert np.all(sol.assignment == -1)


def test_capacitated_tiny():
    # capacity 4 per site, demands W (1, 2, 1, 3), cost = distance * demand, opening 5.
    # Uncapacitated optimum {1, 3} (12) has loads 3 and 4: fits. Capacity 3 instead:
    # the right cluster (demand 4) needs two sites: {1, 2, 3} = 15 + 1*0... cost:
    # client 2 at site 2 (0), client 3 at site 3 (0), clients 0, 1 at site 1 (1) -> 16.
    c = D * W[:, None]
    assert facility_location(c, 5.0, capacity=4.0, demand=W).objective == pytest.approx(12.0)
    sol = facility_location(c, 5.0, capacity=3.0, demand=W)
    assert sol.objective == pytest.approx(16.0)
    assert sol.proven_optimal
    assert sol.sites.tolist() == [1, 2, 3]


def test_zero_weight_clients_are_assigned():
    # client 1 has weight 0: it does not change the objective but is still assigned to
    # its nearest open (covering) site rather than reported as unserved.
    w = np.array([1.0, 0.0, 1.0, 1.0])
    sol = coverage(D, 2, 1.5, weights=w)
    assert sol.objective == pytest.approx(3.0)
    assert np.all(sol.assignment >= 0)
    sol = pmedian(D, 2, weights=w, unserved_cost=100.0)
    assert np.all(sol.assignment >= 0)
    assert sol.objective == pytest.approx(1.0)  # client 2 or 3 travels 1
