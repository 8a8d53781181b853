"""Benchmark competitive (Huff) site selection on seeded synthetic instances.

Run ``python benchmarks/bench_revenue.py`` (all instances) or ``--only NAME``. Every
instance runs in its own subprocess so that the reported peak memory (max RSS of that
process: data, network, market, solver and Numba runtime) belongs to it alone. The points
are synthetic (seeded): areas clustered around "cities" over a ~1,500 x 1,400 km region
of southern China plus uniformly scattered "townships"; candidates, rivals and our
existing stores sit near areas.

Columns: areas, candidates, p (sites opened), rivals, pairs (stored area-store pairs), build (s: network
+ market), solve (s: greedy + swaps + bound), objective and bound (our yearly offline
capture, currency per year), gap (relative), seconds (build + solve), peak memory (MiB).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

INSTANCES = {
    # name: (areas, candidates, p, rivals, existing); p = 0: budget mode (see BUDGET)
    "small-2k": (2_000, 300, 20, 400, 10),
    "county-16k": (16_000, 2_000, 200, 3_000, 50),
    "county-16k-budget": (16_000, 2_000, 0, 3_000, 50),
    "national-100k": (100_000, 10_000, 1_000, 5_000, 100),
}

#: Budget mode: opening cost per site uniform in [1, 3] M, budget 400 M, yearly fixed
#: cost 5 M per site (currency units; synthetic).
BUDGET = {"opening": (1e6, 3e6), "budget": 4e8, "fixed": 5e6}


def make_instance(n_areas: int, n_cand: int, n_rivals: int, n_existing: int, seed: int = 0):
    """Seeded synthetic areas / sites / existing / rivals tables (canonical schemas)."""
    rng = np.random.default_rng(seed)
    n_cities = max(5, n_areas // 250)
    c_lon = rng.uniform(105.0, 120.0, n_cities)
    c_lat = rng.uniform(22.0, 35.0, n_cities)
    n_cl = int(0.7 * n_areas)
    which = rng.integers(0, n_cities, n_cl)
    lon = np.r_[c_lon[which] + rng.normal(0, 0.15, n_cl), rng.uniform(105, 120, n_areas - n_cl)]
    lat = np.r_[c_lat[which] + rng.normal(0, 0.15, n_cl), rng.uniform(22, 35, n_areas - n_cl)]
    level = np.r_[rng.choice(["city", "county"], n_cl, p=[0.6, 0.4]), np.full(n_areas - n_cl, "township")]
    pop = rng.lognormal(9.5, 0.9, n_areas)
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n_areas)],
            "lon": lon,
            "lat": lat,
            "population": pop,
            "level": level,
            "income": rng.lognormal(10.4, 0.4, n_areas),
            "online_orders": rng.poisson(pop * 0.01).astype(float),
        }
    )

    def near(k):
        idx = rng.integers(0, n_areas, k)
        return lon[idx] + rng.normal(0, 0.01, k), lat[idx] + rng.normal(0, 0.01, k)

    s_lon, s_lat = near(n_cand)
    sites = pd.DataFrame({"id": [f"s{j}" for j in range(n_cand)], "lon": s_lon, "lat": s_lat})
    r_lon, r_lat = near(n_rivals)
    rivals = pd.DataFrame(
        {
            "id": [f"r{j}" for j in range(n_rivals)],
            "brand": rng.choice(["BrandA", "BrandB", "BrandC"], n_rivals),
            "lon": r_lon,
            "lat": r_lat,
        }
    )
    e_lon, e_lat = near(n_existing)
    existing = pd.DataFrame(
        {
            "id": [f"e{j}" for j in range(n_existing)],
            "lon": e_lon,
            "lat": e_lat,
            "format": rng.choice(["flagship", "standard"], n_existing),
        }
    )
    return areas, sites, existing, rivals


def run_one(name: str, seed: int = 0, time_limit: float = 240.0) -> dict:
    from storeplan.market import MarketParams, build_market, select_sites

    n_areas, n_cand, p, n_rivals, n_existing = INSTANCES[name]
    areas, sites, existing, rivals = make_instance(n_areas, n_cand, n_rivals, n_existing, seed)
    t0 = time.perf_counter()
    params = MarketParams(brand_attractiveness={"BrandA": 1.2, "BrandB": 1.0, "BrandC": 0.8})
    mk = build_market(areas, sites, existing=existing, rivals=rivals, params=params)
    t1 = time.perf_counter()
    if p:
        sol = select_sites(mk, p, seed=seed, time_limit=time_limit)
    else:
        cost = np.random.default_rng(seed + 1).uniform(*BUDGET["opening"], n_cand)
        sol = select_sites(
            mk,
            None,
            opening_cost=cost,
            budget=BUDGET["budget"],
            fixed_cost=BUDGET["fixed"],
            seed=seed,
            time_limit=time_limit,
        )
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB -> MiB (Linux)
    return {
        "instance": name,
        "areas": n_areas,
        "candidates": n_cand,
        "p": len(sol.sites),
        "rivals": n_rivals,
        "pairs": mk.net.nnz,
        "build_s": t1 - t0,
        "solve_s": t2 - t1,
        "objective": sol.objective,
        "bound": sol.bound,
        "gap": sol.gap,
        "greedy_gap": (sol.bound - sol.info["greedy_objective"]) / sol.objective,
        "seconds": t2 - t0,
        "peak_mib": peak,
        "method": sol.method,
        "iterations": sol.iterations,
        "sweeps": sol.info["sweeps"],
    }


def _warm() -> None:
    """Compile (or load cached) Numba kernels so timings exclude JIT compilation."""
    from storeplan.market import build_market, select_sites

    a, s, e, r = make_instance(200, 30, 20, 3, seed=1)
    select_sites(build_market(a, s, existing=e, rivals=r), 3)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(INSTANCES), action="append")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _warm()
        print(json.dumps(run_one(args.child, args.seed)))
        return
    rows = []
    for name in args.only or list(INSTANCES):
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "--seed", str(args.seed)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    head = (
        "| instance | areas | candidates | p | rivals | pairs | build s | solve s | objective"
        " | bound | gap | greedy gap | seconds | peak MiB |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        print(
            f"| {r['instance']} | {r['areas']:,} | {r['candidates']:,} | {r['p']:,} | "
            f"{r['rivals']:,} | {r['pairs']:,} | {r['build_s']:.1f} | {r['solve_s']:.1f} | "
            f"{r['objective']:.4e} | {r['bound']:.4e} | {r['gap']:.2%} | "
            f"{r['greedy_gap']:.2%} | {r['seconds']:.1f} | {r['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
