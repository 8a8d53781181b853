"""Forecast: per-store/per-year tables, NPV, payback, target met / shortfall."""

from __future__ import annotations

import math

import numpy as np
import pytest

from storeplan.forecast import extra_stores_needed, forecast
from storeplan.rollout import AdditiveOracle, RolloutSpec, schedule


def _three_stores(target, **kw):
    # full-ramp sales per store (currency/year), no cannibalisation
    oracle = AdditiveOracle(np.array([1000.0, 600.0, 400.0]))
    spec = RolloutSpec(
        years=2,
        horizon_years=3,
        stores_per_year=[2, 1],
        ramp_months=12,
        discount_rate=0.10,
        gross_margin=0.5,
        target_revenue=target,
        improve_seconds=0.5,
        **kw,
    )
    s = schedule(
        oracle,
        np.array([200.0, 200.0, 200.0]),
        np.array([50.0, 50.0, 50.0]),
        spec,
        ids=["x", "y", "z"],
        must_open_year={"x": 1, "y": 1, "z": 2},
    )
    return s, forecast(s, oracle)


def test_tables_and_npv_by_hand():
    s, f = _three_stores(None)
    # linear 12-month ramp: 0.5 in the opening year, 1.0 after.
    # sales:  year 1 = 0.5*1000 + 0.5*600 = 800; year 2 = 1000 + 600 + 0.5*400 = 1800; year 3 = 2000
    # cash = 0.5 * sales - fixed - opening:
    #   year 1: 400 - 100 - 400 = -100; year 2: 900 - 150 - 200 = 550; year 3: 1000 - 150 = 850
    py = f.per_year
    assert py["revenue"].tolist() == pytest.approx([800.0, 1800.0, 2000.0])
    assert py["cash_flow"].tolist() == pytest.approx([-100.0, 550.0, 850.0])
    assert py["cumulative_cash_flow"].tolist() == pytest.approx([-100.0, 450.0, 1300.0])
    assert py["stores_opened"].tolist() == [2, 1, 0]
    assert py["stores_open"].tolist() == [2, 3, 3]
    npv = -100 / 1.1 + 550 / 1.1**2 + 850 / 1.1**3
    assert f.npv == pytest.approx(npv, rel=1e-12) and s.npv == pytest.approx(npv, rel=1e-12)
    assert f.payback_year == 2
    assert f.total_revenue == pytest.approx(2600.0) and f.final_revenue == pytest.approx(1800.0)
    assert f.target_met is None and f.shortfall == 0.0
    psy = f.per_store_year
    assert len(psy) == 2 + 3 + 3
    x = psy[psy["id"] == "x"].sort_values("year")
    assert x["ramp"].tolist() == [0.5, 1.0, 1.0]
    assert x["cumulative_cash_flow"].tolist() == pytest.approx([500 * 0.5 - 50 - 200, 0.0 + 450, 900.0])
    assert psy.groupby("year")["cash_flow"].sum().tolist() == pytest.approx(py["cash_flow"].tolist())


def test_reachable_target_is_met():
    _, f = _three_stores([800.0, 1700.0])
    assert f.target_met is True
    assert f.shortfall == 0.0 and f.extra_stores == 0
    assert f.per_year["target_met"].iloc[:2].tolist() == [True, True]


def test_unreachable_target_reports_shortfall():
    _, f = _three_stores([1000.0, 3000.0])
    assert f.target_met is False
    py = f.per_year
    assert py["shortfall"].iloc[:2].tolist() == pytest.approx([200.0, 1200.0])
    assert f.shortfall == pytest.approx(1200.0)
    # year 1: marginal new stores = lowest-selling 25 % (ceil: 1 of 2) = 600/year full ramp,
    #   first-year ramp 0.5 -> 300 per extra store -> ceil(200 / 300) = 1
    # year 2: the store opened that year sells 400 at full ramp -> 200 -> ceil(1200 / 200) = 6
    assert py["extra_stores"].iloc[:2].tolist() == [1, 6]
    assert f.extra_stores == 6
    assert bool(py["target_met"].iloc[0]) is False


