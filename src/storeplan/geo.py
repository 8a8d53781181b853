"""Great-circle distances and the sparse area x site distance network.

Distances are in kilometres on a sphere of radius :data:`EARTH_RADIUS_KM`. Neighbour
search runs on a :class:`scipy.spatial.cKDTree` over 3-D unit vectors, where the chord
length ``c`` between two points maps exactly to the great-circle angle
``2 * arcsin(c / 2)``; a radius in km is therefore an exact chord radius.
"""

from __future__ import annotations

import logging
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
    "row_positions",
]

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088

log = logging.getLogger(__name__)

#: Candidate (area, site) pairs examined per chunk of the sparse build (16 bytes each).
CHUNK_ENTRIES = 1 << 21

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


def row_positions(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the entries of ``rows`` in compressed (CSR / CSC) arrays.

    Returns ``(pos, owner)``: the data positions of every entry of ``rows[0]``, then of
    ``rows[1]``, ..., and for each the index in ``rows`` it belongs to (int64 both).

    >>> row_positions(np.array([0, 2, 2, 5]), np.array([2, 0]))
    (array([2, 3, 4, 0, 1]), array([0, 0, 0, 1, 1]))
    """
    rows = np.asarray(rows, dtype=np.int64)
    lo = np.asarray(indptr, dtype=np.int64)[rows]
    lens = np.asarray(indptr, dtype=np.int64)[rows + 1] - lo
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lens)
    if not len(rows):
        return np.zeros(0, np.int64), owner
    start = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return np.arange(int(lens.sum()), dtype=np.int64) + start, owner


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
    plus (at least) its ``k`` nearest sites, at most ``max_sites_per_area`` of them,
    sorted by distance (ties by site index). An explicitly stored
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
    max_sites_per_area : int or None
        No area stores more than this many sites (None: no cap).
    n_capped : int
        Number of areas where the cap bound, i.e. that would have stored more sites
        within ``radius_km``; for them the radius guarantee does not hold.
    """

    indptr: np.ndarray
    indices: np.ndarray
    km: np.ndarray
    n_areas: int
    n_sites: int
    radius_km: float | None = None
    k: int | None = None
    max_sites_per_area: int | None = None
    n_capped: int = 0

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
        max_sites_per_area: int | None = None,
        dense_pair_limit: int = DENSE_PAIR_LIMIT,
        chunk_entries: int = CHUNK_ENTRIES,
    ) -> Network:
        """Build the network with a cKDTree, in memory-bounded chunks of areas.

        Each area's row holds its ``k`` nearest sites plus every site within
        ``radius_km``, at most ``max_sites_per_area`` of them (the nearest), sorted by
        distance and then by site index. Rows are written straight into preallocated
        CSR arrays (int32 site indices, float32 km); no all-pairs array is ever formed.

        Parameters
        ----------
        area_lon, area_lat, site_lon, site_lat : array-like of float, degrees WGS84
        radius_km : float, optional
            Store every pair closer than this many km (up to the cap).
        k : int, optional
            Store at least the ``k`` nearest sites of every area.
        max_sites_per_area : int, optional
            Store at most this many sites per area (the nearest ones); must be at least
            ``k``. Areas where the radius would store more are *capped*: their count is
            :attr:`n_capped`, and for them the radius guarantee no longer holds (their
            largest stored distance, :meth:`row_max_km`, is still a lower bound on the
            distance to every site not stored). None: no cap.
        dense_pair_limit : int
            When ``n_areas * n_sites`` is at most this (and no cap is below
            ``n_sites``), every pair is stored.
        chunk_entries : int
            Candidate (area, site) pairs examined per chunk (16 bytes each while the
            chunk is processed); bounds the temporary memory.

        Raises
        ------
        ValueError
            The network is too large to store in full and neither ``radius_km`` nor
            ``k`` is given, or ``max_sites_per_area`` is below 1 or below ``k``.

        Notes
        -----
        Time O(n (log m + K)) with K the per-area number of stored sites; the k-nearest
        and radius queries run on all cores (``workers=-1``). With a radius, a first
        pass counts the sites within it (``query_ball_point(return_length=True)``) so
        that the CSR arrays are allocated once at their final size. Peak memory is the
        CSR arrays (8 bytes per pair plus 8 per area) plus one chunk.
        """
        n, m = len(area_lon), len(site_lon)
        cap = None if max_sites_per_area is None else int(max_sites_per_area)
        k_eff = 0 if k is None or k <= 0 else min(int(k), m)
        if cap is not None and (cap < 1 or (k is not None and cap < int(k))):
            raise ValueError(
                f"max_sites_per_area must be at least 1 and at least k, got {max_sites_per_area}"
            )
        k_attr = None if k is None else min(int(k), m)
        if n == 0 or m == 0:
            return cls(
                np.zeros(n + 1, np.int64),
                np.empty(0, np.int32),
                np.empty(0, np.float32),
                n,
                m,
                radius_km,
                k_attr,
                cap,
            )
        au = unit_vectors(area_lon, area_lat)
        su = unit_vectors(site_lon, site_lat)
        if n * m <= dense_pair_limit and (cap is None or cap >= m):
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
            return cls._from_sorted_pairs(i, j, d, n, m, radius_km, k_attr, cap)
        rc = km_to_chord(radius_km) if radius_km is not None and radius_km > 0 else None
        if rc is None and k_eff == 0:
            raise ValueError(f"a {n} x {m} network is too large to store in full; give radius_km or k")
        site_tree = cKDTree(su)
        if rc is not None:
            within = np.asarray(site_tree.query_ball_point(au, rc, return_length=True, workers=-1), np.int64)
            stored = np.maximum(within, k_eff)
            if cap is not None:
                stored = np.minimum(stored, cap)
            # one column more than needed: detects a binding cap, absorbs rounding at r
            want = np.minimum(np.maximum(within + 1, k_eff), m if cap is None else min(cap + 1, m))
            capacity = int(stored.sum())
            del within, stored
        else:
            want = None
            capacity = n * k_eff
        indptr = np.zeros(n + 1, dtype=np.int64)
        indices = np.empty(capacity, dtype=np.int32)
        km = np.empty(capacity, dtype=np.float32)
        pos = 0
        n_capped = 0
        for a, b, width in _chunks(n, k_eff, want, chunk_entries):
            if width == 0:
                indptr[a + 1 : b + 1] = pos
                continue
            if k_eff == 0 and rc is not None:  # radius only (rc is set, checked above): prune at the radius
                chord, idx = site_tree.query(
                    au[a:b], k=width, distance_upper_bound=rc * (1 + 1e-9), workers=-1
                )
            else:
                chord, idx = site_tree.query(au[a:b], k=width, workers=-1)
            chord = np.asarray(chord, dtype=np.float64).reshape(b - a, width)
            idx = np.asarray(idx).reshape(b - a, width)
            if rc is not None:
                n_in = np.count_nonzero(chord <= rc, axis=1)  # rows are sorted: a prefix
                length = np.maximum(n_in, k_eff)
            else:
                n_in = None
                length = np.full(b - a, k_eff, dtype=np.int64)
            if cap is not None:
                if n_in is not None:
                    n_capped += int(np.count_nonzero(n_in > cap))
                length = np.minimum(length, cap)
            length = np.minimum(length, width)
            keep = np.arange(width)[None, :] < length[:, None]
            # equal distances: order by site index (deterministic, chunk-independent)
            tie = np.flatnonzero(np.any((chord[:, 1:] == chord[:, :-1]) & keep[:, 1:], axis=1))
            if tie.size:
                order = np.lexsort((idx[tie], chord[tie]))
                chord[tie] = np.take_along_axis(chord[tie], order, axis=1)
                idx[tie] = np.take_along_axis(idx[tie], order, axis=1)
            count = int(length.sum())
            if pos + count > indices.shape[0]:  # only when rounding at r disagrees with the count
                grow = max(pos + count, int(indices.shape[0] * 1.25) + 1)
                indices = np.resize(indices, grow)
                km = np.resize(km, grow)
            indices[pos : pos + count] = idx[keep]
            km[pos : pos + count] = chord_to_km(chord[keep])
            np.cumsum(length, out=indptr[a + 1 : b + 1])
            indptr[a + 1 : b + 1] += pos
            pos += count
        if pos < indices.shape[0]:
            indices.resize(pos, refcheck=False)
            km.resize(pos, refcheck=False)
        if n_capped:
            log.info("network: max_sites_per_area=%d bound for %d of %d areas", cap, n_capped, n)
        return cls(
            indptr=indptr,
            indices=indices,
            km=km,
            n_areas=n,
            n_sites=m,
            radius_km=radius_km,
            k=k_attr,
            max_sites_per_area=cap,
            n_capped=n_capped,
        )

    @classmethod
    def _from_sorted_pairs(cls, i, j, d, n, m, radius_km, k, cap=None) -> Network:
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
            max_sites_per_area=cap,
        )


def _chunks(n: int, k_eff: int, want: np.ndarray | None, budget: int):
    """Yield ``(start, stop, width)``: consecutive area ranges whose candidate block
    ``(stop - start) x width`` holds at most ``budget`` entries (at least one area)."""
    budget = max(1, int(budget))
    if want is None:
        step = max(1, budget // max(1, k_eff))
        for a in range(0, n, step):
            yield a, min(n, a + step), k_eff
        return
    a = 0
    rows_max = max(1, budget // max(1, k_eff))
    while a < n:
        seg = want[a : a + rows_max]
        acc = np.maximum.accumulate(seg)
        ok = np.arange(1, seg.shape[0] + 1) * np.maximum(acc, 1) <= budget
        size = seg.shape[0] if ok.all() else max(1, int(np.argmin(ok)))
        yield a, a + size, int(acc[size - 1])
        a += size
