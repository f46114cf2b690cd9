"""Webhook subscribers: who gets which events, from code, a file or the HTTP API.

`Subscriber` is the value (URL, Standard Webhooks secret, event types, key patterns, the SSRF
opt-out); `read_subscribers` reads and checks a ``subscribers.yaml``; `SubscriberStatus` is a
subscriber as the store knows it. Secrets never reach a repr, a listing or an error message.
Re-exported by `hotconf.webhooks`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ..errors import HotconfError, Problem, ValidationError
from ..pipeline.load import load
from ..pipeline.paths import matches, split_dotted
from ..pipeline.schema import Schema
from ..pipeline.snapshot import canonical_json

log = logging.getLogger("hotconf")

ConfigEventType = Literal["config.changed", "config.rejected", "config.rolled_back"]
RolloutEventType = Literal["rollout.started", "rollout.promoted", "rollout.aborted"]
EventType = ConfigEventType | RolloutEventType
EVENT_TYPES: tuple[ConfigEventType, ...] = (
    "config.changed",
    "config.rejected",
    "config.rolled_back",
)
"""The config events: what a subscriber gets when it names no ``events``."""
ROLLOUT_EVENT_TYPES: tuple[RolloutEventType, ...] = (
    "rollout.started",
    "rollout.promoted",
    "rollout.aborted",
)
"""Canary rollout events (`hotconf.live.rollouts`): sent only to subscribers that list them."""
ALL_EVENT_TYPES: tuple[EventType, ...] = (*EVENT_TYPES, *ROLLOUT_EVENT_TYPES)
Origin = Literal["code", "file", "api"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class WebhookError(HotconfError):
    """A webhook operation was refused: a bad subscriber, a delivery in the wrong state."""

    exit_code = 1


class WebhookNotFoundError(WebhookError, LookupError):
    """No such subscriber or delivery."""


class SubscriberError(WebhookError, ValueError):
    """A subscriber's settings are invalid (the message never contains the secret)."""


