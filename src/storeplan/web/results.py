"""The one place where the web app reads a :class:`~storeplan.Plan`.

Everything the page shows (headline numbers, the year table, the map layers, a store's
card, a comparison row) is read from the plan here and nowhere else, so when the plan's
fields change only this module follows. Numbers are not recomputed: they are the plan's
own (``summary.json`` / ``plan.csv`` / ``forecast_years.csv`` carry the same values),
rounded only for display in the browser.

Payloads are compact and columnar (one array per field, only the fields shown), so the
default plan's map (41,719 areas, 1,000 stores, 66,628 rival rows) is 1.73 MB
(dataset version 3; 0.74 MB for version 2's 16,322 areas and 29,894 rival rows).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "headline",
    "year_table",
    "map_layers",
    "map_binary",
    "map_from_binary",
    "MAP_DTYPES",
    "store_cards",
    "comparison_row",
    "comparison_columns",
]


def _f(x: Any) -> float | None:
    """A JSON-safe float (None for NaN / inf / missing)."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _metrics(plan: Any) -> Any:
    """The plan's typed metrics (:class:`storeplan.metrics.PlanMetrics`)."""
    return plan.metrics


def _unit(name: str, m: Any) -> str:
    """The unit :class:`~storeplan.metrics.PlanMetrics` gives a field (``objective``: the
    objective's own unit)."""
    unit = type(m).units().get(name, "")
    return m.objective_unit if unit == "objective" else unit


def headline(plan: Any) -> list[dict[str, Any]]:
    """The headline numbers: ``[{key, label, value, unit, note}]``, in display order.

    Values and units are the plan's :class:`~storeplan.metrics.PlanMetrics` fields (the
    ``note`` is the field's definition); ``unit`` is one of ``currency``,
    ``currency/year``, ``share``, ``km``, ``persons``, ``person-km``, ``count``,
    ``years``, ``seconds``, ``text``.
    """
    m = _metrics(plan)
    docs = type(m).docs()
    sense = m.sense
    rows: list[dict[str, Any]] = []

    def add(
        key: str, label: str, value: Any = None, unit: str | None = None, note: str | None = None
    ) -> None:
        v = getattr(m, key) if value is None and hasattr(m, key) else value
        rows.append(
            {
                "key": key,
                "label": label,
                "value": v if isinstance(v, str) else (_f(v) if not isinstance(v, bool) else v),
                "unit": unit if unit is not None else _unit(key, m),
                "note": note if note is not None else docs.get(key, ""),
            }
        )

    add("n_new_stores", "new stores")
    add("n_existing_stores", "existing stores")
    if m.n_partner_stores:  # counts by ownership (metrics.ownership_counts), when partners run some
        add("n_own_stores", "stores run by the brand")
        add("n_partner_stores", "stores run by partners")
    add("objective", f"objective ({plan.objective}, {'maximised' if sense == 'max' else 'minimised'})")
    add("bound", "bound (best possible " + ("at most" if sense == "max" else "at least") + ")")
    chosen = m.rollout is not None and m.rollout.chose_sites
    add(
        "gap",
        "gap",
        0.0 if m.proven_optimal else m.gap,
        note="proven optimal"
        if m.proven_optimal
        else (
            "the joint rollout chose these stores for their NPV, so they are measured here by "
            "another objective; their certificate is the NPV gap below"
            if chosen
            else docs.get("gap", "")
        ),
    )
    if m.total_market > 0:
        add("own_revenue", "store revenue (offline + from online)")
        add("market_share_before", "our offline market share before")
        add("market_share", "our offline market share after")
        add("net_gain", "net gain of the new stores")
        add("taken_from_existing_stores", "taken from our existing stores")
        add("taken_from_online", "taken from our web shop")
    add("coverage_share", f"population within {float(m.radius_km):g} km of a store")
    add("mean_km", "mean km to the nearest store")
    add("opening_cost", "opening cost of the new stores")
    r = m.rollout
    if r is not None:
        ru, rd = type(r).units(), type(r).docs()
        rows.append(
            {
                "key": "npv",
                "label": f"NPV of the rollout ({r.horizon} years)",
                "value": _f(r.npv),
                "unit": ru["npv"],
                "note": rd["npv"],
            }
        )
        if r.npv_bound == r.npv_bound:  # a bound was computed (not NaN)
            rows.append(
                {
                    "key": "npv_bound",
                    "label": "NPV bound (best possible at most)",
                    "value": _f(r.npv_bound),
                    "unit": ru["npv_bound"],
                    "note": rd["npv_bound"],
                }
            )
            rows.append(
                {
                    "key": "npv_gap",
                    "label": "NPV gap" + (" (certifies these stores)" if chosen else ""),
                    "value": _f(r.npv_gap),
                    "unit": ru["npv_gap"],
                    "note": rd["npv_gap"],
                }
            )
        rows.append(
            {
                "key": "payback_year",
                "label": "payback year",
                "value": r.payback_year,
                "unit": "count",
                "note": rd["payback_year"],
            }
        )
        if r.target_met is not None:
            verdict = "met" if r.target_met else f"missed by {_f(r.shortfall) or 0:,.0f} per year"
            rows.append(
                {
                    "key": "target_met",
                    "label": "revenue target",
                    "value": verdict,
                    "unit": "text",
                    "note": rd["target_met"],
                }
            )
    add("seconds", "run time")
    return rows


