"""Typed contracts in the pipeline: models, dataclasses and TypedDicts through `evaluate`."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import typing
from typing import Any

import pytest
from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    field_validator,
)

import hotconf
from hotconf.pipeline.evaluate import evaluate
from hotconf.pipeline.model import FrozenDict, Model
from hotconf.sources import RawDocument

from ..models import (
    AppConfig,
    DataclassConfig,
    HoldsMutable,
    Mutable,
    MutableDataclass,
    StrictConfig,
    TypedConfig,
)


def doc(text: str, name: str = "config.yaml") -> tuple[RawDocument, ...]:
    return (RawDocument(name, text.encode(), "yaml"),)


def run(text: str, model: type[Any], **kwargs: Any) -> Any:
    return evaluate(doc(text), model=Model.of(model), **kwargs)


def test_a_model_builds_its_instance_in_the_evaluation() -> None:
    ev = run("name: api\ndb:\n  pool_size: '20'\nhosts: [a, b]\n", AppConfig)
    assert ev.verdict == "ok"
    config = ev.instance
    assert isinstance(config, AppConfig)
    assert (config.db.pool_size, config.hosts, config.worker.batch_size) == (20, ("a", "b"), 50)
    with pytest.raises(ValueError, match="frozen"):
        config.name = "other"


def test_a_dataclass_and_a_typeddict_work_too() -> None:
    ev = run("name: api\ndb: {pool_size: 3, password: s3cret-value}\n", DataclassConfig)
    assert ev.instance.db.pool_size == 3
    assert ev.instance.db.password.get_secret_value() == "s3cret-value"
    assert dataclasses.is_dataclass(ev.instance)
    ev = run("name: api\ndb: {pool_size: '3', hosts: [a]}\n", TypedConfig)
    config = ev.instance
    assert config == {"name": "api", "db": {"pool_size": 3, "hosts": ("a",)}}
    assert isinstance(config, FrozenDict) and isinstance(config, dict)
    with pytest.raises(TypeError, match="immutable"):
        config["name"] = "x"
    with pytest.raises(TypeError, match="immutable"):
        config["db"]["pool_size"] = 1


def test_model_errors_are_problems_at_file_and_line() -> None:
    text = "name: api\ndb:\n  host: h\n  pool_size: 0\nmode: slow\n"
    ev = run(text, AppConfig)
    assert ev.verdict == "invalid" and ev.instance is None
    found = {(p.path, p.code, p.line) for p in ev.problems}
    assert found == {("/db/pool_size", "greater_than_equal", 4), ("/mode", "literal_error", 5)}
    assert str(ev.problems[0]) == (
        "config.yaml:4: /db/pool_size: Input should be greater than or equal to 1"
    )
    assert ev.report is not None and ev.report.level == "breaking"


def test_a_missing_key_points_at_its_parent() -> None:
    ev = run("db:\n  pool_size: 2\n", AppConfig)
    [problem] = ev.problems
    assert (problem.path, problem.code, problem.message) == ("/name", "missing", "Field required")
    assert problem.source == "config.yaml"


def test_lax_by_default_strict_where_the_model_says() -> None:
    assert run("name: api\ndb: {pool_size: '7'}\n", AppConfig).instance.db.pool_size == 7
    ev = run("port: '80'\n", StrictConfig)
    assert [(p.path, p.code) for p in ev.problems] == [("/port", "int_type")]
    assert run("port: 80\nratio: 2\n", StrictConfig).instance == StrictConfig(port=80, ratio=2.0)


def test_the_validators_message_is_kept_unless_it_shows_a_secret() -> None:
    ev = run("name: a b\n", AppConfig)
    assert ev.problems[0].message == "Value error, name has a space in it"

    class Leaky(BaseModel):
        model_config = ConfigDict(frozen=True)
        password: SecretStr
        label: str

        @field_validator("label")
        @classmethod
        def _check(cls, value: str) -> str:
            raise ValueError(f"label {value!r} is not allowed")

    ev = run("password: hunter2-secret\nlabel: hunter2-secret\n", Leaky)
    [problem] = ev.problems
    assert "hunter2" not in problem.message
    assert problem.message == "value is not valid (value_error; the message would show a secret)"


def test_no_secret_in_problems_at_secret_paths() -> None:
    text = "name: api\ndb:\n  password: [not-a-string-secret]\n  dsn: 12345\n"
    ev = run(text, AppConfig)
    assert {p.path for p in ev.problems} == {"/db/password", "/db/dsn"}
    assert "not-a-string-secret" not in json.dumps([p.to_dict() for p in ev.problems])
    assert all(p.message.startswith("value is not valid") for p in ev.problems)


def test_a_model_that_raises_something_else_is_a_problem_not_a_crash() -> None:
    class Broken(BaseModel):
        model_config = ConfigDict(frozen=True)
        x: int

        @field_validator("x")
        @classmethod
        def _boom(cls, value: int) -> int:
            raise KeyError(f"secret-{value}")

    ev = run("x: 1\n", Broken)
    assert ev.verdict == "invalid"
    assert ev.problems[0].code == "model"
    assert "secret" not in ev.problems[0].message


def test_schema_and_model_both_must_pass() -> None:
    schema = hotconf.Schema.from_dict(
        {"properties": {"name": {"type": "string", "maxLength": 3}, "db": {"type": "object"}}}
    )
    ev = evaluate(
        doc("name: long-name\ndb: {pool_size: 0}\n"), schema=schema, model=Model.of(AppConfig)
    )
    assert {(p.path, p.code) for p in ev.problems} == {
        ("/name", "maxLength"),
        ("/db/pool_size", "greater_than_equal"),
    }
    ev = evaluate(doc("name: abc\n"), schema=schema, model=Model.of(AppConfig))
    assert ev.verdict == "ok" and ev.instance.name == "abc"


def test_a_secret_only_the_model_knows_stays_out_of_schema_problems() -> None:
    schema = hotconf.Schema.from_dict(
        {"properties": {"db": {"properties": {"dsn": {"maxLength": 3}}}}}
    )
    ev = evaluate(
        doc("name: a\ndb: {dsn: postgres-secret-dsn}\n"), schema=schema, model=Model.of(AppConfig)
    )
    assert [p.path for p in ev.problems] == ["/db/dsn"]
    assert "postgres-secret-dsn" not in str(ev.problems[0])


def test_the_models_json_schema_drives_levels_secrets_and_defaults() -> None:
    schema = hotconf.Schema.from_model(AppConfig)
    assert schema is Model.of(AppConfig).schema
    assert schema.annotation(["db", "host"], "x-hotconf-reload") == "restart"  # hotconf.restart
    assert schema.annotation(["worker", "threads"], "x-hotconf-reload") == "restart"  # Field(...)
    assert schema.is_sensitive(["db", "password"])  # SecretStr
    assert schema.is_sensitive(["db", "dsn"])  # hotconf.sensitive
    assert not schema.is_sensitive(["db", "pool_size"])
    text = json.dumps(dict(schema.document))
    assert "changeme-default" not in text and "**********" not in text


def test_secret_bytes_are_secret_and_diff_takes_a_model() -> None:
    class Keys(BaseModel):
        model_config = ConfigDict(frozen=True)
        signing_key: SecretBytes
        rotation_days: int = 30

    assert Model.of(Keys).schema.is_sensitive(["signing_key"])
    report = hotconf.diff(
        {"signing_key": "old-key-bytes", "rotation_days": 7},
        {"signing_key": "new-key-bytes"},
        model=Keys,
    )
    shown = {c.pointer: (c.kind, c.old, c.new, c.level) for c in report.changes}
    assert shown == {
        "/signing_key": ("value_changed", hotconf.REDACTED, hotconf.REDACTED, "safe"),
        "/rotation_days": ("key_removed", 7, 30, "risky"),
    }
    assert "key-bytes" not in report.to_json()
    assert hotconf.diff({}, {"rotation_days": "x"}, model=Keys).level == "breaking"


def test_the_effective_config_has_the_models_defaults_but_no_masked_secret() -> None:
    ev = run("name: api\n", AppConfig)
    assert ev.data == {
        "name": "api",
        "db": {"host": "localhost", "pool_size": 10, "dsn": None},  # password: SecretStr
        "hosts": [],
        "mode": "safe",
    }
    # the instance has pydantic's own defaults, the secret and the default_factory too
    assert ev.instance.db.password.get_secret_value() == "changeme-default"
    assert ev.instance.worker.batch_size == 50


def test_a_key_written_as_its_default_is_the_same_config() -> None:
    first = run("name: api\n", AppConfig)
    same = run("name: api\nmode: safe\ndb: {pool_size: 10}\n", AppConfig, previous=first.frozen)
    assert same.checksum == first.checksum and same.verdict == "noop"
    taken_out = run(
        "name: api\n", AppConfig, previous=run("name: api\nmode: fast\n", AppConfig).frozen
    )
    [change] = taken_out.report.changes
    assert (change.pointer, change.kind, change.old, change.new) == (
        "/mode",
        "key_removed",
        "fast",
        "safe",
    )
    assert (change.level, change.reason) == (
        "risky",
        'removed (or set to its default); consumers fall back to default "safe"',
    )


class ReadUnderOtherKeys(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    pool_size: int = Field(10, validation_alias=AliasChoices("poolSize", "pool_size"))
    first: int = Field(3, validation_alias=AliasPath("hosts", 0))
    hosts: tuple[int, ...] = ()


def test_a_default_is_never_filled_in_where_the_model_reads_another_key() -> None:
    properties = hotconf.Schema.from_model(ReadUnderOtherKeys).document["properties"]
    assert properties["poolSize"]["x-hotconf-aliases"] == ["pool_size"]
    assert "default" not in properties["first"]  # pydantic reads it from /hosts/0
    ev = run("pool_size: 20\nhosts: [7]\n", ReadUnderOtherKeys)
    assert ev.verdict == "ok", ev.problems
    assert ev.data == {"pool_size": 20, "hosts": [7]}
    assert (ev.instance.pool_size, ev.instance.first) == (20, 7)
    ev = run("{}", ReadUnderOtherKeys)
    assert ev.data == {"poolSize": 10, "hosts": []}
    assert (ev.instance.pool_size, ev.instance.first) == (10, 3)


def test_apply_defaults_false_keeps_the_config_as_written() -> None:
    ev = run("name: api\n", AppConfig, apply_defaults=False)
    assert ev.data == {"name": "api"} and ev.instance.mode == "safe"


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (Mutable, "tests.models:Mutable is not frozen.*ConfigDict\\(frozen=True\\)"),
        (HoldsMutable, "tests.models:Mutable is not frozen"),
        (MutableDataclass, "MutableDataclass is not frozen.*@dataclass\\(frozen=True\\)"),
    ],
)
def test_a_model_that_is_not_frozen_is_refused(model: type[Any], match: str) -> None:
    with pytest.raises(hotconf.SchemaError, match=match):
        Model.of(model)


def test_what_is_not_a_model_is_a_type_error_and_no_json_schema_a_schema_error() -> None:
    with pytest.raises(TypeError, match="BaseModel, a dataclass or a TypedDict"):
        Model.of(dict)

    class Opaque(BaseModel):
        model_config = ConfigDict(frozen=True)
        hook: typing.Callable[[], int] = int

    with pytest.raises(hotconf.SchemaError, match="Opaque: Cannot generate a JsonSchema"):
        Model.of(Opaque)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="pydantic takes typing.TypedDict on 3.12")
def test_typing_typeddict_before_312_is_refused_with_pydantics_reason() -> None:
    class Plain(typing.TypedDict):
        x: int

    with pytest.raises(hotconf.SchemaError, match=r"typing_extensions\.TypedDict"):
        Model.of(Plain)


PROBE = """
import builtins, json, sys
seen = set()
real_import = builtins.__import__
def spy(name, globals=None, locals=None, fromlist=(), level=0):
    if name.partition(".")[0] in ("pydantic", "pydantic_core") and globals:
        seen.add(globals.get("__name__"))
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = spy
import hotconf, hotconf.cli, hotconf.pipeline.model, hotconf.testing
from hotconf.testing import MemorySource
schema = {"properties": {"a": {"default": 1}}}
with hotconf.watch(MemorySource({}), schema=schema, state_dir=None) as live:
    assert live.current["a"] == 1
EXTRA
print(json.dumps(sorted(n for n in seen if n.startswith("hotconf"))))
"""


def hotconf_modules_importing_pydantic(extra: str = "") -> list[str]:
    code = PROBE.replace("EXTRA", extra)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(out.stdout)
    return found


def test_hotconf_imports_pydantic_only_when_a_model_is_used() -> None:
    # Every import statement is seen (cached modules too), whoever else imports pydantic.
    assert hotconf_modules_importing_pydantic() == []
    used = "hotconf.Schema.from_model(__import__('tests.models').models.AppConfig)"
    assert "hotconf.pipeline.model" in hotconf_modules_importing_pydantic(used)
