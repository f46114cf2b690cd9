"""`watch()`: the front door. Builds the source, schema, model, store and webhooks, starts a
`LiveConfig`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, overload

from ..events import ReloadResult
from ..pipeline.evaluate import Validator
from ..pipeline.levels import Level, LevelName
from ..pipeline.load import DEFAULT_LIMITS, Limits
from ..pipeline.model import Model
from ..pipeline.schema import Schema
from ..pipeline.snapshot import Snapshot
from ..sources import WRITE_TIMEOUT, Source
from ..sources.files import coerce_source
from ..sources.layers import LayeredSource
from ..store.history import Retention, Store
from ..webhooks.manager import Subscriber, Webhooks
from .config import LiveConfig, _utcnow

AUTO: Any = "auto"
M = TypeVar("M")
SourceLike = Source | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
SchemaLike = Schema | str | os.PathLike[str] | Mapping[str, Any]
WebhooksLike = Webhooks | str | os.PathLike[str] | Iterable[Subscriber]


@overload
def watch(
    source: SourceLike,
    schema: SchemaLike | None = None,
    *,
    model: None = None,
    validators: Iterable[Validator] = (),
    apply_defaults: bool = True,
    state_dir: str | os.PathLike[str] | None = AUTO,
    name: str | None = None,
    poll_interval: float | None = 30.0,
    on_result: Callable[[ReloadResult], None] | None = None,
    gate: Level | LevelName = Level.RESTART,
    clock: Callable[[], datetime] = _utcnow,
    webhooks: WebhooksLike | None = None,
    keep_versions: int | None = None,
    keep_days: float | None = None,
    env_prefix: str | None = None,
    secrets_dir: str | os.PathLike[str] | None = None,
    defaults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    write_timeout: float = WRITE_TIMEOUT,
    limits: Limits = DEFAULT_LIMITS,
) -> LiveConfig[Snapshot]: ...


@overload
def watch(
    source: SourceLike,
    schema: SchemaLike | None = None,
    *,
    model: type[M],
    validators: Iterable[Validator] = (),
    apply_defaults: bool = True,
    state_dir: str | os.PathLike[str] | None = AUTO,
    name: str | None = None,
    poll_interval: float | None = 30.0,
    on_result: Callable[[ReloadResult], None] | None = None,
    gate: Level | LevelName = Level.RESTART,
    clock: Callable[[], datetime] = _utcnow,
    webhooks: WebhooksLike | None = None,
    keep_versions: int | None = None,
    keep_days: float | None = None,
    env_prefix: str | None = None,
    secrets_dir: str | os.PathLike[str] | None = None,
    defaults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    write_timeout: float = WRITE_TIMEOUT,
    limits: Limits = DEFAULT_LIMITS,
) -> LiveConfig[M]: ...


def watch(
    source: SourceLike,
    schema: SchemaLike | None = None,
    *,
    model: type[Any] | None = None,
    validators: Iterable[Validator] = (),
    apply_defaults: bool = True,
    state_dir: str | os.PathLike[str] | None = AUTO,
    name: str | None = None,
    poll_interval: float | None = 30.0,
    on_result: Callable[[ReloadResult], None] | None = None,
    gate: Level | LevelName = Level.RESTART,
    clock: Callable[[], datetime] = _utcnow,
    webhooks: WebhooksLike | None = None,
    keep_versions: int | None = None,
    keep_days: float | None = None,
    env_prefix: str | None = None,
    secrets_dir: str | os.PathLike[str] | None = None,
    defaults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    write_timeout: float = WRITE_TIMEOUT,
    limits: Limits = DEFAULT_LIMITS,
) -> LiveConfig[Any]:
    """Load a config, validate it, and keep it current as its source changes.

    Args:
        source: a file, a list of files (deep-merged in order), a directory (its
            ``*.yaml``/``*.yml``/``*.json``/``*.toml`` merged in name order; Kubernetes
            ConfigMap volumes work), or a `Source` such as `hotconf.testing.MemorySource`.
        schema: a JSON Schema (file or dict), or a `Schema` (e.g. an OpenAPI component:
            ``Schema.from_file("openapi.yaml", pointer="#/components/schemas/AppConfig")``).
        model: a pydantic ``BaseModel`` (``frozen=True``), a frozen dataclass or a
            ``TypedDict``: candidates must pass it (pydantic decides: lax unless the model
            says ``strict``), its JSON Schema gives the defaults, the secrets and the
            ``x-hotconf-*`` levels, and ``live.current`` is its instance, built once per
            version (a `LiveConfig[AppConfig]`). With ``schema`` too, both must pass.
            See docs/typed.md.
        validators: custom checks run after the schema and the model, before the swap.
        apply_defaults: fill the ``default``s of the schema (and the model) into the
            config: what is served, hashed, stored and compared is the effective config.
        state_dir: where history and the last-known-good are kept; default ``.hotconf/``
            next to the config; ``None`` keeps them in memory only.
        name: the config's name in events and logs (default: the source's name).
        poll_interval: seconds between checksum polls that catch missed events (``None``
            turns polling off).
        on_result: called with every `ReloadResult` (applied, noop and rejected runs).
        gate: the highest impact level applied automatically (default ``restart``: all
            but ``breaking``); a valid candidate above it is held back as a rejection with
            code ``gate`` until ``reload(force=True)``.
        clock: gives the time stamps (tests pass a fake).
        webhooks: webhook subscribers: a ``subscribers.yaml`` (hot-reloaded), a list of
            `Subscriber` values, or a `Webhooks` with delivery settings; ``live.webhooks``
            lists and redelivers deliveries. See docs/webhooks.md.
        keep_versions: after each commit, prune the history to the newest this many
            versions (and as many rejections, and final webhook deliveries per
            subscriber); ``None`` keeps them all. See docs/retention.md.
        keep_days: prune what is older than this many days (with ``keep_versions`` too,
            only what both let go). The last-known-good, the versions a rollback pin refers
            to and undelivered webhooks are never pruned.
        env_prefix: override keys with environment variables under this prefix:
            ``APP_DB__POOL_SIZE=30`` sets ``db.pool_size`` to 30 (a YAML 1.2 scalar;
            ``__`` nests). Read at start and with every candidate. See docs/layers.md.
        secrets_dir: a directory of secret files, one per key (``db__password``), as
            Kubernetes Secret volumes and Docker secrets lay them out; watched, and its
            values redacted wherever hotconf shows values.
        defaults: the lowest layer: a mapping, or a config file (watched).
        write_timeout: a config file still open for writing is not read until its writer
            closes it, as long as the writer pauses no longer than this (seconds).
        limits: the loader's guards: size, depth and node count (`Limits`; the defaults
            keep a reload near a second: docs/loading.md).

        Precedence, lowest first: ``defaults`` < ``source`` < ``secrets_dir`` <
        ``env_prefix`` (the environment wins, as in pydantic-settings); ``live.explain(key)``
        tells which one set a value.

    Returns:
        A started `LiveConfig`.

    Raises:
        NoValidConfigError: the source is rejected and there is no last-known-good.
        SchemaError: the schema or the model cannot be used (a model that is not frozen,
            or has no JSON Schema).
        TypeError: ``model`` is not a model, a dataclass or a TypedDict.
        StoreError: the state directory cannot be used, or another process writes to it
            (its lock names that process).
        ValueError: ``keep_versions`` below 1 or ``keep_days`` below 0.

    Example:
        >>> live = hotconf.watch("config.yaml", model=AppConfig)  # doctest: +SKIP
        >>> live.current.db.pool_size  # doctest: +SKIP
    """
    retention = Retention(keep_versions, keep_days)
    contract = Model.of(model) if model is not None else None
    src = coerce_source(source, write_timeout=write_timeout, max_bytes=limits.max_bytes)
    if env_prefix is not None or secrets_dir is not None or defaults is not None:
        src = LayeredSource(src, defaults=defaults, secrets_dir=secrets_dir, env_prefix=env_prefix)
    sch = Schema.coerce(schema) if schema is not None else None
    directory = src.state_dir if state_dir is AUTO else state_dir
    hooks = Webhooks.coerce(webhooks)
    store = Store.open(directory, retention=retention, exclusive=True)  # one writer per dir
    live: LiveConfig[Any] = LiveConfig(
        src,
        schema=sch,
        model=contract,
        validators=validators,
        apply_defaults=apply_defaults,
        store=store,
        name=name,
        poll_interval=poll_interval,
        on_result=on_result,
        gate=gate,
        clock=clock,
        webhooks=hooks,
        limits=limits,
    )
    bind = getattr(src, "bind", None)
    if bind is not None:
        bind(live)  # a fleet source reports what this instance serves (hotconf.sources.etcd)
    return live
