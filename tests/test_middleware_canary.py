"""Canaries judged by the traffic the middleware serves, with no ``record()`` in the app: real
uvicorn and wsgiref servers on 127.0.0.1, a real etcd for the fleet. Each app fails (a 500, or
an exception) when the config it was served with says ``broken: true``; the tests send
requests, a bounded number, until the rollout is decided."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import hotconf
from hotconf import fleet
from hotconf.live.canary import Outcomes
from hotconf.middleware import CANARY_HEADER, PinMiddleware, PinWSGIMiddleware
from hotconf.sources.etcd import EtcdSource
from hotconf.testing import MemorySource

from .conftest import WAIT, wait_for
from .test_middleware import Uvicorn, Wsgiref

STABLE = {"greeting": "hello", "broken": False}
MAX_REQUESTS = 2000  # a bound: each test is decided long before


def starlette_app(live: hotconf.LiveConfig) -> Starlette:
    async def index(request: Request) -> PlainTextResponse:
        cfg = live.pinned
        if cfg["broken"]:
            return PlainTextResponse("broken", status_code=500)
        return PlainTextResponse(cfg["greeting"])

    return Starlette(routes=[Route("/", index)])


def until_decided(
    rollout: hotconf.Rollout, send: Callable[[], httpx.Response]
) -> list[httpx.Response]:
    """Send requests until the rollout is decided; the responses."""
    responses = []
    while rollout.state == "running":
        assert len(responses) < MAX_REQUESTS, f"undecided after {MAX_REQUESTS}: {rollout.status()}"
        responses.append(send())
    # the request that decided it may still be committing the promotion
    wait_for(lambda: rollout.state in ("promoted", "aborted"), what="the rollout decided")
    return responses


@pytest.fixture
def live() -> Iterator[hotconf.LiveConfig]:
    with hotconf.watch(MemorySource(STABLE), state_dir=None) as live:
        yield live


def test_a_healthy_canary_is_promoted_by_the_requests_it_serves(live: hotconf.LiveConfig) -> None:
    rollout = live.rollout({**STABLE, "greeting": "hi"}, fraction=0.5, min_samples=20)
    with Uvicorn(PinMiddleware(starlette_app(live), live)) as server, httpx.Client() as http:
        served = until_decided(rollout, lambda: http.get(server.url, timeout=WAIT))
        assert rollout.state == "promoted", rollout.reason
        assert {r.text for r in served} == {"hello", "hi"}  # both arms served
        canary, stable = rollout.outcomes()
        assert canary.total >= 20 and canary.failed == 0 and stable.ok > 0
        assert (live.version, live.current["greeting"]) == (2, "hi")
        assert http.get(server.url, timeout=WAIT).text == "hi"


def test_a_canary_that_fails_requests_is_aborted_and_the_stable_stays(
    live: hotconf.LiveConfig,
) -> None:
    rollout = live.rollout({**STABLE, "broken": True}, fraction=0.5, min_samples=20, budget=0.05)
    with Uvicorn(PinMiddleware(starlette_app(live), live)) as server, httpx.Client() as http:
        served = until_decided(rollout, lambda: http.get(server.url, timeout=WAIT))
        assert rollout.state == "aborted" and "over stable + budget" in (rollout.reason or "")
        assert 500 in {r.status_code for r in served} <= {200, 500}
        canary, stable = rollout.outcomes()  # it may be decided before any stable sample
        assert canary.failed > 0 and canary.ok == 0 and stable.failed == 0
        assert live.version == 1 and live.current["broken"] is False
        assert all(http.get(server.url, timeout=WAIT).status_code == 200 for _ in range(20))


def test_dyed_requests_get_the_canary_and_a_routing_key_keeps_its_arm(
    live: hotconf.LiveConfig,
) -> None:
    rollout = live.rollout({**STABLE, "greeting": "hi"}, fraction=0.5, min_samples=10_000)

    def user_of(scope: Any) -> str:
        return dict(scope["headers"]).get(b"x-user", b"").decode()

    app = PinMiddleware(starlette_app(live), live, routing_key=user_of, canary_header=True)
    with Uvicorn(app) as server, httpx.Client() as http:

        def get(**headers: str) -> str:
            return http.get(server.url, headers=headers, timeout=WAIT).text

        assert [get(**{CANARY_HEADER: "1"}) for _ in range(5)] == ["hi"] * 5
        arms = {user: get(**{"x-user": user}) for user in map(str, range(40))}
        assert set(arms.values()) == {"hello", "hi"}  # 40 users: both arms, at 50%
        for user, arm in arms.items():  # and each user keeps its own
            assert get(**{"x-user": user}) == arm
        expected = [rollout.snapshot_for(user)["greeting"] for user in arms]
        assert list(arms.values()) == expected
    canary, stable = rollout.outcomes()
    assert canary.ok == 5 + 2 * expected.count("hi") and stable.ok == 2 * expected.count("hello")


def test_the_canary_header_is_trusted_only_when_asked(live: hotconf.LiveConfig) -> None:
    rollout = live.rollout({**STABLE, "greeting": "hi"}, fraction=0.0, min_samples=10_000)
    dyed = {CANARY_HEADER: "1"}
    with Uvicorn(PinMiddleware(starlette_app(live), live)) as server, httpx.Client() as http:
        assert http.get(server.url, headers=dyed, timeout=WAIT).text == "hello"
    with Wsgiref(PinWSGIMiddleware(wsgi_app(live), live)) as server, httpx.Client() as http:
        assert http.get(server.url, headers=dyed, timeout=WAIT).text == "hello"
    with Wsgiref(PinWSGIMiddleware(wsgi_app(live), live, canary_header=True)) as server:
        assert httpx.get(server.url, headers=dyed, timeout=WAIT).text == "hi"
    canary, stable = rollout.outcomes()
    assert (canary.ok, stable.ok) == (1, 2)


class Spy:
    """A LiveConfig whose ``record`` notes whether it ran on an event loop."""

    def __init__(self, live: hotconf.LiveConfig) -> None:
        self._live = live
        self.on_loop: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._live, name)

    def record(self, config: Any, ok: bool) -> None:
        try:
            asyncio.get_running_loop()
            self.on_loop.append(True)
        except RuntimeError:
            self.on_loop.append(False)
        self._live.record(config, ok)


def test_during_a_rollout_outcomes_are_recorded_off_the_event_loop(
    live: hotconf.LiveConfig,
) -> None:
    spy = Spy(live)
    with Uvicorn(PinMiddleware(starlette_app(live), spy)) as server, httpx.Client() as http:
        http.get(server.url, timeout=WAIT)  # no rollout: recorded in place (a counter at most)
        rollout = live.rollout({**STABLE, "greeting": "hi"}, fraction=0.5, min_samples=5)
        until_decided(rollout, lambda: http.get(server.url, timeout=WAIT))
    assert rollout.state == "promoted"
    assert spy.on_loop[0] is True and not any(spy.on_loop[1:]) and len(spy.on_loop) > 5


def test_records_racing_reloads_of_a_typed_config_never_fail() -> None:
    source = MemorySource(STABLE)
    errors: list[BaseException] = []
    with hotconf.watch(source, model=Typed, state_dir=None) as live:
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                try:
                    live.record(live.current, True)
                except BaseException as exc:
                    errors.append(exc)
                    return

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        # bounded in count and in time (busy readers slow reloads down on a loaded machine)
        stop_at = time.monotonic() + 5
        try:
            for i in range(1500):
                source.set({**STABLE, "greeting": f"g{i}"})
                if time.monotonic() > stop_at:
                    break
        finally:
            done.set()
            for t in readers:
                t.join(WAIT)
    assert errors == []


class RecordingSource(MemorySource):
    """A source that takes outcomes per served version, as an `EtcdSource` does."""

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.outcomes: list[tuple[int, bool]] = []

    def record(self, ok: bool, served: Any = None) -> None:
        self.outcomes.append((served.version, ok))


def test_a_candidates_outcome_never_counts_for_a_version_of_the_source() -> None:
    source = RecordingSource(STABLE)
    with hotconf.watch(source, state_dir=None) as live:
        rollout = live.rollout({**STABLE, "greeting": "hi"}, fraction=1.0, min_samples=100)
        canary = live.config_for("key")
        live.record(canary, False)  # during the rollout: its canary arm
        rollout.abort("testing")
        live.record(canary, False)  # a request served by it that ends after the abort
        live.record(live.current, True)
    assert source.outcomes == [(1, True)]
    assert rollout.outcomes()[0].failed == 1


def test_without_a_rollout_or_with_record_off_nothing_is_counted(
    live: hotconf.LiveConfig,
) -> None:
    app = PinMiddleware(starlette_app(live), live, record=False)
    with Uvicorn(app) as server, httpx.Client() as http:
        assert http.get(server.url, timeout=WAIT).text == "hello"  # no rollout: no error
        rollout = live.rollout({**STABLE, "greeting": "hi"}, fraction=1.0, min_samples=1)
        assert http.get(server.url, timeout=WAIT).text == "hi"
        assert rollout.state == "running" and rollout.outcomes()[0].total == 0
        rollout.record(True, canary=True)  # the app records itself when record=False
        assert rollout.state == "promoted"


def test_a_shadow_rollout_serves_the_stable_config_and_counts_no_outcomes(
    live: hotconf.LiveConfig, caplog: pytest.LogCaptureFixture
) -> None:
    shadow = live.rollout({**STABLE, "greeting": "hi"}, mode="shadow", min_samples=5)
    with Uvicorn(PinMiddleware(starlette_app(live), live)) as server, httpx.Client() as http:
        for _ in range(10):
            response = http.get(server.url, headers={CANARY_HEADER: "1"}, timeout=WAIT)
            assert response.text == "hello"
    assert shadow.state == "running" and shadow.outcomes()[0].total == 0
    assert "recording" not in caplog.text


# -- typed configs -------------------------------------------------------------------------


class Typed(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)
    greeting: str
    broken: bool = False


def test_a_typed_config_pins_the_canarys_instance_and_records_its_arm() -> None:
    with hotconf.watch(MemorySource(STABLE), model=Typed, state_dir=None) as live:
        seen: list[Any] = []

        async def index(request: Request) -> PlainTextResponse:
            cfg = live.pinned
            seen.append(cfg)
            return PlainTextResponse(cfg.greeting, status_code=500 if cfg.broken else 200)

        app = PinMiddleware(Starlette(routes=[Route("/", index)]), live, canary_header=True)
        rollout = live.rollout({**STABLE, "broken": True}, fraction=0.0, min_samples=3)
        with Uvicorn(app) as server, httpx.Client() as http:
            assert http.get(server.url, timeout=WAIT).status_code == 200  # stable arm
            # recorded off the event loop, once the response is out
            wait_for(lambda: rollout.outcomes() == (Outcomes(), Outcomes(1, 0)), what="one")
            dyed = {CANARY_HEADER: "1"}
            assert http.get(server.url, headers=dyed, timeout=WAIT).status_code == 500
        assert all(isinstance(cfg, Typed) for cfg in seen)
        assert seen[0] is not seen[1] and seen[1].broken
        assert rollout.state == "aborted" and live.current.broken is False


# -- WSGI ----------------------------------------------------------------------------------


def wsgi_app(live: hotconf.LiveConfig) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        cfg = live.pinned
        if cfg["broken"]:
            raise RuntimeError("the canary's config breaks this handler")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [cfg["greeting"].encode()]

    return app


def test_wsgi_a_canary_whose_handler_raises_is_aborted(live: hotconf.LiveConfig) -> None:
    rollout = live.rollout({**STABLE, "broken": True}, fraction=0.3, min_samples=20, budget=0.05)
    with Wsgiref(PinWSGIMiddleware(wsgi_app(live), live)) as server, httpx.Client() as http:
        served = until_decided(rollout, lambda: http.get(server.url, timeout=WAIT))
        assert rollout.state == "aborted" and "over stable + budget" in (rollout.reason or "")
        assert 500 in {r.status_code for r in served} <= {200, 500}
        canary, stable = rollout.outcomes()
        assert canary.failed > 0 and canary.ok == 0 and stable.failed == 0
        assert http.get(server.url, timeout=WAIT).text == "hello" and live.version == 1


def test_wsgi_a_healthy_canary_is_promoted(live: hotconf.LiveConfig) -> None:
    rollout = live.rollout({**STABLE, "greeting": "hi"}, fraction=0.3, min_samples=15)
    with Wsgiref(PinWSGIMiddleware(wsgi_app(live), live)) as server, httpx.Client() as http:
        served = until_decided(rollout, lambda: http.get(server.url, timeout=WAIT))
        assert rollout.state == "promoted" and {r.text for r in served} == {"hello", "hi"}
        assert http.get(server.url, timeout=WAIT).text == "hi" and live.version == 2


# -- fleet canaries ------------------------------------------------------------------------

FAST = {"report_interval": 0.1, "lease_ttl": 3, "backoff": (0.05, 0.5)}
FLEET_STABLE = "greeting: hello\nbroken: false\n"


def publish(url: str, text: str, **options: Any) -> fleet.PublishResult:
    return fleet.publish(url, "app", text.encode(), **options)


class Traffic:
    """Requests to each instance's app from a thread until stopped (bounded)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-traffic", daemon=True)

    def _run(self) -> None:
        with httpx.Client() as http:
            while not self._stop.is_set() and self.sent < 20 * MAX_REQUESTS:
                for url in self.urls:
                    http.get(url, timeout=WAIT)
                    self.sent += 1

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(WAIT)


