"""What the webhook outbox holds: deliveries, their attempts, the retry policy, the bodies.

`Delivery` is one event to one subscriber (an outbox row); `DeliveryAttempt` one HTTP attempt;
`RetryPolicy` when failed ones are tried again; `change_body`, `rejection_body` and
`rollout_body` build the signed JSON bodies (``schemas/webhook-event.schema.json``).
Re-exported by `hotconf.webhooks`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..events import Rejection, RolloutEvent
    from ..pipeline.impact import ImpactReport
    from ..pipeline.snapshot import Snapshot, VersionInfo
    from .subscribers import EventType

DeliveryStatus = Literal["pending", "failed", "delivered", "dead"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = ("pending", "failed", "delivered", "dead")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When failed deliveries are tried again, and when they are given up (dead-lettered).

    Retry ``n`` (after the ``n``-th failed attempt) waits ``base * factor ** (n - 1)`` seconds,
    capped at ``max_delay``, times a random factor in ``1 ± jitter`` (so receivers that come
    back are not hit by every sender at once). A ``Retry-After`` answer waits at least that
    long, capped at ``max_retry_after``. The default, 8 attempts, spans about an hour:
    now, +5 s, +15 s, +45 s, +2¼ min, +6¾ min, +20¼ min, +30 min.

    Args:
        attempts: attempts in all, the first included; then the delivery is dead.
        base: the first retry's delay, in seconds.
        factor: growth per retry.
        max_delay: the longest backoff.
        jitter: the random spread, a fraction of the delay.
        max_retry_after: the longest ``Retry-After`` honoured.
    """

    attempts: int = 8
    base: float = 5.0
    factor: float = 3.0
    max_delay: float = 1800.0
    jitter: float = 0.2
    max_retry_after: float = 3600.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base < 0 or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(
                "RetryPolicy needs attempts >= 1, base >= 0, factor >= 1, 0 <= jitter < 1"
            )

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after the ``attempt``-th failed attempt (1-based)."""
        backoff = min(self.max_delay, self.base * self.factor ** (attempt - 1))
        backoff *= 1 + self.jitter * (2 * (rng or random).random() - 1)
        if retry_after is not None:
            backoff = max(backoff, min(max(retry_after, 0.0), self.max_retry_after))
        return backoff

    def schedule(self) -> tuple[float, ...]:
        """The nominal delays between attempts (no jitter): ``attempts - 1`` of them."""
        return tuple(
            min(self.max_delay, self.base * self.factor**n) for n in range(self.attempts - 1)
        )


def retry_after(value: str | None, now: float) -> float | None:
    """When a ``Retry-After`` header allows the next attempt, in epoch seconds.

    Args:
        value: the header: delta-seconds or an HTTP date (RFC 9110 10.2.3).
        now: the time the answer came, in epoch seconds.

    Returns:
        The time, or ``None`` when the header is absent or unreadable.

    Example:
        >>> retry_after("120", 1000.0), retry_after("Thu, 01 Jan 1970 00:16:40 GMT", 0.0)
        (1120.0, 1000.0)
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), not to float()
        return now + float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to one subscriber: a row of the outbox.

    Attributes:
        id: the delivery's number (for ``hotconf redeliver ID``).
        webhook_id: the ``webhook-id`` header, the same on every attempt.
        subscriber: the subscriber's id.
        type: the event type.
        version: the version announced (for a rejection: the version still served).
        status: ``pending`` (not tried yet), ``failed`` (will be retried), ``delivered`` or
            ``dead`` (given up: retries exhausted, ``410 Gone``, refused by the SSRF guard,
            or the subscriber was removed).
        attempts: attempts made in the current round (`Webhooks.redeliver` starts a new one).
        created_at: when the event was committed.
        next_attempt_at: when it is tried next (pending and failed only).
        last_attempt_at: when it was last tried.
        last_status: the HTTP status of the last attempt, if one came back.
        last_error: why the last attempt failed.
        delivered_at: when a receiver answered 2xx.
        event: the event's number: one event goes to each subscriber that wants it.
        body: the JSON body that is signed and sent (no secrets: the impact report is
            redacted); only `Webhooks.delivery` reads it, listings leave it ``None``.
    """

    id: int
    webhook_id: str
    subscriber: str
    type: EventType
    version: int | None
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    event: int = 0
    body: str | None = field(default=None, repr=False)

    def to_dict(self, *, body: bool = False) -> dict[str, Any]:
        """A JSON-ready form; ``body=True`` adds the event body (parsed), when read."""
        out: dict[str, Any] = {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "event": self.event,
            "subscriber": self.subscriber,
            "type": self.type,
            "version": self.version,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": _iso(self.created_at),
            "next_attempt_at": _iso(self.next_attempt_at) if self.next_attempt_at else None,
            "last_attempt_at": _iso(self.last_attempt_at) if self.last_attempt_at else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "delivered_at": _iso(self.delivered_at) if self.delivered_at else None,
        }
        if body and self.body is not None:
            out["body"] = json.loads(self.body)
        return out


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One HTTP attempt of a `Delivery`.

    Attributes:
        delivery: the delivery's id.
        attempt: its number in the round (1 = the first try).
        at: when it started.
        duration: seconds it took.
        status_code: the HTTP status, if an answer came.
        error: why it failed (``None`` when delivered).
        outcome: the delivery's status after it: ``delivered``, ``failed`` or ``dead``.
        next_attempt_at: when the next attempt was scheduled (``failed`` only): at least
            the receiver's ``Retry-After``.
    """

    delivery: int
    attempt: int
    at: datetime
    duration: float
    status_code: int | None
    error: str | None
    outcome: DeliveryStatus
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A delivery to write with the version or rejection it announces (store input)."""

    webhook_id: str
    subscriber: str
    type: EventType
    version: int | None
    body: str
    created_at: float


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What the dispatcher records after an attempt (store input).

    ``attempt`` is ``None`` when the delivery was settled without one (subscriber removed);
    ``disable`` disables the subscriber (``410 Gone``) and dead-letters its other deliveries.
    """

    delivery: int
    subscriber: str
    attempt: int | None
    at: float
    duration: float
    status_code: int | None
    error: str | None
    status: DeliveryStatus
    next_attempt_at: float | None = None
    disable: str | None = None


