"""Dependencies run one way: registry ← backbones ← models ← losses ← engine ← cli and entry points;
hub depends on models, never the reverse; data and metrics are leaves; and no module imports itself
back through others (no import circle).

For the layers every import statement counts, module-level or inside a function (a lazy import is still
a dependency). For circles anywhere in dbdzoo/ the module-level imports count (what runs at import
time); inside the hub, lazy ones too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dbdzoo"
#: the other dbdzoo packages each layer may import (``registry``, ``files``, ``progress`` and ``key_values``
#: are one-module leaves)
ALLOWED = {
    "registry": set(),
    "files": set(),
    "progress": set(),
    "key_values": set(),
    "data": {"registry", "key_values"},
    "metrics": {"registry"},
    "backbones": {"registry", "files"},
    "models": {"registry", "backbones", "data", "metrics"},
    "losses": {"registry", "backbones", "models", "data", "metrics"},
    "hub": {"registry", "files", "backbones", "models"},
    "converters": {"registry", "backbones", "models"},
    "bench": {"registry", "backbones", "models", "losses", "data", "metrics"},
    "engine": {"registry", "files", "progress", "backbones", "models", "losses", "data", "metrics", "hub"},
    "zoo_training": {
        "registry",
        "files",
        "progress",
        "backbones",
        "models",
        "losses",
        "data",
        "metrics",
        "hub",
        "engine",
        "bench",
    },
}
FORBIDDEN = {  # the wording, kept as a readable subset of ALLOWED
    "models": ("dbdzoo.losses", "dbdzoo.engine", "dbdzoo.hub", "dbdzoo.cli", "dbdzoo.zoo"),
    "losses": ("dbdzoo.engine", "dbdzoo.hub", "dbdzoo.cli", "dbdzoo.zoo"),
}


def imported_modules(path: Path, package: str | None = None) -> set[str]:
    """Absolute names of everything ``path`` imports (relative imports resolved against its package)."""
    package = package or ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}  # `from .. import hub`
    return names


def test_resolver_sees_lazy_and_relative_imports(tmp_path) -> None:
    probe = PACKAGE / "models" / "base.py"
    assert "dbdzoo.models.normalize" in imported_modules(probe)
    fake = tmp_path / "probe.py"
    fake.write_text("def f():\n    from ..hub import load_model\n    from .. import engine\n")
    assert {"dbdzoo.hub", "dbdzoo.engine"} <= imported_modules(fake, "dbdzoo.models")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in sorted(imported_modules(path))
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer])
    ]
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_the_layers_below_it(layer: str) -> None:
    root = PACKAGE / layer
    files = sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{layer}.py"]
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if name.startswith("dbdzoo.") and name.split(".")[1] not in ALLOWED[layer] | {layer, "__version__"}
    ]
    assert files and not offences, "\n".join(offences)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run at import: module body, into ``if``/``try`` blocks, not ``if TYPE_CHECKING``."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            typing_only = "TYPE_CHECKING" in ast.unparse(node.test)
            out += _top_level(node.orelse if typing_only else node.body + node.orelse)
        elif isinstance(node, ast.Try):
            out += _top_level(
                node.body + [s for h in node.handlers for s in h.body] + node.orelse + node.finalbody
            )
        else:
            out.append(node)
    return out


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    """dbdzoo module → the dbdzoo modules it imports (module-level statements; all of them if ``lazy``).

    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``; a package's
    parent is not an edge (Python runs it first, but it does not import the child back).
    """
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        nodes = list(ast.walk(tree)) if lazy else _top_level(tree.body)
        edges = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in paths}
            elif isinstance(node, ast.ImportFrom):
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                module = ".".join(p for p in (base, node.module or "") if p)
                for alias in node.names:
                    edges.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in paths else module)
        graph[name] = {e for e in edges if e in paths and e != name}
    return graph


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first search, as the circle it closes (``a → b → a``)."""
    state: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                circles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return circles


def test_circle_finder_sees_a_circle_and_a_package_edge(tmp_path) -> None:
    assert find_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_circles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
    graph = import_graph()
    assert "dbdzoo.models.registry" in graph["dbdzoo.models"]  # `from .registry import ...` in __init__
    assert "dbdzoo.hub.load" not in graph["dbdzoo.zoo"]  # lazy (inside create_model): not module level
    assert "dbdzoo.hub" in import_graph(lazy=True)["dbdzoo.zoo"]


def test_no_import_circle_anywhere_in_dbdzoo() -> None:
    circles = find_circles(import_graph())
    assert not circles, "import circles:\n" + "\n".join(" → ".join(c) for c in circles)


def test_the_hub_has_no_circle_even_through_lazy_imports() -> None:
    """Reading, rebuilding and writing sit under ``hf`` and ``load``; ``release`` (the tool) on top."""
    graph = import_graph(lazy=True)
    hub = {
        n: {e for e in edges if e.startswith("dbdzoo.hub.")}
        for n, edges in graph.items()
        if n.startswith("dbdzoo.hub.")
    }
    circles = find_circles(hub)
    assert not circles, "hub import circles:\n" + "\n".join(" → ".join(c) for c in circles)


#: builds and runs every trainable network in a fresh interpreter, then names the dbdzoo packages loaded
NETWORKS_ALONE = """
import json, sys, torch, dbdzoo
from dbdzoo.models import MODELS
from dbdzoo.registry import returned_class

torch.set_num_threads(1)
ran, held = [], {}
for name, overrides in json.loads(sys.argv[1]).items():
    if not getattr(returned_class(MODELS.get(name)), "trainable", True):
        continue  # classical methods (no parameters) take no tiny-backbone overrides
    model = dbdzoo.create_model(name, **overrides)
    model(torch.rand(1, 3, 64, 64)).logits.mean().backward()
    modules = {type(m).__module__ for m in model.modules()}
    held[name] = sorted(m for m in modules if m.startswith("dbdzoo.") and not m.startswith(
        ("dbdzoo.models", "dbdzoo.backbones")))
    ran.append(name)
loaded = sorted({m.split(".")[1] for m in sys.modules if m.startswith("dbdzoo.")})
print(json.dumps({"ran": ran, "held": held, "loaded": loaded}))
"""


def test_networks_build_train_and_run_without_losses_or_the_engine() -> None:
    """A network knows nothing of its objective: building one and running a training forward and backward
    loads neither ``dbdzoo.losses`` nor the engine (what the static scan above cannot see: a module
    imported by name at run time), and no network holds a dbdzoo module from outside models and backbones (a loss, say)."""
    import json
    import sys

    from helpers.child import run_child

    import dbdzoo

    names = dbdzoo.list_models()
    proc = run_child(
        [sys.executable, "-c", NETWORKS_ALONE, json.dumps({n: _tiny(n) for n in names})], timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"fpn", "cenet", "dmenet", "btbnet", "br2net"} <= set(report["ran"])  # every network family
    assert not {"losses", "engine", "hub", "cli"} & set(report["loaded"]), report["loaded"]
    assert report["held"] == {name: [] for name in report["ran"]}


def _tiny(name: str) -> dict:
    from dbdzoo.bench.tiny import tiny_overrides

    return tiny_overrides(name)
