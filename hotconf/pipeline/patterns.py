"""Schema patterns (``pattern``, ``patternProperties``), decided in linear time with RE2.

Python's `re` backtracks: ``^(a+)+$`` against 28 ``a`` and a ``!`` takes 20 s, holding the
GIL, so one schema (or one ``POST /v1/validate`` against a schema that has such a pattern)
would stall every thread of the process. hotconf matches schema patterns with RE2 (the
``google-re2`` package) instead, whose automata run in time linear in the input, whatever the
pattern. Every pattern of a schema is compiled when the `Schema` is built; one RE2 cannot run
is a `SchemaError` there, never a slow validation later.

Dialect: JSON Schema says patterns are ECMA-262 regular expressions. RE2 reads most of them
alike; hotconf translates ``\\uXXXX`` escapes (RE2 spells them ``\\x{XXXX}``) and refuses
what no linear-time engine can decide: backreferences (``\\1``, ``\\k<name>``) and lookaround
(``(?=``, ``(?!``, ``(?<=``, ``(?<!``). Where RE2 and ECMA-262 differ (docs/schemas.md):
``\\s`` is ASCII whitespace only, ``.`` excludes ``\\n`` only, and ``a{,3}`` is literal text
(as in ECMA-262, where Python's `re` reads ``{0,3}``); ``\\d`` and ``\\w`` are ASCII, and
``$`` matches only at the very end, as in ECMA-262 (Python's `re` differs on all three).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..errors import SchemaError
from .paths import to_pointer

Search = Callable[[str], bool]

_UNICODE_ESCAPE = re.compile(
    r"\\\\|\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})"
)
_WHY = (
    (re.compile(r"\(\?<?[=!]"), "lookaround ((?=, (?!, (?<=, (?<!)"),
    (re.compile(r"\\[1-9]|\\k<"), "a backreference"),
)


class PatternError(ValueError):
    """RE2 cannot run a pattern; the message says why."""


def _translate(pattern: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "\\\\":
            return m.group(0)
        if m.group(3) is not None:
            return "\\x{" + m.group(3) + "}"
        high, low = int(m.group(1), 16), int(m.group(2), 16)
        return "\\x{%x}" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))

    return _UNICODE_ESCAPE.sub(one, pattern) if "\\u" in pattern else pattern


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Search:
    """A ``search(text) -> bool`` for a schema pattern, linear in ``len(text)``.

    Raises:
        PatternError: RE2 cannot run it (lookaround, a backreference, bad syntax).
    """
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        compiled = re2.compile(_translate(pattern), options)
    except re2.error as exc:
        raise PatternError(_why(pattern, exc)) from None
    search = compiled.search

    def matches(text: str) -> bool:
        return search(text) is not None

    return matches


def _why(pattern: str, exc: Exception) -> str:
    for finder, what in _WHY:
        if finder.search(pattern):
            return (
                f"it uses {what}, which no linear-time engine can decide; hotconf matches "
                "patterns with RE2 so that no pattern can stall the process: express it as "
                "several patterns under allOf, or with not"
            )
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return f"RE2 cannot compile it: {detail}"


def search(pattern: str, text: str) -> bool:
    """Does ``pattern`` match somewhere in ``text`` (unanchored, as JSON Schema says)?"""
    return compile_pattern(pattern)(text)


def schema_patterns(
    walk: Iterator[tuple[tuple[str | int, ...], Mapping[str, Any], bool]],
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """``(where, pattern)`` for every ``pattern`` and ``patternProperties`` key of a walk of
    a schema document (`hotconf.pipeline.refs.walk`)."""
    for where, node, is_schema in walk:
        if not is_schema:
            continue
        found = node.get("pattern")
        if isinstance(found, str):
            yield (*where, "pattern"), found
        keyed = node.get("patternProperties")
        if isinstance(keyed, Mapping):
            for key in keyed:
                if isinstance(key, str):
                    yield (*where, "patternProperties", key), key


def check_patterns(
    walk: Iterator[tuple[tuple[str | int, ...], Mapping[str, Any], bool]], source: str | None
) -> None:
    """Compile every pattern of a schema document.

    Raises:
        SchemaError: one cannot be compiled; the message names it, where it is, and why.
    """
    for where, pattern in schema_patterns(walk):
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            at = to_pointer(where)
            message = f"pattern {pattern!r} at {at}: {exc}"
            raise SchemaError(f"{source}: {message}" if source else message) from None


# -- the keywords of jsonschema that match patterns, on RE2 ------------------------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not search(pattern, instance):
        from .dialects import ValidationError

        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for k, v in instance.items():
            if search(pattern, k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def _additional(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in properties and not any(search(p, k) for p in patterns)]


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    from .dialects import ValidationError

    extras = _additional(instance, schema)
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        names = ", ".join(repr(k) for k in sorted(extras))
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            patterns = ", ".join(repr(p) for p in sorted(schema["patternProperties"]))
            yield ValidationError(f"{names} {verb} not match any of the regexes: {patterns}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({names} {verb} unexpected)"
            )


def _evaluated_keys(validator: Any, instance: Mapping[str, Any], schema: Any) -> list[str]:
    """jsonschema's ``find_evaluated_property_keys_by_schema`` (2020-12), with RE2."""
    if validator.is_type(schema, "boolean"):
        return []
    keys: list[str] = []
    for keyword in ("$ref", "$dynamicRef"):
        ref = schema.get(keyword)
        if ref is not None:
            resolved = validator._resolver.lookup(ref)
            keys += _evaluated_keys(
                validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                instance,
                resolved.contents,
            )
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys += properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        sub = schema.get(keyword)
        if sub is not None:
            keys += (k for k, v in instance.items() if validator.evolve(schema=sub).is_valid(v))
    if "patternProperties" in schema:
        keys += (k for k in instance if any(search(p, k) for p in schema["patternProperties"]))
    for name, sub in (schema.get("dependentSchemas") or {}).items():
        if name in instance:
            keys += _evaluated_keys(validator, instance, sub)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(keyword, []):
            if validator.evolve(schema=sub).is_valid(instance):
                keys += _evaluated_keys(validator, instance, sub)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys += _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys += _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys += _evaluated_keys(validator, instance, schema["else"])
    return keys


