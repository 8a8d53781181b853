"""Numba kernels shared by every objective (internal).

All objectives are run as one minimisation over a sparse client x site cost structure:

.. math::

    \\min_{S} \\; \\sum_{j \\in S} f_j + \\sum_i \\min\\bigl(U_i, \\min_{j \\in S \\cap N(i)} c_{ij}\\bigr)

where :math:`N(i)` are the stored sites of client :math:`i` (CSR row, sorted by cost),
:math:`c_{ij}` the *weighted* cost, :math:`U_i` the weighted unserved cost (a large
penalty when every client must be served) and :math:`f_j` an opening cost (0 for
p-median). Coverage is the special case :math:`c_{ij} = 0` on covered pairs and
:math:`U_i = w_i` (uncovered weight).

Every client keeps its closest and second-closest open site (``d1, f1, d2, f2``; -1 is
the virtual "unserved" site of cost :math:`U_i`), the fast-interchange state of
Whitaker (1983) and Resende & Werneck (2007). ``loss[r]`` is the cost of closing open
site ``r``. Evaluating all insertions costs one pass over the CSC columns (O(nnz)) plus
a few look-ups per site in ``loss`` sorted ascending; after a move only the clients in
the columns of the two swapped sites are updated.

Quota rows (budgets, store counts per region / tier / format, see
:class:`.constraints.Quota`) are kept as a running value ``q_use`` per row; a move is
allowed when every row it changes stays within its bounds, or moves towards them
(:func:`quota_ok`), so a feasible state stays feasible and a construction that starts
below a minimum can only approach it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MUST = 1
FORBIDDEN = 2


@njit(cache=True)
def best_two(i, indptr, indices, cost, unserved, is_open):
    """Closest and second-closest open site of client ``i`` (-1 = unserved)."""
    d1 = unserved[i]
    f1 = -1
    d2 = unserved[i]
    f2 = -1
    found = 0
    for k in range(indptr[i], indptr[i + 1]):
        j = indices[k]
        if is_open[j]:
            c = cost[k]
            if found == 0:
                if c < d1:
                    d1 = c
                    f1 = j
                    found = 1
                else:
                    break
            else:
                if c < d2:
                    d2 = c
                    f2 = j
                break
    return d1, f1, d2, f2


@njit(cache=True)
def assign_all(indptr, indices, cost, unserved, is_open, d1, f1, d2, f2):
    """Fill ``d1, f1, d2, f2`` for every client; return the service cost."""
    n = d1.shape[0]
    total = 0.0
    for i in range(n):
        a, b, c, d = best_two(i, indptr, indices, cost, unserved, is_open)
        d1[i] = a
        f1[i] = b
        d2[i] = c
        f2[i] = d
        total += a
    return total


@njit(cache=True)
def compute_loss(f1, d1, d2, loss):
    """``loss[r]``: extra service cost when open site ``r`` closes (nothing else opens)."""
    loss[:] = 0.0
    for i in range(f1.shape[0]):
        if f1[i] >= 0:
            loss[f1[i]] += d2[i] - d1[i]


@njit(cache=True)
def _row_ok(u, v, lo, hi):
    """Row value ``u -> v`` keeps ``lo <= v <= hi`` or moves towards the bounds."""
    th = 1e-9 * max(1.0, abs(hi)) if hi < np.inf else 0.0
    tl = 1e-9 * max(1.0, abs(lo))
    if v > hi + th and v > u + th:
        return False
    return not (v < lo - tl and v < u - tl)


@njit(cache=True)
def quota_ok(s, r, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
    """True when opening ``s`` and closing ``r`` (either may be -1) keeps every quota
    row within its bounds (or moves it towards them)."""
    if s >= 0:
        for k in range(q_ptr[s], q_ptr[s + 1]):
            t = q_row[k]
            d = q_val[k]
            if r >= 0:
                for k2 in range(q_ptr[r], q_ptr[r + 1]):
                    if q_row[k2] == t:
                        d -= q_val[k2]
                        break
            if not _row_ok(q_use[t], q_use[t] + d, q_lo[t], q_hi[t]):
                return False
    if r >= 0:
        for k2 in range(q_ptr[r], q_ptr[r + 1]):
            t = q_row[k2]
            shared = False
            if s >= 0:
                for k in range(q_ptr[s], q_ptr[s + 1]):
                    if q_row[k] == t:
                        shared = True
                        break
            if shared:
                continue
            if not _row_ok(q_use[t], q_use[t] - q_val[k2], q_lo[t], q_hi[t]):
                return False
    return True


@njit(cache=True)
def quota_deficit(q_lo, q_use):
    """Number of quota rows below their minimum."""
    cnt = 0
    for t in range(q_lo.shape[0]):
        if q_use[t] < q_lo[t] - 1e-9 * max(1.0, abs(q_lo[t])):
            cnt += 1
    return cnt


@njit(cache=True)
def _helps_deficit(s, q_ptr, q_row, q_val, q_lo, q_use):
    for k in range(q_ptr[s], q_ptr[s + 1]):
        t = q_row[k]
        if q_val[k] > 0 and q_use[t] < q_lo[t] - 1e-9 * max(1.0, abs(q_lo[t])):
            return True
    return False


@njit(cache=True)
def open_site(
    s, is_open, open_list, nopen, group, gcount, conf_ptr, conf_adj, nconf, q_ptr, q_row, q_val, q_use
):
    is_open[s] = 1
    open_list[nopen] = s
    g = group[s]
    if g >= 0:
        gcount[g] += 1
    for k in range(conf_ptr[s], conf_ptr[s + 1]):
        nconf[conf_adj[k]] += 1
    for k in range(q_ptr[s], q_ptr[s + 1]):
        q_use[q_row[k]] += q_val[k]
    return nopen + 1


@njit(cache=True)
def _close_site(
    r, is_open, open_list, nopen, group, gcount, conf_ptr, conf_adj, nconf, q_ptr, q_row, q_val, q_use
):
    is_open[r] = 0
    for t in range(nopen):
        if open_list[t] == r:
            open_list[t] = open_list[nopen - 1]
            break
    g = group[r]
    if g >= 0:
        gcount[g] -= 1
    for k in range(conf_ptr[r], conf_ptr[r + 1]):
        nconf[conf_adj[k]] -= 1
    for k in range(q_ptr[r], q_ptr[r + 1]):
        q_use[q_row[k]] -= q_val[k]
    return nopen - 1


@njit(cache=True)
def insert_update(s, cptr, crow, ccost, d1, f1, d2, f2):
    for k in range(cptr[s], cptr[s + 1]):
        i = crow[k]
        c = ccost[k]
        if c < d1[i]:
            d2[i] = d1[i]
            f2[i] = f1[i]
            d1[i] = c
            f1[i] = s
        elif c < d2[i] and f1[i] != s:
            d2[i] = c
            f2[i] = s


@njit(cache=True)
def _remove_update(r, indptr, indices, cost, unserved, is_open, cptr, crow, d1, f1, d2, f2):
    for k in range(cptr[r], cptr[r + 1]):
        i = crow[k]
        if f1[i] == r or f2[i] == r:
            a, b, c, d = best_two(i, indptr, indices, cost, unserved, is_open)
            d1[i] = a
            f1[i] = b
            d2[i] = c
            f2[i] = d


@njit(cache=True)
def apply_move(
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
    conf_ptr,
    conf_adj,
    nconf,
    q_ptr,
    q_row,
    q_val,
    q_use,
    d1,
    f1,
    d2,
    f2,
):
    """Close ``r`` (if >= 0) and open ``s`` (if >= 0); update only affected clients.
    Returns the new number of open sites."""
    if r >= 0:
        nopen = _close_site(
            r, is_open, open_list, nopen, group, gcount, conf_ptr, conf_adj, nconf, q_ptr, q_row, q_val, q_use
        )
    if s >= 0:
        nopen = open_site(
            s, is_open, open_list, nopen, group, gcount, conf_ptr, conf_adj, nconf, q_ptr, q_row, q_val, q_use
        )
    if r >= 0:
        _remove_update(r, indptr, indices, cost, unserved, is_open, cptr, crow, d1, f1, d2, f2)
    if s >= 0:
        insert_update(s, cptr, crow, ccost, d1, f1, d2, f2)
    return nopen


@njit(cache=True)
def _group_deficit(gmin, gcount):
    tot = 0
    for g in range(gmin.shape[0]):
        if gcount[g] < gmin[g]:
            tot += gmin[g] - gcount[g]
    return tot


@njit(cache=True)
def greedy(
    indptr,
    indices,
    cost,
    unserved,
    cptr,
    crow,
    ccost,
    fcost,
    status,
    group,
    gmin,
    gmax,
    conf_ptr,
    conf_adj,
    q_ptr,
    q_row,
    q_val,
    q_lo,
    q_hi,
    is_open,
    open_list,
    nopen,
    gcount,
    nconf,
    q_use,
    d1,
    f1,
    d2,
    f2,
    kmin,
    kmax,
    stop_when_no_gain,
    rcl,
    seed,
    rcost,
):
    """Lazy greedy insertion from the current open set (must-open sites already open).

    Adds the site with the largest saving ``sum_i max(0, d1_i - c_is) - f_s`` until
    ``kmax`` sites are open (or, if ``stop_when_no_gain``, no addition pays off once
    ``kmin`` are open). Savings only shrink as sites open (submodularity), so stale
    savings are valid upper bounds (Minoux's lazy greedy). With ``rcl > 1`` one of the
    ``rcl`` best fresh candidates is taken at random (randomized greedy for restarts).
    Group minimums are met by restricting the choice to deficient groups when the
    remaining slots equal the total deficit; quota rows below their minimum restrict
    the choice to sites that raise them. Sites whose opening would break a quota's
    maximum (a budget) are skipped. With ``rcost[s] > 0`` the key is the saving per unit
    of ``rcost`` (cost-effectiveness greedy for a budget). Returns (nopen, evaluations).
    """
    m = is_open.shape[0]
    if seed >= 0:
        np.random.seed(seed)  # noqa: NPY002 (Numba's RNG)
    ub = np.full(m, np.inf)
    stamp = np.full(m, -1, dtype=np.int64)
    evals = 0
    step = 0
    cand = np.empty(max(rcl, 1), dtype=np.int64)
    candv = np.empty(max(rcl, 1))
    while nopen < kmax:
        deficit = _group_deficit(gmin, gcount)
        restrict = deficit > 0 and deficit >= kmax - nopen
        qdef = quota_deficit(q_lo, q_use) > 0
        ncand = 0
        while True:
            best = -1
            bv = -np.inf
            for s in range(m):
                if is_open[s] or status[s] == FORBIDDEN or nconf[s] > 0:
                    continue
                g = group[s]
                if g >= 0:
                    if gcount[g] >= gmax[g]:
                        continue
                    if restrict and gcount[g] >= gmin[g]:
                        continue
                elif restrict:
                    continue
                if qdef and not _helps_deficit(s, q_ptr, q_row, q_val, q_lo, q_use):
                    continue
                if not quota_ok(s, -1, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
                    continue
                skip = False
                for t in range(ncand):
                    if cand[t] == s:
                        skip = True
                if skip:
                    continue
                if ub[s] > bv:
                    bv = ub[s]
                    best = s
            if best < 0:
                break
            if stamp[best] == step:
                cand[ncand] = best
                candv[ncand] = bv
                ncand += 1
                if ncand >= rcl:
                    break
                continue
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
        if ncand == 0:
            break
        pick = 0
        if ncand > 1:
            pick = np.random.randint(ncand)  # noqa: NPY002 (Numba's RNG)
        s = cand[pick]
        if stop_when_no_gain and nopen >= kmin and deficit == 0 and not qdef and candv[pick] <= 0.0:
            break
        nopen = open_site(
            s, is_open, open_list, nopen, group, gcount, conf_ptr, conf_adj, nconf, q_ptr, q_row, q_val, q_use
        )
        insert_update(s, cptr, crow, ccost, d1, f1, d2, f2)
        step += 1
    return nopen, evals


@njit(cache=True)
def local_search(
    indptr,
    indices,
    cost,
    unserved,
    cptr,
    crow,
    ccost,
    fcost,
    status,
    group,
    gmin,
    gmax,
    conf_ptr,
    conf_adj,
    q_ptr,
    q_row,
    q_val,
    q_lo,
    q_hi,
    is_open,
    open_list,
    nopen,
    gcount,
    nconf,
    q_use,
    d1,
    f1,
    d2,
    f2,
    kmin,
    kmax,
    max_moves,
    tol,
):
    """Best-improvement add / drop / swap local search (fast interchange).

    For every closed site ``s`` one pass over its column gives the insertion saving
    ``gain_s`` and, per open site ``r``, the part ``extra_s[r]`` of ``loss[r]`` that
    ``s`` would absorb. The swap delta is
    ``f_s - f_r - gain_s + loss[r] - extra_s[r]``; the best ``r`` among sites that
    ``s`` does not touch is the first eligible one in ``loss - f`` ascending order.
    Returns (nopen, moves, improved_total, local_optimum_reached).
    """
    m = is_open.shape[0]
    loss = np.zeros(m)
    extra = np.zeros(m)
    touched = np.zeros(m, dtype=np.int64)
    ntouched = 0
    mark = np.zeros(m, dtype=np.uint8)
    key = np.empty(m)
    moves = 0
    total = 0.0
    while moves < max_moves:
        compute_loss(f1, d1, d2, loss)
        for t in range(nopen):
            r = open_list[t]
            key[t] = loss[r] - fcost[r]
        order = np.argsort(key[:nopen])
        best = -tol
        bs = -1
        br = -1
        # drop moves
        if nopen > kmin:
            for t in range(nopen):
                r = open_list[t]
                if status[r] == MUST:
                    continue
                g = group[r]
                if g >= 0 and gcount[g] <= gmin[g]:
                    continue
                if not quota_ok(-1, r, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
                    continue
                delta = loss[r] - fcost[r]
                if delta < best:
                    best = delta
                    bs = -1
                    br = r
        for s in range(m):
            if is_open[s] or status[s] == FORBIDDEN or nconf[s] > 1:
                continue
            cr = -1
            if nconf[s] == 1:
                for k in range(conf_ptr[s], conf_ptr[s + 1]):
                    if is_open[conf_adj[k]]:
                        cr = conf_adj[k]
                        break
            gain = 0.0
            for k in range(cptr[s], cptr[s + 1]):
                i = crow[k]
                c = ccost[k]
                if c < d1[i]:
                    gain += d1[i] - c
                    r = f1[i]
                    if r >= 0:
                        if mark[r] == 0:
                            mark[r] = 1
                            touched[ntouched] = r
                            ntouched += 1
                        extra[r] += d2[i] - d1[i]
                elif c < d2[i]:
                    r = f1[i]
                    if mark[r] == 0:
                        mark[r] = 1
                        touched[ntouched] = r
                        ntouched += 1
                    extra[r] += d2[i] - c
            gs = group[s]
            s_full = gs >= 0 and gcount[gs] >= gmax[gs]
            # add move
            if (
                cr < 0
                and nopen < kmax
                and not s_full
                and quota_ok(s, -1, q_ptr, q_row, q_val, q_lo, q_hi, q_use)
            ):
                delta = fcost[s] - gain
                if delta < best:
                    best = delta
                    bs = s
                    br = -1
            # swap moves
            base = fcost[s] - gain
            if cr >= 0:
                r = cr
                ok = status[r] != MUST
                gr = group[r]
                if ok and gs != gr and (s_full or (gr >= 0 and gcount[gr] <= gmin[gr])):
                    ok = False
                if ok and not quota_ok(s, r, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
                    ok = False
                if ok:
                    delta = base - fcost[r] + loss[r] - extra[r]
                    if delta < best:
                        best = delta
                        bs = s
                        br = r
            else:
                for t in range(ntouched):
                    r = touched[t]
                    if status[r] == MUST:
                        continue
                    gr = group[r]
                    if gs != gr and (s_full or (gr >= 0 and gcount[gr] <= gmin[gr])):
                        continue
                    if not quota_ok(s, r, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
                        continue
                    delta = base - fcost[r] + loss[r] - extra[r]
                    if delta < best:
                        best = delta
                        bs = s
                        br = r
                for t in range(nopen):
                    r = open_list[order[t]]
                    if mark[r] == 1 or status[r] == MUST:
                        continue
                    gr = group[r]
                    if gs != gr and (s_full or (gr >= 0 and gcount[gr] <= gmin[gr])):
                        continue
                    if not quota_ok(s, r, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
                        continue
                    delta = base - fcost[r] + loss[r]
                    if delta < best:
                        best = delta
                        bs = s
                        br = r
                    break
            for t in range(ntouched):
                r = touched[t]
                mark[r] = 0
                extra[r] = 0.0
            ntouched = 0
        if bs < 0 and br < 0:
            return nopen, moves, total, True
        nopen = apply_move(
            bs,
            br,
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
            conf_ptr,
            conf_adj,
            nconf,
            q_ptr,
            q_row,
            q_val,
            q_use,
            d1,
            f1,
            d2,
            f2,
        )
        total += best
        moves += 1
    return nopen, moves, total, False


@njit(cache=True)
def shake(
    k,
    indptr,
    indices,
    cost,
    unserved,
    cptr,
    crow,
    ccost,
    status,
    group,
    gmin,
    gmax,
    conf_ptr,
    conf_adj,
    q_ptr,
    q_row,
    q_val,
    q_lo,
    q_hi,
    is_open,
    open_list,
    nopen,
    gcount,
    nconf,
    q_use,
    d1,
    f1,
    d2,
    f2,
):
    """Apply ``k`` random feasible swaps (VNS shaking); uses Numba's seeded RNG."""
    m = is_open.shape[0]
    done = 0
    tries = 0
    while done < k and tries < 50 * k + 100 and nopen > 0:
        tries += 1
        r = open_list[np.random.randint(nopen)]  # noqa: NPY002
        if status[r] == MUST:
            continue
        s = np.random.randint(m)  # noqa: NPY002 (Numba's RNG)
        if is_open[s] or status[s] == FORBIDDEN:
            continue
        # conflicts: s may only conflict with r
        bad = False
        for t in range(conf_ptr[s], conf_ptr[s + 1]):
            a = conf_adj[t]
            if is_open[a] and a != r:
                bad = True
                break
        if bad:
            continue
        gs = group[s]
        gr = group[r]
        if gs != gr:
            if gs >= 0 and gcount[gs] >= gmax[gs]:
                continue
            if gr >= 0 and gcount[gr] <= gmin[gr]:
                continue
        if not quota_ok(s, r, q_ptr, q_row, q_val, q_lo, q_hi, q_use):
            continue
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
            conf_ptr,
            conf_adj,
            nconf,
            q_ptr,
            q_row,
            q_val,
            q_use,
            d1,
            f1,
            d2,
            f2,
        )
        done += 1
    return nopen


@njit(cache=True)
def seed_rng(seed):
    """Seed Numba's own random generator (used by :func:`shake` and :func:`greedy`)."""
    np.random.seed(seed)  # noqa: NPY002 (Numba's RNG)
