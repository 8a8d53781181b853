"""Swap local search (fast interchange) and the VNS metaheuristic around it."""

from __future__ import annotations

import time

import numpy as np

from . import _batch
from . import _kernels as kern
from ._validate import Instance
from .constraints import SideArrays
from .greedy import State, construct

__all__ = ["improve", "heuristic_search", "SearchResult", "BATCH_MIN_NNZ"]

#: Instances with at least this many stored pairs (and no group limits, spacing or quotas)
#: use the batched fast interchange of :mod:`._batch` (many disjoint moves per pass).
BATCH_MIN_NNZ = 1_000_000


def _tol(inst: Instance, st: State) -> float:
    scale = max(1.0, abs(st.objective()) if not inst.must_serve else float(st.d1.max(initial=1.0)))
    return 1e-10 * scale


def improve(
    st: State, kmin: int, kmax: int, deadline: float | None = None, chunk: int = 50
) -> tuple[int, bool]:
    """Run add/drop/swap local search on ``st`` until a local optimum or ``deadline``
    (``time.perf_counter()`` seconds). Returns (moves, local_optimum_reached)."""
    inst = st.inst
    total_moves = 0
    tol = 1e-10 * max(1.0, float(np.abs(st.d1).sum()) / max(inst.n, 1) * 10)
    if inst.nnz >= BATCH_MIN_NNZ and not (st.side.has_groups or st.side.has_conflicts or st.side.has_quotas):
        while True:
            st.nopen, moves, _, done = _batch.local_search_batch(
                *st.inst_args(),
                inst.fcost,
                st.side.status,
                st.is_open,
                st.open_list,
                st.nopen,
                st.d1,
                st.f1,
                st.d2,
                st.f2,
                kmin,
                kmax,
                1,
                tol,
            )
            total_moves += int(moves)
            if done:
                return total_moves, True
            if deadline is not None and time.perf_counter() >= deadline:
                return total_moves, False
    while True:
        st.nopen, moves, _, done = kern.local_search(
            *st.inst_args(),
            inst.fcost,
            *st.side_args(),
            *st.state_args(),
            kmin,
            kmax,
            chunk,
            tol,
        )
        total_moves += int(moves)
        if done:
            return total_moves, True
        if deadline is not None and time.perf_counter() >= deadline:
            return total_moves, False


class SearchResult:
    """Best state of a heuristic search plus counters."""

    def __init__(self, state: State | None, moves: int, restarts: int, method: str):
        self.state = state
        self.moves = moves
        self.restarts = restarts
        self.method = method


def heuristic_search(
    inst: Instance,
    side: SideArrays,
    kmin: int,
    kmax: int,
    *,
    stop_when_no_gain: bool = False,
    seed: int = 0,
    deadline: float | None = None,
    vns_iterations: int = 0,
    start: np.ndarray | None = None,
) -> SearchResult:
    """Greedy + local search, then variable neighbourhood search.

    VNS (Hansen & Mladenović): shake the incumbent with ``k`` random feasible swaps,
    descend with fast interchange, accept if better (``k`` back to 1) else ``k + 1``.
    Deterministic for a seed unless ``deadline`` cuts it short. Returns a result whose
    ``state`` is None when no set of at least ``kmin`` sites satisfying the side
    constraints was found.
    """
    st, _ = construct(inst, side, kmin, kmax, stop_when_no_gain=stop_when_no_gain, start=start)
    method = "greedy"
    if side.has_budget:
        # budgeted greedy: the better of the saving rule and the saving-per-cost rule
        # (Khuller, Moss & Naor 1999), each after local search
        improve(st, kmin, kmax, deadline)
        alt, _ = construct(
            inst,
            side,
            kmin,
            kmax,
            stop_when_no_gain=stop_when_no_gain,
            start=start,
            rcost=np.maximum(side.bcost, 1e-9 * max(1.0, float(side.bcost.max(initial=0.0)))),
        )
        if alt.nopen >= kmin and alt.quotas_met():
            improve(alt, kmin, kmax, deadline)
            if not (st.nopen >= kmin and st.quotas_met()) or alt.objective() < st.objective():
                st = alt
                method = "greedy(cost-ratio)"
    attempt = 0
    while (st.nopen < kmin or not st.quotas_met()) and attempt < 30:
        # side constraints (spacing) blocked the plain greedy: randomized restarts
        attempt += 1
        st, _ = construct(
            inst,
            side,
            kmin,
            kmax,
            stop_when_no_gain=stop_when_no_gain,
            rcl=3 + attempt // 5,
            seed=seed * 1000 + attempt,
        )
        method = "randomized-greedy"
    if st.nopen < kmin or not st.quotas_met():
        return SearchResult(None, 0, attempt, method)
    moves, _ = improve(st, kmin, kmax, deadline)
    method += "+swap"
    best = st
    best_obj = st.objective()
    if vns_iterations <= 0 or best.nopen == 0:
        return SearchResult(best, moves, attempt, method)
    method += "+vns"
    kern.seed_rng(int(seed) & 0x7FFFFFFF)
    k = 1
    kmax_shake = max(2, min(10, best.nopen // 2 + 1))
    it = 0
    for it in range(1, vns_iterations + 1):  # noqa: B007
        if deadline is not None and time.perf_counter() >= deadline:
            break
        cand = best.copy()
        cand.nopen = kern.shake(k, *cand.inst_args(), *cand.side_args(), *cand.state_args())
        mv, _ = improve(cand, kmin, kmax, deadline)
        moves += mv + k
        obj = cand.objective()
        if obj < best_obj - 1e-9 * max(1.0, abs(best_obj)):
            best, best_obj, k = cand, obj, 1
        else:
            k = k + 1 if k < kmax_shake else 1
    return SearchResult(best, moves, attempt + it, method)
