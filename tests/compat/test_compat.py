"""hotconf.compat: schema-vs-schema compatibility, checked against what validators really do.

The tables pin one kind, path and effect per schema edit; the property tests then confirm, with
configs that hypothesis-jsonschema generates, that a verdict of "compatible" is never wrong.
"""

from __future__ import annotations

import copy
import doctest
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis_jsonschema import _canonicalise, from_schema
from jsonschema import Draft202012Validator

from hotconf.compat.report import LEVELS, MODES, CompatReport, level_of, schema_diff
from hotconf.errors import SchemaError
from hotconf.pipeline.schema import Schema

ROOT = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "compat-report.schema.json").read_text())
DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT7 = "http://json-schema.org/draft-07/schema#"


def found(old: Any, new: Any, mode: str = "upgrade", **kw: Any) -> set[tuple[str, str, str]]:
    """``{(kind, path, effect)}`` of every change except metadata."""
    report = schema_diff(old, new, mode, **kw)  # type: ignore[arg-type]
    return {(c.kind, c.path, c.effect) for c in report.changes if c.kind != "metadata_changed"}


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def valid(schema: Any, config: Any) -> bool:
    return bool(Draft202012Validator(schema).is_valid(config))


# --- one edit, one finding ---------------------------------------------------------------------

INT, NUM, STR = {"type": "integer"}, {"type": "number"}, {"type": "string"}
NULLABLE_STR = {"type": ["string", "null"]}
ANY_OF_NULL = {"anyOf": [{"type": "string"}, {"type": "null"}]}
DEFS = {"S": {"type": "string", "maxLength": 5}, "P": {"type": "integer", "minimum": 1}}

