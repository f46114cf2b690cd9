"""The ``hotconf rollout`` commands: show, promote or abort a canary rollout, as JSON.

With ``--etcd URL --name NAME``: the fleet's canary (`hotconf.fleet.Fleet`): ``status``
prints the running one (outcomes, the checks' rounds) or, when none runs, the newest one's
record; ``promote`` and ``abort`` decide it in one etcd transaction. With ``--url``: a running
service's in-process rollout (``GET /v1/rollouts``, ``POST /v1/rollouts/promote|abort``).

Exit codes: 0 done; 1 the service refused (the rollout moved on, or its promotion failed);
2 nothing to decide (no rollout runs), or etcd or the service cannot be reached.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .common import EXIT_OK
from .service import (
    TOKEN_ENV,
    _fleet_name,
    _token,
    etcd_option,
    name_option,
    prefix_option,
)


def _show(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def _where(url: str | None, etcd_url: str | None, name: str | None, prefix: str) -> str | None:
    if (url is None) == (etcd_url is None):
        raise click.UsageError("give --etcd URL --name NAME (a fleet) or --url URL (a service)")
    return _fleet_name(etcd_url, name, prefix)


where_options = [
    click.option("--url", metavar="URL", help="A running hotconf server: its in-process rollout."),
    click.option(
        "--token-file", metavar="FILE", help=f"The server's admin token [default: ${TOKEN_ENV}]."
    ),
    etcd_option,
    name_option,
    prefix_option,
]


def _where_options(fn: Any) -> Any:
    for option in reversed(where_options):
        fn = option(fn)
    return fn


@click.group("rollout")
def rollout_group() -> None:
    """Show, promote or abort a canary rollout: a fleet's (--etcd) or a service's (--url)."""


@rollout_group.command("status")
@_where_options
def status_cmd(
    url: str | None, token_file: str | None, etcd_url: str | None, name: str | None, prefix: str
) -> int:
    """Print the rollout as JSON: the running one, else the newest; null when none."""
    fleet_name = _where(url, etcd_url, name, prefix)
    if fleet_name is not None:
        from ..fleet.publisher import Fleet

        assert etcd_url is not None
        with Fleet(etcd_url, fleet_name, prefix=prefix) as fleet:
            running = fleet.rollout_status()
            if running is None:
                newest = fleet.rollouts(1)
                running = fleet.rollout(newest[0]["id"]) if newest else None
        _show(running)
        return EXIT_OK
    from .remote import report, request

    assert url is not None
    status, answer = request(url, "/v1/rollouts", token=_token(token_file, TOKEN_ENV))
    if status != 200:
        return report(status, answer)
    found = answer.get("rollouts") or []
    _show(found[0] if found else None)
    return EXIT_OK


def _decide(
    what: str,
    reason: str | None,
    url: str | None,
    token_file: str | None,
    etcd_url: str | None,
    name: str | None,
    prefix: str,
) -> int:
    fleet_name = _where(url, etcd_url, name, prefix)
    reason = reason or f"{what}d by hand"
    if fleet_name is not None:
        from ..fleet.publisher import Fleet

        assert etcd_url is not None
        with Fleet(etcd_url, fleet_name, prefix=prefix) as fleet:
            running = fleet.rollout_status()
            if running is None:
                from ..errors import RolloutError

                raise RolloutError(f"{fleet_name}: no canary rollout is running")
            if what == "promote":
                fleet.promote(reason)
            else:
                fleet.abort(reason)
            _show(fleet.rollout(running["id"]))
        return EXIT_OK
    from .remote import report, request

    assert url is not None
    status, answer = request(
        url, f"/v1/rollouts/{what}", body={"reason": reason}, token=_token(token_file, TOKEN_ENV)
    )
    if status != 200:
        return report(status, answer)
    _show(answer["rollout"])
    return EXIT_OK


reason_option = click.option("--reason", metavar="TEXT", help="Recorded as the rollout's reason.")


@rollout_group.command("promote")
@reason_option
@_where_options
def promote_cmd(
    reason: str | None,
    url: str | None,
    token_file: str | None,
    etcd_url: str | None,
    name: str | None,
    prefix: str,
) -> int:
    """Promote the running rollout: the fleet's canary version becomes current everywhere (or
    the service commits its candidate); prints the rollout as JSON."""
    return _decide("promote", reason, url, token_file, etcd_url, name, prefix)


@rollout_group.command("abort")
@reason_option
@_where_options
def abort_cmd(
    reason: str | None,
    url: str | None,
    token_file: str | None,
    etcd_url: str | None,
    name: str | None,
    prefix: str,
) -> int:
    """Abort the running rollout: the canary instances go back to the stable version (or the
    service keeps serving its stable config); prints the rollout as JSON."""
    return _decide("abort", reason, url, token_file, etcd_url, name, prefix)
