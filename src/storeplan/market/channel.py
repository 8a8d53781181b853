r"""Online and offline as one: a nested-logit channel model with a store halo.

Every area :math:`i` holds two kinds of spending on the category (currency per year):

- the *offline* spending potential :math:`M_i` (:func:`storeplan.demand.offline_spending`),
  split by the Huff rule of :mod:`storeplan.market.huff` between our stores, the rivals'
  stores and the outside option: the *offline nest*, with inclusive value
  :math:`\log D_i`, :math:`D_i = u_{0i} + \sum_{k\ \text{open}} u_{ik}`;
- the spending of *our online customers* :math:`O_i` (from our web-shop orders,
  :func:`storeplan.demand.online_revenue`), who choose between the *online nest* (our web
  shop) and the offline nest by a nested logit:

.. math::

    \pi_i = \Pr(\text{offline nest}) =
        \frac{e^{\alpha + \tau \log D_i}}{e^{\alpha + \tau \log D_i} + e^{V_\text{web}}}
      = \operatorname{expit}\!\big(\operatorname{logit}(t_0) + \tau\,(\log D_i - \log D_\text{ref})\big),

  with the nest parameter :math:`\tau \in [0, 1]` (how strongly the offline nest's
  attraction, i.e. how many and how close stores are, pulls our online customers into
  stores), :math:`t_0` (``store_rate``) the offline-nest share at the reference inclusive
  value :math:`\log D_\text{ref}` and :math:`V_\text{web}` folded into :math:`t_0`. Inside
  the offline nest they choose by the same Huff probabilities :math:`P_{ij} = u_{ij} / D_i`;
  being our customers they buy from our web shop when that choice is not one of our
  stores. So store :math:`j` of ours earns

.. math::

    R_j = \sum_i \big(M_i + \pi_i\, O_i^{S}\big)\, P_{ij},

  our web shop keeps :math:`W_i = O_i^{S}\,(1 - \pi_i S_i)` (:math:`S_i` our stores' share
  of the offline nest) and the area's spending :math:`T_i = M_i + O_i^{S}` splits into
  web, our stores, rivals and outside with shares that sum to 1.

Halo (``halo > 0``): a store of ours makes the brand known nearby, lifting our online
demand towards the national online rate where the brand was little known:

.. math::

    O_i^{S} = O_i + h\,\big(a_i(S) - a_i(S_0)\big)\,\max(\bar O_i - O_i, 0), \qquad
    a_i(S) = e^{-d_i(S) / \ell},

with :math:`a_i` the brand awareness from the distance :math:`d_i(S)` (km) to our nearest
open store (0 beyond the network's stored pairs), :math:`\ell` = ``halo_km``,
:math:`S_0` the existing network, :math:`\bar O_i` the area's population times the
national online revenue per resident and :math:`h` = ``halo`` the share of that gap a store
on the spot closes.

Reduction: with :math:`\tau = 0`, :math:`h = 0` and :math:`t_0` equal to the market's
``transfer_rate`` :math:`t`, :math:`\pi_i = t` everywhere and every figure equals the
fixed-transfer model of :mod:`storeplan.market.huff` (``tests/test_channel.py``).

Accounting of the new stores (per area, then split over the new stores in proportion to
their utilities, as :func:`storeplan.market.huff.cannibalisation` does): with ``0`` the
existing network and ``1`` with the new stores, :math:`w = M + \pi O^S`,

- ``from_existing_stores`` :math:`= w^0 E / D^0 - w^1 E / D^1` (negative where the new
  stores pull so many online customers into the offline nest that our existing stores gain);
- ``from_online`` :math:`= O (\pi^1 S^1 - \pi^0 S^0)`: our web shop's customers who now buy
  in our stores;
- ``net_gain`` :math:`= M (S^1 - S^0) + (O^{S} - O)\,\pi^1 S^1`: offline spending won from
  rivals and the outside option, plus the halo's new online demand that buys in our stores;
- ``adds_online`` :math:`= (O^{S} - O)(1 - \pi^1 S^1)`: the halo's new demand bought on our
  web shop, credited to the new store that is the area's nearest store of ours.

so ``revenue = from_existing_stores + from_online + net_gain`` per store and in total, and
the web shop's revenue changes by ``adds_online - from_online``.

:func:`calibrate_channel` fits :math:`t_0`, :math:`\tau` to our stores' observed sales and
:math:`h` to our online orders per area (least squares) and reports the fit. The solvers'
objective is unchanged (our offline capture, :mod:`storeplan.solvers.revenue`): the channel
model values a chosen network, it does not choose one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import expit, logit

from ..errors import InputError
from ..metrics import ChannelFitSummary

if TYPE_CHECKING:
    from .huff import Cannibalisation, Capture, Market

__all__ = [
    "ChannelParams",
    "ChannelState",
    "ChannelFit",
    "channel_state",
    "channel_accounts",
    "channel_store_revenue",
    "calibrate_channel",
]


class ChannelParams(BaseModel):
    """The ``[market.channel]`` section: the nested-logit channel model (frozen).

    Parameters
    ----------
    store_rate : float, optional
        :math:`t_0`, share (0..1) of our online customers' spending that goes to the
        offline nest at the reference inclusive value. Default: the market's
        ``transfer_rate``.
    nest : float
        Nest parameter :math:`\\tau` in [0, 1]: elasticity of the offline-nest odds to
        the nest's attraction :math:`D_i`. 0: a fixed rate (today's fixed transfer).
        Default 0.5 (an assumption to calibrate).
    reference_utility : float, optional
        :math:`D_\\text{ref}`, in Huff utility units. Default: the median over areas of
        the existing network's Huff denominator.
    halo : float
        :math:`h` in [0, 1], share of the gap to the national online rate a store on the
        spot closes. Default 0 (no halo).
    halo_km : float
        Decay length of brand awareness with the distance to our nearest store, km.
        Default 15.
    calibrate : bool
        Fit ``store_rate`` and ``nest`` to the existing stores' ``annual_sales`` and
        ``halo`` to the online orders per area before planning
        (:func:`calibrate_channel`; the plan reports the fit). Default False.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_rate: float | None = Field(None, ge=0.0, le=1.0)
    nest: float = Field(0.5, ge=0.0, le=1.0)
    reference_utility: float | None = Field(None, gt=0.0)
    halo: float = Field(0.0, ge=0.0, le=1.0)
    halo_km: float = Field(15.0, gt=0.0)
    calibrate: bool = False


