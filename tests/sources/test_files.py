"""Watching real files with real inotify: editors' saves, ConfigMap swaps, bursts, misses."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.sources import WRITE_TIMEOUT
from hotconf.testing import EventRecorder

from ..conftest import config_text, wait_for


class Watched:
    def __init__(self, live: hotconf.LiveConfig) -> None:
        # A candidate that fails is looked at again after `confirm`, unless an event says a
        # writer is busy: on a loaded machine those events can come later than the default
        # 50 ms, and a file caught half-written would be recorded as a rejection.
        assert live._worker is not None
        live._worker.confirm = 2.0
        self.live = live
        self.events = EventRecorder()
        live.subscribe(self.events, rejections=True)

    def wait_pool(self, pool: int) -> None:
        wait_for(lambda: self.live.get("db.pool_size") == pool, what=f"pool_size == {pool}")

    def assert_clean(self, versions: int) -> None:
        """Exactly ``versions`` versions so far, no rejection, every one a whole config."""
        wait_for(lambda: len(self.events.changes) >= versions - 1, what="events")
        assert [v.version for v in self.live.history()] == list(range(versions, 0, -1))
        assert self.events.rejections == []
        assert self.live.rejections() == []
        for event in self.events.changes:
            assert set(event.current["db"]) >= {"host", "pool_size"}


@pytest.fixture
def watched(tmp_path: Path, schema_file: Path) -> Iterator[Watched]:
    config = tmp_path / "conf" / "config.yaml"
    config.parent.mkdir()
    config.write_text(config_text(pool=1))
    source = CountingSource(config)
    with hotconf.watch(source, schema=schema_file, state_dir=tmp_path / "state") as live:
        # Once the watches are armed the worker reads the file once more (an edit made before
        # that has no event): let that happen before the test edits, or it may read an edit
        # half-done, as a busy machine can delay it.
        wait_for(lambda: source.reads >= 2, what="the first look after arming the watches")
        yield Watched(live)


class CountingSource(hotconf.FileSource):
    """Counts its reads: one at start-up, one more once the watches are armed."""

    reads = 0

    def read(self) -> tuple[hotconf.RawDocument, ...]:
        self.reads += 1
        return super().read()


def config_path(w: Watched) -> Path:
    return Path(w.live._source.paths[0])  # type: ignore[attr-defined]


def test_plain_write(watched: Watched) -> None:
    config_path(watched).write_text(config_text(pool=2))
    watched.wait_pool(2)
    watched.assert_clean(2)


def test_vim_style_save_rename_then_write(watched: Watched) -> None:
    path = config_path(watched)
    backup = path.with_name(path.name + "~")
    os.rename(path, backup)
    with open(path, "w") as f:
        f.write(config_text(pool=2))
    backup.unlink()
    watched.wait_pool(2)
    watched.assert_clean(2)


def test_jetbrains_safe_write(watched: Watched) -> None:
    path = config_path(watched)
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    tmp.write_text(config_text(pool=2))
    os.rename(path, old)
    os.rename(tmp, path)
    old.unlink()
    watched.wait_pool(2)
    watched.assert_clean(2)


def test_atomic_replace(watched: Watched) -> None:
    path = config_path(watched)
    tmp = path.with_name(".config.yaml.tmp")
    tmp.write_text(config_text(pool=2))
    os.replace(tmp, path)
    watched.wait_pool(2)
    watched.assert_clean(2)


def test_slow_truncate_then_write_never_applies_the_first_half(watched: Watched) -> None:
    """The first half is itself a valid config: read too early, it would go live."""
    assert watched.live._worker is not None
    watched.live._worker.write_timeout = watched.live._worker.max_wait = 60  # "still writing"
    path = config_path(watched)
    with open(path, "w") as f:
        f.write(config_text(pool=2))
        f.flush()
        os.fsync(f.fileno())
        # A slow writer: long past the settle time, file still open.
        threading.Event().wait(0.4)
        f.write("features:\n  beta: true\n")
    wait_for(lambda: watched.live.get("features.beta") is True, what="second half")
    watched.assert_clean(2)
    assert watched.events.changes[0].current["features"]["beta"] is True


def test_one_save_with_many_events_is_one_version(watched: Watched) -> None:
    path = config_path(watched)
    with open(path, "w") as f:
        for line in config_text(pool=2).splitlines(keepends=True):
            f.write(line)
            f.flush()
    os.chmod(path, 0o644)
    os.utime(path)
    watched.wait_pool(2)
    watched.assert_clean(2)


def test_successive_saves_each_make_one_version(watched: Watched) -> None:
    path = config_path(watched)
    for pool in range(2, 12):
        path.write_text(config_text(pool=pool))
        watched.wait_pool(pool)
    watched.assert_clean(11)
    assert watched.events.versions == list(range(2, 12))


def test_burst_ends_on_the_last_write_and_never_a_partial(watched: Watched) -> None:
    path = config_path(watched)
    written = {config_text(pool=p) for p in range(2, 40)}
    for pool in range(2, 40):
        path.write_text(config_text(pool=pool))
    watched.wait_pool(39)
    wait_for(
        lambda: (
            watched.events.changes and watched.events.changes[-1].version == watched.live.version
        )
    )
    assert watched.events.rejections == []
    for event in watched.events.changes:
        assert config_text(pool=event.current["db"]["pool_size"]) in written
    versions = [v.version for v in watched.live.history()]
    assert versions == list(range(len(versions), 0, -1))


def test_invalid_save_is_rejected_then_fixed(watched: Watched) -> None:
    path = config_path(watched)
    path.write_text(config_text(pool=0))  # minimum 1
    wait_for(lambda: watched.live.last_rejection is not None, what="rejection")
    assert watched.live.get("db.pool_size") == 1
    # the subscriber gets it on its own thread, after last_rejection is set
    wait_for(lambda: watched.events.rejections != [], what="the rejection event")
    [rejection] = watched.events.rejections
    assert rejection.problems[0].path == "/db/pool_size"
    assert rejection.problems[0].line == 3  # located in the file
    assert rejection.problems[0].source == str(path)
    path.write_text(config_text(pool=3))
    watched.wait_pool(3)
    assert not watched.live.degraded


def _configmap(root: Path, generation: int, text: str) -> None:
    """Do what the kubelet does: new timestamped dir, ..data_tmp symlink, rename over ..data."""
    data = root / f"..2026_11_27_{generation:04d}"
    data.mkdir()
    (data / "config.yaml").write_text(text)
    tmp = root / "..data_tmp"
    os.symlink(data.name, tmp)
    os.rename(tmp, root / "..data")
    for old in root.glob("..2026_11_27_*"):
        if old != data:
            shutil.rmtree(old)
    if not (root / "config.yaml").is_symlink():
        os.symlink("..data/config.yaml", root / "config.yaml")


@pytest.mark.parametrize("as_directory", [False, True])
def test_kubernetes_configmap_swap(tmp_path: Path, schema_file: Path, as_directory: bool) -> None:
    root = tmp_path / "configmap"
    root.mkdir()
    _configmap(root, 1, config_text(pool=1))
    source = root if as_directory else root / "config.yaml"
    with hotconf.watch(source, schema=schema_file, state_dir=tmp_path / "state") as live:
        w = Watched(live)
        for generation in range(2, 5):
            _configmap(root, generation, config_text(pool=generation))
            w.wait_pool(generation)
        w.assert_clean(4)


def test_directory_deleted_and_recreated(tmp_path: Path, schema_file: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "app.yaml").write_text(config_text(pool=1))
    with hotconf.watch(conf, schema=schema_file, state_dir=tmp_path / "state") as live:
        w = Watched(live)
        shutil.rmtree(conf)
        conf.mkdir()
        (conf / "app.yaml").write_text(config_text(pool=2))
        w.wait_pool(2)
        # the new directory is watched too
        (conf / "app.yaml").write_text(config_text(pool=3))
        w.wait_pool(3)
        assert [v.version for v in live.history()] == [3, 2, 1]


def test_parent_of_file_deleted_and_recreated(watched: Watched) -> None:
    path = config_path(watched)
    shutil.rmtree(path.parent)
    path.parent.mkdir()
    path.write_text(config_text(pool=2))
    watched.wait_pool(2)
    path.write_text(config_text(pool=3))
    watched.wait_pool(3)


def test_deleted_file_is_rejected_and_lkg_kept(watched: Watched) -> None:
    path = config_path(watched)
    path.unlink()
    wait_for(lambda: watched.live.last_rejection is not None, what="rejection")
    assert watched.live.last_rejection is not None
    assert "does not exist" in watched.live.last_rejection.problems[0].message
    assert watched.live.get("db.pool_size") == 1
    path.write_text(config_text(pool=2))
    watched.wait_pool(2)


class DeafSource(hotconf.FileSource):
    """A source that misses every event (a full inotify queue, an unwatched mount)."""

    def check(self) -> None:
        pass


def test_poll_catches_missed_events(tmp_path: Path, schema_file: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text(pool=1))
    source = DeafSource(path)
    with hotconf.watch(source, schema=schema_file, state_dir=None, poll_interval=0.2) as live:
        path.write_text(config_text(pool=2))
        wait_for(lambda: live.get("db.pool_size") == 2, what="poll")


class FlakySource(hotconf.FileSource):
    """Raises in the event handler and in read() once each."""

    def __init__(self, *a: object, **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.handler_raised = self.read_raised = False

    def _concerns(self, d: str, base: str) -> bool:
        if not self.handler_raised:
            self.handler_raised = True
            raise RuntimeError("boom in the handler")
        return super()._concerns(d, base)

    def read(self) -> tuple[hotconf.RawDocument, ...]:
        if self.handler_raised and not self.read_raised:
            self.read_raised = True
            raise RuntimeError("boom in read")
        return super().read()


def test_exceptions_in_handler_and_worker_never_stop_watching(
    tmp_path: Path, schema_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "hotconf")
    path = tmp_path / "config.yaml"
    path.write_text(config_text(pool=1))
    source = FlakySource(path)
    with hotconf.watch(source, schema=schema_file, state_dir=None, poll_interval=None) as live:
        for pool in (2, 3, 4):
            path.write_text(config_text(pool=pool))
            wait_for(lambda p=pool: live.get("db.pool_size") == p, what=f"pool {pool}")
    assert source.handler_raised and source.read_raised
    assert "boom in the handler" in caplog.text and "boom in read" in caplog.text


# -- writers that pause with the file open -----------------------------------------------------


def _keys(n: int) -> str:
    return "".join(f"k{i}: {i}\n" for i in range(n))


@contextlib.contextmanager
def armed(path: Path, **kwargs: Any) -> Iterator[hotconf.LiveConfig[Any]]:
    """`hotconf.watch` of ``path``, once its watches are armed and the file looked at again
    (a writer that opened the file before that would have no event to tell of it)."""
    source = CountingSource(path, write_timeout=kwargs.pop("write_timeout", WRITE_TIMEOUT))
    with hotconf.watch(source, **kwargs) as live:
        wait_for(lambda: source.reads >= 2, what="the first look after arming the watches")
        yield live


def test_a_writer_that_pauses_with_the_file_open_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(_keys(1))
    with armed(path, state_dir=tmp_path / "state") as live:
        with path.open("w") as f:
            f.write(_keys(107))  # a valid config on its own: it must not become a version
            f.flush()
            threading.Event().wait(1.5)  # the writer's pause (the scenario, not a wait)
            f.write(_keys(200)[len(_keys(107)) :])
        wait_for(lambda: live.version == 2, what="the whole file applied")
        assert len(live.current) == 200
        assert [v.version for v in live.history()] == [2, 1]
        assert live.rejections() == []


def test_an_empty_file_after_a_truncate_is_not_a_rejection(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(_keys(1))
    with armed(path, state_dir=tmp_path / "state") as live:
        for n in (2, 3):
            with path.open("w") as f:  # truncates: the file is empty until the write
                f.flush()
                threading.Event().wait(1.2)  # the writer's pause
                f.write(_keys(n))
            wait_for(lambda n=n: len(live.current) == n, what=f"{n} keys applied")
        assert live.rejections() == [] and live.version == 3


def test_a_writer_paused_past_write_timeout_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(_keys(1))
    with armed(path, state_dir=None, write_timeout=0.3) as live:
        with path.open("w") as f:
            f.write(_keys(5))
            f.flush()
            wait_for(lambda: live.version == 2, what="the stalled writer's file read")
        assert len(live.current) == 5
