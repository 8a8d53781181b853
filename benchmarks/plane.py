"""Synthetic plane instances (clearly synthetic: random points, not real places).

- :func:`plane_points`: ``n`` points in a square, half in Gaussian "towns", half uniform.
- :func:`plane_pmedian`: dense p-median instance on ``n`` points (clients = sites),
  Euclidean km, rounded to 0.1 km; n = 1,000 ... 6,000 fits in memory (n^2 float64).
- :func:`national`: sparse radius- and k-limited instance, e.g. 100,000 clients x
  10,000 candidate sites or 10^6 x 10^5: every pair within ``radius_km`` plus each
  client's ``k`` nearest sites (chunked :meth:`storeplan.geo.Network.build`, so it
  scales to 10^6 x 10^5 in well under 1 GB), with log-normal weights and the
  caller-side ``unserved_cost`` = each client's largest stored distance (which makes
  the sparse model a relaxation of the dense one).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from storeplan.geo import Network


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
    radius_km: float | None = 30.0,
    k: int = 5,
    max_sites_per_area: int | None = None,
    size_km: float = 1000.0,
    seed: int = 0,
):
    """Sparse radius- and k-limited instance on a ``size_km`` square near 30 N, 110 E.

    The plane points (km) are mapped to lon/lat (equirectangular at the square's
    centre latitude) and the network is built by :meth:`storeplan.geo.Network.build`
    (chunked; every pair within ``radius_km`` plus each client's ``k`` nearest sites,
    at most ``max_sites_per_area`` per client), great-circle km rounded to 1 m.

    Returns ``(cost_csr, weights, unserved_cost, network)``.
    """
    rng = np.random.default_rng(seed)
    clients = plane_points(n_clients, seed, size_km, towns=max(20, n_clients // 500))
    near = clients[rng.integers(0, n_clients, int(0.7 * n_sites))]
    near = near + rng.normal(size=near.shape) * 2.0
    sites = np.clip(np.vstack([near, rng.random((n_sites - near.shape[0], 2)) * size_km]), 0, size_km)
    weights = np.round(rng.lognormal(mean=6.0, sigma=1.0, size=n_clients))
    c_lon, c_lat = to_lonlat(clients)
    s_lon, s_lat = to_lonlat(sites)
    del clients, sites
    net = Network.build(
        c_lon,
        c_lat,
        s_lon,
        s_lat,
        radius_km=radius_km,
        k=k,
        max_sites_per_area=max_sites_per_area,
        dense_pair_limit=0,
    )
    km = np.round(net.km.astype(np.float64), 3)
    cost = sp.csr_matrix((km, net.indices, net.indptr), shape=(net.n_areas, net.n_sites))
    rowmax = net.row_max_km()
    return cost, weights, rowmax, net


#: Origin of the plane coordinates (lon, lat, degrees) and km per degree of latitude.
ORIGIN = (110.0, 25.5)
KM_PER_DEG = 6371.0088 * np.pi / 180.0


def to_lonlat(xy: np.ndarray, size_km: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """Plane km (x east, y north) to lon/lat degrees, equirectangular about the centre."""
    lat0 = ORIGIN[1] + size_km / 2 / KM_PER_DEG
    lat = ORIGIN[1] + xy[:, 1] / KM_PER_DEG
    lon = ORIGIN[0] + xy[:, 0] / (KM_PER_DEG * np.cos(np.radians(lat0)))
    return lon, lat
