"""Valid edge cases, warnings, GeoDataFrames in, the output-set swap and fuzzing.

* ids such as ``NA`` (Namibia), ``null``, ``None``, ``nan``, ``N/A`` are ids, and row
  numbers in messages are the file's own line numbers;
* accepted-but-suspicious inputs give one warning;
* ``Scenario.from_frames`` takes GeoDataFrames of points in any CRS;
* a scenario that ``validate`` accepts never fails ``run`` on an input check
  (Hypothesis over generated scenarios);
* every reader and the scenario schema fail only with a ``StoreplanError`` on random
  bytes, random columns and random TOML values.
"""

from __future__ import annotations

import contextlib
import json
import math
import textwrap
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeplan import Scenario, solve
from storeplan._io import MANIFEST, output_set
from storeplan.data.io import read_table
from storeplan.errors import (
    CRSError,
    InfeasibleError,
    InputError,
    InputWarning,
    OutputFolderError,
    StoreplanError,
)

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _write(folder: Path, areas: str, body: str) -> Path:
    (folder / "areas.csv").write_text(areas, encoding="utf-8")
    path = folder / "scenario.toml"
    path.write_text('name = "t"\n[areas]\npath = "areas.csv"\n' + textwrap.dedent(body), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- ids as text


def test_na_like_ids_are_ids(tmp_path):
    areas = (
        "id,name,lon,lat,population\nNA,Namibia,17,-22,10\nnull,null,18,-22,20\n"
        "None,None,19,-22,30\nnan,nan,20,-22,40\nN/A,N/A,21,-22,50\n"
    )
    scn = Scenario.from_toml(_write(tmp_path, areas, '[objective]\nkind = "pmedian"\nstores = 2\n'))
    assert scn.areas["id"].tolist() == ["NA", "null", "None", "nan", "N/A"]
    assert scn.areas["name"].tolist() == ["Namibia", "null", "None", "nan", "N/A"]
    plan = solve(scn)
    assert set(plan.stores["id"]) <= {"NA", "null", "None", "nan", "N/A"}


def test_missing_population_is_still_missing(tmp_path):
    areas = "id,lon,lat,population\na,0,0,10\nb,1,0,NA\n"
    with pytest.raises(InputError, match="population.*b"):
        Scenario.from_toml(_write(tmp_path, areas, '[objective]\nkind = "pmedian"\nstores = 1\n'))


def test_line_numbers_are_the_files_own(tmp_path):
    areas = "id,lon,lat,population\na,0,0,10\n\nb,1,0,20\n,2,0,30\n"
    with pytest.raises(InputError, match=r"missing id in line\(s\) 5$"):
        Scenario.from_toml(_write(tmp_path, areas, '[objective]\nkind = "pmedian"\nstores = 1\n'))


# ----------------------------------------------------------------------------- warnings


def _warnings_of(path: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        Scenario.from_toml(path)
    return [str(w.message) for w in got if issubclass(w.category, InputWarning)]


AREAS = "id,lon,lat,population\n" + "".join(f"a{k},{0.1 * k},0,{10 + k}\n" for k in range(10))


def test_rollout_caps_below_store_count_warn(tmp_path):
    body = '[objective]\nkind = "pmedian"\nstores = 6\n[rollout]\nyears = 3\nstores_per_year = [1, 1, 1]\n'
    (msg,) = _warnings_of(_write(tmp_path, AREAS, body))
    assert "add up to 3" in msg and "6" in msg


def test_far_existing_store_warns(tmp_path):
    (tmp_path / "stores.csv").write_text("id,lon,lat\nfar,120,30\n")
    body = '[existing]\npath = "stores.csv"\n[objective]\nkind = "pmedian"\nstores = 2\n'
    (msg,) = _warnings_of(_write(tmp_path, AREAS, body))
    assert "far" in msg and "km from every demand area" in msg


def test_greedy_spacing_warning_names_the_spacing(tmp_path):
    # a line of 10 sites 11.1 km apart: 5 stores 20 km apart fit (every other site)
    body = '[objective]\nkind = "pmedian"\nstores = 5\n[constraints]\nmin_spacing_km = 20\n'
    assert _warnings_of(_write(tmp_path, AREAS, body)) == []
    body = body.replace("stores = 5", "stores = 6")  # 6 do not; the cube bound cannot tell
    got = _warnings_of(_write(tmp_path, AREAS, body))
    assert not got or "min_spacing_km" in got[0]


def test_packing_bound_is_valid_against_brute_force():
    """The cube bound never claims fewer spaced stores than really fit (random points)."""
    from itertools import combinations

    from storeplan.geo import pairs_within
    from storeplan.scenario import _packing_bound

    rng = np.random.default_rng(3)
    for _ in range(30):
        n = 9
        lon, lat = rng.uniform(0, 0.5, n), rng.uniform(0, 0.5, n)
        d = float(rng.uniform(5, 40))
        pairs = {tuple(p) for p in pairs_within(lon, lat, d)}
        best = max(
            k
            for k in range(1, n + 1)
            for c in combinations(range(n), k)
            if not any((a, b) in pairs for a, b in combinations(c, 2))
        )
        assert _packing_bound(lon, lat, np.ones(n, bool), d) >= best


# ----------------------------------------------------------------------------- GeoDataFrames


def test_from_frames_reprojects_geodataframes():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    pts = [Point(0.0, 0.0), Point(1.0, 0.0), Point(2.0, 0.5)]
    wgs = gpd.GeoDataFrame({"id": ["a", "b", "c"], "population": [1.0, 2.0, 3.0]}, geometry=pts, crs=4326)
    merc = wgs.to_crs(3857)
    scn = Scenario.from_frames(merc, objective={"kind": "pmedian", "stores": 1})
    assert np.allclose(scn.areas["lon"], [0.0, 1.0, 2.0]) and np.allclose(scn.areas["lat"], [0.0, 0.0, 0.5])
    with pytest.raises(CRSError, match="no CRS"):
        Scenario.from_frames(wgs.set_crs(None, allow_override=True), objective={"stores": 1})
    poly = wgs.copy()
    poly.geometry = merc.buffer(1000.0).to_crs(4326)
    with pytest.raises(InputError, match="must be points, got Polygon"):
        Scenario.from_frames(poly, objective={"stores": 1})


# ----------------------------------------------------------------------------- output sets


def test_output_set_replaces_an_older_run_as_a_whole(tmp_path):
    out = tmp_path / "out"
    with output_set(out) as tmp:
        (tmp / "map.html").write_text("old map")
        (tmp / "plan.csv").write_text("old")
    with output_set(out) as tmp:
        (tmp / "plan.csv").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "plan.csv"]  # no stale map.html
    assert (out / "plan.csv").read_text() == "new"
    assert json.loads((out / MANIFEST).read_text())["files"] == ["plan.csv"]
    with pytest.raises(RuntimeError), output_set(out) as tmp:
        (tmp / "plan.csv").write_text("half")
        raise RuntimeError("boom")
    assert (out / "plan.csv").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_output_set_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("keep")
    with pytest.raises(OutputFolderError, match="thesis.tex"), output_set(tmp_path / "docs"):
        pass
    assert (tmp_path / "docs" / "thesis.tex").read_text() == "keep"


# ----------------------------------------------------------------------------- validate => run


@st.composite
def scenarios(draw):
    n = draw(st.integers(3, 12))
    lon = draw(st.lists(st.floats(0, 2), min_size=n, max_size=n))
    lat = draw(st.lists(st.floats(0, 2), min_size=n, max_size=n))
    pop = draw(st.lists(st.sampled_from([0.0, 1.0, 50.0, 1e6]), min_size=n, max_size=n))
    region = draw(st.lists(st.sampled_from(["w", "e"]), min_size=n, max_size=n))
    areas = pd.DataFrame(
        {"id": [f"a{k}" for k in range(n)], "lon": lon, "lat": lat, "population": pop, "region": region}
    )
    kind = draw(st.sampled_from(["pmedian", "coverage", "fixed_cost", "revenue"]))
    obj = {
        "kind": kind,
        "stores": draw(st.integers(0, n + 1)),
        "radius_km": draw(st.sampled_from([5.0, 50.0])),
    }
    con: dict = {"min_spacing_km": draw(st.sampled_from([0.0, 10.0, 60.0]))}
    ids = areas["id"].tolist()
    con["must_open"] = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
    con["forbidden"] = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
    if kind != "revenue" and draw(st.booleans()):
        con["region_max"] = {"w": draw(st.integers(0, 3))}
    existing = None
    if draw(st.booleans()):
        existing = pd.DataFrame({"id": ["s1"], "lon": [draw(st.floats(0, 2))], "lat": [1.0]})
    rollout = None
    if draw(st.booleans()):
        rollout = {"years": 2, "stores_per_year": [draw(st.integers(0, 4)), draw(st.integers(0, 4))]}
        if draw(st.booleans()):
            rollout["budget_per_year"] = [draw(st.sampled_from([1e6, 5e6, 1e8]))] * 2
    return areas, existing, obj, con, rollout


@FAST
@given(scenarios())
def test_validate_accepts_then_run_never_fails_on_input(case):
    areas, existing, obj, con, rollout = case
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scn = Scenario.from_frames(
                areas,
                existing=existing,
                objective=obj,
                constraints=con,
                rollout=rollout,
                options={"time_limit": 2},
            )
    except StoreplanError:
        return  # validate rejected it: fine
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            solve(scn)
    except InfeasibleError as exc:
        # the solver may prove infeasibility validate cannot see (quotas x spacing);
        # it must not be an input check that validate could have made
        assert "must-open" not in str(exc) and "unknown" not in str(exc), exc
    except InputError as exc:
        pytest.fail(f"validate accepted a scenario that run rejects on input: {exc}")


# ----------------------------------------------------------------------------- fuzzing


@FAST
@given(
    data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".geojson", ".parquet", ".gpkg", ".json"])
)
def test_readers_fail_only_with_storeplan_errors(tmp_path, data, suffix):
    path = tmp_path / f"t{suffix}"
    path.write_bytes(data)
    with contextlib.suppress(StoreplanError):
        read_table(path, what="areas")


