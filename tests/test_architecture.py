"""The services' layering, checked from the source: no import cycle among
``crmlite/services`` (imports at the top of a module and inside functions alike), no service
that imports the web layer, and no service import tucked inside a function (it would only
be there to hide a cycle)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SERVICES = Path(__file__).resolve().parent.parent / "crmlite" / "services"
PACKAGE = "crmlite.services"


@dataclass(frozen=True)
class Import:
    module: str  # the importing service, e.g. "funnel"
    target: str  # what it imports, e.g. "crmlite.services.tracks" or "crmlite.web"
    line: int
    in_function: bool


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute name a ``from … import`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    parts = f"{PACKAGE}.{module}".split(".")[: -node.level]
    return ".".join([*parts, node.module] if node.module else parts)


def _imports_of(module: str, tree: ast.Module) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, child.lineno, inside) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(module, child)
                if base == PACKAGE:  # from crmlite.services import funnel, tracks
                    found.extend(
                        Import(module, f"{base}.{a.name}", child.lineno, inside)
                        for a in child.names
                    )
                else:
                    found.append(Import(module, base, child.lineno, inside))
            visit(child, inside)

    visit(tree, False)
    return found


def service_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(SERVICES.glob("*.py")):
        found += _imports_of(path.stem, ast.parse(path.read_text(), str(path)))
    return found


def import_graph(imports: list[Import]) -> dict[str, set[str]]:
    """Service → the services it imports (any import of a service or of a name in it)."""
    modules = {path.stem for path in SERVICES.glob("*.py")} - {"__init__"}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for i in imports:
        if i.target.startswith(f"{PACKAGE}."):
            target = i.target.split(".")[2]
            if target in modules and i.module in graph and target != i.module:
                graph[i.module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], set[str]]]:
    """For each group of modules that import one another (directly or not): one cycle
    through it (a → … → a), and the whole group."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [(_a_cycle_in(group, graph), group) for group in groups]


def _a_cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    following.append(w)
        frontier = following
    raise AssertionError("a strongly connected group always has a cycle")


def test_no_import_cycle_among_the_services() -> None:
    found = cycles(import_graph(service_imports()))
    assert not found, "import cycles among crmlite/services:\n" + "\n".join(
        f"{' → '.join(cycle)} (in one cycle with each other: {', '.join(sorted(group))})"
        for cycle, group in found
    )


def test_services_never_import_the_web_layer() -> None:
    offending = [
        f"crmlite/services/{i.module}.py:{i.line} imports {i.target}"
        for i in service_imports()
        if i.target == "crmlite.web" or i.target.startswith("crmlite.web.")
    ]
    assert not offending, "\n".join(offending)


def test_services_import_services_at_the_top() -> None:
    offending = [
        f"crmlite/services/{i.module}.py:{i.line} imports {i.target} inside a function"
        for i in service_imports()
        if i.in_function and (i.target == PACKAGE or i.target.startswith(f"{PACKAGE}."))
    ]
    assert not offending, "\n".join(offending)


def test_the_checks_see_cycles_and_function_level_imports() -> None:
    """The checks themselves: a cycle hidden in a function is found and printed."""
    source = {
        "funnel": "from crmlite.services import events\n"
        "def move():\n    from crmlite.services import tracks\n",
        "tracks": "from crmlite.services.activities import schedule_activity\n",
        "activities": "from crmlite.services.funnel import is_open\n",
        "events": "import crmlite.web.board\n",
    }
    imports = [i for name, text in source.items() for i in _imports_of(name, ast.parse(text))]
    graph = {name: set() for name in source}
    for i in imports:
        if i.target.startswith(f"{PACKAGE}."):
            graph[i.module].add(i.target.split(".")[2])
    assert cycles(graph) == [
        (["activities", "funnel", "tracks", "activities"], {"activities", "funnel", "tracks"})
    ]
    assert [(i.module, i.target) for i in imports if i.in_function] == [
        ("funnel", "crmlite.services.tracks")
    ]
    assert Import("events", "crmlite.web.board", 1, False) in imports
