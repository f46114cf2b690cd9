"""Schema walking and local-only ``$ref`` resolution for `hotconf.schema` (DESIGN inv. 9).

Everything that could fetch a ``$ref`` goes through a `referencing.Registry` whose
``retrieve`` refuses, and every reference in a schema document is resolved once, eagerly,
when the `Schema` is built: an unresolvable, remote or ``file://`` reference fails there,
never during a reload. `closed_handlers` is the same refusal in the form openapi-spec-validator
(through jsonschema-path) expects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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


def make_registry(document: Mapping[str, Any], spec: Specification[Any]) -> tuple[Any, str]:
    """Register the document (and its embedded ``$id`` resources) in a refusing registry.

    Returns:
        ``(registry, base_uri)``: the base is the document's own ``$id`` or `BASE_URI`.
    """
    resource = spec.create_resource(document)
    base = resource.id() or BASE_URI
    return refusing_registry().with_resource(base, resource).crawl(), base


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
) -> tuple[Problem, ...]:
    """Resolve every ``$ref``/``$dynamicRef``/``$recursiveRef`` in the document, once.

    Returns:
        one `Problem` (code ``ref``, path into the schema document) per reference that does
        not resolve inside the document; ``()`` when all do.
    """
    from referencing.exceptions import Unresolvable

    problems: list[Problem] = []
    resolvers: dict[Where, Resolver[Any]] = {(): registry.resolver(base)}
    for where, node, is_schema in walk(document, openapi=openapi):
        resolver = _nearest(resolvers, where)
        if is_schema:
            resolver = resolver.in_subresource(spec.create_resource(node))
            resolvers[where] = resolver
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
        level = self._expand([self._root])
        for segment in path:
            if not level:
                break
            level = self._expand([c for entry in level for c in self._children(entry, segment)])
        return tuple(node for node, _ in level)

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
            found += _properties(node, segment)
        index = segment if isinstance(segment, int) else None
        if isinstance(segment, str) and segment.isascii() and segment.isdigit():
            index = int(segment)  # ("²".isdigit() too, but int() refuses it: found by tests/fuzz)
        if index is not None:
            found.append(_item(node, index))
        for child in found:
            if isinstance(child, Mapping):
                yield self.enter(child, resolver)


def _properties(node: Mapping[str, Any], key: str) -> list[Any]:
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


def _item(node: Mapping[str, Any], index: int) -> Any:
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
