"""The HTTP service: GET /v1/config and the console page vs a bare Starlette handler, and
long-poll release.

1. Requests per second of ``GET /v1/config`` (keep-alive, anonymous: the redacted body) on
   loopback, against a bare Starlette app with one route that returns the same bytes, both
   served the same way (uvicorn, the same ``Config`` and ``hotconf.service.app.Server``, each in
   its own process), measured alternately, round by round; the figure is the median of the
   per-round ratios. The client is ``wrk`` when it is installed, else a pipelining-free
   asyncio client in its own process. Goal: ratio >= 0.8.
1b. The same for the console's overview page, ``GET /`` (rendered from its Jinja template on
   every request, anonymous: secrets redacted), against a bare handler returning the same
   HTML: what server-side rendering costs; and the time per call of ``/v1/config``, ``/``
   and ``/console/versions`` called straight into the app. No goal: the console is for
   people, not load.
2. N concurrent long-polls (``?after=V&wait=60``) held on ``hotconf serve``; the config file is
   then edited, and each poll's answer is timed against the new version's ``created_at``
   (taken just before its commit, so the figure includes the SQLite commit, the swap and the
   notification). Reports the distribution over all polls of all rounds. Goal: all released
   within 100 ms. The client runs on the same machine, and takes CPU from the server.
3. The same N long-polls called straight into the ASGI app, without a server or a client:
   what the feed (one event per version bump) and the handler cost on their own.
4. ``GET /v1/config/db.pool_size`` against a bare Starlette handler returning the same bytes,
   measured as in 1. Goal: ratio >= 0.8.
5. Stall: a config of ``--leaves`` leaves (100k) with its schema; the p99 latency of
   ``GET /v1/config`` (wrk ``--latency``, 10 connections) idle, then while the file is
   rewritten again and again (each edit waits for its version before the next, so reloads
   run back to back). Goal: p99 during reloads within 3x the idle p99.

Run: python3 bench/bench_service.py [--rounds N] [--duration S] [--connections N] [--polls N]
     [--only rps|console|key|long-poll|stall] [--leaves N]
     [--quick]   (--quick: a smoke test, one short round; 1k leaves for the stall)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "service"


# -- the servers (run as subprocesses of this script) ---------------------------------------


def _serve(kind: str, workdir: Path) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from hotconf.service.app import Server, bind

    body = (workdir / "body.json").read_bytes()
    page = workdir / "page.html"
    html = page.read_bytes() if page.exists() else b""
    key_file = workdir / "key.json"
    value = key_file.read_bytes() if key_file.exists() else b"{}"

    async def config(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def console(request: Request) -> Response:
        return Response(html, media_type="text/html")

    async def config_key(request: Request) -> Response:
        return Response(value, media_type="application/json")

    app = Starlette(
        routes=[
            Route("/v1/config", config, methods=["GET"]),
            Route("/", console, methods=["GET"]),
            Route("/v1/config/{key:path}", config_key, methods=["GET"]),
        ]
    )
    sock = bind("127.0.0.1", 0)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    # the same uvicorn settings as hotconf.service.app.serve
    settings = uvicorn.Config(
        app, lifespan="on", log_config=None, access_log=False, server_header=False
    )
    Server(settings, lambda: None).run(sockets=[sock])


class Proc:
    """A server subprocess; its URL is read from its "listening on" line."""

    def __init__(self, args: list[str], cwd: Path, ready_timeout: float = 30.0) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                break
        else:
            raise RuntimeError(f"{args} did not start")
        _wait_ready(self.url, ready_timeout)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/v1/config", timeout=timeout) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never became ready")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 (loopback)
        data: bytes = r.read()
        return data


# -- throughput -----------------------------------------------------------------------------


def _wrk(wrk: str, url: str, duration: float, connections: int, path: str) -> float:
    seconds = max(1, math.ceil(duration))  # wrk takes whole seconds only
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", url + path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m is None or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(out)
    return float(m.group(1))


def _wrk_p99(wrk: str, url: str, duration: float, connections: int) -> float:
    """p99 latency (ms) of ``GET /v1/config`` over ``duration`` seconds."""
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, math.ceil(duration))}s",
            "--latency",
            url + "/v1/config",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    if m is None or "Non-2xx" in out:
        raise RuntimeError(out)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


async def _client(url: str, duration: float, connections: int, path: str) -> float:
    host, port = url.removeprefix("http://").split(":")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    count = 0
    stop = time.perf_counter() + duration

    async def one() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection(host, int(port))
        while time.perf_counter() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            count += 1
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return count / duration


def _rps(url: str, duration: float, connections: int, wrk: str | None, path: str) -> float:
    if wrk is not None:
        return _wrk(wrk, url, duration, connections, path)
    # in its own process, so the client does not share a GIL with anything it measures
    code = (
        "import asyncio, sys; sys.path.insert(0, sys.argv[1]); import bench_service as b; "
        "print(asyncio.run(b._client(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), "
        "sys.argv[5])))"
    )
    args = [sys.executable, "-c", code, str(Path(__file__).parent), url]
    out = subprocess.run(
        [*args, str(duration), str(connections), path], capture_output=True, text=True
    )
    return float(out.stdout.strip())


def throughput(
    workdir: Path, rounds: int, duration: float, connections: int, path: str = "/v1/config"
) -> None:
    wrk = shutil.which("wrk")
    hot = Proc(_hotconf_args(workdir), workdir)
    try:
        (workdir / "body.json").write_bytes(_get(hot.url + "/v1/config"))
        (workdir / "page.html").write_bytes(_get(hot.url + "/"))
        (workdir / "key.json").write_bytes(_get(hot.url + KEY_PATH))
        bare = Proc([sys.executable, __file__, "--serve", "bare", str(workdir)], workdir)
        try:
            if path != "/":  # the same bytes (the console page carries the time)
                assert _get(bare.url + path) == _get(hot.url + path)
            for url in (hot.url, bare.url):  # warm up both
                _rps(url, min(duration, 2.0), connections, wrk, path)
            ratios, hots, bares = [], [], []
            for _ in range(rounds):
                b = _rps(bare.url, duration, connections, wrk, path)
                h = _rps(hot.url, duration, connections, wrk, path)
                bares.append(b)
                hots.append(h)
                ratios.append(h / b)
        finally:
            bare.stop()
    finally:
        hot.stop()
    client = "wrk -t2" if wrk else "asyncio client"
    goal = "; goal >= 0.8" if path in ("/v1/config", KEY_PATH) else ""
    print(f"GET {path}, {client}, {connections} keep-alive connections, {duration:g} s x {rounds}")
    print(f"  bare Starlette handler  {statistics.median(bares):9.0f} req/s (median)")
    print(f"  hotconf {path:<15} {statistics.median(hots):9.0f} req/s (median)")
    print(
        f"  ratio                   {statistics.median(ratios):9.2f}x (median of rounds; "
        f"range {min(ratios):.2f}-{max(ratios):.2f}{goal})"
    )


# -- long-polls -----------------------------------------------------------------------------


async def _hold(url: str, polls: int, after: int) -> tuple[list[float], set[int]]:
    host, port = url.removeprefix("http://").split(":")
    request = f"GET /v1/config?after={after}&wait=60 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    answered: list[float] = []
    statuses: set[int] = set()

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        answered.append(time.time())
        statuses.add(int(head.split(b" ")[1]))
        writer.close()

    await asyncio.gather(*(one() for _ in range(polls)))
    return answered, statuses


def _waiting(url: str) -> int:
    text = _get(url + "/metrics").decode()
    m = re.search(r"^hotconf_long_polls_waiting (\S+)$", text, re.M)
    return int(float(m.group(1))) if m else 0


def long_polls(workdir: Path, rounds: int, polls: int) -> None:
    hot = Proc(_hotconf_args(workdir), workdir)
    latencies: list[float] = []
    worst: list[float] = []
    try:
        config = workdir / "config.yaml"
        for r in range(rounds):
            version = json.loads(_get(hot.url + "/v1/versions?limit=1"))["current"]

            async def scenario(version: int = version, r: int = r) -> tuple[list[float], set[int]]:
                task = asyncio.create_task(_hold(hot.url, polls, version))
                while await asyncio.to_thread(_waiting, hot.url) < polls:
                    await asyncio.sleep(0.05)
                text = config.read_text()
                config.write_text(re.sub(r"batch_size: \d+", f"batch_size: {200 + r}", text))
                return await task

            answered, statuses = asyncio.run(scenario())
            assert statuses == {200}, statuses
            info = json.loads(_get(f"{hot.url}/v1/versions/{version + 1}"))
            created = datetime.fromisoformat(info["created_at"]).timestamp()
            these = [(t - created) * 1e3 for t in answered]
            latencies += these
            worst.append(max(these))
    finally:
        hot.stop()
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p / 100 * n))]

    print(f"{polls} concurrent long-polls released by one edit, x {rounds} (ms after created_at)")
    print(
        f"  min {latencies[0]:.1f}  p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  "
        f"max {latencies[-1]:.1f}   (goal: max <= 100)"
    )
    print(f"  per round, last poll released at: {', '.join(f'{w:.1f}' for w in worst)}")


async def _app_release(polls: int) -> list[float]:
    """Release ``polls`` long-polls called straight into the ASGI app (no HTTP server, no
    client): the cost of the feed and the handler alone, in ms after the reload returned."""
    import functools

    import hotconf
    from hotconf.service.app import Service
    from hotconf.testing import MemorySource

    source = MemorySource({"db": {"host": "h", "pool_size": 1, "password": "p4ssw0rd-x"}})
    service = Service(functools.partial(hotconf.watch, source, state_dir=None))
    done: list[float] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/config",
        "raw_path": b"/v1/config",
        "query_string": b"after=1&wait=60",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)  # never: a GET has no body to wait for
        return {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            done.append(time.perf_counter())

    async with service.app.router.lifespan_context(service.app):
        while not service.readiness.ready:
            await asyncio.sleep(0.01)
        calls = [asyncio.create_task(service.app(dict(scope), receive, send)) for _ in range(polls)]
        while service.feed.waiting < polls:
            await asyncio.sleep(0.01)
        source.set({"db": {"host": "h", "pool_size": 2, "password": "p4ssw0rd-x"}})
        changed = time.perf_counter()
        await asyncio.gather(*calls)
    return [(t - changed) * 1e3 for t in done]


def app_release(rounds: int, polls: int) -> None:
    worst = [max(asyncio.run(_app_release(polls))) for _ in range(rounds)]
    print(f"{polls} long-polls called straight into the app (no HTTP stack), x {rounds}")
    print(
        f"  last released {statistics.median(worst):.1f} ms after the change (median; "
        f"range {min(worst):.1f}-{max(worst):.1f})"
    )


async def _app_pages(workdir: Path, rounds: int, calls: int) -> dict[str, list[float]]:
    """Microseconds per GET called straight into the ASGI app (no HTTP stack, no client)."""
    import functools

    import hotconf
    from hotconf.service.app import Service

    service = Service(
        functools.partial(
            hotconf.watch,
            workdir / "config.yaml",
            workdir / "config.schema.json",
            state_dir=workdir / "app-state",
        )
    )

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    paths = ("/v1/config", "/", "/console/versions")
    found: dict[str, list[float]] = {path: [] for path in paths}
    async with service.app.router.lifespan_context(service.app):
        while not service.readiness.ready:
            await asyncio.sleep(0.01)
        for _ in range(rounds):
            for path in paths:  # interleaved, so a burst of load hits all of them
                scope = {
                    "type": "http",
                    "asgi": {"version": "3.0"},
                    "http_version": "1.1",
                    "method": "GET",
                    "scheme": "http",
                    "path": path,
                    "raw_path": path.encode(),
                    "query_string": b"",
                    "root_path": "",
                    "headers": [(b"host", b"bench")],
                    "client": ("127.0.0.1", 1),
                    "server": ("127.0.0.1", 2),
                }
                start = time.perf_counter()
                for _ in range(calls):
                    await service.app(dict(scope), receive, send)
                found[path].append((time.perf_counter() - start) / calls * 1e6)
    return found


def app_pages(workdir: Path, rounds: int, calls: int) -> None:
    found = asyncio.run(_app_pages(workdir, rounds, calls))
    print(
        f"GET called straight into the app (no HTTP stack), {calls} calls x {rounds}, us per call"
    )
    for path, times in found.items():
        print(f"  {path:<18} {statistics.median(times):7.0f} (median; min {min(times):.0f})")


def stall(rounds: int, duration: float, connections: int, leaves: int) -> None:
    """p99 of ``GET /v1/config`` idle, and while a large config is reloaded again and again."""
    sys.path.insert(0, str(Path(__file__).parent))
    import random

    from _gen import make_config, to_yaml
    from bench_pipeline import edited, schema_for

    wrk = shutil.which("wrk")
    if wrk is None:
        print("stall: needs wrk (apt-get install wrk)")
        return
    data = make_config(leaves)
    texts = [to_yaml(data), to_yaml(edited(data, random.Random(1)))]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "config.yaml").write_bytes(texts[0])
        (workdir / "config.schema.json").write_text(json.dumps(schema_for(data)))
        hot = Proc(_hotconf_args(workdir), workdir, ready_timeout=300)
        idle: list[float] = []
        busy: list[float] = []
        reloads = 0
        which = 0  # the text in the file
        try:
            _wrk_p99(wrk, hot.url, 2.0, connections)  # warm up
            for _ in range(rounds):
                idle.append(_wrk_p99(wrk, hot.url, duration, connections))
                stop = threading.Event()

                def edit(stop: threading.Event = stop) -> None:
                    nonlocal reloads, which
                    while not stop.is_set():
                        before = json.loads(_get(hot.url + "/v1/versions?limit=1"))["current"]
                        which = 1 - which
                        (workdir / "config.yaml").write_bytes(texts[which])
                        deadline = time.monotonic() + 60
                        while time.monotonic() < deadline and not stop.is_set():
                            info = json.loads(_get(hot.url + "/v1/versions?limit=1"))
                            if info["current"] > before:
                                reloads += 1
                                break
                            time.sleep(0.02)

                editor = threading.Thread(target=edit)
                editor.start()
                try:
                    busy.append(_wrk_p99(wrk, hot.url, duration, connections))
                finally:
                    stop.set()
                    editor.join()
        finally:
            hot.stop()
    ratio = statistics.median(busy) / statistics.median(idle)
    print(
        f"GET /v1/config p99 with {leaves:,} leaves, wrk -t1 -c{connections} --latency,"
        f" {duration:g} s x {rounds}"
    )
    print(f"  idle               p99 {statistics.median(idle):8.1f} ms (median of rounds)")
    print(f"  while reloading    p99 {statistics.median(busy):8.1f} ms ({reloads} reloads)")
    print(f"  ratio              {ratio:8.2f}x (goal <= 3)")


KEY_PATH = "/v1/config/db.pool_size"


def _hotconf_args(workdir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hotconf",
        "serve",
        str(workdir / "config.yaml"),
        "--schema",
        str(workdir / "config.schema.json"),
        "--state-dir",
        str(workdir / "state"),
        "--port",
        "0",
    ]


def _http() -> str:
    """The HTTP implementation uvicorn picks ("auto"): httptools when installed, else h11."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--only", choices=["rps", "console", "key", "long-poll", "stall"])
    parser.add_argument("--leaves", type=int, default=100_000, help="config size for --only stall")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 short round, 5 polls")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.connections, args.polls = 1, 1.0, 4, 5
        args.leaves = 1000
    if args.serve:
        _serve(args.serve[0], Path(args.serve[1]))
        return
    print(f"uvicorn HTTP: {_http()}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in ("config.yaml", "config.schema.json"):
            shutil.copy(EXAMPLE / name, workdir / name)
        if args.only in (None, "rps"):
            throughput(workdir, args.rounds, args.duration, args.connections)
        if args.only in (None, "console"):
            throughput(workdir, args.rounds, args.duration, args.connections, "/")
            app_pages(workdir, args.rounds, 20 if args.quick else 500)
        if args.only in (None, "key"):
            throughput(workdir, args.rounds, args.duration, args.connections, KEY_PATH)
        if args.only in (None, "long-poll"):
            long_polls(workdir, args.rounds, args.polls)
            app_release(args.rounds, args.polls)
    if args.only in (None, "stall"):
        stall(args.rounds, args.duration, 10, args.leaves)


if __name__ == "__main__":
    main()
