"""``alternatives.html``: where the alternative plans differ, next to their comparison table.

The page is the plan's own map (:func:`storeplan.report.maps.build_map`: demand areas,
stores, rivals, Leaflet inlined so it renders offline) with the alternative plans drawn
on top: one layer for the *robust core* (the new sites in every plan) and one layer per
plan with its sites that are not in every plan, each site's popup naming the plans that
hold it. The markers are rings around the plan's own store markers (one ring per plan
holding a site, larger for earlier plans). A fixed panel shows the comparison table of
``alternatives.csv`` (objective, distance from the best, certified gap, sites that
differ). Everything is read from ``plan.alternatives`` (``sites`` and ``table``), so a
loaded plan renders the same page.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import write_text
from ._common import fmt_num, fmt_pct, require
from .maps import build_map, stable_element_ids

__all__ = ["build_alternatives_map", "write_alternatives_map", "PLAN_COLORS", "CORE_COLOR"]

#: Colour of the robust core's sites.
CORE_COLOR = "#1b7837"
#: Colours of each plan's own sites (plan 1, 2, ...; repeats after the last).
PLAN_COLORS = ("#e08214", "#7b3294", "#d6604d", "#01665e", "#c51b7d", "#8c510a", "#4d4d4d")

_PANEL_CSS = """
.sp-alt-panel{position:absolute;z-index:1000;bottom:18px;right:10px;max-width:46%;
max-height:45%;overflow:auto;background:rgba(255,255,255,.94);padding:6px 9px;
border-radius:5px;box-shadow:0 1px 5px rgba(0,0,0,.4);font:12px/1.35 system-ui,sans-serif}
.sp-alt-panel table{border-collapse:collapse}
.sp-alt-panel th,.sp-alt-panel td{padding:1px 6px;text-align:right;white-space:nowrap}
.sp-alt-panel th:first-child,.sp-alt-panel td:first-child{text-align:left}
.sp-alt-panel .sw{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}
"""


def _plan_color(i: int) -> str:
    return PLAN_COLORS[i % len(PLAN_COLORS)]


def _panel(alts: Any) -> str:
    """The comparison table and the colour key, as escaped HTML."""
    t: pd.DataFrame = alts.table
    sites: pd.DataFrame = alts.sites
    core = int(sites["core"].sum()) if "core" in sites else 0
    rows = []
    for i, r in enumerate(t.itertuples(index=False)):
        plan = int(r.plan)
        col = f"in_plan_{plan}"
        own = int((sites[col] & ~sites["core"]).sum()) if col in sites else 0
        rows.append(
            "<tr>"
            f'<td><span class="sw" style="background:{_plan_color(i)}"></span>Plan {plan}</td>'
            f"<td>{html.escape(fmt_num(r.objective, 1))}</td>"
            f"<td>{html.escape(fmt_pct(r.vs_best, 2))}</td>"
            f"<td>{html.escape(fmt_pct(r.gap, 2))}</td>"
            f"<td>{int(r.n_new_stores)}</td>"
            f"<td>{own}</td>"
            "</tr>"
        )
    return (
        '<div class="sp-alt-panel" id="alternatives-panel">'
        f"<b>Alternative plans ({len(t)})</b><br>"
        f'<span class="sw" style="background:{CORE_COLOR}"></span>robust core: {core} '
        f"site{'' if core == 1 else 's'} in every plan"
        "<table><thead><tr><th>Plan</th><th>Objective</th><th>From best</th>"
        "<th>Certified gap</th><th>New stores</th><th>Not in core</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<div>Layers: the core, and each plan's sites outside it (popup: the plans holding "
        "the site). Table: alternatives.csv; sites: alternative_sites.csv.</div></div>"
    )


def build_alternatives_map(plan: Any, *, tiles: bool = True) -> Any:
    """The folium page of ``alternatives.html`` (see the module docstring).

    Parameters
    ----------
    plan : Plan
        A plan with ``plan.alternatives`` (:class:`storeplan.alternatives.Alternatives`).
    tiles : bool, default True
        Add the online OpenStreetMap background layer.

    Returns
    -------
    branca.element.Figure

    Raises
    ------
    ValueError
        The plan has no alternatives.
    """
    folium = require("folium")
    from branca.element import Element

    alts = getattr(plan, "alternatives", None)
    if alts is None:
        raise ValueError("the plan has no alternative plans (scenario [alternatives] k)")
    fig = build_map(plan, tiles=tiles, show_catchments=False)
    m = next(c for c in fig._children.values() if isinstance(c, folium.Map))
    control = next(c for c in m._children.values() if isinstance(c, folium.LayerControl))
    del m._children[control.get_name()]  # re-added last, so it lists the new layers
    sites: pd.DataFrame = alts.sites
    plans = [int(p) for p in alts.table["plan"]]
    in_plan = {p: sites[f"in_plan_{p}"].to_numpy(bool) for p in plans if f"in_plan_{p}" in sites}
    core = sites["core"].to_numpy(bool)

    def marker(k: int, color: str, radius: float) -> Any:
        holders = [p for p, mask in in_plan.items() if mask[k]]
        sid = html.escape(str(sites["id"].iloc[k]))
        where = "every plan (robust core)" if core[k] else "plans " + ", ".join(map(str, holders))
        return folium.CircleMarker(
            location=[float(sites["lat"].iloc[k]), float(sites["lon"].iloc[k])],
            radius=radius,
            color="#000000",
            weight=1,
            fill=True,
            fill_color=color,
            fill_opacity=0.9,
            tooltip=f"{sid}: in {html.escape(where)}",
        )

    fg = folium.FeatureGroup(name=html.escape(f"Robust core: in every plan ({int(core.sum())})"), show=True)
    for k in map(int, core.nonzero()[0]):
        marker(k, CORE_COLOR, 12.0).add_to(fg)
    fg.add_to(m)
    for i, (p, mask) in enumerate(in_plan.items()):
        only = mask & ~core
        fg = folium.FeatureGroup(name=html.escape(f"Plan {p}: sites not in every plan ({int(only.sum())})"))
        for k in map(int, only.nonzero()[0]):
            marker(k, _plan_color(i), 12.0 - 1.5 * min(i, 4)).add_to(fg)
        fg.add_to(m)
    control.add_to(m)
    fig.header.add_child(Element(f"<style>{_PANEL_CSS}</style>"), name="storeplan_alt_css")
    m.get_root().html.add_child(Element(_panel(alts)))
    return fig


def write_alternatives_map(plan: Any, path: str | Path, **kwargs: Any) -> Path:
    """Write ``alternatives.html`` (atomically; the same plan gives the same bytes)."""
    fig = build_alternatives_map(plan, **kwargs)
    return write_text(path, stable_element_ids(fig.render()))
