"""Schema navigation: one `Side` per schema, `Node`s into it, and what a node allows.

A `Node` is a subschema with its place in the document and a resolver for the references in it.
`view` is how every rule sees a node: ``$ref`` (and ``$dynamicRef``, ``$recursiveRef``)
resolved, a one-branch ``allOf``, ``anyOf`` or ``oneOf`` merged into its parent, and
``anyOf``/``oneOf`` of a schema and ``null`` folded into that schema plus ``null``. `types`
and `allowed_values` read what a node admits; `value_key` says when two JSON values are equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..pipeline.dialects import dialect
from ..pipeline.paths import to_pointer
from ..pipeline.refs import make_registry, walk
from ..pipeline.schema import Schema

_LEGACY_REF = frozenset({"json-schema-draft-04", "json-schema-draft-06", "json-schema-draft-07"})
_BOOL_EXCLUSIVE = frozenset({"json-schema-draft-04", "openapi-3.0"})
_TUPLE_ITEMS = _LEGACY_REF | {"json-schema-2019-09"}
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")
_IN_PLACE = frozenset(
    {"allOf", "anyOf", "oneOf", "not", "if", "dependentSchemas", "dependencies", *_REFS}
)
# Keywords that read each other inside one schema object: never merge a split group.
_GROUPS = (
    frozenset({"properties", "patternProperties", "additionalProperties", "unevaluatedProperties"}),
    frozenset({"prefixItems", "items", "additionalItems", "unevaluatedItems"}),
    frozenset({"contains", "minContains", "maxContains"}),
    frozenset({"if", "then", "else"}),
    frozenset({"minimum", "exclusiveMinimum"}),
    frozenset({"maximum", "exclusiveMaximum"}),
    frozenset({"type", "nullable"}),
)
_MISSING: Any = object()


class Side:
    """One schema prepared for comparison: registry, pointers of every node, validators."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.dialect = schema.dialect
        self.cls, self.spec, self.checker = dialect(schema.dialect)
        doc = dict(schema.document)
        self.registry, self.base = make_registry(doc, self.spec)
        openapi = self.dialect.startswith("openapi")
        self.pointers = {id(node): to_pointer(at) for at, node, _ in walk(doc, openapi=openapi)}
        self.active = _active(self.cls, self.dialect)
        self.legacy_ref = self.dialect in _LEGACY_REF
        self.bool_exclusive = self.dialect in _BOOL_EXCLUSIVE
        self.tuple_items = self.dialect in _TUPLE_ITEMS
        self._validators: dict[str, Any] = {}
        found = self.registry.resolver(self.base).lookup(self.base + (schema.pointer or ""))
        self.root = Node(self, found.contents, (schema.pointer or "#")[1:], found.resolver)

    def enter(self, value: Any, pointer: str, resolver: Any) -> Node:
        if isinstance(value, Mapping):
            resolver = resolver.in_subresource(self.spec.create_resource(value))
        return Node(self, value, pointer, resolver)

    def lookup(self, node: Node, keyword: str, ref: str) -> Node:
        found = node.origin(keyword)[1].lookup(ref)
        pointer = self.pointers.get(id(found.contents))
        if pointer is None:
            pointer = ref.partition("#")[2] if ref.startswith("#/") else node.pointer
        return Node(self, found.contents, pointer, found.resolver)

    def validator(self, pointer: str) -> Any:
        """A validator for the subschema at ``pointer`` (a JSON Pointer into the document)."""
        found = self._validators.get(pointer)
        if found is None:
            target = {"$ref": f"{self.base}#{pointer}"}
            cls = type(self.schema._validator)  # loop-safe when references loop in place
            found = cls(target, registry=self.schema._registry, format_checker=self.checker)
            self._validators[pointer] = found
        return found

    def accepts(self, pointer: str, value: Any) -> bool:
        try:
            return bool(self.validator(pointer).is_valid(value))
        except Exception:  # a candidate that trips a checker proves nothing either way
            return False

    def errors(self, config: Any) -> Iterator[Any]:
        """Validation errors of ``config`` against the whole schema (leaves of anyOf/oneOf)."""
        stack = list(self.validator(self.root.pointer).iter_errors(config))
        while stack:
            error = stack.pop()
            if error.context:
                stack.extend(error.context)
            else:
                yield error


