"""The report and the map of a world plan (:class:`storeplan.world.WorldPlan`).

``report.html`` reads in five minutes: the headline (stores against the target, NPV
with its bound and certified gap, capital, final-year sales against the target,
countries entered), a banner naming the synthetic data layers, the country table
(rank, what makes each country attractive, entry year, stores per year, NPV and each
country's own gap), the entry timeline, stores per year stacked by country, NPV by
country, the year table, the exchange rates and the data notes.

``map.html`` draws the countries' outlines (Natural Earth, bundled) shaded by entry
year, the stores coloured by opening year (one layer per year; Leaflet's canvas
renderer beyond 2,000 stores, as :mod:`storeplan.report.maps`), a country selector that
zooms to a country, and popups with each store's and each country's figures. Leaflet is
inlined, so the page works from a ``file://`` URL with no network.

Nothing here computes a figure: every number is a cell of the plan's ``countries``,
``stores`` or ``years_table`` or a field of its ``metrics`` (computed once by
:func:`storeplan.world.plan_world`). The tables are built once (:func:`world_tables`)
and rendered by :func:`storeplan.report.html.render_table`; the charts draw the same
columns.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import write_text
from ..world.plan import WorldPlan
from ._common import fmt_int, fmt_money, fmt_pct, is_missing, require, synthetic_notes
from .charts import new_figure, no_data, save_png, style_axes
from .html import REPORT_CSS, card, notes_html, render_table
from .maps import LEGEND_CSS, POPUP_TABLE_JS, WAVE_COLORS, js_json, leaflet_assets
from .tables import Column, Table

__all__ = [
    "HEADLINE",
    "NOT_ENTERED_COLOR",
    "WORLD_CHARTS",
    "build_world_map",
    "render_world_report",
    "world_tables",
    "write_world_charts",
    "write_world_map",
    "write_world_report",
    "year_label",
    "year_color",
]

#: The headline cards: (``WorldMetrics`` field, card label). Each card's ``data-value``
#: is that field, as in ``summary.json``.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("stores", "New stores"),
    ("npv", "NPV"),
    ("bound", "NPV upper bound"),
    ("capex", "Capital (opening costs)"),
    ("revenue_final_year", "Sales in the final year"),
    ("countries_entered", "Countries entered"),
    ("payback_year", "Payback year"),
)

#: The charts of :func:`write_world_charts`: key (file stem), title, caption.
WORLD_CHARTS: tuple[tuple[str, str, str], ...] = (
    (
        "world_entry",
        "Entry timeline",
        "Countries by entry year (bars run from the entry year to the end of the rollout); "
        "the label is the country's new stores.",
    ),
    (
        "world_stores",
        "Stores opened per year, by country",
        "New stores per rollout year, stacked by country (the largest eight; the rest as 'other').",
    ),
    (
        "world_npv",
        "NPV by country",
        "Each entered country's NPV (bar) and its NPV upper bound under its allocation (tick).",
    ),
)

#: Fill of the countries considered but not entered.
NOT_ENTERED_COLOR = "#8c8c8c"


def year_label(plan: WorldPlan, year: int, *, short: bool = False) -> str:
    """``"2027 (year 1)"`` (``short``: ``"2027"``) when the plan has a start year, else
    ``"year 1"``; ``"not entered"`` for 0."""
    y = int(year)
    if y <= 0:
        return "not entered"
    if plan.start_year and short:
        return str(int(plan.start_year) + y - 1)
    if plan.start_year:
        return f"{int(plan.start_year) + y - 1} (year {y})"
    return f"year {y}"


def year_color(year: int) -> str:
    """Colour of rollout year ``year`` (countries entered, stores opened):
    :data:`storeplan.report.maps.WAVE_COLORS`; :data:`NOT_ENTERED_COLOR` for 0."""
    y = int(year)
    return NOT_ENTERED_COLOR if y <= 0 else WAVE_COLORS[(y - 1) % len(WAVE_COLORS)]


def _total_row(rows: pd.DataFrame, cols, keys, **labels: Any) -> dict[str, Any]:
    """A table's total row: the sums of ``keys`` over ``rows`` (the rows shown above
    it), ``labels`` in their cells, NaN (blank) in every other column."""
    total: dict[str, Any] = {c.key: np.nan for c in cols}
    total.update(labels)
    for k in keys:
        total[k] = float(pd.to_numeric(rows[k], errors="coerce").sum())
    return total


def _year_columns(plan: WorldPlan) -> list[str]:
    return [f"stores_year_{t}" for t in range(1, plan.years + 1) if f"stores_year_{t}" in plan.countries]


# ----------------------------------------------------------------------------- tables


def world_tables(plan: WorldPlan) -> dict[str, Table]:
    """The tables of the world report, built once from the plan's tables.

    Returns
    -------
    dict of str to Table
        ``countries``: the entered countries by entry year then rank (attractiveness,
        stores per year, sales, capital, NPV, bound, gap), with a total row (the sums
        of the rows above; the gap of the total is left blank, the world gap is in the
        headline); ``not_entered``: the countries considered but not entered, by rank;
        ``years``: :attr:`WorldPlan.years_table` (years after the rollout in grey),
        with a total row for the flows (stores, capital, cash flow); ``fx``: the
        exchange rates of the countries considered.
    """
    cur = plan.currency
    ycols = _year_columns(plan)
    entered = plan.entered
    cols = (
        Column("rank", "rank", "count"),
        Column("name", "country"),
        Column("entry", "entry year", "year"),
        Column("population", "population", "persons"),
        Column("income_per_person", f"income / person ({cur})", "currency/year"),
        Column("offline_market", f"offline market / year ({cur})", "currency/year"),
        Column("online_revenue", f"our online sales / year ({cur})", "currency/year"),
        Column("rival_outlets_per_100k", "rival outlets / 100k people", "per_100k"),
        *(
            Column(c, f"new stores {year_label(plan, int(c.rsplit('_', 1)[1]), short=True)}", "count")
            for c in ycols
        ),
        Column("stores", "new stores", "count"),
        Column("stores_partner", "of which partner", "count"),
        Column("revenue_final_year", f"sales, final year ({cur})", "currency/year"),
        Column("capex", f"capital ({cur})", "currency"),
        Column("npv", f"NPV ({cur})", "currency"),
        Column("npv_bound", f"NPV bound ({cur})", "currency"),
        Column("gap", "gap", "share"),
    )
    rows = entered.assign(
        entry=[year_label(plan, y) for y in entered["entry_year"]],
        name=[f"{n} ({c})" for n, c in zip(entered["name"], entered["country"], strict=True)],
    )[[c.key for c in cols]].reset_index(drop=True)
    total_keys = [*ycols, "stores", "stores_partner", "revenue_final_year", "capex", "npv", "npv_bound"]
    total = _total_row(rows, cols, total_keys, rank=np.nan, name=f"total ({len(rows)} countries)", entry="")
    countries = Table(
        "world-countries",
        cols,
        pd.concat([rows, pd.DataFrame([total])], ignore_index=True),
        note=(
            f"Amounts in {cur}. Rank: order of attractiveness (the NPV bound of entering in "
            "year 1 alone). Gap: (bound - NPV) / |NPV| of the country's plan under its "
            "allocation of stores and capital."
        ),
        total=True,
    )
    c = plan.countries
    out_rows = c[c["entry_year"] <= 0].sort_values("rank").reset_index(drop=True)
    ne_cols = (
        Column("rank", "rank", "count"),
        Column("name", "country"),
        Column("population", "population", "persons"),
        Column("income_per_person", f"income / person ({cur})", "currency/year"),
        Column("offline_market", f"offline market / year ({cur})", "currency/year"),
        Column("attractiveness_value", f"NPV bound if entered alone ({cur})", "currency"),
    )
    not_entered = Table(
        "world-not-entered",
        ne_cols,
        out_rows.assign(
            name=[f"{n} ({cc})" for n, cc in zip(out_rows["name"], out_rows["country"], strict=True)]
        )[[k.key for k in ne_cols]],
    )
    yt = plan.years_table.reset_index(drop=True)
    y_cols = (
        Column("label", "year", "year"),
        Column("new_stores", "new stores", "count"),
        Column("open_stores", "stores open", "count"),
        Column("countries_entered", "countries entered", "count"),
        Column("countries_present", "countries with stores", "count"),
        Column("capex", f"capital ({cur})", "currency"),
        Column("budget", f"budget ({cur})", "currency"),
        Column("revenue", f"sales ({cur}/year)", "currency/year"),
        Column("target_revenue", f"sales target ({cur}/year)", "currency/year"),
        Column("cash_flow", f"cash flow ({cur})", "currency"),
        Column("cumulative_cash", f"cumulative cash ({cur})", "currency"),
    )
    yrows = yt.assign(label=[year_label(plan, y) for y in yt["year"]])[[k.key for k in y_cols]]
    yrows["row_class"] = np.where(yt["year"].to_numpy(int) > plan.years, "after", "")
    ytotal = _total_row(
        yt, y_cols, ("new_stores", "countries_entered", "capex", "cash_flow"), label="total", row_class=""
    )
    years = Table(
        "world-years",
        y_cols,
        pd.concat([yrows, pd.DataFrame([ytotal])], ignore_index=True),
        note=(
            f"Amounts in {cur}. Rows in grey: years after the {plan.years}-year rollout "
            "(no new stores; their cash flow counts in the NPV). Total: the sums of the "
            "flows above."
        ),
        total=True,
    )
    considered = set(c["currency"].astype(str)) | {cur}
    fxr = plan.fx[plan.fx["currency"].astype(str).isin(considered)].sort_values("currency")
    fx = Table(
        "world-fx",
        (
            Column("currency", "currency"),
            Column("per_base", f"units per 1 {cur}", "number"),
            Column("date", "date"),
            Column("source", "source"),
        ),
        fxr[["currency", "per_base", "date", "source"]].astype({"date": str, "source": str}),
    )
    return {"countries": countries, "not_entered": not_entered, "years": years, "fx": fx}


# ----------------------------------------------------------------------------- charts


def _top_countries(plan: WorldPlan, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` entered countries with most stores (by stores, then rank) and the rest."""
    e = plan.entered
    order = e.sort_values(["stores", "rank"], ascending=[False, True], kind="stable")
    return order.head(n), order.iloc[n:]


