r"""Lagrangian relaxation bounds and reduced-cost variable fixing.

**Minimisation (p-median, UFL, with unserved option).** With :math:`y_j` open,
:math:`x_{ij}` assign, :math:`u_i` unserved, relax :math:`\sum_j x_{ij} + u_i = 1`
with multipliers :math:`\lambda_i`:

.. math::

    L(\lambda) = \sum_i \lambda_i + \sum_i \min(0, U_i - \lambda_i)
        + \min_{y \in Y} \sum_j y_j \rho_j, \qquad
    \rho_j = f_j + \sum_{i} \min(0, c_{ij} - \lambda_i),

where :math:`Y` keeps must-open / forbidden sites and the cardinality
:math:`k_{\min} \le \sum_j y_j \le k_{\max}` (group, quota and spacing constraints are
relaxed, which keeps the bound valid). With an opening-cost budget
:math:`\sum_j k_j y_j \le B` the subproblem is also solved as the LP of that knapsack
(cardinality relaxed; Dantzig's ratio rule) and the larger of the two values is used:
both relax the feasible set, so both are lower bounds. Every :math:`\lambda` gives a lower bound; subgradient
optimisation (Held-Karp step, Beasley 1993; optionally deflected) or the volume algorithm
(Barahona & Anbil 2000, used on dense nearest-k structures) maximises it.

**Maximal covering.** Relax :math:`z_i \le \sum_{j \in N(i)} y_j` with
:math:`\lambda_i \in [0, w_i]`:

.. math::

    U(\lambda) = \sum_i \max(0, w_i - \lambda_i) + \max_{y \in Y} \sum_j y_j
        \sum_{i \in C(j)} \lambda_i .
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._kernels import FORBIDDEN, MUST
from ._validate import Instance
from .constraints import SideArrays

__all__ = [
    "LagrangianResult",
    "lagrangian_min",
    "reduce_min",
    "lagrangian_cover",
    "dual_ascent_min",
    "lagrangian_value",
]


#: Volume algorithm (:func:`_volume_min`): first step factor, largest weight of the
#: newest subgradient in the direction, non-improving steps before the step factor
#: shrinks, and steps without progress before that weight halves. Measured on the
#: China matrix at p = 50 (k = 210, 2,000 steps): step factor 0.1 and 20 reds stalled
#: at 0.13 %; 0.5 and 30 reds reached 0.06 %.
VOLUME_F0 = 0.5
VOLUME_AMAX = 0.1
VOLUME_REDS = 30
VOLUME_AMAX_PATIENCE = 100


@njit(cache=True)
def _select(rho, status, kmin, kmax, sel, maximise):
    """Pick the best set of sites for site values ``rho`` under must/forbidden and
    cardinality; fills ``sel`` (0/1); returns (value, nsel, order of free sites)."""
    m = rho.shape[0]
    val = 0.0
    nmust = 0
    nfree = 0
    for j in range(m):
        sel[j] = 0
        if status[j] == MUST:
            sel[j] = 1
            val += rho[j]
            nmust += 1
        elif status[j] != FORBIDDEN:
            nfree += 1
    free = np.empty(nfree, dtype=np.int64)
    t = 0
    for j in range(m):
        if status[j] != MUST and status[j] != FORBIDDEN:
            free[t] = j
            t += 1
    order = free[np.argsort(-rho[free])] if maximise else free[np.argsort(rho[free])]
    nsel = nmust
    for t in range(nfree):
        j = order[t]
        if nsel >= kmax:
            break
        better = rho[j] > 0.0 if maximise else rho[j] < 0.0
        if nsel < kmin or better:
            sel[j] = 1
            val += rho[j]
            nsel += 1
        else:
            break
    return val, nsel, order


@njit(cache=True)
def _select_knap(rho, status, bcost, bcap, selw, maximise):
    """LP of the budget knapsack over the sites: must-open fixed, every improving free
    site taken by ratio ``|rho_j| / k_j`` until the budget is spent (the last one
    fractionally). Fills ``selw`` (fractions); returns the value."""
    m = rho.shape[0]
    val = 0.0
    cap = bcap
    idx = np.empty(m, dtype=np.int64)
    key = np.empty(m)
    n = 0
    for j in range(m):
        selw[j] = 0.0
        if status[j] == MUST:
            selw[j] = 1.0
            val += rho[j]
            cap -= bcost[j]
    for j in range(m):
        if status[j] == MUST or status[j] == FORBIDDEN:
            continue
        g = rho[j] if maximise else -rho[j]
        if g <= 0.0:
            continue
        if bcost[j] <= 0.0:
            selw[j] = 1.0
            val += rho[j]
        else:
            idx[n] = j
            key[n] = -g / bcost[j]
            n += 1
    if cap < 0.0:
        cap = 0.0
    order = idx[:n][np.argsort(key[:n])]
    for t in range(n):
        j = order[t]
        c = bcost[j]
        if c <= cap:
            selw[j] = 1.0
            val += rho[j]
            cap -= c
        else:
            f = cap / c
            selw[j] = f
            val += f * rho[j]
            break
    return val


@njit(cache=True)
def _reduced_costs(indptr, indices, cost, unserved, fcost, lam, rho):
    """Fill ``rho`` with the Lagrangian reduced site costs at multipliers ``lam`` and
    return the constant term.

    ``rho_j = f_j + sum_i min(0, c_ij - lam_i)`` over the stored arcs (rows sorted by
    cost, so each row stops at its first ``c_ij >= lam_i``); the constant is
    ``sum_i lam_i + min(0, u_i - lam_i)`` with ``u_i`` the unserved cost.
    """
    rho[:] = fcost
    const = 0.0
    for i in range(lam.shape[0]):
        li = lam[i]
        const += li
        if unserved[i] < li:
            const += unserved[i] - li
        for k in range(indptr[i], indptr[i + 1]):
            c = cost[k]
            if c >= li:
                break
            rho[indices[k]] += c - li
    return const


@njit(cache=True)
def _subgradient_min(
    indptr,
    indices,
    cost,
    unserved,
    fcost,
    status,
    kmin,
    kmax,
    lam,
    ub,
    target,
    max_iter,
    patience,
    pi0,
    bcost,
    bcap,
    best0,
    stall0,
    tau,
    dprev,
    cptr,
    crow,
    ccost,
):
    """``max_iter`` subgradient steps from ``lam`` (updated in place), continuing a
    run whose best bound so far is ``best0`` after ``stall0`` non-improving steps.
    With ``tau > 0`` the direction is deflected (Camerini, Fratta & Maffioli 1975):
    ``d = g + beta d_prev``, ``beta = -tau g.d_prev / |d_prev|^2`` when that is
    positive; ``dprev`` (updated in place) carries ``d`` between calls. The
    subgradient :math:`g_i = 1 - [U_i < \\lambda_i] - \\sum_{j: c_{ij} < \\lambda_i} y_j`
    is summed over the selected sites' columns (CSC ``cptr, crow, ccost``), which is
    much shorter than the rows' arcs below their multipliers when ``p`` is small.
    Returns (best, its multipliers, iterations, step factor, stall count)."""
    n = lam.shape[0]
    m = fcost.shape[0]
    rho = np.empty(m)
    sel = np.zeros(m, dtype=np.uint8)
    selw = np.zeros(m)
    selk = np.zeros(m)
    g = np.empty(n)
    best = best0
    best_lam = lam.copy()
    pi = pi0
    stall = stall0
    it = 0
    for it in range(max_iter):  # noqa: B007
        L = _eval_min(
            indptr,
            indices,
            cost,
            unserved,
            fcost,
            status,
            kmin,
            kmax,
            lam,
            bcost,
            bcap,
            cptr,
            crow,
            ccost,
            rho,
            sel,
            selw,
            selk,
            g,
        )
        if best + 1e-12 * max(1.0, abs(L)) < L:
            best = L
            best_lam[:] = lam
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                pi *= 0.5
                stall = 0
        if best >= target or pi < 1e-6:
            break
        norm = 0.0
        gd = 0.0
        dd = 0.0
        for i in range(n):
            gi = g[i]
            norm += gi * gi
            gd += gi * dprev[i]
            dd += dprev[i] * dprev[i]
        if norm == 0.0:
            break
        if tau > 0.0:
            beta = -tau * gd / dd if gd < 0.0 and dd > 0.0 else 0.0
            norm = 0.0
            for i in range(n):
                di = g[i] + beta * dprev[i]
                g[i] = di
                dprev[i] = di
                norm += di * di
            if norm == 0.0:
                break
        step = pi * max(ub - L, 1e-9 * max(1.0, abs(ub))) / norm
        for i in range(n):
            lam[i] += step * g[i]
            if lam[i] < 0.0:
                lam[i] = 0.0
    return best, best_lam, it + 1, pi, stall


@njit(cache=True)
def _eval_min(
    indptr,
    indices,
    cost,
    unserved,
    fcost,
    status,
    kmin,
    kmax,
    lam,
    bcost,
    bcap,
    cptr,
    crow,
    ccost,
    rho,
    sel,
    selw,
    selk,
    g,
):
    """:math:`L(\\lambda)` and a subgradient ``g`` (filled) at ``lam``; see
    :func:`_subgradient_min`."""
    n = lam.shape[0]
    m = fcost.shape[0]
    const = _reduced_costs(indptr, indices, cost, unserved, fcost, lam, rho)
    val, nsel, order = _select(rho, status, kmin, kmax, sel, False)
    for j in range(m):
        selw[j] = sel[j]
    if bcap < np.inf:
        vk = _select_knap(rho, status, bcost, bcap, selk, False)
        if vk > val:
            val = vk
            selw[:] = selk
    for i in range(n):
        g[i] = 0.0 if unserved[i] < lam[i] else 1.0
    for j in range(m):
        sj = selw[j]
        if sj > 0.0:
            for k in range(cptr[j], cptr[j + 1]):
                i = crow[k]
                if ccost[k] < lam[i]:
                    g[i] -= sj
    return const + val


@njit(cache=True)
def _volume_rules(g, v, vv, val, lam, lam_bar, other, sense, reds_max, amax_patience, vs):
    """The volume algorithm's rules after one trial point (shared by :func:`_volume_min`,
    ``sense = 1``, maximising, and :func:`_volume_cover`, ``sense = -1``, minimising).

    ``lam`` is the trial point, ``val`` its value, ``g`` its subgradient, ``vv = |v|^2``,
    ``other`` the opposite bound (an upper bound when maximising, a lower one when
    minimising). Updates in place the direction ``v = a g + (1 - a) v`` (``a`` the
    minimiser of ``|a g + (1 - a) v|`` clipped to ``[amax / 10, amax]``), the centre
    ``lam_bar`` (moved to ``lam`` when ``val`` improves on it) and ``vs`` = [best, f,
    reds, amax, started, patience best, patience count]: ``f`` grows by 1.1 (at most 2)
    after an improving step along ``v``, shrinks by 0.66 after ``reds_max`` steps that do
    not improve; ``amax`` halves when ``amax_patience`` steps move the best by less than
    1e-4 of the gap to ``other``. Multiplying by ``sense = -1`` is exact, so both callers
    compute what their own copies of these rules did."""
    n = g.shape[0]
    gv = 0.0
    gg = 0.0
    for i in range(n):
        gv += g[i] * v[i]
        gg += g[i] * g[i]
    amax = vs[3]
    # a = argmin |a g + (1 - a) v|^2
    den = gg - 2.0 * gv + vv
    a = (vv - gv) / den if den > 0.0 else amax
    if a > amax:
        a = amax
    if a < amax / 10.0:
        a = amax / 10.0
    if sense * val > sense * vs[0] + 1e-12 * max(1.0, abs(val)):
        if gv > 0.0:
            vs[1] = min(2.0, 1.1 * vs[1])
        lam_bar[:] = lam
        vs[0] = val
        vs[2] = 0.0
    else:
        vs[2] += 1.0
        if vs[2] >= reds_max:
            vs[1] *= 0.66
            vs[2] = 0.0
    for i in range(n):
        v[i] = a * g[i] + (1.0 - a) * v[i]
    vs[6] += 1.0
    if sense * vs[0] > sense * vs[5] + 1e-4 * max(sense * (other - vs[0]), 0.0):
        vs[5] = vs[0]
        vs[6] = 0.0
    elif vs[6] >= amax_patience and amax > 1e-3:
        vs[3] = 0.5 * amax
        vs[6] = 0.0


@njit(cache=True)
def _volume_min(
    indptr,
    indices,
    cost,
    unserved,
    fcost,
    status,
    kmin,
    kmax,
    lam_bar,
    ub,
    target,
    max_iter,
    bcost,
    bcap,
    cptr,
    crow,
    ccost,
    v,
    vs,
    reds_max,
    amax_patience,
):
    """``max_iter`` steps of the volume algorithm (Barahona & Anbil, Math. Prog. 87,
    2000) from the stability centre ``lam_bar`` (updated in place).

    The direction ``v`` (in place) is a convex combination of the subgradients seen,
    ``v = a g + (1 - a) v`` with ``a`` the minimiser of ``|a g + (1 - a) v|`` clipped
    to ``[amax / 10, amax]``; each trial point is ``lam_bar + s v`` with
    ``s = f (ub - L(lam_bar)) / |v|^2``, and it becomes the centre when it raises the
    bound. ``f`` grows by 1.1 after an improving step along ``v`` ("green"), shrinks
    by 0.66 after ``reds_max`` non-improving ones, and ``amax`` halves when
    the bound has not risen by 1e-4 of the gap for ``amax_patience`` steps.
    ``vs`` carries the scalars between calls: ``[L(lam_bar), f, reds, amax,
    started, last level, steps since]``. Every trial point is a multiplier vector, so
    every bound returned is ``L`` at some ``lam`` (valid whatever the step rule).
    Returns (best, iterations)."""
    n = lam_bar.shape[0]
    m = fcost.shape[0]
    rho = np.empty(m)
    sel = np.zeros(m, dtype=np.uint8)
    selw = np.zeros(m)
    selk = np.zeros(m)
    g = np.empty(n)
    lam = np.empty(n)
    it = 0
    if vs[4] == 0.0:
        vs[0] = _eval_min(
            indptr,
            indices,
            cost,
            unserved,
            fcost,
            status,
            kmin,
            kmax,
            lam_bar,
            bcost,
            bcap,
            cptr,
            crow,
            ccost,
            rho,
            sel,
            selw,
            selk,
            g,
        )
        v[:] = g
        vs[4] = 1.0
        vs[5] = vs[0]
        vs[6] = 0.0
    for it in range(max_iter):  # noqa: B007
        Lbar = vs[0]
        if Lbar >= target or vs[1] < 1e-6:
            break
        vv = 0.0
        for i in range(n):
            vv += v[i] * v[i]
        if vv == 0.0:
            break
        s = vs[1] * max(ub - Lbar, 1e-9 * max(1.0, abs(ub))) / vv
        for i in range(n):
            x = lam_bar[i] + s * v[i]
            lam[i] = x if x > 0.0 else 0.0
        L = _eval_min(
            indptr,
            indices,
            cost,
            unserved,
            fcost,
            status,
            kmin,
            kmax,
            lam,
            bcost,
            bcap,
            cptr,
            crow,
            ccost,
            rho,
            sel,
            selw,
            selk,
            g,
        )
        _volume_rules(g, v, vv, L, lam, lam_bar, ub, 1.0, reds_max, amax_patience, vs)
    return vs[0], it + 1


@njit(cache=True)
def _dual_ascent(indptr, indices, cost, unserved, fcost, status, mu, lam, max_pass):
    """Erlenkotter's dual ascent (DUALOC, Oper. Res. 26, 1978) for the LP dual of the
    p-median with the cardinality priced at ``mu`` per open site: raise each client's
    ``lam_i`` one cost level per pass (at most to its unserved cost) while every site
    ``j`` it would pay for keeps ``f_j + mu - sum_i (lam_i - c_ij)^+ >= 0``; a client
    blocked by an exhausted site stays blocked (slacks only fall), so it leaves the
    active list. Forbidden sites never constrain. Fills ``lam``; returns the passes."""
    n = lam.shape[0]
    m = fcost.shape[0]
    s = np.empty(m)
    for j in range(m):
        s[j] = np.inf if status[j] == FORBIDDEN else fcost[j] + mu
    kpos = np.empty(n, dtype=np.int64)
    active = np.empty(n, dtype=np.int64)
    na = 0
    for i in range(n):
        a = indptr[i]
        b = indptr[i + 1]
        li = cost[a] if b > a else unserved[i]
        if li > unserved[i]:
            li = unserved[i]
        lam[i] = li
        k = a
        while k < b and cost[k] <= li:
            k += 1
        kpos[i] = k
        if li < unserved[i]:
            active[na] = i
            na += 1
    passes = 0
    while na > 0 and passes < max_pass:
        passes += 1
        keep = 0
        for t in range(na):
            i = active[t]
            li = lam[i]
            ui = unserved[i]
            k = kpos[i]
            b = indptr[i + 1]
            nxt = cost[k] if k < b else ui
            if nxt > ui:
                nxt = ui
            d = nxt - li
            a = indptr[i]
            for q in range(a, k):
                sq = s[indices[q]]
                if sq < d:
                    d = sq
            if d <= 0.0:
                continue  # blocked for good
            for q in range(a, k):
                s[indices[q]] -= d
            li = li + d
            lam[i] = li
            while k < b and cost[k] <= li:
                k += 1
            kpos[i] = k
            if li < ui:
                active[keep] = i
                keep += 1
        na = keep
    return passes


def lagrangian_value(inst: Instance, side: SideArrays, kmin: int, kmax: int, lam: np.ndarray) -> float:
    """:math:`L(\\lambda)` at ``lam`` (a lower bound for minimisation)."""
    m = inst.m
    return float(
        _eval_min(
            inst.indptr,
            inst.indices,
            inst.cost,
            inst.unserved,
            inst.fcost,
            side.status,
            kmin,
            kmax,
            np.asarray(lam, dtype=np.float64),
            side.bcost if side.has_budget else np.zeros(m),
            side.bcap,
            inst.cptr,
            inst.crow,
            inst.ccost,
            np.empty(m),
            np.zeros(m, dtype=np.uint8),
            np.zeros(m),
            np.zeros(m),
            np.empty(inst.n),
        )
    )


#: Dual ascent start (:func:`dual_ascent_min`): the price of an open site is searched
#: in ``[DA_MU_LO, DA_MU_HI] * ub / p`` by golden section with this many evaluations.
DA_MU_LO = 0.1
DA_MU_HI = 2.0
DA_EVALS = 5


def dual_ascent_min(
    inst: Instance, side: SideArrays, kmin: int, kmax: int, ub: float, evals: int = DA_EVALS
) -> tuple[float, np.ndarray]:
    """Multipliers from Erlenkotter's dual ascent (:func:`_dual_ascent`) for the price
    ``mu`` of an open site that maximises :math:`L(\\lambda)`, searched by golden
    section in ``[DA_MU_LO, DA_MU_HI] * ub / kmax``. A start for
    :func:`lagrangian_min`: at small ``p`` the incumbent's service costs are a poor one
    (every closed site then saves its whole neighbourhood: measured on the 16,322 x
    3,500 China matrix at p = 50, ``L`` 55 % below the incumbent there, 1.0 % at the
    dual ascent's, and the volume steps reach a 0.1 % gap after 500 steps instead of
    1,350). Returns ``(L(lam), lam)``; ``L`` is a valid lower bound whatever ``lam``."""
    n = inst.n
    scale = max(float(ub), 0.0) / max(int(kmax), 1)
    best = (-np.inf, np.zeros(n))

    def value(fr: float) -> float:
        nonlocal best
        lam = np.empty(n)
        _dual_ascent(
            inst.indptr,
            inst.indices,
            inst.cost,
            inst.unserved,
            inst.fcost,
            side.status,
            fr * scale,
            lam,
            10**6,
        )
        v = lagrangian_value(inst, side, kmin, kmax, lam)
        if v > best[0]:
            best = (v, lam)
        return v

    if scale <= 0.0 or not np.isfinite(scale):
        value(0.0)
        return best
    gr = (5**0.5 - 1) / 2
    a, b = DA_MU_LO, DA_MU_HI
    c, d = b - gr * (b - a), a + gr * (b - a)
    fc, fd = value(c), value(d)
    for _ in range(max(int(evals) - 2, 0)):
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - gr * (b - a)
            fc = value(c)
        else:
            a, c, fc = c, d, fd
            d = a + gr * (b - a)
            fd = value(d)
    return best


#: Longest stretch of subgradient iterations between two deadline checks, seconds.
CHECK_EVERY_S = 0.1


class Pace:
    """Chunk sizes for a Numba iteration loop so that ``deadline`` (a
    ``time.perf_counter()`` value, or None) is checked about every
    :data:`CHECK_EVERY_S` seconds: the first chunk is a few iterations, later ones are
    sized from the measured time per iteration (internal)."""

    def __init__(self, deadline: float | None, max_iter: int):
        self.deadline = deadline
        self.max_iter = int(max_iter)
        self.per_it = 0.0
        self.t = time.perf_counter()

    def next_chunk(self, its: int) -> int:
        left = self.max_iter - its
        if self.deadline is None:
            return left
        if self.per_it <= 0.0:
            return max(1, min(left, 3))
        room = min(CHECK_EVERY_S, max(self.deadline - time.perf_counter(), 0.0))
        return max(1, min(left, int(room / self.per_it)))

    def done(self, k: int) -> None:
        now = time.perf_counter()
        if k > 0:
            self.per_it = (now - self.t) / k
        self.t = now

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline


@dataclass
class LagrangianResult:
    """Best Lagrangian bound, its multipliers, the iteration count and the last step
    factor (to continue the run)."""

    bound: float
    lam: np.ndarray
    iterations: int
    pi: float = 2.0


def lagrangian_min(
    inst: Instance,
    side: SideArrays,
    kmin: int,
    kmax: int,
    ub: float,
    lam0: np.ndarray,
    *,
    target: float | None = None,
    max_iter: int = 1000,
    patience: int = 30,
    deadline: float | None = None,
    pi0: float = 2.0,
    tau: float = 0.0,
    volume: bool = False,
    primal=None,
    primal_every: int = 0,
) -> LagrangianResult:
    """Subgradient optimisation of :math:`L(\\lambda)` (lower bound for minimisation).

    ``ub`` is the incumbent objective (step-size target); iterations stop once the bound
    reaches ``target`` (default ``ub``). ``deadline`` is checked about every
    :data:`CHECK_EVERY_S` seconds. ``pi0`` is the first step factor (Held-Karp
    :math:`\\pi`, halved after ``patience`` steps without improvement); pass the
    previous result's ``pi`` to continue a run from its multipliers. ``tau > 0``
    deflects each step by the previous direction (Camerini, Fratta & Maffioli 1975,
    ``tau = 1.5`` their choice), which damps the zig-zag of plain subgradient steps.
    ``volume=True`` runs the volume algorithm instead (:func:`_volume_min`, first step
    factor ``VOLUME_F0 * pi0 / 2``; ``patience`` and ``tau`` unused): it steps from the
    best multipliers along an average of the subgradients, which converges much
    faster when many clients share each open site (measured on the 16,322 x 3,500
    China matrix at p = 50, k = 210: 0.11 % from the incumbent after 1,250 steps,
    against 2.7 % for the deflected subgradient).
    ``primal`` (volume steps only): called as ``primal(lam)`` with the best
    multipliers about every ``primal_every`` steps while the target is not reached
    and the bound is within :data:`PRIMAL_NEAR` times the target's distance of ``ub``;
    it returns the new ``(ub, target)`` (a primal heuristic that improved the
    incumbent lowers both: the steps aim at the better incumbent, and the search stops
    at a target it can reach).
    """
    if volume:
        return _volume(
            inst, side, kmin, kmax, ub, lam0, target, max_iter, deadline, pi0, primal, primal_every
        )
    lam = np.asarray(lam0, dtype=np.float64).copy()
    tgt = ub if target is None else target
    best, best_lam, its = -np.inf, lam.copy(), 0
    pi = float(pi0)
    stall = 0
    dprev = np.zeros(inst.n)
    pace = Pace(deadline, max_iter)
    while its < max_iter:
        n_this = pace.next_chunk(its)
        b, bl, k, pi, stall = _subgradient_min(
            inst.indptr,
            inst.indices,
            inst.cost,
            inst.unserved,
            inst.fcost,
            side.status,
            kmin,
            kmax,
            lam,
            ub,
            tgt,
            n_this,
            patience,
            pi,
            side.bcost if side.has_budget else np.zeros(inst.m),
            side.bcap,
            best,
            stall,
            tau,
            dprev,
            inst.cptr,
            inst.crow,
            inst.ccost,
        )
        its += k
        pace.done(k)
        if b > best:
            best, best_lam = b, bl.copy()
        if best >= tgt or pi < 1e-6 or k < n_this or pace.out_of_time():
            break
    return LagrangianResult(float(best), best_lam, its, float(pi))


#: See :func:`_volume`.
PRIMAL_NEAR = 10.0


def _volume(
    inst, side, kmin, kmax, ub, lam0, target, max_iter, deadline, pi0, primal=None, primal_every=0
) -> LagrangianResult:
    lam = np.asarray(lam0, dtype=np.float64).copy()
    tgt = ub if target is None else target
    v = np.zeros(inst.n)
    vs = np.array([0.0, VOLUME_F0 * float(pi0) / 2.0, 0.0, VOLUME_AMAX, 0.0, 0.0, 0.0])
    bcost = side.bcost if side.has_budget else np.zeros(inst.m)
    its = 0
    best = -np.inf
    pace = Pace(deadline, max_iter)
    next_primal = primal_every if primal is not None and primal_every > 0 else max_iter + 1
    while its < max_iter:
        n_this = min(pace.next_chunk(its), max(next_primal - its, 1))
        best, k = _volume_min(
            inst.indptr,
            inst.indices,
            inst.cost,
            inst.unserved,
            inst.fcost,
            side.status,
            kmin,
            kmax,
            lam,
            ub,
            tgt,
            n_this,
            bcost,
            side.bcap,
            inst.cptr,
            inst.crow,
            inst.ccost,
            v,
            vs,
            float(VOLUME_REDS),
            float(VOLUME_AMAX_PATIENCE),
        )
        its += k
        pace.done(k)
        if best >= tgt or vs[1] < 1e-6 or k < n_this or pace.out_of_time():
            break
        # the heuristic runs once the bound is within PRIMAL_NEAR times the target's
        # distance of the incumbent: far from it, the steps, not the incumbent, limit
        if its >= next_primal:
            # the next look in primal_every steps either way (not one step at a time)
            next_primal = its + primal_every
            if ub - best <= PRIMAL_NEAR * max(ub - tgt, 0.0):
                ub, tgt = primal(lam)
                if best >= tgt:
                    break
                pace.t = time.perf_counter()  # the heuristic's time is not a step's
    return LagrangianResult(float(best), lam, its, float(2.0 * vs[1] / VOLUME_F0))


@njit(cache=True)
def _reduce_min(indptr, indices, cost, unserved, fcost, status, kmin, kmax, lam, threshold):
    """Reduced-cost fixing. Returns (keep_arc mask, keep_unserved mask, site_state,
    L) where site_state is 0 free, 1 fixed open, 2 fixed closed."""
    n = lam.shape[0]
    m = fcost.shape[0]
    rho = np.empty(m)
    const = _reduced_costs(indptr, indices, cost, unserved, fcost, lam, rho)
    sel = np.zeros(m, dtype=np.uint8)
    val, nsel, order = _select(rho, status, kmin, kmax, sel, False)
    L = const + val
    # last selected free and first unselected free site values
    rq = np.nan
    rq1 = np.nan
    for t in range(order.shape[0]):
        j = order[t]
        if sel[j]:
            rq = rho[j]
        else:
            rq1 = rho[j]
            break
    state = np.zeros(m, dtype=np.int8)
    lb_open = np.empty(m)  # bound when site j is forced open
    for j in range(m):
        if status[j] == FORBIDDEN:
            state[j] = 2
            lb_open[j] = np.inf
            continue
        if status[j] == MUST:
            state[j] = 1
            lb_open[j] = L
            continue
        if sel[j]:
            lb_open[j] = L
            lb0 = np.inf
            if nsel > kmin:
                lb0 = L - rho[j]
            if not np.isnan(rq1):
                lb0 = min(lb0, L - rho[j] + rq1)
            if lb0 > threshold:
                state[j] = 1
        else:
            lb1 = np.inf
            if nsel < kmax:
                lb1 = L + max(0.0, rho[j])
            if not np.isnan(rq):
                lb1 = min(lb1, L + rho[j] - rq)
            lb_open[j] = lb1
            if lb1 > threshold:
                state[j] = 2
    keep = np.zeros(indices.shape[0], dtype=np.uint8)
    keep_u = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        li = lam[i]
        if L + max(0.0, unserved[i] - li) <= threshold:
            keep_u[i] = 1
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if state[j] == 2:
                continue
            lb = lb_open[j] + max(0.0, cost[k] - li)
            if lb <= threshold:
                keep[k] = 1
    return keep, keep_u, state, L


def reduce_min(inst: Instance, side: SideArrays, kmin: int, kmax: int, lam: np.ndarray, threshold: float):
    """Fix variables whose Lagrangian bound exceeds ``threshold`` (no solution with
    objective <= threshold uses them). Returns (keep_arc, keep_unserved, site_state, L)."""
    keep, keep_u, state, L = _reduce_min(
        inst.indptr,
        inst.indices,
        inst.cost,
        inst.unserved,
        inst.fcost,
        side.status,
        kmin,
        kmax,
        np.asarray(lam, dtype=np.float64),
        float(threshold),
    )
    return keep.astype(bool), keep_u.astype(bool), state, float(L)


@njit(cache=True)
def _cover_rho(cptr, crow, lam, rho):
    """``rho[j]``: the multipliers of the areas site ``j`` covers, summed.

    Serial: a ``parallel=True`` version called from the cached subgradient kernel
    crashed (SIGSEGV) the web app's worker processes when they loaded it from Numba's
    cache (tests/web/test_web_api.py)."""
    m = cptr.shape[0] - 1
    for j in range(m):
        s = 0.0
        for k in range(cptr[j], cptr[j + 1]):
            s += lam[crow[k]]
        rho[j] = s


@njit(cache=True)
def _eval_cover(cptr, crow, w, status, kmin, kmax, lam, bcost, bcap, rho, sel, selw, selk, g):
    """``U(lam)`` of maximal covering and its subgradient ``g`` (``cov_i - [lam_i < w_i]``,
    ``cov_i`` the selected sites covering area ``i``)."""
    n = w.shape[0]
    m = cptr.shape[0] - 1
    _cover_rho(cptr, crow, lam, rho)
    val, nsel, order = _select(rho, status, kmin, kmax, sel, True)
    for j in range(m):
        selw[j] = sel[j]
    if bcap < np.inf:
        vk = _select_knap(rho, status, bcost, bcap, selk, True)
        if vk < val:
            val = vk
            selw[:] = selk
    U = val
    for i in range(n):
        if w[i] > lam[i]:
            U += w[i] - lam[i]
    g[:] = 0.0
    for j in range(m):
        sj = selw[j]
        if sj > 0.0:
            for k in range(cptr[j], cptr[j + 1]):
                g[crow[k]] += sj
    for i in range(n):
        if lam[i] < w[i]:
            g[i] -= 1.0
    return U


@njit(cache=True)
def _subgradient_cover(
    cptr, crow, w, status, kmin, kmax, lam, lb, max_iter, patience, bcost, bcap, best0, stall0, pi0
):
    """Minimise U(lambda) over lambda in [0, w] (upper bound for maximal covering),
    continuing from ``best0`` / ``stall0`` / ``pi0`` (see :func:`_subgradient_min`)."""
    n = w.shape[0]
    m = cptr.shape[0] - 1
    rho = np.empty(m)
    sel = np.zeros(m, dtype=np.uint8)
    selw = np.zeros(m)
    selk = np.zeros(m)
    cov = np.empty(n)
    best = best0
    best_lam = lam.copy()
    pi = pi0
    stall = stall0
    it = 0
    for it in range(max_iter):  # noqa: B007
        U = _eval_cover(cptr, crow, w, status, kmin, kmax, lam, bcost, bcap, rho, sel, selw, selk, cov)
        if best - 1e-12 * max(1.0, abs(U)) > U:
            best = U
            best_lam[:] = lam
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                pi *= 0.5
                stall = 0
        if best <= lb or pi < 1e-6:
            break
        norm = 0.0
        for i in range(n):
            norm += cov[i] * cov[i]
        if norm == 0.0:
            break
        step = pi * max(U - lb, 1e-9 * max(1.0, abs(U))) / norm
        for i in range(n):
            v = lam[i] - step * cov[i]
            lam[i] = min(max(v, 0.0), w[i])
    return best, best_lam, it + 1, pi, stall


@njit(cache=True)
def _volume_cover(
    cptr, crow, w, status, kmin, kmax, lam_bar, lb, max_iter, bcost, bcap, v, vs, reds_max, amax_patience
):
    """``max_iter`` volume steps (Barahona & Anbil 2000) minimising ``U`` over
    ``0 <= lam <= w`` from the stability centre ``lam_bar`` (in place); the mirror of
    :func:`_volume_min`: trial points ``clip(lam_bar - s v, 0, w)`` with
    ``s = f (U(lam_bar) - lb) / |v|^2``, ``v`` the running convex combination of the
    subgradients, the same step-factor and weight rules and the same ``vs`` layout.
    Every trial point lies in the box, so every bound returned is ``U`` at a feasible
    multiplier vector. Returns (best, iterations)."""
    n = lam_bar.shape[0]
    m = cptr.shape[0] - 1
    rho = np.empty(m)
    sel = np.zeros(m, dtype=np.uint8)
    selw = np.zeros(m)
    selk = np.zeros(m)
    g = np.empty(n)
    lam = np.empty(n)
    it = 0
    if vs[4] == 0.0:
        vs[0] = _eval_cover(cptr, crow, w, status, kmin, kmax, lam_bar, bcost, bcap, rho, sel, selw, selk, g)
        v[:] = g
        vs[4] = 1.0
        vs[5] = vs[0]
        vs[6] = 0.0
    for it in range(max_iter):  # noqa: B007
        Ubar = vs[0]
        if Ubar <= lb or vs[1] < 1e-6:
            break
        vv = 0.0
        for i in range(n):
            vv += v[i] * v[i]
        if vv == 0.0:
            break
        s = vs[1] * max(Ubar - lb, 1e-9 * max(1.0, abs(lb))) / vv
        for i in range(n):
            x = lam_bar[i] - s * v[i]
            lam[i] = 0.0 if x < 0.0 else (w[i] if x > w[i] else x)
        U = _eval_cover(cptr, crow, w, status, kmin, kmax, lam, bcost, bcap, rho, sel, selw, selk, g)
        _volume_rules(g, v, vv, U, lam, lam_bar, lb, -1.0, reds_max, amax_patience, vs)
    return vs[0], it + 1


def lagrangian_cover(
    cptr: np.ndarray,
    crow: np.ndarray,
    w: np.ndarray,
    side: SideArrays,
    kmin: int,
    kmax: int,
    lb: float,
    *,
    max_iter: int = 300,
    patience: int = 20,
    deadline: float | None = None,
    volume: bool = True,
) -> LagrangianResult:
    """Lagrangian upper bound for maximal covering (``lb`` = incumbent covered weight).

    ``deadline`` (``time.perf_counter()`` seconds) is checked about every
    :data:`CHECK_EVERY_S` seconds; at least one iteration runs, so the bound is finite.
    ``volume=True`` (default) runs the volume algorithm (:func:`_volume_cover`;
    ``patience`` unused); ``False`` plain subgradient steps (step factor halved after
    ``patience`` steps without progress). Measured against the incumbent of the same
    run (heuristic search), volume / subgradient after 500 and 2,000 steps: China
    places x 3,500 towns at 30 km, p = 200: 0.094 / 0.943 % and 0.085 / 0.138 %;
    p = 500: 0.33 / 2.77 % and 0.22 / 0.52 %; Guangdong tenth of the 10^6 grid
    (86,668 x 8,667, 9.4e6 pairs within 3 km, p = 867) after 200 / 2,000 steps:
    0.71 / 3.95 % and 0.54 / 0.79 %.
    """
    lam = 0.5 * np.asarray(w, dtype=np.float64)
    wf = np.asarray(w, dtype=np.float64)
    bc = side.bcost if side.has_budget else np.zeros(cptr.shape[0] - 1)
    if volume:
        return _volume_cover_run(cptr, crow, wf, side, kmin, kmax, lb, lam, bc, max_iter, deadline)
    best, best_lam, its, pi, stall = np.inf, lam.copy(), 0, 1.0, 0
    pace = Pace(deadline, max_iter)
    while its < max_iter:
        n_this = pace.next_chunk(its)
        b, bl, k, pi, stall = _subgradient_cover(
            cptr,
            crow,
            wf,
            side.status,
            kmin,
            kmax,
            lam,
            float(lb),
            n_this,
            patience,
            bc,
            side.bcap,
            best,
            stall,
            pi,
        )
        its += k
        pace.done(k)
        if b < best:
            best, best_lam = b, bl.copy()
        if best <= lb or pi < 1e-6 or k < n_this or pace.out_of_time():
            break
    return LagrangianResult(float(best), best_lam, int(its))


def _volume_cover_run(cptr, crow, wf, side, kmin, kmax, lb, lam, bc, max_iter, deadline) -> LagrangianResult:
    v = np.zeros(wf.shape[0])
    vs = np.array([0.0, VOLUME_F0, 0.0, VOLUME_AMAX, 0.0, 0.0, 0.0])
    its = 0
    best = np.inf
    pace = Pace(deadline, max_iter)
    while its < max_iter:
        n_this = pace.next_chunk(its)
        best, k = _volume_cover(
            cptr,
            crow,
            wf,
            side.status,
            kmin,
            kmax,
            lam,
            float(lb),
            n_this,
            bc,
            side.bcap,
            v,
            vs,
            float(VOLUME_REDS),
            float(VOLUME_AMAX_PATIENCE),
        )
        its += k
        pace.done(k)
        if best <= lb or vs[1] < 1e-6 or k < n_this or pace.out_of_time():
            break
    return LagrangianResult(float(best), lam, int(its), float(vs[1]))


@njit(cache=True)
def _lagrangian_sites(indptr, indices, cost, unserved, fcost, status, kmin, kmax, lam, bcost, bcap):
    m = fcost.shape[0]
    rho = np.empty(m)
    _reduced_costs(indptr, indices, cost, unserved, fcost, lam, rho)
    if bcap < np.inf:
        selw = np.zeros(m)
        _select_knap(rho, status, bcost, bcap, selw, False)
        return np.flatnonzero(selw >= 1.0)
    sel = np.zeros(m, dtype=np.uint8)
    _select(rho, status, kmin, kmax, sel, False)
    return np.flatnonzero(sel)


def lagrangian_sites(inst: Instance, side: SideArrays, kmin: int, kmax: int, lam: np.ndarray) -> np.ndarray:
    """Sites of the Lagrangian subproblem at ``lam`` (the ``p`` most negative
    :math:`\\rho_j`): a good start for local search (Beasley 1993)."""
    return _lagrangian_sites(
        inst.indptr,
        inst.indices,
        inst.cost,
        inst.unserved,
        inst.fcost,
        side.status,
        kmin,
        kmax,
        np.asarray(lam, dtype=np.float64),
        side.bcost if side.has_budget else np.zeros(inst.m),
        side.bcap,
    ).astype(np.int64)


@njit(cache=True)
def _cover_sites(cptr, crow, status, kmin, kmax, lam, bcost, bcap):
    m = cptr.shape[0] - 1
    rho = np.zeros(m)
    for j in range(m):
        for k in range(cptr[j], cptr[j + 1]):
            rho[j] += lam[crow[k]]
    if bcap < np.inf:
        selw = np.zeros(m)
        _select_knap(rho, status, bcost, bcap, selw, True)
        return np.flatnonzero(selw >= 1.0)
    sel = np.zeros(m, dtype=np.uint8)
    _select(rho, status, kmin, kmax, sel, True)
    return np.flatnonzero(sel)


def cover_sites(
    cptr: np.ndarray, crow: np.ndarray, side: SideArrays, kmin: int, kmax: int, lam: np.ndarray
) -> np.ndarray:
    """Sites of the covering Lagrangian subproblem at ``lam`` (largest
    :math:`\\sum_{i \\in C(j)} \\lambda_i`), a start for local search."""
    return _cover_sites(
        cptr,
        crow,
        side.status,
        kmin,
        kmax,
        np.asarray(lam, dtype=np.float64),
        side.bcost if side.has_budget else np.zeros(cptr.shape[0] - 1),
        side.bcap,
    ).astype(np.int64)
