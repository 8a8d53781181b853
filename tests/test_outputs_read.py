"""What a reader sees: the PDF's first page and the map at 1280 x 720 in Chromium.

A real plan (the bundled three-year scenario on Hainan, 10 stores, with its rollout) is
solved and saved; then

* the PDF's first page carries the synthetic-data warning and the GeoNames CC BY 4.0
  credit, every page has one size, and one page is the map;
* headless Chromium (offline) opens ``map.html`` at 1280 x 720: the province-outline
  basemap is drawn, and the legend and the layer panel cover few of the store markers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("folium")
pytest.importorskip("matplotlib")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    from storeplan import Scenario, solve
    from storeplan.cli import demo_scenario_path

    scn = Scenario.from_toml(
        demo_scenario_path("three-years"),
        areas={"provinces": ["Hainan"]},
        objective={"stores": 10},
        rollout={"stores_per_year": [3, 3, 4], "target_revenue": [1e8, 2e8, 3e8]},
        options={"time_limit": 2},
    )
    plan = solve(scn)
    out = tmp_path_factory.mktemp("saved") / "out"
    try:
        from storeplan.report import write  # the report layer's front door, when present
    except ImportError:
        plan.save(out, report=True)
    else:
        plan.save(out)
        write(plan, out)
    return out


def _pdf(path: Path):
    try:
        import pymupdf as fitz
    except ImportError:
        fitz = pytest.importorskip("fitz")
    return fitz.open(path)


def test_pdf_first_page_credits_and_warns(saved):
    doc = _pdf(saved / "report.pdf")
    first = doc[0].get_text()
    assert "GeoNames" in first and "CC BY 4.0" in first
    assert "synthetic" in first.lower()
    sizes = {(round(p.rect.width), round(p.rect.height)) for p in doc}
    assert len(sizes) == 1, f"pages of different sizes: {sizes}"
    texts = [p.get_text() for p in doc]
    assert any("Store map" in t for t in texts), "no map page"


_PROBE = """
<script>
setTimeout(function () {
  var out = {};
  var base = document.querySelector('.leaflet-storeplanBase-pane');
  out.base_paths = base ? base.querySelectorAll('path').length : 0;
  var rects = [];
  ['.storeplan-legend', '.leaflet-control-layers'].forEach(function (sel) {
    var el = document.querySelector(sel);
    if (el) { rects.push(el.getBoundingClientRect()); }
  });
  var pane = document.querySelector('.leaflet-storeplanStores-pane');
  var marks = pane ? pane.querySelectorAll('path') : [];
  var covered = 0, shown = 0;
  marks.forEach(function (m) {
    var r = m.getBoundingClientRect();
    var x = (r.left + r.right) / 2, y = (r.top + r.bottom) / 2;
    if (x < 0 || y < 0 || x > window.innerWidth || y > window.innerHeight) { return; }
    shown += 1;
    if (rects.some(function (b) { return x >= b.left && x <= b.right && y >= b.top && y <= b.bottom; })) {
      covered += 1;
    }
  });
  out.markers = shown; out.covered = covered;
  var pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
}, 1500);
</script>
"""


@pytest.mark.browser
def test_map_at_1280x720_has_a_basemap_and_panels_off_the_data(saved, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "map.html"
    html = (saved / "map.html").read_text(encoding="utf-8")
    page.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=6000",
        "--window-size=1280,720",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, "the probe script did not run"
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["base_paths"] >= 1, probe  # Hainan's outline at least
    assert probe["markers"] >= 10, probe
    assert probe["covered"] <= 0.1 * probe["markers"], probe
