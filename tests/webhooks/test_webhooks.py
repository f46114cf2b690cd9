"""Webhooks without the network: subscribers, the retry schedule, the SSRF guard's address
rules, event bodies against their schema, no webhooks meaning no outbox rows.

`Receiver`, the real HTTP receiver the other webhook tests use, lives here too.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import standardwebhooks

import hotconf
from hotconf.store.history import Store
from hotconf.testing import MemorySource
from hotconf.webhooks.deliveries import retry_after
from hotconf.webhooks.manager import (
    SubscriberError,
    change_body,
    new_secret,
    read_subscribers,
    redact_url,
    rejection_body,
)
from hotconf.webhooks.ssrf import Refused, check, refusal

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="  # "secret-signing-key-for-tests"

# -- a real receiver on 127.0.0.1 ---------------------------------------------------------------

Answer = int | tuple[int, dict[str, str]] | str  # a status, a status with headers, or "hang"


@dataclass(frozen=True)
class Hit:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def version(self) -> int | None:
        version: int | None = self.event["data"]["version"]
        return version


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script.

    ``script[n]`` answers the n-th request (the last entry repeats); ``"hang"`` never
    answers until the receiver is closed (bounded, so no test can hang on it). Every body it
    gets is checked against ``schemas/webhook-event.schema.json``; `close` fails the test if
    one did not match.
    """

    def __init__(
        self, script: Sequence[Answer] | Callable[[Hit, int], Answer] = (200,), port: int = 0
    ) -> None:
        self.hits: list[Hit] = []
        self.invalid: list[str] = []
        self._lock = threading.Lock()
        self.released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hit = Hit(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                )
                errors = [e.message for e in EVENT_SCHEMA.iter_errors(json.loads(body))]
                with owner._lock:
                    owner.hits.append(hit)
                    owner.invalid += errors
                    n = len(owner.hits) - 1
                answer = script(hit, n) if callable(script) else script[min(n, len(script) - 1)]
                if answer == "hang":
                    owner.released.wait(30)
                    return
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                assert isinstance(status, int)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def snapshot(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)
        assert not self.invalid, f"bodies not matching the event schema: {self.invalid}"

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


FAST = hotconf.RetryPolicy(attempts=3, base=0.05, factor=2.0, jitter=0.1)


def hooks(subs: list[hotconf.Subscriber] | str | Path, **options: Any) -> hotconf.Webhooks:
    """`Webhooks` with a fast schedule and short timeouts, for tests."""
    options.setdefault("retry", FAST)
    options.setdefault("connect_timeout", 2.0)
    options.setdefault("read_timeout", 2.0)
    options.setdefault("total_timeout", 5.0)
    options.setdefault("poll_interval", 0.5)
    return hotconf.Webhooks(subs, **options)


def subscriber(url: str, **kwargs: Any) -> hotconf.Subscriber:
    kwargs.setdefault("secret", SECRET)
    kwargs.setdefault("allow_private", True)
    return hotconf.Subscriber(url, **kwargs)


def verify(hit: Hit, secret: str = SECRET) -> dict[str, Any]:
    """What a receiver does: check the Standard Webhooks signature, then parse."""
    event: dict[str, Any] = standardwebhooks.Webhook(secret).verify(hit.body, hit.headers)
    return event


def _schema_validator() -> jsonschema.Draft202012Validator:
    docs = [
        json.loads((ROOT / "schemas" / n).read_text())
        for n in ("webhook-event.schema.json", "impact-report.schema.json")
    ]
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        (d["$id"], referencing.Resource.from_contents(d)) for d in docs
    )
    return jsonschema.Draft202012Validator(
        docs[0], registry=registry, format_checker=jsonschema.FormatChecker()
    )


EVENT_SCHEMA = _schema_validator()


def valid_event(body: bytes | str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(body)
    EVENT_SCHEMA.validate(event)
    return event


# -- subscribers --------------------------------------------------------------------------------


def test_subscriber_defaults_and_id() -> None:
    sub = hotconf.Subscriber("https://hooks.example.com/x", SECRET)
    assert sub.events == ("config.changed", "config.rejected", "config.rolled_back")
    assert sub.keys is None and not sub.allow_private
    assert sub.id.startswith("sub_") and sub.id == hotconf.Subscriber(sub.url, new_secret()).id
    named = hotconf.Subscriber(sub.url, SECRET, name="billing", keys=["db.*"])
    assert named.id == "billing" and named.keys == ("db.*",)
    hash(named)  # frozen: usable in sets


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://h/x"}, "http:// or https://"),
        ({"url": "http:///x"}, "no host"),
        ({"url": "http://h:99999/"}, "not a valid URL"),
        ({"url": "http://h/ x"}, "without spaces"),
        ({"secret": "s3cr3t-value"}, "whsec_"),
        ({"secret": "whsec_!!not-base64!!"}, "base64"),
        ({"secret": "whsec_c2hvcnQ="}, "16 to 64 bytes"),
        ({"events": ["config.deleted"]}, "events must be"),
        ({"events": []}, "events must be"),
        ({"keys": "db.*"}, "list"),
        ({"name": "no spaces please"}, "name"),
    ],
)
def test_subscriber_validation_never_shows_the_secret(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"url": "https://h.example/x", "secret": SECRET, **kwargs}
    with pytest.raises(SubscriberError, match=message) as info:
        hotconf.Subscriber(**args)
    assert isinstance(info.value, ValueError)
    assert args["secret"] not in str(info.value)
    assert "c2VjcmV0" not in str(info.value)


