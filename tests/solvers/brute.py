"""Brute-force reference solvers for tiny instances (enumerate every site set)."""

from __future__ import annotations

import itertools

import numpy as np


def dense(cost) -> np.ndarray:
    """Dense cost with inf for missing CSR entries."""
    if hasattr(cost, "tocoo"):
        c = cost.tocoo()
        out = np.full(c.shape, np.inf)
        out[c.row, c.col] = c.data
        return out
    return np.asarray(cost, dtype=np.float64)


def feasible(sites, m, must=(), forbidden=(), group=None, gmin=None, gmax=None, conflicts=(), quotas=()):
    """``quotas``: (member sites, weights or None, lo, hi) rows, as solvers.Quota."""
    s = set(sites)
    if not set(must) <= s or s & set(forbidden):
        return False
    for members, weight, lo, hi in quotas:
        wt = np.ones(len(members)) if weight is None else np.asarray(weight, dtype=float)
        v = sum(float(wt[k]) for k, j in enumerate(members) if j in s)
        if v < lo - 1e-9 * max(1, lo) or v > hi + 1e-9 * max(1, hi):
            return False
    if group is not None:
        for g in range(len(gmin)):
            cnt = sum(1 for j in sites if group[j] == g)
            if cnt < gmin[g] or cnt > gmax[g]:
                return False
    return all(not (a in s and b in s) for a, b in conflicts)


def pmedian_value(cost, sites, w, unserved=None):
    d = dense(cost)[:, list(sites)].min(axis=1)
    if unserved is not None:
        d = np.minimum(d, unserved)
    return float(np.dot(w, d))


def _subsets(m, p):
    """Every site set of size p (p None: every non-empty set)."""
    sizes = range(1, m + 1) if p is None else (p,)
    for k in sizes:
        yield from itertools.combinations(range(m), k)


def brute_pmedian(cost, p, w=None, unserved=None, **side):
    d = dense(cost)
    n, m = d.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    best = np.inf
    for sites in _subsets(m, p):
        if feasible(sites, m, **side):
            best = min(best, pmedian_value(d, sites, w, unserved))
    return best


def brute_coverage(cost, p, radius, w=None, **side):
    d = dense(cost)
    n, m = d.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    best = -np.inf
    for sites in _subsets(m, p):
        if feasible(sites, m, **side):
            best = max(best, float(w[(d[:, list(sites)] <= radius).any(axis=1)].sum()))
    return best


def brute_ufl(cost, f, unserved=None, **side):
    d = dense(cost)
    n, m = d.shape
    best = np.inf
    for k in range(1, m + 1):
        for sites in itertools.combinations(range(m), k):
            if feasible(sites, m, **side):
                v = pmedian_value(d, sites, np.ones(n), unserved) + float(np.sum(f[list(sites)]))
                best = min(best, v)
    return best