def year_table(plan: Any) -> dict[str, Any] | None:
    """The rollout years: columns and rows (currency per year, counts), or None."""
    fc = plan.forecast
    if fc is None:
        return None
    cols = [
        ("year", "year", "year"),
        ("stores_opened", "opened", "count"),
        ("stores_open", "open", "count"),
        ("revenue", "revenue", "currency/year"),
        ("target", "target", "currency/year"),
        ("capex", "capex", "currency"),
        ("budget", "budget", "currency"),
        ("cash_flow", "cash flow", "currency/year"),
        ("cumulative_cash_flow", "cumulative", "currency"),
    ]
    per_year = fc.per_year
    if "in_rollout" in per_year.columns:
        per_year = per_year[per_year["in_rollout"].astype(bool)]
    present = [c for c in cols if c[0] in per_year.columns]
    rows = [[_f(v) for v in per_year[c[0]].to_numpy()] for c in present]
    return {
        "columns": [{"key": k, "label": lbl, "unit": u} for k, lbl, u in present],
        "rows": [list(r) for r in zip(*rows, strict=True)] if rows else [],
    }


def _opening_year(plan: Any, ids: pd.Series) -> np.ndarray:
    """Opening year per store (0 existing, 1.. rollout years, -1 not scheduled); all 1
    (0 for existing) without a rollout."""
    sched = plan.schedule
    status = plan.stores["status"].astype(str).to_numpy()
    if sched is None:
        return np.where(status == "existing", 0, 1).astype(np.int64)
    by_id = pd.Series(
        np.asarray(sched.open_year, dtype=np.int64), index=pd.Index(np.asarray(sched.ids).astype(str))
    )
    return ids.map(by_id).fillna(-1).astype(np.int64).to_numpy()


def _round(a: np.ndarray, nd: int) -> list[float]:
    return [float(x) for x in np.round(np.nan_to_num(np.asarray(a, dtype=np.float64)), nd)]


def map_layers(plan: Any, areas: pd.DataFrame, rivals: pd.DataFrame) -> dict[str, Any]:
    """The map's layers, columnar, only the shown fields.

    ``areas``: lon, lat (5 decimals, about 1 m), population, share before / after (per
    mille of the area's offline spending, integers), the index of the store serving it
    (``-1`` none). ``stores``: id, lon, lat, format and status codes, opening year,
    revenue (currency/year). ``rivals``: lon, lat, brand code.
    """
    stores = plan.stores
    ids = stores["id"].astype(str)
    pos = pd.Series(np.arange(len(stores)), index=pd.Index(ids))
    asg = plan.assignment
    area_ids = areas["id"].astype(str)
    a = asg.set_index(asg["area_id"].astype(str))
    a = a[~a.index.duplicated()]
    serving = (
        area_ids.map(a["store_id"].astype(str)) if "store_id" in a else pd.Series(np.nan, index=areas.index)
    )
    store_idx = serving.map(pos).fillna(-1).astype(np.int64).to_numpy()

    def share(col: str) -> list[int] | None:
        if col not in a.columns:
            return None
        s = area_ids.map(a[col]).to_numpy(dtype=np.float64)
        return [int(x) for x in np.round(1000 * np.clip(np.nan_to_num(s), 0, 1))]

    formats = sorted(stores["format"].astype(str).unique().tolist()) if len(stores) else []
    fcode = {f: k for k, f in enumerate(formats)}
    status_names = ["new", "existing"]
    brands = (
        rivals["brand"].astype(str).value_counts().index.tolist() if len(rivals) and "brand" in rivals else []
    )
    bcode = {b: k for k, b in enumerate(brands)}
    years = _opening_year(plan, ids)
    revenue = stores["revenue"] if "revenue" in stores else pd.Series(np.zeros(len(stores)))
    return {
        "areas": {
            "n": len(areas),
            "lon": _round(areas["lon"], 5),
            "lat": _round(areas["lat"], 5),
            "population": [int(x) for x in np.round(np.nan_to_num(areas["population"].to_numpy(float)))],
            "share_before": share("share_before"),
            "share_after": share("share_after"),
            "store": [int(x) for x in store_idx],
        },
        "stores": {
            "n": len(stores),
            "id": ids.tolist(),
            "name": [
                None if pd.isna(v) else str(v) for v in stores.get("name", pd.Series([None] * len(stores)))
            ],
            "lon": _round(stores["lon"], 5),
            "lat": _round(stores["lat"], 5),
            "format": [fcode[str(f)] for f in stores["format"]],
            "status": [
                status_names.index(s) if s in status_names else 0 for s in stores["status"].astype(str)
            ],
            "year": [int(y) for y in years],
            "revenue": _round(revenue, 0),
        },
        "formats": formats,
        "statuses": status_names,
        "years": sorted({int(y) for y in years}),
        "rivals": {
            "n": len(rivals),
            "lon": _round(rivals["lon"], 4) if len(rivals) else [],
            "lat": _round(rivals["lat"], 4) if len(rivals) else [],
            "brand": [bcode[str(b)] for b in rivals["brand"]] if brands else [],
        },
        "brands": brands,
        "bbox": _bbox(areas),
    }


