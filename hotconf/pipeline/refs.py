"""Schema walking and local-only ``$ref`` resolution for `hotconf.pipeline.schema`.

Nothing is fetched (docs/architecture.md, invariant 9). Everything that could fetch a ``$ref``
goes through a `referencing.Registry` whose ``retrieve`` refuses, and every reference in a
schema document is resolved once, eagerly, when the `Schema` is built: an unresolvable, remote
or ``file://`` reference fails there, never during a reload. `closed_handlers` is the same
refusal in the form openapi-spec-validator (through jsonschema-path) expects.

References may loop without descending into the config (``{"$ref": "#"}`` at the root, or two
``$defs`` that ``allOf`` each other): jsonschema follows such a loop until the stack runs out.
`loop_safe` validators follow a reference once per value instead (`loop_in_place` finds the
loops that jsonschema's ``unevaluated*`` keywords would still follow forever).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import Problem
from .paths import to_pointer
from .patterns import PatternError, search

if TYPE_CHECKING:
    from referencing import Registry, Specification
    from referencing._core import Resolver
    from referencing.exceptions import Unresolvable

    Entry = tuple[Mapping[str, Any], Resolver[Any]]

Segment = str | int
Where = tuple[Segment, ...]

#: The URI a document without its own ``$id`` is registered under.
BASE_URI = "urn:hotconf:schema"

# Keywords whose value is one subschema, a list of them, or a name -> subschema map. A
# superset of every supported dialect: a keyword a dialect lacks is simply never present.
ONE = frozenset(
    {
        "additionalItems",
        "additionalProperties",
        "contains",
        "contentSchema",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
MANY = frozenset({"allOf", "anyOf", "items", "oneOf", "prefixItems"})
NAMED = frozenset(
    {"$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties"}
)
REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keys that give a node its own base URI or an anchor, or look one up in the dynamic scope
# (plus a string ``id``, the draft-04 spelling). While no mapping of a document has one, every
# reference resolves against the document's base URI and crawling the registry finds nothing
# (referencing would still crawl on a miss: skipping the eager crawl only saves time).
_SCOPE_KEYS = frozenset(
    {"$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$dynamicRef", "$recursiveRef"}
)
# Applicators that apply to the same instance: annotations follow them (conditionals both ways).
_IN_PLACE_ONE = ("if", "then", "else")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf")


class NotFetched(Exception):
    """Raised by `refuse`; carries the absolute URI that was not retrieved."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.uri = uri


def refuse(uri: str) -> Any:
    """The ``retrieve`` of every registry hotconf builds: nothing is ever fetched."""
    raise NotFetched(uri)


def _refuse_handler(uri: str) -> Any:
    raise NotFetched(uri)


class _ClosedHandlers(Mapping[str, Callable[[str], Any]]):
    # jsonschema-path asks `scheme in handlers` and falls back to urlopen for any scheme it
    # does not find, so this mapping claims every scheme and refuses them all.
    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return _refuse_handler

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(("<all_urls>", "file", "http", "https"))

    def __len__(self) -> int:
        return 4


closed_handlers: Mapping[str, Callable[[str], Any]] = _ClosedHandlers()


@dataclass(slots=True)
class Survey:
    """What one pass over a schema document found: the facts `hotconf.pipeline.schema` and
    `hotconf.pipeline._fastpath` check, gathered once instead of a walk per check.

    Attributes:
        refs: the nodes `walk` yields that hold a ``$ref``, ``$dynamicRef`` or
            ``$recursiveRef``, with their locations, in document order.
        dialects: ``$schema`` values below the root, with their locations, in document order.
        keywords: every key of every schema node.
        patterns: every ``pattern`` value and ``patternProperties`` name of a schema node.
        multiples: every ``multipleOf`` value of a schema node.
        ref_siblings: a schema node holds a ``$ref`` and other keys.
        keys: every key of every mapping in the document, schema or not (a ``$ref`` may point
            anywhere).
        formats: every string value of a ``format`` key, in any mapping.
        scoped: some mapping has a key of `_SCOPE_KEYS` or a string ``id``.
        tuple_items: where a schema node's ``items`` is a list (the tuple form before
            2020-12).
        depth: the longest location of a node the walk enters, in steps.
    """

    refs: list[tuple[Where, Mapping[str, Any]]] = field(default_factory=list)
    dialects: list[tuple[Where, Any]] = field(default_factory=list)
    keywords: set[str] = field(default_factory=set)
    patterns: list[Any] = field(default_factory=list)
    multiples: list[Any] = field(default_factory=list)
    ref_siblings: bool = False
    keys: set[str] = field(default_factory=set)
    formats: set[str] = field(default_factory=set)
    scoped: bool = False
    tuple_items: list[Where] = field(default_factory=list)
    depth: int = 0


