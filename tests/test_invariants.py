"""Cross-file invariants: every number of a saved plan agrees with every other file.

Totals in summary.json equal the sums of the plan.csv rows they summarise, equal the
forecast tables, and equal the exact figures behind the numbers of report.html (the
``data-value`` of its cards and tables); shares lie in [0, 1]; with no existing stores,
nothing is taken from existing stores; Plan.save -> Plan.load -> Plan.save writes
identical files. Checked on the bundled demo slice and on random small scenarios.
"""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeplan import Plan, Scenario, solve
from storeplan.plan import PLAN_FILES, ROLLOUT_FILES

REL = 1e-9


class _Cards(HTMLParser):
    """Card label -> data-value, and table id -> header + rows of (text, data-value)."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, float] = {}
        self.tables: dict[str, tuple[list[str], list[list[tuple[str, float | None]]]]] = {}
        self._card: float | None = None
        self._in_label = False
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._cell_value: float | None = None
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "div" and cls.split()[:1] == ["card"]:
            dv = a.get("data-value")
            self._card = float(dv) if dv is not None else None
        elif tag == "div" and cls == "label" and self._card is not None:
            self._in_label = True
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = ([], [])
        elif tag == "tr" and self._table:
            self.tables[self._table][1].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
            self._in_th = tag == "th"
            dv = a.get("data-value")
            self._cell_value = float(dv) if dv is not None else None

    def handle_data(self, data: str) -> None:
        if self._in_label and self._card is not None:
            self.cards[data] = self._card
            self._card, self._in_label = None, False
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            text = "".join(self._cell)
            header, rows = self.tables[self._table]
            if self._in_th:
                header.append(text)
            else:
                rows[-1].append((text, self._cell_value))
            self._cell = None
        elif tag == "table":
            self._table = None


def parse_report(path: Path) -> _Cards:
    p = _Cards()
    p.feed(path.read_text(encoding="utf-8"))
    p.tables = {k: (h, [r for r in rows if r]) for k, (h, rows) in p.tables.items()}
    return p


def close(a: float, b: float, rel: float = REL, scale: float = 1.0) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=rel * max(scale, 1.0))


def check_saved_plan(out: Path, *, report: bool = True) -> None:
    """Every invariant between the files of one saved plan folder."""
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    stores = pd.read_csv(out / "plan.csv", dtype={"id": str})
    asg = pd.read_parquet(out / "assignment.parquet")
    areas = pd.read_parquet(out / "areas.parquet")
    new = stores["status"] == "new"
    money = max(abs(s["own_revenue"]), 1.0)

    # counts and access
    assert s["n_stores"] == len(stores)
    assert s["n_new_stores"] == int(new.sum())
    assert s["n_existing_stores"] == int((~new).sum())
    assert s["n_areas"] == len(asg) == len(areas)
    pop = asg["area_id"].astype(str).map(areas.set_index(areas["id"].astype(str))["population"])
    assert close(s["total_population"], pop.sum())
    assert close(s["covered_population"], pop[asg["covered"].to_numpy(bool)].sum())
    assert close(s["covered_population"], stores["covered_population"].sum())
    assert close(s["opening_cost"], stores.loc[new, "opening_cost"].sum())
    assert close(s["yearly_fixed_cost"], stores["fixed_cost"].sum())
    assert set(asg["store_id"].dropna()) <= set(stores["id"])

    # revenue: summary totals = sums of the plan.csv rows
    assert close(s["own_revenue"], stores["revenue"].sum(), scale=money)
    assert close(s["own_offline_revenue"], stores["offline_revenue"].sum(), scale=money)
    assert close(s["online_transfer"], stores["online_transfer"].sum(), scale=money)
    assert close(s["new_store_revenue"], stores.loc[new, "revenue"].sum(), scale=money)
    assert close(s["existing_revenue"], stores.loc[~new, "revenue"].sum(), scale=money)
    assert close(s["net_gain"], stores.loc[new, "net_gain"].sum(), scale=money)
    assert close(s["taken_from_online"], stores.loc[new, "from_online"].sum(), scale=money)
    assert close(s["taken_from_existing_stores"], stores.loc[new, "from_existing_stores"].sum(), scale=money)
    assert close(s["taken_from_existing_stores"], stores.loc[~new, "taken_by_new_stores"].sum(), scale=money)
    assert close(
        s["taken_from_existing_stores"], s["existing_revenue_before"] - s["existing_revenue"], scale=money
    )
    # the new stores' revenue splits exactly into its three sources, in total and per store
    parts = s["taken_from_existing_stores"] + s["taken_from_online"] + s["net_gain"]
    assert close(s["new_store_revenue"], parts, scale=money)
    rows = stores.loc[new]
    np.testing.assert_allclose(
        rows["revenue"],
        rows["from_existing_stores"] + rows["from_online"] + rows["net_gain"],
        rtol=1e-9,
        atol=1e-6,
    )
    # the offline market share is the offline capture over the market
    assert close(s["market_share"], s["own_offline_revenue"] / s["total_market"])
    assert close(s["total_market"], asg["market"].sum(), scale=s["total_market"])
    assert close(s["market_share"], float(np.dot(asg["market"], asg["share_after"])) / s["total_market"])
    if s["n_existing_stores"] == 0:
        assert s["taken_from_existing_stores"] == 0.0
        assert (stores.loc[new, "from_existing_stores"].abs() <= 1e-9 * money).all()
        assert s["market_share_before"] == 0.0

    # shares in [0, 1]
    for k in ("coverage_share", "market_share", "market_share_before", "gap"):
        assert 0.0 <= s[k] <= 1.0 + 1e-12 or (k == "gap" and s[k] >= 0), k
    for col in ("catchment_share",):
        assert stores[col].between(0.0, 1.0).all(), col
    for col in ("share_before", "share_after"):
        assert asg[col].between(0.0, 1.0 + 1e-12).all(), col
    assert s["units"]["own_revenue"] == "currency/year" and s["units"]["coverage_share"] == "share"

    # rollout: summary = forecast tables = rollout.csv
    if (out / "rollout.csv").is_file():
        r = s["rollout"]
        ro = pd.read_csv(out / "rollout.csv", dtype={"id": str})
        fy = pd.read_csv(out / "forecast_years.csv")
        fs = pd.read_parquet(out / "forecast_stores.parquet")
        years = fy[fy["in_rollout"].astype(bool)]
        opened = [int((ro["open_year"] == y).sum()) for y in range(1, r["years"] + 1)]
        assert r["opened_per_year"] == opened == years["stores_opened"].tolist()
        np.testing.assert_allclose(r["capex_per_year"], years["capex"], rtol=1e-12)
        by_year = fs.groupby("year")["revenue"].sum().reindex(fy["year"]).fillna(0.0)
        np.testing.assert_allclose(fy["revenue"], by_year.to_numpy(), rtol=1e-9, atol=1e-6)
        assert close(r["total_revenue"], years["revenue"].sum(), scale=money)
        assert close(r["final_revenue"], years["revenue"].iloc[-1], scale=money)
        assert close(r["npv"], fy["discounted_cash_flow"].sum(), scale=money)
        assert close(r["npv"], fs["discounted_cash_flow"].sum(), scale=money)
        # every plan store is in the rollout and every store the rollout opens is in the plan;
        # a site it leaves unopened is a plan store (universe "plan": the plan is sequenced) or a
        # single-year site the joint rollout did not choose, with its reason
        opened_ids = set(ro.loc[ro["status"] != "not opened", "id"])
        assert set(stores["id"]) <= set(ro["id"]) and opened_ids <= set(stores["id"])
        left = ro[ro["status"] == "not opened"]
        if "reason" in ro.columns:
            outside = left[~left["id"].isin(set(stores["id"]))]
            assert outside["reason"].fillna("").astype(str).str.len().gt(0).all()
            assert opened_ids == set(stores["id"])  # the joint rollout's stores are the plan
        else:
            assert set(left["id"]) <= set(stores["id"])

    if not report:
        return
    rep = parse_report(out / "report.html")
    cards = rep.cards
    assert cards["Stores"] == s["n_stores"]
    assert close(cards["Population covered"], s["covered_population"])
    assert close(cards["Objective"], s["objective"])
    assert close(cards["Own revenue per year"], s["own_revenue"])
    assert close(cards["Offline market share"], s["market_share"])
    assert close(cards["Net new revenue per year"], s["net_gain"])
    assert close(cards["Cannibalised per year"], s["taken_from_existing_stores"] + s["taken_from_online"])
    if (out / "rollout.csv").is_file():
        assert close(cards["NPV"], s["rollout"]["npv"])
        if s["rollout"].get("chose_sites"):  # the plan's certificate is the rollout's NPV bound
            assert close(cards["NPV bound and gap"], s["rollout"]["npv_bound"])
        elif "Bound and gap" in cards:
            assert close(cards["Bound and gap"], s["bound"])
        assert close(cards["NPV added by the new stores"], s["rollout"]["npv_new"])
        assert cards["New stores opened"] == sum(s["rollout"]["opened_per_year"])
        # the year table is forecast_years.csv, column by column
        header, trows = rep.tables["rollout-years"]
        fy_all = pd.read_csv(out / "forecast_years.csv")
        assert len(trows) == len(fy_all)
        for title, column in (
            ("sales / year", "revenue"),
            ("stores opened", "stores_opened"),
            ("stores open", "stores_open"),
            ("capex", "capex"),
            ("cash flow", "cash_flow"),
            ("cumulative cash flow", "cumulative_cash_flow"),
        ):
            c = header.index(title)
            np.testing.assert_allclose(
                [row[c][1] for row in trows], fy_all[column], rtol=1e-12, err_msg=title
            )
        # unopened stores: the report's table = rollout.csv's "not opened" rows and reasons
        ro = pd.read_csv(out / "rollout.csv", dtype={"id": str}, keep_default_na=False, na_values=[""])
        never = ro[ro["status"] == "not opened"].set_index("id")
        if len(never):
            header, urows = rep.tables["unopened"]
            sid, why, cost = header.index("store"), header.index("reason"), header.index("opening cost")
            assert {row[sid][0] for row in urows} == set(never.index)
            for row in urows:
                assert row[why][0] == never.loc[row[sid][0], "reason_detail"]
                assert close(row[cost][1], never.loc[row[sid][0], "opening_cost"])
        else:
            assert "unopened" not in rep.tables
        # assumptions: the rollout caps and budgets of rollout.json, the formats of summary.json
        spec = json.loads((out / "rollout.json").read_text(encoding="utf-8"))["spec"]
        header, yrows = rep.tables["assumption-years"]
        assert len(yrows) == spec["years"]
        if isinstance(spec.get("stores_per_year"), list):
            c = header.index("most new stores")
            assert [row[c][1] for row in yrows] == spec["stores_per_year"]
        if isinstance(spec.get("budget_per_year"), list):
            c = header.index("opening budget")
            assert [row[c][1] for row in yrows] == pytest.approx(spec["budget_per_year"])
        _, arows = rep.tables["assumptions"]
        got = {(row[0][0], row[1][0]): row[2] for row in arows}
        assert got[("rollout", "gross margin (share of sales)")][1] == pytest.approx(spec["gross_margin"])
        assert got[("rollout", "discount rate per year")][1] == pytest.approx(spec["discount_rate"])
    if "assumptions" in s:
        header, frows = rep.tables["assumption-formats"]
        by_name = {row[0][0]: row for row in frows}
        for f in s["assumptions"]["formats"]:
            row = by_name[f["name"]]
            assert close(row[header.index("opening cost per store")][1], f["opening_cost"])
            assert close(row[header.index("fixed cost per store / year")][1], f["fixed_cost"])
        _, arows = rep.tables["assumptions"]
        got = {(row[0][0], row[1][0]): row[2] for row in arows}
        outside = got[("market model", "outside option (buying at no modelled store)")][1]
        assert close(outside, s["assumptions"]["outside"])
    # revenue by category: each row = the sum of plan.csv's revenue_<category>, total = offline revenue
    if "categories" in rep.tables:
        _, crows = rep.tables["categories"]
        for row in crows[:-1]:
            column = "revenue_" + row[0][0].replace(" ", "_")
            assert close(row[1][1], stores[column].sum(), scale=money), column
        assert close(crows[-1][1][1], stores["offline_revenue"].sum(), scale=money)
    # stores per region: counts and revenue add up to plan.csv
    header, grows = rep.tables["regions"]
    assert sum(row[header.index("total")][1] for row in grows) == len(stores)
    if "revenue / year" in header:
        c = header.index("revenue / year")
        assert close(sum(row[c][1] for row in grows), stores["revenue"].sum(), scale=money)
    # the top-stores table shows plan.csv's figures
    header, trows = rep.tables["top-stores"]
    by_id = stores.set_index("id")
    sid = header.index("store")
    for name, column in (("revenue / year", "revenue"), ("net gain / year", "net_gain")):
        if name not in header:
            continue
        c = header.index(name)
        for row in trows:
            store = row[sid][0]
            if store in by_id.index and row[c][1] is not None:
                assert close(row[c][1], by_id.loc[store, column]), (store, name)


def check_round_trip(out: Path, again: Path) -> None:
    """Plan.load(out).save(again) writes the same bytes for every data file."""
    Plan.load(out).save(again)
    names = [n for n in (*PLAN_FILES, *ROLLOUT_FILES) if (out / n).is_file()]
    for n in names:
        assert (again / n).read_bytes() == (out / n).read_bytes(), n


# ---------------------------------------------------------------------------- the demo slice
@pytest.fixture(scope="module")
def demo_slice(demo_slice_run: tuple[Path, str]) -> Path:
    """The demo slice's output folder (conftest: run once per session, shared with test_demo)."""
    return demo_slice_run[0]


