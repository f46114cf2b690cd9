"""Fuzzing the schema compiler: any document is a `Schema` or a `SchemaError`; a Schema
validates any data into problems, and finds annotations at any path, never raising."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hotconf.errors import SchemaError
from hotconf.pipeline.schema import Schema

from .conftest import FUZZ_SLOW

PATTERNS = st.sampled_from(
    ["^a", "a+$", "^(a+)+$", "(?=a)", "(a)\\1", "[", "\\d", "\\u00e9", "\\p{L}", "a{,3}", ""]
) | st.text(alphabet="ab()[]{}+*?|^$\\.-,0123456789", max_size=12)
TYPES = st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null"])
SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
DIALECTS = st.sampled_from(
    [
        None,
        "https://json-schema.org/draft/2020-12/schema",
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-04/schema#",
        "https://example.com/unknown",
    ]
)


def schemas() -> st.SearchStrategy[Any]:
    def node(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        keywords = st.fixed_dictionaries(
            {},
            optional={
                "type": TYPES | st.lists(TYPES, max_size=2) | SCALARS,
                "properties": st.dictionaries(st.text(max_size=3), inner, max_size=3),
                "patternProperties": st.dictionaries(PATTERNS, inner, max_size=2),
                "additionalProperties": inner,
                "unevaluatedProperties": inner,
                "items": inner | st.lists(inner, max_size=2),
                "prefixItems": st.lists(inner, max_size=2),
                "required": st.lists(st.text(max_size=3), max_size=2) | SCALARS,
                "pattern": PATTERNS | SCALARS,
                "enum": st.lists(SCALARS, max_size=3),
                "const": SCALARS,
                "minimum": st.integers(-5, 5) | SCALARS,
                "multipleOf": st.integers(0, 3) | st.floats(0, 2),
                "allOf": st.lists(inner, max_size=2),
                "anyOf": st.lists(inner, max_size=2),
                "oneOf": st.lists(inner, max_size=2),
                "not": inner,
                "if": inner,
                "then": inner,
                "$ref": st.sampled_from(["#", "#/$defs/a", "#/nowhere", "https://x/y", "a.json"]),
                "$defs": st.fixed_dictionaries({}, optional={"a": inner}),
                "format": st.sampled_from(["email", "regex", "date-time", "uri", "password"]),
                "writeOnly": st.booleans(),
                "x-hotconf-sensitive": SCALARS,
                "x-hotconf-reload": st.sampled_from(["restart", "live", 1]),
                "default": SCALARS,
            },
        )
        return st.booleans() | keywords

    return st.recursive(st.booleans() | st.just({}), node, max_leaves=8)


data_values = st.recursive(
    SCALARS | st.text(alphabet="ab!", max_size=40) | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@FUZZ_SLOW
@given(
    schemas(), DIALECTS, data_values, st.lists(st.text(max_size=3) | st.integers(0, 3), max_size=4)
)
def test_compile_validate_annotate(
    doc: Any, dialect: str | None, data: Any, path: list[Any]
) -> None:
    if isinstance(doc, dict) and dialect is not None:
        doc = {**doc, "$schema": dialect}
    if not isinstance(doc, dict):
        doc = {"allOf": [doc]}
    try:
        schema = Schema.from_dict(doc)
    except SchemaError:  # a clear refusal is fine; any other exception is a finding
        return
    for problem in schema.validate(data):
        assert isinstance(problem.message, str) and isinstance(problem.path, str)
    schema.annotations(path)
    schema.is_sensitive(path)