CASES: list[tuple[str, Any, Any, set[tuple[str, str, str]]]] = [
    # types, nullable forms included
    ("integer to number", INT, NUM, {("type_widened", "", "widen")}),
    ("number to integer", NUM, INT, {("type_narrowed", "", "narrow")}),
    ("string to integer", STR, INT, {("type_changed", "", "change")}),
    ("type added", {}, STR, {("type_added", "", "narrow")}),
    ("type removed", STR, {}, {("type_removed", "", "widen")}),
    ("type list grows", STR, {"type": ["string", "boolean"]}, {("type_widened", "", "widen")}),
    ("nullable list", STR, NULLABLE_STR, {("type_widened", "", "widen")}),
    ("nullable anyOf", STR, ANY_OF_NULL, {("type_widened", "", "widen")}),
    ("anyOf null dropped", ANY_OF_NULL, STR, {("type_narrowed", "", "narrow")}),
    (
        "oneOf null form",
        {"type": "integer"},
        {"oneOf": [INT, {"type": "null"}]},
        {("type_widened", "", "widen")},
    ),
    (
        "oneOf null beside a schema that accepts null",  # null matched both: it was rejected
        {"oneOf": [{"minimum": 1}, {"type": "null"}]},
        {"minimum": 1},
        {("composition_rewritten", "", "widen")},
    ),
    (
        "nullable ref",
        {"$defs": DEFS, **obj(a={"$ref": "#/$defs/S"})},
        {"$defs": DEFS, **obj(a={"anyOf": [{"$ref": "#/$defs/S"}, {"type": "null"}]})},
        {("type_widened", "/a", "widen")},
    ),
    (
        "nullable enum",
        {"enum": ["a", "b"]},
        {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]},
        {("enum_extended", "", "widen")},
    ),
    # required
    (
        "required added",
        obj(a=INT),
        {**obj(a=INT), "required": ["a"]},
        {("required_added", "/a", "narrow")},
    ),
    (
        "required with default",
        obj(a={"type": "integer", "default": 1}),
        {**obj(a={"type": "integer", "default": 1}), "required": ["a"]},
        {("required_added", "/a", "narrow")},
    ),
    (
        "required removed",
        {**obj(a=INT), "required": ["a"]},
        obj(a=INT),
        {("required_removed", "/a", "widen")},
    ),
    # properties on open and closed objects
    (
        "property added to open object",
        obj(a=INT),
        obj(a=INT, b=STR),
        {("property_added", "/b", "narrow")},
    ),
    (
        "documented property on open object",
        obj(a=INT),
        obj(a=INT, b={"description": "b"}),
        {("property_added", "/b", "none")},
    ),
    (
        "property removed from open object",
        obj(a=INT, b=STR),
        obj(a=INT),
        {("property_removed", "/b", "widen")},
    ),
    (
        "property added to closed object",
        {**obj(a=INT), "additionalProperties": False},
        {**obj(a=INT, b=STR), "additionalProperties": False},
        {("property_added", "/b", "widen")},
    ),
    (
        "property removed from closed object",
        {**obj(a=INT, b=STR), "additionalProperties": False},
        {**obj(a=INT), "additionalProperties": False},
        {("property_removed", "/b", "narrow")},
    ),
    (
        "property added, same as additionalProperties",
        {**obj(), "additionalProperties": STR},
        {**obj(b=STR), "additionalProperties": STR},
        {("property_added", "/b", "none")},
    ),
    (
        "property added under additionalProperties",
        {**obj(), "additionalProperties": NUM},
        {**obj(b=INT), "additionalProperties": NUM},
        {("property_added", "/b", "narrow")},
    ),
    # additionalProperties
    (
        "additionalProperties true to false",
        {**obj(a=INT), "additionalProperties": True},
        {**obj(a=INT), "additionalProperties": False},
        {("additional_properties_changed", "/*", "narrow")},
    ),
    (
        "additionalProperties false added",
        obj(a=INT),
        {**obj(a=INT), "additionalProperties": False},
        {("additional_properties_changed", "/*", "narrow")},
    ),
    (
        "additionalProperties false removed",
        {**obj(a=INT), "additionalProperties": False},
        obj(a=INT),
        {("additional_properties_changed", "/*", "widen")},
    ),
    (
        "additionalProperties schema widened",
        {"additionalProperties": INT},
        {"additionalProperties": NUM},
        {("type_widened", "/*", "widen")},
    ),
    (
        "additionalProperties schema to false",
        {"additionalProperties": INT},
        {"additionalProperties": False},
        {("additional_properties_changed", "/*", "narrow")},
    ),
    # enum and const
    ("enum narrowed", {"enum": [1, 2, 3]}, {"enum": [1, 2]}, {("enum_narrowed", "", "narrow")}),
    ("enum extended", {"enum": [1, 2]}, {"enum": [1, 2, 3]}, {("enum_extended", "", "widen")}),
    ("enum changed", {"enum": [1, 2]}, {"enum": [1, 3]}, {("enum_changed", "", "change")}),
    ("enum added", INT, {**INT, "enum": [1]}, {("enum_added", "", "narrow")}),
    ("enum removed", {**INT, "enum": [1]}, INT, {("enum_removed", "", "widen")}),
    ("enum 1 is 1.0", {"enum": [1, "a"]}, {"enum": ["a", 1.0]}, set()),
    ("const changed", {"const": "a"}, {"const": "b"}, {("const_changed", "", "change")}),
    ("const added", STR, {**STR, "const": "a"}, {("const_added", "", "narrow")}),
    ("const removed", {**STR, "const": "a"}, STR, {("const_removed", "", "widen")}),
    ("const to enum", {"const": "a"}, {"enum": ["a", "b"]}, {("enum_extended", "", "widen")}),
    # pattern, format
    ("pattern added", STR, {**STR, "pattern": "^a"}, {("pattern_added", "", "narrow")}),
    (
        "pattern changed",  # proven both ways by witnesses: "a" and "b"
        {**STR, "pattern": "^a"},
        {**STR, "pattern": "^b"},
        {("pattern_changed", "", "change")},
    ),
    (
        "pattern rewritten, no witness",  # the same strings: nothing shows a difference
        {**STR, "pattern": "^a"},
        {**STR, "pattern": "^(?:a)"},
        {("pattern_changed", "", "semantic")},
    ),
    ("pattern removed", {**STR, "pattern": "^a"}, STR, {("pattern_removed", "", "widen")}),
    ("format added", STR, {**STR, "format": "email"}, {("format_added", "", "narrow")}),
    (
        "format changed",
        {**STR, "format": "email"},
        {**STR, "format": "hostname"},
        {("format_changed", "", "change")},
    ),
    ("format removed", {**STR, "format": "ipv4"}, STR, {("format_removed", "", "widen")}),
    (
        "format password is an annotation",
        STR,
        {**STR, "format": "password"},
        {("format_added", "", "none")},
    ),
    # multipleOf
    (
        "multipleOf narrowed",
        {"multipleOf": 2},
        {"multipleOf": 4},
        {("multiple_of_changed", "", "narrow")},
    ),
    (
        "multipleOf widened",
        {"multipleOf": 4},
        {"multipleOf": 2},
        {("multiple_of_changed", "", "widen")},
    ),
    (
        "multipleOf changed",
        {"multipleOf": 2},
        {"multipleOf": 3},
        {("multiple_of_changed", "", "change")},
    ),
    (
        "multipleOf decimal widened",
        {"multipleOf": 0.5},
        {"multipleOf": 0.25},
        {("multiple_of_changed", "", "widen")},
    ),
    ("multipleOf added", NUM, {**NUM, "multipleOf": 2}, {("multiple_of_added", "", "narrow")}),
    ("multipleOf removed", {**NUM, "multipleOf": 2}, NUM, {("multiple_of_removed", "", "widen")}),
    # defaults: no effect on validation (the level is risky, tested below)
    (
        "default changed",
        obj(a={"default": 1}),
        obj(a={"default": 2}),
        {("default_changed", "/a", "none")},
    ),
    ("default added", obj(a=INT), obj(a={**INT, "default": 2}), {("default_added", "/a", "none")}),
    (
        "default removed",
        obj(a={**INT, "default": 2}),
        obj(a=INT),
        {("default_removed", "/a", "none")},
    ),
    # composition
    (
        "anyOf branch added",
        {"anyOf": [INT, STR]},
        {"anyOf": [INT, STR, {"type": "boolean"}]},
        {("branch_added", "", "widen")},
    ),
    (
        "anyOf branch removed",
        {"anyOf": [INT, STR, {"type": "boolean"}]},
        {"anyOf": [INT, STR]},
        {("branch_removed", "", "narrow")},
    ),
    (
        "allOf branch added",
        {"allOf": [INT, {"minimum": 0}]},
        {"allOf": [INT, {"minimum": 0}, {"maximum": 9}]},
        {("branch_added", "", "narrow")},
    ),
    (
        "allOf branch removed",
        {"allOf": [INT, {"minimum": 0}, {"maximum": 9}]},
        {"allOf": [INT, {"minimum": 0}]},
        {("branch_removed", "", "widen")},
    ),
    ("branches reordered", {"anyOf": [INT, STR]}, {"anyOf": [STR, INT]}, set()),
    (
        "anyOf branch changed",
        {"anyOf": [INT, STR]},
        {"anyOf": [NUM, STR]},
        {("type_widened", "", "widen")},
    ),
    (
        "oneOf overlapping integer branch",  # integers now match two: a proven narrowing
        {"oneOf": [NUM, STR]},
        {"oneOf": [NUM, STR, INT]},
        {("branch_overlap", "", "narrow")},
    ),
    (
        "oneOf overlapping equal types",
        {"oneOf": [STR, INT]},
        {"oneOf": [STR, INT, {"type": "string", "minLength": 2}]},
        {("branch_overlap", "", "narrow")},
    ),
    (
        "oneOf overlapping empty schema",
        {"oneOf": [STR, INT]},
        {"oneOf": [STR, INT, {}]},
        {("branch_overlap", "", "change")},
    ),
    (
        "oneOf disjoint branch added",
        {"oneOf": [STR, INT]},
        {"oneOf": [STR, INT, {"type": "boolean"}]},
        {("branch_added", "", "widen")},
    ),
    (
        "oneOf disjoint branch removed",
        {"oneOf": [STR, INT, {"type": "boolean"}]},
        {"oneOf": [STR, INT]},
        {("branch_removed", "", "narrow")},
    ),
    (
        "oneOf discriminated branch added",
        {"oneOf": [{**obj(kind={"const": "a"}), "required": ["kind"]}]},
        {
            "oneOf": [
                {**obj(kind={"const": "a"}), "required": ["kind"]},
                {**obj(kind={"const": "b"}), "required": ["kind"]},
            ]
        },
        {("composition_rewritten", "", "widen")},  # a one-branch oneOf is its branch
    ),
    (
        "oneOf disjoint branch narrowed",
        {"oneOf": [{**STR, "maxLength": 5}, INT]},
        {"oneOf": [{**STR, "maxLength": 3}, INT]},
        {("limit_tightened", "", "narrow")},
    ),
    (
        "oneOf overlapping branch changed",
        {"oneOf": [{**INT, "minimum": 0}, {**INT, "maximum": -1}]},
        {"oneOf": [{**INT, "minimum": 1}, {**INT, "maximum": -1}]},
        {("branch_changed", "", "semantic")},
    ),
    # compositions rewritten: proven branch by branch (docs/compat.md)
    (
        "type becomes an anyOf union containing it",
        STR,
        {"anyOf": [STR, INT]},
        {("composition_rewritten", "", "widen")},
    ),
    (
        "type becomes a oneOf union containing it",
        obj(a=STR),
        obj(a={"oneOf": [STR, INT]}),
        {("composition_rewritten", "/a", "widen")},
    ),
    (
        "oneOf to anyOf, same branches",  # integers from 5 on matched both: now accepted
        {"oneOf": [INT, {"type": "number", "minimum": 5}]},
        {"anyOf": [INT, {"type": "number", "minimum": 5}]},
        {("composition_rewritten", "", "widen")},
    ),
    (
        "allOf to anyOf, more branches",
        {"allOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"anyOf": [{"required": ["a"]}, {"required": ["b"]}, {"required": ["c"]}]},
        {("composition_rewritten", "", "widen")},
    ),
    (
        "anyOf to oneOf, disjoint branches",
        {"anyOf": [STR, INT]},
        {"oneOf": [STR, INT]},
        {("composition_rewritten", "", "none")},
    ),
    (
        "allOf branch duplicated",
        {"allOf": [{"required": ["a"]}, {"minProperties": 2}]},
        {"allOf": [{"required": ["a"]}, {"minProperties": 2}, {"required": ["a"]}]},
        {("branch_added", "", "none")},
    ),
    (
        "oneOf of one to allOf of one",
        {"oneOf": [{"required": ["a"]}]},
        {"allOf": [{"required": ["a"]}]},
        set(),
    ),
    (
        "allOf to oneOf is breaking",  # a config matching both branches is now rejected
        {"allOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {("composition_removed", "", "widen"), ("composition_added", "", "narrow")},
    ),
    (
        "nullable anyOf, a branch duplicated",  # read as a nullable string, then split by type
        {"anyOf": [STR, {"type": "null"}]},
        {"anyOf": [STR, {"type": "null"}, STR]},
        {("composition_rewritten", "", "none")},
    ),
    (
        "type list to anyOf of its types",
        {"type": ["string", "integer"]},
        {"anyOf": [STR, INT]},
        {("composition_rewritten", "", "none")},
    ),
    (
        "oneOf branch duplicated is breaking",  # every value matches two branches now
        {"oneOf": [STR, INT]},
        {"oneOf": [STR, INT, INT]},
        {("branch_overlap", "", "narrow")},
    ),
    ("anyOf added", {}, {"anyOf": [INT, STR]}, {("composition_added", "", "narrow")}),
    ("oneOf removed", {"oneOf": [INT, STR]}, {}, {("composition_removed", "", "widen")}),
    (
        "allOf wrapper of a ref",
        {"$defs": DEFS, **obj(a={"$ref": "#/$defs/P"})},
        {"$defs": DEFS, **obj(a={"allOf": [{"$ref": "#/$defs/P"}], "description": "pool"})},
        set(),
    ),
    # not, if/then/else, dependencies
    (
        "not widened is narrower",
        {"not": STR},
        {"not": {"type": ["string", "integer"]}},
        {("not_changed", "", "narrow")},
    ),
    ("not added", INT, {**INT, "not": {"const": 3}}, {("not_added", "", "narrow")}),
    (
        "if changed",
        {"if": obj(a={"const": 1}), "then": {"required": ["b"]}},
        {"if": obj(a={"const": 2}), "then": {"required": ["b"]}},
        {("conditional_changed", "", "change")},  # witnesses {"a": 2} and {"a": 1}
    ),
    (
        "then narrowed",
        {"if": obj(a={"const": 1}), "then": {"required": ["b"]}},
        {"if": obj(a={"const": 1}), "then": {"required": ["b", "c"]}},
        {("required_added", "/c", "narrow")},
    ),
    (
        "if added",
        {},
        {"if": obj(a={"const": 1}), "then": {"required": ["b"]}},
        {("conditional_added", "", "narrow")},
    ),
    (
        "dependentRequired added",
        obj(a=INT),
        {**obj(a=INT), "dependentRequired": {"a": ["b"]}},
        {("dependent_required_added", "/b", "narrow")},
    ),
    (
        "dependentSchemas added",
        obj(a=INT),
        {**obj(a=INT), "dependentSchemas": {"a": {"required": ["b"]}}},
        {("dependent_schema_changed", "", "narrow")},
    ),
    (
        "patternProperties regex changed",
        {"patternProperties": {"^x": INT}},
        {"patternProperties": {"^y": INT}},
        {("pattern_properties_changed", "/*", "semantic")},
    ),
    (
        "patternProperties schema widened",
        {"patternProperties": {"^x": INT}},
        {"patternProperties": {"^x": NUM}},
        {("type_widened", "/*", "widen")},
    ),
    (
        "propertyNames added",
        {},
        {"propertyNames": {"maxLength": 3}},
        {("property_names_changed", "", "narrow")},
    ),
    (
        "unevaluatedProperties with allOf",
        {"allOf": [obj(a=INT)], "unevaluatedProperties": True},
        {"allOf": [obj(a=INT)], "unevaluatedProperties": False},
        {("unevaluated_changed", "", "semantic")},
    ),
    (
        "unevaluatedProperties alone is additionalProperties",
        obj(a=INT),
        {**obj(a=INT), "unevaluatedProperties": False},
        {("additional_properties_changed", "/*", "narrow")},
    ),
    # arrays
    ("items widened", {"items": INT}, {"items": NUM}, {("type_widened", "/*", "widen")}),
    (
        "items added",
        {"type": "array"},
        {"type": "array", "items": STR},
        {("type_added", "/*", "narrow")},
    ),
    (
        "prefixItems grown",
        {"prefixItems": [INT]},
        {"prefixItems": [INT, STR]},
        {("type_added", "/1", "narrow")},
    ),
    (
        "prefixItems closed",
        {"prefixItems": [INT]},
        {"prefixItems": [INT], "items": False},
        {("false_schema_added", "/*", "narrow")},
    ),
    (
        "contains added",
        {"type": "array"},
        {"type": "array", "contains": INT},
        {("contains_added", "", "narrow")},
    ),
    ("contains widened", {"contains": INT}, {"contains": NUM}, {("contains_changed", "", "widen")}),
    # references
    (
        "ref target changed",
        {"$defs": DEFS, **obj(a={"$ref": "#/$defs/P"}, b={"$ref": "#/$defs/P"})},
        {
            "$defs": {**DEFS, "P": {"type": "integer", "minimum": 2}},
            **obj(a={"$ref": "#/$defs/P"}, b={"$ref": "#/$defs/P"}),
        },
        {("limit_tightened", "/a", "narrow"), ("limit_tightened", "/b", "narrow")},
    ),
    (
        "inline to ref",
        obj(a={"type": "integer", "minimum": 1}),
        {"$defs": DEFS, **obj(a={"$ref": "#/$defs/P"})},
        set(),
    ),
    (
        "ref to inline",
        {"$defs": DEFS, **obj(a={"$ref": "#/$defs/P"})},
        obj(a={"minimum": 1, "type": "integer"}),
        set(),
    ),
    (
        "ref with a sibling",
        {"$defs": DEFS, **obj(a={"$ref": "#/$defs/S"})},
        {"$defs": DEFS, **obj(a={"$ref": "#/$defs/S", "minLength": 1})},
        {("limit_added", "/a", "narrow")},
    ),
    (
        "unused definition edited",
        {"$defs": DEFS, **obj(a=INT)},
        {"$defs": {"S": STR}, **obj(a=INT)},
        set(),
    ),
    ("false schema", obj(a=INT), obj(a=False), {("false_schema_added", "/a", "narrow")}),
]

LIMITS: list[tuple[str, Any, Any, str, str]] = [
    (kw, {**base, kw: a}, {**base, kw: b}, kind, effect)
    for kw, base, lower in [
        ("minimum", NUM, True), ("exclusiveMinimum", NUM, True), ("maximum", NUM, False),
        ("exclusiveMaximum", NUM, False), ("minLength", STR, True), ("maxLength", STR, False),
        ("minItems", {"type": "array"}, True), ("maxItems", {"type": "array"}, False),
        ("minProperties", {"type": "object"}, True), ("maxProperties", {"type": "object"}, False),
    ]
    for a, b, kind, effect in (
        [(2, 5, "limit_tightened", "narrow"), (5, 2, "limit_relaxed", "widen")]
        if lower else [(5, 2, "limit_tightened", "narrow"), (2, 5, "limit_relaxed", "widen")]
    )
] + [
    (kw, base, {**base, kw: 3}, "limit_added", "narrow")
    for kw, base in [("minimum", NUM), ("exclusiveMaximum", NUM), ("minLength", STR),
                     ("maxItems", {"type": "array"}), ("minProperties", {"type": "object"})]
] + [
    (kw, {**base, kw: 3}, base, "limit_removed", "widen")
    for kw, base in [("maximum", NUM), ("exclusiveMinimum", NUM), ("maxLength", STR),
                     ("minItems", {"type": "array"}), ("maxProperties", {"type": "object"})]
] + [
    ("uniqueItems", {"type": "array"}, {"type": "array", "uniqueItems": True}, "limit_added",
     "narrow"),
    ("uniqueItems", {"type": "array", "uniqueItems": True}, {"type": "array"}, "limit_removed",
     "widen"),
    ("minimum to exclusiveMinimum", {**NUM, "minimum": 1}, {**NUM, "exclusiveMinimum": 1},
     "limit_tightened", "narrow"),
    ("draft-04 exclusive flag set", {"$schema": DRAFT4, **NUM, "minimum": 1},
     {"$schema": DRAFT4, **NUM, "minimum": 1, "exclusiveMinimum": True}, "limit_tightened",
     "narrow"),
    ("draft-04 exclusive flag cleared",
     {"$schema": DRAFT4, **NUM, "maximum": 1, "exclusiveMaximum": True},
     {"$schema": DRAFT4, **NUM, "maximum": 1}, "limit_relaxed", "widen"),
]  # fmt: skip

METADATA = [
    ("description", obj(a={**INT, "description": "x"}), obj(a={**INT, "description": "y"})),
    (
        "title",
        obj(a={**INT, "title": "x"}),
        obj(a={**INT}),
    ),
    ("examples", obj(a={**INT, "examples": [1]}), obj(a={**INT, "examples": [2, 3]})),
    ("$comment", {"$comment": "x", **INT}, {"$comment": "y", **INT}),
    ("x-hotconf", obj(a=INT), obj(a={**INT, "x-hotconf-reload": "restart"})),
    ("deprecated", obj(a=INT), obj(a={**INT, "deprecated": True})),
    (
        "keyword order",
        {"type": "integer", "minimum": 1, "maximum": 9},
        {"maximum": 9, "minimum": 1, "type": "integer"},
    ),
    ("property order", obj(a=INT, b=STR), obj(b=STR, a=INT)),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_each_edit_is_one_finding(old: Any, new: Any, expected: set[Any]) -> None:
    assert found(old, new) == expected


@pytest.mark.parametrize(("old", "new", "kind", "effect"), [c[1:] for c in LIMITS],
                         ids=[f"{c[0]}-{c[3]}" for c in LIMITS])  # fmt: skip
def test_limits(old: Any, new: Any, kind: str, effect: str) -> None:
    assert found(old, new) == {(kind, "", effect)}


@pytest.mark.parametrize(("old", "new"), [c[1:] for c in METADATA], ids=[c[0] for c in METADATA])
def test_metadata_only_edits_are_none(old: Any, new: Any) -> None:
    for mode in MODES:
        report = schema_diff(old, new, mode)
        assert report.level == "none", report.to_text()
        assert all(c.kind == "metadata_changed" and c.effect == "none" for c in report.changes)


def test_identical_schemas_have_no_changes() -> None:
    schema = {"$defs": DEFS, **obj(a={"$ref": "#/$defs/P"}), "required": ["a"]}
    report = schema_diff(schema, copy.deepcopy(schema))
    assert report.changes == () and report.level == "none" and report.compatible


# --- levels per mode -----------------------------------------------------------------------------

EXPECTED_LEVELS = {
    # effect:   upgrade, rollback, full
    "widen": ("safe", "breaking", "breaking"),
    "narrow": ("breaking", "safe", "breaking"),
    "change": ("breaking", "breaking", "breaking"),
    "semantic": ("risky", "risky", "risky"),
    "none": ("none", "none", "none"),
}


@pytest.mark.parametrize("effect", list(EXPECTED_LEVELS))
def test_level_of_each_effect_in_each_mode(effect: Any) -> None:
    assert tuple(level_of(effect, mode) for mode in MODES) == EXPECTED_LEVELS[effect]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("name", "old", "new", "expected"), CASES[:12], ids=[c[0] for c in CASES[:12]]
)
def test_report_levels_follow_the_mode(name: str, old: Any, new: Any, expected: Any,
                                       mode: Any) -> None:  # fmt: skip
    report = schema_diff(old, new, mode)
    for change in report.changes:
        assert change.level == level_of(change.effect, mode)
    assert report.level == max((c.level for c in report.changes), key=LEVELS.index, default="none")
    assert report.compatible == (report.level != "breaking")


def test_a_changed_default_is_risky_in_every_mode() -> None:
    for mode in MODES:
        report = schema_diff(obj(a={"default": 1}), obj(a={"default": 2}), mode)
        assert [(c.kind, c.level) for c in report.changes] == [("default_changed", "risky")]
        assert report.compatible


def test_required_with_default_still_breaks_an_upgrade() -> None:
    old = obj(timeout={"type": "integer", "default": 30})
    report = schema_diff(old, {**old, "required": ["timeout"]})
    [change] = report.changes
    assert change.level == "breaking" and "default 30 does not help" in change.reason
    assert not Draft202012Validator({**old, "required": ["timeout"]}).is_valid({})


def test_counts_and_mixed_levels() -> None:
    old = obj(a=INT, b={**STR, "pattern": "^x"}, c={"default": 1})
    new = obj(a=NUM, b={**STR, "pattern": "^y"}, c={"default": 2}, d={"enum": [1]})
    report = schema_diff(old, new)
    # a widened (safe), b's pattern changed ("x" and "y" are witnesses: breaking), c's
    # default (risky), d added to an open object (breaking)
    assert dict(report.counts) == {"none": 0, "safe": 1, "risky": 1, "breaking": 2}
    assert report.level == "breaking" and not report.compatible
    assert schema_diff(old, new, "rollback").counts["breaking"] == 2  # a widened, b changed
    # without the pattern change, only the default is risky: compatible when a is widened
    tame = schema_diff(obj(a=INT, c={"default": 1}), obj(a=NUM, c={"default": 2}))
    assert tame.level == "risky" and tame.compatible


TUPLE_OPEN = {"type": "array", "prefixItems": [STR, NUM], "items": STR, "unevaluatedItems": False}
TUPLE_FIXED = {"type": "array", "prefixItems": [STR, NUM, NUM], "unevaluatedItems": False}
UNPROVEN = [  # (name, old, new, a config the old schema accepts and the new one rejects)
    ("pattern date-time to uuid", {**STR, "pattern": "date-time"}, {**STR, "pattern": "uuid"},
     "date-time"),
    ("tuple with extra strings to three fixed items", TUPLE_OPEN, TUPLE_FIXED, ["a", 1, "b"]),
    ("three fixed items to tuple with extra strings", TUPLE_FIXED, TUPLE_OPEN, ["a", 1, 2]),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "breaks"), [c[1:] for c in UNPROVEN],
                         ids=[c[0] for c in UNPROVEN])  # fmt: skip
