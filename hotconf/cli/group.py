"""The ``hotconf`` command.

Exit codes (every command):

====  ===============================================================================
0     success: the config is valid; ``watch`` was stopped with Ctrl-C or SIGTERM
1     the config is invalid (``validate``), or ``watch`` found no valid config to serve
2     the command cannot run: usage error, missing file, unusable schema or state dir
====  ===============================================================================
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from gettext import gettext as _

import click

from .. import __version__
from ..errors import HotconfError
from .common import EXIT_OK, EXIT_USAGE

# name -> (module, command, summary). A command's module is imported when the command runs
# (or shows its own help), never to list it: `hotconf --help` and `--version` import no
# command. The summary is the first paragraph of the command's help, which
# tests/test_startup.py checks against the command itself.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "deliveries": (
        "webhooks",
        "deliveries_cmd",
        "List webhook deliveries, newest first, from CONFIG's state (or --state-dir).",
    ),
    "diff": (
        "config",
        "diff_cmd",
        "The impact of changing config OLD into NEW: each change with its level and reason.",
    ),
    "explain": (
        "config",
        "explain_cmd",
        "Where the value of KEY in CONFIG comes from, with the same layers as watch and serve.",
    ),
    "history": (
        "service",
        "history_cmd",
        "List versions, newest first (* marks the one served), from a server or a state dir.",
    ),
    "prune": (
        "state",
        "prune_cmd",
        "Drop old versions, rejections and final webhook deliveries from CONFIG's state.",
    ),
    "publish": (
        "fleet",
        "publish_cmd",
        "Validate CONFIG, show its impact against etcd's current version, and publish it.",
    ),
    "redeliver": (
        "webhooks",
        "redeliver_cmd",
        "Queue dead or failed delivery ID again, with a fresh retry schedule.",
    ),
    "rollback": (
        "service",
        "rollback_cmd",
        "Serve an earlier version again, as a new version: through a server, offline, or in etcd.",
    ),
    "rollout": (
        "rollout",
        "rollout_group",
        "Show, promote or abort a canary rollout: a fleet's (--etcd) or a service's (--url).",
    ),
    "schema": ("config", "schema_group", "Work with schemas and typed models."),
    "schema-diff": (
        "config",
        "schema_diff_cmd",
        "Compare schema OLD with NEW by the configs they accept.",
    ),
    "serve": (
        "service",
        "serve_cmd",
        "Serve CONFIG over HTTP: the config, its history, reload, rollback, probes, metrics.",
    ),
    "validate": (
        "config",
        "validate",
        "Check CONFIG (files, merged in order, or a directory) against a schema or a model.",
    ),
    "watch": (
        "config",
        "watch_cmd",
        "Watch CONFIG and print one line per applied, noop or rejected candidate.",
    ),
}


class _Commands(click.Group):
    """The ``hotconf`` group, loading each command from `COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, name, _summary = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f".{module}", __package__), name)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            if self.commands.keys() >= COMMANDS.keys():
                raise
            for name in COMMANDS:  # an unknown command: load them all for click's "did you mean"
                self.get_command(ctx, name)
            return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click.Group.format_commands, with the summaries of the commands not loaded yet
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            command = self.commands.get(name) or click.Command(name, help=COMMANDS[name][2])
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__)
def cli() -> None:
    """Validate, watch and serve live configuration."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="hotconf",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except HotconfError as exc:
        click.secho(f"hotconf: {exc.message}", fg="red", err=True)
        for p in exc.problems:
            if str(p) not in exc.message:  # said once: a problem the message already quotes
                click.echo(f"  {p}", err=True)
        return exc.exit_code
    return rv if isinstance(rv, int) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
