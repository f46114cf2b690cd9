"""The state database: one SQLite file, its tables, its migrations, and one connection.

``Database(None)`` keeps everything in memory (same code, an in-memory database);
``Database(path)`` opens the file in WAL mode with ``synchronous=FULL``, so a committed
transaction survives a crash or power loss. `hotconf.store.history.Store` (versions,
rejections, meta) and `hotconf.store.outbox.Outbox` (webhook subscribers, the outbox, delivery
attempts) share one `Database`: its lock serializes every statement, and a transaction may
write rows of both, which is how a version and the webhooks announcing it are committed
together (docs/architecture.md, invariant 3).

Schema versions (``PRAGMA user_version``): 1 creates ``meta``, ``versions`` and
``rejections``; 2 adds the webhook tables (``subscribers``, ``webhook_events``, ``outbox``: one
row per event per subscriber, ``deliveries``: one row per HTTP attempt); 3 stores versions as
deltas (``versions.data``, canonical JSON, becomes ``body`` with its ``encoding``, and the
newest version's moves to ``head``; see `hotconf.store.history`): the rows already there
are kept whole, as they were; 4 adds ``subscribers.raw_checksums``. A database is migrated
forward when opened; one from a newer hotconf is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..errors import StoreError

SCHEMA_VERSION = 4
DB_NAME = "hotconf.db"
LOCK_NAME = "hotconf.lock"

_HISTORY = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    version INTEGER PRIMARY KEY,
    checksum TEXT NOT NULL,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    rolled_back_from INTEGER,
    restores INTEGER,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    checksum TEXT,
    problems TEXT NOT NULL
);
"""

# Times are epoch seconds (REAL): the dispatcher compares them.
_WEBHOOKS = """
CREATE TABLE IF NOT EXISTS subscribers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    origin TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    keys TEXT,
    allow_private INTEGER NOT NULL,
    created_at REAL NOT NULL,
    disabled_at REAL,
    disabled_reason TEXT
);
CREATE TABLE IF NOT EXISTS webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL UNIQUE,
    subscriber_id TEXT NOT NULL,
    event_id INTEGER NOT NULL REFERENCES webhook_events (id),
    type TEXT NOT NULL,
    version INTEGER,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL,
    last_attempt_at REAL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (subscriber_id, status, id);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, id);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    duration REAL NOT NULL,
    status_code INTEGER,
    error TEXT,
    outcome TEXT NOT NULL,
    next_attempt_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_outbox ON deliveries (outbox_id, id);
"""

# Versions as deltas (see `hotconf.store.history`). ``encoding`` says where a version's data is:
# ``head``: whole, in the one-row table ``head`` (the newest version: its JSON in document order;
# apart, so that rewriting it as a delta leaves no half-empty page behind in ``versions``);
# ``delta+zlib``: ``body`` turns version ``base`` into this one; ``json+zlib``: ``body`` is
# whole, compressed; ``json``: ``body`` is whole, as schema 2 kept it (canonical JSON). ``chain``
# and ``links`` (of the newest version) measure the deltas restored through it.
_DELTAS = """
CREATE TABLE versions_3 (
    version INTEGER PRIMARY KEY,
    checksum TEXT NOT NULL,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    rolled_back_from INTEGER,
    restores INTEGER,
    encoding TEXT NOT NULL,
    base INTEGER,
    chain INTEGER NOT NULL DEFAULT 0,
    links INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL
);
INSERT INTO versions_3 (version, checksum, created_at, source, status, rolled_back_from,
    restores, encoding, body)
    SELECT version, checksum, created_at, source, status, rolled_back_from, restores, 'json',
        CAST(data AS BLOB)
    FROM versions;
DROP TABLE versions;
ALTER TABLE versions_3 RENAME TO versions;
CREATE TABLE head (
    slot INTEGER PRIMARY KEY CHECK (slot = 0),
    version INTEGER NOT NULL UNIQUE,
    body BLOB NOT NULL
);
INSERT INTO head (slot, version, body)
    SELECT 0, version, body FROM versions ORDER BY version DESC LIMIT 1;
UPDATE versions SET encoding = 'head', body = x'' WHERE version IN (SELECT version FROM head);
CREATE INDEX outbox_event ON outbox (event_id);
"""

# A subscriber may opt in to raw checksums in its webhook bodies (keyed fingerprints else).
_RAW_CHECKSUMS = """
ALTER TABLE subscribers ADD COLUMN raw_checksums INTEGER NOT NULL DEFAULT 0;
"""

# The DDL that brings a database from the version before each key to that version.
_MIGRATIONS = {1: _HISTORY, 2: _WEBHOOKS, 3: _DELTAS, 4: _RAW_CHECKSUMS}


