"""A small client for etcd's v3 HTTP/JSON gateway; the only module that speaks to etcd.

Why not ``etcd3gw``: its watcher ignores the ``canceled``/``compact_revision`` message etcd
sends when a watch starts at a compacted revision (the watch then silently delivers nothing),
and a dropped connection ends its reader thread with no signal and no resume. Fleet mode needs
both handled, so this module speaks to the gateway with httpx and returns plain values.

The gateway takes and returns JSON; keys and values are base64, 64-bit numbers are strings,
fields at their default value are left out (an empty range has no ``kvs``; a failed
transaction has no ``succeeded``). Streaming calls (``watch``) answer with one JSON object per
line, each wrapped in ``{"result": ...}``. The path prefix is ``/v3/`` from etcd 3.4 on,
``/v3beta/`` on 3.3 and ``/v3alpha/`` before; it is discovered from ``/version``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import EtcdError

# A watch stream is idle while nothing changes: no read timeout, but TCP keepalive probes
# notice a peer that vanished without closing the connection (a host gone, a partition).
_KEEPALIVE: list[tuple[int, int, int]] = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
for _opt, _value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
    if hasattr(socket, _opt):
        _KEEPALIVE.append((socket.IPPROTO_TCP, getattr(socket, _opt), _value))


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def prefix_end(prefix: str) -> str:
    """The ``range_end`` that makes a range cover every key starting with ``prefix``."""
    raw = prefix.encode()
    return (raw[:-1] + bytes([raw[-1] + 1])).decode()


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key as etcd holds it."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class RangeResult:
    """Keys read, and the store revision they were read at."""

    revision: int
    kvs: tuple[KeyValue, ...]


@dataclass(frozen=True, slots=True)
class WatchMessage:
    """One message of a watch stream.

    ``created``: the watch is in place; ``compact_revision`` (with ``canceled``): the start
    revision was compacted, so the watcher must re-list; ``events``: changed keys
    (``(type, kv)`` with type ``PUT`` or ``DELETE``); ``revision``: the header revision.
    """

    revision: int
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""
    events: tuple[tuple[str, KeyValue], ...] = field(default=())


def _kv(raw: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=base64.b64decode(raw.get("key", "")).decode("utf-8", "replace"),
        value=base64.b64decode(raw.get("value", "")),
        create_revision=int(raw.get("create_revision", 0)),
        mod_revision=int(raw.get("mod_revision", 0)),
        version=int(raw.get("version", 0)),
        lease=int(raw.get("lease", 0)),
    )


def _revision(body: dict[str, Any]) -> int:
    return int(body.get("header", {}).get("revision", 0))


class Etcd:
    """A connection to one etcd cluster (several client URLs: tried in turn on failure).

    Args:
        url: ``http://host:2379``, or several comma-separated.
        timeout: seconds for a unary call (connect and read).
    """

    def __init__(self, url: str | Sequence[str], *, timeout: float = 5.0) -> None:
        urls = [u.strip().rstrip("/") for u in (url.split(",") if isinstance(url, str) else url)]
        self.urls = [u for u in urls if u]
        if not self.urls or not all(u.startswith(("http://", "https://")) for u in self.urls):
            raise EtcdError(f"not an etcd client URL: {url!r} (want http://host:port)")
        self.timeout = timeout
        self._at = 0
        self._api: str | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            transport=httpx.HTTPTransport(socket_options=_KEEPALIVE),
        )

    @property
    def url(self) -> str:
        return self.urls[self._at % len(self.urls)]

    def _failover(self) -> None:
        with self._lock:
            self._at += 1
            self._api = None

    def _base(self) -> str:
        if self._api is None:
            try:
                resp = self._http.get(f"{self.url}/version")
                version = resp.json()["etcdserver"]
                major_minor = tuple(int(p) for p in version.split(".")[:2])
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                raise EtcdError(f"etcd at {self.url} is unreachable: {_why(exc)}") from exc
            self._api = (
                "/v3"
                if major_minor >= (3, 4)
                else "/v3beta"
                if major_minor >= (3, 3)
                else "/v3alpha"
            )
        return f"{self.url}{self._api}"

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one unary request; try the next URL once when one is unreachable."""
        for attempt in range(len(self.urls)):
            try:
                resp = self._http.post(self._base() + path, json=body)
            except RuntimeError as exc:  # the client was closed (the source is stopping)
                raise EtcdError(f"the etcd client is closed: {exc}") from exc
            except httpx.TransportError as exc:
                if attempt + 1 < len(self.urls):
                    self._failover()
                    continue
                raise EtcdError(f"etcd at {self.url} is unreachable: {_why(exc)}") from exc
            except EtcdError:
                if attempt + 1 < len(self.urls):
                    self._failover()
                    continue
                raise
            return _answer(resp, path)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- key-value ---------------------------------------------------------------------

    def range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        revision: int | None = None,
        limit: int | None = None,
        descending: bool = False,
        keys_only: bool = False,
    ) -> RangeResult:
        body: dict[str, Any] = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if revision is not None:
            body["revision"] = revision
        if limit is not None:
            body["limit"] = limit
        if descending:
            body["sort_order"] = "DESCEND"
            body["sort_target"] = "KEY"
        if keys_only:
            body["keys_only"] = True
        answer = self.call("/kv/range", body)
        return RangeResult(_revision(answer), tuple(_kv(kv) for kv in answer.get("kvs", ())))

    def get(self, key: str) -> KeyValue | None:
        kvs = self.range(key).kvs
        return kvs[0] if kvs else None

    def put(self, key: str, value: bytes, *, lease: int = 0) -> int:
        body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = lease
        return _revision(self.call("/kv/put", body))

    def txn(
        self,
        compare: Sequence[dict[str, Any]],
        success: Sequence[dict[str, Any]],
        failure: Sequence[dict[str, Any]] = (),
    ) -> tuple[bool, int]:
        """One transaction: ``(succeeded, revision)``. Use `cmp`, `put_op` and `delete_op`."""
        answer = self.call(
            "/kv/txn",
            {"compare": list(compare), "success": list(success), "failure": list(failure)},
        )
        return bool(answer.get("succeeded", False)), _revision(answer)

    def compact(self, revision: int) -> None:
        self.call("/kv/compaction", {"revision": revision, "physical": True})

    # -- leases ------------------------------------------------------------------------

    def grant(self, ttl: int) -> int:
        return int(self.call("/lease/grant", {"TTL": ttl})["ID"])

    def keepalive(self, lease: int) -> int:
        """Refresh a lease; returns its TTL, 0 when it has expired."""
        answer = self.call("/lease/keepalive", {"ID": lease})
        return int(answer.get("result", answer).get("TTL", 0))

    def revoke(self, lease: int) -> None:
        with contextlib.suppress(EtcdError):  # gone already: that is what we wanted
            self.call("/lease/revoke", {"ID": lease})

    # -- watching ----------------------------------------------------------------------

    def watch(self, key: str, range_end: str | None, start_revision: int) -> WatchStream:
        """Open a watch stream on ``[key, range_end)`` from ``start_revision`` (inclusive)."""
        create: dict[str, Any] = {
            "key": b64(key),
            "start_revision": start_revision,
            "progress_notify": True,
        }
        if range_end is not None:
            create["range_end"] = b64(range_end)
        request = self._http.build_request(
            "POST",
            self._base() + "/watch",
            json={"create_request": create},
            timeout=httpx.Timeout(None, connect=min(self.timeout, 2.0)),
        )
        try:
            resp = self._http.send(request, stream=True)
        except RuntimeError as exc:
            raise EtcdError(f"the etcd client is closed: {exc}") from exc
        except httpx.TransportError as exc:
            self._failover()
            raise EtcdError(f"etcd at {self.url} is unreachable: {_why(exc)}") from exc
        if resp.status_code != 200:
            resp.read()
            resp.close()
            _answer(resp, "/watch")
        return WatchStream(resp)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Etcd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WatchStream:
    """An open watch: iterate for `WatchMessage`s; `close` from any thread ends it."""

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self._closed = False

    def __iter__(self) -> Iterator[WatchMessage]:
        try:
            for line in self._resp.iter_lines():
                if not line.strip():
                    continue
                yield _watch_message(json.loads(line))
        except (httpx.HTTPError, ValueError) as exc:
            if self._closed:
                return
            raise EtcdError(f"the watch stream broke: {_why(exc)}") from exc
        if not self._closed:
            raise EtcdError("etcd closed the watch stream")

    def close(self) -> None:
        """End the stream; a thread blocked reading it returns at once."""
        self._closed = True
        # Closing an httpx response does not wake a reader blocked in recv() on another
        # thread; shutting the socket down does.
        stream = self._resp.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._resp.close()


