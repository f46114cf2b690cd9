"""Subscribers: each one isolated, fed in version order, off the reload path.

A threaded subscription owns a queue and a thread: the reload worker only enqueues, so a
subscriber that raises or hangs delays neither reloads nor other subscribers. An inline one
(the in-memory test source, the asyncio bridge) is called directly, exceptions contained.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..events import ChangeEvent, Event, Rejection
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
