"""The commit path: one version and its N outbox rows, `Store.append` vs the same SQL inline.

The baseline is the fastest way to write the same rows: a bare ``sqlite3`` connection with
the same pragmas (WAL and ``synchronous=FULL`` on disk) running the same statements (the
newest version rewritten as the delta to the new one, the new version and its ``head`` row,
the ``served_version`` meta key cleared, one event body, N outbox rows with ``executemany``)
in one ``BEGIN IMMEDIATE``/``COMMIT``. hotconf adds the lock, encoding the data and taking
the delta, building `VersionInfo` and the `OutboxRow` values, and error handling around the
same statements. Both run in the same process, alternated commit by commit, each on a
database of its own (in memory: the CPU cost; on disk: with the fsyncs a commit pays). The
config is tiny here; bench_history.py measures the cost of encoding and diffing a big one.

Goal: ``Store.append`` <= 1.3x the inline SQL in memory, <= 1.2x on disk (the sync
dominates: ~1x).

Run: python3 bench/bench_store.py [--rows N] [--commits N]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from hotconf.pipeline.snapshot import VersionInfo
from hotconf.store.db import DB_NAME
from hotconf.store.history import Store
from hotconf.webhooks.deliveries import OutboxRow

BODY = '{"type":"config.changed","data":{"name":"app","version":0}}'
GOALS = {"memory": 1.3, "disk": 1.2}


def _hotconf(store: Store, rows: int) -> Callable[[int], None]:
    def commit(n: int) -> None:
        def outbox(info: VersionInfo) -> list[OutboxRow]:
            at = info.created_at.timestamp()
            return [
                OutboxRow(f"msg_{n}_{k}", f"s{k}", "config.changed", info.version, BODY, at)
                for k in range(rows)
            ]

        store.append(
            data={"n": 1}, checksum=f"{n:064x}", source="s", created_at=_now(), outbox=outbox
        )

    return commit


def _inline(db: sqlite3.Connection, rows: int) -> Callable[[int], None]:
    # The statements Store.append runs: the newest version becomes the (empty) delta to the
    # new one, which goes whole into head, with its outbox rows.
    empty = zlib.compress(b"{}")

    def commit(n: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE versions SET encoding = 'delta+zlib', body = ?, base = version + 1"
            " WHERE version = (SELECT max(version) FROM versions) AND encoding = 'head'",
            (empty,),
        )
        db.execute("DELETE FROM head")
        now = _now()
        version = db.execute(
            "INSERT INTO versions (version, checksum, created_at, source, status, encoding,"
            " chain, links, body) SELECT coalesce(max(version), 0) + 1, ?, ?, 's', 'applied',"
            " 'head', 0, 0, x'' FROM versions",
            (f"{n:064x}", now.isoformat()),
        ).lastrowid
        db.execute("INSERT INTO head (slot, version, body) VALUES (0, ?, ?)", (version, b'{"n":1}'))
        db.execute("DELETE FROM meta WHERE key = 'served_version'")  # the newest is served
        event = db.execute("INSERT INTO webhook_events (body) VALUES (?)", (BODY,)).lastrowid
        at = now.timestamp()
        db.executemany(
            "INSERT INTO outbox (webhook_id, subscriber_id, event_id, type, version, status,"
            " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            [
                (f"msg_{n}_{k}", f"s{k}", event, "config.changed", version, at, at)
                for k in range(rows)
            ],
        )
        db.execute("COMMIT")

    return commit


def _now() -> datetime:
    return datetime.now(UTC)


def _databases(tmp: Path, disk: bool) -> tuple[Store, sqlite3.Connection]:
    """A store and a bare connection to a database of its own with the same tables."""
    Store.open(tmp / "inline").close()  # creates the tables (and the WAL mode)
    if disk:
        db = sqlite3.connect(tmp / "inline" / DB_NAME, isolation_level=None)
    else:
        db = sqlite3.connect(":memory:", isolation_level=None)
        with closing(sqlite3.connect(tmp / "inline" / DB_NAME)) as schema:
            tables = schema.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            )
            for (sql,) in tables.fetchall():
                db.execute(sql)
    db.execute("PRAGMA synchronous=FULL")
    return Store.open(tmp / "hotconf" if disk else None), db


def run(where: str, rows: int, commits: int) -> tuple[float, float]:
    """Median seconds per commit: (hotconf, inline)."""
    with tempfile.TemporaryDirectory() as tmp:
        store, db = _databases(Path(tmp), where == "disk")
        variants = {"hotconf": _hotconf(store, rows), "inline": _inline(db, rows)}
        times: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for n in range(commits):
                for name, commit in variants.items():
                    start = time.perf_counter()
                    commit(n)
                    times[name].append(time.perf_counter() - start)
        finally:
            store.close()
            db.close()
    return statistics.median(times["hotconf"]), statistics.median(times["inline"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="outbox rows per version")
    parser.add_argument("--commits", type=int, default=300, help="commits per variant")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5 rows, 5 commits")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.commits = 5, 5
    print(f"one version + {args.rows} outbox rows, {args.commits} commits each (medians)\n")
    print("| database | Store.append | inline SQL | ratio | goal |")
    print("|---|---|---|---|---|")
    for where in ("memory", "disk"):
        ours, floor = run(where, args.rows, args.commits)
        ratio = ours / floor
        verdict = "met" if ratio <= GOALS[where] else "MISSED"
        print(
            f"| {where} | {ours * 1e3:.2f} ms | {floor * 1e3:.2f} ms | {ratio:.2f}x "
            f"| <= {GOALS[where]}x {verdict} |"
        )


if __name__ == "__main__":
    main()
