r"""Alternative plans: several good plans that differ, for the choices a model cannot see.

Given the best plan :math:`S_1` of a scenario, plan :math:`S_k` is a plan whose exact
objective is within ``tolerance`` of the best one's and which differs from every earlier
plan in at least ``min_difference`` of its new sites:

.. math::

    1 - \frac{|S_k \cap S_i|}{\max(|S_k|, |S_i|)} \;\ge\; \delta
    \qquad (i < k), \qquad
    f(S_k) \text{ within } \tau \text{ of } f(S_1).

The diversity constraints are relaxed in the Lagrangian way: the scenario's own model is
solved again (every constraint of the scenario kept, the same solver, bound and local
search) with a penalty :math:`\pi \, c_j` on opening site :math:`j`, where :math:`c_j`
is the number of earlier plans that hold it (a yearly cost for ``fixed_cost`` and
``revenue``, a fixed cost added to the p-median and, for ``coverage``, to the
equivalent minimum-uncovered-population model). :math:`\pi` starts at :math:`\tau
|f(S_1)| / d` (with :math:`d` the number of sites that must change, a penalty at which
moving :math:`d` shared sites may cost up to the whole tolerance), doubles until the
penalised plan is diverse enough, then is bisected to the smallest penalty that still
is: the plan kept is the best diverse plan found. The search stops early when no
diverse plan within the tolerance is found (fewer than ``k`` plans are then returned,
and the reason is recorded).

Every plan is evaluated exactly (:func:`storeplan.evaluation.evaluate`) and carries a
certified gap against the bound of the *unrestricted* problem (the best plan's solver
bound): no plan, alternative or not, can beat that bound, so the gap is a proven limit
on how far each plan is from the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from .errors import UnknownOptionError
from .metrics import AlternativesSummary

__all__ = ["AlternativesSpec", "Alternative", "Alternatives", "find_alternatives", "difference", "PENALISED"]


class AlternativesSpec(BaseModel):
    """The ``[alternatives]`` section of a scenario.

    Parameters
    ----------
    k : int
        Number of plans wanted, the best one included (>= 1).
    tolerance : float
        Largest relative distance of a plan's objective from the best plan's (0.01 = 1 %).
    min_difference : float
        Least share of new sites in which any two plans differ (0.2 = 20 %).
    max_solves : int
        Most penalised solves per alternative. Default 10.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(3, ge=1)
    tolerance: float = Field(0.01, ge=0.0, le=1.0)
    min_difference: float = Field(0.2, gt=0.0, le=1.0)
    max_solves: int = Field(10, ge=1)


def difference(a, b) -> float:
    """Share of sites in which two plans differ: ``1 - |A & B| / max(|A|, |B|)``."""
    sa, sb = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    size = max(len(sa), len(sb))
    return 0.0 if size == 0 else 1.0 - len(sa & sb) / size


# ------------------------------------------------------------------- penalised solves
def _penalised_fixed_cost(problem, adapter, market, net, penalty):
    return adapter.solve(replace(problem, fixed_cost=problem.fixed_cost + penalty), market, net)


def _penalised_revenue(problem, adapter, market, net, penalty):
    return adapter.solve(replace(problem, fixed_cost=problem.fixed_cost + penalty), market, net)


def _penalised_pmedian(problem, adapter, market, net, penalty):
    """p-median + site penalties = the fixed-cost model at 1 per person-km, no capacity."""
    from .objectives import get

    as_ufl = replace(
        problem,
        cost_per_km=1.0,
        fixed_cost=penalty,
        opening_cost=np.zeros_like(penalty),
        capacity=np.zeros_like(penalty),
    )
    return get("fixed_cost").solve(as_ufl, market, net)


def _penalised_coverage(problem, adapter, market, net, penalty):
    """Max coverage + site penalties = min uncovered population + penalties (explicit-zero
    service costs within the radius, the area's population when uncovered)."""
    from .solvers import facility_location

    csr = net.to_csr(np.float64)
    zero = sp.csr_matrix((np.zeros(csr.nnz), csr.indices, csr.indptr), shape=csr.shape)
    return facility_location(
        zero,
        penalty,
        p=problem.p_new + problem.n_existing,
        constraints=problem.constraints,
        unserved_cost=problem.weights,
        time_limit=problem.time_limit,
        seed=problem.seed,
    )


