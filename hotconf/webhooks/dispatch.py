"""The webhook dispatcher: sends what the outbox holds, one lane per subscriber.

One thread (``hotconf-webhooks``) runs an asyncio loop. Each subscriber with deliveries to
send gets a task (a lane) that sends them one at a time in outbox order, so a receiver sees
versions in order, and waits out a failed delivery's backoff before the next one. Lanes share
nothing but the loop: a receiver that hangs holds its own lane until the timeout, never anyone
else's. Each lane has its own connection pool, an `httpx.AsyncHTTPTransport` used without a
client (so no redirects, no proxies from the environment, no cookies, and no request log line
carrying the URL's query), and a TLS connection opened for one host name is never reused for
another host at the same address.

SQLite calls run on one more thread (``hotconf-webhooks-store``) so the loop never waits on a
disk flush; the results of attempts are batched into one transaction per flush. DNS lookups run
on a small pool (``hotconf-webhooks-dns``); each lookup is checked by the SSRF guard and the
request goes to the address checked (`hotconf.webhooks.ssrf`).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import standardwebhooks

from .. import __version__
from ..store.outbox import Outbox
from .deliveries import AttemptResult, Delivery, RetryPolicy, retry_after
from .ssrf import Refused, Resolver, check
from .subscribers import Subscriber, SubscriberStatus, WebhookError, redact_url

log = logging.getLogger("hotconf")

T = TypeVar("T")
BATCH = 50  # deliveries a lane reads at once
BACKOFF_ON_ERROR = 1.0  # seconds a lane waits after an unexpected error (a store failure)
BODY_CACHE = 16  # event bodies kept in memory
STOP_GRACE = 5.0  # seconds cancelled tasks get to end when stopping
_USER_AGENT = f"hotconf-webhooks/{__version__}"


class _Lane:
    """The task that delivers one subscriber's events, and what wakes it."""

    __slots__ = ("task", "transport", "wake")

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.transport: httpx.AsyncHTTPTransport | None = None


