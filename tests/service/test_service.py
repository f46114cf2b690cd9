"""The HTTP service on a real uvicorn server on a free loopback port, in a thread.

Every response goes through `OpenApi.check` (tests/service/test_openapi.py): the API document
must describe it exactly.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

# The HTTP service needs the serve extra (scripts/install-test-deps installs it).
pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("prometheus_client", reason="needs the serve extra: pip install -e '.[serve]'")

import uvicorn

import hotconf
from hotconf import LiveConfig
from hotconf.errors import HotconfError, NoValidConfigError, Problem
from hotconf.service.app import Server, Service, bind, check_bind, is_loopback
from hotconf.service.http import Auth
from hotconf.sources import Poke, RawDocument
from hotconf.store.history import Store

from ..conftest import SCHEMA, WAIT, config_text, wait_for
from .test_openapi import API

ADMIN, READER = "admin-token-0123", "read-token-4567"
OTHER, TOO_SHORT = "another-secret", "tiny7"  # passwords in edits: must never show
SECRET = "s3cret-value!"  # noqa: S105 (the value the tests hunt for)


class Running:
    """A `Service` served by uvicorn in a thread, on 127.0.0.1 and a free port."""

    def __init__(self, service: Service, config: uvicorn.Config | None = None) -> None:
        self.service = service
        sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        if config is None:
            config = uvicorn.Config(service.app, lifespan="on", log_config=None, access_log=False)
        self.server = Server(config, service.begin_shutdown)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="test-uvicorn", daemon=True
        )

    def __enter__(self) -> Running:
        self._thread.start()
        wait_for(lambda: self.server.started, what="uvicorn started")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the server did not stop"

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=WAIT,
            event_hooks={"response": [API.check_response]},
            **kwargs,
        )

    def ready(self) -> LiveConfig:
        wait_for(lambda: self.service.readiness.ready, what="service ready")
        return self.service.live


class QuietSource:
    """An in-memory source that changes only when told to (`put`), and never pokes: what
    it holds goes live on ``POST /v1/reload`` only, so reload tests are deterministic."""

    synchronous = True
    state_dir = None
    name = "quiet"

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.put(data)

    def put(self, data: Mapping[str, Any]) -> None:
        self._doc = RawDocument(self.name, json.dumps(data).encode(), "json")

    def read(self) -> tuple[RawDocument, ...]:
        return (self._doc,)

    def start(self, poke: Poke) -> None:
        self.poke = poke

    def check(self) -> None:
        """Nothing to re-arm."""

    def stop(self) -> None:
        """Nothing to stop."""


def data(pool: int = 5, password: str = SECRET, **more: Any) -> dict[str, Any]:
    return {"db": {"host": "db.local", "pool_size": pool, "password": password}, **more}


@pytest.fixture
def files(tmp_path: Path, schema_file: Path) -> Callable[..., Running]:
    """A server over ``tmp_path/config.yaml`` (watched for real) with a state dir."""
    config = tmp_path / "config.yaml"
    config.write_text(config_text(extra=f"  password: {SECRET}\n"))

    def start(**kwargs: Any) -> Running:
        opener = functools.partial(hotconf.watch, config, schema_file, state_dir=tmp_path / "state")
        return Running(Service(opener, **kwargs))

    return start


def write(path: Path, pool: int, secret: str = SECRET) -> None:
    path.write_text(config_text(pool=pool, extra=f"  password: {secret}\n"))


def quiet(source: QuietSource, **kwargs: Any) -> Running:
    opener = functools.partial(hotconf.watch, source, SCHEMA, state_dir=None)
    return Running(Service(opener, **kwargs))


# -- reading the config ---------------------------------------------------------------------


def test_config_with_etag_and_304(files: Callable[..., Running], tmp_path: Path) -> None:
    with files() as server, server.client() as http:
        live = server.ready()
        r = http.get("/v1/config")
        assert r.status_code == 200
        assert r.json()["db"]["pool_size"] == 5
        etag = r.headers["etag"]
        # a caller without a token gets a keyed fingerprint of the checksum, stable per server
        assert etag != f'"{live.current.checksum}"' and len(etag) == 66
        assert http.get("/v1/config").headers["etag"] == etag
        assert r.headers["x-hotconf-version"] == "1"
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            assert http.get("/v1/config", headers={"If-None-Match": header}).status_code == 304
        assert http.get("/v1/config", headers={"If-None-Match": '"x"'}).status_code == 200
        write(tmp_path / "config.yaml", 6)
        wait_for(lambda: live.version == 2)
        again = http.get("/v1/config", headers={"If-None-Match": etag})
        assert again.status_code == 200
        assert again.headers["x-hotconf-version"] == "2"


def test_secrets_only_for_a_caller_with_a_token(files: Callable[..., Running]) -> None:
    with files(token=ADMIN, read_token=READER) as server:
        server.ready()
        with server.client() as anonymous:
            r = anonymous.get("/v1/config")
            assert r.json()["db"]["password"] == hotconf.REDACTED
            assert r.headers["x-hotconf-redacted"] == "true"
            assert SECRET not in r.text
            etag = r.headers["etag"]
            key = anonymous.get("/v1/config/db.password")
            assert key.json() == {"key": "db.password", "version": 1, "value": hotconf.REDACTED}
            db = anonymous.get("/v1/config/db").json()["value"]
            assert db["password"] == hotconf.REDACTED and db["pool_size"] == 5
            version = anonymous.get("/v1/versions/1").json()
            assert version["data"]["db"]["password"] == hotconf.REDACTED
        for token in (ADMIN, READER):
            with server.client(token) as holder:
                r = holder.get("/v1/config")
                assert r.json()["db"]["password"] == SECRET
                assert r.headers["x-hotconf-redacted"] == "false"
                # holders get the real checksum; anonymous callers a keyed fingerprint, so a
                # short secret cannot be guessed offline from the ETag and the redacted body
                assert r.headers["etag"] == f'"{server.service.live.current.checksum}"' != etag
                assert holder.get("/v1/config/db.password").json()["value"] == SECRET
                assert holder.get("/v1/versions/1").json()["data"]["db"]["password"] == SECRET
        with server.client("not-a-token") as wrong:
            r = wrong.get("/v1/config")
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
        with server.client() as http:
            bad = http.get("/v1/config", headers={"Authorization": "Basic abc"})
            assert bad.status_code == 401


def test_versions_keys_and_bad_parameters(files: Callable[..., Running], tmp_path: Path) -> None:
    with files() as server, server.client() as http:
        live = server.ready()
        write(tmp_path / "config.yaml", 7)
        wait_for(lambda: live.version == 2)
        assert http.get("/v1/config", params={"version": 1}).json()["db"]["pool_size"] == 5
        old = http.get("/v1/config", params={"version": 1})
        assert old.headers["x-hotconf-version"] == "1"
        listing = http.get("/v1/versions").json()
        assert listing["current"] == 2
        assert [v["version"] for v in listing["versions"]] == [2, 1]
        assert http.get("/v1/versions", params={"limit": 1}).json()["versions"][0]["version"] == 2
        one = http.get("/v1/versions/1").json()
        assert one["version"] == 1 and one["current"] is False
        assert one["data"]["db"]["pool_size"] == 5
        assert http.get("/v1/config/db.pool_size", params={"version": 1}).json()["value"] == 5
        assert http.get("/v1/config/db.pool_size").json()["value"] == 7
        for path, params, status in [
            ("/v1/versions/9", {}, 404),
            ("/v1/versions/x", {}, 400),
            ("/v1/versions/0", {}, 400),
            ("/v1/config", {"version": 9}, 404),
            ("/v1/config", {"version": 0}, 400),
            ("/v1/config", {"version": "two"}, 400),
            ("/v1/config", {"version": 1, "after": 1}, 400),
            ("/v1/config", {"wait": 1}, 400),
            ("/v1/config", {"after": 1, "wait": 10_000}, 400),
            ("/v1/config", {"after": 1, "wait": "nan"}, 400),
            ("/v1/config/db.nothing", {}, 404),
            ("/v1/config/db.pool_size.x", {}, 404),
            ("/v1/versions", {"limit": 0}, 400),
            ("/v1/nowhere", {}, 404),
        ]:
            r = http.get(path, params=params)
            assert r.status_code == status, (path, params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["status"] == status
        assert http.delete("/v1/config").status_code == 405


def test_long_poll_answers_as_soon_as_a_newer_version_exists(
    files: Callable[..., Running], tmp_path: Path
) -> None:
    with files() as server, server.client() as http:
        live = server.ready()
        now = http.get("/v1/config", params={"after": 0, "wait": 30})
        assert now.status_code == 200  # v1 is newer than 0: no waiting
        short = http.get("/v1/config", params={"after": 1, "wait": 0.05})
        assert short.status_code == 304
        assert short.headers["x-hotconf-version"] == "1"
        assert http.get("/v1/config", params={"after": 1}).status_code == 304

        answers: list[httpx.Response] = []
        poller = threading.Thread(
            target=lambda: answers.append(http.get("/v1/config", params={"after": 1, "wait": 60}))
        )
        poller.start()
        wait_for(lambda: server.service.feed.waiting == 1, what="the long-poll waits")
        write(tmp_path / "config.yaml", 8)
        poller.join(WAIT)
        assert not poller.is_alive()
        assert answers[0].status_code == 200
        assert answers[0].json()["db"]["pool_size"] == 8
        assert answers[0].headers["x-hotconf-version"] == "2" == str(live.version)


def test_a_thousand_long_polls_are_released_by_one_change() -> None:
    """1,000 held long-polls, each released by the one version bump (no per-waiter polling:
    they are all still waiting until the change, then all answer with the new version)."""
    source = QuietSource(data())
    n = 1000
    with quiet(source) as server:
        live = server.ready()

        async def poll_all() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
            async with httpx.AsyncClient(
                base_url=server.url,
                limits=limits,
                timeout=120,
                event_hooks={"response": [API.acheck_response]},
            ) as client:
                polls = [
                    asyncio.create_task(client.get("/v1/config", params={"after": 1, "wait": 110}))
                    for _ in range(n)
                ]
                while server.service.feed.waiting < n:
                    assert not any(p.done() for p in polls)
                    await asyncio.sleep(0.01)
                assert not any(p.done() for p in polls)
                metrics = await client.get("/metrics")
                assert f"hotconf_long_polls_waiting {float(n)}" in metrics.text
                source.put(data(pool=9))
                await asyncio.to_thread(live.reload)
                return await asyncio.wait_for(asyncio.gather(*polls), 60)

        answers = asyncio.run(poll_all())
        assert [r.status_code for r in answers] == [200] * n
        assert {r.headers["x-hotconf-version"] for r in answers} == {"2"}
        assert server.service.feed.waiting == 0


# -- listings: diff, rejections -------------------------------------------------------------


def test_diff_and_rejections_are_redacted(files: Callable[..., Running], tmp_path: Path) -> None:
    with files() as server, server.client() as http:  # no token configured: none sent
        live = server.ready()
        # a fresh server: the first version's report, every key it holds added
        first = http.get("/v1/diff")
        assert first.status_code == 200
        assert (first.json()["old"]["version"], first.json()["new"]["version"]) == (None, 1)
        assert {c["kind"] for c in first.json()["changes"]} == {"key_added"}
        assert SECRET not in first.text
        write(tmp_path / "config.yaml", 50, OTHER)
        wait_for(lambda: live.version == 2)
        report = http.get("/v1/diff").json()
        assert (report["old"]["version"], report["new"]["version"]) == (1, 2)
        changes = {c["path"]: c for c in report["changes"]}
        assert changes["/db/pool_size"]["level"] == "risky"  # 10x
        assert changes["/db/password"]["new"] == hotconf.REDACTED
        assert http.get("/v1/diff", params={"from": 2, "to": 1}).json()["new"]["version"] == 1
        assert http.get("/v1/diff", params={"to": 1}).json() == first.json()
        assert http.get("/v1/diff", params={"from": 1, "to": 9}).status_code == 404

        write(tmp_path / "config.yaml", 0, TOO_SHORT)
        wait_for(lambda: live.degraded, what="degraded")
        rejections = http.get("/v1/rejections").json()["rejections"]
        paths = {p["path"] for p in rejections[0]["problems"]}
        assert {"/db/pool_size", "/db/password"} <= paths
        text = json.dumps(rejections)
        assert OTHER not in text and TOO_SHORT not in text and SECRET not in text

        ready = http.get("/readyz")
        assert ready.status_code == 200  # degraded is still ready: the config served is valid
        assert ready.json()["state"] == "degraded" and ready.json()["degraded"] is True
        assert ready.json()["last_rejection"]["problems"]
        metrics = http.get("/metrics").text
        assert "hotconf_degraded 1.0" in metrics
        assert 'hotconf_readiness_state{state="degraded"} 1.0' in metrics
        assert "hotconf_rejections_total 1.0" in metrics


# -- the pipeline: validate, reload, rollback -----------------------------------------------


def test_validate_is_a_dry_run(files: Callable[..., Running]) -> None:
    with files(token=ADMIN, read_token=READER) as server, server.client(READER) as http:
        live = server.ready()
        good = "db:\n  host: db.local\n  pool_size: 6\n  password: guess-guess\n"
        r = http.post("/v1/validate", content=good, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 200
        changes = {c["path"]: c for c in r.json()["changes"]}
        assert changes["/db/password"]["new"] == hotconf.REDACTED
        assert "guess-guess" not in r.text
        as_json = json.dumps({"db": {"host": "h", "pool_size": 5}})
        r = http.post("/v1/validate", content=as_json, headers={"Content-Type": "application/json"})
        assert r.status_code == 200
        bad = http.post(
            "/v1/validate", content="db: {pool_size: 0}\n", headers={"Content-Type": "text/yaml"}
        )
        assert bad.status_code == 422
        assert "/db/pool_size" in {p["path"] for p in bad.json()["problems"]}
        assert bad.json()["report"]["level"] == "breaking"
        # each problem at its line in the body sent, in line order
        body = json.dumps({"db": {"host": 5, "pool_size": 0}}, indent=1)
        bad = http.post("/v1/validate", content=body, headers={"Content-Type": "application/json"})
        found = [(p["path"], p["source"], p["line"]) for p in bad.json()["problems"]]
        assert found == [("/db/host", "candidate", 3), ("/db/pool_size", "candidate", 4)]
        broken = http.post(
            "/v1/validate", content="db: [\n", headers={"Content-Type": "application/yaml"}
        )
        assert broken.status_code == 422 and broken.json()["problems"]
        other = http.post("/v1/validate", content="x", headers={"Content-Type": "text/plain"})
        assert other.status_code == 415
        assert live.version == 1  # nothing applied
        with server.client() as anonymous:
            r = anonymous.post(
                "/v1/validate", content=good, headers={"Content-Type": "application/yaml"}
            )
            assert r.status_code == 401


def test_reload_needs_the_admin_token_and_reports() -> None:
    source = QuietSource(data())
    with quiet(source, token=ADMIN, read_token=READER) as server:
        live = server.ready()
        with server.client() as anonymous, server.client(READER) as reader:
            assert anonymous.post("/v1/reload").status_code == 401
            assert reader.post("/v1/reload").status_code == 403
        with server.client(ADMIN) as http:
            assert http.post("/v1/reload").json()["status"] == "noop"
            source.put(data(pool=6))
            r = http.post("/v1/reload")
            assert r.status_code == 200
            body = r.json()
            assert (body["status"], body["version"], body["previous_version"]) == ("applied", 2, 1)
            assert body["report"]["changes"][0]["path"] == "/db/pool_size"
            source.put(data(pool=0))
            bad = http.post("/v1/reload", json={})
            assert bad.status_code == 422
            assert bad.json()["problems"][0]["path"] == "/db/pool_size"
            assert live.version == 2
            assert http.post("/v1/reload", json={"force": "yes"}).status_code == 400
            assert http.post("/v1/reload", content="{").status_code == 415  # not JSON typed
            json_typed = {"Content-Type": "application/json"}
            assert http.post("/v1/reload", content="{", headers=json_typed).status_code == 400
            assert http.post("/v1/reload", json=[1]).status_code == 400


def test_reload_above_the_gate_is_409_until_forced() -> None:
    source = QuietSource(data())
    opener = functools.partial(hotconf.watch, source, SCHEMA, state_dir=None, gate="safe")
    with Running(Service(opener)) as server, server.client() as http:
        live = server.ready()
        source.put(data(pool=500))  # 100x: risky, above a "safe" gate
        held = http.post("/v1/reload")
        assert held.status_code == 409
        assert held.json()["type"] == "urn:hotconf:problem:gate"
        assert live.version == 1
        forced = http.post("/v1/reload", json={"force": True})
        assert forced.status_code == 200 and forced.json()["version"] == 2


def test_rollback(tmp_path: Path) -> None:
    source = QuietSource(data())
    strict = threading.Event()

    def no_five(config: Mapping[str, Any]) -> list[Problem]:
        if strict.is_set() and config["db"]["pool_size"] == 5:
            return [Problem("5 is no longer allowed", "/db/pool_size", "check")]
        return []

    opener = functools.partial(
        hotconf.watch, source, SCHEMA, validators=[no_five], state_dir=tmp_path / "state"
    )
    with Running(Service(opener, token=ADMIN)) as server, server.client(ADMIN) as http:
        live = server.ready()
        assert http.post("/v1/rollback").status_code == 404  # nothing before v1
        source.put(data(pool=6))
        http.post("/v1/reload")
        r = http.post("/v1/rollback", json={"to": 1})
        assert r.status_code == 200
        body = r.json()
        assert (body["status"], body["version"], body["restores"]) == ("applied", 3, 1)
        assert http.get("/v1/config").json()["db"]["pool_size"] == 5
        assert http.post("/v1/rollback", json={"to": 1}).json()["status"] == "noop"
        assert http.post("/v1/rollback", json={"to": 99}).status_code == 404
        for bad in ({"to": "2"}, {"to": 0}, {"to": True}):
            assert http.post("/v1/rollback", json=bad).status_code == 400
        assert http.post("/v1/rollback", json={}).json()["restores"] == 2  # the previous one
        strict.set()
        refused = http.post("/v1/rollback", json={"to": 1})
        assert refused.status_code == 409
        assert refused.json()["problems"][0]["message"] == "5 is no longer allowed"
        assert live.version == 4
        with server.client() as anonymous:
            assert anonymous.post("/v1/rollback", json={"to": 1}).status_code == 401


# -- webhooks -------------------------------------------------------------------------------


def test_webhook_subscriptions_and_deliveries(tmp_path: Path) -> None:
    from hotconf.webhooks.manager import Subscriber, new_secret

    source = QuietSource(data())
    # nothing listens on port 9: deliveries fail and stay in the outbox, on loopback only
    hook = Subscriber(
        "http://127.0.0.1:9/hook", new_secret(), name="configured", allow_private=True
    )
    opener = functools.partial(
        hotconf.watch, source, SCHEMA, state_dir=tmp_path / "state", webhooks=[hook]
    )
    with Running(Service(opener, token=ADMIN)) as server, server.client(ADMIN) as http:
        server.ready()
        listed = http.get("/v1/subscriptions").json()["subscriptions"]
        assert [(s["id"], s["origin"]) for s in listed] == [("configured", "code")]
        secret = new_secret()
        added = {
            "url": "http://user:pw@127.0.0.1:9/added?token=abc",
            "secret": secret,
            "name": "added",
            "keys": ["db.*"],
            "allow_private": True,
        }
        r = http.post("/v1/subscriptions", json=added)
        assert r.status_code == 201 and r.json()["origin"] == "api"
        assert secret not in r.text and "pw" not in r.json()["url"] and "abc" not in r.text
        assert http.post("/v1/subscriptions", json=added).status_code == 409
        for bad in (
            {**added, "url": "ftp://127.0.0.1/x", "name": "other"},
            {"url": "http://127.0.0.1:9/x"},
            {**added, "name": "x", "colour": "red"},
            {**added, "name": "x", "secret": "not-a-secret"},
        ):
            assert http.post("/v1/subscriptions", json=bad).status_code == 400, bad
        assert secret not in http.get("/v1/subscriptions").text

        source.put(data(pool=6))
        assert http.post("/v1/reload").json()["version"] == 2
        deliveries = http.get("/v1/deliveries").json()["deliveries"]
        assert {(d["subscriber"], d["version"]) for d in deliveries} == {
            ("configured", 2),
            ("added", 2),
        }
        only = http.get("/v1/deliveries", params={"subscriber": "added", "limit": 5}).json()
        assert [d["subscriber"] for d in only["deliveries"]] == ["added"]
        assert http.get("/v1/deliveries", params={"status": "lost"}).status_code == 400
        assert "hotconf_webhook_outbox_depth" in http.get("/metrics").text

        assert http.delete("/v1/subscriptions/configured").status_code == 409
        assert http.delete("/v1/subscriptions/nobody").status_code == 404
        assert http.delete("/v1/subscriptions/added").status_code == 204
        with server.client(READER) as reader:
            assert reader.post("/v1/subscriptions", json=added).status_code == 401


def test_redeliver_a_dead_delivery(tmp_path: Path) -> None:
    from hotconf.webhooks.deliveries import RetryPolicy
    from hotconf.webhooks.manager import Subscriber, Webhooks, new_secret

    source = QuietSource(data())
    # nothing listens on port 9, and one attempt is all: each delivery dies at once
    hook = Subscriber("http://127.0.0.1:9/hook", new_secret(), name="gone", allow_private=True)
    webhooks = Webhooks([hook], retry=RetryPolicy(attempts=1))
    opener = functools.partial(
        hotconf.watch, source, SCHEMA, state_dir=tmp_path / "state", webhooks=webhooks
    )
    with Running(Service(opener, token=ADMIN)) as server, server.client(ADMIN) as http:
        live = server.ready()
        source.put(data(pool=6))
        assert http.post("/v1/reload").json()["version"] == 2

        def dead() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = http.get("/v1/deliveries?status=dead").json()[
                "deliveries"
            ]
            return found

        wait_for(dead, what="the delivery dead")
        [delivery] = dead()
        with server.client() as anonymous:
            assert anonymous.post(f"/v1/deliveries/{delivery['id']}/redeliver").status_code == 401
        with server.client(READER) as wrong:
            assert wrong.post(f"/v1/deliveries/{delivery['id']}/redeliver").status_code == 401
        r = http.post(f"/v1/deliveries/{delivery['id']}/redeliver")
        assert r.status_code == 200
        assert r.json()["id"] == delivery["id"] and r.json()["webhook_id"] == delivery["webhook_id"]
        assert r.json()["status"] == "pending" and r.json()["attempts"] == 0
        # tried again, and dead again: one attempt more than before
        wait_for(lambda: [d["attempts"] for d in dead()] == [1], what="dead again")
        assert http.post("/v1/deliveries/999/redeliver").status_code == 404
        assert http.post("/v1/deliveries/x/redeliver").status_code == 400
        assert live.webhooks is not None
        live.webhooks.add(
            Subscriber("http://127.0.0.1:9/other", new_secret(), name="added", allow_private=True)
        )
        source.put(data(pool=7))
        assert http.post("/v1/reload").json()["version"] == 3
        wait_for(lambda: len(dead()) == 3, what="both version 3 deliveries dead")
        [orphan] = [d for d in dead() if d["subscriber"] == "added"]
        assert http.delete("/v1/subscriptions/added").status_code == 204
        # its subscriber is gone: nobody to redeliver to
        gone = http.post(f"/v1/deliveries/{orphan['id']}/redeliver")
        assert gone.status_code == 409 and "gone" in gone.json()["detail"]


def test_webhook_endpoints_without_webhooks_are_404() -> None:
    with quiet(QuietSource(data())) as server, server.client() as http:
        server.ready()
        for r in (http.get("/v1/subscriptions"), http.get("/v1/deliveries")):
            assert r.status_code == 404 and r.json()["type"] == "urn:hotconf:problem:no-webhooks"
        assert "hotconf_webhook" not in http.get("/metrics").text


# -- readiness, health, metrics, shutdown ---------------------------------------------------


def test_readiness_goes_starting_warming_ready_then_shutting_down(
    files: Callable[..., Running], tmp_path: Path, schema_file: Path
) -> None:
    go = threading.Event()

    def slow_open(**kwargs: Any) -> LiveConfig:
        go.wait(WAIT)
        return hotconf.watch(
            tmp_path / "config.yaml", schema_file, state_dir=tmp_path / "s", **kwargs
        )

    service = Service(slow_open)
    with Running(service) as server, server.client() as http:
        r = http.get("/readyz")
        assert r.status_code == 503 and r.json()["state"] == "starting"
        not_ready = http.get("/v1/config")
        assert not_ready.status_code == 503
        assert not_ready.json()["state"] == "starting" and not_ready.headers["retry-after"]
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["checks"]["store"]["status"] == "pending"
        go.set()
        server.ready()
        assert service.readiness.transitions == ["starting", "warming", "ready"]
        assert http.get("/readyz").json() == {
            "ready": True,
            "state": "ready",
            "version": 1,
            "degraded": False,
            "last_rejection": None,
            "store_problem": None,
        }
        health = http.get("/healthz").json()
        assert health == {
            "status": "pass",
            "checks": {
                "watcher": {"status": "pass", "detail": None},
                "store": {"status": "pass", "detail": None},
            },
        }
        service.begin_shutdown()
        gone = http.get("/readyz")
        assert gone.status_code == 503 and gone.json()["state"] == "shutting_down"
        assert http.post("/v1/reload").status_code == 503
        long_poll = http.get("/v1/config", params={"after": 1, "wait": 60})
        assert long_poll.status_code == 503  # released at once, not after 60 s
        assert http.get("/v1/config").status_code == 200  # requests in flight still served
    assert service.readiness.transitions[-1] == "shutting_down"


def test_a_failed_start_is_reported(tmp_path: Path, schema_file: Path) -> None:
    (tmp_path / "config.yaml").write_text(config_text(pool=0))
    opener = functools.partial(hotconf.watch, tmp_path / "config.yaml", schema_file, state_dir=None)
    service = Service(opener)
    failures: list[BaseException] = []
    service.on_failure = failures.append
    with Running(service) as server, server.client() as http:
        wait_for(lambda: failures, what="the failure")
        assert isinstance(failures[0], NoValidConfigError)
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["state"] == "failed"
        # why: the source's problems, at file:line, as the last rejection
        rejection = ready.json()["last_rejection"]
        assert rejection["source"] == str(tmp_path / "config.yaml")
        [problem] = rejection["problems"]
        assert (problem["path"], problem["code"], problem["line"]) == (
            "/db/pool_size",
            "minimum",
            3,
        )
        health = http.get("/healthz")
        assert health.status_code == 503
        assert "no valid config" in health.json()["checks"]["watcher"]["detail"]
        assert "no valid config" in http.get("/v1/config").json()["detail"]


def test_healthz_fails_when_the_reload_worker_is_gone(files: Callable[..., Running]) -> None:
    with files() as server, server.client() as http:
        live = server.ready()
        assert live._worker is not None
        live._worker.stop()  # what a crashed worker thread looks like from outside
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["checks"]["watcher"]["status"] == "fail"
        assert health.json()["checks"]["store"]["status"] == "pass"


def test_store_probe(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state")
    assert store.probe() is None
    assert store.latest() is None and store.get_meta("probe") is None  # nothing written
    store.close()
    assert "not writable" in (store.probe() or "")


def test_metrics_count_reloads_in_an_own_registry() -> None:
    source = QuietSource(data())
    with quiet(source) as server, quiet(QuietSource(data())) as other, server.client() as http:
        server.ready()
        other.ready()  # a second app in the process: its own registry, no clash
        source.put(data(pool=6))
        http.post("/v1/reload")
        http.post("/v1/reload")
        source.put(data(pool=0))
        http.post("/v1/reload")
        text = http.get("/metrics").text
        samples = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", text, re.M)}
        assert samples['hotconf_reloads_total{result="applied"}'] == 1
        assert samples['hotconf_reloads_total{result="noop"}'] == 1
        assert samples['hotconf_reloads_total{result="rejected"}'] == 1
        assert samples["hotconf_rejections_total"] == 1
        assert samples["hotconf_config_version"] == 2
        assert samples["hotconf_reload_duration_seconds_count"] == 2  # runs with timings
        assert samples['hotconf_reload_stage_duration_seconds_count{stage="validate"}'] >= 1
        assert samples["hotconf_last_success_timestamp_seconds"] > 0
        assert samples['hotconf_readiness_state{state="degraded"}'] == 1
        assert samples['hotconf_readiness_state{state="ready"}'] == 0


def test_an_open_live_config_is_served_and_left_open() -> None:
    source = QuietSource(data())
    with hotconf.watch(source, SCHEMA, state_dir=None) as live:
        app = hotconf.create_app(live)
        service: Service = app.state.service
        with Running(service) as server, server.client() as http:
            server.ready()
            source.put(data(pool=7))
            live.reload()
            assert http.get("/v1/config").json()["db"]["pool_size"] == 7
            assert 'hotconf_reloads_total{result="applied"} 1.0' in http.get("/metrics").text
        assert live.reload().status == "noop"  # still open: not the app's to close


def test_feed_wakes_waiters_of_a_bump_only() -> None:
    """The feed's truth is the version; one bump wakes everyone, a stale bump nobody."""
    from hotconf.service.readiness import VersionFeed

    version = [1]
    feed = VersionFeed(lambda: version[0])

    async def scenario() -> tuple[bool, bool, bool]:
        feed.bind(asyncio.get_running_loop())
        waiters = [asyncio.create_task(feed.wait_after(1, 30)) for _ in range(3)]
        while feed.waiting < 3:
            await asyncio.sleep(0)
        feed.publish()  # a bump without a newer version: they go back to waiting
        for _ in range(5):
            await asyncio.sleep(0)
        still = not any(w.done() for w in waiters)
        version[0] = 2
        feed.publish()
        results = await asyncio.gather(*waiters)
        late = await feed.wait_after(1, 0)
        return still, all(results), late

    assert asyncio.run(scenario()) == (True, True, True)


