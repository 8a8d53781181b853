"""Tests of the bundled exchange rates (storeplan.data.fx), checked against the raw ECB file."""

from __future__ import annotations

import csv
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("currency_converter")

from storeplan.data.fx import DEFAULT_FX_DATE, exchange_rates  # noqa: E402
from storeplan.errors import InputError, UnknownOptionError  # noqa: E402


def _raw_row(date: str) -> dict[str, str]:
    """The ECB file's row for ``date``, read with the csv module (independent of pandas)."""
    origin = importlib.util.find_spec("currency_converter").origin
    with zipfile.ZipFile(Path(origin).parent / "eurofxref-hist.zip") as z:
        text = z.read(z.namelist()[0]).decode()
    for row in csv.DictReader(io.StringIO(text)):
        if row["Date"] == date:
            return row
    raise AssertionError(f"no row {date}")


def test_default_table_hand_checked():
    fx = exchange_rates()
    assert fx.date == DEFAULT_FX_DATE == "2025-12-31" and fx.base == "USD"
    row = _raw_row("2025-12-31")
    # ECB 2025-12-31: 1 EUR = 1.1750 USD = 8.2262 CNY = 37.218 THB.
    assert float(row["USD"]) == 1.1750 and float(row["CNY"]) == 8.2262
    assert fx.rate("CNY") == pytest.approx(8.2262 / 1.1750, rel=1e-12)
    assert fx.rate("THB") == pytest.approx(37.218 / 1.1750, rel=1e-12)
    assert fx.rate("EUR") == pytest.approx(1 / 1.1750, rel=1e-12)
    assert fx.rate("usd") == 1.0
    assert 30 <= len(fx.currencies) <= 32
    frame = fx.to_frame()
    assert list(frame.columns) == ["currency", "per_base", "base", "date", "source"]
    assert "European Central Bank" in fx.source


def test_no_fixing_day_takes_the_last_one():
    # 2025-12-25/26 are TARGET holidays, 27/28 a weekend: the 24th's fixing applies.
    assert exchange_rates("2025-12-28").date == "2025-12-24"
    assert exchange_rates("2025-12-28").rate("CNY") == exchange_rates("2025-12-24").rate("CNY")


def test_year_average_between_extremes():
    avg = exchange_rates(year=2024).rate("CNY")
    days = [exchange_rates(d).rate("CNY") for d in ("2024-01-02", "2024-06-28", "2024-12-31")]
    assert min(days) * 0.95 < avg < max(days) * 1.05
    assert exchange_rates(year=2024).date == "2024 average"


def test_other_base():
    eur = exchange_rates(base="EUR")
    assert eur.rate("USD") == pytest.approx(1.1750)
    assert eur.rate("EUR") == 1.0


@settings(max_examples=50, deadline=None)
@given(
    amount=st.floats(min_value=0.0, max_value=1e12, allow_nan=False),
    pair=st.sampled_from([("CNY", "THB"), ("INR", "IDR"), ("USD", "JPY"), ("EUR", "BRL")]),
)
def test_convert_round_trips(amount, pair):
    fx = exchange_rates()
    a, b = pair
    back = fx.convert(fx.convert(amount, a, b), b, a)
    assert back == pytest.approx(amount, rel=1e-12, abs=1e-9)


def test_convert_arrays():
    fx = exchange_rates()
    out = fx.convert([100.0, 0.0], "USD", "CNY")
    np.testing.assert_allclose(out, [100.0 * 8.2262 / 1.1750, 0.0])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"date": "1998-12-31"}, InputError, "outside the ECB history"),
        ({"date": "not a date"}, InputError, "ISO date"),
        ({"date": "2025-12-31", "year": 2025}, InputError, "not both"),
        ({"year": 1990}, InputError, "no ECB fixing"),
        ({"base": "VND"}, UnknownOptionError, "VND"),
    ],
    ids=["too-early", "not-a-date", "date-and-year", "year-without-data", "unquoted-base"],
)
def test_bad_requests(kwargs, error, match):
    with pytest.raises(error, match=match):
        exchange_rates(**kwargs)


def test_unquoted_currency_named():
    with pytest.raises(UnknownOptionError, match="VND") as exc:
        exchange_rates().rate("VND")
    assert "CNY" in str(exc.value)  # lists what is quoted
