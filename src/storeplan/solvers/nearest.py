r"""Dense cost matrices without handling them whole: each client's nearest sites plus a
bound on the rest (internal).

For client :math:`i` keep its :math:`k_i` cheapest allowed sites :math:`N_k(i)` and the
cost :math:`t_i` of the :math:`(k_i + 1)`-th (the *tail*). The truncated model

.. math::

    \min_{|S| = p} \sum_i w_i \min\Bigl(t_i, U_i, \min_{j \in S \cap N_k(i)} c_{ij}\Bigr)

is a relaxation of the dense p-median: every site outside :math:`N_k(i)` costs at least
:math:`t_i`, so every site set costs at most as much in the truncated model as in the
dense one, and any lower bound of the truncated model (Lagrangian, MIP) is a lower
bound of the dense optimum. This is the radius idea of García, Labbé & Marín (ZEBRA,
"Solving large p-median problems with a radius formulation", INFORMS J. Computing
23, 2011), applied per client. The relaxation is tight for a multiplier vector
:math:`\lambda` when :math:`\lambda_i < w_i t_i` for every client: the arcs left out
then have non-negative reduced cost and contribute nothing to :math:`L(\lambda)`. So
the clients to enlarge are those whose multiplier reaches :math:`w_i t_i` (or whose
incumbent service is the tail); their :math:`k_i` doubles and the structure is rebuilt
from the dense matrix, a few rows at a time.

Memory: the matrix is read in row blocks of about :data:`BLOCK_BYTES`; only the kept
pairs (int32 site, float64 cost) and the per-client tails are stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleError, InputError, NegativeValueError, SolverError
from ._minimize import improvement_threshold, solve_min_detail
from ._validate import Instance, build_instance
from .constraints import FORBIDDEN, SideArrays
from .solution import Solution, make_solution

__all__ = [
    "BLOCK_BYTES",
    "DENSE_AUTO_ENTRIES",
    "Nearest",
    "check_dense",
    "initial_k",
    "nearest",
    "enlarge",
    "trim",
    "serve",
    "solve_dense_pmedian",
]

#: Dense cost arrays with at least this many entries are solved on the nearest-k
#: structure by default (``pmedian(..., nearest=None)``).
DENSE_AUTO_ENTRIES = 1_000_000
#: Approximate size of one block of matrix rows read at a time, bytes.
BLOCK_BYTES = 32 * 2**20


@dataclass
class Nearest:
    """The nearest-k structure of a dense matrix (internal).

    ``k[i]`` sites are kept for client ``i`` (CSR ``indptr, indices, vals``, raw costs
    sorted ascending, allowed sites only); ``tail[i]`` is the cost of its next
    cheapest allowed site (``inf`` when every allowed finite site is kept).
    """

    n: int
    m: int
    k: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    vals: np.ndarray
    tail: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])


def check_dense(cost, name: str = "cost") -> np.ndarray:
    """The 2-D float array behind ``cost`` (no copy for float32 / float64 input),
    checked for NaN and negative entries block by block."""
    arr = np.asarray(cost)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (clients x sites), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    for a, b in _blocks(arr.shape[0], arr.shape[1]):
        blk = arr[a:b]
        if np.isnan(blk).any():
            raise NegativeValueError(f"{name} holds NaN entries")
        if (blk < 0).any():
            raise NegativeValueError(f"{name} holds negative entries")
    return arr


#: The first structure may keep up to this many pairs in all (about 190 MB with its
#: column copy) when twice the sites per open site is more than 96 per client.
INITIAL_PAIRS = 8_000_000
#: Memory the first structure is sized for, together with the dense matrix itself,
#: bytes, and the peak memory per kept pair while the structure and its engine
#: instance are built (measured on the 16,322 x 3,500 China matrix: 3.0 M pairs,
#: 224 MiB above the matrix and the interpreter).
MEMORY_BUDGET = 2**30
PAIR_BYTES = 80
#: Sites kept per client at first, per site per open site (:func:`initial_k`).
SITES_PER_MEDIAN = 2.0


def initial_k(m: int, p: int, n: int | None = None, dense_bytes: int = 0) -> int:
    """First number of nearest sites kept per client: about :data:`SITES_PER_MEDIAN`
    times the sites per open site, at least 16, and at most 96 per client or the
    larger number of pairs in all that both :data:`INITIAL_PAIRS` and the memory left
    by the dense matrix (``dense_bytes``) in :data:`MEMORY_BUDGET` (at
    :data:`PAIR_BYTES` a pair) allow (``n`` = number of clients).

    At small ``p`` a client's multiplier is about its distance to its median, and the
    sites closer than that are fewer than ``m / p`` (measured on the China matrix at
    p = 50: 58 arcs below the multipliers per client, ``m / p = 70``): starting well
    below that costs rounds of enlarging, and a local search on a model whose tails
    bind misjudges the dense objective (5,934 uniform points, p = 10, 60 s: from
    k = 96, four rounds of enlarging left a 2.8 % gap); starting far above it makes
    every Lagrangian step read long rows (China, p = 50, volume steps: k = 210 took
    41-62 s to a 0.1 % gap and 1.0-1.1 GB, k = 140 19-30 s and 0.77 GB)."""
    if n is None:
        cap = 96
    else:
        pairs = min(INITIAL_PAIRS, max(MEMORY_BUDGET - int(dense_bytes), 0) // PAIR_BYTES)
        cap = max(96, pairs // max(int(n), 1))
    return int(min(m, max(16, min(cap, int(np.ceil(SITES_PER_MEDIAN * m / max(p, 1)))))))


def _blocks(n: int, m: int):
    rows = max(1, BLOCK_BYTES // max(8 * m, 1))
    for a in range(0, n, rows):
        yield a, min(n, a + rows)


def _rows_nearest(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every row of ``block`` (inf = not allowed): its ``k`` cheapest finite entries
    (sorted by cost, then site), their count, and the next cost (inf if none)."""
    r, m = block.shape
    kk = min(k, m)
    if kk < m:
        part = np.argpartition(block, kk, axis=1)[:, : kk + 1]
    else:
        part = np.broadcast_to(np.arange(m), (r, m)).copy()
    pv = np.take_along_axis(block, part, axis=1)
    order = np.lexsort((part, pv), axis=1)
    part = np.take_along_axis(part, order, axis=1)
    pv = np.take_along_axis(pv, order, axis=1)
    keep_idx, keep_val = part[:, :kk], pv[:, :kk]
    tail = pv[:, kk] if kk < m else np.full(r, np.inf)
    cnt = np.isfinite(keep_val).sum(axis=1)
    return keep_idx, keep_val, cnt, tail


