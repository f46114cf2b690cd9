"""The values the pipeline hands out: `ChangeEvent`, `Rejection` and `ReloadResult`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .errors import Problem
from .pipeline.diff import Change
from .pipeline.impact import ImpactReport
from .pipeline.levels import Level
from .pipeline.paths import to_dotted
from .pipeline.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A new version went live.

    Attributes:
        type: ``"config.changed"``, or ``"config.rolled_back"`` for a rollback.
        previous: the snapshot served before (``None`` for the first version).
        current: the snapshot served now.
        report: the `ImpactReport`: what changed, path by path, with levels and reasons;
            secret values are redacted there (read the real ones from ``current``).
    """

    type: Literal["config.changed", "config.rolled_back"]
    previous: Snapshot | None
    current: Snapshot
    report: ImpactReport

    @property
    def version(self) -> int:
        return self.current.version

    @property
    def changes(self) -> tuple[Change, ...]:
        """Each change with its level and reason (secret values redacted)."""
        return self.report.changes

    @property
    def level(self) -> Level:
        """The impact level of this version (``restart``: restart to feel it)."""
        return self.report.level

    @property
    def changed(self) -> tuple[str, ...]:
        """The changed paths as dotted keys (``"db.pool_size"``), in report order."""
        return tuple(to_dotted(c.path) for c in self.changes)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A candidate was refused; the last-known-good stays served.

    Every rejection is recorded, logged and announced (docs/architecture.md, invariant 6).

    Attributes:
        at: when (UTC).
        source: where the candidate came from.
        problems: why; messages are redacted.
        checksum: the candidate's canonical checksum, when it got far enough to have one.
    """

    at: datetime
    source: str
    problems: tuple[Problem, ...]
    checksum: str | None = None
    type: Literal["config.rejected"] = "config.rejected"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "at": self.at.isoformat(),
            "source": self.source,
            "checksum": self.checksum,
            "problems": [p.to_dict() for p in self.problems],
        }


Event = ChangeEvent | Rejection


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What one run of the pipeline did.

    Attributes:
        status: ``applied`` (a new version is live), ``noop`` (nothing new: same bytes or same
            canonical content) or ``rejected`` (the candidate was refused).
        snapshot: the snapshot served after the run: the new one when applied, else the one
            still served (``None`` only when nothing valid was ever loaded).
        rejection: the `Rejection` when rejected.
        report: the `ImpactReport` of the candidate, when it got far enough to have one.
        previous: the snapshot served before, when applied.
        timings: seconds spent per stage (``read``, ``parse``, ``hash``, ``freeze``,
            ``validate``, ``diff``, ``commit``), as far as the run went.
    """

    status: Literal["applied", "noop", "rejected"]
    snapshot: Snapshot | None
    rejection: Rejection | None = None
    report: ImpactReport | None = None
    previous: Snapshot | None = field(default=None, repr=False)
    timings: Mapping[str, float] = field(default_factory=dict, repr=False)

    @property
    def version(self) -> int | None:
        return self.snapshot.version if self.snapshot is not None else None

    @property
    def changes(self) -> tuple[Change, ...]:
        """The changes applied (or that a rejected candidate would have made)."""
        return self.report.changes if self.report is not None else ()

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.rejection.problems if self.rejection is not None else ()


@dataclass(frozen=True, slots=True)
class RolloutEvent:
    """A canary rollout started, was promoted, or was aborted (``live.on_rollout``).

    Attributes:
        type: ``"rollout.started"``, ``"rollout.promoted"`` or ``"rollout.aborted"``.
        rollout: the rollout's id.
        at: when (UTC).
        status: the rollout's `status()` at that moment: candidate and stable checksums,
            outcomes per arm, error rates, budget, progress, reason.
        reason: why it was promoted or aborted (``None`` when started).
    """

    type: Literal["rollout.started", "rollout.promoted", "rollout.aborted"]
    rollout: str
    at: datetime
    status: Mapping[str, Any]
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "rollout": self.rollout,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "status": dict(self.status),
        }