def entry_timeline_chart(plan: WorldPlan, path: str | Path, *, dpi: int = 110) -> Path:
    """Gantt-like chart of the entered countries: one bar per country from its entry
    year to the end of the rollout, coloured by entry year (:func:`year_color`), labelled
    with its new stores (``countries`` columns ``entry_year``, ``stores``).

    Parameters
    ----------
    plan : WorldPlan
    path : str or Path
        Output PNG, written atomically.
    dpi : int, default 110

    Returns
    -------
    Path
    """
    e = plan.entered
    top = e.head(40)
    fig, ax = new_figure(7.2, max(2.2, 0.32 * len(top) + 1.2))
    if len(top) == 0:
        no_data(ax, "no country entered")
        return save_png(fig, path, dpi)
    y = np.arange(len(top))[::-1]
    start = top["entry_year"].to_numpy(int)
    ax.barh(
        y,
        plan.years - start + 1,
        left=start - 0.5,
        color=[year_color(s) for s in start],
        height=0.62,
        edgecolor="white",
    )
    for yi, s, n in zip(y, start, top["stores"].to_numpy(int), strict=True):
        ax.text(s - 0.42, yi, f"{n:,} stores", va="center", ha="left", fontsize=8, color="white")
    ax.set_yticks(y, [f"{nm} ({cc})" for nm, cc in zip(top["name"], top["country"], strict=True)])
    ax.set_xticks(range(1, plan.years + 1), [year_label(plan, t) for t in range(1, plan.years + 1)])
    ax.set_xlim(0.5, plan.years + 0.5)
    ax.tick_params(axis="y", labelsize=8)
    ax.tick_params(axis="x", labelsize=8)
    more = f" (first 40 of {len(e)})" if len(e) > len(top) else ""
    ax.set_title(f"Countries by entry year{more}", fontsize=10)
    style_axes(ax)
    return save_png(fig, path, dpi)


