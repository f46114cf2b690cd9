"""The HTTP service: a Starlette app over one `LiveConfig` (uvicorn runs it:
`hotconf.service.server`).

``hotconf serve`` is `serve` on a `Service`. The app binds first and opens the config in the
background, so probes answer from the first moment (readiness ``starting`` → ``warming`` →
``ready``, see `hotconf.service.readiness`). Endpoints (``hotconf/service/openapi.yaml`` is
the contract, served at ``/openapi.json``; docs/service.md the guide):

- reads: ``GET /v1/config`` (ETag, ``?version=``, long-poll ``?after=&wait=``),
  ``/v1/config/{key}``, ``/v1/versions``, ``/v1/versions/{n}``, ``/v1/diff``,
  ``/v1/rejections``; secret values only for a caller with a token;
- the pipeline: ``POST /v1/validate`` (dry run), ``/v1/reload``, ``/v1/rollback``, behind
  the admin token;
- canaries: ``/v1/rollouts`` (in process, and the fleet's with an `EtcdSource`);
- webhooks: ``/v1/subscriptions`` (list, add, remove), ``/v1/deliveries`` (the outbox, and
  redelivery);
- events: ``/v1/events``, server-sent events of versions, rejections and rollouts;
- people: the console at ``/`` and ``/console/...`` (`hotconf.service.console`), the API
  description at ``/docs``;
- operations: ``/healthz``, ``/readyz``, ``/metrics``.

On SIGTERM or SIGINT readiness turns false at once and waiting long-polls and event streams
are released; then uvicorn stops taking connections and finishes the requests in flight, and
the LiveConfig is closed (stop watching, finish the reload in flight, drain webhook
deliveries, close the store), each step bounded by the shutdown timeout; the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import HotconfError, Problem, StoreError
from ..events import ChangeEvent, Event, Rejection, RolloutEvent
from ..live.config import LiveConfig
from ..live.subscriptions import Subscription
from .admin_api import AdminApi
from .config_api import ConfigApi, rejection_dict
from .console import Console
from .events_api import EventFeed, EventsApi
from .http import ApiError, Auth, api_error_handler, http_error_handler, json_response
from .metrics import ServiceMetrics
from .openapi import openapi_json
from .readiness import Readiness, VersionFeed
from .rollouts_api import RolloutsApi
from .server import Server as Server
from .server import bind as bind
from .server import check_bind as check_bind
from .server import is_loopback as is_loopback
from .server import serve as serve
from .webhooks_api import WebhooksApi

log = logging.getLogger("hotconf")

T = TypeVar("T")

Opener = Callable[..., LiveConfig[Any]]
"""Opens the LiveConfig, called as ``opener(on_result=hook)``: ``hotconf.watch`` with its
source and schema bound (``functools.partial(hotconf.watch, "config.yaml", schema=...)``)."""


class Service:
    """The HTTP face of one LiveConfig: its app, readiness, metrics and long-poll feed.

    Args:
        live: an `Opener` (the service opens the LiveConfig in the background once the app
            starts, counts every pipeline run in its metrics, and closes it at shutdown), or
            an open `LiveConfig` (yours to close; its metrics then count applied and
            rejected candidates only, from its events).
        token: the admin bearer token: reload, rollback, and secret values in config reads.
            Without it, mutating endpoints are open: bind loopback only (`serve` enforces it).
        read_token: a bearer token that reads secret values and validates, and nothing more.
        max_wait: the longest ``wait=`` a long-poll may ask for, in seconds.
        shutdown_timeout: how long shutdown may wait for the reload in flight and the close.
        registry: the Prometheus registry (default: a new one for this app).

    Attributes:
        app: the Starlette application (``app.state.service`` is this object).
        readiness: the readiness state machine.
        metrics: the Prometheus metrics (``metrics.registry``).
        failure: why start-up failed, if it did.
        on_failure: called with that error (`serve` stops the server with it).
        on_ready: called once ready, in the event loop (`serve` freezes the heap).
    """

    def __init__(
        self,
        live: LiveConfig[Any] | Opener,
        *,
        token: str | None = None,
        read_token: str | None = None,
        max_wait: float = 120.0,
        shutdown_timeout: float = 10.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._given = live if isinstance(live, LiveConfig) else None
        self._opener = None if isinstance(live, LiveConfig) else live
        self._live: LiveConfig | None = None
        self._subs: list[Subscription] = []
        self._deadline: float | None = None
        self._lock = threading.Lock()
        self.auth = Auth(token, read_token)
        self.max_wait = max_wait
        self.shutdown_timeout = shutdown_timeout
        self.readiness = Readiness(
            lambda: (
                self._live is not None
                and (self._live.degraded or self._live.store_problem is not None)
            )
        )
        self.feed = VersionFeed(lambda: self._live.version if self._live is not None else 0)
        self.events = EventFeed()
        self.rejected_at: datetime | None = None
        """When the newest rejection was recorded (the store's, then each one as it comes)."""
        self.metrics = ServiceMetrics(lambda: self._live, self.readiness, self.feed, registry)
        self.failure: BaseException | None = None
        self._failed: Rejection | None = None  # the failed start-up, as /readyz shows it
        self.on_failure: Callable[[BaseException], object] | None = None
        self.on_ready: Callable[[], object] | None = None
        reads, admin, hooks = ConfigApi(self), AdminApi(self), WebhooksApi(self)
        rollouts, events = RolloutsApi(self), EventsApi(self)
        self.console = Console(self)
        routes = [
            Route("/v1/config", reads.config, methods=["GET"]),
            Route("/v1/config/{key:path}", reads.config_key, methods=["GET"]),
            Route("/v1/versions", reads.versions, methods=["GET"]),
            Route("/v1/versions/{n}", reads.version, methods=["GET"]),
            Route("/v1/diff", reads.diff, methods=["GET"]),
            Route("/v1/rejections", reads.rejections, methods=["GET"]),
            Route("/v1/rollouts", rollouts.rollouts, methods=["GET"]),
            Route("/v1/rollouts/promote", rollouts.promote, methods=["POST"]),
            Route("/v1/rollouts/abort", rollouts.abort, methods=["POST"]),
            Route("/v1/validate", admin.validate, methods=["POST"]),
            Route("/v1/reload", admin.reload, methods=["POST"]),
            Route("/v1/rollback", admin.rollback, methods=["POST"]),
            Route("/v1/subscriptions", hooks.subscriptions, methods=["GET"]),
            Route("/v1/subscriptions", hooks.subscribe, methods=["POST"]),
            Route("/v1/subscriptions/{id}", hooks.unsubscribe, methods=["DELETE"]),
            Route("/v1/deliveries", hooks.deliveries, methods=["GET"]),
            Route("/v1/deliveries/{id}/redeliver", hooks.redeliver, methods=["POST"]),
            Route("/v1/events", events.events, methods=["GET"]),
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/readyz", self._readyz, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
            *self.console.routes(),
        ]
        self.app = Starlette(
            routes=routes,
            lifespan=self._lifespan,
            exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler},
        )
        self.app.state.service = self

    # -- the LiveConfig, as endpoints see it ---------------------------------------------

    @property
    def live(self) -> LiveConfig:
        """The LiveConfig, once ready (also while shutting down, for requests in flight).

        Raises:
            ApiError: 503 while starting, warming, or after a failed start.
        """
        live = self._live
        if live is None or not (self.readiness.ready or self.readiness.shutting_down):
            raise self.not_ready()
        return live

    def live_if_ready(self) -> LiveConfig | None:
        """The LiveConfig while ready (or degraded), else ``None``: for pages that show the
        readiness whatever it is."""
        return self._live if self.readiness.ready else None

    def live_for_change(self) -> LiveConfig:
        """The LiveConfig for a reload or rollback: 503 once shutting down, too."""
        if self.readiness.shutting_down:
            raise self.not_ready()
        return self.live

    def not_ready(self) -> ApiError:
        """The 503 problem for the current state."""
        state = self.readiness.state
        detail = {
            "starting": "the config is being loaded and validated",
            "warming": "the config is loaded; the service is getting ready",
            "failed": f"start-up failed: {self.failure}",
            "shutting_down": "the service is shutting down",
        }.get(state, "not ready")
        return ApiError(
            503, "not-ready", "Not ready", detail, headers={"Retry-After": "1"}, state=state
        )

    # -- life ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.feed.bind(asyncio.get_running_loop())
        self.events.bind(asyncio.get_running_loop())
        warm_up = asyncio.create_task(self._warm_up())
        try:
            yield
        finally:
            self.begin_shutdown()
            await self._close(warm_up)

    async def _warm_up(self) -> None:
        live = self._given
        try:
            if live is None:
                assert self._opener is not None
                opener = self._opener
                live = await _in_thread(
                    lambda: opener(on_result=self.metrics.observe), "hotconf-open"
                )
            if not self.readiness.advance("warming"):  # a signal came while opening
                await self._close_ours(live)
                return
            self._live = live
            # subscribe before "ready": a long-poll can then never miss the bump it waits for
            self._subs.append(live.subscribe(self._on_event, rejections=True))
            self._subs.append(live.on_rollout(self._on_rollout))
            newest = await run_in_threadpool(live.rejections, 1)
            if newest:
                self._saw_rejection(newest[0].at)
            if not live.degraded:
                self.metrics.last_success.set(time.time())
            if self.readiness.advance("ready"):
                self._publish_state()
                if self.on_ready is not None:
                    self.on_ready()
        except Exception as exc:
            self.failure = exc
            self._failed = _start_up_rejection(exc)
            self.readiness.advance("failed")
            self._publish_state()
            log.error("hotconf: cannot serve: %s", exc)
            if live is not None and self._live is None:  # opened, then failed to wire up
                await self._close_ours(live)
            if self.on_failure is not None:
                self.on_failure(exc)

    async def _close_ours(self, live: LiveConfig) -> None:
        if self._given is None:
            await _in_thread(live.close, "hotconf-close")

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChangeEvent):
            self.feed.publish()
            self.events.publish(
                "version",
                {
                    "version": event.version,
                    "type": event.type,
                    "level": event.level,
                    "changes": event.report.counts["total"],
                },
            )
        else:
            self._saw_rejection(event.at)
            at, count = event.at.isoformat(), len(event.problems)
            self.events.publish("rejection", {"at": at, "source": event.source, "problems": count})
        if self._given is not None:  # no on_result hook on a LiveConfig we did not open
            rejected = isinstance(event, Rejection)
            self.metrics.reloads.labels("rejected" if rejected else "applied").inc()
            if rejected:
                self.metrics.rejections.inc()

    def _saw_rejection(self, at: datetime) -> None:
        with self._lock:  # the reload worker and the warm-up may both get here
            if self.rejected_at is None or at > self.rejected_at:
                self.rejected_at = at

    def _on_rollout(self, event: RolloutEvent) -> None:
        self.events.publish("rollout", {"id": event.rollout, "type": event.type})

    def _publish_state(self) -> None:
        live = self._live
        version = live.version if live is not None else None
        self.events.publish("state", {"state": self.readiness.state, "version": version})

    def begin_shutdown(self) -> None:
        """Turn readiness false now and release every waiting long-poll and event stream
        (any thread).

        The app's lifespan then closes the LiveConfig when the server has stopped.
        """
        if self.readiness.advance("shutting_down"):
            self._deadline = time.monotonic() + self.shutdown_timeout
        self.feed.close()
        self.events.close()

    async def _close(self, warm_up: asyncio.Task[None]) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(warm_up), self._left())
        except TimeoutError:
            log.error("hotconf: start-up did not finish within the shutdown timeout")
            return
        for sub in self._subs:
            sub.close()
        live = self._live
        if live is None or self._given is not None:
            return  # never opened, or not ours to close
        left = self._left()
        close = functools.partial(live.close, drain=left)  # webhooks in flight get the rest
        try:
            await asyncio.wait_for(_in_thread(close, "hotconf-close"), left + 1.0)
        except TimeoutError:
            log.error(
                "hotconf: the reload in flight did not finish within %.1fs; exiting anyway",
                self.shutdown_timeout,
            )
        else:
            log.info("hotconf: %s closed", live.name)

    def _left(self) -> float:
        if self._deadline is None:
            return self.shutdown_timeout
        return max(0.1, self._deadline - time.monotonic())

    # -- operations endpoints ------------------------------------------------------------

    async def _healthz(self, request: Request) -> Response:
        """``GET /healthz``: the watcher runs and the store takes writes (200), else 503."""
        live = self._live
        if live is not None:
            found = await run_in_threadpool(live.health)
            checks = {
                name: {"status": "fail" if problem else "pass", "detail": problem}
                for name, problem in found.items()
            }
        elif self.failure is not None:
            checks = {
                name: {"status": "fail", "detail": f"start-up failed: {self.failure}"}
                for name in ("watcher", "store")
            }
        else:
            checks = {
                name: {"status": "pending", "detail": "the config is being opened"}
                for name in ("watcher", "store")
            }
        failed = any(c["status"] == "fail" for c in checks.values())
        body = {"status": "fail" if failed else "pass", "checks": checks}
        return json_response(body, 503 if failed else 200)

    async def _readyz(self, request: Request) -> Response:
        """``GET /readyz``: 200 when ready (or degraded), 503 otherwise; the body says why
        (``degraded`` with ``store_problem`` when the last commit failed: a full disk)."""
        live = self._live
        ready = self.readiness.ready and live is not None
        rejection = live.last_rejection if live is not None else self._failed
        body = {
            "ready": ready,
            "state": self.readiness.state,
            "version": live.version if live is not None else None,
            "degraded": live.degraded if live is not None else False,
            "last_rejection": (
                rejection_dict(rejection, self._sees_secrets(request))
                if rejection is not None
                else None
            ),
            "store_problem": live.store_problem if live is not None else None,
        }
        return json_response(body, 200 if ready else 503)

    def _sees_secrets(self, request: Request) -> bool:
        """`Auth.sees_secrets`, but a probe with a token that is not valid is only anonymous:
        readiness answers whoever asks."""
        try:
            return self.auth.sees_secrets(request)
        except ApiError:
            return False

    async def _metrics(self, request: Request) -> Response:
        """``GET /metrics``: Prometheus text exposition."""
        # in a worker thread: the webhook gauges read the store
        text = await run_in_threadpool(generate_latest, self.metrics.registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)


