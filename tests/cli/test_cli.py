"""The ``hotconf`` command: exit codes, output, and ``watch`` as a real subprocess."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import hotconf
from hotconf.cli import main

from ..conftest import config_text, wait_for


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_validate_valid(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yaml", config_text())
    assert main(["validate", str(config), "--schema", str(schema_file)]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_invalid_points_at_file_and_line(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yaml", config_text(pool=0))
    assert main(["validate", str(config), "--schema", str(schema_file)]) == 1
    err = capsys.readouterr().err
    assert f"{config}:3: /db/pool_size:" in err


def test_validate_unparsable_is_invalid(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yaml", "db:\n  host: a\n  host: b\n")
    assert main(["validate", str(config), "--schema", str(schema_file)]) == 1
    assert ":3:" in capsys.readouterr().err


def test_validate_json_output(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yaml", config_text(pool=0))
    assert main(["validate", str(config), "--schema", str(schema_file), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["problems"][0]["path"] == "/db/pool_size"
    assert report["problems"][0]["line"] == 3


def test_problems_come_in_line_order_and_a_refused_key_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = write(
        tmp_path / "s.json",
        json.dumps({
            "type": "object",
            "additionalProperties": False,
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "z": {}},
        }),
    )  # fmt: skip
    config = write(tmp_path / "config.yaml", "z: 1\nb: x\nextra: 1\na: y\n")
    assert main(["validate", str(config), "--schema", str(schema), "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["line"], p["path"], p["code"]) for p in problems] == [
        (2, "/b", "type"),
        (3, "/extra", "additionalProperties"),
        (4, "/a", "type"),
    ]
    assert main(["validate", str(config), "--schema", str(schema)]) == 1
    lines = capsys.readouterr().err.splitlines()[1:]
    assert [line.split(": ")[1] for line in lines] == ["/b", "/extra", "/a"]


def test_validate_without_a_schema_says_it_only_parsed(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pool_size 0 breaks the schema: without --schema nothing says "valid" about it
    config = write(tmp_path / "config.yaml", config_text(pool=0))
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out
    assert "parses" in out and "not validated: no --schema given" in out
    assert "valid (" not in out
    assert main(["validate", str(config), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "not validated: no schema was given" in out and ": valid**" not in out
    assert main(["validate", str(config), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == "syntax" and report["schema"] is None
    assert report["note"] == "parses; not validated: no schema was given"
    assert main(["validate", str(config), "--schema", str(schema_file), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == "schema" and report["schema"] == str(schema_file)
    assert "note" not in report
    # what does not parse is invalid with or without a schema
    write(config, "db: [\n")
    assert main(["validate", str(config)]) == 1


@pytest.mark.parametrize("fast", ["1", "0"], ids=["fast", "reference"])
def test_validate_with_a_self_referencing_schema_prints_problems_not_a_traceback(
    tmp_path: Path, fast: str
) -> None:
    schema = {"$ref": "#", "properties": {"next": {"$ref": "#"}, "n": {"type": "integer"}}}
    write(tmp_path / "schema.json", json.dumps(schema))
    write(tmp_path / "good.yaml", "next:\n  next:\n    n: 1\n")
    write(tmp_path / "bad.yaml", "next:\n  next:\n    n: one\n")
    run = functools.partial(
        subprocess.run,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOTCONF_FAST": fast},
    )
    cmd = [sys.executable, "-m", "hotconf", "validate", "--schema", str(tmp_path / "schema.json")]
    good = run([*cmd, str(tmp_path / "good.yaml")])
    assert (good.returncode, good.stderr) == (0, "")
    bad = run([*cmd, str(tmp_path / "bad.yaml")])
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr + bad.stdout
    assert f"{tmp_path / 'bad.yaml'}:3: /next/next/n: " in bad.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "{tmp}/missing.yaml", "--schema", "{schema}"],
        ["validate", "{tmp}/config.yaml", "--schema", "{tmp}/missing.json"],
        ["validate", "{tmp}/config.yaml", "--schema", "{tmp}/bad-schema.json"],
        ["validate", "{tmp}/config.yaml", "--pointer", "#/x"],
        ["validate"],
        ["no-such-command"],
    ],
)
def test_cannot_run_exits_2(tmp_path: Path, schema_file: Path, args: list[str]) -> None:
    write(tmp_path / "config.yaml", config_text())
    write(tmp_path / "bad-schema.json", json.dumps({"type": "no-such-type"}))
    argv = [a.format(tmp=tmp_path, schema=schema_file) for a in args]
    assert main(argv) == 2


def test_an_unusable_schema_is_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yaml", config_text())
    assert main(["validate", str(config), "--schema", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("missing.json") == 1 and "No such file" in err, err
    # problems that add something to the message are still listed under it
    bad = write(tmp_path / "bad.yaml", "a: [\n")
    assert main(["validate", str(config), "--schema", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hotconf: cannot read schema") and err.count("bad.yaml") == 1, err


def _spawn_watch(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "hotconf", "watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


class Lines:
    """Collects a subprocess's stdout lines in a thread, so tests can wait for them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        stream = proc.stdout
        self._thread = threading.Thread(
            target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True
        )
        self._thread.start()

    def wait(self, needle: str) -> str:
        wait_for(lambda: any(needle in line for line in self.lines), what=repr(needle))
        return next(line for line in self.lines if needle in line)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_watch_prints_one_line_per_candidate(
    tmp_path: Path, schema_file: Path, sig: signal.Signals
) -> None:
    config = write(tmp_path / "config.yaml", config_text(pool=1))
    proc = _spawn_watch(
        str(config), "--schema", str(schema_file), "--state-dir", str(tmp_path / "s")
    )
    try:
        out = Lines(proc)
        out.wait("serving v1")
        config.write_text(config_text(pool=2))
        assert "db.pool_size" in out.wait("applied v2")
        config.write_text(config_text(pool=0))
        assert "/db/pool_size" in out.wait("rejected (v2 kept)")
        config.write_text("# same content, other form\ndb: {pool_size: 2, host: db.local}\n")
        out.wait("noop v2")
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sum("applied" in line for line in out.lines) == 1


