"""The store: a version or a rejection commits with the outbox rows announcing it, or neither
does; a database from an older hotconf is migrated, one from a newer hotconf refused."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import hotconf
from hotconf.store.db import SCHEMA_VERSION
from hotconf.store.history import Store
from hotconf.webhooks.deliveries import OutboxRow

SECRET = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="  # "secret-signing-key-for-tests"


def test_store_outbox_rows_commit_with_their_version() -> None:
    store = Store(None)
    try:
        sub = hotconf.Subscriber("https://h.example/x", SECRET, name="a")
        store.outbox.sync_subscribers("code", [sub], time.time())

        def rows(info: hotconf.VersionInfo) -> list[OutboxRow]:
            return [
                OutboxRow(f"msg_{s}", s, "config.changed", info.version, '{"v":1}', time.time())
                for s in ("a", "b")
            ]

        def broken(info: hotconf.VersionInfo) -> list[OutboxRow]:
            raise RuntimeError("building the rows failed")

        now = datetime.now(UTC)
        store.append(data={}, checksum="c1", source="s", created_at=now, outbox=rows)
        with pytest.raises(RuntimeError):
            store.append(data={}, checksum="c2", source="s", created_at=now, outbox=broken)
        assert [v.version for v in store.history()] == [1]  # no version without its rows
        b, a = store.outbox.deliveries()
        assert (a.version, a.status, a.webhook_id, a.subscriber) == (1, "pending", "msg_a", "a")
        assert a.event == b.event  # one body for both subscribers
        assert store.outbox.delivery(a.id).body == store.outbox.event_body(a.event) == '{"v":1}'
        assert sorted(store.outbox.subscribers_with_work()) == ["a", "b"]
    finally:
        store.close()


def test_store_rejection_and_its_rows_commit_together() -> None:
    store = Store(None)
    try:
        problem = hotconf.Problem("too small", "/db/pool", "minimum")
        rejection = hotconf.Rejection(datetime.now(UTC), "config.yaml", (problem,), None)
        row = OutboxRow("msg_1", "a", "config.rejected", None, '{"r":1}', time.time())
        store.record_rejection(rejection, [row])
        with pytest.raises(hotconf.StoreError):  # webhook-id is unique: the rows fail to insert
            store.record_rejection(rejection, [row])
        assert len(store.rejections()) == 1  # no rejection without its rows
        sourceless = hotconf.Rejection(rejection.at, None, (problem,), None)  # type: ignore[arg-type]
        fresh = OutboxRow("msg_2", "a", "config.rejected", None, '{"r":2}', time.time())
        with pytest.raises(hotconf.StoreError):  # rejections.source is NOT NULL
            store.record_rejection(sourceless, [fresh])
        assert len(store.rejections()) == 1  # and no rows without their rejection
        (delivery,) = store.outbox.deliveries()
        assert (delivery.webhook_id, delivery.type) == ("msg_1", "config.rejected")
        assert store.outbox.event_body(delivery.event) == '{"r":1}'
    finally:
        store.close()


V1_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE versions (version INTEGER PRIMARY KEY, checksum TEXT NOT NULL,
    created_at TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL,
    rolled_back_from INTEGER, restores INTEGER, data TEXT NOT NULL);
CREATE TABLE rejections (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    source TEXT NOT NULL, checksum TEXT, problems TEXT NOT NULL);
INSERT INTO versions VALUES (1, 'abc', '2026-01-01T00:00:00+00:00', 'c.yaml', 'applied',
    NULL, NULL, '{"n": 1}');
PRAGMA user_version = 1;
"""


def test_a_version_1_store_is_migrated(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "hotconf.db")
    db.executescript(V1_DDL)
    db.close()
    store = Store.open(tmp_path)
    try:
        assert store.latest() is not None and store.get(1).data == {"n": 1}
        assert store.outbox.deliveries() == [] and store.outbox.subscribers() == []
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "hotconf.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        columns = {r[1] for r in db.execute("PRAGMA table_info(subscribers)")}
        assert "raw_checksums" in columns
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"subscribers", "outbox", "deliveries"} <= tables
    finally:
        db.close()
    # and a database from a newer hotconf is still refused
    db = sqlite3.connect(tmp_path / "hotconf.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(hotconf.StoreError, match="newer"):
        Store.open(tmp_path)


def test_versions_written_in_one_statement_number_on_across_connections(tmp_path: Path) -> None:
    import threading

    stores = [Store.open(tmp_path), Store.open(tmp_path)]  # two connections, one database
    got: list[int] = []
    lock = threading.Lock()

    def write(store: Store, n: int) -> None:
        for i in range(n):
            info = store.append(
                data={"i": i}, checksum=f"c{i}", source="t", created_at=datetime.now(UTC)
            )
            with lock:
                got.append(info.version)

    threads = [threading.Thread(target=write, args=(s, 20)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 41))  # every number once, none skipped
    history = stores[0].history()
    assert [v.version for v in history] == list(range(40, 0, -1))
    latest = stores[1].latest()
    assert latest is not None and latest.info.version == 40
    stores[0].set_meta("k", "v")
    assert stores[1].get_meta("k") == "v"
    stores[1].set_meta("k", None)
    assert stores[0].get_meta("k") is None
    for s in stores:
        s.close()


def test_a_local_version_after_a_served_one_clears_it_across_connections(tmp_path: Path) -> None:
    fleet, local = Store.open(tmp_path), Store.open(tmp_path)  # two connections, one database

    def append(
        store: Store, data: dict[str, int], checksum: str, version: int | None = None
    ) -> int:
        info = store.append(
            data=data, checksum=checksum, source="t", created_at=datetime.now(UTC), version=version
        )
        return info.version

    assert append(fleet, {"v": 1}, "c1", version=1) == 1
    assert append(fleet, {"v": 2}, "c2", version=2) == 2
    assert append(fleet, {"v": 1}, "c1", version=1) == 1  # back to the stable version
    assert local.get_meta("served_version") == "1"
    latest = local.latest()
    assert latest is not None and latest.info.version == 1 and latest.data == {"v": 1}
    # The next local version is number 3, is served, and the kept number is gone.
    assert append(local, {"v": 3}, "c3") == 3
    assert fleet.get_meta("served_version") is None
    latest = fleet.latest()
    assert latest is not None and latest.info.version == 3 and latest.data == {"v": 3}
    assert append(local, {"v": 4}, "c4") == 4  # and the one after
    assert [v.version for v in fleet.history()] == [4, 3, 2, 1]
    for s in (fleet, local):
        s.close()
