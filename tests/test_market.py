"""Huff shares, capture, cannibalisation and calibration (storeplan.market)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeplan.errors import InputError, UnknownOptionError
from storeplan.geo import Network
from storeplan.market import (
    CANDIDATE,
    EXISTING,
    RIVAL,
    MarketParams,
    build_market,
    calibrate,
    cannibalisation,
    capture,
    decay,
    huff_shares,
    predicted_sales,
    revenue_inputs,
)


def _net(km_rows: list[list[float]], cols: list[list[int]], n_sites: int) -> Network:
    indptr = np.zeros(len(km_rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in km_rows])
    return Network(
        indptr=indptr,
        indices=np.concatenate([np.asarray(c, np.int32) for c in cols]),
        km=np.concatenate([np.asarray(r, np.float32) for r in km_rows]),
        n_areas=len(km_rows),
        n_sites=n_sites,
    )


def _frames(seed: int, n_areas=300, n_sites=40, n_existing=3, n_rivals=20, span=1.0):
    rng = np.random.default_rng(seed)

    def pts(k):
        return 113.0 + rng.random(k) * span, 23.0 + rng.random(k) * span

    lon, lat = pts(n_areas)
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n_areas)],
            "lon": lon,
            "lat": lat,
            "population": rng.lognormal(9.0, 1.0, n_areas),
            "level": rng.choice(["city", "county", "township"], n_areas),
            "online_orders": rng.poisson(40, n_areas).astype(float),
        }
    )
    lon, lat = pts(n_sites)
    sites = pd.DataFrame({"id": [f"s{j}" for j in range(n_sites)], "lon": lon, "lat": lat})
    lon, lat = pts(n_existing)
    existing = pd.DataFrame(
        {
            "id": [f"e{j}" for j in range(n_existing)],
            "lon": lon,
            "lat": lat,
            "format": rng.choice(["flagship", "standard", "partner"], n_existing),
        }
    )
    lon, lat = pts(n_rivals)
    rivals = pd.DataFrame(
        {
            "id": [f"r{j}" for j in range(n_rivals)],
            "brand": rng.choice(["BrandX", "BrandY"], n_rivals),
            "lon": lon,
            "lat": lat,
        }
    )
    return areas, sites, existing, rivals


# ------------------------------------------------------------------ hand computed


def test_huff_shares_hand_computed_three_stores():
    # one area; stores at 1, 2 and 4 km with A = 1, 2, 1; u = A d^-2 -> 1, 0.5, 0.0625
    net = _net([[1.0, 2.0, 4.0]], [[0, 1, 2]], 3)
    params = MarketParams(decay_by_level={}, default_decay=2.0, outside=0.25, min_km=0.5)
    sh = huff_shares(net, np.array([1.0, 2.0, 1.0]), params)
    # denominator 0.25 + 1 + 0.5 + 0.0625 = 1.8125 = 29/16
    np.testing.assert_allclose(sh.values, [16 / 29, 8 / 29, 1 / 29])
    np.testing.assert_allclose(sh.outside, [4 / 29])
    assert sh.denominator[0] == pytest.approx(1.8125)


def test_huff_shares_exponential_and_min_km():
    net = _net([[0.0, 10.0]], [[0, 1]], 2)
    p = MarketParams(decay="exponential", decay_by_level={}, default_decay=0.1, outside=0.0)
    sh = huff_shares(net, np.ones(2), p)
    e = np.exp(-1.0)
    np.testing.assert_allclose(sh.values, [1 / (1 + e), e / (1 + e)])
    # power decay clamps 0 km to min_km: 0 km and 1 km are equally attractive
    pw = MarketParams(decay_by_level={}, default_decay=2.0, outside=0.0, min_km=1.0)
    net2 = _net([[0.0, 1.0]], [[0, 1]], 2)
    np.testing.assert_allclose(huff_shares(net2, np.ones(2), pw).values, [0.5, 0.5])
    with pytest.raises(UnknownOptionError):
        decay(np.ones(2), 1.0, "gaussian")


def test_level_decay_townships_travel_less():
    # the same 5 km store vs the outside option: a township keeps less of its spending
    net = _net([[5.0], [5.0]], [[0], [0]], 1)
    sh = huff_shares(net, np.ones(1), MarketParams(), level=np.array(["city", "township"]))
    assert sh.values[0] > sh.values[1]


def test_affinity_scales_only_our_stores():
    net = _net([[2.0, 2.0]], [[0, 1]], 2)
    p = MarketParams(outside=0.0)
    sh = huff_shares(net, np.ones(2), p, affinity=np.array([3.0]), own=np.array([True, False]))
    np.testing.assert_allclose(sh.values, [0.75, 0.25])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 5.0), st.sampled_from(["power", "exponential"]))
def test_shares_sum_to_one_with_outside(seed, outside, kind):
    rng = np.random.default_rng(seed)
    n, m = 30, 12
    net = Network.build(rng.random(n), rng.random(n), rng.random(m), rng.random(m), k=5)
    p = MarketParams(decay=kind, decay_by_level={}, default_decay=0.5, outside=outside)
    active = rng.random(m) < 0.7
    sh = huff_shares(net, rng.uniform(0.1, 3.0, m), p, active=active)
    rows = np.repeat(np.arange(n), np.diff(net.indptr))
    total = np.bincount(rows, weights=sh.values, minlength=n) + sh.outside
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    assert np.all(sh.values[~active[net.indices]] == 0)


def test_matches_huff_package():
    pytest.importorskip("huff")
    from huff.data_management import load_interaction_matrix

    rng = np.random.default_rng(1)
    n, m = 4, 5
    A = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    km = rng.uniform(1.0, 20.0, (n, m))
    df = pd.DataFrame(
        [
            {"origin": f"o{i}", "dest": f"d{j}", "A": A[j], "km": km[i, j], "M": 100.0 + i}
            for i in range(n)
            for j in range(m)
        ]
    )
    im = load_interaction_matrix(
        data=df,
        customer_origins_col="origin",
        supply_locations_col="dest",
        attraction_col=["A"],
        transport_costs_col="km",
        transport_costs_metrics="distance",
        transport_costs_distance_unit="kilometers",
        market_size_col="M",
    )
    im.define_weightings(
        vars_funcs={
            0: {"name": "A_j", "func": "power", "param": 1},
            1: {"name": "t_ij", "func": "power", "param": -2},
        }
    )
    im.probabilities()
    theirs = im.get_interaction_matrix_df()
    theirs = theirs.assign(i=theirs["i"].str[1:].astype(int), j=theirs["j"].str[1:].astype(int)).sort_values(
        ["i", "j"]
    )
    order = np.argsort(km, axis=1)
    net = _net([list(km[i, order[i]]) for i in range(n)], [list(order[i]) for i in range(n)], m)
    ours = (
        huff_shares(net, A, MarketParams(decay_by_level={}, default_decay=2.0, outside=0.0, min_km=1e-3))
        .to_csr()
        .toarray()
    )
    # Network stores km as float32, hence the tolerance
    np.testing.assert_allclose(ours.ravel(), theirs["p_ij"].to_numpy(), rtol=1e-6)


# --------------------------------------------------------------------- capture


def test_market_layout_and_capture_totals():
    areas, sites, existing, rivals = _frames(0)
    mk = build_market(areas, sites, existing=existing, rivals=rivals)
    assert mk.n_candidates == len(sites)
    assert (mk.kind == CANDIDATE).sum() == len(sites)
    assert (mk.kind == EXISTING).sum() == len(existing)
    assert (mk.kind == RIVAL).sum() == len(rivals)
    cap = capture(mk, [0, 5, 7])
    own = cap.stores[cap.stores["kind"] != "rival"]
    assert set(own.loc[own["kind"] == "new", "index"]) == {0, 5, 7}
    assert own["offline_revenue"].sum() == pytest.approx(cap.own_offline, rel=1e-10)
    assert own["revenue"].sum() == pytest.approx(cap.own_revenue, rel=1e-10)
    assert cap.areas["own_share"].between(0, 1).all()
    shares = cap.areas[["own_share", "rival_share", "outside_share"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    assert (cap.stores.loc[cap.stores["kind"] == "rival", "online_transfer"] == 0).all()
    with pytest.raises(InputError):
        capture(mk, [len(sites)])


def test_adding_a_rival_never_raises_our_revenue():
    for seed in range(5):
        areas, sites, existing, rivals = _frames(seed)
        base = capture(build_market(areas, sites, existing=existing, rivals=rivals), [1, 2, 3])
        extra = pd.concat(
            [
                rivals,
                pd.DataFrame(
                    {"id": ["rnew"], "brand": ["BrandZ"], "lon": [sites.lon[1] + 0.01], "lat": [sites.lat[1]]}
                ),
            ],
            ignore_index=True,
        )
        more = capture(build_market(areas, sites, existing=existing, rivals=extra), [1, 2, 3])
        assert more.own_offline <= base.own_offline
        assert more.own_revenue <= base.own_revenue
        assert more.own_offline < base.own_offline  # a store 1 km from ours does bite


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 10_000),
    st.lists(st.integers(0, 29), min_size=0, max_size=6, unique=True),
    st.integers(0, 29),
)
def test_adding_our_store_never_lowers_total_own_revenue(seed, open_sites, extra):
    areas, sites, existing, rivals = _frames(seed % 50, n_areas=120, n_sites=30)
    mk = build_market(areas, sites, existing=existing, rivals=rivals)
    before = capture(mk, open_sites)
    after = capture(mk, sorted({*open_sites, extra}))
    tol = 1e-9 * max(1.0, before.own_revenue)
    assert after.own_revenue >= before.own_revenue - tol
    assert after.own_offline >= before.own_offline - tol


def test_new_store_can_lower_another_own_store():
    areas, sites, existing, rivals = _frames(3)
    mk = build_market(areas, sites, existing=existing, rivals=rivals)
    before = capture(mk, [4]).stores.set_index("index")["revenue"]
    # a new candidate next to site 4 takes some of its customers
    j = int(
        np.argmin(
            np.hypot(sites.lon - sites.lon[4], sites.lat - sites.lat[4]) + (np.arange(len(sites)) == 4) * 1e9
        )
    )
    after = capture(mk, [4, j]).stores.set_index("index")["revenue"]
    assert after[4] < before[4]
    assert capture(mk, [4, j]).own_revenue > capture(mk, [4]).own_revenue


def test_cannibalisation_accounting():
    areas, sites, existing, rivals = _frames(5)
    mk = build_market(areas, sites, existing=existing, rivals=rivals)
    new = [2, 9, 11, 30]
    cn = cannibalisation(mk, new)
    st_ = cn.stores
    lhs = st_["from_existing_stores"] + st_["from_online"] + st_["net_gain"]
    np.testing.assert_allclose(st_["revenue"], lhs, rtol=1e-10)
    assert (st_["from_existing_stores"] >= -1e-6).all()
    assert (st_["from_online"] >= 0).all()
    assert (st_["net_gain"] > 0).all()
    cap = capture(mk, new).stores.set_index("index")
    np.testing.assert_allclose(st_["revenue"], cap.loc[new, "revenue"], rtol=1e-10)
    # marginal (leave-one-out) net gain of a store = capture with all minus capture without it
    full = capture(mk, new).own_offline
    without = capture(mk, [2, 9, 11]).own_offline
    assert st_.set_index("index").loc[30, "marginal_net_gain"] == pytest.approx(full - without, rel=1e-9)
    # per-area shares before/after and the total
    assert (cn.areas["share_after"] >= cn.areas["share_before"] - 1e-12).all()
    assert cn.total_net_gain == pytest.approx(full - capture(mk, []).own_offline, rel=1e-9)
    # the per-store attributions sum exactly to the totals
    assert st_["net_gain"].sum() == pytest.approx(cn.total_net_gain, rel=1e-12)
    assert st_["from_online"].sum() == pytest.approx(cn.total_from_online, rel=1e-12)
    assert st_["from_existing_stores"].sum() == pytest.approx(cn.total_from_existing_stores, rel=1e-12)
    # what the new stores take from the existing ones is the drop of the existing stores' revenue
    ex_before = capture(mk, []).stores.set_index("id")
    ex_after = capture(mk, new).stores.set_index("id")
    ex_ids = cn.existing["id"]
    drop = (ex_before.loc[ex_ids, "revenue"] - ex_after.loc[ex_ids, "revenue"]).sum()
    assert cn.total_from_existing_stores == pytest.approx(drop, rel=1e-9)
    assert cn.existing["taken_by_new_stores"].sum() == pytest.approx(drop, rel=1e-9)
    # and the online part is the increase of the online transfer
    d_online = capture(mk, new).online_transfer - capture(mk, []).online_transfer
    assert cn.total_from_online == pytest.approx(d_online, rel=1e-9)


def test_single_store_without_own_network_takes_nothing_from_existing_stores():
    areas, sites, _, rivals = _frames(6)
    mk = build_market(areas, sites, rivals=rivals)
    row = cannibalisation(mk, [3]).stores.iloc[0]
    assert row["from_existing_stores"] == pytest.approx(0.0, abs=1e-6 * row["revenue"])
    assert row["from_online"] > 0  # the areas have online orders and transfer_rate > 0


def test_revenue_inputs_reproduce_capture():
    areas, sites, existing, rivals = _frames(7)
    mk = build_market(areas, sites, existing=existing, rivals=rivals)
    ri = revenue_inputs(mk)
    x = np.zeros(len(sites))
    x[[1, 4, 8]] = 1.0
    U = ri["utility"] @ x
    f = np.sum(ri["weight"] * (ri["base_own"] + U) / (ri["base_total"] + U))
    assert f == pytest.approx(capture(mk, [1, 4, 8]).own_offline, rel=1e-10)


# ------------------------------------------------------------------ calibration


def test_calibration_recovers_known_parameters():
    areas, sites, existing, rivals = _frames(11, n_areas=800, n_sites=1, n_existing=45, n_rivals=25)
    levels = ("country", "region", "city", "county", "township")
    truth = MarketParams(
        decay_by_level=dict.fromkeys(levels, 1.6),
        default_decay=1.6,
        outside=0.3,
        format_attractiveness={"flagship": 2.5, "standard": 1.0, "partner": 0.6},
    )
    mk_true = build_market(areas, sites, existing=existing, rivals=rivals, params=truth)
    sales = predicted_sales(mk_true)[mk_true.kind == EXISTING]
    observed = pd.DataFrame({"id": existing["id"], "annual_sales": sales})
    start = build_market(areas, sites, existing=existing, rivals=rivals)  # default params
    fitted, report = calibrate(start, observed, fit_scale=False, folds=0)
    assert report.success
    assert fitted.level_decay()["city"] == pytest.approx(1.6, rel=0.02)
    assert fitted.outside == pytest.approx(0.3, rel=0.05)
    assert fitted.format_attractiveness["flagship"] == pytest.approx(2.5, rel=0.05)
    assert fitted.format_attractiveness["partner"] == pytest.approx(0.6, rel=0.05)
    assert report.r2 > 0.999
    assert report.mape < 0.01
    assert report.n_stores == 45
    # and the default start is visibly wrong, so the test can fail
    pred0 = predicted_sales(start)[start.kind == EXISTING]
    assert np.mean(np.abs(pred0 - sales) / sales) > 0.05


def test_calibration_rejects_bad_input():
    areas, sites, existing, rivals = _frames(12)
    mk = build_market(areas, sites, existing=existing, rivals=rivals)
    with pytest.raises(InputError):
        calibrate(mk, pd.DataFrame({"id": ["nope"], "annual_sales": [1.0]}))
    with pytest.raises(InputError):
        calibrate(mk, pd.DataFrame({"id": ["e0"]}))


def test_store_attractiveness_by_format_brand_and_override():
    areas, sites, existing, rivals = _frames(13, n_existing=2, n_rivals=3)
    existing["format"] = ["flagship", "partner"]
    rivals["brand"] = ["BrandX", "BrandY", "BrandZ"]
    rivals["attractiveness"] = [np.nan, np.nan, 0.7]
    params = MarketParams(brand_attractiveness={"BrandX": 1.5})
    mk = build_market(areas, sites, existing=existing, rivals=rivals, params=params)
    n = len(sites)
    np.testing.assert_allclose(mk.attractiveness[n:], [4.0, 0.5, 1.5, 1.0, 0.7])
    assert np.all(mk.attractiveness[:n] == 1.0)  # candidates open as "standard"
    existing["format"] = ["kiosk", "partner"]
    with pytest.raises(UnknownOptionError):
        build_market(areas, sites, existing=existing, rivals=rivals)


def test_calibration_recovers_decay_per_level():
    areas, sites, existing, rivals = _frames(11, n_areas=1500, n_sites=1, n_existing=60, n_rivals=25)
    truth = MarketParams(
        decay_by_level={"city": 1.5, "county": 2.0, "township": 2.6},
        outside=0.2,
        format_attractiveness={"flagship": 2.5, "standard": 1.0, "partner": 0.6},
    )
    mk_true = build_market(areas, sites, existing=existing, rivals=rivals, params=truth)
    sales = predicted_sales(mk_true)[mk_true.kind == EXISTING]
    observed = pd.DataFrame({"id": existing["id"], "annual_sales": sales})
    start = build_market(areas, sites, existing=existing, rivals=rivals)
    fitted, report = calibrate(start, observed, fit_decay="level", fit_scale=False, folds=0)
    got = fitted.level_decay()
    for lvl, want in {"city": 1.5, "county": 2.0, "township": 2.6}.items():
        assert got[lvl] == pytest.approx(want, rel=0.02)
    assert report.fitted["outside"] == pytest.approx(0.2, rel=0.05)


def test_outside_option_scales_with_population():
    # two identical areas 1 km from one store; the bigger one keeps more spending outside
    areas = pd.DataFrame(
        {
            "id": ["small", "big"],
            "lon": [113.0, 113.0],
            "lat": [23.0, 23.0],
            "population": [20_000.0, 2_000_000.0],
        }
    )
    sites = pd.DataFrame({"id": ["s"], "lon": [113.0], "lat": [23.0]})
    params = MarketParams(outside=0.05, outside_per_100k=3.0)
    mk = build_market(areas, sites, params=params)
    np.testing.assert_allclose(mk.outside_u, [0.05 + 0.6, 0.05 + 60.0])
    share = capture(mk, [0]).areas["own_share"].to_numpy()
    # u = 1 (A = 1, d clamped to min_km = 1 km): share = 1 / (1 + u0)
    np.testing.assert_allclose(share, [1 / 1.65, 1 / 61.05])
    ri = revenue_inputs(mk)
    np.testing.assert_allclose(ri["base_total"], mk.outside_u)
    plain = build_market(areas, sites)
    np.testing.assert_allclose(plain.outside_u, [0.05, 0.05])


def test_calibration_recovers_the_market_scale_and_reports_out_of_sample_error():
    # sales at twice the demand model's level: a scale of 2, not a distorted decay
    areas, sites, existing, rivals = _frames(11, n_areas=800, n_sites=1, n_existing=45, n_rivals=25)
    levels = ("country", "region", "city", "county", "township")
    truth = MarketParams(
        decay_by_level=dict.fromkeys(levels, 1.6),
        default_decay=1.6,
        outside=0.3,
        format_attractiveness={"flagship": 2.5, "standard": 1.0, "partner": 0.6},
        market_scale=2.0,
    )
    mk_true = build_market(areas, sites, existing=existing, rivals=rivals, params=truth)
    sales = predicted_sales(mk_true)[mk_true.kind == EXISTING]
    observed = pd.DataFrame({"id": existing["id"], "annual_sales": sales})
    start = build_market(areas, sites, existing=existing, rivals=rivals)
    fitted, report = calibrate(start, observed, folds=3)
    assert fitted.market_scale == pytest.approx(2.0, rel=0.03)
    assert fitted.level_decay()["city"] == pytest.approx(1.6, rel=0.03)
    assert report.r2 > 0.99 and report.cv_r2 > 0.95
    assert np.all(np.isfinite(report.table["predicted_oos"]))
    assert report.acceptable(0.3)


def test_calibration_on_random_sales_is_not_acceptable_and_too_few_stores_is_an_error():
    areas, sites, existing, rivals = _frames(11, n_areas=800, n_sites=1, n_existing=45, n_rivals=25)
    rng = np.random.default_rng(0)
    observed = pd.DataFrame({"id": existing["id"], "annual_sales": rng.uniform(1e6, 1e8, len(existing))})
    start = build_market(areas, sites, existing=existing, rivals=rivals)
    _, report = calibrate(start, observed, folds=0)
    assert not report.acceptable(0.3)
    with pytest.raises(InputError, match="parameters .* but only 3 stores with sales"):
        calibrate(start, observed.iloc[:3])
