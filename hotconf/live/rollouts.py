"""Canary rollouts: serve a candidate to a slice of traffic, promote it or abort on evidence.

``live.rollout(candidate, fraction=0.05, budget=0.01)`` validates the candidate like any
other (parse, schema, custom checks, gate) and starts a `Rollout`. From then on
``live.snapshot_for(routing_key)`` hands the candidate to the keys whose hash falls in the
canary slice (the same key always gets the same answer; the hash is salted with the rollout's
id, so each rollout picks a different slice) and to every *dyed* request, and the stable
snapshot to the rest. The app reports each outcome (``rollout.record(ok)``), or passes
``signals=`` and hotconf polls it. The rule (`decide`, shared with fleet canaries in
`hotconf.fleet.publisher`):

- abort as soon as the canary's failures put it over ``stable error rate + budget``, counting
  the samples it still lacks as successes (so a burst of early failures aborts at once);
- promote once the canary has ``min_samples`` outcomes (and ran ``min_duration`` seconds) and
  its error rate is within ``stable error rate + budget``.

Promotion commits the candidate as a normal new version (store, swap, subscribers, webhooks)
and pins the source's unchanged content out, as a rollback does. Abort leaves the stable
version served and records why. ``rollout.started``, ``rollout.promoted`` and
``rollout.aborted`` go to ``live.on_rollout`` subscribers and ``live.events()`` as
`RolloutEvent`s, and to the webhook subscribers that list them, through the outbox.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ClosedError, Problem, RolloutError, ValidationError
from ..events import RolloutEvent
from ..pipeline.diff import LEVELS
from ..pipeline.evaluate import parse_all
from ..pipeline.impact import ImpactReport
from ..pipeline.snapshot import Snapshot, VersionInfo, canonical_json, freeze, thaw
from ..sources import RawDocument
from .canary import Decision, Outcomes, Signals, bucket, decide
from .subscriptions import Subscription

if TYPE_CHECKING:
    from .config import LiveConfig

log = logging.getLogger("hotconf")

State = Literal["running", "promoting", "promoted", "aborted"]


# The arm the last snapshot_for() chose in this thread or task, for record(ok) without arguments.
_LAST: contextvars.ContextVar[tuple[Rollout, bool] | None] = contextvars.ContextVar(
    "hotconf_rollout_last", default=None
)


class _Registry:
    """A LiveConfig's rollouts and rollout subscribers (kept beside it, not in it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: Rollout | None = None
        self.history: deque[Rollout] = deque(maxlen=50)
        self.subs: list[Subscription] = []


_REGISTRIES: weakref.WeakKeyDictionary[LiveConfig, _Registry] = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()


def _registry(live: LiveConfig) -> _Registry:
    reg = _REGISTRIES.get(live)
    if reg is None:
        with _REGISTRIES_LOCK:
            reg = _REGISTRIES.setdefault(live, _Registry())
    return reg


