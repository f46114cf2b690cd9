"""The client of a running hotconf server: ``history --url`` and ``rollback --url``.

One JSON request per command, over httpx. A loopback server (``127.0.0.1``, ``::1``,
``localhost``) is always asked directly; for another host the ``HTTP(S)_PROXY``/``NO_PROXY``
variables apply. HTTPS is checked against the system's certificate authorities. Exit codes
follow the server's answer: 1 when it refused the candidate (409, 422), 2 for any other
error status, a server that cannot be reached, or a URL that is not one.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from typing import Any

import click
import httpx

from .. import __version__
from ..errors import HotconfError
from .common import EXIT_INVALID, EXIT_USAGE

TIMEOUT = 60.0  # seconds to connect, and for each read or write
_USER_AGENT = f"hotconf/{__version__}"


def request(
    url: str, path: str, *, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """One request to the server at ``url``: a POST of ``body`` as JSON, or a GET without.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8750`` (a path prefix is kept).
        path: the endpoint, with its query, e.g. ``/v1/versions?limit=20``.
        body: the JSON body of a POST; ``None`` for a GET.
        token: the bearer token.

    Returns:
        The status and the JSON answer (a problem document on error statuses; ``{"detail":
        reason}`` when an error's body is not JSON).

    Raises:
        click.UsageError: ``url`` is not an http:// or https:// URL.
        HotconfError: the server cannot be reached, or it answered a success without JSON.
    """
    target = _parse(url)
    headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
    content = None
    if body is not None:
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with httpx.Client(
            timeout=TIMEOUT,
            follow_redirects=True,  # as urllib did; httpx drops the token on another origin
            trust_env=not _loopback(target.host),
            verify=ssl.create_default_context(),
        ) as client:
            response = client.request(
                "POST" if body is not None else "GET",
                url.rstrip("/") + path,
                content=content,
                headers=headers,
            )
    except httpx.HTTPError as exc:
        raise HotconfError(f"cannot reach {url}: {str(exc) or type(exc).__name__}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        if response.is_success:
            raise HotconfError(
                f"{url} answered {response.status_code} {response.reason_phrase} without a "
                "JSON object: is it a hotconf server?"
            )
        answer = {"detail": response.reason_phrase}
    return response.status_code, answer


def report(status: int, problem: dict[str, Any]) -> int:
    """Print an error answer (its detail and problems) on stderr; return the exit code."""
    click.secho(f"hotconf: {status} {problem.get('detail', '')}", fg="red", err=True)
    for p in problem.get("problems") or ():
        where = ": ".join(x for x in (p.get("path"), p.get("message")) if x)
        click.echo(f"  {where}", err=True)
    # a refused or invalid candidate is a config problem (1); anything else is "cannot run"
    return EXIT_INVALID if status in (409, 422) else EXIT_USAGE


def _parse(url: str) -> httpx.URL:
    if not url.startswith(("http://", "https://")):
        raise click.UsageError(f"--url must be an http:// or https:// URL, not {url!r}")
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise click.UsageError(f"--url {url!r} is not a valid URL: {exc}") from None
    if not target.host:
        raise click.UsageError(f"--url {url!r} names no host")
    return target


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
