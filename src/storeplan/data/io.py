"""Read and validate the tables a scenario names: demand areas, sites, stores, rivals.

Every check happens here, once, at the boundary; code further in trusts the frames.
Errors name the file, the column and (for bad rows) up to five offending ids.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import (
    CRSError,
    DuplicateIdError,
    EmptyInputError,
    InputError,
    InvalidCoordinateError,
    MissingColumnError,
    NegativeValueError,
    UnreadableFileError,
)

__all__ = [
    "read_table",
    "validate_points",
    "validate_areas",
    "validate_sites",
    "validate_stores",
    "validate_rivals",
    "from_geodataframe",
    "AREA_COLUMNS",
    "TEXT_COLUMNS",
]

#: Columns every table of points must have after reading.
POINT_COLUMNS = ("id", "lon", "lat")
#: Required columns of the demand-area table.
AREA_COLUMNS = ("id", "lon", "lat", "population")

_LON_ALIASES = ("lon", "lng", "long", "longitude", "x")
_LAT_ALIASES = ("lat", "latitude", "y")
_SUPPORTED = (".csv", ".geojson", ".json", ".parquet", ".pq", ".gpkg")
_MAX_NAMED = 5
#: Columns read as text exactly as written: ``NA`` (Namibia), ``null``, ``None``, ``nan``
#: and ``N/A`` are ids and names, not missing values. Only an empty cell is missing.
TEXT_COLUMNS = (
    "id",
    "name",
    "parent",
    "brand",
    "region",
    "level",
    "format",
    "country",
    "province",
    "city",
    "county",
    "township",
)
#: Largest population of one area (people); more is a data error (the world has 8e9).
MAX_POPULATION = 1e10
#: Largest money amount or count accepted in a data column (currency or units).
MAX_AMOUNT = 1e15
# what pandas treats as missing in the numeric columns (its default list)
_NUMERIC_NA = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


def _name_rows(ids: Iterable) -> str:
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:_MAX_NAMED])
    more = f" and {len(ids) - _MAX_NAMED} more" if len(ids) > _MAX_NAMED else ""
    return f"{shown}{more}"


def _where_rows(df: pd.DataFrame, mask: np.ndarray) -> str:
    """``line(s) 3, 7`` (a file's own 1-based line numbers, header counted), ``feature(s)
    1, 2`` (a geometry or Parquet file's 1-based rows) or ``row(s) 0, 1`` (the index
    labels of a frame passed in by the caller)."""
    labels = df.index[np.asarray(mask, dtype=bool)]
    kind = {"line": "line(s)", "feature": "feature(s)", "record": "row(s)"}.get(str(df.index.name), "row(s)")
    if df.index.name not in ("line", "feature", "record"):
        kind = "row(s) at index"
    return f"{kind} {_name_rows(labels)}"


def read_table(path: str | os.PathLike, *, what: str = "table", crs: str | None = None) -> pd.DataFrame:
    """Read a CSV, GeoJSON, GeoPackage or Parquet file into a DataFrame with ``lon``/``lat``.

    Parameters
    ----------
    path : path-like
        The file. The format follows the suffix.
    what : str
        What the table holds ("areas", "rivals", ...), used in error messages.
    crs : str, optional
        CRS of ``x``/``y`` (or lon/lat) columns in a CSV/Parquet file, e.g. ``"EPSG:3857"``;
        default WGS84 degrees. Geometry files carry their own CRS; points are converted
        to WGS84 and polygons are replaced by a representative point.

    Raises
    ------
    UnreadableFileError
        The file is missing, unreadable or of an unsupported format.
    CRSError
        The CRS is unknown or cannot be converted to WGS84.
    EmptyInputError
        The file holds no rows.
    """
    p = Path(path)
    if not p.is_file():
        raise UnreadableFileError(f"{what} file not found: {p}")
    suffix = p.suffix.lower()
    if suffix not in _SUPPORTED:
        raise UnreadableFileError(
            f"{what} file {p.name}: unsupported format {suffix!r} (use one of {', '.join(_SUPPORTED)})"
        )
    try:
        if suffix == ".csv":
            df = _read_csv(p)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
            df.index = pd.RangeIndex(1, len(df) + 1, name="record")
        else:
            df = _read_geo(p, what)
            df.index = pd.RangeIndex(1, len(df) + 1, name="feature")
    except UnreadableFileError as exc:
        raise UnreadableFileError(f"{what} file {p.name}: {exc}") from None
    except (EmptyInputError, CRSError, InputError):
        raise
    except pd.errors.EmptyDataError as exc:
        raise EmptyInputError(f"{what} file {p.name} is empty") from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure is an unreadable file
        raise UnreadableFileError(f"cannot read {what} file {p.name}: {_one_line(exc)}") from exc
    if not all(isinstance(c, str) for c in df.columns):
        raise UnreadableFileError(f"cannot read {what} file {p.name}: column names must be text")
    dup_cols = list(pd.unique(pd.Index(df.columns)[pd.Index(df.columns).duplicated()]))
    if dup_cols:
        raise UnreadableFileError(f"{what} file {p.name}: duplicate column(s) {_name_rows(dup_cols)}")
    df = _normalise_coordinates(df)
    if crs is not None and suffix in (".csv", ".parquet", ".pq"):
        df = _to_wgs84(df, crs, f"{what} file {p.name}")
    if len(df) == 0:
        raise EmptyInputError(f"{what} file {p.name} has no rows")
    return df


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def _read_csv(p: Path) -> pd.DataFrame:
    """Read a CSV with text columns (:data:`TEXT_COLUMNS`) kept as written and the
    file's own line numbers (1-based, header = line 1) as the index, named ``line``."""
    import csv

    with open(p, encoding="utf-8", newline="") as fh:
        first = next(csv.reader(fh), [])
    counts = Counter(first)
    dup = [c for c in dict.fromkeys(first) if counts[c] > 1]
    if dup:
        raise UnreadableFileError(f"duplicate column(s) {_name_rows(dict.fromkeys(dup))} in the header")
    header = pd.read_csv(p, nrows=0, encoding_errors="strict")
    cols = [str(c) for c in header.columns]
    text = [c for c in cols if c.lower() in TEXT_COLUMNS]
    df = pd.read_csv(
        p,
        dtype=dict.fromkeys(text, str),
        keep_default_na=False,
        na_values={c: _NUMERIC_NA for c in cols if c not in text},
        skip_blank_lines=False,
    )
    # line numbers: header is line 1; a quoted field spanning lines shifts later rows,
    # which we accept (rare in these tables)
    df.index = pd.RangeIndex(2, len(df) + 2, name="line")
    # drop wholly empty lines (trailing newlines) but keep the numbering of the others
    if len(df):
        blank = df.apply(lambda col: col.isna() | (col.astype(str) == ""), axis=0).all(axis=1)
        df = df.loc[~blank.to_numpy()]
    return df


def _read_geo(p: Path, what: str) -> pd.DataFrame:
    import geopandas as gpd

    gdf = gpd.read_file(p)
    if len(gdf) == 0:
        raise EmptyInputError(f"{what} file {p.name} has no features")
    if gdf.crs is None:
        raise CRSError(f"{what} file {p.name} has no CRS; set one (e.g. EPSG:4326)")
    try:
        gdf = gdf.to_crs(4326)
    except Exception as exc:  # noqa: BLE001
        raise CRSError(f"{what} file {p.name}: cannot convert CRS {gdf.crs} to WGS84: {exc}") from exc
    geom = gdf.geometry
    if geom.isna().any() or geom.is_empty.any():
        bad = (geom.isna() | geom.is_empty).to_numpy()
        raise InputError(
            f"{what} file {p.name}: empty or missing geometry in feature(s) "
            f"{_name_rows(np.flatnonzero(bad) + 1)}"
        )
    if not (geom.geom_type == "Point").all():
        geom = geom.representative_point()
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    df["lon"] = geom.x.to_numpy()
    df["lat"] = geom.y.to_numpy()
    return df


def from_geodataframe(gdf, what: str) -> pd.DataFrame:
    """A plain frame with ``lon``/``lat`` (WGS84 degrees) from a GeoDataFrame of points.

    Raises
    ------
    CRSError
        The frame has no CRS, or it cannot be converted to WGS84.
    InputError
        A geometry is missing, empty or not a point.
    """
    if gdf.crs is None:
        raise CRSError(f"{what}: the GeoDataFrame has no CRS; set one, e.g. gdf.set_crs('EPSG:4326')")
    geom = gdf.geometry
    missing = (geom.isna() | geom.is_empty).to_numpy()
    if missing.any():
        raise InputError(f"{what}: empty or missing geometry in {_where_rows(gdf, missing)}")
    not_point = (geom.geom_type != "Point").to_numpy()
    if not_point.any():
        kinds = ", ".join(sorted(set(geom.geom_type[not_point])))
        raise InputError(
            f"{what}: geometries must be points, got {kinds} in {_where_rows(gdf, not_point)} "
            "(use e.g. gdf.representative_point() for polygons)"
        )
    try:
        pts = gdf.to_crs(4326).geometry
    except Exception as exc:  # noqa: BLE001
        raise CRSError(f"{what}: cannot convert CRS {gdf.crs} to WGS84: {_one_line(exc)}") from exc
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    df = df.drop(columns=[c for c in ("lon", "lat") if c in df.columns])
    df["lon"] = pts.x.to_numpy()
    df["lat"] = pts.y.to_numpy()
    return df


def _normalise_coordinates(df: pd.DataFrame) -> pd.DataFrame:
    """Rename common aliases (longitude, lng, x / latitude, y) to lon / lat."""
    cols = {c.lower(): c for c in df.columns}
    rename = {}
    for target, aliases in (("lon", _LON_ALIASES), ("lat", _LAT_ALIASES)):
        if target in df.columns:
            continue
        for a in aliases:
            if a in cols:
                rename[cols[a]] = target
                break
    return df.rename(columns=rename) if rename else df


def _to_wgs84(df: pd.DataFrame, crs: str, where: str) -> pd.DataFrame:
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        src = CRS.from_user_input(crs)
    except ProjCRSError as exc:
        raise CRSError(f"{where}: unknown CRS {crs!r}") from exc
    if src.equals(CRS.from_epsg(4326)):
        return df
    if "lon" not in df.columns or "lat" not in df.columns:
        return df
    tr = Transformer.from_crs(src, 4326, always_xy=True)
    x = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=float)
    lon, lat = tr.transform(x, y)
    out = df.copy()
    out["lon"], out["lat"] = lon, lat
    return out


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns[:12]))
        raise MissingColumnError(
            f"{what}: missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing)} (columns present: {have})"
        )


