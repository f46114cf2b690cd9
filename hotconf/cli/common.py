"""What the ``hotconf`` commands share: exit codes, common options, schema loading.

Kept apart from `hotconf.cli` so the command modules (`_cli_service`, `_cli_fleet`,
`_cli_webhooks`) can import it without an import cycle through the ``cli`` group.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from ..pipeline.levels import LEVELS

if TYPE_CHECKING:
    from ..pipeline.schema import Schema

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _schema(path: str | None, pointer: str | None) -> Schema | None:
    if path is None:
        if pointer is not None:
            raise click.UsageError("--pointer needs --schema")
        return None
    from ..pipeline.schema import Schema  # jsonschema: imported only by the commands given a schema

    return Schema.from_file(path, pointer=pointer)


schema_option = click.option(
    "--schema", "-s", "schema_path", metavar="SCHEMA", help="JSON Schema or OpenAPI document."
)
pointer_option = click.option(
    "--pointer",
    metavar="POINTER",
    help="JSON Pointer to the schema inside an OpenAPI document, e.g. "
    "'#/components/schemas/AppConfig'.",
)


def _stamp() -> str:
    """Now, as the commands print it: ``2026-11-27T15:20:01Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


no_state_option = click.option("--no-state", is_flag=True, help="Keep history in memory only.")
webhooks_option = click.option(
    "--webhooks",
    "webhooks",
    metavar="FILE",
    help="Webhook subscribers (YAML/JSON, hot-reloaded); see docs/webhooks.md.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)


fail_on_option = click.option(
    "--fail-on",
    type=click.Choice([level.value for level in LEVELS]),
    default="breaking",
    show_default=True,
    help="Exit 1 when the report reaches this level.",
)


gate_option = click.option(
    "--gate",
    type=click.Choice([level.value for level in LEVELS]),
    default="restart",
    show_default=True,
    help="The highest impact level applied automatically; a valid candidate above it is "
    "held back (a rejection with code gate).",
)
