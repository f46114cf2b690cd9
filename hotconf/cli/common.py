"""What the ``hotconf`` commands share: exit codes, common options, schema loading.

Kept apart from the command group (`hotconf.cli.group`) so the command modules
(`hotconf.cli.config`, ``service``, ``fleet``, ``webhooks``) can import it without an import
cycle through the group.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..pipeline.levels import LEVELS

if TYPE_CHECKING:
    from ..pipeline.model import Model
    from ..pipeline.schema import Schema

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _contract(path: str | None, pointer: str | None) -> tuple[Schema | None, Model[Any] | None]:
    """What ``--schema`` names: a schema file (JSON Schema or OpenAPI), or a typed model as
    ``module:Model`` (imported with the current directory on the path). One of the two is
    ``None``; both are without ``--schema``.

    Raises:
        SchemaError: the file or the model cannot be used (a module that does not import).
    """
    if path is None:
        if pointer is not None:
            raise click.UsageError("--pointer needs --schema")
        return None, None
    # jsonschema and pydantic: imported only by the commands given a schema or a model
    from ..pipeline.model import import_model, is_model_path
    from ..pipeline.schema import Schema

    if is_model_path(path):
        if pointer is not None:
            raise click.UsageError("--pointer goes with a schema file, not with a model")
        return None, import_model(path)
    return Schema.from_file(path, pointer=pointer), None


def _schema(path: str, pointer: str | None) -> Schema:
    """A schema file, or the JSON Schema of a ``module:Model`` (``schema-diff``, ``export``)."""
    schema, model = _contract(path, pointer)
    if model is not None:
        return model.schema
    assert schema is not None
    return schema


schema_option = click.option(
    "--schema",
    "-s",
    "schema_path",
    metavar="SCHEMA",
    help="JSON Schema or OpenAPI document, or a typed model as module:Model (pydantic "
    "BaseModel, dataclass or TypedDict; the current directory is importable).",
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
F = TypeVar("F", bound=Callable[..., Any])


def retention_options(command: F) -> F:
    """``--keep-versions`` and ``--keep-days``: `hotconf.watch`'s retention, for commands that
    run one (they pass ``keep_versions`` and ``keep_days`` on)."""
    command = click.option(
        "--keep-days",
        type=click.FloatRange(min=0),
        metavar="D",
        help="After each commit, prune what is older than D days (see docs/retention.md).",
    )(command)
    return click.option(
        "--keep-versions",
        type=click.IntRange(min=1),
        metavar="N",
        help="After each commit, prune the history to the newest N versions.",
    )(command)


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


def layer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--defaults``, ``--secrets-dir`` and ``--env-prefix``: the layers of `hotconf.watch`."""
    for option in reversed(
        (
            click.option(
                "--defaults", metavar="FILE", help="Defaults under CONFIG (the lowest layer)."
            ),
            click.option(
                "--secrets-dir",
                metavar="DIR",
                help="Secret files over CONFIG, one per key (db__password).",
            ),
            click.option(
                "--env-prefix",
                metavar="PREFIX",
                help="Environment variables over everything: APP_DB__POOL_SIZE=30 (--env-prefix "
                "APP_) sets db.pool_size.",
            ),
        )
    ):
        command = option(command)
    return command


def layers(defaults: str | None, secrets_dir: str | None, env_prefix: str | None) -> dict[str, Any]:
    """The ``watch()`` keywords the layer options give (none when none is given)."""
    given = {"defaults": defaults, "secrets_dir": secrets_dir, "env_prefix": env_prefix}
    return {k: v for k, v in given.items() if v is not None}
