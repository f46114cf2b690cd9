"""The store: history, last-known-good, rejections and metadata; the outbox beside it.

With `hotconf.store.db`, `hotconf.store.retention` and `hotconf.store.outbox`, the only code
that speaks SQL. ``Store(None)`` keeps everything in memory; ``Store.open(state_dir)`` uses
``<state_dir>/hotconf.db`` (`hotconf.store.db` has the tables, the migrations and why a commit
is durable). ``store.outbox`` is the webhook part (`hotconf.store.outbox.Outbox`), on the same
connection: a version (or a rejection) and the outbox rows announcing it are written in one
transaction, so neither exists without the other (docs/architecture.md, invariant 3).

How versions are kept: the newest one whole, as the JSON of the document (its keys in their
own order), in the table ``head``, so the last-known-good is one row to read, as ever. When a
version is committed, the one before it is rewritten, in the same transaction, as the delta
that turns the new version back into it (`hotconf.store.delta`, compressed): a small change
makes a small row. A version further back is restored by replaying the deltas from the
nearest whole row above it, and checked against its checksum (docs/architecture.md, invariant
12). So that replaying stays cheap, the chain a whole row heads is cut (the row before is kept
whole, compressed) once its deltas reach half the size of the whole row, or 100 of them; a
config under 1 KiB is kept whole every time, where a delta would cost more than it saves.
Deltas point to newer versions, so pruning old versions never touches the ones kept. In
memory (``state_dir=None``) it is the same database, and the same code.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import Problem, StoreError, VersionNotFoundError
from ..events import Rejection
from ..pipeline.snapshot import VersionInfo, checksum
from ..webhooks.deliveries import OutboxRow
from . import delta
from .db import Database, state_file
from .outbox import Outbox, insert_rows
from .retention import (
    PIN,
    PRUNED,
    SERVED,
    Pruned,
    Retention,
    drop,
    plan,
    ranges,
    rewritten,
)

log = logging.getLogger("hotconf")

__all__ = ["PIN", "SERVED", "Pruned", "Retention", "Store", "StoredVersion"]

HEAD, WHOLE, PACKED, DELTA = "head", "json", "json+zlib", "delta+zlib"  # versions.encoding
CHAIN_SHARE = 0.5  # the deltas replayed through a whole row stay under this share of its size
CHAIN_LINKS = 100  # and this many
_PACK_LEVEL = 1  # zlib level of a whole row packed on the commit path: fast, ~3.5x smaller
SMALL = 1024  # a version whose JSON is shorter is kept whole: no diff, no compression


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A version read back from the store: its metadata and its plain data."""

    info: VersionInfo
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Tip:
    """The newest version as this store wrote (or first read) it: what the next commit's
    delta is taken against, without reading it back."""

    version: int
    data: Mapping[str, Any]
    encoded: delta.Encoded
    size: int  # of its JSON
    chain: int
    links: int


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
        retention: what to drop after each commit (`Retention`); default: keep everything.
        exclusive: lock its directory against other writers (`hotconf.store.db.StateLock`).

    Attributes:
        outbox: the webhook subscribers, outbox and delivery attempts, in the same database.

    Raises:
        StoreError: the database cannot be opened, is not a hotconf store, or is corrupt.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        retention: Retention | None = None,
        exclusive: bool = False,
    ) -> None:
        self._db = Database(path, exclusive=exclusive)
        self.path = self._db.path
        self.outbox = Outbox(self._db)
        self.retention = retention or Retention()
        self._tip: _Tip | None = None

    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike[str] | None,
        *,
        retention: Retention | None = None,
        exclusive: bool = False,
    ) -> Store:
        """Open (creating it if needed) the store in ``state_dir``; ``None`` for memory only.

        Args:
            state_dir: the state directory.
            retention: what to drop after each commit (`Retention`).
            exclusive: lock the directory for this writer (`hotconf.store.db.StateLock`).

        Raises:
            StoreError: the directory cannot be created or written, or the database opened;
                or, ``exclusive``, another process holds the directory.
        """
        return cls(state_file(state_dir), retention=retention, exclusive=exclusive)

    def append(
        self,
        *,
        data: Mapping[str, Any],
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
        """Commit a version durably and serve it.

        Its number is last + 1, or ``version`` when the source numbers them (a fleet's
        versions, `hotconf.EtcdSource`): then a version already stored with that checksum
        is served again (a canary instance going back to the stable version), and one
        stored with another checksum (the same published version under a changed schema,
        or another fleet's) is replaced. The version served when it is not the newest is
        kept in the ``served_version`` meta key, which `latest` reads.

        Args:
            data: the config, its keys in the document's order (plain, or frozen as a
                `Snapshot` holds it; plain data must not change afterwards).
            checksum: the sha256 of its canonical JSON.
            outbox: builds the webhook deliveries announcing it, given the version's
                metadata; they go into `outbox` in the same transaction (invariant 3).
            meta: keys to write in the same transaction (``None`` deletes one).
            version: the number the source gave it, instead of last + 1.

        Then, if `retention` says so, what it no longer keeps is pruned (a failed prune is
        logged: the version is committed).
        """
        tip = self._tip or self._read_tip()
        # A caller's plain dict may change after this call; frozen data cannot, so the parts
        # it shares with the newest version (the same objects) need not be encoded again.
        frozen = type(data) is not dict
        encoded = delta.encode(data, tip.encoded if tip is not None and frozen else None)
        body = encoded.body()
        old: tuple[str, bytes] | None = None  # what the newest row becomes
        chain = links = 0
        if tip is not None and tip.size < SMALL:  # a delta would not be worth its cost
            old = (WHOLE, tip.encoded.body())
        elif tip is not None:
            equal = [k for k, text in encoded.texts.items() if tip.encoded.texts.get(k) == text]
            back, size = delta.pack(delta.diff(data, tip.data, equal=equal))
            if tip.chain + size <= CHAIN_SHARE * len(body) and tip.links < CHAIN_LINKS:
                old, chain, links = (DELTA, back), tip.chain + size, tip.links + 1
            else:
                old = (PACKED, zlib.compress(tip.encoded.body(), _PACK_LEVEL))
        with self._db.transaction() as db:
            last = 0
            if version is not None:
                last = db.execute("SELECT max(version) FROM versions").fetchone()[0] or 0
            row = (
                db.execute("SELECT * FROM versions WHERE version = ?", (version,)).fetchone()
                if version is not None and version <= last
                else None
            )
            if version is not None and version <= last:
                if row is not None and row["checksum"] == checksum:
                    info = _info(row)  # served again, as it was stored
                else:
                    info = VersionInfo(
                        version=version,
                        checksum=checksum,
                        created_at=created_at,
                        source=source,
                        status=status,
                        rolled_back_from=rolled_back_from,
                        restores=restores,
                    )
                    _replace(db, info, body, last == version, self.path)
                    self._tip = None  # read again by the next commit
                _write_meta(db, SERVED, str(version) if version < last else None)
            else:
                # Rewrite the newest row only if it is still the one this store knows (another
                # process may have committed since): then the new row is the delta's base.
                if (
                    old is None
                    or tip is None
                    or not db.execute(_REWRITE, (*old, tip.version, version)).rowcount
                ):
                    chain = links = 0
                    # the newest version is not the one this store knows: keep it whole, here,
                    # before the new version takes its place in head
                    db.execute(_UNHEAD)
                # Free the old head's pages before the new one takes some: INSERT OR REPLACE
                # would hold both for a moment, and the file would keep the room for two.
                db.execute("DELETE FROM head")
                cursor = db.execute(
                    _INSERT_VERSION,
                    (
                        version,
                        checksum,
                        created_at.isoformat(),
                        source,
                        status,
                        rolled_back_from,
                        restores,
                        chain,
                        links,
                    ),
                )
                assert cursor.lastrowid is not None
                db.execute(_HEAD, (cursor.lastrowid, body))
                _write_meta(db, SERVED, None)
                info = VersionInfo(
                    version=cursor.lastrowid,
                    checksum=checksum,
                    created_at=created_at,
                    source=source,
                    status=status,
                    rolled_back_from=rolled_back_from,
                    restores=restores,
                )
                if not frozen:
                    data = json.loads(body)
                    encoded = delta.Encoded(data, encoded.texts)
                self._tip = _Tip(info.version, data, encoded, len(body), chain, links)
            if outbox is not None:
                insert_rows(db, outbox(info))
            for key, value in (meta or {}).items():
                _write_meta(db, key, value)
        if self.retention.active:
            try:
                self.prune(now=created_at)
            except StoreError:
                log.exception("hotconf: pruning the history failed; it is tried again next time")
        return info

    def _read_tip(self) -> _Tip | None:
        rows = self._db.query(_NEWEST)
        if not rows or rows[0]["encoding"] != HEAD:
            return None
        row = rows[0]
        body = _bytes(row["whole"])
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise StoreError(
                f"state database {self.path}: version {row['version']} is corrupt"
            ) from exc
        return _Tip(row["version"], data, delta.encode(data), len(body), row["chain"], row["links"])

    def latest(self) -> StoredVersion | None:
        """The version served last: the last-known-good (the newest, unless a fleet's
        canary instance went back to an earlier one)."""
        served = self.get_meta(SERVED)
        if served is not None and served.isdigit():
            rows = self._db.query(_CHAIN, (int(served),))
            if rows:
                return StoredVersion(_info(rows[-1]), self._restore(rows))
        rows = self._db.query(_NEWEST)
        if not rows:
            return None
        if rows[0]["encoding"] == DELTA:  # not how hotconf leaves it, but restorable
            return self.get(rows[0]["version"])
        return StoredVersion(_info(rows[0]), self._restore(rows))

    def get(self, version: int) -> StoredVersion:
        """One version with its data, exactly as it was committed (key order included).

        Raises:
            VersionNotFoundError: there is no such version (never was, or pruned).
            StoreError: it cannot be restored (the database is damaged).
        """
        rows = self._db.query(_CHAIN, (version,))
        if not rows:
            raise VersionNotFoundError(self._missing(version))
        return StoredVersion(_info(rows[-1]), self._restore(rows))

    def _missing(self, version: int) -> str:
        if any(a <= version <= b for a, b in self.pruned()):
            return (
                f"version {version} was pruned from the history (retention: keep_versions, "
                "keep_days); `hotconf history` lists the versions kept"
            )
        return f"no version {version} in the history"

    def _restore(self, rows: Sequence[sqlite3.Row]) -> dict[str, Any]:
        """The data of ``rows[-1]``, given the chain of rows from a whole one down to it."""
        return restore(rows, self.path)

    def history(self, limit: int | None = None) -> list[VersionInfo]:
        """Version metadata, newest first."""
        rows = self._db.query(
            "SELECT version, checksum, created_at, source, status, rolled_back_from, restores"
            " FROM versions ORDER BY version DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [_info(r) for r in rows]

    def pruned(self) -> list[tuple[int, int]]:
        """The ranges of version numbers pruned from the history, oldest first."""
        return ranges(self.get_meta(PRUNED))

    def prune(
        self,
        retention: Retention | None = None,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> Pruned:
        """Drop the versions, rejections and final webhook deliveries ``retention`` (default:
        this store's) no longer keeps, in one transaction (`hotconf.store.retention` says
        what is always kept).

        Args:
            retention: how much to keep.
            now: the time ages are counted from (default: now).
            dry_run: only say what would be dropped.

        Raises:
            StoreError: SQLite failed; nothing was dropped.
        """
        rules = retention or self.retention
        with self._db.transaction() as db:
            found = plan(db, rules, now or datetime.now(UTC))
            if not dry_run:
                # A version kept whose deltas lead through one dropped is first stored whole.
                make_whole(db, found.rewritten, self.path)
                drop(db, found)
        return found.pruned(dry_run)

    def vacuum(self) -> None:
        """Give the pages freed by pruning back to the filesystem (rewrites the file).

        Raises:
            StoreError: SQLite failed (the database is busy: try again).
        """
        self._db.vacuum()

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


def restore(rows: Sequence[sqlite3.Row], where: object = None) -> dict[str, Any]:
    """The data of the last of ``rows``: a whole row, then the deltas down to it (`_CHAIN`).

    Raises:
        StoreError: a row the chain needs is missing or damaged, or the result does not
            have the version's checksum.
    """
    version = rows[-1]["version"]
    first = rows[0]
    if first["encoding"] == DELTA:
        raise StoreError(
            f"state database {where}: version {version} cannot be restored: "
            f"version {first['base']}, which it is restored from, is missing"
        )
    try:
        encoding = first["encoding"]
        body = _bytes(first["whole"] if encoding == HEAD else first["body"])
        data: dict[str, Any] = json.loads(zlib.decompress(body) if encoding == PACKED else body)
        for row in rows[1:]:
            data = delta.patch(data, delta.unpack(row["body"]))
    except (ValueError, LookupError, TypeError, zlib.error) as exc:
        raise StoreError(f"state database {where}: version {version} is corrupt") from exc
    if len(rows) > 1 and checksum(data) != rows[-1]["checksum"]:
        raise StoreError(
            f"state database {where}: version {version} does not restore to its checksum"
        )
    return data


def make_whole(db: sqlite3.Connection, versions: Sequence[int], where: object = None) -> None:
    """Store ``versions`` whole (compressed), each restored first through its chain: before
    a row their deltas lead through is dropped or replaced."""
    for version in versions:
        data = restore(db.execute(_CHAIN, (version,)).fetchall(), where)
        db.execute(
            "UPDATE versions SET encoding = ?, base = NULL, body = ? WHERE version = ?",
            (PACKED, zlib.compress(delta.dumps(data), _PACK_LEVEL), version),
        )


def _replace(
    db: sqlite3.Connection, info: VersionInfo, body: bytes, newest: bool, where: object
) -> None:
    """Write ``info``'s row in place of the one with its number (or in a gap), after storing
    whole the versions restored through the row it replaces."""
    make_whole(db, rewritten(db, [info.version]), where)
    if newest:  # it is the newest: its data goes into head
        db.execute("DELETE FROM head")
        encoding, stored = HEAD, b""
    else:
        encoding, stored = PACKED, zlib.compress(body, _PACK_LEVEL)
    db.execute(
        _REPLACE,
        (
            info.version,
            info.checksum,
            info.created_at.isoformat(),
            info.source,
            info.status,
            info.rolled_back_from,
            info.restores,
            encoding,
            stored,
        ),
    )
    if newest:
        db.execute(_HEAD, (info.version, body))


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


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


# The number is the source's, or the next one, computed in the statement (``version`` is the
# row id); the data goes into ``head``.
_INSERT_VERSION = (
    "INSERT INTO versions (version, checksum, created_at, source, status, rolled_back_from,"
    " restores, encoding, chain, links, body)"
    " SELECT coalesce(?, coalesce(max(version), 0) + 1), ?, ?, ?, ?, ?, ?, 'head', ?, ?, x''"
    " FROM versions"
)
# The newest row becomes a delta to the row inserted next (or whole, compressed): that row's
# number is the source's (?4), or the next one.
_REWRITE = (
    "UPDATE versions SET encoding = ?1, body = ?2,"
    " base = CASE WHEN ?1 = 'delta+zlib' THEN coalesce(?4, version + 1) END"
    " WHERE version = ?3 AND encoding = 'head'"
    " AND version = (SELECT max(version) FROM versions)"
)
_REPLACE = (
    "INSERT OR REPLACE INTO versions (version, checksum, created_at, source, status,"
    " rolled_back_from, restores, encoding, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD = "INSERT INTO head (slot, version, body) VALUES (0, ?, ?)"
_UNHEAD = (
    "UPDATE versions SET encoding = 'json', body = (SELECT body FROM head) WHERE encoding = 'head'"
)
_NEWEST = (
    "SELECT versions.*, head.body AS whole FROM versions LEFT JOIN head USING (version)"
    " ORDER BY version DESC LIMIT 1"
)
# A version's row and the rows it is restored through, from the whole one down to it.
_CHAIN = """
WITH RECURSIVE chain (version, depth) AS (
    SELECT ?, 0
    UNION ALL
    SELECT versions.base, chain.depth + 1 FROM versions JOIN chain USING (version)
    WHERE versions.encoding = 'delta+zlib' AND versions.base > versions.version
)
SELECT versions.*, head.body AS whole
FROM chain JOIN versions USING (version) LEFT JOIN head USING (version)
ORDER BY chain.depth DESC
"""
