"""The writer side of `LiveConfig`: the pipeline run, commit, rejection and rollback.

A mixin of `hotconf.live.config.LiveConfig`, kept in its own module for size. Writers serialize on
``self._lock``; a run is read → identical-bytes skip → parse → canonical checksum (no-op if
equal) → schema and custom checks → impact report → gate → one store transaction (the version,
its webhook outbox rows and any rollback pin) → swap → notify. Nothing becomes visible before
it is validated, nor announced before it is durable (DESIGN inv. 3).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import HotconfError, LoadError, Problem, StoreError, ValidationError
from ..events import ChangeEvent, Event, Rejection, ReloadResult
from ..pipeline import evaluate as pipeline
from ..pipeline.diff import LEVELS, Level
from ..pipeline.evaluate import Validator, check, locate_problems, parse_all
from ..pipeline.impact import ImpactReport, assess
from ..pipeline.schema import Schema
from ..pipeline.snapshot import Snapshot, canonical_json, freeze
from ..sources import Source
from ..store.history import Store
from ..webhooks.manager import Webhooks
from .worker import Deferred

log = logging.getLogger("hotconf")
RANK = {level: i for i, level in enumerate(LEVELS)}
PIN = "pinned_checksum"  # store meta key: the source content a rollback keeps out


class Reloading:
    """`LiveConfig`'s pipeline, commit, rejection and rollback (a mixin)."""

    if not TYPE_CHECKING:  # mypy would refuse the assignments LiveConfig's slots allow
        __slots__ = ()

    # Provided by LiveConfig (annotations only: nothing here shadows them).
    current: Snapshot
    degraded: bool
    last_rejection: Rejection | None
    name: str
    webhooks: Webhooks | None
    _clock: Callable[[], datetime]
    _closed: bool
    _gate: Level
    _last_digest: str | None
    _lock: threading.RLock
    _on_result: Callable[[ReloadResult], None] | None
    _pinned: str | None
    _schema: Schema | None
    _source: Source
    _source_checksum: str | None
    _store: Store
    _validators: tuple[Validator, ...]
    _ensure_open: Callable[[], None]
    _notify: Callable[[Event], None]

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
        """
        self._ensure_open()
        return self._run("manual", force=force)

    def _run(
        self,
        trigger: Literal["start", "manual", "watch"],
        *,
        defer: bool = False,
        force: bool = False,
    ) -> ReloadResult:
        failed: Exception | None = None
        with self._lock:
            if self._closed and trigger != "start":
                return self._noop()
            started = time.perf_counter()
            try:
                result = self._pipeline(trigger, defer, force)
            except Deferred:
                raise
            except HotconfError as exc:
                code = "store" if isinstance(exc, StoreError) else "source"
                problems = exc.problems or (Problem(exc.message, code=code),)
                result = self._reject(problems, None)
            except Exception as exc:  # a bug, not a bad candidate: refuse it loudly, retry later
                log.exception("hotconf: internal error while reloading %s", self.name)
                self._last_digest = None
                problem = Problem(f"internal error: {type(exc).__name__}", code="internal")
                result = self._reject((problem,), None)
                if trigger == "watch":
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
        return ReloadResult("noop", getattr(self, "current", None))

    def _pipeline(self, trigger: str, defer: bool, force: bool) -> ReloadResult | None:
        prev: Snapshot | None = getattr(self, "current", None)
        timings: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            timings[stage] = now - mark
            mark = now

        try:
            docs = self._source.read()
        except HotconfError as exc:  # missing, unreadable, over the size limit
            failure = f"failed: {exc.message}"
            if trigger == "watch" and failure == self._last_digest:
                return None  # the same failure, already recorded
            if defer:
                raise Deferred from None
            self._last_digest = failure
            raise
        digest = pipeline.digest(docs)
        lap("read")
        if trigger == "watch" and digest == self._last_digest:
            return None  # identical bytes: not even a candidate
        try:
            data = parse_all(docs)
        except LoadError:
            if defer:
                raise Deferred from None
            self._last_digest = digest
            raise
        lap("parse")
        canonical = canonical_json(data)
        csum = hashlib.sha256(canonical).hexdigest()
        lap("hash")
        self._last_digest = digest
        if self._pinned is not None and csum != self._pinned:
            self._unpin()  # the source changed since the rollback: it speaks again
        if prev is not None and (csum == prev.checksum or csum == self._pinned):
            if csum != prev.checksum:
                log.info("hotconf: %s unchanged since the rollback to v%d", self.name, prev.version)
            self._source_checksum = csum
            self.degraded = False
            return ReloadResult("noop", prev, timings=timings)
        frozen = freeze(data)
        lap("freeze")
        problems = self._check(data, frozen)
        lap("validate")
        if problems and defer:
            self._last_digest = None
            raise Deferred
        report = self._assess(prev, frozen, csum, locate_problems(problems, docs))
        lap("diff")
        if problems:
            return self._reject(report.problems, csum, report)
        self._source_checksum = csum
        if report.idempotent:  # e.g. a set reordered: nothing a consumer can see
            self.degraded = False
            return ReloadResult("noop", prev, report=report, timings=timings)
        if prev is not None and not force and RANK[report.level] > RANK[self._gate]:
            why = "; ".join(
                f"{c.pointer}: {c.reason}" for c in report.changes if c.level == report.level
            )
            gate = Problem(
                f"impact {report.level} is above the gate ({self._gate}): {why}; "
                "apply it with reload(force=True)",
                code="gate",
            )
            # Held once: polls don't record it again; reload(force=True) or a new edit moves on.
            return self._reject((gate,), csum, report)
        return self._commit(
            canonical, frozen, csum, prev, report, source=self._source.name, timings=timings
        )

    def _unpin(self) -> None:
        try:
            self._store.set_meta(PIN, None)
        except StoreError:
            log.exception("hotconf: could not clear the rollback pin; clearing it in memory")
        self._pinned = None

    def _assess(
        self,
        prev: Snapshot | None,
        frozen: Mapping[str, Any],
        csum: str,
        problems: tuple[Problem, ...] = (),
    ) -> ImpactReport:
        return assess(
            prev,
            frozen,
            self._schema,
            problems=problems,
            old_checksum=prev.checksum if prev is not None else None,
            new_checksum=csum,
            old_version=prev.version if prev is not None else None,
        )

    def _check(self, data: Mapping[str, Any], frozen: Mapping[str, Any]) -> tuple[Problem, ...]:
        return check(data, self._schema, self._validators, frozen=frozen)

    def _commit(
        self,
        canonical: bytes,
        frozen: Mapping[str, Any],
        csum: str,
        prev: Snapshot | None,
        report: ImpactReport,
        *,
        source: str,
        rolled_back_from: int | None = None,
        restores: int | None = None,
        timings: dict[str, float] | None = None,
        pin: str | None = None,
    ) -> ReloadResult:
        """Commit, swap, announce. ``pin``: keep the source's content with this checksum out
        (a rollback or a promoted canary overrides it), written with the version."""
        timings = {} if timings is None else timings
        kind: Literal["config.changed", "config.rolled_back"] = (
            "config.rolled_back" if restores is not None else "config.changed"
        )
        # Webhook deliveries are committed with the version they announce (DESIGN inv. 3).
        outbox = (
            self.webhooks._announce_change(kind, self.name, prev, report)
            if self.webhooks is not None and prev is not None
            else None
        )
        mark = time.perf_counter()
        try:
            info = self._store.append(
                data=canonical,
                checksum=csum,
                source=source,
                created_at=self._clock(),
                status="rollback" if restores is not None else "applied",
                rolled_back_from=rolled_back_from,
                restores=restores,
                outbox=outbox,
                meta={PIN: pin} if pin is not None else None,
            )
        except StoreError:
            self._last_digest = None  # not committed: the next event or poll tries again
            raise
        if pin is not None:
            self._pinned = pin
        timings["commit"] = time.perf_counter() - mark
        snap = Snapshot._from_frozen(frozen, info)
        object.__setattr__(self, "current", snap)  # the swap: one reference assignment
        self.degraded = False
        report = report.with_version(info.version)
        log.info("hotconf: %s v%d applied: %s", self.name, info.version, report.summary())
        if outbox is not None and self.webhooks is not None:
            self.webhooks.wake()
        if prev is not None:
            self._notify(ChangeEvent(kind, prev, snap, report))
        return ReloadResult("applied", snap, report=report, previous=prev, timings=timings)

    def _reject(
        self,
        problems: tuple[Problem, ...],
        csum: str | None,
        report: ImpactReport | None = None,
    ) -> ReloadResult:
        rejection = Rejection(self._clock(), self._source.name, problems, csum)
        prev: Snapshot | None = getattr(self, "current", None)
        outbox = (
            self.webhooks._announce_rejection(self.name, prev, rejection, report)
            if self.webhooks is not None
            else []
        )
        try:
            self._store.record_rejection(rejection, outbox)
        except HotconfError:
            log.exception("hotconf: could not record a rejection")
        else:
            if outbox and self.webhooks is not None:
                self.webhooks.wake()
        object.__setattr__(self, "last_rejection", rejection)
        if prev is not None:
            self.degraded = True
        log.warning(
            "hotconf: %s candidate rejected; still serving %s:\n%s",
            self.name,
            f"v{prev.version}" if prev else "nothing",
            "\n".join(f"  {p}" for p in problems),
        )
        self._notify(rejection)
        return ReloadResult("rejected", prev, rejection=rejection, report=report)

    # -- rollback (DESIGN inv. 4) -------------------------------------------------------

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
        """
        self._ensure_open()
        with self._lock:
            prev = self.current
            target = self._store.get(to if to is not None else prev.version - 1)
            frozen = freeze(target.data)
            problems = self._check(target.data, frozen)
            if problems:
                raise ValidationError(
                    f"cannot roll back to v{target.info.version}: it fails the current checks",
                    problems,
                )
            if target.info.checksum == prev.checksum:
                return ReloadResult("noop", prev)
            return self._commit(
                canonical_json(target.data),
                frozen,
                target.info.checksum,
                prev,
                self._assess(prev, frozen, target.info.checksum),
                source=f"rollback to v{target.info.version}",
                rolled_back_from=prev.version,
                restores=target.info.version,
                pin=self._source_checksum or prev.checksum,
            )
