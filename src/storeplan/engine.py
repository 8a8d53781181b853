"""Run many scenarios: local processes, Dask or Ray, one comparison table.

:func:`run_many` maps a picklable function over tasks with the chosen engine; the
function and the tasks are the same whatever the engine, so the numbers are too (only
``seconds`` differs). :func:`compare` (several scenario files) and :func:`sweep` (a grid
of settings over one file) run :func:`storeplan.solve` (+ rollout and forecast when the
scenario has a ``[rollout]`` section) per scenario and write one table
(``comparison.csv``, ``comparison.parquet``) and one chart (``comparison.png``), every
file atomically.

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
from typing import Any

import numpy as np
import pandas as pd

from ._io import atomic_path
from .errors import StoreplanError, UnknownOptionError

__all__ = [
    "ENGINES",
    "COLUMNS",
    "EngineUnavailableError",
    "ScenarioTask",
    "Comparison",
    "run_many",
    "run_scenario",
    "compare",
    "sweep",
    "grid_tasks",
    "comparison_chart",
]

log = logging.getLogger(__name__)

#: Engines :func:`run_many` knows.
ENGINES = ("local", "dask", "ray")

#: Columns of the comparison table, in order (more may follow).
COLUMNS = ("name", "stores", "coverage", "npv", "revenue", "share", "objective", "gap", "seconds")


class EngineUnavailableError(StoreplanError, ImportError):
    """The chosen engine's package is not installed; the message names what to install."""


# ----------------------------------------------------------------------------- run_many


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
        n = min(workers or os.cpu_count() or 1, len(items))
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
                n_workers=workers or os.cpu_count() or 1,
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


def _load(task: ScenarioTask):
    """The :class:`~storeplan.scenario.Scenario` of a task (overrides merged in depth)."""
    from .scenario import Scenario

    return Scenario.from_toml(task.path, **task.overrides)


def run_scenario(task: ScenarioTask) -> dict[str, Any]:
    """Solve one scenario (+ rollout/forecast) and return its comparison row.

    Never raises for a bad scenario: the row then has ``error`` set and NaN numbers, so
    one infeasible grid point does not stop a sweep.

    Returns
    -------
    dict
        ``name, stores, coverage, npv, revenue, share, objective, gap, seconds`` then
        ``kind, new_stores, mean_km, payback_year, target_met, shortfall, final_year_stores,
        revenue_source, source, overrides, error``. ``revenue``: store sales in the last
        rollout year (with a rollout) or at full ramp (without), currency per year;
        ``share``: our offline market share with all the plan's stores open (Huff model);
        ``npv``: NPV of the rollout's store cash flows, currency (NaN without a rollout).
    """
    from .pipeline import solve

    t0 = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
    row.update(
        name=task.name or Path(task.path).stem,
        kind=None,
        new_stores=math.nan,
        mean_km=math.nan,
        payback_year=math.nan,
        target_met=None,
        shortfall=math.nan,
        revenue_source=None,
        source=str(task.path),
        overrides=_flat_label(task.overrides),
        error=None,
    )
    try:
        scenario = _load(task)
        row["name"] = task.name or scenario.name
        plan = solve(scenario)  # market outputs, and the rollout when the scenario has one
        m = plan.metrics
        row.update(
            stores=int(m["n_stores"]),
            new_stores=int(m["n_new_stores"]),
            coverage=float(m["coverage_share"]),
            objective=float(m["objective"]),
            gap=float(m["gap"]),
            kind=plan.objective,
            mean_km=float(m["mean_km"]),
            share=float(m["market_share"]),
            revenue=float(m["own_revenue"]),
            revenue_source="huff",
        )
        fc, sched = plan.forecast, plan.schedule
        if fc is not None:
            row.update(
                npv=fc.npv,
                revenue=fc.final_revenue,
                payback_year=math.nan if fc.payback_year is None else fc.payback_year,
                target_met=fc.target_met,
                shortfall=fc.shortfall,
                final_year_stores=int((sched.open_year >= 0).sum()),
            )
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
        table.to_parquet(tmp, index=False)
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
    table = table[list(COLUMNS) + extra]
    for col in ("stores", "new_stores", "final_year_stores", "payback_year"):
        if col in table:
            vals = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v) for v in table[col]
            ]
            table[col] = pd.array(vals, dtype="Int64")
    for col in ("coverage", "npv", "revenue", "share", "objective", "gap", "seconds", "mean_km", "shortfall"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    table["target_met"] = pd.array(
        [None if v is None else bool(v) for v in table["target_met"]], dtype="boolean"
    )
    for col in ("name", "kind", "revenue_source", "source", "overrides", "error"):
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
    """Horizontal bars of coverage share and NPV (or yearly revenue without rollouts) per
    scenario, saved atomically as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(table)
    labels = _short_labels(table)
    fig = Figure(figsize=(10.0, max(2.6, 0.34 * n + 1.4)))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    y = np.arange(n)[::-1]
    cov = table["coverage"].to_numpy(float)
    ax1.barh(y, np.nan_to_num(cov * 100.0), color="#2166ac")
    ax1.set_xlabel("population covered, %")
    ax1.set_title("Coverage", fontsize=10)
    use_npv = table["npv"].notna().any()
    val = table["npv" if use_npv else "revenue"].to_numpy(float)
    scale, unit = _scale(np.nanmax(np.abs(val)) if np.isfinite(val).any() else 1.0)
    colors = ["#1b7837" if v >= 0 else "#b2182b" for v in np.nan_to_num(val)]
    ax2.barh(y, np.nan_to_num(val) / scale, color=colors)
    ax2.set_xlabel(("NPV" if use_npv else "revenue per year") + (f", {unit}" if unit else ""))
    ax2.set_title("NPV of the rollout" if use_npv else "Store revenue per year", fontsize=10)
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
