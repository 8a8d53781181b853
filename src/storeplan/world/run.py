"""``plan_world``: a world scenario, decomposed by country.

1. **inputs**: one scenario per country, in its own currency
   (:func:`~storeplan.world.country_inputs`);
2. **curves**: each country's value curve, independently
   (:func:`~storeplan.world.curves.country_curve`), on the chosen engine;
3. **master**: the allocation of entry years, stores and capital per country and year
   under the global limits, and the world bound
   (:mod:`storeplan.world.master`);
4. **countries**: each entered country's own plan and joint rollout under its
   allocation (:func:`storeplan.pipeline.solve` with the country's yearly caps and
   budgets), independently, on the chosen engine; its forecast is exact. With
   ``[world] compare_allocations`` the countries are planned under the sequence
   allocation as well where it differs, and the best combination of country plans
   that keeps the global limits is kept (:func:`~storeplan.world.master.select_plans`:
   the joint programme values single stores and so misjudges how much a country's
   stores take from each other; the sequences value them in greedy order);
5. **tables**: the :class:`~storeplan.world.WorldPlan` tables, in the planning currency.

Same inputs, seed and settings give the same plan on every engine and worker count: the
tasks are pure functions of their inputs and the results are collected in country
order.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..engine import run_many, worker_count
from ..errors import GapWarning, InfeasibleError, InputError
from ..pipeline import GAP_WARNING, solve
from ..rollout import RolloutSpec
from ..scenario import Scenario
from .curves import CountryCurve, CurveTask, country_curve, item_values
from .inputs import CountryInput, country_inputs, planning_rates
from .master import Allocation, CountryOption, allocate, allocate_joint, best_bound, joint_bound, select_plans
from .plan import WorldMetrics, WorldPlan

__all__ = ["plan_world", "CountryTask", "country_plan"]

log = logging.getLogger("storeplan")

ProgressFn = Callable[[str, float], None]


@dataclass(frozen=True)
class CountryTask:
    """One country's plan under its allocation (picklable)."""

    country: CountryInput
    rollout: RolloutSpec
    stores: int
    seconds: float


def country_plan(task: CountryTask):
    """The country's :class:`~storeplan.plan.Plan` (country currency) under its yearly
    caps and budgets: the revenue objective's single-year plan, then the joint rollout
    that chooses sites, formats and years for NPV; None when no plan keeps its limits
    (e.g. its minimum network within its capital)."""
    scn = task.country.scenario
    obj = scn.objective.model_copy(update={"stores": int(task.stores), "budget": None})
    opt = scn.options.model_copy(update={"time_limit": float(task.seconds)})
    scn = replace(scn, objective=obj, options=opt, rollout=task.rollout)
    # the country's certificate is its rollout's NPV gap (countries.csv); the single-year
    # objective's gap does not value the stores the joint rollout chose (no GapWarning)
    try:
        return solve(scn, gap_warning=float("inf"))
    except InfeasibleError:
        return None  # no plan opens the minimum network within the country's capital


def _country_rollout(
    spec: RolloutSpec, stores: np.ndarray, capex_local: np.ndarray, keep_min: bool, min_network: int
) -> RolloutSpec:
    """The country's rollout under its allocation: at most its stores per year (exactly
    them with ``keep_min``), at least the minimum network in its entry year, within its
    capital per year (local currency)."""
    least = np.zeros(len(stores), np.int64)
    opened = np.flatnonzero(np.asarray(stores) > 0)
    if len(opened):
        least[opened[0]] = min(int(min_network), int(stores[opened[0]]))
    least = np.asarray(stores, np.int64) if keep_min else least
    upd = {
        "stores_per_year": [int(s) for s in stores],
        "min_stores_per_year": [int(s) for s in least] if least.any() else None,
        "budget_per_year": None
        if not np.isfinite(capex_local).all()
        else [float(c) * (1.0 + 1e-9) + 1e-6 for c in capex_local],
        "target_revenue": None,
        "carry_over": False,
        "universe": "candidates",
    }
    return spec.model_copy(update=upd)