def survey(document: Mapping[str, Any], *, openapi: bool) -> Survey:
    """Look at every node of a plain schema document (dicts and lists) once; see `Survey`.

    The nodes `walk` yields are visited in its order, with its rules (the refs and dialects
    come out in document order); the values it skips (``enum``, ``default``, extensions…)
    are only searched for keys.
    """
    found = Survey()
    keywords, keys, formats, refs = found.keywords, found.keys, found.formats, found.refs
    loose: list[Any] = []  # values `walk` does not enter
    stack: list[tuple[Where, Any, bool]] = [((), document, not openapi)]
    while stack:
        where, node, is_schema = stack.pop()
        if len(where) > found.depth:
            found.depth = len(where)
        if type(node) is list:
            items = [
                ((*where, i), v, False)
                for i, v in enumerate(node)
                if type(v) is dict or type(v) is list
            ]
            stack += reversed(items)
            continue
        keys.update(node)
        if type(node.get("format")) is str:
            formats.add(node["format"])
        if type(node.get("id")) is str:
            found.scoped = True
        if "$ref" in node or "$dynamicRef" in node or "$recursiveRef" in node:  # REF_KEYWORDS
            refs.append((where, node))
        if not is_schema:
            in_components = where == ("components", "schemas")
            kids = [
                ((*where, k), v, k == "schema" or in_components)
                for k, v in node.items()
                if type(v) is dict or type(v) is list
            ]
            stack += reversed(kids)
            continue
        keywords.update(node)
        if "$ref" in node and len(node) > 1:
            found.ref_siblings = True
        if where and "$schema" in node:
            found.dialects.append((where, node["$schema"]))
        if "pattern" in node:
            found.patterns.append(node["pattern"])
        if "multipleOf" in node:
            found.multiples.append(node["multipleOf"])
        kids = []
        for key, value in node.items():  # `subschemas`, for plain data
            kind = type(value)
            if kind is dict and key in ONE:
                kids.append(((*where, key), value, True))
            elif kind is dict and key in NAMED:
                # Not a schema, but a `$ref` may make it one (where the dialect has no such
                # keyword, the meta-schema does not look in it): its ``format`` and ``id``
                # count, as in any mapping.
                keys.update(value)
                if type(value.get("format")) is str:
                    formats.add(value["format"])
                if type(value.get("id")) is str:
                    found.scoped = True
                if key == "patternProperties":
                    found.patterns += value
                for name, item in value.items():
                    if type(item) is dict:
                        kids.append(((*where, key, name), item, True))
                    elif type(item) is list:
                        loose.append(item)
            elif kind is list and key in MANY:
                if key == "items":
                    found.tuple_items.append(where)
                for i, item in enumerate(value):
                    if type(item) is dict or type(item) is list:
                        kids.append(((*where, key, i), item, type(item) is dict))
            elif kind is dict or kind is list:
                loose.append(value)
        stack += reversed(kids)
    while loose:
        value = loose.pop()
        if type(value) is dict:
            keys.update(value)
            if type(value.get("format")) is str:
                formats.add(value["format"])
            if type(value.get("id")) is str:
                found.scoped = True
            value = value.values()
        loose += [v for v in value if type(v) is dict or type(v) is list]
    found.scoped = found.scoped or not keys.isdisjoint(_SCOPE_KEYS)
    return found


def make_registry(
    document: Mapping[str, Any], spec: Specification[Any], *, crawl: bool = True
) -> tuple[Any, str]:
    """Register the document (and its embedded ``$id`` resources) in a refusing registry.

    Args:
        crawl: find embedded resources and anchors now; pass False when the document has
            none (`Survey.scoped` is False) to save a walk.

    Returns:
        ``(registry, base_uri)``: the base is the document's own ``$id`` or `BASE_URI`.
    """
    resource = spec.create_resource(document)
    base = resource.id() or BASE_URI
    registry = refusing_registry().with_resource(base, resource)
    return (registry.crawl() if crawl else registry), base


