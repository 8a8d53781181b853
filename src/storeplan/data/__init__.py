"""Bundled datasets (see :mod:`storeplan.data.datasets`)."""

from __future__ import annotations

from storeplan.data.datasets import china

__all__ = ["china"]