def test_extra_stores_needed():
    assert extra_stores_needed(0.0, 100.0, 12) == 0
    assert extra_stores_needed(100.0, 100.0, 0) == 1
    assert extra_stores_needed(101.0, 100.0, 12) == math.ceil(101 / 50)
    assert extra_stores_needed(10.0, 0.0, 12) == -1


def test_existing_stores_counted_in_sales_not_in_payback():
    oracle = AdditiveOracle(np.array([5000.0, 100.0]))
    spec = RolloutSpec(
        years=1,
        horizon_years=2,
        ramp_months=0,
        gross_margin=1.0,
        discount_rate=0.0,
        stores_per_year=1,
        improve_seconds=0,
    )
    s = schedule(oracle, np.array([0.0, 300.0]), np.array([10.0, 10.0]), spec, existing=[0], must_open=[1])
    f = forecast(s, oracle)
    # existing sells 5000; new sells 100 - 10 fixed - 300 opening = -210 in year 1, +90 in year 2
    assert f.per_year["revenue"].tolist() == pytest.approx([5100.0, 5100.0])
    assert f.per_year["revenue_existing"].tolist() == pytest.approx([5000.0, 5000.0])
    assert f.per_year["cumulative_cash_flow_new"].tolist() == pytest.approx([-210.0, -120.0])
    assert f.payback_year is None
    assert f.npv_new == pytest.approx(-120.0)
    assert f.npv == pytest.approx(2 * 4990.0 - 120.0)


@pytest.mark.parametrize("target", [{3: 2500.0}, [None, None, 2500.0]])
def test_target_after_the_rollout_years(target):
    # year 3 sells 2000 (all three stores at full ramp) against 2500: shortfall 500;
    # an extra store opened in the last rollout year (2) is at full ramp in year 3 and is
    # valued at the lowest-selling quarter (ceil: 1 of 3) of the new stores: 400 -> 2 stores
    _, f = _three_stores(target)
    assert f.target_met is False
    assert f.shortfall == pytest.approx(500.0)
    assert f.per_year["extra_stores"].tolist() == [0, 0, 2]
    assert f.extra_stores == 2


def test_calendar_year_targets():
    _, f = _three_stores({2029: 1999.0}, start_year=2027)
    assert f.per_year["label"].tolist() == [2027, 2028, 2029]
    assert f.per_year["target"].isna().tolist() == [True, True, False]
    assert f.target_met is True
    with pytest.raises(ValueError, match="outside the horizon"):
        RolloutSpec(years=2, horizon_years=3, target_revenue={7: 1.0})


def test_stores_to_meet_target_by_rerunning_the_schedule():
    from storeplan.forecast import stores_to_meet_target

    rev = np.arange(100.0, 0.0, -10.0)  # 100, 90, ..., 10 per year
    spec = RolloutSpec(
        years=1,
        horizon_years=1,
        stores_per_year=2,
        ramp_months=0,
        gross_margin=1.0,
        target_revenue=[300.0],
        improve_seconds=0,
    )
    s = schedule(AdditiveOracle(rev), np.ones(10), np.zeros(10), spec)
    f = forecast(s)  # the schedule carries its oracle
    assert f.final_revenue == pytest.approx(190.0) and f.shortfall == pytest.approx(110.0)
    # 190 + 80 = 270 < 300 <= 190 + 80 + 70 = 340: two more stores
    assert stores_to_meet_target(s) == 2
    assert stores_to_meet_target(s, 1, max_extra=1) is None
    met = schedule(
        AdditiveOracle(rev),
        np.ones(10),
        np.zeros(10),
        RolloutSpec(**{**spec.model_dump(), "target_revenue": [150.0]}),
    )
    assert stores_to_meet_target(met) == 0
    far = schedule(
        AdditiveOracle(rev),
        np.ones(10),
        np.zeros(10),
        RolloutSpec(**{**spec.model_dump(), "target_revenue": [1e6]}),
    )
    assert stores_to_meet_target(far) is None
