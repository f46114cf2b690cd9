"""Edge cases found in review: each would lose a change, leak a secret or wedge the watcher."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.testing import MemorySource

from ..conftest import config_text, wait_for


def test_secrets_inside_added_removed_or_replaced_values_are_redacted() -> None:
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"x": 1}, {"x": 1, "db": {"password": "s3cret-1", "host": "h"}}),
        ({"db": {"password": "s3cret-1"}}, {}),
        ({"l": []}, {"l": [{"token": "s3cret-1"}]}),
        ({"l": [{"api_key": "s3cret-1"}, 2]}, {"l": [2, {"api_key": "s3cret-1"}]}),
        ({"db": "plain"}, {"db": {"private_key": "s3cret-1"}}),
    ]
    for old, new in cases:
        report = hotconf.diff(old, new)
        text = report.to_json() + report.to_text() + report.to_markdown()
        assert "s3cret-1" not in text, (old, new)
        assert hotconf.REDACTED in text


def test_a_held_change_never_shows_a_secret_its_default_holds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "conn": {
                "type": ["object", "string"],
                "default": {"user": "u", "token": "tok-default-123"},
            }
        },
    }
    source = MemorySource({"conn": "plain"})
    with (
        caplog.at_level(logging.DEBUG, logger="hotconf"),
        hotconf.watch(source, schema, state_dir=tmp_path / "s", gate="safe") as live,
    ):
        events: list[Any] = []
        live.subscribe(events.append, rejections=True)
        source.set({})  # /conn falls back to its default: risky, held at the gate
        rejection = live.last_rejection
        assert rejection is not None and live.version == 1
        [problem] = rejection.problems
        assert problem.code == "gate" and "/conn" in problem.message
        assert '"token": "<redacted>"' in problem.message
        shown = repr(rejection) + repr(live.rejections(5)) + repr(events) + caplog.text
    assert "tok-default-123" not in shown


def test_a_huge_number_is_classified_not_crashed() -> None:
    report = hotconf.diff({"n": 1}, {"n": 10**400})
    assert report.changes[0].reason == "changed by 10x or more"
    source = MemorySource("n: 1\n")
    with hotconf.watch(source) as live:
        source.set(f"n: 1{'0' * 400}\n")
        assert live.get("n") == 10**400


def test_the_rollback_pin_is_cleared_by_the_next_source_change(tmp_path: Path) -> None:
    source = MemorySource({"a": 1})
    with hotconf.watch(source, state_dir=tmp_path / "s") as live:
        source.set({"a": 2})
        live.rollback(to=1)
        assert live.get("a") == 1
        source.set({"a": 3})
        assert live.get("a") == 3
        source.set({"a": 2})  # what was rolled away from, now a new edit: it applies
        assert live.get("a") == 2 and live.version == 5


def test_a_held_back_change_is_recorded_once_not_at_every_poll(
    tmp_path: Path, schema_file: Path
) -> None:
    polls = threading.Semaphore(0)

    class Counting(hotconf.FileSource):
        def check(self) -> None:
            super().check()
            polls.release()

    path = tmp_path / "config.yaml"
    path.write_text(config_text(pool=10))
    source = Counting(path)
    with hotconf.watch(
        source, schema=schema_file, state_dir=None, gate="safe", poll_interval=0.05
    ) as live:
        path.write_text(config_text(pool=1000))  # 100x: risky, above the gate
        wait_for(lambda: live.last_rejection is not None, what="gate")
        for _ in range(5):
            assert polls.acquire(timeout=15)
        assert [r.problems[0].code for r in live.rejections()] == ["gate"]
        assert live.reload(force=True).status == "applied"


def test_a_file_over_the_sources_size_limit_is_refused_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("hosts:\n" + "".join(f"  - h{i}\n" for i in range(40)))
    with pytest.raises(hotconf.NoValidConfigError) as info:
        hotconf.watch(hotconf.FileSource(path, max_bytes=64), state_dir=None)
    assert info.value.problems[0].code == "limit"


def test_an_edit_before_the_watch_is_armed_is_not_missed(tmp_path: Path, schema_file: Path) -> None:
    class LateStart(hotconf.FileSource):
        def start(self, poke: Any) -> None:
            Path(self.paths[0]).write_text(config_text(pool=2))  # no event will tell
            super().start(poke)

    path = tmp_path / "config.yaml"
    path.write_text(config_text(pool=1))
    with hotconf.watch(
        LateStart(path), schema=schema_file, state_dir=None, poll_interval=None
    ) as live:
        wait_for(lambda: live.get("db.pool_size") == 2, what="the early edit")


def test_degraded_clears_when_the_same_content_comes_back(
    tmp_path: Path, schema_file: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text(pool=1))
    with hotconf.watch(path, schema=schema_file, state_dir=None) as live:
        os.rename(path, tmp_path / "aside")
        wait_for(lambda: live.degraded, what="degraded")
        os.rename(tmp_path / "aside", path)
        wait_for(lambda: not live.degraded, what="recovered")
        assert live.version == 1


def test_a_slow_on_result_callback_does_not_block_reloads() -> None:
    release, entered = threading.Event(), threading.Event()

    def slow(result: hotconf.ReloadResult) -> None:
        if result.status == "applied" and not release.is_set():
            entered.set()
            release.wait(15)

    source = MemorySource({"a": 1})
    with hotconf.watch(source, on_result=slow) as live:
        setter = threading.Thread(target=source.set, args=({"a": 2},))
        setter.start()
        try:
            assert entered.wait(15)
            # the callback is still blocked; the writer lock is free
            assert live.reload().status == "noop"
            assert live.get("a") == 2
        finally:
            release.set()
            setter.join()


def test_lookup_memo_stays_bounded() -> None:
    with hotconf.watch(MemorySource({"a": 1})) as live:
        for i in range(10_000):
            assert live.get(f"missing.{i}") is None
        assert len(live.current._memo) <= 4096
        assert live.get("a") == 1


def test_a_validator_exception_message_never_reaches_the_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def leaky(config: Any) -> list[str]:
        raise ValueError(f"bad password {config['password']}")

    caplog.set_level(logging.DEBUG, "hotconf")
    source = MemorySource({"password": "ok-secret-0"})
    with pytest.raises(hotconf.NoValidConfigError) as info:
        hotconf.watch(source, validators=[leaky])
    assert "ok-secret-0" not in caplog.text + str(info.value)
    assert "ValueError" in caplog.text


def test_directory_replaced_while_polling_never_deadlocks(
    tmp_path: Path, schema_file: Path
) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "app.yaml").write_text(config_text(pool=1))
    with hotconf.watch(conf, schema=schema_file, state_dir=None, poll_interval=0.01) as live:
        for pool in range(2, 12):
            fresh = tmp_path / f"new{pool}"
            fresh.mkdir()
            (fresh / "app.yaml").write_text(config_text(pool=pool))
            shutil.rmtree(conf)
            os.rename(fresh, conf)
            wait_for(lambda p=pool: live.get("db.pool_size") == p, what=f"pool {pool}")
