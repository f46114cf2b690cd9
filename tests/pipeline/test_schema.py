"""hotconf.pipeline.schema: dialects, local-only $ref (invariant 9), formats, problems without
secrets (invariant 8), sensitivity, annotations and the jsonschema-rs fast path.

Every test runs twice (the `validation_path` fixture): with the jsonschema-rs fast path, as by
default when the fast extra is installed, and on the reference path alone (``HOTCONF_FAST=0``).
Tests that pick the path themselves (the `fast` fixture, the fast path's own tests) run as they
say.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import math
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import openapi_spec_validator
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hotconf
from hotconf.errors import SchemaError
from hotconf.pipeline import _fastpath
from hotconf.pipeline.refs import refusing_registry
from hotconf.pipeline.schema import MAX_PROBLEMS, Schema, _check_openapi, sensitive_name

DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT4 = "http://json-schema.org/draft-04/schema#"
RS = importlib.util.find_spec("jsonschema_rs") is not None
needs_rs = pytest.mark.skipif(not RS, reason="jsonschema-rs (the fast extra) is not installed")
PATHS = [pytest.param("1", marks=needs_rs, id="fast"), pytest.param("0", id="reference")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fast" not in metafunc.fixturenames and "fast_path" not in metafunc.function.__name__:
        metafunc.parametrize("validation_path", PATHS, indirect=True)


@pytest.fixture(autouse=True)
def validation_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """HOTCONF_FAST for the path the test runs on (schemas read it when they are built)."""
    if hasattr(request, "param"):
        monkeypatch.setenv("HOTCONF_FAST", request.param)


def openapi(version: str, schemas: dict[str, Any], **extra: Any) -> dict[str, Any]:
    doc = {"openapi": version, "info": {"title": "app", "version": "1"}, "paths": {}}
    return {**doc, "components": {"schemas": schemas}, **extra}


# --- probes that see a fetch: a real HTTP server and a FIFO that notices being opened ----------


@dataclass
class RefServer:
    url: str
    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def ref_server() -> Iterator[RefServer]:
    """A real HTTP server on 127.0.0.1 that counts every connection made to it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 5  # a stuck client cannot hold the server thread

        def setup(self) -> None:
            hits.append("connection")  # counts TLS attempts and bad requests too
            super().setup()

        def do_GET(self) -> None:
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-ref-server"
    )
    thread.start()
    port = server.server_address[1]
    try:
        yield RefServer(f"http://127.0.0.1:{port}", port, hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert not thread.is_alive()


@dataclass
class FileProbe:
    path: Path
    uri: str
    opened: list[bool]


@pytest.fixture
def file_probe(tmp_path: Path) -> Iterator[FileProbe]:
    """A schema file on disk (a FIFO) that records whether anything opened it for reading."""
    path = tmp_path / "other.schema.json"
    os.mkfifo(path)
    opened: list[bool] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:  # succeeds only while a reader has the FIFO open
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                stop.wait(0.002)
                continue
            try:  # the first time, give the reader a document instead of leaving it hanging
                first = not opened
                opened.append(True)  # before the close: the reader sees EOF only after it
                if first:
                    os.write(fd, b'{"type": "string"}')
            finally:
                os.close(fd)

    thread = threading.Thread(target=watch, name="test-file-probe")
    thread.start()
    try:
        yield FileProbe(path, path.as_uri(), opened)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_probes_see_what_the_libraries_do_by_default(
    ref_server: RefServer, file_probe: FileProbe
) -> None:
    # The controls: without hotconf's closing, jsonschema and openapi-spec-validator fetch.
    with pytest.warns(DeprecationWarning, match="retrieving remote references"):
        jsonschema.Draft202012Validator({"$ref": ref_server.url + "/a.json"}).is_valid(1)
    assert len(ref_server.hits) == 1
    doc = openapi("3.0.3", {"App": {"properties": {"db": {"$ref": ref_server.url + "/b.json"}}}})
    openapi_spec_validator.validate(doc)
    assert len(ref_server.hits) >= 2
    with urllib.request.urlopen(file_probe.uri, timeout=5) as response:  # noqa: S310
        assert json.load(response) == {"type": "string"}
    assert file_probe.opened


# --- local-only $ref (docs/architecture.md, invariant 9) ----------------------------------------

JSON_SCHEMA_PLACES: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "properties": (lambda r: {"properties": {"db": {"$ref": r}}}, "/properties/db"),
    "items": (lambda r: {"items": {"$ref": r}}, "/items"),
    "prefixItems": (lambda r: {"prefixItems": [{}, {"$ref": r}]}, "/prefixItems/1"),
    "allOf": (lambda r: {"allOf": [{"type": "object"}, {"$ref": r}]}, "/allOf/1"),
    "deep anyOf": (
        lambda r: {"properties": {"a": {"anyOf": [{"type": "null"}, {"items": {"$ref": r}}]}}},
        "/properties/a/anyOf/1/items",
    ),
    "additionalProperties": (
        lambda r: {"additionalProperties": {"$ref": r}},
        "/additionalProperties",
    ),
    "patternProperties": (
        lambda r: {"patternProperties": {"^x": {"$ref": r}}},
        "/patternProperties/^x",
    ),
    "unused $defs": (lambda r: {"$defs": {"spare": {"$ref": r}}}, "/$defs/spare"),
    "if/then": (lambda r: {"if": {"type": "object"}, "then": {"$ref": r}}, "/then"),
    "not": (lambda r: {"not": {"$ref": r}}, "/not"),
    "draft-07 definitions": (
        lambda r: {"$schema": DRAFT7, "definitions": {"a": {"$ref": r}}},
        "/definitions/a",
    ),
    "draft-07 tuple items": (lambda r: {"$schema": DRAFT7, "items": [{"$ref": r}]}, "/items/0"),
    "draft-04": (lambda r: {"$schema": DRAFT4, "properties": {"a": {"$ref": r}}}, "/properties/a"),
    "$dynamicRef": (lambda r: {"properties": {"a": {"$dynamicRef": r + "#meta"}}}, "/properties/a"),
}


@pytest.mark.parametrize("place", JSON_SCHEMA_PLACES)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_remote_ref_in_json_schema_fails_without_a_request(
    ref_server: RefServer, place: str, scheme: str
) -> None:
    make, where = JSON_SCHEMA_PLACES[place]
    ref = f"{scheme}://127.0.0.1:{ref_server.port}/db.schema.json"
    with pytest.raises(SchemaError) as caught:
        Schema.from_dict(make(ref))
    message = str(caught.value)
    assert f"remote $ref '{ref}" in message
    assert f"at {where} is not fetched" in message
    assert "only inside the given schema" in message
    assert ref_server.hits == []


