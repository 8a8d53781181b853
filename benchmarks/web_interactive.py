"""How fast the web app's page is interactive on the default plan, in real chromium.

Measures, for a finished run of the bundled default scenario (dataset version 3: 41,719
areas, 1,000 stores, 66,628 rival rows; version 2 had 16,322 areas and 29,894 rival rows), the time from
navigation to the map drawn and clickable (the page sets ``body[data-ready=1]`` once the
plan's layers are drawn and its store markers take clicks; ``performance.now()`` at that
moment, i.e. since the navigation started), then
the time from a click on a store to its card, and the size of the map payload (raw and
gzipped, as the server sends it). Every load uses a fresh browser context (no cache).

Usage::

    python benchmarks/web_interactive.py [--data-dir DIR] [--runs 5] [--cpu-throttle 4] [--out FILE]

Without ``--data-dir`` holding a finished default run, the default scenario is run
first through the app's API (minutes). Needs Debian's chromium (``/usr/bin/chromium``)
and Playwright (``pip install "storeplan[web]"``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_run(data_dir: Path) -> str:
    """The id of a finished default-scenario run in ``data_dir`` (run it when missing)."""
    from storeplan.web.store import JobStore

    store = JobStore(data_dir / "jobs.sqlite")
    for job in store.list():
        if job.status == "done" and job.source == "bundled:three-years" and not job.inputs.get("pins"):
            return job.id
    from fastapi.testclient import TestClient

    from storeplan.web import WebSettings, create_app

    print("running the default scenario first (minutes)...", flush=True)
    with TestClient(create_app(WebSettings(data_dir=data_dir))) as c:
        job = c.post("/api/jobs", json={"scenario": "bundled:three-years"}).json()
        while job["status"] not in ("done", "failed", "cancelled"):
            time.sleep(1.0)
            job = c.get(f"/api/jobs/{job['id']}").json()
    if job["status"] != "done":
        raise SystemExit(f"the default run {job['status']}: {job.get('error')}")
    return job["id"]


def _stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("bench-web-data"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="also write the table here (Markdown)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--shot", type=Path, default=None, help="save a screenshot of the last load here (PNG)")
    ap.add_argument(
        "--cpu-throttle",
        type=float,
        default=1.0,
        help="slow the page's CPU down this many times (Chromium's emulation; 4: a loaded machine)",
    )
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    data_dir = a.data_dir.resolve()
    job_id = _default_run(data_dir)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "storeplan.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    rows = []
    marks: list[dict[str, float]] = []
    try:
        while url not in (proc.stdout.readline() if proc.stdout else url):
            if proc.poll() is not None:
                raise SystemExit("storeplan serve exited")
        raw = urllib.request.urlopen(f"{url}api/jobs/{job_id}/map.bin").read()
        req = urllib.request.Request(f"{url}api/jobs/{job_id}/map.bin", headers={"Accept-Encoding": "gzip"})
        sent = len(urllib.request.urlopen(req).read())
        layers = json.loads(urllib.request.urlopen(f"{url}api/jobs/{job_id}/map").read())
        urllib.request.urlopen(f"{url}api/basemap").read()  # built once, cached on disk
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, args=ARGS)
            for k in range(a.runs + 1):  # the first load warms the server and the OS caches
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                page = ctx.new_page()
                if a.cpu_throttle > 1:
                    cdp = ctx.new_cdp_session(page)
                    cdp.send("Emulation.setCPUThrottlingRate", {"rate": a.cpu_throttle})
                t0 = time.perf_counter()
                page.goto(f"{url}?job={job_id}")
                page.wait_for_selector("body[data-ready='1']", timeout=120_000)
                wall = time.perf_counter() - t0
                ready = page.evaluate("window.storeplan.timing.ready_ms") / 1000
                markers = page.evaluate("window.storeplan.view.layers.stores.drawn")
                areas = int(page.get_attribute("#map", "data-areas"))
                rivals = int(page.get_attribute("#map", "data-rivals"))
                # click the first store where Leaflet drew it (the map stays at its fitted view)
                xy = page.evaluate(
                    """() => { const v = window.storeplan.view, S = window.storeplan.data.stores;
                       const p = v.map.latLngToContainerPoint([S.lat[0], S.lon[0]]);
                       const r = document.getElementById('map').getBoundingClientRect();
                       return [r.left + p.x, r.top + p.y]; }"""
                )
                t1 = time.perf_counter()
                page.mouse.click(xy[0], xy[1])
                page.wait_for_selector("#store-card:not([hidden])", timeout=30_000)
                click = time.perf_counter() - t1
                if k:
                    rows.append((ready, wall, click, markers, areas, rivals))
                    marks.append(page.evaluate("window.storeplan.timing"))
                if a.shot is not None and k == a.runs:
                    page.screenshot(path=str(a.shot))
                print(
                    f"load {k}: ready {ready:.2f} s (wall {wall:.2f} s), click->card {click:.2f} s,"
                    f" markers {markers}, areas drawn {areas}, rivals drawn {rivals}",
                    flush=True,
                )
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ready = [r[0] for r in rows]
    click = [r[2] for r in rows]
    n = layers["areas"]["n"], layers["stores"]["n"], layers["rivals"]["n"]
    phases = ("script", "jobs_listed", "plan_fetched", "map_drawn", "panels_filled", "form_filled")
    marks_row = " | ".join(
        f"{statistics.median(m.get(f'{ph}_ms', float('nan')) for m in marks) / 1000:.2f}" for ph in phases
    )
    throttle = f" --cpu-throttle {a.cpu_throttle:g}" if a.cpu_throttle > 1 else ""
    text = f"""`python benchmarks/web_interactive.py --runs {a.runs}{throttle}` on {date.today().isoformat()}:
{platform.machine()} Linux ({os.cpu_count()} cores, **shared with other jobs**), Python
{platform.python_version()}, Debian's chromium (headless, Playwright with `executable_path`),
`storeplan serve` on 127.0.0.1. A finished run of the bundled default scenario: {n[0]:,} areas,
{n[1]:,} stores, {n[2]:,} rivals. Each load is a fresh browser context (no cache); one
warm-up load first.

| measure | median | min | max | target |
|---|---|---|---|---|
| navigation -> map drawn and clickable (`body[data-ready]`, s) | {_stats(ready)} | 2 s |
| click on a store -> its card shown (s) | {_stats(click)} | |

Timing marks of the page (median, s since navigation): | {" | ".join(phases)} |
| {marks_row} |

- Map payload (`/api/jobs/ID/map.bin`, typed columns): {len(raw) / 1e6:.2f} MB raw,
  {sent / 1e6:.2f} MB as sent.
- Drawn: {rows[-1][3]:,} stores, {rows[-1][4]:,} areas and {rows[-1][5]:,} rivals inside the first view.
"""
    if a.out is not None:
        a.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