def _rows(market: Market) -> np.ndarray:
    net = market.net
    return np.repeat(np.arange(net.n_areas, dtype=np.int64), np.diff(net.indptr))


#: Names of the store kinds (:data:`storeplan.market.huff.CANDIDATE` ... ``RIVAL``).
_KIND_NAMES = np.array(["candidate", "existing", "rival"], dtype=object)


def _indices(new_sites: npt.ArrayLike | None, n_candidates: int) -> np.ndarray:
    idx = np.unique(np.asarray(new_sites if new_sites is not None else [], dtype=np.int64).reshape(-1))
    if idx.size and (idx[0] < 0 or idx[-1] >= n_candidates):
        raise InputError(f"candidate site indices must lie in 0..{n_candidates - 1}")
    return idx


def _params(market: Market) -> ChannelParams:
    p = market.params.channel
    return p if p is not None else ChannelParams(nest=0.0, store_rate=market.params.transfer_rate)


@dataclass(frozen=True)
class ChannelState:
    """Channel split of every area for one set of open stores (arrays of shape (n_areas,)).

    Attributes
    ----------
    online : our online customers' spending :math:`O_i^S` (halo included), currency/year.
    offline_rate : :math:`\\pi_i`, their share going to the offline nest.
    own_share, rival_share, outside_share : shares of the offline nest (sum to 1).
    denominator : Huff denominator :math:`D_i`.
    awareness : brand awareness :math:`a_i` in [0, 1].
    nearest : market index of our nearest open store (-1: none stored).
    market : offline spending :math:`M_i`, currency/year.
    """

    online: np.ndarray
    offline_rate: np.ndarray
    own_share: np.ndarray
    rival_share: np.ndarray
    outside_share: np.ndarray
    denominator: np.ndarray
    awareness: np.ndarray
    nearest: np.ndarray
    market: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """The area's spending :math:`T_i = M_i + O_i^S`, currency per year."""
        return self.market + self.online

    @property
    def web_revenue(self) -> np.ndarray:
        """Our web shop's revenue per area, currency per year."""
        return self.online * (1.0 - self.offline_rate * self.own_share)

    @property
    def store_transfer(self) -> np.ndarray:
        """Our online customers' spending bought in our stores, currency per year."""
        return self.online * self.offline_rate * self.own_share

    def shares(self) -> pd.DataFrame:
        """Channel shares of the area's spending ``web, stores, rivals, outside`` (sum to 1;
        an area with no spending counts as all ``outside``)."""
        T = self.total
        safe = np.where(T > 0, T, 1.0)
        web = np.where(T > 0, self.web_revenue / safe, 0.0)
        stores = np.where(T > 0, (self.market * self.own_share + self.store_transfer) / safe, 0.0)
        rivals = np.where(T > 0, self.market * self.rival_share / safe, 0.0)
        outside = np.where(T > 0, self.market * self.outside_share / safe, 1.0)
        return pd.DataFrame({"web": web, "stores": stores, "rivals": rivals, "outside": outside})