def test_unproven_changes_are_not_compatible_and_show_a_witness(
    old: Any, new: Any, breaks: Any, tmp_path: Path
) -> None:
    from hotconf.cli import main

    assert valid(old, breaks) and not valid(new, breaks)  # the issue's config
    report = schema_diff(old, new)
    assert not report.compatible and not report.to_dict()["compatible"]
    assert report.level == "breaking"
    shown = [c.witness for c in report.changes if c.witness is not None]
    assert shown, report.to_text()
    for witness in shown:
        witness = json.loads(json.dumps(witness))
        assert valid(old, witness) and not valid(new, witness)
        assert json.dumps(witness) in report.to_text()  # the reason shows it too
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert main(["schema-diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 1


def test_an_unproven_change_without_a_witness_is_risky_and_not_compatible() -> None:
    # the same strings, written otherwise: nothing shows a difference, nothing proves none
    report = schema_diff({**STR, "pattern": "^a"}, {**STR, "pattern": "^(?:a)"})
    [change] = report.changes
    assert (change.effect, change.level, change.witness) == ("semantic", "risky", None)
    assert report.level == "risky" and not report.compatible
    assert report.to_dict()["compatible"] is False


def test_witnesses_redact_secrets() -> None:
    old = obj(api_token={**STR, "pattern": "^tok-[0-9]+$"})
    new = obj(api_token={**STR, "pattern": "^key-[0-9]+$"})
    report = schema_diff({**old, "required": ["api_token"]}, {**new, "required": ["api_token"]})
    [change] = report.changes
    assert change.level == "breaking"
    assert change.to_dict()["witness"] == {"api_token": "<redacted>"}
    assert "tok-0" not in json.dumps(report.to_dict()) + report.to_text()


# --- verdicts that say breaking are breaking: find a witness --------------------------------------

WITNESS_SETTINGS = settings(max_examples=2_000, deadline=None, database=None)
CANONICAL = [c for c in CASES if c[0] in {
    "number to integer", "string to integer", "anyOf null dropped", "required added",
    "required with default", "property added to open object", "property removed from closed object",
    "additionalProperties true to false", "enum narrowed", "enum changed", "const changed",
    "pattern added", "multipleOf narrowed", "anyOf branch removed", "allOf branch added",
    "oneOf overlapping integer branch", "oneOf overlapping equal types",
    "oneOf overlapping empty schema", "items added", "ref target changed",
    "not widened is narrower", "allOf to oneOf is breaking", "oneOf branch duplicated is breaking",
    "pattern changed", "if changed",
}] + [(f"{c[0]} {c[3]}", c[1], c[2], set()) for c in LIMITS if c[4] == "narrow"]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), [c[1:3] for c in CANONICAL], ids=[c[0] for c in CANONICAL])
def test_breaking_upgrades_have_a_witness(old: Any, new: Any) -> None:
    report = schema_diff(old, new)
    assert not report.compatible
    shown = [c.to_dict()["witness"] for c in report.changes if c.witness is not None]
    for witness in shown:  # one the report found itself
        assert valid(old, witness) and not valid(new, witness)
    if shown:
        return
    if "$schema" in old:  # draft-04 exclusive flags: the witness is the bound itself
        assert valid_draft4(old, old["minimum"]) and not valid_draft4(new, new["minimum"])
        return
    witness = find_witness(old, new)
    assert valid(old, witness) and not valid(new, witness)


