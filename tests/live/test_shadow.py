"""Shadow rollouts: readers keep the stable config; `Rollout.compare` runs code on both
snapshots and the mismatch rate decides."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import hotconf
from hotconf.live.canary import decide_shadow
from hotconf.testing import MemorySource

from ..conftest import SCHEMA

STABLE = {"db": {"host": "db.local", "pool_size": 5}}
CANDIDATE = {"db": {"host": "db.local", "pool_size": 8}}


@pytest.fixture
def live() -> Iterator[hotconf.LiveConfig]:
    with hotconf.watch(MemorySource(STABLE), schema=SCHEMA, state_dir=None) as live:
        yield live


def host(snap: Mapping[str, Any]) -> str:
    return str(snap["db"]["host"])


def connections(snap: Mapping[str, Any], per_pool: int) -> int:
    return int(snap["db"]["pool_size"]) * per_pool


@pytest.mark.parametrize(
    ("samples", "mismatches", "expected"),
    [
        (10, 0, None),  # not enough samples yet
        (100, 0, "promote"),
        (100, 1, "promote"),  # 1% == the maximum: within
        (100, 2, "abort"),
        (5, 2, "abort"),  # 2 of at least 100 are over 1% already: abort early
        (50, 1, None),  # 1 of at least 100: not over yet
    ],
)
def test_decide_shadow(samples: int, mismatches: int, expected: str | None) -> None:
    decision, why = decide_shadow(samples, mismatches, max_mismatch=0.01, min_samples=100)
    assert decision == expected, why


def test_readers_keep_the_stable_config_and_matching_calls_promote(
    live: hotconf.LiveConfig,
) -> None:
    seen: list[hotconf.RolloutEvent] = []
    live.on_rollout(seen.append)
    rollout = live.rollout(CANDIDATE, mode="shadow", min_samples=20, max_mismatch=0.0)
    assert rollout.mode == "shadow" and rollout.scope == "instance"
    for key in range(200):
        assert live.snapshot_for(key, dyed=True) is live.current  # nobody gets the candidate
    for _ in range(20):
        assert rollout.compare(host) == "db.local"
    assert rollout.state == "promoted" and rollout.mismatch_rate == 0.0
    assert "within the maximum (0 mismatches in 20" in (rollout.reason or "")
    assert (live.version, live.current["db"]["pool_size"]) == (2, 8)
    assert [e.type for e in seen] == ["rollout.started", "rollout.promoted"]
    assert seen[-1].status["shadow"]["samples"] == 20 and seen[-1].status["mode"] == "shadow"
    assert rollout.compare(connections, 10) == 80  # decided: it runs on what is served


def test_differences_and_exceptions_are_mismatches_and_abort(live: hotconf.LiveConfig) -> None:
    rollout = live.rollout(CANDIDATE, mode="shadow", min_samples=100, max_mismatch=0.02)

    def fails_on_the_candidate(snap: Mapping[str, Any]) -> int:
        if snap["db"]["pool_size"] == 8:
            raise KeyError("replicas")
        return 1

    for _ in range(50):
        assert rollout.compare(host) == "db.local"
    assert rollout.compare(fails_on_the_candidate) == 1  # the caller never sees it
    assert rollout.status()["shadow"]["last_mismatch"] == "the candidate raised KeyError"
    assert rollout.state == "running" and rollout.mismatch_rate == pytest.approx(1 / 51)
    with pytest.raises(ZeroDivisionError):  # the stable side's exception is the caller's
        rollout.compare(lambda snap: 1 / 0)
    assert rollout.status()["shadow"]["mismatches"] == 2
    assert rollout.state == "running"  # 2 of at least 100: not over 2% yet
    assert rollout.compare(connections, per_pool=10) == 50  # 50 on stable, 80 on the candidate
    assert rollout.state == "aborted" and "over the maximum (3 mismatches in 53" in (
        rollout.reason or ""
    )
    assert (live.version, live.current["db"]["pool_size"]) == (1, 5)


def test_shadow_and_canary_calls_are_not_mixed(live: hotconf.LiveConfig) -> None:
    with pytest.raises(ValueError, match="not by signals"):
        live.rollout(CANDIDATE, mode="shadow", signals=lambda: {})
    with pytest.raises(ValueError, match="mode must be"):
        live.rollout(CANDIDATE, mode="dark")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_mismatch"):
        live.rollout(CANDIDATE, mode="shadow", max_mismatch=1.5)
    shadow = live.rollout(CANDIDATE, mode="shadow")
    with pytest.raises(hotconf.RolloutError, match="use compare"):
        shadow.record(True, canary=True)
    shadow.abort()
    canary = live.rollout(CANDIDATE)
    with pytest.raises(hotconf.RolloutError, match="compare\\(\\) is for shadow"):
        canary.compare(host)