def _reference(market: Market, p: ChannelParams) -> float:
    if p.reference_utility is not None:
        return float(p.reference_utility)
    den = market.shares(None).denominator
    pos = den[den > 0]
    return float(np.median(pos)) if pos.size else 1.0


def _offline_rate(den: np.ndarray, t0: float, tau: float, ref: float) -> np.ndarray:
    if tau == 0.0 or t0 in (0.0, 1.0):
        return np.full(den.shape, t0, dtype=np.float64)
    with np.errstate(divide="ignore"):
        z = logit(t0) + tau * (np.log(np.maximum(den, 0.0)) - np.log(ref))
    return np.asarray(expit(z), dtype=np.float64)


def _awareness(market: Market, active: np.ndarray, halo_km: float) -> tuple[np.ndarray, np.ndarray]:
    net = market.net
    rows = _rows(market)
    ours = (market.own & active)[net.indices]
    km = np.where(ours, net.km.astype(np.float64), np.inf)
    dmin = np.full(net.n_areas, np.inf)
    np.minimum.at(dmin, rows, km)
    # nearest own store per area: first pair of the row reaching the minimum
    hit = ours & (km <= dmin[rows])
    nearest = np.full(net.n_areas, -1, dtype=np.int64)
    sel = np.flatnonzero(hit)
    first = np.unique(rows[sel], return_index=True)
    nearest[first[0]] = net.indices[sel[first[1]]]
    aw = np.where(np.isfinite(dmin), np.exp(-dmin / halo_km), 0.0)
    return aw, nearest


def _national_gap(market: Market) -> np.ndarray:
    """``max(Obar_i - O_i, 0)``: the area's online demand at the national rate per
    resident minus ours (0 without populations)."""
    pop = market.population
    if pop is None or pop.sum() <= 0:
        return np.zeros(market.n_areas)
    rate = float(market.online.sum()) / float(pop.sum())
    return np.maximum(pop * rate - market.online, 0.0)


