"""The ``hotconf publish`` command (registered by `hotconf.cli`): fleet mode on etcd.

It validates the config locally, prints its impact report against the version current in
etcd, reads the release gates (``--gate``) from Prometheus, and publishes it (or starts a
canary) in one compare-and-swap transaction. ``--watch`` then follows the rollout: without a
canary, until every live instance serves the new version (or one rejects it); with one,
until the canary is promoted or aborted: by its ``--check``s, read from Prometheus every
``--check-interval`` (each round printed), or else by the error-budget rule on the outcomes
the instances report.
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
    EXIT_USAGE,
    _color,
    _contract,
    _stamp,
    fail_on_option,
    format_option,
    pointer_option,
    schema_option,
)

if TYPE_CHECKING:  # etcd speaks HTTP (httpx): `hotconf.fleet` is imported by `publish` only
    from ..fleet.checks import Round
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
@click.option(
    "--prometheus",
    metavar="URL",
    help="The Prometheus that --gate and --check ask (its HTTP API, e.g. http://prom:9090).",
)
@click.option(
    "--gate",
    "gates",
    multiple=True,
    metavar="'NAME=PROMQL <= T'",
    help="A release gate, read before anything is published: one that fails (or has no "
    "data) refuses the publish, exit 1 (repeat it).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Publish even when a --gate fails or cannot be read (recorded in the version).",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="'NAME=PROMQL <= T'",
    help="Judge the --canary by this check instead of by outcomes: a PromQL instant query "
    "giving one number, compared with <=, <, >= or > (repeat it).",
)
@click.option(
    "--check-interval",
    type=click.FloatRange(min=0.01),
    default=60.0,
    show_default=True,
    help="Seconds between rounds of checks.",
)
@click.option(
    "--check-count",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Consecutive rounds in which every check passes that promote the canary.",
)
@click.option(
    "--no-data-timeout",
    type=click.FloatRange(min=0),
    help="Seconds without a conclusive round (no data) before the canary is aborted "
    "[5 check intervals].",
)
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
    prometheus: str | None,
    gates: tuple[str, ...],
    force: bool,
    checks: tuple[str, ...],
    check_interval: float,
    check_count: int,
    no_data_timeout: float | None,
) -> int:
    """Validate CONFIG, show its impact against etcd's current version, and publish it.

    Exits 0 when published (and, with --watch, served everywhere or promoted), or when it
    changes nothing; 1 when it is invalid, reaches --fail-on, fails a --gate, is rejected by
    an instance, its canary is aborted or --watch times out; 2 when it cannot run (etcd or
    Prometheus unreachable, a --check or --gate that is not one, a publish that lost the race
    to another one).
    """
    from ..fleet.checks import parse_checks
    from ..fleet.publisher import Fleet

    parse_checks(gates)  # a bad expression is a usage error (exit 2), before anything else
    parse_checks(checks)
    if force and not gates:
        raise click.UsageError("--force passes over a failing --gate: give one")
    if (gates or checks) and prometheus is None:
        raise click.UsageError("--gate and --check need --prometheus URL")
    if checks and canary is None:
        raise click.UsageError("--check judges a canary: give --canary too")
    if checks and not follow:
        raise click.UsageError("--check is read by this command: give --watch too")
    if prometheus is not None and not (gates or checks):
        raise click.UsageError("--prometheus goes with --gate or --check")
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
            prometheus=prometheus,
            gate=gates,
            force=force,
            checks=checks,
            check_interval=check_interval,
            check_count=check_count,
            no_data_timeout=no_data_timeout,
        )
        _report(result, fmt)
        if result.gate is not None:
            _gate(result.gate)
        if result.status == "held":
            why = "it is invalid" if result.report.problems else f"it reaches --fail-on {fail_on}"
            _say(f"not published: {why}", err=True)
            return EXIT_INVALID
        if result.status == "gated":
            _say("not published: the release gate failed (--force publishes anyway)", err=True)
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
            _say("the canary runs until promoted or aborted (hotconf rollout promote|abort)")
            return EXIT_OK
        return _follow_canary(fleet, poll, timeout, prometheus)


def _gate(gate: Mapping[str, Any]) -> None:
    for check in gate["checks"]:
        value = "no data" if check["value"] is None else f"{check['value']:.6g}"
        line = f"gate {check['name']}: {value} {check['op']} {check['threshold']:g}: "
        _say(line + check["result"] + (f" ({check['why']})" if check.get("why") else ""))
    if gate["forced"]:
        _say("the release gate failed: published anyway (--force), recorded in the version")


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


def _follow_canary(fleet: Fleet, poll: float, timeout: float, prometheus: str | None) -> int:
    shown: list[Any] = [None]

    def progress(status: Mapping[str, Any]) -> None:
        line = f"canary: {status['why']}"
        if line != shown[0]:
            shown[0] = line
            _say(line)

    def round_done(found: Round, why: str) -> None:
        _say(f"{found}: {why}")

    final = fleet.watch_rollout(
        poll=poll,
        timeout=timeout,
        on_progress=progress,
        prometheus=prometheus,
        on_round=round_done,
    )
    _say(f"{final['state']} v{final['version']}: {final.get('reason', '')}")
    if final["state"] == "promoted":
        return EXIT_OK
    if final.get("prometheus_unreachable"):
        _say("aborted: Prometheus could not be reached to judge the canary", err=True)
        return EXIT_USAGE
    return EXIT_INVALID
