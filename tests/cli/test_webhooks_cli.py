"""``hotconf deliveries`` and ``hotconf redeliver``: output, exit codes, no secrets; and
``hotconf watch --webhooks``."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

import hotconf
from hotconf.cli import main
from hotconf.testing import MemorySource

from ..conftest import WAIT, config_text, wait_for
from ..webhooks.test_webhooks import SECRET, Receiver, hooks, subscriber, verify
from .test_cli import Lines, _spawn_watch

ONE_TRY = hotconf.RetryPolicy(attempts=1)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state directory (``.hotconf`` next to config.yaml) with one dead delivery whose
    subscriber URL carries a token, and one delivered."""
    state = tmp_path / ".hotconf"
    (tmp_path / "config.yaml").write_text("n: 1\n")
    with Receiver([500, 200]) as receiver:
        subs = [subscriber(receiver.url("/hook?token=query-token"), name="billing")]
        source = MemorySource({"n": 1})
        with hotconf.watch(source, state_dir=state, webhooks=hooks(subs, retry=ONE_TRY)) as live:
            assert live.webhooks is not None
            webhooks = live.webhooks
            source.set({"n": 2})
            wait_for(lambda: webhooks.deliveries("dead"), what="a dead delivery")
            source.set({"n": 3})
            wait_for(lambda: webhooks.deliveries("delivered"), what="a delivery")
    return state


def test_deliveries_text(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliveries", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 2
    assert "delivered" in lines[0] and "v3" in lines[0] and "billing" in lines[0]
    assert "dead" in lines[1] and "v2" in lines[1] and "HTTP 500" in lines[1]
    assert SECRET not in out and "query-token" not in out


def test_deliveries_json_with_status_from_config(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = state.parent / "config.yaml"
    assert main(["deliveries", str(config), "--status", "dead", "--format", "json"]) == 0
    out = capsys.readouterr().out
    (dead,) = json.loads(out)
    assert (dead["status"], dead["version"], dead["subscriber"]) == ("dead", 2, "billing")
    assert dead["webhook_id"].startswith("msg_") and dead["last_status"] == 500
    assert SECRET not in out and "query-token" not in out
    assert main(["deliveries", str(config), "--status", "failed"]) == 0
    assert "no deliveries with status failed" in capsys.readouterr().out


def test_redeliver(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["deliveries", "--state-dir", str(state), "--status", "dead", "--format", "json"]) == 0
    )
    (dead,) = json.loads(capsys.readouterr().out)
    assert main(["redeliver", str(dead["id"]), "--state-dir", str(state)]) == 0
    assert f"delivery {dead['id']} (config.changed v2 to billing) is queued" in (
        capsys.readouterr().out
    )
    assert main(["deliveries", "--state-dir", str(state), "--status", "pending"]) == 0
    assert "v2" in capsys.readouterr().out
    # pending now, so not again; unknown ids; delivered ones
    assert main(["redeliver", str(dead["id"]), "--state-dir", str(state)]) == 1
    assert "is pending" in capsys.readouterr().err
    assert main(["redeliver", "999", "--state-dir", str(state)]) == 1
    assert "no delivery 999" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["deliveries"],  # neither CONFIG nor --state-dir
        ["deliveries", "c.yaml", "--state-dir", "x"],  # both
        ["deliveries", "--state-dir", "{tmp}/nothing-here"],  # no state database
        ["deliveries", "--state-dir", "{tmp}", "--status", "lost"],
        ["redeliver", "not-a-number", "--state-dir", "{tmp}"],
        ["redeliver", "1", "--state-dir", "{tmp}/nothing-here"],
    ],
)
def test_cannot_run_exits_2(tmp_path: Path, args: list[str]) -> None:
    assert main([a.replace("{tmp}", str(tmp_path)) for a in args]) == 2
    assert not (tmp_path / "nothing-here").exists()  # never creates a state database


def test_a_running_process_sends_what_the_cli_requeued(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Receiver([500, 200]) as receiver:
        sub = subscriber(receiver.url(), name="r")
        source = MemorySource({"n": 1})
        with hotconf.watch(source, state_dir=state, webhooks=hooks([sub], retry=ONE_TRY)) as live:
            assert live.webhooks is not None
            webhooks = live.webhooks
            source.set({"n": 2})
            wait_for(lambda: webhooks.deliveries("dead"), what="a dead delivery")
            (dead,) = webhooks.deliveries("dead")
            assert main(["redeliver", str(dead.id), "--state-dir", str(state)]) == 0
            wait_for(lambda: webhooks.deliveries("delivered"), what="the poll to pick it up")
        assert len(receiver.snapshot()) == 2


def test_watch_with_webhooks_delivers_each_version(tmp_path: Path, schema_file: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text(pool=1))
    with Receiver() as receiver:
        subscribers = tmp_path / "subscribers.yaml"
        subscribers.write_text(
            "subscribers:\n"
            "  - name: audit\n"
            f"    url: {receiver.url()}\n"
            f"    secret: {SECRET}\n"
            "    allow_private: true\n"
        )
        proc = _spawn_watch(
            str(config), "--schema", str(schema_file), "--state-dir", str(tmp_path / "s"),
            "--webhooks", str(subscribers),
        )  # fmt: skip
        try:
            out = Lines(proc)
            assert "1 webhook subscribers" in out.wait("serving v1")
            config.write_text(config_text(pool=2))
            out.wait("applied v2")
            config.write_text(config_text(pool=0))
            out.wait("rejected (v2 kept)")
            wait_for(lambda: len(receiver.snapshot()) == 2, what="two deliveries")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=WAIT) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        events = [verify(hit) for hit in receiver.snapshot()]
        assert [(e["type"], e["data"]["version"]) for e in events] == [
            ("config.changed", 2),
            ("config.rejected", 2),
        ]
    assert main(["deliveries", "--state-dir", str(tmp_path / "s"), "--status", "delivered"]) == 0


def test_watch_with_a_bad_webhooks_file_refuses_to_start(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    (tmp_path / "subscribers.yaml").write_text("subscribers: [{url: ftp://x}]\n")
    argv = ["watch", str(config), "--schema", str(schema_file), "--no-state"]
    assert main([*argv, "--webhooks", str(tmp_path / "subscribers.yaml")]) == 1
    assert "invalid webhook subscribers" in capsys.readouterr().err
