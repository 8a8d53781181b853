"""Batched fast interchange (solvers._batch), forced on small instances: its state stays
exact, it ends at a local optimum of the one-move search, and it never loses to greedy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from storeplan.solvers import _batch, facility_location, pmedian, swap
from storeplan.solvers import _kernels as kern
from storeplan.solvers._validate import as_sorted_csr, build_instance
from storeplan.solvers.constraints import prepare
from storeplan.solvers.greedy import State, construct


def _sparse_instance(seed: int, n: int = 600, m: int = 120, k: int = 12):
    rng = np.random.default_rng(seed)
    xy_c = rng.random((n, 2)) * 100
    xy_s = rng.random((m, 2)) * 100
    d = np.sqrt(((xy_c[:, None, :] - xy_s[None, :, :]) ** 2).sum(axis=2))
    keep = np.argsort(d, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cost = sp.csr_matrix((np.round(d[rows, keep.ravel()], 2), (rows, keep.ravel())), shape=(n, m))
    w = rng.integers(1, 20, n).astype(float)
    return cost, w, d


def _state(cost, w, unserved, p, fcost=None):
    n, m, indptr, indices, vals = as_sorted_csr(cost)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    inst = build_instance(n, m, indptr, indices, vals * w[rows], unserved * w, fcost)
    side = prepare(None, m, p, p)
    return inst, side


@pytest.mark.parametrize("seed", range(4))
def test_batched_search_reaches_a_one_move_local_optimum(seed, monkeypatch):
    cost, w, _ = _sparse_instance(seed)
    rowmax = np.asarray(cost.max(axis=1).todense()).ravel()
    p = 15
    inst, side = _state(cost, w, rowmax, p)
    st, _ = construct(inst, side, p, p)
    greedy_obj = st.objective()
    monkeypatch.setattr(swap, "BATCH_MIN_NNZ", 0)
    moves, done = swap.improve(st, p, p)
    assert done and moves > 0 and st.nopen == p
    # the incremental state equals a from-scratch assignment of the open sites
    fresh = State(inst, side)
    fresh.open_many(st.sites)
    np.testing.assert_allclose(st.d1, fresh.d1)
    np.testing.assert_allclose(st.d2, fresh.d2)
    assert st.objective() == pytest.approx(fresh.objective(), rel=1e-12)
    assert st.objective() <= greedy_obj
    # no improving add/drop/swap is left for the exact one-move search
    tol = 1e-10 * max(1.0, float(np.abs(st.d1).sum()) / inst.n * 10)
    _, mv, _, opt = kern.local_search(
        *fresh.inst_args(), inst.fcost, *fresh.side_args(), *fresh.state_args(), p, p, 1, tol
    )
    assert opt and mv == 0


def test_batched_pmedian_matches_brute_force_quality(monkeypatch):
    """Forced batching on a whole p-median solve: the certified bound still holds
    against the exact optimum (brute force over all 5-subsets of 14 sites)."""
    import itertools

    cost, w, d = _sparse_instance(7, n=200, m=14, k=14)
    monkeypatch.setattr(swap, "BATCH_MIN_NNZ", 0)
    sol = pmedian(cost, 5, weights=w, method="heuristic")
    dense = cost.toarray()
    best = min(float((w * dense[:, list(c)].min(axis=1)).sum()) for c in itertools.combinations(range(14), 5))
    assert sol.bound <= best + 1e-6 <= sol.objective + 1e-6
    assert sol.objective == pytest.approx(float((w * dense[:, sol.sites].min(axis=1)).sum()))
    # the heuristic objective lies within the certified gap of the optimum
    assert sol.objective <= best * (1 + sol.gap) + 1e-6


def test_batched_ufl_add_drop_is_exact(monkeypatch):
    cost, w, _ = _sparse_instance(3, n=300, m=40, k=40)
    monkeypatch.setattr(swap, "BATCH_MIN_NNZ", 0)
    fc = np.full(40, 2000.0)
    wcost = sp.diags(w) @ cost
    sol = facility_location(wcost.tocsr(), fc, method="heuristic")
    dense = wcost.toarray()
    assert sol.objective == pytest.approx(float(dense[:, sol.sites].min(axis=1).sum()) + fc[sol.sites].sum())
    assert sol.bound <= sol.objective + 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_heap_greedy_makes_the_scan_greedys_choices(seed):
    """Integer costs (many ties) for odd seeds; opening costs and the stop rule for seed >= 3."""
    rng = np.random.default_rng(seed)
    n, m, k = 800, 150, 15
    d = np.round(rng.random((n, m)) * 100, 0 if seed % 2 else 3)
    keep = np.argsort(d, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cost = sp.csr_matrix((d[rows, keep.ravel()], (rows, keep.ravel())), shape=(n, m))
    n, m, indptr, indices, vals = as_sorted_csr(cost)
    fc = np.zeros(m) if seed < 3 else rng.random(m) * 300
    inst = build_instance(n, m, indptr, indices, vals, np.full(n, 100.0), fc)
    side = prepare(None, m, 1, 20)
    stop = seed >= 3
    scan = State(inst, side)
    scan.nopen, ev_scan = kern.greedy(
        *scan.inst_args(), inst.fcost, *scan.side_args(), *scan.state_args(), 1, 20, stop, 1, -1, np.zeros(m)
    )
    heap = State(inst, side)
    heap.nopen, ev_heap = _batch.greedy_heap(
        inst.cptr,
        inst.crow,
        inst.ccost,
        inst.fcost,
        side.status,
        heap.is_open,
        heap.open_list,
        heap.nopen,
        heap.d1,
        heap.f1,
        heap.d2,
        heap.f2,
        1,
        20,
        stop,
        np.zeros(m),
    )
    assert heap.nopen == scan.nopen > 0
    np.testing.assert_array_equal(heap.open_list[: heap.nopen], scan.open_list[: scan.nopen])  # same order
    assert ev_heap == ev_scan
    np.testing.assert_array_equal(heap.d1, scan.d1)
