"""The scenarios bundled with the package and the labels of a run's phases.

Shared by every front end (the command line, the web app, the engines), so none of them
imports another: ``cli`` and ``web`` both read these names from here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import UnknownOptionError

__all__ = ["DEMO_SCENARIOS", "WORLD_SCENARIOS", "PHASE_LABELS", "WORLD_PHASE_LABELS", "demo_scenario_path"]

#: The bundled scenarios (``storeplan demo --scenario NAME``); the first is the default.
DEMO_SCENARIOS = {
    "three-years": "china_three_years.toml",
    "year-one": "china_year_one.toml",
}

#: The bundled world scenarios (``storeplan demo --scenario world``): a ``[world]``
#: section, planned by :func:`storeplan.world.plan_world` and written by
#: :func:`storeplan.world.write_world`. Kept apart from :data:`DEMO_SCENARIOS`, which
#: the web app offers (it plans single-country scenarios only).
WORLD_SCENARIOS = {
    "world": "world_five_years.toml",
}

#: The phases of a run, in order, with the label a progress display shows for each
#: (``load`` and ``save`` around :data:`storeplan.pipeline.PHASES`).
PHASE_LABELS = {
    "load": "Loading scenario and data",
    "market": "Building the market (Huff model)",
    "network": "Building the distance network",
    "solve": "Choosing sites",
    "evaluate": "Evaluating the plan",
    "curve": "Coverage curve",
    "rollout": "Scheduling the rollout",
    "save": "Writing plan, map and report",
}

#: The phases of a world plan (:func:`storeplan.world.plan_world`), between ``load`` and
#: ``save``.
WORLD_PHASE_LABELS = {
    "inputs": "Splitting the world into countries",
    "curves": "Valuing each country's stores",
    "master": "Allocating entries, stores and capital",
    "countries": "Planning each country",
    "tables": "Collecting the world tables",
}


def demo_scenario_path(name: str = "three-years") -> Path:
    """Path of a bundled scenario file (default: the three-year China rollout).

    Raises
    ------
    UnknownOptionError
        ``name`` is not one of :data:`DEMO_SCENARIOS` or :data:`WORLD_SCENARIOS`.
    """
    files = {**DEMO_SCENARIOS, **WORLD_SCENARIOS}
    if name not in files:
        raise UnknownOptionError(f"unknown demo scenario {name!r}; expected one of {', '.join(files)}")
    return Path(str(resources.files("storeplan") / "scenarios" / files[name]))
