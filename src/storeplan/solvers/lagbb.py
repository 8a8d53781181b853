r"""Lagrangian branch-and-bound on the sites (internal): the proof step of the
minimisation models when the Lagrangian bound stays below the incumbent (run before the
HiGHS MIP, which gets the rest of the time when this does not prove; it replaces the
truncated radius MIP when the reduced model is too large for the full one).

**Reduced model.** Reduced-cost fixing (:func:`.bounds.reduce_min`) at the root
multipliers removes every arc, unserved option and site that no solution of objective
``<= threshold`` (the value a strictly better solution must reach) can use. The search
runs on what is left: any solution at most ``threshold`` is a solution of the reduced
model of the same value, so a proof that the reduced model has none is a proof for the
original problem (a client with no arc left and no unserved option proves it at once).

**Nodes.** A node fixes some sites open (``MUST``) and some closed (``FORBIDDEN``). Its
bound is the Lagrangian :math:`L(\lambda)` of :mod:`.bounds` under those fixings, by
subgradient steps from its parent's best multipliers: every :math:`\lambda` gives a valid
lower bound on every solution of the node, whether or not the steps converged. A node
whose bound exceeds the threshold holds no better solution and is pruned; otherwise
reduced-cost fixing at its multipliers fixes more sites (valid for the solutions of the
node at most the threshold); when that fixing removes at least a fifth of the node's
arcs, the node gets its own reduced model (inherited by its subtree: removed arcs
tighten the relaxation) and is bounded again. It then branches on the free site of the Lagrangian
selection with the largest closing penalty :math:`\rho_{(q+1)} - \rho_j` (first child:
the site open; second: closed). The two children partition the node's solutions.
A node whose sites are all decided holds one site set, evaluated exactly.

The Lagrangian selection of every node is evaluated exactly on the original instance
and replaces the incumbent when it is better and feasible, so the search also finds a
better solution when the incumbent was not optimal. Search is depth first; at the
deadline the bound returned is the smallest inherited bound of the nodes left open
(each at most its parent's bound, all valid), so a stopped search reports its true gap.

Side constraints other than must-open / forbidden sites (groups, spacing, quotas,
budgets) are not handled here: :func:`applicable` says when the search may run.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._kernels import FORBIDDEN, MUST
from ._validate import Instance, build_instance
from .bounds import lagrangian_min, reduce_min
from .constraints import SideArrays

__all__ = ["BBResult", "applicable", "lagrangian_bb"]

#: Subgradient steps per node, steps without improvement before the step factor halves,
#: and the first step factor (the prototype's choice; with the node reduced models below
#: they prove pmed36 in 1,193 nodes, about 31 s on the shared 2-core machine; without
#: them 1,808 nodes in 43 s left the bound at 9,870, the optimum being 9,934).
NODE_ITERATIONS = 200
NODE_PATIENCE = 20
NODE_PI0 = 0.5
#: A node whose reduced-cost fixing keeps at most this share of its arcs gets its own
#: reduced model (inherited by its subtree) and is bounded again, at most NODE_ROUNDS
#: times: removing arcs tightens the relaxation (pmed36: 9,833 on the full model).
NODE_SHRINK = 0.8
NODE_ROUNDS = 3


@dataclass
class BBResult:
    """Outcome of :func:`lagrangian_bb`.

    ``proven``: no solution below ``threshold`` (of the best incumbent) exists;
    ``bound``: a valid lower bound on every solution better than the incumbent
    (``threshold`` when proven); ``sites`` / ``objective``: a better incumbent found by
    the search (None / inf when none).
    """

    proven: bool
    bound: float
    nodes: int
    iterations: int
    sites: np.ndarray | None
    objective: float
    arcs: int


def applicable(side: SideArrays) -> bool:
    """Whether the search handles ``side`` (only must-open / forbidden sites)."""
    return not (side.has_groups or side.has_conflicts or side.has_quotas or side.has_budget)


@njit(cache=True)
def _site_values(indptr, indices, cost, fcost, lam, rho):
    """Fill ``rho`` with the Lagrangian site values ``f_j + sum_i min(0, c_ij - lam_i)``
    (as in :mod:`.bounds`; rows sorted by cost)."""
    rho[:] = fcost
    for i in range(lam.shape[0]):
        li = lam[i]
        for k in range(indptr[i], indptr[i + 1]):
            c = cost[k]
            if c >= li:
                break
            rho[indices[k]] += c - li


@njit(cache=True)
def _set_cost(indptr, indices, cost, unserved, fcost, is_open):
    """Exact objective of the open set ``is_open`` (rows sorted by cost)."""
    total = 0.0
    for j in range(fcost.shape[0]):
        if is_open[j]:
            total += fcost[j]
    for i in range(indptr.shape[0] - 1):
        c = unserved[i]
        for k in range(indptr[i], indptr[i + 1]):
            if is_open[indices[k]]:
                if cost[k] < c:
                    c = cost[k]
                break
        total += c
    return total


def _restrict(inst: Instance, keep: np.ndarray, keep_u: np.ndarray) -> Instance | None:
    """The reduced model: kept arcs only, a client whose unserved option was fixed
    away pays ``inst.big`` for it. None when a client has nothing left."""
    counts = np.bincount(inst.row_of_entry()[keep], minlength=inst.n)
    if np.any((counts == 0) & ~keep_u):
        return None
    indptr = np.zeros(inst.n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    u = np.where(keep_u, inst.unserved, inst.big)
    out = build_instance(inst.n, inst.m, indptr, inst.indices[keep], inst.cost[keep], u, inst.fcost)
    out.integral = inst.integral
    return out


def lagrangian_bb(
    inst: Instance,
    side: SideArrays,
    kmin: int,
    kmax: int,
    ub: float,
    lam: np.ndarray,
    threshold_of,
    *,
    deadline: float | None,
    root_bound: float = -np.inf,
    max_nodes: int | None = None,
) -> BBResult:
    """Branch and bound on the sites with Lagrangian node bounds (module docstring).

    ``ub``: the incumbent's objective; ``lam``: root multipliers (the best found);
    ``threshold_of(ub)``: the value a strictly better solution must reach (e.g.
    ``ub - 0.5`` for integer costs); ``deadline``: ``time.perf_counter()`` seconds or
    None; ``root_bound``: the bound already proven for the whole problem (the bound
    reported if the search stops before its root node); ``max_nodes``: stop (as at the
    deadline) after this many nodes (tests of a stopped search).
    """
    thr = float(threshold_of(ub))
    best_sites: np.ndarray | None = None
    best_obj = np.inf
    keep, keep_u, state, _ = reduce_min(inst, side, kmin, kmax, lam, thr)
    red = _restrict(inst, keep, keep_u)
    if red is None:
        return BBResult(True, thr, 0, 0, None, np.inf, 0)
    status0 = side.status.copy()
    status0[(state == 2) & (status0 == 0)] = FORBIDDEN
    status0[(state == 1) & (status0 == 0)] = MUST
    rho = np.empty(inst.m)
    # (status, multipliers, inherited bound, reduced model of the node)
    stack: list[tuple[np.ndarray, np.ndarray, float, Instance]] = [
        (status0, np.asarray(lam, float), root_bound, red)
    ]
    nodes = 0
    its = 0

    def consider(is_open: np.ndarray) -> None:
        nonlocal best_sites, best_obj, ub, thr
        v = float(
            _set_cost(
                inst.indptr, inst.indices, inst.cost, inst.unserved, inst.fcost, is_open.astype(np.uint8)
            )
        )
        if v < ub and v <= thr:
            best_obj = ub = v
            best_sites = np.flatnonzero(is_open)
            thr = float(threshold_of(ub))

    while stack:
        if (deadline is not None and time.perf_counter() >= deadline) or (
            max_nodes is not None and nodes >= max_nodes
        ):
            lo = min(s[2] for s in stack)
            return BBResult(False, min(lo, thr), nodes, its, best_sites, best_obj, red.nnz)
        status, lam_p, pb, node_inst = stack.pop()
        if pb > thr:
            continue
        nodes += 1
        nmust = int(np.count_nonzero(status == MUST))
        nfree = int(np.count_nonzero(status == 0))
        if nmust > kmax or nmust + nfree < kmin:
            continue
        if nmust == kmax or nmust + nfree == kmin or nfree == 0:
            # one site set left (every free site closed, or every free site open)
            is_open = status == MUST if (nmust == kmax or nfree == 0) else status != FORBIDDEN
            n_open = int(is_open.sum())
            if kmin <= n_open <= kmax:
                consider(is_open)
            continue
        s = dataclasses.replace(side, status=status)
        cur = node_inst
        pruned = False
        st2 = status
        for _ in range(NODE_ROUNDS):
            lr = lagrangian_min(
                cur,
                s,
                kmin,
                kmax,
                ub,
                lam_p,
                target=thr,
                max_iter=NODE_ITERATIONS,
                patience=NODE_PATIENCE,
                pi0=NODE_PI0,
                deadline=deadline,
            )
            its += lr.iterations
            lam_p = lr.lam
            if lr.bound > thr:
                pruned = True
                break
            keep, keep_u, st, _ = reduce_min(cur, s, kmin, kmax, lr.lam, thr)
            st2 = st2.copy()
            st2[(st == 2) & (st2 == 0)] = FORBIDDEN
            st2[(st == 1) & (st2 == 0)] = MUST
            s = dataclasses.replace(side, status=st2)
            if int(np.count_nonzero(keep)) > NODE_SHRINK * cur.nnz or (
                deadline is not None and time.perf_counter() >= deadline
            ):
                break
            # the node's reduced model (valid for its whole subtree): bound it again
            sub = _restrict(cur, keep, keep_u)
            if sub is None:
                pruned = True
                break
            cur = sub
        if pruned:
            continue
        nb = max(lr.bound, pb)
        _site_values(cur.indptr, cur.indices, cur.cost, cur.fcost, lr.lam, rho)
        free = np.flatnonzero(st2 == 0)
        nmust = int(np.count_nonzero(st2 == MUST))
        q = kmax - nmust
        if free.size == 0 or q <= 0 or nmust + free.size <= kmin:
            stack.append((st2, lr.lam, nb, cur))
            continue
        order = free[np.argsort(rho[free], kind="stable")]
        # the Lagrangian selection: the must-open sites and the q most negative rho
        qsel = min(q, order.size)
        if kmin == kmax:
            chosen = order[:qsel]
        else:
            chosen = order[:qsel][rho[order[:qsel]] < 0.0]
            need = max(kmin - nmust, 0)
            if chosen.size < need:
                chosen = order[:need]
        sel = st2 == MUST
        sel[chosen] = True
        if kmin <= int(sel.sum()) <= kmax:
            consider(sel)
        if chosen.size == 0:
            j = int(order[0])
        else:
            nxt = rho[order[qsel]] if qsel < order.size else 0.0
            j = int(chosen[np.argmax(nxt - rho[chosen])])
        closed = st2.copy()
        closed[j] = FORBIDDEN
        opened = st2.copy()
        opened[j] = MUST
        stack.append((closed, lr.lam, nb, cur))
        stack.append((opened, lr.lam, nb, cur))
    return BBResult(True, thr, nodes, its, best_sites, best_obj, red.nnz)