def new_secret() -> str:
    """A fresh random signing secret in the Standard Webhooks form ``whsec_<base64>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def redact_url(url: str) -> str:
    """``url`` fit for logs and listings: scheme, host and port only; userinfo, path and
    query replaced by ``***`` (Slack, Discord and Teams webhook URLs carry their secret in the
    path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    path = "/***" if parts.path not in ("", "/") else parts.path
    return urlunsplit((parts.scheme, netloc, path, "***" if parts.query else "", ""))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One webhook receiver.

    Args:
        url: where events are POSTed (``http`` or ``https``).
        secret: the Standard Webhooks signing secret, ``whsec_`` + base64 of 16 to 64
            random bytes (`new_secret` makes one). Never shown in reprs, logs or listings.
        events: the event types it gets (default: the config events, `EVENT_TYPES`);
            canary rollout events (`ROLLOUT_EVENT_TYPES`) go only to subscribers that list
            them.
        keys: dotted key patterns with shell globs, as in ``live.subscribe(keys=...)``:
            a change event (or a rollout event, by the candidate's changes) is sent only
            when a changed path matches (``None``: every change; rejections ignore
            ``keys``).
        allow_private: allow loopback, private, link-local and other non-global addresses
            (off by default: a guard against SSRF).
        name: a stable name; it is the subscriber's ``id`` (default: derived from the URL).
        raw_checksums: put the config's real canonical checksums in its event bodies; by
            default they carry keyed fingerprints (the checksum covers secret values, and a
            short one could be guessed offline from it): equal for equal content, from the
            same state directory.

    Raises:
        SubscriberError: an invalid URL, secret, event type or name.

    Example:
        >>> Subscriber("https://hooks.example.com/config", new_secret(), keys=["db.*"])
        Subscriber(id='sub_...', url='https://hooks.example.com/config', ...)
    """

    url: str
    secret: str = field(repr=False)
    events: Sequence[EventType] = EVENT_TYPES
    keys: Sequence[str] | None = None
    allow_private: bool = False
    name: str = ""
    raw_checksums: bool = False
    id: str = field(init=False)

    def __post_init__(self) -> None:
        _check_url(self.url)
        _check_secret(self.secret)
        events = tuple(dict.fromkeys(self.events))
        unknown = [e for e in events if e not in ALL_EVENT_TYPES]
        if unknown or not events:
            raise SubscriberError(
                f"events must be some of {', '.join(ALL_EVENT_TYPES)}, not {unknown or 'none'}"
            )
        if isinstance(self.keys, str):
            raise SubscriberError("keys is a list of dotted key patterns, not one string")
        keys = tuple(self.keys) if self.keys is not None else None
        if keys is not None and not all(isinstance(k, str) and k for k in keys):
            raise SubscriberError("keys must be non-empty strings (dotted key patterns)")
        if not isinstance(self.allow_private, bool):
            raise SubscriberError("allow_private must be true or false")
        if not isinstance(self.raw_checksums, bool):
            raise SubscriberError("raw_checksums must be true or false")
        if self.name and not _NAME.fullmatch(self.name):
            raise SubscriberError(
                f"name {self.name!r} must be 1-128 letters, digits or . _ : - (not first)"
            )
        ident = self.name or "sub_" + hashlib.sha256(self.url.encode()).hexdigest()[:16]
        object.__setattr__(self, "events", events)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "id", ident)

    def wants(self, type: str, paths: Iterable[Sequence[str | int]] = ()) -> bool:
        """Does an event of ``type`` that changed ``paths`` go to this subscriber?"""
        if type not in self.events:
            return False
        if type == "config.rejected" or self.keys is None:
            return True
        patterns = [split_dotted(k) for k in self.keys]
        return any(matches(path, p) for path in paths for p in patterns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form without the secret (the URL's userinfo and query redacted)."""
        return {
            "id": self.id,
            "name": self.name or None,
            "url": redact_url(self.url),
            "events": list(self.events),
            "keys": list(self.keys) if self.keys is not None else None,
            "allow_private": self.allow_private,
            "raw_checksums": self.raw_checksums,
        }

    def __repr__(self) -> str:
        return (
            f"Subscriber(id={self.id!r}, url={redact_url(self.url)!r}, events={self.events!r}, "
            f"keys={self.keys!r}, allow_private={self.allow_private!r})"
        )


def _check_url(url: object) -> None:
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 for c in url):
        raise SubscriberError("url must be a string without spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise SubscriberError(f"url {redact_url(url)} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise SubscriberError("url must be http:// or https://")
    if not parts.hostname:
        raise SubscriberError("url has no host")


def _check_secret(secret: object) -> None:
    # Say what is wrong, never what the secret is (docs/architecture.md, invariant 8).
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise SubscriberError("secret must be a string starting with whsec_ (Standard Webhooks)")
    body = secret[len("whsec_") :]
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except ValueError:
        raise SubscriberError("secret must be whsec_ followed by base64") from None
    if not 16 <= len(key) <= 64:
        raise SubscriberError(f"secret must encode 16 to 64 bytes, not {len(key)}")


@dataclass(frozen=True, slots=True)
class SubscriberStatus:
    """A subscriber as the store knows it: where it came from, whether it is disabled.

    Attributes:
        subscriber: the `Subscriber`.
        origin: ``code`` (a list given to `Webhooks`), ``file`` (subscribers.yaml) or ``api``
            (added at run time with `Webhooks.add`).
        created_at: when it was first seen.
        disabled_at: when a receiver answered ``410 Gone`` (``None``: enabled).
        disabled_reason: why it was disabled.
    """

    subscriber: Subscriber
    origin: Origin
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    @property
    def id(self) -> str:
        return self.subscriber.id

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, without the secret."""
        return {
            **self.subscriber.to_dict(),
            "origin": self.origin,
            "created_at": _iso(self.created_at),
            "disabled": self.disabled,
            "disabled_at": _iso(self.disabled_at) if self.disabled_at else None,
            "disabled_reason": self.disabled_reason,
        }


# -- subscribers.yaml -------------------------------------------------------------------------

SUBSCRIBERS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["subscribers"],
    "additionalProperties": False,
    "properties": {
        "subscribers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "url": {"type": "string"},
                    "secret": {"type": "string", "writeOnly": True},
                    "secret_env": {"type": "string", "minLength": 1},
                    "events": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"enum": list(ALL_EVENT_TYPES)},
                    },
                    "keys": {"type": "array", "items": {"type": "string"}},
                    "allow_private": {"type": "boolean"},
                    "raw_checksums": {"type": "boolean"},
                },
                "oneOf": [{"required": ["secret"]}, {"required": ["secret_env"]}],
            },
        }
    },
}


@functools.cache
def _file_schema() -> Schema:
    return Schema.from_dict(SUBSCRIBERS_SCHEMA)  # built on first use: it imports jsonschema


def read_subscribers(path: str | os.PathLike[str]) -> tuple[Subscriber, ...]:
    """Read and check a subscribers file::

        subscribers:
          - name: billing
            url: https://billing.example.com/hooks/config
            secret_env: BILLING_WEBHOOK_SECRET     # or secret: whsec_...
            events: [config.changed, config.rolled_back]
            keys: ["db.*"]

    Raises:
        SourceError: it cannot be read. LoadError: it does not parse.
        ValidationError: it is not a valid list of subscribers (messages hold no secret).
    """
    name = os.fspath(path)
    data = load(name)
    problems = [
        Problem(p.message, p.path, p.code, name, p.line) for p in _file_schema().validate(data)
    ]
    subs: list[Subscriber] = []
    if not problems:
        for i, entry in enumerate(data["subscribers"]):
            where = f"/subscribers/{i}"
            secret = entry.get("secret")
            if secret is None:
                secret = os.environ.get(entry["secret_env"])
                if secret is None:
                    msg = f"environment variable {entry['secret_env']} is not set"
                    problems.append(Problem(msg, where + "/secret_env", "secret_env", name))
                    continue
            try:
                subs.append(
                    Subscriber(
                        url=entry["url"],
                        secret=secret,
                        events=entry.get("events", EVENT_TYPES),
                        keys=entry.get("keys"),
                        allow_private=entry.get("allow_private", False),
                        name=entry.get("name", ""),
                        raw_checksums=entry.get("raw_checksums", False),
                    )
                )
            except SubscriberError as exc:
                problems.append(Problem(exc.message, where, "subscriber", name))
        problems += duplicates(subs, name)
    if problems:
        raise ValidationError(f"{name}: invalid webhook subscribers", problems)
    return tuple(subs)


def duplicates(subs: Sequence[Subscriber], source: str | None = None) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for i, sub in enumerate(subs):
        if sub.id in seen:
            msg = f"subscriber id {sub.id!r} is used twice; give each subscriber its own name"
            out.append(Problem(msg, f"/subscribers/{i}", "duplicate", source))
        seen.add(sub.id)
    return out


class SubscriberFile:
    """subscribers.yaml, re-read on change; remembers the last good content."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._good: bytes | None = None
        self._bad: str | None = None

    def read(self) -> tuple[Subscriber, ...] | None:
        """The subscribers, or ``None`` when the content did not change since the last read.

        Raises:
            HotconfError: the file is bad; the caller keeps the last good set.
        """
        try:
            subs = read_subscribers(self.path)
        except HotconfError as exc:
            self._bad = str(exc)
            raise
        self._bad = None
        key = canonical_json([[s.url, _fingerprint(s.secret), s.to_dict()] for s in subs])
        if key == self._good:
            return None
        self._good = key
        return subs

    def reload(self, apply: Callable[[tuple[Subscriber, ...]], None]) -> None:
        """Re-read and ``apply`` a changed, valid set; log a bad file once per content."""
        before = self._bad
        try:
            subs = self.read()
        except HotconfError as exc:
            if str(exc) != before:
                log.error(
                    "hotconf: %s is invalid; keeping the last good webhook subscribers\n%s",
                    self.path,
                    "\n".join(f"  {p}" for p in exc.problems) or f"  {exc.message}",
                )
            return
        if before is not None:
            log.info("hotconf: %s is valid again", self.path)
        if subs is not None:
            apply(subs)


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
