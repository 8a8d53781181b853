"""Front door kept for existing imports: ``from storeplan.api import solve``.

The pipeline lives in :mod:`storeplan.pipeline`; the objectives in
:mod:`storeplan.objectives`.
"""

from __future__ import annotations

from .pipeline import PHASES, ProgressFn, solve

__all__ = ["solve", "PHASES", "ProgressFn"]
