"""The code's layout rules, checked statically over the four code folders: no import
cycle between modules, no module importing another module's private (``_x``) names, no
module over 650 lines, nothing outside ``spaces/mapspace.py`` reading a mapspace's
private attributes."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("spaces", "costmodels", "mapper", "cli")
# Function-level private imports still waiting for the YAML loaders' split of spaces/io.
KNOWN_PRIVATE: set[tuple[str, str]] = set()
KNOWN_LONG: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(["loopscape", *parts])] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str, top_only: bool):
    """(target module, imported names, line) of the module's imports: at module level
    (outside ``if TYPE_CHECKING``), or everywhere."""
    tree = ast.parse(MODULES[module].read_text())
    nodes = []
    if top_only:
        stack = list(tree.body)
        while stack:
            n = stack.pop()
            if isinstance(n, ast.If) and not _type_checking(n):
                stack.extend(n.body + n.orelse)
            elif isinstance(n, ast.Try):
                stack.extend(n.body + n.orelse + n.finalbody)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                nodes.append(n)
    else:  # everywhere, function bodies included, but not type-checking-only imports
        stack = [tree]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.If) and _type_checking(n):
                stack.extend(n.orelse)
                continue
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                nodes.append(n)
            stack.extend(ast.iter_child_nodes(n))
    for n in nodes:
        if isinstance(n, ast.Import):
            for a in n.names:
                yield a.name, [], n.lineno
        else:
            yield _resolve(module, n), [a.name for a in n.names], n.lineno


def _graph(top_only: bool = True) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for target, names, _ in _imports(m, top_only=top_only):
            if target in MODULES:
                graph[m].add(target)
            for name in names:  # ``from package import submodule``
                if f"{target}.{name}" in MODULES:
                    graph[m].add(f"{target}.{name}")
        graph[m].discard(m)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_checker_sees_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    graph = _graph()
    assert len(graph) > 60
    assert "loopscape.mapper.strategies" in graph["loopscape.mapper.strategy"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_cycle_dodged_by_a_function_level_import():
    """An import inside a function must not close a cycle the module-level graph lacks."""
    graph = _graph(top_only=False)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_private_names_imported_across_modules():
    bad = []
    for m in MODULES:
        for target, names, line in _imports(m, top_only=False):
            for name in names:
                if name.startswith("_") and not name.startswith("__") and \
                        (m, name) not in KNOWN_PRIVATE:
                    bad.append(f"{MODULES[m].relative_to(ROOT)}:{line} imports {name} "
                               f"from {target}")
    assert not bad, "\n".join(bad)


def test_no_module_over_650_lines():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > 650
            and str(p.relative_to(ROOT)) not in KNOWN_LONG}
    assert not long, long


def test_only_the_mapspace_module_reads_its_private_attributes():
    """Attribute reads ``<space>._x`` on the names a mapspace goes by elsewhere."""
    names = {"space", "ms", "mapspace"}
    bad = []
    for m, path in MODULES.items():
        if m == "loopscape.spaces.mapspace":
            continue
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.Attribute) and n.attr.startswith("_") and \
                    not n.attr.startswith("__"):
                v = n.value
                owner = v.id if isinstance(v, ast.Name) else \
                    v.attr if isinstance(v, ast.Attribute) else None
                if owner in names:
                    bad.append(f"{path.relative_to(ROOT)}:{n.lineno} reads {owner}.{n.attr}")
    assert not bad, "\n".join(bad)
