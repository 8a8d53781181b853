"""storeplan: plan a retail store network - where to open stores, in what order, and what they earn."""

from __future__ import annotations

__version__ = "0.1.0"
