"""The nested-logit channel model (storeplan.market.channel): reduction, shares, accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeplan.market import MarketParams, build_market, cannibalisation, capture
from storeplan.market.calibration import predicted_sales
from storeplan.market.channel import ChannelParams, calibrate_channel, channel_state


def _market(seed: int, channel: ChannelParams | None = None, n_areas: int = 25, transfer: float = 0.15):
    rng = np.random.default_rng(seed)
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n_areas)],
            "lon": 110 + rng.uniform(0, 0.6, n_areas),
            "lat": 30 + rng.uniform(0, 0.6, n_areas),
            "population": rng.integers(5_000, 80_000, n_areas).astype(float),
            "online_orders": rng.integers(0, 3_000, n_areas).astype(float),
        }
    )
    sites = areas.sample(8, random_state=seed)[["id", "lon", "lat"]].reset_index(drop=True)
    existing = pd.DataFrame({"id": ["e0", "e1"], "lon": [110.1, 110.5], "lat": [30.1, 30.4]})
    rivals = pd.DataFrame(
        {
            "id": ["r0", "r1", "r2"],
            "brand": ["X", "Y", "X"],
            "lon": [110.2, 110.4, 110.3],
            "lat": [30.3, 30.2, 30.5],
        }
    )
    params = MarketParams(outside=0.05, radius_km=200, k=50, transfer_rate=transfer, channel=channel)
    return build_market(areas, sites, existing=existing, rivals=rivals, params=params)


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = [c for c in a.columns if c in b.columns]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), rtol=1e-12)


@pytest.mark.parametrize("transfer", [0.0, 0.15, 0.6])
def test_reduces_exactly_to_the_fixed_transfer(transfer):
    """nest = 0, halo = 0 and store_rate = transfer_rate: every figure of today's model."""
    plain = _market(3, None, transfer=transfer)
    nested = _market(3, ChannelParams(nest=0.0, halo=0.0), transfer=transfer)
    new = [0, 2, 5]
    a, b = capture(plain, new), capture(nested, new)
    _frames_equal(a.stores, b.stores)
    _frames_equal(a.areas, b.areas)
    assert (a.own_offline, a.own_revenue, a.online_transfer) == pytest.approx(
        (b.own_offline, b.own_revenue, b.online_transfer), rel=1e-12
    )
    c, d = cannibalisation(plain, new), cannibalisation(nested, new)
    _frames_equal(c.stores, d.stores)
    _frames_equal(c.existing, d.existing)
    _frames_equal(c.areas, d.areas)
    assert np.allclose(d.stores["adds_online"], 0.0)
    for name in ("total_net_gain", "total_from_existing_stores", "total_from_online", "total_new_revenue"):
        assert getattr(c, name) == pytest.approx(getattr(d, name), rel=1e-12, abs=1e-9)
    np.testing.assert_allclose(predicted_sales(plain, new), predicted_sales(nested, new), rtol=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 50),
    rate=st.floats(0.0, 1.0),
    nest=st.floats(0.0, 1.0),
    halo=st.floats(0.0, 1.0),
    halo_km=st.floats(1.0, 60.0),
    sites=st.sets(st.integers(0, 7), max_size=8),
)
def test_shares_sum_to_one_and_the_accounts_add_up(seed, rate, nest, halo, halo_km, sites):
    m = _market(seed, ChannelParams(store_rate=rate, nest=nest, halo=halo, halo_km=halo_km), n_areas=12)
    new = sorted(sites)
    for state in (channel_state(m, None), channel_state(m, new)):
        sh = state.shares()
        np.testing.assert_allclose(sh.sum(axis=1), 1.0, rtol=1e-12)
        assert ((sh.to_numpy() >= -1e-12) & (sh.to_numpy() <= 1 + 1e-12)).all()
        assert ((state.offline_rate >= 0) & (state.offline_rate <= 1)).all()
    can = cannibalisation(m, new)
    s = can.stores
    # revenue = from_existing_stores + from_online + net_gain, per store and in total
    np.testing.assert_allclose(
        s["revenue"], s["from_existing_stores"] + s["from_online"] + s["net_gain"], rtol=1e-9, atol=1e-6
    )
    assert can.total_new_revenue == pytest.approx(
        can.total_from_existing_stores + can.total_from_online + can.total_net_gain, rel=1e-9, abs=1e-6
    )
    assert s["from_online"].sum() == pytest.approx(can.total_from_online, rel=1e-9, abs=1e-6)
    # web shop: after - before = adds_online - from_online (the halo credited to new stores)
    a = can.areas
    web0 = (a["online_before"] * (1 - a["offline_rate_before"] * a["share_before"])).sum()
    web1 = (a["online_after"] * (1 - a["offline_rate_after"] * a["share_after"])).sum()
    assert web1 - web0 == pytest.approx(s["adds_online"].sum() - s["from_online"].sum(), rel=1e-9, abs=1e-6)
    # the capture's store revenues are the same numbers
    cap = capture(m, new)
    by_id = cap.stores.set_index("id")["revenue"]
    np.testing.assert_allclose(by_id.loc[s["id"]].to_numpy(), s["revenue"].to_numpy(), rtol=1e-9, atol=1e-6)


