"""The subscriber side of `LiveConfig`: subscribe, on_rejection, the asyncio bridge.

A mixin of `hotconf.live.config.LiveConfig`, kept in its own module for size.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from ..events import ChangeEvent, Event, Rejection, RolloutEvent
from ..sources import Source
from .subscriptions import Subscription

if TYPE_CHECKING:
    from .config import LiveConfig


class Subscribing:
    """`LiveConfig`'s subscribers (a mixin)."""

    if not TYPE_CHECKING:  # mypy would refuse the assignments LiveConfig's slots allow
        __slots__ = ()

    # Provided by LiveConfig (annotations only).
    _lock: threading.RLock
    _source: Source
    _subs: list[Subscription]
    _ensure_open: Callable[[], None]

    # -- subscribers --------------------------------------------------------------------

    def subscribe(
        self,
        callback: Callable[[ChangeEvent], object],
        keys: Iterable[str] | None = None,
        *,
        rejections: bool = False,
    ) -> Subscription:
        """Call ``callback(event)`` after each new version that changes a matching key.

        Args:
            callback: called with a `ChangeEvent`, in version order, in a thread of its own:
                one that raises or blocks delays neither reloads nor other subscribers.
            keys: dotted key patterns with shell globs (``["db.*", "features"]``); ``None``
                for every change.
            rejections: also call it with each `Rejection`.

        Returns:
            A `Subscription`; ``close()`` it to stop.
        """
        return self._add(callback, keys, rejections, threaded=not self._source.synchronous)

    def on_rejection(self, callback: Callable[[Rejection], object]) -> Subscription:
        """Call ``callback(rejection)`` for each rejected candidate (in its own thread).

        Returns:
            A `Subscription`; ``close()`` it to stop.
        """
        return self._add(callback, (), True, threaded=not self._source.synchronous)

    def _add(
        self,
        callback: Callable[[Any], object],
        keys: Iterable[str] | None,
        rejections: bool,
        *,
        threaded: bool,
    ) -> Subscription:
        self._ensure_open()
        sub = Subscription(
            callback, keys=keys, rejections=rejections, threaded=threaded, on_close=self._remove
        )
        with self._lock:
            self._subs.append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def _notify(self, event: Event) -> None:
        for sub in list(self._subs):
            if sub.wants(event):
                sub.deliver(event)

    async def events(
        self, keys: Iterable[str] | None = None, *, rejections: bool = True, rollouts: bool = True
    ) -> AsyncIterator[Event | RolloutEvent]:
        """Iterate over events in an asyncio program: ``async for event in live.events()``.

        Yields `ChangeEvent`s, `Rejection`s (unless ``rejections=False``) and the
        `RolloutEvent`s of canary rollouts (unless ``rollouts=False``; ``keys`` does not
        filter them) as they happen; the iteration ends when the LiveConfig is closed.
        """
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Event | RolloutEvent | None] = asyncio.Queue()

        def forward(event: Event | RolloutEvent | None) -> None:
            try:
                loop.call_soon_threadsafe(inbox.put_nowait, event)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                sub.close()
                if rollout_sub is not None:
                    rollout_sub.close()

        rollout_sub: Subscription | None = None
        sub = self._add(forward, keys, rejections, threaded=False)
        if rollouts:
            from .rollouts import on_rollout  # imported here: rollout.py imports live.py's parts

            rollout_sub = on_rollout(cast("LiveConfig", self), forward, threaded=False)

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
