"""The reload worker: one thread that turns pokes into pipeline runs, one at a time.

Sources poke it (from watchdog's thread, say); it coalesces a burst of pokes into one run,
waiting ``settle`` after the last one, never longer than ``max_wait`` after the first. While a
writer still has a file open (a "writing" poke, until its close), nothing is read: the run
waits for the close, for pauses of the writer up to ``write_timeout``. A watch-triggered run
whose candidate fails may raise `Deferred`: the worker looks again after ``confirm``, and
keeps looking while the source says it is still changing (a writer open, or the file changed
since it was read), before the failure is recorded. Every ``poll_interval`` it runs anyway
(unless a writer is busy), to catch events the source missed, and asks the source to re-arm
its watches. Nothing that fails in a run stops the thread: it logs and retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..sources import WRITE_TIMEOUT, Activity

log = logging.getLogger("hotconf")

RETRY = 1.0  # seconds before retrying after an unexpected error, doubling each time
MAX_RETRY = 60.0


def _settled() -> Activity:
    return None


class Deferred(Exception):
    """Raised by a run: the candidate failed, look again after ``confirm`` before saying so."""


class ReloadWorker:
    """Runs ``run(defer)`` after pokes settle, and on a poll.

    Args:
        run: runs the pipeline once; with ``defer=True`` it may raise `Deferred`.
        check: re-arms the source's watches (called on each poll).
        settle: quiet time after the last poke before a run, in seconds (default none: the
            sources only say "complete" for a close or a rename, and a run on a transient
            state is deferred and confirmed, so waiting would only add latency).
        write_timeout: while a writer has a file open, wait for its close this long after
            its last write before reading anyway.
        max_wait: a burst of pokes never delays a run longer than this (writers aside).
        confirm: how long to wait before re-checking a failed candidate (0: don't).
        poll_interval: seconds between polls, ``None`` for none.
        activity: asks the source whether it is still being written or changing
            (`hotconf.sources.Activity`; None: a source that cannot tell).
    """

    def __init__(
        self,
        run: Callable[[bool], object],
        check: Callable[[], object],
        *,
        settle: float = 0.0,
        write_timeout: float = WRITE_TIMEOUT,
        max_wait: float = 2.0,
        confirm: float = 0.1,
        poll_interval: float | None = 30.0,
        activity: Callable[[], Activity] | None = None,
    ) -> None:
        self._run = run
        self._check = check
        self.settle = settle
        self.write_timeout = write_timeout
        self.max_wait = max_wait
        self.confirm = confirm
        self.poll_interval = poll_interval
        self._activity = activity or _settled
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._first: float | None = None
        self._writing = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="hotconf-reload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        """The worker thread is running."""
        return self._thread.is_alive()

    def poke(self, writing: bool = False) -> None:
        """The source may have changed; ``writing``: a writer is not done yet."""
        now = time.monotonic()
        with self._cond:
            self._deadline = now + (self.write_timeout if writing else self.settle)
            self._writing = writing
            if self._first is None:
                self._first = now
            self._cond.notify()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the run in flight, then end the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _next_poll(self) -> float | None:
        return time.monotonic() + self.poll_interval if self.poll_interval else None

    def _wait_for_work(self, next_poll: float | None) -> bool:
        """Block until a run is due; False when closed."""
        with self._cond:
            while not self._closed and self._deadline is None:
                wait = None if next_poll is None else next_poll - time.monotonic()
                if wait is not None and wait <= 0:
                    self._deadline = time.monotonic()
                    break
                self._cond.wait(wait)
            # settle: wait until no new poke moves the deadline (bounded by max_wait)
            while not self._closed and self._deadline is not None:
                due = self._deadline
                if self._first is not None and not self._writing:
                    due = min(due, self._first + self.max_wait)
                delay = due - time.monotonic()
                if delay <= 0:
                    break
                self._cond.wait(delay)
            self._deadline = self._first = None
            self._writing = False
            return not self._closed

    def _loop(self) -> None:
        next_poll = self._next_poll()
        failures = 0
        while self._wait_for_work(next_poll):
            if next_poll is not None and time.monotonic() >= next_poll:
                next_poll = self._next_poll()
                try:
                    self._check()
                except Exception:
                    log.exception("hotconf: error re-arming the watch; polling goes on")
            try:
                self._run_once()
                failures = 0
            except Exception:
                delay = min(RETRY * 2**failures, MAX_RETRY)
                failures += 1
                log.warning("hotconf: the reload failed; retrying in %.0fs", delay)
                with self._cond:
                    if self._deadline is None:
                        self._deadline = time.monotonic() + delay

    def _run_once(self) -> None:
        if self._activity() == "writing":
            return  # a poll while a writer has the file open: its close pokes
        try:
            self._run(self.confirm > 0)
            return
        except Deferred:
            pass
        # The candidate failed: a writer may be half-way. Look again after `confirm`, for as
        # long as the source is still changing (bounded), unless a newer poke comes first
        # (then the loop takes the newer candidate).
        give_up = time.monotonic() + self.write_timeout
        while True:
            if not self._pause(self.confirm):
                return
            activity = self._activity()
            if activity is None or time.monotonic() > give_up:
                break
            if activity == "changed":
                try:
                    self._run(True)
                    return
                except Deferred:
                    continue
        self._run(False)

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False when closed or poked meanwhile."""
        with self._cond:
            end = time.monotonic() + seconds
            while not self._closed and self._deadline is None:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return not self._closed and self._deadline is None
