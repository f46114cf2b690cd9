"""The webhook part of the store: subscribers, the outbox and the delivery attempts.

`Outbox` is ``store.outbox``: it shares the store's `hotconf.store.db.Database` (connection
and lock), and only `hotconf.webhooks` and the commands that show deliveries use it. Each
``outbox`` row is one event to one subscriber (a `Delivery`); it is inserted in the
transaction of the version or rejection it announces (`insert_rows`, called by
`hotconf.store.history.Store.append` and ``record_rejection``), or alone for an event that
announces neither (`Outbox.enqueue`). Each HTTP attempt adds a row to ``deliveries`` (a
`DeliveryAttempt`). The tables are in `hotconf.store.db`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from ..webhooks.deliveries import (
    DELIVERY_STATUSES,
    AttemptResult,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    OutboxRow,
)
from ..webhooks.subscribers import Subscriber, SubscriberStatus, WebhookError, WebhookNotFoundError
from .db import Database

OPEN = ("pending", "failed")  # deliveries the dispatcher still has to send


class Outbox:
    """Webhook subscribers and deliveries, in the store's database.

    Args:
        db: the store's database; `Outbox` never opens or closes it.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- webhook subscribers ------------------------------------------------------------------

    def subscribers(self) -> list[SubscriberStatus]:
        """Every webhook subscriber, oldest first (secrets included: for the dispatcher)."""
        rows = self._db.query("SELECT * FROM subscribers ORDER BY created_at, id")
        return [_subscriber(r) for r in rows]

    def sync_subscribers(self, origin: str, subs: Sequence[Subscriber], now: float) -> None:
        """Make the configured subscribers (``code`` or ``file``) exactly ``subs``.

        Ones no longer configured are deleted and their undelivered events become dead; one
        whose URL changed is enabled again. Subscribers added through the API stay.

        Raises:
            WebhookError: a configured id is taken by a subscriber added through the API.
        """
        with self._db.transaction() as db:
            api = {r[0] for r in db.execute("SELECT id FROM subscribers WHERE origin = 'api'")}
            taken = sorted(api.intersection(s.id for s in subs))
            if taken:
                raise WebhookError(
                    f"subscriber id {taken[0]!r} is already used by one added through the API"
                )
            old = {
                r["id"]: r["url"]
                for r in db.execute("SELECT id, url FROM subscribers WHERE origin != 'api'")
            }
            for sub in subs:
                values = (
                    sub.name,
                    origin,
                    sub.url,
                    sub.secret,
                    json.dumps(list(sub.events)),
                    json.dumps(list(sub.keys)) if sub.keys is not None else None,
                    int(sub.allow_private),
                    int(sub.raw_checksums),
                )
                if sub.id not in old:
                    db.execute(
                        "INSERT INTO subscribers (name, origin, url, secret, events, keys,"
                        " allow_private, raw_checksums, id, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*values, sub.id, now),
                    )
                    continue
                db.execute(
                    "UPDATE subscribers SET name = ?, origin = ?, url = ?, secret = ?,"
                    " events = ?, keys = ?, allow_private = ?, raw_checksums = ? WHERE id = ?",
                    (*values, sub.id),
                )
                if old[sub.id] != sub.url:  # a new address: give it a chance
                    db.execute(
                        "UPDATE subscribers SET disabled_at = NULL, disabled_reason = NULL"
                        " WHERE id = ?",
                        (sub.id,),
                    )
            for gone in set(old).difference(s.id for s in subs):
                _delete_subscriber(db, gone)

    def add_subscriber(self, sub: Subscriber, now: float) -> SubscriberStatus:
        """Add a subscriber through the API (origin ``api``).

        Raises:
            WebhookError: the id is taken.
        """
        with self._db.transaction() as db:
            try:
                db.execute(
                    "INSERT INTO subscribers (id, name, origin, url, secret, events, keys,"
                    " allow_private, raw_checksums, created_at)"
                    " VALUES (?, ?, 'api', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sub.id,
                        sub.name,
                        sub.url,
                        sub.secret,
                        json.dumps(list(sub.events)),
                        json.dumps(list(sub.keys)) if sub.keys is not None else None,
                        int(sub.allow_private),
                        int(sub.raw_checksums),
                        now,
                    ),
                )
            except sqlite3.IntegrityError:
                raise WebhookError(f"a subscriber with id {sub.id!r} exists") from None
            row = db.execute("SELECT * FROM subscribers WHERE id = ?", (sub.id,)).fetchone()
        return _subscriber(row)

    def remove_subscriber(self, ident: str, now: float) -> None:
        """Delete a subscriber added through the API; its undelivered events become dead.

        Raises:
            WebhookNotFoundError: no such subscriber.
            WebhookError: it is configured (code or file), not added through the API.
        """
        with self._db.transaction() as db:
            row = db.execute("SELECT origin FROM subscribers WHERE id = ?", (ident,)).fetchone()
            if row is None:
                raise WebhookNotFoundError(f"no webhook subscriber {ident!r}")
            if row["origin"] != "api":
                raise WebhookError(
                    f"subscriber {ident!r} comes from the {row['origin']} configuration; "
                    "remove it there"
                )
            _delete_subscriber(db, ident)

    def enable_subscriber(self, ident: str) -> SubscriberStatus:
        """Clear a subscriber's disabled state.

        Raises:
            WebhookNotFoundError: no such subscriber.
        """
        with self._db.transaction() as db:
            db.execute(
                "UPDATE subscribers SET disabled_at = NULL, disabled_reason = NULL WHERE id = ?",
                (ident,),
            )
            row = db.execute("SELECT * FROM subscribers WHERE id = ?", (ident,)).fetchone()
            if row is None:
                raise WebhookNotFoundError(f"no webhook subscriber {ident!r}")
        return _subscriber(row)

    # -- the outbox ---------------------------------------------------------------------------

    def queue(self, subscriber: str, limit: int = 50) -> list[Delivery]:
        """A subscriber's deliveries still to send, oldest (lowest version) first."""
        rows = self._db.query(
            "SELECT * FROM outbox WHERE subscriber_id = ? AND status IN (?, ?) ORDER BY id LIMIT ?",
            (subscriber, *OPEN, limit),
        )
        return [_delivery(r) for r in rows]

    def counts(self) -> dict[DeliveryStatus, int]:
        """How many deliveries the outbox holds per status (every status, 0 included).

        One aggregate over the ``outbox_status`` index: cheap enough for every scrape.
        """
        rows = self._db.query("SELECT status, count(*) FROM outbox GROUP BY status")
        found = {r[0]: int(r[1]) for r in rows}
        return {status: found.get(status, 0) for status in DELIVERY_STATUSES}

    def enqueue(self, rows: Sequence[OutboxRow]) -> None:
        """Write deliveries that announce no version or rejection (rollout events), in a
        transaction of their own."""
        if rows:
            with self._db.transaction() as db:
                insert_rows(db, rows)

    def subscribers_with_work(self) -> list[str]:
        """The ids of subscribers with deliveries still to send."""
        rows = self._db.query(
            "SELECT DISTINCT subscriber_id FROM outbox WHERE status IN (?, ?)", OPEN
        )
        return [r[0] for r in rows]

    def record_attempts(self, results: Sequence[AttemptResult]) -> None:
        """Record what the dispatcher did, several results in one transaction."""
        with self._db.transaction() as db:
            for r in results:
                if r.attempt is not None:
                    db.execute(
                        "INSERT INTO deliveries (outbox_id, attempt, at, duration, status_code,"
                        " error, outcome, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            r.delivery,
                            r.attempt,
                            r.at,
                            r.duration,
                            r.status_code,
                            r.error,
                            r.status,
                            r.next_attempt_at,
                        ),
                    )
                db.execute(
                    "UPDATE outbox SET status = ?, attempts = coalesce(?, attempts),"
                    " next_attempt_at = ?, last_attempt_at = coalesce(?, last_attempt_at),"
                    " last_status = coalesce(?, last_status), last_error = ?, delivered_at = ?"
                    " WHERE id = ?",
                    (
                        r.status,
                        r.attempt,
                        r.next_attempt_at,
                        r.at if r.attempt is not None else None,
                        r.status_code,
                        r.error,
                        r.at if r.status == "delivered" else None,
                        r.delivery,
                    ),
                )
                if r.disable is not None:
                    db.execute(
                        "UPDATE subscribers SET disabled_at = ?, disabled_reason = ? WHERE id = ?",
                        (r.at, r.disable, r.subscriber),
                    )
                    _bury(db, r.subscriber, f"subscriber disabled: {r.disable}")

    def deliveries(
        self,
        status: DeliveryStatus | None = None,
        *,
        subscriber: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Deliveries, newest first."""
        where: list[str] = []
        args: list[str] = []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if subscriber is not None:
            where.append("subscriber_id = ?")
            args.append(subscriber)
        sql = "SELECT * FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.query(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return [_delivery(r) for r in rows]

    def delivery(self, ident: int) -> Delivery:
        """One delivery.

        Raises:
            WebhookNotFoundError: no such delivery.
        """
        rows = self._db.query(
            "SELECT outbox.*, webhook_events.body FROM outbox"
            " JOIN webhook_events ON webhook_events.id = outbox.event_id WHERE outbox.id = ?",
            (ident,),
        )
        if not rows:
            raise WebhookNotFoundError(f"no delivery {ident}")
        return _delivery(rows[0], rows[0]["body"])

    def event_body(self, event: int) -> str:
        """The JSON body of one event (shared by its deliveries to each subscriber).

        Raises:
            WebhookNotFoundError: no such event.
        """
        rows = self._db.query("SELECT body FROM webhook_events WHERE id = ?", (event,))
        if not rows:
            raise WebhookNotFoundError(f"no webhook event {event}")
        return str(rows[0]["body"])

    def attempts(self, ident: int) -> list[DeliveryAttempt]:
        """The attempts of one delivery, oldest first."""
        rows = self._db.query("SELECT * FROM deliveries WHERE outbox_id = ? ORDER BY id", (ident,))
        return [
            DeliveryAttempt(
                delivery=r["outbox_id"],
                attempt=r["attempt"],
                at=_time(r["at"]),
                duration=r["duration"],
                status_code=r["status_code"],
                error=r["error"],
                outcome=r["outcome"],
                next_attempt_at=_opt_time(r["next_attempt_at"]),
            )
            for r in rows
        ]

    def redeliver(self, ident: int, now: float) -> Delivery:
        """Queue a dead or failed delivery again, due now, with a fresh retry schedule.

        Raises:
            WebhookNotFoundError: no such delivery.
            WebhookError: it is pending or delivered; its subscriber is gone or disabled.
        """
        with self._db.transaction() as db:
            row = db.execute("SELECT * FROM outbox WHERE id = ?", (ident,)).fetchone()
            if row is None:
                raise WebhookNotFoundError(f"no delivery {ident}")
            if row["status"] not in ("dead", "failed"):
                raise WebhookError(
                    f"delivery {ident} is {row['status']}; only dead or failed ones are redelivered"
                )
            sub = db.execute(
                "SELECT disabled_at FROM subscribers WHERE id = ?", (row["subscriber_id"],)
            ).fetchone()
            if sub is None:
                raise WebhookError(f"delivery {ident}: subscriber {row['subscriber_id']!r} is gone")
            if sub["disabled_at"] is not None:
                raise WebhookError(
                    f"delivery {ident}: subscriber {row['subscriber_id']!r} is disabled; "
                    "enable it first"
                )
            db.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?"
                " WHERE id = ?",
                (now, ident),
            )
            row = db.execute("SELECT * FROM outbox WHERE id = ?", (ident,)).fetchone()
        return _delivery(row)


def insert_rows(db: sqlite3.Connection, rows: Sequence[OutboxRow]) -> None:
    """Insert deliveries; each distinct body is stored once, however many subscribers get it
    (a large impact report times 200 subscribers would otherwise be written 200 times)."""
    events: dict[str, int] = {}
    for r in rows:
        if r.body not in events:
            cursor = db.execute("INSERT INTO webhook_events (body) VALUES (?)", (r.body,))
            assert cursor.lastrowid is not None
            events[r.body] = cursor.lastrowid
    db.executemany(
        "INSERT INTO outbox (webhook_id, subscriber_id, event_id, type, version, status,"
        " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
        [
            (
                r.webhook_id,
                r.subscriber,
                events[r.body],
                r.type,
                r.version,
                r.created_at,
                r.created_at,
            )
            for r in rows
        ],
    )


def _bury(db: sqlite3.Connection, subscriber: str, why: str) -> None:
    """Dead-letter a subscriber's undelivered events (visible, and redeliverable)."""
    db.execute(
        "UPDATE outbox SET status = 'dead', next_attempt_at = NULL, last_error = ?"
        " WHERE subscriber_id = ? AND status IN (?, ?)",
        (why, subscriber, *OPEN),
    )


def _delete_subscriber(db: sqlite3.Connection, ident: str) -> None:
    db.execute("DELETE FROM subscribers WHERE id = ?", (ident,))
    _bury(db, ident, "subscriber removed")


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _opt_time(epoch: float | None) -> datetime | None:
    return _time(epoch) if epoch is not None else None


def _subscriber(row: sqlite3.Row) -> SubscriberStatus:
    keys = row["keys"]
    sub = Subscriber(
        url=row["url"],
        secret=row["secret"],
        events=tuple(json.loads(row["events"])),
        keys=tuple(json.loads(keys)) if keys is not None else None,
        allow_private=bool(row["allow_private"]),
        name=row["name"],
        raw_checksums=bool(row["raw_checksums"]),
    )
    return SubscriberStatus(
        subscriber=sub,
        origin=row["origin"],
        created_at=_time(row["created_at"]),
        disabled_at=_opt_time(row["disabled_at"]),
        disabled_reason=row["disabled_reason"],
    )


def _delivery(row: sqlite3.Row, body: str | None = None) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        subscriber=row["subscriber_id"],
        type=row["type"],
        version=row["version"],
        status=row["status"],
        attempts=row["attempts"],
        created_at=_time(row["created_at"]),
        next_attempt_at=_opt_time(row["next_attempt_at"]),
        last_attempt_at=_opt_time(row["last_attempt_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
        delivered_at=_opt_time(row["delivered_at"]),
        event=row["event_id"],
        body=body,
    )
