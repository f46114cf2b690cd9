"""One version per request: middleware that pins a LiveConfig's config for each request.

A reload can land in the middle of a request. Code that reads ``live.current`` twice may then
see two versions; code that reads ``live.pinned`` under this middleware sees the one version
pinned when the request began, for the whole request (streamed bodies included), in the
request's task and in the threads Starlette and FastAPI run sync code in (docs/pins.md)::

    app.add_middleware(PinMiddleware, live=live)                # Starlette, FastAPI
    app = PinMiddleware(app, live)                              # any ASGI app
    app.wsgi_app = PinWSGIMiddleware(app.wsgi_app, live)        # Flask
    application = PinWSGIMiddleware(get_wsgi_application(), live)  # Django (wsgi.py)

    @app.get("/")                                               # FastAPI
    async def index(cfg=Depends(pinned_config(live))): ...

Canaries need nothing more. While a canary rollout runs (``live.rollout(...)``), each request
is pinned to the canary or the stable config by its routing key (`LiveConfig.config_for`), and
its outcome (a 5xx or an exception is a failure) is recorded against the config that served it
(`LiveConfig.record`, run off the event loop: the record that decides the rollout commits it),
which is what promotes or aborts the rollout. On an `EtcdSource` each outcome also counts for
the fleet version that served it, which fleet canaries weigh. The routing key is random per
request by default: pass ``routing_key=`` (a user id, a session cookie) so that one user keeps
one arm. ``canary_header=True`` also sends every request carrying an ``x-hotconf-canary``
header to the canary (traffic dyeing): only behind a hop that strips it from outside
requests, since a dyed request is served an unreleased config and counts for the canary.

Hooks, the same in both kinds of middleware:

- ``routing_key(scope_or_environ) -> str | bytes | int``: the key that picks the arm during
  a canary (default: a new random key per request).
- ``canary_header=True``: a request with the ``x-hotconf-canary`` header gets the canary.
- ``select(scope_or_environ) -> config``: what to pin, replacing the choice above.
- ``on_response(config, ok)``: called once the request is over with the config it was
  served with, and ``ok`` False when the response was a 5xx or the app raised. An exception
  it raises is logged, never passed to the server.
- ``record=False``: do not record outcomes (the app calls ``rollout.record`` itself).

Nothing here imports a web framework: each class is a plain ASGI or WSGI callable.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol

log = logging.getLogger("hotconf")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
OnResponse = Callable[[Any, bool], object]
"""``on_response(config, ok)``: the request is over; ``ok`` is False for a 5xx or an error."""
RoutingKey = str | bytes | int

CANARY_HEADER = "x-hotconf-canary"
"""A request carrying this header is served the canary while a canary rollout runs."""
_ASGI_CANARY = CANARY_HEADER.encode()
_WSGI_CANARY = "HTTP_" + CANARY_HEADER.upper().replace("-", "_")


class Live(Protocol):
    """What the middleware needs of a `hotconf.LiveConfig`."""

    @property
    def current(self) -> Any: ...

    @property
    def pinned(self) -> Any: ...

    def pin(self, config: Any = None) -> AbstractContextManager[Any]: ...

    @property
    def active_rollout(self) -> object | None: ...

    def config_for(self, routing_key: RoutingKey, dyed: bool = False) -> Any: ...

    def record(self, config: Any, ok: bool) -> None: ...


def _random_key(_request: object) -> int:
    return random.getrandbits(64)


class _Hooks:
    """What both kinds of middleware do around a request: choose the config, report the end."""

    def __init__(
        self,
        live: Live,
        select: Callable[[Any], Any] | None,
        routing_key: Callable[[Any], RoutingKey] | None,
        on_response: OnResponse | None,
        record: bool,
        dyed: Callable[[Any], bool] | None,
    ) -> None:
        self.live = live
        self.select = select
        self.routing_key = routing_key or _random_key
        self.on_response = on_response
        # a LiveConfig records; an object with only the older protocol (current, pin) does not
        self.record = record and callable(getattr(live, "record", None))
        self.dyed = dyed

    def rolling_out(self) -> bool:
        return getattr(self.live, "active_rollout", None) is not None

    def choose(self, request: Any) -> Any:
        if self.select is not None:
            return self.select(request)
        live = self.live
        if not self.rolling_out():
            return live.current
        dyed = self.dyed is not None and self.dyed(request)
        return live.config_for(self.routing_key(request), dyed)

    def done(self, config: Any, ok: bool) -> None:
        self.count(config, ok)
        self.report(config, ok)

    def count(self, config: Any, ok: bool) -> None:
        if self.record:
            try:
                self.live.record(config, ok)
            except Exception:
                log.exception("hotconf: recording a request's outcome failed")

    def report(self, config: Any, ok: bool) -> None:
        if self.on_response is not None:
            try:
                self.on_response(config, ok)
            except Exception:
                log.exception("hotconf: on_response raised; the response is not affected")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (trio): recorded in place
        return None


def _asgi_dyed(scope: Scope) -> bool:
    return any(name == _ASGI_CANARY for name, _ in scope.get("headers", ()))


def _wsgi_dyed(environ: dict[str, Any]) -> bool:
    return _WSGI_CANARY in environ


class PinMiddleware:
    """ASGI middleware: each HTTP request and WebSocket runs with one config pinned.

    Args:
        app: the ASGI app it wraps.
        live: the `hotconf.LiveConfig` whose config is pinned.
        select: ``select(scope)`` gives the config to pin (default ``live.current``, or
            during a canary ``live.config_for(routing_key(scope), dyed)``).
        routing_key: ``routing_key(scope)`` picks the arm during a canary (default: random
            per request).
        canary_header: a request carrying ``x-hotconf-canary`` gets the canary (only where
            a trusted hop sets it).
        on_response: ``on_response(config, ok)`` once the request is over (see the module
            docstring).
        record: record each outcome with ``live.record(config, ok)`` (default ``True``).
    """

    def __init__(
        self,
        app: ASGIApp,
        live: Live,
        *,
        select: Callable[[Scope], Any] | None = None,
        routing_key: Callable[[Scope], RoutingKey] | None = None,
        canary_header: bool = False,
        on_response: OnResponse | None = None,
        record: bool = True,
    ) -> None:
        self.app = app
        self.live = live
        dyed = _asgi_dyed if canary_header else None
        self._hooks = _Hooks(live, select, routing_key, on_response, record, dyed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        hooks = self._hooks
        config = hooks.choose(scope)
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        ok = False
        try:
            with self.live.pin(config):
                await self.app(scope, receive, send_status)
            ok = status < 500
        finally:
            loop = _running_loop() if hooks.record and hooks.rolling_out() else None
            if loop is not None:  # the record that decides a rollout commits it: off the loop
                await loop.run_in_executor(None, hooks.count, config, ok)
            else:
                hooks.count(config, ok)
            hooks.report(config, ok)


class PinWSGIMiddleware:
    """WSGI middleware: each request, its response body included, runs with one config pinned.

    The app runs in a copy of the server thread's context (`contextvars.copy_context`) that
    holds the pin, and so does each step of the body's iteration and its ``close()``: the
    server's own context is never changed.

    Args:
        app: the WSGI app it wraps (Flask's ``app.wsgi_app``, Django's ``application``).
        live: the `hotconf.LiveConfig` whose config is pinned.
        select: ``select(environ)`` gives the config to pin (default ``live.current``, or
            during a canary ``live.config_for(routing_key(environ), dyed)``).
        routing_key: ``routing_key(environ)`` picks the arm during a canary (default:
            random per request).
        canary_header: a request carrying ``x-hotconf-canary`` gets the canary (only where
            a trusted hop sets it).
        on_response: ``on_response(config, ok)`` once the body is closed (see the module
            docstring).
        record: record each outcome with ``live.record(config, ok)`` (default ``True``).
    """

    def __init__(
        self,
        app: WSGIApp,
        live: Live,
        *,
        select: Callable[[dict[str, Any]], Any] | None = None,
        routing_key: Callable[[dict[str, Any]], RoutingKey] | None = None,
        canary_header: bool = False,
        on_response: OnResponse | None = None,
        record: bool = True,
    ) -> None:
        self.app = app
        self.live = live
        dyed = _wsgi_dyed if canary_header else None
        self._hooks = _Hooks(live, select, routing_key, on_response, record, dyed)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        hooks = self._hooks
        config = hooks.choose(environ)
        context = contextvars.copy_context()
        context.run(self.live.pin(config).__enter__)  # left set: the copy is dropped after
        status = [0]

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        try:
            body = context.run(self.app, environ, start)
        except BaseException:
            hooks.done(config, False)
            raise
        return _Body(body, context, lambda ok: hooks.done(config, ok), status)


class _Body:
    """The app's response body, iterated and closed inside the request's context."""

    def __init__(
        self,
        body: Iterable[bytes],
        context: contextvars.Context,
        done: Callable[[bool], None],
        status: list[int],
    ) -> None:
        self._body = body
        self._iter: Iterator[bytes] | None = None
        self._context = context
        self._done: Callable[[bool], None] | None = done
        self._status = status
        self._failed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            if self._iter is None:
                self._iter = self._context.run(iter, self._body)
            return self._context.run(next, self._iter)
        except StopIteration:
            raise
        except BaseException:
            self._failed = True
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                self._context.run(close)
        except BaseException:
            self._failed = True
            raise
        finally:
            done, self._done = self._done, None
            if done is not None:
                done(not self._failed and self._status[0] < 500)

    def __enter__(self) -> _Body:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def pinned_config(live: Live) -> Callable[[], Awaitable[Any]]:
    """A FastAPI dependency (``Depends(pinned_config(live))``) that gives a handler the
    request's config: the one `PinMiddleware` pinned, else ``live.current``.

    FastAPI resolves a dependency once per request, so every handler and dependency that
    asks for it gets the same config even without the middleware; with it, code that
    reads ``live.pinned`` deeper down agrees with it too. It is a plain async callable:
    FastAPI is not imported.
    """

    async def config() -> Any:
        return live.pinned

    config.__qualname__ = config.__name__ = "hotconf_config"
    return config


__all__ = [
    "CANARY_HEADER",
    "OnResponse",
    "PinMiddleware",
    "PinWSGIMiddleware",
    "RoutingKey",
    "pinned_config",
]
