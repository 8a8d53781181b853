"""The :class:`Plan`: what :func:`storeplan.solve` returns; saved and loaded without loss.

``plan.save(dir)`` writes, each file atomically (temporary file + rename):

- ``plan.csv`` / ``plan.geojson``: our stores (new and existing) with format,
  ``ownership`` (own / partner) and ``margin`` (share of sales that is cash to the brand), covered
  population, demand captured and the market columns (``stores.parquet``: the same
  table with its exact types, read back by ``Plan.load``);
- ``assignment.parquet``: demand area -> store, with the distance in km and the shares;
- ``areas.parquet``, ``rivals.parquet``, ``coverage_curve.csv``: the inputs the report
  shows, so that a loaded plan renders the same report;
- ``summary.json``: every figure of :class:`storeplan.metrics.PlanMetrics` with its
  unit, provenance (versions, seed, scenario hash) and notes;
- with a rollout: ``rollout.csv`` (opening year and cash margin per store, and for a planned store left
  unopened the ``reason`` of :mod:`storeplan.rollout.reasons`), ``rollout.json`` (the
  rollout spec, the schedule's value and bound, the forecast's notes),
  ``forecast_years.csv`` and ``forecast_stores.parquet``;
- with ``geopackage=True``: ``plan.gpkg`` (layers ``stores`` and ``assignment``, points
  in WGS84).

``Plan.load(dir)`` reads all of it back (the solver's :class:`~storeplan.solvers.Solution`
object and the rollout's revenue oracle excepted: their figures are in the metrics), and
``save -> load -> save`` writes identical files. The report is rendered by
:func:`storeplan.report.write`, not by the plan.

The decision files: with a ``[launch]``, ``launch_stock.csv`` (launch units per store and
web shop); with a ``[response]``, ``rival_response.csv`` (the rivals' new stores) and
``rival_response_areas.parquet`` (our share per area before and after the response);
with alternatives, ``alternatives.csv`` and ``alternative_sites.csv`` (the comparison
table and the sites of each plan, the robust core marked); with any of them
``decisions.json`` (their settings and the figures that are not in a table). ``Plan.load``
reads them back into :class:`~storeplan.launch_stock.LaunchStock`,
:class:`~storeplan.response.Response` and :class:`~storeplan.alternatives.Alternatives`
(each alternative's full evaluation excepted: its figures are in ``alternatives.csv``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._io import atomic_path, write_json, write_text
from .assumptions import PlanAssumptions
from .errors import InputError, UnreadableFileError
from .metrics import PlanMetrics
from .rollout import Forecast, RolloutSpec, Schedule
from .rollout.reasons import reason_columns, site_revenue

if TYPE_CHECKING:
    import geopandas as gpd

    from .solvers import Solution

__all__ = ["Plan", "PLAN_FILES", "ROLLOUT_FILES", "DECISION_FILES", "PlanMetrics"]

log = logging.getLogger(__name__)

#: Files ``Plan.save`` always writes.
PLAN_FILES = (
    "plan.csv",
    "plan.geojson",
    "stores.parquet",
    "assignment.parquet",
    "areas.parquet",
    "rivals.parquet",
    "coverage_curve.csv",
    "summary.json",
)
#: Files ``Plan.save`` writes for a plan with a rollout.
ROLLOUT_FILES = ("rollout.csv", "rollout.json", "forecast_years.csv", "forecast_stores.parquet")
#: Files ``Plan.save`` writes for the decisions a plan carries (launch, response, alternatives).
DECISION_FILES = (
    "decisions.json",
    "launch_stock.csv",
    "rival_response.csv",
    "rival_response_areas.parquet",
    "alternatives.csv",
    "alternative_sites.csv",
)

_CSV_READ: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}


@dataclass(frozen=True)
class Plan:
    """A store-network plan: chosen stores, area assignment, metrics and provenance.

    Attributes
    ----------
    scenario_name : str
    objective : str
        ``pmedian``, ``coverage``, ``fixed_cost`` or ``revenue``.
    stores : DataFrame
        ``id, name, lon, lat, format, region, status ('new' | 'existing'), opening_cost
        (currency), fixed_cost (currency/year), covered_population, demand_captured
        (persons), n_areas`` and the market columns (currency/year): ``revenue,
        offline_revenue, online_transfer, revenue_<category>``; for new stores
        ``from_existing_stores, from_online, net_gain`` (summing to the totals of
        :class:`PlanMetrics`) and ``marginal_net_gain`` (leave-one-out); for existing
        stores ``baseline_revenue, taken_by_new_stores``; ``catchment_share`` (in [0, 1]).
    assignment : DataFrame
        ``area_id, store_id, km, covered, market, online_revenue, share_before,
        share_after``: each demand area's store (nearest open store unless capacities
        force another), the great-circle distance (km), its offline spending and online
        revenue (currency/year) and our offline share before / after (in [0, 1]).
    areas, rivals : DataFrame
        The scenario's demand areas and rival stores (for maps and reports).
    metrics : PlanMetrics
        Every figure of the plan, typed, with units.
    coverage_curve : DataFrame
        ``n_stores, covered_population, covered_share, mean_km`` for the stores of this
        plan taken in greedy order.
    provenance : dict
        ``seed, time_limit, scenario_hash, versions, created, source``.
    notes : tuple of str
        Data attribution and the layers that are synthetic.
    schedule : Schedule or None
        Opening year of every store, when the scenario has a ``[rollout]``.
    forecast : Forecast or None
        Revenue, costs, cash flow and NPV per store and year of that rollout.
    solution : Solution or None
        The solver's result; ``None`` for a loaded plan.
    launch_stock : storeplan.launch_stock.LaunchStock or None
        Launch units per store and web shop, when the scenario has a ``[launch]``.
    response : storeplan.response.Response or None
        The rivals' response to this plan, when the scenario has a ``[response]``.
    alternatives : storeplan.alternatives.Alternatives or None
        Alternative plans close to this one (this plan is the first), when asked for.
    assumptions : PlanAssumptions or None
        The scenario's formats, sizes and market parameters the plan rests on (shown in
        the report; ``summary.json["assumptions"]``).
    """

    scenario_name: str
    objective: str
    stores: pd.DataFrame
    assignment: pd.DataFrame
    areas: pd.DataFrame
    rivals: pd.DataFrame
    metrics: PlanMetrics
    coverage_curve: pd.DataFrame
    provenance: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)
    schedule: Schedule | None = None
    forecast: Forecast | None = None
    solution: Solution | None = field(default=None, repr=False, compare=False)
    launch_stock: Any = None
    response: Any = None
    alternatives: Any = None
    assumptions: PlanAssumptions | None = None

    # ------------------------------------------------------------------ views
    @property
    def n_stores(self) -> int:
        return len(self.stores)

    def to_frame(self) -> pd.DataFrame:
        """Our stores as a DataFrame (a copy)."""
        return self.stores.copy()

    def to_geodataframe(self, layer: Literal["stores", "assignment"] = "stores") -> gpd.GeoDataFrame:
        """Our stores, or every area's assignment, as a GeoDataFrame of points (EPSG:4326).

        ``layer="assignment"`` places each area at its own coordinates (from
        :attr:`areas`) and carries its store id, km and shares.

        Raises
        ------
        InputError
            ``layer`` is unknown, or the areas have no coordinates (a plan loaded from an
            old folder without ``areas.parquet``).
        """
        import geopandas as gpd

        if layer == "stores":
            df = self.stores
            lon, lat = df["lon"], df["lat"]
        elif layer == "assignment":
            if not {"id", "lon", "lat"} <= set(self.areas.columns):
                raise InputError("to_geodataframe('assignment'): the plan's areas have no coordinates")
            xy = self.areas.drop_duplicates("id").set_index(self.areas["id"].drop_duplicates().astype(str))
            key = self.assignment["area_id"].astype(str)
            df = self.assignment.reset_index(drop=True)
            lon = key.map(xy["lon"]).to_numpy(float)
            lat = key.map(xy["lat"]).to_numpy(float)
        else:
            raise InputError(f"to_geodataframe: layer {layer!r} is not 'stores' or 'assignment'")
        return gpd.GeoDataFrame(df.copy(), geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")

    def summary(self) -> dict[str, Any]:
        """The contents of ``summary.json``: the metrics, their units, provenance, notes."""
        units = {k: v for k, v in PlanMetrics.units().items() if v}
        units["objective"] = units["model_objective"] = units["bound"] = self.metrics.objective_unit
        return {
            "scenario": self.scenario_name,
            "objective_kind": self.objective,
            **self.metrics.to_dict(),
            "units": units,
            "provenance": self.provenance,
            "notes": list(self.notes),
            **({} if self.assumptions is None else {"assumptions": self.assumptions.to_dict()}),
        }

    def with_stores(self, stores: pd.DataFrame) -> Plan:
        """A copy with another stores table (for downstream layers adding columns)."""
        return replace(self, stores=stores)

    # ------------------------------------------------------------------ output
    def save(self, directory: str | Path, *, geopackage: bool = False) -> dict[str, Path]:
        """Write the plan files to ``directory`` (see the module docstring).

        Every file is written to a temporary name in ``directory`` and renamed when
        complete, so an interrupted save never leaves a truncated file. Returns the
        written paths by name. The report (HTML, map, charts, PDF) is written by
        :func:`storeplan.report.write` (the plan does not import the report layer).
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        with atomic_path(out / "plan.csv") as tmp:
            self.stores.to_csv(tmp, index=False)
        written["plan.csv"] = out / "plan.csv"
        written["plan.geojson"] = write_text(out / "plan.geojson", _geojson(self.stores))
        tables = (
            ("stores", self.stores),
            ("assignment", self.assignment),
            ("areas", self.areas),
            ("rivals", self.rivals),
        )
        for name, df in tables:
            with atomic_path(out / f"{name}.parquet") as tmp:
                _text_as_str(df).to_parquet(tmp, index=False)
            written[f"{name}.parquet"] = out / f"{name}.parquet"
        with atomic_path(out / "coverage_curve.csv") as tmp:
            self.coverage_curve.to_csv(tmp, index=False)
        written["coverage_curve.csv"] = out / "coverage_curve.csv"
        written["summary.json"] = write_json(out / "summary.json", self.summary())
        if self.schedule is not None and self.forecast is not None:
            written.update(_save_rollout(self.schedule, self.forecast, out, site_revenue(self.stores)))
        if geopackage:
            written["plan.gpkg"] = self.save_geopackage(out / "plan.gpkg")
        written.update(_save_decisions(self, out))
        log.info("wrote %s", ", ".join(written))
        return written

    def save_geopackage(self, path: str | Path) -> Path:
        """Write ``stores`` and ``assignment`` layers (points, EPSG:4326) to a GeoPackage."""
        path = Path(path)
        with atomic_path(path) as tmp:
            self.to_geodataframe("stores").to_file(tmp, layer="stores", driver="GPKG")
            if {"id", "lon", "lat"} <= set(self.areas.columns) and len(self.assignment):
                self.to_geodataframe("assignment").to_file(tmp, layer="assignment", driver="GPKG")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Plan:
        """Read a plan written by :meth:`save`.

        Raises
        ------
        UnreadableFileError
            ``directory`` does not hold a saved plan (the message names the missing files).
        """
        d = Path(directory)
        core = ("plan.csv", "assignment.parquet", "summary.json")
        missing = [f for f in core if not (d / f).is_file()]
        if missing:
            raise UnreadableFileError(f"{d}: not a saved plan (missing {', '.join(missing)})")
        summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        stores = (
            pd.read_parquet(d / "stores.parquet")
            if (d / "stores.parquet").is_file()
            else pd.read_csv(d / "plan.csv", dtype={"id": str}, **_CSV_READ)
        )
        assignment = pd.read_parquet(d / "assignment.parquet")
        empty = pd.DataFrame({"id": pd.Series(dtype=str), "lon": [], "lat": []})
        areas = pd.read_parquet(d / "areas.parquet") if (d / "areas.parquet").is_file() else empty
        rivals = (
            pd.read_parquet(d / "rivals.parquet")
            if (d / "rivals.parquet").is_file()
            else empty.assign(brand=pd.Series(dtype=str))
        )
        curve = (
            pd.read_csv(d / "coverage_curve.csv", **_CSV_READ)
            if (d / "coverage_curve.csv").is_file()
            else pd.DataFrame()
        )
        schedule = forecast = None
        if all((d / f).is_file() for f in ROLLOUT_FILES):
            schedule, forecast = _load_rollout(d, stores)
        launch, response, alternatives = _load_decisions(d)
        return cls(
            scenario_name=str(summary.get("scenario", "scenario")),
            objective=str(summary.get("objective_kind", "unknown")),
            stores=stores,
            assignment=assignment,
            areas=areas,
            rivals=rivals,
            metrics=PlanMetrics.from_dict(summary),
            coverage_curve=curve,
            provenance=dict(summary.get("provenance", {})),
            notes=tuple(summary.get("notes", ())),
            schedule=schedule,
            forecast=forecast,
            assumptions=(
                PlanAssumptions.from_dict(summary["assumptions"]) if summary.get("assumptions") else None
            ),
            launch_stock=launch,
            response=response,
            alternatives=alternatives,
        )