def test_relative_ref_under_a_remote_id_is_not_fetched(ref_server: RefServer) -> None:
    doc = {"$id": ref_server.url + "/root.json", "properties": {"a": {"$ref": "other.json"}}}
    with pytest.raises(SchemaError, match=r"resolved to 'http://127\.0\.0\.1:\d+/other\.json'"):
        Schema.from_dict(doc)
    assert ref_server.hits == []


def test_refs_to_the_documents_own_id_are_local(ref_server: RefServer) -> None:
    own = ref_server.url + "/root.json"
    doc = {
        "$id": own,
        "$defs": {"port": {"type": "integer"}, "host": {"$id": "host.json", "type": "string"}},
        "properties": {"port": {"$ref": own + "#/$defs/port"}, "host": {"$ref": "host.json"}},
    }
    schema = Schema.from_dict(doc)
    assert [p.path for p in schema.validate({"port": "x", "host": 1})] == ["/host", "/port"]
    assert ref_server.hits == []


@pytest.mark.parametrize(
    "doc",
    [
        {
            "$defs": {"p": {"$anchor": "port", "type": "integer"}},
            "properties": {"n": {"$ref": "#port"}},
        },
        {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$recursiveAnchor": True,
            "properties": {"n": {"type": "integer"}, "child": {"$recursiveRef": "#"}},
        },
        {
            "$dynamicAnchor": "node",
            "properties": {"n": {"type": "integer"}, "child": {"$dynamicRef": "#node"}},
        },
    ],
    ids=["$anchor", "$recursiveRef", "$dynamicRef"],
)
def test_anchors_and_dynamic_refs_resolve_locally(doc: dict[str, Any]) -> None:
    schema = Schema.from_dict(doc)
    assert schema.validate({"n": 1, "child": {"n": 2}}) == ()
    expected = ["/n"] if "$anchor" in json.dumps(doc) else ["/child/n", "/n"]
    assert [p.path for p in schema.validate({"n": "x", "child": {"n": "y"}})] == expected


OPENAPI_PLACES: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "component property": (
        lambda r: {"App": {"type": "object", "properties": {"db": {"$ref": r}}}},
        "/components/schemas/App/properties/db",
    ),
    "component items": (
        lambda r: {"App": {"type": "array", "items": {"$ref": r}}},
        "/components/schemas/App/items",
    ),
    "allOf": (lambda r: {"App": {"allOf": [{"$ref": r}]}}, "/components/schemas/App/allOf/0"),
    "another component": (
        lambda r: {"App": {"$ref": "#/components/schemas/Db"}, "Db": {"$ref": r}},
        "/components/schemas/Db",
    ),
}


@pytest.mark.parametrize("place", OPENAPI_PLACES)
@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_remote_ref_in_openapi_fails_without_a_request(
    ref_server: RefServer, place: str, version: str
) -> None:
    make, where = OPENAPI_PLACES[place]
    ref = ref_server.url + "/db.schema.json"
    with pytest.raises(SchemaError, match=f"remote \\$ref '{ref}' at {where} is not fetched"):
        Schema.from_dict(openapi(version, make(ref)), "#/components/schemas/App")
    assert ref_server.hits == []


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_remote_ref_in_openapi_paths_fails_without_a_request(
    ref_server: RefServer, version: str
) -> None:
    doc = openapi(version, {"App": {"type": "object"}})
    parameter = {"name": "q", "in": "query", "schema": {"$ref": ref_server.url + "/q.json"}}
    doc["paths"] = {
        "/x": {
            "get": {
                "parameters": [parameter],
                "responses": {"200": {"$ref": ref_server.url + "/response.json"}},
            }
        }
    }
    with pytest.raises(SchemaError) as caught:
        Schema.from_dict(doc, "#/components/schemas/App")
    assert "/paths/~1x/get/parameters/0/schema" in str(caught.value)
    assert "/paths/~1x/get/responses/200" in str(caught.value)
    assert ref_server.hits == []


@pytest.mark.parametrize(
    ("dialect", "version"), [("openapi-3.0", "3.0.3"), ("openapi-3.1", "3.1.0")]
)
def test_openapi_spec_validation_is_closed_on_its_own(
    ref_server: RefServer, dialect: str, version: str
) -> None:
    # Bypass the eager walk: openapi-spec-validator itself must not fetch either.
    doc = openapi(version, {"App": {"properties": {"db": {"$ref": ref_server.url + "/db.json"}}}})
    with pytest.raises(SchemaError, match="not a valid OpenAPI document"):
        _check_openapi(doc, dialect, None)
    assert ref_server.hits == []


def test_validator_registry_and_fast_path_are_closed_on_their_own(ref_server: RefServer) -> None:
    remote = {"$ref": ref_server.url + "/db.json"}
    validator = jsonschema.Draft202012Validator(remote, registry=refusing_registry())
    with pytest.raises(jsonschema.exceptions._WrappedReferencingError):
        validator.is_valid(1)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    assert _fastpath.build(remote, None, "json-schema-2020-12", checker) is None
    assert ref_server.hits == []


@pytest.mark.parametrize(
    "make",
    [
        lambda u: {"$schema": u + "/meta"},
        lambda u: {"$defs": {"x": {"$schema": u + "/meta", "type": "string"}}},
        lambda u: openapi("3.1.0", {"App": {"$schema": u + "/meta"}}),
        lambda u: openapi("3.1.0", {"App": {}}, jsonSchemaDialect=u + "/meta"),
    ],
    ids=["root", "nested", "openapi-3.1 component", "openapi-3.1 jsonSchemaDialect"],
)
def test_unknown_schema_uri_is_not_fetched(
    ref_server: RefServer, make: Callable[[str], dict[str, Any]]
) -> None:
    doc = make(ref_server.url)
    pointer = "#/components/schemas/App" if "openapi" in doc else None
    with pytest.raises(SchemaError, match=r"(?i)unknown"):
        Schema.from_dict(doc, pointer)
    assert ref_server.hits == []


