"""Typed, documented figures of a plan: one definition per number.

:class:`PlanMetrics` holds every scalar figure a user sees (files, report, map, web
page, CLI). Each field names its unit in its metadata (``PlanMetrics.units()``); the
formula is in the field's doc below. Everything downstream reads the number from here.

Units: ``currency`` (once), ``currency/year`` (a flow), ``km``, ``persons``,
``person-km`` (population-weighted km), ``share`` (a fraction in [0, 1]), ``count``,
``seconds``, ``years``.

Revenue accounting of the new stores (Huff model, currency per year, exact identity):

``new_store_revenue = taken_from_existing_stores + taken_from_online + net_gain``

- ``taken_from_existing_stores``: our existing stores' revenue without the new stores
  minus with them (``existing_revenue_before - existing_revenue``);
- ``taken_from_online``: the increase of the online revenue our stores take over from
  the web shop;
- ``net_gain``: the increase of our offline capture (taken from rivals and from
  spending that went to no modelled store).

The per-store columns of ``plan.csv`` with the same names split these totals over the
new stores (each area's change shared in proportion to the new stores' Huff shares in
it), so they sum exactly to the totals. ``marginal_net_gain`` is a different quantity:
the brand's offline capture lost if that store alone closed (leave-one-out).

For compatibility, a :class:`PlanMetrics` also reads as a read-only mapping
(``metrics["objective"]``), with the keys and JSON values of ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

__all__ = [
    "PlanMetrics",
    "CalibrationSummary",
    "RolloutSummary",
    "LaunchSummary",
    "BrandResponse",
    "RobustSummary",
    "ResponseSummary",
    "AlternativesSummary",
    "ChannelFitSummary",
    "OBJECTIVE_UNITS",
    "OWNERSHIPS",
    "ownership_counts",
]

#: Who runs a store (``StoreFormat.ownership``), in the order the counts list them.
OWNERSHIPS: tuple[str, ...] = ("own", "partner")

#: Unit of the objective value, per objective kind.
OBJECTIVE_UNITS: dict[str, str] = {
    "pmedian": "person-km",
    "coverage": "persons",
    "fixed_cost": "currency/year",
    "revenue": "currency/year",
    "pcenter": "km",
    "pdispersion": "km",
    "backup_coverage": "persons",
}


def ownership_counts(ownership: Iterable[object], status: Iterable[object]) -> dict[str, int]:
    """Our open stores counted by ownership: the one definition of the counts.

    Parameters
    ----------
    ownership : iterable of str
        ``"own"`` or ``"partner"`` per open store (``plan.csv`` column ``ownership``).
    status : iterable of str
        ``"new"`` or ``"existing"`` per open store (``plan.csv`` column ``status``).

    Returns
    -------
    dict of str to int
        ``n_own_stores``, ``n_partner_stores`` (new + existing) and ``n_new_own_stores``,
        ``n_new_partner_stores`` (new only), counts: the :class:`PlanMetrics` fields.
    """
    pairs = [(str(o), str(s)) for o, s in zip(ownership, status, strict=True)]
    out: dict[str, int] = {}
    for kind in OWNERSHIPS:
        out[f"n_{kind}_stores"] = sum(1 for o, _ in pairs if o == kind)
        out[f"n_new_{kind}_stores"] = sum(1 for o, s in pairs if o == kind and s == "new")
    return out


def _f(unit: str, doc: str, default: Any = dataclasses.MISSING) -> Any:
    md = {"unit": unit, "doc": doc}
    if default is dataclasses.MISSING:
        return field(metadata=md)
    return field(default=default, metadata=md)


class _Record(Mapping[str, Any]):
    """Read-only mapping view of a frozen dataclass (keys: the fields whose value is set)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (nested summaries as dicts; unset optional fields left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if v is None and f.default is None:
                continue
            out[f.name] = _plain(v)
        return out

    def __getitem__(self, key: str) -> Any:
        d = self.to_dict()
        return d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    @classmethod
    def units(cls) -> dict[str, str]:
        """Unit of every field."""
        return {f.name: f.metadata.get("unit", "") for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def docs(cls) -> dict[str, str]:
        """One-line definition of every field."""
        return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


def _plain(v: Any) -> Any:
    if isinstance(v, _Record):
        return v.to_dict()
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else v
    return v


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass(frozen=True)
class CalibrationSummary(_Record):
    """Fit of the market model to our existing stores' observed sales."""

    n_stores: int = _f("count", "existing stores with observed sales used in the fit")
    r2: float = _f("share", "R^2 of log sales (1 = perfect)")
    mape: float = _f("share", "mean absolute percentage error of the predicted sales")
    fitted: dict[str, float] = _f("", "fitted parameters (decay exponents, attractiveness, outside option)")
    success: bool = _f("", "the optimiser converged")
    cv_r2: float = _f("share", "out-of-sample R^2 (k-fold refits; NaN when too few stores)", float("nan"))
    cv_mape: float = _f("share", "out-of-sample mean absolute percentage error", float("nan"))
    min_r2: float = _f("share", "least R^2 for the fit to be applied (calibration.min_r2)", float("nan"))
    applied: bool = _f("", "the fitted parameters are used by the plan", True)
    forced: bool = _f("", "applied below min_r2 because calibration.force = true", False)
    message: str = _f("", "one line on a rejected or forced fit (empty otherwise)", "")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalibrationSummary:
        return cls(
            n_stores=int(d["n_stores"]),
            r2=_num(d.get("r2")),
            mape=_num(d.get("mape")),
            fitted={str(k): float(v) for k, v in dict(d.get("fitted") or {}).items()},
            success=bool(d.get("success", False)),
            cv_r2=_num(d.get("cv_r2")),
            cv_mape=_num(d.get("cv_mape")),
            min_r2=_num(d.get("min_r2")),
            applied=bool(d.get("applied", True)),
            forced=bool(d.get("forced", False)),
            message=str(d.get("message", "")),
        )


@dataclass(frozen=True)
class RolloutSummary(_Record):
    """Headline figures of the multi-year rollout and its forecast."""

    years: int = _f("years", "rollout years (stores open in years 1..years)")
    horizon: int = _f("years", "NPV horizon")
    discount_rate: float = _f("share", "yearly discount rate")
    opened_per_year: tuple[int, ...] = _f("count", "new stores opened in each rollout year")
    capex_per_year: tuple[float, ...] = _f("currency", "opening costs spent in each rollout year")
    npv: float = _f("currency", "NPV of all store cash flows over the horizon (existing included)")
    npv_new: float = _f("currency", "NPV added by the rollout: npv minus the existing stores alone")
    npv_bound: float = _f("currency", "upper bound on npv (NaN when not valid)")
    npv_gap: float = _f("share", "(npv_bound - npv) / |npv| (NaN without a bound)")
    payback_year: int | None = _f("years", "first year from which the new stores' cumulative cash stays >= 0")
    total_revenue: float = _f("currency", "store sales over the rollout years, ramp-up included")
    final_revenue: float = _f("currency/year", "store sales in the last rollout year, ramp-up included")
    target_met: bool | None = _f("", "every year with a sales target met (None: no target)")
    shortfall: float = _f("currency/year", "largest yearly shortfall against the sales target")
    extra_stores: int = _f("count", "most extra stores any year needs to close its shortfall (estimate)")
    method: str = _f("", "schedule method")
    chose_sites: bool = _f(
        "", "the rollout chose the plan's stores (joint rollout): npv_gap certifies the plan"
    )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RolloutSummary:
        py = d.get("payback_year")
        tm = d.get("target_met")
        return cls(
            years=int(d["years"]),
            horizon=int(d["horizon"]),
            discount_rate=float(d["discount_rate"]),
            opened_per_year=tuple(int(x) for x in d.get("opened_per_year", ())),
            capex_per_year=tuple(float(x) for x in d.get("capex_per_year", ())),
            npv=_num(d.get("npv")),
            npv_new=_num(d.get("npv_new")),
            npv_bound=_num(d.get("npv_bound")),
            npv_gap=_num(d.get("npv_gap")),
            payback_year=None if py is None else int(py),
            total_revenue=_num(d.get("total_revenue")),
            final_revenue=_num(d.get("final_revenue")),
            target_met=None if tm is None else bool(tm),
            shortfall=_num(d.get("shortfall")),
            extra_stores=int(d.get("extra_stores", 0)),
            method=str(d.get("method", "")),
            chose_sites=bool(d.get("chose_sites", False)),
        )


@dataclass(frozen=True)
class LaunchSummary(_Record):
    """Headline of the launch-stock split (:class:`storeplan.launch_stock.LaunchStock`);
    every total is the sum of the rows of ``launch_stock.csv``."""

    product: str = _f("", "the launched product")
    supply_units: int = _f("units", "units available for the launch")
    allocated_units: float = _f("units", "units sent to the stores and the web shop")
    reserve_units: float = _f("units", "units kept central: supply_units - allocated_units")
    mean_demand_units: float = _f("units", "expected launch demand of all channels")
    expected_sales_units: float = _f("units", "expected units sold")
    expected_lost_sales_units: float = _f("units", "expected demand not served (stock-outs)")
    expected_leftover_units: float = _f("units", "expected unsold units")
    sell_through: float = _f("share", "expected_sales_units / allocated_units")
    fill_rate: float = _f("share", "expected_sales_units / mean_demand_units")
    expected_cost: float = _f("currency", "lost-sale cost x lost sales + leftover cost x leftover")
    supply_value_per_unit: float = _f("currency/unit", "value of one more unit of supply (0: ample)")
    critical_ratio: float = _f("share", "newsvendor service level cu / (cu + co)")
    protection_days: float = _f("days", "days of demand the first allocation covers")
    n_channels: int = _f("count", "stores plus web shop in the split")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LaunchSummary:
        return cls(**_typed_kwargs(cls, d))


@dataclass(frozen=True)
class BrandResponse(_Record):
    """One rival brand's best response to our plan."""

    new_stores: int = _f("count", "stores the brand opens in response")
    revenue_before: float = _f("currency/year", "the brand's offline capture before its response")
    revenue_after: float = _f("currency/year", "the brand's offline capture after the response")
    gap: float = _f("share", "certified distance of its choice from its best response (0: exact)")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BrandResponse:
        return cls(**_typed_kwargs(cls, d))


@dataclass(frozen=True)
class RobustSummary(_Record):
    """What the robust (leader-follower) plan costs and saves (:class:`storeplan.response.RobustChoice`)."""

    cost_without_response: float = _f("currency/year", "plain minus robust capture with no response")
    saving_with_response: float = _f("currency/year", "robust minus plain capture after the response")
    plain_own_before: float = _f("currency/year", "plain plan's offline capture, no response")
    plain_own_after: float = _f("currency/year", "plain plan's offline capture after the response")
    robust_own_before: float = _f("currency/year", "robust plan's offline capture, no response")
    robust_own_after: float = _f("currency/year", "robust plan's offline capture after the response")
    sites_changed: int = _f("count", "sites of the robust plan not in the plain plan")
    plans_evaluated: int = _f("count", "leader plans evaluated against the response")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RobustSummary:
        return cls(**_typed_kwargs(cls, d))


@dataclass(frozen=True)
class ResponseSummary(_Record):
    """Headline of the rivals' response (:class:`storeplan.response.Response`)."""

    own_revenue_before: float = _f("currency/year", "our offline capture before the response")
    own_revenue_after: float = _f("currency/year", "our offline capture after the response")
    revenue_lost: float = _f("currency/year", "own_revenue_before - own_revenue_after")
    share_before: float = _f("share", "our offline market share before the response")
    share_after: float = _f("share", "our offline market share after the response")
    rival_new_stores: int = _f("count", "rival stores opened in response (rows of rival_response.csv)")
    rounds: int = _f("count", "rounds of best response played")
    brands: dict[str, BrandResponse] = _f("", "per responding brand")
    robust: RobustSummary | None = _f("", "the robust plan's cost and saving (robust = true)", None)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ResponseSummary:
        kw = _typed_kwargs(cls, {k: v for k, v in d.items() if k not in ("brands", "robust")})
        kw["brands"] = {str(b): BrandResponse.from_dict(v) for b, v in dict(d.get("brands") or {}).items()}
        rb = d.get("robust")
        kw["robust"] = None if rb is None else RobustSummary.from_dict(rb)
        return cls(**kw)


@dataclass(frozen=True)
class AlternativesSummary(_Record):
    """Headline of the alternative plans (:class:`storeplan.alternatives.Alternatives`)."""

    k_requested: int = _f("count", "plans asked for, the best one included")
    k_found: int = _f("count", "plans found within the tolerance (rows of alternatives.csv)")
    tolerance: float = _f("share", "largest relative distance of a plan's objective from the best")
    min_difference: float = _f("share", "least share of new sites any two plans differ in")
    core_sites: int = _f("count", "new sites in every plan (the robust core)")
    worst_vs_best: float = _f("share", "largest relative distance of a plan from the best")
    worst_gap: float = _f("share", "largest certified gap of a plan")
    stopped: str = _f("", "why fewer than k_requested plans were found (empty: all found)")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlternativesSummary:
        return cls(**_typed_kwargs(cls, d))


@dataclass(frozen=True)
class ChannelFitSummary(_Record):
    """Fit of the channel model (:func:`storeplan.market.channel.calibrate_channel`)."""

    store_rate: float = _f("share", "fitted share of our online customers' spending in the offline nest")
    nest: float = _f("share", "fitted nest parameter tau in [0, 1]")
    halo: float = _f("share", "fitted halo: share of the gap to the national online rate a store closes")
    sales_r2: float = _f("share", "R^2 of log store sales (NaN: no sales observed)")
    online_r2: float = _f("share", "R^2 of online orders per resident vs brand awareness (NaN: not fitted)")
    n_stores: int = _f("count", "existing stores with observed sales in the fit")
    n_areas: int = _f("count", "areas in the halo fit")
    success: bool = _f("", "both least-squares fits converged")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChannelFitSummary:
        kw = _typed_kwargs(cls, d)
        kw["success"] = bool(d.get("success", False))
        return cls(**kw)


def _typed_kwargs(cls: Any, d: Mapping[str, Any]) -> dict[str, Any]:
    """``d``'s values for the fields of ``cls``, cast to the field's scalar type."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        t = str(f.type)
        if t == "int":
            v = int(v)
        elif t == "float":
            v = _num(v)
        elif t == "str":
            v = str(v)
        out[f.name] = v
    return out


@dataclass(frozen=True)
class PlanMetrics(_Record):
    """Every scalar figure of a plan, with its unit (see the module docstring).

    Read fields as attributes (``plan.metrics.net_gain``); ``PlanMetrics.units()``
    and ``PlanMetrics.docs()`` give each field's unit and definition.
    """

    # -- solve
    objective: float = _f("objective", "exact objective of the chosen stores (unit: objective_unit)")
    objective_unit: str = _f("", "unit of objective and bound")
    model_objective: float = _f("objective", "objective as the solver's model measured it")
    bound: float = _f("objective", "proven bound on the optimum (lower for min, upper for max)")
    gap: float = _f("share", "|objective - bound| / |objective|; 0 when proven optimal")
    proven_optimal: bool = _f("", "the bound meets the objective")
    sense: Literal["min", "max"] = _f("", "objective sense")
    method: str = _f("", "solver methods that produced the plan")
    iterations: int = _f("count", "local-search moves + subgradient iterations + B&B nodes")
    solve_seconds: float = _f("seconds", "solver wall-clock time")
    seconds: float = _f("seconds", "wall-clock time of the whole solve (rollout included)")
    # -- size
    n_stores: int = _f("count", "our open stores (new + existing)")
    n_new_stores: int = _f("count", "new stores")
    n_existing_stores: int = _f("count", "our existing stores (always open)")
    n_areas: int = _f("count", "demand areas")
    n_candidate_sites: int = _f("count", "candidate sites")
    n_rival_stores: int = _f("count", "rival stores")
    network_pairs: int = _f("count", "area x site pairs of the solver's network")
    network_complete: bool = _f("", "the network holds every area x site pair")
    # -- access
    total_population: float = _f("persons", "population of all demand areas")
    radius_km: float = _f("km", "coverage radius")
    covered_population: float = _f("persons", "population within radius_km of its nearest store")
    coverage_share: float = _f("share", "covered_population / total_population")
    mean_km: float = _f("km", "population-weighted mean distance to the nearest store")
    median_km: float = _f("km", "population-weighted median distance to the nearest store")
    max_km: float = _f("km", "largest distance of an area to its store")
    # -- costs
    opening_cost: float = _f("currency", "opening costs of the new stores (once)")
    yearly_fixed_cost: float = _f("currency/year", "fixed costs of all our stores")
    # -- market (Huff model)
    total_market: float = _f("currency/year", "offline spending of all areas")
    own_revenue: float = _f("currency/year", "our stores' gross revenue: offline capture + online transfer")
    own_offline_revenue: float = _f("currency/year", "our stores' offline capture")
    online_transfer: float = _f("currency/year", "online revenue our stores take over from the web shop")
    market_share: float = _f("share", "own_offline_revenue / total_market, with the plan")
    market_share_before: float = _f("share", "our offline market share with the existing stores only")
    new_store_revenue: float = _f("currency/year", "gross revenue of the new stores (sum of plan.csv rows)")
    existing_revenue: float = _f("currency/year", "gross revenue of our existing stores, with the plan")
    existing_revenue_before: float = _f(
        "currency/year", "gross revenue of our existing stores without new ones"
    )
    taken_from_existing_stores: float = _f(
        "currency/year", "existing_revenue_before - existing_revenue: what the new stores take from ours"
    )
    taken_from_online: float = _f("currency/year", "increase of online_transfer due to the new stores")
    net_gain: float = _f("currency/year", "increase of our offline capture: taken from rivals and outside")
    rival_revenue: float = _f("currency/year", "offline capture of all rival stores, with the plan")
    web_revenue: float = _f(
        "currency/year",
        "our web shop's revenue with the plan (online demand minus online_transfer)",
        float("nan"),
    )
    web_revenue_before: float = _f(
        "currency/year", "our web shop's revenue with the existing stores only", float("nan")
    )
    added_online: float = _f(
        "currency/year",
        "halo: new online demand bought on our web shop thanks to the new stores (sum of plan.csv "
        "adds_online; web_revenue - web_revenue_before = added_online - taken_from_online)",
        0.0,
    )
    # -- optional
    # stores by ownership (:func:`ownership_counts`)
    n_own_stores: int | None = _f(
        "count", "our open stores run by the brand (plan.csv ownership 'own', new + existing)", None
    )
    n_partner_stores: int | None = _f(
        "count", "our open stores run by a partner (plan.csv ownership 'partner', new + existing)", None
    )
    n_new_own_stores: int | None = _f("count", "new stores run by the brand (ownership 'own')", None)
    n_new_partner_stores: int | None = _f("count", "new stores run by a partner (ownership 'partner')", None)
    budget: float | None = _f("currency", "opening budget of the objective", None)
    calibration: CalibrationSummary | None = _f("", "fit of the market model to observed sales", None)
    rollout: RolloutSummary | None = _f("", "multi-year rollout headline", None)
    launch: LaunchSummary | None = _f("", "launch-stock headline (units, shares, currency per unit)", None)
    response: ResponseSummary | None = _f("", "rivals' response headline (currency/year, shares)", None)
    alternatives: AlternativesSummary | None = _f("", "alternative plans headline (counts, shares)", None)
    channel_fit: ChannelFitSummary | None = _f("", "fit of [market.channel] (calibrate = true)", None)

    #: fields that are shares in [0, 1]
    SHARE_FIELDS: ClassVar[tuple[str, ...]] = ("coverage_share", "market_share", "market_share_before")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlanMetrics:
        """Read the metrics of a ``summary.json`` (unknown keys are ignored)."""
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            v = d[f.name]
            if f.name == "calibration":
                v = None if v is None else CalibrationSummary.from_dict(v)
            elif f.name == "rollout":
                v = None if v is None else RolloutSummary.from_dict(v)
            elif f.name in _NESTED:
                v = None if v is None else _NESTED[f.name].from_dict(v)
            elif isinstance(v, float) or f.type in ("float", "float | None"):
                v = _num(v) if v is not None or f.default is not None else None
            kw[f.name] = v
        return cls(**kw)


#: Typed headline of each optional decision section of :class:`PlanMetrics`.
_NESTED: dict[str, Any] = {
    "launch": LaunchSummary,
    "response": ResponseSummary,
    "alternatives": AlternativesSummary,
    "channel_fit": ChannelFitSummary,
}
