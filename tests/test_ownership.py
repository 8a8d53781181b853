"""Store ownership (own / partner) and per-format cash margins."""

from __future__ import annotations

import pandas as pd
import pytest

from storeplan import Scenario
from storeplan.errors import InputError
from storeplan.rollout import RolloutSpec
from storeplan.scenario import StoreFormat


def test_format_defaults_are_own_with_the_rollout_margin() -> None:
    f = StoreFormat(name="standard")
    assert f.ownership == "own"
    assert f.margin is None
    assert f.cash_margin(0.25) == 0.25


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")], ids=["zero", "negative", "above1", "nan"])
def test_format_margin_must_be_a_share(bad: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        StoreFormat(name="p", ownership="partner", margin=bad)


def test_format_ownership_is_own_or_partner() -> None:
    with pytest.raises(ValueError, match="ownership"):
        StoreFormat(name="p", ownership="franchise")  # type: ignore[arg-type]


def test_scenario_format_margins(line_areas: pd.DataFrame) -> None:
    scn = Scenario.from_frames(
        line_areas,
        objective={"kind": "revenue", "stores": 2, "choose_format": True},
        formats=[
            {"name": "own"},
            {"name": "partner", "ownership": "partner", "margin": 0.1, "opening_cost": 2e5, "fixed_cost": 0},
        ],
        rollout={"years": 2, "gross_margin": 0.3},
    )
    assert scn.format_margins() == {"own": 0.3, "partner": 0.1}
    assert scn.format_margins(RolloutSpec(gross_margin=0.5)) == {"own": 0.5, "partner": 0.1}


def test_scenario_file_rejects_a_bad_ownership(scenario_dir) -> None:
    path = scenario_dir('[[formats]]\nname = "p"\nownership = "rented"\n')
    with pytest.raises(InputError, match="ownership"):
        Scenario.from_toml(path)