@pytest.mark.parametrize(
    ("make", "pointer"),
    [
        (lambda r: {"properties": {"a": {"$ref": r}}}, None),
        (lambda r: {"$schema": DRAFT7, "items": {"allOf": [{"$ref": r + "#/x"}]}}, None),
        (lambda r: openapi("3.0.3", {"App": {"properties": {"a": {"$ref": r}}}}), "App"),
        (lambda r: openapi("3.1.0", {"App": {"items": {"$ref": r}}}), "App"),
    ],
    ids=["json-schema", "draft-07", "openapi-3.0", "openapi-3.1"],
)
def test_file_ref_fails_without_reading_the_file(
    file_probe: FileProbe, make: Callable[[str], dict[str, Any]], pointer: str | None
) -> None:
    with pytest.raises(SchemaError, match=r"file \$ref 'file://.*' .*at /\S+ is not read"):
        Schema.from_dict(make(file_probe.uri), pointer and f"#/components/schemas/{pointer}")
    assert file_probe.opened == []


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"properties": {"a": {"$ref": "#/$defs/nope"}}}, "'#/$defs/nope' at /properties/a does"),
        ({"items": {"$ref": "#missing-anchor"}}, "'#missing-anchor' at /items does not resolve"),
        ({"properties": {"a": {"$ref": "other.json"}}}, "'other.json' at /properties/a is not"),
    ],
)
def test_unresolvable_local_ref_fails_at_construction(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message.replace("$", r"\$")):
        Schema.from_dict(doc)


def test_several_bad_refs_are_all_reported() -> None:
    doc = {"properties": {"a": {"$ref": "#/nope"}, "b": {"$ref": "#/nada"}}}
    with pytest.raises(SchemaError, match=r"\(and 1 more\)") as caught:
        Schema.from_dict(doc)
    assert [p.path for p in caught.value.problems] == ["/properties/a", "/properties/b"]


# --- dialects, schema checks, OpenAPI pointers ---------------------------------------------------


@pytest.mark.parametrize(
    ("schema_uri", "dialect"),
    [
        (None, "json-schema-2020-12"),
        ("https://json-schema.org/draft/2020-12/schema", "json-schema-2020-12"),
        ("https://json-schema.org/draft/2019-09/schema#", "json-schema-2019-09"),
        (DRAFT7, "json-schema-draft-07"),
        ("http://json-schema.org/draft-07/schema", "json-schema-draft-07"),
        ("http://json-schema.org/draft-06/schema#", "json-schema-draft-06"),
        (DRAFT4, "json-schema-draft-04"),
    ],
)
def test_dialect_comes_from_dollar_schema(schema_uri: str | None, dialect: str) -> None:
    doc: dict[str, Any] = {"type": "object"}
    if schema_uri is not None:
        doc["$schema"] = schema_uri
    assert Schema.from_dict(doc).dialect == dialect


