"""The pipeline and its invariants (docs/architecture.md), driven through the in-memory source
and real files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import hotconf
from hotconf.pipeline.snapshot import checksum
from hotconf.store.history import Store
from hotconf.testing import EventRecorder, MemorySource

from ..conftest import SCHEMA, config_text

GOOD = {"db": {"host": "db.local", "pool_size": 5}}


def memory_live(data: object = GOOD, **kw: object) -> tuple[hotconf.LiveConfig, MemorySource]:
    source = MemorySource(data)  # type: ignore[arg-type]
    kw.setdefault("schema", SCHEMA)
    return hotconf.watch(source, **kw), source  # type: ignore[arg-type]


def test_reads_current_and_dotted_keys() -> None:
    live, _ = memory_live()
    with live:
        assert live.current["db"]["pool_size"] == 5
        assert live.get("db.pool_size") == 5
        assert live.get("db.missing", default=10) == 10
        assert live.get(("db", "host")) == "db.local"
        assert live.version == 1
        assert live.current.checksum == checksum(GOOD)


def test_snapshots_are_immutable_all_the_way_down() -> None:
    live, _ = memory_live({"db": {"host": "h-unique", "pool_size": 1}, "hosts": [{"a": 1}]})
    with live:
        snap = live.current
        with pytest.raises(TypeError):
            snap["db"] = {}  # type: ignore[index]
        with pytest.raises(TypeError):
            snap["db"]["host"] = "x"
        with pytest.raises(TypeError):
            snap.update({})
        assert isinstance(snap["db"], MappingProxyType)
        assert isinstance(snap["hosts"], tuple)
        with pytest.raises(TypeError):
            snap["hosts"][0]["a"] = 2
        assert "h-unique" not in repr(snap)  # repr shows no values


def test_valid_change_applies_and_notifies_with_changed_paths() -> None:
    live, source = memory_live()
    with live:
        events = EventRecorder()
        live.subscribe(events)
        source.set({"db": {"host": "db.local", "pool_size": 9}})
        assert live.current["db"]["pool_size"] == 9
        assert live.version == 2
        [event] = events.changes
        assert event.changed == ("db.pool_size",)
        assert event.previous is not None and event.previous["db"]["pool_size"] == 5
        assert event.current is live.current
        assert event.type == "config.changed"


def test_invalid_candidate_is_rejected_and_lkg_kept(caplog: pytest.LogCaptureFixture) -> None:
    live, source = memory_live()
    with live:
        events = EventRecorder()
        live.subscribe(events, rejections=True)
        caplog.set_level(logging.WARNING, "hotconf")
        source.set({"db": {"host": "db.local", "pool_size": 0}})
        assert live.current["db"]["pool_size"] == 5
        assert live.version == 1
        assert live.degraded
        rejection = live.last_rejection
        assert rejection is not None
        assert [p.path for p in rejection.problems] == ["/db/pool_size"]
        assert rejection.problems[0].code == "minimum"
        assert events.rejections == [rejection]
        assert live.rejections()[0].problems == rejection.problems
        assert "/db/pool_size" in caplog.text  # rejections are loud (invariant 6)
        source.set({"db": {"host": "db.local", "pool_size": 6}})
        assert not live.degraded and live.version == 2


def test_unparsable_candidate_is_rejected_with_its_line() -> None:
    live, source = memory_live()
    with live:
        source.set("db:\n  host: a\n  host: b\n  pool_size: 3\n")
        rejection = live.last_rejection
        assert rejection is not None
        assert rejection.problems[0].code == "duplicate-key"
        assert rejection.problems[0].line == 3
        assert live.version == 1


def test_semantically_equal_candidate_is_a_noop() -> None:
    live, source = memory_live("db: {host: db.local, pool_size: 5}\n")
    with live:
        events = EventRecorder()
        live.subscribe(events)
        source.set("# a comment\ndb:\n  pool_size: 5   # same\n  host: 'db.local'\n")
        assert live.version == 1
        result = live.reload()
        assert result.status == "noop"
        assert events.events == []
        assert len(live.history()) == 1


def test_int_to_float_is_not_a_noop() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number"}}}
    live, source = memory_live({"x": 4}, schema=schema)
    with live:
        source.set({"x": 4.0})
        assert live.version == 2
        assert type(live.current["x"]) is float


def test_subscriber_key_patterns() -> None:
    live, source = memory_live({**GOOD, "features": {"a": True}})
    with live:
        db, features, everything = EventRecorder(), EventRecorder(), EventRecorder()
        live.subscribe(db, keys=["db.*"])
        live.subscribe(features, keys=["features"])
        live.subscribe(everything)
        source.set({**GOOD, "features": {"a": False}})
        source.set({"db": {"host": "other", "pool_size": 5}, "features": {"a": False}})
        assert db.versions == [3]
        assert features.versions == [2]
        assert everything.versions == [2, 3]


def test_subscription_close_stops_delivery() -> None:
    live, source = memory_live()
    with live:
        events = EventRecorder()
        sub = live.subscribe(events)
        sub.close()
        source.set({"db": {"host": "x", "pool_size": 5}})
        assert events.events == []


def test_custom_validator_rejects_before_swap() -> None:
    def no_localhost(config: object) -> list[str]:
        assert isinstance(config, MappingProxyType)  # validators see frozen data
        return ["db.host must not be localhost"] if config["db"]["host"] == "localhost" else []

    live, source = memory_live(validators=[no_localhost])
    with live:
        source.set({"db": {"host": "localhost", "pool_size": 5}})
        assert live.current["db"]["host"] == "db.local"
        assert live.last_rejection is not None
        assert live.last_rejection.problems[0].message == "db.host must not be localhost"
        assert live.last_rejection.problems[0].code == "check"


def test_validator_that_raises_rejects_the_candidate() -> None:
    def broken(config: object) -> list[str]:
        raise ConnectionError("db unreachable")

    with pytest.raises(hotconf.NoValidConfigError) as info:
        memory_live(validators=[broken])
    assert info.value.problems[0].code == "check"
    assert "ConnectionError" in info.value.problems[0].message


def test_secrets_are_redacted_in_changes_rejections_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret, new_secret = "hunter2-very-secret", "correct-horse-battery"
    live, source = memory_live({"db": {"host": "h", "pool_size": 1, "password": secret}})
    caplog.set_level(logging.DEBUG, "hotconf")
    with live:
        events = EventRecorder()
        live.subscribe(events, rejections=True)
        source.set({"db": {"host": "h", "pool_size": 1, "password": new_secret}})
        [change] = events.changes[0].changes
        assert change.path == ("db", "password")
        assert (
            change.sensitive and change.old == hotconf.REDACTED and change.new == hotconf.REDACTED
        )
        assert live.current["db"]["password"] == new_secret  # the config itself holds it
        source.set({"db": {"host": "h", "pool_size": 1, "password": "short"}})  # minLength 8
        rejection = live.last_rejection
        assert rejection is not None and rejection.problems[0].path == "/db/password"
        text = json.dumps([r.to_dict() for r in live.rejections()]) + repr(events.events)
        text += caplog.text + json.dumps([v.to_dict() for v in live.history()])
        for value in (secret, new_secret, "short"):
            assert value not in text.replace("shorter", "")


def test_rollback_makes_a_new_version(tmp_path: Path) -> None:
    live, source = memory_live(state_dir=tmp_path / "state")
    with live:
        events = EventRecorder()
        live.subscribe(events)
        source.set({"db": {"host": "b", "pool_size": 5}})
        source.set({"db": {"host": "c", "pool_size": 5}})
        result = live.rollback()
        assert result.status == "applied"
        assert live.version == 4 and live.current["db"]["host"] == "b"
        info = live.history()[0]
        assert (info.status, info.rolled_back_from, info.restores) == ("rollback", 3, 2)
        live.rollback(to=1)
        assert live.version == 5 and live.current["db"]["host"] == "db.local"
        assert [e.type for e in events.changes][-2:] == ["config.rolled_back"] * 2
        assert [v.version for v in live.history()] == [5, 4, 3, 2, 1]  # only goes up
        with pytest.raises(hotconf.VersionNotFoundError):
            live.rollback(to=42)
        assert live.rollback(to=5).status == "noop"


def test_rollback_to_a_version_the_schema_now_refuses(tmp_path: Path) -> None:
    state = tmp_path / "state"
    live, source = memory_live({"db": {"host": "a", "pool_size": 1}}, state_dir=state)
    with live:
        source.set({"db": {"host": "a", "pool_size": 50}})
    strict = json.loads(json.dumps(SCHEMA))
    strict["properties"]["db"]["properties"]["pool_size"]["minimum"] = 10
    live, _ = memory_live({"db": {"host": "a", "pool_size": 50}}, schema=strict, state_dir=state)
    with live:
        with pytest.raises(hotconf.ValidationError):
            live.rollback(to=1)
        assert live.version == 2


def test_rollback_survives_restart_until_the_source_changes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = {"db": {"host": "a", "pool_size": 1}}
    second = {"db": {"host": "b", "pool_size": 1}}
    live, source = memory_live(first, state_dir=state)
    with live:
        source.set(second)
        live.rollback()
        assert live.current["db"]["host"] == "a"
    live, source = memory_live(second, state_dir=state)  # the source still holds "b"
    with live:
        assert live.current["db"]["host"] == "a" and live.version == 3
        source.set({"db": {"host": "c", "pool_size": 1}})
        assert live.current["db"]["host"] == "c" and live.version == 4


def test_a_rollback_holds_when_a_schema_adds_a_default(tmp_path: Path) -> None:
    # The pin is of the source's content as written: a default the schema adds later (so a
    # new effective config, a new checksum) does not let the content it keeps out back in.
    state = tmp_path / "state"
    plain: dict[str, Any] = {"type": "object", "properties": {"pool": {"type": "integer"}}}
    batch = {"type": "object", "properties": {**plain["properties"], "batch": {"default": 50}}}
    more = {"type": "object", "properties": {**batch["properties"], "mode": {"default": "x"}}}
    live, source = memory_live({"pool": 1}, schema=plain, state_dir=state)
    with live:
        source.set({"pool": 999})
        live.rollback(to=1)
    for schema in (batch, more):
        with memory_live({"pool": 999}, schema=schema, state_dir=state)[0] as live:
            assert (live.version, live.get("pool")) == (3, 1)
    live, source = memory_live({"pool": 999}, schema=more, state_dir=state)
    with live:
        source.set({"pool": 2})  # the source changed: it speaks again
        assert (live.version, live.current) == (4, {"pool": 2, "batch": 50, "mode": "x"})


def test_a_pin_of_the_effective_config_still_holds_and_is_rewritten(tmp_path: Path) -> None:
    # Before, a pin was the checksum of the source's effective config (an offline rollback
    # still pins the last-known-good's). It keeps the content out as before, and becomes the
    # checksum of the content as written at the next read, which later defaults do not move.
    state = tmp_path / "state"
    batch = {
        "type": "object",
        "properties": {"pool": {"type": "integer"}, "batch": {"default": 50}},
    }
    more = {"type": "object", "properties": {**batch["properties"], "mode": {"default": "x"}}}
    live, source = memory_live({"pool": 1}, schema=batch, state_dir=state)
    with live:
        source.set({"pool": 999})
        live.rollback(to=1)
    store = Store.open(state)
    store.set_meta("pinned_checksum", checksum({"pool": 999, "batch": 50}))  # the old kind
    store.close()
    with memory_live({"pool": 999}, schema=batch, state_dir=state)[0] as live:
        assert (live.version, live.get("pool")) == (3, 1)
    store = Store.open(state)
    assert store.get_meta("pinned_checksum") == checksum({"pool": 999})
    store.close()
    with memory_live({"pool": 999}, schema=more, state_dir=state)[0] as live:
        assert (live.version, live.get("pool")) == (3, 1)


def test_a_pinned_source_is_served_when_the_last_known_good_fails_the_new_schema(
    tmp_path: Path,
) -> None:
    """The rollback pin keeps the source's content out only while something is served."""
    state = tmp_path / "state"
    small = {"db": {"host": "a", "pool_size": 1}}
    big = {"db": {"host": "a", "pool_size": 50}}
    live, source = memory_live(small, state_dir=state)
    with live:
        source.set(big)
        live.rollback(to=1)  # v3 = v1's content; the source's (big) is pinned out
        assert live.version == 3
    strict = json.loads(json.dumps(SCHEMA))
    strict["properties"]["db"]["properties"]["pool_size"]["minimum"] = 10
    live, _ = memory_live(big, schema=strict, state_dir=state)  # v3 now fails: source serves
    with live:
        assert live.current["db"]["pool_size"] == 50 and live.version == 4
        assert not live.degraded


