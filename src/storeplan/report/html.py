"""The one-page HTML report of a plan (``report.html`` + ``charts/*.png`` + ``map.html``).

Read top to bottom in five minutes: an "in brief" summary, headline cards (network,
revenue and market share), the rollout (verdict on the sales targets, NPV, payback, the
year-by-year table and the charts of :func:`storeplan.report.pdf.write_rollout_charts`),
revenue by category and market share by region (with the calibration of the market
model), the top stores, then the network charts, assumptions, data sources and
provenance. Sections whose data the plan lacks (older plans, ``Plan.load``) are left out.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import write_text
from ..metrics import RolloutSummary
from ..rollout import rollout_summary
from ..rollout.reasons import REASON_TEXT, UnopenedReason
from ._common import (
    fmt_int,
    fmt_km,
    fmt_money,
    fmt_num,
    fmt_pct,
    fmt_seconds,
    fmt_unit,
    fmt_value,
    is_missing,
    opt,
    synthetic_notes,
)
from .tables import (
    OBJECTIVE_LABELS,
    Table,
    assumptions_table,
    category_table,
    formats_table,
    region_table,
    rollout_limits_table,
    share_table,
    top_stores_table,
    unopened_table,
    year_table,
)

__all__ = [
    "write_report",
    "render_report",
    "render_table",
    "html_table",
    "card",
    "notes_html",
    "fmt_unit",
    "write_rollout_pngs",
    "REPORT_CSS",
]

log = logging.getLogger(__name__)


# Rollout chart PNGs of storeplan.report.pdf.write_rollout_charts: key, alt, caption.
_ROLLOUT_CHARTS = (
    (
        "rollout_stores",
        "Stores opened per year",
        "New stores opened each year (bars) and stores open at the end of the year (line).",
    ),
    (
        "rollout_revenue",
        "Store sales vs target",
        "Sales of existing and new stores per rollout year, with the sales target.",
    ),
    (
        "rollout_cash",
        "Cumulative cash flow",
        "Yearly cash flow of the new stores and the cumulative cash flow over the NPV horizon.",
    ),
    ("rollout_regions", "Sales by region", "Share of our store sales by region in the last rollout year."),
)

REPORT_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --accent: #2166ac;
        --warn-bg: #fff7ed; --warn: #9a3412; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto,
       "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; color: var(--ink);
       background: #f5f7fa; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 28px 60px; background: #fff;
       min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 34px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 18px; }
.notice { background: var(--warn-bg); border-left: 4px solid var(--warn); color: var(--warn);
          padding: 10px 14px; margin: 14px 0; border-radius: 4px; }
.notice strong { display: block; margin-bottom: 2px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr));
         gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12.5px; text-transform: uppercase;
               letter-spacing: .03em; }
.card .value { font-size: 24px; font-weight: 650; margin: 2px 0; }
.card .detail { color: var(--muted); font-size: 13px; }
.maplink { display: inline-block; background: var(--accent); color: #fff; padding: 9px 16px;
           border-radius: 6px; text-decoration: none; font-weight: 600; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; align-items: start; }
.charts figure { margin: 6px 0 10px; }
@media (max-width: 900px) { .charts { grid-template-columns: 1fr; } }
.two .charts { grid-template-columns: 1fr; }
.charts img { max-width: 100%; height: auto; border: 1px solid var(--line);
              border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 6px 0 8px; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: #f5f7fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
.scroll { overflow-x: auto; }
.scroll table.wide { font-size: 13px; }
.scroll table.wide th, .scroll table.wide td { padding: 5px 6px; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
@media (max-width: 760px) { .two { grid-template-columns: 1fr; } }
ul.notes li { margin: 3px 0; }
li.synthetic { color: var(--warn); font-weight: 600; }
.verdict { padding: 12px 16px; border-radius: 6px; margin: 12px 0; font-size: 16px; }
.verdict.met { background: #ecfdf3; border-left: 5px solid #1b7837; color: #14532d; }
.verdict.missed { background: #fef2f2; border-left: 5px solid #b2182b; color: #7f1d1d; }
.verdict.none { background: #f5f7fa; border-left: 5px solid var(--muted); }
.card.good .value { color: #1b7837; }
.card.bad .value { color: #b2182b; }
tr.after td { color: var(--muted); }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
td.yes { color: #1b7837; font-weight: 600; }
td.no { color: #b2182b; font-weight: 600; }
.bar { display: inline-block; height: 10px; background: var(--accent); border-radius: 2px;
       vertical-align: middle; margin-right: 6px; }
.box { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin: 10px 0; }
.box.warn { border-color: #fdba74; background: var(--warn-bg); }
.downloads a { margin-right: 14px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
ul.brief { font-size: 16px; margin: 8px 0 4px; padding-left: 22px; }
ul.brief li { margin: 4px 0; }
code { font-size: 13px; background: #f5f7fa; padding: 1px 4px; border-radius: 3px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; }
@media print { body { background: #fff; } main { padding: 0; } .maplink { color: #000; } }
"""


def _years(n: int) -> str:
    """``"1 year"``, ``"3 years"``."""
    return f"{n} year" if n == 1 else f"{n} years"


def card(label: str, value: str, detail: str = "", tone: str = "", exact: Any = None) -> str:
    """A headline card; ``exact`` (a number) is written to ``data-value`` so the figure
    behind the rounded text can be read back (and checked against the data files)."""
    d = f'<div class="detail">{escape(detail)}</div>' if detail else ""
    cls = f"card {tone}".strip()
    dv = ""
    if exact is not None and not is_missing(exact):
        dv = f' data-value="{escape(repr(float(exact)), quote=True)}"'
    return (
        f'<div class="{cls}"{dv}><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div>{d}</div>'
    )


#: A table cell: plain text, or ``(text, exact value for data-value, extra CSS class)``
#: with an optional fourth item, the width in px of a bar drawn before the text.
Cell = str | tuple[Any, ...]


