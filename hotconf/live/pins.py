"""Per-request pins: one version for everything a request reads.

``live.current`` is one attribute read, and each read sees a whole version; but a request that
reads it twice can straddle a swap and see two versions. ``with live.pin() as cfg:`` fixes the
config for the current thread or asyncio task (a `contextvars.ContextVar`, so asyncio tasks,
threads and the thread pools of Starlette and FastAPI each see their own), and
``live.pinned`` returns it inside, ``live.current`` outside.

The pin is kept off ``current`` on purpose: a property that looked up a context variable there
would double the cost of every read (bench/bench_pins.py). Code that must see one version per
request reads ``live.pinned``; `hotconf.middleware` pins one per request for ASGI and WSGI apps.
Each LiveConfig has its own context variable, so ``pinned`` is one lookup.

Whatever ``current`` holds is pinned as it is (a `Snapshot`, or a typed model's instance), and
a pin can hold any config (``live.pin(live.snapshot_for(user))`` during a canary rollout).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def pin_variable(name: str) -> ContextVar[Any]:
    """The context variable of one LiveConfig's pins (``None``: nothing pinned).

    One per LiveConfig, made with it: ``pinned`` is then one ``get`` on it. Every pin is
    reset when its block ends, so no context keeps a reference to the variable after that.
    """
    return ContextVar(f"hotconf pin: {name}")


class Pin(Generic[T]):
    """``with live.pin() as cfg:``: pins ``cfg`` until the block ends.

    A `Pin` is entered once; pins nest (the inner one wins until it ends). Exit it in the
    context it was entered in (the same thread, or the same asyncio task).
    """

    __slots__ = ("_token", "_variable", "config")

    def __init__(self, variable: ContextVar[Any], config: T) -> None:
        self._variable = variable
        self.config = config
        self._token: Token[Any] | None = None

    def __enter__(self) -> T:
        if self._token is not None:
            raise RuntimeError("this pin is entered already; call live.pin() again")
        self._token = self._variable.set(self.config)
        return self.config

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            self._variable.reset(token)


__all__ = ["Pin", "pin_variable"]
