r"""Huff competition model: shares, capture, cannibalisation.

Every demand area :math:`i` splits its yearly offline spending :math:`M_i` (currency per
year, from :mod:`storeplan.demand`) between the stores it can reach and an *outside option*
(buying at a store not in the model, or not buying offline) with the Huff / multinomial-logit
rule

.. math::

    P_{ij} = \frac{u_{ij}}{u_{0i} + \sum_{k \in \text{open}} u_{ik}}, \qquad
    u_{ij} = a_i^{[j\ \text{ours}]} \, A_j \, f_{\ell(i)}(d_{ij}), \qquad
    P_{i0} = \frac{u_{0i}}{u_{0i} + \sum_k u_{ik}},

with :math:`A_j` the attractiveness of the store (per format for ours, per brand for
rivals), :math:`a_i` our brand affinity in the area (:func:`storeplan.demand.brand_affinity`),
:math:`d_{ij}` the great-circle distance in km, :math:`f_\ell` a distance decay that
depends on the area level :math:`\ell` (``power``: :math:`\max(d, d_{\min})^{-\lambda_\ell}`;
``exponential``: :math:`e^{-\lambda_\ell d}`, :math:`\lambda_\ell` per km) and
:math:`u_{0i}` the outside option's utility (``outside`` plus ``outside_per_100k`` per
100,000 residents). Pairs farther than the network radius (and beyond the ``k`` nearest)
are not stored and count as :math:`u_{ij} = 0`.

Online and offline as one: a share ``transfer_rate`` of our online revenue :math:`O_i` in
an area moves to our stores in proportion to their Huff shares, so a store's gross revenue
is :math:`R_j = \sum_i (M_i + t\,O_i) P_{ij}`. The part :math:`t\,O_i P_{ij}` is
*cannibalised from our online channel*: it is revenue for the store, not for the brand. The
brand's net gain from its store network is therefore the offline capture
:math:`\sum_i M_i \sum_{j \text{ ours}} P_{ij}`, which is monotone submodular in the set of
our stores (an MNL capture), the objective of :func:`storeplan.solvers.revenue.revenue`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..demand import DemandParams, brand_affinity, offline_spending, online_revenue
from ..errors import InputError, MissingColumnError, UnknownOptionError
from ..geo import Network
from .channel import ChannelParams, existing_store_table, leave_one_out_gain

__all__ = [
    "CANDIDATE",
    "EXISTING",
    "RIVAL",
    "MarketParams",
    "Market",
    "HuffShares",
    "Capture",
    "Cannibalisation",
    "decay",
    "huff_shares",
    "build_market",
    "capture",
    "cannibalisation",
    "pair_rows",
]

#: Store kinds in :attr:`Market.kind`.
CANDIDATE, EXISTING, RIVAL = 0, 1, 2
_KIND_NAMES = np.array(["candidate", "existing", "rival"], dtype=object)

_POWER_DEFAULTS = {"country": 2.0, "region": 2.0, "city": 2.0, "county": 2.2, "township": 2.5}
_EXP_DEFAULTS = {"country": 0.10, "region": 0.10, "city": 0.10, "county": 0.15, "township": 0.25}


class MarketParams(BaseModel):
    """Parameters of the Huff model (frozen).

    Parameters
    ----------
    decay : {"power", "exponential"}
        Distance-decay function. ``power``: ``max(d, min_km) ** -lambda``; ``exponential``:
        ``exp(-lambda * d)`` with lambda per km.
    decay_by_level : dict of str to float, optional
        ``lambda`` per area level. Default (``None``) picks the defaults of the chosen kind:
        power exponents 2.0 for cities (and above), 2.2 for counties, 2.5 for townships;
        exponential rates 0.10, 0.15, 0.25 per km. Exponents near 2 are the classic Huff
        estimates for shopping goods; steeper decay in townships encodes that township
        residents travel less far (an assumption to calibrate with :func:`calibrate`).
    default_decay : float
        ``lambda`` for areas of unknown level. Default 2.0 (power) — for the exponential
        kind set it explicitly (e.g. 0.12).
    min_km : float
        Distances below this count as this (km); avoids the power-law singularity at 0 and
        stands for the travel inside an area. Default 1.0 km.
    outside_per_100k : float
        Extra outside-option utility per 100,000 residents of an area: ``u0_i = outside +
        outside_per_100k * population_i / 1e5``. A demand point can stand for a town of
        2,000 or a city of 20 million; the shops a model does not list (independent
        dealers, carrier shops, department stores) grow with the population, so without
        this term one store next to a megacity's point would take half of its spending.
        Default 0 (a plain Huff model); the bundled scenarios use 3.0, under which a
        standard store 1 km from a town of 20,000 takes about 60 % of its offline spending
        before rivals (an assumption to calibrate with :func:`calibrate`).
    outside : float
        Utility of the outside option (not buying at any modelled store), in the units of
        ``A * f(d)``. Default 0.05: with power decay 2 a standard store 4.5 km away splits
        an area 50/50 with the outside option.
    format_attractiveness : dict of str to float
        Attractiveness ``A`` of our store formats. Default flagship 4.0 (a large experience
        store), standard 1.0, partner 0.5 (shop-in-shop at a dealer); assumptions.
    category_attractiveness : dict of str to dict of str to float
        Per format, a multiplier of its attractiveness per demand category
        (:attr:`storeplan.demand.DemandParams.categories`): ``{"partner": {"tv_home":
        0.0}}`` says a partner store sells no TVs; categories not listed get 1. Default
        empty: every format as attractive in every category. When any multiplier differs
        from 1, the market is *segmented*: every (category, area) pair is a demand row
        with its own Huff shares (see :class:`Market`).
    default_format : str
        Format of our stores when none is given. Default ``"standard"``.
    brand_attractiveness : dict of str to float
        Attractiveness of rival brands' stores; brands not listed get ``rival_default``.
        A rival's own ``attractiveness`` column, when present, takes precedence.
    rival_default : float
        Default 1.0 (a rival store as attractive as our standard store).
    transfer_rate : float
        Share (0..1) of our online revenue in an area that moves to our stores, scaled by
        our stores' Huff share there. Default 0.15 (assumption).
    channel : ChannelParams, optional
        The ``[market.channel]`` nested-logit channel model with the store halo
        (:mod:`storeplan.market.channel`), replacing the fixed ``transfer_rate``. Default
        ``None``: the fixed transfer.
    radius_km, k : float, int
        Truncation of the area x store network: pairs within ``radius_km`` plus each
        area's ``k`` nearest stores. Default 50 km and 8.
    max_stores_per_area : int, optional
        At most this many stores (the nearest) per area in the network, so that a
        national grid of 10^6 demand points does not store every pair within
        ``radius_km`` in dense regions (:meth:`storeplan.geo.Network.build`; the
        stores left out count as ``u_ij = 0``, like those beyond the radius). Must be at
        least ``k``. Default None: no cap.
    market_scale : float
        Multiplier of every area's offline spending potential (the market size), fitted
        by :func:`calibrate` when observed sales sit at another level than the demand
        model. Default 1.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    decay: Literal["power", "exponential"] = "power"
    decay_by_level: dict[str, float] | None = None
    default_decay: float = Field(2.0, gt=0.0)
    min_km: float = Field(1.0, gt=0.0)
    outside: float = Field(0.05, ge=0.0)
    outside_per_100k: float = Field(0.0, ge=0.0)
    format_attractiveness: dict[str, float] = Field(
        default_factory=lambda: {"flagship": 4.0, "standard": 1.0, "partner": 0.5}
    )
    category_attractiveness: dict[str, dict[str, float]] = Field(default_factory=dict)
    default_format: str = "standard"
    brand_attractiveness: dict[str, float] = Field(default_factory=dict)
    rival_default: float = Field(1.0, ge=0.0)
    market_scale: float = Field(1.0, gt=0.0)
    transfer_rate: float = Field(0.15, ge=0.0, le=1.0)
    channel: ChannelParams | None = None
    radius_km: float = Field(50.0, gt=0.0)
    k: int = Field(8, ge=0)
    max_stores_per_area: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> MarketParams:
        if self.max_stores_per_area is not None and self.max_stores_per_area < self.k:
            raise ValueError(
                f"max_stores_per_area ({self.max_stores_per_area}) must be at least k ({self.k})"
            )
        if self.default_format not in self.format_attractiveness:
            raise ValueError(f"default_format {self.default_format!r} has no attractiveness")
        for name, table in (
            ("decay_by_level", self.decay_by_level or {}),
            ("format_attractiveness", self.format_attractiveness),
            ("brand_attractiveness", self.brand_attractiveness),
        ):
            for key, v in table.items():
                if not np.isfinite(v) or v < 0:
                    raise ValueError(f"{name}[{key!r}] must be finite and >= 0, got {v}")
        for fmt, table in self.category_attractiveness.items():
            if fmt not in self.format_attractiveness:
                raise ValueError(
                    f"category_attractiveness names format {fmt!r}, which has no attractiveness; "
                    f"known: {sorted(self.format_attractiveness)}"
                )
            for cat, v in table.items():
                if not np.isfinite(v) or v < 0:
                    raise ValueError(
                        f"category_attractiveness[{fmt!r}][{cat!r}] must be finite and >= 0, got {v}"
                    )
        return self

    @property
    def segmented(self) -> bool:
        """Whether some format's attractiveness differs between categories (then the
        market has one demand row per (category, area) pair)."""
        return any(v != 1.0 for t in self.category_attractiveness.values() for v in t.values())

    def category_multiplier(self, fmt: str, category: str) -> float:
        """Multiplier of format ``fmt``'s attractiveness in ``category`` (1 when unlisted)."""
        return float(self.category_attractiveness.get(fmt, {}).get(category, 1.0))

    def level_decay(self) -> dict[str, float]:
        """The ``lambda`` per level actually used (explicit table or the kind's defaults)."""
        if self.decay_by_level is not None:
            return dict(self.decay_by_level)
        return dict(_POWER_DEFAULTS if self.decay == "power" else _EXP_DEFAULTS)

    def area_decay(self, level: np.ndarray | None, n: int) -> np.ndarray:
        """``lambda`` per area from an array of level names (None: all ``default_decay``)."""
        out = np.full(n, self.default_decay, dtype=np.float64)
        if level is not None:
            level = np.asarray(level, dtype=object)
            for lvl, v in self.level_decay().items():
                out[level == lvl] = v
        return out


