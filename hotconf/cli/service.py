"""The ``hotconf serve``, ``history`` and ``rollback`` commands (registered by `hotconf.cli`).

Fleet mode: ``serve --etcd URL --name NAME`` follows a config published to etcd (an
`EtcdSource` opened by ``hotconf.watch``), and ``history``/``rollback`` with ``--etcd`` read
and move the fleet's history in etcd (`hotconf.fleet`).

``history`` and ``rollback`` work against a running server (``--url``, through
`hotconf.cli.remote`) or a state directory. A running server is the one to ask whenever there
is one: it validates with the custom checks of its program too, and serves the rollback at
once. Offline, ``rollback`` opens the store directly and needs the schema the service runs
with: it checks the target against it, as the service would at its next start (where an LKG
that fails the schema is not served). It then records the rollback exactly as the service does
(a new version; the content served when it was made stays pinned out), and the service serves
it when it starts. Do not roll back offline under a running service: it would not notice until
it restarts.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import HotconfError
from ..fleet.keys import PREFIX
from ..pipeline.snapshot import canonical_json
from ..sources import Poke, RawDocument
from .common import (
    EXIT_OK,
    _color,
    _contract,
    gate_option,
    layer_options,
    layers,
    no_state_option,
    pointer_option,
    retention_options,
    schema_option,
    webhooks_option,
)

# Each command imports what it runs when it runs (see `hotconf.cli`).
if TYPE_CHECKING:
    from ..live.config import LiveConfig
    from ..pipeline.model import Model
    from ..pipeline.schema import Schema
    from ..pipeline.snapshot import VersionInfo

TOKEN_ENV = "HOTCONF_TOKEN"  # noqa: S105 (the variable's name, not a token)
READ_TOKEN_ENV = "HOTCONF_READ_TOKEN"  # noqa: S105


def _token(path: str | None, env: str) -> str | None:
    if path is not None:
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise click.UsageError(f"cannot read token file {path}: {exc.strerror}") from None
        if not text:
            raise click.UsageError(f"token file {path} is empty")
        return text
    return os.environ.get(env, "").strip() or None


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


etcd_option = click.option(
    "--etcd", "etcd_url", metavar="URL", help="Fleet mode: etcd client URL(s), comma-separated."
)
name_option = click.option(
    "--name", metavar="NAME", help="With --etcd: the config's name (its keys: /hotconf/NAME/)."
)
prefix_option = click.option(
    "--prefix", default=PREFIX, show_default=True, help="With --etcd: the key prefix."
)


def _fleet_name(etcd_url: str | None, name: str | None, prefix: str) -> str | None:
    """The config's name with ``--etcd`` (required then); ``None`` without (where --name
    and a --prefix of its own are usage errors)."""
    if etcd_url is None:
        if name is not None:
            raise click.UsageError("--name goes with --etcd")
        if prefix != PREFIX:
            raise click.UsageError("--prefix goes with --etcd")
        return None
    if not name:
        raise click.UsageError("--etcd needs --name: the name the config was published under")
    return name


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--label takes KEY=VALUE, not {pair!r}")
        labels[key.strip()] = value.strip()
    return labels


def watch_etcd(
    options: Mapping[str, Any],
    schema: Schema | None,
    *,
    state_dir: str | None,
    no_state: bool = False,
    **kwargs: Any,
) -> LiveConfig[Any]:
    """``hotconf.watch(EtcdSource(**options), schema, state_dir=...)`` (``serve --etcd``).

    Args:
        options: `EtcdSource` arguments (``url``, ``name``, ``prefix``, ``instance``,
            ``labels``).
        state_dir: the local store (the LKG cache); ``None``: the source's default,
            ``.hotconf/NAME`` in the working directory.
        no_state: keep history in memory only (no LKG across restarts).
        kwargs: more `hotconf.watch` arguments (``on_result``, ``webhooks``...).
    """
    from ..live.watch import watch
    from ..sources.etcd import EtcdSource

    source = EtcdSource(**options, state_dir=state_dir)
    try:
        return watch(source, schema, state_dir=None if no_state else source.state_dir, **kwargs)
    except BaseException:
        source.stop()  # never started: this closes its connections
        raise


@click.command("serve")
@click.argument("config", nargs=-1)
@schema_option
@pointer_option
@etcd_option
@name_option
@prefix_option
@click.option(
    "--instance",
    metavar="ID",
    help="With --etcd: this instance's id in health reports and canaries [hostname-pid].",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="With --etcd: a label canaries can select this instance by (repeat it).",
)
@click.option("--state-dir", metavar="DIR", help="History and last-known-good [.hotconf/].")
@no_state_option
@retention_options
@webhooks_option
@gate_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8750, show_default=True, help="Port (0: any free).")
@click.option("--token-file", metavar="FILE", help=f"Admin bearer token [default: ${TOKEN_ENV}].")
@click.option(
    "--read-token-file",
    metavar="FILE",
    help=f"Read-only bearer token: secret values, validate [default: ${READ_TOKEN_ENV}].",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds a shutdown may wait for requests and the reload in flight.",
)
@layer_options
@click.option("--poll", type=float, default=30.0, show_default=True, help="Checksum poll, seconds.")
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds a connection has to send a request's headers (408 after).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=4096,
    show_default=True,
    help="Open connections beyond this are answered 503 (mind ulimit -n).",
)
def serve_cmd(
    config: tuple[str, ...],
    schema_path: str | None,
    pointer: str | None,
    etcd_url: str | None,
    name: str | None,
    prefix: str,
    instance: str | None,
    labels: tuple[str, ...],
    state_dir: str | None,
    no_state: bool,
    keep_versions: int | None,
    keep_days: float | None,
    webhooks: str | None,
    gate: str,
    host: str,
    port: int,
    token_file: str | None,
    read_token_file: str | None,
    shutdown_timeout: float,
    defaults: str | None,
    secrets_dir: str | None,
    env_prefix: str | None,
    poll: float,
    header_timeout: float,
    max_connections: int,
) -> int:
    """Serve CONFIG over HTTP: the config, its history, reload, rollback, probes, metrics.

    With --etcd URL --name NAME instead of CONFIG, follow the config published to etcd
    (fleet mode; the state dir is the LKG cache, default .hotconf/NAME here). Prints
    "listening on http://HOST:PORT" once bound; runs until SIGTERM or Ctrl-C (exit 0).
    Without a token, reload and rollback are open to local callers and it listens on
    loopback only. A valid candidate above --gate is held back until POST /v1/reload
    {"force": true}. Exits 1 when there is no valid config to serve, 2 when it cannot run.
    """
    from ..live.watch import watch

    try:
        from ..service.app import Service, serve
    except ImportError as exc:  # the service extra is not installed
        raise click.UsageError(
            f"hotconf serve needs {exc.name}: pip install 'hotconf[serve]'"
        ) from None
    if no_state and state_dir:
        raise click.UsageError("--state-dir and --no-state exclude each other")
    fleet_name = _fleet_name(etcd_url, name, prefix)
    if fleet_name is None:
        if not config:
            raise click.UsageError("give CONFIG, or --etcd URL --name NAME")
        if instance is not None or labels:
            raise click.UsageError("--instance and --label go with --etcd")
    elif config:
        raise click.UsageError("--etcd replaces CONFIG: give one or the other")
    layered = layers(defaults, secrets_dir, env_prefix)
    if fleet_name is not None and layered:
        raise click.UsageError("--defaults, --secrets-dir and --env-prefix go with CONFIG")
    schema, model = _contract(schema_path, pointer)
    kwargs: dict[str, Any] = {
        "poll_interval": poll or None,
        "gate": gate,
        "keep_versions": keep_versions,
        "keep_days": keep_days,
    }
    if webhooks is not None:
        kwargs["webhooks"] = webhooks
    if model is not None:
        kwargs["model"] = model.type
    opener: functools.partial[LiveConfig[Any]]
    if fleet_name is not None:
        assert etcd_url is not None
        options = {
            "url": etcd_url,
            "name": fleet_name,
            "prefix": prefix,
            "instance": instance,
            "labels": _labels(labels),
        }
        opener = functools.partial(
            watch_etcd, options, schema, state_dir=state_dir, no_state=no_state, **kwargs
        )
    else:
        if no_state:
            kwargs["state_dir"] = None
        elif state_dir:
            kwargs["state_dir"] = state_dir
        source = list(config) if len(config) > 1 else config[0]
        opener = functools.partial(watch, source, schema, **kwargs, **layered)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
        )
    _http_requests_at_debug()
    service = Service(
        opener,
        token=_token(token_file, TOKEN_ENV),
        read_token=_token(read_token_file, READ_TOKEN_ENV),
        shutdown_timeout=shutdown_timeout,
    )
    serve(
        service,
        host=host,
        port=port,
        announce=_echo,
        header_timeout=header_timeout,
        max_connections=max_connections,
    )
    _echo("stopped")
    return EXIT_OK


class _AtDebug(logging.Filter):
    """Logs httpx's one line per request (etcd calls in fleet mode, webhook deliveries) at
    DEBUG instead of INFO: they are a trace, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _http_requests_at_debug() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _AtDebug) for f in logger.filters):
        logger.addFilter(_AtDebug())