class Dispatcher:
    """Delivers the outbox. `start` it; `wake` it after a commit; `stop` it with a drain.

    Args:
        outbox: the store's outbox (``store.outbox``).
        lookup: the subscriber with an id (``None``: it was removed).
        on_disabled: told ``(id, reason, at)`` when a ``410 Gone`` disables a subscriber.
        retry: the `RetryPolicy`.
        timeouts: (connect, read, total) seconds per attempt.
        poll_interval: seconds between looks at the outbox (work queued by another process).
        on_poll: also called on each poll, on the store thread.
        clock: epoch seconds.
        rng: jitter.
        resolver: the DNS lookup (default: ``getaddrinfo`` on the DNS pool).
    """

    def __init__(
        self,
        outbox: Outbox,
        lookup: Callable[[str], SubscriberStatus | None],
        on_disabled: Callable[[str, str, float], None],
        *,
        retry: RetryPolicy,
        timeouts: tuple[float, float, float],
        poll_interval: float,
        on_poll: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._outbox = outbox
        self._lookup = lookup
        self._on_disabled = on_disabled
        self._retry = retry
        connect, read, self._total = timeouts
        self._timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
        self._connect_timeout = connect
        self._poll_interval = poll_interval
        self._on_poll = on_poll
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311  (jitter, not cryptography)
        self._resolver: Resolver = resolver or self._getaddrinfo
        self._thread = threading.Thread(target=self._run, name="hotconf-webhooks", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes: dict[str, _Lane] = {}
        self._draining = False
        self._drain = 0.0
        self._stopped = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._bodies: dict[int, asyncio.Future[str]] = {}

    # -- from other threads -------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; it resumes what the outbox holds.

        Raises:
            WebhookError: the loop could not start (the reason is logged).
        """
        self._thread.start()
        self._ready.wait()
        if self._loop is None:
            self._thread.join()
            raise WebhookError("the webhook dispatcher could not start; see the log")

    def wake(self, subscriber: str | None = None) -> None:
        """Look at the outbox now (``subscriber``: that lane, e.g. after a redelivery)."""
        self._call(self._wake, subscriber)

    def debounce(self, key: str, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the store thread ``delay`` seconds after the last call with ``key``."""
        self._call(self._debounce, key, delay, fn)

    def stop(self, drain: float) -> None:
        """Send what is due for up to ``drain`` seconds, then stop; the rest stays queued."""
        if self._stopped:
            return
        self._stopped = True
        self._call(self._begin_stop, max(drain, 0.0))
        self._thread.join(drain + STOP_GRACE + 10)
        if self._thread.is_alive():
            log.error("hotconf: the webhook dispatcher did not stop; leaving it behind")

    def _call(self, fn: Callable[..., object], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed since the check: nothing to wake
            loop.call_soon_threadsafe(fn, *args)

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(loop))
        except Exception:
            log.exception("hotconf: the webhook dispatcher failed")
        finally:
            self._loop = None
            self._ready.set()  # start() must not wait for a loop that died starting
            loop.close()

    async def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        self._db_pool = concurrent.futures.ThreadPoolExecutor(1, "hotconf-webhooks-store")
        dns_pool = concurrent.futures.ThreadPoolExecutor(4, "hotconf-webhooks-dns")
        loop.set_default_executor(dns_pool)  # loop.getaddrinfo (and anyio's) run there
        try:
            await self._serve(loop)
        finally:
            self._db_pool.shutdown(wait=True)
            dns_pool.shutdown(wait=False, cancel_futures=True)  # a hung lookup is left behind

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stop_event = asyncio.Event()
        self._scan_event = asyncio.Event()
        self._scan_event.set()  # resume what the outbox holds from before
        self._writes: asyncio.Queue[tuple[AttemptResult, asyncio.Future[None]] | None]
        self._writes = asyncio.Queue()
        self._ssl = await self._db(httpx.create_ssl_context)  # loads CA certificates once
        self._loop = loop
        self._ready.set()
        # The first request would import httpx's transport stack (httpcore, h11, anyio:
        # ~0.2-0.3 s): do it now, off the loop and off the store thread (on the DNS pool, the
        # loop's default executor), not between a commit and its first delivery.
        loop.run_in_executor(None, _warm_up)
        writer = asyncio.create_task(self._writer())
        scanner = asyncio.create_task(self._scanner())
        await self._stop_event.wait()
        # Drain: lanes send what is due now and end; at the deadline the rest is cancelled
        # (its rows are untouched: they go out after the next start).
        self._draining = True
        for lane in self._lanes.values():
            lane.wake.set()
        for timer in self._timers.values():
            timer.cancel()
        scanner.cancel()
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        late: set[asyncio.Task[None]] = set()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._drain)
        for task in late:
            task.cancel()
        # Cancelled tasks end at their next await; bound the wait all the same, so a task
        # stuck in third-party code cannot keep the process from stopping.
        _, stuck = await asyncio.wait([scanner, *late], timeout=STOP_GRACE)
        if stuck:
            log.error("hotconf: %d webhook tasks did not stop; leaving them", len(stuck))
        self._writes.put_nowait(None)  # record what the lanes finished, then end
        await writer

    def _begin_stop(self, drain: float) -> None:
        self._drain = drain
        self._stop_event.set()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_pool, fn, *args)

    def _wake(self, subscriber: str | None) -> None:
        if subscriber is not None and subscriber in self._lanes:
            self._lanes[subscriber].wake.set()
        self._scan_event.set()

    def _debounce(self, key: str, delay: float, fn: Callable[[], None]) -> None:
        if self._draining:
            return
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._in_store_thread, fn)

    def _in_store_thread(self, fn: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                fn()
            except Exception:
                log.exception("hotconf: error in a webhook background job")

        if not self._draining:
            asyncio.get_running_loop().run_in_executor(self._db_pool, guarded)

    async def _scanner(self) -> None:
        """Start a lane for every subscriber with work: on wake-ups, and every poll."""
        while not self._draining:
            if not await _wait(self._scan_event, self._poll_interval) and self._on_poll:
                self._in_store_thread(self._on_poll)
            self._scan_event.clear()
            try:
                busy = await self._db(self._outbox.subscribers_with_work)
            except Exception:
                log.exception("hotconf: cannot read the webhook outbox; trying again")
                await asyncio.sleep(BACKOFF_ON_ERROR)
                self._scan_event.set()
                continue
            for ident in busy:
                lane = self._lanes.get(ident)
                if lane is None:
                    lane = self._lanes[ident] = _Lane()
                    lane.task = asyncio.create_task(self._lane(ident, lane))
                else:  # it may be about to find its queue empty: make it look again
                    lane.wake.set()

    # -- one subscriber's lane ----------------------------------------------------------------

    async def _lane(self, ident: str, lane: _Lane) -> None:
        try:
            while True:
                lane.wake.clear()
                try:
                    rows = await self._db(self._outbox.queue, ident, BATCH)
                    if not rows and not lane.wake.is_set():
                        return  # no await since the check: a wake-up cannot slip in between
                    sent = await self._send_all(ident, lane, rows)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("hotconf: webhook lane %s failed; retrying", ident)
                    sent = False
                    if not self._draining:
                        await self._sleep(lane, BACKOFF_ON_ERROR)
                if self._draining and not sent:
                    return
        finally:
            if self._lanes.get(ident) is lane:
                del self._lanes[ident]
            if lane.transport is not None:
                await lane.transport.aclose()

    async def _send_all(self, ident: str, lane: _Lane, rows: list[Delivery]) -> bool:
        """Send rows in order until one must wait; True when an attempt was made."""
        sent = False
        for row in rows:
            status = self._lookup(ident)
            if status is None or status.disabled:
                why = "subscriber removed" if status is None else "subscriber disabled"
                await self._record(
                    AttemptResult(row.id, ident, None, self._clock(), 0.0, None, why, "dead")
                )
                continue
            due = row.next_attempt_at.timestamp() if row.next_attempt_at else 0.0
            wait = due - self._clock()
            if wait > 0:
                if not self._draining:
                    await self._sleep(lane, wait)
                return sent  # look again: a redelivery may have changed the head
            result = await self._attempt(lane, status.subscriber, row)
            sent = True
            await self._record(result)
            if result.status == "failed" or result.disable is not None:
                return sent  # the head waits for its retry; later events wait behind it
        return sent

    async def _sleep(self, lane: _Lane, seconds: float) -> None:
        await _wait(lane.wake, seconds)

    # -- one attempt --------------------------------------------------------------------------

    async def _attempt(self, lane: _Lane, sub: Subscriber, row: Delivery) -> AttemptResult:
        body = await self._body(row.event)
        at = self._clock()
        started = time.monotonic()
        number = row.attempts + 1
        code: int | None = None
        retry_at: float | None = None
        error: str | None = None
        final = False
        try:
            async with asyncio.timeout(self._total):
                code, retry_at = await self._post(lane, sub, row.webhook_id, body, at)
        except Refused as exc:
            error, final = str(exc), True
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            error, final = f"invalid url: {type(exc).__name__}", True
        except TimeoutError:
            error = f"timed out after {self._total:g} s (total_timeout)"
        except httpx.TimeoutException as exc:
            error = _TIMEOUTS.get(type(exc), "timed out")
        except socket.gaierror as exc:
            error = f"cannot resolve the host: {exc.strerror or exc}"
        except (httpx.HTTPError, OSError) as exc:
            error = f"{type(exc).__name__}: {_reason(exc)}"
        duration = time.monotonic() - started
        where = f"{sub.id} ({redact_url(sub.url)})"
        if code is not None and 200 <= code < 300:
            log.debug("hotconf: webhook %s delivered to %s", row.webhook_id, where)
            return AttemptResult(row.id, sub.id, number, at, duration, code, None, "delivered")
        if code is not None:
            error = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
        if code == 410:
            log.warning("hotconf: %s answered 410 Gone: subscriber disabled", where)
            self._on_disabled(sub.id, "410 Gone", at)
            return AttemptResult(
                row.id, sub.id, number, at, duration, code, error, "dead", disable="410 Gone"
            )
        if final or number >= self._retry.attempts:
            if not final:
                error = f"{error}; gave up after {number} attempts"
            log.error("hotconf: webhook %s to %s is dead: %s", row.webhook_id, where, error)
            return AttemptResult(row.id, sub.id, number, at, duration, code, error, "dead")
        # The schedule counts from the attempt; Retry-After from the answer (never earlier
        # than it asks), capped from the attempt.
        next_at = at + self._retry.delay(number, rng=self._rng)
        if retry_at is not None:
            next_at = max(next_at, min(retry_at, at + self._retry.max_retry_after))
        delay = next_at - at
        log.warning(
            "hotconf: webhook %s to %s failed (attempt %d of %d): %s; next in %.1f s",
            row.webhook_id,
            where,
            number,
            self._retry.attempts,
            error,
            delay,
        )
        return AttemptResult(row.id, sub.id, number, at, duration, code, error, "failed", next_at)

    async def _body(self, event: int) -> str:
        """An event's body, read once for all the lanes sending it (the fan-out reads it
        200 times at once; one copy, one query)."""
        future = self._bodies.get(event)
        if future is None:
            future = asyncio.ensure_future(self._db(self._outbox.event_body, event))
            self._bodies[event] = future
            while len(self._bodies) > BODY_CACHE:
                del self._bodies[next(iter(self._bodies))]
        try:
            return await asyncio.shield(future)  # a cancelled lane leaves it to the others
        except Exception:
            self._bodies.pop(event, None)
            raise

    async def _post(
        self, lane: _Lane, sub: Subscriber, webhook_id: str, body: str, at: float
    ) -> tuple[int, float | None]:
        url = httpx.URL(sub.url)
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(url.scheme)
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await check(url.host, port, self._resolver, allow_private=sub.allow_private)
        if lane.transport is None:
            lane.transport = httpx.AsyncHTTPTransport(
                verify=self._ssl, retries=0, limits=httpx.Limits(max_connections=1)
            )
        moment = datetime.fromtimestamp(at, UTC)
        headers = {
            "host": url.netloc.decode("ascii"),
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at)),
            "webhook-signature": standardwebhooks.Webhook(sub.secret).sign(
                webhook_id, moment, body
            ),
        }
        if url.userinfo:  # what a client would do; the bare transport does not
            basic = f"{url.username}:{url.password}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(basic).decode()
        # Connect to the addresses the guard checked, never to the name again (DNS
        # rebinding); TLS still verifies the certificate against the name (SNI).
        extensions: dict[str, Any] = {"timeout": self._timeout.as_dict()}
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        content = body.encode("utf-8")
        for i, address in enumerate(addresses):
            request = httpx.Request(
                "POST",
                url.copy_with(host=address, username=None, password=None),
                content=content,
                headers=headers,
                extensions=extensions,
            )
            try:
                response = await lane.transport.handle_async_request(request)
            except httpx.ConnectError:
                if i == len(addresses) - 1:
                    raise
                continue
            try:
                wait = retry_after(response.headers.get("retry-after"), self._clock())
                return response.status_code, wait
            finally:
                await response.aclose()  # the body is never read: a receiver cannot stall us
        raise AssertionError("unreachable: check() returns at least one address")

    async def _getaddrinfo(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise socket.gaierror(f"looking up {host} timed out") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    # -- recording ----------------------------------------------------------------------------

    async def _record(self, result: AttemptResult) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.put_nowait((result, done))
        await done

    async def _writer(self) -> None:
        """Commit attempt results; those that arrive during a commit share the next one."""
        stop = False
        while not stop:
            item = await self._writes.get()
            batch = []
            while item is not None:
                batch.append(item)
                if self._writes.empty():
                    break
                item = self._writes.get_nowait()
            stop = item is None
            if not batch:
                continue
            try:
                await self._db(self._outbox.record_attempts, [r for r, _ in batch])
            except Exception as exc:
                log.error("hotconf: cannot record webhook attempts: %s", exc)
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)


