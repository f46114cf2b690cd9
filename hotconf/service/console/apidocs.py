"""``GET /docs``: the API description (`hotconf.service.openapi`) as a page to read.

Operations are grouped by tag, in the document's order, each with its parameters, request
body, responses and whether it needs a token. Descriptions are the document's own text:
paragraphs and `code` spans, nothing more, escaped like everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

METHODS = ("get", "post", "put", "patch", "delete")


def inline(text: str | None) -> Markup:
    """One line of text with backtick code spans, as escaped HTML."""
    escaped = str(escape(" ".join((text or "").split())))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))  # noqa: S704 (escaped)


def prose(text: str | None) -> Markup:
    """Text with blank-line paragraphs and backtick code spans, as escaped HTML."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return Markup("\n".join(f"<p>{inline(p)}</p>" for p in paragraphs))  # noqa: S704


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    where: str
    required: bool
    description: str
    schema: str


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    id: str
    summary: str
    description: str
    auth: str
    parameters: list[Parameter]
    body: list[str]
    responses: list[tuple[str, str, list[str]]]


@dataclass(slots=True)
class Tag:
    name: str
    description: str
    operations: list[Operation] = field(default_factory=list)


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for segment in node["$ref"].removeprefix("#/").split("/"):
            target = target[segment.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _schema(node: dict[str, Any]) -> str:
    if "$ref" in node:
        return str(node["$ref"]).rpartition("/")[2]
    kind = node.get("type", "")
    if "enum" in node:
        return " | ".join(str(v) for v in node["enum"])
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _auth(op: dict[str, Any]) -> str:
    security = op.get("security")
    if not security:
        return "open"
    if {} in security:
        return "open; a token reads secret values"
    return "a bearer token (the admin token for changes)"


def tags(doc: dict[str, Any]) -> list[Tag]:
    """The document's operations, grouped by their first tag, in the document's order."""
    found = {t["name"]: Tag(t["name"], t.get("description", "")) for t in doc.get("tags", [])}
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                _resolve(doc, p) for p in [*item.get("parameters", []), *op.get("parameters", [])]
            ]
            body = op.get("requestBody", {}).get("content", {})
            responses = []
            for status, response in op.get("responses", {}).items():
                response = _resolve(doc, response)
                responses.append(
                    (status, response.get("description", ""), list(response.get("content", {})))
                )
            name = (op.get("tags") or ["other"])[0]
            found.setdefault(name, Tag(name, "")).operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    id=op.get("operationId", f"{method}-{path}"),
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    auth=_auth(op),
                    parameters=[
                        Parameter(
                            p["name"],
                            p["in"],
                            bool(p.get("required")),
                            p.get("description", ""),
                            _schema(p.get("schema", {})),
                        )
                        for p in params
                    ],
                    body=list(body),
                    responses=responses,
                )
            )
    return [t for t in found.values() if t.operations]