def channel_state(
    market: Market, new_sites: npt.ArrayLike | None = None, params: ChannelParams | None = None
) -> ChannelState:
    """The channel split of every area with candidate indices ``new_sites`` open.

    ``params`` defaults to ``market.params.channel`` (the fixed-transfer equivalent when
    the market has none). O(nnz), vectorised.
    """
    p = params or _params(market)
    sh = market.shares(new_sites)
    rows = _rows(market)
    own_pair = market.own[market.net.indices]
    own = np.bincount(rows, weights=np.where(own_pair, sh.values, 0.0), minlength=market.n_areas)
    t0 = market.params.transfer_rate if p.store_rate is None else float(p.store_rate)
    rate = _offline_rate(sh.denominator, t0, float(p.nest), _reference(market, p))
    active = market.open_mask(new_sites)
    aw, nearest = _awareness(market, active, p.halo_km)
    online = market.online
    if p.halo > 0:
        aw0, _ = _awareness(market, market.open_mask(None), p.halo_km)
        online = online + p.halo * np.maximum(aw - aw0, 0.0) * _national_gap(market)
    rival = np.clip(1.0 - own - sh.outside, 0.0, 1.0)
    return ChannelState(
        online=np.asarray(online, dtype=np.float64),
        offline_rate=rate,
        own_share=own,
        rival_share=rival,
        outside_share=sh.outside,
        denominator=sh.denominator,
        awareness=aw,
        nearest=nearest,
        market=market.market,
    )


def channel_store_revenue(market: Market, new_sites: npt.ArrayLike | None = None) -> np.ndarray:
    """Gross yearly revenue of every store, shape (n_stores,): ``sum_i (M_i + [ours]
    pi_i O_i^S) P_ij``, currency per year; closed candidates get 0."""
    st = channel_state(market, new_sites)
    sh = market.shares(new_sites)
    out = sh.store_sum(market.market)
    out += np.where(market.own, sh.store_sum(st.online * st.offline_rate), 0.0)
    out[~market.open_mask(new_sites)] = 0.0
    return out


