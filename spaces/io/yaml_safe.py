"""Bounds on a composed YAML document before it is converted to Python data.

YAML aliases (``*a``) reuse an anchored node, so a few hundred bytes can expand into
billions of values ("billion laughs"), and an alias inside its own anchor (``a: &a
[*a]``) never ends. Composition itself is linear (an alias is a shared node); the
expansion happens when nodes become Python lists and maps. ``check_document`` measures
the expanded size and depth of the node graph once, in time linear in its distinct
nodes, and raises a SpecError naming the file before any expansion happens.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, SequenceNode

from ..errors import SpecError

__all__ = ["MAX_EXPANDED_NODES", "MAX_DEPTH", "check_document"]

MAX_EXPANDED_NODES = 1_000_000  # values after alias expansion (a large spec has ~10**4)
MAX_DEPTH = 100  # nesting of maps and lists (specs nest < 10 deep)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def check_document(root: Node, source: str) -> None:
    """SpecError when the document under ``root`` refers to itself through an alias,
    nests deeper than MAX_DEPTH or expands to more than MAX_EXPANDED_NODES values."""
    size: dict[int, int] = {}  # id(node) -> expanded size, once finished
    on_path: set[int] = set()
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_EXPANDED_NODES:
                mark = node.start_mark
                raise SpecError(
                    f"the YAML aliases (*name) starting at line {mark.line + 1} expand to "
                    f"more than {MAX_EXPANDED_NODES:,} values",
                    source=source, fix="write the values out instead of nesting aliases "
                                       "(docs/limits.md)")
            size[nid] = total
            continue
        if nid in size:
            continue
        if nid in on_path:
            mark = node.start_mark
            raise SpecError(f"a YAML alias at or below line {mark.line + 1} refers to the map "
                            f"or list that contains it (an endless value)", source=source,
                            fix="remove the self-referencing alias (*name)")
        if depth > MAX_DEPTH:
            raise SpecError(f"the YAML nests more than {MAX_DEPTH} levels deep (line "
                            f"{node.start_mark.line + 1})", source=source,
                            fix="specs nest a few levels; check the file (docs/limits.md)")
        children = _children(node)
        if not children:
            size[nid] = 1
            continue
        on_path.add(nid)
        stack.append((node, depth, True))
        for c in children:
            if id(c) in on_path:
                mark = c.start_mark
                raise SpecError(f"a YAML alias at or below line {mark.line + 1} refers to the "
                                f"map or list that contains it (an endless value)",
                                source=source, fix="remove the self-referencing alias (*name)")
            if id(c) not in size:
                stack.append((c, depth + 1, False))
