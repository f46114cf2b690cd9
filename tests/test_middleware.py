"""One version per request, on real servers: uvicorn on 127.0.0.1 for Starlette and FastAPI,
wsgiref's simple_server for WSGI. Each handler reads the config, tells the test, waits while
the test commits a new version, and reads again: every read in the request sees one version.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

import hotconf
from hotconf.middleware import PinMiddleware, PinWSGIMiddleware, pinned_config
from hotconf.testing import MemorySource

from .conftest import WAIT, wait_for


class Swap:
    """The handshake: the handler says it has read (``reading``), the test commits a new
    version and says so (``swapped``)."""

    def __init__(self, source: MemorySource) -> None:
        self.source = source
        self.reading = threading.Event()
        self.swapped = threading.Event()

    def during(self, request: Callable[[], httpx.Response], pool: int) -> httpx.Response:
        """Send ``request`` from a thread; commit pool_size=``pool`` once the handler read."""
        out: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: out.append(request()))
        thread.start()
        assert self.reading.wait(WAIT), "the handler never read"
        self.source.set({"db": {"pool_size": pool}})
        self.swapped.set()
        thread.join(WAIT)
        assert out, "no response"
        self.reading.clear()
        self.swapped.clear()
        return out[0]

    def wait(self) -> None:
        """In the handler: say it has read, wait for the new version."""
        self.reading.set()
        assert self.swapped.wait(WAIT), "the test never swapped"


@pytest.fixture
def live() -> Iterator[tuple[hotconf.LiveConfig, Swap]]:
    source = MemorySource({"db": {"pool_size": 1}})
    with hotconf.watch(source, state_dir=None) as live:
        yield live, Swap(source)


class Uvicorn:
    """An ASGI app served by uvicorn in a thread on 127.0.0.1 and a free port."""

    def __init__(self, app: Any) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="test-uvicorn", daemon=True
        )

    def __enter__(self) -> Uvicorn:
        self._thread.start()
        wait_for(lambda: self.server.started, what="uvicorn started")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the server did not stop"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=WAIT)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Wsgiref:
    """A WSGI app served by wsgiref's simple_server in a thread on 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="test-wsgiref")

    def __enter__(self) -> Wsgiref:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self._thread.join(WAIT)
        self.server.server_close()

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=WAIT)


def starlette_app(live: hotconf.LiveConfig, swap: Swap, **options: Any) -> Starlette:
    async def pinned_async(request: Request) -> JSONResponse:
        first = live.pinned.version
        await _to_thread(swap.wait)
        return JSONResponse({"reads": [first, live.pinned.version], "current": live.version})

    def pinned_sync(request: Request) -> JSONResponse:  # Starlette runs it in a thread
        first = live.pinned["db"]["pool_size"]
        swap.wait()
        return JSONResponse({"reads": [first, live.pinned["db"]["pool_size"]]})

    async def current(request: Request) -> JSONResponse:  # the torn read the pin prevents
        first = live.current.version
        await _to_thread(swap.wait)
        return JSONResponse({"reads": [first, live.current.version]})

    async def streamed(request: Request) -> StreamingResponse:
        async def body() -> Any:
            yield f"{live.pinned.version},"
            await _to_thread(swap.wait)
            yield f"{live.pinned.version}"

        return StreamingResponse(body())

    async def fail(request: Request) -> PlainTextResponse:
        return PlainTextResponse("no", status_code=503)

    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("handler failed")

    app = Starlette(
        routes=[
            Route("/async", pinned_async),
            Route("/sync", pinned_sync),
            Route("/current", current),
            Route("/stream", streamed),
            Route("/fail", fail),
            Route("/boom", boom),
        ]
    )
    app.add_middleware(PinMiddleware, live=live, **options)
    return app


async def _to_thread(fn: Callable[[], object]) -> None:
    import anyio.to_thread

    await anyio.to_thread.run_sync(fn)


def test_starlette_requests_read_one_version_across_a_swap(
    live: tuple[hotconf.LiveConfig, Swap],
) -> None:
    config, swap = live
    with Uvicorn(starlette_app(config, swap)) as server:
        r = swap.during(lambda: server.get("/async"), pool=2)
        assert r.json() == {"reads": [1, 1], "current": 2}
        r = swap.during(lambda: server.get("/sync"), pool=3)
        assert r.json() == {"reads": [2, 2]}  # pool_size of v2, twice
        r = swap.during(lambda: server.get("/stream"), pool=4)
        assert r.text == "3,3"
        r = swap.during(lambda: server.get("/current"), pool=5)
        assert r.json() == {"reads": [4, 5]}  # live.current moves on mid-request
    assert config.pinned is config.current


