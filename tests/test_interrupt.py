"""Ctrl-C at every phase of ``storeplan demo`` exits 130 and leaves no partial output set.

The demo runs on a small slice (Hainan, 10 stores, 3 s solver limit) in a subprocess;
SIGINT is sent after a phase's log line appears on stderr (load, site selection,
rollout, saving the report). The output folder must then hold the previous set
untouched (or not exist), with no temporary folder left beside it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ARGS = ["demo", "--province", "Hainan", "--stores", "10", "--time-limit", "3"]


def _command() -> list[str]:
    exe = shutil.which("storeplan")
    return [exe] if exe else [sys.executable, "-m", "storeplan.cli"]


def _as_foreground() -> None:
    """Give the child the SIGINT disposition of a command typed at a terminal.

    A shell without job control starts a background command (``pytest ... &``) with
    SIGINT ignored, and an ignored disposition survives ``exec``: Python then installs
    no ``KeyboardInterrupt`` handler and the demo would run to its end. Ctrl-C reaches
    only foreground commands, whose SIGINT is never ignored, so that is what we test.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(out: Path, trigger: str | None, delay: float) -> tuple[int, str]:
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [*_command(), *ARGS, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_as_foreground,
    )
    seen = []
    if trigger is not None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if trigger in line:
                break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, "".join(seen) + err


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "trigger,delay",
    [
        ("note:", 0.0),  # loading the scenario and the dataset
        ("network:", 0.5),  # choosing sites (compiled kernels)
        ("solve:", 0.0),  # evaluating, rollout
        ("wrote plan.csv", 0.0),  # writing map, charts and report
    ],
    ids=["load", "choosing-sites", "rollout", "saving"],
)
def test_sigint_exits_130_and_keeps_the_previous_set(tmp_path, trigger, delay):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".storeplan-run.json").write_text('{"run_id": "old", "files": ["summary.json"]}\n')
    (out / "summary.json").write_text('{"old": true}\n')
    before = _listing(out)
    rc, err = _interrupt(out, trigger, delay)
    assert rc == 130, err[-2000:]
    assert "Traceback" not in err and "SystemError" not in err, err[-2000:]
    assert "interrupted" in err
    assert _listing(out) == before, "the previous output set changed"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "a temporary folder was left behind"


def test_sigint_without_previous_set_leaves_nothing(tmp_path):
    out = tmp_path / "fresh"
    rc, err = _interrupt(out, "network:", 1.0)
    assert rc == 130, err[-2000:]
    assert list(tmp_path.iterdir()) == []
