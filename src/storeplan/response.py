r"""Rivals' response: what the rival brands do after our plan, and a plan that expects it.

Follower model. After we open our new stores :math:`X`, every rival brand :math:`b` opens
``stores_per_rival`` new stores :math:`R_b` at candidate sites nobody holds, choosing the
set that maximises its own Huff capture (the same model as ours, :mod:`storeplan.market`)

.. math::

    \max_{R_b,\ |R_b| = r} \; \sum_i M_i \,
    \frac{e_{bi} + \sum_{j \in R_b} v_{bij}}{D_i^{-b} + \sum_{j \in R_b} v_{bij}},

with :math:`v_{bij} = A_b f_{\ell(i)}(d_{ij})` the utility of a new store of the brand at
site :math:`j` (the brand's median attractiveness; our brand affinity does not apply to
rivals), :math:`e_{bi}` the brand's existing utility in area :math:`i` and
:math:`D_i^{-b}` the Huff denominator with everything else open (outside option, our
stores, every other brand's stores and responses). This is the competitive-location
problem our own revenue objective solves, so each best response is
:func:`storeplan.solvers.revenue.revenue` (greedy + swap, with its certified upper
bound); when the brand has few enough choices (``exact_limit`` subsets) every subset is
evaluated and the response is exact. Brands answer in turn (sorted by name); with
``rounds > 1`` each brand re-chooses its stores given the others' current responses
(iterated best response), stopping early when no brand changes its choice (an
equilibrium among the followers).

Leader model (``robust``). A leader-follower heuristic: the plan that maximises our
capture with no response is :math:`X_0`; :math:`X_{k+1}` is our best plan against the
followers' response to :math:`X_k` (their stores added to the denominators), and the
plan kept is the one whose capture *after* the followers' response to it is largest.
:math:`X_0` is among the candidates, so the robust plan never does worse after the
response than the plain one; what it costs without a response is reported beside what
it saves with one.

All money is currency per year (offline capture, as :mod:`storeplan.market`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from .errors import InputError, UnknownOptionError
from .market import CANDIDATE, RIVAL, Market, decay
from .metrics import BrandResponse, ResponseSummary, RobustSummary

__all__ = [
    "ResponseSpec",
    "Response",
    "RobustChoice",
    "rival_response",
    "robust_plan",
    "brand_capture",
]


class ResponseSpec(BaseModel):
    """The ``[response]`` section of a scenario: how rivals answer our plan.

    Parameters
    ----------
    stores_per_rival : int
        New stores each rival brand opens in response (>= 1).
    rounds : int
        Rounds of iterated best response among the rival brands (default 1).
    brands : tuple of str
        Brands that respond; default every rival brand of the scenario.
    robust : bool
        Choose our plan anticipating the response (``revenue`` objective only).
    robust_iterations : int
        Leader-follower iterations of the robust plan (default 3).
    exact_limit : int
        A brand with at most this many candidate subsets is answered by enumerating them
        all (exact); above it, greedy + swap with a certified bound. Default 5,000.
    time_limit : float
        Seconds per best response of one brand (default 10).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stores_per_rival: int = Field(ge=1)
    rounds: int = Field(1, ge=1)
    brands: tuple[str, ...] = ()
    robust: bool = False
    robust_iterations: int = Field(3, ge=1)
    exact_limit: int = Field(5_000, ge=0)
    time_limit: float = Field(10.0, gt=0)


@dataclass(frozen=True)
class _Follower:
    """Arrays of one rival brand's choice problem (internal)."""

    brand: str
    attractiveness: float
    utility: sp.csr_matrix  # areas x candidates, the brand's v_bij
    existing: np.ndarray  # e_bi per area


def _followers(market: Market, brands: tuple[str, ...]) -> list[_Follower]:
    net = market.net
    rows = np.repeat(np.arange(net.n_areas), np.diff(net.indptr))
    cols = net.indices
    rival_brand = market.store_brand
    present = sorted({str(b) for b in rival_brand[market.kind == RIVAL] if b is not None})
    if brands:
        unknown = sorted(set(brands) - set(present))
        if unknown:
            raise UnknownOptionError(f"response.brands: unknown brand(s) {unknown}; known: {present}")
        present = sorted(brands)
    lam = market.params.area_decay(market.level, market.n_areas)
    f = decay(net.km, lam[rows], market.params.decay, market.params.min_km)
    cand = market.kind[cols] == CANDIDATE
    out = []
    for b in present:
        mine = (market.kind == RIVAL) & (rival_brand == b)
        a_b = float(np.median(market.attractiveness[mine]))
        v = sp.csr_matrix(
            (a_b * f[cand], (rows[cand], cols[cand])), shape=(market.n_areas, market.n_candidates)
        )
        e = np.bincount(rows, weights=np.where(mine[cols], market.utility, 0.0), minlength=market.n_areas)
        out.append(_Follower(b, a_b, v, e))
    return out


