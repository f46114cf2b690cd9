"""Retention: which versions, rejections and webhook deliveries a prune drops.

A `Retention` keeps the newest ``keep_versions`` and whatever is younger than ``keep_days``:
a row goes only when every rule that is set lets it go (``None`` sets no rule; with neither,
nothing goes). The same two rules apply to each kind of row:

- versions: the newest ``keep_versions``; their age is ``created_at``. Never dropped, whatever
  the rules: the newest version (the last-known-good), the version served when a fleet's
  canary instance went back to an earlier one (``served_version``), and, while a rollback pin
  is in force (the source has not changed since a rollback or a promoted canary), the newest
  version with the pinned content and, if the newest version is a rollback, the versions it
  names (``restores``, ``rolled_back_from``). Numbers are not reused (only a fleet's source
  may give a pruned number again): a pruned version is gone, and its number is listed among
  the ranges pruned (``pruned_versions`` meta).
- rejections: the newest ``keep_versions``; their age is when they happened.
- webhook deliveries: per subscriber, the newest ``keep_versions`` of those that are final
  (``delivered`` or ``dead``); their age is ``created_at``. With them go their attempts and
  the event bodies no delivery refers to any more. A delivery not yet final is never dropped.

`plan` reads what goes, `drop` deletes it; `hotconf.store.history.Store.prune` runs both in one
write transaction, so a process using the same database sees the history before or after,
never half-way. The database file does not shrink: SQLite reuses the freed pages for the next
rows (``Store.vacuum`` gives them back to the filesystem).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PIN = "pinned_checksum"  # meta key: the checksum of the source content a rollback keeps out
SERVED = "served_version"  # meta key: the version served when it is not the newest (fleet mode)
PRUNED = "pruned_versions"  # meta key: the ranges of version numbers pruned, as JSON
_FINAL = ("delivered", "dead")


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history to keep (``watch(keep_versions=..., keep_days=...)``).

    Args:
        keep_versions: keep at least the newest this many (1 or more); ``None``: no limit.
        keep_days: keep everything younger than this many days; ``None``: no limit.

    Raises:
        ValueError: a value out of range.
    """

    keep_versions: int | None = None
    keep_days: float | None = None

    def __post_init__(self) -> None:
        n = self.keep_versions
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"keep_versions must be an integer of 1 or more, not {n!r}")
        d = self.keep_days
        if d is not None and (isinstance(d, bool) or not isinstance(d, int | float) or not d >= 0):
            raise ValueError(f"keep_days must be a number of 0 or more, not {d!r}")

    @property
    def active(self) -> bool:
        """Does it drop anything at all?"""
        return self.keep_versions is not None or self.keep_days is not None


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune dropped, or would drop (``dry_run``).

    Attributes:
        versions: the version numbers dropped, oldest first.
        rewritten: versions kept that had to be stored whole again, because the deltas they
            were restored through belonged to versions dropped.
        rejections: how many recorded rejections were dropped.
        deliveries: how many final webhook deliveries were dropped.
        attempts: how many delivery attempts went with them.
    """

    versions: tuple[int, ...] = ()
    rewritten: tuple[int, ...] = ()
    rejections: int = 0
    deliveries: int = 0
    attempts: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        """One line: ``dropped 40 versions (v1-v40), 3 rejections, ...``."""
        if not (self.versions or self.rejections or self.deliveries):
            return "nothing to prune"
        parts = []
        if self.versions:
            parts.append(f"{_count(len(self.versions), 'version')} ({spans(self.versions)})")
        if self.rejections:
            parts.append(_count(self.rejections, "rejection"))
        if self.deliveries:
            parts.append(
                f"{_count(self.deliveries, 'webhook delivery', 'webhook deliveries')}"
                f" with {_count(self.attempts, 'attempt')}"
            )
        line = ("would drop " if self.dry_run else "dropped ") + ", ".join(parts)
        if self.rewritten:
            verb = "would be" if self.dry_run else "was" if len(self.rewritten) == 1 else "were"
            line += f"; {spans(self.rewritten)} {verb} stored whole again"
        return line


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def spans(numbers: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` as ``v1-v3, v7``."""
    out: list[str] = []
    run: list[int] = []
    for n in sorted(numbers):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(f"v{run[0]}" if len(run) == 1 else f"v{run[0]}-v{run[-1]}")
        run = [n]
    if run:
        out.append(f"v{run[0]}" if len(run) == 1 else f"v{run[0]}-v{run[-1]}")
    return ", ".join(out)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a prune drops, as `plan` found it."""

    versions: tuple[int, ...] = ()
    rewritten: tuple[int, ...] = ()
    rejections: tuple[int, ...] = ()
    deliveries: tuple[int, ...] = ()
    events: tuple[int, ...] = ()
    attempts: int = 0

    def pruned(self, dry_run: bool) -> Pruned:
        return Pruned(
            self.versions,
            self.rewritten,
            len(self.rejections),
            len(self.deliveries),
            self.attempts,
            dry_run,
        )


def plan(db: sqlite3.Connection, rules: Retention, now: datetime) -> Plan:
    """What ``rules`` drop at ``now``, read inside the caller's transaction."""
    if not rules.active:
        return Plan()
    cutoff = now - timedelta(days=rules.keep_days) if rules.keep_days is not None else None
    versions = _versions(db, rules.keep_versions, cutoff)
    deliveries = _deliveries(db, rules.keep_versions, cutoff)
    return Plan(
        versions=versions,
        rewritten=rewritten(db, versions),
        rejections=_rejections(db, rules.keep_versions, cutoff),
        deliveries=tuple(d for d, _, _ in deliveries),
        events=tuple(sorted({e for _, e, _ in deliveries})),
        attempts=sum(n for _, _, n in deliveries),
    )


