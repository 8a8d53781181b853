"""Golden tests: OR-Library pmed1-10 and cap71-74 reach the known optimum, proven.

The instances are vendored in tests/data/orlib (see its README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storeplan.solvers import facility_location, pmedian
from storeplan.solvers.orlib import read_optima, read_pmed, read_uncap

DATA = Path(__file__).resolve().parents[1] / "data" / "orlib"
PMED_OPT = read_optima(DATA / "pmed" / "pmedopt.txt")
UNCAP_OPT = read_optima(DATA / "uncap" / "uncapopt.txt")


def test_reader_last_duplicate_edge_wins(tmp_path):
    f = tmp_path / "tiny.txt"
    # edge (1, 2) given twice: 5 then 7 -> 7 wins; (2, 3) as (3, 2) later -> 4 wins
    f.write_text("3 4 1\n1 2 5\n2 3 9\n1 2 7\n3 2 4\n")
    d, p = read_pmed(f)
    assert p == 1
    assert d[0, 1] == 7 and d[1, 2] == 4 and d[0, 2] == 11


@pytest.mark.parametrize("k", range(1, 11))
def test_pmed_optimum_proven(k):
    d, p = read_pmed(DATA / "pmed" / f"pmed{k}.txt")
    sol = pmedian(d, p)
    assert sol.objective == pytest.approx(PMED_OPT[f"pmed{k}"])
    assert sol.proven_optimal
    assert sol.bound == pytest.approx(sol.objective)
    assert sol.sites.size == p
    # objective recomputed from the assignment
    assert d[np.arange(d.shape[0]), sol.assignment].sum() == pytest.approx(sol.objective)


@pytest.mark.parametrize("name", ["cap71", "cap72", "cap73", "cap74"])
def test_uncap_optimum_proven(name):
    cost, f, _ = read_uncap(DATA / "uncap" / f"{name}.txt")
    sol = facility_location(cost, f)
    assert sol.objective == pytest.approx(UNCAP_OPT[name], rel=1e-9)
    assert sol.proven_optimal
    total = f[sol.sites].sum() + cost[np.arange(cost.shape[0]), sol.assignment].sum()
    assert total == pytest.approx(sol.objective)


@pytest.mark.parametrize("k", [2, 6])
def test_pmed_truncated_radius_model(monkeypatch, k):
    # force the truncated-and-expanded radius MIP (used for large reduced models when
    # the side constraints rule out the Lagrangian branch and bound)
    from storeplan.solvers import _minimize, lagbb

    monkeypatch.setattr(_minimize, "MIP_AUTO_ARCS", 300)
    monkeypatch.setattr(lagbb, "applicable", lambda side: False)
    d, p = read_pmed(DATA / "pmed" / f"pmed{k}.txt")
    sol = pmedian(d, p)
    assert sol.objective == pytest.approx(PMED_OPT[f"pmed{k}"])
    assert sol.proven_optimal
    if sol.info.get("mip_arcs", 0) > 300:
        assert "mip(radius-expand)" in sol.method


@pytest.mark.parametrize("k", [3, 6])
def test_pmed_lagrangian_branch_and_bound(monkeypatch, k):
    # force the Lagrangian branch and bound (used for large reduced models)
    from storeplan.solvers import _minimize

    monkeypatch.setattr(_minimize, "MIP_AUTO_ARCS", 300)
    d, p = read_pmed(DATA / "pmed" / f"pmed{k}.txt")
    sol = pmedian(d, p, time_limit=60)
    assert sol.objective == pytest.approx(PMED_OPT[f"pmed{k}"])
    assert sol.proven_optimal
    assert "lagrangian-bb" in sol.method
    assert sol.info["bb_proven"]
