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
import math
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    field_validator,
    model_validator,
)

from .alternatives import AlternativesSpec
from .assumptions import FormatAssumption, PlanAssumptions
from .data.io import read_table, validate_areas, validate_rivals, validate_sites, validate_stores
from .demand import DemandParams
from .errors import (
    InfeasibleError,
    InputError,
    InputWarning,
    UnknownOptionError,
    UnreadableFileError,
    UnsupportedConstraintError,
)
from .launch_stock import LaunchSpec
from .market import MarketParams
from .response import ResponseSpec
from .rollout import RolloutSpec
from .rollout.world_spec import WorldSpec

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
OBJECTIVES = ("pmedian", "coverage", "fixed_cost", "revenue", "pcenter", "pdispersion", "backup_coverage")
#: The objective a scenario gets when it names none.
DEFAULT_OBJECTIVE = "coverage"

#: Half the Earth's circumference, km: no great-circle distance is longer.
MAX_KM = 20_038.0
#: Largest number a scenario setting may hold (currency, counts, seconds): bigger values
#: are typing mistakes and would overflow the solvers' arithmetic.
MAX_NUMBER = 1e15
#: Existing stores farther than this from every demand area draw a warning (km).
FAR_STORE_KM = 500.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StoreFormat(_Model):
    """A store format (flagship, standard, partner store...).

    Costs are in the scenario's currency: ``opening_cost`` once, ``fixed_cost`` per year.
    ``capacity`` is the most demand (same unit as the area weights: people by default)
    one store can serve; 0 means unlimited. ``sales_capacity`` is the most yearly
    offline sales one store can serve, currency per year (the areas' offline spending is
    the demand; 0: unlimited); the formats of a scenario cap either people or sales,
    not both. ``levels`` lists the area levels (e.g.
    ``["township"]``) where this format is the one opened; empty = anywhere.

    With ``objective.choose_format = true`` the solver chooses each store's format:
    ``levels`` are then the levels where the format is *allowed* (empty: anywhere), a
    site needs at least ``min_population`` persons and ``min_income`` (the area's
    income, CNY per person per year) for it, and ``max_stores`` caps how many new stores
    of this format open (None: no cap).

    ``category_attractiveness`` multiplies ``attractiveness`` per demand category
    (``demand.categories``; unlisted: 1): ``{ tv_home = 0 }`` is a format that sells no
    TVs, ``{ smart_home = 2 }`` one that shows twice as many home devices. With any
    multiplier other than 1 every (category, area) pair gets its own Huff shares
    (:class:`storeplan.market.Market`), and the solver's choice of site and format
    weighs each format's sales category by category.

    ``ownership`` says who runs the store: ``"own"`` (the brand pays the opening and
    fixed costs and keeps the full margin) or ``"partner"`` (a local partner runs it; the
    brand pays a small ``opening_cost``, its fit-out contribution, usually no
    ``fixed_cost``, and keeps a revenue share). ``margin`` is the share (0..1] of this
    format's store sales that is cash to the brand after cost of goods and, for a partner
    store, the partner's share; None: the rollout's ``gross_margin``
    (:meth:`Scenario.format_margins`). With ``choose_format`` and an own and a partner
    format allowed at one site, the joint rollout chooses site, format and ownership by
    NPV.

    Parameters
    ----------
    name : str
        Format name (unique in the scenario).
    opening_cost : float, default=1_500_000
        Capital the brand spends once when a store opens, currency.
    fixed_cost : float, default=600_000
        Yearly fixed cost of a store to the brand, currency per year.
    capacity, sales_capacity, attractiveness, category_attractiveness, levels, \
min_population, min_income, max_stores
        See above.
    ownership : {"own", "partner"}, default="own"
        Who runs the store (labels the plan and the counts by ownership; the cash
        flow follows ``opening_cost``, ``fixed_cost`` and ``margin``).
    margin : float or None, default=None
        Share (0..1] of the store's sales that is cash to the brand, per currency of
        sales; None: the rollout's ``gross_margin``.
    """

    name: str
    opening_cost: float = Field(1_500_000.0, ge=0)
    fixed_cost: float = Field(600_000.0, ge=0)
    capacity: float = Field(0.0, ge=0)
    sales_capacity: float = Field(0.0, ge=0)
    attractiveness: float = Field(1.0, gt=0)
    category_attractiveness: dict[str, float] = Field(default_factory=dict)
    levels: tuple[str, ...] = ()
    min_population: float = Field(0.0, ge=0)
    min_income: float = Field(0.0, ge=0)
    max_stores: int | None = Field(None, ge=0)
    ownership: Literal["own", "partner"] = "own"
    margin: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _check_categories(self) -> StoreFormat:
        for cat, v in self.category_attractiveness.items():
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"category_attractiveness[{cat!r}] must be finite and >= 0, got {v}")
        return self

    def cash_margin(self, gross_margin: float) -> float:
        """Share (0..1] of this format's store sales that is cash to the brand.

        Parameters
        ----------
        gross_margin : float
            The rollout's ``gross_margin`` (share of sales), used when ``margin`` is None.

        Returns
        -------
        float
            ``margin``, or ``gross_margin`` when ``margin`` is None (share of sales).

        Examples
        --------
        >>> own = StoreFormat(name="own")
        >>> partner = StoreFormat(name="partner", ownership="partner", margin=0.1)
        >>> [own.cash_margin(0.2), partner.cash_margin(0.2)]
        [0.2, 0.1]
        """
        return float(gross_margin if self.margin is None else self.margin)


