"""The ``hotconf publish`` command (registered by `hotconf.cli`): fleet mode on etcd.

It validates the config locally, prints its impact report against the version current in
etcd, and publishes it (or starts a canary) in one compare-and-swap transaction. ``--watch``
then follows the rollout: without a canary, until every live instance serves the new version
(or one rejects it); with one, until the canary is promoted or aborted by the error-budget
rule, which this command applies.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from ..fleet.keys import PREFIX
from .common import (
    EXIT_INVALID,
    EXIT_OK,
    _color,
    _contract,
    _stamp,
    fail_on_option,
    format_option,
    pointer_option,
    schema_option,
)

if TYPE_CHECKING:  # etcd speaks HTTP (httpx): `hotconf.fleet` is imported by `publish` only
    from ..fleet.publisher import Fleet, InstanceStatus, PublishResult


def _say(line: str, *, err: bool = False) -> None:
    click.echo(f"{_stamp()} {line}", err=err)
    sys.stdout.flush()


def _report(result: PublishResult, fmt: str) -> None:
    if fmt == "json":
        click.echo(result.report.to_json())
    elif fmt == "markdown":
        click.echo(result.report.to_markdown(), nl=False)
    else:
        click.echo(result.report.to_text(color=_color()))


@click.command("publish")
@click.argument("config", nargs=-1, required=True)
@schema_option
@pointer_option
@click.option("--etcd", "etcd_url", required=True, metavar="URL", help="etcd client URL(s).")
@click.option("--name", required=True, help="The config's name: its keys are /hotconf/NAME/.")
@click.option("--prefix", default=PREFIX, show_default=True, help="The key prefix in etcd.")
@fail_on_option
@format_option
@click.option(
    "--canary",
    metavar="SHARE",
    help="Start a canary instead: '10%' of the live instances, or labels 'zone=a,tier=web'.",
)
@click.option(
    "--budget",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="How much higher than the stable's the canary's error rate may be (0.01: 1 point).",
)
@click.option("--min-samples", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--min-duration", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option(
    "--watch",
    "follow",
    is_flag=True,
    help="Follow the rollout: until every instance serves it, or the canary is decided.",
)
@click.option("--timeout", type=click.FloatRange(min=0), default=600.0, show_default=True)
@click.option("--poll", type=click.FloatRange(min=0.01), default=1.0, show_default=True)
@click.option("--publisher", metavar="WHO", help="Recorded in the version [user@host].")
def publish_cmd(
    config: tuple[str, ...],
    schema_path: str | None,
    pointer: str | None,
    etcd_url: str,
    name: str,
    prefix: str,
    fail_on: Any,
    fmt: str,
    canary: str | None,
    budget: float,
    min_samples: int,
    min_duration: float,
    follow: bool,
    timeout: float,
    poll: float,
    publisher: str | None,
) -> int:
    """Validate CONFIG, show its impact against etcd's current version, and publish it.

    Exits 0 when published (and, with --watch, served everywhere or promoted), or when it
    changes nothing; 1 when it is invalid, reaches --fail-on, is rejected by an instance,
    its canary is aborted or --watch times out; 2 when it cannot run (etcd unreachable, a
    publish that lost the race to another one).
    """
    from ..fleet.publisher import Fleet

    schema, model = _contract(schema_path, pointer)
    with Fleet(etcd_url, name, prefix=prefix) as fleet:
        result = fleet.publish(
            list(config) if len(config) > 1 else config[0],
            schema=schema,
            model=model,
            fail_on=fail_on,
            publisher=publisher,
            canary=canary,
            budget=budget,
            min_samples=min_samples,
            min_duration=min_duration,
        )
        _report(result, fmt)
        if result.status == "held":
            why = "it is invalid" if result.report.problems else f"it reaches --fail-on {fail_on}"
            _say(f"not published: {why}", err=True)
            return EXIT_INVALID
        if result.status == "noop":
            _say(f"noop: {name} v{result.version} already has this content")
            return EXIT_OK
        assert result.version is not None
        was = f"v{result.previous}" if result.previous is not None else "nothing"
        if result.status == "published":
            _say(f"published {name} v{result.version} (was {was})")
            return _follow_publish(fleet, result.version, poll, timeout) if follow else EXIT_OK
        everyone = len(fleet.instances())
        _say(
            f"canary v{result.version} on {len(result.instances)} of {everyone} instances "
            f"({', '.join(result.instances)}), rollout {result.rollout}; stable {was}"
        )
        if not follow:
            _say("the canary runs until promoted or aborted (hotconf.fleet.Fleet)")
            return EXIT_OK
        return _follow_canary(fleet, poll, timeout)


def _follow_publish(fleet: Fleet, version: int, poll: float, timeout: float) -> int:
    shown: list[Any] = [None]

    def progress(found: list[InstanceStatus]) -> None:
        count = sum(i.serving == version for i in found)
        if count != shown[0]:
            shown[0] = count
            _say(f"{count} of {len(found)} instances serve v{version}")

    ok, found = fleet.wait_served(version, poll=poll, timeout=timeout, on_progress=progress)
    for inst in found:
        if inst.rejected == version:
            _say(f"{inst.id} rejected v{version}: {'; '.join(inst.problems)}", err=True)
    if not ok and not any(i.rejected == version for i in found):
        _say(f"not every instance serves v{version} after {timeout:g}s", err=True)
    return EXIT_OK if ok else EXIT_INVALID


def _follow_canary(fleet: Fleet, poll: float, timeout: float) -> int:
    shown: list[Any] = [None]

    def progress(status: Mapping[str, Any]) -> None:
        line = f"canary: {status['why']}"
        if line != shown[0]:
            shown[0] = line
            _say(line)

    final = fleet.watch_rollout(poll=poll, timeout=timeout, on_progress=progress)
    _say(f"{final['state']} v{final['version']}: {final.get('reason', '')}")
    return EXIT_OK if final["state"] == "promoted" else EXIT_INVALID
