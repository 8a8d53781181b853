"""storeplan: plan a retail store network - where to open stores, in what order, and what they earn.

>>> from storeplan import Scenario, solve
>>> scenario = Scenario.from_toml("scenario.toml")   # doctest: +SKIP
>>> plan = solve(scenario)                            # doctest: +SKIP
>>> plan.save("out/")                                 # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    InfeasibleError,
    InputError,
    SolverError,
    StoreplanError,
)
from .pipeline import solve
from .plan import Plan
from .scenario import Scenario, StoreFormat

__all__ = [
    "Scenario",
    "StoreFormat",
    "Plan",
    "solve",
    "StoreplanError",
    "InputError",
    "InfeasibleError",
    "SolverError",
    "__version__",
]
