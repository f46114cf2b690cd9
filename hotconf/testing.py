"""A test kit for your own reload handlers: an in-memory source and an event recorder.

No files, no threads: with a `MemorySource`, `MemorySource.set` runs the whole pipeline
(load, validate, diff, commit, swap, notify) in the calling thread, and subscribers are
called before it returns, so tests need no waiting::

    from hotconf.testing import EventRecorder, MemorySource

    source = MemorySource({"db": {"pool_size": 5}})
    with hotconf.watch(source, schema=SCHEMA) as live:
        events = EventRecorder()
        live.subscribe(events, keys=["db.*"], rejections=True)
        source.set({"db": {"pool_size": 10}})
        assert events.changes[-1].changed == ("db.pool_size",)
        source.set({"db": {"pool_size": "lots"}})          # invalid: rejected
        assert live.current["db"]["pool_size"] == 10        # last-known-good kept
        assert events.rejections[-1].problems[0].path == "/db/pool_size"

With a typed model, `MemorySource` also takes an instance of it (secrets included), and
``live.current`` is the model's instance::

    source = MemorySource(AppConfig(db=DB(pool_size=5)))
    with hotconf.watch(source, model=AppConfig) as live:
        source.set(AppConfig(db=DB(pool_size=10)))
        assert live.current.db.pool_size == 10
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .events import ChangeEvent, Event, Rejection
from .sources import Poke, RawDocument


class MemorySource:
    """A source held in memory; `set` replaces its content and reloads at once.

    Args:
        data: a mapping (kept as JSON), an instance of a pydantic model or a dataclass (kept
            as the JSON a config file for it holds: aliases, secrets revealed), or YAML/JSON
            text or bytes (to test parsing too).
        format: ``"yaml"`` or ``"json"`` for text and bytes.
        name: how the source is named in events and rejections.
    """

    synchronous = True
    state_dir: Path | None = None

    def __init__(
        self,
        data: Mapping[str, Any] | str | bytes | object,
        *,
        format: str = "yaml",
        name: str = "memory",
    ) -> None:
        self.name = name
        self._poke: Poke | None = None
        self._doc = self._document(data, format)

    def _document(self, data: Mapping[str, Any] | str | bytes | object, format: str) -> RawDocument:
        if isinstance(data, str | bytes):
            raw = data.encode("utf-8") if isinstance(data, str) else data
            return RawDocument(self.name, raw, format)
        if not isinstance(data, Mapping):
            from .pipeline.model import to_data

            data = to_data(data)  # a model or dataclass instance
        return RawDocument(self.name, json.dumps(data).encode(), "json")

    def set(self, data: Mapping[str, Any] | str | bytes | object, *, format: str = "yaml") -> None:
        """Replace the content and run the pipeline now (if watched)."""
        self._doc = self._document(data, format)
        if self._poke is not None:
            self._poke(False)

    def read(self) -> tuple[RawDocument, ...]:
        return (self._doc,)

    def start(self, poke: Poke) -> None:
        self._poke = poke

    def check(self) -> None:
        """Nothing to re-arm in memory."""

    def stop(self) -> None:
        self._poke = None


class EventRecorder:
    """A subscriber that keeps every event it gets, for assertions.

    Pass it to ``live.subscribe`` (with ``rejections=True`` to record those too).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    @property
    def changes(self) -> list[ChangeEvent]:
        """The `ChangeEvent`s, oldest first."""
        with self._lock:
            return [e for e in self.events if isinstance(e, ChangeEvent)]

    @property
    def rejections(self) -> list[Rejection]:
        """The `Rejection`s, oldest first."""
        with self._lock:
            return [e for e in self.events if isinstance(e, Rejection)]

    @property
    def versions(self) -> list[int]:
        """The versions announced, in the order they arrived."""
        return [e.version for e in self.changes]

    def clear(self) -> None:
        with self._lock:
            self.events.clear()


__all__ = ["EventRecorder", "MemorySource"]
