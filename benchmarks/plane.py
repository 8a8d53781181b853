"""Synthetic plane instances (clearly synthetic: random points, not real places).

- :func:`plane_points`: ``n`` points in a square, half in Gaussian "towns", half uniform.
- :func:`plane_pmedian`: dense p-median instance on ``n`` points (clients = sites),
  Euclidean km, rounded to 0.1 km; n = 1,000 ... 6,000 fits in memory (n^2 float64).
- :func:`national`: sparse radius-limited instance, e.g. 100,000 clients x 10,000
  candidate sites: every pair within ``radius_km`` plus each client's ``k`` nearest
  sites, with log-normal weights and the caller-side ``unserved_cost`` = each client's
  largest stored distance (which makes the sparse model a relaxation of the dense one).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


def plane_points(n: int, seed: int, size_km: float = 1000.0, towns: int | None = None):
    """``n`` points (km) in a ``size_km`` square: half uniform, half in Gaussian towns."""
    rng = np.random.default_rng(seed)
    towns = towns or max(5, n // 500)
    centres = rng.random((towns, 2)) * size_km
    spread = rng.uniform(0.005, 0.03, towns) * size_km
    n_town = n // 2
    which = rng.integers(0, towns, n_town)
    pts_t = centres[which] + rng.normal(size=(n_town, 2)) * spread[which, None]
    pts_u = rng.random((n - n_town, 2)) * size_km
    return np.clip(np.vstack([pts_t, pts_u]), 0, size_km)


def plane_pmedian(n: int, seed: int = 0) -> np.ndarray:
    """Dense n x n distance matrix (km, 0.1 km resolution) on :func:`plane_points`."""
    xy = plane_points(n, seed)
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    return np.round(d, 1)


def national(
    n_clients: int = 100_000,
    n_sites: int = 10_000,
    *,
    radius_km: float = 30.0,
    k: int = 5,
    size_km: float = 1000.0,
    seed: int = 0,
):
    """Sparse radius-limited instance. Returns ``(cost_csr, weights, unserved_cost)``."""
    rng = np.random.default_rng(seed)
    clients = plane_points(n_clients, seed, size_km, towns=max(20, n_clients // 500))
    near = clients[rng.integers(0, n_clients, int(0.7 * n_sites))]
    near = near + rng.normal(size=near.shape) * 2.0
    sites = np.clip(np.vstack([near, rng.random((n_sites - near.shape[0], 2)) * size_km]), 0, size_km)
    weights = np.round(rng.lognormal(mean=6.0, sigma=1.0, size=n_clients))
    ct, st = cKDTree(clients), cKDTree(sites)
    pairs = ct.sparse_distance_matrix(st, radius_km, output_type="ndarray")
    dk, jk = st.query(clients, k=k)
    i = np.concatenate([pairs["i"].astype(np.int64), np.repeat(np.arange(n_clients), k)])
    j = np.concatenate([pairs["j"].astype(np.int64), jk.ravel().astype(np.int64)])
    c = np.concatenate([pairs["v"], dk.ravel()])
    key = i * n_sites + j
    _, first = np.unique(key, return_index=True)
    cost = sp.csr_matrix((np.round(c[first], 3), (i[first], j[first])), shape=(n_clients, n_sites))
    cost.sort_indices()
    rowmax = np.maximum.reduceat(cost.data, cost.indptr[:-1])
    return cost, weights, rowmax