def plan_world(
    scenario: Scenario,
    *,
    engine: str = "local",
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> WorldPlan:
    """Plan a world scenario (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        With ``[world]`` and ``[rollout]`` sections; money in the planning currency.
    engine : {"local", "dask", "ray"}
        Where the countries' curves and plans run (:func:`storeplan.engine.run_many`).
    workers : int, optional
        Processes (default: CPU count).
    progress : callable, optional
        ``progress(phase, fraction)``.

    Returns
    -------
    WorldPlan

    Raises
    ------
    InputError, UnsupportedConstraintError, InfeasibleError
    """
    t_all = time.perf_counter()
    report = progress or (lambda phase, frac: None)
    world, spec = scenario.world, scenario.rollout
    if world is None or spec is None:
        raise InputError(f"{scenario.name}: a world plan needs [world] and [rollout] sections")
    phases: dict[str, float] = {}
    t = time.perf_counter()
    report("inputs", 0.0)
    rates = planning_rates(world)
    inputs = country_inputs(scenario, rates=rates)
    phases["inputs"] = time.perf_counter() - t
    log.info("world: %d countries with candidate sites (%.1f s)", len(inputs), phases["inputs"])
    report("inputs", 1.0)

    T = spec.years
    total = int(min(world.caps(T).sum(), spec.max_stores().sum()))
    t = time.perf_counter()
    report("curves", 0.0)
    tasks = [
        CurveTask(c, world, spec, int(min(total, world.countries_max_stores.get(c.country, total))))
        for c in inputs
    ]
    curves: list[CountryCurve] = _run(tasks, country_curve, engine, workers)
    phases["curves"] = time.perf_counter() - t
    log.info("world: value curves of %d countries (%.1f s)", len(curves), phases["curves"])
    report("curves", 1.0)

    t = time.perf_counter()
    report("master", 0.0)
    joint = joint_bound(curves, world, spec)
    alloc = allocate_joint(curves, world, spec, joint)
    other: Allocation | None = None
    if alloc is None:  # no joint solution in time: the sequences' allocation
        alloc = allocate(curves, world, spec)
    elif world.compare_allocations:
        try:
            other = allocate(curves, world, spec)
        except InfeasibleError:
            other = None
    bound, bound_status = best_bound(curves, world, spec, joint)
    phases["master"] = time.perf_counter() - t
    log.info(
        "world: allocation %d stores in %d countries (master value %.4g), bound %.4g (%.1f s)",
        int(alloc.stores.sum()),
        int((alloc.entry_year > 0).sum()),
        alloc.value,
        bound,
        phases["master"],
    )
    report("master", 1.0)

    t = time.perf_counter()
    report("countries", 0.0)
    keep_min = bool((spec.min_stores() > 0).any())
    # (allocation, country) pairs to plan: every entered country under ``alloc``, and
    # under ``other`` where its stores differ
    todo = [(alloc, i) for i in range(len(inputs)) if alloc.entry_year[i] > 0]
    if other is not None:
        todo += [
            (other, i)
            for i in range(len(inputs))
            if other.entry_year[i] > 0 and not np.array_equal(other.stores[i], alloc.stores[i])
        ]
    ctasks = [
        CountryTask(
            inputs[i],
            _country_rollout(
                spec, al.stores[i], inputs[i].to_local(al.budget[i]), keep_min, world.min_network
            ),
            int(al.stores[i].sum()),
            float(world.country_seconds),
        )
        for al, i in todo
    ]
    done = _run(ctasks, country_plan, engine, workers)
    n_first = int((alloc.entry_year > 0).sum())
    # the plans found (a country's solver may find none that opens its minimum network
    # within its capital) that keep the minimum network
    ok = [k for k, p in enumerate(done) if p is not None]
    options = [_option(todo[k][1], inputs[todo[k][1]], done[k], T) for k in ok]
    ok = [k for k, o in zip(ok, options, strict=True) if o.entry_year == 0 or o.keeps_network(world)]
    options = [o for o in options if o.entry_year == 0 or o.keeps_network(world)]
    first = [j for j, k in enumerate(ok) if k < n_first]
    pick = select_plans(options, world, spec, incumbent=first)
    if pick is None:
        missing = sorted({inputs[i].country for k, (_, i) in enumerate(todo) if k not in ok})
        raise InfeasibleError(
            "world: the country plans cannot keep the yearly limits together"
            + (f" (no plan with the minimum network in {missing})" if missing else "")
        )
    chosen = [ok[int(j)] for j in pick]
    alloc = _merged(alloc, [todo[k] for k in chosen])
    entered = [todo[k][1] for k in chosen]
    plans = [done[k] for k in chosen]
    order = np.argsort(entered, kind="stable")
    entered = [entered[k] for k in order]
    plans = [plans[k] for k in order]
    phases["countries"] = time.perf_counter() - t
    log.info(
        "world: %d country plans, %d kept (%d under the sequence allocation) (%.1f s)",
        len(done),
        len(chosen),
        sum(k >= n_first for k in chosen),
        phases["countries"],
    )
    report("countries", 1.0)

    t = time.perf_counter()
    out = _tables(
        scenario,
        inputs,
        curves,
        alloc,
        dict(zip([inputs[i].country for i in entered], plans, strict=True)),
        rates,
    )
    phases["tables"] = time.perf_counter() - t
    countries, stores, years_table = out
    npv = float(countries["npv"].sum())
    from ..solvers.solution import relative_gap

    fin = years_table[years_table["year"] == T]
    target = spec.targets()
    metrics = WorldMetrics(
        currency=world.planning_currency,
        fx_date=rates.date,
        countries_considered=len(inputs),
        countries_entered=int((countries["entry_year"] > 0).sum()),
        stores=int(len(stores)),
        stores_own=int((stores["ownership"] == "own").sum()),
        stores_partner=int((stores["ownership"] == "partner").sum()),
        target_stores=world.target_stores,
        npv=npv,
        bound=float(bound),
        gap=float(relative_gap(npv, bound)),
        allocation_bound=float(countries["npv_bound"].sum()),
        capex=float(countries["capex"].sum()),
        revenue_final_year=float(fin["revenue"].sum()),
        target_revenue_final_year=float(target[T - 1]) if len(target) >= T else float("nan"),
        payback_year=_payback(years_table),
        seconds=time.perf_counter() - t_all,
        phase_seconds=phases,
        engine=engine,
        workers=_workers_used(engine, workers, len(tasks)),
    )
    if metrics.gap > GAP_WARNING:
        warnings.warn(
            f"{scenario.name}: the world plan is not proven optimal: certified NPV gap "
            f"{100 * metrics.gap:.2f}% against the world bound ({bound_status}); the countries' own "
            f"NPV bounds sum to {metrics.allocation_bound:.6g} {world.planning_currency} "
            "(the best under this allocation of stores and capital)",
            GapWarning,
            stacklevel=2,
        )
    log.info(
        "world: NPV %.4g, bound %.4g, gap %.3g%% (%s); %d stores in %d countries, %.1f s",
        npv,
        bound,
        100 * metrics.gap,
        bound_status,
        metrics.stores,
        metrics.countries_entered,
        metrics.seconds,
    )
    return WorldPlan(
        name=scenario.name,
        currency=world.planning_currency,
        years=T,
        start_year=spec.start_year,
        countries=countries,
        stores=stores,
        years_table=years_table,
        metrics=metrics,
        fx=rates.to_frame(),
        plans=dict(zip([inputs[i].country for i in entered], plans, strict=True)),
        notes=tuple(scenario.notes),
    )


def _option(row: int, inp: CountryInput, plan, T: int) -> CountryOption:
    """A country plan's NPV, openings and opening costs per rollout year (planning
    currency), for :func:`~storeplan.world.master.select_plans`."""
    o = np.asarray(plan.schedule.open_year)
    stores = np.bincount(o[o >= 1], minlength=T + 1)[1 : T + 1].astype(np.int64)
    capex = inp.to_planning(plan.forecast.per_year["capex"].to_numpy(np.float64)[:T])
    return CountryOption(
        row, inp.to_planning(float(plan.forecast.npv)), stores, np.asarray(capex, np.float64)
    )


def _merged(alloc: Allocation, picked: list[tuple[Allocation, int]]) -> Allocation:
    """``alloc`` with each picked country's rows from the allocation its plan was made
    under (and no stores in the countries not picked)."""
    stores = np.zeros_like(alloc.stores)
    capex = np.zeros_like(alloc.capex)
    budget = np.zeros_like(alloc.budget)
    entry = np.zeros_like(alloc.entry_year)
    for al, i in picked:
        stores[i], capex[i], budget[i], entry[i] = al.stores[i], al.capex[i], al.budget[i], al.entry_year[i]
    if all(al is alloc for al, _ in picked) and len(picked) == int((alloc.entry_year > 0).sum()):
        return alloc
    return replace(alloc, stores=stores, capex=capex, budget=budget, entry_year=entry)


def _in_process(engine: str, workers: int | None, n_tasks: int) -> bool:
    return engine == "local" and (workers == 1 or n_tasks <= 1)


def _run(tasks, fn, engine, workers):
    if _in_process(engine, workers, len(tasks)):
        return [fn(t) for t in tasks]  # in-process: no spawn cost
    return run_many(tasks, fn, engine=engine, workers=workers)


def _workers_used(engine: str, workers: int | None, n_tasks: int) -> int:
    """Processes the countries ran on (1 when in this process)."""
    return 1 if _in_process(engine, workers, n_tasks) else worker_count(engine, workers, n_tasks)


def _payback(years_table: pd.DataFrame) -> int:
    cum = years_table["cumulative_cash"].to_numpy()
    for k in range(len(cum)):
        if (cum[k:] >= 0).all() and years_table["new_stores"].sum() > 0:
            return int(years_table["year"].iloc[k])
    return 0


def _tables(scenario, inputs, curves, alloc, plans, rates):
    spec = scenario.rollout
    T, H = spec.years, spec.horizon
    rows, store_rows = [], []
    year_rev = np.zeros(H)
    year_cash = np.zeros(H)
    year_capex = np.zeros(H)
    year_new = np.zeros(H, np.int64)
    year_open = np.zeros(H, np.int64)
    standalone = []
    most = int(scenario.world.caps(T).sum())
    for cv in curves:
        v = item_values(cv.seq_gain, cv.seq_fixed, cv.seq_capex, spec)[:, 0]
        standalone.append(float(np.clip(v[:most], 0, None).sum()))
    rank = np.argsort(-np.asarray(standalone), kind="stable")
    ranks = np.empty(len(inputs), np.int64)
    ranks[rank] = np.arange(1, len(inputs) + 1)
    for i, inp in enumerate(inputs):
        cc = inp.country
        plan = plans.get(cc)
        row = {
            "country": cc,
            "name": inp.name,
            "currency": inp.currency,
            "fx_per_planning": inp.rate,
            "rank": int(ranks[i]),
            "entry_year": 0,
            "stores": 0,
            "stores_own": 0,
            "stores_partner": 0,
            "revenue_final_year": 0.0,
            "revenue_full_ramp": 0.0,
            "capex": 0.0,
            "npv": 0.0,
            "npv_bound": 0.0,
            "gap": 0.0,
            "payback_year": 0,
            **dict(inp.attractiveness),
            "attractiveness_value": standalone[i],
        }
        per_year = np.zeros(T, np.int64)
        if plan is not None:
            fc, sched, ro = plan.forecast, plan.schedule, plan.metrics.rollout
            o = np.asarray(sched.open_year)
            new = o >= 1
            per_year = np.bincount(o[new], minlength=T + 1)[1 : T + 1].astype(np.int64)
            py = fc.per_year
            to = inp.to_planning
            year_rev += to(py["revenue"].to_numpy(np.float64))
            year_cash += to(py["cash_flow"].to_numpy(np.float64))
            year_capex += to(py["capex"].to_numpy(np.float64))
            year_new += py["stores_opened"].to_numpy(np.int64)
            year_open += py["stores_open"].to_numpy(np.int64)
            st = plan.stores
            fmt_own = {f.name: getattr(f, "ownership", "own") for f in inp.scenario.formats}
            psy = fc.per_store_year
            store_npv = psy.groupby("id")["discounted_cash_flow"].sum()
            # the forecast's full-ramp sales in the final plan year: the figure the
            # country's yearly revenue and NPV are made of (the single-year plan's
            # ``revenue`` column values the stores on the solver's network instead)
            full_ramp_local = psy.loc[psy["year"] == T].set_index("id")["full_revenue"]
            opened = dict(zip(np.asarray(sched.ids, dtype=object)[new], o[new], strict=True))
            own_n = part_n = 0
            full_ramp = 0.0
            for r in st.itertuples():
                sid = str(r.id)
                if str(getattr(r, "status", "new")) != "new" or sid not in opened:
                    continue
                f = str(getattr(r, "format", ""))
                own = fmt_own.get(f, "own")
                own_n += own == "own"
                part_n += own == "partner"
                rev_local = float(full_ramp_local.get(sid, np.nan))
                full_ramp += to(rev_local)
                store_rows.append(
                    {
                        "id": sid,
                        "name": str(getattr(r, "name", "")),
                        "country": cc,
                        "lon": float(r.lon),
                        "lat": float(r.lat),
                        "format": f,
                        "ownership": own,
                        "open_year": int(opened[sid]),
                        "revenue_full_ramp": to(rev_local),
                        "revenue_full_ramp_local": rev_local,
                        "opening_cost": to(float(getattr(r, "opening_cost", np.nan))),
                        "npv": to(float(store_npv.get(sid, np.nan))),
                    }
                )
            fin = py[py["year"] == T]
            row.update(
                entry_year=int(alloc.entry_year[i]),
                stores=int(per_year.sum()),
                stores_own=int(own_n),
                stores_partner=int(part_n),
                revenue_final_year=to(float(fin["revenue"].sum())),
                capex=to(float(py["capex"].sum())),
                npv=to(float(fc.npv)),
                npv_bound=to(float(ro.npv_bound)) if ro is not None and np.isfinite(ro.npv_bound) else np.nan,
                gap=float(ro.npv_gap) if ro is not None else np.nan,
                payback_year=int(fc.payback_year or 0),
            )
            row["revenue_full_ramp"] = float(full_ramp)
        for t in range(T):
            row[f"stores_year_{t + 1}"] = int(per_year[t])
        rows.append(row)
    countries = pd.DataFrame(rows).sort_values("rank", kind="stable").reset_index(drop=True)
    stores = pd.DataFrame(
        store_rows,
        columns=[
            "id",
            "name",
            "country",
            "lon",
            "lat",
            "format",
            "ownership",
            "open_year",
            "revenue_full_ramp",
            "revenue_full_ramp_local",
            "opening_cost",
            "npv",
        ],
    )
    stores = stores.sort_values(["country", "open_year", "id"], kind="stable").reset_index(drop=True)
    budgets = spec.budgets()
    target = spec.targets()
    entered_in = np.bincount(countries["entry_year"].to_numpy(np.int64), minlength=H + 1)[1 : H + 1]
    years_table = pd.DataFrame(
        {
            "year": np.arange(1, H + 1),
            "new_stores": year_new,
            "open_stores": year_open,
            "countries_entered": entered_in,
            "countries_present": [
                int(((countries["entry_year"] > 0) & (countries["entry_year"] <= y)).sum())
                for y in range(1, H + 1)
            ],
            "capex": year_capex,
            "budget": [
                float(budgets[y - 1]) if y <= T and np.isfinite(budgets[y - 1]) else np.nan
                for y in range(1, H + 1)
            ],
            "revenue": year_rev,
            "cash_flow": year_cash,
            "cumulative_cash": np.cumsum(year_cash),
            "target_revenue": target[:H],
        }
    )
    return countries, stores, years_table
