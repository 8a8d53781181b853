"""Batched fast interchange for large instances (internal).

One pass of :func:`storeplan.solvers._kernels.local_search` evaluates every add, drop
and swap move in O(nnz) and applies only the best one. At 10^6 clients and 10^4 open
sites a local optimum is thousands of moves away, so that is thousands of O(nnz)
passes. Here each pass records the best move of every closed site and then applies, in
order of improvement, every move whose *neighbourhood* (the clients stored in the
columns of its two sites) is disjoint from those of the moves already applied in the
pass. The improvement of a move depends only on the state (``d1, f1, d2, f2``) of the
clients in its two columns, and a move changes only the state of those clients, so the
improvements of a disjoint set of moves are exact and add up: each pass decreases the
objective by the sum of the deltas applied, and the search stops at the same local
optimum criterion (no improving add, drop or swap) as the one-move search.

:func:`greedy_heap` is the lazy greedy of :func:`._kernels.greedy` with a binary heap
instead of a scan of all sites per look-up (the same choices; O(log m) per look-up).

Both are used only without group limits, spacing conflicts or quotas (whose counts couple
moves that share no client).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import FORBIDDEN, MUST, apply_move, compute_loss, insert_update, open_site


@njit(cache=True)
def _free(s, r, cptr, crow, used_site, mark):
    """True when neither site is used in this pass and no client of their columns is marked."""
    if s >= 0:
        if used_site[s]:
            return False
        for k in range(cptr[s], cptr[s + 1]):
            if mark[crow[k]]:
                return False
    if r >= 0:
        if used_site[r]:
            return False
        for k in range(cptr[r], cptr[r + 1]):
            if mark[crow[k]]:
                return False
    return True


@njit(cache=True)
def _claim(s, r, cptr, crow, used_site, mark, marked, nmarked):
    for j in (s, r):
        if j >= 0:
            used_site[j] = 1
            for k in range(cptr[j], cptr[j + 1]):
                i = crow[k]
                if mark[i] == 0:
                    mark[i] = 1
                    marked[nmarked] = i
                    nmarked += 1
    return nmarked


@njit(cache=True)
def local_search_batch(
    indptr,
    indices,
    cost,
    unserved,
    cptr,
    crow,
    ccost,
    fcost,
    status,
    is_open,
    open_list,
    nopen,
    d1,
    f1,
    d2,
    f2,
    kmin,
    kmax,
    max_passes,
    tol,
):
    """Batched best-improvement add / drop / swap search (no groups, no conflicts).

    Returns (nopen, moves, improved_total, local_optimum_reached).
    """
    m = is_open.shape[0]
    n = d1.shape[0]
    loss = np.zeros(m)
    extra = np.zeros(m)
    touched = np.zeros(m, dtype=np.int64)
    ntouched = 0
    smark = np.zeros(m, dtype=np.uint8)
    key = np.empty(m)
    best_delta = np.empty(m + 1)
    best_s = np.empty(m + 1, dtype=np.int64)
    best_r = np.empty(m + 1, dtype=np.int64)
    used_site = np.zeros(m, dtype=np.uint8)
    mark = np.zeros(n, dtype=np.uint8)
    marked = np.empty(n, dtype=np.int64)
    empty_nconf = np.zeros(m, dtype=np.int32)
    empty_i64 = np.zeros(1, dtype=np.int64)
    empty_ptr = np.zeros(m + 1, dtype=np.int64)
    q_row = np.zeros(1, dtype=np.int64)
    q_val = np.zeros(1)
    q_use = np.zeros(1)
    moves = 0
    total = 0.0
    group = np.full(m, -1, dtype=np.int32)
    gcount = np.zeros(1, dtype=np.int64)
    for _pass in range(max_passes):
        compute_loss(f1, d1, d2, loss)
        for t in range(nopen):
            r = open_list[t]
            key[t] = loss[r] - fcost[r]
        order = np.argsort(key[:nopen])
        ncand = 0
        # drop moves (kept as candidates too)
        if nopen > kmin:
            for t in range(nopen):
                r = open_list[t]
                if status[r] == MUST:
                    continue
                delta = loss[r] - fcost[r]
                if delta < -tol:
                    best_delta[ncand] = delta
                    best_s[ncand] = -1
                    best_r[ncand] = r
                    ncand += 1
        for s in range(m):
            if is_open[s] or status[s] == FORBIDDEN:
                continue
            gain = 0.0
            for k in range(cptr[s], cptr[s + 1]):
                i = crow[k]
                c = ccost[k]
                if c < d1[i]:
                    gain += d1[i] - c
                    r = f1[i]
                    if r >= 0:
                        if smark[r] == 0:
                            smark[r] = 1
                            touched[ntouched] = r
                            ntouched += 1
                        extra[r] += d2[i] - d1[i]
                elif c < d2[i]:
                    r = f1[i]
                    if smark[r] == 0:
                        smark[r] = 1
                        touched[ntouched] = r
                        ntouched += 1
                    extra[r] += d2[i] - c
            best = -tol
            bs = -1
            br = -1
            if nopen < kmax:
                delta = fcost[s] - gain
                if delta < best:
                    best = delta
                    bs = s
                    br = -1
            base = fcost[s] - gain
            for t in range(ntouched):
                r = touched[t]
                if status[r] == MUST:
                    continue
                delta = base - fcost[r] + loss[r] - extra[r]
                if delta < best:
                    best = delta
                    bs = s
                    br = r
            for t in range(nopen):
                r = open_list[order[t]]
                if smark[r] == 1 or status[r] == MUST:
                    continue
                delta = base - fcost[r] + loss[r]
                if delta < best:
                    best = delta
                    bs = s
                    br = r
                break
            for t in range(ntouched):
                r = touched[t]
                smark[r] = 0
                extra[r] = 0.0
            ntouched = 0
            if bs >= 0 or br >= 0:
                best_delta[ncand] = best
                best_s[ncand] = bs
                best_r[ncand] = br
                ncand += 1
        if ncand == 0:
            return nopen, moves, total, True
        # apply disjoint moves, most improving first
        seq = np.argsort(best_delta[:ncand], kind="mergesort")
        nmarked = 0
        for q in range(ncand):
            c = seq[q]
            s = best_s[c]
            r = best_r[c]
            if s >= 0 and r < 0 and nopen >= kmax:
                continue
            if s < 0 and r >= 0 and nopen <= kmin:
                continue
            if not _free(s, r, cptr, crow, used_site, mark):
                continue
            nmarked = _claim(s, r, cptr, crow, used_site, mark, marked, nmarked)
            nopen = apply_move(
                s,
                r,
                indptr,
                indices,
                cost,
                unserved,
                cptr,
                crow,
                ccost,
                is_open,
                open_list,
                nopen,
                group,
                gcount,
                empty_ptr,
                empty_i64,
                empty_nconf,
                empty_ptr,
                q_row,
                q_val,
                q_use,
                d1,
                f1,
                d2,
                f2,
            )
            total += best_delta[c]
            moves += 1
        for t in range(nmarked):
            mark[marked[t]] = 0
        used_site[:] = 0
    return nopen, moves, total, False


@njit(cache=True)
def _above(a, b, ub):
    """Heap order: larger saving first, then smaller site index (the scan's tie rule)."""
    return ub[a] > ub[b] or (ub[a] == ub[b] and a < b)


@njit(cache=True)
def _sift_down(heap, size, pos, ub):
    while True:
        c = 2 * pos + 1
        if c >= size:
            return
        if c + 1 < size and _above(heap[c + 1], heap[c], ub):
            c += 1
        if _above(heap[c], heap[pos], ub):
            heap[c], heap[pos] = heap[pos], heap[c]
            pos = c
        else:
            return


@njit(cache=True)
def greedy_heap(
    cptr,
    crow,
    ccost,
    fcost,
    status,
    is_open,
    open_list,
    nopen,
    d1,
    f1,
    d2,
    f2,
    kmin,
    kmax,
    stop_when_no_gain,
    rcost,
):
    """Lazy greedy (Minoux) with a binary heap: the same choices as
    :func:`storeplan.solvers._kernels.greedy` with ``rcl = 1`` and no groups, spacing or
    quotas (largest saving, ties to the smallest site index), in O(log m) per look-up
    instead of a scan of all sites. Returns (nopen, evaluations)."""
    m = is_open.shape[0]
    ub = np.full(m, np.inf)
    stamp = np.full(m, -1, dtype=np.int64)
    heap = np.empty(m, dtype=np.int64)
    size = 0
    for s in range(m):
        if not is_open[s] and status[s] != FORBIDDEN:
            heap[size] = s
            size += 1
    # all keys are +inf: index order is already a valid heap
    empty_ptr = np.zeros(m + 1, dtype=np.int64)
    gcount = np.zeros(1, dtype=np.int64)
    conf_adj = np.zeros(1, dtype=np.int64)
    nconf = np.zeros(m, dtype=np.int32)
    q_row = np.zeros(1, dtype=np.int64)
    q_val = np.zeros(1)
    q_use = np.zeros(1)
    groups = np.full(m, -1, dtype=np.int32)
    evals = 0
    step = 0
    while nopen < kmax and size > 0:
        best = heap[0]
        if stamp[best] != step:
            gain = 0.0
            for k in range(cptr[best], cptr[best + 1]):
                i = crow[k]
                if ccost[k] < d1[i]:
                    gain += d1[i] - ccost[k]
            ub[best] = gain - fcost[best]
            if rcost[best] > 0.0:
                ub[best] /= rcost[best]
            stamp[best] = step
            evals += 1
            _sift_down(heap, size, 0, ub)
            continue
        if stop_when_no_gain and nopen >= kmin and ub[best] <= 0.0:
            break
        size -= 1
        heap[0] = heap[size]
        _sift_down(heap, size, 0, ub)
        nopen = open_site(
            best,
            is_open,
            open_list,
            nopen,
            groups,
            gcount,
            empty_ptr,
            conf_adj,
            nconf,
            empty_ptr,
            q_row,
            q_val,
            q_use,
        )
        insert_update(best, cptr, crow, ccost, d1, f1, d2, f2)
        step += 1
    return nopen, evals
