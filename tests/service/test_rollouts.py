"""``GET /v1/rollouts`` and the rollout and webhook metrics, on a real server (every response
checked against the API document by the test client)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

# The HTTP service needs the serve extra (scripts/install-test-deps installs it).
pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("prometheus_client", reason="needs the serve extra: pip install -e '.[serve]'")

import hotconf
from hotconf.service.app import Service

from ..conftest import SCHEMA, wait_for
from ..webhooks.test_webhooks import Receiver, hooks, subscriber
from .test_service import QuietSource, Running, data, quiet


def samples(text: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", text, re.M)}


def test_rollouts_endpoint_and_metrics_follow_a_rollout() -> None:
    with quiet(QuietSource(data())) as server, server.client() as http:
        live = server.ready()
        assert http.get("/v1/rollouts").json() == {"rollouts": [], "fleet": None}
        found = samples(http.get("/metrics").text)
        assert found['hotconf_rollout_state{state="running"}'] == 0
        assert found["hotconf_rollouts"] == 0
        assert "hotconf_rollout_samples" not in "".join(found)  # no rollout yet
        assert "hotconf_etcd_connected" not in "".join(found)  # not on etcd

        rollout = live.rollout(data(pool=9), fraction=0.5, budget=0.05, min_samples=100)
        for _ in range(3):
            rollout.record(True, canary=True)
        rollout.record(False, canary=True)
        for _ in range(8):
            rollout.record(True, canary=False)
        (status,) = http.get("/v1/rollouts").json()["rollouts"]
        assert (status["id"], status["state"], status["fraction"]) == (rollout.id, "running", 0.5)
        assert (status["canary"]["ok"], status["canary"]["failed"]) == (3, 1)
        assert status["canary"]["error_rate"] == 0.25
        assert (status["stable"]["version"], status["stable"]["ok"]) == (1, 8)
        assert status["progress"] == 0.04
        found = samples(http.get("/metrics").text)
        assert found['hotconf_rollout_state{state="running"}'] == 1
        assert found['hotconf_rollout_samples{arm="canary",result="ok"}'] == 3
        assert found['hotconf_rollout_samples{arm="canary",result="failed"}'] == 1
        assert found['hotconf_rollout_samples{arm="stable",result="ok"}'] == 8
        assert found['hotconf_rollout_error_rate{arm="canary"}'] == 0.25
        assert found['hotconf_rollout_error_rate{arm="stable"}'] == 0
        assert found["hotconf_rollout_progress"] == 0.04

        rollout.promote()
        (newest,) = http.get("/v1/rollouts").json()["rollouts"]
        assert (newest["state"], newest["canary"]["version"]) == ("promoted", 2)
        assert newest["decided_at"] is not None and newest["reason"] == "promoted by hand"
        second = live.rollout(data(pool=10))
        second.abort("not today")
        listed = http.get("/v1/rollouts").json()["rollouts"]
        assert [(r["id"], r["state"]) for r in listed] == [
            (second.id, "aborted"),
            (rollout.id, "promoted"),
        ]
        found = samples(http.get("/metrics").text)
        assert found['hotconf_rollout_state{state="aborted"}'] == 1
        assert found['hotconf_rollout_state{state="running"}'] == 0
        assert found["hotconf_rollouts"] == 2


def test_rollouts_endpoint_is_503_until_ready() -> None:
    def never(**kwargs: object) -> hotconf.LiveConfig:
        raise hotconf.NoValidConfigError("nothing to serve")

    with Running(Service(never)) as server, server.client() as http:
        wait_for(lambda: server.service.failure is not None, what="the failed start")
        assert http.get("/v1/rollouts").status_code == 503


def test_metrics_count_delivered_webhooks(tmp_path: Path) -> None:
    source = QuietSource(data())
    with Receiver() as receiver:
        opener = functools.partial(
            hotconf.watch,
            source,
            SCHEMA,
            state_dir=tmp_path / "state",
            webhooks=hooks([subscriber(receiver.url(), name="audit")]),
        )
        with Running(Service(opener)) as server, server.client() as http:
            server.ready()
            found = samples(http.get("/metrics").text)
            assert found["hotconf_webhook_delivered_total"] == 0
            for pool in (6, 7):
                source.put(data(pool=pool))
                assert http.post("/v1/reload").json()["status"] == "applied"

            def delivered() -> float:
                return samples(http.get("/metrics").text)["hotconf_webhook_delivered_total"]

            wait_for(lambda: delivered() == 2, what="two deliveries counted")
            found = samples(http.get("/metrics").text)
            assert found['hotconf_webhook_deliveries{status="pending"}'] == 0
            assert found['hotconf_webhook_deliveries{status="dead"}'] == 0
            assert found["hotconf_webhook_outbox_depth"] == 0
        assert len(receiver.snapshot()) == 2


def test_a_shadow_rollout_is_shown_and_counted_and_decided_over_http() -> None:
    with (
        Running(Service(functools.partial(hotconf.watch, QuietSource(data()), SCHEMA,
                                          state_dir=None), token="t" * 32)) as server,
        server.client("t" * 32) as http,
    ):  # fmt: skip
        live = server.ready()
        assert http.post("/v1/rollouts/abort").status_code == 404  # none runs
        rollout = live.rollout(data(pool=9), mode="shadow", min_samples=10, max_mismatch=0.5)
        pool = rollout.compare(lambda snap: snap["db"]["pool_size"])
        assert pool == 5 and rollout.mismatch_rate == 1.0  # 5 on stable, 9 on the candidate
        rollout.compare(lambda snap: snap["db"]["host"])
        (status,) = http.get("/v1/rollouts").json()["rollouts"]
        assert (status["mode"], status["scope"], status["progress"]) == ("shadow", "instance", 0.2)
        assert status["shadow"] == {
            "samples": 2,
            "mismatches": 1,
            "mismatch_rate": 0.5,
            "max_mismatch": 0.5,
            "last_mismatch": "the results differ",
        }
        found = samples(http.get("/metrics").text)
        assert found['hotconf_rollout_shadow_samples{result="match"}'] == 1
        assert found['hotconf_rollout_shadow_samples{result="mismatch"}'] == 1
        assert found["hotconf_rollout_mismatch_rate"] == 0.5
        assert http.post("/v1/rollouts/promote", json={"id": "r0"}).status_code == 409
        assert http.post("/v1/rollouts/promote", json={"reason": ""}).status_code == 400
        with server.client() as anonymous:
            assert anonymous.post("/v1/rollouts/abort").status_code == 401
        aborted = http.post("/v1/rollouts/abort", json={"id": rollout.id, "reason": "no"})
        assert aborted.status_code == 200
        assert (aborted.json()["rollout"]["state"], rollout.reason) == ("aborted", "no")
        again = live.rollout(data(pool=9), mode="shadow", min_samples=10)
        promoted = http.post("/v1/rollouts/promote").json()["rollout"]
        assert (promoted["id"], promoted["state"], live.version) == (again.id, "promoted", 2)
        assert promoted["canary"]["version"] == 2 and promoted["reason"] == "promoted by hand"