def _gather(D: np.ndarray, rows: np.ndarray, forbidden: np.ndarray | None) -> np.ndarray:
    blk = np.array(D[rows], dtype=np.float64)
    if forbidden is not None:
        blk[:, forbidden] = np.inf
    return blk


def nearest(D: np.ndarray, k, forbidden: np.ndarray | None = None) -> Nearest:
    """Build the nearest-``k`` structure of ``D`` (``k`` an int or one per row); sites
    flagged in ``forbidden`` (bool per site) are left out (they never open)."""
    n, m = D.shape
    kr = np.broadcast_to(np.asarray(k, dtype=np.int64), (n,)).copy()
    forb = None if forbidden is None or not forbidden.any() else np.flatnonzero(forbidden)
    return _assemble(D, n, m, kr, np.arange(n), None, forb)


def trim(nr: Nearest, k) -> Nearest:
    """Keep at most ``k`` (an int or one per row) of each row's entries; a row cut
    short gets the cost of its first dropped entry as its tail. Still a relaxation of
    the dense problem (the tail is a lower bound of every site left out); no matrix
    read."""
    kr = np.minimum(np.broadcast_to(np.asarray(k, dtype=np.int64), (nr.n,)), nr.k)
    counts = np.diff(nr.indptr)
    new = np.minimum(counts, kr)
    cut = new < counts
    tail = nr.tail.copy()
    tail[cut] = nr.vals[nr.indptr[:-1][cut] + new[cut]]
    rank = np.arange(nr.nnz) - np.repeat(nr.indptr[:-1], counts)
    mask = rank < np.repeat(new, counts)
    del rank
    indptr = np.zeros(nr.n + 1, dtype=np.int64)
    np.cumsum(new, out=indptr[1:])
    return Nearest(
        n=nr.n, m=nr.m, k=kr.copy(), indptr=indptr, indices=nr.indices[mask], vals=nr.vals[mask], tail=tail
    )


