"""The ``storeplan`` command line: ``demo``, ``run``, ``validate``, ``compare``, ``sweep``, ``serve``.

The CLI only parses arguments and calls the Python API. Errors print one readable
line (``error: ...``) and exit non-zero: 2 for bad input or infeasible constraints,
130 when interrupted (Ctrl-C); warnings print one ``warning: ...`` line each. The
output folder is checked before any work starts, and the whole output set is written
into a temporary sibling folder and swapped in at the end, so the folder always holds
one run's complete set or the previous one untouched. Text from the user's files is
never read as Rich markup.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .bundled import (  # noqa: F401 - re-exported
    DEMO_SCENARIOS,
    PHASE_LABELS,
    WORLD_PHASE_LABELS,
    WORLD_SCENARIOS,
    demo_scenario_path,
)
from .errors import StoreplanError

if TYPE_CHECKING:
    from .metrics import PlanMetrics
    from .scenario import Scenario
    from .world import WorldPlan

app = typer.Typer(
    name="storeplan",
    help="Plan a retail store network: where to open stores, in what order, and what they earn.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(stderr=True)
out_console = Console()


@contextlib.contextmanager
def _progress(enabled: bool):
    """A Rich progress bar with one task per phase; yields a ``progress(phase, frac)`` callback."""
    if not enabled:
        yield lambda phase, frac: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as prog:
        tasks: dict[str, Any] = {}

        def update(phase: str, frac: float) -> None:
            if phase not in tasks:
                label = PHASE_LABELS.get(phase) or WORLD_PHASE_LABELS.get(phase, phase)
                tasks[phase] = prog.add_task(label, total=1.0)
            prog.update(tasks[phase], completed=frac)

        yield update


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _error(text: object) -> None:
    """Print ``error: TEXT`` on one line; TEXT is never read as markup."""
    console.print(f"[bold red]error:[/] {escape(_one_line(text))}", highlight=False, soft_wrap=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the CLI: one ``warning: ...`` line on stderr."""
    from .errors import StoreplanWarning

    text = _one_line(message)
    if not issubclass(category, StoreplanWarning):
        text = f"{category.__name__}: {text}"
    console.print(f"[bold yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


def _interrupted_by_ctrl_c(exc: BaseException) -> bool:
    """True for an error raised because Ctrl-C arrived inside a compiled (Numba) call:
    CPython then reports ``SystemError: ... returned a result with an exception set``
    with the ``KeyboardInterrupt`` as its cause."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 20:
        if isinstance(cur, KeyboardInterrupt):
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def _run_guarded(fn, *args, interrupted: str = "nothing was written", **kwargs):
    """Run ``fn``; turn storeplan errors into one line + exit 2, Ctrl-C into exit 130."""
    old_show = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return fn(*args, **kwargs)
    except StoreplanError as exc:
        _error(exc)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print(f"[bold red]interrupted[/]: {escape(interrupted)}", highlight=False)
        raise typer.Exit(130) from None
    except (SystemError, RuntimeError) as exc:
        if _interrupted_by_ctrl_c(exc):
            console.print(f"[bold red]interrupted[/]: {escape(interrupted)}", highlight=False)
            raise typer.Exit(130) from None
        raise
    finally:
        warnings.showwarning = old_show


def _solve_and_save(
    scenario_path: Path,
    out: Path,
    overrides: dict[str, Any],
    *,
    quiet: bool,
    report: bool,
    adjust=None,
    engine: str | None = None,
    workers: int | None = None,
) -> None:
    """Load, solve and save into ``out`` as one output set.

    ``adjust(scenario) -> (scenario, notes)`` may change the loaded scenario (the demo's
    ``--province``/``--stores`` scaling); its notes are printed as warnings. A scenario
    with a ``[world]`` section is planned by :func:`storeplan.world.plan_world` (on
    ``engine`` with ``workers``) and written by :func:`storeplan.world.write_world`.
    """
    from ._io import check_output_folder, output_set
    from .errors import InputWarning
    from .pipeline import solve
    from .scenario import Scenario

    check_output_folder(out)  # before any work
    _configure_logging(quiet)
    wp: WorldPlan | None = None
    with _progress(not quiet) as progress:
        progress("load", 0.0)
        scenario = Scenario.from_toml(scenario_path, **overrides)
        if adjust is not None:
            scenario, notes = adjust(scenario)
            for note in notes:
                warnings.warn(note, InputWarning, stacklevel=1)
        progress("load", 1.0)
        if scenario.world is not None:
            from .world import write_world

            wp = _plan_world(scenario, engine=engine, workers=workers, progress=progress)
            files = write_world(wp, out, report=report, progress=progress)
        else:
            if engine is not None or workers is not None:
                warnings.warn(
                    f"{scenario.name}: --engine and --workers apply to world scenarios ([world]); ignored",
                    InputWarning,
                    stacklevel=1,
                )
            plan = solve(scenario, progress=progress)
            progress("save", 0.0)
            with output_set(out) as tmp:
                written = plan.save(tmp)
                if report:
                    from .report import write as write_report

                    written.update(write_report(plan, tmp))
            progress("save", 1.0)
    if quiet:
        return
    if wp is not None:
        _print_world_summary(wp, out, sorted(files))
        return
    names = sorted(str(Path(p).relative_to(tmp)) for p in written.values())
    _print_summary(plan.scenario_name, plan.objective, plan.metrics, out, names)


def _plan_world(
    scenario: Scenario,
    *,
    engine: str | None = None,
    workers: int | None = None,
    progress=None,
) -> WorldPlan:
    """:func:`storeplan.world.plan_world` with the command line's defaults
    (``engine`` local), imported when called.

    Raises
    ------
    UnknownOptionError
        ``engine`` is not one of :data:`storeplan.engine.ENGINES`, or ``workers`` < 1.
    InputError
        This installation has no world planner (``storeplan.world.plan_world``).
    """
    import importlib

    from .engine import ENGINES
    from .errors import InputError, UnknownOptionError

    eng = engine or "local"
    if eng not in ENGINES:
        raise UnknownOptionError(f"--engine {eng!r} is not one of {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise UnknownOptionError(f"--workers must be >= 1, got {workers}")
    fn = getattr(importlib.import_module("storeplan.world"), "plan_world", None)
    if fn is None:
        raise InputError(f"{scenario.name}: this storeplan has no world planner (storeplan.world.plan_world)")
    return fn(scenario, engine=eng, workers=workers, progress=progress)


def _print_world_summary(wp: WorldPlan, out: Path, names: list[str]) -> None:
    """The world plan's headline figures (read from ``wp.metrics``) and the files written."""
    m = wp.metrics
    cur = m.currency
    table = Table(title=escape(f"storeplan: {wp.name} (world, {wp.years} years)"), show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    target = "" if m.target_stores is None else f" (target {m.target_stores:,})"
    table.add_row(
        "new stores (own / partner)", f"{m.stores:,}{target}: {m.stores_own:,} / {m.stores_partner:,}"
    )
    table.add_row("countries entered / considered", f"{m.countries_entered:,} / {m.countries_considered:,}")
    table.add_row(f"NPV ({cur})", f"{m.npv:,.0f}")
    table.add_row(f"NPV bound ({cur}) / gap", f"{m.bound:,.0f} / {100 * m.gap:.2f}%")
    table.add_row(f"capital, opening costs ({cur})", f"{m.capex:,.0f}")
    sales = f"{m.revenue_final_year:,.0f}"
    if math.isfinite(m.target_revenue_final_year):
        sales += f" (target {m.target_revenue_final_year:,.0f})"
    table.add_row(f"sales in the final year ({cur})", sales)
    table.add_row("payback year", str(m.payback_year) if m.payback_year else "beyond the horizon")
    table.add_row("seconds", f"{m.seconds:.1f} ({m.engine}, {m.workers} worker(s))")
    out_console.print(table)
    out_console.print(escape(f"wrote {len(names)} files to {out}/: {', '.join(names)}"), highlight=False)


def _configure_logging(quiet: bool) -> None:
    """One log line per phase on stderr (INFO), unless quiet."""
    from rich.logging import RichHandler

    logger = logging.getLogger("storeplan")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.addHandler(RichHandler(console=console, show_path=False, show_time=False))


def _print_summary(name: str, kind: str, m: PlanMetrics, out: Path, names: list[str]) -> None:
    table = Table(title=escape(f"storeplan: {name} ({kind})"), show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("stores (new / existing)", f"{m.n_new_stores} / {m.n_existing_stores}")
    if m.n_partner_stores:
        table.add_row("stores (own / partner)", f"{m.n_own_stores} / {m.n_partner_stores}")
    table.add_row(
        f"population within {m.radius_km:g} km",
        f"{m.covered_population:,.0f} ({100 * m.coverage_share:.1f}%)",
    )
    table.add_row("mean / median km to nearest store", f"{m.mean_km:.1f} / {m.median_km:.1f}")
    table.add_row("store revenue per year (offline + from online)", f"{m.own_revenue:,.0f}")
    table.add_row(
        "our offline market share (before -> after)",
        f"{100 * m.market_share_before:.1f}% -> {100 * m.market_share:.1f}%",
    )
    table.add_row(
        "taken from existing stores / from online",
        f"{m.taken_from_existing_stores:,.0f} / {m.taken_from_online:,.0f}",
    )
    table.add_row(f"objective ({m.objective_unit})", f"{m.objective:,.6g}")
    table.add_row("bound", f"{m.bound:,.6g}")
    table.add_row("gap", "proven optimal" if m.proven_optimal else f"{100 * m.gap:.3f}%")
    table.add_row("seconds", f"{m.seconds:.1f}")
    r = m.rollout
    if r is not None:
        table.add_row("rollout: stores opened per year", " / ".join(str(x) for x in r.opened_per_year))
        table.add_row(f"rollout: NPV (horizon {r.horizon} years)", f"{r.npv:,.0f}")
        if math.isfinite(r.npv_bound):
            table.add_row("rollout: NPV bound / gap", f"{r.npv_bound:,.0f} / {100 * r.npv_gap:.2f}%")
        table.add_row("rollout: payback year", str(r.payback_year))
        if r.target_met is not None:
            verdict = (
                "met"
                if r.target_met
                else f"missed by {r.shortfall:,.0f} (about {r.extra_stores} more stores)"
            )
            table.add_row("rollout: revenue target", verdict)
    out_console.print(table)
    out_console.print(escape(f"wrote {len(names)} files to {out}/: {', '.join(names)}"), highlight=False)


_OBJECTIVE_HELP = (
    "Objective: pmedian (least population-weighted km), coverage (most people within "
    "radius_km), fixed_cost (least store + travel cost), revenue (most captured revenue "
    "net of store costs, Huff model against rivals), pcenter (least worst-case km), "
    "pdispersion (stores farthest apart) or backup_coverage (most people within radius_km "
    "of two stores). Default: the scenario's; a scenario "
    "that names none uses coverage."
)
_Out = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        metavar="DIR",
        help="Output folder; created if missing, replaced as a whole by the new output set.",
    ),
]
_NoReport = Annotated[
    bool, typer.Option("--no-report", help="Write only the plan files: no map, charts or report.")
]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, log lines or summary table.")]
_ScenarioFile = Annotated[Path, typer.Argument(metavar="SCENARIO", help="Scenario file (TOML).")]
_WorldEngine = Annotated[
    str | None,
    typer.Option(
        "--engine",
        metavar="ENGINE",
        help="World scenarios: where countries are planned: local (processes here, default), dask or ray.",
    ),
]
_WorldWorkers = Annotated[
    int | None,
    typer.Option(
        "--workers", metavar="N", help="World scenarios: parallel workers (default: the CPU count)."
    ),
]


def _demo_overrides(
    path: Path, province: list[str] | None, stores: int | None
) -> tuple[dict[str, Any], str | None]:
    """Overrides for ``demo --province/--stores``: the national store count, yearly caps,
    budgets and revenue targets scaled to the slice (by its population share, or by the
    asked store count), and the sentence saying so."""
    import tomllib

    from .data.datasets import china
    from .scenario import Scenario, deep_merge, scaled_settings

    if not province and stores is None:
        return {}, None
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    base = Scenario.spec_from_dict(raw, source=path.name).objective.stores
    over: dict[str, Any] = {}
    why = ""
    if province:
        sliced = china(provinces=list(province))
        over["areas"] = {"provinces": list(sliced.regions)}
        if stores is None:
            national = float(china().areas["population"].sum())
            factor = float(sliced.areas["population"].sum()) / national
            why = f"--province {', '.join(sliced.regions)} holds {100 * factor:.1f}% of the population"
    if stores is not None:
        if stores < 0:
            from .errors import InputError

            raise InputError(f"--stores must be >= 0, got {stores}")
        factor = stores / base if base else 1.0
        why = f"--stores {stores:,} of the scenario's {base:,}" if base else f"--stores {stores:,}"
    scaled, said = scaled_settings(raw, factor, stores=stores)
    return deep_merge(over, scaled), f"{why}: national totals {said}"


@app.command()
def demo(
    out: _Out = Path("out"),
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            metavar="NAME",
            help=(
                "Bundled scenario: three-years (1,000 stores over three years, 200 in year one, "
                "with yearly caps, budgets and revenue targets), year-one (200 stores) or world "
                "(stores abroad over five years, country by country)."
            ),
        ),
    ] = "three-years",
    stores: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help=(
                "Number of new stores (default: the scenario's); the rollout's yearly caps, budgets "
                "and revenue targets scale with it."
            ),
        ),
    ] = None,
    province: Annotated[
        list[str] | None,
        typer.Option(
            "--province",
            metavar="NAME",
            help=(
                "Plan only this province (repeatable), e.g. --province Zhejiang; without --stores the "
                "store count, caps, budgets and targets scale to its share of the population."
            ),
        ),
    ] = None,
    country: Annotated[
        list[str] | None,
        typer.Option(
            "--country",
            metavar="CODE",
            help="World scenario: plan only this country (repeatable, ISO2 code such as VN).",
        ),
    ] = None,
    objective: Annotated[str | None, typer.Option(metavar="KIND", help=_OBJECTIVE_HELP)] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="SEED", help="Random seed (>= 0) of the synthetic data and solvers.")
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="Solver time limit, seconds.")
    ] = None,
    engine: _WorldEngine = None,
    workers: _WorldWorkers = None,
    no_report: _NoReport = False,
    quiet: _Quiet = False,
) -> None:
    """Plan stores on the bundled real data with synthetic rivals and online orders: in
    China (GeoNames places, county polygons, 2020 census; 1,000 stores in three years,
    200 in year one, by default) or, with --scenario world, abroad country by country."""

    def go() -> None:
        from .errors import InputError

        path = demo_scenario_path(scenario)
        if scenario in WORLD_SCENARIOS:
            if province or stores is not None:
                raise InputError("--province and --stores apply to the China scenarios; use --country")
            from .world import slice_overrides

            overrides, note = slice_overrides(path, country) if country else ({}, None)
        else:
            if country:
                raise InputError(f"--country applies to the world scenario, not {scenario!r}")
            overrides, note = _demo_overrides(path, province, stores)
        if note and not quiet:
            console.print(f"[bold]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        if note:
            overrides = _with_description(path, overrides, note)
        if objective is not None:
            overrides["objective"] = {**overrides.get("objective", {}), "kind": objective}
        opts: dict[str, Any] = {}
        if seed is not None:
            opts["seed"] = seed
        if time_limit is not None:
            opts["time_limit"] = time_limit
        if opts:
            overrides["options"] = opts
        _solve_and_save(
            path, out, overrides, quiet=quiet, report=not no_report, engine=engine, workers=workers
        )

    _run_guarded(go, interrupted=f"{out} was left as it was")


def _with_description(path: Path, overrides: dict[str, Any], note: str) -> dict[str, Any]:
    """The scenario's description followed by what the CLI changed (shown in the report)."""
    import tomllib

    desc = str(tomllib.loads(path.read_text(encoding="utf-8")).get("description", "")).rstrip()
    return {**overrides, "description": f"{desc} Scaled for this run ({note})." if desc else note}


@app.command()
def run(
    scenario: _ScenarioFile,
    out: _Out = Path("out"),
    engine: _WorldEngine = None,
    workers: _WorldWorkers = None,
    no_report: _NoReport = False,
    quiet: _Quiet = False,
) -> None:
    """Plan the scenario in SCENARIO and write plan files, map and report to --out
    (a scenario with a [world] section: the world plan, countries.csv and the world
    report)."""
    _run_guarded(
        _solve_and_save,
        scenario,
        out,
        {},
        quiet=quiet,
        report=not no_report,
        engine=engine,
        workers=workers,
        interrupted=f"{out} was left as it was",
    )


@app.command()
def validate(
    scenario: _ScenarioFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Check a scenario file and its data without solving: every check `run` makes before
    the solve (tables, ids, settings, quotas, spacing, rollout caps and budgets; for a
    [world] scenario also the split into countries: currencies, exchange rates, sites)."""

    def load():
        from .scenario import Scenario

        scn = Scenario.from_toml(scenario)
        info: dict[str, Any] = scn.summary()
        if scn.world is not None:
            info.update(_world_summary(scn))
        return info

    info = _run_guarded(load)
    if as_json:
        out_console.print_json(json.dumps(info))
        return
    out_console.print(f"[green]ok[/]: {escape(str(scenario))} is valid", highlight=False)
    for k, v in info.items():
        if k == "countries":
            continue
        text = f"  {k}: {v:,}" if isinstance(v, int | float) else f"  {k}: {v}"
        out_console.print(escape(text), highlight=False)
    for c in info.get("countries", []):
        text = (
            f"    {c['country']} {c['name']}: {c['candidate_sites']:,} candidate sites, "
            f"{c['areas']:,} areas, amounts in {c['currency']} ({c['rate']:,.6g} per "
            f"{info['planning_currency']})"
        )
        out_console.print(escape(text), highlight=False)


def _world_summary(scn: Scenario) -> dict[str, Any]:
    """What ``validate`` adds for a world scenario: every check of
    :func:`storeplan.world.country_inputs` (currencies, rates, countries, constraints),
    short of solving, and one line per country."""
    from .world import country_inputs, planning_rates

    spec = scn.world
    assert spec is not None  # the caller checked
    rates = planning_rates(spec)
    inputs = country_inputs(scn, rates=rates)
    return {
        "planning_currency": spec.planning_currency,
        "fx_date": rates.date,
        "world_countries": len(inputs),
        "countries": [
            {
                "country": c.country,
                "name": c.name,
                "currency": c.currency,
                "rate": float(c.rate),
                "areas": len(c.scenario.areas),
                "candidate_sites": len(c.scenario.sites),
            }
            for c in inputs
        ],
    }


# Options shared by compare and sweep.
_Engine = Annotated[
    str, typer.Option(metavar="ENGINE", help="Where scenarios run: local (processes here), dask or ray.")
]
_Workers = Annotated[int | None, typer.Option(metavar="N", help="Parallel workers (default: the CPU count).")]
_Address = Annotated[
    str | None,
    typer.Option(metavar="URL", help="Dask scheduler or Ray cluster address (default: start a local one)."),
]
_SavePlans = Annotated[
    bool, typer.Option("--save-plans", help="Also save each scenario's plan files under --out/scenarios/.")
]


def _run_many_and_print(fn, first, *args, out: Path, **kwargs) -> None:
    """Run engine.compare / engine.sweep into one output set, print the table and where it went."""
    from ._io import check_output_folder, output_set

    def go():
        check_output_folder(out)
        with output_set(out) as tmp:
            return fn(first, *args, tmp, **kwargs)

    _configure_logging(False)
    result = _run_guarded(go, interrupted=f"{out} was left as it was")
    _print_comparison(result.table)
    out_console.print(
        escape(f"wrote {out}/comparison.csv, comparison.parquet, comparison.png"), highlight=False
    )


def _compact(v: float) -> str:
    """An amount in a few characters: 1.23 bn, 45.6 m, 789 k, 12.3."""
    for scale, suffix in ((1e9, " bn"), (1e6, " m"), (1e3, " k"), (1.0, "")):
        if abs(v) >= scale or scale == 1.0:
            x = v / scale
            return (f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}") + suffix
    return ""


def _print_comparison(table) -> None:
    """The comparison table: each header says what the number is and its unit (amounts
    in the scenario's currency; the objective in its own unit, shown next to it)."""
    import pandas as pd

    from .engine import SHOWN, UNITS

    cols = [c for c in SHOWN if c in table.columns]
    if "error" in cols and table["error"].isna().all():
        cols.remove("error")
    t = Table(title="comparison")  # cells escaped below: names and errors come from user files
    for c in cols:
        left = c in ("name", "error")
        t.add_column(escape(SHOWN[c]), justify="left" if left else "right", overflow="fold")
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                cells.append("")
            elif UNITS.get(c) == "share":
                cells.append(f"{100 * float(v):.2f}")
            elif c == "objective_value":
                unit = row.get("objective_unit") or ""
                cells.append(escape(f"{_compact(float(v))} {unit}".strip()))
            elif c == "seconds":
                cells.append(f"{float(v):.1f}")
            elif isinstance(v, float):
                cells.append(_compact(v))
            else:
                cells.append(escape(str(v)))
        t.add_row(*cells)
    out_console.print(t)
    out_console.print(
        "amounts in the scenario's currency (CNY for the bundled China data); the files name every"
        " column with its unit",
        highlight=False,
    )


def _parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``KEY=[v1, v2]`` (a TOML array) or ``KEY=v`` -> {KEY: [values]}."""
    import tomllib

    from .errors import UnknownOptionError

    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, rhs = item.partition("=")
        if not sep or not key.strip():
            raise UnknownOptionError(
                f"--grid {item!r}: expected KEY=[v1, v2, ...], e.g. objective.stores=[100, 200]"
            )
        try:
            value = tomllib.loads(f"v = {rhs.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = rhs.strip()  # a bare string
        grid[key.strip()] = value if isinstance(value, list) else [value]
    return grid


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(metavar="SCENARIO...", help="Scenario files (TOML).")],
    out: _Out = Path("out-compare"),
    engine: _Engine = "local",
    workers: _Workers = None,
    address: _Address = None,
    save_plans: _SavePlans = False,
) -> None:
    """Run several scenarios and write one comparison table (CSV, Parquet) and chart."""
    from .engine import compare as run_compare

    _run_many_and_print(
        run_compare,
        [str(p) for p in scenarios],
        out=out,
        engine=engine,
        workers=workers,
        address=address,
        save_plans=save_plans,
    )


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="Base scenario file (TOML).")],
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            "-g",
            metavar="KEY=VALUES",
            help=(
                "A setting and its values, repeatable: objective.stores=[100, 200] "
                "or rollout.stores_per_year=[[100, 200], [150, 150]]."
            ),
        ),
    ],
    out: _Out = Path("out-sweep"),
    engine: _Engine = "local",
    workers: _Workers = None,
    address: _Address = None,
    save_plans: _SavePlans = False,
) -> None:
    """Run every combination of a settings grid over one scenario; one table row each."""
    from .engine import sweep as run_sweep

    parsed = _run_guarded(_parse_grid, grid)
    _run_many_and_print(
        run_sweep,
        str(scenario),
        parsed,
        out=out,
        engine=engine,
        workers=workers,
        address=address,
        save_plans=save_plans,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Jobs database, uploads and run outputs.")
    ] = Path("storeplan-data"),
    max_runs: Annotated[int, typer.Option(help="Runs at the same time (the others queue).")] = 1,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload, MB.")] = 200.0,
) -> None:
    """Start the web app: plan, explore and compare on a map (needs storeplan[web])."""
    from .web import serve as run_server

    def announce(url: str) -> None:
        out_console.print(f"storeplan web app: [bold]{url}[/] (data in {data_dir}; Ctrl-C stops it)")

    try:
        run_server(host, port, data_dir, max_runs=max_runs, max_upload_mb=max_upload_mb, announce=announce)
    except ImportError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    except KeyboardInterrupt:  # outside a command's guard (argument parsing, imports)
        console.print("[bold red]interrupted[/]", highlight=False)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