def _cell(c: Cell, num: bool) -> str:
    bar = 0
    if isinstance(c, tuple):
        text, value, extra = c[:3]
        bar = int(c[3]) if len(c) > 3 else 0
    else:
        text, value, extra = c, None, ""
    cls = " ".join(x for x in ("num" if num else "", extra) if x)
    attrs = f' class="{cls}"' if cls else ""
    if value is not None and not is_missing(value):
        attrs += f' data-value="{escape(repr(float(value)), quote=True)}"'
    pre = f'<span class="bar" style="width:{bar}px"></span>' if bar > 0 else ""
    return f"<td{attrs}>{pre}{escape(text)}</td>"


def html_table(
    header: list[tuple[str, bool]],
    rows: list[list[Cell]],
    *,
    row_classes: list[str] | None = None,
    table_id: str | None = None,
    wide: bool = False,
) -> str:
    """An HTML table; ``header`` is (title, numeric) pairs; cell text is escaped here.

    A cell is a string or ``(text, value, css_class)``: ``value`` (a number) is written
    to ``data-value`` so the exact figure behind a rounded one can be read back.
    """
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if num else f"<th>{escape(h)}</th>" for h, num in header
    )
    body = []
    for k, r in enumerate(rows):
        cells = "".join(_cell(c, num) for c, (_, num) in zip(r, header, strict=True))
        rc = row_classes[k] if row_classes else ""
        body.append(f'<tr class="{rc}">{cells}</tr>' if rc else f"<tr>{cells}</tr>")
    tid = f' id="{escape(table_id, quote=True)}"' if table_id else ""
    cls = ' class="wide"' if wide else ""
    table = f"<table{tid}{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>' if wide else table


def render_table(t: Table, *, wide: bool = False) -> str:
    """Render a :class:`storeplan.report.tables.Table`: text formatted by unit, the exact
    number of every numeric cell in ``data-value``, shares with a bar where asked."""
    header = [(c.title, c.numeric) for c in t.columns]
    rows: list[list[Cell]] = []
    df = t.rows
    units = df["unit"].tolist() if "unit" in df else None
    for k in range(len(df)):
        row: list[Cell] = []
        for c in t.columns:
            v = df[c.key].iat[k]
            unit = units[k] if c.unit == "by_row" and units is not None else c.unit
            text = fmt_unit(v, unit)
            if isinstance(v, str) or is_missing(v) or unit in ("text", "year"):
                row.append((text, None, ""))
            elif c.bar:
                row.append((text, float(v), "", max(1, round(120 * float(v)))))
            else:
                row.append((text, float(v), ""))
        rows.append(row)
    classes = [str(x) for x in df["row_class"]] if "row_class" in df else None
    if t.total and rows:
        classes = classes or [""] * len(rows)
        classes[-1] = (classes[-1] + " total").strip()
    return html_table(header, rows, row_classes=classes, table_id=t.name, wide=wide)


def _money_cell(x: Any) -> Cell:
    return (fmt_money(x), None if is_missing(x) else float(x), "")


