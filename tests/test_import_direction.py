"""Dependencies run one way: registry ← backbones ← models ← losses ← engine ← cli and entry points;
hub depends on models, never the reverse; data and metrics are leaves.

Every import statement counts, module-level or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dbdzoo"
#: the other dbdzoo packages each layer may import (``registry`` and ``files`` are one-module leaves)
ALLOWED = {
    "registry": set(),
    "files": set(),
    "progress": set(),
    "data": {"registry"},
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


def test_networks_know_no_objective() -> None:
    import dbdzoo
    from dbdzoo.models import MODELS
    from dbdzoo.registry import returned_class

    for name in dbdzoo.list_models():
        if not getattr(returned_class(MODELS.get(name)), "trainable", True):
            continue  # classical methods (no parameters) take no tiny-backbone overrides
        cls = type(dbdzoo.create_model(name, **_tiny(name)))
        assert not hasattr(cls, "build_objective"), f"{name}: networks must not build their objective"


def _tiny(name: str) -> dict:
    from dbdzoo.bench.tiny import tiny_overrides

    return tiny_overrides(name)