def find_witness(source: Any, target: Any) -> Any:
    """A config valid under ``source`` and invalid under ``target``."""
    # hypothesis-jsonschema seldom invents a key that only the target names: offer some
    strategy = from_schema(source) | st.sampled_from([{"b": 1}, {"b": "x"}, {"b": None}])

    def breaks(config: Any) -> bool:
        return valid(source, config) and not valid(target, config)

    return find(strategy, breaks, settings=WITNESS_SETTINGS)


def valid_draft4(schema: Any, config: Any) -> bool:
    from jsonschema import Draft4Validator

    return bool(Draft4Validator(schema).is_valid(config))


WIDENING = [c for c in CASES if "widen" in str(c[3])][:16]


@pytest.mark.parametrize(("old", "new"), [c[1:3] for c in WIDENING], ids=[c[0] for c in WIDENING])
def test_breaking_rollbacks_have_a_witness(old: Any, new: Any) -> None:
    report = schema_diff(old, new, "rollback")
    if report.compatible:
        return  # e.g. a documented property: widen at the type level only
    try:
        witness = find_witness(new, old)
    except NoSuchExample:
        pytest.fail(f"rollback said breaking but no config valid under {new} fails {old}")
    assert valid(new, witness) and not valid(old, witness)


# --- verdicts that say compatible are compatible: property-based --------------------------------


