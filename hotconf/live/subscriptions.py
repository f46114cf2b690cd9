"""Subscribers: each one isolated, fed in version order, off the reload path.

A threaded subscription owns a queue and a thread: the reload worker only enqueues, so a
subscriber that raises or hangs delays neither reloads nor other subscribers. An inline one
(the in-memory test source, the asyncio bridge) is called directly, exceptions contained.
`Subscribers` is a `LiveConfig`'s set of them: every subscription ends when it closes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from ..errors import ClosedError
from ..events import ChangeEvent, Event, Rejection, RolloutEvent
from ..pipeline.paths import matches, split_dotted

log = logging.getLogger("hotconf")

_STOP: Any = object()


class Subscription:
    """A registered subscriber; `close` it to stop getting events.

    Attributes:
        keys: the dotted key patterns it listens to (``None``: every change).
        rejections: whether it also gets `Rejection` events.
    """

    def __init__(
        self,
        callback: Callable[[Any], object],
        *,
        keys: Iterable[str] | None,
        rejections: bool,
        threaded: bool,
        on_close: Callable[[Subscription], None],
    ) -> None:
        self.callback = callback
        self.keys = tuple(keys) if keys is not None else None
        self._patterns: Sequence[tuple[str, ...]] | None = (
            [split_dotted(k) for k in self.keys] if self.keys is not None else None
        )
        self.rejections = rejections
        self._on_close = on_close
        self.on_stop: Callable[[], object] | None = None
        self._closed = False
        self._queue: queue.SimpleQueue[Any] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.SimpleQueue()
            name = getattr(callback, "__qualname__", type(callback).__name__)
            self._thread = threading.Thread(
                target=self._drain, name=f"hotconf-subscriber-{name}", daemon=True
            )
            self._thread.start()

    def wants(self, event: Event) -> bool:
        if self._closed:
            return False
        if isinstance(event, Rejection):
            return self.rejections
        if self._patterns is None:
            return True
        return any(matches(c.path, p) for c in event.changes for p in self._patterns)

    def deliver(self, event: Event) -> None:
        if self._queue is not None:
            self._queue.put(event)
        else:
            self._call(event)

    def _call(self, event: Event) -> None:
        try:
            self.callback(event)
        except Exception:
            log.exception(
                "hotconf: subscriber %r raised on %s (version %s); it stays subscribed",
                self.callback,
                event.type,
                event.version if isinstance(event, ChangeEvent) else "-",
            )

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            event = self._queue.get()
            if event is _STOP:
                return
            self._call(event)

    def close(self, timeout: float = 1.0) -> None:
        """Stop delivering. Events already queued are still delivered, up to ``timeout``
        seconds; a subscriber still busy after that is left to finish on its own."""
        if self._closed:
            return
        self._closed = True
        self._on_close(self)
        if self.on_stop is not None:
            self.on_stop()
        if self._queue is not None and self._thread is not None:
            self._queue.put(_STOP)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Subscribers:
    """The subscriptions of one `LiveConfig`: added, notified in order, all closed with it.

    Args:
        threaded: whether callbacks run in threads of their own (not for a synchronous
            source, whose pokes run in the caller's thread).
        name: the config's name, for the error raised once closed.
    """

    def __init__(self, *, threaded: bool, name: str) -> None:
        self.threaded = threaded
        self._name = name
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._closed = False

    def add(
        self,
        callback: Callable[[Any], object],
        keys: Iterable[str] | None = None,
        rejections: bool = False,
        *,
        threaded: bool | None = None,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> Subscription:
        """Subscribe ``callback``; ``on_close`` runs (besides removal) when it is closed.

        Raises:
            ClosedError: the LiveConfig is closed.
        """

        def closed(sub: Subscription) -> None:
            self.remove(sub)
            if on_close is not None:
                on_close(sub)

        sub = Subscription(
            callback,
            keys=keys,
            rejections=rejections,
            threaded=self.threaded if threaded is None else threaded,
            on_close=closed,
        )
        self.attach(sub)
        return sub

    def attach(self, sub: Subscription) -> None:
        """Hold ``sub`` so that `close_all` ends it (it gets events too if it wants them)."""
        with self._lock:
            if self._closed:
                sub.close()
                raise ClosedError(f"{self._name}: this LiveConfig is closed")
            self._subs.append(sub)

    def remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def notify(self, event: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.wants(event):
                sub.deliver(event)

    def close_all(self) -> None:
        """End every subscription (their queued events are still delivered, briefly)."""
        with self._lock:
            self._closed = True
            subs, self._subs = list(self._subs), []
        for sub in subs:
            sub.close()

    async def events(
        self,
        keys: Iterable[str] | None,
        rejections: bool,
        rollouts: Callable[[Callable[[Any], object]], Subscription] | None,
    ) -> AsyncIterator[Event | RolloutEvent]:
        """The asyncio bridge behind ``LiveConfig.events()``; ``rollouts`` subscribes a
        forwarder to rollout events, when they are wanted."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Event | RolloutEvent | None] = asyncio.Queue()
        rollout_sub: Subscription | None = None

        def forward(event: Event | RolloutEvent | None) -> None:
            try:
                loop.call_soon_threadsafe(inbox.put_nowait, event)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                sub.close()
                if rollout_sub is not None:
                    rollout_sub.close()

        sub = self.add(forward, keys, rejections, threaded=False)
        if rollouts is not None:
            rollout_sub = rollouts(forward)

        def stop() -> None:
            if not loop.is_closed():
                forward(None)

        sub.on_stop = stop
        try:
            while (event := await inbox.get()) is not None:
                yield event
        finally:
            sub.close()
            if rollout_sub is not None:
                rollout_sub.close()