def test_subscriber_repr_and_dict_hide_secret_and_url_credentials() -> None:
    sub = hotconf.Subscriber("https://user:pw-in-url@h.example/x?token=q-secret#f", SECRET)
    for text in (repr(sub), json.dumps(sub.to_dict()), str(sub)):
        assert SECRET not in text and "c2VjcmV0" not in text
        assert "pw-in-url" not in text and "q-secret" not in text
    assert sub.to_dict()["url"] == "https://***@h.example/***?***"
    assert redact_url("http://h/x") == "http://h/***"
    assert redact_url("https://hooks.slack.example/services/T0/B0/XsecretX") == (
        "https://hooks.slack.example/***"
    )
    assert redact_url("http://h:8080") == "http://h:8080"
    for bad in ({"keys": [1]}, {"keys": [""]}, {"allow_private": "yes"}):
        with pytest.raises(hotconf.webhooks.SubscriberError):
            hotconf.Subscriber("https://h.example/x", SECRET, **bad)  # type: ignore[arg-type]


def test_subscriber_wants_types_and_keys() -> None:
    sub = hotconf.Subscriber(
        "https://h.example/x", SECRET, events=["config.changed", "config.rejected"], keys=["db.*"]
    )
    assert sub.wants("config.changed", [("db", "pool")])
    assert sub.wants("config.changed", [("db",)])  # all of db replaced
    assert not sub.wants("config.changed", [("features", "x")])
    assert not sub.wants("config.rolled_back", [("db", "pool")])
    assert sub.wants("config.rejected")  # rejections have no keys


def test_new_secret_signs_and_verifies() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and secret != new_secret()
    hotconf.Subscriber("https://h.example/x", secret)  # valid
    signer = standardwebhooks.Webhook(secret)
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign("msg_1", now, '{"a":1}'),
    }
    assert signer.verify(b'{"a":1}', headers) == {"a": 1}


def test_duplicate_subscriber_ids_are_refused() -> None:
    a = hotconf.Subscriber("https://h.example/a", SECRET, name="same")
    b = hotconf.Subscriber("https://h.example/b", SECRET, name="same")
    with pytest.raises(SubscriberError, match="used twice"):
        hotconf.Webhooks([a, b])


def test_subscribers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        "subscribers:\n"
        "  - name: billing\n"
        "    url: https://billing.example/hooks\n"
        "    secret_env: HOOK_SECRET\n"
        "    events: [config.changed]\n"
        "    keys: ['db.*']\n"
        "  - url: http://127.0.0.1:9/x\n"
        f"    secret: {SECRET}\n"
        "    allow_private: true\n"
    )
    billing, local = read_subscribers(path)
    assert (billing.id, billing.secret, billing.events, billing.keys) == (
        "billing",
        SECRET,
        ("config.changed",),
        ("db.*",),
    )
    assert local.allow_private and local.events == hotconf.webhooks.EVENT_TYPES


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("subscribers:\n  - url: https://h.example/x\n    secret: whsec_bad!!\n", "/subscribers/0"),
        ("subscribers:\n  - url: https://h.example/x\n", "/subscribers/0"),
        (
            "subscribers:\n  - url: https://h.example/x\n    secret_env: NOT_SET_ANYWHERE\n",
            "/subscribers/0/secret_env",
        ),
        ("subscribers:\n  - url: 5\n    secret: whsec_x\n    colour: red\n", "/subscribers/0"),
        ("subscriber: []\n", ""),
    ],
)
def test_subscribers_file_problems(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "subscribers.yaml"
    path.write_text(text)
    with pytest.raises(hotconf.ValidationError) as info:
        read_subscribers(path)
    assert any(p.path.startswith(where) for p in info.value.problems), info.value.problems
    assert "whsec_bad" not in str(info.value)


# -- the retry schedule -------------------------------------------------------------------------


def test_default_schedule_is_8_attempts_over_about_an_hour() -> None:
    policy = hotconf.RetryPolicy()
    schedule = policy.schedule()
    assert len(schedule) == policy.attempts - 1 == 7
    assert 50 * 60 <= sum(schedule) <= 70 * 60
    assert list(schedule) == sorted(schedule)


def test_delay_jitter_and_retry_after() -> None:
    policy = hotconf.RetryPolicy(base=10, factor=2, jitter=0.2, max_retry_after=100)
    rng = random.Random(7)
    delays = [policy.delay(2, rng=rng) for _ in range(200)]
    assert all(16 <= d <= 24 for d in delays) and len(set(delays)) > 100
    assert policy.delay(1, retry_after=60, rng=rng) >= 60  # at least what the receiver asked
    assert policy.delay(1, retry_after=10_000, rng=rng) <= 100  # capped
    assert policy.delay(50) <= policy.max_delay * 1.2
    with pytest.raises(ValueError, match="attempts"):
        hotconf.RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", 1120.0),
        (" 0 ", 1000.0),
        ("Thu, 01 Jan 1970 00:20:00 GMT", 1200.0),  # an HTTP date
        ("Thursday, 01-Jan-70 00:20:00 GMT", 1200.0),  # RFC 850, still allowed
        ("-5", None),
        ("soon", None),
        ("\u00b2", None),  # a digit to str.isdigit(), not to float(): a receiver may send it
    ],
)
def test_retry_after_header(value: str | None, expected: float | None) -> None:
    assert retry_after(value, 1000.0) == expected


