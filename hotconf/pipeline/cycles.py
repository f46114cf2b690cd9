"""Schemas that never end: a ``$ref`` loop that validation would follow forever.

``{"$ref": "#"}``, or ``{"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": ...}``,
is valid JSON Schema, but validating anything against it recurses without end: every step
stays on the same value of the config (``$ref``, ``allOf``, ``anyOf``, ``oneOf``, ``not``,
``if``/``then``/``else``, ``dependentSchemas`` apply in place), so Python's recursion limit
stops it with a ``RecursionError`` at every reload. A loop that goes through ``properties``,
``items`` and the like is fine (a recursive tree schema): each step goes one level into the
config, which is finite. `find_loop` finds the first kind, through local ``#...`` references
(a fuzz target found it: tests/fuzz).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .paths import from_pointer, to_pointer

Where = tuple[str, ...]
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE_ONE = ("not", "if", "then", "else")


def _edges(where: Where, node: Mapping[str, Any]) -> Iterator[Where]:
    for keyword in _IN_PLACE_LISTS:
        found = node.get(keyword)
        if isinstance(found, list):
            yield from ((*where, keyword, str(i)) for i in range(len(found)))
    for keyword in _IN_PLACE_ONE:
        if keyword in node:
            yield (*where, keyword)
    dependent = node.get("dependentSchemas")
    if isinstance(dependent, Mapping):
        yield from ((*where, "dependentSchemas", k) for k in dependent)
    for keyword in ("$ref", "$dynamicRef"):
        ref = node.get(keyword)
        if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
            try:
                yield from_pointer(ref)
            except ValueError:
                continue


def _node(document: Mapping[str, Any], where: Where) -> Any:
    node: Any = document
    for segment in where:
        if isinstance(node, Mapping) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return None
    return node


def find_loop(document: Mapping[str, Any], roots: Iterator[Where]) -> str | None:
    """The JSON Pointer of a schema that validation would re-enter in place forever, or None.

    Args:
        document: the schema document.
        roots: where its schemas are (`hotconf.pipeline.refs.walk` gives them).
    """
    done: set[Where] = set()
    for root in roots:
        if root in done:
            continue
        # iterative DFS: (node, its edges still to follow); `path` is the grey set
        path: set[Where] = {root}
        stack: list[tuple[Where, Iterator[Where]]] = []
        node = _node(document, root)
        stack.append((root, _edges(root, node) if isinstance(node, Mapping) else iter(())))
        while stack:
            where, edges = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                stack.pop()
                path.discard(where)
                done.add(where)
                continue
            if nxt in path:
                return to_pointer(nxt)
            if nxt in done:
                continue
            child = _node(document, nxt)
            if not isinstance(child, Mapping):
                done.add(nxt)
                continue
            path.add(nxt)
            stack.append((nxt, _edges(nxt, child)))
    return None


__all__ = ["find_loop"]
