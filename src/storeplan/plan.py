"""The :class:`Plan`: what :func:`storeplan.solve` returns, saved and reported.

``Plan.save(dir)`` writes, each file atomically (temporary file + rename):

- ``plan.csv`` / ``plan.geojson``: our stores (new and existing) with format,
  covered population and demand captured;
- ``assignment.parquet``: demand area -> store, with the distance in km;
- ``summary.json``: objective, bound, gap, counts, coverage, run time, versions, seed,
  scenario hash;
- with ``report=True`` (needs ``storeplan[report]``): ``map.html``, ``report.html``
  and ``charts/*.png``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._io import atomic_path, write_json, write_text
from .errors import UnreadableFileError

__all__ = ["Plan", "PLAN_FILES"]

log = logging.getLogger(__name__)

#: Files ``Plan.save`` always writes.
PLAN_FILES = ("plan.csv", "plan.geojson", "assignment.parquet", "summary.json")


@dataclass(frozen=True)
class Plan:
    """A store-network plan: chosen stores, area assignment, metrics and provenance.

    Attributes
    ----------
    scenario_name : str
    objective : str
        ``pmedian``, ``coverage``, ``fixed_cost`` (or ``revenue``).
    stores : DataFrame
        ``id, lon, lat, format, region, status ('new' | 'existing'),
        covered_population, demand_captured, n_areas`` (+ model-specific columns).
    assignment : DataFrame
        ``area_id, store_id, km, covered``: each demand area's store (nearest open store
        unless capacities force another) and the great-circle distance, km.
    areas, rivals : DataFrame
        The scenario's demand areas and rival stores (for maps and reports).
    solution : object
        The solver's result (``storeplan.solvers.Solution``); ``None`` for a loaded plan.
    metrics : dict
        ``objective, bound, gap, proven_optimal, seconds, n_stores, n_new_stores,
        covered_population, coverage_share, mean_km, median_km, radius_km, ...``
    coverage_curve : DataFrame
        ``n_stores, covered_population, covered_share, mean_km`` for the stores of this
        plan taken in greedy order.
    provenance : dict
        ``seed, scenario_hash, versions, created, source``.
    notes : tuple of str
        Data attribution and the layers that are synthetic.
    schedule : storeplan.rollout.Schedule or None
        Opening year of every store, when the scenario has a ``[rollout]``.
    forecast : storeplan.forecast.Forecast or None
        Revenue, costs, cash flow and NPV per store and year of that rollout.
    """

    scenario_name: str
    objective: str
    stores: pd.DataFrame
    assignment: pd.DataFrame
    areas: pd.DataFrame
    rivals: pd.DataFrame
    solution: Any
    metrics: dict[str, Any]
    coverage_curve: pd.DataFrame
    provenance: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)
    schedule: Any = None
    forecast: Any = None

    # ------------------------------------------------------------------ views
    @property
    def n_stores(self) -> int:
        return len(self.stores)

    def to_frame(self) -> pd.DataFrame:
        """Our stores as a DataFrame (a copy)."""
        return self.stores.copy()

    def summary(self) -> dict[str, Any]:
        """The contents of ``summary.json``."""
        return {
            "scenario": self.scenario_name,
            "objective_kind": self.objective,
            **self.metrics,
            "provenance": self.provenance,
            "notes": list(self.notes),
        }

    def with_stores(self, stores: pd.DataFrame) -> Plan:
        """A copy with another stores table (for downstream layers adding columns)."""
        return replace(self, stores=stores)

    # ------------------------------------------------------------------ output
    def save(self, directory: str | Path, *, report: bool = True) -> dict[str, Path]:
        """Write the plan files (and, with ``report=True``, map and report) to ``directory``.

        Every file is written to a temporary name in ``directory`` and renamed when
        complete, so an interrupted save never leaves a truncated file. Returns the
        written paths by name.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        stores = self.stores.copy()
        with atomic_path(out / "plan.csv") as tmp:
            stores.to_csv(tmp, index=False)
        written["plan.csv"] = out / "plan.csv"
        written["plan.geojson"] = write_text(out / "plan.geojson", _geojson(stores))
        with atomic_path(out / "assignment.parquet") as tmp:
            self.assignment.to_parquet(tmp, index=False)
        written["assignment.parquet"] = out / "assignment.parquet"
        written["summary.json"] = write_json(out / "summary.json", self.summary())
        if self.schedule is not None and self.forecast is not None:
            written.update(self._save_rollout(out, pdf=report))
        log.info("wrote %s", ", ".join(written))
        if report:
            from .report import write_report

            written.update(write_report(self, out))
        return written

    def _save_rollout(self, out: Path, *, pdf: bool) -> dict[str, Path]:
        """rollout.csv (opening year per store), forecast_years.csv, forecast_stores.parquet
        and, with ``pdf``, the rollout chart pack report.pdf."""
        written: dict[str, Path] = {}
        with atomic_path(out / "rollout.csv") as tmp:
            self.schedule.to_frame().to_csv(tmp, index=False)
        written["rollout.csv"] = out / "rollout.csv"
        with atomic_path(out / "forecast_years.csv") as tmp:
            self.forecast.per_year.to_csv(tmp, index=False)
        written["forecast_years.csv"] = out / "forecast_years.csv"
        with atomic_path(out / "forecast_stores.parquet") as tmp:
            self.forecast.per_store_year.to_parquet(tmp, index=False)
        written["forecast_stores.parquet"] = out / "forecast_stores.parquet"
        if pdf:
            from .report.pdf import write_pdf

            written["report.pdf"] = Path(
                write_pdf(
                    self.forecast,
                    out / "report.pdf",
                    schedule=self.schedule,
                    title=f"{self.scenario_name}: rollout",
                )
            )
        return written

    @classmethod
    def load(cls, directory: str | Path) -> Plan:
        """Read a plan written by :meth:`save` (stores, assignment, metrics, provenance)."""
        d = Path(directory)
        missing = [f for f in PLAN_FILES if not (d / f).is_file()]
        if missing:
            raise UnreadableFileError(f"{d}: not a saved plan (missing {', '.join(missing)})")
        summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        stores = pd.read_csv(d / "plan.csv", dtype={"id": str})
        assignment = pd.read_parquet(d / "assignment.parquet")
        provenance = summary.pop("provenance", {})
        notes = tuple(summary.pop("notes", ()))
        name = summary.pop("scenario", "scenario")
        kind = summary.pop("objective_kind", "unknown")
        empty = pd.DataFrame({"id": pd.Series(dtype=str), "lon": [], "lat": []})
        return cls(
            scenario_name=name,
            objective=kind,
            stores=stores,
            assignment=assignment,
            areas=empty,
            rivals=empty.assign(brand=pd.Series(dtype=str)),
            solution=None,
            metrics=summary,
            coverage_curve=pd.DataFrame(),
            provenance=provenance,
            notes=notes,
        )


def _geojson(stores: pd.DataFrame) -> str:
    """Stores as a GeoJSON FeatureCollection of points (WGS84 lon/lat)."""
    props = [c for c in stores.columns if c not in ("lon", "lat")]
    features = []
    records = stores[props].astype(object).where(stores[props].notna(), None).to_dict("records")
    for rec, lon, lat in zip(records, stores["lon"].to_numpy(), stores["lat"].to_numpy(), strict=True):
        clean = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]},
                "properties": clean,
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