# ---------------------------------------------------------------------------- decision files
def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def _save_decisions(plan: Plan, out: Path) -> dict[str, Path]:
    """The decision files of ``plan`` (see the module docstring)."""
    written: dict[str, Path] = {}
    info: dict[str, Any] = {}
    ls, resp, alts = plan.launch_stock, plan.response, plan.alternatives
    if ls is not None:
        written["launch_stock.csv"] = _write_csv(ls.table, out / "launch_stock.csv")
        info["launch"] = {"spec": ls.spec.model_dump(mode="json"), "multiplier": float(ls.multiplier)}
    if resp is not None:
        written["rival_response.csv"] = _write_csv(resp.stores, out / "rival_response.csv")
        areas = resp.areas.assign(extra_utility=np.asarray(resp.extra_utility, np.float64))
        with atomic_path(out / "rival_response_areas.parquet") as tmp:
            _text_as_str(areas).to_parquet(tmp, index=False)
        written["rival_response_areas.parquet"] = out / "rival_response_areas.parquet"
        info["response"] = {
            "brands": resp.brands.to_dict("list"),
            "own_stores": resp.own_stores.to_dict("list"),
            "own_before": float(resp.own_before),
            "own_after": float(resp.own_after),
            "share_before": float(resp.share_before),
            "share_after": float(resp.share_after),
            "rounds": int(resp.rounds),
            "brand_order": [str(b) for b in resp.sites],
        }
    if alts is not None:
        written["alternatives.csv"] = _write_csv(alts.table, out / "alternatives.csv")
        written["alternative_sites.csv"] = _write_csv(alts.sites, out / "alternative_sites.csv")
        info["alternatives"] = {
            "spec": alts.spec.model_dump(mode="json"),
            "bound": float(alts.bound),
            "sense": str(alts.sense),
            "stopped": str(alts.stopped),
        }
    if info:
        written["decisions.json"] = write_json(out / "decisions.json", info)
    return written


