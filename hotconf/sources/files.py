"""Files and directories as sources; the only importer of watchdog.

Each directory holding a source file (or the source directory itself) is watched without
recursion, and so is its parent, to see the directory deleted and recreated. Events are
filtered by name and turned into pokes; the reload worker coalesces them. Watching a directory
instead of a file is what catches editors' atomic saves (write a temporary file, rename it over
the old one) and Kubernetes ConfigMap volumes, where the visible files are symlinks through
``..data`` and an update is one rename of that symlink naming no config file at all.

A file modified or created but not yet closed is "being written" (inotify's IN_MODIFY or
IN_CREATE without the IN_CLOSE_WRITE yet): the poke says so and the worker does not read until
the close, for pauses of the writer up to ``write_timeout``, so a half-written file is never
read as a candidate. `activity` also says when a file changed since it was read (its inode,
size or modification time differ, or it was modified in the last `QUIET` seconds): a failed
candidate read then (the empty file right after ``open(path, "w")``) is looked at again, not
recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from ..errors import LoadError, Problem, SourceError
from ..pipeline.load import DEFAULT_LIMITS, SUFFIXES, format_for
from . import WRITE_TIMEOUT, Activity, Layer, Poke, RawDocument, Source

log = logging.getLogger("hotconf")

CONFIG_SUFFIXES = tuple(SUFFIXES)
QUIET = 0.25  # seconds: a file modified more recently than this may still be changing
K8S_DATA = "..data"
_IGNORED = (FileOpenedEvent, FileClosedNoWriteEvent, DirModifiedEvent)
# Asked of inotify: not opens and no-write closes, so our own reads never wake the observer.
_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]


def _is_config_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(CONFIG_SUFFIXES)


class _Handler(FileSystemEventHandler):
    def __init__(self, owner: FileSource) -> None:
        self._owner = owner

    def dispatch(self, event: FileSystemEvent) -> None:
        # An exception here would end watchdog's observer thread: never let one out.
        try:
            self._owner._on_event(event)
        except Exception:
            log.exception("hotconf: error while handling a file event; watching goes on")


class FileSource:
    """One file, several files deep-merged in order, or a directory.

    Args:
        paths: the file(s), each ``*.yaml``, ``*.yml``, ``*.json`` or ``*.toml`` (another
            suffix is refused: hotconf does not guess a format); or, with
            ``directory=True``, one directory whose files with those suffixes (not hidden
            ones; other files are left alone) are merged in name order.
        directory: treat the single path as a directory.
        max_bytes: files larger than this are refused (before being read whole).
        write_timeout: a file still open for writing is not read until it is closed, as
            long as its writer pauses no longer than this many seconds.
        layer: the layer its documents belong to (``"default"`` for a defaults file).

    Raises:
        SourceError: no path, several directories, or a file with an unknown suffix.
    """

    synchronous = False
    may_be_empty = False  # a directory without any of its files is an error

    def __init__(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        directory: bool = False,
        max_bytes: int = DEFAULT_LIMITS.max_bytes,
        write_timeout: float = WRITE_TIMEOUT,
        layer: Layer = "file",
    ) -> None:
        items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        if not items:
            raise SourceError("no source files given")
        self.paths = tuple(os.path.abspath(os.fspath(p)) for p in items)
        self.directory = directory
        self.layer: Layer = layer
        if directory and len(self.paths) != 1:
            raise SourceError("a directory source takes exactly one directory")
        if not directory:
            for p in self.paths:
                format_for(p)  # an unknown suffix fails now, not at the first read
        self.max_bytes = max_bytes
        self.write_timeout = write_timeout
        self.name = ", ".join(
            os.path.relpath(p) if not p.startswith("..") else p for p in self.paths
        )
        dirs = self.paths if directory else tuple(os.path.dirname(p) for p in self.paths)
        self._dirs: dict[str, set[str]] = {}
        for d, p in zip(dirs, self.paths, strict=True):
            self._dirs.setdefault(d, set()).add(os.path.basename(p))
        self._parents: dict[str, set[str]] = {}
        for d in self._dirs:
            parent, base = os.path.split(d)
            if parent and parent != d:
                self._parents.setdefault(parent, set()).add(base)
        self.state_dir: Path | None = (
            Path(dirs[0]).parent / ".hotconf" if directory else Path(dirs[0]) / ".hotconf"
        )
        self._lock = threading.Lock()  # _pending and _rearm, shared with watchdog's thread
        self._arming = threading.Lock()  # _watches; never held by watchdog's thread
        self._pending: dict[str, float] = {}  # file -> when it was last written (monotonic)
        self._seen: dict[str, tuple[int, int, int]] = {}  # file -> (inode, size, mtime) read
        self._rearm: set[str] = set()
        self._watches: dict[str, tuple[ObservedWatch, int]] = {}
        self._observer: BaseObserver | None = None
        self._poke: Poke | None = None

    # -- reading -------------------------------------------------------------------------

    def read(self) -> tuple[RawDocument, ...]:
        if self._rearm:
            self._rearm_moved()
        if not self.directory:
            return tuple(self._read_file(p) for p in self.paths)
        directory = self.paths[0]
        link = os.path.join(directory, K8S_DATA)
        # A ConfigMap update swaps ..data between our reads of two files: read again until
        # the link stayed put, so the candidate is never half old, half new.
        for _ in range(10):
            before = _readlink(link)
            docs = tuple(self._read_file(p) for p in self._listing(directory))
            if _readlink(link) == before:
                return docs
        raise SourceError(f"{directory}: {K8S_DATA} kept changing while being read")

    def _wanted(self, name: str) -> bool:
        """Is a directory entry with this name one of the source's files?"""
        return _is_config_name(name)

    def _document(self, path: str, data: bytes) -> RawDocument:
        """The document of one file read whole."""
        return RawDocument(path, data, format_for(path), self.layer)

    def _listing(self, directory: str) -> list[str]:
        try:
            names = sorted(n for n in os.listdir(directory) if self._wanted(n))
        except FileNotFoundError:
            raise SourceError(f"config directory {directory} does not exist") from None
        except OSError as exc:
            raise SourceError(f"cannot list config directory {directory}: {exc.strerror}") from exc
        files = [os.path.join(directory, n) for n in names]
        files = [f for f in files if os.path.isfile(f)]
        if not files and not self.may_be_empty:
            raise SourceError(
                f"config directory {directory} has no *.yaml, *.yml, *.json or *.toml file"
            )
        return files

    def _read_file(self, path: str) -> RawDocument:
        # os-level calls: each syscall is a point where a busy application thread can keep
        # the GIL for a whole switch interval, so use as few as possible (open, fstat, one
        # read, close), and no 32 MiB buffer for the size cap.
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                st = os.fstat(fd)
                size = st.st_size
                self._seen[path] = (st.st_ino, st.st_size, st.st_mtime_ns)
                chunks = [os.read(fd, min(size, self.max_bytes) + 1)]
                total = len(chunks[0])
                while total > size and total <= self.max_bytes:  # it grew while we read
                    chunk = os.read(fd, self.max_bytes + 1 - total)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    total += len(chunk)
            finally:
                os.close(fd)
            data = b"".join(chunks)
            if len(data) > self.max_bytes:
                raise LoadError(
                    f"{path}: larger than the {self.max_bytes}-byte limit",
                    [Problem(f"larger than the {self.max_bytes}-byte limit", code="limit",
                             source=path)],
                )  # fmt: skip
        except FileNotFoundError:
            self._seen[path] = (-1, -1, -1)
            raise SourceError(f"config file {path} does not exist") from None
        except IsADirectoryError:
            raise SourceError(f"{path} is a directory; pass directory sources as such") from None
        except OSError as exc:
            raise SourceError(f"cannot read config file {path}: {exc.strerror}") from exc
        return self._document(path, data)

    def activity(self) -> Activity:
        """``writing`` while a file is open for writing (for up to ``write_timeout`` after
        its last write), ``changed`` when a file differs from what was read or was modified
        in the last `QUIET` seconds, None when settled."""
        now = time.monotonic()
        with self._lock:
            for path, at in list(self._pending.items()):
                if now - at > self.write_timeout:  # a writer that stalled: read anyway
                    del self._pending[path]
            if self._pending:
                return "writing"
        wall = time.time_ns()
        for path, seen in list(self._seen.items()):
            try:
                st = os.stat(path)
            except OSError:
                if seen[0] == -1:  # missing when read, missing now
                    continue
                return "changed"
            if (st.st_ino, st.st_size, st.st_mtime_ns) != seen:
                return "changed"
            if 0 <= wall - st.st_mtime_ns < QUIET * 1e9:
                return "changed"
        return None

    # -- watching ------------------------------------------------------------------------

    def start(self, poke: Poke) -> None:
        self._poke = poke
        observer = Observer()
        observer.name = "hotconf-observer"
        observer.daemon = True
        self._observer = observer
        observer.start()
        self.check()
        # An edit between the first read and the watches being armed has no event: look once.
        poke(False)

    def check(self) -> None:
        """Watch every source directory and parent that exists and is not watched yet (or
        was replaced by a new directory of the same name)."""
        for d in [*self._parents, *self._dirs]:
            self._arm(d)

    def _arm(self, d: str, *, force: bool = False) -> None:
        # Called from the thread that starts watching and from the reload worker, never from
        # watchdog's thread: it holds the observer's lock while it dispatches, and
        # schedule()/unschedule() take that lock, so arming from an event would deadlock
        # against a poll. No lock of ours is held around the observer calls either.
        observer = self._observer
        if observer is None:
            return
        with self._arming:
            try:
                inode = os.stat(d).st_ino
            except OSError:
                inode = -1
            old = self._watches.get(d)
            if old is not None and old[1] == inode and not force:
                return
            if old is not None:
                del self._watches[d]
                with contextlib.suppress(Exception):  # already gone with its directory
                    observer.unschedule(old[0])
            if inode == -1:
                return
            try:
                watch = observer.schedule(_Handler(self), d, recursive=False, event_filter=_EVENTS)
            except OSError as exc:
                log.warning("hotconf: cannot watch %s (%s); the periodic poll covers it", d, exc)
                return
            self._watches[d] = (watch, inode)

    def _rearm_moved(self) -> None:
        with self._lock:
            dirs, self._rearm = self._rearm, set()
        for d in dirs:
            self._arm(d, force=True)

    def _on_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, _IGNORED) or self._poke is None:
            return
        paths = [os.fsdecode(event.src_path)]
        if event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        relevant = False
        rearm = []
        for p in paths:
            d, base = os.path.split(p)
            if base in self._parents.get(d, ()):
                # The source directory itself was created, moved or deleted: the worker
                # re-arms it before its next read (see _arm for why not here).
                rearm.append(os.path.join(d, base))
                relevant = True
            elif d in self._dirs and self._concerns(d, base):
                relevant = True
        if not relevant:
            return
        with self._lock:
            self._rearm.update(rearm)
            if isinstance(event, FileModifiedEvent | FileCreatedEvent):
                self._pending[paths[0]] = time.monotonic()
            elif isinstance(event, FileClosedEvent | FileDeletedEvent | FileMovedEvent):
                for p in paths:
                    self._pending.pop(p, None)
            writing = bool(self._pending)
        self._poke(writing)

    def _concerns(self, d: str, base: str) -> bool:
        if base.startswith(".."):  # Kubernetes: ..data, ..data_tmp, ..2026_11_27_...
            return True
        if self.directory:
            return self._wanted(base)
        return base in self._dirs[d]

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        self._poke = None
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)
        with self._arming:
            self._watches.clear()
        with self._lock:
            self._pending.clear()
            self._rearm.clear()


def coerce_source(
    source: Source | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    write_timeout: float = WRITE_TIMEOUT,
    max_bytes: int = DEFAULT_LIMITS.max_bytes,
) -> Source:
    """A source from what ``hotconf.watch`` accepts: a `Source` as is, a file, a directory
    or a list of files (a `FileSource` with ``write_timeout`` and ``max_bytes``)."""
    if isinstance(source, str | os.PathLike):
        directory = os.path.isdir(source)
        return FileSource(
            source, directory=directory, write_timeout=write_timeout, max_bytes=max_bytes
        )
    if isinstance(source, Sequence):
        return FileSource(list(source), write_timeout=write_timeout, max_bytes=max_bytes)
    return source


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None