@dataclass(frozen=True)
class Response:
    """The rivals' response to one plan of ours.

    Attributes
    ----------
    sites : dict of str to ndarray of int
        Candidate indices each brand opens.
    stores : DataFrame
        One row per new rival store: ``brand, site_index, site_id, lon, lat``,
        ``revenue`` (its offline capture, currency per year).
    brands : DataFrame
        Per brand: ``brand, new_stores, revenue_before, revenue_after`` (offline capture,
        currency per year), ``bound`` (upper bound on its best response's capture),
        ``gap`` and ``method`` (``exact`` or the solver's).
    areas : DataFrame
        Per area: ``id, market, share_before, share_after`` (our offline share before and
        after the response), ``revenue_before, revenue_after`` (ours, currency per year).
    own_stores : DataFrame
        Per open store of ours: ``id, offline_revenue_before, offline_revenue_after``
        (currency per year); the columns sum to ``own_before`` and ``own_after``.
    own_before, own_after : float
        Our offline capture before and after the response, currency per year.
    share_before, share_after : float
        Our offline market share before and after.
    rounds : int
        Rounds played (fewer than asked when the followers settled).
    extra_utility : ndarray of float64, shape (n_areas,)
        Utility the response adds to every area's Huff denominator.
    """

    sites: dict[str, np.ndarray]
    stores: pd.DataFrame
    brands: pd.DataFrame
    areas: pd.DataFrame
    own_stores: pd.DataFrame
    own_before: float
    own_after: float
    share_before: float
    share_after: float
    rounds: int
    extra_utility: np.ndarray

    @property
    def revenue_lost(self) -> float:
        """Our offline capture lost to the response, currency per year."""
        return self.own_before - self.own_after

    def headline(self, robust: RobustSummary | None = None) -> ResponseSummary:
        """Totals for ``summary.json`` and the report (``robust``: the robust plan's)."""
        return ResponseSummary(
            own_revenue_before=float(self.own_before),
            own_revenue_after=float(self.own_after),
            revenue_lost=float(self.revenue_lost),
            share_before=float(self.share_before),
            share_after=float(self.share_after),
            rival_new_stores=int(len(self.stores)),
            rounds=int(self.rounds),
            brands={
                str(r["brand"]): BrandResponse(
                    new_stores=int(r["new_stores"]),
                    revenue_before=float(r["revenue_before"]),
                    revenue_after=float(r["revenue_after"]),
                    gap=float(r["gap"]),
                )
                for _, r in self.brands.iterrows()
            },
            robust=robust,
        )


def brand_capture(weight, existing, base, utility: sp.csr_matrix, sites) -> float:
    """Offline capture ``sum_i W_i (e_i + U_i) / (base_i + U_i)`` of a set of sites.

    ``U_i`` is the summed utility of ``sites`` (columns of ``utility``) in area ``i`` and
    ``base_i`` the denominator without them (it includes ``e_i``). Currency per year.
    """
    idx = np.asarray(sites, dtype=np.int64)
    u = np.asarray(utility[:, idx].sum(axis=1)).ravel() if len(idx) else np.zeros(utility.shape[0])
    den = base + u
    return float(np.dot(weight, np.divide(existing + u, den, out=np.zeros_like(den), where=den > 0)))


def _best_response(fol: _Follower, weight, base, r, forbidden, spec: ResponseSpec, seed: int):
    """Best ``r`` sites for one brand; returns ``(sites, value, bound, method)``."""
    from .solvers.revenue import revenue

    m = fol.utility.shape[1]
    free = np.setdiff1d(np.arange(m), forbidden)
    r = min(r, len(free))
    if r == 0:
        v = brand_capture(weight, fol.existing, base, fol.utility, [])
        return np.empty(0, np.int64), v, v, "none"
    # only sites that reach some area matter; others are worth nothing to anyone
    useful = free[np.diff(fol.utility.tocsc().indptr)[free] > 0]
    pool = useful if len(useful) >= r else free
    if math.comb(len(pool), r) <= spec.exact_limit:
        best, best_v = None, -np.inf
        sub = fol.utility[:, pool].tocsc()
        for combo in itertools.combinations(range(len(pool)), r):
            v = brand_capture(weight, fol.existing, base, sub, combo)
            if best is None or v > best_v + 1e-12 * abs(best_v):
                best, best_v = combo, v
        return pool[np.asarray(best, dtype=np.int64)], best_v, best_v, "exact"
    sol = revenue(
        fol.utility,
        weight,
        r,
        base_own=fol.existing,
        base_total=base,
        forbidden=forbidden if len(forbidden) else None,
        time_limit=spec.time_limit,
        seed=seed,
    )
    return np.asarray(sol.sites, np.int64), float(sol.objective), float(sol.bound), str(sol.method)


