"""The rules behind `hotconf.compat`: two schemas in, `Finding`s out.

A schema is read as the set of configs it accepts. `compare_schemas` walks the old and the new
schema side by side (following ``$ref`` on both sides, with cycle protection) and says, keyword
by keyword, whether the new set is wider, narrower, different, or not provably any of these
("semantic"). The keywords of one schema object are a conjunction, so a node whose findings all
widen (narrow) widens (narrows) as a whole: that is what makes per-keyword verdicts sound. What
a mode makes of an effect is `hotconf.compat`'s business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

from ._jsonschema import dialect
from ._refs import make_registry, walk
from .paths import to_pointer
from .schema import Schema
from .snapshot import REDACTED

Effect = Literal["widen", "narrow", "change", "none", "semantic"]
Path = tuple[str, ...]
WILDCARD = "*"
MAX_COMPARISONS = 50_000
MAX_DEPTH = 64  # nested schema levels; each costs several Python stack frames

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
_HANDLED = frozenset(
    {
        "type", "nullable", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format",
        "minItems", "maxItems", "uniqueItems", "items", "prefixItems", "additionalItems",
        "contains", "minContains", "maxContains", "unevaluatedItems", "required", "properties",
        "patternProperties", "additionalProperties", "unevaluatedProperties", "propertyNames",
        "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
        "dependencies", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "discriminator",
        *_REFS,
    }
)  # fmt: skip
# Locations and identifiers: what they change is seen through the references they resolve.
_STRUCTURAL = frozenset(
    {"$defs", "definitions", "$id", "id", "$anchor", "$dynamicAnchor", "$recursiveAnchor",
     "$schema", "$vocabulary", "default"}
)  # fmt: skip
_COMPOSITIONS = ("allOf", "anyOf", "oneOf")
_ANNOTATION_FORMATS = frozenset({"password"})  # hotconf reads it to redact; nobody checks it
_UNITS = {"Length": "characters", "Items": "items", "Properties": "keys", "Contains": "matches"}
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference, before a mode turns its effect into a level."""

    kind: str
    path: Path
    pointer: str
    effect: Effect
    reason: str
    old: Any = None
    new: Any = None
    effects: frozenset[Effect] = frozenset()  # aggregated findings: every nested effect


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


# --- values ----------------------------------------------------------------------------------


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


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


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


def _keys(values: Iterable[Any]) -> set[str]:
    return {value_key(v) for v in values}


def _fmt_types(allowed: Iterable[str]) -> str:
    return " or ".join(sorted(allowed)) or "nothing"


def _raw_type(allowed: frozenset[str] | None) -> Any:
    ordered = sorted(allowed or (), key=lambda t: (t == "null", t))
    return ordered[0] if len(ordered) == 1 else ordered or None


def summarize(findings: Iterable[Finding]) -> tuple[Effect, frozenset[Effect]]:
    """The effect of several findings taken together, and every effect among them."""
    effects: set[Effect] = set()
    for f in findings:
        if not f.kind.startswith("default_"):
            effects |= f.effects or {f.effect}
    effects.discard("none")
    if not effects:
        return "none", frozenset()
    if "semantic" in effects:
        return "semantic", frozenset(effects)
    if "change" in effects or {"widen", "narrow"} <= effects:
        return "change", frozenset(effects)
    return next(iter(effects)), frozenset(effects)


_INVERT: dict[Effect, Effect] = {
    "widen": "narrow", "narrow": "widen", "change": "change", "none": "none",
    "semantic": "semantic",
}  # fmt: skip


def _reasons(findings: list[Finding], limit: int = 3) -> str:
    texts = [f.reason for f in findings if f.effect != "none"]
    more = f"; and {len(texts) - limit} more" if len(texts) > limit else ""
    return "; ".join(texts[:limit]) + more


def _either(effect: Effect, narrow: str, widen: str, other: str = "change") -> str:
    return {"narrow": narrow, "widen": widen}.get(effect, other)


# --- the comparator --------------------------------------------------------------------------


def _moved(added: bool) -> tuple[str, Effect, str]:
    """``(state, effect, verdict)`` of a restriction that was added or removed."""
    return ("added", "narrow", "rejected") if added else ("removed", "widen", "accepted")


def _tightened(tighter: bool) -> tuple[str, Effect, str]:
    return ("tightened", "narrow", "rejected") if tighter else ("relaxed", "widen", "accepted")


