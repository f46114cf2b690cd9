"""What an anonymous caller may learn, and what a slow or hostile one can hold up."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import hotconf
from hotconf import LiveConfig
from hotconf.service.app import Service
from hotconf.service.server import uvicorn_config
from hotconf.sources.files import FileSource
from hotconf.store.history import Store

from ..conftest import WAIT, config_text, wait_for
from ..live.test_hardening import fill
from .test_console import client
from .test_service import ADMIN, READER, QuietSource, Running

HEX64 = re.compile(r"[0-9a-f]{64}")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"pool": {"type": "integer"}, "dsn": {"type": "string"}},
}


def quiet(data: dict[str, Any], **kwargs: Any) -> tuple[Running, QuietSource]:
    source = QuietSource(data)
    live = hotconf.watch(source, schema=SCHEMA, state_dir=None)
    return Running(Service(live, **kwargs)), source


def checksums(body: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "checksum" and isinstance(value, str):
                found.add(value)
            else:
                found |= checksums(value)
    elif isinstance(body, list):
        for value in body:
            found |= checksums(value)
    return found


@pytest.mark.parametrize("tokens", [{}, {"token": ADMIN, "read_token": READER}])
def test_callers_without_a_token_never_get_a_raw_checksum(tokens: dict[str, str]) -> None:
    running, source = quiet({"pool": 1, "dsn": "postgres://app:PW@db/app"}, **tokens)
    with running:
        live = running.ready()
        admin = tokens.get("token")
        source.put({"pool": 2, "dsn": "postgres://app:PW@db/app"})
        with running.client(admin) as http:
            reloaded = http.post("/v1/reload", json={}).json()
        raw = {live.snapshot(1).checksum, live.snapshot(2).checksum}
        with running.client() as anonymous:
            bodies = [anonymous.get("/v1/diff").json(), anonymous.get("/v1/versions").json()]
            if not tokens:  # open mutations: the caller has no token, and gets no checksum
                source.put({"pool": 3, "dsn": "postgres://app:PW@db/app"})
                bodies.append(anonymous.post("/v1/reload", json={}).json())
                bodies.append(anonymous.post("/v1/rollback", json={"to": 1}).json())
                bodies.append(
                    anonymous.post(
                        "/v1/validate", content=b"pool: 9\n", headers={"content-type": "text/yaml"}
                    ).json()
                )
                raw |= {live.snapshot(3).checksum, live.current.checksum}
        seen = set().union(*map(checksums, bodies))
        assert seen and all(HEX64.fullmatch(c) for c in seen)
        assert not seen & raw
        if tokens:  # a token holder gets the real thing
            assert checksums(reloaded) == raw
            with running.client(READER) as reader:
                assert checksums(reader.get("/v1/diff").json()) == raw


@pytest.mark.parametrize("tokens", [{}, {"token": ADMIN, "read_token": READER}])
def test_rejections_and_readiness_show_anonymous_callers_no_raw_checksum(
    tokens: dict[str, str],
) -> None:
    running, source = quiet({"pool": 1, "dsn": "postgres://app:PW@db/app"}, **tokens)
    with running:
        live = running.ready()
        source.put({"pool": "many", "dsn": "postgres://app:PW@db/app"})  # not an integer
        with running.client(tokens.get("token")) as admin:
            assert admin.post("/v1/reload", json={}).status_code == 422  # rejected
        rejection = live.last_rejection
        assert rejection is not None and rejection.checksum is not None
        raw = rejection.checksum
        with client(running) as anonymous:
            listed = anonymous.get("/v1/rejections").json()["rejections"]
            ready = anonymous.get("/readyz").json()
            page = anonymous.get("/console/rejections").text
            overview = anonymous.get("/").text
        (tag,) = {listed[0]["checksum"], ready["last_rejection"]["checksum"]}
        assert HEX64.fullmatch(tag) and tag != raw
        assert raw[:12] not in page and f"fingerprint <code>{tag[:12]}</code>" in page
        assert "PW" not in overview and "postgres://app:&lt;redacted&gt;@db/app" in overview
        if tokens:  # a token holder gets the real thing
            with client(running, READER) as reader:
                assert reader.get("/v1/rejections").json()["rejections"][0]["checksum"] == raw
                assert reader.get("/readyz").json()["last_rejection"]["checksum"] == raw
                assert f"checksum <code>{raw[:12]}</code>" in reader.get("/console/rejections").text
                assert "postgres://app:PW@db/app" in reader.get("/").text


@pytest.mark.parametrize("tokens", [{}, {"token": ADMIN, "read_token": READER}])
def test_rollouts_show_anonymous_callers_no_raw_checksum(tokens: dict[str, str]) -> None:
    running, _ = quiet({"pool": 1, "dsn": "postgres://app:PW@db/app"}, **tokens)
    with running:
        live = running.ready()
        rollout = live.rollout({"pool": 2, "dsn": "postgres://app:PW@db/app"}, fraction=0.5)
        raw = {rollout.stable.checksum, rollout.candidate.checksum}
        with running.client() as anonymous:
            seen = checksums(anonymous.get("/v1/rollouts").json())
        assert len(seen) == 2 and all(HEX64.fullmatch(c) for c in seen)
        assert not seen & raw
        if tokens:  # a token holder gets the real thing
            with running.client(READER) as reader:
                assert checksums(reader.get("/v1/rollouts").json()) == raw
        rollout.abort("done")


def test_anonymous_reads_hide_url_passwords_and_list_indexes_are_canonical() -> None:
    data = {
        "pool": 1,
        "dsn": "postgres://app:PW@db/app?sslmode=require&password=QQ",
        "creds": [{"secret": "first"}, {"secret": "last"}],
    }
    running, _ = quiet(data, token=ADMIN)
    with running:
        running.ready()
        with running.client() as anonymous, running.client(ADMIN) as admin:
            whole = anonymous.get("/v1/config").text
            one = anonymous.get("/v1/config/dsn").json()["value"]
            version = anonymous.get("/v1/versions/1").text
            for text in (whole, one, version):
                assert "PW" not in text and "QQ" not in text
            assert one == "postgres://app:<redacted>@db/app?sslmode=require&password=<redacted>"
            assert admin.get("/v1/config/dsn").json()["value"] == data["dsn"]
            assert admin.get("/v1/config/creds.1.secret").json()["value"] == "last"
            for key in ("creds.-1.secret", "creds.00.secret", "creds.+1.secret"):
                missing = admin.get(f"/v1/config/{key}")
                assert missing.status_code == 404, key


def test_readyz_answers_while_a_catastrophic_pattern_is_validated() -> None:
    # With Python's re this validation would run for longer than anyone waits, holding the
    # GIL: /readyz, reloads and long-polls would all stall behind it.
    schema = {"type": "object", "additionalProperties": {"type": "string", "pattern": "^(a+)+$"}}
    source = QuietSource({"name": "aaaa"})
    live = hotconf.watch(source, schema=schema, state_dir=None)
    body = "".join(f"k{i}: {'a' * 40}!\n" for i in range(200)).encode()
    answers: list[httpx.Response] = []
    with Running(Service(live, token=ADMIN)) as running:
        running.ready()
        with running.client(ADMIN) as admin, running.client() as probe:

            def validate() -> None:
                answers.append(
                    admin.post("/v1/validate", content=body, headers={"content-type": "text/yaml"})
                )

            thread = threading.Thread(target=validate, name="test-validate")
            thread.start()
            try:
                for _ in range(20):
                    ready = probe.get("/readyz", timeout=2.0)
                    assert ready.status_code == 200 and ready.json()["ready"]
            finally:
                thread.join(WAIT)
    assert not thread.is_alive()
    (answer,) = answers
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert len(problems) == 100 + 1 and problems[0]["code"] == "pattern"  # capped, and said so
    live.close()


# -- connections that never finish their headers ------------------------------------------------


def limited(service: Service, header_timeout: float, max_connections: int) -> Running:
    """`Running` with the connection limits `serve` applies, made small."""
    config = uvicorn_config(service, header_timeout=header_timeout, max_connections=max_connections)
    return Running(service, config)


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_connections_that_never_finish_their_headers_are_closed() -> None:
    source = QuietSource({"pool": 1})
    live = hotconf.watch(source, schema=SCHEMA, state_dir=None)
    with limited(Service(live), header_timeout=0.5, max_connections=8) as running:
        running.ready()
        idle = _connect(running.url)  # connects, sends nothing
        partial = _connect(running.url)
        partial.sendall(b"GET /v1/config HTTP/1.1\r\nHost: x\r\n")  # never ends its headers
        trickle = _connect(running.url)
        for byte in b"GET /v1/config HTTP/1.1\r\nHost: x\r\nX-Slow: ":
            trickle.sendall(bytes([byte]))  # a byte now and then keeps keep-alive from firing
        after = _connect(running.url)  # a finished request, then a partial one
        after.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\n")
        for sock in (idle, partial, trickle, after):
            with sock:
                answer = _answer(sock)
                assert answer.endswith(b"the request headers did not arrive within the limit")
        assert _answer_of(running.url, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
            b"HTTP/1.1 200"
        )
    live.close()


def _answer_of(url: str, request: bytes) -> bytes:
    with _connect(url) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return _answer(sock)


def test_connections_beyond_the_cap_are_answered_503() -> None:
    source = QuietSource({"pool": 1})
    live = hotconf.watch(source, schema=SCHEMA, state_dir=None)
    with limited(Service(live), header_timeout=30.0, max_connections=8) as running:
        running.ready()
        held = [_connect(running.url) for _ in range(8)]
        try:
            for sock in held:  # each one is accepted and answered
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(12) == b"HTTP/1.1 200"
            wait_for(lambda: len(running.server.server_state.connections) == 8)
            for _ in range(3):
                answer = _answer_of(running.url, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert answer.startswith(b"HTTP/1.1 503") and b"too many connections" in answer
        finally:
            for sock in held:
                sock.close()
        wait_for(lambda: len(running.server.server_state.connections) == 0)
        assert _answer_of(running.url, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
            b"HTTP/1.1 200"
        )
    live.close()


def test_a_full_disk_shows_in_readiness_and_metrics_not_as_a_rejection(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text())
    store = Store.open(tmp_path / "state")
    live = LiveConfig(FileSource(path), store=store, poll_interval=None)
    with Running(Service(live, token=ADMIN)) as running:
        running.ready()
        with running.client() as http, running.client(ADMIN) as admin:
            fill(store, full=True)
            path.write_text(config_text(pool=7, extra="big: " + "x" * 20_000 + "\n"))
            wait_for(lambda: live.store_failures >= 1, what="a failed commit")
            ready = http.get("/readyz")
            assert ready.status_code == 200  # the config served is still valid
            body = ready.json()
            assert body["state"] == "degraded" and body["last_rejection"] is None
            assert "database or disk is full" in body["store_problem"]
            metrics = http.get("/metrics").text
            assert re.search(r"^hotconf_store_failures_total [1-9]", metrics, re.M)
            assert "hotconf_store_failing 1.0" in metrics
            assert "hotconf_rejections_total 0.0" in metrics
            reload = admin.post("/v1/reload", json={})
            assert reload.status_code == 503 and reload.json()["type"].endswith("store-failure")
            assert http.get("/v1/rejections").json() == {"rejections": []}
            fill(store, full=False)
            wait_for(lambda: live.version == 2, what="the retried commit")
            body = http.get("/readyz").json()
            assert (body["state"], body["store_problem"]) == ("ready", None)
    live.close()
