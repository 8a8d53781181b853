"""Readers for J. E. Beasley's OR-Library p-median and uncapacitated FL files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import shortest_path

__all__ = ["read_pmed", "read_uncap", "read_optima"]


def read_pmed(path: str | Path) -> tuple[np.ndarray, int]:
    """Return ``(dist, p)``: all-pairs shortest-path distances (n x n) and p.

    The file lists ``n m p`` then ``m`` undirected edges ``i j cost`` (1-based). When an
    edge appears more than once, the LAST occurrence wins (OR-Library convention).
    """
    tok = np.array(Path(path).read_text().split(), dtype=np.int64)
    n, m, p = (int(v) for v in tok[:3])
    e = tok[3 : 3 + 3 * m].reshape(m, 3)
    w = np.full((n, n), np.inf)
    i, j, c = e[:, 0] - 1, e[:, 1] - 1, e[:, 2].astype(np.float64)
    w[i, j] = c  # later rows overwrite earlier ones
    w[j, i] = c
    # an edge given later as (j, i) must also win over an earlier (i, j): replay in order
    for a, b, cc in zip(i, j, c, strict=True):
        w[a, b] = cc
        w[b, a] = cc
    np.fill_diagonal(w, 0.0)
    graph = np.where(np.isfinite(w), w, 0.0)
    dist = shortest_path(graph, method="D", directed=False)
    return dist, p


def read_uncap(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(cost, opening_cost, demand)`` of an OR-Library UFL file.

    ``cost`` is (n_customers x m_warehouses): the cost of serving all of a customer's
    demand from a warehouse. The capacity column is ignored (literal ``capacity`` ok).
    """
    tok = Path(path).read_text().split()
    m, n = int(tok[0]), int(tok[1])
    pos = 2
    f = np.empty(m)
    for j in range(m):
        f[j] = float(tok[pos + 1])
        pos += 2
    cost = np.empty((n, m))
    demand = np.empty(n)
    for i in range(n):
        demand[i] = float(tok[pos])
        cost[i] = np.array(tok[pos + 1 : pos + 1 + m], dtype=np.float64)
        pos += 1 + m
    return cost, f, demand


def read_optima(path: str | Path) -> dict[str, float]:
    """Read ``pmedopt.txt`` / ``uncapopt.txt``: name -> optimal value."""
    out: dict[str, float] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                val = float(parts[-1])
            except ValueError:
                continue
            out[parts[0].removesuffix(".txt")] = val
    return out
