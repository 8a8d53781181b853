"""The command line: run / validate on a small scenario, one-line errors, no partial output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from storeplan.cli import app

runner = CliRunner()


def test_validate_ok(scenario_dir):
    res = runner.invoke(app, ["validate", str(scenario_dir()), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["areas"] == 5 and info["new_stores"] == 2 and info["objective"] == "pmedian"


def test_run_writes_plan_files(tmp_path, scenario_dir):
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(scenario_dir()), "--out", str(out), "--no-report", "--quiet"])
    assert res.exit_code == 0, res.output
    for name in ("plan.csv", "plan.geojson", "assignment.parquet", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_stores"] == 2


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda df: df.drop(columns="lat"), "missing required column 'lat'"),
        (lambda df: df.assign(population=[1, 2, -3, 4, 5]), "population must be a non-negative number"),
        (lambda df: df.assign(id=["a", "a", "c", "d", "e"]), "duplicate id"),
    ],
    ids=["missing-column", "negative", "duplicate"],
)
def test_bad_input_one_line_and_no_output(tmp_path, scenario_dir, line_areas, mutate, message):
    path = scenario_dir()
    mutate(line_areas).to_csv(tmp_path / "areas.csv", index=False)
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists() or not any(out.iterdir())


def test_infeasible_is_reported(scenario_dir):
    res = runner.invoke(app, ["validate", str(scenario_dir(objective='kind = "pmedian"\nstores = 9'))])
    assert res.exit_code == 2
    assert "9 new stores asked" in res.output


def test_compare_and_sweep_one_row_per_scenario(tmp_path, scenario_dir):
    a = scenario_dir()
    b = tmp_path / "b.toml"
    b.write_text(a.read_text().replace('name = "test"', 'name = "three"').replace("stores = 2", "stores = 3"))
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["compare", str(a), str(b), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    import pandas as pd

    table = pd.read_csv(out / "comparison.csv")
    assert table["name"].tolist() == ["test", "three"]
    assert table["n_stores"].tolist() == [2, 3]
    assert (out / "comparison.png").stat().st_size > 1000

    out2 = tmp_path / "sweep"
    res = runner.invoke(
        app, ["sweep", str(a), "--grid", "objective.stores=[1, 2, 3]", "--out", str(out2), "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out2 / "comparison.csv")
    assert len(table) == 3 and table["n_stores"].tolist() == [1, 2, 3]
    # more stores never lengthen the mean distance on this line of towns
    assert table["objective_value"].is_monotonic_decreasing
    assert set(table["objective_unit"]) == {"person-km"}


def test_sweep_bad_grid_is_one_line(tmp_path, scenario_dir):
    res = runner.invoke(app, ["sweep", str(scenario_dir()), "--grid", "stores", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "expected KEY=" in res.output


def test_a_warning_is_one_cli_line(scenario_dir):
    """A storeplan warning prints as one ``warning: ...`` line: no category, file or source
    line of the Python warning machinery."""
    rollout = "[rollout]\nyears = 2\nstores_per_year = [1, 0]\n"
    path = scenario_dir(rollout, objective='kind = "pmedian"\nstores = 3')
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    warned = [ln for ln in lines if ln.startswith("warning:")]
    assert len(warned) == 1, res.output
    assert "add up to 1" in warned[0] and "3" in warned[0]
    assert "InputWarning" not in res.output and ".py:" not in res.output and "warnings.warn" not in res.output