class Rollout:
    """A canary rollout on one `LiveConfig`; make one with ``live.rollout(...)``.

    Attributes:
        id: a short random id (``r`` + 8 hex digits); it also salts the bucketing hash.
        candidate: the canary `Snapshot` (version 0 until promoted).
        stable: the snapshot served when the rollout started.
        report: the candidate's `ImpactReport` against the stable snapshot.
        state: ``running``, ``promoting``, ``promoted`` or ``aborted``.
        reason: why it was promoted or aborted.
        promoted_version: the version the promotion committed.
    """

    def __init__(
        self,
        live: LiveConfig,
        data: dict[str, Any],
        report: ImpactReport,
        *,
        fraction: float,
        budget: float,
        min_samples: int,
        min_duration: float,
        signals: Signals | None,
        poll_interval: float,
    ) -> None:
        self.id = "r" + secrets.token_hex(4)
        self._live = weakref.ref(live)
        self._canonical = canonical_json(data)
        self._frozen = freeze(data)
        csum = hashlib.sha256(self._canonical).hexdigest()
        self.stable = live.current
        self.started_at = live._clock()
        info = VersionInfo(0, csum, self.started_at, f"rollout {self.id} (canary)", "canary")
        self.candidate = Snapshot._from_frozen(self._frozen, info)
        self.report = report
        self.fraction = fraction
        self.budget = budget
        self.min_samples = min_samples
        self.min_duration = min_duration
        self.state: State = "running"
        self.reason: str | None = None
        self.decided_at: datetime | None = None
        self.promoted_version: int | None = None
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._recorded = {True: [0, 0], False: [0, 0]}  # canary? -> [ok, failed]
        self._signals = signals
        self._baseline: dict[str, Outcomes] | None = None
        self._signalled = {"canary": Outcomes(), "stable": Outcomes()}
        self._poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Closed with the LiveConfig: the rollout ends (aborted) and its thread stops.
        self._closer = Subscription(
            lambda _event: None, keys=(), rejections=False, threaded=False, on_close=live._remove
        )
        self._closer.on_stop = self._on_live_closed

    # -- routing -----------------------------------------------------------------------

    def snapshot_for(self, routing_key: str | bytes | int, dyed: bool = False) -> Snapshot:
        """The canary for dyed requests and for keys in the canary slice; else the stable."""
        live = self._live()
        if live is None:
            raise ClosedError(f"rollout {self.id}: its LiveConfig is gone")
        current = live.current
        if self.state != "running":
            return current
        if current is not self.stable:
            self._end("aborted", f"the stable config changed to v{current.version} meanwhile")
            return current
        canary = dyed or bucket(routing_key, self.id) < self.fraction
        _LAST.set((self, canary))
        return self.candidate if canary else current

    # -- outcomes ----------------------------------------------------------------------

    def record(
        self, ok: bool, snapshot: Mapping[str, Any] | None = None, *, canary: bool | None = None
    ) -> None:
        """Count one outcome (a request served well or not).

        Args:
            ok: it succeeded.
            snapshot: the snapshot the request was served with; default: the one the last
                ``snapshot_for`` in this thread (or asyncio task) returned.
            canary: say the arm outright instead.

        Raises:
            ValueError: the arm cannot be told (no snapshot, no ``canary``, no earlier
                ``snapshot_for`` in this context).
        """
        if canary is None:
            if snapshot is not None:
                canary = snapshot is self.candidate
            else:
                last = _LAST.get()
                if last is None or last[0] is not self:
                    raise ValueError(
                        "record(ok) cannot tell the arm: pass the snapshot snapshot_for returned, "
                        "or canary=True/False"
                    )
                canary = last[1]
        with self._lock:
            self._recorded[canary][0 if ok else 1] += 1
        if self.state == "running":
            self._evaluate()

    def outcomes(self) -> tuple[Outcomes, Outcomes]:
        """``(canary, stable)`` outcomes so far (recorded plus signalled)."""
        with self._lock:
            canary = Outcomes(*self._recorded[True]) + self._signalled["canary"]
            stable = Outcomes(*self._recorded[False]) + self._signalled["stable"]
        return canary, stable

    def _read_signals(self) -> None:
        assert self._signals is not None
        try:
            raw = {k: Outcomes.coerce(v) for k, v in self._signals().items()}
        except Exception:
            log.exception("hotconf: rollout %s: the signals callable raised", self.id)
            return
        if self._baseline is None:
            self._baseline = raw
        base = self._baseline
        with self._lock:
            for arm in ("canary", "stable"):
                now, then = raw.get(arm, Outcomes()), base.get(arm, Outcomes())
                self._signalled[arm] = Outcomes(now.ok - then.ok, now.failed - then.failed)

    def _evaluate(self) -> None:
        canary, stable = self.outcomes()
        decision, why = decide(canary, stable, budget=self.budget, min_samples=self.min_samples)
        if decision == "promote" and time.monotonic() - self._started < self.min_duration:
            return
        try:
            if decision == "abort":
                self.abort(why)
            elif decision == "promote":
                self.promote(why)
        except RolloutError:
            pass  # decided by another thread meanwhile

    # -- decisions ---------------------------------------------------------------------

    def promote(self, reason: str = "promoted by hand") -> Snapshot:
        """Make the candidate the live version: a normal commit (store, swap, subscribers).

        Returns:
            The new current snapshot.

        Raises:
            RolloutError: already decided, or the stable config changed meanwhile (then the
                rollout is aborted).
        """
        live = self._claim("promoting")

        try:
            with live._lock:
                live._ensure_open()
                prev = live.current
                if prev is not self.stable:
                    raise RolloutError(
                        f"rollout {self.id}: the stable config changed to v{prev.version} "
                        "meanwhile; not promoted"
                    )
                # Keep the source's unchanged content from undoing the promotion at the next
                # poll or restart, exactly as rollback() does.
                result = live._commit(
                    self._canonical,
                    self._frozen,
                    self.candidate.checksum,
                    prev,
                    live._assess(prev, self._frozen, self.candidate.checksum),
                    source=f"rollout {self.id}",
                    pin=live._source_checksum or prev.checksum,
                )
        except RolloutError as exc:
            self._finish("aborted", exc.message)
            raise
        except BaseException:
            with self._lock:
                self.state = "running"  # nothing committed: it can be decided again
            raise
        assert result.snapshot is not None
        self.promoted_version = result.snapshot.version
        self._finish("promoted", reason)
        return result.snapshot

    def abort(self, reason: str = "aborted by hand") -> None:
        """Stop the rollout; the stable version stays served and ``reason`` is recorded.

        Raises:
            RolloutError: already decided.
        """
        self._claim("aborted")
        self._finish("aborted", reason)

    def _claim(self, state: State) -> LiveConfig:
        live = self._live()
        with self._lock:
            if self.state != "running":
                raise RolloutError(f"rollout {self.id} is already {self.state}")
            if live is None:
                raise ClosedError(f"rollout {self.id}: its LiveConfig is gone")
            self.state = state
        return live

    def _end(self, state: Literal["aborted"], reason: str) -> None:
        try:
            self._claim(state)
        except (RolloutError, ClosedError):
            return
        self._finish(state, reason)

    def _finish(self, state: Literal["promoted", "aborted"], reason: str) -> None:
        live = self._live()
        with self._lock:
            self.state = state
            self.reason = reason
            self.decided_at = live._clock() if live is not None else None
        self._stop.set()
        self._closer.close()
        log.log(
            logging.INFO if state == "promoted" else logging.WARNING,
            "hotconf: rollout %s %s: %s",
            self.id,
            state,
            reason,
        )
        if live is not None:
            _announce(live, self, f"rollout.{state}", reason)  # type: ignore[arg-type]

    def _on_live_closed(self) -> None:
        with self._lock:
            if self.state == "running":
                self.state = "aborted"
                self.reason = "the LiveConfig was closed"
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._poll_interval):
            try:
                live = self._live()
                if live is None or self.state != "running":
                    return
                if live.current is not self.stable:
                    self._end("aborted", f"the stable config changed to v{live.version} meanwhile")
                    return
                self._read_signals()
                self._evaluate()
            except Exception:
                log.exception("hotconf: rollout %s: error while polling; polling goes on", self.id)

    # -- reporting ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """A JSON-ready view: state, arms with outcomes and error rates, progress, reason."""
        canary, stable = self.outcomes()
        live = self._live()
        return {
            "id": self.id,
            "name": live.name if live is not None else None,
            "state": self.state,
            "reason": self.reason,
            "started_at": self.started_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "fraction": self.fraction,
            "budget": self.budget,
            "min_samples": self.min_samples,
            "progress": min(1.0, canary.total / self.min_samples),
            "level": self.report.level,
            "summary": self.report.summary(),
            "stable": {
                "version": self.stable.version,
                "checksum": self.stable.checksum,
                **stable.to_dict(),
            },
            "canary": {
                "version": self.promoted_version,
                "checksum": self.candidate.checksum,
                **canary.to_dict(),
            },
        }

    def __repr__(self) -> str:
        return f"<Rollout {self.id} {self.state} fraction={self.fraction}>"


