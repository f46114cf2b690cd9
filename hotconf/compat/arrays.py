"""The array rule: item counts, ``uniqueItems``, the items themselves, ``contains``.

The items are ``prefixItems`` then ``items`` (up to 2019-09: ``items`` as a list, then
``additionalItems``), compared position by position; where one side lists more positions than
the other, each extra one is compared with the other side's schema for the items after its list.
``minContains`` and ``maxContains`` are compared when both sides have ``contains``. A changed
``unevaluatedItems`` is semantic: what it covers depends on the other subschemas.
"""

from __future__ import annotations

from .comparator import WILDCARD, Comparator, Path, _moved
from .limits import _count
from .navigate import Node, allows, types
from .objects import _raw_semantic


def compare_arrays(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    """Item counts, ``uniqueItems``, the items themselves, ``contains``: where both admit arrays."""
    if not (allows(types(o), "array") and allows(types(n), "array")):
        return
    _count(cmp, o, n, path, "minItems", "maxItems")
    uo, un = o.get("uniqueItems") is True, n.get("uniqueItems") is True
    if uo != un:
        state, effect, verdict = _moved(un)
        where = (n if un else o).at("uniqueItems")
        text = f"uniqueItems {state}: lists with duplicates are now {verdict}"
        cmp.emit(f"limit_{state}", path, where, effect, text, uo, un)
    (pre_o, rest_o), (pre_n, rest_n) = _tuple(o), _tuple(n)
    for i in range(max(len(pre_o), len(pre_n))):
        old = pre_o[i] if i < len(pre_o) else rest_o
        cmp.compare(old, pre_n[i] if i < len(pre_n) else rest_n, (*path, str(i)))
    cmp.compare(rest_o, rest_n, (*path, WILDCARD))
    if not cmp.presence("contains", path, o, n, "contains", "lists without a match are"):
        old, new, where = o.child("contains"), n.child("contains"), n.at("contains")
        cmp.folded("contains_changed", old, new, path, where, "contains changed")
        _count(cmp, o, n, path, "minContains", "maxContains", floor=1)
    _raw_semantic(cmp, o, n, path, "unevaluatedItems")


def _tuple(node: Node) -> tuple[list[Node], Node]:
    """The per-position item schemas and the schema of the items after them."""
    items, prefix = node.get("items"), node.get("prefixItems")
    if isinstance(items, list) and node.side.tuple_items:
        return [node.child("items", i) for i in range(len(items))], node.sub("additionalItems")
    count = len(prefix) if isinstance(prefix, list) else 0
    return [node.child("prefixItems", i) for i in range(count)], node.sub("items")
