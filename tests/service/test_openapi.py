"""The API contract: ``hotconf/service/openapi.yaml`` (the copy the service serves at
``/openapi.json``) is a valid OpenAPI 3.1 document, and `OpenApi.check` holds every response
the service tests receive to it (strictly: a status, a content type or a required header the
document does not list fails the test)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hotconf.service.openapi import PATH as SPEC
from hotconf.service.openapi import document

ROOT = Path(__file__).resolve().parents[2]
BASE = "urn:hotconf-api"


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class OpenApi:
    """Finds the operation, status and content schema of a response, and validates it."""

    def __init__(self, doc: dict[str, Any] | None = None) -> None:
        self.doc: dict[str, Any] = document() if doc is None else doc
        validate_spec(self.doc)
        self._registry: Registry[Any] = Registry().with_resource(
            BASE, Resource(self.doc, DRAFT202012)
        )
        self._paths = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", t) + "$"), t)
            for t in self.doc["paths"]
        ]
        self._validators: dict[str, Draft202012Validator] = {}

    def _resolve(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            node = self.doc
            for seg in pointer.strip("/").split("/"):
                node = node[seg.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def _validate(self, instance: Any, pointer: str) -> None:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{BASE}#{pointer}"},
                registry=self._registry,
                format_checker=FormatChecker(),
            )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"does not match {pointer}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for regex, template in self._paths:
            if regex.match(path):
                op = self.doc["paths"][template].get(method.lower())
                return (template, op) if op is not None else None
        return None

    def check(self, method: str, path: str, status: int, headers: Any, body: bytes) -> None:
        """Fail unless the document describes this response exactly."""
        found = self.operation(method, path)
        if found is None:
            # not an operation (no such route or method): Starlette's 404/405, as problems
            assert status in (404, 405), f"{method} {path} is not in the API document"
            self._validate(json.loads(body), "/components/schemas/Problem")
            return
        template, op = found
        responses = op["responses"]
        assert str(status) in responses, (
            f"{method} {template} answered {status}, which the API document does not list"
        )
        base = f"/paths/{_escape(template)}/{method.lower()}/responses/{status}"
        spec, base = self._resolve(responses[str(status)], base)
        for name, header in spec.get("headers", {}).items():
            header, _ = self._resolve(header, "")
            value = headers.get(name)
            if header.get("required"):
                assert value is not None, f"{method} {template} {status}: no {name} header"
            if value is not None:
                errors = list(Draft202012Validator(header["schema"]).iter_errors(value))
                assert not errors, f"{name}: {errors[0].message}"
        content = spec.get("content")
        if not content:
            assert not body, f"{method} {template} {status} has a body the document lacks"
            return
        media = headers.get("content-type", "").partition(";")[0].strip()
        assert media in content, f"{method} {template} {status}: {media} is not listed"
        if media.endswith("json"):
            self._validate(json.loads(body), f"{base}/content/{_escape(media)}/schema")

    def check_response(self, response: httpx.Response) -> None:
        request = response.request
        self.check(
            request.method,
            request.url.path,
            response.status_code,
            response.headers,
            response.read(),
        )

    async def acheck_response(self, response: httpx.Response) -> None:
        await response.aread()
        self.check_response(response)


API = OpenApi()


def test_the_document_is_valid_openapi_3_1() -> None:
    assert API.doc["openapi"].startswith("3.1")
    validate_spec(yaml.safe_load(SPEC.read_text()))  # raises when invalid


def test_every_route_of_the_app_is_in_the_document_and_back() -> None:
    for module in ("starlette", "uvicorn", "prometheus_client"):
        pytest.importorskip(module, reason="needs the serve extra: pip install -e '.[serve]'")
    from starlette.routing import Route

    from hotconf.service.app import Service

    service = Service(lambda **kw: pytest.fail("not opened"))  # never started
    routes = {
        (method.lower(), re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path))
        for route in service.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(method, path) for path, item in API.doc["paths"].items() for method in item}
    assert routes == documented


def test_impact_report_component_is_the_report_schema() -> None:
    """The report in the API is schemas/impact-report.schema.json, $defs moved to components."""
    report = json.loads((ROOT / "schemas" / "impact-report.schema.json").read_text())
    names = {
        "level": "ImpactLevel",
        "side": "ImpactSide",
        "change": "ImpactChange",
        "problem": "ConfigProblem",
    }

    def moved(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rpartition("/")[2]
                return {"$ref": f"#/components/schemas/{names[name]}"}
            return {k: moved(v) for k, v in node.items()}
        if isinstance(node, list):
            return [moved(v) for v in node]
        return node

    schemas = API.doc["components"]["schemas"]
    defs = report.pop("$defs")
    for key in ("$schema", "$id"):
        report.pop(key)
    assert schemas["ImpactReport"] == moved(report)
    for name, component in names.items():
        assert schemas[component] == moved(defs[name])


@pytest.mark.parametrize(
    ("method", "path", "status", "headers", "body", "fails"),
    [
        ("GET", "/readyz", 200, {"content-type": "application/json"}, None, None),
        ("GET", "/readyz", 418, {"content-type": "application/json"}, None, "does not list"),
        ("GET", "/readyz", 200, {"content-type": "text/html"}, None, "not listed"),
        ("GET", "/v1/config", 304, {}, b"", "no ETag header"),
        ("POST", "/readyz", 405, {"content-type": "application/problem+json"}, "problem", None),
        ("GET", "/nowhere", 200, {"content-type": "application/json"}, "{}", "not in the API"),
        ("GET", "/readyz", 200, {"content-type": "application/json"}, '{"ready": 1}', "match"),
    ],
)
def test_the_checker_is_strict(
    method: str,
    path: str,
    status: int,
    headers: dict[str, str],
    body: str | None,
    fails: str | None,
) -> None:
    ready = {
        "ready": True,
        "state": "ready",
        "version": 1,
        "degraded": False,
        "last_rejection": None,
        "store_problem": None,
    }
    problem = {
        "type": "urn:hotconf:problem:method-not-allowed",
        "title": "Method not allowed",
        "status": 405,
        "detail": "POST /readyz",
    }
    raw = {None: json.dumps(ready), "problem": json.dumps(problem)}.get(body, body) or ""
    if fails is None:
        API.check(method, path, status, headers, raw.encode())
    else:
        with pytest.raises(AssertionError, match=fails):
            API.check(method, path, status, headers, raw.encode())