def refusing_registry() -> Registry[Any]:
    """An empty registry whose ``retrieve`` is `refuse`."""
    from referencing import Registry  # imported with the first schema, not with hotconf

    # attrs gives Registry its `retrieve` alias at runtime; mypy only sees the private name.
    return Registry(retrieve=refuse)  # type: ignore[call-arg]


def subschemas(node: Mapping[str, Any]) -> Iterator[tuple[Where, Any]]:
    """Each subschema directly inside ``node``, with its location relative to ``node``."""
    for key, value in node.items():
        if key in ONE and isinstance(value, Mapping | bool):
            yield (key,), value
        elif key in MANY and isinstance(value, list):
            for i, item in enumerate(value):
                yield (key, i), item
        elif key in NAMED and isinstance(value, Mapping):
            for name, item in value.items():
                if isinstance(item, Mapping | bool):
                    yield (key, name), item


def walk(document: Mapping[str, Any], *, openapi: bool) -> Iterator[tuple[Where, Any, bool]]:
    """Every mapping in a schema document as ``(where, node, is_schema)``, in document order.

    In a JSON Schema document every node reached through schema keywords is a schema (values of
    ``enum``, ``default`` etc. are data and are skipped). In an OpenAPI document the walk is
    generic, entering schema mode at ``schema`` keys and under ``components/schemas``.
    """
    stack: list[tuple[Where, Any, bool]] = [((), document, not openapi)]
    while stack:
        where, node, is_schema = stack.pop()
        if isinstance(node, list):
            stack.extend(((*where, i), v, False) for i, v in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, Mapping):
            continue
        yield where, node, is_schema
        if is_schema:
            children = [((*where, *rel), child, True) for rel, child in subschemas(node)]
        else:
            children = [
                ((*where, k), v, k == "schema" or where == ("components", "schemas"))
                for k, v in node.items()
            ]
        stack.extend(reversed(children))


def _not_fetched(error: BaseException) -> NotFetched | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, NotFetched):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_unresolvable(ref: str, where: str, error: Unresolvable) -> str:
    """A message for a reference that did not resolve inside the document."""
    at = where or "/"
    refused = _not_fetched(error)
    if refused is None:
        return f"$ref {ref!r} at {at} does not resolve inside the schema"
    scheme = urlsplit(refused.uri).scheme
    if scheme in ("http", "https"):
        kind, verb = "remote", "fetched"
    elif scheme == "file":
        kind, verb = "file", "read"
    else:
        kind, verb = "external", "looked up"
    resolved = f" (resolved to {refused.uri!r})" if refused.uri != ref else ""
    return (
        f"{kind} $ref {ref!r}{resolved} at {at} is not {verb}: hotconf resolves $ref only "
        "inside the given schema"
    )


def check_refs(
    document: Mapping[str, Any],
    spec: Specification[Any],
    registry: Any,
    base: str,
    *,
    openapi: bool,
    found: Survey | None = None,
) -> tuple[Problem, ...]:
    """Resolve every ``$ref``/``$dynamicRef``/``$recursiveRef`` in the document, once.

    Args:
        found: the document's `Survey`: when nothing in it is scoped, only the nodes with a
            reference are visited, each resolved against the base.

    Returns:
        one `Problem` (code ``ref``, path into the schema document) per reference that does
        not resolve inside the document; ``()`` when all do.
    """
    from referencing.exceptions import Unresolvable

    problems: list[Problem] = []
    root = registry.resolver(base)
    if found is not None and not found.scoped:  # no node changes the base: one resolver
        nodes: Iterator[tuple[Where, Any, Resolver[Any]]] = (
            (where, node, root) for where, node in found.refs
        )
    else:
        nodes = _scoped(document, spec, root, openapi=openapi)
    for where, node, resolver in nodes:
        for keyword in REF_KEYWORDS:
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                resolver.lookup(ref)
            except Unresolvable as error:
                at = to_pointer(where)
                problems.append(Problem(describe_unresolvable(ref, at, error), at, "ref"))
    return tuple(problems)


def _scoped(
    document: Mapping[str, Any], spec: Specification[Any], root: Resolver[Any], *, openapi: bool
) -> Iterator[tuple[Where, Any, Resolver[Any]]]:
    # Every node with the resolver in scope there: each schema node may set a new base URI.
    resolvers: dict[Where, Resolver[Any]] = {(): root}
    for where, node, is_schema in walk(document, openapi=openapi):
        resolver = _nearest(resolvers, where)
        if is_schema:
            resolver = resolver.in_subresource(spec.create_resource(node))
            resolvers[where] = resolver
        yield where, node, resolver


