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
    from storeplan.report.pdf import ROLLOUT_CHARTS, region_table, write_rollout_charts

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
