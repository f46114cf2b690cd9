"""Witnesses: a config one schema accepts and the other rejects.

Where a change's effect cannot be proven (a changed ``pattern``, a tuple next to
``unevaluatedItems``, a changed ``if``...), `witnesses` looks for configs that show what it
does: it builds candidate configs from both schemas (the values their keywords name,
examples, defaults, strings made from their patterns and formats, numbers at their bounds,
objects with their required properties, arrays from their item schemas), puts them at the
change's path inside a config the rest of the schema accepts, and asks the real validators.
A witness is always a config the validators disagree on; finding none proves nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from .navigate import Node, Side, allowed_values, types, value_key, view

Path = tuple[str, ...]
WILDCARD = "*"

_MAX_CANDIDATES = 400  # configs tried per change and direction
_MAX_VALUES = 48  # candidate values per position
_MAX_NODES = 24  # subschemas followed per position
_SIMPLE = {"string": "a", "integer": 1, "number": 1.5, "boolean": True, "null": None}
_SCALARS: tuple[Any, ...] = (None, True, False, 0, 1, -1, 2, 10, 0.5, -2.5, "", "a", "0", "abc")
_FORMATS = {
    "email": "a@b.co",
    "idn-email": "a@b.co",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uri": "http://example.com/a",
    "uri-reference": "/a",
    "iri": "http://example.com/a",
    "iri-reference": "/a",
    "uri-template": "/a/{b}",
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "duration": "P1D",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "regex": "^a$",
    "json-pointer": "/a",
    "relative-json-pointer": "0/a",
    "byte": "YQ==",
    "int32": 1,
    "int64": 1,
    "float": 1.5,
    "double": 1.5,
}


def witnesses(old: Side, new: Side, path: Path) -> tuple[Any, Any]:
    """``(a config old accepts and new rejects, a config new accepts and old rejects)``, each
    None when none is found among the candidates built for ``path``.

    A config counts only when the schema that rejects it does so at ``path``, inside it, or
    at a value that encloses it: not because of another change elsewhere.
    """
    up = down = None
    tried: set[str] = set()
    for config in itertools.islice(_configs([old.root], [new.root], path), _MAX_CANDIDATES):
        key = value_key(config)
        if key in tried:
            continue
        tried.add(key)
        before, after = _errors(old, config), _errors(new, config)
        if before is None or after is None or bool(before) == bool(after):
            continue
        if not before and up is None and _here(after, path):
            up = config
        elif not after and down is None and _here(before, path):
            down = config
        if up is not None and down is not None:
            break
    return up, down


def _errors(side: Side, config: Any) -> list[Path] | None:
    """Where ``side`` rejects ``config`` (empty: it accepts it; None: the check failed)."""
    try:
        validator = side.validator(side.root.pointer)
        return [tuple(str(p) for p in e.absolute_path) for e in validator.iter_errors(config)]
    except Exception:  # a candidate that trips a checker proves nothing either way
        return None


def _here(errors: list[Path], path: Path) -> bool:
    return all(
        all(x == y or WILDCARD in (x, y) for x, y in zip(at, path, strict=False)) for at in errors
    )


# --- candidate configs ---------------------------------------------------------------------


def _configs(old: list[Node], new: list[Node], path: Path) -> Iterator[Any]:
    """Configs with candidate values at ``path``, inside values the schemas at each level
    ask for (their required properties filled in)."""
    nodes = _views(old + new)
    if not path:
        yield from _values(nodes, depth=0)
        return
    head, rest = path[0], path[1:]
    inner = _configs(_children(_views(old), head), _children(_views(new), head), rest)
    values = list(itertools.islice(inner, _MAX_CANDIDATES))
    unique: dict[str, Any] = {}
    for base in _bases(nodes, head):
        unique.setdefault(value_key(base), base)
    for base in unique.values():  # every value in the likeliest container first
        for value in values:
            yield _place(base, head, value)


def _views(nodes: list[Node]) -> list[Node]:
    """The nodes and the branches of their compositions, each once."""
    out: list[Node] = []
    seen: set[tuple[int, str]] = set()
    stack = list(reversed(nodes))
    while stack and len(out) < _MAX_NODES:
        node = view(stack.pop())
        key = (id(node.side), node.pointer)
        if not isinstance(node.schema, Mapping) or key in seen:
            continue
        seen.add(key)
        out.append(node)
        for keyword in ("allOf", "anyOf", "oneOf"):
            branches = node.get(keyword)
            if isinstance(branches, list):
                stack += [node.child(keyword, i) for i in reversed(range(len(branches)))]
        for keyword in ("if", "then", "else", "not"):  # their values are worth a try too
            if isinstance(node.get(keyword), Mapping):
                stack.append(node.child(keyword))
    return out


def _children(nodes: list[Node], head: str) -> list[Node]:
    """The subschemas that apply to the value under key or index ``head`` (``*``: any)."""
    out: list[Node] = []
    for node in nodes:
        props = node.get("properties")
        if isinstance(props, Mapping):
            names = list(props) if head == WILDCARD else [head] if head in props else []
            out += [node.child("properties", name) for name in names]
        for keyword in ("additionalProperties", "items", "additionalItems", "contains"):
            if isinstance(node.get(keyword), Mapping):
                out.append(node.child(keyword))
        patterns = node.get("patternProperties")
        if isinstance(patterns, Mapping):
            out += [node.child("patternProperties", p) for p in patterns]
        for keyword in ("prefixItems", "items"):
            listed = node.get(keyword)
            if isinstance(listed, list):
                picked = range(len(listed)) if not head.isdigit() else [int(head)]
                out += [node.child(keyword, i) for i in picked if i < len(listed)]
    return out


def _bases(nodes: list[Node], head: str) -> Iterator[Any]:
    """Containers to put a value into under ``head``: objects with the required properties
    filled in, arrays with their listed positions, as the nodes allow."""
    kinds: set[str] = set()
    for node in nodes:
        kinds |= types(node) or {"object", "array"}
    if "object" in kinds and not head.isdigit():
        yield from _objects(nodes, depth=1)
        yield {}
    if "array" in kinds and (head.isdigit() or head == WILDCARD):
        for node in nodes[:4]:
            yield [_first(_children([node], str(i))) for i in range(_prefix_length(node))]
        yield []


def _place(base: Any, head: str, value: Any) -> Any:
    if isinstance(base, list):
        index = int(head) if head.isdigit() else len(base) if not base else 0
        filled = list(base) + [value] * (index + 1 - len(base))
        filled[index] = value
        return filled
    return {**base, ("x" if head == WILDCARD else head): value}


def _prefix_length(node: Node) -> int:
    for keyword in ("prefixItems", "items"):
        listed = node.get(keyword)
        if isinstance(listed, list):
            return len(listed)
    return 0


def _first(nodes: list[Node]) -> Any:
    return next(iter(_values(_views(nodes), depth=2)), None)


# --- candidate values ----------------------------------------------------------------------


def _values(nodes: list[Node], depth: int) -> list[Any]:
    """Values worth trying where ``nodes`` apply, each once (as JSON compares them)."""
    found: list[Any] = []
    for node in nodes:
        schema = node.schema
        found += allowed_values(node) or ()
        for keyword in ("default", "example"):
            if keyword in schema:
                found.append(schema[keyword])
        if isinstance(schema.get("examples"), list):
            found += schema["examples"]
        kinds = types(node) or frozenset({"string", "integer", "number", "object", "array"})
        found += [value for kind, value in _SIMPLE.items() if kind in kinds]
        if "string" in kinds:
            found += _strings(node)
        if kinds & {"integer", "number"}:
            found += _numbers(node, integer="number" not in kinds)
        if "array" in kinds and depth < 3:
            found += _arrays(node, depth)
        if "object" in kinds and depth < 3:
            found += _objects([node], depth)
    found += _SCALARS
    unique: dict[str, Any] = {}
    for value in found:
        unique.setdefault(value_key(value), value)
    return list(unique.values())[:_MAX_VALUES]


def _strings(node: Node) -> list[Any]:
    found: list[Any] = []
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        found += pattern_examples(pattern)
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        found.append(_FORMATS[fmt])
    for keyword, grow in (("minLength", 0), ("maxLength", 1)):
        count = node.get(keyword)
        if isinstance(count, int) and not isinstance(count, bool) and count + grow <= 256:
            found.append("a" * (count + grow))
    return found


def _numbers(node: Node, integer: bool) -> list[Any]:
    found: list[Any] = []
    for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        value = node.get(keyword)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found += [value, value - 1, value + 1]
            if not integer:
                found += [value - 0.5, value + 0.5]
    return found


def _arrays(node: Node, depth: int) -> list[Any]:
    positions = [_values(_views(_children([node], str(i))), depth + 1)[:2] for i in range(8)]
    rest = _values(_views(_children([node], WILDCARD)), depth + 1)[:3]
    length = _prefix_length(node)
    found: list[Any] = [[]]
    for extra in range(3):  # the listed positions, then 0 to 2 items after them
        for pick in (0, 1):
            head = [p[pick] if pick < len(p) else p[0] for p in positions[:length] if p]
            found += [head + [value] * extra for value in (rest or [None])]
    return found


def _objects(nodes: list[Node], depth: int) -> list[Any]:
    found: list[Any] = []
    for node in nodes:
        props = node.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = [r for r in node.get("required") or () if isinstance(r, str)]
        filled = {r: _first(_children([node], r)) for r in required}
        found.append(filled)
        if props and depth < 2:
            found.append({**{p: _first(_children([node], p)) for p in props}, **filled})
    return found


def pattern_examples(pattern: str) -> list[str]:
    """A few strings that match ``pattern`` as Python reads it (none when unsure)."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # private, but stable since 3.11

        parsed = list(_parser.parse(pattern))
    except Exception:  # not Python's regex syntax, or not this Python's parser
        return []
    found = []
    for more in (False, True):
        text = _render(parsed, more)
        if text is not None:
            found.append(text)
    for op, arg in parsed:  # each alternative of a top-level alternation
        if str(op) == "BRANCH":
            for alternative in arg[1]:
                text = _render(list(alternative), False)
                if text is not None:
                    found.append(text)
    return found


_CATEGORIES = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
}


def _render(items: list[Any], more: bool) -> str | None:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name in ("NOT_LITERAL", "ANY"):
            out.append("b" if name == "NOT_LITERAL" and arg == ord("a") else "a")
        elif name == "IN":
            text = _member(arg)
            if text is None:
                return None
            out.append(text)
        elif name == "CATEGORY":
            out.append(_CATEGORIES.get(str(arg), "a"))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = (
                low + 1
                if more and (high is None or str(high) == "MAXREPEAT" or high > low)
                else low
            )
            text = _render(list(sub), more)
            if text is None:
                return None
            out.append(text * min(count, 64))
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            text = _render(list(arg[-1] if name == "SUBPATTERN" else arg), more)
            if text is None:
                return None
            out.append(text)
        elif name == "BRANCH":
            text = _render(list(arg[1][0]), more)
            if text is None:
                return None
            out.append(text)
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:  # a back reference, a conditional group: give up
            return None
    return "".join(out)


def _member(items: list[Any]) -> str | None:
    if items and str(items[0][0]) == "NEGATE":
        return None
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            return chr(arg[0])
        if name == "CATEGORY":
            return _CATEGORIES.get(str(arg), "a")
    return None
