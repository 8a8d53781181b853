"""``storeplan serve`` as the README shows it: a real server process on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readme_serve_command_starts_the_app(tmp_path):
    """The README's third command, on a free port: prints its URL, answers, binds 127.0.0.1."""
    import re
    import urllib.request

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in readme.splitlines() if ln.startswith("storeplan serve "))
    assert "--host 127.0.0.1" in line
    port = _free_port()
    args = re.sub(r"--port \d+", f"--port {port}", line).split()[1:]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "storeplan.cli", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first, first
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30) as r:
            assert json.loads(r.read())["ok"] is True
        assert (tmp_path / "storeplan-data" / "jobs.sqlite").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
