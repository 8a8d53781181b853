"""How fast the web app answers a re-plan (pin a site, ban one) of the default plan.

Through the app's API, as the page does it: ``POST /api/jobs/ID/replan`` with one ban (a
store of the plan) and one pin (its best alternative nearby from ``why_here.csv``), on a
finished run of the bundled default scenario (16k areas, 1,000 stores, 3,650 rivals).
"Answered" is the wall time from the request to the job being ``done`` (plan, map,
headline and store cards readable by the page); the worker writes the report and the
"why here" column afterwards. Each re-plan is warm-started from the parent (its plan and
bound, its rollout schedule) and waits until the previous one's report is written.

Usage::

    python benchmarks/web_replan.py [--data-dir DIR] [--runs 3]

Prints a Markdown table (per phase seconds from the job's timings) and checks that the
pin is opened, the ban is not and bound >= objective (maximisation).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

PHASES = ("load", "market", "network", "solve", "rollout", "evaluate", "curve", "save")


def main() -> None:
    from fastapi.testclient import TestClient
    from web_interactive import _default_run

    from storeplan.web import WebSettings, create_app

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("bench-web-data"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    data_dir = a.data_dir.resolve()
    parent = _default_run(data_dir)
    out = data_dir / "jobs" / parent / "out"
    why = pd.read_csv(out / "why_here.csv", dtype={"id": str, "alternative_id": str}).dropna(
        subset=["alternative_id"]
    )
    rows = []
    with TestClient(create_app(WebSettings(data_dir=data_dir))) as c:
        time.sleep(5.0)  # the spare worker imports the solver stack, as in a running server
        for k in range(a.runs):
            ban, pin = str(why["id"].iloc[k]), str(why["alternative_id"].iloc[k])
            t0 = time.perf_counter()
            job = c.post(f"/api/jobs/{parent}/replan", json={"pins": [pin], "bans": [ban]}).json()
            while job["status"] not in ("done", "failed", "cancelled"):
                time.sleep(0.05)
                job = c.get(f"/api/jobs/{job['id']}").json()
            answered = time.perf_counter() - t0
            if job["status"] != "done":
                raise SystemExit(f"re-plan {job['status']}: {job.get('error')}")
            s = dict(job["summary"])
            renamed = (("objective_value", "objective"), ("bound_value", "bound"), ("gap_share", "gap"))
            for new, old in renamed:  # summaries written before the comparison columns
                s.setdefault(new, s.get(old))
            layers = c.get(f"/api/jobs/{job['id']}/map").json()
            ids = set(layers["stores"]["id"])
            ok = pin in ids and ban not in ids and s["bound_value"] >= s["objective_value"]
            t = job["timings"]
            rows.append((answered, t, s, ok))
            print(
                f"re-plan {k}: answered in {answered:.2f} s, timings {t}, pin/ban/bound ok {ok}", flush=True
            )
            while c.get(f"/api/jobs/{job['id']}/summary").json().get("pending"):
                time.sleep(0.5)  # the report and "why here" of this re-plan are written
    print()
    print(
        "| re-plan | answered (wall s) | "
        + " | ".join(PHASES)
        + " | objective | bound | gap | pin in, ban out, bound >= objective |"
    )
    print("|---" * (len(PHASES) + 6) + "|")
    for k, (answered, t, s, ok) in enumerate(rows):
        cells = " | ".join(f"{t.get(p, 0.0):.2f}" for p in PHASES)
        print(
            f"| {k + 1} | {answered:.2f} | {cells} | {s['objective_value']:.6g} | {s['bound_value']:.6g} | "
            f"{100 * s['gap_share']:.2f} % | {'yes' if ok else 'NO'} |"
        )
    print(f"\nmedian answered: {statistics.median(r[0] for r in rows):.2f} s")


if __name__ == "__main__":
    main()