#: Penalised solve of each objective: ``f(problem, adapter, market, net, penalty) -> Solution``
#: with ``penalty`` a cost per open column (currency per year or the objective's unit).
PENALISED: dict[str, Callable[..., Any]] = {
    "fixed_cost": _penalised_fixed_cost,
    "revenue": _penalised_revenue,
    "pmedian": _penalised_pmedian,
    "coverage": _penalised_coverage,
}


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Alternative:
    """One plan of an :class:`Alternatives` set.

    Attributes
    ----------
    sites : ndarray of int64
        Open candidate sites (existing stores are in every plan and not listed).
    evaluation : storeplan.evaluation.Evaluation
        Its exact evaluation (objective, stores, metrics).
    penalty : float
        Diversity penalty per site that produced it (0 for the best plan).
    """

    sites: np.ndarray
    evaluation: Any
    penalty: float


@dataclass(frozen=True)
class Alternatives:
    """Up to ``k`` plans within the tolerance of the best, pairwise diverse.

    Attributes
    ----------
    plans : tuple of Alternative
        The best plan first.
    table : DataFrame
        The comparison table (``alternatives.csv``): ``plan, objective, vs_best`` (relative
        distance from the best plan's objective), ``gap`` (certified, against the
        unrestricted bound), ``n_new_stores, min_difference`` (least share of sites
        differing from any other plan), ``core_sites`` and the headline figures of each
        plan's evaluation that exist (``mean_km, coverage_share, own_revenue,
        market_share``).
    sites : DataFrame
        ``alternative_sites.csv``: every site in some plan: ``id, lon, lat, in_plan_1 ..
        in_plan_k, n_plans, core`` (in every plan).
    bound : float
        Bound of the unrestricted problem.
    sense : str
    spec : AlternativesSpec
    stopped : str
        Why fewer than ``k`` plans were found (empty when all were).
    """

    plans: tuple[Alternative, ...]
    table: pd.DataFrame
    sites: pd.DataFrame
    bound: float
    sense: str
    spec: AlternativesSpec
    stopped: str = ""

    @property
    def core(self) -> list[str]:
        """Ids of the new sites common to every plan (the robust core)."""
        return self.sites.loc[self.sites["core"], "id"].astype(str).tolist()

    def headline(self) -> AlternativesSummary:
        """Totals for ``summary.json`` and the report (from the comparison table's rows)."""
        return AlternativesSummary(
            k_requested=int(self.spec.k),
            k_found=int(len(self.table)),
            tolerance=float(self.spec.tolerance),
            min_difference=float(self.spec.min_difference),
            core_sites=len(self.core),
            worst_vs_best=float(self.table["vs_best"].max()),
            worst_gap=float(self.table["gap"].max()),
            stopped=self.stopped,
        )


def _rel(value: float, ref: float) -> float:
    return abs(value - ref) / max(abs(ref), 1e-12)