class Comparator:
    """Walks two schemas side by side and collects `Finding`s."""

    def __init__(self, sensitive: Callable[[Path], bool]) -> None:
        self.sensitive = sensitive
        self.findings: list[Finding] = []
        self._stack: set[tuple[str, str]] = set()
        self._calls = 0
        self._truncated = False
        self._unevaluated: set[Path] = set()
        self._views = 0  # `view`s in progress: a reference loop in place would nest them forever

    def emit(self, kind: str, path: Path, where: str, effect: Effect, reason: str, *values: Any,
             effects: frozenset[Effect] = frozenset()) -> None:  # fmt: skip
        """Record a finding; ``values`` are the old and new keyword values, when shown."""
        if path[:-1] in self._unevaluated and effect not in ("none", "semantic"):
            reason += " (next to unevaluated* keywords, so not provable)"
            effect, effects = "semantic", frozenset({"semantic"})
        old, new = (*values, None, None)[:2]
        if kind.startswith(("enum_", "const_", "default_")) and self.sensitive(path):
            old, new = (None if v is None else REDACTED for v in (old, new))
        self.findings.append(Finding(kind, path, where, effect, reason, old, new, effects))

    def show(self, value: Any, path: Path) -> str:
        return json.dumps(REDACTED) if self.sensitive(path) else _show(value)

    def collect(self, run: Callable[[], object]) -> list[Finding]:
        """The findings ``run`` makes, collected aside instead of reported."""
        saved, self.findings = self.findings, []
        try:
            run()
            return self.findings
        finally:
            self.findings = saved

    def sub(self, old: Node, new: Node, path: Path) -> list[Finding]:
        return self.collect(lambda: self.compare(old, new, path))

    def folded(self, kind: str, old: Node, new: Node, path: Path, where: str, text: str) -> None:
        """Report the findings between two subschemas as one finding of ``kind``."""
        found = self.sub(old, new, path)
        effect, effects = summarize(found)
        if kind == "not_changed":
            effect, effects = _INVERT[effect], frozenset(_INVERT[e] for e in effects)
        plain = all(x.schema in (True, False, {}) for x in (old, new))
        text += f" are now {_moved(effect == 'narrow')[2]}" if plain else f": {_reasons(found)}"
        if effect != "none":
            self.emit(kind, path, where, effect, text, effects=effects)

    def presence(self, kind: str, path: Path, o: Node, n: Node, keyword: str, what: str) -> bool:
        """Report ``keyword`` added or removed; False when both sides have it (compare on)."""
        vo, vn = o.get(keyword), n.get(keyword)
        if (vo is None) == (vn is None):
            return vo is None
        state, effect, verdict = _moved(vo is None)
        where = (o if vn is None else n).at(keyword)
        self.emit(f"{kind}_{state}", path, where, effect, f"{keyword} {state}: {what} {verdict}")
        return True

    def view(self, node: Node) -> Node:
        """``node`` with references resolved, single ``allOf``s merged, nullable forms folded."""
        if self._views > MAX_DEPTH:
            return node
        self._views += 1
        try:
            return self._view(node)
        finally:
            self._views -= 1

    def _view(self, node: Node) -> Node:
        for _ in range(32):
            schema = node.schema
            if schema is True:
                return Node(node.side, {}, node.pointer, node.resolver)
            if not isinstance(schema, Mapping):
                return node
            keyword = next((k for k in _REFS if isinstance(node.get(k), str)), None)
            branches = node.get("allOf")
            if keyword is not None:
                target = node.side.lookup(node, keyword, schema[keyword])
                rest = replace(node, schema={k: v for k, v in schema.items() if k != keyword})
                node = target if node.side.legacy_ref else _conjoin(target, rest)
            elif isinstance(branches, list) and len(branches) == 1:
                rest = replace(node, schema={k: v for k, v in schema.items() if k != "allOf"})
                merged = _merge(self.view(node.child("allOf", 0)), rest)
                if merged is None:
                    return node
                node = merged
            else:
                return self._fold_null(node)
        return node

    def _fold_null(self, node: Node) -> Node:
        # anyOf/oneOf [S, {type: null}] is S that also accepts null: compare it as such.
        for keyword in ("anyOf", "oneOf"):
            branches = node.get(keyword)
            if not isinstance(branches, list) or len(branches) != 2 or node.active() - {keyword}:
                continue
            views = [self.view(node.child(keyword, i)) for i in (0, 1)]
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

    def compare(self, old: Node, new: Node, path: Path) -> None:
        """Compare two subschemas that apply to the configs' values at ``path``."""
        key = (old.pointer, new.pointer)
        if key in self._stack:
            return  # a recursive schema: equal so far means equal (coinduction)
        self._calls += 1
        if self._calls > MAX_COMPARISONS or len(self._stack) > MAX_DEPTH:
            if not self._truncated:
                self._truncated = True
                text = "schemas too large or too deeply nested to compare fully; rest skipped"
                self.emit("comparison_truncated", path, new.pointer, "semantic", text)
            return
        self._stack.add(key)
        try:
            o, n = self.view(old), self.view(new)
            if o.schema != {} or n.schema != {}:
                self._compare(o, n, path)
        finally:
            self._stack.discard(key)

    def _compare(self, o: Node, n: Node, path: Path) -> None:
        if o.schema is False or n.schema is False:
            if o.schema is not False:
                text = "no value is accepted here any more"
                self.emit("false_schema_added", path, n.pointer, "narrow", text)
            elif n.schema is not False:
                text = "nothing was accepted here; now values matching the schema are"
                self.emit("false_schema_removed", path, n.pointer, "widen", text)
            return
        mine = path not in self._unevaluated and (_uses_unevaluated(o) or _uses_unevaluated(n))
        if mine:
            self._unevaluated.add(path)
        try:
            self._keywords(o, n, path)
        finally:
            if mine:
                self._unevaluated.discard(path)

    def _keywords(self, o: Node, n: Node, path: Path) -> None:
        to, tn = types(o), types(n)
        self._type(o, n, path, to, tn)
        self._values(o, n, path)
        if allows(to, "number") and allows(tn, "number"):
            self._bound(o, n, path, True, to, tn)
            self._bound(o, n, path, False, to, tn)
            self._multiple_of(o, n, path)
        if allows(to, "string") and allows(tn, "string"):
            self._count(o, n, path, "minLength", "maxLength")
            if not self.presence("pattern", path, o, n, "pattern", "non-matching strings are"):
                po, pn = o.get("pattern"), n.get("pattern")
                if po != pn:
                    text = f"pattern changed from {po!r} to {pn!r}: which strings match both is "
                    self.emit("pattern_changed", path, n.at("pattern"), "semantic",
                              text + "unprovable", po, pn)  # fmt: skip
        self._format(o, n, path)
        if allows(to, "array") and allows(tn, "array"):
            self._array(o, n, path)
        if allows(to, "object") and allows(tn, "object"):
            self._object(o, n, path)
        self._compositions(o, n, path)
        if not self.presence("not", path, o, n, "not", "values matching its schema are"):
            text = "the schema under not changed (so the effect is inverted)"
            self.folded("not_changed", o.child("not"), n.child("not"), path, n.at("not"), text)
        self._conditional(o, n, path)
        self._default(o, n, path)
        self._rest(o, n, path)

    # --- scalars

    def _type(self, o: Node, n: Node, path: Path, to: Any, tn: Any) -> None:
        where, old, new = (n if tn is not None else o).at("type"), _raw_type(to), _raw_type(tn)
        if to == tn:
            return
        if to is None or tn is None:
            state, effect, _ = _moved(to is None)
            what = "other types are now rejected" if to is None else "any type are accepted"
            text = f"type {_fmt_types(tn or to)} {state}: values of {what}"
            self.emit(f"type_{state}", path, where, effect, text, old, new)
            return
        gained = [t for t in tn if not covered(t, to)]
        lost = [t for t in to if not covered(t, tn)]
        change = f"type changed from {_fmt_types(to)} to {_fmt_types(tn)}"
        if gained and not lost:
            what = "null is" if gained == ["null"] else f"{_fmt_types(gained)} values are"
            text = f"{change}: {what} now accepted"
            self.emit("type_widened", path, where, "widen", text, old, new)
        elif lost:
            what = "null is" if lost == ["null"] else f"{_fmt_types(lost)} values are"
            kind, effect = ("type_changed", "change") if gained else ("type_narrowed", "narrow")
            self.emit(kind, path, where, effect, f"{change}: {what} now rejected", old, new)

    def _values(self, o: Node, n: Node, path: Path) -> None:
        vo, vn = allowed_values(o), allowed_values(n)
        if vo is None and vn is None:
            return
        name = "enum" if "enum" in o.active() | n.active() else "const"
        node = n if vn is not None else o
        where = node.at("enum" if "enum" in node.active() else "const")
        if vo is None or vn is None:
            state, effect, _ = _moved(vo is None)
            what = f"only {self.show(vn, path)} accepted now" if vo is None else (
                f"{self.show(vo, path)} no longer restricts the value")  # fmt: skip
            self.emit(f"{name}_{state}", path, where, effect, f"{name} {state}: {what}", vo, vn)
            return
        ko, kn = _keys(vo), _keys(vn)
        lost = [v for v in vo if value_key(v) not in kn]
        gained = [v for v in vn if value_key(v) not in ko]
        if lost and gained:
            shown_o, shown_n = (vo, vn) if name == "enum" else (vo[0], vn[0])
            text = f"{name} changed from {self.show(shown_o, path)} to {self.show(shown_n, path)}: "
            text += f"{self.show(lost, path)} no longer accepted"
            self.emit(f"{name}_changed", path, where, "change", text, vo, vn)
        elif gained:
            text = f"enum extended by {self.show(gained, path)}: configs with it are now accepted"
            self.emit("enum_extended", path, where, "widen", text, vo, vn)
        elif lost:
            text = f"{self.show(lost, path)} removed from enum: configs with it are now rejected"
            self.emit("enum_narrowed", path, where, "narrow", text, vo, vn)

    def _bound(self, o: Node, n: Node, path: Path, lower: bool, to: Any, tn: Any) -> None:
        bo, bn = _effective_bound(o, lower), _effective_bound(n, lower)
        if bo is None or bn is None:
            if bo is not None or bn is not None:
                state, effect, verdict = _moved(bo is None)
                bound = bn or bo
                assert bound is not None
                where = (o if bn is None else n).at(bound[2])
                text = f"{_bound_text(bound)} {state}: values {_outside(bound, lower)} are now "
                old, new = bo and bo[0], bn and bn[0]
                self.emit(f"limit_{state}", path, where, effect, text + verdict, old, new)
            return
        if bo[:2] == bn[:2]:
            return
        tighter = _strictness(bn, lower) > _strictness(bo, lower)
        state, effect, verdict = _tightened(tighter)
        integers = to is not None and tn is not None and to | tn <= {"integer"}
        span = _between(*((bo, bn) if tighter else (bn, bo)), lower, integers)
        if bo[2] == bn[2]:
            head = f"{bo[2]} {'raised' if bn[0] > bo[0] else 'lowered'} from {bo[0]} to {bn[0]}"
        else:
            head = f"{_bound_text(bo)} became {_bound_text(bn)}"
        text = f"{head}: values {span} are now {verdict}"
        self.emit(f"limit_{state}", path, n.at(bn[2]), effect, text, bo[0], bn[0])

    def _multiple_of(self, o: Node, n: Node, path: Path) -> None:
        if self.presence("multiple_of", path, o, n, "multipleOf", "non-multiples are"):
            return
        mo, mn = _number(o.get("multipleOf")), _number(n.get("multipleOf"))
        if mo is None or mn is None or Fraction(str(mo)) == Fraction(str(mn)):
            return
        ratio = Fraction(str(mn)) / Fraction(str(mo))
        effect: Effect = "narrow" if ratio.denominator == 1 else "widen"
        effect = effect if ratio.denominator == 1 or ratio.numerator == 1 else "change"
        shown = f"multiples of {mo} that are not multiples of {mn} are now rejected"
        shown = _either(effect, shown, f"every multiple of {mn} is now accepted", shown)
        text = f"multipleOf changed from {mo} to {mn}: {shown}"
        self.emit("multiple_of_changed", path, n.at("multipleOf"), effect, text, mo, mn)

    def _format(self, o: Node, n: Node, path: Path) -> None:
        ro, rn = o.get("format"), n.get("format")
        if ro == rn:
            return
        eo, en = _checked_format(o, ro), _checked_format(n, rn)
        where = (n if rn is not None else o).at("format")
        if eo == en:
            state = "changed" if ro and rn else "added" if rn else "removed"
            text = f"format {state} ({ro!r} -> {rn!r}): not checked by the validator, no effect"
            self.emit(f"format_{state}", path, where, "none", text, ro, rn)
        elif eo is not None and en is not None:
            text = f"format changed from {eo!r} to {en!r}: which strings pass both is unprovable"
            self.emit("format_changed", path, where, "semantic", text, ro, rn)
        else:
            state, effect, verdict = _moved(eo is None)
            text = f"format {en or eo!r} {state}: strings that are not a valid {en or eo} are now "
            self.emit(f"format_{state}", path, where, effect, text + verdict, ro, rn)

    def _count(self, o: Node, n: Node, path: Path, low: str, high: str, floor: int = 0) -> None:
        unit = _UNITS[low[3:]]
        for name, lower in ((low, True), (high, False)):
            vo, vn = _number(o.get(name)), _number(n.get(name))
            if lower:
                vo, vn = floor if vo is None else vo, floor if vn is None else vn
            if vo == vn:
                continue
            where = (n if n.get(name) is not None else o).at(name)
            if vo is None or vn is None or (lower and floor in (vo, vn)):
                state, effect, verdict = _moved(
                    vn is not None and vn != floor if lower else vo is None
                )
                text = f"{name} {vn if state == 'added' else vo} {state}: values with "
                text += f"{'fewer' if lower else 'more'} {unit} are now {verdict}"
                self.emit(f"limit_{state}", path, where, effect, text, o.get(name), n.get(name))
                continue
            state, effect, verdict = _tightened(vn > vo if lower else vn < vo)
            first, last = (
                (min(vo, vn), max(vo, vn) - 1) if lower else (min(vo, vn) + 1, max(vo, vn))
            )
            span = f"{first}" if first == last else f"{first}..{last}"
            text = f"{name} {'raised' if vn > vo else 'lowered'} from {vo} to {vn}: values with "
            text += f"{span} {unit} are now {verdict}"
            self.emit(f"limit_{state}", path, where, effect, text, vo, vn)

    # --- arrays and objects

    def _array(self, o: Node, n: Node, path: Path) -> None:
        self._count(o, n, path, "minItems", "maxItems")
        uo, un = o.get("uniqueItems") is True, n.get("uniqueItems") is True
        if uo != un:
            state, effect, verdict = _moved(un)
            where = (n if un else o).at("uniqueItems")
            text = f"uniqueItems {state}: lists with duplicates are now {verdict}"
            self.emit(f"limit_{state}", path, where, effect, text, uo, un)
        (pre_o, rest_o), (pre_n, rest_n) = _tuple(o), _tuple(n)
        for i in range(max(len(pre_o), len(pre_n))):
            old = pre_o[i] if i < len(pre_o) else rest_o
            self.compare(old, pre_n[i] if i < len(pre_n) else rest_n, (*path, str(i)))
        self.compare(rest_o, rest_n, (*path, WILDCARD))
        if not self.presence("contains", path, o, n, "contains", "lists without a match are"):
            old, new, where = o.child("contains"), n.child("contains"), n.at("contains")
            self.folded("contains_changed", old, new, path, where, "contains changed")
            self._count(o, n, path, "minContains", "maxContains", floor=1)
        self._raw_semantic(o, n, path, "unevaluatedItems")

    def _object(self, o: Node, n: Node, path: Path) -> None:
        ro, rn = _required(o), _required(n)
        for name in [r for r in rn if r not in ro]:
            default = _property_default(self, n, name)
            text = f"{name!r} is now required: configs without it are rejected"
            if default is not _MISSING:
                text += f" (its default {self.show(default, (*path, name))} does not help)"
            self.emit("required_added", (*path, name), n.at("required"), "narrow", text, None, name)
        for name in [r for r in ro if r not in rn]:
            text = f"{name!r} is no longer required"
            self.emit("required_removed", (*path, name), o.at("required"), "widen", text, name)
        self._count(o, n, path, "minProperties", "maxProperties")
        self._properties(o, n, path)
        if o.get("propertyNames") is not None or n.get("propertyNames") is not None:
            old, new, where = o.sub("propertyNames"), n.sub("propertyNames"), n.at("propertyNames")
            self.folded("property_names_changed", old, new, path, where, "property names")
        self._dependent(o, n, path)
        self._raw_semantic(o, n, path, "unevaluatedProperties")

    def _properties(self, o: Node, n: Node, path: Path) -> None:
        po, pn = _named(o, "properties"), _named(n, "properties")
        pat_o, pat_n = _named(o, "patternProperties"), _named(n, "patternProperties")
        xo, xn = _extra(o), _extra(n)
        every = (*path, WILDCARD)
        if set(pat_o) != set(pat_n):
            text = "patternProperties patterns changed: which keys they cover is unprovable"
            where = n.at("patternProperties")
            self.emit("pattern_properties_changed", every, where, "semantic", text)
        else:
            for pattern in pat_o:
                self.compare(pat_o[pattern], pat_n[pattern], every)
        for name in [*po, *(k for k in pn if k not in po)]:
            if name in po and name in pn:
                self.compare(po[name], pn[name], (*path, name))
            else:
                other = (pat_o, xo, o) if name not in po else (pat_n, xn, n)
                self._property_moved(name, (*path, name), po, pn, other)
        if xo is None and xn is None:
            return
        old = xo[1] if xo else o.sub("additionalProperties")
        new = xn[1] if xn else n.sub("additionalProperties")
        if xo and xn and xo[0] == xn[0] and all(isinstance(x.schema, Mapping) for x in (old, new)):
            self.compare(old, new, every)
            return
        keys = ", ".join(sorted(set(po) | set(pn)))
        keyword = (xn or xo or ("additionalProperties",))[0]
        text = f"{keyword} changed from {_label(xo)} to {_label(xn)}: values under "
        text += f"keys other than {keys}" if keys else "any key"
        where = (n if xn else o).at(keyword)
        self.folded("additional_properties_changed", old, new, every, where, text)

    def _property_moved(self, name: str, where: Path, po: Mapping[str, Node],
                        pn: Mapping[str, Node], other: tuple[Any, Any, Node]) -> None:  # fmt: skip
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
        found = (
            self.sub(fallback, pn[name], where) if added else self.sub(po[name], fallback, where)
        )
        effect, effects = summarize(found)
        state = _moved(added)[0]
        if self.view(fallback).schema is False:
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
        self.emit(f"property_{state}", where, pointer, effect, text, effects=effects)

    def _dependent(self, o: Node, n: Node, path: Path) -> None:
        ro, rn = _dependent_required(o), _dependent_required(n)
        for trigger in [*ro, *(t for t in rn if t not in ro)]:
            old, new = ro.get(trigger, []), rn.get(trigger, [])
            for name in [x for x in new if x not in old]:
                text = f"{name!r} is now required when {trigger!r} is set"
                self.emit("dependent_required_added", (*path, name), n.pointer, "narrow", text)
            for name in [x for x in old if x not in new]:
                text = f"{name!r} is no longer required when {trigger!r} is set"
                self.emit("dependent_required_removed", (*path, name), o.pointer, "widen", text)
        so, sn = _dependent_schemas(o), _dependent_schemas(n)
        for trigger in [*so, *(t for t in sn if t not in so)]:
            before = so.get(trigger) or o.sub("dependentSchemas")
            after = sn.get(trigger) or n.sub("dependentSchemas")
            text = f"when {trigger!r} is set"
            self.folded("dependent_schema_changed", before, after, path, after.pointer, text)

    def _raw_semantic(self, o: Node, n: Node, path: Path, keyword: str) -> None:
        vo, vn = o.get(keyword), n.get(keyword)
        simple = keyword == "unevaluatedProperties" and _simple_unevaluated(o, n)
        if value_key(vo) != value_key(vn) and not simple:
            text = f"{keyword} changed: what it covers depends on the other subschemas"
            where = (n if vn is not None else o).at(keyword)
            self.emit("unevaluated_changed", path, where, "semantic", text, vo, vn)

    # --- applicators

    def _compositions(self, o: Node, n: Node, path: Path) -> None:
        def each() -> None:
            for keyword in _COMPOSITIONS:
                self._composition(keyword, o, n, path)

        found = self.collect(each)
        if "discriminator" in o.active() | n.active():  # OpenAPI 3.0: a property picks a branch
            same = value_key(o.get("discriminator")) == value_key(n.get("discriminator"))
            if summarize(found)[0] != "none" or not same:
                text = "branches or discriminator changed under an OpenAPI 3.0 discriminator"
                self.emit("branch_changed", path, n.pointer, "semantic", text)
                return
        self.findings.extend(found)

    def _composition(self, keyword: str, o: Node, n: Node, path: Path) -> None:
        lo, ln = _branches(o, keyword), _branches(n, keyword)
        if lo is None or ln is None:
            nodes = ln if lo is None else lo
            if nodes is not None:
                state, effect, _ = _moved(lo is None)
                trivial = [_is_true(self.view(b)) for b in nodes]
                if any(trivial) if keyword == "anyOf" else all(trivial) and keyword == "allOf":
                    effect = "none"
                text = (
                    f"{keyword} {state}: configs {'must' if lo is None else 'no longer have to'} "
                )
                text += f"match {'all' if keyword == 'allOf' else 'one'} of {len(nodes)} branches"
                where = (n if lo is None else o).at(keyword)
                self.emit(f"composition_{state}", path, where, effect, text)
            return
        pairs: list[tuple[Node, Node, list[Finding]]] = []
        rest_o, rest_n = list(lo), list(ln)
        for a in lo:  # pair equivalent branches first: reordering branches changes nothing
            for b in rest_n:
                found = self.sub(a, b, path)
                if summarize(found)[0] == "none":
                    pairs.append((a, b, found))
                    rest_o.remove(a)
                    rest_n.remove(b)
                    break
        if len(rest_o) == len(rest_n):
            pairs += [(a, b, self.sub(a, b, path)) for a, b in zip(rest_o, rest_n, strict=True)]
            rest_o, rest_n = [], []
        disjoint = keyword != "oneOf" or (self._disjoint_all(lo) and self._disjoint_all(ln))
        for _, b, found in pairs:
            if disjoint or summarize(found)[0] == "none":
                self.findings.extend(found)
            else:
                text = "a oneOf branch changed and the branches are not provably disjoint, so "
                text += f"which configs match exactly one is unprovable: {_reasons(found)}"
                self.emit("branch_changed", path, b.pointer, "semantic", text)
        for a in rest_o:
            self._branch(keyword, a, [x for x in lo if x is not a], path, added=False)
        for b in rest_n:
            self._branch(keyword, b, [x for x in ln if x is not b], path, added=True)

    def _branch(self, keyword: str, branch: Node, others: list[Node], path: Path,
                added: bool) -> None:  # fmt: skip
        _, effect, verdict = _moved(not added)  # a branch added to anyOf widens
        kind = f"branch_{'added' if added else 'removed'}"
        if keyword == "allOf":
            effect = "none" if _is_true(self.view(branch)) else _INVERT[effect]
            text = "configs must also match it" if added else "configs no longer have to match it"
        elif keyword == "anyOf":
            text = f"configs that match only it are now {verdict}"
        else:
            verdicts = [(other, *self._overlap(branch, other)) for other in others]
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
        self.emit(kind, path, branch.pointer, effect, text)

    def _disjoint_all(self, nodes: list[Node]) -> bool:
        views = [self.view(x) for x in nodes]
        return all(_disjoint(views[i], views[j]) for i in range(len(views)) for j in range(i))

    def _overlap(self, a: Node, b: Node) -> tuple[str, Any]:
        """``("overlap", a value both accept)``, ``("disjoint", None)`` or ``("unknown", None)``."""
        va, vb = self.view(a), self.view(b)
        if _disjoint(va, vb):
            return "disjoint", None
        for value in _candidates(va, vb):
            if a.side.accepts(a.pointer, value) and a.side.accepts(b.pointer, value):
                return "overlap", value
        return "unknown", None

    def _conditional(self, o: Node, n: Node, path: Path) -> None:
        if self.presence("conditional", path, o, n, "if", "configs failing its then/else are"):
            return
        found = self.sub(o.child("if"), n.child("if"), path)
        if summarize(found)[0] != "none":
            text = f"the if condition changed ({_reasons(found)}): which configs take which "
            self.emit(
                "conditional_changed", path, n.at("if"), "semantic", text + "branch is unprovable"
            )
            return
        for keyword in ("then", "else"):
            self.compare(o.sub(keyword), n.sub(keyword), path)

    def _default(self, o: Node, n: Node, path: Path) -> None:
        do, dn = o.schema.get("default", _MISSING), n.schema.get("default", _MISSING)
        if value_key(do) == value_key(dn):
            return
        shown_o, shown_n = (self.show(v, path) for v in (do, dn))
        if do is _MISSING:
            kind, text = "default_added", f"default {shown_n} added"
        elif dn is _MISSING:
            kind, text = "default_removed", f"default {shown_o} removed"
        else:
            kind, text = "default_changed", f"default changed from {shown_o} to {shown_n}"
        old, new = (None if v is _MISSING else v for v in (do, dn))
        where = (o if dn is _MISSING else n).at("default")
        text += ": configs that leave it out change meaning"
        self.emit(kind, path, where, "none", text, old, new)

    def _rest(self, o: Node, n: Node, path: Path) -> None:
        so, sn = o.schema, n.schema
        for key in [*so, *(k for k in sn if k not in so)]:
            active = key in o.side.active or key in n.side.active
            vo, vn = so.get(key, _MISSING), sn.get(key, _MISSING)
            if key in _STRUCTURAL or (active and key in _HANDLED) or value_key(vo) == value_key(vn):
                continue
            where = (n if vn is not _MISSING else o).at(key)
            vo, vn = (None if v is _MISSING else v for v in (vo, vn))
            if active:
                text = f"{key} changed: how it changes what is accepted is unknown to hotconf"
                self.emit("keyword_changed", path, where, "semantic", text, vo, vn)
            else:
                hide = key in ("examples", "example", "const", "enum") and self.sensitive(path)
                vo, vn = (None if v is None else REDACTED if hide else v for v in (vo, vn))
                text = f"{key} changed (metadata: does not affect validation)"
                self.emit("metadata_changed", path, where, "none", text, vo, vn)


