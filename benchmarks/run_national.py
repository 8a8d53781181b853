"""National-scale p-median and maximal covering on synthetic sparse instances.

Usage::

    python benchmarks/run_national.py [--clients 100000] [--sites 10000] [--p 1000]
        [--radius-km 30] [--k 5] [--max-sites-per-area N] [--models pmedian,coverage]
        [--coverage-radius-km 10] [--time-limit 300] [--max-gib 12] [--seed 0]

    # the 10^6 x 10^5 x 10^4 instance of issue 13 (k-limited, no radius):
    python benchmarks/run_national.py --clients 1000000 --sites 100000 --p 10000 \\
        --radius-km 0 --k 32

The network is built by the library's chunked :meth:`storeplan.geo.Network.build`
(see ``plane.national``), with ``unserved_cost`` = each client's largest stored
distance, so the sparse model is a relaxation of the dense one and its bound is valid
for it. Prints, per phase (instance build, each model), wall seconds and the phase's own
peak RSS (``VmHWM`` reset before the phase), plus objective, bound and certified gap.
The process's address space is capped at ``--max-gib`` (RLIMIT_AS) so that a runaway
run fails with MemoryError on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    limit_memory,
    machine,
    peak_rss_mib,
    phase_peak_rss_mib,
    reset_peak_rss,
    table,
    warmup,
)
from plane import national  # noqa: E402

from storeplan.solvers import coverage, pmedian  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--p", type=int, default=1000)
    ap.add_argument("--radius-km", type=float, default=30.0, help="0: no radius (k nearest only)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--max-sites-per-area", type=int, default=None)
    ap.add_argument("--models", default="pmedian,coverage")
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--coverage-radius-km", type=float, default=10.0)
    ap.add_argument("--max-gib", type=float, default=12.0, help="address-space cap, GiB (0: none)")
    args = ap.parse_args(argv)
    limit_memory(args.max_gib)
    warmup()
    rows = []
    reset_peak_rss()
    t = time.perf_counter()
    radius = args.radius_km if args.radius_km > 0 else None
    cost, w, rowmax, net = national(
        args.clients,
        args.sites,
        radius_km=radius,
        k=args.k,
        max_sites_per_area=args.max_sites_per_area,
        seed=args.seed,
    )
    rows.append(
        {
            "phase": "instance (Network.build + weights)",
            "seconds": time.perf_counter() - t,
            "peak RSS MiB": phase_peak_rss_mib(),
        }
    )
    print(
        f"# national {args.clients:,} x {args.sites:,}, p = {args.p:,} ({machine()})\n\n"
        f"stored pairs {net.nnz:,} ({net.nbytes / 2**20:.0f} MiB CSR; radius "
        f"{radius} km, k = {args.k}, cap {args.max_sites_per_area}, capped areas "
        f"{net.n_capped:,}); time limit {args.time_limit:g} s per model",
        flush=True,
    )
    del net
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for model in models:
        reset_peak_rss()
        t = time.perf_counter()
        if model == "pmedian":
            sol = pmedian(
                cost, args.p, weights=w, unserved_cost=rowmax, time_limit=args.time_limit, seed=args.seed
            )
            label = "p-median"
        elif model == "coverage":
            sol = coverage(
                cost, args.p, args.coverage_radius_km, weights=w, time_limit=args.time_limit, seed=args.seed
            )
            label = f"max covering r={args.coverage_radius_km:g} km"
        else:
            raise SystemExit(f"unknown model {model!r}")
        rows.append(
            {
                "phase": label,
                "seconds": time.perf_counter() - t,
                "peak RSS MiB": phase_peak_rss_mib(),
                "objective": sol.objective,
                "bound": sol.bound,
                "gap %": 100 * sol.gap,
                "iterations": sol.iterations,
                "unserved clients": int((sol.assignment < 0).sum()),
                "method": sol.method,
                "phases": ", ".join(f"{k} {v:.1f}" for k, v in sol.info.items() if k.endswith("_s")),
            }
        )
        print(f"{label}: done in {rows[-1]['seconds']:.1f} s, gap {100 * sol.gap:.3f} %", flush=True)
    print()
    print(
        table(
            rows,
            [
                "phase",
                "seconds",
                "peak RSS MiB",
                "objective",
                "bound",
                "gap %",
                "iterations",
                "unserved clients",
                "method",
                "phases",
            ],
        )
    )
    print(f"\nwhole-process peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
