"""Publish → every instance swapped, against a bare etcd watch callback, in the same run.

Starts its own etcd (the ``etcd`` binary, loopback ports, data in a temp dir). Instances are
in-process `LiveConfig`s on `EtcdSource`s (``state_dir=None``, health reports off), each with
a subscriber that takes ``time.perf_counter()`` when it is called with the new version. The
baseline is a bare watch stream on the same pointer key (hotconf's gateway client, no
pipeline) whose callback takes the time when it sees the put. For each publish, t0 is taken
just before ``Fleet.publish`` (local validation, impact report against etcd's current
version, one transaction), and both the baseline and "all instances swapped" are measured
from the same t0, so the difference is what hotconf adds on top of etcd's own notification:
re-reading the pointer and the version, re-validating, committing and swapping in each
instance, with N instances' threads sharing one interpreter (GIL) as the worst case.

Run: python3 bench/bench_fleet.py [--publishes 100] [--instances 3,20] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import hotconf
from hotconf.fleet.etcd import Etcd
from hotconf.fleet.publisher import Fleet, Keys
from hotconf.sources.etcd import EtcdSource

SCHEMA = {
    "type": "object",
    "required": ["db", "counter"],
    "properties": {
        "counter": {"type": "integer"},
        "db": {
            "type": "object",
            "properties": {"host": {"type": "string"}, "pool_size": {"type": "integer"}},
        },
        "features": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
}
TIMEOUT = 20.0


def config(n: int) -> bytes:
    features = "".join(f"  flag_{i}: {str(i % 2 == 0).lower()}\n" for i in range(20))
    return (
        f"counter: {n}\ndb:\n  host: db.internal\n  pool_size: 10\nfeatures:\n{features}"
    ).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_etcd(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("etcd")
    if binary is None:
        raise SystemExit("etcd is not installed (Debian: apt-get install -y etcd-server)")
    client, peer = free_port(), free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    proc = subprocess.Popen(
        [
            binary,
            f"--data-dir={root / 'data'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).json().get("health") == "true":
                return proc, url
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("etcd did not become healthy")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(url: str, name: str, instances: int, publishes: int) -> dict[str, Any]:
    keys = Keys(name)
    fleet = Fleet(url, name)
    fleet.publish(config(0), schema=hotconf.Schema.from_dict(SCHEMA))
    seen: dict[int, list[float]] = {}
    bare: dict[int, float] = {}
    lock = threading.Lock()
    done = threading.Condition(lock)

    def on_change(event: hotconf.ChangeEvent) -> None:
        now = time.perf_counter()
        with done:
            seen.setdefault(event.current["counter"], []).append(now)
            done.notify_all()

    lives = []
    for i in range(instances):
        source = EtcdSource(url, name=name, instance=f"b{i}", report=False)
        live = hotconf.watch(source, schema=SCHEMA, state_dir=None)
        live.subscribe(on_change)
        lives.append(live)

    # The baseline: a bare watch on the pointer, the callback notes the time of each put.
    raw = Etcd(url)
    stream = raw.watch(keys.current, None, raw.range(keys.current).revision + 1)
    counter = [0]

    def bare_watch() -> None:
        for msg in stream:
            now = time.perf_counter()
            if msg.events:
                with done:
                    bare[counter[0]] = now
                    done.notify_all()

    reader = threading.Thread(target=bare_watch, name="bench-bare-watch", daemon=True)
    reader.start()

    e2e, base, publish_call = [], [], []
    try:
        for n in range(1, publishes + 1):
            counter[0] = n
            t0 = time.perf_counter()
            fleet.publish(config(n), schema=hotconf.Schema.from_dict(SCHEMA))
            t1 = time.perf_counter()
            with done:
                ok = done.wait_for(
                    lambda n=n: n in bare and len(seen.get(n, ())) == instances, TIMEOUT
                )
            if not ok:
                raise SystemExit(f"publish {n}: not every instance swapped within {TIMEOUT}s")
            publish_call.append(t1 - t0)
            base.append(bare[n] - t0)
            e2e.append(max(seen[n]) - t0)
    finally:
        stream.close()
        reader.join(5)
        raw.close()
        for live in lives:
            live.close()
        fleet.close()
    ms = 1000.0
    return {
        "instances": instances,
        "publish_p50": statistics.median(publish_call) * ms,
        "bare_p50": statistics.median(base) * ms,
        "bare_p99": pct(base, 0.99) * ms,
        "all_p50": statistics.median(e2e) * ms,
        "all_p99": pct(e2e, 0.99) * ms,
        "extra_p50": statistics.median(a - b for a, b in zip(e2e, base, strict=True)) * ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--instances", default="3,20")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 publishes, 2 instances")
    args = parser.parse_args()
    if args.quick:
        args.publishes, args.instances = 3, "2"
    root = Path(tempfile.mkdtemp(prefix="hotconf-bench-etcd-"))
    proc, url = start_etcd(root)
    try:
        rows = [
            run(url, f"bench{n}", n, args.publishes)
            for n in (int(x) for x in args.instances.split(","))
        ]
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.publishes} publishes each; times in ms from the start of the publish call")
    print(
        "| instances | publish call p50 | bare watch p50 | bare watch p99 "
        "| all swapped p50 | all swapped p99 | hotconf adds (p50) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['instances']} | {r['publish_p50']:.1f} | {r['bare_p50']:.1f} "
            f"| {r['bare_p99']:.1f} | {r['all_p50']:.1f} | {r['all_p99']:.1f} "
            f"| {r['extra_p50']:.1f} |"
        )
    print(f"cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
