"""storeplan: plan a retail store network - where to open stores, in what order, and what they earn.

>>> from storeplan import Scenario, solve
>>> scenario = Scenario.from_toml("scenario.toml")   # doctest: +SKIP
>>> plan = solve(scenario)                            # doctest: +SKIP
>>> plan.save("out/")                                 # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from .errors import (
    InfeasibleError,
    InputError,
    SolverError,
    StoreplanError,
)

if TYPE_CHECKING:
    from .pipeline import solve
    from .plan import Plan
    from .scenario import Scenario, StoreFormat

# Imported on first use (PEP 562), so that ``import storeplan.cli`` stays light and the
# command line can answer Ctrl-C (exit 130) while pandas, Numba and the solvers load.
_LAZY = {"solve": "pipeline", "Plan": "plan", "Scenario": "scenario", "StoreFormat": "scenario"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
