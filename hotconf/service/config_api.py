"""Read endpoints: the config (with ETags and long-polls), one key, versions, diffs, rejections.

Config reads carry secret values only to a caller with a token; everyone else gets them
replaced by ``"<redacted>"`` (docs/architecture.md, invariant 8), path by path as the schema
says. A checksum covers the secrets too, so the ETag and the checksums in listings are the real
checksum only for a caller who may see secrets, and a keyed fingerprint of it for everyone
else (`public_checksum`). Listings (versions, diffs, rejections) never carry a value that is
secret.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets as secrets_module
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..errors import VersionNotFoundError
from ..pipeline.encode import key_json
from ..pipeline.impact import ImpactReport
from ..pipeline.paths import Path, split_dotted
from ..pipeline.snapshot import REDACTED, Snapshot, VersionInfo, redact
from .http import (
    JSON,
    ApiError,
    bad_request,
    dumps,
    etag_matches,
    float_param,
    int_param,
    json_response,
)
from .http import MAX_INT as MAX_VERSION

if TYPE_CHECKING:
    from ..events import Rejection
    from .app import Service

MAX_LIMIT = 1000


class Prepared(Response):
    """A 200 response from a body and headers encoded beforehand.

    Starlette encodes headers on every response; a hot ``GET /v1/config`` (and a thousand
    long-polls released at once) spends more on that than on anything else it does, so the
    encoded headers of a version are kept with its body.
    """

    def __init__(self, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = list(raw_headers)  # a copy: middleware may add to it


Encoded = tuple[bytes, list[tuple[bytes, bytes]]]
"""A response body and its encoded headers."""


class Bodies:
    """Encoded config responses per (version, with secrets or not), a few versions deep.

    A hot ``GET /v1/config``, and a thousand long-polls released by one change, encode each
    version once. Snapshots never change, so an entry is never stale. A new version is
    encoded off the event loop (a large config takes a while, and readers of other things
    must not wait for it), one top-level key at a time: a key whose frozen value is the very
    object the previous version held (`hotconf.pipeline.share` shares what did not change)
    reuses its bytes, so the cost follows the change. The bytes equal ``dumps`` of the
    (redacted) snapshot, the reference.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, str, bool], Encoded] = OrderedDict()
        self._pending: dict[tuple[int, str, bool], asyncio.Future[Encoded]] = {}
        # per `secrets`: top-level key -> (the frozen value, its encoded member) of the last
        # version encoded
        self._parts: dict[bool, dict[str, tuple[Any, bytes]]] = {}

    async def response(
        self, snap: Snapshot, secrets: bool, sensitive: Callable[[], Callable[[Path], bool]]
    ) -> Response:
        key = (snap.version, snap.checksum, secrets)
        found = self._cache.get(key)
        if found is None:
            pending = self._pending.get(key)
            if pending is None:  # the first reader of this version encodes it for all
                loop = asyncio.get_running_loop()
                pending = loop.run_in_executor(None, self._encode, key, snap, secrets, sensitive)
                self._pending[key] = pending
                pending.add_done_callback(lambda _: self._pending.pop(key, None))
            found = await asyncio.shield(pending)
        body, headers = found
        return Prepared(body, headers)

    def _encode(
        self,
        key: tuple[int, str, bool],
        snap: Snapshot,
        secrets: bool,
        sensitive: Callable[[], Callable[[Path], bool]],
    ) -> Encoded:
        body = self._body(snap, secrets, sensitive())
        encoded = Response(body, headers=_headers(snap, secrets), media_type=JSON)
        found = (body, encoded.raw_headers)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return found

    def _body(self, snap: Snapshot, secrets: bool, sensitive: Callable[[Path], bool]) -> bytes:
        if not secrets and sensitive(()):
            return dumps(REDACTED)
        with self._lock:
            before = self._parts.get(secrets, {})
        parts: dict[str, tuple[Any, bytes]] = {}
        for k, value in snap.items():
            hit = before.get(k)
            if hit is not None and hit[0] is value:
                parts[k] = hit
                continue
            shown = value if secrets else redact(value, sensitive, (k,))
            parts[k] = (value, key_json(k) + b":" + dumps(shown))
        with self._lock:
            self._parts[secrets] = parts
        return b"{" + b",".join(part for _, part in parts.values()) + b"}"


