"""`LiveConfig` as a canary rollout sees it: the `hotconf.live.rollouts.Host` it is given."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import RolloutError
from ..events import RolloutEvent
from ..pipeline.evaluate import Evaluation
from ..pipeline.impact import ImpactReport
from ..pipeline.snapshot import Snapshot
from .subscriptions import Subscribers

if TYPE_CHECKING:
    from .config import LiveConfig


class RolloutHost:
    """`LiveConfig` as a rollout sees it (`hotconf.live.rollouts.Host`): nothing more."""

    __slots__ = ("_live",)

    def __init__(self, live: LiveConfig) -> None:
        self._live = live

    @property
    def name(self) -> str:
        return self._live.name

    @property
    def current(self) -> Snapshot:
        return self._live.current

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

    def promote(self, evaluation: Evaluation, *, stable: Snapshot, source: str) -> Snapshot:
        live = self._live
        with live._lock:
            live._ensure_open()
            prev = live.current
            if prev is not stable:
                raise RolloutError(
                    f"{source}: the stable config changed to v{prev.version} meanwhile; "
                    "not promoted"
                )
            # The evaluation was made against `stable`, still served: its report holds.
            # Keep the source's unchanged content from undoing the promotion at the next
            # poll or restart, exactly as rollback() does.
            result = live._commit(
                evaluation, prev, source=source, pin=live._source_checksum or prev.checksum
            )
        assert result.snapshot is not None
        return result.snapshot

    def announce(self, event: RolloutEvent, report: ImpactReport) -> None:
        live = self._live
        if live.webhooks is not None:
            live.webhooks._announce_rollout(live.name, event, report)
        live._rollouts.deliver(event)
