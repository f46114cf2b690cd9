"""Passwords inside strings (URLs, DSNs, query parameters) never leave (invariant 8 of
docs/architecture.md)."""

from __future__ import annotations

import logging

import pytest

import hotconf
from hotconf.pipeline.redaction import scrub, scrub_text
from hotconf.testing import MemorySource

R = "<redacted>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://app:PW@db/app", f"postgres://app:{R}@db/app"),
        (
            "postgresql+psycopg://app:p%40ss@db:5432/app",
            f"postgresql+psycopg://app:{R}@db:5432/app",
        ),
        ("redis://:PW@cache:6379/0", f"redis://:{R}@cache:6379/0"),
        ("amqp://u:p@ss@mq/vhost", f"amqp://u:{R}@mq/vhost"),  # an unescaped @ in it
        ("mongodb://a:PW1@h1,b:PW2@h2/db", f"mongodb://a:{R}@h2/db"),
        ("see http://a:PW@x and https://b:QQ@y/", f"see http://a:{R}@x and https://b:{R}@y/"),
        ("https://user@host/path", "https://user@host/path"),  # no password: nothing secret
        ("https://host/a?password=PW&b=1", f"https://host/a?password={R}&b=1"),
        ("https://host/a?b=1&token=T#frag", f"https://host/a?b=1&token={R}#frag"),
        ("https://host/?api_key=K;secret=S", f"https://host/?api_key={R};secret={R}"),
        ("https://host/?sig=abc&x=1", f"https://host/?sig={R}&x=1"),
        ("host=db user=app password=PW dbname=app", f"host=db user=app password={R} dbname=app"),
        ("password=PW", f"password={R}"),
        ("max_tokens=5&a=b", "max_tokens=5&a=b"),  # a count, not a secret
        ("a=b", "a=b"),
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_scrub_text(text: str, expected: str) -> None:
    assert scrub_text(text) == expected
    assert scrub_text(expected) == expected  # idempotent


def test_scrub_is_linear_on_hostile_strings() -> None:
    # Would take minutes if any part backtracked: many scheme starts, many parameters.
    for text in ("a://b:" * 100_000, "?x=" * 100_000, "a" * 1_000_000 + "=", "://@:" * 50_000):
        scrub_text(text)


def test_scrub_walks_data() -> None:
    data = {"dsn": "postgres://app:PW@db/app", "hosts": ["https://a:B@c"], "n": 1}
    assert scrub(data) == {
        "dsn": f"postgres://app:{R}@db/app",
        "hosts": [f"https://a:{R}@c"],
        "n": 1,
    }


def test_reports_events_logs_and_problems_never_hold_the_url_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = {"properties": {"dsn": {"type": "string", "pattern": "^postgres://"}}}
    source = MemorySource({"dsn": "postgres://app:OLDPW@db/app"})
    caplog.set_level(logging.DEBUG, logger="hotconf")
    with hotconf.watch(source, schema=schema, state_dir=None) as live:
        assert live.get("dsn") == "postgres://app:OLDPW@db/app"  # the code that needs it
        events: list[object] = []
        live.subscribe(events.append, rejections=True)
        source.set({"dsn": "postgres://app:NEWPW@db/app"})
        changed = events[0].report  # type: ignore[attr-defined]
        source.set({"dsn": "mysql://app:BADPW@db/app"})
        assert live.last_rejection is not None and live.version == 2
        report = live.validate(b"dsn: mysql://app:DRYPW@db/app\n")
        seen = [
            changed.to_json(),
            changed.to_text(),
            changed.to_markdown(),
            *(str(p) for p in live.last_rejection.problems),
            *(str(p) for p in live.rejections()[0].problems),
            report.to_json(),
            caplog.text,
            repr(events),
        ]
        for text in seen:
            for password in ("OLDPW", "NEWPW", "BADPW", "DRYPW"):
                assert password not in text
        assert f"postgres://app:{R}@db/app" in changed.to_json()