def enlarge(
    D: np.ndarray, nr: Nearest, rows: np.ndarray, forbidden: np.ndarray | None = None, factor: int = 2
) -> Nearest:
    """Multiply ``k`` by ``factor`` for ``rows`` (at most ``m``) and rebuild only those rows."""
    kr = nr.k.copy()
    kr[rows] = np.minimum(factor * kr[rows], nr.m)
    forb = None if forbidden is None or not forbidden.any() else np.flatnonzero(forbidden)
    return _assemble(D, nr.n, nr.m, kr, np.asarray(rows, dtype=np.int64), nr, forb)


def _assemble(D, n, m, kr, rows, old: Nearest | None, forb) -> Nearest:
    """Rebuild ``rows`` of the structure with their ``kr`` (copying the others from
    ``old``). Each row is written straight into its final place (at most
    ``min(k, allowed sites)`` entries; rows with fewer finite entries are compacted at
    the end), so the transient memory is one block of rows, not a copy per pair."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    allowed = m - (0 if forb is None else int(np.asarray(forb).size))
    counts = np.minimum(kr, allowed).astype(np.int64)
    if old is not None:
        changed = np.zeros(n, dtype=bool)
        changed[rows] = True
        keep_rows = np.flatnonzero(~changed)
        counts[keep_rows] = np.diff(old.indptr)[keep_rows]
    tail = np.full(n, np.inf) if old is None else old.tail.copy()
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    size = int(start[-1])
    indices = np.empty(size, dtype=np.int32)
    vals = np.empty(size, dtype=np.float64)
    if old is not None:
        # copy the unchanged rows' segments in one vectorised gather
        lens = counts[keep_rows]
        offs = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        dst = np.repeat(start[keep_rows], lens) + offs
        src = np.repeat(old.indptr[keep_rows], lens) + offs
        indices[dst] = old.indices[src]
        vals[dst] = old.vals[src]
        del dst, src, offs
    found = counts.copy()
    # rows with the same k are read together, in blocks
    for kv in np.unique(kr[rows]):
        sel = rows[kr[rows] == kv]
        kw = int(min(kv, allowed))
        for a, b in _blocks(sel.size, m):
            rr = sel[a:b]
            ki, kvv, cnt, tl = _rows_nearest(_gather(D, rr, forb), int(kv))
            pos = start[rr][:, None] + np.arange(kw)[None, :]
            indices[pos] = ki[:, :kw]
            vals[pos] = kvv[:, :kw]
            found[rr] = cnt
            tail[rr] = tl
    if np.any(found != counts):
        # some rows had fewer finite allowed entries than their k: drop the rest
        rank = np.arange(size) - np.repeat(start[:-1], counts)
        mask = rank < np.repeat(found, counts)
        indices, vals = indices[mask], vals[mask]
        counts = found
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return Nearest(n=n, m=m, k=kr, indptr=indptr, indices=indices, vals=vals, tail=tail)


def serve(D: np.ndarray, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every client's cheapest site among ``sites`` in ``D`` (read in row blocks):
    returns (cost, site; -1 and inf when none of them is finite)."""
    n = D.shape[0]
    sites = np.asarray(sites, dtype=np.int64)
    cost = np.full(n, np.inf)
    site = np.full(n, -1, dtype=np.int64)
    if sites.size == 0:
        return cost, site
    for a, b in _blocks(n, sites.size):
        sub = np.asarray(D[a:b][:, sites], dtype=np.float64)
        arg = np.argmin(sub, axis=1)
        c = sub[np.arange(b - a), arg]
        cost[a:b] = c
        site[a:b] = np.where(np.isfinite(c), sites[arg], -1)
    return cost, site