#: Binary types of the map's numeric columns (``layer.field``): float32 coordinates of the
#: areas and rivals (below a metre at China's longitudes), float64 for the stores'
#: coordinates and the amounts, small integers for codes and per-mille shares.
MAP_DTYPES = {
    "areas.lon": "<f4",
    "areas.lat": "<f4",
    "areas.population": "<f8",
    "areas.share_before": "<u2",
    "areas.share_after": "<u2",
    "areas.store": "<i4",
    "stores.lon": "<f8",
    "stores.lat": "<f8",
    "stores.format": "<i2",
    "stores.status": "<i2",
    "stores.year": "<i2",
    "stores.revenue": "<f8",
    "rivals.lon": "<f4",
    "rivals.lat": "<f4",
    "rivals.brand": "<u2",
}

_MAGIC = b"SPMAP1\0\0"


def map_binary(layers: dict[str, Any]) -> bytes:
    """The map layers of :func:`map_layers` as one compact binary payload.

    Layout: 8 bytes ``SPMAP1``, a little-endian uint32 header length ``h``, ``h`` bytes
    of UTF-8 JSON (the layers, each numeric column of :data:`MAP_DTYPES` replaced by
    ``{"$a": [dtype, byte offset, length]}``), then the columns' bytes, each starting at
    a multiple of 8 (so the page wraps them in typed arrays without copying). Store ids,
    names and the label lists stay in the JSON header.
    """
    import json

    head: dict[str, Any] = json.loads(json.dumps(layers))
    chunks: list[bytes] = []
    offset = 0
    for key, dtype in MAP_DTYPES.items():
        layer, field = key.split(".")
        values = head.get(layer, {}).get(field)
        if values is None:
            continue
        data = np.asarray(values, dtype=np.dtype(dtype)).tobytes()
        head[layer][field] = {"$a": [dtype[1:], offset, len(values)]}
        pad = (-len(data)) % 8
        chunks.append(data + b"\0" * pad)
        offset += len(data) + pad
    text = json.dumps(head, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(len(_MAGIC) + 4 + len(text))) % 8)  # the columns start 8-aligned
    return b"".join([_MAGIC, len(text).to_bytes(4, "little"), text, *chunks])


def map_from_binary(payload: bytes) -> dict[str, Any]:
    """The layers dict back from :func:`map_binary` (numbers as Python ints / floats)."""
    import json

    from ..errors import InputError

    if payload[: len(_MAGIC)] != _MAGIC:
        raise InputError("not a storeplan map payload")
    h = int.from_bytes(payload[len(_MAGIC) : len(_MAGIC) + 4], "little")
    start = len(_MAGIC) + 4 + h
    head = json.loads(payload[len(_MAGIC) + 4 : start].decode("utf-8"))
    for layer in head.values():
        if not isinstance(layer, dict):
            continue
        for field, value in list(layer.items()):
            if isinstance(value, dict) and "$a" in value:
                dtype, off, n = value["$a"]
                arr = np.frombuffer(payload, dtype=np.dtype("<" + dtype), count=n, offset=start + off)
                layer[field] = arr.tolist()
    return head


