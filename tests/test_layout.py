"""The code's shape: the station's analysis never reaches for pixels, and no package imports itself
round in a circle. Imports are read from the source (every `import`, at module level or inside a
function, since a lazy import is how a circle usually hides), not by importing the modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "server", "matcoach")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` (module `name`) imports, resolved to modules where they are ones."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports module a.b when there is one, else the name b of module a.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a module a.b's name c
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    files = {module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    known = set(files)
    return {name: imports_of(path, name, known) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


# (modules under this prefix, may not import modules under these prefixes)
RULES = [
    ("edge.analysis", ("edge.pixels", "edge.station", "server", "matcoach")),
    ("edge.pixels", ("edge.analysis", "edge.station", "server", "matcoach.cli", "matcoach.demo")),
    ("edge.people", ("edge.pixels", "edge.analysis", "edge.station", "server", "matcoach")),
    ("edge.trace", ("edge.pixels", "edge.analysis", "edge.station", "server", "matcoach")),
    ("edge", ("server", "matcoach.cli", "matcoach.demo")),
    ("server", ("edge",)),
]


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} imports {t}" for m, targets in graph.items() for t in targets
                  for owner, banned in RULES if _under(m, owner) and any(_under(t, b) for b in banned))


def test_the_analysis_never_imports_the_pixels_side_nor_the_station():
    graph = import_graph(ROOT)
    assert "edge.analysis.reps" in graph and "edge.pixels.pose" in graph  # the walk saw the code
    assert violations(graph) == []


def test_no_import_cycles_in_edge_server_or_matcoach():
    graph = import_graph(ROOT)
    assert "server.app" in graph and "matcoach.cli" in graph
    assert cycles(graph) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize("how", ["from edge.pixels import cores", "from ..pixels import cores",
                                 "import edge.pixels.cores", "from edge.pixels.cores import X"])
def test_the_rule_catches_an_analysis_module_reaching_for_pixels_however_written(tmp_path, how):
    root = _tree(tmp_path, {
        "edge/__init__.py": "", "edge/people.py": "",
        "edge/pixels/__init__.py": "", "edge/pixels/cores.py": "X = 1\n",
        "edge/analysis/__init__.py": "",
        "edge/analysis/reps.py": f"def later():\n    {how}\n",
    })
    assert violations(import_graph(root, ("edge",))) == ["edge.analysis.reps imports edge.pixels.cores"]


def test_the_cycle_check_finds_a_circle_hidden_in_a_function(tmp_path):
    root = _tree(tmp_path, {
        "server/__init__.py": "",
        "server/app.py": "def create_app():\n    from server import api\n",
        "server/api.py": "from server.app import create_app\n",
        "server/store.py": "",
    })
    assert cycles(import_graph(root, ("server",))) == [["server.api", "server.app"]]
