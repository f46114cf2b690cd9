"""``hotconf serve`` as a real subprocess (signals, exit codes), and ``history`` and
``rollback`` against a running server and against a state directory."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

# The HTTP service needs the serve extra (scripts/install-test-deps installs it).
pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("prometheus_client", reason="needs the serve extra: pip install -e '.[serve]'")

import hotconf
from hotconf.cli import main
from hotconf.service.app import Service

from ..conftest import WAIT, config_text, wait_for
from ..service.test_openapi import API
from ..service.test_service import ADMIN, Running
from .test_cli import Lines, _spawn_watch

ROOT = Path(__file__).resolve().parents[2]


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hotconf", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def _client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        base_url=url,
        headers=headers,
        timeout=WAIT,
        event_hooks={"response": [API.check_response]},
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_gracefully_on_a_signal(
    tmp_path: Path, schema_file: Path, sig: signal.Signals
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text(pool=1))
    proc = _serve(
        str(config),
        "--schema",
        str(schema_file),
        "--state-dir",
        str(tmp_path / "state"),
        "--port",
        "0",
        "--shutdown-timeout",
        "20",
    )
    try:
        out = Lines(proc)
        url = out.wait("listening on http://127.0.0.1:").split()[-1]
        with _client(url) as http:
            wait_for(lambda: http.get("/readyz").status_code == 200, what="ready")
            config.write_text(config_text(pool=2))
            assert http.get("/v1/config", params={"after": 1, "wait": 30}).status_code == 200
            answers: list[httpx.Response] = []
            poller = threading.Thread(
                target=lambda: answers.append(
                    http.get("/v1/config", params={"after": 2, "wait": 60})
                )
            )
            poller.start()
            wait_for(
                lambda: "hotconf_long_polls_waiting 1.0" in http.get("/metrics").text,
                what="the long-poll waits",
            )
            proc.send_signal(sig)
            poller.join(WAIT)
        assert answers and answers[0].status_code == 503  # readiness false at once
        assert answers[0].json()["state"] == "shutting_down"
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "service shutting down" in err and "closed" in err
    assert "stopped" in out.lines[-1]
    with hotconf.watch(config, schema_file, state_dir=tmp_path / "state") as live:
        assert [v.version for v in live.history()] == [2, 1]  # closed cleanly, both kept


def test_serve_refuses_to_listen_beyond_loopback_without_a_token(
    tmp_path: Path, schema_file: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    env = {"HOTCONF_TOKEN": ""}
    proc = _serve(str(config), "--schema", str(schema_file), "--host", "0.0.0.0", env=env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "refusing to listen on 0.0.0.0" in err and "HOTCONF_TOKEN" in err


def test_serve_without_a_valid_config_exits_1(tmp_path: Path, schema_file: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text(pool=0))
    proc = _serve(str(config), "--schema", str(schema_file), "--no-state", "--port", "0")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "no valid config" in err and "/db/pool_size" in err
    assert "listening on" in out  # it had bound: probes answered while it tried


def test_serve_reads_tokens_from_files(tmp_path: Path, schema_file: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    (tmp_path / "admin").write_text(ADMIN + "\n")
    (tmp_path / "empty").write_text("\n")
    for bad in ("empty", "nope"):
        token = str(tmp_path / bad)
        assert main(["serve", str(config), "-s", str(schema_file), "--token-file", token]) == 2
    proc = _serve(
        str(config), "--schema", str(schema_file), "--no-state", "--port", "0",
        "--token-file", str(tmp_path / "admin"),
    )  # fmt: skip
    try:
        url = Lines(proc).wait("listening on").split()[-1]
        with _client(url) as anonymous, _client(url, ADMIN) as admin:
            wait_for(lambda: anonymous.get("/readyz").status_code == 200, what="ready")
            assert anonymous.post("/v1/reload").status_code == 401
            assert admin.post("/v1/reload").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- history and rollback -------------------------------------------------------------------


@pytest.fixture
def three_versions(tmp_path: Path, schema_file: Path) -> Path:
    """A state dir with v1 (pool 1), v2 (pool 2), v3 (pool 3); the file holds pool 3."""
    config = tmp_path / "config.yaml"
    for pool in (1, 2, 3):
        config.write_text(config_text(pool=pool))
        with hotconf.watch(config, schema_file, state_dir=tmp_path / ".hotconf"):
            pass
    return config


def test_history_from_a_state_dir_or_next_to_the_config(
    three_versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = three_versions.parent / ".hotconf"
    assert main(["history", "--state-dir", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [re.match(r"[* ] v(\d+)", line).group(1) for line in lines] == ["3", "2", "1"]  # type: ignore[union-attr]
    assert lines[0].startswith("* v3")
    assert main(["history", str(three_versions), "--format", "json", "--limit", "2"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["current"] == 3 and [v["version"] for v in listing["versions"]] == [3, 2]
    assert main(["history", "--state-dir", str(three_versions.parent / "none")]) == 2
    assert main(["history"]) == 2
    assert main(["history", str(three_versions), "--url", "http://127.0.0.1:1"]) == 2


def test_history_and_rollback_through_a_running_server(
    three_versions: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opener = functools.partial(
        hotconf.watch, three_versions, schema_file, state_dir=three_versions.parent / ".hotconf"
    )
    with Running(Service(opener, token=ADMIN)) as server:
        live = server.ready()
        assert main(["history", "--url", server.url]) == 0
        assert capsys.readouterr().out.startswith("* v3")
        assert main(["rollback", "--url", server.url, "--to", "1"]) == 2  # no token
        assert "401" in capsys.readouterr().err
        os.environ["HOTCONF_TOKEN"] = ADMIN
        try:
            assert main(["rollback", "--url", server.url, "--to", "1"]) == 0
            assert "v4 serves the content of v1" in capsys.readouterr().out
            assert live.get("db.pool_size") == 1
            assert main(["rollback", "--url", server.url, "--to", "9"]) == 2
            assert "no version 9" in capsys.readouterr().err
        finally:
            del os.environ["HOTCONF_TOKEN"]
        token = three_versions.parent / "token"
        token.write_text(ADMIN)
        assert main(["rollback", "--url", server.url, "--token-file", str(token)]) == 0
        assert live.get("db.pool_size") == 3  # "the previous one": v4's predecessor, v3
    assert main(["rollback", "--url", server.url]) == 2  # the server is gone
    assert "cannot reach" in capsys.readouterr().err


def test_offline_rollback_is_served_at_the_next_start(
    three_versions: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = three_versions.parent / ".hotconf"
    assert main(["rollback", "--state-dir", str(state), "--to", "1"]) == 2  # needs --schema
    assert "--schema" in capsys.readouterr().err
    assert main(["rollback", str(three_versions), "--schema", str(schema_file), "--to", "1"]) == 0
    assert "v4 serves the content of v1" in capsys.readouterr().out
    # The file still holds v3's content; the rollback pinned it out, so v4 stays served.
    with hotconf.watch(three_versions, schema_file, state_dir=state) as live:
        assert (live.version, live.get("db.pool_size")) == (4, 1)
        assert live.history()[0].restores == 1
    # a target that fails the schema is refused (exit 1), nothing recorded
    strict = three_versions.parent / "strict.json"
    strict_schema = json.loads(schema_file.read_text())
    strict_schema["properties"]["db"]["properties"]["pool_size"]["not"] = {"const": 2}
    strict.write_text(json.dumps(strict_schema))
    assert main(["rollback", "--state-dir", str(state), "--schema", str(strict), "--to", "2"]) == 1
    assert "/db/pool_size" in capsys.readouterr().err
    assert main(["rollback", "--state-dir", str(state), "--schema", str(schema_file)]) == 0
    assert "v5 serves the content of v3" in capsys.readouterr().out
    with hotconf.watch(three_versions, schema_file, state_dir=state) as live:
        assert (live.version, live.get("db.pool_size")) == (5, 3)
    # a schema the last-known-good fails is the wrong schema: refused, nothing changes
    strict_schema["properties"]["db"]["properties"]["pool_size"]["not"] = {"const": 3}
    strict.write_text(json.dumps(strict_schema))
    assert main(["rollback", "--state-dir", str(state), "--schema", str(strict)]) == 2
    assert "is it the schema the service runs with" in capsys.readouterr().err


def test_readme_snippet_runs_against_the_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/service.md's README snippet: its serve command, and each curl call is an
    operation of the API that answers (2xx or 304) on a server started that way."""
    text = (ROOT / "docs" / "service.md").read_text()
    section = text.split("## README snippet", 1)[1]
    command = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)[0]
    first = command.splitlines()[0]
    assert first.startswith("python3 -m pip install -e ")
    assert "&& hotconf serve examples/service/config.yaml --schema " in first
    args = first.split("&&")[1].split()[2:]
    curls = re.findall(r"^curl (.*?)(?:\s+#.*)?$", section, flags=re.M)
    assert len(curls) >= 4
    monkeypatch.chdir(ROOT)
    assert main(["validate", *args]) == 0
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "examples" / "service" / "config.yaml").read_text())
    opener = functools.partial(
        hotconf.watch,
        config,
        ROOT / "examples" / "service" / "config.schema.json",
        state_dir=tmp_path / "state",
    )
    with Running(Service(opener)) as server, _client(server.url) as http:
        live = server.ready()
        # the snippet's reader edits the config in another terminal while the curls run
        config.write_text(config.read_text().replace("pool_size: 10", "pool_size: 20"))
        wait_for(lambda: live.version == 2, what="the edit applied")
        for curl in curls:
            method = "POST" if re.search(r"-X ?POST|--data|-d ", curl) else "GET"
            url = re.search(r"['\"]?(http://[^\s'\"]+)", curl).group(1)  # type: ignore[union-attr]
            path = url.replace("http://127.0.0.1:8750", "")
            data = re.search(r"(?:--data(?:-binary)?|-d) '([^']*)'", curl)
            body = data.group(1).encode() if data else None
            headers = dict(re.findall(r"-H '([^:]+): ([^']+)'", curl))
            r = http.request(method, path, content=body, headers=headers)
            assert r.status_code in (200, 304), (curl, r.text)


