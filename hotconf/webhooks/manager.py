"""Webhooks: signed, retried, durable delivery of config events to HTTP subscribers.

A `Subscriber` names a URL, a Standard Webhooks secret (``whsec_...``), the event types and
the key patterns it wants. `Webhooks` holds the subscribers (a list, or a ``subscribers.yaml``
that is hot-reloaded like a config, plus the ones added at run time, kept in the store) and is
passed to ``hotconf.watch(webhooks=...)``. The flow (docs/architecture.md, invariant 3)::

    commit ──▶ one SQLite transaction: the version (or rejection) + one outbox row per subscriber
           ──▶ swap ──▶ wake the dispatcher ──▶ POST, signed ──▶ 2xx: delivered
                                                              └─ else: retry, then dead letter

The reload path only writes rows and wakes the dispatcher (`hotconf.webhooks.dispatch`): a
slow, hung or dead receiver never delays a reload or another receiver. A crash after the commit
loses nothing: the dispatcher resumes the outbox at the next start. Delivery is at-least-once:
``webhook-id`` is stable across retries, and ``data.version`` only goes up. docs/webhooks.md has
the details.

Where the parts live: `hotconf.webhooks.subscribers` (subscribers, subscribers.yaml),
`hotconf.webhooks.deliveries` (deliveries, the retry policy, event bodies),
`hotconf.store.outbox` (their SQL), `hotconf.webhooks.dispatch` (the asyncio dispatcher) and
`hotconf.webhooks.ssrf` (the address guard). This module holds `Webhooks`, which ties them
together; the package re-exports the public values.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import HotconfError
from ..events import Rejection, RolloutEvent
from ..pipeline.impact import ImpactReport
from ..pipeline.snapshot import Snapshot, VersionInfo
from .deliveries import (
    DELIVERY_STATUSES,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    OutboxRow,
    RetryPolicy,
    change_body,
    fingerprinted,
    new_webhook_id,
    rejection_body,
    rollout_body,
)
from .subscribers import (
    ALL_EVENT_TYPES,
    EVENT_TYPES,
    ROLLOUT_EVENT_TYPES,
    EventType,
    Subscriber,
    SubscriberError,
    SubscriberFile,
    SubscriberStatus,
    WebhookError,
    WebhookNotFoundError,
    duplicates,
    new_secret,
    read_subscribers,
    redact_url,
)

if TYPE_CHECKING:
    from ..sources.files import FileSource
    from ..store.history import Store
    from ..store.outbox import Outbox
    from .dispatch import Dispatcher

log = logging.getLogger("hotconf")


class Webhooks:
    """Webhook delivery for one `LiveConfig`: its subscribers, the outbox and the dispatcher.

    Pass it (or just the subscribers) to ``hotconf.watch(webhooks=...)``; once watched, reach
    it as ``live.webhooks`` to list, add and remove subscribers, and to list and redeliver
    deliveries (what the HTTP API and ``hotconf deliveries`` show).

    Args:
        subscribers: a subscribers file (YAML/JSON, hot-reloaded; a bad edit keeps the last
            good set and is logged), or `Subscriber` values. Either way they replace, at each
            start, the ones the previous run configured; ones added with `add` are kept.
        retry: the `RetryPolicy`.
        connect_timeout: seconds to connect (DNS lookup included).
        read_timeout: seconds to wait for each read (the status line, first of all).
        total_timeout: seconds one attempt may take in all.
        poll_interval: seconds between looks at the outbox for work another process queued
            (``hotconf redeliver``) and at the subscribers file.
        clock: the wall clock, in epoch seconds (tests may pass their own).
        rng: the jitter's randomness.
        resolver: ``async (host, port) -> [ip, ...]``, the DNS lookup (default: the
            system's ``getaddrinfo``); every address it returns is checked, and the request
            goes to one of them.

    Example:
        >>> live = hotconf.watch("config.yaml", webhooks="subscribers.yaml")  # doctest: +SKIP
        >>> [d.id for d in live.webhooks.deliveries(status="dead")]  # doctest: +SKIP
    """

    def __init__(
        self,
        subscribers: str | os.PathLike[str] | Iterable[Subscriber] = (),
        *,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        total_timeout: float = 30.0,
        poll_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        resolver: Callable[[str, int], Awaitable[list[str]]] | None = None,
    ) -> None:
        self._file: SubscriberFile | None = None
        self._static: tuple[Subscriber, ...] = ()
        if isinstance(subscribers, str | os.PathLike):
            self._file = SubscriberFile(subscribers)
        else:
            self._static = tuple(subscribers)
            for sub in self._static:
                if not isinstance(sub, Subscriber):
                    raise TypeError(f"webhooks takes Subscriber values, not {type(sub).__name__}")
            dups = duplicates(self._static)
            if dups:
                raise SubscriberError(dups[0].message)
        self.retry = retry or RetryPolicy()
        self.timeouts = (connect_timeout, read_timeout, total_timeout)
        self.poll_interval = poll_interval
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311  (jitter, not cryptography)
        self._resolver = resolver
        self._lock = threading.Lock()
        self._registry: Mapping[str, SubscriberStatus] = {}
        self._outbox: Outbox | None = None
        self._key = b""  # the state directory's key for checksum fingerprints
        self._dispatcher: Dispatcher | None = None
        self._watcher: FileSource | None = None
        self._closed = False

    @classmethod
    def coerce(
        cls, value: Webhooks | str | os.PathLike[str] | Iterable[Subscriber] | None
    ) -> Webhooks | None:
        """``watch(webhooks=...)``'s argument as a `Webhooks` (``None`` stays ``None``)."""
        if value is None or isinstance(value, Webhooks):
            return value
        return cls(value)

    # -- wiring, called by LiveConfig --------------------------------------------------------

    def _open(self, store: Store) -> None:
        """Bind to the store and sync the configured subscribers into it (before start-up)."""
        if self._outbox is not None:
            raise WebhookError("this Webhooks is already in use by a LiveConfig")
        outbox = self._outbox = store.outbox
        self._key = _fingerprint_key(store)
        if self._file is None:
            outbox.sync_subscribers("code", self._static, self._clock())
        else:
            try:
                subs = self._file.read()
            except HotconfError as exc:
                kept = [s for s in outbox.subscribers() if s.origin == "file"]
                if not kept:
                    raise
                log.error(
                    "hotconf: %s is invalid; using the %d webhook subscribers it last had\n%s",
                    self._file.path,
                    len(kept),
                    "\n".join(f"  {p}" for p in exc.problems) or f"  {exc.message}",
                )
            else:
                assert subs is not None
                outbox.sync_subscribers("file", subs, self._clock())
        self._refresh()

    def _start(self) -> None:
        """Start the dispatcher (it resumes what the outbox holds) and watch the file."""
        from .dispatch import Dispatcher  # httpx is only imported when webhooks are used

        assert self._outbox is not None
        self._dispatcher = Dispatcher(
            self._outbox,
            self._registry_get,
            self._mark_disabled,
            retry=self.retry,
            timeouts=self.timeouts,
            poll_interval=self.poll_interval,
            on_poll=self._poll if self._file is not None else None,
            clock=self._clock,
            rng=self._rng,
            resolver=self._resolver,
        )
        self._dispatcher.start()
        if self._file is not None:
            from ..sources.files import FileSource

            self._watcher = FileSource(self._file.path)
            self._watcher.start(self._poke)

    def _poke(self, writing: bool = False) -> None:
        if self._dispatcher is not None:
            self._dispatcher.debounce("subscribers", 1.0 if writing else 0.05, self._reload)

    def _poll(self) -> None:
        if self._watcher is not None:
            self._watcher.check()
        self._reload()

    def _reload(self) -> None:
        if self._file is not None and not self._closed:
            self._file.reload(self._apply_file)

    def _apply_file(self, subs: tuple[Subscriber, ...]) -> None:
        assert self._outbox is not None
        try:
            self._outbox.sync_subscribers("file", subs, self._clock())
        except HotconfError as exc:
            log.error("hotconf: cannot apply %s: %s", getattr(self._file, "path", "?"), exc)
            return
        self._refresh()
        log.info("hotconf: webhook subscribers reloaded: %d from the file", len(subs))
        self.wake()

    def _refresh(self) -> None:
        assert self._outbox is not None
        registry = {s.id: s for s in self._outbox.subscribers()}
        with self._lock:
            self._registry = registry

    def _registry_get(self, ident: str) -> SubscriberStatus | None:
        return self._registry.get(ident)

    def _mark_disabled(self, ident: str, reason: str, at: float) -> None:
        with self._lock:
            status = self._registry.get(ident)
            if status is not None:
                disabled = SubscriberStatus(
                    status.subscriber,
                    status.origin,
                    status.created_at,
                    datetime.fromtimestamp(at, UTC),
                    reason,
                )
                self._registry = {**self._registry, ident: disabled}

    def _bodies(self, raw: str) -> Callable[[Subscriber], str]:
        """The body each subscriber gets: ``raw`` with the real checksums for one that set
        ``raw_checksums``, keyed fingerprints for the others (made once, stored once)."""
        keyed: list[str] = []

        def body(subscriber: Subscriber) -> str:
            if subscriber.raw_checksums:
                return raw
            if not keyed:
                keyed.append(fingerprinted(raw, self._key))
            return keyed[0]

        return body

    def _targets(self, type: EventType, report: ImpactReport | None) -> list[Subscriber]:
        paths = [c.path for c in report.changes] if report is not None else []
        return [
            s.subscriber
            for s in self._registry.values()
            if not s.disabled and s.subscriber.wants(type, paths)
        ]

    def _announce_change(
        self, type: EventType, name: str, previous: Snapshot, report: ImpactReport
    ) -> Callable[[VersionInfo], list[OutboxRow]] | None:
        """The outbox rows for a new version, built inside its transaction (the number is
        known there); ``None`` when no subscriber wants it."""
        targets = self._targets(type, report)
        if not targets:
            return None

        def rows(info: VersionInfo) -> list[OutboxRow]:
            body = self._bodies(change_body(name, info, previous.version, report))
            at = info.created_at.timestamp()
            return [
                OutboxRow(new_webhook_id(), s.id, type, info.version, body(s), at) for s in targets
            ]

        return rows

    def _announce_rejection(
        self,
        name: str,
        served: Snapshot | None,
        rejection: Rejection,
        report: ImpactReport | None,
    ) -> list[OutboxRow]:
        """The outbox rows for a rejection, written with it."""
        targets = self._targets(rejection.type, None)
        if not targets:
            return []
        body = self._bodies(rejection_body(name, served, rejection, report))
        version = served.version if served is not None else None
        at = rejection.at.timestamp()
        return [
            OutboxRow(new_webhook_id(), s.id, rejection.type, version, body(s), at) for s in targets
        ]

    def _announce_rollout(self, name: str, event: RolloutEvent, report: ImpactReport) -> None:
        """Queue a rollout event that goes with no version (``rollout.started``, an abort by
        hand or by the rule) in a transaction of its own. A promotion's ``rollout.promoted``,
        and the ``rollout.aborted`` of a rollout another version ended, are written with
        that version instead (`_rollout_rows`, invariant 3)."""
        if self._outbox is None or self._closed:
            return
        rows = self._rollout_rows(name, event, report)
        if not rows:
            return
        try:
            self._outbox.enqueue(rows)
        except HotconfError as exc:
            log.error("hotconf: cannot queue %s webhooks: %s", event.type, exc)
            return
        self.wake()

    def _rollout_rows(
        self, name: str, event: RolloutEvent, report: ImpactReport
    ) -> list[OutboxRow]:
        """The outbox rows for a rollout event (by type, and by ``keys`` against the
        candidate's changes); a decision's are written with the version it goes with."""
        targets = self._targets(event.type, report)
        if not targets:
            return []
        body = self._bodies(rollout_body(name, event, report))
        stable = event.status.get("stable") or {}
        version = (event.status.get("canary") or {}).get("version") or stable.get("version")
        at = event.at.timestamp()
        return [
            OutboxRow(new_webhook_id(), s.id, event.type, version, body(s), at) for s in targets
        ]

    def wake(self, subscriber: str | None = None) -> None:
        """Tell the dispatcher the outbox changed (it also looks every ``poll_interval``)."""
        if self._dispatcher is not None:
            self._dispatcher.wake(subscriber)

    def _abort(self, store: Store) -> None:
        """Undo `_open` after a failed start-up (unless bound to another LiveConfig)."""
        if self._outbox is store.outbox:
            self.close(drain=0)

    def close(self, drain: float = 5.0) -> None:
        """Stop: deliveries in flight get up to ``drain`` seconds to finish; what is left
        stays in the outbox and goes out after the next start."""
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            self._watcher.stop()
        if self._dispatcher is not None:
            self._dispatcher.stop(drain)

    # -- the public API (the HTTP API's /v1/subscriptions and /v1/deliveries) ------------------

    def _bound(self) -> Outbox:
        if self._outbox is None:
            raise WebhookError("these webhooks are not in use: pass them to hotconf.watch()")
        return self._outbox

    def subscribers(self) -> list[SubscriberStatus]:
        """Every subscriber (configured and added), with its origin and disabled state."""
        return self._bound().subscribers()

    def add(self, subscriber: Subscriber) -> SubscriberStatus:
        """Add a subscriber at run time; it is kept in the store across restarts.

        Raises:
            WebhookError: a subscriber with that id exists.
        """
        status = self._bound().add_subscriber(subscriber, self._clock())
        self._refresh()
        return status

    def remove(self, id: str) -> None:
        """Remove a subscriber added with `add`; its undelivered events become dead.

        Raises:
            WebhookNotFoundError: no such subscriber.
            WebhookError: it comes from the configuration (edit that instead).
        """
        self._bound().remove_subscriber(id, self._clock())
        self._refresh()

    def enable(self, id: str) -> SubscriberStatus:
        """Enable a subscriber that was disabled by a ``410 Gone``.

        Raises:
            WebhookNotFoundError: no such subscriber.
        """
        status = self._bound().enable_subscriber(id)
        self._refresh()
        return status

    def deliveries(
        self,
        status: DeliveryStatus | None = None,
        *,
        subscriber: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Deliveries, newest first, optionally only those with ``status`` or to one
        ``subscriber``."""
        return self._bound().deliveries(status, subscriber=subscriber, limit=limit)

    def counts(self) -> dict[DeliveryStatus, int]:
        """How many deliveries there are per status (``pending``, ``failed``, ``delivered``,
        ``dead``; 0 included), counted by one SQL aggregate: cheap enough for metrics."""
        return self._bound().counts()

    def delivery(self, id: int) -> Delivery:
        """One delivery.

        Raises:
            WebhookNotFoundError: no such delivery.
        """
        return self._bound().delivery(id)

    def attempts(self, id: int) -> list[DeliveryAttempt]:
        """The attempts of one delivery, oldest first."""
        return self._bound().attempts(id)

    def redeliver(self, id: int) -> Delivery:
        """Queue a ``dead`` or ``failed`` delivery again, now, with a fresh retry schedule
        (same ``webhook-id``).

        Raises:
            WebhookNotFoundError: no such delivery.
            WebhookError: it is pending or delivered, or its subscriber is gone or disabled.
        """
        delivery = self._bound().redeliver(id, self._clock())
        self.wake(delivery.subscriber)
        return delivery

    def __repr__(self) -> str:
        where = f"file={self._file.path!r}" if self._file else f"{len(self._static)} subscribers"
        return f"<Webhooks {where} running={self._dispatcher is not None and not self._closed}>"


_KEY_META = "webhook_fingerprint_key"


def _fingerprint_key(store: Store) -> bytes:
    """The state directory's key for checksum fingerprints, made on first use: the same
    content gets the same fingerprint across restarts, so receivers can compare them."""
    found = store.get_meta(_KEY_META)
    if found is None:
        found = secrets.token_hex(32)
        store.set_meta(_KEY_META, found)
    return bytes.fromhex(found)


__all__ = [
    "ALL_EVENT_TYPES",
    "DELIVERY_STATUSES",
    "EVENT_TYPES",
    "ROLLOUT_EVENT_TYPES",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "EventType",
    "RetryPolicy",
    "Subscriber",
    "SubscriberError",
    "SubscriberStatus",
    "WebhookError",
    "WebhookNotFoundError",
    "Webhooks",
    "change_body",
    "new_secret",
    "read_subscribers",
    "redact_url",
    "rejection_body",
    "rollout_body",
]
