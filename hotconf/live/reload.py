"""What a LiveConfig does under its writer lock: one run of the pipeline on the source's
content (read, evaluate, then reject, hold, skip or commit), the rejection it records, and a
rollback. Functions over the `LiveConfig` they run on, as `hotconf.live.startup`'s are: its
state stays in its one class, which calls them with its lock held (docs/architecture.md,
"Reload, step by step").
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ..errors import HotconfError, Problem, SourceError, ValidationError
from ..events import Rejection, ReloadResult
from ..pipeline import evaluate as pipeline
from ..pipeline.evaluate import evaluate
from ..pipeline.impact import ImpactReport
from ..pipeline.snapshot import Snapshot
from .startup import REJECTED_LOG, follow_pin
from .worker import Deferred

if TYPE_CHECKING:
    from .config import LiveConfig

log = logging.getLogger("hotconf")


def run_candidate(
    live: LiveConfig[Any], trigger: str, defer: bool, force: bool
) -> ReloadResult | None:
    """One run under the writer lock: read → evaluate → reject, hold, skip or commit.

    ``None``: nothing to do (the same bytes, or the same failure, as last time).
    """
    prev: Snapshot | None = getattr(live, "_snapshot", None)
    mark = time.perf_counter()
    live._candidate_digest = None
    try:
        docs = live._source.read()
    except HotconfError as exc:  # missing, unreadable, over the size limit
        failure = f"failed: {exc.message}"
        if trigger == "watch" and failure == live._last_digest:
            return None  # the same failure, already recorded
        if defer:
            raise Deferred from None
        live._last_digest = failure
        raise
    digest = live._candidate_digest = pipeline.digest(docs)
    timings = {"read": time.perf_counter() - mark}
    if trigger == "watch" and digest == live._last_digest:
        return None  # identical bytes: not even a candidate
    # With nothing served (the last-known-good failed the current checks) the source's
    # content is a candidate like any other, pinned or not.
    pins = (live._pinned,) if prev is not None and live._pinned is not None else ()
    ev = evaluate(
        docs,
        schema=live._schema,
        model=live._model,
        validators=live._validators,
        apply_defaults=live._defaults,
        previous=prev,
        known=(prev.checksum, *pins) if prev is not None else (),
        known_written=pins,  # a pin is of the content as written (or, from before, not)
        gate=None if force else live._gate,
        report_unparsed=False,
        limits=live._limits,
        secrets=live._secrets,
        cache=live._parse_cache,
    )
    timings.update(ev.timings)
    if ev.load_error is not None:
        if defer:
            raise Deferred from None
        live._last_digest = digest
        raise ev.load_error
    live._last_digest = digest
    csum, wsum = ev.checksum, ev.written_checksum
    assert csum is not None and wsum is not None
    if ev.valid:
        evaluated = getattr(live._source, "evaluated", None)
        if evaluated is not None:
            evaluated(docs, csum)  # a fleet source maps it to the version it delivered
    if not live._stand_in:  # a stand-in for the source says nothing of the source
        follow_pin(live, csum, wsum)  # a rollback's pin: cleared once the source changes
    if ev.verdict == "unchanged":
        assert prev is not None
        if csum == prev.checksum and ev.origin is not None:
            # The same content, read from the layers again (a restart over the
            # last-known-good, an edit that changed nothing): they explain it now.
            prev._origin = ev.origin
        if csum != prev.checksum:
            log.info("hotconf: %s unchanged since the rollback to v%d", live.name, prev.version)
        live._source_checksum = wsum
        live.degraded = False
        return ReloadResult("noop", prev, timings=timings)
    report = ev.report
    assert report is not None
    if ev.verdict == "invalid":
        if defer:
            live._last_digest = None
            raise Deferred
        return reject(live, ev.problems, csum, report)
    live._source_checksum = wsum
    if ev.verdict == "noop":  # e.g. a set reordered: nothing a consumer can see
        live.degraded = False
        return ReloadResult("noop", prev, report=report, timings=timings)
    if ev.verdict == "held":
        why = "; ".join(
            f"{c.pointer}: {c.reason}" for c in report.changes if c.level == report.level
        )
        gate = Problem(
            f"impact {report.level} is above the gate ({live._gate}): {why}; "
            "apply it with reload(force=True)",
            code="gate",
        )
        # Held once: polls don't record it again; reload(force=True) or a new edit moves on.
        return reject(live, (gate,), csum, report)
    numbered = getattr(live._source, "version_of", None)
    number: int | None = numbered(docs) if numbered is not None else None
    if number is not None and prev is not None and number <= prev.version:
        # a fleet's canary instance going back to the stable version: a rollback to it
        return live._commit(
            ev,
            prev,
            source=live._source.name,
            timings=timings,
            version=number,
            rolled_back_from=prev.version,
            restores=number,
        )
    return live._commit(ev, prev, source=live._source.name, timings=timings, version=number)


def pin_for(live: LiveConfig[Any], prev: Snapshot) -> str:
    """What a rollback (or a promoted canary) keeps out: the source's content.

    A pin already set is kept, however many rollbacks follow: the source has not changed
    since (a change clears it), so it still holds the pinned content, whatever version is
    served now (invariant 4). Else the source's content as last read; else, when the
    source was never read as valid, what is served.
    """
    return live._pinned or live._source_checksum or prev.checksum


def reject(
    live: LiveConfig[Any],
    problems: tuple[Problem, ...],
    csum: str | None,
    report: ImpactReport | None = None,
) -> ReloadResult:
    """Record a rejection (with its webhook rows), say it, and keep what is served."""
    rejection = Rejection(live._clock(), live._source.name, problems, csum)
    prev: Snapshot | None = getattr(live, "_snapshot", None)
    outbox = (
        live.webhooks._announce_rejection(live.name, prev, rejection, report)
        if live.webhooks is not None
        else []
    )
    try:
        live._store.record_rejection(rejection, outbox)
    except HotconfError:
        log.exception("hotconf: could not record a rejection")
    else:
        if outbox and live.webhooks is not None:
            live.webhooks.wake()
    object.__setattr__(live, "last_rejection", rejection)
    if prev is not None:
        live.degraded = True
    log.warning(
        "hotconf: %s candidate rejected; still serving %s:\n%s",
        live.name,
        f"v{prev.version}" if prev else "nothing",
        "\n".join(f"  {p}" for p in problems),
        extra=REJECTED_LOG,
    )
    live._subscribers.notify(rejection)
    return ReloadResult("rejected", prev, rejection=rejection, report=report)


def roll_back(live: LiveConfig[Any], to: int | None) -> ReloadResult:
    """`LiveConfig.rollback`: evaluate the target against what is served, commit it pinned."""
    live._ensure_open()
    if getattr(live._source, "version_of", None) is not None:
        raise SourceError(
            f"{live.name} follows a fleet: roll the fleet back (hotconf rollback --etcd URL "
            f"--name {live.name}, or hotconf.fleet.rollback), not one instance"
        )
    with live._lock:
        prev = live._snapshot
        target = live._store.get(to if to is not None else prev.version - 1)
        ev = evaluate(
            target.data,
            schema=live._schema,
            model=live._model,
            validators=live._validators,
            apply_defaults=live._defaults,
            previous=prev,
            secrets=live._secrets,
        )
        if ev.problems:
            raise ValidationError(
                f"cannot roll back to v{target.info.version}: it fails the current checks",
                ev.problems,
            )
        if ev.checksum == prev.checksum:
            return ReloadResult("noop", prev)
        return live._commit(
            ev,
            prev,
            source=f"rollback to v{target.info.version}",
            rolled_back_from=prev.version,
            restores=target.info.version,
            pin=pin_for(live, prev),
        )


__all__ = ["pin_for", "reject", "roll_back", "run_candidate"]