def proven_compatible(report: CompatReport) -> bool:
    """The report claims every config keeps passing: what ``compatible`` says, checked to be
    no breaking level and nothing unprovable."""
    claimed = all(c.level != "breaking" and c.effect != "semantic" for c in report.changes)
    assert report.compatible == claimed == report.to_dict()["compatible"]
    return report.compatible


@contextmanager
def _constants_kept() -> Iterator[None]:
    # hypothesis-jsonschema 0.23.1 mutates its FALSEY constant while canonicalising some
    # unsatisfiable schemas (e.g. {"type": "string", "allOf": [{"type": "number"}], "if": ...,
    # "else": ...}), which breaks every later draw: put the constants back.
    saved = [(c, copy.deepcopy(c)) for c in (_canonicalise.FALSEY, _canonicalise.TRUTHY)]
    try:
        yield
    finally:
        for constant, value in saved:
            if constant != value:
                constant.clear()
                constant.update(value)


def check_sound(old: Any, new: Any, data: st.DataObject, draws: int = 3) -> None:
    """Configs valid under one schema pass the other whenever the report says they must, and
    every witness a report shows breaks in its mode."""
    directions = []
    for mode, source, target in (("upgrade", old, new), ("rollback", new, old)):
        report = schema_diff(old, new, mode)
        for c in report.changes:
            if c.witness is not None:
                witness = json.loads(json.dumps(c.to_dict()["witness"]))
                assert valid(source, witness) and not valid(target, witness), c
        if proven_compatible(report):
            directions.append((mode, source, target))
    if not directions:
        return
    # One direction per example: drawing from two from_schema strategies in one example is
    # many times slower (hypothesis-jsonschema discards most such examples).
    mode, source, target = data.draw(st.sampled_from(directions), label="direction")
    for _ in range(draws):
        with _constants_kept():
            config = data.draw(from_schema(copy.deepcopy(source)), label=f"{mode} config")
        if valid(source, config):  # hypothesis-jsonschema targets draft-07
            report = schema_diff(old, new, mode).to_text()
            assert valid(target, config), f"{mode}: {config!r} rejected despite\n{report}"


# hypothesis-jsonschema generates for draft-07: these pairs stay inside what draft-07 and
# 2020-12 agree on (no prefixItems, no dependentRequired, no unevaluated*).
_OUTSIDE_DRAFT_07 = ("prefixItems", "dependent", "unevaluated", "format", "$schema")
SOUNDNESS_PAIRS = [
    c for c in CASES + [(c[0], *c[1:3], set()) for c in LIMITS]
    if not any(k in json.dumps(c[1:3]) for k in _OUTSIDE_DRAFT_07)
]  # fmt: skip
SLOW_AND_FILTERED = [HealthCheck.too_slow, HealthCheck.filter_too_much]
PBT = settings(
    max_examples=8, deadline=None, database=None, suppress_health_check=SLOW_AND_FILTERED
)
# too_slow: from_schema canonicalises each schema on first draw, which is the cost measured;
# filter_too_much: hypothesis-jsonschema filters generated objects internally (e.g. for {}).


@pytest.mark.parametrize(("old", "new"), [c[1:3] for c in SOUNDNESS_PAIRS],
                         ids=[c[0] for c in SOUNDNESS_PAIRS])  # fmt: skip
@PBT
@given(data=st.data())
def test_compatible_verdicts_hold_for_generated_configs(old: Any, new: Any,
                                                        data: st.DataObject) -> None:  # fmt: skip
    check_sound(old, new, data)


# Random small schemas and random edits of them.
LEAF_TYPES = ["integer", "number", "string", "boolean", "null"]
NAMES = ["a", "b", "c"]
VALUES = [0, 1, 2, "x", "y", True, None]


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(LEAF_TYPES))
    schema: dict[str, Any] = {"type": kind}
    if kind in ("integer", "number"):
        for kw in draw(st.sets(st.sampled_from(["minimum", "maximum", "multipleOf"]))):
            schema[kw] = draw(st.integers(1, 4)) if kw == "multipleOf" else draw(st.integers(-3, 3))
        if schema.get("minimum", -9) > schema.get("maximum", 9):
            schema.pop("maximum")
    if kind == "string" and draw(st.booleans()):
        schema["maxLength"] = draw(st.integers(1, 4))
    return schema


