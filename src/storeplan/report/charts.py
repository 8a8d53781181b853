"""Static PNG charts of a plan (matplotlib, Agg backend), each written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_path
from ._common import opt, require, served_areas, share_by_region
from .tables import stores_per_region

__all__ = [
    "coverage_curve_chart",
    "distance_chart",
    "region_chart",
    "share_region_chart",
    "stores_per_region",
    "write_charts",
    "new_figure",
    "save_png",
    "style_axes",
    "no_data",
]

_BLUE = "#2166ac"
_PURPLE = "#762a83"
_ORANGE = "#e08214"
_GREY = "#9e9e9e"
_LIGHT = "#92c5de"


def new_figure(width: float, height: float) -> tuple[Any, Any]:
    """A new figure on the Agg canvas and its axes.

    The figure is created without ``pyplot``, so writing charts never changes the
    caller's matplotlib backend or leaks open figures.
    """
    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def save_png(fig: Any, path: str | Path, dpi: int) -> Path:
    """Save a figure atomically as PNG: ``path`` is either complete or untouched."""
    with atomic_path(path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return Path(path)


def no_data(ax: Any, text: str) -> None:
    """Write ``text`` in the middle of an empty chart and drop its ticks."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=12, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def style_axes(ax: Any) -> None:
    """The house style of a chart: no top/right spines, light horizontal grid."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def coverage_curve_chart(plan: Any, path: str | Path, *, dpi: int = 110) -> Path:
    """Plot the share of population covered (and mean distance) against the number of stores.

    Parameters
    ----------
    plan : Plan
        Uses ``plan.coverage_curve`` (``n_stores, covered_share, mean_km``) and
        ``plan.stores`` (the chosen number of stores is marked).
    path : str or Path
        Output PNG, written atomically.
    dpi : int, default 110
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    fig, ax = new_figure(7.0, 4.2)
    curve = getattr(plan, "coverage_curve", None)
    if curve is None or len(curve) == 0 or "n_stores" not in curve:
        no_data(ax, "no coverage curve in this plan")
        return save_png(fig, path, dpi)
    curve = curve.sort_values("n_stores")
    x = pd.to_numeric(curve["n_stores"], errors="coerce").to_numpy(float)
    if "covered_share" in curve:
        share = pd.to_numeric(curve["covered_share"], errors="coerce").to_numpy(float)
    else:
        total = opt(plan.metrics.total_population) or np.nan
        share = pd.to_numeric(curve["covered_population"], errors="coerce").to_numpy(float) / total
    style_axes(ax)
    ax.plot(x, 100 * share, color=_BLUE, marker="o", markersize=3.5, linewidth=2, label="population covered")
    ax.set_xlabel("number of stores")
    radius = opt(plan.metrics.radius_km)
    ax.set_ylabel(
        f"population within {float(radius):,.0f} km (%)" if radius else "population covered (%)", color=_BLUE
    )
    ax.set_ylim(0, 100)
    ax.tick_params(axis="y", colors=_BLUE)
    handles = ax.get_lines()[:]
    if "mean_km" in curve and pd.to_numeric(curve["mean_km"], errors="coerce").notna().any():
        ax2 = ax.twinx()
        ax2.plot(
            x,
            pd.to_numeric(curve["mean_km"], errors="coerce"),
            color=_ORANGE,
            linestyle="--",
            linewidth=1.8,
            label="mean distance (km)",
        )
        ax2.set_ylabel("mean distance to store (km)", color=_ORANGE)
        ax2.tick_params(axis="y", colors=_ORANGE)
        ax2.set_ylim(bottom=0)
        ax2.spines[["top"]].set_visible(False)
        handles += ax2.get_lines()
    n = len(getattr(plan, "stores", ()))
    if n:
        ax.axvline(n, color=_GREY, linestyle=":", linewidth=1.2)
        ax.annotate(
            f"plan: {n:,} stores",
            xy=(n, 97),
            xytext=(-4, 0),
            ha="right",
            va="top",
            textcoords="offset points",
            fontsize=9,
            color="#555555",
        )
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=2,
        frameon=False,
        fontsize=9,
        borderaxespad=0.2,
    )
    ax.set_title("Coverage as the network grows", loc="left", fontsize=12, pad=24)
    return save_png(fig, path, dpi)


