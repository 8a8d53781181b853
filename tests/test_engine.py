"""Scenario comparison and sweeps: one row per scenario, same numbers on every engine."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from storeplan.engine import (
    COLUMNS,
    COMPARISON,
    UNITS,
    EngineUnavailableError,
    ScenarioTask,
    compare,
    grid_tasks,
    run_many,
    run_scenario,
    sweep,
)
from storeplan.errors import UnknownOptionError


@pytest.fixture
def scenarios(tmp_path: Path) -> dict[str, Path]:
    """Twelve areas in two regions, three scenario files (one with a rollout, one broken)."""
    rng = np.random.default_rng(0)
    n = 12
    pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n)],
            "lon": rng.uniform(120.0, 121.0, n),
            "lat": rng.uniform(30.0, 31.0, n),
            "population": rng.uniform(1e3, 1e5, n).round(),
            "region": rng.choice(["north", "south"], n),
        }
    ).to_csv(tmp_path / "areas.csv", index=False)

    def write(name: str, body: str) -> Path:
        p = tmp_path / f"{name}.toml"
        p.write_text(textwrap.dedent(body), encoding="utf-8")
        return p

    return {
        "pmedian": write(
            "pmedian",
            """
            name = "pmed"
            [areas]
            path = "areas.csv"
            [objective]
            kind = "pmedian"
            stores = 3
            """,
        ),
        "rollout": write(
            "rollout",
            """
            name = "roll"
            [areas]
            path = "areas.csv"
            [objective]
            kind = "coverage"
            stores = 4
            radius_km = 20
            [rollout]
            years = 2
            stores_per_year = 2
            ramp_months = 12
            target_revenue = [1.0, 1e15]
            improve_seconds = 0.3
            """,
        ),
        "broken": write(
            "broken",
            """
            name = "broken"
            [areas]
            path = "areas.csv"
            [objective]
            kind = "pmedian"
            stores = 50
            """,
        ),
    }


#: numeric columns that must agree between engines
NUMBERS = (
    "n_stores",
    "coverage_share",
    "npv_currency",
    "revenue_full_ramp_currency_per_year",
    "sales_final_year_currency_per_year",
    "market_share",
    "objective_value",
    "gap_share",
)


def _numbers(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["seconds"]).reset_index(drop=True)


def test_run_scenario_row(scenarios):
    row = run_scenario(ScenarioTask(str(scenarios["rollout"])))
    assert row["error"] is None, row["error"]
    assert row["name"] == "roll" and row["n_stores"] == 4
    assert np.isfinite(row["npv_currency"]) and row["sales_final_year_currency_per_year"] > 0
    assert 0 < row["market_share"] < 1
    assert row["target_met"] is False and row["shortfall_currency_per_year"] > 0
    bad = run_scenario(ScenarioTask(str(scenarios["broken"])))
    assert "InfeasibleError" in bad["error"] and np.isnan(bad["npv_currency"])
    assert set(bad) == set(COLUMNS)


def test_compare_one_row_per_scenario_local(scenarios, tmp_path):
    out = tmp_path / "cmp"
    paths = [scenarios["pmedian"], scenarios["rollout"], scenarios["broken"]]
    res = compare(paths, out, engine="local", workers=2, save_plans=True)
    t = res.table
    assert len(t) == 3 and list(t.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert t["name"].tolist() == ["pmed", "roll", "broken"]
    assert t["error"].isna().tolist() == [True, True, False]
    assert np.isnan(t.loc[0, "npv_currency"]) and np.isfinite(t.loc[1, "npv_currency"])  # only with a rollout
    for name in ("comparison.csv", "comparison.parquet", "comparison.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    back = pd.read_parquet(out / "comparison.parquet")
    assert len(back) == 3 and back["name"].tolist() == t["name"].tolist()
    assert len(pd.read_csv(out / "comparison.csv")) == 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert (out / "scenarios" / "pmedian" / "plan.csv").is_file()
    assert (out / "scenarios" / "rollout" / "rollout.csv").is_file()
    _check_against_plans(t, out)


def _check_against_plans(t: pd.DataFrame, out: Path) -> None:
    """Columns, units and values of the comparison files equal the saved plans' metrics."""
    from storeplan.metrics import PlanMetrics, RolloutSummary
    from storeplan.plan import Plan

    csv = pd.read_csv(out / "comparison.csv")
    assert list(csv.columns) == list(COLUMNS)
    meta = pq.read_schema(out / "comparison.parquet").metadata
    assert json.loads(meta[b"storeplan.units"]) == UNITS
    # every numeric column names its unit, in the metrics' vocabulary, and its source field
    pm_units, ro_units = PlanMetrics.units(), RolloutSummary.units()
    for col in COMPARISON:
        field = col.source.split(".", 1)[-1]
        if col.source.startswith("metrics.") and field in pm_units and col.unit != "objective_unit":
            assert col.unit == pm_units[field], col.name
        if col.source.startswith("rollout.") and col.unit != "years":
            assert col.unit == ro_units[field], col.name
    assert UNITS["revenue_full_ramp_currency_per_year"] == "currency/year"
    assert UNITS["npv_currency"] == "currency" and UNITS["gap_share"] == "share"
    for i, stem in ((0, "pmedian"), (1, "rollout")):
        plan = Plan.load(out / "scenarios" / stem)
        m, r = plan.metrics, plan.metrics.rollout
        row, back = t.loc[i], csv.loc[i]
        assert row["objective_kind"] == plan.objective and back["objective_unit"] == m.objective_unit
        assert row["n_stores"] == m.n_stores == back["n_stores"]
        for col, value in (
            ("objective_value", m.objective),
            ("bound_value", m.bound),
            ("gap_share", m.gap),
            ("coverage_share", m.coverage_share),
            ("market_share", m.market_share),
            ("mean_km", m.mean_km),
            ("revenue_full_ramp_currency_per_year", m.own_revenue),
        ):
            assert row[col] == pytest.approx(value, rel=1e-12), col
            assert back[col] == pytest.approx(value, rel=1e-12), col
        if r is None:
            assert np.isnan(back["sales_final_year_currency_per_year"]) and np.isnan(back["npv_currency"])
            continue
        assert row["rollout_years"] == r.years
        assert row["npv_currency"] == pytest.approx(r.npv, rel=1e-12)
        assert row["sales_final_year_currency_per_year"] == pytest.approx(r.final_revenue, rel=1e-12)
        assert row["shortfall_currency_per_year"] == pytest.approx(r.shortfall, rel=1e-12)
        assert row["n_stores_final_year"] == m.n_existing_stores + sum(r.opened_per_year)
        # a two-year ramp: the final year's sales are not the full-ramp revenue
        assert row["sales_final_year_currency_per_year"] != pytest.approx(
            row["revenue_full_ramp_currency_per_year"], rel=1e-6
        )


