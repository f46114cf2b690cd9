"""The object rule: ``required``, key counts, properties, property names, dependencies.

Properties are ``properties``, ``patternProperties`` and ``additionalProperties`` (and
``unevaluatedProperties`` where it means the same). A property named on one side only is
compared with what checked its values on the other side: a ``patternProperties`` schema that
matches its name, ``additionalProperties``, or nothing. A changed set of ``patternProperties``
patterns is semantic, and so is a changed ``unevaluatedProperties`` (or ``unevaluatedItems``,
for the array rule) whose reach depends on other subschemas. Dependencies are
``dependentRequired``, ``dependentSchemas`` and ``dependencies``. In OpenAPI 3.0 a required
property marked ``readOnly`` or ``writeOnly`` is not required.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..pipeline.paths import to_pointer
from .comparator import WILDCARD, Comparator, Path, _moved, _reasons, summarize
from .limits import _count
from .navigate import _MISSING, Node, _simple_unevaluated, allows, types, value_key, view


def compare_objects(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    """``required``, key counts, properties, names, dependencies: where both admit objects."""
    if not (allows(types(o), "object") and allows(types(n), "object")):
        return
    ro, rn = _required(o), _required(n)
    for name in [r for r in rn if r not in ro]:
        default = _property_default(n, name)
        text = f"{name!r} is now required: configs without it are rejected"
        if default is not _MISSING:
            text += f" (its default {cmp.show(default, (*path, name))} does not help)"
        cmp.emit("required_added", (*path, name), n.at("required"), "narrow", text, None, name)
    for name in [r for r in ro if r not in rn]:
        text = f"{name!r} is no longer required"
        cmp.emit("required_removed", (*path, name), o.at("required"), "widen", text, name)
    _count(cmp, o, n, path, "minProperties", "maxProperties")
    _properties(cmp, o, n, path)
    if o.get("propertyNames") is not None or n.get("propertyNames") is not None:
        old, new, where = o.sub("propertyNames"), n.sub("propertyNames"), n.at("propertyNames")
        cmp.folded("property_names_changed", old, new, path, where, "property names")
    _dependent(cmp, o, n, path)
    _raw_semantic(cmp, o, n, path, "unevaluatedProperties")


def _properties(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    po, pn = _named(o, "properties"), _named(n, "properties")
    pat_o, pat_n = _named(o, "patternProperties"), _named(n, "patternProperties")
    xo, xn = _extra(o), _extra(n)
    every = (*path, WILDCARD)
    if set(pat_o) != set(pat_n):
        text = "patternProperties patterns changed: which keys they cover is unprovable"
        where = n.at("patternProperties")
        cmp.emit("pattern_properties_changed", every, where, "semantic", text)
    else:
        for pattern in pat_o:
            cmp.compare(pat_o[pattern], pat_n[pattern], every)
    for name in [*po, *(k for k in pn if k not in po)]:
        if name in po and name in pn:
            cmp.compare(po[name], pn[name], (*path, name))
        else:
            other = (pat_o, xo, o) if name not in po else (pat_n, xn, n)
            _property_moved(cmp, name, (*path, name), po, pn, other)
    if xo is None and xn is None:
        return
    old = xo[1] if xo else o.sub("additionalProperties")
    new = xn[1] if xn else n.sub("additionalProperties")
    if xo and xn and xo[0] == xn[0] and all(isinstance(x.schema, Mapping) for x in (old, new)):
        cmp.compare(old, new, every)
        return
    keys = ", ".join(sorted(set(po) | set(pn)))
    keyword = (xn or xo or ("additionalProperties",))[0]
    text = f"{keyword} changed from {_label(xo)} to {_label(xn)}: values under "
    text += f"keys other than {keys}" if keys else "any key"
    where = (n if xn else o).at(keyword)
    cmp.folded("additional_properties_changed", old, new, every, where, text)


def _property_moved(
    cmp: Comparator,
    name: str,
    where: Path,
    po: Mapping[str, Node],
    pn: Mapping[str, Node],
    other: tuple[Any, Any, Node],
) -> None:
    # A property named on one side only: on the other side its value was (or is) checked
    # by patternProperties, additionalProperties, or nothing.
    patterns, extra, node = other
    added = name not in po
    if any(_search(p, name) for p in patterns):
        fallback, what = node.sub("patternProperties"), "patternProperties only"
    elif extra:
        fallback, what = extra[1], extra[0]
    else:
        fallback, what = node.sub("additionalProperties"), "nothing (any value)"
    found = cmp.sub(fallback, pn[name], where) if added else cmp.sub(po[name], fallback, where)
    effect, effects = summarize(found)
    state = _moved(added)[0]
    if view(fallback).schema is False:
        context = "the object was closed to it: configs may now set it" if added else (
            "the object is closed: configs that set it are now rejected")  # fmt: skip
    elif effect == "none":
        context = "values there are accepted exactly as before"
    elif added:
        context = f"values there were checked against {what} before; now {_reasons(found)}"
    else:
        context = f"values there are now checked against {what}: {_reasons(found)}"
    text = f"property {name!r} {state}: {context}"
    pointer = (pn if added else po)[name].pointer
    cmp.emit(f"property_{state}", where, pointer, effect, text, effects=effects)


def _dependent(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    ro, rn = _dependent_required(o), _dependent_required(n)
    for trigger in [*ro, *(t for t in rn if t not in ro)]:
        old, new = ro.get(trigger, []), rn.get(trigger, [])
        for name in [x for x in new if x not in old]:
            text = f"{name!r} is now required when {trigger!r} is set"
            where = _dependency_at(n, trigger)
            cmp.emit("dependent_required_added", (*path, name), where, "narrow", text)
        for name in [x for x in old if x not in new]:
            text = f"{name!r} is no longer required when {trigger!r} is set"
            where = _dependency_at(o, trigger)
            cmp.emit("dependent_required_removed", (*path, name), where, "widen", text)
    so, sn = _dependent_schemas(o), _dependent_schemas(n)
    for trigger in [*so, *(t for t in sn if t not in so)]:
        before = so.get(trigger) or o.sub("dependentSchemas")
        after = sn.get(trigger) or n.sub("dependentSchemas")
        text = f"when {trigger!r} is set"
        cmp.folded("dependent_schema_changed", before, after, path, after.pointer, text)


def _raw_semantic(cmp: Comparator, o: Node, n: Node, path: Path, keyword: str) -> None:
    vo, vn = o.get(keyword), n.get(keyword)
    simple = keyword == "unevaluatedProperties" and _simple_unevaluated(o, n)
    if value_key(vo) != value_key(vn) and not simple:
        text = f"{keyword} changed: what it covers depends on the other subschemas"
        where = (n if vn is not None else o).at(keyword)
        cmp.emit("unevaluated_changed", path, where, "semantic", text, vo, vn)


def _label(extra: tuple[str, Node] | None) -> str:
    schema = extra[1].schema if extra else None
    return (
        "absent"
        if schema is None
        else str(schema).lower()
        if schema in (True, False)
        else ("a schema")
    )


def _named(node: Node, keyword: str) -> dict[str, Node]:
    value = node.get(keyword)
    return {name: node.child(keyword, name) for name in value or ()}


def _extra(node: Node) -> tuple[str, Node] | None:
    if node.get("additionalProperties") is not None:
        return "additionalProperties", node.child("additionalProperties")
    if node.get("unevaluatedProperties") is not None and _simple_unevaluated(node):
        return "unevaluatedProperties", node.child("unevaluatedProperties")
    return None


def _required(node: Node) -> list[str]:
    names = node.get("required")
    names = [x for x in names if isinstance(x, str)] if isinstance(names, list) else []
    if node.side.dialect != "openapi-3.0":
        return names
    # OpenAPI 3.0: a required property marked readOnly or writeOnly is not required.
    props = node.schema.get("properties") or {}
    hidden = {
        k
        for k, v in props.items()
        if isinstance(v, Mapping) and (v.get("readOnly") or v.get("writeOnly"))
    }
    return [x for x in names if x not in hidden]


def _property_default(node: Node, name: str) -> Any:
    if name not in (node.get("properties") or {}):
        return _MISSING
    found = view(node.child("properties", name))
    return found.schema.get("default", _MISSING) if isinstance(found.schema, Mapping) else _MISSING


def _dependent_required(node: Node) -> dict[str, list[str]]:
    found = {**(node.get("dependencies") or {}), **(node.get("dependentRequired") or {})}
    return {k: list(v) for k, v in found.items() if isinstance(v, list)}


def _dependency_at(node: Node, trigger: str) -> str:
    """Where the required names of ``trigger`` are listed (``dependentRequired`` wins, as in
    `_dependent_required`)."""
    for keyword in ("dependentRequired", "dependencies"):
        if trigger in (node.get(keyword) or {}):
            return node.at(keyword) + to_pointer((trigger,))
    return node.pointer


def _dependent_schemas(node: Node) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for keyword in ("dependencies", "dependentSchemas"):
        for k, v in (node.get(keyword) or {}).items():
            if not isinstance(v, list):
                out[k] = node.child(keyword, k)
    return out


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # unknown: assume the pattern covers the key (the conservative reading)