_cell = st.one_of(
    st.none(),
    st.sampled_from(["", "NA", "inf", "-inf", "nan", "1e308", "[/b]", "%s", "{0}", "x,y", '"']),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.text(max_size=5),
)
_columns = st.lists(
    st.sampled_from(
        [
            "id",
            "lon",
            "lat",
            "population",
            "name",
            "region",
            "income",
            "online_share",
            "must_open",
            "x",
            "id ",
        ]
    ),
    min_size=1,
    max_size=6,
)


@FAST
@given(columns=_columns, rows=st.lists(st.lists(_cell, min_size=6, max_size=6), max_size=5))
def test_area_tables_fail_only_with_storeplan_errors(tmp_path, columns, rows):
    frame = (
        pd.DataFrame([r[: len(columns)] for r in rows], columns=columns)
        if rows
        else pd.DataFrame(columns=columns)
    )
    path = tmp_path / "areas.csv"
    frame.to_csv(path, index=False)
    for source in ("file", "frame"):
        try:
            table = read_table(path, what="areas") if source == "file" else frame
            Scenario.from_frames(table, objective={"kind": "pmedian", "stores": 1})
        except StoreplanError:
            pass


_toml_value = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(10**19), 10**19),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_sections = {
    "objective": ["kind", "stores", "budget", "radius_km", "format", "cost_per_km"],
    "constraints": ["min_spacing_km", "must_open", "forbidden", "region_min", "region_max"],
    "options": ["seed", "time_limit", "neighbours", "max_km", "dense_pairs"],
    "rollout": [
        "years",
        "stores_per_year",
        "budget_per_year",
        "target_revenue",
        "must_open_year",
        "discount_rate",
    ],
    "market": ["decay", "outside", "outside_per_100k", "min_km"],
    "sites": ["from", "path", "min_population"],
    "formats": ["name", "opening_cost", "capacity"],
}


@FAST
@given(
    section=st.sampled_from(sorted(_sections)),
    data=st.data(),
)
def test_scenario_schema_fails_only_with_storeplan_errors(tmp_path, section, data):
    key = data.draw(st.sampled_from(_sections[section]))
    value = data.draw(_toml_value)
    (tmp_path / "areas.csv").write_text(AREAS)
    raw = {"name": "fuzz", "areas": {"path": "areas.csv"}, "objective": {"kind": "pmedian", "stores": 2}}
    if section == "formats":
        raw["formats"] = [{"name": "standard", key: value}]
    else:
        raw.setdefault(section, {})[key] = value
    try:
        spec = Scenario.spec_from_dict(raw)
        Scenario.from_spec(spec, base_dir=tmp_path)
    except StoreplanError:
        pass


def test_toml_infinities_are_named(tmp_path):
    raw = tomllib.loads("[objective]\nbudget = inf\n")
    assert math.isinf(raw["objective"]["budget"])
    with pytest.raises(InputError, match="objective.budget: must be a finite number"):
        Scenario.spec_from_dict({"areas": {"path": "a.csv"}, **raw})