@pytest.mark.parametrize(
    ("version", "dialect"), [("3.0.3", "openapi-3.0"), ("3.1.1", "openapi-3.1")]
)
def test_openapi_dialects(version: str, dialect: str) -> None:
    schema = Schema.from_dict(openapi(version, {"App": {}}), "#/components/schemas/App")
    assert schema.dialect == dialect


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"type": "strin"}, "not a valid schema: 'strin' is not valid .* at /type"),
        ({"properties": {"a": {"minimum": "3"}}}, "'3' is not of type 'number' at /properties/a"),
        ({"pattern": "(unclosed"}, "pattern '\\(unclosed' at /pattern: RE2 cannot compile it"),
        ({"required": "name"}, "not a valid schema: 'name' is not of type 'array'"),
        ({"$schema": DRAFT4, "exclusiveMinimum": True}, "not a valid schema: 'minimum' is a"),
        ({"$schema": "http://json-schema.org/draft-03/schema#"}, "unknown \\$schema"),
        ({"openapi": "3.2.0"}, "OpenAPI 3.2.0 is not supported"),
        ({"swagger": "2.0"}, "Swagger 2.0 is not supported"),
        ({"openapi": "3.0.3", "paths": {}}, "needs a pointer"),
        ({"a": float("nan")}, "float value is not JSON at /a"),
    ],
)
def test_invalid_schema_documents_raise_schema_error(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        Schema.from_dict(doc)


def test_invalid_openapi_document_names_the_problem() -> None:
    doc = openapi("3.0.3", {"App": {"type": "object"}})
    del doc["info"]
    with pytest.raises(SchemaError, match=r"not a valid OpenAPI document: .?info.? is a required"):
        Schema.from_dict(doc, "#/components/schemas/App")
    bad_type = openapi("3.0.3", {"App": {"type": "strin"}})
    with pytest.raises(SchemaError, match="not a valid OpenAPI document"):
        Schema.from_dict(bad_type, "#/components/schemas/App")


@pytest.mark.parametrize("pointer", [None, "", "#", "#/components/schemas/Nope", "/components/x"])
def test_openapi_pointer_must_name_a_schema(pointer: str | None) -> None:
    doc = openapi("3.0.3", {"AppConfig": {}, "Db": {}})
    with pytest.raises(SchemaError, match="components/schemas has: AppConfig, Db"):
        Schema.from_dict(doc, pointer)


def test_pointer_with_or_without_hash_and_escaped_segments() -> None:
    doc = {"$defs": {"app/config": {"type": "integer"}}}
    a = Schema.from_dict(doc, "#/$defs/app~1config")
    b = Schema.from_dict(doc, "/$defs/app~1config")
    assert a.pointer == b.pointer == "#/$defs/app~1config"
    assert a.root == {"type": "integer"}
    assert a.checksum == b.checksum
    assert [p.code for p in a.validate("1")] == ["type"]
    c = Schema.from_dict(openapi("3.1.0", {"App": {}}), "/components/schemas/App")
    assert c.pointer == "#/components/schemas/App"


def test_json_schema_pointer_errors_name_what_exists() -> None:
    with pytest.raises(SchemaError, match="'#/\\$defs/B' points to nothing; /\\$defs has: A"):
        Schema.from_dict({"$defs": {"A": {}}}, "#/$defs/B")
    with pytest.raises(SchemaError, match="points to a list"):
        Schema.from_dict({"$defs": {"A": {}}, "required": []}, "#/required")


# --- OpenAPI validation ---------------------------------------------------------------------------

APP_30 = openapi(
    "3.0.3",
    {
        "AppConfig": {
            "type": "object",
            "required": ["db"],
            "properties": {
                "db": {"$ref": "#/components/schemas/Db"},
                "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                "started": {"type": "string", "format": "date-time"},
            },
        },
        "Db": {
            "type": "object",
            "properties": {
                "host": {"type": "string", "nullable": True},
                "port": {"type": "integer", "format": "int32"},
            },
        },
    },
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"db": {"host": None}}, []),
        ({"db": {"host": "h", "port": 5432}, "ratio": 0.5}, []),
        ({"db": {"port": None}}, [("/db/port", "type"), ("/db/port", "type")]),
        ({"db": {}, "ratio": 0}, [("/ratio", "minimum")]),
        ({"db": {"port": 2**40}}, [("/db/port", "format")]),
        ({"db": {}, "started": "yesterday"}, [("/started", "format")]),
        ({}, [("", "required")]),
    ],
)
def test_openapi_30_semantics(data: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    schema = Schema.from_dict(APP_30, "#/components/schemas/AppConfig")
    assert [(p.path, p.code) for p in schema.validate(data)] == expected


def test_openapi_31_types_and_component_refs() -> None:
    doc = openapi(
        "3.1.0",
        {
            "App": {"properties": {"tags": {"$ref": "#/components/schemas/Tags"}}},
            "Tags": {"type": "array", "items": {"type": ["string", "null"], "maxLength": 3}},
        },
    )
    schema = Schema.from_dict(doc, "#/components/schemas/App")
    assert schema.validate({"tags": ["a", None]}) == ()
    assert [(p.path, p.code) for p in schema.validate({"tags": ["abcd", 1]})] == [
        ("/tags/0", "maxLength"),
        ("/tags/1", "type"),
    ]


# --- formats -------------------------------------------------------------------------------------

FORMATS = [
    ("date-time", "2024-01-02T03:04:05Z", "2024-13-02T03:04:05Z"),
    ("date", "2024-01-02", "2024-02-30"),
    ("time", "03:04:05Z", "25:00:00Z"),
    ("duration", "P1D", "1D"),
    ("email", "ops@example.com", "not-an-email"),
    ("idn-email", "ops@例え.jp", "nope"),
    ("ipv4", "10.0.0.1", "10.0.0.256"),
    ("ipv6", "::1", "::g"),
    ("hostname", "db.internal", "-bad-.example"),
    ("idn-hostname", "例え.jp", "-x-"),
    ("uri", "https://example.com/x", "not a uri"),
    ("uri-reference", "/x?y=1", "http://[bad"),
    ("iri", "https://例え.jp/x", "no scheme"),
    ("uri-template", "http://x/{id}", "http://x/{id"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123"),
    ("regex", "^a+$", "("),
    ("json-pointer", "/a/b", "a/b"),
    ("relative-json-pointer", "1/a", "/a"),
]
OPENAPI_FORMATS = {"date-time", "email", "ipv4", "ipv6", "hostname", "uri", "uuid"}


@pytest.fixture(params=PATHS)
def fast(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setenv("HOTCONF_FAST", request.param)
    return bool(request.param == "1")


@pytest.mark.parametrize(("fmt", "good", "bad"), FORMATS, ids=[f[0] for f in FORMATS])
def test_json_schema_formats_are_checked(fast: bool, fmt: str, good: str, bad: str) -> None:
    schema = Schema.from_dict({"properties": {"v": {"type": "string", "format": fmt}}})
    assert (schema._fast is not None) is fast
    assert schema.validate({"v": good}) == ()
    [problem] = schema.validate({"v": bad})
    assert (problem.path, problem.code) == ("/v", "format")
    assert fmt in problem.message


@pytest.mark.parametrize(
    ("version", "fmt", "good", "bad"),
    [
        (version, *f)
        for version in ("3.0.3", "3.1.0", DRAFT7)
        for f in FORMATS
        if f[0] in OPENAPI_FORMATS and not (version == DRAFT7 and f[0] == "uuid")  # 2019-09+
    ],
)
def test_formats_in_openapi_and_draft_07(version: str, fmt: str, good: str, bad: str) -> None:
    component = {"type": "object", "properties": {"v": {"type": "string", "format": fmt}}}
    if version == DRAFT7:
        schema = Schema.from_dict({"$schema": DRAFT7, **component})
    else:
        schema = Schema.from_dict(openapi(version, {"App": component}), "#/components/schemas/App")
    assert schema.validate({"v": good}) == ()
    assert [p.code for p in schema.validate({"v": bad})] == ["format"]


# --- problems -------------------------------------------------------------------------------------

APP = {
    "type": "object",
    "required": ["db"],
    "additionalProperties": False,
    "properties": {
        "db": {
            "type": "object",
            "required": ["host"],
            "properties": {
                "host": {"type": "string", "format": "hostname"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "replicas": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            },
        },
        "mode": {"enum": ["a", "b"]},
        "listen": {
            "anyOf": [
                {"type": "integer"},
                {
                    "type": "object",
                    "required": ["port"],
                    "properties": {"port": {"type": "integer"}},
                },
            ]
        },
        "backend": {
            "oneOf": [
                {"type": "object", "required": ["url"], "properties": {"url": {"format": "uri"}}},
                {"type": "object", "required": ["path"]},
            ]
        },
    },
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"db": {"host": "h"}}, []),
        ({}, [("", "required", "'db' is a required property")]),
        ({"db": {"host": "h"}, "x": 1}, [("/x", "additionalProperties", "('x' was unexpected)")]),
        ({"db": {"host": 5}}, [("/db/host", "type", "5 is not of type 'string'")]),
        ({"db": {"host": "h", "port": 0}}, [("/db/port", "minimum", "minimum of 1")]),
        ({"db": {"host": "h", "replicas": ["a", 2]}}, [("/db/replicas/1", "type", "'string'")]),
        ({"db": {"host": "h"}, "mode": "c"}, [("/mode", "enum", "'c' is not one of ['a', 'b']")]),
        ({"db": {"host": "h"}, "listen": {"port": "80"}}, [("/listen/port", "type", "'80'")]),
        ({"db": {"host": "h"}, "backend": {"url": "::"}}, [("/backend/url", "format", "'uri'")]),
    ],
)
def test_problems_have_pointer_keyword_and_message(
    fast: bool, data: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    problems = Schema.from_dict(APP).validate(data)
    assert [(p.path, p.code) for p in problems] == [(path, code) for path, code, _ in expected]
    for problem, (_, _, text) in zip(problems, expected, strict=True):
        assert text in problem.message


@pytest.mark.parametrize(
    ("schema", "value", "hint"),
    [
        ({"type": "boolean"}, "yes", True),
        ({"type": "boolean"}, "No", True),
        ({"type": "boolean"}, "ON", True),
        ({"type": "boolean"}, "off", True),
        ({"type": "boolean"}, "y", True),
        ({"type": ["boolean", "null"]}, "on", True),
        ({"type": "boolean"}, "maybe", False),
        ({"type": "integer"}, "yes", False),
        ({"type": "boolean", "writeOnly": True}, "yes", False),  # a secret: nothing about it
    ],
)
def test_a_yaml_11_boolean_word_gets_a_hint(
    fast: bool, schema: dict[str, Any], value: str, hint: bool
) -> None:
    [problem] = Schema.from_dict({"properties": {"debug": schema}}).validate({"debug": value})
    assert problem.code == "type"
    assert problem.message.endswith(" (YAML 1.2: write true or false)") is hint, problem


def test_the_boolean_hint_from_a_yaml_file(tmp_path: Path) -> None:
    from hotconf.cli import main

    (tmp_path / "s.json").write_text(json.dumps({"properties": {"debug": {"type": "boolean"}}}))
    (tmp_path / "c.yaml").write_text("debug: yes\n")
    assert main(["validate", str(tmp_path / "c.yaml"), "--schema", str(tmp_path / "s.json")]) == 1
    [problem] = hotconf.diff({}, tmp_path / "c.yaml", schema=tmp_path / "s.json").problems
    assert problem.message == "'yes' is not of type 'boolean' (YAML 1.2: write true or false)"


def test_problems_are_sorted_by_path_with_numeric_indexes() -> None:
    schema = Schema.from_dict({"items": {"type": "integer"}, "maxItems": 2})
    data = [str(i) for i in range(12)]
    paths = [p.path for p in schema.validate(data)]
    assert paths == ["", *(f"/{i}" for i in range(12))]


def test_at_most_100_problems_then_a_count(fast: bool) -> None:
    schema = Schema.from_dict({"additionalProperties": {"type": "integer"}})
    problems = schema.validate({f"k{i:03}": "x" for i in range(250)})
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].message == "150 more problems were left out"
    assert problems[-1].code == "truncated"
    assert [p.path for p in problems[:3]] == ["/k000", "/k001", "/k002"]


def test_long_values_are_truncated() -> None:
    schema = Schema.from_dict({"properties": {"motd": {"type": "string", "maxLength": 10}}})
    [problem] = schema.validate({"motd": "x" * 10_000})
    assert len(problem.message) < 200
    assert "…" in problem.message


# --- secrets never appear in problems (docs/architecture.md, invariant 8) ------------------------

SECRET = "hunter2-S3CR3T-must-never-leak"  # noqa: S105 (the value the tests hunt for)
LEAKY = {
    "type": "object",
    "not": {"required": ["forbidden"]},
    "properties": {
        "db": {
            "type": "object",
            "maxProperties": 2,
            "properties": {
                "host": {"type": "string"},
                "password": {"type": "string", "minLength": 99, "pattern": "^[0-9]+$"},
            },
        },
        "blob": {"type": "string", "writeOnly": True, "maxLength": 3, "format": "email"},
        "pin": {"writeOnly": True, "anyOf": [{"type": "integer"}, {"maxLength": 2}]},
        "api": {"properties": {"clientSecret": {"type": "integer"}, "apiKey": {"enum": [1, 2]}}},
        "signing": {"x-hotconf-sensitive": True, "properties": {"material": {"const": "x"}}},
        "tokens": {"type": "array", "uniqueItems": True, "maxItems": 1},
        "choice": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        "nested": {"type": "array", "maxItems": 1},
        "limits": {"type": "object", "additionalProperties": False},
    },
    "additionalProperties": {"type": "integer"},
}
LEAKY_DATA = {
    "forbidden": 1,
    "db": {"host": "h", "password": SECRET, "user": "u"},
    "blob": SECRET,
    "pin": SECRET,
    "api": {"clientSecret": SECRET, "apiKey": SECRET},
    "signing": {"material": SECRET},
    "tokens": [SECRET, SECRET],
    "choice": {"password": SECRET},
    "nested": [{"password": SECRET}, 2],
    "limits": {"password": SECRET},
    "extra_password": SECRET,
}


def test_secret_values_appear_in_no_problem(fast: bool) -> None:
    problems = Schema.from_dict(LEAKY).validate(LEAKY_DATA)
    assert {p.path for p in problems} >= {
        "",
        "/db",
        "/db/password",
        "/blob",
        "/pin",
        "/api/clientSecret",
        "/api/apiKey",
        "/signing/material",
        "/tokens",
        "/choice",
        "/nested",
        "/limits/password",  # the key a closed object refuses (key names are not secret)
        "/extra_password",
    }
    for problem in problems:
        assert SECRET[:10] not in str(problem), problem


def test_data_keys_are_left_out_under_a_sensitive_path() -> None:
    schema = Schema.from_dict(
        {"properties": {"vault": {"writeOnly": True, "additionalProperties": False}}}
    )
    [problem] = schema.validate({"vault": {SECRET: 1}})
    assert problem.message == "object has properties that are not allowed"
    assert problem.path == "/vault"  # not at the refused key: its name may be the secret
    closed = {"additionalProperties": False, "patternProperties": {"^x-": {}}}
    named = Schema.from_dict(closed).validate({"surplus": 1, "x-ok": 2, "other": 3})
    assert [(p.path, p.code) for p in named] == [
        ("/other", "additionalProperties"),
        ("/surplus", "additionalProperties"),
    ]
    assert "'surplus'" in named[1].message


def test_openapi_write_only_and_password_format_are_redacted() -> None:
    doc = openapi(
        "3.0.3",
        {
            "App": {
                "type": "object",
                "properties": {
                    "dsn": {"type": "string", "format": "password", "maxLength": 3},
                    "blob": {"type": "string", "writeOnly": True, "pattern": "^x$"},
                },
            }
        },
    )
    problems = Schema.from_dict(doc, "#/components/schemas/App").validate(
        {"dsn": SECRET, "blob": SECRET}
    )
    assert [(p.path, p.code) for p in problems] == [("/blob", "pattern"), ("/dsn", "maxLength")]
    assert all(SECRET[:10] not in str(p) for p in problems)
    assert problems[0].message == "value does not match pattern '^x$'"


# --- sensitivity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True),
        ("db_password", True),
        ("DB_PASSWORD", True),
        ("passwd", True),
        ("passphrase", True),
        ("clientSecret", True),
        ("client-secret", True),
        ("secrets", True),
        ("authToken", True),
        ("refresh_token", True),
        ("tokens", True),
        ("api_key", True),
        ("apiKey", True),
        ("APIKey", True),
        ("x-api-key", True),
        ("apikey", True),
        ("private_key", True),
        ("privateKey", True),
        ("credentials", True),
        ("aws_credential", True),
        ("OAuth2Token", True),
        ("tokenizer_model", False),
        ("passthrough", False),
        ("secretary_name", False),
        ("max_tokens", False),
        ("token_count", False),
        ("tokens_per_minute", False),
        ("keyboard", False),
        ("api_url", False),
        ("primary_key", False),
        ("password_max_age", True),  # a counting word only excuses token(s)
        ("host", False),
        ("", False),
    ],
)
def test_sensitive_name(key: str, sensitive: bool) -> None:
    assert sensitive_name(key) is sensitive


