"""GeoPandas in and out (issue 9 item 7): every table of ``Scenario.from_frames`` may be
a GeoDataFrame of points in any CRS; ``plan.to_geodataframe()`` and the GeoPackage give
the plan's stores and assignment back as WGS84 points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storeplan import Scenario
from storeplan.errors import CRSError, InputError
from storeplan.testing import fake_plan

gpd = pytest.importorskip("geopandas")


def _points(df: pd.DataFrame, crs: int | str) -> gpd.GeoDataFrame:
    """``df`` (with lon/lat) as WGS84 points reprojected to ``crs``, without lon/lat."""
    geometry = gpd.points_from_xy(df["lon"], df["lat"])
    return gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=geometry, crs=4326).to_crs(crs)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 12
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n)],
            "lon": rng.uniform(120.0, 120.6, n),
            "lat": rng.uniform(30.0, 30.5, n),
            "population": rng.uniform(1e3, 1e5, n).round(),
        }
    )
    sites = areas[["id", "lon", "lat"]].head(6).assign(id=lambda d: "s" + d["id"])
    existing = pd.DataFrame({"id": ["e1"], "lon": [120.3], "lat": [30.2]})
    rivals = pd.DataFrame(
        {"id": ["r1", "r2"], "lon": [120.1, 120.5], "lat": [30.1, 30.4], "brand": ["x", "y"]}
    )
    return {"areas": areas, "sites": sites, "existing": existing, "rivals": rivals}


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:32651", "EPSG:4490"], ids=["merc", "utm", "cgcs"])
def test_from_frames_takes_geodataframes_in_any_crs(frames, crs):
    plain = Scenario.from_frames(
        frames["areas"],
        sites=frames["sites"],
        existing=frames["existing"],
        rivals=frames["rivals"],
        objective={"kind": "pmedian", "stores": 2},
    )
    geo = Scenario.from_frames(
        _points(frames["areas"], crs),
        sites=_points(frames["sites"], crs),
        existing=_points(frames["existing"], crs),
        rivals=_points(frames["rivals"], crs),
        objective={"kind": "pmedian", "stores": 2},
    )
    for table in ("areas", "sites", "existing", "rivals"):
        got, want = getattr(geo, table), getattr(plain, table)
        assert got["id"].tolist() == want["id"].tolist(), table
        np.testing.assert_allclose(got["lon"], want["lon"], atol=1e-7, err_msg=table)
        np.testing.assert_allclose(got["lat"], want["lat"], atol=1e-7, err_msg=table)
    np.testing.assert_allclose(geo.areas["population"], plain.areas["population"])


def test_from_frames_names_the_table_with_a_bad_geometry(frames):
    rivals = _points(frames["rivals"], 3857)
    with pytest.raises(CRSError, match="no CRS"):
        Scenario.from_frames(frames["areas"], rivals=rivals.set_crs(None, allow_override=True))
    lines = rivals.copy()
    lines.geometry = rivals.buffer(100.0)
    with pytest.raises(InputError, match="must be points"):
        Scenario.from_frames(frames["areas"], rivals=lines)


@pytest.fixture(scope="module")
def plan():
    return fake_plan(n_areas=60, n_stores=6, n_rivals=10, seed=2)


def test_to_geodataframe_stores_and_assignment(plan):
    stores = plan.to_geodataframe()
    assert isinstance(stores, gpd.GeoDataFrame) and stores.crs.to_epsg() == 4326
    assert stores["id"].tolist() == plan.stores["id"].tolist()
    np.testing.assert_allclose(stores.geometry.x, plan.stores["lon"])
    np.testing.assert_allclose(stores.geometry.y, plan.stores["lat"])
    assert set(stores.geom_type) == {"Point"}
    pd.testing.assert_frame_equal(pd.DataFrame(stores.drop(columns="geometry")), plan.stores)

    assign = plan.to_geodataframe("assignment")
    assert assign.crs.to_epsg() == 4326 and len(assign) == len(plan.assignment)
    # each assignment row sits on its area's coordinates
    xy = plan.areas.set_index(plan.areas["id"].astype(str))
    key = plan.assignment["area_id"].astype(str)
    np.testing.assert_allclose(assign.geometry.x, xy.loc[key, "lon"].to_numpy(float))
    np.testing.assert_allclose(assign.geometry.y, xy.loc[key, "lat"].to_numpy(float))
    with pytest.raises(InputError, match="not 'stores' or 'assignment'"):
        plan.to_geodataframe("rivals")  # type: ignore[arg-type]


def test_save_geopackage_round_trip(plan, tmp_path):
    written = plan.save(tmp_path, geopackage=True)
    assert "plan.gpkg" in written
    for layer in ("stores", "assignment"):
        back = gpd.read_file(tmp_path / "plan.gpkg", layer=layer)
        mine = plan.to_geodataframe(layer)
        assert back.crs.to_epsg() == 4326 and len(back) == len(mine)
        np.testing.assert_allclose(back.geometry.x, mine.geometry.x)
        np.testing.assert_allclose(back.geometry.y, mine.geometry.y)
        key = "id" if layer == "stores" else "area_id"
        assert back[key].astype(str).tolist() == mine[key].astype(str).tolist()
