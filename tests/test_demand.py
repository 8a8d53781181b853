"""Spending potential, offline share and brand affinity (storeplan.demand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from storeplan.demand import (
    CategoryParams,
    DemandParams,
    brand_affinity,
    offline_spending,
    online_revenue,
    online_share,
    price_tier,
    spending,
)
from storeplan.errors import MissingColumnError, NegativeValueError


def _one_category() -> DemandParams:
    return DemandParams(
        categories=(
            CategoryParams(
                name="phones",
                penetration=0.5,
                purchases_per_year=0.25,
                price={"budget": 800.0, "mid": 1000.0, "high": 2000.0},
            ),
        )
    )


def test_spending_hand_computed_one_area():
    areas = pd.DataFrame({"id": ["a"], "population": [10_000.0], "income": [30_000.0]})
    out = spending(areas, _one_category())
    # 10,000 people x 0.5 buyers x 0.25 purchases/yr x 1,000 (mid tier: 25k <= 30k < 50k)
    assert out.loc[0, "phones"] == pytest.approx(1_250_000.0)
    assert out.loc[0, "total"] == pytest.approx(1_250_000.0)
    assert list(out.columns) == ["id", "phones", "total"]


def test_spending_defaults_hand_computed():
    areas = pd.DataFrame({"id": ["a"], "population": [1000.0], "level": ["township"]})
    out = spending(areas)  # township -> budget tier
    assert out.loc[0, "phones"] == pytest.approx(1000 * 0.77 * 0.33 * 800)
    assert out.loc[0, "tv_home"] == pytest.approx(1000 * 0.36 * 0.125 * 1500)
    assert out.loc[0, "smart_home"] == pytest.approx(1000 * 0.35 * 0.8 * 120)
    assert out.loc[0, "total"] == pytest.approx(out.loc[0, ["phones", "tv_home", "smart_home"]].sum())


def test_price_tier_income_then_level_then_default():
    areas = pd.DataFrame(
        {
            "id": list("abcdef"),
            "population": [1.0] * 6,
            "income": [10_000, 30_000, 80_000, np.nan, np.nan, np.nan],
            "level": ["city", "city", "township", "township", "city", "unknown"],
        }
    )
    assert price_tier(areas).tolist() == [0, 1, 2, 0, 1, 1]


def test_offline_share_column_overrides_level():
    areas = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "population": [100.0, 100.0, 100.0],
            "level": ["city", "township", "county"],
            "online_share": [0.5, np.nan, 0.0],
        }
    )
    share = online_share(areas)
    np.testing.assert_allclose(share, [0.5, 0.12, 0.0])
    off = offline_spending(areas)
    full = spending(areas)
    np.testing.assert_allclose(off["total"], full["total"] * (1 - share))


def test_offline_share_default_by_level_without_column():
    areas = pd.DataFrame({"id": ["a", "b"], "population": [1.0, 1.0], "level": ["city", "x"]})
    np.testing.assert_allclose(online_share(areas), [0.30, 0.25])


def test_brand_affinity_formula_and_bounds():
    params = DemandParams(affinity_beta=0.5, affinity_min=0.5, affinity_max=2.0)
    # national mean = 500 orders / 400 people = 1.25 per head
    areas = pd.DataFrame(
        {"id": list("abcd"), "population": [100.0] * 4, "online_orders": [100.0, 400.0, 0, 0]}
    )
    # relative rates 0.8, 3.2, 0, 0 -> sqrt, clipped to [0.5, 2]
    aff = brand_affinity(areas, params)
    np.testing.assert_allclose(aff, [0.8**0.5, 3.2**0.5, 0.5, 0.5])
    strong = DemandParams(affinity_beta=1.0, affinity_max=2.0)
    assert brand_affinity(areas, strong)[1] == pytest.approx(2.0)  # clipped at the top


def test_brand_affinity_is_one_without_orders():
    areas = pd.DataFrame({"id": ["a"], "population": [5.0]})
    assert brand_affinity(areas).tolist() == [1.0]
    assert online_revenue(areas).tolist() == [0.0]


def test_online_revenue_uses_order_value():
    areas = pd.DataFrame({"id": ["a"], "population": [5.0], "online_orders": [10.0]})
    assert online_revenue(areas, DemandParams(online_order_value=1500.0))[0] == 15_000.0


def test_validation_errors():
    with pytest.raises(MissingColumnError):
        spending(pd.DataFrame({"id": ["a"]}))
    with pytest.raises(NegativeValueError):
        spending(pd.DataFrame({"id": ["a"], "population": [-1.0]}))
    with pytest.raises(ValidationError):
        CategoryParams(name="x", penetration=0.5, purchases_per_year=1.0, price={"mid": 1.0})
    with pytest.raises(ValidationError):
        DemandParams(online_share_by_level={"city": 1.5})
    with pytest.raises(ValidationError):
        DemandParams(income_thresholds=(50_000.0, 10_000.0))


def test_params_frozen():
    p = DemandParams()
    with pytest.raises(ValidationError):
        p.affinity_beta = 2.0
