"""The package layout stays readable: no import cycles (TYPE_CHECKING imports included), no
module in bot/ much over 400 lines. The layer contracts themselves are import-linter's, in
`make lint` (pyproject.toml, [tool.importlinter])."""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).parents[2]
MAX_LINES = 420  # "about 400"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("bot", "policies", "storage", exclude_type_checking_imports=False)
    # A package's __init__ re-exporting its own submodule is not a design cycle.
    for package in ("bot.app", "bot.cli"):
        for module in list(graph.find_modules_directly_imported_by(package)):
            if module.startswith(package + "."):
                graph.remove_import(importer=package, imported=module)
    assert _cycles(graph) == []


def test_modules_in_bot_stay_small() -> None:
    big = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "bot").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert big == {}
