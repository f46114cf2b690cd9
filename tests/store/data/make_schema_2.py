"""Writes ``schema_2.db`` and ``schema_2_fleet.db`` with hotconf as it was before schema 3
(run it with that hotconf first on ``sys.path``; it refuses to run with a later one).

``schema_2.db``: six versions edited through ``hotconf.watch`` (keys out of order), a
rejection, a rollback to v2 (pinned), then v8 from the source again, and ``config.changed``
webhooks delivered to a receiver on loopback. ``schema_2_fleet.db``: versions numbered by a
fleet (1, 4, 7), then v4 served again (``served_version``).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import hotconf
import hotconf.webhooks
from hotconf.pipeline.snapshot import canonical_json, checksum
from hotconf.store.db import SCHEMA_VERSION
from hotconf.store.history import Store
from hotconf.testing import MemorySource

HERE = Path(__file__).parent
SCHEMA = {"type": "object", "properties": {"port": {"type": "integer"}}}


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _local(directory: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    sub = hotconf.Subscriber(
        url, hotconf.webhooks.new_secret(), allow_private=True, name="receiver"
    )
    source = MemorySource("zeta: 1\nport: 80\nalpha: {y: true, b: [3, 1.0]}\n")
    with hotconf.watch(source, SCHEMA, state_dir=directory, webhooks=[sub]) as live:
        for n in range(2, 7):
            source.set(f"port: {80 + n}\nzeta: {n}\nalpha: {{b: [3, {n}.5], y: {n % 2 == 0}}}\n")
        source.set("port: nope\n")  # a rejection
        live.rollback(to=2)
        source.set("alpha: {y: false}\nport: 8080\nmid: [-0.0, 1, 1.0]\n")
        assert live.version == 8, live.version
        deadline = time.monotonic() + 30
        while any(d.status != "delivered" for d in live.webhooks.deliveries()):
            assert time.monotonic() < deadline, "deliveries not delivered"
            time.sleep(0.05)
    server.shutdown()


def _fleet(directory: Path) -> None:
    store = Store.open(directory)
    configs = {1: {"b": 1, "a": [1]}, 4: {"b": 4, "a": [4, 4]}, 7: {"b": 7, "a": {"x": 7}}}
    for version in (1, 4, 7, 4):
        data = configs[version]
        store.append(
            data=canonical_json(data),
            checksum=checksum(data),
            source="etcd",
            created_at=datetime(2026, 12, 1, version, tzinfo=UTC),
            version=version,
        )
    assert store.get_meta("served_version") == "4"
    store.close()


def main() -> None:
    if SCHEMA_VERSION != 2:
        sys.exit(f"needs hotconf with schema 2, not {SCHEMA_VERSION}")
    for name, make in (("schema_2.db", _local), ("schema_2_fleet.db", _fleet)):
        work = HERE / f"{name}.d"
        make(work)
        db = sqlite3.connect(work / "hotconf.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute(f"VACUUM INTO '{HERE / name}'")
        db.close()
        for path in sorted(work.iterdir(), reverse=True):
            path.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
