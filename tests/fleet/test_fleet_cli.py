"""Fleet mode from the command line and the service, against a real etcd (loopback ports,
data in a temp dir; skipped without the ``etcd`` binary): ``history``/``rollback --etcd``,
``serve --etcd`` as a subprocess, ``GET /v1/rollouts`` and the etcd metrics."""

from __future__ import annotations

import functools
import json
import re
import signal
from pathlib import Path

import pytest

# The HTTP service needs the serve extra (scripts/install-test-deps installs it).
pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("prometheus_client", reason="needs the serve extra: pip install -e '.[serve]'")

import hotconf
from hotconf.cli import main
from hotconf.fleet import publisher as fleet
from hotconf.service.app import Service
from hotconf.sources.etcd import EtcdSource

from ..cli.test_cli import Lines
from ..cli.test_service_cli import _client, _serve
from ..conftest import SCHEMA, WAIT, config_text, wait_for
from ..service.test_service import Running
from .test_etcd import ETCD, FAST, EtcdServer, publish

needs_etcd = pytest.mark.skipif(
    ETCD is None, reason="etcd is not installed (Debian: apt-get install -y etcd-server)"
)


def samples(text: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", text, re.M)}


# -- usage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--schema", "{schema}"], "give CONFIG, or --etcd"),
        (["serve", "--etcd", "http://127.0.0.1:9"], "--etcd needs --name"),
        (["serve", "{tmp}/c.yaml", "--etcd", "http://127.0.0.1:9", "--name", "a"], "replaces"),
        (["serve", "{tmp}/c.yaml", "--instance", "i1"], "go with --etcd"),
        (["serve", "{tmp}/c.yaml", "--name", "a"], "--name goes with --etcd"),
        (["serve", "--etcd", "http://127.0.0.1:9", "--name", "a", "--label", "zone"], "KEY=VALUE"),
        (["history", "--etcd", "http://127.0.0.1:9"], "--etcd needs --name"),
        (["history", "--etcd", "http://127.0.0.1:9", "--name", "a", "--url", "http://x"], "excl"),
        (["rollback", "--etcd", "http://127.0.0.1:9", "--name", "a"], "needs --schema"),
        (["rollback", "{tmp}/c.yaml", "--name", "a"], "--name goes with --etcd"),
    ],
)
def test_fleet_options_usage_errors(
    args: list[str],
    message: str,
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "c.yaml").write_text(config_text())
    argv = [a.format(tmp=tmp_path, schema=schema_file) for a in args]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


# -- history and rollback ------------------------------------------------------------------


