"""Scenario loading: every bad-input class raises its named error, nothing is written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storeplan import Scenario
from storeplan.errors import (
    CRSError,
    DuplicateIdError,
    EmptyInputError,
    InfeasibleError,
    InputError,
    InvalidCoordinateError,
    MissingColumnError,
    NegativeValueError,
    UnknownOptionError,
    UnreadableFileError,
)


def test_valid_scenario_loads(scenario_dir):
    scn = Scenario.from_toml(scenario_dir())
    assert len(scn.areas) == 5 and len(scn.sites) == 5
    assert scn.n_new_stores() == 2
    assert scn.areas["id"].tolist() == ["a", "b", "c", "d", "e"]
    assert not scn.sites["must_open"].any()


def test_same_inputs_same_hash(scenario_dir):
    a = Scenario.from_toml(scenario_dir()).content_hash()
    b = Scenario.from_toml(scenario_dir()).content_hash()
    c = Scenario.from_toml(scenario_dir(objective='kind = "pmedian"\nstores = 3')).content_hash()
    assert a == b and a != c


def test_missing_column_is_named(tmp_path, scenario_dir, line_areas):
    path = scenario_dir()
    line_areas.drop(columns="population").to_csv(tmp_path / "areas.csv", index=False)
    with pytest.raises(MissingColumnError, match="'population'"):
        Scenario.from_toml(path)


def test_coordinate_aliases_are_accepted(tmp_path, scenario_dir, line_areas):
    path = scenario_dir()
    line_areas.rename(columns={"lon": "longitude", "lat": "latitude"}).to_csv(
        tmp_path / "areas.csv", index=False
    )
    assert len(Scenario.from_toml(path).areas) == 5


@pytest.mark.parametrize(
    "column,value,match",
    [
        ("lon", np.nan, "missing or non-numeric"),
        ("lat", 95.0, "out of range"),
        ("lon", -181.0, "out of range"),
    ],
    ids=["nan-lon", "lat-95", "lon-181"],
)
def test_bad_coordinates_name_the_rows(tmp_path, scenario_dir, line_areas, column, value, match):
    path = scenario_dir()
    bad = line_areas.copy()
    bad.loc[[1, 3], column] = value
    bad.to_csv(tmp_path / "areas.csv", index=False)
    with pytest.raises(InvalidCoordinateError, match=match) as info:
        Scenario.from_toml(path)
    assert "b, d" in str(info.value)


def test_duplicate_ids(tmp_path, scenario_dir, line_areas):
    path = scenario_dir()
    line_areas.assign(id=["a", "b", "a", "d", "d"]).to_csv(tmp_path / "areas.csv", index=False)
    with pytest.raises(DuplicateIdError, match="a, d"):
        Scenario.from_toml(path)


def test_negative_population(tmp_path, scenario_dir, line_areas):
    path = scenario_dir()
    line_areas.assign(population=[1, -5, 3, 4, 5]).to_csv(tmp_path / "areas.csv", index=False)
    with pytest.raises(NegativeValueError, match="population.*b"):
        Scenario.from_toml(path)


def test_more_stores_than_candidates(scenario_dir):
    with pytest.raises(InfeasibleError, match="6 new stores asked but there are only 5 candidate sites"):
        Scenario.from_toml(scenario_dir(objective='kind = "pmedian"\nstores = 6'))


def test_empty_file(tmp_path, scenario_dir):
    path = scenario_dir()
    (tmp_path / "areas.csv").write_text("", encoding="utf-8")
    with pytest.raises(EmptyInputError, match="empty"):
        Scenario.from_toml(path)


def test_header_only_file(tmp_path, scenario_dir):
    path = scenario_dir()
    (tmp_path / "areas.csv").write_text("id,lon,lat,population\n", encoding="utf-8")
    with pytest.raises(EmptyInputError, match="no rows"):
        Scenario.from_toml(path)


def test_unknown_objective(scenario_dir):
    with pytest.raises(UnknownOptionError, match="unknown objective 'pmaximin'"):
        Scenario.from_toml(scenario_dir(objective='kind = "pmaximin"\nstores = 2'))


def test_unreadable_files(tmp_path, scenario_dir):
    with pytest.raises(UnreadableFileError, match="not found"):
        Scenario.from_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="not valid TOML"):
        Scenario.from_toml(bad)
    path = scenario_dir()
    (tmp_path / "areas.csv").unlink()
    with pytest.raises(UnreadableFileError, match="areas file not found"):
        Scenario.from_toml(path)
    (tmp_path / "areas.xlsx").write_bytes(b"\x00\x01")
    path.write_text(path.read_text().replace("areas.csv", "areas.xlsx"))
    with pytest.raises(UnreadableFileError, match="unsupported format"):
        Scenario.from_toml(path)


def test_unknown_crs(tmp_path, scenario_dir):
    path = scenario_dir()
    path.write_text(path.read_text().replace('path = "areas.csv"', 'path = "areas.csv"\ncrs = "EPSG:999999"'))
    with pytest.raises(CRSError, match="unknown CRS"):
        Scenario.from_toml(path)


def test_projected_csv_is_converted(tmp_path, scenario_dir, line_areas):
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, 3857, always_xy=True)
    x, y = tr.transform(line_areas["lon"].to_numpy(), line_areas["lat"].to_numpy() + 10)
    line_areas.assign(lon=x, lat=y).rename(columns={"lon": "x", "lat": "y"}).to_csv(
        tmp_path / "areas.csv", index=False
    )
    path = scenario_dir()
    path.write_text(path.read_text().replace('path = "areas.csv"', 'path = "areas.csv"\ncrs = "EPSG:3857"'))
    scn = Scenario.from_toml(path)
    np.testing.assert_allclose(scn.areas["lon"], line_areas["lon"], atol=1e-9)
    np.testing.assert_allclose(scn.areas["lat"], line_areas["lat"] + 10, atol=1e-9)


def test_geojson_areas(tmp_path, scenario_dir, line_areas):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(
        line_areas.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(line_areas["lon"], line_areas["lat"]),
        crs=4326,
    ).to_crs(3857)
    gdf.to_file(tmp_path / "areas.geojson", driver="GeoJSON")
    path = scenario_dir()
    path.write_text(path.read_text().replace("areas.csv", "areas.geojson"))
    scn = Scenario.from_toml(path)
    np.testing.assert_allclose(scn.areas["lon"], line_areas["lon"], atol=1e-7)


def test_must_open_and_forbidden_checks(scenario_dir):
    with pytest.raises(InputError, match="unknown site id"):
        Scenario.from_toml(scenario_dir('[constraints]\nmust_open = ["zz"]\n'))
    with pytest.raises(InfeasibleError, match="3 must-open sites but only 2 new stores"):
        Scenario.from_toml(scenario_dir('[constraints]\nmust_open = ["a", "b", "c"]\n'))
    with pytest.raises(InfeasibleError, match="both must-open and forbidden"):
        Scenario.from_toml(scenario_dir('[constraints]\nmust_open = ["a"]\nforbidden = ["a"]\n'))
    with pytest.raises(InfeasibleError, match="only 1 candidate sites are not forbidden"):
        Scenario.from_toml(scenario_dir('[constraints]\nforbidden = ["a", "b", "c", "d"]\n'))


def test_region_quota_checks(scenario_dir):
    with pytest.raises(InfeasibleError, match="region 'mid' needs 2 stores but has 1 allowed"):
        Scenario.from_toml(scenario_dir("[constraints]\nregion_min = { mid = 2 }\n"))
    with pytest.raises(InfeasibleError, match="minimums add up to 3"):
        Scenario.from_toml(scenario_dir("[constraints]\nregion_min = { west = 2, east = 1 }\n"))
    with pytest.raises(InputError, match="unknown region 'north'"):
        Scenario.from_toml(scenario_dir("[constraints]\nregion_max = { north = 1 }\n"))


def test_unknown_key_and_bad_values(scenario_dir):
    with pytest.raises(InputError, match="objective.radius_km"):
        Scenario.from_toml(scenario_dir(objective='kind = "coverage"\nstores = 2\nradius_km = -1'))
    with pytest.raises(InputError, match="Extra inputs"):
        Scenario.from_toml(scenario_dir("[options]\nsede = 1\n"))


def test_budget_is_a_knapsack_row_not_a_store_count(scenario_dir):
    # two formats: a budget of 2500 buys two "small" stores (1000 each) but no "big" one
    # (3000); the count is left to the solver, which never overspends
    body = (
        '[[formats]]\nname = "small"\nopening_cost = 1000\nfixed_cost = 10\n'
        '[[formats]]\nname = "big"\nopening_cost = 3000\nfixed_cost = 10\n'
    )
    scn = Scenario.from_toml(scenario_dir(body, objective='kind = "pmedian"\nbudget = 2500'))
    assert scn.n_new_stores() == -1
    from storeplan.pipeline import solve

    plan = solve(scn)
    new = plan.stores[plan.stores["status"] == "new"]
    assert new["opening_cost"].sum() <= 2500 and len(new) == 2


def test_from_frames_validates(line_areas):
    with pytest.raises(DuplicateIdError):
        Scenario.from_frames(pd.concat([line_areas, line_areas]), objective={"stores": 1})
    scn = Scenario.from_frames(line_areas, objective={"kind": "coverage", "stores": 1, "radius_km": 10})
    assert scn.objective.kind == "coverage"
