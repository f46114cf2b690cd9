"""Webhook fan-out: one change -> N signed POSTs, and what one silent receiver costs the rest.

A receiver process serves N ports on 127.0.0.1 (asyncio, HTTP/1.1, answers 200 at once) and
prints one line per request it gets, with the time it got it (``time.perf_counter()``:
CLOCK_MONOTONIC, the same clock as ours). This process runs ``hotconf.watch`` on an in-memory
source with N subscribers (one per port, ``allow_private``) and a state directory on disk
(WAL, ``synchronous=FULL``: the outbox rows are really committed), makes a change, and times
from just before ``source.set()`` (which commits the version with its N outbox rows) to the
last of the N requests seen by the receivers.

Modes, alternated round by round so drift hits them alike:

* ``none``: no webhooks: what ``source.set()`` costs without them (the reload path alone);
* ``all``: N receivers that answer;
* ``silent``: the same, but receiver 0 accepts the connection, reads the request and never
  answers (its lane waits out ``total_timeout``, 30 s); the fan-out time is to the last of
  the N-1 others.

Goals: ``all`` delivers all N=200 within 2 s; ``silent`` delivers the other 199 no slower
than ``all`` (ratio ~1); the reload path (``set``) does not grow with receivers beyond
writing the rows.

With ``--first-byte``: one receiver on an idle machine; each change is timed from the end
of ``source.set()`` (commit, swap, wake-up) to the receiver reading the request, next to the
floor (a bare POST over a fresh loopback connection). Goal: within 50 ms.

Run: python3 bench/bench_webhooks.py [--receivers N] [--rounds R] [--changes C] [--quick]
     [--first-byte]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import IO

import hotconf
from hotconf.testing import MemorySource
from hotconf.webhooks.manager import new_secret

RECEIVER = r"""
import asyncio, json, sys, time

async def handle(reader, writer, port, silent):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            seen = time.perf_counter()
            version = json.loads(body)["data"]["version"]
            sys.stdout.write(f"{port} {version} {seen}\n")
            sys.stdout.flush()
            if silent:
                await asyncio.sleep(3600)
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main(n, silent):
    ports = []
    for i in range(n):
        def serve(r, w, i=i):
            return handle(r, w, ports[i], i == silent)
        server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=512)
        ports.append(server.sockets[0].getsockname()[1])
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


class Receivers:
    """The receiver process, and a thread collecting what it saw: version -> port -> time."""

    def __init__(self, n: int, silent: bool) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RECEIVER, str(n), "0" if silent else "-1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ports: list[int] = json.loads(self.proc.stdout.readline())
        self.silent = self.ports[0] if silent else None
        self.seen: dict[int, dict[int, float]] = defaultdict(dict)
        self.cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, out: IO[str]) -> None:
        for line in out:
            port, version, at = line.split()
            with self.cond:
                self.seen[int(version)][int(port)] = float(at)
                self.cond.notify_all()

    def last(self, version: int, timeout: float = 60.0) -> float:
        """When the last answering receiver got ``version``."""
        wanted = {p for p in self.ports if p != self.silent}
        with self.cond:
            if not self.cond.wait_for(lambda: wanted <= self.seen[version].keys(), timeout):
                missing = len(wanted - self.seen[version].keys())
                raise TimeoutError(f"v{version}: {missing} receivers got nothing in {timeout}s")
            return max(self.seen[version][p] for p in wanted)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run(mode: str, n: int, changes: int) -> tuple[list[float], list[float]]:
    """Fan-out times and ``set()`` times (seconds) for ``changes`` changes (+1 warm-up)."""
    receivers = Receivers(n, silent=mode == "silent") if mode != "none" else None
    source = MemorySource({"n": 0})
    fanout: list[float] = []
    commit: list[float] = []
    try:
        webhooks = None
        if receivers is not None:
            secret = new_secret()
            webhooks = hotconf.Webhooks(
                [
                    hotconf.Subscriber(
                        f"http://127.0.0.1:{port}/hook", secret, allow_private=True, name=f"r{i}"
                    )
                    for i, port in enumerate(receivers.ports)
                ]
            )
        with tempfile.TemporaryDirectory() as state:
            live = hotconf.watch(source, state_dir=Path(state), webhooks=webhooks)
            try:
                for k in range(changes + 1):
                    t0 = time.perf_counter()
                    source.set({"n": k + 1, "payload": "x" * 200})
                    t1 = time.perf_counter()
                    done = receivers.last(live.version) if receivers is not None else t1
                    if k:  # the first change is a warm-up
                        commit.append(t1 - t0)
                        fanout.append(done - t0)
            finally:
                live.close(drain=0)
    finally:
        if receivers is not None:
            receivers.close()
    return fanout, commit