def test_serve_with_webhooks(tmp_path: Path, schema_file: Path) -> None:
    from hotconf.webhooks.manager import new_secret

    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(
        "subscribers:\n"
        "  - name: audit\n"
        "    url: http://127.0.0.1:9/hook\n"  # nothing listens: deliveries stay in the outbox
        f"    secret: {new_secret()}\n"
        "    allow_private: true\n"
    )
    proc = _serve(
        str(config), "--schema", str(schema_file), "--state-dir", str(tmp_path / "state"),
        "--webhooks", str(subscribers), "--port", "0",
    )  # fmt: skip
    try:
        url = Lines(proc).wait("listening on").split()[-1]
        with _client(url) as http:
            wait_for(lambda: http.get("/readyz").status_code == 200, what="ready")
            listed = http.get("/v1/subscriptions").json()["subscriptions"]
            assert [(s["id"], s["origin"]) for s in listed] == [("audit", "file")]
            config.write_text(config_text(pool=9))
            wait_for(lambda: http.get("/v1/deliveries").json()["deliveries"], what="a delivery")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# Rollbacks in a row: each one is (how, target version); v1/v2/v3 hold pool 1/2/3, the file
# holds pool 3 throughout. The file's content stays pinned out until the file changes.
ROLLBACK_RUNS = {
    "two offline": [("offline", 2), ("offline", 1)],
    "three offline": [("offline", 2), ("offline", 1), ("offline", 2)],
    "two online": [("live", 2), ("live", 1)],
    "three over HTTP": [("http", 1), ("http", 2), ("http", 1)],
    "online then offline": [("live", 2), ("offline", 1)],
    "offline then over HTTP then offline": [("offline", 1), ("http", 2), ("offline", 1)],
}


