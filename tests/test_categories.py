"""Attractiveness per product category per format (issue 10, item 2).

A format's ``category_attractiveness`` multiplies its attractiveness per demand category
(0: the format does not sell it). The market then gives every (category, area) pair its
own Huff shares; these tests check the shares against the formula worked out by hand,
that a uniform multiplier changes nothing, that a format never sells what it does not
carry, that the per-category revenues add up to the offline revenue in the plan, that
the solver's site-and-format choice is the brute-force optimum on a tiny instance, and
that what cannot be modelled is refused by name.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storeplan.demand import DemandParams, brand_affinity, offline_spending
from storeplan.errors import UnknownOptionError, UnsupportedConstraintError
from storeplan.market import MarketParams, build_market, cannibalisation, capture
from storeplan.pipeline import solve
from storeplan.scenario import Scenario

AREAS = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "lon": [110.00, 110.05, 110.12],
        "lat": [20.00, 20.00, 20.03],
        "population": [10_000, 20_000, 40_000],
        "level": ["county", "township", "city"],
    }
)
SITES = pd.DataFrame({"id": ["s1", "s2", "s3"], "lon": [110.0, 110.05, 110.12], "lat": [20.0, 20.0, 20.03]})
RIVALS = pd.DataFrame({"id": ["r1"], "brand": ["X"], "lon": [110.02], "lat": [20.01]})
FORMATS = {"standard": 1.0, "partner": 0.5, "ecosystem": 2.0}
PARTNER_NO_TV = {"partner": {"tv_home": 0.0, "smart_home": 0.5}}


def _params(categories=None, **kw) -> MarketParams:
    return MarketParams(
        format_attractiveness=FORMATS,
        default_format="standard",
        category_attractiveness=categories or {},
        decay_by_level={},
        default_decay=2.0,
        outside=0.05,
        **kw,
    )


def _market(categories=None, formats=("standard", "partner", "ecosystem"), **kw):
    return build_market(
        AREAS,
        SITES,
        rivals=RIVALS,
        params=_params(categories, **kw),
        candidate_format=np.asarray(formats, dtype=object),
    )


def _hand_capture(categories, formats, open_sites, demand=None):
    """Offline revenue of every open candidate, worked out with the Huff formula per
    category: P_ijc = u_ijc / (u_0 + sum_k u_ikc), u_ijc = a_i A_j m_jc d_ij^-2."""
    demand = demand or DemandParams()
    off = offline_spending(AREAS, demand)
    aff = brand_affinity(AREAS, demand)
    lon = np.r_[SITES["lon"], RIVALS["lon"]]
    lat = np.r_[SITES["lat"], RIVALS["lat"]]
    out = np.zeros(len(SITES))
    for i, area in AREAS.iterrows():
        km = _haversine(area["lon"], area["lat"], lon, lat)
        f = np.maximum(km, 1.0) ** -2.0
        for cat in demand.category_names:
            u = np.zeros(len(lon))
            for j in open_sites:
                m = categories.get(formats[j], {}).get(cat, 1.0)
                u[j] = aff[i] * FORMATS[formats[j]] * m * f[j]
            u[-1] = 1.0 * f[-1]  # the rival sells everything
            share = u / (0.05 + u.sum())
            out += off.loc[i, cat] * share[: len(SITES)]
    return out


def _haversine(lon0, lat0, lon, lat):
    r = 6371.0088
    p0, p = np.radians(lat0), np.radians(lat)
    dl, dp = np.radians(lon - lon0), p - p0
    h = np.sin(dp / 2) ** 2 + np.cos(p0) * np.cos(p) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(h))


def test_segmented_shares_equal_the_formula_by_hand():
    formats = ("standard", "partner", "ecosystem")
    cats = {**PARTNER_NO_TV, "ecosystem": {"tv_home": 3.0}}
    m = _market(cats, formats)
    assert m.segments == ("phones", "tv_home", "smart_home")
    assert m.n_areas == 3 * len(AREAS) and m.n_geo_areas == len(AREAS)
    cap = capture(m, [0, 1, 2]).stores.set_index("id")
    expect = _hand_capture(cats, formats, [0, 1, 2])
    np.testing.assert_allclose(cap.loc[["s1", "s2", "s3"], "offline_revenue"], expect, rtol=1e-5)
    # the areas table keeps one row per area, its capture the sum of its categories
    areas = capture(m, [0, 1, 2]).areas
    assert list(areas["id"]) == ["a", "b", "c"]
    np.testing.assert_allclose(areas["market"], offline_spending(AREAS)["total"], rtol=1e-12)
    ours = cap.loc[["s1", "s2", "s3"], "offline_revenue"].sum()
    np.testing.assert_allclose(areas["own_offline_revenue"].sum(), ours)


def test_a_format_sells_nothing_of_a_category_it_does_not_carry():
    m = _market(PARTNER_NO_TV, ("partner", "partner", "standard"))
    sh = m.shares([0, 1, 2])
    tv = m.category_markets()["tv_home"]
    rev_tv = sh.store_sum(tv)
    assert rev_tv[0] == 0.0 and rev_tv[1] == 0.0 and rev_tv[2] > 0.0
    phones = sh.store_sum(m.category_markets()["phones"])
    assert phones[0] > 0.0 and phones[1] > 0.0


def test_a_multiplier_on_an_unused_format_changes_no_number():
    # segmented (one format's multipliers differ) but every store uses uniform formats:
    # each category's shares are the area's, so capture and cannibalisation are unchanged
    plain = _market(None, ("standard", "ecosystem", "standard"))
    seg = _market(PARTNER_NO_TV, ("standard", "ecosystem", "standard"))
    assert not plain.segments and seg.segments
    for sites in ([0], [1, 2], [0, 1, 2]):
        a, b = capture(plain, sites), capture(seg, sites)
        assert b.own_offline == pytest.approx(a.own_offline, rel=1e-12)
        assert b.own_revenue == pytest.approx(a.own_revenue, rel=1e-12)
        for col in ("own_share", "rival_share", "outside_share", "own_offline_revenue", "online_transfer"):
            np.testing.assert_allclose(b.areas[col], a.areas[col], rtol=1e-10, atol=1e-12)
        ca, cb = cannibalisation(plain, sites), cannibalisation(seg, sites)
        assert cb.total_net_gain == pytest.approx(ca.total_net_gain, rel=1e-10)
        np.testing.assert_allclose(cb.areas["share_after"], ca.areas["share_after"], rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    mult=st.lists(st.floats(0.0, 4.0), min_size=3, max_size=3),
    open_=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_category_revenues_add_up_and_follow_the_multiplier(mult, open_):
    sites = [j for j, o in enumerate(open_) if o]
    cats = {"partner": dict(zip(("phones", "tv_home", "smart_home"), mult, strict=True))}
    m = _market(cats, ("partner", "standard", "partner"))
    sh = m.shares(sites)
    by_cat = {c: sh.store_sum(v) for c, v in m.category_markets().items()}
    total = sh.store_sum(m.market)
    np.testing.assert_allclose(sum(by_cat.values()), total, rtol=1e-10, atol=1e-6)
    for c, v in zip(("phones", "tv_home", "smart_home"), mult, strict=True):
        if v == 0.0:
            assert by_cat[c][0] == 0.0 and by_cat[c][2] == 0.0
    # capture never exceeds the market, and a store not open earns nothing
    assert capture(m, sites).own_offline <= m.market.sum() * (1 + 1e-12)
    for j in set(range(3)) - set(sites):
        assert total[j] == 0.0


# ------------------------------------------------------------------ end to end


def _scenario(**over) -> Scenario:
    """A tiny three-town scenario: one format choice per site, a budget."""
    base = {
        "formats": [
            {"name": "standard", "opening_cost": 1e6, "fixed_cost": 5e5, "attractiveness": 1.0},
            {
                "name": "ecosystem",
                "opening_cost": 3e6,
                "fixed_cost": 1.5e6,
                "attractiveness": 1.5,
                "category_attractiveness": {"tv_home": 4.0, "smart_home": 3.0},
            },
            {
                "name": "partner",
                "opening_cost": 2e5,
                "fixed_cost": 1e5,
                "attractiveness": 0.7,
                "category_attractiveness": {"tv_home": 0.0},
            },
        ],
        "objective": {"kind": "revenue", "stores": 2, "choose_format": True},
        "options": {"time_limit": 20, "seed": 0},
        "market": {"decay_by_level": {}, "default_decay": 2.0, "outside": 0.05},
    }
    base.update(over)
    areas = AREAS.assign(income=[40_000, 20_000, 60_000])
    return Scenario.from_frames(areas, sites=SITES.copy(), rivals=RIVALS.copy(), name="tiny", **base)


def test_the_solver_chooses_site_and_format_as_a_brute_force_does():
    scn = _scenario()
    plan = solve(scn)
    new = plan.stores[plan.stores["status"] == "new"]
    fixed = {f.name: f.fixed_cost for f in scn.formats}
    params = scn.market_params()
    best, arg = -np.inf, None
    names = [f.name for f in scn.formats]
    for pair in itertools.combinations(range(3), 2):
        for fmts in itertools.product(names, repeat=2):
            chosen = np.array(["standard"] * 3, dtype=object)
            chosen[list(pair)] = fmts
            m = build_market(
                scn.areas, SITES, rivals=RIVALS, demand=scn.demand, params=params, candidate_format=chosen
            )
            value = capture(m, list(pair)).own_offline - sum(fixed[f] for f in fmts)
            if value > best:
                best, arg = value, {SITES["id"][j]: f for j, f in zip(pair, fmts, strict=True)}
    assert plan.metrics["objective"] == pytest.approx(best, rel=1e-9)
    assert dict(zip(new["id"], new["format"], strict=True)) == arg
    # the per-category revenues of every store add up to its offline revenue
    cats = [f"revenue_{c}" for c in scn.demand.category_names]
    np.testing.assert_allclose(new[cats].sum(axis=1), new["offline_revenue"], rtol=1e-9)
    # a partner store (if chosen) sells no TVs
    assert (new.loc[new["format"] == "partner", "revenue_tv_home"] == 0.0).all()


def test_categories_change_the_format_choice():
    # with a strong TV market in the city, the ecosystem format wins there only because
    # of its TV and home-device multipliers: without them the standard store is chosen
    def cat(name, pen, rate, price):
        return {
            "name": name,
            "penetration": pen,
            "purchases_per_year": rate,
            "price": {"budget": price, "mid": price, "high": price},
        }

    demand = {
        "categories": [
            cat("phones", 0.5, 0.2, 1000.0),
            cat("tv_home", 0.6, 0.3, 12000.0),
            cat("smart_home", 0.5, 0.5, 1500.0),
        ]
    }
    # the ecosystem store is as attractive as a standard one for phones and costs more,
    # so without its category multipliers it can never be the better choice
    formats = [
        f.model_copy(update={"attractiveness": 1.0}) if f.name == "ecosystem" else f
        for f in _scenario().formats
    ]
    one = {"kind": "revenue", "stores": 1, "choose_format": True}
    with_cat = solve(_scenario(objective=one, demand=demand, formats=formats))
    flat = [f.model_copy(update={"category_attractiveness": {}}) for f in formats]
    without = solve(_scenario(objective=one, demand=demand, formats=flat))
    f_with = with_cat.stores.loc[with_cat.stores["status"] == "new", "format"].tolist()
    f_without = without.stores.loc[without.stores["status"] == "new", "format"].tolist()
    assert f_with == ["ecosystem"] and f_without != ["ecosystem"]


def test_the_report_lists_each_format_category_multipliers():
    from storeplan.report.tables import formats_table

    plan = solve(_scenario())
    table = formats_table(plan)
    row = table.rows.set_index("format")
    assert row.loc["partner", "categories"] == "phones 1, tv_home 0, smart_home 1"
    assert row.loc["ecosystem", "categories"] == "phones 1, tv_home 4, smart_home 3"
    # a plan without multipliers has no such column
    plain = solve(
        _scenario(
            formats=[{"name": "standard", "opening_cost": 1e6, "fixed_cost": 5e5}],
            objective={"kind": "revenue", "stores": 1},
        )
    )
    assert "categories" not in [c.key for c in formats_table(plain).columns]


def test_unknown_category_and_negative_multiplier_are_named():
    bad = [{"name": "standard", "category_attractiveness": {"cars": 1.0}}]
    named = r"formats\['standard'\].category_attractiveness: \['cars'\]"
    with pytest.raises(UnknownOptionError, match=named):
        _scenario(formats=bad).check()
    with pytest.raises(ValueError, match="category_attractiveness"):
        _scenario(formats=[{"name": "standard", "category_attractiveness": {"phones": -1.0}}])


def test_what_keeps_one_share_per_area_is_refused():
    with pytest.raises(UnsupportedConstraintError, match=r"\[market.channel\]"):
        _scenario(market={"channel": {}}).check()