@st.composite
def schemas(draw: st.DrawFn, depth: int = 2) -> dict[str, Any]:
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return draw(leaves())
    shape = draw(st.sampled_from(["object", "array", "anyOf", "oneOf", "union"]))
    if shape == "object":
        props = {n: draw(schemas(depth - 1)) for n in draw(st.sets(st.sampled_from(NAMES)))}
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if props and draw(st.booleans()):
            schema["required"] = sorted(draw(st.sets(st.sampled_from(sorted(props)), min_size=1)))
        if draw(st.booleans()):
            schema["additionalProperties"] = draw(
                st.sampled_from([False, True, {"type": "integer"}])
            )
        return schema
    if shape == "array":
        return {"type": "array", "items": draw(schemas(depth - 1)), "maxItems": 3}
    if shape == "union":
        return {"type": sorted(draw(st.sets(st.sampled_from(LEAF_TYPES), min_size=1, max_size=3)))}
    return {shape: draw(st.lists(schemas(depth - 1), min_size=1, max_size=3))}


def _edit(draw: st.DrawFn, node: dict[str, Any]) -> None:
    """Apply one random edit to ``node`` in place."""
    op = draw(st.sampled_from([
        "type", "nullable", "limit", "multipleOf", "enum", "const", "required", "property",
        "additional", "items", "branch", "unique", "pattern", "default", "description", "not",
        "if", "contains", "patternProperties", "propertyNames", "union", "switch", "duplicate",
    ]))  # fmt: skip
    if op == "type":
        node["type"] = draw(
            st.sampled_from([*LEAF_TYPES, ["integer", "string"], ["number", "null"]])
        )
    elif op == "nullable":
        inner = dict(node)
        node.clear()
        node[draw(st.sampled_from(["anyOf", "oneOf"]))] = [inner, {"type": "null"}]
    elif op == "limit":
        kw = draw(st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                   "minLength", "maxLength", "minItems", "maxItems",
                                   "minProperties", "maxProperties"]))  # fmt: skip
        if draw(st.booleans()):
            node[kw] = draw(st.integers(0, 3))
        else:
            node.pop(kw, None)
    elif op == "multipleOf":
        node["multipleOf"] = draw(st.sampled_from([1, 2, 3, 4, 6]))
    elif op == "enum":
        node["enum"] = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=4, unique=True))
    elif op == "const":
        node["const"] = draw(st.sampled_from(VALUES))
    elif op == "required":
        names = set(node.get("required", []))
        node["required"] = sorted(names ^ {draw(st.sampled_from(NAMES))})
    elif op == "property":
        props = node.setdefault("properties", {})
        name = draw(st.sampled_from(NAMES))
        if name in props and draw(st.booleans()):
            del props[name]
        else:
            props[name] = draw(leaves())
    elif op == "additional":
        node["additionalProperties"] = draw(st.sampled_from([False, True, {"type": "string"}]))
    elif op == "items":
        node["items"] = draw(leaves())
    elif op == "branch":
        key = draw(st.sampled_from(["anyOf", "oneOf", "allOf"]))
        branches = node.setdefault(key, [])
        if branches and draw(st.booleans()):
            branches.pop(draw(st.integers(0, len(branches) - 1)))
            if not branches:
                del node[key]
        else:
            branches.append(draw(leaves()))
    elif op == "union":  # the schema becomes a branch of a union, beside another
        inner = dict(node)
        node.clear()
        node[draw(st.sampled_from(["anyOf", "oneOf"]))] = [inner, draw(leaves())]
    elif op == "switch":  # allOf, anyOf and oneOf trade places, keeping the branches
        found = [k for k in ("allOf", "anyOf", "oneOf") if k in node]
        if found:
            old_key = draw(st.sampled_from(found))
            new_key = draw(
                st.sampled_from([k for k in ("allOf", "anyOf", "oneOf") if k != old_key])
            )
            if new_key not in node:
                node[new_key] = node.pop(old_key)
    elif op == "duplicate":  # a branch listed twice
        found = [k for k in ("allOf", "anyOf", "oneOf") if node.get(k)]
        if found:
            branches = node[draw(st.sampled_from(found))]
            branches.append(copy.deepcopy(branches[draw(st.integers(0, len(branches) - 1))]))
    elif op == "unique":
        node["uniqueItems"] = not node.get("uniqueItems", False)
    elif op == "pattern":
        node["pattern"] = draw(st.sampled_from(["^x", "y", "^[a-z]*$"]))
    elif op in ("not", "contains", "propertyNames"):
        if op in node and draw(st.booleans()):
            del node[op]
        else:
            node[op] = (
                draw(leaves()) if op != "propertyNames" else {"maxLength": draw(st.integers(1, 2))}
            )
    elif op == "if":
        node["if"] = {"properties": {draw(st.sampled_from(NAMES)): draw(leaves())}}
        node[draw(st.sampled_from(["then", "else"]))] = {"required": [draw(st.sampled_from(NAMES))]}
    elif op == "patternProperties":
        node["patternProperties"] = {draw(st.sampled_from(["^a", "^x", "b"])): draw(leaves())}
    elif op == "default":
        node["default"] = draw(st.sampled_from(VALUES))
    else:
        node["description"] = draw(st.text(max_size=5))


def _subschemas(node: Any) -> list[dict[str, Any]]:
    if not isinstance(node, dict):
        return []
    found = [node]
    for key in ("properties",):
        for sub in node.get(key, {}).values():
            found += _subschemas(sub)
    for key in ("items", "additionalProperties"):
        found += _subschemas(node.get(key))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            found += _subschemas(sub)
    return found


@st.composite
def edited_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    old = draw(schemas())
    new = copy.deepcopy(old)
    for _ in range(draw(st.integers(1, 3))):
        targets = _subschemas(new)
        _edit(draw, targets[draw(st.integers(0, len(targets) - 1))])
    return old, new


def _satisfiable(schema: Any) -> bool:
    try:
        Draft202012Validator.check_schema(schema)
    except Exception:
        return False
    return True


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # fmt: skip
# filter_too_much: some random edits make a schema accept nothing; those examples are dropped.
@given(pair=edited_pairs(), data=st.data())
def test_compatible_verdicts_hold_for_random_edits(pair: Any, data: st.DataObject) -> None:
    old, new = pair
    if not (_satisfiable(old) and _satisfiable(new)):
        return
    check_sound(old, new, data)


# --- OpenAPI, drafts, recursion ------------------------------------------------------------------


def openapi(version: str, app: dict[str, Any], **schemas: Any) -> dict[str, Any]:
    return {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": {},
            "components": {"schemas": {"App": app, **schemas}}}  # fmt: skip


APP = "#/components/schemas/App"


def test_openapi_30_nullable() -> None:
    old = openapi("3.0.3", obj(a=STR))
    new = openapi("3.0.3", obj(a={**STR, "nullable": True}))
    assert found(old, new, pointer=APP) == {("type_widened", "/a", "widen")}
    assert found(new, old, pointer=APP) == {("type_narrowed", "/a", "narrow")}
    # nullable without a type says nothing in OpenAPI 3.0: null was accepted all along
    assert found(openapi("3.0.3", obj(a={})), openapi("3.0.3", obj(a={"nullable": True})),
                 pointer=APP) == set()  # fmt: skip


def test_openapi_30_exclusive_flags_and_refs() -> None:
    old = openapi("3.0.3", obj(n={"$ref": "#/components/schemas/N"}), N={**INT, "minimum": 1})
    new = openapi("3.0.3", obj(n={"$ref": "#/components/schemas/N"}),
                  N={**INT, "minimum": 1, "exclusiveMinimum": True})  # fmt: skip
    report = schema_diff(old, new, pointer=APP)
    [change] = report.changes
    assert (change.kind, change.path, change.level) == ("limit_tightened", "/n", "breaking")
    assert change.schema_pointer == "/components/schemas/N/exclusiveMinimum"


def test_openapi_30_readonly_required_property_is_not_required() -> None:
    old = openapi("3.0.3", {**obj(id=STR), "required": ["id"]})
    new = openapi("3.0.3", {**obj(id={**STR, "readOnly": True}), "required": ["id"]})
    assert found(old, new, pointer=APP) == {("required_removed", "/id", "widen")}