def decay(km: np.ndarray, lam: np.ndarray | float, kind: str = "power", min_km: float = 1.0) -> np.ndarray:
    """Distance decay ``f(d)``; ``km`` and ``lam`` broadcast. Returns float64."""
    d = np.asarray(km, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    if kind == "power":
        return np.exp(-lam * np.log(np.maximum(d, min_km)))
    if kind == "exponential":
        return np.exp(-lam * d)
    raise UnknownOptionError(f"decay kind {kind!r} is not 'power' or 'exponential'")


def pair_rows(net: Network) -> np.ndarray:
    """Area index of every stored pair of ``net`` (CSR order), int64."""
    return np.repeat(np.arange(net.n_areas, dtype=np.int64), np.diff(net.indptr))


@dataclass(frozen=True)
class HuffShares:
    """Huff probabilities over a :class:`~storeplan.geo.Network`.

    Attributes
    ----------
    values : ndarray of float64, shape (nnz,)
        ``P_ij`` aligned with ``net.indices`` (0 for closed stores).
    outside : ndarray of float64, shape (n_areas,)
        ``P_i0``, the outside option's share; ``values`` of a row plus ``outside`` sum to 1.
    denominator : ndarray of float64, shape (n_areas,)
        ``u_0 + sum_k u_ik`` per area.
    net : Network
    """

    values: np.ndarray
    outside: np.ndarray
    denominator: np.ndarray
    net: Network

    def to_csr(self) -> sp.csr_matrix:
        """Shares as an (n_areas, n_stores) ``csr_matrix``."""
        n = self.net
        return sp.csr_matrix((self.values, n.indices, n.indptr), shape=(n.n_areas, n.n_sites))

    def store_sum(self, weight: np.ndarray) -> np.ndarray:
        """``sum_i weight_i * P_ij`` per store (e.g. revenue when weight is spending)."""
        w = np.asarray(weight, dtype=np.float64)[pair_rows(self.net)] * self.values
        return np.bincount(self.net.indices, weights=w, minlength=self.net.n_sites)


def _shares_from_utility(net: Network, util: np.ndarray, outside: float | np.ndarray):
    rows = pair_rows(net)
    den = np.bincount(rows, weights=util, minlength=net.n_areas) + outside
    den = np.asarray(den, dtype=np.float64)
    safe = np.where(den > 0, den, 1.0)
    vals = util / safe[rows]
    out = np.where(den > 0, np.broadcast_to(outside, den.shape) / safe, 1.0)
    return HuffShares(vals, out, den, net)


def huff_shares(
    net: Network,
    attractiveness: np.ndarray,
    params: MarketParams | None = None,
    *,
    level: np.ndarray | None = None,
    affinity: np.ndarray | None = None,
    own: np.ndarray | None = None,
    active: np.ndarray | None = None,
) -> HuffShares:
    """Huff probabilities of every stored (area, store) pair.

    Parameters
    ----------
    net : Network
        Areas (rows) x stores (columns), km.
    attractiveness : array of float, shape (n_stores,)
        ``A_j`` of every store (ours and rivals).
    params : MarketParams, optional
        Decay kind and ``lambda`` per level, ``min_km``, outside utility ``u_0``.
    level : array of str, shape (n_areas,), optional
        Area levels (selects ``lambda``); None uses ``params.default_decay``.
    affinity : array of float, shape (n_areas,), optional
        Multiplier of *our* stores' utilities per area (:func:`storeplan.demand.brand_affinity`).
    own : array of bool, shape (n_stores,), optional
        Which stores are ours (affinity applies to them only). Default: none.
    active : array of bool, shape (n_stores,), optional
        Open stores; closed ones get utility 0. Default: all open.

    Returns
    -------
    HuffShares
        ``values`` per stored pair and ``outside`` per area; each row sums to 1.

    Notes
    -----
    O(nnz) time and memory, fully vectorised (no loop over areas).

    Examples
    --------
    One area, stores 1, 2 and 4 km away with attractiveness 1, 2, 1, power decay 2 and an
    outside utility of 0.25: utilities 1, 0.5, 0.0625, shares 16/29, 8/29, 1/29 and 4/29.

    >>> import numpy as np
    >>> from storeplan.geo import Network
    >>> net = Network(np.array([0, 3]), np.array([0, 1, 2], np.int32),
    ...               np.array([1.0, 2.0, 4.0], np.float32), 1, 3)
    >>> p = MarketParams(decay_by_level={}, default_decay=2.0, outside=0.25)
    >>> sh = huff_shares(net, np.array([1.0, 2.0, 1.0]), p)
    >>> (sh.values * 29).round(6).tolist(), float((sh.outside * 29).round(6)[0])
    ([16.0, 8.0, 1.0], 4.0)
    """
    params = params or MarketParams()
    A = np.asarray(attractiveness, dtype=np.float64)
    if A.shape != (net.n_sites,):
        raise InputError(f"attractiveness must have {net.n_sites} entries, got {A.shape}")
    lam = params.area_decay(level, net.n_areas)
    util = _pair_utility(net, A, lam, params, affinity, own, active)
    return _shares_from_utility(net, util, params.outside)


def _pair_utility(net, A, lam, params, affinity=None, own=None, active=None) -> np.ndarray:
    rows = pair_rows(net)
    cols = net.indices
    util = A[cols] * decay(net.km, lam[rows], params.decay, params.min_km)
    if affinity is not None and own is not None:
        aff = np.asarray(affinity, dtype=np.float64)
        util = np.where(np.asarray(own, dtype=bool)[cols], util * aff[rows], util)
    if active is not None:
        util = np.where(np.asarray(active, dtype=bool)[cols], util, 0.0)
    return util


@dataclass(frozen=True)
class Market:
    """A Huff market: areas, every store (candidates, our existing stores, rivals) and the
    pair utilities. Built by :func:`build_market`; store index ``j < n_candidates`` is
    candidate site ``j`` (row ``j`` of the sites table).

    The rows of the market are its *demand rows*. Unsegmented (the default), a row is a
    demand area. *Segmented* (``segments`` non-empty, when a format's attractiveness
    differs by product category, ``MarketParams.category_attractiveness``), row ``c *
    n_geo_areas + i`` is category ``segments[c]`` in area ``i``: it holds that
    category's offline spending and its own Huff shares, since a store that does not
    sell TVs takes nothing of an area's TV spending. The outside option, decay and brand
    affinity of a row are its area's; our online revenue of an area is split over its
    rows in proportion to their offline spending. Everything summed over stores or
    rows (revenue, capture, cannibalisation, the revenue objective) is then exact per
    category; :meth:`per_area` folds row arrays back onto the areas.

    Attributes
    ----------
    net : Network
        Demand rows x stores (candidates first, then existing, then rivals), km. Use
        :attr:`area_net` for the areas x stores network.
    area_ids : ndarray of object, shape (n_geo_areas,)
        Ids of the demand areas.
    store_ids : ndarray of object
    kind : ndarray of int8, shape (n_stores,)
        :data:`CANDIDATE`, :data:`EXISTING` or :data:`RIVAL`.
    store_format : ndarray of object
        Format of our stores (candidates and existing); ``None`` for rivals.
    store_brand : ndarray of object
        Brand of rivals; ``None`` for ours.
    fixed_attractiveness : ndarray of float64
        A rival's own ``attractiveness`` column (NaN when not given).
    level : ndarray of object, shape (n_geo_areas,), or None
        Area levels.
    affinity : ndarray of float64, shape (n_geo_areas,)
        Our brand affinity per area.
    market : ndarray of float64, shape (n_areas,)
        Offline spending potential per demand row ``M_i``, currency per year.
    online : ndarray of float64, shape (n_areas,)
        Our own online revenue per demand row ``O_i``, currency per year.
    params : MarketParams
    attractiveness : ndarray of float64, shape (n_stores,)
        ``A_j`` (for a segmented market, before the category multipliers).
    utility : ndarray of float64, shape (nnz,)
        ``u_ij`` per stored pair (affinity and category multipliers applied to our stores).
    population : ndarray of float64, shape (n_geo_areas,) or None
        Residents per area (for the population-scaled outside option).
    outside_u : ndarray of float64, shape (n_areas,)
        Outside-option utility ``u0_i`` per demand row (see ``MarketParams.outside_per_100k``).
    segments : tuple of str
        Category of each block of rows (empty: unsegmented, a row is an area).
    """

    net: Network
    area_ids: np.ndarray
    store_ids: np.ndarray
    kind: np.ndarray
    store_format: np.ndarray
    store_brand: np.ndarray
    fixed_attractiveness: np.ndarray
    level: np.ndarray | None
    affinity: np.ndarray
    market: np.ndarray
    online: np.ndarray
    params: MarketParams
    attractiveness: np.ndarray = field(repr=False)
    utility: np.ndarray = field(repr=False)
    population: np.ndarray | None = field(default=None, repr=False)
    outside_u: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    segments: tuple[str, ...] = ()

    @property
    def n_areas(self) -> int:
        """Number of demand rows (areas, or (category, area) pairs when segmented)."""
        return self.net.n_areas

    @property
    def n_geo_areas(self) -> int:
        """Number of demand areas."""
        return int(len(self.area_ids))

    @property
    def row_area(self) -> np.ndarray:
        """Area index of every demand row, int64, shape (n_areas,)."""
        return np.tile(np.arange(self.n_geo_areas, dtype=np.int64), max(len(self.segments), 1))

    @property
    def row_segment(self) -> np.ndarray:
        """Segment (category) index of every demand row (0 everywhere when unsegmented)."""
        return np.repeat(np.arange(max(len(self.segments), 1), dtype=np.int64), self.n_geo_areas)

    @property
    def area_net(self) -> Network:
        """The areas x stores network (the first block of demand rows when segmented)."""
        if not self.segments:
            return self.net
        n = self.n_geo_areas
        nnz = int(self.net.indptr[n])
        return replace(
            self.net,
            indptr=self.net.indptr[: n + 1].copy(),
            indices=self.net.indices[:nnz],
            km=self.net.km[:nnz],
            n_areas=n,
        )

    def per_area(self, values: npt.ArrayLike) -> np.ndarray:
        """Sum of a per-row array over each area's rows, shape (n_geo_areas,)."""
        v = np.asarray(values, dtype=np.float64)
        if not self.segments:
            return v
        return v.reshape(len(self.segments), self.n_geo_areas).sum(axis=0)

    def area_share(self, share: npt.ArrayLike, weight: npt.ArrayLike | None = None) -> np.ndarray:
        """A per-row share folded onto the areas, weighted by ``weight`` (default the rows'
        offline spending; an area without any weight gets the plain mean of its rows)."""
        s = np.asarray(share, dtype=np.float64)
        if not self.segments:
            return s
        w = self.market if weight is None else np.asarray(weight, dtype=np.float64)
        num, den = self.per_area(w * s), self.per_area(w)
        mean = self.per_area(s) / len(self.segments)
        return np.divide(num, den, out=mean, where=den > 0)

    def category_markets(self, spending: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Offline spending per product category on the demand rows (currency per year),
        summing to :attr:`market`: the segments' rows when segmented, else each row's
        market split in proportion to ``spending`` (category -> per-area spending)."""
        if self.segments:
            seg = self.row_segment
            return {c: np.where(seg == k, self.market, 0.0) for k, c in enumerate(self.segments)}
        spend = {c: np.asarray(v, np.float64) for c, v in (spending or {}).items()}
        if not spend:
            return {}
        total = np.sum(list(spend.values()), axis=0)
        safe = np.where(total > 0, total, 1.0)
        return {c: np.where(total > 0, self.market * v / safe, 0.0) for c, v in spend.items()}

    @property
    def n_stores(self) -> int:
        return self.net.n_sites

    @property
    def n_candidates(self) -> int:
        return int(np.count_nonzero(self.kind == CANDIDATE))

    @property
    def own(self) -> np.ndarray:
        """Boolean mask of our stores (candidates and existing)."""
        return self.kind != RIVAL

    def with_params(self, params: MarketParams) -> Market:
        """The same market under other Huff parameters (network kept; decay, attractiveness
        and utilities recomputed). ``radius_km`` / ``k`` changes need :func:`build_market`."""
        if params.segmented != bool(self.segments):
            raise InputError(
                "category_attractiveness changes whether the market is segmented by category; "
                "build the market again (build_market) instead of with_params"
            )
        A = _store_attractiveness(
            params, self.kind, self.store_format, self.store_brand, self.fixed_attractiveness
        )
        rows = self.row_area
        lam = params.area_decay(self.level, self.n_geo_areas)[rows]
        util = _pair_utility(self.net, A, lam, params, self.affinity[rows], self.own)
        if self.segments:
            mult = _segment_multipliers(params, self.segments, self.kind, self.store_format)
            util = util * mult[self.row_segment[pair_rows(self.net)], self.net.indices]
        u0 = np.full(self.n_geo_areas, params.outside, dtype=np.float64)
        if self.population is not None and params.outside_per_100k > 0:
            u0 = u0 + params.outside_per_100k * np.asarray(self.population, np.float64) / 1e5
        market = self.market * (params.market_scale / self.params.market_scale)
        return replace(self, params=params, attractiveness=A, utility=util, outside_u=u0[rows], market=market)

    def open_mask(self, new_sites: npt.ArrayLike | None = None) -> np.ndarray:
        """Open stores: all existing and rival stores plus the candidate indices given."""
        mask = self.kind != CANDIDATE
        if new_sites is not None:
            idx = _site_index(new_sites, self.n_candidates)
            mask[idx] = True
        return mask

    def shares(self, new_sites: npt.ArrayLike | None = None) -> HuffShares:
        """Huff shares with candidate indices ``new_sites`` open (plus existing, rivals)."""
        active = self.open_mask(new_sites)
        util = np.where(active[self.net.indices], self.utility, 0.0)
        return _shares_from_utility(self.net, util, self.outside_u)


def _site_index(sites: npt.ArrayLike | None, n_candidates: int) -> np.ndarray:
    idx = np.unique(np.asarray(sites if sites is not None else [], dtype=np.int64).reshape(-1))
    if idx.size and (idx[0] < 0 or idx[-1] >= n_candidates):
        raise InputError(f"candidate site indices must lie in 0..{n_candidates - 1}")
    return idx


def _segment_multipliers(params: MarketParams, segments: tuple[str, ...], kind, fmt) -> np.ndarray:
    """Category multiplier of every store's attractiveness, shape (n_segments, n_stores):
    our stores' from ``params.category_attractiveness`` by format, rivals' 1."""
    out = np.ones((len(segments), len(kind)), dtype=np.float64)
    own = np.flatnonzero(kind != RIVAL)
    own_fmt = np.asarray(fmt, dtype=object)[own]
    for f in set(own_fmt.tolist()):
        cols = own[own_fmt == f]
        for c, cat in enumerate(segments):
            out[c, cols] = params.category_multiplier(str(f), cat)
    return out


def _store_attractiveness(params, kind, fmt, brand, fixed) -> np.ndarray:
    rival = kind == RIVAL
    fa = params.format_attractiveness
    own_fmt = pd.Series(fmt[~rival], dtype=object)
    unknown = sorted(set(own_fmt.tolist()) - set(fa))
    if unknown:
        raise UnknownOptionError(f"store format(s) {unknown} have no attractiveness; known: {sorted(fa)}")
    A = np.empty(kind.shape[0], dtype=np.float64)
    A[~rival] = own_fmt.map(fa).to_numpy(dtype=np.float64)
    by_brand = pd.Series(brand[rival], dtype=object).map(params.brand_attractiveness)
    by_brand = by_brand.astype(np.float64).fillna(params.rival_default).to_numpy()
    own_col = fixed[rival]
    A[rival] = np.where(np.isfinite(own_col), own_col, by_brand)
    return A


def _col(df: pd.DataFrame | None, name: str, table: str) -> np.ndarray:
    if df is None or name not in df.columns:
        raise MissingColumnError(f"{table} table is missing column {name!r}")
    return df[name].to_numpy()


def _format_column(df: pd.DataFrame, default: str) -> np.ndarray:
    if "format" not in df.columns:
        return np.full(len(df), default, dtype=object)
    col = df["format"].astype(object).to_numpy()
    bad = pd.isna(col) | (col == "")
    col = col.copy()
    col[bad] = default
    return col


def _candidate_formats(sites: pd.DataFrame, fmt: str | np.ndarray | None, default: str):
    n = len(sites)
    if fmt is not None and not isinstance(fmt, str):
        out = np.asarray(fmt, dtype=object)
        if out.shape != (n,):
            raise InputError(f"candidate_format must have {n} entries, got {out.shape}")
        return out
    chosen = default if fmt is None else fmt
    out = np.full(n, chosen, dtype=object)
    if "formats" in sites.columns:
        allowed = sites["formats"].astype(object).to_numpy()
        for j, a in enumerate(allowed):
            if isinstance(a, str) and a.strip():
                names = [s.strip() for s in a.split(",") if s.strip()]
                if chosen not in names:
                    out[j] = names[0]
    return out


def build_market(
    areas: pd.DataFrame,
    sites: pd.DataFrame,
    *,
    existing: pd.DataFrame | None = None,
    rivals: pd.DataFrame | None = None,
    demand: DemandParams | None = None,
    params: MarketParams | None = None,
    candidate_format: str | np.ndarray | None = None,
    market: np.ndarray | None = None,
) -> Market:
    """Assemble a :class:`Market` from the canonical tables.

    Parameters
    ----------
    areas : DataFrame
        ``id, lon, lat, population``; optional ``level, income, online_share,
        online_orders`` (see :mod:`storeplan.demand`).
    sites : DataFrame
        Candidate sites ``id, lon, lat``; optional ``formats``. Store index ``j`` of the
        market is row ``j`` here.
    existing : DataFrame, optional
        Our existing stores ``id, lon, lat``; optional ``format``.
    rivals : DataFrame, optional
        ``id, brand, lon, lat``; optional ``attractiveness``.
    demand : DemandParams, optional
    params : MarketParams, optional
    candidate_format : str or array of str, optional
        Format each candidate would open as. Default ``params.default_format``, or the
        first allowed format of a site whose ``formats`` list excludes it.
    market : array of float, shape (n_areas,), optional
        Offline spending potential ``M_i`` (currency per year) to use instead of
        :func:`storeplan.demand.offline_spending` ``total``.

    Returns
    -------
    Market

    Notes
    -----
    The network is built with :meth:`storeplan.geo.Network.build` using
    ``params.radius_km`` and ``params.k``: O(n log m + nnz log nnz), 12 bytes per pair
    plus 8 for the utility.
    """
    demand = demand or DemandParams()
    params = params or MarketParams()
    for name in ("id", "lon", "lat"):
        _col(areas, name, "areas")
        _col(sites, name, "sites")
    parts_lon = [sites["lon"].to_numpy(np.float64)]
    parts_lat = [sites["lat"].to_numpy(np.float64)]
    ids = [sites["id"].astype(str).to_numpy(dtype=object)]
    kind = [np.full(len(sites), CANDIDATE, np.int8)]
    fmt = [_candidate_formats(sites, candidate_format, params.default_format)]
    brand = [np.full(len(sites), None, dtype=object)]
    fixed = [np.full(len(sites), np.nan)]
    if existing is not None and len(existing):
        for name in ("id", "lon", "lat"):
            _col(existing, name, "existing")
        parts_lon.append(existing["lon"].to_numpy(np.float64))
        parts_lat.append(existing["lat"].to_numpy(np.float64))
        ids.append(existing["id"].astype(str).to_numpy(dtype=object))
        kind.append(np.full(len(existing), EXISTING, np.int8))
        fmt.append(_format_column(existing, params.default_format))
        brand.append(np.full(len(existing), None, dtype=object))
        fixed.append(np.full(len(existing), np.nan))
    if rivals is not None and len(rivals):
        for name in ("id", "lon", "lat", "brand"):
            _col(rivals, name, "rivals")
        parts_lon.append(rivals["lon"].to_numpy(np.float64))
        parts_lat.append(rivals["lat"].to_numpy(np.float64))
        ids.append(rivals["id"].astype(str).to_numpy(dtype=object))
        kind.append(np.full(len(rivals), RIVAL, np.int8))
        fmt.append(np.full(len(rivals), None, dtype=object))
        brand.append(rivals["brand"].astype(object).to_numpy())
        if "attractiveness" in rivals.columns:
            fixed.append(pd.to_numeric(rivals["attractiveness"], errors="coerce").to_numpy(float))
        else:
            fixed.append(np.full(len(rivals), np.nan))
    lon, lat = np.concatenate(parts_lon), np.concatenate(parts_lat)
    net = Network.build(
        areas["lon"].to_numpy(np.float64),
        areas["lat"].to_numpy(np.float64),
        lon,
        lat,
        radius_km=params.radius_km,
        k=params.k,
        max_sites_per_area=params.max_stores_per_area,
    )
    off = offline_spending(areas, demand)
    if market is None:
        market_arr = off["total"].to_numpy(np.float64)
    else:
        market_arr = np.asarray(market, dtype=np.float64)
        if market_arr.shape != (len(areas),):
            raise InputError(f"market must have {len(areas)} entries, got {market_arr.shape}")
    level = areas["level"].astype(object).to_numpy() if "level" in areas.columns else None
    online = online_revenue(areas, demand)
    segments: tuple[str, ...] = ()
    if params.segmented:
        segments = tuple(demand.category_names)
        unknown = sorted({c for t in params.category_attractiveness.values() for c in t} - set(segments))
        if unknown:
            raise UnknownOptionError(
                f"category_attractiveness names categories {unknown} that are not demand categories; "
                f"known: {list(segments)}"
            )
        # each area's spending (and our online revenue) split over its category rows
        spend = np.stack([off[c].to_numpy(np.float64) for c in segments])
        total = spend.sum(axis=0)
        frac = np.divide(spend, total, out=np.full_like(spend, 1.0 / len(segments)), where=total > 0)
        market_arr = (frac * market_arr).ravel()
        online = (frac * online).ravel()
        net = _stack_rows(net, len(segments))
    m = Market(
        net=net,
        area_ids=areas["id"].astype(str).to_numpy(dtype=object),
        store_ids=np.concatenate(ids),
        kind=np.concatenate(kind),
        store_format=np.concatenate(fmt),
        store_brand=np.concatenate(brand),
        fixed_attractiveness=np.concatenate(fixed),
        level=level,
        affinity=brand_affinity(areas, demand),
        market=market_arr * params.market_scale,
        online=online,
        params=params,
        attractiveness=np.zeros(net.n_sites),
        utility=np.zeros(net.nnz),
        population=pd.to_numeric(areas["population"], errors="coerce").fillna(0.0).to_numpy(np.float64)
        if "population" in areas.columns
        else None,
        segments=segments,
    )
    return m.with_params(params)


def _stack_rows(net: Network, copies: int) -> Network:
    """``net`` with its rows repeated ``copies`` times (block after block)."""
    nnz = net.nnz
    offsets = np.arange(copies, dtype=np.int64)[:, None] * nnz
    indptr = np.concatenate([(net.indptr[:-1][None, :] + offsets).ravel(), [copies * nnz]])
    return replace(
        net,
        indptr=indptr.astype(np.int64),
        indices=np.tile(net.indices, copies),
        km=np.tile(net.km, copies),
        n_areas=net.n_areas * copies,
    )


# --------------------------------------------------------------------------- capture


@dataclass(frozen=True)
class Capture:
    """Revenue of every store and our share of every area for one set of open stores.

    Attributes
    ----------
    stores : DataFrame
        One row per open store: ``id, index, kind`` (``new`` / ``existing`` / ``rival``),
        ``offline_revenue`` (``sum_i M_i P_ij``), ``online_transfer`` (``sum_i t O_i P_ij``,
        ours only), ``revenue`` (their sum), currency per year.
    areas : DataFrame
        ``id, market, online, own_share, rival_share, outside_share, own_offline_revenue,
        online_transfer``.
    own_offline : float
        Our stores' offline capture, currency per year (net gain to the brand).
    own_revenue : float
        Our stores' gross revenue (offline + transferred online), currency per year.
    online_transfer : float
        Revenue moved from our online channel to our stores, currency per year.
    """

    stores: pd.DataFrame
    areas: pd.DataFrame
    own_offline: float
    own_revenue: float
    online_transfer: float


def capture(market: Market, new_sites: npt.ArrayLike | None = None) -> Capture:
    """Revenue per store and our share per area with candidate indices ``new_sites`` open.

    Our existing stores and all rivals are always open. Currency per year throughout.
    O(nnz), vectorised. With ``market.params.channel`` the nested-logit channel model
    (:func:`storeplan.market.channel.channel_accounts`) replaces the fixed transfer.
    """
    if market.params.channel is not None:
        from .channel import channel_accounts

        return channel_accounts(market, new_sites)[0]
    sh = market.shares(new_sites)
    own = market.own
    active = market.open_mask(new_sites)
    t = market.params.transfer_rate
    offline = sh.store_sum(market.market)
    transfer = np.where(own, sh.store_sum(t * market.online), 0.0)
    rows = pair_rows(market.net)
    own_pair = own[market.net.indices]
    own_share = np.bincount(rows, weights=np.where(own_pair, sh.values, 0.0), minlength=market.n_areas)
    rival_share = 1.0 - own_share - sh.outside
    idx = np.flatnonzero(active)
    kind_name = np.where(market.kind[idx] == CANDIDATE, "new", _KIND_NAMES[market.kind[idx]])
    stores = pd.DataFrame(
        {
            "id": market.store_ids[idx],
            "index": idx,
            "kind": kind_name,
            "offline_revenue": offline[idx],
            "online_transfer": transfer[idx],
            "revenue": offline[idx] + transfer[idx],
        }
    )
    areas = pd.DataFrame(
        {
            "id": market.area_ids,
            "market": market.per_area(market.market),
            "online": market.per_area(market.online),
            "own_share": market.area_share(own_share),
            "rival_share": market.area_share(np.clip(rival_share, 0.0, 1.0)),
            "outside_share": market.area_share(sh.outside),
            "own_offline_revenue": market.per_area(market.market * own_share),
            "online_transfer": market.per_area(t * market.online * own_share),
        }
    )
    own_off = float(np.dot(market.market, own_share))
    own_tr = float(np.dot(t * market.online, own_share))
    return Capture(stores, areas, own_off, own_off + own_tr, own_tr)


@dataclass(frozen=True)
class Cannibalisation:
    """Where the revenue of the new stores comes from (currency per year throughout).

    The totals satisfy the exact identity ``new_revenue = from_existing_stores +
    from_online + net_gain``:

    - ``from_existing_stores``: our existing stores' gross revenue without the new stores
      minus with them;
    - ``from_online``: the increase of the online revenue our stores take over;
    - ``net_gain``: the increase of our offline capture (from rivals and the outside
      option).

    Attributes
    ----------
    stores : DataFrame
        One row per new store: ``id, index, revenue`` (gross), ``from_existing_stores``,
        ``from_online``, ``net_gain``: the totals split over the new stores, each area's
        change shared in proportion to the new stores' utilities in it, so every column
        sums exactly to its total and ``revenue = from_existing_stores + from_online +
        net_gain`` row by row; ``marginal_net_gain``: the offline capture the brand loses
        if this store alone closed (leave-one-out; these do not sum to ``net_gain``).
    existing : DataFrame
        One row per existing store: ``id, index, baseline_revenue, revenue`` (without and
        with the new stores), ``taken_by_new_stores`` (their difference).
    areas : DataFrame
        ``id, share_before, share_after`` (our offline share with existing stores only and
        with existing plus new), ``revenue_before, revenue_after`` (our offline capture).
    total_net_gain, total_from_existing_stores, total_from_online, total_new_revenue : float
        The totals above.
    """

    stores: pd.DataFrame
    areas: pd.DataFrame
    total_net_gain: float
    existing: pd.DataFrame = field(default_factory=pd.DataFrame)
    total_from_existing_stores: float = 0.0
    total_from_online: float = 0.0
    total_new_revenue: float = 0.0


def cannibalisation(market: Market, new_sites: npt.ArrayLike) -> Cannibalisation:
    """Cannibalisation accounting for the candidate indices ``new_sites``.

    For area ``i`` let ``D_i`` / ``D_i^0`` be the Huff denominators with and without the
    new stores, ``E_i`` the utility of our existing stores, ``U_i`` that of the new ones,
    ``S_i = (E_i + U_i) / D_i`` and ``S_i^0 = E_i / D_i^0`` our shares, ``w_i = M_i + t O_i``.
    Area ``i`` contributes ``M_i (S_i - S_i^0)`` to ``net_gain``, ``t O_i (S_i - S_i^0)``
    to ``from_online`` and ``w_i E_i (1 / D_i^0 - 1 / D_i)`` to ``from_existing_stores``;
    these add to the new stores' revenue in the area, ``w_i U_i / D_i``. A new store
    ``j`` gets the share ``u_ij / U_i`` of each. The leave-one-out ``marginal_net_gain_j
    = sum_i M_i (S_i - S_i^{-j})`` with ``S_i^{-j} = (E_i + U_i - u_ij) / (D_i - u_ij)``.
    O(nnz), vectorised. With ``market.params.channel`` the nested-logit channel model
    (:func:`storeplan.market.channel.channel_accounts`) replaces the fixed transfer.
    """
    if market.params.channel is not None:
        from .channel import channel_accounts

        return channel_accounts(market, new_sites)[1]
    idx = _site_index(new_sites, market.n_candidates)
    net = market.net
    rows = pair_rows(net)
    after = market.shares(idx)
    before = market.shares(None)
    own_pair = market.own[net.indices]
    active = market.open_mask(idx)
    util = np.where(active[net.indices], market.utility, 0.0)
    n_areas = market.n_areas
    own_u = np.bincount(rows, weights=np.where(own_pair, util, 0.0), minlength=n_areas)
    is_new = np.zeros(market.n_stores, dtype=bool)
    is_new[idx] = True
    new_pair = is_new[net.indices]
    new_u = np.bincount(rows, weights=np.where(new_pair, util, 0.0), minlength=n_areas)
    exist_u = own_u - new_u
    den = after.denominator
    safe = np.where(den > 0, den, 1.0)
    den0 = before.denominator
    safe0 = np.where(den0 > 0, den0, 1.0)
    s_after = own_u / safe
    s_before = np.where(den0 > 0, exist_u / safe0, 0.0)
    t = market.params.transfer_rate
    w = market.market + t * market.online
    d_share = s_after - s_before
    d_net = market.market * d_share
    d_online = t * market.online * d_share
    d_exist = w * exist_u * (np.where(den0 > 0, 1.0 / safe0, 0.0) - np.where(den > 0, 1.0 / safe, 0.0))
    sel = np.flatnonzero(new_pair)
    i_sel = rows[sel]
    u = util[sel]
    j_sel = net.indices[sel]
    n = market.n_stores
    frac = np.divide(u, new_u[i_sel], out=np.zeros(len(u)), where=new_u[i_sel] > 0)
    net_gain = np.bincount(j_sel, weights=frac * d_net[i_sel], minlength=n)
    from_online = np.bincount(j_sel, weights=frac * d_online[i_sel], minlength=n)
    from_exist = np.bincount(j_sel, weights=frac * d_exist[i_sel], minlength=n)
    revenue = np.bincount(j_sel, weights=w[i_sel] * u / safe[i_sel], minlength=n)
    # leave-one-out: our share without store j alone
    marginal = leave_one_out_gain(den[i_sel], own_u[i_sel], u, market.market[i_sel], s_after[i_sel], j_sel, n)
    stores = pd.DataFrame(
        {
            "id": market.store_ids[idx],
            "index": idx,
            "revenue": revenue[idx],
            "from_existing_stores": from_exist[idx],
            "from_online": from_online[idx],
            "net_gain": net_gain[idx],
            "marginal_net_gain": marginal[idx],
        }
    )
    ex = np.flatnonzero(market.kind == EXISTING)
    rev_before = before.store_sum(w)
    rev_after = after.store_sum(w)
    existing = existing_store_table(market.store_ids, ex, rev_before, rev_after)
    own_before = np.bincount(rows, weights=np.where(own_pair, before.values, 0.0), minlength=n_areas)
    own_after = np.bincount(rows, weights=np.where(own_pair, after.values, 0.0), minlength=n_areas)
    areas = pd.DataFrame(
        {
            "id": market.area_ids,
            "share_before": market.area_share(own_before),
            "share_after": market.area_share(own_after),
            "revenue_before": market.per_area(market.market * own_before),
            "revenue_after": market.per_area(market.market * own_after),
        }
    )
    return Cannibalisation(
        stores=stores,
        areas=areas,
        total_net_gain=float(d_net.sum()),
        existing=existing,
        total_from_existing_stores=float(d_exist.sum()),
        total_from_online=float(d_online.sum()),
        total_new_revenue=float(revenue[idx].sum()),
    )
