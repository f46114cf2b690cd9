"""Layers: defaults < files < secrets_dir < environment, as real files, a real environment and
real watching; provenance (``live.explain``, ``hotconf explain``, ``?explain=1``); secrets
redacted everywhere."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.cli import main
from hotconf.errors import NoValidConfigError, SourceError
from hotconf.pipeline.evaluate import evaluate
from hotconf.sources.layers import LayeredSource
from hotconf.testing import EventRecorder

from ..conftest import wait_for

DSN = "postgres://app:pw-9f2k@db/prod"  # a secret at a key whose name says nothing
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "db": {
            "type": "object",
            "properties": {
                "host": {"type": "string"},
                "pool_size": {"type": "integer", "minimum": 1},
                "poolTimeout": {"type": "number"},
                "debug": {"type": "boolean"},
                "label": {"type": "string"},
                "password": {"type": "string"},
                "dsn": {"type": "string", "maxLength": 100},
            },
        },
    },
}
CLOSED: dict[str, Any] = json.loads(json.dumps(SCHEMA))
CLOSED["additionalProperties"] = False
CLOSED["properties"]["db"]["additionalProperties"] = False


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """config.yaml, defaults.yaml, secrets/ in tmp_path; no APP_ variable set."""
    for var in [v for v in os.environ if v.startswith("APP_")]:
        monkeypatch.delenv(var)
    (tmp_path / "config.yaml").write_text("db:\n  host: db.internal\n  pool_size: 10\n")
    (tmp_path / "defaults.yaml").write_text("db:\n  pool_size: 5\n  poolTimeout: 1.5\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db__password").write_text("hunter2-pw\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def layered(app: Path, schema: Any = SCHEMA, **kw: Any) -> hotconf.LiveConfig:
    options: dict[str, Any] = {
        "env_prefix": "APP_",
        "secrets_dir": app / "secrets",
        "defaults": app / "defaults.yaml",
        "state_dir": None,
    }
    options.update(kw)
    return hotconf.watch(app / "config.yaml", schema, **options)


def test_precedence_defaults_files_secrets_environment(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (app / "secrets" / "db__pool_size").write_text("20")
    monkeypatch.setenv("APP_DB__POOL_SIZE", "30")
    with layered(app, schema=None) as live:
        assert live.current["db"]["pool_size"] == 30  # the environment wins
        assert live.current["db"]["poolTimeout"] == 1.5  # from the defaults
        assert live.current["db"]["password"] == "hunter2-pw"  # noqa: S105 (newline stripped)
        monkeypatch.delenv("APP_DB__POOL_SIZE")
        assert live.reload().status == "applied"
        assert live.get("db.pool_size") == "20"  # a secret file is text, never parsed
        (app / "secrets" / "db__pool_size").unlink()
        live.reload()
        assert live.get("db.pool_size") == 10
        (app / "config.yaml").write_text("db:\n  host: db.internal\n")
        live.reload()
        assert live.get("db.pool_size") == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30", 30), ("true", True), ("'30'", "30"), ('"true"', "true"), ("1.5", 1.5),
     ("", None), ("0o17", 15), ("db.example", "db.example"), ("a b", "a b")],
)  # fmt: skip
def test_environment_values_are_yaml_12_scalars(
    app: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: Any
) -> None:
    monkeypatch.setenv("APP_DB__HOST", value)  # no schema: a key the file has
    with layered(app, schema=None) as live:
        assert live.current["db"]["host"] == expected
        assert type(live.current["db"]["host"]) is type(expected)


def test_variable_names_match_keys_ignoring_case_and_nest_on_double_underscores(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DB__POOLTIMEOUT", "2.5")  # the key is poolTimeout
    monkeypatch.setenv("APP_DB__DEBUG", "true")  # not in the files: the schema knows it
    with layered(app) as live:
        assert live.current["db"]["poolTimeout"] == 2.5
        assert live.current["db"]["debug"] is True
        assert "pooltimeout" not in live.current["db"]


def test_unknown_variables_are_ignored_with_a_warning_under_an_open_schema(
    app: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("APP_DB__POOLSIZE", "3")  # a typo
    monkeypatch.setenv("APP_VERSION", "1.2.3")  # set by a platform, not for us
    caplog.set_level(logging.WARNING, "hotconf")
    with layered(app) as live:
        assert live.current["db"] == {
            "host": "db.internal",
            "pool_size": 10,
            "poolTimeout": 1.5,
            "password": "hunter2-pw",
        }
        assert "version" not in live.current
    assert "APP_DB__POOLSIZE: ignored: db.poolsize is not a key" in caplog.text
    assert "APP_VERSION: ignored" in caplog.text


def test_an_unknown_variable_under_a_closed_schema_is_a_rejection(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with layered(app, schema=CLOSED) as live:
        monkeypatch.setenv("APP_DB__POOLSIZE", "3")
        result = live.reload()
        assert result.status == "rejected" and live.version == 1  # last-known-good kept
        (problem,) = result.problems
        assert (problem.source, problem.line, problem.path) == (
            "APP_DB__POOLSIZE",
            None,
            "/db/poolsize",
        )
        assert problem.code == "unknown-key"
        assert str(problem).startswith("APP_DB__POOLSIZE: /db/poolsize: sets db.poolsize")
        monkeypatch.setenv("APP_DB__POOLSIZE", "10")  # the same data: still refused
        assert live.reload().status == "rejected"
        monkeypatch.delenv("APP_DB__POOLSIZE")
        monkeypatch.setenv("APP_OTHER", "x")  # closed at the top level too
        assert live.reload().problems[0].source == "APP_OTHER"


def test_a_bad_value_is_a_rejection_naming_the_variable(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with layered(app) as live:
        monkeypatch.setenv("APP_DB__POOL_SIZE", "lots")
        result = live.reload()
        assert result.status == "rejected" and live.get("db.pool_size") == 10
        (problem,) = result.problems
        assert (problem.source, problem.line, problem.path) == (
            "APP_DB__POOL_SIZE",
            None,
            "/db/pool_size",
        )
        monkeypatch.setenv("APP_DB__POOL_SIZE", "{a: 1}")  # not one scalar
        (problem,) = live.reload().problems
        assert (problem.source, problem.line, problem.code) == (
            "APP_DB__POOL_SIZE",
            None,
            "root-type",
        )
        assert live.last_rejection is not None and live.degraded
        monkeypatch.setenv("APP_DB__POOL_SIZE", "7")
        assert live.reload().status == "applied" and live.get("db.pool_size") == 7


def test_a_bad_variable_at_start_follows_the_last_known_good_rules(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DB__POOL_SIZE", "0")
    with pytest.raises(NoValidConfigError) as info:
        layered(app, state_dir=app / "state")
    assert info.value.problems[0].source == "APP_DB__POOL_SIZE"
    monkeypatch.setenv("APP_DB__POOL_SIZE", "8")
    with layered(app, state_dir=app / "state") as live:
        assert live.get("db.pool_size") == 8
    monkeypatch.setenv("APP_DB__POOL_SIZE", "0")
    with layered(app, state_dir=app / "state") as live:  # serves the last-known-good
        assert live.degraded and live.get("db.pool_size") == 8
        assert live.last_rejection is not None
        assert live.last_rejection.problems[0].source == "APP_DB__POOL_SIZE"


def test_secret_files_are_watched(app: Path) -> None:
    with layered(app, poll_interval=None) as live:
        (app / "secrets" / "db__password").write_text("rotated-pw\r\n")
        wait_for(lambda: live.get("db.password") == "rotated-pw", what="the new secret")
        (app / "secrets" / "db__label").write_text("0123\n")
        wait_for(lambda: live.get("db.label") == "0123", what="a new secret file")


def test_a_kubernetes_secret_volume_swap_is_followed(app: Path) -> None:
    volume = app / "volume"
    volume.mkdir()

    def publish(stamp: str, password: str) -> None:
        data = volume / f"..{stamp}"
        data.mkdir()
        (data / "db__password").write_text(password)
        (volume / "..data_tmp").symlink_to(data.name)
        os.replace(volume / "..data_tmp", volume / "..data")  # the atomic swap kubelet does

    publish("2026_01_01_00_00_00.1", "first-pw")
    (volume / "db__password").symlink_to("..data/db__password")
    with layered(app, secrets_dir=volume, poll_interval=None) as live:
        assert live.get("db.password") == "first-pw"
        publish("2026_01_02_00_00_00.2", "second-pw")
        wait_for(lambda: live.get("db.password") == "second-pw", what="the swapped secret")


def test_a_secret_that_is_not_text_is_refused_without_its_bytes(app: Path) -> None:
    with layered(app) as live:
        (app / "secrets" / "db__password").write_bytes(b"\xff\xfepw")
        (problem,) = live.reload().problems
        assert problem.code == "encoding" and problem.source == str(
            app / "secrets" / "db__password"
        )
        assert "\\xff" not in str(problem) and "pw" not in problem.message


def test_secret_file_values_are_redacted_everywhere(
    app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "hotconf")
    (app / "secrets" / "db__dsn").write_text(DSN)
    with layered(app, state_dir=app / "state") as live:
        events = EventRecorder()
        live.subscribe(events, rejections=True)
        assert live.get("db.dsn") == DSN  # the config itself holds it
        assert live.is_sensitive("db.dsn") and live.is_sensitive(("db", "dsn", "x"))
        assert not live.is_sensitive("db.host")
        (app / "secrets" / "db__dsn").write_text(DSN + "-rotated")
        live.reload()
        (app / "secrets" / "db__dsn").write_text("x" * 101)  # too long: rejected
        live.reload()
        wait_for(  # subscribers are called on their own thread
            lambda: events.changes and events.rejections, what="the change and the rejection"
        )
        explained = live.explain("db.dsn")
        shown = [
            str(events.changes[-1].report.to_dict()),
            events.changes[-1].report.to_text(),
            str(events.rejections[-1].problems),
            str(live.rejections()),
            str(live.compare(1, 2).to_dict()),
            str(explained),
            json.dumps(explained.to_dict()),
            caplog.text,
        ]
        assert events.changes[-1].changed == ("db.dsn",)
        assert explained.value == hotconf.REDACTED and explained.layer == "secret"
    for text in shown:
        assert DSN not in text and "xxxxxxxx" not in text
    with layered(app, state_dir=app / "state", secrets_dir=None) as live:  # remembered
        assert live.is_sensitive("db.dsn")


def test_explain_names_the_layer_and_what_it_overrode(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DB__POOL_SIZE", "30")
    with layered(app) as live:
        e = live.explain("db.pool_size")
        assert (e.found, e.value, e.version, e.layer) == (True, 30, 1, "env")
        assert [(s.layer, s.origin, s.value) for s in e.set_by] == [
            ("env", "APP_DB__POOL_SIZE", 30)
        ]
        assert [(s.layer, s.origin, s.value) for s in e.overrode] == [
            ("file", f"{app / 'config.yaml'}:3", 10),
            ("default", f"{app / 'defaults.yaml'}:2", 5),
        ]
        assert str(e) == (
            "db.pool_size = 30 (v1)\n"
            "  set by   environment variable APP_DB__POOL_SIZE\n"
            f"  overrode file {app / 'config.yaml'}:3 (10)\n"
            f"           default {app / 'defaults.yaml'}:2 (5)"
        )
        e = live.explain("db.password")
        assert (e.layer, e.value, e.sensitive) == ("secret", hotconf.REDACTED, True)
        assert e.set_by[0].origin == str(app / "secrets" / "db__password")
        assert live.explain("db.poolTimeout").set_by[0].origin == f"{app / 'defaults.yaml'}:3"
        db = live.explain("db")
        assert [s.layer for s in db.set_by] == ["default", "file", "secret", "env"]
        assert db.value["password"] == hotconf.REDACTED
        missing = live.explain("db.nothing")
        assert (missing.found, missing.set_by, missing.layer) == (False, (), None)


def test_explain_with_a_defaults_mapping_and_a_cleared_key(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("db: null\nhosts: [a, b]\n")
    defaults = {"db": {"pool_size": 5}, "hosts": ["x"]}
    with hotconf.watch(tmp_path / "c.yaml", defaults=defaults, state_dir=None) as live:
        e = live.explain("db.pool_size")
        assert not e.found and [s.origin for s in e.overrode] == ["defaults"]
        assert live.explain("hosts.1").set_by[0].origin == f"{tmp_path / 'c.yaml'}:2"
        assert live.explain("hosts").overrode[0].value == ["x"]


def test_a_restored_version_says_its_layers_are_not_known(app: Path) -> None:
    with layered(app, state_dir=app / "state") as live:
        (app / "config.yaml").write_text("db:\n  host: db.internal\n  pool_size: 11\n")
        live.reload()
        live.rollback()
        e = live.explain("db.pool_size")
        assert (e.value, e.layer, e.version) == (10, "history", 3)
        assert e.note is not None and "rollback to v1" in e.note
    # a restart over the last-known-good reads the same content again: it is explained
    (app / "config.yaml").write_text("db:\n  host: db.internal\n  pool_size: 10\n")
    with layered(app, state_dir=app / "state") as live:
        assert live.version == 3 and live.explain("db.pool_size").layer == "file"


def test_a_fleet_source_takes_no_layers(app: Path) -> None:
    class Fleet(hotconf.testing.MemorySource):
        def bind(self, live: object) -> None: ...

    with pytest.raises(SourceError, match="fleet source takes no layers"):
        LayeredSource(Fleet({"a": 1}), env_prefix="APP_")


def test_layers_over_a_memory_source_stay_synchronous() -> None:
    source = hotconf.testing.MemorySource({"db": {"pool_size": 1}})
    environ = {"APP_DB__POOL_SIZE": "4"}
    layers = LayeredSource(source, env_prefix="APP_", environ=environ, defaults={"db": {"x": 1}})
    assert layers.synchronous
    ev = evaluate(layers.read())
    assert ev.data == {"db": {"pool_size": 4, "x": 1}}


def test_hotconf_explain_command(
    app: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (app / "schema.json").write_text(json.dumps(SCHEMA))
    monkeypatch.setenv("APP_DB__POOL_SIZE", "30")
    args = ["config.yaml", "--schema", "schema.json", "--env-prefix", "APP_",
            "--secrets-dir", "secrets", "--defaults", "defaults.yaml"]  # fmt: skip
    assert main(["explain", *args[:1], "db.pool_size", *args[1:]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("db.pool_size = 30\n  set by   environment variable APP_DB__POOL_SIZE\n")
    assert f"{app / 'config.yaml'}:3 (10)" in out
    assert main(["explain", "config.yaml", "db.password", *args[1:], "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["layer"] == "secret" and body["value"] == hotconf.REDACTED
    assert "hunter2" not in json.dumps(body)
    assert main(["explain", "config.yaml", "db.nothing"]) == 1
    monkeypatch.setenv("APP_DB__POOL_SIZE", "0")  # invalid: explained, and exit 1
    assert main(["explain", "config.yaml", "db.pool_size", *args[1:]]) == 1
    captured = capsys.readouterr()
    assert "db.pool_size = 0" in captured.out
    assert "APP_DB__POOL_SIZE: /db/pool_size: 0 is less than the minimum of 1" in captured.err
    assert main(["validate", *args]) == 1
    monkeypatch.setenv("APP_DB__POOL_SIZE", "[1]")  # does not parse
    assert main(["explain", "config.yaml", "db.pool_size", *args[1:]]) == 1
    assert main(["explain", "nowhere.yaml", "db"]) == 2
