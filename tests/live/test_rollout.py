"""In-process canary rollouts: bucketing, dyeing, the promotion rule, events, pinning."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.live.rollouts import Outcomes, bucket, decide
from hotconf.testing import MemorySource

from ..conftest import SCHEMA, wait_for

STABLE = {"db": {"host": "db.local", "pool_size": 5}}
CANDIDATE = {"db": {"host": "db.local", "pool_size": 8}}


@pytest.fixture
def live() -> Any:
    with hotconf.watch(MemorySource(STABLE), schema=SCHEMA, state_dir=None) as live:
        yield live


def events_of(live: hotconf.LiveConfig) -> list[hotconf.RolloutEvent]:
    seen: list[hotconf.RolloutEvent] = []
    live.on_rollout(seen.append)
    return seen


# -- the rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("canary", "stable", "expected"),
    [
        (Outcomes(10, 0), Outcomes(100, 0), None),  # not enough samples yet
        (Outcomes(100, 0), Outcomes(1000, 0), "promote"),
        (Outcomes(99, 1), Outcomes(1000, 0), "promote"),  # 1% == 0% + 1% budget: within
        (Outcomes(98, 2), Outcomes(1000, 0), "abort"),
        (Outcomes(95, 5), Outcomes(950, 50), "promote"),  # as bad as stable: within
        (Outcomes(0, 2), Outcomes(1000, 0), "abort"),  # 2 of 100 already over: abort early
        (Outcomes(5, 1), Outcomes(1000, 0), None),  # 1 of at least 100: not over yet
    ],
)
def test_decide(canary: Outcomes, stable: Outcomes, expected: str | None) -> None:
    decision, why = decide(canary, stable, budget=0.01, min_samples=100)
    assert decision == expected, why


def test_bucketing_is_stable_per_key_and_near_the_fraction() -> None:
    keys = [f"user-{i}" for i in range(20000)]
    share = sum(bucket(k, "r1") < 0.05 for k in keys) / len(keys)
    assert 0.04 < share < 0.06
    assert [bucket(k, "r1") for k in keys[:50]] == [bucket(k, "r1") for k in keys[:50]]
    assert bucket(42, "r1") == bucket("42", "r1") == bucket(b"42", "r1")
    assert bucket("user-1", "r1") != bucket("user-1", "r2")  # each rollout, its own slice


# -- routing ---------------------------------------------------------------------------


def test_snapshot_for_without_a_rollout_is_current(live: hotconf.LiveConfig) -> None:
    assert live.snapshot_for("anyone") is live.current
    assert live.snapshot_for("anyone", dyed=True) is live.current
    assert live.rollouts() == []


def test_snapshot_for_routes_consistently_and_dyed_always_gets_the_canary(
    live: hotconf.LiveConfig,
) -> None:
    rollout = live.rollout(CANDIDATE, fraction=0.2)
    answers = {k: live.snapshot_for(k) for k in range(2000)}
    canaried = [k for k, snap in answers.items() if snap is rollout.candidate]
    assert 0.15 < len(canaried) / len(answers) < 0.25
    assert all(live.snapshot_for(k) is answers[k] for k in range(2000))
    stable_key = next(k for k, snap in answers.items() if snap is live.current)
    assert live.snapshot_for(stable_key, dyed=True) is rollout.candidate
    assert rollout.candidate["db"]["pool_size"] == 8 and rollout.candidate.version == 0
    assert live.current["db"]["pool_size"] == 5  # nothing committed yet
    assert live.rollouts() == [rollout]


# -- refusals --------------------------------------------------------------------------


def test_an_invalid_candidate_is_refused(live: hotconf.LiveConfig) -> None:
    with pytest.raises(hotconf.ValidationError) as err:
        live.rollout({"db": {"host": "db.local", "pool_size": 0}})
    assert err.value.problems[0].path == "/db/pool_size"
    with pytest.raises(hotconf.LoadError):
        live.rollout(b"db: [unclosed")
    assert live.rollouts() == []


def test_a_candidate_above_the_gate_needs_force(live: hotconf.LiveConfig) -> None:
    big = {"db": {"host": "db.local", "pool_size": 500}}  # 100x: risky
    with hotconf.watch(MemorySource(STABLE), schema=SCHEMA, state_dir=None, gate="safe") as gated:
        with pytest.raises(hotconf.ValidationError, match="above the gate"):
            gated.rollout(big)
        assert gated.rollout(big, force=True).state == "running"


def test_one_rollout_at_a_time_and_no_empty_rollouts(live: hotconf.LiveConfig) -> None:
    with pytest.raises(hotconf.RolloutError, match="nothing to roll out"):
        live.rollout(STABLE)
    rollout = live.rollout(CANDIDATE)
    with pytest.raises(hotconf.RolloutError, match="still running"):
        live.rollout({"db": {"host": "db.local", "pool_size": 9}})
    rollout.abort()
    assert live.rollout({"db": {"host": "db.local", "pool_size": 9}}).state == "running"


# -- decisions -------------------------------------------------------------------------


def test_good_signals_promote_it_as_a_normal_commit(live: hotconf.LiveConfig) -> None:
    seen = events_of(live)
    changes: list[hotconf.ChangeEvent] = []
    live.subscribe(changes.append)
    rollout = live.rollout(CANDIDATE, fraction=0.5, budget=0.01, min_samples=50)
    for key in range(400):
        snap = live.snapshot_for(key)
        rollout.record(True)  # the arm comes from the snapshot_for just above
        if rollout.state != "running":
            assert snap is rollout.candidate  # decided on the 50th canary outcome
            break
    assert rollout.state == "promoted"
    assert "within" in (rollout.reason or "")
    assert (live.version, live.current["db"]["pool_size"]) == (2, 8)
    assert rollout.promoted_version == 2
    assert live.history()[0].source == f"rollout {rollout.id}"
    assert [e.type for e in seen] == ["rollout.started", "rollout.promoted"]
    assert seen[-1].status["canary"]["ok"] == 50 and seen[-1].status["progress"] == 1.0
    assert changes[-1].changed == ("db.pool_size",)  # subscribers heard a normal change
    assert live.snapshot_for("anyone") is live.current  # the rollout is over


def test_bad_signals_abort_it_and_keep_stable(live: hotconf.LiveConfig) -> None:
    seen = events_of(live)
    rollout = live.rollout(CANDIDATE, fraction=0.5, budget=0.02, min_samples=100)
    for _ in range(200):
        rollout.record(True, live.current)  # stable: all fine
    for _ in range(3):
        rollout.record(False, rollout.candidate)
    assert rollout.state == "aborted"
    assert "over stable + budget" in (rollout.reason or "")
    assert (live.version, live.current["db"]["pool_size"]) == (1, 5)
    assert [e.type for e in seen] == ["rollout.started", "rollout.aborted"]
    assert seen[-1].reason == rollout.reason
    assert rollout.status()["canary"]["failed"] == 3
    with pytest.raises(hotconf.RolloutError, match="already aborted"):
        rollout.promote()


def test_manual_promote_and_abort(live: hotconf.LiveConfig) -> None:
    rollout = live.rollout(CANDIDATE)
    snap = rollout.promote()
    assert snap is live.current and snap["db"]["pool_size"] == 8
    assert rollout.reason == "promoted by hand"
    with pytest.raises(hotconf.RolloutError):
        rollout.abort()
    second = live.rollout(STABLE)
    second.abort("not today")
    assert (second.state, second.reason, live.version) == ("aborted", "not today", 2)


def test_record_needs_to_know_the_arm(live: hotconf.LiveConfig) -> None:
    rollout = live.rollout(CANDIDATE)
    box: list[BaseException] = []

    def elsewhere() -> None:  # a thread that never called snapshot_for
        try:
            rollout.record(True)
        except ValueError as exc:
            box.append(exc)

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert box and "cannot tell the arm" in str(box[0])
    rollout.record(False, canary=True)
    assert rollout.outcomes()[0] == Outcomes(0, 1)


def test_signals_are_polled_and_decide(live: hotconf.LiveConfig) -> None:
    counters = {"canary": [1000, 7], "stable": [5000, 3]}  # cumulative: the baseline

    def signals() -> dict[str, tuple[int, int]]:
        return {arm: (ok, failed) for arm, (ok, failed) in counters.items()}

    rollout = live.rollout(CANDIDATE, min_samples=20, signals=signals, poll_interval=0.01)
    counters["stable"][0] += 100
    counters["canary"][0] += 30
    wait_for(lambda: rollout.state == "promoted", what="promotion from signals")
    assert rollout.status()["canary"]["ok"] == 30  # the baseline was subtracted
    assert live.current["db"]["pool_size"] == 8


def test_the_stable_config_changing_aborts_the_rollout() -> None:
    source = MemorySource(STABLE)
    with hotconf.watch(source, schema=SCHEMA, state_dir=None) as live:
        rollout = live.rollout(CANDIDATE, fraction=1.0)
        source.set({"db": {"host": "db.other", "pool_size": 5}})
        assert live.snapshot_for("k") is live.current
        assert rollout.state == "aborted" and "changed to v2" in (rollout.reason or "")


def test_closing_the_live_config_ends_the_rollout_and_its_thread() -> None:
    live = hotconf.watch(MemorySource(STABLE), schema=SCHEMA, state_dir=None)
    rollout = live.rollout(CANDIDATE, signals=lambda: {}, poll_interval=0.01)
    live.close()
    assert rollout.state == "aborted" and rollout.reason == "the LiveConfig was closed"
    # the conftest fixture fails this test if hotconf-rollout-... is still running


def test_a_promotion_survives_a_restart(tmp_path: Path) -> None:
    source = MemorySource(STABLE)
    with hotconf.watch(source, schema=SCHEMA, state_dir=tmp_path) as live:
        live.rollout(CANDIDATE).promote()
    with hotconf.watch(source, schema=SCHEMA, state_dir=tmp_path) as live:
        assert (live.version, live.current["db"]["pool_size"]) == (2, 8)
        source.set({"db": {"host": "db.local", "pool_size": 6}})  # the source moves on
        assert live.current["db"]["pool_size"] == 6


def test_rollout_events_reach_only_rollout_subscribers() -> None:
    source = MemorySource(STABLE)
    with hotconf.watch(source, schema=SCHEMA, state_dir=None) as live:
        every: list[object] = []
        live.subscribe(every.append, rejections=True)
        rollouts = events_of(live)
        live.rollout(CANDIDATE).abort()
        source.set(CANDIDATE)
        assert [type(e).__name__ for e in every] == ["ChangeEvent"]
        assert [e.type for e in rollouts] == ["rollout.started", "rollout.aborted"]
        assert rollouts[0].to_dict()["status"]["state"] == "running"


def test_a_decision_is_written_with_the_version_it_goes_with(tmp_path: Path) -> None:
    hook = hotconf.Subscriber(
        "http://127.0.0.1:9/hook",
        hotconf.webhooks.new_secret(),
        events=hotconf.webhooks.ALL_EVENT_TYPES,
        allow_private=True,
        name="r",
    )
    source = MemorySource(STABLE)
    with hotconf.watch(source, schema=SCHEMA, state_dir=tmp_path, webhooks=[hook]) as live:
        seen = events_of(live)
        live.rollout(CANDIDATE).promote()
        ended = live.rollout({"db": {"host": "db.local", "pool_size": 9}})
        source.set({"db": {"host": "db.other", "pool_size": 8}})  # the stable config moves on
        assert (
            ended.state == "aborted" and ended.reason == "the stable config changed to v3 meanwhile"
        )
        assert live.webhooks is not None
        rows = [(d.type, d.version) for d in reversed(live.webhooks.deliveries())]
    assert rows == [
        ("rollout.started", 1),
        ("config.changed", 2),
        ("rollout.promoted", 2),
        ("rollout.started", 2),
        ("config.changed", 3),
        ("rollout.aborted", 2),  # committed with v3: the version that ended it
    ]
    kinds = ["rollout.started", "rollout.promoted", "rollout.started", "rollout.aborted"]
    assert [e.type for e in seen] == kinds
    assert seen[1].status["state"] == "promoted" and seen[1].status["canary"]["version"] == 2
    assert seen[3].reason == ended.reason and seen[3].at == ended.decided_at
