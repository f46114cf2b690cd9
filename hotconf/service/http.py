"""HTTP plumbing of the service: problem documents, bearer tokens, query parameters, ETags.

Every error is an RFC 9457 problem document (``application/problem+json``): ``type`` (a
``urn:hotconf:problem:<slug>``), ``title``, ``status``, ``detail``, plus members of our own
(``problems``, ``report``, ``state``) where they help.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, Literal

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import Problem

JSON = "application/json"
PROBLEM = "application/problem+json"

Access = Literal["anonymous", "read", "admin"]


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON; read-only mappings (snapshots) encode as objects."""
    return json.dumps(
        data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=dict
    ).encode("utf-8")


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(dumps(data), status, headers=headers, media_type=JSON)


class ApiError(Exception):
    """An error answered as a problem document; handlers raise it, the app renders it.

    Args:
        status: the HTTP status.
        slug: the problem type, ``urn:hotconf:problem:<slug>``.
        title: a short summary, the same for every occurrence of this type.
        detail: what happened this time (never a secret value).
        headers: extra response headers.
        extra: more members (``problems``, ``report``, ``state``...).
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self) -> Response:
        body = {
            "type": f"urn:hotconf:problem:{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }
        return Response(dumps(body), self.status, headers=self.headers, media_type=PROBLEM)


def problems_list(problems: tuple[Problem, ...]) -> list[dict[str, object]]:
    return [p.to_dict() for p in problems]


def bad_request(detail: str) -> ApiError:
    return ApiError(400, "bad-request", "Bad request", detail)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, method not allowed) as problem documents."""
    assert isinstance(exc, HTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    detail = (
        exc.detail if exc.status_code not in (404, 405) else f"{request.method} {request.url.path}"
    )
    return ApiError(exc.status_code, slug, title, detail, headers=exc.headers).response()


class Auth:
    """Bearer tokens: ``token`` may mutate and read secrets, ``read_token`` may read secrets.

    Without any token, mutating endpoints are open: the server then binds loopback only
    (`hotconf.service.app.check_bind`), and nobody reads secrets over HTTP.

    Args:
        token: the admin token, or ``None``.
        read_token: the read-only token, or ``None``.
    """

    def __init__(self, token: str | None = None, read_token: str | None = None) -> None:
        for name, value in (("token", token), ("read_token", read_token)):
            if value is not None and not value.strip():
                raise ValueError(f"{name} is empty")
        self._admin = token.strip().encode() if token else None
        self._read = read_token.strip().encode() if read_token else None

    @property
    def configured(self) -> bool:
        """Is any token set?"""
        return self._admin is not None or self._read is not None

    @property
    def has_admin(self) -> bool:
        """Is an admin token set (the only thing that makes binding beyond loopback safe)?"""
        return self._admin is not None

    @property
    def open_mutations(self) -> bool:
        """No token at all: anyone who reaches the (loopback) server may mutate. A read-only
        token alone does not open mutations: with any token set, they need the admin one."""
        return not self.configured

    def access(self, request: Request) -> Access:
        """What the caller's ``Authorization`` header grants.

        Raises:
            ApiError: 401 for a header that is not a known bearer token.
        """
        header = request.headers.get("authorization")
        if header is None:
            return "anonymous"
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise _unauthorized("use 'Authorization: Bearer <token>'", "invalid_request")
        given = presented.strip().encode()
        # compare with both, always: how long this takes says nothing about either token
        is_admin = self._admin is not None and hmac.compare_digest(given, self._admin)
        is_read = self._read is not None and hmac.compare_digest(given, self._read)
        if is_admin:
            return "admin"
        if is_read:
            return "read"
        if not self.configured:
            raise _unauthorized("this server has no tokens configured", "invalid_token")
        raise _unauthorized("the bearer token is not valid", "invalid_token")

    def require_admin(self, request: Request) -> None:
        """Allow a mutation, or raise 401 (no or wrong token) / 403 (a read-only token, or a
        browser request from another origin: see `check_origin`)."""
        access = self.access(request)
        check_origin(request, open_door=access == "anonymous" and self.open_mutations)
        if access == "admin" or (access == "anonymous" and self.open_mutations):
            return
        if access == "read":
            raise ApiError(
                403, "forbidden", "Forbidden", "the read-only token may not change the config"
            )
        raise _unauthorized("this endpoint needs the admin bearer token", None)

    def require_reader(self, request: Request) -> Access:
        """Allow a caller with any token, or anyone when no token is configured."""
        access = self.access(request)
        check_origin(request, open_door=access == "anonymous" and not self.configured)
        if access == "anonymous" and self.configured:
            raise _unauthorized("this endpoint needs a bearer token", None)
        return access

    def sees_secrets(self, request: Request) -> bool:
        """May this caller read secret values (it holds a token)?"""
        return self.access(request) != "anonymous"


def check_origin(request: Request, *, open_door: bool) -> None:
    """Refuse a browser's request to change something from a page of another origin (403).

    Browsers say where a request comes from (``Origin``, ``Sec-Fetch-Site``); curl and
    programs send neither and pass. Without a token a mutation needs no credentials at all
    (``open_door``): a page elsewhere could then post an empty form to the developer's
    loopback server, and a page whose name was rebound to 127.0.0.1 would even be "same
    origin", so the ``Host`` must then also name loopback literally.

    Raises:
        ApiError: 403 ``cross-origin``.
    """
    headers = request.headers
    site = headers.get("sec-fetch-site")
    origin = headers.get("origin")
    host = headers.get("host", "")
    foreign = (site is not None and site not in ("same-origin", "none")) or (
        origin is not None and origin not in (f"http://{host}", f"https://{host}")
    )
    if foreign:
        raise ApiError(
            403,
            "cross-origin",
            "Cross-origin request",
            "a page of another origin may not change this server's config",
        )
    if open_door and not _names_loopback(host):
        raise ApiError(
            403,
            "cross-origin",
            "Cross-origin request",
            f"without a token, changes are taken only at a loopback address, not at {host!r}",
        )


def _names_loopback(host: str) -> bool:
    """Does a ``Host`` header name loopback itself (``localhost``, ``127.0.0.1``, ``[::1]``,
    with or without a port)? No DNS: a name that resolves there is what rebinding uses."""
    name = host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host
    name = name.removeprefix("[").removesuffix("]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _unauthorized(detail: str, error: str | None) -> ApiError:
    challenge = 'Bearer realm="hotconf"' + (f', error="{error}"' if error else "")
    return ApiError(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge}
    )


MAX_INT = 2**63 - 1


def int_param(query: QueryParams, name: str, *, minimum: int = 0) -> int | None:
    """An integer query parameter, or ``None`` when absent; 400 when malformed."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, not {raw!r}") from None
    if not minimum <= value <= MAX_INT:  # SQLite integers are 64-bit
        raise bad_request(f"{name} must be between {minimum} and {MAX_INT}")
    return value


def float_param(query: QueryParams, name: str, *, maximum: float) -> float | None:
    """A number of seconds in ``[0, maximum]``, or ``None`` when absent; 400 when not."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= value <= maximum:  # also refuses nan
        raise bad_request(f"{name} must be between 0 and {maximum:g} seconds")
    return value


def etag_matches(header: str | None, etag: str) -> bool:
    """Does an ``If-None-Match`` header match ``etag`` (weak comparison, RFC 9110 13.1.2)?"""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}``; 400 for anything else.

    A non-empty body must say ``Content-Type: application/json`` (415 otherwise): a browser
    sends that only after a CORS preflight, so a web page cannot post to a server without a
    token on the developer's loopback (a ``text/plain`` form post needs none).
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(
            415, "unsupported-media-type", "Unsupported media type", "send application/json"
        )
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object")
    return data
