"""The composition rule: ``allOf``, ``anyOf``, ``oneOf``, ``not``, ``if``/``then``/``else``.

Equivalent branches are paired first, so reordering branches changes nothing; the others are
paired in order when both sides have as many, and are otherwise added or removed. A ``oneOf``
change has the effect its branches say only when the branches are provably disjoint (by type,
by allowed values, or by a required property whose allowed values differ). A ``oneOf`` branch
that overlaps another is shown with a witness: a value both accept, found by trying candidate
values against the validator. Under an OpenAPI 3.0 ``discriminator`` any change of the branches
is semantic. ``not`` inverts the effect under it; a changed ``if`` is semantic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .comparator import _INVERT, Comparator, Finding, Path, _moved, _reasons, _show, summarize
from .navigate import Node, _keys, allowed_values, types, value_key, view
from .objects import _named, _required

_COMPOSITIONS = ("allOf", "anyOf", "oneOf")


def compare_compositions(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    """``allOf``/``anyOf``/``oneOf`` (with ``discriminator``), ``not``, ``if``/``then``/``else``."""
    _branching(cmp, o, n, path)
    _not(cmp, o, n, path)
    _conditional(cmp, o, n, path)


def _branching(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    def each() -> None:
        for keyword in _COMPOSITIONS:
            _composition(cmp, keyword, o, n, path)

    found = cmp.collect(each)
    if "discriminator" in o.active() | n.active():  # OpenAPI 3.0: a property picks a branch
        same = value_key(o.get("discriminator")) == value_key(n.get("discriminator"))
        if summarize(found)[0] != "none" or not same:
            text = "branches or discriminator changed under an OpenAPI 3.0 discriminator"
            cmp.emit("branch_changed", path, n.pointer, "semantic", text)
            return
    cmp.findings.extend(found)


def _composition(cmp: Comparator, keyword: str, o: Node, n: Node, path: Path) -> None:
    lo, ln = _branches(o, keyword), _branches(n, keyword)
    if lo is None or ln is None:
        nodes = ln if lo is None else lo
        if nodes is not None:
            state, effect, _ = _moved(lo is None)
            trivial = [_is_true(view(b)) for b in nodes]
            if any(trivial) if keyword == "anyOf" else all(trivial) and keyword == "allOf":
                effect = "none"
            text = f"{keyword} {state}: configs {'must' if lo is None else 'no longer have to'} "
            text += f"match {'all' if keyword == 'allOf' else 'one'} of {len(nodes)} branches"
            where = (n if lo is None else o).at(keyword)
            cmp.emit(f"composition_{state}", path, where, effect, text)
        return
    pairs: list[tuple[Node, Node, list[Finding]]] = []
    rest_o, rest_n = list(lo), list(ln)
    for a in lo:  # pair equivalent branches first: reordering branches changes nothing
        for b in rest_n:
            found = cmp.sub(a, b, path)
            if summarize(found)[0] == "none":
                pairs.append((a, b, found))
                rest_o.remove(a)
                rest_n.remove(b)
                break
    if len(rest_o) == len(rest_n):
        pairs += [(a, b, cmp.sub(a, b, path)) for a, b in zip(rest_o, rest_n, strict=True)]
        rest_o, rest_n = [], []
    disjoint = keyword != "oneOf" or (_disjoint_all(lo) and _disjoint_all(ln))
    for _, b, found in pairs:
        if disjoint or summarize(found)[0] == "none":
            cmp.findings.extend(found)
        else:
            text = "a oneOf branch changed and the branches are not provably disjoint, so "
            text += f"which configs match exactly one is unprovable: {_reasons(found)}"
            cmp.emit("branch_changed", path, b.pointer, "semantic", text)
    for a in rest_o:
        _branch(cmp, keyword, a, [x for x in lo if x is not a], path, added=False)
    for b in rest_n:
        _branch(cmp, keyword, b, [x for x in ln if x is not b], path, added=True)


def _branch(
    cmp: Comparator, keyword: str, branch: Node, others: list[Node], path: Path, added: bool
) -> None:
    _, effect, verdict = _moved(not added)  # a branch added to anyOf widens
    kind = f"branch_{'added' if added else 'removed'}"
    if keyword == "allOf":
        effect = "none" if _is_true(view(branch)) else _INVERT[effect]
        text = "configs must also match it" if added else "configs no longer have to match it"
    elif keyword == "anyOf":
        text = f"configs that match only it are now {verdict}"
    else:
        verdicts = [(other, *_overlap(branch, other)) for other in others]
        proven = [(other, value) for other, v, value in verdicts if v == "overlap"]
        if proven:
            j = proven[0][0].pointer.rsplit("/", 1)[-1]
            kind, effect = "branch_overlap" if added else kind, "change"
            text = f"it overlaps oneOf branch {j} ({_show(proven[0][1])} matches both): "
            if added:
                text += f"configs that matched only branch {j} now match two: rejected"
            else:
                text += "configs that matched both are now accepted, the others rejected"
        elif all(v == "disjoint" for _, v, _ in verdicts):
            text = f"disjoint from the other branches: configs that match it are now {verdict}"
        else:
            effect, text = "semantic", "whether it overlaps another branch is unprovable"
    index = branch.pointer.rsplit("/", 1)[-1]
    text = f"{keyword} branch {index} {'added' if added else 'removed'}: {text}"
    cmp.emit(kind, path, branch.pointer, effect, text)


def _disjoint_all(nodes: list[Node]) -> bool:
    views = [view(x) for x in nodes]
    return all(_disjoint(views[i], views[j]) for i in range(len(views)) for j in range(i))


def _overlap(a: Node, b: Node) -> tuple[str, Any]:
    """``("overlap", a value both accept)``, ``("disjoint", None)`` or ``("unknown", None)``."""
    va, vb = view(a), view(b)
    if _disjoint(va, vb):
        return "disjoint", None
    for value in _candidates(va, vb):
        if a.side.accepts(a.pointer, value) and a.side.accepts(b.pointer, value):
            return "overlap", value
    return "unknown", None


def _not(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    if not cmp.presence("not", path, o, n, "not", "values matching its schema are"):
        text = "the schema under not changed (so the effect is inverted)"
        cmp.folded("not_changed", o.child("not"), n.child("not"), path, n.at("not"), text)


def _conditional(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    if cmp.presence("conditional", path, o, n, "if", "configs failing its then/else are"):
        return
    found = cmp.sub(o.child("if"), n.child("if"), path)
    if summarize(found)[0] != "none":
        text = f"the if condition changed ({_reasons(found)}): which configs take which "
        cmp.emit("conditional_changed", path, n.at("if"), "semantic", text + "branch is unprovable")
        return
    for keyword in ("then", "else"):
        cmp.compare(o.sub(keyword), n.sub(keyword), path)


def _is_true(node: Node) -> bool:
    return isinstance(node.schema, Mapping) and not node.active()


def _branches(node: Node, keyword: str) -> list[Node] | None:
    value = node.get(keyword)
    return [node.child(keyword, i) for i in range(len(value))] if isinstance(value, list) else None


def _disjoint(a: Node, b: Node) -> bool:
    """Can no value match both ``a`` and ``b``? True only when that is proven."""
    if a.schema is False or b.schema is False:
        return True
    ta, tb = types(a), types(b)
    if (
        ta is not None
        and tb is not None
        and not any(x == y or {x, y} == {"integer", "number"} for x in ta for y in tb)
    ):
        return True
    va, vb = allowed_values(a), allowed_values(b)
    if va is not None and vb is not None and not _keys(va) & _keys(vb):
        return True
    for values, allowed in ((va, tb), (vb, ta)):
        if (
            values is not None
            and allowed is not None
            and not any(_json_types(v) & allowed for v in values)
        ):
            return True
    if not any(t is not None and t <= {"object"} for t in (ta, tb)):
        return False
    # Objects with a required property whose allowed values differ (a discriminator).
    pa, pb = _named(a, "properties"), _named(b, "properties")
    for name in set(_required(a)) & set(_required(b)) & set(pa) & set(pb):
        xa, xb = allowed_values(pa[name]), allowed_values(pb[name])
        if xa is not None and xb is not None and not _keys(xa) & _keys(xb):
            return True
    return False


def _json_types(value: Any) -> set[str]:
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int | float):
        return {"number", "integer"} if float(value).is_integer() else {"number"}
    if isinstance(value, str):
        return {"string"}
    return {"array"} if isinstance(value, list | tuple) else {"object"}


_CANDIDATES: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 2, 10, 0.5, 1.5, -2.5, "", "a", "0", "abc", "a@b.co",
    "2024-01-01", "127.0.0.1", [], [0], ["a"], {},
)  # fmt: skip
_SIMPLE = {"string": "a", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}


def _sample(node: Node) -> Any:
    if not isinstance(node.schema, Mapping):
        return None
    ref = node.get("$ref")
    if isinstance(ref, str):
        node = node.side.lookup(node, "$ref", ref)
    values = allowed_values(node) or node.schema.get("examples") or ()
    if "default" in node.schema:
        return node.schema["default"]
    if values:
        return values[0]
    return _SIMPLE.get(min(types(node) or {"string"}))


def _candidates(*nodes: Node) -> Iterator[Any]:
    """Values worth trying as witnesses that two subschemas overlap."""
    yield from _CANDIDATES
    for node in nodes:
        if isinstance(node.schema, Mapping):
            yield from allowed_values(node) or ()
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "default"):
                if key in node.schema:
                    yield node.schema[key]
            props, required = _named(node, "properties"), set(_required(node))
            yield {k: _sample(v) for k, v in props.items() if k in required}
            yield {k: _sample(v) for k, v in props.items()}