def find_alternatives(
    problem,
    adapter,
    market,
    net,
    best,
    spec: AlternativesSpec,
    evaluate: Callable[[Any], Any],
    objective_of: Callable[[Any], float] | None = None,
) -> Alternatives:
    """Alternative plans of a solved problem (see the module docstring).

    Parameters
    ----------
    problem : storeplan.objectives.Problem
    adapter : storeplan.objectives.Objective
    market : storeplan.market.Market
    net : storeplan.geo.Network
        The adapter's network.
    best : storeplan.solvers.Solution
        The plain (unrestricted) solution: the first plan, and its bound.
    spec : AlternativesSpec
    evaluate : callable
        ``evaluate(solution) -> Evaluation`` (exact evaluation, as the pipeline does); run
        on the plans kept.
    objective_of : callable, optional
        ``objective_of(solution) -> float``: the exact objective alone
        (:func:`storeplan.evaluation.exact_objective`), used for every penalised solve of
        the search so that only the kept plans pay for a full evaluation. Default: the
        ``objective`` of ``evaluate``.

    Returns
    -------
    Alternatives

    Raises
    ------
    UnknownOptionError
        The objective has no penalised solve in :data:`PENALISED`.
    """
    if adapter.name not in PENALISED:
        raise UnknownOptionError(
            f"alternatives are not available for objective {adapter.name!r}; "
            f"supported: {', '.join(PENALISED)}"
        )
    solve_penalised = PENALISED[adapter.name]
    n_sites = problem.n_sites
    maximise = adapter.sense == "max"

    def new_sites(ev) -> np.ndarray:
        return np.sort(ev.open_cols[ev.open_cols < n_sites])

    def sol_sites(sol) -> np.ndarray:
        cols = np.asarray(adapter.open_columns(problem, sol), dtype=np.int64)
        return np.sort(cols[cols < n_sites])

    def value(sol) -> float:
        return float(objective_of(sol)) if objective_of is not None else float(evaluate(sol).objective)

    ev0 = evaluate(best)
    plans = [Alternative(new_sites(ev0), ev0, 0.0)]
    best_obj = float(ev0.objective)
    bound = float(ev0.bound)
    stopped = ""
    n_cols = problem.n_sites + problem.n_existing
    for _ in range(1, spec.k):
        p = max(len(plans[0].sites), 1)
        d = max(1, math.ceil(spec.min_difference * p - 1e-9))
        count = np.zeros(n_cols)
        for a in plans:
            count[a.sites] += 1.0
        scale = max(spec.tolerance, 1e-3) * max(abs(best_obj), 1e-9) / d

        def diverse(sites: np.ndarray) -> bool:
            return all(difference(sites, a.sites) >= spec.min_difference - 1e-9 for a in plans)

        found: list[tuple[float, Any, float]] = []
        lo, hi, pi = 0.0, None, scale
        for _step in range(spec.max_solves):
            sol = solve_penalised(problem, adapter, market, net, pi * count)
            sites = sol_sites(sol)
            if diverse(sites):
                found.append((value(sol), sol, pi))
                hi = pi
            else:
                lo = pi
            if hi is None:
                pi *= 4.0  # not diverse yet: a larger penalty
            elif lo == 0.0:
                pi = hi / 4.0  # diverse: try a smaller penalty (a better objective)
            elif hi - lo <= 0.05 * hi:
                break
            else:
                pi = 0.5 * (lo + hi)
        if not found:
            stopped = f"no plan differing in {100 * spec.min_difference:.0f}% of sites found"
            break
        obj, sol, pen = max(found, key=lambda t: t[0]) if maximise else min(found, key=lambda t: t[0])
        if _rel(obj, best_obj) > spec.tolerance + 1e-12:
            stopped = (
                f"the best plan differing in {100 * spec.min_difference:.0f}% of sites is "
                f"{100 * _rel(obj, best_obj):.2f}% from the best (tolerance {100 * spec.tolerance:g}%)"
            )
            break
        ev = evaluate(sol)
        plans.append(Alternative(new_sites(ev), ev, pen))
    return _assemble(plans, problem, best_obj, bound, maximise, spec, stopped)


def _assemble(plans, problem, best_obj, bound, maximise, spec, stopped) -> Alternatives:
    k = len(plans)
    members = np.unique(np.concatenate([a.sites for a in plans])) if k else np.empty(0, np.int64)
    inside = np.array([[j in set(a.sites.tolist()) for a in plans] for j in members], dtype=bool).reshape(
        len(members), k
    )
    sites = pd.DataFrame(
        {
            "id": problem.col_ids[members].astype(str),
            "lon": problem.col_lon[members],
            "lat": problem.col_lat[members],
        }
    )
    for i in range(k):
        sites[f"in_plan_{i + 1}"] = inside[:, i]
    sites["n_plans"] = inside.sum(axis=1)
    sites["core"] = sites["n_plans"] == k
    n_core = int(sites["core"].sum())
    rows = []
    for i, a in enumerate(plans):
        ev = a.evaluation
        obj = float(ev.objective)
        others = [difference(a.sites, b.sites) for j, b in enumerate(plans) if j != i]
        row = {
            "plan": i + 1,
            "objective": obj,
            "vs_best": _rel(obj, best_obj),
            "gap": (max(bound - obj, 0.0) if maximise else max(obj - bound, 0.0)) / max(abs(obj), 1e-12),
            "n_new_stores": len(a.sites),
            "min_difference": min(others) if others else float("nan"),
            "core_sites": n_core,
            "penalty": a.penalty,
        }
        for key in ("mean_km", "coverage_share", "own_revenue", "market_share"):
            if key in ev.metrics:
                row[key] = float(ev.metrics[key])
        rows.append(row)
    return Alternatives(
        tuple(plans), pd.DataFrame(rows), sites, bound, "max" if maximise else "min", spec, stopped
    )