def _bare_post(port: int, version: int) -> None:
    """The floor: one POST of a small body over a fresh loopback connection; returns when
    the receiver read it (its clock)."""
    body = json.dumps({"data": {"version": version}}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        sock.recv(100)


def first_byte(rounds: int, changes: int) -> None:
    """Idle machine: each change, 0.3 s after the last, timed from the end of ``set()``
    (commit, swap, wake) to the receiver reading the request; the first change comes 1 s
    after ``watch`` returns, in a fresh ``Webhooks`` each round."""
    firsts: list[float] = []
    later: list[float] = []
    bare: list[float] = []
    for _ in range(rounds):
        receivers = Receivers(1, silent=False)
        port = receivers.ports[0]
        source = MemorySource({"n": 0})
        hooks = hotconf.Webhooks(
            [hotconf.Subscriber(f"http://127.0.0.1:{port}/hook", new_secret(), allow_private=True)]
        )
        try:
            with tempfile.TemporaryDirectory() as state:
                live = hotconf.watch(source, state_dir=Path(state), webhooks=hooks)
                try:
                    time.sleep(1.0)
                    for k in range(changes):
                        source.set({"n": k + 1})
                        t1 = time.perf_counter()
                        seen = receivers.last(live.version) - t1
                        (firsts if k == 0 else later).append(seen)
                        time.sleep(0.3)
                        t0 = time.perf_counter()
                        _bare_post(port, 10_000 + k)
                        bare.append(receivers.last(10_000 + k) - t0)
                        time.sleep(0.3)
                finally:
                    live.close(drain=0)
        finally:
            receivers.close()

    def ms(values: list[float]) -> str:
        values = sorted(values)
        return f"p50 {statistics.median(values) * 1e3:6.1f}  max {values[-1] * 1e3:6.1f} ms"

    print(f"first webhook byte after the commit, idle, {rounds} rounds x {changes} changes")
    print(f"  first change after start  {ms(firsts)}")
    print(f"  later changes             {ms(later)}")
    print(f"  floor: a bare POST on a fresh loopback connection  {ms(bare)}")
    worst = max(firsts + later) * 1e3
    print(f"  goal <= 50 ms: {'met' if worst <= 50 else 'MISSED'} (worst {worst:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receivers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--changes", type=int, default=5, help="changes per round and mode")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 receivers, 1 change")
    parser.add_argument("--first-byte", action="store_true", help="time the first byte only")
    args = parser.parse_args()
    if args.first_byte:
        first_byte(1 if args.quick else args.rounds, 2 if args.quick else args.changes)
        return
    if args.quick:
        args.receivers, args.rounds, args.changes = 3, 1, 1
    modes = ("none", "all", "silent")
    fanout: dict[str, list[float]] = {m: [] for m in modes}
    commit: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(args.rounds):
        for mode in modes if r % 2 == 0 else reversed(modes):
            f, c = run(mode, args.receivers, args.changes)
            fanout[mode] += f
            commit[mode] += c
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1e3:.1f} ms"

    n = args.receivers
    print(f"\n{n} receivers, {args.rounds} rounds x {args.changes} changes per mode (medians)\n")
    print("| mode | set() (commit + rows) | fan-out: commit -> last receiver | max |")
    print("|---|---|---|---|")
    print(f"| no webhooks | {ms(commit['none'])} | - | - |")
    print(
        f"| {n} answering | {ms(commit['all'])} | {ms(fanout['all'])} "
        f"| {max(fanout['all']) * 1e3:.1f} ms |"
    )
    print(
        f"| {n - 1} answering + 1 silent | {ms(commit['silent'])} | {ms(fanout['silent'])} "
        f"(to the {n - 1}) | {max(fanout['silent']) * 1e3:.1f} ms |"
    )
    ratio = statistics.median(fanout["silent"]) / statistics.median(fanout["all"])
    print(f"\nsilent / answering fan-out: {ratio:.2f}x (goal: ~1)")
    print(f"goal {n} delivered within 2 s: {'met' if max(fanout['all']) < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
