"""The assumptions a plan rests on, carried from the scenario into the plan (typed).

:class:`PlanAssumptions` holds the inputs a reader of the report must know to trust
its numbers: the store formats with their costs and capacities, the size of the plan,
the spacing rule, and the market model's parameters as the plan used them (after
calibration). The rollout's caps, budgets, margin and discount rate are in the plan's
:class:`~storeplan.rollout.RolloutSpec` (``plan.schedule.spec``). ``summary.json`` keeps
them under ``"assumptions"``, so a loaded plan shows the same assumptions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FormatAssumption", "PlanAssumptions"]


@dataclass(frozen=True)
class FormatAssumption:
    """A store format as the plan used it.

    Attributes
    ----------
    name : str
    opening_cost : float
        Currency, once per store.
    fixed_cost : float
        Currency per year per store.
    capacity : float
        Most demand one store serves, in the unit of the area weights (persons by
        default); 0 means unlimited.
    attractiveness : float
        Huff attractiveness of the format (standard store = 1), after calibration.
    category_attractiveness : tuple of (str, float)
        Multiplier of ``attractiveness`` per demand category (1: as attractive as in the
        other categories, 0: the format does not sell it); empty when not given.
    levels : tuple of str
        Area levels where the format opens (empty: anywhere).
    max_stores : int or None
        Most new stores of this format (None: no cap).
    ownership : {"own", "partner"}
        Who runs the format's stores.
    margin : float or None
        Share (0..1] of the format's sales that is cash to the brand, as the rollout
        used it (the format's ``margin`` or the rollout's ``gross_margin``); None: not
        known.
    """

    name: str
    opening_cost: float
    fixed_cost: float
    capacity: float = 0.0
    attractiveness: float = 1.0
    category_attractiveness: tuple[tuple[str, float], ...] = ()
    levels: tuple[str, ...] = ()
    max_stores: int | None = None
    ownership: str = "own"
    margin: float | None = None


@dataclass(frozen=True)
class PlanAssumptions:
    """Inputs of a plan that are assumptions, not results (see the module docstring).

    Attributes
    ----------
    formats : tuple of FormatAssumption
    stores : int or None
        New stores asked for (``objective.stores``); None: set by the budget or the model.
    budget : float or None
        Opening budget of the site choice, currency (None: none).
    radius_km : float
        Coverage radius, km.
    min_spacing_km : float
        Least distance between two of our stores, km (0: no rule).
    decay : str
        Huff distance-decay kind: ``power`` (``d ** -lambda``) or ``exponential``
        (``exp(-lambda d)``, lambda per km).
    decay_by_level : dict of str to float
        ``lambda`` per area level, as used.
    default_decay : float
        ``lambda`` of areas with no known level.
    min_km : float
        Distances below this count as this, km.
    outside : float
        Utility of the outside option (buying at no modelled store).
    outside_per_100k : float
        Extra outside-option utility per 100,000 residents of an area.
    transfer_rate : float
        Share (0..1) of our online revenue in an area that moves to our stores, scaled
        by our stores' share there.
    market_scale : float
        Multiplier of every area's spending potential (1 unless calibrated).
    rival_attractiveness : float
        Attractiveness of a rival store of a brand with no own value.
    online_order_value : float
        Value of one web-shop order, currency.
    categories : tuple of str
        Product categories of the spending model.
    calibrated : bool
        The market parameters above come from a fit to our stores' observed sales.
    """

    formats: tuple[FormatAssumption, ...]
    stores: int | None = None
    budget: float | None = None
    radius_km: float = float("nan")
    min_spacing_km: float = 0.0
    decay: str = "power"
    decay_by_level: dict[str, float] = field(default_factory=dict)
    default_decay: float = float("nan")
    min_km: float = float("nan")
    outside: float = float("nan")
    outside_per_100k: float = float("nan")
    transfer_rate: float = float("nan")
    market_scale: float = 1.0
    rival_attractiveness: float = float("nan")
    online_order_value: float = float("nan")
    categories: tuple[str, ...] = ()
    calibrated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None)."""

        def plain(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {str(k): plain(x) for k, x in v.items()}
            return v

        return {k: plain(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlanAssumptions:
        """Read what :meth:`to_dict` wrote (unknown keys ignored)."""

        def num(x: Any, default: float = float("nan")) -> float:
            return default if x is None else float(x)

        formats = tuple(
            FormatAssumption(
                name=str(f["name"]),
                opening_cost=float(f["opening_cost"]),
                fixed_cost=float(f["fixed_cost"]),
                capacity=float(f.get("capacity", 0.0)),
                attractiveness=float(f.get("attractiveness", 1.0)),
                category_attractiveness=tuple(
                    (str(c), float(v)) for c, v in f.get("category_attractiveness", ()) or ()
                ),
                levels=tuple(str(x) for x in f.get("levels", ())),
                max_stores=None if f.get("max_stores") is None else int(f["max_stores"]),
                ownership=str(f.get("ownership", "own")),
                margin=None if f.get("margin") is None else float(f["margin"]),
            )
            for f in d.get("formats", ())
        )
        return cls(
            formats=formats,
            stores=None if d.get("stores") is None else int(d["stores"]),
            budget=None if d.get("budget") is None else float(d["budget"]),
            radius_km=num(d.get("radius_km")),
            min_spacing_km=num(d.get("min_spacing_km"), 0.0),
            decay=str(d.get("decay", "power")),
            decay_by_level={str(k): float(v) for k, v in dict(d.get("decay_by_level") or {}).items()},
            default_decay=num(d.get("default_decay")),
            min_km=num(d.get("min_km")),
            outside=num(d.get("outside")),
            outside_per_100k=num(d.get("outside_per_100k")),
            transfer_rate=num(d.get("transfer_rate")),
            market_scale=num(d.get("market_scale"), 1.0),
            rival_attractiveness=num(d.get("rival_attractiveness")),
            online_order_value=num(d.get("online_order_value")),
            categories=tuple(str(c) for c in d.get("categories", ())),
            calibrated=bool(d.get("calibrated", False)),
        )