# -- the state directory --------------------------------------------------------------------


def _state_dir(config: tuple[str, ...], state_dir: str | None) -> Path:
    from ..sources.files import coerce_source
    from ..store.db import DB_NAME

    if state_dir is not None:
        directory = Path(state_dir)
    else:
        found = coerce_source(list(config) if len(config) > 1 else config[0]).state_dir
        if found is None:
            raise click.UsageError("this source has no state directory: give --state-dir")
        directory = found
    if not (directory / DB_NAME).is_file():
        raise HotconfError(f"no hotconf state in {directory} (no {DB_NAME})")
    return directory


def _where(
    config: tuple[str, ...], url: str | None, state_dir: str | None, etcd_url: str | None = None
) -> None:
    if etcd_url is not None and (config or state_dir is not None or url is not None):
        raise click.UsageError("--etcd excludes CONFIG, --state-dir and --url")
    if url is not None and (config or state_dir is not None):
        raise click.UsageError("--url excludes CONFIG and --state-dir")
    if etcd_url is None and url is None and not config and state_dir is None:
        raise click.UsageError("give CONFIG, --state-dir, --url or --etcd")


def _history_line(info: dict[str, Any], current: int | None) -> str:
    mark = "*" if info["version"] == current else " "
    status = info["status"]
    if info.get("restores") is not None:
        status = f"rollback to v{info['restores']} (replaced v{info['rolled_back_from']})"
    return (
        f"{mark} v{info['version']:<4} {info['created_at']}  sha256 {info['checksum'][:12]}  "
        f"{status}  {info['source']}"
    )