def channel_accounts(market: Market, new_sites: npt.ArrayLike | None) -> tuple[Capture, Cannibalisation]:
    """Capture and cannibalisation of the candidate indices ``new_sites`` under the
    channel model (see the module docstring); the frames carry the columns of
    :func:`storeplan.market.huff.capture` / ``cannibalisation`` plus: new stores
    ``adds_online``; areas ``online_before, online_after``, ``offline_rate_before/after``,
    ``awareness_before/after`` and the channel shares ``web_share_before/after,
    store_share_before/after, rival_share_before/after, outside_share_before/after``."""
    from .huff import CANDIDATE, EXISTING, Cannibalisation, Capture

    idx = _indices(new_sites, market.n_candidates)
    net = market.net
    rows = _rows(market)
    n_areas, n = market.n_areas, market.n_stores
    before_sh, after_sh = market.shares(None), market.shares(idx)
    s0, s1 = channel_state(market, None), channel_state(market, idx)
    M, O0, O1 = market.market, s0.online, s1.online
    pi0, pi1 = s0.offline_rate, s1.offline_rate
    S0, S1 = s0.own_share, s1.own_share
    w0, w1 = M + pi0 * O0, M + pi1 * O1

    # ------------------------------------------------ capture (all open stores)
    active = market.open_mask(idx)
    own = market.own
    offline = after_sh.store_sum(M)
    transfer = np.where(own, after_sh.store_sum(pi1 * O1), 0.0)
    where = np.flatnonzero(active)
    kind_name = np.where(market.kind[where] == CANDIDATE, "new", _KIND_NAMES[market.kind[where]])
    stores = pd.DataFrame(
        {
            "id": market.store_ids[where],
            "index": where,
            "kind": kind_name,
            "offline_revenue": offline[where],
            "online_transfer": transfer[where],
            "revenue": offline[where] + transfer[where],
        }
    )
    cap_areas = pd.DataFrame(
        {
            "id": market.area_ids,
            "market": M,
            "online": O1,
            "own_share": S1,
            "rival_share": s1.rival_share,
            "outside_share": s1.outside_share,
            "own_offline_revenue": M * S1,
            "online_transfer": s1.store_transfer,
        }
    )
    own_off = float(np.dot(M, S1))
    own_tr = float(s1.store_transfer.sum())
    cap = Capture(stores, cap_areas, own_off, own_off + own_tr, own_tr)

    # ------------------------------------------------ accounting of the new stores
    util = np.where(active[net.indices], market.utility, 0.0)
    is_new = np.zeros(n, dtype=bool)
    is_new[idx] = True
    new_pair = is_new[net.indices]
    own_pair = own[net.indices]
    own_u = np.bincount(rows, weights=np.where(own_pair, util, 0.0), minlength=n_areas)
    new_u = np.bincount(rows, weights=np.where(new_pair, util, 0.0), minlength=n_areas)
    exist_u = own_u - new_u
    den0, den1 = before_sh.denominator, after_sh.denominator
    inv0 = np.divide(1.0, den0, out=np.zeros(n_areas), where=den0 > 0)
    inv1 = np.divide(1.0, den1, out=np.zeros(n_areas), where=den1 > 0)
    d_exist = exist_u * (w0 * inv0 - w1 * inv1)
    d_online = O0 * (pi1 * S1 - pi0 * S0)
    d_net = M * (S1 - S0) + (O1 - O0) * pi1 * S1
    d_adds = (O1 - O0) * (1.0 - pi1 * S1)
    sel = np.flatnonzero(new_pair)
    i_sel, u, j_sel = rows[sel], util[sel], net.indices[sel]
    frac = np.divide(u, new_u[i_sel], out=np.zeros(len(u)), where=new_u[i_sel] > 0)
    from_exist = np.bincount(j_sel, weights=frac * d_exist[i_sel], minlength=n)
    from_online = np.bincount(j_sel, weights=frac * d_online[i_sel], minlength=n)
    net_gain = np.bincount(j_sel, weights=frac * d_net[i_sel], minlength=n)
    revenue = np.bincount(j_sel, weights=w1[i_sel] * u * inv1[i_sel], minlength=n)
    # the halo's web-shop gain goes to the area's nearest store of ours when it is new
    credited = (s1.nearest >= 0) & is_new[np.maximum(s1.nearest, 0)]
    adds = np.bincount(s1.nearest[credited], weights=d_adds[credited], minlength=n)
    # leave-one-out offline capture (as the fixed-transfer model)
    marginal = leave_one_out_gain(den1[i_sel], own_u[i_sel], u, M[i_sel], S1[i_sel], j_sel, n)
    new_stores = pd.DataFrame(
        {
            "id": market.store_ids[idx],
            "index": idx,
            "revenue": revenue[idx],
            "from_existing_stores": from_exist[idx],
            "from_online": from_online[idx],
            "net_gain": net_gain[idx],
            "marginal_net_gain": marginal[idx],
            "adds_online": adds[idx],
        }
    )
    ex = np.flatnonzero(market.kind == EXISTING)
    rev_before = before_sh.store_sum(w0)
    rev_after = after_sh.store_sum(w1)
    existing = existing_store_table(market.store_ids, ex, rev_before, rev_after)
    sh0, sh1 = s0.shares(), s1.shares()
    areas = pd.DataFrame(
        {
            "id": market.area_ids,
            "share_before": S0,
            "share_after": S1,
            "revenue_before": M * S0,
            "revenue_after": M * S1,
            "online_before": O0,
            "online_after": O1,
            "offline_rate_before": pi0,
            "offline_rate_after": pi1,
            "awareness_before": s0.awareness,
            "awareness_after": s1.awareness,
        }
    )
    for name, col in (("web", "web"), ("store", "stores"), ("rival", "rivals"), ("outside", "outside")):
        areas[f"{name}_share_before"] = sh0[col].to_numpy()
        areas[f"{name}_share_after"] = sh1[col].to_numpy()
    can = Cannibalisation(
        stores=new_stores,
        areas=areas,
        total_net_gain=float(d_net.sum()),
        existing=existing,
        total_from_existing_stores=float(d_exist.sum()),
        total_from_online=float(d_online.sum()),
        total_new_revenue=float(revenue[idx].sum()),
    )
    return cap, can


