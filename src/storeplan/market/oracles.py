"""Revenue oracles: full-ramp yearly revenue of each open site given the open set.

Used by the rollout (:mod:`storeplan.rollout`) to value a schedule without knowing the
market model. :class:`HuffOracle` adapts a :class:`storeplan.market.Market`;
:class:`NearestOracle` gives each area's spending to its nearest open site within a
radius; :class:`AdditiveOracle` is a fixed revenue per site (no cannibalisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import InputError
from ..geo import Network, row_positions
from .huff import CANDIDATE, Market

__all__ = ["RevenueOracle", "AdditiveOracle", "NearestOracle", "HuffOracle", "oracle_from_market"]


@runtime_checkable
class RevenueOracle(Protocol):
    """Value oracle: full-ramp yearly revenue of each open site given the open set.

    ``oracle(open_idx)`` takes sorted site indices (int64, into the rollout universe,
    existing stores included) and returns one revenue per index, currency per year,
    accounting for cannibalisation among the open sites. An oracle may also define
    ``gains(open_idx, weight, candidates) -> (own, delta)``: for each candidate ``c``,
    ``own[c]`` = its revenue when added to ``open_idx`` and ``delta[c]`` =
    ``sum_k weight[k] * (R_k(open + c) - R_k(open))`` over the open sites (``weight``
    aligned with ``open_idx``). :func:`schedule` uses it when present. An oracle whose
    ``gains`` also takes ``scale`` (the candidates valued at that fraction of their
    attractiveness, :attr:`HuffOracle.scales_attractiveness`) lets the schedule's bound
    price the ramp-up of a new store (:func:`storeplan.rollout.schedule`).
    """

    def __call__(self, open_idx: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class AdditiveOracle:
    """Fixed revenue per site, no cannibalisation (currency per year per site)."""

    revenue: np.ndarray

    def __call__(self, open_idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.revenue, np.float64)[np.asarray(open_idx, np.int64)]

    def gains(
        self, open_idx: np.ndarray, weight: np.ndarray, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
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
        cls,
        area_lon: npt.ArrayLike,
        area_lat: npt.ArrayLike,
        spend: npt.ArrayLike,
        site_lon: npt.ArrayLike,
        site_lat: npt.ArrayLike,
        radius_km: float,
        k: int | None = None,
    ) -> NearestOracle:
        """Pairs within ``radius_km`` (great-circle) of every area, plus its ``k`` nearest
        sites when ``k`` is given."""
        import scipy.sparse as sp

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
        """Pair positions of ``sites`` (concatenated) and the position of each pair's site."""
        return row_positions(ix["ptr"], sites)

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

    def gains(
        self, open_idx: np.ndarray, weight: np.ndarray, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
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

    With the channel model (``market.params.channel``) a call is the channel model's exact
    revenue (:func:`storeplan.market.channel.channel_store_revenue`, O(nnz) per call),
    while ``gains`` (the schedule's marginal values) keeps each area's spending at its
    value with the existing network (``M_i + pi_i O_i``), a first-order approximation.

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

    @property
    def scales_attractiveness(self) -> bool:
        """Whether ``gains(..., scale=s)`` values a candidate at ``s`` times its utility
        in a Huff market (with the channel model, an approximation: not offered)."""
        return self.market.params.channel is None

    def _prepared(self) -> dict:
        if not self._index:
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
                spend=_area_spend(mk),
            )
        return self._index

    @staticmethod
    def _pairs(ix: dict, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair positions of ``sites`` (concatenated) and the position of each pair's site."""
        return row_positions(ix["ptr"], sites)

    def _den(self, ix: dict, open_idx: np.ndarray) -> np.ndarray:
        tog = open_idx[ix["toggled"][open_idx]]
        pos, _ = self._pairs(ix, tog)
        return ix["base"] + np.bincount(ix["row"][pos], weights=ix["util"][pos], minlength=ix["n_areas"])

    def __call__(self, open_idx: np.ndarray) -> np.ndarray:
        ix = self._prepared()
        idx = np.asarray(open_idx, np.int64)
        if self.market.params.channel is not None:  # the channel model: exact, O(nnz)
            from .channel import channel_store_revenue

            stores = self.store[idx]
            return channel_store_revenue(self.market, stores[ix["toggled"][idx]])[stores]
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

    def gains(
        self, open_idx: np.ndarray, weight: np.ndarray, candidates: np.ndarray, scale: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each candidate ``c``: its revenue ``own`` when added to ``open_idx`` and the
        weighted change ``delta`` of the open sites' revenue (currency per year; see
        :class:`RevenueOracle`). ``scale``: the candidate enters with ``scale`` times its
        Huff utility (a store still ramping up, as the schedule's bound values it)."""
        ix = self._prepared()
        idx = np.asarray(open_idx, np.int64)
        den, v = self._state(ix, idx, np.asarray(weight, np.float64))
        c = np.asarray(candidates, np.int64)
        cpos, cowner = self._pairs(ix, c)
        r, u = ix["row"][cpos], float(scale) * ix["util"][cpos]
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


def _area_spend(mk: Market) -> np.ndarray:
    """Spending per area that flows into the offline nest with the existing network:
    ``M_i + t O_i`` (fixed transfer) or ``M_i + pi_i O_i`` (channel model)."""
    if mk.params.channel is None:
        return mk.market + mk.params.transfer_rate * mk.online
    from .channel import channel_state

    st = channel_state(mk, None)
    return mk.market + st.offline_rate * st.online


def oracle_from_market(market: Market, site_ids: Sequence[str]) -> HuffOracle:
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