def test_the_hook_sees_each_outcome_with_the_config_that_served_it(
    live: tuple[hotconf.LiveConfig, Swap],
) -> None:
    config, swap = live
    outcomes: list[tuple[int, bool]] = []
    app = starlette_app(
        config, swap, on_response=lambda cfg, ok: outcomes.append((cfg.version, ok))
    )
    with Uvicorn(app) as server:
        assert swap.during(lambda: server.get("/async"), pool=2).status_code == 200
        assert server.get("/fail").status_code == 503
        assert server.get("/boom").status_code == 500
        assert server.get("/missing").status_code == 404
    assert outcomes == [(1, True), (2, False), (2, False), (2, True)]


def test_select_chooses_what_is_pinned(live: tuple[hotconf.LiveConfig, Swap]) -> None:
    config, swap = live
    first = config.current
    swap.source.set({"db": {"pool_size": 9}})
    app = starlette_app(config, swap, select=lambda scope: first)
    with Uvicorn(app) as server:
        r = swap.during(lambda: server.get("/async"), pool=10)
    assert r.json() == {"reads": [1, 1], "current": 3}


def test_an_on_response_that_raises_does_not_break_the_response(
    live: tuple[hotconf.LiveConfig, Swap], caplog: pytest.LogCaptureFixture
) -> None:
    config, swap = live

    def broken(cfg: Any, ok: bool) -> None:
        raise ValueError("recorder down")

    with Uvicorn(starlette_app(config, swap, on_response=broken)) as server:
        assert server.get("/fail").status_code == 503
    assert "on_response raised" in caplog.text


def test_fastapi_middleware_and_dependency(live: tuple[hotconf.LiveConfig, Swap]) -> None:
    fastapi = pytest.importorskip("fastapi")  # the test extra pins it
    config, swap = live
    app = fastapi.FastAPI()
    app.add_middleware(PinMiddleware, live=config)
    Config = fastapi.Depends(pinned_config(config))

    def helper() -> int:  # code deep in the request reads live.pinned
        return int(config.pinned.version)

    @app.get("/async")
    async def read_async(cfg: Any = Config) -> dict[str, Any]:
        await _to_thread(swap.wait)
        return {"cfg": cfg.version, "deep": helper(), "current": config.version}

    @app.get("/sync")
    def read_sync(cfg: Any = Config) -> dict[str, Any]:
        swap.wait()
        return {"cfg": cfg["db"]["pool_size"], "deep": config.pinned["db"]["pool_size"]}

    with Uvicorn(app) as server:
        r = swap.during(lambda: server.get("/async"), pool=2)
        assert r.json() == {"cfg": 1, "deep": 1, "current": 2}
        r = swap.during(lambda: server.get("/sync"), pool=3)
        assert r.json() == {"cfg": 2, "deep": 2}


def test_the_fastapi_dependency_alone_gives_one_config_per_request(
    live: tuple[hotconf.LiveConfig, Swap],
) -> None:
    fastapi = pytest.importorskip("fastapi")
    config, swap = live
    app = fastapi.FastAPI()
    Config = fastapi.Depends(pinned_config(config))

    async def pool(cfg: Any = Config) -> int:  # a dependency of the handler asks for it too
        return int(cfg["db"]["pool_size"])

    @app.get("/")
    async def read(cfg: Any = Config, size: int = fastapi.Depends(pool)) -> dict[str, Any]:
        await _to_thread(swap.wait)
        return {"cfg": cfg.version, "size": size, "current": config.version}

    with Uvicorn(app) as server:
        assert swap.during(lambda: server.get("/"), pool=2).json() == {
            "cfg": 1,
            "size": 1,
            "current": 2,
        }


def wsgi_app(live: hotconf.LiveConfig, swap: Swap) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ["PATH_INFO"]
        if path == "/boom":
            raise RuntimeError("handler failed")
        first = live.pinned.version
        if path == "/fail":
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"no"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        if path == "/current":
            swap.wait()
            return [f"{first},{live.current.version}".encode()]

        def body() -> Iterator[bytes]:  # read again while the server iterates the body
            yield f"{first},".encode()
            swap.wait()
            yield f"{live.pinned.version}".encode()

        return body()

    return app


def test_wsgi_requests_read_one_version_across_a_swap(
    live: tuple[hotconf.LiveConfig, Swap],
) -> None:
    config, swap = live
    outcomes: list[tuple[int, bool]] = []
    app = PinWSGIMiddleware(
        wsgi_app(config, swap),
        config,
        on_response=lambda cfg, ok: outcomes.append((cfg.version, ok)),
    )
    with Wsgiref(app) as server:
        assert swap.during(lambda: server.get("/"), pool=2).text == "1,1"
        assert swap.during(lambda: server.get("/current"), pool=3).text == "2,3"
        assert server.get("/fail").status_code == 500
        assert server.get("/boom").status_code == 500
    assert outcomes == [(1, True), (2, True), (3, False), (3, False)]
    assert config.pinned is config.current  # the server thread's context was never changed
