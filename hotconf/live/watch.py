"""`watch()`: the front door. Builds the source, schema, store and webhooks, starts a
`LiveConfig`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..events import ReloadResult
from ..pipeline.evaluate import Validator
from ..pipeline.levels import Level, LevelName
from ..pipeline.load import DEFAULT_LIMITS, Limits
from ..pipeline.schema import Schema
from ..sources import WRITE_TIMEOUT, Source
from ..sources.files import coerce_source
from ..store.history import Store
from ..webhooks.manager import Subscriber, Webhooks
from .config import LiveConfig, _utcnow

AUTO: Any = "auto"


def watch(
    source: Source | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    schema: Schema | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    validators: Iterable[Validator] = (),
    state_dir: str | os.PathLike[str] | None = AUTO,
    name: str | None = None,
    poll_interval: float | None = 30.0,
    on_result: Callable[[ReloadResult], None] | None = None,
    gate: Level | LevelName = Level.RESTART,
    clock: Callable[[], datetime] = _utcnow,
    webhooks: Webhooks | str | os.PathLike[str] | Iterable[Subscriber] | None = None,
    write_timeout: float = WRITE_TIMEOUT,
    limits: Limits = DEFAULT_LIMITS,
) -> LiveConfig:
    """Load a config, validate it, and keep it current as its source changes.

    Args:
        source: a file, a list of files (deep-merged in order), a directory (its
            ``*.yaml``/``*.yml``/``*.json`` merged in name order; Kubernetes ConfigMap
            volumes work), or a `Source` such as `hotconf.testing.MemorySource`.
        schema: a JSON Schema (file or dict), or a `Schema` (e.g. an OpenAPI component:
            ``Schema.from_file("openapi.yaml", pointer="#/components/schemas/AppConfig")``).
        validators: custom checks run after the schema, before the swap.
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
        write_timeout: a config file still open for writing is not read until its writer
            closes it, as long as the writer pauses no longer than this (seconds).
        limits: the loader's guards: size, depth and node count (`Limits`; the defaults
            keep a reload near a second: docs/loading.md).

    Returns:
        A started `LiveConfig`.

    Raises:
        NoValidConfigError: the source is rejected and there is no last-known-good.
        SchemaError: the schema cannot be used.
        StoreError: the state directory cannot be used, or another process writes to it
            (its lock names that process).

    Example:
        >>> live = hotconf.watch("config.yaml", schema="config.schema.json")  # doctest: +SKIP
        >>> live.get("db.pool_size", default=10)  # doctest: +SKIP
    """
    src = coerce_source(source, write_timeout=write_timeout, max_bytes=limits.max_bytes)
    sch = Schema.coerce(schema) if schema is not None else None
    directory = src.state_dir if state_dir is AUTO else state_dir
    hooks = Webhooks.coerce(webhooks)
    store = Store.open(directory, exclusive=True)  # one writer per state directory
    live = LiveConfig(
        src,
        schema=sch,
        validators=validators,
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
