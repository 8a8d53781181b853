"""The map at scale (issue 13): beyond ``HEX_AREA_LIMIT`` areas the areas layer is drawn
as H3 hexagons whose figures are sums / weighted means of the areas inside them, and
thousands of stores go on a canvas layer."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("h3")
pytest.importorskip("folium")

from storeplan.report import maps  # noqa: E402
from storeplan.report._common import served_areas  # noqa: E402
from storeplan.testing import fake_plan  # noqa: E402


def _payload(html: str) -> dict:
    m = re.search(r"var D = (\{.*?\});\n", html, flags=re.S)
    assert m, "map payload not found"
    return json.loads(m.group(1))


def test_small_maps_draw_one_bubble_per_area():
    plan = fake_plan(n_areas=300, market=True)
    data = maps._map_data(plan, 9)
    assert data["hex"] is None and len(data["areas"]) == 300


def test_hexagons_sum_the_areas_inside_them(monkeypatch):
    plan = fake_plan(n_areas=3000, n_stores=40, market=True, seed=3)
    monkeypatch.setattr(maps, "HEX_AREA_LIMIT", 400)
    data = maps._map_data(plan, 9)
    cells, bounds = data["areas"], data["hex"]
    assert data["hex"] is not None and 0 < len(cells) <= 400 and len(bounds) == len(cells)
    # hexagons (pentagons at 12 places; cells crossing an icosahedron edge get more vertices)
    assert all(5 <= len(b) <= 10 for b in bounds)
    areas = served_areas(plan)
    # population: every area in exactly one cell (the payload rounds to whole persons)
    pop = sum(c[6] for c in cells)
    assert pop == pytest.approx(areas["population"].sum(), abs=len(cells))
    # market and captured market: the cells' sums equal the areas' sums
    share = maps._area_shares(plan, areas["id"])
    after, before, market = (np.nan_to_num(x) for x in share)
    cell_market = np.array([c[13] for c in cells], float)
    cell_after = np.array([c[11] for c in cells], float)
    assert cell_market.sum() == pytest.approx(market.sum(), rel=1e-6, abs=len(cells))
    assert float(np.dot(cell_market, cell_after)) == pytest.approx(float(np.dot(market, after)), rel=1e-3)
    # the counts in the legend are the areas', not the cells'
    assert data["n_areas"] == len(areas) and data["n_served"] <= len(areas)
    assert f"{len(areas):,} areas drawn as {len(cells):,} hexagons" in data["hex_note"]
    # every area lies in (or on the edge of) the hexagon that holds it: its cell centre is
    # within one cell diameter
    import h3

    res = int(re.search(r"resolution (\d+)", data["hex_note"]).group(1))
    diameter = 2.2 * h3.average_hexagon_edge_length(res, unit="km")
    centres = {h3.latlng_to_cell(c[1], c[0], res) for c in cells}
    for lat, lon in zip(areas["lat"][:200], areas["lon"][:200], strict=True):
        cell = h3.latlng_to_cell(lat, lon, res)
        assert cell in centres
        clat, clon = h3.cell_to_latlng(cell)
        assert h3.great_circle_distance((lat, lon), (clat, clon), unit="km") <= diameter


def test_a_large_map_stays_small_and_draws_hexagons(monkeypatch, tmp_path):
    monkeypatch.setattr(maps, "HEX_AREA_LIMIT", 500)
    plan = fake_plan(n_areas=5000, n_stores=450, market=True, seed=5)
    path = maps.write_map(plan, tmp_path / "map.html")
    html = path.read_text(encoding="utf-8")
    d = _payload(html)
    assert d["hex"] is not None and len(d["areas"]) <= 500
    assert "L.polygon(D.hex[i]" in html
    assert "5,000 areas drawn as" in html
    assert f"Demand areas (5,000 in {len(d['areas']):,} hexagons)" in html
    small = maps.write_map(fake_plan(n_areas=500, n_stores=450, market=True, seed=5), tmp_path / "s.html")
    assert _payload(small.read_text(encoding="utf-8"))["hex"] is None
    # hexagons keep the page about the size of a 500-area map
    assert path.stat().st_size < 1.5 * small.stat().st_size


def test_thousands_of_stores_are_drawn_on_a_canvas(tmp_path):
    plan = fake_plan(n_areas=3000, n_stores=2500, market=True, seed=1)
    html = maps.write_map(plan, tmp_path / "map.html").read_text(encoding="utf-8")
    assert len(_payload(html)["stores"]) == 2500
    assert "renderer: D.stores.length > 2000 ? storeCanvas : svg" in html


def test_hexagon_resolution_gets_coarser_until_the_limit_holds():
    rng = np.random.default_rng(0)
    n = 4000
    areas = pd.DataFrame(
        {
            "lon": rng.uniform(100, 120, n),
            "lat": rng.uniform(20, 40, n),
            "population": rng.uniform(1e3, 1e5, n),
            "km": rng.uniform(0, 30, n),
            "sid": rng.integers(0, 10, n),
            "region": "r",
        }
    )
    fine = maps.hexagon_areas(areas, None, 15.0, 10**6)
    coarse = maps.hexagon_areas(areas, None, 15.0, 100)
    assert "resolution 7" in fine["note"] and len(fine["rows"]) > 100
    assert len(coarse["rows"]) <= 100
    assert sum(r[6] for r in coarse["rows"]) == pytest.approx(areas["population"].sum(), abs=100)