# --- node helpers ----------------------------------------------------------------------------


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
    if a.side.dialect == "openapi-3.0" and {"required", "properties"} <= ka | kb:
        return None  # OAS 3.0 required reads readOnly/writeOnly of its own properties
    origins = {k: a.origin(k) for k in a.schema} | {k: b.origin(k) for k in b.schema}
    fixed = {k: v for k, v in a.fixed.items() if k[0] in a.schema and k[0] not in b.schema}
    fixed |= {k: v for k, v in b.fixed.items() if k[0] in b.schema}
    return Node(a.side, {**a.schema, **b.schema}, b.pointer, b.resolver, origins, fixed)


def _conjoin(target: Node, rest: Node) -> Node:
    """A ``$ref`` target and the keywords beside the ``$ref`` (both apply, since 2019-09)."""
    merged = _merge(target, rest)
    if merged is not None:
        return merged
    meta = {k: v for k, v in rest.schema.items() if k not in rest.side.active}
    sibling = replace(rest, schema={k: v for k, v in rest.schema.items() if k not in meta})
    schema = {"allOf": [target.schema, sibling.schema], **meta}
    fixed = {("allOf", 0): target, ("allOf", 1): sibling}
    return Node(rest.side, schema, rest.pointer, rest.resolver, dict(rest.origins), fixed)


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


