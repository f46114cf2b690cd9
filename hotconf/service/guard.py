"""Connection limits uvicorn does not enforce by itself: a header timeout and a cap.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but only while no
byte arrives: a connection that sends part of a request's headers (one byte now and then, or
nothing at all after connecting) is never closed, and each one holds a file descriptor. And
``limit_concurrency`` answers 503 to *requests* beyond the limit, which a client that never
finishes its headers never makes. `guarded` wraps uvicorn's HTTP protocol class so that

- a connection must finish a request's headers within ``header_timeout`` seconds of
  connecting, and of the end of its previous response; otherwise it is answered 408 and
  closed (a request being answered, a long-poll say, is not timed);
- a connection beyond ``max_connections`` open ones is answered 503 at once and closed.

`hotconf.service.server.serve` uses it together with uvicorn's own ``timeout_keep_alive``
and ``limit_concurrency`` (docs/service.md, "Limits").
"""

from __future__ import annotations

import asyncio
from typing import Any

HEADER_TIMEOUT = 10.0
MAX_CONNECTIONS = 4096
KEEP_ALIVE = 5

_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
    b"content-length: 51\r\n\r\nthe request headers did not arrive within the limit"
)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nconnection: close\r\n"
    b"retry-after: 1\r\ncontent-length: 28\r\n\r\ntoo many connections; retry"
)


def base_protocol() -> type[asyncio.Protocol]:
    """The HTTP protocol class uvicorn's ``http="auto"`` would pick."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # httptools not installed: uvicorn uses h11
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def guarded(
    base: type[Any] | None = None,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` with a header timeout and a connection cap.

    Args:
        base: a uvicorn HTTP protocol class (default: `base_protocol`).
        header_timeout: seconds a connection has to send a request's headers.
        max_connections: open connections beyond this are answered 503 and closed.

    Returns:
        A protocol class to pass as ``uvicorn.Config(http=...)``.
    """
    parent: type[Any] = base or base_protocol()

    class Guarded(parent):  # type: ignore[misc]
        _refused = False
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self._refuse(_BUSY)
            else:
                self._arm()

        def _refuse(self, answer: bytes) -> None:
            # Answer, send FIN, and drop what the client still sends until it closes (or a
            # second has passed): closing with unread input would reset the connection, and
            # the client would never see the answer.
            self._refused = True
            transport = self.transport
            transport.write(answer)
            if transport.can_write_eof():
                transport.write_eof()
            self.loop.call_later(1.0, transport.close)

        def data_received(self, data: bytes) -> None:
            if not self._refused:
                super().data_received(data)

        def eof_received(self) -> None:
            if self._refused:
                self.transport.close()
            else:
                super().eof_received()

        def _arm(self) -> None:
            # A request that starts meanwhile replaces self.cycle: the timer then lets it be.
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout, self._expire, self.cycle)

        def _expire(self, armed: object) -> None:
            self._header_timer = None
            if self.cycle is armed and not self._refused and not self.transport.is_closing():
                self._refuse(_TIMEOUT)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{parent.__name__}"
    return Guarded


__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE", "MAX_CONNECTIONS", "base_protocol", "guarded"]
