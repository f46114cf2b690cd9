"""The store: history, last-known-good, rejections and metadata; the outbox beside it.

With `hotconf.store.db` and `hotconf.store.outbox`, the only code that speaks SQL.
``Store(None)`` keeps everything in memory; ``Store.open(state_dir)`` uses
``<state_dir>/hotconf.db`` (`hotconf.store.db` has the tables, the migrations and why a commit
is durable). ``store.outbox`` is the webhook part (`hotconf.store.outbox.Outbox`), on the same
connection: a version (or a rejection) and the outbox rows announcing it are written in one
transaction, so neither exists without the other (docs/architecture.md, invariant 3).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import Problem, StoreError, VersionNotFoundError
from ..events import Rejection
from ..pipeline.snapshot import VersionInfo
from ..webhooks.deliveries import OutboxRow
from .db import Database, state_file
from .outbox import Outbox, insert_rows

SERVED = "served_version"  # meta key: the version served when it is not the newest (fleet mode)


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


class Store:
    """Versions, rejections and small metadata, safe to use from several threads.

    Args:
        path: the database file, or ``None`` for memory only.

    Attributes:
        outbox: the webhook subscribers, outbox and delivery attempts, in the same database.

    Raises:
        StoreError: the database cannot be opened, is not a hotconf store, or is corrupt.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._db = Database(path)
        self.path = self._db.path
        self.outbox = Outbox(self._db)

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str] | None) -> Store:
        """Open (creating it if needed) the store in ``state_dir``; ``None`` for memory only.

        Raises:
            StoreError: the directory cannot be created or written, or the database opened.
        """
        return cls(state_file(state_dir))

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
        version: int | None = None,
    ) -> VersionInfo:
        """Commit a version durably and serve it; ``data`` is canonical JSON.

        Its number is last + 1, or ``version`` when the source numbers them (a fleet's
        versions, `hotconf.EtcdSource`): then a version already stored with that checksum
        is served again (a canary instance going back to the stable version), and one
        stored with another checksum (the same published version under a changed schema,
        or another fleet's) is replaced. The version served when it is not the newest is
        kept in the ``served_version`` meta key, which `latest` reads.

        ``outbox`` builds the webhook deliveries announcing it, given the version's
        metadata; they go into `outbox` in the same transaction (invariant 3), and so do
        the ``meta`` keys (``None`` deletes one).
        """
        values = (
            checksum,
            created_at.isoformat(),
            source,
            status,
            rolled_back_from,
            restores,
            data.decode("utf-8"),
        )

        def made(number: int) -> VersionInfo:
            return VersionInfo(
                version=number,
                checksum=checksum,
                created_at=created_at,
                source=source,
                status=status,
                rolled_back_from=rolled_back_from,
                restores=restores,
            )

        if version is None and outbox is None and not meta:
            # One statement, its own transaction: one call into SQLite (each call gives up
            # the GIL, and a busy application thread may keep it a whole switch interval).
            # It inserts nothing when a served_version is kept (it must be cleared in the
            # same transaction: below); else the number is the row id of the new row.
            number = self._db.insert(_INSERT_VERSION, (*values, SERVED))
            if number:
                return made(number)
        with self._db.transaction() as db:
            last = db.execute("SELECT max(version) FROM versions").fetchone()[0] or 0
            number = last + 1 if version is None else version
            row = (
                db.execute("SELECT * FROM versions WHERE version = ?", (number,)).fetchone()
                if version is not None
                else None
            )
            if row is not None and row["checksum"] == checksum:
                info = _info(row)  # served again, as it was stored
            else:
                info = made(number)
                db.execute(_REPLACE_VERSION, (number, *values))
            _write_meta(db, SERVED, str(number) if number < last else None)
            if outbox is not None:
                insert_rows(db, outbox(info))
            for key, value in (meta or {}).items():
                _write_meta(db, key, value)
        return info

    def latest(self) -> StoredVersion | None:
        """The version served last: the last-known-good (the newest, unless a fleet's
        canary instance went back to an earlier one)."""
        served = self.get_meta(SERVED)
        rows = (
            self._db.query("SELECT * FROM versions WHERE version = ?", (int(served),))
            if served is not None and served.isdigit()
            else []
        )
        rows = rows or self._db.query("SELECT * FROM versions ORDER BY version DESC LIMIT 1")
        return self._stored(rows[0]) if rows else None

    def get(self, version: int) -> StoredVersion:
        """One version with its data.

        Raises:
            VersionNotFoundError: there is no such version.
        """
        rows = self._db.query("SELECT * FROM versions WHERE version = ?", (version,))
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
        rows = self._db.query(
            "SELECT version, checksum, created_at, source, status, rolled_back_from, restores"
            " FROM versions ORDER BY version DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [_info(r) for r in rows]

    def record_rejection(self, rejection: Rejection, outbox: Sequence[OutboxRow] = ()) -> None:
        """Keep a rejection (its problems are already redacted), and the webhook deliveries
        announcing it, in one transaction."""
        values = (
            rejection.at.isoformat(),
            rejection.source,
            rejection.checksum,
            json.dumps([p.to_dict() for p in rejection.problems]),
        )
        if not outbox:
            self._db.insert(_INSERT_REJECTION, values)  # one statement, one call
            return
        with self._db.transaction() as db:
            insert_rows(db, outbox)
            db.execute(_INSERT_REJECTION, values)

    def rejections(self, limit: int = 50) -> list[Rejection]:
        """Recorded rejections, newest first."""
        rows = self._db.query("SELECT * FROM rejections ORDER BY id DESC LIMIT ?", (limit,))
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
        rows = self._db.query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with ``None`` delete) one metadata key."""
        if value is None:
            self._db.insert("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._db.insert(_UPSERT_META, (key, value))

    def probe(self) -> str | None:
        """Can a write begin? ``None`` when it can, else why not (for health checks)."""
        return self._db.probe()

    def close(self) -> None:
        """Close the database (the outbox's too: they share it)."""
        self._db.close()


_REPLACE_VERSION = (
    "INSERT OR REPLACE INTO versions (version, checksum, created_at, source, status,"
    " rolled_back_from, restores, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# The next number is computed in the statement, and whether a served_version is kept is
# checked by it, so one statement does it all, atomically, even with another process
# writing the same database.
_INSERT_VERSION = (
    "INSERT INTO versions (version, checksum, created_at, source, status, rolled_back_from,"
    " restores, data) SELECT n, ?, ?, ?, ?, ?, ?, ?"
    " FROM (SELECT coalesce(max(version), 0) + 1 AS n FROM versions)"
    " WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = ?)"
)
_INSERT_REJECTION = "INSERT INTO rejections (at, source, checksum, problems) VALUES (?, ?, ?, ?)"
_UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


def _write_meta(db: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        db.execute(_UPSERT_META, (key, value))