def test_demo_slice_files_agree(demo_slice: Path) -> None:
    check_saved_plan(demo_slice)


def test_demo_slice_round_trip(demo_slice: Path, tmp_path: Path) -> None:
    check_round_trip(demo_slice, tmp_path / "again")


# ---------------------------------------------------------------------------- random scenarios
@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    n_areas = draw(st.integers(8, 30))
    n_existing = draw(st.integers(0, 3))
    n_rivals = draw(st.integers(0, 4))
    lon = 120.0 + rng.uniform(0, 0.6, n_areas)
    lat = 30.0 + rng.uniform(0, 0.5, n_areas)
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n_areas)],
            "lon": lon,
            "lat": lat,
            "population": rng.integers(1_000, 200_000, n_areas).astype(float),
            "region": np.where(lon < 120.3, "West", "East"),
            "online_orders": rng.integers(0, 50, n_areas).astype(float),
        }
    )
    existing = pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(n_existing)],
            "lon": 120.0 + rng.uniform(0, 0.6, n_existing),
            "lat": 30.0 + rng.uniform(0, 0.5, n_existing),
        }
    )
    rivals = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n_rivals)],
            "brand": rng.choice(["X", "Y"], n_rivals),
            "lon": 120.0 + rng.uniform(0, 0.6, n_rivals),
            "lat": 30.0 + rng.uniform(0, 0.5, n_rivals),
        }
    )
    kind = draw(st.sampled_from(["revenue", "coverage", "pmedian"]))
    stores = draw(st.integers(1, 4))
    rollout = None
    if draw(st.booleans()):
        rollout = {"years": 2, "stores_per_year": [stores, stores], "improve_seconds": 0.05}
    return Scenario.from_frames(
        areas,
        existing=existing if n_existing else None,
        rivals=rivals if n_rivals else None,
        formats=[{"name": "standard", "opening_cost": 1e5, "fixed_cost": 2e4}],
        objective={"kind": kind, "stores": stores, "radius_km": 10.0},
        options={"time_limit": 5.0, "seed": seed},
        rollout=rollout,
    )


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scn=scenarios())
def test_random_scenarios_files_agree(scn: Scenario, tmp_path_factory: pytest.TempPathFactory) -> None:
    import warnings

    from storeplan import report
    from storeplan.errors import StoreplanWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreplanWarning)
        plan = solve(scn)
    out = tmp_path_factory.mktemp("random")
    plan.save(out)
    report.write(plan, out, pdf=False)
    check_saved_plan(out)
    check_round_trip(out, out / "again")