def test_watch_says_each_rejection_once_and_applied_lines_have_level_and_keys(
    tmp_path: Path, schema_file: Path
) -> None:
    config = write(tmp_path / "config.yaml", config_text(pool=1))
    proc = _spawn_watch(str(config), "--schema", str(schema_file), "--no-state")
    try:
        out = Lines(proc)
        out.wait("serving v1")
        config.write_text(config_text(pool=0))
        out.wait("rejected (v1 kept)")
        config.write_text(config_text(pool=20))
        assert out.wait("applied v2").endswith("applied v2, risky (1 change: db.pool_size)\n")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "/db/pool_size" not in err and "rejected" not in err, err  # stdout said it


def test_watch_json_lines_and_a_gate(tmp_path: Path, schema_file: Path) -> None:
    state = tmp_path / "s"
    config = write(tmp_path / "config.yaml", config_text(pool=0))
    write(tmp_path / "good.yaml", config_text(pool=2))
    with hotconf.watch(tmp_path / "good.yaml", schema_file, state_dir=state):
        pass  # a last-known-good: v1, pool 2
    args = [str(config), "--schema", str(schema_file), "--state-dir", str(state)]
    proc = _spawn_watch(*args, "--format", "json", "--gate", "safe")
    try:
        out = Lines(proc)
        first = json.loads(out.wait('"watching"'))
        assert (first["version"], first["degraded"], first["gate"]) == (1, True, "safe")
        assert [p["path"] for p in first["problems"]] == ["/db/pool_size"]
        config.write_text(config_text(pool=3))
        applied = json.loads(out.wait('"applied"'))
        assert (applied["version"], applied["level"]) == (2, "safe")
        assert applied["changes"] == [
            {
                "key": "db.pool_size",
                "path": "/db/pool_size",
                "kind": "value_changed",
                "level": "safe",
            }
        ]
        config.write_text(config_text(pool=300))  # 100x: risky, above the gate: held
        held = json.loads(out.wait('"rejected"'))
        assert (held["version"], held["level"]) == (2, "risky")
        assert [p["code"] for p in held["problems"]] == ["gate"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = [json.loads(line) for line in out.lines]  # every line is JSON
    assert [r["event"] for r in records] == ["watching", "applied", "rejected", "stopped"]
    assert proc.stderr is not None
    assert "/db/pool_size" not in proc.stderr.read()


def test_watch_without_valid_config_exits_1(tmp_path: Path, schema_file: Path) -> None:
    config = write(tmp_path / "config.yaml", config_text(pool=0))
    proc = _spawn_watch(str(config), "--schema", str(schema_file), "--no-state")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "no valid config" in err
    assert "/db/pool_size" in err


OLD_SCHEMA = {
    "type": "object",
    "required": ["port"],
    "properties": {"port": {"type": "integer", "minimum": 1}, "mode": {"enum": ["a", "b"]}},
}
WIDER = {
    **OLD_SCHEMA,
    "properties": {**OLD_SCHEMA["properties"], "mode": {"enum": ["a", "b", "c"]}},
}
NARROWER = {
    **OLD_SCHEMA,
    "properties": {**OLD_SCHEMA["properties"], "port": {"type": "integer", "minimum": 1024}},
}


def test_schema_diff_exit_codes_modes_and_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path / "old.json", json.dumps(OLD_SCHEMA))
    wider = write(tmp_path / "wider.json", json.dumps(WIDER))
    narrower = write(tmp_path / "narrower.json", json.dumps(NARROWER))
    assert main(["schema-diff", str(old), str(wider)]) == 0  # upgrade: a widen is safe
    assert main(["schema-diff", str(old), str(wider), "--mode", "rollback"]) == 1
    assert main(["schema-diff", str(old), str(wider), "--fail-on", "safe"]) == 1
    assert main(["schema-diff", str(old), str(narrower)]) == 1
    capsys.readouterr()
    high = write(tmp_path / "high.yaml", "port: 8080\n")
    low = write(tmp_path / "low.yaml", "port: 80\n")
    main(["schema-diff", str(old), str(narrower), "--config", str(high), "--format", "json"])
    [change] = json.loads(capsys.readouterr().out)["changes"]
    assert (change["kind"], change["affected"]) == ("limit_tightened", False)
    main(["schema-diff", str(old), str(narrower), "--config", str(low), "--format", "json"])
    assert json.loads(capsys.readouterr().out)["changes"][0]["affected"] is True
    assert main(["schema-diff", str(old), str(narrower), "--format", "markdown"]) == 1
    assert "limit_tightened" in capsys.readouterr().out
    assert main(["schema-diff", str(old), str(tmp_path / "missing.json")]) == 2


