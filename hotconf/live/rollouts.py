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
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from ..errors import ClosedError, Problem, RolloutError, ValidationError
from ..events import RolloutEvent
from ..pipeline.evaluate import Evaluation
from ..pipeline.impact import ImpactReport
from ..pipeline.snapshot import Snapshot, VersionInfo, canonical_json, thaw
from ..sources import RawDocument
from .canary import Decision, Outcomes, Signals, bucket, decide, decide_shadow
from .subscriptions import Subscribers, Subscription

log = logging.getLogger("hotconf")
T = TypeVar("T")

State = Literal["running", "promoting", "promoted", "aborted"]
Mode = Literal["canary", "shadow"]
Scope = Literal["instance", "fleet"]


# The arm the last snapshot_for() chose in this thread or task, for record(ok) without arguments.
_LAST: contextvars.ContextVar[tuple[Rollout, bool] | None] = contextvars.ContextVar(
    "hotconf_rollout_last", default=None
)


class Host(Protocol):
    """What a rollout needs of the `LiveConfig` it runs on, and nothing more."""

    @property
    def name(self) -> str: ...

    @property
    def current(self) -> Snapshot: ...

    @property
    def subscribers(self) -> Subscribers: ...

    def now(self) -> datetime:
        """The time stamp for events (the LiveConfig's clock)."""
        ...

    def evaluate(
        self, candidate: bytes | Mapping[str, Any], format: str, force: bool
    ) -> Evaluation:
        """The candidate checked against what is served, with the LiveConfig's gate."""
        ...

    @property
    def scope(self) -> Scope:
        """``instance``: a promotion commits on this LiveConfig only; ``fleet``: it publishes
        to the fleet the source follows (an `EtcdSource`), and every instance follows."""
        ...

    def promote(
        self,
        evaluation: Evaluation,
        *,
        stable: Snapshot,
        source: str,
        announce: Callable[[VersionInfo], RolloutEvent],
        document: RawDocument | None,
    ) -> Snapshot:
        """Commit ``evaluation`` as the next version if ``stable`` is still served; keep the
        source's present content pinned out, as a rollback does. ``announce(info)`` gives
        the ``rollout.promoted`` event, whose webhook rows go into the same transaction as
        the version (invariant 3). With scope ``fleet``, ``document`` (the candidate as
        given) is published to the fleet first, and committed under the fleet's number.

        Raises:
            RolloutError: the served snapshot is no longer ``stable`` (or, in a fleet, the
                fleet's current version is not its version).
        """
        ...

    def announce(self, event: RolloutEvent, report: ImpactReport) -> None:
        """Tell rollout subscribers (`Rollouts.deliver`) and the webhook outbox, if any."""
        ...

    def deliver(self, event: RolloutEvent) -> None:
        """Tell rollout subscribers only (the outbox has the event already)."""
        ...


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
        mode: ``canary`` (a slice of traffic is served the candidate) or ``shadow``
            (readers keep the stable config; `compare` runs code on both).
        scope: ``instance`` (a promotion commits here) or ``fleet`` (it publishes to the
            fleet an `EtcdSource` follows).
    """

    def __init__(
        self,
        host: Host,
        evaluation: Evaluation,
        *,
        fraction: float,
        budget: float,
        min_samples: int,
        min_duration: float,
        signals: Signals | None,
        poll_interval: float,
        mode: Mode = "canary",
        max_mismatch: float = 0.0,
    ) -> None:
        assert evaluation.frozen is not None and evaluation.checksum is not None
        assert evaluation.report is not None
        self.id = "r" + secrets.token_hex(4)
        self._host = host
        self._evaluation = evaluation
        self.stable = host.current
        self.started_at = host.now()
        info = VersionInfo(
            0, evaluation.checksum, self.started_at, f"rollout {self.id} (canary)", "canary"
        )
        self.candidate = Snapshot._from_frozen(evaluation.frozen, info)
        self.report = evaluation.report
        self.fraction = fraction
        self.budget = budget
        self.min_samples = min_samples
        self.min_duration = min_duration
        self.mode: Mode = mode
        self.scope: Scope = host.scope
        self.max_mismatch = max_mismatch
        self._compared = [0, 0]  # shadow: [samples, mismatches]
        self._document: RawDocument | None = None  # the candidate as given (a fleet publishes it)
        self._last_mismatch: str | None = None
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
            lambda _event: None,
            keys=(),
            rejections=False,
            threaded=False,
            on_close=host.subscribers.remove,
        )
        self._closer.on_stop = self._on_live_closed

    @property
    def candidate_config(self) -> Any:
        """The candidate as readers get it: its model's instance when the LiveConfig has a
        model (what ``live.config_for`` gives the canary's requests), else `candidate`."""
        instance = self._evaluation.instance
        return self.candidate if instance is None else instance

    # -- routing -----------------------------------------------------------------------

    def snapshot_for(self, routing_key: str | bytes | int, dyed: bool = False) -> Snapshot:
        """The canary for dyed requests and for keys in the canary slice; else the stable."""
        current = self._host.current
        if self.state != "running":
            return current
        if current is not self.stable:
            self._end("aborted", f"the stable config changed to v{current.version} meanwhile")
            return current
        if self.mode == "shadow":
            return current  # readers keep the stable config; compare() runs the candidate
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
            RolloutError: a shadow rollout counts `compare` results, not outcomes.
        """
        if self.mode == "shadow":
            raise RolloutError(
                f"rollout {self.id} is a shadow rollout: use compare(), not record()"
            )
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

    def compare(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Shadow verification: ``fn(stable, *args, **kwargs)`` and ``fn(candidate, ...)``.

        While the shadow rollout runs, both are called and their results compared (``==``):
        a difference, or an exception from either, is a mismatch. What the caller gets is
        always the stable config's answer (its exception, if it raised), so ``compare`` can
        sit in the request path. Once decided, it runs ``fn`` on the config served now.

        Returns:
            ``fn``'s result on the stable snapshot.

        Raises:
            RolloutError: this is not a shadow rollout.
        """
        if self.mode != "shadow":
            raise RolloutError(f"rollout {self.id} is a canary rollout: compare() is for shadow")
        if self.state != "running":
            return fn(self._host.current, *args, **kwargs)
        stable = self.stable
        try:
            expected = fn(stable, *args, **kwargs)
        except Exception as exc:
            self._count(f"the stable config raised {type(exc).__name__}")
            raise
        try:
            got = fn(self.candidate, *args, **kwargs)
            same = bool(got == expected)
        except Exception as exc:  # the candidate's failure is counted, never passed on
            self._count(f"the candidate raised {type(exc).__name__}")
        else:
            self._count(None if same else "the results differ")
        return expected

    def _count(self, mismatch: str | None) -> None:
        with self._lock:
            self._compared[0] += 1
            if mismatch is not None:
                self._compared[1] += 1
                self._last_mismatch = mismatch  # a description only: results may hold secrets
        if self.state == "running":
            self._evaluate()

    @property
    def mismatch_rate(self) -> float:
        """Shadow: the share of compared calls that did not match (0.0 before any)."""
        samples, mismatches = self._compared
        return mismatches / samples if samples else 0.0

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
        if self.mode == "shadow":
            samples, mismatches = self._compared
            decision, why = decide_shadow(
                samples, mismatches, max_mismatch=self.max_mismatch, min_samples=self.min_samples
            )
        else:
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
        self._claim("promoting")
        made: list[RolloutEvent] = []

        def announce(info: VersionInfo) -> RolloutEvent:
            # built once, in the commit's transaction: its webhook rows are written with the
            # version, and the same event then reaches the rollout subscribers
            if not made:
                made.append(self._event("rollout.promoted", reason, "promoted", info.version))
            return made[0]

        try:
            snapshot = self._host.promote(
                self._evaluation,
                stable=self.stable,
                source=f"rollout {self.id}",
                announce=announce,
                document=self._document,
            )
        except RolloutError as exc:
            self._finish("aborted", exc.message)
            raise
        except BaseException:
            with self._lock:
                self.state = "running"  # nothing committed: it can be decided again
            raise
        self.promoted_version = snapshot.version
        self._finish("promoted", reason, announce(snapshot.info))
        return snapshot

    def abort(self, reason: str = "aborted by hand") -> None:
        """Stop the rollout; the stable version stays served and ``reason`` is recorded.

        Raises:
            RolloutError: already decided.
        """
        self._claim("aborted")
        self._finish("aborted", reason)

    def _claim(self, state: State) -> None:
        with self._lock:
            if self.state != "running":
                raise RolloutError(f"rollout {self.id} is already {self.state}")
            self.state = state

    def _end(self, state: Literal["aborted"], reason: str) -> None:
        try:
            self._claim(state)
        except (RolloutError, ClosedError):
            return
        self._finish(state, reason)

    def _supersede(self) -> bool:
        """Claim a running rollout for the abort a commit of another version causes."""
        with self._lock:
            if self.state != "running":
                return False
            self.state = "aborted"
            return True

    def _release(self) -> None:
        """The commit that superseded it failed: it runs on."""
        with self._lock:
            if self.state == "aborted" and self.reason is None:
                self.state = "running"

    def _finish(
        self,
        state: Literal["promoted", "aborted"],
        reason: str,
        event: RolloutEvent | None = None,
    ) -> None:
        """Record the decision and announce it: ``event`` is already in the outbox (written
        with the version it goes with) and only goes to the rollout subscribers."""
        with self._lock:
            self.state = state
            self.reason = reason
            self.decided_at = event.at if event is not None else self._host.now()
        self._stop.set()
        self._closer.close()
        log.log(
            logging.INFO if state == "promoted" else logging.WARNING,
            "hotconf: rollout %s %s: %s",
            self.id,
            state,
            reason,
        )
        if event is not None:
            self._host.deliver(event)
        else:
            self._announce(f"rollout.{state}", reason)  # type: ignore[arg-type]

    def _on_live_closed(self) -> None:
        with self._lock:
            if self.state == "running":
                self.state = "aborted"
                self.reason = "the LiveConfig was closed"
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._poll_interval):
            try:
                if self.state != "running":
                    return
                current = self._host.current
                if current is not self.stable:
                    why = f"the stable config changed to v{current.version} meanwhile"
                    self._end("aborted", why)
                    return
                self._read_signals()
                self._evaluate()
            except Exception:
                log.exception("hotconf: rollout %s: error while polling; polling goes on", self.id)

    def _announce(
        self,
        kind: Literal["rollout.started", "rollout.promoted", "rollout.aborted"],
        reason: str | None,
    ) -> None:
        event = RolloutEvent(kind, self.id, self._host.now(), self.status(), reason)
        self._host.announce(event, self.report)

    def _event(
        self,
        kind: Literal["rollout.promoted", "rollout.aborted"],
        reason: str,
        state: Literal["promoted", "aborted"],
        version: int | None = None,
    ) -> RolloutEvent:
        """The event of a decision about to be committed, as `status` will show it."""
        at = self._host.now()
        status = self.status()
        status.update(state=state, reason=reason, decided_at=at.isoformat())
        if version is not None:
            status["canary"] = {**status["canary"], "version": version}
        return RolloutEvent(kind, self.id, at, status, reason)

    # -- reporting ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """A JSON-ready view: state, arms with outcomes and error rates, progress, reason."""
        canary, stable = self.outcomes()
        samples, mismatches = self._compared
        progress = (samples if self.mode == "shadow" else canary.total) / self.min_samples
        status: dict[str, Any] = {
            "id": self.id,
            "name": self._host.name,
            "mode": self.mode,
            "scope": self.scope,
            "state": self.state,
            "reason": self.reason,
            "started_at": self.started_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "fraction": self.fraction,
            "budget": self.budget,
            "min_samples": self.min_samples,
            "progress": min(1.0, progress),
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
        if self.mode == "shadow":
            status["shadow"] = {
                "samples": samples,
                "mismatches": mismatches,
                "mismatch_rate": round(mismatches / samples if samples else 0.0, 6),
                "max_mismatch": self.max_mismatch,
                "last_mismatch": self._last_mismatch,
            }
        return status

    def __repr__(self) -> str:
        shown = "shadow" if self.mode == "shadow" else f"fraction={self.fraction}"
        return f"<Rollout {self.id} {self.state} {shown}>"


class Rollouts:
    """A LiveConfig's rollouts: the running one, the recent ones, and who hears of them."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._lock = threading.Lock()
        self.active: Rollout | None = None
        self._history: deque[Rollout] = deque(maxlen=50)
        self._subs: list[Subscription] = []

    def start(
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
        mode: Mode = "canary",
        max_mismatch: float = 0.0,
    ) -> Rollout:
        """Validate ``candidate`` and start a rollout (``LiveConfig.rollout`` documents it)."""
        if mode not in ("canary", "shadow"):
            raise ValueError(f"mode must be 'canary' or 'shadow', not {mode!r}")
        if mode == "shadow" and signals is not None:
            raise ValueError("a shadow rollout is judged by compare(), not by signals")
        if not 0.0 <= max_mismatch <= 1.0:
            raise ValueError(f"max_mismatch must be within [0, 1], not {max_mismatch}")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], not {fraction}")
        if not 0.0 <= budget <= 1.0:
            raise ValueError(f"budget must be within [0, 1], not {budget}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be at least 1, not {min_samples}")
        host = self._host
        evaluation = host.evaluate(candidate, format, force)
        if evaluation.load_error is not None:
            raise evaluation.load_error
        if evaluation.verdict == "invalid":
            raise ValidationError(
                "the candidate is invalid: no rollout started", evaluation.problems
            )
        if evaluation.verdict == "unchanged" or evaluation.checksum == host.current.checksum:
            raise RolloutError("the candidate is what is served now: nothing to roll out")
        assert evaluation.report is not None
        if evaluation.verdict == "held":
            raise ValidationError(
                f"the candidate's impact ({evaluation.level}) is above the gate: no "
                "rollout started; pass force=True to start it anyway",
                (Problem(evaluation.report.summary(), code="gate"),),
            )
        rollout = Rollout(
            host,
            evaluation,
            fraction=fraction,
            budget=budget,
            min_samples=min_samples,
            min_duration=min_duration,
            signals=signals,
            poll_interval=poll_interval,
            mode=mode,
            max_mismatch=max_mismatch,
        )
        rollout._document = (
            RawDocument("candidate", candidate, format)
            if isinstance(candidate, bytes)
            else RawDocument("candidate", canonical_json(thaw(candidate)), "json")
        )
        with self._lock:
            active = self.active
            if active is not None and active.state in ("running", "promoting"):
                raise RolloutError(f"rollout {active.id} is still {active.state}: decide it first")
            self.active = rollout
            self._history.appendleft(rollout)
        host.subscribers.attach(rollout._closer)
        if signals is not None:
            rollout._read_signals()  # the baseline
            rollout._thread = threading.Thread(
                target=rollout._run, name=f"hotconf-rollout-{rollout.id}", daemon=True
            )
            rollout._thread.start()
        log.info(
            "hotconf: %s rollout %s started on %s: %s; %s%s",
            mode,
            rollout.id,
            host.name,
            "readers keep the stable config"
            if mode == "shadow"
            else f"{fraction * 100:.1f}% of traffic",
            evaluation.report.summary(),
            "; a promotion publishes it to the whole fleet" if rollout.scope == "fleet" else "",
        )
        rollout._announce("rollout.started", None)
        return rollout

    def snapshot_for(self, routing_key: str | bytes | int, dyed: bool = False) -> Snapshot:
        active = self.active
        if active is None or active.state != "running":
            return self._host.current
        return active.snapshot_for(routing_key, dyed)

    def record_served(self, config: Any, snap: Snapshot | None, ok: bool) -> bool:
        """Count one request's outcome for the arm of the running canary that served it
        (`LiveConfig.record`): ``config`` is what it was served, ``snap`` its snapshot
        (``None`` for a model's instance of no recent version).

        Returns:
            ``config`` is a rollout's candidate, running or not: never a fleet's version.
        """
        active = self.active
        counting = active is not None and active.state == "running" and active.mode == "canary"
        if active is not None and (config is active.candidate or config is active.candidate_config):
            if counting:
                active.record(ok, canary=True)
            return True
        if counting and snap is not None and active is not None and snap is active.stable:
            active.record(ok, canary=False)
        return snap is not None and snap.info.status == "canary"

    def history(self) -> list[Rollout]:
        with self._lock:
            return list(self._history)

    def superseded(self) -> Rollout | None:
        """The running rollout a commit of another version ends, claimed for its abort
        (`Rollout._release` gives it back if that commit fails)."""
        active = self.active
        return active if active is not None and active._supersede() else None

    def subscribe(
        self, callback: Callable[[RolloutEvent], object], *, threaded: bool | None = None
    ) -> Subscription:
        """Subscribe ``callback`` to rollout events (``LiveConfig.on_rollout``).

        ``threaded``: call it in a thread of its own (default: unless the source is
        synchronous); ``live.events()`` passes ``False`` and hands the events to its event
        loop itself.
        """

        def forget(sub: Subscription) -> None:
            with self._lock:
                if sub in self._subs:
                    self._subs.remove(sub)

        sub = self._host.subscribers.add(
            callback,
            keys=(),  # matches no ChangeEvent: only rollout events reach it
            rejections=False,
            threaded=threaded,
            on_close=forget,
        )
        with self._lock:
            self._subs.append(sub)
        return sub

    def deliver(self, event: RolloutEvent) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.deliver(event)  # type: ignore[arg-type]  # Subscription is typed for config events


__all__ = [
    "Decision",
    "Host",
    "Mode",
    "Outcomes",
    "Rollout",
    "Rollouts",
    "Scope",
    "Signals",
    "bucket",
    "decide",
]
