"""Great-circle distances and the sparse Network, checked against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storeplan.geo import EARTH_RADIUS_KM, Network, haversine_km, nearest, pairs_within


def test_haversine_known_distances():
    # A quarter of a great circle along the equator: pi/2 * R.
    assert haversine_km(0, 0, 90, 0) == pytest.approx(np.pi / 2 * EARTH_RADIUS_KM)
    # Pole to pole through any meridian: pi * R.
    assert haversine_km(10, -90, 10, 90) == pytest.approx(np.pi * EARTH_RADIUS_KM)
    # One degree of latitude ~ 111.19 km on the mean sphere.
    assert haversine_km(116.4, 39.9, 116.4, 40.9) == pytest.approx(111.195, abs=1e-3)


def _random_points(rng, n, lon=(110, 122), lat=(22, 32)):
    return rng.uniform(*lon, n), rng.uniform(*lat, n)


@pytest.mark.parametrize("radius_km,k", [(30.0, None), (None, 4), (25.0, 3)], ids=["radius", "knn", "both"])
def test_sparse_network_matches_brute_force(radius_km, k):
    rng = np.random.default_rng(1)
    alon, alat = _random_points(rng, 400)
    slon, slat = _random_points(rng, 250)
    net = Network.build(alon, alat, slon, slat, radius_km=radius_km, k=k, dense_pair_limit=0)
    full = haversine_km(alon[:, None], alat[:, None], slon[None, :], slat[None, :])
    for i in range(400):
        row = slice(net.indptr[i], net.indptr[i + 1])
        cols, km = net.indices[row], net.km[row]
        # distances are right and sorted
        np.testing.assert_allclose(km, full[i, cols], rtol=1e-5, atol=1e-3)
        assert np.all(np.diff(km) >= 0)
        expected = set()
        if radius_km is not None:
            expected |= set(np.flatnonzero(full[i] < radius_km - 1e-6))
        if k is not None:
            expected |= set(np.argsort(full[i])[:k])
        assert expected <= set(cols.tolist())
        if radius_km is not None and k is not None:
            # nothing beyond the radius except the k nearest
            extra = set(cols.tolist()) - set(np.flatnonzero(full[i] <= radius_km + 1e-6))
            assert extra <= set(np.argsort(full[i])[:k])


def test_dense_network_is_complete_and_keeps_zero_distance():
    lon = np.array([120.0, 120.1, 120.2])
    lat = np.array([30.0, 30.0, 30.1])
    net = Network.build(lon, lat, lon, lat)
    assert net.is_complete and net.nnz == 9
    csr = net.to_csr()
    # the diagonal zeros are stored explicitly (a site at the area itself)
    assert csr.nnz == 9
    assert csr[0, 0] == 0.0 and csr[0, 1] > 0


def test_network_too_large_without_limits():
    lon = np.linspace(100, 120, 3000)
    lat = np.full(3000, 30.0)
    with pytest.raises(ValueError, match="radius_km or k"):
        Network.build(lon, lat, lon, lat, dense_pair_limit=1000)


def test_row_max_is_largest_stored_distance():
    rng = np.random.default_rng(3)
    alon, alat = _random_points(rng, 50)
    net = Network.build(alon, alat, alon, alat, k=5, dense_pair_limit=0)
    rm = net.row_max_km()
    for i in range(50):
        assert rm[i] == pytest.approx(net.km[net.indptr[i] : net.indptr[i + 1]].max())


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(1.0, 200.0))
def test_pairs_within_matches_brute_force(seed, km):
    rng = np.random.default_rng(seed)
    lon, lat = _random_points(rng, 60, lon=(115, 118), lat=(28, 31))
    pairs = pairs_within(lon, lat, km)
    d = haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    iu, ju = np.triu_indices(60, 1)
    close = d[iu, ju] < km * (1 - 1e-9)
    expected = {(int(a), int(b)) for a, b in zip(iu[close], ju[close], strict=True)}
    got = {(int(a), int(b)) for a, b in pairs}
    # allow disagreement only for pairs within float error of the threshold
    diff = expected ^ got
    assert all(abs(d[a, b] - km) < 1e-6 * km for a, b in diff)


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(5)
    alon, alat = _random_points(rng, 300)
    slon, slat = _random_points(rng, 40)
    km, idx = nearest(alon, alat, slon, slat)
    full = haversine_km(alon[:, None], alat[:, None], slon[None, :], slat[None, :])
    np.testing.assert_array_equal(idx, full.argmin(axis=1))
    np.testing.assert_allclose(km, full.min(axis=1), rtol=1e-9, atol=1e-6)