def distance_chart(plan: Any, path: str | Path, *, bins: int = 40, dpi: int = 110) -> Path:
    """Population-weighted histogram of the distance from each area to its store.

    Parameters
    ----------
    plan : Plan
        Uses ``plan.assignment`` (``area_id, store_id, km``) and ``plan.areas``
        (``population``). Unserved areas are counted in the title, not in the bars.
    path : str or Path
        Output PNG, written atomically.
    bins : int, default 40
        Number of histogram bins.
    dpi : int, default 110
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    fig, ax = new_figure(7.0, 4.2)
    areas = served_areas(plan)
    km = areas["km"].to_numpy(float)
    pop = areas["population"].to_numpy(float)
    served = np.isfinite(km) & np.array([s is not None for s in areas["store_id"]], bool)
    total = float(pop.sum())
    unserved = float(pop[~served].sum())
    if not served.any() or pop[served].sum() <= 0:
        no_data(ax, "no served population")
        return save_png(fig, path, dpi)
    style_axes(ax)
    k, w = km[served], pop[served]
    # Clip the long tail into the last bar so the bulk of the distribution stays readable.
    hi = float(k.max())
    if len(k) > 20:
        order = np.argsort(k)
        cum = np.cumsum(w[order]) / w.sum()
        hi = float(k[order][min(np.searchsorted(cum, 0.99), len(k) - 1)])
    hi = max(hi, 1e-6)
    clipped = bool((k > hi).any())
    ax.hist(
        np.clip(k, 0, hi),
        bins=bins,
        range=(0, hi),
        weights=w / 1e6,
        color=_BLUE,
        alpha=0.85,
        edgecolor="white",
        linewidth=0.4,
    )
    ax.set_xlabel(
        "distance to assigned store (km)"
        + (f"; last bar includes all \u2265 {hi:,.0f} km" if clipped else "")
    )
    ax.set_ylabel("population (millions)")
    mean = float(np.average(k, weights=w))
    ax.axvline(mean, color=_ORANGE, linewidth=1.6, label=f"mean {mean:,.1f} km")
    radius = opt(plan.metrics.radius_km)
    if radius is not None and 0 < float(radius) <= hi * 1.5:
        ax.axvline(
            float(radius),
            color="#b2182b",
            linestyle="--",
            linewidth=1.4,
            label=f"coverage radius {float(radius):,.0f} km",
        )
    # legend above the plot area, so it never covers a bar
    ax.legend(
        frameon=False, fontsize=9, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, borderaxespad=0.2
    )
    title = "Distance from customers to their store"
    if unserved > 0 and total > 0:
        title += f"\n{100 * unserved / total:.1f}% of population not served (not shown)"
    ax.set_title(title, loc="left", fontsize=12, pad=24)
    return save_png(fig, path, dpi)


def region_chart(plan: Any, path: str | Path, *, top: int = 15, dpi: int = 110) -> Path:
    """Horizontal bar chart of stores per region (top regions), split new / existing.

    Parameters
    ----------
    plan : Plan
        Uses ``plan.stores`` (``region``, ``status``).
    path : str or Path
        Output PNG, written atomically.
    top : int, default 15
        Regions shown; the rest are summed into one "other regions" bar.
    dpi : int, default 110
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    table = stores_per_region(plan, top=top)
    fig, ax = new_figure(7.0, 1.2 + 0.32 * max(len(table), 3))
    if table.empty:
        no_data(ax, "no stores in this plan")
        return save_png(fig, path, dpi)
    style_axes(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    t = table.iloc[::-1]
    y = np.arange(len(t))
    ax.barh(y, t["new"], color=_BLUE, label="new")
    if int(t["existing"].sum()) > 0:  # never a legend entry for a series that is absent
        ax.barh(y, t["existing"], left=t["new"], color=_PURPLE, label="existing")
    for yi, total in zip(y, t["total"], strict=True):
        ax.text(total, yi, f" {int(total):,}", va="center", fontsize=8.5, color="#333333")
    ax.set_yticks(y, [str(r) for r in t.index])
    ax.set_xlabel("stores")
    ax.set_xlim(0, float(t["total"].max()) * 1.12)
    ax.legend(frameon=False, fontsize=9, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2)
    ax.set_title("Stores per region", loc="left", fontsize=12)
    return save_png(fig, path, dpi)


def share_region_chart(plan: Any, path: str | Path, *, top: int = 15, dpi: int = 110) -> Path:
    """Our offline market share per region, after vs before the plan's new stores.

    Parameters
    ----------
    plan : Plan
        Uses ``plan.assignment`` (``area_id, market, share_before, share_after``) and
        ``plan.areas`` (``id, region``), see :func:`storeplan.report._common.share_by_region`.
    path : str or Path
        Output PNG, written atomically.
    top : int, default 15
        The regions with the largest offline market are shown, ordered by share after.
    dpi : int, default 110
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    table = share_by_region(plan).head(top)
    fig, ax = new_figure(7.0, 1.3 + 0.36 * max(len(table), 3))
    if table.empty:
        no_data(ax, "no market shares in this plan")
        return save_png(fig, path, dpi)
    style_axes(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    t = table.sort_values("share_after", kind="stable")
    y = np.arange(len(t))
    h = 0.38
    after = 100 * t["share_after"].to_numpy(float)
    before = 100 * t["share_before"].to_numpy(float)
    ax.barh(y + h / 2, after, height=h, color=_BLUE, label="after the plan")
    if before.max(initial=0.0) > 0:  # no "before" entry when we have no stores today
        ax.barh(y - h / 2, before, height=h, color=_LIGHT, label="before (existing stores)")
    for yi, a, b in zip(y, after, before, strict=True):
        ax.text(a, yi + h / 2, f" {a:.1f}%", va="center", fontsize=8, color="#333333")
        if b > 0:
            ax.text(b, yi - h / 2, f" {b:.1f}%", va="center", fontsize=7, color="#666666")
    ax.set_yticks(y, [str(r) for r in t["region"]])
    ax.set_xlabel("our share of offline spending (%)")
    ax.set_xlim(0, max(1.0, float(max(after.max(), before.max()))) * 1.18)
    # legend above the bars (outside the data area)
    ax.legend(frameon=False, fontsize=9, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2)
    ax.set_title(f"Market share by region ({len(t)} largest markets)", loc="left", fontsize=12)
    return save_png(fig, path, dpi)


def write_charts(plan: Any, out_dir: str | Path) -> dict[str, Path]:
    """Write every chart of a plan into ``out_dir``.

    Returns
    -------
    dict of str to Path
        ``coverage_curve``, ``distance``, ``regions`` -> PNG paths, plus
        ``share_by_region`` when the plan has market shares per area and regions.
    """
    out = Path(out_dir)
    paths = {
        "coverage_curve": coverage_curve_chart(plan, out / "coverage_curve.png"),
        "distance": distance_chart(plan, out / "distance.png"),
        "regions": region_chart(plan, out / "stores_per_region.png"),
    }
    if not share_by_region(plan).empty:
        paths["share_by_region"] = share_region_chart(plan, out / "share_by_region.png")
    return paths
