"""Typing: mypy runs clean on the whole package, and the middle layer's public
signatures name real types (no ``Any``, nothing left unannotated).

The mypy configuration is ``[tool.mypy]`` in pyproject.toml (``files = src/storeplan``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "storeplan"

#: The middle layer: the typed flow from the scenario's inputs to the plan and rollout.
MIDDLE = ("pipeline.py", "objectives.py", "evaluation.py", "metrics.py", "plan.py", "market", "rollout")

#: Public signatures allowed to say ``Any``, with the reason. JSON readers and writers:
#: a summary.json value is any JSON value.
JSON_BOUNDARY = {
    "metrics.py": {
        "CalibrationSummary.from_dict",
        "RolloutSummary.from_dict",
        "PlanMetrics.from_dict",
        "LaunchSummary.from_dict",
        "BrandResponse.from_dict",
        "RobustSummary.from_dict",
        "ResponseSummary.from_dict",
        "AlternativesSummary.from_dict",
        "ChannelFitSummary.from_dict",
    },
    "plan.py": {"Plan.summary"},
    "rollout/forecast.py": {"Forecast.headline"},
}


@pytest.mark.slow
def test_package_is_mypy_clean() -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is in the dev extra")
    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", str(SRC)]
    )
    assert status == 0, out + err


def _middle_files() -> list[Path]:
    out: list[Path] = []
    for name in MIDDLE:
        p = SRC / name
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return out


def _mentions_any(node: ast.expr | None) -> bool:
    if node is None:
        return False
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id == "Any":
            return True
        if isinstance(n, ast.Attribute) and n.attr == "Any":
            return True
        if isinstance(n, ast.Constant) and isinstance(n.value, str):  # a quoted annotation
            try:
                inner = ast.parse(n.value, mode="eval").body
            except SyntaxError:
                continue
            if _mentions_any(inner):
                return True
    return False


def _public_functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            yield node.name, node
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not sub.name.startswith("_") or sub.name == "__init__"
                ):
                    yield f"{node.name}.{sub.name}", sub


def signature_problems(path: Path, allowed: frozenset[str] = frozenset(), root: Path = SRC) -> list[str]:
    """Unannotated parameters or returns, and ``Any`` in the public signatures of ``path``
    (``**kwargs: Any`` passed on to a documented function is allowed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bad = []
    for name, fn in _public_functions(tree):
        where = f"{path.relative_to(root).as_posix()}:{fn.lineno} {name}"
        a = fn.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs + ([a.vararg] if a.vararg else []):
            if arg.arg in ("self", "cls") and arg is (a.posonlyargs + a.args)[0]:
                continue
            if arg.annotation is None:
                bad.append(f"{where}: parameter {arg.arg} has no annotation")
            elif _mentions_any(arg.annotation) and name not in allowed:
                bad.append(f"{where}: {arg.arg}: {ast.unparse(arg.annotation)}")
        if a.kwarg is not None and a.kwarg.annotation is None:
            bad.append(f"{where}: **{a.kwarg.arg} has no annotation")
        if fn.returns is None and fn.name != "__init__":
            bad.append(f"{where}: no return annotation")
        elif _mentions_any(fn.returns) and name not in allowed:
            bad.append(f"{where}: returns {ast.unparse(fn.returns)}")
    return bad


def test_middle_layer_public_signatures_have_no_any() -> None:
    bad = []
    for path in _middle_files():
        rel = path.relative_to(SRC).as_posix()
        bad += signature_problems(path, frozenset(JSON_BOUNDARY.get(rel, ())))
    assert not bad, "\n".join(bad)


def test_signature_check_finds_any(tmp_path: Path) -> None:
    """The check itself: it flags Any, missing annotations, and honours the allowed set."""
    src = tmp_path / "storeplan" / "m.py"
    src.parent.mkdir()
    src.write_text(
        "from typing import Any\n"
        "def f(x: Any) -> int: ...\n"
        "def g(x) -> int: ...\n"
        "def h(x: int): ...\n"
        "def ok(x: int, **kw: Any) -> dict[str, int]: ...\n"
        "def _private(x: Any) -> Any: ...\n"
        "class C:\n"
        "    def m(self, y: 'Any') -> None: ...\n"
        "    def j(self) -> dict[str, Any]: ...\n",
        encoding="utf-8",
    )
    found = signature_problems(src, root=tmp_path)
    allowed = signature_problems(src, frozenset({"C.j"}), root=tmp_path)
    assert len(found) == 5, found
    assert [p.split(" ")[1] for p in found] == ["f:", "g:", "h:", "C.m:", "C.j:"]
    assert len(allowed) == 4