class TableSpec(_Model):
    """Where a table comes from: a file (``path``) or a bundled ``dataset``."""

    path: str | None = None
    dataset: Literal["china", "world"] | None = None
    provinces: tuple[str, ...] | None = None
    #: Countries of the ``world`` dataset (ISO2, ISO3 or English names; None: all).
    countries: tuple[str, ...] | None = None
    #: Countries left out of the ``world`` dataset (e.g. the home market, ``["CN"]``).
    exclude_countries: tuple[str, ...] = ()
    crs: str | None = None
    #: Rival layer of the bundled dataset (``china(rivals=...)``, see docs/data.md); None:
    #: the dataset's default (``datasets.DEFAULT_RIVAL_LAYER``, the calibrated layer).
    rival_layer: Literal["sparse", "calibrated"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TableSpec:
        if self.path is not None and self.dataset is not None:
            raise ValueError("give either 'path' or 'dataset', not both")
        if self.rival_layer is not None and self.dataset != "china":
            raise ValueError("'rival_layer' needs dataset = \"china\" (it chooses the bundled rival layer)")
        if (self.countries is not None or self.exclude_countries) and self.dataset != "world":
            raise ValueError("'countries' and 'exclude_countries' need dataset = \"world\"")
        if self.provinces is not None and self.dataset != "china":
            raise ValueError("'provinces' needs dataset = \"china\"")
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
    ``amortisation_years``), ``pcenter`` (minimise the largest km from a populated
    area to its nearest store), ``pdispersion`` (maximise the smallest km between two
    stores; pairs of two existing stores do not count) or ``backup_coverage`` (keep the
    most population within ``radius_km`` and then maximise the population within
    ``radius_km`` of at least two stores).
    ``stores`` is the number of new stores; ``budget`` (currency) caps the total
    opening cost of new stores (a knapsack row in every objective, never turned into a
    store count; with ``stores`` too, both hold). ``choose_format``: the solver chooses
    every new store's format among those its site allows (see :class:`StoreFormat`);
    otherwise the format follows the site's level. ``fill_must_open`` (with format
    capacities, ``pmedian`` and ``coverage``): every existing and must-open store serves at
    least ``1 - fill_tolerance`` of its capacity.
    """

    kind: str = DEFAULT_OBJECTIVE
    stores: int | None = Field(None, ge=0)
    budget: float | None = Field(None, ge=0)
    radius_km: float = Field(15.0, gt=0, le=MAX_KM)
    format: str | None = None
    cost_per_km: float = Field(1.0, ge=0)
    amortisation_years: float = Field(5.0, gt=0)
    choose_format: bool = False
    fill_must_open: bool = False
    fill_tolerance: float = Field(0.0, ge=0, lt=1)

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
    min: dict[str, NonNegativeInt] = Field(default_factory=dict)
    max: dict[str, NonNegativeInt] = Field(default_factory=dict)
    budget_min: dict[str, float] = Field(default_factory=dict)
    budget_max: dict[str, float] = Field(default_factory=dict)


class ConstraintsSpec(_Model):
    """Side constraints: spacing (km), must-open / forbidden site ids, per-region quotas
    (``region_min`` / ``region_max``) and quotas over any grouping column (``quotas``)."""

    min_spacing_km: float = Field(0.0, ge=0, le=MAX_KM)
    must_open: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    region_min: dict[str, NonNegativeInt] = Field(default_factory=dict)
    region_max: dict[str, NonNegativeInt] = Field(default_factory=dict)
    quotas: tuple[QuotaSpec, ...] = ()

    def all_quotas(self) -> tuple[QuotaSpec, ...]:
        """``quotas`` plus ``region_min`` / ``region_max`` as a quota on ``region``."""
        extra: tuple[QuotaSpec, ...] = ()
        if self.region_min or self.region_max:
            extra = (QuotaSpec(column="region", min=self.region_min, max=self.region_max),)
        return extra + tuple(self.quotas)


class OptionsSpec(_Model):
    """Run options: ``seed``, ``time_limit`` (seconds), neighbour-list size ``neighbours``
    (k nearest sites kept per area), ``max_km`` (every pair closer is kept),
    ``max_sites_per_area`` (at most this many sites per area, the nearest: caps the
    network of a national grid of 10^6 demand points, where dense regions hold
    thousands of sites within ``max_km``; None: no cap) and ``dense_pairs`` (store every
    area-site pair when areas x sites is at most this)."""

    seed: int = Field(0, ge=0, le=2**32 - 1)
    time_limit: float | None = Field(60.0, gt=0)
    neighbours: int = Field(64, ge=1, le=100_000)
    max_km: float = Field(50.0, gt=0, le=MAX_KM)
    max_sites_per_area: int | None = Field(None, ge=1, le=100_000)
    dense_pairs: int = Field(4_000_000, ge=0, le=10**10)

    @model_validator(mode="after")
    def _cap_holds_the_neighbours(self) -> OptionsSpec:
        if self.max_sites_per_area is not None and self.max_sites_per_area < self.neighbours:
            raise ValueError(
                f"max_sites_per_area ({self.max_sites_per_area}) must be at least "
                f"neighbours ({self.neighbours})"
            )
        return self


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
    launch: LaunchSpec | None = None
    response: ResponseSpec | None = None
    alternatives: AlternativesSpec | None = None
    world: WorldSpec | None = None

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
        if self.world is not None and self.rollout is None:
            raise ValueError("[world] needs a [rollout] section (years, yearly caps and budgets)")
        return self


def _pydantic_message(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(file)"
        msg = err["msg"].removeprefix("Value error, ")
        if err.get("type") == "finite_number":
            msg = f"must be a finite number, got {err.get('input')!r}"
        parts.append(f"{loc}: {msg}")
    return f"{source}: " + "; ".join(parts)


def _check_numbers(obj: Any, where: str, source: str) -> None:
    """Every number in a validated settings model is finite and at most :data:`MAX_NUMBER`
    in size (also in the sections whose models allow infinities)."""
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            _check_numbers(getattr(obj, name), f"{where}.{name}" if where else name, source)
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            _check_numbers(v, f"{where}.{k}", source)
    elif isinstance(obj, list | tuple):
        for k, v in enumerate(obj):
            _check_numbers(v, f"{where}[{k}]", source)
    elif isinstance(obj, bool):
        return
    elif isinstance(obj, int | float):
        if isinstance(obj, float) and not math.isfinite(obj):
            raise InputError(f"{source}: {where}: must be a finite number, got {obj!r}")
        if abs(obj) > MAX_NUMBER:
            raise InputError(f"{source}: {where}: {obj:.4g} is too large (at most {MAX_NUMBER:.0e})")


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
    launch : LaunchSpec or None
        A product launch to split across stores and the web shop
        (:mod:`storeplan.launch_stock`), when the scenario has one.
    response : ResponseSpec or None
        How rival brands answer the plan (:mod:`storeplan.response`), when given.
    alternatives : AlternativesSpec or None
        Alternative plans close to the best (:mod:`storeplan.alternatives`), when given.
    world : WorldSpec or None
        Multi-country planning (:mod:`storeplan.world`), when given.
    countries : DataFrame
        One row per country of the areas (``country`` ISO2 plus attributes such as
        ``currency``, ``price_level``, ``income_group``); empty unless the areas come
        from the ``world`` dataset or ``from_frames(countries=...)``.
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
    launch: LaunchSpec | None = None
    response: ResponseSpec | None = None
    alternatives: AlternativesSpec | None = None
    world: WorldSpec | None = None
    countries: pd.DataFrame = field(default_factory=pd.DataFrame)

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
        spec = cls.spec_from_dict(deep_merge(raw, overrides), source=p.name)
        return cls.from_spec(spec, base_dir=p.parent, source=str(p))

    @staticmethod
    def spec_from_dict(raw: Mapping[str, Any], source: str = "scenario") -> ScenarioSpec:
        """Validate a scenario dictionary (as read from TOML) into a :class:`ScenarioSpec`."""
        if not isinstance(raw, Mapping):
            raise InputError(f"{source}: a scenario is a table of settings, got {type(raw).__name__}")
        try:
            spec = ScenarioSpec.model_validate(dict(raw))
        except ValidationError as exc:
            cls_ = UnknownOptionError if _unknown_option(exc) else InputError
            raise cls_(_pydantic_message(exc, source)) from None
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:  # a value pydantic cannot take
            raise InputError(f"{source}: {type(exc).__name__}: {exc}") from None
        _check_numbers(spec, "", source)
        return spec

    @classmethod
    def from_spec(cls, spec: ScenarioSpec, *, base_dir: Path | str = ".", source: str = "spec") -> Scenario:
        """Load the tables a :class:`ScenarioSpec` names (paths relative to ``base_dir``)."""
        base = Path(base_dir)
        notes: list[str] = []
        dataset_rivals = None
        countries = None
        if spec.areas.dataset == "world":
            from .data.world_data import world

            wd = world(
                list(spec.areas.countries) if spec.areas.countries else None,
                seed=spec.options.seed,
            )
            areas, dataset_rivals, countries = wd.areas, wd.rivals, wd.countries
            if spec.areas.exclude_countries:
                gone = {str(c).strip().upper() for c in spec.areas.exclude_countries}
                areas = areas[~areas["country"].isin(gone)].reset_index(drop=True)
                dataset_rivals = dataset_rivals[~dataset_rivals["country"].isin(gone)].reset_index(drop=True)
                countries = countries[~countries["country"].isin(gone)].reset_index(drop=True)
            notes.append(wd.attribution)
            notes.extend(wd.notes)
        elif spec.areas.dataset is not None:
            from .data.datasets import DEFAULT_RIVAL_LAYER, china

            data = china(
                provinces=list(spec.areas.provinces) if spec.areas.provinces else None,
                seed=spec.options.seed,
                rivals=spec.areas.rival_layer or DEFAULT_RIVAL_LAYER,
            )
            areas = data.areas
            dataset_rivals = data.rivals
            notes.append(data.attribution)
            notes.extend(data.notes)
        else:
            assert spec.areas.path is not None  # ScenarioSpec checks: path or dataset
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
            launch=spec.launch,
            response=spec.response,
            alternatives=spec.alternatives,
            world=spec.world,
            countries=countries,
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
        launch: LaunchSpec | Mapping[str, Any] | None = None,
        response: ResponseSpec | Mapping[str, Any] | None = None,
        alternatives: AlternativesSpec | Mapping[str, Any] | None = None,
        world: WorldSpec | Mapping[str, Any] | None = None,
        countries: pd.DataFrame | None = None,
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
            lau = launch if (launch is None or isinstance(launch, LaunchSpec)) else LaunchSpec(**launch)
            res = (
                response
                if (response is None or isinstance(response, ResponseSpec))
                else ResponseSpec(**response)
            )
            alt = (
                alternatives
                if (alternatives is None or isinstance(alternatives, AlternativesSpec))
                else AlternativesSpec(**alternatives)
            )
            wor = world if (world is None or isinstance(world, WorldSpec)) else WorldSpec(**world)
        except ValidationError as exc:
            cls_ = UnknownOptionError if _unknown_option(exc) else InputError
            raise cls_(_pydantic_message(exc, name)) from None
        for section, model in (
            ("formats", fmts),
            ("objective", obj),
            ("constraints", con),
            ("options", opt),
            ("demand", dem),
            ("market", mkt),
            ("calibration", cal),
            ("rollout", rol),
        ):
            _check_numbers(model, section, name)
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
            sites=_mark_sites(sites_v, con, () if rol is None else tuple(rol.must_open_year)),
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
            launch=lau,
            response=res,
            alternatives=alt,
            world=wor,
            countries=pd.DataFrame() if countries is None else countries.reset_index(drop=True),
        )
        scn.check()
        return scn

    # ------------------------------------------------------------------ derived
    @property
    def format_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.formats)

    def format_margins(self, rollout: RolloutSpec | None = None) -> dict[str, float]:
        """Each format's cash margin: the share of its store sales that is cash to the brand.

        Parameters
        ----------
        rollout : RolloutSpec, optional
            Gives ``gross_margin`` for the formats whose ``margin`` is None; default the
            scenario's ``[rollout]`` (or the defaults of :class:`RolloutSpec` without one).

        Returns
        -------
        dict of str to float
            Format name -> share of sales (0..1], in the order of ``formats``.
        """
        spec = rollout if rollout is not None else (self.rollout or RolloutSpec())
        return {f.name: f.cash_margin(spec.gross_margin) for f in self.formats}

    def format(self, name: str | None = None) -> StoreFormat:
        """The named format, or the objective's default format (first when unset)."""
        name = name or self.objective.format or self.formats[0].name
        for f in self.formats:
            if f.name == name:
                return f
        raise UnknownOptionError(f"unknown store format {name!r}; expected one of {self.format_names}")

    def assumptions(self, params: MarketParams, *, calibrated: bool = False) -> PlanAssumptions:
        """The scenario's assumptions as a plan uses them (``params``: the market's
        :class:`~storeplan.market.MarketParams` after calibration), for the report."""
        attract = dict(params.format_attractiveness)
        margins = self.format_margins()
        return PlanAssumptions(
            formats=tuple(
                FormatAssumption(
                    name=f.name,
                    opening_cost=float(f.opening_cost),
                    fixed_cost=float(f.fixed_cost),
                    capacity=float(f.capacity),
                    attractiveness=float(attract.get(f.name, f.attractiveness)),
                    category_attractiveness=tuple(
                        (c, params.category_multiplier(f.name, c)) for c in self.demand.category_names
                    )
                    if params.segmented
                    else (),
                    levels=tuple(f.levels),
                    max_stores=f.max_stores,
                    ownership=f.ownership,
                    margin=margins[f.name],
                )
                for f in self.formats
            ),
            stores=self.objective.stores,
            budget=self.objective.budget,
            radius_km=float(self.objective.radius_km),
            min_spacing_km=float(self.constraints.min_spacing_km),
            decay=str(params.decay),
            decay_by_level={str(k): float(v) for k, v in params.level_decay().items()},
            default_decay=float(params.default_decay),
            min_km=float(params.min_km),
            outside=float(params.outside),
            outside_per_100k=float(params.outside_per_100k),
            transfer_rate=float(params.transfer_rate),
            market_scale=float(params.market_scale),
            rival_attractiveness=float(params.rival_default),
            online_order_value=float(self.demand.online_order_value),
            categories=tuple(str(c.name) for c in self.demand.categories),
            calibrated=calibrated,
        )

    def market_params(self) -> MarketParams:
        """The Huff parameters with our formats' attractiveness and default format."""
        fa = {f.name: float(f.attractiveness) for f in self.formats}
        ca = dict(self.market.category_attractiveness)
        ca.update(
            {f.name: dict(f.category_attractiveness) for f in self.formats if f.category_attractiveness}
        )
        return self.market.model_copy(
            update={
                "format_attractiveness": fa,
                "default_format": self.format().name,
                "category_attractiveness": ca,
            }
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
        if self.world is not None:
            return -1  # the world master allocates the stores to countries and years
        raise InputError("objective: give 'stores' (number of new stores) or 'budget'")

    def _check_objective_options(self) -> None:
        """Objective settings a model cannot honour, refused before any work (the same
        refusals the objective adapters make at solve time)."""
        obj = self.objective
        capacity = [f.name for f in self.formats if f.capacity > 0]
        if obj.kind in ("pcenter", "pdispersion", "backup_coverage") and capacity:
            raise UnsupportedConstraintError(
                f"capacity (format {', '.join(capacity)}) cannot be modelled by the {obj.kind} objective; "
                "set capacity = 0 or use pmedian, coverage or fixed_cost"
            )
        if obj.kind == "pdispersion" and obj.stores is None:
            raise UnsupportedConstraintError(
                "objective 'pdispersion' needs objective.stores: with a budget alone fewer stores "
                "are always farther apart (the budget still holds as a knapsack row)"
            )
        if obj.fill_must_open:
            if obj.kind not in ("pmedian", "coverage"):
                raise UnsupportedConstraintError(
                    f"objective {obj.kind!r} cannot model fill_must_open (must-open stores filled to "
                    "capacity): it needs the single-source capacitated model of pmedian or coverage"
                )
            if not capacity:
                raise InputError(
                    "objective.fill_must_open needs a format with a capacity (the amount to fill)"
                )

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
        self._check_objective_options()
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
        self._check_category_attractiveness()
        if self.launch is not None:
            cats = self.demand.category_names
            if self.launch.category is not None and self.launch.category not in cats:
                raise UnknownOptionError(
                    f"launch.category {self.launch.category!r} is not a demand category; known: {list(cats)}"
                )
        if self.response is not None:
            if len(self.rivals) == 0:
                raise InputError("response: the scenario has no rival stores, so no rival can respond")
            known = set(self.rivals["brand"].astype(str))
            unknown = sorted(set(self.response.brands) - known)
            if unknown:
                raise UnknownOptionError(
                    f"response.brands: unknown brand(s) {unknown}; known: {sorted(known)}"
                )
            if self.response.robust and obj.kind != "revenue":
                raise UnknownOptionError(
                    f"response.robust needs objective.kind = 'revenue' (the objective that models "
                    f"rivals), not {obj.kind!r}"
                )
        if p == 0 and len(self.existing) == 0:
            raise InfeasibleError("objective.stores: 0 new stores and no existing stores: nothing to plan")
        self._check_ids()
        self._check_spacing(p)
        self._check_rollout(p)
        self._warn_far_stores()

    # ------------------------------------------------------------------ checks
    def _check_category_attractiveness(self) -> None:
        """Formats' category multipliers name demand categories, and a market segmented by
        category is not combined with what models one share per area."""
        cats = self.demand.category_names
        for f in self.formats:
            unknown = sorted(set(f.category_attractiveness) - set(cats))
            if unknown:
                raise UnknownOptionError(
                    f"formats[{f.name!r}].category_attractiveness: {unknown} are not demand categories; "
                    f"known: {list(cats)}"
                )
        if not self.market_params().segmented:
            return
        refuse = {
            "[market.channel]": self.market.channel is not None,
            "[response]": self.response is not None,
        }
        for what, on in refuse.items():
            if on:
                raise UnsupportedConstraintError(
                    f"formats' category_attractiveness (a format that sells some categories less or not "
                    f"at all) cannot be combined with {what}: that model keeps one share per area, not "
                    f"one per category; remove {what} or the category multipliers"
                )

    def _check_ids(self) -> None:
        """Site and existing-store ids name the same kind of thing (a store column)."""
        if not len(self.existing):
            return
        shared = sorted(set(self.sites["id"]) & set(self.existing["id"]))
        if shared:
            raise InputError(
                f"existing store id(s) {_names(shared)} are also candidate site ids; "
                "ids must be unique across candidate sites and existing stores "
                "(rename the stores, e.g. 'store-1', or drop the candidate where a store already is)"
            )

    def _spacing_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Conflicting (site, site) pairs and (site, existing store) pairs with their km."""
        from .geo import haversine_km, pairs_within

        n = len(self.sites)
        lon = np.concatenate([self.sites["lon"].to_numpy(float), self.existing["lon"].to_numpy(float)])
        lat = np.concatenate([self.sites["lat"].to_numpy(float), self.existing["lat"].to_numpy(float)])
        pairs = pairs_within(lon, lat, self.constraints.min_spacing_km)
        pairs = pairs[pairs[:, 0] < n]  # pairs of existing stores are facts
        km = haversine_km(lon[pairs[:, 0]], lat[pairs[:, 0]], lon[pairs[:, 1]], lat[pairs[:, 1]])
        site_pairs = pairs[:, 1] < n
        return pairs[site_pairs], km[site_pairs], pairs[~site_pairs], km[~site_pairs]

    def spaced_stores(self) -> int:
        """The most new stores that surely fit the sites: candidate sites neither
        forbidden nor within ``min_spacing_km`` of an existing store and, with a spacing,
        a greedy packing of them (a feasible spacing: every store count up to it passes
        :meth:`check`'s spacing test without a warning).

        Returns
        -------
        int
            Stores (0 without candidate sites).
        """
        if len(self.sites) == 0:
            return 0
        usable = ~self.sites["forbidden"].to_numpy(bool)
        if self.constraints.min_spacing_km <= 0:
            return int(usable.sum())
        ss, _, se, _ = self._spacing_pairs()
        usable[se[:, 0]] = False
        keep = usable[ss[:, 0]] & usable[ss[:, 1]]
        must = self.sites["must_open"].to_numpy(bool)
        return int(_greedy_packing(len(self.sites), ss[keep], usable, must))

    def _check_spacing(self, p: int) -> None:
        """Must-open sites meet the spacing, and enough sites can be spaced apart.

        Raises :class:`InfeasibleError` when two must-open sites, or a must-open site and
        an existing store, are closer than ``min_spacing_km``, or when a packing bound
        proves that fewer than the asked number of new stores can be spaced that far
        apart. Warns when a greedy packing fits fewer (the bound cannot decide).
        """
        d = self.constraints.min_spacing_km
        if d <= 0 or len(self.sites) == 0:
            return
        ids = self.sites["id"].to_numpy(object)
        store_ids = self.existing["id"].to_numpy(object)
        n = len(ids)
        ss, ss_km, se, se_km = self._spacing_pairs()
        must = self.sites["must_open"].to_numpy(bool)
        both = must[ss[:, 0]] & must[ss[:, 1]]
        if both.any():
            k = int(np.flatnonzero(both)[0])
            raise InfeasibleError(
                f"constraints.must_open: must-open sites {ids[ss[k, 0]]} and {ids[ss[k, 1]]} are "
                f"{ss_km[k]:.2f} km apart, closer than constraints.min_spacing_km = {d:g}"
                + (f" ({int(both.sum())} such pairs)" if both.sum() > 1 else "")
            )
        near = must[se[:, 0]]
        if near.any():
            k = int(np.flatnonzero(near)[0])
            raise InfeasibleError(
                f"constraints.must_open: must-open site {ids[se[k, 0]]} is {se_km[k]:.2f} km from "
                f"existing store {store_ids[se[k, 1] - n]}, closer than constraints.min_spacing_km = {d:g}"
            )
        if p <= 0:
            return
        # sites that can still open: not forbidden, not within the spacing of a store
        usable = ~self.sites["forbidden"].to_numpy(bool)
        usable[se[:, 0]] = False
        n_usable = int(usable.sum())
        if p > n_usable:
            raise InfeasibleError(
                f"objective.stores: {p} new stores asked but only {n_usable} candidate sites are neither "
                f"forbidden nor within constraints.min_spacing_km = {d:g} of an existing store"
            )
        keep = usable[ss[:, 0]] & usable[ss[:, 1]]
        ss = ss[keep]
        bound = _packing_bound(
            self.sites["lon"].to_numpy(float), self.sites["lat"].to_numpy(float), usable, d
        )
        if bound < p:
            raise InfeasibleError(
                f"constraints.min_spacing_km: at most {bound} new stores can be {d:g} km apart "
                f"among the candidate sites, but {p} are asked (lower the spacing or the store count)"
            )
        packed = _greedy_packing(n, ss, usable, must)
        if packed < p:
            warnings.warn(
                f"constraints.min_spacing_km: a greedy packing places only {packed} of the {p} new "
                f"stores {d:g} km apart (the bound allows {bound}); the solver may find no feasible plan",
                InputWarning,
                stacklevel=3,
            )

    def _check_rollout(self, p: int) -> None:
        """The rollout's per-year caps and budgets against the must-open sites and the store count."""
        spec = self.rollout
        if spec is None:
            return
        known = set(self.sites["id"]) | set(self.existing["id"])
        unknown = [k for k in spec.must_open_year if k not in known]
        if unknown:
            raise InputError(
                f"rollout.must_open_year: unknown site id(s) {_names(unknown)} "
                "(not a candidate site or an existing store)"
            )
        hi, budget = spec.max_stores(), spec.budgets()
        must_ids = set(self.sites.loc[self.sites["must_open"], "id"])
        year = dict.fromkeys(must_ids, 1)
        year.update({k: v for k, v in spec.must_open_year.items() if k in must_ids})
        fmt = dict(zip(self.sites["id"], self.site_formats(), strict=True))
        cost = {f.name: f.opening_cost for f in self.formats}
        for y in range(1, spec.years + 1):
            opening = [sid for sid, t in year.items() if t == y]
            if len(opening) > hi[y - 1]:
                raise InfeasibleError(
                    f"rollout.stores_per_year: year {y} allows {hi[y - 1]} new stores but "
                    f"{len(opening)} must-open sites open that year ({_names(sorted(opening))})"
                )
            spent = sum(cost[fmt[sid]] for sid in opening)
            if spent > budget[y - 1] + 1e-6:
                raise InfeasibleError(
                    f"rollout.budget_per_year: year {y} budget {budget[y - 1]:,.0f} is below the "
                    f"{spent:,.0f} opening cost of the {len(opening)} must-open sites opening that year"
                )
        if p > 0:
            cap = int(np.minimum(hi, 2**40).sum())  # unlimited years hold 2**62: no overflow
            if cap < p:
                warnings.warn(
                    f"rollout.stores_per_year: the yearly caps add up to {cap} new stores, fewer than the "
                    f"{p} the plan chooses; the rollout opens at most {cap}",
                    InputWarning,
                    stacklevel=3,
                )
            total_budget = float(budget.sum())
            if np.isfinite(total_budget):
                costs = np.sort([cost[f] for f in self.site_formats()])
                cheapest = float(costs[: min(p, len(costs))].sum())
                if cheapest > total_budget + 1e-6:
                    warnings.warn(
                        f"rollout.budget_per_year: the yearly budgets add up to {total_budget:,.0f}, less "
                        f"than the {cheapest:,.0f} that even the {p} cheapest sites cost to open; "
                        "the rollout leaves some chosen stores unopened",
                        InputWarning,
                        stacklevel=3,
                    )

    def _warn_far_stores(self) -> None:
        """Warn about existing stores far from every demand area (likely swapped lon/lat)."""
        if not len(self.existing):
            return
        from .geo import nearest

        km, _ = nearest(self.existing["lon"], self.existing["lat"], self.areas["lon"], self.areas["lat"])
        far = np.asarray(km) > FAR_STORE_KM
        if far.any():
            warnings.warn(
                f"existing stores: {_names(self.existing['id'][far])} "
                f"{'is' if far.sum() == 1 else 'are'} more than {FAR_STORE_KM:,.0f} km from every "
                f"demand area (nearest {float(np.min(np.asarray(km)[far])):,.0f} km); "
                "check lon/lat (swapped?) or the CRS",
                InputWarning,
                stacklevel=3,
            )

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
        if self.launch is not None:
            settings["launch"] = self.launch.model_dump()
        if self.response is not None:
            settings["response"] = self.response.model_dump()
        if self.alternatives is not None:
            settings["alternatives"] = self.alternatives.model_dump()
        if self.world is not None:
            settings["world"] = self.world.model_dump()
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


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in: nested tables merge key by key, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping):
            out[key] = deep_merge(out[key] if isinstance(out.get(key), Mapping) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _names(ids: Any, limit: int = 5) -> str:
    ids = [str(i) for i in ids]
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _greedy_packing(n: int, pairs: np.ndarray, usable: np.ndarray, must: np.ndarray) -> int:
    """Size of a maximal set of usable sites with no conflicting pair (must-open sites
    first, then fewest conflicts first): a feasible spacing, so a lower bound."""
    deg = np.bincount(pairs.ravel(), minlength=n)
    order = np.lexsort((deg, ~must))  # must-open first, then by degree
    adj_ptr = np.zeros(n + 1, np.int64)
    both = np.concatenate([pairs, pairs[:, ::-1]])
    both = both[np.argsort(both[:, 0], kind="stable")]
    np.add.at(adj_ptr, both[:, 0] + 1, 1)
    adj_ptr = np.cumsum(adj_ptr)
    nbr = both[:, 1]
    blocked = ~usable.copy()
    count = 0
    for i in order:
        if blocked[i]:
            continue
        count += 1
        blocked[i] = True
        blocked[nbr[adj_ptr[i] : adj_ptr[i + 1]]] = True
    return count


def _packing_bound(lon: np.ndarray, lat: np.ndarray, usable: np.ndarray, km: float) -> int:
    """An upper bound on how many usable sites can be at least ``km`` apart.

    The sites' unit vectors are binned into cubes whose diagonal is shorter than the
    chord of ``km``: two sites in one cube are closer than ``km``, so at most one per
    cube opens. The bound is the fewest occupied cubes over eight shifted grids.
    """
    from .geo import km_to_chord, unit_vectors

    xyz = unit_vectors(lon[usable], lat[usable])
    if len(xyz) == 0:
        return 0
    side = km_to_chord(km) * (1.0 - 1e-6) / math.sqrt(3.0)
    best = len(xyz)
    for shift in range(8):
        off = np.array([(shift >> b) & 1 for b in range(3)], dtype=np.float64) * side / 2.0
        cells = np.floor((xyz + off) / side).astype(np.int64)
        best = min(best, len(np.unique(cells, axis=0)))
    return int(best)


def _mark_sites(sites: pd.DataFrame, con: ConstraintsSpec, open_later: tuple[str, ...] = ()) -> pd.DataFrame:
    """Flag the must-open and forbidden sites; a site with a ``rollout.must_open_year``
    is a must-open site too (it gets that opening year)."""
    ids = set(sites["id"])
    for label, wanted in (("must_open", con.must_open), ("forbidden", con.forbidden)):
        unknown = [s for s in wanted if s not in ids]
        if unknown:
            raise InputError(
                f"constraints.{label}: unknown site id(s) {', '.join(unknown[:5])}"
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            )
    out = sites.copy()
    must = set(con.must_open) | {s for s in open_later if s in ids}
    if must:
        out.loc[out["id"].isin(must), "must_open"] = True
    if con.forbidden:
        out.loc[out["id"].isin(con.forbidden), "forbidden"] = True
    return out


def _largest_remainder(values: list[float], total: int) -> list[int]:
    """Integers proportional to ``values`` that add up to ``total`` (Hamilton's method)."""
    s = float(sum(values))
    if s <= 0:
        return [0] * len(values)
    exact = [v * total / s for v in values]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(values)), key=lambda k: exact[k] - out[k], reverse=True)
    for k in order[: total - sum(out)]:
        out[k] += 1
    return out