def test_openapi_31_with_pointer_and_schema_objects() -> None:
    old = Schema.from_dict(openapi("3.1.0", obj(a={"type": ["string", "null"]})), APP)
    new = Schema.from_dict(openapi("3.1.0", obj(a=STR, b={"x-hotconf-reload": "restart"})), APP)
    report = schema_diff(old, new)
    assert {(c.kind, c.path, c.level) for c in report.changes} == {
        ("type_narrowed", "/a", "breaking"), ("property_added", "/b", "none")
    }  # fmt: skip
    # a pointer given to schema_diff applies to both documents, Schemas included
    assert schema_diff(old.document, new, pointer=APP).level == "breaking"


def _as_component(version: str, schema: Any) -> dict[str, Any] | None:
    """``schema`` as the component ``Conf`` of an OpenAPI document whose ``App`` is only a
    ``$ref`` to it; None when the document is not valid OpenAPI of that version."""
    doc = openapi(version, {"$ref": "#/components/schemas/Conf"}, Conf=schema)
    try:
        Schema.from_dict(doc, APP)
    except SchemaError:
        return None
    return doc


def test_openapi_30_pointer_at_a_ref_adding_required_is_required_added() -> None:
    conf = obj(a=STR, b=INT)
    old = _as_component("3.0.3", conf)
    new = _as_component("3.0.3", {**conf, "required": ["a"]})
    report = schema_diff(old, new, pointer=APP)  # type: ignore[arg-type]
    assert [(c.kind, c.path, c.schema_pointer) for c in report.changes] == [
        ("required_added", "/a", "/components/schemas/Conf/required")
    ]


# Every edit of the tables that is valid OpenAPI of the version (a 3.0 schema has no const,
# no type lists, no $defs...), as the Conf component an App $ref points to.
OPENAPI_PAIRS = [
    (f"{version} {name}", a, b)
    for version in ("3.0.3", "3.1.0")
    for name, old, new, _ in CASES + [(c[0], *c[1:3], set()) for c in LIMITS]
    if "$schema" not in json.dumps([old, new])
    for a, b in [(_as_component(version, old), _as_component(version, new))]
    if a is not None and b is not None
]


@pytest.mark.parametrize(("a", "b"), [c[1:] for c in OPENAPI_PAIRS],
                         ids=[c[0] for c in OPENAPI_PAIRS])  # fmt: skip
def test_a_pointer_at_a_ref_compares_what_the_ref_resolves_to(a: Any, b: Any) -> None:
    at_ref, at_target = (
        {
            (c.kind, c.path, c.effect, c.level, c.schema_pointer)
            for c in schema_diff(a, b, mode, pointer=p).changes
        }
        for mode in ("full",)
        for p in (APP, "#/components/schemas/Conf")
    )
    assert at_ref == at_target


def test_openapi_30_discriminator_branches_are_semantic() -> None:
    cat, dog = {**obj(kind={"type": "string"}), "required": ["kind"]}, obj(bark=INT)
    app = {"oneOf": [{"$ref": "#/components/schemas/Cat"}],
           "discriminator": {"propertyName": "kind"}}  # fmt: skip
    old = openapi("3.0.3", app, Cat=cat, Dog=dog)
    new = copy.deepcopy(old)
    new["components"]["schemas"]["App"]["oneOf"].append({"$ref": "#/components/schemas/Dog"})
    assert found(old, new, pointer=APP) == {("branch_changed", "", "semantic")}


def test_dialect_change_is_semantic_and_draft07_tuples_compare() -> None:
    old = {"$schema": DRAFT7, "items": [INT], "additionalItems": False}
    new = {"$schema": DRAFT7, "items": [INT, STR], "additionalItems": False}
    assert found(old, new) == {("false_schema_removed", "/1", "widen")}
    assert ("dialect_changed", "", "semantic") in found({"$schema": DRAFT7, **INT}, INT)


def test_draft07_ref_siblings_are_ignored() -> None:
    # Before 2019-09 a $ref's siblings do not validate: adding one changes nothing.
    defs = {"definitions": {"P": INT}}
    old = {"$schema": DRAFT7, **defs, **obj(a={"$ref": "#/definitions/P"})}
    new = {"$schema": DRAFT7, **defs, **obj(a={"$ref": "#/definitions/P", "minimum": 5})}
    assert found(old, new) == set()


