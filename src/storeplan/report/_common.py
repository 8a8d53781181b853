"""Helpers shared by the report modules: optional imports, number formatting, joins."""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "require",
    "is_missing",
    "fmt_int",
    "fmt_num",
    "fmt_km",
    "fmt_money",
    "fmt_pct",
    "fmt_seconds",
    "fmt_value",
    "fmt_unit",
    "served_areas",
    "has_columns",
    "category_columns",
    "share_by_region",
    "wave_labels",
    "synthetic_notes",
    "opt",
]

_INSTALL_HINT = 'storeplan reports need {name}: pip install "storeplan[report]"'


def require(name: str) -> ModuleType:
    """Import an optional report dependency or explain how to install it.

    Parameters
    ----------
    name : str
        Module name, e.g. ``"folium"`` or ``"matplotlib"``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        If the module is not installed; the message names the ``report`` extra.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT.format(name=name)) from exc


def is_missing(x: Any) -> bool:
    """Return True for None, NaN, pandas NA/NaT and non-finite floats."""
    if x is None:
        return True
    if isinstance(x, float | np.floating):
        return not math.isfinite(float(x))
    try:
        missing = pd.isna(x)
    except (TypeError, ValueError):
        return False
    return bool(missing) if isinstance(missing, bool | np.bool_) else False


def fmt_int(x: Any) -> str:
    """Format a count with thousands separators (``"1,234,567"``); ``"-"`` if missing."""
    if is_missing(x):
        return "-"
    try:
        return f"{float(x):,.0f}"
    except (TypeError, ValueError):
        return str(x)


def fmt_num(x: Any, digits: int = 2) -> str:
    """Format a number with ``digits`` significant-looking decimals and separators."""
    if is_missing(x):
        return "-"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "-"
    if v != 0 and abs(v) < 10 ** (-digits):
        return f"{v:.{digits}g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def fmt_km(x: Any) -> str:
    """Format a distance in km with one decimal (``"12.3 km"``)."""
    if is_missing(x):
        return "-"
    return f"{float(x):,.1f} km"


def fmt_money(x: Any, sig: int = 3) -> str:
    """Format an amount of money compactly, with at least ``sig`` significant digits and
    one decimal after scaling (``1.3758e9 -> "1.38 bn"``, ``2.572e11 -> "257.2 bn"``,
    ``-3.4e6 -> "-3.40 m"``, ``45_300 -> "45.3 k"``, ``812 -> "812"``).

    Three significant digits keep two amounts a few percent apart (an NPV and its bound)
    visibly apart: ``1.38 bn`` and ``1.44 bn``, not ``1.4 bn`` twice.

    Parameters
    ----------
    x : number
        Amount in currency units; ``"-"`` when missing.
    sig : int, default 3
        Significant digits at least, after scaling to thousands (``k``), millions
        (``m``) or billions (``bn``); never fewer than one decimal.

    Returns
    -------
    str
    """
    if is_missing(x):
        return "-"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    # the smaller unit shows 1,000.0 from 999.95 on: switch to the larger one there
    for scale, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(v) >= scale * (1 - 0.05 / 1000):
            return f"{_sig_decimals(v / scale, sig)} {unit}"
    return f"{v:,.0f}"


def _sig_decimals(x: float, sig: int) -> str:
    """``x`` with ``sig`` significant digits at least and one decimal at least
    (``1.3758 -> "1.38"``, ``9.996 -> "10.0"``, ``257.24 -> "257.2"``)."""
    d = max(1, sig - len(str(int(abs(x)))))
    text = f"{x:,.{d}f}"
    whole = len(text.lstrip("-").split(".")[0].replace(",", ""))
    d2 = max(1, sig - whole)  # rounding added an integer digit (9.996 -> 10.00)
    return text if d2 == d else f"{x:,.{d2}f}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    """Format a share in [0, 1] as a percentage (``0.953 -> "95.3%"``)."""
    if is_missing(x):
        return "-"
    return f"{100.0 * float(x):.{digits}f}%"


def fmt_seconds(x: Any) -> str:
    """Format a run time in seconds (``"0.42 s"``, ``"3 min 05 s"``)."""
    if is_missing(x):
        return "-"
    s = float(x)
    if s < 60:
        return f"{s:.2f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def fmt_value(x: Any) -> str:
    """Format any metric value for display (numbers, bools, strings, small containers)."""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if isinstance(x, float | np.floating):
        return fmt_num(x, 3)
    if is_missing(x):
        return "-"
    if isinstance(x, Mapping):
        return ", ".join(f"{k}: {fmt_value(v)}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ", ".join(fmt_value(v) for v in x)
    return str(x)


def fmt_unit(value: Any, unit: str) -> str:
    """Format a raw value by its unit (:data:`storeplan.report.tables.UNITS`)."""
    if isinstance(value, str):
        return value
    if is_missing(value):
        return "-"
    if unit in ("count", "persons"):
        return fmt_int(value)
    if unit == "km":
        return fmt_km(value)
    if unit == "share":
        return fmt_pct(value)
    if unit == "points":
        return f"{100 * float(value):+.1f} pts"
    if unit in ("currency", "currency/year"):
        return fmt_money(value)
    if unit == "person-km":
        return f"{fmt_num(value)} person-km"
    if unit == "per_100k":
        return f"{float(value):,.1f}"
    if unit == "number":
        return f"{float(value):,.4g}"
    return fmt_value(value)


def opt(value: Any) -> Any:
    """``value``, or None when it is missing (None, NaN): for an optional figure of
    :class:`storeplan.metrics.PlanMetrics` read as an attribute (``opt(m.net_gain)``)."""
    return None if is_missing(value) else value


def served_areas(plan: Any) -> pd.DataFrame:
    """Join the plan's areas with their assignment.

    Returns
    -------
    pandas.DataFrame
        One row per area with ``id, name, lon, lat, population, region, store_id, km``;
        ``store_id`` is ``None`` and ``km`` NaN for unserved areas. ``name`` and
        ``region`` fall back to the id / ``""`` when the areas table lacks them.
    """
    areas = plan.areas
    n = len(areas)
    out = pd.DataFrame(
        {
            "id": areas["id"].astype(str).to_numpy(dtype=object),
            "lon": pd.to_numeric(areas["lon"], errors="coerce").to_numpy(dtype=float),
            "lat": pd.to_numeric(areas["lat"], errors="coerce").to_numpy(dtype=float),
            "population": (
                pd.to_numeric(areas["population"], errors="coerce").fillna(0.0).to_numpy(float)
                if "population" in areas
                else np.zeros(n)
            ),
        }
    )
    for col, default in (("name", None), ("region", "")):
        if col in areas:
            vals = areas[col].astype(object).to_numpy()
            out[col] = [default if is_missing(v) else str(v) for v in vals]
        else:
            out[col] = default
    out["name"] = [nm if nm else i for nm, i in zip(out["name"], out["id"], strict=True)]

    asg = getattr(plan, "assignment", None)
    store_id: list[Any] = [None] * n
    km = np.full(n, np.nan)
    if asg is not None and len(asg):
        a = asg.drop_duplicates("area_id", keep="first")
        sid = a["store_id"].astype(object).to_numpy()
        kms = pd.to_numeric(a["km"], errors="coerce").to_numpy(float) if "km" in a else None
        pos = {str(k): i for i, k in enumerate(a["area_id"].astype(object).to_numpy())}
        for j, aid in enumerate(out["id"]):
            i = pos.get(aid)
            if i is None or is_missing(sid[i]):
                continue
            store_id[j] = str(sid[i])
            if kms is not None:
                km[j] = kms[i]
    out["store_id"] = pd.Series(store_id, dtype=object)
    out["km"] = km
    return out


def has_columns(df: Any, *cols: str) -> bool:
    """Tell whether ``df`` is a non-empty DataFrame whose columns ``cols`` all hold a value.

    Parameters
    ----------
    df : object
        Usually a DataFrame; anything else (``None``) gives False.
    *cols : str
        Column names.

    Returns
    -------
    bool
    """
    if df is None or not isinstance(df, pd.DataFrame) or len(df) == 0:
        return False
    return all(c in df.columns and bool(df[c].notna().any()) for c in cols)


def category_columns(stores: Any) -> list[str]:
    """Return the ``revenue_<category>`` columns of a stores table (in table order).

    Parameters
    ----------
    stores : DataFrame or None

    Returns
    -------
    list of str
    """
    if stores is None or not isinstance(stores, pd.DataFrame):
        return []
    return [c for c in stores.columns if str(c).startswith("revenue_") and len(str(c)) > 8]


def share_by_region(plan: Any, column: str = "region") -> pd.DataFrame:
    """Our offline market share per region (or per other area ``column``, e.g. ``level``
    for the city tier), before and after the plan's new stores.

    Joins ``plan.assignment`` (``area_id, market, share_before, share_after``) with the
    ``column`` of each area in ``plan.areas``; a group's share is its areas' own offline
    revenue over their offline spending (market-weighted mean of the area shares).

    Returns
    -------
    pandas.DataFrame
        ``region, market, revenue_before, revenue_after, share_before, share_after,
        change`` (``region`` holds the group label whatever ``column`` is; ``change`` in
        share points, 0..1), one row per group, largest market first; empty when the
        columns are missing.
    """
    cols = ["region", "market", "revenue_before", "revenue_after", "share_before", "share_after", "change"]
    asg = getattr(plan, "assignment", None)
    areas = getattr(plan, "areas", None)
    if not has_columns(asg, "area_id", "market", "share_after") or not has_columns(areas, "id", column):
        return pd.DataFrame(columns=cols)
    assert asg is not None and areas is not None  # has_columns checked both
    a = asg.drop_duplicates("area_id", keep="first")
    group = pd.Series(areas[column].astype(object).to_numpy(), index=areas["id"].astype(str).to_numpy())
    group = group[~group.index.duplicated()]
    reg = a["area_id"].astype(str).map(group)
    reg = reg.map(lambda r: f"(no {column})" if is_missing(r) or r == "" else str(r))
    market = pd.to_numeric(a["market"], errors="coerce").fillna(0.0).to_numpy(float)
    after = pd.to_numeric(a["share_after"], errors="coerce").fillna(0.0).to_numpy(float)
    before = (
        pd.to_numeric(a["share_before"], errors="coerce").fillna(0.0).to_numpy(float)
        if "share_before" in a
        else np.zeros(len(a))
    )
    df = pd.DataFrame(
        {
            "region": reg.to_numpy(),
            "market": market,
            "revenue_before": market * before,
            "revenue_after": market * after,
        }
    )
    out = df.groupby("region", sort=False)[["market", "revenue_before", "revenue_after"]].sum()
    m = out["market"].to_numpy(float)
    out["share_before"] = np.divide(
        out["revenue_before"].to_numpy(float), m, out=np.zeros(len(out)), where=m > 0
    )
    out["share_after"] = np.divide(
        out["revenue_after"].to_numpy(float), m, out=np.zeros(len(out)), where=m > 0
    )
    out["change"] = out["share_after"] - out["share_before"]
    out = out.sort_values("market", ascending=False, kind="stable").reset_index()
    return out[cols]


def wave_labels(plan: Any) -> dict[int, str]:
    """Rollout year -> label (the calendar year when the forecast or the spec has one).

    Reads ``plan.forecast.per_year`` (``year, label``), else ``plan.schedule.spec``
    (``start_year, years``); empty when neither is there.
    """
    fc = getattr(plan, "forecast", None)
    py = getattr(fc, "per_year", None)
    if isinstance(py, pd.DataFrame) and {"year", "label"} <= set(py.columns):
        return {int(y): str(lb) for y, lb in zip(py["year"], py["label"], strict=True)}
    spec = getattr(getattr(plan, "schedule", None), "spec", None)
    start = getattr(spec, "start_year", None)
    years = getattr(spec, "years", None)
    if start and years:
        return {y: str(int(start) + y - 1) for y in range(1, int(years) + 1)}
    return {}


def synthetic_notes(notes: Any) -> list[str]:
    """Return the notes that mention synthetic (made-up) data layers."""
    return [str(n) for n in (notes or ()) if "synthetic" in str(n).lower()]