def test_a_second_writer_on_one_state_dir_is_refused_naming_the_first(
    tmp_path: Path, schema_file: Path
) -> None:
    config = write(tmp_path / "config.yaml", config_text(pool=1))
    state = str(tmp_path / "s")
    first = _spawn_watch(str(config), "--schema", str(schema_file), "--state-dir", state)
    try:
        out = Lines(first)
        out.wait("serving v1")
        config.write_text(config_text(pool=2))
        out.wait("applied v2")
        second = _spawn_watch(str(config), "--schema", str(schema_file), "--state-dir", state)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert "in use by another hotconf process" in err and f"pid {first.pid}" in err
        assert "watch" in err  # its command
        rollback = subprocess.run(
            [sys.executable, "-m", "hotconf", "rollback", "--to", "1", "--state-dir", state,
             "--schema", str(schema_file)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert rollback.returncode == 2 and f"pid {first.pid}" in rollback.stderr
        history = subprocess.run(  # a reader is welcome
            [sys.executable, "-m", "hotconf", "history", "--state-dir", state],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert history.returncode == 0 and "v2" in history.stdout
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # the first one gone (even by kill -9, the kernel drops the lock), the next one starts
    third = _spawn_watch(str(config), "--schema", str(schema_file), "--state-dir", state)
    try:
        Lines(third).wait("serving v2")
    finally:
        third.kill()
        third.wait()
