"""Joint (site x year) rollout vs sequencing the single-year plan, on a bundled scenario.

Run ``python benchmarks/bench_rollout.py`` (default: the demo, ``china_three_years``) or
``--scenario china_year_one``. The same scenario is solved twice
in this process, once with ``rollout.universe = "plan"`` (the single-year plan is chosen,
then sequenced) and once with ``"candidates"`` (the joint rollout: sites and years chosen
together from every candidate, seeded with the single-year plan). Columns: the rollout's
NPV, its upper bound and gap, new stores per year, capex per year, the single-year
plan's sites kept, the schedule's own time and the whole solve's time (seconds, on this
machine; the two rows run back to back, so their ratio is what to read).
"""

from __future__ import annotations

import argparse
import time
import warnings
from importlib import resources
from pathlib import Path

from storeplan.errors import StoreplanWarning
from storeplan.pipeline import solve
from storeplan.scenario import Scenario


def _run(path: Path, universe: str) -> dict:
    scn = Scenario.from_toml(path, rollout={"universe": universe})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreplanWarning)
        plan = solve(scn)
    seconds = time.perf_counter() - t0
    r = plan.metrics.rollout
    s = plan.schedule
    return {
        "universe": universe,
        "npv": r.npv,
        "bound": r.npv_bound,
        "gap": r.npv_gap,
        "opened": "/".join(map(str, r.opened_per_year)),
        "capex": "/".join(f"{c / 1e9:.2f}" for c in r.capex_per_year),
        "stores": int(plan.metrics["n_new_stores"]),
        "objective": float(plan.metrics["objective"]),
        "schedule_s": float(s.seconds),
        "total_s": seconds,
        "method": s.method,
        "bound_method": s.bound_method,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="china_three_years")
    args = ap.parse_args()
    path = Path(str(resources.files("storeplan") / "scenarios" / f"{args.scenario}.toml"))
    rows = [_run(path, u) for u in ("plan", "candidates")]
    print(
        "| universe | NPV (bn) | bound (bn) | gap | new stores per year | capex per year (bn) | "
        "single-year objective (bn/yr) | schedule (s) | solve total (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['universe']} | {r['npv'] / 1e9:.3f} | {r['bound'] / 1e9:.3f} | {100 * r['gap']:.1f} % | "
            f"{r['opened']} | {r['capex']} | {r['objective'] / 1e9:.3f} | {r['schedule_s']:.1f} | "
            f"{r['total_s']:.1f} |"
        )
    for r in rows:
        print(f"- {r['universe']}: {r['method']}; bound: {r['bound_method']}")


if __name__ == "__main__":
    main()
