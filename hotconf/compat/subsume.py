"""Proofs that one schema accepts every config another accepts, through ``allOf``, ``anyOf``
and ``oneOf``.

The keyword rules compare a composition with a composition branch by branch, and a schema
that gains or loses a composition as a composition added or removed: sound, but a type that
becomes a union containing it, ``oneOf`` rewritten as ``anyOf``, or a duplicated ``allOf``
branch then read as breaking while no config is rejected. Where a node holds a composition,
`refine` tries to prove the inclusion each way with the usual algebra (``anyOf`` and
``oneOf`` are unions, ``allOf`` an intersection, a ``oneOf`` branch counts once it is proven
disjoint from the others) down to pairs of plain schemas, which the Comparator compares as
usual; what it proves replaces the rules' verdict at that node. Every step is a sufficient
condition: a proof that fails leaves the rules' verdict as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .comparator import Comparator, Effect, Finding, Path, summarize
from .composition import _disjoint
from .navigate import Node, _uses_unevaluated, view

_COMPOSITIONS = ("allOf", "anyOf", "oneOf")
_MAX_DEPTH = 8  # nested compositions followed in one proof
_DIRECT_COMPARISONS = 500  # at most, for the rules' verdict on one pair of branches


def refine(cmp: Comparator, o: Node, n: Node, path: Path, found: list[Finding]) -> list[Finding]:
    """The findings of the pair ``o``, ``n``, with what a proof of inclusion can tell."""
    kinds = (o.active() | n.active()) & set(_COMPOSITIONS)
    if not kinds or cmp.proof_budget <= 0 or not _provable(cmp, o, n, path):
        return found
    effect, _ = summarize(found)
    if effect == "none":
        return found
    up = effect == "widen" or subset(cmp, o, n, path)  # every old config passes the new schema
    down = effect == "narrow" or subset(cmp, n, o, path)  # every new config passed the old
    if (up, down) == (effect == "widen", effect == "narrow"):
        return found  # nothing the rules did not know
    proven: Effect = "none" if up and down else "widen" if up else "narrow"
    kept = [f for f in found if f.effect == "none" and not f.effects]
    replaced = [f for f in found if not (f.effect == "none" and not f.effects)]
    verdict = {
        "none": "the same configs are accepted",
        "widen": "every config accepted before is still accepted",
        "narrow": "every config accepted now was accepted before",
    }[proven]
    verdict += " (proven branch by branch)"
    if len(replaced) == 1:  # one finding: it keeps its kind, with the effect proven
        f = replaced[0]
        return [
            *kept,
            replace(f, effect=proven, effects=frozenset(), reason=f"{f.reason}; {verdict}"),
        ]
    keyword = next((k for k in _COMPOSITIONS if k in n.active()), None)
    where = n.at(keyword) if keyword else n.pointer
    text = f"{_shape(o)} became {_shape(n)}: {verdict}"
    return [*kept, Finding("composition_rewritten", path, where, proven, text)]


def _provable(cmp: Comparator, o: Node, n: Node, path: Path) -> bool:
    # an OpenAPI 3.0 discriminator picks a branch by a property; unevaluated* keywords read
    # what the branches evaluated: neither is a plain union or intersection
    if "discriminator" in o.active() | n.active():
        return False
    if _uses_unevaluated(o) or _uses_unevaluated(n):
        return False
    return path not in cmp._unevaluated and path[:-1] not in cmp._unevaluated


def subset(cmp: Comparator, a: Node, b: Node, path: Path, depth: int = 0) -> bool:
    """Is every value ``a`` accepts accepted by ``b``? True only when proven."""
    a, b = view(a), view(b)
    if a.schema is False or (isinstance(b.schema, Mapping) and not b.active()):
        return True
    cmp.proof_budget -= 1
    if b.schema is False or depth > _MAX_DEPTH or cmp.proof_budget <= 0:
        return False
    if not _provable(cmp, a, b, path):
        return _direct(cmp, a, b, path)
    mine = [k for k in _COMPOSITIONS if isinstance(a.get(k), list)]
    theirs = [k for k in _COMPOSITIONS if isinstance(b.get(k), list)]
    deeper = depth + 1
    # a union on the left: each branch (narrowed by the rest of a) must be in b
    for keyword in ("anyOf", "oneOf"):
        if keyword in mine:
            rest = _without(a, (keyword,))
            if all(subset(cmp, x, b, path, deeper) for x in _branches(a, keyword)):
                return True
            if rest.active() and subset(cmp, rest, b, path, deeper):
                return True
    # a union of types (a nullable schema folded from anyOf [S, null] included) is the
    # union of its one-type parts: each may fall in a different branch of b
    listed = a.get("type")
    split = isinstance(listed, list) and len(listed) > 1 and "enum" not in a.active()
    if theirs and split and all(subset(cmp, _typed(a, t), b, path, deeper) for t in listed):
        return True
    if theirs:  # b is the rest of b and each of its compositions
        rest = _without(b, theirs)
        if rest.active() and not subset(cmp, a, rest, path, deeper):
            return _left_intersection(cmp, a, b, mine, path, deeper)
        for keyword in theirs:
            branches = _branches(b, keyword)
            if keyword == "allOf":
                ok = all(subset(cmp, a, x, path, deeper) for x in branches)
            elif keyword == "anyOf":
                ok = any(subset(cmp, a, x, path, deeper) for x in branches)
            else:
                ok = any(
                    subset(cmp, a, x, path, deeper) and _alone(a, x, branches) for x in branches
                )
            if not ok:
                return _left_intersection(cmp, a, b, mine, path, deeper)
        return True
    return _left_intersection(cmp, a, b, mine, path, deeper) or _direct(cmp, a, b, path)


def _left_intersection(
    cmp: Comparator, a: Node, b: Node, mine: list[str], path: Path, depth: int
) -> bool:
    # a is the rest of a and each of its compositions: any one of them inside b will do
    if "allOf" not in mine:
        return False
    if any(subset(cmp, x, b, path, depth) for x in _branches(a, "allOf")):
        return True
    rest = _without(a, ("allOf",))
    return bool(rest.active()) and subset(cmp, rest, b, path, depth)


def _alone(a: Node, chosen: Node, branches: list[Node]) -> bool:
    """Does a value of ``a`` (inside ``chosen``) match no other ``oneOf`` branch?"""
    va, vc = view(a), view(chosen)
    return all(
        _disjoint(vc, view(y)) or _disjoint(va, view(y)) for y in branches if y is not chosen
    )


def _direct(cmp: Comparator, a: Node, b: Node, path: Path) -> bool:
    """The keyword rules' verdict on ``a`` and ``b``, from a comparator of their own: one
    that proves nothing by itself, and whose stack holds only this comparison (the pair
    being proven may be on ``cmp``'s, where it would count as equal)."""
    rules = Comparator(
        cmp.sensitive,
        cmp.rules,
        max_comparisons=min(_DIRECT_COMPARISONS, cmp.proof_budget),
        max_depth=cmp.max_depth,
    )
    rules.compare(a, b, path)
    cmp.proof_budget -= rules.calls
    effect, _ = summarize(rules.findings)
    return effect in ("none", "widen")


def _branches(node: Node, keyword: str) -> list[Node]:
    value = node.get(keyword)
    return [node.child(keyword, i) for i in range(len(value))] if isinstance(value, list) else []


def _without(node: Node, keywords: Any) -> Node:
    """``node`` without some keywords. Its own pointer is a new one, so the Comparator does
    not take it for ``node`` (a pair on its stack counts as equal); its keywords still say
    where they are."""
    schema = {k: v for k, v in node.schema.items() if k not in keywords}
    origins = {k: node.origin(k) for k in schema}
    fixed = {k: v for k, v in node.fixed.items() if k[0] in schema}
    pointer = f"{node.pointer}\x00without {' '.join(keywords)}"
    return Node(node.side, schema, pointer, node.resolver, origins, fixed)


def _typed(node: Node, kind: Any) -> Node:
    """``node`` with ``type`` narrowed to one of its types (a new pointer, as `_without`)."""
    schema = {**node.schema, "type": kind}
    origins = {k: node.origin(k) for k in schema}
    pointer = f"{node.pointer}\x00type {kind}"
    return Node(node.side, schema, pointer, node.resolver, origins, dict(node.fixed))


def _shape(node: Node) -> str:
    found = [k for k in _COMPOSITIONS if isinstance(node.get(k), list)]
    if not found:
        return "a schema without allOf/anyOf/oneOf"
    parts = []
    for keyword in found:
        count = len(node.get(keyword))
        parts.append(f"{keyword} of {count} branch{'es' * (count != 1)}")
    return " and ".join(parts)
