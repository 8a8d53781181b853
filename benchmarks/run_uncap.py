"""OR-Library uncapacitated facility location benchmark (cap71-134, capa/b/c).

Usage::

    python benchmarks/run_uncap.py [--orlib-dir DIR] [--time-limit 300] [--peer-time-limit 60]

Prints a markdown table: instance, m x n, our objective, best known, deviation,
certified gap, proven, seconds; plus the textbook HiGHS MIP (classical strong
formulation, no reduction) on the same instances with time ratios from this run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import machine, orlib_arg, peak_rss_mib, rel, table, timed, warmup  # noqa: E402

from storeplan.solvers import facility_location  # noqa: E402
from storeplan.solvers._validate import as_sorted_csr  # noqa: E402
from storeplan.solvers.constraints import prepare  # noqa: E402
from storeplan.solvers.mip import solve_min_mip  # noqa: E402
from storeplan.solvers.orlib import read_optima, read_uncap  # noqa: E402

NAMES = [f"cap{k}" for k in (71, 72, 73, 74, 101, 102, 103, 104, 131, 132, 133, 134)] + [
    "capa",
    "capb",
    "capc",
]


def textbook(cost: np.ndarray, f: np.ndarray, time_limit: float):
    n, m, ip, ix, v = as_sorted_csr(cost)
    side = prepare(None, m, 0, m)
    r = solve_min_mip(
        ip,
        ix,
        v,
        np.full(n, np.inf),
        f,
        side,
        0,
        m,
        np.ones(v.shape[0], dtype=bool),
        np.zeros(n, dtype=bool),
        np.zeros(m, np.int8),
        time_limit=time_limit,
        warm_sites=None,
    )
    if r.y is None:
        return float("nan"), r.status
    return float(f[r.y].sum() + cost[:, r.y].min(axis=1).sum()), r.status


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    orlib_arg(ap)
    ap.add_argument("--instances", default=",".join(NAMES))
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--peer-time-limit", type=float, default=60.0)
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args(argv)
    opt = read_optima(args.orlib_dir / "uncap" / "uncapopt.txt")
    warmup()
    rows, peer_rows = [], []
    for name in args.instances.split(","):
        cost, f, _ = read_uncap(args.orlib_dir / "uncap" / f"{name}.txt")
        sol, secs = timed(facility_location, cost, f, time_limit=args.time_limit)
        best = opt.get(name, float("nan"))
        rows.append(
            {
                "instance": name,
                "m x n": f"{cost.shape[1]} x {cost.shape[0]}",
                "best known": best,
                "ours": sol.objective,
                "dev %": rel(sol.objective, best),
                "gap %": 100 * sol.gap,
                "proven": sol.proven_optimal,
                "open": sol.n_sites,
                "seconds": secs,
                "method": sol.method,
            }
        )
        print(name, sol.objective, secs, file=sys.stderr, flush=True)
        if not args.no_peers:
            (obj, status), psecs = timed(textbook, cost, f, args.peer_time_limit)
            peer_rows.append(
                {
                    "instance": name,
                    "peer": "highs (textbook MIP)",
                    "objective": obj,
                    "dev %": rel(obj, best),
                    "status": status,
                    "seconds": psecs,
                    "time ratio peer/ours": psecs / max(secs, 1e-9),
                }
            )
    print(f"# Uncapacitated facility location, OR-Library ({machine()})\n")
    print(
        table(
            rows,
            [
                "instance",
                "m x n",
                "best known",
                "ours",
                "dev %",
                "gap %",
                "proven",
                "open",
                "seconds",
                "method",
            ],
        )
    )
    n_opt = sum(abs(r["dev %"]) < 1e-6 for r in rows)
    n_proven = sum(bool(r["proven"]) for r in rows)
    print(
        f"\nours: {n_opt}/{len(rows)} at the best known value (1e-6 %), {n_proven}/{len(rows)} "
        f"proven, total {sum(r['seconds'] for r in rows):.1f} s, peak RSS "
        f"{peak_rss_mib():.0f} MiB\n"
    )
    if peer_rows:
        print(
            table(
                peer_rows,
                ["instance", "peer", "objective", "dev %", "status", "seconds", "time ratio peer/ours"],
            )
        )


if __name__ == "__main__":
    main()
