"""Structural sharing: freeze a candidate, reusing what the previous snapshot froze.

`settle` is the one walk a candidate's data gets on the reload path. It freezes the data as
`hotconf.pipeline.snapshot.freeze` does (read-only mappings with interned keys, tuples), but
where a subtree equals the one at the same path in the previous snapshot (same keys in the
same order, same values of the same types: ``1``, ``1.0``, ``true`` and ``0.0``/``-0.0``
differ, as in the checksum), it returns the previous frozen object itself. An unchanged
config costs no new objects, and the diff (`hotconf.pipeline.diff.changes`) skips every shared
subtree with one identity check, so its cost follows the change, not the config.

On the way it collects what the next stages would otherwise walk for: the floats (orjson may
write the canonical form only when it writes each of them as the stdlib does,
`hotconf.pipeline.encode`), whether jsonschema-rs may see the data (``plain``:
`hotconf.pipeline._fastpath`) and the node count the loader's limits speak of.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from sys import intern
from types import MappingProxyType
from typing import Any

from .snapshot import freeze

_INT64 = 2**63
_ABSENT: Any = object()


@dataclass(slots=True)
class Facts:
    """What `settle` saw.

    Attributes:
        nodes: the children of every mapping (keys and values) and list inside, as the
            loader's ``Limits.max_nodes`` counts them (the root itself not included).
        plain: only dicts with str keys, lists, str, bool, None, finite floats and 64-bit
            ints: data jsonschema-rs reads exactly as jsonschema does, and orjson encodes
            as the stdlib does but for floats.
        floats: every float, in no particular order (complete only when ``plain``).
        depth: how deep mappings and lists nest (the data itself is 1, a scalar 0), as
            ``Limits.max_depth`` counts.
    """

    nodes: int = 0
    plain: bool = True
    floats: list[float] = field(default_factory=list)
    depth: int = 0


def _same_leaf(a: Any, b: Any) -> bool:
    """Strict equality of two scalars: the type too, and the sign of a zero."""
    if a is b:
        return True
    t = type(a)
    if t is not type(b) or a != b:
        return False
    return t is not float or a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b)


def settle(data: Any, previous: Any = None, facts: Facts | None = None) -> tuple[Any, Facts]:
    """Freeze ``data``, sharing every subtree equal to ``previous``'s at the same path.

    Args:
        data: plain data (dicts, lists, scalars), as the loader makes it; anything else is
            frozen by `freeze` and makes ``facts.plain`` false.
        previous: the frozen data it may replace (a `Snapshot` or a value inside one), if any.
        facts: add to these (several top-level values of one document); default: new ones.

    Returns:
        ``(frozen, facts)``: ``frozen`` equals ``freeze(data)`` (same types, same key order);
        it *is* ``previous`` when the two are equal.

    Example:
        >>> old = freeze({"a": {"b": 1}, "c": [2]})
        >>> new, _ = settle({"a": {"b": 1}, "c": [3]}, old)
        >>> new["a"] is old["a"], new["c"] is old["c"]
        (True, False)
    """
    facts = facts if facts is not None else Facts()
    floats = facts.floats
    nodes = 0
    depth = 0
    plain = True
    proxy = MappingProxyType
    isfinite = math.isfinite
    absent = _ABSENT

    # The leaf checks are written out in both loops: a function call per leaf would cost
    # more than the rest of the walk. A container's frozen copy is only built once it is
    # known to differ from the previous one (then the equal members before are the previous
    # ones, which is what they would have been).
    def walk(value: Any, prev: Any, level: int) -> Any:
        nonlocal nodes, plain, depth
        t = type(value)
        if level > depth and (t is dict or t is list):
            depth = level
        if t is dict:
            nodes += 2 * len(value)
            pm = prev if type(prev) is proxy else None
            out: dict[str, Any] | None = None if pm is not None and len(pm) == len(value) else {}
            for i, (k, x) in enumerate(value.items()):
                if type(k) is not str:
                    plain = False
                px = pm.get(k, absent) if pm is not None else absent
                tx = type(x)
                if tx is dict or tx is list:
                    fx = walk(x, px, level + 1)
                    differs = fx is not px
                else:
                    fx = x
                    if tx is float:
                        floats.append(x)
                        if not isfinite(x):
                            plain = False
                    elif tx is int:
                        if not -_INT64 <= x < _INT64:
                            plain = False
                    elif tx is not str and tx is not bool and x is not None:
                        plain = False
                    differs = out is None and not (
                        x is px
                        or (type(px) is tx and px == x and (tx is not float or _same_leaf(x, px)))
                    )
                if differs and out is None:
                    assert pm is not None
                    out = {intern(key): pm[key] for key in islice(value, i)}
                if out is not None:
                    out[intern(k)] = fx
            if out is None:
                assert pm is not None
                if tuple(pm) == tuple(value):
                    return pm
                out = {intern(key): pm[key] for key in value}  # the same members, reordered
            return proxy(out)
        if t is list:
            nodes += len(value)
            pt = prev if type(prev) is tuple else None
            n = len(pt) if pt is not None else 0
            items: list[Any] | None = None if pt is not None and n == len(value) else []
            for i, x in enumerate(value):
                px = pt[i] if i < n else absent  # type: ignore[index]
                tx = type(x)
                if tx is dict or tx is list:
                    fx = walk(x, px, level + 1)
                    differs = fx is not px
                else:
                    fx = x
                    if tx is float:
                        floats.append(x)
                        if not isfinite(x):
                            plain = False
                    elif tx is int:
                        if not -_INT64 <= x < _INT64:
                            plain = False
                    elif tx is not str and tx is not bool and x is not None:
                        plain = False
                    differs = items is None and not (
                        x is px
                        or (type(px) is tx and px == x and (tx is not float or _same_leaf(x, px)))
                    )
                if differs and items is None:
                    assert pt is not None
                    items = list(pt[:i])
                if items is not None:
                    items.append(fx)
            return pt if items is None else tuple(items)
        if isinstance(value, Mapping | list | tuple):  # not what the loader makes
            plain = False
            return freeze(value)
        if t is float:
            floats.append(value)
            if not isfinite(value):
                plain = False
        elif t is int:
            if not -_INT64 <= value < _INT64:
                plain = False
        elif t is not str and t is not bool and value is not None:
            plain = False
        return value

    frozen = walk(data, previous, 1)
    facts.nodes += nodes
    facts.depth = max(facts.depth, depth)
    facts.plain = facts.plain and plain
    return frozen, facts


__all__ = ["Facts", "settle"]