def test_start_up_prefers_lkg_over_a_broken_source(tmp_path: Path) -> None:
    state = tmp_path / "state"
    live, _ = memory_live(state_dir=state)
    live.close()
    live, _ = memory_live({"db": {"host": "x"}}, state_dir=state)  # pool_size missing
    with live:
        assert live.degraded
        assert live.current["db"]["pool_size"] == 5 and live.version == 1
        assert live.last_rejection is not None
        assert live.last_rejection.problems[0].code == "required"


def test_start_up_with_neither_valid_source_nor_lkg_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(hotconf.NoValidConfigError) as info:
        memory_live({"db": {"host": "x"}}, state_dir=tmp_path / "state")
    assert info.value.exit_code == 1
    assert "no valid config" in str(info.value)
    assert info.value.problems[0].path == "/db"


def test_lkg_that_the_new_schema_refuses_is_not_served(tmp_path: Path) -> None:
    state = tmp_path / "state"
    memory_live(state_dir=state)[0].close()
    strict = json.loads(json.dumps(SCHEMA))
    strict["properties"]["db"]["required"].append("password")
    with pytest.raises(hotconf.NoValidConfigError) as info:
        memory_live({"db": {"host": "x"}}, schema=strict, state_dir=state)
    assert any("last-known-good v1" in p.message for p in info.value.problems)