def state_file(state_dir: str | os.PathLike[str] | None) -> Path | None:
    """The database file in ``state_dir``, creating the directory if needed; ``None`` stays
    ``None`` (memory only).

    Raises:
        StoreError: the directory cannot be created or is not writable.
    """
    if state_dir is None:
        return None
    directory = Path(state_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create state directory {directory}: {exc.strerror}; "
            "pass state_dir= a writable directory, or None to keep state in memory"
        ) from exc
    if not os.access(directory, os.W_OK):
        raise StoreError(
            f"state directory {directory} is not writable; "
            "pass state_dir= a writable directory, or None to keep state in memory"
        )
    return directory / DB_NAME


class StateLock:
    """An exclusive ``flock`` on ``hotconf.lock`` in a state directory, held by one writer.

    Two processes writing versions into one state directory would interleave their
    histories; the second to start is refused, with an error naming the first (the lock file
    holds its pid, host and command). The kernel drops the lock when the process dies, so a
    crash never leaves a stale lock behind.

    Raises:
        StoreError: another process holds the lock (or the file cannot be opened).
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            who = _read_holder(fd)
            os.close(fd)
            raise StoreError(
                f"state directory {directory} is in use by another hotconf process "
                f"({who}); two writers would interleave their versions: stop it, talk to "
                "it (--url), or give this one another --state-dir"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(sys.argv)[:500],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock


def _read_holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {holder['pid']} on {holder['host']}: {holder['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded yet"


class Database:
    """One connection to the state database, safe to use from several threads.

    Args:
        path: the database file, or ``None`` for memory only.
        exclusive: take the state directory's `StateLock` first (a writer that appends
            versions: a LiveConfig); readers (history listings) do not.

    Raises:
        StoreError: the database cannot be opened, is not a hotconf store, or is corrupt;
            or, ``exclusive``, another process holds the state directory.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, exclusive: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._state_lock = StateLock(self.path.parent) if exclusive and self.path else None
        try:
            self._open()
        except BaseException:
            if self._state_lock is not None:
                self._state_lock.release()
            raise

    def _open(self) -> None:
        try:
            self._db = sqlite3.connect(
                str(self.path) if self.path is not None else ":memory:",
                isolation_level=None,  # explicit BEGIN/COMMIT below
                check_same_thread=False,  # guarded by self._lock
                timeout=30.0,
            )
            self._db.row_factory = sqlite3.Row
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            found = self._db.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_newer(found)
            if found < SCHEMA_VERSION:
                self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open state database {self.path}: {exc}") from exc

    def _refuse_newer(self, found: int) -> None:
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: state database is from a newer hotconf "
                f"(schema {found}, this one knows {SCHEMA_VERSION})"
            )

    def _migrate(self) -> None:
        # One transaction: a crash half-way leaves the old version. The version is read again
        # under the write lock, so of two processes opening the database at once, the second
        # finds it migrated already.
        try:
            self._db.execute("BEGIN IMMEDIATE")
            found = self._db.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_newer(found)
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and a write transaction; commit when the block ends, roll back if it
        raises.

        Raises:
            StoreError: SQLite failed (busy, full disk, I/O error); nothing was written.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    # SQLite may have rolled back already (SQLITE_FULL does): a second
                    # ROLLBACK would raise and hide the real error ("database or disk is full")
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                # A failed COMMIT (busy, full disk, I/O error) leaves the transaction open:
                # end it, or every later write fails and reads see the uncommitted rows.
                if self._db.in_transaction:
                    with suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise StoreError(f"state database {self.path}: {exc}") from exc

    def insert(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        """Run one write statement as a transaction of its own (one call into SQLite: no
        BEGIN, no COMMIT), durable when it returns.

        Returns:
            The row id of the row it inserted (the last one, for an INSERT), 0 when it
            inserted none.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        with self._lock:
            try:
                cursor = self._db.execute(sql, args)
            except sqlite3.Error as exc:
                raise StoreError(f"state database {self.path}: {exc}") from exc
            return (cursor.lastrowid or 0) if cursor.rowcount > 0 else 0

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run one read and return its rows.

        Raises:
            StoreError: SQLite failed.
        """
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"state database {self.path}: {exc}") from exc

    def vacuum(self) -> None:
        """Rewrite the database without its free pages, so the file shrinks (a prune only
        frees pages for later writes to reuse). It holds the write lock while it runs.

        Raises:
            StoreError: SQLite failed (busy, full disk); the database is unchanged.
        """
        with self._lock:
            try:
                self._db.execute("VACUUM")
                if self.path is not None:  # copy the rewritten pages back into the file now
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise StoreError(f"state database {self.path}: {exc}") from exc

    def probe(self) -> str | None:
        """Can a write begin? ``None`` when it can, else why not (for health checks).

        Writes a row in a transaction that is rolled back: nothing changes, nothing is synced.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', '')"
                    )
                finally:
                    self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                return f"state database {self.path or 'in memory'} is not writable: {exc}"
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._state_lock is not None:
                self._state_lock.release()
