"""The store: history, last-known-good, rejections and the webhook outbox in one SQLite database.

With `hotconf.store.outbox`, the only code that speaks SQL. ``Store(None)`` keeps everything in
memory (same code, an in-memory database); ``Store.open(state_dir)`` uses
``<state_dir>/hotconf.db`` in WAL mode with ``synchronous=FULL``, so a committed version
survives a crash or power loss. A version (or a rejection) and the outbox rows announcing it
are written in one transaction: neither exists without the other (docs/architecture.md,
invariant 3).

Schema versions: 1 (versions, rejections, meta); 2 adds the webhook tables (``subscribers``,
``webhook_events``, ``outbox``: one row per event per subscriber, ``deliveries``: one row per
HTTP attempt), whose SQL is in `hotconf.store.outbox`. A database is migrated forward when opened;
one from a newer hotconf is refused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import Problem, StoreError, VersionNotFoundError
from ..events import Rejection
from ..pipeline.snapshot import VersionInfo
from ..webhooks.deliveries import OutboxRow
from .outbox import DDL as _DDL_WEBHOOKS
from .outbox import OutboxStore, insert_outbox

SCHEMA_VERSION = 2
DB_NAME = "hotconf.db"

_DDL = """
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

# The DDL that brings a database from the version before each key to that version.
_MIGRATIONS = {1: _DDL, 2: _DDL_WEBHOOKS}


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A version read back from the store: its metadata and its plain data."""

    info: VersionInfo
    data: dict[str, Any]


def _info(row: sqlite3.Row) -> VersionInfo:
    return VersionInfo(
        version=row["version"],
        checksum=row["checksum"],
        created_at=datetime.fromisoformat(row["created_at"]),
        source=row["source"],
        status=row["status"],
        rolled_back_from=row["rolled_back_from"],
        restores=row["restores"],
    )


class Store(OutboxStore):
    """Versions, rejections and small metadata, safe to use from several threads.

    Args:
        path: the database file, or ``None`` for memory only.

    Raises:
        StoreError: the database cannot be opened, is not a hotconf store, or is corrupt.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
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
            if found > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: state database is from a newer hotconf "
                    f"(schema {found}, this one knows {SCHEMA_VERSION})"
                )
            if found < SCHEMA_VERSION:
                self._migrate(found)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open state database {self.path}: {exc}") from exc

    def _migrate(self, found: int) -> None:
        # One transaction per start: a crash half-way leaves the old version, and the DDL is
        # idempotent, so two processes opening the same database at once both succeed.
        steps = "".join(_MIGRATIONS[v] for v in range(found + 1, SCHEMA_VERSION + 1))
        try:
            self._db.executescript(
                f"BEGIN IMMEDIATE;\n{steps}\nPRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;"
            )
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str] | None) -> Store:
        """Open (creating it if needed) the store in ``state_dir``; ``None`` for memory only."""
        if state_dir is None:
            return cls(None)
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
        return cls(directory / DB_NAME)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
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

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"state database {self.path}: {exc}") from exc

    def append(
        self,
        *,
        data: bytes,
        checksum: str,
        source: str,
        created_at: datetime,
        status: str = "applied",
        rolled_back_from: int | None = None,
        restores: int | None = None,
        outbox: Callable[[VersionInfo], Sequence[OutboxRow]] | None = None,
        meta: Mapping[str, str | None] | None = None,
    ) -> VersionInfo:
        """Commit a new version (number = last + 1) durably; ``data`` is canonical JSON.

        ``outbox`` builds the webhook deliveries announcing it, given the new version's
        metadata; they are written in the same transaction (invariant 3), and so are the
        ``meta`` keys (``None`` deletes one).
        """
        with self._tx() as db:
            last = db.execute("SELECT max(version) FROM versions").fetchone()[0]
            info = VersionInfo(
                version=(last or 0) + 1,
                checksum=checksum,
                created_at=created_at,
                source=source,
                status=status,
                rolled_back_from=rolled_back_from,
                restores=restores,
            )
            db.execute(
                "INSERT INTO versions (version, checksum, created_at, source, status,"
                " rolled_back_from, restores, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.version,
                    checksum,
                    created_at.isoformat(),
                    source,
                    status,
                    rolled_back_from,
                    restores,
                    data.decode("utf-8"),
                ),
            )
            if outbox is not None:
                insert_outbox(db, outbox(info))
            for key, value in (meta or {}).items():
                _write_meta(db, key, value)
        return info

    def latest(self) -> StoredVersion | None:
        """The newest version: the last-known-good."""
        rows = self._query("SELECT * FROM versions ORDER BY version DESC LIMIT 1")
        return self._stored(rows[0]) if rows else None

    def get(self, version: int) -> StoredVersion:
        """One version with its data.

        Raises:
            VersionNotFoundError: there is no such version.
        """
        rows = self._query("SELECT * FROM versions WHERE version = ?", (version,))
        if not rows:
            raise VersionNotFoundError(f"no version {version} in the history")
        return self._stored(rows[0])

    def _stored(self, row: sqlite3.Row) -> StoredVersion:
        try:
            data = json.loads(row["data"])
        except ValueError as exc:
            raise StoreError(
                f"state database {self.path}: version {row['version']} is corrupt"
            ) from exc
        return StoredVersion(_info(row), data)

    def history(self, limit: int | None = None) -> list[VersionInfo]:
        """Version metadata, newest first."""
        rows = self._query(
            "SELECT version, checksum, created_at, source, status, rolled_back_from, restores"
            " FROM versions ORDER BY version DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [_info(r) for r in rows]

    def record_rejection(self, rejection: Rejection, outbox: Sequence[OutboxRow] = ()) -> None:
        """Keep a rejection (its problems are already redacted), and the webhook deliveries
        announcing it, in one transaction."""
        with self._tx() as db:
            insert_outbox(db, outbox)
            db.execute(
                "INSERT INTO rejections (at, source, checksum, problems) VALUES (?, ?, ?, ?)",
                (
                    rejection.at.isoformat(),
                    rejection.source,
                    rejection.checksum,
                    json.dumps([p.to_dict() for p in rejection.problems]),
                ),
            )

    def rejections(self, limit: int = 50) -> list[Rejection]:
        """Recorded rejections, newest first."""
        rows = self._query("SELECT * FROM rejections ORDER BY id DESC LIMIT ?", (limit,))
        return [
            Rejection(
                at=datetime.fromisoformat(r["at"]),
                source=r["source"],
                checksum=r["checksum"],
                problems=tuple(Problem.from_dict(p) for p in json.loads(r["problems"])),
            )
            for r in rows
        ]

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with ``None`` delete) one metadata key."""
        with self._tx() as db:
            _write_meta(db, key, value)

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


def _write_meta(db: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
