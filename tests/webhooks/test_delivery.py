"""Webhook delivery to a real HTTP receiver on 127.0.0.1: signatures, retries, timeouts,
410, redirects, Retry-After, ordering, isolation, the SSRF guard, secrets, draining."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.testing import MemorySource
from hotconf.webhooks.manager import DeliveryStatus

from ..conftest import wait_for
from .test_webhooks import (
    FAST,
    SECRET,
    Hit,
    Receiver,
    hooks,
    subscriber,
    valid_event,
    verify,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "db": {
            "type": "object",
            "properties": {
                "pool": {"type": "integer", "minimum": 1},
                "password": {"type": "string"},
            },
        },
        "features": {"type": "object"},
    },
}


def config(pool: int = 1, **extra: Any) -> dict[str, Any]:
    return {"db": {"pool": pool, "password": "db-password-hunter2"}, **extra}


@pytest.fixture
def source() -> MemorySource:
    return MemorySource(config())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def watch(source: MemorySource, state: Path, webhooks: hotconf.Webhooks) -> hotconf.LiveConfig:
    return hotconf.watch(source, SCHEMA, state_dir=state, webhooks=webhooks)


def settled(
    live: hotconf.LiveConfig, status: DeliveryStatus = "delivered", n: int = 1
) -> list[hotconf.Delivery]:
    """Wait until ``n`` deliveries have ``status``; return them oldest first."""
    webhooks = live.webhooks
    assert webhooks is not None
    wait_for(lambda: len(webhooks.deliveries(status)) >= n, what=f"{n} {status}")
    return list(reversed(webhooks.deliveries(status)))


def test_signed_delivery_verifies_and_matches_the_schema(
    tmp_path: Path, source: MemorySource, receiver: Receiver
) -> None:
    with watch(source, tmp_path, hooks([subscriber(receiver.url())])) as live:
        source.set(config(pool=2))
        (delivery,) = settled(live)
        assert live.webhooks is not None
        stored = live.webhooks.delivery(delivery.id)
    (hit,) = receiver.snapshot()
    event = verify(hit)
    assert event == valid_event(hit.body)
    assert event["type"] == "config.changed"
    assert (event["data"]["version"], event["data"]["previous_version"]) == (2, 1)
    assert event["data"]["report"]["changes"][0]["path"] == "/db/pool"
    assert hit.headers["webhook-id"] == delivery.webhook_id
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert hit.path == "/hook"
    assert delivery.attempts == 1 and delivery.last_status == 200
    assert delivery.body is None  # listings leave the body out; delivery(id) reads it
    assert stored.body == hit.body.decode() and stored.to_dict(body=True)["body"] == event


def test_500_then_200_is_one_success_with_one_webhook_id(
    tmp_path: Path, source: MemorySource
) -> None:
    with Receiver([500, 200]) as receiver:
        with watch(source, tmp_path, hooks([subscriber(receiver.url())])) as live:
            source.set(config(pool=2))
            (delivery,) = settled(live)
            assert live.webhooks is not None
            attempts = live.webhooks.attempts(delivery.id)
        hits = receiver.snapshot()
    assert len(hits) == 2 and delivery.attempts == 2
    assert {h.headers["webhook-id"] for h in hits} == {delivery.webhook_id}
    assert [a.outcome for a in attempts] == ["failed", "delivered"]
    assert [a.status_code for a in attempts] == [500, 200]
    assert attempts[0].error == "HTTP 500"
    for hit, attempt in zip(hits, attempts, strict=True):
        verify(hit)  # each attempt signed afresh ...
        signed = int(hit.headers["webhook-timestamp"])  # ... at the attempt's start
        assert 0 <= attempt.at.timestamp() - signed < 1.001
    assert hits[0].body == hits[1].body


def test_a_hung_receiver_hits_the_timeout(tmp_path: Path, source: MemorySource) -> None:
    with Receiver(["hang", 200]) as receiver:
        webhooks = hooks([subscriber(receiver.url())], read_timeout=0.3, total_timeout=1.0)
        with watch(source, tmp_path, webhooks) as live:
            source.set(config(pool=2))
            (delivery,) = settled(live)
            assert live.webhooks is not None
            first, second = live.webhooks.attempts(delivery.id)
    assert "timeout" in (first.error or "") and first.outcome == "failed"
    assert second.outcome == "delivered"


def test_total_timeout_bounds_a_slow_drip(tmp_path: Path, source: MemorySource) -> None:
    with Receiver(["hang", 200]) as receiver:
        webhooks = hooks([subscriber(receiver.url())], read_timeout=30, total_timeout=0.3)
        with watch(source, tmp_path, webhooks) as live:
            source.set(config(pool=2))
            (delivery,) = settled(live)
            assert live.webhooks is not None
            first = live.webhooks.attempts(delivery.id)[0]
    assert "total_timeout" in (first.error or "")


def test_410_disables_the_subscriber(
    tmp_path: Path, source: MemorySource, caplog: pytest.LogCaptureFixture
) -> None:
    with Receiver([410, 200]) as receiver:
        with watch(source, tmp_path, hooks([subscriber(receiver.url(), name="gone")])) as live:
            assert live.webhooks is not None
            source.set(config(pool=2))
            (dead,) = settled(live, "dead")
            assert dead.last_status == 410
            (status,) = live.webhooks.subscribers()
            assert status.disabled and status.disabled_reason == "410 Gone"
            assert status.to_dict()["disabled"] is True
            source.set(config(pool=3))  # nothing is queued for a disabled subscriber
            assert [d.version for d in live.webhooks.deliveries()] == [2]
            with pytest.raises(hotconf.WebhookError, match="disabled"):
                live.webhooks.redeliver(dead.id)
            live.webhooks.enable("gone")
            source.set(config(pool=4))
            delivered = settled(live)
        assert [d.version for d in delivered] == [4]
        assert len(receiver.snapshot()) == 2
    assert "410 Gone" in caplog.text


def test_redirects_are_not_followed(tmp_path: Path, source: MemorySource) -> None:
    with Receiver() as target, Receiver([(302, {"location": target.url()})]) as redirector:
        webhooks = hooks([subscriber(redirector.url())], retry=hotconf.RetryPolicy(attempts=1))
        with watch(source, tmp_path, webhooks) as live:
            source.set(config(pool=2))
            (dead,) = settled(live, "dead")
        assert len(redirector.snapshot()) == 1
        assert target.snapshot() == []
    assert dead.last_status == 302 and "redirects are not followed" in (dead.last_error or "")


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured(tmp_path: Path, source: MemorySource, form: str) -> None:
    sent: list[str] = []

    def answer(hit: Hit, n: int) -> Any:
        if n > 0:
            return 200
        sent.append("2" if form == "seconds" else formatdate(time.time() + 3, usegmt=True))
        return (503, {"retry-after": sent[0]})

    with Receiver(answer) as receiver:
        with watch(source, tmp_path, hooks([subscriber(receiver.url())])) as live:
            source.set(config(pool=2))
            (delivery,) = settled(live)
            assert live.webhooks is not None
            first, _ = live.webhooks.attempts(delivery.id)
        hits = receiver.snapshot()
    assert first.next_attempt_at is not None and first.status_code == 503
    if form == "seconds":
        asked = first.at.timestamp() + 2
    else:
        asked = parsedate_to_datetime(sent[0]).timestamp()
    assert first.next_attempt_at.timestamp() >= asked  # scheduled no earlier than asked
    assert hits[1].at >= first.next_attempt_at.timestamp() - 0.01  # and not sent earlier


def test_retry_after_is_capped(tmp_path: Path, source: MemorySource) -> None:
    with Receiver([(503, {"retry-after": "86400"}), 200]) as receiver:
        retry = hotconf.RetryPolicy(attempts=3, base=0.05, max_retry_after=0.2)
        with watch(source, tmp_path, hooks([subscriber(receiver.url())], retry=retry)) as live:
            source.set(config(pool=2))
            (delivery,) = settled(live)
            assert live.webhooks is not None
            first = live.webhooks.attempts(delivery.id)[0]
    assert first.next_attempt_at is not None
    assert (
        first.next_attempt_at.timestamp() - first.at.timestamp() <= 0.2 + 1e-5
    )  # datetimes hold microseconds


def test_each_subscriber_gets_versions_in_order(tmp_path: Path, source: MemorySource) -> None:
    # The first attempt fails: later versions wait behind it instead of overtaking.
    with Receiver([500, 200]) as receiver:
        with watch(source, tmp_path, hooks([subscriber(receiver.url())])) as live:
            for pool in (2, 3, 4, 5):
                source.set(config(pool=pool))
            settled(live, n=4)
        versions = [h.version for h in receiver.snapshot()]
    assert versions == [2, 2, 3, 4, 5]


def test_a_hung_subscriber_delays_neither_others_nor_reloads(
    tmp_path: Path, source: MemorySource
) -> None:
    with Receiver(["hang"]) as hung, Receiver() as healthy:
        subs = [subscriber(hung.url(), name="hung"), subscriber(healthy.url(), name="ok")]
        webhooks = hooks(subs, read_timeout=60, total_timeout=60)
        with watch(source, tmp_path, webhooks) as live:
            assert live.webhooks is not None
            for pool in (2, 3, 4):
                source.set(config(pool=pool))  # the reload path returns at once ...
                assert live.version == pool  # ... with the version live
            wait_for(lambda: len(healthy.snapshot()) == 3, what="the healthy one")
            assert [h.version for h in healthy.snapshot()] == [2, 3, 4]
            assert len(hung.snapshot()) == 1  # still stuck on v2
            stuck = live.webhooks.deliveries(subscriber="hung")
            assert {d.status for d in stuck} == {"pending"}
            live.close(drain=0.1)  # bounded, though a request is in flight
        assert [d.status for d in hotconf_store_deliveries(tmp_path, "hung")] == ["pending"] * 3


def hotconf_store_deliveries(state: Path, subscriber: str) -> list[hotconf.Delivery]:
    from hotconf.store.history import Store

    store = Store.open(state)
    try:
        return store.outbox.deliveries(subscriber=subscriber)
    finally:
        store.close()


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f.1",  # hex and a short form
        "017700000001",  # octal
        "127.1",
        "0",  # 0.0.0.0, which Linux connects to the local host
        "localhost",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::1]",
        "127.0.0.1",
        "100.64.0.1",  # shared address space
        "169.254.169.254",
    ],
)
def test_ssrf_targets_are_refused_without_connecting(
    tmp_path: Path, source: MemorySource, receiver: Receiver, host: str
) -> None:
    sub = subscriber(receiver.url(host=host), allow_private=False)
    with watch(source, tmp_path, hooks([sub])) as live:
        source.set(config(pool=2))
        (dead,) = settled(live, "dead")
    assert dead.attempts == 1 and (dead.last_error or "").startswith("refused: ")
    assert "allow_private" in (dead.last_error or "")
    assert receiver.snapshot() == []


def test_the_request_goes_to_the_address_checked(
    tmp_path: Path, source: MemorySource, receiver: Receiver
) -> None:
    # The name does not exist in DNS: only the checked address can have been connected to.
    looked_up: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    sub = subscriber(f"http://hooks.invalid:{receiver.port}/hook?k=v")
    with watch(source, tmp_path, hooks([sub], resolver=resolve)) as live:
        source.set(config(pool=2))
        settled(live)
    (hit,) = receiver.snapshot()
    assert hit.headers["host"] == f"hooks.invalid:{receiver.port}"
    assert hit.path == "/hook?k=v"
    assert looked_up == ["hooks.invalid"]


def test_one_private_address_among_global_ones_is_refused(
    tmp_path: Path, source: MemorySource, receiver: Receiver
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "127.0.0.1"]

    sub = subscriber(f"http://rebind.invalid:{receiver.port}/", allow_private=False)
    with watch(source, tmp_path, hooks([sub], resolver=resolve)) as live:
        source.set(config(pool=2))
        (dead,) = settled(live, "dead")
    assert "127.0.0.1 (loopback)" in (dead.last_error or "")
    assert receiver.snapshot() == []


def test_secrets_stay_out_of_bodies_logs_and_reprs(
    tmp_path: Path, source: MemorySource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver([500, 200]) as receiver:
        url = f"http://hookuser:url-password@127.0.0.1:{receiver.port}/hook?token=query-token"
        sub = subscriber(url, name="billing")
        with watch(source, tmp_path, hooks([sub])) as live:
            assert live.webhooks is not None
            source.set({"db": {"pool": 2, "password": "new-db-password-hunter3"}})
            source.set({"db": {"pool": 0, "password": "rejected-db-password"}})  # rejected
            settled(live, n=2)
            shown = [
                repr(sub),
                repr(live.webhooks),
                repr(live.webhooks.subscribers()),
                str([s.to_dict() for s in live.webhooks.subscribers()]),
                str([live.webhooks.delivery(d.id).to_dict(body=True) for d in settled(live, n=2)]),
                repr(live.webhooks.deliveries()),
            ]
        hits = receiver.snapshot()
    assert hits[0].headers["authorization"].startswith("Basic ")  # userinfo still works
    bodies = [h.body.decode() for h in hits]
    assert {valid_event(b)["type"] for b in bodies} == {"config.changed", "config.rejected"}
    for text in [caplog.text, *bodies, *shown]:
        for secret in (SECRET, SECRET[6:16], "url-password", "query-token"):
            assert secret not in text
        for value in ("db-password-hunter2", "new-db-password-hunter3", "rejected-db-password"):
            assert value not in text
    assert "failed (attempt 1 of 3)" in caplog.text  # the log did speak


def test_rejections_and_rollbacks_are_announced(
    tmp_path: Path, source: MemorySource, receiver: Receiver
) -> None:
    with watch(source, tmp_path, hooks([subscriber(receiver.url())])) as live:
        source.set(config(pool=0))  # below the minimum: rejected
        source.set(config(pool=2))
        live.rollback()
        settled(live, n=3)
    events = [valid_event(h.body) for h in receiver.snapshot()]
    assert [e["type"] for e in events] == [
        "config.rejected",
        "config.changed",
        "config.rolled_back",
    ]
    rejected, changed, rolled = (e["data"] for e in events)
    assert rejected["version"] == 1 and rejected["problems"][0]["path"] == "/db/pool"
    assert rejected["level"] == "breaking" and rejected["report"]["level"] == "breaking"
    assert changed["version"] == 2
    assert (rolled["version"], rolled["previous_version"], rolled["restores"]) == (3, 2, 1)


def test_event_types_and_key_patterns_filter(
    tmp_path: Path, source: MemorySource, receiver: Receiver
) -> None:
    subs = [
        subscriber(receiver.url("/db"), name="db", keys=["db.*"], events=["config.changed"]),
        subscriber(receiver.url("/rejected"), name="rej", events=["config.rejected"]),
    ]
    with watch(source, tmp_path, hooks(subs)) as live:
        source.set(config(pool=1, features={"beta": True}))  # no db change
        source.set(config(pool=2, features={"beta": True}))
        source.set(config(pool=0, features={"beta": True}))  # rejected
        settled(live, n=2)
        assert live.webhooks is not None
        assert len(live.webhooks.deliveries()) == 2
    got = sorted((h.path, h.event["type"], h.version) for h in receiver.snapshot())
    assert got == [("/db", "config.changed", 3), ("/rejected", "config.rejected", 3)]


def test_close_drains_in_flight_deliveries(tmp_path: Path, source: MemorySource) -> None:
    def slow(hit: Hit, n: int) -> int:
        time.sleep(0.3)
        return 200

    with Receiver(slow) as receiver:
        with watch(source, tmp_path, hooks([subscriber(receiver.url())])) as live:
            assert live.webhooks is not None
            source.set(config(pool=2))
            wait_for(lambda: receiver.snapshot(), what="the request to start")
            live.close(drain=10)
        assert [d.status for d in hotconf_store_deliveries(tmp_path, subscriber_id(receiver))] == [
            "delivered"
        ]


def subscriber_id(receiver: Receiver) -> str:
    return subscriber(receiver.url()).id


def test_what_close_leaves_goes_out_after_the_next_start(
    tmp_path: Path, source: MemorySource
) -> None:
    with Receiver(["hang"]) as down:
        sub = subscriber(down.url(), name="later")
        webhooks = hooks([sub], read_timeout=60, total_timeout=60)
        with watch(source, tmp_path, webhooks) as live:
            source.set(config(pool=2))
            wait_for(lambda: down.snapshot(), what="the request to start")
            live.close(drain=0.05)
        port = down.port
        stuck = hotconf_store_deliveries(tmp_path, "later")
        assert [d.status for d in stuck] == ["pending"]
    with Receiver(port=port) as up, watch(source, tmp_path, hooks([sub])) as live:
        assert live.version == 2  # nothing new: the old outbox row is what goes out
        (delivered,) = settled(live)
        (hit,) = up.snapshot()
    assert hit.headers["webhook-id"] == stuck[0].webhook_id == delivered.webhook_id
    assert hit.version == 2


def test_dead_letters_are_visible_and_redeliverable(tmp_path: Path, source: MemorySource) -> None:
    with Receiver([500, 500, 500, 200]) as receiver:
        with watch(source, tmp_path, hooks([subscriber(receiver.url())])) as live:
            assert live.webhooks is not None
            source.set(config(pool=2))
            (dead,) = settled(live, "dead")
            assert dead.attempts == FAST.attempts and "gave up after 3 attempts" in (
                dead.last_error or ""
            )
            again = live.webhooks.redeliver(dead.id)
            assert (again.status, again.attempts) == ("pending", 0)
            settled(live)
            with pytest.raises(hotconf.WebhookError, match="delivered"):
                live.webhooks.redeliver(dead.id)
            with pytest.raises(hotconf.WebhookNotFoundError):
                live.webhooks.redeliver(999)
        hits = receiver.snapshot()
    assert len(hits) == 4 and {h.headers["webhook-id"] for h in hits} == {dead.webhook_id}


def test_subscribers_added_at_run_time(
    tmp_path: Path, source: MemorySource, receiver: Receiver
) -> None:
    with watch(source, tmp_path, hooks([])) as live:
        webhooks = live.webhooks
        assert webhooks is not None and webhooks.subscribers() == []
        added = webhooks.add(subscriber(receiver.url(), name="api-one"))
        assert added.origin == "api" and not added.disabled
        with pytest.raises(hotconf.WebhookError, match="exists"):
            webhooks.add(subscriber(receiver.url(), name="api-one"))
        source.set(config(pool=2))
        settled(live)
    # kept in the store across restarts, next to the configured ones
    with Receiver() as other:
        configured = subscriber(other.url(), name="configured")
        with watch(source, tmp_path, hooks([configured])) as live:
            webhooks = live.webhooks
            assert webhooks is not None
            assert {(s.id, s.origin) for s in webhooks.subscribers()} == {
                ("api-one", "api"),
                ("configured", "code"),
            }
            with pytest.raises(hotconf.WebhookError, match="configuration"):
                webhooks.remove("configured")
            with pytest.raises(hotconf.WebhookNotFoundError):
                webhooks.remove("nobody")
            webhooks.remove("api-one")
            source.set(config(pool=3))
            settled(live, n=2)
        assert [h.version for h in other.snapshot()] == [3]
    assert [h.version for h in receiver.snapshot()] == [2]


def test_removed_subscribers_undelivered_events_become_dead(
    tmp_path: Path, source: MemorySource
) -> None:
    with Receiver(["hang"]) as receiver:
        sub = subscriber(receiver.url(), name="leaving")
        with watch(source, tmp_path, hooks([sub], read_timeout=60, total_timeout=60)) as live:
            source.set(config(pool=2))
            source.set(config(pool=3))
            wait_for(lambda: receiver.snapshot(), what="the first request")
            live.close(drain=0)
    with watch(source, tmp_path, hooks([])) as live:  # "leaving" is no longer configured
        assert live.webhooks is not None
        dead = live.webhooks.deliveries("dead")
        assert [(d.version, d.last_error) for d in dead] == [
            (3, "subscriber removed"),
            (2, "subscriber removed"),
        ]


def test_the_subscribers_file_is_hot_reloaded(
    tmp_path: Path, source: MemorySource, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "subscribers.yaml"

    def entry(r: Receiver, name: str) -> str:
        return (
            f"  - name: {name}\n    url: {r.url()}\n    secret: {SECRET}\n    allow_private: true\n"
        )

    with Receiver() as a, Receiver() as b:
        path.write_text("subscribers:\n" + entry(a, "a"))
        with watch(source, tmp_path / "state", hooks(path)) as live:
            webhooks = live.webhooks
            assert webhooks is not None

            def ids() -> set[str]:
                return {s.id for s in webhooks.subscribers()}

            assert ids() == {"a"}
            path.write_text("subscribers:\n" + entry(a, "a") + entry(b, "b"))
            wait_for(lambda: ids() == {"a", "b"}, what="the file's new subscriber")
            path.write_text("subscribers:\n  - url: [unclosed\n")  # bad: the last good set stays
            wait_for(lambda: "keeping the last good webhook subscribers" in caplog.text)
            assert ids() == {"a", "b"}
            source.set(config(pool=2))
            settled(live, n=2)
            path.write_text("subscribers:\n" + entry(b, "b"))
            wait_for(lambda: ids() == {"b"}, what="a subscriber removed")
            source.set(config(pool=3))
            settled(live, n=3)
        assert [h.version for h in a.snapshot()] == [2]
        assert [h.version for h in b.snapshot()] == [2, 3]
    assert SECRET not in caplog.text


def test_a_bad_subscribers_file_at_start(tmp_path: Path, source: MemorySource) -> None:
    path = tmp_path / "subscribers.yaml"
    path.write_text("subscribers:\n  - url: https://h.example/x\n    secret: whsec_nope\n")
    with pytest.raises(hotconf.ValidationError, match="invalid webhook subscribers"):
        watch(source, tmp_path / "state", hooks(path))
    # with a last good set in the store, it starts on that set and says why
    path.write_text(f"subscribers:\n  - url: https://h.example/x\n    secret: {SECRET}\n")
    watch(source, tmp_path / "state", hooks(path)).close()
    path.write_text("subscribers: {")
    with watch(source, tmp_path / "state", hooks(path)) as live:
        assert live.webhooks is not None
        assert [s.origin for s in live.webhooks.subscribers()] == ["file"]


def test_one_webhooks_serves_one_live_config(tmp_path: Path, receiver: Receiver) -> None:
    webhooks = hooks([subscriber(receiver.url())])
    first = MemorySource(config())
    with watch(first, tmp_path / "a", webhooks) as live:
        with pytest.raises(hotconf.WebhookError, match="already in use"):
            watch(MemorySource(config()), tmp_path / "b", webhooks)
        first.set(config(pool=2))  # the first one still delivers
        settled(live)


def _checksums(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [
            found
            for k, v in node.items()
            for found in ([v] if k == "checksum" and isinstance(v, str) else _checksums(v))
        ]
    if isinstance(node, list):
        return [found for v in node for found in _checksums(v)]
    return []


def test_bodies_carry_keyed_fingerprints_unless_a_subscriber_opts_in(
    tmp_path: Path, source: MemorySource, receiver: Receiver
) -> None:
    subs = [
        subscriber(receiver.url("/keyed"), name="keyed"),
        subscriber(receiver.url("/raw"), name="raw", raw_checksums=True),
    ]
    with watch(source, tmp_path, hooks(subs)) as live:
        source.set(config(pool=2))
        source.set(config(pool=0))  # rejected
        live.rollback()  # v3 = v1's content
        settled(live, n=6)
        raw = {live.snapshot(v).checksum for v in (1, 2, 3)}
        assert live.webhooks is not None
        listed = {s.subscriber.id: s.to_dict() for s in live.webhooks.subscribers()}
    assert (listed["raw"]["raw_checksums"], listed["keyed"]["raw_checksums"]) == (True, False)
    by_path: dict[str, list[dict[str, Any]]] = {}
    for hit in receiver.snapshot():
        by_path.setdefault(hit.path, []).append(valid_event(hit.body))
    keyed = [c for e in by_path["/keyed"] for c in _checksums(e)]
    plain = [c for e in by_path["/raw"] for c in _checksums(e)]
    assert len(keyed) == len(plain) >= 6
    assert set(plain) >= raw  # the opted-in subscriber gets the real checksums
    assert not set(keyed) & raw  # the others never see one
    first, *_, rolled = by_path["/keyed"]  # equal content, equal fingerprint
    assert rolled["data"]["checksum"] == first["data"]["report"]["old"]["checksum"]
    assert keyed != plain
