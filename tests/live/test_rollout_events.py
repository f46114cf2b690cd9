"""Canary rollout events (``rollout.started``, ``.promoted``, ``.aborted``): delivered to
webhook subscribers that list them, through the outbox, to a real receiver; and yielded by
``live.events()``. Also `Webhooks.counts`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import hotconf
from hotconf.testing import MemorySource
from hotconf.webhooks.manager import ALL_EVENT_TYPES, EVENT_TYPES, ROLLOUT_EVENT_TYPES

from ..conftest import SCHEMA, wait_for
from ..webhooks.test_webhooks import Receiver, hooks, subscriber, verify

STABLE = {"db": {"host": "db.local", "pool_size": 5}}
CANDIDATE = {"db": {"host": "db.local", "pool_size": 8}}


def test_event_types_and_defaults() -> None:
    assert (*EVENT_TYPES, *ROLLOUT_EVENT_TYPES) == ALL_EVENT_TYPES
    assert hotconf.Subscriber("https://h.example/x", hotconf.webhooks.new_secret()).events == (
        EVENT_TYPES
    )
    listed = subscriber("https://h.example/x", events=["rollout.aborted"])
    assert listed.events == ("rollout.aborted",)
    assert listed.wants("rollout.aborted") and not listed.wants("config.changed")


def test_rollout_events_reach_the_subscribers_that_list_them(tmp_path: Path) -> None:
    with Receiver() as receiver:
        subs = [
            # raw checksums, to compare with the rollout's (others get keyed fingerprints)
            subscriber(
                receiver.url("/all"), name="all", events=ALL_EVENT_TYPES, raw_checksums=True
            ),
            subscriber(receiver.url("/config"), name="config"),  # the default: config events
            subscriber(
                receiver.url("/features"),
                name="features",
                events=ROLLOUT_EVENT_TYPES,
                keys=["features.*"],  # the candidates change db.pool_size only
            ),
        ]
        source = MemorySource(STABLE)
        with hotconf.watch(source, SCHEMA, state_dir=tmp_path, webhooks=hooks(subs)) as live:
            webhooks = live.webhooks
            assert webhooks is not None
            first = live.rollout(CANDIDATE, fraction=0.5)
            first.promote("looks good")
            second = live.rollout({"db": {"host": "db.local", "pool_size": 9}})
            second.abort("by hand")
            wait_for(lambda: webhooks.counts()["delivered"] == 6, what="six deliveries")
            assert webhooks.counts() == {"pending": 0, "failed": 0, "delivered": 6, "dead": 0}
            assert webhooks.deliveries(subscriber="features") == []

        def at(path: str) -> list[dict[str, Any]]:
            return [verify(h) for h in receiver.snapshot() if h.path == path]

        got = at("/all")
        assert [e["type"] for e in got] == [
            "rollout.started",
            "config.changed",
            "rollout.promoted",
            "rollout.started",
            "rollout.aborted",
        ]
        assert [e["type"] for e in at("/config")] == ["config.changed"]
        started, changed, promoted, _, aborted = (e["data"] for e in got)
        assert (started["rollout"], started["state"], started["reason"]) == (
            first.id,
            "running",
            None,
        )
        assert (started["stable_version"], started["canary_version"]) == (1, None)
        assert started["checksum"] == first.candidate.checksum
        assert started["report"]["changes"][0]["path"] == "/db/pool_size"
        assert changed["version"] == 2
        assert (promoted["state"], promoted["reason"], promoted["canary_version"]) == (
            "promoted",
            "looks good",
            2,
        )
        assert (aborted["rollout"], aborted["state"], aborted["reason"]) == (
            second.id,
            "aborted",
            "by hand",
        )
        assert aborted["stable_version"] == 2
    # the receiver checked every body against schemas/webhook-event.schema.json on close


def test_events_yields_rollout_events_in_order() -> None:
    source = MemorySource(STABLE)

    async def main(live: hotconf.LiveConfig) -> list[str]:
        got: list[str] = []

        async def consume() -> None:
            async for event in live.events():
                got.append(event.type)
                if len(got) == 3:
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)  # the iterator subscribes
        live.rollout(CANDIDATE).promote()
        await asyncio.wait_for(task, 10)
        return got

    with hotconf.watch(source, SCHEMA, state_dir=None) as live:
        assert asyncio.run(main(live)) == ["rollout.started", "config.changed", "rollout.promoted"]


def test_events_without_rollouts() -> None:
    source = MemorySource(STABLE)

    async def main(live: hotconf.LiveConfig) -> list[object]:
        got: list[object] = []

        async def consume() -> None:
            async for event in live.events(rollouts=False):
                got.append(event)
                return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        live.rollout(CANDIDATE).abort()
        source.set({"db": {"host": "db.local", "pool_size": 6}})
        await asyncio.wait_for(task, 10)
        return got

    with hotconf.watch(source, SCHEMA, state_dir=None) as live:
        (event,) = asyncio.run(main(live))
        assert isinstance(event, hotconf.ChangeEvent) and event.version == 2


def test_the_events_iterator_ends_its_rollout_subscription() -> None:
    source = MemorySource(STABLE)

    async def main(live: hotconf.LiveConfig) -> None:
        async def consume() -> None:
            async for _ in live.events():
                return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        source.set({"db": {"host": "db.local", "pool_size": 6}})
        await asyncio.wait_for(task, 10)

    with hotconf.watch(source, SCHEMA, state_dir=None) as live:
        before = len(live._subscribers._subs)
        asyncio.run(main(live))
        assert len(live._subscribers._subs) == before
        assert live._rollouts._subs == []
