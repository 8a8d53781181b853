"""The shared pipeline of the minimisation models (p-median, UFL) (internal).

heuristic (greedy + fast interchange [+ VNS]) -> Lagrangian lower bound ->
reduced-cost fixing -> Lagrangian branch and bound on the sites (:mod:`.lagbb`, when
only must-open / forbidden sites constrain the choice) -> HiGHS MIP on what is left when
the B&B did not prove and the model is small enough (else the truncated radius MIP when
the B&B does not apply) -> Solution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleError, InputError, SolverError
from . import lagbb
from ._validate import Instance
from .bounds import (
    LagrangianResult,
    dual_ascent_min,
    lagrangian_min,
    lagrangian_sites,
    lagrangian_value,
    reduce_min,
)
from .constraints import SideArrays, check_sites
from .greedy import State
from .mip import solve_min_radius_mip
from .solution import MIP_PROVEN_TOL, Solution, make_solution
from .swap import heuristic_search, improve

__all__ = [
    "solve_min",
    "solve_min_detail",
    "MinOutcome",
    "improvement_threshold",
    "METHODS",
    "MIP_AUTO_ARCS",
    "MIP_DEFAULT_SECONDS",
]

METHODS = ("auto", "heuristic", "mip")
#: ``method="auto"`` runs the MIP when at most this many arcs survive reduced-cost fixing.
MIP_AUTO_ARCS = 200_000
#: Largest truncated radius model (arcs) tried when the reduced model exceeds MIP_AUTO_ARCS.
MIP_TRUNCATED_ARCS = 400_000
#: MIP time limit when the caller gives no ``time_limit``, seconds.
MIP_DEFAULT_SECONDS = 300.0
#: Default VNS iterations after the first local optimum when a gap remains.
VNS_DEFAULT_ITERATIONS = 30
#: Under a time limit, the first greedy + local search stops at this share of the time
#: left, so that the Lagrangian bound (which certifies the result) gets the rest.
HEURISTIC_SHARE = 0.5
#: Under a time limit the Lagrangian phase leaves this share of the time to the MIP.
LAGRANGIAN_SHARE = 0.8
#: Share of the MIP's time the Lagrangian branch and bound (:mod:`.lagbb`) gets before the
#: full HiGHS MIP when that fits (OR-Library pmed, B&B vs HiGHS on the reduced model:
#: pmed38 2.2 s vs 78 s, pmed35 0.9 s vs 38 s, pmed39 5.9 s vs 55-109 s).
BB_SHARE = 0.5
#: First step factor (``pi0``) of a volume search started from the dual ascent's
#: multipliers (``dual_ascent=True``): they are within about 1 % of the bound, so the
#: first steps are kept short (measured on the China matrix at p = 50: a 0.1 % gap
#: after 500 steps with this factor, 600 with twice it).
DUAL_ASCENT_PI0 = 0.2


@dataclass
class MinOutcome:
    """A :class:`Solution` plus the search state and the best multipliers (internal)."""

    solution: Solution
    state: State
    lam: np.ndarray
    pi: float = 2.0


def _share(deadline: float | None, share: float) -> float | None:
    """The time ``share`` of the way from now to ``deadline``."""
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + share * max(deadline - now, 0.0)


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _state_from_sites(inst: Instance, side: SideArrays, sites: np.ndarray) -> State:
    st = State(inst, side)
    st.open_many(sites)
    return st


def _infeasible_message(side: SideArrays, kmin: int, what: str) -> str:
    if side.has_conflicts:
        return f"no feasible set of {what} sites satisfies the minimum spacing"
    if side.has_groups:
        return f"no feasible set of {what} sites satisfies the group limits"
    if side.has_quotas:
        return f"no feasible set of {what} sites satisfies the quotas ({', '.join(side.q_names)})"
    return f"no feasible set of {what} sites satisfies the side constraints"


def solve_min(
    inst: Instance,
    side: SideArrays,
    kmin: int,
    kmax: int,
    *,
    ufl: bool,
    time_limit: float | None,
    seed: int,
    method: str,
    label: str,
    t0: float,
    target_gap: float = 0.0,
    lagrangian_volume: bool = False,
    dual_ascent: bool = False,
) -> Solution:
    """Solve one minimisation instance; see the module docstring (``lagrangian_volume``,
    ``dual_ascent``: the bound's steps and start, see :func:`solve_min_detail`)."""
    return solve_min_detail(
        inst,
        side,
        kmin,
        kmax,
        ufl=ufl,
        time_limit=time_limit,
        seed=seed,
        method=method,
        label=label,
        t0=t0,
        target_gap=target_gap,
        lagrangian_volume=lagrangian_volume,
        dual_ascent=dual_ascent,
    ).solution


def solve_min_detail(
    inst: Instance,
    side: SideArrays,
    kmin: int,
    kmax: int,
    *,
    ufl: bool,
    time_limit: float | None,
    seed: int,
    method: str,
    label: str,
    t0: float,
    start: np.ndarray | None = None,
    lam0: np.ndarray | None = None,
    final: bool = True,
    lagrangian_iterations: int = 2000,
    lagrangian_patience: int = 50,
    pi0: float = 2.0,
    target_gap: float = 0.0,
    truncated_mip: bool = True,
    lagrangian_tau: float = 0.0,
    mip_share: float = 1.0,
    lagrangian_volume: bool = False,
    dual_ascent: bool = False,
    lagrangian_primal_every: int = 0,
    known_ub: float = np.inf,
) -> MinOutcome:
    """:func:`solve_min` that also returns the state and the multipliers.

    ``start``: sites to begin the local search from (instead of the greedy); ``lam0``:
    first multipliers of the Lagrangian (default the incumbent's service costs) and
    ``pi0`` its first step factor (a continued run passes the last ``pi``);
    ``final=False`` stops after the bound and the Lagrangian start (no VNS, no MIP),
    for callers that change the instance and solve again. ``target_gap``: stop
    improving once the certified relative gap is at most this. ``truncated_mip=False``:
    no truncated radius MIP when the reduced model is too large for the full one.
    ``lagrangian_tau``: deflection of the subgradient steps (see
    :func:`.bounds.lagrangian_min`; 0 = plain steps); ``lagrangian_volume``: the
    volume algorithm instead of subgradient steps (same function). ``mip_share``: the MIP gets this
    share of the time left when it starts (a caller that repeats the search keeps the
    rest for the next repeat). ``dual_ascent``: a search without ``lam0`` starts from
    the dual ascent's multipliers (:func:`.bounds.dual_ascent_min`) when they give a
    higher bound than the incumbent's service costs. ``lagrangian_primal_every``: the
    volume search runs the Lagrangian heuristic (local search from the subproblem's
    sites) about every this many steps and aims at the better incumbent it finds (0:
    only after the search).
    Every phase checks the one deadline ``t0 + time_limit``.
    """
    deadline = None if time_limit is None else t0 + time_limit
    what_sites = str(kmin) if kmin == kmax else "open"
    nnz = inst.nnz
    small = nnz <= MIP_AUTO_ARCS
    iterations = 0
    methods: list[str] = []

    timings: dict[str, float] = {}
    tp = time.perf_counter()
    res = heuristic_search(
        inst,
        side,
        kmin,
        kmax,
        stop_when_no_gain=ufl,
        seed=seed,
        deadline=_share(deadline, HEURISTIC_SHARE),
        vns_iterations=0,
        start=start,
    )
    timings["heuristic_s"] = time.perf_counter() - tp
    st = res.state
    if st is None:
        if method == "heuristic" or not small:
            raise InfeasibleError(_infeasible_message(side, kmin, what_sites))
        # let the MIP decide feasibility
        keep = np.ones(nnz, dtype=bool)
        mip = solve_min_radius_mip(
            inst.indptr,
            inst.indices,
            inst.cost,
            inst.unserved,
            inst.fcost,
            side,
            kmin,
            kmax,
            keep,
            ~np.zeros(inst.n, dtype=bool) if not inst.must_serve else np.zeros(inst.n, dtype=bool),
            np.zeros(inst.m, dtype=np.int8),
            time_limit=mip_time(deadline),
            warm_sites=None,
            seed=seed,
        )
        if mip.infeasible:
            raise InfeasibleError(_infeasible_message(side, kmin, what_sites) + " (proven by the MIP)")
        if mip.y is None:
            raise SolverError(f"{label}: no feasible solution found within the time limit")
        st = _state_from_sites(inst, side, mip.y)
        methods.append("mip")
    else:
        methods.append(res.method)
        iterations += res.moves

    ub = st.objective()
    threshold = improvement_threshold(inst, ub)
    bound = -np.inf
    mip_optimal = False

    def aim(v: float) -> float:
        """The bound that certifies an incumbent of value ``v`` (the target gap, or no
        better integral solution)."""
        return min(improvement_threshold(inst, v), v - target_gap * abs(v)) if np.isfinite(v) else np.inf

    def done(bound: float, ub: float) -> bool:
        return bound >= aim(min(ub, known_ub))

    # incumbents the Lagrangian heuristic finds during the search (lagrangian_primal_every)
    better: list[State] = []

    def primal(lam: np.ndarray) -> tuple[float, float]:
        nonlocal iterations
        tp = time.perf_counter()
        cur = better[-1].objective() if better else ub
        start_sites = lagrangian_sites(inst, side, kmin, kmax, lam)
        if check_sites(side, start_sites) is None:
            cand = _state_from_sites(inst, side, start_sites)
            mv, _ = improve(cand, kmin, kmax, deadline)
            iterations += mv
            if cand.objective() < cur - 1e-9 * max(1.0, abs(cur)):
                better.append(cand)
                cur = cand.objective()
        timings["lagrangian_primal_s"] = timings.get("lagrangian_primal_s", 0.0) + time.perf_counter() - tp
        return cur, aim(min(cur, known_ub))

    def take_better(st: State, ub: float, threshold: float) -> tuple[State, float, float]:
        """The search's incumbent after the heuristic inside a volume search: the best it
        found when that beats ``ub`` (``better`` is emptied for the next search)."""
        if better and better[-1].objective() < ub:
            st = better[-1]
            ub = st.objective()
            threshold = improvement_threshold(inst, ub)
            methods.append("lagrangian-primal")
        better.clear()
        return st, ub, threshold

    def lagrange(st: State, ub: float, lam_from: np.ndarray | None) -> LagrangianResult:
        nonlocal iterations
        lam_start = np.minimum(st.d1, inst.unserved) if lam_from is None else lam_from
        pi_first = pi0
        if lam_from is None and dual_ascent:
            tp = time.perf_counter()
            da_bound, da_lam = dual_ascent_min(inst, side, kmin, kmax, ub)
            timings["dual_ascent_s"] = timings.get("dual_ascent_s", 0.0) + time.perf_counter() - tp
            if da_bound > lagrangian_value(inst, side, kmin, kmax, lam_start):
                lam_start = da_lam
                pi_first = min(pi0, DUAL_ASCENT_PI0)
        lr = lagrangian_min(
            inst,
            side,
            kmin,
            kmax,
            ub,
            lam_start,
            target=aim(min(ub, known_ub)),
            max_iter=lagrangian_iterations,
            patience=lagrangian_patience,
            pi0=pi_first,
            tau=lagrangian_tau,
            volume=lagrangian_volume,
            deadline=deadline if not final or method == "heuristic" else _share(deadline, LAGRANGIAN_SHARE),
            primal=primal if lagrangian_primal_every > 0 else None,
            primal_every=lagrangian_primal_every,
        )
        iterations += lr.iterations
        return lr

    tp = time.perf_counter()
    lr = lagrange(st, ub, lam0)
    timings["lagrangian_s"] = time.perf_counter() - tp
    bound = max(bound, lr.bound)
    methods.append("lagrangian")
    st, ub, threshold = take_better(st, ub, threshold)
    proven = done(bound, ub)

    # Lagrangian heuristic: local search from the subproblem's sites
    if not proven and not _late(deadline):
        tp = time.perf_counter()
        start = lagrangian_sites(inst, side, kmin, kmax, lr.lam)
        if check_sites(side, start) is None:
            cand = _state_from_sites(inst, side, start)
            mv, _ = improve(cand, kmin, kmax, deadline)
            iterations += mv
            if cand.objective() < ub - 1e-9 * max(1.0, abs(ub)):
                st = cand
                ub = st.objective()
                threshold = improvement_threshold(inst, ub)
                methods.append("lagrangian-start")
                proven = done(bound, ub)
        timings["lagrangian_start_s"] = time.perf_counter() - tp

    # VNS when the gap is open and the MIP will not run
    will_mip = final and (method == "mip" or (method == "auto" and not proven))
    if final and not proven and not _late(deadline) and (method == "heuristic" or not small):
        tp = time.perf_counter()
        res2 = heuristic_search(
            inst,
            side,
            kmin,
            kmax,
            stop_when_no_gain=ufl,
            seed=seed,
            deadline=deadline,
            vns_iterations=VNS_DEFAULT_ITERATIONS,
            start=st.sites,
        )
        timings["vns_s"] = time.perf_counter() - tp
        if res2.state is not None and res2.state.objective() < ub - 1e-9 * max(1, abs(ub)):
            st = res2.state
            ub = st.objective()
            threshold = improvement_threshold(inst, ub)
            methods.append("vns")
            # a continued run (lam0 given) goes on from its best multipliers, and so
            # does one started by the dual ascent
            lr2 = lagrange(st, ub, None if lam0 is None and not dual_ascent else lr.lam)
            if lr2.bound > lr.bound:
                lr = lr2
            bound = max(bound, lr.bound)
            st, ub, threshold = take_better(st, ub, threshold)
        iterations += res2.moves
        proven = done(bound, ub)

    mip_info: dict = timings
    tp = time.perf_counter()
    if not proven and will_mip and method != "heuristic" and not _late(deadline):
        keep, keep_u, site_state, _ = reduce_min(inst, side, kmin, kmax, lr.lam, threshold)
        if inst.must_serve:
            keep_u[:] = False
        n_arcs = int(keep.sum())
        mip_info |= {
            "mip_arcs": n_arcs,
            "arcs": nnz,
            "sites_fixed_open": int(np.count_nonzero(site_state == 1)),
            "sites_fixed_closed": int(np.count_nonzero(site_state == 2)),
        }
        # Full reduced model when small; otherwise the truncated radius model, expanded
        # for the clients whose service level it cut off (García, Labbé & Marín 2011).
        full = method == "mip" or n_arcs <= MIP_AUTO_ARCS
        lim = None if full else np.minimum(st.d1, inst.unserved).copy()
        rounds = 0
        mip_deadline = _share(deadline, mip_share)
        # Lagrangian branch and bound on the sites first (method "auto", only must-open /
        # forbidden sites, and not for callers that ask for no large-model proof step):
        # when the full MIP fits it gets BB_SHARE of the time and HiGHS the rest if it
        # did not prove; when it does not fit, it replaces the truncated radius MIP
        use_bb = method == "auto" and truncated_mip and lagbb.applicable(side)
        if use_bb:
            bb_end = mip_deadline if mip_deadline is not None else time.perf_counter() + MIP_DEFAULT_SECONDS
            bb = lagbb.lagrangian_bb(
                inst,
                side,
                kmin,
                kmax,
                ub,
                lr.lam,
                lambda v: improvement_threshold(inst, v),
                deadline=_share(bb_end, BB_SHARE) if full else bb_end,
                root_bound=bound,
            )
            methods.append("lagrangian-bb")
            iterations += bb.iterations
            mip_info |= {"bb_nodes": bb.nodes, "bb_arcs": bb.arcs, "bb_proven": bb.proven}
            if bb.sites is not None and bb.objective < ub:
                st = _state_from_sites(inst, side, bb.sites)
                ub = st.objective()
                threshold = improvement_threshold(inst, ub)
            bound = max(bound, min(bb.bound, threshold))
            mip_optimal = bb.proven
        while (full or truncated_mip) and not (use_bb and (mip_optimal or not full)):
            remaining = mip_time(mip_deadline)
            if remaining is not None and remaining <= 0.05:
                break
            mip = solve_min_radius_mip(
                inst.indptr,
                inst.indices,
                inst.cost,
                inst.unserved,
                inst.fcost,
                side,
                kmin,
                kmax,
                keep,
                keep_u,
                site_state,
                time_limit=remaining,
                warm_sites=st.sites,
                seed=seed,
                lim_cost=lim,
                extra=1 if lim is not None else 1 << 30,
                max_arcs=None if full else MIP_TRUNCATED_ARCS,
            )
            if mip.status == "too_large":
                break
            rounds += 1
            if rounds == 1:
                methods.append("mip" if full else "mip(radius-expand)")
            iterations += mip.nodes
            mip_info["mip_rounds"] = rounds
            mip_info["mip_model_arcs"] = mip.n_arcs
            found: State | None = None
            if mip.y is not None:
                found = _state_from_sites(inst, side, mip.y)
                if found.objective() < ub:
                    st = found
                    ub = st.objective()
            if mip.infeasible:
                bound = max(bound, threshold)
                break
            if not mip.optimal:
                if np.isfinite(mip.bound):
                    bound = max(bound, min(mip.bound, threshold))
                break
            bound = max(bound, min(mip.objective, threshold))
            if bound >= improvement_threshold(inst, ub) or mip.objective >= ub - 1e-9 * max(1.0, abs(ub)):
                mip_optimal = True
                bound = max(bound, min(mip.objective, ub))
                break
            if lim is None or found is None or mip.truncated is None or mip.last_cost is None:
                break
            grow = mip.truncated & (found.d1 > mip.last_cost * (1 + 1e-12))
            if not grow.any():
                break
            lim[grow] = np.maximum(lim[grow], found.d1[grow])

    timings["mip_s"] = time.perf_counter() - tp
    if inst.must_serve and st.n_unserved() > 0:
        raise InfeasibleError(
            f"{st.n_unserved()} clients cannot be served by any feasible set of {what_sites} "
            "sites (give unserved_cost to allow unserved clients)"
        )
    viol = check_sites(side, st.sites)
    if viol is not None:  # pragma: no cover - guarded by the kernels
        raise SolverError(f"{label}: internal error, solution violates constraints: {viol}")
    # a bound at the threshold leaves at most MIP_PROVEN_TOL / 10 relative gap
    certified = mip_optimal or bound >= improvement_threshold(inst, ub)
    sol = make_solution(
        st.sites,
        st.assignment(),
        ub,
        bound,
        seconds=time.perf_counter() - t0,
        iterations=iterations,
        method="+".join(methods),
        sense="min",
        mip_optimal=certified,
        integral=inst.integral,
        info=mip_info,
    )
    return MinOutcome(sol, st, lr.lam, lr.pi)


def improvement_threshold(inst: Instance, ub: float) -> float:
    """Objective value below which a solution counts as strictly better than ``ub``."""
    if inst.integral:
        return ub - 0.5
    return ub - 0.1 * MIP_PROVEN_TOL * max(abs(ub), 1.0)


def mip_time(deadline: float | None) -> float | None:
    if deadline is None:
        return MIP_DEFAULT_SECONDS
    return max(0.0, deadline - time.perf_counter())


__all__ += ["check_method", "improve"]