class Values:
    """Encoded ``GET /v1/config/{key}`` responses per (version, secrets, key), bounded.

    Keys come from callers, so at most `size` are kept (least recently used out).
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, str, bool, str], Encoded] = OrderedDict()

    def get(self, snap: Snapshot, secrets: bool, key: str) -> Encoded | None:
        return self._cache.get((snap.version, snap.checksum, secrets, key))

    def put(self, snap: Snapshot, secrets: bool, key: str, found: Encoded) -> None:
        with self._lock:
            self._cache[(snap.version, snap.checksum, secrets, key)] = found
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)


# A checksum covers the secrets too: with everything else in a redacted body, a short secret
# could be guessed offline from it. Callers who may not see secrets get a keyed tag instead.
_TAG_KEY = secrets_module.token_bytes(32)


@functools.lru_cache(maxsize=64)
def public_checksum(checksum: str, secrets: bool) -> str:
    """The checksum as a caller may see it: itself with secrets, else a keyed fingerprint
    (computed once per version: a few versions are kept)."""
    if secrets:
        return checksum
    return hmac.new(_TAG_KEY, checksum.encode(), hashlib.sha256).hexdigest()


def report_dict(report: ImpactReport, secrets: bool) -> dict[str, Any]:
    """An impact report's JSON form, its checksums as the caller may see them."""
    body = report.to_dict()
    for side in ("old", "new"):
        found = body[side].get("checksum")
        if found is not None:
            body[side]["checksum"] = public_checksum(found, secrets)
    return body


