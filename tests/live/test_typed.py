"""`LiveConfig` with a typed model: ``current`` is the model's instance, built once per version;
the effective config (defaults filled in) is what is served, compared and announced."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

import hotconf
from hotconf.testing import EventRecorder, MemorySource

from ..conftest import wait_for
from ..models import DB, AppConfig, DataclassConfig, TypedConfig

SECRET = "pg-secret-8c1f"  # noqa: S105 (the value the tests hunt for)


class Counted(BaseModel):
    """Counts the instances pydantic builds."""

    model_config = ConfigDict(frozen=True)
    built: ClassVar[int] = 0
    pool_size: int = 1

    @model_validator(mode="after")
    def _count(self) -> Counted:
        type(self).built += 1
        return self


def test_current_is_the_models_instance_built_once_per_version() -> None:
    Counted.built = 0
    source = MemorySource({"pool_size": 3})
    with hotconf.watch(source, model=Counted, state_dir=None) as live:
        first = live.current
        assert isinstance(first, Counted) and first.pool_size == 3
        assert all(live.current is first for _ in range(1000))
        assert Counted.built == 1
        source.set({"pool_size": 4})
        assert live.current.pool_size == 4 and live.current is not first
        assert Counted.built == 2
        assert (live.version, live.snapshot().version, live.get("pool_size")) == (2, 2, 4)
        assert live.snapshot()["pool_size"] == 4  # the same version, as data
        assert live.model is Counted


def test_a_rejected_candidate_keeps_the_instance_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("name: api\ndb:\n  pool_size: 5\n")
    with hotconf.watch(path, model=AppConfig, state_dir=None, poll_interval=None) as live:
        served = live.current
        events = EventRecorder()
        live.subscribe(events, rejections=True)
        path.write_text("name: api\ndb:\n  pool_size: 0\n")
        wait_for(lambda: events.rejections, what="the rejection")
        assert live.current is served and live.degraded
        [problem] = events.rejections[-1].problems
        assert (
            str(problem) == f"{path}:3: /db/pool_size: Input should be greater than or equal to 1"
        )


def test_an_invalid_model_at_start_serves_the_last_known_good(tmp_path: Path) -> None:
    path, state = tmp_path / "config.yaml", tmp_path / "state"
    path.write_text("name: api\ndb: {pool_size: 7}\n")
    with hotconf.watch(path, model=AppConfig, state_dir=state, poll_interval=None) as live:
        assert live.current.db.pool_size == 7
    path.write_text("name: api\ndb: {pool_size: nope}\n")
    with hotconf.watch(path, model=AppConfig, state_dir=state, poll_interval=None) as live:
        assert live.degraded and live.current.db.pool_size == 7
        assert isinstance(live.current, AppConfig)
        assert live.last_rejection is not None
        assert live.last_rejection.problems[0].code == "int_parsing"
    with pytest.raises(hotconf.NoValidConfigError) as caught:
        hotconf.watch(path, model=AppConfig, state_dir=None, poll_interval=None)
    assert caught.value.problems[0].path == "/db/pool_size"


def test_a_last_known_good_that_fails_the_model_is_not_served(tmp_path: Path) -> None:
    path, state = tmp_path / "config.yaml", tmp_path / "state"
    path.write_text("name: has space\n")
    hotconf.watch(path, state_dir=state, poll_interval=None).close()  # recorded, no model
    with pytest.raises(hotconf.NoValidConfigError) as caught:
        hotconf.watch(path, model=AppConfig, state_dir=state, poll_interval=None)
    assert "last-known-good v1: Value error, name has a space in it" in str(caught.value)


def test_a_key_written_as_its_default_makes_no_version_and_no_event() -> None:
    source = MemorySource({"name": "api"})
    with hotconf.watch(source, model=AppConfig, state_dir=None) as live:
        events = EventRecorder()
        live.subscribe(events)
        assert live.get("worker.batch_size") is None  # default_factory: not in the schema
        assert live.get("db.pool_size") == 10  # a default of the model's JSON Schema
        source.set({"name": "api", "mode": "safe", "db": {"pool_size": 10}})
        assert (live.version, events.events) == (1, [])
        source.set({"name": "api", "mode": "fast"})
        source.set({"name": "api"})
        assert live.version == 3
        [change] = events.changes[-1].report.changes
        assert (change.pointer, change.kind, change.new) == ("/mode", "key_removed", "safe")
        assert change.reason == (
            'removed (or set to its default); consumers fall back to default "safe"'
        )
        assert live.current.mode == "safe"


def test_a_version_has_one_report_however_its_config_was_written() -> None:
    # The change event, LiveConfig.compare (the HTTP diff, the console) and a dry run give
    # one report per pair of versions; a key taken out and a key set to its default are the
    # same config, so they get the same report too.
    schema = {"type": "object", "properties": {"batch": {"type": "integer", "default": 50}}}
    reports: list[dict[str, Any]] = []
    for spelling in ({}, {"batch": 50}):
        source = MemorySource({"batch": 20})
        with hotconf.watch(source, schema, state_dir=None) as live:
            events = EventRecorder()
            live.subscribe(events)
            dry_run = live.validate(spelling).to_dict()
            source.set(spelling)
            event = events.changes[-1].report.to_dict()
            assert event == live.compare(1, 2).to_dict()
            assert {**dry_run, "new": event["new"]} == event
            reports.append(event)
    assert reports[0] == reports[1]
    [change] = reports[0]["changes"]
    assert (change["kind"], change["level"], change["old"], change["new"]) == (
        "key_removed",
        "risky",
        20,
        50,
    )


def test_a_plain_schemas_defaults_are_served_too() -> None:
    schema = {
        "type": "object",
        "properties": {
            "worker": {
                "type": "object",
                "default": {},
                "properties": {"batch_size": {"type": "integer", "default": 50}},
            }
        },
    }
    with hotconf.watch(MemorySource({}), schema=schema, state_dir=None) as live:
        assert live.get("worker.batch_size") == 50
        assert live.current["worker"] == {"batch_size": 50}
    with hotconf.watch(
        MemorySource({}), schema=schema, state_dir=None, apply_defaults=False
    ) as live:
        assert live.get("worker.batch_size") is None


def test_schema_and_model_together_both_must_pass() -> None:
    schema = {"properties": {"name": {"maxLength": 5}}}
    source = MemorySource({"name": "api"})
    with hotconf.watch(source, schema, model=AppConfig, state_dir=None) as live:
        source.set({"name": "too-long"})
        assert live.last_rejection is not None
        assert [p.code for p in live.last_rejection.problems] == ["maxLength"]
        source.set({"name": "ok", "db": {"pool_size": -1}})
        assert [p.code for p in live.last_rejection.problems] == ["greater_than_equal"]
        assert live.current.name == "api"
        source.set({"name": "fine"})
        assert live.current.name == "fine" and live.version == 2
        assert {s.source for s in live.schemas} == {None, "tests.models:AppConfig"}


class Pool(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)
    pool_size: int = Field(10, alias="poolSize")


class Aliased(BaseModel):
    model_config = ConfigDict(frozen=True)
    pool_size: int = Field(10, validation_alias=AliasChoices("poolSize", "pool_size"))
    db: Pool = Pool()


def test_every_path_builds_the_instance_from_the_same_config(tmp_path: Path) -> None:
    # The JSON Schema names the field poolSize; the file says pool_size. Reload, start-up
    # (the last-known-good), rollback and a restart all give the value the file says.
    state = tmp_path / "state"

    def watch(text: str) -> tuple[hotconf.LiveConfig[Aliased], MemorySource]:
        source = MemorySource(text)
        return hotconf.watch(source, model=Aliased, state_dir=state), source

    live, source = watch("pool_size: 20\ndb: {pool_size: 3}\n")
    with live:
        assert (live.current.pool_size, live.current.db.pool_size) == (20, 3)
        # one spelling in the snapshot: no default filled in under the other name
        assert live.snapshot() == {"pool_size": 20, "db": {"pool_size": 3}}
        source.set("pool_size: 30\n")
        assert (live.version, live.current.pool_size, live.current.db.pool_size) == (2, 30, 10)
        live.rollback(1)
        assert (live.current.pool_size, live.current.db.pool_size) == (20, 3)
    with watch("pool_size: 30\n")[0] as live:  # a restart: the last-known-good, the source
        assert (live.version, live.current.pool_size, live.current.db.pool_size) == (3, 20, 3)
    with watch("pool_size: [\n")[0] as live:  # the last-known-good alone
        assert live.degraded and live.version == 3
        assert (live.current.pool_size, live.current.db.pool_size) == (20, 3)


class Batch(BaseModel):
    model_config = ConfigDict(frozen=True)
    batch_size: int = Field(10, le=1000)


def test_with_a_schema_too_the_instance_is_the_served_config() -> None:
    schema = {"type": "object", "properties": {"batch_size": {"type": "integer", "default": 50}}}
    source = MemorySource({})
    with hotconf.watch(source, schema, model=Batch, state_dir=None) as live:
        # the schema's default comes first, and the model builds its instance from it
        assert live.current.batch_size == live.get("batch_size") == 50
        source.set({"batch_size": 50})
        assert live.version == 1  # written as its default: the same config
        source.set({"batch_size": 10})
        assert (live.version, live.current.batch_size, live.get("batch_size")) == (2, 10, 10)
    too_big = {"type": "object", "properties": {"batch_size": {"default": 5000}}}
    with pytest.raises(hotconf.NoValidConfigError) as caught:
        hotconf.watch(MemorySource({}), too_big, model=Batch, state_dir=None)
    [problem] = caught.value.problems
    assert problem.path == "/batch_size"
    assert problem.message.endswith("(the default filled in at /batch_size)")


def test_secrets_of_the_model_never_leave(caplog: pytest.LogCaptureFixture) -> None:
    # db.password is a SecretStr, db.dsn a str marked hotconf.sensitive: hotconf redacts both;
    # the model's own repr hides only the SecretStr (docs/typed.md says to prefer it)
    caplog.set_level(logging.DEBUG, logger="hotconf")
    source = MemorySource({"name": "api", "db": {"password": SECRET, "dsn": f"dsn-{SECRET}"}})
    with hotconf.watch(source, model=AppConfig, state_dir=None) as live:
        events = EventRecorder()
        live.subscribe(events, rejections=True)
        source.set({"name": "api", "db": {"password": SECRET + "x", "dsn": f"dsn2-{SECRET}"}})
        source.set({"name": "api", "db": {"password": [SECRET], "dsn": 1}})
        assert live.current.db.password.get_secret_value() == SECRET + "x"
        shown = [
            json.dumps(events.changes[-1].report.to_dict()),
            json.dumps([p.to_dict() for p in events.rejections[-1].problems]),
            json.dumps(live.validate({"name": "api", "db": {"dsn": SECRET}}).to_dict()),
            json.dumps(live.compare(1, 2).to_dict()),
            repr(live),
            caplog.text,
        ]
        password_shown = repr(live.current)
    for text in shown:
        assert SECRET not in text
    assert SECRET + "x" not in password_shown


def test_rollback_and_a_promoted_rollout_serve_new_instances() -> None:
    source = MemorySource({"name": "one"})
    with hotconf.watch(source, model=AppConfig, state_dir=None) as live:
        source.set({"name": "two"})
        live.rollback()
        assert (live.version, live.current.name) == (3, "one")
        assert isinstance(live.current, AppConfig)
        rollout = live.rollout({"name": "three"}, fraction=0.5, min_samples=1)
        assert live.snapshot_for("key", dyed=True)["name"] == "three"
        rollout.record(True)  # enough evidence (min_samples=1): promoted
        assert rollout.state == "promoted"
        assert (live.version, live.current.name) == (4, "three")
        with pytest.raises(hotconf.ValidationError):
            live.rollout({"name": "four", "db": {"pool_size": 0}})


def test_dataclasses_and_typeddicts_are_served_immutable() -> None:
    with hotconf.watch(MemorySource({"name": "a"}), model=DataclassConfig, state_dir=None) as live:
        assert live.current.db.pool_size == 10
        with pytest.raises(AttributeError):
            live.current.name = "b"  # type: ignore[misc]
    data = {"name": "a", "db": {"pool_size": 2, "hosts": ["x"]}}
    with hotconf.watch(MemorySource(data), model=TypedConfig, state_dir=None) as live:
        assert live.current["db"]["hosts"] == ("x",)
        with pytest.raises(TypeError):
            live.current["db"]["pool_size"] = 3


def test_the_test_kit_takes_model_instances_secrets_included() -> None:
    source = MemorySource(AppConfig(name="api", db=DB(pool_size=3, password=SECRET)))
    with hotconf.watch(source, model=AppConfig, state_dir=None) as live:
        events = EventRecorder()
        live.subscribe(events, keys=["db.*"])
        assert live.current.db.password.get_secret_value() == SECRET
        source.set(AppConfig(name="api", db=DB(pool_size=4, password=SECRET)))
        assert live.current.db.pool_size == 4
        assert events.changes[-1].changed == ("db.pool_size",)


def test_a_model_that_cannot_be_used_fails_watch_before_anything_starts(tmp_path: Path) -> None:
    class Loose(BaseModel):
        pool_size: int = 1

    with pytest.raises(hotconf.SchemaError, match="is not frozen"):
        hotconf.watch(MemorySource({}), model=Loose, state_dir=tmp_path / "state")
    assert not (tmp_path / "state").exists()
    bad: Any = int
    with pytest.raises(TypeError):
        hotconf.watch(MemorySource({}), model=bad, state_dir=None)