#: Most rounds of enlarging ``k`` before the final search, and most repeats of the
#: final search (restarted from the best multipliers) without a time limit. Under a time
#: limit the final search repeats until the limit (at most :data:`MAX_TIMED_REPEATS`
#: times), each repeat's VNS with its own seed: at small ``p`` the local optima of the
#: swap are far apart and most of the gap is the incumbent's (measured on 5,934 uniform
#: points, p = 10: greedy + swap 0.51 % above the bound after 3,000 steps, its VNS
#: 0.02 %).
MAX_ROUNDS = 12
FINAL_REPEATS = 4
MAX_TIMED_REPEATS = 60
#: Subgradient iterations and patience of a round that only looks for clients to
#: enlarge; the final round runs ``max(2000, 25 * patience)`` iterations with a patience
#: that grows with the number of clients (:func:`final_patience`).
ROUND_ITERATIONS = 300
ROUND_PATIENCE = 50
#: A client is enlarged when its multiplier reaches its weighted tail cost or the
#: incumbent serves it by the tail; its ``k`` is multiplied by :data:`GROW_FACTOR`.
GROW_FACTOR = 4
#: The enlarging rounds end (and the final search starts) once what the tails can
#: still cost the bound, ``sum_i max(0, lambda_i - w_i t_i)`` plus the incumbent's
#: service beyond its tails, is below this share of the gap.
GROW_STOP_SHARE = 0.25
#: Rows are cut (:func:`trim`) to ``TRIM_FACTOR * depth + TRIM_EXTRA`` entries (at
#: least ``TRIM_MIN``), ``depth`` the entries below the larger of the client's
#: multiplier and its service cost, when that drops ``TRIM_SAVING`` of the pairs.
TRIM_FACTOR = 2
TRIM_EXTRA = 4
TRIM_MIN = 16
TRIM_SAVING = 0.2
#: Deflection of the subgradient steps (Camerini, Fratta & Maffioli 1975). Measured on
#: the China instance at p = 200 (1.0 M pairs, 2,000 steps, patience 163): gap 0.46 %
#: plain, 0.07 % deflected; at p = 50 (2.5 M pairs, 1,000 steps): 8.8 % and 3.2 %.
DEFLECTION = 1.5
#: Use the volume algorithm (:func:`.bounds.lagrangian_min`, ``volume=True``) instead
#: of the deflected subgradient.
VOLUME = True
#: Cold searches (no multipliers to continue from) start from the dual ascent's
#: multipliers (:func:`.bounds.dual_ascent_min`) when those bound higher than the
#: incumbent's service costs.
DUAL_ASCENT = True
#: The final search runs the Lagrangian heuristic about every this many volume steps
#: and aims at the better incumbent (measured on the China matrix at p = 50: a final
#: search aiming at a local optimum 0.2 % above the best one ran its 4,075 steps
#: without reaching the target, which the heuristic after it then met).
PRIMAL_EVERY = 250
#: Smallest step factor (in :func:`.bounds.lagrangian_min`'s ``pi0`` units) a continued
#: volume search starts from.
CONTINUE_F_MIN = 0.05
#: When a final search stalls (:data:`STALL_SHARE`) short of the target with no
#: multiplier at its tail, the clients whose multiplier is within this share of their
#: weighted tail cost are enlarged (at most :data:`MAX_NEAR_ROUNDS` times): a tail caps
#: what its client adds to the bound. A safeguard: the stall measured on 1,400 uniform
#: points, p = 10 (k = 384) was the warm start's, not the tails'.
NEAR_TAIL = 0.1
MAX_NEAR_ROUNDS = 3
#: A final search that raises the bound by less than this share of the gap has stalled:
#: the next one starts cold, from the incumbent's service costs, instead of from the
#: best multipliers (measured on 1,400 uniform points, p = 10: three warm restarts left
#: the bound 0.43 % below the incumbent, the first cold one 0.10 %).
STALL_SHARE = 0.01
#: Share of the time left that one round's MIP may take, so that a MIP which does not
#: finish leaves time to the next repeat of the search (measured on 1,400 uniform
#: points, p = 10, 60 s: the MIP over the 150,000 arcs left by the reduced-cost fixing
#: took 48 s without raising the bound).
MIP_SHARE = 0.5