def public_checksums(value: Any, secrets: bool) -> Any:
    """Plain JSON data with every ``checksum`` as the caller may see it (`public_checksum`)."""
    if secrets:
        return value
    if isinstance(value, Mapping):
        return {
            k: public_checksum(v, False)
            if k == "checksum" and isinstance(v, str)
            else public_checksums(v, False)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [public_checksums(v, False) for v in value]
    return value


def rejection_dict(rejection: Rejection, secrets: bool) -> dict[str, Any]:
    """A rejection's JSON form, its candidate's checksum as the caller may see it."""
    body = rejection.to_dict()
    if body["checksum"] is not None:
        body["checksum"] = public_checksum(body["checksum"], secrets)
    return body


@functools.lru_cache(maxsize=64)
def _tag(checksum: str, secrets: bool) -> str:
    return f'"{public_checksum(checksum, secrets)}"'


def _etag(snap: Snapshot, secrets: bool) -> str:
    return _tag(snap.checksum, secrets)


def _info(info: VersionInfo, secrets: bool) -> dict[str, Any]:
    body = info.to_dict()
    body["checksum"] = public_checksum(info.checksum, secrets)
    return body


def _headers(snap: Snapshot, secrets: bool) -> dict[str, str]:
    return {
        "ETag": _etag(snap, secrets),
        "X-Hotconf-Version": str(snap.version),
        "X-Hotconf-Redacted": "false" if secrets else "true",
        "Cache-Control": "no-cache",
        "Vary": "Authorization",
    }


def _not_modified(snap: Snapshot, secrets: bool) -> Response:
    return Response(status_code=304, headers=_headers(snap, secrets))


def _no_version(exc: VersionNotFoundError) -> ApiError:
    return ApiError(404, "version-not-found", "No such version", exc.message)


class ConfigApi:
    """The read endpoints of one `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.bodies = Bodies()
        self.values = Values()

    def _sensitive(self) -> Callable[[Path], bool]:
        return self.service.live.is_sensitive

    async def _snapshot(self, version: int | None) -> Snapshot:
        live = self.service.live
        current = live.snapshot()
        if version is None or version == current.version:
            return current
        try:
            return await run_in_threadpool(live.snapshot, version)
        except VersionNotFoundError as exc:
            raise _no_version(exc) from None

    async def config(self, request: Request) -> Response:
        """``GET /v1/config[?version=N | ?after=N[&wait=S]]``."""
        service = self.service
        live = service.live
        secrets = service.auth.sees_secrets(request)
        snap = live.snapshot()
        if request.scope["query_string"]:  # the hot path has none: skip parsing it
            query = request.query_params
            version = int_param(query, "version", minimum=1)
            after = int_param(query, "after")
            wait = float_param(query, "wait", maximum=service.max_wait)
            if version is not None and (after is not None or wait is not None):
                raise bad_request("version= reads one version; not with after= or wait=")
            if wait is not None and after is None:
                raise bad_request("wait= needs after=: the version you already have")
            snap = await self._snapshot(version)
            if after is not None and snap.version <= after:
                if wait:
                    feed = service.feed
                    released = not feed.closed and await feed.wait_after(after, wait)
                    if not released and service.readiness.shutting_down:
                        raise service.not_ready()
                    snap = live.snapshot()
                if snap.version <= after:
                    return _not_modified(snap, secrets)
        condition = request.headers.get("if-none-match")
        if condition is not None and etag_matches(condition, _etag(snap, secrets)):
            return _not_modified(snap, secrets)
        return await self.bodies.response(snap, secrets, self._sensitive)

    async def config_key(self, request: Request) -> Response:
        """``GET /v1/config/{dotted.key}[?version=N | ?explain=1]``: one value, or where it
        came from (which layer set it, what it overrode; secret values always redacted)."""
        key: str = request.path_params["key"]
        secrets = self.service.auth.sees_secrets(request)
        if not request.scope["query_string"]:  # the hot path: the version served now
            snap = self.service.live.snapshot()
        else:
            explain = request.query_params.get("explain")
            if explain is not None:
                if explain not in ("1", "true"):
                    raise bad_request(f"explain= takes 1 or true, not {explain!r}")
                if "version" in request.query_params:
                    raise bad_request(
                        "explain=1 explains the version served now; not with version="
                    )
                live = self.service.live
                snap = live.current
                explanation = await run_in_threadpool(live.explain, key, snap)
                return json_response(explanation.to_dict(), headers=_headers(snap, False))
            snap = await self._snapshot(int_param(request.query_params, "version", minimum=1))
        if etag_matches(request.headers.get("if-none-match"), _etag(snap, secrets)):
            return _not_modified(snap, secrets)
        found = self.values.get(snap, secrets, key)
        if found is None:
            try:
                value = snap.lookup(key)
            except KeyError:
                raise ApiError(
                    404, "key-not-found", "No such key", f"no key {key!r} in v{snap.version}"
                ) from None
            if not secrets:
                value = redact(value, self._sensitive(), split_dotted(key))
            body = {"key": key, "version": snap.version, "value": value}
            encoded = json_response(body, headers=_headers(snap, secrets))
            found = (bytes(encoded.body), encoded.raw_headers)
            self.values.put(snap, secrets, key, found)
        return Prepared(*found)

    async def versions(self, request: Request) -> Response:
        """``GET /v1/versions[?limit=N]``: the history, newest first (metadata only)."""
        live = self.service.live
        limit = int_param(request.query_params, "limit", minimum=1) or 100
        history = await run_in_threadpool(live.history, min(limit, MAX_LIMIT))
        secrets = self.service.auth.sees_secrets(request)
        body = {"current": live.version, "versions": [_info(v, secrets) for v in history]}
        return json_response(body)

    async def version(self, request: Request) -> Response:
        """``GET /v1/versions/{n}``: one version's metadata and data."""
        raw: str = request.path_params["n"]
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_VERSION:
            raise bad_request(f"a version is a positive integer, not {raw!r}")
        secrets = self.service.auth.sees_secrets(request)
        snap = await self._snapshot(int(raw))
        if etag_matches(request.headers.get("if-none-match"), _etag(snap, secrets)):
            return _not_modified(snap, secrets)
        data = snap if secrets else redact(snap, self._sensitive())
        body = {**_info(snap.info, secrets), "current": snap.version == self.service.live.version}
        body["data"] = data
        return json_response(body, headers=_headers(snap, secrets))

    async def diff(self, request: Request) -> Response:
        """``GET /v1/diff?from=A&to=B``: the impact report (default: the last change; for
        v1, the first version's report: every key added)."""
        live = self.service.live
        query = request.query_params
        new = int_param(query, "to", minimum=1) or live.version
        old = int_param(query, "from", minimum=1)
        if old is None and new > 1:
            old = new - 1
        try:
            report = await run_in_threadpool(live.compare, old, new)
        except VersionNotFoundError as exc:
            raise _no_version(exc) from None
        return json_response(report_dict(report, self.service.auth.sees_secrets(request)))

    async def rejections(self, request: Request) -> Response:
        """``GET /v1/rejections[?limit=N]``: rejected candidates, newest first (redacted)."""
        live = self.service.live
        limit = int_param(request.query_params, "limit", minimum=1) or 50
        found = await run_in_threadpool(live.rejections, min(limit, MAX_LIMIT))
        secrets = self.service.auth.sees_secrets(request)
        return json_response({"rejections": [rejection_dict(r, secrets) for r in found]})
