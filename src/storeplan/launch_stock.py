r"""Launch stock: split a limited number of units of a new product across our channels.

A product launch has ``supply`` units. Each channel :math:`j` (every store of the plan
and the web shop) faces an uncertain launch demand :math:`D_j` (units over the launch
window); a unit short is a lost sale that costs :math:`c_u` (currency per unit: the
margin plus any goodwill), a unit left over costs :math:`c_o` (currency per unit:
markdown, return freight, holding). The allocation solves the newsvendor with a shared
supply limit

.. math::

    \max_{q \ge 0} \; \sum_j c_u \, E\min(D_j, q_j) - c_o \, E(q_j - D_j)^+
    \quad \text{s.t.} \quad \sum_j q_j \le S, \qquad q_j \le m \, \mu_j .

Each term is concave, so the KKT conditions are sufficient: with :math:`\lambda \ge 0`
the multiplier of the supply constraint (currency per unit, the value of one more unit
of supply),

.. math::

    q_j(\lambda) = \min\Bigl(m\mu_j,\;
        F_j^{-1}\Bigl(\frac{c_u - \lambda}{c_u + c_o}\Bigr)\Bigr)^+ ,

:math:`\lambda = 0` when the unconstrained quantiles fit in the supply (each channel gets
its critical-fractile quantile :math:`F_j^{-1}(c_u / (c_u + c_o))`), otherwise the unique
:math:`\lambda` with :math:`\sum_j q_j(\lambda) = S`, found by bracketing root search
(:func:`scipy.optimize.brentq`; the sum is continuous and non-increasing in
:math:`\lambda`). Whole units are then given by marginal analysis: every channel gets
:math:`\lfloor q_j \rfloor` and the units left go one at a time to the channels whose next
unit adds the most expected profit, so the total still equals the supply when it is short.

Demand model. The channel's mean :math:`\mu_j` is the launch-window demand
``demand_units`` split in proportion to the channel's yearly revenue in the product's
category (a store's ``revenue_<category>`` or ``revenue``; the web shop's revenue left
after the transfer to our stores, with the stores' category mix). Its variance is
:math:`\mu_j + (v_j \mu_j)^2`: Poisson noise of the individual purchases plus a
forecast error of coefficient of variation :math:`v_j` (``cv_existing`` for stores with
a sales history, ``cv_new`` for new stores, ``cv_web`` for the web shop). :math:`D_j`
is Gamma-distributed with that mean and variance (``distribution = "gamma"``, never
negative) or normal (``"normal"``); both give closed forms for the expected sales, lost
sales and leftovers.

Replenishment. With ``lead_time_days`` shorter than ``window_days``, stores are
restocked from a central reserve after the lead time, so their first allocation only
has to cover the lead time: the mean is scaled by ``lead_time_days / window_days``, the
Poisson part of the variance with it, the forecast error stays a share of the mean. The
web shop ships from the central stock and keeps the whole window. Units not allocated
stay in the central ``reserve``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import InputError, MissingColumnError
from .metrics import LaunchSummary

__all__ = ["LaunchSpec", "LaunchStock", "WEB_SHOP_ID", "allocate", "channel_demand", "launch_stock"]

#: ``id`` of the web shop's row in :attr:`LaunchStock.table` and ``launch_stock.csv``.
WEB_SHOP_ID = "web_shop"


class LaunchSpec(BaseModel):
    """The ``[launch]`` section of a scenario: one product launch with limited units.

    Parameters
    ----------
    product : str
        Name shown in the report.
    supply : int
        Units available for the launch (> 0).
    demand_units : float
        Expected demand over the launch window across all our channels, units (> 0).
    lost_sale_cost : float
        Cost of a unit of demand not served, currency per unit (the margin, plus goodwill).
    leftover_cost : float
        Cost of a unit not sold in the window, currency per unit (markdown, freight back,
        holding).
    category : str, optional
        Demand category whose store revenue splits the demand (``revenue_<category>``
        column of the plan's stores); default: the stores' total revenue.
    cv_existing, cv_new, cv_web : float
        Coefficient of variation of the forecast error for existing stores (a sales
        history), new stores and the web shop. Defaults 0.25, 0.5, 0.15 (assumptions).
    distribution : {"gamma", "normal"}
        Demand distribution. Default ``"gamma"``.
    max_multiple : float
        No channel gets more than this multiple of its mean demand. Default 3.0.
    window_days : float
        Length of the launch window, days. Default 28.
    lead_time_days : float, optional
        Replenishment lead time to the stores, days; None: no replenishment in the window.
    web_shop : bool
        Allocate to the web shop too (default True).
    integer : bool
        Whole units (default True); False returns the continuous optimum.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    product: str = "launch"
    supply: int = Field(gt=0)
    demand_units: float = Field(gt=0)
    lost_sale_cost: float = Field(gt=0)
    leftover_cost: float = Field(gt=0)
    category: str | None = None
    cv_existing: float = Field(0.25, ge=0)
    cv_new: float = Field(0.5, ge=0)
    cv_web: float = Field(0.15, ge=0)
    distribution: Literal["gamma", "normal"] = "gamma"
    max_multiple: float = Field(3.0, gt=0)
    window_days: float = Field(28.0, gt=0)
    lead_time_days: float | None = Field(None, gt=0)
    web_shop: bool = True
    integer: bool = True

    @model_validator(mode="after")
    def _finite(self) -> LaunchSpec:
        for name in ("demand_units", "lost_sale_cost", "leftover_cost", "max_multiple", "window_days"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")
        return self

    @property
    def critical_ratio(self) -> float:
        """``c_u / (c_u + c_o)``: the service level of an unconstrained channel."""
        return self.lost_sale_cost / (self.lost_sale_cost + self.leftover_cost)

    @property
    def protection_share(self) -> float:
        """Share of the window a store's first allocation covers (1 without replenishment)."""
        if self.lead_time_days is None:
            return 1.0
        return min(1.0, self.lead_time_days / self.window_days)


# ----------------------------------------------------------------------- distributions
class _Demand(Protocol):
    """A vectorised demand distribution per channel (units)."""

    def ppf(self, p: np.ndarray) -> np.ndarray: ...

    def cdf(self, q: np.ndarray) -> np.ndarray: ...

    def expected_sales(self, q: np.ndarray) -> np.ndarray: ...


class _Gamma:
    """Gamma demand with mean ``mu`` and standard deviation ``sd`` (vectorised)."""

    def __init__(self, mu: np.ndarray, sd: np.ndarray):
        self.mu = mu
        pos = (mu > 0) & (sd > 0)
        self.pos = pos
        self.shape = np.where(pos, (mu / np.where(pos, sd, 1.0)) ** 2, 1.0)
        self.scale = np.where(pos, sd**2 / np.where(mu > 0, mu, 1.0), 1.0)

    def ppf(self, p: np.ndarray) -> np.ndarray:
        from scipy.stats import gamma

        q = gamma.ppf(p, self.shape, scale=self.scale)
        return np.where(self.pos, q, self.mu)

    def cdf(self, q: np.ndarray) -> np.ndarray:
        from scipy.stats import gamma

        return np.where(self.pos, gamma.cdf(q, self.shape, scale=self.scale), (q >= self.mu).astype(float))

    def expected_sales(self, q: np.ndarray) -> np.ndarray:
        """``E min(D, q)`` = ``mu F_{k+1}(q) + q (1 - F_k(q))`` for a Gamma(k, theta)."""
        from scipy.stats import gamma

        f_k = gamma.cdf(q, self.shape, scale=self.scale)
        f_k1 = gamma.cdf(q, self.shape + 1.0, scale=self.scale)
        return np.where(self.pos, self.mu * f_k1 + q * (1.0 - f_k), np.minimum(q, self.mu))


class _Normal:
    """Normal demand with mean ``mu`` and standard deviation ``sd`` (vectorised)."""

    def __init__(self, mu: np.ndarray, sd: np.ndarray):
        self.mu = mu
        self.sd = sd
        self.pos = sd > 0

    def ppf(self, p: np.ndarray) -> np.ndarray:
        from scipy.stats import norm

        return np.where(self.pos, self.mu + self.sd * norm.ppf(p), self.mu)

    def cdf(self, q: np.ndarray) -> np.ndarray:
        from scipy.stats import norm

        z = (q - self.mu) / np.where(self.pos, self.sd, 1.0)
        return np.where(self.pos, norm.cdf(z), (q >= self.mu).astype(float))

    def expected_sales(self, q: np.ndarray) -> np.ndarray:
        """``E min(D, q)`` = ``q - sd * (z Phi(z) + phi(z))`` with ``z = (q - mu) / sd``."""
        from scipy.stats import norm

        sd = np.where(self.pos, self.sd, 1.0)
        z = (q - self.mu) / sd
        short = sd * (z * norm.cdf(z) + norm.pdf(z))  # E (q - D)^+
        return np.where(self.pos, q - short, np.minimum(q, self.mu))


_DISTRIBUTIONS: dict[str, Callable[[np.ndarray, np.ndarray], _Demand]] = {"gamma": _Gamma, "normal": _Normal}


# -------------------------------------------------------------------------- allocation
@dataclass(frozen=True)
class Allocation:
    """Result of :func:`allocate` (arrays per channel, units).

    Attributes
    ----------
    units : ndarray of float64
        Allocated units (whole numbers when ``integer``).
    multiplier : float
        Lagrange multiplier of the supply limit, currency per unit (0 when supply is ample).
    expected_sales, expected_lost_sales, expected_leftover : ndarray of float64
        ``E min(D, q)``, ``E (D - q)^+`` and ``E (q - D)^+``, units.
    service_level : ndarray of float64
        ``P(D <= q)``: the chance that the channel does not run out.
    """

    units: np.ndarray
    multiplier: float
    expected_sales: np.ndarray
    expected_lost_sales: np.ndarray
    expected_leftover: np.ndarray
    service_level: np.ndarray


def allocate(
    mean: np.ndarray,
    sd: np.ndarray,
    supply: float,
    *,
    lost_sale_cost: float,
    leftover_cost: float,
    max_multiple: float = 3.0,
    distribution: str = "gamma",
    integer: bool = True,
) -> Allocation:
    """Newsvendor allocation of ``supply`` units across channels with a shared limit.

    Parameters
    ----------
    mean, sd : array of float, shape (n,)
        Mean and standard deviation of every channel's demand, units.
    supply : float
        Units available (>= 0).
    lost_sale_cost, leftover_cost : float
        Cost per unit short and per unit left over, currency per unit (> 0).
    max_multiple : float
        Cap of a channel's units as a multiple of its mean.
    distribution : {"gamma", "normal"}
    integer : bool
        Whole units by marginal analysis (the total stays ``min(supply, sum of the
        unconstrained quantiles)`` rounded down to whole units).

    Returns
    -------
    Allocation

    Raises
    ------
    InputError
        Negative or non-finite means, deviations or supply, or an unknown distribution.
    """
    from scipy.optimize import brentq

    mu = np.asarray(mean, dtype=np.float64)
    sig = np.asarray(sd, dtype=np.float64)
    if mu.shape != sig.shape or mu.ndim != 1:
        raise InputError("mean and sd must be 1-d arrays of the same length")
    if not (np.isfinite(mu).all() and np.isfinite(sig).all()) or (mu < 0).any() or (sig < 0).any():
        raise InputError("launch demand means and deviations must be finite and >= 0")
    if not math.isfinite(supply) or supply < 0:
        raise InputError(f"supply must be finite and >= 0, got {supply}")
    if distribution not in _DISTRIBUTIONS:
        raise InputError(f"distribution {distribution!r} is not one of {sorted(_DISTRIBUTIONS)}")
    cu, co = float(lost_sale_cost), float(leftover_cost)
    if not (cu > 0 and co > 0):
        raise InputError("lost_sale_cost and leftover_cost must be > 0")
    tiny = mu < 1e-9  # below a billionth of a unit: no demand (keeps the Gamma finite)
    mu, sig = np.where(tiny, 0.0, mu), np.where(tiny, 0.0, sig)
    dist = _DISTRIBUTIONS[distribution](mu, sig)
    cap = max_multiple * mu

    cr = cu / (cu + co)

    def q_of(p: float) -> np.ndarray:
        return np.clip(dist.ppf(np.full_like(mu, p)), 0.0, cap)

    q = q_of(cr)
    lam = 0.0
    if q.sum() > supply:
        # solve on the service level p = (cu - lambda) / (cu + co), in log space: a
        # concentrated Gamma keeps units in its lower tail down to tiny p
        p_min = 1e-300
        low = q_of(p_min)
        if low.sum() >= supply:
            # every channel sells all of these units almost surely: their marginal
            # values all equal cu to within (cu + co) * p_min, so any split is optimal
            p, q = p_min, low * (supply / low.sum()) if low.sum() > 0 else low
        else:
            t = brentq(lambda x: q_of(math.exp(x)).sum() - supply, math.log(p_min), math.log(cr), xtol=1e-13)
            p = math.exp(t)
            q = q_of(p)
        lam = cu - (cu + co) * p
    if integer:
        q = _whole_units(q, dist, cap, float(supply) if lam > 0 else q.sum(), cu, co)
    sales = dist.expected_sales(q)
    return Allocation(
        units=q,
        multiplier=float(lam),
        expected_sales=sales,
        expected_lost_sales=mu - sales,
        expected_leftover=q - sales,
        service_level=dist.cdf(q),
    )


def _whole_units(q, dist, cap, total, cu, co) -> np.ndarray:
    """Round down, then give the units left to the best next units (marginal analysis)."""
    base = np.floor(q + 1e-9)
    left = int(math.floor(total + 1e-9) - base.sum())
    if left <= 0:
        return base
    room = np.floor(cap + 1e-9) - base
    profit = (cu + co) * dist.expected_sales(base) - co * base
    gain = (cu + co) * dist.expected_sales(base + 1.0) - co * (base + 1.0) - profit
    gain = np.where(room >= 1, gain, -np.inf)
    # the fractional parts sum to < n, so each channel needs at most one more unit
    top = np.argsort(-gain, kind="stable")[:left]
    top = top[np.isfinite(gain[top])]
    base[top] += 1.0
    return base


# ------------------------------------------------------------------------ from a plan
def channel_demand(stores: pd.DataFrame, web_revenue: float, spec: LaunchSpec) -> pd.DataFrame:
    """Mean and standard deviation of every channel's launch demand, units.

    Parameters
    ----------
    stores : DataFrame
        The plan's stores: ``id, status`` and ``revenue`` or ``revenue_<category>``
        (currency per year).
    web_revenue : float
        Our web shop's yearly revenue after the transfer to our stores, currency per year.
    spec : LaunchSpec

    Returns
    -------
    DataFrame
        ``id, channel ('store' | 'web'), status, revenue_weight`` (currency per year),
        ``mean_demand, sd_demand`` (units over each channel's protection period).

    Raises
    ------
    MissingColumnError
        The stores table has no revenue column for the category.
    InputError
        No channel has positive revenue.
    """
    col = "revenue" if spec.category is None else f"revenue_{spec.category}"
    if col not in stores.columns:
        raise MissingColumnError(
            f"launch stock needs the stores' {col!r} (a plan with market outputs"
            + (f" and category {spec.category!r}" if spec.category else "")
            + ")"
        )
    w_store = pd.to_numeric(stores[col], errors="coerce").fillna(0.0).clip(lower=0.0).to_numpy(float)
    status = (
        stores["status"].astype(str).to_numpy() if "status" in stores.columns else np.full(len(stores), "new")
    )
    web_w = 0.0
    if spec.web_shop:
        web_w = max(float(web_revenue), 0.0)
        if spec.category is not None and "revenue" in stores.columns:
            total = float(pd.to_numeric(stores["revenue"], errors="coerce").fillna(0.0).sum())
            web_w *= float(w_store.sum()) / total if total > 0 else 0.0
    weights = np.concatenate([w_store, [web_w] if spec.web_shop else []])
    if weights.sum() <= 0:
        raise InputError("launch stock: no store (nor the web shop) has revenue to split the demand by")
    mu_window = spec.demand_units * weights / weights.sum()
    cv = np.where(status == "existing", spec.cv_existing, spec.cv_new)
    share = np.full(len(w_store), spec.protection_share)
    if spec.web_shop:
        cv = np.concatenate([cv, [spec.cv_web]])
        share = np.concatenate([share, [1.0]])
    mu = mu_window * share
    sd = np.sqrt(mu + (cv * mu) ** 2)
    return pd.DataFrame(
        {
            "id": np.concatenate(
                [stores["id"].astype(str).to_numpy(), [WEB_SHOP_ID] if spec.web_shop else []]
            ),
            "channel": ["store"] * len(w_store) + (["web"] if spec.web_shop else []),
            "status": np.concatenate([status, ["web"] if spec.web_shop else []]),
            "revenue_weight": weights,
            "mean_demand": mu,
            "sd_demand": sd,
        }
    )


@dataclass(frozen=True)
class LaunchStock:
    """A launch-stock allocation (one row per channel) and its totals.

    Attributes
    ----------
    table : DataFrame
        ``launch_stock.csv``: ``id, channel, status, revenue_weight`` (currency per year),
        ``mean_demand, sd_demand, units, expected_sales, expected_lost_sales,
        expected_leftover`` (units), ``service_level`` (P(no stock-out)), ``sell_through``
        (expected sales / units), ``fill_rate`` (expected sales / mean demand).
    spec : LaunchSpec
    multiplier : float
        Value of one more unit of supply, currency per unit (0: supply is ample).
    """

    table: pd.DataFrame
    spec: LaunchSpec
    multiplier: float

    @property
    def allocated(self) -> float:
        """Units sent to the channels."""
        return float(self.table["units"].sum())

    @property
    def reserve(self) -> float:
        """Units kept in the central stock (replenishment, or not worth sending), units."""
        return float(self.spec.supply) - self.allocated

    def headline(self) -> LaunchSummary:
        """Totals for ``summary.json`` and the report (each the sum of the table's rows)."""
        t = self.table
        units, sales = float(t["units"].sum()), float(t["expected_sales"].sum())
        demand = float(t["mean_demand"].sum())
        leftover = float(t["expected_leftover"].sum())
        lost = float(t["expected_lost_sales"].sum())
        s = self.spec
        return LaunchSummary.from_dict(
            {
                "product": s.product,
                "supply_units": int(s.supply),
                "allocated_units": units,
                "reserve_units": float(s.supply) - units,
                "mean_demand_units": demand,
                "expected_sales_units": sales,
                "expected_lost_sales_units": lost,
                "expected_leftover_units": leftover,
                "sell_through": sales / units if units > 0 else 0.0,
                "fill_rate": sales / demand if demand > 0 else 0.0,
                "expected_cost": s.lost_sale_cost * lost + s.leftover_cost * leftover,
                "supply_value_per_unit": self.multiplier,
                "critical_ratio": s.critical_ratio,
                "protection_days": s.window_days * s.protection_share,
                "n_channels": len(t),
            }
        )


def launch_stock(stores: pd.DataFrame, web_revenue: float, spec: LaunchSpec) -> LaunchStock:
    """Split ``spec.supply`` launch units across the plan's stores and the web shop.

    Parameters
    ----------
    stores : DataFrame
        The plan's stores (see :func:`channel_demand`).
    web_revenue : float
        Web shop revenue after the transfer to our stores, currency per year.
    spec : LaunchSpec

    Returns
    -------
    LaunchStock

    Examples
    --------
    Two stores with the same revenue, ample supply, normal demand: each gets the
    critical-fractile quantile ``mu + sd * z(cu / (cu + co))``.

    >>> import pandas as pd
    >>> st = pd.DataFrame({"id": ["a", "b"], "status": ["new", "new"], "revenue": [1.0, 1.0]})
    >>> spec = LaunchSpec(supply=10_000, demand_units=200, lost_sale_cost=3, leftover_cost=1,
    ...                   cv_new=0.0, distribution="normal", web_shop=False, integer=False)
    >>> ls = launch_stock(st, 0.0, spec)
    >>> ls.table["units"].round(2).tolist()   # 100 + 10 * 0.6745
    [106.74, 106.74]
    """
    dem = channel_demand(stores, web_revenue, spec)
    res = allocate(
        dem["mean_demand"].to_numpy(),
        dem["sd_demand"].to_numpy(),
        float(spec.supply),
        lost_sale_cost=spec.lost_sale_cost,
        leftover_cost=spec.leftover_cost,
        max_multiple=spec.max_multiple,
        distribution=spec.distribution,
        integer=spec.integer,
    )
    t = dem.copy()
    t["units"] = res.units
    t["expected_sales"] = res.expected_sales
    t["expected_lost_sales"] = res.expected_lost_sales
    t["expected_leftover"] = res.expected_leftover
    t["service_level"] = res.service_level
    t["sell_through"] = np.divide(res.expected_sales, res.units, out=np.zeros(len(t)), where=res.units > 0)
    mu = t["mean_demand"].to_numpy()
    t["fill_rate"] = np.divide(res.expected_sales, mu, out=np.ones(len(t)), where=mu > 0)
    return LaunchStock(table=t, spec=spec, multiplier=res.multiplier)
