"""The run form, generated from the scenario schema (the pydantic models of the TOML file).

Each section of the form is one model of :mod:`storeplan.scenario` (``objective``,
``formats``, ``constraints``, ``rollout``, ``options``); each field's type, default,
bounds and allowed values come from that model's JSON schema, so the form never offers
a value the scenario file would refuse. This module only picks the main knobs and gives
them a label. What the user submits goes back through :meth:`Scenario.spec_from_dict`
(the same validation as ``storeplan validate``), never trusted as is.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..scenario import (
    OBJECTIVES,
    ConstraintsSpec,
    ObjectiveSpec,
    OptionsSpec,
    Scenario,
    StoreFormat,
    TableSpec,
)

__all__ = ["form_schema", "knob_values", "SECTIONS"]


def _rollout_model():
    from ..scenario import ScenarioSpec

    ann = ScenarioSpec.model_fields["rollout"].annotation
    return next(a for a in getattr(ann, "__args__", (ann,)) if a is not type(None))


#: (section, model, [(field, label, help)]): the knobs the form shows, in order.
SECTIONS: tuple[tuple[str, str, Any, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "areas",
        "Data",
        TableSpec,
        (
            (
                "provinces",
                "provinces",
                "only these provinces of the bundled China data (comma-separated; empty: all)",
            ),
        ),
    ),
    (
        "objective",
        "Objective",
        ObjectiveSpec,
        (
            (
                "kind",
                "objective",
                "revenue: captured revenue minus fixed costs (Huff); coverage; pmedian; fixed_cost",
            ),
            ("stores", "new stores", "number of new stores (leave empty to use the budget)"),
            ("budget", "budget", "total opening cost of the new stores, currency (when no store count)"),
            ("radius_km", "radius, km", "coverage radius (coverage objective; reported for all)"),
            ("format", "default format", "format of a new store where no format's levels apply"),
        ),
    ),
    (
        "formats",
        "Store formats",
        StoreFormat,
        (
            ("name", "name", ""),
            ("opening_cost", "opening cost", "currency, once"),
            ("fixed_cost", "fixed cost", "currency per year"),
            ("attractiveness", "attractiveness", "Huff attractiveness (standard = 1)"),
            ("capacity", "capacity", "most demand one store serves (0 = unlimited)"),
            ("levels", "levels", "area levels where this format opens (comma-separated)"),
        ),
    ),
    (
        "rollout",
        "Rollout",
        None,
        (
            ("years", "years", "rollout years"),
            ("stores_per_year", "stores per year", "most new stores opened each year (comma-separated)"),
            ("budget_per_year", "budget per year", "opening capital per year, currency (comma-separated)"),
            ("target_revenue", "revenue target per year", "store sales per year, currency (comma-separated)"),
            ("discount_rate", "discount rate", "per year"),
        ),
    ),
    (
        "constraints",
        "Constraints",
        ConstraintsSpec,
        (
            ("min_spacing_km", "min spacing, km", "no two stores closer than this"),
            ("region_min", "region minimums", "Region=count, comma-separated (not with revenue)"),
            ("region_max", "region maximums", "Region=count, comma-separated (not with revenue)"),
        ),
    ),
    (
        "options",
        "Options",
        OptionsSpec,
        (
            ("seed", "seed", "same inputs and seed give the same plan"),
            ("time_limit", "time limit, s", "solver time limit, seconds"),
        ),
    ),
)


def _field_schema(js: dict[str, Any], name: str) -> dict[str, Any]:
    prop = dict(js.get("properties", {}).get(name, {}))
    nullable = False
    types: list[str] = []
    enum = prop.get("enum")
    item_type = None
    for alt in prop.get("anyOf", [prop]):
        t = alt.get("type")
        if t == "null":
            nullable = True
        elif t is not None:
            types.append(t)
            if t == "array":
                items = alt.get("items", {})
                item_type = items.get("type") or next(
                    (a.get("type") for a in items.get("anyOf", []) if a.get("type") != "null"), None
                )
            for bound in ("minimum", "exclusiveMinimum", "maximum"):
                if bound in alt:
                    prop[bound] = alt[bound]
        if "enum" in alt:
            enum = alt["enum"]
        if "const" in alt:
            enum = [*(enum or []), alt["const"]]
    kind = (
        "array" if "array" in types else "object" if "object" in types else (types[0] if types else "string")
    )
    if "integer" in types and "array" in types:
        kind = "array"
    out: dict[str, Any] = {"type": kind, "nullable": nullable}
    if item_type:
        out["items"] = item_type
    if enum:
        out["enum"] = list(enum)
    for bound in ("minimum", "exclusiveMinimum", "maximum"):
        if bound in prop:
            out[bound] = prop[bound]
    if "default" in prop:
        out["default"] = prop["default"]
    return out


def form_schema() -> dict[str, Any]:
    """The form: ``{sections: [{key, title, repeated, fields: [{key, label, help, type, ...}]}]}``."""
    sections = []
    for key, title, model, fields in SECTIONS:
        model = model or _rollout_model()
        js = model.model_json_schema()
        out_fields = []
        for name, label, help_ in fields:
            f = {"key": name, "label": label, "help": help_, **_field_schema(js, name)}
            if key == "objective" and name == "kind":
                f["enum"] = list(OBJECTIVES)
            out_fields.append(f)
        sections.append(
            {
                "key": key,
                "title": title,
                "repeated": key == "formats",
                "optional": key == "rollout",
                "doc": (model.__doc__ or "").strip().split("\n\n")[0],
                "fields": out_fields,
            }
        )
    return {"sections": sections}


def knob_values(scenario_path: Path) -> dict[str, Any]:
    """The form's values as the scenario file sets them (validated, defaults filled in)."""
    raw = tomllib.loads(Path(scenario_path).read_text(encoding="utf-8"))
    spec = Scenario.spec_from_dict(raw, source=Path(scenario_path).name)
    dumped = spec.model_dump(mode="json", by_alias=True)
    out: dict[str, Any] = {}
    for key, _title, _model, fields in SECTIONS:
        value = dumped.get(key)
        names = [f[0] for f in fields]
        if key == "formats":
            out[key] = [{n: f.get(n) for n in names} for f in value or []]
        elif value is None:
            out[key] = None
        else:
            out[key] = {n: value.get(n) for n in names}
    out["name"] = dumped.get("name")
    out["description"] = dumped.get("description")
    return out