# -- event bodies (schemas/webhook-event.schema.json) --------------------------------------


def _dumps(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def fingerprinted(body: str, key: bytes) -> str:
    """``body`` with every ``checksum`` replaced by its keyed fingerprint (HMAC-SHA256 with
    the state directory's webhook key): what a subscriber without ``raw_checksums`` gets.
    Equal checksums give equal fingerprints, so receivers can still compare versions."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: _fingerprint(v, key) if k == "checksum" and isinstance(v, str) else walk(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return _dumps(walk(json.loads(body)))


def _fingerprint(checksum: str, key: bytes) -> str:
    return hmac.new(key, checksum.encode(), hashlib.sha256).hexdigest()


def new_webhook_id() -> str:
    """A fresh ``webhook-id``: ``msg_`` and 144 random bits."""
    return "msg_" + secrets.token_urlsafe(18)


def change_body(name: str, info: VersionInfo, previous: int, report: ImpactReport) -> str:
    """The body announcing a new version (``config.changed`` or ``config.rolled_back``)."""
    data: dict[str, Any] = {
        "name": name,
        "version": info.version,
        "previous_version": previous,
        "checksum": info.checksum,
        "level": report.level,
        "report": report.with_version(info.version).to_dict(),
    }
    kind = "config.changed"
    if info.restores is not None:
        kind = "config.rolled_back"
        data["restores"] = info.restores
    return _dumps({"type": kind, "timestamp": _iso(info.created_at), "data": data})


def rejection_body(
    name: str, served: Snapshot | None, rejection: Rejection, report: ImpactReport | None
) -> str:
    """The body announcing a rejected candidate; its problems are already redacted."""
    data = {
        "name": name,
        "version": served.version if served is not None else None,
        "previous_version": None,
        "checksum": rejection.checksum,
        "level": report.level if report is not None else "breaking",
        "report": report.to_dict() if report is not None else None,
        "source": rejection.source,
        "problems": [p.to_dict() for p in rejection.problems],
    }
    return _dumps({"type": rejection.type, "timestamp": _iso(rejection.at), "data": data})


def rollout_body(name: str, event: RolloutEvent, report: ImpactReport) -> str:
    """The body announcing a canary rollout event (``rollout.started``, ``.promoted``,
    ``.aborted``); ``report`` is the candidate's impact report against the stable version
    (redacted, as every report)."""
    status = dict(event.status)
    canary = status.get("canary") or {}
    stable = status.get("stable") or {}
    data = {
        "name": name,
        "rollout": event.rollout,
        "state": status.get("state"),
        "reason": event.reason,
        "stable_version": stable.get("version"),
        "canary_version": canary.get("version"),
        "checksum": canary.get("checksum"),
        "level": report.level,
        "report": report.to_dict(),
        "status": status,
    }
    return _dumps({"type": event.type, "timestamp": _iso(event.at), "data": data})