def _active(cls: Any, dialect: str) -> frozenset[str]:
    names = {k for k, fn in cls.VALIDATORS.items() if fn.__name__ != "not_implemented"}
    if "if" in names:
        names |= {"then", "else"}
    if "contains" in names and dialect not in _LEGACY_REF:
        names |= {"minContains", "maxContains"}
    names |= {"exclusiveMinimum", "exclusiveMaximum"}
    if dialect == "openapi-3.0":
        names |= {"nullable", "discriminator"}  # discriminator dispatches anyOf/oneOf/allOf
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Node:
    """A subschema, where it is in its document, and how to resolve references from it.

    Nodes made by merging (a ``$ref`` with siblings, a one-branch ``allOf``) remember per
    keyword where it came from (``origins``) and may carry ready-made children (``fixed``).
    """

    side: Side
    schema: Any  # a mapping or a bool
    pointer: str
    resolver: Any
    origins: Mapping[str, tuple[str, Any]] = field(default_factory=dict)
    fixed: Mapping[tuple[Any, ...], Node] = field(default_factory=dict)

    def origin(self, keyword: str) -> tuple[str, Any]:
        return self.origins.get(keyword, (self.pointer, self.resolver))

    def at(self, keyword: str) -> str:
        return self.origin(keyword)[0] + to_pointer((keyword,))

    def get(self, keyword: str, default: Any = None) -> Any:
        """The value of a keyword that validates in this dialect, else ``default``."""
        if isinstance(self.schema, Mapping) and keyword in self.side.active:
            return self.schema.get(keyword, default)
        return default

    def active(self) -> frozenset[str]:
        schema = self.schema if isinstance(self.schema, Mapping) else {}
        return frozenset(k for k in schema if k in self.side.active)

    def child(self, *where: str | int) -> Node:
        found = self.fixed.get(where)
        if found is not None:
            return found
        value: Any = self.schema
        for segment in where:
            value = value[segment]
        base, resolver = self.origin(str(where[0]))
        return self.side.enter(value, base + to_pointer(where), resolver)

    def sub(self, keyword: str) -> Node:
        """The subschema under ``keyword``, or an empty (accept-all) one where it is absent."""
        if self.get(keyword) is not None:
            return self.child(keyword)
        return Node(self.side, {}, self.at(keyword), self.resolver)


# --- views -----------------------------------------------------------------------------------


_MAX_VIEWS = 64  # nested views: references that loop in place would nest them forever


def view(node: Node, depth: int = 0, within: frozenset[str] = frozenset()) -> Node:
    """``node`` with references resolved, one-branch compositions merged, nullable forms
    folded. ``within``: the pointers the views around this one passed through; a reference
    back to one of them loops in place (it adds nothing) and is left as it is."""
    if depth > _MAX_VIEWS:
        return node
    passed = set(within)
    for _ in range(32):
        schema = node.schema
        if schema is True:
            return Node(node.side, {}, node.pointer, node.resolver)
        if not isinstance(schema, Mapping):
            return node
        keyword = next((k for k in _REFS if isinstance(node.get(k), str)), None)
        # allOf, anyOf or oneOf of one branch is that branch (not beside a discriminator,
        # which OpenAPI 3.0 reads with its branches)
        single = next((k for k in _ONE_BRANCH if _one_branch(node.get(k))), None)
        if single is not None and "discriminator" in node.active():
            single = None
        if keyword is not None:
            target = node.side.lookup(node, keyword, schema[keyword])
            if target.pointer in passed:
                return node
            passed.add(target.pointer)
            rest = replace(node, schema={k: v for k, v in schema.items() if k != keyword})
            node = target if node.side.legacy_ref else _conjoin(target, rest)
        elif single is not None:
            rest = replace(node, schema={k: v for k, v in schema.items() if k != single})
            passed.add(node.pointer)
            merged = _merge(view(node.child(single, 0), depth + 1, frozenset(passed)), rest)
            if merged is None:
                return node
            node = merged
        else:
            return _fold_null(node, depth)
    return node


_ONE_BRANCH = ("allOf", "anyOf", "oneOf")