def _fleet_line(info: dict[str, Any], current: int | None, canary: int | None) -> str:
    mark = "*" if info["version"] == current else "~" if info["version"] == canary else " "
    if "error" in info:
        return f"{mark} v{info['version']:<4} unreadable: {info['error']}"
    what = info["summary"] or info["level"]
    if info.get("restores") is not None:
        what = f"rollback to v{info['restores']} (replaced v{info['rolled_back_from']})"
    return (
        f"{mark} v{info['version']:<4} {info['published_at']}  sha256 {info['checksum'][:12]}  "
        f"{what}  {info['publisher']}  {info['source']}"
    )


def _fleet_history(etcd_url: str, name: str, prefix: str, limit: int, fmt: str) -> int:
    from ..fleet import publisher as fleet

    with fleet.Fleet(etcd_url, name, prefix=prefix) as f:
        versions = f.versions(limit)
        current_ptr, _ = f.pointer("current")
        canary_ptr, _ = f.pointer("canary")
    current = current_ptr["version"] if current_ptr is not None else None
    canary = canary_ptr["version"] if canary_ptr is not None else None
    if fmt == "json":
        body = {"current": current, "canary": canary, "versions": versions}
        click.echo(json.dumps(body, indent=2))
    elif not versions:
        click.echo(f"nothing published under {name} yet")
    for info in versions if fmt == "text" else ():
        click.echo(_fleet_line(info, current, canary))
    return EXIT_OK


