"""core/ imports one way: no cycle between its packages or between the modules of one package, and every package
imports only from the layers below it in ``LAYERS``, the order docs/architecture.md draws.

Imports are read with ``ast`` from every file of core/, at module level and inside functions (``TYPE_CHECKING``
blocks included: a type is a dependency too). A node is a package (``ingest``) or a top-level module (``config``;
``__init__`` is core/__init__.py, ``__main__`` core/__main__.py). ``python -m tests.test_imports`` prints the edges.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "notice", "parallel", "regions", "views"),
    ("admission", "metrics"),
    ("config",),
    ("ingest", "cohort"),
    ("preprocess",),
    ("quality",),
    ("model",),
    ("inference",),
    ("figures",),
    ("report", "store", "scoring", "synth"),
    ("service", "train", "examples", "cohort_summary"),
    ("api", "cli"),
    ("__main__",),
)
"""Bottom (the leaves) to top (the entry points); a node imports only from layers below its own."""
Graph = Mapping[str, Mapping[str, str]]
"""node -> imported node -> where the first such import is (``core/ingest/loader.py:27``)."""


@dataclass(frozen=True)
class Edge:
    """One import: module ``source`` imports module ``target`` (dotted names) at ``where``."""

    source: str
    target: str
    where: str


def _modules(core: Path) -> dict[str, Path]:
    """Dotted module name of every file under ``core`` (a package is its ``__init__``)."""
    modules = {}
    for path in sorted(core.rglob("*.py")):
        parts = (core.name, *path.relative_to(core).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The modules of ``known`` one import statement brings in (a name from a package is that package)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    for name in names:
        while name and name not in known:  # `import core.x.y` with y a function: its module
            name = name.rpartition(".")[0]
        if name:
            yield name


def module_edges(core: Path = CORE) -> list[Edge]:
    """Every import between modules of ``core``, in file order."""
    modules = _modules(core)
    known = set(modules)
    edges = []
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, module, path.name == "__init__.py", known):
                    where = f"{path.relative_to(core.parent)}:{node.lineno}"
                    edges.append(Edge(module, target, where))
    return edges


def node_of(module: str) -> str:
    """The package or top-level module of core that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def package_graph(edges: list[Edge]) -> dict[str, dict[str, str]]:
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for edge in edges:
        source, target = node_of(edge.source), node_of(edge.target)
        if source != target:
            graph[source].setdefault(target, edge.where)
    return graph


def module_graphs(edges: list[Edge]) -> dict[str, dict[str, dict[str, str]]]:
    """Per package, the imports between its own modules."""
    graphs: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for edge in edges:
        if edge.source != edge.target and node_of(edge.source) == node_of(edge.target) and edge.source.count("."):
            graphs[node_of(edge.source)][edge.source].setdefault(edge.target, edge.where)
    return graphs


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of ``graph`` as its nodes, the first repeated at the end; None when it has none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, {})):
            if state.get(target) == "open":
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def describe(cycle: list[str], graph: Graph) -> str:
    return "import cycle " + " -> ".join(cycle) + ": " + "; ".join(
        f"{graph[a][b]} ({a} -> {b})" for a, b in zip(cycle, cycle[1:], strict=False))


def layer_of() -> dict[str, int]:
    return {name: level for level, names in enumerate(LAYERS) for name in names}


def test_no_import_cycle_between_core_packages() -> None:
    graph = package_graph(module_edges())
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_no_import_cycle_between_the_modules_of_one_package() -> None:
    for package, graph in sorted(module_graphs(module_edges()).items()):
        cycle = find_cycle(graph)
        assert cycle is None, f"in core/{package}: {describe(cycle, graph)}"


def test_every_package_imports_only_from_layers_below_its_own() -> None:
    level = layer_of()
    upward = [f"{where} ({source}, layer {level[source]} -> {target}, layer {level[target]})"
              for source, targets in sorted(package_graph(module_edges()).items())
              for target, where in sorted(targets.items()) if level[target] >= level[source]]
    assert upward == [], "imports that do not point down the layers: " + "; ".join(upward)


def test_every_package_and_top_level_module_of_core_has_one_layer() -> None:
    named = [name for names in LAYERS for name in names]
    present = {node_of(module) for module in _modules(CORE)}
    assert len(named) == len(set(named)) and set(named) == present


def test_the_architecture_page_draws_the_same_layers() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = page.split("<!-- layers -->", 2)[1]
    rows = re.findall(r"^ *(\d+) {2,}(\w+(?: \w+)*)(?: {2,}.*)?$", block, re.M)  # layer, its nodes, imports
    drawn = {int(level): tuple(names.split()) for level, names in rows}
    assert drawn == dict(enumerate(LAYERS))


def test_a_cycle_through_a_function_level_import_is_found_and_named(tmp_path: Path) -> None:
    core = tmp_path / "core"
    for folder, text in {"a": "from core.b.y import f\n", "b": "def f():\n    from core.a.x import g\n"}.items():
        (core / folder).mkdir(parents=True)
        (core / folder / "__init__.py").write_text("")
        (core / folder / ("x.py" if folder == "a" else "y.py")).write_text(text)
    (core / "__init__.py").write_text("")
    graph = package_graph(module_edges(core))
    assert find_cycle(graph) == ["a", "b", "a"]
    assert describe(["a", "b", "a"], graph) == ("import cycle a -> b -> a: core/a/x.py:1 (a -> b); "
                                                "core/b/y.py:2 (b -> a)")


if __name__ == "__main__":
    for source, targets in sorted(package_graph(module_edges()).items(), key=lambda item: -layer_of()[item[0]]):
        print(f"{source:15} -> {', '.join(sorted(targets, key=lambda name: -layer_of()[name]))}")
