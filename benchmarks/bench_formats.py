"""Format choice on the default China three-year job: solver-chosen formats vs the fixed
level rule, with and without region quotas (issue 10 benchmarks).

Run ``python benchmarks/bench_formats.py`` (writes ``benchmarks/RESULTS_formats.md`` with
``--write``). Every variant runs ``storeplan.pipeline.solve`` on the bundled
``china_three_years.toml`` (1,000 stores, revenue objective, three-year rollout) in its
own subprocess, after a warm-up run in that subprocess so that Numba compilation is not
timed; the variants differ only in ``objective.choose_format`` and the region quotas:

* ``rule``: the format follows the area level (city: flagship, township: partner,
  else standard), as shipped;
* ``choose``: the solver chooses every store's format among those its site allows
  (each (site, format) pair a candidate, one per site; the bound covers the choice);
* ``+quotas``: at least ``min(15, sites // 4)`` and at most 150 new stores in every
  region (province) with at least 8 candidate sites;
* ``+categories``: the formats' attractiveness per product category
  (:data:`CATEGORY_ATTRACTIVENESS`: the flagship shows TVs and home devices more, a partner
  store sells no TVs), so the market has one Huff share per (category, area) pair.

Columns: plan objective (captured revenue net of yearly fixed costs, CNY/yr), certified
bound and gap, stores per format, opening capital of the plan (CNY), wall-clock seconds
of the whole job (market, network, solve, evaluation, rollout) and of the solve phase,
each also as a ratio to ``rule``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {
    "rule": {"choose": False, "quotas": False},
    "choose": {"choose": True, "quotas": False},
    "rule+quotas": {"choose": False, "quotas": True},
    "choose+quotas": {"choose": True, "quotas": True},
    "choose+categories": {"choose": True, "quotas": False, "categories": True},
}

#: Multipliers of the formats' attractiveness per category for ``+categories``.
CATEGORY_ATTRACTIVENESS = {
    "flagship": {"tv_home": 2.0, "smart_home": 1.5},
    "partner": {"tv_home": 0.0, "smart_home": 0.5},
}


def _scenario(choose: bool, quotas: bool, time_limit: float | None, categories: bool = False):
    from storeplan.cli import demo_scenario_path
    from storeplan.scenario import Scenario

    path = demo_scenario_path("three-years")
    over: dict = {"objective": {"choose_format": choose}}
    if time_limit is not None:
        over["options"] = {"time_limit": time_limit}
    if categories:
        base = Scenario.from_toml(path)
        over["formats"] = [
            f.model_copy(
                update={"category_attractiveness": CATEGORY_ATTRACTIVENESS.get(f.name, {})}
            ).model_dump()
            for f in base.formats
        ]
    scn = Scenario.from_toml(path, **over)
    if quotas:
        counts = scn.sites["region"].dropna().astype(str).value_counts()
        counts = counts[counts >= 8]
        quota = {
            "column": "region",
            "min": {r: int(min(15, n // 4)) for r, n in counts.items()},
            "max": dict.fromkeys(counts.index, 150),
        }
        scn = Scenario.from_toml(path, **over, constraints={"min_spacing_km": 5, "quotas": [quota]})
    return scn


def run_one(name: str, time_limit: float | None) -> dict:
    """Solve one variant (after an untimed warm-up on the year-one scenario)."""
    import warnings

    from storeplan.cli import demo_scenario_path
    from storeplan.pipeline import solve
    from storeplan.scenario import Scenario

    warnings.simplefilter("ignore")
    v = VARIANTS[name]
    warm = Scenario.from_toml(
        demo_scenario_path("year-one"),
        objective={"choose_format": v["choose"], "stores": 20},
        options={"time_limit": 5},
    )
    solve(warm)
    scn = _scenario(v["choose"], v["quotas"], time_limit, bool(v.get("categories")))
    t0 = time.perf_counter()
    plan = solve(scn)
    seconds = time.perf_counter() - t0
    m = plan.metrics
    new = plan.stores[plan.stores["status"] == "new"]
    out = {
        "variant": name,
        "objective": float(m["objective"]),
        "bound": float(m["bound"]),
        "gap": float(m["gap"]),
        "proven": bool(m["proven_optimal"]),
        "seconds": seconds,
        "solve_seconds": float(m["solve_seconds"]),
        "n_new": int(len(new)),
        "formats": {str(k): int(c) for k, c in new["format"].value_counts().sort_index().items()},
        "opening_cost": float(new["opening_cost"].sum()),
        "method": plan.solution.method,
    }
    if v["quotas"]:
        q = scn.constraints.quotas[0]
        got = new["region"].astype(str).value_counts()
        out["quota_violations"] = int(
            sum(got.get(r, 0) < lo for r, lo in q.min.items())
            + sum(got.get(r, 0) > hi for r, hi in q.max.items())
        )
        out["quota_regions"] = len(q.min)
    if plan.schedule is not None:
        out["opened_per_year"] = [int(x) for x in plan.schedule.opened_per_year()]
    return out


def table(rows: list[dict]) -> str:
    base = next(r for r in rows if r["variant"] == "rule")
    lines = [
        "| variant | objective (bn CNY/yr) | bound (bn) | gap | stores by format | opening capital (bn CNY) "
        "| job s | job / rule | solve s | solve / rule |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fm = ", ".join(f"{k} {v}" for k, v in r["formats"].items())
        job = r["seconds"] / base["seconds"]
        sol = r["solve_seconds"] / max(base["solve_seconds"], 1e-9)
        cells = [
            r["variant"],
            f"{r['objective'] / 1e9:.3f}",
            f"{r['bound'] / 1e9:.3f}",
            f"{100 * r['gap']:.2f} %",
            fm,
            f"{r['opening_cost'] / 1e9:.2f}",
            f"{r['seconds']:.0f}",
            f"{job:.2f}",
            f"{r['solve_seconds']:.1f}",
            f"{sol:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=list(VARIANTS), action="append")
    ap.add_argument("--time-limit", type=float, default=None, help="override options.time_limit (s)")
    ap.add_argument("--write", action="store_true", help="write benchmarks/RESULTS_formats.md")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.time_limit)))
        return
    rows = []
    for name in args.only or list(VARIANTS):
        cmd = [sys.executable, __file__, "--child", name]
        if args.time_limit is not None:
            cmd += ["--time-limit", str(args.time_limit)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    text = table(rows)
    print(text)
    if args.write:
        head = (
            "# Format choice on the default China three-year job\n\n"
            f"`python benchmarks/bench_formats.py --write` on {platform.machine()} with {os.cpu_count()} "
            "CPUs, **shared with other jobs during the run** (timings are noisy; compare the ratios, "
            "which come from the same run). Each variant runs in its own process after an untimed "
            "warm-up; the scenario's `options.time_limit` (30 s per solver phase) applies.\n\n"
        )
        body = "\n\n```json\n" + "\n".join(json.dumps(r) for r in rows) + "\n```\n"
        Path(__file__).with_name("RESULTS_formats.md").write_text(head + text + "\n" + body, encoding="utf-8")


if __name__ == "__main__":
    main()
