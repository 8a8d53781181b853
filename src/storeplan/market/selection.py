"""Competitive site selection on a Huff market (:mod:`storeplan.solvers.revenue`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .huff import CANDIDATE, EXISTING, Market, pair_rows

if TYPE_CHECKING:
    from ..solvers.solution import Solution

__all__ = ["revenue_inputs", "select_sites"]


def revenue_inputs(market: Market) -> dict:
    """Arrays for :func:`storeplan.solvers.revenue.revenue` from a market.

    Returns a dict with ``utility`` (``csr_matrix`` areas x candidates of our candidate
    stores' ``u_ij``), ``weight`` (``M_i``, currency per year), ``base_own`` (sum of our
    existing stores' utilities per area) and ``base_total`` (``u_0`` + every existing and
    rival utility per area). The objective ``sum_i M_i (base_own_i + U_i) / (base_total_i
    + U_i)`` is our offline capture, net of the online channel's cannibalisation.
    """
    net = market.net
    rows = pair_rows(net)
    cols = net.indices
    kind_pair = market.kind[cols]
    cand = kind_pair == CANDIDATE
    counts = np.bincount(rows[cand], minlength=market.n_areas)
    indptr = np.zeros(market.n_areas + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    U = sp.csr_matrix(
        (market.utility[cand], cols[cand].astype(np.int32), indptr),
        shape=(market.n_areas, market.n_candidates),
    )
    other = ~cand
    base_own = np.bincount(
        rows, weights=np.where(kind_pair == EXISTING, market.utility, 0.0), minlength=market.n_areas
    )
    base_total = market.outside_u + np.bincount(
        rows, weights=np.where(other, market.utility, 0.0), minlength=market.n_areas
    )
    return {"utility": U, "weight": market.market.copy(), "base_own": base_own, "base_total": base_total}


def select_sites(market: Market, p: int | None = None, **kwargs: Any) -> Solution:
    """Competitive site selection on a market: :func:`storeplan.solvers.revenue.revenue`
    with :func:`revenue_inputs`. ``kwargs`` go to the solver (``fixed_cost``,
    ``opening_cost``, ``budget``, ``constraints``, ``must_open``, ``forbidden``,
    ``conflicts``, ``time_limit``, ``seed``)."""
    from ..solvers.revenue import revenue

    return revenue(p=p, **revenue_inputs(market), **kwargs)
