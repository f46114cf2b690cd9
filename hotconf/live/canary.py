"""The canary rule shared by in-process rollouts (`hotconf.live.rollouts`) and fleet
canaries (`hotconf.fleet.publisher`): outcomes per arm, the promote/abort decision, and
routing-key bucketing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Decision = Literal["promote", "abort"]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Counted outcomes of one arm (canary or stable): successes and failures."""

    ok: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.ok + self.failed

    @property
    def error_rate(self) -> float:
        """failed / total (0.0 with no samples)."""
        return self.failed / self.total if self.total else 0.0

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes(self.ok + other.ok, self.failed + other.failed)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "error_rate": round(self.error_rate, 6)}

    @classmethod
    def coerce(cls, value: Outcomes | tuple[int, int] | list[int]) -> Outcomes:
        if isinstance(value, Outcomes):
            return value
        ok, failed = value
        return cls(int(ok), int(failed))


Signals = Callable[[], Mapping[str, Outcomes | tuple[int, int]]]
"""Reads outcomes from the app: ``{"canary": (ok, failed), "stable": (ok, failed)}``, as
cumulative counters (the first reading is the baseline, so Prometheus-style counters work)."""


def decide(
    canary: Outcomes, stable: Outcomes, *, budget: float, min_samples: int
) -> tuple[Decision | None, str]:
    """The promotion rule, shared by in-process and fleet canaries.

    Returns:
        ``("abort", why)``, ``("promote", why)`` or ``(None, why)`` (not enough samples yet).
    """
    limit = stable.error_rate + budget
    # The best the canary can still do: every sample it lacks succeeds.
    best = canary.failed / max(canary.total, min_samples)
    rates = (
        f"canary {canary.error_rate:.2%} of {canary.total}, stable {stable.error_rate:.2%} "
        f"of {stable.total}, budget {budget:.2%}"
    )
    if best > limit:
        return "abort", f"canary error rate over stable + budget ({rates})"
    if canary.total >= min_samples:
        return "promote", f"canary error rate within stable + budget ({rates})"
    return None, f"{canary.total}/{min_samples} canary samples ({rates})"


def decide_shadow(
    samples: int, mismatches: int, *, max_mismatch: float, min_samples: int
) -> tuple[Decision | None, str]:
    """The rule of a shadow rollout: abort as soon as the mismatches put it over
    ``max_mismatch`` even if every call it still lacks matches; promote once it has
    ``min_samples`` compared calls at a mismatch rate within ``max_mismatch``."""
    rate = mismatches / samples if samples else 0.0
    shown = f"{mismatches} mismatches in {samples} ({rate:.2%}), max {max_mismatch:.2%}"
    if mismatches / max(samples, min_samples) > max_mismatch:
        return "abort", f"shadow mismatch rate over the maximum ({shown})"
    if samples >= min_samples:
        return "promote", f"shadow mismatch rate within the maximum ({shown})"
    return None, f"{samples}/{min_samples} shadow samples ({shown})"


def bucket(routing_key: str | bytes | int, salt: str) -> float:
    """Where a routing key falls in [0, 1): a keyed hash, stable for a given salt."""
    raw = routing_key if isinstance(routing_key, bytes) else str(routing_key).encode()
    digest = hashlib.blake2b(raw, digest_size=8, key=salt.encode()[:64]).digest()
    return int.from_bytes(digest, "big") / 2**64


__all__ = ["Decision", "Outcomes", "Signals", "bucket", "decide", "decide_shadow"]
