"""Secrets inside strings: passwords in URLs and ``password=`` parameters (invariant 8 of
docs/architecture.md).

A value at a sensitive path is redacted whole (`hotconf.pipeline.schema.Schema.is_sensitive`);
this module redacts the secret parts of every other string that leaves hotconf: anonymous HTTP
reads, impact reports, events, logs, problems and webhooks.

- the password of a URL's userinfo: ``postgres://app:PW@db/app`` reads
  ``postgres://app:<redacted>@db/app`` (the user name stays: it is not a secret and it tells
  which account);
- the value of a parameter named like a secret, in a query string or a ``key=value`` DSN:
  ``?password=``, ``&token=``, ``;secret=``, ``api_key=``, ``sig=``... and libpq's
  ``host=db password=PW``.

It runs in linear time on any input and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .snapshot import REDACTED

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTHORITY = re.compile(r"[^/?#\s\"'<>]*")
# a parameter: after ?, &, ;, whitespace or the start; its name, "=", its value
_PARAM = re.compile(r"(?:(?<=[?&;\s])|^)([A-Za-z0-9_.\-]{1,64})=([^&;#\s\"'<>]*)")
_EXTRA_NAMES = frozenset({"pwd", "pass", "sig", "signature", "key", "auth", "access_key"})


def _secret_param(name: str) -> bool:
    from .schema import sensitive_name

    return name.lower() in _EXTRA_NAMES or sensitive_name(name)


def scrub_text(text: str) -> str:
    """``text`` with URL passwords and secret-named parameters replaced by ``<redacted>``.

    Example:
        >>> scrub_text("postgres://app:hunter2@db:5432/app?sslmode=require&password=x")
        'postgres://app:<redacted>@db:5432/app?sslmode=require&password=<redacted>'
    """
    if "=" not in text and "://" not in text:
        return text
    if "://" in text:
        text = _scrub_userinfo(text)
    if "=" in text:
        text = _PARAM.sub(_param, text)
    return text


def _scrub_userinfo(text: str) -> str:
    out: list[str] = []
    at = 0
    for scheme in _SCHEME.finditer(text):
        start = scheme.end()
        if start < at:
            continue
        authority = _AUTHORITY.match(text, start)
        end = authority.end() if authority else start
        userinfo, sep, _host = text[start:end].rpartition("@")
        if sep and ":" in userinfo:
            user = userinfo.partition(":")[0]
            out.append(text[at:start])
            out.append(f"{user}:{REDACTED}@")
            at = start + len(userinfo) + 1
    out.append(text[at:])
    return "".join(out)


def _param(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if value and value != REDACTED and _secret_param(name):
        return f"{name}={REDACTED}"
    return match.group(0)


def scrub(value: Any) -> Any:
    """A copy of plain data with `scrub_text` applied to every string (keys stay)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


__all__ = ["scrub", "scrub_text"]