def rival_response(market: Market, new_sites, spec: ResponseSpec, *, seed: int = 0) -> Response:
    """The rival brands' best response to our plan (candidate indices ``new_sites``).

    Parameters
    ----------
    market : Market
        The Huff market of the plan (candidates, our existing stores, rivals).
    new_sites : array of int
        Candidate indices of our new stores.
    spec : ResponseSpec
    seed : int
        Seeds the swap search of the followers' solver.

    Returns
    -------
    Response

    Raises
    ------
    InputError
        The market has no rival brand to respond.

    Notes
    -----
    Each round costs one competitive-location solve per brand, O(nnz) per greedy step.
    """
    ours = np.unique(np.asarray(new_sites, dtype=np.int64).reshape(-1))
    followers = _followers(market, spec.brands)
    if not followers:
        raise InputError("response: the scenario has no rival stores, so no rival can respond")
    sh = market.shares(ours)
    den0 = sh.denominator.copy()
    net = market.net
    rows = np.repeat(np.arange(net.n_areas), np.diff(net.indptr))
    active = market.open_mask(ours)
    own_u = np.bincount(
        rows,
        weights=np.where(market.own[net.indices] & active[net.indices], market.utility, 0.0),
        minlength=market.n_areas,
    )
    W = market.market
    added = {f.brand: np.zeros(market.n_areas) for f in followers}
    chosen: dict[str, np.ndarray] = {f.brand: np.empty(0, np.int64) for f in followers}
    info: dict[str, tuple[float, float, str]] = {}
    rounds = 0
    for _ in range(spec.rounds):
        rounds += 1
        changed = False
        for k, fol in enumerate(followers):
            others = sum((added[b] for b in added if b != fol.brand), np.zeros(market.n_areas))
            base = den0 + others
            taken = [chosen[b] for b in chosen if b != fol.brand]
            forbidden = np.unique(np.concatenate([ours, *taken])) if taken or len(ours) else ours
            sites, val, bound, method = _best_response(
                fol, W, base, spec.stores_per_rival, forbidden, spec, seed + k
            )
            sites = np.sort(sites)
            if not np.array_equal(sites, chosen[fol.brand]):
                changed = True
            chosen[fol.brand] = sites
            added[fol.brand] = np.asarray(fol.utility[:, sites].sum(axis=1)).ravel()
            info[fol.brand] = (val, bound, method)
        if not changed:
            break
    extra = sum(added.values(), np.zeros(market.n_areas))
    den1 = den0 + extra
    s_before = np.divide(own_u, den0, out=np.zeros_like(den0), where=den0 > 0)
    s_after = np.divide(own_u, den1, out=np.zeros_like(den1), where=den1 > 0)
    total = float(W.sum())
    store_rows, brand_rows = [], []
    rival_rev_before = sh.store_sum(W)
    for fol in followers:
        mine = (market.kind == RIVAL) & (market.store_brand == fol.brand)
        before = float(rival_rev_before[mine].sum())
        after_existing = float(
            np.dot(W, np.divide(fol.existing, den1, out=np.zeros_like(den1), where=den1 > 0))
        )
        new_rev = 0.0
        for j in chosen[fol.brand]:
            col = fol.utility[:, [j]].toarray().ravel()
            rev = float(np.dot(W, np.divide(col, den1, out=np.zeros_like(den1), where=den1 > 0)))
            new_rev += rev
            store_rows.append(
                {
                    "brand": fol.brand,
                    "site_index": int(j),
                    "site_id": str(market.store_ids[j]),
                    "revenue": rev,
                }
            )
        val, bound, method = info[fol.brand]
        brand_rows.append(
            {
                "brand": fol.brand,
                "new_stores": len(chosen[fol.brand]),
                "revenue_before": before,
                "revenue_after": after_existing + new_rev,
                "bound": bound,
                "gap": (bound - val) / max(abs(val), 1e-12) if bound > val else 0.0,
                "method": method,
            }
        )
    stores = pd.DataFrame(store_rows, columns=["brand", "site_index", "site_id", "revenue"])
    areas = pd.DataFrame(
        {
            "id": market.area_ids,
            "market": W,
            "share_before": s_before,
            "share_after": s_after,
            "revenue_before": W * s_before,
            "revenue_after": W * s_after,
        }
    )
    own_before, own_after = float(np.dot(W, s_before)), float(np.dot(W, s_after))
    ours_open = np.flatnonzero(market.own & active)
    pair_w = np.where(active[net.indices], market.utility, 0.0) * W[rows]
    rev0 = np.bincount(
        net.indices, weights=pair_w / np.where(den0 > 0, den0, 1.0)[rows], minlength=market.n_stores
    )
    rev1 = np.bincount(
        net.indices, weights=pair_w / np.where(den1 > 0, den1, 1.0)[rows], minlength=market.n_stores
    )
    own_stores = pd.DataFrame(
        {
            "id": market.store_ids[ours_open],
            "offline_revenue_before": rev0[ours_open],
            "offline_revenue_after": rev1[ours_open],
        }
    )
    return Response(
        sites=chosen,
        stores=stores,
        brands=pd.DataFrame(brand_rows),
        areas=areas,
        own_stores=own_stores,
        own_before=own_before,
        own_after=own_after,
        share_before=own_before / total if total > 0 else 0.0,
        share_after=own_after / total if total > 0 else 0.0,
        rounds=rounds,
        extra_utility=extra,
    )


