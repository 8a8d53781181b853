"""Rivals' response (storeplan.response): best responses by brute force, robust plan."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from storeplan.errors import InputError, UnknownOptionError
from storeplan.market import MarketParams, build_market, capture, select_sites
from storeplan.report import write as report_write
from storeplan.response import ResponseSpec, rival_response, robust_plan


def _market(seed: int, n_areas: int = 30, n_sites: int = 9, n_rivals: int = 4):
    rng = np.random.default_rng(seed)
    areas = pd.DataFrame(
        {
            "id": [f"a{i}" for i in range(n_areas)],
            "lon": 110 + rng.uniform(0, 0.6, n_areas),
            "lat": 30 + rng.uniform(0, 0.6, n_areas),
            "population": rng.integers(5_000, 80_000, n_areas).astype(float),
        }
    )
    sites = areas.sample(n_sites, random_state=seed)[["id", "lon", "lat"]].reset_index(drop=True)
    rivals = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n_rivals)],
            "brand": ["X", "Y"] * (n_rivals // 2),
            "lon": 110 + rng.uniform(0, 0.6, n_rivals),
            "lat": 30 + rng.uniform(0, 0.6, n_rivals),
        }
    )
    params = MarketParams(outside=0.05, radius_km=200, k=50, brand_attractiveness={"X": 1.5, "Y": 0.8})
    return build_market(areas, sites, rivals=rivals, params=params)


def _brand_value(market, ours, brand, extra_sites, others=()):
    """Brute-force reference: the brand's capture with its new stores at ``extra_sites``,
    computed from scratch with dense arrays (independent of the module)."""
    net = market.net
    dense_km = np.full((market.n_areas, market.n_stores), np.inf)
    rows = np.repeat(np.arange(net.n_areas), np.diff(net.indptr))
    dense_km[rows, net.indices] = net.km
    p = market.params
    f = np.where(np.isfinite(dense_km), np.maximum(dense_km, p.min_km) ** -p.default_decay, 0.0)
    util = np.zeros_like(f)
    util[rows, net.indices] = market.utility
    open_ = market.open_mask(ours)
    mine = (market.kind == 2) & (market.store_brand == brand)
    a_b = np.median(market.attractiveness[mine])
    base = market.outside_u + (util * open_).sum(axis=1)
    for b, s in others:
        ab = np.median(market.attractiveness[(market.kind == 2) & (market.store_brand == b)])
        base = base + ab * f[:, list(s)].sum(axis=1)
    new_u = a_b * f[:, list(extra_sites)].sum(axis=1)
    own = (util * (open_ & mine)).sum(axis=1)
    return float(np.dot(market.market, (own + new_u) / (base + new_u)))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("exact_limit", [5_000, 0])
def test_best_response_matches_brute_force(seed, exact_limit):
    market = _market(seed)
    ours = np.array([0, 1])
    spec = ResponseSpec(stores_per_rival=2, brands=("X",), exact_limit=exact_limit)
    resp = rival_response(market, ours, spec)
    free = [j for j in range(market.n_candidates) if j not in ours]
    values = {c: _brand_value(market, ours, "X", c) for c in itertools.combinations(free, 2)}
    best = max(values.values())
    got = values[tuple(resp.sites["X"])]
    row = resp.brands.iloc[0]
    assert row["bound"] >= best - 1e-6 * best  # the certified bound is valid
    if exact_limit:
        assert row["method"] == "exact" and got == pytest.approx(best, rel=1e-12)
    else:  # greedy + swap: within its own certified gap of the brute-force optimum
        assert got >= best * (1 - row["gap"]) - 1e-6
    assert row["revenue_after"] == pytest.approx(got, rel=1e-9)


def test_two_brands_and_rounds_settle_and_shares_drop():
    market = _market(3, n_sites=10)
    ours = np.array([2, 5])
    spec = ResponseSpec(stores_per_rival=2, rounds=4)
    resp = rival_response(market, ours, spec)
    assert set(resp.sites) == {"X", "Y"}
    taken = np.concatenate([ours, resp.sites["X"], resp.sites["Y"]])
    assert len(np.unique(taken)) == len(taken)  # one store per site
    # a settled round: each brand's choice is a best response to the other's (exact here)
    for b, other in (("X", "Y"), ("Y", "X")):
        free = [j for j in range(10) if j not in ours and j not in resp.sites[other]]
        vals = {
            c: _brand_value(market, ours, b, c, [(other, resp.sites[other])])
            for c in itertools.combinations(free, 2)
        }
        assert vals[tuple(resp.sites[b])] == pytest.approx(max(vals.values()), rel=1e-9)
    assert resp.rounds <= 4
    assert resp.own_after < resp.own_before
    cap = capture(market, ours)
    assert resp.own_before == pytest.approx(cap.own_offline, rel=1e-12)
    a = resp.areas
    assert (a["share_after"] <= a["share_before"] + 1e-15).all()
    assert resp.own_after == pytest.approx(a["revenue_after"].sum(), rel=1e-12)
    assert resp.stores["revenue"].sum() > 0
    h = resp.headline()
    assert h["revenue_lost"] == pytest.approx(resp.own_before - resp.own_after)
    assert h["rival_new_stores"] == 4


@pytest.mark.parametrize("seed", range(5))
def test_robust_plan_never_worse_after_response(seed):
    market = _market(seed, n_sites=10)
    spec = ResponseSpec(stores_per_rival=2, robust=True, robust_iterations=3)

    def leader(extra):
        return select_sites(
            market.__class__(**{**market.__dict__, "outside_u": market.outside_u + extra}), p=3
        ).sites

    choice = robust_plan(market, leader, spec)
    plain = rival_response(market, choice.plain_sites, spec)
    robust = rival_response(market, choice.sites, spec)
    assert robust.own_after >= plain.own_after - 1e-9 * plain.own_after
    h = choice.headline()
    assert h["saving_with_response"] == pytest.approx(robust.own_after - plain.own_after, abs=1e-6)
    assert h["cost_without_response"] == pytest.approx(plain.own_before - robust.own_before, abs=1e-6)
    assert choice.candidates["chosen"].sum() == 1
    # the leader's plain plan is the plain site selection
    assert np.array_equal(choice.plain_sites, np.sort(select_sites(market, p=3).sites))


def test_errors():
    market = _market(0)
    with pytest.raises(UnknownOptionError, match="Z"):
        rival_response(market, [0], ResponseSpec(stores_per_rival=1, brands=("Z",)))
    lonely = build_market(
        pd.DataFrame({"id": ["a"], "lon": [0.0], "lat": [0.0], "population": [1.0]}),
        pd.DataFrame({"id": ["s"], "lon": [0.0], "lat": [0.0]}),
    )
    with pytest.raises(InputError, match="no rival"):
        rival_response(lonely, [0], ResponseSpec(stores_per_rival=1))


def test_own_store_revenue_before_and_after_sum_to_the_totals():
    market = _market(1)
    resp = rival_response(market, [0, 3], ResponseSpec(stores_per_rival=1))
    o = resp.own_stores
    assert o["offline_revenue_before"].sum() == pytest.approx(resp.own_before, rel=1e-12)
    assert o["offline_revenue_after"].sum() == pytest.approx(resp.own_after, rel=1e-12)
    assert (o["offline_revenue_after"] <= o["offline_revenue_before"] + 1e-9).all()


# ------------------------------------------------------------------ through the pipeline
def _towns() -> pd.DataFrame:
    lon, lat = np.meshgrid([110.0, 110.1, 110.2, 110.3], [30.0, 30.1, 30.2])
    return pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(12)],
            "lon": lon.ravel(),
            "lat": lat.ravel(),
            "population": 10_000.0 * np.arange(1, 13),
        }
    )


RIVALS = pd.DataFrame({"id": ["r1", "r2"], "brand": ["X", "Y"], "lon": [110.1, 110.3], "lat": [30.1, 30.2]})


def test_response_and_robust_through_the_pipeline(tmp_path):
    from storeplan import Plan, Scenario, solve

    def plan(**response):
        return solve(
            Scenario.from_frames(
                _towns(),
                rivals=RIVALS,
                objective={"kind": "revenue", "stores": 3},
                response={"stores_per_rival": 2, **response},
            )
        )

    plain, robust = plan(), plan(robust=True)
    hp, hr = plain.metrics["response"], robust.metrics["response"]
    assert hp["own_revenue_after"] < hp["own_revenue_before"]
    assert hr["own_revenue_after"] >= hp["own_revenue_after"] - 1e-6
    rb = hr["robust"]
    assert rb["plain_own_after"] == pytest.approx(hp["own_revenue_after"], rel=1e-9)
    assert rb["saving_with_response"] == pytest.approx(
        hr["own_revenue_after"] - hp["own_revenue_after"], abs=1e-6
    )
    # the plan's objective keeps its meaning (capture without a response, minus fixed costs)
    m = robust.metrics
    assert m["objective"] == pytest.approx(m["own_offline_revenue"] - 3 * 600_000.0, rel=1e-9)
    assert m["bound"] >= m["objective"]
    st = robust.stores
    assert st["offline_revenue_after_response"].sum() == pytest.approx(hr["own_revenue_after"], rel=1e-9)
    a = robust.assignment
    assert (a["share_after_response"] <= a["share_after"] + 1e-12).all()
    out = tmp_path / "out"
    robust.save(out)
    report_write(robust, out)
    csv = pd.read_csv(out / "rival_response.csv")
    assert len(csv) == hr["rival_new_stores"] == 4
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Rivals&#x27; response" in html or "Rivals' response" in html
    assert Plan.load(out).metrics["response"]["rival_new_stores"] == 4


def test_response_settings_are_checked_at_the_boundary():
    from storeplan import Scenario

    with pytest.raises(UnknownOptionError, match="robust needs objective.kind"):
        Scenario.from_frames(
            _towns(),
            rivals=RIVALS,
            objective={"kind": "pmedian", "stores": 2},
            response={"stores_per_rival": 1, "robust": True},
        )
    with pytest.raises(UnknownOptionError, match="unknown brand"):
        Scenario.from_frames(
            _towns(),
            rivals=RIVALS,
            objective={"stores": 2},
            response={"stores_per_rival": 1, "brands": ["Q"]},
        )
    with pytest.raises(InputError, match="no rival"):
        Scenario.from_frames(_towns(), objective={"stores": 2}, response={"stores_per_rival": 1})
