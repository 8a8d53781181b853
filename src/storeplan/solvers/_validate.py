"""Input validation and the internal sparse cost structure (internal)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import EmptyInputError, InputError, NegativeValueError

__all__ = ["Instance", "as_sorted_csr", "check_weights", "check_unserved", "build_instance"]


@dataclass
class Instance:
    """One minimisation instance in the engine's form (see :mod:`._kernels`).

    ``cost`` holds *weighted* costs ``w_i * c_ij`` in CSR rows sorted ascending;
    ``cptr, crow, ccost`` the same entries column-wise (CSC). ``unserved`` is the
    weighted unserved cost per client (``big`` when every client must be served) and
    ``fcost`` the opening cost per site.
    """

    n: int
    m: int
    indptr: np.ndarray
    indices: np.ndarray
    cost: np.ndarray
    cptr: np.ndarray
    crow: np.ndarray
    ccost: np.ndarray
    unserved: np.ndarray
    fcost: np.ndarray
    must_serve: bool
    big: float
    integral: bool

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])

    def row_of_entry(self) -> np.ndarray:
        return np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.indptr))


def as_sorted_csr(cost, name: str = "cost") -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``cost`` (dense ndarray or scipy sparse) and return
    ``(n, m, indptr int64, indices int32, values float64)`` with rows sorted by value.

    Dense ``inf`` entries mean "not allowed"; a CSR missing entry means the same; an
    explicitly stored 0 is a real zero cost.
    """
    if sp.issparse(cost):
        if cost.ndim != 2:
            raise InputError(f"{name} must be 2-D")
        csr = cost.tocsr() if cost.format != "csr" else cost
        n, m = csr.shape
        indptr = np.asarray(csr.indptr, dtype=np.int64)
        indices = np.asarray(csr.indices, dtype=np.int64)
        data = np.asarray(csr.data, dtype=np.float64)
        if np.any(np.isnan(data)):
            raise NegativeValueError(f"{name} holds NaN entries")
        if np.any(data < 0):
            raise NegativeValueError(f"{name} holds negative entries")
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        keep = np.isfinite(data)
        order = np.lexsort((indices, data, rows))
        rows, indices, data, keep = rows[order], indices[order], data[order], keep[order]
        key = rows * max(m, 1) + indices
        if key.size > 1:
            k2 = np.sort(key)
            if np.any(k2[1:] == k2[:-1]):
                raise InputError(f"{name} has duplicate (client, site) entries; sum or drop them")
        rows, indices, data = rows[keep], indices[keep], data[keep]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return n, m, indptr, indices.astype(np.int32), data
    arr = np.asarray(cost)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (clients x sites), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    n, m = arr.shape
    if np.any(np.isnan(arr)):
        raise NegativeValueError(f"{name} holds NaN entries")
    if np.any(arr < 0):
        raise NegativeValueError(f"{name} holds negative entries")
    order = np.argsort(arr, axis=1, kind="stable")
    vals = np.take_along_axis(arr, order, axis=1)
    finite = np.isfinite(vals)
    counts = finite.sum(axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return n, m, indptr, order[finite].astype(np.int32), vals[finite]


def check_n_m(n: int, m: int) -> None:
    if n == 0:
        raise EmptyInputError("cost has no clients (0 rows)")
    if m == 0:
        raise EmptyInputError("cost has no candidate sites (0 columns)")


def check_weights(weights, n: int, name: str = "weights") -> np.ndarray:
    """Per-client non-negative finite weights (default 1)."""
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise InputError(f"{name} must have one entry per client ({n}), got {w.shape[0]}")
    if not np.all(np.isfinite(w)):
        raise NegativeValueError(f"{name} must be finite (NaN or inf found)")
    if np.any(w < 0):
        raise NegativeValueError(f"{name} must be non-negative")
    return w


def check_unserved(unserved_cost, n: int) -> np.ndarray | None:
    """Per-client unserved cost, or None when every client must be served."""
    if unserved_cost is None:
        return None
    u = np.asarray(unserved_cost, dtype=np.float64)
    if u.ndim == 0:
        u = np.full(n, float(u))
    u = u.reshape(-1)
    if u.shape[0] != n:
        raise InputError(f"unserved_cost must be a scalar or have {n} entries, got {u.shape[0]}")
    if not np.all(np.isfinite(u)) or np.any(u < 0):
        raise NegativeValueError("unserved_cost must be finite and non-negative")
    return u


def check_p(p, m: int, name: str = "p") -> int:
    if isinstance(p, bool) or not isinstance(p, int | np.integer):
        raise InputError(f"{name} must be an integer, got {p!r}")
    p = int(p)
    if p < 1 or p > m:
        raise InputError(f"{name} must be between 1 and the number of sites ({m}), got {p}")
    return p


def check_time_limit(time_limit) -> float | None:
    if time_limit is None:
        return None
    t = float(time_limit)
    if not np.isfinite(t) or t <= 0:
        raise InputError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    return t


def check_target_gap(target_gap) -> float:
    """A relative gap in [0, 1)."""
    try:
        g = float(target_gap)
    except (TypeError, ValueError):
        raise InputError(f"target_gap must be a number in [0, 1), got {target_gap!r}") from None
    if not np.isfinite(g) or g < 0 or g >= 1:
        raise InputError(f"target_gap must be a number in [0, 1), got {target_gap!r}")
    return g


def _is_integral(a: np.ndarray) -> bool:
    return bool(a.size == 0 or np.all(np.abs(a - np.round(a)) <= 1e-9 * np.maximum(1, np.abs(a))))


def build_instance(
    n: int,
    m: int,
    indptr: np.ndarray,
    indices: np.ndarray,
    wcost: np.ndarray,
    unserved: np.ndarray | None,
    fcost: np.ndarray | None = None,
) -> Instance:
    """Assemble an :class:`Instance` from sorted CSR rows of weighted costs.

    With ``unserved`` None every client must be served: the unserved cost becomes
    ``big``, larger than the cost of any solution that serves everyone.
    """
    fc = np.zeros(m) if fcost is None else np.asarray(fcost, dtype=np.float64)
    counts = np.diff(indptr)
    rowmax = np.zeros(n)
    has = counts > 0
    rowmax[has] = wcost[indptr[1:][has] - 1]
    big = float(rowmax.sum() + fc.sum() + 1.0) * 2.0
    if unserved is None:
        u = np.full(n, big)
        must = True
        integral = _is_integral(wcost) and _is_integral(fc)
    else:
        u = np.asarray(unserved, dtype=np.float64)
        must = False
        integral = _is_integral(wcost) and _is_integral(fc) and _is_integral(u)
    # column copy (CSC, rows ascending within a column); int32 temporaries, and the
    # row arrays are not copied when they already have the engine's dtypes
    order = np.argsort(indices, kind="stable")
    crow = np.repeat(np.arange(n, dtype=np.int32), counts)[order]
    wcost = np.ascontiguousarray(wcost, dtype=np.float64)
    ccost = wcost[order]
    del order
    cptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=m), out=cptr[1:])
    return Instance(
        n=n,
        m=m,
        indptr=np.ascontiguousarray(indptr, dtype=np.int64),
        indices=np.ascontiguousarray(indices, dtype=np.int32),
        cost=wcost,
        cptr=cptr,
        crow=crow,
        ccost=ccost,
        unserved=u,
        fcost=fc,
        must_serve=must,
        big=big,
        integral=integral,
    )