def _is_true(node: Node) -> bool:
    return isinstance(node.schema, Mapping) and not node.active()


def _uses_unevaluated(node: Node) -> bool:
    keys = node.active()
    simple = _simple_unevaluated(node)
    return "unevaluatedItems" in keys or ("unevaluatedProperties" in keys and not simple)


def _simple_unevaluated(*nodes: Node) -> bool:
    # Without in-place applicators, unevaluatedProperties is additionalProperties.
    return all(not x.active() & (_IN_PLACE | {"additionalProperties"}) for x in nodes)


def _label(extra: tuple[str, Node] | None) -> str:
    schema = extra[1].schema if extra else None
    return (
        "absent"
        if schema is None
        else str(schema).lower()
        if schema in (True, False)
        else ("a schema")
    )


def _effective_bound(node: Node, lower: bool) -> tuple[Any, bool, str] | None:
    name, flag = ("minimum", "exclusiveMinimum") if lower else ("maximum", "exclusiveMaximum")
    value, exclusive = _number(node.get(name)), node.get(flag)
    found: list[tuple[Any, bool, str]] = []
    if node.side.bool_exclusive:  # draft-04 and OpenAPI 3.0: exclusiveMinimum is a flag
        if value is not None:
            found.append((value, exclusive is True, flag if exclusive is True else name))
    else:
        found += [(value, False, name)] if value is not None else []
        found += [(exclusive, True, flag)] if _number(exclusive) is not None else []
    return max(found, key=lambda b: _strictness(b, lower)) if found else None


