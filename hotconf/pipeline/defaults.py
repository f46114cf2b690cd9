"""The defaults stage: a candidate plus the ``default``s of its schema is the effective config.

What a snapshot holds, what the checksum hashes and what reports compare is the effective
config, so a key written out with its default value is the same config as the key left out,
and a key taken out reports the value it falls back to. `with_defaults` fills, for every
mapping in the candidate, each property its schema gives a ``default`` and the candidate
leaves out, then goes on inside (into filled values too), following local ``$ref``, ``allOf``,
``patternProperties``, ``additionalProperties`` and ``items``/``prefixItems``.

Where a value could match several ``anyOf``/``oneOf`` branches, only a branch that alone fits
the value (by ``type``, ``const``, ``enum``, ``required`` and constant properties such as a
discriminator) contributes defaults: defaults never come from a branch the value is not in.
A ``default`` that fails its own subschema is not applied (``x: int = None`` in a model gives
``{"type": "integer", "default": null}``). A property a typed model also reads under other
keys (``x-hotconf-aliases``) gets no default where one of them is given. Nothing here
validates or rejects (`hotconf.pipeline.evaluate.validate` checks the effective config);
the input is never changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .paths import Path
from .refs import item_schema, make_registry, property_schemas, subschemas, walk
from .schema import Schema
from .snapshot import thaw

if TYPE_CHECKING:
    from referencing._core import Resolver

    Entry = tuple[Mapping[str, Any], Resolver[Any]]

_NONE: Any = object()
_MAX_BRANCH_DEPTH = 16  # in-place applicators nested deeper than this choose no branch
_CACHE_SIZE = 64


def with_defaults(
    data: dict[str, Any], schemas: Iterable[Schema]
) -> tuple[dict[str, Any], frozenset[Path]]:
    """The effective config: ``data`` with the defaults of each schema filled in, in order.

    Args:
        data: plain config data (it is not changed: what needs filling is copied).
        schemas: the schemas whose defaults apply (a JSON Schema, a model's schema, or both).

    Returns:
        The effective config (``data`` itself when nothing was missing) and the paths that
        were filled.

    Example:
        >>> schema = Schema.from_dict({"properties": {"batch": {"type": "integer", "default": 50}}})
        >>> with_defaults({}, [schema])
        ({'batch': 50}, frozenset({('batch',)}))
    """
    filled: set[Path] = set()
    for schema in schemas:
        data = _defaults(schema).fill(data, filled)
    return data, frozenset(filled)


def default_at(data: Any, path: Path, schemas: Iterable[Schema]) -> tuple[bool, Any]:
    """The default `with_defaults` fills in at ``path`` where ``data`` leaves it out.

    Args:
        data: a config (plain or frozen), holding every ancestor of ``path``.
        path: a property's path (its last segment a key).
        schemas: the schemas, in the order `with_defaults` applies them.

    Returns:
        ``(True, default)``, or ``(False, None)`` when none would be filled in there.
    """
    for schema in schemas:
        found = _defaults(schema).at(data, path)
        if found is not _NONE:
            return True, found
    return False, None


class Defaults:
    """The defaults of one schema, ready to fill candidates (see `with_defaults`)."""

    def __init__(self, schema: Schema) -> None:
        doc = schema.document
        openapi = schema.dialect.startswith("openapi")
        self.active = any(
            is_schema and "default" in node for _, node, is_schema in walk(doc, openapi=openapi)
        )
        if not self.active:
            return
        spec, cls = _tools(schema.dialect)
        self._spec = spec
        registry, base = make_registry(doc, spec)
        resolved = registry.resolver(base).lookup(base + (schema.pointer or ""))
        self._root: Entry = (resolved.contents, resolved.resolver)
        # Validates a default against the subschema it sits in; refs resolve in the document.
        self._checker = cls(dict(doc), registry=registry)
        self._usable: dict[int, tuple[Mapping[str, Any], Any]] = {}
        self._has: dict[int, bool] = {}
        self._keep: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()

    def fill(self, data: dict[str, Any], filled: set[Path]) -> dict[str, Any]:
        """``data`` with this schema's defaults; adds the paths it fills to ``filled``."""
        if not self.active or not isinstance(data, dict):
            return data
        result: dict[str, Any] = self._fill(data, [self._root], (), filled)
        return result

    def at(self, data: Any, path: Path) -> Any:
        """The default filled in at ``path`` of ``data`` if it were left out, or ``_NONE``;
        the schema is walked as `fill` walks it (see `default_at`)."""
        if not self.active or not path or not isinstance(path[-1], str):
            return _NONE
        entries, value = [self._root], data
        for segment in path[:-1]:
            nodes = self._expand(entries, value, 0)
            if isinstance(segment, str) and isinstance(value, Mapping) and segment in value:
                entries = [c for entry in nodes for c in self._property(entry, segment)]
            elif isinstance(segment, int) and isinstance(value, list | tuple):
                entries = [c for entry in nodes for c in self._item(entry, segment)]
            else:
                return _NONE
            value = value[segment]
        for node, resolver in self._expand(entries, value, 0):
            properties = node.get("properties")
            sub = properties.get(path[-1]) if isinstance(properties, Mapping) else None
            if isinstance(sub, Mapping) and not _given(sub, value):
                default = self._default(sub, resolver)
                if default is not _NONE:
                    return default
        return _NONE

    # -- walking the data and the schema together ---------------------------------------

    def _fill(self, value: Any, entries: list[Entry], path: Path, filled: set[Path]) -> Any:
        nodes = self._expand(entries, value, 0)
        if isinstance(value, dict):
            out = value
            for node, resolver in nodes:
                properties = node.get("properties")
                if not isinstance(properties, Mapping):
                    continue
                for key, sub in properties.items():
                    if key in out or not isinstance(sub, Mapping) or _given(sub, out):
                        continue
                    default = self._default(sub, resolver)
                    if default is not _NONE:
                        if out is value:
                            out = dict(value)
                        out[key] = thaw(default)
                        filled.add((*path, key))
            # Only keys whose subschema has a default somewhere below are worth a visit.
            if all(_named_only(node) for node, _ in nodes):
                keys: Iterable[str] = dict.fromkeys(
                    name
                    for node, resolver in nodes
                    for key, sub in node.get("properties", {}).items()
                    if isinstance(sub, Mapping) and self._below(sub, resolver)
                    for name in (key, *_aliases(sub))
                    if name in out
                )
            else:
                keys = list(out)
            for key in keys:
                child = out[key]
                if not isinstance(child, dict | list):
                    continue
                inner = [c for entry in nodes for c in self._property(entry, key)]
                if any(self._below(n, r) for n, r in inner):
                    new = self._fill(child, inner, (*path, key), filled)
                    if new is not child:
                        if out is value:
                            out = dict(value)
                        out[key] = new
            return out
        if isinstance(value, list):
            items = value
            for i, child in enumerate(value):
                if not isinstance(child, dict | list):
                    continue
                inner = [c for entry in nodes for c in self._item(entry, i)]
                if any(self._below(n, r) for n, r in inner):
                    new = self._fill(child, inner, (*path, i), filled)
                    if new is not child:
                        if items is value:
                            items = list(value)
                        items[i] = new
            return items
        return value

    def _expand(self, entries: list[Entry], value: Any, depth: int) -> list[Entry]:
        """The entries with what applies in place: ``$ref``, ``allOf``, and the one
        ``anyOf``/``oneOf`` branch that fits ``value`` (``_NONE``: no branch is chosen)."""
        out: list[Entry] = []
        seen: set[int] = set()
        stack = list(reversed(entries))
        while stack:
            node, resolver = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            out.append((node, resolver))
            nested: list[Entry] = []
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    found = resolver.lookup(ref)
                except Exception:  # noqa: S112 (checked when the Schema was built)
                    continue
                if isinstance(found.contents, Mapping):
                    nested.append((found.contents, found.resolver))
            nested += [self._enter(s, resolver) for s in _list(node, "allOf")]
            if value is not _NONE and depth < _MAX_BRANCH_DEPTH:
                for keyword in ("anyOf", "oneOf"):
                    branches = [self._enter(s, resolver) for s in _list(node, keyword)]
                    fitting = [b for b in branches if self._fits(b, value, depth + 1)]
                    if len(fitting) == 1:
                        nested.append(fitting[0])
            stack.extend(reversed(nested))
        return out

    def _fits(self, entry: Entry, value: Any, depth: int) -> bool:
        """Could ``value`` be an instance of this branch? Decided on cheap keywords only."""
        for node, _ in self._expand([entry], value, depth):
            kind = node.get("type")
            if kind is not None and not _type_fits(kind, value):
                return False
            if "const" in node and not _same(node["const"], value):
                return False
            enum = node.get("enum")
            if isinstance(enum, list) and not any(_same(v, value) for v in enum):
                return False
            if isinstance(value, Mapping):
                if any(key not in value for key in _list(node, "required")):
                    return False
                properties = node.get("properties")
                if isinstance(properties, Mapping):
                    for key, sub in properties.items():
                        const = sub.get("const", _NONE) if isinstance(sub, Mapping) else _NONE
                        if key in value and const is not _NONE and not _same(const, value[key]):
                            return False
        return True

    def _default(self, sub: Mapping[str, Any], resolver: Resolver[Any]) -> Any:
        """The usable default of a property's subschema, or ``_NONE``."""
        known = self._usable.get(id(sub))
        if known is not None:
            return known[1]
        default = _NONE
        for node, _ in self._expand([self._enter(sub, resolver)], _NONE, 0):
            if "default" in node:
                default = node["default"]
                break
        if default is not _NONE and not self._passes(sub, default):
            default = _NONE
        with self._lock:
            self._usable[id(sub)] = (sub, default)  # holds `sub`: its id stays its own
        return default

    def _below(self, node: Mapping[str, Any], resolver: Resolver[Any]) -> bool:
        """Does ``node``, or a subschema it reaches, have a ``default``? (Memoized; a node
        met again while its answer is pending counts as yes: a cycle never prunes.)"""
        known = self._has.get(id(node))
        if known is not None:
            return known
        self._has[id(node)] = True
        found = "default" in node
        if not found:
            reached = [self._enter(sub, resolver) for _, sub in subschemas(node)]
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    target = resolver.lookup(ref)
                    reached.append((target.contents, target.resolver))
                except Exception:  # noqa: S110 (checked when the Schema was built)
                    pass
            found = any(isinstance(n, Mapping) and self._below(n, r) for n, r in reached)
        self._has[id(node)] = found
        self._keep.append(node)  # its id stays its own
        return found

    def _passes(self, sub: Mapping[str, Any], default: Any) -> bool:
        try:
            return bool(self._checker.evolve(schema=sub).is_valid(default))
        except Exception:  # a reference it cannot follow from here: do not guess
            return False

    def _enter(self, node: Any, resolver: Resolver[Any]) -> Entry:
        if isinstance(node, Mapping) and "$id" not in node and "id" not in node:
            return node, resolver  # no resource of its own: the same base
        return node, resolver.in_subresource(self._spec.create_resource(node))

    def _property(self, entry: Entry, key: str) -> list[Entry]:
        node, resolver = entry
        properties = node.get("properties")
        found: list[Any] = []
        if isinstance(properties, Mapping) and key not in properties:  # read under an alias?
            found = [s for s in properties.values() if key in _aliases(s)]
        found = found or property_schemas(node, key)
        return [self._enter(sub, resolver) for sub in found if isinstance(sub, Mapping)]

    def _item(self, entry: Entry, index: int) -> list[Entry]:
        node, resolver = entry
        sub = item_schema(node, index)
        return [self._enter(sub, resolver)] if isinstance(sub, Mapping) else []


_cache: dict[Schema, Defaults] = {}
_cache_lock = threading.Lock()


def _defaults(schema: Schema) -> Defaults:
    found = _cache.get(schema)
    if found is None:
        found = Defaults(schema)
        with _cache_lock:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[schema] = found
    return found


def _tools(dialect: str) -> tuple[Any, Any]:
    from .dialects import dialect as tools

    cls, spec, _ = tools(dialect)
    return spec, cls


def _named_only(node: Mapping[str, Any]) -> bool:
    """Does ``node`` reach the values of an object only through ``properties``?"""
    return not isinstance(node.get("additionalProperties"), Mapping) and not node.get(
        "patternProperties"
    )


def _aliases(sub: Any) -> list[str]:
    """The other keys a typed model reads this property from (``x-hotconf-aliases``, which
    `hotconf.pipeline.model` writes into its JSON Schema)."""
    names = sub.get("x-hotconf-aliases") if isinstance(sub, Mapping) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _given(sub: Mapping[str, Any], value: Mapping[str, Any]) -> bool:
    """Does ``value`` give this property under another of its keys? Then its default is not
    filled in: the model reads the value given, and the snapshot holds one spelling."""
    return any(name in value for name in _aliases(sub))


def _list(node: Mapping[str, Any], keyword: str) -> list[Any]:
    value = node.get(keyword)
    return [v for v in value if isinstance(v, Mapping | str)] if isinstance(value, list) else []


_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list | tuple),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _type_fits(kind: Any, value: Any) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    return any(k in _TYPES and _TYPES[k](value) for k in kinds) or not any(
        k in _TYPES for k in kinds
    )


def _same(a: Any, b: Any) -> bool:
    # JSON equality: 1 and true differ, 1 and 1.0 do not
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


__all__ = ["Defaults", "default_at", "with_defaults"]