def validate_points(
    df: pd.DataFrame, what: str, *, required: Sequence[str] = POINT_COLUMNS, allow_empty: bool = False
) -> pd.DataFrame:
    """Check ids and coordinates of a point table and return a clean copy.

    ``id`` becomes a string column; ``lon``/``lat`` become float64 degrees.

    Raises
    ------
    MissingColumnError, EmptyInputError, DuplicateIdError, InvalidCoordinateError
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{what} should be a pandas DataFrame, got {type(df).__name__}")
    if _is_geo(df):
        df = from_geodataframe(df, what)
    if not all(isinstance(c, str) for c in df.columns):
        raise InputError(f"{what}: column names must be text, got {list(df.columns)[:6]}")
    if df.columns.duplicated().any():
        raise InputError(
            f"{what}: duplicate column(s) {_name_rows(pd.unique(df.columns[df.columns.duplicated()]))}"
        )
    df = _normalise_coordinates(df)
    _require(df, required, what)
    if len(df) == 0:
        if allow_empty:
            return df.copy()
        raise EmptyInputError(f"{what} has no rows")
    out = df.copy()
    ids = out["id"]
    missing = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        raise InputError(f"{what}: missing id in {_where_rows(out, missing)}")
    out["id"] = ids.map(_id_text).astype(object)
    dup = out["id"].duplicated(keep=False)
    if dup.any():
        ids = pd.unique(out.loc[dup, "id"])
        raise DuplicateIdError(f"{what}: duplicate id(s) {_name_rows(ids)}")
    for c in ("lon", "lat"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    lon, lat = out["lon"].to_numpy(), out["lat"].to_numpy()
    bad_nan = ~np.isfinite(lon) | ~np.isfinite(lat)
    if bad_nan.any():
        raise InvalidCoordinateError(
            f"{what}: missing or non-numeric lon/lat for id(s) {_name_rows(out['id'][bad_nan])}"
        )
    bad_range = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad_range.any():
        raise InvalidCoordinateError(
            f"{what}: lon/lat out of range (lon in [-180, 180], lat in [-90, 90]) for id(s) "
            f"{_name_rows(out['id'][bad_range])}"
        )
    return out


def _id_text(v) -> str:
    """An id as text: ``7`` and ``7.0`` (a float column of whole numbers) both give ``"7"``."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _is_geo(df: pd.DataFrame) -> bool:
    try:
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a core dependency
        return False
    return isinstance(df, gpd.GeoDataFrame)


