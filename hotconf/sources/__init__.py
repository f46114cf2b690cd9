"""Sources: where candidates come from.

A source hands out its raw documents (`read`) and, once started, pokes the reload worker when
they may have changed. It never parses config text: bytes go to `hotconf.pipeline.load` in the
pipeline. `files` (files and directories, the only importer of watchdog) and `etcd` (fleet
mode) are sources of config text; `layers` stacks defaults, files, `secrets` (one file per
key) and `env` (environment variables) into one source, in that order of precedence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

Poke = Callable[[bool], None]
"""``poke(writing)``: the source may have changed; ``writing`` means a writer is still busy
(a file was modified but not yet closed), so the worker waits longer before it reads."""


Activity = Literal["writing", "changed"] | None
"""What a source may say of itself (an optional ``activity()`` method): ``writing`` (a writer
has a file open), ``changed`` (a file changed since it was last read, or just now), or None
(settled). The reload worker reads nothing while ``writing``, and records a failed candidate
only once the source is settled."""

WRITE_TIMEOUT = 30.0
"""Default seconds a writer may pause with a file open before the file is read anyway."""

Layer = Literal["default", "file", "secret", "env"]
"""The layers of a candidate, lowest precedence first (`hotconf.sources.layers`)."""


@dataclass(frozen=True, slots=True)
class RawDocument:
    """One document of a candidate, as bytes: a file, a value from a remote store, or one
    value of a layer (an environment variable, a secret file, a defaults mapping).

    Attributes:
        name: the file, key, variable or secret file it came from (problems name it).
        data: its content; with ``key``, the value as JSON.
        format: ``"yaml"``, ``"json"`` or ``"toml"``.
        layer: which layer it belongs to (`Layer`): what ``live.explain`` reports.
        key: set for a document that is one value placed at a path rather than a whole
            config: the path as named (``("DB", "POOL_SIZE")`` for ``APP_DB__POOL_SIZE``;
            the pipeline matches each part to the config's keys ignoring case, see
            `hotconf.pipeline.assemble`), ``()`` for the root. Its problems have no line.
    """

    name: str
    data: bytes
    format: str
    layer: Layer = "file"
    key: tuple[str, ...] | None = None


@runtime_checkable
class Source(Protocol):
    """What `hotconf.watch` needs from a source.

    Attributes:
        name: how the source is shown in logs, history and events.
        synchronous: pokes run the pipeline inline, in the caller's thread, and subscribers
            are called inline too (the in-memory test source); otherwise a worker thread does.
        state_dir: where the store goes by default (``None``: memory only).
    """

    name: str
    synchronous: bool
    state_dir: Path | None

    def read(self) -> tuple[RawDocument, ...]:
        """The current documents, merged in this order. Raises `hotconf.errors.SourceError`."""
        ...

    def start(self, poke: Poke) -> None:
        """Begin watching; call ``poke`` (from any thread) on possible changes."""
        ...

    def check(self) -> None:
        """Called on every periodic poll: re-arm whatever watching may have been lost."""
        ...

    def stop(self) -> None:
        """Stop watching and release threads."""
        ...


__all__ = ["WRITE_TIMEOUT", "Activity", "Layer", "Poke", "RawDocument", "Source"]
