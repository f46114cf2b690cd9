"""``hotconf prune``: drop old versions, rejections and webhook deliveries from a state dir.

It opens the state database a running hotconf writes (``.hotconf/`` next to CONFIG, or
``--state-dir``), never creates one, and drops what the rules let go in one transaction, so it
is safe while a process uses the same state dir: that process sees the history before or
after the prune. What is never dropped: `hotconf.store.retention`. ``--vacuum`` then gives the
freed space back to the filesystem; without it the file keeps its size and SQLite reuses the
freed pages for the next versions.

Exit codes: 0 done (or nothing to drop); 2 the command cannot run (usage, no state database, the
database busy for longer than its 30 s timeout).
"""

from __future__ import annotations

import click

from .common import EXIT_OK
from .webhooks import _open, state_dir_option


@click.command("prune")
@click.argument("config", nargs=-1)
@state_dir_option
@click.option(
    "--keep-versions",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep the newest N versions (and N rejections, N final deliveries per subscriber).",
)
@click.option(
    "--keep-days",
    type=click.FloatRange(min=0),
    metavar="D",
    help="Keep what is younger than D days (with --keep-versions: drop only what both let go).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be dropped; drop nothing.")
@click.option(
    "--vacuum",
    is_flag=True,
    help="Then shrink the file (it is rewritten; a process using it waits meanwhile).",
)
def prune_cmd(
    config: tuple[str, ...],
    state_dir: str | None,
    keep_versions: int | None,
    keep_days: float | None,
    dry_run: bool,
    vacuum: bool,
) -> int:
    """Drop old versions, rejections and final webhook deliveries from CONFIG's state.

    The newest version (the last-known-good), the versions a rollback pin refers to and
    deliveries not yet final are always kept. Pruned versions stay numbered: `hotconf history`
    says which are gone. Safe while a process uses the same state: one transaction.
    """
    from ..store.retention import Retention

    if keep_versions is None and keep_days is None:
        raise click.UsageError("give --keep-versions N, --keep-days D, or both")
    if vacuum and dry_run:
        raise click.UsageError("--vacuum drops nothing in a dry run: give one of them")
    rules = Retention(keep_versions, keep_days)
    store = _open(config, state_dir)
    try:
        pruned = store.prune(rules, dry_run=dry_run)
        click.echo(pruned.summary())
        if vacuum:
            path = store.path
            before = path.stat().st_size if path is not None else 0
            store.vacuum()
            after = path.stat().st_size if path is not None else 0
            click.echo(f"vacuumed: {before // 1024} KiB -> {after // 1024} KiB")
    finally:
        store.close()
    return EXIT_OK