def _strictness(bound: tuple[Any, bool, str], lower: bool) -> tuple[Any, bool]:
    return (bound[0] if lower else -bound[0], bound[1])


def _bound_text(bound: tuple[Any, bool, str]) -> str:
    return f"{bound[2]} {bound[0]}"


def _outside(bound: tuple[Any, bool, str], lower: bool) -> str:
    op = ("<=" if bound[1] else "<") if lower else (">=" if bound[1] else ">")
    return f"{op} {bound[0]}"


def _between(
    loose: tuple[Any, bool, str], strict: tuple[Any, bool, str], lower: bool, integers: bool
) -> str:
    """The values the ``loose`` bound accepts and the ``strict`` one rejects."""
    if lower:
        lo, lo_in, hi, hi_in = loose[0], not loose[1], strict[0], strict[1]
    else:
        lo, lo_in, hi, hi_in = strict[0], strict[1], loose[0], not loose[1]
    if integers and float(lo).is_integer() and float(hi).is_integer():
        first, last = int(lo) + (not lo_in), int(hi) - (not hi_in)
        return str(first) if first == last else f"{first}..{last}"
    if lo == hi:
        return f"equal to {lo}"
    return f"{'>=' if lo_in else '>'} {lo} and {'<=' if hi_in else '<'} {hi}"


