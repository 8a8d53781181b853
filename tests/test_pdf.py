"""Rollout chart pack: PDF opens, first page renders non-blank; PNG charts."""

from __future__ import annotations

import numpy as np
import pytest

from storeplan.forecast import forecast
from storeplan.rollout import AdditiveOracle, RolloutSpec, schedule

pytest.importorskip("matplotlib")


@pytest.fixture
def fc():
    rng = np.random.default_rng(3)
    n = 30
    oracle = AdditiveOracle(rng.uniform(1e6, 5e7, n))
    spec = RolloutSpec(
        years=3,
        stores_per_year=[5, 8, 10],
        ramp_months=12,
        start_year=2027,
        target_revenue=[5e7, 4e8, 9e9],
        improve_seconds=0.2,
    )
    regions = np.array(["Zhejiang", "Jiangsu", "Anhui"], dtype=object)[np.arange(n) % 3]
    s = schedule(oracle, np.full(n, 1.5e6), np.full(n, 6e5), spec, existing=[0, 1], extra={"region": regions})
    return s, forecast(s, oracle)


def test_pdf_opens_and_first_page_is_not_blank(fc, tmp_path):
    from storeplan.report.pdf import write_pdf

    sched, f = fc
    path = write_pdf(f, tmp_path / "pack.pdf", schedule=sched, subtitle="test", currency="CNY")
    assert path.read_bytes()[:5] == b"%PDF-"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    try:
        import pymupdf as fitz
    except ImportError:
        fitz = pytest.importorskip("fitz")
    doc = fitz.open(path)
    assert doc.page_count == 5  # headline, stores, sales, cash, regions
    assert "Rollout chart pack" in doc[0].get_text()
    assert "2029" in doc[0].get_text()  # calendar labels in the year table
    pix = doc[0].get_pixmap(dpi=50)
    png = tmp_path / "page1.png"
    pix.save(png)
    img = np.frombuffer(pix.samples, dtype=np.uint8)
    assert png.stat().st_size > 0
    assert (img < 200).mean() > 0.005  # ink on the page
    assert img.std() > 5


def test_rollout_pngs(fc, tmp_path):
    from storeplan.report.pdf import ROLLOUT_CHARTS, write_rollout_charts
    from storeplan.report.tables import rollout_region_table as region_table

    _, f = fc
    out = write_rollout_charts(f, tmp_path / "charts")
    assert sorted(out) == sorted(ROLLOUT_CHARTS)
    for p in out.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tab = region_table(f)
    assert set(tab["region"]) == {"Zhejiang", "Jiangsu", "Anhui"}
    assert tab["share"].sum() == pytest.approx(1.0)


def test_no_region_no_target(tmp_path):
    from storeplan.report.pdf import write_pdf, write_rollout_charts

    oracle = AdditiveOracle(np.array([3e6, 2e6, 1e6]))
    spec = RolloutSpec(years=1, ramp_months=0, improve_seconds=0)
    s = schedule(oracle, np.full(3, 1e6), np.full(3, 1e5), spec)
    f = forecast(s, oracle)
    assert "rollout_regions.png" not in write_rollout_charts(f, tmp_path)
    assert write_pdf(f, tmp_path / "p.pdf").stat().st_size > 1000


def _legend_facts(fig):
    """(legend labels, legend box, plot-area box) of a figure's first axes, in pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    leg = ax.get_legend()
    assert leg is not None
    labels = [t.get_text() for t in leg.get_texts()]
    return labels, leg.get_window_extent(renderer), ax.get_window_extent(renderer)


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)


@pytest.mark.parametrize("existing", [True, False])
def test_rollout_chart_legends_name_only_drawn_series_and_sit_off_the_data(fc, existing) -> None:
    """Each rollout chart's legend lies outside the plot area and names only the series
    the chart draws: no "existing stores" bar or "all stores" line without existing
    stores."""
    import dataclasses

    from storeplan.report.pdf import cash_flow_figure, revenue_vs_target_figure, stores_per_year_figure

    _, f = fc
    if not existing:  # the same forecast as if we had no stores today
        py = f.per_year.assign(
            revenue_existing=0.0,
            revenue=f.per_year["revenue_new"],
            cumulative_cash_flow=f.per_year["cumulative_cash_flow_new"],
            stores_open=f.per_year["stores_opened"].cumsum(),
        )
        f = dataclasses.replace(f, per_year=py)
    figs = {
        "revenue": revenue_vs_target_figure(f, "CNY"),
        "cash": cash_flow_figure(f, "CNY"),
        "stores": stores_per_year_figure(f),
    }
    for name, fig in figs.items():
        labels, leg, area = _legend_facts(fig)
        assert _overlap(leg, area) == 0.0, name
        assert len(labels) == len(set(labels)), labels
    rev, _, _ = _legend_facts(figs["revenue"])
    cash, _, _ = _legend_facts(figs["cash"])
    stores, _, _ = _legend_facts(figs["stores"])
    assert ("existing stores" in rev) is existing
    assert ("cumulative, all stores" in cash) is existing
    assert set(rev) - {"existing stores"} == {"target", "new stores"}
    assert "cumulative, new stores" in cash
    # bar legend entries: one per sign of the yearly cash flow that occurs
    flow = f.per_year["cash_flow_new"]
    assert ("yearly, new stores (out)" in cash) is bool((flow < 0).any())
    assert stores[1] == ("open at year end (existing included)" if existing else "open at year end")
    # every axis names its unit
    ax = figs["revenue"].axes[0]
    assert ax.get_ylabel().startswith("sales per year (") and "CNY" in ax.get_ylabel()
    assert "CNY" in figs["cash"].axes[0].get_ylabel()