@click.command("history")
@click.argument("config", nargs=-1)
@click.option("--url", metavar="URL", help="A running hotconf server, e.g. http://127.0.0.1:8750.")
@click.option("--state-dir", metavar="DIR", help="A state directory.")
@etcd_option
@name_option
@prefix_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def history_cmd(
    config: tuple[str, ...],
    url: str | None,
    state_dir: str | None,
    etcd_url: str | None,
    name: str | None,
    prefix: str,
    limit: int,
    fmt: str,
) -> int:
    """List versions, newest first (* marks the one served), from a server or a state dir.

    CONFIG reads the state directory next to the config (or --state-dir). With --etcd URL
    --name NAME, the versions published to etcd (~ marks a running canary's).
    """
    _where(config, url, state_dir, etcd_url)
    fleet_name = _fleet_name(etcd_url, name, prefix)
    if fleet_name is not None:
        assert etcd_url is not None
        return _fleet_history(etcd_url, fleet_name, prefix, limit, fmt)
    pruned: list[tuple[int, int]] = []
    if url is not None:
        from . import remote  # httpx: imported when a server is asked

        status, body = remote.request(url, f"/v1/versions?limit={limit}")
        if status != 200:
            return remote.report(status, body)
        versions, current = body["versions"], body["current"]
    else:
        from ..store.db import DB_NAME
        from ..store.history import Store

        store = Store(_state_dir(config, state_dir) / DB_NAME)
        try:
            versions = [v.to_dict() for v in store.history(limit)]
            pruned = store.pruned()
        finally:
            store.close()
        current = versions[0]["version"] if versions else None
    if fmt == "json":
        out: dict[str, Any] = {"current": current, "versions": versions}
        if url is None:
            out["pruned"] = [list(span) for span in pruned]
        click.echo(json.dumps(out, indent=2))
    elif not versions:
        click.echo("no versions yet")
    for info in versions if fmt == "text" else ():
        click.echo(_history_line(info, current))
    if pruned and fmt == "text":
        gone = ", ".join(f"v{a}" if a == b else f"v{a}-v{b}" for a, b in pruned)
        click.echo(f"pruned (no longer in the history): {gone}")
    return EXIT_OK


class _LastKnownGood:
    """A state directory's last-known-good posing as the source.

    Opening a LiveConfig on it is a no-op (the source equals the LKG), so ``rollback`` then
    runs exactly as in the service: validated, pinned, a new version in an append-only
    history. It stands in for the service's real source (``stand_in``): a pin an earlier
    rollback left is kept, so two offline rollbacks in a row still keep the file's content
    out; without one, the LKG's content is pinned (what the file held when it was served).
    """

    synchronous = True
    stand_in = True
    state_dir: Path | None = None

    def __init__(self, name: str, data: dict[str, Any]) -> None:
        self.name = name
        self._doc = RawDocument(name, canonical_json(data), "json")

    def read(self) -> tuple[RawDocument, ...]:
        return (self._doc,)

    def start(self, poke: Poke) -> None:
        """Nothing to watch."""

    def check(self) -> None:
        """Nothing to re-arm."""

    def stop(self) -> None:
        """Nothing to stop."""


def rollback_offline(
    directory: Path, schema: Schema | None, to: int | None, *, model: Model[Any] | None = None
) -> str:
    """Roll back the history in a state directory (the service is stopped).

    The target is checked against ``schema`` and ``model`` (those the service runs with).

    Returns:
        What happened, one line.

    Raises:
        HotconfError: no state, or the last-known-good fails ``schema`` (a wrong schema?).
        VersionNotFoundError: no such version.
        ValidationError: the target fails ``schema``.
    """
    from ..live.config import LiveConfig
    from ..pipeline.evaluate import check
    from ..store.db import DB_NAME
    from ..store.history import Store

    store = Store(directory / DB_NAME, exclusive=True)  # refused while a service runs
    try:
        latest = store.latest()
        if latest is None:
            raise HotconfError(f"no versions in {directory}: nothing to roll back")
        problems = check(latest.data, schema, model=model)
        if problems:
            raise HotconfError(
                f"the last-known-good v{latest.info.version} fails this schema; is it the "
                "schema the service runs with?",
                problems,
            )
    except BaseException:
        store.close()
        raise
    with LiveConfig(
        _LastKnownGood(str(directory), latest.data), schema=schema, model=model, store=store
    ) as live:
        result = live.rollback(to)
        if result.status == "noop":
            return f"noop: v{live.version} already serves that content"
        info: VersionInfo = live.snapshot().info
        return (
            f"v{info.version} serves the content of v{info.restores} "
            f"(rolled back from v{info.rolled_back_from}); the service serves it when it starts"
        )