def _load_decisions(d: Path) -> tuple[Any, Any, Any]:
    """``(launch_stock, response, alternatives)`` read back from ``d`` (None when absent)."""
    path = d / "decisions.json"
    if not path.is_file():
        return None, None, None
    info = json.loads(path.read_text(encoding="utf-8"))
    launch = response = alternatives = None
    if "launch" in info and (d / "launch_stock.csv").is_file():
        from .launch_stock import LaunchSpec, LaunchStock

        table = pd.read_csv(d / "launch_stock.csv", dtype={"id": str}, **_CSV_READ)
        spec = LaunchSpec.model_validate(info["launch"]["spec"])
        launch = LaunchStock(table=table, spec=spec, multiplier=float(info["launch"]["multiplier"]))
    if "response" in info and (d / "rival_response.csv").is_file():
        from .response import Response

        r = info["response"]
        stores = pd.read_csv(d / "rival_response.csv", dtype={"brand": str, "site_id": str}, **_CSV_READ)
        areas = pd.read_parquet(d / "rival_response_areas.parquet")
        extra = areas.pop("extra_utility").to_numpy(np.float64)
        sites = {
            b: stores.loc[stores["brand"] == b, "site_index"].to_numpy(np.int64) for b in r["brand_order"]
        }
        response = Response(
            sites=sites,
            stores=stores,
            brands=pd.DataFrame(r["brands"]),
            areas=areas,
            own_stores=pd.DataFrame(r["own_stores"]),
            own_before=float(r["own_before"]),
            own_after=float(r["own_after"]),
            share_before=float(r["share_before"]),
            share_after=float(r["share_after"]),
            rounds=int(r["rounds"]),
            extra_utility=extra,
        )
    if "alternatives" in info and (d / "alternatives.csv").is_file():
        from .alternatives import Alternatives, AlternativesSpec

        a = info["alternatives"]
        alternatives = Alternatives(
            plans=(),
            table=pd.read_csv(d / "alternatives.csv", **_CSV_READ),
            sites=pd.read_csv(d / "alternative_sites.csv", dtype={"id": str}, **_CSV_READ),
            bound=float(a["bound"]),
            sense=str(a["sense"]),
            spec=AlternativesSpec.model_validate(a["spec"]),
            stopped=str(a["stopped"]),
        )
    return launch, response, alternatives