# -- binding --------------------------------------------------------------------------------


def test_no_token_means_loopback_only() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("no-such-host.invalid")
    check_bind("127.0.0.1", Auth())
    check_bind("0.0.0.0", Auth(token=ADMIN))
    with pytest.raises(HotconfError, match=r"refusing to listen on 0\.0\.0\.0"):
        check_bind("0.0.0.0", Auth())
    with pytest.raises(HotconfError):
        check_bind("0.0.0.0", Auth(read_token=READER))  # reads secrets, still cannot mutate
    with pytest.raises(ValueError, match="empty"):
        Auth(token=" " * 2)


def test_anonymous_checksums_are_keyed_and_posts_need_json(tmp_path: Path) -> None:
    source = QuietSource(data())
    with quiet(source, read_token=READER) as server:
        live = server.ready()
        real = live.current.checksum
        with server.client() as anonymous, server.client(READER) as reader:
            # a read token alone keeps mutations closed to anonymous callers too
            assert anonymous.post("/v1/reload").status_code == 401
            assert reader.post("/v1/reload").status_code == 403
            etag = reader.get("/v1/config").headers["etag"]
            assert etag == f'"{real}"'
            listing = reader.get("/v1/versions").json()["versions"]
            assert listing[0]["checksum"] == real
        assert real not in server.client().get("/v1/versions/1").text
    with quiet(QuietSource(data())) as server, server.client() as http:
        server.ready()
        plain = http.post(
            "/v1/rollback", content=b'{"to": 1}', headers={"Content-Type": "text/plain"}
        )
        assert plain.status_code == 415
        too_big = 2**70
        assert http.get(f"/v1/versions/{too_big}").status_code == 400
        assert http.get("/v1/versions/\u00b2").status_code == 400
        assert http.get("/v1/config", params={"version": too_big}).status_code == 400
        assert http.post("/v1/rollback", json={"to": too_big}).status_code == 400