SENSITIVE_SCHEMA = {
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


@pytest.mark.parametrize(
    ("path", "sensitive"),
    [
        (("db", "host"), False),
        (("db", "dsn"), True),
        (("db", "password"), True),
        (("db", "password", "nested"), True),
        (("vault",), True),
        (("vault", "path"), True),
        (("oidc", "pin"), True),
        (("oidc", "name"), False),
        (("token_url",), False),
        (("keys", 3), True),
        (("keys",), False),
        (("extra", "anything"), True),
        (("clientSecret", "x"), True),
        ((), False),
    ],
)
def test_is_sensitive(path: tuple[str | int, ...], sensitive: bool) -> None:
    schema = Schema.from_dict(SENSITIVE_SCHEMA)
    assert schema.is_sensitive(path) is sensitive
    assert schema.is_sensitive(list(path)) is sensitive  # cached under the same key


# --- annotations ----------------------------------------------------------------------------------

ANNOTATED = {
    "$defs": {
        "pool": {"type": "integer", "x-hotconf-reload": "restart", "default": 10},
        "node": {
            "type": "object",
            "x-name": "node",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        },
    },
    "properties": {
        "db": {
            "properties": {"pool": {"$ref": "#/$defs/pool", "x-hotconf-impact": "risky"}},
            "patternProperties": {"^x-": {"x-name": "ext"}},
            "additionalProperties": {"x-name": "other"},
        },
        "hosts": {"prefixItems": [{"x-name": "first"}], "items": {"x-name": "rest"}},
        "tree": {"$ref": "#/$defs/node"},
        "mixed": {
            "allOf": [{"x-name": "all"}],
            "anyOf": [{"x-name": "any"}],
            "oneOf": [{"x-name": "one"}],
            "if": {"x-name": "if"},
            "then": {"x-name": "then"},
        },
    },
}


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (("db", "x-trace"), ["ext"]),
        (("db", "other"), ["other"]),
        (("hosts", 0), ["first"]),
        (("hosts", 5), ["rest"]),
        (("hosts", "5"), ["rest"]),
        (("tree", "children", 0, "children", 3), ["node"]),
        (("mixed",), ["all", "any", "one", "if", "then"]),
        (("nowhere", "at", "all"), []),
    ],
)
def test_annotations_follow_the_schema(path: tuple[str | int, ...], names: list[str]) -> None:
    schema = Schema.from_dict(ANNOTATED)
    found = [node["x-name"] for node in schema.annotations(path) if "x-name" in node]
    assert found == names


