"""The ``validate``, ``diff``, ``schema-diff`` and ``watch`` commands (run by `hotconf.cli`).

Each command imports the stages it runs when it runs, so that a ``hotconf diff`` without a
schema never imports jsonschema, and none of them imports watchdog before it watches.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from ..errors import HotconfError
from .common import (
    EXIT_INVALID,
    EXIT_OK,
    _color,
    _schema,
    _stamp,
    fail_on_option,
    format_option,
    no_state_option,
    pointer_option,
    schema_option,
    webhooks_option,
)

if TYPE_CHECKING:
    from ..events import ReloadResult
    from ..pipeline.evaluate import Evaluation
    from ..pipeline.schema import Schema


def _read(
    paths: Sequence[str],
    schema: Schema | None,
    previous: dict[str, Any] | None = None,
) -> tuple[str, Evaluation]:
    """Read a config given on the command line and `evaluate` it (against ``previous``).

    Returns its name and the evaluation: ``data`` is ``None`` when it does not parse, and
    the problems are located at file:line. Raises for what makes the command unable to run
    (a missing file).
    """
    from ..pipeline.evaluate import evaluate
    from ..sources.files import coerce_source

    source = coerce_source(list(paths) if len(paths) > 1 else paths[0])
    evaluation = evaluate(source.read(), schema=schema, previous=previous)
    error = evaluation.load_error
    if error is not None and error.exit_code != EXIT_INVALID:
        raise error
    return source.name, evaluation


@click.command()
@click.argument("config", nargs=-1, required=True)
@schema_option
@pointer_option
@format_option
def validate(
    config: tuple[str, ...], schema_path: str | None, pointer: str | None, fmt: str
) -> int:
    """Check CONFIG (files, merged in order, or a directory) against a schema.

    Without --schema it only parses CONFIG, and says so. Exits 0 when valid (or, without a
    schema, when it parses), 1 when invalid, 2 when it cannot run.
    """
    schema = _schema(schema_path, pointer)
    name, evaluation = _read(config, schema)
    problems, csum = evaluation.problems, evaluation.checksum
    # Without a schema nothing but the syntax was checked: never let "valid" say more.
    unchecked = "parses; not validated: no schema was given"
    if fmt == "json":
        body = {
            "valid": not problems,
            "source": name,
            "checksum": csum,
            "schema": schema.source if schema is not None else None,
            "checked": "schema" if schema is not None else "syntax",
            "problems": [p.to_dict() for p in problems],
        }
        if schema is None and not problems:
            body["note"] = unchecked
        click.echo(json.dumps(body, indent=2))
    elif fmt == "markdown":
        verdict = "valid" if not problems else f"invalid ({len(problems)} problems)"
        if schema is None and not problems:
            verdict = unchecked
        click.echo(f"**`{name}`: {verdict}**\n")
        for p in problems:
            click.echo(
                f"- `{p.path or '/'}`: {p.message}" + (f" ({p.source}:{p.line})" if p.line else "")
            )
    elif problems:
        click.secho(f"{name}: invalid ({len(problems)} problems)", fg="red", err=True)
        for p in problems:
            click.echo(str(p), err=True)
    else:
        assert csum is not None
        if schema is None:
            click.secho(
                f"{name}: parses (sha256 {csum[:12]}); not validated: no --schema given",
                fg="yellow",
            )
        else:
            click.secho(f"{name}: valid (sha256 {csum[:12]})", fg="green")
    return EXIT_INVALID if problems else EXIT_OK


@click.command("diff")
@click.argument("old")
@click.argument("new")
@schema_option
@pointer_option
@format_option
@fail_on_option
def diff_cmd(
    old: str, new: str, schema_path: str | None, pointer: str | None, fmt: str, fail_on: str
) -> int:
    """The impact of changing config OLD into NEW: each change with its level and reason.

    A file or a directory each. Exits 0 when nothing reaches --fail-on, 1 when something
    does or NEW is invalid, 2 when it cannot run.
    """
    schema = _schema(schema_path, pointer)
    _, before = _read([old], None)
    if before.data is None:
        for p in before.problems:
            click.echo(str(p), err=True)
        raise HotconfError(f"{old} does not parse", before.problems)
    _, after = _read([new], schema, previous=before.data)
    report = after.report
    assert report is not None
    if fmt == "json":
        click.echo(report.to_json())
    elif fmt == "markdown":
        click.echo(report.to_markdown(), nl=False)
    else:
        click.echo(report.to_text(color=_color()))
    return EXIT_INVALID if report.level >= fail_on else EXIT_OK


COMPAT_LEVELS = ("none", "safe", "risky", "breaking")


@click.command("schema-diff")
@click.argument("old")
@click.argument("new")
@pointer_option
@click.option(
    "--mode",
    type=click.Choice(["upgrade", "rollback", "full"]),
    default="upgrade",
    show_default=True,
    help="upgrade: does NEW accept every config OLD did? rollback: the reverse. full: both.",
)
@click.option(
    "--config",
    "config_path",
    metavar="CONFIG",
    help="Say for each breaking or risky change whether this config is affected.",
)
@format_option
@click.option(
    "--fail-on",
    type=click.Choice(COMPAT_LEVELS),
    default="breaking",
    show_default=True,
    help="Exit 1 when the report reaches this level.",
)
def schema_diff_cmd(
    old: str,
    new: str,
    pointer: str | None,
    mode: str,
    config_path: str | None,
    fmt: str,
    fail_on: str,
) -> int:
    """Compare schema OLD with NEW by the configs they accept.

    Each difference widens, narrows or changes that set; the mode decides what breaks.
    Exits 0 when nothing reaches --fail-on, 1 when something does, 2 when it cannot run.
    """
    from ..compat.report import schema_diff
    from ..pipeline.schema import Schema

    config = None
    if config_path is not None:
        _, evaluation = _read([config_path], None)
        config = evaluation.data
        if config is None:
            raise HotconfError(f"{config_path} does not parse", evaluation.problems)
    report = schema_diff(
        Schema.from_file(old, pointer=pointer),
        Schema.from_file(new, pointer=pointer),
        mode,  # type: ignore[arg-type]  # click.Choice checked it
        config=config,
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(report.to_markdown().rstrip("\n"))
    else:
        click.echo(report.to_text(color=_color()))
    reached = COMPAT_LEVELS.index(report.level) >= COMPAT_LEVELS.index(fail_on)
    return EXIT_INVALID if reached else EXIT_OK


def _result_line(result: ReloadResult) -> str:
    from ..pipeline.paths import to_dotted

    version = result.version
    if result.status == "applied":
        paths = ", ".join(to_dotted(c.path) or "(root)" for c in result.changes[:5])
        more = f", +{len(result.changes) - 5} more" if len(result.changes) > 5 else ""
        n = len(result.changes)
        detail = f" ({n} change{'s' * (n != 1)}: {paths}{more})" if n else ""
        return f"{_stamp()} applied v{version}{detail}"
    if result.status == "noop":
        return f"{_stamp()} noop v{version} (same content)"
    kept = f"v{version} kept" if version is not None else "nothing served"
    problems = "; ".join(str(p) for p in result.problems)
    return f"{_stamp()} rejected ({kept}): {problems}"


@click.command("watch")
@click.argument("config", nargs=-1, required=True)
@schema_option
@pointer_option
@click.option(
    "--state-dir",
    metavar="DIR",
    help="Where history and the last-known-good are kept [default: .hotconf next to CONFIG].",
)
@no_state_option
@webhooks_option
@click.option(
    "--poll", "poll", type=float, default=30.0, show_default=True, help="Checksum poll, seconds."
)
def watch_cmd(
    config: tuple[str, ...],
    schema_path: str | None,
    pointer: str | None,
    state_dir: str | None,
    no_state: bool,
    webhooks: str | None,
    poll: float,
) -> int:
    """Watch CONFIG and print one line per applied, noop or rejected candidate.

    With --webhooks FILE, each version and rejection is also delivered to the subscribers
    the file lists (signed, retried, from the outbox in the state dir). Runs until Ctrl-C or
    SIGTERM (exit 0). Exits 1 when there is no valid config to serve at start (the source
    is rejected and there is no last-known-good), 2 when it cannot run.
    """
    from ..live.watch import watch

    if no_state and state_dir:
        raise click.UsageError("--state-dir and --no-state exclude each other")
    schema = _schema(schema_path, pointer)
    kwargs: dict[str, Any] = {}
    if no_state:
        kwargs["state_dir"] = None
    elif state_dir:
        kwargs["state_dir"] = state_dir
    if webhooks is not None:
        kwargs["webhooks"] = webhooks

    def show(result: ReloadResult) -> None:
        click.echo(_result_line(result), nl=True)
        sys.stdout.flush()

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        source = list(config) if len(config) > 1 else config[0]
        with watch(source, schema, on_result=show, poll_interval=poll or None, **kwargs) as live:
            snap = live.current
            state = "degraded: serving last-known-good" if live.degraded else "ok"
            hooks = live.webhooks
            extra = f", {len(hooks.subscribers())} webhook subscribers" if hooks else ""
            click.echo(
                f"{_stamp()} watching {live.name}: serving v{snap.version} "
                f"(sha256 {snap.checksum[:12]}, {state}{extra})"
            )
            if live.degraded and live.last_rejection is not None:
                for p in live.last_rejection.problems:
                    click.echo(f"  {p}", err=True)
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    click.echo(f"{_stamp()} stopped")
    return EXIT_OK
