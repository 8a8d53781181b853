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
import logging
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from . import objectives as registry
from .alternatives import AlternativesSpec, find_alternatives
from .demand import offline_spending
from .errors import CalibrationWarning, GapWarning
from .evaluation import coverage_curve, evaluate
from .geo import pairs_within
from .launch_stock import launch_stock
from .market import Market, calibrate
from .market import build_market as build_huff_market
from .metrics import OBJECTIVE_UNITS, CalibrationSummary, PlanMetrics, RolloutSummary
from .objectives import Problem
from .plan import Plan
from .response import ResponseSpec, RobustChoice, rival_response, robust_plan
from .rollout import RolloutSpec, forecast, oracle_from_market, rollout_plan
from .scenario import Scenario
from .solvers import Constraints

__all__ = ["solve", "build_market", "build_problem", "PHASES", "ProgressFn", "GAP_WARNING"]

log = logging.getLogger(__name__)

#: Phase names reported to ``progress(phase, fraction)``.
PHASES = ("market", "network", "solve", "evaluate", "curve", "rollout")

ProgressFn = Callable[[str, float], None]


#: A plan whose certified gap exceeds this share (and is not proven) raises a GapWarning.
GAP_WARNING = 0.01


def solve(
    scenario: Scenario,
    *,
    progress: ProgressFn | None = None,
    gap_warning: float = GAP_WARNING,
    alternatives: int | None = None,
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
    market, calibration = build_market(scenario)
    log.info(
        "market: %d stores (%d rivals), offline spending %.4g per year in %.2f s",
        market.n_stores,
        len(scenario.rivals),
        float(market.market.sum()),
        time.perf_counter() - t0,
    )
    problem = build_problem(scenario)
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

    # ---------------------------------------------------------------- evaluate
    report("evaluate", 0.0)
    ev = evaluate(problem, adapter, market, net, sol)
    alts = None
    alt_spec = scenario.alternatives
    if alternatives is not None:
        alt_spec = AlternativesSpec.model_validate(
            {**(alt_spec or AlternativesSpec()).model_dump(), "k": alternatives}
        )
    if alt_spec is not None:
        t0 = time.perf_counter()
        alts = find_alternatives(
            problem, adapter, market, net, sol, alt_spec, lambda s: evaluate(problem, adapter, market, net, s)
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
    if problem.budget is not None:
        metrics["budget"] = float(problem.budget)
    if not ev.proven_optimal and ev.gap > gap_warning:
        limit = problem.time_limit
        if limit is not None and solve_seconds >= 0.9 * limit:
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
    response = None
    if scenario.response is not None:
        t0 = time.perf_counter()
        new = ev.open_cols[ev.open_cols < problem.n_sites]
        response = (
            robust.response
            if robust is not None
            else rival_response(market, new, scenario.response, seed=problem.seed)
        )
        metrics["response"] = response.headline()
        if robust is not None:
            metrics["response"]["robust"] = robust.headline()
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
        web_revenue = float(market.online.sum()) - float(metrics["online_transfer"])
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
    )
    if scenario.rollout is not None:
        must = tuple(str(s) for s in scenario.constraints.must_open)
        plan = _rollout(plan, scenario.rollout, market, must, problem.seed, report)
    return plan


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
#: A calibration with an R^2 below this fits badly (CalibrationWarning).
CALIBRATION_MIN_R2 = 0.6


def build_market(scenario: Scenario) -> tuple[Market, CalibrationSummary | None]:
    """The Huff market of a scenario (candidates = sites), calibrated when possible.

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
    market = build_huff_market(
        scenario.areas,
        scenario.sites[["id", "lon", "lat"]],
        existing=existing,
        rivals=scenario.rivals,
        demand=scenario.demand,
        params=scenario.market_params(),
        candidate_format=scenario.site_formats(),
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
        market, observed, fit_decay=cal.fit_decay, fit_formats=cal.fit_formats, fit_outside=cal.fit_outside
    )
    log.info("calibration: %d stores, R^2 %.3f, MAPE %.1f%%", rep.n_stores, rep.r2, 100 * rep.mape)
    info = CalibrationSummary(
        n_stores=int(rep.n_stores),
        r2=float(rep.r2),
        mape=float(rep.mape),
        fitted={str(k): float(v) for k, v in dict(rep.fitted).items()},
        success=bool(rep.success),
    )
    if not rep.success or not rep.r2 >= CALIBRATION_MIN_R2:
        warnings.warn(
            f"{scenario.name}: the market model fits the observed sales of {rep.n_stores} stores badly "
            f"(R^2 {rep.r2:.2f} < {CALIBRATION_MIN_R2}, MAPE {100 * rep.mape:.0f}%"
            f"{'' if rep.success else ', optimiser did not converge'}); treat store revenues as rough",
            CalibrationWarning,
            stacklevel=3,
        )
    return market.with_params(params), info


# ---------------------------------------------------------------------------- problem
def build_problem(scenario: Scenario) -> Problem:
    """The scenario's location problem as plain arrays (columns: sites, then existing)."""
    sites, existing, areas = scenario.sites, scenario.existing, scenario.areas
    obj, opt = scenario.objective, scenario.options
    n_sites, n_exist = len(sites), len(existing)
    col_lon = np.concatenate([sites["lon"].to_numpy(float), existing["lon"].to_numpy(float)])
    col_lat = np.concatenate([sites["lat"].to_numpy(float), existing["lat"].to_numpy(float)])
    default = scenario.format()
    fmt_by_name = {f.name: f for f in scenario.formats}
    raw = np.concatenate([scenario.site_formats(), _existing_formats(existing, default.name)])
    fmts = [fmt_by_name.get(str(f), default) for f in raw]
    off = offline_spending(areas, scenario.demand)
    return Problem(
        kind=obj.kind,
        area_ids=areas["id"].to_numpy(),
        area_lon=areas["lon"].to_numpy(np.float64),
        area_lat=areas["lat"].to_numpy(np.float64),
        weights=areas["population"].to_numpy(np.float64),
        col_ids=np.concatenate(
            [sites["id"].astype(object).to_numpy(), existing["id"].astype(object).to_numpy()]
        ),
        col_lon=col_lon,
        col_lat=col_lat,
        col_name=np.concatenate([_column(sites, "name"), _column(existing, "name")]),
        col_region=np.concatenate([_column(sites, "region"), _column(existing, "region")]),
        n_sites=n_sites,
        n_existing=n_exist,
        col_format=np.array([f.name for f in fmts], dtype=object),
        opening_cost=np.array([f.opening_cost for f in fmts], dtype=np.float64),
        fixed_cost=np.array([f.fixed_cost for f in fmts], dtype=np.float64),
        capacity=np.array([f.capacity for f in fmts], dtype=np.float64),
        constraints=_constraints(scenario, col_lon, col_lat),
        p_new=scenario.n_new_stores(),
        stores=obj.stores,
        budget=obj.budget,
        radius_km=float(obj.radius_km),
        cost_per_km=float(obj.cost_per_km),
        amortisation_years=float(obj.amortisation_years),
        max_km=float(opt.max_km),
        neighbours=int(opt.neighbours),
        dense_pairs=int(opt.dense_pairs),
        time_limit=opt.time_limit,
        seed=int(opt.seed),
        category_spending={cat: off[cat].to_numpy(np.float64) for cat in scenario.demand.category_names},
    )


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


def _constraints(scenario: Scenario, col_lon: np.ndarray, col_lat: np.ndarray) -> Constraints:
    sites, con = scenario.sites, scenario.constraints
    n_sites, n_exist = len(sites), len(scenario.existing)
    must = np.concatenate(
        [np.flatnonzero(sites["must_open"].to_numpy()), n_sites + np.arange(n_exist)]
    ).astype(np.int64)
    forbidden = np.flatnonzero(sites["forbidden"].to_numpy()).astype(np.int64)
    group = group_min = group_max = None
    if con.region_min or con.region_max:
        regions = sites["region"].astype(object).to_numpy()
        names = sorted(set(con.region_min) | set(con.region_max))
        code = {r: g for g, r in enumerate(names)}
        group = np.full(n_sites + n_exist, -1, dtype=np.int64)
        group[:n_sites] = [code.get(r, -1) for r in regions]
        group_min = np.array([con.region_min.get(r, 0) for r in names], dtype=np.int64)
        big = n_sites + n_exist
        group_max = np.array([con.region_max.get(r, big) for r in names], dtype=np.int64)
    conflicts = None
    if con.min_spacing_km > 0:
        pairs = pairs_within(col_lon, col_lat, con.min_spacing_km)
        # two existing stores may be close together: they are facts, not choices
        both_existing = (pairs[:, 0] >= n_sites) & (pairs[:, 1] >= n_sites)
        conflicts = pairs[~both_existing]
    return Constraints(
        must_open=must if len(must) else None,
        forbidden=forbidden if len(forbidden) else None,
        group=group,
        group_min=group_min,
        group_max=group_max,
        conflicts=conflicts,
    )


# ---------------------------------------------------------------------------- rollout
def _rollout(
    plan: Plan,
    spec: RolloutSpec,
    market: Market,
    must_open_ids: tuple[str, ...],
    seed: int,
    report: ProgressFn,
) -> Plan:
    """Schedule the plan's stores over the rollout years and forecast them."""
    report("rollout", 0.0)
    t0 = time.perf_counter()
    ids = plan.stores["id"].astype(str).tolist()
    oracle = oracle_from_market(market, ids)
    must_open = None
    if must_open_ids:
        exist = (plan.stores["status"].astype(str) == "existing").to_numpy()
        must_open = np.isin(np.asarray(ids, dtype=object), list(must_open_ids)) & ~exist
    sched = rollout_plan(plan, spec, oracle=oracle, must_open=must_open, seed=seed)
    fc = forecast(sched, oracle)
    summary = RolloutSummary(
        years=spec.years,
        horizon=fc.horizon,
        discount_rate=fc.discount_rate,
        opened_per_year=tuple(int(x) for x in sched.opened_per_year()),
        capex_per_year=tuple(float(x) for x in sched.capex_per_year()),
        npv=fc.npv,
        npv_new=fc.npv_new,
        npv_bound=float(sched.bound),
        npv_gap=float(sched.gap),
        payback_year=fc.payback_year,
        total_revenue=fc.total_revenue,
        final_revenue=fc.final_revenue,
        target_met=fc.target_met,
        shortfall=fc.shortfall,
        extra_stores=fc.extra_stores,
        method=sched.method,
    )
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


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"storeplan": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "highspy", "numba", "scikit-learn"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out
