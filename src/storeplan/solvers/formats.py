r"""Format choice: every (site, format) pair is a candidate, at most one per site.

A site :math:`s` may open in one of its allowed formats :math:`F(s)`; with :math:`y_{sf}`
the open decision of the pair,

.. math::

    \sum_{f \in F(s)} y_{sf} \le 1 \;\; (= 1 \text{ when the site must open}),

which the solvers hold as minimum-spacing conflicts between the pairs of one site (a
swap between two of them is a change of format), so the site and its format are
chosen together by the same greedy, local search, bound and MIP as any other site
set. Budgets, counts per format (``at most 30 flagships``) and quotas become knapsack
rows (:class:`.constraints.Quota`) over the pairs. Every bound of every objective is a
bound over the pairs, so it covers the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, InputError

__all__ = ["FormatOptions"]


@dataclass(frozen=True)
class FormatOptions:
    """The candidate (site, format) pairs (columns of the expanded model).

    Attributes
    ----------
    site : ndarray of int64
        Site of every pair (index into the original columns), sorted.
    format : ndarray of int64
        Format index of every pair.
    n_sites : int
        Number of original columns.
    """

    site: np.ndarray
    format: np.ndarray
    n_sites: int

    @classmethod
    def from_mask(cls, allowed: np.ndarray) -> FormatOptions:
        """Pairs from a boolean (n_sites x n_formats) mask of allowed formats."""
        a = np.asarray(allowed, dtype=bool)
        if a.ndim != 2:
            raise InputError("allowed formats must be a (sites x formats) mask")
        s, f = np.nonzero(a)
        return cls(s.astype(np.int64), f.astype(np.int64), int(a.shape[0]))

    @property
    def n_options(self) -> int:
        return int(self.site.shape[0])

    def options_of(self, sites) -> np.ndarray:
        """Every pair of the given sites."""
        return np.flatnonzero(np.isin(self.site, np.asarray(sites, dtype=np.int64)))

    def expand_columns(self, matrix):
        """Copy column ``site[k]`` of a (rows x n_sites) matrix to pair column ``k``
        (dense in, dense out; sparse in, CSR out with stored zeros kept)."""
        if not sp.issparse(matrix):
            return np.asarray(matrix)[:, self.site]
        csc = sp.csc_matrix(matrix)
        out = csc[:, self.site].tocsr()
        out.sort_indices()
        return out

    def one_per_site(self) -> np.ndarray:
        """Conflict pairs between the options of one site, shape (k, 2)."""
        out = []
        starts = np.flatnonzero(np.r_[True, self.site[1:] != self.site[:-1]])
        ends = np.r_[starts[1:], self.n_options]
        for a, b in zip(starts, ends, strict=True):
            if b - a > 1:
                idx = np.arange(a, b)
                ii, jj = np.triu_indices(b - a, 1)
                out.append(np.stack([idx[ii], idx[jj]], axis=1))
        return np.concatenate(out).astype(np.int64) if out else np.empty((0, 2), dtype=np.int64)

    def expand_pairs(self, pairs) -> np.ndarray:
        """Site conflict pairs (minimum spacing) as pairs of their options."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if pairs.size == 0:
            return np.empty((0, 2), dtype=np.int64)
        order = np.argsort(self.site, kind="stable")
        first = np.searchsorted(self.site[order], np.arange(self.n_sites), side="left")
        last = np.searchsorted(self.site[order], np.arange(self.n_sites), side="right")
        out = []
        for a, b in pairs:
            oa = order[first[a] : last[a]]
            ob = order[first[b] : last[b]]
            if oa.size and ob.size:
                out.append(np.stack(np.meshgrid(oa, ob, indexing="ij"), axis=-1).reshape(-1, 2))
        return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)

    def check_sites_have_options(self, sites, ids=None, what: str = "must-open") -> None:
        """Raise InfeasibleError naming the first ``sites`` without an allowed format."""
        has = np.zeros(self.n_sites, dtype=bool)
        has[self.site] = True
        bad = [int(s) for s in np.asarray(sites, dtype=np.int64) if not has[s]]
        if bad:
            name = ids[bad[0]] if ids is not None else bad[0]
            raise InfeasibleError(
                f"{what} site {name} allows no store format (levels / min_population / min_income)"
                + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
            )

    def chosen(self, options) -> tuple[np.ndarray, np.ndarray]:
        """(sites, formats) of the chosen pairs; raises if a site got two formats."""
        o = np.asarray(options, dtype=np.int64)
        s, f = self.site[o], self.format[o]
        if np.unique(s).size != s.size:  # pragma: no cover - guarded by the conflicts
            raise InfeasibleError("a site was chosen in two formats")
        return s, f