TLS = {
    "type": "object",
    "properties": {
        "tls": {"type": "boolean", "default": True},
        "cert": {"type": "string"},
        "port": {"type": "integer"},
    },
    "if": {"properties": {"tls": {"const": True}}, "required": ["tls"]},
    "then": {"required": ["cert"]},
}


def test_a_config_its_defaults_make_invalid_is_rejected(tmp_path: Path) -> None:
    # Valid as written, but not once tls defaults to true: what would be served fails the
    # schema, so it is not served (and a last-known-good or a rollback target always passes).
    state = tmp_path / "state"
    with pytest.raises(hotconf.NoValidConfigError) as caught:
        memory_live({"port": 1}, schema=TLS, state_dir=state)
    [problem] = caught.value.problems
    assert (problem.message, problem.code) == (
        "'cert' is a required property (with the defaults filled in: /tls)",
        "required",
    )
    assert hotconf.diff({}, {"port": 1}, TLS).level == "breaking"
    live, source = memory_live({"port": 1, "tls": False}, schema=TLS, state_dir=state)
    with live:
        source.set({"port": 2})
        assert live.last_rejection is not None and live.version == 1
        source.set({"port": 2, "cert": "c.pem"})
        assert live.version == 2
        assert live.current == {"port": 2, "cert": "c.pem", "tls": True}
        assert live.schema is not None and not live.schema.validate(dict(live.current))
        assert live.rollback(1).status == "applied"
    with memory_live("port: [\n", schema=TLS, state_dir=state)[0] as live:
        assert live.degraded and live.current == {"port": 1, "tls": False}