@needs_etcd
def test_history_and_rollback_in_etcd(
    etcd: EtcdServer, tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_args = ["--etcd", etcd.url, "--name", "app"]
    assert main(["history", *fleet_args]) == 0
    assert "nothing published under app yet" in capsys.readouterr().out
    publish(etcd.url, config_text(pool=5))
    publish(etcd.url, config_text(pool=7))

    assert main(["history", *fleet_args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line[:4] for line in lines] == ["* v2", "  v1"]
    assert "safe" in lines[0] or "risky" in lines[0]

    rollback = ["rollback", *fleet_args, "--schema", str(schema_file)]
    assert main(rollback) == 0
    out = capsys.readouterr().out
    assert "published app v3: the content of the previous version (rolled back from v2)" in out
    assert "/db/pool_size" in out  # the impact report
    assert main(["history", *fleet_args, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["current"], listed["canary"]) == (3, None)
    assert [v["version"] for v in listed["versions"]] == [3, 2, 1]
    assert (listed["versions"][0]["restores"], listed["versions"][0]["rolled_back_from"]) == (1, 2)
    assert main(["history", *fleet_args, "--limit", "1"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("* v3") and "rollback to v1 (replaced v2)" in line

    assert main([*rollback, "--to", "3"]) == 0
    assert "noop: app v3 already has that content" in capsys.readouterr().out
    assert main([*rollback, "--to", "9"]) == 2
    assert "v9 is not in etcd" in capsys.readouterr().err

    strict = tmp_path / "strict.schema.json"
    tight = json.loads(json.dumps(SCHEMA))
    tight["properties"]["db"]["properties"]["pool_size"]["minimum"] = 6
    strict.write_text(json.dumps(tight))
    assert main(["rollback", *fleet_args, "--to", "1", "--schema", str(strict)]) == 1
    err = capsys.readouterr().err
    assert "cannot roll back to v1" in err and "/db/pool_size" in err
    with fleet.Fleet(etcd.url, "app") as f:
        assert [v["version"] for v in f.versions()] == [3, 2, 1]  # nothing written

    assert main(["history", "--etcd", "http://127.0.0.1:9", "--name", "app"]) == 2


# -- serve --etcd ----------------------------------------------------------------------------


@needs_etcd
def test_serve_follows_etcd_reports_and_shows_the_fleet_canary(
    etcd: EtcdServer, tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(etcd.url, config_text(pool=5))
    proc = _serve(
        "--etcd", etcd.url, "--name", "app", "--instance", "web-1", "--label", "zone=eu-1",
        "--label", "tier=web", "--schema", str(schema_file), "--state-dir",
        str(tmp_path / "state"), "--port", "0",
    )  # fmt: skip
    try:
        url = Lines(proc).wait("listening on").split()[-1]
        with _client(url) as http, fleet.Fleet(etcd.url, "app") as f:
            wait_for(lambda: http.get("/readyz").status_code == 200, what="ready")
            assert http.get("/v1/config/db.pool_size").json()["value"] == 5
            # hotconf.watch bound the source: the instance reports what it serves
            wait_for(lambda: [i.serving for i in f.instances()] == [1], what="a report of v1")
            (me,) = f.instances()
            assert (me.id, dict(me.labels)) == ("web-1", {"zone": "eu-1", "tier": "web"})

            publish(etcd.url, config_text(pool=7))
            r = http.get("/v1/config", params={"after": 1, "wait": WAIT})
            assert r.status_code == 200 and r.json()["db"]["pool_size"] == 7
            body = http.get("/v1/rollouts").json()
            assert body["rollouts"] == []
            assert body["fleet"]["etcd"]["instance"] == "web-1"
            assert body["fleet"]["etcd"]["connected"] is True
            assert (body["fleet"]["rollout"], body["fleet"]["error"]) == (None, None)

            # published without a schema, refused by the instance's: it keeps serving v2 and
            # says so (only a source bound to its LiveConfig knows what was refused)
            unchecked = fleet.publish(etcd.url, "app", config_text(pool=0).encode())
            assert unchecked.version == 3
            wait_for(
                lambda: [(i.serving, i.rejected) for i in f.instances()] == [(2, 3)],
                what="the instance to report the rejection of v3",
            )
            assert http.get("/readyz").json()["degraded"] is True

            started = publish(etcd.url, config_text(pool=9), canary="instance=web-1")
            assert started.status == "canary" and started.instances == ("web-1",)
            wait_for(lambda: http.get("/v1/config/db.pool_size").json()["value"] == 9)
            canary = http.get("/v1/rollouts").json()["fleet"]["rollout"]
            assert (canary["id"], canary["version"], canary["stable"]) == (started.rollout, 4, 3)
            assert canary["instances"] == ["web-1"] and canary["member"] is True
            found = samples(http.get("/metrics").text)
            assert found["hotconf_etcd_connected"] == 1
            assert found["hotconf_etcd_revision"] > 0
            assert found["hotconf_etcd_reconnects_total"] == 0
            assert found["hotconf_etcd_compactions_total"] == 0

        assert main(["history", "--etcd", etcd.url, "--name", "app"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line[:4] for line in lines] == ["~ v4", "* v3", "  v2", "  v1"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
        assert proc.stderr is not None
        log = proc.stderr.read()
        assert "app v2 applied" in log  # the log says what happened...
        assert "HTTP Request" not in log  # ...not each call to etcd (DEBUG)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_etcd
def test_rollouts_show_the_local_view_while_etcd_is_away(etcd: EtcdServer, tmp_path: Path) -> None:
    publish(etcd.url, config_text(pool=5))
    source = EtcdSource(etcd.url, name="app", instance="solo", **FAST)  # type: ignore[arg-type]
    opener = functools.partial(hotconf.watch, source, SCHEMA, state_dir=tmp_path / "state")
    with Running(Service(opener)) as server, server.client() as http:
        live = server.ready()
        assert live.source.status()["instance"] == "solo"  # type: ignore[attr-defined]
        wait_for(lambda: http.get("/v1/rollouts").json()["fleet"]["etcd"]["connected"])
        etcd.stop()
        wait_for(
            lambda: not http.get("/v1/rollouts").json()["fleet"]["etcd"]["connected"],
            what="the watch to notice",
        )
        fleet_view = http.get("/v1/rollouts").json()["fleet"]
        assert fleet_view["rollout"] is None and "not connected" in fleet_view["error"]
        assert fleet_view["etcd"]["serving"] == 1
        found = samples(http.get("/metrics").text)
        assert found["hotconf_etcd_connected"] == 0
        assert found["hotconf_etcd_reconnects_total"] >= 1
        assert http.get("/v1/config/db.pool_size").json()["value"] == 5  # still serving
        etcd.start()
        wait_for(lambda: samples(http.get("/metrics").text)["hotconf_etcd_connected"] == 1)
        assert http.get("/v1/rollouts").json()["fleet"]["error"] is None


# -- hotconf rollout -------------------------------------------------------------------------


@needs_etcd
def test_rollout_status_promote_and_abort_in_etcd(
    etcd: EtcdServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--etcd", etcd.url, "--name", "app"]
    publish(etcd.url, config_text(pool=5))
    assert main(["rollout", "status", *args]) == 0
    assert json.loads(capsys.readouterr().out) is None  # none yet
    assert main(["rollout", "promote", *args]) == 2
    assert "no canary rollout is running" in capsys.readouterr().err
    with hotconf.watch(
        EtcdSource(etcd.url, name="app", instance="a", **FAST),  # type: ignore[arg-type]
        schema=SCHEMA,
        state_dir=None,
    ) as live:
        with fleet.Fleet(etcd.url, "app") as f:
            wait_for(lambda: len(f.instances()) == 1, what="the instance's report")
        started = publish(etcd.url, config_text(pool=6), canary="instance=a")
        wait_for(lambda: live.version == 2, what="the canary on a")
        assert main(["rollout", "status", *args]) == 0
        status = json.loads(capsys.readouterr().out)
        assert (status["id"], status["state"], status["version"]) == (started.rollout, "running", 2)
        assert status["instances"] == ["a"]
        assert main(["rollout", "abort", *args, "--reason", "looks wrong"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert (record["state"], record["reason"]) == ("aborted", "looks wrong")
        wait_for(lambda: live.version == 1, what="a back on v1")
        again = publish(etcd.url, config_text(pool=7), canary="instance=a")
        assert main(["rollout", "promote", *args]) == 0
        record = json.loads(capsys.readouterr().out)
        assert (record["id"], record["state"], record["reason"]) == (
            again.rollout,
            "promoted",
            "promoted by hand",
        )
        wait_for(lambda: live.version == 3 and live.get("db.pool_size") == 7, what="v3")
        assert main(["rollout", "status", *args]) == 0  # none runs: the newest one's record
        assert json.loads(capsys.readouterr().out)["id"] == again.rollout


def test_rollout_commands_on_a_service(capsys: pytest.CaptureFixture[str]) -> None:
    from ..service.test_service import QuietSource, data

    token = "a" * 32
    opener = functools.partial(hotconf.watch, QuietSource(data()), SCHEMA, state_dir=None)
    with Running(Service(opener, token=token)) as server:
        live = server.ready()
        url = server.url
        env = {"HOTCONF_TOKEN": token}
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            assert main(["rollout", "status", "--url", url]) == 0
            assert json.loads(capsys.readouterr().out) is None
            assert main(["rollout", "abort", "--url", url]) == 2  # nothing runs
            assert "no rollout is running" in capsys.readouterr().err
            rollout = live.rollout(data(pool=9), mode="shadow")
            assert main(["rollout", "status", "--url", url]) == 0
            shown = json.loads(capsys.readouterr().out)
            assert (shown["id"], shown["mode"], shown["state"]) == (rollout.id, "shadow", "running")
            assert main(["rollout", "promote", "--url", url, "--reason", "fine"]) == 0
            assert json.loads(capsys.readouterr().out)["state"] == "promoted"
            assert (rollout.reason, live.version) == ("fine", 2)
        assert main(["rollout", "abort", "--url", url]) == 2  # no token: 401
    assert main(["rollout", "status"]) == 2
    assert "give --etcd URL --name NAME" in capsys.readouterr().err
