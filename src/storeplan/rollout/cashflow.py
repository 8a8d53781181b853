"""Cash flow of a rollout schedule: ramp-up factors and the yearly cash flow / NPV.

Conventions: see :mod:`storeplan.rollout`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InputError
from .spec import RolloutSpec

__all__ = ["ramp_factor", "ramp_matrix", "evaluate", "oracle_revenue", "site_margins"]


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


def site_margins(margin: np.ndarray | float | None, n: int, spec: RolloutSpec) -> np.ndarray:
    """Cash margin of every site, a float64 array of shape ``(n,)`` (share of sales).

    Parameters
    ----------
    margin : array of float, float or None
        Share (0..1] of each site's sales that is cash to the brand (one value for
        every site when a scalar); None: ``spec.gross_margin`` everywhere.
    n : int
        Number of sites.
    spec : RolloutSpec

    Returns
    -------
    ndarray of float64, shape (n,)

    Raises
    ------
    InputError
        ``margin`` has another length than ``n`` or a value outside (0, 1].
    """
    if margin is None:
        return np.full(n, float(spec.gross_margin))
    m = np.asarray(margin, np.float64)
    if m.ndim == 0:
        m = np.full(n, float(m))
    if m.shape != (n,):
        raise InputError(f"margin must have {n} entries, got {m.shape}")
    if not (np.isfinite(m).all() and (m > 0).all() and (m <= 1).all()):
        raise InputError("margin must be a share of sales in (0, 1] for every site")
    return m


def evaluate(
    oracle: Callable[[np.ndarray], np.ndarray],
    open_year: np.ndarray,
    spec: RolloutSpec,
    opening_cost: np.ndarray,
    fixed_cost: np.ndarray,
    *,
    discount: bool = True,
    margin: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Cash flows of a schedule, arrays of shape ``(n_sites, horizon)`` (currency per year).

    Parameters
    ----------
    oracle : callable
        ``oracle(open_idx) -> revenue per open site`` (currency per year, full ramp).
    open_year : array of int, shape (n_sites,)
        0 existing, ``1..years`` opening year, -1 not opened.
    spec : RolloutSpec
    opening_cost : array of float, shape (n_sites,)
        Currency, once, in the opening year.
    fixed_cost : array of float, shape (n_sites,)
        Currency per year while open.
    discount : bool
        Discount the cash flows (False: the undiscounted total, no terminal value).
    margin : array of float, shape (n_sites,), optional
        Share (0..1] of each site's sales that is cash to the brand (its format's
        ``margin``: cost of goods and, for a partner store, the partner's share
        deducted); None: ``spec.gross_margin`` for every site.

    Returns
    -------
    dict of str to ndarray
        ``revenue`` (sales with ramp-up), ``full_revenue`` (at full ramp), ``ramp``,
        ``opening`` (opening cost in the opening year), ``fixed``, ``cash`` (``margin_j x
        revenue - fixed - opening``), ``margin`` (per site, share of sales),
        ``discount`` (factor per year), ``terminal`` (scalar array: present value of the
        terminal value, 0 unless ``spec.terminal_value``; see
        :meth:`RolloutSpec.terminal_factor`) and ``value`` (scalar array: NPV including
        the terminal value, or the undiscounted total with ``discount=False``).

    Notes
    -----
    ``horizon`` oracle calls at most (years after the rollout reuse the last year's set).
    """
    o = np.asarray(open_year, np.int64)
    n, h = len(o), spec.horizon
    m = site_margins(margin, n, spec)[:, None]
    full = np.zeros((n, h))
    cache: dict[bytes, np.ndarray] = {}
    for t in range(1, h + 1):
        idx = np.flatnonzero((o >= 0) & (o <= t))
        key = idx.tobytes()
        if key not in cache:
            cache[key] = oracle_revenue(oracle, idx)
        full[idx, t - 1] = cache[key]
    ramp = ramp_matrix(o, spec, h)
    revenue = full * ramp
    opened = (o[:, None] >= 0) & (o[:, None] <= np.arange(1, h + 1)[None, :])
    fixed = np.where(opened, np.asarray(fixed_cost, np.float64)[:, None], 0.0)
    opening = np.zeros((n, h))
    new = np.flatnonzero(o >= 1)
    opening[new, o[new] - 1] = np.asarray(opening_cost, np.float64)[new]
    cash = m * revenue - fixed - opening
    disc = spec.discount(h) if discount else np.ones(h)
    tv = 0.0
    if discount and spec.terminal_factor() > 0:
        running = m[:, 0] * revenue[:, -1] - fixed[:, -1]
        tv = float(running.sum()) * spec.terminal_factor() * float(disc[-1])
    return {
        "revenue": revenue,
        "full_revenue": full,
        "ramp": ramp,
        "opening": opening,
        "fixed": fixed,
        "cash": cash,
        "margin": m[:, 0],
        "discount": disc,
        "terminal": np.asarray(tv),
        "value": np.asarray(float(cash.sum(axis=0) @ disc) + tv),
        "calls": np.asarray(len(cache)),
    }


def oracle_revenue(oracle: Callable[[np.ndarray], np.ndarray], idx: np.ndarray) -> np.ndarray:
    """``oracle(idx)`` checked: one finite, non-negative revenue per open site."""
    if len(idx) == 0:
        return np.zeros(0)
    rev = np.asarray(oracle(idx), np.float64).reshape(-1)
    if rev.shape != (len(idx),):
        raise InputError(f"the revenue oracle returned {rev.shape[0]} values for {len(idx)} open sites")
    if not np.isfinite(rev).all() or (rev < 0).any():
        raise InputError("the revenue oracle returned a negative or non-finite revenue")
    return rev
