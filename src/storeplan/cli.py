"""The ``storeplan`` command line: ``demo``, ``run``, ``validate``, ``compare``, ``sweep``, ``serve``.

The CLI only parses arguments and calls the Python API. Errors print one readable
line (``error: ...``) and exit non-zero: 2 for bad input or infeasible constraints,
130 when interrupted. Output files are written atomically, so an interrupted run
leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import StoreplanError

app = typer.Typer(
    name="storeplan",
    help="Plan a retail store network: where to open stores, in what order, and what they earn.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out_console = Console()

#: The bundled scenarios (``storeplan demo --scenario NAME``); the first is the default.
DEMO_SCENARIOS = {
    "three-years": "china_three_years.toml",
    "year-one": "china_year_one.toml",
}

_PHASE_LABEL = {
    "load": "Loading scenario and data",
    "market": "Building the market (Huff model)",
    "network": "Building the distance network",
    "solve": "Choosing sites",
    "evaluate": "Evaluating the plan",
    "curve": "Coverage curve",
    "rollout": "Scheduling the rollout",
    "save": "Writing plan, map and report",
}


def demo_scenario_path(name: str = "three-years") -> Path:
    """Path of a bundled scenario file (default: the three-year China rollout)."""
    from .errors import UnknownOptionError

    if name not in DEMO_SCENARIOS:
        raise UnknownOptionError(
            f"unknown demo scenario {name!r}; expected one of {', '.join(DEMO_SCENARIOS)}"
        )
    return Path(str(resources.files("storeplan") / "scenarios" / DEMO_SCENARIOS[name]))


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
                tasks[phase] = prog.add_task(_PHASE_LABEL.get(phase, phase), total=1.0)
            prog.update(tasks[phase], completed=frac)

        yield update


def _run_guarded(fn, *args, **kwargs):
    """Run ``fn``; turn storeplan errors into one line + exit 2, Ctrl-C into exit 130."""
    try:
        return fn(*args, **kwargs)
    except StoreplanError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: no partial output files were written")
        raise typer.Exit(130) from None


def _solve_and_save(
    scenario_path: Path, out: Path, overrides: dict[str, Any], *, quiet: bool, report: bool
) -> dict[str, Any]:
    from .api import solve
    from .scenario import Scenario

    _configure_logging(quiet)
    with _progress(not quiet) as progress:
        progress("load", 0.0)
        scenario = Scenario.from_toml(scenario_path, **overrides)
        progress("load", 1.0)
        plan = solve(scenario, progress=progress)
        progress("save", 0.0)
        written = plan.save(out)
        if report:
            from .report import write as write_report

            written.update(write_report(plan, out))
        progress("save", 1.0)
    m = plan.metrics
    if not quiet:
        _print_summary(plan.scenario_name, plan.objective, m, out, written)
    return m


def _configure_logging(quiet: bool) -> None:
    """One log line per phase on stderr (INFO), unless quiet."""
    from rich.logging import RichHandler

    logger = logging.getLogger("storeplan")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.addHandler(RichHandler(console=console, show_path=False, show_time=False))


def _print_summary(name: str, kind: str, m: dict[str, Any], out: Path, written: dict[str, Path]) -> None:
    table = Table(title=f"storeplan: {name} ({kind})", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("stores (new / existing)", f"{m['n_new_stores']} / {m['n_existing_stores']}")
    table.add_row(
        f"population within {m['radius_km']:g} km",
        f"{m['covered_population']:,.0f} ({100 * m['coverage_share']:.1f}%)",
    )
    table.add_row("mean / median km to nearest store", f"{m['mean_km']:.1f} / {m['median_km']:.1f}")
    if "own_revenue" in m:
        table.add_row("store revenue per year (offline + from online)", f"{m['own_revenue']:,.0f}")
        table.add_row(
            "our offline market share (before -> after)",
            f"{100 * m['market_share_before']:.1f}% -> {100 * m['market_share']:.1f}%",
        )
        table.add_row(
            "taken from existing stores / from online",
            f"{m['taken_from_existing_stores']:,.0f} / {m['taken_from_online']:,.0f}",
        )
    table.add_row("objective", f"{m['objective']:,.6g}")
    table.add_row("bound", f"{m['bound']:,.6g}")
    table.add_row("gap", "proven optimal" if m["proven_optimal"] else f"{100 * m['gap']:.3f}%")
    table.add_row("seconds", f"{m['seconds']:.1f}")
    r = m.get("rollout")
    if r:
        table.add_row("rollout: stores opened per year", " / ".join(str(x) for x in r["opened_per_year"]))
        table.add_row(f"rollout: NPV (horizon {r['horizon']} years)", f"{r['npv']:,.0f}")
        table.add_row("rollout: payback year", str(r["payback_year"]))
        if r["target_met"] is not None:
            verdict = (
                "met"
                if r["target_met"]
                else f"missed by {r['shortfall']:,.0f} (about {r['extra_stores']} more stores)"
            )
            table.add_row("rollout: revenue target", verdict)
    out_console.print(table)
    names = sorted(
        str(Path(p).relative_to(out)) if Path(p).is_relative_to(out) else Path(p).name
        for p in written.values()
    )
    out_console.print(f"wrote {len(written)} files to {out}/: {', '.join(names)}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="Bundled scenario: three-years (1,000 stores, rollout) or year-one (200 stores).",
        ),
    ] = "three-years",
    stores: Annotated[
        int | None, typer.Option(help="Number of new stores (default: the scenario's).")
    ] = None,
    province: Annotated[
        list[str] | None,
        typer.Option("--province", help="Limit to these provinces (repeatable), e.g. --province Zhejiang."),
    ] = None,
    objective: Annotated[str | None, typer.Option(help="pmedian, coverage or fixed_cost.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Solver time limit, seconds.")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip map and report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Plan stores in China on the bundled real data (GeoNames places, county polygons,
    2020 census) with synthetic rivals and online orders: 1,000 stores in three years
    (200 in year one) by default."""
    overrides: dict[str, Any] = {}
    if province:
        overrides["areas"] = {"provinces": list(province)}
    obj: dict[str, Any] = {}
    if stores is not None:
        obj["stores"] = stores
    if objective is not None:
        obj["kind"] = objective
    if obj:
        overrides["objective"] = obj
    opts: dict[str, Any] = {}
    if seed is not None:
        opts["seed"] = seed
    if time_limit is not None:
        opts["time_limit"] = time_limit
    if opts:
        overrides["options"] = opts
    path = _run_guarded(demo_scenario_path, scenario)
    _run_guarded(_solve_and_save, path, out, overrides, quiet=quiet, report=not no_report)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip map and report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Plan the scenario in SCENARIO and write plan files, map and report to --out."""
    _run_guarded(_solve_and_save, scenario, out, {}, quiet=quiet, report=not no_report)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check a scenario file and its data without solving."""
    from .scenario import Scenario

    scn = _run_guarded(Scenario.from_toml, scenario)
    info = scn.summary()
    if as_json:
        out_console.print_json(json.dumps(info))
        return
    out_console.print(f"[green]ok[/]: {scenario} is valid")
    for k, v in info.items():
        out_console.print(f"  {k}: {v:,}" if isinstance(v, int | float) else f"  {k}: {v}")


