"""Spending potential per demand area: categories, price tiers, offline share, brand affinity.

All money is in the scenario's currency units (CNY in the bundled China data) **per year**.

The model is deliberately simple and fully parameterised by :class:`DemandParams`::

    spending[i, c]  = population_i * penetration_c * purchases_c * price_c[tier_i]
    offline[i, c]   = spending[i, c] * (1 - online_share_i)
    affinity_i      = clip((orders_pc_i / mean_orders_pc) ** beta, lo, hi)

where ``tier_i`` is the price tier (budget / mid / high) chosen from the area's
``income`` (currency per capita per year) or, without income, from its ``level``.

The defaults are **planning assumptions**, not measurements; each one names the public
figure it is anchored on (see :class:`CategoryParams` and :class:`DemandParams`).
Override them per scenario when better data exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from storeplan.errors import MissingColumnError, NegativeValueError

__all__ = [
    "TIERS",
    "LEVELS",
    "CategoryParams",
    "DemandParams",
    "spending",
    "offline_spending",
    "online_share",
    "brand_affinity",
    "online_revenue",
    "price_tier",
]

#: Price tiers, cheapest first.
TIERS: tuple[str, ...] = ("budget", "mid", "high")

#: Area levels of the canonical ``areas`` table, largest first.
LEVELS: tuple[str, ...] = ("country", "region", "city", "county", "township")


class CategoryParams(BaseModel):
    """One product category.

    Parameters
    ----------
    name : str
        Column name used in the output tables (e.g. ``"phones"``).
    penetration : float
        Share of the population that buys in this category at all (0..1): for phones the
        share of people with a smartphone, for household goods households per person.
    purchases_per_year : float
        Purchases per buyer per year (1 / replacement cycle in years).
    price : dict of str to float
        Average selling price per purchase for each tier in :data:`TIERS`, currency units.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    penetration: float = Field(ge=0.0, le=1.0)
    purchases_per_year: float = Field(ge=0.0)
    price: dict[str, float]

    @field_validator("price")
    @classmethod
    def _check_price(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [t for t in TIERS if t not in v]
        if missing:
            raise ValueError(f"price needs every tier {list(TIERS)}; missing {missing}")
        if any(not np.isfinite(p) or p < 0 for p in v.values()):
            raise ValueError("prices must be finite and >= 0")
        return v


def _default_categories() -> tuple[CategoryParams, ...]:
    return (
        # ~1.09 bn Chinese internet users on mobile (CNNIC 2023) / 1.41 bn people ~ 0.77;
        # ~270 M smartphones shipped a year in China (IDC/CAICT 2023) -> ~0.33 per user a year
        # (a 3-year replacement cycle). Tier prices follow the brief: ~800 / ~1400 / ~2200.
        CategoryParams(
            name="phones",
            penetration=0.77,
            purchases_per_year=0.33,
            price={"budget": 800.0, "mid": 1400.0, "high": 2200.0},
        ),
        # Household goods: ~0.36 households per person (2.62 persons per household, 2020
        # census); TVs replaced every ~8 years (~35 M TV units a year for ~490 M households).
        CategoryParams(
            name="tv_home",
            penetration=0.36,
            purchases_per_year=0.125,
            price={"budget": 1500.0, "mid": 2800.0, "high": 5000.0},
        ),
        # Routers, speakers, cameras, plugs: assumption, ~0.35 of people buy one or more a
        # year at a few hundred units of currency each.
        CategoryParams(
            name="smart_home",
            penetration=0.35,
            purchases_per_year=0.8,
            price={"budget": 120.0, "mid": 250.0, "high": 450.0},
        ),
    )


class DemandParams(BaseModel):
    """Parameters of the spending-potential model (frozen).

    Parameters
    ----------
    categories : tuple of CategoryParams
        Product categories; default phones, tv_home, smart_home (see source comments for the
        anchors of each number).
    income_thresholds : (float, float)
        Income per capita per year (currency) at which an area moves from the budget to the
        mid tier and from the mid to the high tier. Default (25,000, 50,000): China's 2023
        per-capita disposable income was ~21,700 rural, ~39,200 national and ~51,800 urban
        (NBS), so townships fall in budget, county towns in mid and big cities in high.
    tier_by_level : dict of str to str
        Tier used when an area has no (finite) ``income``; default city high-end would be too
        optimistic, so cities and above are ``mid``, counties ``mid``, townships ``budget``.
    default_tier : str
        Tier for areas with neither income nor a known level. Default ``"mid"``.
    online_share_by_level : dict of str to float
        Share of retail spending done online (0..1) when the area has no ``online_share``
        column. E-commerce is ~27 % of China's retail sales of physical goods (NBS 2023);
        the default assumes more in cities (0.30) than in counties (0.20) and townships
        (0.12). Used for ``country`` / ``region`` too (0.27).
    default_online_share : float
        Online share for areas with no level. Default 0.25.
    affinity_beta : float
        Elasticity of brand affinity to our own online orders per capita (see
        :func:`brand_affinity`). Default 0.5 (square root: doubling orders per head
        raises affinity by ~41 %), an assumption.
    affinity_min, affinity_max : float
        Bounds of the affinity multiplier. Default 0.5 and 2.0.
    online_order_value : float
        Average value of one of our web-shop orders, currency. Default 1,200 (assumption:
        a phone-heavy basket). Converts ``online_orders`` (orders per year) to our online
        revenue in :func:`online_revenue`.

    Notes
    -----
    Default categories (penetration x purchases per year x price budget / mid / high):

    ========== =========== ============ ========================== =========================
    category   penetration purchases/yr price (currency)           anchor
    ========== =========== ============ ========================== =========================
    phones     0.77        0.33         800 / 1,400 / 2,200        ~1.09 bn mobile internet
                                                                   users / 1.41 bn people
                                                                   (CNNIC 2023); ~270 M
                                                                   phones a year in China (3-
                                                                   year replacement cycle)
    tv_home    0.36        0.125        1,500 / 2,800 / 5,000      households per person
                                                                   (2.62 persons per household,
                                                                   2020 census); TV replaced
                                                                   every ~8 years
    smart_home 0.35        0.8          120 / 250 / 450            assumption (routers,
                                                                   speakers, cameras, plugs)
    ========== =========== ============ ========================== =========================

    Every default is a planning assumption to be replaced by the brand's own data.

    Examples
    --------
    >>> import pandas as pd
    >>> areas = pd.DataFrame({"id": ["a"], "population": [1000.0], "level": ["township"]})
    >>> round(float(spending(areas)["phones"].iloc[0]))  # 1000 * 0.77 * 0.33 * 800
    203280
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: tuple[CategoryParams, ...] = Field(default_factory=_default_categories)
    income_thresholds: tuple[float, float] = (25_000.0, 50_000.0)
    tier_by_level: dict[str, str] = Field(
        default_factory=lambda: {
            "country": "mid",
            "region": "mid",
            "city": "mid",
            "county": "mid",
            "township": "budget",
        }
    )
    default_tier: str = "mid"
    online_share_by_level: dict[str, float] = Field(
        default_factory=lambda: {
            "country": 0.27,
            "region": 0.27,
            "city": 0.30,
            "county": 0.20,
            "township": 0.12,
        }
    )
    default_online_share: float = Field(0.25, ge=0.0, le=1.0)
    affinity_beta: float = Field(0.5, ge=0.0)
    affinity_min: float = Field(0.5, gt=0.0)
    affinity_max: float = Field(2.0, gt=0.0)
    online_order_value: float = Field(1200.0, ge=0.0)

    @model_validator(mode="after")
    def _check(self) -> DemandParams:
        if not self.categories:
            raise ValueError("at least one category is needed")
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise ValueError(f"category names must be unique, got {names}")
        if "total" in names:
            raise ValueError("'total' is reserved and cannot be a category name")
        lo, hi = self.income_thresholds
        if not (0 <= lo <= hi):
            raise ValueError("income_thresholds must satisfy 0 <= budget/mid <= mid/high")
        for t in [*self.tier_by_level.values(), self.default_tier]:
            if t not in TIERS:
                raise ValueError(f"unknown tier {t!r}; expected one of {list(TIERS)}")
        for lvl, s in self.online_share_by_level.items():
            if not 0.0 <= s <= 1.0:
                raise ValueError(f"online share of level {lvl!r} must be in [0, 1], got {s}")
        if self.affinity_min > self.affinity_max:
            raise ValueError("affinity_min must be <= affinity_max")
        return self

    @property
    def category_names(self) -> list[str]:
        """Category names in order."""
        return [c.name for c in self.categories]


def _require(areas: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in areas.columns]
    if missing:
        raise MissingColumnError(f"areas table is missing column(s) {missing}")


def _population(areas: pd.DataFrame) -> np.ndarray:
    _require(areas, ["population"])
    pop = areas["population"].to_numpy(dtype=np.float64)
    if np.any(~np.isfinite(pop)) or np.any(pop < 0):
        raise NegativeValueError("population must be finite and >= 0")
    return pop


def _levels(areas: pd.DataFrame) -> np.ndarray | None:
    if "level" not in areas.columns:
        return None
    return areas["level"].astype(object).to_numpy()


def price_tier(areas: pd.DataFrame, params: DemandParams | None = None) -> np.ndarray:
    """Return the price tier index (0 budget, 1 mid, 2 high) of every area.

    Uses ``income`` (currency per capita per year) against ``params.income_thresholds``
    where it is present and finite, else ``params.tier_by_level[level]``, else
    ``params.default_tier``.
    """
    params = params or DemandParams()
    n = len(areas)
    tier = np.full(n, TIERS.index(params.default_tier), dtype=np.int64)
    levels = _levels(areas)
    if levels is not None:
        for lvl, t in params.tier_by_level.items():
            tier[levels == lvl] = TIERS.index(t)
    if "income" in areas.columns:
        inc = pd.to_numeric(areas["income"], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(inc)
        lo, hi = params.income_thresholds
        tier[ok] = np.where(inc[ok] < lo, 0, np.where(inc[ok] < hi, 1, 2))
    return tier


def spending(areas: pd.DataFrame, params: DemandParams | None = None) -> pd.DataFrame:
    """Yearly spending potential per area and category (all channels, all brands).

    Parameters
    ----------
    areas : DataFrame
        Canonical areas table: ``id``, ``population``; optional ``income``, ``level``.
    params : DemandParams, optional

    Returns
    -------
    DataFrame
        ``id`` plus one column per category and ``total``, currency per year, in the row
        order of ``areas``. ``population * penetration * purchases_per_year * price[tier]``.

    Raises
    ------
    MissingColumnError
        ``id`` or ``population`` is missing.
    NegativeValueError
        A population is negative or NaN.
    """
    params = params or DemandParams()
    _require(areas, ["id", "population"])
    pop = _population(areas)
    tier = price_tier(areas, params)
    out = {"id": areas["id"].to_numpy()}
    total = np.zeros(len(areas), dtype=np.float64)
    for cat in params.categories:
        prices = np.array([cat.price[t] for t in TIERS], dtype=np.float64)
        v = pop * cat.penetration * cat.purchases_per_year * prices[tier]
        out[cat.name] = v
        total += v
    out["total"] = total
    return pd.DataFrame(out, index=areas.index)


def online_share(areas: pd.DataFrame, params: DemandParams | None = None) -> np.ndarray:
    """Share of spending done online per area (0..1).

    The ``online_share`` column where present and finite, else the default of the area's
    ``level`` (``params.online_share_by_level``), else ``params.default_online_share``.
    """
    params = params or DemandParams()
    n = len(areas)
    share = np.full(n, params.default_online_share, dtype=np.float64)
    levels = _levels(areas)
    if levels is not None:
        for lvl, s in params.online_share_by_level.items():
            share[levels == lvl] = s
    if "online_share" in areas.columns:
        col = pd.to_numeric(areas["online_share"], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(col)
        if np.any((col[ok] < 0) | (col[ok] > 1)):
            raise NegativeValueError("online_share must lie in [0, 1]")
        share[ok] = col[ok]
    return share


def offline_spending(
    areas: pd.DataFrame,
    params: DemandParams | None = None,
    *,
    spend: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Yearly spending potential done in physical stores, per area and category.

    ``spending * (1 - online_share)``, see :func:`online_share`. Same layout as
    :func:`spending` (``id``, categories, ``total``; currency per year).

    Parameters
    ----------
    areas : DataFrame
    params : DemandParams, optional
    spend : DataFrame, optional
        A precomputed :func:`spending` table for ``areas`` (saves recomputing it).
    """
    params = params or DemandParams()
    spend = spending(areas, params) if spend is None else spend
    keep = 1.0 - online_share(areas, params)
    out = spend.copy()
    for name in [*params.category_names, "total"]:
        out[name] = spend[name].to_numpy(dtype=np.float64) * keep
    return out


def brand_affinity(areas: pd.DataFrame, params: DemandParams | None = None) -> np.ndarray:
    """Brand-affinity multiplier per area from our own web-shop orders.

    .. math::

        a_i = \\operatorname{clip}\\left(\\left(\\frac{o_i / P_i}{\\sum_k o_k / \\sum_k P_k}
              \\right)^{\\beta}, a_{\\min}, a_{\\max}\\right)

    with ``o`` = ``online_orders`` (orders per year), ``P`` = population, ``beta`` =
    ``params.affinity_beta``. The reference is the population-weighted national mean
    orders per capita, so an area ordering at the national rate gets 1. Areas with zero
    population, and every area when the column is absent or has no orders, get 1; areas
    with zero orders get ``affinity_min``. The multiplier scales the attractiveness of
    our stores (not rivals') in the Huff model of :mod:`storeplan.market`.

    Returns
    -------
    ndarray of float64, shape (n_areas,)
    """
    params = params or DemandParams()
    n = len(areas)
    ones = np.ones(n, dtype=np.float64)
    if "online_orders" not in areas.columns:
        return ones
    pop = _population(areas)
    orders = pd.to_numeric(areas["online_orders"], errors="coerce").to_numpy(dtype=np.float64)
    orders = np.where(np.isfinite(orders), orders, np.nan)
    if np.any(orders[np.isfinite(orders)] < 0):
        raise NegativeValueError("online_orders must be >= 0")
    ok = np.isfinite(orders) & (pop > 0)
    if not np.any(ok) or orders[ok].sum() <= 0:
        return ones
    mean_pc = orders[ok].sum() / pop[ok].sum()
    rel = np.ones(n)
    rel[ok] = orders[ok] / pop[ok] / mean_pc
    with np.errstate(divide="ignore"):
        aff = np.where(rel > 0, rel**params.affinity_beta, 0.0)
    aff = np.clip(aff, params.affinity_min, params.affinity_max)
    aff[~ok] = 1.0
    return aff


def online_revenue(areas: pd.DataFrame, params: DemandParams | None = None) -> np.ndarray:
    """Our own online revenue per area, currency per year.

    ``online_orders * params.online_order_value``; zeros when the column is absent.
    """
    params = params or DemandParams()
    if "online_orders" not in areas.columns:
        return np.zeros(len(areas), dtype=np.float64)
    orders = pd.to_numeric(areas["online_orders"], errors="coerce").to_numpy(dtype=np.float64)
    orders = np.where(np.isfinite(orders), orders, 0.0)
    if np.any(orders < 0):
        raise NegativeValueError("online_orders must be >= 0")
    return orders * params.online_order_value
