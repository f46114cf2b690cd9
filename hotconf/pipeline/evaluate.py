"""The pure stages of the pipeline, shared by `LiveConfig` and the CLI.

Raw documents → one candidate (parse each, deep-merge in order) → problems (schema, then
custom validators) → problems located at file:line. Nothing here has state or threads.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import Problem
from ..sources import RawDocument
from .load import locate, parse
from .paths import from_pointer, to_pointer
from .schema import Schema
from .snapshot import freeze

log = logging.getLogger("hotconf")

Validator = Callable[[Mapping[str, Any]], Iterable[Problem | str] | None]
"""A custom check: takes the candidate (read-only), returns problems (or strings); none means
it passes. An exception raised by a validator rejects the candidate."""


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


def check(
    data: Mapping[str, Any],
    schema: Schema | None,
    validators: Iterable[Validator] = (),
    *,
    frozen: Mapping[str, Any] | None = None,
) -> tuple[Problem, ...]:
    """Validate a candidate: the schema first (on the plain data jsonschema wants), then the
    custom validators (on frozen data, so a validator cannot change what gets committed).

    Returns:
        The problems; empty when the candidate passes.
    """
    problems: list[Problem] = []
    if schema is not None:
        problems.extend(schema.validate(data))
    if problems:
        return tuple(problems)  # custom checks may assume a schema-valid candidate
    validators = tuple(validators)
    if validators and frozen is None:
        frozen = freeze(data)
    for validator in validators:
        try:
            found = validator(frozen or {}) or ()
            problems.extend(
                p if isinstance(p, Problem) else Problem(str(p), code="check") for p in found
            )
        except Exception as exc:
            name = getattr(validator, "__qualname__", repr(validator))
            # The exception's message may quote the candidate (a secret too): log where it
            # was raised, not what it said.
            where = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
            log.warning("hotconf: validator %s raised %s at\n%s", name, type(exc).__name__, where)
            problems.append(Problem(f"validator {name} raised {type(exc).__name__}", code="check"))
    return tuple(problems)


def digest(docs: Iterable[RawDocument]) -> str:
    h = hashlib.sha256()
    for doc in docs:
        for part in (doc.name.encode(), doc.format.encode(), doc.data):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
    return h.hexdigest()


def parse_all(docs: Iterable[RawDocument]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for i, doc in enumerate(docs):
        part = parse(doc.data, doc.format, name=doc.name)
        data = part if i == 0 else merge(data, part)
    return data


def locate_problems(
    problems: tuple[Problem, ...], docs: tuple[RawDocument, ...]
) -> tuple[Problem, ...]:
    """Give problems a file and line: the last document that defines the path wins."""
    wanted = {p.path for p in problems if p.line is None}
    if not wanted:
        return problems
    found: dict[str, tuple[str, int]] = {}
    for doc in docs:
        for pointer, line in locate(doc.data, doc.format, wanted).items():
            found[pointer] = (doc.name, line)
    out = []
    for p in problems:
        hit = found.get(p.path) if p.line is None else None
        if hit is None and p.line is None:
            # point at the nearest ancestor the documents define (a missing key's parent)
            parts = from_pointer(p.path) if p.path else ()
            for n in range(len(parts) - 1, -1, -1):
                anc = to_pointer(parts[:n])
                if anc in found:
                    hit = found[anc]
                    break
        if hit is not None:
            p = Problem(p.message, p.path, p.code, hit[0], hit[1])
        elif len(docs) == 1 and p.source is None:
            p = Problem(p.message, p.path, p.code, docs[0].name, None)
        out.append(p)
    return tuple(out)