def _watch_message(raw: dict[str, Any]) -> WatchMessage:
    if "error" in raw:
        err = raw["error"]
        raise EtcdError(f"etcd refused the watch: {err.get('message', err)}")
    result = raw.get("result", {})
    events = tuple(
        (str(ev.get("type", "PUT")), _kv(ev.get("kv", {}))) for ev in result.get("events", ())
    )
    return WatchMessage(
        revision=_revision(result),
        created=bool(result.get("created", False)),
        canceled=bool(result.get("canceled", False)),
        compact_revision=int(result.get("compact_revision", 0)),
        cancel_reason=str(result.get("cancel_reason", "")),
        events=events,
    )


def _answer(resp: httpx.Response, path: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200:
        message = body.get("message") or body.get("error") or resp.text[:200]
        raise EtcdError(f"etcd refused {path}: {message} (HTTP {resp.status_code})")
    if not isinstance(body, dict):
        raise EtcdError(f"etcd answered {path} with something that is not a JSON object")
    return body


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def cmp(key: str, target: str, value: int) -> dict[str, Any]:
    """A transaction compare: ``target`` is ``MOD``, ``CREATE`` or ``VERSION``, equal to value."""
    field_name = {"MOD": "mod_revision", "CREATE": "create_revision", "VERSION": "version"}[target]
    return {"key": b64(key), "target": target, "result": "EQUAL", field_name: value}


def put_op(key: str, value: bytes, *, lease: int = 0) -> dict[str, Any]:
    op: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        op["lease"] = lease
    return {"request_put": op}


def delete_op(key: str) -> dict[str, Any]:
    return {"request_delete_range": {"key": b64(key)}}


__all__ = [
    "Etcd",
    "KeyValue",
    "RangeResult",
    "WatchMessage",
    "WatchStream",
    "b64",
    "cmp",
    "delete_op",
    "prefix_end",
    "put_op",
]
