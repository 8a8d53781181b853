"""Maximal covering on a dense matrix (read by row blocks within the radius) gives the
instance and the answer of the same matrix given as CSR, and keeps the dense checks."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp

from storeplan.errors import NegativeValueError
from storeplan.solvers import coverage

coverage_module = importlib.import_module("storeplan.solvers.coverage")


@pytest.mark.parametrize("seed", range(8))
def test_dense_and_sparse_inputs_agree(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    n, m = 60, 25
    D = rng.uniform(0, 10, size=(n, m))
    D[rng.random((n, m)) < 0.1] = np.inf  # not allowed
    D[rng.random((n, m)) < 0.05] = 0.0  # a real zero distance covers
    w = rng.uniform(1, 5, size=n)
    monkeypatch.setattr(coverage_module, "DENSE_BLOCK_BYTES", 8 * m * 7)  # 7 rows a block
    finite = np.isfinite(D)
    i, j = np.nonzero(finite)
    csr = sp.csr_matrix((D[i, j], (i, j)), shape=D.shape)
    a = coverage(D, 4, radius=3.0, weights=w)
    b = coverage(csr, 4, radius=3.0, weights=w)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    assert a.bound == pytest.approx(b.bound, rel=1e-9)
    # brute force over the chosen sites: the covered weight is what the plan reports
    cov = (D[:, a.sites] <= 3.0).any(axis=1)
    assert float(w[cov].sum()) == pytest.approx(a.objective, rel=1e-12)


def test_dense_checks_are_kept():
    D = np.ones((3, 2))
    D[1, 1] = -1.0
    with pytest.raises(NegativeValueError, match="negative"):
        coverage(D, 1, radius=2.0)
    D[1, 1] = np.nan
    with pytest.raises(NegativeValueError, match="NaN"):
        coverage(D, 1, radius=2.0)
