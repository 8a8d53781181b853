"""Fixtures of the web app's tests: an app on a temporary data dir and finished runs.

The runs use small scenarios so a run takes seconds: the bundled China data cut to one
province (Ningxia, about 100 areas) and ``tests/data/web`` (30 synthetic towns).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from storeplan.web import WebSettings, create_app  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "web"

#: A small run of the bundled scenario: Ningxia only, 6 new stores.
SMALL = {
    "scenario": "bundled:year-one",
    "overrides": {
        "areas": {"provinces": ["Ningxia"]},
        "objective": {"stores": 6},
        "options": {"time_limit": 5},
    },
}

RUN_TIMEOUT_S = 900  # a small run writes its report in seconds, but minutes on a loaded machine


def wait_for(
    client: TestClient, job_id: str, statuses=("done", "failed", "cancelled"), timeout=RUN_TIMEOUT_S
):
    t0 = time.monotonic()
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"run {job_id} still {job['status']} after {timeout} s: {job}")
        time.sleep(0.3)


def upload_files(client: TestClient, names=("scenario.toml", "areas.csv", "rivals.csv"), folder: Path = DATA):
    files = [("files", (n, (folder / n).read_bytes(), "application/octet-stream")) for n in names]
    return client.post("/api/uploads", files=files)


@pytest.fixture
def make_client(tmp_path):
    """``make_client(data_dir=None, **settings)`` -> a started TestClient (closed at the end)."""
    opened = []

    def make(data_dir: Path | None = None, **kwargs):
        kwargs.setdefault("spare_worker", False)  # most tests run one job or none
        settings = WebSettings(data_dir=data_dir or tmp_path / "data", **kwargs)
        c = TestClient(create_app(settings), raise_server_exceptions=False)
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    """A data dir with two finished runs: the Ningxia slice (revenue) and the uploaded
    Hangzhou scenario (coverage). Returns ``(data_dir, ningxia_job, hangzhou_job)``;
    tests copy the folder before changing it."""
    data_dir = tmp_path_factory.mktemp("web") / "data"
    settings = WebSettings(data_dir=data_dir, max_runs=2, spare_worker=False)  # both at once
    with TestClient(create_app(settings)) as client:
        up = upload_files(client)
        assert up.status_code == 201, up.text
        a = client.post("/api/jobs", json=SMALL).json()
        b = client.post("/api/jobs", json={"scenario": up.json()["source"], "name": "hangzhou"}).json()
        ja, jb = wait_for(client, a["id"]), wait_for(client, b["id"])
    assert ja["status"] == "done", ja
    assert jb["status"] == "done", jb
    return data_dir, ja, jb


@pytest.fixture
def finished_copy(finished, tmp_path):
    data_dir, ja, jb = finished
    dst = tmp_path / "copy"
    shutil.copytree(data_dir, dst)
    return dst, ja, jb