TREE = {"$defs": {"node": {"type": "object", "properties": {
    "value": INT, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
    "$ref": "#/$defs/node"}  # fmt: skip


def test_recursive_schemas_terminate_and_compare() -> None:
    start = time.perf_counter()
    assert schema_diff(TREE, copy.deepcopy(TREE)).changes == ()
    new = copy.deepcopy(TREE)
    new["$defs"]["node"]["properties"]["value"] = NUM
    assert found(TREE, new) == {("type_widened", "/value", "widen"),
                                ("type_widened", "/children/*/value", "widen")}  # fmt: skip
    assert time.perf_counter() - start < 5


def test_mutually_recursive_schema_against_self_recursive_one() -> None:
    mutual = {"$defs": {
        "a": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b"}, "v": INT}},
        "b": {"type": "object", "properties": {"b": {"$ref": "#/$defs/a"}, "v": INT}},
    }, "$ref": "#/$defs/a"}  # fmt: skip
    node = {"type": "object", "properties": {"b": {"$ref": "#/$defs/a"}, "v": INT}}
    single = {"$defs": {"a": node}, "$ref": "#/$defs/a"}
    assert schema_diff(mutual, single).changes == ()
    assert schema_diff({"$ref": "#"}, {"$ref": "#"}).changes == ()  # a schema that is only itself


def test_dynamic_refs_resolve_statically() -> None:
    def tree(kind: str) -> dict[str, Any]:
        node = {"$dynamicAnchor": "node", **obj(v={"type": kind}, kids={
            "type": "array", "items": {"$dynamicRef": "#node"}})}  # fmt: skip
        return {"$defs": {"node": node}, "$ref": "#/$defs/node"}

    assert found(tree("integer"), tree("number")) == {
        ("type_widened", "/v", "widen"), ("type_widened", "/kids/*/v", "widen")
    }  # fmt: skip


def test_property_changes_beside_unevaluated_properties_are_semantic() -> None:
    old = {"allOf": [obj(a=INT)], "unevaluatedProperties": False}
    new = {"allOf": [obj(a=INT, b=STR)], "unevaluatedProperties": False}
    # b was rejected (unevaluated) and is now accepted as a string: not the narrowing an open
    # object would suggest
    assert found(old, new) == {("property_added", "/b", "semantic")}


def test_comparison_stops_at_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from hotconf.compat import rules as _compat_rules

    deep_o, deep_n = INT, NUM
    for _ in range(10):
        deep_o, deep_n = obj(x=deep_o), obj(x=deep_n)
    monkeypatch.setattr(_compat_rules, "MAX_DEPTH", 5)
    report = schema_diff(deep_o, deep_n)
    assert [(c.kind, c.level) for c in report.changes] == [("comparison_truncated", "risky")]
    monkeypatch.setattr(_compat_rules, "MAX_DEPTH", 64)
    monkeypatch.setattr(_compat_rules, "MAX_COMPARISONS", 3)
    assert [c.kind for c in schema_diff(deep_o, deep_n).changes] == ["comparison_truncated"]


# --- a config: which changes concern it ---------------------------------------------------------

OLD_APP = {"type": "object", "properties": {
    "db": {"type": "object", "properties": {
        "pool": {"type": "integer", "minimum": 1}, "host": STR,
        "timeout": {"type": "integer", "default": 30}}},
    "servers": {"type": "array", "items": obj(port=INT, name={**STR, "pattern": "^[a-z]+$"})},
}}  # fmt: skip


def _new_app() -> dict[str, Any]:
    new = copy.deepcopy(OLD_APP)
    db = new["properties"]["db"]
    db["properties"]["pool"]["minimum"] = 5
    db["properties"]["timeout"]["default"] = 60
    db["required"] = ["host"]
    server = new["properties"]["servers"]["items"]["properties"]
    server["port"]["maximum"] = 1024
    server["name"]["pattern"] = "^[a-z0-9]+$"
    return new


@pytest.mark.parametrize(("config", "expected"), [
    ({"db": {"pool": 2, "host": "h", "timeout": 5}, "servers": [{"port": 80}]},
     {"/db/pool": True, "/db/timeout": False, "/db/host": False, "/servers/*/port": False,
      "/servers/*/name": False}),
    ({"db": {"pool": 9}, "servers": [{"port": 80, "name": "a"}, {"port": 8080}]},
     {"/db/pool": False, "/db/timeout": True, "/db/host": True, "/servers/*/port": True,
      "/servers/*/name": True}),
])  # fmt: skip
def test_affected_says_which_changes_concern_the_config(config: Any, expected: Any) -> None:
    assert valid(OLD_APP, config)
    report = schema_diff(OLD_APP, _new_app(), config=config)
    assert {c.path: c.affected for c in report.changes} == expected
    assert schema_diff(OLD_APP, _new_app()).changes[0].affected is None


def test_affected_in_rollback_and_full() -> None:
    old, new = obj(a={**INT, "maximum": 5}), obj(a=INT)
    [change] = schema_diff(old, new, "rollback", config={"a": 9}).changes
    assert change.level == "breaking" and change.affected is True
    [change] = schema_diff(old, new, "rollback", config={"a": 1}).changes
    assert change.affected is False
    [change] = schema_diff(old, new, "full", config={"a": 9}).changes
    assert change.affected is True
    [change] = schema_diff(old, new, "upgrade", config={"a": 9}).changes
    assert change.level == "safe" and change.affected is None


def test_affected_for_closed_objects_and_required() -> None:
    old = {**obj(a=INT, b=INT), "additionalProperties": False}
    new = {**obj(a=INT), "additionalProperties": False, "required": ["a"]}
    report = schema_diff(old, new, config={"b": 1})
    assert {c.path: c.affected for c in report.changes} == {"/a": True, "/b": True}
    report = schema_diff(old, new, config={"a": 1})
    assert {c.path: c.affected for c in report.changes} == {"/a": False, "/b": False}


# --- inputs, rendering, the JSON shape ----------------------------------------------------------


def test_inputs_paths_schemas_and_errors(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(json.dumps(obj(a=INT)))
    (tmp_path / "new.yaml").write_text("type: object\nproperties:\n  a: {type: number}\n")
    report = schema_diff(tmp_path / "old.json", str(tmp_path / "new.yaml"))
    assert [c.kind for c in report.changes] == ["type_widened"]
    assert schema_diff(Schema.from_dict(obj(a=INT)), obj(a=INT)).level == "none"
    with pytest.raises(ValueError, match="mode"):
        schema_diff({}, {}, "sideways")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        schema_diff(42, {})  # type: ignore[arg-type]
    with pytest.raises(SchemaError):
        schema_diff(tmp_path / "missing.json", {})
    with pytest.raises(SchemaError):
        schema_diff({"type": "strin"}, {})


def test_secrets_in_defaults_and_enums_are_redacted() -> None:
    old = obj(db_password={**STR, "default": "hunter2"}, token={"enum": ["abc123"]})
    new = obj(db_password={**STR, "default": "swordfish"}, token={"enum": ["abc123", "def456"]})
    report = schema_diff(old, new)
    text = json.dumps(report.to_dict()) + report.to_text() + report.to_markdown()
    assert len(report.changes) == 2
    for secret in ("hunter2", "swordfish", "abc123", "def456"):
        assert secret not in text


def _report() -> CompatReport:
    return schema_diff(OLD_APP, _new_app(), config={"db": {"pool": 2}, "servers": []})


def test_to_dict_matches_the_report_schema() -> None:
    Draft202012Validator.check_schema(REPORT_SCHEMA)
    validator = Draft202012Validator(REPORT_SCHEMA)
    for report in (_report(), schema_diff({}, {}), *(
        schema_diff(old, new, mode) for _, old, new, _ in CASES[::7] for mode in MODES
    )):  # fmt: skip
        data = report.to_dict()
        validator.validate(data)
        assert json.loads(json.dumps(data)) == data
        assert data["compatible"] == report.compatible


def test_to_text_plain_and_coloured() -> None:
    report = _report()
    plain, coloured = report.to_text(), report.to_text(color=True)
    assert "\x1b[" not in plain
    assert plain.splitlines()[0] == "schema-diff (upgrade): breaking (3 breaking, 2 risky)"
    assert "/db/pool  limit_tightened: minimum raised from 1 to 5: values 1..4 are now " in plain
    assert "[affects the config]" in plain and "[config not affected]" in plain
    assert "\x1b[1;31mbreaking" in coloured and "\x1b[33mrisky" in coloured


def test_to_markdown_is_a_table() -> None:
    md = _report().to_markdown().splitlines()
    assert md[0] == "**Schema compatibility (upgrade): breaking**"
    header = "| Level | Kind | Config path | Schema pointer | Reason | Config affected |"
    assert header in md
    rows = [line for line in md if line.startswith("| **breaking**")]
    assert len(rows) == 3 and all(line.count(" | ") == 5 for line in rows)
    assert schema_diff({}, {}).to_markdown().endswith("No changes.")
    piped = schema_diff({**STR, "pattern": "a|b"}, {**STR, "pattern": "a|c"}).to_markdown()
    assert "a\\|b" in piped


def test_reports_are_immutable() -> None:
    report = schema_diff({"enum": [1, 2]}, {"enum": [1]})
    [change] = report.changes
    assert change.old == (1, 2)
    with pytest.raises(AttributeError):
        change.level = "none"  # type: ignore[misc]
    with pytest.raises(TypeError):
        report.counts["none"] = 3  # type: ignore[index]


def test_large_shared_schema_is_fast() -> None:
    # 12 levels that each use the previous definition twice: 4096 paths, compared in time.
    defs: dict[str, Any] = {"d0": INT}
    for i in range(1, 12):
        ref = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = obj(left=ref, right=ref)
    old = {"$defs": defs, "$ref": "#/$defs/d11"}
    new = copy.deepcopy(old)
    new["$defs"]["d0"] = NUM
    start = time.perf_counter()
    report = schema_diff(old, new)
    assert time.perf_counter() - start < 20
    assert report.compatible and len(report.changes) == 2**11


# --- the docs say what the code does -------------------------------------------------------------

DOCS = (ROOT / "docs" / "compat.md").read_text()


def test_docstring_examples() -> None:
    import hotconf.compat.report

    assert doctest.testmod(hotconf.compat).failed == 0


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", DOCS, flags=re.S))
def test_docs_examples_print_what_they_say(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(block, "docs/compat.md", "exec"), {})
    said = "\n".join(line[2:] for line in block.splitlines() if line.startswith("# "))
    assert capsys.readouterr().out.split() == said.split()


def test_every_kind_is_documented() -> None:
    kinds = {kind for _, old, new, found_ in CASES for kind, _, _ in found_}
    kinds |= {c[3] for c in LIMITS} | {"dialect_changed", "metadata_changed", "branch_changed"}
    missing = sorted(k for k in kinds if f"`{k}`" not in DOCS)
    assert not missing, f"undocumented kinds: {missing}"
