"""Revenue and cash-flow forecast of a rollout (moved to :mod:`storeplan.rollout.forecast`).

This module keeps ``from storeplan.forecast import forecast`` working.
"""

from __future__ import annotations

from .rollout.forecast import Forecast, extra_stores_needed, forecast, forecast_plan, stores_to_meet_target

__all__ = ["Forecast", "forecast", "forecast_plan", "extra_stores_needed", "stores_to_meet_target"]