def _non_negative(
    out: pd.DataFrame, column: str, what: str, *, required: bool, maximum: float = MAX_AMOUNT
) -> None:
    """Check ``column`` holds finite numbers in ``[0, maximum]`` (NaN allowed unless ``required``)."""
    if column not in out.columns:
        return
    raw = out[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    v = values.to_numpy()
    text = raw.notna().to_numpy() & np.isnan(v)  # a cell that is not a number
    if text.any():
        raise NegativeValueError(
            f"{what}: {column} must be a number; {raw[text].astype(str).iloc[0]!r} for id(s) "
            f"{_name_rows(out['id'][text])}"
        )
    bad = v < 0
    if required:
        bad = bad | np.isnan(v)
    if bad.any():
        raise NegativeValueError(
            f"{what}: {column} must be a non-negative number; bad value(s) for id(s) "
            f"{_name_rows(out['id'][bad])}"
        )
    huge = np.isinf(v) | (v > maximum)
    if huge.any():
        raise NegativeValueError(
            f"{what}: {column} must be a finite number of at most {maximum:.0e}; "
            f"{v[huge][0]:g} for id(s) {_name_rows(out['id'][huge])}"
        )
    out[column] = values


def validate_areas(df: pd.DataFrame, what: str = "areas") -> pd.DataFrame:
    """Validate a demand-area table (id, lon, lat, population + optional columns).

    Optional columns checked when present: ``income``, ``online_orders`` (>= 0) and
    ``online_share`` (in [0, 1]).
    """
    out = validate_points(df, what, required=AREA_COLUMNS)
    _non_negative(out, "population", what, required=True, maximum=MAX_POPULATION)
    if not (out["population"].to_numpy() > 0).any():
        raise InputError(f"{what}: every population is 0; there is no demand to plan for")
    for c in ("income", "online_orders", "annual_sales"):
        _non_negative(out, c, what, required=False)
    if "online_share" in out.columns:
        s = pd.to_numeric(out["online_share"], errors="coerce").astype("float64")
        bad = (s < 0) | (s > 1) | (out["online_share"].notna() & s.isna())
        if bad.any():
            raise NegativeValueError(
                f"{what}: online_share must be in [0, 1]; bad value(s) for id(s) "
                f"{_name_rows(out['id'][bad.to_numpy()])}"
            )
        out["online_share"] = s
    _text_columns(out)
    return out.reset_index(drop=True)


def _text_columns(out: pd.DataFrame) -> None:
    for c in out.columns:
        if c.lower() in TEXT_COLUMNS and c != "id":
            out[c] = out[c].astype("string")


def validate_sites(df: pd.DataFrame, what: str = "sites") -> pd.DataFrame:
    """Validate a candidate-site table (id, lon, lat; optional region, must_open, forbidden)."""
    out = validate_points(df, what)
    for c in ("must_open", "forbidden"):
        if c in out.columns:
            out[c] = _flags(out, c, what)
        else:
            out[c] = False
    _text_columns(out)
    return out.reset_index(drop=True)


_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "", "0.0", "nan", "none"}


