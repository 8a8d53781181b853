"""The ``[world]`` section of a scenario: planning many countries at once.

A world scenario plans stores in several countries over the ``[rollout]`` years. Each
country is planned in its own currency (areas' incomes, prices, costs) and the totals
are reported in one planning currency; countries are coupled only by the global yearly
limits of ``[rollout]`` (store counts, capital budget) and by the country-entry rules of
this section (see :mod:`storeplan.world`).
"""

from __future__ import annotations

import math
import re
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["WorldSpec"]

_CODE = re.compile(r"^[A-Z]{3}$")
_ISO2 = re.compile(r"^[A-Z]{2}$")


class WorldSpec(BaseModel):
    """The ``[world]`` section of a scenario file (frozen).

    Example::

        [world]
        planning_currency = "USD"
        fx_date = "2025-12-31"                 # ECB reference rates of this day
        fx = { VND = 26_300.0 }                # units per 1 USD where the ECB has none
        new_countries_per_year = 6             # most countries entered per year
        min_network = 10                       # fewest stores a country opens when entered
        country_caps = [40, 120, 300, 600, 900]  # most new stores per country, by year of presence
        cars = ["AE", "SA"]                    # countries where the car category is sold

    Parameters
    ----------
    planning_currency : str
        ISO 4217 code of the currency of the totals and of every amount the scenario file
        gives (format costs, ``[rollout]`` budgets and targets, ``[demand]`` prices at a
        price level of 1). Default ``"USD"``.
    fx_date : str, optional
        ISO date of the ECB reference rates (:func:`storeplan.datasets.exchange_rates`);
        the last fixing on or before it is used. Default: the newest bundled fixing.
    fx : dict of str to float
        Rates that replace or complete the bundled table: units of the currency per one
        unit of ``planning_currency`` (e.g. ``{ VND = 26_300 }``).
    fx_fallback : {"planning", "error"}
        A country whose currency has no rate: ``"planning"`` (default) plans it in the
        planning currency and says so (``countries.csv`` column ``currency``);
        ``"error"`` refuses the scenario, naming the countries.
    new_countries_per_year : int or list of int
        Most countries entered (first stores opened) per rollout year.
    min_network : int
        Fewest new stores a country opens in its entry year (a minimum viable network);
        a country is entered with at least this many stores or not at all.
    country_caps : list of int
        Most new stores a country opens in its ``k``-th year of presence (``k = 1`` is the
        entry year); the last entry repeats. The caps ramp with experience.
    countries_max_stores : dict of str to int
        Most stores in a country over the whole rollout (ISO2 code -> stores).
    cars : list of str
        Countries (ISO2) where the ``cars`` demand category is sold; elsewhere its
        spending is zero. Only meaningful when ``[demand]`` has a ``cars`` category.
    cost_elasticity : float
        Format costs (``opening_cost``, ``fixed_cost``, given at ``reference_income``)
        scale with ``(country income / reference_income) ** cost_elasticity``, clipped to
        ``cost_level_range``: rents and wages follow incomes. 0: the same cost everywhere.
    reference_income : float
        Income per person per year, planning currency, at which the formats' costs apply.
    cost_level_range : (float, float)
        Lowest and highest cost multiplier.
    block : int
        Stores per allocation unit of the master problem (the allocation to countries
        and years is in multiples of ``block``; default ``min_network``).
    master_seconds : float
        Time limit of each master problem (allocation and bound), seconds.
    country_seconds : float
        Time limit of each country's solve, seconds (split over its phases).
    compare_allocations : bool
        Also plan each country under the sequence allocation
        (:func:`storeplan.world.master.allocate`) where it differs from the joint
        programme's, and keep the best combination of country plans that keeps the
        global limits (:func:`storeplan.world.master.select_plans`). Default True; at
        most doubles the countries phase.
    target_stores : int, optional
        Stores open at the end of the rollout the plan is held against (reported).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    planning_currency: str = "USD"
    fx_date: str | None = None
    fx: dict[str, float] = Field(default_factory=dict)
    fx_fallback: Literal["planning", "error"] = "planning"
    new_countries_per_year: int | list[int] = Field(5)
    min_network: int = Field(10, ge=1)
    country_caps: list[int] = Field(default_factory=lambda: [40, 120, 300, 600, 900])
    countries_max_stores: dict[str, int] = Field(default_factory=dict)
    cars: tuple[str, ...] = ()
    cost_elasticity: float = Field(0.5, ge=0.0, le=2.0)
    reference_income: float = Field(12_000.0, gt=0.0)
    cost_level_range: tuple[float, float] = (0.25, 2.0)
    block: int | None = Field(None, ge=1)
    master_seconds: float = Field(60.0, gt=0.0)
    country_seconds: float = Field(30.0, gt=0.0)
    compare_allocations: bool = True
    target_stores: int | None = Field(None, ge=0)

    @field_validator("planning_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        code = str(v).strip().upper()
        if not _CODE.match(code):
            raise ValueError(f"planning_currency must be an ISO 4217 code such as 'USD', got {v!r}")
        return code

    @field_validator("fx")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        out = {}
        for k, rate in v.items():
            code = str(k).strip().upper()
            if not _CODE.match(code):
                raise ValueError(f"fx: {k!r} is not an ISO 4217 currency code")
            if not (math.isfinite(rate) and rate > 0):
                raise ValueError(f"fx[{k!r}] must be a positive number, got {rate}")
            out[code] = float(rate)
        return out

    @field_validator("cars")
    @classmethod
    def _iso2(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(str(c).strip().upper() for c in v)
        bad = [c for c in out if not _ISO2.match(c)]
        if bad:
            raise ValueError(f"cars: {bad} are not ISO 3166-1 alpha-2 codes")
        return out

    @model_validator(mode="after")
    def _check(self) -> WorldSpec:
        if not self.country_caps or any((not isinstance(c, int)) or c < 0 for c in self.country_caps):
            raise ValueError("country_caps must be a non-empty list of integers >= 0")
        if self.country_caps[0] < self.min_network:
            raise ValueError(
                f"country_caps[0] = {self.country_caps[0]} is below min_network = {self.min_network}: "
                "no country could be entered"
            )
        k = self.new_countries_per_year
        vals = [k] if isinstance(k, int) else list(k)
        if not vals or any(x < 0 for x in vals):
            raise ValueError("new_countries_per_year must be integers >= 0")
        lo, hi = self.cost_level_range
        if not (0 < lo <= hi):
            raise ValueError(f"cost_level_range must satisfy 0 < low <= high, got {self.cost_level_range}")
        for c, n in self.countries_max_stores.items():
            if not _ISO2.match(str(c).upper()) or n < 0:
                raise ValueError(f"countries_max_stores: {c!r} = {n} (ISO2 code -> stores >= 0)")
        return self

    # -- per-year views
    @property
    def unit(self) -> int:
        """Stores per allocation unit (``block``, default ``min_network``)."""
        return int(self.block if self.block is not None else self.min_network)

    def entries(self, years: int) -> np.ndarray:
        """Most countries entered per year, ``years`` entries (int64)."""
        k = self.new_countries_per_year
        if isinstance(k, int):
            return np.full(years, k, np.int64)
        if len(k) != years:
            raise ValueError(f"new_countries_per_year has {len(k)} entries but the rollout has {years} years")
        return np.asarray(k, np.int64)

    def caps(self, years: int) -> np.ndarray:
        """Most new stores per country by year of presence ``1..years`` (int64)."""
        c = list(self.country_caps)
        return np.asarray((c + [c[-1]] * years)[:years], np.int64)

    def cost_level(self, income: float) -> float:
        """Cost multiplier of a country whose mean income is ``income`` (planning currency
        per person per year)."""
        if not (math.isfinite(income) and income > 0):
            return 1.0
        lo, hi = self.cost_level_range
        return float(np.clip((income / self.reference_income) ** self.cost_elasticity, lo, hi))
