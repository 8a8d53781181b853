"""World plan benchmark (issue 14): the bundled five-year world scenario, and the whole
world, with 1, 2 and 4 worker processes (and Dask).

Each configuration runs in its own child process (so its peak memory is its own):
``storeplan.world.plan_world`` on ``scenarios/world_five_years.toml``, optionally with
every country of the world dataset but the home market (``--whole-world``; candidate
sites are then the places of ``--min-population`` people or more, 10,000 by default:
55,100 sites, the issue's "about 50,000+"; the bundled scenario's threshold, 20,000,
gives 34,150). Prints a
table: workers, engine, wall seconds per phase, peak RSS (the largest process), stores,
countries entered, NPV, bound and certified gap, a digest of the plan (equal digests: the
same stores, formats and years) and the 1-minute load average before and after the run.

With ``--countries N`` the scenario is planned on its first N countries only (the
slice of ``storeplan demo --scenario world --country``:
:func:`storeplan.world.slices.slice_overrides`, targets scaled, yearly minimums
dropped), a mid-size run for the worker sweep.

    python benchmarks/run_world.py --workers 1 2 4
    python benchmarks/run_world.py --countries 12 --engine dask --workers 1 2 4
    python benchmarks/run_world.py --whole-world --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

WHOLE_WORLD_MIN_POPULATION = 10_000.0
"""Persons: the whole world's candidate-site threshold (55,100 sites outside China)."""

CHILD = r"""
import hashlib, json, sys, time
from importlib.resources import files
from storeplan.scenario import Scenario
from storeplan.world import plan_world
from storeplan.world.slices import slice_overrides
if __name__ == "__main__":
    cfg = json.loads(sys.argv[1])
    path = files("storeplan") / "scenarios" / "world_five_years.toml"
    over = {}
    if cfg["countries"] is not None:
        over, _ = slice_overrides(str(path), cfg["countries"])
    if cfg["whole_world"]:
        over["areas"] = {"countries": None, "exclude_countries": ["CN"]}
        over["world"] = {"new_countries_per_year": [8, 8, 6, 4, 4]}
    if cfg["min_population"] is not None:
        over["sites"] = {"min_population": cfg["min_population"]}
    t = time.perf_counter()
    scn = Scenario.from_toml(str(path), **over)
    load = time.perf_counter() - t
    plan = plan_world(scn, engine=cfg["engine"], workers=cfg["workers"])
    m = plan.metrics
    print("RESULT " + json.dumps({
        "load_s": load, "wall_s": time.perf_counter() - t, "phases": dict(m.phase_seconds),
        "countries": m.countries_considered, "entered": m.countries_entered, "stores": m.stores,
        "areas": len(scn.areas), "sites": len(scn.sites),
        "npv": m.npv, "bound": m.bound, "gap": m.gap, "allocation_bound": m.allocation_bound,
        "revenue_final_year": m.revenue_final_year, "target_revenue_final_year": m.target_revenue_final_year,
        "country_gap_max": float(plan.countries.loc[plan.countries["stores"] > 0, "gap"].max()),
        "country_gap_median": float(plan.countries.loc[plan.countries["stores"] > 0, "gap"].median()),
        "plan_digest": hashlib.sha256(
            plan.stores.sort_values(list(plan.stores.columns)).to_csv(index=False).encode()
        ).hexdigest()[:16],
    }))
"""


def run(cfg: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode != 0 or not line:
        raise SystemExit(f"run {cfg} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    res = json.loads(line[0][7:])
    res["process_s"] = wall
    res["load"] = (load0, os.getloadavg()[0])  # 1-minute load average before / after
    res["peak_rss_gib"] = max(peak, before) / 2**20  # ru_maxrss is KiB on Linux
    return res


def first_countries(n: int) -> list[str]:
    """The bundled scenario's first ``n`` countries (ISO2), in the file's order."""
    import tomllib
    from importlib.resources import files

    path = files("storeplan") / "scenarios" / "world_five_years.toml"
    codes = tomllib.loads(path.read_text(encoding="utf-8"))["areas"]["countries"]
    if not 1 <= n <= len(codes):
        raise SystemExit(f"--countries {n}: the scenario has {len(codes)} countries")
    return list(codes[:n])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--engine", default="local", choices=["local", "dask", "ray"])
    ap.add_argument("--whole-world", action="store_true")
    ap.add_argument(
        "--countries",
        type=int,
        default=None,
        help="plan the scenario's first N countries only (a slice, as demo --country)",
    )
    ap.add_argument(
        "--min-population",
        type=float,
        default=None,
        help="candidate sites: places of this many people or more (default: the scenario's "
        "20,000; 10,000 with --whole-world)",
    )
    ap.add_argument("--out", type=Path, default=None, help="append the table (markdown) to this file")
    args = ap.parse_args()
    rows = []
    for w in args.workers:
        min_pop = args.min_population
        if min_pop is None and args.whole_world:
            min_pop = WHOLE_WORLD_MIN_POPULATION
        cfg = {
            "workers": w,
            "engine": args.engine,
            "whole_world": args.whole_world,
            "min_population": min_pop,
            "countries": None if args.countries is None else first_countries(args.countries),
        }
        r = run(cfg)
        rows.append((w, r))
        print(f"workers {w}: {r['wall_s']:.1f} s, gap {100 * r['gap']:.2f} %", file=sys.stderr)
        print("RAW " + json.dumps({"workers": w, **r}), file=sys.stderr)
    base = rows[0][1]["wall_s"]
    head = (
        "| workers | engine | areas | sites | countries (entered) | stores | inputs s | curves s | master s "
        "| countries s | wall s | speed-up | peak RSS GiB | NPV bn | bound bn | gap | per-country bounds bn "
        "| country gap median / max | revenue final year bn | plan digest | load before / after |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for w, r in rows:
        p = r["phases"]
        lines.append(
            f"| {w} | {args.engine} | {r['areas']:,} | {r['sites']:,} | {r['countries']} ({r['entered']}) | "
            f"{r['stores']:,} | {p.get('inputs', 0) + r['load_s']:.1f} | {p.get('curves', 0):.1f} | "
            f"{p.get('master', 0):.1f} | {p.get('countries', 0):.1f} | {r['wall_s']:.1f} | "
            f"{base / r['wall_s']:.2f} | {r['peak_rss_gib']:.2f} | {r['npv'] / 1e9:.3f} | "
            f"{r['bound'] / 1e9:.3f} | {100 * r['gap']:.2f} % | {r['allocation_bound'] / 1e9:.3f} | "
            f"{100 * r['country_gap_median']:.2f} / {100 * r['country_gap_max']:.2f} % | "
            f"{r['revenue_final_year'] / 1e9:.3f} | {r['plan_digest']} | "
            f"{r['load'][0]:.1f} / {r['load'][1]:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out is not None:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(table + "\n")


if __name__ == "__main__":
    main()
