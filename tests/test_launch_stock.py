"""Launch stock: newsvendor with a shared supply limit (storeplan.launch_stock)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.optimize import minimize

from storeplan.errors import InputError, MissingColumnError
from storeplan.launch_stock import WEB_SHOP_ID, LaunchSpec, allocate, channel_demand, launch_stock
from storeplan.report import write as report_write

MU = np.array([40.0, 120.0, 5.0, 300.0])
SD = np.array([12.0, 30.0, 4.0, 45.0])


@pytest.mark.parametrize("dist", ["gamma", "normal"])
def test_ample_supply_gives_the_critical_fractile_quantiles(dist):
    cu, co = 3.0, 1.0
    res = allocate(MU, SD, 1e9, lost_sale_cost=cu, leftover_cost=co, distribution=dist, integer=False)
    if dist == "gamma":
        expect = stats.gamma.ppf(0.75, (MU / SD) ** 2, scale=SD**2 / MU)
    else:
        expect = stats.norm.ppf(0.75, MU, SD)
    np.testing.assert_allclose(res.units, expect, rtol=1e-12)
    assert res.multiplier == 0.0
    np.testing.assert_allclose(res.service_level, 0.75, rtol=1e-9)


def test_short_supply_sums_to_the_supply_and_equalises_marginal_value():
    cu, co, supply = 3.0, 1.0, 300.0
    res = allocate(MU, SD, supply, lost_sale_cost=cu, leftover_cost=co, integer=False)
    assert res.units.sum() == pytest.approx(supply, abs=1e-6)
    assert 0 < res.multiplier < cu
    # KKT: every uncapped channel with units has marginal value cu - (cu + co) F(q) = lambda
    marginal = cu - (cu + co) * res.service_level
    np.testing.assert_allclose(marginal, res.multiplier, rtol=1e-6)


def test_short_supply_is_the_optimum_of_the_concave_programme():
    """Cross-check against a general-purpose solver on the expected profit."""
    cu, co, supply = 5.0, 2.0, 250.0
    res = allocate(MU, SD, supply, lost_sale_cost=cu, leftover_cost=co, distribution="normal", integer=False)

    def neg_profit(q):
        z = (q - MU) / SD
        short = SD * (z * stats.norm.cdf(z) + stats.norm.pdf(z))
        sales = q - short
        return -float(np.sum(cu * sales - co * (q - sales)))

    ref = minimize(
        neg_profit,
        np.full(4, supply / 4),
        method="SLSQP",
        bounds=[(0, 3 * m) for m in MU],
        constraints=[{"type": "ineq", "fun": lambda q: supply - q.sum()}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    assert neg_profit(res.units) <= ref.fun + 1e-6
    np.testing.assert_allclose(res.units, ref.x, atol=1e-3)


@settings(max_examples=40, deadline=None)
@given(
    mu=st.lists(st.floats(0.0, 500.0), min_size=1, max_size=12),
    supply=st.integers(0, 3000),
    cv=st.floats(0.0, 1.5),
    mult=st.floats(0.5, 4.0),
    ratio=st.floats(0.05, 0.95),
)
def test_whole_units_respect_supply_cap_and_fill_the_supply_when_short(mu, supply, cv, mult, ratio):
    m = np.array(mu)
    sd = np.sqrt(m + (cv * m) ** 2)
    res = allocate(m, sd, supply, lost_sale_cost=ratio, leftover_cost=1 - ratio, max_multiple=mult)
    q = res.units
    assert np.all(q == np.round(q)) and np.all(q >= 0)
    assert q.sum() <= supply + 1e-9
    assert np.all(q <= mult * m + 1e-9)
    free = allocate(
        m, sd, 1e12, lost_sale_cost=ratio, leftover_cost=1 - ratio, max_multiple=mult, integer=False
    )
    if free.units.sum() > supply:  # short: every unit goes out
        assert q.sum() == supply
    np.testing.assert_allclose(res.expected_sales + res.expected_lost_sales, m, atol=1e-6)
    np.testing.assert_allclose(res.expected_sales + res.expected_leftover, q, atol=1e-6)


def test_cap_on_a_multiple_of_the_forecast():
    res = allocate(
        np.array([10.0, 10.0]),
        np.array([50.0, 1.0]),
        1e6,
        lost_sale_cost=99,
        leftover_cost=1,
        max_multiple=2.0,
        integer=False,
    )
    assert res.units[0] == pytest.approx(20.0)
    assert res.units[1] < 20.0


def test_expected_sales_match_monte_carlo():
    rng = np.random.default_rng(0)
    res = allocate(MU, SD, 400, lost_sale_cost=3, leftover_cost=1, integer=True)
    k, th = (MU / SD) ** 2, SD**2 / MU
    draws = rng.gamma(k, th, size=(200_000, 4))
    mc = np.minimum(draws, res.units).mean(axis=0)
    np.testing.assert_allclose(res.expected_sales, mc, rtol=0.01)


def _stores():
    return pd.DataFrame(
        {
            "id": ["e1", "n1", "n2"],
            "status": ["existing", "new", "new"],
            "revenue": [4e6, 2e6, 2e6],
            "revenue_phones": [3e6, 1e6, 1e6],
        }
    )


def test_channel_demand_splits_by_revenue_and_scales_with_lead_time():
    spec = LaunchSpec(supply=100, demand_units=1000, lost_sale_cost=2, leftover_cost=1)
    d = channel_demand(_stores(), 2e6, spec)
    assert d["id"].tolist() == ["e1", "n1", "n2", WEB_SHOP_ID]
    np.testing.assert_allclose(d["mean_demand"], [400, 200, 200, 200])
    assert d["mean_demand"].sum() == pytest.approx(1000)
    # the new stores' forecast is less certain
    cv = np.sqrt(d["sd_demand"] ** 2 - d["mean_demand"]) / d["mean_demand"]
    np.testing.assert_allclose(cv, [0.25, 0.5, 0.5, 0.15])
    lead = channel_demand(_stores(), 2e6, spec.model_copy(update={"lead_time_days": 7}))
    np.testing.assert_allclose(lead["mean_demand"], [100, 50, 50, 200])
    cat = channel_demand(_stores(), 2e6, spec.model_copy(update={"category": "phones"}))
    # web shop with the stores' category mix: 2e6 * 5/8
    np.testing.assert_allclose(cat["revenue_weight"], [3e6, 1e6, 1e6, 1.25e6])


def test_launch_stock_table_totals_and_errors():
    spec = LaunchSpec(supply=700, demand_units=1000, lost_sale_cost=2, leftover_cost=1)
    ls = launch_stock(_stores(), 2e6, spec)
    h = ls.headline()
    assert h["allocated_units"] == 700 and h["reserve_units"] == 0
    assert h["expected_sales_units"] == pytest.approx(ls.table["expected_sales"].sum())
    assert h["expected_lost_sales_units"] == pytest.approx(1000 - h["expected_sales_units"])
    assert 0 < h["sell_through"] <= 1 and h["supply_value_per_unit"] > 0
    with pytest.raises(MissingColumnError, match="revenue_tv"):
        launch_stock(_stores(), 0.0, spec.model_copy(update={"category": "tv"}))
    with pytest.raises(InputError, match="no store"):
        launch_stock(_stores().assign(revenue=0.0), 0.0, spec)
    with pytest.raises(InputError):
        allocate(np.array([-1.0]), np.array([1.0]), 5, lost_sale_cost=1, leftover_cost=1)


# ------------------------------------------------------------------ through the pipeline
def _towns() -> pd.DataFrame:
    lon, lat = np.meshgrid([110.0, 110.2, 110.4], [30.0, 30.2, 30.4])
    return pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(9)],
            "lon": lon.ravel(),
            "lat": lat.ravel(),
            "population": 10_000.0 * np.arange(1, 10),
            "online_orders": [5, 0, 10, 50, 5, 5, 20, 1, 8],
        }
    )


def test_launch_stock_in_plan_files_and_report(tmp_path):
    from storeplan import Plan, Scenario, solve

    launch = {
        "product": "Phone 15",
        "supply": 900,
        "demand_units": 1500,
        "lost_sale_cost": 900,
        "leftover_cost": 300,
        "category": "phones",
    }
    scn = Scenario.from_frames(
        _towns(),
        existing=pd.DataFrame({"id": ["s0"], "lon": [110.0], "lat": [30.0]}),
        rivals=pd.DataFrame({"id": ["r1"], "brand": ["X"], "lon": [110.2], "lat": [30.2]}),
        objective={"kind": "revenue", "stores": 3},
        launch=launch,
    )
    plan = solve(scn)
    ls = plan.launch_stock
    assert ls.table["id"].tolist()[:-1] == plan.stores["id"].tolist()
    assert ls.table["id"].iloc[-1] == WEB_SHOP_ID
    assert ls.table["units"].sum() == 900  # 900 units for 1,500 expected: short, all go out
    h = plan.metrics["launch"]
    assert h["allocated_units"] == 900 and h["expected_sales_units"] <= 900
    out = tmp_path / "out"
    plan.save(out)
    report_write(plan, out)
    csv = pd.read_csv(out / "launch_stock.csv", dtype={"id": str})
    assert csv["units"].sum() == h["allocated_units"]
    assert csv["expected_lost_sales"].sum() == pytest.approx(h["expected_lost_sales_units"], rel=1e-9)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Launch stock: Phone 15" in html and "launch_stock.csv" in html
    loaded = Plan.load(out)
    assert loaded.metrics["launch"]["supply_units"] == 900


def test_launch_category_is_checked_at_the_boundary():
    from storeplan import Scenario
    from storeplan.errors import UnknownOptionError

    with pytest.raises(UnknownOptionError, match="launch.category 'cars'"):
        Scenario.from_frames(
            _towns(),
            objective={"kind": "revenue", "stores": 2},
            launch={
                "supply": 10,
                "demand_units": 10,
                "lost_sale_cost": 1,
                "leftover_cost": 1,
                "category": "cars",
            },
        )
    with pytest.raises(InputError, match="supply"):
        Scenario.from_frames(
            _towns(), launch={"supply": 0, "demand_units": 1, "lost_sale_cost": 1, "leftover_cost": 1}
        )
