"""Synthetic plane p-median instances (1,000-6,000 points): storeplan vs peers.

Usage::

    python benchmarks/run_plane.py [--sizes 1000,2000,4000,6000] [--p-per 100]
        [--time-limit 120] [--peers pbp,fasterpam] [--peer-time-limit 120]

Clients = candidate sites = the points of ``plane.plane_points`` (synthetic). There is
no published optimum: the table reports our certified gap (Lagrangian / MIP bound) and
every solver's deviation from the best objective found in this run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, peak_rss_mib, rel, table, timed, warmup  # noqa: E402
from peers import available, run_peer  # noqa: E402
from plane import plane_pmedian  # noqa: E402

from storeplan.solvers import pmedian  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,2000,4000,6000")
    ap.add_argument("--p-per", type=int, default=100, help="p = n / p_per (at least 5)")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--peers", default=",".join(p for p in available() if p in ("pbp", "fasterpam")))
    ap.add_argument("--peer-time-limit", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    warmup()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        d = plane_pmedian(n, args.seed)
        p = max(5, n // args.p_per)
        sol, secs = timed(pmedian, d, p, time_limit=args.time_limit, seed=args.seed)
        group = [
            {
                "instance": f"plane{n}",
                "n": n,
                "p": p,
                "solver": "storeplan",
                "objective": sol.objective,
                "bound": sol.bound,
                "gap %": 100 * sol.gap,
                "proven": sol.proven_optimal,
                "seconds": secs,
                "method": sol.method,
            }
        ]
        print(n, sol.objective, sol.bound, secs, file=sys.stderr, flush=True)
        for peer in [x for x in args.peers.split(",") if x]:
            try:
                r = run_peer(peer, d, p, args.peer_time_limit, seed=args.seed)
            except Exception as exc:  # a failing peer must not stop the benchmark
                r = {"status": f"error: {type(exc).__name__}"}
            r.update(instance=f"plane{n}", n=n, p=p, solver=peer)
            if "seconds" in r:
                r["time ratio peer/ours"] = r["seconds"] / max(secs, 1e-9)
            group.append(r)
        best = min(r.get("objective", float("inf")) for r in group)
        for r in group:
            if "objective" in r:
                r["dev from best %"] = rel(r["objective"], best)
        rows += group
        del d
    print(f"# Synthetic plane p-median ({machine()})\n")
    print(
        table(
            rows,
            [
                "instance",
                "n",
                "p",
                "solver",
                "objective",
                "dev from best %",
                "bound",
                "gap %",
                "proven",
                "status",
                "seconds",
                "time ratio peer/ours",
                "method",
            ],
        )
    )
    print(f"\npeak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