def test_a_denser_offline_nest_pulls_online_customers_into_stores():
    m = _market(1, ChannelParams(store_rate=0.2, nest=0.8))
    before, after = channel_state(m, None), channel_state(m, list(range(8)))
    assert (after.offline_rate >= before.offline_rate - 1e-12).all()
    assert after.offline_rate.mean() > before.offline_rate.mean()
    assert after.web_revenue.sum() < before.web_revenue.sum()
    # the more the nest matters, the more the new stores take from the web shop
    weak = cannibalisation(_market(1, ChannelParams(store_rate=0.2, nest=0.1)), list(range(8)))
    strong = cannibalisation(m, list(range(8)))
    assert strong.total_from_online > weak.total_from_online > 0


def test_halo_lifts_online_demand_where_the_brand_was_little_known():
    m = _market(2, ChannelParams(nest=0.0, halo=0.5, halo_km=20.0))
    st0, st1 = channel_state(m, None), channel_state(m, list(range(8)))
    lift = st1.online - st0.online
    assert (lift >= -1e-9).all() and lift.sum() > 0
    pop = m.population
    national = m.online.sum() / pop.sum()
    known = m.online >= pop * national  # at or above the national rate: no halo
    assert np.allclose(lift[known], 0.0)
    can = cannibalisation(m, list(range(8)))
    assert can.stores["adds_online"].sum() > 0
    assert can.stores["adds_online"].sum() <= lift.sum() + 1e-6


def test_calibration_recovers_known_parameters():
    truth = ChannelParams(store_rate=0.3, nest=0.6, reference_utility=1.0)
    rng = np.random.default_rng(0)
    n = 60
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n)],
            "lon": 110 + rng.uniform(0, 1.5, n),
            "lat": 30 + rng.uniform(0, 1.5, n),
            "population": rng.integers(5_000, 80_000, n).astype(float),
            "online_orders": rng.integers(500, 3_000, n).astype(float),
        }
    )
    k = 12
    existing = areas.sample(k, random_state=1)[["id", "lon", "lat"]].assign(id=[f"e{i}" for i in range(k)])
    sites = areas.iloc[:3][["id", "lon", "lat"]]
    rivals = pd.DataFrame(
        {"id": ["r0", "r1"], "brand": ["X", "Y"], "lon": [110.5, 111.0], "lat": [30.5, 31.0]}
    )
    params = MarketParams(outside=0.05, radius_km=60, k=20, channel=truth)
    m = build_market(areas, sites, existing=existing, rivals=rivals, params=params)
    sales = pd.Series(predicted_sales(m), index=m.store_ids)[existing["id"]]
    fit = calibrate_channel(
        m, sales, fit_halo=False, params=ChannelParams(store_rate=0.1, nest=0.2, reference_utility=1.0)
    )
    assert fit.success and fit.n_stores == k
    assert fit.params.store_rate == pytest.approx(0.3, rel=0.02)
    assert fit.params.nest == pytest.approx(0.6, abs=0.03)
    assert fit.sales_r2 > 0.999
    with pytest.raises(Exception, match="at least 3"):
        calibrate_channel(m, sales.iloc[:2])


# ------------------------------------------------------------------ through the pipeline
def _towns() -> pd.DataFrame:
    lon, lat = np.meshgrid([110.0, 110.1, 110.2, 110.3], [30.0, 30.1, 30.2])
    orders = np.array([900, 50, 40, 600, 30, 20, 10, 700, 60, 25, 15, 5], dtype=float)
    return pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(12)],
            "lon": lon.ravel(),
            "lat": lat.ravel(),
            "population": 10_000.0 * np.arange(1, 13),
            "online_orders": orders,
        }
    )


RIVALS = pd.DataFrame({"id": ["r1", "r2"], "brand": ["X", "Y"], "lon": [110.1, 110.3], "lat": [30.1, 30.2]})


def _plan(channel=None):
    from storeplan import Scenario, solve

    market = {} if channel is None else {"channel": channel}
    scn = Scenario.from_frames(
        _towns(), rivals=RIVALS, objective={"kind": "revenue", "stores": 3}, market=market
    )
    return solve(scn)


