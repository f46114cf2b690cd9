"""Hardening of the reload path: what the same bad bytes, a store failure and a second
process on one state dir may and may not do."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import hotconf
from hotconf import LiveConfig
from hotconf.errors import StoreError
from hotconf.sources import Poke, RawDocument
from hotconf.sources.files import FileSource
from hotconf.store.history import Store

from ..conftest import config_text, wait_for


class PollingSource:
    """A watched (asynchronous) source that hands out fixed documents and counts reads."""

    synchronous = False
    state_dir = None
    name = "polled"

    def __init__(self, docs: tuple[RawDocument, ...]) -> None:
        self.docs = docs
        self.reads = 0
        self._lock = threading.Lock()

    def read(self) -> tuple[RawDocument, ...]:
        with self._lock:
            self.reads += 1
        return self.docs

    def start(self, poke: Poke) -> None:
        self.poke = poke

    def check(self) -> None:
        """Nothing to re-arm."""

    def stop(self) -> None:
        """Nothing to stop."""


def test_huge_hex_integer_is_one_limit_rejection(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text())
    with hotconf.watch(path, state_dir=None, poll_interval=0.05) as live:
        path.write_text(config_text() + "big: 0x" + "f" * 3600 + "\n")
        wait_for(lambda: live.last_rejection is not None, what="the rejection")
        problem = live.last_rejection.problems[0]
        assert (problem.code, problem.path, problem.line) == ("limit", "/big", 4)
        assert live.version == 1 and live.degraded


def test_a_candidate_that_trips_an_internal_error_is_recorded_once(tmp_path: Path) -> None:
    # An unknown format makes the loader raise ValueError: not a HotconfError, so an
    # "internal error". The worker polls every 50 ms; the same bytes must not be recorded
    # (nor sent to subscribers and webhooks) again at each poll or retry.
    good = RawDocument("polled", config_text().encode(), "yaml")
    source = PollingSource((good,))
    seen: list[object] = []
    live = hotconf.watch(source, state_dir=tmp_path / "state", poll_interval=0.05)
    try:
        live.on_rejection(seen.append)
        source.docs = (RawDocument("polled", b"a = 1\n", "ini"),)
        wait_for(lambda: len(live.rejections()) >= 1, what="the rejection")
        reads = source.reads
        wait_for(lambda: source.reads >= reads + 10, what="ten more polls")
        assert [p.code for r in live.rejections() for p in r.problems] == ["internal"]
        wait_for(lambda: len(seen) >= 1, what="the subscriber")
        assert len(seen) == 1
        # New bytes are a new candidate: looked at (and recorded) again.
        source.docs = (RawDocument("polled", b"b = 2\n", "ini"),)
        wait_for(lambda: len(live.rejections()) == 2, what="the second rejection")
        assert live.version == 1
    finally:
        live.close()


def fill(store: Store, full: bool) -> None:
    """Make SQLite's file unable to grow (as on a full disk), or able again."""
    db = store._db
    with db._lock:
        pages = db._db.execute("PRAGMA page_count").fetchone()[0]
        db._db.execute(f"PRAGMA max_page_count = {pages if full else 2**30}")


def test_a_full_disk_is_not_a_rejection_and_the_commit_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text())
    store = Store.open(tmp_path / "state")
    live = LiveConfig(FileSource(path), store=store, poll_interval=None)
    try:
        events: list[object] = []
        live.subscribe(events.append, rejections=True)
        fill(store, full=True)
        path.write_text(config_text(pool=7, extra="big: " + "x" * 20_000 + "\n"))
        wait_for(lambda: live.store_failures >= 2, what="two failed commits (one retried)")
        assert "database or disk is full" in (live.store_problem or "")
        assert live.version == 1 and live.last_rejection is None
        with pytest.raises(StoreError, match="full"):
            live.reload()  # a manual reload says so, and rejects nothing either
        fill(store, full=False)
        wait_for(lambda: live.version == 2, what="the retried commit")
        assert live.store_problem is None and live.get("db.pool_size") == 7
        assert live.rejections() == [] and live.last_rejection is None
        wait_for(lambda: len(events) == 1, what="the change event")
        assert [type(e).__name__ for e in events] == ["ChangeEvent"]
    finally:
        live.close()