def drop(db: sqlite3.Connection, plan: Plan) -> None:
    """Delete what ``plan`` says, inside the caller's transaction; the version numbers
    dropped join the ranges `pruned` reads."""
    if plan.versions:
        ranges = pruned(db) + [(v, v) for v in plan.versions]
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (PRUNED, json.dumps(_merge(ranges))),
        )
    db.executemany("DELETE FROM versions WHERE version = ?", [(v,) for v in plan.versions])
    db.executemany("DELETE FROM rejections WHERE id = ?", [(r,) for r in plan.rejections])
    db.executemany("DELETE FROM deliveries WHERE outbox_id = ?", [(d,) for d in plan.deliveries])
    db.executemany("DELETE FROM outbox WHERE id = ?", [(d,) for d in plan.deliveries])
    db.executemany(
        "DELETE FROM webhook_events WHERE id = ?1"
        " AND NOT EXISTS (SELECT 1 FROM outbox WHERE event_id = ?1)",
        [(e,) for e in plan.events],
    )


def pruned(db: sqlite3.Connection) -> list[tuple[int, int]]:
    """The ranges of version numbers pruned so far, oldest first (numbers a fleet's source
    skipped never were versions, and are not among them)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (PRUNED,)).fetchone()
    return ranges(row[0] if row is not None else None)


def ranges(text: str | None) -> list[tuple[int, int]]:
    """The ``pruned_versions`` meta value read back."""
    return [(a, b) for a, b in json.loads(text)] if text is not None else []


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _versions(db: sqlite3.Connection, keep: int | None, cutoff: datetime | None) -> tuple[int, ...]:
    # Everything older than the newest `keep` (the newest one at least), and old enough.
    row = db.execute(
        "SELECT version FROM versions ORDER BY version DESC LIMIT 1 OFFSET ?", ((keep or 1) - 1,)
    ).fetchone()
    if row is None:
        return ()
    sql, args = "SELECT version FROM versions WHERE version < ?", [row[0]]
    if cutoff is not None:
        sql += " AND julianday(created_at) < julianday(?)"
        args.append(cutoff.isoformat())
    found = [r[0] for r in db.execute(sql + " ORDER BY version", args)]
    if not found:
        return ()
    kept = _pinned(db)
    return tuple(v for v in found if v not in kept)


def _pinned(db: sqlite3.Connection) -> set[int]:
    """The version served when it is not the newest, and the versions a rollback pin in
    force refers to."""
    kept: set[int] = set()
    served = db.execute("SELECT value FROM meta WHERE key = ?", (SERVED,)).fetchone()
    if served is not None and served[0].isdigit():
        kept.add(int(served[0]))
    pin = db.execute("SELECT value FROM meta WHERE key = ?", (PIN,)).fetchone()
    if pin is None:
        return kept
    row = db.execute("SELECT max(version) FROM versions WHERE checksum = ?", (pin[0],)).fetchone()
    if row[0] is not None:
        kept.add(row[0])
    newest = db.execute(
        "SELECT status, restores, rolled_back_from FROM versions ORDER BY version DESC LIMIT 1"
    ).fetchone()
    if newest is not None and newest["status"] == "rollback":
        kept.update(v for v in (newest["restores"], newest["rolled_back_from"]) if v is not None)
    return kept


def rewritten(db: sqlite3.Connection, dropped: Sequence[int]) -> tuple[int, ...]:
    """Versions kept that are restored through one of ``dropped`` (deltas point to newer
    versions, so only versions kept below a dropped one can be)."""
    if not dropped:
        return ()
    gone = set(dropped)
    below = db.execute(
        "SELECT version FROM versions WHERE version < ? AND encoding = 'delta+zlib'",
        (max(dropped),),
    ).fetchall()
    out = []
    for (version,) in below:
        if version in gone:
            continue
        chain = db.execute(_CHAIN_VERSIONS, (version,)).fetchall()
        if any(v in gone for (v,) in chain):
            out.append(version)
    return tuple(out)


def _rejections(
    db: sqlite3.Connection, keep: int | None, cutoff: datetime | None
) -> tuple[int, ...]:
    sql, args = "SELECT id FROM rejections WHERE 1", []
    if keep is not None:
        row = db.execute(
            "SELECT id FROM rejections ORDER BY id DESC LIMIT 1 OFFSET ?", (keep - 1,)
        ).fetchone()
        if row is None:
            return ()
        sql += " AND id < ?"
        args.append(row[0])
    if cutoff is not None:
        sql += " AND julianday(at) < julianday(?)"
        args.append(cutoff.isoformat())
    return tuple(r[0] for r in db.execute(sql, args))


def _deliveries(
    db: sqlite3.Connection, keep: int | None, cutoff: datetime | None
) -> list[tuple[int, int, int]]:
    """(outbox id, event id, attempts) of the final deliveries to drop."""
    sql = (
        "SELECT id, event_id, (SELECT count(*) FROM deliveries WHERE outbox_id = ranked.id)"
        " FROM (SELECT id, event_id, created_at, row_number() OVER"
        " (PARTITION BY subscriber_id ORDER BY id DESC) AS newer FROM outbox"
        " WHERE status IN (?, ?)) AS ranked WHERE newer > ?"
    )
    args: list[Any] = [*_FINAL, keep or 0]
    if cutoff is not None:
        sql += " AND created_at < ?"
        args.append(cutoff.timestamp())
    return [(r[0], r[1], r[2]) for r in db.execute(sql + " ORDER BY id", args)]


# The versions a version is restored through (its own first).
_CHAIN_VERSIONS = """
WITH RECURSIVE chain (version) AS (
    SELECT ?
    UNION ALL
    SELECT versions.base FROM versions JOIN chain USING (version)
    WHERE versions.encoding = 'delta+zlib' AND versions.base > versions.version
)
SELECT version FROM chain
"""
