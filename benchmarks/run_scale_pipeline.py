"""The whole ``storeplan run`` at scale (issue 13): 10^5 .. 10^6 demand points.

The scenario is the bundled China dataset made finer, as a population grid would be:
every GeoNames place is split into points (their number in proportion to the place's
population, at least one), jittered around the place (normal, sd ``--jitter-km``),
with the place's population, online orders and attributes shared among them (Dirichlet
weights, a multinomial split of the orders). Candidate sites are ``--sites`` of those
points drawn with probability in proportion to population; the rivals are the bundled
sparse layer's 3,650 stores. Clearly synthetic points on real places; the output is a
benchmark, not a plan.

``python benchmarks/run_scale_pipeline.py --areas 1000000 --sites 100000 --stores 10000
--objective pmedian`` writes the scenario to ``--work`` and runs ``storeplan run`` on it
in a subprocess, with the peak RSS of that process (``ru_maxrss``) and the CLI's own
phase timings (``summary.json``: ``timings``), and prints a Markdown table row per run.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

KM_PER_DEG = 111.32


def fine_areas(n_areas: int, seed: int, jitter_km: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_areas`` demand points split from the bundled China places, and the rivals."""
    from storeplan.data.datasets import china

    # the sparse rival layer (3,650 stores), as in every run recorded in RESULTS_scale.md
    # (the default became the calibrated layer afterwards)
    data = china(rivals="sparse")
    base = data.areas.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    pop = base["population"].to_numpy(float)
    # points per place in proportion to population (largest remainder), at least one
    want = np.maximum(pop / pop.sum() * n_areas, 1e-9)
    k = np.maximum(np.floor(want).astype(np.int64), 1)
    short = n_areas - int(k.sum())
    if short > 0:
        k[np.argsort(-(want - np.floor(want)), kind="stable")[:short]] += 1
    elif short < 0:  # the floor of one per place overshot: trim the largest
        for j in np.argsort(-k, kind="stable")[:-short]:
            k[j] = max(1, k[j] - 1)
    rep = np.repeat(np.arange(len(base)), k)
    out = base.iloc[rep].reset_index(drop=True)
    piece = np.concatenate([np.arange(n) for n in k])
    out["id"] = out["id"].astype(str) + "-" + piece.astype(str)
    lat = out["lat"].to_numpy(float)
    dlat = rng.normal(0.0, jitter_km, len(out)) / KM_PER_DEG
    dlon = rng.normal(0.0, jitter_km, len(out)) / (KM_PER_DEG * np.cos(np.radians(lat)))
    single = k[rep] == 1
    out["lat"] = np.clip(lat + np.where(single, 0.0, dlat), -89.9, 89.9)
    out["lon"] = out["lon"].to_numpy(float) + np.where(single, 0.0, dlon)
    share = rng.gamma(2.0, 1.0, len(out))
    share /= np.bincount(rep, weights=share)[rep]
    out["population"] = np.round(pop[rep] * share, 1)
    orders = base["online_orders"].to_numpy(np.int64) if "online_orders" in base else None
    if orders is not None:
        split = np.zeros(len(out), np.int64)
        start = np.concatenate([[0], np.cumsum(k)[:-1]])
        for j in np.flatnonzero(k > 1):
            split[start[j] : start[j] + k[j]] = rng.multinomial(orders[j], share[start[j] : start[j] + k[j]])
        split[single] = orders[rep[single]]
        out["online_orders"] = split
    out["population_source"] = "synthetic split of " + out["population_source"].astype(str)
    keep = [c for c in out.columns if c not in ("name_zh", "region_zh", "admin_join", "admin_join_km")]
    return out[keep], data.rivals


def write_scenario(work: Path, args: argparse.Namespace) -> Path:
    areas, rivals = fine_areas(args.areas, args.seed, args.jitter_km)
    rng = np.random.default_rng(args.seed + 1)
    p = areas["population"].to_numpy(float)
    pick = rng.choice(len(areas), size=min(args.sites, len(areas)), replace=False, p=p / p.sum())
    sites = areas.iloc[np.sort(pick)][["id", "lon", "lat", "level", "region"]].copy()
    sites["id"] = "s" + sites["id"].astype(str)
    work.mkdir(parents=True, exist_ok=True)
    areas.to_parquet(work / "areas.parquet", index=False)
    sites.to_parquet(work / "sites.parquet", index=False)
    rivals[["id", "brand", "lon", "lat"]].to_parquet(work / "rivals.parquet", index=False)
    objective = {"kind": args.objective, "stores": args.stores}
    toml = f"""name = "china-fine-{args.areas}"
description = "Benchmark: {args.areas:,} synthetic demand points split from the bundled China places."

[areas]
path = "areas.parquet"

[sites]
path = "sites.parquet"

[rivals]
path = "rivals.parquet"

[[formats]]
name = "standard"
opening_cost = 1_500_000
fixed_cost = 900_000

[objective]
kind = "{objective["kind"]}"
stores = {objective["stores"]}
radius_km = {args.radius_km}

[market]
outside_per_100k = 3.0
max_stores_per_area = {args.market_cap}

[options]
seed = {args.seed}
time_limit = {args.time_limit}
neighbours = {args.neighbours}
max_sites_per_area = {args.site_cap}
"""
    path = work / "scenario.toml"
    path.write_text(toml, encoding="utf-8")
    return path


