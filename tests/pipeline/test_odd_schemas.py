"""Schemas hotconf cannot handle are a `SchemaError` (exit 2), never a traceback: odd
documents from hypothesis go through `Schema.from_dict`, and those it accepts validate data
without raising."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotconf.errors import Problem, SchemaError
from hotconf.pipeline.schema import MAX_DEPTH, Schema

KEYWORDS = [
    "type", "enum", "const", "properties", "patternProperties", "additionalProperties",
    "required", "items", "prefixItems", "additionalItems", "contains", "minContains",
    "maxContains", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "$id",
    "id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
    "$defs", "definitions", "$schema", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
    "dependentRequired", "dependentSchemas", "dependencies", "propertyNames",
    "unevaluatedProperties", "unevaluatedItems", "default", "nullable", "discriminator",
    "writeOnly", "x-hotconf-sensitive", "x-hotconf-reload", "a", "b",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from([
        "string", "integer", "object", "array", "number", "null", "boolean", "#", "#/",
        "#/$defs/a", "#/definitions/a", "#/properties/a", "#a", "a", "^a", "(", "[",
        "http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2020-12/schema",
        "http://json-schema.org/draft-04/schema#", "urn:x", "http://x/y", "uri", "email",
        "password", "date-time", "",
    ]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYWORDS), inner, max_size=4),
    ),
    max_leaves=14,
)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYWORDS), JSON, max_size=5)
DATA = st.sampled_from([None, 0, 1.5, "a", True, [], [1, "a"], {}, {"a": 1, "b": [None]}])


def openapi(version: str, app: Any) -> dict[str, Any]:
    return {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": {},
            "components": {"schemas": {"App": app}}}  # fmt: skip


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(document=DOCUMENTS, wrap=st.sampled_from([None, "3.0.3", "3.1.0"]), data=DATA)
def test_odd_schemas_are_a_schema_error_or_work(
    document: dict[str, Any], wrap: str | None, data: Any
) -> None:
    given_doc = openapi(wrap, document) if wrap else document
    pointer = "#/components/schemas/App" if wrap else None
    refused: SchemaError | None = None
    try:
        schema = Schema.from_dict(given_doc, pointer)
    except SchemaError as exc:  # anything else fails the test, with its traceback
        refused = exc
    if refused is not None:
        # it says what is wrong: an unhandled exception's repr is not a reason
        assert refused.message and "cannot use this schema" not in refused.message, refused
        return
    problems = schema.validate(data)
    assert isinstance(problems, tuple) and all(isinstance(p, Problem) for p in problems)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (
            {"type": "array", "items": [{"type": "string"}]},
            ["items at / is a list", "prefixItems", '"$schema": "http://json-schema.org/draft-07'],
        ),
        (  # an $id made this an AttributeError from deep inside referencing
            {"$id": "http://example.com/s", "type": "array", "items": [{"type": "string"}]},
            ["items at / is a list", "has no $schema"],
        ),
        (
            {"properties": {"a": {"$id": "a", "items": [{}, {}]}}},
            ["items at /properties/a is a list"],
        ),
        (
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "items": [{}]},
            ["declares JSON Schema 2020-12", "prefixItems"],
        ),
    ],
)
def test_draft_07_tuple_items_read_as_2020_12_say_how_to_declare_the_draft(
    document: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(SchemaError) as refused:
        Schema.from_dict(document)
    for word in words:
        assert word in refused.value.message
    draft7 = {**document, "$schema": "http://json-schema.org/draft-07/schema#"}
    assert Schema.from_dict(draft7).validate(["a"]) == ()  # declared, it works


def test_openapi_tuple_items_are_a_schema_error() -> None:
    for version, words in (("3.0.3", "OpenAPI 3.0 does not have"), ("3.1.0", "write prefixItems")):
        doc = openapi(version, {"type": "array", "items": [{"type": "string"}], "$id": "x"})
        with pytest.raises(SchemaError, match=words):
            Schema.from_dict(doc, "#/components/schemas/App")


@pytest.mark.parametrize(
    ("depth", "ok"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False), (5000, False)]
)
def test_a_schema_too_deep_to_validate_is_a_schema_error(depth: int, ok: bool) -> None:
    document: dict[str, Any] = {}
    for _ in range(depth):
        document = {"not": document}
    if ok:  # deep, and still validates (an odd depth of nots refuses everything)
        assert [p.code for p in Schema.from_dict(document).validate(1)] == []
        return
    with pytest.raises(SchemaError, match=r"nested too deeply|nested deeper than"):
        Schema.from_dict(document)