def _bbox(areas: pd.DataFrame) -> list[float]:
    if not len(areas):
        return [73.0, 18.0, 135.0, 54.0]
    lon, lat = areas["lon"].to_numpy(float), areas["lat"].to_numpy(float)
    return [float(np.nanmin(lon)), float(np.nanmin(lat)), float(np.nanmax(lon)), float(np.nanmax(lat))]


#: Per-store fields of a store's card: (column, label, unit).
CARD_FIELDS = (
    ("format", "format", "text"),
    ("status", "status", "text"),
    ("region", "region", "text"),
    ("revenue", "revenue (offline + from online)", "currency/year"),
    ("offline_revenue", "offline revenue", "currency/year"),
    ("online_transfer", "from online orders", "currency/year"),
    ("from_existing_stores", "taken from our existing stores", "currency/year"),
    ("from_online", "taken from our web shop", "currency/year"),
    ("net_gain", "net gain", "currency/year"),
    ("marginal_net_gain", "marginal net gain (if it alone closed)", "currency/year"),
    ("catchment_share", "share of its catchment's spending", "share"),
    ("covered_population", "population within the radius", "persons"),
    ("n_areas", "areas served", "count"),
    ("opening_cost", "opening cost", "currency"),
    ("fixed_cost", "fixed cost", "currency/year"),
)


def store_cards(plan: Any, why: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Every store's card by id: the plan's own per-store numbers, revenue by category,
    opening year and, when computed, why it is there (see :mod:`storeplan.web.explain`)."""
    stores = plan.stores
    ids = stores["id"].astype(str)
    years = _opening_year(plan, ids)
    cats = [c for c in stores.columns if c.startswith("revenue_")]
    why_by = why.set_index("id") if why is not None and len(why) else None
    out: dict[str, dict[str, Any]] = {}
    for k, (sid, row) in enumerate(zip(ids, stores.to_dict("records"), strict=True)):
        fields = []
        for col, label, unit in CARD_FIELDS:
            if col not in row:
                continue
            v = row[col]
            if unit == "text":
                v = None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            else:
                v = _f(v)
            fields.append({"key": col, "label": label, "value": v, "unit": unit})
        card: dict[str, Any] = {
            "id": sid,
            "name": None if pd.isna(row.get("name")) else str(row.get("name")),
            "lon": float(row["lon"]),
            "lat": float(row["lat"]),
            "index": k,
            "opening_year": int(years[k]),
            "fields": fields,
            "revenue_by_category": {c.removeprefix("revenue_"): _f(row[c]) for c in cats},
            "why": None,
        }
        if why_by is not None and sid in why_by.index:
            w = why_by.loc[sid]
            card["why"] = {
                "value": _f(w["value"]),
                "value_label": str(w["value_label"]),
                "unit": str(w["unit"]),
                "alternative_id": None if pd.isna(w["alternative_id"]) else str(w["alternative_id"]),
                "alternative_name": None if pd.isna(w["alternative_name"]) else str(w["alternative_name"]),
                "alternative_km": _f(w["alternative_km"]),
                "alternative_value": _f(w["alternative_value"]),
                "alternative_lon": _f(w["alternative_lon"]),
                "alternative_lat": _f(w["alternative_lat"]),
                "candidates_compared": int(w["candidates_compared"]),
            }
        out[sid] = card
    return out


def comparison_row(plan: Any, name: str) -> dict[str, Any]:
    """One row of the comparison table: :func:`storeplan.engine.comparison_row` (the
    columns, names and numbers of ``storeplan compare``'s table,
    :data:`storeplan.engine.COMPARISON`) plus the run's ``seconds``, JSON-safe (NaN:
    None)."""
    from ..engine import comparison_row as engine_row

    row = engine_row(plan, name)
    row["seconds"] = plan.metrics.seconds
    return {k: (v if isinstance(v, str | bool) or v is None else _json_number(v)) for k, v in row.items()}


def _json_number(v: Any) -> int | float | None:
    """An int stays an int; other numbers become JSON-safe floats (NaN / inf: None)."""
    if isinstance(v, int | np.integer):
        return int(v)
    return _f(v)


def comparison_columns() -> list[dict[str, str]]:
    """The comparison table's shown columns, in ``storeplan compare``'s order: ``key``
    (a :data:`storeplan.engine.COMPARISON` name), ``label`` (its header) and ``unit``."""
    from ..engine import SHOWN, UNITS

    return [
        {"key": k, "label": label.replace("\n", " "), "unit": UNITS[k]}
        for k, label in SHOWN.items()
        if k != "error"
    ]