# Options shared by compare and sweep.
_Engine = Annotated[str, typer.Option(help="local (processes on this machine), dask or ray.")]
_Workers = Annotated[int | None, typer.Option(help="Parallel workers (default: CPU count).")]
_Address = Annotated[str | None, typer.Option(help="Dask scheduler / Ray cluster address.")]
_SavePlans = Annotated[bool, typer.Option("--save-plans", help="Also save each plan.")]


def _run_many_and_print(fn, first, *args, out: Path, **kwargs) -> None:
    """Run engine.compare / engine.sweep, print the table and where it was written."""
    _configure_logging(False)
    result = _run_guarded(fn, first, *args, out, **kwargs)
    _print_comparison(result.table)
    out_console.print(f"wrote {out}/comparison.csv, comparison.parquet, comparison.png")


def _print_comparison(table) -> None:
    cols = [
        c
        for c in (
            "name",
            "stores",
            "coverage",
            "share",
            "revenue",
            "npv",
            "objective",
            "gap",
            "seconds",
            "error",
        )
        if c in table.columns
    ]
    t = Table(title="comparison")
    for c in cols:
        t.add_column(c, justify="left" if c in ("name", "error") else "right", overflow="fold")
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if v is None or (isinstance(v, float) and v != v):
                cells.append("")
            elif c in ("coverage", "share", "gap"):
                cells.append(f"{100 * float(v):.2f}%")
            elif isinstance(v, float):
                cells.append(f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.0f}")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    out_console.print(t)


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
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files (TOML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out-compare"),
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
    scenario: Annotated[Path, typer.Argument(help="Base scenario file (TOML).")],
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            "-g",
            help=(
                "A setting and its values, repeatable: objective.stores=[100, 200] "
                "or rollout.stores_per_year=[[100, 200], [150, 150]]."
            ),
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out-sweep"),
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
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
