"""``solve(scenario) -> Plan``: the one front door from a scenario to a plan.

A short sequence of plain phases on frozen data (each logged, each reported to an
optional ``progress`` callback):

1. ``market``: the Huff market (:mod:`storeplan.market`): offline spending per area,
   every candidate, our existing stores and the rivals; calibrated to the existing
   stores' ``annual_sales`` when they carry it (:func:`build_market`). With the
   market, the scenario is turned into a :class:`storeplan.objectives.Problem` of plain
   arrays (:func:`build_problem`); nothing after this phase reads the scenario;
2. ``network``: the objective adapter's network (:mod:`storeplan.objectives`): sparse
   great-circle km from areas to candidate sites + existing stores (radius- and
   k-limited, :class:`storeplan.geo.Network`; the market's own network for ``revenue``);
3. ``solve``: the adapter's location model;
4. ``evaluate``: exact metrics (:mod:`storeplan.evaluation`): every area's nearest open
   store by KD-tree (so a radius-limited model never misreports a distance), objective,
   bound and gap, and the market outputs of the chosen network;
5. ``curve``: coverage and mean distance as stores are added in greedy order;
6. ``rollout`` (when the scenario has one): opening year per store and the forecast.

With a ``[rollout]`` whose ``universe`` is ``"candidates"`` (the default for the
``revenue`` objective), the schedule is chosen right after ``solve`` from every candidate
column, with the single-year solution as a seed (:func:`storeplan.rollout.schedule`
keeps the better of the two), under every constraint of the problem; the stores it opens
*are* the plan, so ``evaluate`` and every output describe them.

With a ``[launch]`` section, the launch units are split across the plan's stores and the
web shop after the evaluation (:mod:`storeplan.launch_stock`).

For ``pmedian`` and ``fixed_cost`` on a radius-limited network, an area whose stored
sites are all closed is charged its largest stored distance, a lower bound on its real
distance. The model is then a relaxation of the full problem, so the solver's lower
bound is valid for the full problem, while the objective reported in the plan is the
exact one of the chosen stores. The gap is certified either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import time
import warnings
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from . import objectives as registry
from .alternatives import AlternativesSpec, find_alternatives
from .demand import DemandParams, offline_spending
from .errors import CalibrationWarning, GapWarning, InfeasibleError, InputError, UnsupportedConstraintError
from .evaluation import coverage_curve, evaluate, exact_objective
from .geo import pairs_within
from .launch_stock import launch_stock
from .market import ChannelFit, Market, calibrate, calibrate_channel
from .market import build_market as build_huff_market
from .market.oracles import HuffOracle
from .metrics import OBJECTIVE_UNITS, CalibrationSummary, PlanMetrics, ownership_counts
from .objectives import Problem
from .plan import Plan
from .response import ResponseSpec, RobustChoice, rival_response, robust_plan
from .rollout import RolloutSpec, Schedule, forecast, oracle_from_market, rollout_plan, rollout_summary
from .rollout import schedule as schedule_rollout
from .scenario import Scenario
from .solvers import Constraints, Quota, Solution
from .solvers.formats import FormatOptions

__all__ = [
    "solve",
    "build_market",
    "build_problem",
    "market_key",
    "MarketCache",
    "WarmStart",
    "PHASES",
    "ProgressFn",
    "GAP_WARNING",
]

log = logging.getLogger(__name__)

#: Phase names reported to ``progress(phase, fraction)``.
PHASES = ("market", "network", "solve", "evaluate", "curve", "rollout")

ProgressFn = Callable[[str, float], None]


#: A plan whose certified gap exceeds this share (and is not proven) raises a GapWarning.
GAP_WARNING = 0.01

#: Most schedule evaluations of a warm-started rollout's interchange (a few milliseconds
#: each on the default scenario): it then answers in about a second and, unless its
#: time limit binds first, the same way on every machine.
WARM_EVALUATIONS = 80


#: Built markets by :func:`market_key`: ``(market, calibration)`` (see ``solve``'s ``cache``).
MarketCache = MutableMapping[str, tuple[Market, CalibrationSummary | None]]


@dataclass(frozen=True)
class WarmStart:
    """A start solution for :func:`solve` (a re-plan from a previous plan).

    Attributes
    ----------
    sites : tuple of str
        Ids of the start's stores (a previous plan's new stores; ids the scenario does
        not have as candidate sites are ignored). The solver repairs the start (the
        scenario's must-open sites are added, forbidden ones and any that break spacing,
        a quota or the budget are dropped, the number of stores is restored) and then
        improves it by local search.
    time_limit : float or None
        Solver time limit of the re-plan, seconds (replaces ``options.time_limit``).
    bound : float or None
        A bound known to hold for this scenario, in the objective's unit (an upper bound
        when maximising, a lower one when minimising), e.g. the bound of the previous
        plan when the re-plan only adds constraints (pins, bans), so that every plan it
        allows was allowed before. The plan reports the better of it and the solver's;
        with it, the solver skips computing its own costly bound.
    schedule : tuple of (str, int), optional
        The previous plan's rollout: ``(site id, opening year)`` of its opened stores.
        The rollout is then warm-started from it (see ``start`` of
        :func:`storeplan.rollout.schedule`): its greedy runs on these sites and the
        must-open ones, its interchange on every candidate, with at most
        :data:`WARM_EVALUATIONS` schedule evaluations. A joint rollout (which chooses
        the stores) then follows a single-year solve that only repairs ``sites`` (no
        swap sweeps).
    rollout_bound : float, optional
        An upper bound on the rollout's NPV known to hold for this scenario, currency
        (the previous joint rollout's bound when the re-plan only adds constraints); the
        joint rollout then skips its LP. Not used by a rollout of the plan's stores only
        (its sites differ from the previous plan's).
    """

    sites: tuple[str, ...]
    time_limit: float | None = 5.0
    bound: float | None = None
    schedule: tuple[tuple[str, int], ...] | None = None
    rollout_bound: float | None = None

    @classmethod
    def from_plan(
        cls,
        plan: Plan,
        *,
        time_limit: float | None = 5.0,
        bound: float | None = None,
        rollout_bound: float | None = None,
    ) -> WarmStart:
        """The new stores of ``plan`` as a start, with its rollout schedule when it has one."""
        stores = plan.stores
        new = stores[stores["status"].astype(str) != "existing"] if "status" in stores else stores
        schedule = None
        if plan.schedule is not None:
            years = np.asarray(plan.schedule.open_year, dtype=np.int64)
            ids = np.asarray(plan.schedule.ids).astype(str)
            schedule = tuple((str(i), int(y)) for i, y in zip(ids, years, strict=True) if y >= 1)
        return cls(
            tuple(new["id"].astype(str)),
            time_limit=time_limit,
            bound=bound,
            schedule=schedule,
            rollout_bound=rollout_bound,
        )


def market_key(scenario: Scenario) -> str:
    """Hash of everything the market and the location problem's columns depend on
    (data, formats, objective, demand, market and calibration settings), not on the
    constraints, options or rollout: two scenarios with the same key have the same
    :func:`build_market` result. The key of ``cache`` entries in :func:`solve`."""
    h = hashlib.sha256(b"market-v1")
    settings = {
        "formats": [f.model_dump() for f in scenario.formats],
        "objective": scenario.objective.model_dump(),
        "demand": scenario.demand.model_dump(),
        "market": scenario.market.model_dump(),
        "calibration": scenario.calibration.model_dump(),
    }
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    # the sites' must_open / forbidden flags are constraints: they do not change the market
    sites = scenario.sites.drop(columns=["must_open", "forbidden"], errors="ignore")
    for frame in (scenario.areas, sites, scenario.existing, scenario.rivals):
        h.update(str(list(frame.columns)).encode())
        if len(frame):
            h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:24]


def solve(
    scenario: Scenario,
    *,
    progress: ProgressFn | None = None,
    gap_warning: float = GAP_WARNING,
    alternatives: int | None = None,
    start: WarmStart | None = None,
    cache: MarketCache | None = None,
) -> Plan:
    """Plan the store network a scenario describes.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (``Scenario.from_toml`` / ``Scenario.from_frames``).
    progress : callable, optional
        Called as ``progress(phase, fraction_done)`` at the start and end of each phase.
    gap_warning : float
        Warn (:class:`storeplan.errors.GapWarning`) when the plan is not proven optimal
        and its certified gap is above this share (default 1 %).
    alternatives : int, optional
        Number of alternative plans wanted, this one included (overrides the scenario's
        ``[alternatives] k``; :mod:`storeplan.alternatives`). ``None``: the scenario's.
    start : WarmStart, optional
        Warm start from a previous plan (a re-plan after pinning or banning sites): the
        solver repairs and improves it within ``start.time_limit`` seconds. Objectives
        whose solver takes no start (adapter without ``warm_start``) solve cold. The
        rollout, when there is one, is scheduled within the same time limit.
    cache : mutable mapping, optional
        Holds the built market by :func:`market_key` (value: ``(market, calibration)``);
        a scenario with a key already in it reuses that market instead of building it
        again. Any mapping works (a dict, or one kept on disk).

    Returns
    -------
    Plan
        The chosen stores, the area assignment, exact metrics (objective, bound, gap,
        seconds) and provenance (seed, scenario hash, versions).

    Raises
    ------
    InfeasibleError
        The constraints cannot all be met (the message names the constraint).

    Warns
    -----
    GapWarning
        The time limit left the plan unproven beyond ``gap_warning``.
    CalibrationWarning
        Calibration was asked for but cannot run, or fits the observed sales badly.
    """
    t_start = time.perf_counter()
    report = progress or (lambda phase, frac: None)
    adapter = registry.get(scenario.objective.kind)

    # ---------------------------------------------------------------- market
    report("market", 0.0)
    t0 = time.perf_counter()
    problem = build_problem(scenario)
    if scenario.rollout is not None and joint_rollout(scenario.rollout, adapter.name):
        _check_joint(problem)
    key = market_key(scenario) if cache is not None else ""
    cached = cache.get(key) if cache is not None else None
    if cached is not None:
        market, calibration = cached
        log.info("market: reused the market built for the same inputs (%s)", key)
    else:
        market, calibration = build_market(scenario, problem)
        if cache is not None:
            cache[key] = (market, calibration)
    market, channel_fit = _calibrate_channel(market, scenario.existing, scenario.name)
    log.info(
        "market: %d stores (%d rivals), offline spending %.4g per year in %.2f s",
        market.n_stores,
        len(scenario.rivals),
        float(market.market.sum()),
        time.perf_counter() - t0,
    )
    report("market", 1.0)

    # ---------------------------------------------------------------- network
    report("network", 0.0)
    t0 = time.perf_counter()
    net = adapter.network(problem, market)
    log.info(
        "network: %d areas x %d sites, %d pairs (%.1f MB) in %.2f s",
        net.n_areas,
        net.n_sites,
        net.nnz,
        net.nbytes / 1e6,
        time.perf_counter() - t0,
    )
    report("network", 1.0)

    # ---------------------------------------------------------------- solve
    report("solve", 0.0)
    t0 = time.perf_counter()
    initial = _start_columns(problem, adapter, start)
    if initial is not None:
        assert start is not None
        problem = replace(problem, time_limit=start.time_limit)
        warm_solve: Callable[..., Solution] = adapter.solve  # adapters with ``warm_start`` take ``initial``
        # with a bound known to hold, the solver's own (costly) bound is skipped; when a
        # joint rollout warm-started from the previous schedule chooses the stores, the
        # single-year solve only repairs the start (it seeds the rollout and names the
        # single-year sites it leaves out), without swap sweeps
        joint_warm = (
            start.schedule is not None
            and scenario.rollout is not None
            and joint_rollout(scenario.rollout, adapter.name)
        )
        extra = {"local_search": False} if joint_warm else {}
        sol = warm_solve(problem, market, net, initial=initial, bound=start.bound is None, **extra)
        if start.bound is not None:
            sol = _with_bound(sol, start.bound, adapter.sense)
    else:
        sol = adapter.solve(problem, market, net)
    robust = None
    if scenario.response is not None and scenario.response.robust:
        sol, robust = _robust(problem, adapter, market, net, sol, scenario.response)
    solve_seconds = time.perf_counter() - t0
    log.info(
        "solve: %s, objective %.6g, bound %.6g, gap %.3g%% in %.2f s",
        sol.method,
        sol.objective,
        sol.bound,
        100 * sol.gap,
        solve_seconds,
    )
    report("solve", 1.0)
    joint = None
    if scenario.rollout is not None and joint_rollout(scenario.rollout, adapter.name):
        report("rollout", 0.0)
        jspec = _warm_spec(scenario.rollout, start if initial is not None else None)
        warm = start if initial is not None else None
        joint = _joint_rollout(problem, adapter, market, sol, jspec, warm)
        if joint is not None:  # None: no store opens at all; the single-year plan is sequenced
            sol = joint.solution

    # ---------------------------------------------------------------- evaluate
    report("evaluate", 0.0)
    model_problem, model_market, model_sol = problem, market, sol
    if problem.choose_format:
        problem, market, sol = _chosen_formats(
            problem,
            market,
            sol,
            adapter,
            MarketTables(scenario.areas, scenario.sites, scenario.existing, scenario.rivals, scenario.demand),
        )
    ev = evaluate(problem, adapter, market, net, sol)
    if joint is not None and not np.isfinite(model_sol.objective):
        # objectives valued on exact distances: the rollout's set is valued here
        sol = model_sol = replace(sol, objective=ev.objective, gap=ev.gap)
    if model_problem.choose_format:
        ev = replace(ev, stores=_next_best(model_problem, model_market, model_sol, adapter, ev.stores))
    alts = None
    alt_spec = scenario.alternatives
    if alternatives is not None:
        alt_spec = AlternativesSpec.model_validate(
            {**(alt_spec or AlternativesSpec()).model_dump(), "k": alternatives}
        )
    if alt_spec is not None:
        t0 = time.perf_counter()
        alts = find_alternatives(
            problem,
            adapter,
            market,
            net,
            sol,
            alt_spec,
            lambda s: evaluate(problem, adapter, market, net, s),
            lambda s: exact_objective(problem, adapter, s),
        )
        log.info(
            "alternatives: %d of %d plans within %.3g%%, core %d sites in %.2f s%s",
            len(alts.plans),
            alt_spec.k,
            100 * alt_spec.tolerance,
            len(alts.core),
            time.perf_counter() - t0,
            f" ({alts.stopped})" if alts.stopped else "",
        )
    report("evaluate", 1.0)

    # ---------------------------------------------------------------- curve
    report("curve", 0.0)
    open_cols = ev.open_cols
    curve = coverage_curve(
        problem.area_lon,
        problem.area_lat,
        problem.weights,
        problem.col_lon[open_cols],
        problem.col_lat[open_cols],
        problem.radius_km,
    )
    report("curve", 1.0)

    metrics: dict[str, Any] = {
        "objective": ev.objective,
        "objective_unit": OBJECTIVE_UNITS.get(adapter.name, ""),
        "model_objective": float(sol.objective),
        "bound": ev.bound,
        "gap": ev.gap,
        "proven_optimal": ev.proven_optimal,
        "sense": adapter.sense,
        "method": sol.method,
        "iterations": int(getattr(sol, "iterations", 0)),
        "solve_seconds": solve_seconds,
        "seconds": time.perf_counter() - t_start,
        "n_stores": int(len(open_cols)),
        "n_new_stores": int((open_cols < problem.n_sites).sum()),
        "n_existing_stores": int(problem.n_existing),
        "n_areas": int(len(problem.weights)),
        "n_candidate_sites": int(problem.n_sites),
        "n_rival_stores": int(len(scenario.rivals)),
        "network_pairs": int(net.nnz),
        "network_complete": bool(net.is_complete),
    }
    metrics.update(ev.metrics)
    if calibration is not None:
        metrics["calibration"] = calibration
    if channel_fit is not None:
        metrics["channel_fit"] = channel_fit.headline()
    if problem.budget is not None:
        metrics["budget"] = float(problem.budget)
    if not ev.proven_optimal and ev.gap > gap_warning:
        limit = problem.time_limit
        if joint is not None and joint.solution is not joint.seed_solution:
            hint = (
                "the joint rollout chose the stores for their NPV over the rollout years, which the "
                "single-year objective and its bound do not value"
            )
        elif limit is not None and solve_seconds >= 0.9 * limit:
            hint = f"the {limit:g} s time limit stopped the solver; raise options.time_limit"
        elif not net.is_complete:
            hint = "the radius-limited network weakens the bound; raise options.max_km / neighbours"
        else:
            hint = "raise options.time_limit to narrow it"
        warnings.warn(
            f"{scenario.name}: the plan is not proven optimal: certified gap {100 * ev.gap:.2f}% "
            f"(> {100 * gap_warning:g}%); {hint}",
            GapWarning,
            stacklevel=2,
        )
    stores, assignment = ev.stores, ev.assignment
    if "ownership" in stores:
        metrics.update(ownership_counts(stores["ownership"], stores["status"]))
    response = None
    if scenario.response is not None:
        t0 = time.perf_counter()
        new = ev.open_cols[ev.open_cols < problem.n_sites]
        response = (
            robust.response
            if robust is not None
            else rival_response(market, new, scenario.response, seed=problem.seed)
        )
        metrics["response"] = response.headline(None if robust is None else robust.headline())
        after = response.own_stores.set_index("id")["offline_revenue_after"]
        stores = stores.assign(
            offline_revenue_after_response=stores["id"].astype(str).map(after).fillna(0.0).to_numpy()
        )
        assignment = assignment.assign(share_after_response=response.areas["share_after"].to_numpy())
        log.info(
            "response: %d rival stores, our offline capture %.4g -> %.4g per year in %.2f s",
            len(response.stores),
            response.own_before,
            response.own_after,
            time.perf_counter() - t0,
        )
    if alts is not None:
        metrics["alternatives"] = alts.headline()
    launch = None
    if scenario.launch is not None:
        web_revenue = float(metrics["web_revenue"])
        launch = launch_stock(stores, web_revenue, scenario.launch)
        metrics["launch"] = launch.headline()
    provenance = {
        "seed": problem.seed,
        "time_limit": problem.time_limit,
        "scenario_hash": scenario.content_hash(),
        "source": scenario.source,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    plan = Plan(
        scenario_name=scenario.name,
        objective=adapter.name,
        stores=stores,
        assignment=assignment,
        areas=scenario.areas,
        rivals=scenario.rivals,
        solution=sol,
        metrics=PlanMetrics(**metrics),
        coverage_curve=curve,
        provenance=provenance,
        notes=scenario.notes,
        launch_stock=launch,
        response=response,
        alternatives=alts,
        assumptions=scenario.assumptions(market.params, calibrated=bool(calibration and calibration.applied)),
    )
    if joint is not None:
        plan = _joint_plan(plan, joint, model_problem, model_market, report)
    elif scenario.rollout is not None:
        must = tuple(str(s) for s in scenario.constraints.must_open)
        warm = start if initial is not None else None
        spec = _warm_spec(scenario.rollout, warm)
        plan = _rollout(plan, spec, market, must, problem.seed, report, warm)
    return plan


# ---------------------------------------------------------------------------- warm start
def _start_columns(problem: Problem, adapter: Any, start: WarmStart | None) -> np.ndarray | None:
    """The columns of a warm start's sites, or None for a cold solve (no start, or an
    objective / format choice that takes none)."""
    if start is None:
        return None
    if not getattr(adapter, "warm_start", False) or problem.choose_format:
        log.info("solve: %s takes no warm start; solving from scratch", adapter.name)
        return None
    pos = pd.Series(
        np.arange(problem.n_sites), index=pd.Index(problem.col_ids[: problem.n_sites].astype(str))
    )
    pos = pos[~pos.index.duplicated()]
    cols = pd.Series(list(start.sites), dtype=object).astype(str).map(pos).dropna()
    return cols.to_numpy(np.int64)


def _warm_spec(spec: RolloutSpec, start: WarmStart | None) -> RolloutSpec:
    """The rollout settings of a warm-started re-plan: the interchange within the start's
    time limit and :data:`WARM_EVALUATIONS` evaluations (``spec`` itself without a start)."""
    if start is None:
        return spec
    update: dict[str, Any] = {}
    if start.time_limit is not None:
        update["improve_seconds"] = min(spec.improve_seconds, start.time_limit)
    if start.schedule is not None:
        n = spec.improve_evaluations
        update["improve_evaluations"] = WARM_EVALUATIONS if n is None else min(n, WARM_EVALUATIONS)
    return spec.model_copy(update=update) if update else spec


def _with_bound(sol: Solution, bound: float, sense: str) -> Solution:
    """``sol`` with the better of its bound and a bound known to be valid."""
    from .solvers.solution import make_solution

    best = min(float(sol.bound), float(bound)) if sense == "max" else max(float(sol.bound), float(bound))
    # a valid bound is never on the wrong side of a feasible value
    best = max(best, float(sol.objective)) if sense == "max" else min(best, float(sol.objective))
    if best == float(sol.bound):
        return sol
    return make_solution(
        sol.sites,
        sol.assignment,
        sol.objective,
        best,
        seconds=sol.seconds,
        iterations=sol.iterations,
        method=sol.method + "+given-bound",
        sense=sense,
        info=dict(getattr(sol, "info", {}) or {}),
    )


# ---------------------------------------------------------------------------- response
def _robust(problem: Problem, adapter: Any, market: Market, net: Any, plain: Any, spec: ResponseSpec) -> Any:
    """Our plan chosen against the rivals' response (:func:`storeplan.response.robust_plan`).

    The leader re-solves the scenario's own objective (every constraint kept) with the
    rivals' new stores added to each area's Huff denominator. Returns the Solution of the
    chosen plan, valued *without* a response (so ``objective`` keeps its meaning; its gap
    against the plain problem's bound includes what robustness costs), and the choice.
    """
    from .solvers.solution import make_solution

    solutions = {tuple(np.sort(np.asarray(plain.sites, np.int64)).tolist()): plain}

    def leader(extra: np.ndarray) -> np.ndarray:
        if not np.any(extra):
            return np.asarray(plain.sites, np.int64)
        moved = replace(market, outside_u=market.outside_u + extra)
        sol = adapter.solve(problem, moved, net)
        solutions.setdefault(tuple(np.sort(np.asarray(sol.sites, np.int64)).tolist()), sol)
        return np.asarray(sol.sites, np.int64)

    choice: RobustChoice = robust_plan(market, leader, spec, seed=problem.seed)
    key = tuple(choice.sites.tolist())
    if solutions[key] is plain:
        return plain, choice
    chosen = solutions[key]
    value = choice.response.own_before - float(problem.fixed_cost[choice.sites].sum())
    sol = make_solution(
        choice.sites,
        chosen.assignment,
        value,
        float(plain.bound),
        seconds=float(plain.seconds) + float(chosen.seconds),
        iterations=int(plain.iterations) + int(chosen.iterations),
        method=f"{plain.method}+leader-follower",
        sense="max",
    )
    return sol, choice


# ---------------------------------------------------------------------------- market
def _calibrate_channel(market: Market, ex: pd.DataFrame, name: str) -> tuple[Market, ChannelFit | None]:
    """Fit ``[market.channel]`` (``calibrate = true``) to the existing stores' (``ex``)
    ``annual_sales`` (when given) and to the online orders per area, and apply the fit."""
    ch = market.params.channel
    if ch is None or not ch.calibrate:
        return market, None
    sales = None
    if "annual_sales" in ex.columns:
        obs = ex[["id", "annual_sales"]].dropna()
        obs = obs[obs["annual_sales"] > 0]
        if len(obs) >= 3:
            sales = pd.Series(obs["annual_sales"].to_numpy(float), index=obs["id"].astype(str))
    if sales is None:
        warnings.warn(
            f"{name}: market.channel.calibrate: fewer than 3 existing stores with annual_sales; "
            "store_rate and nest keep their values (only the halo is fitted)",
            CalibrationWarning,
            stacklevel=3,
        )
    fit = calibrate_channel(market, sales, fit_halo=True)
    log.info(
        "channel calibration: store_rate %.3g, nest %.3g, halo %.3g; R^2 sales %.3f, online %.3f",
        fit.params.store_rate if fit.params.store_rate is not None else float("nan"),
        fit.params.nest,
        fit.params.halo,
        fit.sales_r2,
        fit.online_r2,
    )
    return market.with_params(market.params.model_copy(update={"channel": fit.params})), fit


#: A calibration with an R^2 below this fits badly (CalibrationWarning).
CALIBRATION_MIN_R2 = 0.6


def build_market(
    scenario: Scenario, problem: Problem | None = None
) -> tuple[Market, CalibrationSummary | None]:
    """The Huff market of a scenario, calibrated when possible. Its candidates are the
    problem's candidate columns (with ``choose_format``: every (site, format) pair, ids
    ``"<site>@<format>"``); without ``problem``, the sites in their rule formats.

    Returns ``(market, calibration)`` where ``calibration`` is ``None`` or the fit report
    (R^2, MAPE, fitted values). Calibration runs when the existing stores carry
    ``annual_sales``; a :class:`storeplan.errors.CalibrationWarning` says why it did not
    run when the scenario asks for it (a ``[calibration]`` section, or sales given for
    too few stores), and when it fits badly (R^2 below :data:`CALIBRATION_MIN_R2`).
    """
    existing = scenario.existing
    if len(existing):
        existing = existing.copy()
        names = set(scenario.format_names)
        fmt = existing["format"].astype(object) if "format" in existing.columns else None
        default = scenario.format().name
        existing["format"] = (
            default if fmt is None else fmt.where(fmt.isin(list(names)), default).fillna(default)
        )
    cand = scenario.sites[["id", "lon", "lat"]]
    cand_format = scenario.site_formats()
    if problem is not None and problem.choose_format:
        k = problem.n_sites
        assert problem.col_site is not None  # set by every format-choice problem
        cand = cand.iloc[problem.col_site[:k]].reset_index(drop=True)
        cand["id"] = [f"{i}@{f}" for i, f in zip(cand["id"].astype(str), problem.col_format[:k], strict=True)]
        cand_format = problem.col_format[:k]
    market = build_huff_market(
        scenario.areas,
        cand,
        existing=existing,
        rivals=scenario.rivals,
        demand=scenario.demand,
        params=scenario.market_params(),
        candidate_format=cand_format,
    )
    cal = scenario.calibration
    asked = bool(cal.model_fields_set)  # the scenario has a [calibration] section
    if not cal.enabled:
        return market, None
    if "annual_sales" not in existing.columns:
        if asked:
            warnings.warn(
                f"{scenario.name}: calibration skipped: the existing stores have no 'annual_sales' "
                f"column ({len(existing)} existing stores); the market model keeps its default parameters",
                CalibrationWarning,
                stacklevel=3,
            )
        return market, None
    observed = existing[["id", "annual_sales"]].dropna()
    observed = observed[observed["annual_sales"] > 0]
    if len(observed) < cal.min_stores:
        warnings.warn(
            f"{scenario.name}: calibration skipped: {len(observed)} existing stores with annual_sales "
            f"(calibration.min_stores = {cal.min_stores}); the market model keeps its default parameters",
            CalibrationWarning,
            stacklevel=3,
        )
        return market, None
    params, rep = calibrate(
        market,
        observed,
        fit_decay=cal.fit_decay,
        fit_formats=cal.fit_formats,
        fit_outside=cal.fit_outside,
        fit_scale=cal.fit_scale,
    )
    applied = rep.acceptable(cal.min_r2) or cal.force
    log.info(
        "calibration: %d stores, R^2 %.3f (out of sample %.3f), MAPE %.1f%%, %s",
        rep.n_stores,
        rep.r2,
        rep.cv_r2,
        100 * rep.mape,
        "applied" if applied else "not applied",
    )
    message = ""
    if not applied:
        message = (
            f"{scenario.name}: calibration not applied: R^2 {rep.r2:.2f} < {cal.min_r2:g} on "
            f"{rep.n_stores} stores (set calibration.force = true to apply it anyway)"
        )
    elif not rep.acceptable(cal.min_r2):
        message = (
            f"{scenario.name}: calibration forced: R^2 {rep.r2:.2f} < {cal.min_r2:g} on {rep.n_stores} stores"
        )
    info = CalibrationSummary(
        n_stores=int(rep.n_stores),
        r2=float(rep.r2),
        mape=float(rep.mape),
        fitted={str(k): float(v) for k, v in dict(rep.fitted).items()},
        success=bool(rep.success),
        cv_r2=float(rep.cv_r2),
        cv_mape=float(rep.cv_mape),
        min_r2=float(cal.min_r2),
        applied=bool(applied),
        forced=bool(applied and not rep.acceptable(cal.min_r2)),
        message=message,
    )
    if message:
        warnings.warn(message, CalibrationWarning, stacklevel=3)
        if not applied:
            return market, info
    elif not rep.success or not rep.r2 >= CALIBRATION_MIN_R2:
        warnings.warn(
            f"{scenario.name}: the market model fits the observed sales of {rep.n_stores} stores badly "
            f"(R^2 {rep.r2:.2f} < {CALIBRATION_MIN_R2}, MAPE {100 * rep.mape:.0f}%"
            f"{'' if rep.success else ', optimiser did not converge'}); treat store revenues as rough",
            CalibrationWarning,
            stacklevel=3,
        )
    return market.with_params(params), info


@dataclass(frozen=True)
class MarketTables:
    """The validated tables a market is built from (the scenario's, read once in the
    input phase): areas, candidate sites, our existing stores, rivals, demand."""

    areas: pd.DataFrame
    sites: pd.DataFrame
    existing: pd.DataFrame
    rivals: pd.DataFrame
    demand: DemandParams


def _chosen_formats(
    problem: Problem, market: Market, sol: Solution, adapter: registry.Objective, tables: MarketTables
) -> tuple[Problem, Market, Solution]:
    """Restrict a format-choice model to the chosen (site, format) columns: the problem,
    a market whose candidates are the chosen sites in their chosen formats (same
    parameters, plain site ids) and the solution in the new column numbering."""
    k = problem.n_sites
    assert problem.col_site is not None  # set by every format-choice problem
    open_cols = adapter.open_columns(problem, sol)
    cand = np.sort(open_cols[open_cols < k])
    keep = np.concatenate([cand, k + np.arange(problem.n_existing)])
    new_of = np.full(problem.n_columns + 1, -1, dtype=np.int64)  # last slot: -1 stays -1
    new_of[keep] = np.arange(keep.size)
    per_col = (
        "col_ids",
        "col_lon",
        "col_lat",
        "col_name",
        "col_region",
        "col_format",
        "opening_cost",
        "fixed_cost",
        "capacity",
        "col_site",
        "col_ownership",
        "col_margin",
    )
    small = replace(
        problem,
        n_sites=int(cand.size),
        constraints=Constraints(),
        **{name: getattr(problem, name)[keep] for name in per_col if getattr(problem, name) is not None},
    )
    sites = tables.sites.iloc[problem.col_site[cand]][["id", "lon", "lat"]].reset_index(drop=True)
    existing = tables.existing
    if len(existing):
        existing = existing.copy()
        existing["format"] = problem.col_format[k:]
    eval_market = build_huff_market(
        tables.areas,
        sites,
        existing=existing,
        rivals=tables.rivals,
        demand=tables.demand,
        params=market.params,
        candidate_format=problem.col_format[cand],
    )
    assign = np.asarray(sol.assignment, dtype=np.int64)
    new_sol = replace(
        sol,
        sites=np.sort(new_of[np.asarray(sol.sites, dtype=np.int64)]),
        assignment=new_of[np.where(assign >= 0, assign, problem.n_columns)],
    )
    return small, eval_market, new_sol


def _next_best(
    problem: Problem, market: Market, sol: Solution, adapter: registry.Objective, stores: pd.DataFrame
) -> pd.DataFrame:
    """``next_format`` and ``next_format_objective``: per new store, the best other format
    its site allows and the model objective with the store in that format (the rest of
    the plan kept); empty / NaN where the site allows one format only."""
    k = problem.n_sites
    assert problem.col_site is not None  # set by every format-choice problem
    open_cols = adapter.open_columns(problem, sol)
    cand = open_cols[open_cols < k]
    forbidden = problem.constraints.forbidden
    bad = set() if forbidden is None else set(np.asarray(forbidden).tolist())
    pairs: list[tuple[int, int]] = []
    owner: list[int] = []
    for a in cand:
        for b in np.flatnonzero(problem.col_site[:k] == problem.col_site[a]):
            if b != a and int(b) not in bad:
                pairs.append((int(a), int(b)))
                owner.append(int(a))
    best: dict[str, tuple[str, float]] = {}
    if pairs:
        vals = adapter.swap_values(problem, market, sol, float(sol.objective), np.array(pairs))
        maximise = adapter.sense == "max"
        for (col, alt), v in zip(pairs, vals, strict=True):
            sid = str(problem.col_ids[col])
            if sid not in best or (v > best[sid][1] if maximise else v < best[sid][1]):
                best[sid] = (str(problem.col_format[alt]), float(v))
    out = stores.copy()
    ids = out["id"].astype(str)
    out["next_format"] = [best[i][0] if i in best else "" for i in ids]
    out["next_format_objective"] = [best[i][1] if i in best else np.nan for i in ids]
    return out


# ---------------------------------------------------------------------------- problem
def allowed_formats(scenario: Scenario) -> np.ndarray:
    """(sites x formats) mask of the formats each candidate site allows (format choice):
    the format's ``levels`` (empty: any), ``min_population`` and ``min_income``."""
    sites, areas = scenario.sites, scenario.areas
    n = len(sites)
    out = np.ones((n, len(scenario.formats)), dtype=bool)

    def attr(name: str) -> np.ndarray | None:
        if name in sites.columns:
            return sites[name].to_numpy()
        if name in areas.columns:  # sites from areas: look the value up by id
            look = pd.Series(areas[name].to_numpy(), index=areas["id"].astype(str))
            vals = sites["id"].astype(str).map(look)
            return None if vals.isna().all() else vals.to_numpy()
        return None

    level, pop, income = attr("level"), attr("population"), attr("income")
    for k, f in enumerate(scenario.formats):
        if f.levels and level is not None:
            out[:, k] &= np.isin(level.astype(object), list(f.levels))
        if f.min_population > 0 and pop is not None:
            out[:, k] &= np.nan_to_num(pop.astype(float), nan=0.0) >= f.min_population
        if f.min_income > 0 and income is not None:
            out[:, k] &= np.nan_to_num(income.astype(float), nan=0.0) >= f.min_income
    return out


def _site_options(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(site index, format name) of every candidate column."""
    n_sites = len(scenario.sites)
    if not scenario.objective.choose_format:
        return np.arange(n_sites, dtype=np.int64), scenario.site_formats()
    fo = FormatOptions.from_mask(allowed_formats(scenario))
    names = np.array(scenario.format_names, dtype=object)
    return fo.site, names[fo.format]


def build_problem(scenario: Scenario) -> Problem:
    """The scenario's location problem as plain arrays (columns: candidate sites, or with
    ``choose_format`` every allowed (site, format) pair, then existing stores)."""
    sites, existing, areas = scenario.sites, scenario.existing, scenario.areas
    obj, opt = scenario.objective, scenario.options
    n_exist = len(existing)
    site_of, site_fmt = _site_options(scenario)
    n_cand = int(site_of.shape[0])
    base = np.concatenate([site_of, len(sites) + np.arange(n_exist)])
    base_lon = np.concatenate([sites["lon"].to_numpy(float), existing["lon"].to_numpy(float)])
    base_lat = np.concatenate([sites["lat"].to_numpy(float), existing["lat"].to_numpy(float)])
    base_ids = np.concatenate(
        [sites["id"].astype(object).to_numpy(), existing["id"].astype(object).to_numpy()]
    )
    default = scenario.format()
    fmt_by_name = {f.name: f for f in scenario.formats}
    raw = np.concatenate([site_fmt, _existing_formats(existing, default.name)])
    fmts = [fmt_by_name.get(str(f), default) for f in raw]
    off = offline_spending(areas, scenario.demand)
    opening = np.array([f.opening_cost for f in fmts], dtype=np.float64)
    people = [f.name for f in scenario.formats if f.capacity > 0]
    sales = [f.name for f in scenario.formats if f.sales_capacity > 0]
    if people and sales:
        raise UnsupportedConstraintError(
            f"formats cap both people (capacity: {', '.join(people)}) and sales (sales_capacity: "
            f"{', '.join(sales)}); one capacity row per store is modelled: give one kind for every format"
        )
    unit = "currency" if sales else "people"
    caps = [f.sales_capacity if sales else f.capacity for f in fmts]
    margins = scenario.format_margins(scenario.rollout)
    problem = Problem(
        kind=obj.kind,
        area_ids=areas["id"].to_numpy(),
        area_lon=areas["lon"].to_numpy(np.float64),
        area_lat=areas["lat"].to_numpy(np.float64),
        weights=areas["population"].to_numpy(np.float64),
        col_ids=base_ids[base],
        col_lon=base_lon[base],
        col_lat=base_lat[base],
        col_name=np.concatenate([_column(sites, "name"), _column(existing, "name")])[base],
        col_region=np.concatenate([_column(sites, "region"), _column(existing, "region")])[base],
        n_sites=n_cand,
        n_existing=n_exist,
        col_format=np.array([f.name for f in fmts], dtype=object),
        opening_cost=opening,
        fixed_cost=np.array([f.fixed_cost for f in fmts], dtype=np.float64),
        capacity=np.array(caps, dtype=np.float64),
        capacity_unit=unit,
        constraints=_constraints(scenario, base, base_lon, base_lat, raw, opening, n_cand),
        p_new=scenario.n_new_stores(),
        stores=obj.stores,
        budget=obj.budget,
        radius_km=float(obj.radius_km),
        cost_per_km=float(obj.cost_per_km),
        amortisation_years=float(obj.amortisation_years),
        max_km=float(opt.max_km),
        neighbours=int(opt.neighbours),
        max_sites_per_area=opt.max_sites_per_area,
        dense_pairs=int(opt.dense_pairs),
        time_limit=opt.time_limit,
        seed=int(opt.seed),
        category_spending={cat: off[cat].to_numpy(np.float64) for cat in scenario.demand.category_names},
        col_site=base,
        choose_format=bool(obj.choose_format),
        fill_must_open=bool(obj.fill_must_open),
        fill_tolerance=float(obj.fill_tolerance),
        col_ownership=np.array([f.ownership for f in fmts], dtype=object),
        col_margin=np.array([margins[f.name] for f in fmts], dtype=np.float64),
    )
    return problem


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    """A text column as object values, missing ones as None (absent column: all None)."""
    if name in df.columns:
        col = df[name].astype(object)
        return col.where(col.notna(), None).to_numpy()
    return np.full(len(df), None, dtype=object)


def _existing_formats(existing: pd.DataFrame, default: str) -> np.ndarray:
    if "format" in existing.columns:
        return existing["format"].fillna(default).astype(object).to_numpy()
    return np.full(len(existing), default, dtype=object)


def _constraints(
    scenario: Scenario,
    base: np.ndarray,
    base_lon: np.ndarray,
    base_lat: np.ndarray,
    col_format: np.ndarray,
    opening: np.ndarray,
    n_cand: int,
) -> Constraints:
    """Side constraints on the model's columns (``base[k]``: the site / store of column k).

    Must-open sites, forbidden sites, spacing (site pairs expanded to their columns),
    one format per site, the opening budget (knapsack row), quotas over any grouping
    column and per-format store limits. Quotas that cannot be met are named here, before
    any solving."""
    sites, con = scenario.sites, scenario.constraints
    n_sites, n_exist = len(sites), len(scenario.existing)
    n_col = n_cand + n_exist
    cols = FormatOptions(base, np.zeros(n_col, dtype=np.int64), n_sites + n_exist)
    cand_site = base[:n_cand]
    must_site = sites["must_open"].to_numpy(bool)
    forb_site = sites["forbidden"].to_numpy(bool)
    ids = sites["id"].astype(str).to_numpy()
    quotas: list[Quota] = []
    must: list[int] = [int(c) for c in n_cand + np.arange(n_exist)]
    has_opt = np.zeros(n_sites, dtype=bool)
    has_opt[cand_site] = True
    missing = np.flatnonzero(must_site & ~has_opt)
    if missing.size:
        raise InfeasibleError(
            f"constraints.must_open: site {ids[missing[0]]} allows no store format "
            "(levels / min_population / min_income)"
        )
    for s in np.flatnonzero(must_site):
        opts = np.flatnonzero(cand_site == s)
        if opts.size == 1:
            must.append(int(opts[0]))
        else:  # open in one of its formats
            quotas.append(Quota(f"must-open site {ids[s]}", opts, lo=1))
    forbidden = np.flatnonzero(forb_site[cand_site]).astype(np.int64)
    allowed_col = np.ones(n_col, dtype=bool)
    allowed_col[forbidden] = False
    conflicts = [cols.one_per_site()] if scenario.objective.choose_format else []
    if con.min_spacing_km > 0:
        pairs = pairs_within(base_lon, base_lat, con.min_spacing_km)
        # two existing stores may be close together: they are facts, not choices
        pairs = pairs[~((pairs[:, 0] >= n_sites) & (pairs[:, 1] >= n_sites))]
        conflicts.append(cols.expand_pairs(pairs))
    conflicts = [c for c in conflicts if len(c)]
    for q in con.all_quotas():
        if q.column not in sites.columns:
            raise InputError(f"constraints: quotas on {q.column!r} need a {q.column!r} column on the sites")
        value = sites[q.column].astype(object).to_numpy()[cand_site]
        for key in sorted({*q.min, *q.max, *q.budget_min, *q.budget_max}):
            members = np.flatnonzero(value.astype(str) == str(key))
            n_allowed = len(set(cand_site[members[allowed_col[members]]].tolist()))
            n_must = int(must_site[np.unique(cand_site[members])].sum()) if members.size else 0
            lo, hi = q.min.get(key, 0), q.max.get(key)
            if lo > n_allowed:
                raise InfeasibleError(
                    f"{q.column}_min for {key} = {lo} but only {n_allowed} candidate sites in {key}"
                )
            if hi is not None and n_must > hi:
                raise InfeasibleError(
                    f"{q.column}_max for {key} = {hi} but {n_must} must-open sites in {key}"
                )
            if lo > 0 or hi is not None:
                quotas.append(
                    Quota(f"{q.column} {key}", members, lo=float(lo), hi=np.inf if hi is None else float(hi))
                )
            blo, bhi = q.budget_min.get(key, 0.0), q.budget_max.get(key)
            if blo > 0 or bhi is not None:
                most = (
                    pd.Series(opening[members][allowed_col[members]])
                    .groupby(cand_site[members][allowed_col[members]])
                    .max()
                    .sum()
                )
                if blo > most * (1 + 1e-12):
                    raise InfeasibleError(
                        f"{q.column}_budget_min for {key} = {blo:,.0f} but all {n_allowed} candidate sites "
                        f"in {key} together cost at most {most:,.0f}"
                    )
                quotas.append(
                    Quota(
                        f"{q.column} {key} budget",
                        members,
                        weight=opening[members],
                        lo=float(blo),
                        hi=np.inf if bhi is None else float(bhi),
                        unit="currency",
                    )
                )
    for f in scenario.formats:
        if f.max_stores is not None:
            quotas.append(
                Quota(f"format {f.name}", np.flatnonzero(col_format[:n_cand] == f.name), hi=f.max_stores)
            )
    budget = scenario.objective.budget
    site_cost = opening.copy()
    site_cost[n_cand:] = 0.0  # existing stores are open already
    must_arr = np.asarray(must, dtype=np.int64)
    return Constraints(
        must_open=must_arr if len(must_arr) else None,
        forbidden=forbidden if len(forbidden) else None,
        conflicts=np.concatenate(conflicts) if conflicts else None,
        site_cost=site_cost if budget is not None else None,
        budget=float(budget) if budget is not None else None,
        quotas=tuple(quotas),
    )


# ---------------------------------------------------------------------------- rollout
def _rollout(
    plan: Plan,
    spec: RolloutSpec,
    market: Market,
    must_open_ids: tuple[str, ...],
    seed: int,
    report: ProgressFn,
    start: WarmStart | None = None,
) -> Plan:
    """Schedule the plan's stores over the rollout years and forecast them (warm-started
    from ``start.schedule`` when given)."""
    report("rollout", 0.0)
    t0 = time.perf_counter()
    ids = plan.stores["id"].astype(str).tolist()
    oracle = oracle_from_market(market, ids)
    must_open = None
    if must_open_ids:
        exist = (plan.stores["status"].astype(str) == "existing").to_numpy()
        must_open = np.isin(np.asarray(ids, dtype=object), list(must_open_ids)) & ~exist
    warm = dict(start.schedule) if start is not None and start.schedule is not None else None
    sched = rollout_plan(plan, spec, oracle=oracle, must_open=must_open, seed=seed, start=warm)
    fc = forecast(sched, oracle)
    summary = rollout_summary(spec.years, sched, fc)
    metrics = replace(
        plan.metrics, rollout=summary, seconds=plan.metrics.seconds + (time.perf_counter() - t0)
    )
    log.info(
        "rollout: %d years, NPV %.4g, payback year %s, target met %s in %.2f s",
        spec.years,
        fc.npv,
        fc.payback_year,
        fc.target_met,
        time.perf_counter() - t0,
    )
    report("rollout", 1.0)
    return replace(plan, metrics=metrics, schedule=sched, forecast=fc)


def joint_rollout(spec: RolloutSpec, objective: str) -> bool:
    """Whether the rollout chooses its sites from every candidate (``spec.universe``;
    ``"auto"``: for the ``revenue`` objective, whose yearly value the NPV extends)."""
    if spec.universe == "auto":
        return objective == "revenue"
    return spec.universe == "candidates"


@dataclass(frozen=True)
class _Joint:
    """A joint rollout over every candidate column and the plan solution it implies."""

    schedule: Schedule
    solution: Solution
    seed_solution: Solution  # the single-year solution
    single_year: np.ndarray  # its candidate columns
    seconds: float


def _joint_rollout(
    problem: Problem,
    adapter: registry.Objective,
    market: Market,
    sol: Solution,
    spec: RolloutSpec,
    start: WarmStart | None = None,
) -> _Joint | None:
    """Schedule every candidate column over the rollout years (the single-year solution
    ``sol`` as the seed; warm-started from ``start.schedule`` with ``start.rollout_bound``
    when given) under every constraint of ``problem``; return the schedule and the
    :class:`Solution` of the stores it opens (same bound: a feasible set of the same
    model)."""
    t0 = time.perf_counter()
    _check_joint(problem)
    k, n = problem.n_sites, problem.n_columns
    exist = np.arange(n) >= k
    cols = adapter.open_columns(problem, sol)
    single = np.sort(cols[cols < k])
    ids = np.asarray(market.store_ids[:n], dtype=object)
    oracle = HuffOracle(market, np.arange(n, dtype=np.int64))
    cost = np.where(exist, 0.0, problem.opening_cost)
    sched = schedule_rollout(
        oracle,
        cost,
        problem.fixed_cost,
        spec,
        ids=ids.tolist(),
        existing=exist,
        constraints=problem.constraints,
        max_new=problem.stores,
        seed_sites=single,
        seed=problem.seed,
        extra={"region": problem.col_region.astype(object)},
        start=dict(start.schedule) if start is not None and start.schedule is not None else None,
        bound=start.rollout_bound if start is not None else None,
        margin=problem.col_margin,
    )
    opened = np.flatnonzero(sched.open_year >= 1)
    if len(opened) == 0 and not exist.any():
        # a plan of no store cannot be evaluated: keep the single-year plan, whose
        # sequenced rollout then says per store why it is not opened (cap, budget, NPV)
        log.info("rollout: the joint rollout opens no store; sequencing the single-year plan")
        return None
    same = np.array_equal(opened, single)
    if same:
        new_sol = sol
    else:
        value = _model_value(problem, adapter, market, opened)
        sites = np.sort(np.concatenate([opened, np.asarray(sol.sites, np.int64)[np.asarray(sol.sites) >= k]]))
        new_sol = replace(
            sol,
            sites=sites,
            assignment=np.full(len(problem.weights), -1, np.int64),
            objective=value,
            gap=float("nan"),
            proven_optimal=False,
            method=f"{sol.method}; sites chosen by the joint rollout",
        )
        if np.isfinite(value):
            from .solvers.solution import relative_gap

            new_sol = replace(new_sol, gap=relative_gap(value, float(sol.bound)))
    log.info(
        "rollout: joint over %d candidates: %d stores (%d of the single-year plan's %d), NPV %.4g, "
        "bound %.4g, gap %.3g%% in %.2f s",
        k,
        len(opened),
        int(np.isin(opened, single).sum()),
        len(single),
        sched.npv,
        sched.bound,
        100 * sched.gap,
        time.perf_counter() - t0,
    )
    return _Joint(sched, new_sol, sol, single, time.perf_counter() - t0)


def _check_joint(problem: Problem) -> None:
    """Refuse, before any solving, what the joint rollout cannot keep (capacities)."""
    if problem.capacities() is not None:
        fmt = sorted({str(f) for f, c in zip(problem.col_format, problem.capacity, strict=True) if c > 0})
        raise UnsupportedConstraintError(
            f"capacity (format {', '.join(fmt)}) cannot be kept by the joint rollout, which does not "
            'assign areas to stores; set rollout.universe = "plan" to sequence the capacitated plan'
        )


def _model_value(problem: Problem, adapter: registry.Objective, market: Market, sites: np.ndarray) -> float:
    """The model objective of the candidate columns ``sites`` where the adapter values it
    from the solution (revenue: the Huff capture minus fixed costs); NaN for objectives
    that :func:`storeplan.evaluation.evaluate` values on exact distances."""
    if adapter.name != "revenue":
        return float("nan")
    from .market import revenue_inputs
    from .solvers.revenue import RevenueProblem, objective_value

    inp = revenue_inputs(market)
    prob = RevenueProblem.build(
        inp["utility"],
        inp["weight"],
        base_own=inp["base_own"],
        base_total=inp["base_total"],
        fixed_cost=problem.fixed_cost[: problem.n_sites],
    )
    return float(objective_value(prob, sites))


def _joint_plan(plan: Plan, joint: _Joint, problem: Problem, market: Market, report: ProgressFn) -> Plan:
    """The joint schedule restricted to the plan's stores (all opened) and the
    single-year plan's sites it left unopened (with ``reason``), and its forecast."""
    t0 = time.perf_counter()
    sched = joint.schedule
    o = sched.open_year
    col_of = {str(problem.col_ids[c]): int(c) for c in np.flatnonzero(o >= 0)}
    plan_ids = plan.stores["id"].astype(str).tolist()
    missing = [i for i in plan_ids if i not in col_of]
    if missing:  # the plan is the set the rollout opens
        raise AssertionError(f"plan stores not opened by the rollout: {missing[:5]}")
    keep = [col_of[i] for i in plan_ids]
    opened_sites = {int(problem.col_site[c]) for c in keep} if problem.col_site is not None else set(keep)
    left = [
        int(c)
        for c in joint.single_year
        if o[c] < 0 and (problem.col_site is None or int(problem.col_site[c]) not in opened_sites)
    ]
    sub = np.asarray(keep + left, dtype=np.int64)
    reasons = dict(sched.extra.get("seed_reason", {}))
    ids = np.asarray(plan_ids + [str(problem.col_ids[c]) for c in left], dtype=object)
    reason = np.asarray([""] * len(keep) + [reasons.get(str(sched.ids[c]), "") for c in left], dtype=object)
    oracle = HuffOracle(market, sub)
    extra = {"region": np.asarray(sched.extra["region"], dtype=object)[sub], "reason": reason}
    small = replace(
        sched,
        ids=ids,
        open_year=o[sub],
        opening_cost=sched.opening_cost[sub],
        fixed_cost=sched.fixed_cost[sub],
        margin=None if sched.margin is None else sched.margin[sub],
        extra=extra,
        oracle=oracle,
        must_year=None if sched.must_year is None else sched.must_year[sub],
        forbidden=None if sched.forbidden is None else sched.forbidden[sub],
    )
    fc = forecast(small, oracle)
    summary = rollout_summary(sched.years, small, fc, chose_sites=True)
    seconds = joint.seconds + (time.perf_counter() - t0)
    metrics = replace(plan.metrics, rollout=summary, seconds=plan.metrics.seconds + seconds)
    log.info(
        "rollout: %d years, NPV %.4g (bound %.4g), payback year %s, target met %s; %d single-year "
        "sites not opened",
        sched.years,
        fc.npv,
        sched.bound,
        fc.payback_year,
        fc.target_met,
        len(left),
    )
    report("rollout", 1.0)
    return replace(plan, metrics=metrics, schedule=small, forecast=fc)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"storeplan": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "highspy", "numba", "scikit-learn"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out
