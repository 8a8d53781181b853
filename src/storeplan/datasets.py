"""The bundled datasets, one front door: :func:`china`, :func:`world` and the dated
exchange rates :func:`exchange_rates`.

Both are built from data shipped inside installed packages (``storeplan[data]``) and
cached as Parquet; see ``docs/data.md`` for what is real, derived and synthetic.

>>> from storeplan import datasets
>>> sorted(n for n in datasets.__all__)
['ChinaData', 'ExchangeRates', 'WorldData', 'china', 'country_outlines', 'exchange_rates', 'world']
"""

from __future__ import annotations

from storeplan.data.datasets import ChinaData, china
from storeplan.data.fx import ExchangeRates, exchange_rates
from storeplan.data.world_data import WorldData, country_outlines, world

__all__ = ["ChinaData", "ExchangeRates", "WorldData", "china", "country_outlines", "exchange_rates", "world"]