def test_annotations_are_outer_first_through_refs_and_cached() -> None:
    schema = Schema.from_dict(ANNOTATED)
    found = schema.annotations(["db", "pool"])
    assert found == (
        {"$ref": "#/$defs/pool", "x-hotconf-impact": "risky"},
        ANNOTATED["$defs"]["pool"],
    )
    assert schema.annotations(("db", "pool")) is found
    assert schema.annotation(["db", "pool"], "x-hotconf-reload") == "restart"
    assert schema.annotation(["db", "pool"], "x-hotconf-impact") == "risky"
    assert schema.annotation(["db", "pool"], "default") == 10
    assert schema.annotation(["db", "pool"], "x-missing", "live") == "live"


def test_draft_07_tuple_items_additional_items_and_ref_siblings() -> None:
    doc = {
        "$schema": DRAFT7,
        "definitions": {"n": {"type": "integer", "x-n": "target"}},
        "properties": {
            "pair": {"items": [{"x-n": 0}, {"x-n": 1}], "additionalItems": {"x-n": 9}},
            "n": {"$ref": "#/definitions/n", "x-hotconf-reload": "restart"},
        },
    }
    schema = Schema.from_dict(doc)
    assert [schema.annotation(["pair", i], "x-n") for i in range(4)] == [0, 1, 9, 9]
    assert schema.annotation(["n"], "x-hotconf-reload") == "restart"
    assert schema.annotation(["n"], "x-n") == "target"


def test_openapi_annotations_through_component_refs() -> None:
    doc = openapi(
        "3.0.3",
        {
            "App": {"properties": {"db": {"$ref": "#/components/schemas/Db"}}},
            "Db": {"properties": {"pool": {"type": "integer", "x-hotconf-reload": "restart"}}},
        },
    )
    schema = Schema.from_dict(doc, "#/components/schemas/App")
    assert schema.annotation(["db", "pool"], "x-hotconf-reload") == "restart"


def test_self_referencing_schema_does_not_loop(fast: bool) -> None:
    root = {"$ref": "#", "properties": {"next": {"$ref": "#"}}}
    schema = Schema.from_dict(root)
    deep = ["next"] * 200
    assert schema.annotations(deep) == ({"$ref": "#"}, root)
    assert schema.validate({"next": {"next": {}}}) == ()
    assert not schema.is_sensitive(deep)


