"""At scale (issue 13): the capped Huff network and the coverage curve's greedy order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storeplan.market import MarketParams, build_market

AREAS = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "lon": [110.00, 110.05, 110.12],
        "lat": [20.00, 20.00, 20.03],
        "population": [10_000, 20_000, 40_000],
    }
)
SITES = pd.DataFrame({"id": ["s1", "s2", "s3"], "lon": [110.0, 110.05, 110.12], "lat": [20.0, 20.0, 20.03]})
RIVALS = pd.DataFrame({"id": ["r1"], "brand": ["X"], "lon": [110.02], "lat": [20.01]})


def _params(**kw) -> MarketParams:
    return MarketParams(decay_by_level={}, default_decay=2.0, outside=0.05, **kw)


def test_the_market_network_can_be_capped_per_area():
    # issue 13: a national grid must not store every pair within the radius
    m = build_market(AREAS, SITES, rivals=RIVALS, params=_params(radius_km=50.0, k=1, max_stores_per_area=2))
    assert int(np.diff(m.net.indptr).max()) == 2 and m.net.n_capped == len(AREAS)
    # the two nearest stores of every area are the ones kept
    full = build_market(AREAS, SITES, rivals=RIVALS, params=_params(radius_km=50.0, k=1))
    for i in range(len(AREAS)):
        a, b = full.net.indptr[i], full.net.indptr[i + 1]
        c, d = m.net.indptr[i], m.net.indptr[i + 1]
        assert list(m.net.indices[c:d]) == list(full.net.indices[a:b][:2])
    with pytest.raises(ValueError, match="max_stores_per_area"):
        _params(k=8, max_stores_per_area=4)


def test_coverage_curve_greedy_order_equals_the_plain_greedy():
    # issue 13: the incremental greedy (gains refreshed only for stores sharing a newly
    # covered area) picks exactly what recomputing every gain each step picks
    from storeplan.evaluation import _greedy_cover_order
    from storeplan.geo import Network

    def plain(sub, w):
        k = sub.n_sites
        rows = np.repeat(np.arange(sub.n_areas), np.diff(sub.indptr))
        unc, chosen, order = np.ones(sub.n_areas, bool), np.zeros(k, bool), []
        for _ in range(k):
            live = unc[rows]
            gain = np.bincount(sub.indices[live], weights=w[rows[live]], minlength=k)
            gain[chosen] = -1.0
            j = int(np.argmax(gain))
            order.append(j)
            chosen[j] = True
            unc[rows[sub.indices == j]] = False
        return np.array(order)

    for seed in range(20):
        rng = np.random.default_rng(seed)
        n, k = 300, 30
        sub = Network.build(
            rng.uniform(110, 111, n),
            rng.uniform(20, 21, n),
            rng.uniform(110, 111, k),
            rng.uniform(20, 21, k),
            radius_km=15.0,
            dense_pair_limit=0,
        )
        w = rng.integers(1, 1000, n).astype(float)  # whole numbers: sums are exact, ties real
        assert np.array_equal(_greedy_cover_order(sub, w), plain(sub, w))
