"""An optional jsonschema-rs pre-check for `hotconf.pipeline.schema.Schema.validate`.

jsonschema-rs only ever answers "valid" here; any other answer falls back to jsonschema, which
stays the reference and writes the problems. A wrong "valid" would let a bad config through,
so the fast path is built only where the two are known to agree (tests/pipeline/test_schema.py
checks a corpus both ways):

* JSON Schema dialects only: OpenAPI's ``nullable``, boolean exclusives and OAS formats are
  left to openapi-schema-validator;
* keywords from `_KEYWORDS` only, and no ``$ref`` siblings rs might read differently;
* ``format``: rs calls back into jsonschema's own format checker, so formats agree by
  construction;
* ``multipleOf`` with integers only (rs accepts ``0.3`` as a multiple of ``0.1``, Python
  floats do not);
* ``pattern``/``patternProperties`` only in a plain subset where Python's `re` is at least as
  lenient as rs's regex engine (no ``\\s``/``\\d``/``\\w`` classes, flags or POSIX classes);
* data made only of dict (str keys), list, str, bool, None, finite floats and 64-bit ints:
  rs reads tuples as arrays and non-finite floats as ``null``, jsonschema does not.

Nothing is fetched: every ``$ref`` was resolved inside the document before this is built,
and rs gets a retriever that refuses.

`meta_valid` is the same idea for the check of a schema document against its dialect's
meta-schema: rs may only say "valid" (jsonschema then is not asked at all), and anything else
goes to jsonschema, which decides and words the error. rs validates the document as data
against jsonschema's own copy of the meta-schema, with jsonschema's format checkers (``regex``,
``uri-reference``…) called back, under the same `_plain_data` rule; the meta-schemas use none
of the constructs the two read differently (tests/pipeline/test_schema_startup.py checks a generated
corpus both ways).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .refs import Survey, refuse, survey

if TYPE_CHECKING:
    from jsonschema import FormatChecker

_DIALECTS = {
    "json-schema-2020-12": "Draft202012Validator",
    "json-schema-2019-09": "Draft201909Validator",
    "json-schema-draft-07": "Draft7Validator",
    "json-schema-draft-06": "Draft6Validator",
    "json-schema-draft-04": "Draft4Validator",
}
_KEYWORDS = frozenset(
    {
        # identifiers and annotations: no assertions
        "$anchor", "$comment", "$defs", "$id", "$schema", "default", "definitions",
        "deprecated", "description", "examples", "readOnly", "title", "writeOnly",
        # assertions and applicators checked by the agreement corpus
        "$ref", "additionalItems", "additionalProperties", "allOf", "anyOf", "const", "contains",
        "dependentRequired", "else", "enum", "exclusiveMaximum", "exclusiveMinimum", "format",
        "if", "items", "maxContains", "maximum", "maxItems", "maxLength", "maxProperties",
        "minContains", "minimum", "minItems", "minLength", "minProperties", "multipleOf", "not",
        "oneOf", "pattern", "patternProperties", "prefixItems", "properties", "propertyNames",
        "required", "then", "type", "uniqueItems",
    }
)  # fmt: skip
_OLD_DRAFTS = frozenset({"json-schema-draft-04", "json-schema-draft-06", "json-schema-draft-07"})
# Escapes of punctuation only, `(?:` as the only group flag, `{n}`/`{n,}`/`{n,m}` as the only
# braces, printable ASCII otherwise; then no nested/POSIX/set-operation classes, no empty
# classes, no possessive quantifiers (where Python's `re` and rs's engine read differently).
_PLAIN_PATTERN = re.compile(r"(?:\\[^A-Za-z0-9]|\(\?:|\{\d+(?:,\d*)?\}|[\x20-\x5b\x5d-\x7a|~])*")
_PATTERN_BLOCKERS = re.compile(r"\(\?(?!:)|\[\[|\[:|\[\]|\[\^\]|&&|--|~~|[*+?}]\+")
_INT64 = 2**63


def _plain_pattern(pattern: object) -> bool:
    return (
        isinstance(pattern, str)
        and _PLAIN_PATTERN.fullmatch(pattern) is not None
        and _PATTERN_BLOCKERS.search(pattern) is None
    )


def eligible(document: Mapping[str, Any], dialect: str, found: Survey | None = None) -> bool:
    """Does rs agree with jsonschema on everything this document can say?

    ``found`` is the document's `hotconf.pipeline.refs.Survey`, when the caller has one.
    """
    if dialect not in _DIALECTS:
        return False
    if found is None:
        found = survey(document, openapi=False)
    return (
        all(key.startswith("x-") for key in found.keywords - _KEYWORDS)
        and all(map(_plain_pattern, found.patterns))
        and all(type(value) is int for value in found.multiples)
        and not (dialect in _OLD_DRAFTS and found.ref_siblings)
    )


def build(
    document: Mapping[str, Any],
    pointer: str | None,
    dialect: str,
    checker: FormatChecker,
    found: Survey | None = None,
) -> Callable[[Any, bool | None], bool] | None:
    """An ``is_valid(data, plain)`` that may only say True when jsonschema would; None if
    unavailable. ``plain``: whether the data is plain (`_plain_data`), when the caller knows
    (`hotconf.pipeline.share.Facts.plain`); ``None``: look.

    ``found`` is the document's `hotconf.pipeline.refs.Survey`, when the caller has one.
    """
    if os.environ.get("HOTCONF_FAST", "1") == "0" or not eligible(document, dialect, found):
        return None
    try:
        import jsonschema_rs
    except ImportError:
        return None
    formats = {name: _format(checker, name) for name in checker.checkers}
    options: dict[str, Any] = {
        "formats": formats,
        "validate_formats": True,
        "ignore_unknown_formats": True,
        "retriever": refuse,
        # the linear-time regex engine, as hotconf.pipeline.patterns (not fancy-regex)
        "pattern_options": jsonschema_rs.RegexOptions(),
    }
    try:
        if pointer is None:
            validator = getattr(jsonschema_rs, _DIALECTS[dialect])(dict(document), **options)
        else:
            validator = jsonschema_rs.validator_map_for(dict(document), **options).get(pointer)
    except Exception:  # rs refusing a schema jsonschema accepted: just go without it
        return None
    if validator is None:
        return None
    is_valid: Callable[[Any], bool] = validator.is_valid

    def fast(data: Any, plain: bool | None = None) -> bool:
        return (_plain_data(data) if plain is None else plain) and is_valid(data)

    return fast


_META: dict[Any, Callable[[Any], bool] | None] = {}  # validator class -> rs meta is_valid


def meta_valid(document: Mapping[str, Any], cls: Any) -> bool:
    """Does jsonschema-rs find ``document`` valid against ``cls.META_SCHEMA``?

    True only when jsonschema's own meta-schema check would pass too; False when rs is absent,
    turned off, or not sure (then the caller runs jsonschema's check).
    """
    if os.environ.get("HOTCONF_FAST", "1") == "0":
        return False
    if cls not in _META:
        _META[cls] = _meta_validator(cls)
    is_valid = _META[cls]
    return is_valid is not None and _plain_data(document) and is_valid(document)


def _meta_validator(cls: Any) -> Callable[[Any], bool] | None:
    try:
        import jsonschema_rs
    except ImportError:
        return None
    checker = cls.FORMAT_CHECKER
    try:
        validator = jsonschema_rs.validator_for(
            cls.META_SCHEMA,
            formats={name: _format(checker, name) for name in checker.checkers},
            validate_formats=True,
            ignore_unknown_formats=True,
            retriever=refuse,
        )
    except Exception:  # rs without this draft: jsonschema checks every document
        return None
    is_valid: Callable[[Any], bool] = validator.is_valid
    return is_valid


def _format(checker: FormatChecker, name: str) -> Callable[[str], bool]:
    def conforms(value: str) -> bool:
        return bool(checker.conforms(value, name))

    return conforms


def _plain_data(data: Any) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            for key in value:
                if type(key) is not str:
                    return False
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif kind is int:
            if not -_INT64 <= value < _INT64:
                return False
        elif kind is not str and kind is not bool and value is not None:
            return False
    return True
