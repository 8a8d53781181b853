"""Bundled datasets (see :mod:`storeplan.data.datasets`)."""

from __future__ import annotations

from storeplan.data.datasets import china
from storeplan.data.world_data import world

__all__ = ["china", "world"]