def create_app(
    live: LiveConfig[Any] | Opener,
    *,
    token: str | None = None,
    read_token: str | None = None,
    max_wait: float = 120.0,
    shutdown_timeout: float = 10.0,
    registry: CollectorRegistry | None = None,
) -> Starlette:
    """The HTTP API of a live config, as an ASGI app (run it with uvicorn, or mount it).

    Args:
        live: an opener such as ``functools.partial(hotconf.watch, "config.yaml",
            schema="config.schema.json")``, called as ``opener(on_result=...)`` when the app
            starts and closed when it stops; or an open `LiveConfig` that you close.
        token: the admin bearer token (reload, rollback, secret values). Without one,
            mutating endpoints are open to whoever reaches the app.
        read_token: a bearer token for secret values and validation only.
        max_wait: the longest long-poll ``wait=``, in seconds.
        shutdown_timeout: the bound on closing the LiveConfig at shutdown, in seconds.
        registry: the Prometheus registry for the app's metrics (default: its own).

    Returns:
        A Starlette app; ``app.state.service`` is its `Service`.

    Example:
        >>> app = hotconf.create_app(
        ...     functools.partial(hotconf.watch, "config.yaml", schema="config.schema.json")
        ... )  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8750)  # doctest: +SKIP
    """
    return Service(
        live,
        token=token,
        read_token=read_token,
        max_wait=max_wait,
        shutdown_timeout=shutdown_timeout,
        registry=registry,
    ).app


def _start_up_rejection(exc: BaseException) -> Rejection:
    """Why start-up failed, as a `Rejection` (``NoValidConfigError``: the source's problems
    and the last-known-good's)."""
    if isinstance(exc, HotconfError):
        code = "store" if isinstance(exc, StoreError) else "source"
        problems = exc.problems or (Problem(exc.message, code=code),)
    else:
        problems = (Problem(f"internal error: {type(exc).__name__}", code="internal"),)
    source = next((p.source for p in problems if p.source), "start-up")
    return Rejection(datetime.now(UTC), source, problems)


async def _in_thread(fn: Callable[[], T], name: str) -> T:
    """Run ``fn`` in a daemon thread of its own and await it.

    Not the default executor: opening and closing may block for long (a hung file system),
    and the event loop must still be able to give up on them at shutdown and exit.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def target() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await done
