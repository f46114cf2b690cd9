"""``hotconf deliveries`` and ``hotconf redeliver``: the webhook outbox from the command line.

Both read the state database a running hotconf writes (``.hotconf/`` next to CONFIG, or
``--state-dir``); they never create one. A running process picks up a redelivery at its next
look at the outbox (``Webhooks(poll_interval=...)``, 10 s by default).

Exit codes: 0 done; 1 no such delivery, or it cannot be redelivered (pending or delivered, its
subscriber removed or disabled); 2 the command cannot run (usage, no state database).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from ..errors import HotconfError
from ..webhooks.deliveries import DELIVERY_STATUSES

if TYPE_CHECKING:
    from ..store.history import Store
    from ..webhooks.deliveries import Delivery, DeliveryStatus

EXIT_OK = 0


def _open(config: tuple[str, ...], state_dir: str | None) -> Store:
    from ..sources.files import coerce_source
    from ..store.db import DB_NAME
    from ..store.history import Store

    if state_dir and config:
        raise click.UsageError("give CONFIG or --state-dir, not both")
    if state_dir:
        directory: Path | None = Path(state_dir)
    elif config:
        directory = coerce_source(list(config) if len(config) > 1 else config[0]).state_dir
    else:
        raise click.UsageError("give CONFIG (its state is in .hotconf/ next to it) or --state-dir")
    if directory is None or not (directory / DB_NAME).is_file():
        raise HotconfError(f"no hotconf state database in {directory}; pass --state-dir")
    return Store.open(directory)


state_dir_option = click.option(
    "--state-dir",
    metavar="DIR",
    help="The state directory [default: .hotconf next to CONFIG].",
)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "-"


def _line(d: Delivery) -> str:
    version = f"v{d.version}" if d.version is not None else "-"
    if d.status == "delivered":
        detail = f"delivered {_when(d.delivered_at)}"
    elif d.status == "dead":
        detail = f"dead: {d.last_error}"
    elif d.status == "failed":
        detail = f"next {_when(d.next_attempt_at)}: {d.last_error}"
    else:
        detail = f"due {_when(d.next_attempt_at)}"
    return (
        f"{d.id:>6}  {d.status:<9}  {d.type:<18}  {version:<6}  {d.subscriber}  "
        f"attempts {d.attempts}  {detail}"
    )


@click.command("deliveries")
@click.argument("config", nargs=-1)
@state_dir_option
@click.option("--status", type=click.Choice(DELIVERY_STATUSES), help="Only these.")
@click.option("--subscriber", metavar="ID", help="Only to this subscriber.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def deliveries_cmd(
    config: tuple[str, ...],
    state_dir: str | None,
    status: str | None,
    subscriber: str | None,
    limit: int,
    fmt: str,
) -> int:
    """List webhook deliveries, newest first, from CONFIG's state (or --state-dir).

    Exits 0 (also when there are none), 2 when it cannot run.
    """
    store = _open(config, state_dir)
    try:
        wanted = cast("DeliveryStatus | None", status)  # click.Choice checked it
        found = store.outbox.deliveries(wanted, subscriber=subscriber, limit=limit)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps([d.to_dict() for d in found], indent=2))
    elif not found:
        click.echo("no deliveries" + (f" with status {status}" if status else ""))
    else:
        for d in found:
            click.echo(_line(d))
    return EXIT_OK


@click.command("redeliver")
@click.argument("delivery", type=int, metavar="ID")
@click.argument("config", nargs=-1)
@state_dir_option
def redeliver_cmd(delivery: int, config: tuple[str, ...], state_dir: str | None) -> int:
    """Queue dead or failed delivery ID again, with a fresh retry schedule.

    Exits 0 when queued, 1 when there is no such delivery or it cannot be redelivered,
    2 when it cannot run.
    """
    store = _open(config, state_dir)
    try:
        d = store.outbox.redeliver(delivery, time.time())
    finally:
        store.close()
    version = f" v{d.version}" if d.version is not None else ""
    click.echo(f"delivery {d.id} ({d.type}{version} to {d.subscriber}) is queued again")
    return EXIT_OK
