"""Retention: what a prune drops and what it never drops (the last-known-good, the versions a
rollback pin refers to, the newest N, a delivery not yet final), in one transaction, safe
while another process uses the same state dir."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.pipeline.snapshot import checksum
from hotconf.store.history import PIN, SERVED, Pruned, Retention, Store
from hotconf.testing import MemorySource
from hotconf.webhooks.deliveries import AttemptResult, OutboxRow

from ..conftest import WAIT

T0 = datetime(2026, 3, 1, tzinfo=UTC)
KEEP_2 = ("--keep-versions", "2")
SECRET = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="


def _config(n: int) -> dict[str, Any]:
    return {"n": n, "z": {"b": n % 3, "a": [n, "x"]}, "rest": {f"key_{i}": i for i in range(120)}}


def _history(store: Store, count: int, *, days: float = 1.0) -> list[dict[str, Any]]:
    """``count`` versions, version v made at T0 + (v - 1) * ``days``."""
    configs = [_config(n) for n in range(1, count + 1)]
    for n, data in enumerate(configs):
        store.append(
            data=data, checksum=checksum(data), source="t", created_at=T0 + timedelta(days=n * days)
        )
    return configs


def _kept(store: Store) -> list[int]:
    return [v.version for v in reversed(store.history())]


def _restores(store: Store, expected: list[dict[str, Any]]) -> None:
    for version in _kept(store):
        got = store.get(version).data
        assert json.dumps(got) == json.dumps(expected[version - 1]), f"v{version}"


def test_keep_versions_keeps_the_newest_n(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        expected = _history(store, 10)
        pruned = store.prune(Retention(keep_versions=3), now=T0 + timedelta(days=100))
        assert pruned == Pruned(versions=tuple(range(1, 8)))
        assert pruned.summary() == "dropped 7 versions (v1-v7)"
        assert _kept(store) == [8, 9, 10]
        _restores(store, expected)
        assert store.pruned() == [(1, 7)]
        with pytest.raises(hotconf.VersionNotFoundError, match="version 5 was pruned"):
            store.get(5)
        with pytest.raises(hotconf.VersionNotFoundError, match="no version 11 in the history"):
            store.get(11)
        # versions stay numbered: the next one is 11
        data = _config(11)
        assert (
            store.append(data=data, checksum=checksum(data), source="t", created_at=T0).version
            == 11
        )
        assert store.prune(Retention(keep_versions=3)).versions == (8,)
    finally:
        store.close()


def test_the_version_a_fleet_instance_serves_is_kept_and_skipped_numbers_are_not_pruned(
    tmp_path: Path,
) -> None:
    """A fleet's source numbers versions (gaps between them), and a canary instance going back
    to the stable version serves an earlier one: that one is the last-known-good."""
    store = Store.open(tmp_path)
    try:
        configs = {v: _config(v) for v in (1, 2, 5, 6, 9)}
        for version, data in configs.items():
            store.append(
                data=data, checksum=checksum(data), source="t", created_at=T0, version=version
            )
        store.append(
            data=configs[5], checksum=checksum(configs[5]), source="t", created_at=T0, version=5
        )
        assert store.get_meta(SERVED) == "5"
        later = T0 + timedelta(days=30)
        assert store.prune(Retention(keep_versions=1), now=later).versions == (1, 2, 6)
        assert _kept(store) == [5, 9]
        latest = store.latest()
        assert latest is not None and latest.info.version == 5
        assert json.dumps(latest.data) == json.dumps(configs[5])
        assert json.dumps(store.get(9).data) == json.dumps(configs[9])
        assert store.pruned() == [(1, 2), (6, 6)]  # 3, 4, 7 and 8 never were versions
        with pytest.raises(hotconf.VersionNotFoundError, match="version 6 was pruned"):
            store.get(6)
        with pytest.raises(hotconf.VersionNotFoundError, match="no version 7 in the history"):
            store.get(7)
        data = _config(10)  # serving the newest again: 5 may go now
        store.append(data=data, checksum=checksum(data), source="t", created_at=later, version=10)
        assert store.prune(Retention(keep_versions=1), now=later).versions == (5, 9)
        assert store.pruned() == [(1, 2), (5, 6), (9, 9)]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("rules", "dropped"),
    [
        (Retention(keep_days=3.5), range(1, 8)),  # v1..v7 were made 4 days ago or more
        (Retention(keep_versions=8, keep_days=3.5), range(1, 3)),  # both must let it go
        (Retention(keep_versions=2, keep_days=100), range(0)),
        (Retention(keep_days=0), range(1, 10)),  # all but the last-known-good
        (Retention(), range(0)),  # no rule: nothing goes
    ],
)
def test_keep_days_and_keep_versions_must_both_let_a_version_go(
    tmp_path: Path, rules: Retention, dropped: range
) -> None:
    store = Store.open(tmp_path)
    try:
        expected = _history(store, 10)  # v10 made at T0 + 9 days
        pruned = store.prune(rules, now=T0 + timedelta(days=10))
        assert pruned.versions == tuple(dropped)
        assert _kept(store) == [v for v in range(1, 11) if v not in dropped]
        _restores(store, expected)
    finally:
        store.close()


def test_rollback_pin_keeps_its_versions_and_kept_deltas_are_stored_whole(
    tmp_path: Path,
) -> None:
    source = MemorySource(_config(1))
    with hotconf.watch(source, state_dir=tmp_path) as live:
        for n in range(2, 7):
            source.set(_config(n))
        live.rollback(to=2)  # v7: the content of v2; v6's content is pinned out
        assert (live.version, live.current.info.restores) == (7, 2)
    expected = [_config(n) for n in range(1, 7)] + [_config(2)]
    store = Store.open(tmp_path)
    try:
        assert store.get_meta(PIN) == checksum(_config(6))
        dry = store.prune(Retention(keep_versions=1), dry_run=True)
        assert dry.versions == (1, 3, 4, 5) and dry.rewritten == (2,) and dry.dry_run
        assert "v2 would be stored whole again" in dry.summary()
        assert _kept(store) == list(range(1, 8))  # a dry run drops nothing
        pruned = store.prune(Retention(keep_versions=1))
        assert pruned == Pruned(versions=(1, 3, 4, 5), rewritten=(2,))
        assert _kept(store) == [2, 6, 7]  # restored, rolled back from, the newest
        _restores(store, expected)
        encodings = dict(store._db.query("SELECT version, encoding FROM versions"))
        assert encodings[2] == "json+zlib"  # its deltas led through v3..v5
        store.set_meta(PIN, None)  # the source changed: the pin is gone, and so are they
        assert store.prune(Retention(keep_versions=1)).versions == (2, 6)
        _restores(store, expected)
    finally:
        store.close()


def _deliver(store: Store, ident: int, sub: str, status: str, attempts: int) -> None:
    store.outbox.record_attempts(
        [
            AttemptResult(ident, sub, n, 1.0 + n, 0.1, 500, "boom", "failed", 9.0)
            for n in range(1, attempts)
        ]
        + [AttemptResult(ident, sub, attempts, 9.0, 0.1, 204, None, status)]  # type: ignore[arg-type]
    )


def test_final_deliveries_beyond_n_go_with_their_attempts_open_ones_stay(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        subs = [hotconf.Subscriber(f"https://h.example/{s}", SECRET, name=s) for s in "ab"]
        store.outbox.sync_subscribers("code", subs, 1.0)
        a, b = (s.id for s in subs)
        for n in range(8):  # one event per version, to both subscribers (one body)
            data = _config(n)
            store.append(
                data=data,
                checksum=checksum(data),
                source="t",
                created_at=T0,
                outbox=lambda info, n=n: [
                    OutboxRow(f"m{n}{s}", s, "config.changed", info.version, f'{{"v":{n}}}', 1.0)
                    for s in (a, b)
                ],
            )
        rows = {(d.subscriber, d.version): d.id for d in store.outbox.deliveries(limit=100)}
        # a: v1-v5 delivered (v1 after 3 attempts), v6 dead, v7 failed, v8 pending
        for v in range(1, 6):
            _deliver(store, rows[a, v], a, "delivered", 3 if v == 1 else 1)
        _deliver(store, rows[a, 6], a, "dead", 2)
        store.outbox.record_attempts(
            [AttemptResult(rows[a, 7], a, 1, 9.0, 0.1, 500, "boom", "failed", 99.0)]
        )
        for v in range(1, 9):  # b: everything delivered
            _deliver(store, rows[b, v], b, "delivered", 1)
        pruned = store.prune(Retention(keep_versions=2), now=T0)
        # a keeps v5, v6 (its newest final ones) and v7, v8 (not final); b keeps v7, v8
        assert (pruned.deliveries, pruned.attempts) == (4 + 6, (3 + 1 + 1 + 1) + 6)
        left = {(d.subscriber, d.version, d.status) for d in store.outbox.deliveries(limit=100)}
        assert left == {
            (a, 5, "delivered"),
            (a, 6, "dead"),
            (a, 7, "failed"),
            (a, 8, "pending"),
            (b, 7, "delivered"),
            (b, 8, "delivered"),
        }
        assert len(store.outbox.attempts(rows[a, 6])) == 2
        assert store.outbox.attempts(rows[a, 1]) == []
        bodies = dict(store._db.query("SELECT id, body FROM webhook_events"))
        assert sorted(bodies.values()) == [f'{{"v":{n}}}' for n in range(4, 8)]
        assert sorted(store.outbox.subscribers_with_work()) == [a]
        # with keep_days only, a final delivery goes once it is old enough (created_at 1.0)
        later = datetime.fromtimestamp(1.0, UTC) + timedelta(days=2)
        assert store.prune(Retention(keep_days=3), now=later).deliveries == 0
        assert store.prune(Retention(keep_days=1), now=later).deliveries == 4
        assert len(store.outbox.deliveries(limit=100)) == 2  # a's failed and pending ones
    finally:
        store.close()


def test_rejections_beyond_n_go(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        problem = hotconf.Problem("too small", "/n", "minimum")
        for n in range(5):
            store.record_rejection(
                hotconf.Rejection(T0 + timedelta(days=n), "c.yaml", (problem,), None)
            )
        assert store.prune(Retention(keep_versions=2)).rejections == 3
        assert [r.at for r in store.rejections()] == [T0 + timedelta(days=n) for n in (4, 3)]
    finally:
        store.close()


def test_watch_prunes_after_each_commit_and_a_pruned_version_is_not_found(
    tmp_path: Path,
) -> None:
    source = MemorySource(_config(1))
    with hotconf.watch(source, state_dir=tmp_path, keep_versions=3) as live:
        for n in range(2, 11):
            source.set(_config(n))
            assert [v.version for v in live.history()] == list(range(n, max(n - 3, 0), -1))
        with pytest.raises(hotconf.VersionNotFoundError, match="version 2 was pruned"):
            live.rollback(to=2)
        with pytest.raises(hotconf.VersionNotFoundError, match="version 1 was pruned"):
            live.snapshot(1)
        assert live.rollback(to=8).status == "applied"
        assert json.dumps(live.current.to_dict()) == json.dumps(_config(8))
    with pytest.raises(ValueError, match="keep_versions must be an integer of 1 or more"):
        hotconf.watch(source, state_dir=None, keep_versions=0)
    with pytest.raises(ValueError, match="keep_days must be a number of 0 or more"):
        hotconf.watch(source, state_dir=None, keep_days=-1)


def test_pruning_from_another_process_while_a_live_process_commits(tmp_path: Path) -> None:
    state = tmp_path / "state"
    source = MemorySource(_config(0))
    expected = {1: _config(0)}
    errors: list[BaseException] = []
    stop = threading.Event()
    with hotconf.watch(source, state_dir=state) as live:

        def commit() -> None:
            try:
                n = 0
                while not stop.is_set() or n < 20:
                    n += 1
                    source.set(_config(n))  # runs the pipeline here, in this thread
                    assert live.current["n"] == n
                    expected[live.version] = _config(n)
            except BaseException as exc:  # reported below
                errors.append(exc)

        writer = threading.Thread(target=commit)
        writer.start()
        try:
            runs = [
                subprocess.run(
                    [sys.executable, "-m", "hotconf", "prune", "--state-dir", str(state), *KEEP_2],
                    capture_output=True,
                    text=True,
                    timeout=WAIT,
                )
                for _ in range(4)
            ]
        finally:
            stop.set()
            writer.join(WAIT)
        assert not errors, errors
        assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
        assert all(r.stdout.startswith("dropped") for r in runs[1:]), [r.stdout for r in runs]
        newest = max(expected)
        assert live.version == newest
        kept = [v.version for v in live.history()]
        assert kept[0] == newest and len(kept) < newest
        for version in kept:
            assert json.dumps(live.snapshot(version).to_dict()) == json.dumps(expected[version])
    # and the next process starts on the last-known-good
    with hotconf.watch(MemorySource(expected[newest]), state_dir=state) as live:
        assert live.version == newest
