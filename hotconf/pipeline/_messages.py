"""Problem messages for `hotconf.pipeline.schema` that never carry secret values.

jsonschema writes the instance into its messages (``'hunter2' is too short``) and reprs whole
containers, which may hold secrets. `message` keeps jsonschema's wording only where that
cannot leak: a scalar at a path that is not sensitive, or a message that names keys. Anything
else is rebuilt from the keyword and the schema's value alone (docs/architecture.md,
invariant 8).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

MAX_VALUE = 60
MAX_MESSAGE = 300

# Keywords whose messages name keys the schema defines: safe anywhere.
_SCHEMA_KEYS = frozenset({"required", "dependentRequired", "dependencies"})
# Keywords whose messages name keys from the data: safe unless the path is sensitive.
_DATA_KEYS = frozenset({"additionalProperties", "unevaluatedProperties", "propertyNames"})
_REDACTED: dict[str, Callable[[str, Any], str]] = {
    "type": lambda s, v: f"{s} is not of type {_types(v)}",
    "enum": lambda s, v: f"{s} is not one of {short(v)}",
    "const": lambda s, v: f"{s} is not {short(v)}",
    "format": lambda s, v: f"{s} does not match format {v!r}",
    "pattern": lambda s, v: f"{s} does not match pattern {short(v)}",
    "minLength": lambda s, v: f"{s} is shorter than {v} characters",
    "maxLength": lambda s, v: f"{s} is longer than {v} characters",
    "minimum": lambda s, v: f"{s} is less than the minimum of {v}",
    "maximum": lambda s, v: f"{s} is greater than the maximum of {v}",
    "exclusiveMinimum": lambda s, v: f"{s} is less than or equal to the minimum of {v}",
    "exclusiveMaximum": lambda s, v: f"{s} is greater than or equal to the maximum of {v}",
    "multipleOf": lambda s, v: f"{s} is not a multiple of {v}",
    "minItems": lambda s, v: f"{s} has fewer than {v} items",
    "maxItems": lambda s, v: f"{s} has more than {v} items",
    "uniqueItems": lambda s, v: f"{s} has non-unique elements",
    "minProperties": lambda s, v: f"{s} has fewer than {v} properties",
    "maxProperties": lambda s, v: f"{s} has more than {v} properties",
    "additionalProperties": lambda s, v: f"{s} has properties that are not allowed",
    "unevaluatedProperties": lambda s, v: f"{s} has properties that are not allowed",
    "unevaluatedItems": lambda s, v: f"{s} has items that are not allowed",
    "propertyNames": lambda s, v: f"{s} has a property name that is not allowed",
    "anyOf": lambda s, v: f"{s} is not valid under any of the given schemas",
    "not": lambda s, v: f"{s} must not match the schema under 'not'",
    "contains": lambda s, v: f"{s} does not contain a matching item",
    "minContains": lambda s, v: f"{s} has fewer than {v} matching items",
    "maxContains": lambda s, v: f"{s} has more than {v} matching items",
    "false": lambda s, v: f"no {s} is allowed here",
}


def message(error: ValidationError, sensitive: bool) -> str:
    """jsonschema's message where it cannot hold a secret; one built from the schema otherwise."""
    keyword = error.validator or "false"
    instance = error.instance
    container = isinstance(instance, Mapping | list | tuple)
    if keyword in _SCHEMA_KEYS or (not sensitive and (not container or keyword in _DATA_KEYS)):
        text = str(error.message)
        if not container and len(repr(instance)) > MAX_VALUE:
            text = text.replace(repr(instance), short(instance))
        return cap(text)
    subject = "object" if isinstance(instance, Mapping) else "array" if container else "value"
    if keyword == "oneOf":
        many = not error.context
        verdict = "valid under more than one" if many else "not valid under any"
        return f"{subject} is {verdict} of the given schemas"
    build = _REDACTED.get(keyword)
    if build is None:
        return f"{subject} fails {keyword!r}"
    return cap(build(subject, error.validator_value))


def _types(value: Any) -> str:
    return ", ".join(repr(v) for v in value) if isinstance(value, list) else repr(value)


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def cap(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
