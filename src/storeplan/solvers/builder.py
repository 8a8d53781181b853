r"""One HiGHS model builder shared by the exact models (in the spirit of spopt's
``FacilityModelBuilder``).

A model is a list of column blocks (cost, bounds, integrality) and row blocks (COO
triplets with row bounds). :meth:`MipBuilder.add_sites` adds the open/close column of
every kept site, :meth:`MipBuilder.add_side` the rows every objective shares: the
number of sites, group limits, minimum-spacing conflicts and the knapsack rows of the
budget and the quotas (see :func:`.mip.side_rows`). The objective-specific parts
(assignment, capacity, coverage rows) are added by the caller, then :meth:`solve`
passes one CSC matrix to HiGHS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .constraints import FORBIDDEN, MUST, SideArrays
from .mip import INF, make_highs, run_highs, side_rows

__all__ = ["MipBuilder", "INF"]


@dataclass
class MipBuilder:
    """Incrementally assembled mixed-integer model (internal)."""

    cost: list = field(default_factory=list)
    lo: list = field(default_factory=list)
    hi: list = field(default_factory=list)
    integer: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    cols: list = field(default_factory=list)
    vals: list = field(default_factory=list)
    row_lo: list = field(default_factory=list)
    row_hi: list = field(default_factory=list)
    n_col: int = 0
    n_row: int = 0

    def add_columns(self, cost, lo=0.0, hi=1.0, integer=False) -> np.ndarray:
        """Add ``len(cost)`` columns; return their indices."""
        c = np.asarray(cost, dtype=np.float64).reshape(-1)
        k = c.shape[0]
        self.cost.append(c)
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (k,)).copy())
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (k,)).copy())
        self.integer.append(np.full(k, bool(integer)))
        idx = self.n_col + np.arange(k, dtype=np.int64)
        self.n_col += k
        return idx

    def add_rows(self, rows, cols, vals, lo, hi, n: int) -> np.ndarray:
        """Add ``n`` rows given by COO triplets (``rows`` local, 0..n-1)."""
        self.rows.append(self.n_row + np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.asarray(vals, dtype=np.float64))
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,)).copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,)).copy())
        idx = self.n_row + np.arange(n, dtype=np.int64)
        self.n_row += n
        return idx

    def add_sites(self, side: SideArrays, cost, integer: bool = True) -> np.ndarray:
        """Open/close columns of every site (must-open fixed to 1, forbidden to 0), binary
        unless ``integer=False`` (the LP relaxation). Returns ``ycol`` (column of every
        site)."""
        m = side.status.shape[0]
        lo = np.where(side.status == MUST, 1.0, 0.0)
        hi = np.where(side.status == FORBIDDEN, 0.0, 1.0)
        return self.add_columns(np.broadcast_to(np.asarray(cost, float), (m,)), lo, hi, integer=integer)

    def add_side(self, side: SideArrays, ycol: np.ndarray, kmin: int, kmax: int) -> None:
        """The shared side rows: cardinality, groups, conflicts, budget and quotas."""
        srows, scols, svals, slo, shi, nside = side_rows(side, ycol, kmin, kmax, int(np.sum(ycol >= 0)))
        if nside == 0:
            return
        self.add_rows(
            np.concatenate(srows),
            np.concatenate(scols),
            np.concatenate(svals),
            np.concatenate([np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in slo]),
            np.concatenate([np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in shi]),
            nside,
        )

    def arrays(self):
        """``(c, lo, hi, integer, A, row_lo, row_hi)``: the model as HiGHS takes it."""
        A = sp.coo_matrix(
            (
                np.concatenate(self.vals) if self.vals else np.zeros(0),
                (
                    np.concatenate(self.rows) if self.rows else np.zeros(0, dtype=np.int64),
                    np.concatenate(self.cols) if self.cols else np.zeros(0, dtype=np.int64),
                ),
            ),
            shape=(self.n_row, self.n_col),
        )
        return (
            np.concatenate(self.cost),
            np.concatenate(self.lo),
            np.concatenate(self.hi),
            np.concatenate(self.integer),
            A,
            np.concatenate(self.row_lo) if self.row_lo else np.zeros(0),
            np.concatenate(self.row_hi) if self.row_hi else np.zeros(0),
        )

    def highs(self, *, maximise: bool, relax: bool = False, warm=None, seed: int = 0):
        """A ``highspy.Highs`` holding the model, not yet run (``relax``: every column
        continuous, the LP relaxation), for callers that re-solve it after changing
        bounds (``changeRowBounds`` / ``changeColsBounds``)."""
        c, lo, hi, integer, A, row_lo, row_hi = self.arrays()
        if relax:
            integer = np.zeros_like(integer)
        return make_highs(c, lo, hi, integer, A, row_lo, row_hi, maximise=maximise, warm=warm, seed=seed)

    def solve(
        self,
        *,
        maximise: bool,
        time_limit: float | None,
        warm=None,
        seed: int = 0,
        started: float | None = None,
    ):
        """Run HiGHS; returns ``(status, x, objective, bound, nodes)`` (see ``mip.run_highs``).

        ``time_limit`` counts from ``started`` (``time.perf_counter()``; default now)."""
        return run_highs(
            *self.arrays(),
            maximise=maximise,
            time_limit=time_limit,
            warm=warm,
            seed=seed,
            started=started,
        )