def test_same_content_at_restart_makes_no_version(tmp_path: Path) -> None:
    state = tmp_path / "state"
    memory_live(state_dir=state)[0].close()
    live, _ = memory_live(state_dir=state)
    with live:
        assert live.version == 1 and len(live.history()) == 1


def test_state_dir_defaults_next_to_the_config(tmp_path: Path, schema_file: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    with hotconf.watch(config, schema=schema_file, poll_interval=None) as live:
        assert live.version == 1
    assert (tmp_path / ".hotconf" / "hotconf.db").exists()


def test_unwritable_state_dir_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(hotconf.StoreError):
        memory_live(state_dir=blocker / "state")


def test_closed_live_config_refuses_work() -> None:
    live, _ = memory_live()
    live.close()
    live.close()  # twice is fine
    with pytest.raises(hotconf.ClosedError):
        live.reload()
    with pytest.raises(hotconf.ClosedError):
        live.subscribe(print)
    assert live.current["db"]["pool_size"] == 5  # readers still read the last snapshot


def test_list_source_deep_merges_in_order(tmp_path: Path, schema_file: Path) -> None:
    base, override = tmp_path / "base.yaml", tmp_path / "prod.yaml"
    base.write_text(config_text(pool=5, extra="features: {a: true, b: true}\n"))
    override.write_text("db:\n  pool_size: 20\nfeatures:\n  b: false\n")
    with hotconf.watch(
        [base, override], schema=schema_file, state_dir=None, poll_interval=None
    ) as live:
        assert live.current.to_dict() == {
            "db": {"host": "db.local", "pool_size": 20},
            "features": {"a": True, "b": False},
        }


def test_directory_source_merges_in_name_order(tmp_path: Path, schema_file: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "10-base.yaml").write_text(config_text(pool=5))
    (conf / "20-prod.json").write_text(json.dumps({"db": {"pool_size": 7}}))
    (conf / ".hidden.yaml").write_text("db: broken: [")
    (conf / "notes.txt").write_text("ignored")
    with hotconf.watch(conf, schema=schema_file, state_dir=None, poll_interval=None) as live:
        assert live.get("db.pool_size") == 7 and live.get("db.host") == "db.local"


def test_missing_source_without_lkg(tmp_path: Path, schema_file: Path) -> None:
    with pytest.raises(hotconf.NoValidConfigError) as info:
        hotconf.watch(tmp_path / "nope.yaml", schema=schema_file, state_dir=None)
    assert "does not exist" in str(info.value)


def test_reload_result_reports_changes() -> None:
    live, source = memory_live()
    with live:
        source._doc = MemorySource({"db": {"host": "z", "pool_size": 5}})._doc
        result = live.reload()
        assert result.status == "applied" and result.version == 2
        assert [c.pointer for c in result.changes] == ["/db/host"]
        assert result.previous is not None and result.previous.version == 1


class FailingStore(Store):
    """A store whose next ``failures`` commits fail (a full disk, a lost volume)."""

    failures = 0

    def append(self, **kw: object) -> hotconf.VersionInfo:
        if self.failures:
            self.failures -= 1
            raise hotconf.StoreError("disk I/O error")
        return super().append(**kw)  # type: ignore[arg-type]


def test_failed_commit_is_neither_visible_nor_announced() -> None:
    store = FailingStore(None)
    source = MemorySource(GOOD)
    with hotconf.LiveConfig(source, schema=hotconf.Schema.coerce(SCHEMA), store=store) as live:
        events = EventRecorder()
        live.subscribe(events)
        store.failures = 1
        source.set({"db": {"host": "new", "pool_size": 5}})
        assert live.current["db"]["host"] == "db.local" and live.version == 1
        assert events.events == []
        assert live.last_rejection is None  # a store failure is not the candidate's fault
        assert live.store_problem is not None and live.store_failures == 1
        result = live.reload()  # the same candidate goes through once the store works
        assert result.status == "applied" and live.current["db"]["host"] == "new"


def test_durable_before_announced(tmp_path: Path) -> None:
    live, source = memory_live(state_dir=tmp_path / "state")
    with live:
        seen: list[tuple[int, int]] = []
        live.subscribe(lambda e: seen.append((e.version, live.history(1)[0].version)))
        source.set({"db": {"host": "b", "pool_size": 5}})
        assert seen == [(2, 2)]


def test_snapshot_compare_and_dry_run_validate(tmp_path: Path) -> None:
    live, source = memory_live(state_dir=tmp_path / "state")
    with live:
        source.set({"db": {"host": "b", "pool_size": 50}})
        assert live.snapshot(1)["db"]["host"] == "db.local"
        assert live.snapshot(2) is live.current
        report = live.compare(1, 2)
        assert [c.pointer for c in report.changes] == ["/db/host", "/db/pool_size"]
        assert (report.old_version, report.new_version, report.level) == (1, 2, "risky")
        dry = live.validate(b"db: {host: c, pool_size: 0}\n")
        assert dry.level == "breaking" and dry.problems[0].path == "/db/pool_size"
        assert live.validate({"db": {"host": "b", "pool_size": 50}}).idempotent
        assert live.version == 2 and live.rejections() == []  # nothing applied or recorded
        with pytest.raises(hotconf.LoadError):
            live.validate(b"db: [")
        with pytest.raises(hotconf.VersionNotFoundError):
            live.snapshot(9)
