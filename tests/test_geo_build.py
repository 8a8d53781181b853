"""The chunked, memory-bounded Network.build: equal to a one-shot all-pairs build,
per-area cap honoured and reported, and a 10^5 x 10^4 build inside a hard memory limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from storeplan.geo import Network, chord_to_km, km_to_chord, unit_vectors


def _one_shot(alon, alat, slon, slat, radius_km, k):
    """Reference: every pair within the radius plus the k nearest, all at once
    (the pre-chunking algorithm: 64-bit triplets, np.unique, one global lexsort)."""
    n, m = len(alon), len(slon)
    au, su = unit_vectors(alon, alat), unit_vectors(slon, slat)
    st_ = cKDTree(su)
    ii, jj, cc = [], [], []
    if radius_km is not None:
        pairs = cKDTree(au).sparse_distance_matrix(st_, km_to_chord(radius_km), output_type="ndarray")
        ii.append(pairs["i"].astype(np.int64))
        jj.append(pairs["j"].astype(np.int64))
        cc.append(pairs["v"])
    if k is not None:
        kk = min(k, m)
        c, j = st_.query(au, k=kk)
        ii.append(np.repeat(np.arange(n), kk))
        jj.append(np.asarray(j).reshape(n, kk).ravel().astype(np.int64))
        cc.append(np.asarray(c).reshape(n, kk).ravel())
    i, j, c = np.concatenate(ii), np.concatenate(jj), np.concatenate(cc)
    _, first = np.unique(i * m + j, return_index=True)
    i, j, c = i[first], j[first], c[first]
    order = np.lexsort((j, c, i))
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])
    return indptr, j[order].astype(np.int32), chord_to_km(c[order]).astype(np.float32)


def _points(seed, n, m):
    rng = np.random.default_rng(seed)
    # towns (clustered) plus uniform points, so row lengths vary a lot
    centres = rng.uniform((113, 29), (117, 32), (6, 2))
    a = centres[rng.integers(0, 6, n)] + rng.normal(0, 0.15, (n, 2))
    a[: n // 2] = rng.uniform((113, 29), (117, 32), (n // 2, 2))
    s = rng.uniform((113, 29), (117, 32), (m, 2))
    return a[:, 0], a[:, 1], s[:, 0], s[:, 1]


@pytest.mark.parametrize("chunk_entries", [1, 97, 10**9], ids=["one-area", "small", "one-chunk"])
@pytest.mark.parametrize(
    "radius_km,k", [(25.0, None), (None, 6), (20.0, 4), (60.0, 300)], ids=["radius", "knn", "both", "k>m"]
)
def test_chunked_build_equals_one_shot(radius_km, k, chunk_entries):
    alon, alat, slon, slat = _points(0, 700, 230)
    net = Network.build(
        alon, alat, slon, slat, radius_km=radius_km, k=k, dense_pair_limit=0, chunk_entries=chunk_entries
    )
    indptr, indices, km = _one_shot(alon, alat, slon, slat, radius_km, k)
    np.testing.assert_array_equal(net.indptr, indptr)
    np.testing.assert_array_equal(net.indices, indices)  # same sites, same order
    np.testing.assert_allclose(net.km, km, rtol=1e-6, atol=1e-6)
    assert net.indices.dtype == np.int32 and net.km.dtype == np.float32 and net.indptr.dtype == np.int64
    assert net.n_capped == 0 and net.max_sites_per_area is None
    assert net.k == (None if k is None else min(k, 230))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    radius=st.one_of(st.none(), st.floats(1.0, 80.0)),
    k=st.one_of(st.none(), st.integers(1, 12)),
    chunk=st.integers(1, 400),
)
def test_chunked_build_equals_one_shot_property(seed, radius, k, chunk):
    if radius is None and k is None:
        k = 3
    alon, alat, slon, slat = _points(seed, 120, 45)
    net = Network.build(
        alon, alat, slon, slat, radius_km=radius, k=k, dense_pair_limit=0, chunk_entries=chunk
    )
    one = Network.build(
        alon, alat, slon, slat, radius_km=radius, k=k, dense_pair_limit=0, chunk_entries=10**9
    )
    ref = _one_shot(alon, alat, slon, slat, radius, k)
    for got in (net, one):
        np.testing.assert_array_equal(got.indptr, ref[0])
        np.testing.assert_array_equal(got.indices, ref[1])
        np.testing.assert_allclose(got.km, ref[2], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(net.km, one.km)  # bit-identical across chunkings


@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("chunk_entries", [13, 10**9])
def test_cap_keeps_the_nearest_and_is_reported(k, chunk_entries):
    alon, alat, slon, slat = _points(4, 600, 300)
    cap = 10
    full = Network.build(alon, alat, slon, slat, radius_km=40.0, k=k, dense_pair_limit=0)
    net = Network.build(
        alon,
        alat,
        slon,
        slat,
        radius_km=40.0,
        k=k,
        max_sites_per_area=cap,
        dense_pair_limit=0,
        chunk_entries=chunk_entries,
    )
    full_len = np.diff(full.indptr)
    got_len = np.diff(net.indptr)
    # the radius alone stores more than the cap for these areas
    within = np.array(
        [np.count_nonzero(full.km[full.indptr[i] : full.indptr[i + 1]] <= 40.0) for i in range(600)]
    )
    assert (within > cap).sum() > 50  # the cap really binds on this instance
    assert net.n_capped == int((within > cap).sum())
    assert net.max_sites_per_area == cap
    np.testing.assert_array_equal(got_len, np.minimum(full_len, cap))
    for i in range(600):
        a, b = net.indptr[i], net.indptr[i + 1]
        fa = full.indptr[i]
        # each capped row is the nearest-first prefix of the uncapped row
        np.testing.assert_array_equal(net.indices[a:b], full.indices[fa : fa + (b - a)])
        np.testing.assert_array_equal(net.km[a:b], full.km[fa : fa + (b - a)])
    # the largest stored distance still bounds every site left out from below
    rm = net.row_max_km()
    for i in np.flatnonzero(got_len < full_len)[:50]:
        dropped = full.km[full.indptr[i] + got_len[i] : full.indptr[i + 1]]
        assert np.all(dropped >= rm[i])


def test_cap_below_k_is_refused():
    alon, alat, slon, slat = _points(1, 50, 40)
    with pytest.raises(ValueError, match="max_sites_per_area"):
        Network.build(alon, alat, slon, slat, k=5, max_sites_per_area=4, dense_pair_limit=0)
    with pytest.raises(ValueError, match="max_sites_per_area"):
        Network.build(alon, alat, slon, slat, radius_km=5.0, max_sites_per_area=0, dense_pair_limit=0)


def test_cap_below_n_sites_skips_the_dense_build():
    alon, alat, slon, slat = _points(2, 30, 20)
    net = Network.build(alon, alat, slon, slat, k=3, max_sites_per_area=5)
    assert not net.is_complete
    assert np.all(np.diff(net.indptr) == 3)  # the k nearest; the cap of 5 does not bind
    dense = Network.build(alon, alat, slon, slat)
    assert dense.is_complete
    for i in range(30):
        np.testing.assert_array_equal(
            net.indices[net.indptr[i] : net.indptr[i + 1]],
            dense.indices[dense.indptr[i] : dense.indptr[i] + 3],
        )


_MEMORY_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from scipy.spatial import cKDTree
    from storeplan.geo import Network, km_to_chord, unit_vectors

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmSize")

    n, m, radius, k, cap = 100_000, 10_000, 30.0, 8, 48
    rng = np.random.default_rng(0)
    alon, alat = rng.uniform(110, 115, n), rng.uniform(28, 32, n)
    slon, slat = rng.uniform(110, 115, m), rng.uniform(28, 32, m)
    within = cKDTree(unit_vectors(slon, slat)).query_ball_point(
        unit_vectors(alon, alat), km_to_chord(radius), return_length=True
    )
    budget = int(sys.argv[1])
    limit = max(int(sys.argv[2]), vm_bytes() + budget)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        np.empty(limit // 8, np.float64)  # the limit really holds
        raise SystemExit("RLIMIT_AS is not enforced")
    except MemoryError:
        pass
    net = Network.build(
        alon, alat, slon, slat, radius_km=radius, k=k, max_sites_per_area=cap, dense_pair_limit=0
    )
    lengths = np.diff(net.indptr)
    print(json.dumps({
        "pairs_within": int(within.sum()), "nnz": net.nnz, "n_capped": net.n_capped,
        "max_len": int(lengths.max()), "min_len": int(lengths.min()),
        "expected_capped": int((within > cap).sum()),
        "expected_nnz": int(np.minimum(np.maximum(within, k), cap).sum()),
        "limit": limit, "budget": budget,
    }))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux")
def test_build_1e5_by_1e4_fits_a_hard_memory_limit():
    """10^5 areas x 10^4 sites, 30 km + 8 nearest, capped at 48: the address space is
    limited to 1.5 GB (or, on machines with many threads, what the interpreter and its
    libraries already map plus 1 GiB). The one-shot all-pairs build of the same
    instance peaked at 1.9 GB RSS / 2.4 GB address space (benchmarks/RESULTS_scale.md)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    budget = 1 << 30
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(budget), str(1500 * 1024 * 1024)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["pairs_within"] > 10_000_000  # the uncapped radius network is large
    assert r["max_len"] == 48 and r["min_len"] >= 8
    assert r["nnz"] == r["expected_nnz"]
    assert r["n_capped"] == r["expected_capped"] > 90_000
