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

from storeplan.metrics import CalibrationSummary, PlanMetrics  # noqa: E402
from storeplan.report import write_map, write_report  # noqa: E402
from storeplan.report._common import fmt_km, fmt_pct  # noqa: E402
from storeplan.report.charts import (  # noqa: E402
    coverage_curve_chart,
    distance_chart,
    region_chart,
    stores_per_region,
)
from storeplan.testing import fake_plan as demo_plan  # noqa: E402

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
    schedule: Any = None
    forecast: Any = None
    assumptions: Any = None


def make_plan(**kw: Any) -> FakePlan:
    p = demo_plan(**kw)
    return FakePlan(**{f.name: getattr(p, f.name, None) for f in dataclasses.fields(FakePlan)})


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
        "coverage_curve.png",
        "distance.png",
        "stores_per_region.png",
    ]
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
    assert sorted(srcs) == [
        "charts/coverage_curve.png",
        "charts/distance.png",
        "charts/stores_per_region.png",
    ]
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
        base,
        scenario_name=evil,
        stores=stores,
        rivals=rivals,
        areas=areas,
        notes=(evil,),
        metrics=dataclasses.replace(base.metrics, method=evil),
        provenance={**base.provenance, "x": evil},
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
    external = [a for tag, a in t if (tag == "script" and a.get("src")) or (tag == "link" and a.get("href"))]
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


def blank_metrics(**kw: Any) -> PlanMetrics:
    """A PlanMetrics with nothing known (NaN figures, zero counts): an old, sparse plan."""
    vals: dict[str, Any] = {}
    for f in dataclasses.fields(PlanMetrics):
        if f.default is not dataclasses.MISSING:
            continue
        t = str(f.type)
        vals[f.name] = (
            float("nan")
            if t == "float"
            else 0
            if t == "int"
            else False
            if t == "bool"
            else "min"
            if f.name == "sense"
            else ""
        )
    vals.update(kw)
    return PlanMetrics(**vals)


def test_map_without_rivals_radius_or_assignment(tmp_path: Path) -> None:
    base = make_plan(n_areas=80, n_stores=5, n_rivals=0, radius_km=None)
    assert base.rivals.empty
    empty = base.assignment.iloc[:0]
    plan = dataclasses.replace(base, assignment=empty, metrics=blank_metrics())
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
        metrics=blank_metrics(n_stores=3),
        coverage_curve=pd.DataFrame(columns=["n_stores", "covered_population", "covered_share", "mean_km"]),
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


