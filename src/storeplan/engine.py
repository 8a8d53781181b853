"""Run many scenarios: local processes, Dask or Ray, one comparison table.

:func:`run_many` maps a picklable function over tasks with the chosen engine; the
function and the tasks are the same whatever the engine, so the numbers are too (only
``seconds`` differs). :func:`compare` (several scenario files) and :func:`sweep` (a grid
of settings over one file) run :func:`storeplan.solve` (+ rollout and forecast when the
scenario has a ``[rollout]`` section) per scenario and write one table
(``comparison.csv``, ``comparison.parquet``) and one chart (``comparison.png``), every
file atomically.

The table's columns (:data:`COMPARISON`) are named quantities with their units
(:data:`UNITS`; also in the Parquet schema metadata): every number is read from the
plan's ``PlanMetrics`` or ``RolloutSummary`` (:func:`comparison_row`), and full-ramp
(steady-state) figures such as ``revenue_full_ramp_currency_per_year`` are never mixed
with final-rollout-year figures such as ``sales_final_year_currency_per_year``. The
objective is ``objective_value`` in ``objective_unit`` (person-km, persons or
currency/year, depending on the objective).

Engines:

- ``"local"`` (default): :class:`concurrent.futures.ProcessPoolExecutor` with ``workers``
  processes (default: CPU count), started with ``spawn`` (safe with the Numba threads of
  the parent process);
- ``"dask"``: ``dask.distributed``; connects to ``address`` (a scheduler, e.g.
  ``"tcp://10.0.0.5:8786"``) or starts a ``LocalCluster`` of ``workers`` processes
  (``pip install "storeplan[distributed]"``);
- ``"ray"``: ``ray.init(address)`` (local when None), when ray is installed
  (``pip install "ray[default]"``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import multiprocessing
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._io import atomic_path
from .errors import StoreplanError, UnknownOptionError

if TYPE_CHECKING:
    from .plan import Plan
    from .scenario import Scenario

__all__ = [
    "ENGINES",
    "COLUMNS",
    "COMPARISON",
    "UNITS",
    "SHOWN",
    "Column",
    "comparison_row",
    "EngineUnavailableError",
    "ScenarioTask",
    "Comparison",
    "run_many",
    "worker_count",
    "run_scenario",
    "compare",
    "sweep",
    "grid_tasks",
    "comparison_chart",
]

log = logging.getLogger(__name__)

#: Engines :func:`run_many` knows.
ENGINES = ("local", "dask", "ray")


@dataclass(frozen=True)
class Column:
    """One column of the comparison table: a named quantity with its unit.

    Attributes
    ----------
    name : str
        Column name in ``comparison.csv`` / ``.parquet``; amounts end in their unit
        (``_currency``, ``_currency_per_year``, ``_km``), shares in ``_share``, counts
        start with ``n_``.
    unit : str
        Unit, in the vocabulary of :class:`storeplan.metrics.PlanMetrics`
        (``currency`` is the scenario's currency: CNY for the bundled China data).
    source : str
        Where the number is read from (one definition per number): a ``PlanMetrics``
        or ``RolloutSummary`` field, or ``""`` for labels.
    doc : str
        What it is.
    """

    name: str
    unit: str
    source: str
    doc: str


#: The comparison table, in order. Every number is read from the plan's
#: :class:`~storeplan.metrics.PlanMetrics` (``metrics.x``) or its
#: :class:`~storeplan.metrics.RolloutSummary` (``rollout.x``, NaN without a rollout).
#: Full-ramp (steady-state) and rollout-year quantities have different names.
COMPARISON: tuple[Column, ...] = (
    Column("name", "", "", "scenario name (made unique within the table)"),
    Column("objective_kind", "", "plan.objective", "objective of the plan"),
    Column("n_stores", "count", "metrics.n_stores", "our open stores in the plan (new + existing)"),
    Column("n_new_stores", "count", "metrics.n_new_stores", "new stores in the plan"),
    Column("coverage_share", "share", "metrics.coverage_share", "population within radius_km of a store"),
    Column("radius_km", "km", "metrics.radius_km", "coverage radius"),
    Column("mean_km", "km", "metrics.mean_km", "population-weighted mean distance to the nearest store"),
    Column(
        "market_share",
        "share",
        "metrics.market_share",
        "our offline market share with every plan store open at full ramp (Huff model)",
    ),
    Column(
        "revenue_full_ramp_currency_per_year",
        "currency/year",
        "metrics.own_revenue",
        "our stores' gross revenue per year with every plan store open at full ramp (steady state)",
    ),
    Column("rollout_years", "years", "rollout.years", "rollout years; the 'final year' below is this year"),
    Column(
        "n_stores_final_year",
        "count",
        "metrics.n_existing_stores + sum(rollout.opened_per_year)",
        "our stores open in the final rollout year",
    ),
    Column(
        "sales_final_year_currency_per_year",
        "currency/year",
        "rollout.final_revenue",
        "store sales in the final rollout year, ramp-up included",
    ),
    Column("npv_currency", "currency", "rollout.npv", "NPV of all store cash flows over the horizon"),
    Column(
        "payback_year",
        "years",
        "rollout.payback_year",
        "first year from which the new stores' cumulative cash stays >= 0",
    ),
    Column("target_met", "", "rollout.target_met", "every year's sales target met (empty: no target)"),
    Column(
        "shortfall_currency_per_year",
        "currency/year",
        "rollout.shortfall",
        "largest yearly shortfall of store sales against the target",
    ),
    Column("objective_value", "objective_unit", "metrics.objective", "exact objective of the plan's stores"),
    Column("objective_unit", "", "metrics.objective_unit", "unit of objective_value and bound_value"),
    Column("bound_value", "objective_unit", "metrics.bound", "proven bound on the optimum"),
    Column("gap_share", "share", "metrics.gap", "|objective - bound| / |objective|"),
    Column("seconds", "seconds", "", "wall-clock time of this scenario's run"),
    Column("source", "", "", "scenario file"),
    Column("overrides", "", "", "settings changed from the file (sweep)"),
    Column("error", "", "", "why the scenario failed (empty: it ran)"),
)

#: Column names of the comparison table, in order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in COMPARISON)

#: Unit of every column (``""``: a label).
UNITS: dict[str, str] = {c.name: c.unit for c in COMPARISON}

#: Columns of :data:`COMPARISON` that ``storeplan compare`` / ``sweep`` print and the web
#: app's comparison shows (the files hold them all), with their header: what the
#: number is, then its unit (lines split by ``\n``).
SHOWN: dict[str, str] = {
    "name": "name",
    "n_stores": "stores",
    "coverage_share": "coverage\n%",
    "market_share": "market\nshare %",
    "revenue_full_ramp_currency_per_year": "revenue\nfull ramp\nper year",
    "sales_final_year_currency_per_year": "sales\nfinal year\nper year",
    "npv_currency": "NPV",
    "objective_value": "objective\n(its unit)",
    "gap_share": "gap\n%",
    "seconds": "time\ns",
    "error": "error",
}

_INT_COLUMNS = ("n_stores", "n_new_stores", "rollout_years", "n_stores_final_year", "payback_year")
_TEXT_COLUMNS = ("name", "objective_kind", "objective_unit", "source", "overrides", "error")


class EngineUnavailableError(StoreplanError, ImportError):
    """The chosen engine's package is not installed; the message names what to install."""


# ----------------------------------------------------------------------------- run_many


def worker_count(engine: str, workers: int | None, n_tasks: int) -> int:
    """Worker processes :func:`run_many` uses for ``n_tasks`` tasks.

    Parameters
    ----------
    engine : {"local", "dask", "ray"}
    workers : int, optional
        As given to :func:`run_many` (None: the CPU count).
    n_tasks : int
        Number of tasks.

    Returns
    -------
    int
        Processes (local: never more than the tasks; 0 when there is no task).
    """
    if n_tasks <= 0:
        return 0
    n = int(workers or os.cpu_count() or 1)
    return min(n, n_tasks) if engine == "local" else n


def run_many(
    tasks: Iterable[Any],
    fn: Callable[[Any], Any],
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    client: Any = None,
) -> list[Any]:
    """Map ``fn`` over ``tasks`` with an engine; results in the order of ``tasks``.

    Parameters
    ----------
    tasks : iterable
        Picklable task objects.
    fn : callable
        A picklable (module-level) function of one task.
    engine : {"local", "dask", "ray"}
    workers : int, optional
        Worker processes (local, a new Dask ``LocalCluster``, Ray CPUs). Default: CPU count.
    address : str, optional
        Dask scheduler or Ray cluster address; None starts a local one.
    client : dask.distributed.Client, optional
        An existing Dask client to use (engine ``"dask"``).

    Returns
    -------
    list
        ``[fn(t) for t in tasks]``, computed by the engine.

    Raises
    ------
    UnknownOptionError
        Unknown engine.
    EngineUnavailableError
        ``dask``/``ray`` chosen but not installed.
    """
    items = list(tasks)
    if engine not in ENGINES:
        raise UnknownOptionError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise UnknownOptionError(f"workers must be >= 1, got {workers}")
    if not items:
        return []
    if engine == "local":
        n = worker_count(engine, workers, len(items))
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            return list(pool.map(fn, items))
    if engine == "dask":
        return _run_dask(items, fn, workers, address, client)
    return _run_ray(items, fn, workers, address)


def _run_dask(items, fn, workers, address, client) -> list:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise EngineUnavailableError(
            'engine "dask" needs dask.distributed: pip install "storeplan[distributed]" '
            '(or pip install "dask[distributed]")'
        ) from exc
    own_client = own_cluster = None
    if client is None:
        if address is None:
            own_cluster = LocalCluster(
                n_workers=worker_count("dask", workers, len(items)),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            own_client = client = Client(own_cluster)
        else:
            own_client = client = Client(address)
    try:
        futures = client.map(fn, items, pure=False)
        return list(client.gather(futures))
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def _run_ray(items, fn, workers, address) -> list:
    try:
        import ray
    except ImportError as exc:
        raise EngineUnavailableError('engine "ray" needs ray: pip install "storeplan[ray]"') from exc
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False}
        if address is None and workers is not None:
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
        started = True
    try:
        # ray.remote wraps Python functions only; a module-level trampoline takes any callable
        remote = ray.remote(_apply)
        return list(ray.get([remote.remote(fn, t) for t in items]))
    finally:
        if started:
            ray.shutdown()


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    """``fn(item)``; the task Ray runs (a plain function, picklable by reference)."""
    return fn(item)


# ----------------------------------------------------------------------------- scenario tasks


@dataclass(frozen=True)
class ScenarioTask:
    """One scenario run: a TOML file plus overrides.

    Attributes
    ----------
    path : str
        Scenario file.
    name : str
        Row name in the comparison table ("" = the file's ``name``).
    overrides : dict
        Nested settings merged over the file, e.g. ``{"objective": {"stores": 10}}``.
    save_dir : str, optional
        When set, the plan files (``Plan.save``) and, with a rollout,
        ``rollout.csv`` / ``forecast_years.csv`` are written there.
    """

    path: str
    name: str = ""
    overrides: dict = field(default_factory=dict)
    save_dir: str | None = None


def _load(task: ScenarioTask) -> Scenario:
    """The :class:`~storeplan.scenario.Scenario` of a task (overrides merged in depth)."""
    from .scenario import Scenario

    return Scenario.from_toml(task.path, **task.overrides)


def comparison_row(plan: Plan, name: str = "") -> dict[str, Any]:
    """The numbers of one plan in the comparison table (:data:`COMPARISON`).

    Each is read from ``plan.metrics`` (:class:`~storeplan.metrics.PlanMetrics`) or its
    ``rollout`` (:class:`~storeplan.metrics.RolloutSummary`; NaN / None without a
    rollout), as :attr:`Column.source` names; ``seconds``, ``source``, ``overrides`` and
    ``error`` are the run's and are left out.
    """
    m = plan.metrics
    r = m.rollout
    row: dict[str, Any] = {
        "name": name or plan.scenario_name,
        "objective_kind": plan.objective,
        "n_stores": m.n_stores,
        "n_new_stores": m.n_new_stores,
        "coverage_share": m.coverage_share,
        "radius_km": m.radius_km,
        "mean_km": m.mean_km,
        "market_share": m.market_share,
        "revenue_full_ramp_currency_per_year": m.own_revenue,
        "rollout_years": None,
        "n_stores_final_year": None,
        "sales_final_year_currency_per_year": math.nan,
        "npv_currency": math.nan,
        "payback_year": None,
        "target_met": None,
        "shortfall_currency_per_year": math.nan,
        "objective_value": m.objective,
        "objective_unit": m.objective_unit,
        "bound_value": m.bound,
        "gap_share": m.gap,
    }
    if r is not None:
        row.update(
            rollout_years=r.years,
            n_stores_final_year=m.n_existing_stores + sum(r.opened_per_year),
            sales_final_year_currency_per_year=r.final_revenue,
            npv_currency=r.npv,
            payback_year=r.payback_year,
            target_met=r.target_met,
            shortfall_currency_per_year=r.shortfall,
        )
    return row


def run_scenario(task: ScenarioTask) -> dict[str, Any]:
    """Solve one scenario (+ rollout/forecast) and return its comparison row.

    Never raises for a bad scenario: the row then has ``error`` set and NaN numbers, so
    one infeasible grid point does not stop a sweep.

    Returns
    -------
    dict
        The columns of :data:`COMPARISON` (see :func:`comparison_row`), plus ``seconds``,
        ``source``, ``overrides`` and ``error``.
    """
    from .pipeline import solve

    t0 = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update({c: math.nan for c in COLUMNS if UNITS[c] and c not in _INT_COLUMNS})
    row.update(
        name=task.name or Path(task.path).stem,
        source=str(task.path),
        overrides=_flat_label(task.overrides),
    )
    try:
        scenario = _load(task)
        name = task.name or scenario.name
        row["name"] = name
        plan = solve(scenario)  # market outputs, and the rollout when the scenario has one
        row.update(comparison_row(plan, name))
        if task.save_dir:
            plan.save(task.save_dir)  # with a rollout, also its files
    except Exception as exc:  # noqa: BLE001 - one bad scenario must not stop a sweep
        row["error"] = f"{type(exc).__name__}: {exc}"
        log.warning("%s: %s", row["name"], row["error"])
    row["seconds"] = time.perf_counter() - t0
    return row


def _flat_label(overrides: Mapping, prefix: str = "") -> str:
    parts = []
    for k, v in overrides.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            inner = _flat_label(v, key + ".")
            if inner:
                parts.append(inner)
        else:
            parts.append(f"{key}={v}")
    return ",".join(parts)


# ----------------------------------------------------------------------------- compare / sweep


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare` / :func:`sweep`.

    Attributes
    ----------
    table : DataFrame
        One row per scenario (columns :data:`COLUMNS` first).
    paths : dict of str to Path
        ``comparison.csv``, ``comparison.parquet``, ``comparison.png``.
    engine : str
    seconds : float
        Wall time of the whole run.
    """

    table: pd.DataFrame
    paths: dict[str, Path]
    engine: str
    seconds: float


def grid_tasks(
    base_scenario_path: str | Path, grid: Mapping[str, Sequence[Any]], *, save_root: str | Path | None = None
) -> list[ScenarioTask]:
    """Tasks for every combination of a settings grid (row order = itertools.product).

    ``grid`` keys are dotted settings (``"objective.stores"``, ``"rollout.stores_per_year"``,
    ``"constraints.region_max.Zhejiang"``); values are lists of values to try.

    Raises
    ------
    UnknownOptionError
        A key names no scenario section, or a value list is empty.
    """
    from .scenario import ScenarioSpec

    sections = set(ScenarioSpec.model_fields) | {"rollout", "sites"}
    keys = list(grid)
    for key in keys:
        head = key.split(".", 1)[0]
        if "." not in key or head not in sections:
            raise UnknownOptionError(
                f"sweep: {key!r} is not a dotted scenario setting like 'objective.stores' "
                f"(sections: {', '.join(sorted(sections))})"
            )
        if len(list(grid[key])) == 0:
            raise UnknownOptionError(f"sweep: {key!r} has no values")
    base = Path(base_scenario_path)
    stem = base.stem
    # the scenario's own name labels the rows (run_scenario reports an unreadable file)
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        stem = str(tomllib.loads(base.read_text(encoding="utf-8")).get("name", stem))
    tasks = []
    for combo in itertools.product(*(list(grid[k]) for k in keys)):
        over: dict[str, Any] = {}
        for key, value in zip(keys, combo, strict=True):
            node = over
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        label = ",".join(f"{k}={v}" for k, v in zip(keys, combo, strict=True))
        name = f"{stem}[{label}]" if label else stem
        save = None if save_root is None else str(Path(save_root) / _slug(name))
        tasks.append(ScenarioTask(str(base), name, over, save))
    return tasks


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_")[:120] or "scenario"


def compare(
    scenario_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    client: Any = None,
    save_plans: bool = False,
) -> Comparison:
    """Run several scenario files and write one comparison table and chart.

    Parameters
    ----------
    scenario_paths : sequence of path
    out_dir : path
        Gets ``comparison.csv``, ``comparison.parquet``, ``comparison.png`` (and, with
        ``save_plans``, one folder per scenario).
    engine, workers, address, client
        See :func:`run_many`.

    Returns
    -------
    Comparison
    """
    out = Path(out_dir)
    tasks = []
    for p in scenario_paths:
        save = str(out / "scenarios" / _slug(Path(p).stem)) if save_plans else None
        tasks.append(ScenarioTask(str(p), "", {}, save))
    return _run_and_write(tasks, out, engine, workers, address, client)


def sweep(
    base_scenario_path: str | Path,
    grid: Mapping[str, Sequence[Any]],
    out_dir: str | Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    client: Any = None,
    save_plans: bool = False,
) -> Comparison:
    """Run a grid of settings over one scenario file; one row per combination.

    Example: ``sweep("s.toml", {"objective.stores": [50, 100, 200], "rollout.discount_rate":
    [0.06, 0.1]}, "out/")`` runs 6 scenarios. See :func:`grid_tasks` and :func:`compare`.
    """
    out = Path(out_dir)
    tasks = grid_tasks(base_scenario_path, grid, save_root=(out / "scenarios") if save_plans else None)
    return _run_and_write(tasks, out, engine, workers, address, client)


def _run_and_write(tasks, out: Path, engine, workers, address, client) -> Comparison:
    t0 = time.perf_counter()
    rows = run_many(tasks, run_scenario, engine=engine, workers=workers, address=address, client=client)
    table = _table(rows)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with atomic_path(out / "comparison.csv") as tmp:
        table.to_csv(tmp, index=False)
    paths["comparison.csv"] = out / "comparison.csv"
    with atomic_path(out / "comparison.parquet") as tmp:
        _write_parquet(table, tmp)
    paths["comparison.parquet"] = out / "comparison.parquet"
    paths["comparison.png"] = comparison_chart(table, out / "comparison.png")
    n_err = int(table["error"].notna().sum())
    log.info(
        "compared %d scenario(s) with %s in %.1f s (%d failed)",
        len(table),
        engine,
        time.perf_counter() - t0,
        n_err,
    )
    return Comparison(table, paths, engine, time.perf_counter() - t0)


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    """``table`` as Parquet, with the unit of each column in the schema metadata
    (``storeplan.units``: JSON ``{column: unit}``)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    at = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(at.schema.metadata or {})
    meta[b"storeplan.units"] = json.dumps({c: UNITS.get(c, "") for c in table.columns}).encode()
    pq.write_table(at.replace_schema_metadata(meta), path)


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    # unique names (two files may share a scenario name)
    names = table["name"].astype(str)
    dup = names.duplicated(keep=False)
    if dup.any():
        stems = [Path(s).stem for s in table.loc[dup, "source"]]
        table.loc[dup, "name"] = [f"{n} ({s})" for n, s in zip(names[dup], stems, strict=True)]
        names = table["name"].astype(str)
        dup = names.duplicated(keep=False)
        if dup.any():
            table.loc[dup, "name"] = [f"{n} #{k}" for k, n in enumerate(names[dup], start=1)]
    extra = [c for c in table.columns if c not in COLUMNS]
    table = table.reindex(columns=list(COLUMNS) + extra)
    for col in _INT_COLUMNS:
        vals = [None if _missing(v) else int(v) for v in table[col]]
        table[col] = pd.array(vals, dtype="Int64")
    for col in COLUMNS:
        if UNITS[col] and col not in _INT_COLUMNS:
            table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    met = [None if _missing(v) else bool(v) for v in table["target_met"]]
    table["target_met"] = pd.array(met, dtype="boolean")
    for col in _TEXT_COLUMNS:
        table[col] = table[col].astype(object).where(table[col].notna(), None)
    return table


def _short_labels(table: pd.DataFrame) -> list[str]:
    """Row labels: a sweep's settings (last key part, ``stores=200, discount_rate=0.1``) or
    the scenario name, at most 48 characters."""
    out = []
    for name, over in zip(table["name"], table.get("overrides", [None] * len(table)), strict=True):
        text = str(name)
        if isinstance(over, str) and over:
            text = ", ".join(
                f"{part.split('=', 1)[0].rsplit('.', 1)[-1]}={part.split('=', 1)[1]}" if "=" in part else part
                for part in re.split(r",(?=[A-Za-z_][\w.]*=)", over)
            )
        out.append(text if len(text) <= 48 else text[:47] + "\u2026")
    return out


def comparison_chart(table: pd.DataFrame, path: str | Path, *, dpi: int = 110) -> Path:
    """Horizontal bars of coverage share and NPV (or full-ramp yearly revenue without
    rollouts) per scenario, saved atomically as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(table)
    labels = _short_labels(table)
    fig = Figure(figsize=(10.0, max(2.6, 0.34 * n + 1.4)))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    y = np.arange(n)[::-1]
    cov = table["coverage_share"].to_numpy(float)
    ax1.barh(y, np.nan_to_num(cov * 100.0), color="#2166ac")
    ax1.set_xlabel("population covered, %")
    ax1.set_title("Coverage", fontsize=10)
    use_npv = table["npv_currency"].notna().any()
    val = table["npv_currency" if use_npv else "revenue_full_ramp_currency_per_year"].to_numpy(float)
    scale, unit = _scale(np.nanmax(np.abs(val)) if np.isfinite(val).any() else 1.0)
    colors = ["#1b7837" if v >= 0 else "#b2182b" for v in np.nan_to_num(val)]
    ax2.barh(y, np.nan_to_num(val) / scale, color=colors)
    what = "NPV" if use_npv else "revenue per year at full ramp"
    ax2.set_xlabel(f"{what}, {unit + ' ' if unit else ''}(scenario currency)")
    ax2.set_title("NPV of the rollout" if use_npv else "Store revenue per year at full ramp", fontsize=10)
    ax1.set_yticks(y, labels, fontsize=8)
    err = table["error"].notna().to_numpy() if "error" in table else np.zeros(n, bool)
    for ax in (ax1, ax2):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        for k in np.flatnonzero(err):
            ax.text(0, y[k], " failed", va="center", fontsize=7, color="#b2182b")
    fig.tight_layout()
    with atomic_path(path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    return Path(path)


def _scale(v: float) -> tuple[float, str]:
    """Display scale for currency amounts."""
    for s, u in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if v >= s:
            return s, u
    return 1.0, ""
