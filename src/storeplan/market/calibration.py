"""Calibration of the Huff market to our existing stores' observed sales."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputError, MissingColumnError, UnknownOptionError
from .huff import EXISTING, RIVAL, Market, MarketParams

__all__ = ["CalibrationReport", "calibrate", "predicted_sales"]


def predicted_sales(market: Market, new_sites: npt.ArrayLike | None = None) -> np.ndarray:
    """Gross yearly revenue of every store (offline capture plus, for ours, the online
    transfer), currency per year, shape (n_stores,); closed candidates get 0. With
    ``market.params.channel``: the channel model's revenue
    (:func:`storeplan.market.channel.channel_store_revenue`)."""
    if market.params.channel is not None:
        from .channel import channel_store_revenue

        return channel_store_revenue(market, new_sites)
    sh = market.shares(new_sites)
    out = sh.store_sum(market.market)
    out += np.where(market.own, sh.store_sum(market.params.transfer_rate * market.online), 0.0)
    out[~market.open_mask(new_sites)] = 0.0
    return out


@dataclass(frozen=True)
class CalibrationReport:
    """Fit report of :func:`calibrate`.

    Attributes
    ----------
    r2 : float
        Coefficient of determination of predicted vs observed sales (levels), in sample.
    cv_r2 : float
        Out-of-sample R^2: each store predicted by the fit on the other folds (k-fold
        cross-validation, ``folds`` folds; NaN when too few stores to refit).
    mape : float
        Mean absolute percentage error (fraction, 0.1 = 10 %).
    n_stores : int
    fitted : dict
        Fitted values by name (``decay``, ``outside``, ``format:<name>``, ``brand:<name>``).
    table : DataFrame
        ``id, observed, predicted, error`` per store (currency per year), plus
        ``predicted_oos, error_oos`` (out of sample, NaN when not computed).
    success : bool
    message : str
    n_evaluations : int
    """

    r2: float
    mape: float
    n_stores: int
    fitted: dict
    table: pd.DataFrame
    success: bool
    message: str
    n_evaluations: int
    cv_r2: float = float("nan")
    cv_mape: float = float("nan")

    def acceptable(self, min_r2: float) -> bool:
        """True when the fit explains enough: in-sample R^2 >= ``min_r2``."""
        return bool(np.isfinite(self.r2) and self.r2 >= min_r2)


def calibrate(
    market: Market,
    observed_sales: pd.DataFrame,
    *,
    fit_decay: Literal["common", "level", "none"] = "common",
    fit_formats: bool = True,
    fit_outside: bool = True,
    fit_brands: bool = False,
    fit_scale: bool = True,
    errors: Literal["log", "relative"] = "log",
    folds: int = 3,
) -> tuple[MarketParams, CalibrationReport]:
    """Fit decay and attractiveness parameters to observed yearly sales of our stores.

    Nonlinear least squares (:func:`scipy.optimize.least_squares`, trust-region
    reflective) on log parameters. The residual of store ``j`` is
    ``log(pred_j / obs_j)`` (``errors="log"``, multiplicative errors) or
    ``(pred_j - obs_j) / mean(obs)`` (``"relative"``).

    Parameters
    ----------
    market : Market
        Built with the stores whose sales are observed as ``existing`` stores.
    observed_sales : DataFrame
        ``id, annual_sales`` (currency per year) of existing stores; other ids are ignored.
    fit_decay : {"common", "level", "none"}
        ``common`` fits one ``lambda`` for every level (the level table is replaced),
        ``level`` one per level present in the areas.
    fit_formats : bool
        Fit the attractiveness of every format of the observed stores except
        ``params.default_format``, which stays fixed as the scale reference (shares are
        invariant to scaling every utility and ``u_0`` together).
    fit_outside : bool
        Fit the outside utility ``u_0``.
    fit_brands : bool
        Also fit each rival brand's attractiveness (weakly identified from own sales only;
        off by default).
    fit_scale : bool
        Fit the market-size scale ``market_scale`` (sales at twice the model's level are
        a scale of 2, not a distorted decay).
    errors : {"log", "relative"}
    folds : int
        Folds of the out-of-sample check (0: skip). Each fold refits on the others.

    Returns
    -------
    params : MarketParams
        Fitted parameters (other settings copied from ``market.params``).
    report : CalibrationReport

    Raises
    ------
    MissingColumnError, InputError
        Bad ``observed_sales`` or fewer observed stores than free parameters.
    """
    from scipy.optimize import least_squares

    for c in ("id", "annual_sales"):
        if c not in observed_sales.columns:
            raise MissingColumnError(f"observed_sales is missing column {c!r}")
    base = market.params
    obs_ids = observed_sales["id"].astype(str).to_numpy()
    obs_val = pd.to_numeric(observed_sales["annual_sales"], errors="coerce").to_numpy(float)
    pos = {sid: j for j, sid in enumerate(market.store_ids) if market.kind[j] == EXISTING}
    keep = np.array([(s in pos) and np.isfinite(v) and v > 0 for s, v in zip(obs_ids, obs_val, strict=True)])
    if not keep.any():
        raise InputError("observed_sales has no positive sales of existing stores in the market")
    obs_ids, obs_val = obs_ids[keep], obs_val[keep]
    store_idx = np.array([pos[s] for s in obs_ids], dtype=np.int64)

    names: list[str] = []
    x0: list[float] = []
    levels = base.level_decay()
    if fit_decay == "common":
        names.append("decay")
        x0.append(float(np.mean(list(levels.values())) if levels else base.default_decay))
    elif fit_decay == "level":
        present = (
            sorted({x for x in market.level.tolist() if isinstance(x, str)})
            if market.level is not None
            else []
        )
        for lvl in present:
            names.append(f"decay:{lvl}")
            x0.append(levels.get(lvl, base.default_decay))
        if not present:
            names.append("decay")
            x0.append(base.default_decay)
    elif fit_decay != "none":
        raise UnknownOptionError(f"fit_decay {fit_decay!r} is not common, level or none")
    if fit_outside:
        names.append("outside")
        x0.append(max(base.outside, 1e-6))
    if fit_formats:
        fmts = sorted(set(market.store_format[store_idx].tolist()) - {base.default_format})
        for f in fmts:
            names.append(f"format:{f}")
            x0.append(base.format_attractiveness[f])
    if fit_scale:
        names.append("scale")
        x0.append(base.market_scale)
    if fit_brands:
        rb = market.store_brand[market.kind == RIVAL]
        for b in sorted({x for x in rb.tolist() if x is not None}):
            names.append(f"brand:{b}")
            x0.append(base.brand_attractiveness.get(b, base.rival_default))
    if not names:
        raise InputError("nothing to fit")
    if len(names) > len(store_idx):
        raise InputError(
            f"calibration: {len(names)} parameters ({', '.join(names)}) but only {len(store_idx)} "
            "stores with sales; fit fewer parameters or add stores"
        )

    def to_params(x: np.ndarray) -> MarketParams:
        vals = dict(zip(names, np.exp(x), strict=True))
        upd: dict = {}
        lv = dict(levels)
        if "decay" in vals:
            lv = dict.fromkeys(lv, vals["decay"])
            upd["default_decay"] = vals["decay"]
        for k, v in vals.items():
            if k.startswith("decay:"):
                lv[k.split(":", 1)[1]] = v
        upd["decay_by_level"] = lv
        if "outside" in vals:
            upd["outside"] = vals["outside"]
        fa = dict(base.format_attractiveness)
        ba = dict(base.brand_attractiveness)
        for k, v in vals.items():
            if k.startswith("format:"):
                fa[k.split(":", 1)[1]] = v
            elif k.startswith("brand:"):
                ba[k.split(":", 1)[1]] = v
        upd["format_attractiveness"] = fa
        upd["brand_attractiveness"] = ba
        if "scale" in vals:
            upd["market_scale"] = vals["scale"]
        return base.model_copy(update=upd)

    scale = float(np.mean(obs_val))
    n_eval = [0]

    def fit(sel: np.ndarray):
        def resid(x: np.ndarray) -> np.ndarray:
            n_eval[0] += 1
            pred = predicted_sales(market.with_params(to_params(x)))[store_idx[sel]]
            if errors == "log":
                return np.log(np.maximum(pred, 1e-12)) - np.log(obs_val[sel])
            return (pred - obs_val[sel]) / scale

        return least_squares(
            resid,
            np.log(np.asarray(x0, dtype=float)),
            method="trf",
            x_scale=1.0,
            bounds=(np.log(1e-6), np.log(1e4)),
        )

    if errors not in ("log", "relative"):
        raise UnknownOptionError(f"errors {errors!r} is not 'log' or 'relative'")
    n_obs = len(store_idx)
    res = fit(np.ones(n_obs, dtype=bool))
    fitted_params = to_params(res.x)
    pred = predicted_sales(market.with_params(fitted_params))[store_idx]
    # out of sample: k-fold refits (every fold keeps at least as many stores as parameters)
    oos = np.full(n_obs, np.nan)
    k = min(int(folds), n_obs)
    if k >= 2 and n_obs - int(np.ceil(n_obs / k)) >= len(names):
        fold = np.arange(n_obs) % k
        for f in range(k):
            r = fit(fold != f)
            oos[fold == f] = predicted_sales(market.with_params(to_params(r.x)))[store_idx[fold == f]]
    ss_res = float(np.sum((pred - obs_val) ** 2))
    ss_tot = float(np.sum((obs_val - obs_val.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    mape = float(np.mean(np.abs(pred - obs_val) / obs_val))
    cv_r2 = cv_mape = float("nan")
    if np.all(np.isfinite(oos)) and ss_tot > 0:
        cv_r2 = 1.0 - float(np.sum((oos - obs_val) ** 2)) / ss_tot
        cv_mape = float(np.mean(np.abs(oos - obs_val) / obs_val))
    table = pd.DataFrame(
        {
            "id": obs_ids,
            "observed": obs_val,
            "predicted": pred,
            "error": pred - obs_val,
            "predicted_oos": oos,
            "error_oos": oos - obs_val,
        }
    )
    report = CalibrationReport(
        r2=r2,
        mape=mape,
        n_stores=len(store_idx),
        fitted=dict(zip(names, np.exp(res.x).tolist(), strict=True)),
        table=table,
        success=bool(res.success),
        message=str(res.message),
        n_evaluations=n_eval[0],
        cv_r2=cv_r2,
        cv_mape=cv_mape,
    )
    return fitted_params, report
