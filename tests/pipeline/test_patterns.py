"""Schema patterns run on RE2: linear in the input, whatever the pattern."""

from __future__ import annotations

import pytest

import hotconf
from hotconf.errors import SchemaError
from hotconf.pipeline.patterns import compile_pattern
from hotconf.pipeline.schema import Schema

EVIL = "^(a+)+$"  # Python's re: 2**n steps on "a" * n + "!"
HOSTILE = "a" * 5000 + "!"  # would not finish in a lifetime with backtracking


def test_a_catastrophic_pattern_is_decided_at_once() -> None:
    schema = Schema.from_dict({"properties": {"name": {"type": "string", "pattern": EVIL}}})
    problems = schema.validate({"name": HOSTILE})
    assert [p.code for p in problems] == ["pattern"]
    assert schema.validate({"name": "aaaa"}) == ()


@pytest.mark.parametrize("additional", [False, {"type": "string"}])
def test_a_catastrophic_pattern_property_is_decided_at_once(additional: object) -> None:
    schema = Schema.from_dict(
        {"patternProperties": {EVIL: {"type": "integer"}}, "additionalProperties": additional}
    )
    assert schema.validate({"aaa": 1}) == ()
    problems = schema.validate({HOSTILE: 1})
    assert [p.code for p in problems] == ["additionalProperties" if additional is False else "type"]
    assert [p.code for p in schema.validate({"aaa": "x"})] == ["type"]


@pytest.mark.parametrize(
    "root", [{}, {"$schema": "http://json-schema.org/draft-07/schema#"}], ids=["same", "other"]
)
def test_a_subschema_that_names_its_dialect_is_on_re2_too(root: dict[str, str]) -> None:
    # jsonschema switches to the plain class of a subschema's `$schema`: Python's re there
    nested = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"name": {"pattern": EVIL}},
        "patternProperties": {EVIL: {"type": "integer"}},
    }
    schema = Schema.from_dict({**root, "properties": {"a": nested}})
    problems = schema.validate({"a": {"name": HOSTILE, HOSTILE: "x", "aa": "x"}})
    assert [(p.path, p.code) for p in problems] == [("/a/aa", "type"), ("/a/name", "pattern")]


def test_unevaluated_properties_with_a_catastrophic_pattern() -> None:
    schema = Schema.from_dict(
        {
            "allOf": [{"patternProperties": {EVIL: {"type": "integer"}}}],
            "unevaluatedProperties": False,
        }
    )
    assert schema.validate({"aaa": 1}) == ()
    assert [p.code for p in schema.validate({HOSTILE: 1})] == ["unevaluatedProperties"]


def test_annotations_and_reports_follow_pattern_properties_on_re2_too() -> None:
    schema = {"patternProperties": {EVIL: {"x-hotconf-reload": "restart"}}}
    report = hotconf.diff({HOSTILE: 1, "aa": 1}, {HOSTILE: 2, "aa": 2}, schema)
    levels = {c.pointer: c.level for c in report.changes}
    assert levels == {"/aa": "restart", f"/{HOSTILE}": "safe"}


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("^(?=.*[A-Z])(?=.*[0-9]).{8,}$", "lookaround"),
        ("(?<!x)y", "lookaround"),
        ("(a)\\1", "backreference"),
        ("(?<n>a)\\k<n>", "backreference"),
        ("[", "RE2 cannot compile it"),
    ],
)
def test_patterns_re2_cannot_run_are_schema_errors(pattern: str, words: str) -> None:
    with pytest.raises(SchemaError) as info:
        Schema.from_dict({"properties": {"a": {"properties": {"b": {"pattern": pattern}}}}})
    assert (
        words in info.value.message and "/properties/a/properties/b/pattern" in info.value.message
    )
    with pytest.raises(SchemaError, match="patternProperties"):
        Schema.from_dict({"patternProperties": {pattern: {}}})


def test_openapi_patterns_are_checked_too() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {"schemas": {"App": {"properties": {"a": {"pattern": "(a)\\1"}}}}},
    }
    with pytest.raises(SchemaError, match="backreference"):
        Schema.from_dict(doc, "#/components/schemas/App")


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("^caf\\u00e9$", "café", True),  # ECMA-262's \u escape
        ("^\\ud83d\\ude00$", "\U0001f600", True),  # a surrogate pair is one code point
        ("^\\\\u0041$", "\\u0041", True),  # an escaped backslash stays one
        ("^[0-9]+$", "123", True),
        ("^\\d+$", "\u0663", False),  # \d is ASCII, as in ECMA-262 (Python: any digit)
        ("^\\w+$", "é", False),  # \w is ASCII, as in ECMA-262
        ("^a$", "a\n", False),  # $ is the very end, as in ECMA-262 (Python: before a \n)
        ("b", "abc", True),  # unanchored, as JSON Schema says
        ("^\\p{Lu}", "Émile", True),
    ],
)
def test_dialect(pattern: str, text: str, found: bool) -> None:
    assert compile_pattern(pattern)(text) is found
    schema = Schema.from_dict({"properties": {"s": {"pattern": pattern}}})
    assert (schema.validate({"s": text}) == ()) is found
