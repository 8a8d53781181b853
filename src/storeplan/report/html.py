"""The one-page HTML report of a plan (``report.html`` + ``charts/*.png`` + ``map.html``)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from .._io import write_text
from ._common import (
    fmt_int,
    fmt_km,
    fmt_num,
    fmt_pct,
    fmt_seconds,
    fmt_value,
    is_missing,
    metric,
    synthetic_notes,
)

__all__ = ["write_report", "render_report"]

_OBJECTIVE_LABELS = {
    "pmedian": "minimise population-weighted distance (p-median)",
    "coverage": "maximise population within the radius (maximal coverage)",
    "fixed_cost": "minimise opening + travel cost (facility location)",
    "revenue": "maximise captured revenue (Huff market share)",
}

# Metrics shown in the headline cards; every other key is listed under "Assumptions".
_HEADLINE_KEYS = {
    "objective", "bound", "gap", "proven_optimal", "seconds", "n_stores",
    "covered_population", "coverage_share", "mean_km", "median_km", "total_population",
}

_CSS = """
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
.charts img { max-width: 100%; height: auto; border: 1px solid var(--line);
              border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 6px 0 8px; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: #f5f7fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
@media (max-width: 760px) { .two { grid-template-columns: 1fr; } }
ul.notes li { margin: 3px 0; }
li.synthetic { color: var(--warn); font-weight: 600; }
code { font-size: 13px; background: #f5f7fa; padding: 1px 4px; border-radius: 3px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; }
@media print { body { background: #fff; } main { padding: 0; } .maplink { color: #000; } }
"""


def _card(label: str, value: str, detail: str = "") -> str:
    d = f'<div class="detail">{escape(detail)}</div>' if detail else ""
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>{d}</div>')


def _table(header: list[tuple[str, bool]], rows: list[list[str]]) -> str:
    """An HTML table; ``header`` is (title, numeric) pairs; cell text is escaped here."""
    head = "".join(f'<th class="num">{escape(h)}</th>' if num else f"<th>{escape(h)}</th>"
                   for h, num in header)
    body = []
    for r in rows:
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if num else f"<td>{escape(c)}</td>"
            for c, (_, num) in zip(r, header, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _headline(plan: Any) -> str:
    stores = plan.stores
    n = int(metric(plan, "n_stores", len(stores)))
    status = stores["status"].astype(str).str.lower() if "status" in stores else None
    n_new = int((status == "new").sum()) if status is not None else n
    n_old = int((status == "existing").sum()) if status is not None else 0
    covered = metric(plan, "covered_population")
    total = metric(plan, "total_population")
    share = metric(plan, "coverage_share")
    if share is None and covered is not None and total:
        share = float(covered) / float(total)
    kind = str(getattr(plan, "objective", "") or metric(plan, "kind", "") or "")
    gap = metric(plan, "gap")
    proven = metric(plan, "proven_optimal")
    if proven:
        gap_detail = "proven optimal"
    elif gap is not None:
        gap_detail = f"gap {fmt_pct(gap, 2)} (not proven optimal)"
    else:
        gap_detail = "no bound reported"
    radius = metric(plan, "radius_km")
    cards = [
        _card("Stores", fmt_int(n), f"{n_new:,} new, {n_old:,} existing"),
        _card("Population covered", fmt_pct(share) if share is not None else fmt_int(covered),
              f"{fmt_int(covered)} of {fmt_int(total)} people"
              + (f" within {fmt_km(radius)}" if radius else "")),
        _card("Mean distance to store", fmt_km(metric(plan, "mean_km")),
              f"median {fmt_km(metric(plan, 'median_km'))}, population-weighted"),
        _card("Objective", fmt_num(metric(plan, "objective")), kind or "-"),
        _card("Bound and gap", fmt_num(metric(plan, "bound")), gap_detail),
        _card("Run time", fmt_seconds(metric(plan, "seconds")),
              str(metric(plan, "method", "") or "")),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _top_stores(plan: Any, top_n: int) -> str:
    stores = plan.stores
    if len(stores) == 0:
        return "<p>The plan has no stores.</p>"
    key = next((c for c in ("revenue", "demand_captured", "covered_population") if c in stores),
               None)
    df = stores.sort_values(key, ascending=False, kind="stable") if key else stores
    df = df.head(top_n)
    cols: list[tuple[str, str, bool]] = [("id", "store", False)]
    cols += [(c, c, False) for c in ("status", "format", "region") if c in df]
    cols += [(c, lbl, True) for c, lbl in (
        ("covered_population", "covered population"), ("demand_captured", "demand captured"),
        ("revenue", "revenue"), ("share", "share"), ("n_areas", "areas"),
    ) if c in df]
    rows = []
    for rank, (_, r) in enumerate(df.iterrows(), start=1):
        row = [str(rank)]
        for c, _, num in cols:
            v = r[c]
            if not num:
                row.append("-" if is_missing(v) else str(v))
            elif c in ("covered_population", "n_areas"):
                row.append(fmt_int(v))
            elif c == "share":
                row.append(fmt_pct(v))
            else:
                row.append(fmt_num(v))
        rows.append(row)
    header = [("#", True)] + [(lbl, num) for _, lbl, num in cols]
    ranked = f"ranked by {key.replace('_', ' ')}" if key else "in plan order"
    more = f" of {len(stores):,}" if len(stores) > top_n else ""
    return (f"<p>Top {len(df):,}{more} stores, {escape(ranked)}. "
            "Every store is on the map.</p>" + _table(header, rows))


def _regions(plan: Any, top: int = 20) -> str:
    from .charts import stores_per_region

    t = stores_per_region(plan, top=top)
    if t.empty:
        return "<p>No stores.</p>"
    cov = None
    if "covered_population" in plan.stores and "region" in plan.stores:
        cov = plan.stores.groupby(plan.stores["region"].astype(object).fillna("(no region)"),
                                  sort=False)["covered_population"].sum()
    rows = []
    for region, r in t.iterrows():
        c = cov.get(region) if cov is not None else None
        rows.append([str(region), fmt_int(r["new"]), fmt_int(r["existing"]),
                     fmt_int(r["total"]), fmt_int(c)])
    return _table([("region", False), ("new", True), ("existing", True), ("total", True),
                   ("covered population", True)], rows)


def _assumptions(plan: Any) -> str:
    metrics = dict(getattr(plan, "metrics", None) or {})
    kind = str(getattr(plan, "objective", "") or "")
    rows = [["scenario", str(getattr(plan, "scenario_name", "") or "-")],
            ["objective", _OBJECTIVE_LABELS.get(kind, kind or "-")]]
    radius = metric(plan, "radius_km")
    if radius is not None:
        rows.append(["coverage radius", fmt_km(radius)])
    rows.append(["demand areas", f"{len(plan.areas):,}"])
    if "level" in plan.areas and len(plan.areas):
        levels = plan.areas["level"].astype(object).fillna("-").value_counts()
        rows.append(["area levels", ", ".join(f"{k}: {v:,}" for k, v in levels.items())])
    if "population_source" in plan.areas and len(plan.areas):
        src = plan.areas["population_source"].astype(object).fillna("-").value_counts()
        rows.append(["population source", ", ".join(f"{k}: {v:,} areas" for k, v in src.items())])
    rivals = getattr(plan, "rivals", None)
    n_riv = 0 if rivals is None else len(rivals)
    brands = rivals["brand"].nunique() if n_riv and "brand" in rivals else 0
    rows.append(["rival stores", f"{n_riv:,}" + (f" ({brands} brands)" if brands else "")])
    asg = getattr(plan, "assignment", None)
    if asg is not None and len(asg):
        unserved = int(asg["store_id"].isna().sum())
        rows.append(["areas without a store", f"{unserved:,} of {len(asg):,}"])
        if "covered" in asg:
            covered = int(asg["covered"].fillna(False).astype(bool).sum())
            rows.append(["areas covered", f"{covered:,} of {len(asg):,}"
                         + (f" (within {fmt_km(radius)})" if radius is not None else "")])
    for k in sorted(metrics, key=str):
        if k in _HEADLINE_KEYS or k == "radius_km":
            continue
        rows.append([str(k).replace("_", " "), fmt_value(metrics[k])])
    return _table([("setting", False), ("value", False)], rows)


def _notes(plan: Any) -> str:
    notes = [str(n) for n in (getattr(plan, "notes", None) or ())]
    if not notes:
        return "<p>No data notes were recorded with this plan.</p>"
    items = "".join(
        f'<li class="synthetic">{escape(n)}</li>' if "synthetic" in n.lower()
        else f"<li>{escape(n)}</li>"
        for n in notes
    )
    return f'<ul class="notes">{items}</ul>'


def _provenance(plan: Any) -> str:
    prov = dict(getattr(plan, "provenance", None) or {})
    versions = prov.pop("versions", None) or {}
    rows = [[str(k).replace("_", " "), fmt_value(prov[k])]
            for k in ("seed", "scenario_hash", "created") if k in prov]
    rows += [[str(k).replace("_", " "), fmt_value(v)] for k, v in prov.items()
             if k not in ("seed", "scenario_hash", "created")]
    out = _table([("item", False), ("value", False)], rows) if rows else ""
    if versions:
        out += "<p>Software versions:</p>" + _table(
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
) -> str:
    """Return the report page as an HTML string.

    Parameters
    ----------
    plan : Plan
        A :class:`storeplan.plan.Plan` (or any object with the same attributes).
    charts : dict of str to str, optional
        ``coverage_curve``, ``distance``, ``regions`` -> relative image URLs.
    map_href : str, optional
        Relative URL of the interactive map; ``None`` omits the link.
    top_n : int, default 20
        Rows of the top-stores table.

    Returns
    -------
    str
        A complete HTML document; all plan text is escaped.
    """
    charts = charts or {}
    name = str(getattr(plan, "scenario_name", "") or "storeplan plan")
    kind = str(getattr(plan, "objective", "") or "")
    created = (getattr(plan, "provenance", None) or {}).get("created")
    sub = f"Objective: {_OBJECTIVE_LABELS.get(kind, kind or '-')}"
    if created:
        sub += f" \u00b7 created {created}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(name)} \u2013 store network plan</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Store network plan: {escape(name)}</h1>",
        f'<p class="sub">{escape(sub)}</p>',
    ]
    synth = synthetic_notes(getattr(plan, "notes", None))
    if synth:
        items = "".join(f"<div>{escape(s)}</div>" for s in synth)
        parts.append('<div class="notice" role="note"><strong>Synthetic data layers: '
                     "parts of this plan rest on made-up data, not observations.</strong>"
                     f"{items}</div>")
    parts += ["<h2>Headline</h2>", _headline(plan)]
    if map_href:
        parts.append(f'<p><a class="maplink" href="{escape(map_href, quote=True)}">'
                     "Open the interactive map \u2192</a> "
                     "stores, catchments, demand areas and rivals (works offline).</p>")
    captions = {
        "coverage_curve": ("Coverage as the network grows",
                           "Share of the population covered and mean distance to the "
                           "nearest store for networks of increasing size."),
        "distance": ("Distance to the assigned store",
                     "Population-weighted histogram of the distance from each demand area "
                     "to its store."),
        "regions": ("Stores per region", "New and existing stores in the regions with most "
                                         "stores."),
    }
    figs = []
    for key, (alt, cap) in captions.items():
        if key in charts:
            src = escape(charts[key], quote=True)
            figs.append(f'<figure><a href="{src}"><img src="{src}" '
                        f'alt="{escape(alt, quote=True)}"></a><figcaption>{escape(cap)}'
                        "</figcaption></figure>")
    if figs:
        parts += ["<h2>Charts</h2>", f'<div class="charts">{"".join(figs)}</div>']
    parts += [
        "<h2>Top stores</h2>", _top_stores(plan, top_n),
        "<h2>Stores per region</h2>", _regions(plan),
        "<h2>Assumptions and settings</h2>", _assumptions(plan),
        "<h2>Data sources and attribution</h2>", _notes(plan),
        "<h2>Provenance</h2>", _provenance(plan),
        "<footer>Generated by storeplan. Numbers are model outputs for planning, not "
        "forecasts of actual sales.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


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
        Output folder (created if needed).
    map : bool, default True
        Also write the interactive ``map.html``.
    top_n : int, default 20
        Rows of the top-stores table.

    Returns
    -------
    dict of str to Path
        ``report``, ``map`` (if written), ``coverage_curve``, ``distance``, ``regions``.
    """
    from .charts import write_charts
    from .maps import write_map

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = dict(write_charts(plan, out / "charts"))
    if map:
        paths["map"] = write_map(plan, out / "map.html")
    rel = {k: f"charts/{p.name}" for k, p in paths.items() if k != "map"}
    page = render_report(plan, rel, "map.html" if map else None, top_n=top_n)
    paths["report"] = write_text(out / "report.html", page)
    return {"report": paths.pop("report"), **paths}

