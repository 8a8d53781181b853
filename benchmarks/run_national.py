"""National-scale p-median: 100,000 clients x 10,000 candidates, p = 1,000 (synthetic).

Usage::

    python benchmarks/run_national.py [--clients 100000] [--sites 10000] [--p 1000]
        [--radius-km 30] [--time-limit 300] [--seed 0]

The instance is sparse and radius-limited (see ``plane.national``), with
``unserved_cost`` = each client's largest stored distance. Prints instance size,
objective, Lagrangian lower bound, certified gap, seconds per phase and peak memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, peak_rss_mib, table, warmup  # noqa: E402
from plane import national  # noqa: E402

from storeplan.solvers import coverage, pmedian  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--p", type=int, default=1000)
    ap.add_argument("--radius-km", type=float, default=30.0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--coverage-radius-km", type=float, default=10.0)
    args = ap.parse_args(argv)
    warmup()
    t = time.perf_counter()
    cost, w, rowmax = national(args.clients, args.sites, radius_km=args.radius_km, seed=args.seed)
    t_build = time.perf_counter() - t
    rss_build = peak_rss_mib()
    rows = []
    sol = pmedian(cost, args.p, weights=w, unserved_cost=rowmax, time_limit=args.time_limit, seed=args.seed)
    rows.append(
        {
            "model": "p-median",
            "objective": sol.objective,
            "bound": sol.bound,
            "gap %": 100 * sol.gap,
            "seconds": sol.seconds,
            "iterations": sol.iterations,
            "method": sol.method,
            "unserved clients": int((sol.assignment < 0).sum()),
        }
    )
    rss_pm = peak_rss_mib()
    sol_c = coverage(
        cost, args.p, args.coverage_radius_km, weights=w, time_limit=args.time_limit, seed=args.seed
    )
    rows.append(
        {
            "model": f"max covering r={args.coverage_radius_km:g} km",
            "objective": sol_c.objective,
            "bound": sol_c.bound,
            "gap %": 100 * sol_c.gap,
            "seconds": sol_c.seconds,
            "iterations": sol_c.iterations,
            "method": sol_c.method,
            "unserved clients": int((sol_c.assignment < 0).sum()),
        }
    )
    print(f"# National-scale synthetic instance ({machine()})\n")
    print(
        f"clients {cost.shape[0]:,}, candidate sites {cost.shape[1]:,}, p = {args.p}, "
        f"stored pairs {cost.nnz:,} (radius {args.radius_km:g} km + 5 nearest), "
        f"instance build {t_build:.1f} s, time limit {args.time_limit:g} s per model\n"
    )
    print(
        table(
            rows,
            ["model", "objective", "bound", "gap %", "seconds", "iterations", "unserved clients", "method"],
        )
    )
    print(
        "\nphase seconds (p-median): "
        + ", ".join(f"{k} {v:.1f}" for k, v in sol.info.items() if k.endswith("_s"))
    )
    print(
        f"\npeak RSS: {rss_build:.0f} MiB after building the instance, {rss_pm:.0f} MiB "
        f"after p-median, {peak_rss_mib():.0f} MiB at the end"
    )


if __name__ == "__main__":
    main()