def child(path: Path, out: Path) -> None:
    """What ``storeplan run PATH --out OUT`` does (load, solve, save, report), timing
    every phase and reading the peak RSS at its end; prints one JSON line."""
    import warnings

    from storeplan._io import output_set
    from storeplan.pipeline import solve
    from storeplan.report import write as write_report
    from storeplan.scenario import Scenario

    warnings.simplefilter("ignore")
    marks: list[tuple[str, float, float]] = []
    t0 = time.perf_counter()

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # MiB

    def progress(phase: str, frac: float) -> None:
        if frac >= 1.0:
            marks.append((phase, time.perf_counter() - t0, rss()))
            print(
                f"{phase} done at {marks[-1][1]:.1f} s, peak {marks[-1][2]:,.0f} MiB",
                file=sys.stderr,
                flush=True,
            )

    scenario = Scenario.from_toml(path)
    marks.append(("load", time.perf_counter() - t0, rss()))
    plan = solve(scenario, progress=progress)
    with output_set(out) as tmp:
        plan.save(tmp)
        marks.append(("save files", time.perf_counter() - t0, rss()))
        write_report(plan, tmp)
        marks.append(("map and report", time.perf_counter() - t0, rss()))
    m = plan.metrics
    info = plan.solution.info if plan.solution is not None else {}
    print(
        json.dumps(
            {
                "marks": marks,
                "gap": float(m.gap),
                "objective": float(m.objective),
                "bound": float(m.bound),
                "method": str(plan.solution.method),
                "pairs": int(m.network_pairs),
                # the solver's own phases (seconds) and its cut-bound rounds, when it reports them
                "solver_phases": info.get("phase_seconds")
                or {k: float(v) for k, v in info.items() if k.endswith("_s") and isinstance(v, (int, float))},
                "cut_rounds": info.get("cut_rounds"),
                "files_mib": sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20,
            }
        )
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--areas", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--stores", type=int, default=1_000)
    ap.add_argument("--objective", default="pmedian")
    ap.add_argument("--radius-km", type=float, default=15.0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--jitter-km", type=float, default=3.0)
    ap.add_argument("--market-cap", type=int, default=32, help="[market] max_stores_per_area")
    ap.add_argument("--neighbours", type=int, default=32, help="[options] neighbours")
    ap.add_argument("--site-cap", type=int, default=64, help="[options] max_sites_per_area")
    ap.add_argument("--max-gib", type=float, default=14.0, help="address-space limit of the run (GiB)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("bench-scale"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        cap = int(args.max_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # a MemoryError, not the OOM killer
        child(Path(args.child[0]), Path(args.child[1]))
        return
    t0 = time.perf_counter()
    path = write_scenario(args.work, args)
    gen = time.perf_counter() - t0
    out = args.work / f"out-{args.objective}"
    t1 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, __file__, "--child", str(path), str(out), "--max-gib", str(args.max_gib)],
        stdout=subprocess.PIPE,  # the child's log lines (stderr) go straight through
        text=True,
    )
    wall = time.perf_counter() - t1
    if res.returncode != 0:
        raise SystemExit(res.returncode)
    row = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"# {platform.machine()}, Python {platform.python_version()}, scenario written in {gen:.1f} s")
    print(json.dumps(row))
    print("| phase | ends at s | phase s | peak RSS MiB (so far) |")
    print("|---|---|---|---|")
    prev = 0.0
    for name, at, mib in row["marks"]:
        print(f"| {name} | {at:.1f} | {at - prev:.1f} | {mib:,.0f} |")
        prev = at
    print(
        f"\n{args.areas:,} areas x {args.sites:,} sites x {args.stores:,} stores ({args.objective}): "
        f"{wall:.0f} s wall, peak {max(m for _, _, m in row['marks']):,.0f} MiB, "
        f"gap {100 * row['gap']:.2f} %, {row['pairs']:,} pairs, outputs {row['files_mib']:.1f} MiB"
    )


if __name__ == "__main__":
    main()