def test_browsers_may_change_things_from_this_origin_only(tmp_path: Path) -> None:
    """No cookies and a token in a header keep other sites out of a server with tokens; one
    without tokens (loopback only) takes no change from a page of another origin either: an
    empty form post needs no preflight and carries no JSON to refuse."""
    source = QuietSource(data())
    with quiet(source) as server, server.client() as http:
        live = server.ready()
        port = server.url.rpartition(":")[2]
        for headers in (
            {"Origin": "https://elsewhere.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site", "Origin": f"http://localhost:{port}"},
            # a name rebound to 127.0.0.1 is "same origin" to the browser: the Host gives it away
            {"Host": f"rebound.example:{port}", "Origin": f"http://rebound.example:{port}"},
            {"Host": f"rebound.example:{port}"},
        ):
            for path in ("/v1/rollback", "/v1/reload"):
                r = http.post(
                    path, headers={"Content-Type": "application/x-www-form-urlencoded", **headers}
                )
                assert r.status_code == 403, (path, headers)
                assert r.json()["type"] == "urn:hotconf:problem:cross-origin"
        assert live.version == 1
        source.put(data(pool=6))
        same = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
        assert http.post("/v1/reload", headers=same).json()["version"] == 2
        for host in (f"localhost:{port}", f"[::1]:{port}", "127.0.0.1"):
            r = http.post("/v1/rollback", json={"to": 1}, headers={"Host": host})
            assert r.status_code == 200, host
    with quiet(QuietSource(data()), token=ADMIN) as server, server.client(ADMIN) as admin:
        server.ready()
        # with a token the Host is no matter (the token is the guard); the Origin still is
        port = server.url.rpartition(":")[2]
        assert (
            admin.post("/v1/reload", headers={"Host": f"config.example:{port}"}).status_code == 200
        )
        elsewhere = admin.post("/v1/reload", headers={"Origin": "https://elsewhere.example"})
        assert elsewhere.status_code == 403
