"""The service's readiness state machine, and the version feed that wakes long-polls.

Readiness goes one way::

    starting ──▶ warming ──▶ ready ──▶ shutting_down
        │           │          ╎
        └───────────┴──▶ failed ──▶ shutting_down

``starting``: the process is up and the config is being opened (source read, validated, store
opened); ``warming``: it is open and the service is wiring its feed and metrics; ``ready``:
it serves. ``degraded`` is ``ready`` while the LiveConfig serves its last-known-good because
the source is rejected: still ready (the config served is valid), and said so. ``failed``:
start-up found no valid config; ``shutting_down``: a signal came, ``/readyz`` answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Literal

log = logging.getLogger("hotconf")

State = Literal["starting", "warming", "ready", "degraded", "failed", "shutting_down"]
STATES: tuple[State, ...] = (
    "starting",
    "warming",
    "ready",
    "degraded",
    "failed",
    "shutting_down",
)
_NEXT: dict[State, frozenset[State]] = {
    "starting": frozenset({"warming", "failed", "shutting_down"}),
    "warming": frozenset({"ready", "failed", "shutting_down"}),
    "ready": frozenset({"shutting_down"}),
    "failed": frozenset({"shutting_down"}),
    "shutting_down": frozenset(),
}


class Readiness:
    """Where the service is in its life; safe to read and advance from any thread.

    Args:
        degraded: tells whether the config served is the last-known-good of a rejected
            source; asked on each read, so ``degraded`` never lags the LiveConfig.
    """

    def __init__(self, degraded: Callable[[], bool]) -> None:
        self._degraded = degraded
        self._lock = threading.Lock()
        self._phase: State = "starting"
        self.transitions: list[State] = ["starting"]
        """Every phase entered, in order (``degraded`` is not a phase: see `state`)."""

    @property
    def state(self) -> State:
        """The phase, or ``degraded`` when ready on a last-known-good."""
        phase = self._phase
        if phase == "ready" and self._degraded():
            return "degraded"
        return phase

    @property
    def ready(self) -> bool:
        """Serving a valid config and not shutting down (``ready`` or ``degraded``)."""
        return self._phase == "ready"

    @property
    def shutting_down(self) -> bool:
        return self._phase == "shutting_down"

    def advance(self, to: State) -> bool:
        """Move to the phase ``to``; False (and nothing changes) when not allowed from here."""
        with self._lock:
            if to not in _NEXT[self._phase]:
                return False
            # one assignment: a reader in another thread (a probe) sees the old or the new
            self._phase = to
            self.transitions.append(to)
        log.info("hotconf: service %s", to.replace("_", " "))
        return True


class VersionFeed:
    """Wakes every long-poll waiting for a version newer than the one it has.

    One `asyncio.Event` stands for "the next version bump": waiters await it, a bump sets it
    and puts a fresh one in its place, so a change releases a thousand waiters with one
    ``set()`` and no waiter ever polls. The truth is always ``version()``, the LiveConfig's
    current version: the event only says when to look again.

    Args:
        version: the version served now.
    """

    def __init__(self, version: Callable[[], int]) -> None:
        self._version = version
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bumped = asyncio.Event()
        self._closed = False
        self.waiting = 0
        """How many long-polls wait now (a metric)."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (at start-up, in that loop)."""
        self._loop = loop
        self._bumped = asyncio.Event()
        self._closed = False

    def publish(self) -> None:
        """A newer version went live; call from any thread (a subscriber calls it).

        Waiters then read the version themselves: a bump carries no number to go stale.
        """
        self._call(self._bump)

    def close(self) -> None:
        """Release every waiter now (shutting down) and refuse new ones; from any thread."""
        self._closed = True
        self._call(self._bump)

    def _call(self, fn: Callable[[], None]) -> None:
        # Always through the loop's queue, even from the loop's own thread: close() runs in
        # a signal handler, which may interrupt the loop anywhere.
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(fn)

    def _bump(self) -> None:
        bumped, self._bumped = self._bumped, asyncio.Event()
        bumped.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_after(self, after: int, timeout: float) -> bool:
        """Wait until a version newer than ``after`` is served, at most ``timeout`` seconds.

        Returns:
            True when one is served; False on timeout, or when the feed closes first.
        """
        if self._version() > after:
            return True
        self.waiting += 1
        try:
            async with asyncio.timeout(timeout):
                while self._version() <= after and not self._closed:
                    await self._bumped.wait()
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1
        return self._version() > after
