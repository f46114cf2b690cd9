"""Deltas between two versions of a config: what the history stores instead of whole copies.

A delta turns one config (its *base*) into another exactly: values and their types (``1``,
``1.0`` and ``true`` differ, so do ``0.0`` and ``-0.0``, as in the checksum) and the order of
every mapping's keys, which the canonical form sorts away but the document had. It is plain
JSON, four lists of operations applied in this order::

    {"d": [path, ...],                    delete the mapping key at path
     "s": [[*path, value], ...],          set path to value (a new key goes last)
     "l": [[*path, [start, stop, items]]], replace list[start:stop] with items
     "o": [[*path, [key, ...]]]}          put the mapping's keys in this order

A path is a list of mapping keys (strings) and list indices (integers), so applying one is
a walk of item lookups, nothing to parse. `hotconf.store.history` keeps the newest version
whole and each older one as the delta from the version after it (`diff` (newer, older)),
compressed (`pack`); `patch` replays them. No SQL here.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Delta = dict[str, list[Any]]
_MISSING: Any = object()

_MAPPING, _SEQUENCE = 1, 2
_KINDS: dict[type, int] = {
    dict: _MAPPING,
    MappingProxyType: _MAPPING,
    list: _SEQUENCE,
    tuple: _SEQUENCE,
    str: 0,
    int: 0,
    float: 0,
    bool: 0,
    type(None): 0,
}


def _kind(value: Any) -> int:
    kind = _KINDS.get(type(value))
    if kind is None:  # a Snapshot (a dict subclass) or another Mapping
        kind = (
            _MAPPING if isinstance(value, Mapping) else _SEQUENCE if isinstance(value, list) else 0
        )
    return kind


def _json_default(value: Any) -> Any:
    if type(value) is MappingProxyType or isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON-compatible: {type(value).__name__}")


def dumps(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, keys in their own order (frozen data too)."""
    return _text(data).encode("utf-8")


def _text(data: Any) -> str:
    return json.dumps(
        data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
    )


@dataclass(frozen=True, slots=True)
class Encoded:
    """A config's JSON, one piece per top-level key: the next version's `encode` reuses the
    pieces of the values it shares (the same objects), and `diff` skips the keys whose pieces
    are equal (equal JSON is strictly equal data: types, key order, the sign of a zero)."""

    values: Mapping[str, Any]
    texts: Mapping[str, str]

    def body(self) -> bytes:
        """The whole config's JSON, as `dumps` makes it."""
        items = ",".join(f"{_text(key)}:{text}" for key, text in self.texts.items())
        return f"{{{items}}}".encode()


def encode(data: Mapping[str, Any], previous: Encoded | None = None) -> Encoded:
    """``data`` as `Encoded`, reusing ``previous``'s piece of each value that is the same
    object (pass ``previous`` only for frozen data: a plain value may have changed since)."""
    texts = {}
    for key, value in data.items():
        if previous is not None and previous.values.get(key, _MISSING) is value:
            texts[key] = previous.texts[key]
        else:
            texts[key] = _text(value)
    return Encoded(dict(data.items()), texts)


def same(a: Any, b: Any) -> bool:
    """Strict equality: same types, same key order, the sign of a zero (what `diff` keeps)."""
    if a is b:
        return True
    kind = _kind(a)
    if kind != _kind(b):
        return False
    if kind == _MAPPING:
        return len(a) == len(b) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if kind == _SEQUENCE:
        return len(a) == len(b) and all(map(same, a, b))
    return _same_scalar(a, b)


def _same_scalar(a: Any, b: Any) -> bool:
    kind = type(a)
    if kind is not type(b) or a != b:
        return False
    return kind is not float or a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b)


def diff(
    base: Mapping[str, Any], target: Mapping[str, Any], *, equal: Collection[str] = ()
) -> Delta:
    """The delta that turns ``base`` into ``target`` (``{}`` when they are the same).

    Subtrees that are the same object are skipped at once, so two frozen configs sharing
    their unchanged parts cost what changed; so are the top-level keys in ``equal``, known
    to hold strictly equal values in both (`Encoded`).
    """
    deletes: list[Any] = []
    sets: list[Any] = []
    splices: list[Any] = []
    orders: list[Any] = []

    def child(old: Any, value: Any, path: list[Any], key: Any) -> None:
        # value replaces old at path + [key], unless they are the same
        kind = _KINDS.get(type(value))
        if kind == 0:  # a scalar
            if not _same_scalar(old, value):
                sets.append([*path, key, value])
            return
        if kind is None:
            kind = _kind(value)
        if kind == _kind(old):
            walk(old, value, [*path, key])
        else:
            sets.append([*path, key, value])

    def walk(a: Any, b: Any, path: list[Any], skip: Collection[str] = ()) -> None:
        # a and b are both mappings or both sequences
        if _kind(a) == _MAPPING:
            for key, value in b.items():
                old = a.get(key, _MISSING)
                if old is value or key in skip:
                    continue
                if old is _MISSING:
                    sets.append([*path, key, value])
                else:
                    child(old, value, path, key)
            order = list(b)
            natural = list(a)
            if natural != order:
                if len(a) != len(b) or any(k not in b for k in natural):
                    deletes.extend([*path, k] for k in natural if k not in b)
                    natural = [k for k in natural if k in b]
                    natural.extend(k for k in order if k not in a)
                if natural != order:
                    orders.append([*path, order])
            return
        if len(a) != len(b):  # the middle that differs, between a common head and tail
            la, lb = len(a), len(b)
            start = tail = 0
            while start < la and start < lb and same(a[start], b[start]):
                start += 1
            while tail < la - start and tail < lb - start and same(a[-1 - tail], b[-1 - tail]):
                tail += 1
            splices.append([*path, [start, la - tail, list(b[start : lb - tail])]])
            return
        for index, (old, value) in enumerate(zip(a, b, strict=True)):
            if old is not value:
                child(old, value, path, index)

    walk(base, target, [], equal)
    delta: Delta = {}
    for name, ops in (("d", deletes), ("s", sets), ("l", splices), ("o", orders)):
        if ops:
            delta[name] = ops
    return delta


def patch(data: dict[str, Any], delta: Delta) -> dict[str, Any]:
    """Apply ``delta`` to plain ``data`` (dicts and lists, as `json.loads` makes them), in
    place; returns ``data``."""
    for path in delta.get("d", ()):
        del _walk(data, path, -1)[path[-1]]
    for op in delta.get("s", ()):
        _walk(data, op, -2)[op[-2]] = op[-1]
    for op in delta.get("l", ()):
        start, stop, items = op[-1]
        _walk(data, op, -1)[start:stop] = items
    for op in delta.get("o", ()):
        node = _walk(data, op, -1)
        items = [(key, node[key]) for key in op[-1]]
        node.clear()
        node.update(items)
    return data


def _walk(node: Any, path: list[Any], stop: int) -> Any:
    for step in path[:stop]:
        node = node[step]
    return node


def pack(data: Any, level: int = 6) -> tuple[bytes, int]:
    """``data`` as zlib-compressed JSON, and the length of the JSON before compression."""
    raw = dumps(data)
    return zlib.compress(raw, level), len(raw)


def unpack(blob: bytes) -> Any:
    """The inverse of `pack`."""
    return json.loads(zlib.decompress(blob))
