"""The ``validate``, ``diff``, ``schema-diff`` and ``watch`` commands (run by `hotconf.cli`).

Each command imports the stages it runs when it runs, so that a ``hotconf diff`` without a
schema never imports jsonschema, and none of them imports watchdog before it watches.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from ..errors import HotconfError
from .common import (
    EXIT_INVALID,
    EXIT_OK,
    _color,
    _contract,
    _schema,
    _stamp,
    fail_on_option,
    format_option,
    gate_option,
    layer_options,
    layers,
    no_state_option,
    pointer_option,
    retention_options,
    schema_option,
    webhooks_option,
)

if TYPE_CHECKING:
    from ..events import ReloadResult
    from ..pipeline.evaluate import Evaluation
    from ..pipeline.model import Model
    from ..pipeline.schema import Schema


def _read(
    paths: Sequence[str],
    schema: Schema | None,
    previous: dict[str, Any] | None = None,
    model: Model[Any] | None = None,
    layers: dict[str, Any] | None = None,
) -> tuple[str, Evaluation]:
    """Read a config given on the command line (with its ``layers``: `watch` keywords) and
    `evaluate` it (against ``previous``).

    Returns its name and the evaluation: ``data`` is ``None`` when it does not parse (the
    effective config, defaults filled in, when it does), and the problems are located at
    file:line. Raises for what makes the command unable to run (a missing file).
    """
    from ..pipeline.evaluate import evaluate
    from ..sources import Source
    from ..sources.files import coerce_source
    from ..sources.layers import LayeredSource

    given = list(paths) if len(paths) > 1 else paths[0]
    source: Source = LayeredSource(given, **layers) if layers else coerce_source(given)
    evaluation = evaluate(source.read(), schema=schema, model=model, previous=previous)
    error = evaluation.load_error
    if error is not None and error.exit_code != EXIT_INVALID:
        raise error
    return source.name, evaluation


@click.command()
@click.argument("config", nargs=-1, required=True)
@schema_option
@pointer_option
@layer_options
@format_option
def validate(
    config: tuple[str, ...],
    schema_path: str | None,
    pointer: str | None,
    defaults: str | None,
    secrets_dir: str | None,
    env_prefix: str | None,
    fmt: str,
) -> int:
    """Check CONFIG (files, merged in order, or a directory) against a schema or a model.

    With --defaults, --secrets-dir or --env-prefix, check what those layers make of it.
    Without --schema it only parses CONFIG, and says so. Exits 0 when valid (or, without a
    schema, when it parses), 1 when invalid, 2 when it cannot run.
    """
    schema, model = _contract(schema_path, pointer)
    name, evaluation = _read(
        config, schema, model=model, layers=layers(defaults, secrets_dir, env_prefix)
    )
    problems, csum = evaluation.problems, evaluation.checksum
    # Without a schema nothing but the syntax was checked: never let "valid" say more.
    checked = schema is not None or model is not None
    unchecked = "parses; not validated: no schema was given"
    if fmt == "json":
        body = {
            "valid": not problems,
            "source": name,
            "checksum": csum,
            "schema": schema.source if schema is not None else schema_path,
            "checked": "schema" if checked else "syntax",
            "problems": [p.to_dict() for p in problems],
        }
        if not checked and not problems:
            body["note"] = unchecked
        click.echo(json.dumps(body, indent=2))
    elif fmt == "markdown":
        verdict = "valid" if not problems else f"invalid ({len(problems)} problems)"
        if not checked and not problems:
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
        if not checked:
            click.secho(
                f"{name}: parses (sha256 {csum[:12]}); not validated: no --schema given",
                fg="yellow",
            )
        else:
            click.secho(f"{name}: valid (sha256 {csum[:12]})", fg="green")
    return EXIT_INVALID if problems else EXIT_OK


@click.command("explain")
@click.argument("config", nargs=-1, required=True)
@click.argument("key")
@schema_option
@pointer_option
@layer_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def explain_cmd(
    config: tuple[str, ...],
    key: str,
    schema_path: str | None,
    pointer: str | None,
    defaults: str | None,
    secrets_dir: str | None,
    env_prefix: str | None,
    fmt: str,
) -> int:
    """Where the value of KEY in CONFIG comes from, with the same layers as watch and serve.

    Names the layer that set KEY (a file and line, an environment variable, a secret file,
    a default) and what it overrode; secret values are redacted. Exits 0 when KEY is set, 1
    when it is not or the config is invalid, 2 when it cannot run.
    """
    from ..pipeline.evaluate import schemas_of
    from ..pipeline.impact import Classifier
    from ..pipeline.paths import split_dotted
    from ..pipeline.provenance import ABSENT
    from ..pipeline.snapshot import lookup

    schema, model = _contract(schema_path, pointer)
    _, evaluation = _read(
        config, schema, model=model, layers=layers(defaults, secrets_dir, env_prefix)
    )
    if evaluation.data is None or evaluation.origin is None:
        raise HotconfError("the config does not parse", evaluation.problems)
    path = split_dotted(key)
    try:
        value = lookup(evaluation.data, path)
    except KeyError:
        value = ABSENT
    sensitive = Classifier(schemas_of(schema, model), secrets=evaluation.secrets).sensitive
    explanation = evaluation.origin.explain(path, value=value, version=None, sensitive=sensitive)
    if fmt == "json":
        click.echo(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(str(explanation))
    for warning in evaluation.ignored:
        click.echo(f"warning: {warning}", err=True)
    if evaluation.problems:
        click.secho(f"the config is invalid ({len(evaluation.problems)} problems):", err=True)
        for p in evaluation.problems:
            click.echo(f"  {p}", err=True)
    return EXIT_OK if explanation.found and not evaluation.problems else EXIT_INVALID


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
    schema, model = _contract(schema_path, pointer)
    # OLD is only compared with: its effective config (defaults filled in), valid or not
    _, before = _read([old], schema, model=model)
    if before.data is None:
        for p in before.problems:
            click.echo(str(p), err=True)
        raise HotconfError(f"{old} does not parse", before.problems)
    _, after = _read([new], schema, previous=before.data, model=model)
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

    Each is a schema file or a typed model as module:Model (its JSON Schema). Each
    difference widens, narrows or changes that set; the mode decides what breaks. Exits 0
    when nothing reaches --fail-on, 1 when something does, 2 when it cannot run.
    """
    from ..compat.report import schema_diff

    config = None
    if config_path is not None:
        _, evaluation = _read([config_path], None)
        config = evaluation.data
        if config is None:
            raise HotconfError(f"{config_path} does not parse", evaluation.problems)
    report = schema_diff(
        _schema(old, pointer),
        _schema(new, pointer),
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
        report = result.report
        level = f", {report.level}" if report is not None else ""
        paths = ", ".join(to_dotted(c.path) or "(root)" for c in result.changes[:5])
        more = f", +{len(result.changes) - 5} more" if len(result.changes) > 5 else ""
        n = len(result.changes)
        detail = f" ({n} change{'s' * (n != 1)}: {paths}{more})" if n else ""
        return f"{_stamp()} applied v{version}{level}{detail}"
    if result.status == "noop":
        return f"{_stamp()} noop v{version} (same content)"
    kept = f"v{version} kept" if version is not None else "nothing served"
    problems = "; ".join(str(p) for p in result.problems)
    return f"{_stamp()} rejected ({kept}): {problems}"


def _result_record(result: ReloadResult) -> dict[str, Any]:
    """One JSON line of ``watch --format json``."""
    from ..pipeline.paths import to_dotted

    report = result.report
    record: dict[str, Any] = {
        "time": _stamp(),
        "event": result.status,
        "version": result.version,
        "level": report.level.value if report is not None else None,
    }
    if result.status != "noop":
        record["changes"] = [
            {"key": to_dotted(c.path), "path": c.pointer, "kind": c.kind, "level": c.level.value}
            for c in result.changes
        ]
    if result.status == "rejected":
        record["problems"] = [p.to_dict() for p in result.problems]
    return record


class _Printer:
    """Prints what ``watch`` sees, as text lines or JSON lines, one per candidate."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt == "json"

    def emit(self, text: str, record: dict[str, Any]) -> None:
        click.echo(json.dumps(record, ensure_ascii=False) if self.json else text)
        sys.stdout.flush()

    def result(self, result: ReloadResult) -> None:
        self.emit(_result_line(result), _result_record(result))


def _warnings_to_stderr() -> Callable[[], None]:
    """Send hotconf's warnings and errors to stderr, except rejections (``watch`` prints each
    one as its own line); returns what undoes it."""
    logger = logging.getLogger("hotconf")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: getattr(record, "hotconf_event", None) != "rejected")
    logger.addHandler(handler)
    return lambda: logger.removeHandler(handler)


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
@retention_options
@webhooks_option
@gate_option
@layer_options
@click.option(
    "--poll", "poll", type=float, default=30.0, show_default=True, help="Checksum poll, seconds."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a line per candidate; json: a JSON object per line (JSON Lines).",
)
def watch_cmd(
    config: tuple[str, ...],
    schema_path: str | None,
    pointer: str | None,
    state_dir: str | None,
    no_state: bool,
    keep_versions: int | None,
    keep_days: float | None,
    webhooks: str | None,
    gate: str,
    defaults: str | None,
    secrets_dir: str | None,
    env_prefix: str | None,
    poll: float,
    fmt: str,
) -> int:
    """Watch CONFIG and print one line per applied, noop or rejected candidate.

    An applied line names the version, the report's level and the changed keys; a rejected
    one the problems, at file:line. With --format json each line is a JSON object (JSON
    Lines): {"event": "watching" | "applied" | "noop" | "rejected" | "stopped", ...}.
    A valid candidate whose impact is above --gate is held back (a rejection, code gate)
    until CONFIG changes again. With --webhooks FILE, each version and rejection is also
    delivered to the subscribers the file lists (signed, retried, from the outbox in the
    state dir). Runs until Ctrl-C or SIGTERM (exit 0). Exits 1 when there is no valid config
    to serve at start (the source is rejected and there is no last-known-good), 2 when it
    cannot run.
    """
    from ..live.watch import watch

    if no_state and state_dir:
        raise click.UsageError("--state-dir and --no-state exclude each other")
    schema, model = _contract(schema_path, pointer)
    kwargs: dict[str, Any] = {"gate": gate, **layers(defaults, secrets_dir, env_prefix)}
    kwargs.update(keep_versions=keep_versions, keep_days=keep_days)
    if model is not None:
        kwargs["model"] = model.type
    if no_state:
        kwargs["state_dir"] = None
    elif state_dir:
        kwargs["state_dir"] = state_dir
    if webhooks is not None:
        kwargs["webhooks"] = webhooks
    out = _Printer(fmt)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    quiet = _warnings_to_stderr()
    try:
        source = list(config) if len(config) > 1 else config[0]
        with watch(
            source, schema, on_result=out.result, poll_interval=poll or None, **kwargs
        ) as live:
            snap = live.snapshot()
            state = "degraded: serving last-known-good" if live.degraded else "ok"
            hooks = live.webhooks
            count = len(hooks.subscribers()) if hooks else None
            extra = f", {count} webhook subscribers" if count is not None else ""
            problems = live.last_rejection.problems if live.degraded and live.last_rejection else ()
            out.emit(
                f"{_stamp()} watching {live.name}: serving v{snap.version} "
                f"(sha256 {snap.checksum[:12]}, {state}{extra})",
                {
                    "time": _stamp(),
                    "event": "watching",
                    "name": live.name,
                    "version": snap.version,
                    "checksum": snap.checksum,
                    "degraded": live.degraded,
                    "gate": gate,
                    "webhook_subscribers": count,
                    "problems": [p.to_dict() for p in problems],
                },
            )
            if not out.json:
                for p in problems:  # why the source is rejected, once
                    click.echo(f"  {p}", err=True)
            while not stop.wait(0.5):
                pass
    finally:
        quiet()
        for s, handler in previous.items():
            signal.signal(s, handler)
    out.emit(f"{_stamp()} stopped", {"time": _stamp(), "event": "stopped"})
    return EXIT_OK


@click.group("schema")
def schema_group() -> None:
    """Work with schemas and typed models."""


@schema_group.command("export")
@click.argument("schema")
@pointer_option
def schema_export(schema: str, pointer: str | None) -> int:
    """Print the JSON Schema of SCHEMA: a typed model as module:Model (pydantic BaseModel,
    dataclass or TypedDict; its JSON Schema in validation mode, as hotconf uses it), or a
    schema file (as JSON). With --pointer, the schema it points to, on its own: what its
    references reach elsewhere in the file is copied under $defs.

    For CI, and for services in other languages that read the same config. Exits 0, or 2
    when the model does not import or has no JSON Schema.
    """
    found = _schema(schema, pointer)
    click.echo(json.dumps(_standalone(found), indent=2, ensure_ascii=False))
    return EXIT_OK


def _standalone(schema: Schema) -> dict[str, Any]:
    """The document, or with a pointer the subschema it names as a document of its own: each
    local ``$ref`` to a place outside it points to a copy of that place under ``$defs``."""
    from urllib.parse import quote, unquote

    from ..pipeline.paths import from_pointer, to_pointer
    from ..pipeline.snapshot import thaw

    document: dict[str, Any] = thaw(schema.document)
    if schema.pointer is None:
        return document
    top = from_pointer(schema.pointer)
    root: dict[str, Any] = thaw(schema.root)
    defs: dict[str, Any] = dict(root.get("$defs") or {})
    moved: dict[tuple[str, ...], str] = {}  # a place in the document -> its $ref in the output

    def node_at(path: tuple[str, ...]) -> Any:
        node: Any = document
        for segment in path:
            node = node[int(segment)] if isinstance(node, list) else node[segment]
        return node

    def target(ref: str) -> str:
        path = from_pointer(unquote(ref))
        if path[: len(top)] == top:  # inside the subschema itself
            return "#" + quote(to_pointer(path[len(top) :]), safe="/~$")
        if path not in moved:
            name = path[-1] if path else "root"
            while name in defs:
                name += "_"
            moved[path] = "#" + quote(to_pointer(("$defs", name)), safe="/~$")
            defs[name] = None  # the name is taken before its content is rewritten (cycles)
            defs[name] = rewrite(node_at(path))
        return moved[path]

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: target(value)
                if key == "$ref" and isinstance(value, str) and value.startswith("#/")
                else rewrite(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        return node

    out: dict[str, Any] = rewrite(root)
    if defs:
        out["$defs"] = {**defs, **out.get("$defs", {})}
    return out
