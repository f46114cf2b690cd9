"""The reload worker: coalescing, waiting for writers, bounded delay, poll, retry, confirm."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hotconf.live import worker as worker_module
from hotconf.live.worker import Deferred, ReloadWorker

from ..conftest import WAIT, wait_for


class Recorder:
    def __init__(self) -> None:
        self.runs: list[bool] = []
        self.checks = 0
        self.fail: list[BaseException] = []
        self.lock = threading.Lock()

    def run(self, defer: bool) -> None:
        with self.lock:
            self.runs.append(defer)
            if self.fail:
                raise self.fail.pop(0)

    def check(self) -> None:
        self.checks += 1


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def started(rec: Recorder, **kw: object) -> ReloadWorker:
    w = ReloadWorker(rec.run, rec.check, **kw)  # type: ignore[arg-type]
    w.start()
    return w


@pytest.fixture
def make(rec: Recorder) -> Iterator[list[ReloadWorker]]:
    workers: list[ReloadWorker] = []
    yield workers
    for w in workers:
        w.stop()


def test_a_burst_of_pokes_is_one_run(rec: Recorder, make: list[ReloadWorker]) -> None:
    w = started(rec, settle=0.2, poll_interval=None)
    make.append(w)
    with w._cond:  # the whole burst lands before the worker looks, however slow this thread is
        for _ in range(100):
            w.poke()
    wait_for(lambda: rec.runs)
    stop = threading.Event()
    stop.wait(0.3)  # nothing else is coming: make sure no second run sneaks in
    assert rec.runs == [True]


def test_a_busy_writer_delays_the_run_until_it_closes(
    rec: Recorder, make: list[ReloadWorker]
) -> None:
    w = started(rec, settle=0.001, max_wait=0.05, poll_interval=None)
    make.append(w)
    w.poke(writing=True)
    threading.Event().wait(0.2)
    assert rec.runs == []  # still waiting for the writer
    w.poke(writing=False)  # the close
    wait_for(lambda: rec.runs == [True])


def test_endless_pokes_still_run_within_max_wait(rec: Recorder, make: list[ReloadWorker]) -> None:
    # Each poke asks for 10 s of quiet, so only max_wait can start the run.
    w = started(rec, settle=10, max_wait=0.2, poll_interval=None)
    make.append(w)
    gate = threading.Event()
    deadline = time.monotonic() + WAIT
    while not rec.runs:  # a poke every millisecond would postpone the run forever
        assert time.monotonic() < deadline, "no run while the pokes went on"
        w.poke()
        gate.wait(0.001)
    assert rec.runs[0] is True


def test_poll_runs_and_rearms_without_pokes(rec: Recorder, make: list[ReloadWorker]) -> None:
    w = started(rec, poll_interval=0.05)
    make.append(w)
    wait_for(lambda: len(rec.runs) >= 3 and rec.checks >= 3)


def test_unexpected_error_is_retried(
    rec: Recorder, make: list[ReloadWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "RETRY", 0.01)
    rec.fail = [RuntimeError("boom"), RuntimeError("boom again")]
    w = started(rec, poll_interval=None)
    make.append(w)
    w.poke()
    wait_for(lambda: len(rec.runs) == 3)


def test_deferred_failure_is_confirmed_once_more(rec: Recorder, make: list[ReloadWorker]) -> None:
    rec.fail = [Deferred()]
    w = started(rec, confirm=0.01, poll_interval=None)
    make.append(w)
    w.poke()
    wait_for(lambda: rec.runs == [True, False])


def test_stop_ends_the_thread(rec: Recorder) -> None:
    w = started(rec, poll_interval=None)
    w.stop()
    w.poke()
    assert rec.runs == []
