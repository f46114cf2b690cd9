"""`LiveConfig`: the current snapshot, start-up, reading, watching, closing; and `watch()`.

Readers take ``live.current``: one attribute read of an immutable `Snapshot`, no lock
(DESIGN inv. 1). Writers (the reload worker, `reload`, `rollback`) serialize on one lock and
run the pipeline: read → load → validate → diff → commit (store) → swap → notify, so nothing
becomes visible before it is validated, nor announced before it is durable (inv. 3).

The class is assembled from mixins kept in their own modules for size: `_reload`
(the pipeline, commit, rejection, rollback), `_subscribing` (subscribers, ``events()``) and
`_live_rollouts` (canary rollouts).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from ._live_rollouts import RollingOut
from ._reload import PIN, RANK, Reloading
from ._subscribing import Subscribing
from .diff import LEVELS, Level
from .errors import (
    ClosedError,
    NoValidConfigError,
    Problem,
)
from .events import Rejection, ReloadResult
from .impact import ImpactReport, assess
from .notify import Subscription
from .pipeline import Validator, parse_all
from .schema import Schema
from .snapshot import _ABSENT, Snapshot, VersionInfo, checksum, freeze, thaw
from .sources import RawDocument, Source
from .sources.files import coerce_source
from .store import Store
from .webhooks import Subscriber, Webhooks
from .worker import ReloadWorker

log = logging.getLogger("hotconf")

AUTO: Any = "auto"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LiveConfig(Reloading, Subscribing, RollingOut):
    """A config that stays current: validated, versioned, swapped atomically.

    Make one with `hotconf.watch`. Read ``live.current`` (a `Snapshot`) or
    ``live.get("db.pool_size", default)``; both are lock-free. Close it when done, or use it as
    a context manager.

    Attributes:
        current: the snapshot served now.
        last_rejection: the last `Rejection`, or ``None``.
        name: the config's name (events, history, logs).
        degraded: serving the last-known-good because the source is rejected.
    """

    __slots__ = (
        "__weakref__",
        "_clock",
        "_closed",
        "_gate",
        "_last_digest",
        "_lock",
        "_on_result",
        "_pinned",
        "_schema",
        "_source",
        "_source_checksum",
        "_store",
        "_subs",
        "_validators",
        "_worker",
        "current",
        "degraded",
        "last_rejection",
        "name",
        "webhooks",
    )

    current: Snapshot

    def __init__(
        self,
        source: Source,
        *,
        schema: Schema | None = None,
        validators: Iterable[Validator] = (),
        store: Store,
        name: str | None = None,
        poll_interval: float | None = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        on_result: Callable[[ReloadResult], None] | None = None,
        gate: Level = "restart",
        worker: ReloadWorker | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        if gate not in RANK:
            raise ValueError(f"gate must be one of {', '.join(LEVELS)}, not {gate!r}")
        self._gate = gate
        self._source = source
        self._schema = schema
        self._validators = tuple(validators)
        self._store = store
        self.name = name or source.name
        self._clock = clock
        self._on_result = on_result
        self._lock = threading.RLock()
        self._closed = False
        self._subs: list[Subscription] = []
        self._last_digest: str | None = None
        self._source_checksum: str | None = None
        self._pinned = store.get_meta(PIN)
        self.last_rejection: Rejection | None = None
        self.degraded = False
        self._worker: ReloadWorker | None = None
        self.webhooks = webhooks
        try:
            if webhooks is not None:
                webhooks._open(store)  # subscribers known before anything commits
            self._start_up()
            if webhooks is not None:
                webhooks._start()  # resumes deliveries a previous run left in the outbox
        except BaseException:
            if webhooks is not None:
                webhooks._abort(store)
            store.close()
            raise
        if not source.synchronous:
            self._worker = worker or ReloadWorker(
                lambda defer: self._run("watch", defer=defer),
                source.check,
                poll_interval=poll_interval,
            )
            self._worker.start()
        source.start(self._poke)

    # -- start-up (DESIGN inv. 7) -------------------------------------------------------

    def _start_up(self) -> None:
        stored = self._store.latest()
        lkg_problems: tuple[Problem, ...] = ()
        if stored is not None:
            lkg_problems = self._check(stored.data, freeze(stored.data))
            if lkg_problems:
                log.error(
                    "hotconf: last-known-good v%d of %s fails the current schema; not serving it",
                    stored.info.version,
                    self.name,
                )
            else:
                object.__setattr__(self, "current", Snapshot(stored.data, stored.info))
        result = self._run("start")
        if result.status != "rejected":
            return
        if result.snapshot is None:
            problems = result.problems + tuple(
                Problem(f"last-known-good v{stored.info.version}: {p.message}", p.path, p.code)
                for p in lkg_problems
                if stored is not None
            )
            where = self._store.path.parent if self._store.path else "memory"
            raise NoValidConfigError(
                f"{self.name}: no valid config to serve: the source is rejected and there is "
                f"no usable last-known-good (state: {where})",
                problems,
            )
        self.degraded = True
        log.warning(
            "hotconf: %s is rejected; serving last-known-good v%d (degraded)",
            self.name,
            result.snapshot.version,
        )

    # -- reading ------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The version served now (read ``live.current`` once if you need data and version
        from the same snapshot)."""
        return self.current.version

    def get(self, key: str | tuple[str | int, ...], default: Any = None) -> Any:
        """The value at a dotted key (``"db.pool_size"``, ``"hosts.0"``) or tuple path.

        Returns:
            The value in the current snapshot, or ``default`` when it is absent.
        """
        snap = self.current
        try:
            value = snap._memo[key]
        except KeyError:
            value = snap._resolve(key)
        return default if value is _ABSENT else value

    def history(self, limit: int | None = None) -> list[VersionInfo]:
        """Versions, newest first (metadata only: nothing secret)."""
        return self._store.history(limit)

    def snapshot(self, version: int) -> Snapshot:
        """An earlier (or the current) version as a `Snapshot`, read from the history.

        Raises:
            VersionNotFoundError: no such version.
        """
        current = self.current
        if version == current.version:
            return current
        stored = self._store.get(version)
        return Snapshot(stored.data, stored.info)

    def compare(self, old: int, new: int) -> ImpactReport:
        """The impact report between two versions of the history.

        Raises:
            VersionNotFoundError: either version does not exist.
        """
        a, b = self.snapshot(old), self.snapshot(new)
        report = assess(
            a, b, self._schema, old_checksum=a.checksum, new_checksum=b.checksum, old_version=old
        )
        return report.with_version(new)

    def validate(self, candidate: bytes | Mapping[str, Any], format: str = "yaml") -> ImpactReport:
        """Dry-run a candidate against the current config: nothing is applied or recorded.

        Args:
            candidate: the config as YAML/JSON bytes, or as data.
            format: ``"yaml"`` or ``"json"`` for bytes.

        Returns:
            The `ImpactReport` it would have: ``breaking`` with problems when invalid.

        Raises:
            LoadError: the bytes do not parse.
        """
        if isinstance(candidate, bytes):
            data = parse_all((RawDocument("candidate", candidate, format),))
        else:
            data = thaw(candidate)
        prev = self.current
        frozen = freeze(data)
        problems = self._check(data, frozen)
        return self._assess(prev, frozen, checksum(data), problems)

    def rejections(self, limit: int = 50) -> list[Rejection]:
        """Recorded rejections, newest first (problems redacted)."""
        return self._store.rejections(limit)

    # -- watching -----------------------------------------------------------------------

    def _poke(self, writing: bool = False) -> None:
        if self._worker is not None:
            self._worker.poke(writing)
        elif not self._closed:  # a synchronous source: run now, in the caller's thread
            self._run("manual")

    # -- what the HTTP service reads (hotconf.service) ------------------------------------

    @property
    def schema(self) -> Schema | None:
        """The schema candidates are validated against (``None``: none)."""
        return self._schema

    @property
    def source(self) -> Source:
        """The source this LiveConfig follows (an `EtcdSource` has a ``status()``)."""
        return self._source

    def health(self) -> dict[str, str | None]:
        """Liveness checks: ``{"watcher": problem, "store": problem}``, ``None`` when fine.

        ``watcher``: the reload worker thread is alive (a synchronous source has none, and
        needs none). ``store``: a write to the state database can begin (it is rolled back).
        """
        watcher: str | None = None
        if self._closed:
            watcher = "closed"
        elif self._worker is not None and not self._worker.alive:
            watcher = "the reload worker thread is not running"
        return {"watcher": watcher, "store": self._store.probe()}

    # -- closing ------------------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClosedError(f"{self.name}: this LiveConfig is closed")

    def close(self, *, drain: float = 5.0) -> None:
        """Stop watching, end subscriptions and close the store. Safe to call twice.

        Args:
            drain: seconds webhook deliveries in flight get to finish; what is left stays
                in the outbox and goes out after the next start.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._source.stop()
        if self._worker is not None:
            self._worker.stop()
        with self._lock:
            subs, self._subs = list(self._subs), []
        for sub in subs:
            sub.close()
        if self.webhooks is not None:
            self.webhooks.close(drain)
        with self._lock:  # not under a rollback or reload that got in before the close
            self._store.close()

    def __enter__(self) -> LiveConfig:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        current = getattr(self, "current", None)
        version = current.version if current is not None else None
        return f"<LiveConfig {self.name!r} version={version} degraded={self.degraded}>"


def watch(
    source: Source | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    schema: Schema | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    validators: Iterable[Validator] = (),
    state_dir: str | os.PathLike[str] | None = AUTO,
    name: str | None = None,
    poll_interval: float | None = 30.0,
    on_result: Callable[[ReloadResult], None] | None = None,
    gate: Level = "restart",
    clock: Callable[[], datetime] = _utcnow,
    webhooks: Webhooks | str | os.PathLike[str] | Iterable[Subscriber] | None = None,
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

    Returns:
        A started `LiveConfig`.

    Raises:
        NoValidConfigError: the source is rejected and there is no last-known-good.
        SchemaError: the schema cannot be used.
        StoreError: the state directory cannot be used.

    Example:
        >>> live = hotconf.watch("config.yaml", schema="config.schema.json")  # doctest: +SKIP
        >>> live.get("db.pool_size", default=10)  # doctest: +SKIP
    """
    src = coerce_source(source)
    sch = Schema.coerce(schema) if schema is not None else None
    directory = src.state_dir if state_dir is AUTO else state_dir
    hooks = Webhooks.coerce(webhooks)
    store = Store.open(directory)
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
    )
    bind = getattr(src, "bind", None)
    if bind is not None:
        bind(live)  # a fleet source reports what this instance serves (hotconf.sources.etcd)
    return live
