"""Pins: the read cost of ``live.pinned`` and the per-request cost of the ASGI middleware.

Reads: ns per read of a 3-level key, net of loop overhead, against a plain dict chain (a dict
parsed by PyYAML, as in bench_read.py), interleaved round by round in one process; medians.
Variants: ``live.current`` (one slot attribute read), ``live.pinned`` inside a pin and outside
one, and for reference a holder whose property looks the pin up in a context variable on
every read (what putting the pin on ``current`` would cost).

Requests: microseconds per request through a Starlette app called in process (no sockets: an
ASGI call with a fixed scope, the response discarded), bare and wrapped in ``PinMiddleware``
(with and without an ``on_response`` hook, and on a LiveConfig with a canary rollout running,
where each request gets an arm and its outcome recorded), interleaved; medians over rounds.

Run: python3 bench/bench_pins.py [--rounds N] [--number N] [--requests N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import statistics
import time
import timeit
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import hotconf
from hotconf.middleware import PinMiddleware
from hotconf.testing import MemorySource

DATA = {"a": {"b": {"c": 42, **{f"y{i}": i for i in range(10)}}, **{f"x{i}": i for i in range(10)}}}
DATA.update({f"k{i}": i for i in range(20)})

_VAR: contextvars.ContextVar[Any] = contextvars.ContextVar("bench_pin")


class _ContextHolder:
    """``current`` as a property that looks a pin up in a context variable on each read."""

    __slots__ = ("_snap",)

    def __init__(self, snap: Any) -> None:
        self._snap = snap

    @property
    def current(self) -> Any:
        found = _VAR.get(None)
        return self._snap if found is None else found


READS = {
    "(empty loop)": "pass",
    "dict chain": 'd["a"]["b"]["c"]',
    "live.current": 'live.current["a"]["b"]["c"]',
    "live.pinned, inside a pin": 'live.pinned["a"]["b"]["c"]',
    "live.pinned, outside a pin": 'live.pinned["a"]["b"]["c"]',
    "ref: contextvar property": 'holder.current["a"]["b"]["c"]',
}


def reads(rounds: int, number: int) -> dict[str, float]:
    text = yaml.dump(DATA, Dumper=yaml.CSafeDumper).encode()
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    live = hotconf.watch(MemorySource(text, format="yaml"), state_dir=None)
    ns = {"d": data, "live": live, "holder": _ContextHolder(live.current)}
    timers = {name: timeit.Timer(stmt, globals=ns) for name, stmt in READS.items()}
    samples: dict[str, list[float]] = {name: [] for name in READS}
    for r in range(rounds + 1):
        order = list(timers.items())
        if r % 2:
            order.reverse()
        for name, timer in order:
            if name == "live.pinned, inside a pin":
                with live.pin():
                    elapsed = timer.timeit(number)
            else:
                elapsed = timer.timeit(number)
            if r:  # the first round warms up
                samples[name].append(elapsed / number * 1e9)
    live.close()
    empty = statistics.median(samples.pop("(empty loop)"))
    return {name: statistics.median(s) - empty for name, s in samples.items()}


def _app(middleware: str, live: hotconf.LiveConfig) -> Any:
    async def index(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", index)])
    if middleware == "pin":
        app.add_middleware(PinMiddleware, live=live)
    elif middleware == "pin + on_response":
        app.add_middleware(PinMiddleware, live=live, on_response=lambda cfg, ok: None)
    elif middleware == "pin, canary running":  # live has a rollout: choose an arm, record
        app.add_middleware(PinMiddleware, live=live)
    return app


async def _requests(app: Any, n: int) -> float:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1), "server": ("bench", 80),
    }  # fmt: skip
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        pass

    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return time.perf_counter() - start


def requests(rounds: int, n: int) -> dict[str, float]:
    live = hotconf.watch(MemorySource(DATA), state_dir=None)
    apps = {name: _app(name, live) for name in ("bare Starlette", "pin", "pin + on_response")}
    canary = hotconf.watch(MemorySource(DATA), state_dir=None)
    candidate = {**DATA, "bench": "canary"}
    canary.rollout(candidate, fraction=0.5, min_samples=2**62)  # never decided
    apps["pin, canary running"] = _app("pin, canary running", canary)
    samples: dict[str, list[float]] = {name: [] for name in apps}

    async def main() -> None:
        for r in range(rounds + 1):
            order = list(apps.items())
            if r % 2:
                order.reverse()
            for name, app in order:
                elapsed = await _requests(app, n)
                if r:
                    samples[name].append(elapsed / n * 1e6)

    asyncio.run(main())
    live.close()
    canary.close()
    return {name: statistics.median(s) for name, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=500_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="a tiny run (the test suite's)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.number, args.requests = 2, 2_000, 50

    found = reads(args.rounds, args.number)
    base = found["dict chain"]
    print("ns per read of a 3-level key, net of loop overhead (median over rounds)")
    print(f"{'variant':32} {'ns':>7} {'vs dict':>8}")
    for name, value in found.items():
        print(f"{name:32} {value:7.1f} {value / base:7.2f}x")

    per = requests(args.rounds, args.requests)
    base = per["bare Starlette"]
    print("\nus per request, Starlette called in process (median over rounds)")
    print(f"{'app':32} {'us':>7} {'vs bare':>8} {'added':>8}")
    for name, value in per.items():
        print(f"{name:32} {value:7.2f} {value / base:7.2f}x {value - base:+7.2f}")


if __name__ == "__main__":
    main()