def _flags(out: pd.DataFrame, column: str, what: str) -> pd.Series:
    """A yes/no column (``true/false``, ``1/0``, ``yes/no``; empty = no) as bool."""
    col = out[column]
    if col.dtype == bool:
        return col
    text = col.map(
        lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower()
    )
    bad = ~text.isin(_TRUE | _FALSE).to_numpy()
    if bad.any():
        raise InputError(
            f"{what}: {column} must be true/false (or 1/0, yes/no); "
            f"{str(col[bad].iloc[0])!r} for id(s) {_name_rows(out['id'][bad])}"
        )
    return text.isin(_TRUE).astype(bool)


def validate_stores(df: pd.DataFrame | None, what: str = "existing stores") -> pd.DataFrame:
    """Validate our existing stores (id, lon, lat; optional format, annual_sales). Empty is fine."""
    if df is None:
        return pd.DataFrame({"id": pd.Series(dtype=str), "lon": [], "lat": []})
    out = validate_points(df, what, allow_empty=True)
    _non_negative(out, "annual_sales", what, required=False)
    _text_columns(out)
    return out.reset_index(drop=True)


def validate_rivals(df: pd.DataFrame | None, what: str = "rivals") -> pd.DataFrame:
    """Validate rival stores (id, lon, lat; optional brand, attractiveness). Empty is fine."""
    if df is None:
        return pd.DataFrame({"id": pd.Series(dtype=str), "brand": pd.Series(dtype=str), "lon": [], "lat": []})
    out = validate_points(df, what, allow_empty=True)
    if "brand" not in out.columns:
        out["brand"] = "rival"
    elif len(out):
        brand = out["brand"]
        empty = brand.isna().to_numpy() | (brand.astype(str).str.strip() == "").to_numpy()
        if empty.any():
            raise InputError(
                f"{what}: empty brand for id(s) {_name_rows(out['id'][empty])} "
                "(name the rival brand, or drop the brand column to treat all as one rival)"
            )
    _non_negative(out, "attractiveness", what, required=False)
    _text_columns(out)
    return out.reset_index(drop=True)