# ---------------------------------------------------------------------------- revenue, rollout
class _Table(HTMLParser):
    """Rows of the table with a given id: cells as (text, data-value or None)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0
        self.rows: list[list[tuple[str, float | None]]] = []
        self.header: list[str] = []
        self._cell: list[str] | None = None
        self._value: float | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and (self.depth or a.get("id") == self.table_id):
            self.depth += 1
        if not self.depth:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
            v = a.get("data-value")
            self._value = float(v) if v is not None else None

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            if tag == "th":
                self.header.append(text)
            else:
                self.rows[-1].append((text, self._value))
            self._cell = None
        elif tag == "table":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read_table(text: str, table_id: str) -> tuple[list[str], list[list[tuple[str, float | None]]]]:
    p = _Table(table_id)
    p.feed(text)
    return p.header, [r for r in p.rows if r]


@pytest.fixture(scope="module")
def rollout_plan() -> FakePlan:
    return make_plan(n_areas=300, n_stores=20, n_rivals=80, seed=1, rollout_years=3, calibration=True)


@pytest.fixture(scope="module")
def rollout_report(rollout_plan: FakePlan, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("rollout")
    (out / "report.pdf").write_bytes(b"%PDF-1.4 stand-in")  # as Plan.save writes it first
    return write_report(rollout_plan, out)


def test_rollout_report_writes_rollout_and_share_charts(rollout_report: dict[str, Path]) -> None:
    assert {"share_by_region", "rollout_stores", "rollout_revenue", "rollout_cash", "rollout_regions"} <= set(
        rollout_report
    )
    out = rollout_report["report"].parent
    t = tags(rollout_report["report"].read_text(encoding="utf-8"))
    srcs = {a["src"] for tag, a in t if tag == "img"}
    for name in ("share_by_region", "rollout_stores", "rollout_revenue", "rollout_cash", "rollout_regions"):
        assert f"charts/{name}.png" in srcs
        assert (out / "charts" / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
    for s in srcs:
        assert (out / s).is_file()
    hrefs = [a.get("href") for tag, a in t if tag == "a"]
    assert "report.pdf" in hrefs


def test_revenue_sections_present(rollout_plan: FakePlan, rollout_report: dict[str, Path]) -> None:
    from storeplan.report._common import fmt_money, share_by_region

    text = rollout_report["report"].read_text(encoding="utf-8")
    m = rollout_plan.metrics
    # headline cards
    assert "Own revenue per year" in text and f">{fmt_money(m['own_revenue'])}<" in text
    assert f">{fmt_pct(m['market_share'])}<" in text
    assert f"before the new stores {fmt_pct(m['market_share_before'])}" in text
    assert f">{fmt_money(m['net_gain'])}<" in text
    both = m["taken_from_existing_stores"] + m["taken_from_online"]
    assert f">{fmt_money(both)}<" in text
    assert f"from our existing stores {fmt_money(m['taken_from_existing_stores'])}" in text
    # calibration box
    assert 'id="calibration"' in text and "R\u00b2 0.870" in text and "12.3%" in text
    # top stores: revenue, catchment share, net gain, cannibalisation, opening year
    header, rows = read_table(text, "top-stores")
    for col in (
        "revenue / year",
        "catchment share",
        "net gain / year",
        "from existing stores / year",
        "from web shop / year",
        "opens",
    ):
        assert col in header
    st = rollout_plan.stores.sort_values("revenue", ascending=False)
    first = dict(zip(header[1:], rows[0][1:], strict=True))
    assert first["store"][0] == st["id"].iloc[0]
    assert first["revenue / year"][1] == pytest.approx(st["revenue"].iloc[0])
    assert first["catchment share"][0] == fmt_pct(st["catchment_share"].iloc[0])
    # revenue by category adds up to the stores' offline revenue
    _, cats = read_table(text, "categories")
    assert {r[0][0] for r in cats[:-1]} == {"phones", "tv home", "smart home"}
    assert cats[-1][0][0] == "all categories"
    assert cats[-1][1][1] == pytest.approx(rollout_plan.stores["offline_revenue"].sum())
    assert sum(r[1][1] for r in cats[:-1]) == pytest.approx(cats[-1][1][1])
    # share by region: market-weighted area shares
    _, reg = read_table(text, "share-regions")
    t = share_by_region(rollout_plan)
    assert reg[0][0][0] == t["region"].iloc[0]
    assert reg[0][3][1] == pytest.approx(t["share_after"].iloc[0])
    a = rollout_plan.assignment.merge(rollout_plan.areas[["id", "region"]], left_on="area_id", right_on="id")
    a = a[a["region"] == t["region"].iloc[0]]
    assert t["share_after"].iloc[0] == pytest.approx(
        (a["market"] * a["share_after"]).sum() / a["market"].sum()
    )
    # stores per region: revenue per region, the "other regions" row sums the tail
    header, reg_rows = read_table(text, "regions")
    assert header[-1] == "revenue / year"
    assert sum(r[-1][1] for r in reg_rows) == pytest.approx(rollout_plan.stores["revenue"].sum())
    # the assumptions list inputs, not results or solver internals
    _, assumptions = read_table(text, "assumptions")
    items = {r[1][0] for r in assumptions}
    assert not items & {"iterations", "network pairs", "own revenue", "market share", "net gain", "gap"}


def test_rollout_table_equals_the_forecast(rollout_plan: FakePlan, rollout_report: dict[str, Path]) -> None:
    text = rollout_report["report"].read_text(encoding="utf-8")
    header, rows = read_table(text, "rollout-years")
    assert header == [
        "year",
        "stores opened",
        "stores open",
        "sales / year",
        "target / year",
        "target met",
        "shortfall / year",
        "extra stores needed",
        "capex",
        "cash flow",
        "cumulative cash flow",
    ]
    py = rollout_plan.forecast.per_year
    assert len(rows) == len(py)
    col = {h: k for k, h in enumerate(header)}
    for r, (_, y) in zip(rows, py.iterrows(), strict=True):
        assert r[col["year"]][0] == str(y["label"])
        assert r[col["stores opened"]][1] == y["stores_opened"]
        assert r[col["stores open"]][1] == y["stores_open"]
        for h, c in (
            ("sales / year", "revenue"),
            ("capex", "capex"),
            ("cash flow", "cash_flow"),
            ("cumulative cash flow", "cumulative_cash_flow"),
        ):
            assert r[col[h]][1] == pytest.approx(float(y[c]), rel=1e-12, abs=1e-6), h
        if pd.isna(y["target"]):
            assert r[col["target / year"]][0] == "-" and r[col["target met"]][0] == "-"
        else:
            assert r[col["target / year"]][1] == pytest.approx(float(y["target"]))
            assert r[col["target met"]][0] == ("yes" if y["target_met"] else "no")
            if not y["target_met"]:
                assert r[col["shortfall / year"]][1] == pytest.approx(float(y["shortfall"]))
                assert r[col["extra stores needed"]][0] == f"{int(y['extra_stores']):,}"
    # the demo's year-3 target is above the network's full sales: missed, with extra stores
    fc = rollout_plan.forecast
    assert fc.target_met is False and fc.extra_stores > 0
    assert "Sales target missed" in text
    assert f"About <strong>{fc.extra_stores:,} more stores</strong>" in text
    from storeplan.report._common import fmt_money

    assert f">{fmt_money(fc.npv)}<" in text and f">{fmt_money(fc.npv_new)}<" in text
    assert 'id="rollout"' in text
    # "In brief" at the top says the same in words
    brief = text[text.index('id="brief"') : text.index("</ul>", text.index('id="brief"'))]
    assert f"misses its sales target by up to {fmt_money(fc.shortfall)}" in brief
    assert f"about {fc.extra_stores:,} more stores" in brief
    assert "left unopened" not in brief  # every new store opens in the demo rollout
    assert f"Our stores would sell {fmt_money(rollout_plan.metrics['own_revenue'])}" in brief


@pytest.mark.parametrize(("years", "words"), [(1, "over 1 year"), (3, "over 3 years")])
def test_rollout_length_reads_in_the_singular_for_one_year(tmp_path: Path, years: int, words: str) -> None:
    plan = make_plan(n_areas=120, n_stores=9, n_rivals=0, seed=5, rollout_years=years)
    text = write_report(plan, tmp_path, map=False)["report"].read_text(encoding="utf-8")
    assert f"The rollout {words}" in text and "1 years" not in text
    assert f"{words};" in text  # the card of the new stores opened


def test_rollout_verdict_when_targets_are_met(tmp_path: Path) -> None:
    from storeplan.testing import add_rollout

    met = add_rollout(
        demo_plan(n_areas=120, n_stores=9, n_rivals=0, seed=5, market=True), years=2, target_factor=(0.1, 0.2)
    )
    assert met.forecast.target_met is True
    plan = make_plan(n_areas=120, n_stores=9, n_rivals=0, seed=5, market=True)
    plan = dataclasses.replace(plan, schedule=met.schedule, forecast=met.forecast, metrics=met.metrics)
    text = write_report(plan, tmp_path, map=False)["report"].read_text(encoding="utf-8")
    assert "Sales targets met" in text and "Sales target missed" not in text


def test_sections_absent_without_market_or_rollout(report: dict[str, Path]) -> None:
    text = report["report"].read_text(encoding="utf-8")
    for marker in (
        'id="rollout"',
        'id="revenue"',
        'id="calibration"',
        "Own revenue per year",
        "catchment share",
        "Offline market share",
        "report.pdf",
        "rollout_",
        "Our stores would sell",
        "The rollout",
    ):
        assert marker not in text, marker
    assert 'id="brief"' in text and "The plan opens 16 new stores next to 4 existing" in text


def test_rollout_from_metrics_only(rollout_plan: FakePlan, tmp_path: Path) -> None:
    """A plan read back with Plan.load has metrics["rollout"] but no forecast: headline only."""
    plan = dataclasses.replace(rollout_plan, forecast=None, schedule=None)
    paths = write_report(plan, tmp_path, map=False)
    text = paths["report"].read_text(encoding="utf-8")
    assert 'id="rollout"' in text and "Sales target missed" in text
    assert 'id="rollout-years"' not in text
    assert not [k for k in paths if k.startswith("rollout_")]
    _, assumptions = read_table(text, "assumptions")
    # without the schedule its spec (caps, budgets, margin) is not known: no rollout rows
    assert not any(r[0][0].startswith("rollout") for r in assumptions)


def test_map_colours_areas_by_share_and_stores_by_wave(
    rollout_plan: FakePlan, rollout_report: dict[str, Path]
) -> None:
    from storeplan.report.maps import SHARE_COLORS, WAVE_COLORS

    text = rollout_report["map"].read_text(encoding="utf-8")
    opened = rollout_plan.schedule.opened_per_year()
    labels = rollout_plan.forecast.per_year["label"].tolist()
    for y, n in enumerate(opened, start=1):
        assert f"Opening {labels[y - 1]} (year {y}): {n:,} new stores" in text
        assert WAVE_COLORS[y - 1] in text
    n_old = int((rollout_plan.stores["status"] == "existing").sum())
    assert f"Existing stores ({n_old:,})" in text
    assert "Demand areas (300): our market share after" in text
    assert "Demand areas: our market share before" in text
    assert all(c in text for c in SHARE_COLORS)
    assert "Stores by opening year" in text and "\u2265 50%" in text
    # store popups carry revenue, share and net gain
    for label in ("revenue / year", "catchment share", "net gain / year", "opens"):
        assert f'"{label}"' in text


def test_map_without_share_keeps_coverage_colours(report: dict[str, Path]) -> None:
    from storeplan.report.maps import AREA_COLORS

    text = report["map"].read_text(encoding="utf-8")
    assert "our market share after" not in text and "Opening " not in text
    assert '"has_share":false' in text
    assert "Stores by opening year" not in text
    assert "New stores (" in text and all(c in text for c in AREA_COLORS)


def test_map_scales_to_16k_areas(tmp_path: Path) -> None:
    """16k areas with market shares, 1,000 stores in 4 waves, 3,000 rivals: small and fast."""
    import time
    from types import SimpleNamespace

    big = make_plan(n_areas=16_000, n_stores=1_000, n_rivals=3_000, seed=2, market=True)
    years = np.where(big.stores["status"] == "existing", 0, 1 + np.arange(len(big.stores)) % 4)
    sched = SimpleNamespace(
        ids=big.stores["id"].to_numpy(object), open_year=years, spec=SimpleNamespace(years=4, start_year=2027)
    )
    big = dataclasses.replace(big, schedule=sched)
    t0 = time.perf_counter()
    path = write_map(big, tmp_path / "map.html")
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    assert size < 15e6, f"map.html is {size / 1e6:.1f} MB"
    assert size > 1e6  # the data really is in there
    assert seconds < 20, f"map took {seconds:.1f} s"
    text = path.read_text(encoding="utf-8")
    assert "Opening 2030 (year 4)" in text and "Demand areas (16,000): our market share" in text


def test_real_solve_with_rollout_report_and_reload(tmp_path: Path) -> None:
    """A small real revenue solve with a rollout, saved (report.pdf first) and re-loaded."""
    storeplan = pytest.importorskip("storeplan")
    lon, lat = np.meshgrid(np.linspace(110.0, 111.2, 5), np.linspace(30.0, 31.0, 4))
    areas = pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(20)],
            "lon": lon.ravel(),
            "lat": lat.ravel(),
            "population": 20_000.0 * (1 + np.arange(20) % 7),
            "region": np.where(lon.ravel() < 110.6, "West", "East"),
            "online_orders": np.arange(20) % 5 * 10.0,
        }
    )
    rivals = pd.DataFrame(
        {"id": ["r1", "r2"], "brand": ["X", "Y"], "lon": [110.3, 110.9], "lat": [30.3, 30.7]}
    )
    scn = storeplan.Scenario.from_frames(
        areas,
        rivals=rivals,
        formats=[{"name": "standard", "opening_cost": 1e5, "fixed_cost": 2e4}],
        objective={"kind": "revenue", "stores": 4},
        rollout={
            "years": 2,
            "stores_per_year": [2, 2],
            "target_revenue": [1e12, None],
            "improve_seconds": 0.1,
        },
    )
    plan = storeplan.solve(scn)
    from storeplan import report

    written = plan.save(tmp_path / "out")
    written.update(report.write(plan, tmp_path / "out"))
    text = written["report"].read_text(encoding="utf-8")
    fc = plan.forecast
    _, rows = read_table(text, "rollout-years")
    assert [r[1][1] for r in rows] == fc.per_year["stores_opened"].tolist()
    assert [r[3][1] for r in rows] == pytest.approx(fc.per_year["revenue"].tolist())
    assert "Sales target missed" in text and 'href="report.pdf"' in text
    assert (tmp_path / "out" / "report.pdf").is_file()
    assert "Own revenue per year" in text and 'id="categories"' in text
    m = written["map"].read_text(encoding="utf-8")
    assert "Opening year 1: 2 new stores" in m and "our market share after" in m
    # Plan.load restores everything the report shows: the same report, file for file
    loaded = storeplan.Plan.load(tmp_path / "out")
    loaded.save(tmp_path / "loaded")
    paths = report.write(loaded, tmp_path / "loaded")
    assert paths["report"].read_text(encoding="utf-8") == text
    assert paths["map"].read_text(encoding="utf-8") == m
    for name in ("plan.csv", "summary.json", "rollout.csv", "forecast_years.csv", "rollout.json"):
        assert (tmp_path / "loaded" / name).read_bytes() == (tmp_path / "out" / name).read_bytes(), name


def test_rollout_and_revenue_sections_escape_plan_text(rollout_plan: FakePlan, tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    stores = rollout_plan.stores.copy()
    stores["region"] = evil
    stores["name"] = evil
    areas = rollout_plan.areas.copy()
    areas["region"] = evil
    plan = dataclasses.replace(
        rollout_plan,
        stores=stores,
        areas=areas,
        metrics=dataclasses.replace(
            rollout_plan.metrics,
            calibration=CalibrationSummary(n_stores=3, r2=0.2, mape=0.5, fitted={evil: 1.0}, success=True),
        ),
    )
    paths = write_report(plan, tmp_path)
    for key in ("report", "map"):
        text = paths[key].read_text(encoding="utf-8")
        assert evil not in text, key
    text = paths["report"].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'class="box warn"' in text and "The fit is weak" in text


def test_share_by_city_tier_table():
    """Hand-checked: two areas per level; the tier share is the market-weighted mean."""
    import types

    from storeplan.report._common import share_by_region
    from storeplan.report.html import render_report

    areas = pd.DataFrame(
        {"id": ["a", "b", "c"], "level": ["city", "city", "township"], "region": ["R", "R", "R"]}
    )
    assignment = pd.DataFrame(
        {
            "area_id": ["a", "b", "c"],
            "market": [100.0, 300.0, 50.0],
            "share_before": [0.0, 0.0, 0.0],
            "share_after": [0.2, 0.1, 0.5],
        }
    )
    plan = types.SimpleNamespace(assignment=assignment, areas=areas)
    t = share_by_region(plan, column="level").set_index("region")
    # city: (100 * 0.2 + 300 * 0.1) / 400 = 0.125; township: 0.5
    assert t.loc["city", "share_after"] == pytest.approx(0.125)
    assert t.loc["township", "share_after"] == pytest.approx(0.5)
    assert t.loc["city", "market"] == pytest.approx(400.0)
    assert "share-levels" not in render_report(
        types.SimpleNamespace(
            scenario_name="x",
            objective="coverage",
            stores=pd.DataFrame(),
            assignment=pd.DataFrame(),
            areas=pd.DataFrame(),
            rivals=pd.DataFrame(),
            metrics=blank_metrics(),
            coverage_curve=pd.DataFrame(),
            provenance={},
            notes=(),
        ),
        {},
    )


def test_share_by_tier_in_report(rollout_report: dict[str, Path]) -> None:
    text = rollout_report["report"].read_text(encoding="utf-8")
    header, rows = read_table(text, "share-levels")
    assert header[0] == "level" and [r[0][0] for r in rows] == ["county"]


def test_report_tables_carry_units_and_the_source_numbers(rollout_plan: FakePlan) -> None:
    """Every table of the report is built once in report/tables.py, with a unit on each
    column; the rendered cells are those numbers formatted by unit."""
    from storeplan.report.html import render_table
    from storeplan.report.tables import UNITS, report_tables

    tables = report_tables(rollout_plan)
    assert {"rollout-years", "categories", "share-regions", "top-stores", "regions", "assumptions"} <= set(
        tables
    )
    for name, t in tables.items():
        for c in t.columns:
            assert c.unit in UNITS, (name, c)
            assert c.key in t.rows.columns, (name, c.key)
    years = tables["rollout-years"]
    py = rollout_plan.forecast.per_year
    np.testing.assert_array_equal(years.rows["revenue"], py["revenue"].to_numpy(float))
    assert years.column("revenue").unit == "currency/year" and years.column("capex").unit == "currency"
    assert list(years.rows["row_class"]) == ["" if r else "after" for r in py["in_rollout"]]
    shares = tables["share-regions"]
    assert shares.column("share_after").unit == "share" and shares.column("change").unit == "points"
    header, rows = read_table(render_table(shares), "share-regions")
    k = header.index("share after")
    for row, v in zip(rows, shares.rows["share_after"], strict=True):
        assert row[k] == (fmt_pct(v), pytest.approx(v))
    top = tables["top-stores"]
    assert top.column("catchment_share").unit == "share"
    # assumptions carry their own unit per row
    a = tables["assumptions"].rows
    assert set(a["unit"]) <= set(UNITS) and "share" in set(a["unit"])
    f = tables["assumption-formats"]
    assert f.column("opening_cost").unit == "currency" and f.column("fixed_cost").unit == "currency/year"
    assert list(f.rows["opening_cost"]) == [x.opening_cost for x in rollout_plan.assumptions.formats]


def test_a_plan_chosen_by_the_rollout_is_certified_by_its_npv_bound(
    rollout_plan: FakePlan, rollout_report: dict[str, Path], tmp_path: Path
) -> None:
    # when the joint rollout chose the stores (for their NPV), the headline certificate
    # is the rollout's NPV bound and gap, read from the plan's metrics, with the
    # single-year figures named beside it; otherwise the single-year bound and gap
    r = rollout_plan.metrics.rollout
    assert r is not None and np.isfinite(r.npv_bound)
    plain = rollout_report["report"].read_text(encoding="utf-8")
    assert ">Bound and gap<" in plain and ">NPV bound and gap<" not in plain
    metrics = dataclasses.replace(rollout_plan.metrics, rollout=dataclasses.replace(r, chose_sites=True))
    chosen = dataclasses.replace(rollout_plan, metrics=metrics)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 stand-in")
    page = write_report(chosen, tmp_path)["report"].read_text(encoding="utf-8")
    assert ">NPV bound and gap<" in page and ">Bound and gap<" not in page
    assert f'data-value="{float(r.npv_bound)!r}"' in page
    assert f"NPV gap {fmt_pct(r.npv_gap, 2)} (certified)" in page
    assert f"{fmt_pct(chosen.metrics.gap, 2)} below the single-year bound" in page
