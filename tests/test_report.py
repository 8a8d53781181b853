"""The report layer: map.html (offline Leaflet), charts/*.png and report.html."""

from __future__ import annotations

import dataclasses
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("folium")
pytest.importorskip("matplotlib")

from storeplan.report import write_map, write_report  # noqa: E402
from storeplan.report._common import fmt_km, fmt_pct  # noqa: E402
from storeplan.report._demo import demo_plan  # noqa: E402
from storeplan.report.charts import (  # noqa: E402
    coverage_curve_chart,
    distance_chart,
    region_chart,
    stores_per_region,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclasses.dataclass(frozen=True)
class FakePlan:
    """Duck-typed stand-in for storeplan.plan.Plan (same attributes)."""

    scenario_name: str
    objective: str
    stores: pd.DataFrame
    assignment: pd.DataFrame
    areas: pd.DataFrame
    rivals: pd.DataFrame
    metrics: dict
    coverage_curve: pd.DataFrame
    provenance: dict
    notes: tuple


def make_plan(**kw: Any) -> FakePlan:
    p = demo_plan(**kw)
    return FakePlan(**{f.name: getattr(p, f.name) for f in dataclasses.fields(FakePlan)})


class _Tags(HTMLParser):
    """Collect (tag, attrs) of every start tag."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Tags()
    p.feed(text)
    return p.tags


@pytest.fixture(scope="module")
def plan() -> FakePlan:
    return make_plan(n_areas=300, n_stores=20, n_rivals=80, seed=1)


@pytest.fixture(scope="module")
def report(plan: FakePlan, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_report(plan, tmp_path_factory.mktemp("report"))


def test_write_report_writes_every_file(report: dict[str, Path]) -> None:
    assert set(report) == {"report", "map", "coverage_curve", "distance", "regions"}
    out = report["report"].parent
    assert report["report"] == out / "report.html"
    assert report["map"] == out / "map.html"
    for p in report.values():
        assert p.is_file() and p.stat().st_size > 0
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "coverage_curve.png", "distance.png", "stores_per_region.png"]
    # No temporary files left behind.
    assert not list(out.rglob(".*"))


@pytest.mark.parametrize("key", ["coverage_curve", "distance", "regions"])
def test_charts_are_real_pngs(report: dict[str, Path], key: str) -> None:
    import matplotlib.image as mpimg

    path = report[key]
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000
    img = mpimg.imread(path)
    assert img.shape[0] > 250 and img.shape[1] > 500
    colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 30  # lines, bars, text: not a blank canvas


def test_report_has_headline_numbers(plan: FakePlan, report: dict[str, Path]) -> None:
    text = report["report"].read_text(encoding="utf-8")
    m = plan.metrics
    assert "<h1>Store network plan: Demo &lt;plan&gt; &amp; test</h1>" in text
    assert f">{len(plan.stores)}<" in text  # store count card
    assert fmt_pct(m["coverage_share"]) in text
    assert f"{m['covered_population']:,.0f}" in text
    assert fmt_km(m["mean_km"]) in text
    assert f"{m['objective']:,.0f}" in text
    assert f"{m['bound']:,.0f}" in text
    assert "gap 0.40%" in text
    assert "12.34 s" in text
    # Attribution, synthetic notice, provenance.
    assert "Places: GeoNames (CC BY 4.0)" in text
    assert "Synthetic data layers" in text
    assert 'class="synthetic">Rival stores: synthetic layer' in text
    assert "0123456789abcdef" in text
    assert ">numpy<" in text and np.__version__ in text
    # Generic metric keys land under the assumptions.
    assert "demo-greedy" in text
    # Top stores and regions tables.
    best = plan.stores.sort_values("revenue", ascending=False)["id"].iloc[0]
    assert f"<td>{best}</td>" in text
    region = stores_per_region(plan).index[0]
    assert f"<td>{region}</td>" in text


def test_report_links_existing_files(report: dict[str, Path]) -> None:
    out = report["report"].parent
    t = tags(report["report"].read_text(encoding="utf-8"))
    srcs = [a["src"] for tag, a in t if tag == "img"]
    assert sorted(srcs) == ["charts/coverage_curve.png", "charts/distance.png",
                            "charts/stores_per_region.png"]
    for s in srcs:
        assert (out / s).is_file()
    hrefs = [a.get("href") for tag, a in t if tag == "a"]
    assert "map.html" in hrefs and (out / "map.html").is_file()
    # Self-contained: no external resources.
    assert not [a for tag, a in t if tag in ("script", "link")]


def test_report_escapes_plan_text(tmp_path: Path) -> None:
    base = make_plan(n_areas=60, n_stores=4, n_rivals=10)
    evil = "<script>alert(1)</script>"
    stores = base.stores.copy()
    stores.loc[0, "region"] = evil
    stores.loc[1, "format"] = evil
    rivals = base.rivals.copy()
    rivals.loc[0, "brand"] = evil
    areas = base.areas.copy()
    areas.loc[0, "name"] = evil
    plan = dataclasses.replace(
        base, scenario_name=evil, stores=stores, rivals=rivals, areas=areas, notes=(evil,),
        metrics={**base.metrics, evil: evil}, provenance={**base.provenance, "x": evil},
    )
    paths = write_report(plan, tmp_path)
    text = paths["report"].read_text(encoding="utf-8")
    assert evil not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    m = paths["map"].read_text(encoding="utf-8")
    assert evil not in m and "alert(1)" in m  # present only in escaped form


def test_map_inlines_leaflet_and_has_no_cdn_links(plan: FakePlan, report: dict[str, Path]) -> None:
    text = report["map"].read_text(encoding="utf-8")
    t = tags(text)
    external = [a for tag, a in t
                if (tag == "script" and a.get("src")) or (tag == "link" and a.get("href"))]
    assert external == []
    assert not re.search(r"<(script|link)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", text, re.I)
    assert "Leaflet 1.9.4" in text  # the vendored library, inlined
    assert "cdn.jsdelivr" not in text and "code.jquery" not in text
    assert "L.map(" in text and "L.control.layers(" in text
    # Data of every layer present: store ids, rival brands, area names.
    for sid in plan.stores["id"]:
        assert f'"{sid}"' in text
    for brand in plan.rivals["brand"].unique():
        assert f"Rival: {brand}" in text
    assert "Places: GeoNames (CC BY 4.0)" in text
    assert "<plan>" not in text  # legend text escaped for HTML, then for the script


def test_map_scales_to_16k_areas(tmp_path: Path) -> None:
    big = make_plan(n_areas=16_000, n_stores=1_000, n_rivals=3_000, seed=2)
    path = write_map(big, tmp_path / "map.html")
    size = path.stat().st_size
    assert size < 15e6, f"map.html is {size / 1e6:.1f} MB"
    assert size > 1e6  # the data really is in there


def test_map_without_rivals_radius_or_assignment(tmp_path: Path) -> None:
    base = make_plan(n_areas=80, n_stores=5, n_rivals=0, radius_km=None)
    assert base.rivals.empty
    empty = base.assignment.iloc[:0]
    plan = dataclasses.replace(base, assignment=empty, metrics={})
    text = write_map(plan, tmp_path / "m.html").read_text(encoding="utf-8")
    assert "Coverage radius (" not in text and "Catchments (store" not in text
    assert "Demand areas (80)" in text


def test_report_tolerates_sparse_inputs(tmp_path: Path) -> None:
    base = make_plan(n_areas=50, n_stores=3, n_rivals=0, radius_km=None)
    plan = dataclasses.replace(
        base,
        stores=base.stores[["id", "lon", "lat"]],
        areas=base.areas[["id", "lon", "lat", "population"]],
        rivals=pd.DataFrame(columns=["id", "brand", "lon", "lat"]),
        metrics={"objective": float("nan"), "gap": None},
        coverage_curve=pd.DataFrame(columns=["n_stores", "covered_population",
                                             "covered_share", "mean_km"]),
        provenance={},
        notes=(),
    )
    paths = write_report(plan, tmp_path)
    text = paths["report"].read_text(encoding="utf-8")
    assert "Synthetic data layers" not in text
    assert "No data notes were recorded" in text
    for key in ("coverage_curve", "distance", "regions"):
        assert paths[key].read_bytes()[:8] == PNG_MAGIC


def test_unserved_areas_are_marked(tmp_path: Path) -> None:
    plan = make_plan(n_areas=200, n_stores=6, n_rivals=0, radius_km=20.0)
    n_unserved = int(plan.assignment["store_id"].isna().sum())
    assert n_unserved > 0
    text = write_map(plan, tmp_path / "m.html").read_text(encoding="utf-8")
    assert f"200 areas, {200 - n_unserved:,} with a store" in text
    assert "no store assigned" in text
    chart = distance_chart(plan, tmp_path / "d.png")
    assert chart.read_bytes()[:8] == PNG_MAGIC


def test_chart_functions_return_their_path(plan: FakePlan, tmp_path: Path) -> None:
    for fn in (coverage_curve_chart, distance_chart, region_chart):
        target = tmp_path / "sub" / f"{fn.__name__}.png"
        assert fn(plan, target) == target
        assert target.read_bytes()[:8] == PNG_MAGIC


def test_stores_per_region_groups_the_tail() -> None:
    plan = make_plan(n_areas=400, n_stores=60, n_rivals=0)
    t = stores_per_region(plan, top=5)
    assert len(t) == 6
    assert t.index[-1].startswith("other regions")
    assert int(t["total"].sum()) == 60
    assert (t["new"] + t["existing"] == t["total"]).all()


def test_failing_chart_leaves_no_partial_files(
    plan: FakePlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    out = tmp_path / "out"
    write_report(plan, out)  # a complete earlier run
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    real = Figure.savefig
    calls = {"n": 0}

    def flaky(self: Figure, fname: Any, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second chart dies half-way through writing
            Path(fname).write_bytes(PNG_MAGIC + b"truncated")
            raise OSError("disk full")
        real(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_report(plan, out)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # Same set of files (no temporaries), each either the old or a complete new file.
    assert set(after) == set(before)
    assert after[out / "charts" / "distance.png"] == before[out / "charts" / "distance.png"]
    assert after[out / "report.html"] == before[out / "report.html"]

    fresh = tmp_path / "fresh"
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        write_report(plan, fresh)
    files = sorted(p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file())
    assert files == ["charts/coverage_curve.png"]  # complete; no report.html, no partials
    assert (fresh / "charts" / "coverage_curve.png").read_bytes()[:8] == PNG_MAGIC


def test_missing_extra_names_the_install_command(
    plan: FakePlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "folium", None)
    with pytest.raises(ImportError, match=r"storeplan\[report\]"):
        write_map(plan, tmp_path / "m.html")
    assert not (tmp_path / "m.html").exists()


def test_with_the_real_plan_class(tmp_path: Path) -> None:
    plan_mod = pytest.importorskip("storeplan.plan")
    demo = make_plan(n_areas=120, n_stores=8, n_rivals=20)
    fields = {f.name: getattr(demo, f.name, None) for f in dataclasses.fields(plan_mod.Plan)}
    plan = plan_mod.Plan(**fields)
    paths = write_report(plan, tmp_path / "a")
    assert "Demand areas (120)" in paths["map"].read_text(encoding="utf-8")
    # A plan read back with Plan.load carries no areas and no rivals.
    empty = pd.DataFrame({"id": pd.Series(dtype=str), "lon": [], "lat": []})
    loaded = dataclasses.replace(plan, areas=empty, rivals=empty.assign(brand=pd.Series(dtype=str)))
    paths = write_report(loaded, tmp_path / "b")
    assert "Demand areas (0)" in paths["map"].read_text(encoding="utf-8")
    assert ">8<" in paths["report"].read_text(encoding="utf-8")
