"""The canary methods of `LiveConfig`, delegating to `hotconf.live.rollouts`.

A mixin of `hotconf.live.config.LiveConfig`, kept in its own module for size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from ..events import RolloutEvent
from ..pipeline.snapshot import Snapshot
from .rollouts import Rollout, Signals
from .rollouts import on_rollout as _on_rollout
from .rollouts import rollouts as _rollouts
from .rollouts import snapshot_for as _snapshot_for
from .rollouts import start as _start_rollout
from .subscriptions import Subscription

if TYPE_CHECKING:
    from .config import LiveConfig


class RollingOut:
    """`LiveConfig`'s canary rollouts (a mixin)."""

    if not TYPE_CHECKING:  # mypy would refuse the assignments LiveConfig's slots allow
        __slots__ = ()

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
        return _start_rollout(
            cast("LiveConfig", self),
            candidate,
            fraction=fraction,
            budget=budget,
            min_samples=min_samples,
            min_duration=min_duration,
            signals=signals,
            poll_interval=poll_interval,
            format=format,
            force=force,
        )

    def snapshot_for(self, routing_key: str | bytes | int, dyed: bool = False) -> Snapshot:
        """The snapshot to serve one request with: the canary or the stable one.

        Without a running rollout this is ``live.current``. With one, the same routing key
        always gets the same answer, and a dyed request (say, one carrying an
        ``x-hotconf-canary`` header) always gets the canary.
        """
        return _snapshot_for(cast("LiveConfig", self), routing_key, dyed)

    def rollouts(self) -> list[Rollout]:
        """Rollouts on this LiveConfig, newest first (the running one, if any, first)."""
        return _rollouts(cast("LiveConfig", self))

    def on_rollout(self, callback: Callable[[RolloutEvent], object]) -> Subscription:
        """Call ``callback(event)`` with each `RolloutEvent` (started, promoted, aborted).

        Returns:
            A `Subscription`; ``close()`` it to stop.
        """
        return _on_rollout(cast("LiveConfig", self), callback)