def _unevaluated_properties(
    validator: Any, extra: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    from .dialects import ValidationError

    evaluated = set(_evaluated_keys(validator, instance, schema))
    bad = [
        k
        for k in instance
        if k not in evaluated
        and next(validator.descend(instance[k], extra, path=k, schema_path=k), None) is not None
    ]
    if bad:
        names = ", ".join(repr(k) for k in sorted(bad))
        verb = "was" if len(bad) == 1 else "were"
        if extra is False:
            yield ValidationError(
                f"Unevaluated properties are not allowed ({names} {verb} unexpected)"
            )
        else:
            yield ValidationError(
                "Unevaluated properties are not valid under the given schema "
                f"({names} {verb} unevaluated and invalid)"
            )


_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
}


@functools.cache
def linear(cls: Any) -> Any:
    """A jsonschema validator class like ``cls`` whose pattern keywords run on RE2.

    jsonschema picks its validator class again from the ``$schema`` of each subschema it
    enters: a subschema that names its dialect would be checked by the plain class of that
    dialect, on Python's ``re``. Its ``evolve`` keeps to the linear class of that dialect.
    """
    from .dialects import validators

    replaced = {k: f for k, f in _KEYWORDS.items() if k in cls.VALIDATORS}
    made = validators.extend(cls, replaced)
    plain_evolve = made.evolve

    def evolve(self: Any, **changes: Any) -> Any:
        found = plain_evolve(self, **changes)
        kind: Any = type(found)
        if kind is type(self) or getattr(kind, "_hotconf_linear", False):
            return found
        switched = linear(kind)  # a subschema in another dialect: RE2 there too
        fields = kind.__attrs_attrs__  # jsonschema's validators are attrs classes
        return switched(**{f.alias: getattr(found, f.name) for f in fields if f.init})

    made.evolve = evolve
    made._hotconf_linear = True
    return made


__all__ = ["PatternError", "check_patterns", "compile_pattern", "linear", "search"]
