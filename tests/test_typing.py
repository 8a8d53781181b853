"""mypy on the middle layer (typed results, pipeline, objectives, market, rollout, report).

The configuration is ``[tool.mypy]`` in pyproject.toml; these modules must stay clean
(the solver internals are checked by ``mypy`` on the whole of ``src/`` and not yet clean).
"""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is in the dev extra")

SRC = Path(__file__).resolve().parents[1] / "src" / "storeplan"
CLEAN = [
    "metrics.py",
    "plan.py",
    "objectives.py",
    "pipeline.py",
    "evaluation.py",
    "errors.py",
    "testing.py",
    "api.py",
    "forecast.py",
    "market",
    "rollout",
    "report",
]


def test_middle_layer_is_mypy_clean() -> None:
    out, err, status = api.run(
        ["--follow-imports=silent", "--no-error-summary", *[str(SRC / p) for p in CLEAN]]
    )
    assert status == 0, out + err
