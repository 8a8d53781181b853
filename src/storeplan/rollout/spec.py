"""The ``[rollout]`` section of a scenario: years, caps, budgets, ramp-up, discounting."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["RolloutSpec", "NEVER"]

#: Opening year of a site that is not opened.
NEVER = -1


def _per_year(value: Any, years: int, name: str) -> list | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return [value] * years
    out = list(value)
    if len(out) != years:
        raise ValueError(f"{name} has {len(out)} entries but the rollout has {years} years")
    return out


class RolloutSpec(BaseModel):
    """The ``[rollout]`` section of a scenario file (frozen).

    Example::

        [rollout]
        years = 3
        stores_per_year = [200, 350, 450]     # most new stores per year (or one number)
        min_stores_per_year = 150             # fewest new stores per year (optional)
        budget_per_year = 400_000_000         # capital for opening costs, currency per year
        ramp_months = 12                      # months to full sales
        ramp_shape = "linear"                 # or "s_curve"
        discount_rate = 0.08                  # per year
        gross_margin = 0.30                   # share of sales left after cost of goods
        target_revenue = [2e9, 6e9, 12e9]     # store sales target per year, currency
        horizon_years = 10                    # NPV horizon, years (>= years)

    Parameters
    ----------
    years : int
        Rollout years (stores open in years ``1..years``).
    start_year : int, optional
        Calendar year of rollout year 1 (labels only, e.g. 2027).
    stores_per_year : int or list of int, optional
        Most new stores opened per year (one number for every year). None: no limit.
    min_stores_per_year : int or list of int, optional
        Fewest new stores opened per year (opened even at a negative marginal NPV).
    budget_per_year : float or list of float, optional
        Capital budget per year for opening costs, currency. None: no limit.
    ramp_months : float
        Months for a new store to reach full sales (0: full from day one).
    ramp_shape : {"linear", "s_curve"}
    discount_rate : float
        Yearly discount rate (0.08 = 8 % per year).
    gross_margin : float
        Share of sales (0..1) that is cash to the brand after cost of goods and variable
        costs; fixed and opening costs are subtracted from it. Default 0.30 (assumption).
    target_revenue : list of float or dict, optional
        Store sales target, currency per year; sales of existing and new stores count.
        A list gives years ``1, 2, ...`` (up to the horizon; ``None`` or missing entries:
        no target). A table gives selected years, e.g. ``{ 5 = 70e9 }`` (year 5) or, with
        ``start_year``, calendar years ``{ 2030 = 70e9 }``; years after the rollout
        (within the horizon) are allowed.
    horizon_years : int, optional
        Years of cash flow in the NPV (default ``max(years, 10)``).
    objective : {"npv", "net_revenue"}
        What :func:`schedule` maximises: discounted cash flow, or the undiscounted
        cumulative net cash (``margin x sales - costs``) over the horizon.
    spend_per_person : float
        Fallback oracle only (:func:`oracle_from_plan`): yearly spending at our store per
        person it serves, currency per person per year.
    must_open_year : dict of str to int
        Site id -> year for must-open sites that open later than year 1.
    improve_evaluations : int, optional
        Most schedule evaluations of the swap improvement after the greedy construction
        (0: no improvement). A count, not a time, so a schedule is the same on every
        machine and engine. Default: ``2_000_000 / (sites x years)`` clipped to 50..2000
        (one evaluation costs about ``years`` oracle calls over the open sites).
    improve_seconds : float
        Safety time limit of the swap improvement, seconds (results depend on the machine
        only when it binds).
    universe : {"auto", "candidates", "plan"}
        Which sites the schedule may open. ``"candidates"``: every candidate site of the
        scenario (the *joint* rollout: sites and years are chosen together, and the
        stores it opens become the plan); ``"plan"``: only the stores of the single-year
        plan (the schedule sequences them). ``"auto"`` (default): ``"candidates"`` for
        the ``revenue`` objective (whose value the NPV extends), ``"plan"`` for the
        distance and coverage objectives.
    carry_over : bool
        Unspent opening budget of a year is added to the next year's
        ``budget_per_year`` (default false: a year's budget is lost when unspent).
    terminal_value : bool
        Add a terminal value to the NPV: the last horizon year's running cash flow
        (``margin x sales - fixed costs``) as a growing perpetuity,
        ``CF_H (1 + g) / (r - g)``, discounted from the end of year ``H`` (default
        false: no value after the horizon). Needs ``discount_rate > terminal_growth``;
        ignored by ``objective = "net_revenue"``.
    terminal_growth : float
        Yearly growth ``g`` of the terminal perpetuity (default 0).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    years: int = Field(3, ge=1, le=50)
    start_year: int | None = None
    stores_per_year: int | list[int] | None = None
    min_stores_per_year: int | list[int] | None = None
    budget_per_year: float | list[float] | None = None
    ramp_months: float = Field(12.0, ge=0.0, le=600.0)
    ramp_shape: Literal["linear", "s_curve"] = "linear"
    discount_rate: float = Field(0.08, ge=0.0, le=1.0)
    gross_margin: float = Field(0.30, gt=0.0, le=1.0)
    target_revenue: list[float | None] | dict[int, float] | None = None
    horizon_years: int | None = Field(None, ge=1, le=100)
    objective: Literal["npv", "net_revenue"] = "npv"
    spend_per_person: float = Field(1_000.0, ge=0.0)
    must_open_year: dict[str, int] = Field(default_factory=dict)
    improve_evaluations: int | None = Field(None, ge=0)
    improve_seconds: float = Field(60.0, ge=0.0)
    universe: Literal["auto", "candidates", "plan"] = "auto"
    carry_over: bool = False
    terminal_value: bool = False
    terminal_growth: float = Field(0.0, ge=-0.5, le=0.5)

    @model_validator(mode="after")
    def _check(self) -> RolloutSpec:
        y = self.years
        hi = _per_year(self.stores_per_year, y, "stores_per_year")
        lo = _per_year(self.min_stores_per_year, y, "min_stores_per_year")
        bud = _per_year(self.budget_per_year, y, "budget_per_year")
        for name, vals in (("stores_per_year", hi), ("min_stores_per_year", lo), ("budget_per_year", bud)):
            if vals is not None and any((v is None) or (not math.isfinite(v)) or v < 0 for v in vals):
                raise ValueError(f"{name} must be finite and >= 0")
        if hi is not None and lo is not None:
            for t, (a, b) in enumerate(zip(lo, hi, strict=True), start=1):
                if a > b:
                    raise ValueError(f"year {t}: min_stores_per_year {a} > stores_per_year {b}")
        if self.horizon_years is not None and self.horizon_years < y:
            raise ValueError(f"horizon_years {self.horizon_years} < years {y}")
        if self.terminal_value and self.objective == "npv" and self.discount_rate <= self.terminal_growth:
            raise ValueError(
                f"terminal_value needs discount_rate ({self.discount_rate}) > terminal_growth "
                f"({self.terminal_growth})"
            )
        self.targets()  # raises ValueError on a bad year or value
        for sid, yr in self.must_open_year.items():
            if not 1 <= yr <= y:
                raise ValueError(f"must_open_year[{sid!r}] = {yr} is outside 1..{y}")
        return self

    # -- per-year views (arrays of length ``years``)
    @property
    def horizon(self) -> int:
        """NPV horizon in years."""
        return self.horizon_years if self.horizon_years is not None else max(self.years, 10)

    def max_stores(self) -> np.ndarray:
        """Most new stores per year (int64; a huge number where unlimited)."""
        v = _per_year(self.stores_per_year, self.years, "stores_per_year")
        return np.full(self.years, 2**62, np.int64) if v is None else np.asarray(v, np.int64)

    def min_stores(self) -> np.ndarray:
        """Fewest new stores per year (int64)."""
        v = _per_year(self.min_stores_per_year, self.years, "min_stores_per_year")
        return np.zeros(self.years, np.int64) if v is None else np.asarray(v, np.int64)

    def budgets(self) -> np.ndarray:
        """Capital budget per year, currency (``inf`` where unlimited)."""
        v = _per_year(self.budget_per_year, self.years, "budget_per_year")
        return np.full(self.years, np.inf) if v is None else np.asarray(v, np.float64)

    def targets(self, horizon: int | None = None) -> np.ndarray:
        """Sales target per year ``1..horizon``, currency per year (NaN: none)."""
        h = self.horizon if horizon is None else horizon
        out = np.full(h, np.nan)
        tr = self.target_revenue
        if tr is None:
            return out
        items: list[tuple[int, float | None, Any]]
        if isinstance(tr, dict):
            items = []
            for k, v in tr.items():
                t = int(k)
                if self.start_year is not None and t >= self.start_year:
                    t = t - self.start_year + 1
                items.append((t, v, k))
        else:
            items = [(t, v, t) for t, v in enumerate(tr, start=1)]
        for t, maybe, label in items:
            if maybe is None:
                continue
            v = float(maybe)
            if not 1 <= t <= self.horizon:
                raise ValueError(f"target_revenue: year {label} is outside the horizon 1..{self.horizon}")
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"target_revenue: year {label} target must be finite and >= 0")
            if t <= h:
                out[t - 1] = float(v)
        return out

    def discount(self, horizon: int | None = None) -> np.ndarray:
        """End-of-year discount factors ``(1 + r) ** -t`` for ``t = 1..horizon``."""
        h = self.horizon if horizon is None else horizon
        return (1.0 + self.discount_rate) ** -np.arange(1, h + 1, dtype=np.float64)

    def terminal_factor(self) -> float:
        """Terminal value as a multiple of the last horizon year's running cash flow,
        ``(1 + g) / (r - g)`` (0 without ``terminal_value`` or for ``net_revenue``)."""
        if not self.terminal_value or self.objective != "npv":
            return 0.0
        g = self.terminal_growth
        return (1.0 + g) / (self.discount_rate - g)

    def value_weights(self, horizon: int | None = None) -> np.ndarray:
        """Weight of each year's running cash flow (``margin x sales - fixed costs``) in
        the schedule's value: the discount factor (1 for ``net_revenue``), the last year's
        raised by the terminal value (:meth:`terminal_factor`)."""
        h = self.horizon if horizon is None else horizon
        w = self.discount(h) if self.objective == "npv" else np.ones(h)
        w[-1] *= 1.0 + self.terminal_factor()
        return w

    def budget_limits(self) -> tuple[np.ndarray, bool]:
        """``(limits, cumulative)``: the yearly budgets, and whether they bind on the
        cumulative spend (``carry_over``: spend to year ``t`` <= budgets to year ``t``)."""
        b = self.budgets()
        return (np.cumsum(b), True) if self.carry_over else (b, False)

    def year_labels(self, horizon: int | None = None) -> np.ndarray:
        """Year labels ``1..H`` or calendar years when ``start_year`` is set."""
        h = self.horizon if horizon is None else horizon
        base = np.arange(1, h + 1)
        return base if self.start_year is None else base + self.start_year - 1