_following = threading.local()  # the (schema, value) pairs being checked through a reference


def _follow(validator: Any, instance: Any, resolved: Any) -> Iterator[Any]:
    active: set[tuple[int, int]] | None = getattr(_following, "active", None)
    if active is None:
        active = _following.active = set()
    key = (id(resolved.contents), id(instance))
    if key in active:
        # Back at a schema already being checked for this very value (config data is a tree, so
        # nothing in between descended into it): checking it again here would add nothing.
        return
    active.add(key)
    try:
        yield from validator.descend(instance, resolved.contents, resolver=resolved.resolver)
    finally:
        active.discard(key)


def _ref(validator: Any, ref: str, instance: Any, schema: Any) -> Iterator[Any]:
    yield from _follow(validator, instance, validator._resolver.lookup(ref))


def _recursive_ref(validator: Any, ref: str, instance: Any, schema: Any) -> Iterator[Any]:
    from referencing.jsonschema import lookup_recursive_ref

    yield from _follow(validator, instance, lookup_recursive_ref(validator._resolver))


@functools.cache
def loop_safe(cls: Any) -> Any:
    """The jsonschema validator class ``cls``, for a schema whose references loop in place.

    A reference that leads back to a schema already being checked for the same value is taken
    as satisfied there: the outer check covers everything else, so
    ``{"$ref": "#", "properties": {"next": {"$ref": "#"}}}`` means its ``properties``.
    """
    from .dialects import validators

    mine = {"$ref": _ref, "$dynamicRef": _ref, "$recursiveRef": _recursive_ref}
    return validators.extend(cls, {k: v for k, v in mine.items() if k in cls.VALIDATORS})


def loop_in_place(
    document: Mapping[str, Any],
    spec: Specification[Any],
    registry: Any,
    base: str,
    *,
    openapi: bool,
) -> Where | None:
    """Where references loop back to a schema without descending into the config, if anywhere.

    The steps that stay at the same value are the references and ``allOf``, ``anyOf``,
    ``oneOf``, ``not``, ``if``/``then``/``else``, ``dependentSchemas`` and ``dependencies``.
    """
    from referencing.exceptions import Unresolvable

    resolvers: dict[Where, Resolver[Any]] = {(): registry.resolver(base)}
    where_of: dict[int, Where] = {}
    steps: dict[int, list[Any]] = {}
    for where, node, is_schema in walk(document, openapi=openapi):
        if not is_schema:
            continue
        resolver = _nearest(resolvers, where)
        if spec.id_of(node) is not None:
            resolver = resolver.in_subresource(spec.create_resource(node))
            resolvers[where] = resolver
        where_of[id(node)] = where
        found = steps[id(node)] = []
        for key in _IN_PLACE_STEPS.intersection(node):
            value = node[key]
            if isinstance(value, list):
                found += value
            elif key in NAMED and isinstance(value, Mapping):
                found += value.values()
            else:
                found.append(value)
        for keyword in REF_KEYWORDS:
            ref = node.get(keyword)
            if isinstance(ref, str):
                try:
                    found.append(resolver.lookup(ref).contents)
                except Unresolvable:  # pragma: no cover (check_refs refused it first)
                    continue
    state: dict[int, bool] = {}  # True while on the walked path, False once done
    for start in steps:
        if start in state:
            continue
        state[start] = True
        path, stack = [start], [iter(steps[start])]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = False
                stack.pop()
            elif isinstance(child, Mapping):
                on_path = state.get(id(child))
                if on_path:
                    return where_of.get(id(child), ())
                if on_path is None:
                    state[id(child)] = True
                    path.append(id(child))
                    stack.append(iter(steps.get(id(child), ())))
    return None


_IN_PLACE_STEPS = frozenset(
    {"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies"}
)


def _nearest(resolvers: dict[Where, Resolver[Any]], where: Where) -> Resolver[Any]:
    for n in range(len(where), -1, -1):
        found = resolvers.get(where[:n])
        if found is not None:
            return found
    raise AssertionError("the root resolver is always present")  # pragma: no cover


