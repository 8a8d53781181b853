"""The checked-in bad-input suite (``tests/bad_inputs/``), run through the CLI.

Each folder holds a scenario (``scenario.toml`` + data files) and ``expected.toml``:
``error`` (the error class ``Scenario.from_toml`` raises, or the CLI for output-folder
cases), ``words`` (that the error line must contain), optional ``args`` (extra ``run``
arguments; ``{case}`` is the case's folder) and ``only`` (``"run"`` or ``"validate"``).

All cases run in one subprocess that calls the console-script entry point
(:func:`storeplan.cli.main`) once per case and command, with its own stdout/stderr,
so the suite stays fast; ``test_console_script_*`` run the real ``storeplan`` command.
Every case must exit 2 with exactly one ``error:`` line, no traceback, no new file in
the output folder and no temporary folder beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in HERE.iterdir() if (p / "expected.toml").is_file())

_DRIVER = r"""
import contextlib, io, json, sys, tomllib, traceback
from pathlib import Path
from storeplan.cli import main
from storeplan.scenario import Scenario

root = Path(sys.argv[1])
results = {}
for case in sorted(p for p in root.iterdir() if (p / "expected.toml").is_file()):
    exp = tomllib.loads((case / "expected.toml").read_text())
    res = {}
    try:
        Scenario.from_toml(case / "scenario.toml")
        res["raised"] = []
    except BaseException as exc:  # noqa: BLE001
        res["raised"] = [c.__name__ for c in type(exc).__mro__]
    for cmd in ("validate", "run"):
        if exp.get("only", cmd) != cmd:
            continue
        args = [a.replace("{case}", str(case)) for a in exp.get("args", [])]
        if cmd == "run" and "--out" not in args:
            args = ["--out", str(case / "out"), *args]
        argv = [cmd, str(case / "scenario.toml")]
        if cmd == "run":
            argv += [*args, "--quiet", "--no-report"]
        out_dir = Path(args[args.index("--out") + 1]) if cmd == "run" else None

        def listing():
            if out_dir is None or not out_dir.is_dir() or str(out_dir).startswith("/proc"):
                return []
            return sorted(str(f.relative_to(out_dir)) for f in out_dir.rglob("*"))

        before = listing()
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                rc = main(argv)
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
                rc = -1
        siblings = []
        if out_dir is not None and out_dir.parent.is_dir():
            siblings = sorted(p.name for p in out_dir.parent.glob(".*"))
        res[cmd] = {"rc": rc, "stderr": err.getvalue(), "stdout": out.getvalue(),
                    "before": before, "files": listing(), "hidden": siblings}
    results[case.name] = res
(root / "results.json").write_text(json.dumps(results))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bad_inputs")
    for name in CASES:
        shutil.copytree(HERE / name, root / name)
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(root)], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((root / "results.json").read_text())


def _expected(name: str) -> dict:
    return tomllib.loads((HERE / name / "expected.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CASES)
def test_bad_input_case(name, results):
    exp, res = _expected(name), results[name]
    if exp["error"] != "OutputFolderError":
        assert exp["error"] in res["raised"], f"Scenario.from_toml raised {res['raised'][:1]}"
        assert "StoreplanError" in res["raised"]
    ran = [c for c in ("validate", "run") if c in res]
    assert ran
    for cmd in ran:
        r = res[cmd]
        where = f"{cmd}: {r['stderr']!r}"
        assert r["rc"] == 2, where
        assert "Traceback" not in r["stderr"], where
        lines = [ln for ln in r["stderr"].splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), where
        for word in exp["words"]:
            assert word in lines[0], f"{word!r} not in {lines[0]!r}"
        assert r["files"] == r["before"], f"{cmd} left {r['files']} (before: {r['before']})"
        assert r["hidden"] == [], f"{cmd} left temporary folders {r['hidden']}"


def test_every_case_has_its_files():
    for name in CASES:
        assert (HERE / name / "scenario.toml").is_file(), name
    assert len(CASES) >= 40


def _storeplan(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("storeplan")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "storeplan.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_console_script_markup_ids(tmp_path):
    """The real command: an id that is Rich markup is printed as written."""
    shutil.copytree(HERE / "markup_duplicate_id", tmp_path / "case")
    res = _storeplan("run", "scenario.toml", "--out", "out", cwd=tmp_path / "case")
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("error:") == 1 and "Traceback" not in res.stderr
    assert "[red]x[/red]" in res.stderr
    assert not (tmp_path / "case" / "out").exists()
