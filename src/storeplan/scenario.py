"""Scenario files (TOML, validated with pydantic) and the validated :class:`Scenario`.

A scenario names the demand areas, candidate sites, our existing stores, rival
stores, store formats, the objective and the options. ``Scenario.from_toml`` reads
and validates everything once; the rest of storeplan trusts what it holds.

Example scenario file::

    name = "zhejiang-year-one"

    [areas]
    path = "areas.csv"            # or: dataset = "china", provinces = ["Zhejiang"]

    [sites]
    from = "areas"                # or: path = "sites.csv"

    [rivals]
    path = "rivals.csv"           # optional; with a dataset, its synthetic rivals are used

    [[formats]]
    name = "standard"
    opening_cost = 1_500_000      # currency, once
    fixed_cost = 600_000          # currency per year

    [objective]
    kind = "coverage"             # pmedian | coverage | fixed_cost
    stores = 50                   # or: budget = 75_000_000 (opening costs)
    radius_km = 15

    [constraints]
    min_spacing_km = 3
    region_max = { Zhejiang = 40 }

    [options]
    seed = 0
    time_limit = 60
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .data.io import read_table, validate_areas, validate_rivals, validate_sites, validate_stores
from .demand import DemandParams
from .errors import InfeasibleError, InputError, UnknownOptionError, UnreadableFileError
from .market import MarketParams
from .rollout import RolloutSpec

__all__ = [
    "Scenario",
    "ScenarioSpec",
    "StoreFormat",
    "ObjectiveSpec",
    "ConstraintsSpec",
    "OptionsSpec",
    "CalibrationSpec",
    "QuotaSpec",
    "OBJECTIVES",
]

#: Objective kinds the scenario accepts.
OBJECTIVES = ("pmedian", "coverage", "fixed_cost", "revenue")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreFormat(_Model):
    """A store format (flagship, standard, partner store...).

    Costs are in the scenario's currency: ``opening_cost`` once, ``fixed_cost`` per year.
    ``capacity`` is the most demand (same unit as the area weights: people by default)
    one store can serve; 0 means unlimited. ``levels`` lists the area levels (e.g.
    ``["township"]``) where this format is the one opened; empty = anywhere.

    With ``objective.choose_format = true`` the solver chooses each store's format:
    ``levels`` are then the levels where the format is *allowed* (empty: anywhere), a
    site needs at least ``min_population`` persons and ``min_income`` (the area's
    income, CNY per person per year) for it, and ``max_stores`` caps how many new stores
    of this format open (None: no cap).
    """

    name: str
    opening_cost: float = Field(1_500_000.0, ge=0)
    fixed_cost: float = Field(600_000.0, ge=0)
    capacity: float = Field(0.0, ge=0)
    attractiveness: float = Field(1.0, gt=0)
    levels: tuple[str, ...] = ()
    min_population: float = Field(0.0, ge=0)
    min_income: float = Field(0.0, ge=0)
    max_stores: int | None = Field(None, ge=0)


class TableSpec(_Model):
    """Where a table comes from: a file (``path``) or a bundled ``dataset``."""

    path: str | None = None
    dataset: Literal["china"] | None = None
    provinces: tuple[str, ...] | None = None
    crs: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TableSpec:
        if self.path is not None and self.dataset is not None:
            raise ValueError("give either 'path' or 'dataset', not both")
        return self


class SitesSpec(_Model):
    """Candidate sites: ``from = "areas"`` (every demand area) or a ``path``."""

    from_: Literal["areas"] | None = Field(None, alias="from")
    path: str | None = None
    crs: str | None = None
    min_population: float = Field(0.0, ge=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_source(self) -> SitesSpec:
        if self.path is not None and self.from_ is not None:
            raise ValueError("give either 'from = \"areas\"' or 'path', not both")
        return self


class ObjectiveSpec(_Model):
    """What to optimise and how many stores (or what budget).

    ``kind``: ``pmedian`` (minimise population-weighted km to the nearest store),
    ``coverage`` (maximise population within ``radius_km``), ``revenue`` (maximise our
    captured offline revenue minus the stores' yearly fixed costs, Huff model against
    rivals and our own stores, see :mod:`storeplan.market`) or ``fixed_cost``
    (minimise yearly store costs + ``cost_per_km`` x population x km per year, where a
    store's yearly cost is its format's ``fixed_cost`` + ``opening_cost`` /
    ``amortisation_years``).
    ``stores`` is the number of new stores; ``budget`` (currency) caps the total
    opening cost of new stores (a knapsack row in every objective, never turned into a
    store count; with ``stores`` too, both hold). ``choose_format``: the solver chooses
    every new store's format among those its site allows (see :class:`StoreFormat`);
    otherwise the format follows the site's level.
    """

    kind: str = "coverage"
    stores: int | None = Field(None, ge=0)
    budget: float | None = Field(None, ge=0)
    radius_km: float = Field(15.0, gt=0)
    format: str | None = None
    cost_per_km: float = Field(1.0, ge=0)
    amortisation_years: float = Field(5.0, gt=0)
    choose_format: bool = False

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in OBJECTIVES:
            raise ValueError(f"unknown objective {v!r}; expected one of {', '.join(OBJECTIVES)}")
        return v


class QuotaSpec(_Model):
    """Quotas over one grouping column of the sites (``region``, ``tier``, ``level``,
    ``country``...): per value, the least / most new stores (``min`` / ``max``) and the
    least / most opening cost of new stores (``budget_min`` / ``budget_max``, currency)."""

    column: str
    min: dict[str, int] = Field(default_factory=dict)
    max: dict[str, int] = Field(default_factory=dict)
    budget_min: dict[str, float] = Field(default_factory=dict)
    budget_max: dict[str, float] = Field(default_factory=dict)


class ConstraintsSpec(_Model):
    """Side constraints: spacing (km), must-open / forbidden site ids, per-region quotas
    (``region_min`` / ``region_max``) and quotas over any grouping column (``quotas``)."""

    min_spacing_km: float = Field(0.0, ge=0)
    must_open: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    region_min: dict[str, int] = Field(default_factory=dict)
    region_max: dict[str, int] = Field(default_factory=dict)
    quotas: tuple[QuotaSpec, ...] = ()

    def all_quotas(self) -> tuple[QuotaSpec, ...]:
        """``quotas`` plus ``region_min`` / ``region_max`` as a quota on ``region``."""
        extra = ()
        if self.region_min or self.region_max:
            extra = (QuotaSpec(column="region", min=self.region_min, max=self.region_max),)
        return extra + tuple(self.quotas)


class OptionsSpec(_Model):
    """Run options: ``seed``, ``time_limit`` (seconds), neighbour-list size ``neighbours``
    (k nearest sites kept per area), ``max_km`` (every pair closer is kept) and
    ``dense_pairs`` (store every area-site pair when areas x sites is at most this)."""

    seed: int = 0
    time_limit: float | None = Field(60.0, gt=0)
    neighbours: int = Field(64, ge=1)
    max_km: float = Field(50.0, gt=0)
    dense_pairs: int = Field(4_000_000, ge=0)


class CalibrationSpec(_Model):
    """Fit the Huff model to observed sales of existing stores (``annual_sales`` column).

    ``enabled``: calibrate whenever at least ``min_stores`` existing stores carry sales.
    A fit whose R^2 is below ``min_r2`` is reported but not applied unless ``force``.
    The other fields go to :func:`storeplan.market.calibrate` (``fit_scale``: fit the
    market-size scale).
    """

    enabled: bool = True
    min_stores: int = Field(5, ge=2)
    fit_decay: Literal["common", "level", "none"] = "common"
    fit_formats: bool = True
    fit_outside: bool = True
    fit_scale: bool = True
    min_r2: float = 0.3
    force: bool = False


class ScenarioSpec(_Model):
    """The whole scenario file."""

    name: str = "scenario"
    description: str = ""
    areas: TableSpec
    sites: SitesSpec = Field(default_factory=lambda: SitesSpec(**{"from": "areas"}))
    existing: TableSpec | None = None
    rivals: TableSpec | None = None
    formats: tuple[StoreFormat, ...] = (StoreFormat(name="standard"),)
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    constraints: ConstraintsSpec = Field(default_factory=ConstraintsSpec)
    options: OptionsSpec = Field(default_factory=OptionsSpec)
    demand: DemandParams = Field(default_factory=DemandParams)
    market: MarketParams = Field(default_factory=MarketParams)
    calibration: CalibrationSpec = Field(default_factory=CalibrationSpec)
    rollout: RolloutSpec | None = None

    @model_validator(mode="after")
    def _formats(self) -> ScenarioSpec:
        names = [f.name for f in self.formats]
        if not names:
            raise ValueError("at least one store format is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate format names: {names}")
        if self.objective.format is not None and self.objective.format not in names:
            raise ValueError(f"objective.format {self.objective.format!r} is not one of the formats {names}")
        if self.areas.path is None and self.areas.dataset is None:
            raise ValueError("[areas] needs 'path' or 'dataset'")
        return self


def _pydantic_message(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(file)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return f"{source}: " + "; ".join(parts)


def _unknown_option(exc: ValidationError) -> bool:
    return any("unknown objective" in str(e.get("msg", "")) for e in exc.errors())


@dataclass(frozen=True)
class Scenario:
    """A validated planning scenario: frames + settings. Build with a factory.

    Attributes
    ----------
    name : str
    areas : DataFrame
        Demand areas (see ``docs/design.md`` for columns); ``population`` in people.
    sites : DataFrame
        Candidate sites: ``id, lon, lat, region, level, must_open, forbidden``.
    existing : DataFrame
        Our existing stores (kept open; they serve demand).
    rivals : DataFrame
        Rival stores (``id, brand, lon, lat``).
    formats : tuple of StoreFormat
    objective : ObjectiveSpec
    constraints : ConstraintsSpec
    options : OptionsSpec
    demand : DemandParams
        Spending potential per area and category (:mod:`storeplan.demand`).
    market : MarketParams
        Huff model parameters (:mod:`storeplan.market`); the formats' attractiveness
        replaces ``format_attractiveness``.
    calibration : CalibrationSpec
    rollout : RolloutSpec or None
        Multi-year rollout (:mod:`storeplan.rollout`), when the scenario has one.
    notes : tuple of str
        Data attribution and which layers are synthetic.
    source : str
        Where the scenario came from (file path or "frames").
    """

    name: str
    areas: pd.DataFrame
    sites: pd.DataFrame
    existing: pd.DataFrame
    rivals: pd.DataFrame
    formats: tuple[StoreFormat, ...]
    objective: ObjectiveSpec
    constraints: ConstraintsSpec = field(default_factory=ConstraintsSpec)
    options: OptionsSpec = field(default_factory=OptionsSpec)
    notes: tuple[str, ...] = ()
    source: str = "frames"
    description: str = ""
    demand: DemandParams = field(default_factory=DemandParams)
    market: MarketParams = field(default_factory=MarketParams)
    calibration: CalibrationSpec = field(default_factory=CalibrationSpec)
    rollout: RolloutSpec | None = None

    # ------------------------------------------------------------------ factories
    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> Scenario:
        """Read, validate and load a scenario file.

        ``overrides`` replace settings after reading, merged in depth: e.g.
        ``objective={"stores": 10}``, ``options={"seed": 3}`` or
        ``constraints={"region_max": {"Zhejiang": 5}}`` change only the keys they name.

        Raises
        ------
        UnreadableFileError, InputError (and subclasses), UnknownOptionError
        """
        p = Path(path)
        if not p.is_file():
            raise UnreadableFileError(f"scenario file not found: {p}")
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UnreadableFileError(f"scenario file {p.name} is not valid TOML: {exc}") from exc
        spec = cls.spec_from_dict(_deep_merge(raw, overrides), source=p.name)
        return cls.from_spec(spec, base_dir=p.parent, source=str(p))

    @staticmethod
    def spec_from_dict(raw: Mapping[str, Any], source: str = "scenario") -> ScenarioSpec:
        """Validate a scenario dictionary (as read from TOML) into a :class:`ScenarioSpec`."""
        try:
            return ScenarioSpec.model_validate(dict(raw))
        except ValidationError as exc:
            cls_ = UnknownOptionError if _unknown_option(exc) else InputError
            raise cls_(_pydantic_message(exc, source)) from None

    @classmethod
    def from_spec(cls, spec: ScenarioSpec, *, base_dir: Path | str = ".", source: str = "spec") -> Scenario:
        """Load the tables a :class:`ScenarioSpec` names (paths relative to ``base_dir``)."""
        base = Path(base_dir)
        notes: list[str] = []
        dataset_rivals = None
        if spec.areas.dataset is not None:
            from .data.datasets import china

            data = china(
                provinces=list(spec.areas.provinces) if spec.areas.provinces else None, seed=spec.options.seed
            )
            areas = data.areas
            dataset_rivals = data.rivals
            notes.append(data.attribution)
            notes.extend(data.notes)
        else:
            areas = read_table(base / spec.areas.path, what="areas", crs=spec.areas.crs)
        sites = None
        if spec.sites.path is not None:
            sites = read_table(base / spec.sites.path, what="sites", crs=spec.sites.crs)
        existing = None
        if spec.existing is not None and spec.existing.path is not None:
            existing = read_table(base / spec.existing.path, what="existing stores", crs=spec.existing.crs)
        rivals = None
        if spec.rivals is not None and spec.rivals.path is not None:
            rivals = read_table(base / spec.rivals.path, what="rivals", crs=spec.rivals.crs)
        elif dataset_rivals is not None and (
            spec.rivals is None or spec.rivals.dataset is not None or spec.rivals.path is None
        ):
            rivals = dataset_rivals
        return cls.from_frames(
            areas,
            sites=sites,
            existing=existing,
            rivals=rivals,
            formats=spec.formats,
            objective=spec.objective,
            constraints=spec.constraints,
            options=spec.options,
            name=spec.name,
            description=spec.description,
            notes=tuple(notes),
            source=source,
            sites_min_population=spec.sites.min_population,
            demand=spec.demand,
            market=spec.market,
            calibration=spec.calibration,
            rollout=spec.rollout,
        )

    @classmethod
    def from_frames(
        cls,
        areas: pd.DataFrame,
        *,
        sites: pd.DataFrame | None = None,
        existing: pd.DataFrame | None = None,
        rivals: pd.DataFrame | None = None,
        formats: tuple[StoreFormat, ...] | list[StoreFormat | Mapping] | None = None,
        objective: ObjectiveSpec | Mapping[str, Any] | None = None,
        constraints: ConstraintsSpec | Mapping[str, Any] | None = None,
        options: OptionsSpec | Mapping[str, Any] | None = None,
        name: str = "scenario",
        description: str = "",
        notes: tuple[str, ...] = (),
        source: str = "frames",
        sites_min_population: float = 0.0,
        demand: DemandParams | Mapping[str, Any] | None = None,
        market: MarketParams | Mapping[str, Any] | None = None,
        calibration: CalibrationSpec | Mapping[str, Any] | None = None,
        rollout: RolloutSpec | Mapping[str, Any] | None = None,
    ) -> Scenario:
        """Build a scenario from DataFrames (validated here).

        ``sites=None`` makes every demand area (with ``population >=
        sites_min_population``) a candidate site.
        """
        try:
            fmts = tuple(
                f if isinstance(f, StoreFormat) else StoreFormat(**f)
                for f in (formats or (StoreFormat(name="standard"),))
            )
            obj = objective if isinstance(objective, ObjectiveSpec) else ObjectiveSpec(**(objective or {}))
            con = (
                constraints
                if isinstance(constraints, ConstraintsSpec)
                else ConstraintsSpec(**(constraints or {}))
            )
            opt = options if isinstance(options, OptionsSpec) else OptionsSpec(**(options or {}))
            dem = demand if isinstance(demand, DemandParams) else DemandParams(**(demand or {}))
            mkt = market if isinstance(market, MarketParams) else MarketParams(**(market or {}))
            cal = (
                calibration
                if isinstance(calibration, CalibrationSpec)
                else CalibrationSpec(**(calibration or {}))
            )
            rol = rollout if (rollout is None or isinstance(rollout, RolloutSpec)) else RolloutSpec(**rollout)
        except ValidationError as exc:
            cls_ = UnknownOptionError if _unknown_option(exc) else InputError
            raise cls_(_pydantic_message(exc, name)) from None
        areas_v = validate_areas(areas)
        if sites is None:
            keep = areas_v["population"].to_numpy() >= sites_min_population
            carry = ("id", "name", "lon", "lat", "region", "level", "tier", "country", "population", "income")
            cols = [c for c in carry if c in areas_v.columns]
            sites_v = validate_sites(areas_v.loc[keep, cols].reset_index(drop=True), "sites (from areas)")
        else:
            sites_v = validate_sites(sites)
        existing_v = validate_stores(existing)
        rivals_v = validate_rivals(rivals)
        scn = cls(
            name=name,
            areas=areas_v,
            sites=_mark_sites(sites_v, con),
            existing=existing_v,
            rivals=rivals_v,
            formats=fmts,
            objective=obj,
            constraints=con,
            options=opt,
            notes=tuple(notes),
            source=source,
            description=description,
            demand=dem,
            market=mkt,
            calibration=cal,
            rollout=rol,
        )
        scn.check()
        return scn

    # ------------------------------------------------------------------ derived
    @property
    def format_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.formats)

    def format(self, name: str | None = None) -> StoreFormat:
        """The named format, or the objective's default format (first when unset)."""
        name = name or self.objective.format or self.formats[0].name
        for f in self.formats:
            if f.name == name:
                return f
        raise UnknownOptionError(f"unknown store format {name!r}; expected one of {self.format_names}")

    def market_params(self) -> MarketParams:
        """The Huff parameters with our formats' attractiveness and default format."""
        fa = {f.name: float(f.attractiveness) for f in self.formats}
        return self.market.model_copy(
            update={"format_attractiveness": fa, "default_format": self.format().name}
        )

    def site_formats(self) -> np.ndarray:
        """Format name for a new store at every candidate site (by the site's area level)."""
        default = self.format().name
        out = np.full(len(self.sites), default, dtype=object)
        if "level" in self.sites.columns:
            levels = self.sites["level"].astype(object).to_numpy()
            for f in self.formats:
                if f.levels:
                    out[np.isin(levels, list(f.levels))] = f.name
        return out

    def n_new_stores(self) -> int:
        """Number of new stores to open: ``objective.stores`` or what ``budget`` allows.

        With only a budget the count is free (-1): the budget is a knapsack row on the
        opening costs that the solver honours, never a store count.
        """
        obj = self.objective
        if obj.stores is not None:
            return int(obj.stores)
        if obj.budget is not None:
            return -1
        if obj.kind == "fixed_cost":
            return -1  # free: the model chooses
        raise InputError("objective: give 'stores' (number of new stores) or 'budget'")

    def check(self) -> None:
        """Check the settings against the data (before any solving).

        Raises
        ------
        InputError
            Unknown site ids in must_open/forbidden, a site both must-open and forbidden.
        InfeasibleError
            More stores asked than candidate sites, must-open sites above the store count,
            region minimums above the count or above the sites available in the region.
        """
        obj, con = self.objective, self.constraints
        n_sites = len(self.sites)
        p = self.n_new_stores()
        allowed = int((~self.sites["forbidden"]).sum())
        if p > n_sites:
            raise InfeasibleError(
                f"objective.stores: {p} new stores asked but there are only {n_sites} candidate sites"
            )
        if p > allowed:
            raise InfeasibleError(
                f"objective.stores: {p} new stores asked but only {allowed} candidate sites are not forbidden"
            )
        n_must = int(self.sites["must_open"].sum())
        if p >= 0 and n_must > p:
            raise InfeasibleError(f"constraints.must_open: {n_must} must-open sites but only {p} new stores")
        both = self.sites["must_open"] & self.sites["forbidden"]
        if both.any():
            raise InfeasibleError(
                f"constraints: site(s) {', '.join(self.sites.loc[both, 'id'][:5])} "
                "are both must-open and forbidden"
            )
        for q in con.quotas:
            if q.column not in self.sites.columns:
                raise InputError(
                    f"constraints.quotas: the sites have no column {q.column!r} "
                    f"(columns: {', '.join(map(str, self.sites.columns))})"
                )
            known = set(self.sites[q.column].dropna().astype(str))
            for key in (*q.min, *q.max, *q.budget_min, *q.budget_max):
                if key not in known:
                    raise InputError(
                        f"constraints.quotas: unknown {q.column} {key!r} (sites have {len(known)} values)"
                    )
        if con.region_min or con.region_max:
            if "region" not in self.sites.columns:
                raise InputError("constraints.region_min/region_max need a 'region' column on the sites")
            regions = self.sites["region"].astype(object)
            known = set(regions.dropna())
            for key in (*con.region_min, *con.region_max):
                if key not in known:
                    raise InputError(f"constraints: unknown region {key!r} (sites have {len(known)} regions)")
            total_min = sum(con.region_min.values())
            if p >= 0 and total_min > p:
                raise InfeasibleError(
                    f"constraints.region_min: the minimums add up to {total_min} but only {p} new stores"
                )
            for reg, lo in con.region_min.items():
                avail = int(((regions == reg) & ~self.sites["forbidden"]).sum())
                if lo > avail:
                    raise InfeasibleError(
                        f"constraints.region_min: region {reg!r} needs {lo} stores "
                        f"but has {avail} allowed sites"
                    )
                hi = con.region_max.get(reg)
                if hi is not None and lo > hi:
                    raise InfeasibleError(
                        f"constraints: region {reg!r} has region_min {lo} > region_max {hi}"
                    )
            for reg, hi in con.region_max.items():
                must = int(((regions == reg) & self.sites["must_open"]).sum())
                if must > hi:
                    raise InfeasibleError(
                        f"constraints.region_max: region {reg!r} allows {hi} stores "
                        f"but has {must} must-open sites"
                    )
        if obj.kind == "coverage" and p == 0 and len(self.existing) == 0:
            raise InfeasibleError("objective.stores: 0 new stores and no existing stores: nothing to plan")

    def content_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the settings and the data: same inputs, same hash."""
        h = hashlib.sha256()
        settings = {
            "name": self.name,
            "formats": [f.model_dump() for f in self.formats],
            "objective": self.objective.model_dump(),
            "constraints": self.constraints.model_dump(),
            "options": self.options.model_dump(),
            "demand": self.demand.model_dump(),
            "market": self.market.model_dump(),
            "calibration": self.calibration.model_dump(),
            "rollout": None if self.rollout is None else self.rollout.model_dump(),
        }
        h.update(json.dumps(settings, sort_keys=True, default=str).encode())
        for frame in (self.areas, self.sites, self.existing, self.rivals):
            h.update(str(list(frame.columns)).encode())
            if len(frame):
                h.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """A short description for ``storeplan validate``."""
        return {
            "name": self.name,
            "areas": len(self.areas),
            "population": float(self.areas["population"].sum()),
            "candidate_sites": len(self.sites),
            "existing_stores": len(self.existing),
            "rival_stores": len(self.rivals),
            "objective": self.objective.kind,
            "new_stores": self.n_new_stores(),
            "formats": list(self.format_names),
        }


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in: nested tables merge key by key, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping):
            out[key] = _deep_merge(out[key] if isinstance(out.get(key), Mapping) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _mark_sites(sites: pd.DataFrame, con: ConstraintsSpec) -> pd.DataFrame:
    ids = set(sites["id"])
    for label, wanted in (("must_open", con.must_open), ("forbidden", con.forbidden)):
        unknown = [s for s in wanted if s not in ids]
        if unknown:
            raise InputError(
                f"constraints.{label}: unknown site id(s) {', '.join(unknown[:5])}"
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            )
    out = sites.copy()
    if con.must_open:
        out.loc[out["id"].isin(con.must_open), "must_open"] = True
    if con.forbidden:
        out.loc[out["id"].isin(con.forbidden), "forbidden"] = True
    return out
