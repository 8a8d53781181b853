"""Read and validate the tables a scenario names: demand areas, sites, stores, rivals.

Every check happens here, once, at the boundary; code further in trusts the frames.
Errors name the file, the column and (for bad rows) up to five offending ids.
"""

from __future__ import annotations

import os
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
    "AREA_COLUMNS",
]

#: Columns every table of points must have after reading.
POINT_COLUMNS = ("id", "lon", "lat")
#: Required columns of the demand-area table.
AREA_COLUMNS = ("id", "lon", "lat", "population")

_LON_ALIASES = ("lon", "lng", "long", "longitude", "x")
_LAT_ALIASES = ("lat", "latitude", "y")
_SUPPORTED = (".csv", ".geojson", ".json", ".parquet", ".pq", ".gpkg")
_MAX_NAMED = 5


def _name_rows(ids: Iterable) -> str:
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:_MAX_NAMED])
    more = f" and {len(ids) - _MAX_NAMED} more" if len(ids) > _MAX_NAMED else ""
    return f"{shown}{more}"


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
            df = pd.read_csv(p, dtype={"id": str, "parent": str})
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = _read_geo(p, what)
    except (EmptyInputError, CRSError, UnreadableFileError):
        raise
    except pd.errors.EmptyDataError as exc:
        raise EmptyInputError(f"{what} file {p.name} is empty") from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure is an unreadable file
        raise UnreadableFileError(f"cannot read {what} file {p.name}: {exc}") from exc
    df = _normalise_coordinates(df)
    if crs is not None and suffix in (".csv", ".parquet", ".pq"):
        df = _to_wgs84(df, crs, f"{what} file {p.name}")
    if len(df) == 0:
        raise EmptyInputError(f"{what} file {p.name} has no rows")
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
    if not (geom.geom_type == "Point").all():
        geom = geom.representative_point()
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    df["lon"] = geom.x.to_numpy()
    df["lat"] = geom.y.to_numpy()
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
        raise TypeError(f"{what} should be a pandas DataFrame, got {type(df).__name__}")
    df = _normalise_coordinates(df)
    _require(df, required, what)
    if len(df) == 0:
        if allow_empty:
            return df.copy()
        raise EmptyInputError(f"{what} has no rows")
    out = df.copy()
    if out["id"].isna().any():
        rows = np.flatnonzero(out["id"].isna().to_numpy())
        raise InputError(f"{what}: missing id in row(s) {_name_rows(rows)}")
    out["id"] = out["id"].astype(str)
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


def _non_negative(out: pd.DataFrame, column: str, what: str, *, required: bool) -> None:
    if column not in out.columns:
        return
    values = pd.to_numeric(out[column], errors="coerce").astype("float64")
    bad = values.to_numpy() < 0
    if required:
        bad = bad | values.isna().to_numpy()
    if bad.any():
        raise NegativeValueError(
            f"{what}: {column} must be a non-negative number; bad value(s) for id(s) "
            f"{_name_rows(out['id'][bad])}"
        )
    out[column] = values


def validate_areas(df: pd.DataFrame, what: str = "areas") -> pd.DataFrame:
    """Validate a demand-area table (id, lon, lat, population + optional columns).

    Optional columns checked when present: ``income``, ``online_orders`` (>= 0) and
    ``online_share`` (in [0, 1]).
    """
    out = validate_points(df, what, required=AREA_COLUMNS)
    _non_negative(out, "population", what, required=True)
    for c in ("income", "online_orders"):
        _non_negative(out, c, what, required=False)
    if "online_share" in out.columns:
        s = pd.to_numeric(out["online_share"], errors="coerce").astype("float64")
        bad = (s < 0) | (s > 1)
        if bad.any():
            raise NegativeValueError(
                f"{what}: online_share must be in [0, 1]; bad value(s) for id(s) "
                f"{_name_rows(out['id'][bad.to_numpy()])}"
            )
        out["online_share"] = s
    for c in ("parent", "level", "region", "name"):
        if c in out.columns:
            out[c] = out[c].astype("string")
    return out.reset_index(drop=True)


def validate_sites(df: pd.DataFrame, what: str = "sites") -> pd.DataFrame:
    """Validate a candidate-site table (id, lon, lat; optional region, must_open, forbidden)."""
    out = validate_points(df, what)
    for c in ("must_open", "forbidden"):
        if c in out.columns:
            out[c] = out[c].fillna(False).astype(bool)
        else:
            out[c] = False
    if "region" in out.columns:
        out["region"] = out["region"].astype("string")
    return out.reset_index(drop=True)


def validate_stores(df: pd.DataFrame | None, what: str = "existing stores") -> pd.DataFrame:
    """Validate our existing stores (id, lon, lat; optional format, annual_sales). Empty is fine."""
    if df is None:
        return pd.DataFrame({"id": pd.Series(dtype=str), "lon": [], "lat": []})
    out = validate_points(df, what, allow_empty=True)
    _non_negative(out, "annual_sales", what, required=False)
    return out.reset_index(drop=True)


def validate_rivals(df: pd.DataFrame | None, what: str = "rivals") -> pd.DataFrame:
    """Validate rival stores (id, lon, lat; optional brand, attractiveness). Empty is fine."""
    if df is None:
        return pd.DataFrame({"id": pd.Series(dtype=str), "brand": pd.Series(dtype=str), "lon": [], "lat": []})
    out = validate_points(df, what, allow_empty=True)
    if "brand" not in out.columns:
        out["brand"] = "rival"
    _non_negative(out, "attractiveness", what, required=False)
    return out.reset_index(drop=True)
