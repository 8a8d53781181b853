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
    "fmt_pct",
    "fmt_seconds",
    "fmt_value",
    "served_areas",
    "synthetic_notes",
    "metric",
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


def metric(plan: Any, key: str, default: Any = None) -> Any:
    """Read ``plan.metrics[key]`` tolerantly (missing dict, missing key, NaN -> default)."""
    metrics = getattr(plan, "metrics", None) or {}
    value = metrics.get(key, default)
    return default if is_missing(value) else value


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


def synthetic_notes(notes: Any) -> list[str]:
    """Return the notes that mention synthetic (made-up) data layers."""
    return [str(n) for n in (notes or ()) if "synthetic" in str(n).lower()]