def scaled_settings(
    raw: Mapping[str, Any], factor: float, *, stores: int | None = None
) -> tuple[dict[str, Any], str]:
    """Overrides that scale a scenario's national totals by ``factor`` (a share in (0, 1]
    or more), and a sentence saying what was scaled.

    Scaled: ``objective.stores`` (to ``stores`` when given, else rounded ``factor`` x
    stores, at least 1), ``objective.budget``, and in ``[rollout]`` the yearly store
    caps (largest-remainder rounding, so they add up to the new store count when they
    added up to the old one), ``min_stores_per_year``, ``budget_per_year`` and
    ``target_revenue``. Used by ``storeplan demo --province/--stores``.
    """
    if not (math.isfinite(factor) and factor > 0):
        raise InputError(f"cannot scale the scenario by {factor!r}")
    over: dict[str, Any] = {}
    said: list[str] = []
    obj = dict(raw.get("objective", {}) or {})
    base = obj.get("stores")
    if stores is None and isinstance(base, int):
        stores = max(1, round(base * factor))
    o: dict[str, Any] = {}
    if stores is not None:
        o["stores"] = int(stores)
        said.append(f"{int(stores):,} new stores" + (f" (was {base:,})" if isinstance(base, int) else ""))
    if isinstance(obj.get("budget"), int | float):
        o["budget"] = float(obj["budget"]) * factor
        said.append("objective budget")
    if o:
        over["objective"] = o
    rol = raw.get("rollout")
    if isinstance(rol, Mapping):
        r: dict[str, Any] = {}
        years = int(rol.get("years", 3))
        hi = rol.get("stores_per_year")
        if hi is not None:
            caps = [hi] * years if isinstance(hi, int | float) else list(hi)
            if isinstance(base, int) and stores is not None and sum(caps) == base:
                r["stores_per_year"] = _largest_remainder(caps, int(stores))
            else:
                r["stores_per_year"] = [max(1, math.ceil(c * factor)) for c in caps]
            said.append("yearly store caps " + " / ".join(f"{c:,}" for c in r["stores_per_year"]))
        lo = rol.get("min_stores_per_year")
        if lo is not None:
            mins = [lo] * years if isinstance(lo, int | float) else list(lo)
            r["min_stores_per_year"] = [math.floor(v * factor) for v in mins]
        bud = rol.get("budget_per_year")
        if bud is not None:
            r["budget_per_year"] = (
                float(bud) * factor if isinstance(bud, int | float) else [float(b) * factor for b in bud]
            )
            said.append("yearly budgets")
        tr = rol.get("target_revenue")
        if tr is not None:
            if isinstance(tr, Mapping):
                r["target_revenue"] = {k: (None if v is None else float(v) * factor) for k, v in tr.items()}
            else:
                r["target_revenue"] = [None if v is None else float(v) * factor for v in tr]
            said.append("revenue targets")
        if r:
            over["rollout"] = r
    text = ", ".join(said) if said else "nothing to scale"
    return over, f"scaled by {factor:.4g}: {text}"
