"""Reports of a plan: interactive map, charts, a one-page HTML summary, a rollout PDF.

``write(plan, directory)`` renders them all next to the files of ``plan.save``.
folium and matplotlib are optional (``pip install "storeplan[report]"``) and are
imported only when a report is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .html import write_report
from .maps import write_map

__all__ = ["write", "write_report", "write_map"]


def write(plan: Any, directory: str | Path, *, map: bool = True, pdf: bool = True) -> dict[str, Path]:  # noqa: A002
    """Write the report of ``plan`` to ``directory``: ``report.html``, ``map.html``,
    ``charts/*.png``, for a plan with a rollout ``report.pdf`` and for a plan with
    alternatives ``alternatives.html`` (:mod:`storeplan.report.alternatives_map`).

    Every file is written atomically (``report.html`` last). Call it after
    ``plan.save(directory)`` so that the report links the data files.

    A :class:`storeplan.world.WorldPlan` gets the world report and map
    (:func:`storeplan.report.world.write_world_report`; ``pdf`` does not apply).

    Returns
    -------
    dict of str to Path
        The written files by name (``report``, ``map``, chart names, ``report.pdf``).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    from ..world.plan import WorldPlan

    if isinstance(plan, WorldPlan):
        from .world import write_world_report

        return write_world_report(plan, out, map=map)
    written: dict[str, Path] = {}
    fc, sched = getattr(plan, "forecast", None), getattr(plan, "schedule", None)
    if pdf and fc is not None:
        from .pdf import write_pdf

        written["report.pdf"] = Path(
            write_pdf(
                fc,
                out / "report.pdf",
                schedule=sched,
                title=f"{plan.scenario_name}: rollout",
                notes=getattr(plan, "notes", ()),
                stores=getattr(plan, "stores", None),
            )
        )
    if map and getattr(plan, "alternatives", None) is not None:
        from .alternatives_map import write_alternatives_map

        written["alternatives.html"] = write_alternatives_map(plan, out / "alternatives.html")
    written.update(write_report(plan, out, map=map))
    return written