def _headline(plan: Any) -> str:
    stores = plan.stores
    n = int(plan.metrics.n_stores)
    status = stores["status"].astype(str).str.lower() if "status" in stores else None
    n_new = int((status == "new").sum()) if status is not None else n
    n_old = int((status == "existing").sum()) if status is not None else 0
    covered = opt(plan.metrics.covered_population)
    total = opt(plan.metrics.total_population)
    share = opt(plan.metrics.coverage_share)
    if share is None and covered is not None and total:
        share = float(covered) / float(total)
    kind = str(plan.objective or "")
    gap = opt(plan.metrics.gap)
    proven = opt(plan.metrics.proven_optimal)
    if proven:
        gap_detail = "proven optimal"
    elif gap is not None:
        gap_detail = f"gap {fmt_pct(gap, 2)} (not proven optimal)"
    else:
        gap_detail = "no bound reported"
    radius = opt(plan.metrics.radius_km)
    unit = str(plan.metrics.objective_unit or "")

    def fmt_obj(x: Any) -> str:
        """The objective in its unit (currency/year, person-km, persons)."""
        if x is None:
            return "-"
        if unit.startswith("currency"):
            return fmt_money(x) + (" / year" if unit.endswith("/year") else "")
        if unit == "km":
            return fmt_km(x)
        return f"{fmt_num(x)} {unit}".strip()

    what = {
        "revenue": "revenue minus yearly fixed costs",
        "pmedian": "population-weighted distance to the nearest store",
        "coverage": "population within the radius",
        "fixed_cost": "yearly opening (amortised) + fixed + travel cost",
        "pcenter": "largest distance of an area to its nearest store",
        "pdispersion": "least distance between two of our stores",
        "backup_coverage": "population covered by a second store within the radius",
    }
    n_partner = opt(plan.metrics.n_partner_stores)
    by_owner = (
        f"; {int(opt(plan.metrics.n_own_stores) or 0):,} own, {int(n_partner):,} partner" if n_partner else ""
    )
    cards = [
        card("Stores", fmt_int(n), f"{n_new:,} new, {n_old:,} existing{by_owner}", exact=n),
        card(
            "Population covered",
            fmt_pct(share) if share is not None else fmt_int(covered),
            f"{fmt_int(covered)} of {fmt_int(total)} people"
            + (f" within {fmt_km(radius)}" if radius else ""),
            exact=covered,
        ),
        card(
            "Mean distance to store",
            fmt_km(opt(plan.metrics.mean_km)),
            f"median {fmt_km(plan.metrics.median_km)}, population-weighted",
        ),
        card(
            "Objective",
            fmt_obj(opt(plan.metrics.objective)),
            what.get(kind, kind or "-"),
            exact=opt(plan.metrics.objective),
        ),
        _bound_card(plan, fmt_obj(opt(plan.metrics.bound)), gap_detail),
        card("Run time", fmt_seconds(opt(plan.metrics.seconds)), str(plan.metrics.method or "")),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _bound_card(plan: Any, bound_text: str, gap_detail: str) -> str:
    """The certificate of the plan: the single-year bound and gap, or, when the joint
    rollout chose the stores (for their NPV), the rollout's NPV bound and gap with the
    single-year figures beside it."""
    r = plan.metrics.rollout
    if r is not None and r.chose_sites and not is_missing(r.npv_bound) and not is_missing(r.npv_gap):
        gap = opt(plan.metrics.gap)
        below = f"{fmt_pct(gap, 2)} below" if gap is not None else "compared with"
        detail = (
            f"NPV gap {fmt_pct(r.npv_gap, 2)} (certified). The stores were chosen for their NPV: "
            f"their single-year objective is {below} the single-year bound ({bound_text})"
        )
        return card("NPV bound and gap", fmt_money(r.npv_bound), detail, exact=r.npv_bound)
    return card("Bound and gap", bound_text, gap_detail, exact=opt(plan.metrics.bound))


def _summary(plan: Any) -> str:
    """ "In brief": two to four sentences a manager reads first (only facts the plan has)."""
    stores = plan.stores
    status = stores["status"].astype(str).str.lower() if "status" in stores else None
    n_new = int((status == "new").sum()) if status is not None else len(stores)
    n_old = int((status == "existing").sum()) if status is not None else 0
    items = []
    first = f"The plan opens {n_new:,} new stores"
    first += f" next to {n_old:,} existing ones." if n_old else "."
    share = opt(plan.metrics.coverage_share)
    radius = opt(plan.metrics.radius_km)
    if share is not None and radius:
        first += f" {fmt_pct(share)} of the population lives within {fmt_km(radius)} of one."
    items.append(first)
    if _has_market(plan):
        own = opt(plan.metrics.own_revenue)
        after = opt(plan.metrics.market_share)
        before = opt(plan.metrics.market_share_before)
        text = f"Our stores would sell {fmt_money(own)} a year"
        if after is not None:
            text += f", {fmt_pct(after)} of offline spending"
            if before is not None:
                text += f" (today {fmt_pct(before)})"
        net = opt(plan.metrics.net_gain)
        if net is not None:
            text += f"; {fmt_money(net)} of it is new revenue after cannibalisation"
        items.append(text + ".")
    h = _rollout_headline(plan)
    if h is not None:
        years = h.years
        text = "The rollout"
        if years is not None and not is_missing(years):
            text += f" over {_years(int(years))}"
        sched = getattr(plan, "schedule", None)
        oy = getattr(sched, "open_year", None)
        if oy is not None:
            # the plan's stores only (a joint rollout also lists single-year sites it left out)
            ids = getattr(sched, "ids", None)
            oy = np.asarray(oy)
            if ids is not None and len(ids) == len(oy):
                oy = oy[np.isin(np.asarray(ids).astype(str), plan.stores["id"].astype(str).to_numpy())]
            n_open, n_never = int((oy > 0).sum()), int((oy < 0).sum())
            if n_never:
                text += (
                    f" opens {n_open:,} of the {n_open + n_never:,} new stores "
                    f"({n_never:,} left unopened; the revenue and share figures "
                    "above include them) and"
                )
        met = h.target_met
        if met is None or is_missing(met):
            text += " has no sales target"
        elif bool(met):
            text += " meets every yearly sales target"
        else:
            text += f" misses its sales target by up to {fmt_money(h.shortfall)} a year"
            extra = h.extra_stores
            if extra is not None and not is_missing(extra) and int(extra) > 0:
                text += f" (about {int(extra):,} more stores would close it)"
        text += f"; NPV {fmt_money(h.npv)}"
        payback = h.payback_year
        text += (
            "; the new stores do not pay back within the horizon"
            if payback is None or is_missing(payback)
            else f"; the new stores pay back in {_year_label(plan, payback)}"
        )
        items.append(text + ".")
    lis = "".join(f"<li>{escape(t)}</li>" for t in items)
    return f'<ul class="brief" id="brief">{lis}</ul>'


def _has_market(plan: Any) -> bool:
    """True when the plan carries the market-model metrics (own revenue, share)."""
    return opt(plan.metrics.own_revenue) is not None


def _revenue_cards(plan: Any) -> str:
    """Cards: own revenue, market share after vs before, net gain, cannibalisation."""
    own = opt(plan.metrics.own_revenue)
    offline = opt(plan.metrics.own_offline_revenue)
    online = opt(plan.metrics.online_transfer)
    share = opt(plan.metrics.market_share)
    before = opt(plan.metrics.market_share_before)
    total = opt(plan.metrics.total_market)
    net = opt(plan.metrics.net_gain)
    c_own = opt(plan.metrics.taken_from_existing_stores)
    c_web = opt(plan.metrics.taken_from_online)
    new_rev = opt(plan.metrics.new_store_revenue)
    cards = [
        card(
            "Own revenue per year",
            fmt_money(own),
            f"stores {fmt_money(offline)} + from our web shop {fmt_money(online)}",
            exact=own,
        )
    ]
    if share is not None:
        detail = f"before the new stores {fmt_pct(before)}" if before is not None else ""
        if before is not None:
            detail += f" ({100 * (float(share) - float(before)):+.1f} pts)"
        if total is not None:
            detail += f"; offline market {fmt_money(total)}/year"
        cards.append(card("Offline market share", fmt_pct(share), detail, exact=share))
    if net is not None:
        cards.append(
            card(
                "Net new revenue per year",
                fmt_money(net),
                f"new stores' revenue {fmt_money(new_rev)} minus what they take from our existing "
                "stores and web shop",
                exact=net,
            )
        )
    if c_own is not None or c_web is not None:
        both = float(c_own or 0.0) + float(c_web or 0.0)
        cards.append(
            card(
                "Cannibalised per year",
                fmt_money(both),
                f"from our existing stores {fmt_money(c_own)}, from our web shop {fmt_money(c_web)}",
                exact=both,
            )
        )
    web, web_before = opt(plan.metrics.web_revenue), opt(plan.metrics.web_revenue_before)
    if web is not None and web_before is not None:
        halo = float(opt(plan.metrics.added_online) or 0.0)
        cards.append(
            card(
                "Web shop revenue per year",
                fmt_money(web),
                f"before the new stores {fmt_money(web_before)}; they take {fmt_money(c_web)}"
                + (f", their halo adds {fmt_money(halo)}" if halo else ""),
                exact=web,
            )
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _rollout_headline(plan: Any) -> RolloutSummary | None:
    """Headline figures of the rollout (``plan.metrics.rollout``; built from the plan's
    schedule and forecast when the metrics lack it)."""
    r = plan.metrics.rollout
    if r is not None:
        return r
    fc, sched = getattr(plan, "forecast", None), getattr(plan, "schedule", None)
    if fc is not None and sched is not None:
        return rollout_summary(sched.years, sched, fc)
    return None


def _year_label(plan: Any, year: Any) -> str:
    """Label of rollout year ``year`` (calendar year when the forecast has one)."""
    if is_missing(year):
        return "-"
    fc = getattr(plan, "forecast", None)
    py = getattr(fc, "per_year", None)
    if isinstance(py, pd.DataFrame) and {"year", "label"} <= set(py.columns):
        hit = py.loc[py["year"] == int(year), "label"]
        if len(hit) and str(hit.iloc[0]) != str(int(year)):
            return f"{hit.iloc[0]} (year {int(year)})"
    return f"year {int(year)}"


def _verdict(plan: Any, h: RolloutSummary) -> str:
    """One sentence: were the sales targets met, and if not what would close the gap."""
    met = h.target_met
    if met is None or is_missing(met):
        return '<div class="verdict none">No sales target was set for this rollout.</div>'
    if bool(met):
        return '<div class="verdict met"><strong>Sales targets met</strong> in every rollout year.</div>'
    short = h.shortfall
    extra = h.extra_stores
    fc = getattr(plan, "forecast", None)
    py = getattr(fc, "per_year", None)
    years = ""
    if isinstance(py, pd.DataFrame) and "target_met" in py:
        miss = (
            py[py["in_rollout"].astype(bool) & py["target_met"].eq(False).fillna(False)]
            if "in_rollout" in py
            else py[py["target_met"].eq(False).fillna(False)]
        )
        if len(miss):
            years = " in " + ", ".join(_year_label(plan, y) for y in miss["year"])
    text = (
        f"<strong>Sales target missed</strong>{escape(years)}: shortfall up to "
        f"{escape(fmt_money(short))} a year."
    )
    if extra is not None and not is_missing(extra) and int(extra) > 0:
        text += (
            f" About <strong>{int(extra):,} more stores</strong> would close it "
            "(a lower estimate: it ignores their cannibalisation of each other)."
        )
    elif extra is not None and not is_missing(extra) and int(extra) < 0:
        text += " More stores alone cannot close it (new stores earn nothing in year one)."
    return f'<div class="verdict missed">{text}</div>'


def _rollout_cards(plan: Any, h: RolloutSummary) -> str:
    rate = h.discount_rate
    horizon = h.horizon
    detail = "all stores"
    if horizon is not None and not is_missing(horizon):
        detail += f", {int(horizon)}-year horizon"
    if rate is not None and not is_missing(rate):
        detail += f", discounted at {fmt_pct(rate)}"
    npv = h.npv
    npv_new = h.npv_new
    payback = h.payback_year
    cards = [
        card(
            "NPV",
            fmt_money(npv),
            detail,
            "bad" if npv is not None and not is_missing(npv) and float(npv) < 0 else "",
            exact=npv,
        ),
        card(
            "NPV added by the new stores", fmt_money(npv_new), "vs the existing stores alone", exact=npv_new
        ),
        card(
            "Payback of the new stores",
            "not within horizon" if payback is None or is_missing(payback) else _year_label(plan, payback),
            "first year from which their cumulative cash flow stays \u2265 0",
        ),
    ]
    fc = getattr(plan, "forecast", None)
    py = getattr(fc, "per_year", None)
    if isinstance(py, pd.DataFrame) and len(py) and "in_rollout" in py:
        ry = py[py["in_rollout"].astype(bool)]
        last = ry.iloc[-1]
        tg = last.get("target")
        cards.append(
            card(
                f"Sales in {_year_label(plan, last['year'])}",
                fmt_money(last["revenue"]),
                "no target" if is_missing(tg) else f"target {fmt_money(tg)}",
                ""
                if is_missing(tg)
                else ("good" if float(last["revenue"]) >= float(tg) * (1 - 1e-9) else "bad"),
                exact=last["revenue"],
            )
        )
        cards.append(
            card(
                "New stores opened",
                fmt_int(ry["stores_opened"].sum()),
                f"over {_years(len(ry))}; {fmt_int(last['stores_open'])} open at the end",
                exact=ry["stores_opened"].sum(),
            )
        )
        cards.append(
            card(
                "Opening capex",
                fmt_money(ry["capex"].sum()),
                "opening costs over the rollout years",
                exact=ry["capex"].sum(),
            )
        )
    else:
        final = h.final_revenue
        cards.append(card("Sales in the last rollout year", fmt_money(final), ""))
        opened = h.opened_per_year
        if isinstance(opened, list | tuple) and opened:
            cards.append(
                card(
                    "New stores opened",
                    fmt_int(sum(opened)),
                    "per year: " + ", ".join(f"{int(v):,}" for v in opened),
                )
            )
    return f'<div class="cards">{"".join(cards)}</div>'


def _rollout_table(plan: Any) -> str:
    """Year-by-year table of the forecast (rollout years, then the rest of the horizon)."""
    t = year_table(plan)
    if t.empty:
        return ""
    note = f"<p>{escape(t.note)}</p>" if t.note else ""
    return render_table(t, wide=True) + note


def _rollout_section(plan: Any, charts: dict[str, str], links: dict[str, str]) -> str:
    """The ROLLOUT section, or ``""`` when the plan has no rollout."""
    h = _rollout_headline(plan)
    if h is None:
        return ""
    parts = ['<section id="rollout">', "<h2>Rollout</h2>", _verdict(plan, h), _rollout_cards(plan, h)]
    table = _rollout_table(plan)
    if table:
        parts += ["<h3>Year by year</h3>", table]
    parts.append(_unopened(plan))
    parts.append(_figures(charts, _ROLLOUT_CHARTS))
    method = h.method
    gap = h.npv_gap
    bound = h.npv_bound
    bits = []
    if method:
        bits.append(f"Schedule: {escape(str(method))}")
    if bound is not None and not is_missing(bound) and gap is not None and not is_missing(gap):
        bits.append(f"upper bound on the NPV {escape(fmt_money(bound))} (gap {escape(fmt_pct(gap))})")
    fc = getattr(plan, "forecast", None)
    notes = [str(n) for n in (getattr(fc, "notes", None) or ())]
    if bits:
        parts.append(f'<p class="sub">{"; ".join(bits)}.</p>')
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    for href in links.values():
        parts.append(
            f'<p>The same charts and table, printable: <a href="'
            f'{escape(href, quote=True)}">{escape(href)}</a>.</p>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def _launch_section(plan: Any) -> str:
    """The LAUNCH STOCK section (``metrics["launch"]`` and ``plan.launch_stock``), or ``""``."""
    typed = plan.metrics.launch
    if typed is None:
        return ""
    h = typed.to_dict()  # the summary.json view (nested summaries as dicts)
    units = fmt_int(h["allocated_units"])
    cards = [
        card("Units sent", units, f"of {fmt_int(h['supply_units'])}; reserve {fmt_int(h['reserve_units'])}"),
        card(
            "Expected sell-through",
            fmt_pct(h["sell_through"]),
            f"{fmt_int(h['expected_sales_units'])} units sold, "
            f"{fmt_int(h['expected_leftover_units'])} left over",
        ),
        card(
            "Expected lost sales",
            fmt_int(h["expected_lost_sales_units"]),
            f"units; fill rate {fmt_pct(h['fill_rate'])} of {fmt_int(h['mean_demand_units'])} demanded",
        ),
        card(
            "Value of one more unit",
            fmt_money(h["supply_value_per_unit"]),
            "per unit (0: supply is ample)",
        ),
    ]
    parts = [
        '<section id="launch">',
        f"<h2>Launch stock: {escape(str(h['product']))}</h2>",
        f'<div class="cards">{"".join(cards)}</div>',
        f"<p>Units split by a newsvendor with a shared supply limit over "
        f"{fmt_num(h['protection_days'], 0)} days; unconstrained service level "
        f"{fmt_pct(h['critical_ratio'])}. Per store: launch_stock.csv.</p>",
    ]
    ls = getattr(plan, "launch_stock", None)
    if ls is not None:
        t = ls.table.sort_values("units", ascending=False, kind="stable").head(10)
        header = [
            ("Channel", False),
            ("Mean demand", True),
            ("Units", True),
            ("Sell-through", True),
            ("Lost sales", True),
        ]
        rows: list[list[Cell]] = [
            [
                str(r["id"]),
                (fmt_num(r["mean_demand"], 1), r["mean_demand"], ""),
                (fmt_int(r["units"]), r["units"], ""),
                (fmt_pct(r["sell_through"]), r["sell_through"], ""),
                (fmt_num(r["expected_lost_sales"], 1), r["expected_lost_sales"], ""),
            ]
            for _, r in t.iterrows()
        ]
        parts += [
            "<p>The ten channels with most units:</p>",
            html_table(header, rows, table_id="launch-stock"),
        ]
    parts.append("</section>")
    return "\n".join(parts)


def _response_section(plan: Any) -> str:
    """The RIVALS' RESPONSE section (``metrics["response"]``), or ``""``."""
    typed = plan.metrics.response
    if typed is None:
        return ""
    h = typed.to_dict()  # the summary.json view (nested summaries as dicts)
    lost = h["revenue_lost"]
    cards = [
        card(
            "Our offline revenue after the response",
            fmt_money(h["own_revenue_after"]),
            f"before {fmt_money(h['own_revenue_before'])}; lost {fmt_money(lost)} per year",
        ),
        card(
            "Offline market share after the response",
            fmt_pct(h["share_after"]),
            f"before {fmt_pct(h['share_before'])} ({100 * (h['share_after'] - h['share_before']):+.1f} pts)",
        ),
        card("Rival stores opened", fmt_int(h["rival_new_stores"]), f"after {h['rounds']} round(s)"),
    ]
    rb = h.get("robust")
    if isinstance(rb, dict):
        cards.append(
            card(
                "Robust plan",
                f"saves {fmt_money(rb['saving_with_response'])}",
                f"per year after the response; costs {fmt_money(rb['cost_without_response'])} per year "
                f"without one; {rb['sites_changed']} sites changed",
            )
        )
    header = [
        ("Brand", False),
        ("New stores", True),
        ("Revenue before", True),
        ("Revenue after", True),
        ("Gap", True),
    ]
    rows = [
        [
            str(b),
            (fmt_int(v["new_stores"]), v["new_stores"], ""),
            _money_cell(v["revenue_before"]),
            _money_cell(v["revenue_after"]),
            (fmt_pct(v["gap"], 2), v["gap"], ""),
        ]
        for b, v in h["brands"].items()
    ]
    return "\n".join(
        [
            '<section id="response">',
            "<h2>Rivals' response</h2>",
            f'<div class="cards">{"".join(cards)}</div>',
            "<p>Each rival brand opens its best new stores against this plan (its own Huff "
            "capture; gap = certified distance of its choice from its best). New rival stores: "
            "rival_response.csv.</p>",
            html_table(header, rows, table_id="rival-response"),
            "</section>",
        ]
    )


def _alternatives_section(plan: Any) -> str:
    """The ALTERNATIVE PLANS section (``plan.alternatives``), or ``""``."""
    alts = getattr(plan, "alternatives", None)
    typed = plan.metrics.alternatives
    if alts is None or typed is None:
        return ""
    h = typed.to_dict()
    t = alts.table
    extra = [c for c in ("mean_km", "coverage_share", "own_revenue", "market_share") if c in t.columns]
    names = {
        "mean_km": "Mean km",
        "coverage_share": "Coverage",
        "own_revenue": "Own revenue",
        "market_share": "Market share",
    }
    header = [
        ("Plan", False),
        ("Objective", True),
        ("From best", True),
        ("Certified gap", True),
        ("New stores", True),
        ("Least difference", True),
    ] + [(names[c], True) for c in extra]
    fmt = {"mean_km": fmt_km, "coverage_share": fmt_pct, "own_revenue": fmt_money, "market_share": fmt_pct}
    rows: list[list[Cell]] = []
    for _, r in t.iterrows():
        row: list[Cell] = [
            str(int(r["plan"])),
            (fmt_num(r["objective"], 1), r["objective"], ""),
            (fmt_pct(r["vs_best"], 2), r["vs_best"], ""),
            (fmt_pct(r["gap"], 2), r["gap"], ""),
            (fmt_int(r["n_new_stores"]), r["n_new_stores"], ""),
            (fmt_pct(r["min_difference"], 0), r["min_difference"], ""),
        ]
        row += [(fmt[c](r[c]), r[c], "") for c in extra]
        rows.append(row)
    note = (
        f"<p>{h['k_found']} of {h['k_requested']} plans asked for, each within "
        f"{fmt_pct(h['tolerance'])} of the best and differing from every other in at least "
        f"{fmt_pct(h['min_difference'], 0)} of its new sites. Robust core (in every plan): "
        f"{fmt_int(h['core_sites'])} sites. Gap: certified distance from the optimum of the "
        "unrestricted problem. Sites per plan: alternative_sites.csv.</p>"
    )
    if h.get("stopped"):
        note += f"<p>Stopped early: {escape(str(h['stopped']))}.</p>"
    return "\n".join(
        [
            '<section id="alternatives">',
            "<h2>Alternative plans</h2>",
            html_table(header, rows, table_id="alternatives"),
            note,
            "</section>",
        ]
    )


def _figures(charts: dict[str, str], spec: tuple[tuple[str, str, str], ...]) -> str:
    figs = []
    for key, alt, cap in spec:
        if key in charts:
            src = escape(charts[key], quote=True)
            figs.append(
                f'<figure><a href="{src}"><img src="{src}" '
                f'alt="{escape(alt, quote=True)}"></a><figcaption>{escape(cap)}'
                "</figcaption></figure>"
            )
    return f'<div class="charts">{"".join(figs)}</div>' if figs else ""


def _categories(plan: Any) -> str:
    """Revenue by product category (``revenue_<category>`` columns), new vs existing."""
    t = category_table(plan)
    return "" if t.empty else render_table(t)


def _share_levels(plan: Any) -> str:
    """Our share by city tier (area level: city / county / township), before and after."""
    t = share_table(plan, "level", top=None)
    if t.empty:
        return ""
    return (
        "<h3>Market share by city tier</h3><p>Offline market per area level (city, county, "
        "township): our share before and after the new stores.</p>" + render_table(t)
    )


def _share_regions(plan: Any, top: int = 12) -> str:
    t = share_table(plan, "region", top=top)
    if t.empty:
        return ""
    n = int(t.meta.get("n_groups", len(t)))
    more = f" ({len(t)} largest of {n})" if n > len(t) else ""
    return (
        f"<p>Offline market per region{escape(more)}: our share before and after "
        "the new stores.</p>" + render_table(t)
    )


def _calibration(plan: Any) -> str:
    cal = plan.metrics.calibration
    if cal is None:
        return ""
    good = not is_missing(cal.r2) and float(cal.r2) >= 0.6 and cal.applied
    fit = ", ".join(f"{k.replace('_', ' ')} {fmt_value(v)}" for k, v in cal.fitted.items())
    if not cal.applied:
        verdict = "Not applied: the plan uses the default market parameters. " + cal.message
    elif good:
        verdict = "The model reproduces the observed sales well."
    else:
        verdict = "The fit is weak: treat store revenues as rough estimates."
    if cal.applied and cal.forced:
        verdict += " " + cal.message
    oos = "" if is_missing(cal.cv_r2) else f" (out of sample {fmt_num(cal.cv_r2, 3)})"
    return (
        f'<div class="box{"" if good else " warn"}" id="calibration">'
        f"<strong>Market model calibrated</strong> on the sales of {fmt_int(cal.n_stores)} existing "
        f"stores: R\u00b2 {escape(fmt_num(cal.r2, 3))}{escape(oos)}, mean absolute error "
        f"{escape(fmt_pct(cal.mape))}. {escape(verdict.strip())}"
        + (f"<br>Fitted parameters: {escape(fit)}." if fit else "")
        + "</div>"
    )


def _revenue_section(plan: Any, charts: dict[str, str]) -> str:
    """Revenue by category, market share by region and the calibration box."""
    parts = []
    cal = _calibration(plan)
    if cal:
        parts.append(cal)
    cats = _categories(plan)
    if cats:
        parts += ["<h3>Revenue by product category</h3>", cats]
    regions = _share_regions(plan)
    if regions or "share_by_region" in charts:
        fig = _figures(
            charts,
            (
                (
                    "share_by_region",
                    "Market share by region",
                    "Our share of offline spending in the largest regional "
                    "markets, after vs before the plan.",
                ),
            ),
        )
        parts += [
            "<h3>Market share by region</h3>",
            f'<div class="two"><div>{fig}</div><div>{regions}</div></div>',
        ]
    levels = _share_levels(plan)
    if levels:
        parts.append(levels)
    if not parts:
        return ""
    return '<section id="revenue"><h2>Revenue and market share</h2>' + "\n".join(parts) + "</section>"


def _top_stores(plan: Any, top_n: int) -> str:
    if len(plan.stores) == 0:
        return "<p>The plan has no stores.</p>"
    t = top_stores_table(plan, top_n)
    return f"<p>{escape(t.note)}</p>" + render_table(t, wide=bool(t.meta.get("market")))


def _regions(plan: Any, top: int = 20) -> str:
    t = region_table(plan, top=top)
    return "<p>No stores.</p>" if t.empty else render_table(t)


def _unopened(plan: Any) -> str:
    """The planned stores the rollout leaves unopened and why, or ``""``."""
    t = unopened_table(plan)
    if t.empty:
        return ""
    counts = t.meta.get("counts", {})
    by = "; ".join(f"{REASON_TEXT[UnopenedReason(k)]}: {v:,}" for k, v in counts.items())
    table = render_table(t, wide=True)
    if len(t) > 12:  # a long list stays one click away; the counts above say what it holds
        table = f"<details><summary>Show the {len(t):,} stores</summary>{table}</details>"
    return (
        '<section id="unopened"><h3>Planned stores not opened</h3>'
        f"<p>By reason: {escape(by)}. {escape(t.note)}</p>{table}</section>"
    )


def _assumptions(plan: Any) -> str:
    parts = []
    formats = formats_table(plan)
    if not formats.empty:
        parts += ["<h3>Store formats</h3>", render_table(formats)]
    years = rollout_limits_table(plan)
    if not years.empty:
        parts += ["<h3>Rollout limits per year</h3>", render_table(years)]
    parts += ["<h3>Plan, rollout economics and market model</h3>", render_table(assumptions_table(plan))]
    return "\n".join(parts)


def notes_html(plan: Any) -> str:
    """The data notes of ``plan.notes`` as a list (synthetic layers highlighted)."""
    notes = [str(n) for n in (getattr(plan, "notes", None) or ())]
    if not notes:
        return "<p>No data notes were recorded with this plan.</p>"
    items = "".join(
        f'<li class="synthetic">{escape(n)}</li>' if "synthetic" in n.lower() else f"<li>{escape(n)}</li>"
        for n in notes
    )
    return f'<ul class="notes">{items}</ul>'


def _provenance(plan: Any) -> str:
    prov = dict(getattr(plan, "provenance", None) or {})
    versions = prov.pop("versions", None) or {}
    rows: list[list[Cell]] = [
        [str(k).replace("_", " "), fmt_value(prov[k])]
        for k in ("seed", "scenario_hash", "created")
        if k in prov
    ]
    rows += [
        [str(k).replace("_", " "), fmt_value(v)]
        for k, v in prov.items()
        if k not in ("seed", "scenario_hash", "created")
    ]
    out = html_table([("item", False), ("value", False)], rows) if rows else ""
    if versions:
        out += "<p>Software versions:</p>" + html_table(
            [("package", False), ("version", False)],
            [[str(k), fmt_value(v)] for k, v in sorted(versions.items(), key=lambda kv: str(kv[0]))],
        )
    return out or "<p>No provenance recorded.</p>"


def render_report(
    plan: Any,
    charts: dict[str, str] | None = None,
    map_href: str | None = "map.html",
    *,
    top_n: int = 20,
    files: dict[str, str] | None = None,
) -> str:
    """Return the report page as an HTML string.

    Parameters
    ----------
    plan : Plan
        A :class:`storeplan.plan.Plan` (or any object with the same attributes).
    charts : dict of str to str, optional
        Chart key -> relative image URL: ``coverage_curve``, ``distance``, ``regions``,
        ``share_by_region`` and the rollout charts ``rollout_stores``,
        ``rollout_revenue``, ``rollout_cash``, ``rollout_regions``.
    map_href : str, optional
        Relative URL of the interactive map; ``None`` omits the link.
    top_n : int, default 20
        Rows of the top-stores table.
    files : dict of str to str, optional
        Link text -> relative URL of other output files (``report.pdf``, ``plan.csv``, ...).

    Returns
    -------
    str
        A complete HTML document; all plan text is escaped. Sections for revenue,
        market share, calibration and the rollout appear only when the plan has them.
    """
    charts = charts or {}
    name = str(getattr(plan, "scenario_name", "") or "storeplan plan")
    kind = str(getattr(plan, "objective", "") or "")
    created = (getattr(plan, "provenance", None) or {}).get("created")
    sub = f"Objective: {OBJECTIVE_LABELS.get(kind, kind or '-')}"
    if created:
        sub += f" \u00b7 created {created}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(name)} \u2013 store network plan</title>",
        f"<style>{REPORT_CSS}</style></head><body><main>",
        f"<h1>Store network plan: {escape(name)}</h1>",
        f'<p class="sub">{escape(sub)}</p>',
    ]
    synth = synthetic_notes(getattr(plan, "notes", None))
    if synth:
        items = "".join(f"<div>{escape(s)}</div>" for s in synth)
        parts.append(
            '<div class="notice" role="note"><strong>Synthetic data layers: '
            "parts of this plan rest on made-up data, not observations.</strong>"
            f"{items}</div>"
        )
    parts += ["<h2>Headline</h2>", _summary(plan), _headline(plan)]
    if _has_market(plan):
        parts.append(_revenue_cards(plan))
        parts.append(
            '<p class="sub">Amounts in the scenario\'s currency (CNY for the bundled '
            "China data), per year unless stated; bn = billion, m = million. Market "
            "share: our stores' share of offline spending on the categories we sell."
            "</p>"
        )
    if map_href:
        parts.append(
            f'<p><a class="maplink" href="{escape(map_href, quote=True)}">'
            "Open the interactive map \u2192</a> "
            "stores, catchments, demand areas and rivals (works offline).</p>"
        )
    files = dict(files or {})
    if files:
        items = "".join(
            f'<a href="{escape(href, quote=True)}">{escape(label)}</a>' for label, href in files.items()
        )
        parts.append(f'<p class="downloads">Files: {items}</p>')
    rollout_links = {k: v for k, v in files.items() if k.startswith("report.pdf")}
    parts.append(_rollout_section(plan, charts, rollout_links))
    parts.append(_revenue_section(plan, charts))
    parts.append(_alternatives_section(plan))
    parts.append(_response_section(plan))
    parts.append(_launch_section(plan))
    parts += ["<h2>Top stores</h2>", _top_stores(plan, top_n)]
    captions = (
        (
            "coverage_curve",
            "Coverage as the network grows",
            "Share of the population covered and mean distance to the nearest store for "
            "networks of increasing size.",
        ),
        (
            "distance",
            "Distance to the assigned store",
            "Population-weighted histogram of the distance from each demand area to its store.",
        ),
        ("regions", "Stores per region", "New and existing stores in the regions with most stores."),
    )
    figs = _figures(charts, captions)
    if figs:
        parts += ["<h2>Network charts</h2>", figs]
    parts += [
        "<h2>Stores per region</h2>",
        _regions(plan),
        "<h2>Assumptions</h2>",
        "<p>What the plan takes as given: costs and capacities of the formats, the rollout's caps, "
        "budgets and economics, the market model's parameters and the synthetic data layers.</p>",
        _assumptions(plan),
        "<h2>Data sources and attribution</h2>",
        notes_html(plan),
        "<h2>Provenance</h2>",
        _provenance(plan),
        "<footer>Generated by storeplan. Numbers are model outputs for planning, not "
        "forecasts of actual sales.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


#: Output files of ``Plan.save`` linked from the report when present: file -> link text.
_LINKED_FILES = (
    ("report.pdf", "report.pdf (rollout chart pack)"),
    ("plan.csv", "plan.csv (stores)"),
    ("forecast_years.csv", "forecast_years.csv"),
    ("rollout.csv", "rollout.csv (opening year per store)"),
    ("launch_stock.csv", "launch_stock.csv (launch units per store)"),
    ("rival_response.csv", "rival_response.csv (rivals' new stores)"),
    ("alternatives.csv", "alternatives.csv (alternative plans)"),
    ("alternatives.html", "alternatives.html (map of where the alternative plans differ)"),
    ("summary.json", "summary.json"),
)


def write_rollout_pngs(plan: Any, charts_dir: str | Path) -> dict[str, Path]:
    """Write the rollout charts of ``plan.forecast`` as PNG (empty dict without one).

    Parameters
    ----------
    plan : Plan
        Uses ``plan.forecast`` (a :class:`storeplan.forecast.Forecast`).
    charts_dir : str or Path
        Folder of the PNGs (``out/charts``).

    Returns
    -------
    dict of str to Path
        From :func:`storeplan.report.pdf.write_rollout_charts`, keyed by file stem
        (``rollout_stores``, ``rollout_revenue``, ``rollout_cash``, ``rollout_regions``);
        empty without a forecast, or when the forecast lacks what the charts need (a
        warning is logged and the report goes on without them).
    """
    fc = getattr(plan, "forecast", None)
    if fc is None or not isinstance(getattr(fc, "per_year", None), pd.DataFrame):
        return {}
    from .pdf import write_rollout_charts

    try:
        written = write_rollout_charts(fc, charts_dir)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        log.warning("rollout charts skipped: %s: %s", type(exc).__name__, exc)
        return {}
    return {Path(name).stem: Path(p) for name, p in written.items()}


def write_report(
    plan: Any,
    out_dir: str | Path,
    *,
    map: bool = True,  # noqa: A002 - mirrors the file name
    top_n: int = 20,
) -> dict[str, Path]:
    """Write ``report.html``, ``charts/*.png`` and ``map.html`` for a plan.

    Every file is written atomically, and ``report.html`` last, so an error (for
    example in a chart) never leaves a partial file or a report pointing at
    missing charts.

    Parameters
    ----------
    plan : Plan
        A :class:`storeplan.plan.Plan` (or any object with the same attributes).
    out_dir : str or Path
        Output folder (created if needed). ``report.pdf``, ``plan.csv`` and the other
        files of ``Plan.save`` already in it are linked from the report.
    map : bool, default True
        Also write the interactive ``map.html``.
    top_n : int, default 20
        Rows of the top-stores table.

    Returns
    -------
    dict of str to Path
        ``report``, ``map`` (if written), ``coverage_curve``, ``distance``, ``regions``;
        ``share_by_region`` with market shares per area; ``rollout_stores``,
        ``rollout_revenue``, ``rollout_cash`` (+ ``rollout_regions``) with a forecast.
    """
    from .charts import write_charts
    from .maps import write_map

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = dict(write_charts(plan, out / "charts"))
    paths.update(write_rollout_pngs(plan, out / "charts"))
    if map:
        paths["map"] = write_map(plan, out / "map.html")
    rel = {k: f"charts/{p.name}" for k, p in paths.items() if k != "map"}
    files = {label: name for name, label in _LINKED_FILES if (out / name).is_file()}
    page = render_report(plan, rel, "map.html" if map else None, top_n=top_n, files=files)
    paths["report"] = write_text(out / "report.html", page)
    return {"report": paths.pop("report"), **paths}
