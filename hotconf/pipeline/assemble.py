"""One candidate from its documents: parse each, deep-merge them in order, place the values of
the one-value documents (environment variables, secret files, a defaults mapping) at their keys.

A document with a ``key`` (`hotconf.sources.RawDocument`) names its path as it was written
(``APP_DB__POOL_SIZE`` → ``("DB", "POOL_SIZE")``). Each part is matched to the keys the lower
layers and the schema know: the same spelling first, then the same in lower case, then the one
key that equals it ignoring case; otherwise the part in lower case. The path is *known* when
the lower layers hold it or the schema describes it (`Schema.annotations`). An environment
variable for an unknown path is left out with a warning (a stray ``APP_`` variable is
common); under a *closed* schema (``additionalProperties: false`` or
``unevaluatedProperties: false`` where the path leaves what is known) any one-value document
for an unknown path refuses the candidate instead, with a problem that names it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import LoadError, Problem
from ..sources import RawDocument
from .load import DEFAULT_LIMITS, Limits, parse
from .paths import to_dotted, to_pointer
from .schema import Schema

log = logging.getLogger("hotconf")

Key = tuple[str, ...]


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two documents: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Assembled:
    """A candidate put together from its documents.

    Attributes:
        data: the merged config.
        paths: for each document, the path its value was placed at (one-value documents),
            or ``None`` (a whole document, or a value left out).
        problems: one-value documents for keys a closed schema does not allow.
        ignored: warnings about environment variables left out.
        secrets: the paths secret files set.
    """

    data: dict[str, Any]
    paths: tuple[Key | None, ...]
    problems: tuple[Problem, ...] = ()
    ignored: tuple[str, ...] = ()
    secrets: frozenset[Key] = frozenset()


def value_of(doc: RawDocument) -> Any:
    """The value a one-value document holds.

    Raises:
        LoadError: its data is not JSON.
    """
    try:
        return json.loads(doc.data)
    except ValueError:
        msg = "a one-value document holds JSON; this one does not parse"
        problem = Problem(msg, code="syntax", source=doc.name)
        raise LoadError(f"{doc.name}: {msg}", [problem]) from None


def assemble(
    docs: Sequence[RawDocument],
    schema: Schema | Sequence[Schema] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Assembled:
    """Parse and merge the documents of a candidate, lowest precedence first. ``schema``
    may be several (a JSON Schema and a model's): a key is known if any describes it,
    refused if any is closed there. ``limits`` are the loader's guards for each document.

    Raises:
        LoadError: a document does not parse.
    """
    data: dict[str, Any] = {}
    paths: list[Key | None] = []
    problems: list[Problem] = []
    ignored: list[str] = []
    secrets: set[Key] = set()
    schemas = () if schema is None else (schema,) if isinstance(schema, Schema) else tuple(schema)
    for i, doc in enumerate(docs):
        if doc.key is None:
            part = parse(doc.data, doc.format, name=doc.name, limits=limits)
            data = part if i == 0 else merge(data, part)
            paths.append(None)
            continue
        value = value_of(doc)
        path, known = resolve(doc.key, data, schemas)
        if not doc.key:  # the root: a defaults mapping
            if not isinstance(value, Mapping):
                msg = "defaults must be a mapping"
                raise LoadError(msg, [Problem(msg, code="root-type", source=doc.name)])
            data = merge(data, value) if data else dict(value)
            paths.append(())
            continue
        if not known:
            shown = to_dotted(path)
            if any(closed(s, data, path) for s in schemas):
                problems.append(
                    Problem(
                        f"sets {shown}, a key the schema does not allow (it allows no other "
                        "keys there)",
                        to_pointer(path),
                        "unknown-key",
                        doc.name,
                    )
                )
                paths.append(None)
                continue
            if doc.layer == "env":
                ignored.append(
                    f"{doc.name}: ignored: {shown or '(no key)'} is not a key of the config "
                    "or its schema"
                )
                paths.append(None)
                continue
        data = merge(data, _nest(path, value))
        paths.append(path)
        if doc.layer == "secret":
            secrets.add(path)
    for warning in ignored:
        log.warning("hotconf: %s", warning)
    return Assembled(data, tuple(paths), tuple(problems), tuple(ignored), frozenset(secrets))


def _nest(path: Key, value: Any) -> dict[str, Any]:
    for segment in reversed(path[1:]):
        value = {segment: value}
    return {path[0]: value}


def resolve(key: Key, data: Mapping[str, Any], schemas: Sequence[Schema]) -> tuple[Key, bool]:
    """The path a one-value document's key names, and whether it is known (see the module
    docstring)."""
    node: Any = data
    path: list[str] = []
    known = bool(key) and all(key)
    for part in key:
        names: set[str] = set(node) if isinstance(node, Mapping) else set()
        for schema in schemas:
            names.update(_properties(schema, path))
        path.append(_match(part, names))
        node = node.get(path[-1]) if isinstance(node, Mapping) else None
        if known and not _has(data, path):
            known = any(schema.annotations(path) for schema in schemas)
    return tuple(path), known


def _has(data: Mapping[str, Any], path: Sequence[str]) -> bool:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _match(part: str, names: Iterable[str]) -> str:
    names = set(names)
    if part in names:
        return part
    lower = part.lower()
    if lower in names:
        return lower
    same = [name for name in names if name.lower() == lower]
    return same[0] if len(same) == 1 else lower


def _properties(schema: Schema, path: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for node in schema.annotations(path):
        props = node.get("properties")
        if isinstance(props, Mapping):
            found.update(k for k in props if isinstance(k, str))
    return found


def closed(schema: Schema, data: Mapping[str, Any], path: Key) -> bool:
    """Does the schema refuse other keys where ``path`` leaves what is known?"""
    for n in range(len(path)):
        step = path[: n + 1]
        if _has(data, step) or schema.annotations(step):
            continue
        return any(
            node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False
            for node in schema.annotations(path[:n])
        )
    return False


def defines(doc: RawDocument, placed: Key | None, path: Sequence[str]) -> bool:
    """Does a one-value document placed at ``placed`` set ``path`` (or something under it)?"""
    if placed is None or doc.key is None:
        return False
    if tuple(path[: len(placed)]) != placed:
        return False
    node: Any = value_of(doc)
    for part in path[len(placed) :]:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


__all__ = ["Assembled", "assemble", "closed", "defines", "merge", "resolve", "value_of"]
