"""The defaults stage: a candidate plus its schema's defaults is the effective config."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import hotconf
from hotconf.pipeline.defaults import with_defaults


def fill(schema: dict[str, Any], data: dict[str, Any]) -> tuple[dict[str, Any], set[Any]]:
    before = copy.deepcopy(data)
    out, filled = with_defaults(data, [hotconf.Schema.from_dict(schema)])
    assert data == before  # the input is never changed
    return out, set(filled)


OBJECT = {
    "type": "object",
    "properties": {
        "worker": {
            "type": "object",
            "default": {},
            "properties": {
                "batch_size": {"type": "integer", "default": 50},
                "threads": {"type": "integer"},
            },
        },
        "timeout": {"type": "number", "default": 2.5},
    },
}


def test_missing_keys_get_their_defaults_inside_filled_values_too() -> None:
    out, filled = fill(OBJECT, {})
    assert out == {"worker": {"batch_size": 50}, "timeout": 2.5}
    assert filled == {("worker",), ("worker", "batch_size"), ("timeout",)}


def test_present_keys_are_kept_and_nothing_missing_returns_the_same_object() -> None:
    data = {"worker": {"batch_size": 7, "threads": 2}, "timeout": 1}
    out, filled = with_defaults(data, [hotconf.Schema.from_dict(OBJECT)])
    assert out is data and not filled


def test_defaults_through_refs_all_of_and_additional_properties() -> None:
    schema = {
        "$defs": {"Pool": {"type": "object", "properties": {"size": {"default": 5}}}},
        "type": "object",
        "properties": {"db": {"$ref": "#/$defs/Pool"}},
        "allOf": [{"properties": {"region": {"type": "string", "default": "eu"}}}],
        "additionalProperties": {
            "type": "object",
            "properties": {"enabled": {"type": "boolean", "default": True}},
        },
    }
    out, _ = fill(schema, {"db": {}, "feature_a": {}, "feature_b": {"enabled": False}})
    assert out == {
        "db": {"size": 5},
        "feature_a": {"enabled": True},
        "feature_b": {"enabled": False},
        "region": "eu",
    }


def test_list_items_get_their_defaults() -> None:
    schema = {
        "type": "object",
        "properties": {
            "routes": {
                "type": "array",
                "items": {"type": "object", "properties": {"weight": {"default": 1}}},
            }
        },
    }
    out, filled = fill(schema, {"routes": [{"to": "a"}, {"to": "b", "weight": 3}]})
    assert out == {"routes": [{"to": "a", "weight": 1}, {"to": "b", "weight": 3}]}
    assert filled == {("routes", 0, "weight")}


UNION = {
    "$defs": {
        "Http": {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"const": "http"}, "port": {"default": 80}},
        },
        "Grpc": {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"const": "grpc"}, "deadline": {"default": 5}},
        },
    },
    "type": "object",
    "properties": {
        "server": {"oneOf": [{"$ref": "#/$defs/Http"}, {"$ref": "#/$defs/Grpc"}]},
        "cache": {
            "anyOf": [
                {"type": "object", "properties": {"ttl": {"default": 60}}},
                {"type": "null"},
            ]
        },
    },
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"server": {"kind": "http"}}, {"server": {"kind": "http", "port": 80}}),
        ({"server": {"kind": "grpc"}}, {"server": {"kind": "grpc", "deadline": 5}}),
        ({"server": {}}, {"server": {}}),  # fits no branch alone: nothing is guessed
        ({"cache": {}}, {"cache": {"ttl": 60}}),
        ({"cache": None}, {"cache": None}),
    ],
)
def test_a_union_contributes_the_defaults_of_the_one_branch_that_fits(
    data: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert fill(UNION, data)[0] == expected


def test_a_default_that_fails_its_own_subschema_is_not_applied() -> None:
    schema = {
        "type": "object",
        "properties": {
            "retries": {"type": "integer", "default": None},  # pydantic's `retries: int = None`
            "level": {"enum": ["info", "debug"], "default": "loud"},
            "port": {"type": "integer", "minimum": 1, "default": 8080},
        },
    }
    assert fill(schema, {})[0] == {"port": 8080}


def test_openapi_components_and_older_drafts() -> None:
    openapi = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {
                "App": {
                    "type": "object",
                    "properties": {"db": {"$ref": "#/components/schemas/Db"}},
                },
                "Db": {"type": "object", "properties": {"pool": {"type": "integer", "default": 3}}},
            }
        },
    }
    schema = hotconf.Schema.from_dict(openapi, "#/components/schemas/App")
    assert with_defaults({"db": {}}, [schema])[0] == {"db": {"pool": 3}}
    draft7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {
            "pair": {
                "type": "array",
                "items": [{"default": 1}, {"type": "object", "properties": {"x": {"default": 2}}}],
            }
        },
    }
    assert fill(draft7, {"pair": [0, {}]})[0] == {"pair": [0, {"x": 2}]}


def test_schemas_apply_in_order_the_first_default_wins() -> None:
    a = hotconf.Schema.from_dict({"properties": {"x": {"default": 1}}})
    b = hotconf.Schema.from_dict({"properties": {"x": {"default": 2}, "y": {"default": 3}}})
    assert with_defaults({}, [a, b])[0] == {"x": 1, "y": 3}


def test_a_recursive_schema_fills_as_deep_as_the_data_goes() -> None:
    schema = {
        "type": "object",
        "properties": {"label": {"default": "node"}, "child": {"$ref": "#"}},
    }
    out, _ = fill(schema, {"child": {"child": {}}})
    assert out == {"label": "node", "child": {"label": "node", "child": {"label": "node"}}}
