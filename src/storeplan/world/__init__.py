"""World planning: many countries, each in its own currency, over a multi-year rollout.

The flow: a world :class:`~storeplan.scenario.Scenario` -> :func:`country_inputs` (one
scenario per country, local currency) -> per-country value curves -> the world master
problem (entry years, stores and capital per country and year under the global limits)
-> each country's own plan and rollout under its allocation -> :class:`WorldPlan` ->
:func:`write_world` (``countries.csv``, ``plan.csv``, ``world_years.csv``, ``fx.csv``,
``summary.json``, report and map as one output set).
"""

from .files import check_world_plan, write_world
from .inputs import CountryInput, check_world_scenario, country_inputs, planning_rates
from .plan import ATTRACTIVENESS, COUNTRY_COLUMNS, STORE_COLUMNS, YEAR_COLUMNS, WorldMetrics, WorldPlan
from .run import plan_world
from .slices import slice_overrides

__all__ = [
    "ATTRACTIVENESS",
    "COUNTRY_COLUMNS",
    "STORE_COLUMNS",
    "YEAR_COLUMNS",
    "CountryInput",
    "WorldMetrics",
    "WorldPlan",
    "check_world_plan",
    "check_world_scenario",
    "country_inputs",
    "plan_world",
    "planning_rates",
    "slice_overrides",
    "write_world",
]