@pytest.mark.filterwarnings("ignore::storeplan.errors.GapWarning")
def test_channel_through_the_pipeline(tmp_path):
    import json

    from storeplan import Plan

    plain = _plan()
    same = _plan({"nest": 0.0, "halo": 0.0})
    cols = [c for c in plain.stores.columns if c != "adds_online"]
    pd.testing.assert_frame_equal(plain.stores[cols], same.stores[cols], rtol=1e-12)
    for key in ("own_revenue", "taken_from_online", "net_gain", "new_store_revenue", "web_revenue"):
        assert plain.metrics[key] == pytest.approx(same.metrics[key], rel=1e-12)

    plan = _plan({"store_rate": 0.2, "nest": 0.7, "halo": 0.4, "halo_km": 12.0})
    m, s = plan.metrics, plan.stores
    new = s["status"] == "new"
    assert m.taken_from_online == pytest.approx(s.loc[new, "from_online"].sum(), rel=1e-12)
    assert m.added_online == pytest.approx(s.loc[new, "adds_online"].sum(), rel=1e-12)
    assert m.added_online > 0
    assert m.new_store_revenue == pytest.approx(
        m.taken_from_existing_stores + m.taken_from_online + m.net_gain, rel=1e-9
    )
    assert m.web_revenue - m.web_revenue_before == pytest.approx(
        m.added_online - m.taken_from_online, rel=1e-9
    )
    a = plan.assignment
    for when in ("before", "after"):
        total = sum(a[f"{c}_share_{when}"] for c in ("web", "store", "rival", "outside"))
        np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    assert (a["store_share_after"] >= a["store_share_before"] - 1e-12).all()
    out = tmp_path / "out"
    plan.save(out)
    csv = pd.read_csv(out / "plan.csv")
    assert csv["adds_online"].sum() == pytest.approx(m.added_online, rel=1e-9)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["added_online"] == pytest.approx(csv["adds_online"].sum(), rel=1e-9)
    assert summary["taken_from_online"] == pytest.approx(csv["from_online"].sum(), rel=1e-9)
    assert Plan.load(out).metrics.added_online == pytest.approx(m.added_online, rel=1e-12)
    # the report's web-shop card reads the same numbers
    import re

    from storeplan.report import write as report_write

    report_write(plan, out, map=False, pdf=False)
    page = (out / "report.html").read_text(encoding="utf-8")
    card = re.search(r'data-value="([^"]+)"><div class="label">Web shop revenue per year</div>', page)
    assert card is not None and float(card.group(1)) == pytest.approx(summary["web_revenue"], rel=1e-12)
    assert "their halo adds" in page


@pytest.mark.filterwarnings("ignore::storeplan.errors.GapWarning")
def test_channel_calibration_in_the_pipeline_is_reported():
    from storeplan import Scenario, solve
    from storeplan.errors import CalibrationWarning
    from storeplan.metrics import ChannelFitSummary

    truth = ChannelParams(store_rate=0.25, nest=0.5)
    towns = _towns()
    existing = pd.DataFrame(
        {"id": ["e0", "e1", "e2", "e3"], "lon": [110.0, 110.3, 110.1, 110.2], "lat": [30.0, 30.2, 30.1, 30.0]}
    )
    market = {"channel": truth.model_dump()}
    scn = Scenario.from_frames(
        towns, existing=existing, rivals=RIVALS, objective={"kind": "revenue", "stores": 2}, market=market
    )
    # observed sales made by the true model: the fit recovers it and the plan reports it
    from storeplan.pipeline import build_market, build_problem

    m, _ = build_market(scn, build_problem(scn))
    sales = pd.Series(predicted_sales(m), index=m.store_ids)[existing["id"]].to_numpy()
    fit_market = {"channel": {**truth.model_dump(), "store_rate": 0.1, "nest": 0.1, "calibrate": True}}
    scn = Scenario.from_frames(
        towns,
        existing=existing.assign(annual_sales=sales),
        rivals=RIVALS,
        objective={"kind": "revenue", "stores": 2},
        market=fit_market,
        calibration={"enabled": False},
    )
    plan = solve(scn)
    f = plan.metrics.channel_fit
    assert isinstance(f, ChannelFitSummary) and f.n_stores == 4
    assert f.store_rate == pytest.approx(0.25, rel=0.02) and f.nest == pytest.approx(0.5, abs=0.03)
    assert f.sales_r2 > 0.999 and f.n_areas == 12
    with pytest.warns(CalibrationWarning, match="annual_sales"):
        solve(Scenario.from_frames(towns, objective={"kind": "revenue", "stores": 2}, market=fit_market))