# Schemas whose references come back to where they started without descending into the config.
# Each means what its other keywords say, at every level: `n` an integer, `s` a string.
LOOPS: dict[str, dict[str, Any]] = {
    "self": {"$ref": "#", "properties": {"next": {"$ref": "#"}, "n": {"type": "integer"}}},
    "mutual": {
        "$ref": "#/$defs/a",
        "$defs": {
            "a": {"$ref": "#/$defs/b", "properties": {"n": {"type": "integer"}}},
            "b": {"$ref": "#/$defs/a", "properties": {"next": {"$ref": "#/$defs/b"}}},
        },
    },
    "allOf": {
        "allOf": [{"$ref": "#/$defs/a"}],
        "$defs": {
            "a": {"allOf": [{"$ref": "#"}], "properties": {"n": {"type": "integer"}}},
        },
        "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
    },
    "draft-07": {
        "$schema": DRAFT7,
        "definitions": {
            "a": {"allOf": [{"$ref": "#"}], "properties": {"n": {"type": "integer"}}},
        },
        "allOf": [{"$ref": "#/definitions/a"}],
        "properties": {"next": {"$ref": "#"}},
    },
    "2019-09 $recursiveRef": {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$recursiveAnchor": True,
        "allOf": [{"$recursiveRef": "#"}],
        "properties": {"next": {"$recursiveRef": "#"}, "n": {"type": "integer"}},
    },
    "2020-12 $dynamicRef": {
        "$dynamicAnchor": "node",
        "allOf": [{"$dynamicRef": "#node"}],
        "properties": {"next": {"$dynamicRef": "#node"}, "n": {"type": "integer"}},
    },
    "secrets": {
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "allOf": [{"$ref": "#"}],
                "properties": {
                    "next": {"$ref": "#"},
                    "n": {"type": "integer"},
                    "token": {"type": "string", "writeOnly": True},
                },
            }
        },
    },
}


def nested(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    config = leaf
    for _ in range(depth):
        config = {"next": config}
    return config


@pytest.mark.parametrize("name", LOOPS)
def test_schemas_whose_references_loop_in_place_validate(name: str, fast: bool) -> None:
    schema = Schema.from_dict(LOOPS[name])
    assert schema.validate(nested(40, {"n": 1})) == ()
    problems = schema.validate(nested(40, {"n": "one"}))  # once, however often the loop comes by
    assert [(p.path, p.code) for p in problems] == [("/next" * 40 + "/n", "type")]
    assert [p.code for p in schema.validate({"n": 1.5, "next": {"n": True}})] == ["type", "type"]
    assert schema.annotation(["next"] * 30 + ["n"], "type") == "integer"


def test_loops_in_place_are_followed_once_per_value_in_every_thread() -> None:
    schema = Schema.from_dict(LOOPS["mutual"])
    bad = nested(20, {"n": "x"})
    results: list[tuple[Any, ...]] = []

    def check() -> None:
        for _ in range(50):
            results.append(schema.validate(bad))

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and all(len(r) == 1 for r in results)


def test_loops_reach_the_impact_report_and_schema_diff(fast: bool) -> None:
    import hotconf

    doc = LOOPS["secrets"]
    old, new = nested(3, {"n": 1, "token": "s3cret"}), nested(3, {"n": 2, "token": "t0ken"})
    report = hotconf.diff(old, new, schema=Schema.from_dict(doc))
    assert {c.path[-1] for c in report.changes} == {"n", "token"}
    assert "s3cret" not in report.to_text() and "t0ken" not in report.to_text()
    assert not report.problems
    narrowed = json.loads(json.dumps(doc))
    narrowed["$defs"]["node"]["properties"]["n"]["maximum"] = 1
    for config, affected in [({"n": 2, "next": {}}, True), ({"n": 1, "next": {"n": 5}}, False)]:
        compat = hotconf.schema_diff(doc, narrowed, config=config)
        found = {(c.kind, c.path): c.affected for c in compat.changes}
        assert found[("limit_added", "/n")] is affected


@pytest.mark.parametrize("keyword", ["unevaluatedProperties", "unevaluatedItems"])
def test_unevaluated_keywords_with_a_loop_in_place_are_refused(keyword: str) -> None:
    with pytest.raises(SchemaError, match=f"{keyword}.*loop back to / without"):
        Schema.from_dict({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#", keyword: False}}})
    descending = Schema.from_dict({"properties": {"a": {"$ref": "#"}}, keyword: False})
    assert descending.validate({"a": {"a": {}}}) == ()


def test_an_openapi_component_that_loops_in_place_is_refused_with_a_reason() -> None:
    # openapi-spec-validator follows such a loop until the stack runs out: say so.
    doc = openapi("3.0.3", {"App": {"allOf": [{"$ref": "#/components/schemas/App"}]}})
    with pytest.raises(SchemaError, match="references loop back without descending"):
        Schema.from_dict(doc, "#/components/schemas/App")


def test_a_loop_in_place_across_dialects_is_refused() -> None:
    doc = {"$ref": "#/$defs/a", "$defs": {"a": {"$schema": DRAFT7, "allOf": [{"$ref": "#"}]}}}
    with pytest.raises(SchemaError, match="mixes dialects"):
        Schema.from_dict(doc)


# --- identity, immutability, files, coerce --------------------------------------------------------


def test_checksum_is_canonical_and_covers_the_pointer() -> None:
    a = Schema.from_dict({"type": "object", "$defs": {"A": {}, "B": {}}})
    b = Schema.from_dict({"$defs": {"B": {}, "A": {}}, "type": "object"})
    c = Schema.from_dict({"type": "object", "$defs": {"A": {}, "B": {}}}, "#/$defs/A")
    assert a.checksum == b.checksum != c.checksum
    assert len(a.checksum) == 64
    assert a == b and hash(a) == hash(b) and a != c


def test_schema_keeps_a_private_copy() -> None:
    doc: dict[str, Any] = {"properties": {"port": {"type": "integer"}}}
    schema = Schema.from_dict(doc)
    doc["properties"]["port"]["type"] = "string"
    assert [p.code for p in schema.validate({"port": "80"})] == ["type"]
    with pytest.raises(TypeError):
        schema.document["type"] = "x"  # type: ignore[index]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_from_file_and_coerce(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"config.schema{suffix}"
    path.write_text(json.dumps({"properties": {"port": {"type": "integer"}}}))
    for schema in (Schema.from_file(path), Schema.coerce(path), Schema.coerce(str(path))):
        assert schema.source == str(path)
        assert [p.path for p in schema.validate({"port": "x"})] == ["/port"]
    assert Schema.coerce(schema) is schema
    assert Schema.coerce({"type": "object"}).dialect == "json-schema-2020-12"
    with pytest.raises(TypeError):
        Schema.coerce(42)  # type: ignore[arg-type]


def test_from_file_with_pointer_fragment(tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(openapi("3.1.0", {"App": {"type": "object"}})))
    schema = Schema.coerce(f"{path}#/components/schemas/App")
    assert schema.pointer == "#/components/schemas/App"
    assert schema.root == {"type": "object"}


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]"])
def test_unreadable_schema_files_raise_schema_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SchemaError, match=r"schema\.json"):
        Schema.from_file(path)


# --- the jsonschema-rs fast path ------------------------------------------------------------------

AGREEMENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "app": APP,
    "numbers": {
        "properties": {
            "n": {"type": "integer", "minimum": -5, "exclusiveMaximum": 2**53},
            "f": {"type": "number", "maximum": 10, "multipleOf": 2},
            "big": {"enum": [10**20, 2**64, 1.5]},
        }
    },
    "strings": {
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,15}$", "minLength": 2},
            "ext": {"type": "object", "patternProperties": {"^x-": {"const": True}}},
            "tag": {"type": "string", "pattern": "a.c$"},
        },
        "propertyNames": {"maxLength": 8},
    },
    "draft-07": {
        "$schema": DRAFT7,
        "definitions": {"port": {"type": "integer", "maximum": 65535}},
        "properties": {"p": {"$ref": "#/definitions/port"}, "t": {"items": [{"type": "string"}]}},
    },
    "draft-04": {
        "$schema": DRAFT4,
        "properties": {"r": {"type": "number", "minimum": 0, "exclusiveMinimum": True}},
    },
    "loops": {  # references that come back without descending: followed once per value
        "$ref": "#/$defs/a",
        "$defs": {
            "a": {
                "allOf": [{"$ref": "#/$defs/b"}],
                "properties": {"n": {"type": "integer", "minimum": -5}, "db": {"$ref": "#"}},
            },
            "b": {
                "$ref": "#/$defs/a",
                "properties": {"f": {"maximum": 10}, "name": {"minLength": 2}},
            },
        },
    },
    "conditionals": {
        "if": {"properties": {"kind": {"const": "tcp"}}},
        "then": {"required": ["port"]},
        "else": {"not": {"required": ["port"]}},
        "properties": {"items": {"contains": {"type": "string"}, "minContains": 2}},
        "dependentRequired": {"tls": ["cert"]},
    },
}
INSTANCES: list[Any] = [
    {},
    {"db": {"host": "h"}},
    {"db": {"host": "-bad-"}},
    {"db": {"host": "h", "port": 70000}},
    {"n": 3, "f": 4.0, "big": 10**20},
    {"n": 2**53, "f": 11},
    {"n": 1.0, "f": 3, "big": 2**64 + 1},
    {"n": True},
    {"f": math.inf},
    {"f": math.nan},
    {"n": -6.5},
    {"name": "ok_name"},
    {"name": "Bad"},
    {"name": "a" * 17},
    {"name": "ab\n"},
    {"ext": {"x-a": True, "y": 1}},
    {"ext": {"x-a": 1}},
    {"tag": "abc\n"},
    {"tag": "a\rc"},
    {"toolongkey": 1},
    {"p": 80, "t": ["a", 2]},
    {"p": 80},
    {"p": 80.0, "t": []},
    {"r": 0},
    {"r": 1e-300},
    {"kind": "tcp"},
    {"kind": "tcp", "port": 1},
    {"kind": "udp", "port": 1},
    {"items": ["a", 1, "b"]},
    {"items": ["a", 1]},
    {"tls": True},
    {"db": {"host": "h", "replicas": ("a", "b")}},
    {"items": ("a", "b")},
    [],
    "scalar",
    None,
]


