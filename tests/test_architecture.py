"""The architecture of docs/architecture.md, checked: no import cycles between our modules
(except through task modules, which are task wiring), small source files, the
import-linter contracts of pyproject.toml, and a kernel that imports no context or app.

Reads the source, not the database: no Django setup needed."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cases", "detection", "reports", "agencyguard")
MAX_LINES = 500


def is_task_module(module: str) -> bool:
    """`*.tasks`: Celery task wiring. A service enqueues its task and the task calls the
    service back, by design; such a loop is not a dependency cycle of the domain."""
    return module.rsplit(".", 1)[-1] == "tasks"


def strongly_connected_components(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on a deep graph). Each component
    sorted, the list sorted; a component of one module is a cycle only with a self-loop."""
    graph = {node: sorted(set(targets)) for node, targets in edges.items()}
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(graph[root]))]
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
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
                    components.append(sorted(component))
    return sorted(components)


def import_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or not, ignoring imports of
    task modules."""
    kept = {
        module: [target for target in targets if not is_task_module(target)]
        for module, targets in edges.items()
    }
    return [
        component
        for component in strongly_connected_components(kept)
        if len(component) > 1 or component[0] in kept.get(component[0], [])
    ]


def cycle_path(edges: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    """One concrete loop through a component's first module (shortest, breadth first)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(edges.get(node, ())):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if target in members and target not in previous and not is_task_module(target):
                    previous[target] = node
                    following.append(target)
        frontier = following
    return component


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # No cache directory: the test leaves nothing behind in the checkout.
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}


def _describe(graph: grimp.ImportGraph, path: list[str]) -> str:
    lines = []
    for importer, imported in itertools.pairwise(path):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
        lines.append(f"  {importer} -> {imported} ({where})")
    return "\n".join(lines)


def test_the_graph_is_read_from_this_checkout(graph):
    # An editable install of another checkout would make every test below check that one.
    import cases

    assert Path(cases.__file__).resolve().parent == ROOT / "cases"
    assert "cases.kernel.tenancy" in graph.modules


def test_the_cycle_finder_finds_a_planted_cycle():
    edges = {
        "app.a": ["app.b"],
        "app.b": ["app.c"],
        "app.c": ["app.a", "app.d"],
        "app.d": [],
        "app.e": ["app.e"],
    }
    assert import_cycles(edges) == [["app.a", "app.b", "app.c"], ["app.e"]]
    assert cycle_path(edges, ["app.a", "app.b", "app.c"]) == ["app.a", "app.b", "app.c", "app.a"]


def test_a_loop_through_a_task_module_is_task_wiring_not_a_cycle():
    edges = {
        "app.services": ["app.tasks"],
        "app.tasks": ["app.services"],
        "app.views": ["app.services"],
    }
    assert import_cycles(edges) == []
    # The same loop through any other module is one.
    edges["app.services"] = ["app.jobs"]
    edges["app.jobs"] = ["app.services"]
    assert import_cycles(edges) == [["app.jobs", "app.services"]]


def test_no_import_cycle_outside_task_wiring(graph):
    edges = _edges(graph)
    cycles = import_cycles(edges)
    report = "\n".join(
        f"{' <-> '.join(component)}\n{_describe(graph, cycle_path(edges, component))}"
        for component in cycles
    )
    assert not cycles, f"import cycles (break them, see docs/architecture.md):\n{report}"


def test_the_kernel_imports_no_context_and_no_other_app(graph):
    outside = {
        f"{module} -> {imported}"
        for module in {"cases.kernel", *graph.find_descendants("cases.kernel")}
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith("cases.kernel.") and imported != "cases.kernel"
    }
    assert not outside, "the kernel imports nothing above it:\n" + "\n".join(sorted(outside))


def test_the_import_contracts_hold():
    """pyproject.toml [tool.importlinter]: the table of docs/architecture.md."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_source_file_over_500_lines():
    too_long = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                too_long[str(path.relative_to(ROOT))] = lines
    assert not too_long, f"over {MAX_LINES} lines (two concepts in one file?): {too_long}"