# --------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class ChannelFit:
    """Fit of the channel model (:func:`calibrate_channel`).

    Attributes
    ----------
    params : ChannelParams
        The fitted parameters.
    sales_r2 : float
        R^2 of log predicted vs log observed store sales (NaN: not fitted).
    online_r2 : float
        R^2 of the halo model of online orders per resident (NaN: not fitted).
    n_stores, n_areas : int
        Observations of each fit.
    table : DataFrame
        ``id, observed, predicted`` per store, currency per year.
    success : bool
    """

    params: ChannelParams
    sales_r2: float
    online_r2: float
    n_stores: int
    n_areas: int
    table: pd.DataFrame
    success: bool

    def headline(self) -> ChannelFitSummary:
        """The fit's figures for ``summary.json`` (:class:`storeplan.metrics.ChannelFitSummary`)."""
        return ChannelFitSummary(
            store_rate=float(self.params.store_rate if self.params.store_rate is not None else float("nan")),
            nest=float(self.params.nest),
            halo=float(self.params.halo),
            sales_r2=float(self.sales_r2),
            online_r2=float(self.online_r2),
            n_stores=int(self.n_stores),
            n_areas=int(self.n_areas),
            success=bool(self.success),
        )


def _r2(obs: np.ndarray, pred: np.ndarray) -> float:
    ss = float(((obs - obs.mean()) ** 2).sum())
    return float("nan") if ss <= 0 else 1.0 - float(((obs - pred) ** 2).sum()) / ss