class Annotator:
    """Finds the subschemas that apply at a config path, without looking at any data."""

    def __init__(self, root: Entry, spec: Specification[Any]) -> None:
        self._root = root
        self._spec = spec

    def at(self, path: tuple[Segment, ...]) -> tuple[Mapping[str, Any], ...]:
        """Outer-first subschemas at ``path``; ``()`` when the schema says nothing there."""
        level = self.root()
        for segment in path:
            if not level:
                break
            level = self.step(level, segment)
        return tuple(node for node, _ in level)

    def root(self) -> list[Entry]:
        """The entries that apply at the empty path (`at` is `root` and a `step` per segment;
        a caller that keeps a level can go one segment deeper without starting over)."""
        return self._expand([self._root])

    def step(self, level: list[Entry], segment: Segment) -> list[Entry]:
        """The entries one ``segment`` below ``level``."""
        return self._expand([c for entry in level for c in self._children(entry, segment)])

    def _expand(self, entries: list[Entry]) -> list[Entry]:
        from referencing.exceptions import Unresolvable

        # Every entry's resolver is already "inside" its node (its $id applied once).
        out: list[Entry] = []
        seen: set[int] = set()
        stack = list(reversed(entries))
        while stack:
            node, resolver = stack.pop()
            if id(node) in seen:
                continue  # recursive $refs and shared subschemas end here
            seen.add(id(node))
            out.append((node, resolver))
            nested: list[Entry] = []
            for keyword in REF_KEYWORDS:
                ref = node.get(keyword)
                if isinstance(ref, str):
                    try:
                        resolved = resolver.lookup(ref)
                    except Unresolvable:  # pragma: no cover (checked at construction)
                        continue
                    if isinstance(resolved.contents, Mapping):
                        nested.append((resolved.contents, resolved.resolver))
            subs: list[Any] = []
            for k in _IN_PLACE_MANY:
                subs += list(node.get(k, ()))
            subs += [node[k] for k in _IN_PLACE_ONE if k in node]
            dependent = node.get("dependentSchemas")
            if isinstance(dependent, Mapping):
                subs += list(dependent.values())
            nested += [self.enter(s, resolver) for s in subs if isinstance(s, Mapping)]
            stack.extend(reversed(nested))
        return out

    def enter(self, node: Mapping[str, Any], resolver: Resolver[Any]) -> Entry:
        """``(node, resolver)`` with the node's own ``$id`` (if any) applied to the resolver."""
        return node, resolver.in_subresource(self._spec.create_resource(node))

    def _children(self, entry: Entry, segment: Segment) -> Iterator[Entry]:
        node, resolver = entry
        found: list[Any] = []
        if isinstance(segment, str):
            found += property_schemas(node, segment)
        index = segment if isinstance(segment, int) else None
        if isinstance(segment, str) and segment.isascii() and segment.isdigit():
            index = int(segment)  # ("²".isdigit() too, but int() refuses it: found by tests/fuzz)
        if index is not None:
            found.append(item_schema(node, index))
        for child in found:
            if isinstance(child, Mapping):
                yield self.enter(child, resolver)


def property_schemas(node: Mapping[str, Any], key: str) -> list[Any]:
    """The subschemas of ``node`` that apply to its property ``key``: the one in
    ``properties``, those of matching ``patternProperties``, else ``additionalProperties``."""
    found: list[Any] = []
    properties = node.get("properties")
    if isinstance(properties, Mapping) and key in properties:
        found.append(properties[key])
    patterns = node.get("patternProperties")
    if isinstance(patterns, Mapping):
        found += [sub for pattern, sub in patterns.items() if _search(pattern, key)]
    extra = node.get("additionalProperties")
    if not found and isinstance(extra, Mapping):
        found.append(extra)
    return found


def item_schema(node: Mapping[str, Any], index: int) -> Any:
    """The subschema of ``node`` for its list item at ``index`` (``prefixItems``, ``items``,
    or draft-07's tuple ``items`` and ``additionalItems``), or ``None``."""
    prefix = node.get("prefixItems")
    items = node.get("items")
    if isinstance(prefix, list):
        return prefix[index] if index < len(prefix) else items
    if isinstance(items, list):  # draft-07 and older: a tuple of item schemas
        return items[index] if index < len(items) else node.get("additionalItems")
    return items


def _search(pattern: str, key: str) -> bool:
    # RE2, as validation does: keys come from configs, and must not stall the process
    try:
        return search(pattern, key)
    except PatternError:  # pragma: no cover (a Schema refuses such patterns first)
        return False