def _warm_up() -> None:
    """Import what the first delivery needs (httpx imports its transport stack lazily)."""
    try:
        import anyio._backends._asyncio  # noqa: F401
        import h11  # noqa: F401
        import httpcore._async.connection_pool
        import httpcore._backends.anyio  # noqa: F401

        "localhost".encode("idna")  # the idna codec: the first host name lookup loads it
    except Exception:  # a different httpx stack: the first delivery imports what it needs
        log.debug("hotconf: webhook warm-up skipped", exc_info=True)


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set (True) or ``seconds`` pass (False).

    Not `asyncio.wait_for`: on Python 3.11 it can swallow a cancellation that arrives as the
    event is set, and a task that ignores its cancellation keeps the loop from stopping.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


_TIMEOUTS: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connect timeout",
    httpx.ReadTimeout: "read timeout",
    httpx.WriteTimeout: "write timeout",
    httpx.PoolTimeout: "pool timeout",
}


def _reason(exc: BaseException) -> str:
    # httpx and OS messages name no URL; the chained OSError says the most ("Connection
    # refused"). Keep it short and one line.
    cause = exc.__cause__ or exc.__context__
    text = str(cause if isinstance(cause, OSError) and str(cause) else exc) or "no detail"
    return text.splitlines()[0][:200]
