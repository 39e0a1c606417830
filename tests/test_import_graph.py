"""No import circle in ``slicer_embed`` or in ``training/``, counting imports inside functions too: a module
that a circle ties to another cannot be read, tested or moved on its own."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def import_graph(folder: Path, package: str) -> dict[str, set[str]]:
    """{module: the modules of this package it imports}, from the source text (nothing is imported)."""
    def name(path: Path) -> str:
        parts = list(path.relative_to(folder).with_suffix("").parts)
        return ".".join([package] + (parts[:-1] if parts[-1] == "__init__" else parts))

    files = {name(p): p for p in folder.rglob("*.py") if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        here = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in graph]
                targets = subs if len(subs) == len(node.names) else [base, *subs]  # names of base, or its modules
            else:
                continue
            graph[mod] |= {t for t in targets if t in graph and t != mod}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("folder, package", [("slicer_embed", "slicer_embed"), ("training", "slicer_embed.training")])
def test_no_import_circle(folder, package):
    graph = import_graph(ROOT / folder, package)
    assert len(graph) > 10
    assert circles(graph) == []


def test_the_graph_sees_lazy_imports_and_circles():
    graph = import_graph(ROOT / "slicer_embed", "slicer_embed")
    assert "slicer_embed.training.infra.export" not in graph  # another folder: not a module of this graph
    assert "slicer_embed.hub" in graph["slicer_embed.commands.download"]  # `from .. import hub` in a function
    graph["slicer_embed.hub"].add("slicer_embed.model")  # what hub.load_from_directory did before
    assert circles(graph) == [["slicer_embed.hub", "slicer_embed.model"]]


def test_training_imports_run_one_way():
    """cli_train -> method -> speed, infra: the speed code and the run's infrastructure know no method."""
    graph = import_graph(ROOT / "training", "slicer_embed.training")
    for mod, targets in graph.items():
        room = mod.split(".")[2] if mod.count(".") > 2 else None
        if room in ("speed", "infra"):
            assert not {t for t in targets if t.startswith("slicer_embed.training.method")}, mod