def _roll_back(how: str, to: int, config: Path, schema_file: Path) -> None:
    state = config.parent / ".hotconf"
    if how == "offline":
        args = ["rollback", "--state-dir", str(state), "--schema", str(schema_file)]
        assert main([*args, "--to", str(to)]) == 0
        return
    opener = functools.partial(hotconf.watch, config, schema_file, state_dir=state)
    if how == "live":
        with opener() as live:
            assert live.rollback(to).status == "applied"
        return
    with Running(Service(opener, token=ADMIN)) as server, _client(server.url, ADMIN) as http:
        server.ready()
        assert http.post("/v1/rollback", json={"to": to}).json()["status"] == "applied"


@pytest.mark.parametrize("steps", ROLLBACK_RUNS.values(), ids=ROLLBACK_RUNS.keys())
def test_rollbacks_in_a_row_hold_until_the_file_changes(
    three_versions: Path, schema_file: Path, steps: list[tuple[str, int]]
) -> None:
    state = three_versions.parent / ".hotconf"
    for n, (how, to) in enumerate(steps, start=4):
        _roll_back(how, to, three_versions, schema_file)
        # a restart on the unchanged file serves the rollback, as no new version
        with hotconf.watch(three_versions, schema_file, state_dir=state) as live:
            assert (live.version, live.get("db.pool_size")) == (n, to), (how, to)
            assert live.history()[0].restores == to
    last = 3 + len(steps)
    proc = _spawn_watch(
        str(three_versions), "--schema", str(schema_file), "--state-dir", str(state)
    )
    try:
        out = Lines(proc)
        out.wait(f"serving v{last} ")
        three_versions.write_text(config_text(pool=7))  # the file changes: it goes live
        out.wait(f"applied v{last + 1}")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with hotconf.watch(three_versions, schema_file, state_dir=state) as live:
        assert (live.version, live.get("db.pool_size")) == (last + 1, 7)
