"""`LiveConfig` as a canary rollout sees it: the `hotconf.live.rollouts.Host` interface, and
nothing more. It reaches into the LiveConfig it serves (its lock, its commit), which is why it
lives beside it and nowhere else uses it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import RolloutError
from ..events import RolloutEvent
from ..pipeline.evaluate import Evaluation
from ..pipeline.impact import ImpactReport
from ..pipeline.snapshot import Snapshot, VersionInfo
from ..sources import RawDocument
from .reload import pin_for
from .subscriptions import Subscribers

if TYPE_CHECKING:
    from ..webhooks.deliveries import OutboxRow
    from ..webhooks.manager import Webhooks
    from .config import LiveConfig
    from .rollouts import Rollout


def commit_rows(
    webhooks: Webhooks | None,
    name: str,
    kind: Literal["config.changed", "config.rolled_back"],
    prev: Snapshot | None,
    report: ImpactReport,
    announce: Callable[[VersionInfo], RolloutEvent] | None,
    ending: Rollout | None,
    aborted: Callable[[VersionInfo], RolloutEvent],
) -> Callable[[VersionInfo], list[OutboxRow]] | None:
    """What a commit (`LiveConfig._commit`) writes to the webhook outbox, built in its
    transaction once the version is known: the config event, and the rollout event that goes
    with it (a promotion's ``announce``, or the abort of the rollout it ``ending``)."""
    if webhooks is None:
        return None
    change = webhooks._announce_change(kind, name, prev, report) if prev else None
    if change is None and announce is None and ending is None:
        return None

    def rows(info: VersionInfo) -> list[OutboxRow]:
        found = list(change(info)) if change is not None else []
        if announce is not None:
            found += webhooks._rollout_rows(name, announce(info), report)
        if ending is not None:
            found += webhooks._rollout_rows(name, aborted(info), ending.report)
        return found

    return rows


class RolloutHost:
    """`LiveConfig` as a rollout sees it (`hotconf.live.rollouts.Host`): nothing more."""

    __slots__ = ("_live",)

    def __init__(self, live: LiveConfig[Any]) -> None:
        self._live = live

    @property
    def name(self) -> str:
        return self._live.name

    @property
    def current(self) -> Snapshot:
        return self._live._snapshot

    @property
    def subscribers(self) -> Subscribers:
        return self._live._subscribers

    def now(self) -> datetime:
        return self._live._clock()

    def evaluate(
        self, candidate: bytes | Mapping[str, Any], format: str, force: bool
    ) -> Evaluation:
        live = self._live
        return live._evaluate(candidate, format, gate=None if force else live._gate)

    @property
    def scope(self) -> Literal["instance", "fleet"]:
        return "fleet" if hasattr(self._live._source, "publish_promotion") else "instance"

    def promote(
        self,
        evaluation: Evaluation,
        *,
        stable: Snapshot,
        source: str,
        announce: Callable[[VersionInfo], RolloutEvent],
        document: RawDocument | None,
    ) -> Snapshot:
        live = self._live
        with live._lock:
            live._ensure_open()
            prev = live._snapshot
            if prev is not stable:
                raise RolloutError(
                    f"{source}: the stable config changed to v{prev.version} meanwhile; "
                    "not promoted"
                )
            publish = getattr(live._source, "publish_promotion", None)
            if publish is not None and document is not None:
                # fleet scope: the fleet's next version, if the fleet still serves `stable`
                number = publish(document, expect=prev.version, checksum=evaluation.checksum)
                result = live._commit(
                    evaluation, prev, source=source, version=number, announce=announce
                )
            else:
                # The evaluation was made against `stable`, still served: its report holds.
                # Keep the source's unchanged content from undoing the promotion at the next
                # poll or restart, exactly as rollback() does.
                result = live._commit(
                    evaluation,
                    prev,
                    source=source,
                    pin=pin_for(live, prev),
                    announce=announce,
                )
        assert result.snapshot is not None
        return result.snapshot

    def announce(self, event: RolloutEvent, report: ImpactReport) -> None:
        live = self._live
        if live.webhooks is not None:
            live.webhooks._announce_rollout(live.name, event, report)
        live._rollouts.deliver(event)

    def deliver(self, event: RolloutEvent) -> None:
        self._live._rollouts.deliver(event)