def _one_branch(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 1


def _fold_null(node: Node, depth: int) -> Node:
    # anyOf/oneOf [S, {type: null}] is S that also accepts null: compare it as such.
    for keyword in ("anyOf", "oneOf"):
        branches = node.get(keyword)
        if not isinstance(branches, list) or len(branches) != 2 or node.active() - {keyword}:
            continue
        views = [view(node.child(keyword, i), depth + 1) for i in (0, 1)]
        nulls = [i for i, v in enumerate(views) if _only_null(v)]
        other = views[1 - nulls[0]] if len(nulls) == 1 else None
        if other is None or not isinstance(other.schema, Mapping) or other.active() & _IN_PLACE:
            continue
        if keyword == "oneOf" and _accepts_null(other):
            continue  # null would match both branches, and oneOf rejects it
        schema = dict(other.schema)
        if "type" in schema:
            listed = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
            schema["type"] = listed if "null" in listed else [*listed, "null"]
        values = allowed_values(other)
        if values is not None:
            schema.pop("const", None)
            schema["enum"] = values if "null" in _keys(values) else [*values, None]
        meta = {k: v for k, v in node.schema.items() if k not in node.side.active}
        origins = {**other.origins, **{k: node.origin(k) for k in meta}}
        return replace(other, schema={**schema, **meta}, origins=origins)
    return node


def _merge(a: Node, b: Node) -> Node | None:
    """``a`` and ``b`` as one schema object, when that means the same as both together."""
    if a.schema is False or not isinstance(b.schema, Mapping):
        return a if a.schema is False else None
    if not isinstance(a.schema, Mapping):
        return b
    ka, kb = a.active(), b.active()
    if ka & kb or any(ka & g and kb & g for g in _GROUPS):
        return None
    if {"unevaluatedProperties", "unevaluatedItems"} & (ka | kb):
        return None
    if a.side.dialect == "openapi-3.0" and (
        ("required" in ka and "properties" in kb) or ("required" in kb and "properties" in ka)
    ):
        return None  # OAS 3.0 required reads readOnly/writeOnly of its own properties
    origins = {k: a.origin(k) for k in a.schema} | {k: b.origin(k) for k in b.schema}
    fixed = {k: v for k, v in a.fixed.items() if k[0] in a.schema and k[0] not in b.schema}
    fixed |= {k: v for k, v in b.fixed.items() if k[0] in b.schema}
    return Node(a.side, {**a.schema, **b.schema}, b.pointer, b.resolver, origins, fixed)


def _conjoin(target: Node, rest: Node) -> Node:
    """A ``$ref`` target and the keywords beside the ``$ref`` (both apply, since 2019-09)."""
    if not rest.active():  # only metadata beside it: the schema is what the $ref resolves to
        if not isinstance(target.schema, Mapping) or not rest.schema:
            return target
        origins = {k: target.origin(k) for k in target.schema}
        origins |= {k: rest.origin(k) for k in rest.schema}
        fixed = {k: v for k, v in target.fixed.items() if k[0] not in rest.schema}
        schema = {**target.schema, **rest.schema}
        return Node(target.side, schema, target.pointer, target.resolver, origins, fixed)
    merged = _merge(target, rest)
    if merged is not None:
        return merged
    meta = {k: v for k, v in rest.schema.items() if k not in rest.side.active}
    sibling = replace(rest, schema={k: v for k, v in rest.schema.items() if k not in meta})
    schema = {"allOf": [target.schema, sibling.schema], **meta}
    fixed = {("allOf", 0): target, ("allOf", 1): sibling}
    return Node(rest.side, schema, rest.pointer, rest.resolver, dict(rest.origins), fixed)


# --- what a node allows ----------------------------------------------------------------------


def _norm(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def value_key(value: Any) -> str:
    """A string equal for JSON-equal values (``1 == 1.0``, ``True != 1``, key order ignored)."""
    return json.dumps(_norm(value), sort_keys=True, default=repr)


def _keys(values: Iterable[Any]) -> set[str]:
    return {value_key(v) for v in values}


def types(node: Node) -> frozenset[str] | None:
    """The ``type`` names a node allows (None: any), with OpenAPI 3.0 ``nullable`` folded in."""
    raw = node.get("type")
    if raw is None:
        return None
    found = {raw} if isinstance(raw, str) else {t for t in raw if isinstance(t, str)}
    return frozenset(found | ({"null"} if node.get("nullable") is True else set()))


def covered(kind: str, allowed: frozenset[str] | None) -> bool:
    return allowed is None or kind in allowed or (kind == "integer" and "number" in allowed)


def allows(allowed: frozenset[str] | None, kind: str) -> bool:
    return allowed is None or kind in allowed or (kind == "number" and "integer" in allowed)


def allowed_values(node: Node) -> list[Any] | None:
    """The values ``enum`` and ``const`` together allow (None: no such restriction)."""
    found = list(node.get("enum")) if isinstance(node.get("enum"), list) else None
    const = node.get("const", _MISSING)
    if const is not _MISSING:
        key = value_key(const)
        found = [const] if found is None else [v for v in found if value_key(v) == key]
    return found


def _only_null(node: Node) -> bool:
    if not isinstance(node.schema, Mapping) or node.active() - {"type", "enum", "const"}:
        return False
    allowed, values = types(node), allowed_values(node)
    if allowed is None and values is None:
        return False
    return allowed in (None, {"null"}) and (values is None or _keys(values) == {"null"})


def _accepts_null(node: Node) -> bool:
    values = allowed_values(node)
    return covered("null", types(node)) and (values is None or "null" in _keys(values))


def _uses_unevaluated(node: Node) -> bool:
    keys = node.active()
    simple = _simple_unevaluated(node)
    return "unevaluatedItems" in keys or ("unevaluatedProperties" in keys and not simple)


def _simple_unevaluated(*nodes: Node) -> bool:
    # Without in-place applicators, unevaluatedProperties is additionalProperties.
    return all(not x.active() & (_IN_PLACE | {"additionalProperties"}) for x in nodes)