@dataclass(frozen=True)
class RobustChoice:
    """The leader-follower choice of :func:`robust_plan`.

    Attributes
    ----------
    sites : ndarray of int
        Candidate indices of the robust plan.
    plain_sites : ndarray of int
        The plan chosen without anticipating a response.
    response, plain_response : Response
        The followers' response to each.
    candidates : DataFrame
        Every plan evaluated: ``iteration, n_sites, own_without_response,
        own_after_response`` (currency per year), ``chosen``.
    """

    sites: np.ndarray
    plain_sites: np.ndarray
    response: Response
    plain_response: Response
    candidates: pd.DataFrame

    def headline(self) -> RobustSummary:
        """What the robust plan costs without a response and saves with one (currency/year)."""
        r, p = self.response, self.plain_response
        return RobustSummary(
            cost_without_response=float(p.own_before - r.own_before),
            saving_with_response=float(r.own_after - p.own_after),
            plain_own_before=float(p.own_before),
            plain_own_after=float(p.own_after),
            robust_own_before=float(r.own_before),
            robust_own_after=float(r.own_after),
            sites_changed=int(len(np.setdiff1d(self.sites, self.plain_sites))),
            plans_evaluated=int(len(self.candidates)),
        )


def robust_plan(
    market: Market,
    leader: Callable[[np.ndarray], np.ndarray],
    spec: ResponseSpec,
    *,
    seed: int = 0,
) -> RobustChoice:
    """Our plan chosen by the capture left after the rivals' response.

    Parameters
    ----------
    market : Market
    leader : callable
        ``leader(extra_utility) -> candidate indices``: our best plan when every area's
        Huff denominator holds ``extra_utility`` more (the rivals' new stores), under all
        of the scenario's constraints. ``leader(zeros)`` is the plain plan.
    spec : ResponseSpec
    seed : int

    Returns
    -------
    RobustChoice
        The plan of the largest capture after the response; ties keep the earlier plan,
        so the plain plan is kept unless another one does strictly better.
    """
    zero = np.zeros(market.n_areas)
    plain = np.sort(np.asarray(leader(zero), np.int64))
    plans = [plain]
    responses = [rival_response(market, plain, spec, seed=seed)]
    extra = responses[0].extra_utility
    for _ in range(spec.robust_iterations):
        nxt = np.sort(np.asarray(leader(extra), np.int64))
        if any(np.array_equal(nxt, q) for q in plans):
            break
        plans.append(nxt)
        responses.append(rival_response(market, nxt, spec, seed=seed))
        extra = responses[-1].extra_utility
    after = np.array([r.own_after for r in responses])
    best = int(np.flatnonzero(after >= after.max() - 1e-9 * abs(after.max()))[0])
    cand = pd.DataFrame(
        {
            "iteration": np.arange(len(plans)),
            "n_sites": [len(q) for q in plans],
            "own_without_response": [r.own_before for r in responses],
            "own_after_response": after,
            "chosen": np.arange(len(plans)) == best,
        }
    )
    return RobustChoice(plans[best], plain, responses[best], responses[0], cand)
