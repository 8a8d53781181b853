"""The shape of the code (docs/design.md, issue 9): the import graph runs one way, no
private name crosses a module, and the pipeline's steps after the market do not read the
scenario back.

Read with :mod:`ast` from the source files (nothing is imported), so a violation is named
by file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "storeplan"

#: Layers, lowest first: a module may import its own layer or a lower one, never a higher
#: one. The units are the top-level modules and packages of ``storeplan`` (imports inside
#: one package are its own business). From the "depends on" column of the architecture:
#: the specs that ``scenario`` validates live with their models (market, rollout,
#: response, alternatives, launch_stock), so those sit below ``scenario``; ``plan`` holds
#: the rollout's typed results; ``pipeline`` builds everything up to the plan.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "_io", "metrics", "assumptions", "bundled"),
    ("data", "datasets", "demand", "geo", "solvers", "launch_stock"),
    ("market",),
    ("objectives", "response", "alternatives", "rollout"),
    ("scenario",),
    ("evaluation", "plan"),
    ("pipeline",),
    ("api", "engine", "forecast", "testing", "report", "world"),
    ("web",),
    ("cli",),
    ("storeplan",),  # the package's front door (storeplan/__init__.py)
)
RANK = {unit: k for k, layer in enumerate(LAYERS) for unit in layer}

#: Upward imports still on main, each with its reason; the list should only shrink.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    target: str  # imported module, dotted
    names: tuple[str, ...]  # names taken from it (empty for ``import x``)
    path: Path
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports() -> list[Import]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        type_only: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                type_only.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("storeplan"):
                    continue
                names = tuple(a.name for a in node.names)
                if node.module is None or target == "storeplan":
                    # ``from . import x``: x may be a submodule or a name of the package
                    for name in names:
                        sub = SRC.parent / Path(*f"{target}.{name}".split("."))
                        is_mod = sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file()
                        t, n = (f"{target}.{name}", ()) if is_mod else (target, (name,))
                        out.append(Import(module, t, n, path, node.lineno, id(node) in type_only))
                    continue
                out.append(Import(module, target, names, path, node.lineno, id(node) in type_only))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("storeplan"):
                        out.append(Import(module, a.name, (), path, node.lineno, id(node) in type_only))
    return out


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "storeplan"


IMPORTS = _imports()


def test_every_unit_has_a_layer():
    units = {_unit(i.module) for i in IMPORTS} | {_unit(i.target) for i in IMPORTS}
    units |= {p.stem if p.is_file() else p.name for p in SRC.iterdir() if p.suffix == ".py" or p.is_dir()}
    units -= {"__init__", "__pycache__", "static", "scenarios"}
    assert units <= set(RANK), f"add to LAYERS: {sorted(units - set(RANK))}"


def test_no_module_imports_one_above_it():
    bad = []
    for i in IMPORTS:
        src, dst = _unit(i.module), _unit(i.target)
        if src == dst or i.type_only:  # annotations only: no runtime dependency
            continue
        if dst == "storeplan" and i.names == ("__version__",):
            continue  # the version constant, set before the package imports anything
        if RANK[dst] > RANK[src] and (src, dst) not in KNOWN_UPWARD:
            where = f"{i.path.relative_to(SRC.parent)}:{i.line}"
            bad.append(f"{where}: {src} imports {i.target} (a higher layer)")
    assert not bad, "\n".join(bad)


def test_known_upward_imports_still_exist():
    """An entry of KNOWN_UPWARD that is fixed must leave the list."""
    seen = {(_unit(i.module), _unit(i.target)) for i in IMPORTS if not i.type_only}
    assert set(KNOWN_UPWARD) <= seen, f"fixed, remove from KNOWN_UPWARD: {sorted(set(KNOWN_UPWARD) - seen)}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_crosses_a_module():
    """``from storeplan.x import _name`` only inside x itself; a private module
    (``solvers/_kernels.py``) only from its own package."""
    bad = []
    for i in IMPORTS:
        where = f"{i.path.relative_to(SRC.parent)}:{i.line}"
        for name in i.names:
            if _private(name) and i.target != i.module:
                bad.append(f"{where}: {i.module} imports {name} from {i.target}")
        private_parts = [k for k, part in enumerate(i.target.split(".")) if _private(part)]
        if private_parts:
            owner = ".".join(i.target.split(".")[: private_parts[0]])
            if not (i.module == owner or i.module.startswith(owner + ".")):
                bad.append(f"{where}: {i.module} imports the private module {i.target}")
    assert not bad, "\n".join(bad)


def test_no_private_attribute_of_another_module():
    """``mod._name`` on an imported storeplan module is a private name crossing too."""
    modules = {i.target for i in IMPORTS if not i.names}
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        here = {i.target for i in IMPORTS if i.path == path and not i.names}
        aliases: dict[str, str] = {}  # local name -> imported storeplan module
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for a in node.names:
                    local = a.asname or a.name.split(".")[0]
                    full = [t for t in here if t == a.name or t.endswith("." + a.name)]
                    if full and full[0] in modules:
                        aliases[local] = full[0]
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                bad.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)


#: The phases of ``pipeline.solve`` that build the inputs from the scenario; every other
#: function of pipeline.py works on the inputs (Problem, Market, Solution, Plan) and must
#: not take the Scenario.
INPUT_PHASE = {
    "solve",
    "build_problem",
    "build_market",
    "market_key",
    "allowed_formats",
    "_site_options",
    "_constraints",
}

#: Steps that still take the scenario, with the reason; the list should only shrink.
KNOWN_SCENARIO_READERS: dict[str, str] = {}


def test_pipeline_steps_after_the_market_do_not_take_the_scenario():
    path = SRC / "pipeline.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name in INPUT_PHASE | set(KNOWN_SCENARIO_READERS):
            continue
        for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            text = ast.unparse(arg.annotation) if arg.annotation is not None else ""
            if "Scenario" in text or arg.arg == "scenario":
                bad.append(f"pipeline.py:{node.lineno}: {node.name}({arg.arg}: {text})")
    assert not bad, "\n".join(bad)
