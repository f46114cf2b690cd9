"""The schema stage: a `Schema` from a JSON Schema or an OpenAPI component, config validation
into `Problem`s, and the annotations (``x-hotconf-*``, ``default``, ``writeOnly``…) at a path.

A `Schema` is immutable and checked when built: the dialect is known, the document is valid
for it, and every ``$ref`` resolves inside the document (docs/architecture.md, invariant 9:
nothing is fetched, see `hotconf.pipeline.refs`). Problem messages never carry secret values
(invariant 8). docs/schemas.md is the user guide.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import HotconfError, Problem, SchemaError
from . import _fastpath
from ._messages import cap, message
from .load import SUFFIXES, load
from .paths import covered, from_pointer, to_pointer
from .patterns import PatternError, check_patterns, linear, search
from .redaction import scrub_text, sensitive_name
from .refs import (
    Annotator,
    Survey,
    check_refs,
    closed_handlers,
    loop_in_place,
    loop_safe,
    make_registry,
    refusing_registry,
    survey,
    walk,
)
from .schemadoc import NotPlain, node_stubs, plain_copy
from .snapshot import list_index

if TYPE_CHECKING:
    from jsonschema import FormatChecker

MAX_PROBLEMS = 100
MAX_DEPTH = 128  # steps into a schema document (a file is held to 64 by the loader already)

# $schema URI (without a trailing "#") -> dialect; jsonschema's classes for each are looked up
# when a schema is built (`hotconf.pipeline.dialects`): importing this module imports neither.
_DIALECTS: dict[str, str] = {
    "https://json-schema.org/draft/2020-12/schema": "json-schema-2020-12",
    "https://json-schema.org/draft/2019-09/schema": "json-schema-2019-09",
    "http://json-schema.org/draft-07/schema": "json-schema-draft-07",
    "http://json-schema.org/draft-06/schema": "json-schema-draft-06",
    "http://json-schema.org/draft-04/schema": "json-schema-draft-04",
}
_OPENAPI = {"3.0": "openapi-3.0", "3.1": "openapi-3.1"}
_OAS31_DIALECT = "https://spec.openapis.org/oas/3.1/dialect/base"


class Schema:
    """A checked, immutable schema that configs are validated against.

    Build one with `from_file`, `from_dict` or `coerce`. The dialect comes from ``$schema``
    (JSON Schema 2020-12 when absent), or from a top-level ``openapi: 3.0.x|3.1.x``, in which
    case ``pointer`` names the component that describes the config.

    Attributes:
        document: the whole schema document (read-only view of a private copy).
        pointer: ``"#/..."`` JSON Pointer to the config schema inside ``document``, or None.
        source: where the document came from (a file name), when known.
        dialect: ``json-schema-2020-12``, ``json-schema-2019-09``, ``json-schema-draft-07``,
            ``-06``, ``-04``, ``openapi-3.0`` or ``openapi-3.1``.
        checksum: sha256 hex of the canonical JSON of the document and pointer.
        root: the subschema configs are validated against.

    Raises:
        SchemaError: unreadable or invalid document, unknown dialect, bad pointer, or a
            ``$ref`` that does not resolve inside the document.

    Example:
        >>> schema = Schema.from_dict({"properties": {"port": {"type": "integer"}}})
        >>> [str(p) for p in schema.validate({"port": "80"})]
        ["/port: '80' is not of type 'integer'"]
    """

    __slots__ = (
        "_annotator", "_cache", "_checksum", "_fast", "_marked", "_registry", "_sensitive",
        "_validator", "dialect", "document", "pointer", "root", "source",
    )  # fmt: skip

    def __init__(
        self, document: Mapping[str, Any], pointer: str | None = None, *, source: str | None = None
    ) -> None:
        if not isinstance(document, Mapping):
            raise _schema_error(source, f"a schema is a mapping, not a {type(document).__name__}")
        try:
            plain = _plain(document, source)
        except RecursionError:
            raise _schema_error(source, _TOO_DEEP) from None
        self._build(plain, pointer, source)

    def _build(self, doc: dict[str, Any], pointer: str | None, source: str | None) -> None:
        try:
            self._check_and_compile(doc, pointer, source)
        except HotconfError:
            raise
        except RecursionError:
            raise _schema_error(source, _TOO_DEEP) from None
        except Exception as exc:  # never a traceback: a schema hotconf cannot handle is an error
            raise _schema_error(
                source, f"cannot use this schema: {type(exc).__name__}: {cap(str(exc))}"
            ) from exc

    def _check_and_compile(
        self, doc: dict[str, Any], pointer: str | None, source: str | None
    ) -> None:
        # ``doc`` is plain JSON data that nothing else holds (a private copy, or fresh from
        # the JSON loader, which never shares a node).
        self.source = source
        self.document: Mapping[str, Any] = MappingProxyType(doc)
        self.dialect, cls, spec, checker = _dialect(doc, source)
        openapi = self.dialect.startswith("openapi")
        self.pointer = _normalize_pointer(pointer, doc, openapi, source)
        found = survey(doc, openapi=openapi)
        if found.depth > MAX_DEPTH:  # validating it would exhaust the interpreter's stack
            raise _schema_error(source, f"nested deeper than {MAX_DEPTH} levels")
        if found.tuple_items and self.dialect in _ITEMS_IS_ONE_SCHEMA and not found.dialects:
            where = to_pointer(found.tuple_items[0]) or "/"
            raise _schema_error(source, _tuple_items(where, self.dialect, "$schema" in doc))

        def check_document() -> None:
            _check_nested_dialects(found, openapi, source)
            if openapi:
                _check_openapi(doc, self.dialect, source)
            elif not _fastpath.meta_valid(doc, cls):
                _check_schema(doc, cls, source)

        try:
            registry, base = make_registry(doc, spec, crawl=found.scoped)
            bad_refs = check_refs(doc, spec, registry, base, openapi=openapi, found=found)
        except HotconfError:
            raise
        except Exception:
            # referencing trusts the types of $id, $anchor and the applicators: a document
            # its dialect refuses says why here; one it accepts is a bug, reported as such
            check_document()
            raise
        if bad_refs:
            more = f" (and {len(bad_refs) - 1} more)" if len(bad_refs) > 1 else ""
            raise SchemaError(bad_refs[0].message + more, bad_refs if more else ())
        check_document()
        check_patterns(walk(doc, openapi=openapi), source)
        plain, cls = cls, linear(cls)  # patterns on RE2: no pattern can stall the process
        target = base + (self.pointer or "")
        resolved = registry.resolver(base).lookup(target)
        self.root: Mapping[str, Any] = resolved.contents
        self._validator = cls({"$ref": target}, registry=registry, format_checker=checker)
        self._annotator = Annotator((resolved.contents, resolved.resolver), spec)
        self._cache: dict[tuple[Any, ...], tuple[tuple[Mapping[str, Any], ...], list[Any]]] = {}
        self._sensitive: dict[tuple[Any, ...], bool] = {}
        # Can an annotation mark a path secret or opt a key out? Not without one of these
        # anywhere in the document; then only key names decide (`is_sensitive`).
        self._marked = not found.keys.isdisjoint(_MARKS) or "password" in found.formats
        self._fast = _fastpath.build(doc, self.pointer, self.dialect, checker, found)
        self._checksum: str | None = None

        self._registry = registry
        loop = loop_in_place(doc, spec, registry, base, openapi=openapi) if found.refs else None
        if loop is not None:
            _check_unevaluated(found.keywords, loop, source)
            self._registry = make_registry(_one_dialect(doc, plain, openapi, source), spec)[0]
            safe = loop_safe(cls)
            self._validator = safe(
                {"$ref": target}, registry=self._registry, format_checker=checker
            )

    @property
    def checksum(self) -> str:
        """sha256 hex of the canonical JSON of the document and pointer."""
        if self._checksum is None:
            canonical = json.dumps(
                {"document": dict(self.document), "pointer": self.pointer},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            )
            self._checksum = hashlib.sha256(canonical.encode()).hexdigest()
        return self._checksum

    @classmethod
    def from_dict(
        cls, document: Mapping[str, Any], pointer: str | None = None, *, source: str | None = None
    ) -> Schema:
        """A `Schema` from an in-memory document.

        Args:
            document: a JSON Schema, or an OpenAPI 3.0/3.1 document.
            pointer: JSON Pointer to the config schema (required for OpenAPI), with or
                without the leading ``#``.
            source: a name for messages, e.g. the file it was read from.

        Returns:
            The checked schema.

        Raises:
            SchemaError: see `Schema`.

        Example:
            >>> Schema.from_dict({"$schema": "http://json-schema.org/draft-07/schema#"}).dialect
            'json-schema-draft-07'
        """
        return cls(document, pointer, source=source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], pointer: str | None = None) -> Schema:
        """A `Schema` from a YAML or JSON file (read with `hotconf.pipeline.load.load`).

        Args:
            path: the file; ``"openapi.yaml#/components/schemas/App"`` also sets the pointer
                when no file has that literal name.
            pointer: JSON Pointer to the config schema (required for OpenAPI).

        Returns:
            The checked schema.

        Raises:
            SchemaError: the file cannot be read or parsed, or see `Schema`.

        Example:
            >>> Schema.from_file("openapi.yaml", "#/components/schemas/AppConfig")  # doctest: +SKIP
        """
        name = os.fspath(path)
        if pointer is None and "#" in name and not Path(name).exists():
            name, _, fragment = name.rpartition("#")
            pointer = "#" + fragment
        try:
            # A schema is YAML or JSON (which YAML reads) unless its suffix says otherwise:
            # a schema file without one is read as YAML, not refused as a config would be.
            fmt = SUFFIXES.get(os.path.splitext(name)[1].lower(), "yaml")
            document = load(name, fmt)
        except HotconfError as error:
            raise SchemaError(f"cannot read schema: {error.message}", error.problems) from error
        except OSError as error:
            raise SchemaError(f"cannot read schema {name}: {error.strerror}") from error
        if fmt != "json":  # YAML aliases share nodes: take a private copy
            return cls(document, pointer, source=name)
        schema = cls.__new__(cls)  # JSON data is plain and unshared: no copy needed
        schema._build(document, pointer, name)
        return schema

    @classmethod
    def coerce(cls, value: Schema | str | os.PathLike[str] | Mapping[str, Any]) -> Schema:
        """Whatever ``watch(schema=...)`` accepts, as a `Schema`.

        Args:
            value: a `Schema` (returned as is), a file path (see `from_file`) or a document.

        Returns:
            The schema.

        Raises:
            SchemaError: see `from_file` and `Schema`.
            TypeError: ``value`` is none of those.

        Example:
            >>> Schema.coerce({"type": "object"}).dialect
            'json-schema-2020-12'
        """
        if isinstance(value, Schema):
            return value
        if isinstance(value, str | os.PathLike):
            return cls.from_file(value)
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise TypeError(f"a schema is a Schema, a path or a mapping, not {type(value).__name__}")

    @classmethod
    def from_model(cls, model: type[Any]) -> Schema:
        """The JSON Schema of a typed model (validation mode), as a `Schema`.

        Args:
            model: a pydantic ``BaseModel`` (frozen), a frozen dataclass or a ``TypedDict``.

        Returns:
            The schema hotconf reads the model's annotations, secrets and defaults from
            (``hotconf schema export`` prints it). Validating with it is JSON Schema's
            verdict, not pydantic's: ``watch(model=...)`` validates with the model itself.

        Raises:
            SchemaError: pydantic cannot make a JSON Schema of it, or it is not frozen.
            TypeError: it is not a model, a dataclass or a TypedDict.

        Example:
            >>> schema = Schema.from_model(AppConfig)  # doctest: +SKIP
            >>> schema.annotation(["db", "host"], "x-hotconf-reload")  # doctest: +SKIP
            'restart'
        """
        from .model import Model

        return Model.of(model).schema

    def validate(
        self, data: Any, *, secrets: Collection[tuple[str, ...]] = ()
    ) -> tuple[Problem, ...]:
        """Check a config against the schema.

        Args:
            data: plain config data (dict, list, str, int, float, bool, None).
            secrets: paths that are secret whatever the schema says (values a secret file
                set): messages never quote a value at or under them.

        Returns:
            ``()`` when valid; otherwise problems sorted by path, ``code`` the failing keyword,
            at most `MAX_PROBLEMS` plus one saying how many were left out.

        Example:
            >>> Schema.from_dict({"required": ["db"]}).validate({})[0].message
            "'db' is a required property"
        """
        return self._validate(data, None, secrets)

    def _validate(
        self, data: Any, plain: bool | None, secrets: Collection[tuple[str, ...]] = ()
    ) -> tuple[Problem, ...]:
        """`validate`; ``plain``: whether ``data`` is plain for the fast path, when known."""
        if self._fast is not None and self._fast(data, plain):
            return ()
        from .dialects import best_match

        found: list[tuple[tuple[Any, ...], Problem]] = []
        try:
            for error in self._validator.iter_errors(data):
                if error.context:
                    error = best_match([error]) or error
                path = tuple(error.absolute_path)
                sensitive = self.is_sensitive(path) or covered(path, secrets)
                keys = () if sensitive else _unexpected_keys(error)
                if keys:  # one problem per key a closed object refuses, at that key's path
                    for key in keys:
                        text = f"Additional properties are not allowed ({key!r} was unexpected)"
                        at = (*path, key)
                        problem = Problem(
                            cap(scrub_text(text)), to_pointer(at), "additionalProperties"
                        )
                        found.append((at, problem))
                    continue
                text = scrub_text(message(error, sensitive))
                if not sensitive and _yaml11_boolean(error):
                    text += " (YAML 1.2: write true or false)"
                found.append((path, Problem(text, to_pointer(path), error.validator or "false")))
        except RecursionError:  # a config nested past what the schema's recursion can follow
            msg = "validation recursed too deep for Python: the config is nested too deeply"
            found.append(((), Problem(msg, "", "limit")))
        found.sort(key=lambda item: (_sort_key(item[0]), item[1].code, item[1].message))
        problems = [problem for _, problem in found[:MAX_PROBLEMS]]
        if len(found) > MAX_PROBLEMS:
            left = len(found) - MAX_PROBLEMS
            problems.append(Problem(f"{left} more problems were left out", "", "truncated"))
        return tuple(problems)

    def annotations(self, path: Sequence[str | int]) -> tuple[Mapping[str, Any], ...]:
        """Every subschema that applies at a config path, outer first.

        Follows ``properties``, ``patternProperties``, ``additionalProperties``, ``items``,
        ``prefixItems`` (and draft-07 tuple ``items``/``additionalItems``), ``allOf``,
        ``anyOf``, ``oneOf``, ``if``/``then``/``else``, ``dependentSchemas`` and local
        ``$ref``s, without looking at data (so every branch counts).

        Args:
            path: config path; list indexes are ints (digit strings work too).

        Returns:
            The subschemas (mappings), ``()`` if the schema says nothing about ``path``.

        Example:
            >>> s = Schema.from_dict({"properties": {"a": {"x-hotconf-reload": "restart"}}})
            >>> s.annotations(["a"])
            ({'x-hotconf-reload': 'restart'},)
        """
        return self._level(tuple(path))[0]

    def _level(self, key: tuple[Any, ...]) -> tuple[tuple[Mapping[str, Any], ...], list[Any]]:
        # (subschemas, annotator entries) at ``key``, one step down from the nearest cached
        # ancestor: a walk over a config asks for each parent first, so each path costs one
        # step, not a walk from the root.
        cache = self._cache
        found = cache.get(key)
        n = len(key)
        while found is None and n > 0:
            n -= 1
            found = cache.get(key[:n])
        if found is None:
            found = self._remember((), self._annotator.root())
        for i in range(n + 1, len(key) + 1):
            entries = self._annotator.step(found[1], key[i - 1]) if found[1] else []
            found = self._remember(key[:i], entries)
        return found

    def _remember(
        self, key: tuple[Any, ...], entries: list[Any]
    ) -> tuple[tuple[Mapping[str, Any], ...], list[Any]]:
        if len(self._cache) > 65_536:  # paths come from configs: bound the memory
            self._cache.clear()
        found = self._cache[key] = (tuple(node for node, _ in entries), entries)
        return found

    def annotation(self, path: Sequence[str | int], keyword: str, default: Any = None) -> Any:
        """The first value of ``keyword`` among `annotations` at ``path``, else ``default``.

        Example:
            >>> s = Schema.from_dict({"properties": {"a": {"x-hotconf-reload": "restart"}}})
            >>> s.annotation(["a"], "x-hotconf-reload", "live")
            'restart'
        """
        for node in self.annotations(path):
            if keyword in node:
                return node[keyword]
        return default

    def is_sensitive(self, path: Sequence[str | int], *, parent: bool | None = None) -> bool:
        """Must the value at ``path`` (and everything under it) be redacted?

        True when a key on the path is a `sensitive_name` (unless the schema at that key says
        ``x-hotconf-sensitive: false``), or a subschema at the path or an ancestor has
        ``writeOnly: true``, ``format: password`` or ``x-hotconf-sensitive: true``.

        Args:
            path: config path; list indexes are ints.
            parent: what `is_sensitive` says of the path's parent, when the caller knows it
                (a walk down a config does): then only the last step is looked at.

        Example:
            >>> Schema.from_dict({}).is_sensitive(["db", "password"])
            True
        """
        key = tuple(path)
        if parent is not None and key:
            return parent or self._marks(key)
        cache = self._sensitive
        known = cache.get(key)
        # Sensitive when the parent is, or on its own account: from the nearest known
        # ancestor down (a walk over a config asks for each parent first, so one step).
        n = len(key)
        while known is None and n > 0:
            n -= 1
            known = cache.get(key[:n])
        if known is None:
            known = self._marks(())
        for i in range(n + 1, len(key) + 1):
            known = known or self._marks(key[:i])
            if len(cache) > 65_536:  # paths come from configs: bound the memory
                cache.clear()
            cache[key[:i]] = known
        return known

    def _marks(self, path: tuple[str | int, ...]) -> bool:
        # Is ``path`` sensitive on its own account, whatever its ancestors are?
        last = path[-1] if path else None
        named = isinstance(last, str) and sensitive_name(last)
        if not self._marked:
            return named
        if any(_marks_secret(node) for node in self.annotations(path)):
            return True
        return named and self.annotation(path, "x-hotconf-sensitive") is not False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and other.checksum == self.checksum

    def __hash__(self) -> int:
        return hash(self.checksum)

    def __repr__(self) -> str:
        return f"Schema(dialect={self.dialect!r}, pointer={self.pointer!r}, source={self.source!r})"


_MARKS = frozenset({"writeOnly", "x-hotconf-sensitive"})  # and ``format: password``


def _marks_secret(node: Mapping[str, Any]) -> bool:
    return (
        node.get("writeOnly") is True
        or node.get("format") == "password"
        or node.get("x-hotconf-sensitive") is True
    )


def _plain(value: Any, source: str | None) -> Any:
    # A private deep copy in plain JSON types: callers may mutate what they passed in.
    try:
        return plain_copy(value)
    except NotPlain as refused:
        raise _schema_error(source, refused.message, refused.where) from None


def _schema_error(source: str | None, message: str, where: Sequence[str | int] = ()) -> SchemaError:
    at = f" at {to_pointer(where)}" if where else ""
    return SchemaError(f"{source}: {message}{at}" if source else f"{message}{at}")


def _dialect(doc: Mapping[str, Any], source: str | None) -> tuple[str, Any, Any, FormatChecker]:
    from .dialects import dialect

    if "openapi" in doc:
        version = str(doc["openapi"])
        name = _OPENAPI.get(version[:3]) if version[3:4] == "." else None
        if name is None:
            raise _schema_error(source, f"OpenAPI {version} is not supported (3.0.x, 3.1.x are)")
        return (name, *dialect(name))
    if "swagger" in doc:
        raise _schema_error(source, "Swagger 2.0 is not supported (OpenAPI 3.0.x, 3.1.x are)")
    uri = doc.get("$schema", "https://json-schema.org/draft/2020-12/schema")
    found = _DIALECTS.get(uri.rstrip("#")) if isinstance(uri, str) else None
    if found is None:
        raise _schema_error(source, _unknown_dialect(uri))
    return (found, *dialect(found))


_TOO_DEEP = "cannot use this schema: it is nested too deeply"

# Dialects in which ``items`` is one schema, never the list of the tuple form.
_ITEMS_IS_ONE_SCHEMA = frozenset({"json-schema-2020-12", "openapi-3.0", "openapi-3.1"})


def _tuple_items(where: str, dialect: str, declared: bool) -> str:
    found = f"items at {where} is a list of schemas: the tuple form of draft-04 to 2019-09"
    if dialect == "openapi-3.0":
        return f"{found}, which OpenAPI 3.0 does not have (items is one schema)"
    if dialect == "openapi-3.1":
        return (
            f"{found}; OpenAPI 3.1 schemas are JSON Schema 2020-12, where a tuple is "
            "prefixItems (and items the schema of the items after them): write prefixItems"
        )
    read = "declares" if declared else "has no $schema, so hotconf reads it as"
    return (
        f"{found}; this schema {read} JSON Schema 2020-12, where a tuple is prefixItems (and "
        "items the schema of the items after them, as additionalItems was): write "
        'prefixItems, or declare the draft it was written for: "$schema": '
        '"http://json-schema.org/draft-07/schema#"'
    )


def _unknown_dialect(uri: object) -> str:
    return (
        f"unknown $schema {uri!r}: hotconf knows JSON Schema 2020-12, 2019-09, draft-07, -06 "
        "and -04 and never fetches meta-schemas"
    )


def _normalize_pointer(
    pointer: str | None, doc: Mapping[str, Any], openapi: bool, source: str | None
) -> str | None:
    if pointer in (None, "", "#"):
        if openapi:
            raise _schema_error(
                source,
                "an OpenAPI document needs a pointer to the config schema, such as "
                f"'#/components/schemas/AppConfig'; {_components(doc)}",
            )
        return None
    assert pointer is not None
    try:
        segments = from_pointer(pointer)
    except ValueError:
        raise _schema_error(source, f"{pointer!r} is not a JSON Pointer") from None
    node: Any = doc
    for segment in segments:
        if isinstance(node, list) and list_index(segment) is not None and int(segment) < len(node):
            node = node[int(segment)]
        elif isinstance(node, Mapping) and segment in node:
            node = node[segment]
        else:
            where = _components(doc) if openapi else _keys_near(doc, segments)
            raise _schema_error(source, f"pointer {pointer!r} points to nothing; {where}")
    if not isinstance(node, Mapping):
        raise _schema_error(source, f"pointer {pointer!r} points to a {type(node).__name__}")
    return "#" + to_pointer(segments)


def _components(doc: Mapping[str, Any]) -> str:
    schemas = doc.get("components", {}).get("schemas", {})
    names = ", ".join(sorted(schemas)) if isinstance(schemas, Mapping) else ""
    return f"components/schemas has: {names}" if names else "components/schemas is empty"


def _keys_near(doc: Mapping[str, Any], segments: Sequence[str]) -> str:
    node: Any = doc
    for n, segment in enumerate(segments):
        if not isinstance(node, Mapping) or segment not in node:
            keys = ", ".join(sorted(node)) if isinstance(node, Mapping) else ""
            return f"{to_pointer(segments[:n]) or '/'} has: {keys or 'nothing'}"
        node = node[segment]
    return ""


def _check_nested_dialects(found: Survey, openapi: bool, source: str | None) -> None:
    for where, uri in found.dialects:
        known = isinstance(uri, str) and (
            uri.rstrip("#") in _DIALECTS or (openapi and uri == _OAS31_DIALECT)
        )
        if not known:
            raise _schema_error(source, _unknown_dialect(uri), where)


def _check_schema(doc: Mapping[str, Any], cls: Any, source: str | None) -> None:
    # Like cls.check_schema, but with a registry that refuses to fetch (the default one would).
    from .dialects import best_match, validators

    meta_cls = validators.validator_for(cls.META_SCHEMA, default=cls)
    meta = meta_cls(
        cls.META_SCHEMA, registry=refusing_registry(), format_checker=_meta_formats(cls)
    )
    if all(meta.is_valid(stub) for stub in node_stubs(doc)):
        return  # every node is valid, so the document is (`hotconf.pipeline.schemadoc`)
    error = best_match(meta.iter_errors(doc))
    if error is not None:
        message = cap(error.message)
        raise _schema_error(source, f"not a valid schema: {message}", tuple(error.absolute_path))


def _meta_formats(cls: Any) -> FormatChecker:
    # Patterns are RE2's (hotconf.pipeline.patterns, which checks them with clearer
    # messages), not Python's: the meta-schema's `format: regex` must not judge them by `re`.
    from .dialects import FormatChecker

    checker = FormatChecker(())
    checker.checkers = {k: v for k, v in cls.FORMAT_CHECKER.checkers.items() if k != "regex"}
    return checker


def _check_unevaluated(keywords: set[str], loop: tuple[str | int, ...], source: str | None) -> None:
    # jsonschema works out what unevaluated* leaves over by following every reference, without
    # end on a loop: validation follows a loop once (`loop_safe`), that part of jsonschema cannot.
    if "unevaluatedProperties" in keywords or "unevaluatedItems" in keywords:
        raise _schema_error(
            source,
            "unevaluatedProperties and unevaluatedItems cannot be used in a schema whose "
            f"references loop back to {to_pointer(loop) or '/'} without descending into the config",
        )


def _one_dialect(doc: Mapping[str, Any], cls: Any, openapi: bool, source: str | None) -> Any:
    # jsonschema picks its validator class again from the `$schema` of each subschema it enters,
    # which would trade the loop-safe class for the plain one: this copy says the dialect only
    # through the class. A subschema in another dialect would still switch, so it is refused.
    from .dialects import validators

    copy = json.loads(json.dumps(doc))
    for where, node, is_schema in walk(copy, openapi=openapi):
        if is_schema and "$schema" in node:
            if validators.validator_for(node, default=cls) is not cls:
                raise _schema_error(
                    source,
                    "references that loop back without descending into the config cannot be "
                    "used in a schema that mixes dialects",
                    where,
                )
            del node["$schema"]
    return copy


def _check_openapi(doc: dict[str, Any], dialect: str, source: str | None) -> None:
    from jsonschema_path import SchemaPath
    from openapi_spec_validator.validation import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    spec_cls = OpenAPIV30SpecValidator if dialect == "openapi-3.0" else OpenAPIV31SpecValidator
    # jsonschema-path falls back to urlopen for schemes it has no handler for: claim them all.
    spec_path = SchemaPath.from_dict(doc, handlers=closed_handlers)
    try:
        error = next(iter(spec_cls(spec_path).iter_errors()), None)
    except RecursionError:
        raise _schema_error(
            source,
            "openapi-spec-validator cannot check a document whose references loop back without "
            "descending into the config (such as a schema whose allOf refers to itself)",
        ) from None
    except Exception as exc:  # the walk raises (not yields) on what it cannot resolve
        raise _schema_error(source, f"not a valid OpenAPI document: {exc}") from exc
    if error is not None:
        first_line = str(getattr(error, "message", error)).splitlines()[0]
        where = tuple(getattr(error, "absolute_path", ()))
        raise _schema_error(source, f"not a valid OpenAPI document: {cap(first_line)}", where)


# What YAML 1.1 read as booleans; YAML 1.2 (hotconf's loader) reads them as strings.
_YAML11_BOOLEANS = frozenset({"y", "yes", "n", "no", "on", "off"})


def _yaml11_boolean(error: Any) -> bool:
    """Is this a YAML 1.1 boolean word (``yes``, ``off``...) where a boolean is expected?"""
    if error.validator != "type" or not isinstance(error.instance, str):
        return False
    expected = error.validator_value
    wanted = expected == "boolean" or (isinstance(expected, list) and "boolean" in expected)
    return wanted and error.instance.lower() in _YAML11_BOOLEANS


def _unexpected_keys(error: Any) -> list[str]:
    """The keys an ``additionalProperties: false`` error is about (none for other errors, or
    when a ``patternProperties`` regex that cannot run leaves it unclear)."""
    instance, schema = error.instance, error.schema
    if error.validator != "additionalProperties" or not isinstance(instance, Mapping):
        return []
    if not isinstance(schema, Mapping) or schema.get("additionalProperties") is not False:
        return []
    named = schema.get("properties") or {}
    patterns = list(schema.get("patternProperties") or ())
    keys = []
    for key in instance:
        if key in named:
            continue
        try:  # on RE2, as the validator matches them: no pattern can stall the process
            if any(search(p, key) for p in patterns):
                continue
        except PatternError:
            return []
        keys.append(key)
    return keys


def _sort_key(path: tuple[Any, ...]) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, seg, "") if isinstance(seg, int) else (2, 0, str(seg)) for seg in path)


__all__ = ["MAX_PROBLEMS", "Schema", "sensitive_name"]
