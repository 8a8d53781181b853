"""Why planned stores stay unopened: hand-checked reasons, the NPV estimate, and the same
reasons in rollout.csv and in report.html."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from storeplan.rollout import RolloutSpec, Schedule
from storeplan.rollout.reasons import (
    UnopenedReason,
    npv_if_opened,
    reason_columns,
    site_revenue,
    unopened,
)


def _schedule(open_year, cost, spec, *, forbidden=None, fixed=None) -> Schedule:
    n = len(open_year)
    return Schedule(
        ids=np.array([f"s{i}" for i in range(n)], dtype=object),
        open_year=np.asarray(open_year, np.int64),
        opening_cost=np.asarray(cost, np.float64),
        fixed_cost=np.asarray(fixed if fixed is not None else [1.0] * n, np.float64),
        spec=spec,
        npv=0.0,
        npv_new=0.0,
        bound=float("nan"),
        gap=float("nan"),
        method="hand",
        seconds=0.0,
        evaluations=0,
        forbidden=None if forbidden is None else np.asarray(forbidden, bool),
    )


def test_reasons_by_hand() -> None:
    # year 1: cap 2 reached (s0, s1), 9 of 10 spent; year 2: 1 of 2 opened, 3 of 6 left
    spec = RolloutSpec(years=2, stores_per_year=[2, 2], budget_per_year=[10.0, 6.0])
    s = _schedule(
        [1, 1, 2, -1, -1, -1, 0],
        [4.0, 5.0, 3.0, 4.0, 2.0, 1.0, 0.0],
        spec,
        forbidden=[0, 0, 0, 0, 0, 1, 0],
    )
    got = {u.id: u for u in unopened(s)}
    assert set(got) == {"s3", "s4", "s5"}  # existing (0) and opened stores have no reason
    # s3 costs 4: year 1 capped, year 2 has 3 left
    assert got["s3"].reason is UnopenedReason.CAP_AND_BUDGET
    assert got["s3"].capped_years == (1,) and got["s3"].budget_years == (2,) and got["s3"].room_years == ()
    # s4 costs 2: fits year 2 (3 left, 1 of 2 opened): left out on value
    assert got["s4"].reason is UnopenedReason.NEGATIVE_NPV and got["s4"].room_years == (2,)
    assert "year 2" in got["s4"].text
    assert got["s5"].reason is UnopenedReason.FORBIDDEN

    # cap only: every year full
    spec = RolloutSpec(years=2, stores_per_year=[1, 1])
    s = _schedule([1, 2, -1], [1.0, 1.0, 1.0], spec)
    (u,) = unopened(s)
    assert u.reason is UnopenedReason.YEARLY_CAP and u.capped_years == (1, 2)
    # budget only: 5 of 6 spent each year, the site costs 2
    spec = RolloutSpec(years=2, budget_per_year=6.0)
    s = _schedule([1, 2, -1], [5.0, 5.0, 2.0], spec)
    (u,) = unopened(s)
    assert u.reason is UnopenedReason.BUDGET and u.budget_years == (1, 2)
    # spending exactly the budget fits: 4 + 2 = 6 leaves room
    s = _schedule([1, 2, -1], [4.0, 5.0, 2.0], spec)
    (u,) = unopened(s)
    assert u.reason is UnopenedReason.NEGATIVE_NPV and u.room_years == (1,)


def test_npv_estimate_by_hand_and_not_selected() -> None:
    spec = RolloutSpec(
        years=2, ramp_months=0, discount_rate=0.1, gross_margin=0.5, horizon_years=3, stores_per_year=[1, 2]
    )
    d2, d3 = 1.1**-2, 1.1**-3
    # opened in year 2, kept to year 3: 0.5 x 10 x (d2 + d3) - 1 x (d2 + d3) - 2 x d2
    assert npv_if_opened(spec, 2, 10.0, 1.0, 2.0) == pytest.approx(4 * (d2 + d3) - 2 * d2, rel=1e-12)
    # linear 12-month ramp: first year at half rate
    ramp = spec.model_copy(update={"ramp_months": 12.0})
    assert npv_if_opened(ramp, 2, 10.0, 0.0, 0.0) == pytest.approx(5 * (0.5 * d2 + d3), rel=1e-12)
    s = _schedule([1, 2, -1, -1], [2.0, 2.0, 2.0, 2.0], spec)
    got = {u.id: u for u in unopened(s, {"s2": 10.0, "s3": 0.5})}
    # s2 earns more than it costs: room in year 2 and a positive estimate
    assert got["s2"].reason is UnopenedReason.NOT_SELECTED and got["s2"].best_year == 2
    assert got["s2"].npv_if_opened == pytest.approx(4 * (d2 + d3) - 2 * d2)
    # s3 does not cover its fixed cost: negative
    assert got["s3"].reason is UnopenedReason.NEGATIVE_NPV and got["s3"].npv_if_opened < 0
    cols = reason_columns(s, {"s2": 10.0, "s3": 0.5})
    assert list(cols["reason"]) == ["", "", "not_selected", "negative_npv"]
    assert np.isnan(cols["npv_if_opened"].iloc[0])


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory):
    """A made-up market plan whose rollout caps leave planned stores unopened, saved
    with its report."""
    from storeplan.report import write
    from storeplan.rollout import AdditiveOracle, forecast, rollout_plan, rollout_summary
    from storeplan.testing import fake_plan

    plan = fake_plan(n_areas=300, n_stores=20, n_rivals=40, seed=2, market=True)
    spec = RolloutSpec(years=2, start_year=2027, stores_per_year=[4, 5], horizon_years=6, improve_seconds=0.2)
    # each store earns its own revenue (no cannibalisation): every store is worth opening
    oracle = AdditiveOracle(plan.stores["revenue"].to_numpy(float))
    sched = rollout_plan(plan, spec, oracle=oracle, seed=0)
    fc = forecast(sched, oracle)
    plan = dataclasses.replace(
        plan,
        schedule=sched,
        forecast=fc,
        metrics=dataclasses.replace(plan.metrics, rollout=rollout_summary(2, sched, fc)),
    )
    out = tmp_path_factory.mktemp("capped") / "out"
    plan.save(out)
    write(plan, out, map=False, pdf=False)
    return plan, out


def test_rollout_csv_and_report_give_the_same_reasons(capped) -> None:
    from test_report import read_table

    plan, out = capped
    n_new = int((plan.stores["status"] == "new").sum())
    assert n_new > 9  # more planned stores than the caps (4 + 5) allow
    csv = pd.read_csv(out / "rollout.csv", dtype={"id": str}, keep_default_na=False, na_values=[""])
    never = csv[csv["status"] == "not opened"]
    assert len(never) == n_new - 9
    # both years are full, so the cap is the reason of every unopened store
    assert set(never["reason"]) == {"yearly_cap"}
    assert (csv.loc[csv["status"] != "not opened", "reason"].isna()).all()
    text = (out / "report.html").read_text(encoding="utf-8")
    header, rows = read_table(text, "unopened")
    assert header[:4] == ["store", "name", "format", "region"] and header[-1] == "reason"
    col = {h: k for k, h in enumerate(header)}
    shown = {r[col["store"]][0]: r for r in rows}
    assert set(shown) == set(never["id"])
    stores = plan.stores.set_index("id")
    for _, r in never.iterrows():
        row = shown[r["id"]]
        assert row[col["reason"]][0] == r["reason_detail"]
        assert row[col["format"]][0] == stores.loc[r["id"], "format"]
        assert row[col["opening cost"]][1] == pytest.approx(r["opening_cost"])
    assert "By reason: yearly cap on new stores reached in every year: " in text


def test_reasons_survive_save_and_load(capped) -> None:
    from storeplan.plan import Plan

    plan, out = capped
    loaded = Plan.load(out)
    a = reason_columns(plan.schedule, site_revenue(plan.stores))
    b = reason_columns(loaded.schedule, site_revenue(loaded.stores))
    pd.testing.assert_frame_equal(a, b)
    assert loaded.assumptions == plan.assumptions


def test_assumptions_tables_list_formats_caps_and_market(capped) -> None:
    from test_report import read_table

    plan, out = capped
    text = (out / "report.html").read_text(encoding="utf-8")
    header, rows = read_table(text, "assumption-formats")
    col = {h: k for k, h in enumerate(header)}
    got = {r[0][0]: r for r in rows}
    a = plan.assumptions
    assert set(got) == {f.name for f in a.formats}
    for f in a.formats:
        assert got[f.name][col["opening cost per store"]][1] == pytest.approx(f.opening_cost)
        assert got[f.name][col["fixed cost per store / year"]][1] == pytest.approx(f.fixed_cost)
    assert got["standard"][col["capacity per store (persons)"]] == ("250,000", 250_000.0)
    assert got["flagship"][col["capacity per store (persons)"]][0] == "unlimited"
    header, rows = read_table(text, "assumption-years")
    assert header == ["year", "most new stores", "opening budget", "sales target / year"]
    assert [r[0][0] for r in rows] == ["2027 (year 1)", "2028 (year 2)"]
    assert [r[1][1] for r in rows] == [4, 5]
    assert [r[2][0] for r in rows] == ["no limit", "no limit"]
    spec = plan.schedule.spec
    _, rows = read_table(text, "assumptions")
    got = {(r[0][0], r[1][0]): r[2] for r in rows}
    assert got[("rollout", "gross margin (share of sales)")][1] == pytest.approx(spec.gross_margin)
    assert got[("rollout", "discount rate per year")][1] == pytest.approx(spec.discount_rate)
    assert got[("market model", "decay lambda per area level")][0] == "city 2, county 2.2, township 2.5"
    assert got[("market model", "outside option (buying at no modelled store)")][1] == pytest.approx(0.05)
    synthetic = [v[0] for (topic, item), v in got.items() if item == "synthetic layer"]
    assert synthetic == ["Rival stores: synthetic layer (randomly generated, not real locations)"]


def test_pdf_first_page_counts_the_unopened_stores(capped, tmp_path) -> None:
    from storeplan.report.pdf import write_pdf

    try:
        import pymupdf as fitz
    except ImportError:
        fitz = pytest.importorskip("fitz")
    plan, _ = capped
    n = int((plan.schedule.open_year < 0).sum())
    path = write_pdf(
        plan.forecast, tmp_path / "r.pdf", schedule=plan.schedule, notes=plan.notes, stores=plan.stores
    )
    text = " ".join(fitz.open(path)[0].get_text().split())
    assert f"Planned stores not opened: {n} (yearly cap on new stores reached in every year: {n})" in text
