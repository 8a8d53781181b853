r"""Multi-year rollout: which stores open in which year.

A rollout assigns every site of a *universe* (the stores of a plan, or any candidate
list) an opening year ``1..years`` or "not opened" (``-1``); our existing stores are
open from year ``0``. The value of a schedule is the net present value of the store
cash flows

.. math::

    \mathrm{NPV} = \sum_{t=1}^{H} \frac{1}{(1+r)^t} \sum_{j \in S_t}
        \bigl( m\,\rho_j(t)\,R_j(S_t) - F_j - C_j [o_j = t] \bigr)

with :math:`S_t` the stores open in year :math:`t` (the set of year ``years`` for later
years up to the horizon :math:`H`), :math:`R_j(S)` the full-ramp revenue of store
:math:`j` when the stores :math:`S` are open (currency per year, from a *value oracle*
that accounts for cannibalisation), :math:`\rho_j(t)` the ramp-up factor of year
:math:`t`, :math:`m` the gross margin, :math:`F_j` the fixed cost (currency per year) and
:math:`C_j` the opening cost (currency, once).

Conventions (also used by :mod:`storeplan.forecast`):

- a store opening "in year ``o``" opens on the first day of that year;
- every cash flow of year ``t`` (revenue, fixed cost, opening cost) is counted at the
  **end** of year ``t`` and discounted by :math:`(1+r)^{-t}` (end-of-year convention);
- ramp-up: a new store's sales reach the full rate over ``ramp_months``; ``linear``
  :math:`f(a) = \min(a/N, 1)`, ``s_curve`` the smoothstep :math:`f(a) = 3x^2 - 2x^3`,
  :math:`x = \min(a/N, 1)` (slow start, fast middle, slow finish), with :math:`a` the age
  in months; :math:`\rho_j(t)` is the average of :math:`f` over the 12 months of year
  ``t`` (exact integral). Existing stores are mature (:math:`\rho = 1`);
- cannibalisation is the oracle's: a ramping store takes revenue from its neighbours at
  full strength from its first day (conservative for the neighbours);
- no terminal value after the horizon; unused capital budget does not carry over.

The oracle keeps the schedule independent of the market model: any callable
``oracle(open_idx) -> revenue`` (one value per open site, currency per year at full
ramp) works. :class:`HuffOracle` (from :mod:`storeplan.market`), :class:`NearestOracle`
(each area's spending goes to its nearest open store within a radius) and
:class:`AdditiveOracle` (fixed revenue per store, no cannibalisation) also provide a
vectorised ``gains`` method used by :func:`schedule` to evaluate every candidate at once.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import InfeasibleError, InputError

__all__ = [
    "RolloutSpec",
    "RevenueOracle",
    "AdditiveOracle",
    "NearestOracle",
    "HuffOracle",
    "Schedule",
    "schedule",
    "ramp_factor",
    "ramp_matrix",
    "evaluate",
    "oracle_from_plan",
    "oracle_from_market",
    "rollout_plan",
    "market_for_plan",
    "NEVER",
]

#: Opening year of a site that is not opened.
NEVER = -1


# ----------------------------------------------------------------------------- spec


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
        if isinstance(tr, dict):
            items = []
            for k, v in tr.items():
                t = int(k)
                if self.start_year is not None and t >= self.start_year:
                    t = t - self.start_year + 1
                items.append((t, v, k))
        else:
            items = [(t, v, t) for t, v in enumerate(tr, start=1)]
        for t, v, label in items:
            if v is None:
                continue
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

    def year_labels(self, horizon: int | None = None) -> np.ndarray:
        """Year labels ``1..H`` or calendar years when ``start_year`` is set."""
        h = self.horizon if horizon is None else horizon
        base = np.arange(1, h + 1)
        return base if self.start_year is None else base + self.start_year - 1


# ----------------------------------------------------------------------------- ramp-up


def _ramp_integral(x: np.ndarray, shape: str) -> np.ndarray:
    """``integral_0^x f(u) du`` (x in ramp units, f the unit ramp), for x >= 0."""
    xc = np.minimum(x, 1.0)
    if shape == "linear":
        inner = xc**2 / 2.0
    elif shape == "s_curve":
        inner = xc**3 - xc**4 / 2.0
    else:
        raise InputError(f"ramp_shape {shape!r} is not 'linear' or 's_curve'")
    return inner + np.maximum(x - 1.0, 0.0)


def ramp_factor(
    age_months: np.ndarray | float, ramp_months: float, shape: str = "linear", period_months: float = 12.0
) -> np.ndarray:
    """Average ramp-up factor over ``[age, age + period]`` months of a store's life.

    Parameters
    ----------
    age_months : array of float
        Store age at the start of the period, months (negative: not yet open; the part of
        the period before opening counts as 0).
    ramp_months : float
        Months to full sales; 0 means full sales from opening.
    shape : {"linear", "s_curve"}
    period_months : float
        Length of the period, months (12: one year).

    Returns
    -------
    ndarray of float64
        Average share of full-ramp sales over the period, in [0, 1].

    Examples
    --------
    >>> float(ramp_factor(0.0, 12.0))     # first year, linear 12-month ramp
    0.5
    >>> float(ramp_factor(12.0, 12.0))    # second year: full
    1.0
    """
    a = np.asarray(age_months, dtype=np.float64)
    lo = np.maximum(a, 0.0)
    hi = np.maximum(a + period_months, 0.0)
    if ramp_months <= 0:
        return (hi - lo) / period_months
    n = float(ramp_months)
    return (_ramp_integral(hi / n, shape) - _ramp_integral(lo / n, shape)) * n / period_months


def ramp_matrix(open_year: np.ndarray, spec: RolloutSpec, horizon: int | None = None) -> np.ndarray:
    """Ramp factors, shape ``(n_sites, horizon)``: row ``j``, column ``t - 1`` is
    :math:`\\rho_j(t)`; 0 before opening and for sites never opened, 1 for existing stores
    (``open_year == 0``)."""
    h = spec.horizon if horizon is None else horizon
    o = np.asarray(open_year, dtype=np.int64)
    t = np.arange(1, h + 1)
    age = (t[None, :] - o[:, None]) * 12.0
    out = ramp_factor(age, spec.ramp_months, spec.ramp_shape)
    out[o == 0, :] = 1.0
    out[o < 0, :] = 0.0
    return out


# ----------------------------------------------------------------------------- oracles


@runtime_checkable
class RevenueOracle(Protocol):
    """Value oracle: full-ramp yearly revenue of each open site given the open set.

    ``oracle(open_idx)`` takes sorted site indices (int64, into the rollout universe,
    existing stores included) and returns one revenue per index, currency per year,
    accounting for cannibalisation among the open sites. An oracle may also define
    ``gains(open_idx, weight, candidates) -> (own, delta)``: for each candidate ``c``,
    ``own[c]`` = its revenue when added to ``open_idx`` and ``delta[c]`` =
    ``sum_k weight[k] * (R_k(open + c) - R_k(open))`` over the open sites (``weight``
    aligned with ``open_idx``). :func:`schedule` uses it when present.
    """

    def __call__(self, open_idx: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class AdditiveOracle:
    """Fixed revenue per site, no cannibalisation (currency per year per site)."""

    revenue: np.ndarray

    def __call__(self, open_idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.revenue, np.float64)[np.asarray(open_idx, np.int64)]

    def gains(self, open_idx, weight, candidates) -> tuple[np.ndarray, np.ndarray]:
        c = np.asarray(candidates, np.int64)
        return np.asarray(self.revenue, np.float64)[c].copy(), np.zeros(len(c))


@dataclass(frozen=True)
class NearestOracle:
    """Each area's spending goes to its nearest open site among its stored pairs.

    Revenue of site ``j`` = ``sum`` of ``spend`` (currency per year) over the areas whose
    nearest open site is ``j`` (ties: the lower site index); an area none of whose stored
    sites is open spends nothing. A site opened next to another takes the areas now
    closer to it: cannibalisation by proximity. Total revenue is a weighted coverage
    function (monotone submodular in the open set).

    Build with :meth:`build` (pairs within ``radius_km`` plus, optionally, each area's
    ``k`` nearest sites); the pairs are held as a CSR matrix of km.

    Notes
    -----
    Calls cost O(pairs of the open sites); the greedy's pattern (the open set growing by
    a site) is served incrementally, O(pairs of the added sites).
    """

    km: Any  # scipy.sparse.csr_matrix (n_areas, n_sites), km; absent pair = out of reach
    spend: np.ndarray  # (n_areas,), currency per year
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls, area_lon, area_lat, spend, site_lon, site_lat, radius_km: float, k: int | None = None
    ) -> NearestOracle:
        """Pairs within ``radius_km`` (great-circle) of every area, plus its ``k`` nearest
        sites when ``k`` is given."""
        import scipy.sparse as sp

        from .geo import Network

        net = Network.build(
            np.asarray(area_lon, float),
            np.asarray(area_lat, float),
            np.asarray(site_lon, float),
            np.asarray(site_lat, float),
            radius_km=radius_km,
            k=k,
            dense_pair_limit=0,
        )
        data = np.maximum(net.km.astype(np.float64), 1e-9)  # keep explicit zeros stored
        m = sp.csr_matrix((data, net.indices, net.indptr), shape=(net.n_areas, net.n_sites))
        return cls(m, np.asarray(spend, np.float64))

    def _prepared(self) -> dict:
        if not self._index:
            m = self.km
            rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
            order = np.argsort(m.indices, kind="stable")
            ptr = np.zeros(m.shape[1] + 1, np.int64)
            np.cumsum(np.bincount(m.indices, minlength=m.shape[1]), out=ptr[1:])
            self._index.update(
                ptr=ptr,
                row=rows[order],
                km=np.asarray(m.data, np.float64)[order],
                n_areas=m.shape[0],
                n_sites=m.shape[1],
            )
        return self._index

    @staticmethod
    def _pairs(ix: dict, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ptr = ix["ptr"]
        lo, hi = ptr[sites], ptr[sites + 1]
        lens = hi - lo
        if len(sites) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        owner = np.repeat(np.arange(len(sites)), lens)
        start = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        return np.arange(int(lens.sum())) + start, owner

    @staticmethod
    def _merge(best, owner, r, d, c) -> None:
        """Fold candidate pairs (area r, km d, site c) into the per-area best, in place."""
        if len(r) == 0:
            return
        cur_d = best[r]
        cur_c = np.where(owner[r] >= 0, owner[r], np.iinfo(np.int64).max)
        better = (d < cur_d) | ((d == cur_d) & (c < cur_c))
        r, d, c = r[better], d[better], c[better]
        order = np.lexsort((c, d, r))  # per area: nearest first, then lower site index
        r, d, c = r[order], d[order], c[order]
        first = np.ones(len(r), bool)
        first[1:] = r[1:] != r[:-1]
        best[r[first]] = d[first]
        owner[r[first]] = c[first]

    def _state(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ix = self._prepared()
        prev = ix.get("state")
        if prev is not None and len(idx) >= len(prev[0]):
            old, best, owner = prev
            kept = np.isin(idx, old, assume_unique=True)
            if int(kept.sum()) == len(old):
                add = idx[~kept]
                pos, o = self._pairs(ix, add)
                self._merge(best, owner, ix["row"][pos], ix["km"][pos], add[o])
                ix["state"] = (idx.copy(), best, owner)
                return best, owner
        best = np.full(ix["n_areas"], np.inf)
        owner = np.full(ix["n_areas"], -1, np.int64)
        pos, o = self._pairs(ix, idx)
        self._merge(best, owner, ix["row"][pos], ix["km"][pos], idx[o])
        ix["state"] = (idx.copy(), best, owner)
        return best, owner

    def __call__(self, open_idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(open_idx, np.int64)
        _, owner = self._state(idx)
        has = owner >= 0
        rev = np.bincount(owner[has], weights=self.spend[has], minlength=self.km.shape[1])
        return rev[idx]

    def gains(self, open_idx, weight, candidates) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(open_idx, np.int64)
        best, owner = self._state(idx)
        ix = self._index
        w_site = np.zeros(ix["n_sites"])
        w_site[idx] = np.asarray(weight, np.float64)
        c = np.asarray(candidates, np.int64)
        pos, o = self._pairs(ix, c)
        r, d, j = ix["row"][pos], ix["km"][pos], c[o]
        cur = owner[r]
        wins = (d < best[r]) | ((d == best[r]) & (j < np.where(cur >= 0, cur, np.iinfo(np.int64).max)))
        own = np.bincount(o[wins], weights=self.spend[r[wins]], minlength=len(c))
        lost_w = np.where(cur >= 0, w_site[np.maximum(cur, 0)], 0.0)
        delta = -np.bincount(o[wins], weights=(self.spend[r] * lost_w)[wins], minlength=len(c))
        return own, delta


@dataclass(frozen=True)
class HuffOracle:
    """Adapter from a :class:`storeplan.market.Market` to the rollout universe.

    Parameters
    ----------
    market : storeplan.market.Market
    store : ndarray of int64, shape (n_sites,)
        Market store index of every rollout site (candidates toggled open/closed, our
        existing stores always open in the market, like the rivals).

    Revenue of a site is its gross Huff revenue (offline capture + transferred online
    revenue), identical to :func:`storeplan.market.predicted_sales`, currency per year.
    Candidates of the market that are not rollout sites stay closed.

    Notes
    -----
    The first call indexes the market's area x store pairs once (O(nnz)); after that a
    call or a ``gains`` evaluation costs O(pairs of the rollout sites + n_areas), not
    O(nnz): the always-open stores (existing, rivals) and the outside option are folded
    into one denominator per area.
    """

    market: Any
    store: np.ndarray
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def _prepared(self) -> dict:
        if not self._index:
            from .market import CANDIDATE

            mk = self.market
            net = mk.net
            rows = np.repeat(np.arange(net.n_areas, dtype=np.int64), np.diff(net.indptr))
            cols = net.indices
            cand_pair = mk.kind[cols] == CANDIDATE
            base = np.bincount(rows, weights=np.where(cand_pair, 0.0, mk.utility), minlength=net.n_areas)
            base = base + mk.outside_u
            # pairs of every rollout site, grouped by site (rollout order)
            n = len(self.store)
            site_of_store = np.full(net.n_sites, -1, np.int64)
            site_of_store[self.store] = np.arange(n)
            site_pair = site_of_store[cols]
            sel = np.flatnonzero(site_pair >= 0)
            order = sel[np.argsort(site_pair[sel], kind="stable")]
            counts = np.bincount(site_pair[order], minlength=n)
            ptr = np.zeros(n + 1, np.int64)
            np.cumsum(counts, out=ptr[1:])
            self._index.update(
                n_areas=net.n_areas,
                base=base,
                ptr=ptr,
                row=rows[order],
                util=mk.utility[order],
                toggled=(mk.kind[self.store] == CANDIDATE),
                spend=mk.market + mk.params.transfer_rate * mk.online,
            )
        return self._index

    @staticmethod
    def _pairs(ix: dict, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair positions of ``sites`` (concatenated) and the position of each pair's site."""
        ptr = ix["ptr"]
        lo, hi = ptr[sites], ptr[sites + 1]
        lens = hi - lo
        owner = np.repeat(np.arange(len(sites)), lens)
        start = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) if len(sites) else lo
        pos = np.arange(int(lens.sum())) + start
        return pos, owner

    def _den(self, ix: dict, open_idx: np.ndarray) -> np.ndarray:
        tog = open_idx[ix["toggled"][open_idx]]
        pos, _ = self._pairs(ix, tog)
        return ix["base"] + np.bincount(ix["row"][pos], weights=ix["util"][pos], minlength=ix["n_areas"])

    def __call__(self, open_idx: np.ndarray) -> np.ndarray:
        ix = self._prepared()
        idx = np.asarray(open_idx, np.int64)
        den = self._den(ix, idx)
        pos, owner = self._pairs(ix, idx)
        r = ix["row"][pos]
        safe = np.where(den > 0, den, 1.0)
        return np.bincount(owner, weights=ix["spend"][r] * ix["util"][pos] / safe[r], minlength=len(idx))

    def _state(self, ix: dict, idx: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Denominator and weighted own utility per area for the open sites ``idx`` with
        weights ``w``; updated incrementally when the previous call's open set grew by a
        few sites with the old weights unchanged (the greedy's pattern)."""
        prev = ix.get("state")
        if prev is not None and len(idx) >= len(prev[0]):
            old_idx, old_w, den, v = prev
            kept = np.isin(idx, old_idx, assume_unique=True)
            if int(kept.sum()) == len(old_idx) and np.array_equal(w[kept], old_w):
                add, w_add = idx[~kept], w[~kept]
                if len(add):
                    pos, owner = self._pairs(ix, add)
                    r, u = ix["row"][pos], ix["util"][pos]
                    tog = ix["toggled"][add][owner]
                    np.add.at(den, r[tog], u[tog])
                    np.add.at(v, r, u * w_add[owner])
                ix["state"] = (idx.copy(), w.copy(), den, v)
                return den, v
        den = self._den(ix, idx)
        pos, owner = self._pairs(ix, idx)
        v = np.bincount(ix["row"][pos], weights=ix["util"][pos] * w[owner], minlength=ix["n_areas"])
        ix["state"] = (idx.copy(), w.copy(), den, v)
        return den, v

    def gains(self, open_idx, weight, candidates) -> tuple[np.ndarray, np.ndarray]:
        ix = self._prepared()
        idx = np.asarray(open_idx, np.int64)
        den, v = self._state(ix, idx, np.asarray(weight, np.float64))
        c = np.asarray(candidates, np.int64)
        cpos, cowner = self._pairs(ix, c)
        r, u = ix["row"][cpos], ix["util"][cpos]
        d0 = den[r]
        d1 = d0 + u
        safe0 = np.where(d0 > 0, d0, 1.0)
        safe1 = np.where(d1 > 0, d1, 1.0)
        spend = ix["spend"][r]
        own = np.bincount(cowner, weights=spend * u / safe1, minlength=len(c))
        delta = np.bincount(
            cowner, weights=spend * v[r] * (1.0 / safe1 - 1.0 / safe0) * (d0 > 0), minlength=len(c)
        )
        return own, delta


def oracle_from_market(market: Any, site_ids: Sequence[str]) -> HuffOracle:
    """A :class:`HuffOracle` for the rollout sites ``site_ids`` (market store ids).

    Raises
    ------
    InputError
        A site id is not a store of the market.
    """
    pos = {s: k for k, s in enumerate(np.asarray(market.store_ids, dtype=object))}
    missing = [s for s in site_ids if str(s) not in pos]
    if missing:
        raise InputError(f"rollout: site id(s) {', '.join(map(str, missing[:5]))} are not in the market")
    return HuffOracle(market, np.array([pos[str(s)] for s in site_ids], dtype=np.int64))


def oracle_from_plan(
    plan: Any, spend_per_person: float = 1_000.0, *, radius_km: float | None = None, k: int | None = None
) -> RevenueOracle:
    """Fallback oracle for any :class:`storeplan.plan.Plan` (no market model needed).

    With the plan's areas (``lon, lat, population``) available: a :class:`NearestOracle`
    where every area's ``population x spend_per_person`` (currency per year) goes to its
    nearest open store within ``radius_km`` (default: the plan's ``metrics['radius_km']``,
    else 15 km): a catchment model, so a new store adds the people it brings within
    reach and takes from its neighbours those now nearer to it. With every store open
    each store sells its ``covered_population x spend_per_person``. ``k`` also keeps
    each area's ``k`` nearest stores (a store sells to its nearest-store areas however
    far; with all open that is ``demand_captured x spend_per_person`` of a p-median
    plan). Otherwise (a loaded plan): an :class:`AdditiveOracle` with
    ``stores.demand_captured x spend_per_person``, no cannibalisation.
    Site ``j`` is row ``j`` of ``plan.stores``.
    """
    stores = plan.stores
    areas = getattr(plan, "areas", None)
    if areas is not None and len(areas) and {"lon", "lat", "population"} <= set(areas.columns):
        if radius_km is None:
            radius_km = float(plan.metrics.get("radius_km") or 15.0)
        spend = areas["population"].to_numpy(np.float64) * spend_per_person
        return NearestOracle.build(
            areas["lon"], areas["lat"], spend, stores["lon"], stores["lat"], max(radius_km, 1e-6), k=k
        )
    demand = (
        stores["demand_captured"].to_numpy(np.float64)
        if "demand_captured" in stores
        else np.zeros(len(stores))
    )
    return AdditiveOracle(demand * spend_per_person)


# ----------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Schedule:
    """A rollout schedule and its value.

    Attributes
    ----------
    ids : ndarray of object, shape (n_sites,)
    open_year : ndarray of int64, shape (n_sites,)
        0 existing, ``1..years`` opening year, :data:`NEVER` (-1) not opened.
    opening_cost : ndarray of float64
        Currency, once (existing stores: ignored).
    fixed_cost : ndarray of float64
        Currency per year while open.
    spec : RolloutSpec
    npv : float
        NPV of all store cash flows over the horizon (existing stores included), currency.
    npv_new : float
        ``npv`` minus the NPV of the existing stores alone: the value the rollout adds.
    bound : float
        Upper bound on ``npv`` (valid when the oracle's revenue is submodular and the
        ramp-up is instant, see :func:`schedule`); NaN when not computed.
    gap : float
        ``(bound - npv) / |npv|`` (NaN without a bound).
    method : str
    seconds : float
    evaluations : int
        Oracle calls (``gains`` calls count once).
    extra : dict
        Region per site and other labels (``region`` when known).
    oracle : callable
        The value oracle the schedule was made with (used by
        :func:`storeplan.forecast.forecast` when none is given).
    must_year, forbidden : ndarray, optional
        Year each must-open site had to open in (0: none) and the forbidden mask, kept to
        re-run the schedule (:func:`storeplan.forecast.stores_to_meet_target`).
    """

    ids: np.ndarray
    open_year: np.ndarray
    opening_cost: np.ndarray
    fixed_cost: np.ndarray
    spec: RolloutSpec
    npv: float
    npv_new: float
    bound: float
    gap: float
    method: str
    seconds: float
    evaluations: int
    extra: dict = field(default_factory=dict)
    oracle: Any = field(default=None, repr=False, compare=False)
    must_year: np.ndarray | None = field(default=None, repr=False, compare=False)
    forbidden: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def years(self) -> int:
        return self.spec.years

    def opened_per_year(self) -> np.ndarray:
        """New stores opened in each rollout year (int64, length ``years``)."""
        o = self.open_year
        return np.bincount(o[o >= 1], minlength=self.years + 1)[1:].astype(np.int64)

    def capex_per_year(self) -> np.ndarray:
        """Opening costs spent in each rollout year, currency (length ``years``)."""
        o = self.open_year
        sel = o >= 1
        return np.bincount(o[sel], weights=self.opening_cost[sel], minlength=self.years + 1)[1:]

    def to_frame(self) -> pd.DataFrame:
        """``id, open_year, status (existing/new/not opened), opening_cost, fixed_cost``
        (+ ``region`` when known), sorted by opening year."""
        status = np.where(self.open_year == 0, "existing", np.where(self.open_year > 0, "new", "not opened"))
        df = pd.DataFrame(
            {
                "id": self.ids,
                "open_year": self.open_year,
                "status": status,
                "opening_cost": self.opening_cost,
                "fixed_cost": self.fixed_cost,
            }
        )
        if "region" in self.extra:
            df["region"] = self.extra["region"]
        key = np.where(self.open_year < 0, 10**6, self.open_year)
        return df.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def evaluate(
    oracle: Callable[[np.ndarray], np.ndarray],
    open_year: np.ndarray,
    spec: RolloutSpec,
    opening_cost: np.ndarray,
    fixed_cost: np.ndarray,
    *,
    discount: bool = True,
) -> dict[str, np.ndarray]:
    """Cash flows of a schedule, arrays of shape ``(n_sites, horizon)`` (currency per year).

    Returns ``revenue`` (sales with ramp-up), ``full_revenue`` (at full ramp),
    ``ramp``, ``opening`` (opening cost in the opening year), ``fixed``, ``cash`` (``margin x
    revenue - fixed - opening``), ``discount`` (factor per year) and ``value`` (scalar array:
    NPV, or undiscounted total with ``discount=False``). ``horizon`` oracle calls at most
    (years after the rollout reuse the last year's set).
    """
    o = np.asarray(open_year, np.int64)
    n, h = len(o), spec.horizon
    full = np.zeros((n, h))
    cache: dict[bytes, np.ndarray] = {}
    for t in range(1, h + 1):
        idx = np.flatnonzero((o >= 0) & (o <= t))
        key = idx.tobytes()
        if key not in cache:
            cache[key] = _revenue(oracle, idx)
        full[idx, t - 1] = cache[key]
    ramp = ramp_matrix(o, spec, h)
    revenue = full * ramp
    opened = (o[:, None] >= 0) & (o[:, None] <= np.arange(1, h + 1)[None, :])
    fixed = np.where(opened, np.asarray(fixed_cost, np.float64)[:, None], 0.0)
    opening = np.zeros((n, h))
    new = np.flatnonzero(o >= 1)
    opening[new, o[new] - 1] = np.asarray(opening_cost, np.float64)[new]
    cash = spec.gross_margin * revenue - fixed - opening
    disc = spec.discount(h) if discount else np.ones(h)
    return {
        "revenue": revenue,
        "full_revenue": full,
        "ramp": ramp,
        "opening": opening,
        "fixed": fixed,
        "cash": cash,
        "discount": disc,
        "value": np.asarray(float(cash.sum(axis=0) @ disc)),
        "calls": np.asarray(len(cache)),
    }


def _revenue(oracle, idx: np.ndarray) -> np.ndarray:
    """``oracle(idx)`` checked: one finite, non-negative revenue per open site."""
    if len(idx) == 0:
        return np.zeros(0)
    rev = np.asarray(oracle(idx), np.float64).reshape(-1)
    if rev.shape != (len(idx),):
        raise InputError(f"the revenue oracle returned {rev.shape[0]} values for {len(idx)} open sites")
    if not np.isfinite(rev).all() or (rev < 0).any():
        raise InputError("the revenue oracle returned a negative or non-finite revenue")
    return rev


def _gains(oracle, open_idx, weight, cand, counter) -> tuple[np.ndarray, np.ndarray]:
    counter[0] += 1
    if hasattr(oracle, "gains"):
        own, delta = oracle.gains(open_idx, weight, cand)
        return np.asarray(own, np.float64), np.asarray(delta, np.float64)
    base = _revenue(oracle, open_idx)
    own = np.empty(len(cand))
    delta = np.empty(len(cand))
    for k, c in enumerate(cand):
        idx = np.sort(np.append(open_idx, c))
        rev = _revenue(oracle, idx)
        counter[0] += 1
        at = int(np.searchsorted(idx, c))
        own[k] = rev[at]
        delta[k] = float(np.dot(weight, np.delete(rev, at) - base))
    return own, delta


def _as_mask(x: Any, n: int, ids: np.ndarray, name: str) -> np.ndarray:
    if x is None:
        return np.zeros(n, bool)
    arr = np.asarray(x)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InputError(f"{name} must have {n} entries, got {arr.shape}")
        return arr.copy()
    out = np.zeros(n, bool)
    if arr.size:
        if arr.dtype.kind in "iu":
            if arr.min() < 0 or arr.max() >= n:
                raise InputError(f"{name}: site index outside 0..{n - 1}")
            out[arr] = True
        else:
            pos = {s: k for k, s in enumerate(ids)}
            bad = [s for s in arr if s not in pos]
            if bad:
                raise InputError(f"{name}: unknown site id(s) {', '.join(map(str, bad[:5]))}")
            out[[pos[s] for s in arr]] = True
    return out


def schedule(
    oracle: Callable[[np.ndarray], np.ndarray],
    opening_cost: np.ndarray,
    fixed_cost: np.ndarray,
    spec: RolloutSpec,
    *,
    ids: Sequence[str] | None = None,
    existing: Any = None,
    must_open: Any = None,
    must_open_year: Mapping[Any, int] | None = None,
    forbidden: Any = None,
    lazy: bool = True,
    improve: bool = True,
    seed: int = 0,
    extra: dict | None = None,
) -> Schedule:
    """Choose the opening year of every site to maximise NPV under the per-year limits.

    Parameters
    ----------
    oracle : callable
        ``oracle(open_idx) -> revenue per open site`` (currency per year, full ramp), see
        :class:`RevenueOracle`.
    opening_cost : array of float, shape (n_sites,)
        Currency, once, paid in the opening year (not for existing stores).
    fixed_cost : array of float, shape (n_sites,)
        Currency per year while open.
    spec : RolloutSpec
    ids : sequence of str, optional
        Site ids (default ``"0".."n-1"``).
    existing : bool mask, indices or ids, optional
        Our existing stores: open from year 0, never closed, no opening cost.
    must_open : bool mask, indices or ids, optional
        Sites that must open: in year 1 unless ``must_open_year`` (or
        ``spec.must_open_year``, by id) gives a later year. They count against the year's
        store and budget limits.
    forbidden : bool mask, indices or ids, optional
        Sites never opened.
    lazy : bool
        Lazy (CELF) re-evaluation in the greedy.
    improve : bool
        Run the swap improvement (``spec.improve_evaluations`` evaluations at most, and
        ``spec.improve_seconds``).
    seed : int
        Order of the moves tried by the improvement.

    Returns
    -------
    Schedule

    Raises
    ------
    InfeasibleError
        Must-open sites exceed a year's store or budget limit, or a year's minimum cannot
        be met (too few sites, or the budget).

    Notes
    -----
    Method:

    1. *Greedy by marginal NPV, year by year.* For year ``y = 1..years``, with ``S`` the
       stores open so far, a candidate ``c`` is valued as if opened in ``y`` and ``S + c``
       kept to the horizon: ``g_c = W_y R_c(S+c) + sum_{k in S} W_k (R_k(S+c) - R_k(S)) -
       sum_{t>=y} d_t F_c - d_y C_c`` with ``W_k = m sum_{t>=y} d_t rho_k(t)`` (``d_t`` the
       discount factor, 1 for ``objective = "net_revenue"``). The best candidate that fits
       the remaining store count and capital budget is opened while ``g_c > 0`` or the
       year's minimum is not met; the market state is updated after each opening, so a
       store opened in year 1 changes the value of its neighbours in year 2. Lazy
       evaluation (CELF): stale gains are kept in a heap and only the top one (the top 16
       with a vectorised ``gains`` oracle) is re-evaluated; this returns exactly the
       plain greedy's choice when gains only fall as stores are added (an additive
       oracle, or a submodular one such as Huff/nearest capture with
       ``ramp_months = 0``); with ramp-up weights it is an accelerated heuristic
       (``lazy=False`` gives the plain greedy). Under capital budgets the
       construction runs twice, ranking by marginal value and by marginal value per unit
       of opening cost, and keeps the better schedule (the CELF rule of Leskovec et al.,
       2007, which for one budget and a monotone submodular value is within
       ``(1 - 1/e) / 2`` of the optimum; NPV with costs has no such guarantee).
    2. *Swap improvement* on the exact multi-year NPV (:func:`evaluate`), first
       improvement, until no move improves, ``spec.improve_evaluations`` schedules have been
       evaluated or ``spec.improve_seconds`` pass: move a store
       to an earlier year with room, exchange the years of two stores (12 sampled
       partners per store), replace an opened store by one of the 20 most promising
       unopened sites in the same year, drop a store whose year stays above its minimum.
       Every move keeps the per-year store and budget limits.

    Cost: the greedy makes about one ``gains`` call per opened store (O(pairs of the
    added store) for :class:`HuffOracle` / :class:`NearestOracle`, incremental); an
    evaluation of the improvement costs ``years`` oracle calls. Measured on 2 cores:
    1,000 stores / 16k areas / 3 years 4 s; 10,000 stores / 100k areas / 5 years 24 s.

    Bound: with a submodular revenue oracle and instant ramp-up the NPV of any feasible
    schedule is at most ``NPV(existing) + sum`` of the ``K`` largest positive single-store
    gains ``max_y g_c(y)`` measured on the existing stores alone, ``K`` the most new
    stores the limits allow (store counts; for budgets only, the sites that fit). It is
    reported as ``bound`` with the ``gap``; without those conditions it is an estimate.
    """
    t0 = time.perf_counter()
    opening_cost = np.asarray(opening_cost, np.float64)
    fixed_cost = np.asarray(fixed_cost, np.float64)
    n = len(opening_cost)
    if fixed_cost.shape != (n,):
        raise InputError(f"fixed_cost must have {n} entries, got {fixed_cost.shape}")
    if not (np.isfinite(opening_cost).all() and np.isfinite(fixed_cost).all()) or (
        (opening_cost < 0).any() or (fixed_cost < 0).any()
    ):
        raise InputError("opening_cost and fixed_cost must be finite and >= 0")
    ids_arr = np.asarray([str(i) for i in range(n)] if ids is None else [str(s) for s in ids], dtype=object)
    if len(ids_arr) != n:
        raise InputError(f"ids must have {n} entries, got {len(ids_arr)}")
    is_exist = _as_mask(existing, n, ids_arr, "existing")
    is_must = _as_mask(must_open, n, ids_arr, "must_open") & ~is_exist
    is_forb = _as_mask(forbidden, n, ids_arr, "forbidden") & ~is_exist
    if (is_must & is_forb).any():
        bad = ids_arr[is_must & is_forb][:5]
        raise InfeasibleError(f"rollout: site(s) {', '.join(bad)} are both must-open and forbidden")
    Y, H = spec.years, spec.horizon
    must_year = np.where(is_must, 1, 0).astype(np.int64)
    pos = {s: k for k, s in enumerate(ids_arr)}
    for key, yr in {**spec.must_open_year, **dict(must_open_year or {})}.items():
        j = int(key) if isinstance(key, int | np.integer) else pos.get(str(key))
        if j is None or not 0 <= j < n:
            raise InputError(f"rollout.must_open_year: unknown site {key!r}")
        if not 1 <= int(yr) <= Y:
            raise InputError(f"rollout.must_open_year: year {yr} of site {key!r} is outside 1..{Y}")
        if is_exist[j]:
            continue
        is_must[j] = True
        must_year[j] = int(yr)
    hi, lo, budget = spec.max_stores(), spec.min_stores(), spec.budgets()
    disc = spec.discount(H) if spec.objective == "npv" else np.ones(H)
    counter = [0]
    rules = ["gain", "ratio"] if np.isfinite(budget).any() and (opening_cost > 0).any() else ["gain"]
    candidates = []
    for rule in rules:
        oy, lg = _construct(
            oracle,
            spec,
            opening_cost,
            fixed_cost,
            disc,
            counter,
            is_exist,
            is_must,
            is_forb,
            must_year,
            hi,
            lo,
            budget,
            lazy,
            rule,
        )
        ev = evaluate(oracle, oy, spec, opening_cost, fixed_cost, discount=spec.objective == "npv")
        counter[0] += int(ev["calls"])
        candidates.append((float(ev["value"]), rule, oy, lg))
    best, rule, open_year, last_gain = max(candidates, key=lambda c: c[0])
    method = (
        "greedy-marginal-npv"
        + ("-lazy" if lazy else "")
        + (f"(best of {'/'.join(rules)}: {rule})" if len(rules) > 1 else "")
    )
    n_evals = spec.improve_evaluations
    if n_evals is None:
        n_evals = int(np.clip(2_000_000 // max(1, n * spec.years), 50, 2000))
    if improve and spec.improve_seconds > 0 and n_evals > 0:
        open_year, best = _improve(
            oracle,
            open_year,
            best,
            spec,
            opening_cost,
            fixed_cost,
            is_must | is_exist,
            is_forb,
            last_gain,
            seed,
            counter,
            time.perf_counter() + spec.improve_seconds,
            n_evals,
        )
        method += "+swap"
    # report the true NPV (discounted) and the existing-only baseline
    ev = evaluate(oracle, open_year, spec, opening_cost, fixed_cost)
    base_year = np.where(is_exist, 0, NEVER)
    ev0 = evaluate(oracle, base_year, spec, opening_cost, fixed_cost)
    counter[0] += int(ev["calls"]) + int(ev0["calls"])
    npv, npv0 = float(ev["value"]), float(ev0["value"])
    bound = _bound(oracle, spec, opening_cost, fixed_cost, is_exist, is_forb, npv0, counter)
    gap = (bound - npv) / max(abs(npv), 1e-12) if np.isfinite(bound) else float("nan")
    return Schedule(
        ids=ids_arr,
        open_year=open_year,
        opening_cost=opening_cost,
        fixed_cost=fixed_cost,
        spec=spec,
        npv=npv,
        npv_new=npv - npv0,
        bound=bound,
        gap=float(max(gap, 0.0)) if np.isfinite(gap) else gap,
        method=method,
        seconds=time.perf_counter() - t0,
        evaluations=int(counter[0]),
        extra=dict(extra or {}),
        oracle=oracle,
        must_year=np.where(is_must, must_year, 0),
        forbidden=is_forb,
    )


def _construct(
    oracle,
    spec,
    opening_cost,
    fixed_cost,
    disc,
    counter,
    is_exist,
    is_must,
    is_forb,
    must_year,
    hi,
    lo,
    budget,
    lazy,
    rule,
) -> tuple[np.ndarray, np.ndarray]:
    """Year-by-year greedy (see :func:`schedule`); ``rule`` ``"gain"`` ranks candidates by
    marginal value, ``"ratio"`` by marginal value per unit of opening cost."""
    n, Y = len(opening_cost), spec.years
    cost_key = np.maximum(opening_cost, 1e-9 * max(1.0, float(opening_cost.max(initial=0.0))))

    def key(g: np.ndarray, j: np.ndarray) -> np.ndarray:
        return g / cost_key[j] if rule == "ratio" else g

    ctx = _GreedyContext(oracle, spec, opening_cost, fixed_cost, disc, counter=counter)
    batch = 16 if hasattr(oracle, "gains") else 1
    open_year = np.full(n, NEVER, np.int64)
    open_year[is_exist] = 0
    last_gain = np.full(n, -np.inf)
    for y in range(1, Y + 1):
        musts = np.flatnonzero(is_must & (must_year == y))
        if len(musts) > hi[y - 1]:
            raise InfeasibleError(
                f"rollout.stores_per_year: year {y} allows {hi[y - 1]} new stores but {len(musts)} "
                "sites must open that year"
            )
        spent = float(opening_cost[musts].sum())
        if spent > budget[y - 1] * (1 + 1e-12):
            raise InfeasibleError(
                f"rollout.budget_per_year: year {y} budget {budget[y - 1]:,.0f} is below the "
                f"{spent:,.0f} opening cost of its must-open sites"
            )
        open_year[musts] = y
        count = len(musts)
        free = np.flatnonzero((open_year == NEVER) & ~is_forb & ~is_must)
        ctx.start(y, open_year)
        if count >= hi[y - 1]:
            free = free[:0]
        gains = ctx.gain(free) if len(free) else np.zeros(0)
        if y == 1:
            last_gain[free] = gains
        heap = [(-float(kv), int(j)) for kv, j in zip(key(gains, free), free, strict=True)]
        heapq.heapify(heap)
        fresh = {int(j) for j in free}  # evaluated on the current state
        while heap and count < hi[y - 1]:
            neg, j = heap[0]
            if opening_cost[j] > budget[y - 1] - spent + 1e-9 * max(1.0, budget[y - 1]):
                heapq.heappop(heap)  # does not fit this year's remaining budget
                continue
            if j not in fresh:
                if lazy:
                    # re-evaluate the stale top (a batch of the best stale entries when the
                    # oracle is vectorised: exact values, so CELF's choice is unchanged)
                    top = [heapq.heappop(heap) for _ in range(min(batch, len(heap)))]
                    stale = np.array([k for _, k in top if k not in fresh], np.int64)
                    g = key(ctx.gain(stale), stale)
                    for kv, k in zip(g, stale, strict=True):
                        heapq.heappush(heap, (-float(kv), int(k)))
                    stale_set = set(stale.tolist())
                    fresh.update(stale_set)
                    for item in top:
                        if item[1] not in stale_set:
                            heapq.heappush(heap, item)
                else:
                    rest = np.array([k for _, k in heap], np.int64)
                    g = key(ctx.gain(rest), rest)
                    heap = [(-float(kv), int(k)) for kv, k in zip(g, rest, strict=True)]
                    heapq.heapify(heap)
                    fresh = {int(k) for k in rest}
                continue
            if -neg <= 0 and count >= lo[y - 1]:
                break
            heapq.heappop(heap)
            open_year[j] = y
            spent += float(opening_cost[j])
            count += 1
            last_gain[j] = max(last_gain[j], -neg * (cost_key[j] if rule == "ratio" else 1.0))
            ctx.start(y, open_year)
            fresh = set()
        if count < lo[y - 1]:
            raise InfeasibleError(
                f"rollout.min_stores_per_year: year {y} needs {lo[y - 1]} new stores but only {count} "
                f"fit the remaining sites and the budget {budget[y - 1]:,.0f}"
            )

    return open_year, last_gain


class _GreedyContext:
    """State of the year-by-year greedy: open stores and their weights seen from year ``y``."""

    def __init__(self, oracle, spec, opening_cost, fixed_cost, disc, counter) -> None:
        self.oracle, self.spec, self.disc, self.counter = oracle, spec, disc, counter
        self.opening_cost, self.fixed_cost = opening_cost, fixed_cost
        self.H = len(disc)

    def weights(self, y: int, o: np.ndarray) -> np.ndarray:
        """``m sum_{t>=y} d_t rho(t)`` for stores opened in years ``o``."""
        o = np.asarray(o, np.int64)
        years, inv = np.unique(o, return_inverse=True)  # the weight depends on the year only
        rho = ramp_matrix(years, self.spec, self.H)
        return (self.spec.gross_margin * (rho[:, y - 1 :] @ self.disc[y - 1 :]))[inv.reshape(-1)]

    def start(self, y: int, open_year: np.ndarray) -> None:
        self.y = y
        self.open = np.flatnonzero(open_year >= 0)
        self.w = self.weights(y, open_year[self.open])
        self.w_new = float(self.weights(y, np.array([y]))[0])

    def gain(self, cand: np.ndarray) -> np.ndarray:
        """Marginal value of opening each of ``cand`` in year ``y`` (currency)."""
        own, delta = _gains(self.oracle, self.open, self.w, cand, self.counter)
        y, d = self.y, self.disc
        cost = self.fixed_cost[cand] * d[y - 1 :].sum() + self.opening_cost[cand] * d[y - 1]
        return self.w_new * own + delta - cost


def _bound(oracle, spec, opening_cost, fixed_cost, is_exist, is_forb, npv0, counter) -> float:
    """Submodular upper bound (see :func:`schedule`); NaN unless the discount is NPV."""
    if spec.objective != "npv":
        return float("nan")
    H, Y = spec.horizon, spec.years
    disc = spec.discount(H)
    base = np.flatnonzero(is_exist)
    cand = np.flatnonzero(~is_exist & ~is_forb)
    if len(cand) == 0:
        return npv0
    own, _ = _gains(oracle, base, np.zeros(len(base)), cand, counter)
    best = np.full(len(cand), -np.inf)
    for y in range(1, Y + 1):
        w = spec.gross_margin * disc[y - 1 :].sum()  # instant ramp: upper bound of the ramped value
        g = w * own - fixed_cost[cand] * disc[y - 1 :].sum() - opening_cost[cand] * disc[y - 1]
        best = np.maximum(best, g)
    pos = np.sort(best[best > 0])[::-1]
    k = int(min(np.minimum(spec.max_stores(), len(cand)).sum(), len(pos)))
    budgets = spec.budgets()
    if np.isfinite(budgets).all():
        cheap = np.sort(opening_cost[cand])
        fit = int(np.searchsorted(np.cumsum(cheap), budgets.sum() * (1 + 1e-12), side="right"))
        k = min(k, fit)
    return float(npv0 + pos[:k].sum())


def _improve(
    oracle,
    open_year,
    best,
    spec,
    opening_cost,
    fixed_cost,
    fixed_mask,
    is_forb,
    last_gain,
    seed,
    counter,
    deadline,
    n_evals,
) -> tuple[np.ndarray, float]:
    """First-improvement local search on the exact schedule value (see :func:`schedule`)."""
    budget_left = [n_evals]
    rng = np.random.default_rng(seed)
    Y = spec.years
    hi, lo, budget = spec.max_stores(), spec.min_stores(), spec.budgets()
    o = open_year.copy()
    discount = spec.objective == "npv"

    def feasible(x: np.ndarray) -> bool:
        sel = x >= 1
        cnt = np.bincount(x[sel], minlength=Y + 1)[1:]
        cap = np.bincount(x[sel], weights=opening_cost[sel], minlength=Y + 1)[1:]
        return bool((cnt <= hi).all() and (cnt >= lo).all() and (cap <= budget * (1 + 1e-12) + 1e-9).all())

    def value(x: np.ndarray) -> float:
        ev = evaluate(oracle, x, spec, opening_cost, fixed_cost, discount=discount)
        counter[0] += int(ev["calls"])
        budget_left[0] -= 1
        return float(ev["value"])

    movable = ~fixed_mask & ~is_forb
    improved = True
    while improved and time.perf_counter() < deadline and budget_left[0] > 0:
        improved = False
        opened = np.flatnonzero(movable & (o >= 1))
        closed = np.flatnonzero(movable & (o == NEVER))
        closed = closed[np.argsort(-last_gain[closed], kind="stable")][:20]  # most promising
        moves: list[tuple[int, int, int, int]] = []  # (site, new year, other site, its new year)
        for j in opened:
            for y in range(1, o[j]):
                moves.append((j, y, -1, 0))
            later = opened[o[opened] > o[j]]
            if len(later) > 12:  # a sample of partners keeps a pass O(n)
                later = rng.choice(later, 12, replace=False)
            for k in later:
                moves.append((j, o[k], k, o[j]))
            for c in closed:
                moves.append((j, NEVER, c, o[j]))
            moves.append((j, NEVER, -1, 0))
        rng.shuffle(moves)
        for j, yj, k, yk in moves:
            if time.perf_counter() >= deadline or budget_left[0] <= 0:
                break
            x = o.copy()
            x[j] = yj
            if k >= 0:
                x[k] = yk
            if not feasible(x):
                continue
            v = value(x)
            if v > best + 1e-9 * max(1.0, abs(best)):
                o, best, improved = x, v, True
                break
    return o, best


# ----------------------------------------------------------------------------- plans


def market_for_plan(plan: Any, scenario: Any, params: Any = None) -> Any:
    """A :class:`storeplan.market.Market` whose candidates are the plan's new stores.

    Our existing stores (``scenario.existing``) and the rivals (``scenario.rivals``) are
    always open. Format attractiveness comes from the scenario's formats (``params``, a
    :class:`storeplan.market.MarketParams`, overrides it); existing stores whose format is
    unknown get the default format.
    """
    from .market import MarketParams, build_market

    stores = plan.stores
    new = stores[stores["status"].astype(str) == "new"] if "status" in stores else stores
    if params is None:
        fa = {f.name: float(f.attractiveness) for f in scenario.formats}
        params = MarketParams(format_attractiveness=fa, default_format=scenario.format().name)
    fa = params.format_attractiveness
    fmt = None
    if "format" in new:
        fmt = new["format"].astype(object).to_numpy().copy()
        fmt[~np.isin(fmt, list(fa))] = params.default_format
    existing = scenario.existing.copy()
    if len(existing):
        col = existing["format"] if "format" in existing else pd.Series(pd.NA, index=existing.index)
        known = col.astype(object).isin(list(fa))
        existing["format"] = col.astype(object).where(known, params.default_format)
    return build_market(
        scenario.areas,
        new[["id", "lon", "lat"]].reset_index(drop=True),
        existing=existing,
        rivals=scenario.rivals,
        params=params,
        candidate_format=fmt,
    )


def rollout_plan(
    plan: Any,
    spec: RolloutSpec,
    *,
    scenario: Any = None,
    oracle: RevenueOracle | None = None,
    market: Any = None,
    must_open: Any = None,
    **kwargs: Any,
) -> Schedule:
    """Schedule the stores of a :class:`storeplan.plan.Plan` over the rollout years.

    The universe is ``plan.stores`` (new and existing rows); existing stores are open
    from year 0. Costs come from the ``opening_cost`` / ``fixed_cost`` columns (0 when
    absent). The oracle is, in order: ``oracle`` if given; a :class:`HuffOracle` on
    ``market``, or on :func:`market_for_plan` when ``scenario`` is given (falling back
    when the market cannot be built); else :func:`oracle_from_plan` with
    ``spec.spend_per_person``. With ``scenario``, its ``constraints.must_open`` sites open
    in year 1 (or ``spec.must_open_year``). ``kwargs`` go to :func:`schedule`.
    """
    from .errors import StoreplanError

    stores = plan.stores
    n = len(stores)
    ids = stores["id"].astype(str).to_numpy(dtype=object)
    exist = np.zeros(n, bool)
    if "status" in stores:
        exist = (stores["status"].astype(str) == "existing").to_numpy()
    oc = stores["opening_cost"].to_numpy(np.float64) if "opening_cost" in stores else np.zeros(n)
    fc = stores["fixed_cost"].to_numpy(np.float64) if "fixed_cost" in stores else np.zeros(n)
    if oracle is None and market is None and scenario is not None:
        try:
            market = market_for_plan(plan, scenario)
        except (StoreplanError, ImportError):
            market = None
    if oracle is None:
        oracle = (
            oracle_from_market(market, ids)
            if market is not None
            else oracle_from_plan(plan, spec.spend_per_person)
        )
    if must_open is None and scenario is not None and scenario.constraints.must_open:
        must_open = np.isin(ids, [str(s) for s in scenario.constraints.must_open]) & ~exist
    if "seed" not in kwargs and scenario is not None:
        kwargs["seed"] = scenario.options.seed
    extra = {}
    if "region" in stores:
        extra["region"] = stores["region"].astype(object).to_numpy()
    return schedule(
        oracle,
        np.where(exist, 0.0, oc),
        fc,
        spec,
        ids=ids,
        existing=exist,
        must_open=must_open,
        extra=extra,
        **kwargs,
    )
