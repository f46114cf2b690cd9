"""The work a `Schema` does once, at start-up, made cheap without changing an answer: one survey
of the document instead of a walk per check, the meta-schema check by jsonschema-rs where it
agrees (jsonschema decides otherwise and words the error), and sensitivity and annotation
lookups that reuse the parent path's answer."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import validators
from referencing import jsonschema as rj

from hotconf.errors import SchemaError
from hotconf.pipeline import _fastpath
from hotconf.pipeline.diff import Change
from hotconf.pipeline.impact import Classifier, assess
from hotconf.pipeline.refs import (
    _SCOPE_KEYS,
    MANY,
    NAMED,
    ONE,
    REF_KEYWORDS,
    check_refs,
    make_registry,
    survey,
    walk,
)
from hotconf.pipeline.schema import Schema, _marks_secret, sensitive_name
from hotconf.pipeline.schemadoc import node_stubs
from hotconf.pipeline.snapshot import REDACTED, freeze

DRAFTS = [
    validators.Draft4Validator,
    validators.Draft6Validator,
    validators.Draft7Validator,
    validators.Draft201909Validator,
    validators.Draft202012Validator,
]

# Schema-like documents: keywords (and a few other names) mapped to values that are right,
# wrong or odd for them, nested.
WORDS = st.sampled_from(
    [
        "type", "properties", "items", "prefixItems", "additionalProperties", "allOf", "anyOf",
        "not", "if", "then", "enum", "const", "required", "minimum", "maxLength", "pattern",
        "patternProperties", "format", "multipleOf", "$ref", "$id", "id", "$anchor", "$defs",
        "definitions", "dependencies", "dependentSchemas", "$schema", "default", "examples",
        "exclusiveMinimum", "uniqueItems", "contains", "x-ext", "writeOnly", "schema",
        "components", "schemas", "name", "a",
    ]
)  # fmt: skip
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=2**65)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(
        [
            "string", "object", "integer", "array", "null", "^a+$", "(", "\\p{L}", "a\\Z",
            "#", "#/$defs/a", "#/properties/a", "#a", "a b", "urn:x", "ab\n", "password",
            "email", "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2020-12/schema",
        ]
    )
)  # fmt: skip
# References and nested dialects often, so that their order (document order) is put to test.
MARKERS = st.fixed_dictionaries(
    {},
    optional={
        "$ref": st.sampled_from(["#", "#/$defs/a", "#/nowhere", "#a", "urn:x"]),
        "$schema": st.sampled_from(["http://json-schema.org/draft-07/schema#", "urn:other"]),
    },
)
DOCS = st.dictionaries(
    WORDS,
    st.recursive(
        LEAVES | MARKERS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=4),
        max_leaves=14,
    ),
    max_size=5,
)
# Schema trees: every applicator in place, so that sibling subtrees with references are common.
TREES = st.recursive(
    MARKERS,
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
            "items": inner | st.lists(inner, max_size=2),
            "allOf": st.lists(inner, max_size=3),
            "not": inner,
            "$ref": st.just("#/$defs/a"),
            "$schema": st.just("urn:other"),
            "enum": st.lists(MARKERS, max_size=2),
            "x-ext": inner,
            "components": st.fixed_dictionaries({"schemas": st.dictionaries(WORDS, inner)}),
            "schema": inner,
        },
    ),
    max_leaves=16,
)
CASES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_meta(cls: Any) -> Any:
    from hotconf.pipeline.refs import refusing_registry

    meta_cls = validators.validator_for(cls.META_SCHEMA, default=cls)
    return meta_cls(
        cls.META_SCHEMA, registry=refusing_registry(), format_checker=cls.FORMAT_CHECKER
    )


# --- the meta-schema check ------------------------------------------------------------------------


@CASES
@given(doc=DOCS)
def test_rs_meta_check_never_passes_what_jsonschema_refuses(doc: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOTCONF_FAST", "1")
        for cls in DRAFTS:
            if _fastpath.meta_valid(doc, cls):
                assert reference_meta(cls).is_valid(doc), (cls.__name__, doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"pattern": "\\p{L}"},  # ECMA regex, not Python's: the regex format is jsonschema's
        {"patternProperties": {"(?<x": {}}},
        {"$anchor": "a\n"},
        {"enum": [1, 1.0]},  # draft-04: enum items must be unique
        {"enum": [[1], [1.0]]},
        {"minLength": 2.5},
        {"$ref": "a b"},
        {"minimum": 2**70},  # beyond 64 bits: rs is not asked
        {"properties": {"a": True}},  # draft-04: not a schema
        {"exclusiveMinimum": True},  # draft-04 needs minimum with it
        {"type": ["string", "string"]},
    ],
)
@pytest.mark.parametrize("cls", DRAFTS, ids=lambda cls: cls.__name__)
def test_rs_meta_check_agrees_on_known_differences(
    doc: dict[str, Any], cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTCONF_FAST", "1")
    if _fastpath.meta_valid(doc, cls):
        assert reference_meta(cls).is_valid(doc)


def test_rs_meta_check_passes_ordinary_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jsonschema_rs")
    monkeypatch.setenv("HOTCONF_FAST", "1")
    doc = {
        "type": "object",
        "properties": {"port": {"type": "integer", "maximum": 65535}, "name": {"pattern": "^a"}},
        "required": ["port"],
        "$defs": {"x": {"$ref": "#/properties/port"}},
    }
    assert all(_fastpath.meta_valid(doc, cls) for cls in DRAFTS)
    monkeypatch.setenv("HOTCONF_FAST", "0")
    assert not any(_fastpath.meta_valid(doc, cls) for cls in DRAFTS)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"type": "strin"}, "not a valid schema: 'strin' is not valid under any of the given"),
        ({"properties": {"a": {"minimum": "3"}}}, "'3' is not of type 'number' at /properties/a"),
        ({"pattern": "(unclosed"}, "pattern '(unclosed' at /pattern: RE2 cannot compile it"),
        ({"required": ["a", "a"]}, "has non-unique elements at /required"),
    ],
)
def test_invalid_schemas_get_the_same_message_either_way(
    doc: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = []
    for setting in ("1", "0"):
        monkeypatch.setenv("HOTCONF_FAST", setting)
        with pytest.raises(SchemaError) as raised:
            Schema.from_dict(doc)
        messages.append(raised.value.message)
    assert messages[0] == messages[1]
    assert message in messages[0]


# --- the meta-schema check one node at a time (hotconf.pipeline.schemadoc) --------------

SELF = ({"$ref": "#"}, {"$recursiveRef": "#"}, {"$dynamicRef": "#meta"})
NOTES = {"default", "$comment", "deprecated", "description", "title"}
ROOT_KEYS = {
    "$schema", "$id", "id", "$vocabulary", "$dynamicAnchor", "$recursiveAnchor", "title",
    "description", "type", "properties", "allOf", "$defs", "definitions", "default",
    "$comment", "dependencies",
}  # fmt: skip
PREFIXES = {
    validators.Draft4Validator: "http://json-schema.org/draft-04/",
    validators.Draft6Validator: "http://json-schema.org/draft-06/",
    validators.Draft7Validator: "http://json-schema.org/draft-07/",
    validators.Draft201909Validator: "https://json-schema.org/draft/2019-09/",
    validators.Draft202012Validator: "https://json-schema.org/draft/2020-12/",
}


def bare(definition: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k not in NOTES}


def applies_itself(definition: Any, resource: Mapping[str, Any], lists: bool) -> bool:
    """The meta-schema's rule for a subschema place: the meta-schema itself, or a list of it,
    or a choice that includes the meta-schema (for a mapping) and holds nothing else that
    looks inside it."""
    d = bare(definition)
    if d in SELF:
        return True
    ref = d.get("$ref", "") if len(d) == 1 else ""
    if lists and ref.endswith("/schemaArray"):
        place = resource["definitions" if "/definitions/" in ref else "$defs"]["schemaArray"]
        return any(bare(place) == {"type": "array", "minItems": 1, "items": s} for s in SELF)
    if set(d) == {"anyOf"}:
        choices = d["anyOf"]
        return any(c in SELF for c in choices) and all(
            c in SELF or c == {"type": "boolean"} or applies_itself(c, resource, lists)
            for c in choices
        )
    return False


@pytest.mark.parametrize("cls", DRAFTS, ids=lambda cls: cls.__name__)
def test_meta_schemas_check_subschemas_only_by_applying_themselves(cls: Any) -> None:
    from jsonschema_specifications import REGISTRY

    uris = [uri for uri in REGISTRY if uri.startswith(PREFIXES[cls])]
    resources = [REGISTRY.contents(uri) for uri in uris]
    assert cls.META_SCHEMA in resources
    for resource in resources:
        assert set(resource) <= ROOT_KEYS, set(resource) - ROOT_KEYS
        for names in resource.get("dependencies", {}).items():  # draft-04's exclusive*
            assert not {names[0], *names[1]} & (ONE | MANY | NAMED)
        for keyword, definition in resource.get("properties", {}).items():
            if keyword in NAMED:
                d = bare(definition)
                extra = d.pop("propertyNames", None)
                assert extra is None or (keyword, extra) == (
                    "patternProperties",
                    {"format": "regex"},
                ), keyword
                rule = d.pop("additionalProperties")
                assert d == {"type": "object"}, keyword
                # the mappings left out of a stub are checked against the meta-schema itself,
                # which must be enough for this rule (what is not a mapping stays in the stub)
                choices = rule.get("anyOf", []) if set(rule) == {"anyOf"} else []
                assert rule in SELF or any(c in SELF for c in choices), keyword
            elif keyword in MANY:
                assert applies_itself(definition, resource, lists=True), keyword
            elif keyword in ONE:  # left out of a stub: what is in its place is checked alone
                d = bare(definition)
                choices = d.get("anyOf", []) if set(d) == {"anyOf"} else []
                assert d in SELF or any(c in SELF for c in choices), keyword


@CASES
@given(doc=DOCS | TREES)
def test_valid_nodes_make_a_valid_document(doc: dict[str, Any]) -> None:
    stubs = node_stubs(doc)
    for cls in DRAFTS:
        meta = reference_meta(cls)
        if all(meta.is_valid(stub) for stub in stubs):
            assert meta.is_valid(doc), (cls.__name__, doc)


def test_equal_nodes_are_checked_once() -> None:
    leaf = {"type": "string", "maxLength": 8}
    strict = {"type": "object", "additionalProperties": False}
    doc = {
        "properties": {f"k{i}": dict(leaf) for i in range(50)} | {"s": strict, "t": True},
        "$defs": {"a": {"items": [dict(leaf), True], "not": strict}},
        "patternProperties": {"^x": False},
    }
    assert sorted(map(repr, node_stubs(doc))) == sorted(
        map(
            repr,
            [
                {"properties": {}, "$defs": {}, "patternProperties": {"^x": False}},
                leaf,
                {"type": "object"},
                {"additionalProperties": False},  # a boolean subschema: alone, once
                {"properties": {"": True}},
                {"items": [{}, {}]},
                {"items": [True]},
            ],
        )
    )


# --- one survey of the document ---------------------------------------------------------------


def reference_survey(doc: Mapping[str, Any], openapi: bool) -> dict[str, Any]:
    """What the checks found by walking the document each on their own (`walk`)."""
    walked = list(walk(doc, openapi=openapi))
    schemas = [(where, node) for where, node, is_schema in walked if is_schema]
    patterns: list[Any] = []
    for _, node in schemas:
        if "pattern" in node:
            patterns.append(node["pattern"])
        if isinstance(node.get("patternProperties"), Mapping):
            patterns += node["patternProperties"]
    every: list[Mapping[str, Any]] = []

    def collect(value: Any) -> None:
        if isinstance(value, Mapping):
            every.append(value)
            value = value.values()
        if isinstance(value, Mapping | list) or type(value) is type({}.values()):
            for v in value:
                if isinstance(v, Mapping | list):
                    collect(v)

    collect(doc)
    keys = {k for node in every for k in node}
    return {
        "refs": [
            (where, id(node))
            for where, node, _ in walked
            if any(keyword in node for keyword in REF_KEYWORDS)
        ],
        "dialects": [
            (where, node["$schema"]) for where, node in schemas if where and "$schema" in node
        ],
        "keywords": {k for _, node in schemas for k in node},
        "patterns": patterns,
        "multiples": [node["multipleOf"] for _, node in schemas if "multipleOf" in node],
        "ref_siblings": any("$ref" in node and len(node) > 1 for _, node in schemas),
        "keys": keys,
        "formats": {n["format"] for n in every if isinstance(n.get("format"), str)},
        "scoped": bool(keys & _SCOPE_KEYS) or any(isinstance(n.get("id"), str) for n in every),
    }


def surveyed(doc: Mapping[str, Any], openapi: bool) -> dict[str, Any]:
    found = survey(doc, openapi=openapi)
    return {
        "refs": [(where, id(node)) for where, node in found.refs],
        "dialects": found.dialects,
        "keywords": found.keywords,
        "patterns": found.patterns,
        "multiples": found.multiples,
        "ref_siblings": found.ref_siblings,
        "keys": found.keys,
        "formats": found.formats,
        "scoped": found.scoped,
    }


@CASES
@given(doc=DOCS | TREES, openapi=st.booleans())
# A "format" or "id" that is a property name: not a keyword there, but a $ref may point at
# the mapping (see test_a_password_format_only_a_ref_makes_a_keyword_marks_a_secret).
@example(doc={"properties": {"type": None, "format": "string"}}, openapi=False)
@example(doc={"properties": {"type": None, "format": "string"}}, openapi=True)
@example(doc={"$defs": {"id": "urn:x"}}, openapi=False)
@example(doc={"properties": {"format": "string"}}, openapi=False)  # a mapping under properties
def test_survey_finds_what_walking_finds(doc: dict[str, Any], openapi: bool) -> None:
    assert surveyed(doc, openapi) == reference_survey(doc, openapi)


OPENAPI_DOC = {
    "openapi": "3.1.0",
    "components": {
        "schemas": {
            "App": {"$id": "urn:app", "properties": {"db": {"$ref": "#/$defs/db"}}},
            "Other": {"allOf": [{"$ref": "urn:app"}], "$defs": {"db": {"type": "object"}}},
        },
        "parameters": {"p": {"schema": {"$ref": "#/components/schemas/App"}}},
    },
    "paths": {"/x": {"get": {"responses": {"200": {"$ref": "#/components/responses/R"}}}}},
}


@pytest.mark.parametrize(
    ("doc", "spec", "openapi"),
    [
        ({"$defs": {"a": {}}, "properties": {"x": {"$ref": "#/$defs/a"}, "y": {"$ref": "#/b"}}},
         rj.DRAFT202012, False),
        ({"$id": "urn:root", "$defs": {"a": {"$id": "urn:a", "$ref": "#/nope"}},
          "properties": {"x": {"$ref": "urn:a"}, "y": {"$ref": "urn:a#/$defs/b"}}},
         rj.DRAFT202012, False),
        ({"definitions": {"a": {"id": "#anchor"}}, "items": [{"$ref": "#anchor"}, {"$ref": "#x"}]},
         rj.DRAFT4, False),
        ({"$defs": {"a": {"$anchor": "here"}}, "not": {"$ref": "#here"}, "if": {"$ref": "#no"}},
         rj.DRAFT202012, False),
        ({"x-defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/x-defs/s"}}},
         rj.DRAFT202012, False),
        ({"properties": {"a": {"$ref": "#/x"}, "b": {"items": {"$ref": "#/y"}}},
          "allOf": [{"$ref": "#/z"}, {"not": {"$ref": "#/w"}}], "then": {"$ref": "#/v"}},
         rj.DRAFT202012, False),
        (OPENAPI_DOC, rj.DRAFT202012, True),
    ],
)  # fmt: skip
def test_check_refs_finds_the_same_with_a_survey(
    doc: dict[str, Any], spec: Any, openapi: bool
) -> None:
    found = survey(doc, openapi=openapi)
    crawled, base = make_registry(doc, spec)
    expected = check_refs(doc, spec, crawled, base, openapi=openapi)
    registry, base = make_registry(doc, spec, crawl=found.scoped)
    assert check_refs(doc, spec, registry, base, openapi=openapi, found=found) == expected


def test_a_secret_marked_where_only_a_ref_reaches_is_found() -> None:
    # The mark is in no schema keyword's place: only the $ref leads there.
    schema = Schema.from_dict(
        {"x-library": {"s": {"writeOnly": True}}, "properties": {"dsn": {"$ref": "#/x-library/s"}}}
    )
    assert schema.is_sensitive(("dsn",)) and not schema.is_sensitive(("host",))


@pytest.mark.parametrize(
    ("dialect", "named"),
    [
        ("http://json-schema.org/draft-04/schema#", "$defs"),
        ("http://json-schema.org/draft-07/schema#", "$defs"),
        ("http://json-schema.org/draft-07/schema#", "dependentSchemas"),
        ("http://json-schema.org/draft-06/schema#", "$defs"),
    ],
)
def test_a_password_format_only_a_ref_makes_a_keyword_marks_a_secret(
    dialect: str, named: str
) -> None:
    # In these dialects the mapping is no keyword's, so the meta-schema does not look in it;
    # its "format" reads as a property name until the $ref makes the mapping a schema. The
    # survey once skipped it there and the path was not found secret.
    schema = Schema.from_dict(
        {
            "$schema": dialect,
            named: {"format": "password"},
            "properties": {"dsn": {"$ref": f"#/{named}"}},
        }
    )
    assert schema.is_sensitive(("dsn",)) and not schema.is_sensitive(("host",))


def test_json_schema_files_are_used_without_a_copy_and_yaml_with_one(tmp_path: Path) -> None:
    doc = {"$defs": {"p": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/p"}}}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    (tmp_path / "s.yaml").write_text(
        "$defs:\n  p: &p {type: integer, x-hotconf-reload: restart}\n"
        "properties:\n  a: {allOf: [*p, *p]}\n"
    )
    from_json = Schema.from_file(tmp_path / "s.json")
    assert from_json == Schema.from_dict(doc) and from_json.source == str(tmp_path / "s.json")
    assert from_json.validate({"a": "1"})[0].path == "/a"
    # YAML aliases share one node: the private copy gives each place its own, as from_dict
    from_yaml = Schema.from_file(tmp_path / "s.yaml")
    shared = from_yaml.document["properties"]["a"]["allOf"]
    assert shared[0] == shared[1] and shared[0] is not shared[1]
    assert from_yaml.annotation(["a"], "x-hotconf-reload") == "restart"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"a": float("nan")}, "float value is not JSON at /a"),
        ({"a": {"b": [1, {"c": float("inf")}]}}, "float value is not JSON at /a/b/1/c"),
        ({"a": {True: 1}}, "key True is not a string at /a"),
        ({"a": [{None: 1}]}, "key None is not a string at /a/0"),
        ({"a": ({"b": object()},)}, "object value is not JSON at /a/0/b"),
    ],
)
def test_documents_that_are_not_json_name_the_place(doc: dict[Any, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        Schema.from_dict(doc)


def test_the_private_copy_is_plain_json() -> None:
    from types import MappingProxyType

    doc = MappingProxyType({"properties": MappingProxyType({"a": {"enum": (1, 2)}}), 3: {}})
    schema = Schema.from_dict(doc)
    assert schema.document == {"properties": {"a": {"enum": [1, 2]}}, "3": {}}
    assert type(schema.document["properties"]) is dict
    assert type(schema.document["properties"]["a"]["enum"]) is list


# --- sensitivity and annotations, one step per path ---------------------------------------------


def reference_is_sensitive(schema: Schema, path: tuple[str | int, ...]) -> bool:
    """The definition, prefix by prefix (docs/schemas.md), with no caching."""
    for n in range(len(path) + 1):
        prefix = path[:n]
        nodes = schema._annotator.at(prefix)
        if any(_marks_secret(node) for node in nodes):
            return True
        opted_out = next(
            (node["x-hotconf-sensitive"] for node in nodes if "x-hotconf-sensitive" in node), None
        )
        last = prefix[-1] if prefix else None
        if isinstance(last, str) and sensitive_name(last) and opted_out is not False:
            return True
    return False


MARKED = {
    "$defs": {"secret": {"type": "string", "x-hotconf-sensitive": True}},
    "properties": {
        "db": {"properties": {"dsn": {"$ref": "#/$defs/secret"}, "host": {"type": "string"}}},
        "vault": {"writeOnly": True, "properties": {"path": {"type": "string"}}},
        "oidc": {"allOf": [{"properties": {"pin": {"format": "password"}}}]},
        "token_url": {"type": "string", "x-hotconf-sensitive": False},
        "keys": {"type": "array", "items": {"writeOnly": True}},
        "extra": {"additionalProperties": {"x-hotconf-sensitive": True}},
    },
}
UNMARKED = {"properties": {"db": {"properties": {"password": {"type": "string"}}}}}
OPTED_OUT_ONLY = {"properties": {"token_url": {"x-hotconf-sensitive": False}}}
SEGMENTS = ["db", "dsn", "host", "password", "vault", "path", "oidc", "pin", "token_url", "keys",
            "extra", "anything", "clientSecret", "x", 0, 3]  # fmt: skip


@pytest.mark.parametrize("doc", [MARKED, UNMARKED, OPTED_OUT_ONLY, {}])
def test_is_sensitive_matches_the_definition_in_any_order(doc: dict[str, Any]) -> None:
    rng = random.Random(11)
    paths = list({tuple(rng.choice(SEGMENTS) for _ in range(rng.randrange(5))) for _ in range(400)})
    expected = {path: reference_is_sensitive(Schema.from_dict(doc), path) for path in paths}
    assert any(expected.values()) and not all(expected.values())
    for order in range(3):
        schema = Schema.from_dict(doc)
        rng.shuffle(paths)
        for path in sorted(paths, key=len) if order == 0 else paths:
            assert schema.is_sensitive(path) is expected[path], path
            if path:  # told the parent's answer, the same
                parent = expected.get(path[:-1], reference_is_sensitive(schema, path[:-1]))
                assert schema.is_sensitive(path, parent=parent) is expected[path], path


def test_a_walk_down_a_config_costs_one_annotation_step_per_path() -> None:
    node = {"additionalProperties": {"$ref": "#/$defs/node"}, "items": {"$ref": "#/$defs/node"}}
    schema = Schema.from_dict(
        {**MARKED, "$defs": {**MARKED["$defs"], "node": node}, "properties": {"tree": node}}
    )
    steps = 0
    step = schema._annotator.step

    def counted(level: Any, segment: Any) -> Any:
        nonlocal steps
        steps += 1
        return step(level, segment)

    schema._annotator.step = counted  # type: ignore[method-assign]
    config = {"tree": {f"n{i}": {"a": {"b": [1, 2, {"c": 1}]}} for i in range(200)}}
    paths: set[tuple[Any, ...]] = set()

    def collect(value: Any, path: tuple[Any, ...]) -> None:
        paths.add(path)
        if isinstance(value, dict | list):
            for k, v in value.items() if isinstance(value, dict) else enumerate(value):
                collect(v, (*path, k))

    collect(config, ())
    report = assess(None, freeze(config), schema)
    assert [c.path for c in report.changes] == [("tree",)]
    assert len(paths) <= steps + 1 <= len(paths)  # every path below the root, once


def test_scrubbing_checks_children_against_the_path_itself() -> None:
    # A change whose own flag was left unset still has its children redacted when the path
    # is sensitive (the flag is not trusted for the walk down).
    classifier = Classifier(Schema.from_dict(MARKED))
    change = Change(("vault",), "key_added", None, {"path": "p", "n": [1]}, sensitive=False)
    assert classifier.hide_secrets(change).new == {"path": REDACTED, "n": REDACTED}
    plain = Change(("db",), "key_added", None, {"host": "h", "password": "p", "dsn": "d"})
    assert classifier.hide_secrets(plain).new == {
        "host": "h",
        "password": REDACTED,
        "dsn": REDACTED,
    }
    no_schema = Classifier(None)
    assert no_schema.hide_secrets(plain).new == {"host": "h", "password": REDACTED, "dsn": "d"}
