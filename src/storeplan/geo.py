"""Great-circle distances and the sparse area x site distance network.

Distances are in kilometres on a sphere of radius :data:`EARTH_RADIUS_KM`. Neighbour
search runs on a :class:`scipy.spatial.cKDTree` over 3-D unit vectors, where the chord
length ``c`` between two points maps exactly to the great-circle angle
``2 * arcsin(c / 2)``; a radius in km is therefore an exact chord radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

__all__ = [
    "EARTH_RADIUS_KM",
    "Network",
    "haversine_km",
    "unit_vectors",
    "chord_to_km",
    "km_to_chord",
    "pairs_within",
    "nearest",
]

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088

#: Build a full (dense-equivalent) network when areas x sites is at most this many pairs.
DENSE_PAIR_LIMIT = 4_000_000


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Return an (n, 3) float64 array of unit vectors for degrees ``lon``, ``lat``."""
    lon_r = np.radians(np.asarray(lon, dtype=np.float64))
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    cl = np.cos(lat_r)
    return np.column_stack((cl * np.cos(lon_r), cl * np.sin(lon_r), np.sin(lat_r)))


def chord_to_km(chord: np.ndarray | float) -> np.ndarray:
    """Convert a unit-sphere chord length to a great-circle distance in km."""
    c = np.clip(np.asarray(chord, dtype=np.float64) / 2.0, 0.0, 1.0)
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(c)