@needs_rs
@pytest.mark.parametrize("name", AGREEMENT_SCHEMAS)
def test_fast_path_agrees_with_the_reference(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTCONF_FAST", "1")
    fast_schema = Schema.from_dict(AGREEMENT_SCHEMAS[name])
    monkeypatch.setenv("HOTCONF_FAST", "0")
    reference = Schema.from_dict(AGREEMENT_SCHEMAS[name])
    assert fast_schema._fast is not None and reference._fast is None
    for instance in INSTANCES:
        expected = reference.validate(instance)
        assert fast_schema.validate(instance) == expected, instance


@pytest.mark.parametrize(
    "doc",
    [
        {"properties": {"x": {"multipleOf": 0.1}}},
        {"properties": {"x": {"pattern": "^\\s*$"}}},
        {"properties": {"x": {"pattern": "^\\d+$"}}},
        {"patternProperties": {"(?i)^a": {}}},
        pytest.param(
            {"properties": {"x": {"pattern": "[[:alpha:]]"}}},
            marks=pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning"),
        ),
        {"unevaluatedProperties": False},
        {"$dynamicRef": "#meta", "$dynamicAnchor": "meta"},
        {"nullable": True},
        {"$schema": DRAFT7, "definitions": {"a": {}}, "$ref": "#/definitions/a", "type": "string"},
        openapi("3.1.0", {"App": {"type": "object"}}),
    ],
)
def test_fast_path_is_off_where_rs_could_disagree(
    doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTCONF_FAST", "1")
    pointer = "#/components/schemas/App" if "openapi" in doc else None
    assert Schema.from_dict(doc, pointer)._fast is None


@pytest.mark.parametrize(
    ("doc", "instance"),
    [
        ({"multipleOf": 0.1}, 0.3),
        ({"pattern": "^\\s*$"}, "\ufeff"),
        ({"maximum": 10}, math.inf),
        ({"type": "array"}, (1, 2)),
    ],
)
def test_known_rs_disagreements_never_pass(doc: dict[str, Any], instance: Any, fast: bool) -> None:
    # Each of these is "valid" to jsonschema-rs and invalid to jsonschema.
    assert Schema.from_dict(doc).validate(instance) != ()


@needs_rs
def test_fast_path_with_a_pointer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTCONF_FAST", "1")
    doc = {
        "$defs": {
            "App": {"properties": {"port": {"$ref": "#/$defs/Port"}}},
            "Port": {"type": "integer"},
        }
    }
    schema = Schema.from_dict(doc, "#/$defs/App")
    assert schema._fast is not None
    assert schema.validate({"port": 1}) == ()
    assert [p.path for p in schema.validate({"port": "1"})] == ["/port"]


KEYS = st.sampled_from(["db", "host", "port", "replicas", "mode", "listen", "backend", "url", "n"])
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["h", "a", "b", "db.internal", "::", "https://x.example/"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=3), inner),
    max_leaves=12,
)


@functools.cache
def fast_schema(name: str) -> Schema:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOTCONF_FAST", "1")
        return Schema.from_dict(AGREEMENT_SCHEMAS[name])


@needs_rs
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=JSON)
def test_fast_path_never_says_valid_when_the_reference_does_not(instance: Any) -> None:
    for name in AGREEMENT_SCHEMAS:
        schema = fast_schema(name)
        assert schema._fast is not None
        if schema._fast(instance):
            assert schema._validator.is_valid(instance), (name, instance)
