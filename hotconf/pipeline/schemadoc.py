"""A schema document as `hotconf.pipeline.schema.Schema` takes it in: a private copy in plain
JSON types, and the meta-schema check done one schema node at a time.

The check by nodes rests on how the meta-schemas of JSON Schema draft-04 to 2020-12 are built:
at every place where a schema holds subschemas (`hotconf.pipeline.refs.ONE`, ``MANY``,
``NAMED``) the meta-schema either applies itself (``$ref: "#"``, ``$recursiveRef``,
``$dynamicRef: "#meta"``, or a choice that includes itself) and checks nothing else about those
subschemas, or says nothing about the keyword at all; no rule of a meta-schema ties those
keywords to others (tests/pipeline/test_schema_startup.py reads the bundled meta-schemas to hold
them to that). So a document is valid when each of its schema nodes is valid with its subschemas
left out: the single ones and the named ones dropped (but the names of ``patternProperties``,
which must be regexes), the lists of them kept at their length with ``{}`` in their place.
Generated schemas repeat the same nodes, and equal nodes are checked once. It only ever says
"valid": on any doubt the caller checks the whole document, which also words the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .refs import MANY, NAMED, ONE


class NotPlain(Exception):
    """A value that is not JSON: ``message`` says what, ``where`` is its path."""

    def __init__(self, message: str, where: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.message, self.where = message, where


_LEAVES = frozenset({str, int, bool, type(None)})


def plain_copy(value: Any) -> Any:
    """A deep copy in plain JSON types: mappings become dicts (int keys as strings), tuples
    lists.

    Raises:
        NotPlain: a key that is not a string or an int, or a value that is not JSON (a NaN,
            an infinity, any other type), at the first place it occurs.
    """
    try:
        return _copy(value)
    except _Refused:
        _locate(value, ())
        raise AssertionError("_locate raises where _copy refused") from None  # pragma: no cover


class _Refused(Exception):
    pass


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict or (kind not in _LEAVES and isinstance(value, Mapping)):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str:
                if isinstance(k, bool) or not isinstance(k, str | int):
                    raise _Refused
                k = str(k)
            out[k] = v if type(v) in _LEAVES else _copy(v)
        return out
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return [v if type(v) in _LEAVES else _copy(v) for v in value]
    if kind in _LEAVES or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return value
    raise _Refused


def _locate(value: Any, where: tuple[str | int, ...]) -> None:
    # Raise NotPlain for the first place `_copy` refuses (the slow walk, with paths).
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, str | int):
                raise NotPlain(f"key {k!r} is not a string", where)
            _locate(v, (*where, str(k)))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _locate(v, (*where, i))
    elif value is None or isinstance(value, str | bool | int):
        return
    elif not (isinstance(value, float) and value == value and abs(value) != float("inf")):
        raise NotPlain(f"{type(value).__name__} value is not JSON", where)


def node_stubs(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each schema node of a plain JSON Schema document with its subschemas stubbed out (see
    the module docstring), equal ones once.

    A boolean subschema is checked alone, once per keyword and value: the
    ``additionalProperties: false`` on every object of a strict schema is one check.
    """
    stubs: dict[str, dict[str, Any]] = {}

    def add(stub: dict[str, Any]) -> None:
        stubs.setdefault(repr(stub), stub)  # plain data: equal reprs, equal nodes

    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        stub: dict[str, Any] = {}
        for key, value in node.items():
            kind = type(value)
            if key in ONE and (kind is dict or kind is bool):
                if kind is dict:
                    stack.append(value)
                else:
                    add({key: value})
            elif key in NAMED and kind is dict:
                stack += [v for v in value.values() if type(v) is dict]
                if key == "patternProperties":  # its names must be regexes: they stay
                    stub[key] = {k: {} if type(v) is dict else v for k, v in value.items()}
                    continue
                stub[key] = {}
                for name, item in value.items():
                    if type(item) is bool:
                        add({key: {"": item}})
                    elif type(item) is not dict:
                        stub[key][name] = item
            elif key in MANY and kind is list:  # its length counts: `{}` in place
                stack += [v for v in value if type(v) is dict]
                for item in value:
                    if type(item) is bool:
                        add({key: [item]})
                stub[key] = [{} if type(v) is dict or type(v) is bool else v for v in value]
            else:
                stub[key] = value
        add(stub)
    return list(stubs.values())