@pytest.mark.parametrize("broken", [True, False], ids=["aborted", "promoted"])
def test_a_fleet_canary_is_judged_on_what_the_middleware_records(
    etcd: Any, tmp_path: Path, broken: bool
) -> None:
    publish(etcd.url, FLEET_STABLE)
    with (
        hotconf.watch(
            EtcdSource(etcd.url, name="app", instance="a", **FAST),  # type: ignore[arg-type]
            state_dir=tmp_path / "a",
        ) as a,
        hotconf.watch(
            EtcdSource(etcd.url, name="app", instance="b", **FAST),  # type: ignore[arg-type]
            state_dir=tmp_path / "b",
        ) as b,
        Uvicorn(PinMiddleware(starlette_app(a), a)) as app_a,
        Uvicorn(PinMiddleware(starlette_app(b), b)) as app_b,
        fleet.Fleet(etcd.url, "app") as f,
    ):
        wait_for(lambda: len(f.instances()) == 2, what="two instances reporting")
        with Traffic([app_a.url, app_b.url]) as traffic:
            candidate = f"greeting: hi\nbroken: {'true' if broken else 'false'}\n"
            started = publish(etcd.url, candidate, canary="instance=a", min_samples=30)
            assert started.status == "canary" and started.instances == ("a",)
            final = f.watch_rollout(poll=0.1, timeout=60)
        assert traffic.sent > 30
        if broken:
            assert final["state"] == "aborted" and "over stable + budget" in final["reason"]
            wait_for(lambda: a.version == 1, what="a back on the stable v1")
        else:
            assert final["state"] == "promoted", final
            wait_for(lambda: a.version == b.version == 2, what="v2 on both")
        # each outcome counted for the fleet version that served it
        reports = {i.id: i.outcomes for i in f.instances()}
        canary = reports["a"][2]
        assert (canary.failed > 0 and canary.ok == 0) if broken else canary.failed == 0
        assert reports["b"][1].ok > 0 and reports["b"][1].failed == 0
