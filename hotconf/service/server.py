"""Running a `hotconf.service.app.Service` on uvicorn: binding, signals, the heap
(``hotconf serve``).

`serve` binds first (so ``--port 0`` can be announced), refuses to listen beyond loopback while
mutating endpoints are open, runs uvicorn with hotconf's own signal handling (readiness false
at once; exit 0, not the signal re-raised) and connection limits (`uvicorn_config`), and
raises the start-up failure, if any.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import math
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from ..errors import HotconfError
from .guard import HEADER_TIMEOUT, KEEP_ALIVE, MAX_CONNECTIONS, guarded
from .http import Auth

if TYPE_CHECKING:
    from .app import Service

log = logging.getLogger("hotconf")


def is_loopback(host: str) -> bool:
    """Does ``host`` resolve to loopback addresses only?"""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_bind(host: str, auth: Auth) -> None:
    """Refuse to bind beyond loopback while mutating endpoints are open (no admin token).

    Raises:
        HotconfError: ``host`` is not loopback and there is no admin token.
    """
    if not auth.has_admin and not is_loopback(host):
        raise HotconfError(
            f"refusing to listen on {host}: without a token anybody who reaches the port "
            "could reload and roll back the config; set --token-file or HOTCONF_TOKEN, or "
            "listen on 127.0.0.1"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    # proto must say TCP: asyncio sets TCP_NODELAY only on sockets that do, and without it
    # a response written in two parts waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


class Server(uvicorn.Server):
    """uvicorn's server, with hotconf's signal handling.

    SIGTERM or SIGINT calls ``on_signal`` (readiness false, long-polls released) and starts
    uvicorn's graceful shutdown; a second SIGINT forces it. Unlike uvicorn, the signal is not
    raised again once the server has stopped: the process exits 0.
    """

    def __init__(self, config: uvicorn.Config, on_signal: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_signal = on_signal

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only: a server in a thread is stopped
            return  # by setting should_exit
        loop = asyncio.get_running_loop()

        def stop() -> None:
            self._on_signal()
            self.should_exit = True

        def handle(signum: int, frame: FrameType | None) -> None:
            if self.should_exit and signum == signal.SIGINT:
                self.force_exit = True
            else:
                # a signal handler may interrupt the loop anywhere: hand over to the loop
                loop.call_soon_threadsafe(stop)

        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {s: signal.signal(s, handle) for s in signals}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def uvicorn_config(
    service: Service,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> uvicorn.Config:
    """How hotconf runs uvicorn: its lifespan and logging, and the connection limits
    (`hotconf.service.guard`): request headers within ``header_timeout`` seconds, idle
    keep-alive connections closed after `KEEP_ALIVE` seconds, at most ``max_connections``
    open connections (503 beyond)."""
    return uvicorn.Config(
        service.app,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(service.shutdown_timeout),
        http=guarded(header_timeout=header_timeout, max_connections=max_connections),
        timeout_keep_alive=KEEP_ALIVE,
        # uvicorn answers 503 to requests at >= this; the guard's cap is the one that counts
        limit_concurrency=max_connections + 1,
    )


def serve(
    service: Service,
    *,
    host: str = "127.0.0.1",
    port: int = 8750,
    announce: Callable[[str], object] = print,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> None:
    """Run the service until SIGTERM or SIGINT (in the main thread; blocks).

    Args:
        service: the service to run.
        host: the address to listen on; beyond loopback only with an admin token.
        port: the port; 0 picks a free one.
        announce: called once with ``"listening on http://HOST:PORT"`` (the port bound).
        header_timeout: seconds a connection has to send a request's headers (408 after).
        max_connections: open connections beyond this are answered 503 and closed.

    Raises:
        HotconfError: binding is refused (see `check_bind`), or start-up failed (the
            error from opening the config, e.g. `NoValidConfigError`).
        OSError: the address cannot be bound.
    """
    check_bind(host, service.auth)
    if service.auth.open_mutations:
        log.warning(
            "hotconf: no token configured: reload and rollback are open to local callers; "
            "listening on loopback only"
        )
    sock = bind(host, port)
    config = uvicorn_config(service, header_timeout=header_timeout, max_connections=max_connections)
    server = Server(config, service.begin_shutdown)

    def failed(exc: BaseException) -> None:
        server.should_exit = True

    service.on_failure = failed
    service.on_ready = _freeze_heap
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    announce(f"listening on http://{shown}:{bound_port}")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if service.failure is not None:
        raise service.failure


def _freeze_heap() -> None:
    """Move everything alive at start-up out of the garbage collector's sight.

    Start-up leaves a large heap that never dies (Starlette, jsonschema and its format
    checkers, the schema, the config); without this every full collection walks it, and one
    that lands while a thousand long-polls are released holds them all up for 100+ ms. This
    process is ours (``hotconf serve``), so the heap is ours to freeze.
    """
    gc.collect()
    gc.freeze()
