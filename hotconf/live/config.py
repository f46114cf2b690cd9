"""`LiveConfig`: the served snapshot and everything that changes it, in one class.

Readers take ``live.current``: one attribute read of an immutable `Snapshot`, or of the
instance of the typed model it was made with (``watch(source, model=AppConfig)``, built once
per version in `evaluate` and swapped in beside its snapshot), no lock (docs/architecture.md,
invariant 1). Writers (the reload worker, `reload`, `rollback`, a promoted rollout) serialize
on one lock and run one sequence: read the source → `evaluate` the candidate (parse,
defaults, checksum, schema, model and checks, impact report, gate) → commit it to the store
with its webhook outbox rows in one transaction → swap the reference → notify. Nothing
becomes visible before it is validated, nor announced before it is durable (invariant 3).

Its parts: the reload worker (`hotconf.live.worker`), subscriptions
(`hotconf.live.subscriptions`), canary rollouts (`hotconf.live.rollouts`, which use it
only through the narrow `Host` interface that `hotconf.live.host.RolloutHost` implements) and
per-request pins (`hotconf.live.pins`: ``live.pin()`` and ``live.pinned``, kept off
``current``'s read path) and what it carries across a restart (`hotconf.live.startup`: the
start-up sequence and the rollback pin).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal

from ..errors import (
    ClosedError,
    HotconfError,
    Problem,
    StoreError,
)
from ..events import ChangeEvent, Event, Rejection, ReloadResult, RolloutEvent
from ..pipeline import evaluate as pipeline
from ..pipeline.evaluate import Evaluation, Validator, evaluate
from ..pipeline.impact import Classifier, ImpactReport, assess
from ..pipeline.levels import Level, LevelName
from ..pipeline.load import DEFAULT_LIMITS, Limits
from ..pipeline.model import Model
from ..pipeline.paths import Path, split_dotted
from ..pipeline.pieces import ParseCache
from ..pipeline.provenance import Explanation, explain, secret_paths, secret_paths_json
from ..pipeline.schema import Schema
from ..pipeline.snapshot import ABSENT, Snapshot, VersionInfo
from ..sources import WRITE_TIMEOUT, RawDocument, Source
from ..store.history import PIN, Store
from ..webhooks.manager import Webhooks
from .canary import Signals
from .host import RolloutHost, commit_rows
from .pins import Pin, pin_variable
from .reload import reject, roll_back, run_candidate
from .rollouts import Rollout, Rollouts
from .startup import start_up
from .subscriptions import Subscribers, Subscription
from .worker import Deferred, ReloadWorker

if TYPE_CHECKING:
    # A default (PEP 696) makes a bare ``LiveConfig`` mean ``LiveConfig[Snapshot]``. The
    # runtime TypeVar needs none: typing_extensions stays out of ``import hotconf``.
    from typing_extensions import TypeVar

    ConfigT = TypeVar("ConfigT", default=Snapshot)
else:
    from typing import TypeVar

    ConfigT = TypeVar("ConfigT")

log = logging.getLogger("hotconf")

SECRETS = "secret_paths"  # store meta key: every path a secret file has set (JSON)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LiveConfig(Generic[ConfigT]):
    """A config that stays current: validated, versioned, swapped atomically.

    Make one with `hotconf.watch`. Read ``live.current`` (a `Snapshot`; with ``model=``, an
    instance of the model) or ``live.get("db.pool_size", default)``; both are lock-free.
    ``live.snapshot()`` is the `Snapshot` served now either way. Close it when done, or use
    it as a context manager.

    Attributes:
        current: the config served now: its `Snapshot`, or with a model, the model's
            instance for the same version (immutable, built once per version).
        last_rejection: the last `Rejection`, or ``None``.
        name: the config's name (events, history, logs).
        degraded: serving the last-known-good because the source is rejected.
        store_problem: why the last commit failed (full disk); ``store_failures`` counts them.
        webhooks: the webhook deliveries (``watch(webhooks=...)``), or ``None``.
    """

    __slots__ = (
        "__weakref__", "_candidate_digest", "_clock", "_closed", "_defaults", "_gate",
        "_last_digest", "_limits", "_lock", "_model", "_on_result", "_parse_cache", "_pinned",
        "_pins", "_rollouts", "_schema", "_secrets", "_served", "_snapshot", "_source",
        "_source_checksum", "_stand_in", "_store", "_subscribers", "_validators", "_worker",
        "current", "degraded", "last_rejection", "name", "store_failures", "store_problem",
        "webhooks",
    )  # fmt: skip

    _snapshot: Snapshot
    current: ConfigT

    def __init__(
        self,
        source: Source,
        *,
        schema: Schema | None = None,
        model: Model[ConfigT] | None = None,
        validators: Iterable[Validator] = (),
        apply_defaults: bool = True,
        store: Store,
        name: str | None = None,
        poll_interval: float | None = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        on_result: Callable[[ReloadResult], None] | None = None,
        gate: Level | LevelName = Level.RESTART,
        worker: ReloadWorker | None = None,
        webhooks: Webhooks | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        try:
            self._gate = Level.of(gate)
        except ValueError:
            names = ", ".join(level.value for level in Level)
            raise ValueError(f"gate must be one of {names}, not {gate!r}") from None
        self._source = source
        self._limits = limits
        self._schema = schema
        self._model = model
        self._defaults = apply_defaults
        self._validators = tuple(validators)
        self._store = store
        self.name = name or source.name
        self._clock = clock
        self._on_result = on_result
        self._lock = threading.RLock()
        self._pins = pin_variable(self.name)
        self._closed = False
        self._subscribers = Subscribers(threaded=not source.synchronous, name=self.name)
        self._rollouts = Rollouts(RolloutHost(self))
        self._served: tuple[tuple[Any, Snapshot], ...] = ()  # model: the last (instance, snap)s
        self._last_digest: str | None = None
        self._candidate_digest: str | None = None  # the bytes of the run in progress
        self._source_checksum: str | None = None
        self._parse_cache = ParseCache(limits)
        self._pinned = store.get_meta(PIN)
        # A source that stands in for one hotconf cannot read (the offline rollback's
        # last-known-good): what it holds says nothing of the real source, so it never
        # clears a rollback's pin.
        self._stand_in = bool(getattr(source, "stand_in", False))
        self._secrets = secret_paths(store.get_meta(SECRETS))
        self.last_rejection: Rejection | None = None
        self.degraded = False
        self.store_problem: str | None = None
        self.store_failures = 0
        self._worker: ReloadWorker | None = None
        self.webhooks = webhooks
        try:
            if webhooks is not None:
                webhooks._open(store)  # subscribers known before anything commits
            start_up(self)  # the last-known-good, then the source (invariant 7)
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
                write_timeout=getattr(source, "write_timeout", WRITE_TIMEOUT),
                activity=getattr(source, "activity", None),
            )
            self._worker.start()
        source.start(self._poke)

    def _swap(self, snap: Snapshot, instance: Any) -> None:
        # Two reference assignments: each is atomic; `current` goes last, so a reader of
        # `current` never sees a version whose snapshot is not yet served.
        object.__setattr__(self, "_snapshot", snap)
        if self._model is not None:
            self._served = (*self._served[-3:], (instance, snap))  # replaced whole: readers
        object.__setattr__(self, "current", snap if self._model is None else instance)

    # -- reading ------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The version served now (read ``live.snapshot()`` once if you need data and
        version from the same snapshot)."""
        return self._snapshot.version

    def get(self, key: str | tuple[str | int, ...], default: Any = None) -> Any:
        """The value at a dotted key (``"db.pool_size"``, ``"hosts.0"``) or tuple path.

        Returns:
            The value in the current snapshot, or ``default`` when it is absent.
        """
        snap = self._snapshot
        try:
            value = snap._memo[key]
        except KeyError:
            value = snap._resolve(key)
        return default if value is ABSENT else value

    def pin(self, config: ConfigT | None = None) -> Pin[ConfigT]:
        """``with live.pin() as cfg:`` pins ``cfg`` (default ``current``; during a canary,
        ``live.snapshot_for(key)``) for this thread or asyncio task: inside, `pinned` is it,
        whatever reloads happen, so a request reads one version (docs/pins.md). Pins nest; a
        thread started inside does not inherit one (contextvars)."""
        return Pin(self._pins, self.current if config is None else config)

    @property
    def pinned(self) -> ConfigT:
        """The config `pin` pinned for this thread or task, else ``current``. It costs a context
        variable lookup more than ``current`` (one attribute read): read it where a request
        must see one version."""
        found: ConfigT | None = self._pins.get(None)
        return self.current if found is None else found

    def is_sensitive(self, key: str | Path) -> bool:
        """Is the value at a dotted key or path redacted wherever hotconf shows it? True when
        the schema marks it, its name looks secret, or a secret file ever set it."""
        path = split_dotted(key) if isinstance(key, str) else tuple(key)
        return Classifier(self.schemas, secrets=self._secrets).sensitive(path)

    def explain(self, key: str, snapshot: Snapshot | None = None) -> Explanation:
        """Where the value of a dotted key came from: the layer that set it (a file and line,
        an environment variable, a secret file, a default) and what it overrode, in the
        version served now (or ``snapshot``). Secret values are redacted; a version restored
        from the history has no layers, and its `Explanation` says so (docs/layers.md).

        Example:
            >>> print(live.explain("db.pool_size"))  # doctest: +SKIP
            db.pool_size = 30 (v4)
              set by   environment variable APP_DB__POOL_SIZE
              overrode file /srv/app/config.yaml:3 (10)
        """
        sensitive = Classifier(self.schemas, secrets=self._secrets).sensitive
        return explain(self._snapshot if snapshot is None else snapshot, key, sensitive)

    def history(self, limit: int | None = None) -> list[VersionInfo]:
        """Versions, newest first (metadata only: nothing secret)."""
        return self._store.history(limit)

    def snapshot(self, version: int | None = None) -> Snapshot:
        """The `Snapshot` served now, or an earlier version's, read from the history.

        With a model, ``live.current`` is the model's instance and this is the same version
        as data: its ``version``, ``checksum`` and ``live.get``-style reads.

        Raises:
            VersionNotFoundError: no such version.
        """
        current = self._snapshot
        if version is None or version == current.version:
            return current
        stored = self._store.get(version)
        return Snapshot(stored.data, stored.info)

    def compare(self, old: int | None, new: int) -> ImpactReport:
        """The impact report between two versions of the history.

        Args:
            old: the old version; ``None``: nothing before (the first version's report:
                every key it holds, added).
            new: the new version.

        Raises:
            VersionNotFoundError: either version does not exist.
        """
        b = self.snapshot(new)
        a = self.snapshot(old) if old is not None else None
        report = assess(
            a,
            b,
            self.schemas,
            old_checksum=a.checksum if a is not None else None,
            new_checksum=b.checksum,
            old_version=old,
            defaults=self._defaults,  # as the version's change event said it (invariant 11)
            secrets=self._secrets,
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
        evaluation = self._evaluate(candidate, format)
        if evaluation.load_error is not None:
            raise evaluation.load_error
        assert evaluation.report is not None
        return evaluation.report

    def rejections(self, limit: int = 50) -> list[Rejection]:
        """Recorded rejections, newest first (problems redacted)."""
        return self._store.rejections(limit)

    def _evaluate(
        self, candidate: bytes | Mapping[str, Any], format: str, *, gate: Level | None = None
    ) -> Evaluation:
        return evaluate(
            (RawDocument("candidate", candidate, format),)
            if isinstance(candidate, bytes)
            else candidate,
            schema=self._schema,
            model=self._model,
            validators=self._validators,
            apply_defaults=self._defaults,
            previous=self._snapshot,
            gate=gate,
            limits=self._limits,
            secrets=self._secrets,
        )

    # -- the pipeline -------------------------------------------------------------------

    def reload(self, *, force: bool = False) -> ReloadResult:
        """Run the pipeline now on what the source holds, whatever the watcher thinks.

        Args:
            force: apply a valid candidate even when its impact is above the gate (it is
                still validated: nothing invalid is ever applied).

        Returns:
            A `ReloadResult`: ``applied``, ``noop`` or ``rejected``. Never raises for a bad
            candidate: the last-known-good stays served and the result says why.

        Raises:
            ClosedError: the LiveConfig is closed.
            StoreError: the candidate could not be committed (a full disk): not rejected.
        """
        self._ensure_open()
        return self._run("manual", force=force)

    def _poke(self, writing: bool = False) -> None:
        if self._worker is not None:
            self._worker.poke(writing)
        elif not self._closed:  # a synchronous source: run now, in the caller's thread
            with contextlib.suppress(StoreError):  # told in store_problem; the next run retries
                self._run("manual")

    def _run(
        self,
        trigger: Literal["start", "manual", "watch"],
        *,
        defer: bool = False,
        force: bool = False,
    ) -> ReloadResult:
        failed: Exception | None = None
        result: ReloadResult | None = None
        with self._lock:
            if self._closed and trigger != "start":
                return self._noop()
            started = time.perf_counter()
            try:
                result = run_candidate(self, trigger, defer, force)
            except Deferred:
                raise
            except StoreError as exc:
                # Not a rejection (a full disk, say): told, never announced; the worker
                # retries a watched change, backing off, and reload() raises it.
                self.store_failures += 1
                self.store_problem = exc.message
                log.error("hotconf: %s: the store failed; will retry: %s", self.name, exc.message)
                if trigger != "watch":
                    raise
                result, failed = None, exc
            except HotconfError as exc:
                problems = exc.problems or (Problem(exc.message, code="source"),)
                result = reject(self, problems, None)
            except Exception as exc:  # a bug, not a bad candidate: refuse it loudly, once
                log.exception("hotconf: internal error while reloading %s", self.name)
                # Recorded once, like any rejection: the same bytes are not tried again. A
                # source that failed before any bytes is retried (backing off), unrecorded.
                key = self._candidate_digest or f"internal: {type(exc).__name__}"
                problem = Problem(f"internal error: {type(exc).__name__}", code="internal")
                if trigger != "watch" or key != self._last_digest:
                    result = reject(self, (problem,), None)
                self._last_digest = key
                if trigger == "watch" and self._candidate_digest is None:
                    failed = exc
            log.debug(
                "hotconf: %s run took %.1f ms", trigger, (time.perf_counter() - started) * 1e3
            )
        # Outside the lock: a slow callback (a blocked stdout) must not hold up reloads.
        if result is not None and self._on_result is not None and trigger != "start":
            try:
                self._on_result(result)
            except Exception:
                log.exception("hotconf: on_result callback raised")
        if failed is not None:
            raise failed  # the worker retries it, backing off
        return result if result is not None else self._noop()

    def _noop(self) -> ReloadResult:
        return ReloadResult("noop", getattr(self, "_snapshot", None))

    def _commit(
        self,
        ev: Evaluation,
        prev: Snapshot | None,
        *,
        source: str,
        rolled_back_from: int | None = None,
        restores: int | None = None,
        timings: dict[str, float] | None = None,
        pin: str | None = None,
        version: int | None = None,
        announce: Callable[[VersionInfo], RolloutEvent] | None = None,
    ) -> ReloadResult:
        """Commit, swap, announce. ``pin``: keep the source's content with this checksum out
        (a rollback or a promoted canary overrides it), written with the version.
        ``version``: the number the source gave it (a fleet's), instead of last + 1.
        ``announce``: a promotion's ``rollout.promoted`` event, given the version. Any other
        commit ends a running rollout (its stable config is no longer served): the
        ``rollout.aborted`` event is written with the version too."""
        assert ev.canonical is not None and ev.checksum is not None and ev.frozen is not None
        assert ev.report is not None
        timings = {} if timings is None else timings
        kind: Literal["config.changed", "config.rolled_back"] = (
            "config.rolled_back" if restores is not None else "config.changed"
        )
        ending = self._rollouts.superseded() if announce is None else None
        ended: list[RolloutEvent] = []

        def aborted(info: VersionInfo) -> RolloutEvent:
            assert ending is not None
            if not ended:
                why = f"the stable config changed to v{info.version} meanwhile"
                ended.append(ending._event("rollout.aborted", why, "aborted"))
            return ended[0]

        # Webhook deliveries are committed with the version they announce, and so are the
        # rollout events that go with it (invariant 3).
        outbox = commit_rows(
            self.webhooks, self.name, kind, prev, ev.report, announce, ending, aborted
        )
        meta: dict[str, str | None] = {PIN: pin} if pin is not None else {}
        secrets = self._secrets | ev.secrets
        if secrets != self._secrets:  # once a secret, always a secret (for this state)
            meta[SECRETS] = secret_paths_json(secrets)
        mark = time.perf_counter()
        try:
            info = self._store.append(
                data=ev.frozen,
                checksum=ev.checksum,
                source=source,
                created_at=self._clock(),
                status="rollback" if restores is not None else "applied",
                rolled_back_from=rolled_back_from,
                restores=restores,
                outbox=outbox,
                meta=meta or None,
                version=version,
            )
        except StoreError:
            self._last_digest = None  # not committed: the next event or poll tries again
            if ending is not None:
                ending._release()
            raise
        if pin is not None:
            self._pinned = pin
        self.store_problem = None
        self._secrets = secrets
        timings["commit"] = time.perf_counter() - mark
        snap = Snapshot._from_frozen(ev.frozen, info, ev.origin)
        self._swap(snap, ev.instance)  # the swap: reference assignments, no lock for readers
        self.degraded = False
        report = ev.report.with_version(info.version)
        log.info("hotconf: %s v%d applied: %s", self.name, info.version, report.summary())
        if outbox is not None and self.webhooks is not None:
            self.webhooks.wake()
        if prev is not None:
            self._subscribers.notify(ChangeEvent(kind, prev, snap, report))
        if ending is not None:
            event = aborted(info)
            ending._finish("aborted", str(event.reason), event)
        return ReloadResult("applied", snap, report=report, previous=prev, timings=timings)

    # -- rollback (invariant 4) ---------------------------------------------------------

    def rollback(self, to: int | None = None) -> ReloadResult:
        """Serve an earlier version again, as a new version (history is append-only).

        Args:
            to: the version to restore; default: the one before the current version.

        Returns:
            ``applied`` with the new snapshot, or ``noop`` when the target's content is
            what is served now. The source's present content stays pinned out until it
            changes, across restarts too.

        Raises:
            VersionNotFoundError: no such version.
            ValidationError: the target no longer passes the schema or the checks.
            SourceError: the source numbers the versions (an `EtcdSource`): roll the fleet
                back instead, or this instance would serve a version the fleet has not.
        """
        return roll_back(self, to)

    # -- subscribers --------------------------------------------------------------------

    def subscribe(
        self,
        callback: Callable[[ChangeEvent], object],
        keys: Iterable[str] | None = None,
        *,
        rejections: bool = False,
    ) -> Subscription:
        """Call ``callback(event)`` after each new version that changes a matching key.

        Args:
            callback: called with a `ChangeEvent`, in version order, in a thread of its own:
                one that raises or blocks delays neither reloads nor other subscribers.
            keys: dotted key patterns with shell globs (``["db.*", "features"]``); ``None``
                for every change.
            rejections: also call it with each `Rejection`.

        Returns:
            A `Subscription`; ``close()`` it to stop.
        """
        self._ensure_open()
        return self._subscribers.add(callback, keys, rejections)

    def on_rejection(self, callback: Callable[[Rejection], object]) -> Subscription:
        """Call ``callback(rejection)`` for each rejected candidate (in its own thread).

        Returns:
            A `Subscription`; ``close()`` it to stop.
        """
        self._ensure_open()
        return self._subscribers.add(callback, (), True)

    async def events(
        self, keys: Iterable[str] | None = None, *, rejections: bool = True, rollouts: bool = True
    ) -> AsyncIterator[Event | RolloutEvent]:
        """Iterate over events in an asyncio program: ``async for event in live.events()``.

        Yields `ChangeEvent`s, `Rejection`s (unless ``rejections=False``) and the
        `RolloutEvent`s of canary rollouts (unless ``rollouts=False``; ``keys`` does not
        filter them) as they happen; the iteration ends when the LiveConfig is closed.
        """
        self._ensure_open()

        def follow_rollouts(forward: Callable[[Any], object]) -> Subscription:
            return self._rollouts.subscribe(forward, threaded=False)

        async for event in self._subscribers.events(
            keys, rejections, follow_rollouts if rollouts else None
        ):
            yield event

    # -- canary rollouts (hotconf.live.rollouts) ----------------------------------------

    def rollout(
        self,
        candidate: bytes | Mapping[str, Any],
        *,
        fraction: float = 0.05,
        budget: float = 0.01,
        min_samples: int = 200,
        min_duration: float = 0.0,
        signals: Signals | None = None,
        poll_interval: float = 1.0,
        format: str = "yaml",
        force: bool = False,
        mode: Literal["canary", "shadow"] = "canary",
        max_mismatch: float = 0.0,
    ) -> Rollout:
        """Serve ``candidate`` to a slice of traffic, then promote or abort it on evidence.

        Args:
            candidate: the config as YAML/JSON bytes, or as data; validated like any
                candidate (an invalid one is refused).
            fraction: the share of routing keys served the candidate (dyed requests always
                are).
            budget: how much higher than the stable's the canary's error rate may be
                (0.01: one percentage point).
            min_samples: canary outcomes needed before it can be promoted.
            min_duration: seconds it must run before it can be promoted.
            signals: a callable hotconf polls for outcomes instead of (or besides)
                ``rollout.record(ok)``: ``{"canary": (ok, failed), "stable": (ok, failed)}``.
            poll_interval: seconds between ``signals`` polls.
            format: ``"yaml"`` or ``"json"`` for bytes.
            force: start it even when its impact is above the gate.
            mode: ``"canary"``, or ``"shadow"``: every reader keeps the stable config, and
                ``rollout.compare(fn, *args)`` runs ``fn`` on both snapshots; after
                ``min_samples`` compared calls it promotes at a mismatch rate of at most
                ``max_mismatch``, and aborts as soon as it cannot stay within it.
            max_mismatch: the share of compared calls that may differ (shadow mode).

        On an `EtcdSource` the rollout's scope is ``fleet`` (its ``status()`` says so): it is
        judged on this instance's traffic, and its promotion publishes the candidate to etcd
        as the fleet's next version (if the fleet still serves the stable one), which every
        instance then follows.

        Returns:
            The running `Rollout`; route with ``live.snapshot_for(key, dyed)``.

        Raises:
            LoadError, ValidationError: the candidate is refused.
            RolloutError: a rollout is running already, or the candidate is what is served.

        Example:
            >>> rollout = live.rollout(b"db: {pool_size: 20}", fraction=0.05)  # doctest: +SKIP
            >>> snap = live.snapshot_for(user, dyed="x-hotconf-canary" in hdrs)  # doctest: +SKIP
            >>> rollout.record(handle(request, snap))  # doctest: +SKIP
        """
        self._ensure_open()
        return self._rollouts.start(
            candidate,
            fraction=fraction,
            budget=budget,
            min_samples=min_samples,
            min_duration=min_duration,
            signals=signals,
            poll_interval=poll_interval,
            format=format,
            force=force,
            mode=mode,
            max_mismatch=max_mismatch,
        )

    def snapshot_for(self, routing_key: str | bytes | int, dyed: bool = False) -> Snapshot:
        """The snapshot to serve one request with: the canary or the stable one.

        Without a running rollout this is ``live.current``. With one, the same routing key
        always gets the same answer, and a dyed request (say, one carrying an
        ``x-hotconf-canary`` header) always gets the canary.
        """
        return self._rollouts.snapshot_for(routing_key, dyed)

    @property
    def active_rollout(self) -> Rollout | None:
        """The rollout running now (canary or shadow), else ``None``."""
        active = self._rollouts.active
        return active if active is not None and active.state == "running" else None

    def config_for(self, routing_key: str | bytes | int, dyed: bool = False) -> ConfigT:
        """What `current` is for one request: `snapshot_for`'s choice, as readers get it.

        During a canary rollout that is the candidate (its model's instance, with a model)
        for dyed requests and routing keys in the canary slice; otherwise ``current``. The
        request middleware (`hotconf.middleware`) pins it for the request.
        """
        current = self.current
        chosen = self._rollouts.snapshot_for(routing_key, dyed)
        active = self._rollouts.active
        if active is not None and chosen is active.candidate:
            return active.candidate_config  # type: ignore[no-any-return]
        return current

    def record(self, config: Any, ok: bool) -> None:
        """Count one request's outcome against the config that served it.

        ``config`` is what the request was served with (``current``, `config_for`'s or
        `snapshot_for`'s answer, a snapshot or a model instance). During a canary rollout
        the outcome counts for its arm (`Rollout.record`); on an `EtcdSource` it counts for
        the fleet version that served it, which fleet canaries weigh. A config that is
        neither (a version from before the rollout, or older than the last few) is not
        counted. The request middleware calls this for every request.
        """
        snap = config if isinstance(config, Snapshot) else None
        if snap is None and self._model is not None:
            snap = next((s for i, s in reversed(self._served) if i is config), None)
        if self._rollouts.record_served(config, snap, ok):
            return  # a rollout's candidate: never a version of the fleet
        fleet = getattr(self._source, "record", None)
        if fleet is not None and snap is not None:
            fleet(ok, served=snap)

    def rollouts(self) -> list[Rollout]:
        """Rollouts on this LiveConfig, newest first (the running one, if any, first)."""
        return self._rollouts.history()

    def on_rollout(self, callback: Callable[[RolloutEvent], object]) -> Subscription:
        """Call ``callback(event)`` with each `RolloutEvent` (started, promoted, aborted).

        Returns:
            A `Subscription`; ``close()`` it to stop.
        """
        self._ensure_open()
        return self._rollouts.subscribe(callback)

    # -- what the HTTP service reads (hotconf.service) ----------------------------------

    @property
    def schema(self) -> Schema | None:
        """The JSON Schema candidates are validated against (``None``: none)."""
        return self._schema

    @property
    def limits(self) -> Limits:
        """The loader's guards candidates are read with."""
        return self._limits

    @property
    def model(self) -> type[ConfigT] | None:
        """The typed model candidates are validated against (``None``: none)."""
        return self._model.type if self._model is not None else None

    @property
    def schemas(self) -> tuple[Schema, ...]:
        """The schemas that say what is secret, what needs a restart and what the defaults
        are: the JSON Schema and the model's, those that are given."""
        return pipeline.schemas_of(self._schema, self._model)

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
        self._subscribers.close_all()
        if self.webhooks is not None:
            self.webhooks.close(drain)
        with self._lock:  # not under a rollback or reload that got in before the close
            self._store.close()

    def __enter__(self) -> LiveConfig[ConfigT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        current = getattr(self, "_snapshot", None)
        version = current.version if current is not None else None
        return f"<LiveConfig {self.name!r} version={version} degraded={self.degraded}>"
