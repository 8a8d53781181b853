r"""The p-median problem (minimise weighted distance with exactly p open sites).

.. math::

    \min \sum_i \sum_{j \in N(i)} w_i c_{ij} x_{ij} + \sum_i w_i U_i u_i
    \quad\text{s.t.}\quad \sum_{j \in N(i)} x_{ij} + u_i = 1 \;\forall i,\;\;
    x_{ij} \le y_j,\;\; \sum_j y_j = p,\;\; y \in Y_{\text{side}},\;\;
    y \in \{0, 1\}^m,\; x, u \ge 0,

with :math:`u_i` fixed to 0 when ``unserved_cost`` is None.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, InputError
from ._minimize import check_method, solve_min
from ._validate import (
    as_sorted_csr,
    build_instance,
    check_n_m,
    check_p,
    check_target_gap,
    check_time_limit,
    check_unserved,
    check_weights,
)
from .constraints import FORBIDDEN, Constraints, prepare
from .nearest import DENSE_AUTO_ENTRIES, check_dense, initial_k, solve_dense_pmedian
from .solution import Solution

__all__ = ["pmedian"]

#: A sparse instance with at least this many stored pairs gets the volume algorithm's
#: steps in its Lagrangian bound (:func:`.bounds.lagrangian_min`, ``volume=True``) instead
#: of plain subgradient steps. Smaller ones (OR-Library: at most 810,000 pairs) keep
#: the plain steps, tuned with the MIP and branch and bound that prove them.
VOLUME_FROM_ARCS = 2_000_000
#: Such an instance's Lagrangian also starts from the dual ascent's multipliers
#: (:func:`.bounds.dual_ascent_min`) when they bound higher than the incumbent's service
#: costs. Measured (scale pipeline, dataset version 3, quiet machine): 10^5 clients x
#: 10^4 sites x p = 10^3, 120 s limit, certified gap 0.03 %; 10^6 x 10^5 x 10^4, 480 s
#: limit, 1.14 % with both (1.22 % with plain subgradient steps; 4,000 more steps moved
#: the bound by 0.001 %: it has converged, the rest is the search's or the relaxation's).
DUAL_ASCENT = True


def check_reachable(indptr, indices, status, n: int) -> None:
    """Raise InfeasibleError when some client has no stored site that may open."""
    allowed = (status != FORBIDDEN)[indices]
    rows = np.repeat(np.arange(n), np.diff(indptr))
    has = np.bincount(rows[allowed], minlength=n) > 0
    if not has.all():
        bad = np.flatnonzero(~has)
        raise InfeasibleError(
            f"{bad.size} client(s) (e.g. client {int(bad[0])}) have no stored site that may "
            "open, and unserved_cost is None (every client must be served)"
        )


def pmedian(
    cost,
    p: int | None,
    *,
    weights=None,
    constraints: Constraints | None = None,
    unserved_cost=None,
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "auto",
    capacity=None,
    demand=None,
    fill_must_open: bool = False,
    fill_tolerance: float = 0.0,
    nearest: int | None = None,
    target_gap: float = 0.0,
) -> Solution:
    """Open exactly ``p`` sites minimising the total weighted client-to-site cost.

    Parameters
    ----------
    cost : ndarray or scipy.sparse CSR, shape (n_clients, n_sites)
        Cost (e.g. km) of serving one unit of client weight from each site. A missing
        CSR entry (or ``inf`` in a dense array) means the client cannot use the site;
        an explicitly stored 0 is a real zero cost.
    p : int or None
        Number of sites to open, ``1 <= p <= n_sites``. None: as many as
        ``constraints.budget`` (a knapsack row on the opening costs) allows.
    weights : array-like, shape (n_clients,), optional
        Client weights (e.g. population), default 1.
    constraints : Constraints, optional
        Must-open / forbidden sites, group limits, minimum spacing, an opening-cost
        budget and quotas (knapsack rows).
    unserved_cost : float or array-like, optional
        Cost per unit weight of a client none of whose stored sites is open (e.g. its
        largest stored distance). None: every client must be served.
    time_limit : float, optional
        Wall-clock limit, seconds. Without it the heuristic runs to its default effort
        and the MIP to at most 300 s. Results are deterministic for a ``seed`` unless
        the limit cuts a phase short.
    seed : int
        Seed of the randomised phases.
    method : {"auto", "heuristic", "mip"}
        ``auto``: heuristic + Lagrangian bound, then the MIP when at most
        200,000 arcs survive reduced-cost fixing; ``mip``: always run the MIP;
        ``heuristic``: no MIP.
    capacity : float or array-like, shape (n_sites,), optional
        Most demand one site may serve (``inf``: unlimited). Single-source assignment,
        solved exactly (:mod:`.capacity`); every client must be served.
    demand : array-like, shape (n_clients,), optional
        Demand of every client in the unit of ``capacity`` (default ``weights``).
    fill_must_open : bool
        With ``capacity``: every must-open site is filled to its capacity (spopt's
        ``fulfill_predefined_fac``), up to ``fill_tolerance``.
    fill_tolerance : float
        Share of a must-open site's capacity that may stay unused, in [0, 1).
    nearest : int, optional
        Dense ``cost`` only: solve on each client's ``nearest`` cheapest sites plus a
        bound on the rest (the cost of the next one), enlarging that number for the
        clients whose Lagrangian multipliers reach the bound (:mod:`.nearest`), so the
        dense matrix is never sorted or copied whole. None: automatic, on from
        :data:`.nearest.DENSE_AUTO_ENTRIES` entries (about twice ``n_sites / p``
        to start, at most 96 or 8 million pairs in all, fewer when the dense matrix leaves
        less than 1 GiB, :func:`.nearest.initial_k`).
        The bound stays valid for the dense problem and the objective is
        evaluated on it; ``info`` reports ``k_initial``, ``k_mean``, ``k_max``,
        ``pairs`` and ``rounds``.
    target_gap : float
        Stop once the certified relative gap ``(objective - bound) / objective`` is at
        most this (e.g. ``0.001`` for 0.1 %); 0 (default) searches for a proof of
        optimality until ``time_limit``. Not used with ``capacity``.

    Returns
    -------
    Solution
        ``objective`` is :math:`\\sum_i w_i c_{i, a(i)}` (+ unserved costs), ``bound`` a
        proven lower bound.

    Raises
    ------
    InputError
        Bad shapes, NaN / negative values, ``p`` out of range.
    InfeasibleError
        The constraints cannot be met; the message names the constraint.
    """
    t0 = time.perf_counter()
    method = check_method(method)
    tg = check_target_gap(target_gap)
    if (
        not sp.issparse(cost)
        and capacity is None
        and p is not None
        and (nearest is not None or np.size(cost) >= DENSE_AUTO_ENTRIES)
    ):
        D = check_dense(cost)
        n, m = D.shape
        check_n_m(n, m)
        p = check_p(p, m)
        k0 = initial_k(m, p, n, D.nbytes) if nearest is None else int(nearest)
        if k0 < 1:
            raise InputError(f"nearest must be a positive number of sites, got {nearest!r}")
        if k0 < m:
            w = check_weights(weights, n)
            u = check_unserved(unserved_cost, n)
            tl = check_time_limit(time_limit)
            side = prepare(constraints, m, p, p)
            return solve_dense_pmedian(
                D,
                w,
                u,
                side,
                p,
                p,
                k0=k0,
                time_limit=tl,
                seed=int(seed),
                method=method,
                t0=t0,
                target_gap=tg,
            )
    n, m, indptr, indices, vals = as_sorted_csr(cost)
    check_n_m(n, m)
    if p is None:
        if constraints is None or constraints.budget is None:
            raise InputError("pmedian: give p (the number of sites) or constraints.budget")
        kmin, kmax = 1, m
    else:
        p = check_p(p, m)
        kmin, kmax = p, p
    w = check_weights(weights, n)
    u = check_unserved(unserved_cost, n)
    tl = check_time_limit(time_limit)
    side = prepare(constraints, m, kmin, kmax)
    if u is None:
        check_reachable(indptr, indices, side.status, n)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    inst = build_instance(n, m, indptr, indices, vals * w[rows], None if u is None else u * w)
    if fill_must_open and capacity is None:
        raise InputError("pmedian: fill_must_open needs a capacity (the amount to fill)")
    if capacity is not None:
        from .capacity import check_capacity_size, solve_capacitated
        from .facility_location import site_array
        from .swap import heuristic_search

        cap = site_array(capacity, m, "capacity", allow_inf=True)
        d = w if demand is None else check_weights(demand, n, "demand")
        check_reachable(indptr, indices, side.status, n)
        check_capacity_size(indptr, indices, side, "pmedian")
        warm = heuristic_search(inst, side, kmin, kmax, seed=int(seed)).state
        return solve_capacitated(
            "pmedian",
            indptr,
            indices,
            vals,
            w,
            d,
            cap,
            side,
            kmin,
            kmax,
            radius=None,
            warm_sites=None if warm is None else warm.sites,
            time_limit=tl,
            seed=int(seed),
            label="pmedian",
            t0=t0,
            fill_must_open=fill_must_open,
            fill_tolerance=fill_tolerance,
        )
    large = inst.nnz >= VOLUME_FROM_ARCS
    return solve_min(
        inst,
        side,
        kmin,
        kmax,
        ufl=False,
        time_limit=tl,
        seed=int(seed),
        method=method,
        label="pmedian",
        t0=t0,
        target_gap=tg,
        lagrangian_volume=large,
        dual_ascent=DUAL_ASCENT and large,
    )
