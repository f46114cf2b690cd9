"""Durable before announced (docs/architecture.md, invariant 3): a process SIGKILLed after
committing a version and before delivering its webhook delivers it after the restart, and
announces it once; a promoted rollout's ``rollout.promoted`` is committed with its version."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hotconf
from hotconf.store.history import Store
from hotconf.testing import MemorySource

from ..conftest import wait_for
from .test_webhooks import SECRET, Receiver, hooks, subscriber, valid_event, verify

PRELUDE = """
import os, signal, sys
import hotconf
from hotconf.testing import MemorySource

state, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sub = hotconf.Subscriber(
    f"http://127.0.0.1:{port}/hook", sys.argv[4], allow_private=True, name="receiver"
)
webhooks = hotconf.Webhooks([sub], retry=hotconf.RetryPolicy(attempts=50, base=0.05))
"""

KILL_AFTER_COMMIT = PRELUDE + textwrap.dedent(
    """
    def die(result):
        # on_result runs right after the commit and the swap: the delivery has not gone out
        print("committed", result.version, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    source = MemorySource({"n": 1})
    live = hotconf.watch(source, state_dir=state, on_result=die, webhooks=webhooks)
    source.set({"n": 2})
    """
)

KILL_ANYWHERE = PRELUDE + textwrap.dedent(
    """
    source = MemorySource({"n": 1})
    live = hotconf.watch(source, state_dir=state, webhooks=webhooks)
    n = 1
    while True:
        n += 1
        source.set({"n": n})
        print(live.version, flush=True)
    """
)

ROLLOUTS = PRELUDE.replace(
    'name="receiver"', 'name="receiver", events=hotconf.webhooks.subscribers.ALL_EVENT_TYPES'
)

KILL_AFTER_PROMOTION = ROLLOUTS + textwrap.dedent(
    """
    def die(event):
        # a synchronous source calls subscribers inline, right after the version is
        # committed and swapped in: nothing after that in promote() runs
        print("committed", event.version, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    source = MemorySource({"n": 1})
    live = hotconf.watch(source, state_dir=state, webhooks=webhooks)
    live.subscribe(die)
    live.rollout({"n": 2}).promote()
    """
)

PROMOTE_ANYWHERE = ROLLOUTS + textwrap.dedent(
    """
    source = MemorySource({"n": 1})
    live = hotconf.watch(source, state_dir=state, webhooks=webhooks)
    n = 1
    while True:
        n += 1
        live.rollout({"n": n}).promote()
        print(live.version, flush=True)
    """
)


@contextmanager
def down_port() -> Iterator[tuple[int, socket.socket]]:
    """A port on 127.0.0.1 that refuses connections (bound, not listening) until released."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1], sock
    finally:
        sock.close()


def run_child(tmp_path: Path, script: str, state: Path, port: int, stop_at: int) -> int:
    path = tmp_path / "child.py"
    path.write_text(script)
    child = subprocess.Popen(
        [sys.executable, str(path), str(state), str(port), "x", SECRET],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    last = 0
    try:
        for line in child.stdout:
            last = int(line.split()[-1])
            if last >= stop_at:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return last


def outbox(state: Path) -> list[hotconf.Delivery]:
    store = Store.open(state)
    try:
        return list(reversed(store.outbox.deliveries(limit=10_000)))
    finally:
        store.close()


def test_sigkill_after_commit_delivers_after_restart_exactly_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with down_port() as (port, sock):
        assert run_child(tmp_path, KILL_AFTER_COMMIT, state, port, stop_at=2) == 2
        (row,) = outbox(state)  # committed with its version, not delivered (maybe tried)
        assert (row.version, row.type) == (2, "config.changed")
        assert row.status in ("pending", "failed")
        sock.close()
        with Receiver(port=port) as receiver:
            sub = subscriber(receiver.url(), name="receiver")
            with hotconf.watch(
                MemorySource({"n": 2}), state_dir=state, webhooks=hooks([sub])
            ) as live:
                assert live.version == 2  # the same content: no new version, no new event
                wait_for(lambda: outbox(state)[0].status == "delivered", what="the delivery")
            hits = receiver.snapshot()
    (hit,) = hits
    event = verify(hit)
    assert event == valid_event(hit.body)
    assert (event["type"], event["data"]["version"], event["data"]["previous_version"]) == (
        "config.changed",
        2,
        1,
    )
    assert hit.headers["webhook-id"] == row.webhook_id
    assert [d.version for d in outbox(state)] == [2]


def test_sigkill_anywhere_never_loses_a_versions_webhook(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with down_port() as (port, sock):
        announced = run_child(tmp_path, KILL_ANYWHERE, state, port, stop_at=30)
        store = Store.open(state)
        try:
            versions = sorted(v.version for v in store.history())
        finally:
            store.close()
        assert versions[-1] >= announced
        rows = outbox(state)
        # every version after the first has exactly one delivery, committed with it
        assert [d.version for d in rows] == versions[1:]
        sock.close()
        with Receiver(port=port) as receiver:
            sub = subscriber(receiver.url(), name="receiver")
            source = MemorySource({"n": versions[-1]})
            with hotconf.watch(source, state_dir=state, webhooks=hooks([sub])) as live:
                assert live.webhooks is not None
                webhooks = live.webhooks
                wait_for(
                    lambda: len(webhooks.deliveries("delivered", limit=10_000)) == len(rows),
                    what="every delivery",
                )
            seen = [h.version for h in receiver.snapshot()]
    assert seen == versions[1:]  # each once, in version order


def test_sigkill_right_after_a_promotion_keeps_its_rollout_event(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with down_port() as (port, sock):
        assert run_child(tmp_path, KILL_AFTER_PROMOTION, state, port, stop_at=2) == 2
        rows = outbox(state)
        assert [(d.type, d.version) for d in rows] == [
            ("rollout.started", 1),
            ("config.changed", 2),
            ("rollout.promoted", 2),  # committed with v2, though promote() never returned
        ]
        sock.close()
        with Receiver(port=port) as receiver:
            sub = subscriber(receiver.url(), name="receiver")
            with hotconf.watch(
                MemorySource({"n": 1}), state_dir=state, webhooks=hooks([sub])
            ) as live:
                assert live.version == 2  # the promotion is pinned: the source's v1 stays out
                wait_for(
                    lambda: all(d.status == "delivered" for d in outbox(state)),
                    what="every delivery",
                )
            hits = receiver.snapshot()
    events = [verify(hit) for hit in hits]
    assert all(event == valid_event(hit.body) for event, hit in zip(events, hits, strict=True))
    assert [e["type"] for e in events] == ["rollout.started", "config.changed", "rollout.promoted"]
    promoted = events[-1]["data"]
    assert (promoted["state"], promoted["canary_version"], promoted["stable_version"]) == (
        "promoted",
        2,
        1,
    )


def test_sigkill_during_promotions_never_keeps_a_version_without_its_rollout_event(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with down_port() as (port, _sock):
        run_child(tmp_path, PROMOTE_ANYWHERE, state, port, stop_at=25)
        store = Store.open(state)
        try:
            versions = sorted(v.version for v in store.history())
        finally:
            store.close()
        rows = outbox(state)
    changed = [d.version for d in rows if d.type == "config.changed"]
    promoted = [d.version for d in rows if d.type == "rollout.promoted"]
    assert changed == promoted == versions[1:]  # each version with both, or neither