# -- the SSRF guard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "shared address space"),
        ("100.127.255.254", "shared address space"),
        ("192.0.2.10", "private"),  # documentation
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:100.64.0.1", "shared address space"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        # IANA special-purpose blocks that Python 3.11's `ipaddress` calls global
        ("192.0.0.8", "IETF protocol assignments"),  # IPv4 dummy address
        ("192.0.0.9", "IETF protocol assignments"),  # PCP anycast: no webhook lives there
        ("192.88.99.1", "deprecated 6to4 relay anycast"),
        ("198.18.0.1", "private"),  # benchmarking
        ("3fff::1", "documentation"),
        ("3fff:fff:ffff::1", "documentation"),
        ("64:ff9b:1::1", "reserved"),  # local-use translation
        ("2002:5db8:d70e::1", "6to4"),  # 6to4 of a global address: still a relay's
        ("2001:0:4136:e378::1", "private"),  # Teredo
    ],
)
def test_refused_addresses(address: str, kind: str) -> None:
    why = refusal(address)
    assert why is not None and why.startswith(kind)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_global_addresses_pass(address: str) -> None:
    assert refusal(address) is None


def test_every_resolved_address_is_checked() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    with pytest.raises(Refused, match=r"10\.0\.0\.7 \(private\)"):
        asyncio.run(check("mixed.example", 443, resolve, allow_private=False))
    allowed = asyncio.run(check("mixed.example", 443, resolve, allow_private=True))
    assert allowed == ["93.184.215.14", "10.0.0.7"]


# -- bodies and the store -----------------------------------------------------------------------


def test_bodies_match_the_schema_and_are_redacted() -> None:
    schema = {"properties": {"db": {"properties": {"password": {"type": "string"}}}}}
    old = {"db": {"password": "hunter2-old", "pool": 1}}
    new = {"db": {"password": "hunter2-new", "pool": 2}}
    report = hotconf.diff(old, new, schema)
    info = hotconf.VersionInfo(7, "a" * 64, datetime.now(UTC), "config.yaml")
    event = valid_event(change_body("app", info, 6, report))
    assert event["type"] == "config.changed"
    assert (event["data"]["version"], event["data"]["previous_version"]) == (7, 6)
    assert event["data"]["report"]["new"]["version"] == 7
    rolled = hotconf.VersionInfo(
        8, "b" * 64, datetime.now(UTC), "rollback", "rollback", rolled_back_from=7, restores=6
    )
    back = valid_event(change_body("app", rolled, 7, report))
    assert back["type"] == "config.rolled_back" and back["data"]["restores"] == 6
    problem = hotconf.Problem("too small", "/db/pool", "minimum", "config.yaml", 3)
    rejection = hotconf.Rejection(datetime.now(UTC), "config.yaml", (problem,), None)
    rejected = valid_event(rejection_body("app", None, rejection, None))
    assert rejected["data"]["problems"][0]["line"] == 3 and rejected["data"]["report"] is None
    for body in (change_body("app", info, 6, report), rejection_body("app", None, rejection, None)):
        assert "hunter2" not in body


def test_webhooks_none_changes_nothing(tmp_path: Path) -> None:
    source = MemorySource({"n": 1})
    with hotconf.watch(source, state_dir=tmp_path) as live:
        assert live.webhooks is None
        source.set({"n": 2})
    store = Store.open(tmp_path)
    try:
        assert store.outbox.deliveries() == []
    finally:
        store.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("hotconf-webhooks")]