def _checked_format(node: Node, value: Any) -> str | None:
    known = isinstance(value, str) and value in node.side.checker.checkers
    return value if known and value not in _ANNOTATION_FORMATS else None


def _tuple(node: Node) -> tuple[list[Node], Node]:
    """The per-position item schemas and the schema of the items after them."""
    items, prefix = node.get("items"), node.get("prefixItems")
    if isinstance(items, list) and node.side.tuple_items:
        return [node.child("items", i) for i in range(len(items))], node.sub("additionalItems")
    count = len(prefix) if isinstance(prefix, list) else 0
    return [node.child("prefixItems", i) for i in range(count)], node.sub("items")


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


def _property_default(cmp: Comparator, node: Node, name: str) -> Any:
    if name not in (node.get("properties") or {}):
        return _MISSING
    view = cmp.view(node.child("properties", name))
    return view.schema.get("default", _MISSING) if isinstance(view.schema, Mapping) else _MISSING


def _dependent_required(node: Node) -> dict[str, list[str]]:
    found = {**(node.get("dependencies") or {}), **(node.get("dependentRequired") or {})}
    return {k: list(v) for k, v in found.items() if isinstance(v, list)}


def _dependent_schemas(node: Node) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for keyword in ("dependencies", "dependentSchemas"):
        for k, v in (node.get(keyword) or {}).items():
            if not isinstance(v, list):
                out[k] = node.child(keyword, k)
    return out


def _branches(node: Node, keyword: str) -> list[Node] | None:
    value = node.get(keyword)
    return [node.child(keyword, i) for i in range(len(value))] if isinstance(value, list) else None


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # unknown: assume the pattern covers the key (the conservative reading)


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


def compare_schemas(
    old: Schema, new: Schema, sensitive: Callable[[Path], bool]
) -> tuple[list[Finding], Side, Side]:
    """Every `Finding` between two schemas, in schema order, without duplicates."""
    old_side, new_side = Side(old), Side(new)
    cmp = Comparator(sensitive)
    if old.dialect != new.dialect:
        text = f"dialect changed from {old.dialect} to {new.dialect}: keywords may mean otherwise"
        cmp.emit("dialect_changed", (), "", "semantic", text, old.dialect, new.dialect)
    cmp.compare(old_side.root, new_side.root, ())
    seen: set[tuple[str, Path, str, str]] = set()
    unique = []
    for f in cmp.findings:  # a subschema reached twice on the same path reports once
        if (f.kind, f.path, f.pointer, f.reason) not in seen:
            seen.add((f.kind, f.path, f.pointer, f.reason))
            unique.append(f)
    return unique, old_side, new_side