def km_to_chord(km: float) -> float:
    """Convert a great-circle distance in km to the unit-sphere chord length."""
    angle = min(float(km) / EARTH_RADIUS_KM, np.pi)
    return float(2.0 * np.sin(angle / 2.0))


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Element-wise great-circle distance in km between (lon1, lat1) and (lon2, lat2), degrees."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def pairs_within(lon: np.ndarray, lat: np.ndarray, km: float) -> np.ndarray:
    """Return the (k, 2) int array of index pairs ``i < j`` closer than ``km`` (great circle).

    Used for minimum-spacing constraints between candidate sites.
    """
    if len(lon) < 2 or km <= 0:
        return np.empty((0, 2), dtype=np.int64)
    tree = cKDTree(unit_vectors(lon, lat))
    # query_pairs uses <=; shrink by a hair so that exactly-at-spacing pairs are allowed.
    pairs = tree.query_pairs(km_to_chord(km) * (1.0 - 1e-12), output_type="ndarray")
    if len(pairs) == 0:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.sort(pairs.astype(np.int64), axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def nearest(
    from_lon: np.ndarray, from_lat: np.ndarray, to_lon: np.ndarray, to_lat: np.ndarray, k: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest ``to`` points for every ``from`` point.

    Returns ``(km, index)``, each shaped (n,) when ``k == 1`` else (n, k).
    """
    tree = cKDTree(unit_vectors(to_lon, to_lat))
    k_eff = min(k, len(to_lon))
    chord, idx = tree.query(unit_vectors(from_lon, from_lat), k=k_eff, workers=-1)
    return chord_to_km(chord), idx


@dataclass(frozen=True)
class Network:
    """Sparse great-circle distances from demand areas (rows) to candidate sites (columns).

    Stored as CSR arrays; each row holds the sites within ``radius_km`` of the area
    plus (at least) its ``k`` nearest sites, sorted by distance. An explicitly stored
    0.0 km is a real distance (an area and a site at the same place).

    Attributes
    ----------
    indptr : ndarray of int64, shape (n_areas + 1,)
    indices : ndarray of int32, shape (nnz,)
        Site index of each stored pair.
    km : ndarray of float32, shape (nnz,)
        Great-circle distance of each stored pair, km.
    n_areas, n_sites : int
    radius_km : float or None
        Every pair closer than this is stored (None: no radius guarantee).
    k : int or None
        Every area stores at least its ``k`` nearest sites (None: no k guarantee).
    """

    indptr: np.ndarray
    indices: np.ndarray
    km: np.ndarray
    n_areas: int
    n_sites: int
    radius_km: float | None = None
    k: int | None = None

    @property
    def nnz(self) -> int:
        """Number of stored area-site pairs."""
        return int(self.indices.shape[0])

    @property
    def is_complete(self) -> bool:
        """True when every area-site pair is stored (a dense matrix in CSR form)."""
        return self.nnz == self.n_areas * self.n_sites

    @property
    def nbytes(self) -> int:
        """Memory held by the CSR arrays, bytes."""
        return int(self.indptr.nbytes + self.indices.nbytes + self.km.nbytes)

    def row_max_km(self) -> np.ndarray:
        """Largest stored distance per area (km): a lower bound on the distance to any
        site that is not stored for that area. 0 for areas with no stored site."""
        out = np.zeros(self.n_areas, dtype=np.float64)
        counts = np.diff(self.indptr)
        has = counts > 0
        # rows are sorted by distance, so the last entry of each row is its maximum
        out[has] = self.km[self.indptr[1:][has] - 1]
        return out

    def to_csr(self, dtype=np.float64) -> sp.csr_matrix:
        """Return the network as a ``scipy.sparse.csr_matrix`` (explicit zeros kept)."""
        return sp.csr_matrix(
            (self.km.astype(dtype), self.indices, self.indptr), shape=(self.n_areas, self.n_sites)
        )

    @classmethod
    def build(
        cls,
        area_lon: np.ndarray,
        area_lat: np.ndarray,
        site_lon: np.ndarray,
        site_lat: np.ndarray,
        *,
        radius_km: float | None = None,
        k: int | None = None,
        dense_pair_limit: int = DENSE_PAIR_LIMIT,
    ) -> Network:
        """Build the network with a cKDTree; never forms a dense matrix that would not fit.

        Parameters
        ----------
        area_lon, area_lat, site_lon, site_lat : array-like of float, degrees WGS84
        radius_km : float, optional
            Store every pair closer than this many km.
        k : int, optional
            Store at least the ``k`` nearest sites of every area.
        dense_pair_limit : int
            When ``n_areas * n_sites`` is at most this, every pair is stored.

        Notes
        -----
        Cost is O(n log m + nnz log nnz) time and O(nnz) memory (12 bytes per pair).
        """
        n, m = len(area_lon), len(site_lon)
        if n == 0 or m == 0:
            return cls(
                np.zeros(n + 1, np.int64),
                np.empty(0, np.int32),
                np.empty(0, np.float32),
                n,
                m,
                radius_km,
                k,
            )
        au = unit_vectors(area_lon, area_lat)
        su = unit_vectors(site_lon, site_lat)
        if n * m <= dense_pair_limit:
            # Full matrix, computed in row blocks to bound temporary memory.
            rows_i, cols_j, vals = [], [], []
            block = max(1, dense_pair_limit // (4 * m))
            for start in range(0, n, block):
                stop = min(n, start + block)
                chord = np.linalg.norm(au[start:stop, None, :] - su[None, :, :], axis=2)
                order = np.argsort(chord, axis=1, kind="stable")
                rows_i.append(np.repeat(np.arange(start, stop), m))
                cols_j.append(order.ravel())
                vals.append(np.take_along_axis(chord, order, axis=1).ravel())
            i = np.concatenate(rows_i)
            j = np.concatenate(cols_j)
            d = chord_to_km(np.concatenate(vals))
            return cls._from_sorted_pairs(i, j, d, n, m, radius_km, k if k is None else min(k, m))
        if radius_km is None and k is None:
            raise ValueError(f"a {n} x {m} network is too large to store in full; give radius_km or k")
        site_tree = cKDTree(su)
        parts_i, parts_j, parts_c = [], [], []
        if radius_km is not None and radius_km > 0:
            area_tree = cKDTree(au)
            pairs = area_tree.sparse_distance_matrix(site_tree, km_to_chord(radius_km), output_type="ndarray")
            parts_i.append(pairs["i"].astype(np.int64))
            parts_j.append(pairs["j"].astype(np.int64))
            parts_c.append(pairs["v"].astype(np.float64))
        if k is not None and k > 0:
            k_eff = min(int(k), m)
            chord, idx = site_tree.query(au, k=k_eff, workers=-1)
            chord = np.asarray(chord).reshape(n, k_eff)
            idx = np.asarray(idx).reshape(n, k_eff)
            parts_i.append(np.repeat(np.arange(n, dtype=np.int64), k_eff))
            parts_j.append(idx.ravel().astype(np.int64))
            parts_c.append(chord.ravel())
        i = np.concatenate(parts_i)
        j = np.concatenate(parts_j)
        c = np.concatenate(parts_c)
        # de-duplicate (i, j) and sort each row by distance
        key = i * m + j
        _, first = np.unique(key, return_index=True)
        i, j, c = i[first], j[first], c[first]
        order = np.lexsort((j, c, i))
        return cls._from_sorted_pairs(
            i[order],
            j[order],
            chord_to_km(c[order]),
            n,
            m,
            radius_km,
            None if k is None else min(int(k), m),
        )

    @classmethod
    def _from_sorted_pairs(cls, i, j, d, n, m, radius_km, k) -> Network:
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])
        return cls(
            indptr=indptr,
            indices=j.astype(np.int32),
            km=d.astype(np.float32),
            n_areas=n,
            n_sites=m,
            radius_km=radius_km,
            k=k,
        )