def calibrate_channel(
    market: Market,
    observed_sales: pd.Series | None = None,
    *,
    fit_halo: bool = True,
    params: ChannelParams | None = None,
) -> ChannelFit:
    """Fit the channel model to our stores' sales and our online orders per area.

    Parameters
    ----------
    market : Market
        The market (its existing stores are the ones observed).
    observed_sales : Series, optional
        Yearly sales of our existing stores (currency per year), indexed by store id.
        Fits ``store_rate`` and ``nest`` by least squares on log sales. None: kept.
    fit_halo : bool
        Fit ``halo`` from the online orders per resident: their expected value per area
        is ``c + h a_i (1 - c)`` times the national rate (``a_i`` the awareness from the
        existing stores, ``c`` a fitted base level), by least squares.
    params : ChannelParams, optional
        Starting values and the fixed parts (``reference_utility``, ``halo_km``).
        Default ``market.params.channel`` or the defaults.

    Returns
    -------
    ChannelFit

    Raises
    ------
    InputError
        Fewer than 3 observed stores match the market's existing stores.
    """
    from scipy.optimize import least_squares

    from .huff import EXISTING

    p0 = params or market.params.channel or ChannelParams()
    ref = _reference(market, p0)
    p0 = p0.model_copy(update={"reference_utility": ref})
    success = True
    sales_r2 = float("nan")
    n_obs = 0
    table = pd.DataFrame({"id": [], "observed": [], "predicted": []})
    if observed_sales is not None:
        obs = pd.Series(observed_sales, dtype=float)
        obs.index = obs.index.astype(str)
        ex = np.flatnonzero(market.kind == EXISTING)
        ids = market.store_ids[ex].astype(str)
        keep = np.isin(ids, obs.index) & np.isin(ids, obs.index[obs.to_numpy() > 0])
        if keep.sum() < 3:
            raise InputError(
                f"channel calibration needs sales of at least 3 existing stores, got {keep.sum()}"
            )
        ex, ids = ex[keep], ids[keep]
        y = np.log(obs.loc[ids].to_numpy(float))
        sh = market.shares(None)
        off = sh.store_sum(market.market)[ex]
        csr = sh.to_csr().tocsc()[:, ex]

        def pred(x: np.ndarray) -> np.ndarray:
            rate = _offline_rate(sh.denominator, float(expit(x[0])), float(np.clip(x[1], 0, 1)), ref)
            return off + np.asarray(csr.T @ (rate * market.online)).ravel()

        def resid(x: np.ndarray) -> np.ndarray:
            return np.log(np.maximum(pred(x), 1e-300)) - y

        t_start = p0.store_rate if p0.store_rate is not None else market.params.transfer_rate
        x0 = np.array([logit(np.clip(t_start, 1e-4, 1 - 1e-4)), p0.nest])
        res = least_squares(resid, x0, bounds=([-12.0, 0.0], [12.0, 1.0]))
        success = bool(res.success)
        p0 = p0.model_copy(update={"store_rate": float(expit(res.x[0])), "nest": float(res.x[1])})
        fitted = pred(res.x)
        sales_r2 = _r2(y, np.log(np.maximum(fitted, 1e-300)))
        n_obs = int(len(ex))
        table = pd.DataFrame({"id": ids, "observed": np.exp(y), "predicted": fitted})
    online_r2 = float("nan")
    n_areas = 0
    if fit_halo and market.population is not None and market.online.sum() > 0:
        pop = market.population
        ok = pop > 0
        rate = float(market.online[ok].sum()) / float(pop[ok].sum())
        rel = market.online[ok] / (pop[ok] * rate)
        aw, _ = _awareness(market, market.open_mask(None), p0.halo_km)
        a = aw[ok]
        wts = np.sqrt(pop[ok] / pop[ok].mean())

        def resid_h(x: np.ndarray) -> np.ndarray:
            c, h = x
            return wts * (c + h * a * (1.0 - c) - rel)

        res_h = least_squares(resid_h, np.array([0.5, 0.1]), bounds=([0.0, 0.0], [1.0, 1.0]))
        success = success and bool(res_h.success)
        c, h = res_h.x
        online_r2 = _r2(rel, c + h * a * (1.0 - c))
        n_areas = int(ok.sum())
        p0 = p0.model_copy(update={"halo": float(h)})
    return ChannelFit(p0, sales_r2, online_r2, n_obs, n_areas, table, success)


def leave_one_out_gain(
    den: npt.NDArray[np.float64],
    own_u: npt.NDArray[np.float64],
    u: npt.NDArray[np.float64],
    spend: npt.NDArray[np.float64],
    share_after: npt.NDArray[np.float64],
    j: npt.NDArray[np.int64],
    n: int,
) -> npt.NDArray[np.float64]:
    """Per store (length ``n``), currency per year: our offline capture lost if this store
    alone closed. For each stored pair (area row, store ``j``) with utility ``u``: our share
    after the plan ``share_after`` minus our share without the store,
    ``(own_u - u) / (den - u)``, times the area's offline spending ``spend`` (all three
    indexed by the pair's area)."""
    den_wo = den - u
    s_wo = np.where(den_wo > 0, (own_u - u) / np.where(den_wo > 0, den_wo, 1.0), 0.0)
    gain = np.bincount(j, weights=spend * (share_after - s_wo), minlength=n)
    return gain.astype(np.float64, copy=False)  # weighted: already float64


def existing_store_table(
    ids: npt.NDArray[np.object_],
    ex: npt.NDArray[np.int64],
    rev_before: npt.NDArray[np.float64],
    rev_after: npt.NDArray[np.float64],
) -> pd.DataFrame:
    """Our existing stores (indices ``ex``): revenue before and after the new stores, and
    what the new stores take from each (currency per year)."""
    return pd.DataFrame(
        {
            "id": ids[ex],
            "index": ex,
            "baseline_revenue": rev_before[ex],
            "revenue": rev_after[ex],
            "taken_by_new_stores": rev_before[ex] - rev_after[ex],
        }
    )
