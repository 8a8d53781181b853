"""The revenue / coverage solver alone on the arrays the whole run hands it (issue 13).

``python benchmarks/solver_alone.py dump --areas 100000 --sites 10000 --stores 1000
--objective revenue --out inst.pkl`` writes the scale pipeline's scenario
(:mod:`run_scale_pipeline`), runs the pipeline up to the solver call and pickles the
solver's arguments (the run stops there). ``python benchmarks/solver_alone.py run
inst.pkl --time-limit 120 [--set name=value ...]`` calls the solver on them (``--set``
overrides a keyword, e.g. ``cut_rounds=6``) and prints one JSON line: seconds, peak RSS,
objective, bound, gap and the solver's phases.
"""

from __future__ import annotations

import argparse
import ast
import json
import pickle
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


class _DumpedError(Exception):
    pass


def dump(args: argparse.Namespace) -> None:
    from run_scale_pipeline import write_scenario

    import storeplan.objectives as objectives
    import storeplan.solvers.revenue as rev
    from storeplan.pipeline import solve
    from storeplan.scenario import Scenario

    ns = argparse.Namespace(
        areas=args.areas,
        sites=args.sites,
        stores=args.stores,
        objective=args.objective,
        radius_km=args.radius_km,
        time_limit=60.0,
        jitter_km=3.0,
        market_cap=32,
        neighbours=32,
        site_cap=64,
        seed=0,
    )
    if args.region:
        # a region of the national split: the density of the full instance at a fraction
        # of its size (sites and stores scaled by the region's share of the points)
        import run_scale_pipeline as rsp

        full = rsp.fine_areas

        def regional(n, seed, jitter):
            areas, rivals = full(n, seed, jitter)
            keep = areas["region"].isin(args.region.split(",")).to_numpy()
            share = keep.mean()
            ns.sites = max(1, round(args.sites * share))
            ns.stores = max(1, round(args.stores * share))
            print(f"region {args.region}: {keep.sum():,} areas, {ns.sites:,} sites, {ns.stores:,} stores")
            return areas[keep].reset_index(drop=True), rivals

        rsp.fine_areas = regional
    path = write_scenario(Path(args.work), ns)

    def grab(kind):
        def f(*a, **kw):
            with open(args.out, "wb") as fh:
                pickle.dump({"kind": kind, "args": a, "kwargs": kw}, fh, protocol=5)
            raise _DumpedError

        return f

    rev.revenue = grab("revenue")
    objectives.coverage = grab("coverage")
    try:
        solve(Scenario.from_toml(path))
    except _DumpedError:
        print(f"wrote {args.out}")


def run(args: argparse.Namespace) -> None:
    import numpy as np

    from storeplan.solvers.coverage import coverage
    from storeplan.solvers.revenue import revenue

    with open(args.path, "rb") as fh:
        d = pickle.load(fh)
    kw = dict(d["kwargs"])
    kw["time_limit"] = args.time_limit
    for s in args.set:
        k, v = s.split("=", 1)
        kw[k] = ast.literal_eval(v)
    fn = revenue if d["kind"] == "revenue" else coverage
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    t = time.perf_counter()
    sol = fn(*d["args"], **kw)
    sec = time.perf_counter() - t
    info = sol.info or {}
    out = {
        "kind": d["kind"],
        "set": args.set,
        "seconds": round(sec, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0),
        "objective": sol.objective,
        "bound": sol.bound,
        "gap_pct": round(100 * (sol.bound - sol.objective) / abs(sol.objective), 3),
        "method": sol.method,
        "phases": {k: round(float(v), 1) for k, v in (info.get("phase_seconds") or {}).items()},
        "cut_rounds": [
            [int(r[0]), round(float(r[1]), 1), *map(float, r[2:])] for r in info.get("cut_rounds", [])
        ],
        "info": {
            k: float(v) for k, v in info.items() if np.isscalar(v) and (k.endswith("bound") or k == "capture")
        },
    }
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("dump")
    a.add_argument("--areas", type=int, default=100_000)
    a.add_argument("--sites", type=int, default=10_000)
    a.add_argument("--stores", type=int, default=1_000)
    a.add_argument("--objective", default="revenue")
    a.add_argument("--radius-km", type=float, default=15.0)
    a.add_argument("--work", default="bench-scale")
    a.add_argument("--out", required=True)
    a.add_argument("--region", default="", help="keep these regions (comma-separated) of the split")
    b = sub.add_parser("run")
    b.add_argument("path")
    b.add_argument("--time-limit", type=float, default=120.0)
    b.add_argument("--set", action="append", default=[])
    args = ap.parse_args()
    dump(args) if args.cmd == "dump" else run(args)


if __name__ == "__main__":
    main()
