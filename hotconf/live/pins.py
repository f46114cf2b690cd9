"""Per-request pins: one version for everything a request reads.

``live.current`` is one attribute read, and each read sees a whole version; but a request that
reads it twice can straddle a swap and see two versions. ``with live.pin() as cfg:`` fixes the
config for the current thread or asyncio task (a `contextvars.ContextVar`, so asyncio tasks,
threads and the thread pools of Starlette and FastAPI each see their own), and
``live.pinned`` returns it inside, ``live.current`` outside.

The pin is kept off ``current`` on purpose: a property that looked up a context variable there
would double the cost of every read (bench/bench_pins.py). Code that must see one version per
request reads ``live.pinned``; `hotconf.middleware` pins one per request for ASGI and WSGI apps.

Whatever ``current`` holds is pinned as it is (a `Snapshot`, or a typed model's instance), and
a pin can hold any config (``live.pin(live.snapshot_for(user))`` during a canary rollout).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

# One variable for every LiveConfig (context variables are meant to live at module level):
# a mapping from LiveConfig to what is pinned for it, replaced (never changed) by each pin.
_PINS: ContextVar[dict[object, Any]] = ContextVar("hotconf_pins")
_NONE: dict[object, Any] = {}


def pinned(live: Any) -> Any:
    """What is pinned for ``live`` in this context, else ``live.current``."""
    found = _PINS.get(_NONE).get(live, _NONE)
    return live.current if found is _NONE else found


class Pin:
    """``with live.pin() as cfg:``: pins ``cfg`` for ``live`` until the block ends.

    A `Pin` is entered once; pins nest (the inner one wins until it ends). Exit it in the
    context it was entered in (the same thread, or the same asyncio task).
    """

    __slots__ = ("_live", "_token", "config")

    def __init__(self, live: object, config: Any) -> None:
        self._live = live
        self.config = config
        self._token: Token[dict[object, Any]] | None = None

    def __enter__(self) -> Any:
        if self._token is not None:
            raise RuntimeError("this pin is entered already; call live.pin() again")
        pins = _PINS.get(_NONE)
        self._token = _PINS.set({**pins, self._live: self.config})
        return self.config

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            _PINS.reset(token)


__all__ = ["Pin", "pinned"]
