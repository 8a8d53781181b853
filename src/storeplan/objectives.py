"""The objective registry: one small adapter per objective.

An adapter knows three things about its objective, and nothing else in the package
branches on the objective's name:

``network(problem, market)``
    the sparse areas x columns km network the model is solved on;
``solve(problem, market, net)``
    the solver call, returning a :class:`storeplan.solvers.Solution` whose ``sites`` are
    column indices (candidate sites first, then our existing stores);
``exact(problem, km, covered, open_cols, solution)``
    the exact objective of the chosen stores, evaluated on exact nearest-store distances
    (a radius-limited model never misreports a distance).

The columns of every model are the candidate sites followed by our existing stores
(always open). :class:`Problem` holds everything an adapter may read, as plain frozen
arrays built once from the scenario by :mod:`storeplan.pipeline`.

Register a new objective with :func:`register` (the name must also be accepted by the
scenario's ``objective.kind``)::

    register(MyObjective())
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp

from .errors import UnsupportedConstraintError
from .geo import Network, haversine_km, nearest, pairs_within
from .market import Market, select_sites
from .solvers import (
    Constraints,
    Solution,
    backup_coverage,
    coverage,
    facility_location,
    pcenter,
    pdispersion,
    pmedian,
)

__all__ = [
    "Problem",
    "Objective",
    "OBJECTIVES",
    "register",
    "get",
    "PMedian",
    "Coverage",
    "FixedCost",
    "Revenue",
    "PCenter",
    "PDispersion",
    "BackupCoverage",
    "yearly_cost",
]

Sense = Literal["min", "max"]


def yearly_cost(fixed_cost: np.ndarray, opening_cost: np.ndarray, amortisation_years: float) -> np.ndarray:
    """Yearly cost of a store, currency per year: fixed cost + opening cost spread
    straight-line over ``amortisation_years``."""
    return np.asarray(fixed_cost, np.float64) + np.asarray(opening_cost, np.float64) / max(
        amortisation_years, 1e-9
    )


@dataclass(frozen=True)
class Problem:
    """The location problem of a scenario, as plain arrays (columns: sites, then existing).

    Attributes
    ----------
    kind : str
        Objective name (a key of :data:`OBJECTIVES`).
    area_ids : ndarray of object, shape (n_areas,)
    area_lon, area_lat : ndarray of float64, shape (n_areas,)
        Degrees (WGS84).
    weights : ndarray of float64, shape (n_areas,)
        Population of every area, persons.
    col_ids : ndarray of object, shape (n_sites + n_existing,)
        Site ids, then existing store ids.
    col_lon, col_lat : ndarray of float64, shape (n_sites + n_existing,)
        Degrees (WGS84).
    col_name, col_region : ndarray of object
        Name and region of every column (``pd.NA`` where unknown).
    n_sites, n_existing : int
        Candidate sites, our existing stores.
    col_format : ndarray of object
        Store format of every column.
    opening_cost : ndarray of float64
        Opening cost of every column's format, currency (once).
    fixed_cost : ndarray of float64
        Fixed cost of every column's format, currency per year.
    capacity : ndarray of float64
        Capacity of every column's format (0: unlimited), in ``capacity_unit``.
    capacity_unit : {"people", "currency"}
        ``"people"``: persons served (the area weights); ``"currency"``: yearly offline
        sales served, currency per year (the areas' offline spending,
        :meth:`capacity_demand`), from the formats' ``sales_capacity``.
    constraints : Constraints
        Must-open (existing stores included), forbidden, region quotas, spacing.
    p_new : int
        New stores to open (-1: the model chooses, ``fixed_cost`` only).
    stores : int or None
        ``objective.stores`` as given (None: ``budget`` decides).
    budget : float or None
        Opening budget for new stores, currency.
    radius_km : float
        Coverage radius, km.
    cost_per_km : float
        ``fixed_cost`` objective: currency per person-km per year.
    amortisation_years : float
        Years over which an opening cost is spread in ``fixed_cost``.
    max_km, neighbours, dense_pairs : float, int, int
        Network limits: radius (km), nearest sites per area, largest dense network.
    max_sites_per_area : int or None
        Most sites per area in the network (the nearest; None: no cap).
    time_limit : float or None
        Solver time limit, seconds.
    seed : int
    category_spending : mapping of str to ndarray
        Offline spending of every area per product category, currency per year.
    col_site : ndarray of int64, optional
        Row of every column in the scenario's sites followed by its existing stores
        (with ``choose_format`` one site has a column per allowed format).
    choose_format : bool
        The columns are (site, format) pairs, at most one open per site.
    fill_must_open : bool
        With capacities (``pmedian``, ``coverage``): every must-open column (our
        existing stores and ``constraints.must_open``) serves at least
        ``(1 - fill_tolerance)`` of its capacity (spopt's ``fulfill_predefined_fac``).
    fill_tolerance : float
        Share of a must-open store's capacity that may stay unused, in [0, 1).
    col_ownership : ndarray of object, optional
        ``"own"`` or ``"partner"``: who runs every column's format (None: not known).
    col_margin : ndarray of float64, optional
        Cash margin of every column's format, share (0..1] of its sales that is cash to
        the brand (:meth:`storeplan.scenario.Scenario.format_margins`); the rollout's
        cash flows use it (None: ``rollout.gross_margin`` for every column).
    """

    kind: str
    area_ids: np.ndarray
    area_lon: np.ndarray
    area_lat: np.ndarray
    weights: np.ndarray
    col_ids: np.ndarray
    col_lon: np.ndarray
    col_lat: np.ndarray
    col_name: np.ndarray
    col_region: np.ndarray
    n_sites: int
    n_existing: int
    col_format: np.ndarray
    opening_cost: np.ndarray
    fixed_cost: np.ndarray
    capacity: np.ndarray
    constraints: Constraints
    p_new: int
    stores: int | None = None
    budget: float | None = None
    radius_km: float = 15.0
    cost_per_km: float = 1.0
    amortisation_years: float = 5.0
    max_km: float = 50.0
    neighbours: int = 64
    max_sites_per_area: int | None = None
    dense_pairs: int = 4_000_000
    time_limit: float | None = 60.0
    seed: int = 0
    category_spending: Mapping[str, np.ndarray] = field(default_factory=dict)
    col_site: np.ndarray | None = None
    choose_format: bool = False
    fill_must_open: bool = False
    fill_tolerance: float = 0.0
    capacity_unit: str = "people"
    col_ownership: np.ndarray | None = None
    col_margin: np.ndarray | None = None

    @property
    def n_columns(self) -> int:
        return self.n_sites + self.n_existing

    def yearly_cost(self) -> np.ndarray:
        """Yearly cost of every column (see :func:`yearly_cost`), currency per year."""
        return yearly_cost(self.fixed_cost, self.opening_cost, self.amortisation_years)

    def new_count(self) -> int | None:
        """Number of open columns the model must have (new + existing), or None when a
        budget or the objective decides."""
        return None if self.p_new < 0 else self.p_new + self.n_existing

    def capacity_demand(self) -> np.ndarray:
        """What each area uses of a store's capacity: its population (``capacity_unit =
        "people"``) or its offline spending, currency per year (``"currency"``)."""
        if self.capacity_unit == "currency":
            spend = [np.asarray(v, np.float64) for v in self.category_spending.values()]
            return np.sum(spend, axis=0) if spend else np.zeros(len(self.weights))
        return np.asarray(self.weights, np.float64)

    def capacities(self) -> np.ndarray | None:
        """Column capacities for the solver (unlimited ones as total demand + 1), or None
        when no format has a capacity."""
        caps = np.asarray(self.capacity, np.float64)
        if not (caps > 0).any():
            return None
        return np.where(caps > 0, caps, float(self.capacity_demand().sum()) + 1.0)


class Objective(Protocol):
    """An objective adapter (see the module docstring)."""

    name: str
    sense: Sense
    #: the solver's bound and proof hold for the full problem even on a
    #: radius-limited network (else the proof needs a complete network or a zero gap)
    proof_on_partial_network: bool
    #: ``demand_captured`` of a store is its covered population (else everyone it serves)
    captures_covered_only: bool

    def network(self, problem: Problem, market: Market) -> Network: ...

    def solve(self, problem: Problem, market: Market, net: Network) -> Solution: ...

    def open_columns(self, problem: Problem, solution: Solution) -> np.ndarray: ...

    def assignment(self, problem: Problem, solution: Solution) -> np.ndarray | None: ...

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float: ...

    def swap_values(
        self, problem: Problem, market: Market, solution: Solution, objective: float, pairs: np.ndarray
    ) -> np.ndarray: ...


def _limited_network(problem: Problem) -> Network:
    return Network.build(
        problem.area_lon,
        problem.area_lat,
        problem.col_lon,
        problem.col_lat,
        radius_km=problem.max_km,
        k=problem.neighbours,
        max_sites_per_area=problem.max_sites_per_area,
        dense_pair_limit=problem.dense_pairs,
    )


class _Base:
    name = ""
    sense: Sense = "min"
    proof_on_partial_network = False
    captures_covered_only = False

    def open_columns(self, problem: Problem, solution: Solution) -> np.ndarray:
        return np.asarray(solution.sites, dtype=np.int64)

    def assignment(self, problem: Problem, solution: Solution) -> np.ndarray | None:
        """Column serving each area when it is not simply the nearest open one (None)."""
        return None

    def swap_values(
        self, problem: Problem, market: Market, solution: Solution, objective: float, pairs: np.ndarray
    ) -> np.ndarray:
        """Model objective with column ``a`` replaced by ``b`` (same site, another format)
        for every ``(a, b)`` in ``pairs``, the rest of the plan and its assignment kept.
        Distances do not depend on the format: the objective stays the same."""
        return np.full(len(pairs), float(objective))


def _refuse_fill(problem: Problem, name: str) -> None:
    if problem.fill_must_open:
        raise UnsupportedConstraintError(
            f"objective {name!r} cannot model fill_must_open (must-open stores filled to capacity): "
            "it needs the single-source capacitated model of pmedian or coverage"
        )


def _refuse_capacity(problem: Problem, name: str) -> None:
    """Capacities cannot be modelled by a bottleneck or backup objective: refuse, named."""
    _refuse_fill(problem, name)
    if problem.capacities() is not None:
        fmt = sorted({str(f) for f, c in zip(problem.col_format, problem.capacity, strict=True) if c > 0})
        raise UnsupportedConstraintError(
            f"capacity (format {', '.join(fmt)}) cannot be modelled by the {name} objective; "
            "set capacity = 0 or use pmedian, coverage or fixed_cost"
        )


class PMedian(_Base):
    """Minimise population-weighted km to the nearest store (person-km)."""

    name = "pmedian"

    def network(self, problem: Problem, market: Market) -> Network:
        return _limited_network(problem)

    def solve(self, problem: Problem, market: Market, net: Network) -> Solution:
        capacity = problem.capacities()
        return pmedian(
            net.to_csr(np.float64),
            problem.new_count(),
            weights=problem.weights,
            constraints=problem.constraints,
            unserved_cost=None if (net.is_complete or capacity is not None) else net.row_max_km(),
            time_limit=problem.time_limit,
            seed=problem.seed,
            capacity=capacity,
            demand=problem.capacity_demand() if capacity is not None else None,
            fill_must_open=problem.fill_must_open,
            fill_tolerance=problem.fill_tolerance,
        )

    def assignment(self, problem: Problem, solution: Solution) -> np.ndarray | None:
        # capacities may send an area to another store than its nearest
        if problem.capacities() is None:
            return None
        return np.asarray(solution.assignment, dtype=np.int64)

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float:
        return float(np.dot(problem.weights, km))


class Coverage(_Base):
    """Maximise the population within ``radius_km`` of a store (persons)."""

    name = "coverage"
    sense: Sense = "max"
    proof_on_partial_network = True
    captures_covered_only = True

    def network(self, problem: Problem, market: Market) -> Network:
        return Network.build(
            problem.area_lon,
            problem.area_lat,
            problem.col_lon,
            problem.col_lat,
            radius_km=problem.radius_km,
            dense_pair_limit=0,
        )

    def solve(self, problem: Problem, market: Market, net: Network) -> Solution:
        return coverage(
            net.to_csr(np.float64),
            problem.new_count(),
            problem.radius_km,
            weights=problem.weights,
            constraints=problem.constraints,
            time_limit=problem.time_limit,
            seed=problem.seed,
            capacity=problem.capacities(),
            fill_must_open=problem.fill_must_open,
            fill_tolerance=problem.fill_tolerance,
            demand=problem.capacity_demand(),
        )

    def assignment(self, problem: Problem, solution: Solution) -> np.ndarray | None:
        # a store at capacity leaves further areas within the radius uncovered (-1)
        if problem.capacities() is None:
            return None
        return np.asarray(solution.assignment, dtype=np.int64)

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float:
        return float(problem.weights[covered].sum())


class FixedCost(_Base):
    """Minimise yearly store costs + ``cost_per_km`` x person-km per year (currency per year)."""

    name = "fixed_cost"

    def network(self, problem: Problem, market: Market) -> Network:
        return _limited_network(problem)

    def solve(self, problem: Problem, market: Market, net: Network) -> Solution:
        _refuse_fill(problem, self.name)
        weights = problem.weights
        yearly = problem.yearly_cost()
        yearly[problem.n_sites :] = 0.0  # existing stores are sunk: kept open at no decision cost
        service = net.to_csr(np.float64).multiply(weights[:, None] * problem.cost_per_km).tocsr()
        service.sort_indices()
        capacity = problem.capacities()
        p_new = problem.p_new
        return facility_location(
            service,
            yearly,
            capacity=capacity,
            demand=problem.capacity_demand() if capacity is not None else None,
            p=None if p_new < 0 else p_new + problem.n_existing,
            constraints=problem.constraints,
            unserved_cost=None if net.is_complete else net.row_max_km() * weights * problem.cost_per_km,
            time_limit=problem.time_limit,
            seed=problem.seed,
        )

    def assignment(self, problem: Problem, solution: Solution) -> np.ndarray | None:
        # capacities may send an area to another store than its nearest
        if problem.capacities() is None:
            return None
        return np.asarray(solution.assignment, dtype=np.int64)

    def swap_values(
        self, problem: Problem, market: Market, solution: Solution, objective: float, pairs: np.ndarray
    ) -> np.ndarray:
        yearly = problem.yearly_cost()
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return float(objective) + yearly[pairs[:, 1]] - yearly[pairs[:, 0]]

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float:
        new = open_cols[open_cols < problem.n_sites]
        yearly = float(problem.yearly_cost()[new].sum())
        return float(yearly + problem.cost_per_km * np.dot(problem.weights, km))


class Revenue(_Base):
    """Maximise our captured offline revenue minus yearly fixed costs (Huff model,
    currency per year)."""

    name = "revenue"
    sense: Sense = "max"
    proof_on_partial_network = True
    #: ``solve`` accepts ``initial`` (a warm start: column indices of a previous plan)
    warm_start = True

    def network(self, problem: Problem, market: Market) -> Network:
        return market.area_net  # the Huff model's own areas x stores network

    def solve(
        self,
        problem: Problem,
        market: Market,
        net: Network,
        *,
        initial: np.ndarray | None = None,
        bound: bool = True,
        local_search: bool = True,
    ) -> Solution:
        """Solve; ``initial``: columns of a start solution (its candidate sites are
        repaired and improved, see :func:`storeplan.solvers.revenue.revenue`);
        ``bound=False`` skips the submodular-cut bound (only the cheap online bound is
        computed) when the caller holds a valid bound already; ``local_search=False``
        skips the swap sweeps (greedy, or the repaired start, only)."""
        n_sites = problem.n_sites
        con = problem.constraints
        _refuse_fill(problem, self.name)
        if problem.capacities() is not None:
            fmt = sorted({str(f) for f, c in zip(problem.col_format, problem.capacity, strict=True) if c > 0})
            what = "sales_capacity" if problem.capacity_unit == "currency" else "capacity"
            raise UnsupportedConstraintError(
                f"{what} (format {', '.join(fmt)}) cannot be modelled by the revenue objective: "
                "Huff shares split each area's spending over every store, so there is no assignment "
                f"to cap; set {what} = 0 or use pmedian, coverage or fixed_cost"
            )
        must = con.must_open
        must = None if must is None else must[must < n_sites]
        forbidden = con.forbidden
        conflicts = con.conflicts
        if conflicts is not None and len(conflicts):
            # a candidate too close to an existing store may not open at all
            near_existing = np.concatenate(
                [conflicts[conflicts[:, 1] >= n_sites, 0], conflicts[conflicts[:, 0] >= n_sites, 1]]
            )
            near_existing = near_existing[near_existing < n_sites]
            if len(near_existing):
                forbidden = np.unique(
                    np.concatenate([forbidden if forbidden is not None else [], near_existing]).astype(
                        np.int64
                    )
                )
            conflicts = conflicts[(conflicts[:, 0] < n_sites) & (conflicts[:, 1] < n_sites)]
        p = int(problem.stores) if problem.stores is not None else None
        # quotas (and the budget together with a store count) as knapsack rows
        quotas = tuple(
            replace(
                q,
                sites=q.sites[q.sites < n_sites],
                weight=None if q.weight is None else q.weight[q.sites < n_sites],
            )
            for q in con.quotas
        )
        both = p is not None and problem.budget is not None
        side = Constraints(
            quotas=quotas,
            site_cost=problem.opening_cost[:n_sites].copy() if both else None,
            budget=problem.budget if both else None,
        )
        return select_sites(
            market,
            p=p,
            fixed_cost=problem.fixed_cost[:n_sites].copy(),
            opening_cost=problem.opening_cost[:n_sites].copy(),
            budget=problem.budget if p is None else None,
            constraints=side,
            must_open=must if must is not None and len(must) else None,
            forbidden=forbidden if forbidden is not None and len(forbidden) else None,
            conflicts=conflicts if conflicts is not None and len(conflicts) else None,
            time_limit=problem.time_limit,
            seed=problem.seed,
            initial=None if initial is None else np.asarray(initial, np.int64)[np.asarray(initial) < n_sites],
            bound_iters=200 if bound else 0,
            swap=local_search,
        )

    def swap_values(
        self, problem: Problem, market: Market, solution: Solution, objective: float, pairs: np.ndarray
    ) -> np.ndarray:
        from .market import revenue_inputs
        from .solvers.revenue import RevenueProblem, swap_values

        inp = revenue_inputs(market)
        prob = RevenueProblem.build(
            inp["utility"],
            inp["weight"],
            base_own=inp["base_own"],
            base_total=inp["base_total"],
            fixed_cost=problem.fixed_cost[: problem.n_sites],
        )
        return swap_values(prob, solution.sites, pairs)

    def open_columns(self, problem: Problem, solution: Solution) -> np.ndarray:
        # the revenue solver returns candidate indices only; existing stores stay open
        sites = np.asarray(solution.sites, dtype=np.int64)
        return np.concatenate([sites, problem.n_sites + np.arange(problem.n_existing)])

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float:
        return float(solution.objective)  # the Huff model is evaluated exactly on its network


class PCenter(_Base):
    """Minimise the largest km from a populated area to its nearest store (km; the
    unweighted p-center over areas with people)."""

    name = "pcenter"

    def network(self, problem: Problem, market: Market) -> Network:
        return _limited_network(problem)

    def solve(self, problem: Problem, market: Market, net: Network) -> Solution:
        _refuse_capacity(problem, self.name)
        return pcenter(
            net.to_csr(np.float64),
            problem.new_count(),
            weights=(problem.weights > 0).astype(np.float64),
            constraints=problem.constraints,
            # a radius-limited network: an area none of whose stored sites is open is
            # charged its largest stored km (a relaxation, so the bound stays valid)
            unserved_cost=None if net.is_complete else net.row_max_km(),
            time_limit=problem.time_limit,
            seed=problem.seed,
        )

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float:
        return float(np.max(km[problem.weights > 0], initial=0.0))


class PDispersion(_Base):
    """Maximise the smallest km between two of our stores (km). Pairs of two existing
    (or must-open) stores are fixed by the input and do not count."""

    name = "pdispersion"
    sense: Sense = "max"
    proof_on_partial_network = True

    def network(self, problem: Problem, market: Market) -> Network:
        return _limited_network(problem)  # areas x stores, for the assignment outputs

    def solve(self, problem: Problem, market: Market, net: Network) -> Solution:
        _refuse_capacity(problem, self.name)
        k = problem.new_count()
        if k is None:
            raise UnsupportedConstraintError(
                "objective 'pdispersion' needs objective.stores: with a budget alone fewer stores "
                "are always farther apart (the budget still holds as a knapsack row)"
            )
        lon, lat = problem.col_lon, problem.col_lat
        m = lon.shape[0]
        # pairs closer than r are stored; r grows until the plan's spacing is below it
        span_x = haversine_km(lon.min(), lat.mean(), lon.max(), lat.mean())
        span_y = haversine_km(lon.mean(), lat.min(), lon.mean(), lat.max())
        r = max(1.2 * float(np.sqrt(max(span_x * span_y, 1.0) / max(k, 1))), 1.0)
        while True:
            pr = pairs_within(lon, lat, r)
            d = haversine_km(lon[pr[:, 0]], lat[pr[:, 0]], lon[pr[:, 1]], lat[pr[:, 1]])
            d = np.maximum(d, 1e-9)  # a stored 0 would read as a missing pair
            dist = sp.csr_matrix((d, (pr[:, 0], pr[:, 1])), shape=(m, m))
            sol = pdispersion(
                dist,
                k,
                constraints=problem.constraints,
                far=r,
                count_must_pairs=False,
                time_limit=problem.time_limit,
                seed=problem.seed,
            )
            if sol.objective < r * (1 - 1e-9) or r >= 20_038.0:
                return sol
            r = min(2.0 * r, 20_038.0)

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float:
        return spacing_km(problem, open_cols)


def spacing_km(problem: Problem, open_cols: np.ndarray) -> float:
    """Smallest great-circle km between two open columns, pairs of two must-open columns
    (existing stores) left out; ``inf`` with fewer than one countable pair."""
    open_cols = np.asarray(open_cols, dtype=np.int64)
    must = np.zeros(problem.n_columns, dtype=bool)
    if problem.constraints.must_open is not None:
        must[np.asarray(problem.constraints.must_open, dtype=np.int64)] = True
    free = open_cols[~must[open_cols]]
    if free.size == 0 or open_cols.size < 2:
        return float("inf")
    km, idx = nearest(
        problem.col_lon[free],
        problem.col_lat[free],
        problem.col_lon[open_cols],
        problem.col_lat[open_cols],
        k=2,
    )
    km = np.asarray(km).reshape(free.size, -1)
    return float(km[:, 1].min())


class BackupCoverage(_Base):
    """Maximise the population within ``radius_km`` of at least two stores, keeping the
    best single coverage (persons; maximal covering, then backup coverage)."""

    name = "backup_coverage"
    sense: Sense = "max"
    proof_on_partial_network = True
    captures_covered_only = True

    def network(self, problem: Problem, market: Market) -> Network:
        return Network.build(
            problem.area_lon,
            problem.area_lat,
            problem.col_lon,
            problem.col_lat,
            radius_km=problem.radius_km,
            dense_pair_limit=0,
        )

    def solve(self, problem: Problem, market: Market, net: Network) -> Solution:
        _refuse_capacity(problem, self.name)
        return backup_coverage(
            net.to_csr(np.float64),
            problem.new_count(),
            problem.radius_km,
            weights=problem.weights,
            constraints=problem.constraints,
            cover="max",
            time_limit=problem.time_limit,
            seed=problem.seed,
        )

    def exact(
        self, problem: Problem, km: np.ndarray, covered: np.ndarray, open_cols: np.ndarray, solution: Solution
    ) -> float:
        # the radius network stores every area-store pair within radius_km: exact
        return float(solution.objective)


#: The registered objectives, by name.
OBJECTIVES: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
    """Add (or replace) an objective adapter under ``objective.name``."""
    OBJECTIVES[objective.name] = objective
    return objective


def get(name: str) -> Objective:
    """The adapter of objective ``name``.

    Raises
    ------
    UnknownOptionError
        No objective of that name is registered.
    """
    try:
        return OBJECTIVES[name]
    except KeyError:
        from .errors import UnknownOptionError

        raise UnknownOptionError(
            f"unknown objective {name!r}; expected one of {', '.join(OBJECTIVES)}"
        ) from None


for _adapter in (PMedian(), Coverage(), FixedCost(), Revenue(), PCenter(), PDispersion(), BackupCoverage()):
    register(_adapter)
