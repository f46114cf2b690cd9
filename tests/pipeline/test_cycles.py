"""Schemas that would make validation recurse forever are refused when built (found by the
fuzz target in tests/fuzz/test_fuzz_schema.py); recursive tree schemas are fine."""

from __future__ import annotations

from typing import Any

import pytest

from hotconf.errors import SchemaError
from hotconf.pipeline.schema import Schema


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"$ref": "#"}, "/ refers back"),
        ({"allOf": [{"$ref": "#"}]}, "/ refers back"),
        ({"$defs": {"a": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/a"}]}}}, "/$defs/a"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"not": {"$ref": "#/$defs/a"}}}}, "/$defs/"),
        ({"properties": {"x": {"if": {"$ref": "#/properties/x"}}}}, "/properties/x"),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "definitions": {"a": {"oneOf": [{"$ref": "#/definitions/a"}]}},
            },
            "/definitions/a",
        ),
    ],
)
def test_an_in_place_reference_loop_is_a_schema_error(doc: dict[str, Any], where: str) -> None:
    with pytest.raises(SchemaError, match="never end") as info:
        Schema.from_dict(doc)
    assert where in info.value.message


@pytest.mark.parametrize(
    "doc",
    [
        {"properties": {"child": {"$ref": "#"}}},  # a tree: each step goes into the config
        {"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}}}},
        {"items": {"$ref": "#"}},
        {"allOf": [{"$ref": "#/$defs/a"}], "$defs": {"a": {"type": "object"}}},
    ],
)
def test_recursive_tree_schemas_are_fine(doc: dict[str, Any]) -> None:
    schema = Schema.from_dict(doc)
    nested: Any = {}
    for _ in range(30):
        nested = {"child": nested}
    assert schema.validate(nested) == ()
