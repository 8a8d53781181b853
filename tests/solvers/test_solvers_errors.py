"""Input validation and infeasibility errors name the problem."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from storeplan.errors import (
    EmptyInputError,
    InfeasibleError,
    InputError,
    NegativeValueError,
)
from storeplan.solvers import Constraints, coverage, facility_location, pmedian, set_cover

D = np.abs(np.arange(6.0)[:, None] - np.arange(6.0)[None, :])


@pytest.mark.parametrize(
    ("cost", "p", "kw", "err", "match"),
    [
        (np.arange(5.0), 1, {}, InputError, "2-D"),
        (D, 0, {}, InputError, "between 1 and"),
        (D, 7, {}, InputError, "between 1 and"),
        (D, 1.5, {}, InputError, "integer"),
        (np.where(D == 2, np.nan, D), 1, {}, NegativeValueError, "NaN"),
        (-D, 1, {}, NegativeValueError, "negative"),
        (D, 1, {"weights": -np.ones(6)}, NegativeValueError, "non-negative"),
        (D, 1, {"weights": np.ones(5)}, InputError, "one entry per client"),
        (D, 1, {"weights": np.full(6, np.nan)}, NegativeValueError, "finite"),
        (D, 1, {"unserved_cost": -1.0}, NegativeValueError, "unserved_cost"),
        (D, 1, {"time_limit": 0}, InputError, "time_limit"),
        (D, 1, {"method": "magic"}, InputError, "method"),
        (np.zeros((0, 3)), 1, {}, EmptyInputError, "no clients"),
        (D, 1, {"constraints": Constraints(must_open=[9])}, InputError, "outside"),
        (D, 1, {"constraints": "x"}, InputError, "Constraints"),
    ],
)
def test_pmedian_input_errors(cost, p, kw, err, match):
    with pytest.raises(err, match=match):
        pmedian(cost, p, **kw)


def test_duplicate_csr_entries_rejected():
    S = sp.csr_matrix((np.array([1.0, 2.0]), np.array([0, 0]), np.array([0, 2])), shape=(1, 2))
    with pytest.raises(InputError, match="duplicate"):
        pmedian(S, 1)


def test_infeasible_must_open_count():
    with pytest.raises(InfeasibleError, match="must_open has 5 sites but p = 3"):
        pmedian(D, 3, constraints=Constraints(must_open=[0, 1, 2, 3, 4]))


def test_infeasible_must_and_forbidden():
    with pytest.raises(InfeasibleError, match="must_open and forbidden"):
        pmedian(D, 2, constraints=Constraints(must_open=[1], forbidden=[1]))


def test_infeasible_forbidden_count():
    with pytest.raises(InfeasibleError, match="forbidden leaves 2 allowed sites but p = 3"):
        pmedian(D, 3, constraints=Constraints(forbidden=[0, 1, 2, 3]))


def test_infeasible_group_min():
    c = Constraints(group=np.array([0, 0, 1, 2, 2, 2]), group_min=np.array([0, 0, 4]))
    with pytest.raises(InfeasibleError, match="group 2 needs at least 4 sites but only 3"):
        pmedian(D, 4, constraints=c)


def test_infeasible_group_sum_and_max():
    c = Constraints(group=np.array([0, 0, 0, 1, 1, 1]), group_min=np.array([2, 2]))
    with pytest.raises(InfeasibleError, match="group minimums need 4 sites"):
        pmedian(D, 3, constraints=c)
    c = Constraints(group=np.array([0, 0, 0, 1, 1, 1]), group_max=np.array([1, 1]))
    with pytest.raises(InfeasibleError, match="group maximums allow at most 2"):
        pmedian(D, 3, constraints=c)
    c = Constraints(must_open=[0, 1], group=np.array([0, 0, 0, 1, 1, 1]), group_max=np.array([1, 3]))
    with pytest.raises(InfeasibleError, match="group 0 allows at most 1 sites but 2"):
        pmedian(D, 3, constraints=c)


def test_infeasible_spacing_must_open():
    c = Constraints(must_open=[3, 7], conflicts=np.array([[3, 7]]))
    with pytest.raises(InfeasibleError, match="minimum spacing: must-open sites 3 and 7"):
        pmedian(np.ones((2, 8)), 2, constraints=c)


@pytest.mark.parametrize("method", ["auto", "heuristic"])
def test_infeasible_spacing_no_p_sites(method):
    # a path 0-1-2-3-4-5 of conflicts: at most 3 sites are pairwise non-adjacent
    conf = np.array([[i, i + 1] for i in range(5)])
    with pytest.raises(InfeasibleError, match="no feasible set of 4 sites satisfies the minimum"):
        pmedian(D, 4, constraints=Constraints(conflicts=conf), method=method)
    assert pmedian(D, 3, constraints=Constraints(conflicts=conf)).sites.tolist() in (
        [0, 2, 4],
        [1, 3, 5],
        [0, 2, 5],
        [0, 3, 5],
    )
    with pytest.raises(InfeasibleError, match="minimum spacing"):
        coverage(D, 4, 1.0, constraints=Constraints(conflicts=conf), method=method)


def test_infeasible_unreachable_client():
    S = sp.csr_matrix((np.array([1.0]), (np.array([0]), np.array([0]))), shape=(2, 2))
    with pytest.raises(InfeasibleError, match="no stored site"):
        pmedian(S, 1)
    # forbidden makes the only site of client 0 unusable
    c = np.array([[1.0, np.inf], [1.0, 1.0]])
    with pytest.raises(InfeasibleError, match="client 0"):
        pmedian(c, 1, constraints=Constraints(forbidden=[0]))


def test_infeasible_cannot_serve_all_with_p():
    # two clients each reaching only their own site; p = 1 cannot serve both
    c = np.array([[1.0, np.inf], [np.inf, 1.0]])
    with pytest.raises(InfeasibleError, match="cannot be served"):
        pmedian(c, 1)
    assert pmedian(c, 1, unserved_cost=10.0).objective == pytest.approx(11.0)


def test_other_entry_points_validate():
    with pytest.raises(InputError, match="radius"):
        coverage(D, 1, -1.0)
    with pytest.raises(InputError, match="share"):
        set_cover(D, 1.0, 1.5)
    with pytest.raises(InfeasibleError, match="share 1 cannot be reached"):
        set_cover(D, 0.0, 1.0, constraints=Constraints(forbidden=[0]))
    with pytest.raises(NegativeValueError, match="opening_cost"):
        facility_location(D, -np.ones(6))
    with pytest.raises(InputError, match="opening_cost"):
        facility_location(D, np.ones(5))
    with pytest.raises(InfeasibleError, match="capacity"):
        facility_location(D, 1.0, capacity=0.5, demand=np.ones(6))
    with pytest.raises(InfeasibleError, match="must_open has 2 sites but p = 1"):
        facility_location(D, 1.0, p=1, constraints=Constraints(must_open=[0, 1]))
