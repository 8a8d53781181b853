r"""Competitive (Huff / MNL) site selection: lazy greedy plus swap local search.

With :math:`X` the set of new candidate sites we open, :math:`u_{ij} \ge 0` the Huff
utility of candidate :math:`j` in area :math:`i`, :math:`b_i` our existing stores' utility,
:math:`B_i > 0` the utility of everything already there (outside option, rivals, our
existing stores) and :math:`W_i` the area's offline spending (currency per year):

.. math::

    \max_X \; F(X) = f(X) - \sum_{j \in X} c_j, \qquad
    f(X) = \sum_i W_i \, \frac{b_i + \sum_{j \in X} u_{ij}}{B_i + \sum_{j \in X} u_{ij}}

subject to :math:`|X| = p` (or :math:`\sum_{j \in X} k_j \le \text{budget}`, or no limit),
must-open / forbidden sites and minimum-spacing conflicts. :math:`f` is our offline capture
(net of the online channel's cannibalisation, see :mod:`storeplan.market`); it is monotone
and submodular, so greedy achieves :math:`f(G) - f(\emptyset) \ge (1 - 1/e)(f(X^*) -
f(\emptyset))` under a cardinality constraint (Nemhauser, Wolsey & Fisher 1978).

Reported bound (``sense="max"``, an upper bound on the optimum): the smallest of

* the *single-store-gain* bound (:func:`_modular_bound`): :math:`f(X) \le f(\emptyset)
  + \sum_{j \in X} f(j \mid \emptyset)` by submodularity, maximised over the feasible sets
  as a 0-1 programme with every side row (HiGHS; its dual bound). Conflicts (minimum
  spacing, one format per site) keep the stores' catchments apart, so the single-store
  gains nearly add up: on the default China demo it certifies 0.19 %, where the cut
  bound below, which relaxes the conflicts, gives 6.3 %. Its solution, valued exactly,
  replaces the heuristic's when better;

* the greedy guarantee :math:`f(M) + (f(G) - f(M)) / (1 - 1/e)` -- only for the
  cardinality problem without fixed costs or conflicts (:math:`M` = must-open);
* the *online* submodular bound (Leskovec et al. 2007) at the final solution :math:`S`:
  :math:`F(X^*) \le f(S) + \max_X \sum_{j \in X} h_j` with :math:`h_j = f(j \mid S) - c_j`
  (:math:`-c_j` for :math:`j \in S`), the max taken over :math:`|X| = p` containing
  :math:`M` (budget: a fractional knapsack; no limit: all positive terms);
* a *submodular-cut* bound (the strongest in practice): each area's share
  :math:`s_i(X)` is at most each of five functions linear in the open-site indicators,
  all exact at :math:`S` -- the two Nemhauser-Wolsey (1981) cuts at :math:`S`
  (:math:`s(T) \le s(S) - \sum_{S \setminus T} \rho_j(N - j) + \sum_{T \setminus S}
  \rho_j(S)` and :math:`s(T) \le s(S) - \sum_{S \setminus T} \rho_j(S - j) +
  \sum_{T \setminus S} \rho_j(\emptyset)`), the second one at :math:`\emptyset`, the tangent
  of the concave share at :math:`S` and the all-open share. Any convex combination
  :math:`\pi_i` of an area's cuts, weighted by :math:`W_i` and summed, is linear in the
  sites, so its maximum over the relaxed site set is a bound; :math:`\pi` is improved by
  exponentiated-gradient steps (each O(nnz), areas in parallel blocks) towards the cuts
  lowest at a moving average of the recent maximisers. This is the Lagrangian dual of
  the LP over these cuts (Ljubić & Moreno 2018 use the same cuts in branch-and-cut).
  Later rounds (``cut_rounds``) add the cuts exact at the site set the previous round's
  relaxation picked. The pairs with the smallest single-store gains are left out of
  this bound's network and their gains added to their sites' coefficients instead
  (:func:`_pruned_network`, valid by submodularity), which halves its work at scale;
* a Lagrangian bound that relaxes :math:`z_i = \sum_j u_{ij} x_j` (closed-form area terms,
  top-:math:`p` site terms); its limit is the continuous relaxation, weak when many
  candidates overlap; only with ``lagrangian=True`` (the cut bound was tighter on every
  instance tried).

All of them relax the side constraints, so they stay valid with conflicts, must-open and
forbidden sites. On 30 random instances small enough for brute force (200 areas, 16
candidates, p = 4) greedy + swap was optimal 26 times and at worst 1.0 % below the
optimum; the bound was 5.7 % above the optimum on average (the reported gap is smaller
on the larger benchmark instances: 0.4 % at 16k areas, 2 % at 100k areas).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp

from storeplan.errors import InfeasibleError, InputError, SolverError
from storeplan.solvers._kernels import quota_deficit, quota_ok
from storeplan.solvers.constraints import (
    FORBIDDEN,
    FREE,
    Constraints,
    Quota,
    check_sites,
    conflict_cliques,
    prepare,
)
from storeplan.solvers.solution import MIP_PROVEN_TOL, Solution, make_solution

__all__ = ["revenue", "RevenueProblem", "objective_value", "marginal_gains", "swap_values", "GREEDY_FACTOR"]

#: Iterations of the cut bound per Numba call (the time limit is checked between calls).
_BOUND_CHUNK = 10

#: Weight of the past in the moving average of the cut bound's maximisers that steers its
#: steps (0: the last maximiser alone).
_CUT_AVERAGE = 0.7

#: Share of each area's cut weight that a new round's tangent cut starts with.
_CUT_NEW_WEIGHT = 0.2

#: Candidates per call of the swap-sweep kernel (the time limit is checked between calls).
_SWEEP_SLICE = 8192

#: Share of ``time_limit`` that :func:`revenue` keeps for the bounds when it has one.
BOUND_SHARE = 0.7

#: The cut bound drops stored pairs whose single-store gain is smallest while the ``p``
#: largest per-site sums of the dropped gains stay below this share of the plan's
#: capture (see :func:`_pruned_network`).
PRUNE_SHARE = 0.01

#: The greedy approximation factor 1 - 1/e.
GREEDY_FACTOR = 1.0 - float(np.exp(-1.0))


@dataclass(frozen=True)
class RevenueProblem:
    """Validated arrays of a competitive-location instance (internal, but public so tests
    and benchmarks can evaluate solutions).

    ``cptr, crow, cval``: CSC of the candidate utilities (per candidate: areas and
    ``u_ij``); ``rptr, rcol, rval``: the same as CSR (per area). ``weight``, ``base_own``,
    ``base_total`` per area; ``fixed`` (yearly) and ``cost`` (opening) per candidate.
    """

    cptr: np.ndarray
    crow: np.ndarray
    cval: np.ndarray
    rptr: np.ndarray
    rcol: np.ndarray
    rval: np.ndarray
    weight: np.ndarray
    base_own: np.ndarray
    base_total: np.ndarray
    fixed: np.ndarray
    cost: np.ndarray

    @property
    def n_areas(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_sites(self) -> int:
        return int(self.cptr.shape[0] - 1)

    @classmethod
    def build(
        cls, utility, weight, *, base_own=None, base_total=None, fixed_cost=None, opening_cost=None
    ) -> RevenueProblem:
        """Validate inputs (see :func:`revenue`) and build the CSC/CSR arrays."""
        if not sp.issparse(utility):
            utility = sp.csr_matrix(np.asarray(utility, dtype=np.float64))
        U = sp.csr_matrix(utility, dtype=np.float64)
        U.sum_duplicates()
        n, m = U.shape
        if U.nnz and (not np.all(np.isfinite(U.data)) or U.data.min() < 0):
            raise InputError("utility must be finite and >= 0")
        W = _vec(weight, n, "weight")
        b = np.zeros(n) if base_own is None else _vec(base_own, n, "base_own")
        B = b.copy() if base_total is None else _vec(base_total, n, "base_total")
        if np.any(b * (1 - 1e-12) > B):
            raise InputError("base_total must be >= base_own in every area")
        C = U.tocsc()
        C.sort_indices()
        fixed = np.zeros(m) if fixed_cost is None else _vec(fixed_cost, m, "fixed_cost", True)
        cost = np.zeros(m) if opening_cost is None else _vec(opening_cost, m, "opening_cost")
        return cls(
            C.indptr.astype(np.int64),
            C.indices.astype(np.int64),
            C.data.astype(np.float64),
            U.indptr.astype(np.int64),
            U.indices.astype(np.int64),
            U.data.astype(np.float64),
            W,
            b,
            B,
            fixed,
            cost,
        )


def _vec(x, n: int, name: str, allow_neg: bool = False) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise InputError(f"{name} must have {n} entries, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or (not allow_neg and np.any(a < 0)):
        raise InputError(f"{name} must be finite" + ("" if allow_neg else " and >= 0"))
    return a


# ------------------------------------------------------------------------ kernels


@nb.njit(cache=True)
def _share(num, den):
    return num / den if den > 0.0 else 0.0


@nb.njit(cache=True)
def _gain(j, cptr, crow, cval, W, num, den):
    g = 0.0
    for t in range(cptr[j], cptr[j + 1]):
        i = crow[t]
        u = cval[t]
        d = den[i]
        g += W[i] * (_share(num[i] + u, d + u) - _share(num[i], d))
    return g


@nb.njit(cache=True)
def _loss(j, cptr, crow, cval, W, num, den):
    g = 0.0
    for t in range(cptr[j], cptr[j + 1]):
        i = crow[t]
        u = cval[t]
        g += W[i] * (_share(num[i], den[i]) - _share(num[i] - u, den[i] - u))
    return g


@nb.njit(cache=True)
def _apply(j, sign, cptr, crow, cval, num, den):
    for t in range(cptr[j], cptr[j + 1]):
        i = crow[t]
        num[i] += sign * cval[t]
        den[i] += sign * cval[t]


@nb.njit(cache=True)
def _all_gains(cptr, crow, cval, W, num, den, out):
    for j in range(cptr.shape[0] - 1):
        out[j] = _gain(j, cptr, crow, cval, W, num, den)


@nb.njit(cache=True)
def _objective(W, num, den):
    s = 0.0
    for i in range(W.shape[0]):
        s += W[i] * _share(num[i], den[i])
    return s


@nb.njit(cache=True)
def _better(ka, a, kb, b):
    """Lexicographic (key desc, index asc) order."""
    return ka > kb or (ka == kb and a < b)


@nb.njit(cache=True)
def _sift_down(heap, size, pos, key):
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        best = left
        right = left + 1
        if right < size and _better(key[heap[right]], heap[right], key[heap[left]], heap[left]):
            best = right
        if _better(key[heap[best]], heap[best], key[heap[pos]], heap[pos]):
            heap[pos], heap[best] = heap[best], heap[pos]
            pos = best
        else:
            return


@nb.njit(cache=True)
def _key(g, fixed_j, cost_j, mode):
    net = g - fixed_j
    if mode != 1:
        return net
    if cost_j > 0.0:
        return net / cost_j
    return np.inf if net > 0.0 else net


@nb.njit(cache=True)
def _greedy(
    cptr,
    crow,
    cval,
    W,
    num,
    den,
    fixed,
    cost,
    status,
    conf_ptr,
    conf_adj,
    is_open,
    n_open,
    target,
    mode,
    budget_left,
    lazy,
    q_ptr,
    q_row,
    q_val,
    q_lo,
    q_hi,
    q_use,
    allow,
    fill,
):
    """Add sites greedily. mode 0: exactly ``target`` sites; 1: budget; 2: while positive.

    ``status``: 0 free, 1 must (already open), 2 forbidden. Sites that would break a
    quota's maximum are skipped; only sites with ``allow`` are considered. With ``fill``
    (the quota-minimum phase) sites are added even at a loss and the loop stops as soon
    as one more quota row reaches its minimum. Returns (order, n_added, evals,
    budget_left). ``num``/``den``/``is_open``/``q_use`` are updated in place.
    """
    m = cptr.shape[0] - 1
    deficit0 = quota_deficit(q_lo, q_use)
    blocked = np.zeros(m, dtype=np.bool_)
    for j in range(m):
        if status[j] == 2 or is_open[j] or not allow[j]:
            blocked[j] = True
        if is_open[j]:
            for t in range(conf_ptr[j], conf_ptr[j + 1]):
                blocked[conf_adj[t]] = True
    key = np.full(m, -np.inf)
    stamp = np.full(m, -1, dtype=np.int64)
    heap = np.empty(m, dtype=np.int64)
    size = 0
    evals = 0
    for j in range(m):
        if not blocked[j]:
            g = _gain(j, cptr, crow, cval, W, num, den)
            evals += 1
            key[j] = _key(g, fixed[j], cost[j], mode)
            stamp[j] = 0
            heap[size] = j
            size += 1
    for pos in range(size // 2 - 1, -1, -1):
        _sift_down(heap, size, pos, key)
    order = np.empty(m, dtype=np.int64)
    n_added = 0
    rnd = 0
    while size > 0:
        if mode == 0 and n_open >= target:
            break
        if lazy:
            j = heap[0]
            if (
                blocked[j]
                or (mode == 1 and cost[j] > budget_left)
                or not quota_ok(j, -1, q_ptr, q_row, q_val, q_lo, q_hi, q_use)
            ):
                size -= 1
                heap[0] = heap[size]
                _sift_down(heap, size, 0, key)
                continue
            if stamp[j] != rnd:
                g = _gain(j, cptr, crow, cval, W, num, den)
                evals += 1
                key[j] = _key(g, fixed[j], cost[j], mode)
                stamp[j] = rnd
                _sift_down(heap, size, 0, key)
                continue
            size -= 1
            heap[0] = heap[size]
            _sift_down(heap, size, 0, key)
        else:
            j = -1
            kbest = -np.inf
            for c in range(m):
                if blocked[c] or (mode == 1 and cost[c] > budget_left):
                    continue
                if not quota_ok(c, -1, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
                    continue
                g = _gain(c, cptr, crow, cval, W, num, den)
                evals += 1
                k = _key(g, fixed[c], cost[c], mode)
                if j < 0 or _better(k, c, kbest, j):
                    j = c
                    kbest = k
            if j < 0:
                break
            key[j] = kbest
        if mode != 0 and not fill and not key[j] > 0.0:
            break
        # accept j
        _apply(j, 1.0, cptr, crow, cval, num, den)
        is_open[j] = True
        blocked[j] = True
        for t in range(conf_ptr[j], conf_ptr[j + 1]):
            blocked[conf_adj[t]] = True
        for t in range(q_ptr[j], q_ptr[j + 1]):
            q_use[q_row[t]] += q_val[t]
        budget_left -= cost[j]
        n_open += 1
        order[n_added] = j
        n_added += 1
        rnd += 1
        if fill and quota_deficit(q_lo, q_use) < deficit0:
            break
    return order[:n_added], n_added, evals, budget_left


@nb.njit(cache=True)
def _swap_sweep(
    cptr,
    crow,
    cval,
    rptr,
    rcol,
    rval,
    W,
    num,
    den,
    fixed,
    cost,
    status,
    conf_ptr,
    conf_adj,
    is_open,
    open_list,
    slot_of,
    budget_left,
    use_budget,
    cand_order,
    tol,
    q_ptr,
    q_row,
    q_val,
    q_lo,
    q_hi,
    q_use,
):
    """One sweep of best-removal swaps: for each closed candidate j (in ``cand_order``) find
    the open site i whose exchange for j improves F most; apply it when > ``tol``.

    Swap deltas are exact: ``gain_j - loss_i`` plus a correction on areas where both i
    and j are stored. Returns (moves, evaluations, budget_left).
    """
    p = open_list.shape[0]
    loss = np.empty(p)
    for s in range(p):
        i = open_list[s]
        loss[s] = _loss(i, cptr, crow, cval, W, num, den) - fixed[i]
    corr = np.zeros(p)
    touched = np.empty(p, dtype=np.int64)
    mark = np.zeros(p, dtype=np.bool_)
    moves = 0
    evals = 0
    for jj in range(cand_order.shape[0]):
        j = cand_order[jj]
        if is_open[j] or status[j] == 2:
            continue
        only = -1
        n_conf = 0
        for t in range(conf_ptr[j], conf_ptr[j + 1]):
            k = conf_adj[t]
            if is_open[k]:
                n_conf += 1
                only = slot_of[k]
        if n_conf > 1:
            continue
        if n_conf == 1 and status[open_list[only]] == 1:
            continue
        evals += 1
        gj = 0.0
        n_t = 0
        for t in range(cptr[j], cptr[j + 1]):
            a = crow[t]
            uj = cval[t]
            n0 = num[a]
            d0 = den[a]
            s0 = _share(n0, d0)
            ga = W[a] * (_share(n0 + uj, d0 + uj) - s0)
            gj += ga
            for r in range(rptr[a], rptr[a + 1]):
                i = rcol[r]
                if not is_open[i]:
                    continue
                ui = rval[r]
                s = slot_of[i]
                la = W[a] * (s0 - _share(n0 - ui, d0 - ui))
                exact = W[a] * (_share(n0 - ui + uj, d0 - ui + uj) - s0)
                corr[s] += exact - ga + la
                if not mark[s]:
                    mark[s] = True
                    touched[n_t] = s
                    n_t += 1
        base = gj - fixed[j]
        best = 0.0
        best_s = -1
        lo = 0
        hi = p
        if only >= 0:
            lo = only
            hi = only + 1
        for s in range(lo, hi):
            i = open_list[s]
            if status[i] == 1:
                continue
            if use_budget and cost[j] - cost[i] > budget_left:
                continue
            if not quota_ok(j, i, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
                continue
            delta = base - loss[s] + corr[s]
            if delta > best:
                best = delta
                best_s = s
        for q in range(n_t):
            corr[touched[q]] = 0.0
            mark[touched[q]] = False
        if best_s >= 0 and best > tol:
            i = open_list[best_s]
            _apply(i, -1.0, cptr, crow, cval, num, den)
            _apply(j, 1.0, cptr, crow, cval, num, den)
            is_open[i] = False
            is_open[j] = True
            slot_of[i] = -1
            slot_of[j] = best_s
            open_list[best_s] = j
            budget_left -= cost[j] - cost[i]
            for t in range(q_ptr[i], q_ptr[i + 1]):
                q_use[q_row[t]] -= q_val[t]
            for t in range(q_ptr[j], q_ptr[j + 1]):
                q_use[q_row[t]] += q_val[t]
            moves += 1
            # only the open sites sharing an area with i or j lose a different amount now
            n_t = 0
            for col in (i, j):
                for t in range(cptr[col], cptr[col + 1]):
                    a = crow[t]
                    for r in range(rptr[a], rptr[a + 1]):
                        k = rcol[r]
                        if is_open[k] and not mark[slot_of[k]]:
                            mark[slot_of[k]] = True
                            touched[n_t] = slot_of[k]
                            n_t += 1
            if not mark[best_s]:
                touched[n_t] = best_s
                n_t += 1
            for q in range(n_t):
                s = touched[q]
                k = open_list[s]
                loss[s] = _loss(k, cptr, crow, cval, W, num, den) - fixed[k]
                mark[s] = False
    return moves, evals, budget_left


@nb.njit(cache=True)
def _heap_sift(idx, keys, pos, size):
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        big = left
        if left + 1 < size and keys[idx[left + 1]] > keys[idx[left]]:
            big = left + 1
        if keys[idx[big]] > keys[idx[pos]]:
            idx[pos], idx[big] = idx[big], idx[pos]
            pos = big
        else:
            return


@nb.njit(cache=True)
def _argsort(keys):
    """Indices that sort ``keys`` ascending (heapsort; compiles much faster than
    ``np.argsort`` in Numba; tie order unspecified)."""
    size = keys.shape[0]
    idx = np.arange(size)
    for start in range(size // 2 - 1, -1, -1):
        _heap_sift(idx, keys, start, size)
    for end in range(size - 1, 0, -1):
        idx[0], idx[end] = idx[end], idx[0]
        _heap_sift(idx, keys, 0, end)
    return idx


@nb.njit(cache=True)
def _select(c, x, must, free, k, mode, budget, cost):
    """``max sum_j c_j x_j`` over the relaxed site set (fills ``x``, returns the value):
    ``must`` plus the top ``k`` of ``free`` (mode 0), ``must`` plus a fractional knapsack of
    ``free`` with weights ``cost`` and capacity ``budget`` (mode 1), or ``must`` plus every
    positive ``free`` term (mode 2)."""
    x[:] = 0.0
    total = 0.0
    for q in range(must.shape[0]):
        total += c[must[q]]
        x[must[q]] = 1.0
    nf = free.shape[0]
    if mode == 0:
        vals = np.empty(nf)
        for q in range(nf):
            vals[q] = -c[free[q]]
        order = _argsort(vals)
        for q in range(min(k, nf)):
            j = free[order[q]]
            total += c[j]
            x[j] = 1.0
    elif mode == 2:
        for q in range(nf):
            j = free[q]
            if c[j] > 0.0:
                total += c[j]
                x[j] = 1.0
    else:
        cap = budget
        ratio = np.empty(nf)
        for q in range(nf):
            j = free[q]
            if c[j] <= 0.0:
                ratio[q] = np.inf
            elif cost[j] <= 0.0:
                ratio[q] = -np.inf
            else:
                ratio[q] = -c[j] / cost[j]
        order = _argsort(ratio)
        for q in range(nf):
            j = free[order[q]]
            if c[j] <= 0.0:
                break
            if cost[j] <= 0.0:
                take = 1.0
            elif cap <= 0.0:
                break
            else:
                take = min(1.0, cap / cost[j])
                cap -= take * cost[j]
            total += take * c[j]
            x[j] = take
    return total


#: Most areas per block of the parallel cut-bound kernels: each block sums its sites'
#: coefficients into its own row, added up in a fixed order (the same result for any
#: number of threads).
_CUT_BLOCKS = 8


@nb.njit(cache=True, parallel=True)
def _cut_setup(rptr, rcol, rval, b, B, refs, nblk):
    """The cuts of :func:`_cut_bound_rounds` per area: ``(al, be)``, ``al[i, q]`` the
    constant and ``be[t, q]`` the coefficient of the site of stored pair ``t`` in cut
    ``q``; ``K = 2 + 3 R`` cuts for ``R`` reference sets ``refs`` (bool, (R, m)).

    Cut 0 is the Nemhauser-Wolsey cut at the empty set (each site's gain alone), cut 1
    the all-open share; for each reference set S (exact there): the cut with removals
    at ``rho_j(N - j)`` and additions at ``rho_j(S)``, the one with removals at
    ``rho_j(S - j)`` and additions at ``rho_j(empty)``, and the tangent of the concave
    share at S.
    """
    n = rptr.shape[0] - 1
    nnz = rcol.shape[0]
    R = refs.shape[0]
    K = 2 + 3 * R
    al = np.empty((n, K))
    be = np.zeros((nnz, K))
    for blk in nb.prange(nblk):
        for i in range(blk * n // nblk, (blk + 1) * n // nblk):
            bi = b[i]
            Bi = B[i]
            zN = 0.0
            for t in range(rptr[i], rptr[i + 1]):
                zN += rval[t]
            g0 = _share(bi, Bi)
            gN = _share(bi + zN, Bi + zN)
            al[i, 0] = g0
            al[i, 1] = gN
            for t in range(rptr[i], rptr[i + 1]):
                be[t, 0] = _share(bi + rval[t], Bi + rval[t]) - g0
            for r in range(R):
                c1 = 2 + 3 * r
                zS = 0.0
                for t in range(rptr[i], rptr[i + 1]):
                    if refs[r, rcol[t]]:
                        zS += rval[t]
                gS = _share(bi + zS, Bi + zS)
                tangent = Bi + zS > 0.0
                gp = (Bi - bi) / ((Bi + zS) * (Bi + zS)) if tangent else 0.0
                s1 = 0.0
                s2 = 0.0
                for t in range(rptr[i], rptr[i + 1]):
                    u = rval[t]
                    if refs[r, rcol[t]]:
                        # removals: rho_j(N - j) with additions rho_j(S); rho_j(S - j) with rho_j(0)
                        be[t, c1] = gN - _share(bi + zN - u, Bi + zN - u)
                        be[t, c1 + 1] = gS - _share(bi + zS - u, Bi + zS - u)
                        s1 += be[t, c1]
                        s2 += be[t, c1 + 1]
                    else:
                        be[t, c1] = _share(bi + zS + u, Bi + zS + u) - gS
                        be[t, c1 + 1] = be[t, 0]
                    be[t, c1 + 2] = gp * u
                al[i, c1] = gS - s1
                al[i, c1 + 1] = gS - s2
                al[i, c1 + 2] = gS - gp * zS if tangent else gN
    return al, be


@nb.njit(cache=True, parallel=True)
def _tangent_setup(rptr, rval, b, B, ref_z, nblk, ta, tg):
    r"""The tangent cut of each area's share at the reference utilities ``ref_z[i]``
    (the reference set's total utility in the area): ``ta[i]`` the constant and
    ``tg[i]`` the slope, so that :math:`s_i(X) \le ta_i + tg_i \sum_{j \in X}
    u_{ij}` (the share is concave in the utility; with no utility at all, the all-open
    share)."""
    n = rptr.shape[0] - 1
    for blk in nb.prange(nblk):
        for i in range(blk * n // nblk, (blk + 1) * n // nblk):
            bi = b[i]
            Bi = B[i]
            zS = ref_z[i]
            if Bi + zS > 0.0:
                gp = (Bi - bi) / ((Bi + zS) * (Bi + zS))
                ta[i] = _share(bi + zS, Bi + zS) - gp * zS
                tg[i] = gp
            else:
                zN = 0.0
                for t in range(rptr[i], rptr[i + 1]):
                    zN += rval[t]
                ta[i] = _share(bi + zN, Bi + zN)
                tg[i] = 0.0


@nb.njit(cache=True, parallel=True)
def _cut_pass(rptr, rcol, rval, W, al, be, ta, tg, pi, xd, eta, update, cpart, constpart):
    """One pass over the areas (blocks in parallel): with ``update``, an
    exponentiated-gradient step on each area's cut weights ``pi[i]`` towards the cuts
    lowest at ``xd`` (step ``eta``); then the area's weighted cuts summed into its
    block's site coefficients ``cpart[blk]`` and constant ``constpart[blk]``.

    ``pi[i, :K]`` weighs the cuts stored per pair (``al``, ``be``, ``K`` columns),
    ``pi[i, K:]`` the tangent cuts (``ta``, ``tg``: constant and slope per area, the
    coefficient of pair ``t`` is ``tg[i, r] * rval[t]``)."""
    n = W.shape[0]
    K = al.shape[1]
    T = ta.shape[1]
    m = cpart.shape[1]
    nblk = cpart.shape[0]
    for blk in nb.prange(nblk):
        v = np.empty(K + T)
        pw = np.empty(K + T)
        cp = cpart[blk]
        for j in range(m):
            cp[j] = 0.0
        const = 0.0
        for i in range(blk * n // nblk, (blk + 1) * n // nblk):
            if update:
                for q in range(K):
                    v[q] = al[i, q]
                zx = 0.0
                for t in range(rptr[i], rptr[i + 1]):
                    xj = xd[rcol[t]]
                    if xj > 0.0:
                        zx += rval[t] * xj
                        for q in range(K):
                            v[q] += be[t, q] * xj
                for r in range(T):
                    v[K + r] = ta[i, r] + tg[i, r] * zx
                vmin = v[0]
                for q in range(1, K + T):
                    vmin = min(vmin, v[q])
                tot = 0.0
                for q in range(K + T):
                    w = pi[i, q] * np.exp(-eta * (v[q] - vmin))
                    if w < 1e-12:
                        w = 1e-12
                    pi[i, q] = w
                    tot += w
                for q in range(K + T):
                    pi[i, q] /= tot
            wi = W[i]
            for q in range(K):
                pw[q] = wi * pi[i, q]
                const += pw[q] * al[i, q]
            slope = 0.0
            for r in range(T):
                w = wi * pi[i, K + r]
                const += w * ta[i, r]
                slope += w * tg[i, r]
            for t in range(rptr[i], rptr[i + 1]):
                acc = slope * rval[t]
                for q in range(K):
                    acc += pw[q] * be[t, q]
                cp[rcol[t]] += acc
        constpart[blk] = const


@nb.njit(cache=True)
def _cut_steps(
    rptr,
    rcol,
    rval,
    W,
    al,
    be,
    ta,
    tg,
    pi,
    extra,
    cost,
    must,
    free,
    k,
    mode,
    budget,
    target,
    iters,
    eta0,
    state,
    xd,
    cpart,
    constpart,
):
    """``iters`` iterations of the cut bound's dual descent (see
    :func:`_cut_bound_rounds`); ``cpart`` / ``constpart`` hold the coefficients of the
    current ``pi`` on entry and on exit. ``state`` = [iteration, step scale, best bound,
    stall count] is carried between calls. Each iteration's bound is ``sum constpart +
    max_x sum_j (extra_j + sum cpart[:, j]) x_j`` over the relaxed site set
    (:func:`_select`); the step moves ``pi`` towards the cuts lowest at ``xd``, a moving
    average (factor ``_CUT_AVERAGE``) of the maximisers, which damps the oscillation of
    the top-``k`` choice. Returns (iterations done, last maximiser x)."""
    m = extra.shape[0]
    nblk = cpart.shape[0]
    c = np.empty(m)
    x = np.zeros(m)
    done = 0
    for _ in range(iters):
        it = int(state[0])
        for j in range(m):
            s = extra[j]
            for blk in range(nblk):
                s += cpart[blk, j]
            c[j] = s
        total = _select(c, x, must, free, k, mode, budget, cost)
        for blk in range(nblk):
            total += constpart[blk]
        done += 1
        state[0] += 1.0
        if total < state[2]:
            state[2] = total
            state[3] = 0.0
        else:
            state[3] += 1.0
            if state[3] >= 10.0:
                state[1] *= 0.5
                state[3] = 0.0
        if state[2] - target <= 1e-10 * abs(target):
            break
        if it == 0:
            for j in range(m):
                xd[j] = x[j]
        else:
            for j in range(m):
                xd[j] = _CUT_AVERAGE * xd[j] + (1.0 - _CUT_AVERAGE) * x[j]
        eta = state[1] * eta0 / np.sqrt(it + 1.0)
        _cut_pass(rptr, rcol, rval, W, al, be, ta, tg, pi, xd, eta, True, cpart, constpart)
    return done, x


@nb.njit(cache=True)
def _lagrangian(
    cptr, crow, cval, W, b, B, zmax, fixed, cost, lam0, must, free, k, mode, budget, target, iters, theta0
):
    """Subgradient minimisation of the Lagrangian upper bound (see :func:`revenue` Notes).

    ``L(lam) = sum_i max_{z >= 0} [W_i g_i(z) - lam_i z] + max_X sum_{j in X} (c_j - fixed_j)``
    with ``g_i(z) = (b_i + z) / (B_i + z)``, ``z <= zmax_i`` (the area's total candidate
    utility) and ``c_j = sum_i lam_i u_ij``; the inner max
    over ``X`` is the top ``k`` free sites plus ``must`` (mode 0), a fractional knapsack
    (mode 1) or every positive term (mode 2). Every ``lam >= 0`` gives a valid bound.
    Returns (best bound, iterations run).
    """
    n = W.shape[0]
    m = cptr.shape[0] - 1
    lam = lam0.copy()
    best = np.inf
    theta = theta0
    stall = 0
    c = np.empty(m)
    x = np.zeros(m)
    z = np.empty(n)
    sg = np.empty(n)
    done = 0
    for _ in range(iters):
        done += 1
        total = 0.0
        for i in range(n):
            Bi = B[i]
            bi = b[i]
            Wi = W[i]
            if Wi <= 0.0:
                z[i] = 0.0
                continue
            if Bi <= bi or Bi <= 0.0:
                z[i] = 0.0
                total += Wi
                continue
            li = lam[i]
            slope0 = Wi * (Bi - bi) / (Bi * Bi)
            if li >= slope0:
                z[i] = 0.0
                total += Wi * bi / Bi
            else:
                zi = zmax[i]
                if li > 0.0:
                    zi = min(np.sqrt(Wi * (Bi - bi) / li) - Bi, zi)
                z[i] = zi
                total += Wi * (bi + zi) / (Bi + zi) - li * zi
        for j in range(m):
            s = 0.0
            for t in range(cptr[j], cptr[j + 1]):
                s += lam[crow[t]] * cval[t]
            c[j] = s - fixed[j]
        total += _select(c, x, must, free, k, mode, budget, cost)
        if total < best:
            best = total
            stall = 0
        else:
            stall += 1
            if stall >= 5:
                theta *= 0.5
                stall = 0
        for i in range(n):
            sg[i] = -z[i]
        for j in range(m):
            if x[j] > 0.0:
                for t in range(cptr[j], cptr[j + 1]):
                    sg[crow[t]] += x[j] * cval[t]
        norm = 0.0
        for i in range(n):
            norm += sg[i] * sg[i]
        if norm <= 0.0 or best - target <= 1e-9 * abs(target) or theta < 1e-6:
            break
        step = theta * (total - target) / norm
        for i in range(n):
            v = lam[i] - step * sg[i]
            lam[i] = v if v > 0.0 else 0.0
    return best, done


# ------------------------------------------------------------------------ helpers


def _state(prob: RevenueProblem, sites: np.ndarray):
    num = prob.base_own.copy()
    den = prob.base_total.copy()
    for j in sites:
        _apply(int(j), 1.0, prob.cptr, prob.crow, prob.cval, num, den)
    return num, den


def objective_value(prob: RevenueProblem, sites) -> float:
    """``F(X) = f(X) - sum fixed`` for candidate indices ``sites`` (currency per year)."""
    sites = np.unique(np.asarray(sites, dtype=np.int64))
    num, den = _state(prob, sites)
    return float(_objective(prob.weight, num, den) - prob.fixed[sites].sum())


def swap_values(prob: RevenueProblem, sites, pairs) -> np.ndarray:
    """``F(X - a + b)`` for every ``(a, b)`` in ``pairs`` (``a`` in ``sites``), exact:
    only the areas of columns ``a`` and ``b`` change (currency per year)."""
    sites = np.unique(np.asarray(sites, dtype=np.int64))
    num, den = _state(prob, sites)
    base = float(_objective(prob.weight, num, den) - prob.fixed[sites].sum())
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    out = np.empty(pairs.shape[0])
    for t, (a, b) in enumerate(pairs):
        ra, va = prob.crow[prob.cptr[a] : prob.cptr[a + 1]], prob.cval[prob.cptr[a] : prob.cptr[a + 1]]
        rb, vb = prob.crow[prob.cptr[b] : prob.cptr[b + 1]], prob.cval[prob.cptr[b] : prob.cptr[b + 1]]
        rows = np.union1d(ra, rb)
        d = np.zeros(rows.size)
        d[np.searchsorted(rows, rb)] += vb
        d[np.searchsorted(rows, ra)] -= va
        n0, d0, w = num[rows], den[rows], prob.weight[rows]
        before = np.divide(n0, d0, out=np.zeros(rows.size), where=d0 > 0)
        after = np.divide(n0 + d, d0 + d, out=np.zeros(rows.size), where=(d0 + d) > 0)
        out[t] = base + float(np.dot(w, after - before)) - prob.fixed[b] + prob.fixed[a]
    return out


def marginal_gains(prob: RevenueProblem, sites) -> np.ndarray:
    """``f(j | X)`` for every candidate ``j`` (0 for ``j`` in ``sites``), currency per year."""
    sites = np.unique(np.asarray(sites, dtype=np.int64))
    num, den = _state(prob, sites)
    out = np.empty(prob.n_sites)
    _all_gains(prob.cptr, prob.crow, prob.cval, prob.weight, num, den, out)
    out[sites] = 0.0
    return out


def _store_revenue(prob: RevenueProblem, sites: np.ndarray, num, den) -> np.ndarray:
    out = np.empty(sites.shape[0])
    for k, j in enumerate(sites):
        a, b = prob.cptr[j], prob.cptr[j + 1]
        rows = prob.crow[a:b]
        d = den[rows]
        out[k] = float(np.sum(prob.weight[rows] * prob.cval[a:b] / np.where(d > 0, d, 1.0)))
    return out


def _assignment(prob: RevenueProblem, is_open: np.ndarray) -> np.ndarray:
    n = prob.n_areas
    rows = np.repeat(np.arange(n), np.diff(prob.rptr))
    val = np.where(is_open[prob.rcol], prob.rval, -1.0)
    out = np.full(n, -1, dtype=np.int64)
    if val.size == 0:
        return out
    # per-row argmax of val among open candidates (ties: first stored)
    order = np.lexsort((-val, rows))
    first = np.r_[True, rows[order][1:] != rows[order][:-1]]
    r, v, c = rows[order][first], val[order][first], prob.rcol[order][first]
    ok = v >= 0
    out[r[ok]] = c[ok]
    return out


def _online_bound(prob, sites, must, eligible, p, budget, mode, f_s) -> float:
    h = marginal_gains(prob, sites) - prob.fixed
    h[sites] = -prob.fixed[sites]
    base = f_s + float(h[must].sum())
    free = eligible.copy()
    free[must] = False
    hv = h[free]
    if mode == 0:
        k = p - must.size
        if k <= 0:
            return base
        if hv.size < k:
            return base + float(hv.sum())
        top = np.partition(hv, hv.size - k)[hv.size - k :]
        return base + float(top.sum())
    if mode == 2:
        return base + float(np.maximum(hv, 0.0).sum())
    # budget: fractional knapsack over positive terms
    cap = budget - float(prob.cost[must].sum())
    cv = prob.cost[free]
    pos = hv > 0
    hv, cv = hv[pos], cv[pos]
    zero = cv <= 0
    total = float(hv[zero].sum())
    hv, cv = hv[~zero], cv[~zero]
    order = np.argsort(-hv / cv, kind="stable")
    for q in order:
        if cap <= 0:
            break
        take = min(1.0, cap / cv[q])
        total += take * hv[q]
        cap -= take * cv[q]
    return base + total


# ------------------------------------------------------------------------ solver


def revenue(
    utility,
    weight,
    p: int | None = None,
    *,
    base_own=None,
    base_total=None,
    fixed_cost=None,
    opening_cost=None,
    budget: float | None = None,
    constraints: Constraints | None = None,
    must_open=None,
    forbidden=None,
    conflicts=None,
    swap: bool = True,
    lazy: bool = True,
    max_sweeps: int = 50,
    bound_iters: int = 200,
    lagrangian: bool = False,
    cut_rounds: int = 10,
    time_limit: float | None = None,
    seed: int = 0,
    initial=None,
    modular_bound: bool = True,
    bound_share: float = BOUND_SHARE,
    prune: float = PRUNE_SHARE,
) -> Solution:
    """Choose new store sites that maximise our Huff capture minus fixed costs.

    Parameters
    ----------
    utility : csr_matrix or ndarray, shape (n_areas, n_candidates)
        Huff utility ``u_ij >= 0`` of each candidate in each area (a missing entry is 0);
        see :func:`storeplan.market.revenue_inputs`.
    weight : array of float, shape (n_areas,)
        Offline spending potential per area ``W_i``, currency per year.
    p : int, optional
        Number of new sites to open (exactly). ``None``: limited by ``budget``, or, with
        neither, open every site whose net marginal gain is positive.
    base_own : array of float, shape (n_areas,), optional
        Utility of our existing stores per area (default 0).
    base_total : array of float, shape (n_areas,), optional
        Utility of everything present before any new site: outside option + rivals + our
        existing stores (default ``base_own``). Must be >= ``base_own``.
    fixed_cost : float or array, shape (n_candidates,), optional
        Yearly fixed cost of each candidate (rent, staff), currency per year.
    opening_cost : float or array, optional
        One-off opening cost per candidate, currency; used with ``budget``.
    budget : float, optional
        Most total ``opening_cost`` of the new sites (when ``p`` is None).
    constraints : Constraints, optional
        ``must_open``, ``forbidden``, ``conflicts`` (minimum spacing pairs), ``group``
        limits and ``quotas`` (store counts or budgets per group, honoured by greedy and
        swaps; the bounds relax them and stay valid). ``constraints.budget`` with
        ``site_cost`` acts like ``budget`` with ``opening_cost``, and may be combined
        with ``p``.
    must_open, forbidden, conflicts : optional
        Shortcuts merged into ``constraints``: candidate indices, and a (k, 2) int array
        of pairs that may not both be open (:func:`storeplan.geo.pairs_within`).
    swap : bool
        Run swap local search after greedy (default True).
    lazy : bool
        Lazy (accelerated) greedy; ``False`` re-evaluates every candidate each step
        (same result, for checking).
    max_sweeps : int
        Most swap sweeps.
    bound_iters : int
        Most iterations of each of the cut and Lagrangian bounds (0: skip both).
    modular_bound : bool
        Compute the single-store-gain bound (:func:`_modular_bound`): an integer
        programme over every side row, solved by HiGHS within the time left (default
        True; skipped with ``bound_iters = 0``). When it closes the gap the cut bound is
        not computed.
    cut_rounds : int
        Rounds of the cut bound; each later round adds the tangent cut exact at the
        site set the previous round's relaxation picked (cutting planes, two numbers per
        area). Default 10: on the Guangdong tenth of the 10^6 benchmark (86,668 areas x
        8,667 sites x 867 stores), 330 iterations certified 1.10 % in 3 rounds and
        1.01 % in 10, 500 iterations in 10 rounds 0.90 %. With a time limit, each round
        gets an even share of the time left for it.
    lagrangian : bool
        Also compute the continuous-relaxation Lagrangian bound (off by default: the cut
        bound was tighter on every instance tried).
    time_limit : float, optional
        Seconds; checked between slices of the swap sweeps and between chunks of bound
        iterations (greedy always completes; the bound then stays valid, only looser).
    bound_share : float
        Share of ``time_limit`` kept for the bounds (default :data:`BOUND_SHARE`, 0.7):
        the swap search stops once ``(1 - bound_share) * time_limit`` seconds have
        passed. The search's last percent is worth less than the bound's time: on 10^6
        areas x 10^5 sites x 10^4 stores swaps gained about 0.1 % over greedy while the
        cut bound needs minutes to certify a gap below 2 %.
    prune : float
        Pairs left out of the cut bound's network (:func:`_pruned_network`; default
        :data:`PRUNE_SHARE`, 0.01; 0 keeps every pair): their single-store gains are
        added to their sites' coefficients instead, which keeps the bound valid and
        costs it at most this share of the plan's capture.
    seed : int
        Seeds the order in which swap sweeps visit candidates. Same seed, same result.
    initial : array of int, optional
        A start solution (warm start), candidate indices, e.g. the sites of a previous
        plan. It is repaired before the search: after the must-open sites, its sites are
        opened in the order given, skipping forbidden ones and any that would break
        spacing, a quota maximum or the budget; when more are open than ``p`` allows,
        the ones whose closing loses least are closed again; then greedy fills up to
        ``p`` (or the budget) and swaps improve it as usual (at least one sweep, even
        past ``time_limit``). The bound is computed as without a start.

    Returns
    -------
    Solution
        ``sense="max"``; ``objective`` = ``F`` (including the capture of existing stores),
        ``bound`` an upper bound on the optimum (see module notes), ``assignment`` the
        open new site with the highest utility in each area (-1 none). ``info`` holds
        ``store_revenue`` (offline capture per site in ``sites``, currency per year),
        ``capture`` (``f``), ``fixed`` (total fixed cost), ``base`` (``f`` with no new
        site), ``greedy_objective``, ``greedy_order``, ``greedy_bound``,
        ``online_bound``, ``cut_bound``, ``lagrangian_bound`` (``inf`` when not computed),
        ``sweeps``, ``budget_used``.

    Raises
    ------
    InfeasibleError
        Constraints cannot be met (too few allowed sites, must-open over budget, ...).
    InputError
        Malformed arrays.

    Notes
    -----
    Lazy greedy evaluates a candidate's marginal gain in O(nnz of its column) and keeps
    stale upper bounds in a heap (valid by submodularity: gains only shrink). A swap
    sweep costs O(sum over areas of (row length)^2 + m p). Each bound iteration costs
    O(K nnz + m log m) with K = 2 + 3 x rounds cuts per area. Memory O(K nnz) float64.

    Examples
    --------
    Three areas (spending 10, 20, 5), two candidates, nothing there yet but an outside
    option of utility 1: site 0 would take half of areas 0 and 2 (7.5), site 1 half of
    areas 1 and 2 (12.5).

    >>> import numpy as np
    >>> U = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> sol = revenue(U, np.array([10.0, 20.0, 5.0]), 1, base_total=np.ones(3))
    >>> sol.sites.tolist(), sol.objective, sol.proven_optimal
    ([1], 12.5, True)
    """
    t0 = time.perf_counter()
    prob = RevenueProblem.build(
        utility,
        weight,
        base_own=base_own,
        base_total=base_total,
        fixed_cost=fixed_cost,
        opening_cost=opening_cost,
    )
    m = prob.n_sites
    if p is not None:
        p = int(p)
        if p < 0:
            raise InputError(f"p must be >= 0, got {p}")
        if p > m:
            raise InfeasibleError(f"p = {p} but there are only {m} candidate sites")
        mode = 0
        if budget is not None:
            raise InputError("give p or budget, not both")
    elif budget is not None:
        mode = 1
        if not np.isfinite(budget) or budget < 0:
            raise InputError("budget must be finite and >= 0")
    else:
        mode = 2
    c = constraints or Constraints()
    quotas = tuple(c.quotas) + _group_quotas(c)
    if c.budget is not None:
        if mode == 1:
            raise InputError("give budget or constraints.budget, not both")
        if mode == 2:
            # the constraints' budget is the budget of the revenue model
            mode, budget = 1, float(c.budget)
            prob = _with_cost(prob, c.site_cost)
        else:
            quotas += (
                Quota(
                    "budget",
                    np.arange(m),
                    weight=np.asarray(c.site_cost, float),
                    hi=c.budget,
                    unit="currency",
                ),
            )
    c = Constraints(
        must_open=_merge(c.must_open, must_open),
        forbidden=_merge(c.forbidden, forbidden),
        conflicts=_merge_pairs(c.conflicts, conflicts),
        quotas=quotas,
    )
    k_req = 0 if p is None else p  # stores asked for (mode 0)
    cap_req = 0.0 if budget is None else float(budget)  # the budget (mode 1)
    side = prepare(c, m, k_req if mode == 0 else 0, k_req if mode == 0 else m)
    must = side.must
    budget_left = cap_req if mode == 1 else 0.0
    if mode == 1:
        budget_left -= float(prob.cost[must].sum())
        if budget_left < -1e-9 * max(1.0, cap_req):
            raise InfeasibleError(
                f"must_open sites cost {prob.cost[must].sum():.6g} but the budget is {budget}"
            )
    status = side.status.astype(np.int8)
    is_open = np.zeros(m, dtype=np.bool_)
    num, den = prob.base_own.copy(), prob.base_total.copy()
    for j in must:
        _apply(int(j), 1.0, prob.cptr, prob.crow, prob.cval, num, den)
        is_open[j] = True
    f_empty = float(_objective(prob.weight, prob.base_own, prob.base_total))
    f_must = float(_objective(prob.weight, num, den))
    target = k_req if mode == 0 else m
    q_use = side.quota_usage(must)
    warm = initial is not None
    if warm:
        budget_left = _open_initial(
            prob, side, status, is_open, num, den, q_use, initial, target, mode, budget_left
        )
    q_args = (side.q_ptr, side.q_row, side.q_val, side.q_lo, side.q_hi, q_use)
    evals_total = 0
    orders = []
    # quota minimums first: greedy restricted to sites that raise a row still below its
    # minimum, one row at a time
    while side.has_quotas and quota_deficit(side.q_lo, q_use) > 0:
        allow = np.zeros(m, dtype=np.bool_)
        low = q_use < side.q_lo - 1e-9 * np.maximum(1.0, side.q_lo)
        site_of = np.repeat(np.arange(m), np.diff(side.q_ptr))
        allow[site_of[low[side.q_row] & (side.q_val > 0)]] = True
        o, n_add, ev, budget_left = _greedy(
            prob.cptr,
            prob.crow,
            prob.cval,
            prob.weight,
            num,
            den,
            prob.fixed,
            prob.cost,
            status,
            side.conf_ptr,
            side.conf_adj,
            is_open,
            int(is_open.sum()),
            int(target),
            int(mode),
            float(budget_left),
            bool(lazy),
            *q_args,
            allow,
            True,
        )
        evals_total += int(ev)
        orders.append(o)
        if n_add == 0:
            bad = [side.q_names[t] for t in np.flatnonzero(low)]
            raise InfeasibleError(
                f"revenue: no site can be added towards the minimum of {', '.join(bad[:5])} "
                "without breaking another constraint (budget, maximum, spacing or the number of stores)"
            )
    o, n_added, evals, budget_left = _greedy(
        prob.cptr,
        prob.crow,
        prob.cval,
        prob.weight,
        num,
        den,
        prob.fixed,
        prob.cost,
        status,
        side.conf_ptr,
        side.conf_adj,
        is_open,
        int(is_open.sum()),
        int(target),
        int(mode),
        float(budget_left),
        bool(lazy),
        *q_args,
        np.ones(m, dtype=np.bool_),
        False,
    )
    orders.append(o)
    order = np.concatenate(orders)
    if mode == 0 and int(is_open.sum()) < k_req:
        raise InfeasibleError(
            f"only {int(is_open.sum())} sites can be open together under the minimum-spacing,"
            f" forbidden and quota constraints found by greedy, but p = {p}"
        )
    iterations = int(evals) + evals_total
    greedy_sites = np.flatnonzero(is_open)
    f_greedy = float(_objective(prob.weight, num, den))
    greedy_obj = f_greedy - float(prob.fixed[greedy_sites].sum())
    method = ("warm+" if warm else "") + ("lazy-greedy" if lazy else "greedy")
    phase = {"greedy": time.perf_counter() - t0}

    if mode == 1 and not warm:
        # cost-benefit greedy can miss a single large item (Khuller, Moss & Naor 1999)
        ok = (status == 0) & (prob.cost <= cap_req - prob.cost[must].sum())
        for j in must:  # a single site may not conflict with a must-open one
            ok[side.conf_adj[side.conf_ptr[j] : side.conf_ptr[j + 1]]] = False
        free = np.flatnonzero(ok)
        if free.size:
            base_num, base_den = _state(prob, must)
            g = np.empty(m)
            _all_gains(prob.cptr, prob.crow, prob.cval, prob.weight, base_num, base_den, g)
            val = g[free] - prob.fixed[free]
            k = free[int(np.argmax(val))]
            single = f_must + float(val.max()) - float(prob.fixed[must].sum())
            single_ok = check_sites(side, np.append(must, k)) is None
            if single_ok and single > greedy_obj + 1e-12 * max(1.0, abs(greedy_obj)):
                is_open[:] = False
                is_open[must] = True
                is_open[k] = True
                num, den = _state(prob, np.flatnonzero(is_open))
                budget_left = cap_req - float(prob.cost[is_open].sum())
                q_use[:] = side.quota_usage(np.flatnonzero(is_open))
                greedy_obj = single

    sweeps = 0
    if swap:
        rng = np.random.default_rng(seed)
        open_list = np.flatnonzero(is_open).astype(np.int64)
        slot_of = np.full(m, -1, dtype=np.int64)
        slot_of[open_list] = np.arange(open_list.size)
        if open_list.size and open_list.size < m:
            # with a time limit and a bound to compute, the search leaves the bound its share
            swap_end = None
            if time_limit is not None:
                share = bound_share if bound_iters > 0 else 0.0
                swap_end = t0 + time_limit * (1.0 - share)
            stopped = False
            while sweeps < max_sweeps and not stopped:
                # a warm start always gets one sweep: it is the local search that repairs it
                if (sweeps or not warm) and swap_end is not None and time.perf_counter() > swap_end:
                    break
                cur = float(_objective(prob.weight, num, den))
                tol = 1e-9 * max(1.0, abs(cur))
                cand_order = rng.permutation(m).astype(np.int64)
                moves = 0
                # the sweep in slices, so that the time limit is checked within it too
                for lo in range(0, m, _SWEEP_SLICE):
                    mv, ev, budget_left = _swap_sweep(
                        prob.cptr,
                        prob.crow,
                        prob.cval,
                        prob.rptr,
                        prob.rcol,
                        prob.rval,
                        prob.weight,
                        num,
                        den,
                        prob.fixed,
                        prob.cost,
                        status,
                        side.conf_ptr,
                        side.conf_adj,
                        is_open,
                        open_list,
                        slot_of,
                        float(budget_left),
                        mode == 1,
                        cand_order[lo : lo + _SWEEP_SLICE],
                        tol,
                        *q_args,
                    )
                    moves += int(mv)
                    iterations += int(mv) + int(ev)
                    if (sweeps or not warm) and swap_end is not None and time.perf_counter() > swap_end:
                        stopped = True
                        break
                sweeps += 1
                # refresh the running sums against drift
                num, den = _state(prob, np.flatnonzero(is_open))
                if moves == 0:
                    break
            method += "+swap"

    phase["swap"] = time.perf_counter() - t0 - sum(phase.values())
    sites = np.flatnonzero(is_open).astype(np.int64)
    viol = check_sites(side, sites)
    if viol is not None:  # pragma: no cover - guarded by the kernels
        raise SolverError(f"revenue: internal error, solution violates constraints: {viol}")
    f_final = float(_objective(prob.weight, num, den))
    fixed_total = float(prob.fixed[sites].sum())
    obj = f_final - fixed_total
    eligible = status != FORBIDDEN
    online = _online_bound(prob, sites, must, eligible, k_req, cap_req, mode, f_final)
    lag = np.inf
    cut = np.inf
    modular = np.inf
    info_pruned = 0
    cut_log: list = []
    trivial = mode == 0 and (p == must.size or p == int(eligible.sum()))
    if bound_iters > 0 and not trivial and modular_bound:
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        modular, best_t = _modular_bound(prob, side, f_empty, mode, k_req, cap_req, left)
        if np.isfinite(modular):
            method += "+modular-ip"
        if best_t is not None:
            # the programme's own choice, valued exactly, may beat the heuristic's
            n2, d2 = _state(prob, best_t)
            f2 = float(_objective(prob.weight, n2, d2))
            if f2 - float(prob.fixed[best_t].sum()) > obj + 1e-9 * max(abs(obj), 1.0):
                sites, num, den, f_final = best_t, n2, d2, f2
                fixed_total = float(prob.fixed[sites].sum())
                obj = f_final - fixed_total
                is_open = np.zeros(m, dtype=np.bool_)
                is_open[sites] = True
                method += "+ip-solution"
    phase["modular"] = time.perf_counter() - t0 - sum(phase.values())
    tight = modular - obj <= MIP_PROVEN_TOL * max(abs(obj), 1.0)
    if bound_iters > 0 and not trivial and not tight:
        free = np.flatnonzero(eligible & (status != 1)).astype(np.int64)
        cap = cap_req - float(prob.cost[must].sum()) if mode == 1 else 0.0
        k = (k_req - must.size) if mode == 0 else 0
        must64 = must.astype(np.int64)
        cut, cut_iters, pruned, cut_log = _cut_bound_rounds(
            prob,
            is_open,
            must64,
            free,
            int(k),
            int(mode),
            cap,
            obj,
            f_final,
            bound_iters,
            cut_rounds,
            t0,
            time_limit,
            prune,
        )
        iterations += cut_iters
        info_pruned = pruned
        method += "+cuts"
        if lagrangian and cut - obj > 1e-6 * max(abs(obj), 1e-12):
            lam0 = prob.weight * np.maximum(den - num, 0.0) / np.where(den > 0, den, 1.0) ** 2
            zmax = np.bincount(prob.crow, weights=prob.cval, minlength=prob.n_areas)
            lag, lag_iters = _lagrangian(
                prob.cptr,
                prob.crow,
                prob.cval,
                prob.weight,
                prob.base_own,
                prob.base_total,
                zmax,
                prob.fixed,
                prob.cost,
                lam0,
                must64,
                free,
                int(k),
                int(mode),
                cap,
                obj,
                int(bound_iters),
                1.0,
            )
            iterations += int(lag_iters)
            method += "+lagrangian"
    phase["cuts"] = time.perf_counter() - t0 - sum(phase.values())
    greedy_bound = np.inf
    if mode == 0 and not side.has_conflicts and not np.any(prob.fixed != 0):
        greedy_bound = f_must + (f_greedy - f_must) / GREEDY_FACTOR
    bound = min(online, greedy_bound, float(lag), float(cut), float(modular))
    if mode == 0 and p == int(eligible.sum()):
        bound = obj  # every allowed site is open: the only feasible solution
    if mode == 0 and p == must.size:
        bound = obj
    store_rev = _store_revenue(prob, sites, num, den)
    info = {
        "store_revenue": store_rev,
        "capture": f_final,
        "fixed": fixed_total,
        "base": f_empty,
        "greedy_objective": greedy_obj,
        "greedy_bound": float(greedy_bound),
        "online_bound": float(online),
        "lagrangian_bound": float(lag),
        "cut_bound": float(cut),
        "modular_bound": float(modular),
        "sweeps": sweeps,
        "budget_used": float(prob.cost[sites].sum()),
        "greedy_order": order,
        "phase_seconds": phase,
        "cut_pairs_dropped": info_pruned,
        "cut_rounds": cut_log,
    }
    if bound < obj:  # round-off only: the bound is valid
        bound = max(bound, obj)
    return make_solution(
        sites,
        _assignment(prob, is_open),
        obj,
        bound,
        seconds=time.perf_counter() - t0,
        iterations=iterations,
        method=method,
        sense="max",
        info=info,
    )


def _open_initial(prob, side, status, is_open, num, den, q_use, initial, target, mode, budget_left) -> float:
    """Open a warm start's sites (repaired, see :func:`revenue`'s ``initial``) on top of
    the must-open ones; updates ``is_open``, ``num``, ``den`` and ``q_use`` in place and
    returns the budget left."""
    m = prob.n_sites
    start = np.asarray(initial, dtype=np.int64).ravel()
    if start.size and (start.min() < 0 or start.max() >= m):
        raise InputError(f"initial sites must be candidate indices in 0..{m - 1}")
    tol = 1e-9
    for j in start.tolist():
        if is_open[j] or status[j] != 0:
            continue  # already open (must-open, repeated) or forbidden
        nb = side.conf_adj[side.conf_ptr[j] : side.conf_ptr[j + 1]]
        if nb.size and is_open[nb].any():
            continue  # too close to an open site
        if mode == 1 and prob.cost[j] > budget_left + tol * max(1.0, abs(budget_left)):
            continue
        if side.has_quotas:
            rows = side.q_row[side.q_ptr[j] : side.q_ptr[j + 1]]
            vals = side.q_val[side.q_ptr[j] : side.q_ptr[j + 1]]
            hi = side.q_hi[rows]
            if np.any(q_use[rows] + vals > hi + tol * np.maximum(1.0, np.abs(hi))):
                continue
            q_use[rows] += vals
        _apply(j, 1.0, prob.cptr, prob.crow, prob.cval, num, den)
        is_open[j] = True
        if mode == 1:
            budget_left -= float(prob.cost[j])
    # more open than p allows (sites were pinned): close the ones that lose least
    while mode == 0 and int(is_open.sum()) > target:
        cand = np.flatnonzero(is_open & (status == 0))
        if not cand.size:
            break
        losses = (
            np.array(
                [_loss(c, prob.cptr, prob.crow, prob.cval, prob.weight, num, den) for c in cand.tolist()]
            )
            - prob.fixed[cand]
        )
        j = int(cand[int(np.argmin(losses))])  # an int, as in the loop above
        _apply(j, -1.0, prob.cptr, prob.crow, prob.cval, num, den)
        is_open[j] = False
        if side.has_quotas:
            rows = side.q_row[side.q_ptr[j] : side.q_ptr[j + 1]]
            q_use[rows] -= side.q_val[side.q_ptr[j] : side.q_ptr[j + 1]]
    # a quota minimum may now be unmet: the quota greedy after this raises it again
    return budget_left


def _group_quotas(c: Constraints) -> tuple:
    """``group`` / ``group_min`` / ``group_max`` as count quotas."""
    if c.group is None:
        return ()
    g = np.asarray(c.group).reshape(-1)
    n_groups = int(g.max()) + 1 if g.size else 0
    lo = np.zeros(n_groups) if c.group_min is None else np.asarray(c.group_min, dtype=float)
    hi = np.full(n_groups, np.inf) if c.group_max is None else np.asarray(c.group_max, dtype=float)
    out = []
    for k in range(max(n_groups, lo.size, hi.size)):
        lk = float(lo[k]) if k < lo.size else 0.0
        hk = float(hi[k]) if k < hi.size else np.inf
        if lk > 0 or np.isfinite(hk):
            out.append(Quota(f"group {k}", np.flatnonzero(g == k), lo=lk, hi=hk))
    return tuple(out)


def _with_cost(prob: RevenueProblem, site_cost) -> RevenueProblem:
    from dataclasses import replace

    if site_cost is None:
        raise InputError("constraints.budget given without constraints.site_cost")
    return replace(prob, cost=_vec(site_cost, prob.n_sites, "site_cost"))


#: Most seconds for the integer programme of :func:`_modular_bound` (also capped by the
#: call's time left).
MODULAR_SECONDS = 30.0


def _modular_bound(prob, side, f_empty, mode, k_req, cap_req, left) -> tuple[float, np.ndarray | None]:
    r"""The single-store-gain bound: ``(bound, sites)``, ``(inf, None)`` when not solved.

    For the submodular capture :math:`f`, :math:`f(T) \le f(\emptyset) + \sum_{j \in T}
    \rho_j(\emptyset)` (each site's gain next to the existing stores alone), so
    :math:`F(T) \le f(\emptyset) + \max_T \sum_{j \in T} (\rho_j(\emptyset) - c_j)` over
    the feasible sets: a 0-1 programme with every side row (store count or budget,
    spacing conflicts, quotas, groups, must-open / forbidden, one format per site),
    solved by HiGHS; its dual bound is valid when the time limit stops it (its LP
    relaxation's optimum is used when smaller). Tight when the stores' catchments
    barely overlap, which a minimum spacing enforces: on the default China demo (1,000
    stores, 5 km spacing) 0.19 % above the heuristic's plan, against 6.3 % for the cut
    bound, which relaxes the conflicts. ``sites``: the programme's choice, feasible.
    """
    from .builder import MipBuilder

    m = prob.n_sites
    gains = marginal_gains(prob, np.zeros(0, np.int64))
    v = gains - prob.fixed
    kmin, kmax = (k_req, k_req) if mode == 0 else (0, m)
    if mode == 0 and not (side.has_groups or side.has_conflicts or side.has_quotas):
        # only the store count: the programme is the k best free gains (no HiGHS needed;
        # at 10^5 sites its model alone took minutes)
        must = side.must
        free = np.flatnonzero(side.status == FREE)
        k = int(k_req) - must.size
        if k < 0 or k > free.size:
            return np.inf, None
        top = free[np.argsort(-v[free], kind="stable")[:k]]
        value = f_empty + float(v[must].sum()) + float(v[top].sum())
        return value + 1e-9 * max(1.0, abs(value)), np.sort(np.concatenate([must, top])).astype(np.int64)
    limit = MODULAR_SECONDS if left is None else min(MODULAR_SECONDS, left)
    if limit <= 0.2:
        return np.inf, None
    best, chosen = np.inf, None
    # clique rows of the spacing conflicts, from the most valuable sites first: the pair
    # rows alone let the LP put 1/2 on every site of a dense city, and HiGHS 1.15 did
    # not close that gap within 30 s on the default China demo (bound 44.5 bn against
    # 13.96 bn, which HiGHS 1.11 reached in 17 s)
    cptr, csites = conflict_cliques(side, np.argsort(-v, kind="stable"))
    n_cliques = cptr.size - 1
    for integer in (False, True):
        b = MipBuilder()
        y = b.add_sites(side, v, integer=integer)
        b.add_side(side, y, int(kmin), int(kmax))
        if n_cliques > 0:
            b.add_rows(
                np.repeat(np.arange(n_cliques, dtype=np.int64), np.diff(cptr)),
                y[csites],
                np.ones(csites.size),
                -np.inf,
                1.0,
                n_cliques,
            )
        if mode == 1:
            b.add_rows(np.zeros(m, np.int64), y, prob.cost, -np.inf, float(cap_req), 1)
        t = time.perf_counter()
        status, x, obj, dual, _ = b.solve(maximise=True, time_limit=limit)
        limit -= time.perf_counter() - t
        if status == "infeasible":
            return np.inf, None
        value = dual if integer else (obj if status == "optimal" else np.inf)
        if np.isfinite(value):
            best = min(best, float(f_empty + value) + 1e-9 * max(1.0, abs(f_empty + value)))
        if integer and x is not None:
            cand = np.flatnonzero(np.asarray(x[:m]) > 0.5).astype(np.int64)
            if check_sites(side, cand) is None and (
                mode != 1 or float(prob.cost[cand].sum()) <= cap_req * (1 + 1e-9) + 1e-9
            ):
                chosen = cand
        if limit <= 0.2:
            break
    return best, chosen


def _pruned_network(prob: RevenueProblem, k: int, capture: float, share: float):
    r"""The cut bound's network: ``(rptr, rcol, rval, dropped, n_dropped)``, the stored
    pairs kept (CSR per area) and per site the sum of its dropped single-store gains
    (currency per year).

    A pair ``(i, j)`` is dropped when its gain alone :math:`W_i \rho_{ij}(\emptyset)` is
    below a threshold, the largest (found by bisection over a sample of the gains) for
    which the ``k`` largest per-site sums of dropped gains stay within ``share x
    capture``. Valid for any threshold: with :math:`D_i` the sites dropped from area
    :math:`i` and :math:`\tilde s_i` the share on the kept pairs alone (the same Huff
    form, monotone and submodular), submodularity gives :math:`s_i(X) \le s_i(X
    \setminus D_i) + \sum_{j \in X \cap D_i} \rho_{ij}(\emptyset) = \tilde s_i(X) +
    \sum_{j \in X \cap D_i} \rho_{ij}(\emptyset)`, so any upper bound on the pruned
    problem plus the dropped gains of the chosen sites (a term linear in the sites)
    bounds the full one. At a heuristic's plan the correction is the slack the pruning
    adds; on the scale benchmark (10^5 areas) 1 % dropped 46 % of the pairs and cost
    the bound 0.02 % of the capture.
    """
    n, m = prob.n_areas, prob.n_sites
    none = (prob.rptr, prob.rcol, prob.rval, np.zeros(m), 0)
    if share <= 0.0 or prob.rcol.size == 0 or not capture > 0.0:
        return none
    rows = np.repeat(np.arange(n), np.diff(prob.rptr))
    b = prob.base_own[rows]
    B = prob.base_total[rows]
    u = prob.rval
    alone = np.divide(b + u, B + u, out=np.zeros(u.size), where=B + u > 0)
    alone -= np.divide(b, B, out=np.zeros(u.size), where=B > 0)
    gain = prob.weight[rows] * np.maximum(alone, 0.0)
    del b, B, alone
    limit = share * capture
    k = max(1, min(int(k), m))

    def cost(tau: float) -> tuple[float, np.ndarray]:
        low = gain < tau
        d = np.bincount(prob.rcol[low], weights=gain[low], minlength=m)
        return float(np.partition(d, m - k)[m - k :].sum()), d

    rng = np.random.default_rng(0)
    sample = np.sort(gain if gain.size <= 65536 else rng.choice(gain, 65536, replace=False))
    lo, hi = 0, sample.size  # sample[:lo] may go; hi: too many
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cost(float(sample[mid]))[0] <= limit:
            lo = mid
        else:
            hi = mid
    tau = float(sample[lo])
    total, dropped = cost(tau)
    if total > limit:  # pragma: no cover - the bisection keeps below the limit
        return none
    keep = gain >= tau
    n_dropped = int(keep.size - np.count_nonzero(keep))
    if n_dropped == 0:
        return none
    rptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=n), out=rptr[1:])
    return rptr, prob.rcol[keep], prob.rval[keep], dropped, n_dropped


def _cut_bound_rounds(
    prob, is_open, must, free, k, mode, cap, obj, capture, iters, rounds, t0, time_limit, prune
) -> tuple[float, int, int, list]:
    r"""The submodular-cut bound: ``(bound, iterations, pairs dropped, rounds)``, ``rounds``
    one ``(iterations, seconds, bound so far, dropped gains at the round's last
    maximiser)`` per round run.

    Per area :math:`i` and cut :math:`q` (on the pruned network of
    :func:`_pruned_network`), :math:`\tilde s_i(X) \le \alpha_{iq} + \sum_{j \in X}
    \beta_{ijq}`: the five cuts of :func:`_cut_setup` at the plan :math:`S` (stored per
    pair) and, from the second round on, one tangent cut per round (:func:`_tangent_setup`,
    :math:`\beta_{ijq} = g_i'(z_i(R)) u_{ij}` for the reference set :math:`R` the
    previous round's relaxation picked, two numbers per area). Every one of them is valid
    for every site set: the Nemhauser-Wolsey cuts by submodularity, the tangents because
    the share :math:`g_i(z) = (b_i + z) / (B_i + z)` is concave in the area's utility
    :math:`z \ge 0`, so :math:`g_i(z) \le g_i(z_0) + g_i'(z_0)(z - z_0)` for any
    :math:`z_0 \ge 0`. For weights :math:`\pi_i` in the simplex,

    .. math::

        F(X) \le \sum_i W_i \sum_q \pi_{iq} \alpha_{iq}
        + \sum_{j \in X} \Big(\sum_i W_i \sum_q \pi_{iq} \beta_{ijq} + d_j - c_j\Big)

    (:math:`d_j` the site's dropped gains, :math:`c_j` its fixed cost), linear in the
    sites, so its maximum over the relaxed site set (``k`` free sites plus the must-open
    ones, a fractional knapsack, or every positive term; :func:`_select`) bounds the
    optimum for every :math:`\pi` -- the minimum over :math:`\pi` is the LP over these
    cuts. Each iteration evaluates one such bound (the smallest is returned) and moves
    :math:`\pi` by an exponentiated-gradient step (O(5 nnz + rounds x areas), areas in
    parallel blocks). Round ``r + 1`` adds the tangent exact at the last maximiser of
    round ``r`` (cutting planes) with a small share (:data:`_CUT_NEW_WEIGHT`) of each
    area's weight, and continues the step schedule where round ``r`` left it (restarting
    it threw ``pi`` far from the previous optimum: on the Guangdong tenth of the 10^6
    benchmark, 3 rounds of 200 iterations certified 1.52 % with restarts and all three
    cuts per reference set, 1.08 % continued; 10 rounds of 40 continued, 0.96 % with
    tangents only, where the other two cuts of each later reference set had weight
    0.001-0.005 on average and cost O(nnz) memory each). With ``time_limit``, each
    round runs until it has used an even share of the time left for the rounds still to
    come (at least one chunk of ``_BOUND_CHUNK`` iterations), otherwise ``iters``
    iterations.
    """
    rptr, rcol, rval, dropped, n_dropped = _pruned_network(prob, int(is_open.sum()), capture, prune)
    extra = dropped - prob.fixed
    n, m = prob.n_areas, prob.n_sites
    nblk = max(1, min(_CUT_BLOCKS, n))
    al, be = _cut_setup(rptr, rcol, rval, prob.base_own, prob.base_total, is_open[None, :], nblk)
    ta = np.zeros((n, 0))
    tg = np.zeros((n, 0))
    pi = np.tile(np.array([0.05, 0.05, 0.6, 0.15, 0.15]), (n, 1))
    refs = [is_open.copy()]
    cut = np.inf
    done_total = 0
    n_rounds = max(1, int(rounds))
    log: list = []
    # [iteration, step scale, best bound of the round, stall count], carried between rounds
    state = np.array([0.0, 1.0, np.inf, 0.0])
    xd = np.zeros(m)
    for rnd in range(n_rounds):
        now = time.perf_counter()
        if rnd and _out_of_time(t0, time_limit):
            break
        end = None if time_limit is None else now + (t0 + time_limit - now) / (n_rounds - rnd)
        cpart = np.zeros((nblk, m))
        constpart = np.zeros(nblk)
        _cut_pass(rptr, rcol, rval, prob.weight, al, be, ta, tg, pi, xd, 0.0, False, cpart, constpart)
        state[2] = np.inf
        state[3] = 0.0
        x_last = np.zeros(m)
        done = 0
        while done < iters:
            chunk = min(_BOUND_CHUNK, iters - done)
            d, x_last = _cut_steps(
                rptr,
                rcol,
                rval,
                prob.weight,
                al,
                be,
                ta,
                tg,
                pi,
                extra,
                prob.cost,
                must,
                free,
                k,
                mode,
                cap,
                obj,
                chunk,
                100.0,
                state,
                xd,
                cpart,
                constpart,
            )
            done += int(d)
            cut = min(cut, float(state[2]))
            if d < chunk or (end is not None and time.perf_counter() > end):
                break
        done_total += done
        # the dropped gains the last maximiser's sites bring into the bound (currency / year)
        log.append((done, time.perf_counter() - now, cut, float(dropped[x_last > 0.5].sum())))
        del cpart
        new_ref = x_last > 0.5
        if (
            rnd == n_rounds - 1
            or cut - obj <= 1e-9 * max(abs(obj), 1e-12)
            or any(np.array_equal(new_ref, r) for r in refs)
        ):
            break
        refs.append(new_ref)
        # the tangent at the new reference set, with a small share of each area's weight
        z_ref = np.bincount(
            np.repeat(np.arange(n), np.diff(rptr)), weights=np.where(new_ref[rcol], rval, 0.0), minlength=n
        )
        t_a = np.empty(n)
        t_g = np.empty(n)
        _tangent_setup(rptr, rval, prob.base_own, prob.base_total, z_ref, nblk, t_a, t_g)
        del z_ref
        ta = np.hstack([ta, t_a[:, None]])
        tg = np.hstack([tg, t_g[:, None]])
        pi = np.hstack([(1.0 - _CUT_NEW_WEIGHT) * pi, np.full((n, 1), _CUT_NEW_WEIGHT)])
    return cut, done_total, n_dropped, log


def _out_of_time(t0: float, time_limit: float | None) -> bool:
    return time_limit is not None and time.perf_counter() - t0 > time_limit


def _merge(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return np.concatenate([np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)])


def _merge_pairs(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return np.concatenate([np.asarray(a).reshape(-1, 2), np.asarray(b).reshape(-1, 2)])