@click.command("rollback")
@click.argument("config", nargs=-1)
@click.option("--to", type=click.IntRange(min=1), help="The version to restore [the previous].")
@click.option("--url", metavar="URL", help="A running hotconf server, e.g. http://127.0.0.1:8750.")
@click.option(
    "--token-file", metavar="FILE", help=f"The server's admin token [default: ${TOKEN_ENV}]."
)
@click.option("--state-dir", metavar="DIR", help="A stopped service's state directory.")
@etcd_option
@name_option
@prefix_option
@schema_option
@pointer_option
def rollback_cmd(
    config: tuple[str, ...],
    to: int | None,
    url: str | None,
    token_file: str | None,
    state_dir: str | None,
    etcd_url: str | None,
    name: str | None,
    prefix: str,
    schema_path: str | None,
    pointer: str | None,
) -> int:
    """Serve an earlier version again, as a new version: through a server, offline, or in etcd.

    With --url, the server validates and serves it at once. Offline (CONFIG or --state-dir,
    for a stopped service), --schema is required: the target must pass the schema the service
    runs with. With --etcd URL --name NAME (and --schema, the one instances validate with),
    the fleet's current pointer moves to the target's content as a new version, in one
    compare-and-swap (a running canary is aborted); instances follow. Exits 0 when done, 1
    when refused (the target fails the checks), 2 when it cannot run (no such version, etcd
    unreachable, a publish won the race).
    """
    _where(config, url, state_dir, etcd_url)
    fleet_name = _fleet_name(etcd_url, name, prefix)
    if fleet_name is not None:
        assert etcd_url is not None
        fleet_schema, fleet_model = _contract(schema_path, pointer)
        if fleet_schema is None and fleet_model is None:
            raise click.UsageError(
                "a fleet rollback needs --schema: the one the instances validate with"
            )
        return _fleet_rollback(etcd_url, fleet_name, prefix, to, fleet_schema, fleet_model)
    if url is not None:
        from . import remote  # httpx: imported when a server is asked

        body = {"to": to} if to is not None else {}
        status, answer = remote.request(
            url, "/v1/rollback", body=body, token=_token(token_file, TOKEN_ENV)
        )
        if status != 200:
            return remote.report(status, answer)
        if answer["status"] == "noop":
            click.echo(f"noop: v{answer['version']} already serves that content")
        else:
            click.echo(
                f"v{answer['version']} serves the content of v{answer['restores']} "
                f"(rolled back from v{answer['previous_version']})"
            )
        return EXIT_OK
    schema, model = _contract(schema_path, pointer)
    if schema is None and model is None:
        raise click.UsageError("an offline rollback needs --schema: the one the service runs with")
    click.echo(rollback_offline(_state_dir(config, state_dir), schema, to, model=model))
    return EXIT_OK


def _fleet_rollback(
    etcd_url: str,
    name: str,
    prefix: str,
    to: int | None,
    schema: Schema | None,
    model: Model[Any] | None,
) -> int:
    from ..fleet import publisher as fleet

    result = fleet.rollback(etcd_url, name, to, schema=schema, model=model, prefix=prefix)
    if result.status == "noop":
        click.echo(f"noop: {name} v{result.version} already has that content")
        return EXIT_OK
    click.echo(result.report.to_text(color=_color()))
    target = f"v{to}" if to is not None else "the previous version"
    click.echo(
        f"published {name} v{result.version}: the content of {target} "
        f"(rolled back from v{result.previous}); instances follow"
    )
    return EXIT_OK