# ---------------------------------------------------------------------------- rollout files
def _save_rollout(schedule: Schedule, fc: Forecast, out: Path, revenue: dict[str, float]) -> dict[str, Path]:
    written: dict[str, Path] = {}
    frame = schedule.to_frame()
    why = reason_columns(schedule, revenue).set_index("id")
    key = frame["id"].astype(str)
    frame = frame.assign(
        reason=key.map(why["reason"]).fillna("").to_numpy(),
        reason_detail=key.map(why["reason_detail"]).fillna("").to_numpy(),
        npv_if_opened=key.map(why["npv_if_opened"]).to_numpy(float),
    )
    with atomic_path(out / "rollout.csv") as tmp:
        frame.to_csv(tmp, index=False)
    written["rollout.csv"] = out / "rollout.csv"
    info = {
        "spec": schedule.spec.model_dump(mode="json"),
        "schedule": {
            "npv": schedule.npv,
            "npv_new": schedule.npv_new,
            "bound": schedule.bound,
            "gap": schedule.gap,
            "method": schedule.method,
            "bound_method": schedule.bound_method,
            "seconds": schedule.seconds,
            "evaluations": schedule.evaluations,
            # the universe's order (rollout.csv is sorted by opening year)
            "ids": [str(x) for x in schedule.ids],
            "must_year": None if schedule.must_year is None else [int(x) for x in schedule.must_year],
            "forbidden": None if schedule.forbidden is None else [bool(x) for x in schedule.forbidden],
        },
        "forecast": {**fc.headline(), "notes": list(fc.notes)},
    }
    written["rollout.json"] = write_json(out / "rollout.json", info)
    with atomic_path(out / "forecast_years.csv") as tmp:
        fc.per_year.to_csv(tmp, index=False)
    written["forecast_years.csv"] = out / "forecast_years.csv"
    with atomic_path(out / "forecast_stores.parquet") as tmp:
        fc.per_store_year.to_parquet(tmp, index=False)
    written["forecast_stores.parquet"] = out / "forecast_stores.parquet"
    return written


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _load_rollout(d: Path, stores: pd.DataFrame) -> tuple[Schedule, Forecast]:
    info = json.loads((d / "rollout.json").read_text(encoding="utf-8"))
    spec = RolloutSpec.model_validate(info["spec"])
    rows = pd.read_csv(d / "rollout.csv", dtype={"id": str}, **_CSV_READ)
    # the schedule's universe is the plan's stores, in their order
    ids = stores["id"].astype(str)
    if set(rows["id"]) == set(ids) and len(rows) == len(ids):
        rows = rows.set_index("id").loc[ids.to_numpy()].reset_index()
    s = info["schedule"]
    order = s.get("ids")
    if order is not None and len(order) == len(rows) and set(order) == set(rows["id"]):
        rows = rows.set_index("id").loc[list(order)].reset_index()
    extra: dict[str, Any] = {}
    if "region" in rows:
        extra["region"] = rows["region"].astype(object).where(rows["region"].notna(), None).to_numpy()
    if "reason" in rows:  # why a site is not opened (joint rollout)
        reason = rows["reason"].astype(object)
        extra["reason"] = reason.where(reason.notna(), "").astype(str).to_numpy(dtype=object)
    schedule = Schedule(
        ids=rows["id"].astype(str).to_numpy(dtype=object),
        open_year=rows["open_year"].to_numpy(np.int64),
        opening_cost=rows["opening_cost"].to_numpy(np.float64),
        fixed_cost=rows["fixed_cost"].to_numpy(np.float64),
        spec=spec,
        npv=_nan(s["npv"]),
        npv_new=_nan(s["npv_new"]),
        bound=_nan(s["bound"]),
        gap=_nan(s["gap"]),
        method=str(s["method"]),
        seconds=float(s["seconds"]),
        evaluations=int(s["evaluations"]),
        extra=extra,
        must_year=None if s.get("must_year") is None else np.asarray(s["must_year"], np.int64),
        forbidden=None if s.get("forbidden") is None else np.asarray(s["forbidden"], bool),
        bound_method=str(s.get("bound_method", "")),
        margin=rows["margin"].to_numpy(np.float64) if "margin" in rows else None,
    )
    per_year = pd.read_csv(d / "forecast_years.csv", **_CSV_READ)
    if "target_met" in per_year:
        per_year["target_met"] = (
            per_year["target_met"]
            .map(lambda v: pd.NA if pd.isna(v) else (v if isinstance(v, bool) else str(v) == "True"))
            .astype("boolean")
        )
    if "in_rollout" in per_year:
        per_year["in_rollout"] = per_year["in_rollout"].astype(bool)
    f = info["forecast"]
    fc = Forecast(
        per_store_year=pd.read_parquet(d / "forecast_stores.parquet"),
        per_year=per_year,
        npv=_nan(f["npv"]),
        npv_new=_nan(f["npv_new"]),
        payback_year=None if f.get("payback_year") is None else int(f["payback_year"]),
        total_revenue=_nan(f["total_revenue"]),
        final_revenue=_nan(f["final_revenue"]),
        target_met=None if f.get("target_met") is None else bool(f["target_met"]),
        shortfall=_nan(f["shortfall"]),
        extra_stores=int(f["extra_stores"]),
        discount_rate=float(f["discount_rate"]),
        horizon=int(f["horizon"]),
        notes=tuple(f.get("notes", ())),
        schedule=schedule,
    )
    return schedule, fc


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


def _text_as_str(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every all-text ``object`` column as pandas' ``str`` dtype.

    Readers keep ids as plain Python strings (``object``); Parquet gives them back as
    ``str``. Writing both the same way makes save -> load -> save byte-identical.
    """
    text = [c for c in df.columns if df[c].dtype == object and pd.api.types.infer_dtype(df[c]) == "string"]
    return df.astype(dict.fromkeys(text, "str")) if text else df
