"""``--schema module:Model`` wherever a schema file goes, and ``hotconf schema export``: the
model is imported from the current directory; a path that does not import exits 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import hotconf
from hotconf.cli import main
from hotconf.pipeline.model import import_model

from ..conftest import wait_for
from ..fleet.test_etcd import ETCD, EtcdServer
from .test_cli import Lines
from .test_service_cli import _client

SECRET = "pg-pass-5e2a9"  # noqa: S105 (the value the tests hunt for)

MODELS = """
from typing import Annotated, Callable, Literal
from pydantic import BaseModel, ConfigDict, Field, SecretStr
import hotconf

class DB(BaseModel):
    model_config = ConfigDict(frozen=True)
    host: Annotated[str, hotconf.restart] = "localhost"
    pool_size: int = Field(10, ge=1)
    password: SecretStr = Field(SecretStr("changeme-default"), min_length=8)

class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    db: DB = DB()
    mode: Literal["fast", "safe"] = "safe"

class Narrower(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    db: DB = DB()
    mode: Literal["safe"] = "safe"

class Loose(BaseModel):
    name: str = "x"

class Opaque(BaseModel):
    model_config = ConfigDict(frozen=True)
    hook: Callable[[], int] = int

NOT_A_MODEL = 42
"""


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Writes a module of models into the working directory (``tmp_path``): returns its
    ``module:Name`` for a name; the module, and sys.path, are forgotten after the test."""
    module = f"settings_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield lambda name: f"{module}:{name}"
    sys.modules.pop(module, None)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_validate_with_a_model(
    tmp_path: Path, models: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    model = models("AppConfig")
    good = write(tmp_path / "good.yaml", f"name: api\ndb:\n  password: {SECRET}\n")
    assert main(["validate", str(good), "--schema", model]) == 0
    assert "valid" in capsys.readouterr().out
    bad = write(tmp_path / "bad.yaml", "name: api\ndb:\n  pool_size: 0\n  password: tiny7\n")
    assert main(["validate", str(bad), "--schema", model]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: /db/pool_size: Input should be greater than or equal to 1" in err
    assert f"{bad}:4: /db/password: value is not valid (too_short)" in err
    assert main(["validate", str(bad), "--schema", model, "--format", "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert [(p["path"], p["line"]) for p in body["problems"]] == [  # in line order
        ("/db/pool_size", 3),
        ("/db/password", 4),
    ]
    assert "tiny7" not in json.dumps(body)


def test_diff_with_a_model_compares_effective_configs(
    tmp_path: Path, models: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    model = models("AppConfig")
    old = write(tmp_path / "old.yaml", f"name: api\nmode: fast\ndb: {{password: {SECRET}}}\n")
    new = write(tmp_path / "new.yaml", f"name: api\ndb: {{password: {SECRET}x, host: h2}}\n")
    assert main(["diff", str(old), str(new), "--schema", model, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    changes = {c["path"]: (c["kind"], c["level"], c["new"]) for c in report["changes"]}
    assert changes == {
        "/mode": ("key_removed", "risky", "safe"),
        "/db/host": ("value_changed", "restart", "h2"),
        "/db/password": ("value_changed", "safe", hotconf.REDACTED),
    }
    assert report["level"] == "restart" and SECRET not in json.dumps(report)
    same = write(
        tmp_path / "same.yaml",
        f"name: api\nmode: fast\ndb: {{password: {SECRET}, pool_size: 10}}\n",
    )
    assert main(["diff", str(old), str(same), "--schema", model, "--fail-on", "safe"]) == 0
    assert capsys.readouterr().out.startswith("none: semantically the same")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            "no_such_module_here:AppConfig",
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        ("{module}:Missing", "has no 'Missing'"),
        ("{module}:NOT_A_MODEL", "model= takes a pydantic BaseModel, a dataclass or a TypedDict"),
        ("{module}:Loose", "is not frozen"),
        ("{module}:Opaque", "Opaque: Cannot generate a JsonSchema for core_schema.CallableSchema"),
        ("broken_at_import:AppConfig", "RuntimeError: settings need ENV_X"),
        ("syntax_error_mod:AppConfig", "SyntaxError"),
    ],
)
def test_a_model_path_that_does_not_import_exits_2(
    tmp_path: Path,
    models: Callable[[str], str],
    capsys: pytest.CaptureFixture[str],
    given: str,
    message: str,
) -> None:
    write(tmp_path / "broken_at_import.py", "raise RuntimeError('settings need ENV_X')\n")
    write(tmp_path / "syntax_error_mod.py", "class AppConfig(:\n")
    config = write(tmp_path / "c.yaml", "name: api\n")
    schema = given.format(module=models("x").partition(":")[0])
    for args in (
        ["validate", str(config), "--schema", schema],
        ["diff", str(config), str(config), "--schema", schema],
        ["schema", "export", schema],
        ["schema-diff", schema, schema],
        ["watch", str(config), "--schema", schema, "--no-state"],
    ):
        assert main(args) == 2, args
        assert message in capsys.readouterr().err, args
    for name in ("broken_at_import", "syntax_error_mod"):
        sys.modules.pop(name, None)


def test_pointer_goes_with_a_schema_file_not_a_model(
    tmp_path: Path, models: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "c.yaml", "name: api\n")
    assert main(["validate", str(config), "--schema", models("AppConfig"), "--pointer", "#/a"]) == 2
    assert "--pointer goes with a schema file" in capsys.readouterr().err


def test_a_file_named_like_a_model_path_is_a_file(
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "v1:schema", schema_file.read_text())
    config = write(tmp_path / "c.yaml", "db: {host: h, pool_size: 0}\n")
    assert main(["validate", str(config), "--schema", "v1:schema"]) == 1
    assert "/db/pool_size: 0 is less than the minimum of 1" in capsys.readouterr().err


def test_schema_export_and_schema_diff_of_models(
    tmp_path: Path,
    models: Callable[[str], str],
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema", "export", models("AppConfig")]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["$defs"]["DB"]["properties"]["host"]["x-hotconf-reload"] == "restart"
    assert exported["$defs"]["DB"]["properties"]["password"]["writeOnly"] is True
    assert "changeme-default" not in json.dumps(exported) and "****" not in json.dumps(exported)
    assert main(["schema", "export", str(schema_file)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(schema_file.read_text())
    # the exported schema is a schema file like any other
    write(tmp_path / "exported.json", json.dumps(exported))
    assert main(["schema-diff", "exported.json", models("AppConfig")]) == 0
    assert "none" in capsys.readouterr().out
    assert main(["schema-diff", models("AppConfig"), models("Narrower")]) == 1
    out = capsys.readouterr().out
    assert "breaking" in out and "/mode" in out
    assert main(["schema-diff", models("AppConfig"), models("Narrower"), "--mode", "rollback"]) == 0


def test_importing_a_model_leaves_sys_path_as_it_was(models: Callable[[str], str]) -> None:
    before = list(sys.path)
    assert import_model(models("AppConfig")).type.__name__ == "AppConfig"
    # the working directory is importable only while the model is imported: a file there
    # (a json.py, a yaml.py) never shadows a module the process imports later
    assert sys.path == before


def test_schema_export_with_a_pointer_prints_that_schema_on_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "openapi.yaml",
        "openapi: 3.1.0\n"
        "info: {title: t, version: '1'}\n"
        "paths: {}\n"
        "components:\n"
        "  schemas:\n"
        "    App:\n"
        "      type: object\n"
        "      properties:\n"
        "        port: {type: integer, default: 8080}\n"
        "        db: {$ref: '#/components/schemas/DB'}\n"
        "        again: {$ref: '#/components/schemas/App/properties/port'}\n"
        "    DB:\n"
        "      type: object\n"
        "      properties:\n"
        "        host: {type: string}\n"
        "        replica: {$ref: '#/components/schemas/DB'}\n",
    )
    pointer = "#/components/schemas/App"
    assert main(["schema", "export", str(tmp_path / "openapi.yaml"), "--pointer", pointer]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert "openapi" not in exported and "components" not in exported
    assert exported["properties"]["port"] == {"type": "integer", "default": 8080}
    assert exported["properties"]["db"] == {"$ref": "#/$defs/DB"}
    assert exported["properties"]["again"] == {"$ref": "#/properties/port"}
    assert exported["$defs"]["DB"]["properties"]["replica"] == {"$ref": "#/$defs/DB"}
    # a schema document of its own: its references resolve, and it validates as App does
    standalone = hotconf.Schema.from_dict(exported)
    bad = {"port": "x", "db": {"replica": {"host": 1}}, "again": "y"}
    assert [p.path for p in standalone.validate(bad)] == [
        p.path for p in hotconf.Schema.from_file(tmp_path / "openapi.yaml", pointer).validate(bad)
    ]
    assert len(standalone.validate(bad)) == 3


def _run(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hotconf", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_watch_with_a_model_imported_from_the_working_directory(
    tmp_path: Path, models: Callable[[str], str]
) -> None:
    config = write(tmp_path / "config.yaml", "name: api\ndb: {pool_size: 2}\n")
    proc = _run(["watch", "config.yaml", "--schema", models("AppConfig"), "--no-state"], tmp_path)
    try:
        out = Lines(proc)
        out.wait("serving v1")
        config.write_text("name: api\ndb: {pool_size: 3}\nmode: safe\n")
        assert "db.pool_size" in out.wait("applied v2")
        config.write_text("name: api\ndb:\n  pool_size: 0\n")
        line = out.wait("rejected (v2 kept)")
        assert "config.yaml:3: /db/pool_size: Input should be greater than or equal to 1" in line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_with_a_model_redacts_its_secrets(
    tmp_path: Path, models: Callable[[str], str]
) -> None:
    write(tmp_path / "config.yaml", f"name: api\ndb:\n  password: {SECRET}\n")
    args = ["serve", "config.yaml", "--schema", models("AppConfig"), "--no-state", "--port", "0"]
    proc = _run(args, tmp_path)
    try:
        out = Lines(proc)
        url = out.wait("listening on http://127.0.0.1:").split()[-1]
        with _client(url) as http:
            wait_for(lambda: http.get("/readyz").status_code == 200, what="ready")
            body = http.get("/v1/config").json()
            assert body["db"] == {
                "host": "localhost",
                "pool_size": 10,
                "password": hotconf.REDACTED,
            }
            assert body["mode"] == "safe"  # the effective config: defaults filled in
            checked = http.post("/v1/validate", json={"name": "api", "db": {"password": "tiny7"}})
            assert SECRET not in checked.text and "tiny7" not in checked.text
            assert checked.json()["problems"][0]["path"] == "/db/password"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert SECRET not in "".join(out.lines)


def test_offline_rollback_with_a_model(
    tmp_path: Path, models: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    state = tmp_path / "state"
    model = models("AppConfig")
    for pool in (1, 2):
        config.write_text(f"name: api\ndb: {{pool_size: {pool}}}\n")
        with hotconf.watch(config, model=import_model(model).type, state_dir=state):
            pass
    assert main(["rollback", "--state-dir", str(state), "--schema", model, "--to", "1"]) == 0
    assert "v3 serves the content of v1" in capsys.readouterr().out


@pytest.mark.skipif(ETCD is None, reason="etcd is not installed (Debian: etcd-server)")
def test_publish_with_a_model(
    etcd: EtcdServer,
    tmp_path: Path,
    models: Callable[[str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write(tmp_path / "config.yaml", f"name: api\ndb: {{password: {SECRET}}}\n")
    base = [
        "publish",
        str(config),
        "--schema",
        models("AppConfig"),
        "--etcd",
        etcd.url,
        "--name",
        "app",
    ]
    assert main(base) == 0
    assert "published app v1" in capsys.readouterr().out
    config.write_text(f"name: api\ndb: {{password: {SECRET}, pool_size: 0}}\n")
    assert main(base) == 1
    out, err = capsys.readouterr()
    assert "/db/pool_size" in out and "not published" in err and SECRET not in out + err
    # written out as its default: the same effective config, nothing to publish
    config.write_text(f"name: api\nmode: safe\ndb: {{password: {SECRET}}}\n")
    assert main(base) == 0
    assert "noop: app v1 already has this content" in capsys.readouterr().out