def _announce(
    live: LiveConfig,
    rollout: Rollout,
    kind: Literal["rollout.started", "rollout.promoted", "rollout.aborted"],
    reason: str | None,
) -> None:
    event = RolloutEvent(kind, rollout.id, live._clock(), rollout.status(), reason)
    if live.webhooks is not None:
        live.webhooks._announce_rollout(live.name, event, rollout.report)
    reg = _registry(live)
    with reg.lock:
        subs = list(reg.subs)
    for sub in subs:
        sub.deliver(event)  # type: ignore[arg-type]  # Subscription is typed for config events


def start(
    live: LiveConfig,
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
) -> Rollout:
    """Validate ``candidate`` and start a rollout (``LiveConfig.rollout`` documents it)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"budget must be within [0, 1], not {budget}")
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, not {min_samples}")
    live._ensure_open()
    if isinstance(candidate, bytes):
        data = parse_all((RawDocument("candidate", candidate, format),))
    else:
        data = thaw(candidate)
    frozen = freeze(data)
    prev = live.current
    problems = live._check(data, frozen)
    csum = hashlib.sha256(canonical_json(data)).hexdigest()
    report = live._assess(prev, frozen, csum, problems)
    if problems:
        raise ValidationError("the candidate is invalid: no rollout started", problems)
    if csum == prev.checksum:
        raise RolloutError("the candidate is what is served now: nothing to roll out")
    if not force and LEVELS.index(report.level) > LEVELS.index(live._gate):
        raise ValidationError(
            f"the candidate's impact ({report.level}) is above the gate ({live._gate}): no "
            "rollout started; pass force=True to start it anyway",
            (Problem(report.summary(), code="gate"),),
        )
    reg = _registry(live)
    rollout = Rollout(
        live,
        data,
        report,
        fraction=fraction,
        budget=budget,
        min_samples=min_samples,
        min_duration=min_duration,
        signals=signals,
        poll_interval=poll_interval,
    )
    with reg.lock:
        active = reg.active
        if active is not None and active.state in ("running", "promoting"):
            raise RolloutError(f"rollout {active.id} is still {active.state}: decide it first")
        reg.active = rollout
        reg.history.appendleft(rollout)
    with live._lock:
        live._ensure_open()
        live._subs.append(rollout._closer)
    if signals is not None:
        rollout._read_signals()  # the baseline
        rollout._thread = threading.Thread(
            target=rollout._run, name=f"hotconf-rollout-{rollout.id}", daemon=True
        )
        rollout._thread.start()
    log.info(
        "hotconf: rollout %s started on %s: %.1f%% of traffic, %s",
        rollout.id,
        live.name,
        fraction * 100,
        report.summary(),
    )
    _announce(live, rollout, "rollout.started", None)
    return rollout


def snapshot_for(live: LiveConfig, routing_key: str | bytes | int, dyed: bool = False) -> Snapshot:
    reg = _REGISTRIES.get(live)
    active = reg.active if reg is not None else None
    if active is None or active.state != "running":
        return live.current
    return active.snapshot_for(routing_key, dyed)


def rollouts(live: LiveConfig) -> list[Rollout]:
    reg = _REGISTRIES.get(live)
    if reg is None:
        return []
    with reg.lock:
        return list(reg.history)


def on_rollout(
    live: LiveConfig,
    callback: Callable[[RolloutEvent], object],
    *,
    threaded: bool | None = None,
) -> Subscription:
    """Subscribe ``callback`` to ``live``'s rollout events (``LiveConfig.on_rollout``).

    ``threaded``: call it in a thread of its own (default: unless the source is synchronous);
    ``live.events()`` passes ``False`` and hands the events to its event loop itself.
    """
    reg = _registry(live)

    def forget(sub: Subscription) -> None:
        live._remove(sub)
        with reg.lock:
            if sub in reg.subs:
                reg.subs.remove(sub)

    sub = Subscription(
        callback,
        keys=(),  # matches no ChangeEvent: only rollout events reach it
        rejections=False,
        threaded=not live._source.synchronous if threaded is None else threaded,
        on_close=forget,
    )
    with live._lock:
        live._ensure_open()
        live._subs.append(sub)  # so that live.close() ends it
    with reg.lock:
        reg.subs.append(sub)
    return sub


__all__ = ["Decision", "Outcomes", "Rollout", "Signals", "bucket", "decide"]