def test_sweep_and_dask_match_local(scenarios, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    grid = {"objective.stores": [3, 4], "rollout.stores_per_year": [1, 2]}
    with distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        dask_res = sweep(
            scenarios["rollout"], grid, tmp_path / "dask", engine="dask", address=cluster.scheduler_address
        )
    local_res = sweep(scenarios["rollout"], grid, tmp_path / "local", engine="local", workers=2)
    t = dask_res.table
    assert len(t) == 4 and t["error"].isna().all()
    assert t["name"].tolist()[0] == "roll[objective.stores=3,rollout.stores_per_year=1]"
    assert t["n_stores"].tolist() == [3, 3, 4, 4]
    assert t["n_stores_final_year"].tolist() == [2, 3, 2, 4]
    local = local_res.table
    assert local["name"].tolist() == t["name"].tolist()
    for col in NUMBERS:
        np.testing.assert_allclose(t[col].to_numpy(float), local[col].to_numpy(float), rtol=1e-12)
    assert (tmp_path / "dask" / "comparison.png").stat().st_size > 0


def test_grid_tasks_and_bad_keys(scenarios):
    tasks = grid_tasks(scenarios["rollout"], {"objective.stores": [1, 2, 3], "rollout.discount_rate": [0.1]})
    assert len(tasks) == 3
    assert tasks[2].overrides == {"objective": {"stores": 3}, "rollout": {"discount_rate": 0.1}}
    with pytest.raises(UnknownOptionError, match="dotted"):
        grid_tasks(scenarios["rollout"], {"stores": [1]})
    with pytest.raises(UnknownOptionError, match="no values"):
        grid_tasks(scenarios["rollout"], {"objective.stores": []})


def test_run_many_engines():
    assert run_many([], abs) == []
    with pytest.raises(UnknownOptionError, match="engine"):
        run_many([1], abs, engine="spark")
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(EngineUnavailableError, match="pip install"):
            run_many([1], abs, engine="ray")
    else:
        assert run_many([-1, -2], abs, engine="ray", workers=1) == [1, 2]


@pytest.mark.slow
def test_ray_matches_local(scenarios, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'storeplan[ray]'")
    grid = {"objective.stores": [3, 4]}
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        ray_res = sweep(scenarios["rollout"], grid, tmp_path / "ray", engine="ray")
    finally:
        ray.shutdown()
    local = sweep(scenarios["rollout"], grid, tmp_path / "local", engine="local", workers=1).table
    t = ray_res.table
    assert t["error"].isna().all() and t["name"].tolist() == local["name"].tolist()
    for col in NUMBERS:
        np.testing.assert_allclose(t[col].to_numpy(float), local[col].to_numpy(float), rtol=1e-12)