def final_patience(n: int) -> int:
    """Subgradient patience (steps without improvement before the step halves) of the
    final round: 50 up to 5,000 clients, then one per 100 clients, at most 300. Many
    clients make single steps noisy; halving too early stalls the bound (measured on
    the 16,048-client China instance: 0.25 % gap after 2,000 steps with patience 50,
    0.08 % after 4,000 with patience 200)."""
    return int(min(300, max(50, n // 100)))


def _instance(nr: Nearest, w: np.ndarray, u: np.ndarray | None) -> Instance:
    """The truncated model as an engine instance: the tail is an "unserved" option of
    cost ``w_i t_i`` (``min`` with the caller's unserved cost); clients with no tail and
    no unserved cost must be served (a large cost ``big``)."""
    rows = np.repeat(np.arange(nr.n), np.diff(nr.indptr))
    wcost = nr.vals * w[rows]
    with np.errstate(invalid="ignore"):
        unserved = w * nr.tail  # 0 * inf = nan for zero weights: no cost either way
    unserved[w == 0] = 0.0
    if u is not None:
        unserved = np.minimum(unserved, u * w)
    open_end = ~np.isfinite(unserved)
    if open_end.any():
        counts = np.diff(nr.indptr)
        rowmax = np.zeros(nr.n)
        has = counts > 0
        rowmax[has] = wcost[nr.indptr[1:][has] - 1]
        top = np.where(open_end, rowmax, unserved)
        unserved[open_end] = float(np.ceil(2.0 * (top.sum() + 1.0)))
    return build_instance(nr.n, nr.m, nr.indptr, nr.indices, wcost, unserved)


def solve_dense_pmedian(
    D: np.ndarray,
    w: np.ndarray,
    u: np.ndarray | None,
    side: SideArrays,
    kmin: int,
    kmax: int,
    *,
    k0: int,
    time_limit: float | None,
    seed: int,
    method: str,
    t0: float,
    target_gap: float = 0.0,
) -> Solution:
    """p-median on a dense matrix through the nearest-``k`` relaxation (see the module
    docstring). Every bound comes from a truncated model, so it is valid for ``D``;
    every objective is evaluated on ``D`` itself."""
    deadline = None if time_limit is None else t0 + time_limit
    n, m = D.shape
    forbidden = side.status == FORBIDDEN
    nr = nearest(D, k0, forbidden)
    if u is None and np.any(np.diff(nr.indptr) == 0):
        bad = np.flatnonzero(np.diff(nr.indptr) == 0)
        raise InfeasibleError(
            f"{bad.size} client(s) (e.g. client {int(bad[0])}) have no finite cost to a site that may "
            "open, and unserved_cost is None (every client must be served)"
        )
    uw = None if u is None else u * w
    best_obj, best_sites, best_cost, best_site = np.inf, None, None, None
    bound = -np.inf
    integral = True
    lam = None
    lam_start = None
    pi_start = 2.0
    patience = final_patience(n)
    final_its = max(2000, 25 * patience)
    rounds = 0
    enlarged = 0
    trimmed = 0
    methods: list[str] = []
    iterations = 0
    out = None
    last: Solution | None = None
    inst = _instance(nr, w, u)

    def evaluate(sites):
        c, j = serve(D, sites)
        cost = w * c
        cost[w == 0] = 0.0
        if uw is not None:
            un = uw < cost
            cost = np.where(un, uw, cost)
            j = np.where(un, -1, j)
        return float(cost.sum()), cost, j

    def left() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    def proven_now() -> bool:
        return bound >= improvement_threshold(inst, best_obj) or bound >= best_obj * (1.0 - target_gap)

    final = False
    repeats = 0
    near_rounds = 0
    while True:
        tl = left()
        if tl is not None and tl <= 0:
            break
        rounds += 1
        final = final or rounds >= MAX_ROUNDS
        out = solve_min_detail(
            inst,
            side,
            kmin,
            kmax,
            ufl=False,
            time_limit=tl,
            seed=seed + repeats,
            method=method,
            label="pmedian",
            t0=time.perf_counter(),
            start=best_sites,
            lam0=lam_start,
            pi0=pi_start if VOLUME else 2.0,
            final=final,
            lagrangian_iterations=final_its if final else ROUND_ITERATIONS // (1 if rounds == 1 else 2),
            lagrangian_patience=patience if final else ROUND_PATIENCE,
            target_gap=target_gap,
            truncated_mip=False,
            lagrangian_tau=DEFLECTION,
            lagrangian_volume=VOLUME,
            mip_share=MIP_SHARE,
            dual_ascent=DUAL_ASCENT,
            lagrangian_primal_every=PRIMAL_EVERY if final else 0,
            # the truncated optimum is at most the dense one: the best dense objective
            # bounds it, so the search stops once that is certified
            known_ub=best_obj,
        )
        last = out.solution
        iterations += out.solution.iterations
        methods.append(out.solution.method)
        integral = integral and inst.integral
        stalled = final and out.solution.bound <= bound + STALL_SHARE * max(best_obj - bound, 0.0)
        bound = max(bound, out.solution.bound)
        # a stalled final search restarts cold (STALL_SHARE)
        lam = out.lam
        lam_start = None if stalled else lam
        # a continued volume search keeps its step factor (at least CONTINUE_F_MIN):
        # restarting it at the first factor wastes steps on the stability centre
        pi_start = 2.0 if stalled else max(out.pi, CONTINUE_F_MIN)
        obj, cost, site = evaluate(out.solution.sites)
        if obj < best_obj:
            best_obj, best_sites, best_cost, best_site = obj, out.solution.sites, cost, site
        if proven_now() or rounds >= MAX_ROUNDS + (FINAL_REPEATS if deadline is None else MAX_TIMED_REPEATS):
            break
        # clients whose tail binds: multiplier at the tail cost, or served by the tail
        tail_w = w * nr.tail
        finite = np.isfinite(nr.tail) & (nr.k < m) & (w > 0)
        if uw is not None:
            finite &= tail_w < uw
        by_tail = finite & (out.state.f1 < 0)
        over = finite & (lam >= tail_w * (1 - 1e-9))
        grow = by_tail | over
        if not grow.any() and stalled and near_rounds < MAX_NEAR_ROUNDS:
            # stalled with every multiplier below its tail: enlarge those close to it
            grow = finite & (lam >= tail_w * (1 - NEAR_TAIL))
            near_rounds += int(grow.any())
        if not grow.any():
            if final:
                # restart the long search from the best multipliers (a fresh step
                # factor), while time is left; three times without a time limit
                repeats += 1
                if deadline is None and repeats >= FINAL_REPEATS:
                    break
            final = True  # the relaxation is tight at these multipliers: the long search
            continue
        excess = float(np.sum(np.maximum(lam[over] - tail_w[over], 0.0)))
        excess += float(np.sum(np.maximum(cost[by_tail] - tail_w[by_tail], 0.0))) if obj == best_obj else 0.0
        if excess <= GROW_STOP_SHARE * max(best_obj - bound, 0.0):
            final = True
        rows = np.flatnonzero(grow)
        enlarged += rows.size
        # rows far longer than their multiplier (or the incumbent's service) needs are
        # cut to TRIM_FACTOR times that depth (TRIM_MIN at least), when that saves
        # TRIM_SAVING of the pairs: each Lagrangian step reads every row up to its
        # multiplier, and its time goes into the jumps between long rows
        rows_of = np.repeat(np.arange(n), np.diff(nr.indptr))
        level = np.maximum(lam, np.where(np.isfinite(cost), cost, 0.0))
        depth = np.bincount(rows_of[nr.vals * w[rows_of] < level[rows_of]], minlength=n)
        del rows_of
        want = np.maximum(TRIM_MIN, TRIM_FACTOR * depth + TRIM_EXTRA)
        want[rows] = nr.k[rows]
        drop = int(np.maximum(np.diff(nr.indptr) - want, 0).sum())
        # drop the old engine instance (and the state that refers to it) first: only
        # one of them is held at a time
        out = None
        del inst
        if drop >= TRIM_SAVING * nr.nnz:
            trimmed += int(np.count_nonzero(want < np.diff(nr.indptr)))
            nr = trim(nr, want)
        nr = enlarge(D, nr, rows, forbidden, GROW_FACTOR)
        inst = _instance(nr, w, u)
    if best_sites is None or best_cost is None:
        raise SolverError("pmedian: no feasible solution found within the time limit")
    if u is None and not np.all(np.isfinite(best_cost)):
        raise InfeasibleError(
            f"{int(np.sum(~np.isfinite(best_cost)))} clients cannot be served by any feasible set of "
            f"{kmin} sites (give unserved_cost to allow unserved clients)"
        )
    # the truncated optimum proven by the MIP is the dense one when nothing uses a tail
    mip_opt = bool(
        last is not None
        and last.proven_optimal
        and abs(best_obj - last.objective) <= 1e-9 * max(1.0, abs(best_obj))
    )
    info = dict(last.info) if last is not None else {}
    info |= {
        "k_initial": int(k0),
        "k_mean": float(nr.k.mean()),
        "k_max": int(nr.k.max()),
        "pairs": nr.nnz,
        "dense_pairs": int(n) * int(m),
        "rounds": rounds,
        "rows_enlarged": int(enlarged),
        "rows_trimmed": int(trimmed),
    }
    return make_solution(
        best_sites,
        best_site,
        best_obj,
        bound,
        seconds=time.perf_counter() - t0,
        iterations=iterations,
        method="nearest-k+" + methods[-1],
        sense="min",
        mip_optimal=mip_opt,
        integral=integral,
        info=info,
    )
