"""``GET /v1/events``: what happens to the config, as server-sent events (the console's feed).

A stream opens with a ``state`` event (readiness, the version served, when the newest
rejection was recorded), so a client that reconnects can tell whether it missed anything,
then sends each event as it happens:

- ``version``: a version went live (``version``, ``type``, ``level``, ``changes``);
- ``rejection``: a candidate was refused (``at``, ``source``, ``problems``: how many);
- ``rollout``: a canary rollout started, was promoted or aborted (``id``, ``type``);
- ``state``: readiness moved (``state``, ``version``).

Nothing secret travels (versions, levels, counts, times), so the stream is open like
``/v1/versions`` and ``/v1/rejections``: a browser's ``EventSource`` cannot send an
``Authorization`` header, and needs none. A comment line every 15 seconds keeps proxies from
closing an idle stream; a stream ends after ``max_wait`` seconds (``EventSource`` reconnects
by itself) and at once when the service shuts down, so it never holds a shutdown up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .http import dumps

if TYPE_CHECKING:
    from .app import Service

KEEP_ALIVE = 15.0


class EventFeed:
    """The recent events, numbered; waiters wake when one is added.

    One `asyncio.Event` stands for "the next event", as in `VersionFeed`: `publish` (from any
    thread) appends an event and sets it, and puts a fresh one in its place.

    Args:
        keep: how many recent events to remember for streams that are behind.
    """

    def __init__(self, keep: int = 64) -> None:
        self._recent: deque[tuple[int, str, dict[str, Any]]] = deque(maxlen=keep)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bumped = asyncio.Event()
        self._closed = False
        self.seq = 0
        """The number of the newest event (0: none yet)."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (at start-up, in that loop)."""
        self._loop = loop
        self._bumped = asyncio.Event()
        self._closed = False

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Add an event; from any thread (subscribers run in the reload worker)."""
        self._call(lambda: self._add(kind, data))

    def close(self) -> None:
        """End every stream now (shutting down); from any thread."""
        self._closed = True
        self._call(self._bump)

    @property
    def closed(self) -> bool:
        return self._closed

    def _call(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(fn)

    def _add(self, kind: str, data: dict[str, Any]) -> None:
        self.seq += 1
        self._recent.append((self.seq, kind, data))
        self._bump()

    def _bump(self) -> None:
        bumped, self._bumped = self._bumped, asyncio.Event()
        bumped.set()

    async def after(self, seq: int, timeout: float) -> tuple[list[tuple[int, str, Any]], bool]:
        """The events newer than ``seq``, waiting up to ``timeout`` seconds for one.

        Returns:
            The events (empty on timeout or close), and whether some newer than ``seq`` were
            already forgotten (the caller then resynchronises from the present state).
        """
        if self.seq <= seq and not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._bumped.wait()
        found = [e for e in self._recent if e[0] > seq]
        missed = self.seq > seq and (not found or found[0][0] > seq + 1)
        return found, missed


def frame(kind: str, data: Any, seq: int | None = None) -> bytes:
    """One server-sent event (the JSON is one line: `dumps` writes no newline)."""
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: ".encode() + dumps(data) + b"\n\n"


class EventsApi:
    """The event stream of one `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def state(self) -> dict[str, Any]:
        """What a client compares its page with: readiness, version, newest rejection."""
        service = self.service
        live = service.live_if_ready()
        rejected_at = service.rejected_at
        return {
            "state": service.readiness.state,
            "version": live.version if live is not None else None,
            "rejected_at": rejected_at.isoformat() if rejected_at is not None else None,
        }

    async def events(self, request: Request) -> Response:
        """``GET /v1/events``: a ``text/event-stream`` of versions, rejections, rollouts."""
        feed = self.service.events
        seq = feed.seq
        hello = frame("state", self.state(), seq)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.service.max_wait

        async def stream() -> AsyncIterator[bytes]:
            nonlocal seq
            yield b"retry: 2000\n\n" + hello
            while not feed.closed:
                left = deadline - loop.time()
                if left <= 0:
                    return
                found, missed = await feed.after(seq, min(KEEP_ALIVE, left))
                if feed.closed:
                    return
                if missed:
                    seq = feed.seq
                    yield frame("state", self.state(), seq)
                elif found:
                    seq = found[-1][0]
                    yield b"".join(frame(kind, data, n) for n, kind, data in found)
                else:
                    yield b": keep-alive\n\n"

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
