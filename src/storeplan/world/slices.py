"""A world scenario on a slice of its countries (``storeplan demo --scenario world --country``)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..data.world_data import world

__all__ = ["slice_overrides"]


def slice_overrides(path: str | Path, countries: Iterable[str]) -> tuple[dict[str, Any], str]:
    """Overrides that plan a world scenario file on some of its countries only.

    Used by ``storeplan demo --scenario world --country ...``: only those countries;
    the world's yearly minimums (``rollout.min_stores_per_year``) dropped, as a slice
    cannot hold them; the store and sales targets (``world.target_stores``,
    ``rollout.target_revenue``) scaled by the slice's share of the scenario's
    population; ``[world] cars`` kept to the slice. The yearly caps and budgets are
    maxima and stay as written.

    Parameters
    ----------
    path : str or Path
        A scenario file with a ``[world]`` section and ``[areas] dataset = "world"``.
    countries : iterable of str
        ISO2, ISO3 codes or English names (:func:`storeplan.datasets.world`).

    Returns
    -------
    overrides : dict
        For :meth:`storeplan.scenario.Scenario.from_toml` (``**overrides``).
    note : str
        What was changed, for the run's description.

    Raises
    ------
    UnknownOptionError
        An unknown country, or none.
    """
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    full = (raw.get("areas") or {}).get("countries")
    sliced = world(list(countries)).countries
    codes = sorted(sliced["country"].astype(str))
    total = float(world(list(full) if full else None).countries["population"].sum())
    share = float(sliced["population"].sum()) / total if total > 0 else 1.0
    over: dict[str, Any] = {"areas": {"countries": codes}}
    rol = dict(raw.get("rollout") or {})
    r: dict[str, Any] = {}
    if rol.get("min_stores_per_year") is not None:
        r["min_stores_per_year"] = None
    tr = rol.get("target_revenue")
    if isinstance(tr, dict):
        r["target_revenue"] = {k: float(v) * share for k, v in tr.items()}
    elif isinstance(tr, list):
        r["target_revenue"] = [None if v is None else float(v) * share for v in tr]
    elif isinstance(tr, int | float):
        r["target_revenue"] = float(tr) * share
    if r:
        over["rollout"] = r
    w = dict(raw.get("world") or {})
    wo: dict[str, Any] = {"cars": [c for c in w.get("cars", []) if c in codes]}
    if isinstance(w.get("target_stores"), int):
        wo["target_stores"] = max(1, round(w["target_stores"] * share))
    over["world"] = wo
    note = (
        f"{', '.join(codes)}: {100 * share:.3g}% of the scenario's population; "
        "store and sales targets scaled to it, yearly minimums dropped"
    )
    return over, note