def stores_by_country_chart(plan: WorldPlan, path: str | Path, *, top: int = 8, dpi: int = 110) -> Path:
    """New stores per rollout year stacked by country (``countries`` columns
    ``stores_year_<t>``; the ``top`` countries with most stores, the rest as "other").

    Parameters
    ----------
    plan : WorldPlan
    path : str or Path
        Output PNG, written atomically.
    top : int, default 8
    dpi : int, default 110

    Returns
    -------
    Path
    """
    fig, ax = new_figure(7.2, 3.8)
    ycols = _year_columns(plan)
    head, rest = _top_countries(plan, top)
    if not ycols or len(head) == 0:
        no_data(ax, "no stores opened")
        return save_png(fig, path, dpi)
    x = np.arange(1, len(ycols) + 1)
    bottom = np.zeros(len(ycols))
    palette = ("#2166ac", "#1a9850", "#e08214", "#762a83", "#35978f", "#c51b7d", "#8c510a", "#4393c3")
    series = [
        (f"{nm} ({cc})", v)
        for nm, cc, v in zip(head["name"], head["country"], head[ycols].to_numpy(float), strict=True)
    ]
    if len(rest):
        series.append((f"other ({len(rest)})", rest[ycols].to_numpy(float).sum(axis=0)))
    for k, (label, v) in enumerate(series):
        color = palette[k % len(palette)] if not label.startswith("other (") else "#9e9e9e"
        ax.bar(x, v, bottom=bottom, color=color, label=label, width=0.7, edgecolor="white", linewidth=0.5)
        bottom += v
    ax.set_xticks(x, [year_label(plan, int(t)) for t in x], fontsize=8)
    ax.set_ylabel("new stores")
    ax.legend(fontsize=7.5, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    style_axes(ax)
    return save_png(fig, path, dpi)


def npv_by_country_chart(plan: WorldPlan, path: str | Path, *, top: int = 15, dpi: int = 110) -> Path:
    """Each entered country's NPV (bar) and NPV bound (tick), planning currency
    (``countries`` columns ``npv``, ``npv_bound``), the ``top`` largest NPVs.

    Parameters
    ----------
    plan : WorldPlan
    path : str or Path
        Output PNG, written atomically.
    top : int, default 15
    dpi : int, default 110

    Returns
    -------
    Path
    """
    e = plan.entered.sort_values(["npv", "rank"], ascending=[False, True], kind="stable").head(top)
    fig, ax = new_figure(7.2, max(2.2, 0.3 * len(e) + 1.2))
    if len(e) == 0:
        no_data(ax, "no country entered")
        return save_png(fig, path, dpi)
    y = np.arange(len(e))[::-1]
    npv = e["npv"].to_numpy(float)
    bound = pd.to_numeric(e["npv_bound"], errors="coerce").to_numpy(float)
    scale, unit = (1e9, "bn") if np.nanmax(np.abs(npv)) >= 1e9 else (1e6, "m")
    ax.barh(y, npv / scale, color=[year_color(s) for s in e["entry_year"]], height=0.62)
    ok = np.isfinite(bound)
    ax.scatter(bound[ok] / scale, y[ok], marker="|", s=120, color="#1f2933", label="NPV bound", zorder=3)
    ax.set_yticks(y, [f"{nm} ({cc})" for nm, cc in zip(e["name"], e["country"], strict=True)], fontsize=8)
    ax.set_xlabel(f"NPV ({unit} {plan.currency})")
    ax.axvline(0, color="#616e7c", linewidth=0.8)
    if ok.any():
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    style_axes(ax)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    return save_png(fig, path, dpi)


def write_world_charts(plan: WorldPlan, charts_dir: str | Path) -> dict[str, Path]:
    """Write the charts of :data:`WORLD_CHARTS` as PNG into ``charts_dir``.

    Returns
    -------
    dict of str to Path
        Chart key (file stem) -> path.
    """
    require("matplotlib")
    d = Path(charts_dir)
    d.mkdir(parents=True, exist_ok=True)
    return {
        "world_entry": entry_timeline_chart(plan, d / "world_entry.png"),
        "world_stores": stores_by_country_chart(plan, d / "world_stores.png"),
        "world_npv": npv_by_country_chart(plan, d / "world_npv.png"),
    }


# ----------------------------------------------------------------------------- report


def _headline(plan: WorldPlan) -> str:
    m = plan.metrics
    cur = m.currency
    cards = []
    for key, label in HEADLINE:
        v = getattr(m, key)
        if key == "stores":
            tgt = m.target_stores
            tone = "" if tgt is None else ("good" if m.stores >= tgt else "bad")
            detail = f"target {tgt:,}" if tgt is not None else "no store target"
            detail += f"; {m.stores_own:,} own, {m.stores_partner:,} partner"
            cards.append(card(label, fmt_int(v), detail, tone, exact=v))
        elif key == "npv":
            cards.append(card(label, f"{fmt_money(v)} {cur}", f"over the horizon, {cur}", exact=v))
        elif key == "bound":
            detail = (
                f"certified gap {fmt_pct(m.gap, 2)}; countries' own bounds {fmt_money(m.allocation_bound)}"
            )
            cards.append(card(label, f"{fmt_money(v)} {cur}", detail, exact=v))
        elif key == "capex":
            cards.append(card(label, f"{fmt_money(v)} {cur}", "opening costs over the rollout", exact=v))
        elif key == "revenue_final_year":
            tgt_r = m.target_revenue_final_year
            has_t = not is_missing(tgt_r)
            tone = "" if not has_t else ("good" if v >= tgt_r else "bad")
            detail = f"target {fmt_money(tgt_r)} {cur}" if has_t else "no sales target"
            cards.append(
                card(label, f"{fmt_money(v)} {cur}", f"{year_label(plan, plan.years)}; {detail}", tone, v)
            )
        elif key == "countries_entered":
            detail = f"of {m.countries_considered:,} considered"
            cards.append(card(label, fmt_int(v), detail, exact=v))
        elif key == "payback_year":
            text = year_label(plan, v) if v > 0 else "beyond the horizon"
            cards.append(card(label, text, "cumulative cash turns positive", exact=v))
    return f'<div class="cards">{"".join(cards)}</div>'


def _brief(plan: WorldPlan) -> str:
    """Three sentences: what the plan does, against the targets, how sure."""
    m = plan.metrics
    cur = m.currency
    e = plan.entered
    first = ", ".join(e.loc[e["entry_year"] == 1, "name"].astype(str).head(5))
    items = [
        f"{m.stores:,} new stores in {m.countries_entered:,} of {m.countries_considered:,} countries "
        f"over {plan.years} years" + (f", starting with {first}" if first else "") + ".",
    ]
    if m.target_stores is not None:
        short = m.target_stores - m.stores
        items.append(
            f"Store target {m.target_stores:,}: "
            + ("met." if short <= 0 else f"missed by {short:,} stores (the limits or the economics bind).")
        )
    if not is_missing(m.target_revenue_final_year):
        ok = m.revenue_final_year >= m.target_revenue_final_year
        items.append(
            f"Sales in the final year {fmt_money(m.revenue_final_year)} {cur} against a target of "
            f"{fmt_money(m.target_revenue_final_year)} {cur}: " + ("met." if ok else "missed.")
        )
    items.append(
        f"NPV {fmt_money(m.npv)} {cur}; no plan under the same limits can beat "
        f"{fmt_money(m.bound)} {cur} (gap {fmt_pct(m.gap, 2)})."
    )
    return '<ul class="brief">' + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>"


def _figures(charts: dict[str, str]) -> str:
    figs = []
    for key, title, caption in WORLD_CHARTS:
        if key in charts:
            figs.append(
                f'<figure><img src="{html.escape(charts[key], quote=True)}" alt="{html.escape(title)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    return f'<div class="charts">{"".join(figs)}</div>' if figs else ""


def _note(t: Table) -> str:
    return f'<p class="sub">{html.escape(t.note)}</p>' if t.note else ""


def render_world_report(
    plan: WorldPlan,
    charts: dict[str, str] | None = None,
    map_href: str | None = "map.html",
    *,
    files: dict[str, str] | None = None,
) -> str:
    """Return the world report page as an HTML string.

    Parameters
    ----------
    plan : WorldPlan
    charts : dict of str to str, optional
        Chart key of :data:`WORLD_CHARTS` -> relative image URL.
    map_href : str, optional
        Relative URL of the world map; ``None`` omits the link.
    files : dict of str to str, optional
        Link text -> relative URL of the data files.

    Returns
    -------
    str
        A complete HTML document; every text from the plan is escaped.
    """
    charts = charts or {}
    tables = world_tables(plan)
    e = html.escape
    m = plan.metrics
    sub = (
        f"{plan.years}-year rollout"
        + (f" from {plan.start_year}" if plan.start_year else "")
        + f"; amounts in {m.currency} (exchange rates of {m.fx_date}); "
        f"engine {m.engine}, {m.workers} worker(s), {m.seconds:,.1f} s"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(plan.name)} \u2013 world store plan</title>",
        f"<style>{REPORT_CSS}</style></head><body><main>",
        f"<h1>World store plan: {e(plan.name)}</h1>",
        f'<p class="sub">{e(sub)}</p>',
    ]
    synth = synthetic_notes(plan.notes)
    if synth:
        items = "".join(f"<div>{e(s)}</div>" for s in synth)
        parts.append(
            '<div class="notice" role="note"><strong>Synthetic data layers: '
            "parts of this plan rest on made-up data, not observations.</strong>"
            f"{items}</div>"
        )
    parts += ["<h2>Headline</h2>", _brief(plan), _headline(plan)]
    if map_href:
        parts.append(
            f'<p><a class="maplink" href="{e(map_href, quote=True)}">Open the world map \u2192</a> '
            "countries by entry year, stores by opening year, zoom to a country (works offline).</p>"
        )
    if files:
        items = "".join(f'<a href="{e(href, quote=True)}">{e(label)}</a>' for label, href in files.items())
        parts.append(f'<p class="downloads">Files: {items}</p>')
    parts += [
        "<h2>Countries entered</h2>",
        _note(tables["countries"]),
        render_table(tables["countries"], wide=True),
    ]
    figs = _figures(charts)
    if figs:
        parts += ["<h2>Entry, stores and NPV by country</h2>", figs]
    parts += ["<h2>Year by year</h2>", _note(tables["years"]), render_table(tables["years"], wide=True)]
    if not tables["not_entered"].empty:
        parts += [
            f"<h2>Countries not entered ({len(tables['not_entered']):,})</h2>",
            render_table(tables["not_entered"]),
        ]
    parts += [
        "<h2>Exchange rates</h2>",
        render_table(tables["fx"]),
        "<h2>Data sources and attribution</h2>",
        notes_html(plan),
        "<footer>Generated by storeplan. Numbers are model outputs for planning, not "
        "forecasts of actual sales.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


#: Data files of :func:`storeplan.world.write_world` linked from the report: file -> text.
_LINKED = (
    ("countries.csv", "countries.csv (one row per country)"),
    ("plan.csv", "plan.csv (one row per store)"),
    ("world_years.csv", "world_years.csv"),
    ("fx.csv", "fx.csv (exchange rates)"),
    ("summary.json", "summary.json"),
)


def write_world_report(plan: WorldPlan, out_dir: str | Path, *, map: bool = True) -> dict[str, Path]:  # noqa: A002
    """Write ``charts/world_*.png``, ``map.html`` and ``report.html`` (last) of a world plan.

    Parameters
    ----------
    plan : WorldPlan
    out_dir : str or Path
        Output folder; the data files already in it are linked from the report.
    map : bool, default True
        Also write ``map.html``.

    Returns
    -------
    dict of str to Path
        ``report``, ``map`` (when written) and the chart keys of :data:`WORLD_CHARTS`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = dict(write_world_charts(plan, out / "charts"))
    if map:
        paths["map"] = write_world_map(plan, out / "map.html")
    rel = {k: f"charts/{p.name}" for k, p in paths.items() if k != "map"}
    files = {label: name for name, label in _LINKED if (out / name).is_file()}
    page = render_world_report(plan, rel, "map.html" if map else None, files=files)
    report = write_text(out / "report.html", page)
    return {"report": report, **paths}


# ----------------------------------------------------------------------------- map

_WORLD_JS = (
    r"""
(function () {
    var D = __DATA__;
    var map = L.map('map', {preferCanvas: true, zoomSnap: 0.25, worldCopyJump: true});
    L.control.scale().addTo(map);
    map.createPane('storeplanBase');
    map.getPane('storeplanBase').style.zIndex = 250;
    map.createPane('storeplanStores');
    map.getPane('storeplanStores').style.zIndex = 450;
    var svg = L.svg({pane: 'storeplanStores'});
    var storeCanvas = L.canvas({padding: 0.5, pane: 'storeplanStores'});
    var renderer = D.stores.length > 2000 ? storeCanvas : svg;
"""
    + POPUP_TABLE_JS
    + r"""    var overlays = {};
    var base = {};
    if (D.tiles) {
        base['OpenStreetMap (online only)'] = L.tileLayer(
            'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
            {maxZoom: 18, attribution: '&copy; OpenStreetMap contributors'}).addTo(map);
    }
    if (D.background) {
        var bg = L.geoJSON(D.background, {
            pane: 'storeplanBase', interactive: false,
            style: {color: '#8c96a3', weight: 0.6, fillColor: '#ffffff', fillOpacity: 0.8}
        }).addTo(map);
        overlays['Other countries (offline basemap)'] = bg;
    }
    var countries = L.geoJSON(D.outlines, {
        pane: 'storeplanBase',
        style: function (f) {
            var c = D.countries[f.properties.k];
            return {color: '#4a5562', weight: 1, fillColor: c.color,
                    fillOpacity: c.entry > 0 ? 0.28 : 0.35};
        },
        onEachFeature: function (f, layer) {
            var c = D.countries[f.properties.k];
            layer.bindPopup(function () { return table(c.popup); });
        }
    }).addTo(map);
    overlays['Countries by entry year'] = countries;
    D.groups.forEach(function (g) {
        var grp = L.layerGroup();
        D.stores.forEach(function (s) {
            if (s[2] !== g.index) { return; }
            var m = L.circleMarker([s[1], s[0]], {
                renderer: renderer, pane: 'storeplanStores', radius: D.store_radius,
                color: '#ffffff', weight: 1.2, opacity: 1,
                fillColor: g.color, fillOpacity: 0.95
            });
            m.bindPopup(function () { return table(s[3]); });
            grp.addLayer(m);
        });
        grp.addTo(map);
        overlays[g.name] = grp;
    });
    L.control.layers(base, overlays, {collapsed: false, position: 'topright'}).addTo(map);
    var legend = L.control({position: 'bottomleft'});
    legend.onAdd = function () {
        var div = L.DomUtil.create('div', 'storeplan-legend');
        div.innerHTML = D.legend;
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    legend.addTo(map);
    var pick = L.control({position: 'topleft'});
    pick.onAdd = function () {
        var div = L.DomUtil.create('div', 'storeplan-legend storeplan-select');
        var sel = L.DomUtil.create('select', '', div);
        sel.id = 'storeplan-country';
        sel.setAttribute('aria-label', 'Zoom to a country');
        var all = document.createElement('option');
        all.value = ''; all.textContent = 'All countries';
        sel.appendChild(all);
        D.order.forEach(function (k) {
            var o = document.createElement('option');
            o.value = String(k); o.textContent = D.countries[k].label;
            sel.appendChild(o);
        });
        L.DomEvent.disableClickPropagation(div);
        sel.addEventListener('change', function () {
            var b = sel.value === '' ? D.bounds : D.countries[+sel.value].bounds;
            if (b) { map.fitBounds(b, {padding: [24, 24], animate: false}); }
        });
        return div;
    };
    pick.addTo(map);
    map.fitBounds(D.bounds, {padding: [24, 24]});
    window.storeplanWorldMap = map;
})();
"""
)

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{leaflet_css}</style>
<script>{leaflet_js}</script>
<style>{legend_css}
html, body, #map {{ width: 100%; height: 100%; margin: 0; padding: 0; }}
.storeplan-select select {{ font: 13px system-ui, sans-serif; max-width: 240px; }}
</style></head>
<body><div id="map"></div>
<script>{script}</script>
</body></html>
"""


def _bounds(lon: np.ndarray, lat: np.ndarray, pad: float = 0.3) -> list[list[float]] | None:
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    lo, la = lon[ok], lat[ok]
    return [
        [round(float(la.min()) - pad, 3), round(float(lo.min()) - pad, 3)],
        [round(float(la.max()) + pad, 3), round(float(lo.max()) + pad, 3)],
    ]


def _store_popups(plan: WorldPlan) -> list[list[list[str]]]:
    s = plan.stores
    cur = plan.currency
    local = dict(
        zip(plan.countries["country"].astype(str), plan.countries["currency"].astype(str), strict=True)
    )
    names = dict(zip(plan.countries["country"].astype(str), plan.countries["name"].astype(str), strict=True))
    out = []
    for r in s.itertuples(index=False):
        cc = str(r.country)
        rows = [
            ["store", str(r.id)],
            ["name", str(r.name)],
            ["country", f"{names.get(cc, cc)} ({cc})"],
            ["format", f"{r.format} ({r.ownership})"],
            ["opens", year_label(plan, int(r.open_year))],
            [f"sales / year at full ramp ({cur})", fmt_money(r.revenue_full_ramp)],
            [f"sales / year at full ramp ({local.get(cc, '')})", fmt_money(r.revenue_full_ramp_local)],
            [f"opening cost ({cur})", fmt_money(r.opening_cost)],
            [f"NPV ({cur})", fmt_money(r.npv)],
        ]
        out.append(rows)
    return out


def _country_popup(plan: WorldPlan, r: Any) -> list[list[str]]:
    cur = plan.currency
    rows = [
        ["country", f"{r.name} ({r.country})"],
        ["rank", fmt_int(r.rank)],
        ["entry", year_label(plan, int(r.entry_year))],
        ["new stores", fmt_int(r.stores)],
    ]
    if int(r.entry_year) > 0:
        per_year = " / ".join(fmt_int(getattr(r, c)) for c in _year_columns(plan))
        rows += [
            ["stores per year", per_year],
            [f"sales, final year ({cur})", fmt_money(r.revenue_final_year)],
            [f"capital ({cur})", fmt_money(r.capex)],
            [f"NPV ({cur})", fmt_money(r.npv)],
            ["gap", fmt_pct(r.gap, 2)],
        ]
    rows += [
        ["population", fmt_int(r.population)],
        [f"income / person ({cur})", fmt_money(r.income_per_person)],
        ["currency", f"{r.currency} ({r.fx_per_planning:,.4g} per {cur})"],
    ]
    return rows


def _outlines(codes: list[str], tolerance: float) -> tuple[dict[str, Any], dict[str, list[list[float]]]]:
    """GeoJSON of the countries ``codes`` (Natural Earth, uncut) and the bounds of each
    country's largest polygon (degrees, ``[[lat, lon], [lat, lon]]``)."""
    import shapely
    from shapely.geometry import mapping

    from ..datasets import country_outlines

    g = country_outlines(codes, tolerance=tolerance)
    features, bounds = [], {}
    for code, geom in zip(g["country"].astype(str), g.geometry, strict=True):
        geom = shapely.set_precision(geom, 1e-3)
        if geom.is_empty:
            continue
        features.append({"type": "Feature", "properties": {"country": code}, "geometry": mapping(geom)})
        parts = list(getattr(geom, "geoms", [geom]))
        big = max(parts, key=lambda p: p.area)
        x0, y0, x1, y1 = big.bounds
        bounds[code] = [[round(y0, 3), round(x0, 3)], [round(y1, 3), round(x1, 3)]]
    return {"type": "FeatureCollection", "features": features}, bounds


def _legend(plan: WorldPlan, groups: list[dict[str, Any]], entry_years: list[int]) -> str:
    e = html.escape
    m = plan.metrics
    items = [
        f"<div><b>Countries by entry year</b> ({m.countries_entered:,} of {m.countries_considered:,})</div>"
    ]
    for y in entry_years:
        items.append(
            f'<div><span class="sw" style="background:{year_color(y)};border-radius:2px"></span>'
            f"{e(year_label(plan, y))}</div>"
        )
    items.append(f"<div><b>Stores by opening year</b> ({m.stores:,})</div>")
    for g in groups:
        items.append(
            f'<div><span class="sw" style="background:{g["color"]}"></span>{e(g["label"])} ({g["n"]:,})</div>'
        )
    notes = [str(n) for n in plan.notes]
    synth = "".join(f'<div class="synthetic">{e(n)}</div>' for n in synthetic_notes(notes))
    more = ""
    if notes:
        more = (
            f"<details><summary>data sources ({len(notes)})</summary>"
            + "".join(f"<div>{e(n)}</div>" for n in notes)
            + "</details>"
        )
    return (
        f"<details open><summary><h4>{e(plan.name)}</h4></summary>"
        f"<div>{m.stores:,} new stores in {m.countries_entered:,} countries; amounts in {e(m.currency)}</div>"
        f'{"".join(items)}<div class="notes">{synth}{more}</div>'
        '<div class="notes">Outlines: Natural Earth (drawn offline); background tiles need a network '
        "connection, the data layers do not.</div></details>"
    )


def build_world_map(plan: WorldPlan, *, tiles: bool = True, tolerance: float | None = None) -> str:
    """The world map page as an HTML string (Leaflet inlined; see the module docstring).

    Parameters
    ----------
    plan : WorldPlan
    tiles : bool, default True
        Add an OpenStreetMap background layer (fetched online; missing offline).
    tolerance : float, optional
        Simplification of the country outlines, degrees (default 0.02 for up to 10
        countries considered, 0.05 beyond).

    Returns
    -------
    str
        A complete HTML document.
    """
    c = plan.countries.sort_values("rank", kind="stable").reset_index(drop=True)
    codes = c["country"].astype(str).tolist()
    tol = (0.02 if len(codes) <= 10 else 0.05) if tolerance is None else float(tolerance)
    outlines, poly_bounds = _outlines(codes, tol)
    k_of = {cc: k for k, cc in enumerate(codes)}
    for f in outlines["features"]:
        f["properties"]["k"] = k_of[f["properties"]["country"]]
    s = plan.stores.reset_index(drop=True)
    slon = pd.to_numeric(s["lon"], errors="coerce").to_numpy(float)
    slat = pd.to_numeric(s["lat"], errors="coerce").to_numpy(float)
    countries: list[dict[str, Any]] = []
    entries: list[int] = []
    for r in c.itertuples(index=False):
        cc = str(r.country)
        entries.append(int(r.entry_year))
        sel = (s["country"].astype(str) == cc).to_numpy()
        b = _bounds(slon[sel], slat[sel]) if sel.any() else poly_bounds.get(cc)
        countries.append(
            {
                "label": f"{r.name} ({cc})" + ("" if int(r.entry_year) > 0 else ", not entered"),
                "entry": int(r.entry_year),
                "color": year_color(int(r.entry_year)),
                "bounds": b,
                "popup": _country_popup(plan, r),
            }
        )
    order = sorted(range(len(countries)), key=lambda k: (entries[k] <= 0, str(countries[k]["label"])))
    years = sorted(set(s["open_year"].astype(int).tolist()))
    gi = {y: k for k, y in enumerate(years)}
    groups = [
        {
            "index": gi[y],
            "year": y,
            "color": year_color(y),
            "label": f"opens {year_label(plan, y)}",
            "n": int((s["open_year"] == y).sum()),
        }
        for y in years
    ]
    for g in groups:
        g["name"] = f"Stores opening {year_label(plan, g['year'])}: {g['n']:,}"
    popups = _store_popups(plan)
    rows = [
        [
            None if not np.isfinite(slon[i]) else round(float(slon[i]), 4),
            None if not np.isfinite(slat[i]) else round(float(slat[i]), 4),
            gi[int(s["open_year"].iat[i])],
            popups[i],
        ]
        for i in range(len(s))
    ]
    rows = [r for r in rows if r[0] is not None and r[1] is not None]
    # the initial view: the stores, or the countries considered when there are none
    all_b = _bounds(slon, slat, pad=1.0)
    if all_b is None:
        bs: list[list[list[float]]] = [x["bounds"] for x in countries if x["bounds"]]
        if bs:
            all_b = [
                [min(b[0][0] for b in bs), min(b[0][1] for b in bs)],
                [max(b[1][0] for b in bs), max(b[1][1] for b in bs)],
            ]
        else:
            all_b = [[-50.0, -170.0], [70.0, 170.0]]
    background = None
    if all_b is not None:
        from ..data.outlines import country_outlines_geojson

        (la0, lo0), (la1, lo1) = all_b
        bg = country_outlines_geojson((lo0, la0, lo1, la1), pad=25.0, tolerance=0.05)
        if bg is not None:
            bg["features"] = [f for f in bg["features"] if f["properties"].get("country") not in k_of]
            background = bg
    n = len(rows)
    data = {
        "outlines": outlines,
        "background": background,
        "countries": countries,
        "order": order,
        "stores": rows,
        "groups": groups,
        "bounds": all_b,
        "tiles": bool(tiles),
        "store_radius": 6.0 if n <= 200 else 4.5 if n <= 2000 else 3.0,
        "legend": _legend(plan, groups, sorted(set(entries))),
    }
    js, css = leaflet_assets()
    return _PAGE.format(
        title=html.escape(f"{plan.name} - storeplan world map"),
        leaflet_css=css,
        leaflet_js=js,
        legend_css=LEGEND_CSS,
        script=_WORLD_JS.replace("__DATA__", js_json(data)),
    )


def write_world_map(plan: WorldPlan, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`build_world_map` to ``path`` (atomically).

    Parameters
    ----------
    plan : WorldPlan
    path : str or Path
        Output file, e.g. ``out/map.html``.
    **kwargs
        Passed to :func:`build_world_map` (``tiles``, ``tolerance``).

    Returns
    -------
    Path
    """
    return write_text(path, build_world_map(plan, **kwargs))
