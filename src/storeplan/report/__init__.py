"""Reports of a plan: interactive map, charts and a one-page HTML summary.

folium and matplotlib are optional (``pip install "storeplan[report]"``) and are
imported only when a report is written.
"""

from __future__ import annotations

from .html import write_report
from .maps import write_map

__all__ = ["write_report", "write_map"]
