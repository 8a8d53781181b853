"""Every table the report shows, built once from the plan's typed data, with units.

The rendering modules (:mod:`.html`, :mod:`.pdf`, :mod:`.charts`, :mod:`.maps`) only
render what is built here: a :class:`Table` holds raw values (one DataFrame column per
:class:`Column`) and the unit of each column; the renderer formats them by unit. So
a number in ``report.html`` is the same number as in the chart, the PDF and the map,
and a test can compare it with ``summary.json`` / ``plan.csv`` / ``forecast_years.csv``.

Units (:data:`UNITS`): ``text``, ``count``, ``persons``, ``km``, ``share`` (a fraction
in [0, 1]), ``points`` (a change of a share, in share units), ``currency`` (once),
``currency/year``, ``person-km``, ``year`` (a rollout year label), ``per_100k`` (a
count per 100,000 persons, e.g. rival outlets; one decimal), ``number``
(dimensionless). A column with unit
``by_row`` takes each row's unit from the table's ``unit`` column (the assumptions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._common import category_columns, is_missing, share_by_region, synthetic_notes, wave_labels

__all__ = [
    "UNITS",
    "OBJECTIVE_LABELS",
    "Column",
    "Table",
    "year_table",
    "forecast_year_table",
    "rollout_region_table",
    "category_table",
    "share_table",
    "top_stores_table",
    "region_table",
    "stores_per_region",
    "unopened_table",
    "unopened_counts",
    "assumptions_table",
    "formats_table",
    "rollout_limits_table",
    "open_year_labels",
    "report_tables",
]

#: Units a column can carry.
UNITS = (
    "text",
    "count",
    "persons",
    "km",
    "share",
    "points",
    "currency",
    "currency/year",
    "person-km",
    "year",
    "per_100k",  # a count per 100,000 persons (densities), one decimal
    "number",
    "by_row",
)


@dataclass(frozen=True)
class Column:
    """A table column: key in :attr:`Table.rows`, title, unit (one of :data:`UNITS`)."""

    key: str
    title: str
    unit: str = "text"
    bar: bool = False  # draw a bar of the value (shares) before the text

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"column {self.key!r}: unknown unit {self.unit!r}")

    @property
    def numeric(self) -> bool:
        return self.unit not in ("text", "year", "by_row")


@dataclass(frozen=True)
class Table:
    """A table of the report.

    Attributes
    ----------
    name : str
        Stable id (the HTML table's ``id``).
    columns : tuple of Column
    rows : DataFrame
        Raw values, one column per :attr:`Column.key` (plus ``unit`` for ``by_row``
        columns and ``row_class`` when set); numbers unrounded.
    note : str
        A sentence on what the table shows (plain text).
    total : bool
        The last row is the total of the rows above it.
    """

    name: str
    columns: tuple[Column, ...]
    rows: pd.DataFrame
    note: str = ""
    total: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def empty(self) -> bool:
        return len(self.rows) == 0

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


def _empty(name: str, columns: tuple[Column, ...]) -> Table:
    return Table(name, columns, pd.DataFrame({c.key: [] for c in columns}))


# ---------------------------------------------------------------------------- rollout years
_YEAR_COLUMNS = (
    Column("label", "year", "year"),
    Column("stores_opened", "stores opened", "count"),
    Column("stores_open", "stores open", "count"),
    Column("revenue", "sales / year", "currency/year"),
    Column("target", "target / year", "currency/year"),
    Column("target_met", "target met", "text"),
    Column("shortfall", "shortfall / year", "currency/year"),
    Column("extra_stores", "extra stores needed", "count"),
    Column("capex", "capex", "currency"),
    Column("budget", "budget", "currency"),
    Column("cash_flow", "cash flow", "currency"),
    Column("cumulative_cash_flow", "cumulative cash flow", "currency"),
)


def year_table(plan: Any) -> Table:
    """The forecast year by year of ``plan.forecast`` (:func:`forecast_year_table`)."""
    return forecast_year_table(getattr(plan, "forecast", None))


def forecast_year_table(fc: Any) -> Table:
    """The forecast year by year (rollout years, then the rest of the NPV horizon).

    Rows are ``plan.forecast.per_year`` (the ``forecast_years.csv`` rows) unchanged;
    ``row_class`` is ``after`` for the years after the rollout. ``target_met`` is
    ``yes`` / ``no`` / ``-``; ``shortfall`` and ``extra_stores`` are NaN in years that
    meet their target.
    """
    py = getattr(fc, "per_year", None)
    cols = tuple(c for c in _YEAR_COLUMNS if c.key != "budget" or _has_budget(py))
    if not isinstance(py, pd.DataFrame) or len(py) == 0:
        return _empty("rollout-years", cols)
    df = py.reset_index(drop=True)
    in_roll = df["in_rollout"].astype(bool) if "in_rollout" in df else pd.Series(True, index=df.index)
    met = df["target_met"] if "target_met" in df else pd.Series([None] * len(df))
    missed = np.array([not is_missing(m) and not bool(m) for m in met], dtype=bool)
    rows = pd.DataFrame({"label": df["label"].astype(str) if "label" in df else df["year"].astype(str)})
    for c in cols[1:]:
        if c.key == "target_met":
            rows[c.key] = ["-" if is_missing(m) else ("yes" if bool(m) else "no") for m in met]
        elif c.key in df:
            v = pd.to_numeric(df[c.key], errors="coerce").astype(float)
            if c.key in ("shortfall", "extra_stores"):
                v = v.where(missed)
            if c.key == "budget":
                v = v.where(in_roll & np.isfinite(v))
            rows[c.key] = v.to_numpy()
        else:
            rows[c.key] = np.nan
    rows["row_class"] = np.where(in_roll, "", "after")
    n_roll = int(in_roll.sum())
    note = ""
    if n_roll < len(df):
        note = (
            f"Rows in grey: years after the {n_roll}-year rollout, no new openings; "
            "their cash flow counts in the NPV."
        )
    return Table("rollout-years", cols, rows, note=note, meta={"n_rollout_years": n_roll})


def _has_budget(py: Any) -> bool:
    if not isinstance(py, pd.DataFrame) or "budget" not in py:
        return False
    v = pd.to_numeric(py["budget"], errors="coerce").to_numpy(float)
    return bool(np.isfinite(v).any())


def rollout_region_table(fc: Any) -> pd.DataFrame | None:
    """Sales (currency/year) and stores per region in the last rollout year, largest
    first, with each region's ``share`` of the sales (None without regions)."""
    psy = fc.per_store_year
    if "region" not in psy.columns:
        return None
    last = int(fc.per_year.loc[fc.per_year["in_rollout"], "year"].max())
    cur = psy[psy["year"] == last].copy()
    cur["region"] = cur["region"].astype(object).where(cur["region"].notna(), "(none)")
    if cur["region"].nunique() == 0:
        return None
    out = cur.groupby("region", sort=False).agg(stores=("id", "size"), revenue=("revenue", "sum"))
    total = float(out["revenue"].sum())
    out["share"] = out["revenue"] / total if total > 0 else np.nan
    return out.sort_values("revenue", ascending=False).reset_index()


# ---------------------------------------------------------------------------- categories
def category_table(plan: Any) -> Table:
    """Revenue per product category (``revenue_<category>`` columns of ``plan.stores``),
    new vs existing stores, largest first, with a total row (the column sums)."""
    cols = (
        Column("category", "category"),
        Column("revenue", "store revenue / year", "currency/year"),
        Column("share", "share", "share", bar=True),
        Column("new", "new stores / year", "currency/year"),
        Column("existing", "existing stores / year", "currency/year"),
    )
    stores = plan.stores
    cats = category_columns(stores)
    if not cats:
        return _empty("categories", cols)
    status = _status(stores)
    vals = {c: pd.to_numeric(stores[c], errors="coerce").fillna(0.0) for c in cats}
    total = float(sum(v.sum() for v in vals.values()))
    order = sorted(cats, key=lambda c: -float(vals[c].sum()))
    rows = pd.DataFrame(
        {
            "category": [c[len("revenue_") :].replace("_", " ") for c in order] + ["all categories"],
            "revenue": [float(vals[c].sum()) for c in order] + [total],
            "new": [float(vals[c][status == "new"].sum()) for c in order]
            + [float(sum(v[status == "new"].sum() for v in vals.values()))],
            "existing": [float(vals[c][status == "existing"].sum()) for c in order]
            + [float(sum(v[status == "existing"].sum() for v in vals.values()))],
        }
    )
    rows["share"] = rows["revenue"] / total if total > 0 else 0.0
    return Table("categories", cols, rows[[c.key for c in cols]], total=True)


# ---------------------------------------------------------------------------- shares
def share_table(plan: Any, column: str = "region", top: int | None = 12) -> Table:
    """Our offline share per region (``column="region"``) or city tier (``"level"``),
    before and after the new stores (:func:`storeplan.report._common.share_by_region`),
    largest market first; the ``top`` largest (None: all)."""
    title = "level" if column == "level" else column
    cols = (
        Column("region", title),
        Column("market", "offline market / year", "currency/year"),
        Column("share_before", "share before", "share"),
        Column("share_after", "share after", "share"),
        Column("change", "change", "points"),
    )
    t = share_by_region(plan, column=column)
    name = "share-levels" if column == "level" else "share-regions"
    if t.empty:
        return _empty(name, cols)
    n = len(t)
    shown = t if top is None else t.head(top)
    return Table(
        name,
        cols,
        shown[[c.key for c in cols]].reset_index(drop=True),
        meta={"n_groups": n, "shown": len(shown)},
    )


# ---------------------------------------------------------------------------- stores
def open_year_labels(plan: Any) -> dict[str, str]:
    """Store id -> opening year label (``existing``, ``2027``, ``year 2``, ``not opened``)
    from the plan's rollout schedule; empty without one."""
    sched = getattr(plan, "schedule", None)
    ids = getattr(sched, "ids", None)
    years = getattr(sched, "open_year", None)
    if ids is None or years is None:
        return {}
    labels = wave_labels(plan)
    out = {}
    for i, y in zip(ids, years, strict=False):
        y = int(y)
        lab = labels.get(y, str(y))
        out[str(i)] = (
            "existing" if y == 0 else "not opened" if y < 0 else f"year {y}" if lab == str(y) else lab
        )
    return out


def _status(stores: pd.DataFrame) -> pd.Series:
    if "status" in stores:
        return stores["status"].astype(str).str.lower()
    return pd.Series(["new"] * len(stores), index=stores.index)


def top_stores_table(plan: Any, top_n: int = 20) -> Table:
    """The ``top_n`` stores by revenue (else demand captured, else covered population).

    With market columns: revenue, catchment share and where a new store's revenue comes
    from (net gain + from existing stores + from web shop = its revenue).
    """
    stores = plan.stores
    key = next((c for c in ("revenue", "demand_captured", "covered_population") if c in stores), None)
    market = key == "revenue" and any(c in stores for c in ("catchment_share", "net_gain"))
    cols: list[Column] = [Column("rank", "#", "count"), Column("id", "store")]
    text = ("name", "status", "format", "region")
    cols += [Column(c, c) for c in text if c in stores]
    opens = open_year_labels(plan)
    if opens:
        cols.append(Column("opens", "opens"))
    cand: tuple[tuple[str, str, str], ...]
    if market:
        cand = (
            ("revenue", "revenue / year", "currency/year"),
            ("catchment_share", "catchment share", "share"),
            ("net_gain", "net gain / year", "currency/year"),
            ("from_existing_stores", "from existing stores / year", "currency/year"),
            ("from_online", "from web shop / year", "currency/year"),
            ("adds_online", "adds to web shop / year", "currency/year"),
        )
    else:
        cand = (
            ("covered_population", "covered population", "persons"),
            ("demand_captured", "demand captured", "persons"),
            ("revenue", "revenue / year", "currency/year"),
            ("n_areas", "areas", "count"),
        )
    cols += [Column(c, lbl, u) for c, lbl, u in cand if c in stores]
    if len(stores) == 0:
        return _empty("top-stores", tuple(cols))
    df = stores.sort_values(key, ascending=False, kind="stable") if key else stores
    df = df.head(top_n).reset_index(drop=True)
    rows = pd.DataFrame({"rank": np.arange(1, len(df) + 1)})
    for c in cols[1:]:
        if c.key == "opens":
            rows["opens"] = df["id"].astype(str).map(opens).fillna("-").to_numpy()
        elif c.numeric:
            rows[c.key] = pd.to_numeric(df[c.key], errors="coerce").to_numpy(float)
        else:
            rows[c.key] = [("-" if is_missing(v) else str(v)) for v in df[c.key]]
    ranked = f"ranked by {key.replace('_', ' ')}" if key else "in plan order"
    more = f" of {len(stores):,}" if len(stores) > top_n else ""
    note = f"Top {len(df):,}{more} stores, {ranked}. Every store is on the map."
    if market:
        note += (
            " Catchment share: the store's share of offline spending in the areas it "
            "serves (nearest store). Net gain, from existing stores and from web shop: "
            "where a new store's revenue comes from (they add up to its revenue, and over "
            "all new stores to the plan totals; existing stores: -)."
        )
    return Table("top-stores", tuple(cols), rows, note=note, meta={"market": market, "key": key})


def stores_per_region(plan: Any, top: int | None = None) -> pd.DataFrame:
    """Count stores per region (``new``, ``existing``, ``total``), largest first.

    Parameters
    ----------
    plan : Plan
        Uses ``plan.stores``.
    top : int, optional
        Keep the ``top`` largest regions and sum the rest into ``"other regions (n)"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by region name.
    """
    stores = getattr(plan, "stores", None)
    cols = ["new", "existing", "total"]
    if stores is None or len(stores) == 0:
        return pd.DataFrame(columns=cols, dtype=int)
    region = _region(stores)
    status = _status(stores)
    df = pd.DataFrame({"region": region.to_numpy(), "existing": (status == "existing").to_numpy()})
    df["new"] = ~df["existing"]
    out = df.groupby("region", sort=False)[["new", "existing"]].sum().astype(int)
    out["total"] = out["new"] + out["existing"]
    out = out.sort_values(["total", "new"], ascending=False, kind="stable")
    if top is not None and len(out) > top:
        rest, n_rest = out.iloc[top:].sum(), len(out) - top
        out = out.iloc[:top].copy()
        out.loc[f"other regions ({n_rest})"] = rest
    out.index.name = "region"
    return out[cols]


def _region(stores: pd.DataFrame) -> pd.Series:
    region = (
        stores["region"].astype(object)
        if "region" in stores
        else pd.Series([None] * len(stores), dtype=object, index=stores.index)
    )
    return region.map(lambda r: "(no region)" if r is None or pd.isna(r) or r == "" else str(r))


def region_table(plan: Any, top: int = 20) -> Table:
    """Stores per region (new, existing, total), covered population and revenue per
    region; the regions past ``top`` summed in one row."""
    stores = plan.stores
    cols: list[Column] = [
        Column("region", "region"),
        Column("new", "new", "count"),
        Column("existing", "existing", "count"),
        Column("total", "total", "count"),
    ]
    if "covered_population" in stores:
        cols.append(Column("covered_population", "covered population", "persons"))
    if "revenue" in stores and stores["revenue"].notna().any():
        cols.append(Column("revenue", "revenue / year", "currency/year"))
    t = stores_per_region(plan, top=top)
    if t.empty:
        return _empty("regions", tuple(cols))
    region = _region(stores)
    rows = t.reset_index()
    listed = [r for r in rows["region"] if not str(r).startswith("other regions")]
    for c in cols[4:]:
        per = pd.to_numeric(stores[c.key], errors="coerce").fillna(0.0).groupby(region.to_numpy()).sum()
        rest = float(per.sum() - per.reindex(listed).fillna(0.0).sum())
        rows[c.key] = [
            rest if str(r).startswith("other regions") else float(per.get(r, 0.0)) for r in rows["region"]
        ]
    return Table("regions", tuple(cols), rows[[c.key for c in cols]])


# ---------------------------------------------------------------------------- unopened
def unopened_table(plan: Any) -> Table:
    """The planned stores the rollout leaves unopened, each with its reason
    (:func:`storeplan.rollout.reasons.unopened`, the ``reason`` of ``rollout.csv``)."""
    cols = (
        Column("id", "store"),
        Column("name", "name"),
        Column("format", "format"),
        Column("region", "region"),
        Column("opening_cost", "opening cost", "currency"),
        Column("revenue", "revenue / year (full ramp)", "currency/year"),
        Column("npv_if_opened", "NPV if opened (estimate)", "currency"),
        Column("reason", "reason"),
    )
    sched = getattr(plan, "schedule", None)
    if sched is None:
        return _empty("unopened", cols)
    from ..rollout.reasons import site_revenue, unopened

    found = unopened(sched, site_revenue(plan.stores))
    if not found:
        return _empty("unopened", cols)
    stores = plan.stores.drop_duplicates("id").set_index(plan.stores["id"].drop_duplicates().astype(str))
    ids = [u.id for u in found]

    def text(col: str) -> list[str]:
        if col not in stores:
            return ["-"] * len(ids)
        s = stores[col].reindex(ids)
        return ["-" if is_missing(v) else str(v) for v in s]

    rev = (
        pd.to_numeric(stores["revenue"].reindex(ids), errors="coerce").to_numpy(float)
        if "revenue" in stores
        else np.full(len(ids), np.nan)
    )
    rows = pd.DataFrame(
        {
            "id": ids,
            "name": text("name"),
            "format": text("format"),
            "region": text("region"),
            "opening_cost": [u.opening_cost for u in found],
            "revenue": rev,
            "npv_if_opened": [u.npv_if_opened for u in found],
            "reason": [u.text for u in found],
            "reason_code": [u.reason.value for u in found],
        }
    )
    # by reason, then closest to worth opening first
    rows = rows.sort_values(["reason_code", "npv_if_opened"], ascending=[True, False], kind="stable")
    rows = rows.reset_index(drop=True)
    counts = rows["reason_code"].value_counts()
    in_plan = set(ids) & set(plan.stores["id"].astype(str))
    whose = (
        "of the planned new stores"
        if in_plan
        else "sites of the single-year plan (the joint rollout chose other sites for their "
        "NPV over the rollout years; the plan is the set of stores it opens)"
    )
    return Table(
        "unopened",
        cols,
        rows,
        note=(
            f"{len(rows):,} {whose} are not opened within the rollout "
            "years. NPV if opened: the NPV this store adds if opened in its best year with "
            "room, from its marginal revenue (cannibalisation included), the gross margin, "
            "ramp-up, fixed cost and opening cost. The same reasons are in rollout.csv "
            "(columns status, reason, reason_detail, npv_if_opened)."
        ),
        meta={"counts": {str(k): int(v) for k, v in counts.items()}},
    )


def unopened_counts(schedule: Any, stores: pd.DataFrame | None) -> dict[str, int]:
    """Unopened planned stores per reason (:class:`storeplan.rollout.reasons.UnopenedReason`
    value -> count), the same reasons as :func:`unopened_table`; empty when all open."""
    if schedule is None:
        return {}
    from ..rollout.reasons import site_revenue, unopened

    revenue = site_revenue(stores) if isinstance(stores, pd.DataFrame) and "id" in stores else None
    out: dict[str, int] = {}
    for u in unopened(schedule, revenue):
        out[u.reason.value] = out.get(u.reason.value, 0) + 1
    return out


# ---------------------------------------------------------------------------- assumptions
#: One line per objective kind.
OBJECTIVE_LABELS = {
    "pmedian": "minimise population-weighted distance (p-median)",
    "coverage": "maximise population within the radius (maximal coverage)",
    "fixed_cost": "minimise opening + travel cost (facility location)",
    "revenue": "maximise captured revenue minus fixed costs (Huff market share)",
    "pcenter": "minimise the largest distance to the nearest store (p-center)",
    "pdispersion": "maximise the least distance between two stores (p-dispersion)",
    "backup_coverage": "maximise population covered twice within the radius (backup coverage)",
}


def formats_table(plan: Any) -> Table:
    """The store formats as the plan used them (``plan.assumptions.formats``): ownership,
    cash margin (share of sales), opening cost, yearly fixed cost, capacity,
    attractiveness, where each format opens."""
    cols: tuple[Column, ...] = (
        Column("format", "format"),
        Column("ownership", "run by"),
        Column("margin", "margin to the brand (share of sales)", "share"),
        Column("opening_cost", "opening cost per store", "currency"),
        Column("fixed_cost", "fixed cost per store / year", "currency/year"),
        Column("capacity", "capacity per store (persons)", "persons"),
        Column("attractiveness", "attractiveness (standard = 1)", "number"),
        Column("categories", "attractiveness multiplier per category (0: not sold)"),
        Column("levels", "opens in"),
        Column("max_stores", "most new stores", "count"),
    )
    a = getattr(plan, "assumptions", None)
    if a is None or not a.formats:
        return _empty("assumption-formats", cols)
    rows = pd.DataFrame(
        {
            "format": [f.name for f in a.formats],
            "ownership": ["partner" if f.ownership == "partner" else "own (the brand)" for f in a.formats],
            "margin": [f.margin for f in a.formats],
            "opening_cost": [f.opening_cost for f in a.formats],
            "fixed_cost": [f.fixed_cost for f in a.formats],
            "capacity": [f.capacity if f.capacity > 0 else "unlimited" for f in a.formats],
            "attractiveness": [f.attractiveness for f in a.formats],
            "categories": [", ".join(f"{c} {v:g}" for c, v in f.category_attractiveness) for f in a.formats],
            "levels": [", ".join(f.levels) if f.levels else "any area level" for f in a.formats],
            "max_stores": [f.max_stores if f.max_stores is not None else "no cap" for f in a.formats],
        }
    )
    for c in ("capacity", "max_stores"):
        rows[c] = rows[c].astype(object)
    if all(f.max_stores is None for f in a.formats):
        cols = tuple(c for c in cols if c.key != "max_stores")
    if not any(f.category_attractiveness for f in a.formats):
        cols = tuple(c for c in cols if c.key != "categories")
    return Table("assumption-formats", cols, rows)


def rollout_limits_table(plan: Any) -> Table:
    """Per rollout year (``plan.schedule.spec``): the cap on new stores, the fewest, the
    opening budget (currency) and the sales target (currency per year)."""
    cols: tuple[Column, ...] = (
        Column("label", "year", "year"),
        Column("max_stores", "most new stores", "count"),
        Column("min_stores", "fewest new stores", "count"),
        Column("budget", "opening budget", "currency"),
        Column("target", "sales target / year", "currency/year"),
    )
    spec = getattr(getattr(plan, "schedule", None), "spec", None)
    if spec is None:
        return _empty("assumption-years", cols)
    labels = wave_labels(plan)
    years = range(1, int(spec.years) + 1)
    caps, lows, budgets = spec.max_stores(), spec.min_stores(), spec.budgets()
    targets = spec.targets()
    rows = pd.DataFrame(
        {
            "label": [
                f"year {y}" if labels.get(y, str(y)) == str(y) else f"{labels[y]} (year {y})" for y in years
            ],
            "max_stores": [int(caps[y - 1]) if caps[y - 1] < 2**60 else "no cap" for y in years],
            "min_stores": [int(lows[y - 1]) for y in years],
            "budget": [float(budgets[y - 1]) if math.isfinite(budgets[y - 1]) else "no limit" for y in years],
            "target": [float(targets[y - 1]) if y <= len(targets) else float("nan") for y in years],
        }
    )
    for c in ("max_stores", "budget"):
        rows[c] = rows[c].astype(object)
    if not (lows > 0).any():
        cols = tuple(c for c in cols if c.key != "min_stores")
    return Table("assumption-years", cols, rows)


def assumptions_table(plan: Any) -> Table:
    """The other assumptions the plan rests on (next to :func:`formats_table` and
    :func:`rollout_limits_table`): size, spacing, gross margin, discount rate, ramp-up,
    distance decay, outside option, and which data layers are synthetic.

    Reads ``plan.assumptions`` (:class:`storeplan.assumptions.PlanAssumptions`),
    ``plan.schedule.spec`` (:class:`storeplan.rollout.RolloutSpec`) and ``plan.notes``;
    rows a plan lacks (an older saved plan) are left out. Columns ``topic, item,
    value, unit`` (``value`` raw: a number in ``unit`` or a text).
    """
    rows: list[tuple[str, str, Any, str]] = []
    kind = str(getattr(plan, "objective", "") or "")
    rows.append(("plan", "objective", OBJECTIVE_LABELS.get(kind, kind or "-"), "text"))
    a = getattr(plan, "assumptions", None)
    if a is not None:
        if a.stores is not None:
            rows.append(("plan", "new stores asked for", a.stores, "count"))
        if a.budget is not None:
            rows.append(("plan", "opening budget of the site choice", a.budget, "currency"))
        if not is_missing(a.radius_km):
            rows.append(("plan", "coverage radius", a.radius_km, "km"))
        if a.min_spacing_km > 0:
            rows.append(("plan", "least distance between our stores", a.min_spacing_km, "km"))
    spec = getattr(getattr(plan, "schedule", None), "spec", None)
    if spec is not None:
        rows.append(("rollout", "gross margin (share of sales)", float(spec.gross_margin), "share"))
        rows.append(("rollout", "discount rate per year", float(spec.discount_rate), "share"))
        rows.append(("rollout", "NPV horizon", int(spec.horizon), "count"))
        rows.append(
            ("rollout", "ramp-up to full sales", f"{spec.ramp_months:g} months, {spec.ramp_shape}", "text")
        )
        rows.append(("rollout", "terminal value after the horizon", "none", "text"))
    if a is not None:
        if a.decay == "power":
            kind_text = "power: weight = max(d, min km) ^ -lambda"
        else:
            kind_text = "exponential: weight = exp(-lambda x d km)"
        rows.append(("market model", "distance decay", kind_text, "text"))
        if a.decay_by_level:
            rows.append(
                (
                    "market model",
                    "decay lambda per area level",
                    ", ".join(f"{k} {v:g}" for k, v in a.decay_by_level.items()),
                    "text",
                )
            )
        rows.append(("market model", "decay lambda, other areas", a.default_decay, "number"))
        rows.append(("market model", "distances below this count as this", a.min_km, "km"))
        rows.append(("market model", "outside option (buying at no modelled store)", a.outside, "number"))
        if a.outside_per_100k:
            rows.append(
                ("market model", "outside option added per 100,000 residents", a.outside_per_100k, "number")
            )
        rows.append(
            ("market model", "rival store attractiveness (default)", a.rival_attractiveness, "number")
        )
        rows.append(
            ("market model", "share of online revenue moving to our stores", a.transfer_rate, "share")
        )
        if a.market_scale != 1.0:
            rows.append(("market model", "market size multiplier", a.market_scale, "number"))
        rows.append(("market model", "value of a web-shop order", a.online_order_value, "currency"))
        if a.categories:
            rows.append(("market model", "product categories", ", ".join(a.categories), "text"))
        rows.append(
            (
                "market model",
                "parameters",
                "calibrated on our stores' observed sales" if a.calibrated else "defaults (not calibrated)",
                "text",
            )
        )
    for n in synthetic_notes(getattr(plan, "notes", None)):
        rows.append(("data", "synthetic layer", n, "text"))
    cols = (Column("topic", "topic"), Column("item", "assumption"), Column("value", "value", "by_row"))
    df = pd.DataFrame(rows, columns=["topic", "item", "value", "unit"])
    df["value"] = df["value"].astype(object)
    return Table("assumptions", cols, df)


def report_tables(plan: Any, top_n: int = 20) -> dict[str, Table]:
    """Every table of the report, by name."""
    return {
        t.name: t
        for t in (
            year_table(plan),
            category_table(plan),
            share_table(plan, "region"),
            share_table(plan, "level", top=None),
            top_stores_table(plan, top_n),
            region_table(plan),
            unopened_table(plan),
            formats_table(plan),
            rollout_limits_table(plan),
            assumptions_table(plan),
        )
    }
