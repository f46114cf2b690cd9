"""A state database written by schema 2 (every version whole, as canonical JSON) opens,
migrates in place and loses nothing: each version restores to its checksum, the webhook
tables and the rollback pin are as they were, and new versions go on as deltas."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.pipeline.snapshot import canonical_json, checksum
from hotconf.store.history import PIN, Retention, Store
from hotconf.testing import MemorySource

# hotconf's DDL for schema 2, as it was (hotconf/store/db.py before schema 3)
SCHEMA_2 = """
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
PRAGMA user_version = 2;
"""
# and the statement its Store.append ran: ``data`` is the canonical JSON (keys sorted)
INSERT_2 = (
    "INSERT INTO versions (version, checksum, created_at, source, status,"
    " rolled_back_from, restores, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _configs() -> list[dict[str, Any]]:
    base = {"zeta": {"b": [3, 1.0, True], "a": None}, "db": {"pool": 5, "host": "h"}, "ü": -0.0}
    out = [base]
    for n in range(1, 8):
        data = json.loads(json.dumps(out[-1]))
        data["db"]["pool"] = n
        data[f"k{n}"] = {"deep": [n, {"x": n * 1.5}]}
        out.append(data)
    return out


def _schema_2_database(path: Path) -> list[dict[str, Any]]:
    """A database as schema-2 hotconf left it: 8 versions and a rollback to v3, pinned; a
    subscriber with a delivered and a pending delivery; a rejection."""
    configs = _configs()
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_2)
    db.execute("PRAGMA journal_mode=WAL")
    rows = [(n, c, "applied", None, None) for n, c in enumerate(configs, 1)]
    rows.append((9, configs[2], "rollback", 8, 3))
    for version, data, status, rolled_back_from, restores in rows:
        db.execute(
            INSERT_2,
            (
                version,
                checksum(data),
                (T0 + timedelta(days=version)).isoformat(),
                "config.yaml" if status == "applied" else "rollback to v3",
                status,
                rolled_back_from,
                restores,
                canonical_json(data).decode("utf-8"),
            ),
        )
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (PIN, checksum(configs[7])))
    db.execute(
        "INSERT INTO rejections (at, source, checksum, problems) VALUES (?, ?, ?, ?)",
        (T0.isoformat(), "config.yaml", None, '[{"message": "bad", "path": "/db"}]'),
    )
    db.execute(
        "INSERT INTO subscribers (id, name, origin, url, secret, events, keys, allow_private,"
        " created_at) VALUES ('s1', 's1', 'api', 'https://h.example/', 'whsec_x', ?, NULL, 0,"
        " 1.0)",
        ('["config.changed"]',),
    )
    db.execute("INSERT INTO webhook_events (id, body) VALUES (1, ?)", ('{"v":8}',))
    for ident, status in ((1, "delivered"), (2, "pending")):
        db.execute(
            "INSERT INTO outbox (id, webhook_id, subscriber_id, event_id, type, version, status,"
            " attempts, created_at) VALUES (?, ?, 's1', 1, 'config.changed', 8, ?, 1, 2.0)",
            (ident, f"msg_{ident}", status),
        )
    db.execute(
        "INSERT INTO deliveries (outbox_id, attempt, at, duration, status_code, outcome)"
        " VALUES (1, 1, 3.0, 0.1, 204, 'delivered')"
    )
    db.commit()
    db.close()
    return [*configs, configs[2]]


def test_a_schema_2_database_migrates_without_loss(tmp_path: Path) -> None:
    expected = _schema_2_database(tmp_path / "hotconf.db")
    store = Store.open(tmp_path)
    try:
        for version, data in enumerate(expected, 1):
            got = store.get(version)
            assert got.info.checksum == checksum(data) == checksum(got.data)
            assert canonical_json(got.data) == canonical_json(data)  # the sorted form it had
        info = store.get(9).info
        assert (info.status, info.rolled_back_from, info.restores) == ("rollback", 8, 3)
        assert [v.version for v in store.history()] == list(range(9, 0, -1))
        assert store.get_meta(PIN) == checksum(expected[7])
        assert store.rejections()[0].problems[0].message == "bad"
        delivered, pending = sorted(store.outbox.deliveries(), key=lambda d: d.id)
        assert (delivered.status, pending.status) == ("delivered", "pending")
        assert store.outbox.attempts(1)[0].status_code == 204
        assert store.outbox.event_body(1) == '{"v":8}'
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "hotconf.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4
        rows = db.execute("SELECT encoding, count(*) FROM versions GROUP BY encoding")
        assert dict(rows.fetchall()) == {"json": 8, "head": 1}
    finally:
        db.close()


def test_a_migrated_history_goes_on_as_deltas_and_can_be_pruned(tmp_path: Path) -> None:
    expected = _schema_2_database(tmp_path / "hotconf.db")
    # the source changed since the rollback: it speaks again, as v10, in document order
    source = MemorySource({"db": {"pool": 1, "host": "h"}, "zeta": {"a": None, "b": [3]}})
    with hotconf.watch(source, state_dir=tmp_path) as live:
        assert live.version == 10 and list(live.current) == ["db", "zeta"]
        source.set({"zeta": {"b": [4], "a": None}, "db": {"pool": 2, "host": "h"}})
        assert live.version == 11
        for version, data in enumerate(expected, 1):
            assert live.snapshot(version).checksum == checksum(data)
            assert canonical_json(live.snapshot(version).to_dict()) == canonical_json(data)
        assert list(live.snapshot(10)) == ["db", "zeta"]
    store = Store.open(tmp_path)
    try:
        pruned = store.prune(Retention(keep_versions=3), now=T0 + timedelta(days=30))
        assert pruned.versions == tuple(range(1, 9))
        assert [v.version for v in store.history()] == [11, 10, 9]
        assert checksum(store.get(9).data) == checksum(expected[8])
        assert list(store.get(11).data) == ["zeta", "db"]
        assert store.pruned() == [(1, 8)]
    finally:
        store.close()


DATA = Path(__file__).parent / "data"
# every table but versions, whose rows schema 3 rewrites: the same rows before and after
KEPT_TABLES = ("meta", "rejections", "subscribers", "webhook_events", "outbox", "deliveries")


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(path)
    try:
        # the table names are the constants above
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in KEPT_TABLES}  # noqa: S608
    finally:
        db.close()


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _versions_2(path: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT version, checksum, created_at, source, status, rolled_back_from, restores,"
            " data FROM versions ORDER BY version"
        ).fetchall()
    finally:
        db.close()


@pytest.mark.parametrize(("fixture", "served"), [("schema_2.db", 8), ("schema_2_fleet.db", 4)])
def test_a_database_written_by_schema_2_hotconf_migrates_without_loss(
    tmp_path: Path, fixture: str, served: int
) -> None:
    """Files written by hotconf before schema 3 (tests/store/data/make_schema_2.py): the
    history through ``watch`` with a rejection, a rollback and delivered webhooks, and a
    fleet's numbered versions with an earlier one served again."""
    path = tmp_path / "hotconf.db"
    shutil.copyfile(DATA / fixture, path)
    before, versions = _rows(path), _versions_2(path)
    assert _user_version(path) == 2
    store = Store.open(tmp_path)
    try:
        for version, csum, created_at, source, status, back, restores, data in versions:
            got = store.get(version)
            assert canonical_json(got.data).decode() == data
            assert checksum(got.data) == csum
            info = got.info
            assert (info.created_at.isoformat(), info.source, info.status) == (
                created_at,
                source,
                status,
            )
            assert (info.rolled_back_from, info.restores) == (back, restores)
        assert [v.version for v in store.history()] == [v[0] for v in reversed(versions)]
        latest = store.latest()
        assert latest is not None and latest.info.version == served
        newest = versions[-1][0]
        data = {"after": "schema 3", "keys": {"z": 1, "a": 2}}
        info = store.append(
            data=data,
            checksum=checksum(data),
            source="t",
            created_at=T0,
            version=newest + 2 if served != newest else None,
        )
        for version, *_, old in versions:
            assert canonical_json(store.get(version).data).decode() == old
        assert list(store.get(info.version).data["keys"]) == ["z", "a"]
        latest = store.latest()
        assert latest is not None and latest.info.version == info.version
    finally:
        store.close()
    after = _rows(path)
    after["meta"] = [row for row in after["meta"] if row[0] != "served_version"]
    before["meta"] = [row for row in before["meta"] if row[0] != "served_version"]
    # schema 4 adds subscribers.raw_checksums, off for the subscribers already there
    before["subscribers"] = [(*row, 0) for row in before["subscribers"]]
    assert after == before
    assert _user_version(path) == 4
