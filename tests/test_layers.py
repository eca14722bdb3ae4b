"""The tree's layers hold: every `newsindex` import, lazy ones included, goes to its own layer or one below."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "newsindex"

# Lowest first (docs/ARCHITECTURE.md): a module may import its own layer and the layers below it.
LAYERS = [
    {"newsindex.errors", "newsindex.deadline"},
    {"newsindex.text"},
    {"newsindex.models", "newsindex.timeline"},
    {"newsindex.ingest"},
    {"newsindex.store"},
    {"newsindex.search"},
    {"newsindex.index", "newsindex.export"},
    {"newsindex.evaluation", "newsindex.cli", "newsindex.server"},
]
# The package's front door and the names old indexes pickle: they import from anywhere, nothing imports them.
ABOVE_ALL = {"newsindex", "newsindex.__main__", "newsindex.schema", "newsindex.codec"}


def layer(module: str) -> int:
    """The layer of a dotted module name: its own entry, else its package's."""
    for name in (module, module.rsplit(".", 1)[0]):
        for number, members in enumerate(LAYERS):
            if name in members:
                return number
    if module in ABOVE_ALL:
        return len(LAYERS)
    raise AssertionError(f"{module} has no layer: add it to LAYERS here and to docs/ARCHITECTURE.md")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST) -> set[str]:
    """The newsindex modules `tree` imports (`from newsindex import x` names the module newsindex.x if there is one)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("newsindex"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("newsindex"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / child.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE.parent / child.replace(".", "/")
                ).is_dir()
                found.add(child if is_module else node.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_a_module_imports_only_its_own_layer_and_the_layers_below(path: Path) -> None:
    importer = module_name(path)
    upward = [
        name
        for name in sorted(imported(ast.parse(path.read_text(encoding="utf-8"))))
        if name != "newsindex" and layer(name) > layer(importer)
    ]
    assert upward == [], f"{importer} imports a layer above its own: {upward}"


def test_every_subpackage_is_in_a_layer() -> None:
    packages = {module_name(path) for path in PACKAGE.rglob("__init__.py")} - {"newsindex"}
    assert packages == {"newsindex.text", "newsindex.ingest", "newsindex.store", "newsindex.search"} | {
        "newsindex.evaluation",
        "newsindex.cli",
        "newsindex.server",
    }
    for package in packages:
        layer(package)


def test_the_layer_check_sees_a_lazy_upward_import(tmp_path: Path) -> None:
    tree = ast.parse("def late():\n    from newsindex.cli import commands\n    import newsindex.server.app\n")
    assert imported(tree) == {"newsindex.cli.commands", "newsindex.server.app"}
    assert layer("newsindex.cli.commands") > layer("newsindex.text.dates")
