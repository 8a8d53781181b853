"""Golden tests from spopt's locate test cases (tests/data/spopt, README there).

Every expected value is one spopt's own tests assert (``spopt test``) or one spopt 0.7.0
with CBC computes on the same instance (``spopt run``); ties between equally good site
sets are allowed (the objective must match, the sites only where the optimum is unique).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storeplan.errors import InfeasibleError
from storeplan.solvers import Constraints, backup_coverage, coverage, pcenter, pdispersion, pmedian, set_cover

DATA = Path(__file__).resolve().parents[1] / "data" / "spopt"
EXPECTED = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))


def _csv(name: str) -> np.ndarray:
    return pd.read_csv(DATA / name).to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def sf():
    return _csv("sf_205x16.csv"), pd.read_csv(DATA / "sf_pop2000.csv")["pop2000"].to_numpy(np.float64)


@pytest.mark.parametrize("method", ["auto", "mip"])
def test_lattice_pcenter(method):
    exp = EXPECTED["lattice_pcenter"]
    sol = pcenter(_csv("lattice_100x5.csv"), exp["p"], method=method)
    assert sol.objective == pytest.approx(exp["objective"], rel=1e-7)
    assert sol.proven_optimal


@pytest.mark.parametrize("method", ["auto", "mip"])
def test_lattice_pcenter_predefined(method):
    exp = EXPECTED["lattice_pcenter_predefined"]
    sol = pcenter(
        _csv("lattice_100x5_planar.csv"),
        exp["p"],
        constraints=Constraints(must_open=exp["must_open"]),
        method=method,
    )
    assert sol.objective == pytest.approx(exp["objective"], rel=1e-7)
    assert sol.sites.tolist() == exp["sites"]
    assert sol.proven_optimal


def test_sf_pcenter(sf):
    exp = EXPECTED["sf_pcenter"]
    sol = pcenter(sf[0], exp["p"])
    assert sol.objective == pytest.approx(exp["objective"], rel=1e-7)
    assert sol.proven_optimal


@pytest.mark.parametrize("method", ["auto", "mip"])
def test_lattice_pdispersion(method):
    exp = EXPECTED["lattice_pdispersion"]
    sol = pdispersion(_csv("lattice_5x5.csv"), exp["p"], method=method)
    assert sol.objective == pytest.approx(exp["objective"], rel=1e-7)
    assert sol.sites.tolist() == exp["sites"]
    assert sol.proven_optimal


@pytest.mark.parametrize("method", ["auto", "mip"])
def test_lattice_pdispersion_predefined(method):
    exp = EXPECTED["lattice_pdispersion_predefined"]
    d = _csv("lattice_5x5_planar.csv")
    sol = pdispersion(d, exp["p"], constraints=Constraints(must_open=exp["must_open"]), method=method)
    assert sol.objective == pytest.approx(exp["objective"], rel=1e-7)
    assert sol.proven_optimal
    # a tie: spopt returns [1, 3, 4]; any set with the same spacing is optimal
    assert {3, 4} <= set(sol.sites.tolist())
    s = sol.sites
    assert min(d[a, b] for a in s for b in s if a < b) == pytest.approx(exp["objective"], rel=1e-7)


@pytest.mark.parametrize("method", ["auto", "mip"])
def test_sf_pdispersion(method):
    exp = EXPECTED["sf_pdispersion"]
    xy = pd.read_csv(DATA / "sf_stores.csv")[["long", "lat"]].to_numpy()
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    sol = pdispersion(d, exp["p"], method=method)
    assert sol.objective == pytest.approx(exp["objective"], rel=1e-6)
    assert sol.sites.tolist() == exp["sites"]
    assert sol.proven_optimal


def test_sf_lscpb_backup_share(sf):
    """spopt's LSCP-B: p = the set-cover optimum (8), then most clients covered twice.

    spopt counts a client with fewer than two candidate sites within the radius as
    backed up (its backup variable is left free: ``spopt/locate/base.py``,
    ``add_backup_covering_constraint``), so its 81.46 % = (ours + those clients) / 205.
    """
    exp = EXPECTED["sf_lscpb"]
    cost = sf[0]
    lscp = set_cover(cost, exp["radius"], 1.0)
    assert lscp.objective == exp["p"] and lscp.proven_optimal
    sol = backup_coverage(cost, int(lscp.objective), exp["radius"], cover="all")
    assert sol.proven_optimal
    assert sol.info["covered"] == cost.shape[0]
    free = int(((cost <= exp["radius"]).sum(axis=1) < 2).sum())
    assert free == 22
    assert 100 * (sol.objective + free) / cost.shape[0] == pytest.approx(exp["backup_perc"])
    assert sol.objective + free == exp["spopt_run"]["objective"]


def test_sf_mclp_and_pmedian(sf):
    cost, pop = sf
    exp = EXPECTED["sf_mclp"]
    cov = coverage(cost, exp["p"], exp["radius"], weights=pop)
    assert cov.objective == exp["spopt_run"]["objective"] and cov.proven_optimal
    assert int((cov.assignment < 0).sum()) == exp["n_uncovered"]
    assert 100 * (cov.assignment >= 0).mean() == pytest.approx(exp["perc_cov"])
    exp = EXPECTED["sf_pmedian"]
    med = pmedian(cost, exp["p"], weights=pop)
    assert med.objective / pop.sum() == pytest.approx(exp["mean_dist"], rel=1e-9)
    assert med.proven_optimal


def test_lattice_pmedian_predefined():
    exp = EXPECTED["lattice_pmedian_predefined"]
    w = pd.read_csv(DATA / "lattice_100_weights.csv")["weight"].to_numpy(np.float64)
    sol = pmedian(
        _csv("lattice_100x5_planar.csv"),
        exp["p"],
        weights=w,
        constraints=Constraints(must_open=exp["must_open"]),
    )
    assert sol.objective == pytest.approx(exp["objective"], rel=1e-9)
    assert sol.sites.tolist() == exp["sites"]


def test_lattice_capacitated_pmedian_fill():
    exp = EXPECTED["lattice_capacitated_pmedian"]
    cost = _csv("lattice_2x3.csv")
    cap, dem = np.array(exp["capacity"], float), np.array(exp["demand"], float)
    want = [j[0] for j in exp["cli2fac"]]
    plain = pmedian(cost, exp["p"], weights=dem, capacity=cap, demand=dem)
    assert plain.assignment.tolist() == want
    assert plain.objective == pytest.approx(exp["spopt_run"]["capacitated"]["objective"])
    filled = pmedian(
        cost,
        exp["p"],
        weights=dem,
        capacity=cap,
        demand=dem,
        constraints=Constraints(must_open=[2]),
        fill_must_open=True,
    )
    assert filled.assignment.tolist() == want
    assert filled.objective == pytest.approx(exp["spopt_run"]["fill_2"]["objective"])
    assert exp["fill_0_status"] == "Infeasible"
    with pytest.raises(InfeasibleError, match="must-open sites filled"):
        pmedian(
            cost,
            exp["p"],
            weights=dem,
            capacity=cap,
            demand=dem,
            constraints=Constraints(must_open=[0]),
            fill_must_open=True,
        )


def test_schools_fill_predefined():
    """spopt test_c_p_median.py::test_mixin_mean_time: 10 schools, the priority-1 schools
    filled exactly to capacity, mean travel time 87.2 minutes."""
    exp = EXPECTED["schools_fill_predefined"]
    cost = _csv("schools_time.csv")
    cap = pd.read_csv(DATA / "schools.csv")["capacity"].to_numpy(np.float64)
    ones = np.ones(cost.shape[0])
    sol = pmedian(
        cost,
        exp["p"],
        capacity=cap,
        demand=ones,
        constraints=Constraints(must_open=exp["must_open"]),
        fill_must_open=True,
    )
    assert sol.objective / cost.shape[0] == pytest.approx(exp["mean_time"])
    assert sol.proven_optimal
    load = np.bincount(sol.assignment, minlength=cap.size)
    assert np.array_equal(load[exp["must_open"]], cap[exp["must_open"]])
    # without the fill rule the schools are used more freely and the mean is lower
    free = pmedian(
        cost, exp["p"], capacity=cap, demand=ones, constraints=Constraints(must_open=exp["must_open"])
    )
    assert free.objective < sol.objective
