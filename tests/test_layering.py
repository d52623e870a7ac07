"""Imports point one way: _util, errors <- core <- numpy, scipy <- ir <- transforms <- tools <- wengert."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "wengert"
ORDER = ["errors", "core", "numpy", "scipy", "ir", "transforms", "tools"]


def _layer(module_path):
    parts = module_path.relative_to(ROOT).parts
    return parts[0].removesuffix(".py") if len(parts) > 1 or parts[0] != "__init__.py" else "__init__"


def _imported_layers(path):
    tree = ast.parse(path.read_text())
    package = path.relative_to(ROOT.parent).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level] if path.name != "__init__.py" else \
                    package[:len(package) - node.level + 1]
                target = list(base) + (node.module.split(".") if node.module else [])
                if not node.module:
                    target = [list(base) + [alias.name] for alias in node.names]
                else:
                    target = [target]
            else:
                target = [node.module.split(".")] if node.module else []
            for t in target:
                if t and t[0] == "wengert" and len(t) > 1:
                    yield t[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                t = alias.name.split(".")
                if t[0] == "wengert" and len(t) > 1:
                    yield t[1], node.lineno


FILES = [p for p in ROOT.rglob("*.py") if _layer(p) in ORDER]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    mine = ORDER.index(_layer(path))
    for target, line in _imported_layers(path):
        target = target.removesuffix(".py")
        if target in ("_util",) or target not in ORDER:
            continue
        assert ORDER.index(target) <= mine, f"{path.relative_to(ROOT)}:{line} imports the higher layer {target}"
